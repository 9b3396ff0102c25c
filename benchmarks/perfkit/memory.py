"""The memory section: peak RSS counting a big image and RSS over a folder, each in a ``perf.py --worker``
subprocess."""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .config import DATA, ROOT, SCRIPT
from .fixtures import real_pixels
from .machine import peak_rss_mb, rss_mb


def section_memory(args, model_file: Path) -> dict:
    from PIL import Image

    out = {}
    big = 1024 if args.quick else args.big_size
    n_images = 30 if args.quick else 1000
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        big_path = tmp / f"big{big}.png"
        start = time.perf_counter()
        Image.fromarray((real_pixels(big) * 255).round().astype(np.uint8)).save(big_path, compress_level=1)
        print(f"  wrote {big}² PNG ({big_path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.0f} s",
              flush=True)
        out["big"] = run_worker(["big", str(big_path), "--model", str(model_file)])
        out["big"]["size"] = big
        big_path.unlink()
        print(f"  {big}²: peak RSS {out['big'].get('peak_rss_mb', float('nan')):.0f} MB, count "
              f"{out['big'].get('count', float('nan')):.1f} in {out['big'].get('seconds', float('nan')):.0f} s",
              flush=True)
        folder = tmp / "many"
        folder.mkdir()
        write_small_images(folder, n_images)
        out["folder"] = run_worker(["folder", str(folder), "--model", str(model_file)])
        print(f"  folder of {n_images}: RSS {out['folder'].get('rss_mb')} MB, peak "
              f"{out['folder'].get('peak_rss_mb', float('nan')):.0f} MB", flush=True)
    return out


def write_small_images(folder: Path, n: int, side: int = 128) -> None:
    """``n`` side×side PNG crops of real vgg and mbm images at random places."""
    from PIL import Image

    sources = sorted((DATA / "vgg").glob("*cell.png"))[:20] + sorted((DATA / "mbm").glob("*_0[0-9][0-9].png"))[:20]
    sources = [p for p in sources if "dots" not in p.name]
    images = [np.asarray(Image.open(p).convert("RGB")) for p in sources] or \
        [(np.random.default_rng(0).random((256, 256, 3)) * 255).astype(np.uint8)]
    rng = np.random.default_rng(0)
    for i in range(n):
        source = images[i % len(images)]
        y = int(rng.integers(0, source.shape[0] - side + 1))
        x = int(rng.integers(0, source.shape[1] - side + 1))
        Image.fromarray(np.ascontiguousarray(source[y:y + side, x:x + side])).save(folder / f"img{i:04d}.png")


def run_worker(worker_args: list[str]) -> dict:
    command = [sys.executable, str(SCRIPT), "--worker"] + worker_args
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=3600)
    line = next((out for out in reversed(done.stdout.splitlines()) if out.startswith("{")), None)
    if done.returncode != 0 or line is None:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-800:]}"}
    result = json.loads(line)
    result["children_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return result


def worker(argv: list[str]) -> int:
    """Runs in a fresh process: count a big image, or a folder, and print RSS figures as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("big", "folder"))
    parser.add_argument("path")
    parser.add_argument("--model", required=True)
    parser.add_argument("--precision", default="fp32")
    args = parser.parse_args(argv)
    from countxplain.cli import collect_images
    from countxplain.images import read_image
    from countxplain.inference import Counter
    from countxplain.modelfile import load_model

    out = {"rss_start_mb": rss_mb()}
    counter = Counter(load_model(args.model), device="cpu", precision=args.precision)
    out["rss_model_loaded_mb"] = rss_mb()
    start = time.perf_counter()
    if args.mode == "big":
        image = read_image(args.path)
        out["rss_image_read_mb"] = rss_mb()
        out["peak_rss_after_read_mb"] = peak_rss_mb()
        out["image_float_mb"] = image.pixels.nbytes / 2 ** 20
        result = counter.count(image.pixels)
        out.update(count=result.count, seconds=time.perf_counter() - start, tile_size=counter.tile_size,
                   tile_margin=counter.tile_margin)
    else:
        images, _ = collect_images([Path(args.path)])
        checkpoints = {1, 10, 100, 250, 500, 750, len(images)}
        rss = {}
        counts = []
        for i, path in enumerate(images, 1):
            pixels = read_image(path).pixels
            counts.append(counter.count(pixels).count)  # as the command line does: keep the count only
            if i in checkpoints:
                rss[str(i)] = round(rss_mb(), 1)
        out.update(images=len(images), rss_mb=rss, seconds=time.perf_counter() - start,
                   mean_count=float(np.mean(counts)))
    out["rss_end_mb"] = rss_mb()
    out["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out), flush=True)
    return 0
