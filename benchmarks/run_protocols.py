"""Benchmark protocols of shared/data/PROTOCOLS.md: stage 1 (CSRNet) and CountXplain test MAE.

For each protocol and seed: split (validation from the training share), measure the set's
cell diameter on the training annotations, train both stages at the common diameter
(``--cell-diameter``, 10 px by default),
and count the test images rescaled by that diameter, with the stage-1 output layer
(CSRNet) and with the prototype head (CountXplain). Results accumulate in
``benchmarks/results/protocols.json`` (finished runs are skipped on a rerun) and the table
in ``benchmarks/RESULTS.md`` is rewritten by ``benchmarks/write_results.py``.

Usage: python benchmarks/run_protocols.py [--protocols vgg32 mbm adi vgg64 dsb2018] [--seeds 0 1 2 3 4]
       (dsb2018 has one fixed split, so only seed 0 is run for it; its images are counted at
       each image's own dot spacing)
       python benchmarks/run_protocols.py --ablation adi   (Table 2 of the paper, seed 0)
       python benchmarks/run_protocols.py --ablation vgg32 --variants "full loss" "with separation (beyond the paper)"
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from countxplain.annotations import read_dots
from countxplain.density import typical_cell_spacing
from countxplain.evaluation import evaluate_samples
from countxplain.inference import Counter
from countxplain.training.losses import intra_group_distances
from countxplain.modelfile import save_model
from countxplain.pretrained import load_csrnet_state
from countxplain.protocols import load_protocol_data
from countxplain.training import Trainer, TrainingConfig
from countxplain.training.data import prepare_images

RESULTS = Path(__file__).resolve().parent / "results" / "protocols.json"


def set_diameter(samples) -> float:
    return float(np.nanmedian([typical_cell_spacing(read_dots(s.dots_path)) for s in samples]))


def sigma_for(cell_diameter_px: float) -> float:
    """The density target's Gaussian width for a common cell diameter (scaled with the default's)."""
    return TrainingConfig.sigma_px * cell_diameter_px / TrainingConfig.cell_diameter_px


def load_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {"runs": [], "ablation": []}


def save_results(results: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1))
    tmp.replace(RESULTS)


def train_protocol(data: Path, name: str, seed: int, config: TrainingConfig, extractor_state=None):
    protocol, dataset = load_protocol_data(data, name)
    train_s, val_s, test_s = protocol.split(dataset, seed)
    if protocol.dataset == "dsb2018":  # cell sizes vary from image to image: each image's own dot spacing
        diameter, train_d, val_d = None, None, None
    else:
        diameter = set_diameter(train_s)
        train_d, val_d = [diameter] * len(train_s), [diameter] * len(val_s)
    train = prepare_images(train_s, [protocol.dataset] * len(train_s), config.cell_diameter_px, train_d)
    val = prepare_images(val_s, [protocol.dataset] * len(val_s), config.cell_diameter_px, val_d)
    trainer = Trainer(config, train, val, csrnet_state=extractor_state or load_csrnet_state())
    start = time.perf_counter()
    bundle = trainer.run()
    seconds = time.perf_counter() - start
    return protocol, bundle, test_s, diameter, seconds, train


def same_recipe(recorded: dict | None, config: TrainingConfig) -> bool:
    """A recorded run's config equals ``config``; options added since it ran count as their defaults."""
    return recorded is not None and {**asdict(TrainingConfig()), **recorded} == asdict(config)


def save_run_model(bundle, folder: Path | None, filename: str) -> None:
    """Keep a benchmark run's model file (``--save-models``); nothing without a folder."""
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        save_model(bundle, folder / filename)


def run_one(data: Path, name: str, seed: int, config: TrainingConfig, save_to: Path | None = None) -> dict:
    protocol, bundle, test_s, diameter, seconds, train = train_protocol(data, name, seed, config)
    save_run_model(bundle, save_to, f"{name}-seed{seed}-d{config.cell_diameter_px:g}.cxm")
    oracle = diameter is None  # dsb2018: each test image counted at its own dot spacing
    csrnet = evaluate_samples(bundle, test_s, diameter, branch="csrnet", oracle_cell_size=oracle)
    countxplain = evaluate_samples(bundle, test_s, diameter, oracle_cell_size=oracle)
    side = int(np.median([max(t.pixels.shape[:2]) for t in train]))
    return {"protocol": name, "seed": seed, "n_train": protocol.n_train, "n_val": protocol.n_val,
            "n_test": len(test_s), "cell_diameter_px": diameter, "train_diameter_px": config.cell_diameter_px,
            "input_side_px": side, "train_seconds": round(seconds, 1),
            "csrnet_mae": csrnet["mae"], "countxplain_mae": countxplain["mae"],
            "val_mae": bundle.provenance["metrics"]["val_mae"],
            "stage1_val_mae": bundle.provenance["metrics"]["stage1_val_mae"],
            "prototype_distances": bundle.provenance["metrics"]["prototype_distances"]}


ABLATION_VARIANTS = {
    "full loss": {},
    "without diversity": {"lambda_diversity": 0.0},
    "diversity weight 10": {"lambda_diversity": 10.0},
    "without prototype-to-feature": {"lambda_proto": 0.0},
    "with separation (beyond the paper)": {"lambda_separation": 5.0},
    "8 cell prototypes (beyond the paper)": {"k_cell": 8},
    "with location separation (beyond the paper)": {"lambda_location_separation": 5.0},
    "with a cluster term at every dot (beyond the paper)": {"lambda_dot_cluster": 1.0},
}


def run_ablation(data: Path, name: str, config: TrainingConfig, variants: list[str],
                 save_to: Path | None = None, purity_images: int = 0) -> list[dict]:
    """Stage 2 trained with each loss variant from one shared stage 1 (seed 0); with
    ``purity_images``, also the explanation purity on that many test images."""
    protocol, bundle, test_s, diameter, _, _ = train_protocol(data, name, 0, config)
    extractor = bundle.network.extractor.state_dict()
    rows = []
    for label in variants:
        variant = replace(config, stage1_epochs=0, **ABLATION_VARIANTS[label])
        _, model, test_s, diameter, seconds, _ = train_protocol(data, name, 0, variant, extractor)
        save_run_model(model, save_to, f"{name}-ablation-{label.split(' (')[0].replace(' ', '-')}.cxm")
        result = evaluate_samples(model, test_s, diameter)
        rows.append({"protocol": name, "variant": label, "test_mae": result["mae"], "config": asdict(config),
                     "variant_change": ABLATION_VARIANTS[label], "val_mae": model.provenance["metrics"]["val_mae"],
                     "distances": intra_group_distances(model.network.head.prototypes.detach(), variant.k_cell)})
        if purity_images:
            from explanation_quality import set_quality

            _, quality = set_quality(Counter(model, device="cpu"), data, name, 0, purity_images, np.random.default_rng(0))
            rows[-1]["purity"] = {"images": quality["n_images"], "cell": quality["cell_box_purity"],
                                  "background": quality["background_box_purity"],
                                  "cell_regions": quality["region_purity"]["cell"],
                                  "background_regions": quality["region_purity"]["background"]}
        print(rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--protocols", nargs="+", default=["vgg32", "mbm", "adi", "vgg64"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--stage1-epochs", type=int, default=30)
    parser.add_argument("--stage2-epochs", type=int, default=100)
    parser.add_argument("--cell-diameter", type=float, default=TrainingConfig.cell_diameter_px,
                        help="common cell diameter (px) every image is brought to; sigma scales with it")
    parser.add_argument("--backend-layers", type=int, default=TrainingConfig.train_backend_layers,
                        help="CSRNet backend layers fine-tuned in stage 1 (0-6)")
    parser.add_argument("--frontend-layers", type=int, default=TrainingConfig.train_frontend_layers,
                        help="with 6 backend layers: the last VGG convolutions also fine-tuned (0-3)")
    parser.add_argument("--stage1-precision", choices=("fp32", "bf16"), default=TrainingConfig.stage1_precision,
                        help="bf16: stage-1 steps under bfloat16 autocast where the device computes it natively")
    parser.add_argument("--min-group-views", type=int, default=TrainingConfig.min_group_views,
                        help="dihedral views per set at least (up to 8 per image)")
    parser.add_argument("--stage1-lr", type=float, default=TrainingConfig.stage1_lr)
    parser.add_argument("--stage1-schedule", choices=("constant", "cosine"), default=TrainingConfig.stage1_schedule)
    parser.add_argument("--stage1-patience", type=int, default=TrainingConfig.stage1_patience,
                        help="stage-1 epochs without a better validation MAE before it stops")
    parser.add_argument("--stage1-ema", type=float, default=TrainingConfig.stage1_ema,
                        help="decay of the stage-1 weight average (0: off)")
    parser.add_argument("--stage1-refit-output", action=argparse.BooleanOptionalAction,
                        default=TrainingConfig.stage1_refit_output,
                        help="refit the stage-1 output layer by least squares on whole training images each epoch")
    parser.add_argument("--stage1-context", default=str(TrainingConfig.stage1_context_cells),
                        help="cells of real-feature context around each stage-1 crop (an integer, or 'full')")
    parser.add_argument("--standardise-head-init", action=argparse.BooleanOptionalAction,
                        default=TrainingConfig.standardise_head_init,
                        help="start the head's feature processing scaled to the training features")
    parser.add_argument("--rerun", action="store_true", help="run again and replace finished runs of this recipe")
    parser.add_argument("--save-models", type=Path, default=None, help="also write each run's model file here")
    parser.add_argument("--ablation", default=None, help="run the loss ablation on this protocol instead")
    parser.add_argument("--variants", nargs="+", default=list(ABLATION_VARIANTS)[:3], choices=list(ABLATION_VARIANTS),
                        help="loss variants of the ablation")
    parser.add_argument("--purity-images", type=int, default=20,
                        help="ablation: test images for the explanation purity of each variant (0: skip)")
    args = parser.parse_args(argv)
    sigma = sigma_for(args.cell_diameter)
    config = TrainingConfig(stage1_epochs=args.stage1_epochs, stage2_epochs=args.stage2_epochs,
                            cell_diameter_px=args.cell_diameter, sigma_px=sigma,
                            train_backend_layers=args.backend_layers, stage1_lr=args.stage1_lr,
                            stage1_schedule=args.stage1_schedule, stage1_ema=args.stage1_ema,
                            stage1_patience=args.stage1_patience, train_frontend_layers=args.frontend_layers,
                            stage1_precision=args.stage1_precision, min_group_views=args.min_group_views,
                            stage1_refit_output=args.stage1_refit_output,
                            standardise_head_init=args.standardise_head_init,
                            stage1_context_cells=None if args.stage1_context == "full" else int(args.stage1_context))
    results = load_results()
    if args.ablation:
        rows = run_ablation(args.data, args.ablation, config, args.variants, args.save_models, args.purity_images)
        results = load_results()
        done = {(r["protocol"], r["variant"]) for r in rows}
        results["ablation"] = [r for r in results.get("ablation", []) if (r["protocol"], r["variant"]) not in done] + rows
        save_results(results)
        return 0
    for seed in args.seeds:
        for name in args.protocols:
            same = lambda r: r["protocol"] == name and r["seed"] == seed and same_recipe(r.get("config"), config)
            if (any(map(same, results["runs"])) and not args.rerun) or (name == "dsb2018" and seed != 0):
                continue
            row = run_one(args.data, name, seed, config, args.save_models)
            row["config"] = asdict(config)
            results = load_results()  # another run may have finished meanwhile
            results["runs"] = [r for r in results["runs"] if not same(r)] + [row]
            save_results(results)
            print(f"{name} seed {seed}: CSRNet {row['csrnet_mae']:.2f}  CountXplain {row['countxplain_mae']:.2f}  "
                  f"({row['train_seconds']:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    torch.set_num_threads(max(1, torch.get_num_threads()))
    sys.exit(main())
