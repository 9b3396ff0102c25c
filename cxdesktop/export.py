"""Writing results (Qt-free): counts as CSV, density maps as .npy/.tif; every write atomic.

Each file is written to a temporary file beside its target and renamed into place with
``os.replace``, so a crash never leaves a half-written file under the final name.

Counts CSV: one row per image (``kind=image``) and one per user box (``kind=box``, its corners
in image pixels), with the image's size, the model, its file, the device and precision that
counted and how many views the maps were averaged over, and the cell diameter used
(``cell_diameter_px``: the image's, or the model's training diameter when counted at the
model's scale; ``cell_size``: given, estimated, or as it is; ``estimated_cell_diameter_px``:
what the model's size estimator measured, used or not), and the dots placed on the image (``dots``, blank
where it has no dot file), with one ``dots_<type>`` column per counter type used. ``page`` and ``channel`` say
which of a multi-page or multichannel file's were counted, 1-based as the app shows them (blank: the file holds one
page, or all channels were read as gray or colour; the command line's ``--page`` and ``--channel`` count from 0).
Where the pixel size is known (given for the folder, or stated by the file): ``pixel_size_um``, the cell diameter in
µm, the area counted (the image's, or the box's part on the image) in mm² and the cells per mm²; blank where not.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from countxplain.scale_policy import cell_size_source

from .dots import entry_dot_counts
from .plane_text import csv_channel, csv_page
from .store import DONE, ImageEntry, box_count
from .units import UM2_PER_MM2, area_um2, box_pixel_area, entry_pixel_size, length_um, per_mm2

CSV_COLUMNS = ("kind", "image", "path", "box", "x0", "y0", "x1", "y1", "image_width", "image_height", "count", "dots",
               "cell_diameter_px", "cell_size", "estimated_cell_diameter_px", "scale", "status", "error",
               "model", "model_path", "device", "precision", "views_averaged", "page", "channel", "pixel_size_um",
               "cell_diameter_um", "area_mm2", "cells_per_mm2")
DENSITY_SUFFIXES = (".npy", ".tif", ".tiff")


def atomic_write(path: str | Path, write: Callable[[io.BufferedWriter], None]) -> Path:
    """Call ``write(handle)`` on an in-memory buffer, then write it to a temporary file beside
    ``path`` and rename it into place (``countxplain.annotations.atomic_write_bytes``)."""
    from countxplain.annotations import atomic_write_bytes

    path = Path(path)
    buffer = io.BytesIO()
    write(buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _fmt(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def diameter_used(entry: ImageEntry, native_diameter: float | None) -> float | None:
    """The cell diameter (px) the image was counted at: its own, or the model's training one at the scale used."""
    a = entry.analysis if entry.status == DONE else None
    if a is None:
        return entry.cell_diameter_px
    return (a.cell_diameter_px or getattr(a.result, "cell_diameter_px", None)
            or (native_diameter / a.result.scale if native_diameter else None))


def count_rows(entries: Iterable[ImageEntry], model_name: str = "", model_path: str = "",
               native_diameter: float | None = None, pixel_sizes: dict[str, float] | None = None) -> list[dict]:
    """CSV rows: each image, then its boxes. Uncounted images keep their status and error. ``pixel_sizes``: the
    µm per pixel given for folders."""
    rows = []
    for entry in entries:
        size = entry_pixel_size(entry, pixel_sizes or {})
        a = entry.analysis if entry.status == DONE else None
        diameter = diameter_used(entry, native_diameter)
        base = {"image": entry.name, "path": entry.path,
                "image_width": entry.width or "", "image_height": entry.height or "",
                "cell_diameter_px": _fmt(diameter, 2), "cell_size": cell_size_source(a.result) if a else "",
                "estimated_cell_diameter_px": _fmt(a.result.estimated_diameter_px if a else None, 2),
                "scale": _fmt(a.result.scale if a else None),
                "status": entry.status, "error": entry.error,
                "model": a.model_name if a else model_name, "model_path": a.model_path if a else model_path,
                "device": a.device if a else "", "precision": a.precision if a else "",
                "views_averaged": a.result.flips if a else "", "page": csv_page(entry), "channel": csv_channel(entry),
                "pixel_size_um": _fmt(size.length_um if size else None, 6),
                "cell_diameter_um": _fmt(length_um(diameter, size), 2)}
        image_area = entry.width * entry.height if entry.width else None
        rows.append({**base, "kind": "image", "count": _fmt(entry.count), **_dot_cells(entry),
                     **_area_cells(entry.count, area_um2(image_area, size))})
        for box in entry.boxes:
            b = box.normalised()
            count = box_count(entry, box)
            area = area_um2(box_pixel_area(box, entry.width, entry.height), size)
            rows.append({**base, "kind": "box", "box": box.box_id, "x0": _fmt(b.x0, 1), "y0": _fmt(b.y0, 1),
                         "x1": _fmt(b.x1, 1), "y1": _fmt(b.y1, 1), "count": _fmt(count), **_area_cells(count, area)})
    return rows


def _area_cells(count: float | None, area: float | None) -> dict:
    return {"area_mm2": _fmt(None if area is None else area / UM2_PER_MM2, 8),
            "cells_per_mm2": _fmt(per_mm2(count, area), 2)}


def _dot_cells(entry: ImageEntry) -> dict:
    counts = entry_dot_counts(entry)
    if counts is None:
        return {}
    return {"dots": sum(counts.values()), **{f"dots_{name}": n for name, n in counts.items()}}


def write_counts_csv(path: str | Path, rows: list[dict]) -> Path:
    """``CSV_COLUMNS``, then a ``dots_<type>`` column for each counter type the rows name."""
    types = dict.fromkeys(key for row in rows for key in row if key.startswith("dots_"))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS + tuple(types), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows({**dict.fromkeys(types, 0), **row} if "dots" in row else row for row in rows)
    data = text.getvalue().encode("utf-8")
    return atomic_write(path, lambda handle: handle.write(data))


def save_density(path: str | Path, analysis) -> Path:
    """The density map as computed (h, w), float32, one value per density cell: its sum is the count.

    One density cell covers ``cell_height_px`` × ``cell_width_px`` original pixels (stored in the
    TIFF description as JSON, with their mean ``pixels_per_cell``; a .npy holds the array alone).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in DENSITY_SUFFIXES:
        raise ValueError(f"density maps are saved as {', '.join(DENSITY_SUFFIXES)}, not '{suffix or path.name}'")
    density = np.ascontiguousarray(analysis.result.density, dtype=np.float32)
    if suffix == ".npy":
        return atomic_write(path, lambda handle: np.save(handle, density))
    import tifffile

    meta = {"image": analysis.path, "count": analysis.count, "units": "cells per density cell",
            "pixels_per_cell": float(analysis.result.pixels_per_cell),
            "cell_height_px": float(analysis.result.cell_px[0]),
            "cell_width_px": float(analysis.result.cell_px[1]), "scale": float(analysis.result.scale),
            "model": analysis.model_name, "device": analysis.device, "views_averaged": int(analysis.result.flips),
            "whole_cells": bool(analysis.result.whole_cells)}
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, density, description=json.dumps(meta))
    return atomic_write(path, lambda handle: handle.write(buffer.getvalue()))
