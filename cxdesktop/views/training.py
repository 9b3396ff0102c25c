"""The training panel: set up a run, watch it, cancel or resume it, then save or use the model.

Left: ``TrainingSetup`` and the Train / Cancel / Resume buttons. Right: the live curves
(``TrainingCurves``) and, when a run has finished, its results (``TrainingResults``).
The panel only asks the ``TrainingController``; it shows the controller's state. The listed
images with a dot file are checked in the job runner (``training_checks``) whenever the list
is shown or changes, and again when Train is pressed, before any training work.
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
from ..jobs import INTERACTIVE
from ..training_checks import CheckItem, check_images
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
        session.sigModelLoaded.connect(self._model_loaded)
        self._starting = False
        self.refresh_images()
        self._model_loaded(session.model)
        self._state_changed(controller.state)

    def _model_loaded(self, info) -> None:
        self.setup.set_current_model(info.name if info else None, info.config.get("extractor") if info else None)

    def refresh_images(self) -> None:
        """List the listed images that have dots saved beside them, then check them in the job runner."""
        items, rows = self._check_items()
        self.setup.image_list.show_pending(rows)
        self.session.submit_job("check-training-images", lambda ctx: check_images(items, ctx.cancelled), "training",
                                INTERACTIVE, ok=self.setup.image_list.show_checks)

    def _check_items(self) -> tuple[list[CheckItem], list[tuple[str, int | None]]]:
        """What to check (the image size where the app read it already), and the dots known without a read."""
        items, rows = [], []
        entries = self.session.store.entries()
        for entry, sidecar in zip(entries, sidecar_paths(entry.path for entry in entries)):
            if not sidecar.exists():
                continue
            shape = (entry.height, entry.width) if entry.width and entry.height else None
            items.append(CheckItem(entry.path, str(sidecar), shape))
            loaded = entry.dots is not None and not entry.dots.load_error
            rows.append((entry.path, len(entry.dots) if loaded else None))
        return items, rows

    def request(self) -> TrainingRequest:
        paths = self.setup.checked_paths()
        store = self.session.store
        return TrainingRequest(images=paths, diameters=[store[p].cell_diameter_px for p in paths],
                               config=self.setup.config(), preset=self.setup.preset(), start=self.setup.start(),
                               val_share=self.setup.share(),
                               device=self.session.device_pref)

    def start(self) -> None:
        """Check the images once more (they may have changed on disk), then train on those still usable."""
        problem = self.setup.problem()
        if problem:
            show_error(self, "Cannot train yet", problem)
            return
        chosen = set(self.setup.checked_paths())
        items = [item for item in self._check_items()[0] if item.path in chosen]
        self._starting = True
        self._update_buttons()
        self.session.submit_job("check-training-images", lambda ctx: check_images(items, ctx.cancelled),
                                "training-start", INTERACTIVE,
                                ok=lambda checks: self._checked_for_start(chosen, checks),
                                error=self._start_failed, cancelled=lambda: self._start_failed(None), supersede=False)

    def _checked_for_start(self, chosen: set[str], checks) -> None:
        self._starting = False
        merged = {check.path: check for check in self.setup.image_list.checks.values()}
        merged.update({check.path: check for check in checks})
        self.setup.image_list.show_checks([merged[path] for path in merged])
        excluded = [check for check in checks if not check.usable]
        problem = self.setup.problem()
        if excluded or problem:
            lines = [f"{Path(check.path).name}: {check.reason}" for check in excluded]
            show_error(self, "Cannot train yet", "\n".join(lines + ([problem] if problem else [])))
            self._update_buttons()
            return
        self._run(self.request())

    def _start_failed(self, message: str | None) -> None:
        self._starting = False
        self._update_buttons()
        if message:
            show_error(self, "Cannot check the images", message)

    def _run(self, request: TrainingRequest) -> None:
        self.curves.reset(request.config, self.setup.trainer())
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
        self.results.show_outcome(outcome, self.curves.run_notes.notes)
        self.tabs.setCurrentWidget(self.results)

    def _state_changed(self, state: str) -> None:
        if state in STATE_TEXT:
            self.curves.set_status(STATE_TEXT[state])
        if state == DONE:
            self.curves.progress.setValue(self.curves.progress.maximum())
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.controller.busy() or self._starting
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

