"""The pixels of the bad-input corpus: a 96×96 crop of a bundled fluorescence sample, in colour, gray, scaled float,
complex, bool and palette forms, and its encodings as PNG, JPEG, BMP and TIFF bytes."""

from __future__ import annotations

import io

import numpy as np
import tifffile
from PIL import Image

from helpers import REPO_ROOT

SAMPLE = REPO_ROOT / "resources" / "samples" / "dsb2018-fluo-693bc645.png"


def cells() -> np.ndarray:
    """A 96×96 RGB crop of a bundled fluorescence sample (uint8)."""
    rgb = np.asarray(Image.open(SAMPLE).convert("RGB"))
    return np.ascontiguousarray(rgb[64:160, 64:160])


def gray() -> np.ndarray:
    return cells()[:, :, 1]


def scaled_float(with_value=None, every=35) -> np.ndarray:
    """The gray crop as float32 in 0-1000, with 1 pixel in ``every`` set to ``with_value``."""
    values = gray().astype(np.float32) * (1000.0 / 255.0)
    if with_value is not None:
        values.reshape(-1)[::every] = with_value
    return values


def palette_image(colours=48) -> Image.Image:
    return Image.fromarray(cells()).quantize(colours)


def transparent_palette_image() -> Image.Image:
    image = palette_image()
    image.info["transparency"] = 0
    return image


def complex_pixels() -> np.ndarray:
    values = scaled_float()
    return (values + 1j * values[::-1]).astype(np.complex64)


def bool_pixels() -> np.ndarray:
    return gray() > 40


# --- encodings ---------------------------------------------------------------------------------

def png_bytes(array: np.ndarray, **save) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", **save)
    return buffer.getvalue()


def jpeg_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def bmp_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="BMP")
    return buffer.getvalue()


def tiff_bytes(array: np.ndarray, **write) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, **write)
    return buffer.getvalue()
