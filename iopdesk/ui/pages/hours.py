"""Weekly hours against the requirement: the compliance dashboard and a client's chart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from iopdesk.services import hours
from iopdesk.services.clock import week_label
from iopdesk.ui import clock, files, msgbox, ops
from iopdesk.ui.context import AppContext
from iopdesk.ui.dates import DateEdit
from iopdesk.ui.flow import flow_row
from iopdesk.ui.tablemodel import Column, RowsModel
from iopdesk.ui.widgets import make_table, muted

OK, WARN, BAD, GREY = "#2e7d32", "#b26a00", "#c62828", "#5f6d7c"


def row_color(r: hours.WeekRow) -> str:
    if r.status == "no requirement":
        return GREY
    if r.status == "met":
        return OK
    return WARN if r.projection == "on track" else BAD


def status_text(r: hours.WeekRow) -> str:
    if r.status == "met" or r.projection is None:
        return r.status
    return f"{r.status} ({r.projection})"


def _required_days(r: hours.WeekRow) -> str:
    return "" if r.required_days is None else str(r.required_days)


def _days_color(r: hours.WeekRow) -> str | None:
    """Red when a day minimum is not reached (yet)."""
    if r.required_days is None or r.attended_days >= r.required_days:
        return None
    return BAD


def on_hold_ids(ctx: AppContext) -> set[int]:
    """Clients on hold: their week is not "at risk", they are paused (issue 19 item 13)."""
    from iopdesk.services import clients

    return {r.id for r in clients.list_census(ctx.db, ctx.actor, status="on_hold")}


def urgency(r: hours.WeekRow, on_hold: set[int]) -> int:
    """Default order: the clients who need attention first."""
    if r.client_id in on_hold:
        return 5
    if r.projection == "at risk" or (r.status == "not met" and r.projection is None):
        return 0
    if r.status == "not met":
        return 1
    return 2 if r.status == "met" else 3


def _h(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


class WeeklyHoursWidget(QWidget):
    """This week's compliance for every client, colour-coded, sortable, filterable."""

    open_client = Signal(int)

    def __init__(self, ctx: AppContext, compact: bool = False) -> None:
        super().__init__()
        self.ctx = ctx
        self.on_hold: set[int] = set()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.week = DateEdit(clock.today(), weekday=True)
        self.week.setObjectName("weekDay")
        self.week.setToolTip("Any day in the week; type it or pick it.")
        self.week_label = QLabel("")
        self.week_label.setObjectName("weekLabel")
        prev_w = QPushButton("<")
        prev_w.setFixedWidth(34)
        prev_w.setObjectName("arrow")
        next_w = QPushButton(">")
        next_w.setFixedWidth(34)
        next_w.setObjectName("arrow")
        prev_w.clicked.connect(lambda: self.week.setDate(self.week.date().addDays(-7)))
        next_w.clicked.connect(lambda: self.week.setDate(self.week.date().addDays(7)))
        self.track = QComboBox()
        self.therapist = QComboBox()
        self._fill_filters()
        for combo in (self.track, self.therapist):
            combo.setMaximumWidth(210)
        self.summary = muted("")
        self.summary.setWordWrap(False)
        # Wrapping at 1024x700; the counts get their own line below.
        bar.addWidget(
            flow_row(prev_w, self.week, next_w, self.week_label, self.track, self.therapist), 1
        )
        if not compact:
            export = QPushButton("Export report...")
            export.clicked.connect(self._export)
            bar.addWidget(export, 0, Qt.AlignmentFlag.AlignTop)
        lay.addLayout(bar)
        lay.addWidget(self.summary)
        self.model: RowsModel[hours.WeekRow] = RowsModel(
            [
                Column("MRN", lambda r: r.mrn),
                Column("Client", lambda r: r.client, sort_key=lambda r: r.client.casefold()),
                Column("Track", lambda r: r.track),
                Column("Therapist", lambda r: r.therapist),
                Column(
                    "Required",
                    lambda r: _h(r.required_hours) + ("*" if r.client_id in self.overrides else ""),
                    align_right=True,
                    sort_key=lambda r: r.required_minutes,
                ),
                Column(
                    "Attended",
                    lambda r: _h(r.attended_hours),
                    align_right=True,
                    sort_key=lambda r: r.attended_minutes,
                ),
                Column(
                    "Left",
                    lambda r: _h(r.remaining_hours) if r.remaining_minutes else "",
                    align_right=True,
                    sort_key=lambda r: r.remaining_minutes,
                ),
                Column(
                    "Status",
                    lambda r: "on hold" if r.client_id in self.on_hold else status_text(r),
                    color=lambda r: GREY if r.client_id in self.on_hold else row_color(r),
                    sort_key=lambda r: urgency(r, self.on_hold),
                ),
                Column(
                    "Required Days",
                    _required_days,
                    align_right=True,
                    sort_key=lambda r: -1 if r.required_days is None else r.required_days,
                ),
                Column(
                    "Attended Days",
                    lambda r: str(r.attended_days),
                    align_right=True,
                    color=_days_color,
                    sort_key=lambda r: r.attended_days,
                ),
                Column(
                    "No-shows",
                    lambda r: r.unexcused_streak or "",
                    align_right=True,
                    color=lambda r: BAD if r.streak_flag else None,
                    sort_key=lambda r: r.unexcused_streak,
                ),
            ]
        )
        self.table = make_table()
        self.table.setObjectName("hoursTable")
        self.table.setModel(self.model)
        for column, width in enumerate((76, 180, 165, 165, 80, 80, 56, 150, 104, 104)):
            self.table.setColumnWidth(column, width)
        self.table.doubleClicked.connect(self._activated)
        self.table.activated.connect(self._activated)
        lay.addWidget(self.table, 1)
        # client hours overrides that apply this week, with their end dates (issue 20 item 7)
        self.overrides: dict[int, Any] = {}
        self.override_note = muted("")
        self.override_note.setObjectName("hoursOverrides")
        lay.addWidget(self.override_note)
        lay.addWidget(
            muted(
                "Green: met. Orange: not met yet but the remaining sessions can still reach it. "
                "Red: cannot be met this week, or not met. Double-click a client to open the chart."
            )
        )
        self.week.dateChanged.connect(lambda _d: self.refresh())
        self.track.currentIndexChanged.connect(lambda _i: self.refresh())
        self.therapist.currentIndexChanged.connect(lambda _i: self.refresh())

    def _fill_filters(self) -> None:
        """The filters' first entries; the tracks and therapists come with the first load."""
        self.track.addItem("All tracks", None)
        self.therapist.addItem("All therapists", None)
        self._filters_loaded = False

    def _present_filters(self, choices: tuple[list[Any], list[Any]]) -> None:
        tracks, therapists = choices
        for combo, items in ((self.track, tracks), (self.therapist, therapists)):
            combo.blockSignals(True)
            while combo.count() > 1:
                combo.removeItem(1)
            for name, key in items:
                combo.addItem(name, key)
            combo.blockSignals(False)
        self._filters_loaded = True

    def week_of(self) -> date:
        d = self.week.date()
        return date(d.year(), d.month(), d.day())

    def refresh(self) -> None:
        from iopdesk.ui.pages.loading import load

        day, track, therapist = (
            self.week_of(),
            self.track.currentData(),
            self.therapist.currentData(),
        )
        filters = not self._filters_loaded
        load(self, lambda: self.fetch(day, track, therapist, filters), self.present)

    def fetch(
        self, day: date, track_id: int | None, therapist_id: int | None, filters: bool = False
    ) -> _Week:
        """Worker thread: services only."""
        from iopdesk.services import lookups, overrides, staff

        db, actor = self.ctx.db, self.ctx.actor
        choices = None
        if filters:
            choices = (
                [(t.name, t.id) for t in lookups.list_tracks(db, actor)],
                [
                    (s.display_name, s.id)
                    for s in staff.list_staff(db, actor)
                    if "therapist" in s.roles or "supervisor" in s.roles
                ],
            )
        start, _end = hours.week_bounds(db, day)
        rows = hours.weekly_hours(
            db, actor, day, track_id=track_id, therapist_staff_id=therapist_id
        )
        found = overrides.overrides_for_week(db, actor, start, [r.client_id for r in rows])
        return _Week(start, rows, found, on_hold_ids(self.ctx), choices)

    def present(self, data: _Week) -> None:
        if data.choices is not None:
            self._present_filters(data.choices)
        self.week_label.setText(week_label(data.start))
        rows = data.rows
        self._present_overrides(rows, data.overrides)
        self.on_hold = data.on_hold
        held = self.on_hold
        # At risk first, then not met, met, no requirement; clients on hold last.
        rows = sorted(rows, key=lambda r: (urgency(r, held), r.client.casefold()))
        self.model.set_rows(rows)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        active = [r for r in rows if r.client_id not in held]
        met = sum(1 for r in active if r.status == "met")
        risk = sum(1 for r in active if r.projection == "at risk")
        short = sum(1 for r in active if r.status == "not met")
        paused = len(rows) - len(active)
        self.summary.setText(
            f"{len(rows)} clients · {met} met · {short} not met"
            + (f" · {risk} at risk" if risk else "")
            + (f" · {paused} on hold" if paused else "")
        )

    def _activated(self, index: QModelIndex) -> None:
        self.open_client.emit(self.model.row_at(index.row()).client_id)

    def _present_overrides(self, rows: list[hours.WeekRow], found: dict[int, Any]) -> None:
        """Mark the clients whose own hours override applies this week (Required "*") and
        list each with its end date under the table."""
        self.overrides = found
        names = {r.client_id: r.client for r in rows}
        parts = [
            f"{names.get(cid, cid)}: {o.label[len('Override ') :]}"
            for cid, o in sorted(found.items(), key=lambda kv: str(names.get(kv[0], "")))
        ]
        self.override_note.setText("* Client hours override: " + "; ".join(parts) if parts else "")
        self.override_note.setVisible(bool(parts))

    def _export(self) -> None:
        from iopdesk.ui.pages.privacy import ask_release

        release = ask_release(self, "The weekly hours report lists clients and their attendance")
        if release is None:
            return
        week = self.week_of()
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Export weekly hours",
            str(files.default_path(f"weekly-hours-{week:%Y-%m-%d}.xlsx")),
            "Excel workbook (*.xlsx);;PDF (*.pdf)",
        )
        if not path:
            return
        db, actor, target = self.ctx.db, self.ctx.actor, Path(path)
        ops.Op(
            self, lambda: hours.export_attendance_report(db, actor, week, target, release)
        ).with_progress("Writing the weekly hours report...").success(
            lambda n: msgbox.info(
                self, "Report saved", f"Weekly hours for {n} clients saved to {path}."
            )
        ).run_in_background()


@dataclass(frozen=True)
class _Week:
    start: date
    rows: list[hours.WeekRow]
    overrides: dict[int, Any]
    on_hold: set[int]
    choices: tuple[list[Any], list[Any]] | None


class HoursChart(QWidget):
    """Bars of attended hours per week over the stay, with the requirement as a line."""

    def __init__(self) -> None:
        super().__init__()
        self.points: list[tuple[date, hours.WeekRow]] = []
        self.setMinimumHeight(150)

    def set_points(self, points: list[tuple[date, hours.WeekRow]]) -> None:
        self.points = points
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(44, 14, -12, -30)
        p.fillRect(self.rect(), QColor("white"))
        if not self.points:
            p.setPen(QColor(GREY))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No weeks of attendance yet.")
            return
        top = max(
            [float(r.attended_hours) for _, r in self.points]
            + [float(r.required_hours or 0) for _, r in self.points]
            + [1.0]
        )
        top = float(int(top) + 2)
        p.setPen(QPen(QColor("#d8dee6"), 1))
        font = QFont(self.font())
        font.setPointSizeF(8)
        p.setFont(font)
        for h in range(0, int(top) + 1, max(1, int(top) // 5)):
            y = rect.bottom() - rect.height() * h / top
            p.setPen(QPen(QColor("#eef1f5"), 1))
            p.drawLine(int(rect.left()), int(y), int(rect.right()), int(y))
            p.setPen(QColor(GREY))
            p.drawText(QRectF(0, y - 8, 38, 16), Qt.AlignmentFlag.AlignRight, f"{h} h")
        n = len(self.points)
        slot = rect.width() / n
        bar_w = max(4.0, min(34.0, slot * 0.6))
        for i, (start, r) in enumerate(self.points):
            x = rect.left() + slot * i + (slot - bar_w) / 2
            height = rect.height() * float(r.attended_hours) / top
            p.fillRect(QRectF(x, rect.bottom() - height, bar_w, height), QColor(row_color(r)))
            if r.required_hours is not None:
                y = rect.bottom() - rect.height() * float(r.required_hours) / top
                p.setPen(QPen(QColor("#17324d"), 2))
                p.drawLine(int(x - 3), int(y), int(x + bar_w + 3), int(y))
            if n <= 16 or i % max(1, n // 12) == 0:
                p.setPen(QColor(GREY))
                p.drawText(
                    QRectF(x - 20, rect.bottom() + 4, bar_w + 40, 14),
                    Qt.AlignmentFlag.AlignHCenter,
                    f"{start:%m/%d}",
                )
        p.end()


class ClientHoursTab(QWidget):
    """The chart's Attendance tab: weekly hours over the stay, chart plus table."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        lay = QVBoxLayout(self)
        self.caption = muted("")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.caption.setWordWrap(True)
        lay.addWidget(self.caption)
        self.chart = HoursChart()
        lay.addWidget(self.chart, 2)
        self.model: RowsModel[tuple[date, hours.WeekRow]] = RowsModel(
            [
                Column("Week", lambda t: week_label(t[0]), sort_key=lambda t: t[0]),
                Column("Track", lambda t: t[1].track),
                Column("Required", lambda t: _h(t[1].required_hours), align_right=True),
                Column("Attended", lambda t: _h(t[1].attended_hours), align_right=True),
                Column("Status", lambda t: status_text(t[1]), color=lambda t: row_color(t[1])),
                Column("Required Days", lambda t: _required_days(t[1]), align_right=True),
                Column("Attended Days", lambda t: str(t[1].attended_days), align_right=True),
            ]
        )
        self.table = make_table()
        self.table.setModel(self.model)
        week_width = self.fontMetrics().horizontalAdvance("Mon 11/30 - Sun 12/06") + 28
        # the headings are bold: wide enough for "Required Days" with the sort arrow
        days_width = self.table.horizontalHeader().fontMetrics().horizontalAdvance("Required Days")
        days_width = max(104, int(days_width * 1.15) + 30)
        for column, width in enumerate((week_width, 220, 90, 90, 150, days_width)):
            self.table.setColumnWidth(column, width)
        lay.addWidget(self.table, 1)
        # The chosen week explained: what was scheduled and what happened at each session.
        self.explain = muted("Select a week to see its sessions.")
        self.explain.setObjectName("weekExplain")
        self.explain.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.explain.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        holder = QScrollArea()  # a busy week scrolls here instead of squeezing the table
        holder.setWidgetResizable(True)
        holder.setFrameShape(QScrollArea.Shape.NoFrame)
        holder.setWidget(self.explain)
        holder.setMaximumHeight(112)
        holder.viewport().setAutoFillBackground(False)
        self.explain.setAutoFillBackground(False)
        lay.addWidget(holder)
        self.client_id: int | None = None
        self._explaining: tuple[int, date] | None = None
        self._prefetched: tuple[int, date, Any] | None = None
        self.explaining: Any = None  # the running read of the chosen week (tests wait on it)
        self.table.selectionModel().currentRowChanged.connect(
            lambda current, _previous: self.explain_week(current.row())
        )

    def explain_week(self, row: int) -> None:
        """The chosen week explained: read on a worker; shown if it is still the chosen one."""
        from iopdesk.services.weekdetail import week_detail
        from iopdesk.ui import ops

        if self.client_id is None or not 0 <= row < self.model.rowCount():
            return
        start = self.model.row_at(row)[0]
        db, actor, client_id = self.ctx.db, self.ctx.actor, self.client_id
        self._explaining = (client_id, start)
        known = self._prefetched
        if known is not None and known[:2] == (client_id, start):
            self.explaining = None
            self._show_week(known[2])
            return

        def show(detail: Any) -> None:
            import shiboken6

            if shiboken6.isValid(self.explain) and self._explaining == (client_id, start):
                self._show_week(detail)

        self.explaining = (
            ops.Op(self, lambda: week_detail(db, actor, client_id, start), takes_control=False)
            .success(show)
            .run_in_background()
        )

    def _show_week(self, detail: Any) -> None:
        lines = [detail.summary()]
        for s in detail.sessions:
            what = {
                "attended": f"attended ({s.attendance.replace('_', ' ')}, {s.minutes} min)",
                "missed": s.attendance.replace("_", " ").replace("absent ", "missed, "),
            }.get(s.outcome, s.outcome)
            lines.append(f"  {s.day:%a %m/%d} {s.start:%H:%M}-{s.end:%H:%M}  {s.title}: {what}")
        self.explain.setText("\n".join(lines))

    def fetch(self, client_id: int, reason: str = "") -> tuple[list[Any], Any]:
        """Worker side of `load`: the weekly history and its latest week explained, in one
        read (nothing read when the chart hides the attendance history from this user)."""
        if reason:
            return [], None
        history, latest = hours.client_attendance(self.ctx.db, self.ctx.actor, client_id)
        return list(history), latest

    def load(
        self, client_id: int, reason: str = "", data: tuple[list[Any], Any] | None = None
    ) -> None:
        """`reason`: the chart hides the attendance history from this user; shown instead.
        `data`: what `fetch` read on a worker (read here when not given)."""
        if data is None:
            data = self.fetch(client_id, reason)
        points, latest = data
        self.client_id = client_id
        self._explaining = None
        # the latest week came with the history: selecting it shows it without another read
        self._prefetched = (
            (client_id, latest.week_start, latest) if latest is not None and points else None
        )
        self.explain.setText("Select a week to see its sessions.")
        self.chart.setVisible(not reason)
        self.table.setVisible(not reason)
        if reason:
            self.chart.set_points([])
            self.model.set_rows([])
            self.caption.setText(reason)
            return
        self.chart.set_points(points)
        self.model.set_rows(list(reversed(points)))
        met = sum(1 for _, r in points if r.status == "met")
        counted = sum(1 for _, r in points if r.status != "no requirement")
        self.caption.setText(
            f"Weekly hours over the stay: requirement met in {met} of {counted} weeks. "
            "Bars: attended hours; dark line: required hours."
            if points
            else "No attendance recorded yet."
        )
        if points:
            self.table.selectRow(0)  # the latest week, explained


def current_week_start(ctx: AppContext) -> date:
    start, _end = hours.week_bounds(ctx.db, clock.today())
    return start


__all__ = ["ClientHoursTab", "WeeklyHoursWidget", "current_week_start", "timedelta"]
