"""Help › User guide: the short guide that ships with the app, read offline (HTML pages with screenshots)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPushButton, QTextBrowser, QVBoxLayout, QWidget

GUIDE_DIR = Path(__file__).resolve().parents[1] / "resources" / "guide"
GUIDE_INDEX = "index.html"


def guide_index() -> Path:
    return GUIDE_DIR / GUIDE_INDEX


class GuideDialog(QDialog):
    """The guide in a browser that follows its own links and never opens the network."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("User guide")
        self.setObjectName("userGuide")
        self.resize(1020, 760)
        self.browser = QTextBrowser()
        self.browser.setObjectName("guideText")
        self.browser.setOpenExternalLinks(False)
        self.browser.setOpenLinks(True)
        self.browser.setSearchPaths([str(GUIDE_DIR)])
        back = QPushButton("Back")
        back.setObjectName("guideBack")
        back.clicked.connect(self.browser.backward)
        self.browser.backwardAvailable.connect(back.setEnabled)
        back.setEnabled(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(back, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.open_index()

    def open_index(self) -> None:
        index = guide_index()
        if index.is_file():
            self.browser.setSource(QUrl.fromLocalFile(str(index)))
        else:
            self.browser.setHtml(f"<p>The user guide is missing from this installation (looked for {index}).</p>")
