"""Exact least-squares fits of a 1×1 density convolution on whole training views."""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from .data import View


def least_squares_1x1(inputs: Callable[[torch.Tensor], torch.Tensor], views: Sequence[View], layer: torch.nn.Conv2d,
                      device: torch.device, ridge: float = 1e-6) -> None:
    """Exact least-squares fit of a 1×1 convolution with one output (weights and bias) to the views'
    density targets, given each view's (1, C, h, w) input to it from its cached features."""
    channels = layer.in_channels
    gram = torch.zeros(channels + 1, channels + 1, dtype=torch.float64)
    rhs = torch.zeros(channels + 1, dtype=torch.float64)
    with torch.inference_mode():
        for view in views:
            values = inputs(view.features[None].float().to(device))[0].flatten(1).double().cpu()
            design = torch.cat([values, torch.ones(1, values.shape[1], dtype=torch.float64)], dim=0)
            gram += design @ design.T
            rhs += design @ view.target.flatten().double()
    gram += ridge * torch.trace(gram) / (channels + 1) * torch.eye(channels + 1, dtype=torch.float64)
    solution = torch.linalg.solve(gram, rhs)
    with torch.no_grad():
        layer.weight.copy_(solution[:channels].view(1, channels, 1, 1).to(layer.weight.dtype))
        layer.bias.copy_(solution[channels:].to(layer.bias.dtype))
