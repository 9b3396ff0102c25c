"""Prototype projection: each prototype becomes a training patch of its own group.

Cell prototypes are projected onto output cells holding a dot, background prototypes onto
cells far from every dot; after a projection the 1×1 density layer is refitted exactly
(least squares), so the model's counts are made of real training patches.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from .density import OUTPUT_STRIDE
from .least_squares import least_squares_1x1
from .training_data import TrainingImage, View, dot_cell_map

if TYPE_CHECKING:
    from .training_config import TrainingConfig


def location_masks(image: TrainingImage, view: View, background_distance_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (h, w) masks of output cells holding a dot, and of cells far from every dot (identity view)."""
    from scipy import ndimage

    h, w = view.target.shape[-2:]
    has_dot = dot_cell_map(image.dots, image.pixels.shape[:2])[0, :h, :w].numpy() > 0
    if has_dot.any():
        distance = ndimage.distance_transform_edt(~has_dot) * OUTPUT_STRIDE
        far = distance > background_distance_px
    else:
        far = np.ones((h, w), dtype=bool)
    # output cells touching the image border or the zero padding see padding, not tissue
    inner = np.zeros((h, w), dtype=bool)
    inner_h = image.pixels.shape[0] // OUTPUT_STRIDE - 1
    inner_w = image.pixels.shape[1] // OUTPUT_STRIDE - 1
    inner[1:max(1, inner_h), 1:max(1, inner_w)] = True
    return has_dot & inner, far & inner


def project_prototypes(head, views: list[View], images: Sequence[TrainingImage], config: TrainingConfig,
                       device: torch.device) -> list[dict]:
    """Replace each prototype by the nearest processed training feature of its own group.

    Only identity views are searched, so every prototype is a patch of a training image
    as it was given. Two prototypes never take the same location, and each takes the
    nearest location at least ``projection_separation`` away from the prototypes of its
    group projected before it (the nearest one at all if none is). Returns the source of
    each prototype: image name, output-cell row and column, and distance moved.
    """
    k_cell, k_total = config.k_cell, config.k_cell + config.k_bg
    candidates: list[list[tuple[float, int, int]]] = [[] for _ in range(k_total)]
    first_view: dict[int, View] = {}
    for view in views:
        first_view.setdefault(view.image_index, view)
    with torch.inference_mode():
        for view in first_view.values():
            image = images[view.image_index]
            cell_mask, bg_mask = location_masks(image, view, config.background_distance_px)
            processed = head.processed_features(view.features[None].float().to(device))[0]
            distances = head.distances(processed[None])[0].cpu()
            for k in range(k_total):
                mask = torch.from_numpy(cell_mask if k < k_cell else bg_mask)
                if not mask.any():
                    continue
                d = distances[k].masked_fill(~mask, math.inf).flatten()
                values, flat = torch.topk(d, min(k_total, int(mask.sum())), largest=False)
                for value, index in zip(values.tolist(), flat.tolist()):
                    candidates[k].append((value, view.image_index, index))
    used, sources = set(), []
    new = head.prototypes.detach().clone()
    for k in range(k_total):
        chosen = [new[j] for j in range(0 if k < k_cell else k_cell, k)]  # this group's, already projected
        fallback = None
        for value, image_index, flat in sorted(candidates[k]):
            if (image_index, flat) in used:
                continue
            view = first_view[image_index]
            row, col = divmod(flat, view.target.shape[-1])
            with torch.inference_mode():
                processed = head.processed_features(view.features[None, :, row:row + 1, col:col + 1].float().to(device))
            feature = processed[0, :, 0, 0].to(new.dtype)
            found = (feature, image_index, flat, row, col, value)
            fallback = fallback or found
            if all(float(torch.dist(feature, other)) >= config.projection_separation for other in chosen):
                break
        else:
            found = fallback  # no candidate far enough from the group's others: the nearest unused one
        if found is None:
            sources.append({"prototype": k, "image": None, "row": -1, "col": -1, "distance": float("nan")})
            continue
        feature, image_index, flat, row, col, value = found
        used.add((image_index, flat))
        new[k] = feature
        sources.append({"prototype": k, "image": images[image_index].name, "row": int(row), "col": int(col),
                        "distance": float(value)})
    with torch.no_grad():
        head.prototypes.copy_(new)
    return sources


def refit_density_layer(head, views: list[View], device: torch.device, ridge: float = 1e-6) -> None:
    """Least-squares fit of the 1×1 density layer (weights and bias) on the training views."""
    least_squares_1x1(lambda features: head(features).similarity, views, head.density_layer, device, ridge)
