"""Words, colours and style sheets of the schedule: how a session, a conflict and a day
are named."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from PySide6.QtCore import (
    Qt,
)
from PySide6.QtGui import (
    QFontMetrics,
)

from iopdesk.models.enums import SessionKind, SessionStatus, Telehealth
from iopdesk.services import schedule
from iopdesk.services.schedule import (
    THERAPIST_DOUBLE_BOOKED,
    Conflict,
    SessionInfo,
)
from iopdesk.ui import style

KIND_LABELS = {
    SessionKind.GROUP.value: "Group",
    SessionKind.INDIVIDUAL.value: "Individual",
    SessionKind.FAMILY.value: "Family",
    SessionKind.FAMILY_WITHOUT_CLIENT.value: "Family, client not present (90846)",
    SessionKind.INTAKE.value: "Intake",
}

KIND_COLORS = {
    SessionKind.GROUP.value: style.ACCENT,
    SessionKind.INDIVIDUAL.value: style.OK,
    SessionKind.FAMILY.value: "#7b3fa0",
    SessionKind.FAMILY_WITHOUT_CLIENT.value: "#7b3fa0",
    SessionKind.INTAKE.value: "#4a5bb8",
}

# Default appointment length in minutes (90837 needs 53+ minutes; intakes run longer).
DEFAULT_MINUTES = {
    SessionKind.INDIVIDUAL.value: 60,
    SessionKind.FAMILY.value: 60,
    SessionKind.FAMILY_WITHOUT_CLIENT.value: 60,
    SessionKind.INTAKE.value: 90,
}

# Telehealth is about where the client is (place of service 02 vs 10).
TELEHEALTH_LABELS = {
    Telehealth.NO.value: "In person",
    Telehealth.OFFICE.value: "Telehealth - client not at home",
    Telehealth.HOME.value: "Telehealth - client at home",
    Telehealth.OFFICE_AUDIO.value: "Telehealth, audio only - client not at home",
    Telehealth.HOME_AUDIO.value: "Telehealth, audio only - client at home",
}

SOURCE_LABELS = {
    schedule.SOURCE_ENROLLED: "Enrolled",
    schedule.SOURCE_ADDED: "Added",
    schedule.SOURCE_BOOKED: "Booked",
}

SOURCE_TIPS = {
    schedule.SOURCE_ENROLLED: "Enrolled in the track on this date",
    schedule.SOURCE_ADDED: "Added to this session only",
    schedule.SOURCE_BOOKED: "The client this appointment is booked for",
}

CANCEL_REASONS = (
    "Therapist unavailable",
    "Client request",
    "Weather",
    "Low attendance",
    "Room unavailable",
)

CONFLICT_BG = "#fff4e0"

CONFLICT_BORDER = "#f0c27a"

CONFLICT_TEXT = "#8a4b00"

CANCELLED_BG = "#f1f3f5"

CANCELLED_TEXT = "#8a96a3"

SELECTED_BG = "#d6ebf4"

CLOSED_BG = "#f6f1ef"

COLUMN_SPACING = 5

MAX_CONFLICT_LINES = 3  # in the details panel; the rest in its tooltip

PAGE_CSS = f"""
QLabel#rangeLabel {{ font-size: 13pt; font-weight: 600; color: {style.TEXT}; padding: 0 6px; }}
QPushButton#segment {{ border-radius: 0; padding: 6px 16px; min-width: 44px; }}
QPushButton#segment[first="true"] {{ border-top-left-radius: 5px;
    border-bottom-left-radius: 5px; }}
QPushButton#segment[last="true"] {{ border-top-right-radius: 5px;
    border-bottom-right-radius: 5px; border-left: none; }}
QPushButton#segment:checked {{ background: {style.ACCENT}; color: white;
    border-color: {style.ACCENT_DARK}; font-weight: 600; }}
QFrame#dayColumn {{ background: white; border: 1px solid {style.BORDER}; border-radius: 6px; }}
QFrame#dayColumn[closed="true"] {{ background: {CLOSED_BG}; }}
QPushButton#dayHeader {{ background: #e6ecf2; border: 1px solid {style.BORDER};
    border-radius: 6px; padding: 5px 2px; font-weight: 600; color: #33414f; }}
QPushButton#dayHeader:hover {{ background: #e2e9f0; }}
QPushButton#dayHeader[today="true"] {{ background: {style.ACCENT}; color: white; }}
QLabel#closedBadge {{ background: #fdecea; color: {style.BAD}; font-weight: 600;
    font-size: 9pt; padding: 5px 4px; border-bottom: 1px solid #f5c2c0;
    border-top-left-radius: 6px; border-top-right-radius: 6px; }}
QLabel#dayEmpty {{ color: #9aa5b1; font-size: 9pt; padding: 10px 4px; }}
QListView#dayList {{ background: transparent; border: none; outline: 0; }}
QScrollArea#weekScroll, QWidget#weekBody {{ background: transparent; }}
QLabel#legend {{ color: {style.MUTED}; font-size: 8.5pt; }}
QFrame#conflictBanner {{ background: {CONFLICT_BG}; border: 1px solid {CONFLICT_BORDER};
    border-radius: 6px; }}
QLabel#conflictTitle {{ color: {CONFLICT_TEXT}; font-weight: 600; }}
QLabel#conflictList {{ color: {CONFLICT_TEXT}; }}
QPushButton#bannerToggle {{ background: transparent; border: none; color: {CONFLICT_TEXT};
    text-decoration: underline; padding: 2px 4px; }}
QFrame#closedBanner {{ background: #fdecea; border: 1px solid #f5c2c0; border-radius: 6px; }}
QLabel#closedText {{ color: {style.BAD}; font-weight: 600; }}
QFrame#detailsPanel {{ background: white; border: 1px solid {style.BORDER};
    border-radius: 8px; }}
QLabel#detailsTitle {{ font-size: 12.5pt; font-weight: 600; }}
QLabel#statusPill {{ border-radius: 4px; padding: 2px 8px; font-weight: 600;
    font-size: 9pt; }}
QLabel#detailConflict {{ background: {CONFLICT_BG}; border: 1px solid {CONFLICT_BORDER};
    border-radius: 5px; color: {CONFLICT_TEXT}; padding: 6px 8px; }}
QLabel#formKey {{ color: {style.MUTED}; }}
QLabel#notice {{ color: {style.OK}; }}
"""

DIALOG_CSS = f"""
QTimeEdit {{ background: white; border: 1px solid {style.BORDER}; border-radius: 5px;
    padding: 5px 7px; }}
QTimeEdit:focus {{ border: 1px solid {style.ACCENT}; }}
QTimeEdit::up-button, QTimeEdit::down-button, QSpinBox#weeks::up-button,
QSpinBox#weeks::down-button {{ width: 0; border: none; }}
QTimeEdit[invalid="true"] {{ border: 1px solid {style.BAD}; background: #fff5f5; }}
QListWidget#staffList {{ background: white; border: 1px solid {style.BORDER};
    border-radius: 5px; }}
QLabel#preview {{ background: #eef5f8; border: 1px solid #cfe3ec; border-radius: 5px;
    padding: 7px 9px; }}
QLabel#preview[warn="true"] {{ background: {CONFLICT_BG}; border-color: {CONFLICT_BORDER};
    color: {CONFLICT_TEXT}; }}
"""


# -- plain-text helpers ----------------------------------------------------------------------
def time_range(s: SessionInfo) -> str:
    return f"{s.start:%H:%M}-{s.end:%H:%M}"


def duration_text(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


def who_of(s: SessionInfo) -> str:
    """The client of a booked session as "Begay, C." ("" for a group)."""
    _, sep, who = s.title.partition(": ")
    if s.kind == SessionKind.GROUP or not sep:
        return ""
    last, comma, first = who.partition(", ")
    return f"{last}, {first[:1]}." if comma and first else who


def short_title(s: SessionInfo) -> str:
    """ "Individual: Begay, C." for a booked session (first name as an initial), else the title."""
    who = who_of(s)
    return f"{KIND_LABELS.get(s.kind, s.kind.title())}: {who}" if who else s.title


def table_title(s: SessionInfo) -> str:
    """The Session column of the day table: the track, or the client (Kind is its own column)."""
    _, sep, who = s.title.partition(": ")
    return who if s.kind != SessionKind.GROUP and sep else s.title


def status_text(s: SessionInfo) -> str:
    if s.status == SessionStatus.CANCELLED:
        return "Cancelled by the clinic" if s.cancelled_by_clinic else "Cancelled by the client"
    return s.status.replace("_", " ").capitalize()


def short_status(s: SessionInfo) -> str:
    if s.status == SessionStatus.CANCELLED:
        return "Cancelled"
    return status_text(s)


def status_colors(s: SessionInfo) -> tuple[str, str]:
    """(text, background) of the status pill."""
    if s.status == SessionStatus.CANCELLED:
        return style.BAD, "#fdecea"
    if s.status == SessionStatus.HELD:
        return style.OK, "#e8f5e9"
    return style.ACCENT_DARK, "#e3f0f6"


def place_text(s: SessionInfo) -> str:
    audio = ", audio only" if s.telehealth in _AUDIO_ONLY else ""
    if s.telehealth in (Telehealth.HOME, Telehealth.HOME_AUDIO):
        return f"Telehealth{audio}, client at home"
    if s.telehealth in (Telehealth.OFFICE, Telehealth.OFFICE_AUDIO):
        if s.location:
            return f"{s.location} (telehealth{audio})"
        return f"Telehealth{audio}, client not at home"
    return s.location or "-"


def short_place(s: SessionInfo) -> str:
    audio = ", audio" if s.telehealth in _AUDIO_ONLY else ""
    if s.telehealth in (Telehealth.HOME, Telehealth.HOME_AUDIO):
        return f"Telehealth (home{audio})"
    if s.telehealth in (Telehealth.OFFICE, Telehealth.OFFICE_AUDIO):
        return f"{s.location} (telehealth{audio})" if s.location else f"Telehealth{audio}"
    return s.location or "-"


_AUDIO_ONLY = (Telehealth.HOME_AUDIO, Telehealth.OFFICE_AUDIO)


def facilitators_short(s: SessionInfo) -> str:
    if not s.facilitators:
        return "-"
    more = len(s.facilitators) - 1
    return s.facilitators[0].split(",")[0] + (f" +{more}" if more else "")


def day_text(day: dt.date) -> str:
    return f"{day:%a} {day:%m/%d}"


def long_day(day: dt.date) -> str:
    return f"{day:%A}, {day:%B} {day.day}, {day.year}"


def range_text(start: dt.date, end: dt.date) -> str:
    if start.year != end.year:
        return f"{start:%b} {start.day}, {start.year} - {end:%b} {end.day}, {end.year}"
    if start.month != end.month:
        return f"{start:%b} {start.day} - {end:%b} {end.day}, {end.year}"
    return f"{start:%B} {start.day} - {end.day}, {end.year}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def session_label(s: SessionInfo) -> str:
    return f"{short_title(s)} ({time_range(s)})"


def conflict_text(c: Conflict, titles: dict[int, str]) -> str:
    """The conflict in words, naming the two sessions (the service's message names their IDs)."""
    a, b = (titles.get(i) for i in c.session_ids)
    if not (a and b):
        return c.message
    who = "Therapist" if c.kind == THERAPIST_DOUBLE_BOOKED else "Client"
    return (
        f"{who} {c.person} is double-booked on {day_text(c.date)} "
        f"{c.start:%H:%M}-{c.end:%H:%M}: {a} and {b}."
    )


def conflicts_by_session(found: Sequence[Conflict], titles: dict[int, str]) -> dict[int, list[str]]:
    """For each session in a conflict, one line per overlapping session naming who is in both:
    "Double-booked with Adult MH Day IOP (09:00-12:00): client Begay, Crystal"."""
    people: dict[int, dict[int, list[str]]] = {}
    for c in found:
        who = f"{'therapist' if c.kind == THERAPIST_DOUBLE_BOOKED else 'client'} {c.person}"
        a, b = c.session_ids
        for this, other in ((a, b), (b, a)):
            people.setdefault(this, {}).setdefault(other, []).append(who)
    return {
        sid: [
            f"Double-booked with {titles.get(other, 'another session')}: {'; '.join(names)}"
            for other, names in others.items()
        ]
        for sid, others in people.items()
    }


def session_tooltip(s: SessionInfo, conflicts: Sequence[str] = ()) -> str:
    lines = [s.title, f"{long_day(s.date)}, {time_range(s)} ({duration_text(s.minutes)})"]
    lines.append(f"Where: {place_text(s)}")
    lines.append("Facilitators: " + (", ".join(s.facilitators) or "none set"))
    if s.kind == SessionKind.GROUP:
        lines.append(f"Roster: {plural(s.roster_count, 'client')}")
    if s.topic:
        lines.append(f"Topic: {s.topic}")
    status = status_text(s)
    if s.cancel_reason:
        status += f": {s.cancel_reason}"
    lines.append(f"Status: {status}")
    lines += [f"Conflict: {c}" for c in conflicts]
    return "\n".join(lines)


def wrap_text(text: str, fm: QFontMetrics, width: int, max_lines: int) -> list[str]:
    """Greedy word wrap into at most `max_lines` lines, the last one elided."""
    elide = Qt.TextElideMode.ElideRight
    if max_lines <= 1:
        return [fm.elidedText(text, elide, width)]
    words = text.split()
    lines: list[str] = []
    current = ""
    for i, word in enumerate(words):
        trial = f"{current} {word}" if current else word
        if not current or fm.horizontalAdvance(trial) <= width:
            current = trial
            continue
        lines.append(current)
        current = word
        if len(lines) == max_lines - 1:
            lines.append(" ".join(words[i:]))
            current = ""
            break
    if current:
        lines.append(current)
    # elidedText() may shorten a line that exactly fits; only elide what overflows.
    return [
        line if fm.horizontalAdvance(line) <= width else fm.elidedText(line, elide, width)
        for line in lines
    ]


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
