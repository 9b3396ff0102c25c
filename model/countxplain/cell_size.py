"""Estimating the typical cell diameter of an image, so it can be counted at the model's scale.

The estimator is a ridge regression from pooled features of the VGG-16 frontend (per
channel: mean, standard deviation and mean of log(1 + activation), computed on the image
shrunk to at most ``MAX_SIDE`` pixels) to the log of the cell spacing (the median
nearest-neighbour distance of annotated dots, the same measure the training scale uses).
It is fitted on training images shown at several random scales and stored in the model
file under ``preprocessing["size_model"]`` as plain lists of numbers, with the number of
frontend modules it reads (``frontend_modules``; older files read the whole frontend).
New estimators read the frontend through pool3 (``POOL3_MODULES``): those layers are never
fine-tuned, so the estimate stays valid whatever stage 1 trains, and they predicted the
spacing better than conv4_3 on every set.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .images import resize_pixels

MAX_SIDE = 384
POOL3_MODULES = 17  # VGG-16 frontend modules through pool3 (conv1_1 .. conv3_3, three max-pools)
MIN_DIAMETER_PX, MAX_DIAMETER_PX = 3.0, 300.0
MAX_WINDOWS = 16  # windows read from an image larger than MAX_SIDE: the estimate's cost is bounded


def frontend_modules_read(size_model: dict | None, n_frontend_modules: int) -> int:
    """How many leading frontend modules a size model reads (older files: all of them)."""
    return int((size_model or {}).get("frontend_modules", n_frontend_modules))


def size_frontend(frontend: torch.nn.Module, size_model: dict | None = None,
                  modules: int | None = None) -> torch.nn.Module:
    """The leading frontend modules an estimator reads: ``modules``, else the size model's own count."""
    count = modules if modules is not None else frontend_modules_read(size_model, len(frontend))
    return frontend if count >= len(frontend) else torch.nn.Sequential(*list(frontend)[:count])


def size_features(frontend: torch.nn.Module, pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """Pooled frontend features of the image shrunk to ``MAX_SIDE``; and the shrink factor."""
    factor = min(1.0, MAX_SIDE / max(pixels.shape[:2]))
    shrunk = resize_pixels(pixels, factor) if factor < 1.0 else pixels
    return _pooled(_moments(frontend, shrunk)), factor


def window_features(frontend: torch.nn.Module, pixels: np.ndarray, side: int = MAX_SIDE,
                    max_windows: int = MAX_WINDOWS) -> np.ndarray:
    """Pooled frontend features of the image at its own resolution, from windows of at most ``side``
    pixels: a grid covering the image, or ``max_windows`` of them spread evenly over a larger one.

    The windows' moments are pooled as if they were one image, so an image no larger than ``side``
    gets exactly ``size_features``, and a larger one the features of the whole image at its own
    scale: the same cells give the same features however many of them are in the frame."""
    moments = [_moments(frontend, pixels[y:y + side, x:x + side])
               for y, x in window_corners(pixels.shape[:2], side, max_windows)]
    return _pooled(tuple(np.sum([m[i] for m in moments], axis=0) for i in range(4)))


def window_corners(shape: tuple[int, int], side: int, max_windows: int) -> list[tuple[int, int]]:
    """Top-left corners of the windows ``window_features`` reads: every cell of a grid of ``side``
    windows, or an even spread of ``max_windows`` of them (whole windows, off the borders first)."""
    rows, cols = (-(-n // side) for n in shape)
    cells = [(r, c) for r in range(rows) for c in range(cols)]
    if len(cells) > max_windows:
        cells = [cells[int(i)] for i in np.linspace(0, len(cells) - 1, max_windows).round()]
    return [(min(r * side, max(0, shape[0] - side)), min(c * side, max(0, shape[1] - side))) for r, c in cells]


def _moments(frontend: torch.nn.Module, pixels: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per channel: number of positions, sum, sum of squares and sum of log(1 + activation)."""
    from .network import padded_batch

    device = next(frontend.parameters()).device
    with torch.inference_mode():
        activations = frontend(padded_batch(pixels).to(device))[0].flatten(1).double().cpu()
    n = np.full(activations.shape[0], float(activations.shape[1]))
    return (n, activations.sum(1).numpy(), (activations ** 2).sum(1).numpy(), torch.log1p(activations).sum(1).numpy())


def _pooled(moments: tuple[np.ndarray, ...]) -> np.ndarray:
    """Mean, standard deviation (n - 1, as torch's) and mean log(1 + activation) from summed moments."""
    n, total, squares, logs = moments
    mean = total / n
    variance = np.maximum(squares - n * mean ** 2, 0.0) / np.maximum(n - 1, 1)
    return np.concatenate([mean, np.sqrt(variance), logs / n]).astype(np.float64)


def fit_size_model(features: np.ndarray, log_spacing: np.ndarray, ridge: float = 10.0,
                   frontend_modules: int | None = None) -> dict:
    """Ridge regression on standardised features; returns a plain dict for the model file.

    ``frontend_modules``: how many frontend modules produced ``features`` (None: all of them)."""
    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    design = (features - mean) / scale
    offset = float(log_spacing.mean())
    weights = np.linalg.solve(design.T @ design + ridge * np.eye(design.shape[1]), design.T @ (log_spacing - offset))
    model = {"kind": "ridge-on-frontend-pooling", "max_side": MAX_SIDE, "mean": mean.tolist(),
             "scale": scale.tolist(), "weights": weights.tolist(), "bias": offset}
    if frontend_modules is not None:
        model["frontend_modules"] = int(frontend_modules)
    return model


def predict_log_spacing(size_model: dict, features: np.ndarray) -> float:
    design = (features - np.asarray(size_model["mean"])) / np.asarray(size_model["scale"])
    return float(design @ np.asarray(size_model["weights"]) + size_model["bias"])


def estimate_cell_diameter(frontend: torch.nn.Module, size_model: dict, pixels: np.ndarray) -> float:
    """The estimated typical cell diameter (dot spacing) of the image, in its own pixels."""
    features = window_features(size_frontend(frontend, size_model), pixels)
    diameter = float(np.exp(predict_log_spacing(size_model, features)))
    return float(np.clip(diameter, MIN_DIAMETER_PX, MAX_DIAMETER_PX))


def training_examples(frontend: torch.nn.Module, images: Sequence[tuple[np.ndarray, float]], views_per_image: int = 2,
                      seed: int = 0, scale_range: tuple[float, float] = (0.35, 2.0)) -> tuple[np.ndarray, np.ndarray]:
    """Features and log spacings of (pixels, spacing) pairs shown at random scales."""
    rng = np.random.default_rng(seed)
    features, targets = [], []
    for pixels, spacing in images:
        if not np.isfinite(spacing):
            continue
        for _ in range(views_per_image):
            factor = float(np.exp(rng.uniform(*np.log(scale_range))))
            factor = min(factor, MAX_SIDE / max(pixels.shape[:2]))
            feats, shrink = size_features(frontend, resize_pixels(pixels, factor))
            features.append(feats)
            targets.append(np.log(spacing * factor * shrink))
    return np.array(features), np.array(targets)
