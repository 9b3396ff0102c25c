"""Training CountXplain in two stages on cached frozen features.

Stage 1 fine-tunes the last ``train_backend_layers`` CSRNet backend layers (with all six,
optionally the last ``train_frontend_layers`` VGG convolutions too) and its output layer as a
density regressor; everything before them is frozen, so its output is computed once per
dihedral view and cached (``training_views``). Stage 2 freezes the whole extractor, caches
its 64-channel features, and trains the prototype head with the paper's loss. Prototypes
are projected onto training features of their own group (cell prototypes onto locations
holding a dot, background prototypes onto locations far from every dot) every
``projection_every`` epochs and at the end; each projection is followed by an exact
least-squares refit of the density layer, and the projected state with the lowest
validation MAE is kept. Every choice is made on validation images only.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ..annotations import atomic_write_bytes
from ..cell_size import frontend_modules_read
from .head_start import standardise_feature_processing
from ..errors import Cancelled
from .least_squares import least_squares_1x1
from .losses import count_loss, density_loss, diversity_loss, prototype_to_feature_loss
from ..modelfile import ModelBundle
from ..network import CountXplain
from .projection import project_prototypes, refit_density_layer
from .trained_model import trained_bundle
from .config import (TrainingConfig, config_for_start, stage1_autocast, stage1_learning_rate,
                              stage2_location_terms)
from .data import TrainingImage, View, context_crops, random_crops, receptive_radius
from .checkpoints import read_checkpoint, write_checkpoint
from .fingerprint import training_fingerprint
from .views import RunViews, frozen_views, to_head_features


@dataclass
class Progress:
    """One report from training: ``stage`` is 'checkpoint' (one not resumed), 'cache', 'stage1', 'stage2' or 'done'."""

    stage: str
    epoch: int
    epochs: int
    losses: dict = field(default_factory=dict)
    val_mae: float | None = None
    message: str = ""


ProgressCallback = Callable[[Progress], None]


def _never() -> bool:
    return False


class Trainer:
    """Runs both stages; ``run`` returns a ``ModelBundle`` (without gallery)."""

    def __init__(self, config: TrainingConfig, train: Sequence[TrainingImage], val: Sequence[TrainingImage],
                 csrnet_state: dict | None = None, init: ModelBundle | None = None, device: str | torch.device = "cpu",
                 progress: ProgressCallback | None = None, cancel: Callable[[], bool] | None = None,
                 checkpoint: Path | None = None) -> None:
        if not train or not val:
            raise ValueError("training needs at least one training and one validation image")
        config = config_for_start(config, init)
        self.config = config
        self.train_images, self.val_images = list(train), list(val)
        self.device = torch.device(device)
        self.progress = progress or (lambda p: None)
        self.cancel = cancel or _never
        self.checkpoint = checkpoint
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.model = CountXplain(config.model_config())
        self.head_from_init = False
        # a starting model's cell-size estimator stays valid only if training leaves the layers it reads
        size_model = init.preprocessing.get("size_model") if init is not None else None
        reads = frontend_modules_read(size_model, len(self.model.extractor.frontend))
        self.size_model = size_model if size_model and reads <= self._frontend_cut() else None
        if init is not None:
            self.model.extractor.load_state_dict(init.network.extractor.state_dict())
            if init.config == self.model.config:
                self.model.head.load_state_dict(init.network.head.state_dict())
                self.head_from_init = True
        elif csrnet_state is not None:
            self.model.extractor.load_state_dict(csrnet_state, strict=True)
        self.fingerprint = training_fingerprint(train, val, self.model) if checkpoint is not None else None
        self.model.to(self.device)
        self.history: list[dict] = []
        self.state = {"stage": "stage1", "epoch": 0}

    # ----- the frozen / trainable split of the extractor
    def _split(self) -> tuple[nn.Module, nn.Module]:
        """The frozen part (cached once) and the trainable tail of the extractor."""
        extractor = self.model.extractor
        backend_layers = max(0, min(6, self.config.train_backend_layers))
        frontend, backend = list(extractor.frontend), list(extractor.backend)
        frontend_cut = self._frontend_cut()
        backend_cut = 2 * (6 - backend_layers)
        frozen = nn.Sequential(*frontend[:frontend_cut], *backend[:backend_cut])
        trainable = nn.Sequential(*frontend[frontend_cut:], *backend[backend_cut:], extractor.output_layer)
        return frozen, trainable

    def _frontend_cut(self) -> int:
        """Frontend modules before the first one stage 1 trains (each VGG convolution is conv + ReLU).

        Stage 1 trains the last 0-3 VGG convolutions, and only with all six backend layers."""
        layers = max(0, min(3, self.config.train_frontend_layers)) if self.config.train_backend_layers >= 6 else 0
        return len(self.model.extractor.frontend) - 2 * layers

    def run(self) -> ModelBundle:
        start = time.perf_counter()
        resume = self._load_checkpoint()
        trainable, views = self._frozen_views()
        if resume.get("stage") != "stage2" and self.config.stage1_epochs > 0:
            self._stage1(trainable, views.train, views.val, resume if resume.get("stage") == "stage1" else {})
            resume = {}
        self._to_head_features(trainable, views)
        self._stage2(views.train, views.val, resume if resume.get("stage") == "stage2" else {})
        seconds = time.perf_counter() - start
        self.progress(Progress("done", 0, 0, message=f"finished in {seconds:.0f} s"))
        return self._bundle(seconds)

    def head_views(self) -> tuple[list[View], list[View]]:
        """The training and validation views with the features stage 2 trains on, from the extractor as
        it is (no stage 1): one cache for training several heads (``train_head``)."""
        trainable, views = self._frozen_views()
        self._to_head_features(trainable, views)
        return views.train, views.val

    def train_head(self, train_views: list[View], val_views: list[View]) -> ModelBundle:
        """Stage 2 alone on views from ``head_views``, from the head as it is now, with ``self.config``."""
        start = time.perf_counter()
        self.history = []
        self._stage2(train_views, val_views, {})
        return self._bundle(time.perf_counter() - start)

    def _frozen_views(self) -> tuple[nn.Module, RunViews]:
        """The extractor's trainable tail, and the run's views with the frozen part's features."""
        frozen, trainable = self._split()
        for p in self.model.parameters():
            p.requires_grad_(False)
        report = lambda done, total: self.progress(Progress("cache", done, total, message="computing frozen features"))
        views = frozen_views(self.config, self.train_images, self.val_images, frozen, self.device, report, self.cancel)
        self.train_weights, self.val_weights = views.train_weights, views.val_weights
        return trainable, views

    def _to_head_features(self, trainable: nn.Module, views: RunViews) -> None:
        """The views as stage 2 sees them: the extractor's output (its tail less the output layer)."""
        to_head_features(views, nn.Sequential(*list(trainable)[:-1]), self.device, self.config)

    # ----- stage 1: density regression of the trainable extractor tail
    def _stage1(self, trainable: nn.Module, train: list[View], val: list[View], resume: dict) -> None:
        c = self.config
        trainable.to(memory_format=torch.channels_last).train()
        for p in trainable.parameters():
            p.requires_grad_(True)
        optimiser = torch.optim.Adam(trainable.parameters(), lr=c.stage1_lr)
        average = (AveragedModel(trainable, multi_avg_fn=get_ema_multi_avg_fn(c.stage1_ema))
                   if c.stage1_ema > 0 else None)
        evaluated = average.module if average is not None else trainable
        best_mae, best_state, stale, first_epoch = math.inf, None, 0, 0
        if resume:
            trainable.load_state_dict(resume["trainable"])
            optimiser.load_state_dict(resume["optimiser"])
            if average is not None and resume.get("average") is not None:
                average.load_state_dict(resume["average"])
            best_mae, best_state, stale, first_epoch = resume["best_mae"], resume["best_state"], resume["stale"], resume["epoch"]
        steps = max(1, math.ceil(len(train) / c.stage1_batch))
        autocast = stage1_autocast(c, self.device)
        radius = receptive_radius(trainable)
        identity_views = [view for i, view in enumerate(train) if i == 0 or train[i - 1].image_index != view.image_index]
        context = radius if c.stage1_context_cells is None else min(radius, max(0, c.stage1_context_cells))
        for epoch in range(first_epoch, c.stage1_epochs):
            for group in optimiser.param_groups:
                group["lr"] = stage1_learning_rate(c, epoch)
            order = self._epoch_order(len(train))
            total = 0.0
            trainable.train()
            for step in range(steps):
                if self.cancel():
                    raise Cancelled()
                batch = order[step * c.stage1_batch:(step + 1) * c.stage1_batch]
                if len(batch) == 0:
                    continue
                if context:
                    predicted, targets = self._context_step(trainable, train, batch, context, autocast)
                else:
                    crops = random_crops(train, batch, c.crop_cells, self.rng)
                    features = crops.features.to(self.device).contiguous(memory_format=torch.channels_last)
                    with autocast:
                        predicted = trainable(features)
                    predicted = predicted.float() * crops.mask.to(self.device)
                    targets = crops.targets.to(self.device)
                loss = density_loss(predicted, targets)
                if c.lambda_stage1_count:
                    loss = loss + c.lambda_stage1_count * count_loss(predicted, targets)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                if average is not None:
                    average.update_parameters(trainable)
                total += float(loss.detach())
            evaluated.eval()
            if c.stage1_refit_output:
                least_squares_1x1(nn.Sequential(*list(evaluated)[:-1]), identity_views, evaluated[-1], self.device)
            mae = self._val_mae(evaluated, val)
            self.history.append({"stage": "stage1", "epoch": epoch + 1, "loss": total / steps, "val_mae": mae})
            if mae < best_mae:
                best_mae, best_state, stale = mae, copy.deepcopy(evaluated.state_dict()), 0
            else:
                stale += 1
            self._save_checkpoint({"stage": "stage1", "epoch": epoch + 1, "trainable": trainable.state_dict(),
                                   "optimiser": optimiser.state_dict(), "best_mae": best_mae,
                                   "best_state": best_state, "stale": stale,
                                   "average": average.state_dict() if average is not None else None})
            self.progress(Progress("stage1", epoch + 1, c.stage1_epochs, {"density": total / steps}, mae))
            if stale >= c.stage1_patience:
                break
        if best_state is not None:
            trainable.load_state_dict(best_state)
        self.stage1_val_mae = best_mae
        if self.checkpoint is not None:
            buffer = io.BytesIO()
            torch.save(self.model.extractor.state_dict(), buffer)
            atomic_write_bytes(Path(str(self.checkpoint) + ".stage1.pt"), buffer.getvalue())
        trainable.eval()
        for p in trainable.parameters():
            p.requires_grad_(False)

    def _context_step(self, trainable: nn.Module, train: list[View], batch: np.ndarray, context: int,
                      autocast: contextlib.AbstractContextManager) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted and target density of a batch of context crops, inner windows only: (B, 1, crop, crop).

        Windows of one shape run as one batch; inner windows smaller than the crop are
        zero-padded in both, so padding adds nothing to the loss."""
        crop = self.config.crop_cells
        windows = context_crops(train, batch, crop, context, self.rng)
        predicted: list[torch.Tensor | None] = [None] * len(windows)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, window in enumerate(windows):
            by_shape.setdefault(tuple(window.features.shape), []).append(i)
        for members in by_shape.values():
            features = torch.stack([windows[i].features for i in members]).to(self.device)
            with autocast:
                output = trainable(features.contiguous(memory_format=torch.channels_last))
            for row, i in enumerate(members):
                top, left, height, width = windows[i].inner
                inner = output[row, :, top:top + height, left:left + width].float()
                predicted[i] = nn.functional.pad(inner, (0, crop - width, 0, crop - height))
        targets = torch.stack([nn.functional.pad(w.target, (0, crop - w.inner[3], 0, crop - w.inner[2]))
                               for w in windows]).to(self.device)
        return torch.stack(predicted), targets

    # ----- stage 2: the prototype head on frozen features
    def _stage2(self, train: list[View], val: list[View], resume: dict) -> None:
        c = self.config
        head = self.model.head.to(self.device)
        params = [head.feature_processing.weight, head.feature_processing.bias, head.prototypes,
                  head.density_layer.weight, head.density_layer.bias]
        for p in params:
            p.requires_grad_(True)
        if c.standardise_head_init and not self.head_from_init and not resume:
            standardise_feature_processing(head, train, self.device)
        optimiser = torch.optim.Adam(params, lr=c.stage2_lr)
        best_mae, best_state, first_epoch = math.inf, None, 0
        if resume:
            head.load_state_dict(resume["head"])
            optimiser.load_state_dict(resume["optimiser"])
            best_mae, best_state, first_epoch = resume["best_mae"], resume["best_state"], resume["epoch"]
        steps = max(1, math.ceil(len(train) / c.stage2_batch))
        epochs = c.stage2_epochs
        if epochs <= 0:  # no training: the head (e.g. a starting model's) is only projected again
            best_mae = self._project(head, train, val)
            best_state = {"head": copy.deepcopy(head.state_dict()), "sources": list(self.projection_sources)}
            self.history.append({"stage": "stage2", "epoch": 0, "val_mae": best_mae})
            self.progress(Progress("stage2", 0, 0, {}, best_mae, message="projected"))
        location_terms = stage2_location_terms(c)
        for epoch in range(first_epoch, epochs):
            order = self._epoch_order(len(train))
            sums = {"density": 0.0, "proto": 0.0, "diversity": 0.0}
            head.train()
            for step in range(steps):
                if self.cancel():
                    raise Cancelled()
                batch = order[step * c.stage2_batch:(step + 1) * c.stage2_batch]
                if len(batch) == 0:
                    continue
                crops = random_crops(train, batch, c.crop_cells, self.rng)
                targets, mask = crops.targets.to(self.device), crops.mask.to(self.device)
                output = head(crops.features.to(self.device))
                l_density = density_loss(output.density * mask, targets)
                l_proto = prototype_to_feature_loss(output.distances, targets, c.k_cell, mask)
                l_div = diversity_loss(head.prototypes, c.k_cell, c.tau)
                loss = c.lambda_density * l_density + c.lambda_proto * l_proto + c.lambda_diversity * l_div
                dot_cells = crops.dot_cells.to(self.device) if location_terms else None
                for name, weight, term in location_terms:
                    value = term(output.distances, dot_cells, mask, c.k_cell)
                    loss = loss + weight * value
                    sums[name] = sums.get(name, 0.0) + float(value.detach())
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                sums["density"] += float(l_density.detach())
                sums["proto"] += float(l_proto.detach())
                sums["diversity"] += float(l_div.detach())
            losses = {k: v / steps for k, v in sums.items()}
            mae = None
            last = epoch + 1 == epochs
            if (epoch + 1) % max(1, c.projection_every) == 0 or last:
                mae = self._project(head, train, val)
                if mae < best_mae or best_state is None:
                    best_mae, best_state = mae, {"head": copy.deepcopy(head.state_dict()),
                                                 "sources": list(self.projection_sources)}
            self.history.append({"stage": "stage2", "epoch": epoch + 1, **losses, "val_mae": mae})
            self._save_checkpoint({"stage": "stage2", "epoch": epoch + 1, "head": head.state_dict(),
                                   "optimiser": optimiser.state_dict(), "best_mae": best_mae, "best_state": best_state})
            self.progress(Progress("stage2", epoch + 1, epochs, losses, mae))
        head.load_state_dict(best_state["head"])
        self.projection_sources = best_state["sources"]
        self.stage2_val_mae = best_mae
        for p in params:
            p.requires_grad_(False)
        head.eval()

    def _project(self, head: nn.Module, train: list[View], val: list[View]) -> float:
        """Project the prototypes, refit the density layer, and return the validation MAE."""
        self.projection_sources = project_prototypes(head, train, self.train_images, self.config, self.device)
        refit_density_layer(head, train, self.device)
        return self._val_mae(lambda f: head(f).density, val)

    def _epoch_order(self, n: int) -> np.ndarray:
        """The views of one epoch: a permutation, or a weighted draw when sets are balanced."""
        if self.config.group_share_power == 1.0:
            return self.rng.permutation(n)
        return self.rng.choice(n, size=n, replace=True, p=self.train_weights)

    def _val_mae(self, predict: Callable[[torch.Tensor], torch.Tensor], val: list[View]) -> float:
        """Validation MAE, each set weighted by its share of the training batches."""
        errors = []
        with torch.inference_mode():
            for view in val:
                predicted = predict(view.features[None].float().to(self.device))
                errors.append(abs(float(predicted.sum()) - float(view.target.sum())))
        return float(np.dot(errors, self.val_weights))

    # ----- checkpoints
    def _save_checkpoint(self, payload: dict) -> None:
        if self.checkpoint is None:
            return
        write_checkpoint(self.checkpoint, self.config, self.fingerprint,
                         {**payload, "history": self.history, "extractor": self.model.extractor.state_dict()})

    def _load_checkpoint(self) -> dict:
        payload, why_not = read_checkpoint(self.checkpoint, self.config, self.fingerprint)
        if why_not:
            return self._start_afresh(why_not)
        if not payload:
            return {}
        self.model.extractor.load_state_dict(payload["extractor"])
        self.history = list(payload.get("history", []))
        return payload

    def _start_afresh(self, why: str) -> dict:
        self.progress(Progress("checkpoint", 0, 0, message=f"checkpoint {self.checkpoint} {why}; "
                                                            "training starts afresh and replaces it"))
        return {}

    def _bundle(self, seconds: float) -> ModelBundle:
        metrics = {"stage1_val_mae": getattr(self, "stage1_val_mae", None),
                   "val_mae": getattr(self, "stage2_val_mae", None)}
        return trained_bundle(self.model, self.config, self.train_images, self.val_images, metrics,
                              getattr(self, "projection_sources", []), self.history, self.size_model, seconds)
