"""A ViewBox that pans and zooms, or, while a drawing tool is active, reports left drags.

Tools ("box", "measure") subscribe to ``sigDraw*``; points are in view coordinates,
which are original image pixels.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal

PAN, BOX, MEASURE = "pan", "box", "measure"


class ToolViewBox(pg.ViewBox):
    sigDrawStarted = Signal(str, object)  # tool, start QPointF
    sigDrawMoved = Signal(str, object, object)  # tool, start, current
    sigDrawFinished = Signal(str, object, object)  # tool, start, end

    def __init__(self) -> None:
        super().__init__(invertY=True, lockAspect=True, enableMenu=False)
        self.tool = PAN

    def set_tool(self, tool: str) -> None:
        self.tool = tool

    def mouseDragEvent(self, ev, axis=None) -> None:
        if self.tool == PAN or ev.button() != Qt.MouseButton.LeftButton:
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
