"""Clients: the census list (search as you type) and the client chart."""

from __future__ import annotations

import time
from datetime import date, timedelta

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
from iopdesk.services import clients, notes
from iopdesk.services.permissions import Perm
from iopdesk.ui import clock, msgbox
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
        self._fill_filters()
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
        for combo in (self.status, self.track, self.therapist, self.payer):
            combo.currentIndexChanged.connect(lambda _i: self.refresh())

    def _fill_filters(self) -> None:
        from iopdesk.services import lookups, staff

        self.track.addItem("All tracks", None)
        for t in lookups.list_tracks(self.ctx.db, self.ctx.actor):
            self.track.addItem(t.name, t.id)
        self.therapist.addItem("All therapists", None)
        me = self.ctx.actor.staff_id
        for s in staff.list_staff(self.ctx.db, self.ctx.actor):
            if "therapist" in s.roles or "supervisor" in s.roles or s.id == me:
                label = "My caseload" if s.id == me else s.display_name
                self.therapist.addItem(label, s.id)
        self.payer.addItem("All payers", None)
        for p in lookups.list_payers(self.ctx.db, self.ctx.actor):
            self.payer.addItem(p.name, p.id)
        # A therapist's default view is their own caseload (they can pick "All therapists").
        a = self.ctx.actor
        if (
            me is not None
            and a.is_(Role.THERAPIST)
            and not (a.is_(Role.SUPERVISOR) or a.is_(Role.ADMIN))
        ):
            index = self.therapist.findData(me)
            if index >= 0:
                self.therapist.setCurrentIndex(index)

    def set_search(self, text: str) -> None:
        self.search.setText(text)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the census for the filters; the search box then filters it in memory."""
        from iopdesk.services.clinic import get_setting

        self.auth_warn_units = int(get_setting(self.ctx.db, "auth_warn_units"))
        self._census = clients.CensusIndex(
            clients.list_census(
                self.ctx.db,
                self.ctx.actor,
                status=self.status.currentData(),
                track_id=self.track.currentData(),
                therapist_staff_id=self.therapist.currentData(),
                payer_id=self.payer.currentData(),
            )
        )
        self._census_at = time.monotonic()
        self._apply_search()

    def _apply_search(self) -> None:
        """Per keystroke: filter the census already read (a few ms for 5,000 clients instead
        of ~150 ms re-reading it). One older than CENSUS_MAX_AGE seconds is re-read first, so
        other workstations' new clients show up while typing."""
        if time.monotonic() - self._census_at > CENSUS_MAX_AGE:
            self.refresh()
            return
        rows = self._census.search(self.search.text())
        self.model.set_rows(rows)
        self.count.setText(f"{len(rows)} client{'s' if len(rows) != 1 else ''}")

    def _activated(self, index: QModelIndex) -> None:
        self.open_client.emit(self.model.row_at(index.row()).id)


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
                self.tabs.currentChanged.connect(self._tab_changed)
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

    def _tab_changed(self, _index: int) -> None:
        if self.audit_tab is not None and self.tabs.currentWidget() is self.audit_tab:
            self.audit_tab.ensure_loaded()

    def _discharge_changed(self) -> None:
        """After a discharge from the chart: reload the header and stay on the Discharge tab."""
        if self.client_id is not None:
            self.load(self.client_id)
            self.tabs.setCurrentWidget(self.discharge_tab)

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

    def load(self, client_id: int) -> None:
        chart = clients.open_chart(self.ctx.db, self.ctx.actor, client_id)
        access = chart.access
        S = clients.ChartSection
        self.client_id = client_id
        self.access = access
        self.hours_tab.load(client_id, access.reason(S.ATTENDANCE))
        if self.billing_tab is not None:
            self.billing_tab.load(client_id)
        if self.audit_tab is not None:
            self.audit_tab.set_client(client_id)
            self._tab_changed(self.tabs.currentIndex())
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
        self.privacy_tab.load(client_id, f"{c.first_name} {c.last_name}", access.reason(S.PRIVACY))
        self.break_glass_btn.update_for(
            client_id,
            f"{c.first_name} {c.last_name} ({c.mrn})",
            chart.can_view_clinical and access.visible == clients.ALL_SECTIONS,
        )
        self._fill_overview(chart)
        self._refresh_banner()
        for tab in (self.safety_tab, self.meds_tab, self.screens_tab, self.asam_tab):
            if tab is not None:
                tab.setEnabled(chart.can_view_clinical)
                if chart.can_view_clinical:
                    tab.load(client_id)
        self.plan_tab.load(
            client_id,
            allowed=chart.can_view_clinical and access.shows(S.PLANS),
            reason=access.reason(S.PLANS),
        )
        self.discharge_tab.load(client_id, c.status, access.reason(S.DISCHARGE))
        self.notes_model.set_rows(notes.list_note_headers(self.ctx.db, self.ctx.actor, client_id))
        if chart.can_view_clinical and access.shows(S.NOTES):
            self.note_view.setPlainText("Select a note to read it.")
        else:
            self.note_view.setPlainText(
                access.reason(S.NOTES)
                or "Note content is visible only to the client's clinicians and supervisors."
            )
        self.tabs.setCurrentIndex(0)

    def _refresh_banner(self) -> None:
        self.risk_banner.update_for(self.ctx, self.client_id)

    def refresh_safety(self) -> None:
        """After a measure or a note raised a risk flag from another tab."""
        self._refresh_banner()
        if self.safety_tab is not None and self.client_id is not None:
            self.safety_tab.load(self.client_id)

    def _hours_override(self) -> None:
        if self.client_id is None:
            return
        from iopdesk.models import Client
        from iopdesk.ui.pages.safety import HoursOverrideDialog

        with self.ctx.db.session() as session:
            row = session.get(Client, self.client_id)
            version = row.version if row else 0
        dialog = HoursOverrideDialog(self.ctx, self.client_id, version, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.load(self.client_id)

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
        header = self.notes_model.row_at(index.row())
        try:
            content = notes.read_note(self.ctx.db, self.ctx.actor, header.id)
        except UserError as exc:
            self.note_view.setPlainText(exc.message)
            return
        from iopdesk.ui.pages.notes import note_text

        self.note_view.setPlainText(note_text(content))


STATUS_ORDER = [s.value for s in ClientStatus]
__all__ = ["ChartPage", "ClientsPage", "msgbox"]
