"""Shared form helpers: the one form dialog of the app and the fields its forms repeat.

`FormDialog` is a header (title and subtitle), a form, an error line and OK/Cancel. Its
`accept_action` validates and saves; a `UserError` it raises is shown on the error line and the
dialog stays open with everything typed. Pages subclass it (or build one and fill `form`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from iopdesk.errors import UserError

if TYPE_CHECKING:  # the date box pulls in the date parser; forms at sign-in need none
    from iopdesk.ui.dates import DateEdit

__all__ = ["FormDialog", "date_edit", "header", "password_field", "text_box"]


def header(layout: QVBoxLayout, title: str, subtitle: str) -> QLabel:
    """A page-title label and a wrapped subtitle under it; returns the subtitle."""
    t = QLabel(title)
    t.setObjectName("pageTitle")
    s = QLabel(subtitle)
    s.setObjectName("subtitle")
    s.setWordWrap(True)
    layout.addWidget(t)
    layout.addWidget(s)
    return s


class FormDialog(QDialog):
    """A dialog with a header, a form, an error line and OK/Cancel; `accept_action` validates."""

    def __init__(self, title: str, subtitle: str, ok_text: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"IOPDesk - {title}")
        self.setMinimumWidth(440)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(24, 20, 24, 18)
        outer.setSpacing(10)
        self.subtitle = header(outer, title, subtitle)
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.form.setSpacing(8)
        outer.addLayout(self.form)
        self.error = QLabel("")
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        self.error.hide()
        outer.addWidget(self.error)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText(ok_text)
        ok.setDefault(True)
        self.buttons.accepted.connect(self._try_accept)
        self.buttons.rejected.connect(self.reject)
        outer.addWidget(self.buttons)
        self.accept_action: Callable[[], None] | None = None

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()

    def _try_accept(self) -> None:
        try:
            if self.accept_action is not None:
                self.accept_action()
        except UserError as exc:
            self.show_error(exc.message)
            return
        self.accept()


def password_field() -> QLineEdit:
    """A line edit that hides what is typed."""
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    return field


def text_box(text: str = "", placeholder: str = "", height: int = 64) -> QPlainTextEdit:
    """A short multi-line box where Tab moves to the next field instead of typing a tab."""
    box = QPlainTextEdit(text)
    box.setTabChangesFocus(True)
    box.setPlaceholderText(placeholder)
    box.setFixedHeight(height)
    return box


def date_edit(value: dt.date | None = None, *, optional: bool = False, label: str = "") -> DateEdit:
    """The app's typed date box (ui/dates.py), prefilled with `value` or the clinic's today
    unless `optional`."""
    from iopdesk.ui import clock
    from iopdesk.ui.dates import DateEdit

    if optional:
        return DateEdit(value, optional=True, label=label)
    return DateEdit(value or clock.today(), label=label)
