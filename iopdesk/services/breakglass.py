"""Emergency access ("break the glass", HIPAA 164.312(a)(2)(ii)).

A user whose account is designated (User.break_glass_allowed, set by an administrator: a
privilege change, audited and flagged) may open a client's clinical record outside their
role or caseload after typing a reason. The access lasts `break_glass_minutes`, is flagged in
the audit log, and stays on the administrators' Today screen until one of them reviews it.
While it lasts, services.clients.can_view_clinical_in answers yes for that user and client.
The reason stays in the (encrypted) break_glass table, not in the audit detail or any log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, PermissionDenied, UserError, ValidationError
from iopdesk.models import BreakGlassAccess, Client, User, utcnow
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import get_setting_in
from iopdesk.services.declare import Audited, about, service
from iopdesk.services.permissions import Perm

MIN_REASON = 10


@dataclass(frozen=True)
class BreakGlassInfo:
    id: int
    user_id: int
    username: str
    client_id: int
    mrn: str
    client: str
    reason: str
    started_at: datetime
    expires_at: datetime
    reviewed_by: int | None
    reviewed_at: datetime | None

    def active(self, now: datetime | None = None) -> bool:
        return self.expires_at > (now or utcnow())


def is_designated(db: Database, actor: Actor) -> bool:
    with db.read() as session:
        user = session.get(User, actor.user_id)
        return bool(user and user.active and user.break_glass_allowed)


def active_in(session: Session, actor: Actor, client_id: int, now: datetime | None = None) -> bool:
    """An unexpired emergency access by this user to this client."""
    return (
        session.exec(
            select(BreakGlassAccess.id).where(
                BreakGlassAccess.user_id == actor.user_id,
                BreakGlassAccess.client_id == client_id,
                col(BreakGlassAccess.expires_at) > (now or utcnow()),
            )
        ).first()
        is not None
    )


def start(db: Database, actor: Actor, client_id: int, reason: str) -> BreakGlassInfo:
    """Open the client's chart in an emergency. Refused (and audited) for an account that is
    not designated; a reason of at least 10 characters is required."""
    reason = " ".join(reason.split())
    with db.session() as session:
        user = session.get(User, actor.user_id)
        if user is None or not user.active or not user.break_glass_allowed:
            audit.record(
                session,
                actor,
                audit.Action.DENIED,
                entity="break_glass",
                client_id=client_id,
                detail="emergency access refused: account not designated",
                flagged=True,
            )
            session.commit()
            raise PermissionDenied(
                "Your account is not designated for emergency access. Ask a supervisor or an "
                "administrator to open the chart."
            )
        if len(reason) < MIN_REASON:
            raise ValidationError(
                "Say why you need emergency access (at least 10 characters); the reason is "
                "reviewed by an administrator.",
                {"reason": "Give the reason."},
            )
        client = session.get(Client, client_id)
        if client is None:
            raise NotFoundError("That client record does not exist.")
        minutes = int(get_setting_in(session, "break_glass_minutes"))
        now = utcnow()
        access = BreakGlassAccess(
            user_id=actor.user_id,
            client_id=client_id,
            reason=reason[:1000],
            started_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
        session.add(access)
        session.flush()
        audit.record(
            session,
            actor,
            audit.Action.BREAK_GLASS,
            entity="break_glass",
            entity_id=access.id,
            client_id=client_id,
            detail=f"emergency access for {minutes} min",
            flagged=True,
        )
        return _info(access, user.username, client)


def end(db: Database, actor: Actor, access_id: int) -> None:
    """Close one's own emergency access before it runs out."""
    with db.session() as session:
        access = session.get(BreakGlassAccess, access_id)
        if access is None or access.user_id != actor.user_id:
            raise NotFoundError("That emergency access does not exist.")
        now = utcnow()
        if access.expires_at > now:
            access.expires_at = now
            session.add(access)
            audit.record(
                session,
                actor,
                audit.Action.BREAK_GLASS,
                entity="break_glass",
                entity_id=access_id,
                client_id=access.client_id,
                detail="emergency access ended by user",
            )


def _info(a: BreakGlassAccess, username: str, client: Client) -> BreakGlassInfo:
    return BreakGlassInfo(
        id=a.id or 0,
        user_id=a.user_id,
        username=username,
        client_id=a.client_id,
        mrn=client.mrn,
        client=f"{client.last_name}, {client.first_name}",
        reason=a.reason,
        started_at=a.started_at,
        expires_at=a.expires_at,
        reviewed_by=a.reviewed_by,
        reviewed_at=a.reviewed_at,
    )


@service(Perm.AUDIT_VIEW, read_only=True)
def list_accesses(
    session: Session, actor: Actor, *, unreviewed_only: bool = True, limit: int = 500
) -> list[BreakGlassInfo]:
    """Emergency accesses for the administrators' review, newest first."""
    q = (
        select(BreakGlassAccess, User.username, Client)
        .join(User, User.id == BreakGlassAccess.user_id)  # type: ignore[arg-type]
        .join(Client, Client.id == BreakGlassAccess.client_id)  # type: ignore[arg-type]
    )
    if unreviewed_only:
        q = q.where(col(BreakGlassAccess.reviewed_at).is_(None))
    rows = session.exec(q.order_by(col(BreakGlassAccess.started_at).desc()).limit(limit))
    return [_info(a, username, client) for a, username, client in rows.all()]


def count_unreviewed_in(session: Session) -> int:
    from sqlmodel import func

    return int(
        session.exec(
            select(func.count())
            .select_from(BreakGlassAccess)
            .where(col(BreakGlassAccess.reviewed_at).is_(None))
        ).one()
    )


@service(Perm.AUDIT_VIEW, audit=Audited(audit.Action.BREAK_GLASS, "break_glass"))
def mark_reviewed(session: Session, actor: Actor, access_id: int) -> None:
    access = session.get(BreakGlassAccess, access_id)
    if access is None:
        raise NotFoundError("That emergency access does not exist.")
    if access.reviewed_at is not None:
        raise UserError("This emergency access was already reviewed.")
    access.reviewed_by = actor.user_id
    access.reviewed_at = utcnow()
    session.add(access)
    about(session, entity_id=access_id, client_id=access.client_id, detail="reviewed")


@service(Perm.USERS_MANAGE, audit=Audited(audit.Action.USER_CHANGE, "app_user", flagged=True))
def set_designated(session: Session, actor: Actor, user_id: int, allowed: bool) -> None:
    """Give or take away emergency access: a privilege change, audited and flagged."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("That user account does not exist.")
    if user.break_glass_allowed == allowed:
        about(session, skip=True)
        return
    user.break_glass_allowed = allowed
    user.version += 1
    session.add(user)
    about(session, entity_id=user_id, detail=f"break_glass_allowed={allowed}")


@service(Perm.USERS_MANAGE, read_only=True)
def designated_users(session: Session, actor: Actor) -> set[int]:
    return {
        uid
        for uid in session.exec(
            select(User.id).where(col(User.break_glass_allowed), col(User.active))
        ).all()
        if uid is not None
    }
