"""The main window: composes the panels, the menus and the status bar, and routes signals.

Layout: image list (left dock), the image with its overlays (centre), and the explanation
tabs (right dock: Image, Dots, Prototypes, Contributions, Gallery). The window owns the
one ``JobRunner``; ``Session`` turns requests into jobs. Per-image results are drawn only
when their path is ``session.current``. Dot annotation is the ``Annotator``'s; training
runs through the ``TrainingController``, shown in a non-modal ``TrainingDialog``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QGroupBox, QMainWindow, QToolBar, QVBoxLayout, QWidget

from countxplain.resources import default_model_path

from . import APP_NAME
from .annotator import Annotator
from .browser import BrowserPanel
from .dialogs import TextDialog, about_html, shortcuts_html, show_error
from .dot_wiring import wire_dots
from .exporter import Exporter
from .jobs import JobRunner
from .menus import build_menus
from .opening import Opener
from .palette import long_name, prototype_color, short_name
from .recent_folders import install_recent_menu
from .session import Session
from .session_keeper import SessionKeeper
from .settings import Settings
from .status_bar import StatusBar
from .store import CANCELLED, DONE, ERROR
from .training_control import TrainingController
from .views.annotation_panel import AnnotationPanel
from .views.batch_view import show_batch
from .views.boxes import BoxListPanel, BoxTool
from .views.cell_size import CellSizePanel, MeasureTool
from .views.contributions import ContributionsView
from .views.explain_tabs import ExplainTabs
from .views.gallery import GalleryView
from .views.image_view import ImageView
from .views.prototypes import NONE, PrototypePanel
from .views.restore_banner import RestoreBanner
from .views.summary import SummaryPanel
from .views.tool_viewbox import ANNOTATE, BOX, MEASURE, PAN

DOCK_WIDTHS = (330, 420)  # image list, Explain: the first start's widths
TOOL_ACTIONS = {PAN: "tool_pan", BOX: "tool_box", MEASURE: "tool_measure", ANNOTATE: "tool_annotate"}


EMPTY_HINT = ("Drop images or a folder here\n"
              "or use File › Open images… (Ctrl+O)\n\n"
              "File › Open sample images lists three bundled ones")


class MainWindow(QMainWindow):
    def __init__(self, model_path: str | Path | None = None, settings: Settings | None = None) -> None:
        super().__init__()
        self.setWindowTitle(APP_NAME)
        self.setObjectName("mainWindow")
        self.settings = settings or Settings()
        self.runner = JobRunner(self)
        self.session = Session(self.runner, self)
        self.session.device_pref = self.settings.device
        self.session.precision_pref = self.settings.precision
        self.session.flips_pref = self.settings.flips
        self._dialogs: list[QWidget] = []
        self.training = TrainingController(self.session, parent=self)
        self.training_dialog = None
        self._build()
        self.menu_actions = build_menus(self.menuBar(), self._handlers())
        self._build_toolbar()
        self._connect()
        self._restore()
        self._keep_work()
        wire_dots(self)
        for child in self.findChildren(QWidget):  # drops anywhere in the window reach dropEvent below
            child.setAcceptDrops(False)
        self.setAcceptDrops(True)
        self.image_view.set_message(EMPTY_HINT)
        self.session.probe_devices()
        self.session.load_model(model_path or default_model_path())

    # ---- construction ----
    def _build(self) -> None:
        self.browser = BrowserPanel(self.session.store)
        self.image_view = ImageView(self.settings.colormap, self.settings.overlay_opacity)
        self.setCentralWidget(self.image_view)
        self.summary = SummaryPanel()
        self.cell_size = CellSizePanel()
        self.box_list = BoxListPanel()
        self.prototypes = PrototypePanel()
        self.contributions = ContributionsView()
        self.gallery = GalleryView()
        self.box_tool = BoxTool(self.image_view, self)
        self.measure_tool = MeasureTool(self.image_view, self)
        self.annotation_panel = AnnotationPanel()
        self.annotator = Annotator(self.session, self.image_view, self.annotation_panel, self.settings, self)
        self.exporter = Exporter(self.session, self.settings, self)
        self.status = StatusBar(self.session.device_pref, self.session.precision_pref, self.session.flips_pref)
        self.setStatusBar(self.status)
        self.opener = Opener(self, self.session, self.settings, self.browser, self.status)

        image_tab = QWidget()
        layout = QVBoxLayout(image_tab)
        layout.addWidget(self.summary)
        for title, widget in (("Cell size", self.cell_size), ("Boxes", self.box_list)):
            group = QGroupBox(title)
            QVBoxLayout(group).addWidget(widget)
            layout.addWidget(group)
        layout.addStretch(1)
        self.tabs = ExplainTabs()
        annotate_tab = QWidget()
        annotate_layout = QVBoxLayout(annotate_tab)
        annotate_layout.addWidget(self.annotation_panel)
        annotate_layout.addStretch(1)
        for widget, title, tooltip in (
                (image_tab, "Image", "The image's count, cell size and boxes"),
                (annotate_tab, "Dots", "Annotate: click cells to place dots, for training"),
                (self.prototypes, "Prototypes", "Where each prototype fires on this image"),
                (self.contributions, "Contrib.",
                 "Contributions: how much each prototype added to (or took from) the count"),
                (self.gallery, "Gallery", "The training patches each prototype stands for")):
            self.tabs.add(widget, title, tooltip)
        self.docks = [self._dock("Images", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea, 200),
                      self._dock("Explain", self.tabs, Qt.DockWidgetArea.RightDockWidgetArea, 300)]

    def _keep_work(self) -> None:
        """The previous session's offer, saving this one as it changes, and File › Recent folders."""
        self.restore_banner = RestoreBanner(self)
        self.addToolBarBreak()
        self.addToolBar(self.restore_banner)
        self.keeper = SessionKeeper(self, self.restore_banner)
        self.recent_menu = install_recent_menu(self.menuBar().actions()[0].menu(), self.menu_actions["open_samples"],
                                               self.opener.recent)
        self.recent_menu.sigFolderChosen.connect(lambda folder: self.open_paths([folder]))
        self.keeper.offer_previous()

    def _dock(self, title: str, widget: QWidget, area, width: int) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title.lower()}Dock")
        dock.setWidget(widget)
        features = QDockWidget.DockWidgetFeature
        dock.setFeatures(features.DockWidgetMovable | features.DockWidgetFloatable)
        widget.setMinimumWidth(max(width, widget.minimumSizeHint().width()))
        self.addDockWidget(area, dock)
        return dock

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Tools", self)
        toolbar.setObjectName("toolsToolbar")
        toolbar.setMovable(False)
        for name in ("open_images", "open_folder", None, "tool_pan", "tool_box", "tool_measure", "tool_annotate", None,
                     "export_csv", "train_model"):
            if name is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(self.menu_actions[name])
        self.addToolBar(toolbar)

    def _handlers(self) -> dict:
        return {
            "open_images": self.opener.ask_images, "open_folder": self.opener.ask_folder,
            "open_samples": self.opener.open_samples,
            "export_csv": lambda: self.exporter.export_counts(),
            "export_density": lambda: self.exporter.export_density(),
            "export_figure": lambda: self.exporter.export_figure(), "quit": self.close,
            "recount": lambda: self.session.recount([self.session.current] if self.session.current else []),
            "recount_all": lambda: self.session.recount(self.session.store.paths()),
            "cancel_batch": self.session.cancel_batch,
            "tool_pan": lambda: self.set_tool(PAN), "tool_box": lambda: self.set_tool(BOX),
            "tool_measure": lambda: self.set_tool(MEASURE), "delete_box": self.box_tool.delete_selected,
            "tool_annotate": lambda: self.set_tool(ANNOTATE), "undo_dots": self.annotator.undo,
            "redo_dots": self.annotator.redo, "propose_dots": self.annotator.propose,
            "import_dots": lambda: self.annotator.import_dots(), "export_dots": lambda: self.annotator.export_dots(),
            "train_model": self.show_training,
            "toggle_density": self.image_view.toggle_density, "reset_view": self.image_view.reset_view,
            "open_model": self.opener.ask_model, "default_model": lambda: self.open_model(default_model_path()),
            "batch_summary": lambda: show_batch(self),
            "model_card": self.show_model_card, "guide": self.show_guide, "shortcuts": self.show_shortcuts,
            "about": self.show_about,
        }

    def _connect(self) -> None:
        s = self.session
        self.browser.sigCurrentChanged.connect(self.show_image)
        s.sigEntriesAdded.connect(self.browser.add_paths)
        s.sigEntriesRemoved.connect(self._entries_removed)
        self.browser.sigRemoveRequested.connect(s.remove_paths)
        s.sigEntryChanged.connect(self._entry_changed)
        s.sigPixelsReady.connect(self._pixels_ready)
        s.sigAnalysisReady.connect(self._analysis_ready)
        s.sigPrototypeOverlay.connect(self._prototype_overlay)
        s.sigModelLoading.connect(self.status.set_model_loading)
        s.sigModelLoaded.connect(self._model_loaded)
        s.sigModelFailed.connect(self._model_failed)
        s.sigDevices.connect(self._devices_probed)
        s.sigBatchProgress.connect(self.status.set_batch)
        s.sigExplanationDone.connect(lambda png, js: self.status.showMessage(f"Explanation written: {png}", 10000))
        s.sigJobFailed.connect(lambda title, message: show_error(self, title, message))
        self.status.sigCancelBatch.connect(s.cancel_batch)
        self.status.device_picker.sigDeviceChosen.connect(self._device_chosen)
        self.status.precision_picker.sigPrecisionChosen.connect(self._precision_chosen)
        self.status.flips_picker.sigFlipsChosen.connect(self._flips_chosen)
        self.image_view.overlay.sigOpacityChanged.connect(lambda v: setattr(self.settings, "overlay_opacity", v))
        self.image_view.overlay.sigColormapChanged.connect(lambda name: setattr(self.settings, "colormap", name))
        self.cell_size.sigDiameterChanged.connect(self._diameter_changed)
        self.cell_size.sigApplyToFolder.connect(self._diameter_to_folder)
        self.cell_size.measure_button.toggled.connect(lambda on: self.set_tool(MEASURE if on else PAN))
        self.measure_tool.sigMeasured.connect(self.cell_size.set_from_measure)
        self.annotation_panel.mode_button.toggled.connect(lambda on: self.set_tool(ANNOTATE if on else PAN))
        self.annotator.sigDotsChanged.connect(self._dots_changed)
        self.box_tool.sigBoxesChanged.connect(self._boxes_changed)
        self.box_list.sigSelected.connect(self.box_tool.select)
        self.box_list.sigRemove.connect(self.box_tool.remove)
        self.box_list.sigRemoveAll.connect(self.box_tool.remove_all)
        self.prototypes.sigPrototypeChosen.connect(self._prototype_chosen)
        self.image_view.sigDensityRequested.connect(lambda: self.prototypes.choose(NONE))
        self.prototypes.sigPercentileChanged.connect(lambda _: self._prototype_chosen(self.prototypes.current()))

    def _restore(self) -> None:
        geometry = self.settings.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1400, 880)
        state = self.settings.window_state()
        self._dock_widths_pending = state is None or not self.restoreState(state)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dock_widths_pending:  # before the first show the docks' layout ignores resizeDocks
            self._dock_widths_pending = False
            QTimer.singleShot(0, lambda: self.resizeDocks(self.docks, list(DOCK_WIDTHS), Qt.Orientation.Horizontal))

    # ---- opening ----
    def open_paths(self, paths) -> list[str]:
        return self.opener.open_paths(paths)

    def open_model(self, path: str | Path) -> None:
        self.opener.open_model(path)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # ---- the current image ----
    def show_image(self, path: str | None) -> None:
        entry = self.session.store.get(path) if path else None
        self.summary.show_entry(entry)
        self.box_tool.set_entry(entry)
        self.annotator.set_entry(entry)
        self.measure_tool.clear()
        self.cell_size.set_value(entry.cell_diameter_px if entry else None)
        self.contributions.clear()
        self.prototypes.set_contributions(None)
        if entry is None:
            self.image_view.clear(EMPTY_HINT)
        elif self.session.pixels(path) is None:
            self.image_view.clear(f"Cannot count this file:\n{entry.error}" if entry.status == ERROR else "Loading…")
        self.session.set_current(path)

    def _pixels_ready(self, path: str) -> None:
        if path != self.session.current:
            return
        self.image_view.show_image(path, self.session.pixels(path))
        self._show_status_message(self.session.store[path])

    def _analysis_ready(self, path: str) -> None:
        if path != self.session.current:
            return
        entry = self.session.store[path]
        analysis = entry.analysis
        self.image_view.show_density(path, analysis.result)
        self.image_view.set_message("")
        self.contributions.show_contributions(analysis.contributions, entry.count)
        self.prototypes.set_contributions(analysis.contributions)
        self.summary.show_entry(entry)
        self.box_tool.refresh_counts()
        self.annotator.refresh()
        if self.prototypes.current() != NONE:
            self._prototype_chosen(self.prototypes.current())

    def _entries_removed(self, paths: list[str]) -> None:
        self.browser.remove_paths(paths)  # the current row moves to a neighbour, which is then shown
        if self.session.current is None and self.browser.current_path() is None:
            self.show_image(None)
        self._refresh_training_images()

    def _entry_changed(self, path: str) -> None:
        self.browser.refresh(path)
        if path != self.session.current:
            return
        entry = self.session.store[path]
        self.summary.show_entry(entry)
        self.box_tool.refresh_counts()
        self.annotator.refresh()
        if entry.status == ERROR and self.image_view.path != path:
            self.image_view.clear(f"Cannot count this file:\n{entry.error}")
        elif self.image_view.path == path:
            self._show_status_message(entry)

    def _show_status_message(self, entry) -> None:
        messages = {DONE: "", ERROR: f"Cannot count: {entry.error}", CANCELLED: "Counting cancelled (F5 counts again)"}
        self.image_view.set_message(messages.get(entry.status, "Counting…"))

    def _boxes_changed(self) -> None:
        entry = self.box_tool.entry
        rows = [(box, self.box_tool.count(box)) for box in self.box_tool.boxes()]
        self.box_list.set_rows(rows, self.box_tool.selected)
        if entry is not None and entry.path == self.session.current:
            self.browser.refresh(entry.path)

    def _diameter_changed(self, diameter: float) -> None:
        if self.session.current:
            self.session.set_cell_diameter([self.session.current], diameter)
            self.annotator.refresh()

    def _diameter_to_folder(self, diameter: float) -> None:
        entry = self.session.store.get(self.session.current) if self.session.current else None
        if entry is not None:
            self.session.set_cell_diameter([e.path for e in self.session.store.in_folder(entry.folder)], diameter)
            self.annotator.refresh()

    def set_tool(self, tool: str) -> None:
        if tool == ANNOTATE and not self.annotator.may_annotate():
            tool = PAN
        self.image_view.viewbox.set_tool(tool)
        self.menu_actions[TOOL_ACTIONS[tool]].setChecked(True)
        for button, own in ((self.cell_size.measure_button, MEASURE), (self.annotation_panel.mode_button, ANNOTATE)):
            button.blockSignals(True)
            button.setChecked(tool == own)
            button.blockSignals(False)
        if tool == ANNOTATE:
            self.tabs.setCurrentWidget(self.annotation_panel.parentWidget())

    def _dots_changed(self, path: str) -> None:
        self._refresh_training_images()

    def _refresh_training_images(self) -> None:
        if self.training_dialog is not None and self.training_dialog.isVisible():
            self.training_dialog.panel.refresh_images()

    # ---- prototypes ----
    def _prototype_chosen(self, prototype: int) -> None:
        path = self.session.current
        if prototype == NONE:
            self.image_view.clear_similarity()
            self.prototypes.set_box_count(NONE, None)
        elif path:
            self.session.request_prototype(path, prototype, self.prototypes.percentile.value())

    def _prototype_overlay(self, path: str, prototype: int, similarity, boxes) -> None:
        if path != self.session.current or prototype != self.prototypes.current() or self.session.model is None:
            return
        k_cell = self.session.model.k_cell
        name = f"{short_name(prototype, k_cell)} ({long_name(prototype, k_cell)})"
        self.image_view.show_similarity(path, prototype, similarity, boxes, prototype_color(prototype, k_cell), name)
        self.prototypes.set_box_count(prototype, len(boxes))

    # ---- model and device ----
    def _model_loaded(self, info) -> None:
        self.status.set_model(info)
        self.prototypes.set_model(info)
        self.contributions.set_model(info)
        self.gallery.set_model(info)
        self.cell_size.set_native(info.cell_diameter_px)
        self.status.device_picker.set_choice(self.session.device_pref)
        self.annotator.refresh()

    def _model_failed(self, message: str, user: bool) -> None:
        if self.session.model is None:
            self.status.set_model_error(message)
        else:
            self.status.set_model(self.session.model)
        show_error(self, "Cannot use this model" if user else "No model loaded", message)

    def _devices_probed(self, devices: dict) -> None:
        self.status.device_picker.set_devices(devices)
        self.status.device_picker.set_choice(self.session.device_pref)

    def _device_chosen(self, device: str) -> None:
        self.settings.device = device
        self.session.set_device(device)

    def _precision_chosen(self, precision: str) -> None:
        self.settings.precision = precision
        self.session.set_precision(precision)

    def _flips_chosen(self, flips: int) -> None:
        self.settings.flips = flips
        self.session.set_flips(flips)

    # ---- dialogs ----
    def _show_dialog(self, title: str, body: str) -> TextDialog:
        dialog = TextDialog(title, body, self)
        dialog.setObjectName(title.lower().replace(" ", "_"))
        return self._show(dialog)

    def _show(self, dialog: QWidget) -> QWidget:
        dialog.show()
        self._dialogs = [d for d in self._dialogs if d.isVisible()] + [dialog]
        return dialog

    def show_model_card(self):
        if self.session.model is None:
            return show_error(self, "Model card", "No model is loaded.")
        from .views.model_card import ModelCardDialog

        return self._show(ModelCardDialog(self.session.model, self))

    def show_guide(self):
        from .views.guide import GuideDialog

        return self._show(GuideDialog(self))

    def show_training(self):
        """The training window (made at first use; it stays, with its run, when closed)."""
        if self.training_dialog is None:
            from .views.training import TrainingDialog

            self.training_dialog = TrainingDialog(self.training, self.session, self.settings, self)
        self.training_dialog.panel.refresh_images()
        self.training_dialog.show()
        self.training_dialog.raise_()
        return self.training_dialog

    def show_shortcuts(self):
        return self._show_dialog("Shortcuts", shortcuts_html(self.menu_actions))

    def show_about(self):
        return self._show_dialog(f"About {APP_NAME}", about_html())

    def closeEvent(self, event) -> None:
        if not self.keeper.confirm_quit():
            event.ignore()
            return
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.runner.shutdown()
        super().closeEvent(event)
