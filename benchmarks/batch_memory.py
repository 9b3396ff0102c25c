"""Memory over a long batch: 1,000 images of mixed sizes counted in one process through ``Counter``.

The images are made from dsb2018 images (crops and resized copies, 64 to 320 pixels a side, in a
fixed random order) and written as PNGs to a temporary folder; each is read with ``read_image``
and counted with the cell-size estimate, as ``countxplain count`` does. The resident set size is
recorded after every image. The batch passes when the RSS after the last image is within 10 % of
the RSS after the first 100. With ``--trim`` glibc's ``malloc_trim(0)`` runs after every image
(freed memory handed back to the system), which tells an allocator that keeps freed memory from a
leak: a leak grows either way.

Writes ``benchmarks/results/batch_memory[-trim].json``.

Usage: OMP_NUM_THREADS=1 python benchmarks/batch_memory.py [--images 1000] [--trim] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from countxplain.images import read_image
from countxplain.inference import Counter
from countxplain.modelfile import load_model
from countxplain.resources import default_model_path

RESULTS = Path(__file__).resolve().parent / "results"
SIDES = (64, 96, 128, 160, 200, 256, 320)


def rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def make_images(data: Path, folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` PNGs: crops or resized copies of dsb2018 images, sides drawn from ``SIDES``."""
    rng = np.random.default_rng(seed)
    sources = sorted((data / "dsb2018" / "images").glob("*.png"))
    paths = []
    for i in range(n):
        with Image.open(sources[rng.integers(len(sources))]) as source:
            image = source.convert("RGB")
        height, width = (int(rng.choice(SIDES)) for _ in range(2))
        if rng.random() < 0.5 and image.height >= height and image.width >= width:
            y, x = rng.integers(image.height - height + 1), rng.integers(image.width - width + 1)
            image = image.crop((x, y, x + width, y + height))
        else:
            image = image.resize((width, height), Image.BILINEAR)
        paths.append(folder / f"{i:04d}.png")
        image.save(paths[-1])
    return paths


def run(paths: list[Path], trim: bool) -> list[float]:
    libc = ctypes.CDLL("libc.so.6") if trim else None
    counter = Counter(load_model(default_model_path()), device="cpu")
    rss = []
    for i, path in enumerate(paths):
        counter.count(read_image(path).pixels, estimate_cell_size=True)
        if libc is not None:
            libc.malloc_trim(0)
        rss.append(round(rss_mib(), 1))
        if (i + 1) % 100 == 0:
            print(f"{i + 1} images: {rss[-1]} MiB", flush=True)
    return rss


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--trim", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        paths = make_images(args.data, Path(folder), args.images)
        rss = run(paths, args.trim)
    after_100, last = rss[min(99, len(rss) - 1)], rss[-1]
    result = {"images": len(rss), "sides": SIDES, "malloc_trim": args.trim,
              "malloc_arena_max": os.environ.get("MALLOC_ARENA_MAX"), "threads": torch.get_num_threads(),
              "rss_after_first_mib": rss[0], "rss_after_100_mib": after_100, "rss_last_mib": last,
              "rss_max_mib": max(rss), "growth_after_100": last / after_100 - 1,
              "within_10_percent": bool(last <= 1.10 * after_100), "seconds": round(time.perf_counter() - start),
              "rss_mib": rss}
    out = RESULTS / f"batch_memory{'-trim' if args.trim else ''}.json"
    out.write_text(json.dumps(result) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "rss_mib"}))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
