"""Tiny synthetic training images and a fast training config (tests/training/; the ``images`` fixture is in
tests/training/conftest.py)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from countxplain.annotations import write_dots_csv
from countxplain.datasets import Sample
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


def annotated_images(folder, n=4, size=64, seed=0, prefix="cells") -> list[Sample]:
    """``n`` blob images of ``size`` px written as PNGs (``prefix``0.png, ...) beside their dots CSVs, as samples."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n):
        dots = rng.uniform(10, size - 10, size=(int(rng.integers(3, 7)), 2))
        yy, xx = np.mgrid[0:size, 0:size]
        image = sum(np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 8.0) for x, y in dots)
        path = folder / f"{prefix}{i}.png"
        Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).save(path)
        write_dots_csv(folder / f"{prefix}{i}.dots.csv", dots)
        samples.append(Sample(path, folder / f"{prefix}{i}.dots.csv"))
    return samples
