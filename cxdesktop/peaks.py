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

from countxplain.boxes import cell_sides

MIN_PEAK_MASS = 0.3  # a maximum is a cell only if the window around it holds this much density


def density_on_image(density: np.ndarray, cell_px: float | tuple[float, float],
                     image_shape: tuple[int, int]) -> np.ndarray:
    """The (h, w) density map interpolated bilinearly to the (H, W) image (values: cells per density cell).

    Density cell (i, j) covers image pixels [j·pw, (j+1)·pw) × [i·ph, (i+1)·ph) with (ph, pw) =
    ``cell_px`` (one number: square cells).
    """
    height, width = image_shape[:2]
    h, w = density.shape
    cell_h, cell_w = cell_sides(cell_px)
    full_h, full_w = max(height, round(h * cell_h)), max(width, round(w * cell_w))
    upsampled = ndimage.zoom(density.astype(np.float32), (full_h / h, full_w / w), order=1, mode="nearest",
                             grid_mode=True)
    return upsampled[:height, :width]


def propose_dots(density: np.ndarray, cell_px: float | tuple[float, float], image_shape: tuple[int, int],
                 count: float | None = None, cell_diameter_px: float = 10.0) -> np.ndarray:
    """(N, 2) float64 dots (x, y) in image pixels, N = round(``count``) (default: the density's sum)."""
    wanted = int(round(float(density.sum() if count is None else count)))
    if wanted <= 0 or density.size == 0:
        return np.zeros((0, 2), dtype=np.float64)
    upsampled = density_on_image(density, cell_px, image_shape)
    diameter = max(2.0, float(cell_diameter_px))
    spacing = 0.5 * diameter
    blocked = np.zeros(upsampled.shape, dtype=bool)
    chosen: list[tuple[int, int]] = []
    for x, y in _peaks(upsampled, cell_px, diameter):  # strongest first
        if len(chosen) == wanted:
            break
        if not blocked[y, x]:
            chosen.append((x, y))
            _block(blocked, x, y, spacing)
    if len(chosen) < wanted:
        chosen += _fill_by_mass(density, cell_px, upsampled, blocked, chosen, wanted - len(chosen), spacing)
    return np.array(chosen, dtype=np.float64).reshape(-1, 2)


def _peaks(upsampled: np.ndarray, cell_px: float | tuple[float, float], diameter: float) -> list[tuple[int, int]]:
    """Local maxima (a flat top counts once, at its centre) holding at least ``MIN_PEAK_MASS`` cells
    within a cell diameter (or two density cells, where those are wider), strongest first."""
    size = max(3, int(round(0.5 * diameter)) | 1)
    cell_h, cell_w = cell_sides(cell_px)
    window = max(3, int(round(max(diameter, 2 * max(cell_h, cell_w)))))
    mass = ndimage.uniform_filter(upsampled / (cell_h * cell_w), size=window, mode="constant") * window ** 2
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


def _fill_by_mass(density, cell_px, upsampled, blocked, chosen, missing, spacing) -> list[tuple[int, int]]:
    """``missing`` more dots, each in the density cell with the most mass not yet covered by a dot."""
    height, width = upsampled.shape
    ph, pw = cell_sides(cell_px)
    h, w = min(density.shape[0], int(np.ceil(height / ph))), min(density.shape[1], int(np.ceil(width / pw)))
    remaining = density[:h, :w].astype(np.float64).copy()
    for x, y in chosen:
        remaining[min(h - 1, int(y / ph)), min(w - 1, int(x / pw))] -= 1.0
    added = []
    for _ in range(missing):
        i, j = np.unravel_index(int(np.argmax(remaining)), remaining.shape)
        remaining[i, j] -= 1.0
        y0, y1 = int(i * ph), max(int(i * ph) + 1, min(height, int(np.ceil((i + 1) * ph))))
        x0, x1 = int(j * pw), max(int(j * pw) + 1, min(width, int(np.ceil((j + 1) * pw))))
        block = np.where(blocked[y0:y1, x0:x1], -np.inf, upsampled[y0:y1, x0:x1])
        if np.isneginf(block).all():  # every pixel of the cell is near a dot already: its centre
            y, x = (y0 + y1 - 1) // 2, (x0 + x1 - 1) // 2
        else:
            dy, dx = np.unravel_index(int(np.argmax(block)), block.shape)
            y, x = y0 + int(dy), x0 + int(dx)
        added.append((x, y))
        _block(blocked, x, y, spacing / 2)
    return added
