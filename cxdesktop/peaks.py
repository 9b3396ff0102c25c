"""Dots proposed from a density map (Qt-free): where the model thinks the cells are.

``propose_dots`` places round(count) dots: first at the strongest local maxima of the
density upsampled (bilinearly) to the image, at least half a cell diameter apart, that
hold a fair share of a cell (``MIN_PEAK_MASS``) around them; then,
where cells touch and their bumps merged into fewer maxima than the density holds, one
more dot at a time in the density cell with the largest remaining mass (its mass minus
the dots already in it), at that cell's strongest free pixel. The user corrects the rest.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

MIN_PEAK_MASS = 0.3  # a maximum is a cell only if the window around it holds this much density


def density_on_image(density: np.ndarray, pixels_per_cell: float, image_shape: tuple[int, int]) -> np.ndarray:
    """The (h, w) density map interpolated bilinearly to the (H, W) image (values: cells per density cell).

    Density cell (i, j) covers image pixels [j·p, (j+1)·p) × [i·p, (i+1)·p) with p = ``pixels_per_cell``.
    """
    height, width = image_shape[:2]
    h, w = density.shape
    full_h, full_w = max(height, round(h * pixels_per_cell)), max(width, round(w * pixels_per_cell))
    upsampled = ndimage.zoom(density.astype(np.float32), (full_h / h, full_w / w), order=1, mode="nearest",
                             grid_mode=True)
    return upsampled[:height, :width]


def propose_dots(density: np.ndarray, pixels_per_cell: float, image_shape: tuple[int, int],
                 count: float | None = None, cell_diameter_px: float = 10.0) -> np.ndarray:
    """(N, 2) float64 dots (x, y) in image pixels, N = round(``count``) (default: the density's sum)."""
    wanted = int(round(float(density.sum() if count is None else count)))
    if wanted <= 0 or density.size == 0:
        return np.zeros((0, 2), dtype=np.float64)
    upsampled = density_on_image(density, pixels_per_cell, image_shape)
    diameter = max(2.0, float(cell_diameter_px))
    spacing = 0.5 * diameter
    blocked = np.zeros(upsampled.shape, dtype=bool)
    chosen: list[tuple[int, int]] = []
    for x, y in _peaks(upsampled, pixels_per_cell, diameter):  # strongest first
        if len(chosen) == wanted:
            break
        if not blocked[y, x]:
            chosen.append((x, y))
            _block(blocked, x, y, spacing)
    if len(chosen) < wanted:
        chosen += _fill_by_mass(density, pixels_per_cell, upsampled, blocked, chosen, wanted - len(chosen), spacing)
    return np.array(chosen, dtype=np.float64).reshape(-1, 2)


def _peaks(upsampled: np.ndarray, pixels_per_cell: float, diameter: float) -> list[tuple[int, int]]:
    """Local maxima (a flat top counts once, at its centre) holding at least ``MIN_PEAK_MASS`` cells
    within a cell diameter (or two density cells, where those are wider), strongest first."""
    size = max(3, int(round(0.5 * diameter)) | 1)
    window = max(3, int(round(max(diameter, 2 * pixels_per_cell))))
    mass = ndimage.uniform_filter(upsampled / float(pixels_per_cell) ** 2, size=window, mode="constant") * window ** 2
    tops = (upsampled == ndimage.maximum_filter(upsampled, size=size, mode="nearest")) & (mass >= MIN_PEAK_MASS)
    labels, n = ndimage.label(tops, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return []
    index = np.arange(1, n + 1)
    centres = ndimage.center_of_mass(tops, labels, index)
    heights = ndimage.maximum(upsampled, labels, index)
    order = np.argsort(-np.asarray(heights), kind="stable")
    return [(int(round(centres[i][1])), int(round(centres[i][0]))) for i in order]


def _block(blocked: np.ndarray, x: int, y: int, radius: float) -> None:
    r = int(np.ceil(radius))
    y0, y1 = max(0, y - r), min(blocked.shape[0], y + r + 1)
    x0, x1 = max(0, x - r), min(blocked.shape[1], x + r + 1)
    yy, xx = np.ogrid[y0:y1, x0:x1]
    blocked[y0:y1, x0:x1] |= (yy - y) ** 2 + (xx - x) ** 2 < radius ** 2


def _fill_by_mass(density, pixels_per_cell, upsampled, blocked, chosen, missing, spacing) -> list[tuple[int, int]]:
    """``missing`` more dots, each in the density cell with the most mass not yet covered by a dot."""
    height, width = upsampled.shape
    p = float(pixels_per_cell)
    h, w = min(density.shape[0], int(np.ceil(height / p))), min(density.shape[1], int(np.ceil(width / p)))
    remaining = density[:h, :w].astype(np.float64).copy()
    for x, y in chosen:
        remaining[min(h - 1, int(y / p)), min(w - 1, int(x / p))] -= 1.0
    added = []
    for _ in range(missing):
        i, j = np.unravel_index(int(np.argmax(remaining)), remaining.shape)
        remaining[i, j] -= 1.0
        y0, y1 = int(i * p), max(int(i * p) + 1, min(height, int(np.ceil((i + 1) * p))))
        x0, x1 = int(j * p), max(int(j * p) + 1, min(width, int(np.ceil((j + 1) * p))))
        block = np.where(blocked[y0:y1, x0:x1], -np.inf, upsampled[y0:y1, x0:x1])
        if np.isneginf(block).all():  # every pixel of the cell is near a dot already: its centre
            y, x = (y0 + y1 - 1) // 2, (x0 + x1 - 1) // 2
        else:
            dy, dx = np.unravel_index(int(np.argmax(block)), block.shape)
            y, x = y0 + int(dy), x0 + int(dx)
        added.append((x, y))
        _block(blocked, x, y, spacing / 2)
    return added
