"""The Today screen's counts: what needs attention now."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlmodel import Session, col, func, select

from iopdesk.db import Database
from iopdesk.models import Client, ClinicSession, Staff, User
from iopdesk.services.actor import Actor
from iopdesk.services.clock import today_of
from iopdesk.services.permissions import Perm, has, require
from iopdesk.services.safety import RiskTask, tasks_in


@dataclass(frozen=True)
class TodaySession:
    id: int
    start: str
    end: str
    kind: str
    title: str
    status: str


@dataclass(frozen=True)
class TodaySummary:
    active_clients: int
    referrals: int
    sessions_today: list[TodaySession]
    my_unsigned_notes: int | None
    locked_accounts: int | None
    license_expiring: int | None
    awaiting_my_cosign: int | None = None
    sessions_without_note: int | None = None
    break_glass_to_review: int | None = None  # emergency chart accesses (audit viewers)
    backup_warning: str | None = None  # last good backup older than 3 days (local database)
    # suicide-risk flags and open follow-ups: the primary therapist's clients, or all for
    # supervisors (services.safety.tasks_in); None for roles without clinical access
    risk_tasks: list[RiskTask] | None = None
    amendments_overdue: int | None = None  # pending past their due date (administrators)
    # No session today (a weekend, a holiday): the next clinic day and its sessions.
    next_day: date | None = None
    next_sessions: list[TodaySession] = field(default_factory=list)


NEXT_DAY_WINDOW = 14  # days ahead to look for the next clinic day


def _sessions_on(session: Session, day: date) -> list[TodaySession]:
    from iopdesk.models import Track

    rows = session.execute(
        select(ClinicSession, Track.name, Client.last_name, Client.first_name)
        .outerjoin(Track, Track.id == ClinicSession.track_id)  # type: ignore[arg-type]
        .outerjoin(Client, Client.id == ClinicSession.client_id)  # type: ignore[arg-type]
        .where(ClinicSession.session_date == day)
        .order_by(col(ClinicSession.start_time))
    ).all()
    return [
        TodaySession(
            s.id or 0,
            s.start_time.strftime("%H:%M"),
            s.end_time.strftime("%H:%M"),
            s.kind,
            name or (f"{s.kind.title()} session: {last}, {first}" if last else s.kind.title()),
            s.status,
        )
        for s, name, last, first in rows
    ]


def summary(db: Database, actor: Actor, on: date | None = None) -> TodaySummary:
    require(actor, Perm.CENSUS_VIEW)
    from iopdesk.services.backup import stale_warning

    on = on or today_of(db)
    backup_warning = stale_warning(db)  # its own short read, before this session opens
    with db.read() as session:
        active = session.exec(
            select(func.count()).select_from(Client).where(Client.status == "active")
        ).one()
        referrals = session.exec(
            select(func.count())
            .select_from(Client)
            .where(col(Client.status).in_(["referral", "intake"]))
        ).one()
        sessions = _sessions_on(session, on)
        next_day: date | None = None
        next_sessions: list[TodaySession] = []
        if all(s.status == "cancelled" for s in sessions):
            next_day = session.exec(
                select(func.min(ClinicSession.session_date)).where(
                    ClinicSession.session_date > on,
                    ClinicSession.session_date <= on + timedelta(days=NEXT_DAY_WINDOW),
                    ClinicSession.status != "cancelled",
                )
            ).one()
            if next_day is not None:
                next_sessions = _sessions_on(session, next_day)
        unsigned = cosign = without = None
        if has(actor, Perm.CLINICAL_WRITE) and actor.staff_id is not None:
            from iopdesk.services.notes import queue_counts_in

            queues = queue_counts_in(session, actor)
            unsigned, without = queues.my_drafts, queues.sessions_without_note
            if has(actor, Perm.NOTE_COSIGN):
                cosign = queues.awaiting_my_cosign
        locked = expiring = None
        if has(actor, Perm.USERS_MANAGE):
            from iopdesk.models import utcnow

            locked = session.exec(
                select(func.count()).select_from(User).where(col(User.locked_until) > utcnow())
            ).one()
            expiring = session.exec(
                select(func.count())
                .select_from(Staff)
                .where(
                    col(Staff.license_expiry).is_not(None),
                    col(Staff.license_expiry) <= on + timedelta(days=60),
                    Staff.active,
                )
            ).one()
        break_glass = overdue = None
        if has(actor, Perm.AUDIT_VIEW):
            from iopdesk.services.amendments import count_overdue_in
            from iopdesk.services.breakglass import count_unreviewed_in

            break_glass = count_unreviewed_in(session)
            overdue = count_overdue_in(session, on)
        risk_tasks = tasks_in(session, actor)
        return TodaySummary(
            active, referrals, sessions, unsigned, locked, expiring, cosign, without, break_glass,
            backup_warning=backup_warning, risk_tasks=risk_tasks, amendments_overdue=overdue,
            next_day=next_day, next_sessions=next_sessions,
        )  # fmt: skip
