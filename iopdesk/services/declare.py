"""Declare a service's permission, transaction and audit once, instead of by hand in its body.

Calibre's `db/cache.py` generates its locking wrappers with decorators; this does the same for
IOPDesk's cross-cutting work. A service is written against a session:

    @service(Perm.STAFF_MANAGE, audit=Audited(Action.CREATE, "staff", entity_id=lambda s: s.id))
    def add_staff(session: Session, actor: Actor, data: StaffInput) -> Staff: ...

and called as `add_staff(db, actor, data)`: the permission is checked before the database is
touched, the body runs in one transaction (a read-only `Database.read()` unit with
`read_only=True`), the audit row is written in that same transaction (so it commits or rolls
back with the change), and `created_by`/`updated_by` of every tracked record the body adds or
changes are filled with the acting user, in one place (`fill_tracked` below). The undecorated
body stays reachable as `add_staff.in_session(session, actor, ...)`, to compose services inside
one transaction. `database_of(session)` hands the body the database it was called with (for
what is cached per database, such as the clinic's zone behind `today_of`).

Where the audit row's ids come from:
- a callable of the body's result (`entity_id=lambda view: view.id`);
- `Arg("note_id")`: the value of one of the body's arguments;
- `about(session, client_id=..., detail=...)` called by the body, for what only the body
  learns (the client a note belongs to, what a save changed). It fills in, never replaces,
  the declared action and entity; `about(session, skip=True)` writes no row (nothing changed).
The action may itself be a callable of the result (create or update, depending on the result).

What a declaration cannot say stays explicit code in the body: permission checks that depend
on the record (caseload rules, "only the author"), and refusals that are themselves audited
(those services are writes, so the refusal's row can be committed).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from sqlalchemy import event
from sqlmodel import Session

from iopdesk.db import Database
from iopdesk.errors import PermissionDenied
from iopdesk.models import Tracked, utcnow
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.permissions import Perm, has, require

P = ParamSpec("P")
R = TypeVar("R")
ACTOR_KEY = "iopdesk_actor"
ABOUT_KEY = "iopdesk_audit_about"
CALL_KEY = "iopdesk_service_call"
DB_KEY = "iopdesk_database"


@dataclass(frozen=True)
class Arg:
    """An audit field taken from the service argument of that name."""

    name: str


@dataclass(frozen=True)
class AnyOf:
    """A permission any one of several roles' permissions grants, with its refusal."""

    perms: tuple[Perm, ...]
    message: str

    def check(self, actor: Actor) -> None:
        if not any(has(actor, p) for p in self.perms):
            raise PermissionDenied(self.message)


@dataclass(frozen=True)
class Audited(Generic[R]):
    """The audit row a service writes: action, entity, and where the ids come from."""

    action: audit.Action | Callable[[R], audit.Action]
    entity: str
    entity_id: Callable[[R], Any] | Arg | None = None
    client_id: Callable[[R], int | None] | Arg | None = None
    detail: Callable[[R], str] | Arg | None = None
    flagged: bool = False


def about(
    session: Session,
    *,
    action: audit.Action | None = None,
    entity_id: Any = None,
    client_id: int | None = None,
    detail: str | None = None,
    flagged: bool | None = None,
    skip: bool = False,
    now: bool = False,
) -> None:
    """From inside a declared service: the audit row's fields only the body knows (for the
    outermost declared service of the session, when bodies are composed with `in_session`).

    `now=True` writes the declared row at this point (before rows the rest of the body
    writes, e.g. a safety flag raised by the record just made); callables of the result are
    then not available."""
    found: dict[str, Any] = session.info.setdefault(ABOUT_KEY, {})
    given = {
        "action": action,
        "entity_id": entity_id,
        "client_id": client_id,
        "detail": detail,
        "flagged": flagged,
    }
    found.update({k: v for k, v in given.items() if v is not None})
    if skip:
        found["skip"] = True
    if now:
        call = session.info.get(CALL_KEY)
        if call is None:
            raise RuntimeError("about(now=True) outside a declared service")
        service, actor, args, kwargs = call
        service._audit(session, actor, None, args, kwargs)
        session.info[ABOUT_KEY] = {"skip": True}


def database_of(session: Session) -> Database:
    """From inside a declared service: the database it was called with, for what is cached
    per database and read before the body's own statements (the clinic's zone, `today_of`)."""
    db: Database | None = session.info.get(DB_KEY)
    if db is None:
        raise RuntimeError("database_of() outside a declared service")
    return db


def acting(session: Session, actor: Actor) -> None:
    """Name the acting user of a session opened by hand, so `fill_tracked` fills who."""
    session.info[ACTOR_KEY] = actor


class Service(Generic[P, R]):
    """A declared service: call it with (db, actor, ...); `in_session` is the bare body."""

    def __init__(
        self,
        body: Callable[Concatenate[Session, Actor, P], R],
        perm: Perm | AnyOf | None,
        audited: Audited[R] | None,
        read_only: bool,
        stamps: bool = True,
    ) -> None:
        functools.update_wrapper(self, body)
        self.in_session = body
        self.perm = perm
        self.audited = audited
        self.read_only = read_only
        self.stamps = stamps
        self._signature = inspect.signature(body)
        # What callers see (inspect, help()): (db, actor, ...), not the body's session.
        params = list(self._signature.parameters.values())
        self.__signature__ = self._signature.replace(
            parameters=[params[0].replace(name="db", annotation="Database"), *params[1:]]
        )

    def __call__(self, db: Database, actor: Actor, *args: P.args, **kwargs: P.kwargs) -> R:
        if isinstance(self.perm, AnyOf):
            self.perm.check(actor)
        elif self.perm is not None:
            require(actor, self.perm)
        unit = db.read() if self.read_only else db.session()
        with unit as session:
            if self.stamps:
                session.info[ACTOR_KEY] = actor
            session.info[DB_KEY] = db
            session.info.pop(ABOUT_KEY, None)
            session.info[CALL_KEY] = (self, actor, args, kwargs)
            result = self.in_session(session, actor, *args, **kwargs)
            if self.audited is not None:
                self._audit(session, actor, result, args, kwargs)
            return result

    def _audit(self, session: Session, actor: Actor, result: Any, args: Any, kwargs: Any) -> None:
        a = self.audited
        assert a is not None
        told: dict[str, Any] = session.info.pop(ABOUT_KEY, {})
        if told.get("skip"):
            return
        bound: dict[str, Any] | None = None

        def value(source: Any) -> Any:
            nonlocal bound
            if source is None:
                return None
            if isinstance(source, Arg):
                if bound is None:
                    b = self._signature.bind(session, actor, *args, **kwargs)
                    b.apply_defaults()
                    bound = dict(b.arguments)
                return bound[source.name]
            return source(result)

        action = told.get("action") or (
            a.action if isinstance(a.action, audit.Action) else a.action(result)
        )
        entity_id = told.get("entity_id", value(a.entity_id))
        detail = told.get("detail", value(a.detail))
        audit.record(
            session,
            actor,
            action,
            entity=a.entity,
            entity_id="" if entity_id is None else entity_id,
            client_id=told.get("client_id", value(a.client_id)),
            detail=detail or "",
            flagged=told.get("flagged", a.flagged),
        )


def service(
    perm: Perm | AnyOf | None,
    *,
    audit: Audited[Any] | None = None,
    read_only: bool = False,
    stamps: bool = True,
) -> Callable[[Callable[Concatenate[Session, Actor, P], R]], Service[P, R]]:
    """Build `f(db, actor, ...)` from `f(session, actor, ...)` (see the module docstring).
    `stamps=False`: the body stamps who and when itself (a bulk writer with one `now` for all
    its rows), so `fill_tracked` leaves its records alone."""
    if read_only and audit is not None:
        raise ValueError("a read-only service cannot write an audit row; make it a write")

    def wrap(body: Callable[Concatenate[Session, Actor, P], R]) -> Service[P, R]:
        return Service(body, perm, audit, read_only, stamps)

    return wrap


def stamp(record: Any, user_id: int | None, *, created: bool = False) -> None:
    """Who changed (and, for a new record, created) a tracked record, and when: the one
    place these columns are written for ORM records."""
    if created and record.created_by is None:
        record.created_by = user_id
    if created:
        if record.updated_by is None:
            record.updated_by = user_id
        return
    record.updated_by = user_id
    record.updated_at = utcnow()


def stamped_values(user_id: int | None) -> dict[str, Any]:
    """The same columns for a bulk UPDATE statement (records.update_versioned)."""
    return {"updated_at": utcnow(), "updated_by": user_id}


@event.listens_for(Session, "before_flush")
def fill_tracked(session: Session, _ctx: Any, _instances: Any) -> None:
    """Who created or changed a tracked record, filled from the service's acting user."""
    actor: Actor | None = session.info.get(ACTOR_KEY)
    if actor is None:
        return
    for obj in session.new:
        if isinstance(obj, Tracked):
            stamp(obj, actor.user_id, created=True)
    for obj in session.dirty:
        if isinstance(obj, Tracked) and session.is_modified(obj, include_collections=False):
            stamp(obj, actor.user_id)
