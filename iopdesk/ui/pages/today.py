"""Today: what needs attention now."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QHeaderView, QLabel, QWidget

from iopdesk.services import today
from iopdesk.services.permissions import Perm
from iopdesk.ui import clock
from iopdesk.ui.context import AppContext
from iopdesk.ui.tablemodel import Column, RowsModel
from iopdesk.ui.widgets import Card, Page, make_table, muted, section_title

STATUS_COLORS = {"held": "#2e7d32", "cancelled": "#c62828", "scheduled": "#1f6f8b"}


# Each tile opens the list it counts: (page, detail) for MainWindow.open_list.
TILE_TARGETS = {
    "at_risk": ("Attendance", "hours", "Open weekly hours, at-risk clients first"),
    "auths": ("Billing", "authorizations", "Open billing"),
    "active": ("Clients", "active", "Open the active clients"),
    "referrals": ("Clients", "referral", "Open referrals and intakes"),
    "sessions": ("Attendance", "signin", "Open the sign-in sheets"),
    "unsigned": ("Notes", "drafts", "Open my unsigned notes"),
    "plan_reviews": ("Caseloads", "", "Open caseloads"),
    "cosign": ("Notes", "cosign", "Open the notes awaiting my co-signature"),
    "no_note": ("Notes", "missing", "Open the sessions without a note"),
    "locked": ("Admin", "Users", "Open user accounts"),
    "licenses": ("Admin", "Staff", "Open staff licenses"),
}


class TodayPage(Page):
    title = "Today"
    # refreshed when an operation (here or on another workstation) changes one of these
    shows = frozenset(
        {
            "client",
            "clinic_session",
            "attendance",
            "rosterchange",
            "sessionfacilitator",
            "trackenrollment",
            "therapistassignment",
            "track",
            "trackblock",
            "clinicclosure",
            "note",
            "groupnote",
            "app_user",
            "staff",
            "breakglassaccess",
            "amendmentrequest",
            "riskflag",
            "authorization",
            "billingline",
            "billingbatch",
            "treatmentplan",
            "backuprecord",
            "clinic",
            "setting",
        }
    )
    open_list = Signal(str, str)  # page name, what to show on it

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.subtitle_label = muted("")
        self.layout_.addWidget(self.subtitle_label)
        self.backup_banner = QLabel("")
        self.backup_banner.setObjectName("backupWarning")
        self.backup_banner.setWordWrap(True)
        self.backup_banner.setStyleSheet(
            "background: #fff4e5; color: #8a4b00; border: 1px solid #f0b45a; "
            "border-radius: 4px; padding: 8px 12px; font-weight: 600;"
        )
        self.backup_banner.setVisible(False)
        self.layout_.addWidget(self.backup_banner)
        # suicide-risk flags and open follow-ups of my clients (supervisors: every client)
        self.risk_list = QLabel("")
        self.risk_list.setObjectName("riskTasks")
        self.risk_list.setWordWrap(True)
        self.risk_list.setTextFormat(Qt.TextFormat.PlainText)
        self.risk_list.setStyleSheet(
            "background: #fdecee; color: #8e0018; border: 1px solid #e7a1ab; "
            "border-radius: 4px; padding: 8px 12px; font-weight: 600;"
        )
        self.risk_list.setVisible(False)
        self.layout_.addWidget(self.risk_list)
        grid = QGridLayout()
        grid.setSpacing(14)
        self.active = Card("Active clients")
        self.referrals = Card("Referrals and intakes in progress")
        self.sessions = Card("Sessions today")
        self.unsigned = Card("My unsigned notes")
        self.plan_reviews = Card("Treatment plan reviews due / overdue")
        self.cosign = Card("Notes awaiting my co-signature")
        self.no_note = Card("Sessions held without a note")
        self.locked = Card("Locked user accounts")
        self.licenses = Card("Licenses expiring within 60 days")
        self.at_risk = Card("Clients at risk of missing this week's hours")
        self.auths = Card("Authorizations running low or ending soon")
        self.break_glass = Card("Emergency chart accesses to review")
        self.amendments = Card("Amendment requests overdue")
        cards = [
            self.at_risk,
            self.auths,
            self.active,
            self.referrals,
            self.sessions,
            self.unsigned,
            self.plan_reviews,
            self.cosign,
            self.no_note,
            self.locked,
            self.licenses,
            self.break_glass,
            self.amendments,
        ]
        self.grid = grid
        self.cards = cards
        for key, (page, detail, hint) in TILE_TARGETS.items():
            card = getattr(self, key)
            card.make_link(hint)
            card.clicked.connect(lambda p=page, d=detail: self.open_list.emit(p, d))
        self._place_cards()
        self.layout_.addLayout(grid)
        from iopdesk.ui.pages.privacy import BreakGlassReviewPanel

        self.break_glass_panel = BreakGlassReviewPanel(ctx)
        self.break_glass_panel.changed.connect(self.refresh)
        self.layout_.addWidget(self.break_glass_panel)
        from iopdesk.ui.pages.privacy import OverdueAmendmentsPanel

        self.amendments_panel = OverdueAmendmentsPanel(ctx)
        self.amendments_panel.open_client.connect(self._open_client)
        self.layout_.addWidget(self.amendments_panel)
        self.schedule_title = section_title("Today's schedule")
        self.layout_.addWidget(self.schedule_title)
        self.model: RowsModel[today.TodaySession] = RowsModel(
            [
                Column("Start", lambda s: s.start),
                Column("End", lambda s: s.end),
                Column("Session", lambda s: s.title),
                Column("Kind", lambda s: s.kind.title()),
                Column(
                    "Status",
                    lambda s: s.status.title(),
                    color=lambda s: STATUS_COLORS.get(s.status),
                ),
            ]
        )
        self.table = make_table()
        self.table.setModel(self.model)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        for column, width in ((0, 80), (1, 80), (3, 110), (4, 120)):
            self.table.setColumnWidth(column, width)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.layout_.addWidget(self.table, 1)
        self.empty = muted("No sessions are scheduled today.")
        self.layout_.addWidget(self.empty)

    def _open_client(self, client_id: int) -> None:
        window = self.window()
        opener = getattr(window, "open_chart", None)
        if opener is not None:
            opener(client_id)

    def _place_cards(self) -> None:
        """Lay out only the cards this user sees, four to a row, with no gaps."""
        for card in self.cards:
            self.grid.removeWidget(card)
        shown = [c for c in self.cards if not c.property("off")]
        for i, card in enumerate(shown):
            self.grid.addWidget(card, i // 4, i % 4)

    def _show_plan_reviews(self, data: today.TodaySummary) -> None:
        """Plan reviews: the clinic's for supervisors, the caseload's for clinicians."""
        from iopdesk.services import plans

        counts = data.plan_reviews
        self.plan_reviews.setProperty("off", counts is None)
        self.plan_reviews.setVisible(counts is not None)
        if counts is None:
            return
        self.plan_reviews.set_value(f"{counts.due} / {counts.overdue}")
        self.plan_reviews.label.setText(
            "Treatment plan reviews due / overdue"
            + (" (clinic)" if counts.scope == "clinic" else " (my clients)")
        )
        rows = data.plan_review_rows
        self.plan_reviews.setToolTip(
            "\n".join(
                [
                    f"Due within {plans.DUE_WINDOW_DAYS} days: {counts.due}. "
                    f"Overdue: {counts.overdue}. Add the review in the client's chart, "
                    "Treatment plan tab."
                ]
                + [
                    f"{r.client} ({r.mrn}): "
                    + (f"overdue {r.days} d" if r.state == "overdue" else "due")
                    + f" {r.next_review_date:%m/%d}"
                    for r in rows[:20]
                ]
            )
        )

    def fetch(self) -> today.TodaySummary:
        """Everything Today shows, read on a worker (services.today.summary)."""
        return today.summary(self.ctx.db, self.ctx.actor)

    def present(self, data: object) -> None:
        import shiboken6

        if not shiboken6.isValid(self.subtitle_label):
            return  # the window closed (signed out) while Today was being read
        assert isinstance(data, today.TodaySummary)
        self.subtitle_label.setText(
            f"{clock.today():%A, %B %-d, %Y} - signed in as {self.ctx.actor.display_name}"
        )
        self.backup_banner.setText(data.backup_warning or "")
        self.backup_banner.setVisible(bool(data.backup_warning))
        tasks = data.risk_tasks or []
        lines = [
            f"{t.client} ({t.mrn}): "
            + ("risk flag open" if t.flag_open else "flag cleared")
            + (f"; follow-up needs {t.needs}" if t.needs else "")
            + (f" (since {t.raised_on:%m/%d/%Y})" if t.raised_on else "")
            for t in tasks[:12]
        ]
        if len(tasks) > 12:
            lines.append(f"... and {len(tasks) - 12} more")
        self.risk_list.setText(
            f"Suicide-risk flags and follow-ups ({len(tasks)}):\n" + "\n".join(lines)
        )
        self.risk_list.setVisible(bool(tasks))
        self.active.set_value(data.active_clients)
        self.referrals.set_value(data.referrals)
        self.sessions.set_value(len(data.sessions_today))
        self.unsigned.set_value(data.my_unsigned_notes)
        self.unsigned.setProperty("off", data.my_unsigned_notes is None)
        self.unsigned.setVisible(data.my_unsigned_notes is not None)
        for card, value in (
            (self.cosign, data.awaiting_my_cosign),
            (self.no_note, data.sessions_without_note),
        ):
            card.set_value(value)
            card.setProperty("off", value is None)
            card.setVisible(value is not None)
        self.locked.set_value(data.locked_accounts)
        self.locked.setProperty("off", data.locked_accounts is None)
        self.locked.setVisible(data.locked_accounts is not None)
        self.licenses.set_value(data.license_expiring)
        self.licenses.setProperty("off", data.license_expiring is None)
        self.licenses.setVisible(data.license_expiring is not None)
        self.break_glass.set_value(data.break_glass_to_review)
        self.break_glass.setProperty("off", not data.break_glass_to_review)  # shown only if any
        self.break_glass.setVisible(bool(data.break_glass_to_review))
        self._show_panel(self.break_glass_panel, data.break_glass_rows)
        self.amendments.set_value(data.amendments_overdue)
        self.amendments.setProperty("off", not data.amendments_overdue)  # shown only if any
        self.amendments.setVisible(bool(data.amendments_overdue))
        self._show_panel(self.amendments_panel, data.amendment_rows)
        self.at_risk.set_value(data.at_risk)  # a client on hold is paused, not at risk
        warnings = data.auth_warnings
        self.auths.set_value(len(warnings))
        self.auths.setToolTip(
            "\n".join(
                f"{w.client} ({w.mrn}) {w.auth_number} {w.code}: {w.warning}" for w in warnings[:20]
            )
        )
        self._show_plan_reviews(data)
        self._place_cards()
        shown = data.sessions_today
        self.schedule_title.setText("Today's schedule")
        self.sessions.label.setText("Sessions today")
        self.empty.setText("No sessions are scheduled today.")
        if data.next_day is not None:
            # A weekend or a closed day: the next clinic day's sessions, named as such.
            nxt = f"{data.next_day:%A, %B %-d}"
            self.schedule_title.setText(f"No sessions today - next clinic day: {nxt}")
            self.sessions.label.setText(
                f"Sessions today (next clinic day {data.next_day:%a %m/%d}: "
                f"{len(data.next_sessions)})"
            )
            shown = data.next_sessions
        self.model.set_rows(shown)
        self.empty.setVisible(not shown)
        self.table.setVisible(bool(shown))

    def _show_panel(self, panel: QWidget, rows: list[object]) -> None:
        """The emergency-access and overdue-amendment lists, from rows already read (the
        panel's own refresh reads them again after a change made in it)."""
        if not self.ctx.can(Perm.AUDIT_VIEW):
            panel.setVisible(False)
            return
        model = getattr(panel, "model", None)
        if model is not None:
            model.set_rows(rows)
        panel.setVisible(bool(rows))
