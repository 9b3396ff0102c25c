"""How much each prototype added to (or took from) this image's count, and its weight θ.

Contribution c_i = θ_i · Σ S_i (signed; negative bars go below zero). Bars are in the
gallery's order and colours: cell prototypes first (warm), then background ones (blue).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..palette import prototype_color, short_name


class ContributionsView(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setAcceptDrops(False)
        self.canvas.setBackground("w")
        self.contribution_plot = self.canvas.addPlot(row=0, col=0, title="Contribution to this image's count")
        self.weight_plot = self.canvas.addPlot(row=1, col=0, title="Weight θ (density layer)")
        for plot, label in ((self.contribution_plot, "cells"), (self.weight_plot, "θ")):
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.showGrid(y=True, alpha=0.3)
            plot.setLabel("left", label)
            plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen("k", width=1)))
        self.summary = QLabel("")
        self.summary.setObjectName("contributionSummary")
        self.summary.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.summary)
        self.k_cell = 0
        self.positions = np.zeros(0)
        self.brushes: list = []
        self.contribution_bars: pg.BarGraphItem | None = None
        self.weight_bars: pg.BarGraphItem | None = None

    def set_model(self, info) -> None:
        self.clear()
        if info is None:
            return
        self.k_cell = info.k_cell
        # a gap of one bar between the groups
        self.positions = np.array([p if p < info.k_cell else p + 1 for p in range(info.k_total)], dtype=float)
        self.brushes = [prototype_color(p, info.k_cell) for p in range(info.k_total)]
        ticks = [[(x, short_name(p, info.k_cell)) for p, x in enumerate(self.positions)]]
        for plot in (self.contribution_plot, self.weight_plot):
            plot.getAxis("bottom").setTicks(ticks)
            plot.setXRange(-0.7, self.positions[-1] + 0.7, padding=0)

    def clear(self) -> None:
        for plot, bars in ((self.contribution_plot, self.contribution_bars), (self.weight_plot, self.weight_bars)):
            if bars is not None:
                plot.removeItem(bars)
        self.contribution_bars = self.weight_bars = None
        self.summary.setText("")

    def show_contributions(self, contributions, count: float) -> None:
        self.clear()
        if contributions is None or len(self.positions) != len(contributions.values):
            return
        values = np.asarray(contributions.values, dtype=float)
        weights = np.asarray(contributions.weights, dtype=float)
        self.contribution_bars = pg.BarGraphItem(x=self.positions, height=values, width=0.7, brushes=self.brushes,
                                                 pen=pg.mkPen("k", width=0.5))
        self.weight_bars = pg.BarGraphItem(x=self.positions, height=weights, width=0.7, brushes=self.brushes,
                                           pen=pg.mkPen("k", width=0.5))
        self.contribution_plot.addItem(self.contribution_bars)
        self.weight_plot.addItem(self.weight_bars)
        for plot, data in ((self.contribution_plot, values), (self.weight_plot, weights)):
            lo, hi = min(0.0, float(data.min())), max(0.0, float(data.max()))
            pad = 0.08 * (hi - lo or 1.0)
            plot.setYRange(lo - pad, hi + pad, padding=0)
        is_cell = np.asarray(contributions.is_cell, dtype=bool)
        self.summary.setText(
            f"Count {count:.2f} = cell prototypes {values[is_cell].sum():+.2f} "
            f"+ background prototypes {values[~is_cell].sum():+.2f} + bias {contributions.bias_term:+.2f}")
