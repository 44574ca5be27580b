"""The real main window, offscreen: navigation by role, census search, chart, lock, sign-in."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from iopdesk.services import audit, clinic
from iopdesk.ui.context import AppContext
from iopdesk.ui.dialogs import LoginDialog
from iopdesk.ui.mainwindow import MainWindow
from tests.conftest import PASSWORD
from tests.helpers import finish, settle
from tests.helpers import main_window as open_window
from tests.helpers.chart import show_tab

pytestmark = [pytest.mark.gui, pytest.mark.parametrize("backend", ["sqlite"])]


def nav_names(window: MainWindow) -> list[str]:
    return [window.nav.item(i).text() for i in range(window.nav.count())]


def test_admin_sees_every_section_and_status_bar(qtbot, env):
    window = open_window(qtbot, env, env.world.admin)
    assert nav_names(window) == [
        "Today", "Clients", "Caseloads", "Schedule", "Attendance", "Notes", "Discharge", "Billing",
        "Reports", "Admin",
    ]  # fmt: skip
    assert window.windowTitle() == "IOPDesk - Test Clinic"
    assert "Ada Admin (Administrator)" in window.status_user.text() or "Ada Admin" in (
        window.status_user.text()
    )
    assert "Local encrypted file" in window.status_db.text()
    assert window.page_title.text() == "Today"
    assert window.pages["Today"].active.value.text() == "0"  # both test clients are referrals


def test_front_desk_has_no_clinical_billing_or_admin_sections(qtbot, env):
    window = open_window(qtbot, env, env.world.front_desk)
    names = nav_names(window)
    assert "Notes" not in names and "Billing" not in names and "Admin" not in names
    assert "Clients" in names and "Schedule" in names


def test_census_search_and_chart_open_is_audited(qtbot, env):
    window = open_window(qtbot, env, env.world.front_desk)
    window.go("Clients")
    settle()
    page = window.pages["Clients"]
    assert page.model.rowCount() == 2
    qtbot.keyClicks(page.search, "ownc")
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=2000)
    assert page.model.row_at(0).last_name == "Ownclient"
    before = audit.count_events(env.db)
    index = page.model.index(0, 1)
    page.table.doubleClicked.emit(index)
    settle()
    assert window.stack.currentWidget() is window.chart
    assert window.chart.name.text().startswith("Ownclient, Canary")
    assert audit.count_events(env.db) == before + 1
    rows = audit.list_events(env.db, env.world.admin, action="open_chart", limit=1)
    assert rows[0].client_id == env.world.client_own and rows[0].username == "frontdesk"


def test_front_desk_never_sees_note_text_in_chart(qtbot, env):
    window = open_window(qtbot, env, env.world.front_desk)
    window.open_chart(env.world.client_own)
    chart = window.chart
    show_tab(chart, "Notes")
    assert chart.notes_model.rowCount() == 1
    chart.notes_table.clicked.emit(chart.notes_model.index(0, 0))
    settle()
    text = chart.note_view.toPlainText()
    assert "SECRET-NOTE-TEXT" not in text
    assert "Your role does not allow" in text


def test_therapist_reads_own_clients_note(qtbot, env):
    window = open_window(qtbot, env, env.world.therapist)
    window.open_chart(env.world.client_own)
    show_tab(window.chart, "Notes")
    window.chart.notes_table.clicked.emit(window.chart.notes_model.index(0, 0))
    settle()
    assert "SECRET-NOTE-TEXT" in window.chart.note_view.toPlainText()


def test_global_search_jumps_to_census(qtbot, env):
    window = open_window(qtbot, env, env.world.admin)
    qtbot.keyClicks(window.search, "Otherclient")
    qtbot.keyClick(window.search, Qt.Key.Key_Return)
    settle()
    page = window.pages["Clients"]
    assert window.stack.currentWidget() is page
    assert [r.last_name for r in page.model.rows] == ["Otherclient"]


def test_inactivity_lock_hides_everything_until_password(qtbot, env):
    window = open_window(qtbot, env, env.world.admin)
    window.open_chart(env.world.client_own)
    settle()
    window.check_idle(now=window.idle.last_input + 60)  # one minute: still open
    assert not window.locked
    window.check_idle(now=window.idle.last_input + window.idle_minutes * 60 + 1)
    assert window.locked
    assert window.outer.currentWidget() is window.lock_page
    assert not window.main_ui.isVisible()
    lock = window.lock_page
    qtbot.keyClicks(lock.password, "wrong-password")
    qtbot.keyClick(lock.password, Qt.Key.Key_Return)
    settle()  # the password is checked in the background
    assert window.locked and "not correct" in lock.error.text()
    qtbot.keyClicks(lock.password, PASSWORD)
    qtbot.keyClick(lock.password, Qt.Key.Key_Return)
    settle()
    assert not window.locked
    assert window.main_ui.isVisible()
    actions = [e.action for e in audit.list_events(env.db, env.world.admin, limit=10)]
    assert "screen_lock" in actions and "screen_unlock" in actions and "login_failed" in actions


def test_login_dialog_wrong_then_right_password(qtbot, env):
    from iopdesk.services import auth

    dialog = LoginDialog("Test Clinic", lambda u, p, c: auth.login(env.db, u, p, c), "here")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.username, "frontdesk")
    qtbot.keyClicks(dialog.password, "nope-nope-nope")
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    assert not dialog.buttons.isEnabled()  # checking, on a worker: no second press
    finish(dialog.last_op)
    assert dialog.isVisible()
    assert "not correct" in dialog.error.text()
    assert dialog.password.text() == ""
    assert dialog.buttons.isEnabled()
    qtbot.keyClicks(dialog.password, PASSWORD)
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    finish(dialog.last_op)
    assert not dialog.isVisible()
    assert dialog.result_value.username == "frontdesk"


def test_sign_in_checks_off_the_gui_thread_and_asks_for_the_two_factor_code(qtbot, env):
    import time

    from PySide6.QtWidgets import QLineEdit

    from iopdesk.services import totp
    from iopdesk.ui.app import sign_in
    from tests.test_gui_privacy import _when_modal
    from tests.test_gui_thread import gui_thread_calls

    w = env.world
    enrolment = totp.begin_enrolment(w.supervisor)
    codes = totp.confirm_enrolment(
        env.db, w.supervisor, enrolment.secret, totp.code_at(enrolment.secret, time.time())
    )
    asked: list[str] = []

    def login(dialog) -> None:
        assert isinstance(dialog, LoginDialog)
        qtbot.keyClicks(dialog.password, PASSWORD)
        _when_modal(qtbot, code)
        qtbot.keyClick(dialog.password, Qt.Key.Key_Return)

    def code(dialog) -> None:
        if isinstance(dialog, LoginDialog):  # the code dialog is not shown yet
            return _when_modal(qtbot, code)
        asked.append(dialog.windowTitle())
        field = dialog.findChild(QLineEdit, "code")
        qtbot.keyClicks(field, codes[0])
        qtbot.keyClick(field, Qt.Key.Key_Return)

    _when_modal(qtbot, login)
    with gui_thread_calls(env.db) as (on_gui, on_workers):
        actor = sign_in(env.db, "Test Clinic", "supervisor")
    assert actor is not None and actor.username == "supervisor"
    assert asked == ["IOPDesk - Two-factor code"]
    assert not [c for c in on_gui if "auth.login" in c]  # the password check ran on a worker
    assert on_workers


def test_window_geometry_is_remembered(qtbot, env):
    window = open_window(qtbot, env, env.world.admin)
    window.resize(1200, 700)
    window.close()
    again = open_window(qtbot, env, env.world.admin)
    assert (again.width(), again.height()) == (1200, 700)


def test_admin_page_lists_users_and_verifies_audit(qtbot, env):
    window = open_window(qtbot, env, env.world.admin)
    window.go("Admin")
    settle()
    page = window.pages["Admin"]
    names = [u.username for u in page.users_model.rows]
    assert names == sorted(["admin", "billing", "frontdesk", "supervisor", "therapist"])
    page._verify()
    settle()
    assert page.verify_result.text().startswith("Audit log intact")


def test_demo_command_renders_main_window_with_demo_data(qtbot, tmp_path, monkeypatch, backend):
    import sys

    from PySide6.QtGui import QImage

    from iopdesk.devtools.screenshots import demo_screenshot

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # run_demo installs its own
    out = tmp_path / "clients.png"
    assert demo_screenshot(str(out), page="clients") == 0
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1366, 768)
    # The demo clinic is real data in a real encrypted database, and the window says DEMO.
    from iopdesk.db import Database, DbTarget
    from iopdesk.paths import data_dir

    demo_file = data_dir() / "demo" / "iopdesk-demo.db"
    assert demo_file.exists() and b"SQLite format 3" not in demo_file.read_bytes()[:100]
    with pytest.raises(Exception):  # noqa: B017 - any open without the key must fail
        Database.open(DbTarget(path=demo_file), key=b"\x00" * 32)


def test_demo_window_title_is_marked(qtbot, env):
    window = MainWindow(AppContext(env.db, env.world.admin, clinic.get_clinic(env.db)), demo=True)
    qtbot.addWidget(window)
    assert window.windowTitle() == "IOPDesk - DEMO - Test Clinic"


def test_therapist_census_defaults_to_own_caseload(qtbot, env):
    window = open_window(qtbot, env, env.world.therapist)
    window.go("Clients")
    settle()
    page = window.pages["Clients"]
    assert page.therapist.currentText() == "My caseload"
    assert [r.id for r in page.model.rows] == [env.world.client_own]
    page.therapist.setCurrentIndex(page.therapist.findData(None))  # "All therapists"
    settle()
    assert {r.id for r in page.model.rows} == {env.world.client_own, env.world.client_other}
    # Front desk starts with everyone.
    desk = open_window(qtbot, env, env.world.front_desk)
    desk.go("Clients")
    settle()
    assert desk.pages["Clients"].model.rowCount() == 2


def test_first_page_fills_after_the_window_first_paints(qtbot, env):
    """Start-up: the window appears without waiting for the Today page's queries; the page is
    filled right after the first paint, and the other pages are built only when visited."""
    window = MainWindow(AppContext(env.db, env.world.admin, clinic.get_clinic(env.db)))
    qtbot.addWidget(window)
    today = window.pages.built()["Today"]
    assert list(window.pages.built()) == ["Today"]  # nothing else built yet
    assert not window.ready and today.active.value.text() != "0"  # not filled before showing
    window.show()
    qtbot.waitUntil(lambda: window.ready)
    settle()  # the page reads on a worker
    assert today.active.value.text() == "0"
    assert window.pages["Clients"] is window.pages["Clients"]  # built once, on first use
    assert set(window.pages.built()) == {"Today", "Clients"}
    window.go("Schedule")
    assert window.stack.currentWidget() is window.pages.built()["Schedule"]
