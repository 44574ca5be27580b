"""A dialog's save runs in the background: buttons off while it runs, errors beside the fields."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLineEdit

from iopdesk.errors import StaleRecordError
from iopdesk.services import auth
from iopdesk.ui import msgbox
from iopdesk.ui.forms import FormDialog
from tests.conftest import PASSWORD
from tests.helpers import finish

pytestmark = pytest.mark.gui


def _user_dialog(qtbot, env) -> tuple[FormDialog, QLineEdit, list[int]]:
    dialog = FormDialog("Add user", "A new sign-in for a staff member.", "Add")
    qtbot.addWidget(dialog)
    name = QLineEdit()
    dialog.form.addRow("User name", name)
    threads: list[int] = []

    def save() -> auth.UserInfo:
        threads.append(threading.get_ident())
        return auth.add_user(
            env.db, env.world.admin, name.text(), PASSWORD, "front_desk", "New Person"
        )

    dialog.save_action = save
    dialog.show()
    return dialog, name, threads


def _click_ok(qtbot, dialog: FormDialog) -> None:
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)


def test_a_save_runs_off_the_gui_thread_and_closes_the_dialog(qtbot, env) -> None:
    dialog, name, threads = _user_dialog(qtbot, env)
    qtbot.keyClicks(name, "newperson")
    _click_ok(qtbot, dialog)
    assert dialog.last_op is not None
    assert not dialog.buttons.isEnabled()  # no second click while it saves
    info = finish(dialog.last_op)
    assert threads and threads[0] != threading.get_ident()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.saved == info and info.username == "newperson"
    assert any(u.username == "newperson" for u in auth.list_users(env.db, env.world.admin))


def test_a_refused_save_shows_beside_the_fields_and_keeps_what_was_typed(qtbot, env) -> None:
    dialog, name, _ = _user_dialog(qtbot, env)
    qtbot.keyClicks(name, "therapist")  # already taken
    _click_ok(qtbot, dialog)
    finish(dialog.last_op)
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    assert not dialog.error.isHidden()
    assert "therapist" in dialog.error.text() or "already" in dialog.error.text().lower()
    assert name.text() == "therapist"
    assert dialog.buttons.isEnabled()  # the user can correct it and try again
    assert not msgbox.shown  # in the dialog, not in a box
    name.clear()
    qtbot.keyClicks(name, "someoneelse")
    _click_ok(qtbot, dialog)
    finish(dialog.last_op)
    assert dialog.result() == QDialog.DialogCode.Accepted


def test_a_stale_save_says_so_and_reloads(qtbot, env) -> None:
    from iopdesk.ui.forms import submit

    dialog = FormDialog("Edit", "", "Save")
    qtbot.addWidget(dialog)
    dialog.show()
    reloaded: list[bool] = []

    def save() -> None:
        raise StaleRecordError("This record was changed on another workstation.")

    op = submit(dialog, save, lambda _r: dialog.accept(), reload=lambda: reloaded.append(True))
    finish(op)
    assert reloaded == [True]
    assert [s.title for s in msgbox.shown]  # said in a box, then reloaded
    assert dialog.isVisible()


def test_an_unexpected_failure_is_one_plain_line_and_the_dialog_stays(qtbot, env) -> None:
    dialog = FormDialog("Edit", "", "Save")
    qtbot.addWidget(dialog)

    def save() -> None:
        raise KeyError("Client Jane Roe 555-0100")

    dialog.save_action = save
    dialog.show()
    _click_ok(qtbot, dialog)
    finish(dialog.last_op)
    assert dialog.isVisible() and dialog.buttons.isEnabled()
    assert msgbox.shown and "Jane" not in msgbox.shown[-1].text
    assert "KeyError" in msgbox.shown[-1].text


def test_escape_and_close_wait_for_a_running_save(qtbot, env) -> None:
    dialog, name, _ = _user_dialog(qtbot, env)
    qtbot.keyClicks(name, "waitsforme")
    _click_ok(qtbot, dialog)
    qtbot.keyClick(name, Qt.Key.Key_Escape)  # while the save runs
    dialog.close()
    assert dialog.isVisible()  # the outcome still has its dialog to go to
    finish(dialog.last_op)
    assert dialog.result() == QDialog.DialogCode.Accepted
    # Once it ended, Escape works as usual again.
    again, field, _ = _user_dialog(qtbot, env)
    qtbot.keyClick(field, Qt.Key.Key_Escape)
    assert not again.isVisible()
