"""The counter type new dots get: a combo of the named types, each with its colour swatch, and buttons
to name a new type or rename the chosen one.

Emits requests only (``sigTypeChosen``, ``sigTypeAddRequested``, ``sigTypeRenameRequested`` with the
names the user typed); the annotator checks the names and calls ``set_types``.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QInputDialog, QLabel, QLineEdit, QToolButton, QWidget

SWATCH_PX = 12


def swatch(color: str) -> QIcon:
    pixmap = QPixmap(SWATCH_PX, SWATCH_PX)
    pixmap.fill(QColor(color))
    return QIcon(pixmap)


class DotTypePicker(QWidget):
    sigTypeChosen = Signal(str)
    sigTypeAddRequested = Signal(str)  # the new type's name
    sigTypeRenameRequested = Signal(str, str)  # old name, new name

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        label = QLabel("Type")
        self.combo = QComboBox()
        self.combo.setObjectName("dotType")
        self.combo.setToolTip("The counter type of the dots you place now (its colour on the image)")
        self.combo.setIconSize(QSize(SWATCH_PX, SWATCH_PX))
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.add_button = QToolButton()
        self.add_button.setObjectName("addDotType")
        self.add_button.setText("New type…")
        self.add_button.setToolTip("Name another counter type (e.g. dividing cells) and place dots of it")
        self.rename_button = QToolButton()
        self.rename_button.setObjectName("renameDotType")
        self.rename_button.setText("Rename…")
        self.rename_button.setToolTip("Rename the chosen type, in the dot files of every listed image")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(label)
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.add_button)
        layout.addWidget(self.rename_button)
        self.combo.activated.connect(lambda row: self.sigTypeChosen.emit(self.combo.itemText(row)))
        self.add_button.clicked.connect(self._ask_new)
        self.rename_button.clicked.connect(self._ask_rename)

    def set_types(self, names: list[str], colors: list[str], current: str) -> None:
        self.combo.blockSignals(True)
        self.combo.clear()
        for number, (name, color) in enumerate(zip(names, colors), start=1):
            self.combo.addItem(swatch(color), name)
            if number <= 9:
                tip = f"Key {number}: new dots, or the dot under the pointer, get '{name}'"
                self.combo.setItemData(number - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.combo.setCurrentIndex(max(0, self.combo.findText(current)))
        self.combo.blockSignals(False)

    def current(self) -> str:
        return self.combo.currentText()

    def _ask_new(self) -> None:
        name, ok = QInputDialog.getText(self, "New counter type", "Name of the new type:")
        if ok:
            self.sigTypeAddRequested.emit(name)

    def _ask_rename(self) -> None:
        old = self.current()
        name, ok = QInputDialog.getText(self, "Rename counter type", f"New name for '{old}':",
                                        QLineEdit.EchoMode.Normal, old)
        if ok and name != old:
            self.sigTypeRenameRequested.emit(old, name)
