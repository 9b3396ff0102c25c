"""What the app knows about each image it lists (Qt-free): status, count, boxes, cell size.

Entries are keyed by the image path, the same tag the job runner uses, so a result is
always stored under the image it answers. Full-resolution pixels are kept for a few
recently used images only (``PixelCache``); everything else is small.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

QUEUED, COUNTING, DONE, ERROR, CANCELLED = "queued", "counting", "done", "error", "cancelled"
_box_ids = itertools.count(1)


@dataclass
class Box:
    """A user rectangle in original image pixels (x0 < x1, y0 < y1)."""

    x0: float
    y0: float
    x1: float
    y1: float
    box_id: int = field(default_factory=lambda: next(_box_ids))

    def normalised(self) -> "Box":
        x0, x1 = sorted((self.x0, self.x1))
        y0, y1 = sorted((self.y0, self.y1))
        return Box(x0, y0, x1, y1, self.box_id)


@dataclass
class ImageEntry:
    path: str
    status: str = QUEUED
    width: int | None = None
    height: int | None = None
    thumbnail: np.ndarray | None = None
    analysis: object | None = None  # engine.Analysis
    error: str = ""
    cell_diameter_px: float | None = None  # None: automatic (the model's estimate, countxplain.scale_policy)
    boxes: list[Box] = field(default_factory=list)
    dots: object | None = None  # dots.DotAnnotation, read from the sidecar when the image is first shown
    dot_counts: dict | None = None  # dots per type in the sidecar, for the list until ``dots`` is read (None: not read)
    page: int | None = None  # the page and channel asked for (0-based; None: the first of several)
    channel: int | None = None
    planes: object | None = None  # countxplain.images.planes.Planes, once the file is read
    channels: int = 1  # channels of the page read
    read_page: int | None = None  # the page and channel the pixels shown (and counted) come from
    read_channel: int | None = None
    file_pixel_size: object | None = None  # countxplain.images.pixel_size.PixelSize the file states

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def folder(self) -> str:
        return str(Path(self.path).parent)

    @property
    def count(self) -> float | None:
        return self.analysis.count if self.analysis is not None and self.status == DONE else None


def box_count(entry: ImageEntry | None, box: Box) -> float | None:
    """The count inside ``box`` from the entry's density map, or None before it is counted."""
    if entry is None or entry.analysis is None or entry.count is None:
        return None
    from countxplain.explain import count_in_rect

    b = box.normalised()
    return count_in_rect(entry.analysis.result, b.x0, b.y0, b.x1, b.y1)


def short_reason(path: str, message: str) -> str:
    """Library errors read 'path: reason'; the list shows the reason alone."""
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message


class PixelCache:
    """Full-resolution pixels of the most recently used images (least recently used goes)."""

    def __init__(self, capacity: int = 6) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()

    def get(self, path: str) -> np.ndarray | None:
        pixels = self._items.get(path)
        if pixels is not None:
            self._items.move_to_end(path)
        return pixels

    def put(self, path: str, pixels: np.ndarray) -> None:
        self._items[path] = pixels
        self._items.move_to_end(path)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def __contains__(self, path: str) -> bool:
        return path in self._items

    def discard(self, path: str) -> None:
        self._items.pop(path, None)


class ImageStore:
    """Entries in the order they were added."""

    def __init__(self) -> None:
        self._entries: dict[str, ImageEntry] = {}
        self.pixels = PixelCache()

    def add(self, path: str) -> ImageEntry | None:
        """A new entry, or None if the path is listed already."""
        if path in self._entries:
            return None
        entry = self._entries[path] = ImageEntry(path)
        return entry

    def remove(self, path: str) -> None:
        """Forget an image (its file and its dot file are never touched)."""
        self._entries.pop(path, None)
        self.pixels.discard(path)

    def rename(self, old: str, new: str) -> ImageEntry:
        """List the entry of ``old`` under ``new`` (a copy of the same image) in its place in the order."""
        entry = self._entries[old]
        entry.path = new
        self._entries = {new if p == old else p: e for p, e in self._entries.items()}
        pixels = self.pixels.get(old)
        self.pixels.discard(old)
        if pixels is not None:
            self.pixels.put(new, pixels)
        return entry

    def get(self, path: str) -> ImageEntry | None:
        return self._entries.get(path)

    def __getitem__(self, path: str) -> ImageEntry:
        return self._entries[path]

    def __contains__(self, path: str) -> bool:
        return path in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[ImageEntry]:
        return list(self._entries.values())

    def paths(self) -> list[str]:
        return list(self._entries)

    def in_folder(self, folder: str) -> list[ImageEntry]:
        return [e for e in self._entries.values() if e.folder == folder]
