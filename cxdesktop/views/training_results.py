"""The outcome of a training run: error per image, the new prototype gallery, save and use.

The table lists the validation images first (they decide the validation MAE), then the
training images; the gallery is ``GalleryView`` of the new model.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..training_eta import format_duration
from .gallery import GalleryView

HEADERS = ("Image", "Split", "Dots", "Model count", "Error")


class TrainingResults(QWidget):
    sigSave = Signal()
    sigUse = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.summary = QLabel("No finished training run yet.")
        self.summary.setObjectName("trainingSummary")
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("font-size: 14px;")
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setObjectName("trainingResultsTable")
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(HEADERS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.gallery = GalleryView()
        self.gallery.set_model(None)
        self.gallery.message.setText("The gallery of the new model appears here when training has finished.")
        self.save_button = QPushButton("Save as model file…")
        self.save_button.setObjectName("saveTrained")
        self.use_button = QPushButton("Use this model")
        self.use_button.setObjectName("useTrained")
        self.use_button.setToolTip("Switch the app to the new model; every listed image is counted again")
        buttons = QHBoxLayout()
        buttons.addWidget(self.summary, 1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.use_button)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.gallery)
        split.setSizes([440, 360])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(split, 1)
        self.save_button.clicked.connect(self.sigSave)
        self.use_button.clicked.connect(self.sigUse)
        self.show_outcome(None)

    def show_outcome(self, outcome, notes: list[str] | None = None) -> None:
        """A ``training_job.TrainingOutcome`` (None: nothing to show), with what the run did that its
        settings do not say (``training_notes``)."""
        self.save_button.setEnabled(outcome is not None)
        self.use_button.setEnabled(outcome is not None)
        if outcome is None:
            self.table.setRowCount(0)
            return
        n_val = sum(1 for r in outcome.rows if r.split == "validation")
        self.summary.setText(f"Validation MAE <b>{outcome.val_mae:.2f}</b> cells per image over {n_val} validation "
                             f"image(s) · trained in {format_duration(outcome.seconds)}"
                             + "".join(f"<br>{note}" for note in notes or []))
        self.table.setRowCount(len(outcome.rows))
        for row, result in enumerate(outcome.rows):
            cells = (result.name, result.split, str(result.annotated), f"{result.predicted:.1f}",
                     f"{result.error:+.1f}")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column >= 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if result.split == "training":
                    item.setForeground(Qt.GlobalColor.gray)
                self.table.setItem(row, column, item)
        self.gallery.set_model(outcome.info)

    def set_saved(self, path: str) -> None:
        self.summary.setText(self.summary.text() + f"<br>Saved as <tt>{path}</tt>")
