"""The pixel size a TIFF states (OME, ImageJ, resolution tags), and the pages and channels a file offers."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from countxplain.images.choice import read_chosen
from countxplain.images.pixel_size import read_pixel_size
from countxplain.images.planes import image_planes

PLANE = np.arange(32 * 32, dtype=np.uint16).reshape(32, 32)


def test_ome_physical_size_with_its_units(tmp_path):
    tifffile.imwrite(tmp_path / "a.ome.tif", PLANE, ome=True, metadata={"PhysicalSizeX": 0.5, "PhysicalSizeY": 0.25})
    tifffile.imwrite(tmp_path / "b.ome.tif", PLANE, ome=True,
                     metadata={"PhysicalSizeX": 650, "PhysicalSizeXUnit": "nm"})
    a, b = read_pixel_size(tmp_path / "a.ome.tif"), read_pixel_size(tmp_path / "b.ome.tif")
    assert (a.x_um, a.y_um, a.source) == (0.5, 0.25, "OME metadata")
    assert a.area_um2 == pytest.approx(0.125)
    assert (b.x_um, b.y_um) == pytest.approx((0.65, 0.65))


@pytest.mark.parametrize("unit", ["um", "micron", "\\u00B5m"])
def test_imagej_calibration(tmp_path, unit):
    tifffile.imwrite(tmp_path / "a.tif", PLANE, imagej=True, resolution=(4.0, 2.0), metadata={"unit": unit})
    size = read_pixel_size(tmp_path / "a.tif")
    assert (size.x_um, size.y_um, size.source) == (0.25, 0.5, "ImageJ calibration")


def test_resolution_tags_in_centimetres(tmp_path):
    tifffile.imwrite(tmp_path / "a.tif", PLANE, resolution=(20_000, 20_000), resolutionunit="CENTIMETER")
    size = read_pixel_size(tmp_path / "a.tif")
    assert (size.x_um, size.source) == (pytest.approx(0.5), "TIFF resolution")


def test_no_pixel_size_is_made_up(tmp_path):
    tifffile.imwrite(tmp_path / "plain.tif", PLANE)
    tifffile.imwrite(tmp_path / "print.tif", PLANE, resolution=(300, 300), resolutionunit="INCH")
    tifffile.imwrite(tmp_path / "pixels.tif", PLANE, imagej=True, resolution=(1, 1), metadata={"unit": "pixel"})
    Image.fromarray(PLANE.astype(np.uint8)).save(tmp_path / "a.png", dpi=(5000, 5000))
    (tmp_path / "broken.tif").write_bytes(b"II*\0not a tiff at all")
    for name in ("plain.tif", "print.tif", "pixels.tif", "a.png", "broken.tif", "missing.tif"):
        assert read_pixel_size(tmp_path / name) is None, name


def test_pages_and_channels_offered_and_the_defaults_read(tmp_path):
    stack = np.stack([PLANE, PLANE[::-1], PLANE.T])
    tifffile.imwrite(tmp_path / "pages.tif", stack, photometric="minisblack")
    tifffile.imwrite(tmp_path / "two.tif", np.stack([PLANE, PLANE[::-1]], axis=-1), photometric="minisblack",
                     planarconfig="contig")
    tifffile.imwrite(tmp_path / "zc.tif", np.zeros((3, 2, 32, 32), np.uint8), imagej=True, metadata={"axes": "ZCYX"})
    pages = image_planes(tmp_path / "pages.tif")
    assert (pages.pages, pages.default_page) == (3, 0)
    zc = image_planes(tmp_path / "zc.tif")
    assert (zc.pages, zc.page_axes, zc.page_shape, zc.page_position(3)) == (6, "ZC", (3, 2), (1, 1))
    first, second = read_chosen(tmp_path / "pages.tif"), read_chosen(tmp_path / "pages.tif", page=1)
    assert (first.page, second.page, first.channel) == (0, 1, None)
    assert not np.array_equal(first.data.pixels, second.data.pixels)
    two = read_chosen(tmp_path / "two.tif")
    assert (two.planes.pages, two.channels, two.channel) == (1, 2, 0)
    assert read_chosen(tmp_path / "two.tif", channel=1).channel == 1
    Image.fromarray(PLANE.astype(np.uint8)).save(tmp_path / "a.png")
    png = read_chosen(tmp_path / "a.png")
    assert (png.planes.pages, png.page, png.channel, png.channels, png.pixel_size) == (1, None, None, 1, None)
