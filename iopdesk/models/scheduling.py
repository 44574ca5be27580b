"""Sessions (groups and appointments), facilitators, rosters and attendance."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field

from iopdesk.models.base import Tracked


class ClinicSession(Tracked, table=True):
    """One occurrence of a group block or one booked individual/family/intake session."""

    __tablename__ = "clinic_session"

    id: int | None = Field(default=None, primary_key=True)
    external_id: str | None = Field(default=None, unique=True)  # session_id from import
    kind: str = "group"
    track_id: int | None = Field(default=None, foreign_key="track.id", index=True)
    client_id: int | None = Field(default=None, foreign_key="client.id", index=True)
    block_id: int | None = Field(default=None, foreign_key="trackblock.id")
    session_date: date = Field(index=True)
    start_time: time
    end_time: time
    location: str = ""
    telehealth: str = "no"  # no | office | home
    status: str = "scheduled"  # scheduled | held | cancelled
    cancelled_by_clinic: bool = False
    cancel_reason: str = ""
    topic: str = ""


class SessionFacilitator(Tracked, table=True):
    __table_args__ = (UniqueConstraint("session_id", "staff_id"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="clinic_session.id", index=True)
    staff_id: int = Field(foreign_key="staff.id", index=True)
    is_primary: bool = True


class RosterChange(Tracked, table=True):
    """A client added to or removed from one occurrence of a group."""

    __table_args__ = (UniqueConstraint("session_id", "client_id"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="clinic_session.id", index=True)
    client_id: int = Field(foreign_key="client.id")
    action: str  # add | remove
    reason: str = ""


class Attendance(Tracked, table=True):
    __table_args__ = (
        UniqueConstraint("session_id", "client_id"),
        # covering: a week's (or a client's) attendance is read from the index alone
        Index("ix_attendance_session_covering", "session_id", "client_id", "status", "minutes"),
        Index("ix_attendance_client_covering", "client_id", "session_id", "status", "minutes"),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="clinic_session.id")
    client_id: int = Field(foreign_key="client.id")
    status: str
    arrival_time: time | None = None
    departure_time: time | None = None
    minutes: int = 0
