"""Reading microscopy images into one float layout.

Every reader returns ``ImageData.pixels``: float32, shape (H, W, 3), values in [0, 1].

Normalisation (documented, applied in this order):

* 8-bit integer data is divided by 255, exactly as the model was trained.
* Other integer data (12/16/32-bit) and float data outside [0, 1] are scaled with a
  robust percentile stretch: the 0.1th percentile maps to 0 and the 99.9th to 1,
  computed over all channels together, then clipped. Dim 16-bit images (which use a
  few thousand of 65,535 levels) therefore neither vanish to black nor saturate.
* Float data already inside [0, 1] is kept as it is.
* Grayscale is replicated to three channels; an alpha channel is dropped.

The network then subtracts the ImageNet mean and divides by its standard deviation
(``IMAGENET_MEAN`` / ``IMAGENET_STD``), as the CSRNet feature extractor expects.
"""

from __future__ import annotations

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
    raw = read_raw_array(path, page=page)
    pixels = to_rgb_float(raw, path, channel=channel)
    return ImageData(path=path, pixels=pixels, source_dtype=str(raw.dtype), source_shape=tuple(raw.shape))


def read_raw_array(path: Path, page: int | None = None) -> np.ndarray:
    """The file's pixel array as stored, (H, W) or (H, W, C)."""
    if not path.exists():
        raise ImageReadError(path, "file does not exist")
    if path.is_dir():
        raise ImageReadError(path, "is a folder, not an image")
    if path.stat().st_size == 0:
        raise ImageReadError(path, "file is empty (0 bytes)")
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ImageReadError(path, f"unsupported file type '{suffix}' (use PNG, JPEG, BMP or TIFF)")
    if suffix in TIFF_SUFFIXES:
        array = _read_tiff(path, page)
    else:
        array = _read_with_pillow(path)
    if array.ndim < 2 or min(array.shape[:2]) < MIN_SIDE:
        raise ImageReadError(path, f"image is {array.shape[1] if array.ndim > 1 else 0}×{array.shape[0]} pixels; "
                                   f"at least {MIN_SIDE}×{MIN_SIDE} is needed")
    return array


def _read_with_pillow(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            if image.mode == "P":
                image = image.convert("RGBA" if "transparency" in image.info else "RGB")
            elif image.mode in ("1", "CMYK", "YCbCr", "LAB", "HSV"):
                image = image.convert("L" if image.mode == "1" else "RGB")
            elif image.mode == "LA":
                image = image.convert("L")
            return np.asarray(image)
    except UnidentifiedImageError:
        raise ImageReadError(path, "not an image file, or an image format that cannot be read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageReadError(path, f"image is too large to read safely ({error})") from None
    except OSError as error:
        reason = str(error)
        if "truncated" in reason.lower() or "broken" in reason.lower():
            reason = "image data is truncated or corrupt"
        raise ImageReadError(path, reason) from None
    except (ValueError, SyntaxError) as error:
        raise ImageReadError(path, f"corrupt image ({error})") from None


def _read_tiff(path: Path, page: int | None) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            all_series = list(tif.series)
            first = all_series[0]
            if len(all_series) > 1 and all(s.shape == first.shape and s.dtype == first.dtype and s.axes == first.axes
                                           for s in all_series):
                # pages written one at a time are stored as one series each: they are pages too
                data = np.stack([s.asarray() for s in all_series])
                axes = "Q" + first.axes
            else:
                data = first.asarray()
                axes = first.axes
    except Exception as error:  # tifffile raises many kinds for corrupt data
        raise ImageReadError(path, f"corrupt or unreadable TIFF ({type(error).__name__}: {error})") from None
    return _tiff_to_hwc(path, data, axes, page)


def _tiff_to_hwc(path: Path, data: np.ndarray, axes: str, page: int | None) -> np.ndarray:
    """Bring a TIFF series to (H, W) or (H, W, C); extra axes need an explicit page."""
    axes = axes.upper()
    if "Y" not in axes or "X" not in axes:
        raise ImageReadError(path, f"TIFF has no image plane (axes {axes})")
    keep = {"Y", "X", "S"}
    extra = [(i, a) for i, a in enumerate(axes) if a not in keep]
    extra_sizes = [data.shape[i] for i, _ in extra]
    n_planes = int(np.prod(extra_sizes)) if extra else 1
    order = [i for i, _ in extra] + [axes.index("Y"), axes.index("X")] + ([axes.index("S")] if "S" in axes else [])
    data = np.transpose(data, order).reshape((n_planes,) + tuple(data.shape[i] for i in order[len(extra):]))
    channel_only = len(extra) == 1 and extra[0][1] == "C" and "S" not in axes and n_planes in (3, 4)
    if channel_only and page is None:
        return np.moveaxis(data, 0, -1)
    if n_planes == 1:
        return data[0]
    if page is None:
        raise ImageReadError(path, f"TIFF holds {n_planes} pages/planes (axes {axes}); choose one with page=N "
                                   f"(--page N on the command line)")
    if not 0 <= page < n_planes:
        raise ImageReadError(path, f"page {page} does not exist; the TIFF holds {n_planes} (0–{n_planes - 1})")
    return data[page]


def to_rgb_float(raw: np.ndarray, path: Path, channel: int | None = None) -> np.ndarray:
    """Convert a stored array to float32 (H, W, 3) in [0, 1] (see the module docstring)."""
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
    values = array.astype(np.float32)
    finite = np.isfinite(values)
    if not finite.all():
        values = np.where(finite, values, 0.0).astype(np.float32)
    if np.issubdtype(array.dtype, np.floating) and values.min() >= 0.0 and values.max() <= 1.0:
        return values
    flat = values.reshape(-1)
    sample = flat[:: max(1, flat.size // 1_000_000)]
    lo, hi = np.percentile(sample, STRETCH_PERCENTILES)
    if hi <= lo:
        hi = values.max()
        lo = values.min()
    if hi <= lo:
        return np.zeros_like(values)
    return np.clip((values - lo) / (hi - lo), 0.0, 1.0)


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
