"""The app's working state and the requests it sends to the job runner.

``Session`` lives on the GUI thread. It turns user intents (open these images, use this
model, this cell size, show this prototype) into jobs, stores each result under the
image path it answers, and tells the views through signals. Views draw a per-image
result only when its path is the current image (``Session.current``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal

from .engine import Engine, ModelInfo
from .jobs import BATCH, INTERACTIVE, Job, JobRunner
from .paths import expand_paths
from .store import CANCELLED, COUNTING, DONE, ERROR, QUEUED, ImageStore, short_reason

IMAGE_JOBS = ("count", "read", "prototype", "propose-dots")  # jobs whose results land on their image
EXPLAIN_BATCH = "explain-batch"  # one figure of File › Export explanation figures for all images


class Session(QObject):
    sigModelLoading = Signal(str)  # path
    sigModelLoaded = Signal(object)  # ModelInfo
    sigModelFailed = Signal(str, bool)  # message, asked for by the user
    sigDevices = Signal(dict)  # {'cpu': None, 'cuda': reason-or-None, 'mps': ...}
    sigEntriesAdded = Signal(list)  # paths
    sigEntriesRemoved = Signal(list)  # paths taken off the list
    sigEntryChanged = Signal(str)  # path
    sigEntryMoved = Signal(str, str)  # old path, new path: the same image, now listed from a copy
    sigBatchProgress = Signal(int, int)  # finished, total (0, 0: no batch)
    sigPixelsReady = Signal(str)  # path whose pixels are now cached
    sigAnalysisReady = Signal(str)  # path whose count (with maps) is now stored
    sigPrototypeOverlay = Signal(str, int, object, object)  # path, prototype, (H, W) map, boxes
    sigExplanationDone = Signal(str, str)  # figure path, json path
    sigJobFailed = Signal(str, str)  # title, message (shown to the user)

    def __init__(self, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.engine = Engine()  # touched only inside job functions (worker thread)
        self.store = ImageStore()
        self.model: ModelInfo | None = None
        self.devices: dict[str, str | None] = {"cpu": None}
        self.device_pref = "auto"
        self.precision_pref = "auto"
        self.flips_pref = 1
        self._counter_sent: tuple[str, str] | None = None  # (device, precision) of the last counter asked for
        self.current: str | None = None
        self._callbacks: dict[int, tuple[Callable, Callable | None, Callable | None]] = {}
        self._batch: set[str] = set()
        self.folder_pixel_sizes: dict[str, float] = {}  # µm per pixel, given by the user for a folder
        runner.sigStarted.connect(self._on_started)
        runner.sigResult.connect(self._on_result)
        runner.sigError.connect(self._on_error)
        runner.sigCancelled.connect(self._on_cancelled)
        runner.sigDropped.connect(self._on_dropped)

    # ---- plumbing ----
    def _submit(self, kind: str, fn: Callable, tag: str, priority: int, ok: Callable,
                error: Callable | None = None, cancelled: Callable | None = None, supersede: bool = True) -> int:
        request_id = self.runner.submit(kind, fn, tag=tag, priority=priority, supersede=supersede)
        self._callbacks[request_id] = (ok, error, cancelled)
        return request_id

    def submit_job(self, kind: str, fn: Callable, tag: str, priority: int, ok: Callable,
                   error: Callable | None = None, cancelled: Callable | None = None, supersede: bool = True) -> int:
        """Queue work on the one runner with its callbacks (for controllers beside the session: training)."""
        return self._submit(kind, fn, tag, priority, ok, error, cancelled, supersede)

    def _on_result(self, job: Job, result: Any) -> None:
        ok, _, _ = self._callbacks.pop(job.request_id, (None, None, None))
        if ok is not None:
            ok(result)

    def _on_error(self, job: Job, message: str) -> None:
        _, error, _ = self._callbacks.pop(job.request_id, (None, None, None))
        if error is not None:
            error(message)
        else:
            self.sigJobFailed.emit(f"{job.kind} failed", message)

    def _on_cancelled(self, job: Job) -> None:
        _, _, cancelled = self._callbacks.pop(job.request_id, (None, None, None))
        if cancelled is not None:
            cancelled()

    def _on_dropped(self, job: Job) -> None:
        self._callbacks.pop(job.request_id, None)  # a newer request for the same tag answers instead

    def _on_started(self, job: Job) -> None:
        if job.kind == "count" and job.tag in self.store:
            self.store[job.tag].status = COUNTING
            self.sigEntryChanged.emit(job.tag)

    # ---- devices and models ----
    def probe_devices(self) -> None:
        self._submit("probe-devices", lambda ctx: self.engine.probe_devices(), "devices", INTERACTIVE,
                     ok=self._devices_probed)

    def _devices_probed(self, devices: dict) -> None:
        self.devices = dict(devices)
        self.sigDevices.emit(self.devices)

    def load_model(self, path: str | Path, user: bool = False) -> None:
        """Load a model in the worker; on success every listed image is counted again."""
        path, device, precision, flips = str(path), self.device_pref, self.precision_pref, self.flips_pref
        self._counter_sent = (device, precision)
        self.sigModelLoading.emit(path)
        self._submit("load-model", lambda ctx: self.engine.load_model(path, device, precision, flips), "model",
                     INTERACTIVE,
                     ok=lambda info: self._model_loaded(info, recount=True),
                     error=lambda message: self.sigModelFailed.emit(message, user))

    def set_device(self, device: str) -> None:
        self.device_pref = device
        self._reload_counter()

    def set_precision(self, precision: str) -> None:
        """'auto' (bf16 where native and accurate for this model), 'fp32' or 'bf16'; when the precision
        counting uses changes, every listed image is counted again."""
        self.precision_pref = precision
        self._reload_counter()

    def set_flips(self, flips: int) -> None:
        """Average the maps of every count over ``flips`` views (1, 2 or 4); every listed image is counted again."""
        self.flips_pref = flips
        if self.model is None:
            return
        self._submit("set-flips", lambda ctx: self.engine.set_flips(flips), "model", INTERACTIVE,
                     ok=lambda info: self._model_loaded(info, recount=True),
                     error=lambda message: self.sigModelFailed.emit(message, True))

    def _reload_counter(self) -> None:
        if self.model is None:
            return
        device, precision = self.device_pref, self.precision_pref
        self._counter_sent = (device, precision)
        before = self.model.precision
        self._submit("set-device", lambda ctx: self.engine.set_device(device, precision), "model", INTERACTIVE,
                     ok=lambda info: self._model_loaded(info, recount=info.precision != before),
                     error=lambda message: self.sigModelFailed.emit(message, True))

    def use_trained_model(self) -> None:
        """Switch to the model of the last training run; every listed image is counted again."""
        self.sigModelLoading.emit("trained model")
        self._submit("use-trained", lambda ctx: self.engine.use_trained(), "model", INTERACTIVE,
                     ok=lambda info: self._model_loaded(info, recount=True),
                     error=lambda message: self.sigModelFailed.emit(message, True))

    def model_renamed(self, info: ModelInfo) -> None:
        """The model in use was saved under a new name (no recount: the weights are the same)."""
        self._model_loaded(info, recount=False)

    def _model_loaded(self, info: ModelInfo, recount: bool) -> None:
        self.model = info
        self.sigModelLoaded.emit(info)
        if self._counter_sent is not None and self._counter_sent != (self.device_pref, self.precision_pref):
            self._reload_counter()  # a device or precision chosen while this model was loading
        if info.flips != self.flips_pref:
            self.set_flips(self.flips_pref)  # likewise the maps' views (it counts every image again)
        elif recount:  # a new model: every listed image again (also those that failed for want of a model)
            self.recount(self.store.paths())

    # ---- images and counts ----
    def add_paths(self, paths, prepare: Callable[[Any], None] | None = None) -> list[str]:
        """List new images (files or folders) and count each; returns the newly listed paths. ``prepare``
        is given each new entry before it is counted (a restored session's cell size and boxes)."""
        added = [p for p in expand_paths(paths) if self.store.add(p) is not None]
        for path in added if prepare is not None else ():
            prepare(self.store[path])
        for path in added:  # queued before the browser shows (and selects) them: no extra read job
            self._submit_count(path)
        if added:
            self.sigEntriesAdded.emit(added)
        return added

    def remove_paths(self, paths) -> list[str]:
        """Take images off the list; their files are never touched. Their pending jobs are dropped, so no
        late result lands (on them or on another image). Returns the paths removed."""
        removed = [p for p in dict.fromkeys(str(p) for p in paths) if p in self.store]
        for path in removed:
            self.runner.drop_tag(path, IMAGE_JOBS)
            self.store.remove(path)
            self._batch.discard(path)
        if not removed:
            return []
        if self.current in removed:
            self.current = None
        self.sigEntriesRemoved.emit(removed)
        self._report_batch()
        return removed

    def move_entry(self, old: str, new: str) -> None:
        """List the copy at ``new`` in place of the image at ``old``, with its count, cell size and boxes; its
        dots are read again from the copy's dot file. A count still to come is asked for again for the copy."""
        self.runner.drop_tag(old, IMAGE_JOBS)
        entry = self.store.rename(old, new)
        entry.dots = entry.dot_counts = None
        if old in self._batch:
            self._batch.discard(old)
            self._batch.add(new)
        if self.current == old:
            self.current = new
        self.sigEntryMoved.emit(old, new)
        if entry.status not in (DONE, ERROR):
            self._submit_count(new)

    def recount(self, paths) -> None:
        for path in paths:
            self._submit_count(path)

    def set_cell_diameter(self, paths, diameter: float | None) -> None:
        """Set the cell diameter (None or 0: automatic, ``countxplain.scale_policy``) of images and count them again."""
        for path in paths:
            self.store[path].cell_diameter_px = diameter or None
        self.recount(paths)

    def _submit_count(self, path: str) -> None:
        entry = self.store[path]
        entry.status, entry.error = QUEUED, ""
        diameter, page, channel = entry.cell_diameter_px, entry.page, entry.channel
        priority = INTERACTIVE if path == self.current else BATCH
        self._batch.add(path)
        self._submit("count", lambda ctx: self.engine.count(path, diameter, ctx.cancelled, page, channel), path,
                     priority,
                     ok=lambda result: self._count_done(path, result),
                     error=lambda message: self._count_finished(path, ERROR, short_reason(path, message)),
                     cancelled=lambda: self._count_finished(path, CANCELLED, "cancelled"))
        self.sigEntryChanged.emit(path)
        self._report_batch()

    def _count_done(self, path: str, result) -> None:
        preview, analysis = result
        entry = self.store[path]
        entry.width, entry.height, entry.thumbnail = preview.width, preview.height, preview.thumbnail
        entry.analysis = analysis
        self._keep_read(entry, preview)
        self._count_finished(path, DONE, "")
        if path == self.current:
            self.sigPixelsReady.emit(path)
            self.sigAnalysisReady.emit(path)

    def _count_finished(self, path: str, status: str, error: str) -> None:
        entry = self.store[path]
        entry.status, entry.error = status, error
        if status != DONE:
            entry.analysis = None
        self.sigEntryChanged.emit(path)
        self._report_batch()

    def _report_batch(self) -> None:
        finished = sum(1 for p in self._batch if self.store[p].status in (DONE, ERROR, CANCELLED))
        if self._batch and finished == len(self._batch) and not self.runner.pending_count("count"):
            self._batch.clear()
            self.sigBatchProgress.emit(0, 0)
        else:
            self.sigBatchProgress.emit(finished, len(self._batch))

    def cancel_batch(self) -> None:
        """Stop counting the list, and stop writing the explanation figures still to come of a whole list."""
        self.runner.cancel_all("count")
        self.runner.cancel_all(EXPLAIN_BATCH)

    # ---- the image on screen ----
    def set_current(self, path: str | None) -> None:
        """Make ``path`` the image on screen; its pixels and count follow by signal."""
        self.current = path
        if path is None or path not in self.store:
            return
        entry = self.store[path]
        if self.store.pixels.get(path) is not None:
            self.sigPixelsReady.emit(path)
            if entry.status == DONE:
                self.sigAnalysisReady.emit(path)
            return
        if self.runner.is_pending("count", path):
            self.runner.promote("count", path)  # its result brings the pixels
        elif entry.status != ERROR:
            page, channel = entry.page, entry.channel
            self._submit("read", lambda ctx: self.engine.read(path, page, channel), path, INTERACTIVE,
                         ok=lambda preview: self._read_done(path, preview),
                         error=lambda message: self._count_finished(path, ERROR, short_reason(path, message)))

    def _read_done(self, path: str, preview) -> None:
        self._keep_read(self.store[path], preview)
        if path == self.current:
            self.sigPixelsReady.emit(path)
            if self.store[path].status == DONE:
                self.sigAnalysisReady.emit(path)

    def _keep_read(self, entry, preview) -> None:
        """The pixels read, and the pages, channels and pixel size the file offers."""
        self.store.pixels.put(entry.path, preview.pixels)
        entry.planes, entry.channels, entry.file_pixel_size = preview.planes, preview.channels, preview.pixel_size
        entry.read_page, entry.read_channel = preview.page, preview.channel

    def set_plane(self, path: str, page: int | None, channel: int | None) -> None:
        """Count ``path`` again at ``page`` and ``channel`` (0-based; None: the first of several)."""
        entry = self.store.get(path)
        if entry is None or (entry.page, entry.channel) == (page, channel):
            return
        entry.page, entry.channel = page, channel
        self.store.pixels.discard(path)
        self._submit_count(path)

    def set_folder_pixel_size(self, folder: str, micrometres: float | None) -> None:
        """The pixel size (µm) the user gives for a folder's images; None: the files' own, where they state one."""
        if micrometres:
            self.folder_pixel_sizes[folder] = float(micrometres)
        else:
            self.folder_pixel_sizes.pop(folder, None)
        for entry in self.store.in_folder(folder):
            self.sigEntryChanged.emit(entry.path)

    def pixels(self, path: str):
        return self.store.pixels.get(path)

    def request_prototype(self, path: str, prototype: int, percentile: float = 99.0) -> None:
        entry = self.store.get(path)
        if entry is None or entry.analysis is None:
            return
        analysis = entry.analysis
        self._submit("prototype", lambda ctx: self.engine.prototype_overlay(analysis, prototype, percentile),
                     path, INTERACTIVE,
                     ok=lambda result: self.sigPrototypeOverlay.emit(path, prototype, result[0], result[1]))

    def write_explanation(self, path: str, out_dir: str) -> None:
        diameter = self.store[path].cell_diameter_px
        self._submit("explain", lambda ctx: self.engine.explain(path, out_dir, diameter, cancel=ctx.cancelled), path,
                     INTERACTIVE,
                     ok=lambda paths: self.sigExplanationDone.emit(str(paths[0]), str(paths[1])),
                     error=lambda message: self.sigJobFailed.emit("Explanation figure", message))

    def queue_explanation(self, path: str, out_dir: str, name: str, ok: Callable, error: Callable,
                          cancelled: Callable) -> int:
        """Queue one figure of a whole list's export as ``<name>-explanation.*``, behind the image's count:
        the jobs of a batch never supersede one another, and "Cancel counting" stops those still to come."""
        diameter = self.store[path].cell_diameter_px
        return self._submit(EXPLAIN_BATCH,
                            lambda ctx: self.engine.explain(path, out_dir, diameter, name, ctx.cancelled), path,
                            BATCH, ok=ok, error=error, cancelled=cancelled, supersede=False)
