"""Close the clinic for a day (holiday, weather) and cancel its sessions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QWidget,
)

from iopdesk.errors import UserError, ValidationError
from iopdesk.models.enums import SessionStatus
from iopdesk.services import schedule
from iopdesk.ui import msgbox
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.intake import from_qdate
from iopdesk.ui.pages.schedule.dialog_base import Save, _date_edit, _ScheduleDialog
from iopdesk.ui.pages.schedule.labels import long_day, plural


class CloseDayDialog(_ScheduleDialog):
    """Close the clinic for a day: every scheduled session that day is cancelled by the clinic."""

    def __init__(self, ctx: AppContext, day: dt.date, parent: QWidget | None = None) -> None:
        super().__init__(
            "Close clinic day",
            "For a holiday, bad weather or an emergency. Every session still scheduled that day "
            "is cancelled by the clinic, and weekly hour requirements are adjusted for the "
            "closed day. Sessions already held are kept.",
            "Close clinic day",
            parent,
        )
        self.ctx = ctx
        self.setMinimumWidth(520)
        self.cancelled: int | None = None
        self.to_cancel = 0
        self.already_closed: str | None = None
        self.date = _date_edit(day)
        self.reason = QLineEdit()
        self.reason.setObjectName("closeReason")
        self.reason.setPlaceholderText("e.g. Thanksgiving, snow day")
        self.reason.setMaxLength(200)
        self.preview = QLabel("")
        self.preview.setObjectName("preview")
        self.preview.setWordWrap(True)
        self.form.addRow("Date *", self.date)
        self.form.addRow("Reason *", self.reason)
        self.form.addRow(self.preview)
        self.fields = {"reason": self.reason, "session_date": self.date}
        self.date.dateChanged.connect(self._update)
        self._update()
        self.action = self._close
        self.reason.setFocus()

    def day(self) -> dt.date:
        return from_qdate(self.date.date())

    def _update(self) -> None:
        """Read the chosen day on a worker (OK waits for it: its question uses the counts)."""
        day = self.day()
        db, actor = self.ctx.db, self.ctx.actor
        self._asked = day

        def read() -> tuple[list[Any], list[Any]] | str:
            try:
                closures = schedule.list_closures(db, actor, day, day)
                return closures, schedule.list_sessions(db, actor, day, day)
            except UserError as exc:
                return exc.message

        self.read(read, lambda data: self._show(day, data))

    def _show(self, day: dt.date, data: tuple[list[Any], list[Any]] | str) -> None:
        if day != self._asked:
            return  # an older date's answer; the newer one is on its way
        if isinstance(data, str):
            self.preview.setText(data)
            return
        closures, sessions = data
        self._shown = day
        self.already_closed = closures[0].reason if closures else None
        self.to_cancel = sum(1 for s in sessions if s.status == SessionStatus.SCHEDULED)
        held = sum(1 for s in sessions if s.status == SessionStatus.HELD)
        if self.already_closed is not None:
            text = f"The clinic is already closed on {long_day(day)} ({self.already_closed})."
        elif self.to_cancel:
            text = (
                f"{plural(self.to_cancel, 'scheduled session')} on {long_day(day)} will be "
                "cancelled."
            )
        else:
            text = f"No sessions are scheduled on {long_day(day)}."
        if held and self.already_closed is None:
            text += f" {plural(held, 'session')} already held will be kept."
        self.preview.setText(text)
        self.preview.setProperty("warn", self.already_closed is not None or self.to_cancel > 0)
        self.preview.style().unpolish(self.preview)
        self.preview.style().polish(self.preview)

    def _close(self) -> Save | bool:
        reason = self.reason.text().strip()
        if not reason:
            raise ValidationError("Enter the reason the clinic is closed.", {"reason": "Required."})
        day = self.day()
        if getattr(self, "_shown", None) != day:  # its read is still on its way
            raise UserError("One moment: IOPDesk is still reading that day's sessions.")
        if self.already_closed is None:
            what = (
                f"{plural(self.to_cancel, 'scheduled session')} will be cancelled by the clinic."
                if self.to_cancel
                else "No sessions are scheduled that day."
            )
            if not msgbox.confirm(
                self,
                "Close the clinic?",
                f"Close the clinic on {long_day(day)} ({reason})?\n\n{what}\n\n"
                "You can undo this later with Reopen clinic day.",
            ):
                return False
        db, actor = self.ctx.db, self.ctx.actor

        def done(cancelled: int) -> None:
            self.cancelled = cancelled

        return Save(lambda: schedule.close_clinic_day(db, actor, day, reason), done)
