"""A training run from the GUI's side: start, cancel, resume, save and use, all through the job runner.

One run at a time, as a "train" job tagged "training". The trainer writes a checkpoint
after every epoch to ``checkpoint_dir`` (a per-user data folder by default), atomically,
so a cancel (or a crash) keeps the last finished epoch; ``resume`` runs the same request
again and the trainer continues from that checkpoint. A new run deletes the old
checkpoint first (it would otherwise resume a run on other images); a finished run
deletes it too (the model is in memory, to save or use).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Signal

from .jobs import BATCH, INTERACTIVE, Job
from .training_job import TrainingRequest, remove_checkpoint

IDLE, WAITING, RUNNING, CANCELLING, CANCELLED, FAILED, DONE = (
    "idle", "waiting", "running", "cancelling", "cancelled", "failed", "done")
CHECKPOINT_NAME = "run.ckpt"


def default_checkpoint_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".countxplain") / "training"


class TrainingController(QObject):
    sigStateChanged = Signal(str)
    sigProgress = Signal(object)  # countxplain.training.Progress
    sigFinished = Signal(object)  # training_job.TrainingOutcome
    sigFailed = Signal(str)
    sigSaved = Signal(str)  # path
    sigSaveFailed = Signal(str)

    def __init__(self, session, checkpoint_dir: str | Path | None = None, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else default_checkpoint_dir()
        self.state = IDLE
        self.request: TrainingRequest | None = None
        self.outcome = None
        self.saved_path: str | None = None
        session.runner.sigStarted.connect(self._job_started)
        session.runner.sigReport.connect(self._job_report)

    @property
    def checkpoint(self) -> Path:
        return self.checkpoint_dir / CHECKPOINT_NAME

    def busy(self) -> bool:
        return self.state in (WAITING, RUNNING, CANCELLING)

    def can_resume(self) -> bool:
        return self.state in (CANCELLED, FAILED) and self.request is not None

    # ---- runs ----
    def start(self, request: TrainingRequest) -> None:
        """A new run (the previous checkpoint is discarded)."""
        if self.busy():
            return
        request.checkpoint = self.checkpoint
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        remove_checkpoint(request.checkpoint)
        self.request, self.outcome, self.saved_path = request, None, None
        self._submit()

    def resume(self) -> None:
        """The cancelled (or failed) run again, from its last checkpoint."""
        if self.can_resume():
            self._submit()

    def cancel(self) -> None:
        if self.busy():
            self.session.runner.cancel_all("train")
            self._set_state(CANCELLING if self.state == RUNNING else CANCELLED)

    def _submit(self) -> None:
        request, engine = self.request, self.session.engine
        self._set_state(WAITING)
        self.session.submit_job("train", lambda ctx: engine.train(request, ctx.report, ctx.cancelled), "training",
                                BATCH, ok=self._finished, error=self._failed,
                                cancelled=lambda: self._set_state(CANCELLED), supersede=False)

    def _job_started(self, job: Job) -> None:
        if job.kind == "train" and self.state == WAITING:
            self._set_state(RUNNING)

    def _job_report(self, job: Job, payload) -> None:
        if job.kind == "train":
            self.sigProgress.emit(payload)

    def _finished(self, outcome) -> None:
        remove_checkpoint(self.checkpoint)
        self.outcome = outcome
        self._set_state(DONE)
        self.sigFinished.emit(outcome)

    def _failed(self, message: str) -> None:
        self._set_state(FAILED)
        self.sigFailed.emit(message)

    def _set_state(self, state: str) -> None:
        self.state = state
        self.sigStateChanged.emit(state)

    # ---- the result ----
    def save(self, path: str | Path) -> None:
        """Write the trained model (atomically, in the worker)."""
        if self.outcome is None:
            return
        path = str(path)
        self.session.submit_job("save-trained", lambda ctx: self.session.engine.save_trained(path), path, INTERACTIVE,
                                ok=lambda result: self._saved(path, *result), error=self.sigSaveFailed.emit)

    def _saved(self, path: str, info, in_use: bool) -> None:
        self.saved_path = path
        if in_use:
            self.session.model_renamed(info)
        self.sigSaved.emit(path)

    def use(self) -> None:
        if self.outcome is not None:
            self.session.use_trained_model()
