"""The current image at a glance: name, count, and how it was counted (or why it was not); a count
that moves too much across the size estimate's error range says so and suggests measuring a cell."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from countxplain.scale_policy import cell_size_note, size_doubt_note

from ..store import CANCELLED, COUNTING, DONE, ERROR, QUEUED


class ElidedLabel(QLabel):
    """One line that shortens itself in the middle ("07fb…dcd.png") to the width it is given, so a
    long file name neither widens the panel nor squeezes the lines below it."""

    def __init__(self, text: str = "", parent=None) -> None:
        super().__init__(parent)
        self.full_text = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        self.full_text = text
        self._elide()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(self.width(), 1)
        super().setText(self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideMiddle, width))


class SummaryPanel(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.name = ElidedLabel("No image")
        self.name.setStyleSheet("font-weight: bold;")
        self.count = QLabel("")
        self.count.setObjectName("countLabel")
        self.count.setStyleSheet("font-size: 20px;")
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setStyleSheet("color: gray;")
        self.doubt = QLabel("")
        self.doubt.setObjectName("sizeDoubtLabel")
        self.doubt.setWordWrap(True)
        self.doubt.setStyleSheet("color: #be6e00;")
        self.doubt.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for label in (self.name, self.count, self.details, self.doubt):
            layout.addWidget(label)

    def show_entry(self, entry) -> None:
        self._show_doubt(entry)
        if entry is None:
            self.name.setText("No image")
            self.count.setText("")
            self.details.setText("Open images or a folder (File menu), or drop them on the window.")
            return
        self.name.setText(entry.name)
        self.name.setToolTip(entry.path)  # the whole name, however it is shortened
        self.count.setStyleSheet("font-size: 20px;" + (" color: #c81e1e;" if entry.status == ERROR else ""))
        if entry.status == DONE:
            a = entry.analysis
            result = a.result
            self.count.setText(f"{entry.count:.1f} cells")
            size = f"{entry.width}×{entry.height} px · " if entry.width else ""
            scale = cell_size_note(result)
            views = f", {result.flips} views averaged" if result.flips > 1 else ""
            self.details.setText(f"{size}{scale}\n{a.model_name} on {a.device.upper()}{views} "
                                 f"in {result.seconds:.2f} s")
        elif entry.status == ERROR:
            self.count.setText("Cannot count")
            self.details.setText(entry.error)
        else:
            self.count.setText({QUEUED: "Queued…", COUNTING: "Counting…", CANCELLED: "Cancelled"}.get(entry.status, ""))
            self.details.setText("Count again with F5." if entry.status == CANCELLED else "")

    def _show_doubt(self, entry) -> None:
        """The size-doubt suggestion of a counted image whose size was estimated, hidden otherwise."""
        doubt = getattr(entry.analysis, "size_doubt", None) if entry is not None and entry.status == DONE else None
        note = size_doubt_note(doubt)
        self.doubt.setText(f"⚠ Doubtful count: {note}." if note else "")
        self.doubt.setVisible(bool(note))
