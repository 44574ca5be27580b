"""Weekly hours against the requirement (issue 4 item 3), the dashboard's data (item 4) and the
weekly attendance report (item 5).

The rules, exactly:

- Program week: `week_start` setting (default Monday); the week "of" a date contains it.
- Requirement: the client's override, else the track's required weekly hours. An override
  with an end date (Client.required_hours_until) applies through that day only: the days
  after it carry the track's hours again, prorated within the week like an enrollment change.
- Attended minutes: Attendance.minutes of every *held* session (any kind but family therapy
  without the client, 90846) in the week whose attendance status is present, late or
  left_early. Absences, cancelled and still-scheduled
  sessions count 0, even if they carry attendance rows.
- Proration: for each track the client was enrolled in that week, its scheduled program days are
  the week's days on which it has an active TrackBlock. A day counts when the client was enrolled
  (start_date <= day <= end_date, end inclusive, open-ended if none), the clinic was not closed
  (ClinicClosure) and that track's group that day was not cancelled by the clinic. Each
  enrollment contributes requirement x 60 x counted / scheduled; the parts are summed exactly
  (fractions) and rounded once, half up (ROUND_HALF_UP on the exact value). A day on which two
  enrollments overlap (a transfer recorded as end == next start) belongs to the newer one only,
  so a transfer day never carries two requirements. 0 counted days -> no requirement.
- Status: "met" (attended >= required), "not met", or "no requirement". For the week that
  contains today, a projection: "on track" when attended + remaining scheduled minutes reach the
  requirement, else "at risk" (none when there is no requirement). Remaining = still-"scheduled"
  group sessions of the client's track(s) from today to the week's end on days the client is
  enrolled, plus the client's own scheduled individual/family/intake sessions in that span (a
  session today counts until it is marked held); sessions on closure days are left out.
- Day minimum (issue 20 item 8): a track's `required_weekly_days` (0 = none) is prorated by
  counted days exactly like the hours: each enrollment contributes days x counted / scheduled,
  summed exactly and rounded once, half up. A day counts as attended when the client attended
  (present, late, left_early) any held session that day. With a day minimum (some track of the
  week has one), "met" needs both the hours and the days; otherwise only the hours decide, and
  the row shows no required days. The projection stays on hours.
- Unexcused streak: trailing absent_unexcused rows in the client's sequence of attendance rows
  at held sessions (by date, then start time), as of the end of the week; 2+ is a flag.

Everything is set-based: each call runs a fixed handful of queries (see `_load`) whatever the
number of clients or weeks, then pure Python over small result sets. The dashboard (one week,
every client enrolled) reads attended minutes, attended days and the streak's data from
`attendance_day`, the per client-and-day summary the database keeps up to date with triggers
(models/summaries.py, migration 0013_attendance_day); every other read aggregates attendance.
The pure rules below take plain data so they can be tested without a database.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, time, timedelta
from decimal import Decimal
from fractions import Fraction
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    Date,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    case,
    cast,
    literal,
    literal_column,
    null,
    or_,
    union_all,
)
from sqlalchemy import func as sa_func
from sqlalchemy import select as sa_select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, ValidationError
from iopdesk.models import (
    Attendance,
    AttendanceDay,
    Client,
    Clinic,
    ClinicClosure,
    ClinicSession,
    Setting,
    Staff,
    TherapistAssignment,
    Track,
    TrackBlock,
    TrackEnrollment,
)
from iopdesk.models.enums import (
    ATTENDED_STATUSES,
    AssignmentRole,
    AttendanceStatus,
    SessionKind,
    SessionStatus,
)
from iopdesk.reports.data.hours import MET as MET
from iopdesk.reports.data.hours import NO_REQUIREMENT as NO_REQUIREMENT
from iopdesk.reports.data.hours import NOT_MET as NOT_MET
from iopdesk.reports.data.hours import STATUSES as STATUSES
from iopdesk.reports.data.hours import AttendanceReport as AttendanceReport
from iopdesk.reports.data.hours import WeekRow as WeekRow
from iopdesk.reports.data.hours import minutes_to_hours as minutes_to_hours
from iopdesk.services import audit, filesout
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import clinic_now, clinic_today, setting_value
from iopdesk.services.declare import service
from iopdesk.services.disclosures import Release
from iopdesk.services.permissions import Perm, require
from iopdesk.settings import WEEKDAYS

if TYPE_CHECKING:
    from iopdesk.services.weekdetail import WeekDetail

log = logging.getLogger(__name__)

ON_TRACK = "on track"
AT_RISK = "at risk"

_UNEXCUSED = AttendanceStatus.ABSENT_UNEXCUSED.value
_ATTENDED = tuple(s.value for s in ATTENDED_STATUSES)
# the same as SQL literals: written into the statement, not bound again at every call
_ATTENDED_SQL: list[ColumnElement[str]] = [literal_column(f"'{s}'") for s in _ATTENDED]
# Above this many client IDs the per-client SQL filter is dropped (aggregate everything, pick in
# Python) so the query count stays fixed and no backend's bound-parameter limit is reached.
_MAX_IN_LIST = 2000
# The unexcused streak is walked from this many days before the first week; longer runs are
# completed by one extra query over just the clients whose run reaches further back.
_STREAK_LOOKBACK_DAYS = 21


# ------------------------------------------------------------------------------------------
# Pure rules (plain data in, plain data out)
# ------------------------------------------------------------------------------------------


def weekday_index(week_start: str | int) -> int:
    """ "Mon".."Sun" (or 0..6) -> 0..6."""
    if isinstance(week_start, int):
        if not 0 <= week_start <= 6:
            raise ValueError("week start must be 0 (Monday) .. 6 (Sunday)")
        return week_start
    names = [w.lower() for w in WEEKDAYS]
    try:
        return names.index(str(week_start).strip()[:3].lower())
    except ValueError:
        raise ValueError(f"unknown week start day {week_start!r}") from None


def start_of_week(day: date, week_start: str | int = "Mon") -> date:
    """The first day of the program week containing `day`."""
    return day - timedelta(days=(day.weekday() - weekday_index(week_start)) % 7)


@dataclass(frozen=True)
class EnrollmentSpan:
    """One enrollment with its requirement already resolved (override, else track hours)."""

    track_id: int
    start: date
    end: date | None  # inclusive; None = still enrolled
    hours: Decimal  # required weekly hours for this part
    order: int = 0  # tie-break between enrollments starting the same day (e.g. row id)

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


def requirement_hours(override: Decimal | None, track_hours: Decimal) -> Decimal:
    """The client's override wins; otherwise the track's required weekly hours."""
    return override if override is not None else track_hours


def round_half_up(value: Fraction) -> int:
    """Round an exact non-negative value to whole minutes, halves up (112.5 -> 113)."""
    if value < 0:
        raise ValueError("minutes cannot be negative")
    return int(value + Fraction(1, 2))  # int() floors a non-negative Fraction


def _round_ratio_half_up(num: int, den: int) -> int:
    """round_half_up(Fraction(num, den)) for den > 0, in integers: floor(num / den + 1/2)."""
    if num < 0:
        raise ValueError("minutes cannot be negative")
    return (2 * num + den) // (2 * den)


def day_owner(day: date, enrollments: Sequence[EnrollmentSpan]) -> EnrollmentSpan | None:
    """The enrollment a day belongs to: the newest one covering it (a transfer day counts once)."""
    best: EnrollmentSpan | None = None
    for e in enrollments:
        if e.covers(day) and (best is None or (e.start, e.order) > (best.start, best.order)):
            best = e
    return best


@dataclass(frozen=True)
class Proration:
    """How a week's requirement was reached: per enrollment (track, counted, scheduled, hours)."""

    parts: tuple[tuple[int, int, int, Decimal], ...]
    required_minutes: int | None

    @property
    def counted_days(self) -> int:
        return sum(p[1] for p in self.parts)


def prorate(
    week_start: date,
    enrollments: Sequence[EnrollmentSpan],
    blocks: Mapping[int, Collection[int]],
    closures: Collection[date] = (),
    clinic_cancelled: Collection[tuple[int, date]] = (),
) -> Proration:
    """Required minutes for one week.

    `blocks` maps track_id -> weekdays (0=Mon) with an active group block; `clinic_cancelled`
    holds (track_id, day) pairs whose group the clinic cancelled. A track without blocks has no
    program days, so it adds no requirement.
    """
    days = [week_start + timedelta(days=i) for i in range(7)]
    counted: dict[EnrollmentSpan, int] = defaultdict(int)
    if len(enrollments) == 1:  # the usual case: the one enrollment owns every day it covers
        only = enrollments[0]
        track, start, end = only.track_id, only.start, only.end
        weekdays = blocks.get(track, ())
        count = 0
        for day in days:
            if (
                start <= day
                and (end is None or day <= end)
                and day.weekday() in weekdays
                and day not in closures
                and (track, day) not in clinic_cancelled
            ):
                count += 1
        if count:
            counted[only] = count
    else:
        for day in days:
            owner = day_owner(day, enrollments)
            if owner is None or day.weekday() not in blocks.get(owner.track_id, ()):
                continue
            if day in closures or (owner.track_id, day) in clinic_cancelled:
                continue
            counted[owner] += 1
    # the exact sum as one integer fraction num/den (same value as summing Fractions, without
    # their per-step normalising): each part is hours x 60 x counted / scheduled
    num, den = 0, 1
    parts: list[tuple[int, int, int, Decimal]] = []
    for e in sorted(counted, key=lambda x: (x.start, x.order)):
        scheduled = sum(1 for day in days if day.weekday() in blocks.get(e.track_id, ()))
        parts.append((e.track_id, counted[e], scheduled, e.hours))
        hours_num, hours_den = e.hours.as_integer_ratio()
        part_num, part_den = hours_num * 60 * counted[e], hours_den * scheduled
        num, den = num * part_den + part_num * den, den * part_den
    if not parts:
        return Proration((), None)
    return Proration(tuple(parts), _round_ratio_half_up(num, den))


def required_minutes(
    week_start: date,
    enrollments: Sequence[EnrollmentSpan],
    blocks: Mapping[int, Collection[int]],
    closures: Collection[date] = (),
    clinic_cancelled: Collection[tuple[int, date]] = (),
) -> int | None:
    """Prorated required minutes for the week, or None when no program day counts."""
    return prorate(week_start, enrollments, blocks, closures, clinic_cancelled).required_minutes


def week_status(
    required: int | None,
    attended: int,
    required_days: int | None = None,
    attended_days: int = 0,
) -> str:
    """ "met" needs the hours and, with a day minimum, the days too."""
    if required is None:
        return NO_REQUIREMENT
    if required_days is not None and attended_days < required_days:
        return NOT_MET
    return MET if attended >= required else NOT_MET


def required_days(
    parts: Iterable[tuple[int, int, int, Decimal]], track_days: Mapping[int, int]
) -> int | None:
    """Prorated day minimum from a week's proration parts (track, counted, scheduled, hours):
    sum of days x counted / scheduled, rounded once half up; None when no track of the week
    has a day minimum."""
    total = Fraction(0)
    any_minimum = False
    for track_id, counted, scheduled, _hours in parts:
        days = track_days.get(track_id, 0)
        if days > 0 and scheduled > 0:
            any_minimum = True
            total += Fraction(days * counted, scheduled)
    return round_half_up(total) if any_minimum else None


def projection(required: int | None, attended: int, remaining: int) -> str | None:
    """For the current week: can the client still make it with what is left on the schedule?"""
    if required is None:
        return None
    return ON_TRACK if attended + remaining >= required else AT_RISK


def unexcused_streak(statuses: Iterable[str]) -> int:
    """Trailing run of absent_unexcused in a chronological sequence of attendance statuses."""
    streak = 0
    for status in statuses:
        streak = streak + 1 if status == _UNEXCUSED else 0
    return streak


def session_minutes(start: time, end: time) -> int:
    """Scheduled length of a session (0 if the times are reversed)."""
    return max(0, (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute))


def client_label(last_name: str, first_name: str) -> str:
    return f"{last_name}, {first_name}"


# ------------------------------------------------------------------------------------------
# Loading (a fixed number of set-based queries) and assembling rows
# ------------------------------------------------------------------------------------------


def _week_start_setting(session: Session) -> int:
    return _clinic_week(session)[0]


def _week_start_index(raw: str | None) -> int:
    """The stored `week_start` text as 0..6 (clinic.setting_value: none stored, or
    unreadable, gives the declared default); an unknown day counts as Monday."""
    try:
        return weekday_index(setting_value("week_start", raw))
    except ValueError:
        return 0


_CLINIC_WEEK_KEY = "iopdesk_clinic_week"


def _clinic_week(session: Session) -> tuple[int, str | None]:
    """(program week start 0..6, the clinic's time zone name or None), in one small query,
    read once per session (a service's reads share it instead of asking again)."""
    known = session.info.get(_CLINIC_WEEK_KEY)
    if known is not None:
        return known  # type: ignore[no-any-return]
    dialect = session.get_bind().dialect.name
    raw, tz = _fetch(session, _statement(dialect, "clinic_week", False, _clinic_week_q), {})[0]
    found = (_week_start_index(raw), tz)
    session.info[_CLINIC_WEEK_KEY] = found
    return found


def week_bounds(source: Session | Database, day: date) -> tuple[date, date]:
    """(first, last) day of the program week containing `day`, honouring `week_start`."""
    if isinstance(source, Database):
        with source.session() as session:
            index = _week_start_setting(session)
    else:
        index = _week_start_setting(source)
    first = start_of_week(day, index)
    return first, first + timedelta(days=6)


# Bound parameters of the loaders' statements. The statements are built once per database
# dialect (and per client filter) and reused: building a SQLAlchemy statement costs more than
# running most of these small queries, while the SQL text and the rows stay exactly the same.
_FIRST = bindparam("first", type_=Date)  # the range's first day (week index 0 starts here)
_LAST = bindparam("last", type_=Date)  # the range's last day
_FROM = bindparam("from_day", type_=Date)  # remaining sessions: from this day ...
_TO = bindparam("to_day", type_=Date)  # ... to this one
# client IDs, when filtered: one parameter (a JSON list on SQLite, an array on PostgreSQL),
# so the statement text stays the same whatever the IDs (no per-call SQL rewriting)
_IDS_JSON = bindparam("ids", type_=String)
_IDS_ARRAY = bindparam("ids", type_=ARRAY(Integer))

_STATEMENTS: dict[tuple[str, str, bool], Any] = {}


def _statement(dialect: str, name: str, filtered: bool, build: Callable[[str, bool], Any]) -> Any:
    """The statement `build(dialect, filtered)` returns, built on first use."""
    key = (dialect, name, filtered)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = build(dialect, filtered)
    return stmt


def _days_since(dialect: str, column: Any, origin: Any) -> ColumnElement[int]:
    """Whole days from `origin` (a date parameter) to a date column (portable arithmetic)."""
    if dialect == "postgresql":
        return column - origin  # type: ignore[no-any-return]  # date - date: int
    return cast(sa_func.julianday(column) - sa_func.julianday(origin), Integer)


def _minute_of_day(dialect: str, column: Any) -> ColumnElement[int]:
    """Minutes after midnight of a time column (SQLite stores times as 'HH:MM:SS.ffffff')."""
    if dialect == "postgresql":
        return cast(
            sa_func.extract("hour", column) * 60 + sa_func.extract("minute", column), Integer
        )
    return cast(sa_func.substr(column, 1, 2), Integer) * 60 + cast(
        sa_func.substr(column, 4, 2), Integer
    )


def _joined_text(dialect: str, value: Any) -> ColumnElement[str]:
    """Aggregate: the group's non-null values as 'a,b,c'."""
    if dialect == "postgresql":
        return sa_func.string_agg(cast(value, String), literal(","))
    return sa_func.group_concat(value)


class _ClientFacts(NamedTuple):  # named tuples: hundreds are made per call, cheaply
    mrn: str
    label: str
    override: Decimal | None
    part2: bool
    override_until: date | None = None  # the override's last day; None: no end date


class _Therapist(NamedTuple):
    staff_id: int
    name: str
    start: date
    end: date | None
    order: int


@dataclass
class _Facts:
    """Everything a range of weeks needs, as plain data."""

    first: date
    weeks: int
    today: date
    clients: dict[int, _ClientFacts] = field(default_factory=dict)
    # client -> [(enrollment id, track_id, start, end)]
    enrollments: dict[int, list[tuple[int, int, date, date | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    tracks: dict[int, tuple[str, Decimal]] = field(default_factory=dict)
    track_days: dict[int, int] = field(default_factory=dict)  # required_weekly_days > 0 only
    attended_days: dict[tuple[int, int], int] = field(default_factory=dict)  # (client, week)
    days_cache: dict[tuple[Any, ...], int | None] = field(default_factory=dict)
    blocks: dict[int, frozenset[int]] = field(default_factory=dict)
    closures: frozenset[date] = frozenset()
    clinic_cancelled: frozenset[tuple[int, date]] = frozenset()
    attended: dict[tuple[int, int], int] = field(default_factory=dict)
    streaks: dict[int, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    therapists: dict[int, list[_Therapist]] = field(default_factory=lambda: defaultdict(list))
    # remaining scheduled sessions of the current or a future week
    group_remaining: dict[tuple[int, date], int] = field(default_factory=dict)
    client_remaining: dict[tuple[int, int], int] = field(default_factory=dict)  # (client, week)
    label_cache: dict[tuple[int, ...], str] = field(default_factory=dict)
    remaining_cache: dict[tuple[int, date, date], int] = field(default_factory=dict)
    # (week start, then track, start, end, hours of each enrollment clipped to the week)
    required_cache: dict[tuple[Any, ...], int | None] = field(default_factory=dict)
    week_bounds: list[tuple[date, date]] = field(default_factory=list)  # (first, last) by index

    @property
    def last(self) -> date:
        return self.first + timedelta(days=7 * self.weeks - 1)


def _fetch(session: Session, stmt: Any, params: Mapping[str, Any]) -> Sequence[Any]:
    """Plain Core rows (tuples), all at once, skipping the ORM's per-row bookkeeping: the
    loaders below read tens of thousands of small rows for a year of history."""
    return session.connection().execute(stmt, params).fetchall()


def _filters(ids: Collection[int] | None) -> bool:
    """Whether a statement filters on the client IDs: above `_MAX_IN_LIST` it reads everyone
    and the caller picks in Python."""
    return ids is not None and len(ids) <= _MAX_IN_LIST


def _in_filter(dialect: str, column: Any, filtered: bool) -> list[ColumnElement[bool]]:
    """`column IN (the ids parameter)` when filtered (see `_ids_param`)."""
    if not filtered:
        return []
    if dialect == "postgresql":
        return [col(column) == any_(_IDS_ARRAY)]
    ids = sa_select(literal_column("value", Integer)).select_from(sa_func.json_each(_IDS_JSON))
    return [col(column).in_(ids)]


def _ids_param(dialect: str, ids: Collection[int]) -> Any:
    return sorted(ids) if dialect == "postgresql" else json.dumps(sorted(ids))


def _enrolled_in_range(start: Any, end: Any) -> ColumnElement[bool]:
    return and_(
        col(TrackEnrollment.voided_at).is_(None),
        col(TrackEnrollment.start_date) <= end,
        or_(col(TrackEnrollment.end_date).is_(None), col(TrackEnrollment.end_date) >= start),
    )


_CLIENT_COLUMNS = (
    Client.id,
    Client.mrn,
    Client.last_name,
    Client.first_name,
    Client.required_weekly_hours,
    Client.required_hours_until,
    Client.part2,
    TrackEnrollment.id,
    TrackEnrollment.track_id,
    TrackEnrollment.start_date,
    TrackEnrollment.end_date,
    TherapistAssignment.id,
    Staff.id,
    TherapistAssignment.start_date,
    TherapistAssignment.end_date,
    Staff.first_name,
    Staff.last_name,
    Staff.credentials,
)


def _with_therapists(query: Any) -> Any:
    """Add each client's primary therapist assignments overlapping the range (if any), with
    the staff member's name: one row per enrollment and assignment."""
    return query.outerjoin(
        TherapistAssignment,
        and_(
            col(TherapistAssignment.client_id) == col(Client.id),
            col(TherapistAssignment.role) == AssignmentRole.PRIMARY_THERAPIST.value,
            col(TherapistAssignment.voided_at).is_(None),
            col(TherapistAssignment.start_date) <= _LAST,
            or_(
                col(TherapistAssignment.end_date).is_(None),
                col(TherapistAssignment.end_date) >= _FIRST,
            ),
        ),
    ).outerjoin(Staff, col(Staff.id) == col(TherapistAssignment.staff_id))


def _enrolled_clients_q(dialect: str, filtered: bool) -> Any:
    """Everyone enrolled in the range, with those enrollments and their primary therapists."""
    return _with_therapists(
        sa_select(*(col(c) for c in _CLIENT_COLUMNS))
        .select_from(TrackEnrollment)
        .join(Client, col(Client.id) == col(TrackEnrollment.client_id))
    ).where(_enrolled_in_range(_FIRST, _LAST))


def _requested_clients_q(dialect: str, filtered: bool) -> Any:
    """The requested clients, each with their enrollments in the range and their primary
    therapists (NULLs where there are none)."""
    return _with_therapists(
        sa_select(*(col(c) for c in _CLIENT_COLUMNS)).outerjoin(
            TrackEnrollment,
            and_(
                col(TrackEnrollment.client_id) == col(Client.id),
                _enrolled_in_range(_FIRST, _LAST),
            ),
        )
    ).where(*_in_filter(dialect, Client.id, filtered))


def _tracks_q(dialect: str, filtered: bool) -> Any:
    """Every track with its active block weekdays as 'd,d,d' (small tables: read whole)."""
    return (
        sa_select(
            col(Track.id),
            col(Track.name),
            col(Track.required_weekly_hours),
            _joined_text(dialect, col(TrackBlock.weekday)),
            col(Track.required_weekly_days),
        )
        .outerjoin(
            TrackBlock, and_(col(TrackBlock.track_id) == col(Track.id), col(TrackBlock.active))
        )
        .group_by(
            col(Track.id),
            col(Track.name),
            col(Track.required_weekly_hours),
            col(Track.required_weekly_days),
        )
    )


def _clinic_week_q(dialect: str, filtered: bool) -> Any:
    """The `week_start` setting's stored text and the clinic's time zone (NULL when unset)."""
    return sa_select(
        sa_select(col(Setting.value)).where(col(Setting.key) == "week_start").scalar_subquery(),
        sa_select(col(Clinic.timezone)).limit(1).scalar_subquery(),
    )


def _closures_q(dialect: str, filtered: bool) -> Any:
    return sa_select(col(ClinicClosure.closure_date)).where(
        col(ClinicClosure.closure_date) >= _FIRST, col(ClinicClosure.closure_date) <= _LAST
    )


def _clinic_cancelled_q(dialect: str, filtered: bool) -> Any:
    """The (track, day) pairs whose group sessions were all cancelled, at least one of them
    by the clinic. Sessions without a track form their own (NULL, day) groups, which the
    caller drops: testing `track_id IS NOT NULL` here made SQLite walk the track index over
    every year instead of the date index over the range (5x slower for a year of history)."""
    cancelled = and_(
        col(ClinicSession.status) == SessionStatus.CANCELLED.value,
        col(ClinicSession.cancelled_by_clinic),
    )
    live = col(ClinicSession.status) != SessionStatus.CANCELLED.value
    return (
        sa_select(col(ClinicSession.track_id), col(ClinicSession.session_date))
        .where(
            col(ClinicSession.kind) == SessionKind.GROUP.value,
            col(ClinicSession.session_date) >= _FIRST,
            col(ClinicSession.session_date) <= _LAST,
        )
        .group_by(col(ClinicSession.track_id), col(ClinicSession.session_date))
        .having(
            and_(
                sa_func.sum(case((cancelled, 1), else_=0)) > 0,
                sa_func.sum(case((live, 1), else_=0)) == 0,
            )
        )
    )


def _attendance_q(dialect: str, filtered: bool, one_week: bool = False) -> Any:
    """One GROUP BY (client, week) over the range's held sessions: attended minutes, the
    position (minute of the range) of the last row that is not an unexcused absence, and the
    positions of the unexcused ones. The held sessions are picked first (week and position
    worked out once per session, not per attendance row), then their rows via the index.
    For a one-week range every week is 0: grouping by client alone is the same and cheaper."""
    days = _days_since(dialect, col(ClinicSession.session_date), _FIRST)
    held = (
        sa_select(
            col(ClinicSession.id).label("id"),
            (days * 1440 + _minute_of_day(dialect, col(ClinicSession.start_time))).label("pos"),
            days.label("day"),
            *(() if one_week else ((days // 7).label("week"),)),  # integer division: days >= 0
        )
        .where(
            col(ClinicSession.status) == SessionStatus.HELD.value,
            col(ClinicSession.session_date) >= _FIRST,
            col(ClinicSession.session_date) <= _LAST,
            # family therapy without the client (90846): the family came, not the client
            col(ClinicSession.kind) != SessionKind.FAMILY_WITHOUT_CLIENT.value,
        )
        .cte("held")
        .prefix_with("MATERIALIZED")
    )
    week: ColumnElement[int] = literal_column("0", Integer) if one_week else held.c.week
    groups = (col(Attendance.client_id),) if one_week else (col(Attendance.client_id), week)
    is_unexcused = col(Attendance.status) == _UNEXCUSED
    return (
        sa_select(
            col(Attendance.client_id),
            week,
            sa_func.sum(
                case((col(Attendance.status).in_(_ATTENDED_SQL), col(Attendance.minutes)), else_=0)
            ),
            sa_func.max(case((is_unexcused, None), else_=held.c.pos)),
            _joined_text(dialect, case((is_unexcused, held.c.pos), else_=None)),
            sa_func.count(
                sa_func.distinct(
                    case((col(Attendance.status).in_(_ATTENDED_SQL), held.c.day), else_=None)
                )
            ),
        )
        .select_from(held)
        .join(Attendance, col(Attendance.session_id) == held.c.id)
        .where(*_in_filter(dialect, Attendance.client_id, filtered))
        .group_by(*groups)
        .order_by(*groups)
    )


def _one_week_attendance_q(dialect: str, filtered: bool) -> Any:
    return _attendance_q(dialect, filtered, one_week=True)


def _week_summary_q(dialect: str, filtered: bool) -> Any:
    """What `_one_week_attendance_q` gives, for everyone, from the `attendance_day` summary
    the database keeps (a week's ~1,400 (day, client) rows instead of its ~3,600 attendance
    rows joined to their sessions): per client attended minutes, attended days, the last day
    with a row that is not an unexcused absence (as text; NULL when none), and 'day:n' for
    each day ending in n > 0 unexcused absences after its last other row."""
    day_text: ColumnElement[str] = (
        sa_func.to_char(col(AttendanceDay.day), literal("YYYY-MM-DD"))
        if dialect == "postgresql"
        else cast(col(AttendanceDay.day), String)  # stored as 'YYYY-MM-DD'
    )
    tail = col(AttendanceDay.tail)
    return (
        sa_select(
            col(AttendanceDay.client_id),
            sa_func.sum(col(AttendanceDay.minutes)),
            sa_func.count(case((col(AttendanceDay.attended) > 0, 1), else_=None)),
            sa_func.max(case((col(AttendanceDay.others) > 0, day_text), else_=None)),
            _joined_text(
                dialect,
                case((tail > 0, day_text + literal(":") + cast(tail, String)), else_=None),
            ),
        )
        .where(col(AttendanceDay.day) >= _FIRST, col(AttendanceDay.day) <= _LAST)
        .group_by(col(AttendanceDay.client_id))
    )


def _streaks_before_q(dialect: str, filtered: bool) -> Any:
    """A few clients' attendance rows at held sessions before `first`, from their last day
    with a row that is not an unexcused absence (every row when there is none), in order."""
    held = col(ClinicSession.status) == SessionStatus.HELD.value
    last_good = (
        sa_select(
            col(Attendance.client_id).label("cid"),
            sa_func.max(ClinicSession.session_date).label("day"),
        )
        .join(ClinicSession, col(ClinicSession.id) == col(Attendance.session_id))
        .where(
            held,
            col(Attendance.status) != _UNEXCUSED,
            col(ClinicSession.session_date) < _FIRST,
            *_in_filter(dialect, Attendance.client_id, filtered),
        )
        .group_by(col(Attendance.client_id))
        .subquery()
    )
    return (
        sa_select(col(Attendance.client_id), col(Attendance.status))
        .join(ClinicSession, col(ClinicSession.id) == col(Attendance.session_id))
        .outerjoin(last_good, last_good.c.cid == col(Attendance.client_id))
        .where(
            held,
            col(ClinicSession.session_date) < _FIRST,
            or_(
                last_good.c.day.is_(None),
                col(ClinicSession.session_date) >= last_good.c.day,
            ),
            *_in_filter(dialect, Attendance.client_id, filtered),
        )
        .order_by(
            col(Attendance.client_id),
            col(ClinicSession.session_date),
            col(ClinicSession.start_time),
            col(ClinicSession.id),
        )
    )


def _remaining_q(dialect: str, filtered: bool) -> Any:
    """Scheduled (not held, not cancelled) sessions from `from_day` to `to_day`, with their
    minutes as session_minutes() counts them."""
    begins = _minute_of_day(dialect, col(ClinicSession.start_time))
    ends = _minute_of_day(dialect, col(ClinicSession.end_time))
    return sa_select(
        col(ClinicSession.kind),
        col(ClinicSession.track_id),
        col(ClinicSession.client_id),
        col(ClinicSession.session_date),
        case((ends > begins, ends - begins), else_=0),
    ).where(
        col(ClinicSession.status) == SessionStatus.SCHEDULED.value,
        col(ClinicSession.session_date) >= _FROM,
        col(ClinicSession.session_date) <= _TO,
    )


def _week_setup_q(dialect: str, filtered: bool) -> Any:
    """What a single week needs besides its clients and attendance, in one UNION ALL (one
    round trip instead of four), each row tagged by its first column:
    't' a track (id, required days, -, name, hours, its active block weekdays 'd,d,d', -),
    'c' a closure day, 'x' a (track, day) whose group the clinic cancelled (as in
    `_clinic_cancelled_q`), 'r' a session still to come (track, client, day, kind, -, -,
    minutes; as in `_remaining_q`, from `from_day` to `to_day`). Columns are
    (tag, id, number, day, text, hours, weekdays, minutes)."""
    no_int = cast(null(), Integer)
    no_day = cast(null(), Date)
    no_text = cast(null(), String)
    no_hours = cast(null(), Track.__table__.c.required_weekly_hours.type)  # type: ignore[attr-defined]
    tracks = (
        sa_select(
            literal_column("'t'", String),
            col(Track.id),
            col(Track.required_weekly_days),
            no_day,
            col(Track.name),
            col(Track.required_weekly_hours),
            _joined_text(dialect, col(TrackBlock.weekday)),
            no_int,
        )
        .outerjoin(
            TrackBlock, and_(col(TrackBlock.track_id) == col(Track.id), col(TrackBlock.active))
        )
        .group_by(
            col(Track.id),
            col(Track.name),
            col(Track.required_weekly_hours),
            col(Track.required_weekly_days),
        )
    )
    closures = sa_select(
        literal_column("'c'", String),
        no_int,
        no_int,
        col(ClinicClosure.closure_date),
        no_text,
        no_hours,
        no_text,
        no_int,
    ).where(col(ClinicClosure.closure_date) >= _FIRST, col(ClinicClosure.closure_date) <= _LAST)
    cancelled_days = _clinic_cancelled_q(dialect, filtered).subquery()
    cancelled = sa_select(
        literal_column("'x'", String),
        cancelled_days.c.track_id,
        no_int,
        cancelled_days.c.session_date,
        no_text,
        no_hours,
        no_text,
        no_int,
    )
    remaining = _remaining_q(dialect, filtered).subquery()
    upcoming = sa_select(
        literal_column("'r'", String),
        remaining.c.track_id,
        remaining.c.client_id,
        remaining.c.session_date,
        remaining.c.kind,
        no_hours,
        no_text,
        list(remaining.c)[4],  # the minutes
    )
    return union_all(tracks, closures, cancelled, upcoming)


def _load(
    session: Session,
    first: date,
    weeks: int,
    today: date,
    client_ids: Collection[int] | None,
) -> _Facts:
    """Load a range of whole weeks with a fixed number of queries, whatever the number of
    clients or weeks: clients with their enrollments and primary therapists, tracks with
    their blocks, closures, clinic-cancelled group days, attendance (one GROUP BY client and
    week: minutes and streak data); +1 (remaining scheduled sessions) when the range reaches
    today or later, +1 when some client's unexcused run reaches back past the range start."""
    facts = _Facts(first, weeks, today)
    last = facts.last
    dialect = session.get_bind().dialect.name
    filtered = _filters(client_ids)
    params: dict[str, Any] = {"first": first, "last": last}
    if filtered:
        assert client_ids is not None
        params["ids"] = _ids_param(dialect, client_ids)

    # 1. clients with their enrollments and primary therapists overlapping the range:
    #    everyone enrolled in the range, or the requested clients (enrolled or not)
    if client_ids is None:
        cl_q = _statement(dialect, "enrolled", False, _enrolled_clients_q)
    else:
        cl_q = _statement(dialect, "requested", filtered, _requested_clients_q)
    _take_clients(facts, _fetch(session, cl_q, params), client_ids)

    if weeks == 1 and client_ids is None:  # the weekly dashboard: steps 2-4 and 6 in one
        _load_week_setup(session, facts, dialect, params)
        _load_attendance(session, facts, dialect, client_ids, params)
        return facts

    # 2. tracks and their active block weekdays
    for tid, name, hours, weekdays, days in _fetch(
        session, _statement(dialect, "tracks", False, _tracks_q), {}
    ):
        facts.tracks[tid] = (name, Decimal(hours))
        if days:
            facts.track_days[tid] = int(days)
        if weekdays:
            facts.blocks[tid] = frozenset(int(day) for day in weekdays.split(","))

    # 3. closures
    facts.closures = frozenset(
        day
        for (day,) in _fetch(session, _statement(dialect, "closures", False, _closures_q), params)
    )

    # 4. track days whose group the clinic cancelled (every group session that day cancelled,
    #    at least one of them by the clinic)
    facts.clinic_cancelled = frozenset(
        (tid, day)
        for tid, day in _fetch(
            session, _statement(dialect, "cancelled", False, _clinic_cancelled_q), params
        )
        if tid is not None
    )

    # 5. one GROUP BY (client, week) over held sessions: attended minutes, and what the
    #    unexcused streak needs
    _load_attendance(session, facts, dialect, client_ids, params)

    # 6. scheduled sessions still to come (only when the range reaches today)
    if last >= today:
        _load_remaining(session, facts, dialect, max(first, today), last, client_ids)
    return facts


def _take_clients(facts: _Facts, rows: Iterable[Any], client_ids: Collection[int] | None) -> None:
    """The clients read, their enrollments and primary therapist assignments (one row per
    enrollment and assignment) into `facts`."""
    clients = facts.clients
    enrollments = facts.enrollments
    therapists = facts.therapists
    seen_enrollments: set[int] = set()
    seen_assignments: set[int] = set()
    # a staff member's name is the same on every row of one read: worked out once
    staff_names: dict[int, str] = {}
    new_client = _ClientFacts
    new_therapist = _Therapist
    for (
        cid,
        mrn,
        last_name,
        first_name,
        override,
        override_until,
        part2,
        eid,
        tid,
        start,
        end,
        aid,
        staff_id,
        assigned,
        unassigned,
        staff_first,
        staff_last,
        credentials,
    ) in rows:
        if client_ids is not None and cid not in client_ids:
            continue
        if cid not in clients:
            clients[cid] = new_client(
                mrn,
                f"{last_name}, {first_name}",  # client_label()
                None if override is None else Decimal(override),
                bool(part2),
                override_until,
            )
        if eid is not None and eid not in seen_enrollments:
            seen_enrollments.add(eid)
            enrollments[cid].append((eid, tid, start, end))
        if staff_id is not None and aid not in seen_assignments:
            seen_assignments.add(aid)
            name = staff_names.get(staff_id)
            if name is None:
                name = staff_names[staff_id] = f"{staff_first} {staff_last}".strip() + (
                    f", {credentials}" if credentials else ""
                )
            therapists[cid].append(new_therapist(staff_id, name, assigned, unassigned, aid))


def _load_week_setup(
    session: Session, facts: _Facts, dialect: str, params: Mapping[str, Any]
) -> None:
    """Tracks, closures, clinic-cancelled group days and (when the week reaches today) the
    sessions still to come, from one statement (`_week_setup_q`)."""
    first, last, today = facts.first, facts.last, facts.today
    # sessions still to come: from today (or the week's start) to its end; none (an empty
    # range) for a week that is over
    start, end = (max(first, today), last) if last >= today else (last + _ONE_DAY, last)
    stmt = _statement(dialect, "week_setup", False, _week_setup_q)
    tracks = facts.tracks
    track_days = facts.track_days
    blocks = facts.blocks
    closures: set[date] = set()
    cancelled: set[tuple[int, date]] = set()
    upcoming: list[tuple[str, int | None, int | None, date, int]] = []
    for tag, number, other, day, name, hours, weekdays, minutes in _fetch(
        session, stmt, {**params, "from_day": start, "to_day": end}
    ):
        if tag == "r":
            upcoming.append((name, number, other, day, minutes))
        elif tag == "t":
            tracks[number] = (name, Decimal(hours))
            if other:
                track_days[number] = int(other)
            if weekdays:
                blocks[number] = frozenset(int(d) for d in weekdays.split(","))
        elif tag == "c":
            closures.add(day)
        elif number is not None:  # "x"; sessions without a track form (NULL, day) groups
            cancelled.add((number, day))
    facts.closures = frozenset(closures)
    facts.clinic_cancelled = frozenset(cancelled)
    if last >= today:
        _tally_remaining(facts, upcoming, None)


def _load_attendance(
    session: Session,
    facts: _Facts,
    dialect: str,
    client_ids: Collection[int] | None,
    params: Mapping[str, Any],
) -> None:
    """Attended minutes and the unexcused streak from one GROUP BY (client, week).

    The streak at a week's end is the week's unexcused rows after its last other row, or the
    previous week's streak plus the week's unexcused rows when the week has no other row. A
    client whose run is still open at the start of the range (every row in it unexcused, or
    no row at all) gets the rest of it from one more query over just those clients, so the
    streak is exact whatever its length. `facts.streaks` keeps, per client, the weeks at whose
    end the streak changes (from 0, or from the run carried in at week -1)."""
    scope = set(client_ids) if client_ids is not None else set(facts.enrollments)
    if facts.weeks == 1 and client_ids is None:  # the dashboard: from the summary
        stmt = _statement(dialect, "week_summary", False, _week_summary_q)
        _tally_summary(session, facts, dialect, scope, _fetch(session, stmt, params))
        return
    if facts.weeks == 1:
        stmt = _statement(dialect, "one_week", _filters(client_ids), _one_week_attendance_q)
        _tally_one_week(session, facts, dialect, scope, _fetch(session, stmt, params))
        return
    stmt = _statement(dialect, "attendance", _filters(client_ids), _attendance_q)
    attended = facts.attended
    # client -> [(week, streak at its end, run still open since the range start?)]
    walked: dict[int, list[tuple[int, int, bool]]] = {}
    current: int | None = None
    marks: list[tuple[int, int, bool]] = []
    streak, open_run = 0, True
    attended_days = facts.attended_days
    for cid, wk, minutes, last_other, unexcused, days in _fetch(session, stmt, params):
        index = int(wk)
        if minutes:
            attended[(cid, index)] = int(minutes)
        if days:
            attended_days[(cid, index)] = int(days)
        if cid not in scope:
            continue
        if cid != current:  # rows come by client, then week
            current, streak, open_run = cid, 0, True
            marks = walked[cid] = []
        if last_other is not None:
            after = int(last_other)
            streak = sum(1 for p in unexcused.split(",") if int(p) > after) if unexcused else 0
            open_run = False
        elif unexcused:
            streak += unexcused.count(",") + 1
        marks.append((index, streak, open_run))
    # an open run is a prefix of the client's weeks: it is open at the first one or never
    reach_back = {cid for cid in scope if cid not in walked or walked[cid][0][2]}
    carry = _streaks_before(session, dialect, facts.first, reach_back) if reach_back else {}
    streaks = facts.streaks
    for cid, base in carry.items():
        if base and cid not in walked:
            streaks[cid] = {-1: base}
    for cid, weeks in walked.items():
        base = carry.get(cid, 0)
        changes: dict[int, int] = {-1: base} if base else {}
        value = base
        for index, streak, open_run in weeks:
            now = streak + base if open_run else streak
            if now != value:
                changes[index] = value = now
        if changes:
            streaks[cid] = changes


def _tally_one_week(
    session: Session, facts: _Facts, dialect: str, scope: Collection[int], rows: Iterable[Any]
) -> None:
    """`_load_attendance` for a one-week range (every row is week 0), without the per-client
    lists the general walk keeps: the same attended minutes, days and streak marks."""
    attended = facts.attended
    attended_days = facts.attended_days
    closed: dict[int, int] = {}  # the week has a row that is not unexcused: streak at its end
    open_runs: dict[int, int] = {}  # every row of the week unexcused: how many
    for cid, _wk, minutes, last_other, unexcused, days in rows:
        if minutes:
            attended[(cid, 0)] = int(minutes)
        if days:
            attended_days[(cid, 0)] = int(days)
        if cid not in scope:
            continue
        if last_other is not None:
            after = int(last_other)
            closed[cid] = sum(1 for p in unexcused.split(",") if int(p) > after) if unexcused else 0
        else:
            open_runs[cid] = unexcused.count(",") + 1 if unexcused else 0
    # the run of anyone without a closing row this week may reach back before it
    _close_streaks(session, facts, dialect, scope, closed, open_runs)


def _tally_summary(
    session: Session, facts: _Facts, dialect: str, scope: Collection[int], rows: Iterable[Any]
) -> None:
    """`_tally_one_week` from `_week_summary_q`'s rows: the same attended minutes, days and
    streak marks. A week's streak is the trailing unexcused absences of its last day with
    another row, plus every unexcused absence of the days after it (such days have no other
    row); with no other row in the week, every unexcused absence (a run still open)."""
    attended = facts.attended
    attended_days = facts.attended_days
    closed: dict[int, int] = {}  # the week has a row that is not unexcused: streak at its end
    open_runs: dict[int, int] = {}  # every row of the week unexcused: how many
    for cid, minutes, days, last_other, trailing in rows:
        if minutes:
            attended[(cid, 0)] = int(minutes)
        if days:
            attended_days[(cid, 0)] = int(days)
        if cid not in scope:
            continue
        streak = 0
        if trailing:
            for part in trailing.split(","):
                day, _, count = part.partition(":")
                if last_other is None or day >= last_other:
                    streak += int(count)
        if last_other is not None:
            closed[cid] = streak
        else:
            open_runs[cid] = streak
    _close_streaks(session, facts, dialect, scope, closed, open_runs)


def _close_streaks(
    session: Session,
    facts: _Facts,
    dialect: str,
    scope: Collection[int],
    closed: Mapping[int, int],
    open_runs: Mapping[int, int],
) -> None:
    """A one-week range's streak marks from the clients whose week has a row that is not an
    unexcused absence (`closed`: their streak) and those whose rows are all unexcused
    (`open_runs`: how many), completing the runs that may reach back before the week."""
    reach_back = {cid for cid in scope if cid not in closed}
    carry = _streaks_before(session, dialect, facts.first, reach_back) if reach_back else {}
    streaks = facts.streaks
    for cid, streak in closed.items():
        if streak:
            streaks[cid] = {0: streak}
    for cid, base in carry.items():
        if base and cid not in open_runs:
            streaks[cid] = {-1: base}
    for cid, count in open_runs.items():
        base = carry.get(cid, 0)
        changes = {-1: base} if base else {}
        if count:
            changes[0] = count + base
        if changes:
            streaks[cid] = changes


def _streaks_before(
    session: Session, dialect: str, cutoff: date, client_ids: Collection[int]
) -> dict[int, int]:
    """Trailing unexcused absences before `cutoff` for a few clients: their rows from their
    last other-status day before the cutoff (the attendance client index keeps it small)."""
    filtered = _filters(client_ids)
    params: dict[str, Any] = {"first": cutoff}
    if filtered:
        params["ids"] = _ids_param(dialect, client_ids)
    stmt = _statement(dialect, "streaks_before", filtered, _streaks_before_q)
    statuses: dict[int, list[str]] = defaultdict(list)
    for cid, status in _fetch(session, stmt, params):
        if cid in client_ids:
            statuses[cid].append(status)
    return {cid: unexcused_streak(seq) for cid, seq in statuses.items()}


def _load_remaining(
    session: Session,
    facts: _Facts,
    dialect: str,
    start: date,
    end: date,
    client_ids: Collection[int] | None,
) -> None:
    """Scheduled (not held, not cancelled) sessions from `start` to `end`: track groups by
    (track, day), and each client's own individual/family/intake bookings."""
    stmt = _statement(dialect, "remaining", False, _remaining_q)
    _tally_remaining(facts, _fetch(session, stmt, {"from_day": start, "to_day": end}), client_ids)


def _tally_remaining(
    facts: _Facts, sessions: Iterable[Any], client_ids: Collection[int] | None
) -> None:
    """Sum the (kind, track, client, day, minutes) sessions still to come: by (track, day) for
    groups, by (client, week) for the client's own bookings; closure days left out."""
    groups: dict[tuple[int, date], int] = defaultdict(int)
    booked: dict[tuple[int, int], int] = defaultdict(int)
    closures = facts.closures
    group_kind = SessionKind.GROUP.value
    for kind, tid, cid, day, minutes in sessions:
        if day in closures:
            continue
        minutes = int(minutes)
        if kind == group_kind:
            if tid is not None:
                groups[(tid, day)] += minutes
        elif cid is not None and (client_ids is None or cid in client_ids):
            booked[(cid, (day - facts.first).days // 7)] += minutes
    facts.group_remaining = dict(groups)
    facts.client_remaining = dict(booked)


def _therapist_for(facts: _Facts, cid: int, first: date, last: date) -> _Therapist | None:
    return _therapist_in(facts.therapists.get(cid, ()), first, last)


def _therapist_in(therapists: Iterable[_Therapist], first: date, last: date) -> _Therapist | None:
    """The primary therapist of a week: the newest assignment overlapping it."""
    best: _Therapist | None = None
    for t in therapists:
        if t.start <= last and (t.end is None or t.end >= first):  # noqa: SIM102
            if best is None or (t.start, t.order) > (best.start, best.order):
                best = t
    return best


# One enrollment of a client, as the row builder uses it: (start, enrollment id, track_id,
# end, required weekly hours). Sorting these sorts by (start, id), the order in which a later
# enrollment wins a shared day.
_Span = tuple[date, int, int, date | None, Decimal]


def _client_spans(facts: _Facts, cid: int) -> list[_Span]:
    """The client's enrollments in the range, sorted by (start, id), requirement resolved."""
    info = facts.clients[cid]
    override, until = info.override, info.override_until
    tracks = facts.tracks
    spans = [
        (
            start,
            eid,
            tid,
            end,
            requirement_hours(override, tracks[tid][1] if tid in tracks else Decimal(0)),
        )
        for eid, tid, start, end in facts.enrollments.get(cid, ())
    ]
    if override is not None and until is not None:
        spans = _split_at_override_end(spans, until, tracks)
    if len(spans) > 1:
        spans.sort(key=lambda s: (s[0], s[1]))
    return spans


def _split_at_override_end(
    spans: list[_Span], until: date, tracks: Mapping[int, tuple[str, Decimal]]
) -> list[_Span]:
    """An override ending on `until`: each enrollment's days up to `until` keep the override,
    the days after it carry the track's own hours (an enrollment wholly after it: track)."""
    result: list[_Span] = []
    for start, eid, tid, end, hours in spans:
        track_hours = tracks[tid][1] if tid in tracks else Decimal(0)
        if start > until:
            result.append((start, eid, tid, end, track_hours))
        elif end is not None and end <= until:
            result.append((start, eid, tid, end, hours))
        else:
            result.append((start, eid, tid, until, hours))
            result.append((until + _ONE_DAY, eid, tid, end, track_hours))
    return result


def _required_for_week(facts: _Facts, first: date, in_week: Sequence[_Span]) -> int | None:
    """required_minutes() for one week, memoised on the enrollments clipped to the week (most
    clients share "enrolled all week in track T at H hours"), so 500 x 52 cells stay cheap.
    `in_week` is sorted by (start, id); the key is (first, then track, clipped start, clipped
    end and hours of each enrollment in that order)."""
    last = first + _SIX_DAYS
    key: tuple[Any, ...] = (first,)
    for start, _eid, tid, end, hours in in_week:
        key += (
            tid,
            first if start < first else start,
            last if end is None or end > last else end,
            hours,
        )
    cache = facts.required_cache
    required = cache.get(key, _MISSING)
    if required is _MISSING:
        clipped = [
            EnrollmentSpan(key[i], key[i + 1], key[i + 2], key[i + 3], rank)
            for rank, i in enumerate(range(1, len(key), 4))
        ]
        required = cache[key] = required_minutes(
            first, clipped, facts.blocks, facts.closures, facts.clinic_cancelled
        )
    return required  # type: ignore[return-value]


def _required_days_for_week(facts: _Facts, first: date, in_week: Sequence[_Span]) -> int | None:
    """required_days() for one week, memoised like _required_for_week (None at once when no
    track of the week has a day minimum, the usual case)."""
    track_days = facts.track_days
    if not track_days or not any(s[2] in track_days for s in in_week):
        return None
    last = first + _SIX_DAYS
    key: tuple[Any, ...] = (first,)
    for start, _eid, tid, end, hours in in_week:
        key += (
            tid,
            first if start < first else start,
            last if end is None or end > last else end,
            hours,
        )
    cache = facts.days_cache
    if key not in cache:
        clipped = [
            EnrollmentSpan(key[i], key[i + 1], key[i + 2], key[i + 3], rank)
            for rank, i in enumerate(range(1, len(key), 4))
        ]
        parts = prorate(first, clipped, facts.blocks, facts.closures, facts.clinic_cancelled).parts
        cache[key] = required_days(parts, track_days)
    return cache[key]


_MISSING = object()
_ONE_DAY = timedelta(days=1)
_DAYS = tuple(timedelta(days=i) for i in range(7))
_SIX_DAYS = timedelta(days=6)


def _track_label(facts: _Facts, track_ids: tuple[int, ...]) -> str:
    """Track names in enrollment order, each once, joined ", " (memoised)."""
    label = facts.label_cache.get(track_ids)
    if label is None:
        names: list[str] = []
        for tid in track_ids:
            name = facts.tracks.get(tid, ("", Decimal(0)))[0]
            if name and name not in names:
                names.append(name)
        label = facts.label_cache[track_ids] = ", ".join(names)
    return label


def _remaining_for_week(
    facts: _Facts, cid: int, index: int, first: date, last: date, in_week: Sequence[_Span]
) -> int:
    """Scheduled minutes still to come in the week: the group sessions of the track the
    client is in each day from today (the newest enrollment owns a shared day), plus the
    client's own bookings."""
    day = max(first, facts.today)
    group_remaining = facts.group_remaining
    booked = facts.client_remaining.get((cid, index), 0)
    if len(in_week) == 1:  # one enrollment: if it covers every day left, its track's total
        start, _eid, tid, end, _hours = in_week[0]
        if start <= day and (end is None or end >= last):
            key = (tid, day, last)
            total = facts.remaining_cache.get(key)
            if total is None:
                total = facts.remaining_cache[key] = sum(
                    group_remaining.get((tid, day + timedelta(days=i)), 0)
                    for i in range((last - day).days + 1)
                )
            return total + booked
    remaining = 0
    while day <= last:
        for start, _eid, tid, end, _hours in reversed(in_week):  # newest first
            if start <= day and (end is None or day <= end):
                remaining += group_remaining.get((tid, day), 0)
                break
        day += _ONE_DAY
    return remaining + booked


def _client_rows(
    facts: _Facts, cid: int, spans: Sequence[_Span], weeks: Iterable[int]
) -> list[WeekRow]:
    """One client's rows for the given week indexes (ascending) from loaded facts (pure).
    `spans` come from `_client_spans`. (Called for every client and week: kept lean.)"""
    info = facts.clients[cid]
    marks = facts.streaks.get(cid)
    pending = sorted(marks) if marks else []
    streak = 0
    next_mark = 0
    today = facts.today
    bounds = facts.week_bounds
    if len(bounds) < facts.weeks:  # each week's (first, last), worked out once per call
        bounds[:] = [
            (first, first + _SIX_DAYS)
            for first in (facts.first + timedelta(days=7 * i) for i in range(facts.weeks))
        ]
    attended_by_week = facts.attended
    attended_days_by_week = facts.attended_days
    therapists = facts.therapists.get(cid, ())
    # one assignment (the usual case): its overlap test inline instead of _therapist_in
    only_therapist = therapists[0] if len(therapists) == 1 else None
    single = spans[0] if len(spans) == 1 else None
    rows: list[WeekRow] = []
    for index in weeks:
        # the streak stands at its value after the last attendance row on or before week end
        while next_mark < len(pending) and pending[next_mark] <= index:
            streak = marks[pending[next_mark]]  # type: ignore[index]  # pending implies marks
            next_mark += 1
        first, last = bounds[index]
        if single is not None:
            in_week: Sequence[_Span] = (
                spans if single[0] <= last and (single[3] is None or single[3] >= first) else ()
            )
        else:
            in_week = [s for s in spans if s[0] <= last and (s[3] is None or s[3] >= first)]
        if in_week:
            required = _required_for_week(facts, first, in_week)
            track_label = _track_label(
                facts, (single[2],) if single is not None else tuple([s[2] for s in in_week])
            )
            days_required = _required_days_for_week(facts, first, in_week)
        else:
            required, track_label, days_required = None, "", None
        attended = attended_by_week.get((cid, index), 0)
        days_attended = attended_days_by_week.get((cid, index), 0)
        therapist = ""
        if only_therapist is not None:
            if only_therapist.start <= last and (
                only_therapist.end is None or only_therapist.end >= first
            ):
                therapist = only_therapist.name
        elif therapists:
            best = _therapist_in(therapists, first, last)
            if best is not None:
                therapist = best.name
        remaining = 0
        current = False
        if last >= today:
            remaining = _remaining_for_week(facts, cid, index, first, last, in_week)
            current = first <= today
        row = _new_row(WeekRow)
        _set_attribute(
            row,
            "__dict__",
            {
                "client_id": cid,
                "mrn": info.mrn,
                "client": info.label,
                "track": track_label,
                "therapist": therapist,
                "required_minutes": required,
                "attended_minutes": attended,
                "status": NO_REQUIREMENT
                if required is None
                else week_status(required, attended, days_required, days_attended),
                "projection": projection(required, attended, remaining) if current else None,
                "remaining_minutes": remaining,
                "unexcused_streak": streak,
                "part2": info.part2,
                "week_start": first,
                "required_days": days_required,
                "attended_days": days_attended,
            },
        )
        rows.append(row)
    return rows


# WeekRow(...) without the frozen dataclass __init__'s thirteen guarded setattr calls: the
# same object (its fields in its __dict__, as __init__ leaves them), made in one step; this
# is the hot loop of a year of history (26,000 rows). tests/test_hours.py checks the two
# agree, and this guard keeps it honest if WeekRow ever gains slots or a __post_init__.
_new_row = object.__new__
_set_attribute = object.__setattr__
assert not hasattr(WeekRow, "__slots__") and not hasattr(WeekRow, "__post_init__")
assert [f.name for f in fields(WeekRow)] == [
    "client_id",
    "mrn",
    "client",
    "track",
    "therapist",
    "required_minutes",
    "attended_minutes",
    "status",
    "projection",
    "remaining_minutes",
    "unexcused_streak",
    "part2",
    "week_start",
    "required_days",
    "attended_days",
]


def _compute_week(
    session: Session,
    week_of: date,
    *,
    track_id: int | None = None,
    therapist_staff_id: int | None = None,
    today: date | None = None,
) -> tuple[date, date, list[WeekRow]]:
    week_start, tz = _clinic_week(session)
    first = start_of_week(week_of, week_start)
    last = first + _SIX_DAYS
    today = today or clinic_now(tz).date()  # clinic_today() without a second query
    facts = _load(session, first, 1, today, None)
    rows = _week_rows(facts, first, last, track_id, therapist_staff_id)
    rows.sort(key=_ROW_ORDER)
    return first, last, rows


_ROW_ORDER = attrgetter("mrn", "client_id")


def _week_rows(
    facts: _Facts,
    first: date,
    last: date,
    track_id: int | None,
    therapist_staff_id: int | None,
) -> list[WeekRow]:
    """`_client_rows(facts, cid, _client_spans(facts, cid), (0,))` for every client of a
    one-week range (optionally only those in a track or with a primary therapist), with the
    usual client inline: one enrollment, no override end date, at most one therapist. Such
    clients share a few (track, days, hours) shapes, whose requirement, day minimum and track
    label are worked out once per shape. Anyone else goes through `_client_rows`."""
    tracks = facts.tracks
    enrollments = facts.enrollments
    all_therapists = facts.therapists
    attended_by = facts.attended
    days_by = facts.attended_days
    streaks = facts.streaks
    today = facts.today
    upcoming = last >= today  # the week has sessions still to come
    current = upcoming and first <= today
    group_remaining = facts.group_remaining
    booked = facts.client_remaining
    blocks = facts.blocks
    closures = facts.closures
    cancelled = facts.clinic_cancelled
    track_days = facts.track_days
    shapes: dict[tuple[Any, ...], tuple[int | None, str, int | None, int]] = {}
    new_row = _new_row
    set_attribute = _set_attribute
    rows: list[WeekRow] = []
    append = rows.append
    for cid, info in facts.clients.items():
        spans_of = enrollments.get(cid, ())
        therapists = all_therapists.get(cid, ())
        override = info.override
        if (
            len(spans_of) != 1
            or len(therapists) > 1
            or (override is not None and info.override_until is not None)
        ):
            spans = _client_spans(facts, cid)
            if track_id is not None and not any(s[2] == track_id for s in spans):
                continue
            if therapist_staff_id is not None:
                best = _therapist_for(facts, cid, first, last)
                if best is None or best.staff_id != therapist_staff_id:
                    continue
            rows.extend(_client_rows(facts, cid, spans, (0,)))
            continue
        _eid, tid, start, end = spans_of[0]
        if track_id is not None and tid != track_id:
            continue
        therapist = ""
        therapist_id = None
        if therapists:
            only = therapists[0]
            if only.start <= last and (only.end is None or only.end >= first):
                therapist, therapist_id = only.name, only.staff_id
        if therapist_staff_id is not None and therapist_id != therapist_staff_id:
            continue
        required: int | None = None
        track_label = ""
        days_required: int | None = None
        if start <= last and (end is None or end >= first):
            hours = (
                override
                if override is not None
                else (tracks[tid][1] if tid in tracks else Decimal(0))
            )
            shape = (
                tid,
                first if start < first else start,
                last if end is None or end > last else end,
                hours,
            )
            known = shapes.get(shape)
            if known is None:
                # group minutes still to come on the enrollment's days (_remaining_for_week
                # without the client's own bookings)
                to_come = 0
                if upcoming:
                    day = max(first, today)
                    while day <= last:
                        if start <= day and (end is None or day <= end):
                            to_come += group_remaining.get((tid, day), 0)
                        day += _ONE_DAY
                # prorate() for one enrollment, which owns every day it covers
                weekdays = blocks.get(tid, ())
                counted = scheduled = 0
                for offset in _DAYS:
                    day = first + offset
                    if day.weekday() in weekdays:
                        scheduled += 1
                        if (
                            start <= day
                            and (end is None or day <= end)
                            and day not in closures
                            and (tid, day) not in cancelled
                        ):
                            counted += 1
                required = days_required = None
                if counted:
                    hours_num, hours_den = hours.as_integer_ratio()
                    required = _round_ratio_half_up(hours_num * 60 * counted, hours_den * scheduled)
                    minimum = track_days.get(tid, 0)  # required_days(): > 0 only
                    if minimum:
                        days_required = round_half_up(Fraction(minimum * counted, scheduled))
                known = shapes[shape] = (
                    required,
                    _track_label(facts, (tid,)),
                    days_required,
                    to_come,
                )
            required, track_label, days_required, to_come = known
        else:
            to_come = 0
        attended = attended_by.get((cid, 0), 0)
        days_attended = days_by.get((cid, 0), 0)
        marks = streaks.get(cid)
        streak = 0
        if marks:  # a one-week range marks at most week -1 (carried in) and week 0
            streak = marks[0] if 0 in marks else marks.get(-1, 0)
        remaining = to_come + booked.get((cid, 0), 0) if upcoming else 0
        # week_status() and projection(), inline
        if required is None:
            status, outlook = NO_REQUIREMENT, None
        else:
            status = (
                NOT_MET
                if (days_required is not None and days_attended < days_required)
                or attended < required
                else MET
            )
            outlook = None
            if current:
                outlook = ON_TRACK if attended + remaining >= required else AT_RISK
        row = new_row(WeekRow)
        set_attribute(
            row,
            "__dict__",
            {
                "client_id": cid,
                "mrn": info.mrn,
                "client": info.label,
                "track": track_label,
                "therapist": therapist,
                "required_minutes": required,
                "attended_minutes": attended,
                "status": status,
                "projection": outlook,
                "remaining_minutes": remaining,
                "unexcused_streak": streak,
                "part2": info.part2,
                "week_start": first,
                "required_days": days_required,
                "attended_days": days_attended,
            },
        )
        append(row)
    return rows


# ------------------------------------------------------------------------------------------
# Service calls
# ------------------------------------------------------------------------------------------


@service(Perm.CENSUS_VIEW, read_only=True)
def weekly_hours(
    session: Session,
    actor: Actor,
    week_of: date,
    *,
    track_id: int | None = None,
    therapist_staff_id: int | None = None,
    today: date | None = None,
) -> list[WeekRow]:
    """Every client enrolled at any time in the week of `week_of`, sorted by MRN.

    `track_id` keeps clients enrolled in that track during the week; `therapist_staff_id`
    keeps clients whose primary therapist that week is that staff member. `today` (default:
    the clinic's date) decides which week gets a projection and what is still to come.
    """
    return _compute_week(
        session,
        week_of,
        track_id=track_id,
        therapist_staff_id=therapist_staff_id,
        today=today,
    )[2]


_collector_lock = threading.Lock()
_collector_users = 0
_collector_was_enabled = False


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Hold off Python's cyclic garbage collector while a year of history is built.

    The rows are plain acyclic objects (26,000 WeekRows, each with its __dict__, and the result
    tuples they come from), so a collection can find nothing to free, yet the allocations set
    off repeated full collections over every object of the app: a quarter of the time of a
    52-week history for 500 clients. Reference counting still frees everything at once; the
    collector runs again as usual afterwards. Nested and concurrent calls share one pause."""
    global _collector_users, _collector_was_enabled
    with _collector_lock:
        if _collector_users == 0:
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _collector_users += 1
    try:
        yield
    finally:
        with _collector_lock:
            _collector_users -= 1
            if _collector_users == 0 and _collector_was_enabled:
                gc.enable()


def _history(
    session: Session,
    client_ids: Collection[int],
    first_week: date,
    last_week: date,
    today: date | None,
) -> tuple[date, int, _Facts, dict[int, list[WeekRow]]]:
    first, _ = week_bounds(session, first_week)
    last_first = start_of_week(last_week, first.weekday())
    if last_first < first:
        raise ValidationError("The last week is before the first week.")
    weeks = (last_first - first).days // 7 + 1
    ids = frozenset(client_ids)
    with _collector_paused():
        facts = _load(session, first, weeks, today or clinic_today(session), ids)
        result = {
            cid: _client_rows(facts, cid, _client_spans(facts, cid), range(weeks))
            for cid in facts.clients
        }
    return first, weeks, facts, result


@service(Perm.CENSUS_VIEW, read_only=True)
def history_for_clients(
    session: Session,
    actor: Actor,
    client_ids: Iterable[int],
    first_week: date,
    last_week: date,
    *,
    today: date | None = None,
) -> dict[int, list[WeekRow]]:
    """Each client's rows for every week from the week of `first_week` to the week of
    `last_week` (one entry per week, oldest first; row.week_start names the week). A week
    the client was not enrolled shows "no requirement". Unknown client IDs are left out.
    Set-based: the same 6-9 queries for 1 client or 500, 1 week or 52."""
    return _history(session, list(client_ids), first_week, last_week, today)[3]


@service(Perm.CENSUS_VIEW)  # a write unit: a refusal of the chart section is audited
def client_history(
    session: Session,
    actor: Actor,
    client_id: int,
    weeks: int = 52,
    today: date | None = None,
) -> list[tuple[date, WeekRow]]:
    """(week start, row) for each week of the client's stay, oldest first: from the week of
    the first enrollment to the current week (or the week enrollment ended), at most `weeks`
    weeks, skipping weeks between stays when the client was not enrolled."""
    if weeks < 1:
        raise ValidationError("Show at least one week.")
    return _client_history_in(session, actor, client_id, weeks, today)


@service(Perm.CENSUS_VIEW)  # a write unit: a refusal of the chart section is audited
def client_attendance(
    session: Session, actor: Actor, client_id: int, weeks: int = 52
) -> tuple[list[tuple[date, WeekRow]], WeekDetail | None]:
    """The chart's Attendance tab in one transaction: the weekly history of the stay
    (client_history) and its latest week explained session by session (week_detail)."""
    from iopdesk.services.weekdetail import week_detail_in

    # held here so that the reads below find it in the session (its map is weak)
    client = session.get(Client, client_id)
    history = _client_history_in(session, actor, client_id, weeks, None)
    latest = week_detail_in(session, client_id, history[-1][0]) if history else None
    del client
    return history, latest


def _client_history_in(
    session: Session, actor: Actor, client_id: int, weeks: int, today: date | None
) -> list[tuple[date, WeekRow]]:
    if session.get(Client, client_id) is None:
        raise NotFoundError("That client record does not exist.")
    from iopdesk.services.clients import ChartSection, require_section_in

    require_section_in(session, actor, client_id, ChartSection.ATTENDANCE, entity="client")
    today = today or clinic_now(_clinic_week(session)[1]).date()
    bounds = session.execute(
        sa_select(
            sa_func.min(TrackEnrollment.start_date),
            sa_func.max(sa_func.coalesce(TrackEnrollment.end_date, literal(date.max, Date))),
        ).where(
            col(TrackEnrollment.client_id) == client_id,
            col(TrackEnrollment.voided_at).is_(None),
        )
    ).one()
    stay_start, stay_end = bounds
    if stay_start is None:
        return []
    end = min(stay_end, today)
    if end < stay_start:  # admitted in the future
        end = stay_start
    first, _ = week_bounds(session, stay_start)
    last_first, _ = week_bounds(session, end)
    earliest = last_first - timedelta(days=7 * (weeks - 1))
    first = max(first, earliest)
    start, _n, facts, rows = _history(session, [client_id], first, last_first, today)
    spans = facts.enrollments.get(client_id, [])
    result: list[tuple[date, WeekRow]] = []
    for i, row in enumerate(rows.get(client_id, [])):
        week_first = start + timedelta(days=7 * i)
        week_last = week_first + timedelta(days=6)
        if any(a <= week_last and (b is None or b >= week_first) for _, _, a, b in spans):
            result.append((week_first, row))
    return result


# ------------------------------------------------------------------------------------------
# The weekly attendance report (issue 4 item 5)
# ------------------------------------------------------------------------------------------


@service(Perm.REPORTS_VIEW)
def build_attendance_report(session: Session, actor: Actor, week_of: date) -> AttendanceReport:
    """The week's rows (every client enrolled at any time that week, by MRN) and letterhead."""
    clinic = session.execute(
        sa_select(
            col(Clinic.name), col(Clinic.address), col(Clinic.phone), col(Clinic.timezone)
        ).limit(1)
    ).first()
    if clinic is None:
        raise NotFoundError("The clinic has not been set up yet.")
    now = clinic_now(clinic[3])
    first, last, rows = _compute_week(session, week_of, today=now.date())
    # the report is a snapshot: no projection (it depends on the moment it was printed)
    rows = [replace(r, projection=None) for r in rows]
    return AttendanceReport(
        clinic_name=clinic[0],
        clinic_address=clinic[1] or "",
        clinic_phone=clinic[2] or "",
        week_start=first,
        week_end=last,
        rows=rows,
        generated_at=now,
    )


REPORT_FORMATS = (".xlsx", ".pdf")
CATEGORIES = ("attendance",)  # what the attendance report holds (the release gate checks it)


def export_attendance_report(
    db: Database, actor: Actor, week_of: date, path: Path | str, release: Release | None = None
) -> int:
    """Write the report for the week of `week_of` to `path` (.xlsx or .pdf, by suffix),
    atomically; audit the export. Returns the number of client rows. `release` says who
    receives it (default internal use); a disclosure of Part 2 clients needs their consents
    (services.disclosures), checked before the file is placed."""
    require(actor, Perm.REPORTS_VIEW)
    from iopdesk.services.disclosures import INTERNAL, authorize_many

    target = Path(path).expanduser()
    suffix = target.suffix.lower()
    if suffix not in REPORT_FORMATS:
        raise ValidationError(
            f"Cannot save the attendance report as '{target.name}': choose a file name ending "
            "in .xlsx (Excel workbook) or .pdf (printable).",
            {"path": "Use .xlsx or .pdf."},
        )
    folder = target.parent
    if not folder.is_dir():
        raise ValidationError(
            f"The folder {folder} does not exist. Choose an existing folder for the report.",
            {"path": "Folder not found."},
        )
    report = build_attendance_report(db, actor, week_of)
    from iopdesk.reports import attendance as writer
    from iopdesk.services.disclosures import plan_release

    release = release or INTERNAL
    ids = [r.client_id for r in report.rows]
    with db.session() as session:  # refused before anything is written
        notice = plan_release(session, ids, release, CATEGORIES).notice()
    write = writer.write_xlsx if suffix == ".xlsx" else writer.write_pdf
    # the audit row and the file appear together: the rename happens inside the audit's
    # transaction, so a failed rename rolls the audit back
    with (
        filesout.audited_write(
            target, lambda p: write(report, p, notice) if notice else write(report, p)
        ) as place,
        db.session() as session,
    ):
        authorize_many(
            session,
            actor,
            ids,
            release,
            f"attendance report {report.week_start.isoformat()} ({suffix[1:]})",
            CATEGORIES,
        )
        audit.record(
            session,
            actor,
            audit.Action.EXPORT,
            entity="attendance_report",
            entity_id=report.week_start.isoformat(),
            detail=(
                f"week {report.week_start.isoformat()}..{report.week_end.isoformat()}; "
                f"format {suffix[1:]}; {len(report.rows)} rows"
                + ("; Part 2 notice" if report.has_part2 else "")
            ),
        )
        place()
    return len(report.rows)
