"""Generate a track's group sessions for a range of weeks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QSpinBox,
    QWidget,
)

from iopdesk.services import lookups, schedule, staff
from iopdesk.services.staff import StaffInfo
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.intake import from_qdate
from iopdesk.ui.pages.schedule.dialog_base import (
    Save,
    _date_edit,
    _ScheduleDialog,
    clinical_staff,
)


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
        self.facilitator = QComboBox()
        self.facilitator.addItem("None for now (set per session)", None)
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
        db, actor = ctx.db, ctx.actor
        self.read(lambda: (lookups.list_tracks(db, actor), staff.list_staff(db, actor)), self._fill)

    def _fill(self, data: tuple[list[Any], list[StaffInfo]]) -> None:
        """The tracks and the staff, read on a worker when the dialog opened."""
        for t in data[0]:
            self.track.addItem(t.name, t.id)
        for person in clinical_staff(data[1]):
            self.facilitator.addItem(person.display_name, person.id)

    def _update(self) -> None:
        start = from_qdate(self.start.date())
        end = start + dt.timedelta(days=7 * self.weeks.value() - 1)
        which = "every active track" if self.track.currentData() is None else "this track"
        self.preview.setText(
            f"Group sessions for {which} from {start:%a %m/%d/%Y} through {end:%a %m/%d/%Y}. "
            "On days the clinic is closed they are created already cancelled."
        )

    def _generate(self) -> Save:
        db, actor = self.ctx.db, self.ctx.actor
        start, weeks = from_qdate(self.start.date()), self.weeks.value()
        facilitator, track = self.facilitator.currentData(), self.track.currentData()

        def done(created: int) -> None:
            self.created = created

        return Save(
            lambda: schedule.generate_sessions(
                db, actor, start, weeks, facilitator_staff_id=facilitator, track_id=track
            ),
            done,
        )
