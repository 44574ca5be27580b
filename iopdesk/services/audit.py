"""The audit log: append-only (database triggers) and tamper-evident (an HMAC chain).

Each row's MAC covers its own fields and the previous row's MAC, and `audit_head` holds the
last link (with its own MAC), so an altered, deleted, reordered or truncated row breaks the
chain at that row. The key is not in the database, and the head is also recorded outside it
(checkpoint file, every backup): services/integrity.py. Details never hold PHI: they name
record IDs and actions, not people or note text.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import platform
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, func, select

from iopdesk.db import Database
from iopdesk.models import AuditEvent, AuditHead, Clinic, utcnow
from iopdesk.services import integrity
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
    RECOVERY_KIT = "recovery_kit"


def _canonical(event: AuditEvent) -> bytes:
    assert event.occurred_at is not None
    return _canonical_of(
        event.id or 0,
        event.occurred_at,
        event.user_id,
        event.username,
        event.action,
        event.entity,
        event.entity_id,
        event.client_id,
        event.detail,
        event.workstation,
        event.flagged,
    )


def _canonical_of(
    event_id: int,
    occurred_at: datetime,
    user_id: int | None,
    username: str,
    action: str,
    entity: str,
    entity_id: str,
    client_id: int | None,
    detail: str,
    workstation: str,
    flagged: bool,
) -> bytes:
    fields = (
        str(event_id),
        occurred_at.isoformat(timespec="microseconds"),
        "" if user_id is None else str(user_id),
        username,
        action,
        entity,
        entity_id,
        "" if client_id is None else str(client_id),
        detail,
        workstation,
        "1" if flagged else "0",
    )
    return "\x1f".join(fields).encode("utf-8")


def compute_mac(key: bytes, prev_mac: str, event: AuditEvent) -> str:
    return _mac(key, prev_mac, _canonical(event))


def _mac(key: bytes, prev_mac: str, canonical: bytes) -> str:
    return hmac.new(key, prev_mac.encode() + b"\x1e" + canonical, hashlib.sha256).hexdigest()


# The append, as three Core statements built once: lock the head (and read the stored key id,
# which must still name the key this process holds), insert the event, move the head. Core, not
# ORM objects: the unit of work cost more than the statements.
_EVENTS = AuditEvent.__table__  # type: ignore[attr-defined]
_HEADS = AuditHead.__table__  # type: ignore[attr-defined]
_LOCK_HEAD = (
    sa.select(
        _HEADS.c.last_id,
        _HEADS.c.last_mac,
        sa.select(Clinic.__table__.c.key_id).limit(1).scalar_subquery(),  # type: ignore[attr-defined]
    )
    .where(_HEADS.c.id == 1)
    .with_for_update()
)
_INSERT_EVENT = sa.insert(_EVENTS)
_MOVE_HEAD = (
    sa.update(_HEADS)
    .where(_HEADS.c.id == 1)
    .values(
        last_id=sa.bindparam("new_id"),
        last_mac=sa.bindparam("new_mac"),
        head_mac=sa.bindparam("new_head_mac"),
    )
)
# Read by services/changes.py (which imports this module): the audit ids this process wrote.
_OWN_IDS = "iopdesk_own_audit_ids"
_OWN_BIND = "iopdesk_own_audit_bind"


@dataclass(frozen=True, slots=True)
class Recorded:
    """The event just appended (its row is written; building an ORM object cost more)."""

    id: int
    mac: str


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
) -> Recorded:
    """Append one event inside the caller's transaction (so it commits or rolls back with it)."""
    session.flush()  # the caller's pending rows first, as before
    last_id, last_mac, key_id = session.execute(_LOCK_HEAD).one()
    engine = integrity.engine_of(session)
    keys = integrity.cached_keys(engine, key_id)
    if keys is None:
        keys = integrity.clinic_keys(session)  # may seal the head and accounts (first use)
        session.flush()
    values = {
        "id": last_id + 1,
        "occurred_at": utcnow(),
        "user_id": actor.user_id if actor else None,
        "username": (actor.username if actor else (username or ""))[:64],
        "action": str(action),
        "entity": entity,
        "entity_id": "" if entity_id is None else str(entity_id),
        "client_id": client_id,
        "detail": detail[:500],
        "workstation": WORKSTATION,
        "flagged": flagged,
        "prev_mac": last_mac,
    }
    canonical = _canonical_of(
        values["id"],
        values["occurred_at"],
        values["user_id"],
        values["username"],
        values["action"],
        entity,
        values["entity_id"],
        client_id,
        values["detail"],
        WORKSTATION,
        flagged,
    )
    mac = values["mac"] = _mac(keys.key, last_mac, canonical)
    session.execute(_INSERT_EVENT, values)
    sealed = integrity.note_head(session, keys, values["id"], mac, (last_id, last_mac))
    session.execute(_MOVE_HEAD, {"new_id": values["id"], "new_mac": mac, "new_head_mac": sealed})
    stale = session.identity_map.get(identity_key(AuditHead, 1))
    if stale is not None:
        session.expire(stale)
    session.info.setdefault(_OWN_IDS, []).append(values["id"])
    session.info[_OWN_BIND] = engine
    return Recorded(values["id"], mac)


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
    # Accounts whose privilege columns were changed outside IOPDesk: (id, user name).
    tampered_users: tuple[tuple[int, str], ...] = ()
    # Anchors that were checked (checkpoint files and backups), for the report.
    anchors_checked: int = 0

    def message(self) -> str:
        lines = []
        if self.first_bad_id is None and not self.problem:
            anchors = (
                f" (chain head matches {self.anchors_checked} checkpoint/backup record"
                f"{'s' if self.anchors_checked != 1 else ''})"
                if self.anchors_checked
                else ""
            )
            if not self.tampered_users:
                return f"Audit log intact: {self.rows_checked} events verified."
            lines.append(f"Audit log intact: {self.rows_checked} events verified{anchors}.")
        elif self.first_bad_id is not None:
            lines.append(f"Audit log BROKEN at event {self.first_bad_id}: {self.problem}")
        else:
            lines.append(f"Audit log BROKEN: {self.problem}")
        for user_id, username in self.tampered_users:
            lines.append(
                f"User account '{username}' (id {user_id}) BROKEN: its roles or security "
                "settings were changed outside IOPDesk; it cannot sign in until an "
                "administrator sets its access again."
            )
        return "\n".join(lines)


def verify(db: Database) -> VerifyResult:
    """Walk the chain in id order; report the first row that does not fit, a head that was
    rewound (its own MAC, checkpoints, backups) and user accounts changed outside IOPDesk."""
    from iopdesk.services.backup import anchors_for

    recorded = anchors_for(db)  # before the session: reading settings opens its own
    with db.session() as session:
        keys = integrity.clinic_keys(session)
        head = session.get(AuditHead, 1)
        users = tuple(integrity.broken_users(session, keys.key))
        prev_mac = ""
        expected_id = 1
        count = 0
        macs: dict[int, str] = {}
        wanted = set()
        found = [a for a in recorded if a.key_id == keys.key_id]
        restores: list[tuple[datetime, int]] = []
        for a in found:
            wanted.add(a.last_id)
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
                    users,
                )
            if event.prev_mac != prev_mac:
                return VerifyResult(
                    False,
                    count,
                    event.id,
                    "its link to the previous event does not match: rows were deleted, "
                    "inserted or reordered",
                    users,
                )
            key = keys.for_event(expected_id)
            if not hmac.compare_digest(compute_mac(key, prev_mac, event), event.mac):
                return VerifyResult(False, count, event.id, "its contents were altered", users)
            if expected_id in wanted:
                macs[expected_id] = event.mac
            if event.action == Action.RESTORE and event.detail.startswith("replaced head "):
                with contextlib.suppress(ValueError):
                    restores.append((event.occurred_at, int(event.detail.split()[2])))
            prev_mac = event.mac
            expected_id += 1
            count += 1
        if head is None or head.last_id != count or head.last_mac != prev_mac:
            return VerifyResult(
                False,
                count,
                count + 1,
                "events after this point were removed (the chain head does not match)",
                users,
            )
        if not hmac.compare_digest(
            integrity.head_mac(keys.key, head.last_id, head.last_mac), head.head_mac or ""
        ):
            return VerifyResult(
                False,
                count,
                None,
                "the chain head was changed outside IOPDesk (its seal does not match): newest "
                "events may have been deleted",
                users,
            )
        for a in sorted(found, key=lambda a: -a.last_id):
            if not a.genuine(keys.key):
                return VerifyResult(
                    False, count, None, f"the {a.source} was not written by IOPDesk", users
                )
            if a.last_id <= count and macs.get(a.last_id) == a.last_mac:
                continue
            if any(
                a.at is not None and a.at <= when and a.last_id <= replaced
                for when, replaced in restores
            ):
                continue  # superseded by a recorded restore from a backup
            if a.last_id > count:
                return VerifyResult(
                    False,
                    count,
                    count + 1,
                    f"the newest events {count + 1} to {a.last_id} were deleted: the {a.source}"
                    f"{_when(a)} holds event {a.last_id}, the database ends at event {count}",
                    users,
                )
            return VerifyResult(
                False,
                count,
                a.last_id,
                f"the events up to {a.last_id} were rewritten: the {a.source}{_when(a)} holds "
                "a different event with that number",
                users,
            )
        if users:
            return VerifyResult(False, count, None, "", users, anchors_checked=len(found))
        return VerifyResult(True, count, anchors_checked=len(found))


def _when(a: integrity.Anchor) -> str:
    return f" (recorded {a.at:%Y-%m-%d %H:%M} UTC)" if a.at else ""


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
