"""Staff records for the Admin page: list with license warnings, add/edit, link a user account."""

from __future__ import annotations

from datetime import date

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from iopdesk.errors import ValidationError
from iopdesk.models.enums import Role
from iopdesk.services import auth, staff
from iopdesk.services.permissions import Perm
from iopdesk.services.staff import StaffInfo, StaffInput
from iopdesk.services.validation import npi_is_valid
from iopdesk.ui import clock, msgbox, ops, style
from iopdesk.ui.context import AppContext
from iopdesk.ui.forms import FormDialog, submit
from iopdesk.ui.pages.intake import (
    FORM_CSS,
    US_STATES,
    DateField,
    chain_tab_order,
    editable_combo,
    group_label,
    hint,
    is_invalid,
    mark_invalid,
    new_form,
    repolish,
)
from iopdesk.ui.tablemodel import Column, RowsModel
from iopdesk.ui.widgets import make_table, muted

WORK_ROLES = {
    Role.THERAPIST: "Therapist",
    Role.SUPERVISOR: "Clinical supervisor",
    Role.FRONT_DESK: "Front desk",
    Role.BILLING: "Billing",
    Role.ADMIN: "Administrator",
}
CREDENTIALS = (
    "",
    "LCSW",
    "LMSW",
    "LPC",
    "LPC-Associate",
    "LMFT",
    "LMFT-Associate",
    "LADC",
    "LCADC",
    "CADC",
    "PsyD",
    "PhD",
    "MD",
    "DO",
    "PMHNP",
    "RN",
    "CPRS",
)
FIELD_LABELS = {
    "staff_code": "Staff ID",
    "first_name": "First name",
    "last_name": "Last name",
    "credentials": "Credentials",
    "npi": "NPI",
    "taxonomy": "Taxonomy",
    "phone": "Phone",
    "email": "E-mail",
    "roles": "Works as",
    "supervisor_id": "Supervisor",
    "license_number": "License number",
    "license_state": "License state",
    "license_expiry": "License expiry",
}
NPI_MESSAGE = "Not a valid NPI: 10 digits with a correct check digit."


def license_text(info: StaffInfo) -> str:
    """The expiry date, with the service's warning in short form ("expires in 41 days")."""
    if info.license_expiry is None:
        return ""
    when = f"{info.license_expiry:%m/%d/%Y}"
    warning = info.license_warning.removeprefix("License ")
    if not warning:
        return when
    if warning.startswith("expired"):
        return f"{when}  (expired)"
    return f"{when}  ({warning.split(' (')[0]})"


def license_color(info: StaffInfo) -> str | None:
    if not info.license_warning:
        return None
    return style.BAD if "expired" in info.license_warning else style.WARN


class StaffDialog(FormDialog):
    """Add a staff record, or edit one (`info` given; saved with its version)."""

    def __init__(
        self, ctx: AppContext, info: StaffInfo | None = None, parent: QWidget | None = None
    ) -> None:
        editing = info is not None
        super().__init__(
            "Edit staff member" if editing else "Add staff member",
            "Credentials, NPI and license appear on notes and billing. A supervisee's notes "
            "need their supervisor's co-signature.",
            "Save changes" if editing else "Add staff member",
            parent,
        )
        self.ctx = ctx
        self.info = info
        self.saved: StaffInfo | None = None
        self.stale = False
        self.setStyleSheet(FORM_CSS)
        self.setMinimumWidth(820)
        self.fields: dict[str, QWidget] = {}
        body = QWidget()
        columns = QHBoxLayout(body)
        columns.setContentsMargins(0, 4, 0, 0)
        columns.setSpacing(28)
        self.form.addRow(body)

        left_box = QVBoxLayout()
        left_box.setSpacing(6)
        left_box.addWidget(group_label("Person"))
        left = new_form()
        left_box.addLayout(left)
        left_box.addStretch(1)
        columns.addLayout(left_box, 1)
        self.staff_code = self._line("staff_code", "The clinic's own ID, e.g. T07", 40)
        self.first_name = self._line("first_name", "", 100)
        self.last_name = self._line("last_name", "", 100)
        self.credentials = editable_combo(CREDENTIALS)
        self.credentials.setObjectName("credentials")
        self.credentials.setToolTip("As printed after the name on notes, e.g. LCSW or LPC.")
        self.fields["credentials"] = self.credentials
        self.credentials.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.email = self._line("email", "name@clinic.org", 200)
        self.phone = self._line("phone", "(555) 123-4567", 30)
        left.addRow("Staff ID *", self.staff_code)
        left.addRow("First name *", self.first_name)
        left.addRow("Last name *", self.last_name)
        left.addRow("Credentials", self.credentials)
        left.addRow("E-mail", self.email)
        left.addRow("Phone", self.phone)

        right_box = QVBoxLayout()
        right_box.setSpacing(6)
        right_box.addWidget(group_label("License and supervision"))
        right = new_form()
        right_box.addLayout(right)
        right_box.addStretch(1)
        columns.addLayout(right_box, 1)
        self.npi = self._line("npi", "10 digits", 10)
        self.npi.editingFinished.connect(self._check_npi)
        self.taxonomy = self._line("taxonomy", "e.g. 101YP2500X (for 837 claims)", 10)
        self.license_number = self._line("license_number", "", 40)
        self.license_state = QComboBox()
        self.license_state.setObjectName("license_state")
        self.license_state.addItem("", "")
        for code in US_STATES:
            self.license_state.addItem(code, code)
        self.fields["license_state"] = self.license_state
        self.has_expiry = QCheckBox("Expires")
        self.has_expiry.setObjectName("hasExpiry")
        next_years = date(clock.today().year + 2, 12, 31)
        self.expiry = DateField(maximum=date(2100, 12, 31), blank_page=next_years)
        self.expiry.setObjectName("license_expiry")
        self.expiry.set_value(next_years)
        self.expiry.setEnabled(False)
        self.fields["license_expiry"] = self.expiry
        self.has_expiry.toggled.connect(self.expiry.setEnabled)
        license_row = QHBoxLayout()
        license_row.setSpacing(8)
        license_row.addWidget(self.license_number, 1)
        license_row.addWidget(QLabel("State"))
        license_row.addWidget(self.license_state)
        expiry_row = QHBoxLayout()
        expiry_row.setSpacing(10)
        expiry_row.addWidget(self.has_expiry)
        expiry_row.addWidget(self.expiry, 1)
        self.supervisee = QCheckBox(
            "Associate / supervisee (notes need a co-signature before they bill)"
        )
        self.supervisee.setObjectName("is_supervisee")
        self.supervisor = QComboBox()
        self.supervisor.setObjectName("supervisor_id")
        self.supervisor.addItem("No supervisor", None)
        self.fields["supervisor_id"] = self.supervisor
        self.supervisee.toggled.connect(lambda _on: self._supervisee_changed())
        right.addRow("NPI", self.npi)
        right.addRow("Taxonomy", self.taxonomy)
        right.addRow("License no.", license_row)
        right.addRow("License expiry", expiry_row)
        right.addRow("", self.supervisee)
        right.addRow("Supervisor", self.supervisor)

        roles_widget = QWidget()
        roles_row = QHBoxLayout(roles_widget)
        roles_row.setContentsMargins(0, 0, 0, 0)
        roles_row.setSpacing(18)
        self.role_boxes: dict[Role, QCheckBox] = {}
        for role, label in WORK_ROLES.items():
            box = QCheckBox(label)
            box.setObjectName(f"role_{role.value}")
            self.role_boxes[role] = box
            roles_row.addWidget(box)
        roles_row.addStretch(1)
        self.fields["roles"] = roles_widget
        self.active = QCheckBox("Active (can be scheduled and assigned clients)")
        self.active.setObjectName("active")
        self.active.setChecked(True)
        bottom = QVBoxLayout()
        bottom.setSpacing(6)
        bottom.addWidget(group_label("Works as"))
        bottom.addWidget(roles_widget)
        bottom.addWidget(
            hint(
                "What this person does at the clinic. Sign-in permissions come from their user "
                "account (Admin > Users)."
            )
        )
        if editing:
            bottom.addWidget(self.active)
        self.form.addRow(_wrap(bottom))

        for name, widget in self.fields.items():
            if isinstance(widget, QLineEdit) and name != "npi":
                widget.textChanged.connect(lambda _t, w=widget: self._clear(w))
        self.npi.textChanged.connect(lambda _t: self._clear(self.npi))
        self.supervisor.currentIndexChanged.connect(lambda _i: self._clear(self.supervisor))
        for box in self.role_boxes.values():
            box.toggled.connect(lambda _on: self._clear(roles_widget))
        chain_tab_order(
            [
                self.staff_code,
                self.first_name,
                self.last_name,
                self.credentials,
                self.email,
                self.phone,
                self.npi,
                self.license_number,
                self.license_state,
                self.has_expiry,
                self.expiry,
                self.supervisee,
                self.supervisor,
                *self.role_boxes.values(),
                *([self.active] if editing else []),
            ]
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setObjectName("primary")
        repolish(ok)
        if info is not None:
            self._load(info)
        else:
            self.role_boxes[Role.THERAPIST].setChecked(True)
        self._supervisee_changed()
        self.accept_action = self._check
        self.staff_code.setFocus()
        # the supervisor list is read on a worker; OK waits for it
        self.buttons.setEnabled(False)
        db, actor = ctx.db, ctx.actor
        self.reading = (
            ops.Op(
                self, lambda: staff.list_staff(db, actor, active_only=False), takes_control=False
            )
            .success(self._fill_supervisors)
            .on_done(lambda: self.buttons.setEnabled(True))
            .run_in_background()
        )

    def _fill_supervisors(self, people: list[StaffInfo]) -> None:
        info = self.info
        for person in people:
            if info is not None and person.id == info.id:
                continue
            if person.active or (info is not None and person.id == info.supervisor_id):
                suffix = "" if person.active else " (inactive)"
                self.supervisor.addItem(person.display_name + suffix, person.id)
        if info is not None:
            self.supervisor.setCurrentIndex(max(self.supervisor.findData(info.supervisor_id), 0))

    def _line(self, name: str, placeholder: str, max_length: int) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(name)
        edit.setPlaceholderText(placeholder)
        edit.setMaxLength(max_length)
        self.fields[name] = edit
        return edit

    def _load(self, info: StaffInfo) -> None:
        self.staff_code.setText(info.staff_code)
        self.first_name.setText(info.first_name)
        self.last_name.setText(info.last_name)
        self.credentials.setCurrentText(info.credentials)
        self.email.setText(info.email)
        self.phone.setText(info.phone)
        self.npi.setText(info.npi)
        self.taxonomy.setText(info.taxonomy)
        self.license_number.setText(info.license_number)
        state = info.license_state
        index = self.license_state.findData(state)
        if index < 0 and state:
            self.license_state.addItem(state, state)
            index = self.license_state.count() - 1
        self.license_state.setCurrentIndex(max(index, 0))
        if info.license_expiry is not None:
            self.has_expiry.setChecked(True)
            self.expiry.set_value(info.license_expiry)
        self.supervisee.setChecked(info.is_supervisee)
        self.supervisor.setCurrentIndex(max(self.supervisor.findData(info.supervisor_id), 0))
        parts = {p.strip() for p in info.roles.split(",")}
        for role, box in self.role_boxes.items():
            box.setChecked(role.value in parts)
        self.active.setChecked(info.active)

    def _supervisee_changed(self) -> None:
        label = self.form.labelForField(self.supervisor)
        text = "Supervisor *" if self.supervisee.isChecked() else "Supervisor"
        if isinstance(label, QLabel):
            label.setText(text)

    def _clear(self, widget: QWidget) -> None:
        if is_invalid(widget):
            mark_invalid(widget, None)

    def _check_npi(self) -> None:
        text = self.npi.text().strip()
        if text and not npi_is_valid(text):
            mark_invalid(self.npi, NPI_MESSAGE)

    def build_input(self) -> StaffInput:
        return StaffInput(
            staff_code=self.staff_code.text(),
            first_name=self.first_name.text(),
            last_name=self.last_name.text(),
            credentials=self.credentials.currentText(),
            is_supervisee=self.supervisee.isChecked(),
            npi=self.npi.text(),
            license_number=self.license_number.text(),
            license_state=str(self.license_state.currentData() or ""),
            license_expiry=self.expiry.value() if self.has_expiry.isChecked() else None,
            supervisor_id=self.supervisor.currentData(),
            email=self.email.text(),
            phone=self.phone.text(),
            roles=",".join(r.value for r, box in self.role_boxes.items() if box.isChecked()),
            taxonomy=self.taxonomy.text(),
        )

    def _check(self) -> None:
        """What was typed (GUI thread): at least one role."""
        for widget in self.fields.values():
            if is_invalid(widget):
                mark_invalid(widget, None)
        if not self.build_input().roles:
            raise ValidationError(self._mark({"roles": "Choose at least one."}, ""))

    def _try_accept(self) -> None:
        try:
            self._check()
        except ValidationError as exc:
            self.show_error(exc.message)
            return
        self.error.hide()
        db, actor, info, data = self.ctx.db, self.ctx.actor, self.info, self.build_input()
        active = self.active.isChecked()

        def save() -> StaffInfo:
            if info is None:
                return staff.create_staff(db, actor, data)
            return staff.update_staff(db, actor, info.id, info.version, data, active=active)

        self.last_op = submit(self, save, self._saved, show_error=self._refused, reload=self._stale)

    def _refused(self, text: str) -> None:
        error = self.last_op.error if self.last_op is not None else None
        if isinstance(error, ValidationError):
            text = self._mark(error.fields, text)
        self.show_error(text)

    def _stale(self) -> None:
        # Someone else saved this record: said in a box; close, and let the list reload.
        self.stale = True
        self.accept()

    def _mark(self, fields: dict[str, str], fallback: str) -> str:
        first: QWidget | None = None
        lines = []
        for name, message in fields.items():
            widget = self.fields.get(name)
            if widget is not None:
                mark_invalid(widget, message)
                first = first or widget
            lines.append(f"\u2022 {FIELD_LABELS.get(name, name)}: {message}")
        if first is not None:
            first.setFocus()
        if not lines:
            return fallback
        return "Please correct the highlighted fields:\n" + "\n".join(lines)


def _wrap(layout: QVBoxLayout) -> QWidget:
    holder = QWidget()
    layout.setContentsMargins(0, 6, 0, 0)
    holder.setLayout(layout)
    return holder


class LinkUserDialog(FormDialog):
    """Connect a staff record to the sign-in account of the same person."""

    def __init__(self, ctx: AppContext, info: StaffInfo, parent: QWidget | None = None) -> None:
        super().__init__(
            "Link user account",
            f"{info.display_name}: choose the account this person signs in with. Their "
            "caseload and their notes follow the link.",
            "Save link",
            parent,
        )
        self.ctx = ctx
        self.info = info
        self.users: list[auth.UserInfo] = []
        self.account = QComboBox()
        self.account.setObjectName("account")
        self.account.addItem("No account (not linked)", None)
        self.form.addRow("User account", self.account)
        self.form.addRow("", muted("Choosing an account that is linked elsewhere moves the link."))
        self.setMinimumWidth(520)
        # the accounts and the staff names are read on a worker; OK waits for them
        self.buttons.setEnabled(False)
        db, actor = ctx.db, ctx.actor
        self.reading = (
            ops.Op(
                self,
                lambda: (auth.list_users(db, actor), staff.list_staff(db, actor, False)),
                takes_control=False,
            )
            .success(self._fill)
            .on_done(lambda: self.buttons.setEnabled(True))
            .run_in_background()
        )

    def _fill(self, data: tuple[list[auth.UserInfo], list[StaffInfo]]) -> None:
        self.users, people = data
        info = self.info
        names = {s.id: s.display_name for s in people}
        current = 0
        for user in self.users:
            label = f"{user.username} - {user.display_name}"
            if user.staff_id is not None and user.staff_id != info.id:
                label += f"   (now linked to {names.get(user.staff_id, 'another staff record')})"
            if not user.active:
                label += "   (inactive)"
            self.account.addItem(label, user.id)
            if user.staff_id == info.id:
                current = self.account.count() - 1
        self.account.setCurrentIndex(current)

    def _try_accept(self) -> None:
        chosen = self.account.currentData()
        db, actor, staff_id = self.ctx.db, self.ctx.actor, self.info.id
        linked = [u for u in self.users if u.staff_id == staff_id]

        def save() -> None:
            for user in linked:
                if user.id != chosen:
                    staff.link_user(db, actor, user.id, None)
            if chosen is not None and all(u.id != chosen for u in linked):
                staff.link_user(db, actor, int(chosen), staff_id)

        self.error.hide()
        self.last_op = submit(self, save, self._saved)


class StaffTab(QWidget):
    """The Staff tab of the Admin page."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.add_button = QPushButton("Add staff...")
        self.add_button.setObjectName("primary")
        self.add_button.clicked.connect(self.add_staff)
        self.edit_button = QPushButton("Edit...")
        self.edit_button.clicked.connect(self.edit_selected)
        self.link_button = QPushButton("Link user account...")
        self.link_button.clicked.connect(self.link_selected)
        self.show_inactive = QCheckBox("Show inactive staff")
        self.show_inactive.toggled.connect(lambda _on: self.refresh())
        self._select_after: int | None = None
        self.count = muted("")
        self.count.setWordWrap(False)
        can_manage = ctx.can(Perm.STAFF_MANAGE)
        self.add_button.setEnabled(can_manage)
        self.edit_button.setEnabled(can_manage)
        self.link_button.setEnabled(ctx.can(Perm.USERS_MANAGE))
        for widget in (self.add_button, self.edit_button, self.link_button):
            bar.addWidget(widget)
        bar.addSpacing(16)
        bar.addWidget(self.show_inactive)
        bar.addStretch(1)
        bar.addWidget(self.count)
        lay.addLayout(bar)
        self.warning = QLabel("")
        self.warning.setObjectName("licenseWarning")
        self.warning.setStyleSheet(
            f"color: {style.WARN}; background: #fff4e0; border: 1px solid #f3d19c; "
            "border-radius: 5px; padding: 6px 10px;"
        )
        self.warning.setWordWrap(True)
        self.warning.hide()
        lay.addWidget(self.warning)
        self.model: RowsModel[StaffInfo] = RowsModel(
            [
                Column(
                    "Name",
                    lambda s: f"{s.last_name}, {s.first_name}",
                    sort_key=lambda s: (s.last_name.lower(), s.first_name.lower()),
                ),
                Column("Credentials", lambda s: s.credentials),
                Column("Staff ID", lambda s: s.staff_code),
                Column("NPI", lambda s: s.npi),
                Column(
                    "License expiry",
                    license_text,
                    sort_key=lambda s: s.license_expiry,
                    color=license_color,
                ),
                Column("Supervisor", lambda s: s.supervisor),
                Column("User account", lambda s: s.username or "not linked"),
                Column(
                    "Status",
                    lambda s: "Active" if s.active else "Inactive",
                    color=lambda s: style.OK if s.active else style.MUTED,
                ),
            ]
        )
        self.table = make_table()
        self.table.setObjectName("staffTable")
        self.table.setModel(self.model)
        for column, width in enumerate((160, 110, 75, 100, 250, 150, 115)):
            self.table.setColumnWidth(column, width)
        self.table.doubleClicked.connect(lambda _i: self.edit_selected())
        lay.addWidget(self.table, 1)

    def refresh(self, select: int | None = None) -> None:
        """Reload in the background; `select`: the staff member to select once shown."""
        from iopdesk.ui.pages.loading import load

        if select is not None:
            self._select_after = select
        active_only = self.active_only()
        load(self, lambda: self.fetch(active_only), self.present)

    def active_only(self) -> bool:
        """GUI thread: the list's filter, read before the background fetch."""
        return not self.show_inactive.isChecked()

    def fetch(self, active_only: bool = True) -> list[StaffInfo]:
        """Worker thread: services only."""
        return staff.list_staff(self.ctx.db, self.ctx.actor, active_only=active_only)

    def present(self, rows: list[StaffInfo]) -> None:
        self.model.set_rows(rows)
        active = sum(1 for s in rows if s.active)
        self.count.setText(f"{active} active staff member{'s' if active != 1 else ''}")
        warnings = [s for s in rows if s.active and s.license_warning]
        if warnings:
            lines = [f"{s.display_name}: {s.license_warning}." for s in warnings[:3]]
            if len(warnings) > 3:
                lines.append(f"...and {len(warnings) - 3} more (see License expiry).")
            self.warning.setText(
                "\n".join(lines) + "\nEdit the staff record once the license is renewed."
            )
        self.warning.setVisible(bool(warnings))
        select, self._select_after = self._select_after, None
        if select is not None:
            self.select_staff(select)

    def selected(self) -> StaffInfo | None:
        index = self.table.currentIndex()
        if not index.isValid():
            msgbox.info(self, "Select a staff member", "Select a staff member in the list first.")
            return None
        return self.model.row_at(index.row())

    def select_staff(self, staff_id: int) -> None:
        for row, info in enumerate(self.model.rows):
            if info.id == staff_id:
                self.table.selectRow(row)
                return

    def add_staff(self) -> None:
        dialog = StaffDialog(self.ctx, None, self)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.saved is not None:
            self.refresh(select=dialog.saved.id)

    def edit_selected(self) -> None:
        if not self.ctx.can(Perm.STAFF_MANAGE):
            return
        info = self.selected()
        if info is None:
            return
        dialog = StaffDialog(self.ctx, info, self)
        dialog.exec()
        self.refresh(select=info.id)

    def link_selected(self) -> None:
        info = self.selected()
        if info is None:
            return
        dialog = LinkUserDialog(self.ctx, info, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.refresh(select=info.id)
