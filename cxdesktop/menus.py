"""The menu bar, declared as data: every action's text, shortcut and handler name."""

from __future__ import annotations

from typing import Callable

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenuBar

MENUS = (
    ("&File", (("open_images", "Open images…", "Ctrl+O"), ("open_folder", "Open folder…", "Ctrl+Shift+O"),
               ("open_samples", "Open sample images", ""), None,
               ("export_csv", "Export counts (CSV)…", "Ctrl+E"), ("export_density", "Export density map…", "Ctrl+D"),
               ("export_figure", "Export explanation figure…", "Ctrl+Shift+E"),
               ("export_all_figures", "Export explanation figures for all images…", ""), None,
               ("quit", "Quit", "Ctrl+Q"))),
    ("&Image", (("recount", "Count again", "F5"), ("recount_all", "Count all again", "Shift+F5"),
                ("cancel_batch", "Cancel counting", "Ctrl+."))),
    ("&Tools", (("tool_pan", "Pan and zoom", "P"), ("tool_box", "Draw box", "B"), ("tool_measure", "Measure cell", "M"),
                None, ("delete_box", "Delete selected box", "Del"),
                ("toggle_density", "Show/hide density overlay", "O"),
                ("reset_view", "Fit image in view", "Ctrl+0"))),
    ("&Annotate", (("tool_annotate", "Annotate dots", "A"), None, ("undo_dots", "Undo dot change", "Ctrl+Z"),
                   ("redo_dots", "Redo dot change", "Ctrl+Shift+Z"), None,
                   ("propose_dots", "Propose dots from the model", "Ctrl+Shift+P"),
                   ("import_dots", "Import dots (CSV or dot PNG)…", ""), ("export_dots", "Export dots (CSV)…", ""))),
    ("&View", (("batch_summary", "Batch summary", "Ctrl+B"),)),
    ("&Model", (("open_model", "Open model…", "Ctrl+M"), ("default_model", "Use default model", ""), None,
                ("train_model", "Train a model…", "Ctrl+T"), None, ("model_card", "Model card…", ""))),
    ("&Help", (("guide", "User guide", ""), ("shortcuts", "Shortcuts", "F1"), ("about", "About", ""))),
)
TOOLS = ("tool_pan", "tool_box", "tool_measure", "tool_annotate")


def build_menus(menubar: QMenuBar, handlers: dict[str, Callable[[], None]]) -> dict[str, QAction]:
    """Create the menus; ``handlers`` maps each action name to what it does."""
    actions: dict[str, QAction] = {}
    tools = QActionGroup(menubar)
    tools.setExclusive(True)
    for title, items in MENUS:
        menu = menubar.addMenu(title)
        for item in items:
            if item is None:
                menu.addSeparator()
                continue
            name, text, shortcut = item
            action = QAction(text, menubar)
            action.setObjectName(name)
            if shortcut:
                action.setShortcut(QKeySequence(shortcut))
            if name in TOOLS:
                action.setCheckable(True)
                tools.addAction(action)
            action.triggered.connect(lambda _checked=False, n=name: handlers[n]())
            menu.addAction(action)
            actions[name] = action
    actions["tool_pan"].setChecked(True)
    return actions
