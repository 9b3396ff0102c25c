"""A ViewBox that pans and zooms, or, while a drawing tool is active, reports left drags.

Tools ("box", "measure") subscribe to ``sigDraw*``; points are in view coordinates,
which are original image pixels. The "annotate" tool reports left and right clicks
(``sigClicked``), Shift+left drags (the eraser) and left drags that start on what ``grabs`` says
is there (a dot, moved); any other drag still pans.
"""

from __future__ import annotations

from typing import Callable

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal

PAN, BOX, MEASURE, ANNOTATE = "pan", "box", "measure", "annotate"


class ToolViewBox(pg.ViewBox):
    sigDrawStarted = Signal(str, object)  # tool, start QPointF
    sigDrawMoved = Signal(str, object, object)  # tool, start, current
    sigDrawFinished = Signal(str, object, object)  # tool, start, end
    sigClicked = Signal(str, object, object, object)  # tool, QPointF, Qt.MouseButton, Qt.KeyboardModifier

    def __init__(self) -> None:
        super().__init__(invertY=True, lockAspect=True, enableMenu=False)
        self.tool = PAN
        self._drawing = False
        # annotate: does a drag from this view point move something?
        self.grabs: Callable[[QPointF], bool] | None = None

    def set_tool(self, tool: str) -> None:
        self.tool = tool

    def mouseClickEvent(self, ev) -> None:
        if self.tool != ANNOTATE or ev.button() not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            super().mouseClickEvent(ev)
            return
        ev.accept()
        self.sigClicked.emit(self.tool, QPointF(self.mapSceneToView(ev.scenePos())), ev.button(), ev.modifiers())

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.isStart():  # decided once per drag: Shift may be let go while erasing
            shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self._drawing = (self.tool != PAN and ev.button() == Qt.MouseButton.LeftButton
                             and (self.tool != ANNOTATE or shift or self._grabs(ev)))
        if not self._drawing:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        start = QPointF(self.mapSceneToView(ev.buttonDownScenePos()))
        now = QPointF(self.mapSceneToView(ev.scenePos()))
        if ev.isStart():
            self.sigDrawStarted.emit(self.tool, start)
        self.sigDrawMoved.emit(self.tool, start, now)
        if ev.isFinish():
            self.sigDrawFinished.emit(self.tool, start, now)

    def _grabs(self, ev) -> bool:
        return self.grabs is not None and self.grabs(QPointF(self.mapSceneToView(ev.buttonDownScenePos())))
