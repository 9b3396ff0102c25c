"""PNG, JPEG and BMP files (and TIFFs whose compression tifffile cannot decode here) read through Pillow: palette,
bilevel, CMYK, YCbCr and other colour modes converted to gray or RGB, and each of Pillow's failures told as a
one-line reason."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np

from ..errors import ImageReadError
from .refusals import check_page, pixel_limit, refuse_too_many_pixels

PILLOW_FORMATS = ("PNG", "JPEG", "BMP")
SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8", "JPEG"), (b"BM", "BMP"))
OTHER_FORMATS = ((b"GIF87a", "GIF"), (b"GIF89a", "GIF"), (b"RIFF", "WebP"), (b"PK\x03\x04", "ZIP"),
                 (b"%PDF", "PDF"), (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"))
PILLOW_MODES = {"1", "L", "P", "PA", "LA", "La", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "I",
                "F", "I;16", "I;16L", "I;16B", "I;16N"}


def read_with_pillow(path: Path, tiff: bool = False, page: int | None = None) -> np.ndarray:
    """PNG, JPEG and BMP through Pillow; TIFF too (``tiff``) where tifffile lacks the codec."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path, formats=("TIFF",) if tiff else PILLOW_FORMATS) as image:
            refuse_too_many_pixels(path, *image.size)
            frames = getattr(image, "n_frames", 1) if tiff else 1
            if frames > 1:
                check_page(path, page, frames, "pages")
                image.seek(page)
                refuse_too_many_pixels(path, *image.size)
            if image.mode not in PILLOW_MODES:
                raise ImageReadError(path, f"unsupported pixel layout (Pillow mode {image.mode})")
            image.load()
            return np.asarray(_in_gray_or_rgb(image))
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(path, _unidentified_reason(path)) from None
    except Image.DecompressionBombError as error:
        declared = re.search(r"\((\d+) pixels\)", str(error))
        amount = f"{int(declared.group(1)):,} pixels" if declared else "more pixels than can be read"
        raise ImageReadError(path, f"image is too large to read safely: its header declares {amount}, "
                                   f"over the limit of {pixel_limit():,}") from None
    except OSError as error:
        raise ImageReadError(path, _os_error_reason(error)) from None
    except (ValueError, SyntaxError, TypeError, EOFError, IndexError, struct.error) as error:
        if "decompressed data too large" in str(error).lower():
            raise ImageReadError(path, "a metadata chunk is too large to read safely: it inflates beyond "
                                       "Pillow's limit for text and profiles") from None
        raise ImageReadError(path, f"corrupt image ({error})") from None


def _in_gray_or_rgb(image):
    """A loaded Pillow image in a mode whose array is gray, gray + alpha dropped, RGB or RGBA."""
    if image.mode in ("P", "PA"):
        return image.convert("RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB")
    if image.mode in ("1", "CMYK", "YCbCr", "LAB", "HSV"):
        return image.convert("L" if image.mode == "1" else "RGB")
    if image.mode in ("LA", "La"):
        return image.convert("L")
    if image.mode in ("RGBa", "RGBX"):
        return image.convert("RGB")
    return image


def _os_error_reason(error: OSError) -> str:
    reason = str(error)
    if "truncated" in reason.lower() or "broken" in reason.lower():
        return "image data is truncated or corrupt"
    return f"corrupt or unsupported image ({reason})" if reason else "image data is corrupt"


def _unidentified_reason(path: Path) -> str:
    """Why Pillow could not open a file: a damaged header of a format read here, another format, or neither."""
    try:
        with open(path, "rb") as handle:
            start = handle.read(12)
    except OSError:
        start = b""
    for signature, name in SIGNATURES:
        if start.startswith(signature):
            return f"corrupt or truncated {name} header (the file starts as a {name} but cannot be decoded)"
    for signature, name in OTHER_FORMATS:
        if start.startswith(signature) and (name != "WebP" or start[8:12] == b"WEBP"):
            return f"is a {name} file, not an image format read here (use PNG, JPEG, BMP or TIFF)"
    return "not an image file, or an image format that cannot be read"
