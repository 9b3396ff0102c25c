"""Records a default-model candidate that was measured against the shipped model.

Reads a candidate's ``default-metrics.json`` (scripts/train_default_model.py --out DIR) and its
explanation-quality JSON (benchmarks/explanation_quality.py --out FILE), and adds or replaces
its row (by label) in benchmarks/results/default_candidates.json; write_results.py puts the rows,
beside the shipped model's, in RESULTS.md.

Usage: python benchmarks/record_candidate.py --label TEXT --recipe TEXT --metrics DIR/default-metrics.json
       --explanations FILE [--shipped yes|no]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "default_candidates.json"


def best_validation_mae(history: list[dict]) -> float | None:
    """The model kept is the stage-2 projection with the lowest validation MAE."""
    values = [row["val_mae"] for row in history if row.get("stage") == "stage2" and row.get("val_mae") is not None]
    return min(values) if values else None


def candidate_row(label: str, recipe: str, metrics: dict, explanations: dict, shipped: bool) -> dict:
    return {
        "label": label, "recipe": recipe, "shipped": shipped,
        "val_mae": best_validation_mae(metrics.get("history", [])),
        "test_mae": {name: row["mae"] for name, row in metrics["test"].items()},
        "purity": {name: {"cell": row["cell_box_purity"], "background": row["background_box_purity"]}
                   for name, row in explanations["sets"].items()},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True)
    parser.add_argument("--recipe", required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--explanations", type=Path, required=True)
    parser.add_argument("--shipped", choices=("yes", "no"), default="no")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    row = candidate_row(args.label, args.recipe, json.loads(args.metrics.read_text()),
                        json.loads(args.explanations.read_text()), args.shipped == "yes")
    rows = json.loads(args.out.read_text()) if args.out.exists() else []
    rows = [r for r in rows if r["label"] != args.label] + [row]
    args.out.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"recorded '{args.label}' in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
