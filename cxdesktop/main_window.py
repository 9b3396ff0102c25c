"""The main window: composes the panels, the menus and the status bar, and routes signals.

Layout: image list (left dock), the image with its overlays (centre), and the explanation
tabs (right dock: Image, Dots, Prototypes, Contributions, Gallery). The window owns the
one ``JobRunner``; ``Session`` turns requests into jobs. Per-image results are drawn by
``CurrentImage``, only when their path is ``session.current``. Dot annotation is the
``Annotator``'s; training runs through the ``TrainingController``, shown in a non-modal
``TrainingDialog``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMainWindow, QWidget

from countxplain.resources import default_model_path

from . import APP_NAME
from .annotator import Annotator
from .browser import BrowserPanel
from .current_image import EMPTY_HINT, CurrentImage
from .dialogs import TextDialog, about_html, shortcuts_html, show_error
from .dot_wiring import wire_dots
from .exporter import Exporter
from .jobs import JobRunner
from .menus import build_menus
from .opening import Opener
from .plane_wiring import wire_planes
from .recent_folders import install_recent_menu
from .session import Session
from .session_keeper import SessionKeeper
from .settings import Settings
from .status_bar import StatusBar
from .training_control import TrainingController
from .views.annotation_panel import AnnotationPanel
from .views.batch_view import show_batch
from .views.boxes import BoxListPanel, BoxTool
from .views.cell_size import CellSizePanel, MeasureTool
from .views.contributions import ContributionsView
from .views.gallery import GalleryView
from .views.image_view import ImageView
from .views.pixel_size import PixelSizePanel
from .views.prototypes import PrototypePanel
from .views.restore_banner import RestoreBanner
from .views.summary import SummaryPanel
from .views.tool_viewbox import ANNOTATE, BOX, MEASURE, PAN
from .window_layout import DOCK_WIDTHS, add_toolbar, docks, explain_tabs

TOOL_ACTIONS = {PAN: "tool_pan", BOX: "tool_box", MEASURE: "tool_measure", ANNOTATE: "tool_annotate"}


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
        add_toolbar(self, self.menu_actions)
        self._connect()
        self._restore()
        self._keep_work()
        wire_dots(self)
        wire_planes(self)
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
        self.pixel_size = PixelSizePanel()
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

        self.current_image = CurrentImage(self)
        self.tabs = explain_tabs(self)
        self.docks = docks(self, self.browser, self.tabs)

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

    def _handlers(self) -> dict:
        return {
            "open_images": self.opener.ask_images, "open_folder": self.opener.ask_folder,
            "open_samples": self.opener.open_samples,
            "export_csv": lambda: self.exporter.export_counts(),
            "export_density": lambda: self.exporter.export_density(),
            "export_figure": lambda: self.exporter.export_figure(),
            "export_all_figures": lambda: self.exporter.export_all_figures(), "quit": self.close,
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
        self.current_image.connect()
        s.sigEntriesAdded.connect(self.browser.add_paths)
        self.browser.sigRemoveRequested.connect(s.remove_paths)
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
        self.box_list.sigSelected.connect(self.box_tool.select)
        self.box_list.sigRemove.connect(self.box_tool.remove)
        self.box_list.sigRemoveAll.connect(self.box_tool.remove_all)

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
        self.refresh_training_images()

    def refresh_training_images(self) -> None:
        if self.training_dialog is not None and self.training_dialog.isVisible():
            self.training_dialog.panel.refresh_images()

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
