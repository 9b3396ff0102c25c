"""Training images at the common cell size, their dihedral views, and cached frozen features."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ..datasets import Sample, load_sample
from ..density import OUTPUT_STRIDE, padded_size, pooled_density_map, scale_dots, typical_cell_spacing
from ..errors import Cancelled
from ..images import resize_pixels
from ..network import padded_batch

# a guard against absurd dot spacings only: counting applies the same factor unclipped, so a
# clip inside the range of real data would train on cells of another size than it counts
MIN_SCALE, MAX_SCALE = 0.125, 4.0


@dataclass
class TrainingImage:
    """One annotated image brought to the training cell diameter."""

    name: str
    group: str
    pixels: np.ndarray  # float32 (H, W, 3), rescaled
    dots: np.ndarray  # (N, 2), rescaled
    scale: float
    n_cells: int


@dataclass
class View:
    """A dihedral view of a training image with its target and cached features."""

    image_index: int
    target: torch.Tensor  # (1, h, w) pooled density
    features: torch.Tensor | None = None  # (C, h, w) cached frozen features
    dots: np.ndarray | None = None  # (N, 2) the view's dots, in its own pixels
    shape: tuple[int, int] | None = None  # (H, W) of the view's pixels


@dataclass
class Crops:
    """A batch of random windows of views: features, density targets and validity."""

    features: torch.Tensor  # (B, C, crop, crop)
    targets: torch.Tensor  # (B, 1, crop, crop)
    mask: torch.Tensor  # (B, 1, crop, crop), 0 on padding


def dot_cell_map(dots: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
    """(1, h, w) map of the output cells (``OUTPUT_STRIDE`` pixels) that hold at least one dot."""
    h, w = padded_size(shape[0]) // OUTPUT_STRIDE, padded_size(shape[1]) // OUTPUT_STRIDE
    cells = torch.zeros(1, h, w)
    if len(dots):
        cols = np.clip((np.asarray(dots)[:, 0] + 0.5) // OUTPUT_STRIDE, 0, w - 1).astype(int)
        rows = np.clip((np.asarray(dots)[:, 1] + 0.5) // OUTPUT_STRIDE, 0, h - 1).astype(int)
        cells[0, rows, cols] = 1.0
    return cells


def scale_for_diameter(diameter_px: float | None, target_diameter_px: float) -> float:
    if not diameter_px or not np.isfinite(diameter_px):
        return 1.0
    return float(np.clip(target_diameter_px / diameter_px, MIN_SCALE, MAX_SCALE))


def prepare_images(samples: Sequence[Sample], groups: Sequence[str], target_diameter_px: float,
                   diameters: Sequence[float | None] | None = None,
                   fit_to_stride: bool = False) -> list[TrainingImage]:
    """Read samples and rescale each so its cells have ``target_diameter_px``.

    A sample's diameter is taken from ``diameters`` when given (and not None for it), else
    measured as the median nearest-neighbour spacing of its dots. With ``fit_to_stride`` both sides become
    whole multiples of ``OUTPUT_STRIDE`` (``images.stride_fitted_shape``).
    """
    images = []
    for i, sample in enumerate(samples):
        image, dots = load_sample(sample)
        given = diameters[i] if diameters is not None else None
        diameter = given if given is not None else typical_cell_spacing(dots)
        scale = scale_for_diameter(diameter, target_diameter_px)
        pixels = resize_pixels(image.pixels, scale, OUTPUT_STRIDE if fit_to_stride else None)
        factor_y, factor_x = pixels.shape[0] / image.height, pixels.shape[1] / image.width
        images.append(TrainingImage(sample.image_path.name, groups[i], pixels,
                                    scale_dots(dots, factor_x, factor_y), scale, len(dots)))
    return images


def dihedral(pixels: np.ndarray, dots: np.ndarray, rotations: int, flip: bool) -> tuple[np.ndarray, np.ndarray]:
    """Flip left-right (optional), then rotate 90° counter-clockwise ``rotations`` times."""
    dots = np.array(dots, dtype=np.float64).reshape(-1, 2)
    if flip:
        dots[:, 0] = pixels.shape[1] - 1 - dots[:, 0]
        pixels = pixels[:, ::-1]
    for _ in range(rotations % 4):
        width = pixels.shape[1]
        dots = np.stack([dots[:, 1], width - 1 - dots[:, 0]], axis=1)
        pixels = np.rot90(pixels)
    return np.ascontiguousarray(pixels), dots


def make_views(images: Sequence[TrainingImage], n_views: int, sigma: float, seed: int,
               scale_jitter: float = 0.0, min_group_views: int = 0,
               fit_to_stride: bool = False) -> list[tuple[View, np.ndarray]]:
    """Dihedral views of every image with pooled targets; the first view of each is the identity.

    Every other view is also rescaled by a factor drawn log-uniformly from
    [1 - ``scale_jitter``, 1 + ``scale_jitter``], so the model sees cells a little smaller
    and larger than the training diameter. Groups with few images get more views per
    image (up to the 8 dihedral ones) until they have ``min_group_views`` views. With
    ``fit_to_stride`` every view's sides are whole multiples of ``OUTPUT_STRIDE``, so no
    output cell holds padding.
    """
    rng = np.random.default_rng(seed)
    group_sizes = Counter(image.group for image in images)
    low, high = np.log(1.0 - scale_jitter), np.log(1.0 + scale_jitter)
    views = []
    for index, image in enumerate(images):
        count = min(8, max(n_views, -(-min_group_views // group_sizes[image.group])))
        others = rng.choice(np.arange(1, 8), size=max(0, count - 1), replace=False)
        transforms = [(0, False, 1.0)] + [(*divmod(int(c), 2),
                                            float(np.exp(rng.uniform(low, high))) if scale_jitter else 1.0)
                                           for c in others]
        for rotations, flip, scale in transforms:
            pixels, dots = dihedral(image.pixels, image.dots, rotations, bool(flip))
            if scale != 1.0 or fit_to_stride:
                resized = resize_pixels(pixels, scale, OUTPUT_STRIDE if fit_to_stride else None)
                dots = scale_dots(dots, resized.shape[1] / pixels.shape[1], resized.shape[0] / pixels.shape[0])
                pixels = resized
            shape = pixels.shape[:2]
            views.append((View(index, density_target(dots, shape, sigma), dots=dots, shape=shape), pixels))
    return views


def density_target(dots: np.ndarray, shape: tuple[int, int], sigma: float) -> torch.Tensor:
    """(1, h, w) density target of dots on an image of ``shape`` pixels, pooled into output cells."""
    return torch.from_numpy(pooled_density_map(dots, shape, sigma))[None]


def sampling_weights(groups: Sequence[str], reference_sizes: dict[str, int] | None = None,
                     power: float = 1.0) -> np.ndarray:
    """Probabilities over items so each group's total share is proportional to its size**``power``.

    ``power`` 1 weighs every item alike; 0 gives every group the same share. Group sizes
    come from ``reference_sizes`` when given (e.g. the training shares, for validation items).
    """
    present = Counter(groups)
    sizes = reference_sizes or present
    share = {g: float(sizes.get(g, present[g])) ** power for g in present}
    total = sum(share.values())
    weights = np.array([share[g] / total / present[g] for g in groups])
    return weights / weights.sum()


def cache_features(extractor: Callable[[torch.Tensor], torch.Tensor], views: list[tuple[View, np.ndarray]],
                   device: torch.device, dtype: torch.dtype = torch.float16,
                   progress: Callable[[int, int], None] | None = None,
                   cancel: Callable[[], bool] | None = None) -> list[View]:
    """Run the frozen part once per view and keep its output on the CPU."""
    out = []
    with torch.inference_mode():
        for i, (view, pixels) in enumerate(views):
            if cancel is not None and cancel():
                raise Cancelled()
            batch = padded_batch(pixels).to(device)
            view.features = extractor(batch)[0].to("cpu", dtype)
            h, w = view.target.shape[-2:]
            view.features = view.features[:, :h, :w]
            out.append(view)
            if progress is not None:
                progress(i + 1, len(views))
    return out


def random_crops(views: Sequence[View], indices: Sequence[int], crop: int, rng: np.random.Generator,
                 dtype: torch.dtype = torch.float32) -> Crops:
    """A batch of random ``crop``×``crop`` windows of the given views.

    Views smaller than the crop are zero-padded and the padding is masked out.
    """
    channels = views[indices[0]].features.shape[0]
    features = torch.zeros(len(indices), channels, crop, crop, dtype=dtype)
    targets = torch.zeros(len(indices), 1, crop, crop)
    mask = torch.zeros(len(indices), 1, crop, crop)
    for row, index in enumerate(indices):
        view = views[index]
        h, w = view.target.shape[-2:]
        y0 = int(rng.integers(0, max(1, h - crop + 1)))
        x0 = int(rng.integers(0, max(1, w - crop + 1)))
        ch, cw = min(crop, h), min(crop, w)
        features[row, :, :ch, :cw] = view.features[:, y0:y0 + ch, x0:x0 + cw].to(dtype)
        targets[row, :, :ch, :cw] = view.target[:, y0:y0 + ch, x0:x0 + cw]
        mask[row, :, :ch, :cw] = 1.0
    return Crops(features, targets, mask)
