"""Pixel size of the current image: what its file states, or a value the user gives once for its whole folder;
and, where it is known, the cell size and density in µm and cells per mm². ``sigFolderPixelSize`` carries the
value given (µm; 0: none, the files' own again)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class PixelSizePanel(QWidget):
    sigFolderPixelSize = Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.spin = QDoubleSpinBox()
        self.spin.setObjectName("folderPixelSize")
        self.spin.setRange(0.0, 1000.0)
        self.spin.setDecimals(4)
        self.spin.setSingleStep(0.01)
        self.spin.setSuffix(" µm/px")
        self.spin.setSpecialValueText("from the file")
        self.spin.setToolTip("The width of one pixel in micrometres, for every image of this folder.\n"
                             "0 = what each file states (OME or ImageJ metadata, TIFF resolution), if anything.")
        self.folder_button = QPushButton("Set for folder")
        self.folder_button.setToolTip("Use this pixel size for every image in the current image's folder")
        self.note = QLabel("")
        self.note.setObjectName("pixelSizeNote")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: gray;")
        row = QHBoxLayout()
        row.addWidget(self.spin, 1)
        row.addWidget(self.folder_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.note)
        self.folder_button.clicked.connect(lambda: self.sigFolderPixelSize.emit(float(self.spin.value())))

    def show_size(self, given: float | None, note: str) -> None:
        """The folder's given value (None: none given) and the line on what is known in µm."""
        self.spin.setValue(float(given or 0.0))
        self.note.setText(note)
