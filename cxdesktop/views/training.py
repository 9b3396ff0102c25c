"""The training panel: set up a run, watch it, cancel or resume it, then save or use the model.

Left: ``TrainingSetup`` and the Train / Cancel / Resume buttons. Right: the live curves
(``TrainingCurves``) and, when a run has finished, its results (``TrainingResults``).
The panel only asks the ``TrainingController``; it shows the controller's state.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from countxplain.datasets import sidecar_paths

from ..dialogs import show_error
from ..dots import count_sidecar_dots
from ..training_control import CANCELLED, CANCELLING, DONE, FAILED, RUNNING, WAITING, TrainingController
from ..training_job import START_CURRENT, TrainingRequest
from .training_curves import TrainingCurves
from .training_results import TrainingResults
from .training_setup import PRESET_FOR_START, TrainingSetup

STATE_TEXT = {WAITING: "Waiting for the worker (images being counted go first)…", CANCELLING: "Cancelling…",
              CANCELLED: "Cancelled. The last finished epoch is kept: Resume continues from it.",
              FAILED: "Training failed.", DONE: "Finished: see the Results tab."}


class TrainingPanel(QWidget):
    def __init__(self, controller: TrainingController, session, settings, parent=None) -> None:
        super().__init__(parent)
        from countxplain.pretrained import default_weights_path
        from countxplain.training import preset_config  # torch is loaded by now: the worker loaded the model

        self.controller = controller
        self.session = session
        self.settings = settings
        self.setup = TrainingSetup(preset_config(PRESET_FOR_START[START_CURRENT]), default_weights_path())
        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("startTraining")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelTraining")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setObjectName("resumeTraining")
        self.resume_button.setToolTip("Continue the cancelled run from its last finished epoch")
        self.curves = TrainingCurves()
        self.results = TrainingResults()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.curves, "Progress")
        self.tabs.addTab(self.results, "Results")

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.setup)
        scroll.setMinimumWidth(360)
        buttons = QHBoxLayout()
        for button in (self.train_button, self.cancel_button, self.resume_button):
            buttons.addWidget(button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(scroll, 1)
        left_layout.addLayout(buttons)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(self.tabs)
        split.setStretchFactor(1, 1)
        split.setSizes([400, 780])
        layout = QVBoxLayout(self)
        layout.addWidget(split)

        self.train_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(controller.cancel)
        self.resume_button.clicked.connect(self.resume)
        self.setup.sigChanged.connect(self._update_buttons)
        self.results.sigSave.connect(lambda: self.save())
        self.results.sigUse.connect(controller.use)
        controller.sigStateChanged.connect(self._state_changed)
        controller.sigProgress.connect(self.curves.add)
        controller.sigFinished.connect(self._finished)
        controller.sigFailed.connect(lambda message: show_error(self, "Training failed", message))
        controller.sigSaved.connect(self.results.set_saved)
        controller.sigSaveFailed.connect(lambda message: show_error(self, "Cannot save the model", message))
        session.sigModelLoaded.connect(lambda info: self.setup.set_current_model(info.name))
        self.refresh_images()
        self.setup.set_current_model(session.model.name if session.model else None)
        self._state_changed(controller.state)

    def refresh_images(self) -> None:
        """The listed images that have dots saved beside them."""
        rows = []
        entries = self.session.store.entries()
        for entry, sidecar in zip(entries, sidecar_paths(entry.path for entry in entries)):
            if not sidecar.exists():
                continue
            loaded = entry.dots is not None and not entry.dots.load_error
            rows.append((entry.path, len(entry.dots) if loaded else count_sidecar_dots(entry.path, sidecar)))
        self.setup.set_images(rows)

    def request(self) -> TrainingRequest:
        paths = self.setup.checked_paths()
        store = self.session.store
        return TrainingRequest(images=paths, diameters=[store[p].cell_diameter_px for p in paths],
                               config=self.setup.config(), preset=self.setup.preset(), start=self.setup.start(),
                               val_share=self.setup.share(),
                               device=self.session.device_pref)

    def start(self) -> None:
        problem = self.setup.problem()
        if problem:
            show_error(self, "Cannot train yet", problem)
            return
        request = self.request()
        self.curves.reset(request.config)
        self.results.show_outcome(None)
        self.tabs.setCurrentWidget(self.curves)
        self.controller.start(request)

    def resume(self) -> None:
        self.curves.resumed()
        self.controller.resume()

    def save(self, path: str | Path | None = None) -> None:
        if path is None:
            start = str(Path(self.settings.last_folder) / "trained.cxm")
            path, _ = QFileDialog.getSaveFileName(self, "Save model", start, "CountXplain models (*.cxm)")
            if not path:
                return
            if not path.endswith(".cxm"):
                path += ".cxm"
        self.controller.save(path)

    def _finished(self, outcome) -> None:
        self.results.show_outcome(outcome)
        self.tabs.setCurrentWidget(self.results)

    def _state_changed(self, state: str) -> None:
        if state in STATE_TEXT:
            self.curves.set_status(STATE_TEXT[state])
        if state == DONE:
            self.curves.progress.setValue(self.curves.progress.maximum())
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.controller.busy()
        self.train_button.setEnabled(not busy and self.setup.problem() is None)
        self.cancel_button.setEnabled(self.controller.state in (WAITING, RUNNING))
        self.resume_button.setEnabled(self.controller.can_resume())
        self.setup.setEnabled(not busy)


class TrainingDialog(QDialog):
    """The panel in its own (non-modal) window: the user keeps annotating while a run goes on."""

    def __init__(self, controller, session, settings, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train a model")
        self.setObjectName("trainingDialog")
        self.panel = TrainingPanel(controller, session, settings, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.panel)
        self.resize(1180, 760)

