"""The current image at a glance: name, count, and how it was counted (or why it was not)."""

from __future__ import annotations

from countxplain.scale_policy import cell_size_note
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..store import CANCELLED, COUNTING, DONE, ERROR, QUEUED


class SummaryPanel(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.name = QLabel("No image")
        self.name.setStyleSheet("font-weight: bold;")
        self.name.setWordWrap(True)
        self.count = QLabel("")
        self.count.setObjectName("countLabel")
        self.count.setStyleSheet("font-size: 20px;")
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setStyleSheet("color: gray;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for label in (self.name, self.count, self.details):
            layout.addWidget(label)

    def show_entry(self, entry) -> None:
        if entry is None:
            self.name.setText("No image")
            self.count.setText("")
            self.details.setText("Open images or a folder (File menu), or drop them on the window.")
            return
        self.name.setText(entry.name)
        self.name.setToolTip(entry.path)
        self.count.setStyleSheet("font-size: 20px;" + (" color: #c81e1e;" if entry.status == ERROR else ""))
        if entry.status == DONE:
            a = entry.analysis
            result = a.result
            self.count.setText(f"{entry.count:.1f} cells")
            size = f"{entry.width}×{entry.height} px · " if entry.width else ""
            scale = cell_size_note(result)
            self.details.setText(f"{size}{scale}\n{a.model_name} on {a.device.upper()} in {result.seconds:.2f} s")
        elif entry.status == ERROR:
            self.count.setText("Cannot count")
            self.details.setText(entry.error)
        else:
            self.count.setText({QUEUED: "Queued…", COUNTING: "Counting…", CANCELLED: "Cancelled"}.get(entry.status, ""))
            self.details.setText("Count again with F5." if entry.status == CANCELLED else "")
