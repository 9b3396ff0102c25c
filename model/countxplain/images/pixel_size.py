"""The physical size of an image's pixels as its file states it: the OME-XML ``PhysicalSizeX``/``Y`` (with their
units), ImageJ's calibration (its ``unit`` with the resolution tags), or the TIFF resolution tags in centimetres or
inches. None where the file states none, or only a print resolution: inches at 1,200 dpi or less (72, 96, 300 dpi
are what non-microscopy software writes) are no pixel size. Never raises: a file whose metadata cannot be read has
no known pixel size, and the image reader says what is wrong with it."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from .decoder_messages import decoder_messages_caught
from .tiff_reader import TIFF_MAGIC

MICROMETRES_PER = {"pm": 1e-6, "Å": 1e-4, "nm": 1e-3, "µm": 1.0, "μm": 1.0, "um": 1.0, "micron": 1.0,
                   "microns": 1.0, "micrometer": 1.0, "micrometre": 1.0, "mm": 1e3, "cm": 1e4, "m": 1e6,
                   "in": 25400.0, "inch": 25400.0}
PRINT_DPI = 1200.0
INCH_UNIT, CENTIMETER_UNIT = 2, 3


@dataclass(frozen=True)
class PixelSize:
    """A pixel's width and height in micrometres, and where they were found."""

    x_um: float
    y_um: float
    source: str  # 'OME metadata', 'ImageJ calibration', 'TIFF resolution' (or, in the app, 'given')

    @property
    def area_um2(self) -> float:
        return self.x_um * self.y_um

    @property
    def length_um(self) -> float:
        """A length of no set direction (a cell's diameter) per pixel: the side of a square pixel of the same area."""
        return math.sqrt(self.area_um2)


def pixel_size_of(x_um, y_um, source: str) -> PixelSize | None:
    """A ``PixelSize`` when both sides are positive finite numbers, else None."""
    try:
        x, y = float(x_um), float(y_um)
    except (TypeError, ValueError):
        return None
    return PixelSize(x, y, source) if all(math.isfinite(v) and v > 0 for v in (x, y)) else None


def read_pixel_size(path: str | Path) -> PixelSize | None:
    """The pixel size a TIFF or OME-TIFF states (OME, then ImageJ, then the resolution tags); None for other files."""
    path = Path(path)
    if not path.is_file():  # a FIFO would block the open
        return None
    try:
        with open(path, "rb") as handle:
            if handle.read(4) not in TIFF_MAGIC:
                return None
        import tifffile

        with decoder_messages_caught(), tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            return (_from_ome(tif.ome_metadata) if tif.is_ome else None) or _from_imagej(tif, page) \
                or _from_resolution(page)
    except Exception:  # noqa: BLE001 (tifffile raises many kinds for damaged metadata: then no pixel size is known)
        return None


def _micrometres(value, unit: str | None) -> float | None:
    factor = MICROMETRES_PER.get(_unit_text(unit or "µm"))
    try:
        return float(value) * factor if factor is not None and value is not None else None
    except (TypeError, ValueError):
        return None


def _unit_text(unit: str) -> str:
    text = unit.strip().replace("\\u00B5", "µ").replace("\\u00b5", "µ")  # ImageJ writes µ escaped
    return text if text == "Å" else text.lower()


def _from_ome(xml: str | None) -> PixelSize | None:
    if not xml:
        return None
    root = ElementTree.fromstring(xml)
    pixels = next((element for element in root.iter() if element.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    if pixels is None or pixels.get("PhysicalSizeX") is None:
        return None
    x = _micrometres(pixels.get("PhysicalSizeX"), pixels.get("PhysicalSizeXUnit"))
    y = _micrometres(pixels.get("PhysicalSizeY", pixels.get("PhysicalSizeX")),
                     pixels.get("PhysicalSizeYUnit", pixels.get("PhysicalSizeXUnit")))
    return pixel_size_of(x, y, "OME metadata")


def _from_imagej(tif, page) -> PixelSize | None:
    unit = (tif.imagej_metadata or {}).get("unit") if tif.is_imagej else None
    if not unit or _unit_text(str(unit)) in ("in", "inch"):
        return None  # ImageJ's 'inch' is the resolution tags' print resolution
    per_unit = _micrometres(1.0, str(unit))
    x_res, y_res = page.resolution
    if per_unit is None or not x_res or not y_res:
        return None
    return pixel_size_of(per_unit / x_res, per_unit / y_res, "ImageJ calibration")


def _from_resolution(page) -> PixelSize | None:
    unit = int(page.resolutionunit)
    x_res, y_res = page.resolution
    if unit not in (INCH_UNIT, CENTIMETER_UNIT) or not x_res or not y_res:
        return None
    per_inch = 1.0 if unit == INCH_UNIT else 2.54
    if max(x_res, y_res) * per_inch <= PRINT_DPI:
        return None
    per_unit = 25400.0 if unit == INCH_UNIT else 10000.0
    return pixel_size_of(per_unit / x_res, per_unit / y_res, "TIFF resolution")
