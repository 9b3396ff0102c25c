"""Read-only dialogs: the model card, keyboard shortcuts, About (versions)."""

from __future__ import annotations

import html
import platform
from importlib import metadata

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMessageBox, QTextBrowser, QVBoxLayout, QWidget

from . import APP_NAME, __version__


def _value_html(value) -> str:
    if isinstance(value, dict):
        rows = "".join(f"<tr><td valign='top'><b>{html.escape(str(k))}</b></td><td>{_value_html(v)}</td></tr>"
                       for k, v in value.items())
        return f"<table cellspacing='2' cellpadding='2'>{rows}</table>"
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple)) for v in value):
            return html.escape(", ".join(str(v) for v in value))
        return "<ul>" + "".join(f"<li>{_value_html(v)}</li>" for v in value) + "</ul>"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def model_card_html(info) -> str:
    """The model's provenance (training data, metrics, ...) and architecture as HTML."""
    parts = [f"<h2>{html.escape(info.name)}</h2>", f"<p><tt>{html.escape(info.path)}</tt></p>",
             f"<p>{info.k_cell} cell prototypes, {info.k_bg} background prototypes; trained at cells of "
             f"{info.cell_diameter_px:g} px. Gallery: {'yes' if info.gallery_patches is not None else 'none'}.</p>"]
    provenance = {k: v for k, v in info.provenance.items() if k != "name"}
    parts.append("<h3>Provenance</h3>" + (_value_html(provenance) if provenance else "<p>The file records none.</p>"))
    parts.append("<h3>Architecture</h3>" + _value_html(info.config))
    parts.append("<h3>Preprocessing</h3>" + _value_html(info.preprocessing))
    return "".join(parts)


class TextDialog(QDialog):
    def __init__(self, title: str, body_html: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(560, 480)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(False)
        self.browser.setHtml(body_html)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)


def shortcuts_html(actions: dict) -> str:
    rows = "".join(f"<tr><td>{html.escape(a.text().replace('&', ''))}</td>"
                   f"<td><b>{a.shortcut().toString()}</b></td></tr>"
                   for a in actions.values() if not a.shortcut().isEmpty())
    extra = ("<tr><td>Previous / next image (image list focused)</td><td><b>Up / Down</b></td></tr>"
             "<tr><td>Zoom / pan</td><td><b>Mouse wheel / drag</b></td></tr>")
    return f"<h3>Keyboard shortcuts</h3><table cellpadding='3'>{rows}{extra}</table>"


def versions() -> dict[str, str]:
    """Versions read from package metadata: nothing heavy is imported to show them."""
    from PySide6 import QtCore

    found = {APP_NAME: __version__, "Python": platform.python_version(), "Qt": QtCore.qVersion()}
    for package in ("PySide6-Essentials", "pyqtgraph", "torch", "numpy", "superqt"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def about_html() -> str:
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in versions().items())
    return (f"<h3>{APP_NAME} {__version__}</h3><p>Counts cells with CountXplain prototype density maps and shows "
            f"why. Runs offline: it never uses the network.</p><table cellpadding='2'>{rows}</table>")


def show_error(parent: QWidget, title: str, message: str) -> QMessageBox:
    """A non-blocking (window-modal) error box with the reason."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorBox")
    box.open()
    return box
