"""A stored (H, W) or (H, W, C) array brought to the one layout the network and the display take, float32
(H, W, 3) in [0, 1]: the channel asked for picked out, alpha dropped, gray replicated to three channels, and
intensities normalised."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ImageReadError
from .intensity import normalise_intensity
from .refusals import refuse_dtype


def to_rgb_float(raw: np.ndarray, path: Path, channel: int | None = None) -> np.ndarray:
    """Convert a stored array to float32 (H, W, 3) in [0, 1] (see the package docstring)."""
    refuse_dtype(path, raw.dtype)
    array = raw
    if array.ndim == 3 and channel is not None:
        if not 0 <= channel < array.shape[2]:
            raise ImageReadError(path, f"channel {channel} does not exist; the image has {array.shape[2]}")
        array = array[:, :, channel]
    if array.ndim == 3:
        n_channels = array.shape[2]
        if n_channels == 1:
            array = array[:, :, 0]
        elif n_channels == 2:
            array = array[:, :, 0]  # gray + alpha
        elif n_channels in (3, 4):
            array = array[:, :, :3]
        else:
            raise ImageReadError(path, f"image has {n_channels} channels; choose one with channel=N "
                                       f"(--channel N on the command line)")
    elif array.ndim != 2:
        raise ImageReadError(path, f"unsupported array shape {raw.shape}")
    if array.dtype.kind == "f" and not np.isfinite(array).any():
        raise ImageReadError(path, "no pixel has a finite value (all are NaN or infinite)")
    scaled = normalise_intensity(array)
    if scaled.ndim == 2:
        scaled = np.repeat(scaled[:, :, None], 3, axis=2)
    return np.ascontiguousarray(scaled, dtype=np.float32)
