"""The annotated images a run can train on: a checkable list in which each excluded image says why.

Rows come first as the GUI knows them (``show_pending``: the dots of an open image, else
"checking…"), then as the image check found them (``show_checks``, from
``training_checks.check_images`` in the job runner). An excluded image is unticked, greyed and
cannot be ticked; its reason is in the row and its tooltip. Until the checks are in,
``pending`` is true and training waits.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout

from ..training_checks import ImageCheck

PATH_ROLE = Qt.ItemDataRole.UserRole
EXCLUDED_COLOUR = QColor("#8a8a8a")


def _dots_words(n: int | None) -> str:
    return "checking…" if n is None else f"{n} dot{'s' if n != 1 else ''}"


class TrainingImageList(QGroupBox):
    sigChanged = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__("Annotated images", parent)
        self.setToolTip("The listed images that have their dots saved beside them (<name>.dots.csv)")
        self.list = QListWidget()
        self.list.setObjectName("trainingImages")
        self.list.setMinimumHeight(90)
        self.list.setMaximumHeight(220)
        self.list.setWordWrap(True)  # a reason is read whole, on as many lines as it needs
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.all_button, self.none_button = QPushButton("All"), QPushButton("None")
        self.pending = False
        self.checks: dict[str, ImageCheck] = {}
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        row = QHBoxLayout()
        row.addWidget(self.all_button)
        row.addWidget(self.none_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.list.itemChanged.connect(lambda _: self.sigChanged.emit())
        self.all_button.clicked.connect(lambda: self._check_all(True))
        self.none_button.clicked.connect(lambda: self._check_all(False))

    # ---- contents ----
    def show_pending(self, rows: list[tuple[str, int | None]]) -> None:
        """(path, dots known without reading a file, or None) of the images to check; checks follow."""
        self.pending = True
        self._fill([self.checks.get(path) or ImageCheck(path, dots) for path, dots in rows])
        self.sigChanged.emit()

    def show_checks(self, checks: list[ImageCheck]) -> None:
        """The outcome of the image check: usable rows keep their tick (a new one starts ticked)."""
        self.pending = False
        self._fill(checks)
        self.checks = {check.path: check for check in checks}
        self.sigChanged.emit()

    def _fill(self, checks: list[ImageCheck]) -> None:
        checked, was_usable = set(self.checked_paths()), {p for p, c in self.checks.items() if c.usable}
        self.list.blockSignals(True)
        self.list.clear()
        for check in checks:
            self.list.addItem(self._row(check, check.path in checked or check.path not in was_usable))
        self.list.blockSignals(False)

    @staticmethod
    def _row(check: ImageCheck, tick: bool) -> QListWidgetItem:
        name = Path(check.path).name
        item = QListWidgetItem(f"{name}  ·  {_dots_words(check.dots)}")
        item.setData(PATH_ROLE, check.path)
        item.setToolTip(check.path)
        if not check.usable:
            item.setText(f"{name}  ·  excluded: {check.reason}")
            item.setToolTip(f"{check.path}\nNot used for training: {check.reason}")
            item.setForeground(QBrush(EXCLUDED_COLOUR))
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            return item
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if tick and check.dots is not None else Qt.CheckState.Unchecked)
        return item

    # ---- what the user chose ----
    def checked_paths(self) -> list[str]:
        items = (self.list.item(i) for i in range(self.list.count()))
        return [item.data(PATH_ROLE) for item in items if item.checkState() == Qt.CheckState.Checked]

    def excluded(self) -> list[ImageCheck]:
        """The images the last check excluded, with their reasons."""
        return [check for check in self.checks.values() if not check.usable]

    def item_for(self, path: str) -> QListWidgetItem | None:
        return next((self.list.item(i) for i in range(self.list.count()) if self.list.item(i).data(PATH_ROLE) == path),
                    None)

    def _check_all(self, on: bool) -> None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.flags() & Qt.ItemFlag.ItemIsUserCheckable:
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
