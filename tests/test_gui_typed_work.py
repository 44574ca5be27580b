"""Never lose typed work: signing out, locking and closing keep (or ask about) unsaved forms."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from iopdesk.services import clinic, drafts
from iopdesk.ui import msgbox
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.intake import INTAKE_DRAFT, IntakeDialog
from tests.helpers import main_window as _window
from tests.helpers import settle

pytestmark = [pytest.mark.gui, pytest.mark.sqlite_only]


def _intake(qtbot, env, window, actor) -> IntakeDialog:
    dialog = IntakeDialog(AppContext(env.db, actor, clinic.get_clinic(env.db)), window)
    qtbot.addWidget(dialog)
    dialog.show()
    settle()  # a draft kept earlier is looked up on a worker, then offered back
    return dialog


def test_signing_out_keeps_a_half_typed_intake_and_it_comes_back(qtbot, env) -> None:
    fd = env.world.front_desk
    window = _window(qtbot, env, fd)
    dialog = _intake(qtbot, env, window, fd)
    qtbot.keyClicks(dialog.first_name, "Renata")
    qtbot.keyClicks(dialog.last_name, "Okafor")
    assert dialog.unsaved_work()
    window.sign_out()  # the question's default answer: keep it as a draft
    asked = [s for s in msgbox.shown if s.title == "Unsaved work"]
    assert asked and "new-client form" in asked[0].text
    kept = drafts.peek(env.db, fd, INTAKE_DRAFT)
    assert kept is not None and kept.data["first_name"] == "Renata"
    assert drafts.peek(env.db, env.world.admin, INTAKE_DRAFT) is None  # only for its typist
    # Next time the same user opens the form, it is offered back (default: continue).
    again = _intake(qtbot, env, _window(qtbot, env, fd), fd)
    assert again.first_name.text() == "Renata" and again.last_name.text() == "Okafor"
    assert msgbox.shown[-1].title == "Continue the new-client form?"
    again.cancel()  # NON_BLOCKING: "discard what you typed?" answers its default (No)...
    assert again.isVisible()  # ...so the form stays open


def test_lock_keeps_the_open_form_and_unlock_brings_it_back(qtbot, env) -> None:
    admin = env.world.admin
    window = _window(qtbot, env, admin)
    dialog = _intake(qtbot, env, window, admin)
    qtbot.keyClicks(dialog.first_name, "Tomasz")
    window.lock()
    assert not dialog.isVisible()  # nothing of the client shows while locked
    window.unlock()
    assert dialog.isVisible() and dialog.first_name.text() == "Tomasz"


def test_sign_out_from_the_lock_screen_keeps_everything_without_asking(qtbot, env) -> None:
    admin = env.world.admin
    window = _window(qtbot, env, admin)
    dialog = _intake(qtbot, env, window, admin)
    qtbot.keyClicks(dialog.first_name, "Imani")
    window.lock()
    window.lock_page.sign_out.emit()  # someone else needs the PC
    assert not any(s.title == "Unsaved work" for s in msgbox.shown)
    kept = drafts.peek(env.db, admin, INTAKE_DRAFT)
    assert kept is not None and kept.data["first_name"] == "Imani"


def test_closing_can_be_cancelled_and_nothing_is_lost(qtbot, env, monkeypatch) -> None:
    admin = env.world.admin
    window = _window(qtbot, env, admin)
    dialog = _intake(qtbot, env, window, admin)
    qtbot.keyClicks(dialog.first_name, "Zofia")
    monkeypatch.setattr(msgbox, "choose", lambda *a, **k: 2)  # the user clicks Cancel
    window.close()
    assert window.isVisible() and dialog.isVisible()
    assert dialog.first_name.text() == "Zofia"
    assert drafts.peek(env.db, admin, INTAKE_DRAFT) is None
    monkeypatch.setattr(msgbox, "choose", lambda *a, **k: 1)  # then Discard
    window.close()
    assert not window.isVisible()
    assert drafts.peek(env.db, admin, INTAKE_DRAFT) is None


def test_unsaved_sign_in_marks_are_kept_and_offered_back(qtbot, env, group) -> None:
    session_id, _ids = group
    fd = env.world.front_desk
    window = _window(qtbot, env, fd)
    window.go("Attendance")
    settle()
    page = window.pages["Attendance"]
    page.open_session(session_id)  # type: ignore[attr-defined]
    settle()
    table = page.panel.table  # type: ignore[attr-defined]
    for key in (Qt.Key.Key_P, Qt.Key.Key_U):
        qtbot.keyClick(table, key)
    assert page.unsaved_work()  # type: ignore[attr-defined]
    window.sign_out()
    kept = drafts.peek(env.db, fd, f"signin:{session_id}")
    assert kept is not None
    # Signed in again, the same sheet offers the marks back, unsaved until Save.
    window2 = _window(qtbot, env, fd)
    window2.go("Attendance")
    settle()
    page2 = window2.pages["Attendance"]
    page2.open_session(session_id)  # type: ignore[attr-defined]
    settle()
    statuses = [r.status for r in page2.panel.model.rows]  # type: ignore[attr-defined]
    assert statuses[:2] == ["present", "absent_unexcused"]
    assert page2.panel.dirty  # type: ignore[attr-defined]
    assert drafts.peek(env.db, fd, f"signin:{session_id}") is None  # taken up
