"""Candidate execution paths for the extractor (fused, oneDNN blocked, jit, compile) and a per-layer profile."""

from __future__ import annotations

import copy
import time
from typing import Callable

import torch

from .machine import synchronize


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
            flops = (2 * module.out_channels * module.in_channels * kh * kw * h * w
                     if isinstance(module, nn.Conv2d) else 0)
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
