"""The cell-size estimator: fitting, storing in the model file, and automatic rescaling."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from countxplain.cell_size import estimate_cell_diameter, fit_size_model, predict_log_spacing, training_examples
from countxplain.inference import Counter
from countxplain.modelfile import load_model, save_model
from countxplain.scale_policy import ESTIMATE_GATE, cell_size_note, cell_size_source, diameter_to_use


def lattice_image(spacing: float, size: int = 160) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    radius = spacing * 0.35
    image = np.zeros((size, size), dtype=np.float32)
    for cy in np.arange(spacing / 2, size, spacing):
        for cx in np.arange(spacing / 2, size, spacing):
            image += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius ** 2))
    return np.repeat(np.clip(image, 0, 1)[:, :, None], 3, axis=2)


def test_ridge_fit_recovers_a_linear_law():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 5))
    targets = features @ np.array([0.5, -0.2, 0.0, 0.1, 0.3]) + 2.0
    model = fit_size_model(features, targets, ridge=1e-6)
    assert predict_log_spacing(model, features[0]) == pytest.approx(targets[0], abs=1e-3)


def test_estimator_orders_sizes_and_rescales_counts(tiny_model_file, tmp_path):
    torch.set_num_threads(1)
    bundle = load_model(tiny_model_file)
    frontend = bundle.network.extractor.frontend
    pairs = [(lattice_image(s), s) for s in (6.0, 9.0, 14.0, 20.0, 28.0)]
    features, targets = training_examples(frontend, pairs, views_per_image=2, seed=1)
    assert features.shape[0] == 10 and np.isfinite(targets).all()
    size_model = fit_size_model(features, targets, ridge=1.0)
    small = estimate_cell_diameter(frontend, size_model, lattice_image(8.0))
    large = estimate_cell_diameter(frontend, size_model, lattice_image(24.0))
    assert large > small
    # stored in the model file as plain numbers and used when no diameter is given
    bundle.preprocessing["size_model"] = size_model
    path = save_model(bundle, tmp_path / "with-size.cxm")
    counter = Counter(load_model(path), device="cpu")
    assert counter.count(lattice_image(24.0)).scale == 1.0  # estimation is opt-in
    result = counter.count(lattice_image(24.0), estimate_cell_size=True)
    assert result.estimated_diameter_px == pytest.approx(large, rel=1e-4)
    used = diameter_to_use(large, bundle.cell_diameter_px)
    assert result.cell_diameter_estimated == (used is not None)
    assert result.scale == pytest.approx(bundle.cell_diameter_px / used if used else 1.0, rel=1e-4)
    given = counter.count(lattice_image(24.0), cell_diameter_px=12.0)
    assert not given.cell_diameter_estimated and given.scale == pytest.approx(bundle.cell_diameter_px / 12.0)


def test_models_without_an_estimator_count_the_image_as_it_is(tiny_model_file):
    result = Counter(load_model(tiny_model_file), device="cpu").count(lattice_image(10.0, 64), estimate_cell_size=True)
    assert result.scale == 1.0 and result.cell_diameter_px is None and not result.cell_diameter_estimated


def test_an_estimate_is_used_only_far_from_the_training_size():
    assert diameter_to_use(None, 10.0) is None
    assert diameter_to_use(10.0 * ESTIMATE_GATE * 0.99, 10.0) is None
    assert diameter_to_use(10.0 / ESTIMATE_GATE * 1.01, 10.0) is None
    assert diameter_to_use(27.4, 10.0) == 27.4 and diameter_to_use(4.0, 10.0) == 4.0
    assert diameter_to_use(12.0, 10.0, gate=1.1) == 12.0


def test_a_count_says_how_its_image_was_scaled(tiny_model_file):
    counter = Counter(load_model(tiny_model_file), device="cpu")
    image = lattice_image(10.0, 64)
    as_is, given = counter.count(image), counter.count(image, cell_diameter_px=20.0)
    assert (cell_size_source(as_is), cell_size_note(as_is)) == ("as it is", "image as it is (×1)")
    assert (cell_size_source(given), cell_size_note(given)) == ("given", "cells of 20 px (×0.50)")
    estimated = dataclasses.replace(given, cell_diameter_estimated=True, estimated_diameter_px=20.0)
    assert cell_size_source(estimated) == "estimated"
    assert cell_size_note(estimated) == "cells of 20 px (estimated) (×0.50)"
    near = dataclasses.replace(as_is, estimated_diameter_px=12.3)
    assert cell_size_source(near).startswith("as it is") and "12.3 px" in cell_size_note(near)


def test_images_without_a_size_are_trained_at_the_scale_they_are_counted_at(tiny_model_file):
    from cxdesktop.training_job import training_diameter

    torch.set_num_threads(1)
    bundle = load_model(tiny_model_file)
    frontend = bundle.network.extractor.frontend
    pairs = [(lattice_image(s), s) for s in (6.0, 9.0, 14.0, 20.0, 28.0, 40.0)]
    bundle.preprocessing["size_model"] = fit_size_model(*training_examples(frontend, pairs, seed=1), ridge=1.0)
    counter = Counter(bundle, device="cpu")
    assert training_diameter(None, lattice_image(40.0), 10.0) == 10.0  # no estimator: as it is
    for spacing, rescaled in ((10.0, False), (40.0, True)):
        image = lattice_image(spacing)
        counted = counter.count(image, estimate_cell_size=True)
        assert counted.cell_diameter_estimated == rescaled and (counted.scale < 0.5) == rescaled
        # trained at the model's diameter: the training scale is the counting scale
        trained_scale = 10.0 / training_diameter(counter, image, 10.0)
        assert trained_scale == pytest.approx(counted.scale, rel=1e-6)
    # a model trained at 20 px counts a ~39 px estimate (under 2x off 20 px) as it is: so is it trained
    estimate = counter.estimate_cell_diameter(lattice_image(40.0))
    assert 20.0 < estimate < 40.0 and training_diameter(counter, lattice_image(40.0), 20.0) == 20.0


def test_an_estimate_never_enlarges_an_image_beyond_the_pixel_budget():
    from countxplain.scale_policy import MAX_AUTO_PIXELS

    small_image = 1000 * 1000
    assert diameter_to_use(3.0, 10.0, image_pixels=small_image) == 3.0  # 3.3x: 11 MP, within budget
    huge = 8000 * 8000
    capped = diameter_to_use(3.0, 10.0, image_pixels=huge)
    assert capped == pytest.approx(10.0)  # the image is already over the budget: no enlarging
    large = 4000 * 4000
    capped = diameter_to_use(3.0, 10.0, image_pixels=large)
    assert large * (10.0 / capped) ** 2 == pytest.approx(MAX_AUTO_PIXELS)
    assert diameter_to_use(40.0, 10.0, image_pixels=huge) == 40.0  # shrinking is never capped


def test_an_estimator_reads_only_the_frontend_modules_it_was_fitted_on(tiny_model_file):
    from countxplain.cell_size import POOL3_MODULES, size_frontend

    torch.set_num_threads(1)
    frontend = load_model(tiny_model_file).network.extractor.frontend
    pairs = [(lattice_image(s), s) for s in (6.0, 12.0, 24.0)]
    to_pool3 = fit_size_model(*training_examples(size_frontend(frontend, modules=POOL3_MODULES), pairs, seed=1),
                              ridge=1.0, frontend_modules=POOL3_MODULES)
    whole = fit_size_model(*training_examples(frontend, pairs, seed=1), ridge=1.0)
    assert to_pool3["frontend_modules"] == POOL3_MODULES and "frontend_modules" not in whole
    image = lattice_image(10.0)
    before = (estimate_cell_diameter(frontend, to_pool3, image), estimate_cell_diameter(frontend, whole, image))
    with torch.no_grad():
        frontend[POOL3_MODULES].weight.mul_(3.0)  # conv4_1: what a recipe training into the frontend changes
    after = (estimate_cell_diameter(frontend, to_pool3, image), estimate_cell_diameter(frontend, whole, image))
    assert after[0] == pytest.approx(before[0], rel=1e-6) and after[1] != pytest.approx(before[1], rel=1e-6)
