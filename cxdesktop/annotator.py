"""Dot annotation of the image on screen: applies the dot layer's and the panel's requests.

The ``Annotator`` keeps each image's ``DotAnnotation`` in its ``ImageEntry`` (read from
the sidecar the first time the image is shown, so reopening an image restores its dots),
applies edits (each saved at once, atomically, by ``DotAnnotation``), and refreshes the
dot layer and the Annotate tab. New dots get the counter type chosen in the tab
(``DotTypeControl``). Proposing dots from the density map is numpy work on a possibly large
image: it runs in the job runner, tagged with the image, and lands only on the image it was
asked for.

Every change first asks whether the image may be changed: an image that cannot be read is not
annotated (the reason shown), and a sample shipped with the app is copied to the user's data
folder first, the list then holding the copy (``shipped_samples``), so the install folder is
never written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from countxplain.annotations import read_dot_types
from countxplain.errors import CountXplainError

from .dialogs import show_error
from .dot_type_control import DotTypeControl
from .dots import DotAnnotation
from .jobs import INTERACTIVE
from .shipped_samples import copy_for_editing, is_shipped
from .store import ERROR, ImageEntry
from .views.dot_layer import DotLayer

DEFAULT_DIAMETER_PX = 10.0
DOT_FILES = "Dot files (*.csv *.png *.tif *.tiff *.bmp);;CSV x,y (*.csv);;Dot-mask images (*.png *.tif *.tiff *.bmp)"


class Annotator(QObject):
    sigDotsChanged = Signal(str)  # the image whose dots changed (and were saved, or failed to)
    sigMessage = Signal(str, bool)  # a message the user must see (the status bar), whether it is an error

    def __init__(self, session, image_view, panel, settings, parent: QWidget) -> None:
        super().__init__(parent)
        self.session = session
        self.panel = panel
        self.settings = settings
        self.parent_widget = parent
        self.layer = DotLayer(image_view, self)
        self.image_view = image_view
        self.entry: ImageEntry | None = None
        self.type_control = DotTypeControl(self, panel.type_picker, settings)
        self.types = self.type_control.types
        self._save_failing = False
        layer = self.layer
        layer.sigAddRequested.connect(self.add)
        layer.sigRemoveRequested.connect(self.remove)
        layer.sigEraseStarted.connect(self._start_stroke)
        layer.sigErase.connect(self._erase)
        layer.sigEraseFinished.connect(self._finish_stroke)
        layer.sigMoveRequested.connect(self.move)
        layer.sigTypeKeyPressed.connect(self.type_key)
        panel.sigUndo.connect(self.undo)
        panel.sigRedo.connect(self.redo)
        panel.sigPropose.connect(self.propose)
        panel.sigClear.connect(lambda: self._apply(lambda a: a.replace(np.zeros((0, 2)))))
        panel.sigImport.connect(lambda: self.import_dots())
        panel.sigExport.connect(lambda: self.export_dots())

    # ---- the image on screen ----
    def set_entry(self, entry: ImageEntry | None) -> None:
        self.entry = entry
        if entry is not None and entry.dots is None:
            entry.dots = DotAnnotation.open(entry.path)
        if entry is not None:
            self.type_control.learn(entry.dots.types)
        self._save_failing = False
        self.refresh()

    def annotation(self) -> DotAnnotation | None:
        return self.entry.dots if self.entry is not None else None

    def diameter(self) -> float:
        """Marker size and eraser size: the image's cell diameter (given, or estimated when counted),
        else the model's, in image pixels."""
        if self.entry is not None and self.entry.cell_diameter_px:
            return float(self.entry.cell_diameter_px)
        counted = getattr(getattr(self.entry, "analysis", None), "result", None)
        if counted is not None and (counted.cell_diameter_px or counted.estimated_diameter_px):
            return float(counted.cell_diameter_px or counted.estimated_diameter_px)
        model = self.session.model
        return float(model.cell_diameter_px) if model is not None else DEFAULT_DIAMETER_PX

    def refresh(self) -> None:
        annotation = self.annotation()
        self.layer.set_diameter(self.diameter())
        if annotation is None:
            self.layer.set_dots(np.zeros((0, 2)))
        else:
            self.layer.set_dots(annotation.dots, [self.types.color(t) for t in annotation.types])
        self._show_state()

    def _show_state(self) -> None:
        annotation = self.annotation()
        colors = {name: self.types.color(name) for name in (annotation.types if annotation is not None else [])}
        self.panel.show_state(annotation, self.entry.count if self.entry else None, self.diameter(), colors,
                              self.refusal(self.entry))

    def refusal(self, entry: ImageEntry | None) -> str | None:
        """Why the dots of ``entry`` cannot change (None: they can)."""
        if entry is not None and entry.status == ERROR and self.session.pixels(entry.path) is None:
            return f"{entry.name} cannot be read, so it cannot be annotated: {entry.error}"
        return None

    def may_annotate(self) -> bool:
        """Whether annotate mode may start on the image on screen; if not, says why where it is seen."""
        reason = self.refusal(self.entry)
        if reason:
            self.sigMessage.emit(reason, True)
            self._show_state()
        return reason is None

    def writable(self, entry: ImageEntry) -> DotAnnotation | None:
        """The annotation of ``entry`` ready to change: None (and the reason shown) for an image that cannot
        be read; a shipped sample is first copied to the data folder and listed from there."""
        reason = self.refusal(entry)
        if reason:
            self.sigMessage.emit(reason, True)
            return None
        if is_shipped(entry.path):
            old = entry.path
            try:
                copy = copy_for_editing(old, self.settings.data_folder())
            except OSError as error:
                self.sigMessage.emit(f"The sample could not be copied for editing ({error.strerror or error}), "
                                     "so its dots stay as shipped.", True)
                return None
            self.session.move_entry(old, str(copy))
            self.sigMessage.emit(f"{entry.name} ships with the app, so it was copied to {copy.parent} "
                                 "and its dots are saved there; the list now shows the copy.", False)
        if entry.dots is None:
            entry.dots = DotAnnotation.open(entry.path)
        return entry.dots

    # ---- edits ----
    def add(self, x: float, y: float) -> None:
        if self.annotation() is None or not self._inside(x, y):
            return
        dot_type = self.types.current
        self._apply(lambda a: a.add(x, y, dot_type))

    def move(self, index: int, x: float, y: float) -> None:
        """Move a dot to (x, y), kept inside the image; one undo step."""
        if self.annotation() is None or not 0 <= index < len(self.annotation()):
            return
        if self.entry.width and self.entry.height:
            x, y = min(max(x, -0.5), self.entry.width - 0.5), min(max(y, -0.5), self.entry.height - 0.5)
        self._apply(lambda a: a.move(index, x, y))

    def set_type(self, index: int, dot_type: str) -> None:
        """Give a placed dot another counter type; one undo step, saved in the dot file's type column."""
        if self.annotation() is None or not 0 <= index < len(self.annotation()):
            return
        self._apply(lambda a: a.set_type(index, dot_type))

    def type_key(self, index: int, number: int) -> None:
        """Number key ``number`` on the canvas: the dot under the pointer (``index``) gets the list's type of that
        number, or, with no dot there, new dots do."""
        names = self.types.names
        if number > len(names):
            self.sigMessage.emit(f"There is no counter type {number}: the list has {len(names)}.", True)
            return
        if index < 0:
            self.type_control.choose(names[number - 1])
        else:
            self.set_type(index, names[number - 1])

    def remove(self, x: float, y: float) -> None:
        annotation = self.annotation()
        if annotation is not None and annotation.nearest(x, y, self.layer.radius) is not None:
            self._apply(lambda a: a.remove_near(x, y, self.layer.radius))

    def undo(self) -> None:
        if self.annotation() is not None and self.annotation().can_undo():
            self._apply(lambda a: a.undo())

    def redo(self) -> None:
        if self.annotation() is not None and self.annotation().can_redo():
            self._apply(lambda a: a.redo())

    def _start_stroke(self) -> None:
        if self.entry is not None and self.writable(self.entry) is not None:
            self.annotation().begin_stroke()

    def _erase(self, x: float, y: float) -> None:
        annotation = self.annotation()
        if annotation is not None and not self.refusal(self.entry) and annotation.erase(x, y, self.layer.radius):
            self.refresh()

    def _finish_stroke(self) -> None:
        if self.annotation() is not None:
            self._apply(lambda a: a.end_stroke())

    def _inside(self, x: float, y: float) -> bool:
        entry = self.entry
        if not entry.width or not entry.height:
            return True
        return -0.5 <= x <= entry.width - 0.5 and -0.5 <= y <= entry.height - 0.5

    def _apply(self, change) -> bool:
        """Run one change on the annotation (it saves itself), then redraw and report a failed save; False if
        the image may not be changed."""
        if self.entry is None or self.writable(self.entry) is None:
            return False
        annotation = self.annotation()
        change(annotation)
        self.refresh()
        if annotation.save_error and not self._save_failing:
            show_error(self.parent_widget, "Dots not saved", f"{annotation.save_error}\n\nThe dots stay in memory; "
                       "every further change tries to save them again.")
        self._save_failing = bool(annotation.save_error)
        self.sigDotsChanged.emit(str(annotation.image_path))
        return True

    # ---- from the model ----
    def propose(self) -> None:
        """Replace the dots by round(count) dots at the density peaks (in the job runner; undoable)."""
        entry = self.entry
        if entry is None or entry.analysis is None or entry.count is None:
            return
        from .peaks import propose_dots

        result, path, diameter = entry.analysis.result, entry.path, self.diameter()
        self.panel.set_status("Proposing dots from the density map…")
        self.session.submit_job(
            "propose-dots", lambda ctx: propose_dots(result.density, result.cell_px, result.image_shape,
                                                     result.count, diameter),
            path, INTERACTIVE, ok=lambda dots: self._proposed(path, dots),
            error=lambda message: show_error(self.parent_widget, "Propose dots", message))

    def _proposed(self, path: str, dots: np.ndarray) -> None:
        entry = self.session.store.get(path)
        if entry is None or entry.dots is None:
            return
        dot_type = self.types.current
        if entry is self.entry:
            self._apply(lambda a: a.replace(dots, dot_type=dot_type))
        elif self.writable(entry) is not None:  # the user moved on: the proposal still belongs to its own image
            entry.dots.replace(dots, dot_type=dot_type)
            self.sigDotsChanged.emit(entry.path)

    # ---- files ----
    def import_dots(self, path: str | Path | None = None) -> bool:
        """Replace the dots with those of a CSV (x,y, or x,y,type) or a dot-mask image; undoable."""
        entry = self.entry
        if entry is None:
            return False
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.parent_widget, "Import dots", str(Path(entry.path).parent),
                                                  DOT_FILES)
            if not path:
                return False
        shape = (entry.height, entry.width) if entry.width else None
        try:
            dots, types = read_dot_types(path, image_shape=shape)
        except (CountXplainError, OSError) as error:
            show_error(self.parent_widget, "Cannot import these dots", str(error))
            return False
        self.type_control.learn(types)
        if not self._apply(lambda a: a.replace(dots, types)):
            return False
        self.panel.set_status(f"Imported {len(dots)} dots from {Path(path).name}; saved in {entry.dots.sidecar.name}")
        return True

    def export_dots(self, path: str | Path | None = None) -> Path | None:
        annotation = self.annotation()
        if annotation is None:
            return None
        if path is None:
            start = str(Path(self.settings.last_folder) / annotation.sidecar.name)
            path, _ = QFileDialog.getSaveFileName(self.parent_widget, "Export dots", start, "CSV files (*.csv)")
            if not path:
                return None
        try:
            written = annotation.export_csv(path)
        except OSError as error:
            show_error(self.parent_widget, "Export dots", f"{path}: {error.strerror or error}")
            return None
        self.panel.set_status(f"{len(annotation)} dots written to {written}")
        return written
