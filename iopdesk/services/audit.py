"""The audit log: append-only (database triggers) and tamper-evident (an HMAC chain).

Each row's MAC covers its own fields and the previous row's MAC, and `audit_head` holds the
last link, so an altered, deleted, reordered or truncated row breaks the chain at that row.
Details never hold PHI: they name record IDs and actions, not people or note text.
"""

from __future__ import annotations

import hashlib
import hmac
import platform
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from sqlmodel import Session, func, select

from iopdesk.db import Database
from iopdesk.errors import DatabaseError
from iopdesk.models import AuditEvent, AuditHead, Clinic, utcnow
from iopdesk.services.actor import Actor
from iopdesk.services.permissions import Perm, require

WORKSTATION = platform.node()[:64]


class Action(StrEnum):
    """Every audit action, in one place. The values are stable strings stored in the audit
    log (reports and the audit report's filters use them): never rename one."""

    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    LOCKED_OUT = "account_locked"
    UNLOCK_SCREEN = "screen_unlock"
    SCREEN_LOCK = "screen_lock"
    CREATE = "create"
    READ = "read"
    OPEN_CHART = "open_chart"
    UPDATE = "update"
    PRINT = "print"
    EXPORT = "export"
    SETUP = "setup"
    USER_ADD = "user_add"
    USER_CHANGE = "user_change"
    PASSWORD_CHANGE = "password_change"
    SETTING_CHANGE = "setting_change"
    AUDIT_VERIFY = "audit_verify"
    AUDIT_VIEW = "audit_view"
    DENIED = "permission_denied"
    DISCLOSE = "disclosure"
    CONSENT = "consent"
    BREAK_GLASS = "break_glass"
    AMENDMENT = "amendment"
    TWO_FACTOR = "two_factor"
    BACKUP = "backup"
    BACKUP_FAILED = "backup_failed"
    RESTORE = "restore"
    SIGN = "sign"
    COSIGN = "cosign"
    VOID = "void"
    IMPORT = "import"


def _audit_key(session: Session) -> bytes:
    key = session.exec(select(Clinic.audit_key).limit(1)).first()
    if key is None:
        raise DatabaseError("The clinic has not been set up yet (run the first-start setup).")
    return bytes(key)


def _canonical(event: AuditEvent) -> bytes:
    assert event.occurred_at is not None
    fields = (
        str(event.id),
        event.occurred_at.isoformat(timespec="microseconds"),
        "" if event.user_id is None else str(event.user_id),
        event.username,
        event.action,
        event.entity,
        event.entity_id,
        "" if event.client_id is None else str(event.client_id),
        event.detail,
        event.workstation,
        "1" if event.flagged else "0",
    )
    return "\x1f".join(fields).encode("utf-8")


def compute_mac(key: bytes, prev_mac: str, event: AuditEvent) -> str:
    return hmac.new(
        key, prev_mac.encode() + b"\x1e" + _canonical(event), hashlib.sha256
    ).hexdigest()


def record(
    session: Session,
    actor: Actor | None,
    action: Action,
    *,
    entity: str = "",
    entity_id: Any = "",
    client_id: int | None = None,
    detail: str = "",
    flagged: bool = False,
    username: str | None = None,
) -> AuditEvent:
    """Append one event inside the caller's transaction (so it commits or rolls back with it)."""
    head = session.exec(select(AuditHead).where(AuditHead.id == 1).with_for_update()).one()
    key = _audit_key(session)
    event = AuditEvent(
        id=head.last_id + 1,
        occurred_at=utcnow(),
        user_id=actor.user_id if actor else None,
        username=(actor.username if actor else (username or ""))[:64],
        action=str(action),
        entity=entity,
        entity_id="" if entity_id is None else str(entity_id),
        client_id=client_id,
        detail=detail[:500],
        workstation=WORKSTATION,
        flagged=flagged,
        prev_mac=head.last_mac,
        mac="",
    )
    event.mac = compute_mac(key, head.last_mac, event)
    session.add(event)
    head.last_id = event.id or 0
    head.last_mac = event.mac
    session.add(head)
    session.flush()
    return event


def record_now(db: Database, actor: Actor | None, action: Action, **kw: Any) -> None:
    """Append one event in its own transaction (e.g. a failed sign-in that changes nothing)."""
    with db.session() as session:
        record(session, actor, action, **kw)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows_checked: int
    first_bad_id: int | None = None
    problem: str = ""

    def message(self) -> str:
        if self.ok:
            return f"Audit log intact: {self.rows_checked} events verified."
        return f"Audit log BROKEN at event {self.first_bad_id}: {self.problem}"


def verify(db: Database) -> VerifyResult:
    """Walk the chain in id order; report the first row that does not fit."""
    with db.session() as session:
        key = _audit_key(session)
        head = session.get(AuditHead, 1)
        prev_mac = ""
        expected_id = 1
        count = 0
        rows = session.exec(
            select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=2000)  # type: ignore[arg-type]
        )
        for event in rows:
            if event.id != expected_id:
                return VerifyResult(
                    False,
                    count,
                    expected_id,
                    f"event {expected_id} is missing (next present is {event.id}): "
                    "rows were deleted or renumbered",
                )
            if event.prev_mac != prev_mac:
                return VerifyResult(
                    False,
                    count,
                    event.id,
                    "its link to the previous event does not match: rows were deleted, "
                    "inserted or reordered",
                )
            if not hmac.compare_digest(compute_mac(key, prev_mac, event), event.mac):
                return VerifyResult(False, count, event.id, "its contents were altered")
            prev_mac = event.mac
            expected_id += 1
            count += 1
        if head is None or head.last_id != count or head.last_mac != prev_mac:
            return VerifyResult(
                False,
                count,
                count + 1,
                "events after this point were removed (the chain head does not match)",
            )
        return VerifyResult(True, count)


@dataclass(frozen=True)
class AuditRow:
    id: int
    occurred_at: datetime
    username: str
    action: str
    entity: str
    entity_id: str
    client_id: int | None
    detail: str
    workstation: str
    flagged: bool


def list_events(
    db: Database,
    actor: Actor,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    user_id: int | None = None,
    client_id: int | None = None,
    action: str | None = None,
    limit: int = 5000,
) -> list[AuditRow]:
    """Audit report rows, newest first. Viewing the log is itself audited."""
    require(actor, Perm.AUDIT_VIEW)
    from datetime import UTC

    with db.session() as session:
        q = select(AuditEvent)
        if date_from:
            q = q.where(AuditEvent.occurred_at >= datetime.combine(date_from, time.min, UTC))
        if date_to:
            q = q.where(AuditEvent.occurred_at <= datetime.combine(date_to, time.max, UTC))
        if user_id is not None:
            q = q.where(AuditEvent.user_id == user_id)
        if client_id is not None:
            q = q.where(AuditEvent.client_id == client_id)
        if action:
            q = q.where(AuditEvent.action == action)
        events = session.exec(q.order_by(AuditEvent.id.desc()).limit(limit)).all()  # type: ignore[union-attr]
        rows = [
            AuditRow(
                e.id or 0,
                e.occurred_at,
                e.username,
                e.action,
                e.entity,
                e.entity_id,
                e.client_id,
                e.detail,
                e.workstation,
                e.flagged,
            )
            for e in events
        ]
        record(session, actor, Action.AUDIT_VIEW, entity="audit_event", detail=f"{len(rows)} rows")
        return rows


def count_events(db: Database) -> int:
    with db.read() as session:
        return session.exec(select(func.count()).select_from(AuditEvent)).one()
