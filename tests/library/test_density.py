"""Count-exact density targets: every dot contributes exactly 1, at any position and scale."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from countxplain.annotations import check_dots_inside, read_dots
from countxplain.datasets import load_dataset
from countxplain.density import density_map, padded_size, pooled_density_map, scale_dots, sum_pool, typical_cell_spacing
from countxplain.images import resize_pixels

SIGMA = 4.0  # the training default (TrainingConfig.sigma_px)


@pytest.mark.parametrize("name", ["vgg", "mbm", "adi", "dsb2018"])
def test_pooled_density_sums_to_the_count_for_every_real_image(data_root, name):
    dataset = load_dataset(data_root / name)
    assert len(dataset) > 0
    failures = []
    for sample in dataset.samples:
        with Image.open(sample.image_path) as image:
            w, h = image.size
        dots = read_dots(sample.dots_path, image_shape=(h, w))
        pooled = pooled_density_map(dots, (h, w), SIGMA)
        assert pooled.shape == (padded_size(h) // 8, padded_size(w) // 8)
        total = float(pooled.sum(dtype=np.float64))
        if abs(total - len(dots)) / max(len(dots), 1) >= 1e-4:
            failures.append((sample.name, len(dots), total))
    assert failures == []


@pytest.mark.parametrize("sigma", [0.5, 4.0, 15.0, 60.0])
def test_border_and_corner_dots_contribute_exactly_one(sigma):
    h, w = 37, 53
    corners = [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1), (-0.5, -0.5), (w - 0.5, h - 0.5),
               (0, 18), (26, 0), (w - 0.5, 10.3)]
    for dot in corners:
        dots = np.array([dot], dtype=np.float64)
        full = density_map(dots, (h, w), sigma)
        pooled = pooled_density_map(dots, (h, w), sigma)
        assert full.shape == (h, w) and full.dtype == np.float32
        assert full.sum(dtype=np.float64) == pytest.approx(1.0, abs=1e-6), dot
        assert pooled.sum(dtype=np.float64) == pytest.approx(1.0, abs=1e-6), dot
        assert (full >= 0).all()
    all_at_once = pooled_density_map(np.array(corners, dtype=np.float64), (h, w), sigma)
    assert all_at_once.sum(dtype=np.float64) == pytest.approx(len(corners), abs=1e-5)


def test_density_peaks_at_the_dot():
    full = density_map(np.array([[20.0, 11.0]]), (30, 40), 3.0)
    assert np.unravel_index(np.argmax(full), full.shape) == (11, 20)
    # symmetric around the dot away from the borders
    assert full[11, 17] == pytest.approx(full[11, 23], rel=1e-5)


def test_tiny_sigma_and_far_dots_still_count_one():
    dots = np.array([[3.5, 4.5], [100.0, 2.0]])  # the second lies far outside a 16x16 image
    for sigma in (1e-3, 0.05):
        assert pooled_density_map(dots, (16, 16), sigma).sum(dtype=np.float64) == pytest.approx(2.0, abs=1e-6)
        assert density_map(dots, (16, 16), sigma).sum(dtype=np.float64) == pytest.approx(2.0, abs=1e-6)


def test_no_dots_gives_zero_maps():
    assert density_map(np.zeros((0, 2)), (10, 12), 4.0).shape == (10, 12)
    empty = pooled_density_map(np.zeros((0, 2)), (10, 12), 4.0)
    assert empty.shape == (2, 2) and not empty.any()


@pytest.mark.parametrize("shape", [(37, 53), (64, 64), (9, 130), (8, 8)])
@pytest.mark.parametrize("sigma", [1.0, 4.0, 12.0])
def test_pooled_equals_sum_pool_of_full_map(shape, sigma):
    h, w = shape
    rng = np.random.default_rng(h * w)
    dots = np.column_stack([rng.uniform(-0.5, w - 0.5, 25), rng.uniform(-0.5, h - 0.5, 25)])
    pooled = pooled_density_map(dots, shape, sigma)
    reference = sum_pool(density_map(dots, shape, sigma))
    assert pooled.shape == reference.shape == (padded_size(h) // 8, padded_size(w) // 8)
    np.testing.assert_allclose(pooled, reference, atol=1e-6, rtol=1e-5)


def test_sum_pool_keeps_the_total_and_pads():
    values = np.random.default_rng(0).random((13, 21)).astype(np.float32)
    pooled = sum_pool(values)
    assert pooled.shape == (2, 3)
    assert pooled.sum(dtype=np.float64) == pytest.approx(values.sum(dtype=np.float64), rel=1e-6)
    assert pooled[0, 0] == pytest.approx(values[:8, :8].sum(), rel=1e-6)
    assert pooled[1, 2] == pytest.approx(values[8:, 16:].sum(), rel=1e-6)


def test_scale_dots_pixel_centre_convention():
    dots = np.array([[0.0, 0.0], [9.0, 4.0], [-0.5, -0.5]])
    np.testing.assert_allclose(scale_dots(dots, 2.0), [[0.5, 0.5], [18.5, 8.5], [-0.5, -0.5]])
    np.testing.assert_allclose(scale_dots(dots, 0.5, 1.0), [[-0.25, 0.0], [4.25, 4.0], [-0.5, -0.5]])
    np.testing.assert_allclose(scale_dots(scale_dots(dots, 3.0), 1 / 3.0), dots, atol=1e-12)


@pytest.mark.parametrize("factor", [0.37, 0.5, 1.3, 2.0])
def test_resizing_an_image_with_its_dots_keeps_the_count(data_root, factor):
    dataset = load_dataset(data_root / "mbm")
    sample = dataset.samples[0]
    with Image.open(sample.image_path) as image:
        w, h = image.size
    dots = read_dots(sample.dots_path, image_shape=(h, w))
    new_h, new_w = resize_pixels(np.zeros((h, w, 3), dtype=np.float32), factor).shape[:2]
    scaled = scale_dots(dots, new_w / w, new_h / h)
    check_dots_inside(sample.dots_path, scaled, (new_h, new_w))  # still inside the resized image
    total = pooled_density_map(scaled, (new_h, new_w), SIGMA).sum(dtype=np.float64)
    assert total == pytest.approx(len(dots), rel=1e-6)


def test_typical_cell_spacing_on_grids():
    ys, xs = np.mgrid[0:10, 0:12]
    grid = np.column_stack([xs.ravel() * 10.0, ys.ravel() * 10.0])
    assert typical_cell_spacing(grid) == pytest.approx(10.0)
    stretched = np.column_stack([xs.ravel() * 7.0, ys.ravel() * 15.0])
    assert typical_cell_spacing(stretched) == pytest.approx(7.0)
    jitter = np.random.default_rng(0).normal(0, 0.2, grid.shape)
    assert typical_cell_spacing(grid * 2.5 + jitter) == pytest.approx(25.0, abs=1.0)
    assert np.isnan(typical_cell_spacing(np.array([[1.0, 2.0]])))
    assert np.isnan(typical_cell_spacing(np.zeros((0, 2))))
