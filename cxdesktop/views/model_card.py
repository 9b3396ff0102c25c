"""Model › Model card: the card a person reads, and the model's full record one click further."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from ..dialogs import model_card_html
from ..model_card import card_html


class ModelCardDialog(QDialog):
    """The card; "Full record" switches to every recorded setting and the training history, and back."""

    def __init__(self, info, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model card")
        self.setObjectName("model_card")
        self.resize(640, 560)
        self.info = info
        self.browser = QTextBrowser()
        self.browser.setObjectName("modelCardText")
        self.browser.setOpenExternalLinks(False)
        self.full_record_button = QPushButton("Full record")
        self.full_record_button.setObjectName("fullRecord")
        self.full_record_button.setCheckable(True)
        self.full_record_button.setToolTip("Every setting the model file records, and its training history")
        self.full_record_button.toggled.connect(self.show_full_record)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.full_record_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.show_full_record(False)

    def show_full_record(self, full: bool) -> None:
        self.browser.setHtml(model_card_html(self.info) if full else card_html(self.info))
        self.full_record_button.setText("Card" if full else "Full record")
        self.full_record_button.setToolTip("Back to the card" if full else
                                           "Every setting the model file records, and its training history")
