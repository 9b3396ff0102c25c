"""Prototype projection: each prototype becomes a training patch of its own group.

Cell prototypes are projected onto output cells holding a dot, background prototypes onto
cells far from every dot; after a projection the 1×1 density layer is refitted exactly
(least squares), so the model's counts are made of real training patches.

Three ways to choose the patches (``TrainingConfig.projection_choice``): ``"nearest"``, the
paper's, takes each prototype's nearest training patch; ``"purest"`` (beyond the paper) scores
a random pool of each group's training patches by the purity of the boxes their similarity
maps draw on training images (the explanation boxes: cell boxes should hold a dot,
background boxes none) and takes a spread-out set of the purest; ``"nearest_pure"`` takes each
prototype's nearest patch among those as pure as the pool's purest share.
"""

from __future__ import annotations

import math
from itertools import zip_longest
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..boxes import DEFAULT_PERCENTILE, cells_in_boxes, mask_boxes, pure_boxes
from ..density import OUTPUT_STRIDE
from .least_squares import least_squares_1x1
from ..network import log_similarity
from .data import TrainingImage, View, dot_cell_map

PURITY_POOL = 200  # candidate training patches per group
PURITY_IMAGES = 32  # identity training views the candidates' boxes are drawn on
PURE_SHARE = 0.1  # each group is chosen from this purest share of its pool
PURITY_NEAR = 24  # "nearest_pure": each prototype's own nearest patches scored beside the pool

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
    ``config.projection_choice`` says (``project_nearest`` or ``project_purest``)."""
    if config.projection_choice in ("purest", "nearest_pure"):
        return project_purest(head, views, images, config, device, near=config.projection_choice == "nearest_pure")
    if config.projection_choice != "nearest":
        raise ValueError(f"unknown projection choice '{config.projection_choice}' (nearest, purest or nearest_pure)")
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


def box_purity(head, candidates: torch.Tensor, is_cell: bool, scored: Sequence[tuple[View, TrainingImage]],
               device: torch.device, chunk: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate prototype (N, d): how many of the boxes its similarity map draws on the
    ``scored`` identity views are pure (a cell box holds a dot, a background box none), and how many
    boxes it draws. Boxes as ``explain.similarity_boxes`` draws them, at the training scale."""
    pure = np.zeros(len(candidates), dtype=np.int64)
    total = np.zeros(len(candidates), dtype=np.int64)
    with torch.inference_mode():
        for view, image in scored:
            height, width = image.pixels.shape[:2]
            processed = head.processed_features(view.features[None].float().to(device))
            for start in range(0, len(candidates), chunk):
                similarity = log_similarity(head.distances(processed, candidates[start:start + chunk].to(device)))
                upsampled = F.interpolate(similarity, scale_factor=OUTPUT_STRIDE, mode="bilinear",
                                          align_corners=False)[0, :, :height, :width]
                thresholds = torch.quantile(upsampled.flatten(1).float().cpu(), DEFAULT_PERCENTILE / 100, dim=1)
                masks = (upsampled.cpu() >= thresholds[:, None, None]).numpy()
                for i, mask in enumerate(masks):
                    inside = cells_in_boxes(image.dots, mask_boxes(mask, min_side=OUTPUT_STRIDE))
                    pure[start + i] += pure_boxes(inside, is_cell)
                    total[start + i] += len(inside)
    return pure, total


def _scored_views(first_view: dict[int, View], images: Sequence[TrainingImage], limit: int) -> list[tuple[View, TrainingImage]]:
    """Up to ``limit`` identity views, taken in turn from each group so every set is scored."""
    by_group: dict[str, list[int]] = {}
    for index in sorted(first_view):
        by_group.setdefault(images[index].group, []).append(index)
    order = [index for row in zip_longest(*by_group.values()) for index in row if index is not None]
    return [(first_view[i], images[i]) for i in order[:limit]]


def project_purest(head, views: list[View], images: Sequence[TrainingImage], config: TrainingConfig,
                   device: torch.device, near: bool = False) -> list[dict]:
    """Beyond the paper: each group's prototypes become training patches whose similarity boxes
    are pure on training images.

    A pool of ``PURITY_POOL`` locations is drawn at random from each group's locations
    (``location_masks``) on the identity views; each location's processed feature is scored by
    ``box_purity`` on up to ``PURITY_IMAGES`` identity views, and the purest ``PURE_SHARE`` of the
    pool sets the bar. By default (``"purest"``, ``_spread_purest``) the purest one is taken
    first, then repeatedly the one farthest from those taken, and each chosen patch replaces the
    trained prototype nearest to it (an optimal assignment). With ``near`` (``"nearest_pure"``,
    ``_nearest_pure``) each prototype takes the nearest patch that clears the bar, among its own
    ``PURITY_NEAR`` nearest patches and the pool, so a prototype whose nearest patch is already
    pure stays where the paper's projection puts it.
    """
    k_cell, k_total = config.k_cell, config.k_cell + config.k_bg
    first_view = _identity_views(views)
    scored = _scored_views(first_view, images, PURITY_IMAGES)
    masks = {index: location_masks(images[index], view, config.background_distance_px)
             for index, view in first_view.items()}
    rng = np.random.default_rng(config.seed)
    trained = head.prototypes.detach().clone()
    new, sources = trained.clone(), [None] * k_total
    for members in (range(0, k_cell), range(k_cell, k_total)):
        if not len(members):
            continue
        is_cell = members[0] < k_cell
        locations = [(index, int(flat)) for index in sorted(masks)
                     for flat in np.flatnonzero(masks[index][0 if is_cell else 1].ravel())]
        if len(locations) < len(members):
            return project_nearest(head, views, images, config, device)
        pool = [locations[i] for i in rng.choice(len(locations), size=min(PURITY_POOL, len(locations)), replace=False)]
        n_pool = len(pool)
        group = trained[list(members)]
        if near:
            nearest = _nearest_cells(head, group, [is_cell] * len(members), first_view, masks, PURITY_NEAR, device)
            in_pool = set(pool)
            for rows in nearest:
                for _, index, flat in sorted(rows)[:PURITY_NEAR]:
                    if (index, flat) not in in_pool:
                        in_pool.add((index, flat))
                        pool.append((index, flat))
        with torch.inference_mode():
            features = torch.stack([_processed_at(head, first_view[index], flat, device) for index, flat in pool])
        pure, total = box_purity(head, features, is_cell, scored, device)
        purity = pure / np.maximum(total, 1)
        ranked = np.argsort(-purity[:n_pool], kind="stable")[:max(len(members), int(round(PURE_SHARE * n_pool)))]
        distances = torch.cdist(group.to(features.dtype), features).cpu().numpy()
        if near:
            picks = _nearest_pure(distances, features, np.flatnonzero(purity >= purity[ranked[-1]]),
                                  config.projection_separation)
        else:
            picks = _spread_purest(distances, features, ranked)
        for row, pick in enumerate(picks):
            k = members[row]
            index, flat = pool[pick]
            r, c = divmod(flat, first_view[index].target.shape[-1])
            new[k] = features[pick].to(new.dtype)
            sources[k] = {"prototype": k, "image": images[index].name, "row": int(r), "col": int(c),
                          "distance": float(distances[row, pick] ** 2), "box_purity": float(purity[pick])}
    with torch.no_grad():
        head.prototypes.copy_(new)
    return sources


def _nearest_pure(distances: np.ndarray, features: torch.Tensor, eligible: np.ndarray, separation: float) -> list[int]:
    """For each prototype (a row of ``distances`` to the pool), the nearest eligible patch not taken
    by an earlier one, at least ``separation`` from those taken where any is."""
    taken: list[int] = []
    for row in range(len(distances)):
        order = eligible[np.argsort(distances[row, eligible], kind="stable")]
        free = [int(i) for i in order if int(i) not in taken]
        spaced = [i for i in free if all(float(torch.dist(features[i], features[j])) >= separation for j in taken)]
        taken.append((spaced or free)[0])
    return taken


def _spread_purest(distances: np.ndarray, features: torch.Tensor, ranked: np.ndarray) -> list[int]:
    """A spread-out set of the ``ranked`` patches (the purest first, then each time the one farthest
    from those chosen), each assigned to the prototype nearest it; the patch of each prototype."""
    from scipy.optimize import linear_sum_assignment

    chosen = [int(ranked[0])]
    while len(chosen) < len(distances):
        spread = torch.cdist(features[ranked], features[chosen]).min(dim=1).values
        chosen.append(int(ranked[int(spread.argmax())]))
    rows, cols = linear_sum_assignment(distances[:, chosen])
    picks = [0] * len(distances)
    for row, col in zip(rows, cols):
        picks[row] = chosen[col]
    return picks


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
    return head.processed_features(view.features[None, :, row:row + 1, col:col + 1].float().to(device))[0, :, 0, 0].cpu()
