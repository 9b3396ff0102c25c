"""Prototype projection: each prototype becomes a training patch of its own group.

Cell prototypes are projected onto output cells holding a dot, background prototypes onto
cells far from every dot; each takes its nearest such training patch (the paper's choice).
After a projection the 1×1 density layer is refitted exactly (least squares), so the model's
counts are made of real training patches.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from ..density import OUTPUT_STRIDE
from .data import TrainingImage, View, dot_cell_map
from .least_squares import least_squares_1x1

if TYPE_CHECKING:
    from .config import TrainingConfig


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
    """Replace each prototype by a processed training feature of its own group, chosen as
    ``project_nearest`` chooses."""
    return project_nearest(head, views, images, config, device)


def project_nearest(head, views: list[View], images: Sequence[TrainingImage], config: TrainingConfig,
                    device: torch.device) -> list[dict]:
    """Replace each prototype by the nearest processed training feature of its own group.

    Only identity views are searched, so every prototype is a patch of a training image
    as it was given. Two prototypes never take the same location, and each takes the
    nearest location at least ``projection_separation`` away from the prototypes of its
    group projected before it (the nearest one at all if none is). Returns the source of
    each prototype: image name, output-cell row and column, and distance moved.
    """
    k_cell, k_total = config.k_cell, config.k_cell + config.k_bg
    first_view = _identity_views(views)
    masks = {index: location_masks(images[index], view, config.background_distance_px)
             for index, view in first_view.items()}
    candidates = _nearest_cells(head, head.prototypes.detach(), [k < k_cell for k in range(k_total)], first_view,
                                masks, k_total, device)
    used, sources = set(), []
    new = head.prototypes.detach().clone()
    for k in range(k_total):
        chosen = [new[j] for j in range(0 if k < k_cell else k_cell, k)]  # this group's, already projected
        fallback = None
        for value, image_index, flat in sorted(candidates[k]):
            if (image_index, flat) in used:
                continue
            row, col = divmod(flat, first_view[image_index].target.shape[-1])
            with torch.inference_mode():
                feature = _processed_at(head, first_view[image_index], flat, device).to(new.device, new.dtype)
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


def _nearest_cells(head, prototypes: torch.Tensor, is_cell: Sequence[bool], first_view: dict[int, View],
                   masks: dict[int, tuple[np.ndarray, np.ndarray]], per_view: int,
                   device: torch.device) -> list[list[tuple[float, int, int]]]:
    """For each prototype, (distance, image index, flat output cell) of its ``per_view`` nearest cells
    in each identity view, among that view's cell locations (``is_cell``) or background locations."""
    found: list[list[tuple[float, int, int]]] = [[] for _ in range(len(prototypes))]
    with torch.inference_mode():
        for index, view in first_view.items():
            processed = head.processed_features(view.features[None].float().to(device))
            distances = head.distances(processed, prototypes.to(device))[0].flatten(1).cpu()
            for k, cell in enumerate(is_cell):
                mask = torch.from_numpy(masks[index][0 if cell else 1]).flatten()
                if not mask.any():
                    continue
                values, flat = torch.topk(distances[k].masked_fill(~mask, math.inf), min(per_view, int(mask.sum())),
                                          largest=False)
                found[k] += [(value, index, position) for value, position in zip(values.tolist(), flat.tolist())]
    return found


def _identity_views(views: list[View]) -> dict[int, View]:
    """Each image's first view (the identity one), by image index."""
    first_view: dict[int, View] = {}
    for view in views:
        first_view.setdefault(view.image_index, view)
    return first_view


def _processed_at(head, view: View, flat: int, device: torch.device) -> torch.Tensor:
    """The processed feature (d,) of one output cell of a view, on the CPU."""
    row, col = divmod(flat, view.target.shape[-1])
    pixel = view.features[None, :, row:row + 1, col:col + 1].float().to(device)
    return head.processed_features(pixel)[0, :, 0, 0].cpu()
