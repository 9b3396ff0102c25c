"""View › Batch summary: the counts of all listed, counted images in one window.

Top plot: one point per image, in list order, coloured by parent folder. Bottom plot: each
folder's mean ± SD (error bars) with its images' counts beside it. A line above says
"n images, mean ± SD, min–max". Counts come from the session's stored results (no tensor work
here); the window follows the list, coalescing bursts of changes with a short timer.
Both exports are written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..batch_summary import by_folder, counted, summary_line, write_csv
from ..dialogs import show_error

MAX_TICKS = 24  # more images or folders than this: numbered axis instead of names
TICK_CHARS = 16


def short(text: str, chars: int = TICK_CHARS) -> str:
    """Shortened in the middle, as the image list does."""
    if len(text) <= chars:
        return text
    head = (chars - 1) // 2
    return text[:head] + "…" + text[len(text) - (chars - 1 - head):]


def _plot(title: str, left: str) -> pg.PlotWidget:
    plot = pg.PlotWidget(background="w")
    plot.setTitle(title, color="k", size="10pt")
    plot.setLabel("left", left)
    plot.showGrid(y=True, alpha=0.25)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    plot.setMinimumHeight(180)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).setTextPen("k")
        plot.getAxis(axis).setPen("k")
    return plot


def _axes(plot: pg.PlotWidget, names: list[str], top: float) -> None:
    """Names under the points (numbers when there are many), half a step of room at either end so
    that the first and last names are drawn whole, and counts from 0."""
    axis = plot.getAxis("bottom")
    if len(names) <= MAX_TICKS:
        axis.setTicks([[(i, short(name)) for i, name in enumerate(names)]])
    else:
        axis.setTicks(None)
    plot.setXRange(-0.6, max(len(names) - 0.4, 0.6), padding=0)
    plot.setYRange(0, max(top, 1.0) * 1.08, padding=0)


def folder_colour(index: int):
    return pg.intColor(index, hues=9, values=1, maxValue=200)


class BatchView(QWidget):
    """``paths()`` gives the listed images in list order; ``session.store`` holds their counts."""

    def __init__(self, session, paths, settings=None, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("batchView")
        self.session, self.paths, self.settings = session, paths, settings
        self.rows, self.folders = [], []
        self.last_written: Path | None = None
        self.line = QLabel("")
        self.line.setObjectName("batchLine")
        self.line.setStyleSheet("font-size: 14px; font-weight: bold;")
        self.image_plot = _plot("Count per image (list order)", "cells")
        self.folder_plot = _plot("Per folder: mean ± SD", "cells")
        self.image_points = pg.ScatterPlotItem(size=10, pen=pg.mkPen("k", width=0.5), hoverable=True)
        self.image_plot.addItem(self.image_points)
        self.folder_errors = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), beam=0.2, pen=pg.mkPen("k", width=1.5))
        self.folder_means = pg.ScatterPlotItem(size=14, symbol="s", pen=pg.mkPen("k", width=1), hoverable=True)
        self.folder_members = pg.ScatterPlotItem(size=6, pen=None)
        for item in (self.folder_members, self.folder_errors, self.folder_means):
            self.folder_plot.addItem(item)
        self.png_button = QPushButton("Export PNG…")
        self.csv_button = QPushButton("Export CSV…")
        self.png_button.clicked.connect(lambda: self.export_png())
        self.csv_button.clicked.connect(lambda: self.export_csv())
        self._layout()
        self._timer = QTimer(self, singleShot=True, interval=150)
        self._timer.timeout.connect(self.refresh)
        for signal in (session.sigEntryChanged, session.sigEntriesAdded, session.sigEntriesRemoved):
            signal.connect(self.schedule)
        self.refresh()

    def schedule(self, *_args) -> None:
        """Refresh soon: a batch of counts arriving together redraws once."""
        self._timer.start()

    def _layout(self) -> None:
        self.figure = QWidget()  # what Export PNG… draws: the line and both plots
        self.figure.setObjectName("batchFigure")
        self.figure.setStyleSheet("#batchFigure { background: white; } QLabel { color: black; }")
        figure = QVBoxLayout(self.figure)
        figure.addWidget(self.line)
        figure.addWidget(self.image_plot, 3)
        figure.addWidget(self.folder_plot, 2)
        self.written = QLabel("")
        self.written.setObjectName("batchWritten")
        self.written.setStyleSheet("color: gray;")
        buttons = QHBoxLayout()
        buttons.addWidget(self.written, 1)
        buttons.addWidget(self.png_button)
        buttons.addWidget(self.csv_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.figure, 1)
        layout.addLayout(buttons)

    def refresh(self) -> None:
        store = self.session.store
        self.rows = counted(store.get(path) for path in self.paths())
        self.folders = by_folder(self.rows)
        self.line.setText(summary_line(self.rows))
        colour_of = {summary.folder: folder_colour(i) for i, summary in enumerate(self.folders)}
        self.image_points.setData(
            x=np.arange(len(self.rows), dtype=float), y=[row.count for row in self.rows],
            brush=[colour_of[row.folder] for row in self.rows], data=[row.path for row in self.rows],
            tip=lambda x, y, data: f"{Path(data).name}: {y:.1f} cells")
        _axes(self.image_plot, [row.image for row in self.rows], max((row.count for row in self.rows), default=0))
        self._draw_folders(colour_of)
        has_rows = bool(self.rows)
        self.png_button.setEnabled(has_rows)
        self.csv_button.setEnabled(has_rows)

    def _draw_folders(self, colour_of: dict) -> None:
        x = np.arange(len(self.folders), dtype=float)
        means = np.array([summary.stats.mean for summary in self.folders], dtype=float)
        sds = np.array([summary.stats.sd for summary in self.folders], dtype=float)
        self.folder_errors.setData(x=x, y=means, height=2 * sds)
        self.folder_means.setData(
            x=x, y=means, brush=[colour_of[summary.folder] for summary in self.folders],
            data=[summary.folder for summary in self.folders],
            tip=lambda x, y, data: f"{data}: mean {y:.1f}")
        index = {summary.folder: i for i, summary in enumerate(self.folders)}
        faint = {folder: pg.mkBrush(c.red(), c.green(), c.blue(), 140) for folder, c in colour_of.items()}
        self.folder_members.setData(
            x=[index[row.folder] + 0.22 for row in self.rows], y=[row.count for row in self.rows],
            brush=[faint[row.folder] for row in self.rows])
        top = max([row.count for row in self.rows] + list(means + sds) + [0.0])
        _axes(self.folder_plot, [f"{summary.name} (n={summary.stats.n})" for summary in self.folders], top)

    # ---- exports ----
    def _ask(self, title: str, name: str, filters: str) -> Path | None:
        start = str(Path(self.settings.last_folder) / name) if self.settings is not None else name
        chosen, _ = QFileDialog.getSaveFileName(self, title, start, filters)
        return Path(chosen) if chosen else None

    def export_csv(self, path: str | Path | None = None) -> Path | None:
        path = Path(path) if path else self._ask("Export batch summary", "batch_counts.csv", "CSV files (*.csv)")
        if path is None:
            return None
        try:
            self.last_written = write_csv(path, self.rows)
        except OSError as error:
            show_error(self, "Export batch summary", f"{path}: {error.strerror or error}")
            return None
        return self._done(path)

    def export_png(self, path: str | Path | None = None) -> Path | None:
        path = Path(path) if path else self._ask("Export batch plot", "batch_counts.png", "PNG images (*.png)")
        if path is None:
            return None
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        self.figure.grab().save(buffer, "PNG")
        buffer.close()
        from countxplain.annotations import atomic_write_bytes

        try:
            atomic_write_bytes(path, bytes(data.data()))
        except OSError as error:
            show_error(self, "Export batch plot", f"{path}: {error.strerror or error}")
            return None
        self.last_written = path
        return self._done(path)

    def _done(self, path: Path) -> Path:
        if self.settings is not None:
            self.settings.last_folder = str(path.parent)
        self.written.setText(f"Written: {short(str(path), 70)}")
        self.written.setToolTip(str(path))
        return path


def show_batch(window) -> QWidget:
    """The batch window of ``window`` (a MainWindow), made at first use and raised after."""
    batch = getattr(window, "batch_window", None)
    if batch is None:
        batch = QWidget(window, Qt.WindowType.Window)
        batch.setWindowTitle("Batch summary")
        batch.setObjectName("batchWindow")
        batch.view = BatchView(window.session, window.browser.paths_in_view_order, window.settings, batch)
        QVBoxLayout(batch).addWidget(batch.view)
        window.browser.proxy.layoutChanged.connect(batch.view.schedule)  # a sorted list: new order
        batch.resize(760, 620)
        window.batch_window = batch
    batch.view.refresh()
    batch.show()
    batch.raise_()
    return batch
