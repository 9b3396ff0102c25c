"""The dots of the image on screen, drawn one cell diameter wide in their type's colour, and the mouse in
annotate mode.

Dots use the pixel convention of ``countxplain.annotations``: the dot of pixel (column c,
row r) is (c, r), drawn at view point (c + 0.5, r + 0.5) since the view's unit square
[c, c + 1) is that pixel. In the "annotate" tool the layer turns the view box's mouse
into requests: a left click adds (``sigAddRequested``), a right click or Shift+click
removes the nearest dot (``sigRemoveRequested``), a Shift+drag is an eraser stroke
(``sigEraseStarted``, ``sigErase`` per move, ``sigEraseFinished``), and a drag that starts on a
dot carries it along and asks for it to be moved when let go (``sigMoveRequested``); a number key 1-9
pressed on the canvas asks for that counter type, for the dot under the pointer if there is one
(``sigTypeKeyPressed`` with the dot's index, else -1). The
annotator applies them to the image's ``DotAnnotation`` and calls ``set_dots``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem

from .tool_viewbox import ANNOTATE

DOT_COLOR = QColor("#00e5ff")
ERASER_COLOR = QColor("#ff5252")
MIN_DIAMETER_PX = 3.0


class DotMarkers(pg.ScatterPlotItem):
    """Circles in image pixels that let clicks through to the view box (a click on a dot adds another)."""

    def mouseClickEvent(self, ev) -> None:
        ev.ignore()


class DotLayer(QObject):
    sigAddRequested = Signal(float, float)  # x, y (dot coordinates)
    sigRemoveRequested = Signal(float, float)
    sigEraseStarted = Signal()
    sigErase = Signal(float, float)
    sigEraseFinished = Signal()
    sigMoveRequested = Signal(int, float, float)  # dot index, new x, y
    sigTypeKeyPressed = Signal(int, int)  # dot index under the pointer (-1: none), type number 1-9

    def __init__(self, image_view, parent=None) -> None:
        super().__init__(parent)
        self.view = image_view
        self.diameter = 10.0
        self._dots = np.zeros((0, 2))
        self._colors: list[str] = []
        self._moving: int | None = None  # the dot a drag carries
        self._pointer: QPointF | None = None  # the mouse over the canvas, in view coordinates
        self.markers = DotMarkers(pxMode=False, symbol="o")
        self.markers.setZValue(25)
        image_view.viewbox.addItem(self.markers)
        self.eraser = QGraphicsEllipseItem()
        eraser_pen = QPen(ERASER_COLOR, 1.5, Qt.PenStyle.DashLine)
        eraser_pen.setCosmetic(True)
        self.eraser.setPen(eraser_pen)
        self.eraser.setZValue(26)
        self.eraser.hide()
        image_view.viewbox.addItem(self.eraser)
        vb = image_view.viewbox
        vb.grabs = self._grabs
        vb.sigClicked.connect(self._clicked)
        vb.sigDrawStarted.connect(self._stroke_started)
        vb.sigDrawMoved.connect(self._stroke_moved)
        vb.sigDrawFinished.connect(self._stroke_finished)
        image_view.canvas.scene().sigMouseMoved.connect(self._pointer_moved)
        image_view.canvas.installEventFilter(self)

    @property
    def radius(self) -> float:
        """How near a click must be to a dot to remove it, and the eraser's radius."""
        return self.diameter / 2

    def set_dots(self, dots: np.ndarray, colors: list[str] | None = None) -> None:
        """The dots to draw, each in its colour (``#rrggbb``; all ``DOT_COLOR`` when not given)."""
        self._dots = np.asarray(dots, dtype=float).reshape(-1, 2)
        self._colors = list(colors) if colors is not None else [DOT_COLOR.name()] * len(self._dots)
        self._redraw()

    def shown_colors(self) -> list[str]:
        """The outline colour of each dot drawn now."""
        return [pen.color().name() for pen in self.markers.data["pen"]] if len(self.markers.data) else []

    def shown_dots(self) -> np.ndarray:
        """The dots drawn now, in dot coordinates."""
        x, y = self.markers.getData()
        return np.stack([np.asarray(x) - 0.5, np.asarray(y) - 0.5], axis=1) if len(x) else np.zeros((0, 2))

    def set_diameter(self, diameter: float) -> None:
        self.diameter = max(MIN_DIAMETER_PX, float(diameter))
        self._redraw()

    def set_visible(self, visible: bool) -> None:
        self.markers.setVisible(visible)

    def _redraw(self) -> None:
        if len(self._dots):
            pens, brushes = zip(*(_pen_and_brush(color) for color in self._colors))
            self.markers.setData(pos=self._dots + 0.5, size=self.diameter, pen=list(pens), brush=list(brushes))
        else:
            self.markers.clear()

    # ---- the mouse (annotate tool) ----
    def _clicked(self, tool: str, point: QPointF, button, modifiers) -> None:
        if tool != ANNOTATE:
            return
        x, y = point.x() - 0.5, point.y() - 0.5
        shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
        if button == Qt.MouseButton.RightButton or shift:
            self.sigRemoveRequested.emit(x, y)
        else:
            self.sigAddRequested.emit(x, y)

    def _dot_at(self, point: QPointF | None) -> int | None:
        """The dot nearest the view point ``point`` within the marker's radius, or None."""
        if point is None or not len(self._dots):
            return None
        distances = np.hypot(self._dots[:, 0] + 0.5 - point.x(), self._dots[:, 1] + 0.5 - point.y())
        nearest = int(np.argmin(distances))
        return nearest if distances[nearest] <= self.radius else None

    def _grabs(self, point: QPointF) -> bool:
        """Whether a drag from ``point`` carries a dot: the nearest within the marker's radius."""
        self._moving = self._dot_at(point)
        return self._moving is not None

    def _pointer_moved(self, scene_pos) -> None:
        self._pointer = QPointF(self.view.viewbox.mapSceneToView(scene_pos))

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if (event.type() == QEvent.Type.KeyPress and self.view.viewbox.tool == ANNOTATE
                and Qt.Key.Key_1 <= event.key() <= Qt.Key.Key_9
                and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier):
            dot = self._dot_at(self._pointer)
            self.sigTypeKeyPressed.emit(-1 if dot is None else dot, event.key() - Qt.Key.Key_0)
            return True
        return super().eventFilter(watched, event)

    def _stroke_started(self, tool: str, start: QPointF) -> None:
        if tool == ANNOTATE and self._moving is None:
            self.sigEraseStarted.emit()

    def _stroke_moved(self, tool: str, start: QPointF, now: QPointF) -> None:
        if tool != ANNOTATE:
            return
        if self._moving is not None:
            self._carry(start, now)
            return
        r = self.radius
        self.eraser.setRect(QRectF(now.x() - r, now.y() - r, 2 * r, 2 * r))
        self.eraser.show()
        self.sigErase.emit(now.x() - 0.5, now.y() - 0.5)

    def _stroke_finished(self, tool: str, start: QPointF, end: QPointF) -> None:
        if tool != ANNOTATE:
            return
        moving, self._moving = self._moving, None
        if moving is not None:
            dot = self._dots[moving] + (end.x() - start.x(), end.y() - start.y())
            self.sigMoveRequested.emit(moving, float(dot[0]), float(dot[1]))
            return
        self.eraser.hide()
        self.sigEraseFinished.emit()

    def _carry(self, start: QPointF, now: QPointF) -> None:
        """Draw the carried dot where the mouse is (the annotation changes only when it is let go)."""
        shown = self._dots + 0.5
        shown[self._moving] += (now.x() - start.x(), now.y() - start.y())
        self.markers.setData(pos=shown, size=self.diameter, pen=self.markers.data["pen"].tolist(),
                             brush=self.markers.data["brush"].tolist())


@lru_cache(maxsize=64)
def _pen_and_brush(color: str) -> tuple[QPen, QBrush]:
    pen = QPen(QColor(color), 1.5)
    pen.setCosmetic(True)
    fill = QColor(color)
    fill.setAlpha(50)
    return pen, QBrush(fill)
