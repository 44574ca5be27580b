"""Clients: the census list (search as you type) and the client chart."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from iopdesk.errors import UserError
from iopdesk.models.enums import ClientStatus, Role
from iopdesk.services import clients, notes, overrides
from iopdesk.services.permissions import Perm
from iopdesk.ui import clock, msgbox, ops
from iopdesk.ui.context import AppContext
from iopdesk.ui.flow import flow_row
from iopdesk.ui.pages.audit import ChartAuditTab
from iopdesk.ui.pages.caseload import AssignDialog
from iopdesk.ui.tablemodel import Column, RowsModel
from iopdesk.ui.widgets import Page, make_table, muted, section_title

STATUS_LABELS = {
    "referral": "Referral",
    "intake": "Intake",
    "active": "Active",
    "on_hold": "On hold",
    "discharged": "Discharged",
}
CENSUS_MAX_AGE = 30.0  # seconds a census read is filtered before it is read again
STATUS_COLORS = {"active": "#2e7d32", "on_hold": "#b26a00", "discharged": "#5f6d7c"}


def age(dob: date, on: date | None = None) -> int:
    on = on or clock.today()
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


class ClientsPage(Page):
    """The census: search as you type, filters, and (for a therapist) their own caseload first."""

    title = "Clients"
    shows = frozenset(
        {
            "client",
            "episode",
            "trackenrollment",
            "therapistassignment",
            "coverage",
            "authorization",
            "billingline",
            "track",
            "staff",
            "payer",
        }
    )
    open_client = Signal(int)
    new_client = Signal()

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        bar = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setObjectName("censusSearch")
        self.search.setPlaceholderText("Search name, MRN or phone...")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(220)
        self.status = QComboBox()
        self.status.addItem("All statuses", None)
        for value, label in STATUS_LABELS.items():
            self.status.addItem(label, value)
        self.track = QComboBox()
        self.therapist = QComboBox()
        self.payer = QComboBox()
        for combo in (self.track, self.therapist, self.payer):
            combo.setMinimumWidth(150)
            combo.setMaximumWidth(180)
        self.track.addItem("All tracks", None)
        self.therapist.addItem("All therapists", None)
        self.payer.addItem("All payers", None)
        self._filters_filled = False  # the filter lists come with the first census read
        self.count = muted("")
        # The filters wrap at 1024x700 so "New client..." keeps its whole label.
        filters = flow_row(self.search, self.status, self.track, self.therapist, self.payer)
        bar.addWidget(filters, 1)
        bar.addWidget(self.count, 0, Qt.AlignmentFlag.AlignTop)
        if ctx.can(Perm.CLIENT_EDIT):
            add = QPushButton("New client...")
            add.setObjectName("primary")
            add.setShortcut("Ctrl+N")
            add.setToolTip("Register a new client (Ctrl+N)")
            add.clicked.connect(self.new_client.emit)
            bar.addWidget(add, 0, Qt.AlignmentFlag.AlignTop)
        self.layout_.addLayout(bar)
        self.model: RowsModel[clients.CensusRow] = RowsModel(
            [
                Column("MRN", lambda r: r.mrn),
                Column(
                    "Client",
                    lambda r: (
                        r.display_name + (f" ({r.preferred_name})" if r.preferred_name else "")
                    ),
                    sort_key=lambda r: (r.last_name.lower(), r.first_name.lower()),
                ),
                Column(
                    "DOB",
                    lambda r: f"{r.dob:%m/%d/%Y}" if r.dob else "",
                    sort_key=lambda r: (r.dob is not None, r.dob or date.min),
                ),
                Column(
                    "Status",
                    lambda r: STATUS_LABELS.get(r.status, r.status),
                    color=lambda r: STATUS_COLORS.get(r.status),
                ),
                Column("Track", lambda r: r.track),
                Column("Primary therapist", lambda r: r.therapist),
                Column("Payer", lambda r: r.payer),
                Column(
                    "Next review",
                    lambda r: f"{r.next_review:%m/%d/%Y}" if r.next_review else "",
                    sort_key=lambda r: r.next_review,
                    color=lambda r: _review_color(r.next_review),
                ),
                Column(
                    "Auth left",
                    lambda r: "" if r.auth_remaining is None else r.auth_remaining,
                    sort_key=lambda r: r.auth_remaining,
                    align_right=True,
                    color=lambda r: _auth_color(r.auth_remaining, self.auth_warn_units),
                ),
                Column("Phone", lambda r: r.phone),
            ]
        )
        self.auth_warn_units = 3
        self.table = make_table()
        self.table.setObjectName("censusTable")
        self.table.setModel(self.model)
        header = self.table.horizontalHeader()
        for column, width in enumerate((74, 190, 84, 78, 150, 160, 130, 84, 66)):
            self.table.setColumnWidth(column, width)
        header.setStretchLastSection(True)
        header.setSortIndicator(1, Qt.SortOrder.AscendingOrder)  # the query's name order
        self.table.doubleClicked.connect(self._activated)
        self.table.activated.connect(self._activated)
        self.layout_.addWidget(self.table, 1)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(self._apply_search)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self._census = clients.CensusIndex([])
        self._census_at = float("-inf")
        # Reads and searches run on workers; only the newest of each is shown (a slow older
        # read or keystroke never overwrites a newer one).
        self._read_seq = 0
        self._search_seq = 0
        self.reading: ops.Op[Any] | None = None
        self.searching: ops.Op[Any] | None = None
        for combo in (self.status, self.track, self.therapist, self.payer):
            combo.currentIndexChanged.connect(lambda _i: self.refresh())

    def _only_my_caseload(self) -> bool:
        """A therapist's default view is their own caseload (they can pick "All therapists")."""
        a = self.ctx.actor
        return (
            a.staff_id is not None
            and a.is_(Role.THERAPIST)
            and not (a.is_(Role.SUPERVISOR) or a.is_(Role.ADMIN))
        )

    def _fill_filters(self, tracks: list[Any], staff_rows: list[Any], payers: list[Any]) -> None:
        combos = (self.track, self.therapist, self.payer)
        for combo in combos:
            combo.blockSignals(True)
        for t in tracks:
            self.track.addItem(t.name, t.id)
        me = self.ctx.actor.staff_id
        for s in staff_rows:
            if "therapist" in s.roles or "supervisor" in s.roles or s.id == me:
                label = "My caseload" if s.id == me else s.display_name
                self.therapist.addItem(label, s.id)
        for p in payers:
            self.payer.addItem(p.name, p.id)
        if self._only_my_caseload():
            index = self.therapist.findData(me)
            if index >= 0:
                self.therapist.setCurrentIndex(index)
        for combo in combos:
            combo.blockSignals(False)
        self._filters_filled = True

    def set_search(self, text: str) -> None:
        self.search.setText(text)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the census for the filters (on a worker); the search box then filters it
        in memory. The first read also brings the filter lists."""
        from iopdesk.services import lookups, staff
        from iopdesk.services.clinic import get_setting

        db, actor = self.ctx.db, self.ctx.actor
        first = not self._filters_filled
        therapist = self.therapist.currentData()
        if first and self._only_my_caseload():
            therapist = actor.staff_id
        query = {
            "status": self.status.currentData(),
            "track_id": self.track.currentData(),
            "therapist_staff_id": therapist,
            "payer_id": self.payer.currentData(),
        }

        def fetch() -> tuple[Any, int, clients.CensusIndex]:
            filters = None
            if first:
                filters = (
                    lookups.list_tracks(db, actor),
                    staff.list_staff(db, actor),
                    lookups.list_payers(db, actor),
                )
            warn = int(get_setting(db, "auth_warn_units"))
            return filters, warn, clients.CensusIndex(clients.list_census(db, actor, **query))

        self._read_seq += 1
        seq = self._read_seq
        self.reading = (
            ops.Op(self, fetch, takes_control=False)
            .success(lambda data: self._census_read(seq, data))
            .run_in_background()
        )

    def _census_read(self, seq: int, data: tuple[Any, int, clients.CensusIndex]) -> None:
        if seq != self._read_seq or not _alive(self.count):
            return  # a newer read (other filters) is on its way, or the window closed
        filters, self.auth_warn_units, self._census = data
        if filters is not None and not self._filters_filled:
            self._fill_filters(*filters)
        self._census_at = time.monotonic()
        self._apply_search()

    def _apply_search(self) -> None:
        """Per keystroke (debounced): filter the census already read, on a worker (a few ms
        for 5,000 clients instead of ~150 ms re-reading it). One older than CENSUS_MAX_AGE
        seconds is re-read first, so other workstations' new clients show up while typing."""
        if time.monotonic() - self._census_at > CENSUS_MAX_AGE:
            self.refresh()
            return
        index, text = self._census, self.search.text()
        self._search_seq += 1
        seq = self._search_seq
        self.searching = (
            ops.Op(self, lambda: index.search(text), takes_control=False)
            .success(lambda rows: self._show_rows(seq, rows))
            .run_in_background()
        )

    def _show_rows(self, seq: int, rows: list[clients.CensusRow]) -> None:
        if seq != self._search_seq or not _alive(self.count):
            return  # typed on since: the newer search shows its own rows
        self.model.set_rows(rows)
        self.count.setText(f"{len(rows)} client{'s' if len(rows) != 1 else ''}")

    def _activated(self, index: QModelIndex) -> None:
        self.open_client.emit(self.model.row_at(index.row()).id)


def _alive(widget: QWidget) -> bool:
    """False once the window holding `widget` was closed while a read was on its way."""
    import shiboken6

    return bool(shiboken6.isValid(widget))


def _review_color(due: date | None) -> str | None:
    if due is None:
        return None
    today = clock.today()
    if due < today:
        return "#c62828"
    if due <= today + timedelta(days=7):
        return "#b26a00"
    return None


def _auth_color(left: int | None, warn: int) -> str | None:
    if left is None:
        return None
    if left <= 0:
        return "#c62828"
    return "#b26a00" if left < warn else None


class ChartPage(Page):
    """One client's chart. Opening it is audited by the service."""

    title = "Client chart"
    closed = Signal()

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.client_id: int | None = None
        self.access = clients.ChartAccess(frozenset())
        self.chart_data: clients.ClientChart | None = None
        # Opening a chart reads the header and Overview (one audited service call on a
        # worker); every other tab reads its section the first time it is shown. A newer
        # open makes older, still running reads stale: their results are dropped.
        self._generation = 0
        self._loaded: set[QWidget] = set()
        self._reading_note: int | None = None  # the note whose text is on its way
        self._cover = QLabel("Loading...")
        self._cover.setObjectName("chartTabLoading")
        self._cover.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._cover.setAutoFillBackground(True)
        self._cover.hide()
        top = QHBoxLayout()
        self.name = QLabel("")
        self.name.setObjectName("pageTitle")
        self.ident = muted("")
        back = QPushButton("Back to clients")
        back.clicked.connect(self.closed.emit)
        left = QVBoxLayout()
        left.addWidget(self.name)
        left.addWidget(self.ident)
        top.addLayout(left, 1)
        self.part2 = QLabel("42 CFR Part 2 record")
        self.part2.setObjectName("demoBadge")
        top.addWidget(self.part2, 0, Qt.AlignmentFlag.AlignTop)
        self.care_team = QPushButton("Care team...")
        self.care_team.setToolTip("Assign or change the care team")
        self.care_team.clicked.connect(self._care_team)
        self.care_team.setVisible(ctx.can(Perm.ASSIGNMENT_MANAGE))
        top.addWidget(self.care_team, 0, Qt.AlignmentFlag.AlignTop)
        from iopdesk.ui.pages.privacy import BreakGlassButton, PrivacyTab

        self.break_glass_btn = BreakGlassButton(ctx)
        self.break_glass_btn.opened.connect(lambda: self.client_id and self.load(self.client_id))
        top.addWidget(self.break_glass_btn, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(back, 0, Qt.AlignmentFlag.AlignTop)
        self.layout_.addLayout(top)
        from iopdesk.ui.pages.safety import (
            AsamTab,
            DrugScreensTab,
            MedicationsTab,
            RiskBanner,
            SafetyTab,
        )

        self.risk_banner = RiskBanner()
        self.layout_.addWidget(self.risk_banner)
        self.notice = QLabel("")
        self.notice.setObjectName("deniedNotice")
        self.notice.setWordWrap(True)
        self.notice.hide()
        self.layout_.addWidget(self.notice)
        self.tabs = QTabWidget()
        self.overview = QWidget()
        self.overview_layout = QHBoxLayout(self.overview)
        self.tabs.addTab(self.overview, "Overview")
        self.notes_tab = QWidget()
        self._build_notes_tab()
        from iopdesk.ui.pages.hours import ClientHoursTab

        self.hours_tab = ClientHoursTab(ctx)
        self.tabs.addTab(self.hours_tab, "Attendance")
        later = {
            "Discharge": "The discharge summary and aftercare plan appear here.",
            "Billing": "Claim lines and authorizations appear here.",
            "Audit": "Who opened or changed this chart appears here.",
        }
        self.tabs.addTab(self.notes_tab, "Notes")
        from iopdesk.ui.pages.plan import TreatmentPlanTab

        self.plan_tab = TreatmentPlanTab(ctx)
        self.tabs.addTab(self.plan_tab, "Treatment plan")
        # clinical safety (issue 20): only for roles that read clinical records
        self.safety_tab: SafetyTab | None = None
        self.meds_tab: MedicationsTab | None = None
        self.screens_tab: DrugScreensTab | None = None
        self.asam_tab: AsamTab | None = None
        if ctx.can(Perm.CLINICAL_VIEW):
            self.safety_tab = SafetyTab(ctx)
            self.safety_tab.changed.connect(self._refresh_banner)
            self.tabs.addTab(self.safety_tab, "Safety")
            self.meds_tab = MedicationsTab(ctx)
            self.tabs.addTab(self.meds_tab, "Medications")
            self.screens_tab = DrugScreensTab(ctx)
            self.tabs.addTab(self.screens_tab, "Drug screens")
            self.asam_tab = AsamTab(ctx)
            self.tabs.addTab(self.asam_tab, "ASAM")
        self.privacy_tab = PrivacyTab(ctx)
        self.tabs.addTab(self.privacy_tab, "Privacy")
        from iopdesk.ui.pages.billing_setup import ClientBillingTab

        self.billing_tab: ClientBillingTab | None = None
        self.audit_tab: ChartAuditTab | None = None
        for name, text in later.items():
            if name == "Discharge":
                from iopdesk.ui.pages.discharge import ClientDischargeTab

                self.discharge_tab = ClientDischargeTab(ctx)
                self.discharge_tab.changed.connect(self._discharge_changed)
                self.tabs.addTab(self.discharge_tab, "Discharge")
                continue
            if name == "Audit" and ctx.can(Perm.AUDIT_VIEW):
                self.audit_tab = ChartAuditTab(ctx)
                self.tabs.addTab(self.audit_tab, "Audit")
                continue
            if name == "Billing" and ctx.can(Perm.BILLING_VIEW):
                self.billing_tab = ClientBillingTab(ctx)
                self.tabs.addTab(self.billing_tab, "Billing")
                continue
            holder = QWidget()
            lay = QVBoxLayout(holder)
            lay.addWidget(muted(text))
            lay.addStretch(1)
            self.tabs.addTab(holder, name)
        self.layout_.addWidget(self.tabs, 1)
        self.tabs.currentChanged.connect(self._tab_changed)

    def _tab_changed(self, _index: int) -> None:
        """A tab is shown: read its section the first time for this chart (on a worker)."""
        tab = self.tabs.currentWidget()
        if self.client_id is None or tab is None or tab is self.overview or tab in self._loaded:
            self._cover.hide()
            return
        loader = self._tab_loader(tab)
        # the previous chart's rows stay covered until this client's arrive (or for good,
        # on a tab this user may not read for this client)
        self._cover.setText(
            "Loading..."
            if loader is not None
            else "Visible only to the client's clinicians and supervisors."
        )
        self._cover.setParent(tab)
        self._cover.setGeometry(tab.rect())
        self._cover.raise_()
        self._cover.show()
        if loader is None:
            return
        fetch, present = loader
        self._loaded.add(tab)
        generation, client_id = self._generation, self.client_id

        def done(data: object) -> None:
            if generation != self._generation or client_id != self.client_id or not _alive(tab):
                return  # another chart (or a newer read of this one) is shown now
            present(data)
            if self.tabs.currentWidget() is tab:
                self._cover.hide()

        def failed(exc: BaseException) -> None:
            if generation == self._generation:
                self._loaded.discard(tab)  # shown again: read again
                self._cover.hide()
            ops.report_failure(self, exc, lambda: self.load(client_id))

        ops.Op(self, fetch, takes_control=False).success(done).failure(failed).run_in_background()

    def _tab_loader(self, tab: QWidget) -> tuple[Callable[[], Any], Callable[[Any], None]] | None:
        """(fetch on a worker, present on the GUI thread) for one chart tab."""
        cid, access, chart = self.client_id, self.access, self.chart_data
        assert cid is not None and chart is not None
        S = clients.ChartSection
        clinical = chart.can_view_clinical
        if tab is self.hours_tab:
            why = access.reason(S.ATTENDANCE)
            hours_tab = self.hours_tab
            return (
                lambda: hours_tab.fetch(cid, why),
                lambda d: hours_tab.load(cid, why, data=d),
            )
        if tab is self.notes_tab:
            db, actor = self.ctx.db, self.ctx.actor
            return (lambda: notes.list_note_headers(db, actor, cid), self._present_notes)
        if tab is self.plan_tab:
            plan_tab = self.plan_tab
            allowed = clinical and access.shows(S.PLANS)
            why = access.reason(S.PLANS)
            return (
                lambda: plan_tab.fetch(cid, None, allowed, why),
                lambda d: plan_tab.load(cid, None, allowed, why, data=d),
            )
        if tab in (self.safety_tab, self.meds_tab, self.screens_tab, self.asam_tab):
            if not clinical:
                return None
            t: Any = tab
            return (lambda: t.fetch(cid), lambda d: t.present(cid, d))
        if tab is self.privacy_tab:
            privacy_tab = self.privacy_tab
            why = access.reason(S.PRIVACY)
            label = f"{chart.client.first_name} {chart.client.last_name}"
            return (
                lambda: privacy_tab.fetch(cid, why),
                lambda d: privacy_tab.load(cid, label, why, data=d),
            )
        if tab is self.discharge_tab:
            discharge_tab = self.discharge_tab
            why = access.reason(S.DISCHARGE)
            status = chart.client.status
            return (
                lambda: discharge_tab.fetch(cid, why),
                lambda d: discharge_tab.load(cid, status, why, data=d),
            )
        if tab is self.billing_tab and self.billing_tab is not None:
            billing_tab = self.billing_tab
            return (lambda: billing_tab.fetch(cid), lambda d: billing_tab.load(cid, data=d))
        if tab is self.audit_tab and self.audit_tab is not None:
            audit_tab = self.audit_tab
            audit_tab.set_client(cid)
            return (lambda: audit_tab.fetch(cid), lambda rows: audit_tab.present(cid, rows))
        return None

    def _present_notes(self, headers: list[notes.NoteHeader]) -> None:
        self._reading_note = None  # a text still on its way belongs to the last list
        self.notes_model.set_rows(headers)
        S = clients.ChartSection
        chart, access = self.chart_data, self.access
        if chart is not None and chart.can_view_clinical and access.shows(S.NOTES):
            self.note_view.setPlainText("Select a note to read it.")
        else:
            self.note_view.setPlainText(
                access.reason(S.NOTES)
                or "Note content is visible only to the client's clinicians and supervisors."
            )

    def _discharge_changed(self) -> None:
        """After a discharge from the chart: reload the header and stay on the Discharge tab."""
        if self.client_id is not None:
            self.load(self.client_id, then=lambda: self.tabs.setCurrentWidget(self.discharge_tab))

    def _build_notes_tab(self) -> None:
        lay = QHBoxLayout(self.notes_tab)
        self.notes_model: RowsModel[notes.NoteHeader] = RowsModel(
            [
                Column(
                    "Date",
                    lambda n: f"{n.service_date:%m/%d/%Y}",
                    sort_key=lambda n: n.service_date,
                ),
                Column("Format", lambda n: n.format),
                Column("Author", lambda n: n.author),
                Column("Status", lambda n: n.state_label),
            ]
        )
        self.notes_table = make_table()
        self.notes_table.setModel(self.notes_model)
        self.notes_table.clicked.connect(self._show_note)
        self.notes_table.activated.connect(self._show_note)
        from iopdesk.ui.pages.notes import ChartNoteActions

        left = QVBoxLayout()
        left.addWidget(self.notes_table, 1)
        self.note_actions = ChartNoteActions(self)
        left.addWidget(self.note_actions)
        lay.addLayout(left, 2)
        self.note_view = QPlainTextEdit()
        self.note_view.setReadOnly(True)
        self.note_view.setObjectName("noteView")
        lay.addWidget(self.note_view, 3)

    def _care_team(self) -> None:
        if self.client_id is None:
            return
        dialog = AssignDialog(self.ctx, self.client_id, self, client_label=self.name.text())
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.load(self.client_id)

    def load(self, client_id: int, then: Callable[[], Any] | None = None) -> ops.Op[Any]:
        """Open (or re-read) a client's chart: the header, risk banner and Overview come from
        one audited service call on a worker; `then` runs once they are shown. A record
        changed meanwhile on another workstation reloads the chart."""
        self._generation += 1
        generation = self._generation
        db, actor = self.ctx.db, self.ctx.actor
        return (
            ops.Op(self, lambda: clients.open_chart(db, actor, client_id), takes_control=False)
            .success(lambda chart: self._present(generation, client_id, chart, then))
            .on_stale(lambda: self.load(client_id, then))
            .run_in_background()
        )

    def _present(
        self,
        generation: int,
        client_id: int,
        chart: clients.ClientChart,
        then: Callable[[], Any] | None,
    ) -> None:
        if generation != self._generation or not _alive(self.ident):
            return  # a newer open (another client, or this one again) is on its way
        access = chart.access
        same_client = client_id == self.client_id
        self.client_id = client_id
        self.access = access
        self.chart_data = chart
        self._loaded = set()  # every tab reads its section again when next shown
        c = chart.client
        preferred = f' "{c.preferred_name}"' if c.preferred_name else ""
        self.name.setText(f"{c.last_name}, {c.first_name}{preferred}")
        bits = [f"MRN {c.mrn}"]
        if c.dob is not None:
            bits.append(f"DOB {c.dob:%m/%d/%Y} (age {age(c.dob)})")
        bits.append(STATUS_LABELS.get(c.status, c.status))
        if chart.current_track:
            bits.append(chart.current_track)
        if c.pronouns:
            bits.append(c.pronouns)
        if access.emergency:
            bits.append("opened under emergency access")
        self.ident.setText("   |   ".join(bits))
        self.part2.setVisible(c.part2)
        self.break_glass_btn.update_for(
            client_id,
            f"{c.first_name} {c.last_name} ({c.mrn})",
            chart.can_view_clinical and access.visible == clients.ALL_SECTIONS,
            chart.break_glass_allowed,
        )
        self._fill_overview(chart)
        self.risk_banner.show_text(chart.banner_text)
        for tab in (self.safety_tab, self.meds_tab, self.screens_tab, self.asam_tab):
            if tab is not None:
                tab.setEnabled(chart.can_view_clinical)
        if self.audit_tab is not None:
            self.audit_tab.set_client(client_id)
        # the same chart read again (F5, after a change) stays on its tab, which reads again;
        # another client's chart opens on the Overview
        if same_client or self.tabs.currentIndex() == 0:
            self._tab_changed(self.tabs.currentIndex())
        else:
            self.tabs.setCurrentIndex(0)
        if then is not None:
            then()

    def _refresh_banner(self) -> None:
        """Re-read the risk banner (after a flag was raised or cleared here), on a worker."""
        from iopdesk.services import safety

        client_id = self.client_id
        if client_id is None:
            self.risk_banner.setVisible(False)
            return
        db, actor = self.ctx.db, self.ctx.actor

        def show(banner: safety.RiskBanner) -> None:
            if client_id == self.client_id and _alive(self.risk_banner):
                self.risk_banner.show_text(banner.text)

        def hide(_exc: BaseException) -> None:  # a refusal: nothing to show
            if _alive(self.risk_banner):
                self.risk_banner.setVisible(False)

        ops.Op(self, lambda: safety.banner(db, actor, client_id), takes_control=False).success(
            show
        ).failure(hide).run_in_background()

    def refresh_safety(self) -> None:
        """After a measure or a note raised a risk flag from another tab."""
        self._refresh_banner()
        if self.safety_tab is not None and self.client_id is not None:
            if self.tabs.currentWidget() is self.safety_tab:
                self.safety_tab.load(self.client_id)
            else:
                self._loaded.discard(self.safety_tab)  # read again when shown

    def _hours_override(self) -> None:
        if self.client_id is None:
            return
        from iopdesk.ui.pages.safety import HoursOverrideDialog

        # the version the chart shows (a change since is refused as stale when saving)
        version = self.chart_data.client.version if self.chart_data is not None else 0
        ctx, client_id = self.ctx, self.client_id

        def open_dialog(current: overrides.HoursOverride | None) -> None:
            dialog = HoursOverrideDialog(ctx, client_id, version, self, current=current)
            if dialog.exec() == QDialog.DialogCode.Accepted:
                self.load(client_id)

        # the override in force fills the dialog: read first, then the dialog opens
        self.override_op = ops.run(
            self, lambda: overrides.current_override(ctx.db, ctx.actor, client_id), open_dialog
        )

    def _fill_overview(self, chart: clients.ClientChart) -> None:
        while self.overview_layout.count():
            item = self.overview_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        c = chart.client
        access = chart.access
        S = clients.ChartSection

        def denied(section: clients.ChartSection) -> QLabel:
            label = QLabel(access.short(section))
            label.setObjectName("deniedShort")
            label.setToolTip(access.reason(section))
            label.setWordWrap(True)
            return label

        self.notice.setText(access.notice)
        self.notice.setVisible(bool(access.notice))
        demo = QFrame()
        form = QFormLayout(demo)
        form.addRow(section_title("Demographics"))
        rows: list[tuple[str, str]] = [("Name", f"{c.first_name} {c.last_name}")]
        if access.shows(S.DEMOGRAPHICS):
            rows = [
                ("Legal name", f"{c.first_name} {c.middle_name} {c.last_name}".replace("  ", " ")),
                ("Preferred name", c.preferred_name),
                ("Pronouns", c.pronouns),
                ("Sex", c.sex),
            ]
        else:
            rows.append(("Preferred name", c.preferred_name))
        if access.shows(S.CONTACT):
            address = ", ".join(
                p for p in (c.address_line1, c.address_line2, c.city, c.state, c.postal_code) if p
            )
            rows += [("Phone", c.phone), ("E-mail", c.email), ("Address", address)]
        if access.shows(S.DEMOGRAPHICS):
            rows += [
                ("Language", c.primary_language),
                ("Admitted", f"{c.admission_date:%m/%d/%Y}" if c.admission_date else ""),
                ("Discharged", f"{c.discharge_date:%m/%d/%Y}" if c.discharge_date else ""),
            ]
        for label, value in rows:
            form.addRow(label, QLabel(value or "-"))
        for section in (S.DEMOGRAPHICS, S.CONTACT):
            if not access.shows(section):
                form.addRow(clients.SECTION_LABELS[section], denied(section))
        form.addRow(section_title("Today's sessions"))
        for s in chart.today_sessions:
            form.addRow(f"{s.start}-{s.end}", QLabel(f"{s.title} ({s.status})"))
        if not chart.today_sessions:
            form.addRow(muted("No sessions today"))
        self.overview_layout.addWidget(demo, 1)
        right = QFrame()
        rl = QVBoxLayout(right)
        rl.addWidget(section_title("Diagnoses"))
        if not access.shows(S.DIAGNOSES):
            rl.addWidget(denied(S.DIAGNOSES))
        for d in chart.diagnoses:
            rl.addWidget(
                QLabel(f"{d.icd10_code}  {d.description}" + ("  (primary)" if d.is_primary else ""))
            )
        if access.shows(S.DIAGNOSES) and not chart.diagnoses:
            rl.addWidget(muted("None recorded"))
        rl.addWidget(section_title("Program"))
        if access.shows(S.DEMOGRAPHICS):
            for e, track in chart.enrollments:
                end = f"{e.end_date:%m/%d/%Y}" if e.end_date else "present"
                rl.addWidget(QLabel(f"{track}: {e.start_date:%m/%d/%Y} - {end}"))
            if not chart.enrollments:
                rl.addWidget(muted("Not enrolled in a track"))
        else:
            rl.addWidget(QLabel(chart.current_track or "Not enrolled in a track"))
        if chart.can_view_clinical:
            hours_row = QHBoxLayout()
            if c.required_weekly_hours is not None:
                until = (
                    f" through {c.required_hours_until:%m/%d/%Y}"
                    if c.required_hours_until
                    else " (no end date)"
                )
                expired = (
                    c.required_hours_until is not None and c.required_hours_until < clock.today()
                )
                text = f"Hours override: {c.required_weekly_hours:.2f} h a week{until}" + (
                    " - ended; the track's hours apply" if expired else ""
                )
            else:
                text = "Required hours: the track's"
            override_label = QLabel(text)
            override_label.setObjectName("hoursOverride")
            hours_row.addWidget(override_label, 1)
            if self.ctx.can(Perm.CLINICAL_WRITE) and chart.can_view_clinical:
                override_btn = QPushButton("Hours override...")
                override_btn.setObjectName("hoursOverrideButton")
                override_btn.clicked.connect(self._hours_override)
                hours_row.addWidget(override_btn)
            rl.addLayout(hours_row)
        for title, section, lines in (
            (
                "Care team",
                S.CARE_TEAM,
                [
                    f"{a.role.replace('_', ' ').title()}: {staff}"
                    + (f" (until {a.end_date:%m/%d/%Y})" if a.end_date else "")
                    for a, staff in chart.assignments
                ],
            ),
            (
                "Insurance",
                S.INSURANCE,
                [f"{payer}  -  member ID {cov.member_id or '-'}" for cov, payer in chart.coverage],
            ),
            (
                "Emergency contacts",
                S.EMERGENCY_CONTACTS,
                [f"{ec.name} ({ec.relationship})  {ec.phone}" for ec in chart.contacts],
            ),
        ):
            rl.addWidget(section_title(title))
            if not access.shows(section):
                rl.addWidget(denied(section))
                continue
            for line in lines:
                rl.addWidget(QLabel(line))
            if not lines:
                empty = "No staff assigned" if section == S.CARE_TEAM else "None recorded"
                rl.addWidget(muted(empty))
        rl.addStretch(1)
        self.overview_layout.addWidget(right, 1)

    def _show_note(self, index: QModelIndex) -> None:
        """The chosen note's text, read (and audited, or refused) on a worker; shown if it is
        still the chosen note."""
        header = self.notes_model.row_at(index.row())
        db, actor, note_id = self.ctx.db, self.ctx.actor, header.id
        self._reading_note = note_id

        def read() -> str:
            from iopdesk.ui.pages.notes import note_text

            try:
                return note_text(notes.read_note(db, actor, note_id))
            except UserError as exc:
                return exc.message

        def show(text: str) -> None:
            if self._reading_note == note_id and _alive(self.note_view):
                self.note_view.setPlainText(text)

        ops.Op(self, read, takes_control=False).success(show).run_in_background()


STATUS_ORDER = [s.value for s in ClientStatus]
__all__ = ["ChartPage", "ClientsPage", "msgbox"]
