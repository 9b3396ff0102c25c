"""Density overlay controls: show/hide, opacity, colour map, fit the colour range, hold it across images."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, QToolButton, QWidget

from ..settings import COLORMAPS


class OverlayControls(QWidget):
    sigVisibleChanged = Signal(bool)
    sigOpacityChanged = Signal(float)
    sigColormapChanged = Signal(str)
    sigFitLevels = Signal()

    def __init__(self, opacity: float = 0.6, colormap: str = "inferno", parent=None) -> None:
        super().__init__(parent)
        self.visible = QCheckBox("Density")
        self.visible.setChecked(True)
        self.visible.setToolTip("Show the density map over the image (O)")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setObjectName("opacitySlider")
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(opacity * 100))
        self.opacity.setFixedWidth(90)
        self.opacity.setToolTip("Overlay opacity")
        self.colormap = QComboBox()
        self.colormap.addItems(COLORMAPS)
        self.colormap.setCurrentText(colormap)
        self.colormap.setToolTip("Colour map of the density overlay")
        self.fit = QToolButton()
        self.fit.setText("Fit")
        self.fit.setToolTip("Fit the colour scale to this image's density")
        self.hold = QCheckBox("Hold scale")
        self.hold.setObjectName("holdDensityScale")
        self.hold.setToolTip("Keep this colour scale for every image, to compare densities across images.\n"
                             "Unticked, each image's scale is fitted to its own density.\n"
                             "Dragging the colour bar ticks it.")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.visible)
        layout.addWidget(QLabel("Opacity"))
        layout.addWidget(self.opacity)
        layout.addWidget(self.colormap)
        layout.addWidget(self.fit)
        layout.addWidget(self.hold)
        self.visible.toggled.connect(self.sigVisibleChanged)
        self.opacity.valueChanged.connect(lambda value: self.sigOpacityChanged.emit(value / 100.0))
        self.colormap.currentTextChanged.connect(self.sigColormapChanged)
        self.fit.clicked.connect(self.sigFitLevels)

    def opacity_value(self) -> float:
        return self.opacity.value() / 100.0
