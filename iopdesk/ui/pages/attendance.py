"""Attendance: the sign-in sheet for a session (fast keyboard use) and weekly hours."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from iopdesk.errors import StaleRecordError, UserError, ValidationError
from iopdesk.services import attendance, drafts, schedule
from iopdesk.services.permissions import Perm
from iopdesk.ui import clock, files, msgbox, ops
from iopdesk.ui.clock import clinic_time
from iopdesk.ui.context import AppContext
from iopdesk.ui.dates import DateEdit
from iopdesk.ui.flow import flow_row
from iopdesk.ui.widgets import Page, make_table, muted, section_title

STATUS_KEYS = {
    Qt.Key.Key_P: "present",
    Qt.Key.Key_L: "late",
    Qt.Key.Key_E: "left_early",
    Qt.Key.Key_X: "absent_excused",
    Qt.Key.Key_U: "absent_unexcused",
}
STATUS_LABELS = {
    "present": "Present",
    "late": "Late",
    "left_early": "Left early",
    "absent_excused": "Absent (excused)",
    "absent_unexcused": "Absent (unexcused)",
}
STATUS_COLORS = {
    "present": "#2e7d32",
    "late": "#b26a00",
    "left_early": "#b26a00",
    "absent_excused": "#5f6d7c",
    "absent_unexcused": "#c62828",
}
KEY_HELP = "Keys: P present, L late, E left early, X absent excused, U absent unexcused"


def parse_time(text: str) -> time | None:
    """'18:05', '1805', '6:05 pm' -> time; '' -> None; ValueError with a plain message."""
    t = text.strip().lower()
    if not t:
        return None
    m = re.fullmatch(r"(\d{1,2}):?(\d{2})\s*(am|pm)?", t)
    if not m:
        raise ValueError(f"'{text}' is not a time; type it like 18:05.")
    hour, minute, half = int(m.group(1)), int(m.group(2)), m.group(3)
    if half == "pm" and hour < 12:
        hour += 12
    if half == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        raise ValueError(f"'{text}' is not a time; type it like 18:05.")
    return time(hour, minute)


@dataclass
class EditRow:
    client_id: int
    name: str
    mrn: str
    status: str | None
    arrival: str
    departure: str
    minutes: str
    minutes_typed: bool = False


# Short headings as on a paper sign-in sheet, so the client column keeps its room at 1024x700.
COLUMNS = ("Client", "MRN", "Status", "Time in", "Time out", "Min")
COLUMN_TIPS = ("", "", "", "Arrival time", "Departure time", "Minutes attended")
EDITABLE = {3, 4, 5}


class SignInModel(QAbstractTableModel):
    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[EditRow] = []
        self.default_minutes = 0
        self.editable = True
        self.start = time(0, 0)
        self.end = time(0, 0)

    def load(self, sheet: attendance.SignInSheet) -> None:
        self.beginResetModel()
        self.default_minutes = sheet.default_minutes
        self.editable = sheet.editable
        self.rows = [
            EditRow(
                r.client_id,
                r.display_name + (f" ({r.preferred_name})" if r.preferred_name else ""),
                r.mrn,
                r.status,
                f"{r.arrival_time:%H:%M}" if r.arrival_time else "",
                f"{r.departure_time:%H:%M}" if r.departure_time else "",
                "" if r.minutes is None else str(r.minutes),
                # Saved minutes are "typed" only when no time explains them; minutes that came
                # from times follow the times when they are edited (issue 19 item 1).
                r.minutes is not None
                and r.arrival_time is None
                and r.departure_time is None
                and not (r.status == "present" and r.minutes == sheet.default_minutes),
            )
            for r in sheet.rows
        ]
        self.start = sheet.session.start
        self.end = sheet.session.end
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return COLUMN_TIPS[section] or None
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if self.editable and index.column() in EDITABLE:
            base |= Qt.ItemFlag.ItemIsEditable
        return base

    def minutes_from_times(self, row: EditRow) -> int | None:
        """The minutes the service will store for the row's times (None: no usable time)."""
        try:
            arrival, departure = parse_time(row.arrival), parse_time(row.departure)
        except ValueError:
            return None
        if arrival is None and departure is None:
            return None

        def m(t: time) -> int:
            return t.hour * 60 + t.minute

        a = max(m(arrival or self.start), m(self.start))
        d = min(m(departure or self.end), m(self.end))
        return max(0, d - a)

    def shown_minutes(self, row: EditRow) -> str:
        if row.minutes_typed or row.status is None:
            return row.minutes
        if row.status.startswith("absent"):
            return "0"
        computed = self.minutes_from_times(row)
        if computed is not None:
            return str(computed)
        if row.status == "present":
            return str(self.default_minutes)
        return ""

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        col = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if col == 0:
                return row.name
            if col == 1:
                return row.mrn
            if col == 2:
                return STATUS_LABELS.get(row.status or "", "- not marked -")
            if col == 3:
                return row.arrival
            if col == 4:
                return row.departure
            return self.shown_minutes(row)
        if role == Qt.ItemDataRole.ForegroundRole:
            if col == 2:
                return QBrush(QColor(STATUS_COLORS.get(row.status or "", "#8a96a3")))
            if col == 5 and not row.minutes_typed:
                return QBrush(QColor("#5f6d7c"))
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 5:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(
        self, index: QModelIndex | QPersistentModelIndex, value: Any, role: int = 2
    ) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        row = self.rows[index.row()]
        text = str(value).strip()
        if index.column() in (3, 4):
            if index.column() == 3:
                row.arrival = text
            else:
                row.departure = text
            # Minutes follow the times: a new time replaces minutes typed or saved before.
            row.minutes, row.minutes_typed = "", False
        elif index.column() == 5:
            row.minutes = text
            row.minutes_typed = bool(text)
        else:
            return False
        self.dataChanged.emit(self.index(index.row(), 3), self.index(index.row(), 5))
        self.changed.emit()
        return True

    def set_status(self, row_index: int, status: str | None) -> None:
        if not self.editable:
            return
        row = self.rows[row_index]
        row.status = status
        if status is not None and status.startswith("absent"):
            row.arrival = row.departure = ""
            row.minutes, row.minutes_typed = "", False
        elif not row.minutes_typed:
            row.minutes = ""
        self.dataChanged.emit(self.index(row_index, 0), self.index(row_index, len(COLUMNS) - 1))
        self.changed.emit()

    def entries(self) -> list[attendance.AttendanceEntry]:
        """The marked rows as service input; ValidationError names the row and field."""
        result = []
        for row in self.rows:
            if row.status is None:
                continue
            try:
                arrival = parse_time(row.arrival)
                departure = parse_time(row.departure)
            except ValueError as exc:
                raise ValidationError(f"{row.name}: {exc}") from None
            minutes = None
            if row.minutes_typed and row.minutes:
                if not row.minutes.isdigit():
                    raise ValidationError(f"{row.name}: minutes must be a whole number.")
                minutes = int(row.minutes)
            result.append(
                attendance.AttendanceEntry(row.client_id, row.status, minutes, arrival, departure)
            )
        return result


class SignInTable(QTableView):
    """Arrow keys move; one key sets the status and moves to the next client."""

    status_key = Signal(int, str)
    save_requested = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Save):
            self.save_requested.emit()  # also when the window-level shortcut did not fire
            return
        status = STATUS_KEYS.get(Qt.Key(event.key()))
        if status is not None and not event.modifiers() & (
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
        ):
            row = self.currentIndex().row()
            if row >= 0:
                self.status_key.emit(row, status)
                nxt = min(row + 1, self.model().rowCount() - 1)
                self.setCurrentIndex(self.model().index(nxt, self.currentIndex().column()))
            return
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and (
            self.currentIndex().column() == 2
        ):
            self.status_key.emit(self.currentIndex().row(), "")
            return
        super().keyPressEvent(event)


class SignInPanel(QWidget):
    saved = Signal()

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.sheet: attendance.SignInSheet | None = None
        self.dirty = False
        self.last_op: ops.Op[Any] | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.title = section_title("Choose a session")
        self.info = muted("")
        self.blocked = QLabel("")
        self.blocked.setObjectName("fieldError")
        self.blocked.setWordWrap(True)
        lay.addWidget(self.title)
        lay.addWidget(self.info)
        lay.addWidget(self.blocked)
        self.model = SignInModel()
        self.model.changed.connect(self._mark_dirty)
        self.table = SignInTable()
        self.table.setObjectName("signInTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(30)
        self.table.setEditTriggers(
            QTableView.EditTrigger.DoubleClicked
            | QTableView.EditTrigger.EditKeyPressed
            | QTableView.EditTrigger.AnyKeyPressed
        )
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(48)
        bold = QFont(self.table.font())
        bold.setBold(True)
        heading = QFontMetrics(bold)
        for column, width in ((1, 78), (2, 118), (3, 58), (4, 58), (5, 48)):
            # never narrower than the column's own heading (headers are bold)
            need = heading.horizontalAdvance(COLUMNS[column]) + 22
            self.table.setColumnWidth(column, max(width, need))
        self.table.setHorizontalScrollMode(QTableView.ScrollMode.ScrollPerPixel)
        self.table.save_requested.connect(self.save)
        self.table.status_key.connect(
            lambda row, status: self.model.set_status(row, status or None)
        )
        lay.addWidget(self.table, 1)
        lay.addWidget(muted(KEY_HELP + ". Type times like 18:05. Ctrl+S saves."))
        buttons = QHBoxLayout()
        self.all_present = QPushButton("Mark the rest present")
        self.all_present.clicked.connect(self._rest_present)
        self.privacy = QCheckBox("Print preferred name + initial only")
        self.privacy.setChecked(True)
        self.print_btn = QPushButton("Print roster...")
        self.print_btn.clicked.connect(self._print)
        self.save_btn = QPushButton("Save sign-in")
        self.save_btn.setObjectName("primary")
        self.save_btn.clicked.connect(self.save)
        QShortcut(QKeySequence("Ctrl+S"), self).activated.connect(self.save)
        # Wrapping, so no label is cut at 1024x700 (issue 19 item 16); Save stays last.
        self.status_line = muted("")
        self.status_line.setWordWrap(False)
        buttons.addWidget(
            flow_row(self.all_present, self.privacy, self.print_btn, self.status_line), 1
        )
        buttons.addWidget(self.save_btn, 0, Qt.AlignmentFlag.AlignTop)
        lay.addLayout(buttons)
        self._set_enabled(False)

    def _set_enabled(self, on: bool) -> None:
        for w in (self.all_present, self.save_btn):
            w.setEnabled(on and self.ctx.can(Perm.ATTENDANCE_RECORD))
        self.print_btn.setEnabled(self.sheet is not None and self.ctx.can(Perm.ATTENDANCE_RECORD))

    def _mark_dirty(self) -> None:
        self.dirty = True
        self.status_line.setText("Unsaved changes")

    def load(self, session_id: int) -> ops.Op[Any]:
        """Read the session's sign-in sheet (and any marks kept unsaved) on an op worker,
        then show it."""
        db, actor = self.ctx.db, self.ctx.actor
        op: ops.Op[Any] = ops.run(self, lambda: _read_sheet(db, actor, session_id), self._present)
        self.last_op = op
        return op

    def _present(self, read: tuple[attendance.SignInSheet, drafts.Draft | None]) -> None:
        self.sheet, draft = read
        s = self.sheet.session
        self.title.setText(s.title)
        who = ", ".join(s.facilitators) or "no facilitator set"
        place = s.location or ("Telehealth" if s.telehealth != "no" else "")
        self.info.setText(
            f"{s.date:%A %m/%d/%Y}  {s.start:%H:%M}-{s.end:%H:%M}  |  {who}"
            + (f"  |  {place}" if place else "")
            + f"  |  {s.status.title()}  |  {self.sheet.recorded} of {len(self.sheet.rows)} marked"
        )
        self.blocked.setText(self.sheet.blocked_reason)
        self.blocked.setVisible(bool(self.sheet.blocked_reason))
        self.model.load(self.sheet)
        self.dirty = False
        self.status_line.setText("")
        self._set_enabled(self.sheet.editable)
        if self.sheet.editable and draft is not None:
            self._offer_draft(draft)
        if self.model.rows:
            self.table.setCurrentIndex(self.model.index(0, 2))
            self.table.horizontalScrollBar().setValue(0)  # the client names stay in view
        self.table.setFocus()

    # -- drafts (unsaved marks are never lost to a sign-out or a closed window) ---------------
    def _draft_name(self) -> str:
        return f"signin:{self.sheet.session.id}" if self.sheet is not None else ""

    def unsaved_work(self) -> str | None:
        if self.sheet is not None and self.dirty and self.sheet.editable:
            return f"sign-in marks for {self.sheet.session.title} that are not saved yet"
        return None

    def keep_typed_work(self) -> None:
        if self.sheet is None:
            return
        rows = [
            [r.client_id, r.status, r.arrival, r.departure, r.minutes, r.minutes_typed]
            for r in self.model.rows
        ]
        drafts.keep(self.ctx.db, self.ctx.actor, self._draft_name(), {"rows": rows})

    def _offer_draft(self, draft: drafts.Draft) -> None:
        """Marks kept unsaved (read with the sheet): offered back once, then thrown away."""
        self._discard_draft()
        when = clinic_time(draft.saved_at)
        if not msgbox.confirm(
            self,
            "Unsaved sign-in marks",
            f"You had marked this sign-in sheet on {when:%m/%d/%Y at %H:%M} without saving. "
            "Put those marks back so you can check and save them?",
            default=True,
        ):
            return
        by_client = {int(r[0]): r for r in draft.data.get("rows", []) if r}
        for row in self.model.rows:
            kept = by_client.get(row.client_id)
            if kept is not None:
                row.status, row.arrival, row.departure = kept[1], kept[2], kept[3]
                row.minutes, row.minutes_typed = kept[4], bool(kept[5])
        self.model.layoutChanged.emit()
        self._mark_dirty()

    def _rest_present(self) -> None:
        for i, row in enumerate(self.model.rows):
            if row.status is None:
                self.model.set_status(i, "present")

    def _discard_draft(self) -> None:
        db, actor, name = self.ctx.db, self.ctx.actor, self._draft_name()
        ops.run(self, lambda: drafts.discard(db, actor, name))

    def save(self) -> ops.Op[Any] | None:
        """Save the marks on an op worker (Save is off meanwhile); the sheet is read again
        with the save. A refusal is said in a box and the marks stay as typed; a sheet changed
        on another workstation is said, then shown as it is now."""
        if self.sheet is None or not self.sheet.editable:
            return None
        try:
            entries = self.model.entries()
        except UserError as exc:
            msgbox.user_error(self, exc)
            return None
        db, actor, name = self.ctx.db, self.ctx.actor, self._draft_name()
        session_id, version = self.sheet.session.id, self.sheet.session_version

        def work() -> tuple[attendance.SignInSheet, drafts.Draft | None]:
            attendance.record_attendance(db, actor, session_id, version, entries)
            drafts.discard(db, actor, name)
            return attendance.sign_in_sheet(db, actor, session_id), None

        def saved(read: tuple[attendance.SignInSheet, drafts.Draft | None]) -> None:
            self._present(read)
            n = len(entries)
            self.status_line.setText(f"Saved {n} client{'s' if n != 1 else ''}")
            self.saved.emit()

        def failed(exc: BaseException) -> None:
            if isinstance(exc, StaleRecordError):
                msgbox.warning(self, exc.title, exc.message)
                self.load(session_id)
            else:
                ops.report_failure(self, exc)

        self.save_btn.setEnabled(False)
        op: ops.Op[Any] = (
            ops.Op(self, work, takes_control=False)
            .success(saved)
            .failure(failed)
            .on_done(lambda: self._set_enabled(self.sheet is not None and self.sheet.editable))
            .run_in_background()
        )
        self.last_op = op
        return op

    def _print(self) -> None:
        if self.sheet is None:
            return
        s = self.sheet.session
        suggested = f"roster-{s.date:%Y-%m-%d}-{s.start:%H%M}.pdf"
        path, _ = QFileDialog.getSaveFileName(
            self, "Save roster as PDF", str(files.default_path(suggested)), "PDF (*.pdf)"
        )
        if not path:
            return
        db, actor, privacy = self.ctx.db, self.ctx.actor, self.privacy.isChecked()
        self.last_op = ops.run(
            self,
            lambda: attendance.export_roster(db, actor, s.id, Path(path), privacy=privacy),
            lambda _r: msgbox.info(self, "Roster saved", f"The roster was saved to {path}."),
            progress="Writing the roster...",
        )


def _read_sheet(
    db: Any, actor: Any, session_id: int
) -> tuple[attendance.SignInSheet, drafts.Draft | None]:
    """Worker side of `SignInPanel.load`: the sheet, and marks kept unsaved when editable."""
    sheet = attendance.sign_in_sheet(db, actor, session_id)
    draft = drafts.peek(db, actor, f"signin:{session_id}") if sheet.editable else None
    return sheet, draft


class AttendancePage(Page):
    title = "Attendance"
    open_client = Signal(int)

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.tabs = QTabWidget()
        self.layout_.addWidget(self.tabs, 1)
        sign = QWidget()
        row = QHBoxLayout(sign)
        # The session list gives way at 1024x700 so the sheet shows whole rows, client names
        # included, without scrolling sideways (issue 19 item 16).
        left_box = QWidget()
        left_box.setFixedWidth(240)
        left = QVBoxLayout(left_box)
        left.setContentsMargins(0, 0, 0, 0)
        prev_day = QPushButton("<")
        prev_day.setFixedWidth(34)
        prev_day.setObjectName("arrow")
        prev_day.setToolTip("Previous day")
        next_day = QPushButton(">")
        next_day.setFixedWidth(34)
        next_day.setObjectName("arrow")
        next_day.setToolTip("Next day")
        self.day = DateEdit(clock.today(), weekday=True)
        prev_day.clicked.connect(lambda: self.day.setDate(self.day.date().addDays(-1)))
        next_day.clicked.connect(lambda: self.day.setDate(self.day.date().addDays(1)))
        today = QPushButton("Today")
        today.clicked.connect(lambda: self.day.setDate(clock.today()))
        nav = flow_row(prev_day, self.day, next_day, today, spacing=6)
        nav.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        left.addWidget(nav)
        self.sessions = QListWidget()
        self.sessions.setObjectName("sessionList")
        # Narrower at 1024x700 so the sheet's client column stays in view (issue 19 item 16).
        self.sessions.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.sessions.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.sessions.currentItemChanged.connect(self._session_chosen)
        left.addWidget(self.sessions, 1)
        row.addWidget(left_box)
        self.panel = SignInPanel(ctx)
        self.panel.saved.connect(self._reload_list_keep)
        row.addWidget(self.panel, 1)
        self.tabs.addTab(sign, "Sign-in sheet")
        self.day.dateChanged.connect(lambda _d: self.refresh())
        self._hours_tab: Any = None
        self._open_after: int | None = None
        self._keep_row = -1
        self._add_hours_tab()

    def _add_hours_tab(self) -> None:
        try:
            from iopdesk.ui.pages.hours import WeeklyHoursWidget
        except ImportError:  # pragma: no cover - before the hours screen exists
            return
        self._hours_tab = WeeklyHoursWidget(self.ctx)
        self._hours_tab.open_client.connect(self.open_client.emit)
        self.tabs.addTab(self._hours_tab, "Weekly hours")

    def current_day(self) -> date:
        d = self.day.date()
        return date(d.year(), d.month(), d.day())

    shows = frozenset({"clinic_session", "attendance", "rosterchange", "track", "clinicclosure"})

    def refresh(self) -> None:
        """The day's sessions (and the hours tab), loaded in the background."""
        from iopdesk.ui.pages.loading import load

        day = self.current_day()
        load(self, lambda: self.fetch(day), self.present)
        if self._hours_tab is not None:
            self._hours_tab.refresh()

    def fetch(self, day: date | None = None) -> list[Any]:
        """Worker thread: services only."""
        day = day or clock.today()
        return schedule.list_sessions(self.ctx.db, self.ctx.actor, day, day)

    def present(self, data: object) -> None:
        rows: list[Any] = data  # type: ignore[assignment]
        self.sessions.blockSignals(True)
        self.sessions.clear()
        for s in rows:
            text = f"{s.start:%H:%M}-{s.end:%H:%M}  {s.title}"
            if s.is_cancelled:
                text += "  (cancelled)"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, s.id)
            if s.is_cancelled:
                item.setForeground(QBrush(QColor("#8a96a3")))
            self.sessions.addItem(item)
        keep, self._keep_row = self._keep_row, -1
        if 0 <= keep < self.sessions.count():
            self.sessions.setCurrentRow(keep)
        self.sessions.blockSignals(False)
        if not rows:
            self.panel.title.setText("No sessions on this day")
            self.panel.info.setText("")
        wanted, self._open_after = self._open_after, None
        if wanted is not None:
            for i in range(self.sessions.count()):
                if self.sessions.item(i).data(Qt.ItemDataRole.UserRole) == wanted:
                    self.sessions.setCurrentRow(i)
                    break

    def open_session(self, session_id: int) -> ops.Op[Any]:
        """Show the session's day and open its sign-in sheet (looked up in the background)."""
        db, actor = self.ctx.db, self.ctx.actor

        def found(info: Any) -> None:
            self.tabs.setCurrentIndex(0)
            self._open_after = session_id
            wanted = QDate(info.date.year, info.date.month, info.date.day)
            if self.day.date() == wanted:
                self.refresh()
            else:
                self.day.setDate(wanted)  # refreshes

        from iopdesk.ui.pages.loading import while_alive

        return (
            ops.Op(self, lambda: schedule.get_session(db, actor, session_id))
            .success(while_alive(self, found))
            .run_in_background()
        )

    def _session_chosen(self, item: QListWidgetItem | None, _prev: Any = None) -> None:
        if item is None:
            return
        if self.panel.dirty and not msgbox.confirm(
            self, "Unsaved sign-in", "Leave this sign-in sheet without saving?", default=True
        ):
            return
        self.panel.load(int(item.data(Qt.ItemDataRole.UserRole)))  # on an op worker

    def unsaved_work(self) -> str | None:
        return self.panel.unsaved_work()

    def keep_typed_work(self) -> None:
        self.panel.keep_typed_work()

    def _reload_list_keep(self) -> None:
        self._keep_row = self.sessions.currentRow()
        self.refresh()


__all__ = ["AttendancePage", "SignInPanel", "make_table", "parse_time"]
