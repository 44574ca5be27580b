"""The sign-in sheet (issue 4 item 2): one row per client on a session's roster, saved as a
whole and versioned by the session.

Rules:

- Status is one of present, late, left_early, absent_excused, absent_unexcused.
- Minutes attended follow the times: when an arrival or departure time is given, the minutes
  are the part of the scheduled session between them (arrival defaults to the start, departure
  to the end), and typed minutes that disagree with the times are refused. Without times, typed
  minutes (0 to the session length) are kept; otherwise present means the whole session; late
  needs an arrival time or minutes, left_early a departure time or minutes.
- A late arrival lies inside the session (after the start, before the end); so does an early
  departure (after the start, before the end).
  Absent (either kind) is always 0 minutes and stores no times, whatever the row still held.
- Times must lie within an hour of the session, arrival before departure, arrival before the
  end and departure after the start.
- Only clients on the roster (or already recorded at this session) can be signed in.
- Saving a scheduled session whose date is today or earlier (clinic time zone) marks it held;
  a future or cancelled session cannot be signed in.
- Concurrency: the sheet carries the session's version. The save first bumps it with a
  conditional UPDATE (WHERE version = the one loaded), which also locks the row; a sheet saved
  elsewhere since it was loaded is refused as stale and nothing of this save is written. The
  rows go in one multi-row INSERT .. ON CONFLICT DO UPDATE; unchanged rows are not rewritten.
- One audit event per save: entity "session", counts only, no client.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from iopdesk.db import Database
from iopdesk.errors import StaleRecordError, ValidationError
from iopdesk.models import Attendance, ClinicSession, utcnow
from iopdesk.models.enums import AttendanceStatus, SessionStatus
from iopdesk.services import audit, filesout
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import clinic_today
from iopdesk.services.permissions import Perm, require
from iopdesk.services.records import update_versioned
from iopdesk.services.schedule import (
    RosterEntry,
    SessionInfo,
    get_session_row,
    roster_entries_in,
    roster_ids_in,
    session_infos_in,
)

STATUSES = tuple(s.value for s in AttendanceStatus)
ABSENT = (AttendanceStatus.ABSENT_EXCUSED.value, AttendanceStatus.ABSENT_UNEXCUSED.value)
SOURCE_RECORDED = "recorded"  # attendance on file for a client no longer on the roster
TIME_SLACK_MINUTES = 60

STATUS_LABELS = {
    "present": "Present",
    "late": "Late",
    "left_early": "Left early",
    "absent_excused": "Absent (excused)",
    "absent_unexcused": "Absent (unexcused)",
}


@dataclass(frozen=True)
class SignInRow(RosterEntry):
    status: str | None  # None: not recorded yet
    arrival_time: dt.time | None
    departure_time: dt.time | None
    minutes: int | None


@dataclass(frozen=True)
class SignInSheet:
    session: SessionInfo
    session_version: int
    default_minutes: int
    rows: tuple[SignInRow, ...]
    editable: bool  # False: future or cancelled (see `blocked_reason`)
    blocked_reason: str = ""

    @property
    def recorded(self) -> int:
        return sum(1 for r in self.rows if r.status is not None)


@dataclass(frozen=True)
class AttendanceEntry:
    client_id: int
    status: str
    minutes: int | None = None
    arrival_time: dt.time | None = None
    departure_time: dt.time | None = None


def _m(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def _blocked(row: ClinicSession, today: dt.date) -> str:
    if row.status == SessionStatus.CANCELLED:
        return "This session was cancelled, so attendance cannot be recorded for it."
    if row.session_date > today:
        return (
            f"This session is on {row.session_date:%A %Y-%m-%d}, in the future. Attendance can "
            "be recorded on the day of the session or later."
        )
    return ""


def resolve_entry(
    entry: AttendanceEntry, start: dt.time, end: dt.time
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate one row against the session times; returns (values to store, field errors).
    Pure, so the rules can be tested without a database."""
    key = f"rows.{entry.client_id}"
    errors: dict[str, str] = {}
    length = max(0, _m(end) - _m(start))
    status = entry.status
    if status not in STATUSES:
        return {}, {f"{key}.status": "Choose present, late, left early or absent."}
    if status in ABSENT:
        return {"status": status, "minutes": 0, "arrival_time": None, "departure_time": None}, {}
    arrival, departure = entry.arrival_time, entry.departure_time
    lo, hi = _m(start) - TIME_SLACK_MINUTES, _m(end) + TIME_SLACK_MINUTES
    if arrival is not None:
        if not lo <= _m(arrival) <= hi:
            errors[f"{key}.arrival_time"] = (
                f"The arrival time {arrival:%H:%M} is far outside the session "
                f"({start:%H:%M}-{end:%H:%M}); check AM/PM."
            )
        elif _m(arrival) >= _m(end):
            errors[f"{key}.arrival_time"] = (
                f"Arrival must be before the session ends ({end:%H:%M})."
            )
        elif status == AttendanceStatus.LATE and _m(arrival) <= _m(start):
            errors[f"{key}.arrival_time"] = (
                f"A late arrival must be after the session starts ({start:%H:%M}); "
                "otherwise mark the client present."
            )
    if departure is not None:
        if not lo <= _m(departure) <= hi:
            errors[f"{key}.departure_time"] = (
                f"The departure time {departure:%H:%M} is far outside the session "
                f"({start:%H:%M}-{end:%H:%M}); check AM/PM."
            )
        elif _m(departure) <= _m(start):
            errors[f"{key}.departure_time"] = (
                f"Departure must be after the session starts ({start:%H:%M})."
            )
        elif status == AttendanceStatus.LEFT_EARLY and _m(departure) >= _m(end):
            errors[f"{key}.departure_time"] = (
                f"Leaving early means leaving before the session ends ({end:%H:%M}); "
                "otherwise mark the client present."
            )
    if (
        arrival is not None
        and departure is not None
        and not errors
        and _m(arrival) >= _m(departure)
    ):
        errors[f"{key}.departure_time"] = "Departure must be after arrival."
    minutes = entry.minutes
    if arrival is not None or departure is not None:
        if not errors:
            a = max(_m(arrival if arrival is not None else start), _m(start))
            d = min(_m(departure if departure is not None else end), _m(end))
            minutes = max(0, d - a)
            if entry.minutes is not None and entry.minutes != minutes:
                errors[f"{key}.minutes"] = (
                    f"{entry.minutes} minutes does not match the times "
                    f"({minutes} minutes); clear the minutes or correct the times."
                )
    elif minutes is not None:
        if not 0 <= minutes <= length:
            errors[f"{key}.minutes"] = f"Minutes attended must be between 0 and {length}."
    elif status == AttendanceStatus.PRESENT:
        minutes = length
    elif status == AttendanceStatus.LATE:
        errors[f"{key}.minutes"] = "Enter the arrival time or the minutes attended."
    else:
        errors[f"{key}.minutes"] = "Enter the departure time or the minutes attended."
    if errors:
        return {}, errors
    return {
        "status": status,
        "minutes": int(minutes or 0),
        "arrival_time": arrival,
        "departure_time": departure,
    }, {}


def _recorded(session: Session, session_id: int) -> dict[int, tuple[str, Any, Any, int]]:
    return {
        cid: (status, arrival, departure, minutes)
        for cid, status, arrival, departure, minutes in session.execute(
            sa_select(
                col(Attendance.client_id),
                col(Attendance.status),
                col(Attendance.arrival_time),
                col(Attendance.departure_time),
                col(Attendance.minutes),
            ).where(col(Attendance.session_id) == session_id)
        ).all()
    }


def _sheet_in(session: Session, row: ClinicSession) -> SignInSheet:
    assert row.id is not None
    members = dict(roster_ids_in(session, [row])[row.id])
    recorded = _recorded(session, row.id)
    for cid in recorded:
        members.setdefault(cid, SOURCE_RECORDED)
    rows: list[SignInRow] = []
    for e in roster_entries_in(session, members):
        status, arrival, departure, minutes = recorded.get(e.client_id, (None, None, None, None))
        rows.append(
            SignInRow(
                e.client_id,
                e.mrn,
                e.last,
                e.first,
                e.preferred_name,
                e.part2,
                e.source,
                status,
                arrival,
                departure,
                minutes,
            )
        )
    info = session_infos_in(session, [row])[0]
    blocked = _blocked(row, clinic_today(session))
    return SignInSheet(info, row.version, info.minutes, tuple(rows), not blocked, blocked)


def sign_in_sheet(db: Database, actor: Actor, session_id: int) -> SignInSheet:
    """The roster with what has been recorded so far, and the version to save against."""
    require(actor, Perm.CLIENT_VIEW)
    with db.session() as session:
        return _sheet_in(session, get_session_row(session, session_id))


def _upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    """One multi-row INSERT .. ON CONFLICT (session_id, client_id) DO UPDATE."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table: Any = Attendance.__table__  # type: ignore[attr-defined]
    stmt: Any = dialect.insert(table).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.session_id, table.c.client_id],
        set_={
            "status": stmt.excluded.status,
            "minutes": stmt.excluded.minutes,
            "arrival_time": stmt.excluded.arrival_time,
            "departure_time": stmt.excluded.departure_time,
            "updated_at": stmt.excluded.updated_at,
            "updated_by": stmt.excluded.updated_by,
            "version": table.c.version + 1,
        },
    )
    session.execute(stmt)


def record_attendance(
    db: Database,
    actor: Actor,
    session_id: int,
    expected_session_version: int,
    entries: Sequence[AttendanceEntry],
) -> SignInSheet:
    """Save the sign-in sheet as a whole; returns the sheet as saved (with the new version)."""
    require(actor, Perm.ATTENDANCE_RECORD)
    if not entries:
        raise ValidationError("Mark at least one client before saving the sign-in sheet.")
    seen: set[int] = set()
    for e in entries:
        if e.client_id in seen:
            raise ValidationError(
                "The same client appears twice on the sheet.",
                {f"rows.{e.client_id}.status": "Listed twice."},
            )
        seen.add(e.client_id)
    with db.session() as session:
        row = get_session_row(session, session_id)
        if row.version != expected_session_version:
            raise StaleRecordError("This sign-in sheet")
        blocked = _blocked(row, clinic_today(session))
        if blocked:
            raise ValidationError(blocked)
        errors: dict[str, str] = {}
        resolved: dict[int, dict[str, Any]] = {}
        for e in entries:
            values, problems = resolve_entry(e, row.start_time, row.end_time)
            errors.update(problems)
            if values:
                resolved[e.client_id] = values
        if errors:
            raise ValidationError(
                f"Please correct the highlighted rows. {next(iter(errors.values()))}", errors
            )
        # The conditional UPDATE is the concurrency check and locks the session row, so the
        # roster and attendance read below are the latest committed ones.
        changes: dict[str, Any] = {}
        if row.status == SessionStatus.SCHEDULED:
            changes["status"] = SessionStatus.HELD.value
        updated = update_versioned(
            session,
            actor,
            ClinicSession,
            session_id,
            expected_session_version,
            changes,
            what="This sign-in sheet",
        )
        assert updated.id is not None
        members = roster_ids_in(session, [updated])[updated.id]
        recorded = _recorded(session, session_id)
        off_roster = [cid for cid in resolved if cid not in members and cid not in recorded]
        if off_roster:
            raise ValidationError(
                "A client on the sheet is not on this session's roster. Add them to the roster "
                "first, then sign them in.",
                {f"rows.{cid}.client_id": "Not on the roster." for cid in off_roster},
            )
        now = utcnow()
        to_write: list[dict[str, Any]] = []
        for cid, values in resolved.items():
            before = recorded.get(cid)
            after = (
                values["status"],
                values["arrival_time"],
                values["departure_time"],
                values["minutes"],
            )
            if before == after:
                continue
            to_write.append(
                {
                    "session_id": session_id,
                    "client_id": cid,
                    **values,
                    "created_at": now,
                    "created_by": actor.user_id,
                    "updated_at": now,
                    "updated_by": actor.user_id,
                    "version": 1,
                }
            )
        if to_write:
            _upsert(session, to_write)
        counts = Counter(v["status"] for v in resolved.values())
        audit.record(
            session,
            actor,
            audit.Action.UPDATE,
            entity="session",
            entity_id=session_id,
            detail=(
                f"attendance saved: {len(resolved)} rows, {len(to_write)} changed; "
                + ", ".join(f"{s}={counts[s]}" for s in STATUSES if counts[s])
            ),
        )
        return _sheet_in(session, updated)


def export_roster(
    db: Database, actor: Actor, session_id: int, path: Path, *, privacy: bool = True
) -> int:
    """Write the printable roster for a session (PDF); audited as a print. Returns lines."""
    from iopdesk.models import Clinic
    from iopdesk.reports.roster import RosterDoc, RosterLine, write_pdf

    require(actor, Perm.ATTENDANCE_RECORD)
    if path.suffix.lower() != ".pdf":
        raise ValidationError("The roster is saved as a PDF file (name ending in .pdf).")
    sheet = sign_in_sheet(db, actor, session_id)
    with db.read() as session:
        clinic = session.exec(select(Clinic)).first()
        clinic_name = clinic.name if clinic else ""
    info = sheet.session
    lines = tuple(
        RosterLine(r.privacy_name if privacy else r.display_name, r.mrn, r.part2)
        for r in sorted(sheet.rows, key=lambda r: (r.last.casefold(), r.first.casefold()))
    )
    doc = RosterDoc(
        clinic_name,
        info.title,
        info.date,
        info.start,
        info.end,
        ", ".join(info.facilitators),
        info.location,
        lines,
        privacy,
    )
    with (
        filesout.audited_write(Path(path), lambda p: write_pdf(doc, p)) as place,
        db.session() as session,
    ):
        audit.record(
            session,
            actor,
            audit.Action.PRINT,
            entity="session",
            entity_id=session_id,
            detail=f"roster, {len(sheet.rows)} lines, privacy={privacy}",
        )
        place()
    return len(lines)
