"""'Something changed on another workstation': so screens refresh without anyone pressing F5.

PostgreSQL: every committing transaction that wrote clinic data sends NOTIFY on one channel,
inside the same transaction (so a rolled-back change is never announced and a committed one
always is). The payload names only the tables and the sending workstation, never client data.
A `ChangeListener` on another workstation LISTENs on its own connection.

SQLite (one workstation, but the command line can write while the app is open): polling the
newest audit id of a data-changing action.

Connection loss is reported (so the app can show a banner) and the listener reconnects by
itself on the next poll.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import ORMExecuteState, Session

from iopdesk.db import Database
from iopdesk.services.audit import Action

log = logging.getLogger(__name__)

CHANNEL = "iopdesk_changes"
ORIGIN = f"{socket.gethostname()}:{os.getpid()}"
IGNORED_TABLES = frozenset({"audit_event", "audit_head"})
# Audit actions that change nothing a screen shows (reads, sign-ins, locks).
QUIET_ACTIONS = tuple(
    a.value
    for a in (
        Action.READ,
        Action.OPEN_CHART,
        Action.LOGIN,
        Action.LOGIN_FAILED,
        Action.LOGOUT,
        Action.SCREEN_LOCK,
        Action.UNLOCK_SCREEN,
        Action.PRINT,
        Action.EXPORT,
        Action.AUDIT_VIEW,
        Action.AUDIT_VERIFY,
        Action.DENIED,
        Action.BACKUP,
        Action.BACKUP_FAILED,
    )
)
_KEY = "iopdesk_changed_tables"
_AUDIT_KEY = "iopdesk_own_audit_ids"
_BIND_KEY = "iopdesk_own_audit_bind"


@dataclass(frozen=True)
class Change:
    tables: frozenset[str]
    origin: str = ""

    @property
    def from_elsewhere(self) -> bool:
        return self.origin != ORIGIN


@dataclass
class PollResult:
    changes: list[Change] = field(default_factory=list)
    connected: bool = True
    message: str = ""

    @property
    def tables(self) -> frozenset[str]:
        out: set[str] = set()
        for c in self.changes:
            out |= c.tables
        return frozenset(out)


# -- sending (PostgreSQL) ---------------------------------------------------------------------


def _is_postgres(session: Session) -> bool:
    bind = session.get_bind()
    return bind.dialect.name == "postgresql"


def _note(session: Session, tables: set[str]) -> None:
    tables -= IGNORED_TABLES
    if tables:
        session.info.setdefault(_KEY, set()).update(tables)


# -- what this process changed (every backend) --------------------------------------------
# A commit records the tables it wrote into the collector of the thread that committed it (the
# op runner opens one around each background operation, so a screen learns exactly what its
# own operation changed), and the audit ids it wrote, per database (so the SQLite poll can
# tell this workstation's saves from another process's).
_local = threading.local()
_OWN_MAX = 20_000
_own: dict[tuple[str, str, str], tuple[deque[int], set[int]]] = {}
_own_lock = threading.Lock()


def _db_key(url: Any) -> tuple[str, str, str]:
    """Which database (not which connection): audit ids are only comparable within one."""
    return (str(url.host or ""), str(url.port or ""), str(url.database or ""))


def _remember_own(key: tuple[str, str, str], ids: list[int]) -> None:
    with _own_lock:
        order, members = _own.setdefault(key, (deque(), set()))
        for audit_id in ids:
            if len(order) >= _OWN_MAX:
                members.discard(order.popleft())
            order.append(audit_id)
            members.add(audit_id)


def is_own_audit_id(db: Database, audit_id: int) -> bool:
    """Did this process write that audit event (in that database)?"""
    with _own_lock:
        entry = _own.get(_db_key(db.engine.url))
        return entry is not None and audit_id in entry[1]


def own_audit_ids(db: Database) -> list[int]:
    """The audit ids this process wrote into that database (a worker process hands them back
    to the app, so the app's change poll does not take its own export for another
    workstation's save)."""
    with _own_lock:
        entry = _own.get(_db_key(db.engine.url))
        return list(entry[0]) if entry is not None else []


def adopt(db: Database, tables: frozenset[str] | set[str], audit_ids: list[int]) -> None:
    """Take a worker process's commits as this process's own: its audit ids are not news to
    the change poll, and its tables go to the collector of this thread (the op's)."""
    if audit_ids:
        _remember_own(_db_key(db.engine.url), audit_ids)
    collector: set[str] | None = getattr(_local, "tables", None)
    if collector is not None:
        collector |= set(tables) - IGNORED_TABLES


@contextmanager
def collect() -> Iterator[set[str]]:
    """Collect the tables committed by this thread inside the block (nested blocks share)."""
    outer: set[str] | None = getattr(_local, "tables", None)
    mine: set[str] = set()
    _local.tables = mine
    try:
        yield mine
    finally:
        _local.tables = outer
        if outer is not None:
            outer |= mine


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _ctx: Any) -> None:
    touched = {
        getattr(obj, "__tablename__", "")
        for obj in (*session.new, *session.dirty, *session.deleted)
    }
    _note(session, {t for t in touched if t})
    ids = [
        obj.id
        for obj in session.new
        if getattr(obj, "__tablename__", "") == "audit_event" and getattr(obj, "id", None)
    ]
    if ids:
        session.info.setdefault(_AUDIT_KEY, []).extend(ids)
        session.info[_BIND_KEY] = session.get_bind()


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", "")
    if name:
        _note(state.session, {name})


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()  # so after_flush sees what this commit writes
    if not _is_postgres(session):
        return
    tables = session.info.get(_KEY)
    if not tables:
        return
    payload = json.dumps({"t": sorted(tables)[:50], "o": ORIGIN})
    # NOTIFY is transactional: delivered when (and only if) this transaction commits.
    session.execute(text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": payload})


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    tables = session.info.pop(_KEY, None)
    ids = session.info.pop(_AUDIT_KEY, None)
    if ids:
        bind = session.info.pop(_BIND_KEY, None)
        if bind is not None:
            _remember_own(_db_key(bind.url), ids)
    collector: set[str] | None = getattr(_local, "tables", None)
    if tables and collector is not None:
        collector |= tables


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)
    session.info.pop(_AUDIT_KEY, None)
    session.info.pop(_BIND_KEY, None)


def install() -> None:
    """Importing this module installs the listeners; called when a PostgreSQL database opens."""


# -- receiving --------------------------------------------------------------------------------


class ChangeListener:
    """Poll for changes made elsewhere. Never raises on connection loss: it says so."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.postgres = db.backend == "postgresql"
        self._conn: Any = None
        self._last_audit: int | None = None
        self._next_retry = 0.0
        if not self.postgres:
            self._last_audit = self._sqlite_marker()

    # PostgreSQL -----------------------------------------------------------------------
    def _connect(self) -> None:
        import psycopg

        url = self.db.engine.url
        self._conn = psycopg.connect(
            host=url.host or None,
            port=url.port or None,
            user=url.username or None,
            password=url.password or None,
            dbname=url.database or None,
            autocommit=True,
            connect_timeout=5,
        )
        self._conn.execute(f"LISTEN {CHANNEL}")

    def _pg_poll(self, timeout: float) -> PollResult:
        if self._conn is None or self._conn.closed:
            if time.monotonic() < self._next_retry:
                return PollResult(connected=False, message=_LOST)
            try:
                self._connect()
            except Exception as exc:
                log.warning("change listener cannot connect: %s", type(exc).__name__)
                self._conn = None
                self._next_retry = time.monotonic() + 5.0
                return PollResult(connected=False, message=_LOST)
        changes = []
        try:
            for note in self._conn.notifies(timeout=timeout):
                changes.append(_parse(note.payload))
            self._conn.execute("SELECT 1")  # notices a dead connection even when idle
        except Exception as exc:
            log.warning("change listener lost its connection: %s", type(exc).__name__)
            self.close()
            self._next_retry = 0.0
            return PollResult(changes=changes, connected=False, message=_LOST)
        return PollResult(changes=changes)

    # SQLite ---------------------------------------------------------------------------
    def _sqlite_marker(self) -> int:
        quiet = ", ".join(f"'{a}'" for a in QUIET_ACTIONS)
        with self.db.engine.connect() as conn:
            value = conn.execute(
                text(f"SELECT max(id) FROM audit_event WHERE action NOT IN ({quiet})")
            ).scalar()
        return int(value or 0)

    def _sqlite_poll(self) -> PollResult:
        """New data-changing audit events since the last poll; this process's own are not news."""
        quiet = ", ".join(f"'{a}'" for a in QUIET_ACTIONS)
        last = self._last_audit or 0
        try:
            with self.db.engine.connect() as conn:
                ids = [
                    int(i)
                    for i in conn.execute(
                        text(
                            f"SELECT id FROM audit_event WHERE id > :last "
                            f"AND action NOT IN ({quiet}) ORDER BY id"
                        ),
                        {"last": last},
                    ).scalars()
                ]
        except Exception as exc:
            log.warning("change polling failed: %s", type(exc).__name__)
            return PollResult(connected=False, message="The database cannot be read right now.")
        if not ids:
            return PollResult()
        self._last_audit = ids[-1]
        foreign = [i for i in ids if not is_own_audit_id(self.db, i)]
        origin = "" if foreign else ORIGIN
        return PollResult(changes=[Change(frozenset({"*"}), origin=origin)])

    # ----------------------------------------------------------------------------------
    def poll(self, timeout: float = 0.0) -> PollResult:
        """Changes since the last poll (waiting up to `timeout` seconds for the first)."""
        if self.postgres:
            return self._pg_poll(timeout)
        return self._sqlite_poll()

    def wait(self, timeout: float) -> list[Change]:
        """Block until a change from elsewhere arrives (tests, scripts); [] on timeout."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return []
            result = self.poll(min(left, 0.5) if self.postgres else 0.0)
            mine = [c for c in result.changes if c.from_elsewhere]
            if mine:
                return mine
            if not self.postgres:
                time.sleep(min(0.2, max(0.0, end - time.monotonic())))

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                log.debug("closing the change listener failed")
            self._conn = None


_LOST = (
    "The connection to the clinic database server was lost. Reconnecting... What you have "
    "typed is kept; save again once the connection is back."
)


def _parse(payload: str) -> Change:
    try:
        data = json.loads(payload)
        return Change(frozenset(str(t) for t in data.get("t", [])), str(data.get("o", "")))
    except (ValueError, AttributeError):
        return Change(frozenset({"*"}))
