"""Dot annotation of the image on screen: applies the dot layer's and the panel's requests.

The ``Annotator`` keeps each image's ``DotAnnotation`` in its ``ImageEntry`` (read from
the sidecar the first time the image is shown, so reopening an image restores its dots),
applies edits (each saved at once, atomically, by ``DotAnnotation``), and refreshes the
dot layer and the Annotate tab. Proposing dots from the density map is numpy work on a
possibly large image: it runs in the job runner, tagged with the image, and lands only
on the image it was asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from countxplain.annotations import read_dots
from countxplain.errors import CountXplainError

from .dialogs import show_error
from .dots import DotAnnotation
from .jobs import INTERACTIVE
from .store import ImageEntry
from .views.dot_layer import DotLayer

DEFAULT_DIAMETER_PX = 10.0
DOT_FILES = "Dot files (*.csv *.png *.tif *.tiff *.bmp);;CSV x,y (*.csv);;Dot-mask images (*.png *.tif *.tiff *.bmp)"


class Annotator(QObject):
    sigDotsChanged = Signal(str)  # the image whose dots changed (and were saved, or failed to)

    def __init__(self, session, image_view, panel, settings, parent: QWidget) -> None:
        super().__init__(parent)
        self.session = session
        self.panel = panel
        self.settings = settings
        self.parent_widget = parent
        self.layer = DotLayer(image_view, self)
        self.entry: ImageEntry | None = None
        self._save_failing = False
        layer = self.layer
        layer.sigAddRequested.connect(self.add)
        layer.sigRemoveRequested.connect(self.remove)
        layer.sigEraseStarted.connect(self._start_stroke)
        layer.sigErase.connect(self._erase)
        layer.sigEraseFinished.connect(self._finish_stroke)
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
        self.layer.set_dots(annotation.dots if annotation is not None else np.zeros((0, 2)))
        self.panel.show_state(annotation, self.entry.count if self.entry else None, self.diameter())

    # ---- edits ----
    def add(self, x: float, y: float) -> None:
        if self.annotation() is None or not self._inside(x, y):
            return
        self._apply(lambda a: a.add(x, y))

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
        if self.annotation() is not None:
            self.annotation().begin_stroke()

    def _erase(self, x: float, y: float) -> None:
        annotation = self.annotation()
        if annotation is not None and annotation.erase(x, y, self.layer.radius):
            self.layer.set_dots(annotation.dots)
            self.panel.show_state(annotation, self.entry.count, self.diameter())

    def _finish_stroke(self) -> None:
        if self.annotation() is not None:
            self._apply(lambda a: a.end_stroke())

    def _inside(self, x: float, y: float) -> bool:
        entry = self.entry
        if not entry.width or not entry.height:
            return True
        return -0.5 <= x <= entry.width - 0.5 and -0.5 <= y <= entry.height - 0.5

    def _apply(self, change) -> None:
        """Run one change on the annotation (it saves itself), then redraw and report a failed save."""
        annotation = self.annotation()
        if annotation is None:
            return
        change(annotation)
        self.refresh()
        if annotation.save_error and not self._save_failing:
            show_error(self.parent_widget, "Dots not saved", f"{annotation.save_error}\n\nThe dots stay in memory; "
                       "every further change tries to save them again.")
        self._save_failing = bool(annotation.save_error)
        self.sigDotsChanged.emit(str(annotation.image_path))

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
        if entry is self.entry:
            self._apply(lambda a: a.replace(dots))
        else:  # the user moved on: the proposal still belongs to its own image
            entry.dots.replace(dots)
            self.sigDotsChanged.emit(path)

    # ---- files ----
    def import_dots(self, path: str | Path | None = None) -> bool:
        """Replace the dots with those of a CSV (x,y) or a dot-mask image; undoable."""
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
            dots = read_dots(path, image_shape=shape)
        except (CountXplainError, OSError) as error:
            show_error(self.parent_widget, "Cannot import these dots", str(error))
            return False
        self._apply(lambda a: a.replace(dots))
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
