"""The clinic clock for the UI: every screen's "today" is the clinic's today (issue 19 item 5).

There is one clock, iopdesk.services.clock; this module only names it for the screens and adds
Qt's date. The zone is set when a user signs in (AppContext); before that it is this computer's.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QDate

from iopdesk.services import clock
from iopdesk.services.clock import current_now as now
from iopdesk.services.clock import current_today as today
from iopdesk.services.clock import set_zone, utc_now, zone_name

__all__ = [
    "clinic_time",
    "now",
    "qtoday",
    "set_zone",
    "stamp",
    "today",
    "utc_now",
    "zone_name",
]


def qtoday() -> QDate:
    d = today()
    return QDate(d.year, d.month, d.day)


def stamp(moment: datetime) -> str:
    return clock.stamp(moment, zone_name())


def clinic_time(moment: datetime) -> datetime:
    """A stored timestamp (UTC) as the clinic's wall-clock time, for screens that format it
    themselves (never this computer's zone, which a server or a laptop may not share)."""
    return clock.local(moment, zone_name())
