"""Summaries the database keeps up to date itself (triggers), never written by the app."""

from __future__ import annotations

from datetime import date

from sqlmodel import Field, SQLModel


class AttendanceDay(SQLModel, table=True):
    """One client's attendance on one day, over the held sessions that count toward weekly
    hours (every kind but family therapy without the client, 90846): what the weekly hours
    dashboard needs, so that it reads ~1,400 of these instead of joining a week's ~3,600
    attendance rows to their sessions.

    Kept by triggers on `attendance` and `clinic_session` (migration 0013_attendance_day), so
    every writer keeps it right: the app, the command line, another workstation, an import.
    A row exists for each (day, client) with at least one attendance row at such a session.

    - minutes: attended minutes (present, late, left_early);
    - attended: how many of those attended rows;
    - others: rows that are not an unexcused absence;
    - tail: unexcused absences after the day's last other row by start time (all of the
      day's unexcused absences when it has no other row); with `others` this gives the
      unexcused streak of a week without reading its rows.
    """

    __tablename__ = "attendance_day"
    __table_args__ = {"sqlite_with_rowid": False}

    day: date = Field(primary_key=True)
    client_id: int = Field(primary_key=True)
    minutes: int
    attended: int
    others: int
    tail: int
