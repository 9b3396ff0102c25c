"""Does the automatic cell-size estimate depend on how much of a specimen is in the frame?

Two measurements with the bundled model:

* tilings: one dsb2018 tile repeated to sides of 512 to 8192 pixels; for each, the estimate and
  the count per tile (the count divided by the number of tiles) beside the tile's own.
* natural images: every dsb2018 and mbm image larger than the estimator's window
  (``cell_size.MAX_SIDE``), the estimate against the annotated spacing, for the estimator read
  through windows at the image's own scale (``cell_size.estimate_cell_diameter``) and for the
  earlier one that shrank the whole frame to ``MAX_SIDE`` first.

Writes ``benchmarks/results/large_image_scale.json``.

Usage: OMP_NUM_THREADS=1 python benchmarks/large_image_scale.py [--data ../shared/data] [--sides 512 ... 8192]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from countxplain import cell_size
from countxplain.annotations import read_dots
from countxplain.density import typical_cell_spacing
from countxplain.images import read_image
from countxplain.inference import Counter
from countxplain.modelfile import load_model
from countxplain.resources import default_model_path

OUT = Path(__file__).resolve().parent / "results" / "large_image_scale.json"
TILE = "00071198d059ba7f5914a526d124d28e6d010c92466da21d4a04cd5413362552"


def whole_frame_estimate(counter: Counter, pixels: np.ndarray) -> float:
    """The earlier estimator: the whole frame shrunk to ``MAX_SIDE``, the spacing scaled back."""
    size_model = counter.bundle.preprocessing["size_model"]
    frontend = cell_size.size_frontend(counter.network.extractor.frontend, size_model)
    features, factor = cell_size.size_features(frontend, pixels)
    diameter = float(np.exp(cell_size.predict_log_spacing(size_model, features))) / factor
    return float(np.clip(diameter, cell_size.MIN_DIAMETER_PX, cell_size.MAX_DIAMETER_PX))


def tilings(counter: Counter, tile: np.ndarray, sides: list[int]) -> dict:
    alone = counter.count(tile, estimate_cell_size=True)
    rows = []
    for side in sides:
        copies = side // tile.shape[0]
        image = np.tile(tile, (copies, copies, 1))
        start = time.perf_counter()
        estimate = counter.estimate_cell_diameter(image)
        estimate_s = time.perf_counter() - start
        counted = counter.count(image, estimate_cell_size=True)
        per_tile = counted.count / copies ** 2
        rows.append({"side": side, "tiles": copies ** 2, "estimate_px": estimate, "estimate_s": round(estimate_s, 2),
                     "whole_frame_estimate_px": whole_frame_estimate(counter, image),
                     "estimate_vs_tile": estimate / alone.estimated_diameter_px - 1, "count": counted.count,
                     "count_per_tile": per_tile, "count_vs_tiles_sum": per_tile / alone.count - 1,
                     "count_s": round(counted.seconds, 1)})
        print(json.dumps(rows[-1]), flush=True)
        del image
    return {"tile": TILE, "tile_shape": list(tile.shape[:2]), "tile_estimate_px": alone.estimated_diameter_px,
            "tile_count": alone.count, "rows": rows}


def natural_pairs(data: Path):
    for image in sorted((data / "dsb2018" / "images").glob("*.png")):
        yield "dsb2018", image, read_dots(data / "dsb2018" / "dots" / f"{image.stem}.csv")
    for image in sorted((data / "mbm").glob("*.png")):
        if "_dots_" not in image.name:
            yield "mbm", image, read_dots(image.with_name(_mbm_dots_name(image.name)))


def _mbm_dots_name(name: str) -> str:
    stem, number = name[:-4].rsplit("_", 1)
    return f"{stem}_dots_{number}.png"


def natural(counter: Counter, data: Path) -> dict:
    rows = []
    for dataset, image_path, dots in natural_pairs(data):
        pixels = read_image(image_path).pixels
        if max(pixels.shape[:2]) <= cell_size.MAX_SIDE or len(dots) < 2:
            continue
        spacing = typical_cell_spacing(dots)
        rows.append({"set": dataset, "image": image_path.name, "shape": list(pixels.shape[:2]), "spacing_px": spacing,
                     "windows_px": counter.estimate_cell_diameter(pixels),
                     "whole_frame_px": whole_frame_estimate(counter, pixels)})
    summary = {}
    for dataset in sorted({r["set"] for r in rows}):
        chosen = [r for r in rows if r["set"] == dataset]
        summary[dataset] = {"images": len(chosen)}
        for method in ("windows_px", "whole_frame_px"):
            errors = np.array([np.log(r[method] / r["spacing_px"]) for r in chosen])
            summary[dataset][method] = {"median_abs_log_error": float(np.median(np.abs(errors))),
                                        "median_log_ratio": float(np.median(errors)),
                                        "within_25_percent": float(np.mean(np.abs(np.exp(errors) - 1) <= 0.25))}
    print(json.dumps(summary, indent=1), flush=True)
    return {"summary": summary, "rows": rows}


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--sides", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192])
    parser.add_argument("--no-natural", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    counter = Counter(load_model(default_model_path()), device="cpu")
    tile = read_image(args.data / "dsb2018" / "images" / f"{TILE}.png").pixels
    result = {"cpu": cpu_name(), "threads": torch.get_num_threads(), "model": default_model_path().name,
              "tilings": tilings(counter, tile, args.sides)}
    if not args.no_natural:
        result["natural"] = natural(counter, args.data)
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
