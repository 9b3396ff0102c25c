"""Dot annotations: CSV and dot-image readers, checks against the image, atomic CSV writing."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from countxplain import annotations
from countxplain.annotations import read_dots, write_dots_csv
from countxplain.errors import AnnotationError


def _sorted(dots):
    dots = np.asarray(dots, dtype=np.float64).reshape(-1, 2)
    return dots[np.lexsort((dots[:, 1], dots[:, 0]))]


# --- CSV -----------------------------------------------------------------------------------------

def test_csv_xy(tmp_path):
    path = tmp_path / "dots.csv"
    path.write_text("x,y\n1.5,2\n10,20.25\n0,0\n")
    dots = read_dots(path)
    assert dots.dtype == np.float64 and dots.shape == (3, 2)
    np.testing.assert_array_equal(dots, [[1.5, 2], [10, 20.25], [0, 0]])


def test_csv_extra_columns_and_order_are_handled(tmp_path):
    path = tmp_path / "dots.csv"
    path.write_text("id, Y ,label,X\n1,5,cell,7\n2,6,other,8\n")
    np.testing.assert_array_equal(read_dots(path), [[7, 5], [8, 6]])


def test_csv_with_bom_blank_lines_and_no_rows(tmp_path):
    path = tmp_path / "dots.csv"
    path.write_bytes("\ufeffx,y\n\n3,4\n\n".encode("utf-8"))
    np.testing.assert_array_equal(read_dots(path), [[3, 4]])
    empty = tmp_path / "none.csv"
    empty.write_text("x,y\n")
    assert read_dots(empty).shape == (0, 2)


def _refused(path, **kwargs) -> AnnotationError:
    with pytest.raises(AnnotationError) as info:
        read_dots(path, **kwargs)
    assert path.name in str(info.value)
    assert info.value.reason
    assert "\n" not in str(info.value)
    return info.value


def test_csv_without_header(tmp_path):
    path = tmp_path / "noheader.csv"
    path.write_text("1,2\n3,4\n")
    error = _refused(path)
    assert "header" in error.reason and "line 1" in error.reason


def test_csv_header_missing_a_column(tmp_path):
    path = tmp_path / "onlyx.csv"
    path.write_text("x,z\n1,2\n")
    error = _refused(path)
    assert "'y'" in error.reason


def test_csv_non_numeric_value_names_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("x,y\n1,2\n3,4\nfive,6\n7,8\n")
    error = _refused(path)
    assert "line 4" in error.reason and "five" in error.reason


def test_csv_short_row_names_the_line(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("x,y\n1,2\n3\n")
    assert "line 3" in _refused(path).reason


def test_csv_empty_cell_names_the_line(tmp_path):
    path = tmp_path / "emptycell.csv"
    path.write_text("x,y\n1,2\n3,\n")
    assert "line 3" in _refused(path).reason


def test_csv_line_number_counts_blank_lines(tmp_path):
    path = tmp_path / "blanks.csv"
    path.write_text("x,y\n\n1,2\n\n\nbad,3\n")
    assert "line 6" in _refused(path).reason


def test_csv_non_finite_is_refused(tmp_path):
    path = tmp_path / "nan.csv"
    path.write_text("x,y\n1,2\nnan,3\n")
    assert "line 3" in _refused(path).reason
    inf = tmp_path / "inf.csv"
    inf.write_text("x,y\ninf,3\n")
    assert "line 2" in _refused(inf).reason


def test_csv_binary_garbage_is_refused(tmp_path):
    path = tmp_path / "garbage.csv"
    path.write_bytes(bytes([0xFF, 0xFE, 0x00, 0x81, 0x90]) * 20)
    _refused(path)


def test_missing_empty_and_unsupported_files(tmp_path):
    assert "does not exist" in _refused(tmp_path / "missing.csv").reason
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert "empty" in _refused(empty).reason
    other = tmp_path / "dots.json"
    other.write_text("[]")
    assert ".json" in _refused(other).reason


# --- dots against the image -----------------------------------------------------------------------

def test_dots_outside_the_image_are_refused(tmp_path):
    path = tmp_path / "dots.csv"
    path.write_text("x,y\n5,5\n40,3\n")
    assert read_dots(path).shape == (2, 2)  # no check without a shape
    error = _refused(path, image_shape=(30, 30))
    assert "1 dot(s)" in error.reason and "x=40" in error.reason
    below = tmp_path / "below.csv"
    below.write_text("x,y\n5,-2\n")
    _refused(below, image_shape=(30, 30))


def test_dots_on_the_pixel_edge_are_accepted(tmp_path):
    path = tmp_path / "edge.csv"
    path.write_text("x,y\n-0.5,-0.5\n29.5,19.5\n0,19\n")
    assert len(read_dots(path, image_shape=(20, 30))) == 3
    just_out = tmp_path / "out.csv"
    just_out.write_text("x,y\n30,10\n")
    _refused(just_out, image_shape=(20, 30))


# --- dot images -----------------------------------------------------------------------------------

def test_red_pixel_png(tmp_path):
    rgb = np.zeros((20, 30, 3), dtype=np.uint8)
    expected = [(3, 4), (29, 0), (0, 19), (15, 10)]
    for x, y in expected:
        rgb[y, x] = (255, 0, 0)
    rgb[5, 5] = (255, 10, 0)  # not pure red: ignored
    rgb[6, 6] = (254, 0, 0)
    rgb[7, 7] = (255, 255, 255)
    path = tmp_path / "dots.png"
    Image.fromarray(rgb).save(path)
    dots = read_dots(path, image_shape=(20, 30))
    np.testing.assert_array_equal(_sorted(dots), _sorted(expected))


def test_red_pixel_png_with_alpha(tmp_path):
    rgba = np.zeros((10, 10, 4), dtype=np.uint8)
    rgba[2, 3] = (255, 0, 0, 255)
    rgba[8, 1] = (255, 0, 0, 255)
    path = tmp_path / "dots.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    np.testing.assert_array_equal(_sorted(read_dots(path)), _sorted([(3, 2), (1, 8)]))


@pytest.mark.parametrize("mode", ["1", "L"])
def test_binary_png(tmp_path, mode):
    mask = np.zeros((16, 24), dtype=np.uint8)
    expected = [(0, 0), (23, 15), (5, 9), (6, 9)]  # touching pixels stay separate dots (lossless)
    for x, y in expected:
        mask[y, x] = 255 if mode == "L" else 1
    image = Image.fromarray(mask * (255 if mode == "1" else 1)).convert(mode)
    path = tmp_path / f"mask_{mode}.png"
    image.save(path)
    np.testing.assert_array_equal(_sorted(read_dots(path)), _sorted(expected))


def test_real_vgg_and_mbm_dot_files(data_root):
    vgg = read_dots(data_root / "vgg" / "001dots.png", image_shape=(256, 256))
    assert 74 <= len(vgg) <= 317
    mbm_dots = sorted((data_root / "mbm").glob("*_dots_*.png"))[0]
    mbm = read_dots(mbm_dots, image_shape=(600, 600))
    assert 65 <= len(mbm) <= 195
    assert np.all(mbm == np.round(mbm))


def _jpeg_dots(tmp_path, squares, size=(48, 48)):
    rgb = np.zeros(size + (3,), dtype=np.uint8)
    for y, x in squares:
        rgb[y:y + 3, x:x + 3] = (255, 0, 0)
    path = tmp_path / "dots.jpg"
    Image.fromarray(rgb).save(path, quality=95, subsampling=0)
    return path


def test_red_dots_in_jpeg_use_component_centroids(tmp_path):
    path = _jpeg_dots(tmp_path, [(5, 30), (30, 5), (40, 40)])
    dots = read_dots(path)
    np.testing.assert_allclose(_sorted(dots), _sorted([(31, 6), (6, 31), (41, 41)]), atol=0.2)


def test_diagonally_touching_jpeg_dots_are_one_8_connected_component(tmp_path):
    """Documented: 8-connected components; pieces touching only at a corner form one dot
    (4-connectivity would split them)."""
    path = _jpeg_dots(tmp_path, [(10, 10), (13, 13), (30, 5)])
    red = np.asarray(Image.open(path))[:, :, 0] > 127
    assert red[12, 12] and red[13, 13] and not red[12, 13] and not red[13, 12]  # corner contact only
    dots = read_dots(path)
    assert len(dots) == 2
    np.testing.assert_allclose(_sorted(dots), _sorted([(6, 31), (12.5, 12.5)]), atol=0.2)


def test_adi_totals_8_vs_4_connectivity(data_root):
    """The ADI set gives 31,001 with 8-connectivity; 4-connectivity would split two dots (31,003)."""
    from scipy import ndimage

    files = sorted((data_root / "adi" / "annotations").glob("*.jpeg"))
    assert len(files) == 200
    total8 = sum(len(read_dots(f)) for f in files)
    total4 = 0
    for f in files:
        red = np.asarray(Image.open(f).convert("RGB"))[:, :, 0] > 127
        total4 += ndimage.label(red)[1]
    assert total8 == 31_001
    assert total4 == 31_003


def test_unreadable_dot_image(tmp_path):
    path = tmp_path / "dots.png"
    path.write_text("not a png")
    assert "cannot read" in _refused(path).reason


def _mask_with_dots(expected, shape=(12, 16)):
    mask = np.zeros(shape, dtype=np.uint8)
    for x, y in expected:
        mask[y, x] = 255
    return mask


def test_grayscale_with_alpha_png_reads_its_gray_values(tmp_path):
    expected = [(2, 3), (15, 11)]
    mask = _mask_with_dots(expected)
    path = tmp_path / "dots.png"
    Image.fromarray(np.dstack([mask, np.full_like(mask, 255)]), mode="LA").save(path)
    assert Image.open(path).mode == "LA"
    np.testing.assert_array_equal(_sorted(read_dots(path)), _sorted(expected))


def test_gray_palette_png_is_a_grayscale_mask(tmp_path):
    expected = [(0, 0), (7, 5)]
    path = tmp_path / "dots.png"
    Image.fromarray(_mask_with_dots(expected)).convert("P").save(path)
    assert Image.open(path).mode == "P"
    np.testing.assert_array_equal(_sorted(read_dots(path)), _sorted(expected))


def test_coloured_palette_png_with_transparency_reads_its_red_pixels(tmp_path):
    rgb = np.zeros((12, 16, 3), dtype=np.uint8)
    rgb[4, 9] = (255, 0, 0)
    rgb[1, 1] = (255, 255, 255)
    image = Image.fromarray(rgb).convert("P")
    path = tmp_path / "dots.png"
    image.save(path, transparency=0)
    np.testing.assert_array_equal(read_dots(path), [(9, 4)])


def test_palette_with_alpha_image_is_converted():
    rgba = np.zeros((12, 16, 4), dtype=np.uint8)
    rgba[3, 5] = (255, 0, 0, 128)
    image = Image.fromarray(rgba, mode="RGBA").convert("PA")
    array = annotations.dot_image_array(image)
    assert array.shape == (12, 16, 3)
    assert tuple(array[3, 5]) == (255, 0, 0)


def test_an_unexpected_dot_image_layout_is_one_line(tmp_path, monkeypatch):
    path = tmp_path / "dots.png"
    Image.fromarray(_mask_with_dots([(1, 1)])).save(path)
    monkeypatch.setattr(annotations, "dot_image_array", lambda image: np.zeros((12, 16, 2), dtype=np.uint8))
    assert "layout" in _refused(path).reason


def test_a_dot_image_over_the_pixel_limit_is_refused_in_one_line(tmp_path, monkeypatch):
    from PIL import Image as PILImage

    path = tmp_path / "dots.png"
    Image.fromarray(_mask_with_dots([(1, 1)], shape=(40, 40))).save(path)
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 100)  # 40×40 is over twice this: an error, not a warning
    assert "too large" in _refused(path).reason


# --- writing ---------------------------------------------------------------------------------------

def test_write_dots_csv_round_trip(tmp_path):
    dots = np.array([[1.25, 2.5], [100.0, 0.0], [3.75, 99.5]])
    path = tmp_path / "sub" / "image.dots.csv"
    write_dots_csv(path, dots)
    assert path.read_text().splitlines()[0] == "x,y"
    np.testing.assert_allclose(read_dots(path), dots, atol=0.005)
    write_dots_csv(path, np.zeros((0, 2)))
    assert read_dots(path).shape == (0, 2)
    assert [p.name for p in path.parent.iterdir()] == ["image.dots.csv"]  # no temporary left


def test_write_rounds_to_hundredths(tmp_path):
    path = tmp_path / "d.csv"
    write_dots_csv(path, np.array([[1.23456, 7.891]]))
    np.testing.assert_allclose(read_dots(path), [[1.23, 7.89]])


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch, failing):
    path = tmp_path / "image.dots.csv"
    write_dots_csv(path, np.array([[1.0, 2.0], [3.0, 4.0]]))
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(annotations.os, failing, boom)
    with pytest.raises(OSError, match="simulated"):
        write_dots_csv(path, np.array([[9.0, 9.0]] * 50))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image.dots.csv"]  # temporary removed


def test_failed_first_write_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "new.dots.csv"
    monkeypatch.setattr(os, "replace", lambda *a, **k: (_ for _ in ()).throw(OSError("simulated")))
    with pytest.raises(OSError):
        write_dots_csv(path, np.array([[1.0, 2.0]]))
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def umask():
    """Set the process umask for one test, restoring the previous one after it."""
    previous = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("mask,expected", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_a_new_file_gets_the_mode_open_would_give_it(tmp_path, umask, mask, expected):
    umask(mask)
    path = tmp_path / "new.dots.csv"
    write_dots_csv(path, np.array([[1.0, 2.0]]))
    assert os.stat(path).st_mode & 0o777 == expected


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o444])
def test_a_rewritten_file_keeps_its_mode(tmp_path, umask, mode):
    umask(0o077)
    path = tmp_path / "image.dots.csv"
    path.write_text("x,y\n")
    os.chmod(path, mode)
    write_dots_csv(path, np.array([[1.0, 2.0]]))
    assert os.stat(path).st_mode & 0o777 == mode
    assert len(read_dots(path)) == 1


def test_the_umask_is_read_without_being_changed(umask):
    umask(0o027)
    assert annotations.current_umask() == 0o027
    assert os.umask(0o027) == 0o027
