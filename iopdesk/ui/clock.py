"""The clinic clock for the UI: every screen's "today" is the clinic's today (issue 19 item 5).

The zone is set when a user signs in (AppContext); before that it is this computer's zone.
"""

from __future__ import annotations

from datetime import date, datetime

from PySide6.QtCore import QDate

from iopdesk.services import clock

_zone: str | None = None


def set_zone(tz_name: str | None) -> None:
    global _zone
    _zone = tz_name or None


def zone_name() -> str | None:
    return _zone


def today() -> date:
    return clock.today(_zone)


def now() -> datetime:
    return clock.now(_zone)


def qtoday() -> QDate:
    d = today()
    return QDate(d.year, d.month, d.day)


def stamp(moment: datetime) -> str:
    return clock.stamp(moment, _zone)
