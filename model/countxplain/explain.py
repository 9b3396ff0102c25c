"""Per-image explanations: prototype similarity boxes, signed contributions, box counts.

All coordinates are in pixels of the *original* image (before any cell-size rescale).
A density or similarity cell (row i, column j) covers the square
``[j, j + 1) × [i, i + 1)`` times ``result.pixels_per_cell`` in original pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .inference import CountResult
from .modelfile import ModelBundle

DEFAULT_PERCENTILE = 99.0


@dataclass
class Contributions:
    """Each prototype's weight θ_i and its contribution c_i = θ_i · Σ S_i to one image's count.

    ``values.sum() + bias_term`` equals the predicted count (bias_term = b · number of cells).
    """

    weights: np.ndarray
    values: np.ndarray
    bias_term: float
    is_cell: np.ndarray

    @property
    def total(self) -> float:
        return float(self.values.sum(dtype=np.float64) + self.bias_term)


def contributions(bundle: ModelBundle, result: CountResult) -> Contributions:
    if result.similarity is None:
        raise ValueError("the count was made without similarity maps (count(..., with_similarity=True))")
    layer = bundle.network.head.density_layer
    weights = layer.weight.detach().cpu().double().numpy().reshape(-1)
    bias = float(layer.bias.detach().cpu().double().numpy()[0])
    sums = result.similarity.reshape(result.similarity.shape[0], -1).astype(np.float64).sum(axis=1)
    n_cells = result.similarity.shape[1] * result.similarity.shape[2]
    is_cell = np.arange(len(weights)) < bundle.config.k_cell
    return Contributions(weights, weights * sums, bias * n_cells, is_cell)


def upsample_to_image(grid: np.ndarray, result: CountResult) -> np.ndarray:
    """Bilinearly interpolate a (h, w) map onto the original (H, W) pixel grid."""
    from scipy import ndimage

    height, width = result.image_shape
    step = result.pixels_per_cell
    rows = (np.arange(height) + 0.5) / step - 0.5
    cols = (np.arange(width) + 0.5) / step - 0.5
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    return ndimage.map_coordinates(grid.astype(np.float32), [rr, cc], order=1, mode="nearest")


def similarity_on_image(result: CountResult, prototype: int) -> np.ndarray:
    if result.similarity is None:
        raise ValueError("the count was made without similarity maps")
    return upsample_to_image(result.similarity[prototype], result)


def similarity_boxes(result: CountResult, prototype: int, percentile: float = DEFAULT_PERCENTILE,
                     connectivity: int = 8, min_side: float | None = None) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1), end-exclusive, around the connected regions of the upsampled
    similarity map at or above its ``percentile`` (the paper's Appendix C).

    The map has one value per ``result.pixels_per_cell`` pixels, so a region narrower than
    that is a sliver of the interpolation, not a located structure: a box narrower or
    shorter than ``min_side`` (default: one map cell) grows to it around its centre,
    staying inside the image. ``min_side=0`` keeps the regions' own extents.
    """
    from scipy import ndimage

    upsampled = similarity_on_image(result, prototype)
    threshold = np.percentile(upsampled, percentile)
    mask = upsampled >= threshold
    structure = np.ones((3, 3), bool) if connectivity == 8 else ndimage.generate_binary_structure(2, 1)
    labels, n = ndimage.label(mask, structure=structure)
    side = float(result.pixels_per_cell) if min_side is None else float(min_side)
    height, width = upsampled.shape
    boxes = []
    for found in ndimage.find_objects(labels):
        if found is None:
            continue
        ys, xs = found
        x0, x1 = _at_least(int(xs.start), int(xs.stop), side, width)
        y0, y1 = _at_least(int(ys.start), int(ys.stop), side, height)
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


def count_in_rect(result: CountResult, x0: float, y0: float, x1: float, y1: float) -> float:
    """Sum of the density under a rectangle in original pixels, with each density cell
    weighted by the fraction of its area inside the rectangle. Cells of the padded border
    are clipped to the image, so the whole image's rectangle holds the whole count."""
    x0, x1 = sorted((float(x0), float(x1)))
    y0, y1 = sorted((float(y0), float(y1)))
    height, width = result.image_shape
    h, w = result.density.shape
    col_weights = _fractions(w, result.pixels_per_cell, width, x0, x1)
    row_weights = _fractions(h, result.pixels_per_cell, height, y0, y1)
    return float(row_weights @ result.density.astype(np.float64) @ col_weights)


def _fractions(n: int, step: float, size: int, lo: float, hi: float) -> np.ndarray:
    """Share of each of ``n`` cells of width ``step`` (clipped to ``size``) inside [lo, hi]."""
    starts = np.arange(n) * step
    stops = np.minimum((np.arange(n) + 1) * step, size)
    extent = np.maximum(stops - starts, 1e-12)
    inside = np.clip(np.minimum(stops, hi) - np.maximum(starts, lo), 0.0, None)
    weights = inside / extent
    weights[stops <= starts] = 0.0
    return weights


def cells_in_boxes(dots: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """For each box, whether at least one dot lies inside it."""
    dots = np.asarray(dots, dtype=float).reshape(-1, 2)
    inside = []
    for x0, y0, x1, y1 in boxes:
        hit = (dots[:, 0] >= x0 - 0.5) & (dots[:, 0] < x1 - 0.5) & (dots[:, 1] >= y0 - 0.5) & (dots[:, 1] < y1 - 0.5)
        inside.append(bool(hit.any()))
    return np.array(inside, dtype=bool)
