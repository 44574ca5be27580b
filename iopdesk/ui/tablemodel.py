"""A thin table model over a Python list: set_rows() and a sort implemented in the model
(QSortFilterProxyModel over a Python model costs seconds on large lists)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QBrush, QColor

T = TypeVar("T")
# Rows let go of per turn of the event loop when a large list is replaced (see _free_later).
FREE_CHUNK = 5000
ROW_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
_ROLES = frozenset(
    {
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.TextAlignmentRole,
        Qt.ItemDataRole.ForegroundRole,
        ROW_ROLE,
        SORT_ROLE,
    }
)


@dataclass(frozen=True)
class Column(Generic[T]):
    header: str
    value: Callable[[T], Any]
    sort_key: Callable[[T], Any] | None = None
    align_right: bool = False
    color: Callable[[T], str | None] | None = None


class RowsModel(QAbstractTableModel, Generic[T]):
    def __init__(self, columns: Sequence[Column[T]], parent: Any = None) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self.rows: list[T] = []

    def set_rows(self, rows: Sequence[T]) -> None:
        old = self.rows
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()
        if len(old) > FREE_CHUNK:
            _free_later(old)

    def row_at(self, row: int) -> T:
        return self.rows[row]

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section].header
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        # A painted cell asks for a dozen roles; answer the ones this model never sets before
        # touching the row (halves the Python time of repainting a big table per keystroke).
        if role not in _ROLES or not index.isValid():
            return None
        row = self.rows[index.row()]
        col = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            value = col.value(row)
            return "" if value is None else str(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and col.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and col.color is not None:
            color = col.color(row)
            return QBrush(QColor(color)) if color else None
        if role == ROW_ROLE:
            return row
        if role == SORT_ROLE:
            return (col.sort_key or col.value)(row)
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        col = self.columns[column]
        key = col.sort_key or col.value

        def safe(row: T) -> tuple[int, Any]:
            value = key(row)
            return (1, "") if value is None or value == "" else (0, value)

        self.layoutAboutToBeChanged.emit()
        self.rows.sort(key=safe, reverse=order == Qt.SortOrder.DescendingOrder)
        self.layoutChanged.emit()


def _free_later(rows: list[Any]) -> None:
    """Let go of a replaced row list a chunk per turn of the event loop: freeing a year's
    150,000 claim lines at once held the window for ~35 ms (measured by bench_stalls, the
    preview that follows a billing export). The list is the model's own copy."""

    def step() -> None:
        del rows[-FREE_CHUNK:]
        if rows:
            QTimer.singleShot(0, step)

    QTimer.singleShot(0, step)
