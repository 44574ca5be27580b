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
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    ARRAY,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    literal_column,
    not_,
    union_all,
    update,
)
from sqlalchemy import func as sa_func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, StaleRecordError, ValidationError
from iopdesk.models import (
    Attendance,
    Client,
    Clinic,
    ClinicSession,
    SessionFacilitator,
    Staff,
    Track,
    utcnow,
)
from iopdesk.models.base import UTCDateTime
from iopdesk.models.enums import AttendanceStatus, SessionKind, SessionStatus
from iopdesk.services import audit, filesout
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import clinic_now
from iopdesk.services.declare import Arg, Audited, about, service
from iopdesk.services.permissions import Perm, require
from iopdesk.services.schedule import (
    RosterEntry,
    SessionInfo,
    roster_ids_in,
    staff_name,
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


def _blocked(row: ClinicSession | _Row, today: dt.date) -> str:
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


# -- loading and saving: a fixed handful of plain Core statements ---------------------------
# The sign-in sheet is read and saved over the network on a clinic server, so each step is one
# statement (built once per database dialect, then reused) and no ORM objects are made:
#   read: the session row (with the clinic's time zone and the track name), the roster (two,
#         schedule.roster_ids_in), the clients with what is recorded, the facilitators;
#   save: the same plus the versioned UPDATE, one multi-row upsert and the audit event.


class _Row(NamedTuple):
    """The session row as the sheet needs it (duck-types ClinicSession for roster_ids_in)."""

    id: int
    kind: str
    track_id: int | None
    client_id: int | None
    block_id: int | None
    session_date: dt.date
    start_time: dt.time
    end_time: dt.time
    location: str
    telehealth: str
    status: str
    cancelled_by_clinic: bool
    cancel_reason: str
    topic: str
    version: int


_STATEMENTS: dict[tuple[str, str], Any] = {}
_SID = bindparam("sid", type_=Integer)


def _statement(dialect: str, name: str) -> Any:
    key = (dialect, name)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = _BUILDERS[name](dialect)
    return stmt


def _session_q(dialect: str) -> Any:
    """The session row, the clinic's time zone and the track's name, in one statement."""
    s: Any = ClinicSession.__table__  # type: ignore[attr-defined]
    return sa_select(
        *(s.c[name] for name in _Row._fields),
        sa_select(col(Clinic.timezone)).limit(1).scalar_subquery(),
        sa_select(col(Track.name)).where(col(Track.id) == s.c.track_id).scalar_subquery(),
    ).where(s.c.id == _SID)


def _ids_filter(dialect: str, column: Any) -> Any:
    """`column IN (the ids parameter)`: one parameter whatever the number of IDs."""
    if dialect == "postgresql":
        return column == any_(bindparam("ids", type_=ARRAY(Integer)))
    ids = sa_select(literal_column("value", Integer)).select_from(
        sa_func.json_each(bindparam("ids", type_=String))
    )
    return column.in_(ids)


def _ids_value(dialect: str, ids: Sequence[int]) -> Any:
    return list(ids) if dialect == "postgresql" else json.dumps(list(ids))


def _clients_q(dialect: str) -> Any:
    """The roster's clients with their attendance at the session (if any), then the clients
    recorded at the session who are not on the roster."""
    c: Any = Client.__table__  # type: ignore[attr-defined]
    a: Any = Attendance.__table__  # type: ignore[attr-defined]
    columns = (
        c.c.id,
        c.c.mrn,
        c.c.last_name,
        c.c.first_name,
        c.c.preferred_name,
        c.c.part2,
        a.c.status,
        a.c.arrival_time,
        a.c.departure_time,
        a.c.minutes,
    )
    on_roster = (
        sa_select(*columns)
        .select_from(c.outerjoin(a, and_(a.c.client_id == c.c.id, a.c.session_id == _SID)))
        .where(_ids_filter(dialect, c.c.id))
    )
    recorded_only = (
        sa_select(*columns)
        .select_from(a.join(c, c.c.id == a.c.client_id))
        .where(a.c.session_id == _SID, not_(_ids_filter(dialect, a.c.client_id)))
    )
    return union_all(on_roster, recorded_only)


def _facilitators_q(dialect: str) -> Any:
    f: Any = SessionFacilitator.__table__  # type: ignore[attr-defined]
    st: Any = Staff.__table__  # type: ignore[attr-defined]
    return (
        sa_select(st.c.id, st.c.first_name, st.c.last_name, st.c.credentials)
        .select_from(f.join(st, st.c.id == f.c.staff_id))
        .where(f.c.session_id == _SID)
        .order_by(f.c.is_primary.desc(), f.c.id)
    )


def _bump_q(dialect: str) -> Any:
    """The concurrency check: bump the version only if it is still the one the sheet was
    loaded with (and lock the row until the save commits)."""
    s: Any = ClinicSession.__table__  # type: ignore[attr-defined]
    return (
        update(s)
        .where(s.c.id == _SID, s.c.version == bindparam("expected", type_=Integer))
        .values(
            version=s.c.version + 1,
            status=bindparam("status", type_=String),
            updated_at=bindparam("now", type_=UTCDateTime),
            updated_by=bindparam("user_id", type_=Integer),
        )
    )


def _upsert_q(dialect: str) -> Any:
    """One INSERT .. ON CONFLICT (session_id, client_id) DO UPDATE for all the rows (run
    with a list of rows: one executemany)."""
    from sqlalchemy.dialects import postgresql, sqlite

    table: Any = Attendance.__table__  # type: ignore[attr-defined]
    stmt: Any = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    return stmt.on_conflict_do_update(
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


_BUILDERS: dict[str, Callable[[str], Any]] = {
    "session": _session_q,
    "clients": _clients_q,
    "facilitators": _facilitators_q,
    "bump": _bump_q,
    "upsert": _upsert_q,
}


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _load_row(session: Session, session_id: int) -> tuple[_Row, dt.date, str]:
    """(the session row, the clinic's today, the track's name)."""
    dialect = _dialect(session)
    found = (
        session.connection().execute(_statement(dialect, "session"), {"sid": session_id}).first()
    )
    if found is None:
        raise NotFoundError("That session no longer exists.")
    row = _Row(*found[:-2])
    return row, clinic_now(found[-2]).date(), found[-1] or ""


def _members(session: Session, row: _Row) -> dict[int, str]:
    """The roster: client id -> source (schedule's rules)."""
    return roster_ids_in(session, [cast(ClinicSession, row)])[row.id]


_Recorded = tuple[str, Any, Any, int]


def _clients(
    session: Session, row: _Row, members: Mapping[int, str]
) -> tuple[list[tuple[int, str, str, str, str, bool]], dict[int, _Recorded]]:
    """The clients of the roster plus those recorded at the session (details), and what is
    recorded: client id -> (status, arrival, departure, minutes)."""
    dialect = _dialect(session)
    details: list[tuple[int, str, str, str, str, bool]] = []
    recorded: dict[int, _Recorded] = {}
    for (
        cid,
        mrn,
        last,
        first,
        preferred,
        part2,
        status,
        arrival,
        departure,
        minutes,
    ) in session.connection().execute(
        _statement(dialect, "clients"),
        {"sid": row.id, "ids": _ids_value(dialect, sorted(members))},
    ):
        details.append((cid, mrn, last, first, preferred, bool(part2)))
        if status is not None:
            recorded[cid] = (status, arrival, departure, minutes)
    return details, recorded


def _build_sheet(
    session: Session,
    row: _Row,
    today: dt.date,
    track_name: str,
    members: Mapping[int, str],
    details: Sequence[tuple[int, str, str, str, str, bool]],
    recorded: Mapping[int, _Recorded],
) -> SignInSheet:
    """The sheet from loaded data, plus one statement for the facilitators."""
    facilitators = [
        (staff_id, staff_name(first, last, cred))
        for staff_id, first, last, cred in session.connection().execute(
            _statement(_dialect(session), "facilitators"), {"sid": row.id}
        )
    ]
    rows: list[SignInRow] = []
    names: dict[int, str] = {}
    for cid, mrn, last, first, preferred, part2 in details:
        names[cid] = f"{last}, {first}"
        status, arrival, departure, minutes = recorded.get(cid, (None, None, None, None))
        rows.append(
            SignInRow(
                cid,
                mrn,
                last,
                first,
                preferred,
                part2,
                members.get(cid, SOURCE_RECORDED),
                status,
                arrival,
                departure,
                minutes,
            )
        )
    rows.sort(key=lambda e: (e.last.casefold(), e.first.casefold(), e.client_id))
    if row.kind == SessionKind.GROUP:
        title = track_name or "Group"
    else:
        who = names.get(row.client_id or 0, "")
        if not who and row.client_id is not None:
            found = session.get(Client, row.client_id)
            who = f"{found.last_name}, {found.first_name}" if found else ""
        title = f"{row.kind.title()}: {who}" if who else row.kind.title()
    info = SessionInfo(
        id=row.id,
        kind=row.kind,
        title=title,
        track_id=row.track_id,
        client_id=row.client_id,
        date=row.session_date,
        start=row.start_time,
        end=row.end_time,
        location=row.location,
        telehealth=row.telehealth,
        status=row.status,
        cancelled_by_clinic=bool(row.cancelled_by_clinic),
        cancel_reason=row.cancel_reason,
        facilitators=tuple(name for _, name in facilitators),
        facilitator_ids=tuple(i for i, _ in facilitators),
        roster_count=len(members),
        version=row.version,
        topic=row.topic,
        block_id=row.block_id,
    )
    blocked = _blocked(row, today)
    return SignInSheet(info, row.version, info.minutes, tuple(rows), not blocked, blocked)


def _sheet_in(session: Session, session_id: int) -> SignInSheet:
    row, today, track_name = _load_row(session, session_id)
    members = _members(session, row)
    details, recorded = _clients(session, row, members)
    return _build_sheet(session, row, today, track_name, members, details, recorded)


@service(Perm.CLIENT_VIEW, read_only=True)
def sign_in_sheet(session: Session, actor: Actor, session_id: int) -> SignInSheet:
    """The roster with what has been recorded so far, and the version to save against
    (five statements)."""
    return _sheet_in(session, session_id)


@service(
    Perm.ATTENDANCE_RECORD,
    audit=Audited(audit.Action.UPDATE, "session", entity_id=Arg("session_id")),
)
def record_attendance(
    session: Session,
    actor: Actor,
    session_id: int,
    expected_session_version: int,
    entries: Sequence[AttendanceEntry],
) -> SignInSheet:
    """Save the sign-in sheet as a whole; returns the sheet as saved (with the new version).

    Statements: the session row; the versioned UPDATE; the roster (two); the clients with
    their attendance; one upsert of the changed rows; the facilitators for the sheet
    returned; the declared audit event (schedule of audit.record)."""
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
    row, today, track_name = _load_row(session, session_id)
    if row.version != expected_session_version:
        raise StaleRecordError("This sign-in sheet")
    blocked = _blocked(row, today)
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
    dialect = _dialect(session)
    now = utcnow()
    status = SessionStatus.HELD.value if row.status == SessionStatus.SCHEDULED else row.status
    bumped = session.execute(
        _statement(dialect, "bump"),
        {
            "sid": session_id,
            "expected": expected_session_version,
            "status": status,
            "now": now,
            "user_id": actor.user_id,
        },
    )
    if bumped.rowcount != 1:  # type: ignore[attr-defined]
        if session.get(ClinicSession, session_id) is None:
            raise NotFoundError("This sign-in sheet no longer exists.")
        raise StaleRecordError("This sign-in sheet")
    row = row._replace(status=status, version=expected_session_version + 1)
    members = _members(session, row)
    details, recorded = _clients(session, row, members)
    off_roster = [cid for cid in resolved if cid not in members and cid not in recorded]
    if off_roster:
        raise ValidationError(
            "A client on the sheet is not on this session's roster. Add them to the roster "
            "first, then sign them in.",
            {f"rows.{cid}.client_id": "Not on the roster." for cid in off_roster},
        )
    to_write: list[dict[str, Any]] = []
    after_save = dict(recorded)
    for cid, values in resolved.items():
        after = (
            values["status"],
            values["arrival_time"],
            values["departure_time"],
            values["minutes"],
        )
        if recorded.get(cid) == after:
            continue
        after_save[cid] = after
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
        session.execute(_statement(dialect, "upsert"), to_write)
    counts = Counter(v["status"] for v in resolved.values())
    about(
        session,
        detail=(
            f"attendance saved: {len(resolved)} rows, {len(to_write)} changed; "
            + ", ".join(f"{s}={counts[s]}" for s in STATUSES if counts[s])
        ),
    )
    return _build_sheet(session, row, today, track_name, members, details, after_save)


def export_roster(
    db: Database, actor: Actor, session_id: int, path: Path, *, privacy: bool = True
) -> int:
    """Write the printable roster for a session (PDF); audited as a print. Returns lines.
    Checked and audited by hand, not declared: one declared transaction would hold the write
    lock while the PDF is written; here the reads are read transactions and the audit row and
    the file's rename share one short write (filesout.audited_write)."""
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
