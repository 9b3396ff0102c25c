"""The one training entry point: annotated samples and a preset in, a trained model (with its gallery) out."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from ..datasets import VALIDATION_SHARE, Sample, validation_split
from ..gallery import build_gallery
from ..modelfile import ModelBundle
from .config import TrainingConfig, config_for_start
from .data import TrainingImage, prepare_images
from .presets import DEFAULT_PRESET, preset_config
from .trainer import Progress, Trainer
from .vgg_s4 import VggS4Trainer


@dataclass
class TrainingRun:
    """A finished run: the model, the configuration it ran and the images it saw."""

    bundle: ModelBundle
    config: TrainingConfig
    train_images: list[TrainingImage]
    val_images: list[TrainingImage]
    history: list[dict]


def parent_record(init: ModelBundle) -> dict:
    """How a model records the model it was fine-tuned from: its name, file and the file's SHA-256."""
    record = {"name": init.name, "preset": init.provenance.get("preset")}
    if init.path is not None and Path(init.path).is_file():
        record["file"] = Path(init.path).name
        record["sha256"] = hashlib.sha256(Path(init.path).read_bytes()).hexdigest()
    return record


def train_model(samples: Sequence[Sample], preset: str = DEFAULT_PRESET, overrides: dict | None = None, *,
                val_samples: Sequence[Sample] | None = None, val_share: float = VALIDATION_SHARE,
                diameters: Sequence[float | None] | None = None, val_diameters: Sequence[float | None] | None = None,
                groups: Sequence[str] | None = None, val_groups: Sequence[str] | None = None,
                init: ModelBundle | None = None, csrnet_state: dict | None = None, device: str | torch.device = "cpu",
                progress: Callable[[Progress], None] | None = None, cancel: Callable[[], bool] | None = None,
                checkpoint: Path | None = None, gallery_k: int = 3) -> TrainingRun:
    """Train a model on annotated ``samples`` with the recipe ``preset`` and ``overrides``.

    Validation images are ``val_samples`` when given, else set aside from ``samples`` by
    ``validation_split``. ``diameters`` (per sample, None: measured from its dots) and ``groups``
    (per sample, default: its folder's name) follow the samples. Training starts from ``init`` (a
    model: its extractor, and its head when the sizes match) or else from ``csrnet_state``. The model
    records the preset and, when fine-tuned, the model it started from; its gallery is built on the
    training images."""
    config = config_for_start(preset_config(preset, **(overrides or {})), init)
    samples = list(samples)
    diameters = list(diameters) if diameters is not None else [None] * len(samples)
    groups = list(groups) if groups is not None else [s.image_path.parent.name for s in samples]
    if val_samples is None:
        train_idx, val_idx = validation_split(len(samples), val_share, config.seed)
        def pick(values, idx):
            return [values[i] for i in idx]
        val_samples, val_diameters, val_groups = (pick(samples, val_idx), pick(diameters, val_idx),
                                                  pick(groups, val_idx))
        samples, diameters, groups = pick(samples, train_idx), pick(diameters, train_idx), pick(groups, train_idx)
    else:
        val_samples = list(val_samples)
        val_diameters = list(val_diameters) if val_diameters is not None else [None] * len(val_samples)
        val_groups = list(val_groups) if val_groups is not None else [s.image_path.parent.name for s in val_samples]
    if progress is not None:
        progress(Progress("prepare", 0, 0, message="reading the annotated images"))
    if config.extractor == "vgg-s4":  # counted as they are: every image keeps its own scale
        diameters = [config.cell_diameter_px] * len(samples)
        val_diameters = [config.cell_diameter_px] * len(val_samples)
    train = prepare_images(samples, groups, config.cell_diameter_px, diameters, config.fit_to_stride)
    val = prepare_images(val_samples, val_groups, config.cell_diameter_px, val_diameters, config.fit_to_stride)
    trainer_class = VggS4Trainer if config.extractor == "vgg-s4" else Trainer
    trainer = trainer_class(config, train, val, csrnet_state=None if init is not None else csrnet_state, init=init,
                            device=device, progress=progress, cancel=cancel, checkpoint=checkpoint)
    bundle = trainer.run()
    if gallery_k:
        if progress is not None:
            progress(Progress("gallery", 0, 0, message="building the prototype gallery"))
        bundle.gallery = build_gallery(bundle.network, train, k=gallery_k, cancel=cancel)
    bundle.provenance["preset"] = preset
    if overrides:
        bundle.provenance["preset_overrides"] = dict(overrides)
    if init is not None:
        bundle.provenance["parent_model"] = parent_record(init)
    return TrainingRun(bundle, config, train, val, list(trainer.history))
