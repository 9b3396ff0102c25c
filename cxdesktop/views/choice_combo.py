"""A combo box of keyed choices, each shown by its label with its own tooltip."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox


class ChoiceCombo(QComboBox):
    def __init__(self, labels: dict, tooltips: dict, preference, parent=None) -> None:
        super().__init__(parent)
        for key, label in labels.items():
            self.addItem(label, key)
            self.setItemData(self.count() - 1, tooltips[key], Qt.ItemDataRole.ToolTipRole)
        self.set_choice(preference)

    def set_choice(self, key) -> None:
        row = self.findData(key)
        self.setCurrentIndex(row if row >= 0 else 0)

    def choice(self):
        return self.currentData()
