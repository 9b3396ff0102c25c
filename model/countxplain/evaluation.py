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
                     device: str = "cpu", precision: str = "fp32", branch: str = "countxplain") -> dict:
    """Count every sample. ``cell_diameter_px`` None means each image's own dot spacing
    (an oracle cell size, reported as such)."""
    counter = Counter(model, device=device, precision=precision, branch=branch)
    rows = []
    for sample in samples:
        image = read_image(sample.image_path)
        dots = read_dots(sample.dots_path)
        diameter = cell_diameter_px if cell_diameter_px is not None else typical_cell_spacing(dots)
        diameter = diameter if np.isfinite(diameter) else None
        result = counter.count(image.pixels, cell_diameter_px=diameter)
        rows.append({"image": sample.image_path.name, "true": len(dots), "predicted": result.count,
                     "error": result.count - len(dots)})
    errors = np.array([abs(r["error"]) for r in rows])
    truth = np.array([r["true"] for r in rows], dtype=float)
    return {"n": len(rows), "mae": float(errors.mean()), "rmse": float(np.sqrt((errors ** 2).mean())),
            "relative_mae": float(errors.mean() / max(truth.mean(), 1e-9)),
            "cell_size": "per-image dot spacing (oracle)" if cell_diameter_px is None else f"{cell_diameter_px:.2f} px",
            "per_image": rows}
