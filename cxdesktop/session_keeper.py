"""Work kept between runs: the listed images, their cell sizes and boxes, and the model in use are
saved (shortly after each change, and on quit) to ``session.json`` in the app's data folder; on the
next start the window offers to bring them back.

A saved session that cannot be read is named in one line and left alone; images that no longer
exist are skipped with a note.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from .session_file import SESSION_FILE_NAME, SavedImage, SavedSession, SessionFileError, read_session, write_session
from .store import Box

SAVE_DELAY_MS = 700  # changes within this time are saved together
log = logging.getLogger(__name__)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def offer_summary(saved: SavedSession) -> str:
    """What a saved session holds, in a line: images, boxes, measured sizes, model."""
    images = saved.images
    folders = {str(Path(image.path).parent) for image in images}
    details = [f"{sum(1 for i in images if i.boxes)} with boxes",
               f"{sum(1 for i in images if i.cell_diameter_px)} with a cell size set"]
    text = f"{_plural(len(images), 'image')} from {_plural(len(folders), 'folder')} ({', '.join(details)})"
    return text + (f", model {Path(saved.model).name}." if saved.model else ".")


def skipped_note(restored: int, missing: list[str], missing_model: str | None) -> str:
    parts = [f"Restored {_plural(restored, 'image')}."]
    if missing:
        names = ", ".join(Path(p).name for p in missing[:3]) + (", …" if len(missing) > 3 else "")
        parts.append(f"Skipped {_plural(len(missing), 'image')} that no longer exist: {names}.")
    if missing_model:
        parts.append(f"The model {missing_model} no longer exists; the current model stays in use.")
    return " ".join(parts)


class SessionKeeper(QObject):
    """Saves the window's work as it changes and offers the saved one back at start."""

    def __init__(self, window, banner) -> None:
        super().__init__(window)
        self.window, self.session, self.banner = window, window.session, banner
        self.path = window.settings.data_folder() / SESSION_FILE_NAME
        self.saved: SavedSession | None = None  # the previous run's session while it is on offer
        self.last_error = ""
        self._loading: str | None = None  # the model file asked for last
        self.session.sigModelLoading.connect(lambda path: setattr(self, "_loading", path))
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SAVE_DELAY_MS)
        self._timer.timeout.connect(self.save_now)
        for signal in (self.session.sigEntriesAdded, self.session.sigEntriesRemoved, self.session.sigModelLoaded,
                       window.box_tool.sigBoxesChanged, window.cell_size.sigDiameterChanged,
                       window.cell_size.sigApplyToFolder):
            signal.connect(self.schedule_save)
        banner.sigRestore.connect(self.restore)
        banner.sigDismissed.connect(self.decline)

    # ---- at start ----
    def offer_previous(self) -> None:
        """Read the previous run's session; offer it when it lists images, or say in one line why it cannot be read."""
        try:
            saved = read_session(self.path)
        except SessionFileError as error:
            log.warning("previous session ignored: %s", error)
            self.banner.note(f"The previous session could not be read and was ignored: {error}")
            return
        if saved is not None and saved.images:
            self.saved = saved
            self.banner.offer(offer_summary(saved))

    def decline(self) -> None:
        self.saved = None
        self.schedule_save()

    def restore(self) -> None:
        """List the saved images (with their cell sizes and boxes) and load the saved model."""
        saved, self.saved = self.saved, None
        if saved is None:
            return
        present = [image for image in saved.images if Path(image.path).is_file()]
        missing = [image.path for image in saved.images if not Path(image.path).is_file()]
        missing_model = self._restore_model(saved.model)
        by_path = {image.path: image for image in present}
        self.session.folder_pixel_sizes.update(saved.pixel_sizes)
        self.session.add_paths([image.path for image in present], prepare=lambda entry: _apply(by_path, entry))
        current = saved.current if saved.current in self.session.store else (present[0].path if present else None)
        if current:
            self.window.browser.select(current)
        if missing or missing_model:
            self.banner.note(skipped_note(len(present), missing, missing_model))
        self.schedule_save()

    def _restore_model(self, model: str | None) -> str | None:
        """Load the saved model unless it is the one in use; its path when it no longer exists."""
        if not model:
            return None
        if not Path(model).is_file():
            return model
        wanted = Path(model).resolve()
        if not any(p and Path(p).resolve() == wanted
                   for p in (self._loading, getattr(self.session.model, "path", None))):
            self.session.load_model(model, user=True)
        return None

    # ---- saving ----
    def schedule_save(self, *_args) -> None:
        self._timer.start()

    def snapshot(self) -> SavedSession:
        images = [SavedImage(e.path, e.cell_diameter_px, [(b.x0, b.y0, b.x1, b.y1) for b in
                                                          (box.normalised() for box in e.boxes)], e.page, e.channel)
                  for e in self.session.store.entries()]
        model = self.session.model.path if self.session.model is not None else None
        return SavedSession(images, model if model and Path(model).is_file() else None, self.session.current,
                            dict(self.session.folder_pixel_sizes))

    def save_now(self) -> str:
        """Write the session now; returns '' or the reason it could not be written."""
        self._timer.stop()
        snapshot = self.snapshot()
        if self.saved is not None and not snapshot.images:
            return ""  # the previous session is still on offer: an empty list does not replace it
        try:
            write_session(self.path, snapshot)
        except OSError as error:
            self.last_error = f"cannot save the session to {self.path}: {error.strerror or error}"
            log.warning("%s", self.last_error)
            return self.last_error
        self.last_error = ""
        return ""

    def confirm_quit(self) -> bool:
        """Save on quit; when that fails and boxes or cell sizes would be lost, ask before quitting."""
        error = self.save_now()
        if not error or not self.holds_work():
            return True
        return ask_quit_unsaved(self.window, error)

    def holds_work(self) -> bool:
        """Whether any listed image has boxes or a cell size set (what quitting must not drop silently)."""
        return any(e.boxes or e.cell_diameter_px for e in self.session.store.entries())


def ask_quit_unsaved(parent, error: str) -> bool:
    from PySide6.QtWidgets import QMessageBox

    answer = QMessageBox.warning(
        parent, "Quit without saving?", f"The boxes and cell sizes of this session were not saved ({error}). "
        "Quit anyway and lose them?", QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Cancel)
    return answer == QMessageBox.StandardButton.Discard


def _apply(saved: dict[str, SavedImage], entry) -> None:
    image = saved.get(entry.path)
    if image is not None:
        entry.cell_diameter_px = image.cell_diameter_px
        entry.boxes = [Box(*corners) for corners in image.boxes]
        entry.page, entry.channel = image.page, image.channel
