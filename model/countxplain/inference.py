"""Counting: rescale to the model's cell size, run fully convolutionally, tile large images.

A ``Counter`` owns one model on one device. Images larger than ``tile_size`` are cut
into core tiles (multiples of 8 pixels) that are each run with a ``tile_margin`` of
context on every side; only each tile's core is kept, so peak memory is bounded by the
tile size and the stitched density equals the untiled one up to the context lost
beyond the margin.

Speed (measured in ``benchmarks/perf.py``, written up in ``benchmarks/PERF.md``): every
pass runs under ``torch.inference_mode`` on channels-last tensors, which on the CPU
already reaches the machine's fp32 matmul rate. ``precision="bf16"`` runs the extractor
on a bfloat16 copy of its weights on the CPU, all but the first convolution (made at the
first bf16 count; autocast would cast every weight again on every call); other devices
use autocast.
``precision="auto"`` picks bf16 only where the hardware computes it natively *and* the
bf16 count of the model's own gallery patches is within ``AUTO_TOLERANCE`` of the fp32
one; otherwise fp32.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .density import OUTPUT_STRIDE, padded_size
from .device import choose_device
from .errors import Cancelled
from .images import resize_pixels
from .memory import release_freed_memory
from .modelfile import ModelBundle
from .network import normalise_batch
from .scale_policy import diameter_to_use, refuse_huge_rescale

PRECISIONS = ("fp32", "bf16", "fp16", "auto")
LOW_PRECISION = {"bf16": torch.bfloat16, "fp16": torch.float16}
# The first convolution and its ReLU stay in fp32 on the bf16 CPU path: rounding the
# normalised input itself to bf16's 8-bit mantissa caused most of the count change
# (max 0.50 % -> 0.11 % on vgg test images) for 2 % of the network's time.
FP32_INPUT_MODULES = 2
AUTO_TOLERANCE = 0.005  # 'auto' takes bf16 only if its count is within 0.5 % of fp32's
# Beyond the paper: the maps averaged over mirrored copies of the input (flipped across the padded
# canvas, so every output cell lands back on its own place); the density is linear in the similarity
# maps, so the averaged density is still the weighted sum of the averaged maps plus the bias.
FLIP_AXES = {1: ((),), 2: ((), (3,)), 4: ((), (3,), (2,), (2, 3))}


def native_bf16(device: torch.device) -> bool:
    """Whether the device computes bfloat16 in hardware (else bf16 is emulated and no faster)."""
    if device.type == "cpu":
        cpu = getattr(torch, "cpu", None)
        try:
            return bool(cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported())
        except AttributeError:
            return False
    if device.type == "cuda":
        try:
            return bool(torch.cuda.is_bf16_supported(including_emulation=False))
        except TypeError:
            return bool(torch.cuda.is_bf16_supported())
    return False



@dataclass
class CountResult:
    """The count of one image and the maps behind it.

    ``density`` is (h, w) at 1/8 of the image *after* rescaling by ``scale``; one density
    cell covers ``cell_px`` = (8 / row scale, 8 / column scale) original pixels. The two
    scales are ``scale`` unless the model fits images to its stride (``axis_scales``).
    """

    count: float
    density: np.ndarray
    scale: float
    image_shape: tuple[int, int]
    seconds: float
    device: str
    similarity: np.ndarray | None = None  # (K, h, w)
    cell_diameter_px: float | None = None  # the diameter the image was counted at (None: scale 1)
    cell_diameter_estimated: bool = False  # counted at the estimator's diameter
    estimated_diameter_px: float | None = None  # the estimator's diameter, used or not
    axis_scales: tuple[float, float] | None = None  # (rows, columns) as resized, when they differ from scale
    flips: int = 1  # the maps are the mean over the image and flips - 1 mirror images of it
    stride: int = OUTPUT_STRIDE  # pixels of the rescaled image per density cell (the model's output stride)

    @property
    def whole_cells(self) -> bool:
        """Whether the image was resized to whole output cells (else padded up to them)."""
        return self.axis_scales is not None

    @property
    def cell_px(self) -> tuple[float, float]:
        """Height and width of one density cell in original pixels."""
        rows, cols = self.axis_scales or (self.scale, self.scale)
        return self.stride / rows, self.stride / cols

    @property
    def cell_area_px(self) -> float:
        """Original pixels under one density cell: density / cell_area_px is cells per pixel."""
        cell_h, cell_w = self.cell_px
        return cell_h * cell_w

    @property
    def pixels_per_cell(self) -> float:
        """The mean side of one density cell in original pixels (``cell_px`` gives both)."""
        return float(np.mean(self.cell_px))


class Counter:
    """Counts cells in float (H, W, 3) images with one model on one device."""

    def __init__(self, bundle: ModelBundle, device: str | torch.device = "auto", tile_size: int = 1024,
                 tile_margin: int = 128, precision: str = "fp32", branch: str = "countxplain", flips: int = 1,
                 whole_cells: bool | None = None) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}")
        self.flips = checked_flips(flips)
        # resize each image to whole output cells instead of padding it up to them; None: as the model was
        # trained, and always when mirror images are averaged (see ``whole_cells_for``)
        self.whole_cells_choice = None if whole_cells is None else bool(whole_cells)
        if branch not in ("countxplain", "csrnet"):
            raise ValueError("branch must be 'countxplain' (prototype head) or 'csrnet' (stage-1 output layer)")
        self.branch = branch
        choice = choose_device(device) if isinstance(device, str) else None
        self.device = choice.device if choice else torch.device(device)
        self.device_reason = choice.reason if choice else ""
        self.bundle = bundle
        # A copy: moving or reformatting the bundle's own network would change it under every
        # other user of the bundle (two counters on one bundle in two threads crash torch).
        self.network = copy.deepcopy(bundle.network).to(self.device).eval()
        self.network.to(memory_format=torch.channels_last)
        self.stride = self.network.output_stride
        self.tile_size = padded_size(tile_size)
        self.tile_margin = padded_size(tile_margin)
        self.requested_precision = precision
        self.precision = precision  # the precision used: 'auto' resolves to 'fp32' or 'bf16' below
        self.precision_reason = ""
        self._low_extractor: tuple[torch.dtype, nn.Module] | None = None
        if precision == "auto":
            self.precision, self.precision_reason = self._choose_precision()

    @property
    def whole_cells(self) -> bool:
        """Whether a count at the counter's own ``flips`` resizes the image to whole output cells."""
        return self.whole_cells_for(self.flips)

    def whole_cells_for(self, flips: int) -> bool:
        """Whether a count averaged over ``flips`` views resizes the image to whole output cells.

        Asked for explicitly, as asked. Otherwise as the model was trained, and always when
        ``flips`` > 1: a mirror image of a canvas padded at the bottom and right has its padding
        at the top or left, where a padded model never saw it (adi test MAE 12.96 -> 15.66 with
        4 views padded, 12.69 on whole cells; ``benchmarks/RESULTS.md``)."""
        if self.whole_cells_choice is not None:
            return self.whole_cells_choice
        return bool(self.bundle.preprocessing.get("fit_to_stride")) or flips > 1

    def scale_for(self, cell_diameter_px: float | None) -> float:
        """Resize factor that brings cells of the given diameter to the model's training diameter; 1 for
        a model that counts images at their own scale (``native_scale``), its ``count_scale`` (default 1)."""
        if self.bundle.preprocessing.get("native_scale"):
            return float(self.bundle.preprocessing.get("count_scale", 1.0))
        if not cell_diameter_px:
            return 1.0
        return float(self.bundle.cell_diameter_px) / float(cell_diameter_px)

    def estimate_cell_diameter(self, pixels: np.ndarray) -> float | None:
        """The image's typical cell diameter from the model's size estimator, or None without one."""
        size_model = self.bundle.preprocessing.get("size_model")
        if not size_model:
            return None
        from .cell_size import estimate_cell_diameter

        return estimate_cell_diameter(self.network.extractor.frontend, size_model, pixels)

    def count(self, pixels: np.ndarray, cell_diameter_px: float | None = None, with_similarity: bool = False,
              cancel: Callable[[], bool] | None = None, estimate_cell_size: bool = False,
              flips: int | None = None, tile_rows: range | None = None) -> CountResult:
        """Count one image at ``cell_diameter_px`` (None: the image as it is, scale 1).

        With ``estimate_cell_size`` and no diameter, the model's size estimator (if it has one)
        measures the cells; the image is counted at that diameter only when it is far from the
        training diameter (``scale_policy.diameter_to_use``), else as it is. The library's default
        is no estimate; the app and the command line estimate unless a diameter is given.
        ``flips`` (1, 2 or 4; default the counter's own) is how many mirror images the maps are averaged over.
        ``tile_rows`` (indices of rows of ``tile_size`` tiles of the rescaled image) counts only those
        tiles: the counts of rows that part an image add up to its count."""
        start = time.perf_counter()
        flips = self.flips if flips is None else checked_flips(flips)
        cell_diameter_px, estimate = self.diameter_for(pixels, cell_diameter_px, estimate_cell_size)
        estimated = estimate is not None and cell_diameter_px is not None
        scaled, scale, axis_scales = self.rescaled(pixels, cell_diameter_px, flips)
        density, similarity = self._run_tiled(scaled, with_similarity, cancel, flips, tile_rows)
        del scaled
        release_freed_memory()  # each image's transient tensors go back to the system, not to the heap
        return CountResult(
            count=float(density.sum(dtype=np.float64)), density=density, scale=scale,
            image_shape=(int(pixels.shape[0]), int(pixels.shape[1])), seconds=time.perf_counter() - start,
            device=str(self.device), similarity=similarity,
            cell_diameter_px=float(cell_diameter_px) if cell_diameter_px else None,
            cell_diameter_estimated=estimated, estimated_diameter_px=estimate, axis_scales=axis_scales, flips=flips,
            stride=self.stride)

    def diameter_for(self, pixels: np.ndarray, cell_diameter_px: float | None,
                     estimate_cell_size: bool) -> tuple[float | None, float | None]:
        """(the diameter an image is counted at, the estimator's diameter or None): as ``count`` decides."""
        estimate = None
        if not cell_diameter_px and estimate_cell_size:
            estimate = self.estimate_cell_diameter(pixels)
            cell_diameter_px = diameter_to_use(estimate, float(self.bundle.cell_diameter_px),
                                               image_pixels=pixels.shape[0] * pixels.shape[1])
        return cell_diameter_px, estimate

    def rescaled(self, pixels: np.ndarray, cell_diameter_px: float | None,
                 flips: int) -> tuple[np.ndarray, float, tuple[float, float] | None]:
        """(the image as the model sees it, the scale, the two axis scales where they differ from it)."""
        scale = self.scale_for(cell_diameter_px)
        if scale > 1.0:
            refuse_huge_rescale(pixels.shape, scale, cell_diameter_px)
        fit = self.stride if self.whole_cells_for(flips) else None
        scaled = resize_pixels(pixels, scale, fit) if scale != 1.0 or fit else pixels
        axis_scales = (scaled.shape[0] / pixels.shape[0], scaled.shape[1] / pixels.shape[1]) if fit else None
        return scaled, scale, axis_scales

    def tile_row_count(self, scaled_height: int) -> int:
        """How many rows of tiles an image of ``scaled_height`` rows (as the model sees it) is counted in."""
        return -(-int(scaled_height) // self.tile_size)

    def _run_tiled(self, pixels: np.ndarray, with_similarity: bool, cancel,
                   flips: int = 1, tile_rows: range | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        h, w = pixels.shape[:2]
        stride = self.stride
        out_h, out_w = padded_size(h, stride) // stride, padded_size(w, stride) // stride
        density = np.zeros((out_h, out_w), dtype=np.float32)
        similarity = np.zeros((self.bundle.config.k_total, out_h, out_w), dtype=np.float32) if with_similarity else None
        image = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None]
        t, m = self.tile_size, self.tile_margin
        starts = range(0, h, t)
        for y0 in (starts if tile_rows is None else [starts[i] for i in tile_rows if i < len(starts)]):
            for x0 in range(0, w, t):
                if cancel is not None and cancel():
                    raise Cancelled()
                y1, x1 = min(y0 + t, h), min(x0 + t, w)
                ey0, ex0 = max(0, y0 - m), max(0, x0 - m)
                ey1, ex1 = min(h, y1 + m), min(w, x1 + m)
                tile_density, tile_similarity = self._run(image[:, :, ey0:ey1, ex0:ex1], with_similarity, flips=flips)
                oy, ox = (y0 - ey0) // stride, (x0 - ex0) // stride
                ch, cw = padded_size(y1 - y0, stride) // stride, padded_size(x1 - x0, stride) // stride
                ty, tx = y0 // stride, x0 // stride
                density[ty:ty + ch, tx:tx + cw] = tile_density[oy:oy + ch, ox:ox + cw]
                if similarity is not None:
                    similarity[:, ty:ty + ch, tx:tx + cw] = tile_similarity[:, oy:oy + ch, ox:ox + cw]
        return density, similarity

    def _run(self, tile: torch.Tensor, with_similarity: bool, precision: str | None = None,
             flips: int = 1) -> tuple[np.ndarray, np.ndarray | None]:
        h, w = tile.shape[-2:]
        batch = normalise_batch(tile)
        batch = F.pad(batch, (0, padded_size(w, self.stride) - w, 0, padded_size(h, self.stride) - h))
        batch = batch.to(self.device)
        density, similarity = 0.0, 0.0
        with torch.inference_mode():
            for axes in FLIP_AXES[flips]:
                view = (batch.flip(axes) if axes else batch).contiguous(memory_format=torch.channels_last)
                features = self._features(view, precision or self.precision).float()
                del view
                if self.branch == "csrnet":
                    density = density + _unflip(self.network.extractor.output_layer(features), axes)[0, 0]
                    continue
                output = self.network.head(features)
                density = density + _unflip(output.density, axes)[0, 0]
                if with_similarity:
                    similarity = similarity + _unflip(output.similarity, axes)[0]
        n = len(FLIP_AXES[flips])
        density = (density / n).float().cpu().numpy()
        similarity = (similarity / n).float().cpu().numpy() if with_similarity and self.branch != "csrnet" else None
        return density, similarity

    # ----- the extractor in each precision
    def _features(self, batch: torch.Tensor, precision: str) -> torch.Tensor:
        """(1, 3, H, W) channels-last fp32 input -> (1, 64, H/8, W/8) features (fp32 or the low dtype)."""
        dtype = LOW_PRECISION.get(precision)
        if dtype is None:
            return self.network.features(batch)
        if self.device.type == "cpu" and dtype is torch.bfloat16:
            extractor = self._low_precision_extractor(dtype)
            if self.bundle.config.extractor == "vgg-s4":
                return extractor.features(batch.to(dtype))
            return extractor.backend(extractor.frontend(extractor.input(batch).to(dtype)))
        with torch.autocast(device_type=self.device.type, dtype=dtype):
            return self.network.features(batch)

    def _low_precision_extractor(self, dtype: torch.dtype) -> nn.Module:
        """The extractor's first ``FP32_INPUT_MODULES`` modules as they are (fp32, ``input``), and a
        copy of the rest of the frontend and the backend in ``dtype`` (made at first use)."""
        if self._low_extractor is None or self._low_extractor[0] != dtype:
            source = self.network.extractor
            if self.bundle.config.extractor == "vgg-s4":
                copied = copy.deepcopy(source).to(self.device, dtype).eval().to(memory_format=torch.channels_last)
                for parameter in copied.parameters():
                    parameter.requires_grad_(False)
                self._low_extractor = (dtype, copied)
                return copied
            copied = nn.Module()
            layers = list(source.frontend)
            copied.frontend = copy.deepcopy(nn.Sequential(*layers[FP32_INPUT_MODULES:]))
            copied.backend = copy.deepcopy(source.backend)
            copied.to(self.device, dtype).eval().to(memory_format=torch.channels_last)
            copied.input = nn.Sequential(*layers[:FP32_INPUT_MODULES])  # shared with the fp32 network
            for parameter in copied.parameters():
                parameter.requires_grad_(False)
            self._low_extractor = (dtype, copied)
        return self._low_extractor[1]

    # ----- precision="auto"
    def _choose_precision(self) -> tuple[str, str]:
        """'bf16' if native and accurate on the model's gallery patches, else 'fp32'; with the reason."""
        if not native_bf16(self.device):
            return "fp32", f"fp32: {self.device.type.upper()} has no native bfloat16"
        probe = gallery_mosaic(self.bundle)
        if probe is None:
            return "fp32", "fp32: the model has no gallery patches to check bfloat16 on"
        image = torch.from_numpy(probe).permute(2, 0, 1)[None]
        reference, _ = self._run(image, False, "fp32")
        low, _ = self._run(image, False, "bf16")
        scale = max(float(np.abs(reference).sum(dtype=np.float64)), 1e-6)
        difference = abs(float(low.sum(dtype=np.float64)) - float(reference.sum(dtype=np.float64))) / scale
        if np.isfinite(difference) and difference <= AUTO_TOLERANCE:
            return "bf16", f"bf16: native, and its count of the gallery patches is within {difference:.2%} of fp32"
        return "fp32", f"fp32: the bf16 count of the gallery patches is {difference:.2%} off fp32"


def checked_flips(flips: int) -> int:
    if flips not in FLIP_AXES:
        raise ValueError(f"flips must be one of {tuple(FLIP_AXES)} (the image and its mirror images averaged)")
    return flips


def _unflip(maps: torch.Tensor, axes: tuple[int, ...]) -> torch.Tensor:
    return maps.flip(axes) if axes else maps


def gallery_mosaic(bundle: ModelBundle, limit: int = 4) -> np.ndarray | None:
    """Up to ``limit`` gallery patches per prototype side by side: float (K*P, limit*P, 3), or None."""
    gallery = bundle.gallery
    if gallery is None or gallery.patches.numel() == 0:
        return None
    patches = gallery.patches[:, :limit].cpu().numpy()  # (K, k, P, P, 3) uint8
    k_total, k, p = patches.shape[:3]
    if p < 8:
        return None
    mosaic = patches.transpose(0, 2, 1, 3, 4).reshape(k_total * p, k * p, 3)
    return np.ascontiguousarray(mosaic, dtype=np.float32) / 255.0
