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

    # The tables this page shows: it is refreshed when an operation (here or on another
    # workstation) commits to one of them. "*" means any change.
    shows: frozenset[str] = frozenset({"*"})

    def refresh(self) -> None:
        """Reload from services; pages override (or implement fetch/present instead)."""
        if type(self).fetch is not Page.fetch:
            from iopdesk.ui import ops

            ops.Op(self, self.fetch, takes_control=False).success(self.present).run_in_background()

    def fetch(self) -> object:
        """Read what the page shows (runs on a worker thread: services only, no widgets)."""
        return None

    def present(self, data: object) -> None:
        """Show what `fetch` returned (GUI thread)."""


def typed_values(fields: dict[str, QWidget]) -> dict[str, object]:
    """What was typed into a form's fields, as plain values (kept as a draft)."""
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QPlainTextEdit, QSpinBox

    out: dict[str, object] = {}
    for name, w in fields.items():
        if isinstance(w, QComboBox):
            out[name] = {"index": w.currentIndex(), "text": w.currentText()}
        elif isinstance(w, QPlainTextEdit):
            out[name] = w.toPlainText()
        elif isinstance(w, QAbstractButton) and w.isCheckable():
            out[name] = w.isChecked()
        elif isinstance(w, QSpinBox):
            out[name] = w.value()
        elif hasattr(w, "text") and callable(w.text):
            out[name] = w.text()
    return out


def restore_typed_values(fields: dict[str, QWidget], values: dict[str, object]) -> None:
    """Put a draft's values back into the same form's fields (unknown names are ignored)."""
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QPlainTextEdit, QSpinBox

    for name, value in values.items():
        w = fields.get(name)
        if w is None:
            continue
        if isinstance(w, QComboBox) and isinstance(value, dict):
            text = str(value.get("text", ""))
            index = w.findText(text)
            if index >= 0:
                w.setCurrentIndex(index)
            elif w.isEditable():
                w.setEditText(text)
        elif isinstance(w, QPlainTextEdit):
            w.setPlainText(str(value))
        elif isinstance(w, QAbstractButton) and w.isCheckable():
            w.setChecked(bool(value))
        elif isinstance(w, QSpinBox) and isinstance(value, int):
            w.setValue(value)
        elif hasattr(w, "setText"):
            w.setText(str(value))


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
