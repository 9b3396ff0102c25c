"""TIFF files read through tifffile: pages written one series each stacked into one, the page asked for picked
out, pixel data the header places past the end of the file refused, and compressions only Pillow decodes here
(LZW, JPEG) handed to the Pillow reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ImageReadError
from .pillow_reader import read_with_pillow
from .refusals import check_page, refuse_dtype, refuse_too_many_pixels
from .tiff_colour import tiff_colour
from .tiff_layout import TiffLayout

TIFF_MAGIC = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")


def read_tiff(path: Path, page: int | None, file_size: int) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            all_series, stacked, layout = series_layout(path, tif)
            first = all_series[0]
            refuse_too_many_pixels(path, layout.width, layout.height)
            refuse_dtype(path, first.dtype)
            keyframe = first.keyframe
            colour = tiff_colour(path, keyframe)
            if layout.n_planes > 1 and not (layout.channel_only and page is None):
                check_page(path, page, layout.n_planes, f"pages/planes (axes {layout.axes})")
                one_page_each = len(first.pages) == layout.n_planes and tuple(keyframe.shape) == layout.plane_shape
                if stacked or one_page_each:
                    pages = list(all_series[page].pages) if stacked else [first.pages[page]]
                    _refuse_missing_data(path, pages, file_size, keyframe)
                    plane = all_series[page].asarray() if stacked else tif.asarray(key=page, series=first)
                    return colour(TiffLayout(path, keyframe.axes.upper(), plane.shape).pick(plane, None))
            layout.refuse_too_many_values()
            pages = [p for s in (all_series if stacked else [first]) for p in s.pages]
            _refuse_missing_data(path, pages, file_size, keyframe, series=None if stacked else first)
            data = np.stack([s.asarray() for s in all_series]) if stacked else first.asarray()
            return colour(layout.pick(data, page))
    except (ImageReadError, MemoryError):
        raise
    except ValueError as error:
        if "imagecodecs" in str(error):  # a compression only Pillow decodes here (LZW, JPEG)
            return read_with_pillow(path, tiff=True, page=page)
        raise ImageReadError(path, f"corrupt or unreadable TIFF ({error})") from None
    except Exception as error:  # tifffile raises many kinds for corrupt data
        raise ImageReadError(path, f"corrupt or unreadable TIFF ({type(error).__name__}: {error})") from None


def series_layout(path: Path, tif) -> tuple[list, bool, TiffLayout]:
    """The file's image series, whether they are stacked as pages, and the layout of them all."""
    all_series = [s for s in tif.series if len(s.shape) and min(s.shape) > 0]
    if not all_series:
        raise ImageReadError(path, "TIFF holds no image")
    first = all_series[0]
    # pages written one at a time are stored as one series each: they are pages too
    stacked = len(all_series) > 1 and all(s.shape == first.shape and s.dtype == first.dtype and
                                          s.axes == first.axes for s in all_series)
    axes = ("Q" + first.axes) if stacked else first.axes
    shape = ((len(all_series),) + tuple(first.shape)) if stacked else tuple(first.shape)
    return all_series, stacked, TiffLayout(path, axes.upper(), shape)


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
