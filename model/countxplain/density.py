"""Count-exact density ground truth.

Each dot becomes a Gaussian that is normalised over the pixels *inside the image*, so
every dot contributes exactly 1 even when it sits at a border. The network predicts at
1/8 of the input resolution; the target is the full-resolution map summed over 8×8
blocks (the image is zero-padded to a multiple of 8), which keeps the total equal to the
number of dots. A Gaussian is separable, so the pooled map of one dot is the outer
product of its pooled 1-D profiles: that is how it is computed, in O(N·(H+W)).
"""

from __future__ import annotations

import math

import numpy as np

OUTPUT_STRIDE = 8


def padded_size(n: int, stride: int = OUTPUT_STRIDE) -> int:
    return int(math.ceil(n / stride) * stride)


def _profiles(coords: np.ndarray, length: int, sigma: float) -> np.ndarray:
    """Row i: the Gaussian of dot i along one axis over pixels 0..length-1, summing to 1."""
    grid = np.arange(length, dtype=np.float64)
    profiles = np.exp(-0.5 * ((grid[None, :] - coords[:, None]) / sigma) ** 2)
    totals = profiles.sum(axis=1, keepdims=True)
    nearest = np.clip(np.rint(coords).astype(int), 0, length - 1)
    empty = totals[:, 0] <= 0
    if empty.any():  # a dot far outside the image: put it on the nearest pixel
        profiles[empty] = 0.0
        profiles[empty, nearest[empty]] = 1.0
        totals[empty] = 1.0
    return profiles / totals


def density_map(dots: np.ndarray, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Full-resolution density (H, W), float32, summing to ``len(dots)``."""
    h, w = shape
    dots = np.asarray(dots, dtype=np.float64).reshape(-1, 2)
    if len(dots) == 0:
        return np.zeros((h, w), dtype=np.float32)
    gx = _profiles(dots[:, 0], w, sigma)
    gy = _profiles(dots[:, 1], h, sigma)
    return (gy.T @ gx).astype(np.float32)


def pooled_density_map(dots: np.ndarray, shape: tuple[int, int], sigma: float,
                       stride: int = OUTPUT_STRIDE) -> np.ndarray:
    """Density summed over ``stride``×``stride`` blocks: (ceil(H/s), ceil(W/s)), sums to the count."""
    h, w = shape
    hp, wp = padded_size(h, stride), padded_size(w, stride)
    dots = np.asarray(dots, dtype=np.float64).reshape(-1, 2)
    if len(dots) == 0:
        return np.zeros((hp // stride, wp // stride), dtype=np.float32)
    gx = np.zeros((len(dots), wp))
    gy = np.zeros((len(dots), hp))
    gx[:, :w] = _profiles(dots[:, 0], w, sigma)
    gy[:, :h] = _profiles(dots[:, 1], h, sigma)
    gx = gx.reshape(len(dots), wp // stride, stride).sum(axis=2)
    gy = gy.reshape(len(dots), hp // stride, stride).sum(axis=2)
    return (gy.T @ gx).astype(np.float32)


def sum_pool(density: np.ndarray, stride: int = OUTPUT_STRIDE) -> np.ndarray:
    """Sum a full-resolution map over blocks, zero-padding to a multiple of ``stride``."""
    h, w = density.shape
    padded = np.zeros((padded_size(h, stride), padded_size(w, stride)), dtype=np.float64)
    padded[:h, :w] = density
    hp, wp = padded.shape
    return padded.reshape(hp // stride, stride, wp // stride, stride).sum(axis=(1, 3)).astype(np.float32)


def scale_dots(dots: np.ndarray, factor_x: float, factor_y: float | None = None) -> np.ndarray:
    """Dot coordinates after resizing the image by the given factors (pixel-centre convention)."""
    factor_y = factor_x if factor_y is None else factor_y
    dots = np.asarray(dots, dtype=np.float64).reshape(-1, 2)
    scaled = np.empty_like(dots)
    scaled[:, 0] = (dots[:, 0] + 0.5) * factor_x - 0.5
    scaled[:, 1] = (dots[:, 1] + 0.5) * factor_y - 0.5
    return scaled


def typical_cell_spacing(dots: np.ndarray) -> float:
    """Median distance from each dot to its nearest neighbour, in pixels (NaN below 2 dots).

    In the densely packed sets this approximates the cell diameter; it is the measure the
    training recipe uses to bring data sets to one common cell size.
    """
    from scipy.spatial import cKDTree

    dots = np.asarray(dots, dtype=np.float64).reshape(-1, 2)
    if len(dots) < 2:
        return float("nan")
    distances, _ = cKDTree(dots).query(dots, k=2)
    return float(np.median(distances[:, 1]))
