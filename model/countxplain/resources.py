"""Where the shipped files live: the source tree, an installed checkout, or a frozen bundle."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_MODEL_NAME = "default.cxm"
MODEL_ENV_VAR = "COUNTXPLAIN_MODEL"
CELL_SIZE_ERROR_NAME = "cell-size-error.json"


def resources_dir() -> Path:
    """``resources/`` of the source checkout, or of the PyInstaller bundle when frozen."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def default_model_path() -> Path:
    """The model used when none is named: ``$COUNTXPLAIN_MODEL`` or the bundled default."""
    if os.environ.get(MODEL_ENV_VAR):
        return Path(os.environ[MODEL_ENV_VAR])
    return resources_dir() / "models" / DEFAULT_MODEL_NAME


def cell_size_error_path() -> Path:
    """The measured error range of the shipped model's cell-size estimate (benchmarks/cell_size_error.py)."""
    return resources_dir() / "models" / CELL_SIZE_ERROR_NAME


def sample_images_dir() -> Path:
    return resources_dir() / "samples"


def sample_images() -> list[Path]:
    """The sample images that ship with the app (dsb2018, CC0), each with its dot annotation beside it."""
    from .images import is_image_file

    folder = sample_images_dir()
    return sorted(p for p in folder.glob("*") if p.is_file() and is_image_file(p)) if folder.is_dir() else []
