"""Prototype names shared by the explanation figure and the app (no torch import)."""

from __future__ import annotations


def prototype_name(prototype: int, k_cell: int) -> str:
    """'C1', 'C2', ... for cell prototypes, 'B1', ... for background ones: the name every view uses."""
    return f"C{prototype + 1}" if prototype < k_cell else f"B{prototype - k_cell + 1}"
