"""Test-set evaluation: MAE and per-image errors of a model on annotated samples."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .annotations import read_dots
from .datasets import Sample
from .density import typical_cell_spacing
from .errors import CountXplainError
from .images import read_image
from .inference import Counter
from .modelfile import ModelBundle
from .scale_policy import ESTIMATE_GATE


def evaluate_samples(model: ModelBundle, samples: Sequence[Sample], cell_diameter_px: float | None,
                     device: str = "cpu", precision: str = "fp32", branch: str = "countxplain",
                     oracle_cell_size: bool = False, estimate_cell_size: bool = False, flips: int = 1,
                     whole_cells: bool | None = None) -> dict:
    """Count every sample at ``cell_diameter_px``; None means the image as it is, or with
    ``estimate_cell_size`` the automatic choice (``scale_policy``: the model's estimate where it is far
    from the training size); ``oracle_cell_size`` uses each image's annotated dot spacing instead."""
    if not samples:
        raise CountXplainError("no annotated images to evaluate")
    counter = Counter(model, device=device, precision=precision, branch=branch, flips=flips, whole_cells=whole_cells)
    rows = []
    for sample in samples:
        image = read_image(sample.image_path)
        dots = read_dots(sample.dots_path)
        diameter = typical_cell_spacing(dots) if oracle_cell_size else cell_diameter_px
        diameter = diameter if diameter is not None and np.isfinite(diameter) else None
        result = counter.count(image.pixels, cell_diameter_px=diameter, estimate_cell_size=estimate_cell_size)
        rows.append({"image": sample.image_path.name, "true": len(dots), "predicted": result.count,
                     "error": result.count - len(dots), "cell_diameter_px": result.cell_diameter_px})
    errors = np.array([abs(r["error"]) for r in rows])
    truth = np.array([r["true"] for r in rows], dtype=float)
    return {"n": len(rows), "mae": float(errors.mean()), "rmse": float(np.sqrt((errors ** 2).mean())),
            "relative_mae": float(errors.mean() / max(truth.mean(), 1e-9)),
            "cell_size": ("per-image dot spacing (oracle)" if oracle_cell_size else
                          f"{cell_diameter_px:.2f} px (set's training spacing)" if cell_diameter_px is not None else
                          f"automatic (the model's estimate where over {ESTIMATE_GATE:g}x off its size)"
                          if estimate_cell_size and model.preprocessing.get("size_model")
                          else "none (image as it is, scale 1)"),
            "per_image": rows}
