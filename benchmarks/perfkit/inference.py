"""The inference section: reference against ``Counter`` per size, and every execution path at one size."""

from __future__ import annotations

import copy
import gc
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .config import REPEATS
from .fixtures import fresh_network, real_pixels
from .flops import flop_counter_check, matmul_rate, network_flops, tiled_flops
from .machine import timed
from .paths import compiled, fused_features, jit_frozen, layer_profile, mkldnn_blocked


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
        row["reference"] = describe(timed(lambda pixels=pixels: reference_forward(reference_net, pixels), repeats,
                                          warmup, device),
                                    flops["total"], peak, size * size)
        row["ours_fp32"] = describe(timed(lambda pixels=pixels: ours_fp32.count(pixels).count, repeats, warmup, device),
                                    flops["total"], peak, size * size)
        row["ours_bf16"] = describe(timed(lambda pixels=pixels: ours_bf16.count(pixels).count, repeats, warmup, device),
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
        variants += [("mkldnn", "fp32 oneDNN blocked layout (torch.utils.mkldnn.to_mkldnn, prepacked weights)", None,
                      peak),
                     ("jit_freeze", "torch.jit.trace + freeze + optimize_for_inference (MKLDNN layout)", None, peak),
                     ("threads_1", "Counter fp32 path with torch.set_num_threads(1)", None, peak)]
    if not args.no_compile:
        variants.append(("compile", "torch.compile (inductor, freezing=True), channels_last", None, peak))
    variants += [
        ("bf16_autocast", "bf16 autocast, channels_last (an earlier Counter bf16)", autocast_bf16, peak_bf16),
        ("bf16_weights",
         "bf16 copy of the whole extractor, eager, channels_last (Counter bf16 keeps the first conv in fp32)",
         bf16_weights, peak_bf16),
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
