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
from iopdesk.ui.pages.schedule.dialog_base import (
    Save,
    _ScheduleDialog,
    add_clients,
    chosen_client,
    client_combo,
)
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
        self.client = client_combo([])
        self.client.setObjectName("addClient")
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("Optional, e.g. make-up session")
        self.reason.setMaxLength(200)
        self.form.addRow("Client *", self.client)
        self.form.addRow("Reason", self.reason)
        self.fields = {"client_id": self.client, "reason": self.reason}
        self.action = self._add
        self.client.setFocus()
        db, actor = ctx.db, ctx.actor
        self.read(
            lambda: clients.list_census(db, actor, status=ClientStatus.ACTIVE.value),
            lambda rows: add_clients(self.client, [r for r in rows if r.id not in skip]),
        )

    def _add(self) -> Save:
        client_id = chosen_client(self.client)
        if client_id is None:
            raise ValidationError(
                "Choose a client from the list.", {"client_id": "Choose a client."}
            )
        db, actor, session_id, reason = (
            self.ctx.db,
            self.ctx.actor,
            self.info.id,
            self.reason.text(),
        )

        def added(_result: object) -> None:
            self.added = client_id

        return Save(lambda: schedule.add_to_roster(db, actor, session_id, client_id, reason), added)
