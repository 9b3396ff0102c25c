"""Training the stride-4 VGG model (``extractor="vgg-s4"``) on cached frozen features.

Images are used as they are (no rescaling to a common cell size): each is seen at every factor of
``view_scales``, as ``views_per_image`` random windows of at most ``max_view_px`` a side. The
frozen VGG part runs once per view and its features are cached in bfloat16. Every step trains the
last ``train_backend_layers`` backend convolutions and the prototype head on one view, mirrored at random: the
squared error of the density against the stride-4 pooled Gaussian target, plus ``lambda_count`` times the
squared count error per annotated cell of the view, so a small density that leaks over a large background costs as
much as it adds to the count. The rate falls from ``lr`` on a cosine over ``steps``; whole
validation images (their frozen features also cached) are counted ``validations`` times and the best
state is kept.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..density import pooled_density_map, scale_dots, typical_cell_spacing
from ..errors import Cancelled
from ..images import resize_pixels
from ..modelfile import ModelBundle
from ..network import CellsAddDensity, CountXplain, VGGStride4, padded_batch
from .checkpoints import read_checkpoint, write_checkpoint
from .config import TrainingConfig, stage1_autocast
from .data import TrainingImage
from .fingerprint import training_fingerprint
from .trained_model import trained_bundle
from .trainer import Progress

STRIDE = VGGStride4.output_stride
DENSITY_WEIGHT = 10.0  # the density term's scale: pooled targets are small numbers per cell
STANDARDISE_SAMPLES = 200_000  # feature locations drawn to set the extractor's per-channel mean and spread


@dataclass
class FeatureView:
    """One window of one training image at one scale: cached frozen features and the density target."""

    image_index: int
    features: torch.Tensor  # (384, h, w) bfloat16
    target: torch.Tensor  # (1, h, w) pooled density, summing to the dots inside the window
    factor: float = 1.0  # the image's scale in this view
    origin: tuple[int, int] = (0, 0)  # the window's top-left pixel (y, x) in the rescaled image


def _window(size: int, most: int, rng: np.random.Generator) -> tuple[int, int]:
    """A random window [start, stop) of at most ``most`` pixels (whole multiples of the stride where it can)."""
    if size <= most:
        return 0, size
    length = most - most % STRIDE
    start = int(rng.integers(0, (size - length) // STRIDE + 1)) * STRIDE
    return start, start + length


def make_feature_views(images: Sequence[TrainingImage], config: TrainingConfig, frozen: Callable,
                       rng: np.random.Generator,
                       device: torch.device, cancel: Callable[[], bool],
                       report: Callable[[int, int], None]) -> list[FeatureView]:
    """Every image at every ``view_scales`` factor, ``views_per_image`` windows each, through ``frozen``."""
    views = []
    total = len(images) * len(config.view_scales) * config.views_per_image
    for index, image in enumerate(images):
        for factor in (scale * config.count_scale for scale in config.view_scales):
            pixels = image.pixels if factor == 1.0 else resize_pixels(image.pixels, factor)
            dots = scale_dots(image.dots, pixels.shape[1] / image.pixels.shape[1],
                              pixels.shape[0] / image.pixels.shape[0])
            for _ in range(config.views_per_image):
                if cancel():
                    raise Cancelled()
                y0, y1 = _window(pixels.shape[0], config.max_view_px, rng)
                x0, x1 = _window(pixels.shape[1], config.max_view_px, rng)
                inside = dots[(dots[:, 0] >= x0) & (dots[:, 0] < x1) & (dots[:, 1] >= y0) & (dots[:, 1] < y1)] \
                    if len(dots) else dots
                window = pixels[y0:y1, x0:x1]
                batch = padded_batch(window).to(device)
                with torch.inference_mode(), stage1_autocast(config, device):
                    features = frozen(batch)[0].to(torch.bfloat16).cpu()
                target = pooled_density_map(inside - np.array([x0, y0]), window.shape[:2], config.sigma_px,
                                            stride=STRIDE)
                target = torch.from_numpy(target)[None]
                views.append(FeatureView(index, features[:, :target.shape[1], :target.shape[2]].clone(), target,
                                         factor, (y0, x0)))
                report(len(views), total)
    return views


def steps_for(config: TrainingConfig, n_views: int) -> int:
    """The run's optimiser steps: ``steps``, or more where ``steps_per_view`` asks for more passes over many views."""
    return max(int(config.steps), round(config.steps_per_view * n_views))


def inverse_softplus(value: torch.Tensor) -> torch.Tensor:
    """The raw weight whose softplus is ``value`` (> 0)."""
    return value + torch.log(-torch.expm1(-value))


def scale_density_weights(layer: torch.nn.Module, factor: float) -> None:
    """Multiply a density layer's weights (and bias, where it has one) by ``factor`` > 0."""
    with torch.no_grad():
        if isinstance(layer, CellsAddDensity):
            scaled = torch.nn.functional.softplus(layer.raw_weight) * factor
            layer.raw_weight.copy_(inverse_softplus(scaled))
        else:
            layer.weight.mul_(factor)
            if layer.bias is not None:
                layer.bias.mul_(factor)


class VggS4Trainer:
    """Trains a ``vgg-s4`` CountXplain model; ``run`` returns its ``ModelBundle`` (without gallery)."""

    def __init__(self, config: TrainingConfig, train: Sequence[TrainingImage], val: Sequence[TrainingImage],
                 csrnet_state: dict | None = None, init: ModelBundle | None = None, device: str | torch.device = "cpu",
                 progress: Callable[[Progress], None] | None = None, cancel: Callable[[], bool] | None = None,
                 checkpoint: Path | None = None) -> None:
        if not train or not val:
            raise ValueError("training needs at least one training and one validation image")
        self.config = config
        self.train_images, self.val_images = list(train), list(val)
        self.device = torch.device(device)
        self.progress = progress or (lambda p: None)
        self.cancel = cancel or (lambda: False)
        self.checkpoint = checkpoint
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.model = CountXplain(config.model_config())
        # what starts afresh: the extractor's standardisation (no starting model) and the head (no
        # starting model, or one with other sizes)
        self.fresh_extractor = init is None
        self.fresh_head = init is None or init.config != self.model.config
        if init is not None:
            self.model.extractor.load_state_dict(init.network.extractor.state_dict())
            if not self.fresh_head:
                self.model.head.load_state_dict(init.network.head.state_dict())
        elif csrnet_state is not None:
            frontend = {key[len("frontend."):]: value for key, value in csrnet_state.items()
                        if key.startswith("frontend.") and int(key.split(".")[1]) < len(self.model.extractor.frontend)}
            self.model.extractor.frontend.load_state_dict(frontend, strict=True)
        self.fingerprint = training_fingerprint(train, val, self.model) if checkpoint is not None else None
        self.model.to(self.device)
        for parameter in self.model.extractor.frontend.parameters():
            parameter.requires_grad_(False)
        for parameter in self.model.extractor.conv3_layers(config.train_vgg_layers).parameters():
            parameter.requires_grad_(True)
        convolutions = [m for m in self.model.extractor.backend if isinstance(m, torch.nn.Conv2d)]
        for layer in convolutions[:max(0, len(convolutions) - config.train_backend_layers)]:
            for parameter in layer.parameters():
                parameter.requires_grad_(False)
        self.history: list[dict] = []

    def run(self) -> ModelBundle:
        start = time.perf_counter()
        extractor = self.model.extractor
        def report(done, total):
            return self.progress(Progress("cache", done, total, message="computing frozen features"))
        def cached(images):
            return extractor.cached_features(images, self.config.train_vgg_layers)
        extractor.eval()
        views = make_feature_views(self.train_images, self.config, cached, self.rng, self.device, self.cancel, report)
        self.val_features = self._frozen_val_features(cached)
        if self.fresh_extractor:
            self._standardise(views)
        if self.fresh_head:
            self._start_prototypes(views)
        optimiser = torch.optim.Adam(self._parameter_groups(), lr=self.config.lr)
        step, best = self._resume(optimiser)
        if step == 0 and self.config.calibrate_start and not self.fresh_head:  # a resumed run starts where it stopped
            self._calibrate_counts(views, self.config.calibrate_start_max)
        steps = steps_for(self.config, len(views))
        every = max(1, math.ceil(steps / self.config.validations))
        order = self.rng.permutation(len(views))
        losses = {"density": 0.0, "count": 0.0}
        while step < steps:
            if self.cancel():
                raise Cancelled()
            for group in optimiser.param_groups:
                group["lr"] = group.setdefault("base_lr", self.config.lr) * 0.5 * (
                    1.0 + math.cos(math.pi * step / steps))
            view = views[order[step % len(views)]]
            if step % len(views) == len(views) - 1:
                order = self.rng.permutation(len(views))
            density_term, count_term = self._step(view, optimiser, flips=self.rng.integers(0, 2, size=2))
            losses["density"] += density_term / every
            losses["count"] += count_term / every
            step += 1
            if step % every == 0 or step == steps:
                val_mae = self._val_mae()
                if best is None or val_mae < best["val_mae"]:
                    best = {"val_mae": val_mae, "step": step, "state": copy.deepcopy(self.model.state_dict())}
                self.history.append({"stage": "train", "step": step, **losses, "val_mae": val_mae})
                self.progress(Progress("stage2", step // every, math.ceil(steps / every), dict(losses),
                                       val_mae, message=f"step {step}/{steps}"))
                losses = {"density": 0.0, "count": 0.0}
                self._save_checkpoint(step, optimiser, best)
        self.model.load_state_dict(best["state"])
        if self.config.calibrate_end:
            self._calibrate_counts(views)
        seconds = time.perf_counter() - start
        self.progress(Progress("done", 0, 0, message=f"finished in {seconds:.0f} s"))
        return self._bundle(best, seconds)

    def _step(self, view: FeatureView, optimiser: torch.optim.Optimizer, flips) -> tuple[float, float]:
        self.model.train()
        features, target = view.features[None].to(self.device).float(), view.target[None].to(self.device)
        axes = tuple(axis for axis, flip in zip((-1, -2), flips) if flip)
        if axes:
            features, target = features.flip(axes), target.flip(axes)
        with stage1_autocast(self.config, self.device):
            output = self.model.head(self._trained(features))
        density = output.density.float()[..., :target.shape[-2], :target.shape[-1]]
        n_cells = float(target.sum())
        density_term = DENSITY_WEIGHT * ((density - target) ** 2).sum()
        count_term = (density.sum() - n_cells) ** 2 / max(1.0, n_cells)
        optimiser.zero_grad(set_to_none=True)
        (density_term + self.config.lambda_count * count_term).backward()
        optimiser.step()
        return float(density_term.detach()), float(count_term.detach())

    def _parameter_groups(self) -> list[dict]:
        """Adam's parameter groups: the trained conv3 layers at ``vgg_lr_share`` of the rate, the rest at the rate."""
        vgg = [p for p in self.model.extractor.frontend.parameters() if p.requires_grad]
        vgg_ids = {id(p) for p in vgg}
        rest = [p for p in self.model.parameters() if p.requires_grad and id(p) not in vgg_ids]
        groups = [{"params": rest, "base_lr": self.config.lr}]
        if vgg:
            groups.append({"params": vgg, "base_lr": self.config.lr * self.config.vgg_lr_share})
        return groups

    def _trained(self, cached: torch.Tensor) -> torch.Tensor:
        """The trained part of the extractor on cached features (through any trained conv3 layers)."""
        extractor = self.model.extractor
        return extractor.trained_features(extractor.finish_frozen(cached, self.config.train_vgg_layers))

    def _standardise(self, views: Sequence[FeatureView]) -> None:
        """A fresh extractor's per-channel standardisation, from the training views' frozen features."""
        per_view = max(1, STANDARDISE_SAMPLES // len(views))
        samples = []
        for view in views:
            with torch.no_grad():
                flat = self.model.extractor.finish_frozen(view.features[None].float().to(self.device),
                                                          self.config.train_vgg_layers)[0].flatten(1).cpu()
            picks = torch.from_numpy(self.rng.choice(flat.shape[1], min(flat.shape[1], per_view), replace=False))
            samples.append(flat[:, picks].float())
        sample = torch.cat(samples, dim=1)
        extractor = self.model.extractor
        extractor.feature_mean.copy_(sample.mean(dim=1).view(1, -1, 1, 1))
        extractor.feature_std.copy_(sample.std(dim=1).clamp_min(1e-3).view(1, -1, 1, 1))

    def _start_prototypes(self, views: Sequence[FeatureView]) -> None:
        """A fresh head's prototypes on processed features of up to 64 training views: cell prototypes
        where the target is highest, background prototypes where it is zero."""
        cells, background = [], []
        with torch.no_grad():
            for view in views[:: max(1, len(views) // 64)]:
                processed = self.model.head.processed_features(
                    self._trained(view.features[None].float().to(self.device)))[0]
                flat_target = view.target[0, :processed.shape[1], :processed.shape[2]].to(self.device).flatten()
                locations = processed.flatten(1).T
                if flat_target.max() > 0:
                    cells.append(locations[flat_target >= flat_target.max() * 0.5])
                background.append(locations[flat_target == 0])
            head = self.model.head
            for pool, first, count in ((cells, 0, head.config.k_cell), (background, head.config.k_cell,
                                                                         head.config.k_bg)):
                pool = torch.cat(pool) if pool else torch.empty(0)
                if count and len(pool):
                    chosen = torch.from_numpy(self.rng.choice(len(pool), count, replace=len(pool) < count))
                    head.prototypes[first:first + count] = pool[chosen]

    def _calibrate_counts(self, views: Sequence[FeatureView], most: float = 1e2) -> None:
        """Scale the cell prototypes' density weights by the one factor that best fits the model's
        counts of ``views`` to their dots (least squares through zero, within 1/100 and ``most``)."""
        counted, dots = [], []
        self.model.eval()
        with torch.inference_mode(), stage1_autocast(self.config, self.device):
            for view in views:
                features = self._trained(view.features[None].float().to(self.device))
                output = self.model.head(features)
                counted.append(float(output.density.float()[..., :view.target.shape[-2], :view.target.shape[-1]].sum()))
                dots.append(float(view.target.sum()))
        counted, dots = np.array(counted), np.array(dots)
        if not (counted ** 2).sum() > 0:
            return
        factor = float(np.clip((counted * dots).sum() / (counted ** 2).sum(), 1e-2, most))
        scale_density_weights(self.model.head.density_layer, factor)
        self.history.append({"stage": "calibrate", "factor": factor})

    def _frozen_val_features(self, frozen: Callable) -> list[torch.Tensor]:
        """Each whole validation image through the frozen part once (bfloat16), for every validation."""
        features = []
        with torch.inference_mode(), stage1_autocast(self.config, self.device):
            for image in self.val_images:
                if self.cancel():
                    raise Cancelled()
                pixels = image.pixels if self.config.count_scale == 1.0 else resize_pixels(image.pixels,
                                                                                          self.config.count_scale)
                features.append(frozen(padded_batch(pixels).to(self.device)).to(torch.bfloat16).cpu())
        return features

    def _val_mae(self) -> float:
        self.model.eval()
        errors = []
        with torch.inference_mode(), stage1_autocast(self.config, self.device):
            for image, frozen in zip(self.val_images, self.val_features):
                features = self._trained(frozen.to(self.device).float())
                density = self.model.head(features).density.float()
                errors.append(abs(float(density.sum()) - image.n_cells))
        return float(np.mean(errors))

    # ----- checkpoints: the weights, the optimiser and the best state so far, every validation
    def _save_checkpoint(self, step: int, optimiser: torch.optim.Optimizer, best: dict) -> None:
        if self.checkpoint is None:
            return
        write_checkpoint(self.checkpoint, self.config, self.fingerprint,
                         {"step": step, "model": self.model.state_dict(), "optimiser": optimiser.state_dict(),
                          "best": best, "history": self.history})

    def _resume(self, optimiser: torch.optim.Optimizer) -> tuple[int, dict | None]:
        payload, why_not = read_checkpoint(self.checkpoint, self.config, self.fingerprint)
        if why_not:
            return self._start_afresh(why_not)
        if not payload:
            return 0, None
        self.model.load_state_dict(payload["model"])
        optimiser.load_state_dict(payload["optimiser"])
        self.history = list(payload.get("history", []))
        return int(payload["step"]), payload["best"]

    def _start_afresh(self, why: str) -> tuple[int, None]:
        self.progress(Progress("checkpoint", 0, 0, message=f"checkpoint {self.checkpoint} {why}; "
                                                            "training starts afresh and replaces it"))
        return 0, None

    def _bundle(self, best: dict, seconds: float) -> ModelBundle:
        spacings = [typical_cell_spacing(image.dots) for image in self.train_images]
        bundle = trained_bundle(self.model, self.config, self.train_images, self.val_images,
                                {"val_mae": best["val_mae"], "best_step": best["step"]},
                                [], self.history, None, seconds)
        diameter = float(np.nanmedian(spacings)) if np.isfinite(spacings).any() else 10.0
        bundle.preprocessing["cell_diameter_px"] = diameter
        bundle.preprocessing["native_scale"] = True
        if self.config.count_scale != 1.0:
            bundle.preprocessing["count_scale"] = float(self.config.count_scale)
        bundle.preprocessing["sigma_px"] = float(self.config.sigma_px)
        return bundle
