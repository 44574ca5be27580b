"""Admin: user accounts, clinic settings, audit log, database information."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from iopdesk import settings as decl
from iopdesk.errors import UserError, ValidationError
from iopdesk.models.enums import Role
from iopdesk.services import auth, clinic, jobs
from iopdesk.services.disclosures import Release
from iopdesk.services.permissions import Perm
from iopdesk.ui import msgbox, ops
from iopdesk.ui.clock import clinic_time
from iopdesk.ui.context import AppContext
from iopdesk.ui.forms import FormDialog, password_field
from iopdesk.ui.pages.backups import BackupsTab
from iopdesk.ui.pages.staff import StaffTab
from iopdesk.ui.tablemodel import Column, RowsModel
from iopdesk.ui.widgets import Page, make_table, muted, section_title

ROLE_LABELS = {
    Role.FRONT_DESK: "Front desk",
    Role.THERAPIST: "Therapist",
    Role.SUPERVISOR: "Supervisor",
    Role.BILLING: "Billing",
    Role.ADMIN: "Administrator",
}


def roles_label(roles: frozenset[Role]) -> str:
    return ", ".join(ROLE_LABELS[r] for r in Role if r in roles)


class AddUserDialog(FormDialog):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__("Add user", "Each person gets their own account.", "Add user", parent)
        self.ctx = ctx
        self.username = QLineEdit()
        self.full_name = QLineEdit()
        self.password = password_field()
        self.form.addRow("User name", self.username)
        self.form.addRow("Full name", self.full_name)
        self.form.addRow("Temporary password", self.password)
        self.role_boxes: dict[Role, QCheckBox] = {}
        roles = QWidget()
        rl = QVBoxLayout(roles)
        rl.setContentsMargins(0, 0, 0, 0)
        for role in Role:
            box = QCheckBox(ROLE_LABELS[role])
            self.role_boxes[role] = box
            rl.addWidget(box)
        self.form.addRow("Roles", roles)
        self.accept_action = self._save

    def _save(self) -> None:
        """Check what was typed; `save_action` adds the user on an op worker."""
        roles = frozenset(r for r, b in self.role_boxes.items() if b.isChecked())
        if not roles:
            raise ValidationError("Choose at least one role.")
        db, actor = self.ctx.db, self.ctx.actor
        username, password, name = self.username.text(), self.password.text(), self.full_name.text()
        self.save_action = lambda: auth.add_user(db, actor, username, password, roles, name)


class AdminPage(Page):
    title = "Admin"

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.last_op: ops.Op[Any] | None = None
        self.tabs = QTabWidget()
        self.layout_.addWidget(self.tabs, 1)
        self._users_tab()
        self.staff_tab = StaffTab(ctx)
        self.tabs.addTab(self.staff_tab, "Staff")
        self._clinic_tab()
        self._settings_tab()
        self._audit_tab()
        self._data_tab()
        self.backups_tab = BackupsTab(ctx)
        self.backups_tab.restored.connect(self.refresh)
        self.tabs.addTab(self.backups_tab, "Backups")
        from iopdesk.ui.pages.templates import TemplatesTab

        self.templates_tab = TemplatesTab(ctx)
        self.tabs.addTab(self.templates_tab, "Note templates")
        self._database_tab()

    # -- users ---------------------------------------------------------------------------
    def _users_tab(self) -> None:
        tab = QWidget()
        lay = QVBoxLayout(tab)
        bar = QHBoxLayout()
        add = QPushButton("Add user...")
        add.setObjectName("primary")
        add.clicked.connect(self._add_user)
        self.unlock_btn = QPushButton("Unlock account")
        self.unlock_btn.clicked.connect(lambda: self._change_user(unlock=True))
        self.toggle_btn = QPushButton("Deactivate / reactivate")
        self.toggle_btn.clicked.connect(lambda: self._change_user(toggle=True))
        from iopdesk.ui.pages.privacy import UserSecurityButton

        self.security_btn = UserSecurityButton(self.ctx, self._selected_user, self.refresh)
        for w in (add, self.unlock_btn, self.toggle_btn, self.security_btn):
            bar.addWidget(w)
        bar.addStretch(1)
        lay.addLayout(bar)
        self.users_model: RowsModel[auth.UserInfo] = RowsModel(
            [
                Column("User name", lambda u: u.username),
                Column("Name", lambda u: u.display_name),
                Column("Roles", lambda u: roles_label(u.roles)),
                Column(
                    "Status",
                    lambda u: "Locked" if u.locked else ("Active" if u.active else "Inactive"),
                    color=lambda u: "#c62828" if u.locked or not u.active else "#2e7d32",
                ),
                Column(
                    "Last sign-in",
                    lambda u: (
                        clinic_time(u.last_login_at).strftime("%m/%d/%Y %H:%M")
                        if u.last_login_at
                        else "never"
                    ),
                    sort_key=lambda u: u.last_login_at,
                ),
            ]
        )
        self.users_table = make_table()
        self.users_table.setModel(self.users_model)
        for column, width in enumerate((140, 200, 260, 90)):
            self.users_table.setColumnWidth(column, width)
        lay.addWidget(self.users_table, 1)
        self.tabs.addTab(tab, "Users")

    def _selected_user(self) -> auth.UserInfo | None:
        index = self.users_table.currentIndex()
        if not index.isValid():
            msgbox.info(self, "Select a user", "Select a user in the list first.")
            return None
        return self.users_model.row_at(index.row())

    def _add_user(self) -> None:
        dialog = AddUserDialog(self.ctx, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.refresh()

    def _change_user(self, unlock: bool = False, toggle: bool = False) -> None:
        user = self._selected_user()
        if user is None:
            return
        db, actor = self.ctx.db, self.ctx.actor
        active = (not user.active) if toggle else None
        self.last_op = (
            ops.Op(
                self,
                lambda: auth.set_user_access(
                    db, actor, user.id, user.version, unlock=unlock, active=active
                ),
            )
            .on_done(self.refresh)
            .run_in_background()
        )

    # -- settings ------------------------------------------------------------------------
    # -- clinic details --------------------------------------------------------------------
    CLINIC_FIELDS = (
        ("name", "Clinic name"),
        ("address", "Address"),
        ("phone", "Phone"),
        ("email", "E-mail"),
        ("billing_npi", "Billing NPI"),
        ("tax_id", "Tax ID (EIN)"),
        ("office_pos", "Office place of service"),
        ("timezone", "Time zone"),
    )

    def _clinic_tab(self) -> None:
        tab = QWidget()
        outer = QVBoxLayout(tab)
        form = QFormLayout()
        form.setSpacing(8)
        self.clinic_fields: dict[str, QLineEdit] = {}
        for key, label in self.CLINIC_FIELDS:
            edit = QLineEdit()
            edit.setMaximumWidth(520)
            self.clinic_fields[key] = edit
            form.addRow(label, edit)
        outer.addLayout(form)
        outer.addWidget(
            muted(
                "Printed on packets and reports, and used on claim lines (billing NPI, tax ID, "
                "place of service 11 = office)."
            )
        )
        save = QPushButton("Save clinic details")
        save.setObjectName("primary")
        save.clicked.connect(self.save_clinic)
        self.clinic_save_btn = save
        outer.addWidget(save)
        logo_row = QHBoxLayout()
        self.logo_preview = QLabel("No logo")
        self.logo_preview.setFixedSize(180, 72)
        self.logo_preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.logo_preview.setStyleSheet("border: 1px solid #c8d1dc; background: white;")
        choose = QPushButton("Choose logo...")
        choose.clicked.connect(self._choose_logo)
        remove = QPushButton("Remove logo")
        remove.clicked.connect(lambda: self.set_logo(None))
        logo_row.addWidget(self.logo_preview)
        logo_row.addWidget(choose)
        logo_row.addWidget(remove)
        logo_row.addWidget(
            muted("Printed on the aftercare packet's letterhead (PNG or JPEG, 1 MB).")
        )
        logo_row.addStretch(1)
        outer.addLayout(logo_row)
        outer.addStretch(1)
        self.tabs.addTab(tab, "Clinic")

    def _choose_logo(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        name, _ = QFileDialog.getOpenFileName(
            self, "Choose the clinic logo", "", "Pictures (*.png *.jpg *.jpeg)"
        )
        if name:
            try:
                data = Path(name).read_bytes()
            except OSError as exc:
                msgbox.error(self, "Logo", f"Cannot read {name}: {exc.strerror}.")
                return
            self.set_logo(data)

    def set_logo(self, data: bytes | None) -> ops.Op[Any]:
        """Store (or remove) the logo on an op worker, then show the clinic details again."""
        db, actor = self.ctx.db, self.ctx.actor
        op: ops.Op[Any] = ops.run(
            self, lambda: clinic.set_logo(db, actor, data), lambda _r: self._load_clinic()
        )
        self.last_op = op
        return op

    def _load_clinic(self) -> None:
        from iopdesk.ui.pages.loading import load

        db = self.ctx.db
        load(
            self.logo_preview,
            lambda: (clinic.get_logo(db), clinic.get_clinic(db)),
            lambda data: self._present_clinic(*data),
        )

    def _present_clinic(self, logo: bytes | None, info: Any) -> None:
        from PySide6.QtGui import QPixmap

        pixmap = QPixmap()
        if logo and pixmap.loadFromData(logo):
            self.logo_preview.setPixmap(
                pixmap.scaled(
                    self.logo_preview.size(),
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
        else:
            self.logo_preview.setPixmap(QPixmap())
            self.logo_preview.setText("No logo")
        self._clinic_version = info.version
        for key, edit in self.clinic_fields.items():
            edit.setText(str(getattr(info, key)))
            edit.setProperty("invalid", False)

    def save_clinic(self) -> ops.Op[Any]:
        """Save the clinic details on an op worker (the button is off meanwhile); a refusal
        marks its fields, and what was typed stays."""
        changes = {key: edit.text().strip() for key, edit in self.clinic_fields.items()}
        db, actor, version = self.ctx.db, self.ctx.actor, self._clinic_version

        def saved(info: Any) -> None:
            self._clinic_version = info.version
            self.ctx.clinic = info
            for edit in self.clinic_fields.values():
                edit.setProperty("invalid", False)
                edit.setToolTip("")
                edit.style().unpolish(edit)
                edit.style().polish(edit)
            msgbox.info(self, "Clinic details saved", "The clinic details were saved.")

        def refused(exc: BaseException) -> None:
            fields = getattr(exc, "fields", {}) if isinstance(exc, UserError) else {}
            for key, edit in self.clinic_fields.items():
                edit.setProperty("invalid", key in fields)
                edit.setToolTip(fields.get(key, ""))
                edit.style().unpolish(edit)
                edit.style().polish(edit)
            ops.report_failure(self, exc, self._load_clinic)

        self.clinic_save_btn.setEnabled(False)
        op: ops.Op[Any] = (
            ops.Op(self, lambda: clinic.update_clinic(db, actor, version, changes))
            .success(saved)
            .failure(refused)
            .on_done(lambda: self.clinic_save_btn.setEnabled(True))
            .run_in_background()
        )
        self.last_op = op
        return op

    def _settings_tab(self) -> None:
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        inner = QWidget()
        inner.setObjectName("page")
        outer = QVBoxLayout(inner)
        form = QFormLayout()
        form.setSpacing(8)
        self.setting_widgets: dict[str, QWidget] = {}
        for spec in decl.SETTINGS:
            widget: QWidget
            if spec.type is bool:
                widget = QCheckBox()
            elif spec.type is int:
                spin = QSpinBox()
                spin.setRange(spec.minimum or 0, spec.maximum or 100000)
                widget = spin
            elif spec.choices:
                combo = QComboBox()
                combo.addItems(list(spec.choices))
                widget = combo
            else:
                widget = QLineEdit()
            widget.setToolTip(spec.help)
            self.setting_widgets[spec.key] = widget
            form.addRow(spec.label, widget)
        outer.addLayout(form)
        save = QPushButton("Save settings")
        save.setObjectName("primary")
        save.clicked.connect(self._save_settings)
        self.settings_save_btn = save
        outer.addWidget(save)
        outer.addStretch(1)
        scroll.setWidget(inner)
        self.tabs.addTab(scroll, "Settings")

    def _present_settings(self, values: dict[str, Any]) -> None:
        for key, widget in self.setting_widgets.items():
            _set_widget(widget, values[key])

    def _save_settings(self) -> ops.Op[Any]:
        """Save the settings that changed, on an op worker (the button is off meanwhile)."""
        db, actor = self.ctx.db, self.ctx.actor
        typed = {key: _widget_value(widget) for key, widget in self.setting_widgets.items()}

        def save() -> None:
            current = clinic.all_settings(db)
            for key, value in typed.items():
                if value != current[key]:
                    clinic.set_setting(db, actor, key, value)

        self.settings_save_btn.setEnabled(False)
        op: ops.Op[Any] = (
            ops.Op(self, save, takes_control=False)
            .success(
                lambda _r: msgbox.info(self, "Settings saved", "The clinic settings were saved.")
            )
            .on_done(lambda: self.settings_save_btn.setEnabled(True))
            .run_in_background()
        )
        self.last_op = op
        return op

    # -- audit ---------------------------------------------------------------------------
    def _audit_tab(self) -> None:
        from iopdesk.ui.pages.audit import AuditReportWidget

        self.audit_report = AuditReportWidget(self.ctx)
        self.verify_result = self.audit_report.verify_result
        self.tabs.addTab(self.audit_report, "Audit log")

    def _verify(self) -> None:
        self.audit_report.verify()

    # -- import / export -----------------------------------------------------------------
    def _data_tab(self) -> None:
        tab = QWidget()
        lay = QVBoxLayout(tab)
        lay.addWidget(section_title("Import from Excel"))
        lay.addWidget(
            muted(
                "Move from spreadsheets: one workbook with the sheets Clinic, Staff, Payers, "
                "Fees, Tracks, Clients, Authorizations, Sessions and Attendance (all optional). "
                "Every row is checked first; if anything is wrong, nothing is imported and "
                "each problem is listed as Sheet!row column. Importing the same workbook "
                "again changes nothing."
            )
        )
        bar = QHBoxLayout()
        imp = QPushButton("Import workbook...")
        imp.setObjectName("primary")
        imp.clicked.connect(self._import)
        exp = QPushButton("Export workbook...")
        exp.clicked.connect(self._export)
        bar.addWidget(imp)
        bar.addWidget(exp)
        bar.addStretch(1)
        lay.addLayout(bar)
        self.import_result = QPlainTextEdit()
        self.import_result.setReadOnly(True)
        self.import_result.setObjectName("importResult")
        lay.addWidget(self.import_result, 1)
        self.tabs.addTab(tab, "Import / export")

    def _import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import workbook", "", "Excel (*.xlsx)")
        if path:
            self.import_file(Path(path))

    def import_file(self, path: Path) -> ops.Op[Any]:
        """Check the workbook (dry run, in the background), show what would change, and import
        it when confirmed (in the background too). The op returned is the check; `last_import`
        is the import that follows it, if any."""
        db, actor = self.ctx.db, self.ctx.actor
        self.last_import: ops.Op[Any] | None = None

        def failed(exc: BaseException) -> None:
            from iopdesk.services.workbook import ImportFailed  # loaded by now

            if isinstance(exc, ImportFailed):
                self.import_result.setPlainText(exc.report())
                msgbox.warning(self, "Nothing was imported", exc.message)
            else:
                if isinstance(exc, UserError):
                    self.import_result.setPlainText(exc.message)
                ops.report_failure(self, exc)

        def imported(done: Any) -> None:
            self.import_result.setPlainText("\n".join(done.lines()))

        def checked(check: Any) -> None:
            summary = "\n".join(check.lines())
            self.import_result.setPlainText(summary)
            if not msgbox.confirm(self, "Import this workbook?", summary, default=True):
                return
            self.last_import = (
                ops.Op(self, ops.in_process(db, actor, jobs.workbook_import, path))
                .with_progress("Importing the workbook...")
                .success(imported)
                .failure(failed)
                .run_in_background()
            )

        return (
            ops.Op(self, ops.in_process(db, actor, jobs.workbook_import, path, dry_run=True))
            .with_progress("Checking the workbook...")
            .success(checked)
            .failure(failed)
            .run_in_background()
        )

    def _export(self) -> None:
        from iopdesk.ui.pages.privacy import ask_release

        release = ask_release(self, "The clinic workbook holds every client's record")
        if release is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export workbook", "iopdesk-export.xlsx", "Excel (*.xlsx)"
        )
        if path:
            self.export_file(Path(path), release)

    def export_file(self, path: Path, release: Release) -> ops.Op[Any]:
        db, actor = self.ctx.db, self.ctx.actor

        def written(counts: Any) -> None:
            self.import_result.setPlainText(
                f"Wrote {path}:\n" + "\n".join(f"  {k}: {v} rows" for k, v in counts.items())
            )

        return (
            ops.Op(self, ops.in_process(db, actor, jobs.workbook_export, path, release))
            .with_progress("Writing the workbook...")
            .success(written)
            .run_in_background()
        )

    # -- database ------------------------------------------------------------------------
    def _database_tab(self) -> None:
        tab = QWidget()
        lay = QVBoxLayout(tab)
        lay.addWidget(section_title("Database"))
        self.db_where = muted("")
        self.db_key = muted("")
        self.db_schema = muted("")
        for w in (self.db_where, self.db_key, self.db_schema):
            w.setTextInteractionFlags(w.textInteractionFlags())
            lay.addWidget(w)
        lay.addWidget(
            muted(
                "Several workstations: use a PostgreSQL clinic server and start IOPDesk with "
                "--db postgresql://user@server/database (see docs/clinic-server.md)."
            )
        )
        lay.addStretch(1)
        self.tabs.addTab(tab, "Database")

    shows = frozenset({"app_user", "staff", "clinic", "setting", "notetemplate", "backuprecord"})

    def refresh(self) -> None:
        """Users, settings and clinic details here; each tab loads itself; all in the
        background."""
        if not self.ctx.can(Perm.USERS_MANAGE):
            return
        from iopdesk.ui.pages.loading import load

        load(self, self.fetch, self.present)
        self.staff_tab.refresh()
        self.audit_report.refresh()
        self.backups_tab.refresh()
        self.templates_tab.refresh()

    def fetch(self) -> _AdminData:
        """Worker thread: services only."""
        db, actor = self.ctx.db, self.ctx.actor
        return _AdminData(
            users=auth.list_users(db, actor),
            settings=clinic.all_settings(db),
            logo=clinic.get_logo(db),
            clinic=clinic.get_clinic(db),
            schema=db.schema_revision(),
        )

    def present(self, data: object) -> None:
        assert isinstance(data, _AdminData)
        self.users_model.set_rows(data.users)
        self._present_settings(data.settings)
        self._present_clinic(data.logo, data.clinic)
        self.db_where.setText(f"Where: {self.ctx.db.describe()}")
        self.db_key.setText(f"Encryption key: {self.ctx.db.key_description}")
        self.db_schema.setText(f"Schema version: {data.schema}")


@dataclass(frozen=True)
class _AdminData:
    users: list[auth.UserInfo]
    settings: dict[str, Any]
    logo: bytes | None
    clinic: Any
    schema: str | None


def _set_widget(widget: QWidget, value: Any) -> None:
    if isinstance(widget, QCheckBox):
        widget.setChecked(bool(value))
    elif isinstance(widget, QSpinBox):
        widget.setValue(int(value))
    elif isinstance(widget, QComboBox):
        widget.setCurrentText(str(value))
    elif isinstance(widget, QLineEdit):
        widget.setText(str(value))


def _widget_value(widget: QWidget) -> Any:
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    if isinstance(widget, QSpinBox):
        return widget.value()
    if isinstance(widget, QComboBox):
        return widget.currentText()
    if isinstance(widget, QLineEdit):
        return widget.text().strip()
    return None
