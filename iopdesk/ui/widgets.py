"""Small reusable widgets: page frame, summary card, data table."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)


class Page(QWidget):
    """A main-window page. `refresh()` reloads its data from services."""

    title = ""
    subtitle = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(24, 18, 24, 18)
        self.layout_.setSpacing(14)

    def refresh(self) -> None:
        """Reload from services; pages override."""


class Card(QFrame):
    """A count with its label; `clicked` when the user clicks it (Today's tiles open the list
    they count)."""

    clicked = Signal()

    def __init__(self, label: str, value: str = "-", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 12, 16, 12)
        self.value = QLabel(value)
        self.value.setObjectName("cardValue")
        self.label = QLabel(label)
        self.label.setObjectName("cardLabel")
        lay.addWidget(self.value)
        lay.addWidget(self.label)

    def set_value(self, value: object) -> None:
        self.value.setText("-" if value is None else str(value))

    def make_link(self, hint: str) -> None:
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(hint)
        self.setProperty("link", True)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.property("link"):
            self.clicked.emit()
        super().mouseReleaseEvent(event)


def section_title(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("sectionTitle")
    return label


def muted(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("subtitle")
    label.setWordWrap(True)
    return label


def make_table(stretch_column: int | None = None) -> QTableView:
    table = QTableView()
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.setSortingEnabled(True)
    table.setShowGrid(False)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(30)
    header = table.horizontalHeader()
    header.setHighlightSections(False)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(stretch_column is None)
    table.setWordWrap(False)
    return table


def row(*widgets: QWidget, stretch: bool = True) -> QHBoxLayout:
    lay = QHBoxLayout()
    lay.setSpacing(10)
    for w in widgets:
        lay.addWidget(w)
    if stretch:
        lay.addStretch(1)
    return lay


def center(widget: QWidget) -> QWidget:
    holder = QWidget()
    lay = QVBoxLayout(holder)
    lay.addStretch(1)
    lay.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
    lay.addStretch(2)
    return holder
