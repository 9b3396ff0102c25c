"""What the window shows of the image on screen as the session's results land: its pixels, density map, message
line, summary, boxes, dots, contributions and prototype overlays. A result for any other image only refreshes its
row in the list; it is drawn when that image is shown."""

from __future__ import annotations

from .palette import long_name, prototype_color, short_name
from .store import CANCELLED, DONE, ERROR
from .views.prototypes import NONE

EMPTY_HINT = ("Drop images or a folder here\n"
              "or use File › Open images… (Ctrl+O)\n\n"
              "File › Open sample images lists three bundled ones")


class CurrentImage:
    """The window's panels kept on the session's current image."""

    def __init__(self, window) -> None:
        self.window = window
        self.session = window.session

    def connect(self) -> None:
        w, s = self.window, self.session
        w.browser.sigCurrentChanged.connect(self.show)
        s.sigEntriesRemoved.connect(self._entries_removed)
        s.sigEntryChanged.connect(self._entry_changed)
        s.sigPixelsReady.connect(self._pixels_ready)
        s.sigAnalysisReady.connect(self._analysis_ready)
        s.sigPrototypeOverlay.connect(self._prototype_overlay)
        w.box_tool.sigBoxesChanged.connect(self._boxes_changed)
        w.prototypes.sigPrototypeChosen.connect(self.prototype_chosen)
        w.image_view.sigDensityRequested.connect(lambda: w.prototypes.choose(NONE))
        w.prototypes.sigPercentileChanged.connect(lambda _: self.prototype_chosen(w.prototypes.current()))

    def show(self, path: str | None) -> None:
        w = self.window
        entry = self.session.store.get(path) if path else None
        w.summary.show_entry(entry)
        w.box_tool.set_entry(entry)
        w.annotator.set_entry(entry)
        w.measure_tool.clear()
        w.cell_size.set_value(entry.cell_diameter_px if entry else None)
        w.contributions.clear()
        w.prototypes.set_contributions(None)
        if entry is None:
            w.image_view.clear(EMPTY_HINT)
        elif self.session.pixels(path) is None:
            w.image_view.clear(f"Cannot count this file:\n{entry.error}" if entry.status == ERROR else "Loading…")
        self.session.set_current(path)

    def _pixels_ready(self, path: str) -> None:
        if path != self.session.current:
            return
        self.window.image_view.show_image(path, self.session.pixels(path))
        self._show_status_message(self.session.store[path])

    def _analysis_ready(self, path: str) -> None:
        if path != self.session.current:
            return
        w = self.window
        entry = self.session.store[path]
        analysis = entry.analysis
        w.image_view.show_density(path, analysis.result)
        w.image_view.set_message("")
        w.contributions.show_contributions(analysis.contributions, entry.count)
        w.prototypes.set_contributions(analysis.contributions)
        w.summary.show_entry(entry)
        w.box_tool.refresh_counts()
        w.annotator.refresh()
        if w.prototypes.current() != NONE:
            self.prototype_chosen(w.prototypes.current())

    def _entries_removed(self, paths: list[str]) -> None:
        w = self.window
        w.browser.remove_paths(paths)  # the current row moves to a neighbour, which is then shown
        if self.session.current is None and w.browser.current_path() is None:
            self.show(None)
        w.refresh_training_images()

    def _entry_changed(self, path: str) -> None:
        w = self.window
        w.browser.refresh(path)
        if path != self.session.current:
            return
        entry = self.session.store[path]
        w.summary.show_entry(entry)
        w.box_tool.refresh_counts()
        w.annotator.refresh()
        if entry.status == ERROR and w.image_view.path != path:
            w.image_view.clear(f"Cannot count this file:\n{entry.error}")
        elif w.image_view.path == path:
            self._show_status_message(entry)

    def _show_status_message(self, entry) -> None:
        messages = {DONE: "", ERROR: f"Cannot count: {entry.error}", CANCELLED: "Counting cancelled (F5 counts again)"}
        self.window.image_view.set_message(messages.get(entry.status, "Counting…"))

    def _boxes_changed(self) -> None:
        w = self.window
        entry = w.box_tool.entry
        rows = [(box, w.box_tool.count(box)) for box in w.box_tool.boxes()]
        w.box_list.set_rows(rows, w.box_tool.selected)
        if entry is not None and entry.path == self.session.current:
            w.browser.refresh(entry.path)

    def prototype_chosen(self, prototype: int) -> None:
        w = self.window
        path = self.session.current
        if prototype == NONE:
            w.image_view.clear_similarity()
            w.prototypes.set_box_count(NONE, None)
        elif path:
            self.session.request_prototype(path, prototype, w.prototypes.percentile.value())

    def _prototype_overlay(self, path: str, prototype: int, similarity, boxes) -> None:
        w = self.window
        if path != self.session.current or prototype != w.prototypes.current() or self.session.model is None:
            return
        k_cell = self.session.model.k_cell
        name = f"{short_name(prototype, k_cell)} ({long_name(prototype, k_cell)})"
        w.image_view.show_similarity(path, prototype, similarity, boxes, prototype_color(prototype, k_cell), name)
        w.prototypes.set_box_count(prototype, len(boxes))
