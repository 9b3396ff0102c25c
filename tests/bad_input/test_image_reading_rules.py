"""The reading rules of issue 31: NaN and Inf pixels filled by the stated rule, palettes read through
their palette, bombs refused from the header before any pixel data is read, decoder warnings and
log messages kept off the terminal."""

from __future__ import annotations

import logging
import os
import resource
import subprocess
import sys
import warnings

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageFile

from countxplain.errors import ImageReadError, shown_path
from countxplain.images import normalise_intensity, read_image, to_rgb_float
from helpers.bad_inputs.files import (
    bmp_declaring,
    broken_second_page,
    cmyk_tiff,
    jpeg_declaring,
    png_declaring,
    tiff_declaring,
    zlib_bomb_tiff,
)
from helpers.bad_inputs.pixels import SAMPLE, cells, complex_pixels, gray, tiff_bytes


def _fluorescence() -> np.ndarray:
    return np.asarray(Image.open(SAMPLE).convert("RGB"))


def _every_35th(array: np.ndarray, value) -> np.ndarray:
    spoilt = array.astype(np.float32).copy()
    spoilt.reshape(-1, *spoilt.shape[2:])[::35] = value
    return spoilt


# --- NaN and Inf ---------------------------------------------------------------------------

def test_a_scattered_non_finite_pixel_takes_the_mean_of_its_finite_neighbours():
    ramp = np.arange(100, dtype=np.float32).reshape(10, 10) / 100  # inside [0, 1]: not stretched
    spoilt = ramp.copy()
    spoilt[4, 4] = np.nan
    spoilt[7, 2] = np.inf
    out = normalise_intensity(spoilt)
    # on a linear ramp the mean of the 8 neighbours is the missing value itself
    np.testing.assert_allclose(out, ramp, atol=1e-6)


def test_non_finite_pixels_are_left_out_of_the_stretch():
    values = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    spoilt = values.copy()
    spoilt[::5, ::7] = np.inf
    spoilt[1, 1] = -np.inf
    out = normalise_intensity(spoilt)
    finite = np.isfinite(spoilt)
    np.testing.assert_array_equal(out[finite], values[finite])  # still inside [0, 1]: kept as it is


def test_a_wide_nan_area_becomes_the_median_of_the_finite_values():
    values = np.random.default_rng(1).integers(100, 4000, (64, 64)).astype(np.float32)
    spoilt = values.copy()
    spoilt[10:50, 10:50] = np.nan
    out = normalise_intensity(spoilt)
    assert np.isfinite(out).all()
    inside = out[20:40, 20:40]  # beyond the two rounds of neighbours
    finite = spoilt[np.isfinite(spoilt)]
    lo, hi = np.percentile(finite, (0.1, 99.9))
    np.testing.assert_allclose(inside, (np.median(finite) - lo) / (hi - lo), atol=1e-6)
    np.testing.assert_allclose(out[:5], np.clip((values[:5] - lo) / (hi - lo), 0, 1), atol=1e-6)


def test_an_image_of_only_nan_is_refused(tmp_path):
    path = tmp_path / "blank.tif"
    tifffile.imwrite(path, np.full((16, 16), np.nan, np.float32))
    with pytest.raises(ImageReadError, match="no pixel has a finite value"):
        read_image(path)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_pixels_count_as_the_clean_image(shipped_model_path, tmp_path, value, one_torch_thread):
    from countxplain.inference import Counter
    from countxplain.modelfile import load_model

    counter = Counter(load_model(shipped_model_path), device="cpu")
    clean = _fluorescence()[:, :, 1].astype(np.float32) * (1000 / 255)
    tifffile.imwrite(tmp_path / "clean.tif", clean)
    tifffile.imwrite(tmp_path / "spoilt.tif", _every_35th(clean, value))
    counts = [counter.count(read_image(tmp_path / name).pixels, estimate_cell_size=False).count
              for name in ("clean.tif", "spoilt.tif")]
    assert counts[0] > 5
    assert counts[1] == pytest.approx(counts[0], rel=0.01)


# --- palettes and colour -----------------------------------------------------------------------

@pytest.mark.parametrize("fmt,colours", [("PNG", 48), ("BMP", 48), ("BMP", 16), ("TIFF", 48), ("TIFF", 2)])
def test_a_palette_image_is_read_through_its_palette(tmp_path, fmt, colours):
    palette = Image.fromarray(cells()).quantize(colours)
    path = tmp_path / f"palette.{fmt.lower()}"
    palette.save(path, format=fmt)
    assert Image.open(path).mode in ("P", "L", "1")
    expected = np.asarray(palette.convert("RGB")) / 255.0
    np.testing.assert_allclose(read_image(path).pixels, expected, atol=1e-6)


def test_a_tiff_colormap_of_full_16_bit_colours_is_scaled_not_stretched(tmp_path):
    indices = np.tile(np.arange(4, dtype=np.uint8), (16, 4))
    colormap = np.zeros((3, 256), np.uint16)
    colormap[:, :4] = [[0, 1000, 30000, 65535], [0, 2000, 40000, 65535], [0, 3000, 50000, 65535]]
    path = tmp_path / "colormap.tif"
    tifffile.imwrite(path, indices, photometric="palette", colormap=colormap)
    pixels = read_image(path).pixels
    np.testing.assert_allclose(pixels[0, 1], colormap[:, 1] / 65535, atol=1e-6)
    np.testing.assert_allclose(pixels[0, 3], (1, 1, 1), atol=1e-6)


def test_cmyk_and_min_is_white_tiffs_read_as_the_image_they_show(tmp_path):
    rgb = cells()
    (tmp_path / "cmyk.tif").write_bytes(cmyk_tiff())
    tifffile.imwrite(tmp_path / "white.tif", 255 - rgb[:, :, 1], photometric="miniswhite")
    np.testing.assert_allclose(read_image(tmp_path / "cmyk.tif").pixels, rgb / 255.0, atol=1e-6)
    np.testing.assert_allclose(read_image(tmp_path / "white.tif").pixels[:, :, 0], rgb[:, :, 1] / 255.0, atol=1e-6)


def test_complex_pixels_are_refused_without_a_warning(tmp_path):
    path = tmp_path / "complex.tif"
    tifffile.imwrite(path, complex_pixels())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageReadError, match="complex"):
            read_image(path)
    assert caught == []
    with pytest.raises(ImageReadError, match="complex"):
        to_rgb_float(complex_pixels(), path)


# --- bombs -------------------------------------------------------------------------------------

BOMBS = {
    "zlib 30000x30000.tif": zlib_bomb_tiff,
    "zeros 10000x10000.png": lambda: png_declaring(10_000, 10_000),
    "header.png": lambda: png_declaring(100_000, 100_000, rows_of_zeros=1),
    "header.jpg": lambda: jpeg_declaring(65_000, 65_000),
    "header.bmp": lambda: bmp_declaring(50_000, 50_000),
    "header.tif": lambda: tiff_declaring(100_000, 100_000),
}


@pytest.mark.parametrize("name", BOMBS)
def test_a_bomb_is_refused_from_its_header_before_any_pixel_is_decoded(tmp_path, monkeypatch, name):
    path = tmp_path / name
    path.write_bytes(BOMBS[name]())
    assert path.stat().st_size < 200_000

    def no_decoding(*args, **kwargs):
        raise AssertionError("pixel data was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    for owner in (tifffile.TiffFile, tifffile.TiffPage, tifffile.TiffPageSeries):
        monkeypatch.setattr(owner, "asarray", no_decoding)
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert "too large to read safely" in info.value.reason
    assert "\n" not in str(info.value)


def test_the_30000_pixel_zlib_tiff_is_refused_in_one_line_without_using_memory(tmp_path):
    """Decoding this file would take 900 MB; its refusal runs in a process limited to 2 GiB of address
    space (so a regression fails here instead of exhausting the machine) and reports its peak memory."""
    path = tmp_path / "bomb.tif"
    path.write_bytes(zlib_bomb_tiff())
    code = ("import sys\nfrom countxplain.images import read_image\nfrom countxplain.errors import ImageReadError\n"
            "try:\n    read_image(sys.argv[1])\nexcept ImageReadError as error:\n    print(f'error: {error}', "
            "file=sys.stderr)\n    sys.exit(1)\n")

    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    peak_file = tmp_path / "peak"
    code = (f"import atexit, pathlib\natexit.register(lambda: pathlib.Path({str(peak_file)!r}).write_text("
            f"[l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]))\n" + code)
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                            preexec_fn=limit_memory, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=300)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: image is too large to read safely")
    assert "30000×30000" in lines[0]
    peak_kib = int(peak_file.read_text().split()[1])  # VmHWM: this process's own peak, unlike ru_maxrss after fork
    assert peak_kib * 1024 < 300 * 2 ** 20  # the decoded image alone would be 900 MB


def test_an_image_in_pillows_warning_range_is_refused_without_the_warning(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.fromarray(cells()[:64, :64]).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3000)  # 64×64 = 4096: over it, under twice it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageReadError, match="4,096 pixels, over the limit of 3,000"):
            read_image(path)
    assert caught == []


# --- decoder messages --------------------------------------------------------------------------

def test_tifffile_log_messages_never_reach_the_terminal(tmp_path, capfd, caplog):
    path = tmp_path / "broken second page.tif"
    path.write_bytes(broken_second_page())
    logger = logging.getLogger("tifffile")
    handlers, propagate = list(logger.handlers), logger.propagate
    with caplog.at_level(logging.DEBUG):
        data = read_image(path)
    np.testing.assert_allclose(data.pixels[:, :, 0], gray() / 255.0, atol=1e-7)
    assert capfd.readouterr().err == ""
    assert not [r for r in caplog.records if r.name.startswith("tifffile")]
    assert (logger.handlers, logger.propagate) == (handlers, propagate)  # as they were
    with caplog.at_level(logging.DEBUG):  # the same file read by tifffile itself does log
        tifffile.imread(path)
    assert [r for r in caplog.records if r.name.startswith("tifffile")]


def test_a_decoder_message_that_explains_a_refusal_is_folded_into_its_reason(tmp_path, capfd):
    path = tmp_path / "header only.tif"
    path.write_bytes(tiff_bytes(gray())[:8])
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert "invalid offset" in info.value.reason and "<tifffile" not in info.value.reason
    assert capfd.readouterr().err == ""


# --- what is not an image file ---------------------------------------------------------------

def test_links_that_lead_nowhere_and_pipes_say_what_they_are(tmp_path):
    os.symlink("loop.png", tmp_path / "loop.png")
    os.symlink("missing.png", tmp_path / "dangling.png")
    os.mkfifo(tmp_path / "pipe.png")
    for name, words in [("loop.png", "link loop"), ("dangling.png", "link to a file that does not exist"),
                        ("pipe.png", "named pipe")]:
        with pytest.raises(ImageReadError, match=words):
            read_image(tmp_path / name)


def test_a_file_name_is_shown_on_one_line():
    name = os.fsdecode(b"a\nb\tc\xe9 d.png")
    assert shown_path(name) == "a\\nb\\tc\\xe9 d.png"
    assert str(ImageReadError(name, "reason")) == "a\\nb\\tc\\xe9 d.png: reason"
    assert shown_path("plain é.png") == "plain é.png"
