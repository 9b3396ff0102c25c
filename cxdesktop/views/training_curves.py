"""Live training curves: training loss and validation MAE per epoch, a progress bar and the time left.

Epochs are numbered across both stages (stage-2 epoch e is plotted at the last stage-1
epoch + e), with a line where stage 2 begins. The loss axis is logarithmic: stage 1's
density loss and stage 2's weighted total differ by orders of magnitude. Below the bar: the
time left (``training_eta``) and what the run did that its settings did not say
(``training_notes``: an early stop, an earlier best state kept).
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from ..training_eta import EtaEstimator, format_duration, run_plan
from ..training_job import weighted_loss
from ..training_notes import RunNotes

STAGE_COLORS = {"stage1": "#4e79a7", "stage2": "#f28e2b"}
STAGE_NAMES = {"stage1": "stage 1 (extractor)", "stage2": "stage 2 (prototypes)"}
MESSAGES = {"prepare": "Reading the annotated images…", "cache": "Computing the frozen features…",
            "gallery": "Building the prototype gallery…", "evaluate": "Counting the images with the new model…"}


def _plot(title: str, left: str) -> pg.PlotWidget:
    """A white plot whose title carries the colour key (a legend inside would hide points)."""
    plot = pg.PlotWidget(background="w")
    key = " ".join(f"<span style='color:{color}'>&#9679; {STAGE_NAMES[stage]}</span>"
                   for stage, color in STAGE_COLORS.items())
    plot.setTitle(f"<span style='color:#222'>{title}</span><br><span style='font-size:9pt'>{key}</span>",
                  size="11pt")
    plot.setLabel("left", left)
    plot.setLabel("bottom", "epoch")
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setMinimumHeight(180)
    return plot


class TrainingCurves(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.loss_plot = _plot("Training loss", "loss (log)")
        self.loss_plot.setLogMode(y=True)
        self.mae_plot = _plot("Validation MAE", "cells per image")
        self.curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        for plot, kind in ((self.loss_plot, "loss"), (self.mae_plot, "mae")):
            for stage, color in STAGE_COLORS.items():
                item = plot.plot([], [], pen=pg.mkPen(color, width=2), symbol="o", symbolSize=5,
                                 symbolBrush=color, symbolPen=None)
                self.curves[(kind, stage)] = item
        self.stage_lines = [pg.InfiniteLine(angle=90, pen=pg.mkPen("#888", style=pg.QtCore.Qt.PenStyle.DashLine))
                            for _ in range(2)]
        for plot, line in zip((self.loss_plot, self.mae_plot), self.stage_lines):
            plot.addItem(line)
            line.hide()
        self.progress = QProgressBar()
        self.progress.setObjectName("trainingProgress")
        self.status = QLabel("Not started.")
        self.status.setObjectName("trainingStatus")
        self.status.setWordWrap(True)
        self.notes = QLabel("")
        self.notes.setObjectName("trainingNotes")
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color: #8a5a00;")
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.mae_plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(plots, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.notes)
        self.data: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
        self.reset(None)

    def reset(self, config, trainer: str = "csrnet") -> None:
        """Empty curves for a new run of ``config`` by ``trainer`` ('csrnet' or 'vgg-s4'); None: nothing planned."""
        self.config, self.trainer = config, trainer
        self.run_notes = RunNotes()
        self.notes.setText("")
        self.notes.hide()
        self.data = {key: ([], []) for key in self.curves}
        for item in self.curves.values():
            item.setData([], [])
        for line in self.stage_lines:
            line.hide()
        self._stage1_last = 0
        self.eta = self._estimator()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)

    def resumed(self) -> None:
        """Continue the same curves after a resume; only the pace starts again."""
        self.eta = self._estimator()

    def _estimator(self) -> EtaEstimator | None:
        if self.config is None:
            return None
        return EtaEstimator(run_plan(self.config, self.trainer), self.config.stage1_patience)

    def add(self, progress) -> None:
        """One report from the trainer (``countxplain.training.Progress``)."""
        stage = progress.stage
        self._note(progress)
        if self.eta is not None:
            self.eta.update(progress)
        if stage not in STAGE_COLORS:
            text = MESSAGES.get(stage, progress.message)
            self.set_status(self._with_time_left(text) if stage == "cache" else text)
            if stage == "cache" and progress.epochs:
                self.progress.setRange(0, progress.epochs)
                self.progress.setValue(progress.epoch)
            return
        if stage == "stage1":
            self._stage1_last = progress.epoch
            x = progress.epoch
        else:
            x = self._stage1_last + progress.epoch
            for line in self.stage_lines:
                line.setValue(self._stage1_last + 0.5)
                line.show()
        loss = weighted_loss(progress, self.config) if self.config is not None else None
        if loss is not None and loss > 0 and math.isfinite(loss):
            self._append(("loss", stage), x, loss)
        if progress.val_mae is not None and math.isfinite(progress.val_mae):
            self._append(("mae", stage), x, progress.val_mae)
        self.progress.setRange(0, max(1, progress.epochs))
        self.progress.setValue(progress.epoch)
        self.set_status(self._describe(progress))

    def _note(self, progress) -> None:
        before = len(self.run_notes.notes)
        self.run_notes.add(progress)
        if len(self.run_notes.notes) != before:
            self.notes.setText("\n".join(self.run_notes.notes))
            self.notes.show()

    def _append(self, key, x: float, y: float) -> None:
        xs, ys = self.data[key]
        xs.append(x)
        ys.append(y)
        self.curves[key].setData(xs, ys)

    def _describe(self, progress) -> str:
        where = progress.message if self.trainer == "vgg-s4" and progress.message else \
            f"epoch {progress.epoch} / {progress.epochs}"
        name = "Training" if self.trainer == "vgg-s4" else STAGE_NAMES[progress.stage].capitalize()
        parts = [f"{name}: {where}"]
        mae = self.data[("mae", progress.stage)][1]
        if mae:
            parts.append(f"validation MAE {mae[-1]:.2f}")
        if progress.epoch < progress.epochs:
            return self._with_time_left(" · ".join(parts))
        return " · ".join(parts)

    def _with_time_left(self, text: str) -> str:
        """``text`` and the time left, measured from the run's steps (at most the longer time if stage 1
        does not stop early)."""
        left = self.eta.seconds_left() if self.eta is not None else None
        if left is None or not text:
            return text
        words = f"about {format_duration(left)} left"
        longest = self.eta.longest_seconds_left()
        if longest is not None and format_duration(longest) != format_duration(left):
            words += f" (up to {format_duration(longest)} if stage 1 keeps improving)"
        return f"{text} · {words}"

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def points(self, kind: str, stage: str) -> tuple[list[float], list[float]]:
        """The plotted (epochs, values) of one curve ('loss' or 'mae', 'stage1' or 'stage2')."""
        return self.data[(kind, stage)]
