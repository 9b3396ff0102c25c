"""The CountXplain training losses (paper Eq. 3-9)."""

from __future__ import annotations

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
