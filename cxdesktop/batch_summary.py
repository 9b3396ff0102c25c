"""Counts across the listed images (Qt-free): per image, per parent folder, and over all of them.

Only counted images take part (``ImageEntry.count`` is a float stored by the worker; nothing here
touches a tensor). The SD is the sample SD (n - 1); one image has an SD of 0. The CSV holds one row
per image in list order, then one summary row per folder (in the order folders first appear),
then one row for all images; it is written atomically (``export.atomic_write``).
"""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .export import atomic_write

CSV_COLUMNS = ("kind", "image", "folder", "count", "n", "mean", "sd", "min", "max")


@dataclass(frozen=True)
class ImageCount:
    image: str  # the file name
    path: str
    folder: str  # the parent folder's full path
    count: float


@dataclass(frozen=True)
class Stats:
    n: int
    mean: float
    sd: float
    low: float
    high: float


@dataclass(frozen=True)
class FolderSummary:
    folder: str
    stats: Stats

    @property
    def name(self) -> str:
        return Path(self.folder).name or self.folder


def counted(entries: Iterable) -> list[ImageCount]:
    """The entries (``store.ImageEntry``, in the order given) that have a count."""
    rows = []
    for entry in entries:
        if entry is not None and entry.count is not None:
            rows.append(ImageCount(entry.name, entry.path, entry.folder, float(entry.count)))
    return rows


def describe(values: list[float]) -> Stats | None:
    if not values:
        return None
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return Stats(len(values), statistics.fmean(values), sd, min(values), max(values))


def by_folder(rows: list[ImageCount]) -> list[FolderSummary]:
    """One summary per parent folder, in the order folders first appear in ``rows``."""
    groups: dict[str, list[float]] = {}
    for row in rows:
        groups.setdefault(row.folder, []).append(row.count)
    return [FolderSummary(folder, describe(values)) for folder, values in groups.items()]


def summary_line(rows: list[ImageCount]) -> str:
    stats = describe([row.count for row in rows])
    if stats is None:
        return "No counted images yet"
    images = "1 image" if stats.n == 1 else f"{stats.n} images"
    return f"{images}, mean {stats.mean:.1f} ± {stats.sd:.1f} SD, min–max {stats.low:.1f}–{stats.high:.1f}"


def _stat_cells(stats: Stats) -> list[str]:
    return [str(stats.n), f"{stats.mean:.4f}", f"{stats.sd:.4f}", f"{stats.low:.4f}", f"{stats.high:.4f}"]


def csv_text(rows: list[ImageCount]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(["image", row.image, row.folder, f"{row.count:.4f}", "", "", "", "", ""])
    for summary in by_folder(rows):
        writer.writerow(["folder", "", summary.folder, "", *_stat_cells(summary.stats)])
    overall = describe([row.count for row in rows])
    if overall is not None:
        writer.writerow(["all", "", "", "", *_stat_cells(overall)])
    return buffer.getvalue()


def write_csv(path: str | Path, rows: list[ImageCount]) -> Path:
    data = csv_text(rows).encode("utf-8")
    return atomic_write(path, lambda handle: handle.write(data))
