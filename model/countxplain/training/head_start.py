"""A data-dependent start for a fresh prototype head's feature processing."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .data import View


def standardise_feature_processing(head: nn.Module, views: Sequence[View], device: torch.device,
                                   max_locations: int = 200_000) -> None:
    """Rescale the head's 1×1 feature processing so each of its output channels has zero mean
    and unit standard deviation over the views' feature locations (before the sigmoid)."""
    layer = head.feature_processing
    features = torch.cat([view.features.flatten(1).float() for view in views], dim=1)
    if features.shape[1] > max_locations:
        features = features[:, torch.linspace(0, features.shape[1] - 1, max_locations).long()]
    with torch.no_grad():
        weight = layer.weight.view(layer.out_channels, -1).to(features.device)
        z = weight @ features + layer.bias.to(features.device)[:, None]
        mean, std = z.mean(dim=1), z.std(dim=1).clamp_min(1e-8)
        layer.weight.copy_((weight / std[:, None]).view_as(layer.weight).to(device))
        layer.bias.copy_(((layer.bias.to(features.device) - mean) / std).to(device))
