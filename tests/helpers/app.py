"""Helpers of the pytest-qt tests of the desktop app (tests/app/; its fixtures are in tests/app/conftest.py):
small blob images, and real drops, drags and clicks on the main window."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PIL import Image

WAIT_MS = 120_000  # generous: the CPU is shared with a training job; tests assert no timings


def blob_png(path: Path, height: int, width: int, centres, seed: int = 0) -> Path:
    """A small RGB PNG with bright round blobs on a dark, slightly noisy background."""
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.random.default_rng(seed).uniform(0.0, 0.05, (height, width)).astype(np.float32)
    for cy, cx in centres:
        image += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 18.0)
    rgb = (np.stack([image * 0.3, image, image * 0.5], axis=2).clip(0, 1) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(path)
    return path


def open_window(qtbot, model_path, settings):
    """The app's main window on ``model_path``, shown, once its model has loaded."""
    from cxdesktop.main_window import MainWindow

    win = MainWindow(model_path=model_path, settings=settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.session.model is not None, timeout=WAIT_MS)
    return win


def drop_paths(window, paths) -> None:
    """Synthesise a drag-enter and a drop of local files/folders on the main window."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = window.rect().center()
    enter = QDragEnterEvent(centre, Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(centre), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    assert drop.isAccepted()


def wait_counted(qtbot, window, paths) -> None:
    store = window.session.store
    qtbot.waitUntil(lambda: all(str(p) in store and store[str(p)].status in ("done", "error", "cancelled")
                                for p in paths), timeout=WAIT_MS)


def drag_on_image(qtbot, window, start, end, steps: int = 8, modifiers=None) -> None:
    """A real left-button drag on the image canvas from ``start`` to ``end`` (view coordinates: image pixels)."""
    import pyqtgraph as pg
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    pg.setConfigOption("mouseRateLimit", -1)  # deliver every synthetic move
    view, canvas = window.image_view, window.image_view.canvas
    viewport = canvas.viewport()
    modifiers = Qt.KeyboardModifier.NoModifier if modifiers is None else modifiers

    def widget_point(x, y) -> QPointF:
        return QPointF(canvas.mapFromScene(view.viewbox.mapViewToScene(QPointF(x, y))))

    def send(kind, point, buttons) -> None:
        event = QMouseEvent(kind, point, QPointF(viewport.mapToGlobal(point.toPoint())), Qt.MouseButton.LeftButton,
                            buttons, modifiers)
        QApplication.sendEvent(viewport, event)

    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    send(QEvent.Type.MouseButtonPress, widget_point(*start), left)
    for i in range(1, steps + 1):
        t = i / steps
        x, y = start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1])
        send(QEvent.Type.MouseMove, widget_point(x, y), left)
    send(QEvent.Type.MouseButtonRelease, widget_point(*end), none)
    qtbot.wait(10)


def click_on_image(qtbot, window, x: float, y: float, button=None, modifiers=None) -> None:
    """A real mouse click (press and release, no move) on the image canvas at view point (x, y)."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    button = Qt.MouseButton.LeftButton if button is None else button
    modifiers = Qt.KeyboardModifier.NoModifier if modifiers is None else modifiers
    view, canvas = window.image_view, window.image_view.canvas
    viewport = canvas.viewport()
    point = QPointF(canvas.mapFromScene(view.viewbox.mapViewToScene(QPointF(x, y))))
    for kind, buttons in ((QEvent.Type.MouseButtonPress, button),
                          (QEvent.Type.MouseButtonRelease, Qt.MouseButton.NoButton)):
        event = QMouseEvent(kind, point, QPointF(viewport.mapToGlobal(point.toPoint())), button, buttons, modifiers)
        QApplication.sendEvent(viewport, event)
    qtbot.wait(5)


def block_worker(window) -> threading.Event:
    """Queue a job that holds the worker until the returned event is set (makes ordering deterministic)."""
    gate = threading.Event()
    started = threading.Event()

    def hold(ctx):
        started.set()
        gate.wait(60)

    window.runner.submit("gate", hold, tag="gate", priority=-1)
    assert started.wait(60), "the worker never picked up the gate job"
    return gate
