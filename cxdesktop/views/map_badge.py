"""Names the map drawn over the image, on the canvas itself; beside a prototype's map, one click back to the density."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

DENSITY_NAME = "Density (cells per pixel)"


class MapBadge(QWidget):
    sigDensityRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("mapBadge")
        self.setStyleSheet("#mapBadge { background: rgba(0,0,0,160); border-radius: 3px; }"
                           "QLabel { color: #eee; } QToolButton { padding: 1px 6px; }")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.name = QLabel(DENSITY_NAME)
        self.name.setObjectName("mapName")
        self.back = QToolButton()
        self.back.setObjectName("showDensity")
        self.back.setText("Show density")
        self.back.setToolTip("Back to the density map")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 3, 3, 3)
        layout.addWidget(self.name)
        layout.addWidget(self.back)
        self.back.clicked.connect(self.sigDensityRequested)
        self.show_density()

    def show_density(self) -> None:
        self._set(DENSITY_NAME, back=False)

    def show_similarity(self, name: str) -> None:
        self._set(f"Similarity: {name}", back=True)

    def _set(self, text: str, back: bool) -> None:
        self.name.setText(text)
        self.back.setVisible(back)
        self.adjustSize()
