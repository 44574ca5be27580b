"""Book an appointment or a group session."""

from __future__ import annotations

import datetime as dt

from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from iopdesk.errors import UserError, ValidationError
from iopdesk.models.enums import ClientStatus
from iopdesk.services import clients, schedule, staff
from iopdesk.services.schedule import (
    Conflict,
    SessionInfo,
)
from iopdesk.ui import msgbox
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.intake import from_qdate, hint
from iopdesk.ui.pages.schedule.dialog_base import (
    _date_edit,
    _ScheduleDialog,
    _time_edit,
    _to_time,
    chosen_client,
    client_combo,
    clinical_staff,
)
from iopdesk.ui.pages.schedule.labels import (
    DEFAULT_MINUTES,
    KIND_LABELS,
    TELEHEALTH_LABELS,
    conflict_text,
    duration_text,
    session_label,
)


class BookDialog(_ScheduleDialog):
    """Book an individual, family or intake session. A double booking is allowed but warned
    about after saving (clinics sometimes double-book on purpose)."""

    def __init__(self, ctx: AppContext, day: dt.date, parent: QWidget | None = None) -> None:
        super().__init__(
            "Book appointment",
            "An individual, family or intake session for one client. Group sessions come "
            "from each track's weekly schedule.",
            "Book appointment",
            parent,
        )
        self.ctx = ctx
        self.setMinimumWidth(560)
        self.booked: SessionInfo | None = None
        self.conflicts: list[Conflict] = []
        self.kind = QComboBox()
        for value in schedule.BOOKABLE_KINDS:
            self.kind.addItem(KIND_LABELS[value], value)
        census = [
            r for r in clients.list_census(ctx.db, ctx.actor) if r.status != ClientStatus.DISCHARGED
        ]
        census.sort(key=lambda r: (r.status != ClientStatus.ACTIVE, r.last_name.casefold()))
        self.census = {r.id: r for r in census}
        self.client = client_combo(census)
        self.client.setObjectName("bookClient")
        self.therapist = QComboBox()
        self.therapist.addItem("Choose a therapist...", None)
        self.staff = clinical_staff(staff.list_staff(ctx.db, ctx.actor))
        for person in self.staff:
            self.therapist.addItem(person.display_name, person.id)
        me = ctx.actor.staff_id
        if me is not None and self.therapist.findData(me) >= 0:
            self.therapist.setCurrentIndex(self.therapist.findData(me))
        self.date = _date_edit(day)
        self.start = _time_edit(dt.time(9, 0))
        self.end = _time_edit(dt.time(10, 0))
        self.length = QLabel("")
        self.length.setObjectName("hint")
        self.location = QLineEdit()
        self.location.setPlaceholderText("e.g. Office 3")
        self.location.setMaxLength(100)
        self.telehealth = QComboBox()
        for value, label in TELEHEALTH_LABELS.items():
            self.telehealth.addItem(label, value)
        self.topic = QLineEdit()
        self.topic.setPlaceholderText("Optional, e.g. Safety plan review")
        self.topic.setMaxLength(200)
        times = QHBoxLayout()
        times.setSpacing(8)
        times.addWidget(self.start)
        times.addWidget(QLabel("to"))
        times.addWidget(self.end)
        times.addWidget(self.length, 1)
        self.form.addRow("Client *", self.client)
        self.form.addRow("Kind", self.kind)
        self.form.addRow("Therapist *", self.therapist)
        self.form.addRow("Date *", self.date)
        self.form.addRow("Time *", times)
        self.form.addRow("Location", self.location)
        self.form.addRow("Telehealth", self.telehealth)
        self.form.addRow("Topic", self.topic)
        self.form.addRow(hint("Overlapping appointments are allowed; you will be warned."))
        self.fields = {
            "kind": self.kind,
            "client_id": self.client,
            "staff_id": self.therapist,
            "session_date": self.date,
            "end_time": self.end,
            "location": self.location,
            "telehealth": self.telehealth,
            "topic": self.topic,
        }
        self._minutes = 60
        self._end_touched = False
        self.start.timeChanged.connect(self._start_changed)
        self.end.timeChanged.connect(self._end_changed)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.client.currentIndexChanged.connect(self._client_changed)
        self._kind_changed()
        self.action = self._book
        self.client.setFocus()

    def _kind_changed(self) -> None:
        if not self._end_touched:
            self._minutes = DEFAULT_MINUTES.get(str(self.kind.currentData()), 60)
            self._set_end()
        self._show_length()

    def _set_end(self) -> None:
        self.end.blockSignals(True)
        self.end.setTime(self.start.time().addSecs(self._minutes * 60))
        self.end.blockSignals(False)
        self._show_length()

    def _start_changed(self) -> None:
        self._set_end()  # keep the length when the start moves

    def _end_changed(self) -> None:
        self._end_touched = True
        self._minutes = max(0, self.start.time().secsTo(self.end.time()) // 60)
        self._show_length()

    def _show_length(self) -> None:
        minutes = self.start.time().secsTo(self.end.time()) // 60
        self.length.setText(duration_text(minutes) if minutes > 0 else "ends before it starts")

    def _client_changed(self) -> None:
        """Default the therapist to the client's primary therapist when one is assigned."""
        cid = chosen_client(self.client)
        row = self.census.get(cid) if cid is not None else None
        if row is None or not row.therapist:
            return
        for person in self.staff:
            if person.display_name == row.therapist:
                self.therapist.setCurrentIndex(self.therapist.findData(person.id))
                return

    def _book(self) -> None:
        errors: dict[str, str] = {}
        client_id = chosen_client(self.client)
        if client_id is None:
            errors["client_id"] = "Choose a client from the list."
        staff_id = self.therapist.currentData()
        if staff_id is None:
            errors["staff_id"] = "Choose the therapist."
        if errors:
            raise ValidationError(next(iter(errors.values())), errors)
        assert client_id is not None
        day = from_qdate(self.date.date())
        self.booked = schedule.book_session(
            self.ctx.db,
            self.ctx.actor,
            str(self.kind.currentData()),
            client_id,
            int(staff_id),
            day,
            _to_time(self.start.time()),
            _to_time(self.end.time()),
            location=self.location.text(),
            telehealth=str(self.telehealth.currentData()),
            topic=self.topic.text(),
        )
        # The booking stands whatever happens next; a failure here must not invite a re-book.
        try:
            self.conflicts = schedule.conflicts(
                self.ctx.db, self.ctx.actor, day, day, session_id=self.booked.id
            )
            titles = {
                s.id: session_label(s)
                for s in schedule.list_sessions(self.ctx.db, self.ctx.actor, day, day)
            }
        except UserError:
            return
        if self.conflicts:
            lines = "\n".join(f"- {conflict_text(c, titles)}" for c in self.conflicts)
            msgbox.warning(
                self,
                "Booked, with a scheduling conflict",
                f"The appointment was booked, but it overlaps another session:\n\n{lines}\n\n"
                "If that was not intended, select the appointment in the schedule, cancel it "
                "and book another time.",
            )
