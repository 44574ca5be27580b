"""Today: what needs attention now."""

from __future__ import annotations

from datetime import date

from PySide6.QtWidgets import QGridLayout, QHeaderView

from iopdesk.services import today
from iopdesk.ui.context import AppContext
from iopdesk.ui.tablemodel import Column, RowsModel
from iopdesk.ui.widgets import Card, Page, make_table, muted, section_title

STATUS_COLORS = {"held": "#2e7d32", "cancelled": "#c62828", "scheduled": "#1f6f8b"}


class TodayPage(Page):
    title = "Today"

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.subtitle_label = muted("")
        self.layout_.addWidget(self.subtitle_label)
        grid = QGridLayout()
        grid.setSpacing(14)
        self.active = Card("Active clients")
        self.referrals = Card("Referrals and intakes in progress")
        self.sessions = Card("Sessions today")
        self.unsigned = Card("My unsigned notes")
        self.locked = Card("Locked user accounts")
        self.licenses = Card("Licenses expiring within 60 days")
        self.at_risk = Card("Clients at risk of missing this week's hours")
        self.auths = Card("Authorizations running low or ending soon")
        cards = [
            self.at_risk,
            self.auths,
            self.active,
            self.referrals,
            self.sessions,
            self.unsigned,
            self.locked,
            self.licenses,
        ]
        self.grid = grid
        self.cards = cards
        self._place_cards()
        self.layout_.addLayout(grid)
        self.layout_.addWidget(section_title("Today's schedule"))
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

    def _place_cards(self) -> None:
        """Lay out only the cards this user sees, four to a row, with no gaps."""
        for card in self.cards:
            self.grid.removeWidget(card)
        shown = [c for c in self.cards if not c.property("off")]
        for i, card in enumerate(shown):
            self.grid.addWidget(card, i // 4, i % 4)

    def refresh(self) -> None:
        data = today.summary(self.ctx.db, self.ctx.actor)
        self.subtitle_label.setText(
            f"{date.today():%A, %B %-d, %Y} - signed in as {self.ctx.actor.display_name}"
        )
        self.active.set_value(data.active_clients)
        self.referrals.set_value(data.referrals)
        self.sessions.set_value(len(data.sessions_today))
        self.unsigned.set_value(data.my_unsigned_notes)
        self.unsigned.setProperty("off", data.my_unsigned_notes is None)
        self.unsigned.setVisible(data.my_unsigned_notes is not None)
        self.locked.set_value(data.locked_accounts)
        self.locked.setProperty("off", data.locked_accounts is None)
        self.locked.setVisible(data.locked_accounts is not None)
        self.licenses.set_value(data.license_expiring)
        self.licenses.setProperty("off", data.license_expiring is None)
        self.licenses.setVisible(data.license_expiring is not None)
        from iopdesk.services import hours

        week = hours.weekly_hours(self.ctx.db, self.ctx.actor, date.today())
        self.at_risk.set_value(sum(1 for r in week if r.projection == "at risk"))
        from iopdesk.services import authorizations

        warnings = authorizations.statuses(self.ctx.db, self.ctx.actor, warnings_only=True)
        self.auths.set_value(len(warnings))
        self.auths.setToolTip(
            "\n".join(
                f"{w.client} ({w.mrn}) {w.auth_number} {w.code}: {w.warning}" for w in warnings[:20]
            )
        )
        self._place_cards()
        self.model.set_rows(data.sessions_today)
        self.empty.setVisible(not data.sessions_today)
        self.table.setVisible(bool(data.sessions_today))
