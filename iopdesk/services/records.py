"""Shared record helpers: optimistic-concurrency updates."""

from __future__ import annotations

import hashlib
from typing import Any, TypeVar

from sqlalchemy import text
from sqlmodel import Session, SQLModel, update

from iopdesk.errors import NotFoundError, StaleRecordError
from iopdesk.services.actor import Actor
from iopdesk.services.declare import stamp, stamped_values

M = TypeVar("M", bound=SQLModel)


def update_versioned(
    session: Session,
    actor: Actor,
    model: type[M],
    record_id: Any,
    expected_version: int,
    changes: dict[str, Any],
    *,
    what: str = "This record",
) -> M:
    """Apply `changes` only if nobody saved the record since it was read at `expected_version`.

    One conditional UPDATE (WHERE version = expected) makes the check atomic on SQLite and
    PostgreSQL alike; a stale write is refused, never silently merged.
    """
    table: Any = model
    values = dict(changes)
    values["version"] = expected_version + 1
    if "updated_at" in model.model_fields:
        values.update(stamped_values(actor.user_id))
    result = session.execute(
        update(table)
        .where(table.id == record_id, table.version == expected_version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        current = session.get(model, record_id)
        if current is None:
            raise NotFoundError(f"{what} no longer exists.")
        raise StaleRecordError(what)
    obj = session.get(model, record_id, populate_existing=True)
    assert obj is not None
    return obj


def serialize(session: Session, name: str) -> None:
    """Make concurrent transactions that compute the next number (MRN, batch number) queue.

    SQLite's BEGIN IMMEDIATE already serialises writers; PostgreSQL takes a transaction-level
    advisory lock keyed by `name`.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def touch(record: Any, actor: Actor) -> None:
    """Mark an ORM record edited in place: bump its version and who/when updated it."""
    record.version += 1
    stamp(record, actor.user_id)
