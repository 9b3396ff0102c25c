"""The image list's Dots column: how many dots each image is annotated with, per counter type in the tooltip.

An image whose dots are not open yet is read from its sidecar once, when its row is first drawn."""

from __future__ import annotations

from PySide6.QtCore import Qt

from .dots import entry_dot_counts as dot_counts
from .store import ImageEntry

SORT_ROLE = Qt.ItemDataRole.UserRole


def dots_tooltip(counts: dict[str, int] | None) -> str:
    if counts is None:
        return "Not annotated: no dots placed on this image"
    total = sum(counts.values())
    per_type = " · ".join(f"{name} {n}" for name, n in counts.items())
    return f"Annotated: {total} dot{'s' if total != 1 else ''}" + (f" ({per_type})" if per_type else "")


def dots_data(entry: ImageEntry, role):
    """The Dots column's data for ``role``."""
    if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, SORT_ROLE,
                    Qt.ItemDataRole.TextAlignmentRole):
        return None
    counts = dot_counts(entry)
    if role == Qt.ItemDataRole.DisplayRole:
        return "" if counts is None else str(sum(counts.values()))
    if role == SORT_ROLE:
        return -1 if counts is None else sum(counts.values())
    if role == Qt.ItemDataRole.ToolTipRole:
        return dots_tooltip(counts)
    return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
