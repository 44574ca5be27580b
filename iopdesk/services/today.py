"""The Today screen's counts: what needs attention now."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import literal as sa_literal
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from iopdesk.db import Database
from iopdesk.models import Client, ClinicSession, Staff, User
from iopdesk.services.actor import Actor
from iopdesk.services.clock import clinic_zone_name, today_of
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
    # Clients at risk of missing this week's hours (a client on hold is paused, not at risk)
    at_risk: int = 0
    # Authorizations running low or ending soon (services.authorizations.statuses warnings)
    auth_warnings: list[Any] = field(default_factory=list)
    # Treatment plan reviews due / overdue and the reviews themselves; None: not a clinician
    plan_reviews: Any = None
    plan_review_rows: list[Any] = field(default_factory=list)
    # the emergency accesses to review and the overdue amendment requests (when any)
    break_glass_rows: list[Any] = field(default_factory=list)
    amendment_rows: list[Any] = field(default_factory=list)


NEXT_DAY_WINDOW = 14  # days ahead to look for the next clinic day


def _sessions_from(session: Session, on: date) -> dict[date, list[TodaySession]]:
    """The sessions of `on` and of the NEXT_DAY_WINDOW days after it, by day: one query."""
    from iopdesk.models import Track

    rows = session.execute(
        select(ClinicSession, Track.name, Client.last_name, Client.first_name)
        .outerjoin(Track, Track.id == ClinicSession.track_id)  # type: ignore[arg-type]
        .outerjoin(Client, Client.id == ClinicSession.client_id)  # type: ignore[arg-type]
        .where(
            ClinicSession.session_date >= on,
            ClinicSession.session_date <= on + timedelta(days=NEXT_DAY_WINDOW),
        )
        .order_by(col(ClinicSession.session_date), col(ClinicSession.start_time))
    ).all()
    days: dict[date, list[TodaySession]] = {}
    for s, name, last, first in rows:
        days.setdefault(s.session_date, []).append(
            TodaySession(
                s.id or 0,
                s.start_time.strftime("%H:%M"),
                s.end_time.strftime("%H:%M"),
                s.kind,
                name or (f"{s.kind.title()} session: {last}, {first}" if last else s.kind.title()),
                s.status,
            )
        )
    return days


def summary(db: Database, actor: Actor, on: date | None = None) -> TodaySummary:
    """Everything the Today screen shows, in a fixed handful of statements (a clinic server
    over the network pays a round trip for each): the counts in one query, the sessions of
    the next two weeks in one, the week's hours, authorization warnings and plan reviews.
    Checked by hand, not declared: the backup warning and the week's hours are their own short
    reads, made before this read opens (a declared read would hold its connection meanwhile)."""
    require(actor, Perm.CENSUS_VIEW)
    from iopdesk.services import authorizations, hours, plans
    from iopdesk.services.backup import stale_warning

    on = on or today_of(db)
    backup_warning = stale_warning(db)  # its own short read, before this session opens
    week = hours.weekly_hours(db, actor, on)
    at_risk_ids = sorted({r.client_id for r in week if r.projection == "at risk"})
    zone = clinic_zone_name(db)  # read once per database (before this session opens)
    with db.read() as session:
        session.info["clinic_tz"] = zone
        counts: dict[str, Any] = {
            # the authorization warning thresholds, as stored (services.authorizations)
            "warn_units": _stored("auth_warn_units"),
            "warn_days": _stored("auth_warn_days"),
            "active": _count(Client, Client.status == "active"),
            "referrals": _count(Client, col(Client.status).in_(["referral", "intake"])),
            "held_at_risk": _count(
                Client, Client.status == "on_hold", col(Client.id).in_(at_risk_ids)
            )
            if at_risk_ids
            else sa_literal(0),
        }
        clinician = has(actor, Perm.CLINICAL_WRITE) and actor.staff_id is not None
        if clinician:
            from iopdesk.services import notes

            counts["drafts"] = notes.drafts_count_sql(actor)
            if has(actor, Perm.NOTE_COSIGN):
                counts["cosign"] = notes.cosign_count_sql(actor)
        users = has(actor, Perm.USERS_MANAGE)
        auditor = has(actor, Perm.AUDIT_VIEW)
        if users:
            from iopdesk.models import utcnow

            counts["locked"] = _count(User, col(User.locked_until) > utcnow())
            counts["expiring"] = _count(
                Staff,
                col(Staff.license_expiry).is_not(None),
                col(Staff.license_expiry) <= on + timedelta(days=60),
                Staff.active,
            )
        if auditor:
            from iopdesk.models import AmendmentRequest, BreakGlassAccess

            counts["break_glass"] = _count(
                BreakGlassAccess, col(BreakGlassAccess.reviewed_at).is_(None)
            )
            counts["overdue"] = _count(
                AmendmentRequest,
                AmendmentRequest.status == "pending",
                col(AmendmentRequest.due_date) < on,
            )
        got = dict(
            zip(
                counts,
                session.execute(sa_select(*[c.label(k) for k, c in counts.items()])).one(),
                strict=True,
            )
        )
        days = _sessions_from(session, on)
        sessions = days.get(on, [])
        next_day: date | None = None
        next_sessions: list[TodaySession] = []
        if all(s.status == "cancelled" for s in sessions):
            later = [
                d
                for d, rows in sorted(days.items())
                if d > on and any(s.status != "cancelled" for s in rows)
            ]
            if later:
                next_day = later[0]
                next_sessions = days[next_day]
        unsigned = cosign = without = None
        if clinician:
            from iopdesk.services.notes import queue_counts_in

            queues = queue_counts_in(session, actor, got)
            unsigned, without = queues.my_drafts, queues.sessions_without_note
            if has(actor, Perm.NOTE_COSIGN):
                cosign = queues.awaiting_my_cosign
        risk_tasks = tasks_in(session, actor, on)
    break_glass_rows: list[Any] = []
    amendment_rows: list[Any] = []
    if auditor and got["break_glass"]:
        from iopdesk.services import breakglass

        break_glass_rows = list(breakglass.list_accesses(db, actor))
    if auditor and got["overdue"]:
        from iopdesk.services import amendments

        amendment_rows = list(amendments.list_overdue(db, actor))
    reviews = plans.review_summary(db, actor, on)
    return TodaySummary(
        got["active"],
        got["referrals"],
        sessions,
        unsigned,
        got.get("locked"),
        got.get("expiring"),
        cosign,
        without,
        got.get("break_glass"),
        backup_warning=backup_warning,
        risk_tasks=risk_tasks,
        amendments_overdue=got.get("overdue"),
        next_day=next_day,
        next_sessions=next_sessions,
        at_risk=len(at_risk_ids) - int(got["held_at_risk"]),
        auth_warnings=authorizations.statuses(
            db, actor, on=on, warnings_only=True, thresholds=(got["warn_units"], got["warn_days"])
        ),
        plan_reviews=reviews[0] if reviews else None,
        plan_review_rows=reviews[1] if reviews else [],
        break_glass_rows=break_glass_rows,
        amendment_rows=amendment_rows,
    )


def _stored(key: str) -> Any:
    from iopdesk.models import Setting

    return sa_select(col(Setting.value)).where(col(Setting.key) == key).scalar_subquery()


def _count(table: Any, *where: Any) -> Any:
    """(SELECT count(*) FROM table WHERE ...) as a column of the one counts query."""
    return sa_select(func.count()).select_from(table).where(*where).scalar_subquery()
