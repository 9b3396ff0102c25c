"""What a training run starts from, as one hash: its images with their dots, and its starting weights.

A checkpoint stores the hash of its run; another run (other images, dots or starting model) with the
same settings has another hash, so it never resumes that checkpoint.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np
from torch import nn

from .data import TrainingImage

PIXEL_SAMPLE_STRIDE = 16  # every 16th row and column: cheap, yet another image of the same size differs


def training_fingerprint(train: Sequence[TrainingImage], val: Sequence[TrainingImage], start: nn.Module) -> str:
    """A hex digest of the training and validation images (name, set, size, scale, dots and a sample of
    the pixels) and of every weight of ``start``, the network before training."""
    digest = hashlib.sha256()
    for split, images in (("train", train), ("validation", val)):
        digest.update(f"{split}:{len(images)}\0".encode())
        for image in images:
            digest.update(f"{image.name}\0{image.group}\0{image.pixels.shape}\0{image.scale!r}\0".encode())
            digest.update(np.ascontiguousarray(image.dots, dtype=np.float64).tobytes())
            sample = image.pixels[::PIXEL_SAMPLE_STRIDE, ::PIXEL_SAMPLE_STRIDE]
            digest.update(np.ascontiguousarray(sample, dtype=np.float32).tobytes())
    for key, tensor in sorted(start.state_dict().items()):
        digest.update(f"{key}:{tuple(tensor.shape)}:{tensor.dtype}\0".encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()
