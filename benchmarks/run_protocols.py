"""Benchmark protocols of shared/data/PROTOCOLS.md: test MAE of a training recipe per protocol and seed.

For each protocol and seed: split (validation from the training share), train with a preset of
``countxplain.training`` (``--preset``, ``--set OPTION=VALUE`` overrides) through
``train_model``, and count the test images, no choice made on them. A model that rescales images
to a common cell size (the CSRNet presets) is trained and counted at the set's cell diameter
measured on the training annotations (dsb2018: each image's own dot spacing), and its stage-1
output layer (CSRNet) is counted too; a stride-4 model (``default``) counts images as they are.
Results accumulate in ``benchmarks/results/protocols.json`` (finished runs of the same recipe are
skipped on a rerun) and ``benchmarks/write_results.py`` puts the table into RESULTS.md.

Usage: python benchmarks/run_protocols.py [--protocols vgg32 mbm adi vgg64 dsb2018] [--seeds 0 1 2 3 4]
       [--preset default] [--set OPTION=VALUE ...] [--save-models DIR] [--rerun]
       (dsb2018 has one fixed split, so only seed 0 is run for it)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from perfkit.machine import machine_info

from countxplain.annotations import read_dots
from countxplain.cli import training_option
from countxplain.density import typical_cell_spacing
from countxplain.evaluation import evaluate_samples
from countxplain.modelfile import save_model
from countxplain.pretrained import load_csrnet_state
from countxplain.protocols import load_protocol_data
from countxplain.training import TrainingConfig, preset_config, train_model

RESULTS = Path(__file__).resolve().parent / "results" / "protocols.json"


def set_diameter(samples) -> float:
    return float(np.nanmedian([typical_cell_spacing(read_dots(s.dots_path)) for s in samples]))


def load_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {"runs": [], "ablation": []}


def save_results(results: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1))
    os.replace(tmp, RESULTS)


def same_recipe(recorded: dict | None, config: TrainingConfig) -> bool:
    """A recorded run's config equals ``config`` in every option there is now (options added since it
    ran count as their defaults, options since removed are ignored)."""
    if recorded is None:
        return False
    defaults = asdict(TrainingConfig())
    current = {f.name for f in dataclasses.fields(TrainingConfig)}
    return {name: recorded.get(name, defaults[name]) for name in current} == asdict(config)


def same_run(row: dict, name: str, seed: int, config: TrainingConfig) -> bool:
    """``row`` records protocol ``name`` at ``seed`` trained with ``config``."""
    return row["protocol"] == name and row["seed"] == seed and same_recipe(row.get("config"), config)


def run_one(data: Path, name: str, seed: int, preset: str, overrides: dict, save_to: Path | None,
            machine: dict) -> dict:
    protocol, dataset = load_protocol_data(data, name)
    train_s, val_s, test_s = protocol.split(dataset, seed)
    native = preset_config(preset, **overrides).extractor == "vgg-s4"
    diameter = None if native or protocol.dataset == "dsb2018" else set_diameter(train_s)

    def sizes(samples):
        return None if diameter is None else [diameter] * len(samples)

    start = time.perf_counter()
    run = train_model(train_s, preset, overrides, val_samples=val_s, diameters=sizes(train_s),
                      val_diameters=sizes(val_s), groups=[protocol.dataset] * len(train_s),
                      val_groups=[protocol.dataset] * len(val_s), csrnet_state=load_csrnet_state(), gallery_k=0)
    seconds = time.perf_counter() - start
    bundle = run.bundle
    if save_to is not None:
        save_to.mkdir(parents=True, exist_ok=True)
        save_model(bundle, save_to / f"{name}-seed{seed}-{preset}.cxm")
    oracle = not native and protocol.dataset == "dsb2018"  # each test image at its own dot spacing
    row = {"protocol": name, "seed": seed, "preset": preset, "overrides": overrides, "n_train": protocol.n_train,
           "n_val": protocol.n_val, "n_test": len(test_s), "cell_diameter_px": diameter,
           "train_diameter_px": None if native else run.config.cell_diameter_px,
           "input_side_px": int(np.median([max(t.pixels.shape[:2]) for t in run.train_images])),
           "train_seconds": round(seconds, 1), "cpu": f"{machine['cpu']} ({machine['isa']})",
           "countxplain_mae": evaluate_samples(bundle, test_s, diameter, oracle_cell_size=oracle)["mae"],
           "val_mae": bundle.provenance["metrics"]["val_mae"], "config": asdict(run.config)}
    if not native:
        row["csrnet_mae"] = evaluate_samples(bundle, test_s, diameter, branch="csrnet", oracle_cell_size=oracle)["mae"]
        row["stage1_val_mae"] = bundle.provenance["metrics"].get("stage1_val_mae")
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--protocols", nargs="+", default=["vgg32", "mbm", "adi", "vgg64"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--preset", default="default", help="training recipe (countxplain.training.PRESETS)")
    parser.add_argument("--set", action="append", type=training_option, metavar="OPTION=VALUE",
                        help="a training option that differs from the preset's (repeatable)")
    parser.add_argument("--rerun", action="store_true", help="run again and replace finished runs of this recipe")
    parser.add_argument("--save-models", type=Path, default=None, help="also write each run's model file here")
    args = parser.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    overrides = dict(args.set or [])
    config = preset_config(args.preset, **overrides)
    machine = machine_info()
    results = load_results()
    for seed in args.seeds:
        for name in args.protocols:
            done = any(same_run(r, name, seed, config) for r in results["runs"])
            if (done and not args.rerun) or (name == "dsb2018" and seed != 0):
                continue
            row = run_one(args.data, name, seed, args.preset, overrides, args.save_models, machine)
            results = load_results()  # another run may have finished meanwhile
            results["runs"] = [r for r in results["runs"] if not same_run(r, name, seed, config)] + [row]
            save_results(results)
            csrnet = f", CSRNet {row['csrnet_mae']:.2f}" if "csrnet_mae" in row else ""
            print(f"{name} seed {seed} ({args.preset}): CountXplain {row['countxplain_mae']:.2f}{csrnet} "
                  f"({row['train_seconds']:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
