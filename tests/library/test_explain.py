"""Explanations: signed contributions that add up, box counts, 99th-percentile boxes, the figure."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from countxplain.explain import cells_in_boxes, contributions, count_in_rect, similarity_boxes, similarity_on_image
from countxplain.explain_report import write_explanation
from countxplain.images import read_image
from countxplain.inference import Counter, CountResult
from countxplain.modelfile import load_model


@pytest.fixture(scope="module")
def counted(tiny_model_file, data_root):
    torch.set_num_threads(1)
    bundle = load_model(tiny_model_file)
    with torch.no_grad():  # make some weights negative so signs matter
        bundle.network.head.density_layer.weight[0, 0] = -0.004
        bundle.network.head.density_layer.bias.fill_(0.01)
    image = read_image(data_root / "vgg" / "001cell.png")
    result = Counter(bundle, device="cpu").count(image.pixels, cell_diameter_px=7.0, with_similarity=True)
    return bundle, image, result


def test_contributions_sum_to_the_count_and_keep_their_sign(counted):
    bundle, _, result = counted
    parts = contributions(bundle, result)
    assert parts.total == pytest.approx(result.count, rel=1e-5, abs=1e-4)
    assert parts.values[0] < 0 < parts.values[1]
    assert parts.bias_term == pytest.approx(0.01 * result.density.size, rel=1e-5)
    assert list(parts.is_cell) == [True, True, False, False]


def test_contributions_need_similarity_maps(counted):
    bundle, image, result = counted
    plain = CountResult(result.count, result.density, result.scale, result.image_shape, 0.0, "cpu", None)
    with pytest.raises(ValueError, match="similarity"):
        contributions(bundle, plain)


def test_count_in_rect_whole_image_equals_count_and_halves_add_up(counted):
    _, image, result = counted
    w, h = image.width, image.height
    assert count_in_rect(result, 0, 0, w, h) == pytest.approx(result.count, rel=1e-6)
    left = count_in_rect(result, 0, 0, 101.3, h)
    right = count_in_rect(result, 101.3, 0, w, h)
    assert left + right == pytest.approx(result.count, rel=1e-6)
    assert count_in_rect(result, 101.3, 0, 0, h) == pytest.approx(left)  # corners in any order


def test_count_in_rect_weights_partial_cells_by_area():
    density = np.zeros((4, 4), dtype=np.float32)
    density[1, 1] = 2.0
    result = CountResult(2.0, density, 1.0, (32, 32), 0.0, "cpu")
    # cell (1, 1) covers pixels [8, 16) x [8, 16); a box over its left quarter holds a quarter
    assert count_in_rect(result, 0, 0, 10, 32) == pytest.approx(0.5)
    assert count_in_rect(result, 8, 8, 12, 12) == pytest.approx(2.0 * 0.25)


def test_similarity_boxes_cover_the_top_percentile(counted):
    _, image, result = counted
    boxes = similarity_boxes(result, 1, percentile=99.0)
    upsampled = similarity_on_image(result, 1)
    assert upsampled.shape == (image.height, image.width)
    assert boxes
    peak_y, peak_x = np.unravel_index(np.argmax(upsampled), upsampled.shape)
    assert any(x0 <= peak_x < x1 and y0 <= peak_y < y1 for x0, y0, x1, y1 in boxes)
    covered = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in boxes)
    assert covered >= 0.01 * upsampled.size * 0.9
    assert len(similarity_boxes(result, 1, percentile=99.9)) <= len(boxes) + 5


def test_similarity_is_interpolated_not_blocky(counted):
    _, _, result = counted
    upsampled = similarity_on_image(result, 0)
    step = int(result.pixels_per_cell)
    block = upsampled[16:16 + step, 16:16 + step]
    assert np.unique(np.round(block, 6)).size > 1


def test_cells_in_boxes():
    dots = np.array([[5.0, 5.0], [50.0, 50.0]])
    assert list(cells_in_boxes(dots, [(0, 0, 10, 10), (20, 20, 30, 30)])) == [True, False]


def test_explain_writes_a_figure_and_json_with_every_number(counted, tmp_path, data_root):
    bundle, _, _ = counted
    png, data_path = write_explanation(bundle, data_root / "vgg" / "001cell.png", tmp_path, cell_diameter_px=7.0)
    from PIL import Image

    with Image.open(png) as figure:
        assert figure.width > 600 and figure.height > 600
    data = json.loads(data_path.read_text())
    assert len(data["prototypes"]) == bundle.config.k_total
    total = sum(p["contribution"] for p in data["prototypes"]) + data["bias_term"]
    assert total == pytest.approx(data["count"], rel=1e-5, abs=1e-4)
    assert all(p["group"] in ("cell", "background") for p in data["prototypes"])
    k_cell = bundle.config.k_cell
    assert [p["name"] for p in data["prototypes"]] == [f"C{k + 1}" for k in range(k_cell)] + \
        [f"B{k + 1}" for k in range(bundle.config.k_total - k_cell)]


def test_boxes_are_at_least_one_map_cell_and_grow_about_their_region(counted):
    _, image, result = counted
    side = int(np.ceil(result.pixels_per_cell))
    raw = similarity_boxes(result, 1, min_side=0)
    grown = similarity_boxes(result, 1)
    assert len(raw) == len(grown)
    for (a0, b0, a1, b1), (x0, y0, x1, y1) in zip(raw, grown):
        assert x1 - x0 >= min(side, image.width) and y1 - y0 >= min(side, image.height)
        assert 0 <= x0 <= a0 and a1 <= x1 <= image.width and 0 <= y0 <= b0 and b1 <= y1 <= image.height
        if a1 - a0 >= side:
            assert (x0, x1) == (a0, a1)  # wide enough already: unchanged


def test_the_figure_title_has_a_glyph_for_every_character_and_names_the_views(counted):
    """Pillow's default font draws a missing character as the same empty box; the title has none."""
    from PIL import ImageFont

    from countxplain.explain_report import figure_title

    _, _, result = counted
    data = {"image": "/data/cells × 2.png", "count": 12.34, "model": "model – test", "flips": 4}
    title = figure_title(data, result)
    assert "4 views averaged" in title and "12.3" in title
    font = ImageFont.load_default(size=14)

    def glyph(character: str) -> bytes:
        mask = font.getmask(character)
        return np.array(mask, dtype=np.uint8).tobytes() + bytes(mask.size)

    missing = glyph("\uffff")
    assert glyph("×") == missing  # what the substitutes are for
    assert [c for c in set(title) if not c.isspace() and glyph(c) == missing] == []
    assert "views" not in figure_title({**data, "flips": 1}, result)
