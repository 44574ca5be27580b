"""Dates as people type them (issue 19 item 2): one parser for every date field.

Accepted (US order, month first): 3/15/1988, 03/15/1988, 3-15-88, 3.15.1988, 3 15 1988,
03151988 (MMDDYYYY), 031588 (MMDDYY), 1988-03-15 (ISO), an optional leading weekday ("Mon
11/30/2026"), and month/day alone for the current year (not for a date of birth).

Two-digit years: for a date that is never in the future (a date of birth) the century is the
latest one that does not put the date after today ("3/15/30" in 2026 is 1930); otherwise the
latest century not more than 20 years ahead ("1/5/75" is 1975, "6/1/27" is 2027). An
impossible date ("13/45/1990", "2/30/2025") is refused with a plain message naming the problem.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

US_FORMAT = "%m/%d/%Y"
PLACEHOLDER = "MM/DD/YYYY"

_WEEKDAY = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s*", re.IGNORECASE)
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_US = re.compile(r"^(\d{1,2})\s*[-/. ]\s*(\d{1,2})(?:\s*[-/. ]\s*(\d{4}|\d{2}))?$")
_DIGITS = re.compile(r"^\d+$")


def _century(yy: int, month: int, day: int, today: date, past: bool) -> int:
    if past:
        year = today.year // 100 * 100 + yy
        # The latest century that keeps the date on or before today.
        if (year, month, day) > (today.year, today.month, today.day):
            year -= 100
        return year
    # Otherwise the latest century that is at most 20 years ahead ("1/5/75" is 1975).
    year = (today.year + 20) // 100 * 100 + yy
    return year if year <= today.year + 20 else year - 100


def _build(text: str, month: int, day: int, year: int) -> date:
    if not 1 <= month <= 12:
        raise ValueError(f'"{text}" is not a date: the month must be 1 to 12 (MM/DD/YYYY).')
    if year < 1 or year > 9999:
        raise ValueError(f'"{text}" is not a date: check the year.')
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise ValueError(
            f'"{text}" is not a date: {calendar.month_name[month]} {year} has days 1 to {last}.'
        )
    return date(year, month, day)


def parse_date(text: str, *, today: date, past: bool = False) -> date | None:
    """The date typed in `text`, None when blank; ValueError with a plain message otherwise.

    `past`: the date is never after today (a date of birth): two-digit years pick the century
    accordingly and a year is required."""
    raw = text.strip()
    if not raw:
        return None
    body = _WEEKDAY.sub("", raw).strip()
    hint = f'"{raw}" is not a date; type it like 03/15/1988 or 03151988.'
    m = _ISO.match(body)
    if m:
        return _build(raw, int(m.group(2)), int(m.group(3)), int(m.group(1)))
    month = day = 0
    year_text: str | None = None
    m = _US.match(body)
    if m:
        month, day, year_text = int(m.group(1)), int(m.group(2)), m.group(3)
    elif _DIGITS.match(body) and len(body) in (4, 6, 8):
        month, day = int(body[:2]), int(body[2:4])
        year_text = body[4:] or None
    else:
        raise ValueError(hint)
    if year_text is None:
        if past:
            raise ValueError(f'"{raw}" needs the year too, e.g. 03/15/1988.')
        year = today.year
    elif len(year_text) == 2:
        if not 1 <= month <= 12 or not 1 <= day <= 31:
            return _build(raw, month, day, today.year)  # raises the plain message
        year = _century(int(year_text), month, min(day, 28 if month == 2 else day), today, past)
    else:
        year = int(year_text)
    return _build(raw, month, day, year)


def format_date(value: date | None, *, weekday: bool = False) -> str:
    if value is None:
        return ""
    return value.strftime(("%a " if weekday else "") + US_FORMAT)
