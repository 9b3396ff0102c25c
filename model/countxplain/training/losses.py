"""The CountXplain training losses (paper Eq. 3-9)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def density_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error summed over each (B, 1, h, w) map, averaged over the batch."""
    return ((predicted - target) ** 2).flatten(1).sum(dim=1).mean()


def count_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error of each (B, 1, h, w) map's total, averaged over the batch."""
    return ((predicted.flatten(1).sum(dim=1) - target.flatten(1).sum(dim=1)) ** 2).mean()


def prototype_to_feature_loss(distances: torch.Tensor, target: torch.Tensor, k_cell: int,
                              mask: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 4-5: cell prototypes' distance at each image's density maximum, background
    prototypes' distance at its minimum, each averaged over its group and the batch.

    ``distances`` (B, K, h, w); ``target`` (B, 1, h, w); ``mask`` (B, 1, h, w) marks valid
    locations (padding excluded). Images without any dot give no cell term.
    """
    batch = distances.shape[0]
    flat_target = target.flatten(1)
    flat_distances = distances.flatten(2)
    valid = torch.ones_like(flat_target, dtype=torch.bool) if mask is None else mask.flatten(1) > 0
    idx_max = flat_target.masked_fill(~valid, -torch.inf).argmax(dim=1)
    idx_min = flat_target.masked_fill(~valid, torch.inf).argmin(dim=1)
    rows = torch.arange(batch, device=distances.device)
    at_max = flat_distances[rows, :k_cell, idx_max] if k_cell else distances.new_zeros(batch, 0)
    at_min = flat_distances[rows, k_cell:, idx_min]
    has_cells = (flat_target.amax(dim=1) > 0).float()
    cell_term = (at_max.mean(dim=1) * has_cells).sum() / has_cells.sum().clamp_min(1.0)
    return cell_term + at_min.mean(dim=1).mean()


def dot_and_empty_cells(dot_cells: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Valid output cells holding a dot, those holding none (both (B, 1, h, w) bool), and per crop
    1.0 where both kinds occur (the crops the separation losses can use)."""
    valid = mask > 0
    dots = valid & (dot_cells > 0)
    empty = valid & (dot_cells <= 0)
    return dots, empty, (dots.flatten(1).any(dim=1) & empty.flatten(1).any(dim=1)).float()


def separation_loss(distances: torch.Tensor, dot_cells: torch.Tensor, mask: torch.Tensor, k_cell: int,
                    ratio: float = 2.0, offset: float = 1e-3) -> torch.Tensor:
    """Beyond the paper: each prototype's nearest feature in a crop lies on its own kind of location.

    A cell prototype's nearest output cell holding a dot should be ``ratio`` times nearer
    than its nearest cell holding none; for a background prototype the other way round.
    Hinge on log distances (scale-free), averaged over prototypes and over the crops that
    have both kinds of location. ``distances`` (B, K, h, w); ``dot_cells``, ``mask`` (B, 1, h, w).
    """
    dots, empty, usable = dot_and_empty_cells(dot_cells, mask)
    if usable.sum() == 0:
        return distances.new_zeros(())
    log_d = torch.log(distances.clamp_min(0.0) + offset)
    nearest_dot = log_d.masked_fill(~dots, torch.inf).flatten(2).amin(dim=2)
    nearest_empty = log_d.masked_fill(~empty, torch.inf).flatten(2).amin(dim=2)
    gap = nearest_empty - nearest_dot  # (B, K): > 0 when the nearest dot cell is nearer
    gap = torch.where(torch.isfinite(gap), gap, torch.zeros_like(gap))
    margin = math.log(ratio)
    hinge = torch.cat([(margin - gap[:, :k_cell]).clamp_min(0.0), (margin + gap[:, k_cell:]).clamp_min(0.0)], dim=1)
    return (hinge.mean(dim=1) * usable).sum() / usable.sum()


def location_separation_loss(distances: torch.Tensor, dot_cells: torch.Tensor, mask: torch.Tensor, k_cell: int,
                             ratio: float = 2.0, offset: float = 1e-3) -> torch.Tensor:
    """Beyond the paper: every output cell holding no dot is ``ratio`` times farther from its
    nearest cell prototype than the cells holding dots are (their geometric mean).

    Unlike ``separation_loss`` (each prototype's single nearest location), this weighs every
    empty location, which is what decides where a prototype's strongest responses fall.
    Hinge on log distances, averaged over the empty cells of each crop that has both kinds.
    ``distances`` (B, K, h, w); ``dot_cells``, ``mask`` (B, 1, h, w).
    """
    dots, empty, usable = dot_and_empty_cells(dot_cells, mask)
    if usable.sum() == 0:
        return distances.new_zeros(())
    log_d = torch.log(distances[:, :k_cell].amin(dim=1, keepdim=True).clamp_min(0.0) + offset)
    dot_mean = (log_d * dots).flatten(1).sum(dim=1) / dots.flatten(1).sum(dim=1).clamp_min(1)
    hinge = (dot_mean[:, None, None, None] + math.log(ratio) - log_d).clamp_min(0.0) * empty
    per_crop = hinge.flatten(1).sum(dim=1) / empty.flatten(1).sum(dim=1).clamp_min(1)
    return (per_crop * usable).sum() / usable.sum()


def dot_cluster_loss(distances: torch.Tensor, dot_cells: torch.Tensor, mask: torch.Tensor, k_cell: int) -> torch.Tensor:
    """Beyond the paper: every output cell holding a dot is near some cell prototype (the mean,
    over all such cells of the batch, of the distance to the nearest cell prototype).

    The paper's cell term looks only at each crop's density maximum; this one looks at every
    annotated cell, like ProtoPNet's cluster cost. ``distances`` (B, K, h, w); ``dot_cells``,
    ``mask`` (B, 1, h, w).
    """
    dots, _, _ = dot_and_empty_cells(dot_cells, mask)
    if k_cell == 0 or not bool(dots.any()):
        return distances.new_zeros(())
    nearest = distances[:, :k_cell].amin(dim=1, keepdim=True)
    return (nearest * dots).sum() / dots.sum()


def top_location_loss(distances: torch.Tensor, dot_cells: torch.Tensor, mask: torch.Tensor, k_cell: int,
                      temperature: float = 0.25, offset: float = 1e-3) -> torch.Tensor:
    """Beyond the paper: each prototype's strongest responses in a crop lie on its own kind of
    output cell, one holding a dot for cell prototypes and one holding none for background ones.

    A softmax over the crop's valid cells of ``-log(distance) / temperature`` weighs each
    prototype's nearest locations most (a distance ratio of e**temperature is a factor e);
    the loss is minus the log of the weight on its own kind of cell. That is the share of its
    top-percentile boxes that are pure, made smooth, and unlike ``separation_loss`` it cares
    about every strong response, not the single nearest one. Averaged over prototypes and
    the crops that have both kinds. ``distances`` (B, K, h, w); ``dot_cells``, ``mask`` (B, 1, h, w).
    """
    dots, empty, usable = dot_and_empty_cells(dot_cells, mask)
    if usable.sum() == 0:
        return distances.new_zeros(())
    k_total = distances.shape[1]
    logits = -torch.log(distances.clamp_min(0.0) + offset) / temperature
    logits = logits.masked_fill(~(mask > 0), -torch.inf).flatten(2)
    own = torch.cat([dots.expand(-1, k_cell, -1, -1), empty.expand(-1, k_total - k_cell, -1, -1)], dim=1).flatten(2)
    missed = torch.logsumexp(logits, dim=2) - torch.logsumexp(logits.masked_fill(~own, -torch.inf), dim=2)
    missed = torch.where(usable[:, None] > 0, missed, torch.zeros_like(missed))
    return (missed.mean(dim=1) * usable).sum() / usable.sum()


def diversity_loss(prototypes: torch.Tensor, k_cell: int, tau: float) -> torch.Tensor:
    """Eq. 6-9 on L2-normalised prototypes: off-diagonal cosine similarity above ``tau``,
    averaged within the cell group and within the background group, then halved sum."""
    total = prototypes.new_zeros(())
    for group in (prototypes[:k_cell], prototypes[k_cell:]):
        k = group.shape[0]
        if k < 2:
            continue
        unit = F.normalize(group, dim=1)
        excess = (unit @ unit.T - tau).clamp_min(0.0)
        excess = excess * (1.0 - torch.eye(k, device=group.device, dtype=group.dtype))
        total = total + excess.sum() / (k * (k - 1))
    return 0.5 * total


def intra_group_distances(prototypes: torch.Tensor, k_cell: int) -> dict:
    """Minimum and average pairwise L2 distance within each group (the paper's Table 2)."""
    result = {}
    for name, group in (("cell", prototypes[:k_cell]), ("background", prototypes[k_cell:])):
        if group.shape[0] < 2:
            result[name] = {"min": float("nan"), "mean": float("nan")}
            continue
        d = torch.cdist(group[None].float(), group[None].float())[0]
        off = d[~torch.eye(group.shape[0], dtype=torch.bool)]
        result[name] = {"min": float(off.min()), "mean": float(off.mean())}
    return result
