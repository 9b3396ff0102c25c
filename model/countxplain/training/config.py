"""The training recipe: every option of both stages, the stage-1 precision and learning-rate schedule, and the
optional stage-2 loss terms the options switch on."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
from dataclasses import dataclass

import torch

from ..inference import native_bf16
from .losses import dot_cluster_loss, location_separation_loss, separation_loss, top_location_loss
from ..network import ModelConfig


# the options that take one of a few words, and those words
CHOICES = {"stage1_precision": ("fp32", "bf16"), "stage1_schedule": ("constant", "cosine"),
           "projection_choice": ("nearest", "purest", "nearest_pure")}


@dataclass
class TrainingConfig:
    k_cell: int = 4
    k_bg: int = 4
    prototype_dim: int = 64
    cell_diameter_px: float = 10.0
    sigma_px: float = 4.0
    # beyond the paper: stage 2's density targets at another sigma than stage 1's (None: the same),
    # e.g. a stage 1 trained on sharper targets under a head fitted to the usual ones
    stage2_sigma_px: float | None = None
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
    train_frontend_layers: int = 0  # with all 6 backend layers: also the last 0-3 VGG convolutions (conv4_x)
    stage1_epochs: int = 30
    stage1_lr: float = 1e-4
    stage1_schedule: str = "constant"  # or "cosine": the learning rate decays to zero over stage1_epochs
    stage1_ema: float = 0.0  # > 0: validate and keep an exponential moving average of the weights (decay per step)
    stage1_precision: str = "fp32"  # "bf16": convolutions under bfloat16 autocast (weights and optimiser stay fp32)
    stage1_batch: int = 8
    lambda_stage1_count: float = 0.0  # beyond the paper: stage 1 also penalises each crop's squared count error
    # each stage-1 crop is fed with this many cells of real features around it and only its inner
    # window is scored, so crop edges do not stand in for image edges; None: the trained part's
    # whole receptive field (exact), 0: no context (the crop's edges are zero-padded)
    stage1_context_cells: int | None = 0
    # beyond the paper: before each validation, the stage-1 output layer is refitted by exact least
    # squares on whole training images, so its bias cannot drift the count of every image
    stage1_refit_output: bool = False
    # beyond the paper: a fresh head's 1×1 feature processing starts scaled to the training features,
    # so every channel enters the sigmoid with zero mean and unit spread whatever the features' scale
    standardise_head_init: bool = False
    stage1_patience: int = 8
    stage2_epochs: int = 100
    stage2_lr: float = 0.01
    stage2_batch: int = 16
    projection_every: int = 25
    tau: float = 0.8
    lambda_density: float = 1.0
    lambda_proto: float = 1.0
    lambda_diversity: float = 100.0
    lambda_separation: float = 0.0  # beyond the paper: see losses.separation_loss
    separation_ratio: float = 2.0
    lambda_location_separation: float = 0.0  # beyond the paper: see losses.location_separation_loss
    lambda_dot_cluster: float = 0.0  # beyond the paper: see losses.dot_cluster_loss
    lambda_top_location: float = 0.0  # beyond the paper: see losses.top_location_loss
    top_location_temperature: float = 0.25
    background_distance_px: float = 20.0
    projection_separation: float = 0.1  # least L2 distance between projected prototypes of one group
    # "nearest" (the paper): each prototype's nearest training patch; "purest" (beyond it): the
    # training patches whose similarity boxes are purest on training images; "nearest_pure": each
    # prototype's nearest patch among the pure ones (projection.project_purest)
    projection_choice: str = "nearest"
    seed: int = 0
    # the architecture (``network.ModelConfig``): the paper's CSRNet with the log similarity and a free
    # density layer, or the stride-4 VGG extractor (``training.vgg_s4``) with its own options below
    extractor: str = "csrnet"
    similarity: str = "log"
    density: str = "free"
    steps: int = 12000  # vgg-s4: optimiser steps, one training view each
    lr: float = 3e-4  # vgg-s4: Adam's rate, on a cosine schedule
    view_scales: tuple = (0.7, 1.0, 1.4)  # vgg-s4: each image is seen at these scales
    max_view_px: int = 320  # vgg-s4: a view larger than this (either side) is a random window of it
    views_per_image: int = 1  # vgg-s4: windows cut per image and scale
    lambda_count: float = 1.0  # vgg-s4: weight of the squared count error of each view, per annotated cell
    validations: int = 10  # vgg-s4: validation counts over the run; the best state is kept

    def __post_init__(self) -> None:
        for name, choices in CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} '{getattr(self, name)}' is not one of {', '.join(choices)}")
        for name in ("k_cell", "prototype_dim", "n_views", "stage1_batch", "stage2_batch", "crop_cells"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("stage1_epochs", "stage2_epochs", "k_bg", "train_backend_layers", "train_frontend_layers"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must not be negative, not {getattr(self, name)}")
        self.model_config()  # the architecture's names are checked there
        self.view_scales = tuple(float(v) for v in self.view_scales)
        if not self.view_scales or min(self.view_scales) <= 0:
            raise ValueError(f"view_scales must be positive factors, not {self.view_scales}")
        for name in ("steps", "max_view_px", "views_per_image", "validations"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("cell_diameter_px", "sigma_px", "stage1_lr", "stage2_lr", "lr"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name} must be a positive number, not {getattr(self, name)}")

    @property
    def head_sigma_px(self) -> float:
        """The sigma of the density targets stage 2 fits the head to."""
        return self.sigma_px if self.stage2_sigma_px is None else self.stage2_sigma_px

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
    model's architecture."""
    if init is None:
        return config
    architecture = {name: getattr(init.config, name) for name in ("extractor", "similarity", "density")}
    if any(getattr(config, name) != value for name, value in architecture.items()):
        config = dataclasses.replace(config, **architecture)
    if init.preprocessing.get("fit_to_stride") and not config.fit_to_stride:
        return dataclasses.replace(config, fit_to_stride=True)
    return config


def stage2_location_terms(config: TrainingConfig) -> list[tuple[str, float, object]]:
    """The optional stage-2 terms with a non-zero weight: (name, weight, term(distances, dot_cells, mask, k_cell))."""
    c = config
    return [(name, weight, term) for name, weight, term in (
        ("separation", c.lambda_separation, functools.partial(separation_loss, ratio=c.separation_ratio)),
        ("location_separation", c.lambda_location_separation,
         functools.partial(location_separation_loss, ratio=c.separation_ratio)),
        ("dot_cluster", c.lambda_dot_cluster, dot_cluster_loss),
        ("top_location", c.lambda_top_location,
         functools.partial(top_location_loss, temperature=c.top_location_temperature))) if weight]
