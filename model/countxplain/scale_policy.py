"""When an image is rescaled before counting, and how that is described (no torch here: the
app's GUI thread uses the descriptions).

The model counts best when cells appear at its training diameter. A diameter the user gives
is always used; without one the model's size estimator (``cell_size``) measures the cells and
``diameter_to_use`` decides whether to act on the estimate.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import CountXplainError

# An estimate is acted on only when it is more than this factor away from the model's training
# diameter: counts move with about the square of the scale and the estimate is off by 15-35 %
# per image, so near the training size the image counted as it is does better. Chosen on the
# validation images of the default model's sets (benchmarks/cell_size_policy.py).
ESTIMATE_GATE = 2.0
# An estimate never enlarges an image beyond this many pixels (a user's stated diameter may):
# a misjudged estimate on a large slide would otherwise ask for gigabytes.
MAX_AUTO_PIXELS = 64e6
# No diameter, stated or estimated, may enlarge an image beyond this (16384 x 16384 pixels, about
# 9 GB while counting): a slip such as 0.1 px for 10 px would otherwise exhaust the memory.
MAX_RESCALED_PIXELS = 2.0 ** 28


def refuse_huge_rescale(image_shape: tuple[int, int], scale: float, diameter_px: float) -> None:
    """Raise ``CountXplainError`` if counting at ``scale`` would enlarge the image beyond ``MAX_RESCALED_PIXELS``."""
    height, width = image_shape[:2]
    if height * width * scale * scale > MAX_RESCALED_PIXELS:
        raise CountXplainError(
            f"a cell diameter of {diameter_px:g} px would enlarge this {width}x{height} image {scale:.3g} times, "
            f"to {round(width * scale)}x{round(height * scale)} pixels (at most {MAX_RESCALED_PIXELS:.3g}); "
            "give the diameter in this image's pixels")


def diameter_to_use(estimate_px: float | None, native_px: float, gate: float = ESTIMATE_GATE,
                    image_pixels: float | None = None) -> float | None:
    """The estimated diameter if it is more than ``gate`` times off the training diameter, else None
    (count the image as it is). With ``image_pixels``, a diameter that would enlarge the image beyond
    ``MAX_AUTO_PIXELS`` is raised until it does not."""
    if not estimate_px or not math.isfinite(estimate_px):  # NaN: an image too small to measure
        return None
    ratio = estimate_px / native_px
    if max(ratio, 1.0 / ratio) <= gate:
        return None
    if image_pixels:
        return float(max(estimate_px, smallest_auto_diameter(native_px, image_pixels)))
    return float(estimate_px)


def smallest_auto_diameter(native_px: float, image_pixels: float) -> float:
    """The smallest diameter an estimate may ask for: it enlarges the image to ``MAX_AUTO_PIXELS`` at most."""
    return native_px * (image_pixels / max(MAX_AUTO_PIXELS, image_pixels)) ** 0.5


def cell_size_note(result) -> str:
    """How a count's image was scaled, for people: the diameter and where it came from."""
    if result.cell_diameter_px:
        source = " (estimated)" if result.cell_diameter_estimated else ""
        return f"cells of {result.cell_diameter_px:.3g} px{source} (×{result.scale:.2f})"
    if result.estimated_diameter_px:
        return f"image as it is (×1; estimated cells {result.estimated_diameter_px:.3g} px, near the model's size)"
    return "image as it is (×1)"


def cell_size_source(result) -> str:
    """Where the diameter a count used came from, for tables: given, estimated or as it is."""
    if result.cell_diameter_estimated:
        return "estimated"
    if result.cell_diameter_px:
        return "given"
    return "as it is" if result.estimated_diameter_px is None else "as it is (estimate near the model's size)"


def diameter_choice(cell_diameter: float | str) -> tuple[float | None, bool]:
    """(diameter, estimate?) from a cell diameter as ``--cell-diameter`` takes it: pixels, 'auto' or 'as-is'."""
    if cell_diameter == "auto":
        return None, True
    return (None if cell_diameter == "as-is" else float(cell_diameter)), False


# A count at the estimated size is doubtful when a count at either end of the estimate's error
# range differs from it by more than this share of it.
DOUBT_SHARE = 0.10


@dataclass(frozen=True)
class SizeDoubt:
    """How a count resting on the estimated cell size moves when the cells are as small or as large
    as the estimate's error range allows: ``counts`` at the two ``diameters_px`` (smaller, larger)."""

    count: float
    estimate_px: float
    diameters_px: tuple[float, float]
    counts: tuple[float, float]
    doubtful: bool

    @property
    def count_range(self) -> tuple[float, float]:
        """The lowest and highest count across the range, the count itself included."""
        values = (self.count, *self.counts)
        return min(values), max(values)


def count_is_doubtful(count: float, bound_counts, share: float = DOUBT_SHARE) -> bool:
    """Whether a count at either end of the size range moves by more than ``share`` of the count
    (of one cell, for counts below one)."""
    return max(abs(c - count) for c in bound_counts) / max(count, 1.0) > share


def size_doubt(count: float, estimate_px: float, diameters_px, bound_counts,
               share: float = DOUBT_SHARE) -> SizeDoubt:
    """The ``SizeDoubt`` of a count at an estimated size, from the counts at the range's two diameters."""
    return SizeDoubt(float(count), float(estimate_px), tuple(float(d) for d in diameters_px),
                     tuple(float(c) for c in bound_counts), count_is_doubtful(count, bound_counts, share))


def bounded_diameters(estimate_px: float, factors: tuple[float, float], native_px: float,
                      image_pixels: float | None = None) -> tuple[float, float]:
    """The diameters at the two ends of an estimate's error range (``factors`` on the estimate); with
    ``image_pixels``, none enlarges the image beyond what an estimate may (``MAX_AUTO_PIXELS``)."""
    smallest = smallest_auto_diameter(native_px, image_pixels) if image_pixels else 0.0
    low, high = sorted(factors)
    return float(max(estimate_px * low, smallest)), float(max(estimate_px * high, smallest))


def estimate_error_range(path: str | Path | None = None) -> tuple[float, float] | None:
    """The factors on an estimated cell size between which the true size lies for most images, as
    measured for the shipped model's estimator (``benchmarks/cell_size_error.py``); None when the
    file is missing or unreadable (no count is then called doubtful)."""
    if path is None:
        from .resources import cell_size_error_path

        path = cell_size_error_path()
    return _read_error_range(str(path))


@lru_cache(maxsize=4)
def _read_error_range(path: str) -> tuple[float, float] | None:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        low, high = float(data["low"]), float(data["high"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
        return None
    return low, high


def size_doubt_note(doubt: SizeDoubt | None) -> str:
    """For people: how far the count moves across the size estimate's error range and the fix ("" when not doubtful)."""
    if doubt is None or not doubt.doubtful:
        return ""
    low, high = doubt.count_range
    return (f"count moves from {low:.1f} to {high:.1f} across the size estimate's error range; "
            "measure one cell (M) to fix the size")
