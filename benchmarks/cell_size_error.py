"""How far the shipped model's cell-size estimate is from the true cell size: the error range the
app uses to flag doubtful counts.

For every VALIDATION image of the default model's splits (seed 0; never a test image) this
estimates the cell diameter with the model's size estimator, as the app does when no size is
given, and compares it with the image's true spacing, ``density.typical_cell_spacing`` of its
dots (the measure the estimator is trained on). It reports, per set and pooled over all images,
the ratio estimate / true (median, 10th and 90th percentiles) and the factor true / estimate at
its 10th and 90th percentiles: the range, as a factor on the estimate, in which the true size
lies for 80 % of images.

Writes ``benchmarks/results/cell_size_error.json`` (with the per-image rows) and the pooled
factor range to ``resources/models/cell-size-error.json``, the small file the app reads
(``countxplain.scale_policy.estimate_error_range``).

Usage: OMP_NUM_THREADS=1 python benchmarks/cell_size_error.py [MODEL] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from countxplain.annotations import read_dots
from countxplain.density import typical_cell_spacing
from countxplain.images import read_image
from countxplain.inference import Counter
from countxplain.modelfile import load_model
from countxplain.protocols import DEFAULT_MODEL_PROTOCOLS, load_protocol_data
from countxplain.resources import cell_size_error_path, default_model_path

OUT = Path(__file__).resolve().parent / "results" / "cell_size_error.json"
LOW, HIGH = 10, 90  # percentiles of the range


def measure(counter: Counter, samples) -> list[dict]:
    """Per image: the estimated and the true spacing (images with fewer than two dots are left out)."""
    rows = []
    for sample in samples:
        true = typical_cell_spacing(read_dots(sample.dots_path))
        if not math.isfinite(true) or true <= 0:
            continue
        estimate = counter.estimate_cell_diameter(read_image(sample.image_path).pixels)
        rows.append({"image": sample.image_path.name, "estimate_px": estimate, "true_px": true,
                     "ratio": estimate / true})
    return rows


def summary(rows: list[dict]) -> dict:
    """Ratio estimate / true (median and percentiles) and the factor range true / estimate."""
    ratio = np.array([r["ratio"] for r in rows], dtype=float)
    factor = 1.0 / ratio
    return {"n": int(len(ratio)), "ratio_median": float(np.median(ratio)),
            f"ratio_p{LOW}": float(np.percentile(ratio, LOW)), f"ratio_p{HIGH}": float(np.percentile(ratio, HIGH)),
            "median_abs_log_error": float(np.median(np.abs(np.log(ratio)))),
            f"factor_p{LOW}": float(np.percentile(factor, LOW)), f"factor_p{HIGH}": float(np.percentile(factor, HIGH))}


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--no-resource", action="store_true", help="do not write the app's range file")
    args = parser.parse_args(argv)
    path = args.model or default_model_path()
    model = load_model(path)
    if not model.preprocessing.get("size_model"):
        raise SystemExit(f"{path} has no cell-size estimator")
    counter = Counter(model, device="cpu", precision="fp32")
    start = time.perf_counter()
    per_set = {}
    for name in DEFAULT_MODEL_PROTOCOLS:
        protocol, dataset = load_protocol_data(args.data, name)
        _, val, _ = protocol.split(dataset, seed=0)
        per_set[protocol.dataset] = measure(counter, val)
        print(f"{protocol.dataset}: {summary(per_set[protocol.dataset])} ({time.perf_counter() - start:.0f} s)",
              flush=True)
    pooled = summary([r for rows in per_set.values() for r in rows])
    report = {"model": path.name, "model_created": model.provenance.get("created"), "split": "validation, seed 0",
              "true_size": "density.typical_cell_spacing(dots)",
              "sets": {name: summary(rows) for name, rows in per_set.items()}, "pooled": pooled,
              "per_image": per_set, "seconds": round(time.perf_counter() - start, 1)}
    write_json(OUT, report)
    if not args.no_resource:
        write_json(cell_size_error_path(), {
            "about": "true cell size / estimated size: the range holding 80 % of validation images; "
                     "written by benchmarks/cell_size_error.py",
            "model": path.name, "model_created": model.provenance.get("created"), "images": pooled["n"],
            "low": round(pooled[f"factor_p{LOW}"], 4), "high": round(pooled[f"factor_p{HIGH}"], 4)})
    print(f"pooled: {pooled}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
