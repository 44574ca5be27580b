"""Caseloads: clients per staff member and role, and the care-team assignment dialog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from iopdesk.errors import ValidationError
from iopdesk.models.enums import AssignmentRole, Role
from iopdesk.services import clients, staff
from iopdesk.services.permissions import Perm
from iopdesk.services.staff import AssignmentInfo, StaffInfo
from iopdesk.ui import clock, msgbox, ops, style
from iopdesk.ui.context import AppContext
from iopdesk.ui.forms import FormDialog
from iopdesk.ui.pages.intake import FORM_CSS, DateField, hint, mark_invalid, repolish
from iopdesk.ui.tablemodel import Column, RowsModel
from iopdesk.ui.widgets import Page, make_table, muted, section_title

ROLES = (
    AssignmentRole.PRIMARY_THERAPIST.value,
    AssignmentRole.CASE_MANAGER.value,
    AssignmentRole.PSYCHIATRIST.value,
)
CLINICAL_WORK = {Role.THERAPIST.value, Role.SUPERVISOR.value}


@dataclass(frozen=True)
class CaseloadRow:
    staff_id: int
    name: str
    credentials: str
    primary: int
    case_manager: int
    psychiatrist: int

    @property
    def total(self) -> int:
        return self.primary + self.case_manager + self.psychiatrist

    @property
    def display_name(self) -> str:
        return self.name + (f", {self.credentials}" if self.credentials else "")


def caseload_rows(ctx: AppContext) -> list[CaseloadRow]:
    """Clinical staff (and anyone holding clients) with their current counts per role."""
    counts = {c.staff_id: c for c in staff.caseload_counts(ctx.db, ctx.actor)}
    people: dict[int, StaffInfo] = {s.id: s for s in staff.list_staff(ctx.db, ctx.actor)}
    rows: list[CaseloadRow] = []
    for sid in set(counts) | {
        s.id for s in people.values() if CLINICAL_WORK & {p.strip() for p in s.roles.split(",")}
    }:
        count = counts.get(sid)
        person = people.get(sid)
        by_role = count.counts if count is not None else {}
        name = (
            f"{person.first_name} {person.last_name}"
            if person is not None
            else (count.name if count is not None else "")
        )
        credentials = (
            person.credentials if person is not None else (count.credentials if count else "")
        )
        rows.append(
            CaseloadRow(
                sid,
                name,
                credentials,
                by_role.get(AssignmentRole.PRIMARY_THERAPIST.value, 0),
                by_role.get(AssignmentRole.CASE_MANAGER.value, 0),
                by_role.get(AssignmentRole.PSYCHIATRIST.value, 0),
            )
        )
    rows.sort(key=lambda r: (r.name.split(" ")[-1].lower(), r.name.lower()))
    return rows


def _count(n: int) -> str:
    return str(n) if n else "-"


class CaseloadPage(Page):
    """Left: staff with their counts. Right: the selected person's current clients."""

    title = "Caseloads"
    shows = frozenset({"client", "therapistassignment", "trackenrollment", "staff", "track"})
    open_client = Signal(int)

    def __init__(self, ctx: AppContext) -> None:
        # Late import: the clients page opens this module's dialog (no import cycle).
        from iopdesk.ui.pages.clients import STATUS_COLORS, STATUS_LABELS

        super().__init__()
        self.ctx = ctx
        self._selected_id: int | None = None
        self._preloaded: list[Any] | None = None
        top = QHBoxLayout()
        top.addWidget(
            muted(
                "Current assignments of active and pending clients. Double-click a client to "
                "open the chart."
            ),
            1,
        )
        self.layout_.addLayout(top)
        body = QHBoxLayout()
        body.setSpacing(18)
        self.layout_.addLayout(body, 1)

        left = QVBoxLayout()
        left.setSpacing(8)
        left.addWidget(section_title("Staff"))
        self.staff_model: RowsModel[CaseloadRow] = RowsModel(
            [
                Column(
                    "Staff member",
                    lambda r: r.display_name,
                    sort_key=lambda r: (r.name.split(" ")[-1].lower(), r.name.lower()),
                ),
                Column(
                    "Primary\ntherapist", lambda r: _count(r.primary), lambda r: r.primary, True
                ),
                Column(
                    "Case\nmanager",
                    lambda r: _count(r.case_manager),
                    lambda r: r.case_manager,
                    True,
                ),
                Column(
                    "Psychiatrist", lambda r: _count(r.psychiatrist), lambda r: r.psychiatrist, True
                ),
                Column("Total", lambda r: r.total, align_right=True),
            ]
        )
        self.staff_table = make_table()
        self.staff_table.setObjectName("caseloadStaffTable")
        self.staff_table.setModel(self.staff_model)
        for column, width in enumerate((190, 90, 84, 106, 50)):
            self.staff_table.setColumnWidth(column, width)
        self.staff_table.selectionModel().currentRowChanged.connect(
            lambda current, _previous: self._staff_changed(current)
        )
        left.addWidget(self.staff_table, 1)
        body.addLayout(left, 54)

        right = QVBoxLayout()
        right.setSpacing(8)
        heading = QHBoxLayout()
        self.heading = section_title("Caseload")
        self.heading.setObjectName("sectionTitle")
        heading.addWidget(self.heading, 1)
        self.assign_button = QPushButton("Change care team...")
        self.assign_button.setObjectName("assignButton")
        self.assign_button.setToolTip("Assign or reassign the selected client's care team")
        self.assign_button.clicked.connect(self._assign_selected)
        self.assign_button.setVisible(ctx.can(Perm.ASSIGNMENT_MANAGE))
        heading.addWidget(self.assign_button)
        right.addLayout(heading)
        self.clients_model: RowsModel[clients.CensusRow] = RowsModel(
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
                    "Status",
                    lambda r: STATUS_LABELS.get(r.status, r.status),
                    color=lambda r: STATUS_COLORS.get(r.status),
                ),
                Column("Track", lambda r: r.track),
            ]
        )
        self.clients_table = make_table()
        self.clients_table.setObjectName("caseloadClientsTable")
        self.clients_table.setModel(self.clients_model)
        for column, width in enumerate((80, 185, 75)):
            self.clients_table.setColumnWidth(column, width)
        self.clients_table.horizontalHeader().setSortIndicator(1, Qt.SortOrder.AscendingOrder)
        self.clients_table.doubleClicked.connect(self._client_activated)
        self.clients_table.activated.connect(self._client_activated)
        right.addWidget(self.clients_table, 1)
        self.empty = muted("")
        right.addWidget(self.empty)
        body.addLayout(right, 53)

    # -- data --------------------------------------------------------------------------------
    def refresh(self) -> None:
        """The staff counts and the selected person's caseload, loaded in the background."""
        from iopdesk.ui.pages.loading import load

        keep = self._selected_id
        load(self, lambda: self.fetch(keep), self.present)

    def fetch(self, keep: int | None = None) -> tuple[list[CaseloadRow], int | None, list[Any]]:
        """Worker thread: the counts, and the caseload of the person who will be selected."""
        rows = caseload_rows(self.ctx)
        ids = [r.staff_id for r in rows]
        if keep not in ids:
            own = self.ctx.actor.staff_id
            keep = own if own in ids else (ids[0] if ids else None)
        shown = staff.caseload(self.ctx.db, self.ctx.actor, keep) if keep is not None else []
        return rows, keep, shown

    def present(self, data: object) -> None:
        rows, keep, shown = cast(Any, data)
        self.staff_model.set_rows(rows)
        self._selected_id = None
        if keep is None:
            self._show_caseload(None)
        else:
            self.select_staff(keep, shown)

    def select_staff(self, staff_id: int, clients: list[Any] | None = None) -> None:
        """Select a staff member (e.g. a therapist's own caseload) and show their clients."""
        for row, entry in enumerate(self.staff_model.rows):
            if entry.staff_id == staff_id:
                self._selected_id = staff_id
                self._preloaded = clients
                self.staff_table.selectionModel().setCurrentIndex(
                    self.staff_model.index(row, 0),
                    QItemSelectionModel.SelectionFlag.ClearAndSelect
                    | QItemSelectionModel.SelectionFlag.Rows,
                )
                self._show_caseload(entry)
                return

    def selected_staff(self) -> CaseloadRow | None:
        for entry in self.staff_model.rows:
            if entry.staff_id == self._selected_id:
                return entry
        return None

    def _staff_changed(self, current: QModelIndex) -> None:
        if not current.isValid():
            return
        entry = self.staff_model.row_at(current.row())
        if entry.staff_id != self._selected_id or not self.clients_model.rows:
            self._selected_id = entry.staff_id
            self._show_caseload(entry)

    def _show_caseload(self, entry: CaseloadRow | None) -> None:
        if entry is None:
            self.heading.setText("Caseload")
            self.clients_model.set_rows([])
            self.empty.setText("No clinical staff yet. Add staff under Admin > Staff.")
            self.empty.show()
            return
        preloaded, self._preloaded = self._preloaded, None
        if preloaded is not None:
            self._present_caseload(entry, preloaded)
            return
        from iopdesk.ui.pages.loading import load

        db, actor, staff_id = self.ctx.db, self.ctx.actor, entry.staff_id
        load(
            self.clients_table,
            lambda: staff.caseload(db, actor, staff_id),
            lambda rows: self._present_caseload(entry, rows),
        )

    def _present_caseload(self, entry: CaseloadRow, rows: list[Any]) -> None:
        self.clients_model.set_rows(rows)
        n = len(rows)
        self.heading.setText(f"{entry.display_name}: {n} client{'s' if n != 1 else ''}")
        self.empty.setText("No clients are assigned to this staff member now.")
        self.empty.setVisible(not rows)

    def _client_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_client.emit(self.clients_model.row_at(index.row()).id)

    def _assign_selected(self) -> None:
        index = self.clients_table.currentIndex()
        if not index.isValid():
            msgbox.info(self, "Select a client", "Select a client in the caseload first.")
            return
        row = self.clients_model.row_at(index.row())
        dialog = AssignDialog(self.ctx, row.id, self, client_label=f"{row.display_name}")
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.refresh()


class AssignDialog(FormDialog):
    """Give a client a primary therapist, case manager or psychiatrist from a start date.

    The person who held the role keeps it on record until the day before (history is kept).
    """

    def __init__(
        self,
        ctx: AppContext,
        client_id: int,
        parent: QWidget | None = None,
        client_label: str = "",
        role: str = AssignmentRole.PRIMARY_THERAPIST.value,
    ) -> None:
        who = f"{client_label}: " if client_label else ""
        super().__init__(
            "Care team",
            f"{who}assign a primary therapist, case manager or psychiatrist. The person who "
            "has the role now keeps it until the day before the new start date.",
            "Assign",
            parent,
        )
        self.ctx = ctx
        self.client_id = client_id
        self.result_info: AssignmentInfo | None = None
        self.setStyleSheet(FORM_CSS)
        self.setMinimumWidth(620)
        self.role = QComboBox()
        self.role.setObjectName("role")
        for value in ROLES:
            self.role.addItem(staff.ROLE_LABELS[value], value)
        self.role.setCurrentIndex(max(self.role.findData(role), 0))
        self.current = hint("")
        self.staff = QComboBox()
        self.staff.setObjectName("staff")
        self.staff.addItem("Choose a staff member", None)
        self.start = DateField(
            maximum=date(clock.today().year + 1, 12, 31), blank_page=clock.today()
        )
        self.start.setObjectName("start_date")
        self.start.set_value(clock.today())
        self.form.addRow("Role", self.role)
        self.form.addRow("", self.current)
        self.form.addRow("Staff member", self.staff)
        self.form.addRow("Start date", self.start)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setObjectName("primary")
        repolish(ok)

        history = QFrame()
        lay = QVBoxLayout(history)
        lay.setContentsMargins(0, 8, 0, 0)
        lay.setSpacing(6)
        lay.addWidget(section_title("Care team history"))
        self.history_model: RowsModel[AssignmentInfo] = RowsModel(
            [
                Column("Role", lambda a: a.role_label),
                Column("Staff member", lambda a: a.staff_name),
                Column(
                    "From", lambda a: f"{a.start_date:%m/%d/%Y}", sort_key=lambda a: a.start_date
                ),
                Column(
                    "To",
                    lambda a: f"{a.end_date:%m/%d/%Y}" if a.end_date else "",
                    sort_key=lambda a: a.end_date or date.max,
                ),
                Column(
                    "",
                    lambda a: "Current" if a.current() else "",
                    color=lambda a: style.OK if a.current() else None,
                ),
            ]
        )
        self.history = make_table()
        self.history.setObjectName("assignmentHistory")
        self.history.setModel(self.history_model)
        self.history.setSortingEnabled(False)
        for column, width in enumerate((125, 170, 85, 85)):
            self.history.setColumnWidth(column, width)
        self.history.setMinimumHeight(170)
        lay.addWidget(self.history)
        self.form.addRow(history)
        self.role.currentIndexChanged.connect(lambda _i: self._role_changed())
        self.staff.currentIndexChanged.connect(lambda _i: mark_invalid(self.staff, None))
        self.accept_action = self._check  # then `_try_accept` sets the save (a worker's)
        self.assignments: list[AssignmentInfo] = []
        self.current.setText("Reading the care team...")
        self.buttons.setEnabled(False)  # until the staff list and the history arrive
        self.opening = self.load_history(with_staff=True)
        self.staff.setFocus()

    def load_history(self, with_staff: bool = False) -> ops.Op[Any]:
        """Read the care team history (and, when the dialog opens, the staff list) on a
        worker; fill the dialog when it arrives."""
        db, actor, client_id = self.ctx.db, self.ctx.actor, self.client_id

        def read() -> tuple[list[StaffInfo], list[AssignmentInfo]]:
            people = staff.list_staff(db, actor) if with_staff else []
            return people, staff.assignments_for(db, actor, client_id)

        def fill(data: tuple[list[StaffInfo], list[AssignmentInfo]]) -> None:
            people, self.assignments = data
            for person in people:
                self.staff.addItem(person.display_name, person.id)
            self.history_model.set_rows(self.assignments)
            self._role_changed()

        return (
            ops.Op(self, read, takes_control=False)
            .success(fill)
            .on_done(lambda: self.buttons.setEnabled(True))
            .run_in_background()
        )

    def _role_changed(self) -> None:
        role = self.role.currentData()
        now = [a for a in self.assignments if a.role == role and a.current()]
        if now:
            a = now[0]
            self.current.setText(f"Now: {a.staff_name}, since {a.start_date:%m/%d/%Y}.")
        else:
            self.current.setText("Nobody has this role for the client now.")

    def _check(self) -> None:
        """What was typed (GUI thread); the save itself is `save_action`, on a worker."""
        mark_invalid(self.staff, None)
        if self.staff.currentData() is None:
            mark_invalid(self.staff, "Choose who takes this role.")
            raise ValidationError("Choose the staff member who takes this role.")
        if self.start.value() is None:
            mark_invalid(self.start, "Enter the start date.")
            raise ValidationError("Enter the date the new assignment starts.")

    def _try_accept(self) -> None:
        # the fields are read here, on the GUI thread; the worker only gets their values
        staff_id, role = self.staff.currentData(), self.role.currentData()
        start = self.start.value()
        db, actor, client_id = self.ctx.db, self.ctx.actor, self.client_id
        self.save_action = lambda: staff.assign(
            db, actor, client_id, int(staff_id or 0), str(role), start or date.min
        )
        super()._try_accept()

    def _saved(self, result: Any) -> None:
        self.result_info = result
        super()._saved(result)

    def show_error(self, text: str) -> None:
        error = self.last_op.error if self.last_op is not None else None
        if isinstance(error, ValidationError) and (
            "staff" in text.lower() or "already has" in text
        ):
            mark_invalid(self.staff, text)
        super().show_error(text)
