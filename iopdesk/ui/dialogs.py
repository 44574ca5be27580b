"""Start-up dialogs: database passphrase, first-start setup, sign-in."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from iopdesk.errors import UserError, ValidationError
from iopdesk.ui.forms import FormDialog, header, password_field


class PassphraseDialog(FormDialog):
    """Asks for the database passphrase when the computer has no system keyring."""

    def __init__(self, creating: bool, parent: QWidget | None = None) -> None:
        if creating:
            sub = (
                "This computer has no system keyring to keep the database key, so the "
                "database is protected by a passphrase. You will need it every time IOPDesk "
                "starts. Keep it safe: without it the data cannot be recovered."
            )
        else:
            sub = "The clinic database is protected by a passphrase. Type it to open it."
        super().__init__("Database passphrase", sub, "Open" if not creating else "Create")
        self.creating = creating
        self.passphrase = password_field()
        self.form.addRow("Passphrase", self.passphrase)
        self.again = password_field()
        if creating:
            self.form.addRow("Type it again", self.again)
        self.accept_action = self._check

    def _check(self) -> None:
        value = self.passphrase.text()
        if not value:
            raise ValidationError("Type the passphrase.")
        if self.creating:
            if len(value) < 8:
                raise ValidationError("Use at least 8 characters.")
            if value != self.again.text():
                raise ValidationError("The two passphrases do not match.")


class SetupDialog(FormDialog):
    """First start: the clinic's name and the first administrator account."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            "Welcome to IOPDesk",
            "Set up your clinic. You will be its first administrator; you can add staff "
            "accounts afterwards under Admin.",
            "Create clinic",
            parent,
        )
        self.clinic_name = QLineEdit()
        self.clinic_name.setPlaceholderText("e.g. Riverbend Recovery Center")
        self.full_name = QLineEdit()
        self.username = QLineEdit()
        self.password = password_field()
        self.again = password_field()
        self.form.addRow("Clinic name", self.clinic_name)
        self.form.addRow("Your full name", self.full_name)
        self.form.addRow("User name", self.username)
        self.form.addRow("Password", self.password)
        self.form.addRow("Type it again", self.again)
        self.accept_action = self._check
        # A new PC for a clinic that already has data: restore instead of setting up.
        self.restore_button = self.buttons.addButton(
            "Restore from a backup...", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.restore_button.setObjectName("restoreFromBackup")
        self.restore_button.setToolTip(
            "The clinic already uses IOPDesk and this is a new or repaired PC: restore the "
            "latest backup with the recovery key (or the database passphrase)."
        )
        self.restore_button.clicked.connect(lambda: self.done(self.RESTORE))

    RESTORE = 2

    def _check(self) -> None:
        from iopdesk.services.auth import USERNAME_RE, check_password_policy

        if not self.clinic_name.text().strip():
            raise ValidationError("Enter the clinic's name.")
        if not USERNAME_RE.match(self.username.text().strip()):
            raise ValidationError("User names are 2-40 letters, digits, dots, dashes or _.")
        check_password_policy(self.password.text())
        if self.password.text() != self.again.text():
            raise ValidationError("The two passwords do not match.")


class LoginDialog(FormDialog):
    """Sign-in. `authenticate(username, password, code)` runs on an op worker (the password
    check is slow on purpose, ~0.1-0.3 s, and the window keeps painting meanwhile) and raises
    UserError on failure; `code` is the two-factor code, None until the account asked for one
    (`TwoFactorRequired`), when the dialog asks for it and checks again. `prepare()`, if given,
    runs first on the GUI thread (e.g. wait for the database to open)."""

    def __init__(
        self,
        clinic_name: str,
        authenticate: Callable[[str, str, str | None], object],
        where: str,
        parent: QWidget | None = None,
        username: str = "",
        prepare: Callable[[], None] | None = None,
    ) -> None:
        super().__init__("Sign in", f"{clinic_name}\n{where}", "Sign in", parent)
        self.username = QLineEdit(username)
        self.username.setObjectName("username")
        self.password = password_field()
        self.password.setObjectName("password")
        self.form.addRow("User name", self.username)
        self.form.addRow("Password", self.password)
        self.result_value: object = None
        self.authenticate = authenticate
        self.prepare = prepare
        self._code: str | None = None
        if username:
            self.password.setFocus()
        self.busy = QLabel("")
        self.busy.setObjectName("subtitle")
        self.busy.hide()
        self.form.addRow(self.busy)

    def _try_accept(self) -> None:
        try:
            if self.prepare is not None:
                self.prepare()  # first: the database stack may still be loading on a thread
        except UserError as exc:
            self.show_error(exc.message)
            return
        # Only now: importing the services while the loader thread imports the same stack
        # (Enter pressed at once) failed half-way through pydantic.
        from iopdesk.services.totp import TwoFactorRequired
        from iopdesk.ui.forms import submit

        username, password, code = self.username.text(), self.password.text(), self._code
        self._code = None
        authenticate = self.authenticate

        def check() -> object:
            try:
                return authenticate(username, password, code)
            except TwoFactorRequired as needed:
                return needed  # the password was right: the GUI thread asks for the code

        self.error.hide()
        self.last_op = submit(self, check, self._checked, show_error=self._refused)

    def _checked(self, result: object) -> None:
        from iopdesk.services.totp import TwoFactorRequired

        if isinstance(result, TwoFactorRequired):
            from iopdesk.ui.pages.privacy import ask_two_factor_code

            code = ask_two_factor_code(self)
            if code is None:
                self._refused("Sign-in needs the two-factor code.")
                return
            self._code = code
            self._try_accept()  # the same name and password, with the code
            return
        self.result_value = result
        self.accept()

    def _refused(self, text: str) -> None:
        self.password.clear()
        self.password.setFocus()
        self.show_error(text)

    def set_header(self, clinic_name: str, where: str) -> None:
        """The clinic and database, once known (the window may be shown before)."""
        self.subtitle.setText(f"{clinic_name}\n{where}")

    def set_busy(self, text: str) -> None:
        """Say what the window is waiting for (empty: nothing) and keep the button from
        being pressed twice meanwhile."""
        self.busy.setText(text)
        self.busy.setVisible(bool(text))
        self.buttons.setEnabled(not text)


class ChangePasswordDialog(FormDialog):
    """A new password for the signed-in user. With `required` (after an administrator's
    reset) it is shown right after sign-in and cannot be skipped: its only other button signs
    out again. `current` is the password just typed at sign-in; without it, it is asked."""

    def __init__(
        self,
        change: Callable[[str, str], None],
        *,
        required: bool = False,
        current: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        from iopdesk.services.auth import MIN_PASSWORD_LENGTH

        subtitle = (
            "An administrator reset your password. Choose a new one now; the temporary "
            "password no longer opens IOPDesk after this."
            if required
            else "Choose a new password."
        ) + f" At least {MIN_PASSWORD_LENGTH} characters, no spaces at either end."
        super().__init__(
            "Change your password" if not required else "New password required",
            subtitle,
            "Change password",
            parent,
        )
        self.setObjectName("changePasswordDialog")
        self.required = required
        self._current = current
        self.current = password_field()
        self.current.setObjectName("currentPassword")
        if current is None:
            self.form.addRow("Current password", self.current)
        self.new = password_field()
        self.new.setObjectName("newPassword")
        self.again = password_field()
        self.again.setObjectName("newPasswordAgain")
        self.form.addRow("New password", self.new)
        self.form.addRow("Type it again", self.again)
        from PySide6.QtWidgets import QDialogButtonBox

        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setMinimumWidth(ok.sizeHint().width() + 40)  # the primary style's wider padding
        if required:
            cancel = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
            cancel.setText("Sign out")
        (self.current if current is None else self.new).setFocus()
        self._change = change  # a service call: run on an op worker when OK is clicked
        self.accept_action = self._save

    def _save(self) -> None:
        from iopdesk.services.auth import check_password_policy

        new = self.new.text()
        check_password_policy(new)
        if new != self.again.text():
            self.again.clear()
            raise ValidationError("The two new passwords do not match. Type the new one again.")
        current = self._current if self._current is not None else self.current.text()
        change = self._change
        self.save_action = lambda: change(current, new)  # the password hash: on an op worker


class RestoreBackupDialog(FormDialog):
    """First start on a new PC: a backup file and the recovery key (or the passphrase)."""

    def __init__(self, start_folder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(
            "Restore from a backup",
            "Choose the newest backup (iopdesk-backup-....db; its .keyinfo file must be beside "
            "it) and type the recovery key from the clinic's recovery kit. A database "
            "protected by a passphrase also opens with that passphrase.",
            "Restore",
            parent,
        )
        self.start_folder = start_folder
        self.file = QLineEdit()
        self.file.setObjectName("backupFile")
        self.file.setPlaceholderText("e.g. E:\\IOPDesk backups\\iopdesk-backup-....db")
        browse = QPushButton("Choose...")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.file, 1)
        row.addWidget(browse)
        self.recovery_key = QLineEdit()
        self.recovery_key.setObjectName("recoveryKey")
        self.recovery_key.setPlaceholderText("XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX")
        self.passphrase = password_field()
        self.passphrase.setObjectName("backupPassphrase")
        self.form.addRow("Backup file", row)
        self.form.addRow("Recovery key", self.recovery_key)
        self.form.addRow("or passphrase", self.passphrase)
        self.setMinimumWidth(560)

    def _browse(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, "Choose a backup", self.start_folder, "IOPDesk backups (*.db);;All files (*)"
        )
        if name:
            self.file.setText(name)


class RecoveryKeyDialog(QDialog):
    """Shows the clinic's new recovery key once, with the printable kit."""

    def __init__(
        self,
        key: str,
        save_kit: Callable[[str], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("IOPDesk - Recovery key")
        self.setMinimumWidth(560)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(24, 20, 24, 18)
        outer.setSpacing(10)
        header(
            outer,
            "Your clinic's recovery key",
            "If this PC dies or its keyring is lost, this key opens the clinic's backups on a "
            "new PC. It is shown only now. Print the recovery kit (or write the key down) and "
            "lock it away from this PC and from the backup drive.",
        )
        self.key_label = QLabel(key)
        self.key_label.setObjectName("recoveryKeyText")
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSizeF(15)
        mono.setBold(True)
        self.key_label.setFont(mono)
        self.key_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.key_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.key_label.setStyleSheet(
            "border: 2px solid #333; padding: 12px; background: #f7f7f7; border-radius: 4px;"
        )
        outer.addWidget(self.key_label)
        self.save_button = QPushButton("Save the recovery kit (PDF) to print...")
        self.save_button.setObjectName("saveRecoveryKit")
        self.saved = QLabel("")
        self.saved.setWordWrap(True)
        self.save_kit = save_kit
        self.save_button.clicked.connect(self._save)
        outer.addWidget(self.save_button)
        outer.addWidget(self.saved)
        outer.addStretch(1)
        self.confirm = QCheckBox("I have printed the kit or written the key down")
        self.confirm.setObjectName("recoveryKeyKept")
        outer.addWidget(self.confirm)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Continue")
        ok.setEnabled(False)
        self.confirm.toggled.connect(ok.setEnabled)
        self.buttons.accepted.connect(self.accept)
        outer.addWidget(self.buttons)

    def _save(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, "Save the recovery kit", "IOPDesk recovery kit.pdf", "PDF (*.pdf)"
        )
        if name:
            self.write_to(name)

    def write_to(self, name: str) -> None:
        """Write the kit on an op worker (the button is off meanwhile); a refusal is shown
        under the button."""
        from iopdesk.ui.forms import submit

        save_kit = self.save_kit
        self.last_op = submit(
            self,
            lambda: save_kit(name),
            lambda _r: self.saved.setText(f"Saved {name}. Print it, then delete the file."),
            show_error=self.saved.setText,
            busy=[self.save_button],
        )

    def reject(self) -> None:  # the key is shown once: closing needs the confirmation too
        if self.confirm.isChecked():
            super().reject()
