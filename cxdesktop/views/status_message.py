"""The status bar's message: what the app tells the user (a file written, nothing to open), shown for a while.

It has its own place in the status bar, so the model line and the pickers beside it can
never cover it; a message too long for the window is cut in the middle, whole in its tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtWidgets import QSizePolicy

from .elided_label import ElidedLabel

MIN_SHOWN_MS = 5000
DEFAULT_SHOWN_MS = 10000
INFO_STYLE = "QLabel { background: #fff3bf; color: #1f1f1f; border-radius: 3px; padding: 0 6px; }"
ERROR_STYLE = "QLabel { background: #fde2e2; color: #b01818; border-radius: 3px; padding: 0 6px; }"


class StatusMessage(ElidedLabel):
    """Hidden until ``show_message``; hides itself again after the message's time (never under 5 s)."""

    def __init__(self, parent=None) -> None:
        super().__init__("", parent, mode=Qt.TextElideMode.ElideMiddle)
        self.setObjectName("statusMessage")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.clear_message)
        self.hide()

    def show_message(self, text: str, timeout_ms: int = DEFAULT_SHOWN_MS, error: bool = False) -> None:
        if not text:
            self.clear_message()
            return
        self.setText(text)
        self.setToolTip(text)
        self.setStyleSheet(ERROR_STYLE if error else INFO_STYLE)
        self.updateGeometry()
        self.show()
        self.timer.start(max(int(timeout_ms or DEFAULT_SHOWN_MS), MIN_SHOWN_MS))

    def clear_message(self) -> None:
        self.timer.stop()
        self.setText("")
        self.setToolTip("")
        self.hide()

    def sizeHint(self) -> QSize:
        margins = self.contentsMargins()
        width = self.fontMetrics().horizontalAdvance(self.text()) + margins.left() + margins.right() + 14
        return QSize(width, super().sizeHint().height())
