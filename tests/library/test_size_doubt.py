"""The doubtful-count rule: a count at an estimated cell size is doubtful when a count at either end of
the estimate's error range moves by more than a tenth of it; and the range the app reads."""

from __future__ import annotations

import json

import pytest

from countxplain.resources import cell_size_error_path
from countxplain.scale_policy import (
    MAX_AUTO_PIXELS,
    bounded_diameters,
    count_is_doubtful,
    estimate_error_range,
    size_doubt,
    size_doubt_note,
)


@pytest.mark.parametrize("count, bounds, doubtful", [
    (100.0, (95.0, 108.0), False),   # moves by 8 % at most
    (100.0, (100.0, 110.0), False),  # exactly a tenth is not more than a tenth
    (100.0, (100.0, 111.0), True),
    (100.0, (88.0, 101.0), True),    # either end counts
    (0.3, (0.35, 0.38), False),      # below one cell the move is measured against one cell
    (0.3, (0.05, 0.3), True),
    (0.0, (0.0, 0.0), False),
])
def test_a_count_is_doubtful_when_either_bound_moves_it_by_more_than_a_tenth(count, bounds, doubtful):
    assert count_is_doubtful(count, bounds) is doubtful


def test_the_doubt_names_the_count_range_and_the_fix():
    doubt = size_doubt(50.0, 20.0, (14.0, 29.0), (80.0, 30.0))
    assert doubt.doubtful and doubt.count_range == (30.0, 80.0)
    note = size_doubt_note(doubt)
    assert "from 30.0 to 80.0" in note and "measure one cell (M)" in note
    assert size_doubt_note(size_doubt(50.0, 20.0, (14.0, 29.0), (51.0, 49.0))) == ""
    assert size_doubt_note(None) == ""


def test_bounded_diameters_are_the_factors_on_the_estimate_and_never_enlarge_beyond_an_estimates_cap():
    assert bounded_diameters(20.0, (1.5, 0.5), 10.0) == (10.0, 30.0)
    huge = MAX_AUTO_PIXELS  # an image already at the cap may not be enlarged by a bound
    low, high = bounded_diameters(4.0, (0.5, 2.0), 10.0, image_pixels=huge)
    assert low == pytest.approx(10.0) and high == pytest.approx(10.0)


def test_the_shipped_range_brackets_the_estimate(tmp_path):
    low, high = estimate_error_range()
    assert 0 < low < 1 < high
    assert json.loads(cell_size_error_path().read_text())["low"] == low
    assert estimate_error_range(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text(json.dumps({"low": 2.0, "high": 1.0}))
    assert estimate_error_range(tmp_path / "bad.json") is None
