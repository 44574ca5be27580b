"""Change who facilitates a session."""

from __future__ import annotations

from PySide6.QtCore import (
    Qt,
)
from PySide6.QtWidgets import (
    QComboBox,
    QListWidget,
    QListWidgetItem,
    QWidget,
)

from iopdesk.services import schedule, staff
from iopdesk.services.schedule import (
    SessionInfo,
)
from iopdesk.services.staff import StaffInfo
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.schedule.dialog_base import Save, _ScheduleDialog
from iopdesk.ui.pages.schedule.labels import long_day, time_range


class FacilitatorsDialog(_ScheduleDialog):
    """Choose who runs a session; the primary facilitator is listed first on notes."""

    def __init__(self, ctx: AppContext, info: SessionInfo, parent: QWidget | None = None) -> None:
        super().__init__(
            "Facilitators",
            f"{info.title}\n{long_day(info.date)}, {time_range(info)}\n"
            "Tick everyone who runs this session. The primary facilitator comes first on "
            "the group note.",
            "Save facilitators",
            parent,
        )
        self.setMinimumWidth(480)
        self.ctx = ctx
        self.info = info
        self.done_info: SessionInfo | None = None
        self.list = QListWidget()
        self.list.setObjectName("staffList")
        self.list.setMinimumHeight(200)
        self.primary = QComboBox()
        self.primary.setObjectName("primaryFacilitator")
        self.form.addRow("Facilitators", self.list)
        self.form.addRow("Primary", self.primary)
        self.fields = {"staff_ids": self.list}
        self.action = self._save
        db, actor = ctx.db, ctx.actor
        self.read(lambda: staff.list_staff(db, actor), self._fill)

    def _fill(self, people_list: list[StaffInfo]) -> None:
        """The staff list, read on a worker when the dialog opened."""
        info = self.info
        people = {p.id: p.display_name for p in people_list}
        current = dict(zip(info.facilitator_ids, info.facilitators, strict=False))
        order = list(current) + [i for i in people if i not in current]
        for sid in order:
            item = QListWidgetItem(people.get(sid) or current.get(sid, ""))
            item.setData(Qt.ItemDataRole.UserRole, sid)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if sid in current else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.itemChanged.connect(lambda _i: self._fill_primary())
        self._fill_primary(info.facilitator_ids[0] if info.facilitator_ids else None)

    def checked(self) -> list[int]:
        ids = []
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                ids.append(int(item.data(Qt.ItemDataRole.UserRole)))
        return ids

    def _fill_primary(self, keep: int | None = None) -> None:
        keep = keep if keep is not None else self.primary.currentData()
        self.primary.blockSignals(True)
        self.primary.clear()
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                self.primary.addItem(item.text(), item.data(Qt.ItemDataRole.UserRole))
        index = self.primary.findData(keep) if keep is not None else -1
        self.primary.setCurrentIndex(index if index >= 0 else 0)
        self.primary.setEnabled(self.primary.count() > 1)
        self.primary.blockSignals(False)

    def _save(self) -> Save:
        ids = self.checked()
        primary = self.primary.currentData()
        if primary is not None and primary in ids:
            ids.remove(primary)
            ids.insert(0, int(primary))
        db, actor, info = self.ctx.db, self.ctx.actor, self.info

        def done(result: SessionInfo) -> None:
            self.done_info = result

        return Save(lambda: schedule.set_facilitators(db, actor, info.id, info.version, ids), done)
