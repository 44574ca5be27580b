"""Cancel a session, with a reason."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QRadioButton,
    QWidget,
)

from iopdesk.errors import ValidationError
from iopdesk.models.enums import SessionKind
from iopdesk.services import schedule
from iopdesk.services.schedule import (
    SessionInfo,
)
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.intake import hint
from iopdesk.ui.pages.schedule.dialog_base import Save, _ScheduleDialog
from iopdesk.ui.pages.schedule.labels import CANCEL_REASONS, long_day, plural, time_range


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

    def _cancel(self) -> Save:
        reason = self.reason.currentText().strip()
        if not reason:
            raise ValidationError("Enter the reason for the cancellation.", {"reason": "Required."})
        db, actor, info = self.ctx.db, self.ctx.actor, self.info
        by_clinic = info.kind == SessionKind.GROUP or self.by_clinic.isChecked()

        def done(result: SessionInfo) -> None:
            self.done_info = result

        return Save(
            lambda: schedule.cancel_session(
                db, actor, info.id, info.version, reason, by_clinic=by_clinic
            ),
            done,
        )
