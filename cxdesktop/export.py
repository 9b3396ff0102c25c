"""Writing results (Qt-free): counts as CSV, density maps as .npy/.tif; every write atomic.

Each file is written to a temporary file beside its target and renamed into place with
``os.replace``, so a crash never leaves a half-written file under the final name.

Counts CSV: one row per image (``kind=image``) and one per user box (``kind=box``, its corners
in image pixels), with the image's size, the model, its file, the device and precision that
counted and how many views the maps were averaged over, and the cell diameter used
(``cell_diameter_px``: the image's, or the model's training diameter when counted at the
model's scale; ``cell_size``: given, estimated, or as it is; ``estimated_cell_diameter_px``:
what the model's size estimator measured, used or not), and the dots placed on the image (``dots``, blank
where it has no dot file), with one ``dots_<type>`` column per counter type used.
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
from .store import DONE, ImageEntry, box_count

CSV_COLUMNS = ("kind", "image", "path", "box", "x0", "y0", "x1", "y1", "image_width", "image_height", "count", "dots",
               "cell_diameter_px", "cell_size", "estimated_cell_diameter_px", "scale", "status", "error",
               "model", "model_path", "device", "precision", "views_averaged")
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


def count_rows(entries: Iterable[ImageEntry], model_name: str = "", model_path: str = "",
               native_diameter: float | None = None) -> list[dict]:
    """CSV rows: each image, then its boxes. Uncounted images keep their status and error."""
    rows = []
    for entry in entries:
        a = entry.analysis if entry.status == DONE else None
        diameter = entry.cell_diameter_px
        if a is not None:
            diameter = (a.cell_diameter_px or getattr(a.result, "cell_diameter_px", None)
                        or (native_diameter / a.result.scale if native_diameter else None))
        base = {"image": entry.name, "path": entry.path,
                "image_width": entry.width or "", "image_height": entry.height or "",
                "cell_diameter_px": _fmt(diameter, 2), "cell_size": cell_size_source(a.result) if a else "",
                "estimated_cell_diameter_px": _fmt(a.result.estimated_diameter_px if a else None, 2),
                "scale": _fmt(a.result.scale if a else None),
                "status": entry.status, "error": entry.error,
                "model": a.model_name if a else model_name, "model_path": a.model_path if a else model_path,
                "device": a.device if a else "", "precision": a.precision if a else "",
                "views_averaged": a.result.flips if a else ""}
        rows.append({**base, "kind": "image", "count": _fmt(entry.count), **_dot_cells(entry)})
        for box in entry.boxes:
            b = box.normalised()
            rows.append({**base, "kind": "box", "box": box.box_id, "x0": _fmt(b.x0, 1), "y0": _fmt(b.y0, 1),
                         "x1": _fmt(b.x1, 1), "y1": _fmt(b.y1, 1), "count": _fmt(box_count(entry, box))})
    return rows


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
