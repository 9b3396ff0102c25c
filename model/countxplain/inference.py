"""Counting: rescale to the model's cell size, run fully convolutionally, tile large images.

A ``Counter`` owns one model on one device. Images larger than ``tile_size`` are cut
into core tiles (multiples of 8 pixels) that are each run with a ``tile_margin`` of
context on every side; only each tile's core is kept, so peak memory is bounded by the
tile size and the stitched density equals the untiled one up to the context lost
beyond the margin.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .density import OUTPUT_STRIDE, padded_size
from .device import choose_device
from .images import resize_pixels
from .modelfile import ModelBundle
from .network import normalise_batch

PRECISIONS = ("fp32", "bf16", "fp16")


class Cancelled(Exception):
    """Raised inside a job when its cancel flag was set."""


@dataclass
class CountResult:
    """The count of one image and the maps behind it.

    ``density`` is (h, w) at 1/8 of the image *after* rescaling by ``scale``; one density
    cell covers ``8 / scale`` original pixels on each side.
    """

    count: float
    density: np.ndarray
    scale: float
    image_shape: tuple[int, int]
    seconds: float
    device: str
    similarity: np.ndarray | None = None  # (K, h, w)

    @property
    def pixels_per_cell(self) -> float:
        return OUTPUT_STRIDE / self.scale


class Counter:
    """Counts cells in float (H, W, 3) images with one model on one device."""

    def __init__(self, bundle: ModelBundle, device: str | torch.device = "auto", tile_size: int = 1024,
                 tile_margin: int = 128, precision: str = "fp32", branch: str = "countxplain") -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}")
        if branch not in ("countxplain", "csrnet"):
            raise ValueError("branch must be 'countxplain' (prototype head) or 'csrnet' (stage-1 output layer)")
        self.branch = branch
        choice = choose_device(device) if isinstance(device, str) else None
        self.device = choice.device if choice else torch.device(device)
        self.device_reason = choice.reason if choice else ""
        self.bundle = bundle
        self.network = bundle.network.to(self.device).eval()
        self.network.to(memory_format=torch.channels_last)
        self.tile_size = padded_size(tile_size)
        self.tile_margin = padded_size(tile_margin)
        self.precision = precision

    def scale_for(self, cell_diameter_px: float | None) -> float:
        """Resize factor that brings cells of the given diameter to the model's training diameter."""
        if not cell_diameter_px:
            return 1.0
        return float(self.bundle.cell_diameter_px) / float(cell_diameter_px)

    def count(self, pixels: np.ndarray, cell_diameter_px: float | None = None, with_similarity: bool = False,
              cancel: Callable[[], bool] | None = None) -> CountResult:
        start = time.perf_counter()
        scale = self.scale_for(cell_diameter_px)
        scaled = resize_pixels(pixels, scale) if scale != 1.0 else pixels
        density, similarity = self._run_tiled(scaled, with_similarity, cancel)
        return CountResult(
            count=float(density.sum(dtype=np.float64)), density=density, scale=scale,
            image_shape=(int(pixels.shape[0]), int(pixels.shape[1])), seconds=time.perf_counter() - start,
            device=str(self.device), similarity=similarity)

    def _run_tiled(self, pixels: np.ndarray, with_similarity: bool, cancel) -> tuple[np.ndarray, np.ndarray | None]:
        h, w = pixels.shape[:2]
        out_h, out_w = padded_size(h) // OUTPUT_STRIDE, padded_size(w) // OUTPUT_STRIDE
        density = np.zeros((out_h, out_w), dtype=np.float32)
        similarity = np.zeros((self.bundle.config.k_total, out_h, out_w), dtype=np.float32) if with_similarity else None
        image = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None]
        t, m = self.tile_size, self.tile_margin
        for y0 in range(0, h, t):
            for x0 in range(0, w, t):
                if cancel is not None and cancel():
                    raise Cancelled()
                y1, x1 = min(y0 + t, h), min(x0 + t, w)
                ey0, ex0 = max(0, y0 - m), max(0, x0 - m)
                ey1, ex1 = min(h, y1 + m), min(w, x1 + m)
                tile_density, tile_similarity = self._run(image[:, :, ey0:ey1, ex0:ex1], with_similarity)
                oy, ox = (y0 - ey0) // OUTPUT_STRIDE, (x0 - ex0) // OUTPUT_STRIDE
                ch, cw = padded_size(y1 - y0) // OUTPUT_STRIDE, padded_size(x1 - x0) // OUTPUT_STRIDE
                ty, tx = y0 // OUTPUT_STRIDE, x0 // OUTPUT_STRIDE
                density[ty:ty + ch, tx:tx + cw] = tile_density[oy:oy + ch, ox:ox + cw]
                if similarity is not None:
                    similarity[:, ty:ty + ch, tx:tx + cw] = tile_similarity[:, oy:oy + ch, ox:ox + cw]
        return density, similarity

    def _run(self, tile: torch.Tensor, with_similarity: bool) -> tuple[np.ndarray, np.ndarray | None]:
        h, w = tile.shape[-2:]
        batch = normalise_batch(tile)
        batch = F.pad(batch, (0, padded_size(w) - w, 0, padded_size(h) - h))
        batch = batch.to(self.device).contiguous(memory_format=torch.channels_last)
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        with torch.inference_mode():
            if dtype is not None:
                with torch.autocast(device_type=self.device.type, dtype=dtype):
                    features = self.network.features(batch)
            else:
                features = self.network.features(batch)
            if self.branch == "csrnet":
                density = self.network.extractor.output_layer(features.float())[0, 0].cpu().numpy()
                return density, None
            output = self.network.head(features.float())
        density = output.density[0, 0].float().cpu().numpy()
        similarity = output.similarity[0].float().cpu().numpy() if with_similarity else None
        return density, similarity
