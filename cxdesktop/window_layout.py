"""The window's panels in their places: the Explain tabs (Image, Dots, Prototypes, Contributions, Gallery) in the
right dock, the image list in the left one, and the tool bar."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QFrame, QGroupBox, QScrollArea, QToolBar, QVBoxLayout, QWidget

from .views.explain_tabs import ExplainTabs

DOCK_WIDTHS = (330, 420)  # image list, Explain: the first start's widths
TOOLBAR_ACTIONS = ("open_images", "open_folder", None, "tool_pan", "tool_box", "tool_measure", "tool_annotate", None,
                   "export_csv", "train_model")  # None: a separator


def explain_tabs(window) -> ExplainTabs:
    """The Explain tabs over the window's panels; the Image tab holds the summary, cell size, pixel size and boxes."""
    image_tab = QWidget()
    layout = QVBoxLayout(image_tab)
    layout.addWidget(window.summary)
    for title, widget in (("Cell size", window.cell_size), ("Pixel size", window.pixel_size),
                          ("Boxes", window.box_list)):
        group = QGroupBox(title)
        QVBoxLayout(group).addWidget(widget)
        layout.addWidget(group)
    layout.addStretch(1)
    tabs = ExplainTabs()
    image_page = _scrolling(image_tab)
    annotate_tab = QWidget()
    annotate_layout = QVBoxLayout(annotate_tab)
    annotate_layout.addWidget(window.annotation_panel)
    annotate_layout.addStretch(1)
    for widget, title, tooltip in (
            (image_page, "Image", "The image's count, cell size and boxes"),
            (annotate_tab, "Dots", "Annotate: click cells to place dots, for training"),
            (window.prototypes, "Prototypes", "Where each prototype fires on this image"),
            (window.contributions, "Contrib.",
             "Contributions: how much each prototype added to (or took from) the count"),
            (window.gallery, "Gallery", "The training patches each prototype stands for")):
        tabs.add(widget, title, tooltip)
    return tabs


def _scrolling(page: QWidget) -> QScrollArea:
    """``page`` in a vertical scroll area, so a short window scrolls it instead of growing to its height."""
    area = QScrollArea()
    area.setWidget(page)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    page.setMinimumWidth(page.minimumSizeHint().width())
    area.setMinimumWidth(page.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width())
    return area


def docks(window, browser: QWidget, tabs: QWidget) -> list[QDockWidget]:
    """The image list docked left and the Explain tabs right, in ``DOCK_WIDTHS``' order."""
    return [_dock(window, "Images", browser, Qt.DockWidgetArea.LeftDockWidgetArea, 200),
            _dock(window, "Explain", tabs, Qt.DockWidgetArea.RightDockWidgetArea, 300)]


def _dock(window, title: str, widget: QWidget, area, width: int) -> QDockWidget:
    dock = QDockWidget(title, window)
    dock.setObjectName(f"{title.lower()}Dock")
    dock.setWidget(widget)
    features = QDockWidget.DockWidgetFeature
    dock.setFeatures(features.DockWidgetMovable | features.DockWidgetFloatable)
    widget.setMinimumWidth(max(width, widget.minimumSizeHint().width()))
    window.addDockWidget(area, dock)
    return dock


def add_toolbar(window, actions: dict) -> None:
    toolbar = QToolBar("Tools", window)
    toolbar.setObjectName("toolsToolbar")
    toolbar.setMovable(False)
    for name in TOOLBAR_ACTIONS:
        if name is None:
            toolbar.addSeparator()
        else:
            toolbar.addAction(actions[name])
    window.addToolBar(toolbar)
