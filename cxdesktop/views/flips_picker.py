"""How many views the maps are averaged over: the image alone, or the image and its mirror images."""

from __future__ import annotations

from PySide6.QtCore import Signal

from .choice_combo import ChoiceCombo

LABELS = {1: "1 view", 4: "4 views"}
TOOLTIPS = {
    1: "The image as it is: the fastest count",
    4: "The image and its three mirror images, each map flipped back into place and averaged: four times the "
       "time, and sharper maps whose strongest regions fall on cells more often; the count is still the sum "
       "of the averaged density",
}


class FlipsPicker(ChoiceCombo):
    sigFlipsChosen = Signal(int)

    def __init__(self, preference: int = 1, parent=None) -> None:
        super().__init__(LABELS, TOOLTIPS, preference, parent)
        self.setObjectName("flipsPicker")
        self.setToolTip("How many views of each image the density and similarity maps are averaged over")
        self.activated.connect(lambda index: self.sigFlipsChosen.emit(int(self.itemData(index))))
