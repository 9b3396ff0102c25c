"""When an image is rescaled before counting, and how that is described (no torch here: the
app's GUI thread uses the descriptions).

The model counts best when cells appear at its training diameter. A diameter the user gives
is always used; without one the model's size estimator (``cell_size``) measures the cells and
``diameter_to_use`` decides whether to act on the estimate.
"""

from __future__ import annotations

import math

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
        smallest = native_px * (image_pixels / max(MAX_AUTO_PIXELS, image_pixels)) ** 0.5
        return float(max(estimate_px, smallest))
    return float(estimate_px)


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
