"""Training checkpoints: written atomically, and read back only by the run that wrote them.

A checkpoint records the run's configuration and ``fingerprint`` (``training.fingerprint``); one
made with other settings, from other images or another starting model, or one that cannot be read,
is not resumed, and the reason says why.
"""

from __future__ import annotations

import io
from dataclasses import asdict
from pathlib import Path

import torch

from ..annotations import atomic_write_bytes
from .config import TrainingConfig


def write_checkpoint(path: Path, config: TrainingConfig, fingerprint: str | None, payload: dict) -> None:
    buffer = io.BytesIO()
    torch.save({**payload, "config": asdict(config), "fingerprint": fingerprint}, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def read_checkpoint(path: Path | None, config: TrainingConfig, fingerprint: str | None) -> tuple[dict, str | None]:
    """The checkpoint's payload if this run wrote it, else ``{}`` with why not (None: there is none)."""
    if path is None or not Path(path).exists():
        return {}, None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged file
        return {}, f"cannot be read ({type(error).__name__})"
    if not isinstance(payload, dict) or payload.get("config") != asdict(config):
        return {}, "was made with other training settings"
    if payload.get("fingerprint") != fingerprint:
        return {}, "was made from other images, dots or starting model"
    return payload, None
