"""Generate a track's group sessions for a range of weeks."""

from __future__ import annotations

import datetime as dt

from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QSpinBox,
    QWidget,
)

from iopdesk.services import lookups, schedule, staff
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.intake import from_qdate
from iopdesk.ui.pages.schedule.dialog_base import _date_edit, _ScheduleDialog, clinical_staff


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
