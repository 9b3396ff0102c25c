"""Test-set evaluation: MAE and per-image errors of a model on annotated samples."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .annotations import read_dots
from .datasets import Sample
from .density import typical_cell_spacing
from .images import read_image
from .inference import Counter
from .modelfile import ModelBundle


def evaluate_samples(model: ModelBundle, samples: Sequence[Sample], cell_diameter_px: float | None,
                     device: str = "cpu", precision: str = "fp32", branch: str = "countxplain",
                     oracle_cell_size: bool = False, estimate_cell_size: bool = False) -> dict:
    """Count every sample at ``cell_diameter_px``; None means the model's own estimate of each
    image's cell size (or scale 1 without a size estimator); ``oracle_cell_size`` uses each
    image's annotated dot spacing instead (reported as such)."""
    counter = Counter(model, device=device, precision=precision, branch=branch)
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
                          "estimated per image by the model" if estimate_cell_size and model.preprocessing.get("size_model")
                          else "none (image as it is, scale 1)"),
            "per_image": rows}
