"""The weekly hours rows and the attendance report, as the attendance writers read them.

Plain data built by iopdesk.services.hours and read by the writers in iopdesk.reports; the
services import these types from here (reports never import services).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

MET = "met"
NOT_MET = "not met"
NO_REQUIREMENT = "no requirement"
STATUSES = (MET, NOT_MET, NO_REQUIREMENT)
_TWO_PLACES = Decimal("0.01")


def minutes_to_hours(minutes: int | None) -> Decimal | None:
    """Minutes as hours with 2 decimal places (half up): 113 -> 1.88."""
    if minutes is None:
        return None
    return (Decimal(minutes) / 60).quantize(_TWO_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class WeekRow:
    """One client's week. Minutes are whole minutes; hours are derived for display."""

    client_id: int
    mrn: str
    client: str  # "Last, First"
    track: str  # track name(s) that week, joined ", " in enrollment order
    therapist: str  # primary therapist that week ("First Last, CRED") or ""
    required_minutes: int | None  # None: no requirement (0 counted program days)
    attended_minutes: int
    status: str  # "met" | "not met" | "no requirement"
    projection: str | None  # "on track" | "at risk" for the current week, else None
    remaining_minutes: int  # scheduled minutes still to come this week (0 for past weeks)
    unexcused_streak: int  # consecutive unexcused absences as of the end of the week
    part2: bool = False  # the client's record falls under 42 CFR Part 2
    week_start: date | None = None
    required_days: int | None = None  # None: no day minimum this week
    attended_days: int = 0  # days with attendance at any held session

    @property
    def required_hours(self) -> Decimal | None:
        return minutes_to_hours(self.required_minutes)

    @property
    def attended_hours(self) -> Decimal:
        hours = minutes_to_hours(self.attended_minutes)
        assert hours is not None
        return hours

    @property
    def remaining_hours(self) -> Decimal:
        hours = minutes_to_hours(self.remaining_minutes)
        assert hours is not None
        return hours

    @property
    def streak_flag(self) -> bool:
        """Two or more unexcused absences in a row: worth a call to the client."""
        return self.unexcused_streak >= 2


@dataclass(frozen=True)
class AttendanceReport:
    """Plain data for the report writers in iopdesk.reports.attendance."""

    clinic_name: str
    clinic_address: str
    clinic_phone: str
    week_start: date
    week_end: date
    rows: list[WeekRow]
    generated_at: datetime | None = None
    part2: bool = False  # force the 42 CFR Part 2 notice even without a Part 2 row

    @property
    def has_part2(self) -> bool:
        return self.part2 or any(r.part2 for r in self.rows)

    def counts(self) -> dict[str, int]:
        totals = dict.fromkeys(STATUSES, 0)
        for r in self.rows:
            totals[r.status] = totals.get(r.status, 0) + 1
        return totals
