"""User boxes: draw rectangles on the image, move/resize them, and read the count inside each.

``BoxTool`` owns the RectROIs on the image of one ``ImageEntry`` (the boxes are stored
in the entry, in original image pixels, so they survive image switches and re-counts).
Counts come from ``countxplain.explain.count_in_rect`` on the stored density: cheap
numpy, recomputed live while a box moves. ``BoxListPanel`` lists the boxes and counts.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGraphicsRectItem,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..store import Box, ImageEntry, box_count
from .tool_viewbox import BOX

BOX_COLOR = QColor("#00e676")
SELECTED_COLOR = QColor("#ffeb3b")
MIN_SIDE_PX = 2.0
AREA_COLUMN = 3


class BoxTool(QObject):
    sigBoxesChanged = Signal()

    def __init__(self, image_view, parent=None) -> None:
        super().__init__(parent)
        self.view = image_view
        self.entry: ImageEntry | None = None
        self.selected: int | None = None
        self._rois: dict[int, tuple[pg.RectROI, pg.TextItem]] = {}
        self._preview: QGraphicsRectItem | None = None
        vb = image_view.viewbox
        vb.sigDrawMoved.connect(self._drag_moved)
        vb.sigDrawFinished.connect(self._drag_finished)

    # ---- entry ----
    def set_entry(self, entry: ImageEntry | None) -> None:
        for box_id in list(self._rois):
            self._drop_roi(box_id)
        self.entry, self.selected = entry, None
        for box in entry.boxes if entry else []:
            self._add_roi(box)
        self.refresh_counts()

    def boxes(self) -> list[Box]:
        return list(self.entry.boxes) if self.entry else []

    def count(self, box: Box) -> float | None:
        return box_count(self.entry, box)

    # ---- adding and removing ----
    def add_box(self, x0: float, y0: float, x1: float, y1: float) -> Box | None:
        """Add a box in image pixels (clipped to the image); None if it is too small or no image."""
        if self.entry is None:
            return None
        x0, x1 = sorted((x0, x1))
        y0, y1 = sorted((y0, y1))
        if self.entry.width:
            x0, x1 = max(0.0, x0), min(float(self.entry.width), x1)
            y0, y1 = max(0.0, y0), min(float(self.entry.height), y1)
        if x1 - x0 < MIN_SIDE_PX or y1 - y0 < MIN_SIDE_PX:
            return None
        box = Box(x0, y0, x1, y1)
        self.entry.boxes.append(box)
        self._add_roi(box)
        self.select(box.box_id)
        self.refresh_counts()
        return box

    def remove(self, box_id: int) -> None:
        if self.entry is None:
            return
        self.entry.boxes = [b for b in self.entry.boxes if b.box_id != box_id]
        self._drop_roi(box_id)
        if self.selected == box_id:
            self.selected = None
        self.refresh_counts()

    def delete_selected(self) -> None:
        if self.selected is not None:
            self.remove(self.selected)

    def remove_all(self) -> None:
        for box in self.boxes():
            self.remove(box.box_id)

    def select(self, box_id: int | None) -> None:
        self.selected = box_id
        for other, (roi, _) in self._rois.items():
            roi.setPen(pg.mkPen(SELECTED_COLOR if other == box_id else BOX_COLOR, width=3 if other == box_id else 2))

    # ---- counts ----
    def refresh_counts(self) -> None:
        for box in self.boxes():
            if box.box_id in self._rois:
                self._rois[box.box_id][1].setText(self._label(box))
        self.sigBoxesChanged.emit()

    def _label(self, box: Box) -> str:
        value = self.count(box)
        return f"#{box.box_id}: {value:.1f}" if value is not None else f"#{box.box_id}: …"

    # ---- ROIs ----
    def _add_roi(self, box: Box) -> None:
        b = box.normalised()
        roi = pg.RectROI([b.x0, b.y0], [b.x1 - b.x0, b.y1 - b.y0], pen=pg.mkPen(BOX_COLOR, width=2),
                         removable=True, sideScalers=True)
        if self.entry and self.entry.width:
            roi.maxBounds = QRectF(0, 0, self.entry.width, self.entry.height)
        roi.setZValue(20)
        label = pg.TextItem(self._label(box), color="w", fill=(0, 0, 0, 170), anchor=(0, 1))
        label.setParentItem(roi)
        label.setPos(0, 0)
        roi.sigRegionChanged.connect(lambda r, box_id=box.box_id: self._roi_moved(box_id, r))
        roi.sigRemoveRequested.connect(lambda r, box_id=box.box_id: self.remove(box_id))
        roi.sigClicked.connect(lambda r, ev, box_id=box.box_id: self.select(box_id))
        self.view.viewbox.addItem(roi)
        self._rois[box.box_id] = (roi, label)

    def _drop_roi(self, box_id: int) -> None:
        roi, _ = self._rois.pop(box_id, (None, None))
        if roi is not None:
            self.view.viewbox.removeItem(roi)

    def _roi_moved(self, box_id: int, roi: pg.RectROI) -> None:
        box = next((b for b in self.boxes() if b.box_id == box_id), None)
        if box is None:
            return
        pos, size = roi.pos(), roi.size()
        box.x0, box.y0 = float(pos.x()), float(pos.y())
        box.x1, box.y1 = box.x0 + float(size.x()), box.y0 + float(size.y())
        self.refresh_counts()

    # ---- drawing ----
    def _drag_moved(self, tool: str, start: QPointF, now: QPointF) -> None:
        if tool != BOX:
            return
        if self._preview is None:
            self._preview = QGraphicsRectItem()
            pen = QPen(BOX_COLOR, 1, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            self._preview.setPen(pen)
            self._preview.setZValue(21)
            self.view.viewbox.addItem(self._preview)
        self._preview.setRect(QRectF(start, now).normalized())

    def _drag_finished(self, tool: str, start: QPointF, end: QPointF) -> None:
        if tool != BOX:
            return
        if self._preview is not None:
            self.view.viewbox.removeItem(self._preview)
            self._preview = None
        self.add_box(start.x(), start.y(), end.x(), end.y())


class BoxListPanel(QWidget):
    """The boxes of the current image with their counts; select, remove one or all."""

    sigSelected = Signal(int)
    sigRemove = Signal(int)
    sigRemoveAll = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("boxTable")
        self.table.setHorizontalHeaderLabels(["Box", "x, y, w × h (px)", "Count", "Area (µm²)"])
        self.table.setColumnHidden(AREA_COLUMN, True)  # until the pixel size is known
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        for column, mode in enumerate((QHeaderView.ResizeMode.ResizeToContents, QHeaderView.ResizeMode.Stretch,
                                       QHeaderView.ResizeMode.ResizeToContents,
                                       QHeaderView.ResizeMode.ResizeToContents)):
            header.setSectionResizeMode(column, mode)  # the Explain dock can be narrow: only positions stretch
        self.table.setMinimumHeight(90)
        self.remove_button = QPushButton("Remove")
        self.remove_all_button = QPushButton("Remove all")
        hint = QLabel("Draw boxes with the Box tool (B); Delete removes the selected box.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: gray;")
        buttons = QHBoxLayout()
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.remove_all_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addWidget(hint)
        self._ids: list[int] = []
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.remove_button.clicked.connect(self._remove_clicked)
        self.remove_all_button.clicked.connect(self.sigRemoveAll)

    def set_rows(self, rows: list[tuple[Box, float | None]], selected: int | None = None,
                 areas_um2: list[float] | None = None) -> None:
        """The boxes with their counts, and their areas in µm² where the pixel size is known."""
        self.table.blockSignals(True)
        self.table.setRowCount(len(rows))
        self.table.setColumnHidden(AREA_COLUMN, areas_um2 is None)
        self._ids = [box.box_id for box, _ in rows]
        for row, (box, value) in enumerate(rows):
            b = box.normalised()
            cells = (f"#{box.box_id}", f"{b.x0:.0f}, {b.y0:.0f}, {b.x1 - b.x0:.0f} × {b.y1 - b.y0:.0f}",
                     f"{value:.2f}" if value is not None else "…", f"{areas_um2[row]:,.0f}" if areas_um2 else "")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column in (2, AREA_COLUMN):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
            if box.box_id == selected:
                self.table.selectRow(row)
        self.table.blockSignals(False)

    def _selection_changed(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.sigSelected.emit(self._ids[rows[0].row()])

    def _remove_clicked(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.sigRemove.emit(self._ids[rows[0].row()])
