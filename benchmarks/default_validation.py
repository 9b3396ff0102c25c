"""Validation MAE per default set: how a candidate default model is chosen against the shipped one.

For each model, the validation images of every default set (seed-0 splits, never test images) are
counted as a user's images are: with no size given (the app's automatic choice), and, for a model
that rescales images to its cell size, also at the set's annotated training spacing. Writes
``benchmarks/results/default_validation.json`` (a row per model, replaced by label).

Usage: python benchmarks/default_validation.py MODEL --label TEXT [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

from countxplain.evaluation import evaluate_samples
from countxplain.modelfile import load_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from train_default_model import default_splits  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "default_validation.json"


def validation_rows(model_path: Path, data: Path) -> dict:
    model = load_model(model_path)
    splits, diameters = default_splits(data)
    native = bool(model.preprocessing.get("native_scale"))
    rows = {}
    for name, (_, val, _) in splits.items():
        automatic = evaluate_samples(model, val, None, estimate_cell_size=not native)
        rows[name] = {"n": automatic["n"], "mae_no_size": round(automatic["mae"], 3)}
        if not native:
            given = evaluate_samples(model, val, diameters[name], oracle_cell_size=diameters[name] is None)
            rows[name]["mae_size_given"] = round(given["mae"], 3)
        print(name, rows[name], flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--label", required=True)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    results = json.loads(OUT.read_text()) if OUT.exists() else []
    row = {"label": args.label, "model": args.model.name, "sets": validation_rows(args.model, args.data)}
    results = [r for r in results if r["label"] != args.label] + [row]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_name(OUT.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=1))
    os.replace(tmp, OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
