"""Under- or over-fitting of stage 1 (CSRNet) on one protocol split: training and test MAE.

Trains stage 1 with the given ``TrainingConfig`` options (stage 2 for one epoch only) and counts
the training and the test images with the CSRNet output layer, at the set's spacing. Prints one
JSON line with both MAEs, the best validation MAE and the per-epoch history, and appends it to
``benchmarks/results/stage1_fit.jsonl`` (RESULTS.md's stage-options section).

Usage: python benchmarks/stage1_fit.py '{"protocol": "vgg32", "seed": 0, "stage1_epochs": 40,
       "train_backend_layers": 6, "stage1_schedule": "cosine", "stage1_lr": 3e-4, "stage1_patience": 100}'
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from countxplain.evaluation import evaluate_samples
from countxplain.protocols import load_protocol_data
from countxplain.training import TrainingConfig
from run_protocols import sigma_for, train_protocol

RESULTS = Path(__file__).resolve().parent / "results" / "stage1_fit.jsonl"


def main(argv=None) -> int:
    options = json.loads((argv or sys.argv[1:])[0])
    name, seed = options.pop("protocol", "vgg32"), options.pop("seed", 0)
    diameter = options.get("cell_diameter_px", TrainingConfig.cell_diameter_px)
    config = TrainingConfig(**{"stage1_epochs": 15, "stage2_epochs": 1, "sigma_px": sigma_for(diameter), **options})
    start = time.perf_counter()
    protocol, bundle, test, set_diameter, _, _ = train_protocol("../shared/data", name, seed, config)
    train, _, _ = protocol.split(load_protocol_data("../shared/data", name)[1], seed)
    history = [(h["epoch"], round(h["loss"], 4), round(h["val_mae"], 2))
               for h in bundle.provenance["history"] if h["stage"] == "stage1"]
    line = json.dumps({"protocol": name, "seed": seed, "options": options,
                       "train_mae": round(evaluate_samples(bundle, train, set_diameter, branch="csrnet")["mae"], 2),
                       "test_mae": round(evaluate_samples(bundle, test, set_diameter, branch="csrnet")["mae"], 2),
                       "val_mae": bundle.provenance["metrics"]["stage1_val_mae"],
                       "seconds": round(time.perf_counter() - start), "history": history})
    with RESULTS.open("a") as out:
        out.write(line + "\n")
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
