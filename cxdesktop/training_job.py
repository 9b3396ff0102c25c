"""Training a model on the user's annotated images (Qt-free; the job runs it on the worker).

``run_training`` pairs the images with their sidecar dots, resolves each one's cell size,
trains with ``countxplain.training.train_model`` (the library's one training entry point: it
sets the validation share aside, trains with the checkpoint and builds the prototype gallery)
and counts every image with the result.
``weighted_loss`` is the one loss number per epoch the curves show. Nothing here imports
torch at module level.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

START_CURRENT, START_CSRNET = "current", "csrnet"


@dataclass
class TrainingRequest:
    """What to train on and how: the recipe ``preset`` (``countxplain.training.PRESETS``) with the form's
    values, ``config`` (a ``countxplain.training.TrainingConfig``); fields that differ from the preset's
    are passed to ``train_model`` as overrides."""

    images: list[str]
    diameters: list[float | None]  # per image: the user's cell diameter; None: as counted (``run_training``)
    config: Any
    preset: str = "fine-tune"
    start: str = START_CURRENT
    checkpoint: Path | None = None
    val_share: float = 0.2
    device: str = "auto"


@dataclass
class ImageResult:
    name: str
    split: str  # "validation" or "training"
    annotated: int
    predicted: float

    @property
    def error(self) -> float:
        return self.predicted - self.annotated


@dataclass
class TrainingOutcome:
    """What a finished run sends back to the GUI (no tensors; ``info`` is an ``engine.ModelInfo``)."""

    rows: list[ImageResult]
    info: Any
    seconds: float
    history: list[dict] = field(default_factory=list)

    @property
    def val_mae(self) -> float:
        errors = [abs(r.error) for r in self.rows if r.split == "validation"]
        return float(np.mean(errors)) if errors else float("nan")


def training_diameter(sizer, pixels: np.ndarray, target_diameter_px: float) -> float:
    """The diameter to give ``prepare_images`` for an image without a cell size, so it is trained at
    the scale the trained model will count it at: the trained model keeps the starting model's size
    estimator (``sizer``, a ``Counter``) and has ``target_diameter_px`` as its training diameter, so
    the estimate where it is far from that (``countxplain.scale_policy``), else the image as it is."""
    from countxplain.scale_policy import diameter_to_use

    if sizer is None:
        return target_diameter_px
    height, width = pixels.shape[:2]
    used = diameter_to_use(sizer.estimate_cell_diameter(pixels), target_diameter_px, image_pixels=height * width)
    return used or target_diameter_px


def config_overrides(config, preset: str) -> dict:
    """The fields of ``config`` whose values differ from those of ``preset``."""
    import dataclasses

    from countxplain.training import preset_config

    base = preset_config(preset)
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
            if getattr(config, f.name) != getattr(base, f.name)}


def run_training(request: TrainingRequest, init, report: Callable[[Any], None],
                 cancel: Callable[[], bool]) -> tuple[Any, Any, TrainingOutcome]:
    """Train with ``countxplain.training.train_model``; returns the ``ModelBundle`` (with gallery), a
    ``Counter`` for it and the outcome (``info`` unset)."""
    from countxplain.datasets import Sample, sidecar_paths
    from countxplain.device import choose_device
    from countxplain.errors import Cancelled
    from countxplain.inference import Counter
    from countxplain.training import Progress, train_model

    start = time.perf_counter()
    starts_from_init = init is not None and request.start == START_CURRENT
    config = request.config  # train_model brings it to the starting model (``config_for_start``)
    sidecars = sidecar_paths(request.images)
    # without a size estimator every unsized image is trained as it is: no Counter, no second read
    sizer = Counter(init, device="cpu") if starts_from_init and init.preprocessing.get("size_model") else None

    def diameter(i: int) -> float:
        from countxplain.images import read_image

        if cancel():
            raise Cancelled()
        if request.diameters[i]:
            return request.diameters[i]
        if sizer is None:
            return config.cell_diameter_px
        return training_diameter(sizer, read_image(request.images[i]).pixels, config.cell_diameter_px)

    report(Progress("prepare", 0, 0, message="reading the annotated images"))
    samples = [Sample(Path(path), sidecars[i]) for i, path in enumerate(request.images)]
    diameters = [diameter(i) for i in range(len(samples))]
    csrnet = None
    if request.start == START_CSRNET:
        from countxplain.pretrained import load_csrnet_state

        csrnet = load_csrnet_state()
    device = choose_device(request.device).device
    run = train_model(samples, request.preset, config_overrides(config, request.preset), val_share=request.val_share,
                      diameters=diameters, init=init if starts_from_init else None, csrnet_state=csrnet,
                      device=device, progress=report, cancel=cancel, checkpoint=request.checkpoint)
    bundle = run.bundle
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    bundle.provenance["name"] = f"Trained {stamp} (unsaved)"
    bundle.provenance["training_data"]["images"] = [Path(p).name for p in request.images]
    bundle.provenance["training_start"] = request.start
    report(Progress("evaluate", 0, 0, message="counting the images with the new model"))
    counter = Counter(bundle, device=str(device))
    rows = []
    for split, images in (("validation", run.val_images), ("training", run.train_images)):
        for image in images:
            if cancel():
                raise Cancelled()
            predicted = counter.count(image.pixels).count
            rows.append(ImageResult(image.name, split, image.n_cells, float(predicted)))
    outcome = TrainingOutcome(rows, None, time.perf_counter() - start, list(run.history))
    return bundle, counter, outcome


def remove_checkpoint(checkpoint: Path | None) -> None:
    """Delete a run's checkpoint files (the checkpoint and the stage-1 extractor beside it)."""
    if checkpoint is None:
        return
    for path in (Path(checkpoint), Path(str(checkpoint) + ".stage1.pt")):
        path.unlink(missing_ok=True)


def weighted_loss(progress, config) -> float | None:
    """One training-loss number per epoch: stage 1's density loss, stage 2's weighted total."""
    losses = progress.losses or {}
    if progress.stage == "stage1":
        return losses.get("density")
    if progress.stage == "stage2" and losses:
        return (config.lambda_density * losses.get("density", 0.0) + config.lambda_proto * losses.get("proto", 0.0)
                + config.lambda_diversity * losses.get("diversity", 0.0))
    return None
