"""A TIFF's photometric interpretation turned into gray or RGB as the file means it: MinIsWhite inverted, palette
indices looked up in the colormap, CMYK converted, JPEG-compressed YCbCr kept as decoded; other colour spaces
refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ImageReadError


def tiff_colour(path: Path, page):
    """A function taking an (H, W[, S]) plane of ``page`` to gray or RGB, by its photometric."""
    from tifffile import PHOTOMETRIC

    photometric = page.photometric
    if photometric in (PHOTOMETRIC.MINISBLACK, PHOTOMETRIC.RGB):
        return lambda plane: plane
    if photometric == PHOTOMETRIC.YCBCR and page.compression in (6, 7):  # JPEG: decoded to RGB
        return lambda plane: plane
    if photometric == PHOTOMETRIC.MINISWHITE:
        bits = int(page.bitspersample)
        return lambda plane: _inverted(plane, bits)
    if photometric == PHOTOMETRIC.PALETTE:
        colormap = page.colormap
        if colormap is None:
            raise ImageReadError(path, "palette TIFF has no colormap")
        return lambda plane: _through_colormap(path, plane, np.asarray(colormap))
    if photometric == PHOTOMETRIC.SEPARATED:
        if int(getattr(page, "inkset", 1) or 1) != 1 or page.samplesperpixel < 4:
            raise ImageReadError(path, "TIFF holds ink separations other than CMYK; only CMYK is read")
        return _cmyk_to_rgb
    name = getattr(photometric, "name", str(photometric))
    raise ImageReadError(path, f"TIFF colour space {name} is not supported (use gray, RGB, palette or CMYK)")


def _inverted(plane: np.ndarray, bits: int) -> np.ndarray:
    if plane.dtype == bool:
        return ~plane
    if plane.dtype.kind == "u":
        top = min((1 << bits) - 1, int(np.iinfo(plane.dtype).max)) if bits else int(np.iinfo(plane.dtype).max)
        return (top - np.minimum(plane, top)).astype(plane.dtype)
    if plane.dtype.kind == "f":
        finite = plane[np.isfinite(plane)]
        if finite.size and finite.min() >= 0 and finite.max() <= 1:
            return 1 - plane
    return -plane.astype(np.float64 if plane.dtype.itemsize > 4 else np.float32)


def _through_colormap(path: Path, plane: np.ndarray, colormap: np.ndarray) -> np.ndarray:
    if plane.ndim != 2 or not np.issubdtype(plane.dtype, np.integer):
        raise ImageReadError(path, "palette TIFF has more than one sample per pixel or non-integer indices")
    colormap = colormap.reshape(3, -1)
    if int(plane.max()) >= colormap.shape[1] or int(plane.min()) < 0:
        raise ImageReadError(path, f"palette index {int(plane.max())} lies beyond the "
                                   f"{colormap.shape[1]}-colour colormap")
    rgb = colormap[:, plane].transpose(1, 2, 0)
    for step in (257, 256):  # 8-bit colours stored as 16-bit (v * 257, or v << 8 as Pillow writes them)
        if (colormap % step == 0).all() and colormap.max() // step <= 255:
            return (rgb // step).astype(np.uint8)
    if colormap.max() <= 255:  # some writers store 8-bit values unscaled
        return rgb.astype(np.uint8)
    return rgb.astype(np.float32) / 65535.0


def _cmyk_to_rgb(plane: np.ndarray) -> np.ndarray:
    ink = plane[:, :, :4].astype(np.float32)
    if np.issubdtype(plane.dtype, np.integer):
        ink /= float(np.iinfo(plane.dtype).max)
    ink = np.clip(ink, 0.0, 1.0)
    rgb = (1.0 - ink[:, :, :3]) * (1.0 - ink[:, :, 3:4])
    return (np.round(rgb * 255)).astype(np.uint8) if plane.dtype == np.uint8 else rgb
