"""Tiny synthetic training images and a fast training config (imported by tests/test_training*.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from countxplain.training import TrainingConfig
from countxplain.training.data import TrainingImage


def blob_image(seed: int, size: int = 64) -> TrainingImage:
    rng = np.random.default_rng(seed)
    dots = rng.uniform(10, size - 10, size=(int(rng.integers(3, 8)), 2))
    yy, xx = np.mgrid[0:size, 0:size]
    image = np.zeros((size, size), dtype=np.float32)
    for x, y in dots:
        image += np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 8.0)
    pixels = np.repeat(np.clip(image, 0, 1)[:, :, None], 3, axis=2).astype(np.float32)
    return TrainingImage(f"blob{seed}.png", "synthetic", pixels, dots, 1.0, len(dots))


def tiny_config(**changes) -> TrainingConfig:
    base = dict(k_cell=2, k_bg=2, prototype_dim=8, stage1_epochs=2, stage2_epochs=4, projection_every=2,
                stage1_batch=2, stage2_batch=2, crop_cells=6, n_views=2, train_backend_layers=1, seed=3)
    base.update(changes)
    return TrainingConfig(**base)


@pytest.fixture(scope="module")
def images():
    torch.set_num_threads(1)
    return [blob_image(i) for i in range(4)], [blob_image(10 + i) for i in range(2)]
