"""Clinic-local times as printed: one stamp ("12/03/2026 6:57 PM CST") for screens and paper.

Pure functions of a timestamp and a zone name, with no database: the report writers use them
directly and iopdesk.services.clock (the clinic's clock) re-exports them. Stored timestamps are
naive UTC; what is shown or printed is clinic-local with the zone abbreviation, never UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def utc_now() -> datetime:
    """Now as an aware UTC instant (stored timestamps, file stamps)."""
    return datetime.now(UTC)


def zone(tz_name: str | None) -> tzinfo:
    """The clinic's zone (this computer's zone when unset or unknown)."""
    if tz_name:
        try:
            return ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    local = datetime.now().astimezone().tzinfo
    return local if local is not None else UTC


def local(moment: datetime, tz_name: str | None) -> datetime:
    """A stored timestamp (naive means UTC) in the clinic's zone (an aware time without a zone
    name keeps its own zone)."""
    if moment.tzinfo is not None and not tz_name:
        return moment
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone(tz_name))


def stamp(moment: datetime, tz_name: str | None) -> str:
    """'12/03/2026 6:57 PM CST': clinic-local with the zone abbreviation."""
    t = local(moment, tz_name)
    hour = t.hour % 12 or 12
    return f"{t:%m/%d/%Y} {hour}:{t:%M} {'AM' if t.hour < 12 else 'PM'} {t.tzname() or ''}".strip()
