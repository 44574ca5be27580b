"""The program schedule (issue 4 item 1): group sessions generated from each track's weekly
blocks, booked individual/family/intake sessions, closures, cancellations, facilitators,
conflicts and rosters.

Decisions where the issue is silent:

- Generation creates one group session per active block of every active track for each
  occurrence in [start, start + 7 x weeks). It never duplicates a (block, date) that already
  has a session, whatever that session's status, so a cancelled occurrence stays cancelled.
  Occurrences on a clinic closure day are created *cancelled by the clinic* with the closure's
  reason: the week view shows the holiday, the weekly-hours proration sees the clinic-cancelled
  group, and a later re-run does not bring the session back. Concurrent runs queue (advisory
  lock on PostgreSQL, BEGIN IMMEDIATE on SQLite).
- Booking an individual/family/intake session succeeds even when it overlaps another session:
  double-booking is reported by `conflicts()` (the UI shows it as a warning), because clinics
  sometimes double-book on purpose (a co-led session, a quick check-in). Booking on a closure
  day, for a client discharged before that day, or with an inactive therapist is refused.
- Closing a day cancels every session that day that is still scheduled and keeps sessions that
  were already held (snow at noon: the morning group happened and its attendance stands).
  Sessions already cancelled keep their own reason. Closing a day twice is refused.
- A roster is computed, not stored: the clients whose enrollment covers the session date
  (start <= date <= end, end inclusive; not voided; not discharged before the date) plus the
  one-occurrence adds, minus the removes. As in the weekly-hours rules, a day belongs to a
  client's newest enrollment covering it, so on a transfer day (old end == new start) the
  client is on the new track's group only. An individual/family/intake session's roster is its
  client (source "booked").
- Roster changes do not take a version: they lock the session row, so they queue behind (or
  ahead of) a sign-in save instead of making an open sign-in sheet stale. A client with
  attendance recorded for the session cannot be removed from it.
- Reading the schedule needs CLIENT_VIEW; changing it needs SCHEDULE_MANAGE. Every change is
  audited with record IDs and counts only (no names, no reasons).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, bindparam, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, StaleRecordError, ValidationError
from iopdesk.models import (
    Attendance,
    Client,
    ClinicClosure,
    ClinicSession,
    RosterChange,
    SessionFacilitator,
    Staff,
    Track,
    TrackBlock,
    TrackEnrollment,
)
from iopdesk.models.enums import ClientStatus, SessionKind, SessionStatus, Telehealth
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import get_setting_in
from iopdesk.services.declare import Audited, about, service, stamped_values
from iopdesk.services.permissions import Perm, require
from iopdesk.services.records import serialize, touch, update_versioned

THERAPIST_DOUBLE_BOOKED = "therapist double-booked"
CLIENT_DOUBLE_BOOKED = "client double-booked"
BOOKABLE_KINDS = (
    SessionKind.INDIVIDUAL.value,
    SessionKind.FAMILY.value,
    SessionKind.FAMILY_WITHOUT_CLIENT.value,
    SessionKind.INTAKE.value,
)
TELEHEALTH_VALUES = tuple(t.value for t in Telehealth)
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_CHUNK = 900  # IN-list size, well under every backend's bound-parameter limit

SOURCE_ENROLLED = "enrolled"
SOURCE_ADDED = "added"
SOURCE_BOOKED = "booked"


# -- plain results ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SessionInfo:
    id: int
    kind: str
    title: str
    track_id: int | None
    client_id: int | None
    date: dt.date
    start: dt.time
    end: dt.time
    location: str
    telehealth: str
    status: str
    cancelled_by_clinic: bool
    cancel_reason: str
    facilitators: tuple[str, ...]  # primary first
    facilitator_ids: tuple[int, ...]
    roster_count: int
    version: int
    topic: str = ""
    block_id: int | None = None

    @property
    def minutes(self) -> int:
        """Scheduled length, the sign-in sheet's default minutes attended."""
        return _minutes_between(self.start, self.end)

    @property
    def is_cancelled(self) -> bool:
        return self.status == SessionStatus.CANCELLED


@dataclass(frozen=True)
class Conflict:
    kind: str  # THERAPIST_DOUBLE_BOOKED | CLIENT_DOUBLE_BOOKED
    date: dt.date
    session_ids: tuple[int, int]
    person_id: int  # staff id or client id
    person: str
    start: dt.time  # the overlapping window
    end: dt.time

    @property
    def message(self) -> str:
        who = "Therapist" if self.kind == THERAPIST_DOUBLE_BOOKED else "Client"
        return (
            f"{who} {self.person} is double-booked on {self.date.isoformat()} "
            f"{self.start:%H:%M}-{self.end:%H:%M} (sessions {self.session_ids[0]} and "
            f"{self.session_ids[1]})."
        )


@dataclass(frozen=True)
class RosterEntry:
    client_id: int
    mrn: str
    last: str
    first: str
    preferred_name: str
    part2: bool
    source: str  # "enrolled" | "added" | "booked" (| "recorded" on a sign-in sheet)

    @property
    def display_name(self) -> str:
        return f"{self.last}, {self.first}"

    @property
    def privacy_name(self) -> str:
        """Preferred (else first) name and last initial, for a roster printed for the room."""
        given = self.preferred_name.strip() or self.first
        return f"{given} {self.last[:1]}." if self.last else given

    @property
    def initials(self) -> str:
        return f"{self.first[:1]}{self.last[:1]}".upper()


@dataclass(frozen=True)
class ClosureInfo:
    date: dt.date
    reason: str


@dataclass(frozen=True)
class WeekDay:
    date: dt.date
    closure: str | None  # the closure reason when the clinic is closed that day
    sessions: tuple[SessionInfo, ...]


@dataclass(frozen=True)
class WeekView:
    start: dt.date
    days: tuple[WeekDay, ...]


# -- small helpers ---------------------------------------------------------------------------
def _minutes_of(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def _minutes_between(start: dt.time, end: dt.time) -> int:
    return max(0, _minutes_of(end) - _minutes_of(start))


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    items = sorted(set(ids))
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def staff_name(first: str, last: str, credentials: str) -> str:
    name = f"{first} {last}".strip()
    return f"{name}, {credentials}" if credentials else name


def get_session_row(session: Session, session_id: int, *, lock: bool = False) -> ClinicSession:
    q = select(ClinicSession).where(ClinicSession.id == session_id)
    if lock:
        q = q.with_for_update()
    row = session.exec(q).first()
    if row is None:
        raise NotFoundError("That session no longer exists.")
    return row


def _fail(errors: dict[str, str]) -> None:
    if errors:
        first = next(iter(errors.values()))
        raise ValidationError(f"Please correct the highlighted fields. {first}", errors)


def _closure_reason(session: Session, day: dt.date) -> str | None:
    return session.exec(
        select(ClinicClosure.reason).where(ClinicClosure.closure_date == day)
    ).first()


# -- rosters (shared with the sign-in sheet) -------------------------------------------------
@dataclass(frozen=True)
class _Span:
    track_id: int
    start: dt.date
    end: dt.date | None
    order: int

    def covers(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


_ROSTER_STATEMENTS: list[Any] = []


def _roster_statements() -> tuple[Any, Any]:
    """roster_ids_in's two queries, built once: building them took longer than running them,
    on every sign-in sheet load and save."""
    if not _ROSTER_STATEMENTS:
        dmin, dmax = bindparam("dmin", type_=Date), bindparam("dmax", type_=Date)
        live = (
            col(TrackEnrollment.voided_at).is_(None),
            col(TrackEnrollment.start_date) <= dmax,
            or_(col(TrackEnrollment.end_date).is_(None), col(TrackEnrollment.end_date) >= dmin),
        )
        in_tracks = sa_select(col(TrackEnrollment.client_id)).where(
            col(TrackEnrollment.track_id).in_(bindparam("track_ids", expanding=True)), *live
        )
        enrollments = (
            sa_select(
                col(TrackEnrollment.client_id),
                col(TrackEnrollment.track_id),
                col(TrackEnrollment.start_date),
                col(TrackEnrollment.end_date),
                col(TrackEnrollment.id),
                col(Client.discharge_date),
            )
            .join(Client, col(Client.id) == col(TrackEnrollment.client_id))
            .where(col(TrackEnrollment.client_id).in_(in_tracks), *live)
        )
        changes = (
            sa_select(
                col(RosterChange.session_id),
                col(RosterChange.client_id),
                col(RosterChange.action),
                col(Client.discharge_date),
            )
            .join(Client, col(Client.id) == col(RosterChange.client_id))
            .where(col(RosterChange.session_id).in_(bindparam("session_ids", expanding=True)))
        )
        _ROSTER_STATEMENTS[:] = [enrollments, changes]
    return _ROSTER_STATEMENTS[0], _ROSTER_STATEMENTS[1]


def roster_ids_in(session: Session, rows: Sequence[ClinicSession]) -> dict[int, dict[int, str]]:
    """session id -> {client id: source} for many sessions in a fixed handful of queries."""
    result: dict[int, dict[int, str]] = {}
    groups: list[ClinicSession] = []
    for s in rows:
        assert s.id is not None
        if s.kind == SessionKind.GROUP and s.track_id is not None:
            groups.append(s)
            result[s.id] = {}
        else:
            result[s.id] = {s.client_id: SOURCE_BOOKED} if s.client_id is not None else {}
    if not groups:
        return result
    dmin = min(s.session_date for s in groups)
    dmax = max(s.session_date for s in groups)
    track_ids = sorted({s.track_id for s in groups if s.track_id is not None})
    spans: dict[int, list[_Span]] = defaultdict(list)
    by_track: dict[int, set[int]] = defaultdict(set)
    discharged: dict[int, dt.date | None] = {}
    enr = session.execute(
        _roster_statements()[0], {"track_ids": track_ids, "dmin": dmin, "dmax": dmax}
    ).all()
    for cid, tid, start, end, eid, dis in enr:
        spans[cid].append(_Span(tid, start, end, eid))
        by_track[tid].add(cid)
        discharged[cid] = dis

    def gone(cid: int, day: dt.date) -> bool:
        d = discharged.get(cid)
        return d is not None and d < day

    for s in groups:
        assert s.id is not None and s.track_id is not None
        day = s.session_date
        members = result[s.id]
        for cid in by_track.get(s.track_id, ()):
            if gone(cid, day):
                continue
            owner: _Span | None = None
            for sp in spans[cid]:
                if sp.covers(day) and (
                    owner is None or (sp.start, sp.order) > (owner.start, owner.order)
                ):
                    owner = sp
            if owner is not None and owner.track_id == s.track_id:
                members[cid] = SOURCE_ENROLLED
    group_ids = [s.id for s in groups if s.id is not None]
    date_of = {s.id: s.session_date for s in groups}
    for chunk in _chunks(group_ids):
        changes = session.execute(_roster_statements()[1], {"session_ids": chunk}).all()
        for sid, cid, action, dis in changes:
            members = result[sid]
            if action == "remove":
                members.pop(cid, None)
            elif cid not in members and not (dis is not None and dis < date_of[sid]):
                members[cid] = SOURCE_ADDED
    return result


def roster_entries_in(session: Session, members: dict[int, str]) -> list[RosterEntry]:
    """Client details for a roster, sorted by last then first name."""
    entries: list[RosterEntry] = []
    for chunk in _chunks(members):
        for cid, mrn, last, first, preferred, part2 in session.execute(
            sa_select(
                col(Client.id),
                col(Client.mrn),
                col(Client.last_name),
                col(Client.first_name),
                col(Client.preferred_name),
                col(Client.part2),
            ).where(col(Client.id).in_(chunk))
        ).all():
            entries.append(RosterEntry(cid, mrn, last, first, preferred, bool(part2), members[cid]))
    entries.sort(key=lambda e: (e.last.casefold(), e.first.casefold(), e.client_id))
    return entries


def session_infos_in(session: Session, rows: Sequence[ClinicSession]) -> list[SessionInfo]:
    """Plain SessionInfo for ORM rows: names, facilitators and roster counts in batches."""
    if not rows:
        return []
    track_ids = {s.track_id for s in rows if s.track_id is not None}
    client_ids = {s.client_id for s in rows if s.client_id is not None}
    session_ids = [s.id for s in rows if s.id is not None]
    track_names: dict[int, str] = {}
    for chunk in _chunks(track_ids):
        for tid, name in session.execute(
            sa_select(col(Track.id), col(Track.name)).where(col(Track.id).in_(chunk))
        ).all():
            track_names[tid] = name
    client_names: dict[int, str] = {}
    for chunk in _chunks(client_ids):
        for cid, last, first in session.execute(
            sa_select(col(Client.id), col(Client.last_name), col(Client.first_name)).where(
                col(Client.id).in_(chunk)
            )
        ).all():
            client_names[cid] = f"{last}, {first}"
    facilitators: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for chunk in _chunks(session_ids):
        for sid, staff_id, first, last, cred in session.execute(
            sa_select(
                col(SessionFacilitator.session_id),
                col(SessionFacilitator.staff_id),
                col(Staff.first_name),
                col(Staff.last_name),
                col(Staff.credentials),
            )
            .join(Staff, col(Staff.id) == col(SessionFacilitator.staff_id))
            .where(col(SessionFacilitator.session_id).in_(chunk))
            .order_by(
                col(SessionFacilitator.session_id),
                col(SessionFacilitator.is_primary).desc(),
                col(SessionFacilitator.id),
            )
        ).all():
            facilitators[sid].append((staff_id, staff_name(first, last, cred)))
    rosters = roster_ids_in(session, rows)
    infos: list[SessionInfo] = []
    for s in rows:
        assert s.id is not None
        if s.kind == SessionKind.GROUP:
            title = track_names.get(s.track_id or 0, "") or "Group"
        else:
            who = client_names.get(s.client_id or 0, "")
            title = f"{s.kind.title()}: {who}" if who else s.kind.title()
        fac = facilitators.get(s.id, [])
        infos.append(
            SessionInfo(
                id=s.id,
                kind=s.kind,
                title=title,
                track_id=s.track_id,
                client_id=s.client_id,
                date=s.session_date,
                start=s.start_time,
                end=s.end_time,
                location=s.location,
                telehealth=s.telehealth,
                status=s.status,
                cancelled_by_clinic=bool(s.cancelled_by_clinic),
                cancel_reason=s.cancel_reason,
                facilitators=tuple(name for _, name in fac),
                facilitator_ids=tuple(i for i, _ in fac),
                roster_count=len(rosters.get(s.id, {})),
                version=s.version,
                topic=s.topic,
                block_id=s.block_id,
            )
        )
    return infos


# -- generation ------------------------------------------------------------------------------
def _occurrences(start: dt.date, end_excl: dt.date, weekday: int) -> Iterable[dt.date]:
    day = start + dt.timedelta(days=(weekday - start.weekday()) % 7)
    while day < end_excl:
        yield day
        day += dt.timedelta(days=7)


def _check_staff(session: Session, staff_id: int, field: str) -> dict[str, str]:
    staff = session.get(Staff, staff_id)
    if staff is None:
        return {field: "That staff member does not exist."}
    if not staff.active:
        return {field: f"{staff.first_name} {staff.last_name} is no longer active."}
    return {}


@service(Perm.SCHEDULE_MANAGE, audit=Audited(audit.Action.CREATE, "schedule"))
def generate_sessions(
    session: Session,
    actor: Actor,
    start: dt.date,
    weeks: int | None = None,
    *,
    facilitator_staff_id: int | None = None,
    track_id: int | None = None,
) -> int:
    """Create the group sessions of every active block for `weeks` weeks from `start` (default:
    the schedule_weeks_ahead setting); returns how many were created (closure-day occurrences
    are created cancelled and included). Safe to re-run: existing occurrences are kept."""
    if weeks is None:
        weeks = int(get_setting_in(session, "schedule_weeks_ahead"))
    if not 1 <= weeks <= 52:
        raise ValidationError("Generate between 1 and 52 weeks.", {"weeks": "1 to 52."})
    if facilitator_staff_id is not None:
        _fail(_check_staff(session, facilitator_staff_id, "facilitator_staff_id"))
    end_excl = start + dt.timedelta(days=7 * weeks)
    serialize(session, "schedule.generate")
    q = (
        select(TrackBlock, Track)
        .join(Track, col(Track.id) == col(TrackBlock.track_id))
        .where(col(TrackBlock.active), col(Track.active))
        .order_by(col(TrackBlock.id))
    )
    if track_id is not None:
        q = q.where(TrackBlock.track_id == track_id)
    blocks = session.exec(q).all()
    if not blocks:
        about(session, skip=True)
        return 0
    block_ids = [b.id for b, _ in blocks if b.id is not None]
    existing: set[tuple[int | None, dt.date]] = set()
    for chunk in _chunks(block_ids):
        for bid, day in session.execute(
            sa_select(col(ClinicSession.block_id), col(ClinicSession.session_date)).where(
                col(ClinicSession.block_id).in_(chunk),
                col(ClinicSession.session_date) >= start,
                col(ClinicSession.session_date) < end_excl,
            )
        ).all():
            existing.add((bid, day))
    closures: dict[dt.date, str] = {
        day: reason
        for day, reason in session.execute(
            sa_select(col(ClinicClosure.closure_date), col(ClinicClosure.reason)).where(
                col(ClinicClosure.closure_date) >= start,
                col(ClinicClosure.closure_date) < end_excl,
            )
        ).all()
    }
    created: list[ClinicSession] = []
    for block, track in blocks:
        for day in _occurrences(start, end_excl, block.weekday):
            if (block.id, day) in existing:
                continue
            reason = closures.get(day)
            created.append(
                ClinicSession(
                    kind=SessionKind.GROUP.value,
                    track_id=track.id,
                    block_id=block.id,
                    session_date=day,
                    start_time=block.start_time,
                    end_time=block.end_time,
                    location=track.room,
                    status=(
                        SessionStatus.SCHEDULED if reason is None else SessionStatus.CANCELLED
                    ).value,
                    cancelled_by_clinic=reason is not None,
                    cancel_reason=reason or "",
                )
            )
    if not created:
        about(session, skip=True)
        return 0
    session.add_all(created)
    session.flush()
    if facilitator_staff_id is not None:
        session.add_all(
            SessionFacilitator(
                session_id=s.id or 0,
                staff_id=facilitator_staff_id,
                is_primary=True,
            )
            for s in created
        )
        session.flush()
    cancelled = sum(1 for s in created if s.status == SessionStatus.CANCELLED)
    about(
        session,
        entity_id=track_id if track_id is not None else "",
        detail=f"generated {len(created)} group sessions {start.isoformat()}.."
        f"{(end_excl - dt.timedelta(days=1)).isoformat()}"
        + (f" ({cancelled} on closure days, cancelled)" if cancelled else ""),
    )
    return len(created)


# -- booking ---------------------------------------------------------------------------------
@service(Perm.SCHEDULE_MANAGE, audit=Audited(audit.Action.CREATE, "session"))
def book_session(
    session: Session,
    actor: Actor,
    kind: str,
    client_id: int,
    staff_id: int,
    session_date: dt.date,
    start_time: dt.time,
    end_time: dt.time,
    location: str = "",
    telehealth: str = "no",
    topic: str = "",
) -> SessionInfo:
    """Book an individual, family or intake session. Overlaps are not refused: call
    `conflicts()` for the warning (see the module docstring)."""
    errors: dict[str, str] = {}
    if kind == SessionKind.GROUP:
        errors["kind"] = "Group sessions come from the track's weekly schedule, not booking."
    elif kind not in BOOKABLE_KINDS:
        errors["kind"] = "Choose individual, family or intake."
    if _minutes_of(end_time) <= _minutes_of(start_time):
        errors["end_time"] = "The end time must be after the start time."
    if telehealth not in TELEHEALTH_VALUES:
        errors["telehealth"] = "Choose in person (no), telehealth from the office, or from home."
    location = location.strip()
    topic = topic.strip()
    if len(location) > 100:
        errors["location"] = "At most 100 characters."
    if len(topic) > 200:
        errors["topic"] = "At most 200 characters."
    client = session.get(Client, client_id)
    if client is None:
        errors["client_id"] = "That client does not exist."
    elif client.status == ClientStatus.DISCHARGED and (
        client.discharge_date is None or session_date > client.discharge_date
    ):
        errors["client_id"] = (
            "This client was discharged"
            + (f" on {client.discharge_date.isoformat()}" if client.discharge_date else "")
            + "; readmit the client before booking."
        )
    errors.update(_check_staff(session, staff_id, "staff_id"))
    closed = _closure_reason(session, session_date)
    if closed is not None:
        errors["session_date"] = (
            f"The clinic is closed on {session_date.isoformat()} ({closed}). Choose another day."
        )
    _fail(errors)
    row = ClinicSession(
        kind=kind,
        client_id=client_id,
        session_date=session_date,
        start_time=start_time,
        end_time=end_time,
        location=location,
        telehealth=telehealth,
        topic=topic,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    session.add(
        SessionFacilitator(
            session_id=row.id,
            staff_id=staff_id,
            is_primary=True,
        )
    )
    session.flush()
    about(session, entity_id=row.id, client_id=client_id, detail=f"booked {kind}")
    return session_infos_in(session, [row])[0]


# -- reading ---------------------------------------------------------------------------------
@service(Perm.CLIENT_VIEW, read_only=True)
def get_session(session: Session, actor: Actor, session_id: int) -> SessionInfo:
    return session_infos_in(session, [get_session_row(session, session_id)])[0]


@service(Perm.CLIENT_VIEW, read_only=True)
def list_sessions(
    session: Session,
    actor: Actor,
    date_from: dt.date,
    date_to: dt.date,
    *,
    track_id: int | None = None,
    staff_id: int | None = None,
    client_id: int | None = None,
) -> list[SessionInfo]:
    """Sessions from date_from to date_to inclusive, by date and start time. With client_id:
    the client's booked sessions and every group whose roster includes them."""
    if date_to < date_from:
        raise ValidationError("The end date is before the start date.")
    q = select(ClinicSession).where(
        col(ClinicSession.session_date) >= date_from,
        col(ClinicSession.session_date) <= date_to,
    )
    if track_id is not None:
        q = q.where(ClinicSession.track_id == track_id)
    if staff_id is not None:
        q = q.where(
            col(ClinicSession.id).in_(
                sa_select(col(SessionFacilitator.session_id)).where(
                    col(SessionFacilitator.staff_id) == staff_id
                )
            )
        )
    if client_id is not None:
        q = q.where(
            or_(
                col(ClinicSession.client_id) == client_id,
                col(ClinicSession.kind) == SessionKind.GROUP.value,
            )
        )
    rows = list(
        session.exec(
            q.order_by(
                col(ClinicSession.session_date),
                col(ClinicSession.start_time),
                col(ClinicSession.id),
            )
        ).all()
    )
    if client_id is not None:
        rosters = roster_ids_in(session, rows)
        rows = [r for r in rows if r.id is not None and client_id in rosters[r.id]]
    return session_infos_in(session, rows)


@service(Perm.CLIENT_VIEW, read_only=True)
def list_closures(
    session: Session, actor: Actor, date_from: dt.date, date_to: dt.date
) -> list[ClosureInfo]:
    return [
        ClosureInfo(day, reason)
        for day, reason in session.execute(
            sa_select(col(ClinicClosure.closure_date), col(ClinicClosure.reason))
            .where(
                col(ClinicClosure.closure_date) >= date_from,
                col(ClinicClosure.closure_date) <= date_to,
            )
            .order_by(col(ClinicClosure.closure_date))
        ).all()
    ]


def week_start_of(day: dt.date, week_start: str = "Mon") -> dt.date:
    first = WEEKDAY_NAMES.index(week_start) if week_start in WEEKDAY_NAMES else 0
    return day - dt.timedelta(days=(day.weekday() - first) % 7)


def week_view(
    db: Database,
    actor: Actor,
    week_of: dt.date,
    *,
    track_id: int | None = None,
    staff_id: int | None = None,
    client_id: int | None = None,
) -> WeekView:
    """The program week containing `week_of` (week_start setting), one column per day."""
    require(actor, Perm.CLIENT_VIEW)
    with db.read() as session:
        start = week_start_of(week_of, str(get_setting_in(session, "week_start")))
    end = start + dt.timedelta(days=6)
    sessions = list_sessions(
        db, actor, start, end, track_id=track_id, staff_id=staff_id, client_id=client_id
    )
    closures = {c.date: c.reason for c in list_closures(db, actor, start, end)}
    by_day: dict[dt.date, list[SessionInfo]] = defaultdict(list)
    for s in sessions:
        by_day[s.date].append(s)
    days = tuple(
        WeekDay(d, closures.get(d), tuple(by_day.get(d, ())))
        for d in (start + dt.timedelta(days=i) for i in range(7))
    )
    return WeekView(start, days)


# -- conflicts -------------------------------------------------------------------------------
def _overlaps(
    items: list[tuple[ClinicSession, int]],
) -> Iterable[tuple[ClinicSession, ClinicSession, dt.time, dt.time]]:
    items = sorted(items, key=lambda x: (x[0].start_time, x[0].id or 0))
    for i, (a, _) in enumerate(items):
        for b, _ in items[i + 1 :]:
            if b.start_time >= a.end_time:
                break
            if a.id == b.id:
                continue
            yield a, b, max(a.start_time, b.start_time), min(a.end_time, b.end_time)


@service(Perm.CLIENT_VIEW, read_only=True)
def conflicts(
    session: Session,
    actor: Actor,
    date_from: dt.date,
    date_to: dt.date,
    *,
    session_id: int | None = None,
) -> list[Conflict]:
    """Overlapping sessions on the same day for one facilitator or one client (a client's
    groups are the groups whose roster includes them). Cancelled sessions never conflict.
    With session_id: only the conflicts that involve that session."""
    rows = list(
        session.exec(
            select(ClinicSession).where(
                col(ClinicSession.session_date) >= date_from,
                col(ClinicSession.session_date) <= date_to,
                col(ClinicSession.status) != SessionStatus.CANCELLED.value,
            )
        ).all()
    )
    by_id = {r.id: r for r in rows}
    staff_of: dict[tuple[dt.date, int], list[tuple[ClinicSession, int]]] = defaultdict(list)
    staff_names: dict[int, str] = {}
    for chunk in _chunks(i for i in by_id if i is not None):
        for sid, staff_id, first, last, cred in session.execute(
            sa_select(
                col(SessionFacilitator.session_id),
                col(SessionFacilitator.staff_id),
                col(Staff.first_name),
                col(Staff.last_name),
                col(Staff.credentials),
            )
            .join(Staff, col(Staff.id) == col(SessionFacilitator.staff_id))
            .where(col(SessionFacilitator.session_id).in_(chunk))
        ).all():
            s = by_id[sid]
            staff_of[(s.session_date, staff_id)].append((s, staff_id))
            staff_names[staff_id] = staff_name(first, last, cred)
    client_of: dict[tuple[dt.date, int], list[tuple[ClinicSession, int]]] = defaultdict(list)
    for sid, members in roster_ids_in(session, rows).items():
        s = by_id[sid]
        for cid in members:
            client_of[(s.session_date, cid)].append((s, cid))
    client_names: dict[int, str] = {}
    involved = {cid for (_, cid), items in client_of.items() if len(items) > 1}
    for chunk in _chunks(involved):
        for cid, last, first in session.execute(
            sa_select(col(Client.id), col(Client.last_name), col(Client.first_name)).where(
                col(Client.id).in_(chunk)
            )
        ).all():
            client_names[cid] = f"{last}, {first}"
    found: list[Conflict] = []
    for kind, groups, names in (
        (THERAPIST_DOUBLE_BOOKED, staff_of, staff_names),
        (CLIENT_DOUBLE_BOOKED, client_of, client_names),
    ):
        for (day, person), items in groups.items():
            if len(items) < 2:
                continue
            for a, b, lo, hi in _overlaps(items):
                ids = (min(a.id or 0, b.id or 0), max(a.id or 0, b.id or 0))
                if session_id is not None and session_id not in ids:
                    continue
                found.append(Conflict(kind, day, ids, person, names.get(person, ""), lo, hi))
    found.sort(key=lambda c: (c.date, c.start, c.kind, c.person, c.session_ids))
    return found


# -- closures and cancellation --------------------------------------------------------------
@service(Perm.SCHEDULE_MANAGE, audit=Audited(audit.Action.UPDATE, "clinic_closure"))
def close_clinic_day(session: Session, actor: Actor, day: dt.date, reason: str) -> int:
    """Record a closure and cancel (by the clinic, with the reason) every session that day that
    is still scheduled, in one transaction. Held sessions are kept. Returns how many were
    cancelled."""
    reason = reason.strip()
    if not reason:
        raise ValidationError("Enter the reason the clinic is closed.", {"reason": "Required."})
    if len(reason) > 200:
        raise ValidationError("Keep the reason under 200 characters.", {"reason": "Too long."})
    serialize(session, "schedule.closure")
    existing = _closure_reason(session, day)
    if existing is not None:
        raise ValidationError(
            f"The clinic is already recorded as closed on {day.isoformat()} ({existing})."
        )
    session.add(
        ClinicClosure(
            closure_date=day,
            reason=reason,
        )
    )
    table: Any = ClinicSession
    result = session.execute(
        update(table)
        .where(
            table.session_date == day,
            table.status == SessionStatus.SCHEDULED.value,
        )
        .values(
            status=SessionStatus.CANCELLED.value,
            cancelled_by_clinic=True,
            cancel_reason=reason,
            version=table.version + 1,
            **stamped_values(actor.user_id),
        )
        .execution_options(synchronize_session=False)
    )
    cancelled = int(result.rowcount)  # type: ignore[attr-defined]
    about(
        session, entity_id=day.isoformat(), detail=f"clinic closed; {cancelled} sessions cancelled"
    )
    return cancelled


@service(Perm.SCHEDULE_MANAGE, audit=Audited(audit.Action.UPDATE, "clinic_closure"))
def reopen_clinic_day(session: Session, actor: Actor, day: dt.date) -> int:
    """Undo a closure recorded by mistake: the closure goes and the sessions it cancelled
    (cancelled by the clinic with exactly the closure's reason) are scheduled again. Returns
    how many were restored."""
    serialize(session, "schedule.closure")
    closure = session.exec(select(ClinicClosure).where(ClinicClosure.closure_date == day)).first()
    if closure is None:
        raise NotFoundError(f"The clinic is not recorded as closed on {day.isoformat()}.")
    table: Any = ClinicSession
    result = session.execute(
        update(table)
        .where(
            table.session_date == day,
            table.status == SessionStatus.CANCELLED.value,
            table.cancelled_by_clinic.is_(True),
            table.cancel_reason == closure.reason,
        )
        .values(
            status=SessionStatus.SCHEDULED.value,
            cancelled_by_clinic=False,
            cancel_reason="",
            version=table.version + 1,
            **stamped_values(actor.user_id),
        )
        .execution_options(synchronize_session=False)
    )
    restored = int(result.rowcount)  # type: ignore[attr-defined]
    session.delete(closure)
    session.flush()
    about(
        session, entity_id=day.isoformat(), detail=f"clinic reopened; {restored} sessions restored"
    )
    return restored


@service(Perm.SCHEDULE_MANAGE, audit=Audited(audit.Action.UPDATE, "session"))
def cancel_session(
    session: Session,
    actor: Actor,
    session_id: int,
    expected_version: int,
    reason: str,
    by_clinic: bool = True,
) -> SessionInfo:
    """Cancel one session with a reason (by_clinic False: cancelled by the client)."""
    reason = reason.strip()
    if not reason:
        raise ValidationError("Enter the reason for the cancellation.", {"reason": "Required."})
    if len(reason) > 200:
        raise ValidationError("Keep the reason under 200 characters.", {"reason": "Too long."})
    row = get_session_row(session, session_id)
    if row.version != expected_version:
        raise StaleRecordError("This session")
    if row.status == SessionStatus.HELD:
        raise ValidationError(
            "This session was already held and has attendance recorded; it cannot be "
            "cancelled. Correct the attendance on its sign-in sheet instead."
        )
    if row.status == SessionStatus.CANCELLED:
        raise ValidationError("This session is already cancelled.")
    updated = update_versioned(
        session,
        actor,
        ClinicSession,
        session_id,
        expected_version,
        {
            "status": SessionStatus.CANCELLED.value,
            "cancelled_by_clinic": bool(by_clinic),
            "cancel_reason": reason,
        },
        what="This session",
    )
    about(
        session,
        entity_id=session_id,
        client_id=updated.client_id,
        detail="cancelled by clinic" if by_clinic else "cancelled by client",
    )
    return session_infos_in(session, [updated])[0]


@service(Perm.SCHEDULE_MANAGE, audit=Audited(audit.Action.UPDATE, "session"))
def reinstate_session(
    session: Session, actor: Actor, session_id: int, expected_version: int
) -> SessionInfo:
    """Undo a single cancellation (not on a closure day: reopen the day instead)."""
    row = get_session_row(session, session_id)
    if row.version != expected_version:
        raise StaleRecordError("This session")
    if row.status != SessionStatus.CANCELLED:
        raise ValidationError("This session is not cancelled.")
    closed = _closure_reason(session, row.session_date)
    if closed is not None:
        raise ValidationError(
            f"The clinic is closed on {row.session_date.isoformat()} ({closed}). "
            "Reopen the day first."
        )
    updated = update_versioned(
        session,
        actor,
        ClinicSession,
        session_id,
        expected_version,
        {
            "status": SessionStatus.SCHEDULED.value,
            "cancelled_by_clinic": False,
            "cancel_reason": "",
        },
        what="This session",
    )
    about(session, entity_id=session_id, client_id=updated.client_id, detail="reinstated")
    return session_infos_in(session, [updated])[0]


@service(Perm.SCHEDULE_MANAGE, audit=Audited(audit.Action.UPDATE, "session"))
def set_facilitators(
    session: Session, actor: Actor, session_id: int, expected_version: int, staff_ids: Sequence[int]
) -> SessionInfo:
    """Replace the session's facilitators; the first is the primary."""
    wanted = list(dict.fromkeys(staff_ids))
    row = get_session_row(session, session_id)
    if row.version != expected_version:
        raise StaleRecordError("This session")
    if not wanted and row.kind != SessionKind.GROUP:
        raise ValidationError(
            "An individual, family or intake session needs a therapist.",
            {"staff_ids": "Choose at least one."},
        )
    current = {
        f.staff_id: f
        for f in session.exec(
            select(SessionFacilitator).where(SessionFacilitator.session_id == session_id)
        ).all()
    }
    errors: dict[str, str] = {}
    for sid in wanted:
        if sid not in current:
            for msg in _check_staff(session, sid, "staff_ids").values():
                errors["staff_ids"] = msg
    _fail(errors)
    updated = update_versioned(
        session, actor, ClinicSession, session_id, expected_version, {}, what="This session"
    )
    for sid, old in current.items():
        if sid not in wanted:
            session.delete(old)
    session.flush()
    for i, sid in enumerate(wanted):
        fac = current.get(sid)
        if fac is None:
            session.add(
                SessionFacilitator(
                    session_id=session_id,
                    staff_id=sid,
                    is_primary=i == 0,
                )
            )
        elif fac.is_primary != (i == 0):
            fac.is_primary = i == 0
            touch(fac, actor)
            session.add(fac)
    session.flush()
    about(
        session,
        entity_id=session_id,
        client_id=updated.client_id,
        detail=f"facilitators={','.join(str(s) for s in wanted)}",
    )
    return session_infos_in(session, [updated])[0]


# -- rosters ---------------------------------------------------------------------------------
@service(Perm.CLIENT_VIEW, read_only=True)
def roster(session: Session, actor: Actor, session_id: int) -> list[RosterEntry]:
    """Who is expected at the session (see the module docstring for the rules)."""
    row = get_session_row(session, session_id)
    assert row.id is not None
    return roster_entries_in(session, roster_ids_in(session, [row])[row.id])


@service(Perm.SCHEDULE_MANAGE, audit=Audited(audit.Action.UPDATE, "session"))
def _change_roster(
    session: Session, actor: Actor, session_id: int, client_id: int, action: str, reason: str
) -> list[RosterEntry]:
    reason = reason.strip()
    if len(reason) > 200:
        raise ValidationError("Keep the reason under 200 characters.", {"reason": "Too long."})
        # Lock the session row first so this queues with a sign-in save of the same session.
    row = get_session_row(session, session_id, lock=True)
    assert row.id is not None
    if row.kind != SessionKind.GROUP or row.track_id is None:
        raise ValidationError(
            "Only a group has a roster to change; book a separate session for another client."
        )
    if row.status == SessionStatus.CANCELLED:
        raise ValidationError("This session was cancelled; its roster cannot be changed.")
    client = session.get(Client, client_id)
    if client is None:
        raise NotFoundError("That client does not exist.")
    members = roster_ids_in(session, [row])[row.id]
    if action == "add":
        if client_id in members:
            raise ValidationError("This client is already on the roster.")
        if client.discharge_date is not None and client.discharge_date < row.session_date:
            raise ValidationError(
                f"This client was discharged on {client.discharge_date.isoformat()}, "
                "before this session."
            )
    else:
        if client_id not in members:
            raise ValidationError("This client is not on the roster.")
        recorded = session.exec(
            select(Attendance.id).where(
                Attendance.session_id == session_id, Attendance.client_id == client_id
            )
        ).first()
        if recorded is not None:
            raise ValidationError(
                "Attendance is already recorded for this client at this session; change "
                "their status on the sign-in sheet instead of removing them."
            )
    change = session.exec(
        select(RosterChange).where(
            RosterChange.session_id == session_id, RosterChange.client_id == client_id
        )
    ).first()
    if change is None:
        change = RosterChange(
            session_id=session_id,
            client_id=client_id,
            action=action,
            reason=reason,
        )
    else:
        change.action = action
        change.reason = reason
        touch(change, actor)
    session.add(change)
    session.flush()
    about(session, entity_id=session_id, client_id=client_id, detail=f"roster {action}")
    return roster_entries_in(session, roster_ids_in(session, [row])[row.id])


def add_to_roster(
    db: Database, actor: Actor, session_id: int, client_id: int, reason: str = ""
) -> list[RosterEntry]:
    """Add a client to one occurrence of a group; returns the new roster."""
    return _change_roster(db, actor, session_id, client_id, "add", reason)


def remove_from_roster(
    db: Database, actor: Actor, session_id: int, client_id: int, reason: str = ""
) -> list[RosterEntry]:
    """Take a client off one occurrence of a group; returns the new roster."""
    return _change_roster(db, actor, session_id, client_id, "remove", reason)
