"""First start: the recovery key shown once with its kit; "Restore from a backup" on a new PC.
Dialogs are modal, so timers answer them by typing and clicking like a person would."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from pypdf import PdfReader
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QApplication,
    QDialogButtonBox,
    QFileDialog,
    QLineEdit,
    QWidget,
)

from iopdesk import secrets as keys
from iopdesk.db import Database, DbTarget
from iopdesk.services import audit, auth, backup, clinic, recovery
from iopdesk.ui import app as gui_app
from iopdesk.ui import msgbox
from iopdesk.ui.dialogs import (
    PassphraseDialog,
    RecoveryKeyDialog,
    RestoreBackupDialog,
    SetupDialog,
)
from tests.conftest import PASSWORD
from tests.helpers import settle

pytestmark = pytest.mark.gui
FAILURES: list[BaseException] = []
KEY = re.compile(r"^(?:[A-Z2-7]{4}-){7}[A-Z2-7]{4}$")


@pytest.fixture(autouse=True)
def _modal_failures():
    FAILURES.clear()
    yield
    if FAILURES:
        raise FAILURES[0]


def when_modal(kind: type, act: Callable[[QWidget], None], tries: int = 3000) -> None:
    """When a modal dialog of `kind` is on top, run `act` on it."""

    def attempt(left: int = tries) -> None:
        widget = QApplication.activeModalWidget()
        if not isinstance(widget, kind):
            if left:
                QTimer.singleShot(20, lambda: attempt(left - 1))
            return
        try:
            act(widget)
        except BaseException as exc:  # a failed check must not leave the dialog open
            FAILURES.append(exc)
            widget.done(0)  # type: ignore[attr-defined]

    QTimer.singleShot(20, attempt)


def ok(dialog: QWidget) -> None:
    button = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)  # type: ignore[attr-defined]
    assert button.isEnabled(), "the OK button is disabled"
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def type_into(field: QLineEdit, text: str) -> None:
    field.setFocus()
    QTest.keyClicks(field, text)


def test_first_start_shows_the_recovery_key_once_with_its_kit(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = tmp_path / "kit.pdf"
    # The operating system's save dialog stands in for the person choosing a file name.
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(kit), "PDF"))
    db = Database.open(DbTarget(path=tmp_path / "clinic.db"), create=True, key=b"k" * 32)
    seen: dict[str, str] = {}

    def fill_setup(d: QWidget) -> None:
        assert isinstance(d, SetupDialog)
        type_into(d.clinic_name, "Lakeside IOP")
        type_into(d.full_name, "Dana Director")
        type_into(d.username, "dana")
        type_into(d.password, PASSWORD)
        type_into(d.again, PASSWORD)
        when_modal(RecoveryKeyDialog, on_key)
        ok(d)

    def on_key(d: QWidget) -> None:
        assert isinstance(d, RecoveryKeyDialog)
        d.resize(1024, 700)
        d.grab().save("/tmp/recovery-key-dialog.png")
        seen["key"] = d.key_label.text()
        cont = d.buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert not cont.isEnabled()  # not before the key is kept
        d.reject()  # Esc / close does nothing either
        assert d.isVisible()
        QTest.mouseClick(d.save_button, Qt.MouseButton.LeftButton)
        settle()  # the kit is written on a worker
        seen["saved"] = d.saved.text()
        d.confirm.setFocus()
        QTest.keyClick(d.confirm, Qt.Key.Key_Space)
        ok(d)

    when_modal(SetupDialog, fill_setup)
    actor = gui_app.first_start(db)
    try:
        assert actor is not None and not isinstance(actor, str)
        assert KEY.match(seen["key"]), seen
        assert "Saved" in seen["saved"], seen
        text = PdfReader(kit).pages[0].extract_text()
        assert seen["key"] in text and "Lakeside IOP" in text
        assert recovery.has_recovery_key(db)
        assert recovery.ensure_recovery_key(db).key == seen["key"]
        assert not gui_app.show_recovery_key(db)  # shown once: not again at the next sign-in
    finally:
        db.close()


def make_old_pc_backup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A clinic on a PC without a keyring (passphrase), with a client and one backup."""
    from datetime import date

    from iopdesk.services import clients

    monkeypatch.setenv("IOPDESK_DB_PASSPHRASE", "old pc passphrase")
    path = tmp_path / "old" / "iopdesk.db"
    db = Database.open(DbTarget(path=path), create=True)
    try:
        admin = clinic.setup_clinic(db, "Old PC Clinic", "boss", PASSWORD)
        key = recovery.ensure_recovery_key(db).key
        clients.create_client(db, admin, clients.ClientInput("Kim", "Survivor", date(1975, 6, 7)))
        made = backup.create_backup(db, admin, tmp_path / "usb" / "iopdesk-backup-1.db")
    finally:
        db.close()
    monkeypatch.delenv("IOPDESK_DB_PASSPHRASE")
    shutil.rmtree(path.parent)
    return key, made.path


def test_restore_from_a_backup_at_first_start(qtbot, tmp_path: Path, monkeypatch) -> None:
    recovery_key, source = make_old_pc_backup(tmp_path, monkeypatch)
    target = DbTarget(path=tmp_path / "new" / "iopdesk.db")

    def choose(d: PassphraseDialog) -> None:
        type_into(d.passphrase, "new pc passphrase")
        type_into(d.again, "new pc passphrase")
        ok(d)

    when_modal(PassphraseDialog, choose)  # a PC without a keyring: the new database's passphrase
    empty = gui_app.open_database(target)
    assert empty is not None

    def pick_restore(d: QWidget) -> None:
        assert isinstance(d, SetupDialog)
        QTest.mouseClick(d.restore_button, Qt.MouseButton.LeftButton)

    when_modal(SetupDialog, pick_restore)
    assert gui_app.first_start(empty) == gui_app.RESTORE_CHOSEN

    errors: list[str] = []

    def fill_restore(d: QWidget) -> None:
        assert isinstance(d, RestoreBackupDialog)
        type_into(d.file, str(source))
        type_into(d.recovery_key, "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH")
        ok(d)  # a wrong key: the error is shown in the dialog, nothing replaced
        assert not d.buttons.isEnabled()  # checked on a worker: no second press meanwhile
        settle()
        errors.append(d.error.text())
        assert d.buttons.isEnabled()
        d.recovery_key.clear()
        type_into(d.recovery_key, recovery_key.lower())
        d.resize(1024, 700)
        d.grab().save("/tmp/restore-first-start.png")
        when_modal(PassphraseDialog, choose)  # the restored database's new passphrase
        ok(d)

    when_modal(RestoreBackupDialog, fill_restore)
    db = gui_app.restore_at_first_start(target, empty)
    assert db is not None
    try:
        assert "recovery key does not open" in errors[0]
        assert msgbox.shown and msgbox.shown[-1].title == "Backup restored"
        assert "Audit log intact" in msgbox.shown[-1].text
        assert clinic.get_clinic(db).name == "Old PC Clinic"
        auth.login(db, "boss", PASSWORD)
        assert audit.verify(db).ok
        info = keys.read_keyinfo(target.path)  # type: ignore[arg-type]
        assert info is not None and info.method == "passphrase" and info.recovery
    finally:
        db.close()
    monkeypatch.setenv("IOPDESK_DB_PASSPHRASE", "new pc passphrase")
    Database.open(target).close()  # the new passphrase opens it from now on


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_older_database_gets_its_key_at_an_administrators_sign_in(qtbot, env) -> None:
    """A database made before recovery keys: the key is made and shown once in the app."""
    shown: list[str] = []

    def keep(d: QWidget) -> None:
        assert isinstance(d, RecoveryKeyDialog)
        shown.append(d.key_label.text())
        d.confirm.setFocus()
        QTest.keyClick(d.confirm, Qt.Key.Key_Space)
        ok(d)

    assert not recovery.has_recovery_key(env.db)
    when_modal(RecoveryKeyDialog, keep)
    assert gui_app.show_recovery_key(env.db)
    assert KEY.match(shown[0])
    info = keys.read_keyinfo(env.db.path)
    assert info is not None and keys.key_from_recovery(info, shown[0])
    assert not gui_app.show_recovery_key(env.db)
