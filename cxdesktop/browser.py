"""The image browser: a sortable table of the listed images with thumbnail, size, count and dots placed.

Counts appear as they land; an unreadable file shows its reason in red in the count
column (full message in the tooltip). Up/down move the current image; Del, or "Remove from
list" in the context menu, asks to take the current image off the list.

Readable at any width: names are cut in the middle (whole path in the tooltip), the count
column is as wide as its counts and states (an error's reason is cut instead of widening
it), and the size column steps aside when the names would get fewer than
``MIN_NAME_CHARS`` characters.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QEvent, QModelIndex, QSize, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from countxplain.scale_policy import size_doubt_note

from .dot_column import dots_data
from .plane_text import plane_note, short_plane_note
from .store import CANCELLED, COUNTING, DONE, ERROR, QUEUED, ImageStore

THUMB_COLUMN, FILE_COLUMN, SIZE_COLUMN, COUNT_COLUMN, DOTS_COLUMN = range(5)
HEADERS = ("", "File", "Size", "Count", "Dots")
SORT_ROLE = Qt.ItemDataRole.UserRole
PATH_ROLE = Qt.ItemDataRole.UserRole + 1
STATUS_ROLE = Qt.ItemDataRole.UserRole + 2
THUMB_WIDTH = 46
MIN_NAME_CHARS = 14
ERROR_WIDTH_TEXT = "⚠ unreadable"  # an error takes no more room in the count column than this
ERROR_COLOR = QColor(200, 30, 30)
MUTED_COLOR = QColor(128, 128, 128)
DOUBT_COLOR = QColor(190, 110, 0)
DOUBT_MARK = "?"  # beside a count that moves too much across the size estimate's error range


def doubt_note(entry) -> str:
    """Why a counted entry's count is doubtful and how to fix it ("" when it is not)."""
    if entry.status != DONE or entry.analysis is None:
        return ""
    return size_doubt_note(getattr(entry.analysis, "size_doubt", None))


def pixmap_from_rgb(array) -> QPixmap:
    height, width = array.shape[:2]
    image = QImage(array.tobytes(), width, height, 3 * width, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


class ImageTableModel(QAbstractTableModel):
    """Rows are the store's entries in the order they were added."""

    def __init__(self, store: ImageStore, parent=None) -> None:
        super().__init__(parent)
        self.store = store
        self._paths: list[str] = []
        self._rows: dict[str, int] = {}
        self._thumbs: dict[str, QPixmap] = {}

    def add_paths(self, paths: list[str]) -> None:
        new = [p for p in paths if p not in self._rows]
        if not new:
            return
        start = len(self._paths)
        self.beginInsertRows(QModelIndex(), start, start + len(new) - 1)
        for path in new:
            self._rows[path] = len(self._paths)
            self._paths.append(path)
        self.endInsertRows()

    def remove_paths(self, paths: list[str]) -> None:
        for path in paths:
            row = self._rows.get(path)
            if row is None:
                continue
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._paths[row]
            self._rows = {p: i for i, p in enumerate(self._paths)}
            self._thumbs.pop(path, None)
            self.endRemoveRows()

    def rename_path(self, old: str, new: str) -> None:
        """The row of ``old`` now shows the entry listed under ``new``."""
        row = self._rows.pop(old, None)
        if row is None:
            return
        self._paths[row] = new
        self._rows[new] = row
        self._thumbs.pop(old, None)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(HEADERS) - 1))

    def refresh(self, path: str) -> None:
        row = self._rows.get(path)
        if row is None:
            return
        self._thumbs.pop(path, None)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(HEADERS) - 1))

    def path_at(self, row: int) -> str:
        return self._paths[row]

    def row_of(self, path: str) -> int | None:
        return self._rows.get(path)

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._paths)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        entry = self.store.get(self._paths[index.row()])
        if entry is None:  # taken off the store, its row about to go
            return None
        column = index.column()
        if role == PATH_ROLE:
            return entry.path
        if role == STATUS_ROLE:
            return entry.status
        if column == THUMB_COLUMN:
            if role == Qt.ItemDataRole.DecorationRole and entry.thumbnail is not None:
                if entry.path not in self._thumbs:
                    self._thumbs[entry.path] = pixmap_from_rgb(entry.thumbnail)
                return self._thumbs[entry.path]
            if role == SORT_ROLE:
                return index.row()
            return None
        if column == FILE_COLUMN:
            if role == Qt.ItemDataRole.DisplayRole:
                return entry.name + (f" · {short_plane_note(entry)}" if short_plane_note(entry) else "")
            if role == SORT_ROLE:
                return entry.name
            if role == Qt.ItemDataRole.ToolTipRole:
                return entry.path + (f"\n{plane_note(entry)}" if plane_note(entry) else "")
        if column == SIZE_COLUMN:
            if role == Qt.ItemDataRole.DisplayRole:
                return f"{entry.width}×{entry.height}" if entry.width else ""
            if role == SORT_ROLE:
                return (entry.width or 0) * (entry.height or 0)
        if column == COUNT_COLUMN:
            return self._count_data(entry, role)
        if column == DOTS_COLUMN:
            return dots_data(entry, role)
        return None

    def _count_data(self, entry, role):
        status = entry.status
        if role == Qt.ItemDataRole.DisplayRole:
            if status == DONE:
                return f"{entry.count:.1f} {DOUBT_MARK}" if doubt_note(entry) else f"{entry.count:.1f}"
            if status == ERROR:
                return f"⚠ {entry.error}"
            return {QUEUED: "queued", COUNTING: "counting…", CANCELLED: "cancelled"}.get(status, status)
        if role == SORT_ROLE:
            return entry.count if status == DONE else float("-inf")
        if role == Qt.ItemDataRole.ForegroundRole:
            if status == ERROR:
                return QBrush(ERROR_COLOR)
            if status != DONE:
                return QBrush(MUTED_COLOR)
            if doubt_note(entry):
                return QBrush(DOUBT_COLOR)
        if role == Qt.ItemDataRole.ToolTipRole:
            if status == ERROR:
                return f"Cannot count this file:\n{entry.error}"
            if status == DONE and entry.analysis is not None:
                a = entry.analysis
                return f"{entry.count:.2f} cells · {a.model_name} · {a.device}" + \
                    (f"\n{plane_note(entry)}" if plane_note(entry) else "") + \
                    (f"\nDoubtful: {doubt_note(entry)}" if doubt_note(entry) else "")
        if role == Qt.ItemDataRole.TextAlignmentRole and status == DONE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class CountDelegate(QStyledItemDelegate):
    """The count column: an error's reason is cut at the right and never widens the column."""

    def initStyleOption(self, option, index) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideRight

    def sizeHint(self, option, index) -> QSize:
        hint = super().sizeHint(option, index)
        if index.data(STATUS_ROLE) == ERROR:
            metrics = option.fontMetrics
            padding = hint.width() - metrics.horizontalAdvance(str(index.data(Qt.ItemDataRole.DisplayRole)))
            hint.setWidth(min(hint.width(), padding + metrics.horizontalAdvance(ERROR_WIDTH_TEXT)))
        return hint


class BrowserPanel(QWidget):
    """The table with sorting and keyboard navigation; emits the current image's path."""

    sigCurrentChanged = Signal(object)  # path or None
    sigRemoveRequested = Signal(list)  # paths to take off the list

    def __init__(self, store: ImageStore, parent=None) -> None:
        super().__init__(parent)
        self.model = ImageTableModel(store, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.view = QTableView(self)
        self.view.setObjectName("imageTable")
        self.view.setModel(self.proxy)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setIconSize(QSize(40, 40))
        self.view.verticalHeader().setDefaultSectionSize(44)
        self.view.verticalHeader().hide()
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(THUMB_COLUMN, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(THUMB_COLUMN, THUMB_WIDTH)
        header.setSectionResizeMode(FILE_COLUMN, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(SIZE_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COUNT_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(DOTS_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.view.setItemDelegateForColumn(COUNT_COLUMN, CountDelegate(self.view))
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setMinimumWidth(self._narrowest())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.view.selectionModel().currentRowChanged.connect(self._current_row_changed)
        self.view.viewport().installEventFilter(self)
        self.view.installEventFilter(self)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._show_context_menu)
        header.sectionResized.connect(self._count_resized)

    def _name_room(self) -> int:
        return self.view.fontMetrics().averageCharWidth() * MIN_NAME_CHARS

    def _narrowest(self) -> int:
        """Thumbnail, the widest state word, the dots, a name of ``MIN_NAME_CHARS`` and a scroll bar."""
        metrics = self.view.fontMetrics()
        count = max(metrics.horizontalAdvance(t) for t in ("counting…", "cancelled", ERROR_WIDTH_TEXT, "Count ▲"))
        dots = metrics.horizontalAdvance("Dots ▲")
        scroll = self.view.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        return THUMB_WIDTH + count + dots + 32 + self._name_room() + scroll + 2 * self.view.frameWidth()

    def eventFilter(self, watched, event) -> bool:
        if watched is self.view.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_columns()
        elif watched is self.view and event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) \
                and event.key() == Qt.Key.Key_Delete and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            # the list takes Del from the window's "Delete selected box" while it has the focus
            event.accept()
            if event.type() == QEvent.Type.KeyPress:
                self._request_remove(self.current_path())
            return True
        return super().eventFilter(watched, event)

    def context_menu(self, path: str) -> QMenu:
        menu = QMenu(self)
        remove = menu.addAction("Remove from list")
        remove.setObjectName("removeFromList")
        remove.setToolTip("Take this image off the list (its file stays where it is)")
        remove.triggered.connect(lambda: self._request_remove(path))
        return menu

    def _show_context_menu(self, pos) -> None:
        index = self.view.indexAt(pos)
        if index.isValid():
            self.context_menu(index.data(PATH_ROLE)).exec(self.view.viewport().mapToGlobal(pos))

    def _request_remove(self, path: str | None) -> None:
        if path:
            self.sigRemoveRequested.emit([path])

    def remove_paths(self, paths: list[str]) -> None:
        self.model.remove_paths(paths)

    def _count_resized(self, column: int, _old: int, _new: int) -> None:
        if column in (SIZE_COLUMN, COUNT_COLUMN, DOTS_COLUMN):
            self._fit_columns()

    def _fit_columns(self) -> None:
        """Show the size column only where the names keep their room beside it."""
        header = self.view.horizontalHeader()
        size_width = max(self.view.sizeHintForColumn(SIZE_COLUMN), header.sectionSizeHint(SIZE_COLUMN))
        room = (self.view.viewport().width() - header.sectionSize(THUMB_COLUMN) - header.sectionSize(COUNT_COLUMN)
                - header.sectionSize(DOTS_COLUMN) - size_width)
        hide = room < self._name_room()
        if hide != self.view.isColumnHidden(SIZE_COLUMN):
            self.view.setColumnHidden(SIZE_COLUMN, hide)

    def add_paths(self, paths: list[str]) -> None:
        had_rows = self.model.rowCount() > 0
        self.model.add_paths(paths)
        if not had_rows and self.model.rowCount():
            self.select(paths[0])

    def refresh(self, path: str) -> None:
        self.model.refresh(path)

    def rename_path(self, old: str, new: str) -> None:
        self.model.rename_path(old, new)

    def select(self, path: str) -> None:
        row = self.model.row_of(path)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row, FILE_COLUMN))
        self.view.setCurrentIndex(index)
        self.view.scrollTo(index)

    def current_path(self) -> str | None:
        index = self.view.currentIndex()
        return index.data(PATH_ROLE) if index.isValid() else None

    def paths_in_view_order(self) -> list[str]:
        return [self.proxy.index(r, 0).data(PATH_ROLE) for r in range(self.proxy.rowCount())]

    def _current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.sigCurrentChanged.emit(current.data(PATH_ROLE) if current.isValid() else None)
