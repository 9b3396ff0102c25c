"""Rewrite benchmarks/RESULTS.md from the JSON results of the committed harnesses.

Inputs: benchmarks/results/protocols.json (run_protocols.py), resources/models/default-metrics.json
(scripts/train_default_model.py), benchmarks/results/explanations.json and explanations_whole_cells.json
(explanation_quality.py, the second with --fit-to-stride),
benchmarks/results/default_candidates.json (record_candidate.py), benchmarks/results/stage1_fit.jsonl
and stage_options.jsonl (finished experiments whose scripts have been removed).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from explanation_section import explanation_quality_section, top_location_section
from stage_options_section import option_labels, stage_options_section

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TARGETS = {"vgg32": 2.4, "mbm": 5.9, "adi": 7.7}


def scale_robustness_section(report: dict | None) -> list[str]:
    if not report:
        return []
    factors = report["factors"]
    lines = ["", "## When the stated cell diameter is off (`benchmarks/scale_robustness.py`)", "",
             f"Test MAE with the cell diameter stated as f × its true value (the set's training spacing; each image's "
             f"own dot spacing for dsb2018), first {report['per_set']} test images per set. Earlier models are "
             "those the shipped one replaced, oldest first; the oldest was trained without scale jitter, the "
             "others with it.", "",
             "| model | set | " + " | ".join(f"f = {f:g}" for f in factors) + " |",
             "|---|---|" + "---|" * len(factors)]
    from countxplain.modelfile import load_model
    from countxplain.resources import default_model_path

    shipped = load_model(default_model_path()).provenance.get("created")
    for model in report["models"].values():
        role = "shipped default" if model.get("created") == shipped else "earlier model"
        label = f"{role}, trained {(model.get('created') or '?')[:16].replace('T', ' ')}"
        for name, row in model["mae"].items():
            lines.append(f"| {label} | {name} | " + " | ".join(f"{row[str(f)]:.2f}" for f in factors) + " |")
    return lines


def cell_size_policy_section(report: dict | None) -> list[str]:
    if not report:
        return []
    from countxplain.scale_policy import ESTIMATE_GATE

    policies = report["policies"]
    sets = list(next(iter(policies.values()))["test"])
    lines = ["", "## With no cell size given (`benchmarks/cell_size_policy.py`)", "",
             "Each validation and test image of the default model's splits counted as it is and at the model's "
             "estimated cell diameter; a policy with a factor uses the estimate only when it is more than that "
             "factor away from the training diameter. The factor is chosen on the validation images (the mean of "
             f"the four sets' MAE); chosen: '{report['chosen_on_validation']}'. The app and `countxplain count` "
             f"use {ESTIMATE_GATE:g}× (marked). Test MAE:", "",
             "| policy | validation MAE (mean of sets) | " + " | ".join(sets) + " |", "|---|---|" + "---|" * len(sets)]
    for label, row in policies.items():
        mark = " **(in use)**" if row["gate"] == ESTIMATE_GATE else ""
        lines.append(f"| {label}{mark} | {row['validation mean']:.2f} | "
                     + " | ".join(f"{row['test'][name]:.2f}" for name in sets) + " |")
    return lines


def load(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def recipe_label(config: dict) -> str:
    """A short name for the training recipe of a run, so runs of different recipes are never averaged."""
    epochs = f"{config.get('stage1_epochs')}+{config.get('stage2_epochs')} epochs"
    jitter = config.get("scale_jitter", 0.0)
    parts = [epochs, f"scale jitter ±{jitter:.0%}" if jitter else "no scale jitter"]
    if config.get("cell_diameter_px", 10.0) != 10.0:
        parts.append(f"cells at {config['cell_diameter_px']:g} px")
    if config.get("train_backend_layers", 3) != 3:
        parts.append(f"{config['train_backend_layers']} backend layers trained")
    if config.get("train_frontend_layers", 0):
        parts.append(f"last {config['train_frontend_layers']} VGG convolutions trained")
    if config.get("min_group_views", 96) != 96:
        parts.append(f"at least {config['min_group_views']} views per set")
    if config.get("lambda_stage1_count", 0.0):
        parts.append(f"stage-1 count term ×{config['lambda_stage1_count']:g}")
    if config.get("stage1_precision", "fp32") != "fp32":
        parts.append(f"stage 1 in {config['stage1_precision']}")
    if config.get("stage1_lr", 1e-4) != 1e-4:
        parts.append(f"stage-1 lr {config['stage1_lr']:g}")
    if config.get("stage1_schedule", "constant") != "constant":
        parts.append(f"{config['stage1_schedule']} stage-1 lr")
    if config.get("stage1_ema", 0.0):
        parts.append(f"stage-1 weights averaged (EMA {config['stage1_ema']:g})")
    return ", ".join(parts + option_labels(config))


SPACINGS_COMPARED = (10.0, 20.0)  # the cell spacings of the protocol grid


def chosen_on_validation(runs) -> dict:
    """Rows of a recipe trained at each of ``SPACINGS_COMPARED``, each split's spacing picked on validation.

    For each protocol, recipe (less its spacing) and seed with runs at every spacing tried,
    CSRNet takes the run with the lowest stage-1 validation MAE and CountXplain the run with
    the lowest CountXplain validation MAE; test MAE is never looked at.
    """
    by_base = defaultdict(lambda: defaultdict(dict))
    for run in runs:
        config = dict(run.get("config", {}))
        diameter = config.pop("cell_diameter_px", 10.0)
        if diameter not in SPACINGS_COMPARED:
            continue
        by_base[(run["protocol"], recipe_label(config))][run["seed"]][diameter] = run
    out = {}
    for (name, base), seeds in by_base.items():
        complete = {seed: per_seed for seed,
                    per_seed in sorted(seeds.items()) if len(per_seed) == len(SPACINGS_COMPARED)}
        if not complete:
            continue
        label = f"{base}, cell spacing chosen on validation from {' / '.join(f'{d:g}' for d in SPACINGS_COMPARED)} px"
        picked = []
        for seed, per_seed in complete.items():
            stage1 = min(per_seed.values(), key=lambda r: r["stage1_val_mae"])
            stage2 = min(per_seed.values(), key=lambda r: r["val_mae"])
            picked.append({**stage2, "csrnet_mae": stage1["csrnet_mae"],
                           "seed": f"{seed} ({stage1['config'].get('cell_diameter_px', 10.0):g}/"
                                   f"{stage2['config'].get('cell_diameter_px', 10.0):g} px)",
                           "train_seconds": sum(r["train_seconds"] for r in per_seed.values())})
        out[(name, label)] = picked
    return out


def protocol_table(data: dict) -> list[str]:
    from countxplain.protocols import PROTOCOLS

    latest = {}  # one run per protocol, recipe and seed: the last one (a rerun replaces)
    for run in data.get("runs", []):
        latest[(run["protocol"], recipe_label(run.get("config", {})), run["seed"])] = run
    rows = defaultdict(list)
    for (name, recipe, _), run in sorted(latest.items(), key=lambda item: (item[0][0], item[0][1], item[0][2])):
        rows[(name, recipe)].append(run)
    rows.update(chosen_on_validation(latest.values()))
    recipes = sorted({recipe for _, recipe in rows}) or [""]
    lines = ["| protocol | recipe | train + val / test | seeds | input side (px, median) | CSRNet (stage 1) MAE | "
             "CountXplain MAE | target | published | train time / split |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name in ("vgg32", "vgg64", "mbm", "adi", "dsb2018"):
        ran = [recipe for recipe in recipes if (name, recipe) in rows]
        if not ran:
            lines.append(f"| {name} | | | none | | not run | not run | {TARGETS.get(name, '')} | "
                         f"{PROTOCOLS[name].published} | |")
            continue
        for recipe in ran:
            runs = rows[(name, recipe)]
            csr = np.array([r["csrnet_mae"] for r in runs])
            cx = np.array([r["countxplain_mae"] for r in runs])
            target = TARGETS.get(name)
            verdict = "" if target is None else (" (met)" if cx.mean() <= target
                                                 else f" (missed by {cx.mean() - target:.2f})")
            p = PROTOCOLS[name]
            shares = ("80 % / 20 % by id, 10 % of the 80 % for validation" if name == "dsb2018"
                      else f"{p.n_train} + {p.n_val}")
            lines.append(f"| {name} | {recipe} | {shares} / {runs[0]['n_test']} | "
                         f"{','.join(str(r['seed']) for r in runs)} | "
                         f"{int(np.median([r['input_side_px'] for r in runs]))} | {csr.mean():.2f} ± {csr.std():.2f} | "
                         f"{cx.mean():.2f} ± {cx.std():.2f}{verdict} | {target or ''} | {p.published} | "
                         f"{np.mean([r['train_seconds'] for r in runs]):.0f} s |")
    return lines


def candidates_section(rows: list | None) -> list[str]:
    """Default-model candidates measured against the shipped model with the same test images."""
    if not rows:
        return []
    sets = list(rows[0]["purity"])
    lines = ["", "## Default-model candidates (`benchmarks/record_candidate.py`)", "",
             "Each candidate is trained by `scripts/train_default_model.py` with one change and measured like the "
             "shipped model: validation MAE (all four sets' validation images, the projection kept), test MAE at each "
             "set's training spacing (dsb2018: each image's dot spacing), and drawn-box purity on 20 test images per "
             "set (cell / background). A candidate replaces the shipped model only when it is better.", "",
             "| model | recipe | val MAE | " + " | ".join(f"{name} test MAE" for name in sets) + " | "
             + " | ".join(f"{name} purity" for name in sets) + " |",
             "|---|---|---|" + "---|" * (2 * len(sets))]
    for row in rows:
        tests = []
        for name in sets:
            given = [v for k, v in row["test_mae"].items() if k.startswith(name + " (")]
            tests.append(f"{given[0]:.2f}" if given else f"{row['test_mae'].get(name, float('nan')):.2f}")
        purity = [f"{row['purity'][n]['cell']:.1%} / {row['purity'][n]['background']:.1%}" for n in sets]
        label = f"**{row['label']}**" if row.get("shipped") else row["label"]
        val = "" if row.get("val_mae") is None else f"{row['val_mae']:.2f}"
        lines.append(f"| {label} | {row['recipe']} | {val} | " + " | ".join(tests) + " | " + " | ".join(purity) + " |")
    shipped = next((row for row in rows if row.get("shipped")), None)
    if shipped:
        def at_least_as_good(row):
            return (row["val_mae"] is not None and row["val_mae"] <= shipped["val_mae"]
                    and all(row["purity"][n][g] >= shipped["purity"][n][g]
                            for n in sets for g in ("cell", "background")))
        better = [row["label"] for row in rows if not row.get("shipped") and at_least_as_good(row)]
        lines += ["", "At least as good as the shipped model in validation MAE and in every purity: "
                  + (", ".join(better) if better else "none") + "."]
    return lines


def main() -> int:
    lines = ["# Benchmark results", "",
             "All numbers are produced by the committed harnesses on this project's 2-core CPU machine; "
             "MAE = mean over test images of |predicted count − annotated dots|, mean ± std over splits. "
             "Validation images come out of each training share; no choice is made on test images. "
             "Every image is rescaled so its cells are 10 px apart, or as far apart as its recipe says (set "
             "diameter measured on the training dots), so inputs are smaller or larger than the published ones: the "
             "input side is given.", ""]
    protocols = load(RESULTS / "protocols.json")
    lines += ["## Protocols of PROTOCOLS.md (`benchmarks/run_protocols.py`)", ""]
    lines += protocol_table(protocols) if protocols else ["Not run yet."]
    if protocols and protocols.get("runs"):
        lines += ["", (ROOT / "benchmarks" / "sections" / "protocols.md").read_text().strip()]
    lines += stage_options_section(RESULTS)
    if protocols and protocols.get("ablation"):
        lines += ["",
                  "## Loss ablation (the paper's Table 2; recorded runs of an earlier harness whose beyond-the-paper "
                  "terms have left the library)", "",
                  "Seed 0; per protocol, stage 1 is trained once and shared and each variant trains stage 2 from it. "
                  "Distances: L2 between prototypes within a group. Purity: as in the explanation-quality section "
                  "(drawn boxes), on the first test images of the split; the separation loss goes beyond the paper "
                  "(each prototype's best match in a crop must lie on its own kind of location: an output cell "
                  "holding a dot for cell prototypes, at least twice as near as any output cell holding none; the "
                  "reverse for "
                  "background prototypes); the location separation loss also goes beyond it (every output cell "
                  "holding no dot at least twice as far from its nearest cell prototype as the cells holding dots "
                  "are, on average) and the cluster term at every dot (each output cell holding a dot pulled towards "
                  "its nearest cell prototype, where the paper's cell term looks only at each crop's density maximum). "
                  "Rows are listed in the order they were run.", "",
                  "| variant | recipe of the shared run | val MAE | test MAE | cell min dist | cell mean dist | bg min "
                  "dist | "
                  "bg mean dist | cell-box purity | background-box purity |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for row in protocols["ablation"]:
            d, purity = row["distances"], row.get("purity")
            val = f"{row['val_mae']:.2f}" if row.get("val_mae") is not None else ""
            cells = (f"{purity['cell']:.1%} | {purity['background']:.1%}" if purity else "not measured | not measured")
            change = ", ".join(f"{k} = {v:g}" for k, v in row.get("variant_change", {}).items())
            variant = f"{row['variant']} ({change})" if change else row["variant"]
            lines.append(f"| {row['protocol']}: {variant} | {recipe_label(row.get('config', {}))} | {val} | "
                         f"{row['test_mae']:.2f} | {d['cell']['min']:.3f} | {d['cell']['mean']:.3f} | "
                         f"{d['background']['min']:.3f} | {d['background']['mean']:.3f} | {cells} |")
    default = load(ROOT / "resources" / "models" / "default-metrics.json")
    lines += ["", "## The shipped default model (`scripts/train_default_model.py`)", ""]
    if default:
        lines += [f"Recipe wall time: {default['recipe_seconds'] / 60:.1f} min on the 2-core CPU.", "",
                  "| held-back test set | images | MAE | RMSE | relative MAE | cell size given |",
                  "|---|---|---|---|---|---|"]
        for name, row in default["test"].items():
            lines.append(f"| {name} | {row['n']} | {row['mae']:.2f} | {row['rmse']:.2f} | {row['relative_mae']:.1%} | "
                         f"{row['cell_size']} |")
    else:
        lines.append("Not trained yet.")
    lines += few_shot_section(load(RESULTS / "few_shot.json"))
    lines += cell_size_policy_section(load(RESULTS / "cell_size_policy.json"))
    lines += scale_robustness_section(load(RESULTS / "scale_robustness.json"))
    lines += explanation_quality_section(load(RESULTS / "explanations.json"),
                                         load(RESULTS / "explanations_whole_cells.json"),
                                         load(RESULTS / "explanations_flips4.json"),
                                         load(RESULTS / "explanations_whole_cells_flips4.json"))
    lines += top_location_section(load(RESULTS / "top_location.json"))
    lines += ["", (ROOT / "benchmarks" / "sections" / "prototype_groups.md").read_text().strip()]
    lines += candidates_section(load(RESULTS / "default_candidates.json"))
    stall = load(RESULTS / "gui_stall.json")
    lines += ["", "## The app's GUI thread while counting (`benchmarks/gui_stall.py`)", ""]
    if stall:
        lines.append(f"Counting {stall['images']} vgg images with the default model (offscreen, CPU): longest gap "
                     f"between 5 ms GUI-timer ticks {stall['longest_gui_stall_ms']} ms (target < 100 ms), 99th "
                     f"percentile {stall['p99_tick_gap_ms']} ms; batch {stall['batch_seconds']} s; window shown "
                     f"{stall['window_shown_s']} s and model loaded {stall['model_loaded_s']} s after start. "
                     "Measured while benchmark training jobs shared the two cores.")
    else:
        lines.append("Not measured yet.")
    lines += ["", "Speed benchmarks (inference efficiency, precision, memory, start-up) are in `benchmarks/PERF.md`."]
    (ROOT / "benchmarks" / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print("wrote benchmarks/RESULTS.md")
    return 0


def few_shot_section(results: dict | None) -> list[str]:
    """The few-shot table (``few_shot.py``) after its prose (``sections/few_shot.md``), and the
    previous fine-tune recipe's table (``results/few_shot_previous.json``) for comparison."""
    from few_shot import markdown_table

    lines = ["", (ROOT / "benchmarks" / "sections" / "few_shot.md").read_text().strip(), ""]
    lines += markdown_table(results).splitlines() if results and results.get("runs") else ["Not measured yet."]
    previous = load(RESULTS / "few_shot_previous.json")
    if previous and previous.get("runs"):
        lines += ["", "The previous fine-tune recipe (no calibrated start), on the bases of that session:", ""]
        lines += markdown_table(previous).splitlines()
    return lines


if __name__ == "__main__":
    sys.exit(main())
