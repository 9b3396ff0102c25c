"""The Annotate tab: the dot count (per counter type) beside the model's count, the annotate mode, the type
new dots get, and the dot actions.

Buttons only emit (``sig…``); the annotator does the work and calls ``show_state``.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from .dot_type_picker import DotTypePicker

HINT = ("<b>Annotate mode (A)</b>: click to place a dot of the chosen type on a cell · drag a dot to move it · "
        "point at a dot and press 1–9 to give it that type (with no dot there, new dots get it) · "
        "right-click or Shift+click removes the nearest dot · Shift+drag erases · a drag elsewhere pans, the wheel "
        "zooms · Ctrl+Z / Ctrl+Shift+Z undo / redo."
        "<br>Dots are saved beside the image as <tt>&lt;name&gt;.dots.csv</tt> at every change "
        "(<tt>&lt;name&gt;.&lt;ext&gt;.dots.csv</tt> where two images share a name).")
ERROR_STYLE = "color: #c81e1e;"
MUTED_STYLE = "color: gray;"


class AnnotationPanel(QWidget):
    sigUndo = Signal()
    sigRedo = Signal()
    sigPropose = Signal()
    sigClear = Signal()
    sigImport = Signal()
    sigExport = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.mode_button = QToolButton()
        self.mode_button.setObjectName("annotateMode")
        self.mode_button.setText("Annotate mode")
        self.mode_button.setCheckable(True)
        self.mode_button.setToolTip("Place and remove dots with the mouse (A)")
        self.dot_count = QLabel("No image")
        self.dot_count.setObjectName("dotCount")
        self.dot_count.setStyleSheet("font-size: 20px;")
        self.type_counts = QLabel("")
        self.type_counts.setObjectName("dotTypeCounts")
        self.type_counts.setWordWrap(True)
        self.type_picker = DotTypePicker()
        self.model_count = QLabel("")
        self.model_count.setObjectName("dotModelCount")
        self.marker = QLabel("")
        self.marker.setStyleSheet(MUTED_STYLE)
        self.undo_button, self.redo_button = QPushButton("Undo"), QPushButton("Redo")
        self.propose_button = QPushButton("Propose from model")
        self.propose_button.setToolTip("Replace the dots with round(count) dots at the peaks of the model's density "
                                       "map, to correct by hand")
        self.clear_button = QPushButton("Remove all")
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Read dots from a CSV file (x,y) or a dot-mask PNG (red or binary dots)")
        self.export_button = QPushButton("Export CSV…")
        self.status = QLabel("")
        self.status.setObjectName("dotStatus")
        self.status.setWordWrap(True)
        hint = QLabel(HINT)
        hint.setWordWrap(True)
        hint.setStyleSheet(MUTED_STYLE)

        top = QHBoxLayout()
        top.addWidget(self.dot_count, 1)
        top.addWidget(self.mode_button)
        grid = QGridLayout()
        for i, button in enumerate((self.undo_button, self.redo_button, self.propose_button, self.clear_button,
                                    self.import_button, self.export_button)):
            grid.addWidget(button, i // 2, i % 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.type_counts)
        layout.addWidget(self.type_picker)
        layout.addWidget(self.model_count)
        layout.addWidget(self.marker)
        layout.addLayout(grid)
        layout.addWidget(self.status)
        layout.addWidget(hint)
        for button, signal in ((self.undo_button, self.sigUndo), (self.redo_button, self.sigRedo),
                               (self.propose_button, self.sigPropose), (self.clear_button, self.sigClear),
                               (self.import_button, self.sigImport), (self.export_button, self.sigExport)):
            button.clicked.connect(signal)
        self.show_state(None)

    def show_state(self, annotation, model_count: float | None = None, diameter: float | None = None,
                   colors: dict[str, str] | None = None, refusal: str | None = None) -> None:
        """The current image's annotation (None: no image), the model's count, the marker size, each type's
        colour, and why this image cannot be annotated (None: it can)."""
        has = annotation is not None
        editable = has and not refusal
        for button in (self.clear_button, self.import_button):
            button.setEnabled(editable)
        self.export_button.setEnabled(has)
        self.undo_button.setEnabled(editable and annotation.can_undo())
        self.redo_button.setEnabled(editable and annotation.can_redo())
        self.propose_button.setEnabled(editable and model_count is not None)
        if not has:
            self.dot_count.setText("No image")
            self.model_count.setText("")
            self.marker.setText("")
            self.type_counts.setText("")
            self.set_status(refusal or "", error=bool(refusal))
            return
        n = len(annotation)
        self.dot_count.setText(f"{n} dot{'s' if n != 1 else ''}")
        self.type_counts.setText(type_counts_html(annotation.type_counts(), colors or {}))
        if model_count is None:
            self.model_count.setText("Model: not counted yet")
        else:
            self.model_count.setText(f"Model: {model_count:.1f} cells  (dots − model: {n - model_count:+.1f})")
        if diameter:
            self.marker.setText(f"Markers {diameter:.3g} px wide: the cell diameter (Image tab)")
        if refusal:
            self.set_status(refusal, error=True)
        elif annotation.load_error:
            self.set_status(f"Could not read the saved dots: {annotation.load_error}\nThe file is left as it is: "
                            f"your first change keeps it as a copy beside the image and starts a new "
                            f"{annotation.sidecar.name}.", error=True)
        elif annotation.save_error:
            self.set_status(f"Not saved: {annotation.save_error}", error=True)
        elif annotation.notice:
            self.set_status(annotation.notice, error=True)
        elif annotation.sidecar.exists():
            self.set_status(f"Saved in {annotation.sidecar.name}")
        else:
            self.set_status("No dots saved for this image yet.")

    def set_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(ERROR_STYLE if error else MUTED_STYLE)


def type_counts_html(counts: dict[str, int], colors: dict[str, str]) -> str:
    """'● cell 10 · ● dividing 2', each dot in its type's colour (empty when there are no dots)."""
    from html import escape

    return " · ".join(f'<span style="color: {colors.get(name, "gray")};">●</span> {escape(name)} {n}'
                      for name, n in counts.items())
