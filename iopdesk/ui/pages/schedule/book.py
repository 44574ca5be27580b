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
from iopdesk.services.clients import CensusRow
from iopdesk.services.schedule import (
    Conflict,
    SessionInfo,
)
from iopdesk.services.staff import StaffInfo
from iopdesk.ui import msgbox
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.intake import from_qdate, hint
from iopdesk.ui.pages.schedule.dialog_base import (
    Save,
    _date_edit,
    _ScheduleDialog,
    _time_edit,
    _to_time,
    add_clients,
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
        self.census: dict[int, CensusRow] = {}
        self.client = client_combo([])
        self.client.setObjectName("bookClient")
        self.therapist = QComboBox()
        self.therapist.addItem("Choose a therapist...", None)
        self.staff: list[StaffInfo] = []
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
        db, actor = ctx.db, ctx.actor
        self.read(lambda: (clients.list_census(db, actor), staff.list_staff(db, actor)), self._fill)

    def _fill(self, data: tuple[list[CensusRow], list[StaffInfo]]) -> None:
        """The pick lists, read on a worker when the dialog opened."""
        census = [r for r in data[0] if r.status != ClientStatus.DISCHARGED]
        census.sort(key=lambda r: (r.status != ClientStatus.ACTIVE, r.last_name.casefold()))
        self.census = {r.id: r for r in census}
        add_clients(self.client, census)
        self.staff = clinical_staff(data[1])
        for person in self.staff:
            self.therapist.addItem(person.display_name, person.id)
        me = self.ctx.actor.staff_id
        if me is not None and self.therapist.findData(me) >= 0:
            self.therapist.setCurrentIndex(self.therapist.findData(me))
        self._client_changed()  # a client typed before the list arrived

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

    def _book(self) -> Save:
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
        db, actor = self.ctx.db, self.ctx.actor
        day = from_qdate(self.date.date())
        kind, start, end = str(self.kind.currentData()), self.start.time(), self.end.time()
        location, topic = self.location.text(), self.topic.text()
        telehealth = str(self.telehealth.currentData())

        def work() -> tuple[SessionInfo, list[Conflict], dict[int, str]]:
            booked = schedule.book_session(
                db,
                actor,
                kind,
                client_id,
                int(staff_id),
                day,
                _to_time(start),
                _to_time(end),
                location=location,
                telehealth=telehealth,
                topic=topic,
            )
            # The booking stands whatever happens next; a failure here must not invite a
            # re-book.
            try:
                conflicts = schedule.conflicts(db, actor, day, day, session_id=booked.id)
                titles = {
                    s.id: session_label(s) for s in schedule.list_sessions(db, actor, day, day)
                }
            except UserError:
                return booked, [], {}
            return booked, conflicts, titles

        return Save(work, self._booked)

    def _booked(self, result: tuple[SessionInfo, list[Conflict], dict[int, str]]) -> None:
        self.booked, self.conflicts, titles = result
        if self.conflicts:
            lines = "\n".join(f"- {conflict_text(c, titles)}" for c in self.conflicts)
            msgbox.warning(
                self,
                "Booked, with a scheduling conflict",
                f"The appointment was booked, but it overlaps another session:\n\n{lines}\n\n"
                "If that was not intended, select the appointment in the schedule, cancel it "
                "and book another time.",
            )
