"""FLOPs of the network from its layer shapes, and the ``torch.mm`` FLOP/s yardstick."""

from __future__ import annotations

import torch

from .machine import timed

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
