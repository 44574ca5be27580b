"""The Schedule page: the toolbar, the week grid or day table, the details panel, and the
dialogs it opens.

Dialogs open window-modal with open() (not exec()), so the page stays responsive to the
inactivity lock and tests can fill a dialog in and press its buttons."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import shiboken6
from PySide6.QtCore import (
    QModelIndex,
    QPoint,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QKeySequence,
)
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from iopdesk.db import Database
from iopdesk.models.enums import Role
from iopdesk.services import lookups, schedule, staff
from iopdesk.services.actor import Actor
from iopdesk.services.permissions import Perm
from iopdesk.services.schedule import (
    Conflict,
    RosterEntry,
    SessionInfo,
    WeekView,
)
from iopdesk.ui import clock, msgbox, ops
from iopdesk.ui.context import AppContext
from iopdesk.ui.flow import FlowLayout
from iopdesk.ui.pages.intake import from_qdate, to_qdate
from iopdesk.ui.pages.schedule.add_client import AddClientDialog
from iopdesk.ui.pages.schedule.book import BookDialog
from iopdesk.ui.pages.schedule.cancel import CancelDialog
from iopdesk.ui.pages.schedule.close_day import CloseDayDialog
from iopdesk.ui.pages.schedule.details import DetailsPanel
from iopdesk.ui.pages.schedule.dialog_base import _date_edit, _ScheduleDialog, clinical_staff
from iopdesk.ui.pages.schedule.facilitators import FacilitatorsDialog
from iopdesk.ui.pages.schedule.generate import GenerateDialog
from iopdesk.ui.pages.schedule.labels import (
    CONFLICT_TEXT,
    PAGE_CSS,
    _html,
    conflict_text,
    conflicts_by_session,
    day_text,
    long_day,
    plural,
    range_text,
    session_label,
    short_title,
    time_range,
)
from iopdesk.ui.pages.schedule.week import (
    SessionRowsModel,
    WeekGrid,
    day_columns,
    mark_icon,
    paint_warning,
)
from iopdesk.ui.widgets import Page, make_table, muted

D = TypeVar("D", bound=_ScheduleDialog)
T = TypeVar("T")


@dataclass(frozen=True)
class _Query:
    """What to load, read from the widgets on the GUI thread before the worker starts."""

    day: dt.date
    mode: str  # "week" | "day"
    track_id: int | None
    staff_id: int | None
    today: dt.date
    with_filters: bool  # also read the track and staff lists for the filters


@dataclass
class _Loaded:
    query: _Query
    week: WeekView | None
    visible: list[SessionInfo]
    closures: dict[dt.date, str]
    conflicts: list[Conflict]
    tracks: list[tuple[int, str]] | None = None  # (id, name) when the filters were read
    people: list[tuple[int, str]] | None = None


def _read(db: Database, actor: Actor, q: _Query) -> _Loaded:
    """Everything the page shows for `q` (worker thread: services only, no widgets)."""
    tracks = people = None
    if q.with_filters:
        tracks = [(t.id, t.name) for t in lookups.list_tracks(db, actor)]
        me = actor.staff_id
        people = [
            (p.id, p.display_name)
            for p in staff.list_staff(db, actor)
            if p.id == me or p in clinical_staff([p])
        ]
    week: WeekView | None = None
    if q.mode == "week":
        week = schedule.week_view(db, actor, q.day, track_id=q.track_id, staff_id=q.staff_id)
        start, end = week.start, week.start + dt.timedelta(days=6)
        visible = [s for d in week.days for s in d.sessions]
        closures = {d.date: d.closure for d in week.days if d.closure is not None}
    else:
        start = end = q.day
        visible = schedule.list_sessions(
            db, actor, start, end, track_id=q.track_id, staff_id=q.staff_id
        )
        closures = {c.date: c.reason for c in schedule.list_closures(db, actor, start, end)}
    found = schedule.conflicts(db, actor, start, end)
    if q.track_id is not None or q.staff_id is not None:
        ids = {s.id for s in visible}
        found = [c for c in found if ids & set(c.session_ids)]
    return _Loaded(q, week, visible, closures, found, tracks, people)


# -- the page --------------------------------------------------------------------------------
class SchedulePage(Page):
    """Week and day views of groups and appointments, with details, rosters and closures."""

    title = "Schedule"
    shows = frozenset(
        {
            "clinic_session",
            "sessionfacilitator",
            "rosterchange",
            "attendance",
            "clinicclosure",
            "trackblock",
            "trackenrollment",
            "track",
            "staff",
            "client",
        }
    )
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
        self._closed_dialog: QDialog | None = None
        self.visible: list[SessionInfo] = []
        self.conflict_list: list[Conflict] = []
        self.conflict_texts: dict[int, list[str]] = {}
        self.closures: dict[dt.date, str] = {}
        self.active_dialog: QDialog | None = None
        self.manage = ctx.can(Perm.SCHEDULE_MANAGE)
        self._load_seq = 0  # the latest load; an older one arriving late is dropped
        self._roster_seq = 0
        self.loading: ops.Op[_Loaded] | None = None
        self.loading_roster: ops.Op[list[RosterEntry]] | None = None
        self._build_toolbar()
        self._build_banners()
        self._build_body()
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

    def _filter_values(self, first: bool) -> tuple[int | None, int | None]:
        """The track and staff filters to load with (the therapist's own schedule first)."""
        track, therapist = self.track_filter.currentData(), self.therapist_filter.currentData()
        a, me = self.ctx.actor, self.ctx.actor.staff_id
        if (
            first
            and me is not None
            and a.is_(Role.THERAPIST)
            and not (a.is_(Role.SUPERVISOR) or a.is_(Role.ADMIN))
        ):
            therapist = me  # a therapist starts on their own schedule
        return track, therapist

    def _fill_filters(self, loaded: _Loaded) -> None:
        """Refill the filter lists read with the data; keep the chosen values (GUI thread)."""
        me = self.ctx.actor.staff_id
        for combo in (self.track_filter, self.therapist_filter):
            combo.blockSignals(True)
            combo.clear()
        self.track_filter.addItem("All tracks and appointments", None)
        for track_id, name in loaded.tracks or ():
            self.track_filter.addItem(name, track_id)
        self.therapist_filter.addItem("All staff", None)
        for staff_id, name in loaded.people or ():
            self.therapist_filter.addItem("My schedule" if staff_id == me else name, staff_id)
        q = loaded.query
        for combo, value in ((self.track_filter, q.track_id), (self.therapist_filter, q.staff_id)):
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

    # -- loading (services on a worker thread, widgets on the GUI thread) ---------------------
    def refresh(self) -> None:
        """Reload the filter lists and the sessions shown (in the background)."""
        self._start_load(with_filters=True)

    def reload(self) -> None:
        """Reload the sessions shown for the current filters (in the background)."""
        self._start_load(with_filters=False)

    def _start_load(self, with_filters: bool) -> ops.Op[_Loaded]:
        first = self.track_filter.count() == 0
        track_id, staff_id = self._filter_values(first)
        query = _Query(
            day=self.day,
            mode=self.mode,
            track_id=track_id,
            staff_id=staff_id,
            today=clock.today(),
            with_filters=with_filters or first,
        )
        self.date_edit.blockSignals(True)
        self.date_edit.setDate(to_qdate(self.day))
        self.date_edit.blockSignals(False)
        self._load_seq += 1
        seq = self._load_seq
        db, actor = self.ctx.db, self.ctx.actor
        self.loading = (
            ops.Op(self, lambda: _read(db, actor, query), takes_control=False)
            .success(lambda loaded: self._present(seq, loaded))
            .run_in_background()
        )
        return self.loading

    def _present(self, seq: int, loaded: _Loaded) -> None:
        if seq != self._load_seq or not shiboken6.isValid(self):
            return  # a newer load is on its way, or the page was closed meanwhile
        q = loaded.query
        if loaded.tracks is not None:
            self._fill_filters(loaded)
        week = loaded.week
        self.visible = loaded.visible
        self.closures = loaded.closures
        if week is not None:
            self.week_start = week.start
            self.range_label.setText(range_text(week.start, week.start + dt.timedelta(days=6)))
        else:
            label = long_day(q.day)
            self.range_label.setText(label + ("  (today)" if q.day == q.today else ""))
        self.conflict_list = loaded.conflicts
        titles = {s.id: session_label(s) for s in self.visible}
        self.conflict_texts = conflicts_by_session(loaded.conflicts, titles)
        if week is not None:
            self.week.set_week(week, q.today, self.conflict_texts)
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
        self._roster_seq += 1
        seq = self._roster_seq
        db, actor = self.ctx.db, self.ctx.actor

        def show(roster: list[RosterEntry]) -> None:
            if shiboken6.isValid(self) and seq == self._roster_seq and self.selected_id == info.id:
                self.details.show_session(info, roster, self.conflict_texts.get(info.id, []))

        self.loading_roster = (
            ops.Op(self, lambda: schedule.roster(db, actor, info.id), takes_control=False)
            .success(show)
            .run_in_background()
        )

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
        """Open window-modal; reload after it closes (a stale record reloads too). A closed
        dialog is deleted when the next one opens (its outcome stays readable until then)."""
        if self._closed_dialog is not None and shiboken6.isValid(self._closed_dialog):
            self._closed_dialog.deleteLater()
        self._closed_dialog = None
        self.active_dialog = dialog

        def finished(result: int) -> None:
            self.active_dialog = None
            self._closed_dialog = dialog
            if result == QDialog.DialogCode.Accepted:
                on_accept()
            elif dialog.stale:
                self.reload()

        dialog.finished.connect(finished)
        dialog.open()
        return dialog

    def _call(self, action: Callable[[], T], then: Callable[[T], object]) -> ops.Op[T]:
        """Run a change on an op worker: `then(result)` after it went through; plain-language
        errors, and a reload when another workstation won."""
        self.last_op = (
            ops.Op(self, action, takes_control=False)
            .success(then)
            .on_stale(self.reload)
            .run_in_background()
        )
        return self.last_op

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
        db, actor = self.ctx.db, self.ctx.actor

        def reopened(restored: int) -> None:
            self.notice.setText(
                f"Clinic reopened on {day_text(day)}: {plural(restored, 'session')} "
                "scheduled again."
            )
            self.reload()

        self._call(lambda: schedule.reopen_clinic_day(db, actor, day), reopened)

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
        db, actor = self.ctx.db, self.ctx.actor

        def reinstated(_result: object) -> None:
            self.notice.setText(f"Reinstated {short_title(info)} on {day_text(info.date)}.")
            self.reload()

        self._call(lambda: schedule.reinstate_session(db, actor, info.id, info.version), reinstated)

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
        db, actor = self.ctx.db, self.ctx.actor

        def removed(_result: object) -> None:
            self.notice.setText(f"Removed {entry.display_name} from this session.")
            self.reload()

        self._call(
            lambda: schedule.remove_from_roster(db, actor, info.id, entry.client_id), removed
        )
