"""Per-image explanations: prototype similarity boxes, signed contributions, box counts.

All coordinates are in pixels of the *original* image (before any cell-size rescale).
A density or similarity cell (row i, column j) covers ``[j·w, (j + 1)·w) × [i·h, (i + 1)·h)``
in original pixels, with (h, w) = ``result.cell_px``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .boxes import DEFAULT_PERCENTILE, cells_in_boxes, map_boxes, upsample_grid
from .inference import CountResult
from .modelfile import ModelBundle


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
    bias = 0.0 if layer.bias is None else float(layer.bias.detach().cpu().double().numpy()[0])
    sums = result.similarity.reshape(result.similarity.shape[0], -1).astype(np.float64).sum(axis=1)
    n_cells = result.similarity.shape[1] * result.similarity.shape[2]
    is_cell = np.arange(len(weights)) < bundle.config.k_cell
    return Contributions(weights, weights * sums, bias * n_cells, is_cell)


def upsample_to_image(grid: np.ndarray, result: CountResult) -> np.ndarray:
    """Bilinearly interpolate a (h, w) map onto the original (H, W) pixel grid."""
    return upsample_grid(grid, result.image_shape, result.cell_px)


def similarity_on_image(result: CountResult, prototype: int) -> np.ndarray:
    if result.similarity is None:
        raise ValueError("the count was made without similarity maps")
    return upsample_to_image(result.similarity[prototype], result)


def similarity_boxes(result: CountResult, prototype: int, percentile: float = DEFAULT_PERCENTILE,
                     connectivity: int = 8, min_side: float | tuple[float, float] | None = None
                     ) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1), end-exclusive, around the connected regions of the upsampled
    similarity map at or above its ``percentile`` (the paper's Appendix C); see ``grid_boxes``."""
    if result.similarity is None:
        raise ValueError("the count was made without similarity maps")
    return grid_boxes(result, result.similarity[prototype], percentile, connectivity, min_side)


def grid_boxes(result: CountResult, grid: np.ndarray, percentile: float = DEFAULT_PERCENTILE,
               connectivity: int = 8, min_side: float | tuple[float, float] | None = None
               ) -> list[tuple[int, int, int, int]]:
    """Boxes around the connected regions of any (h, w) map of ``result``'s cells (a similarity map,
    the density), upsampled onto the image, at or above its ``percentile``.

    The map has one value per ``result.cell_px`` pixels, so a region narrower than that
    is a sliver of the interpolation, not a located structure: a box narrower or shorter
    than ``min_side`` (default: one map cell) grows to it around its centre, staying
    inside the image. ``min_side=0`` keeps the regions' own extents.
    """
    side = result.cell_px if min_side is None else min_side
    return map_boxes(upsample_to_image(grid, result), percentile, connectivity, side)


def count_in_rect(result: CountResult, x0: float, y0: float, x1: float, y1: float) -> float:
    """Sum of the density under a rectangle in original pixels, with each density cell
    weighted by the fraction of its area inside the rectangle. Cells of the padded border
    are clipped to the image, so the whole image's rectangle holds the whole count."""
    x0, x1 = sorted((float(x0), float(x1)))
    y0, y1 = sorted((float(y0), float(y1)))
    height, width = result.image_shape
    h, w = result.density.shape
    cell_h, cell_w = result.cell_px
    col_weights = _fractions(w, cell_w, width, x0, x1)
    row_weights = _fractions(h, cell_h, height, y0, y1)
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


__all__ = ["DEFAULT_PERCENTILE", "Contributions", "cells_in_boxes", "contributions", "count_in_rect", "grid_boxes",
           "similarity_boxes", "similarity_on_image", "upsample_to_image"]
