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
one transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from sqlalchemy import event
from sqlmodel import Session

from iopdesk.db import Database
from iopdesk.models import Tracked, utcnow
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.permissions import Perm, require

P = ParamSpec("P")
R = TypeVar("R")
ACTOR_KEY = "iopdesk_actor"


@dataclass(frozen=True)
class Audited(Generic[R]):
    """The audit row a service writes: action, entity, and where the ids come from."""

    action: audit.Action
    entity: str
    entity_id: Callable[[R], Any] | None = None
    client_id: Callable[[R], int | None] | None = None
    detail: Callable[[R], str] | None = None


class Service(Generic[P, R]):
    """A declared service: call it with (db, actor, ...); `in_session` is the bare body."""

    def __init__(
        self,
        body: Callable[Concatenate[Session, Actor, P], R],
        perm: Perm | None,
        audited: Audited[R] | None,
        read_only: bool,
    ) -> None:
        functools.update_wrapper(self, body)
        self.in_session = body
        self.perm = perm
        self.audited = audited
        self.read_only = read_only

    def __call__(self, db: Database, actor: Actor, *args: P.args, **kwargs: P.kwargs) -> R:
        if self.perm is not None:
            require(actor, self.perm)
        unit = db.read() if self.read_only else db.session()
        with unit as session:
            session.info[ACTOR_KEY] = actor
            result = self.in_session(session, actor, *args, **kwargs)
            a = self.audited
            if a is not None:
                audit.record(
                    session,
                    actor,
                    a.action,
                    entity=a.entity,
                    entity_id=a.entity_id(result) if a.entity_id else "",
                    client_id=a.client_id(result) if a.client_id else None,
                    detail=a.detail(result) if a.detail else "",
                )
            return result


def service(
    perm: Perm | None,
    *,
    audit: Audited[Any] | None = None,
    read_only: bool = False,
) -> Callable[[Callable[Concatenate[Session, Actor, P], R]], Service[P, R]]:
    """Build `f(db, actor, ...)` from `f(session, actor, ...)` (see the module docstring)."""
    if read_only and audit is not None:
        raise ValueError("a read-only service cannot write an audit row; make it a write")

    def wrap(body: Callable[Concatenate[Session, Actor, P], R]) -> Service[P, R]:
        return Service(body, perm, audit, read_only)

    return wrap


@event.listens_for(Session, "before_flush")
def fill_tracked(session: Session, _ctx: Any, _instances: Any) -> None:
    """Who created or changed a tracked record, filled from the service's acting user."""
    actor: Actor | None = session.info.get(ACTOR_KEY)
    if actor is None:
        return
    for obj in session.new:
        if isinstance(obj, Tracked):
            if obj.created_by is None:
                obj.created_by = actor.user_id
            if obj.updated_by is None:
                obj.updated_by = actor.user_id
    for obj in session.dirty:
        if isinstance(obj, Tracked) and session.is_modified(obj, include_collections=False):
            obj.updated_by = actor.user_id
            obj.updated_at = utcnow()
