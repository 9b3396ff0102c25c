"""The stage-2 top-location term (``TrainingConfig.lambda_top_location``, beyond the paper) on the
default model's extractor: each head is trained from the shipped model's head on images resized
to whole cells with nearest-pure projection (the setting of the best candidates so far), one
feature cache shared by all heads, and measured like a candidate: validation MAE (the projection
kept) and drawn-box purity on 20 test images per set.

Usage: python benchmarks/top_location.py [--runs WEIGHT,TEMPERATURE,EPOCHS ...] [--out-dir build/top-location]
Writes benchmarks/results/top_location.json (one row per run, added to what is there) and each
head's model file under --out-dir.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from explanation_quality import set_quality  # noqa: E402
from train_default_model import default_splits, default_training_images  # noqa: E402

from countxplain.inference import Counter  # noqa: E402
from countxplain.modelfile import load_model, save_model  # noqa: E402
from countxplain.protocols import DEFAULT_MODEL_PROTOCOLS  # noqa: E402
from countxplain.training import Trainer, TrainingConfig  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "top_location.json"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--init", type=Path, default=Path("resources/models/default.cxm"))
    parser.add_argument("--runs", nargs="+", default=["0,0.25,25", "1,0.25,25", "4,0.25,25"],
                        help="WEIGHT,TEMPERATURE,EPOCHS of each head")
    parser.add_argument("--per-set", type=int, default=20)
    parser.add_argument("--out-dir", type=Path, default=Path("build/top-location"))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    log = lambda text: print(f"[{time.perf_counter() - start:6.0f}s] {text}", flush=True)
    init = load_model(args.init)
    base = TrainingConfig(stage1_epochs=0, train_backend_layers=6, fit_to_stride=True, projection_choice="nearest_pure")
    trainer = Trainer(base, *default_training_images(*default_splits(args.data), base), init=init)
    views = trainer.head_views()
    log("views cached")
    start_head = copy.deepcopy(init.network.head.state_dict())
    rows = json.loads(args.out.read_text()) if args.out.exists() else []
    for run in args.runs:
        weight, temperature, epochs = (float(v) for v in run.split(","))
        trainer.config = dataclasses.replace(base, lambda_top_location=weight, top_location_temperature=temperature,
                                             stage2_epochs=int(epochs))
        trainer.model.head.load_state_dict(start_head)
        torch.manual_seed(0)
        trainer.rng = np.random.default_rng(0)
        bundle = trainer.train_head(*views)
        path = args.out_dir / f"w{weight:g}-t{temperature:g}-e{int(epochs)}.cxm"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_model(bundle, path, half=True)
        counter, rng = Counter(load_model(path), device="cpu"), np.random.default_rng(0)
        sets = dict(set_quality(counter, args.data, name, 0, args.per_set, rng) for name in DEFAULT_MODEL_PROTOCOLS)
        row = {"weight": weight, "temperature": temperature, "epochs": int(epochs), "val_mae": trainer.stage2_val_mae,
               "final_term": next((h.get("top_location") for h in reversed(bundle.provenance["history"])), None),
               "purity": {n: {"cell": q["cell_box_purity"], "background": q["background_box_purity"],
                              "interval": q["purity_interval"], "mae": q["mae"]} for n, q in sets.items()}}
        rows = [r for r in rows if (r["weight"], r["temperature"], r["epochs"]) != (weight, temperature, int(epochs))]
        rows.append(row)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1))
        log(f"weight {weight:g}, temperature {temperature:g}, {int(epochs)} epochs: validation MAE {row['val_mae']:.3f}; "
            + "; ".join(f"{n} {p['cell']:.1%} / {p['background']:.1%}" for n, p in row["purity"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
