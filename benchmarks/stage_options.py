"""One protocol split trained with chosen ``TrainingConfig`` options: CSRNet and CountXplain test MAE.

Trains both stages (or stage 2 alone on the extractor of a saved model, ``"extractor": FILE``
with ``"stage1_epochs": 0``), counts the test images at the set's spacing with the stage-1 output
layer (CSRNet) and with the prototype head (CountXplain), measures the box purity of the
explanations on the first 30 test images (``explanation_quality.set_quality``), and appends one
JSON line with both MAEs, the purities and the validation history of each stage to
``benchmarks/results/stage_options.jsonl``.

Usage: python benchmarks/stage_options.py '{"protocol": "mbm", "seed": 0, "stage1_epochs": 15,
       "stage2_epochs": 60, "stage1_refit_output": true}' [--save MODEL.cxm]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from countxplain.evaluation import evaluate_samples
from countxplain.inference import Counter
from countxplain.modelfile import load_model, save_model
from countxplain.training import TrainingConfig
from explanation_quality import set_quality
from run_protocols import train_protocol

RESULTS = Path(__file__).resolve().parent / "results" / "stage_options.jsonl"


def box_purity(bundle, name: str, seed: int) -> dict:
    """Cell- and background-box purity of the model's explanations on the split's first 30 test images."""
    _, quality = set_quality(Counter(bundle, device="cpu"), Path("../shared/data"), name, seed, 30,
                             np.random.default_rng(0))
    return {"cell": round(quality["cell_box_purity"], 4), "background": round(quality["background_box_purity"], 4)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("options", help="JSON: protocol, seed, optional extractor, and TrainingConfig fields")
    parser.add_argument("--save", type=Path, default=None, help="also write the trained model here")
    args = parser.parse_args(argv)
    options = json.loads(args.options)
    name, seed, extractor = options.pop("protocol"), options.pop("seed", 0), options.pop("extractor", None)
    state = ({k: v.float() for k, v in load_model(extractor).network.extractor.state_dict().items()}
             if extractor else None)
    start = time.perf_counter()
    _, bundle, test, diameter, train_seconds, _ = train_protocol("../shared/data", name, seed, TrainingConfig(**options), state)
    if args.save:
        save_model(bundle, args.save)
    history = lambda stage: [(h["epoch"], round(h["val_mae"], 2)) for h in bundle.provenance["history"]
                             if h["stage"] == stage and h["val_mae"] is not None]
    row = {"protocol": name, "seed": seed, "options": options, "extractor": extractor,
           "csrnet_mae": round(evaluate_samples(bundle, test, diameter, branch="csrnet")["mae"], 2),
           "countxplain_mae": round(evaluate_samples(bundle, test, diameter)["mae"], 2),
           "purity": box_purity(bundle, name, seed),
           "stage1_val": history("stage1"), "stage2_val": history("stage2"),
           "train_seconds": round(train_seconds), "seconds": round(time.perf_counter() - start)}
    if args.save:
        row["saved_as"] = args.save.name
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as out:
        out.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
