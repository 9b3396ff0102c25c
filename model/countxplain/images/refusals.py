"""The rules every image reader applies before it decodes pixels: no side shorter than ``MIN_SIDE``, no more
pixels than ``pixel_limit()`` declared in the header, no pixel type other than bool, integer or real, and a page
that exists where a file holds several."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ImageReadError

MIN_SIDE = 8
# Pillow's own default limit (a quarter gigabyte of RGB), applied to every format.
MAX_IMAGE_PIXELS = 89_478_485
# Channels, pages or planes read at once may hold at most this many times the pixel limit in values.
MAX_VALUES_PER_PIXEL_LIMIT = 4


def pixel_limit() -> int:
    """The most pixels (width × height) an image may declare: ``MAX_IMAGE_PIXELS``, or Pillow's
    ``Image.MAX_IMAGE_PIXELS`` where that has been set lower."""
    from PIL import Image

    pillow = Image.MAX_IMAGE_PIXELS
    return int(min(MAX_IMAGE_PIXELS, pillow)) if pillow else MAX_IMAGE_PIXELS


def refuse_too_many_pixels(path: Path, width: int, height: int) -> None:
    """Refuse, from the declared size alone, an image over ``pixel_limit()``."""
    limit = pixel_limit()
    if width * height > limit:
        raise ImageReadError(path, f"image is too large to read safely: its header declares {width}×{height} = "
                                   f"{width * height:,} pixels, over the limit of {limit:,}")


def refuse_dtype(path: Path, dtype) -> None:
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        raise ImageReadError(path, f"pixels are complex numbers ({dtype}); save their magnitude or one part "
                                   "as a real-valued image")
    if dtype.kind not in "biuf":
        raise ImageReadError(path, f"unsupported pixel type {dtype}")


def check_page(path: Path, page: int | None, count: int, what: str = "pages/planes") -> None:
    """A multi-page image needs an explicit page, and one that exists."""
    if page is None:
        raise ImageReadError(path, f"TIFF holds {count} {what}; choose one with page=N (--page N on the command line)")
    if not 0 <= page < count:
        raise ImageReadError(path, f"page {page} does not exist; the TIFF holds {count} (0–{count - 1})")
