"""The global prototype gallery: for each prototype, its most similar training patches.

The search runs over every training image after training, keeps at most one patch per
image (its most similar location away from the image border), and stores the top ``k`` as
small uint8 RGB images.
A patch is the ``patch_px``×``patch_px`` square (at the training scale) around the centre
of the most similar output cell (shifted inward at image edges): wide enough to show a cell and its surroundings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import torch

from .density import OUTPUT_STRIDE
from .errors import Cancelled
from .modelfile import Gallery
from .network import CountXplain, padded_batch

if TYPE_CHECKING:
    from .training.data import TrainingImage

DEFAULT_PATCH_PX = 48


def cut_patch(pixels: np.ndarray, row: int, col: int, patch_px: int, stride: int = OUTPUT_STRIDE) -> np.ndarray:
    """uint8 (P, P, 3) square around output cell (row, col) of a map with ``stride``, shifted to lie
    inside the image where it fits; zero outside the image."""
    cy, cx = row * stride + stride // 2, col * stride + stride // 2
    half = patch_px // 2
    patch = np.zeros((patch_px, patch_px, 3), dtype=np.float32)
    # keep the window inside the image where the image is large enough (no black margins)
    y0 = int(np.clip(cy - half, 0, max(0, pixels.shape[0] - patch_px)))
    x0 = int(np.clip(cx - half, 0, max(0, pixels.shape[1] - patch_px)))
    sy0, sx0 = max(0, y0), max(0, x0)
    sy1, sx1 = min(pixels.shape[0], y0 + patch_px), min(pixels.shape[1], x0 + patch_px)
    if sy1 > sy0 and sx1 > sx0:
        patch[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = pixels[sy0:sy1, sx0:sx1, :3]
    return (np.clip(patch, 0, 1) * 255 + 0.5).astype(np.uint8)


def build_gallery(network: CountXplain, images: Sequence[TrainingImage], k: int = 3,
                  patch_px: int = DEFAULT_PATCH_PX, device: str | torch.device = "cpu",
                  cancel: Callable[[], bool] | None = None) -> Gallery:
    """Top-``k`` patches per prototype over ``images`` (at most one per image)."""
    network = network.to(device).eval()
    n_protos = network.config.k_total
    stride = network.output_stride
    best: list[list[tuple[float, int, int, int]]] = [[] for _ in range(n_protos)]
    with torch.inference_mode():
        for index, image in enumerate(images):
            if cancel is not None and cancel():
                raise Cancelled()
            similarity = network(padded_batch(image.pixels).to(device)).similarity[0].cpu()
            h = -(-image.pixels.shape[0] // stride)
            w = -(-image.pixels.shape[1] // stride)
            similarity = similarity[:, :h, :w].clone()
            inner_h, inner_w = image.pixels.shape[0] // stride - 1, image.pixels.shape[1] // stride - 1
            if inner_h > 1 and inner_w > 1:  # cells at the border see the zero padding, not the tissue
                border = torch.ones(h, w, dtype=torch.bool)
                border[1:inner_h, 1:inner_w] = False
                similarity[:, border] = -torch.inf
            values, flat = similarity.flatten(1).max(dim=1)
            for proto in range(n_protos):
                row, col = divmod(int(flat[proto]), w)
                best[proto].append((float(values[proto]), index, row, col))
    k = max(1, min(k, len(images)))
    patches = np.zeros((n_protos, k, patch_px, patch_px, 3), dtype=np.uint8)
    scores = np.zeros((n_protos, k), dtype=np.float32)
    sources: list[list[str]] = []
    for proto in range(n_protos):
        ranked = sorted(best[proto], reverse=True)[:k]
        sources.append([])
        for slot, (score, index, row, col) in enumerate(ranked):
            patches[proto, slot] = cut_patch(images[index].pixels, row, col, patch_px, stride)
            scores[proto, slot] = score
            sources[proto].append(f"{images[index].name}@{row * stride + stride // 2},"
                                  f"{col * stride + stride // 2}")
    return Gallery(torch.from_numpy(patches), torch.from_numpy(scores), sources)
