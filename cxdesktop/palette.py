"""Prototype names and colours, the same in every view: cells warm (orange/red), background cool (blue).

Prototypes 0..k_cell-1 are cell prototypes, the rest background ones.
"""

from __future__ import annotations

from PySide6.QtGui import QColor

from countxplain.naming import prototype_name

CELL_COLORS = ("#f28e2b", "#d62728", "#ffbe7d", "#b3470f", "#ff9896", "#e15759", "#f7b500", "#8c2d04")
BACKGROUND_COLORS = ("#1f77b4", "#76b7f2", "#08519c", "#4e9ed8", "#9ecae1", "#2c5f8a", "#6baed6", "#17395c")
CELL_GROUP_COLOR = CELL_COLORS[0]
BACKGROUND_GROUP_COLOR = BACKGROUND_COLORS[0]


def is_cell(prototype: int, k_cell: int) -> bool:
    return prototype < k_cell


def prototype_color(prototype: int, k_cell: int) -> QColor:
    if is_cell(prototype, k_cell):
        return QColor(CELL_COLORS[prototype % len(CELL_COLORS)])
    return QColor(BACKGROUND_COLORS[(prototype - k_cell) % len(BACKGROUND_COLORS)])


def short_name(prototype: int, k_cell: int) -> str:
    """'C1', 'C2', ... for cell prototypes; 'B1', ... for background ones (as in the explanation figure)."""
    return prototype_name(prototype, k_cell)


def long_name(prototype: int, k_cell: int) -> str:
    if is_cell(prototype, k_cell):
        return f"Cell prototype {prototype + 1}"
    return f"Background prototype {prototype - k_cell + 1}"
