"""Add a client to a group session's roster."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import (
    QLineEdit,
    QWidget,
)

from iopdesk.errors import ValidationError
from iopdesk.models.enums import ClientStatus
from iopdesk.services import clients, schedule
from iopdesk.services.schedule import (
    SessionInfo,
)
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.schedule.dialog_base import _ScheduleDialog, chosen_client, client_combo
from iopdesk.ui.pages.schedule.labels import long_day, time_range


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
