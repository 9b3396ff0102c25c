"""An image read at the page and channel asked for, or, where none is asked for, at the first page of a multi-page
file and the first channel of one with more channels than colour holds; with what the file offers (its pages and
channels) and the pixel size it states, so a caller can offer the other pages and channels and report which were
counted."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .pixel_size import PixelSize, read_pixel_size
from .planes import Planes, image_planes
from .reading import ImageData, read_image


@dataclass
class ChosenImage:
    data: ImageData
    planes: Planes
    page: int | None  # the page read; None: the file holds one, or its colour planes were read together
    channel: int | None  # the channel read; None: all of them, as gray or colour
    pixel_size: PixelSize | None

    @property
    def channels(self) -> int:
        """Channels of the page read, as stored (palette and CMYK already as RGB)."""
        shape = self.data.source_shape
        return int(shape[2]) if len(shape) == 3 else 1


def read_chosen(path: str | Path, page: int | None = None, channel: int | None = None) -> ChosenImage:
    """Read ``path`` at ``page`` and ``channel`` (0-based; None: the defaults above); ``ImageReadError`` as
    ``read_image``."""
    planes = image_planes(path)
    page = planes.default_page if page is None else page
    channel = planes.default_channel if channel is None else channel
    data = read_image(path, page=page, channel=channel)
    chosen = ChosenImage(data, planes, page, channel, read_pixel_size(path))
    if channel is None and chosen.channels == 2:
        chosen.channel = 0  # two channels are read as gray and alpha: the first is what is counted
    return chosen
