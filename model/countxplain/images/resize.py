"""Float (H, W, 3) pixels resized by a factor with antialiasing, optionally to sides that are whole multiples of
the network's output stride."""

from __future__ import annotations

import numpy as np

from .refusals import MIN_SIDE


def stride_fitted_shape(height: int, width: int, factor: float, stride: int) -> tuple[int, int]:
    """The (height, width) nearest to ``factor`` times the given one whose sides are whole multiples
    of ``stride`` (at least one stride): each axis is scaled by ``factor`` within half a stride."""
    return (max(stride, int(round(height * factor / stride)) * stride),
            max(stride, int(round(width * factor / stride)) * stride))


def resize_pixels(pixels: np.ndarray, factor: float, fit_stride: int | None = None) -> np.ndarray:
    """Resize float (H, W, 3) pixels by ``factor`` with antialiasing; sides at least 8.

    With ``fit_stride``, each side becomes the nearest whole multiple of it instead
    (``stride_fitted_shape``), so the two axes may be scaled a little differently."""
    h, w = pixels.shape[:2]
    if fit_stride:
        new_h, new_w = stride_fitted_shape(h, w, factor, fit_stride)
    else:
        new_h, new_w = max(MIN_SIDE, round(h * factor)), max(MIN_SIDE, round(w * factor))
    if (new_h, new_w) == (h, w):
        return pixels
    import torch
    import torch.nn.functional as F

    tensor = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None]
    out = F.interpolate(tensor, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=factor < 1.0)
    return out[0].permute(1, 2, 0).clamp(0, 1).numpy()
