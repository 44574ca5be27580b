"""Schedule: the program week (or one day) as a calendar, the selected session's details and
roster, and the dialogs to book appointments, generate group sessions and close the clinic.

Everything comes from iopdesk.services.schedule; this module displays it and calls it. Dialogs
open window-modal with open() (not exec()), so the page stays responsive to the inactivity lock
and tests can fill a dialog in and press its buttons.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTime,
    Signal,
)
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QIcon,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QCompleter,
    QDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from iopdesk.errors import StaleRecordError, UserError, ValidationError
from iopdesk.models.enums import ClientStatus, Role, SessionKind, SessionStatus, Telehealth
from iopdesk.services import clients, lookups, schedule, staff
from iopdesk.services.clients import CensusRow
from iopdesk.services.permissions import Perm
from iopdesk.services.schedule import (
    THERAPIST_DOUBLE_BOOKED,
    Conflict,
    RosterEntry,
    SessionInfo,
    WeekDay,
    WeekView,
)
from iopdesk.services.staff import StaffInfo
from iopdesk.services.textfold import fold
from iopdesk.ui import clock, msgbox, style
from iopdesk.ui.context import AppContext
from iopdesk.ui.dates import DateEdit
from iopdesk.ui.flow import FlowLayout
from iopdesk.ui.forms import FormDialog
from iopdesk.ui.pages.clients import STATUS_LABELS
from iopdesk.ui.pages.intake import FORM_CSS, from_qdate, hint, mark_invalid, to_qdate
from iopdesk.ui.tablemodel import ROW_ROLE, Column, RowsModel
from iopdesk.ui.widgets import Page, make_table, muted, section_title

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


class DayHeader(QPushButton):
    """A week column's day button: "Mon 11/30", or "Mon 30" / "Mon" when the column is too
    narrow for it (1024x700), never a clipped label."""

    def __init__(self, siblings: list[DayHeader] | None = None) -> None:
        super().__init__("")
        self.day: dt.date | None = None
        self.siblings = siblings if siblings is not None else [self]

    def set_day(self, day: dt.date) -> None:
        self.day = day
        self._fit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self.day is None:
            return
        # One format for the whole week: the narrowest column decides ("Mon 11/30" ...).
        room = min(h.contentsRect().width() for h in self.siblings) - 8
        metrics = self.fontMetrics()
        for h in self.siblings:
            d = h.day
            if d is None:
                continue
            widest = max(
                (x.day for x in self.siblings if x.day is not None),
                key=lambda x: metrics.horizontalAdvance(day_text(x)),
            )
            for fmt in (day_text, lambda x: f"{x:%a} {x.day}", lambda x: f"{x:%a}"):
                if metrics.horizontalAdvance(fmt(widest)) <= room:
                    break
            text = fmt(d)
            if h.text() != text:
                h.setText(text)


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


# -- small drawn marks (no dependence on the fonts installed) --------------------------------
def paint_warning(painter: QPainter, rect: QRect) -> None:
    """An orange disc with "!": a scheduling conflict."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(style.WARN))
    painter.drawEllipse(QRectF(rect).adjusted(0.5, 0.5, -0.5, -0.5))
    painter.setBrush(QColor("white"))
    cx = rect.left() + rect.width() / 2
    w = max(1.6, rect.width() / 7)
    top, bottom = rect.top() + rect.height() * 0.22, rect.top() + rect.height() * 0.6
    painter.drawRoundedRect(QRectF(cx - w / 2, top, w, bottom - top), w / 2, w / 2)
    painter.drawEllipse(QRectF(cx - w / 2, rect.top() + rect.height() * 0.68, w, w))
    painter.restore()


def paint_check(painter: QPainter, rect: QRect) -> None:
    """A green tick: the session was held."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(QColor(style.OK), max(1.6, rect.width() / 6))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    w, h = rect.width(), rect.height()
    path = QPainterPath()
    path.moveTo(rect.left() + w * 0.15, rect.top() + h * 0.55)
    path.lineTo(rect.left() + w * 0.42, rect.top() + h * 0.8)
    path.lineTo(rect.left() + w * 0.88, rect.top() + h * 0.22)
    painter.drawPath(path)
    painter.restore()


def mark_icon(paint: Callable[[QPainter, QRect], None], size: int = 14) -> QIcon:
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    paint(painter, QRect(0, 0, size, size))
    painter.end()
    icon = QIcon(pix)
    icon.addPixmap(pix, QIcon.Mode.Selected)  # not tinted on a selected table row
    return icon


def swatch_icon(color: str, size: int = 12, strike: bool = False) -> QIcon:
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(color))
    painter.drawRoundedRect(QRectF(1, 1, size - 2, size - 2), 2, 2)
    painter.end()
    return QIcon(pix)


# -- week view: one list of session cards per day --------------------------------------------
class SessionListModel(QAbstractListModel):
    """A day's sessions for a DayList; the delegate paints them as cards."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[SessionInfo] = []
        self.conflicts: dict[int, list[str]] = {}

    def set_rows(self, rows: Sequence[SessionInfo], conflicts: dict[int, list[str]]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.conflicts = conflicts
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        s = self.rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return f"{time_range(s)} {short_title(s)}, {status_text(s)}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return session_tooltip(s, self.conflicts.get(s.id, ()))
        if role == ROW_ROLE:
            return s
        return None


class CardDelegate(QStyledItemDelegate):
    """Paints a session as a compact card: time (with held / conflict marks), the track or
    client on up to two lines, and one detail line. The left stripe is the kind's colour;
    cancelled sessions are greyed and struck through."""

    GAP = 3
    PAD = 6
    STRIPE = 4

    def __init__(self, view: DayList) -> None:
        super().__init__(view)
        self.view = view

    @staticmethod
    def fonts(base: QFont) -> tuple[QFont, QFont, QFont]:
        size = base.pointSizeF() if base.pointSizeF() > 0 else 10.0
        time_font = QFont(base)
        time_font.setPointSizeF(size - 1.5)
        time_font.setBold(True)
        title_font = QFont(base)
        title_font.setPointSizeF(size - 0.5)
        small_font = QFont(base)
        small_font.setPointSizeF(size - 1.5)
        return time_font, title_font, small_font

    def text_width(self, width: int) -> int:
        return max(30, width - 2 * (self.GAP + self.PAD) - self.STRIPE)

    @staticmethod
    def title_of(s: SessionInfo) -> str:
        return who_of(s) or s.title

    @staticmethod
    def detail_of(s: SessionInfo) -> str:
        if s.status == SessionStatus.CANCELLED:
            return "Closed" if s.cancelled_by_clinic and s.cancel_reason else "Cancelled"
        if s.kind == SessionKind.GROUP:
            return plural(s.roster_count, "client")
        return KIND_LABELS.get(s.kind, s.kind.title())

    def layout_for(self, s: SessionInfo, base: QFont, width: int) -> tuple[list[str], int]:
        time_font, title_font, small_font = self.fonts(base)
        fm = QFontMetrics(title_font)
        lines = wrap_text(self.title_of(s), fm, self.text_width(width), 2)
        height = (
            2 * (self.GAP + self.PAD)
            + QFontMetrics(time_font).height()
            + len(lines) * fm.height()
            + QFontMetrics(small_font).height()
            + 2
        )
        return lines, height

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        s = index.data(ROW_ROLE)
        if not isinstance(s, SessionInfo):
            return super().sizeHint(option, index)
        width = self.view.width()
        return QSize(width, self.layout_for(s, self.view.font(), width)[1])

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        s = index.data(ROW_ROLE)
        if not isinstance(s, SessionInfo):
            super().paint(painter, option, index)
            return
        full: QRect = option.rect
        rect = full.adjusted(self.GAP, self.GAP, -self.GAP, -self.GAP)
        state = option.state
        selected = bool(state & QStyle.StateFlag.State_Selected)
        focused = selected and self.view.hasFocus()
        hover = bool(state & QStyle.StateFlag.State_MouseOver)
        cancelled = s.is_cancelled
        conflict = s.id in self.view.model_.conflicts
        base = self.view.font()
        time_font, title_font, small_font = self.fonts(base)
        lines, _ = self.layout_for(s, base, full.width())
        kind_color = KIND_COLORS.get(s.kind, style.ACCENT)

        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        path = QPainterPath()
        path.addRoundedRect(QRectF(rect).adjusted(0.5, 0.5, -0.5, -0.5), 5, 5)
        background = SELECTED_BG if selected else (CANCELLED_BG if cancelled else "white")
        painter.fillPath(path, QColor(background))
        painter.setClipPath(path)
        painter.fillRect(
            QRect(rect.left(), rect.top(), self.STRIPE, rect.height()),
            QColor(CANCELLED_TEXT if cancelled else kind_color),
        )
        painter.setClipping(False)
        border = style.BORDER
        if conflict:
            border = CONFLICT_BORDER
        if hover:
            border = "#9fb3c4"
        if selected:
            border = style.ACCENT
        painter.setPen(QPen(QColor(border), 2.0 if focused else 1.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)

        x = rect.left() + self.STRIPE + self.PAD
        y = rect.top() + self.PAD
        width = self.text_width(full.width())
        for font in (time_font, title_font):
            font.setStrikeOut(cancelled)
        tm = QFontMetrics(time_font)
        painter.setFont(time_font)
        painter.setPen(QColor(CANCELLED_TEXT if cancelled else kind_color))
        painter.drawText(
            QRect(x, y, width, tm.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            tm.elidedText(time_range(s), Qt.TextElideMode.ElideRight, width),
        )
        y += tm.height() + 1
        painter.setFont(title_font)
        painter.setPen(QColor(CANCELLED_TEXT if cancelled else style.TEXT))
        fm = QFontMetrics(title_font)
        for line in lines:
            painter.drawText(QRect(x, y, width, fm.height()), Qt.AlignmentFlag.AlignLeft, line)
            y += fm.height()
        y += 1
        painter.setFont(small_font)
        sm = QFontMetrics(small_font)
        # Marks at the right of the detail line: held (tick), conflict (orange "!").
        mark = sm.height() - 1
        right = x + width
        if conflict:
            right -= mark
            paint_warning(painter, QRect(right, y, mark, mark))
            right -= 3
        if s.status == SessionStatus.HELD:
            right -= mark
            paint_check(painter, QRect(right, y, mark, mark))
            right -= 3
        painter.setPen(QColor(style.BAD if cancelled else style.MUTED))
        detail = sm.elidedText(self.detail_of(s), Qt.TextElideMode.ElideRight, right - x)
        painter.drawText(QRect(x, y, right - x, sm.height()), Qt.AlignmentFlag.AlignLeft, detail)
        painter.restore()


class DayList(QListView):
    """One day's cards, exactly as tall as its cards: the week scrolls as one. Left/Right move
    to the neighbouring day (the week grid handles it)."""

    step = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("dayList")
        self.model_ = SessionListModel(self)
        self.setModel(self.model_)
        self.delegate = CardDelegate(self)
        self.setItemDelegate(self.delegate)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(0)

    def set_rows(self, rows: Sequence[SessionInfo], conflicts: dict[int, list[str]]) -> None:
        self.model_.set_rows(rows, conflicts)
        self.fit_height()

    def fit_height(self) -> None:
        width = self.width()
        font = self.font()
        total = sum(self.delegate.layout_for(s, font, width)[1] for s in self.model_.rows)
        if total != self.height():
            self.setFixedHeight(total)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.fit_height()

    def wheelEvent(self, event: QWheelEvent) -> None:
        event.ignore()  # the week's scroll area scrolls

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Left, Qt.Key.Key_Right) and not event.modifiers():
            self.step.emit(-1 if event.key() == Qt.Key.Key_Left else 1)
            return
        super().keyPressEvent(event)

    def session_at(self, row: int) -> SessionInfo:
        return self.model_.rows[row]


class DayColumn(QFrame):
    """The body of one day: a closure badge, the cards, "No sessions"."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("dayColumn")
        self.day: WeekDay | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(1, 1, 1, 1)
        lay.setSpacing(0)
        self.closed = QLabel("")
        self.closed.setObjectName("closedBadge")
        self.closed.setWordWrap(True)
        self.closed.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.closed.hide()
        self.list = DayList()
        self.empty = QLabel("No sessions")
        self.empty.setObjectName("dayEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.empty.hide()
        lay.addWidget(self.closed)
        lay.addWidget(self.list)
        lay.addWidget(self.empty)
        lay.addStretch(1)

    def set_day(self, day: WeekDay, conflicts: dict[int, list[str]]) -> None:
        self.day = day
        self.setProperty("closed", day.closure is not None)
        self.style().unpolish(self)
        self.style().polish(self)
        self.closed.setVisible(day.closure is not None)
        if day.closure is not None:
            self.closed.setText(f"Closed: {day.closure}")
            self.closed.setToolTip(
                f"The clinic is closed on {long_day(day.date)}: {day.closure}.\n"
                "Right-click the day's heading to reopen it."
            )
        self.list.set_rows(day.sessions, conflicts)
        self.list.setVisible(bool(day.sessions))
        self.empty.setVisible(not day.sessions and day.closure is None)


class WeekGrid(QWidget):
    """Day headings (click: that day as a list), seven day columns that scroll together, one
    selection across all of them, and a legend."""

    session_selected = Signal(object)  # SessionInfo | None
    day_opened = Signal(object)  # datetime.date
    session_menu = Signal(object, QPoint)  # SessionInfo, global position
    day_menu = Signal(object, QPoint)  # WeekDay, global position

    def __init__(self) -> None:
        super().__init__()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(4)
        heads = QHBoxLayout()
        heads.setContentsMargins(0, 0, 0, 0)
        heads.setSpacing(COLUMN_SPACING)
        self.headers: list[DayHeader] = []
        for _ in range(7):
            header = DayHeader(self.headers)
            header.setObjectName("dayHeader")
            header.setCursor(Qt.CursorShape.PointingHandCursor)
            header.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            header.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            heads.addWidget(header, 1)
            self.headers.append(header)
        self.scrollbar_gap = QWidget()
        self.scrollbar_gap.setFixedWidth(0)
        heads.addWidget(self.scrollbar_gap)
        outer.addLayout(heads)

        self.scroll_area = QScrollArea()
        self.scroll_area.setObjectName("weekScroll")
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        body.setObjectName("weekBody")
        row = QHBoxLayout(body)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(COLUMN_SPACING)
        self.columns: list[DayColumn] = []
        for _ in range(7):
            column = DayColumn()
            column.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            row.addWidget(column, 1)
            self.columns.append(column)
        self.scroll_area.setWidget(body)
        outer.addWidget(self.scroll_area, 1)
        bar = self.scroll_area.verticalScrollBar()
        bar.rangeChanged.connect(self._scrollbar_changed)
        outer.addLayout(self._legend())

        self._syncing = False
        for i, (header, column) in enumerate(zip(self.headers, self.columns, strict=True)):
            header.clicked.connect(lambda _c=False, col=column: self._open_day(col))
            header.customContextMenuRequested.connect(
                lambda pos, col=column, h=header: self._day_menu(col, h.mapToGlobal(pos))
            )
            lst = column.list
            lst.step.connect(lambda delta, i=i: self._step(i, delta))
            lst.selectionModel().selectionChanged.connect(
                lambda _s, _d, col=column: self._selection_changed(col)
            )
            lst.selectionModel().currentChanged.connect(
                lambda cur, _prev, col=column: self._ensure_visible(col, cur)
            )
            lst.customContextMenuRequested.connect(
                lambda pos, col=column: self._session_menu(col, pos)
            )

    @staticmethod
    def _legend() -> QHBoxLayout:
        lay = QHBoxLayout()
        lay.setContentsMargins(2, 0, 0, 0)
        lay.setSpacing(4)
        items: list[tuple[QIcon, str]] = [
            (swatch_icon(KIND_COLORS[k]), KIND_LABELS[k]) for k in KIND_LABELS
        ]
        items += [
            (mark_icon(paint_check, 12), "Held"),
            (mark_icon(paint_warning, 12), "Conflict"),
            (swatch_icon(CANCELLED_TEXT), "Cancelled (struck through)"),
        ]
        for icon, text in items:
            pic = QLabel()
            pic.setPixmap(icon.pixmap(12, 12))
            label = QLabel(text)
            label.setObjectName("legend")
            lay.addWidget(pic)
            lay.addWidget(label)
            lay.addSpacing(10)
        lay.addStretch(1)
        return lay

    def set_week(self, week: WeekView, today: dt.date, conflicts: dict[int, list[str]]) -> None:
        self._syncing = True
        try:
            for header, column, day in zip(self.headers, self.columns, week.days, strict=True):
                header.set_day(day.date)
                header.setToolTip(f"Show {long_day(day.date)} as a list")
                header.setProperty("today", day.date == today)
                header.style().unpolish(header)
                header.style().polish(header)
                column.set_day(day, conflicts)
        finally:
            self._syncing = False

    def _scrollbar_changed(self, _low: int, high: int) -> None:
        bar = self.scroll_area.verticalScrollBar()
        self.scrollbar_gap.setFixedWidth(bar.sizeHint().width() if high > 0 else 0)

    def sessions(self) -> list[SessionInfo]:
        return [s for c in self.columns for s in c.list.model_.rows]

    def selected(self) -> SessionInfo | None:
        for column in self.columns:
            rows = column.list.selectionModel().selectedRows()
            if rows:
                return column.list.session_at(rows[0].row())
        return None

    def select_session(self, session_id: int) -> bool:
        for column in self.columns:
            for row, s in enumerate(column.list.model_.rows):
                if s.id == session_id:
                    column.list.setCurrentIndex(column.list.model_.index(row, 0))
                    return True
        return False

    def _ensure_visible(self, column: DayColumn, index: QModelIndex) -> None:
        if not index.isValid():
            return
        rect = column.list.visualRect(index)
        body = self.scroll_area.widget()
        if body is None:
            return
        top = column.list.viewport().mapTo(body, rect.topLeft())
        half = rect.height() // 2
        self.scroll_area.ensureVisible(top.x(), top.y() + half, 0, half + 8)

    def _selection_changed(self, source: DayColumn) -> None:
        if self._syncing:
            return
        rows = source.list.selectionModel().selectedRows()
        if not rows:
            if self.selected() is None:
                self.session_selected.emit(None)
            return
        self._syncing = True
        try:
            for column in self.columns:
                if column is not source:
                    column.list.clearSelection()
        finally:
            self._syncing = False
        self.session_selected.emit(source.list.session_at(rows[0].row()))

    def _step(self, index: int, delta: int) -> None:
        row = max(0, self.columns[index].list.currentIndex().row())
        i = index + delta
        while 0 <= i < 7:
            target = self.columns[i].list
            count = target.model_.rowCount()
            if count:
                target.setFocus()
                target.setCurrentIndex(target.model_.index(min(row, count - 1), 0))
                return
            i += delta

    def _open_day(self, column: DayColumn) -> None:
        if column.day is not None:
            self.day_opened.emit(column.day.date)

    def _day_menu(self, column: DayColumn, pos: QPoint) -> None:
        if column.day is not None:
            self.day_menu.emit(column.day, pos)

    def _session_menu(self, column: DayColumn, pos: QPoint) -> None:
        index = column.list.indexAt(pos)
        if index.isValid():
            column.list.setCurrentIndex(index)
            self.session_menu.emit(
                column.list.session_at(index.row()), column.list.viewport().mapToGlobal(pos)
            )


# -- day view --------------------------------------------------------------------------------
class SessionRowsModel(RowsModel[SessionInfo]):
    """The day table: cancelled rows greyed and struck through, a mark on conflicts."""

    STATUS_COLUMN = 6

    def __init__(self, columns: Sequence[Column[SessionInfo]], parent: Any = None) -> None:
        super().__init__(columns, parent)
        self.conflicts: dict[int, list[str]] = {}
        self.icon = mark_icon(paint_warning)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        s = self.rows[index.row()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return session_tooltip(s, self.conflicts.get(s.id, ()))
        if s.is_cancelled:
            if role == Qt.ItemDataRole.ForegroundRole:
                status = index.column() == self.STATUS_COLUMN
                return QBrush(QColor(style.BAD if status else CANCELLED_TEXT))
            if role == Qt.ItemDataRole.FontRole and index.column() in (0, 1):
                font = QFont()
                font.setStrikeOut(True)
                return font
        if role == Qt.ItemDataRole.DecorationRole and index.column() == 1:
            return self.icon if s.id in self.conflicts else None
        return super().data(index, role)


def day_columns() -> list[Column[SessionInfo]]:
    return [
        Column("Time", time_range, sort_key=lambda s: (s.start, s.end, s.id)),
        Column("Session", table_title, sort_key=lambda s: table_title(s).casefold()),
        Column("Kind", lambda s: KIND_LABELS.get(s.kind, s.kind.title())),
        Column("Facilitators", facilitators_short),
        Column("Where", short_place),
        Column("Clients", lambda s: s.roster_count, align_right=True),
        Column(
            "Status",
            short_status,
            color=lambda s: {"held": style.OK, "cancelled": style.BAD}.get(s.status),
        ),
    ]


# -- details panel ---------------------------------------------------------------------------
class DetailsPanel(QFrame):
    """The selected session: what, when, where, who, status, and its roster."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.setObjectName("detailsPanel")
        self.setMinimumWidth(290)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.stack = QStackedWidget()
        outer.addWidget(self.stack)
        empty = QWidget()
        el = QVBoxLayout(empty)
        el.setContentsMargins(20, 20, 20, 20)
        el.addStretch(1)
        self.placeholder = muted(
            "Select a session to see its details and roster.\n\n"
            "Click a day's heading to see that day as a list."
        )
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        el.addWidget(self.placeholder)
        el.addStretch(2)
        self.stack.addWidget(empty)

        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(14, 12, 14, 12)
        lay.setSpacing(6)
        self.title = QLabel("")
        self.title.setObjectName("detailsTitle")
        self.title.setWordWrap(True)
        self.when = muted("")
        pills = QHBoxLayout()
        pills.setSpacing(6)
        self.kind = QLabel("")
        self.kind.setObjectName("statusPill")
        self.status = QLabel("")
        self.status.setObjectName("statusPill")
        pills.addWidget(self.kind)
        pills.addWidget(self.status)
        pills.addStretch(1)
        lay.addWidget(self.title)
        lay.addWidget(self.when)
        lay.addLayout(pills)
        form = QFormLayout()
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(3)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self.where = self._value()
        self.facilitators = self._value()
        self.topic = self._value()
        self.reason = self._value()
        self.topic_key = self._key("Topic")
        self.reason_key = self._key("Reason")
        form.addRow(self._key("Where"), self.where)
        form.addRow(self._key("Facilitators"), self.facilitators)
        form.addRow(self.topic_key, self.topic)
        form.addRow(self.reason_key, self.reason)
        lay.addLayout(form)
        self.conflict = QLabel("")
        self.conflict.setObjectName("detailConflict")
        self.conflict.setWordWrap(True)
        lay.addWidget(self.conflict)

        manage = ctx.can(Perm.SCHEDULE_MANAGE)
        actions = QGridLayout()
        actions.setHorizontalSpacing(6)
        actions.setVerticalSpacing(6)
        self.sign_in = QPushButton("Sign in...")
        self.sign_in.setObjectName("primary")
        self.sign_in.setVisible(ctx.can(Perm.ATTENDANCE_RECORD))
        self.edit_facilitators = QPushButton("Facilitators...")
        self.edit_facilitators.setToolTip("Choose who runs this session")
        self.cancel = QPushButton("Cancel session...")
        self.cancel.setToolTip("Cancel this one session, with a reason")
        self.reinstate = QPushButton("Reinstate")
        self.reinstate.setToolTip("Undo the cancellation of this session")
        for w in (self.edit_facilitators, self.cancel, self.reinstate):
            w.setVisible(manage)
        actions.addWidget(self.sign_in, 0, 0)
        actions.addWidget(self.edit_facilitators, 0, 1)
        actions.addWidget(self.cancel, 1, 0)
        actions.addWidget(self.reinstate, 1, 1)
        lay.addLayout(actions)

        roster_head = QHBoxLayout()
        roster_head.setSpacing(6)
        self.roster_title = section_title("Roster")
        self.add_client = QPushButton("Add client...")
        self.add_client.setToolTip("Add a client to this one session only")
        roster_head.addWidget(self.roster_title)
        roster_head.addStretch(1)
        roster_head.addWidget(self.add_client, 0, Qt.AlignmentFlag.AlignBottom)
        lay.addSpacing(2)
        lay.addLayout(roster_head)
        self.roster_model: RowsModel[RosterEntry] = RowsModel(
            [
                Column(
                    "Client",
                    lambda r: r.display_name,
                    sort_key=lambda r: (r.last.casefold(), r.first.casefold()),
                ),
                Column("MRN", lambda r: r.mrn),
                Column("Source", lambda r: SOURCE_LABELS.get(r.source, r.source)),
            ]
        )
        self.roster = make_table()
        self.roster.setObjectName("rosterTable")
        self.roster.setModel(self.roster_model)
        self.roster.setSortingEnabled(False)
        self.roster.setToolTip("Double-click a client to open the chart")
        self.roster.setMinimumHeight(90)
        header = self.roster.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.roster.verticalHeader().setDefaultSectionSize(26)
        lay.addWidget(self.roster, 1)
        foot = QHBoxLayout()
        foot.setSpacing(6)
        self.remove_client = QPushButton("Remove from this session")
        self.remove_client.setToolTip(
            "Take the selected client off this one session; they stay enrolled in the track"
        )
        self.roster_hint = muted("Double-click a client to open the chart.")
        foot.addWidget(self.remove_client)
        foot.addWidget(self.roster_hint, 1)
        foot.addStretch(0)
        lay.addLayout(foot)
        self.add_client.setVisible(manage)
        self.remove_client.setVisible(manage)
        self.roster_hint.setVisible(not manage)
        self.stack.addWidget(body)
        self.manage = manage
        self.info: SessionInfo | None = None

    @staticmethod
    def _key(text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("formKey")
        return label

    @staticmethod
    def _value() -> QLabel:
        label = QLabel("")
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    def clear(self) -> None:
        self.info = None
        self.roster_model.set_rows([])
        self.stack.setCurrentIndex(0)

    def show_session(
        self, s: SessionInfo, roster: Sequence[RosterEntry], conflicts: Sequence[str]
    ) -> None:
        self.info = s
        self.stack.setCurrentIndex(1)
        self.title.setText(s.title)
        self.title.setToolTip(s.title)
        self.when.setText(f"{s.date:%a %m/%d/%Y},  {time_range(s)}  ({duration_text(s.minutes)})")
        self.kind.setText(KIND_LABELS.get(s.kind, s.kind.title()))
        self.kind.setStyleSheet(f"color: white; background: {KIND_COLORS.get(s.kind)};")
        fg, bg = status_colors(s)
        self.status.setText(status_text(s))
        self.status.setStyleSheet(f"color: {fg}; background: {bg};")
        self.where.setText(place_text(s))
        self.facilitators.setText("\n".join(s.facilitators) or "None set")
        self.topic.setText(s.topic)
        self.topic.setVisible(bool(s.topic))
        self.topic_key.setVisible(bool(s.topic))
        self.reason.setText(s.cancel_reason)
        self.reason.setVisible(bool(s.cancel_reason))
        self.reason_key.setVisible(bool(s.cancel_reason))
        shown = list(conflicts[:MAX_CONFLICT_LINES])
        if len(conflicts) > MAX_CONFLICT_LINES:
            shown.append(f"and {len(conflicts) - MAX_CONFLICT_LINES} more (point here to see all)")
        self.conflict.setText("\n".join(shown))
        self.conflict.setToolTip("\n".join(conflicts))
        self.conflict.setVisible(bool(conflicts))
        cancelled = s.is_cancelled
        self.sign_in.setEnabled(not cancelled)
        self.sign_in.setToolTip(
            "A cancelled session has no sign-in sheet."
            if cancelled
            else "Open the sign-in sheet for this session"
        )
        self.cancel.setVisible(self.manage and s.status == SessionStatus.SCHEDULED)
        self.reinstate.setVisible(self.manage and cancelled)
        group = s.kind == SessionKind.GROUP
        self.roster_title.setText(f"Roster ({len(roster)})" if group else "Client")
        self.roster_model.set_rows(roster)
        self.add_client.setVisible(self.manage and group)
        self.add_client.setEnabled(not cancelled)
        self.remove_client.setVisible(self.manage and group)
        self.roster_hint.setVisible(not (self.manage and group))
        self.update_remove()

    def selected_entry(self) -> RosterEntry | None:
        rows = self.roster.selectionModel().selectedRows()
        return self.roster_model.row_at(rows[0].row()) if rows else None

    def update_remove(self) -> None:
        entry = self.selected_entry()
        ok = (
            self.info is not None
            and not self.info.is_cancelled
            and entry is not None
            and entry.source != schedule.SOURCE_BOOKED
        )
        self.remove_client.setEnabled(ok)
        self.remove_client.setToolTip(
            "Take the selected client off this one session; they stay enrolled in the track"
            if entry is not None
            else "Select a client in the roster first"
        )


# -- pick lists ------------------------------------------------------------------------------
FOLDED_ROLE = Qt.ItemDataRole.UserRole + 7


def client_label(r: CensusRow) -> str:
    label = f"{r.last_name}, {r.first_name} ({r.mrn})"
    if r.status != ClientStatus.ACTIVE:
        label += f" - {STATUS_LABELS.get(r.status, r.status)}"
    return label


def client_combo(rows: Sequence[CensusRow]) -> QComboBox:
    """An editable combo that finds a client by any part of the name or MRN."""
    combo = QComboBox()
    combo.setEditable(True)
    combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    combo.setMaxVisibleItems(14)
    for r in rows:
        label = client_label(r)
        combo.addItem(label, r.id)
        # Matched on the label and its accent-folded form: "martinez" finds "Martínez".
        combo.setItemData(combo.count() - 1, f"{label}\n{fold(label)}", FOLDED_ROLE)
    completer = QCompleter(combo.model(), combo)
    completer.setCompletionRole(FOLDED_ROLE)
    completer.setFilterMode(Qt.MatchFlag.MatchContains)
    completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
    combo.setCompleter(completer)
    combo.setCurrentIndex(-1)
    line = combo.lineEdit()
    if line is not None:
        line.setPlaceholderText("Type part of a name or MRN...")
    return combo


def chosen_client(combo: QComboBox) -> int | None:
    """The client whose entry matches the text exactly, or the only one containing it."""
    text = fold(combo.currentText().strip().split("\n")[0])
    if not text:
        return None
    matches = []
    for i in range(combo.count()):
        label = fold(combo.itemText(i))
        if label == text:
            return int(combo.itemData(i))
        if text in label:
            matches.append(int(combo.itemData(i)))
    return matches[0] if len(matches) == 1 else None


def clinical_staff(people: Sequence[StaffInfo]) -> list[StaffInfo]:
    clinical = {Role.THERAPIST.value, Role.SUPERVISOR.value}
    return [p for p in people if clinical & {r.strip() for r in p.roles.split(",")}]


# -- dialogs ---------------------------------------------------------------------------------
class _ScheduleDialog(FormDialog):
    """FormDialog plus field marks from ValidationError.fields, and a stale record closes the
    dialog with the standard message (the page then reloads). `action` returning False keeps
    the dialog open without an error (the user said No to a question)."""

    def __init__(self, title: str, subtitle: str, ok_text: str, parent: QWidget | None) -> None:
        super().__init__(title, subtitle, ok_text, parent)
        self.setStyleSheet(FORM_CSS + DIALOG_CSS)
        ok = self.buttons.button(self.buttons.StandardButton.Ok)
        bold = QFont(ok.font())
        bold.setBold(True)  # the default button is drawn bold; its size hint is not
        ok.setMinimumWidth(QFontMetrics(bold).horizontalAdvance(ok_text) + 40)
        self.fields: dict[str, QWidget] = {}
        self.stale = False
        self.action: Callable[[], bool | None] | None = None

    def _try_accept(self) -> None:
        for widget in self.fields.values():
            mark_invalid(widget, None)
        self.error.hide()
        try:
            if self.action is not None and self.action() is False:
                return
        except StaleRecordError as exc:
            self.stale = True
            msgbox.user_error(self, exc)
            self.reject()
            return
        except ValidationError as exc:
            for name, message in exc.fields.items():
                if name in self.fields:
                    mark_invalid(self.fields[name], message)
            self.show_error(exc.message)
            return
        except UserError as exc:
            self.show_error(exc.message)
            return
        self.accept()


def _date_edit(value: dt.date) -> DateEdit:
    return DateEdit(value, weekday=True)


def _time_edit(value: dt.time) -> QTimeEdit:
    edit = QTimeEdit(QTime(value.hour, value.minute))
    edit.setDisplayFormat("HH:mm")
    edit.lineEdit().setTextMargins(6, 0, 0, 0)  # line up with the other fields' text
    edit.setToolTip(
        "24-hour clock, e.g. 13:30. Up and Down arrows change the part under the cursor."
    )
    edit.setMinimumWidth(80)
    return edit


def _to_time(value: QTime) -> dt.time:
    return dt.time(value.hour(), value.minute())


class BookDialog(_ScheduleDialog):
    """Book an individual, family or intake session. A double booking is allowed but warned
    about after saving (clinics sometimes double-book on purpose)."""

    def __init__(self, ctx: AppContext, day: dt.date, parent: QWidget | None = None) -> None:
        super().__init__(
            "Book appointment",
            "An individual, family or intake session for one client. Group sessions come "
            "from each track's weekly schedule.",
            "Book appointment",
            parent,
        )
        self.ctx = ctx
        self.setMinimumWidth(560)
        self.booked: SessionInfo | None = None
        self.conflicts: list[Conflict] = []
        self.kind = QComboBox()
        for value in schedule.BOOKABLE_KINDS:
            self.kind.addItem(KIND_LABELS[value], value)
        census = [
            r for r in clients.list_census(ctx.db, ctx.actor) if r.status != ClientStatus.DISCHARGED
        ]
        census.sort(key=lambda r: (r.status != ClientStatus.ACTIVE, r.last_name.casefold()))
        self.census = {r.id: r for r in census}
        self.client = client_combo(census)
        self.client.setObjectName("bookClient")
        self.therapist = QComboBox()
        self.therapist.addItem("Choose a therapist...", None)
        self.staff = clinical_staff(staff.list_staff(ctx.db, ctx.actor))
        for person in self.staff:
            self.therapist.addItem(person.display_name, person.id)
        me = ctx.actor.staff_id
        if me is not None and self.therapist.findData(me) >= 0:
            self.therapist.setCurrentIndex(self.therapist.findData(me))
        self.date = _date_edit(day)
        self.start = _time_edit(dt.time(9, 0))
        self.end = _time_edit(dt.time(10, 0))
        self.length = QLabel("")
        self.length.setObjectName("hint")
        self.location = QLineEdit()
        self.location.setPlaceholderText("e.g. Office 3")
        self.location.setMaxLength(100)
        self.telehealth = QComboBox()
        for value, label in TELEHEALTH_LABELS.items():
            self.telehealth.addItem(label, value)
        self.topic = QLineEdit()
        self.topic.setPlaceholderText("Optional, e.g. Safety plan review")
        self.topic.setMaxLength(200)
        times = QHBoxLayout()
        times.setSpacing(8)
        times.addWidget(self.start)
        times.addWidget(QLabel("to"))
        times.addWidget(self.end)
        times.addWidget(self.length, 1)
        self.form.addRow("Client *", self.client)
        self.form.addRow("Kind", self.kind)
        self.form.addRow("Therapist *", self.therapist)
        self.form.addRow("Date *", self.date)
        self.form.addRow("Time *", times)
        self.form.addRow("Location", self.location)
        self.form.addRow("Telehealth", self.telehealth)
        self.form.addRow("Topic", self.topic)
        self.form.addRow(hint("Overlapping appointments are allowed; you will be warned."))
        self.fields = {
            "kind": self.kind,
            "client_id": self.client,
            "staff_id": self.therapist,
            "session_date": self.date,
            "end_time": self.end,
            "location": self.location,
            "telehealth": self.telehealth,
            "topic": self.topic,
        }
        self._minutes = 60
        self._end_touched = False
        self.start.timeChanged.connect(self._start_changed)
        self.end.timeChanged.connect(self._end_changed)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.client.currentIndexChanged.connect(self._client_changed)
        self._kind_changed()
        self.action = self._book
        self.client.setFocus()

    def _kind_changed(self) -> None:
        if not self._end_touched:
            self._minutes = DEFAULT_MINUTES.get(str(self.kind.currentData()), 60)
            self._set_end()
        self._show_length()

    def _set_end(self) -> None:
        self.end.blockSignals(True)
        self.end.setTime(self.start.time().addSecs(self._minutes * 60))
        self.end.blockSignals(False)
        self._show_length()

    def _start_changed(self) -> None:
        self._set_end()  # keep the length when the start moves

    def _end_changed(self) -> None:
        self._end_touched = True
        self._minutes = max(0, self.start.time().secsTo(self.end.time()) // 60)
        self._show_length()

    def _show_length(self) -> None:
        minutes = self.start.time().secsTo(self.end.time()) // 60
        self.length.setText(duration_text(minutes) if minutes > 0 else "ends before it starts")

    def _client_changed(self) -> None:
        """Default the therapist to the client's primary therapist when one is assigned."""
        cid = chosen_client(self.client)
        row = self.census.get(cid) if cid is not None else None
        if row is None or not row.therapist:
            return
        for person in self.staff:
            if person.display_name == row.therapist:
                self.therapist.setCurrentIndex(self.therapist.findData(person.id))
                return

    def _book(self) -> None:
        errors: dict[str, str] = {}
        client_id = chosen_client(self.client)
        if client_id is None:
            errors["client_id"] = "Choose a client from the list."
        staff_id = self.therapist.currentData()
        if staff_id is None:
            errors["staff_id"] = "Choose the therapist."
        if errors:
            raise ValidationError(next(iter(errors.values())), errors)
        assert client_id is not None
        day = from_qdate(self.date.date())
        self.booked = schedule.book_session(
            self.ctx.db,
            self.ctx.actor,
            str(self.kind.currentData()),
            client_id,
            int(staff_id),
            day,
            _to_time(self.start.time()),
            _to_time(self.end.time()),
            location=self.location.text(),
            telehealth=str(self.telehealth.currentData()),
            topic=self.topic.text(),
        )
        # The booking stands whatever happens next; a failure here must not invite a re-book.
        try:
            self.conflicts = schedule.conflicts(
                self.ctx.db, self.ctx.actor, day, day, session_id=self.booked.id
            )
            titles = {
                s.id: session_label(s)
                for s in schedule.list_sessions(self.ctx.db, self.ctx.actor, day, day)
            }
        except UserError:
            return
        if self.conflicts:
            lines = "\n".join(f"- {conflict_text(c, titles)}" for c in self.conflicts)
            msgbox.warning(
                self,
                "Booked, with a scheduling conflict",
                f"The appointment was booked, but it overlaps another session:\n\n{lines}\n\n"
                "If that was not intended, select the appointment in the schedule, cancel it "
                "and book another time.",
            )


class GenerateDialog(_ScheduleDialog):
    """Create the recurring group sessions of every active track for some weeks ahead."""

    def __init__(
        self, ctx: AppContext, start: dt.date, weeks: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(
            "Generate group sessions",
            "Creates each track's weekly group sessions. Sessions that already exist are kept "
            "(cancelled ones stay cancelled), so it is safe to run again.",
            "Generate sessions",
            parent,
        )
        self.ctx = ctx
        self.setMinimumWidth(520)
        self.created: int | None = None
        self.start = _date_edit(start)
        self.weeks = QSpinBox()
        self.weeks.setRange(1, 52)
        self.weeks.setValue(max(1, min(52, weeks)))
        self.weeks.setSuffix(" weeks")
        self.weeks.setObjectName("weeks")
        self.weeks.setToolTip("1 to 52 weeks; the Up and Down keys change it")
        self.weeks.lineEdit().setTextMargins(6, 0, 0, 0)
        self.weeks.setMinimumWidth(110)
        self.track = QComboBox()
        self.track.addItem("All active tracks", None)
        for t in lookups.list_tracks(ctx.db, ctx.actor):
            self.track.addItem(t.name, t.id)
        self.facilitator = QComboBox()
        self.facilitator.addItem("None for now (set per session)", None)
        for person in clinical_staff(staff.list_staff(ctx.db, ctx.actor)):
            self.facilitator.addItem(person.display_name, person.id)
        self.preview = QLabel("")
        self.preview.setObjectName("preview")
        self.preview.setWordWrap(True)
        self.form.addRow("Starting", self.start)
        self.form.addRow("For", self.weeks)
        self.form.addRow("Tracks", self.track)
        self.form.addRow("Facilitator", self.facilitator)
        self.form.addRow(self.preview)
        self.fields = {
            "weeks": self.weeks,
            "facilitator_staff_id": self.facilitator,
        }
        self.start.dateChanged.connect(self._update)
        self.weeks.valueChanged.connect(self._update)
        self.track.currentIndexChanged.connect(self._update)
        self._update()
        self.action = self._generate

    def _update(self) -> None:
        start = from_qdate(self.start.date())
        end = start + dt.timedelta(days=7 * self.weeks.value() - 1)
        which = "every active track" if self.track.currentData() is None else "this track"
        self.preview.setText(
            f"Group sessions for {which} from {start:%a %m/%d/%Y} through {end:%a %m/%d/%Y}. "
            "On days the clinic is closed they are created already cancelled."
        )

    def _generate(self) -> None:
        self.created = schedule.generate_sessions(
            self.ctx.db,
            self.ctx.actor,
            from_qdate(self.start.date()),
            self.weeks.value(),
            facilitator_staff_id=self.facilitator.currentData(),
            track_id=self.track.currentData(),
        )


class CloseDayDialog(_ScheduleDialog):
    """Close the clinic for a day: every scheduled session that day is cancelled by the clinic."""

    def __init__(self, ctx: AppContext, day: dt.date, parent: QWidget | None = None) -> None:
        super().__init__(
            "Close clinic day",
            "For a holiday, bad weather or an emergency. Every session still scheduled that day "
            "is cancelled by the clinic, and weekly hour requirements are adjusted for the "
            "closed day. Sessions already held are kept.",
            "Close clinic day",
            parent,
        )
        self.ctx = ctx
        self.setMinimumWidth(520)
        self.cancelled: int | None = None
        self.to_cancel = 0
        self.already_closed: str | None = None
        self.date = _date_edit(day)
        self.reason = QLineEdit()
        self.reason.setObjectName("closeReason")
        self.reason.setPlaceholderText("e.g. Thanksgiving, snow day")
        self.reason.setMaxLength(200)
        self.preview = QLabel("")
        self.preview.setObjectName("preview")
        self.preview.setWordWrap(True)
        self.form.addRow("Date *", self.date)
        self.form.addRow("Reason *", self.reason)
        self.form.addRow(self.preview)
        self.fields = {"reason": self.reason, "session_date": self.date}
        self.date.dateChanged.connect(self._update)
        self._update()
        self.action = self._close
        self.reason.setFocus()

    def day(self) -> dt.date:
        return from_qdate(self.date.date())

    def _update(self) -> None:
        day = self.day()
        try:
            closures = schedule.list_closures(self.ctx.db, self.ctx.actor, day, day)
            sessions = schedule.list_sessions(self.ctx.db, self.ctx.actor, day, day)
        except UserError as exc:
            self.preview.setText(exc.message)
            return
        self.already_closed = closures[0].reason if closures else None
        self.to_cancel = sum(1 for s in sessions if s.status == SessionStatus.SCHEDULED)
        held = sum(1 for s in sessions if s.status == SessionStatus.HELD)
        if self.already_closed is not None:
            text = f"The clinic is already closed on {long_day(day)} ({self.already_closed})."
        elif self.to_cancel:
            text = (
                f"{plural(self.to_cancel, 'scheduled session')} on {long_day(day)} will be "
                "cancelled."
            )
        else:
            text = f"No sessions are scheduled on {long_day(day)}."
        if held and self.already_closed is None:
            text += f" {plural(held, 'session')} already held will be kept."
        self.preview.setText(text)
        self.preview.setProperty("warn", self.already_closed is not None or self.to_cancel > 0)
        self.preview.style().unpolish(self.preview)
        self.preview.style().polish(self.preview)

    def _close(self) -> bool | None:
        reason = self.reason.text().strip()
        if not reason:
            raise ValidationError("Enter the reason the clinic is closed.", {"reason": "Required."})
        self._update()
        day = self.day()
        if self.already_closed is None:
            what = (
                f"{plural(self.to_cancel, 'scheduled session')} will be cancelled by the clinic."
                if self.to_cancel
                else "No sessions are scheduled that day."
            )
            if not msgbox.confirm(
                self,
                "Close the clinic?",
                f"Close the clinic on {long_day(day)} ({reason})?\n\n{what}\n\n"
                "You can undo this later with Reopen clinic day.",
            ):
                return False
        self.cancelled = schedule.close_clinic_day(self.ctx.db, self.ctx.actor, day, reason)
        return None


class CancelDialog(_ScheduleDialog):
    """Cancel one session with a reason."""

    def __init__(self, ctx: AppContext, info: SessionInfo, parent: QWidget | None = None) -> None:
        super().__init__(
            "Cancel session",
            f"{info.title}\n{long_day(info.date)}, {time_range(info)}",
            "Cancel session",
            parent,
        )
        self.setMinimumWidth(480)
        self.ctx = ctx
        self.info = info
        self.done_info: SessionInfo | None = None
        self.buttons.button(self.buttons.StandardButton.Cancel).setText("Keep session")
        self.reason = QComboBox()
        self.reason.setObjectName("cancelReason")
        self.reason.setEditable(True)
        self.reason.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.reason.addItems(list(CANCEL_REASONS))
        self.reason.setCurrentIndex(-1)
        line = self.reason.lineEdit()
        if line is not None:
            line.setPlaceholderText("Choose or type the reason")
            line.setMaxLength(200)
        self.by_clinic = QRadioButton("The clinic")
        self.by_client = QRadioButton("The client")
        self.by_clinic.setChecked(True)
        who = QHBoxLayout()
        who.addWidget(self.by_clinic)
        who.addWidget(self.by_client)
        who.addStretch(1)
        self.form.addRow("Reason *", self.reason)
        self.who_row = QWidget()
        self.who_row.setLayout(who)
        who.setContentsMargins(0, 0, 0, 0)
        if info.kind != SessionKind.GROUP:
            self.form.addRow("Cancelled by", self.who_row)
            self.form.addRow(
                hint("A session cancelled by the client still counts against their weekly hours.")
            )
        else:
            self.who_row.hide()
            if info.roster_count:
                self.form.addRow(
                    hint(
                        f"{plural(info.roster_count, 'client')} on the roster will see this "
                        "group as cancelled by the clinic."
                    )
                )
        self.fields = {"reason": self.reason}
        self.action = self._cancel

    def _cancel(self) -> None:
        reason = self.reason.currentText().strip()
        if not reason:
            raise ValidationError("Enter the reason for the cancellation.", {"reason": "Required."})
        self.done_info = schedule.cancel_session(
            self.ctx.db,
            self.ctx.actor,
            self.info.id,
            self.info.version,
            reason,
            by_clinic=self.info.kind == SessionKind.GROUP or self.by_clinic.isChecked(),
        )


class FacilitatorsDialog(_ScheduleDialog):
    """Choose who runs a session; the primary facilitator is listed first on notes."""

    def __init__(self, ctx: AppContext, info: SessionInfo, parent: QWidget | None = None) -> None:
        super().__init__(
            "Facilitators",
            f"{info.title}\n{long_day(info.date)}, {time_range(info)}\n"
            "Tick everyone who runs this session. The primary facilitator comes first on "
            "the group note.",
            "Save facilitators",
            parent,
        )
        self.setMinimumWidth(480)
        self.ctx = ctx
        self.info = info
        self.done_info: SessionInfo | None = None
        self.list = QListWidget()
        self.list.setObjectName("staffList")
        self.list.setMinimumHeight(200)
        people = {p.id: p.display_name for p in staff.list_staff(ctx.db, ctx.actor)}
        current = dict(zip(info.facilitator_ids, info.facilitators, strict=False))
        order = list(current) + [i for i in people if i not in current]
        for sid in order:
            item = QListWidgetItem(people.get(sid) or current.get(sid, ""))
            item.setData(Qt.ItemDataRole.UserRole, sid)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if sid in current else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.primary = QComboBox()
        self.primary.setObjectName("primaryFacilitator")
        self.form.addRow("Facilitators", self.list)
        self.form.addRow("Primary", self.primary)
        self.fields = {"staff_ids": self.list}
        self.list.itemChanged.connect(lambda _i: self._fill_primary())
        self._fill_primary(info.facilitator_ids[0] if info.facilitator_ids else None)
        self.action = self._save

    def checked(self) -> list[int]:
        ids = []
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                ids.append(int(item.data(Qt.ItemDataRole.UserRole)))
        return ids

    def _fill_primary(self, keep: int | None = None) -> None:
        keep = keep if keep is not None else self.primary.currentData()
        self.primary.blockSignals(True)
        self.primary.clear()
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                self.primary.addItem(item.text(), item.data(Qt.ItemDataRole.UserRole))
        index = self.primary.findData(keep) if keep is not None else -1
        self.primary.setCurrentIndex(index if index >= 0 else 0)
        self.primary.setEnabled(self.primary.count() > 1)
        self.primary.blockSignals(False)

    def _save(self) -> None:
        ids = self.checked()
        primary = self.primary.currentData()
        if primary is not None and primary in ids:
            ids.remove(primary)
            ids.insert(0, int(primary))
        self.done_info = schedule.set_facilitators(
            self.ctx.db, self.ctx.actor, self.info.id, self.info.version, ids
        )


class AddClientDialog(_ScheduleDialog):
    """Add an active client to one occurrence of a group."""

    def __init__(
        self,
        ctx: AppContext,
        info: SessionInfo,
        on_roster: Sequence[int],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            "Add client to this session",
            f"{info.title}\n{long_day(info.date)}, {time_range(info)}\n"
            "Only this session changes; the client's track enrollment stays as it is.",
            "Add client",
            parent,
        )
        self.setMinimumWidth(480)
        self.ctx = ctx
        self.info = info
        self.added: int | None = None
        skip = set(on_roster)
        rows = [
            r
            for r in clients.list_census(ctx.db, ctx.actor, status=ClientStatus.ACTIVE.value)
            if r.id not in skip
        ]
        self.client = client_combo(rows)
        self.client.setObjectName("addClient")
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("Optional, e.g. make-up session")
        self.reason.setMaxLength(200)
        self.form.addRow("Client *", self.client)
        self.form.addRow("Reason", self.reason)
        self.fields = {"client_id": self.client, "reason": self.reason}
        self.action = self._add
        self.client.setFocus()

    def _add(self) -> None:
        client_id = chosen_client(self.client)
        if client_id is None:
            raise ValidationError(
                "Choose a client from the list.", {"client_id": "Choose a client."}
            )
        schedule.add_to_roster(
            self.ctx.db, self.ctx.actor, self.info.id, client_id, self.reason.text()
        )
        self.added = client_id


D = TypeVar("D", bound=_ScheduleDialog)


# -- the page --------------------------------------------------------------------------------
class SchedulePage(Page):
    """Week and day views of groups and appointments, with details, rosters and closures."""

    title = "Schedule"
    open_client = Signal(int)
    open_sign_in = Signal(int)  # session id

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setStyleSheet(PAGE_CSS)
        self.layout_.setSpacing(10)
        self.day = clock.today()
        self.mode = "week"
        self.week_start = self.day
        self.selected_id: int | None = None
        self.visible: list[SessionInfo] = []
        self.conflict_list: list[Conflict] = []
        self.conflict_texts: dict[int, list[str]] = {}
        self.closures: dict[dt.date, str] = {}
        self.active_dialog: QDialog | None = None
        self.manage = ctx.can(Perm.SCHEDULE_MANAGE)
        self._build_toolbar()
        self._build_banners()
        self._build_body()
        self._fill_filters()
        self._show_mode()

    # -- layout ----------------------------------------------------------------------------
    def _build_toolbar(self) -> None:
        nav = QHBoxLayout()
        nav.setSpacing(6)
        self.prev_btn = QPushButton("< Previous week")
        self.prev_btn.setShortcut(QKeySequence("Alt+Left"))
        self.today_btn = QPushButton("Today")
        self.today_btn.setShortcut(QKeySequence("Alt+Home"))
        self.today_btn.setToolTip("Go to today (Alt+Home)")
        self.next_btn = QPushButton("Next week >")
        self.next_btn.setShortcut(QKeySequence("Alt+Right"))
        self.date_edit = _date_edit(self.day)
        self.date_edit.setObjectName("scheduleDate")
        self.date_edit.setToolTip("Go to a date")
        self.range_label = QLabel("")
        self.range_label.setObjectName("rangeLabel")
        self.week_btn = QPushButton("Week")
        self.day_btn = QPushButton("Day")
        self.mode_group = QButtonGroup(self)
        for i, button in enumerate((self.week_btn, self.day_btn)):
            button.setObjectName("segment")
            button.setCheckable(True)
            button.setProperty("first", i == 0)
            button.setProperty("last", i == 1)
            self.mode_group.addButton(button)
        self.week_btn.setChecked(True)
        self.week_btn.setToolTip("Show the program week (Ctrl+Shift+W)")
        self.day_btn.setToolTip("Show one day as a list (Ctrl+Shift+D)")
        self.week_btn.setShortcut(QKeySequence("Ctrl+Shift+W"))
        self.day_btn.setShortcut(QKeySequence("Ctrl+Shift+D"))
        for w in (self.prev_btn, self.today_btn, self.next_btn, self.date_edit):
            nav.addWidget(w)
        nav.addStretch(1)
        segment = QHBoxLayout()
        segment.setSpacing(0)
        segment.addWidget(self.week_btn)
        segment.addWidget(self.day_btn)
        nav.addLayout(segment)
        self.layout_.addLayout(nav)
        self.layout_.addWidget(self.range_label)  # its own line: never cut at 1024x700

        self.track_filter = QComboBox()
        self.track_filter.setObjectName("trackFilter")
        self.therapist_filter = QComboBox()
        self.therapist_filter.setObjectName("therapistFilter")
        for combo in (self.track_filter, self.therapist_filter):
            combo.setMinimumWidth(170)
            combo.setMaximumWidth(240)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.notice = QLabel("")
        self.notice.setObjectName("notice")
        self.notice.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        # One wrapping row (filters, then the actions): at 1024x700 the actions move to a
        # second line instead of squeezing their labels (issue 19 item 17).
        filters = FlowLayout()
        filters.addWidget(self.track_filter)
        filters.addWidget(self.therapist_filter)
        self.book_btn = QPushButton("Book appointment...")
        self.book_btn.setObjectName("primary")
        self.book_btn.setShortcut(QKeySequence("Ctrl+N"))
        self.book_btn.setToolTip("Book an individual, family or intake session (Ctrl+N)")
        self.generate_btn = QPushButton("Generate group sessions...")
        self.generate_btn.setToolTip("Create the tracks' weekly group sessions ahead")
        self.close_btn = QPushButton("Close clinic day...")
        self.close_btn.setToolTip("Close the clinic for a holiday or emergency")
        for button in (self.book_btn, self.generate_btn, self.close_btn):
            button.setVisible(self.manage)
            filters.addWidget(button)
        self.layout_.addLayout(filters)
        self.layout_.addWidget(self.notice)

        self.prev_btn.clicked.connect(lambda: self._move(-1))
        self.next_btn.clicked.connect(lambda: self._move(1))
        self.today_btn.clicked.connect(lambda: self.go_to(clock.today()))
        self.date_edit.dateChanged.connect(lambda d: self.go_to(from_qdate(d)))
        self.week_btn.clicked.connect(lambda: self.set_mode("week"))
        self.day_btn.clicked.connect(lambda: self.set_mode("day"))
        self.track_filter.currentIndexChanged.connect(lambda _i: self.reload())
        self.therapist_filter.currentIndexChanged.connect(lambda _i: self.reload())
        self.book_btn.clicked.connect(self.book_appointment)
        self.generate_btn.clicked.connect(self.generate_sessions)
        self.close_btn.clicked.connect(self.close_clinic_day)

    def _build_banners(self) -> None:
        self.banner = QFrame()
        self.banner.setObjectName("conflictBanner")
        lay = QVBoxLayout(self.banner)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.setSpacing(4)
        top = QHBoxLayout()
        top.setSpacing(8)
        icon = QLabel()
        icon.setPixmap(mark_icon(paint_warning, 16).pixmap(16, 16))
        self.banner_title = QLabel("")
        self.banner_title.setObjectName("conflictTitle")
        self.banner_toggle = QPushButton("Show details")
        self.banner_toggle.setObjectName("bannerToggle")
        self.banner_toggle.setCursor(Qt.CursorShape.PointingHandCursor)
        top.addWidget(icon)
        top.addWidget(self.banner_title)
        top.addWidget(self.banner_toggle)
        top.addStretch(1)
        lay.addLayout(top)
        self.banner_list = QLabel("")
        self.banner_list.setObjectName("conflictList")
        self.banner_list.setWordWrap(True)
        self.banner_list.setTextFormat(Qt.TextFormat.RichText)
        self.banner_list.linkActivated.connect(self._conflict_link)
        self.banner_list.hide()
        lay.addWidget(self.banner_list)
        self.banner_toggle.clicked.connect(self._toggle_banner)
        self.banner.hide()
        self.layout_.addWidget(self.banner)

    def _build_body(self) -> None:
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.views = QStackedWidget()
        self.week = WeekGrid()
        self.week.session_selected.connect(self._week_selected)
        self.week.day_opened.connect(self.open_day)
        self.week.session_menu.connect(self._session_menu)
        self.week.day_menu.connect(self._day_menu)
        self.views.addWidget(self.week)

        day_page = QWidget()
        day_lay = QVBoxLayout(day_page)
        day_lay.setContentsMargins(0, 0, 0, 0)
        day_lay.setSpacing(8)
        self.closed_banner = QFrame()
        self.closed_banner.setObjectName("closedBanner")
        closed_lay = QHBoxLayout(self.closed_banner)
        closed_lay.setContentsMargins(10, 6, 10, 6)
        self.closed_text = QLabel("")
        self.closed_text.setObjectName("closedText")
        self.reopen_btn = QPushButton("Reopen clinic day...")
        self.reopen_btn.setVisible(self.manage)
        self.reopen_btn.clicked.connect(lambda: self.reopen_clinic_day(self.day))
        closed_lay.addWidget(self.closed_text, 1)
        closed_lay.addWidget(self.reopen_btn)
        self.closed_banner.hide()
        day_lay.addWidget(self.closed_banner)
        self.day_model = SessionRowsModel(day_columns())
        self.day_table = make_table()
        self.day_table.setObjectName("dayTable")
        self.day_table.setModel(self.day_model)
        self.day_table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.day_table.customContextMenuRequested.connect(self._day_table_menu)
        header = self.day_table.horizontalHeader()
        header.setStretchLastSection(False)
        for column, width in enumerate((92, 170, 76, 140, 124, 68, 92)):
            self.day_table.setColumnWidth(column, width)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        self.day_table.selectionModel().selectionChanged.connect(self._day_selected)
        day_lay.addWidget(self.day_table, 1)
        self.day_empty = muted("")
        self.day_empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        day_lay.addWidget(self.day_empty)
        self.views.addWidget(day_page)

        self.details = DetailsPanel(self.ctx)
        self.details.sign_in.clicked.connect(self.sign_in_selected)
        self.details.edit_facilitators.clicked.connect(self.edit_facilitators)
        self.details.cancel.clicked.connect(self.cancel_selected)
        self.details.reinstate.clicked.connect(self.reinstate_selected)
        self.details.add_client.clicked.connect(self.add_client)
        self.details.remove_client.clicked.connect(self.remove_client)
        self.details.roster.doubleClicked.connect(self._roster_activated)
        self.details.roster.activated.connect(self._roster_activated)
        self.details.roster.selectionModel().selectionChanged.connect(
            lambda _s, _d: self.details.update_remove()
        )
        self.splitter.addWidget(self.views)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setSizes([800, 300])
        self.layout_.addWidget(self.splitter, 1)

    def _fill_filters(self) -> None:
        track, therapist = self.track_filter.currentData(), self.therapist_filter.currentData()
        first = self.track_filter.count() == 0
        for combo in (self.track_filter, self.therapist_filter):
            combo.blockSignals(True)
            combo.clear()
        self.track_filter.addItem("All tracks and appointments", None)
        for t in lookups.list_tracks(self.ctx.db, self.ctx.actor):
            self.track_filter.addItem(t.name, t.id)
        self.therapist_filter.addItem("All staff", None)
        me = self.ctx.actor.staff_id
        for person in staff.list_staff(self.ctx.db, self.ctx.actor):
            if person.id == me or person in clinical_staff([person]):
                label = "My schedule" if person.id == me else person.display_name
                self.therapist_filter.addItem(label, person.id)
        a = self.ctx.actor
        if (
            first
            and me is not None
            and a.is_(Role.THERAPIST)
            and not (a.is_(Role.SUPERVISOR) or a.is_(Role.ADMIN))
        ):
            therapist = me  # a therapist starts on their own schedule
        for combo, value in ((self.track_filter, track), (self.therapist_filter, therapist)):
            index = combo.findData(value) if value is not None else 0
            combo.setCurrentIndex(max(0, index))
            combo.blockSignals(False)

    # -- navigation ------------------------------------------------------------------------
    def go_to(self, day: dt.date) -> None:
        self.day = day
        self.reload()

    def _move(self, direction: int) -> None:
        self.go_to(self.day + dt.timedelta(days=direction * (7 if self.mode == "week" else 1)))

    def set_mode(self, mode: str) -> None:
        if mode == self.mode:
            return
        self.mode = mode
        self._show_mode()
        self.reload()

    def open_day(self, day: dt.date) -> None:
        self.day = day
        self.mode = "day"
        self._show_mode()
        self.reload()

    def _show_mode(self) -> None:
        week = self.mode == "week"
        self.week_btn.setChecked(week)
        self.day_btn.setChecked(not week)
        self.views.setCurrentIndex(0 if week else 1)
        unit = "week" if week else "day"
        self.prev_btn.setText(f"< Previous {unit}")
        self.next_btn.setText(f"Next {unit} >")
        self.prev_btn.setToolTip(f"Previous {unit} (Alt+Left)")
        self.next_btn.setToolTip(f"Next {unit} (Alt+Right)")

    # -- loading ---------------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload from services (MainWindow shows a UserError; see reload() for our own use)."""
        self._fill_filters()
        self._load()

    def reload(self) -> None:
        try:
            self._load()
        except UserError as exc:
            msgbox.user_error(self, exc)

    def _load(self) -> None:
        db, actor = self.ctx.db, self.ctx.actor
        track_id = self.track_filter.currentData()
        staff_id = self.therapist_filter.currentData()
        today = clock.today()
        self.date_edit.blockSignals(True)
        self.date_edit.setDate(to_qdate(self.day))
        self.date_edit.blockSignals(False)
        week: WeekView | None = None
        if self.mode == "week":
            week = schedule.week_view(db, actor, self.day, track_id=track_id, staff_id=staff_id)
            start, end = week.start, week.start + dt.timedelta(days=6)
            self.week_start = start
            self.visible = [s for d in week.days for s in d.sessions]
            self.closures = {d.date: d.closure for d in week.days if d.closure is not None}
            self.range_label.setText(range_text(start, end))
        else:
            start = end = self.day
            self.visible = schedule.list_sessions(
                db, actor, start, end, track_id=track_id, staff_id=staff_id
            )
            self.closures = {
                c.date: c.reason for c in schedule.list_closures(db, actor, start, end)
            }
            label = long_day(self.day)
            self.range_label.setText(label + ("  (today)" if self.day == today else ""))
        found = schedule.conflicts(db, actor, start, end)
        ids = {s.id for s in self.visible}
        if track_id is not None or staff_id is not None:
            found = [c for c in found if ids & set(c.session_ids)]
        self.conflict_list = found
        titles = {s.id: session_label(s) for s in self.visible}
        self.conflict_texts = conflicts_by_session(found, titles)
        if week is not None:
            self.week.set_week(week, today, self.conflict_texts)
        else:
            self._fill_day()
        self._fill_banner(titles)
        if self.selected_id is not None and not self._select(self.selected_id):
            self.selected_id = None
        if self.selected_id is None:
            self.details.clear()

    def _fill_day(self) -> None:
        self.day_model.conflicts = self.conflict_texts
        self.day_model.set_rows(self.visible)
        header = self.day_table.horizontalHeader()
        self.day_model.sort(header.sortIndicatorSection(), header.sortIndicatorOrder())
        closure = self.closures.get(self.day)
        self.closed_banner.setVisible(closure is not None)
        if closure is not None:
            self.closed_text.setText(f"The clinic is closed on {long_day(self.day)}: {closure}")
        self.day_table.setVisible(bool(self.visible))
        self.day_empty.setVisible(not self.visible)
        filtered = (
            self.track_filter.currentData() is not None
            or self.therapist_filter.currentData() is not None
        )
        self.day_empty.setText(
            "No sessions match the filters on this day."
            if filtered
            else "No sessions are scheduled on this day."
        )

    def _fill_banner(self, titles: dict[int, str]) -> None:
        count = len(self.conflict_list)
        self.banner.setVisible(count > 0)
        if not count:
            return
        where = "this week" if self.mode == "week" else "this day"
        self.banner_title.setText(f"{plural(count, 'scheduling conflict')} {where}")
        texts = [conflict_text(c, titles) for c in self.conflict_list]
        self.banner.setToolTip("\n".join(texts))
        items = "".join(
            f'<li><a href="{c.session_ids[0]}" style="color:{CONFLICT_TEXT}">{_html(t)}</a></li>'
            for c, t in zip(self.conflict_list, texts, strict=True)
        )
        self.banner_list.setText(f'<ul style="margin:0 0 0 -24px; padding:0">{items}</ul>')

    def _toggle_banner(self) -> None:
        show = not self.banner_list.isVisible()
        self.banner_list.setVisible(show)
        self.banner_toggle.setText("Hide details" if show else "Show details")

    def _conflict_link(self, link: str) -> None:
        if link.isdigit():
            self._select(int(link))

    # -- selection -------------------------------------------------------------------------
    def _select(self, session_id: int) -> bool:
        if self.mode == "week":
            return self.week.select_session(session_id)
        for row, s in enumerate(self.day_model.rows):
            if s.id == session_id:
                self.day_table.selectRow(row)
                return True
        return False

    def select_session(self, session_id: int) -> bool:
        """Show a session (public, for other pages and tests)."""
        self.selected_id = session_id
        return self._select(session_id)

    def _week_selected(self, info: SessionInfo | None) -> None:
        self._show_details(info)
        if info is not None and info.date != self.day:
            self.day = info.date  # so the Day button opens the selected session's day
            self.date_edit.blockSignals(True)
            self.date_edit.setDate(to_qdate(info.date))
            self.date_edit.blockSignals(False)

    def _day_selected(self) -> None:
        rows = self.day_table.selectionModel().selectedRows()
        self._show_details(self.day_model.row_at(rows[0].row()) if rows else None)

    def _show_details(self, info: SessionInfo | None) -> None:
        if info is None:
            self.selected_id = None
            self.details.clear()
            return
        self.selected_id = info.id
        try:
            roster = schedule.roster(self.ctx.db, self.ctx.actor, info.id)
        except UserError as exc:
            msgbox.user_error(self, exc)
            return
        self.details.show_session(info, roster, self.conflict_texts.get(info.id, []))

    def selected(self) -> SessionInfo | None:
        return self.details.info

    def _roster_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_client.emit(self.details.roster_model.row_at(index.row()).client_id)

    # -- menus -----------------------------------------------------------------------------
    def _session_menu(self, info: SessionInfo, pos: QPoint) -> None:
        menu = QMenu(self)
        d = self.details
        for button in (d.sign_in, d.edit_facilitators, d.cancel, d.reinstate):
            if button.isVisibleTo(d):
                action = menu.addAction(button.text())
                action.setEnabled(button.isEnabled())
                action.triggered.connect(button.click)
        if self.mode == "week":
            menu.addSeparator()
            menu.addAction("Show this day").triggered.connect(lambda: self.open_day(info.date))
        menu.popup(pos)

    def _day_table_menu(self, pos: QPoint) -> None:
        index = self.day_table.indexAt(pos)
        if index.isValid():
            self.day_table.selectRow(index.row())
            info = self.day_model.row_at(index.row())
            self._session_menu(info, self.day_table.viewport().mapToGlobal(pos))

    def _day_menu(self, day: schedule.WeekDay, pos: QPoint) -> None:
        menu = QMenu(self)
        menu.addAction("Show this day").triggered.connect(lambda: self.open_day(day.date))
        if self.manage:
            if day.closure is not None:
                menu.addAction("Reopen clinic day...").triggered.connect(
                    lambda: self.reopen_clinic_day(day.date)
                )
            else:
                menu.addAction("Close clinic day...").triggered.connect(
                    lambda: self.close_clinic_day(day.date)
                )
                menu.addAction("Book appointment...").triggered.connect(
                    lambda: self.book_appointment(day.date)
                )
        menu.popup(pos)

    # -- actions ---------------------------------------------------------------------------
    def _open(self, dialog: D, on_accept: Callable[[], None]) -> D:
        """Open window-modal; reload after it closes (a stale record reloads too)."""
        self.active_dialog = dialog

        def finished(result: int) -> None:
            self.active_dialog = None
            if result == QDialog.DialogCode.Accepted:
                on_accept()
            elif dialog.stale:
                self.reload()
            dialog.deleteLater()

        dialog.finished.connect(finished)
        dialog.open()
        return dialog

    def _call(self, action: Callable[[], object]) -> bool:
        """Run a change; plain-language errors, and a reload when another workstation won."""
        try:
            action()
        except StaleRecordError as exc:
            msgbox.user_error(self, exc)
            self.reload()
            return False
        except UserError as exc:
            msgbox.user_error(self, exc)
            return False
        return True

    def book_appointment(self, day: dt.date | None = None) -> BookDialog:
        dialog = BookDialog(self.ctx, day if isinstance(day, dt.date) else self.day, self)

        def done() -> None:
            info = dialog.booked
            if info is None:
                return
            self.notice.setText(
                f"Booked {short_title(info)} on {day_text(info.date)} {time_range(info)}."
            )
            self.selected_id = info.id
            self.go_to(info.date)

        self._open(dialog, done)
        return dialog

    def generate_sessions(self) -> GenerateDialog:
        from iopdesk.services.clinic import get_setting

        weeks = int(get_setting(self.ctx.db, "schedule_weeks_ahead"))
        this_week = schedule.week_start_of(
            clock.today(), str(get_setting(self.ctx.db, "week_start"))
        )
        # The week on screen, but not weeks already past.
        start = max(self.week_start if self.mode == "week" else self.day, this_week)
        dialog = GenerateDialog(self.ctx, start, weeks, self)

        def done() -> None:
            n = dialog.created or 0
            if n:
                text = f"Created {plural(n, 'group session')}."
                msgbox.info(
                    self,
                    "Group sessions created",
                    f"{text} Sessions that already existed were kept. Set each session's "
                    "facilitators from its details if they were not chosen here.",
                )
            else:
                text = "No new group sessions were needed: they already exist."
                msgbox.info(self, "Nothing to create", text)
            self.notice.setText(text)
            self.reload()

        self._open(dialog, done)
        return dialog

    def close_clinic_day(self, day: dt.date | None = None) -> CloseDayDialog:
        dialog = CloseDayDialog(self.ctx, day if isinstance(day, dt.date) else self.day, self)

        def done() -> None:
            closed = dialog.day()
            self.notice.setText(
                f"Clinic closed on {day_text(closed)}: "
                f"{plural(dialog.cancelled or 0, 'session')} cancelled."
            )
            self.go_to(closed)

        self._open(dialog, done)
        return dialog

    def reopen_clinic_day(self, day: dt.date) -> None:
        reason = self.closures.get(day, "")
        if not msgbox.confirm(
            self,
            "Reopen the clinic?",
            f"Reopen the clinic on {long_day(day)}"
            + (f" (closed: {reason})" if reason else "")
            + "?\n\nSessions cancelled by the closure will be scheduled again. Sessions "
            "cancelled for another reason stay cancelled.",
        ):
            return
        restored: list[int] = []
        if self._call(
            lambda: restored.append(schedule.reopen_clinic_day(self.ctx.db, self.ctx.actor, day))
        ):
            self.notice.setText(
                f"Clinic reopened on {day_text(day)}: {plural(restored[0], 'session')} "
                "scheduled again."
            )
        self.reload()

    def sign_in_selected(self) -> None:
        info = self.selected()
        if info is not None and not info.is_cancelled:
            self.open_sign_in.emit(info.id)

    def cancel_selected(self) -> CancelDialog | None:
        info = self.selected()
        if info is None:
            return None
        dialog = CancelDialog(self.ctx, info, self)

        def done() -> None:
            self.notice.setText(f"Cancelled {short_title(info)} on {day_text(info.date)}.")
            self.reload()

        self._open(dialog, done)
        return dialog

    def reinstate_selected(self) -> None:
        info = self.selected()
        if info is None:
            return
        if self._call(
            lambda: schedule.reinstate_session(self.ctx.db, self.ctx.actor, info.id, info.version)
        ):
            self.notice.setText(f"Reinstated {short_title(info)} on {day_text(info.date)}.")
            self.reload()

    def edit_facilitators(self) -> FacilitatorsDialog | None:
        info = self.selected()
        if info is None:
            return None
        return self._open(FacilitatorsDialog(self.ctx, info, self), self.reload)

    def add_client(self) -> AddClientDialog | None:
        info = self.selected()
        if info is None:
            return None
        on_roster = [r.client_id for r in self.details.roster_model.rows]
        dialog = AddClientDialog(self.ctx, info, on_roster, self)
        self._open(dialog, self.reload)
        return dialog

    def remove_client(self) -> None:
        info = self.selected()
        entry = self.details.selected_entry()
        if info is None or entry is None:
            return
        if not msgbox.confirm(
            self,
            "Remove from this session?",
            f"Take {entry.display_name} off {info.title} on {long_day(info.date)}?\n\n"
            "Only this session changes; the client stays enrolled in the track.",
        ):
            return
        if self._call(
            lambda: schedule.remove_from_roster(
                self.ctx.db, self.ctx.actor, info.id, entry.client_id
            )
        ):
            self.notice.setText(f"Removed {entry.display_name} from this session.")
            self.reload()


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = [
    "AddClientDialog",
    "BookDialog",
    "CancelDialog",
    "CloseDayDialog",
    "FacilitatorsDialog",
    "GenerateDialog",
    "SchedulePage",
]
