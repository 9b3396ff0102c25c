"""Reading images: formats, bit depths, layouts, and refusing bad files with a clear reason."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from countxplain.errors import ImageReadError
from countxplain.images import is_image_file, normalise_intensity, read_image, resize_pixels


def _rgb(h=24, w=32, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _check_layout(data, h, w):
    assert data.pixels.dtype == np.float32
    assert data.pixels.shape == (h, w, 3)
    assert data.height == h and data.width == w
    assert 0.0 <= float(data.pixels.min()) and float(data.pixels.max()) <= 1.0


# --- formats -------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif", ".tiff"])
def test_lossless_rgb_formats_read_exactly(tmp_path, suffix):
    rgb = _rgb()
    path = tmp_path / f"image{suffix}"
    if suffix in (".tif", ".tiff"):
        tifffile.imwrite(path, rgb, photometric="rgb")
    else:
        Image.fromarray(rgb).save(path)
    data = read_image(path)
    _check_layout(data, 24, 32)
    assert data.source_dtype == "uint8"
    np.testing.assert_allclose(data.pixels, rgb.astype(np.float32) / 255.0, atol=1e-7)


def test_jpeg_reads_close_to_source(tmp_path):
    yy, xx = np.mgrid[0:40, 0:48]
    rgb = np.stack([xx * 5, yy * 6, (xx + yy) * 2], axis=2).astype(np.uint8)
    path = tmp_path / "photo.JPG"  # upper-case suffix too
    Image.fromarray(rgb).save(path, quality=95)
    data = read_image(path)
    _check_layout(data, 40, 48)
    assert np.abs(data.pixels - rgb / 255.0).mean() < 0.02


def test_grayscale_png_is_replicated_to_three_channels(tmp_path):
    gray = np.arange(20 * 30, dtype=np.uint16).reshape(20, 30) % 256
    gray = gray.astype(np.uint8)
    path = tmp_path / "gray.png"
    Image.fromarray(gray, mode="L").save(path)
    data = read_image(path)
    _check_layout(data, 20, 30)
    for c in range(3):
        np.testing.assert_allclose(data.pixels[:, :, c], gray / 255.0, atol=1e-7)


def test_eight_bit_is_divided_by_255_not_stretched(tmp_path):
    gray = np.full((16, 16), 100, dtype=np.uint8)
    gray[0, 0] = 120
    path = tmp_path / "flat.png"
    Image.fromarray(gray).save(path)
    data = read_image(path)
    assert data.pixels[5, 5, 0] == pytest.approx(100 / 255.0)
    assert data.pixels[0, 0, 0] == pytest.approx(120 / 255.0)


def test_rgba_png_drops_alpha(tmp_path):
    rgba = np.dstack([_rgb(), np.full((24, 32), 7, dtype=np.uint8)])
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    data = read_image(path)
    _check_layout(data, 24, 32)
    assert data.source_shape == (24, 32, 4)
    np.testing.assert_allclose(data.pixels, rgba[:, :, :3] / 255.0, atol=1e-7)


def test_rgba_tiff_drops_alpha(tmp_path):
    rgba = np.dstack([_rgb(seed=3), np.zeros((24, 32), dtype=np.uint8)])
    path = tmp_path / "rgba.tif"
    tifffile.imwrite(path, rgba, photometric="rgb", extrasamples=["unassalpha"])
    data = read_image(path)
    _check_layout(data, 24, 32)
    np.testing.assert_allclose(data.pixels, rgba[:, :, :3] / 255.0, atol=1e-7)


def test_palette_png_is_converted(tmp_path):
    rgb = np.zeros((16, 16, 3), dtype=np.uint8)
    rgb[:8] = (255, 0, 0)
    rgb[8:] = (0, 0, 255)
    path = tmp_path / "palette.png"
    Image.fromarray(rgb).convert("P").save(path)
    data = read_image(path)
    _check_layout(data, 16, 16)
    np.testing.assert_allclose(data.pixels[0, 0], (1, 0, 0), atol=1e-6)
    np.testing.assert_allclose(data.pixels[15, 15], (0, 0, 1), atol=1e-6)


# --- bit depths ------------------------------------------------------------------------------

def test_dim_16bit_tiff_is_stretched_not_black_or_saturated(tmp_path):
    rng = np.random.default_rng(1)
    dim = rng.integers(100, 3001, (64, 64)).astype(np.uint16)
    path = tmp_path / "dim16.tif"
    tifffile.imwrite(path, dim)
    data = read_image(path)
    _check_layout(data, 64, 64)
    assert data.source_dtype == "uint16"
    pixels = data.pixels[:, :, 0]
    # /65535 would give a mean of ~0.024; saturation would give ~1
    assert 0.3 < pixels.mean() < 0.7
    assert pixels.std() > 0.2
    assert (pixels < 0.05).mean() < 0.1 and (pixels > 0.95).mean() < 0.1
    # order is preserved
    assert pixels[dim == dim.max()].min() > pixels[dim == dim.min()].max()


def test_16bit_png_is_read_and_stretched(tmp_path):
    dim = (np.arange(32 * 32).reshape(32, 32) % 2000 + 500).astype(np.uint16)
    path = tmp_path / "dim16.png"
    Image.fromarray(dim).save(path)
    data = read_image(path)
    _check_layout(data, 32, 32)
    assert 0.3 < data.pixels.mean() < 0.7
    assert data.pixels.std() > 0.2


def test_float_tiff_in_unit_range_is_kept(tmp_path):
    values = np.random.default_rng(2).random((20, 24)).astype(np.float32)
    path = tmp_path / "float.tif"
    tifffile.imwrite(path, values)
    data = read_image(path)
    _check_layout(data, 20, 24)
    np.testing.assert_array_equal(data.pixels[:, :, 1], values)


def test_float_tiff_outside_unit_range_is_stretched(tmp_path):
    values = (np.random.default_rng(2).random((20, 24)) * 5000 - 1000).astype(np.float32)
    path = tmp_path / "float_wide.tif"
    tifffile.imwrite(path, values)
    data = read_image(path)
    _check_layout(data, 20, 24)
    assert data.pixels.std() > 0.2
    assert np.corrcoef(data.pixels[:, :, 0].ravel(), values.ravel())[0, 1] > 0.99


def test_float_tiff_with_nan_gives_finite_pixels(tmp_path):
    values = np.random.default_rng(2).random((16, 16)).astype(np.float32) * 10
    values[3, 3] = np.nan
    path = tmp_path / "nan.tif"
    tifffile.imwrite(path, values)
    data = read_image(path)
    assert np.isfinite(data.pixels).all()


def test_constant_image_gives_zeros_not_nan():
    out = normalise_intensity(np.full((8, 8), 1234, dtype=np.uint16))
    assert np.isfinite(out).all()


# --- TIFF pages and channels ----------------------------------------------------------------

def _pages(n=5, h=16, w=20):
    return np.stack([np.full((h, w), 10 + 40 * i, dtype=np.uint8) for i in range(n)])


def test_multipage_tiff_needs_page(tmp_path):
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, _pages(), photometric="minisblack")
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert "stack.tif" in str(info.value)
    assert "page" in info.value.reason


@pytest.mark.parametrize("page", [0, 2, 4])
def test_multipage_tiff_reads_the_chosen_page(tmp_path, page):
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, _pages(), photometric="minisblack")
    data = read_image(path, page=page)
    _check_layout(data, 16, 20)
    assert data.pixels[0, 0, 0] * 255 == pytest.approx(10 + 40 * page)


def test_page_out_of_range_is_refused(tmp_path):
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, _pages(), photometric="minisblack")
    with pytest.raises(ImageReadError, match="page 7 does not exist"):
        read_image(path, page=7)


def test_tiff_written_one_page_at_a_time_needs_and_honours_page(tmp_path):
    """Each separately written page is its own TIFF series; they are still pages."""
    path = tmp_path / "pages.tif"
    with tifffile.TiffWriter(path) as writer:
        for plane in _pages(4):
            writer.write(plane)
    with pytest.raises(ImageReadError, match="page"):
        read_image(path)
    for page in range(4):
        assert read_image(path, page=page).pixels[0, 0, 0] * 255 == pytest.approx(10 + 40 * page)


def test_pillow_multiframe_tiff_needs_and_honours_page(tmp_path):
    path = tmp_path / "frames.tiff"
    frames = [Image.fromarray(p) for p in _pages(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with pytest.raises(ImageReadError, match="page"):
        read_image(path)
    assert read_image(path, page=2).pixels[0, 0, 0] * 255 == pytest.approx(90)


def test_five_channel_image_needs_channel(tmp_path):
    stack = np.stack([np.full((16, 20), 20 * (c + 1), dtype=np.uint8) for c in range(5)], axis=2)
    path = tmp_path / "five.tif"
    tifffile.imwrite(path, stack, photometric="minisblack", planarconfig="contig")
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert "five.tif" in str(info.value) and "channel" in info.value.reason
    data = read_image(path, channel=3)
    _check_layout(data, 16, 20)
    assert data.pixels[0, 0, 0] * 255 == pytest.approx(80)
    with pytest.raises(ImageReadError, match="channel 5 does not exist"):
        read_image(path, channel=5)


def test_channel_picks_one_channel_of_rgb(tmp_path):
    rgb = _rgb()
    path = tmp_path / "rgb.png"
    Image.fromarray(rgb).save(path)
    data = read_image(path, channel=1)
    for c in range(3):
        np.testing.assert_allclose(data.pixels[:, :, c], rgb[:, :, 1] / 255.0, atol=1e-7)


# --- refused files ---------------------------------------------------------------------------

def _assert_refused(path, **kwargs):
    with pytest.raises(ImageReadError) as info:
        read_image(path, **kwargs)
    error = info.value
    assert path.name in str(error)
    assert error.reason and len(error.reason) > 5
    assert str(error) == f"{path}: {error.reason}"
    assert "\n" not in str(error)
    return error


def test_truncated_png(tmp_path):
    whole = tmp_path / "whole.png"
    Image.fromarray(_rgb(96, 96, seed=5)).save(whole)
    data = whole.read_bytes()
    cut = tmp_path / "truncated.png"
    cut.write_bytes(data[: len(data) // 2])
    error = _assert_refused(cut)
    assert "truncated" in error.reason or "corrupt" in error.reason


def test_truncated_real_data_png(tmp_path, data_root):
    source = sorted((data_root / "vgg").glob("*cell.png"))[0]
    data = source.read_bytes()
    cut = tmp_path / source.name
    cut.write_bytes(data[: len(data) // 2])
    _assert_refused(cut)


def test_truncated_jpeg(tmp_path):
    whole = tmp_path / "whole.jpg"
    Image.fromarray(_rgb(96, 96, seed=6)).save(whole, quality=90)
    data = whole.read_bytes()
    cut = tmp_path / "truncated.jpg"
    cut.write_bytes(data[: len(data) // 2])
    _assert_refused(cut)


def test_corrupt_jpeg(tmp_path):
    whole = tmp_path / "whole.jpg"
    Image.fromarray(_rgb(64, 64, seed=7)).save(whole, quality=90)
    data = whole.read_bytes()
    garbage = np.random.default_rng(0).integers(0, 256, len(data) - 2, dtype=np.uint8).tobytes()
    bad = tmp_path / "corrupt.jpeg"
    bad.write_bytes(data[:2] + garbage)  # a JPEG start marker followed by noise
    _assert_refused(bad)


def test_text_file_named_png(tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("x,y\n1,2\nthis is not an image\n")
    error = _assert_refused(bad)
    assert "not an image" in error.reason


def test_text_file_named_tif(tmp_path):
    bad = tmp_path / "notes.tif"
    bad.write_text("this is not a TIFF\n" * 10)
    _assert_refused(bad)


def test_zero_byte_file(tmp_path):
    bad = tmp_path / "empty.png"
    bad.write_bytes(b"")
    error = _assert_refused(bad)
    assert "empty" in error.reason


def test_one_by_one_image(tmp_path):
    tiny = tmp_path / "dot.png"
    Image.fromarray(np.zeros((1, 1, 3), dtype=np.uint8)).save(tiny)
    error = _assert_refused(tiny)
    assert "1×1" in error.reason


def test_missing_file(tmp_path):
    error = _assert_refused(tmp_path / "nowhere.png")
    assert "does not exist" in error.reason


def test_folder_is_refused(tmp_path):
    folder = tmp_path / "folder.png"
    folder.mkdir()
    _assert_refused(folder)


@pytest.mark.parametrize("limit,as_error", [(100, False), (1000, True)])
def test_an_image_over_the_pixel_limit_is_refused_in_one_line(tmp_path, monkeypatch, limit, as_error):
    import warnings

    path = tmp_path / "huge.png"
    Image.fromarray(_rgb(40, 40)).save(path)
    # over twice the limit Pillow raises an error; between once and twice it warns (here made an error)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    with warnings.catch_warnings():
        if as_error:
            warnings.simplefilter("error", Image.DecompressionBombWarning)
        error = _assert_refused(path)
    assert "too large" in error.reason


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "image.gif"
    Image.fromarray(_rgb()).save(path)
    error = _assert_refused(path)
    assert ".gif" in error.reason
    assert not is_image_file(path)
    assert is_image_file(tmp_path / "a.TIFF") and is_image_file(tmp_path / "a.jpeg")


# --- resizing ---------------------------------------------------------------------------------

def test_resize_pixels_sizes_and_range():
    pixels = np.random.default_rng(0).random((40, 60, 3)).astype(np.float32)
    assert resize_pixels(pixels, 1.0) is pixels
    half = resize_pixels(pixels, 0.5)
    assert half.shape == (20, 30, 3)
    double = resize_pixels(pixels, 2.0)
    assert double.shape == (80, 120, 3)
    assert 0.0 <= double.min() and double.max() <= 1.0
    assert resize_pixels(pixels, 0.01).shape[:2] == (8, 8)


def test_resize_fitted_to_stride_makes_whole_cells():
    from countxplain.images import resize_pixels, stride_fitted_shape

    assert stride_fitted_shape(150, 150, 1.075, 8) == (160, 160)
    assert stride_fitted_shape(93, 125, 10 / 13, 8) == (72, 96)
    assert stride_fitted_shape(5, 300, 1.0, 8) == (8, 304)
    pixels = np.random.default_rng(0).random((93, 125, 3)).astype(np.float32)
    fitted = resize_pixels(pixels, 1.0, fit_stride=8)
    assert fitted.shape == (96, 128, 3)
    assert resize_pixels(pixels, 1.0).shape == pixels.shape
    assert resize_pixels(fitted, 1.0, fit_stride=8) is fitted  # already whole cells: untouched
