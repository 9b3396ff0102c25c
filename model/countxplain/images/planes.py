"""The pages and channels an image file offers to ``read_image(page=, channel=)``, from its header alone.

A TIFF's pages are all its planes other than the image plane (Y, X, samples): pages, Z, T and C planes
flattened in the file's axis order; 3 or 4 planes of a C axis are read together as colour unless a page is
chosen. Other formats hold one page."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .decoder_messages import decoder_messages_caught
from .tiff_reader import TIFF_MAGIC, series_layout


@dataclass(frozen=True)
class Planes:
    pages: int = 1
    page_axes: str = ""  # the axes the pages run over, e.g. 'Z', 'CZ', 'Q' (unnamed pages)
    page_shape: tuple[int, ...] = ()  # their lengths, in that order
    colour_planes: bool = False  # 3 or 4 C planes, read as colour when no page is chosen
    samples: int = 1  # values per pixel of one page, as stored

    @property
    def default_page(self) -> int | None:
        """The page read when none is chosen: the first of several, None where the file is read whole."""
        return 0 if self.pages > 1 and not self.colour_planes else None

    @property
    def default_channel(self) -> int | None:
        """The first channel where a page holds more than RGBA can (the reader refuses those whole)."""
        return 0 if self.samples > 4 else None

    def page_position(self, page: int) -> tuple[int, ...]:
        """Where ``page`` lies along ``page_axes`` (0-based)."""
        return tuple(int(i) for i in np.unravel_index(page, self.page_shape)) if self.page_shape else ()


def image_planes(path: str | Path) -> Planes:
    """The file's ``Planes``; one page for a file that is not a TIFF or whose header cannot be read (the reader
    then says why)."""
    path = Path(path)
    if not path.is_file():  # a FIFO would block the open; the reader refuses what is not a file
        return Planes()
    try:
        with open(path, "rb") as handle:
            if handle.read(4) not in TIFF_MAGIC:
                return Planes()
        import tifffile

        with decoder_messages_caught(), tifffile.TiffFile(path) as tif:
            _, _, layout = series_layout(path, tif)
    except Exception:  # noqa: BLE001 (tifffile raises many kinds for a damaged header)
        return Planes()
    axes = "".join(a for _, a in layout.extra)
    return Planes(pages=layout.n_planes, page_axes=axes if layout.n_planes > 1 else "",
                  page_shape=tuple(layout.shape[i] for i, _ in layout.extra) if layout.n_planes > 1 else (),
                  colour_planes=layout.channel_only, samples=layout.samples)
