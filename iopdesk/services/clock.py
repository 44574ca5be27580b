"""One clinic clock (issue 19 item 5): today, now and printed times in the clinic's time zone,
and one way to name a program week.

Stored timestamps are naive UTC (models.utcnow); everything shown or printed is clinic-local
with the zone abbreviation ("12/03/2026 6:57 PM CST"), never UTC.
"""

from __future__ import annotations

import weakref
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from iopdesk.timefmt import local as local
from iopdesk.timefmt import stamp as stamp
from iopdesk.timefmt import zone as zone

if TYPE_CHECKING:
    from iopdesk.db import Database

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def now(tz_name: str | None) -> datetime:
    return datetime.now(zone(tz_name))


def today(tz_name: str | None) -> date:
    return now(tz_name).date()


def week_start_of(day: date, week_start: str | int = "Mon") -> date:
    """The first day of the program week containing `day`."""
    if isinstance(week_start, int):
        first = week_start % 7
    else:
        first = WEEKDAY_NAMES.index(week_start) if week_start in WEEKDAY_NAMES else 0
    return day - timedelta(days=(day.weekday() - first) % 7)


def week_label(start: date) -> str:
    """'Mon 11/30 - Sun 12/06': the same words on the dashboard, the chart and reports."""
    end = start + timedelta(days=6)
    return f"{start:%a %m/%d} - {end:%a %m/%d}"


_zones: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def clinic_zone_name(db: Database) -> str:
    """The clinic's time zone name, read once per open database (update_clinic forgets it)."""
    name = _zones.get(db)
    if name is None:
        from sqlmodel import select

        from iopdesk.models import Clinic

        with db.session() as session:
            name = session.exec(select(Clinic.timezone).limit(1)).first() or ""
        _zones[db] = name
    return name


def forget_zone(db: Database) -> None:
    _zones.pop(db, None)


def today_of(db: Database) -> date:
    """Today in the clinic's time zone, for services that have no session open yet."""
    return today(clinic_zone_name(db) or None)
