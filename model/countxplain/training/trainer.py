"""Training CountXplain in two stages on cached frozen features.

Stage 1 fine-tunes the last ``train_backend_layers`` CSRNet backend layers and its output layer
as a density regressor; everything before them is frozen, so its output is computed once per
dihedral view and cached (``training_views``). Stage 2 freezes the whole extractor, caches
its 64-channel features, and trains the prototype head with the paper's loss. Prototypes
are projected onto training features of their own group (cell prototypes onto locations
holding a dot, background prototypes onto locations far from every dot) every
``projection_every`` epochs and at the end; each projection is followed by an exact
least-squares refit of the density layer, and the projected state with the lowest
validation MAE is kept. Every choice is made on validation images only.
"""

from __future__ import annotations

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

from ..annotations import atomic_write_bytes
from ..errors import Cancelled
from ..modelfile import ModelBundle
from ..network import CountXplain
from .checkpoints import read_checkpoint, write_checkpoint
from .config import TrainingConfig, config_for_start, stage1_autocast, stage1_learning_rate
from .data import TrainingImage, View, random_crops
from .fingerprint import training_fingerprint
from .losses import density_loss, diversity_loss, prototype_to_feature_loss
from .projection import project_prototypes, refit_density_layer
from .trained_model import trained_bundle
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
        # a starting model's cell-size estimator stays valid: it reads the VGG frontend, which training leaves
        self.size_model = (init.preprocessing.get("size_model") or None) if init is not None else None
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
        """The frozen part (cached once: the VGG frontend and the backend layers stage 1 leaves) and
        the trainable tail of the extractor."""
        extractor = self.model.extractor
        backend_layers = max(0, min(6, self.config.train_backend_layers))
        backend = list(extractor.backend)
        backend_cut = 2 * (6 - backend_layers)
        frozen = nn.Sequential(*extractor.frontend, *backend[:backend_cut])
        trainable = nn.Sequential(*backend[backend_cut:], extractor.output_layer)
        return frozen, trainable

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
        def report(done, total):
            return self.progress(Progress("cache", done, total, message="computing frozen features"))
        views = frozen_views(self.config, self.train_images, self.val_images, frozen, self.device, report, self.cancel)
        self.train_weights, self.val_weights = views.train_weights, views.val_weights
        return trainable, views

    def _to_head_features(self, trainable: nn.Module, views: RunViews) -> None:
        """The views as stage 2 sees them: the extractor's output (its tail less the output layer)."""
        to_head_features(views, nn.Sequential(*list(trainable)[:-1]), self.device, self.config)

    # ----- one epoch of either stage
    def _epoch(self, optimiser: torch.optim.Optimizer, n_views: int, batch_size: int,
               batch_loss: Callable[[np.ndarray], tuple[torch.Tensor, dict[str, torch.Tensor]]]) -> dict[str, float]:
        """One pass over the views in batches (``_epoch_order``): each batch's loss minimised by one
        optimiser step; returns each named term's mean over the epoch's steps."""
        order = self._epoch_order(n_views)
        steps = max(1, math.ceil(n_views / batch_size))
        sums: dict[str, float] = {}
        for step in range(steps):
            if self.cancel():
                raise Cancelled()
            batch = order[step * batch_size:(step + 1) * batch_size]
            if len(batch) == 0:
                continue
            loss, terms = batch_loss(batch)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach())
        return {name: value / steps for name, value in sums.items()}

    # ----- stage 1: density regression of the trainable extractor tail
    def _stage1(self, trainable: nn.Module, train: list[View], val: list[View], resume: dict) -> None:
        c = self.config
        trainable.to(memory_format=torch.channels_last).train()
        for p in trainable.parameters():
            p.requires_grad_(True)
        optimiser = torch.optim.Adam(trainable.parameters(), lr=c.stage1_lr)
        best_mae, best_state, stale, first_epoch = math.inf, None, 0, 0
        if resume:
            trainable.load_state_dict(resume["trainable"])
            optimiser.load_state_dict(resume["optimiser"])
            best_mae, best_state = resume["best_mae"], resume["best_state"]
            stale, first_epoch = resume["stale"], resume["epoch"]
        autocast = stage1_autocast(c, self.device)

        def batch_loss(batch: np.ndarray) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            crops = random_crops(train, batch, c.crop_cells, self.rng)
            with autocast:
                predicted = trainable(crops.features.to(self.device).contiguous(memory_format=torch.channels_last))
            loss = density_loss(predicted.float() * crops.mask.to(self.device), crops.targets.to(self.device))
            return loss, {"density": loss}

        for epoch in range(first_epoch, c.stage1_epochs):
            for group in optimiser.param_groups:
                group["lr"] = stage1_learning_rate(c, epoch)
            trainable.train()
            losses = self._epoch(optimiser, len(train), c.stage1_batch, batch_loss)
            trainable.eval()
            mae = self._val_mae(trainable, val)
            self.history.append({"stage": "stage1", "epoch": epoch + 1, "loss": losses.get("density", 0.0),
                                 "val_mae": mae})
            if mae < best_mae:
                best_mae, best_state, stale = mae, copy.deepcopy(trainable.state_dict()), 0
            else:
                stale += 1
            self._save_checkpoint({"stage": "stage1", "epoch": epoch + 1, "trainable": trainable.state_dict(),
                                   "optimiser": optimiser.state_dict(), "best_mae": best_mae,
                                   "best_state": best_state, "stale": stale})
            stop = stale >= c.stage1_patience
            why = f"no better validation count for {stale} epochs" if stop and epoch + 1 < c.stage1_epochs else ""
            self.progress(Progress("stage1", epoch + 1, c.stage1_epochs, losses, mae, message=why))
            if stop:
                break
        self._end_stage1(trainable, best_state, best_mae)

    def _end_stage1(self, trainable: nn.Module, best_state: dict | None, best_mae: float) -> None:
        """Keep stage 1's best state, write it beside the checkpoint, and freeze the tail."""
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

    # ----- stage 2: the prototype head on frozen features
    def _stage2(self, train: list[View], val: list[View], resume: dict) -> None:
        c = self.config
        head = self.model.head.to(self.device)
        params = [head.feature_processing.weight, head.feature_processing.bias, head.prototypes,
                  head.density_layer.weight, head.density_layer.bias]
        for p in params:
            p.requires_grad_(True)
        optimiser = torch.optim.Adam(params, lr=c.stage2_lr)
        best_mae, best_state, first_epoch = math.inf, None, 0
        if resume:
            head.load_state_dict(resume["head"])
            optimiser.load_state_dict(resume["optimiser"])
            best_mae, best_state, first_epoch = resume["best_mae"], resume["best_state"], resume["epoch"]
        if c.stage2_epochs <= 0:  # no training: the head (e.g. a starting model's) is only projected again
            best_mae = self._project(head, train, val)
            best_state = {"head": copy.deepcopy(head.state_dict()), "sources": list(self.projection_sources)}
            self.history.append({"stage": "stage2", "epoch": 0, "val_mae": best_mae})
            self.progress(Progress("stage2", 0, 0, {}, best_mae, message="projected"))

        def batch_loss(batch: np.ndarray) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            crops = random_crops(train, batch, c.crop_cells, self.rng)
            targets, mask = crops.targets.to(self.device), crops.mask.to(self.device)
            output = head(crops.features.to(self.device))
            terms = {"density": density_loss(output.density * mask, targets),
                     "proto": prototype_to_feature_loss(output.distances, targets, c.k_cell, mask),
                     "diversity": diversity_loss(head.prototypes, c.k_cell, c.tau)}
            loss = (c.lambda_density * terms["density"] + c.lambda_proto * terms["proto"]
                    + c.lambda_diversity * terms["diversity"])
            return loss, terms

        for epoch in range(first_epoch, c.stage2_epochs):
            head.train()
            losses = self._epoch(optimiser, len(train), c.stage2_batch, batch_loss)
            mae = None
            if (epoch + 1) % max(1, c.projection_every) == 0 or epoch + 1 == c.stage2_epochs:
                mae = self._project(head, train, val)
                if mae < best_mae or best_state is None:
                    best_mae, best_state = mae, {"head": copy.deepcopy(head.state_dict()),
                                                 "sources": list(self.projection_sources)}
            self.history.append({"stage": "stage2", "epoch": epoch + 1, **losses, "val_mae": mae})
            self._save_checkpoint({"stage": "stage2", "epoch": epoch + 1, "head": head.state_dict(),
                                   "optimiser": optimiser.state_dict(), "best_mae": best_mae, "best_state": best_state})
            self.progress(Progress("stage2", epoch + 1, c.stage2_epochs, losses, mae))
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
