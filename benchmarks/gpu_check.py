"""The prepared accelerator check: is counting and training on a GPU right, and how fast is it.

Run by ``benchmarks/gpu_check.sh`` on a machine with a GPU (and with ``--device cpu`` anywhere, so the
script itself is known to run). Steps, each recorded whether it passes or fails:

1. ``devices``: what ``countxplain.device.usable_devices`` offers (the list the app's device picker
   shows) and whether the checked device is among them.
2. ``agreement``: the bundled samples counted with the shipped model on the device in fp32, bf16 and
   fp16 against the CPU in fp32: every count within 0.5 % (on the CPU itself, fp32; bf16 and fp16 are recorded).
3. ``speed``: counting a synthetic image at 256², 1024² and 4096² (median of runs after a warm-up).
4. ``fine_tune``: a short ``fine-tune`` run (``countxplain.training.train_model``) on the bundled
   annotated samples, timed, and the model it makes counts finite, non-negative numbers.

Writes ``benchmarks/results/gpu_check.json`` (replaced per device); ``benchmarks/perf.py
--report-only`` puts it into PERF.md. Exit status 1 when a check fails.

Usage: python benchmarks/gpu_check.py [--device cuda|cpu] [--sizes 256 1024 4096] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from countxplain.datasets import load_dataset
from countxplain.device import usable_devices
from countxplain.images import read_image
from countxplain.inference import Counter
from countxplain.modelfile import load_model
from countxplain.resources import default_model_path, sample_images, sample_images_dir
from countxplain.training import train_model

OUT = Path(__file__).resolve().parent / "results" / "gpu_check.json"
TOLERANCE = 0.005


def check_devices(device: str) -> dict:
    offered = usable_devices()
    return {"offered": offered, "passed": device == "cpu" or offered.get(device) is None}


def check_agreement(bundle, device: str, images: list[np.ndarray]) -> dict:
    reference = [Counter(bundle, device="cpu", precision="fp32").count(pixels).count for pixels in images]
    rows = {}
    for precision in ("fp32", "bf16", "fp16"):
        try:
            counter = Counter(bundle, device=device, precision=precision)
            counts = [counter.count(pixels).count for pixels in images]
        except Exception as error:  # noqa: BLE001 - a precision the device refuses is a finding, not a crash
            rows[precision] = {"error": f"{type(error).__name__}: {error}"}
            continue
        worst = max(abs(c - r) / max(abs(r), 1.0) for c, r in zip(counts, reference))
        rows[precision] = {"counts": [round(c, 3) for c in counts], "worst_relative_difference": worst,
                           "passed": worst <= TOLERANCE}
    # on an accelerator every precision must agree; on the CPU itself bf16 and fp16 are recorded only
    # (the app's automatic precision keeps fp32 where the CPU has no bfloat16 units)
    required = ("fp32",) if device == "cpu" else tuple(rows)
    return {"reference_cpu_fp32": [round(r, 3) for r in reference], "by_precision": rows,
            "passed": all(rows[name].get("passed", False) for name in required)}


def time_counting(bundle, device: str, sizes: list[int], runs: int = 3) -> dict:
    rng = np.random.default_rng(0)
    rows = {}
    for size in sizes:
        pixels = rng.random((size, size, 3), dtype=np.float32)
        counter = Counter(bundle, device=device, precision="fp32")
        counter.count(pixels)  # warm-up: kernels chosen, memory allocated
        seconds = []
        for _ in range(runs):
            start = time.perf_counter()
            counter.count(pixels)
            if device == "cuda":
                torch.cuda.synchronize()
            seconds.append(time.perf_counter() - start)
        rows[str(size)] = {"median_s": statistics.median(seconds), "runs": runs}
        print(f"  {size}²: {rows[str(size)]['median_s']:.3f} s", flush=True)
    return rows


def check_fine_tune(bundle, device: str) -> dict:
    samples = load_dataset(sample_images_dir()).samples
    if len(samples) < 2:
        return {"passed": False, "error": f"only {len(samples)} annotated samples in {sample_images_dir()}"}
    start = time.perf_counter()
    run = train_model(samples, "fine-tune", {"steps": 40, "validations": 1, "stage1_epochs": 1, "stage2_epochs": 2},
                      init=bundle, device=device, gallery_k=0)
    seconds = time.perf_counter() - start
    counts = [Counter(run.bundle, device=device).count(read_image(s.image_path).pixels).count for s in samples]
    return {"seconds": round(seconds, 1), "images": len(samples), "counts": [round(c, 2) for c in counts],
            "passed": all(np.isfinite(c) and c >= 0 for c in counts)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu", "mps"))
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 1024, 4096])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    bundle = load_model(default_model_path())
    images = [read_image(path).pixels for path in sample_images()]
    result = {"device": args.device, "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
              "gpu": torch.cuda.get_device_name(0) if args.device == "cuda" and torch.cuda.is_available() else None,
              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    steps = {"devices": lambda: check_devices(args.device),
             "agreement": lambda: check_agreement(bundle, args.device, images),
             "speed": lambda: {"sizes": time_counting(bundle, args.device, args.sizes), "passed": True},
             "fine_tune": lambda: check_fine_tune(bundle, args.device)}
    for name, step in steps.items():
        print(name, flush=True)
        try:
            result[name] = step()
        except Exception as error:  # noqa: BLE001 - every step is reported, the next ones still run
            result[name] = {"passed": False, "error": f"{type(error).__name__}: {error}"}
        print(f"  {'passed' if result[name].get('passed') else 'FAILED'}", flush=True)
    every = json.loads(args.out.read_text()) if args.out.exists() else {}
    every[args.device] = result
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(every, indent=1, default=float))
    os.replace(tmp, args.out)
    failed = [name for name in steps if not result[name].get("passed")]
    print(f"wrote {args.out}; " + (f"FAILED: {', '.join(failed)}" if failed else "every check passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
