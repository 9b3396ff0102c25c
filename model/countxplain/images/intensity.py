"""Stored intensities mapped to float32 in [0, 1] by the rules of the package docstring: 8-bit divided by 255,
other data stretched between robust percentiles unless it already lies in [0, 1], non-finite pixels filled from
their neighbours or the channel's median; and the ImageNet statistics the network standardises by afterwards."""

from __future__ import annotations

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STRETCH_PERCENTILES = (0.1, 99.9)
FILL_ROUNDS = 2


def normalise_intensity(array: np.ndarray) -> np.ndarray:
    """Map stored intensities to float32 in [0, 1] (rules in the package docstring)."""
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype == bool:
        return array.astype(np.float32)
    work = np.float64 if array.dtype.itemsize > 4 else np.float32  # float64 beyond float32's range stays finite
    values = array.astype(work)
    finite = np.isfinite(values)
    all_finite = bool(finite.all())
    known = values if all_finite else values[finite]
    if known.size == 0:
        return np.zeros(values.shape, dtype=np.float32)
    if np.issubdtype(array.dtype, np.floating) and known.min() >= 0.0 and known.max() <= 1.0:
        lo, hi = 0.0, 1.0
    else:
        flat = known.reshape(-1)
        sample = flat[:: max(1, flat.size // 1_000_000)]
        lo, hi = np.percentile(sample, STRETCH_PERCENTILES)
        if hi <= lo:
            lo, hi = known.min(), known.max()
    if not all_finite:
        values = _filled_non_finite(values, finite)
    if hi <= lo:
        return np.zeros(values.shape, dtype=np.float32)
    if (lo, hi) == (0.0, 1.0):
        return values.astype(np.float32)
    return np.clip((values - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def _filled_non_finite(values: np.ndarray, finite: np.ndarray) -> np.ndarray:
    """Non-finite values replaced channel by channel: by the mean of the finite values around them
    (``FILL_ROUNDS`` rounds of 3×3 neighbourhoods, each reaching one pixel further into a hole),
    and where none is that close, by the median of the channel's finite values."""
    values = values.copy()
    planes = [(values, finite)] if values.ndim == 2 else [(values[:, :, c], finite[:, :, c])
                                                          for c in range(values.shape[2])]
    fallback = np.median(values[finite])
    for plane, ok in planes:
        median = np.median(plane[ok]) if ok.any() else fallback
        ok = ok.copy()
        plane[~ok] = 0
        for _ in range(FILL_ROUNDS):
            missing = ~ok
            if not missing.any():
                break
            total, count = _box3_sum(np.where(ok, plane, 0)), _box3_sum(ok.astype(plane.dtype))
            reached = missing & (count > 0)
            plane[reached] = total[reached] / count[reached]
            ok |= reached
        if not ok.all():
            plane[~ok] = median
    return values


def _box3_sum(plane: np.ndarray) -> np.ndarray:
    """The sum over each pixel's 3×3 neighbourhood (zeros beyond the edge)."""
    padded = np.pad(plane, 1)
    total = np.zeros_like(plane)
    for dy in range(3):
        for dx in range(3):
            total += padded[dy:dy + plane.shape[0], dx:dx + plane.shape[1]]
    return total
