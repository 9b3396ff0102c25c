"""Choose a prototype to see where it fires: its similarity map and 99th-percentile boxes.

The list groups cell prototypes (warm colours) and background prototypes (blue) exactly
as the gallery and the contribution chart do; the first entry goes back to the density map.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QPixmap
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from ..palette import long_name, prototype_color, short_name

NONE = -1
PROTO_ROLE = Qt.ItemDataRole.UserRole


def color_icon(color: QColor, side: int = 14) -> QIcon:
    pixmap = QPixmap(side, side)
    pixmap.fill(color)
    return QIcon(pixmap)


class PrototypePanel(QWidget):
    sigPrototypeChosen = Signal(int)  # NONE (-1): show the density map
    sigPercentileChanged = Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.k_cell = 0
        self.list = QListWidget()
        self.list.setObjectName("prototypeList")
        self.percentile = QDoubleSpinBox()
        self.percentile.setRange(50.0, 99.99)
        self.percentile.setDecimals(2)
        self.percentile.setValue(99.0)
        self.percentile.setSuffix("th percentile")
        self.percentile.setToolTip("Boxes surround the regions where the similarity is at or above this percentile")
        self.info = QLabel("")
        self.info.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Boxes at"))
        row.addWidget(self.percentile, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(row)
        layout.addWidget(self.info)
        self.list.currentItemChanged.connect(self._current_changed)
        self.percentile.valueChanged.connect(self.sigPercentileChanged)
        self._items: dict[int, QListWidgetItem] = {}
        self.set_model(None)

    def set_model(self, info) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        self._items = {}
        self._add(NONE, "Density map (no prototype)", None)
        if info is not None:
            self.k_cell = info.k_cell
            for title, members in (("Cell prototypes", range(info.k_cell)),
                                   ("Background prototypes", range(info.k_cell, info.k_total))):
                self._header(title)
                for p in members:
                    self._add(p, f"{long_name(p, info.k_cell)}  ({short_name(p, info.k_cell)})",
                              prototype_color(p, info.k_cell))
        self.list.setCurrentItem(self._items[NONE])
        self.list.blockSignals(False)
        self.info.setText("")

    def _header(self, title: str) -> None:
        item = QListWidgetItem(title)
        font = QFont()
        font.setBold(True)
        item.setFont(font)
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        self.list.addItem(item)

    def _add(self, prototype: int, text: str, color: QColor | None) -> None:
        item = QListWidgetItem(text)
        item.setData(PROTO_ROLE, prototype)
        if color is not None:
            item.setIcon(color_icon(color))
        self.list.addItem(item)
        self._items[prototype] = item

    def current(self) -> int:
        item = self.list.currentItem()
        value = item.data(PROTO_ROLE) if item is not None else None
        return NONE if value is None else int(value)

    def choose(self, prototype: int) -> None:
        if prototype in self._items:
            self.list.setCurrentItem(self._items[prototype])

    def set_contributions(self, contributions) -> None:
        """Show each prototype's contribution to the current image's count in its row."""
        for p, item in self._items.items():
            if p == NONE:
                continue
            base = f"{long_name(p, self.k_cell)}  ({short_name(p, self.k_cell)})"
            if contributions is not None and p < len(contributions.values):
                base += f"   {contributions.values[p]:+.1f}"
            item.setText(base)

    def set_box_count(self, prototype: int, n_boxes: int | None) -> None:
        if prototype == NONE or n_boxes is None:
            self.info.setText("")
        else:
            self.info.setText(f"{short_name(prototype, self.k_cell)}: {n_boxes} region(s) at or above the "
                              f"{self.percentile.value():g}th percentile of its similarity")

    def _current_changed(self, current, _previous) -> None:
        self.sigPrototypeChosen.emit(self.current())
