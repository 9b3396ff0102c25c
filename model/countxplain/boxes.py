"""Boxes around the strongest regions of a map: upsampling onto the image, percentile threshold,
connected components, and which boxes hold annotated dots."""

from __future__ import annotations

import numpy as np

DEFAULT_PERCENTILE = 99.0


def cell_sides(cell_px: float | tuple[float, float]) -> tuple[float, float]:
    """(height, width) of a map cell given as one side or as both."""
    if np.ndim(cell_px) == 0:
        return float(cell_px), float(cell_px)
    height, width = cell_px
    return float(height), float(width)


def upsample_grid(grid: np.ndarray, image_shape: tuple[int, int], cell_px: float | tuple[float, float]) -> np.ndarray:
    """Bilinearly interpolate a (h, w) map of cells ``cell_px`` pixels wide (or (high, wide)) onto an image grid."""
    from scipy import ndimage

    height, width = image_shape
    cell_h, cell_w = cell_sides(cell_px)
    rows = (np.arange(height) + 0.5) / cell_h - 0.5
    cols = (np.arange(width) + 0.5) / cell_w - 0.5
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    return ndimage.map_coordinates(grid.astype(np.float32), [rr, cc], order=1, mode="nearest")


def map_boxes(upsampled: np.ndarray, percentile: float = DEFAULT_PERCENTILE, connectivity: int = 8,
              min_side: float | tuple[float, float] = 0.0) -> list[tuple[int, int, int, int]]:
    """Boxes around the connected regions of an image-sized map at or above its ``percentile``,
    each at least ``min_side`` pixels wide and high, or (high, wide) (see ``explain.similarity_boxes``)."""
    return mask_boxes(upsampled >= np.percentile(upsampled, percentile), connectivity, min_side)


def mask_boxes(mask: np.ndarray, connectivity: int = 8,
               min_side: float | tuple[float, float] = 0.0) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1), end-exclusive, around the connected regions of a boolean mask,
    each widened about its centre to at least ``min_side`` pixels, or (high, wide) (staying inside the mask)."""
    from scipy import ndimage

    structure = np.ones((3, 3), bool) if connectivity == 8 else ndimage.generate_binary_structure(2, 1)
    labels, _ = ndimage.label(mask, structure=structure)
    height, width = mask.shape
    min_h, min_w = cell_sides(min_side)
    boxes = []
    for found in ndimage.find_objects(labels):
        if found is None:
            continue
        ys, xs = found
        x0, x1 = _at_least(int(xs.start), int(xs.stop), min_w, width)
        y0, y1 = _at_least(int(ys.start), int(ys.stop), min_h, height)
        boxes.append((x0, y0, x1, y1))
    return boxes


def _at_least(start: int, stop: int, side: float, size: int) -> tuple[int, int]:
    """Widen [start, stop) about its centre to at least ``side`` pixels (whole pixels, inside [0, size))."""
    need = min(int(np.ceil(side)), size)
    if stop - start >= need:
        return start, stop
    start = int(np.floor((start + stop - need) / 2))
    start = min(max(start, 0), size - need)
    return start, start + need



def cells_in_boxes(dots: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """For each box, whether at least one dot lies inside it."""
    dots = np.asarray(dots, dtype=float).reshape(-1, 2)
    inside = []
    for x0, y0, x1, y1 in boxes:
        hit = (dots[:, 0] >= x0 - 0.5) & (dots[:, 0] < x1 - 0.5) & (dots[:, 1] >= y0 - 0.5) & (dots[:, 1] < y1 - 0.5)
        inside.append(bool(hit.any()))
    return np.array(inside, dtype=bool)


def pure_boxes(holds_dot: np.ndarray, is_cell: bool) -> int:
    """How many boxes are pure: a cell-prototype box holding a dot, a background-prototype box none
    (``holds_dot`` from ``cells_in_boxes``)."""
    holds_dot = np.asarray(holds_dot, dtype=bool)
    return int(holds_dot.sum() if is_cell else (~holds_dot).sum())
