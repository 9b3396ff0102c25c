"""An image file read into ``ImageData``: the file checked (exists, regular, not empty, a suffix read here), its
decoder chosen by content rather than by name (tifffile for TIFF, Pillow for the rest), the decoders' messages kept
from the terminal, and the stored array brought to float RGB."""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ImageReadError
from .channels import to_rgb_float
from .decoder_messages import decoder_messages_caught, with_first_message
from .pillow_reader import read_with_pillow
from .refusals import MIN_SIDE
from .tiff_reader import TIFF_MAGIC, read_tiff

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
TIFF_SUFFIXES = (".tif", ".tiff")


@dataclass
class ImageData:
    """An image ready for the network and for display."""

    path: Path
    pixels: np.ndarray  # float32 (H, W, 3) in [0, 1]
    source_dtype: str
    source_shape: tuple[int, ...]

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])


def is_image_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_image(path: str | Path, page: int | None = None, channel: int | None = None) -> ImageData:
    """Read an image file; raise ``ImageReadError`` naming the file and the reason.

    ``page`` picks one page of a multi-page TIFF, ``channel`` one channel of an image
    with more channels than RGB(A) can hold (or any single channel to view alone).
    """
    path = Path(path)
    with decoder_messages_caught() as heard:
        try:
            raw = read_raw_array(path, page=page)
            pixels = to_rgb_float(raw, path, channel=channel)
        except ImageReadError as error:
            raise with_first_message(error, heard) from None
        except MemoryError:
            raise ImageReadError(path, "not enough memory to read this image") from None
    return ImageData(path=path, pixels=pixels, source_dtype=str(raw.dtype), source_shape=tuple(raw.shape))


def read_raw_array(path: Path, page: int | None = None) -> np.ndarray:
    """The file's pixel array, (H, W) or (H, W, C): as stored, except that palette, CMYK and
    MinIsWhite images are already in gray or RGB."""
    path = Path(path)
    info = _file_status(path)
    if stat.S_ISDIR(info.st_mode):
        raise ImageReadError(path, "is a folder, not an image")
    if not stat.S_ISREG(info.st_mode):
        raise ImageReadError(path, f"is {_file_kind(info.st_mode)}, not an image file")
    if info.st_size == 0:
        raise ImageReadError(path, "file is empty (0 bytes)")
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ImageReadError(path, f"unsupported file type '{suffix}' (use PNG, JPEG, BMP or TIFF)")
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except OSError as error:
        raise ImageReadError(path, f"cannot be read ({error.strerror or error})") from None
    if magic in TIFF_MAGIC:
        array = read_tiff(path, page, info.st_size)
    else:
        array = read_with_pillow(path)
    if array.ndim < 2 or min(array.shape[:2]) < MIN_SIDE:
        raise ImageReadError(path, f"image is {array.shape[1] if array.ndim > 1 else 0}×{array.shape[0]} pixels; "
                                   f"at least {MIN_SIDE}×{MIN_SIDE} is needed")
    return array


def _file_status(path: Path) -> os.stat_result:
    try:
        return os.stat(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ImageReadError(path, "is a symbolic link that leads back to itself (a link loop)") from None
        if error.errno in (errno.ENOENT, errno.ENOTDIR):
            if os.path.lexists(path):
                raise ImageReadError(path, "is a symbolic link to a file that does not exist") from None
            raise ImageReadError(path, "file does not exist") from None
        raise ImageReadError(path, f"cannot be read ({error.strerror or error})") from None


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"
