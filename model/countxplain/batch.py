"""Counting a batch one image at a time, the same way in this process and on Dask workers.

``CountSettings`` is what every image of a run shares (model, device, precision, cell size, views);
``count_item`` reads and counts one image and returns its ``Outcome``: the counts-CSV row, or the
one line that says why the image could not be counted. ``record`` writes an outcome where
``countxplain count`` shows it: the row in the CSV, the count or the error line on the terminal.
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .counts_csv import COLUMNS, CountsCsv
from .errors import CountXplainError, InputFileError, shown_path
from .inference import Counter
from .inputs import Item, item_path
from .modelfile import ModelBundle
from .plates import PLATE_COLUMNS, PlateField
from .scale_policy import cell_size_source, diameter_choice


@dataclass(frozen=True)
class CountSettings:
    """The options of ``countxplain count`` that decide how each image is counted."""

    model: Path
    device: str = "auto"
    precision: str = "auto"
    tile: int = 1024
    flips: int = 1
    whole_cells: bool | None = None
    page: int | None = None
    channel: int | None = None
    cell_diameter: float | str = "auto"  # pixels, 'auto' or 'as-is'

    @classmethod
    def from_args(cls, args, model: Path) -> CountSettings:
        return cls(model=Path(model), device=args.device, precision=args.precision, tile=args.tile, flips=args.flips,
                   whole_cells=args.whole_cells, page=args.page, channel=args.channel,
                   cell_diameter=args.cell_diameter)

    def counter(self, bundle: ModelBundle) -> Counter:
        return Counter(bundle, device=self.device, precision=self.precision, tile_size=self.tile, flips=self.flips,
                       whole_cells=self.whole_cells)


@dataclass
class Outcome:
    """One image's result: its CSV row and count, or the line saying why it was not counted."""

    item: Item
    row: dict | None = None
    count: float | None = None
    error: str | None = None


def csv_columns(items: list[Item]) -> tuple[str, ...]:
    """The counts CSV's columns: with plate, row, column and field when any image is a plate's field."""
    return COLUMNS + PLATE_COLUMNS if any(isinstance(item, PlateField) for item in items) else COLUMNS


def read_item(item: Item, page: int | None = None, channel: int | None = None) -> np.ndarray:
    """The float (H, W, 3) pixels of an image file or a plate's field."""
    from .images import read_image, to_rgb_float

    if isinstance(item, PlateField):
        from .plates import read_field

        return to_rgb_float(read_field(item), item.path, channel=channel)
    return read_image(item, page=page, channel=channel).pixels


def count_item(counter: Counter, item: Item, settings: CountSettings, pixels: np.ndarray | None = None,
               tile_rows: range | None = None, decided: tuple[float | None, float | None] | None = None) -> Outcome:
    """Read (unless ``pixels`` are given) and count one image. ``decided`` (the diameter to count at,
    the estimate it came from) skips the size decision; ``tile_rows`` counts those rows of tiles only."""
    path = item_path(item)
    start = time.perf_counter()
    try:
        if pixels is None:
            pixels = read_item(item, page=settings.page, channel=settings.channel)
        diameter, estimate = decided or counter.diameter_for(pixels, *diameter_choice(settings.cell_diameter))
        with warnings.catch_warnings():  # a library's warning would be a second line about this image
            warnings.simplefilter("ignore")
            result = counter.count(pixels, cell_diameter_px=diameter, tile_rows=tile_rows)
    except (CountXplainError, MemoryError) as error:
        return Outcome(item, error=image_error_line(path, error))
    result = replace(result, cell_diameter_estimated=estimate is not None and diameter is not None,
                     estimated_diameter_px=estimate)
    return Outcome(item, row=result_row(counter, item, result, time.perf_counter() - start), count=float(result.count))


def result_row(counter: Counter, item: Item, result, seconds: float) -> dict:
    """The counts-CSV row of one image's count."""
    bundle = counter.bundle
    row = {"file": item_path(item), "count": f"{result.count:.2f}", "model": bundle.name,
           "cell_diameter_px": f"{bundle.cell_diameter_px / result.scale:.2f}",
           "cell_size": cell_size_source(result), "scale": f"{result.scale:.4f}",
           "device": str(counter.device), "seconds": f"{seconds:.3f}"}
    row.update(item.csv_cells() if isinstance(item, PlateField) else dict.fromkeys(PLATE_COLUMNS, ""))
    return row


def image_error_line(path: Path, error: Exception) -> str:
    """'FILE: reason' for an image that could not be counted."""
    if isinstance(error, MemoryError):
        return f"{shown_path(path)}: not enough memory to count this image"
    if isinstance(error, InputFileError) and error.path == path:
        return str(error)
    return f"{shown_path(path)}: {error}"


def record(outcome: Outcome, table: CountsCsv | None) -> bool:
    """Write ``outcome``: its row to the CSV and its count to stdout, or its error line to stderr; True if counted."""
    if outcome.error is not None:
        print(f"error: {outcome.error}", file=sys.stderr)
        return False
    if table is not None:
        table.add(outcome.row)
    print(f"{shown_path(item_path(outcome.item))}\t{outcome.count:.1f}", flush=True)
    return True
