"""The worker side: owns the model and the counter; called only from job functions.

Nothing here imports Qt. ``torch`` and the ``countxplain`` modules that import it are
imported inside the methods, so importing this module (from the GUI) stays cheap; the
first job to call a method pays for the import, on the worker thread.

What crosses back to the GUI are plain snapshots (``ModelInfo``, ``ImagePreview``,
``Analysis``) holding numpy arrays and strings, never tensors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

THUMBNAIL_SIDE = 64


class NoModelError(Exception):
    """Counting was asked for while no model is loaded."""

    user_facing = True


@dataclass
class ModelInfo:
    """What the GUI may know about the loaded model (a read-only snapshot)."""

    name: str
    path: str
    k_cell: int
    k_bg: int
    cell_diameter_px: float
    provenance: dict
    preprocessing: dict
    config: dict
    device: str
    device_label: str
    device_reason: str
    precision: str = "fp32"  # what counting uses: 'fp32' or 'bf16'
    precision_reason: str = ""
    flips: int = 1  # the maps are averaged over the image and flips - 1 mirror images of it
    gallery_patches: np.ndarray | None = None  # uint8 (K, k, P, P, 3)
    gallery_similarity: np.ndarray | None = None  # float (K, k)
    gallery_sources: list = field(default_factory=list)

    @property
    def k_total(self) -> int:
        return self.k_cell + self.k_bg


@dataclass
class ImagePreview:
    """An image as read for display: float pixels in [0, 1] and a small uint8 thumbnail."""

    path: str
    pixels: np.ndarray
    thumbnail: np.ndarray
    source_dtype: str
    planes: Any = None  # countxplain.images.planes.Planes: the pages the file offers
    channels: int = 1  # channels of the page read
    page: int | None = None  # the page read (None: the file is read whole)
    channel: int | None = None  # the channel read (None: all, as gray or colour)
    pixel_size: Any = None  # countxplain.images.pixel_size.PixelSize the file states, or None

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


@dataclass
class Analysis:
    """One image's count with everything the views explain it by."""

    path: str
    result: Any  # countxplain.inference.CountResult (numpy arrays only)
    contributions: Any  # countxplain.explain.Contributions or None
    cell_diameter_px: float | None
    model_name: str
    model_path: str
    device: str
    precision: str = "fp32"  # of the feature extractor that counted: 'fp32' or 'bf16'
    size_doubt: Any = None  # countxplain.scale_policy.SizeDoubt of a count at the estimated size, else None

    @property
    def count(self) -> float:
        return float(self.result.count)


def make_thumbnail(pixels: np.ndarray, side: int = THUMBNAIL_SIDE) -> np.ndarray:
    step = max(1, math.ceil(max(pixels.shape[:2]) / side))
    small = pixels[::step, ::step, :3]
    return np.ascontiguousarray((np.clip(small, 0, 1) * 255 + 0.5).astype(np.uint8))


class Engine:
    """The model and counter of the worker thread."""

    def __init__(self) -> None:
        self.bundle = None
        self.counter = None
        self.info: ModelInfo | None = None
        self.trained: tuple | None = None  # (bundle, counter) of the last training run
        self.flips = 1  # every count and explanation: the image and flips - 1 mirror images, averaged

    # ---- devices and models ----
    def probe_devices(self) -> dict[str, str | None]:
        from countxplain.device import usable_devices

        return usable_devices()

    def load_model(self, path: str | Path, device: str = "auto", precision: str = "auto",
                   flips: int | None = None) -> ModelInfo:
        """Load and validate a model file; the previous model stays if this one is refused."""
        from countxplain.inference import Counter, checked_flips
        from countxplain.modelfile import load_model

        flips = self.flips if flips is None else checked_flips(flips)
        bundle = load_model(path, device="cpu")
        counter = Counter(bundle, device=device, precision=precision)
        self.bundle, self.counter, self.flips = bundle, counter, flips
        self.info = self._snapshot(bundle, counter)
        return self.info

    def set_device(self, device: str, precision: str = "auto") -> ModelInfo:
        from countxplain.inference import Counter

        if self.bundle is None:
            raise NoModelError("no model is loaded")
        self.counter = Counter(self.bundle, device=device, precision=precision)
        self.info = self._snapshot(self.bundle, self.counter)
        return self.info

    def set_flips(self, flips: int) -> ModelInfo:
        """Average every later count's maps over ``flips`` views (1, 2 or 4)."""
        from countxplain.inference import checked_flips

        if self.bundle is None:
            raise NoModelError("no model is loaded")
        self.flips = checked_flips(flips)
        self.info = self._snapshot(self.bundle, self.counter)
        return self.info

    def _snapshot(self, bundle, counter) -> ModelInfo:
        gallery = bundle.gallery
        label = counter.device.type.upper()
        if counter.device.type == "cuda":
            import torch

            label = f"CUDA ({torch.cuda.get_device_name(counter.device)})"
        return ModelInfo(
            name=bundle.name, path=str(bundle.path or ""), k_cell=bundle.config.k_cell, k_bg=bundle.config.k_bg,
            cell_diameter_px=bundle.cell_diameter_px, provenance=dict(bundle.provenance),
            preprocessing=dict(bundle.preprocessing), config=bundle.config.to_dict(), device=str(counter.device),
            device_label=label, device_reason=counter.device_reason,
            precision=counter.precision, precision_reason=counter.precision_reason, flips=self.flips,
            gallery_patches=gallery.patches.cpu().numpy() if gallery is not None else None,
            gallery_similarity=gallery.similarity.float().cpu().numpy() if gallery is not None else None,
            gallery_sources=list(gallery.sources) if gallery is not None else [])

    # ---- training (the "train", "save-trained" and "use-trained" jobs) ----
    def train(self, request, report: Callable, cancel: Callable[[], bool]):
        """Run ``training_job.run_training``; the result is kept here and described by the outcome."""
        from .training_job import START_CURRENT, run_training

        if request.start == START_CURRENT and self.bundle is None:
            raise NoModelError("no model is loaded to fine-tune; choose the CSRNet start instead")
        bundle, counter, outcome = run_training(request, self.bundle, report, cancel)
        self.trained = (bundle, counter)
        outcome.info = self._snapshot(bundle, counter)
        return outcome

    def save_trained(self, path: str | Path) -> tuple[ModelInfo, bool]:
        """Write the trained model (atomically) under its new name; True if it is the model in use."""
        from countxplain.modelfile import save_model

        if self.trained is None:
            raise NoModelError("no trained model to save")
        bundle, counter = self.trained
        bundle.provenance["name"] = Path(path).stem
        save_model(bundle, path)
        bundle.path = Path(path)
        info = self._snapshot(bundle, counter)
        in_use = self.bundle is bundle
        if in_use:
            self.info = info
        return info, in_use

    def use_trained(self) -> ModelInfo:
        if self.trained is None:
            raise NoModelError("no trained model to use")
        self.bundle, self.counter = self.trained
        self.info = self._snapshot(self.bundle, self.counter)
        return self.info

    # ---- images ----
    def read(self, path: str | Path, page: int | None = None, channel: int | None = None) -> ImagePreview:
        """The image at ``page`` and ``channel`` (None: the first page and channel of several)."""
        from countxplain.images.choice import read_chosen

        chosen = read_chosen(path, page=page, channel=channel)
        pixels = chosen.data.pixels
        return ImagePreview(str(path), pixels, make_thumbnail(pixels), chosen.data.source_dtype, chosen.planes,
                            chosen.channels, chosen.page, chosen.channel, chosen.pixel_size)

    def count(self, path: str | Path, cell_diameter_px: float | None,
              cancel: Callable[[], bool] | None = None, page: int | None = None,
              channel: int | None = None) -> tuple[ImagePreview, Analysis]:
        """Read and count one image with similarity maps and contributions; a count at the estimated
        cell size also carries its ``size_doubt``."""
        from countxplain.explain import contributions

        if self.counter is None:
            raise NoModelError("no model is loaded")
        preview = self.read(path, page, channel)
        result = self.counter.count(preview.pixels, cell_diameter_px=cell_diameter_px or None,
                                    with_similarity=True, cancel=cancel, estimate_cell_size=True, flips=self.flips)
        parts = contributions(self.bundle, result)
        doubt = self.size_doubt(preview.pixels, result, cancel)
        analysis = Analysis(str(path), result, parts, cell_diameter_px or None, self.bundle.name,
                            str(self.bundle.path or ""), result.device, self.counter.precision, doubt)
        return preview, analysis

    def size_doubt(self, pixels: np.ndarray, result, cancel: Callable[[], bool] | None = None):
        """How a count that rests on the estimated cell size moves when the cells are as small or as
        large as the estimate's measured error range allows (two plain counts, no similarity maps),
        and whether that makes it doubtful; None when the size was given, the model counts images at
        their own scale or has no estimator, or no error range is known."""
        from countxplain.scale_policy import bounded_diameters, estimate_error_range, size_doubt

        estimate = result.estimated_diameter_px
        if not estimate or not math.isfinite(estimate) or self.bundle.preprocessing.get("native_scale"):
            return None
        factors = estimate_error_range()
        if factors is None:
            return None
        diameters = bounded_diameters(estimate, factors, float(self.bundle.cell_diameter_px),
                                      pixels.shape[0] * pixels.shape[1])
        counts = [self.counter.count(pixels, cell_diameter_px=d, cancel=cancel, flips=self.flips).count
                  for d in diameters]
        return size_doubt(result.count, estimate, diameters, counts)

    def prototype_overlay(self, analysis: Analysis, prototype: int,
                          percentile: float = 99.0) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
        """A prototype's similarity upsampled to the image, and its ``percentile`` boxes."""
        from countxplain.explain import similarity_boxes, similarity_on_image

        upsampled = similarity_on_image(analysis.result, prototype).astype(np.float32)
        return upsampled, similarity_boxes(analysis.result, prototype, percentile=percentile)

    def explain(self, image_path: str | Path, out_dir: str | Path, cell_diameter_px: float | None,
                name: str | None = None, cancel: Callable[[], bool] | None = None) -> tuple[Path, Path]:
        """Write the explanation figure and its JSON as ``<name>-explanation.*`` (default: the image's
        stem), counted by the loaded counter, the one the app counts with (no model set up per figure)."""
        from countxplain.explain_report import write_explanation

        if self.bundle is None or self.counter is None:
            raise NoModelError("no model is loaded")
        return write_explanation(self.bundle, Path(image_path), Path(out_dir),
                                 cell_diameter_px=cell_diameter_px or None,
                                 device=str(self.counter.device), estimate_cell_size=True, flips=self.flips,
                                 counter=self.counter, name=name, cancel=cancel)
