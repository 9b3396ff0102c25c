"""Reading microscopy images into one float layout.

Every reader returns ``ImageData.pixels``: float32, shape (H, W, 3), values in [0, 1].

Normalisation (documented, applied in this order):

* 8-bit integer data is divided by 255, exactly as the model was trained.
* Other integer data (12/16/32-bit) and float data outside [0, 1] are scaled with a
  robust percentile stretch: the 0.1th percentile maps to 0 and the 99.9th to 1,
  computed over all channels together, then clipped. Dim 16-bit images (which use a
  few thousand of 65,535 levels) therefore neither vanish to black nor saturate.
* Float data already inside [0, 1] is kept as it is.
* NaN and infinite pixels are ignored when deciding the above (the stretch percentiles
  and the [0, 1] test use the finite values only) and are then filled, channel by channel:
  a pixel with finite pixels among its 8 neighbours takes their mean (done twice, so holes
  up to 4 pixels wide close from their edges), any other takes the median of the
  channel's finite values. Scattered missing pixels thus take their surroundings' value
  and barely change the count; a large masked-out area becomes flat median background.
  An image with no finite value at all is refused.
* Grayscale is replicated to three channels; an alpha channel is dropped.

Colour is read as the file means it: palette images (PNG, BMP, TIFF with a colormap) through
their palette, never as indices; CMYK as RGB; a TIFF that stores 0 as white
(``MinIsWhite``) inverted. Complex pixel values and colour spaces other than gray, RGB,
palette, CMYK and YCbCr are refused.

The decoder is chosen by the file's content (a PNG named ``.tif`` is read as PNG); the
name must still end in one of ``IMAGE_SUFFIXES``. An image whose header declares more than
``pixel_limit()`` pixels is refused before any pixel data is read, and TIFF pixel data that
runs past the end of the file is refused rather than filled in. Warnings and log messages of
the decoders (Pillow, tifffile, numpy) never reach the terminal: a refusal's reason carries
the first of them when they explain it.

The network then subtracts the ImageNet mean and divides by its standard deviation
(``IMAGENET_MEAN`` / ``IMAGENET_STD``), as the CSRNet feature extractor expects.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import stat
import struct
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ImageReadError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
TIFF_SUFFIXES = (".tif", ".tiff")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MIN_SIDE = 8
STRETCH_PERCENTILES = (0.1, 99.9)
FILL_ROUNDS = 2
# Pillow's own default limit (a quarter gigabyte of RGB), applied to every format.
MAX_IMAGE_PIXELS = 89_478_485
# Channels, pages or planes read at once may hold at most this many times the pixel limit in values.
MAX_VALUES_PER_PIXEL_LIMIT = 4
PILLOW_FORMATS = ("PNG", "JPEG", "BMP")
TIFF_MAGIC = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")
SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8", "JPEG"), (b"BM", "BMP"))
OTHER_FORMATS = ((b"GIF87a", "GIF"), (b"GIF89a", "GIF"), (b"RIFF", "WebP"), (b"PK\x03\x04", "ZIP"),
                 (b"%PDF", "PDF"), (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"))
PILLOW_MODES = {"1", "L", "P", "PA", "LA", "La", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "I",
                "F", "I;16", "I;16L", "I;16B", "I;16N"}

# Image reading swaps the process-wide warning filters and the tifffile logger's handlers;
# one read at a time keeps two threads from restoring each other's state.
_READ_LOCK = threading.RLock()


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


def pixel_limit() -> int:
    """The most pixels (width × height) an image may declare: ``MAX_IMAGE_PIXELS``, or Pillow's
    ``Image.MAX_IMAGE_PIXELS`` where that has been set lower."""
    from PIL import Image

    pillow = Image.MAX_IMAGE_PIXELS
    return int(min(MAX_IMAGE_PIXELS, pillow)) if pillow else MAX_IMAGE_PIXELS


def read_image(path: str | Path, page: int | None = None, channel: int | None = None) -> ImageData:
    """Read an image file; raise ``ImageReadError`` naming the file and the reason.

    ``page`` picks one page of a multi-page TIFF, ``channel`` one channel of an image
    with more channels than RGB(A) can hold (or any single channel to view alone).
    """
    path = Path(path)
    with _decoder_messages_caught() as heard:
        try:
            raw = read_raw_array(path, page=page)
            pixels = to_rgb_float(raw, path, channel=channel)
        except ImageReadError as error:
            raise _with_first_message(error, heard) from None
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
        array = _read_tiff(path, page, info.st_size)
    else:
        array = _read_with_pillow(path)
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


@contextlib.contextmanager
def _decoder_messages_caught():
    """Collect the warnings and tifffile log messages raised inside; none reaches the terminal."""
    heard: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            heard.append(record.getMessage())

    logger = logging.getLogger("tifffile")
    handler = Collect(logging.WARNING)
    with _READ_LOCK:
        propagate = logger.propagate
        logger.addHandler(handler)
        logger.propagate = False
        try:
            with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
                warnings.simplefilter("always")
                try:
                    yield heard
                finally:
                    heard.extend(str(w.message) for w in caught)
        finally:
            logger.removeHandler(handler)
            logger.propagate = propagate


def _with_first_message(error: ImageReadError, heard: list[str]) -> ImageReadError:
    """The error, with the first decoder message added to its reason where it says something new."""
    for message in heard:
        line = re.sub(r"^<[^>]*>\s*", "", " ".join(message.split()))  # tifffile's '<tifffile.TiffPages @8>'
        if line and line not in error.reason:
            if len(line) > 160:
                line = line[:159] + "…"
            return ImageReadError(error.path, f"{error.reason} (decoder: {line})")
    return error


def refuse_too_many_pixels(path: Path, width: int, height: int) -> None:
    """Refuse, from the declared size alone, an image over ``pixel_limit()``."""
    limit = pixel_limit()
    if width * height > limit:
        raise ImageReadError(path, f"image is too large to read safely: its header declares {width}×{height} = "
                                   f"{width * height:,} pixels, over the limit of {limit:,}")


def _read_with_pillow(path: Path, tiff: bool = False, page: int | None = None) -> np.ndarray:
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
            if image.mode in ("P", "PA"):
                image = image.convert("RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB")
            elif image.mode in ("1", "CMYK", "YCbCr", "LAB", "HSV"):
                image = image.convert("L" if image.mode == "1" else "RGB")
            elif image.mode in ("LA", "La"):
                image = image.convert("L")
            elif image.mode in ("RGBa", "RGBX"):
                image = image.convert("RGB")
            return np.asarray(image)
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
        reason = str(error)
        if "truncated" in reason.lower() or "broken" in reason.lower():
            reason = "image data is truncated or corrupt"
        else:
            reason = f"corrupt or unsupported image ({reason})" if reason else "image data is corrupt"
        raise ImageReadError(path, reason) from None
    except (ValueError, SyntaxError, TypeError, EOFError, IndexError, struct.error) as error:
        if "decompressed data too large" in str(error).lower():
            raise ImageReadError(path, "a metadata chunk is too large to read safely: it inflates beyond "
                                       "Pillow's limit for text and profiles") from None
        raise ImageReadError(path, f"corrupt image ({error})") from None


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


def check_page(path: Path, page: int | None, count: int, what: str = "pages/planes") -> None:
    """A multi-page image needs an explicit page, and one that exists."""
    if page is None:
        raise ImageReadError(path, f"TIFF holds {count} {what}; choose one with page=N (--page N on the command line)")
    if not 0 <= page < count:
        raise ImageReadError(path, f"page {page} does not exist; the TIFF holds {count} (0–{count - 1})")


def _read_tiff(path: Path, page: int | None, file_size: int) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            all_series = [s for s in tif.series if len(s.shape) and min(s.shape) > 0]
            if not all_series:
                raise ImageReadError(path, "TIFF holds no image")
            first = all_series[0]
            # pages written one at a time are stored as one series each: they are pages too
            stacked = len(all_series) > 1 and all(s.shape == first.shape and s.dtype == first.dtype and
                                                  s.axes == first.axes for s in all_series)
            axes = ("Q" + first.axes) if stacked else first.axes
            shape = ((len(all_series),) + tuple(first.shape)) if stacked else tuple(first.shape)
            layout = _TiffLayout(path, axes.upper(), shape)
            refuse_too_many_pixels(path, layout.width, layout.height)
            _refuse_dtype(path, first.dtype)
            keyframe = first.keyframe
            colour = _tiff_colour(path, keyframe)
            if layout.n_planes > 1 and not (layout.channel_only and page is None):
                check_page(path, page, layout.n_planes, f"pages/planes (axes {layout.axes})")
                one_page_each = len(first.pages) == layout.n_planes and tuple(keyframe.shape) == layout.plane_shape
                if stacked or one_page_each:
                    pages = list(all_series[page].pages) if stacked else [first.pages[page]]
                    _refuse_missing_data(path, pages, file_size, keyframe)
                    plane = all_series[page].asarray() if stacked else tif.asarray(key=page, series=first)
                    return colour(_TiffLayout(path, keyframe.axes.upper(), plane.shape).pick(plane, None))
            layout.refuse_too_many_values()
            pages = [p for s in (all_series if stacked else [first]) for p in s.pages]
            _refuse_missing_data(path, pages, file_size, keyframe, series=None if stacked else first)
            data = np.stack([s.asarray() for s in all_series]) if stacked else first.asarray()
            return colour(layout.pick(data, page))
    except (ImageReadError, MemoryError):
        raise
    except ValueError as error:
        if "imagecodecs" in str(error):  # a compression only Pillow decodes here (LZW, JPEG)
            return _read_with_pillow(path, tiff=True, page=page)
        raise ImageReadError(path, f"corrupt or unreadable TIFF ({error})") from None
    except Exception as error:  # tifffile raises many kinds for corrupt data
        raise ImageReadError(path, f"corrupt or unreadable TIFF ({type(error).__name__}: {error})") from None


class _TiffLayout:
    """Where a TIFF series keeps its image plane (Y, X, samples S) and its other axes (pages)."""

    def __init__(self, path: Path, axes: str, shape: tuple[int, ...]):
        self.path, self.axes, self.shape = path, axes, tuple(int(n) for n in shape)
        if "Y" not in axes or "X" not in axes or len(axes) != len(shape):
            raise ImageReadError(path, f"TIFF has no image plane (axes {axes})")
        self.height, self.width = self.shape[axes.index("Y")], self.shape[axes.index("X")]
        self.samples = self.shape[axes.index("S")] if "S" in axes else 1
        self.extra = [(i, a) for i, a in enumerate(axes) if a not in "YXS"]
        self.n_planes = int(np.prod([self.shape[i] for i, _ in self.extra])) if self.extra else 1
        self.channel_only = (len(self.extra) == 1 and self.extra[0][1] == "C" and "S" not in axes
                             and self.n_planes in (3, 4))
        page_axes = [a for a in axes if a in "YXS"]
        self.plane_shape = tuple(self.shape[axes.index(a)] for a in page_axes)

    def refuse_too_many_values(self) -> None:
        values = int(np.prod(self.shape))
        most = pixel_limit() * MAX_VALUES_PER_PIXEL_LIMIT
        if values > most:
            raise ImageReadError(self.path, f"TIFF is too large to read safely: its header declares {values:,} values "
                                            f"(shape {'×'.join(map(str, self.shape))}, axes {self.axes}), over the "
                                            f"limit of {most:,}")

    def _planes(self, data: np.ndarray) -> np.ndarray:
        order = ([i for i, _ in self.extra] + [self.axes.index("Y"), self.axes.index("X")]
                 + ([self.axes.index("S")] if "S" in self.axes else []))
        data = data.reshape(self.shape)
        planes = tuple(data.shape[i] for i in order[len(self.extra):])
        return np.transpose(data, order).reshape((self.n_planes,) + planes)

    def pick(self, data: np.ndarray, page: int | None) -> np.ndarray:
        """(H, W) or (H, W, C) of ``page``; 3 or 4 planes of a C axis are channels when no page is asked for."""
        planes = self._planes(data)
        if self.channel_only and page is None:
            return np.moveaxis(planes, 0, -1)
        if self.n_planes == 1:
            return planes[0]
        check_page(self.path, page, self.n_planes, f"pages/planes (axes {self.axes})")
        return planes[page]


def _refuse_dtype(path: Path, dtype) -> None:
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        raise ImageReadError(path, f"pixels are complex numbers ({dtype}); save their magnitude or one part "
                                   "as a real-valued image")
    if dtype.kind not in "biuf":
        raise ImageReadError(path, f"unsupported pixel type {dtype}")


def _refuse_missing_data(path: Path, pages, file_size: int, keyframe, series=None) -> None:
    """Refuse pixel data that the header places past the end of the file, or that is absent."""
    if series is not None and getattr(series, "dataoffset", None) is not None:
        end = int(series.dataoffset) + int(series.nbytes)
        if end > file_size:
            raise ImageReadError(path, f"image data is truncated: the file has {file_size:,} bytes but its "
                                       f"pixel data runs to byte {end:,}")
        return
    for index, tiff_page in enumerate(pages):
        offsets = getattr(tiff_page, "dataoffsets", None)
        counts = getattr(tiff_page, "databytecounts", None)
        if offsets is None or counts is None:
            continue
        if not len(offsets) or not all(counts):
            raise ImageReadError(path, f"image data is missing (page {index} has a strip or tile of 0 bytes)")
        end = max(int(o) + int(c) for o, c in zip(offsets, counts))
        if end > file_size:
            raise ImageReadError(path, f"image data is truncated: the file has {file_size:,} bytes but its "
                                       f"pixel data runs to byte {end:,}")
        bits = int(keyframe.bitspersample)
        if getattr(keyframe, "compression", 1) == 1 and bits % 8 == 0:
            needed = int(np.prod(keyframe.shape)) * bits // 8
            if sum(int(c) for c in counts) < needed:
                raise ImageReadError(path, f"image data is truncated: page {index} holds "
                                           f"{sum(int(c) for c in counts):,} bytes of the {needed:,} its size needs")


def _tiff_colour(path: Path, page):
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


def to_rgb_float(raw: np.ndarray, path: Path, channel: int | None = None) -> np.ndarray:
    """Convert a stored array to float32 (H, W, 3) in [0, 1] (see the module docstring)."""
    _refuse_dtype(path, raw.dtype)
    array = raw
    if array.ndim == 3 and channel is not None:
        if not 0 <= channel < array.shape[2]:
            raise ImageReadError(path, f"channel {channel} does not exist; the image has {array.shape[2]}")
        array = array[:, :, channel]
    if array.ndim == 3:
        n_channels = array.shape[2]
        if n_channels == 1:
            array = array[:, :, 0]
        elif n_channels == 2:
            array = array[:, :, 0]  # gray + alpha
        elif n_channels in (3, 4):
            array = array[:, :, :3]
        else:
            raise ImageReadError(path, f"image has {n_channels} channels; choose one with channel=N "
                                       f"(--channel N on the command line)")
    elif array.ndim != 2:
        raise ImageReadError(path, f"unsupported array shape {raw.shape}")
    if array.dtype.kind == "f" and not np.isfinite(array).any():
        raise ImageReadError(path, "no pixel has a finite value (all are NaN or infinite)")
    scaled = normalise_intensity(array)
    if scaled.ndim == 2:
        scaled = np.repeat(scaled[:, :, None], 3, axis=2)
    return np.ascontiguousarray(scaled, dtype=np.float32)


def normalise_intensity(array: np.ndarray) -> np.ndarray:
    """Map stored intensities to float32 in [0, 1] (rules in the module docstring)."""
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype == bool:
        return array.astype(np.float32)
    work = np.float64 if array.dtype.itemsize > 4 else np.float32  # float64 beyond float32's range stays finite
    values = array.astype(work)
    finite = np.isfinite(values)
    all_finite = bool(finite.all())
    known = values if all_finite else values[finite]
    if known.size == 0:
        return np.zeros(values.shape, dtype=np.float32)
    if np.issubdtype(array.dtype, np.floating) and known.min() >= 0.0 and known.max() <= 1.0:
        lo, hi = 0.0, 1.0
    else:
        flat = known.reshape(-1)
        sample = flat[:: max(1, flat.size // 1_000_000)]
        lo, hi = np.percentile(sample, STRETCH_PERCENTILES)
        if hi <= lo:
            lo, hi = known.min(), known.max()
    if not all_finite:
        values = _filled_non_finite(values, finite)
    if hi <= lo:
        return np.zeros(values.shape, dtype=np.float32)
    if (lo, hi) == (0.0, 1.0):
        return values.astype(np.float32)
    return np.clip((values - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def _filled_non_finite(values: np.ndarray, finite: np.ndarray) -> np.ndarray:
    """Non-finite values replaced channel by channel: by the mean of the finite values around them
    (``FILL_ROUNDS`` rounds of 3×3 neighbourhoods, each reaching one pixel further into a hole),
    and where none is that close, by the median of the channel's finite values."""
    values = values.copy()
    planes = [(values, finite)] if values.ndim == 2 else [(values[:, :, c], finite[:, :, c])
                                                          for c in range(values.shape[2])]
    fallback = np.median(values[finite])
    for plane, ok in planes:
        median = np.median(plane[ok]) if ok.any() else fallback
        ok = ok.copy()
        plane[~ok] = 0
        for _ in range(FILL_ROUNDS):
            missing = ~ok
            if not missing.any():
                break
            total, count = _box3_sum(np.where(ok, plane, 0)), _box3_sum(ok.astype(plane.dtype))
            reached = missing & (count > 0)
            plane[reached] = total[reached] / count[reached]
            ok |= reached
        if not ok.all():
            plane[~ok] = median
    return values


def _box3_sum(plane: np.ndarray) -> np.ndarray:
    """The sum over each pixel's 3×3 neighbourhood (zeros beyond the edge)."""
    padded = np.pad(plane, 1)
    total = np.zeros_like(plane)
    for dy in range(3):
        for dx in range(3):
            total += padded[dy:dy + plane.shape[0], dx:dx + plane.shape[1]]
    return total


def stride_fitted_shape(height: int, width: int, factor: float, stride: int) -> tuple[int, int]:
    """The (height, width) nearest to ``factor`` times the given one whose sides are whole multiples
    of ``stride`` (at least one stride): each axis is scaled by ``factor`` within half a stride."""
    return (max(stride, int(round(height * factor / stride)) * stride),
            max(stride, int(round(width * factor / stride)) * stride))


def resize_pixels(pixels: np.ndarray, factor: float, fit_stride: int | None = None) -> np.ndarray:
    """Resize float (H, W, 3) pixels by ``factor`` with antialiasing; sides at least 8.

    With ``fit_stride``, each side becomes the nearest whole multiple of it instead
    (``stride_fitted_shape``), so the two axes may be scaled a little differently."""
    h, w = pixels.shape[:2]
    if fit_stride:
        new_h, new_w = stride_fitted_shape(h, w, factor, fit_stride)
    else:
        new_h, new_w = max(MIN_SIDE, round(h * factor)), max(MIN_SIDE, round(w * factor))
    if (new_h, new_w) == (h, w):
        return pixels
    import torch
    import torch.nn.functional as F

    tensor = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None]
    out = F.interpolate(tensor, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=factor < 1.0)
    return out[0].permute(1, 2, 0).clamp(0, 1).numpy()
