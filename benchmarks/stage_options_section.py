"""The RESULTS.md section on the stage-1 output refit, stage-1 crop context, the head's start and the projection
by box purity."""

from __future__ import annotations

import json
from pathlib import Path


def option_labels(config: dict) -> list[str]:
    """Names of the stage options a (possibly partial) config turns on."""
    labels = []
    if config.get("stage1_refit_output", False):
        labels.append("stage-1 output layer refitted on whole images")
    if config.get("standardise_head_init", False):
        labels.append("head feature processing standardised at start")
    context = config.get("stage1_context_cells", 0)
    if context is None or context:
        labels.append("stage-1 crops with " + ("their whole receptive field" if context is None else f"{context} cells")
                      + " of context")
    if config.get("projection_choice", "nearest") == "purest":
        labels.append("prototypes projected onto the training patches with the purest boxes")
    return labels


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def describe(options: dict, extractor: str | None = None, saved: dict | None = None) -> str:
    parts = option_labels(options)
    epochs = f"{options.get('stage1_epochs', 15)}+{options.get('stage2_epochs', 1)} epochs"
    if extractor:
        source = (saved or {}).get(Path(extractor).name)
        epochs = (f"stage 2 only ({options.get('stage2_epochs')} epochs) on the stage-1 extractor of the run '"
                  + (describe(source["options"]) if source else extractor) + "'")
    return ", ".join([epochs] + (parts or ["defaults"]))


def purity_projection_pairs(runs: list[dict]) -> list[tuple[dict, dict]]:
    """(nearest, purest) rows of one split and extractor whose options differ only in the projection choice."""
    def key(row):
        options = {k: v for k, v in row["options"].items() if k != "projection_choice"}
        extractor = Path(row["extractor"]).name if row.get("extractor") else None
        return row["protocol"], row["seed"], extractor, json.dumps(options, sort_keys=True)
    nearest = {key(row): row for row in runs
               if row["options"].get("projection_choice", "nearest") == "nearest" and row.get("purity")}
    return [(nearest[key(row)], row) for row in runs
            if row["options"].get("projection_choice") == "purest" and key(row) in nearest]


def purity_projection_text(runs: list[dict]) -> list[str]:
    pairs = purity_projection_pairs(runs)
    if not pairs:
        return []

    def best(row):
        return min(v for _, v in row["stage2_val"])

    change = "; ".join(
        f"{a['protocol']} seed {a['seed']}: CountXplain test MAE {a['countxplain_mae']:.2f} → "
        f"{b['countxplain_mae']:.2f}, "
        f"best validation MAE {best(a):.2f} → {best(b):.2f}, cell-box purity {100 * a['purity']['cell']:.1f}% → "
        f"{100 * b['purity']['cell']:.1f}%, background-box purity {100 * a['purity']['background']:.1f}% → "
        f"{100 * b['purity']['background']:.1f}%" for a, b in pairs)
    return ["", "*Projection by box purity* (`projection_choice='purest'`, beyond the paper): at each projection a "
            "random pool of 200 training patches per group is scored by the purity of the boxes its similarity maps "
            "draw "
            "on up to 32 training images (the boxes the app and the figure draw; a cell box should hold a dot, a "
            "background box none), and each group's prototypes become a spread-out set of the purest 10 % of its pool "
            "(the purest first, then each time the one farthest from those taken). Stage 2 alone, same extractor and "
            "seed, nearest (the paper's projection) → purest: " + change + ". On these protocol models the cell "
            "prototypes the paper's projection gives are mostly impure and the purest ones raise cell-box purity "
            "1.4-3.2 times (background-box purity rises too) at a test MAE within about half a cell of it; validation "
            "MAE is worse on all three. "
            "On the default model, whose cell prototypes are already mostly pure, see the candidates table below."]


def stage_options_section(results: Path) -> list[str]:
    fits, runs = read_lines(results / "stage1_fit.jsonl"), read_lines(results / "stage_options.jsonl")
    if not fits and not runs:
        return []
    lines = ["",
             "## Stage-1 output refit, stage-1 crop context, head start, projection by box purity (a finished "
             "experiment)", "",
             "Options beyond the paper that no recipe adopted, so they and their scripts left the library (the runs "
             "stay in "
             "`results/stage1_fit.jsonl` and `results/stage_options.jsonl`), measured on single splits with the "
             "3-layer recipe at "
             "10 px (no bf16 on the CPU these ran on). *Output refit*: before each stage-1 validation the 1×1 output "
             "layer is "
             "refitted by exact least squares on the whole identity views of the training images (as stage 2 refits "
             "its density layer). *Context*: each 32×32 stage-1 crop is fed with the real features around it, as far "
             "as the trained layers reach, and only the crop is scored, so crop edges no longer stand in for image "
             "edges (exact against the whole view, tested). *Head start*: the head's 1×1 feature processing starts "
             "scaled so each channel enters the sigmoid with zero mean and unit spread over the training features.", ""]
    if fits:
        lines += ["Stage 1 alone (CSRNet output layer):", "",
                  "| protocol | seed | options | training MAE | best validation MAE | test MAE |",
                  "|---|---|---|---|---|---|"]
        for row in fits:
            lines.append(f"| {row['protocol']} | {row['seed']} | {describe(row['options'])} | {row['train_mae']:.2f} "
                         f"| {row['val_mae']:.2f} | {row['test_mae']:.2f} |")
        lines.append("")
    if runs:
        lines += ["Both stages (15 + 60 epochs unless stated):", "",
                  "| protocol | seed | recipe | CSRNet test MAE | CountXplain test MAE | CountXplain validation MAE "
                  "(projections) "
                  "| cell-box / background-box purity (30 test images) |",
                  "|---|---|---|---|---|---|---|"]
        saved = {row["saved_as"]: row for row in runs if row.get("saved_as")}
        for row in runs:
            csrnet = "" if row["csrnet_mae"] is None else f"{row['csrnet_mae']:.2f}"
            vals = ", ".join(f"{v:.2f}" for _, v in row["stage2_val"])
            purity = (f"{100 * row['purity']['cell']:.1f}% / {100 * row['purity']['background']:.1f}%"
                      if row.get("purity") else "")
            lines.append(f"| {row['protocol']} | {row['seed']} | "
                         f"{describe(row['options'], row.get('extractor'), saved)} | {csrnet} "
                         f"| {row['countxplain_mae']:.2f} | {vals} | {purity} |")
    lines += ["", "What this shows. Stage 1's validation MAE swung from epoch to epoch (vgg32: 11 to 35 between "
              "epochs 7 and 10) while its crop loss fell steadily: a shift of the output bias by 0.01 per output cell "
              "is about 13 cells on a vgg image (36×36 output cells at 10 px) and hardly moves the squared-error loss. "
              "Refitting the output "
              "layer removes that: validation MAE falls steadily (vgg32 20.6 to 8.4 over 15 epochs, mbm 8.8 to 4.6) "
              "and "
              "stage-1 test MAE drops from 11.22 to 7.91 (vgg32) and 18.50 to 13.79 (mbm). Crop context alone did "
              "worse among "
              "those swings (14.38) and adds little with the refit (7.70 against 7.91, one split). CountXplain does "
              "not gain: "
              "its prototype head trained on the refitted extractor counts worse (vgg32 11.27 in the protocol "
              "table above, mbm 22.79, against 10.30 and 17.15). The refitted extractor's 64 features are about half "
              "as large (mbm: standard deviation 0.029 against 0.054), and at its random start the head's sigmoid sees "
              "inputs with a spread of 0.07, so processed features barely differ; starting the head standardised "
              "recovers "
              "part of it (vgg32 9.81, better than 10.30 on test but worse on validation, 10.97 against 10.66; mbm "
              "18.32 "
              "against 22.51 on the same extractor) but hurts on the plain extractor (mbm 20.30 against 16.23). "
              "So none of the three is on by default, and the gap between the CSRNet output layer and the "
              "8-prototype head, not stage 1 alone, is what the next step has to close."]
    return lines + purity_projection_text(runs)
