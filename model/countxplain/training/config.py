"""The training recipe: every option of both trainers, the stage-1 precision and learning-rate schedule."""

from __future__ import annotations

import contextlib
import dataclasses
import math
from dataclasses import dataclass

import torch

from ..inference import native_bf16
from ..network import ModelConfig

# the options that take one of a few words, and those words
CHOICES = {"stage1_precision": ("fp32", "bf16"), "stage1_schedule": ("constant", "cosine")}


@dataclass
class TrainingConfig:
    k_cell: int = 4
    k_bg: int = 4
    prototype_dim: int = 64
    cell_diameter_px: float = 10.0
    sigma_px: float = 4.0
    n_views: int = 2
    scale_jitter: float = 0.25  # non-identity views rescaled by up to ±25 % (log-uniform)
    min_group_views: int = 96  # small data sets get up to 8 views per image
    group_share_power: float = 0.5  # each set's share of the batches ∝ (its images)**power; 1 = by size
    crop_cells: int = 32
    # beyond the paper: every image and view is resized so both sides are whole multiples of the
    # output stride (each axis within half a cell of the scale), so no output cell mixes image and
    # the padding that rounds it up; inference then resizes the same way (preprocessing["fit_to_stride"])
    fit_to_stride: bool = False
    train_backend_layers: int = 3
    stage1_epochs: int = 30
    stage1_lr: float = 1e-4
    stage1_schedule: str = "constant"  # or "cosine": the learning rate decays to zero over stage1_epochs
    stage1_precision: str = "fp32"  # "bf16": convolutions under bfloat16 autocast (weights and optimiser stay fp32)
    stage1_batch: int = 8
    stage1_patience: int = 8
    stage2_epochs: int = 100
    stage2_lr: float = 0.01
    stage2_batch: int = 16
    projection_every: int = 25
    tau: float = 0.8
    lambda_density: float = 1.0
    lambda_proto: float = 1.0
    lambda_diversity: float = 100.0
    background_distance_px: float = 20.0
    projection_separation: float = 0.1  # least L2 distance between projected prototypes of one group
    seed: int = 0
    # the architecture (``network.ModelConfig``): the paper's CSRNet with the log similarity and a free
    # density layer, or the stride-4 VGG extractor (``training.vgg_s4``) with its own options below
    extractor: str = "csrnet"
    similarity: str = "log"
    density: str = "free"
    steps: int = 12000  # vgg-s4: optimiser steps, one training view each
    steps_per_view: float = 0.0  # vgg-s4: at least this many steps per training view (more shots, more steps)
    lr: float = 3e-4  # vgg-s4: Adam's rate, on a cosine schedule
    view_scales: tuple = (0.7, 1.0, 1.4)  # vgg-s4: each image is seen at these scales
    max_view_px: int = 320  # vgg-s4: a view larger than this (either side) is a random window of it
    views_per_image: int = 1  # vgg-s4: windows cut per image and scale
    lambda_count: float = 1.0  # vgg-s4: weight of the squared count error of each view, per annotated cell
    validations: int = 10  # vgg-s4: validation counts over the run; the best state is kept
    # vgg-s4 from a model: before the first step, the cell prototypes' density weights are scaled by
    # one factor, the least-squares fit of the model's counts of the training views to their dots
    calibrate_start: bool = False
    # the largest factor the start calibration may apply: 1 lowers the weights of a base that
    # overcounts and leaves those of one that undercounts, whose weak answers everywhere (stroma
    # included) a raise would amplify with the cells
    calibrate_start_max: float = 100.0
    # vgg-s4: every image is trained, validated and (recorded in the model) counted at this factor
    count_scale: float = 1.0
    # vgg-s4: the last conv3 layers of the VGG (0-3) that train, at ``vgg_lr_share`` of ``lr``; their
    # input is cached instead of their output
    train_vgg_layers: int = 0
    vgg_lr_share: float = 0.1
    calibrate_end: bool = False  # vgg-s4: the same fit once more on the kept state, after the last step

    def __post_init__(self) -> None:
        for name, choices in CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} '{getattr(self, name)}' is not one of {', '.join(choices)}")
        for name in ("k_cell", "prototype_dim", "n_views", "stage1_batch", "stage2_batch", "crop_cells"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("stage1_epochs", "stage2_epochs", "k_bg", "train_backend_layers", "train_vgg_layers"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must not be negative, not {getattr(self, name)}")
        self.model_config()  # the architecture's names are checked there
        self.view_scales = tuple(float(v) for v in self.view_scales)
        if not self.view_scales or min(self.view_scales) <= 0:
            raise ValueError(f"view_scales must be positive factors, not {self.view_scales}")
        for name in ("steps", "max_view_px", "views_per_image", "validations"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not float(self.steps_per_view) >= 0:
            raise ValueError(f"steps_per_view must not be negative, not {self.steps_per_view}")
        if int(self.train_vgg_layers) > 3:
            raise ValueError(f"train_vgg_layers must be 0 to 3, not {self.train_vgg_layers}")
        for name in ("cell_diameter_px", "sigma_px", "stage1_lr", "stage2_lr", "lr", "vgg_lr_share", "count_scale"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name} must be a positive number, not {getattr(self, name)}")

    def model_config(self) -> ModelConfig:
        return ModelConfig(self.k_cell, self.k_bg, self.prototype_dim, self.extractor, self.similarity, self.density)


def stage1_autocast(config: TrainingConfig, device: torch.device) -> contextlib.AbstractContextManager:
    """The autocast context of stage-1 training steps: bfloat16 when asked for and computed natively."""
    if config.stage1_precision not in ("fp32", "bf16"):
        raise ValueError(f"unknown stage-1 precision '{config.stage1_precision}' (fp32 or bf16)")
    if config.stage1_precision == "bf16" and native_bf16(device):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def stage1_learning_rate(config: TrainingConfig, epoch: int) -> float:
    """Stage-1 learning rate of an epoch (0-based): constant, or a cosine decay towards zero."""
    if config.stage1_schedule == "cosine":
        return config.stage1_lr * 0.5 * (1.0 + math.cos(math.pi * epoch / max(1, config.stage1_epochs)))
    if config.stage1_schedule != "constant":
        raise ValueError(f"unknown stage-1 schedule '{config.stage1_schedule}' (constant or cosine)")
    return config.stage1_lr


def config_for_start(config: TrainingConfig, init) -> TrainingConfig:
    """``config`` as training from the model ``init`` (a ``ModelBundle`` or None) must run it: a model
    that fits images to its stride is fine-tuned on fitted images too, and fine-tuning keeps the
    model's architecture and sizes (so its head is trained on, not started afresh)."""
    if init is None:
        return config
    architecture = {name: getattr(init.config, name)
                    for name in ("extractor", "similarity", "density", "k_cell", "k_bg", "prototype_dim")}
    if any(getattr(config, name) != value for name, value in architecture.items()):
        config = dataclasses.replace(config, **architecture)
    if init.preprocessing.get("fit_to_stride") and not config.fit_to_stride:
        return dataclasses.replace(config, fit_to_stride=True)
    return config
