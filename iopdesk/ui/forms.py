"""Shared form helpers: the one form dialog of the app and the fields its forms repeat.

`FormDialog` is a header (title and subtitle), a form, an error line and OK/Cancel. Its
`accept_action` checks what was typed on the GUI thread (no database); its `save_action`, when
set, is the service call, run in the background by `submit`. A `UserError` from either is shown
on the error line and the dialog stays open with everything typed. Pages subclass it (or build
one and fill `form`).

`submit(dialog, work, done)` is the one way a dialog saves: `work()` runs on an op worker while
the dialog's buttons are disabled (the window keeps painting), `done(result)` runs on the GUI
thread after it succeeded (usually `accept()`), and a failure follows the op runner's policy
except that a message the user can act on goes to the dialog's error line, next to the fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
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

from iopdesk.errors import StaleRecordError, UserError

if TYPE_CHECKING:  # the date box pulls in the date parser; forms at sign-in need none
    from iopdesk.ui import ops
    from iopdesk.ui.dates import DateEdit

__all__ = ["FormDialog", "date_edit", "header", "password_field", "submit", "text_box"]

T = TypeVar("T")


class _HoldOpen(QObject):
    """Keeps a dialog open while its save runs: eats Escape and close requests."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close:
            event.ignore()
            return True
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            return event.key() == Qt.Key.Key_Escape
        return False


def submit(
    dialog: QWidget,
    work: Callable[[], T],
    done: Callable[[T], Any],
    *,
    show_error: Callable[[str], Any] | None = None,
    reload: Callable[[], Any] | None = None,
    busy: list[QWidget] | None = None,
    progress: str | None = None,
) -> ops.Op[T]:
    """Run a dialog's save in the background (see the module text); returns the op.

    `show_error(text)` puts a message on the dialog (default: its `show_error`, else a box);
    `busy` are the widgets disabled while it runs (default: the dialog's button box, if any);
    a record changed on another workstation shows the message, then calls `reload`."""
    from iopdesk.ui import msgbox, ops

    if show_error is None:
        show_error = getattr(dialog, "show_error", None)
    if busy is None:
        buttons = getattr(dialog, "buttons", None)
        busy = [buttons] if isinstance(buttons, QWidget) else []
    for w in busy:
        w.setEnabled(False)

    def failed(exc: BaseException) -> None:
        if isinstance(exc, StaleRecordError):
            ops.report_failure(dialog, exc, reload)
        elif isinstance(exc, UserError) and show_error is not None:
            show_error(exc.message)
        elif isinstance(exc, UserError):
            msgbox.user_error(dialog, exc)
        else:
            ops.report_failure(dialog, exc)

    # Escape and the window's close button would drop the dialog while its save runs, and the
    # outcome (a message, the next step) would then have nowhere to go: held until it ends.
    holder = _HoldOpen(dialog)
    dialog.installEventFilter(holder)

    def release() -> None:
        with suppress(RuntimeError):  # the dialog was closed and deleted meanwhile
            dialog.removeEventFilter(holder)
            for w in busy or []:
                w.setEnabled(True)

    op: ops.Op[T] = ops.Op(dialog, work, takes_control=False).success(done).failure(failed)
    op.on_done(release)
    if progress is not None:
        op.with_progress(progress)
    return op.run_in_background()


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
        # Checks what was typed (GUI thread, no database); raise UserError to refuse.
        self.accept_action: Callable[[], None] | None = None
        # The service call that saves (runs in the background); its result lands in `saved`.
        self.save_action: Callable[[], Any] | None = None
        self.saved: Any = None
        self.last_op: ops.Op[Any] | None = None

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
        if self.save_action is None:
            self.accept()
            return
        self.error.hide()
        self.last_op = submit(self, self.save_action, self._saved)

    def _saved(self, result: Any) -> None:
        self.saved = result
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
