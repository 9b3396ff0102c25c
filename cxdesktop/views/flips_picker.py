"""How many views the maps are averaged over: the image alone, or the image and its mirror images."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox

LABELS = {1: "1 view", 4: "4 views"}
TOOLTIPS = {
    1: "The image as it is: the fastest count",
    4: "The image and its three mirror images, each map flipped back into place and averaged: four times the "
       "time, and sharper maps whose strongest regions fall on cells more often; the count is still the sum "
       "of the averaged density",
}


class FlipsPicker(QComboBox):
    sigFlipsChosen = Signal(int)

    def __init__(self, preference: int = 1, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("flipsPicker")
        self.setToolTip("How many views of each image the density and similarity maps are averaged over")
        for key, label in LABELS.items():
            self.addItem(label, key)
            self.setItemData(self.count() - 1, TOOLTIPS[key], Qt.ItemDataRole.ToolTipRole)
        self.set_choice(preference)
        self.activated.connect(lambda index: self.sigFlipsChosen.emit(int(self.itemData(index))))

    def set_choice(self, flips: int) -> None:
        row = self.findData(flips)
        self.setCurrentIndex(row if row >= 0 else 0)
