"""The one clock (issue 19 item 5, issue 18 item 7): today, now and printed times in the clinic's
time zone, and one way to name a program week. Nothing else in iopdesk reads the computer's
clock (`date.today()`, `datetime.now()`): tests/test_rooms.py holds that.

- `today(tz)` / `now(tz)`: in a named zone; `today_of(db)` / `now_of(db)`: in the clinic's zone.
- `current_today()` / `current_now()`: the signed-in clinic's (the UI sets the zone at sign-in
  with `set_zone`; before that, and on the command line, this computer's zone).
- `utc_now()`: an aware UTC instant, for stored timestamps and file stamps.

Stored timestamps are UTC (models.utcnow); everything shown or printed is clinic-local with the
zone abbreviation ("12/03/2026 6:57 PM CST"), never UTC.
"""

from __future__ import annotations

import weakref
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from iopdesk.timefmt import local as local
from iopdesk.timefmt import stamp as stamp
from iopdesk.timefmt import utc_now as utc_now
from iopdesk.timefmt import zone as zone

if TYPE_CHECKING:
    from iopdesk.db import Database

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def now(tz_name: str | None) -> datetime:
    return datetime.now(zone(tz_name))


_current: str | None = None  # the signed-in clinic's zone in this process


def set_zone(tz_name: str | None) -> None:
    """The signed-in clinic's zone (the UI calls this at sign-in)."""
    global _current
    _current = tz_name or None


def zone_name() -> str | None:
    return _current


def current_now() -> datetime:
    """Now for the signed-in clinic (this computer's zone before anyone signed in)."""
    return now(_current)


def current_today() -> date:
    """Today for the signed-in clinic: for checks that have no database at hand."""
    return today(_current)


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
        if name:  # before the clinic is set up there is nothing to remember yet
            _zones[db] = name
    return name


def forget_zone(db: Database) -> None:
    _zones.pop(db, None)


def today_of(db: Database) -> date:
    """Today in the clinic's time zone, for services that have no session open yet."""
    return today(clinic_zone_name(db) or None)


def now_of(db: Database) -> datetime:
    """Now in the clinic's time zone (aware)."""
    return now(clinic_zone_name(db) or None)
