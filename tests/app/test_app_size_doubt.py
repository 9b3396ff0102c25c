"""Doubtful counts through the real window: an image counted at the estimated cell size whose count
moves too much across the estimate's error range is marked in the list and the summary suggests
measuring a cell; once a cell is measured the size is given and the flag goes.

The tiny test model has no size estimator, so these tests save it with a hand-built one (zero
weights: it estimates 12 px for every image) through the real model-file writer; the estimator
runs as any model's does, and the rule, the range (the shipped file) and the flag are the app's own.
"""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt

from cxdesktop.browser import COUNT_COLUMN, DOUBT_MARK
from helpers.app import WAIT_MS, drag_on_image, drop_paths, open_window, wait_counted

ESTIMATE_PX = 12.0
POOL3_FEATURES = 3 * 256  # mean, deviation and log-mean of the 256 channels through pool3


@pytest.fixture(scope="module")
def estimator_model_file(tiny_model_file, tmp_path_factory):
    from countxplain.cell_size import POOL3_MODULES
    from countxplain.modelfile import load_model, save_model

    bundle = load_model(tiny_model_file)
    n = POOL3_FEATURES
    bundle.preprocessing["size_model"] = {
        "kind": "ridge-on-frontend-pooling", "max_side": 384, "mean": [0.0] * n, "scale": [1.0] * n,
        "weights": [0.0] * n, "bias": math.log(ESTIMATE_PX), "frontend_modules": POOL3_MODULES}
    return save_model(bundle, tmp_path_factory.mktemp("estimator") / "tiny-with-estimator.cxm")


@pytest.fixture
def estimator_window(qtbot, estimator_model_file, app_settings):
    win = open_window(qtbot, estimator_model_file, app_settings)
    yield win
    win.close()


def count_cell(window, path, role=Qt.ItemDataRole.DisplayRole):
    model = window.browser.model
    return model.data(model.index(model.row_of(str(path)), COUNT_COLUMN), role)


def test_a_doubtful_count_is_flagged_until_a_cell_is_measured(qtbot, estimator_window, small_images):
    window, path = estimator_window, small_images[0]
    drop_paths(window, [path])
    wait_counted(qtbot, window, [path])
    window.browser.select(str(path))
    entry = window.session.store[str(path)]
    doubt = entry.analysis.size_doubt
    assert entry.analysis.result.estimated_diameter_px == pytest.approx(ESTIMATE_PX)
    assert doubt is not None and doubt.doubtful
    low, high = doubt.count_range
    assert count_cell(window, path) == f"{entry.count:.1f} {DOUBT_MARK}"
    tooltip = count_cell(window, path, Qt.ItemDataRole.ToolTipRole)
    assert f"count moves from {low:.1f} to {high:.1f}" in tooltip and "measure one cell (M)" in tooltip
    assert window.summary.doubt.isVisible() and "measure one cell (M)" in window.summary.doubt.text()

    window.menu_actions["tool_measure"].trigger()
    drag_on_image(qtbot, window, (10, 10), (34, 42))  # 24 × 32 → 40 px
    qtbot.waitUntil(lambda: entry.analysis is not None and entry.analysis.cell_diameter_px is not None
                    and abs(entry.analysis.cell_diameter_px - 40.0) < 1.0 and entry.status == "done",
                    timeout=WAIT_MS)
    assert entry.analysis.size_doubt is None
    assert count_cell(window, path) == f"{entry.count:.1f}"
    assert "measure one cell" not in count_cell(window, path, Qt.ItemDataRole.ToolTipRole)
    assert not window.summary.doubt.isVisible()


def test_no_doubt_for_a_given_size_or_a_model_that_counts_at_its_own_scale(estimator_model_file, small_images):
    from cxdesktop.engine import Engine

    engine = Engine()
    engine.load_model(estimator_model_file, device="cpu", precision="fp32")
    assert engine.count(small_images[0], None)[1].size_doubt.doubtful
    assert engine.count(small_images[0], 20.0)[1].size_doubt is None
    engine.bundle.preprocessing["native_scale"] = True
    assert engine.count(small_images[0], None)[1].size_doubt is None
