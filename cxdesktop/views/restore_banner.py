"""The bar across the top of the window that offers to bring back the previous session's work.

It never blocks: the window can be used while it waits. It also tells what came of a restore
(images skipped because they no longer exist) and why a saved session could not be read.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QToolBar, QWidget

BANNER_STYLE = ("#restoreBanner { background: #fff4ce; border-bottom: 1px solid #e0c060; }"
                "#restoreBanner QLabel { color: #3a2f00; }")


class RestoreBanner(QToolBar):
    """'Restore the previous session?' with Restore and Start fresh; or a note with Close."""

    sigRestore = Signal()
    sigDismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Previous session", parent)
        self.setObjectName("restoreBanner")
        self.setMovable(False)
        self.setFloatable(False)
        self.setStyleSheet(BANNER_STYLE)
        body = QWidget()
        layout = QHBoxLayout(body)
        layout.setContentsMargins(8, 2, 8, 2)
        self.label = QLabel()
        self.label.setObjectName("restoreBannerText")
        self.label.setWordWrap(True)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.restore_button = QPushButton("Restore")
        self.restore_button.setObjectName("restoreSession")
        self.fresh_button = QPushButton("Start fresh")
        self.fresh_button.setObjectName("startFresh")
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("closeBanner")
        for widget in (self.label, self.restore_button, self.fresh_button, self.close_button):
            layout.addWidget(widget)
        self.addWidget(body)
        self.restore_button.clicked.connect(self._restore_clicked)
        self.fresh_button.clicked.connect(self._dismiss)
        self.close_button.clicked.connect(self._dismiss)
        self.hide()

    def offer(self, summary: str) -> None:
        """Ask whether to restore the session ``summary`` describes."""
        self._show(f"<b>Restore your previous session?</b> {summary}", asking=True)

    def note(self, text: str) -> None:
        """Tell something (one line) that needs no answer."""
        self._show(text, asking=False)

    def is_offering(self) -> bool:
        return self.isVisible() and self.restore_button.isVisible()

    def _show(self, text: str, asking: bool) -> None:
        self.label.setText(text)
        self.label.setToolTip(self.label.text() if len(text) > 120 else "")
        self.restore_button.setVisible(asking)
        self.fresh_button.setVisible(asking)
        self.close_button.setVisible(not asking)
        self.show()

    def _restore_clicked(self) -> None:
        self.hide()
        self.sigRestore.emit()

    def _dismiss(self) -> None:
        asking = self.restore_button.isVisible()
        self.hide()
        if asking:
            self.sigDismissed.emit()
