"""The one job runner: every piece of tensor work runs here, serially, off the GUI thread.

A single worker thread takes jobs from a queue one at a time (a GPU runs one job at a
time). Each job has a request id, a ``kind`` ("count", "load-model", ...) and a ``tag``
(usually the image path). The rules:

* Results, progress and errors reach the GUI through signals of ``JobRunner``, an object
  of the GUI thread, over queued connections: slots always run on the GUI thread.
* A new request with ``supersede=True`` replaces the older ones of the same (kind, tag):
  queued ones are dropped before they run, a running one gets its cancel flag set, and
  whatever a superseded request still returns is dropped (``sigDropped``), never
  delivered as a result. Receivers store a result under its tag and draw it only when
  the tag is the image on screen, so nothing lands on the wrong image.
* ``ctx.report(payload)`` sends any plain object (no tensors) to ``sigReport``, for jobs
  whose progress is more than a fraction (training curves); dropped only if superseded.
* ``cancel_current()`` sets the running job's flag; ``cancel_all(kind)`` also empties the
  queue (batches); ``drop_tag(tag, kinds)`` drops a tag's jobs as if superseded (an image
  taken off the list). Job functions pass ``ctx.cancelled`` to the library as ``cancel=``.
* While the worker thread runs, Python's cycle collector runs on the GUI thread only
  (``gui_gc``), so dead Qt objects are never destroyed in the worker.
* The worker records ``(request_id, kind, tag, thread ident)`` of every job it runs in
  ``thread_log``; tests check that no job ever ran on the GUI thread.

Job functions receive a ``JobContext`` and return a value or raise. A
``countxplain.errors.Cancelled`` (``JobCancelled`` is one) counts as a cancellation; any other
exception is an error whose message is ``str(error)``, shown as it is for a ``CountXplainError``
or an ``OSError`` and with its type otherwise.
"""

from __future__ import annotations

import itertools
import logging
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, QThread, Signal

from countxplain.errors import Cancelled, CountXplainError

from . import gui_gc

log = logging.getLogger(__name__)

BATCH = 10  # priority of background batch work
INTERACTIVE = 0  # priority of what the user is looking at


class JobCancelled(Cancelled):
    """Raise inside a job function to stop it as cancelled."""


@dataclass(eq=False)
class Job:
    request_id: int
    kind: str
    tag: str
    fn: Callable[["JobContext"], Any]
    priority: int = BATCH
    supersede: bool = True
    seq: int = 0
    cancel_event: threading.Event = field(default_factory=threading.Event)
    superseded: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.tag


class JobContext:
    """What a job function sees: its cancel flag and a progress callback."""

    def __init__(self, job: Job, runner: "JobRunner") -> None:
        self.job = job
        self._runner = runner

    def cancelled(self) -> bool:
        return self.job.cancel_event.is_set() or self._runner._stopping

    def check(self) -> None:
        if self.cancelled():
            raise JobCancelled()

    def progress(self, fraction: float, text: str = "") -> None:
        self._runner._sigProgressFromWorker.emit(self.job, float(fraction), str(text))

    def report(self, payload: Any) -> None:
        """A structured progress report (a plain snapshot, never a tensor) for ``sigReport``."""
        self._runner._sigReportFromWorker.emit(self.job, payload)


class _Worker(QThread):
    """The worker thread: pops the most urgent job, runs it, reports back."""

    def __init__(self, runner: "JobRunner") -> None:
        super().__init__()
        self.runner = runner
        self.setObjectName("cxdesktop-job-worker")

    def run(self) -> None:
        runner = self.runner
        while True:
            with runner._cond:
                while not runner._pending and not runner._stopping:
                    runner._cond.wait()
                if runner._stopping:
                    return
                job = min(runner._pending, key=lambda j: (j.priority, j.seq))
                runner._pending.remove(job)
                runner._current = job
            runner.thread_log.append((job.request_id, job.kind, job.tag, threading.get_ident()))
            runner._sigStartedFromWorker.emit(job)
            status, payload = self._execute(job)
            with runner._cond:
                runner._current = None
            runner._sigDoneFromWorker.emit(job, status, payload)

    def _execute(self, job: Job) -> tuple[str, Any]:
        context = JobContext(job, self.runner)
        if context.cancelled():
            return "cancelled", None
        try:
            return "ok", job.fn(context)
        except Exception as error:  # reported to the GUI as a message, with the traceback logged
            if isinstance(error, Cancelled):
                return "cancelled", None
            message = str(error) or type(error).__name__
            if not _is_user_error(error):
                log.error("job %s (%s, %s) failed:\n%s", job.request_id, job.kind, job.tag, traceback.format_exc())
                message = f"{type(error).__name__}: {message}"
            return "error", message


def _is_user_error(error: Exception) -> bool:
    """Errors of bad input (a corrupt image, a refused model) carry a message meant for users."""
    if getattr(error, "user_facing", False):
        return True
    return isinstance(error, (CountXplainError, OSError))


class JobRunner(QObject):
    """Serial, cancellable job queue on one worker thread, reporting on the GUI thread."""

    sigStarted = Signal(object)  # Job
    sigProgress = Signal(object, float, str)  # Job, fraction, text
    sigReport = Signal(object, object)  # Job, payload of ctx.report
    sigResult = Signal(object, object)  # Job, result
    sigError = Signal(object, str)  # Job, message
    sigCancelled = Signal(object)  # Job (cancelled, or removed from the queue unrun)
    sigDropped = Signal(object)  # Job superseded by a newer request for the same (kind, tag)
    sigIdle = Signal()

    _sigStartedFromWorker = Signal(object)
    _sigProgressFromWorker = Signal(object, float, str)
    _sigReportFromWorker = Signal(object, object)
    _sigDoneFromWorker = Signal(object, str, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.gui_thread_ident = threading.get_ident()
        self.thread_log: list[tuple[int, str, str, int]] = []
        self._cond = threading.Condition()
        self._pending: list[Job] = []
        self._current: Job | None = None
        self._stopping = False
        self._ids = itertools.count(1)
        self._seq = itertools.count()
        self._latest: dict[tuple[str, str], int] = {}
        self._in_flight = 0  # submitted and not yet reported back (GUI-thread counter)
        queued = Qt.ConnectionType.QueuedConnection
        self._sigStartedFromWorker.connect(self._on_started, queued)
        self._sigProgressFromWorker.connect(self._on_progress, queued)
        self._sigReportFromWorker.connect(self._on_report, queued)
        self._sigDoneFromWorker.connect(self._on_done, queued)
        self._worker = _Worker(self)
        gui_gc.hold()
        self._released_gc = False
        self._worker.start()

    # ---- requests (GUI thread) ----
    def submit(self, kind: str, fn: Callable[[JobContext], Any], tag: str = "", priority: int = BATCH,
               supersede: bool = True) -> int:
        """Queue ``fn(ctx)``; returns the request id. See the module docstring for the rules."""
        job = Job(next(self._ids), kind, str(tag), fn, priority, supersede, next(self._seq))
        dropped: list[Job] = []
        with self._cond:
            if self._stopping:
                return job.request_id
            if supersede:
                self._latest[job.key] = job.request_id
                dropped = [j for j in self._pending if j.supersede and j.key == job.key]
                for old in dropped:
                    self._pending.remove(old)
                    old.superseded = True
                current = self._current
                if current is not None and current.supersede and current.key == job.key:
                    current.superseded = True
                    current.cancel_event.set()
            self._pending.append(job)
            self._in_flight += 1
            self._cond.notify()
        for old in dropped:
            self._finish(old)
            self.sigDropped.emit(old)
        return job.request_id

    def promote(self, kind: str, tag: str, priority: int = INTERACTIVE) -> bool:
        """Move queued jobs of (kind, tag) to ``priority``; True if one was queued."""
        with self._cond:
            found = [j for j in self._pending if j.key == (kind, str(tag))]
            for job in found:
                job.priority = min(job.priority, priority)
        return bool(found)

    def cancel_current(self) -> None:
        with self._cond:
            if self._current is not None:
                self._current.cancel_event.set()

    def cancel_all(self, kind: str | None = None) -> None:
        """Drop queued jobs (of ``kind``, or all) and cancel the running one if it matches."""
        with self._cond:
            removed = [j for j in self._pending if kind is None or j.kind == kind]
            for job in removed:
                self._pending.remove(job)
                job.cancel_event.set()
            if self._current is not None and (kind is None or self._current.kind == kind):
                self._current.cancel_event.set()
        for job in removed:
            self._finish(job)
            self.sigCancelled.emit(job)
        if removed and self._in_flight == 0:
            self.sigIdle.emit()

    def drop_tag(self, tag: str, kinds) -> None:
        """Drop the queued jobs of ``kinds`` for ``tag`` and cancel the running one: whatever any of them
        still returns is dropped (``sigDropped``), never delivered (an image taken off the list)."""
        tag = str(tag)
        with self._cond:
            dropped = [j for j in self._pending if j.tag == tag and j.kind in kinds]
            for job in dropped:
                self._pending.remove(job)
            current = self._current
            if current is not None and current.tag == tag and current.kind in kinds:
                dropped_current = current
            else:
                dropped_current = None
            for job in dropped + ([dropped_current] if dropped_current else []):
                job.superseded = True
                job.cancel_event.set()
        for job in dropped:
            self._finish(job)
            self.sigDropped.emit(job)
        if dropped and self._in_flight == 0:
            self.sigIdle.emit()

    def is_pending(self, kind: str, tag: str) -> bool:
        with self._cond:
            jobs = self._pending + ([self._current] if self._current else [])
            return any(j.key == (kind, str(tag)) and not j.superseded for j in jobs)

    def pending_count(self, kind: str | None = None) -> int:
        with self._cond:
            jobs = self._pending + ([self._current] if self._current else [])
            return sum(1 for j in jobs if kind is None or j.kind == kind)

    def is_idle(self) -> bool:
        return self._in_flight == 0

    def shutdown(self, wait_ms: int = 30000) -> None:
        """Cancel everything and stop the worker thread (called when the window closes)."""
        with self._cond:
            self._stopping = True
            for job in self._pending:
                job.cancel_event.set()
            self._pending.clear()
            if self._current is not None:
                self._current.cancel_event.set()
            self._cond.notify_all()
        if self._worker.isRunning():
            self._worker.wait(wait_ms)
        if not self._worker.isRunning() and not self._released_gc:
            self._released_gc = True
            gui_gc.release()

    # ---- reports from the worker (delivered on the GUI thread) ----
    def _on_started(self, job: Job) -> None:
        if not job.superseded:
            self.sigStarted.emit(job)

    def _on_progress(self, job: Job, fraction: float, text: str) -> None:
        if not job.superseded and not job.cancel_event.is_set():
            self.sigProgress.emit(job, fraction, text)

    def _on_report(self, job: Job, payload: Any) -> None:
        if not job.superseded:  # delivered after a cancel too: what it reports (an epoch) did happen
            self.sigReport.emit(job, payload)

    def _on_done(self, job: Job, status: str, payload: Any) -> None:
        wanted = not job.superseded and (not job.supersede or self._latest.get(job.key) == job.request_id)
        self._finish(job)
        if not wanted:
            self.sigDropped.emit(job)
        elif status == "ok":
            self.sigResult.emit(job, payload)
        elif status == "cancelled":
            self.sigCancelled.emit(job)
        else:
            self.sigError.emit(job, payload)
        if self._in_flight == 0:
            self.sigIdle.emit()

    def _finish(self, job: Job) -> None:
        self._in_flight = max(0, self._in_flight - 1)
        if self._latest.get(job.key) == job.request_id and job.supersede:
            del self._latest[job.key]
