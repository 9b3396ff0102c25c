"""Export actions: ask where (unless told), then write through ``export`` or the job runner."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from .dialogs import show_error
from .explain_batch import BatchOutcome, ExplainBatch
from .export import count_rows, save_density, write_counts_csv
from .store import ERROR


class Exporter:
    """Counts CSV and density maps are written here (small, GUI thread, atomic); explanation
    figures run the model, so they go to the worker through the session."""

    def __init__(self, session, settings, parent: QWidget) -> None:
        self.session = session
        self.settings = settings
        self.parent = parent
        self.last_written: Path | None = None
        self.explain_batch: ExplainBatch | None = None  # the latest export of every image's figure

    def _ask_folder(self, title: str) -> str:
        """A folder the user chooses ("" when the dialog is cancelled)."""
        return QFileDialog.getExistingDirectory(self.parent, title, self.settings.last_folder)

    def _ask(self, title: str, name: str, filters: str) -> Path | None:
        start = str(Path(self.settings.last_folder) / name)
        chosen, _ = QFileDialog.getSaveFileName(self.parent, title, start, filters)
        return Path(chosen) if chosen else None

    def export_counts(self, path: str | Path | None = None) -> Path | None:
        path = Path(path) if path else self._ask("Export counts", "counts.csv", "CSV files (*.csv)")
        if path is None:
            return None
        model = self.session.model
        rows = count_rows(self.session.store.entries(), model.name if model else "", model.path if model else "",
                          model.cell_diameter_px if model else None, self.session.folder_pixel_sizes)
        try:
            self.last_written = write_counts_csv(path, rows)
        except OSError as error:
            show_error(self.parent, "Export counts", f"{path}: {error.strerror or error}")
            return None
        self._done(path, f"Counts of {len(self.session.store)} image(s) written to {path}")
        return path

    def export_density(self, path: str | Path | None = None) -> Path | None:
        entry = self.session.store.get(self.session.current) if self.session.current else None
        if entry is None or entry.analysis is None:
            show_error(self.parent, "Export density map", "The current image has no count yet.")
            return None
        path = Path(path) if path else self._ask("Export density map", Path(entry.name).stem + "_density.tif",
                                                 "TIFF (*.tif *.tiff);;NumPy array (*.npy)")
        if path is None:
            return None
        try:
            self.last_written = save_density(path, entry.analysis)
        except (OSError, ValueError) as error:
            show_error(self.parent, "Export density map", f"{path}: {error}")
            return None
        self._done(path, f"Density map written to {path}")
        return path

    def export_figure(self, out_dir: str | Path | None = None) -> bool:
        """Queue the explanation figure of the current image; the session reports when it is written."""
        path = self.session.current
        if path is None:
            show_error(self.parent, "Explanation figure", "Select an image first.")
            return False
        if out_dir is None:
            out_dir = self._ask_folder("Folder for the explanation figure")
        if not out_dir:
            return False
        self.session.write_explanation(path, str(out_dir))
        return True

    def export_all_figures(self, out_dir: str | Path | None = None) -> ExplainBatch | None:
        """Queue the explanation figure of every listed image that could be read and counted, each under
        a name of its own; the status bar says when all are written, and an error box lists any that failed."""
        store = self.session.store
        paths = [p for p in store.paths() if store[p].status != ERROR]
        if not paths:
            show_error(self.parent, "Explanation figures", "Open images first: no listed image could be counted.")
            return None
        if out_dir is None:
            out_dir = self._ask_folder("Folder for the explanation figures")
        if not out_dir:
            return None
        batch = ExplainBatch(self.session, paths, out_dir, self.parent)
        batch.sigProgress.connect(lambda done, total: self._show(f"Explanation figures: {done} of {total} images…"))
        batch.sigFinished.connect(self._figures_done)
        self.explain_batch = batch
        batch.start()
        self._show(f"Explanation figures: 0 of {len(paths)} images…")
        return batch

    def _figures_done(self, outcome: BatchOutcome) -> None:
        self.settings.last_folder = outcome.folder
        self._show(outcome.message(), 15000)
        if outcome.failed:
            show_error(self.parent, "Explanation figures", outcome.failure_report())

    def _done(self, path: Path, message: str) -> None:
        self.settings.last_folder = str(path.parent)
        self._show(message)

    def _show(self, message: str, timeout: int = 8000) -> None:
        status = getattr(self.parent, "statusBar", None)
        if status is not None:
            status().showMessage(message, timeout)
