"""Start-up as a user meets it: no keyring -> passphrase dialog; wrong passphrase; corrupt
file; first-start setup. Dialogs are modal, so a timer answers them like a person would."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from iopdesk.db import DbTarget
from iopdesk.services import audit, clinic
from iopdesk.ui import app as gui_app
from iopdesk.ui import msgbox
from iopdesk.ui.dialogs import PassphraseDialog, RecoveryKeyDialog, SetupDialog

pytestmark = pytest.mark.gui


def answer(qtbot, dialog_type, fill, log: list) -> None:
    """When a modal dialog of dialog_type opens, fill it in and press OK."""

    def attempt() -> None:
        widget = QApplication.activeModalWidget()
        if not isinstance(widget, dialog_type):
            QTimer.singleShot(20, attempt)
            return
        fill(widget)
        log.append(widget.error.text() if hasattr(widget, "error") else "")
        widget.buttons.button(QDialogButtonBox.StandardButton.Ok).click()

    QTimer.singleShot(20, attempt)


def test_no_keyring_first_start_asks_for_passphrase_then_reopens(qtbot, tmp_path):
    import keyring
    from keyring.backends import fail

    assert isinstance(keyring.get_keyring(), fail.Keyring)  # the "no keyring" path
    target = DbTarget(path=tmp_path / "clinic.db")
    log: list[str] = []

    def create(d: PassphraseDialog) -> None:
        assert d.creating
        d.passphrase.setText("a long passphrase")
        d.again.setText("a long passphrase")

    answer(qtbot, PassphraseDialog, create, log)
    db = gui_app.open_database(target)
    assert db is not None and "passphrase" in db.key_description
    actor = clinic.setup_clinic(db, "Keyless Clinic", "boss", "boss-password-1")
    assert actor.username == "boss"
    db.close()

    # Reopen: a wrong passphrase is refused in plain words, then the right one opens it.
    def wrong(d: PassphraseDialog) -> None:
        assert not d.creating
        d.passphrase.setText("not the passphrase")

    def right(d: PassphraseDialog) -> None:
        d.passphrase.setText("a long passphrase")

    answer(qtbot, PassphraseDialog, wrong, log)
    QTimer.singleShot(400, lambda: answer(qtbot, PassphraseDialog, right, log))
    db = gui_app.open_database(target)
    assert db is not None
    assert [s.title for s in msgbox.shown] == ["Wrong passphrase"]
    assert "not correct" in msgbox.shown[0].text
    assert clinic.get_clinic(db).name == "Keyless Clinic"
    assert audit.verify(db).ok
    db.close()


def test_passphrase_mismatch_is_caught_in_the_dialog(qtbot):
    dialog = PassphraseDialog(creating=True)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.passphrase.setText("first passphrase")
    dialog.again.setText("second passphrase")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.isVisible()
    assert "do not match" in dialog.error.text()


def test_corrupt_database_gives_a_clear_message_and_changes_nothing(qtbot, tmp_path):
    path = tmp_path / "broken.db"
    junk = os.urandom(8192)
    path.write_bytes(junk)
    (tmp_path / "broken.db.keyinfo").write_text('{"method": "external"}')
    target = DbTarget(path=path)
    from iopdesk.db import Database
    from iopdesk.errors import CorruptDatabaseError

    with pytest.raises(CorruptDatabaseError) as info:
        Database.open(target, key=os.urandom(32))
    assert "backup" in info.value.message
    assert path.read_bytes() == junk


def test_first_start_setup_dialog_validates_then_creates(qtbot, tmp_path):
    from iopdesk.db import Database

    db = Database.open(DbTarget(path=tmp_path / "fresh.db"), create=True, key=os.urandom(32))
    log: list[str] = []

    def short_password(d: SetupDialog) -> None:
        d.clinic_name.setText("New Clinic")
        d.username.setText("director")
        d.password.setText("short")
        d.again.setText("short")

    def good(d: SetupDialog) -> None:
        assert "at least 10 characters" in d.error.text()
        d.password.setText("long-enough-pw")
        d.again.setText("long-enough-pw")

    def key_kept(d: RecoveryKeyDialog) -> None:  # then the recovery key, shown once
        d.confirm.setChecked(True)

    answer(qtbot, SetupDialog, short_password, log)
    QTimer.singleShot(300, lambda: answer(qtbot, SetupDialog, good, log))
    QTimer.singleShot(600, lambda: answer(qtbot, RecoveryKeyDialog, key_kept, log))
    actor = gui_app.first_start(db)
    assert actor is not None and actor.username == "director"
    assert clinic.is_initialized(db)
    assert clinic.get_clinic(db).name == "New Clinic"
    db.close()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sign_in_keeps_group_sessions_generated_ahead(env):
    from datetime import date, time

    from iopdesk.models import Track, TrackBlock
    from iopdesk.services import schedule

    with env.db.session() as s:
        track = Track(track_code="EVE", name="Evening IOP")
        s.add(track)
        s.flush()
        for weekday in (0, 2, 3):
            s.add(
                TrackBlock(
                    track_id=track.id, weekday=weekday, start_time=time(18, 0), end_time=time(21, 0)
                )
            )
    weeks = clinic.get_setting(env.db, "schedule_weeks_ahead")
    assert gui_app.keep_schedule_ahead(env.db, env.world.front_desk) == 3 * weeks
    assert gui_app.keep_schedule_ahead(env.db, env.world.front_desk) == 0  # idempotent
    assert gui_app.keep_schedule_ahead(env.db, env.world.billing) == 0  # no schedule rights
    today = date.today()
    ahead = schedule.list_sessions(
        env.db, env.world.admin, today, today.replace(year=today.year + 1)
    )
    assert len(ahead) == 3 * weeks and {s.start for s in ahead} == {time(18, 0)}
