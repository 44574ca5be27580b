"""Shared column types and mixins for every table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from iopdesk.timefmt import utc_now


def utcnow() -> datetime:
    return utc_now()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC instants on every backend.

    SQLite has no time zone type, so values are stored as naive UTC and re-tagged on the way
    out; PostgreSQL stores timestamptz. Naive input is refused: it is always a bug.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC timestamp column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - defensive, SQLite returns datetime
            value = datetime.fromisoformat(value)
        result: datetime = value
        if result.tzinfo is None:
            return result.replace(tzinfo=UTC)
        return result.astimezone(UTC)


def ts_field(nullable: bool = True, **kw: Any) -> Any:
    """A UTC timestamp column (audit and record-keeping times)."""
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, **kw)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kw)


class Tracked(SQLModel):
    """Who created/updated a record and when, plus a version for optimistic concurrency."""

    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: int | None = Field(default=None)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: int | None = Field(default=None)
    version: int = Field(default=1)


class Voidable(SQLModel):
    """Records are never hard-deleted: they are voided with a reason."""

    voided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    voided_by: int | None = Field(default=None)
    void_reason: str | None = Field(default=None)
