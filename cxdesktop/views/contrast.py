"""Contrast: a range slider over the image's own float range (works for 8- and 16-bit data)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget
from superqt import QLabeledDoubleRangeSlider


class ContrastControl(QWidget):
    sigLevelsChanged = Signal(float, float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.slider = QLabeledDoubleRangeSlider(Qt.Orientation.Horizontal, self)
        self.slider.setObjectName("contrastSlider")
        self.slider.setDecimals(3)
        self.slider.setHandleLabelPosition(QLabeledDoubleRangeSlider.LabelPosition.NoLabel)
        self.slider.setEdgeLabelMode(QLabeledDoubleRangeSlider.EdgeLabelMode.LabelIsValue)
        self.slider.setRange(0.0, 1.0)
        self.slider.setValue((0.0, 1.0))
        self.slider.setToolTip("Display contrast: the intensities shown as black and as white")
        self.slider.valueChanged.connect(self._changed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Contrast"))
        layout.addWidget(self.slider, 1)

    def set_data(self, pixels: np.ndarray) -> tuple[float, float]:
        """Span the slider over the data's range and select all of it; returns the levels."""
        sample = pixels[:: max(1, pixels.shape[0] // 512), :: max(1, pixels.shape[1] // 512)]
        lo, hi = float(np.nanmin(sample)), float(np.nanmax(sample))
        if not hi > lo:
            hi = lo + 1e-3
        self.slider.blockSignals(True)
        self.slider.setRange(lo, hi)
        self.slider.setSingleStep((hi - lo) / 1000)
        self.slider.setValue((lo, hi))
        self.slider.blockSignals(False)
        return lo, hi

    def levels(self) -> tuple[float, float]:
        lo, hi = self.slider.value()
        return float(lo), float(hi)

    def _changed(self, value) -> None:
        lo, hi = value
        if hi <= lo:
            hi = lo + 1e-6
        self.sigLevelsChanged.emit(float(lo), float(hi))
