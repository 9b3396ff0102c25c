"""Cell size: the diameter (px) at which an image's cells are counted, typed or measured.

0 means automatic: the model estimates the cell size and rescales only when the estimate is far
from its training size (``countxplain.scale_policy``). ``CellSizePanel`` emits the diameter after the user stops
typing (debounced); ``MeasureTool`` lets the user drag a line across a cell
(a LineSegmentROI that stays, movable) and reports its length.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QLineF, QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QGraphicsLineItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .tool_viewbox import MEASURE

MEASURE_COLOR = QColor("#ff4dff")
DEBOUNCE_MS = 400


class CellSizePanel(QWidget):
    sigDiameterChanged = Signal(float)  # 0.0: automatic
    sigApplyToFolder = Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.spin = QDoubleSpinBox()
        self.spin.setObjectName("cellDiameter")
        self.spin.setRange(0.0, 2000.0)
        self.spin.setDecimals(1)
        self.spin.setSingleStep(0.5)
        self.spin.setSuffix(" px")
        self.spin.setSpecialValueText("automatic")
        self.spin.setToolTip("Typical cell diameter in this image, in pixels; the image is rescaled so that\n"
                             "its cells match the model's training size.\n"
                             "0 = automatic: the model estimates the size and rescales only when its cells look\n"
                             "more than twice or under half its training size. Type the training size to count\n"
                             "the image exactly as it is.")
        self.measure_button = QToolButton()
        self.measure_button.setText("Measure")
        self.measure_button.setCheckable(True)
        self.measure_button.setToolTip("Drag a line across a typical cell to set its diameter (M)")
        self.folder_button = QPushButton("Apply to folder")
        self.folder_button.setToolTip("Use this diameter for every listed image in the same folder")
        self.native = QLabel("")
        self.native.setStyleSheet("color: gray;")
        self.native.setWordWrap(True)  # two lines rather than cut in a narrow Explain dock
        row = QHBoxLayout()
        row.addWidget(QLabel("Cell diameter"))
        row.addWidget(self.spin, 1)
        self.micrometres = QLabel("")
        self.micrometres.setObjectName("cellDiameterMicrometres")
        self.micrometres.setToolTip("The diameter in micrometres, from the image's pixel size")
        self.micrometres.hide()
        row.addWidget(self.micrometres)
        row.addWidget(self.measure_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        bottom = QHBoxLayout()
        bottom.addWidget(self.native, 1)
        bottom.addWidget(self.folder_button)
        layout.addLayout(bottom)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._emit)
        self.spin.valueChanged.connect(lambda _: self._timer.start())
        self.spin.editingFinished.connect(self._flush)
        self.folder_button.clicked.connect(lambda: self.sigApplyToFolder.emit(self.value()))
        self._last_emitted: float | None = None

    def value(self) -> float:
        return float(self.spin.value())

    def set_value(self, diameter: float | None) -> None:
        """Show an image's diameter without emitting a change."""
        self._timer.stop()
        self.spin.blockSignals(True)
        self.spin.setValue(float(diameter or 0.0))
        self.spin.blockSignals(False)
        self._last_emitted = self.value()

    def set_from_measure(self, diameter: float) -> None:
        """A measured diameter: shown and emitted at once."""
        self.spin.blockSignals(True)
        self.spin.setValue(round(diameter, 1))
        self.spin.blockSignals(False)
        self._emit()

    def set_micrometres(self, diameter_um: float | None) -> None:
        """The diameter in µm beside the pixels (hidden where the pixel size is unknown)."""
        self.micrometres.setText(f"= {diameter_um:.1f} µm" if diameter_um is not None else "")
        self.micrometres.setVisible(diameter_um is not None)

    def set_native(self, diameter: float | None) -> None:
        self.native.setText(f"Model trained at {diameter:.1f} px cells" if diameter else "")

    def _flush(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            self._emit()

    def _emit(self) -> None:
        value = self.value()
        if value != self._last_emitted:
            self._last_emitted = value
            self.sigDiameterChanged.emit(value)


class MeasureTool(QObject):
    """Drag a line on the image (Measure tool); its length in pixels is the cell diameter."""

    sigMeasured = Signal(float)

    def __init__(self, image_view, parent=None) -> None:
        super().__init__(parent)
        self.view = image_view
        self.line_roi: pg.LineSegmentROI | None = None
        self._preview: QGraphicsLineItem | None = None
        image_view.viewbox.sigDrawMoved.connect(self._moved)
        image_view.viewbox.sigDrawFinished.connect(self._finished)

    def clear(self) -> None:
        if self.line_roi is not None:
            self.view.viewbox.removeItem(self.line_roi)
            self.line_roi = None

    def measure(self, start: QPointF, end: QPointF) -> float | None:
        """Place the measuring line and report its length (None for a click without a drag)."""
        length = math.hypot(end.x() - start.x(), end.y() - start.y())
        if length < 1.0:
            return None
        self.clear()
        self.line_roi = pg.LineSegmentROI([[start.x(), start.y()], [end.x(), end.y()]],
                                          pen=pg.mkPen(MEASURE_COLOR, width=2))
        self.line_roi.setZValue(30)
        self.line_roi.sigRegionChangeFinished.connect(self._line_changed)
        self.view.viewbox.addItem(self.line_roi)
        self.sigMeasured.emit(length)
        return length

    def line_length(self) -> float | None:
        if self.line_roi is None:
            return None
        p0, p1 = (self.line_roi.mapToParent(h.pos()) for h in self.line_roi.getHandles())
        return math.hypot(p1.x() - p0.x(), p1.y() - p0.y())

    def _line_changed(self, _roi) -> None:
        length = self.line_length()
        if length and length >= 1.0:
            self.sigMeasured.emit(length)

    def _moved(self, tool: str, start: QPointF, now: QPointF) -> None:
        if tool != MEASURE:
            return
        if self._preview is None:
            self._preview = QGraphicsLineItem()
            pen = QPen(MEASURE_COLOR, 2, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            self._preview.setPen(pen)
            self._preview.setZValue(31)
            self.view.viewbox.addItem(self._preview)
        self._preview.setLine(QLineF(start, now))

    def _finished(self, tool: str, start: QPointF, end: QPointF) -> None:
        if tool != MEASURE:
            return
        if self._preview is not None:
            self.view.viewbox.removeItem(self._preview)
            self._preview = None
        self.measure(start, end)
