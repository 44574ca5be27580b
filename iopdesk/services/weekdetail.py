"""One client's program week explained (issue 19 item 13): the sessions that counted, what
happened at each (attended, missed, cancelled, still to come) and, for a client on hold, the
hold and its reason, so a "not met" week can be understood and acted on from the chart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta

from sqlmodel import Session, col, or_, select

from iopdesk.db import Database
from iopdesk.models import Attendance, Client, ClinicSession, StatusChange, Track, TrackEnrollment
from iopdesk.services.actor import Actor
from iopdesk.services.hours import week_bounds
from iopdesk.services.permissions import Perm, require

ATTENDED = ("present", "late", "left_early")


@dataclass(frozen=True)
class WeekSession:
    day: date
    start: time
    end: time
    title: str
    session_status: str  # scheduled | held | cancelled
    attendance: str  # present, late, ... or "" when not recorded
    minutes: int

    @property
    def outcome(self) -> str:
        if self.session_status == "cancelled":
            return "cancelled"
        if self.attendance in ATTENDED:
            return "attended"
        if self.attendance.startswith("absent"):
            return "missed"
        return "to come" if self.session_status == "scheduled" else "not recorded"


@dataclass(frozen=True)
class WeekDetail:
    week_start: date
    sessions: list[WeekSession]
    on_hold: bool
    hold_reason: str

    def count(self, outcome: str) -> int:
        return sum(1 for s in self.sessions if s.outcome == outcome)

    @property
    def scheduled(self) -> int:
        return sum(1 for s in self.sessions if s.session_status != "cancelled")

    def summary(self) -> str:
        end = self.week_start + timedelta(days=6)
        parts = [
            f"Week {self.week_start:%a %m/%d} - {end:%a %m/%d}: {self.scheduled} session(s) "
            f"scheduled, {self.count('attended')} attended, {self.count('missed')} missed, "
            f"{self.count('cancelled')} cancelled"
        ]
        if self.count("to come"):
            parts.append(f"{self.count('to come')} still to come")
        if self.count("not recorded"):
            parts.append(f"{self.count('not recorded')} without attendance recorded")
        text = ", ".join(parts) + "."
        if self.on_hold:
            text += " On hold" + (f": {self.hold_reason}" if self.hold_reason else "") + "."
        return text


def week_detail(db: Database, actor: Actor, client_id: int, day: date) -> WeekDetail:
    """The week containing `day` explained for one client (the chart's Attendance section:
    minimum necessary applies, and a refused read is audited)."""
    from iopdesk.services.clients import ChartSection, require_section_in

    require(actor, Perm.CENSUS_VIEW)
    with db.session() as session:
        require_section_in(session, actor, client_id, ChartSection.ATTENDANCE, entity="client")
        return week_detail_in(session, client_id, day)


def week_detail_in(session: Session, client_id: int, day: date) -> WeekDetail:
    """week_detail inside the caller's transaction (its permission checks already made)."""
    first, last = week_bounds(session, day)
    client = session.get(Client, client_id)
    enrollments = session.exec(
        select(TrackEnrollment).where(
            TrackEnrollment.client_id == client_id,
            col(TrackEnrollment.voided_at).is_(None),
            TrackEnrollment.start_date <= last,
            or_(
                col(TrackEnrollment.end_date).is_(None),
                col(TrackEnrollment.end_date) >= first,
            ),
        )
    ).all()
    tracks = {e.track_id for e in enrollments}
    rows = session.execute(
        select(ClinicSession, Track.name)
        .outerjoin(Track, col(Track.id) == ClinicSession.track_id)
        .where(
            ClinicSession.session_date >= first,
            ClinicSession.session_date <= last,
            or_(
                ClinicSession.client_id == client_id,
                col(ClinicSession.track_id).in_(tracks or {-1}),
            ),
        )
        .order_by(col(ClinicSession.session_date), col(ClinicSession.start_time))
    ).all()
    marks = {
        a.session_id: (a.status, a.minutes)
        for a in session.exec(
            select(Attendance).where(
                Attendance.client_id == client_id,
                col(Attendance.session_id).in_([s.id for s, _ in rows] or [-1]),
            )
        )
    }

    def enrolled(s: ClinicSession) -> bool:
        return any(
            e.track_id == s.track_id
            and e.start_date <= s.session_date
            and (e.end_date is None or e.end_date >= s.session_date)
            for e in enrollments
        )

    sessions = [
        WeekSession(
            s.session_date,
            s.start_time,
            s.end_time,
            name or s.kind.title(),
            s.status,
            marks.get(s.id, ("", 0))[0],
            int(marks.get(s.id, ("", 0))[1] or 0),
        )
        for s, name in rows
        if s.client_id == client_id or enrolled(s) or s.id in marks
    ]
    on_hold = client is not None and client.status == "on_hold"
    reason = ""
    if on_hold:
        change = session.exec(
            select(StatusChange)
            .where(StatusChange.client_id == client_id, StatusChange.to_status == "on_hold")
            .order_by(col(StatusChange.effective_date).desc(), col(StatusChange.id).desc())
        ).first()
        reason = change.reason if change else ""
    return WeekDetail(first, sessions, on_hold, reason)
