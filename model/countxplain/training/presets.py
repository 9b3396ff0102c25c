"""The named training recipes, and the one way a ``TrainingConfig`` is made from a name and overrides.

* ``default``: the recipe for a general model trained from scratch: the stride-4 VGG extractor
  (``network.VGGStride4``), the Gaussian similarity and a density layer in which only cell
  prototypes add, trained on every image at its own scale and two others (``training.vgg_s4``).
* ``fine-tune``: what a user's few annotated images get when training starts from a model: short
  (400 steps, or 33 per training view where the shots give more views),
  on whole images (windows up to 512 px) at three scales, on the density term alone (with the
  count term, a base that overcounts a new set collapsed to one constant density on it), from a
  start whose cell prototypes' weights are scaled down to count the shots' dots where the model
  overcounts them (``calibrate_start``, never scaled up: ``calibrate_start_max``),
  keeping the model's architecture and sizes. From a CSRNet model it runs that model's two stages briefly.
* ``csrnet``: the recipe of the CSRNet models (the shipped ``default.cxm`` among them): stage 1
  fine-tunes all six backend layers for 15 epochs on a cosine schedule from 3e-4, then the head.
* ``paper``: the CountXplain paper's recipe as its reference code runs it (three backend layers at
  a constant 1e-4, the log similarity and the density layer with its bias).
"""

from __future__ import annotations

import dataclasses
import difflib

from ..errors import CountXplainError
from .config import TrainingConfig

VGG_S4 = {"extractor": "vgg-s4", "similarity": "gaussian", "density": "cells-add", "k_cell": 8, "k_bg": 4,
          "prototype_dim": 32, "stage1_precision": "bf16"}
PRESETS: dict[str, dict] = {
    "default": {**VGG_S4, "steps": 8000, "lr": 3e-4, "view_scales": (0.7, 1.0, 1.4), "max_view_px": 320,
                "validations": 8},
    "fine-tune": {**VGG_S4, "steps": 400, "steps_per_view": 33, "lr": 3e-4, "view_scales": (0.8, 1.0, 1.25),
                  "max_view_px": 512,
                  "validations": 4, "lambda_count": 0.0, "calibrate_start": True, "calibrate_start_max": 1.0,
                  "train_backend_layers": 3, "stage1_epochs": 8, "stage1_lr": 5e-5, "stage1_schedule": "cosine",
                  "stage1_patience": 8, "stage2_epochs": 40, "projection_every": 20},
    "csrnet": {"train_backend_layers": 6, "stage1_epochs": 15, "stage1_lr": 3e-4, "stage1_schedule": "cosine",
               "stage1_patience": 100, "stage1_precision": "bf16", "stage2_epochs": 100},
    "paper": {},
}
DEFAULT_PRESET = "default"
FINE_TUNE_PRESET = "fine-tune"


class TrainingOptionError(CountXplainError):
    """A preset or training option that does not exist, or a value it cannot take."""


def preset_config(preset: str = DEFAULT_PRESET, **overrides) -> TrainingConfig:
    """The configuration of ``preset`` with ``overrides`` (``TrainingConfig`` field names) applied.

    An unknown preset or option, or a value outside an option's choices, is refused here, before
    any work, with the nearest valid name where there is one."""
    if preset not in PRESETS:
        raise TrainingOptionError(f"unknown preset '{preset}'{_suggestion(preset, PRESETS)} "
                                  f"(presets: {', '.join(PRESETS)})")
    fields = {f.name for f in dataclasses.fields(TrainingConfig)}
    for name in overrides:
        if name not in fields:
            raise TrainingOptionError(f"unknown training option '{name}'{_suggestion(name, fields)}")
    try:
        return TrainingConfig(**{**PRESETS[preset], **overrides})
    except ValueError as error:
        raise TrainingOptionError(str(error)) from None


def _suggestion(name: str, choices) -> str:
    close = difflib.get_close_matches(name.replace("-", "_"), [c.replace("-", "_") for c in choices], n=1)
    if not close:
        return ""
    original = {c.replace("-", "_"): c for c in choices}[close[0]]
    return f" (did you mean '{original}'?)"
