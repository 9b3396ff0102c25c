"""Dots proposed from a density map: about round(count) of them, on the cells."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from countxplain.density import pooled_density_map
from cxdesktop.peaks import density_on_image, propose_dots

SHAPE = (96, 128)
CELLS = np.array([[20, 20], [70, 50], [100, 70], [90, 30], [40, 80], [115, 15]], dtype=float)


def test_the_upsampled_density_keeps_the_count_and_the_image_size():
    density = pooled_density_map(CELLS, SHAPE, 3.0)
    up = density_on_image(density, 8.0, SHAPE)
    assert up.shape == SHAPE
    assert up.sum() / 64 == pytest.approx(density.sum(), rel=0.05)


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_separate_cells_get_one_dot_each_near_their_centre(scale):
    shape = (round(SHAPE[0] * scale), round(SHAPE[1] * scale))
    density = pooled_density_map(CELLS * scale, shape, 3.0 * scale)  # counted at `scale`: 8 / scale px per cell
    dots = propose_dots(density, 8.0 / scale, SHAPE, count=density.sum(), cell_diameter_px=10)
    assert len(dots) == len(CELLS)
    distance, nearest = cKDTree(dots).query(CELLS)
    assert len(set(nearest)) == len(CELLS)  # one dot per cell
    assert distance.max() <= 0.75 * 8.0 / scale  # the density knows a position only to within its block


def test_touching_cells_still_get_round_count_dots_inside_the_clump():
    clump = np.array([[40, 40], [46, 40], [43, 46], [49, 46]], dtype=float)
    density = pooled_density_map(clump, SHAPE, 3.0)
    dots = propose_dots(density, 8.0, SHAPE, count=density.sum(), cell_diameter_px=6)
    assert len(dots) == 4
    assert len(np.unique(dots, axis=0)) == 4
    assert np.all(np.abs(dots - clump.mean(axis=0)) < 12)


def test_the_count_decides_how_many_and_nothing_for_an_empty_map():
    density = pooled_density_map(CELLS, SHAPE, 3.0)
    assert len(propose_dots(density, 8.0, SHAPE, count=3.4, cell_diameter_px=10)) == 3
    assert len(propose_dots(density, 8.0, SHAPE, count=8, cell_diameter_px=10)) == 8
    assert propose_dots(np.zeros((12, 16)), 8.0, SHAPE).shape == (0, 2)
    dots = propose_dots(density, 8.0, SHAPE, count=8, cell_diameter_px=10)
    assert (dots[:, 0] >= 0).all() and (dots[:, 0] < SHAPE[1]).all() and (dots[:, 1] < SHAPE[0]).all()
