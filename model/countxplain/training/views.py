"""The views of one training run: made once, the frozen part of the extractor run over them
once, then carried through the trained tail to the features stage 2 trains on, with density
targets at the head's sigma."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .config import TrainingConfig
from .data import TrainingImage, View, cache_features, make_views, sampling_weights


@dataclass
class RunViews:
    """Training and validation views with cached features, and each view's share in sampling and validation."""

    train: list[View]
    val: list[View]
    train_weights: np.ndarray
    val_weights: np.ndarray


def frozen_views(config: TrainingConfig, train_images: Sequence[TrainingImage], val_images: Sequence[TrainingImage],
                 frozen: nn.Module, device: torch.device, progress: Callable[[int, int], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> RunViews:
    """Every training image's views (one per validation image) at ``config.sigma_px``, with ``frozen``'s output."""
    c = config
    train = make_views(train_images, c.n_views, c.sigma_px, c.seed, c.scale_jitter, c.min_group_views,
                       c.fit_to_stride)
    val = make_views(val_images, 1, c.sigma_px, c.seed, fit_to_stride=c.fit_to_stride)
    train_weights = sampling_weights([train_images[view.image_index].group for view, _ in train],
                                     power=c.group_share_power)
    val_weights = sampling_weights([val_images[view.image_index].group for view, _ in val],
                                   Counter(image.group for image in train_images), c.group_share_power)
    frozen.eval()
    return RunViews(cache_features(frozen, train, device, progress=progress, cancel=cancel),
                    cache_features(frozen, val, device, cancel=cancel), train_weights, val_weights)


def to_head_features(views: RunViews, tail: nn.Module, device: torch.device, config: TrainingConfig) -> None:
    """Replace each view's features by ``tail``'s output on them, and its target by one at the head's sigma."""
    tail.eval()
    with torch.inference_mode():
        for view in (*views.train, *views.val):
            view.features = tail(view.features[None].float().to(device))[0].cpu()
