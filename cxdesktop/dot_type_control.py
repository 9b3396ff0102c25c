"""The counter types of the Annotate tab: the user's list (kept in the settings), the one chosen for new
dots, a new type, and a rename carried into the dot file of every listed image that uses the old name."""

from __future__ import annotations

from PySide6.QtCore import QObject

from .dialogs import show_error
from .dot_types import DotTypes
from .dots import DotAnnotation


class DotTypeControl(QObject):
    def __init__(self, annotator, picker, settings) -> None:
        super().__init__(annotator)
        self.annotator, self.picker, self.settings = annotator, picker, settings
        self.types = DotTypes(settings.dot_types)
        picker.sigTypeChosen.connect(self.choose)
        picker.sigTypeAddRequested.connect(self.add)
        picker.sigTypeRenameRequested.connect(self.rename)
        self._show()

    def _show(self) -> None:
        names = self.types.names
        self.picker.set_types(names, [self.types.color(n) for n in names], self.types.current)

    def _changed(self) -> None:
        self.settings.dot_types = self.types.names
        self._show()
        self.annotator.refresh()

    def learn(self, names) -> None:
        """Types met in a dot file join the list (with their own colours)."""
        if self.types.learn(names):
            self._changed()

    def choose(self, name: str) -> None:
        self.types.choose(name)
        self._show()

    def add(self, name: str) -> bool:
        try:
            self.types.add(name)
        except ValueError as error:
            show_error(self.annotator.parent_widget, "New counter type", str(error))
            return False
        self._changed()
        self.annotator.sigMessage.emit(f"New dots are now of type '{self.types.current}'.", False)
        return True

    def rename(self, old: str, new: str) -> bool:
        """Rename a type in the list and in the dots of every listed image (each one undo step there)."""
        try:
            new = self.types.rename(old, new)
        except ValueError as error:
            show_error(self.annotator.parent_widget, "Rename counter type", str(error))
            return False
        images = 0
        for entry in self.annotator.session.store.entries():
            dots = entry.dots if entry.dots is not None else DotAnnotation.open(entry.path)
            if old not in dots.types:
                continue
            if entry.dots is None:
                entry.dots = dots
            annotation = self.annotator.writable(entry)
            if annotation is not None:
                annotation.rename_type(old, new)
                images += 1
                self.annotator.sigDotsChanged.emit(entry.path)
        self._changed()
        self.annotator.sigMessage.emit(f"Renamed '{old}' to '{new}'" + (f" in the dots of {images} image(s)."
                                                                        if images else "."), False)
        return True
