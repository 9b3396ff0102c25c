"""The LoG spot-detector peer (benchmarks/peers/spot_detector.py) on synthetic Gaussian blobs."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from helpers import REPO_ROOT

MODULE_PATH = REPO_ROOT / "benchmarks" / "peers" / "spot_detector.py"


def _load_module():
    spec = importlib.util.spec_from_file_location("spot_detector_peer", MODULE_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


sd = _load_module()

# A smaller grid than the default keeps the test fast; it still spans the knobs that matter.
GRID = sd.SpotGrid(sigmas=(1.0, 1.5, 2.0, 3.0, 4.5, 6.0), windows=(3, 5, 7, 9, 13))


def blob_positions(rng: np.random.Generator, n: int, size: int, min_gap: float) -> np.ndarray:
    """``n`` (x, y) positions at least ``min_gap`` apart and away from the border."""
    points: list[np.ndarray] = []
    while len(points) < n:
        p = rng.uniform(6, size - 6, 2)
        if all(np.hypot(*(p - q)) >= min_gap for q in points):
            points.append(p)
    return np.array(points)


def blob_image(n: int, seed: int, polarity: str, size: int = 96, blob_sigma: float = 2.0) -> np.ndarray:
    """Float RGB in [0, 1]: ``n`` Gaussian blobs, bright on dark or dark (purple) on bright, with noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    blobs = np.zeros((size, size))
    for x, y in blob_positions(rng, n, size, min_gap=4 * blob_sigma + 2):
        blobs += rng.uniform(0.6, 1.0) * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * blob_sigma ** 2))
    noise = rng.normal(0.0, 0.02, (size, size, 3))
    if polarity == "bright":
        image = 0.1 + 0.8 * blobs[:, :, None] * np.array([0.3, 1.0, 0.6]) + noise
    else:
        image = np.array([0.95, 0.9, 0.95]) - 0.8 * blobs[:, :, None] * np.array([0.6, 0.8, 0.4]) + noise
    return np.clip(image, 0.0, 1.0).astype(np.float32)


# Different counts per image, so that a wrong polarity cannot fit every tuning image by chance.
TUNE_COUNTS = [8, 22, 35]
CHECK_COUNTS = [15, 28]


@pytest.mark.parametrize("polarity", ["bright", "dark"])
def test_tuned_counts_are_close_on_new_images(polarity):
    tune_images = [blob_image(n, seed, polarity) for seed, n in enumerate(TUNE_COUNTS)]
    params = sd.tune(tune_images, TUNE_COUNTS, GRID)
    for seed, n in enumerate(CHECK_COUNTS, start=100):
        assert abs(sd.count(blob_image(n, seed, polarity), params) - n) <= 1, params


@pytest.mark.parametrize("polarity", ["bright", "dark"])
def test_grid_search_picks_the_polarity_of_the_cells(polarity):
    images = [blob_image(n, seed, polarity) for seed, n in enumerate(TUNE_COUNTS)]
    found = sd.grid_search(images, TUNE_COUNTS, GRID)
    assert found.params.polarity == polarity
    # the same images with the other polarity forced fit worse
    other = "dark" if polarity == "bright" else "bright"
    forced = sd.grid_search(images, TUNE_COUNTS, sd.SpotGrid(sigmas=GRID.sigmas, windows=GRID.windows,
                                                             polarities=(other,)))
    assert forced.mae > found.mae


def test_reported_tuning_error_is_what_count_gives():
    images = [blob_image(n, seed, "dark") for seed, n in enumerate(TUNE_COUNTS)]
    found = sd.grid_search(images, TUNE_COUNTS, GRID)
    recount = np.mean([abs(sd.count(img, found.params) - n) for img, n in zip(images, TUNE_COUNTS)])
    assert recount == pytest.approx(found.mae)
    assert found.n_combinations == (len(GRID.channels) * len(GRID.sigmas) * len(GRID.polarities)
                                    * len(GRID.windows)
                                    * (len(GRID.absolute_thresholds) + len(GRID.relative_thresholds)))


def test_detected_spots_are_at_the_blobs():
    rng = np.random.default_rng(7)
    size = 64
    truth = blob_positions(rng, 10, size, min_gap=10)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    gray = 0.1 + sum(0.8 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 8.0) for x, y in truth)
    image = np.repeat(np.clip(gray, 0, 1)[:, :, None], 3, axis=2)
    spots = sd.detect(image, sd.SpotParams(sigma=2.0, threshold=0.05, window=5))
    assert len(spots) == len(truth)
    nearest = np.min(np.hypot(*(spots[:, None, :] - truth[None, :, :]).transpose(2, 0, 1)), axis=0)
    assert nearest.max() <= 1.0
