"""What a trained model file records: the network, how its images were prepared, and how it was trained."""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict
from typing import Sequence

from ..modelfile import ModelBundle
from ..network import CountXplain
from .config import TrainingConfig
from .data import TrainingImage
from .losses import intra_group_distances


def trained_bundle(model: CountXplain, config: TrainingConfig, train: Sequence[TrainingImage],
                   val: Sequence[TrainingImage], metrics: dict, prototype_sources: list, history: list,
                   size_model: dict | None, seconds: float) -> ModelBundle:
    """``model`` (moved to the CPU, in eval mode) with its preprocessing and provenance; ``metrics``
    holds the stage-1 and stage-2 validation MAE."""
    provenance = {
        "name": "CountXplain model",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "training_data": {"groups": sorted({image.group for image in train}), "n_train_images": len(train),
                          "n_validation_images": len(val)},
        "training_config": asdict(config),
        "metrics": {**metrics,
                    "prototype_distances": intra_group_distances(model.head.prototypes.detach().cpu(), config.k_cell)},
        "prototype_sources": prototype_sources,
        "training_seconds": round(seconds, 1),
        "history": history,
    }
    preprocessing = {"intensity": "uint8/255, else 0.1-99.9 percentile stretch; ImageNet mean/std",
                     "cell_diameter_px": float(config.cell_diameter_px), "sigma_px": float(config.sigma_px)}
    if config.fit_to_stride:
        preprocessing["fit_to_stride"] = True
    if size_model:
        preprocessing["size_model"] = size_model
    model.to("cpu").eval()
    return ModelBundle(model, preprocessing, provenance)
