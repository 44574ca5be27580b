"""Privacy screens with real widgets (offscreen): the chart's Privacy tab, the release
question, emergency access, the audit report and two-factor enrolment."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from openpyxl import load_workbook

from iopdesk.models import Client
from iopdesk.services import breakglass, clinic, consents, totp
from iopdesk.services.disclosures import INTERNAL, Release
from iopdesk.ui import msgbox
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.privacy import ReleaseDialog, TwoFactorDialog
from tests.helpers import finish, settle
from tests.helpers import main_window as open_window
from tests.helpers.chart import show_tab

pytestmark = [pytest.mark.gui, pytest.mark.sqlite_only]


def test_chart_privacy_tab_consents_forms_and_disclosures(qtbot, env, tmp_path: Path):
    from iopdesk.ui.pages.privacy import ConsentDialog

    w = env.world
    window = open_window(qtbot, env, w.front_desk)
    window.open_chart(w.client_own)
    tab = window.chart.privacy_tab
    assert window.chart.tabs.tabText(window.chart.tabs.indexOf(tab)) == "Privacy"
    show_tab(window.chart, tab)
    assert tab.consent_model.rowCount() == 0
    dialog = ConsentDialog(window.ctx, w.client_own, window)
    qtbot.addWidget(dialog)
    settle()  # the recipient directory is read on a worker
    dialog.recipient_name.setText("Acme Health Plan")
    dialog.purpose.setCurrentText("payment")
    dialog._try_accept()
    finish(dialog.last_op)
    assert "expiry" in dialog.error.text()  # an expiry date or event is required
    dialog.expiry_event.setText("end of treatment")
    dialog.categories[0].setChecked(True)
    dialog._try_accept()
    finish(dialog.last_op)
    assert dialog.result() == dialog.DialogCode.Accepted
    tab.reload()
    settle()
    assert tab.consent_model.rowCount() == 1
    tab.consent_table.selectRow(0)
    tab.print_form(str(tmp_path / "form.pdf"))
    settle()
    assert (tmp_path / "form.pdf").stat().st_size > 1000
    scan = tmp_path / "scan.pdf"  # stands in for the signed, scanned form
    scan.write_bytes((tmp_path / "form.pdf").read_bytes())
    tab.consent_table.selectRow(0)
    tab.attach_form(str(scan))
    settle()
    assert tab.consent_model.rows[0].form_filename == "scan.pdf"
    tab.consent_table.selectRow(0)
    tab.view_form()  # rendered from memory, no temporary file
    settle()
    qtbot.addWidget(tab.form_viewer)
    assert tab.form_viewer.document.pageCount() == 2  # the form with the 2024 statements
    tab.form_viewer.close()
    tab.consent_table.selectRow(0)
    tab.revoke()  # the confirmation answers yes in tests
    settle()
    assert tab.consent_model.rows[0].status == "revoked"
    tab.print_accounting(str(tmp_path / "acc.pdf"))
    settle()
    assert (tmp_path / "acc.pdf").exists()
    assert not [b for b in msgbox.shown if b.icon in ("Warning", "Critical")]


def test_release_dialog_asks_recipient_and_purpose(qtbot):
    dialog = ReleaseDialog("The weekly report", allow_client_copy=False)
    qtbot.addWidget(dialog)
    assert not dialog.copy.isVisibleTo(dialog) and not dialog.recipient.isEnabled()
    dialog._try_accept()
    assert dialog.release == INTERNAL
    dialog = ReleaseDialog("The packet", allow_client_copy=True)
    qtbot.addWidget(dialog)
    dialog.outside.setChecked(True)
    assert dialog.recipient.isEnabled()
    dialog.purpose.setCurrentText("")
    dialog._try_accept()
    assert "recipient" in dialog.error.text()
    dialog.recipient.setText("Acme Health Plan")
    dialog.purpose.setCurrentText("payment")
    dialog._try_accept()
    assert dialog.release == Release("disclosure", "Acme Health Plan", "payment")


def test_break_glass_button_opens_a_closed_chart_and_admin_reviews(qtbot, env):
    from iopdesk.ui.pages.privacy import BreakGlassDialog

    w = env.world
    breakglass.set_designated(env.db, w.admin, w.therapist.user_id, True)
    window = open_window(qtbot, env, w.therapist)
    window.open_chart(w.client_other)  # not on this therapist's caseload
    settle()
    chart = window.chart
    assert chart.break_glass_btn.isVisibleTo(chart)
    dialog = BreakGlassDialog(window.ctx, w.client_other, "Olga Otherclient", window)
    qtbot.addWidget(dialog)
    dialog._try_accept()
    finish(dialog.last_op)
    assert "reason" in dialog.error.text().lower()
    dialog.reason.setPlainText("Client called in crisis, primary therapist unreachable")
    dialog._try_accept()
    finish(dialog.last_op)
    assert dialog.result_info is not None
    window.open_chart(w.client_other)
    settle()
    assert not chart.break_glass_btn.isVisibleTo(chart)  # the chart is open now
    admin_window = open_window(qtbot, env, w.admin)
    today = admin_window.pages["Today"]
    today.refresh()
    settle()
    panel = today.break_glass_panel
    assert panel.isVisibleTo(today) and panel.model.rowCount() == 1
    assert today.break_glass.value.text() == "1"
    panel.table.selectRow(0)
    panel.mark_reviewed()
    settle()
    assert today.break_glass.value.text() == "0"
    assert not panel.isVisibleTo(today) and not today.break_glass.isVisibleTo(today)


def test_audit_report_screen_filters_sorts_exports_and_verifies(qtbot, env, tmp_path: Path):
    from iopdesk.services import auth
    from tests.conftest import PASSWORD

    w = env.world
    auth.login(env.db, "therapist", PASSWORD)
    auth.login(env.db, "frontdesk", PASSWORD)
    window = open_window(qtbot, env, w.admin)
    window.go("Admin")
    admin = window.pages["Admin"]
    widget = admin.audit_report
    admin.tabs.setCurrentWidget(widget)
    widget.refresh()
    settle()
    assert widget.model.rowCount() > 5
    ids = [r.id for r in widget.model.rows]
    assert ids == sorted(ids, reverse=True)
    widget.sort_by(2)  # User column, ascending
    settle()
    names = [r.username for r in widget.model.rows]
    assert names == sorted(names)
    widget.sort_by(2)
    settle()
    names = [r.username for r in widget.model.rows]  # (each view adds an audit event)
    assert names == sorted(names, reverse=True) and names[0] != names[-1]
    widget.action.setCurrentIndex(widget.action.findData("user_add"))
    widget.refresh()
    settle()
    assert {r.action for r in widget.model.rows} == {"user_add"}
    with env.db.session() as s:
        mrn = s.get(Client, w.client_own).mrn
    widget.action.setCurrentIndex(0)
    widget.client.setText(mrn)
    widget.refresh()
    settle()
    assert widget.model.rows and {r.client_id for r in widget.model.rows} == {w.client_own}
    finish(widget.export(".xlsx", str(tmp_path / "audit.xlsx")))
    ws = load_workbook(tmp_path / "audit.xlsx")["Audit"]
    assert ws.max_row >= 4
    admin._verify()  # the old entry point still works
    settle()
    assert widget.verify_result.text().startswith("Audit log intact")


def test_two_factor_enrolment_dialog(qtbot, env):
    w = env.world
    ctx = AppContext(env.db, w.supervisor, clinic.get_clinic(env.db))
    dialog = TwoFactorDialog(ctx)
    qtbot.addWidget(dialog)
    assert dialog.qr.matrix and dialog.qr.width() == 220
    dialog.code.setText("000000")
    dialog._try_accept()
    finish(dialog.last_op)
    assert dialog.error.isVisibleTo(dialog)
    dialog.code.setText(totp.code_at(dialog.enrolment.secret, time.time()))
    dialog._try_accept()
    finish(dialog.last_op)
    assert len(dialog.recovery_codes) == 10
    assert msgbox.shown[-1].title == "Recovery codes"
    assert totp.status(env.db, w.supervisor).enabled
    from iopdesk.ui.pages.privacy import AccountButton

    button = AccountButton(ctx)
    qtbot.addWidget(button)
    button.new_codes()
    finish(button.last_op)
    assert msgbox.shown[-1].title == "Recovery codes"
    assert totp.status(env.db, w.supervisor).recovery_codes_left == 10
    button.turn_off()  # the confirmation answers no in tests: still on
    assert totp.status(env.db, w.supervisor).enabled
    assert consents  # module import used by other tests in this file


def _when_modal(qtbot, act) -> None:
    """Run `act(dialog)` on the next modal dialog once it is shown (exec() blocks the test)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None or not dialog.isVisible():
            QTimer.singleShot(20, poll)
            return
        act(dialog)

    QTimer.singleShot(0, poll)


def _type(qtbot, widget, text: str) -> None:
    from PySide6.QtTest import QTest

    widget.setFocus()
    QTest.keyClicks(widget, text)
    assert widget.text() == text


def _click_button(dialog, label: str) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QPushButton

    (button,) = [b for b in dialog.findChildren(QPushButton) if b.text() == label]
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def test_reset_password_forces_a_new_one_after_sign_in(qtbot, env, tmp_path: Path):
    """Issue 16: after an administrator's reset, signing in shows a dialog that cannot be
    skipped; signing out there opens nothing, and the new password replaces the temporary."""
    from iopdesk.services import auth
    from iopdesk.ui.app import sign_in
    from iopdesk.ui.dialogs import ChangePasswordDialog, LoginDialog

    w = env.world
    auth.reset_password(env.db, w.admin, w.therapist.user_id, "temporary-pass-1")
    seen: list[str] = []

    def login(dialog) -> None:
        assert isinstance(dialog, LoginDialog)
        _type(qtbot, dialog.password, "temporary-pass-1")
        _when_modal_change(dialog)
        _click_button(dialog, "Sign in")

    def _when_modal_change(login_dialog) -> None:
        def change(dialog) -> None:
            if dialog is login_dialog:  # not shown yet
                return _when_modal(qtbot, change)
            assert isinstance(dialog, ChangePasswordDialog)
            seen.append(dialog.windowTitle())
            assert not dialog.current.isVisibleTo(dialog)  # the temporary was just typed
            if len(seen) == 1:
                _click_button(dialog, "Sign out")  # the only other way: nothing opens
                return
            _type(qtbot, dialog.new, "short")
            _type(qtbot, dialog.again, "short")
            _click_button(dialog, "Change password")
            assert "at least 10 characters" in dialog.error.text()
            dialog.new.clear()
            dialog.again.clear()
            _type(qtbot, dialog.new, "temporary-pass-1")
            _type(qtbot, dialog.again, "temporary-pass-1")
            _click_button(dialog, "Change password")
            settle()  # the service refuses it, on a worker
            assert "different" in dialog.error.text()
            dialog.new.clear()
            dialog.again.clear()
            _type(qtbot, dialog.new, "brand-new-pass-7")
            _type(qtbot, dialog.again, "brand-new-pass-8")
            _click_button(dialog, "Change password")
            assert "do not match" in dialog.error.text()
            dialog.again.clear()
            _type(qtbot, dialog.again, "brand-new-pass-7")
            _click_button(dialog, "Change password")

        _when_modal(qtbot, change)

    _when_modal(qtbot, login)
    assert sign_in(env.db, "Test Clinic", "therapist") is None  # signed out at the dialog
    with pytest.raises(auth.PasswordChangeRequired):
        auth.login(env.db, "therapist", "temporary-pass-1")
    _when_modal(qtbot, login)
    actor = sign_in(env.db, "Test Clinic", "therapist")
    assert actor is not None and actor.username == "therapist"
    assert seen == ["IOPDesk - New password required"] * 2
    with pytest.raises(auth.AuthenticationError):
        auth.login(env.db, "therapist", "temporary-pass-1")
    assert auth.login(env.db, "therapist", "brand-new-pass-7").username == "therapist"


def test_amendment_deadlines_in_the_chart_and_overdue_on_todays_screen(qtbot, env):
    """Issue 16: the due date shows in the chart, the extension and the statement of
    disagreement / rebuttal are recorded there, and an administrator's Today lists what is
    overdue (and opens the chart from it)."""
    from datetime import date, timedelta

    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from iopdesk.services import amendments

    w = env.world
    late = amendments.request_amendment(
        env.db, w.front_desk, w.client_own, "Wrong city", field_name="city",
        received_date=date.today() - timedelta(days=70),
    )  # fmt: skip
    amendments.request_amendment(
        env.db, w.front_desk, w.client_own, "Wrong state", field_name="state"
    )
    admin = open_window(qtbot, env, w.admin)
    today_page = admin.pages["Today"]
    today_page.refresh()
    settle()
    assert today_page.amendments.isVisibleTo(today_page)
    assert today_page.amendments.value.text() == "1"
    panel = today_page.amendments_panel
    assert panel.isVisibleTo(today_page) and panel.model.rowCount() == 1
    assert panel.model.rows[0].id == late.id
    index = panel.model.index(0, 0)
    panel.table.setCurrentIndex(index)
    QTest.mouseClick(panel.open_btn, Qt.MouseButton.LeftButton)
    settle()
    chart = admin.chart
    assert chart.client_id == w.client_own
    tab = chart.privacy_tab
    show_tab(chart, tab)
    model = tab.amendment_model
    due_col = next(
        i
        for i in range(model.columnCount())
        if model.headerData(i, Qt.Orientation.Horizontal) == "Due"
    )
    row = next(i for i, a in enumerate(model.rows) if a.id == late.id)
    assert model.data(model.index(row, due_col)) == f"{late.due_date:%m/%d/%Y}"
    # the 60 days ran out: the extension is refused with the reason on screen
    tab.amendment_table.selectRow(row)
    tab.follow_up("extend", "Clinician on leave this month")
    settle()
    assert "ran out" in tab.last_error
    other = next(i for i, a in enumerate(model.rows) if a.id != late.id)
    tab.amendment_table.selectRow(other)
    tab.follow_up("extend", "Clinician on leave this month")
    settle()  # saved, then the tab read again, on workers
    extended = next(a for a in model.rows if a.id != late.id)
    assert extended.extended and "(extended)" in model.data(
        model.index(model.rows.index(extended), due_col)
    )
    # denied by the clinician, then the client's statement and the rebuttal
    amendments.deny(env.db, w.therapist, late.id, late.version, "The city is right.")
    tab.reload()
    settle()
    row = next(i for i, a in enumerate(model.rows) if a.id == late.id)
    tab.amendment_table.selectRow(row)
    tab.follow_up("disagreement", "I moved in March")
    settle()
    row = next(i for i, a in enumerate(model.rows) if a.id == late.id)
    tab.amendment_table.selectRow(row)
    tab.follow_up("rebuttal", "The intake form says otherwise")
    settle()
    done = next(a for a in model.rows if a.id == late.id)
    assert done.disagreement == "I moved in March" and done.rebuttal.startswith("The intake")
    today_page.refresh()
    settle()
    assert not today_page.amendments_panel.isVisibleTo(today_page)


def test_chart_explains_every_hidden_part_to_an_off_caseload_therapist(qtbot, env):
    """Issue 16: hidden parts of a chart are explained on screen, never left blank."""
    from PySide6.QtWidgets import QLabel

    w = env.world
    window = open_window(qtbot, env, w.therapist)
    window.open_chart(w.client_other)  # on another therapist's caseload
    settle()
    chart = window.chart
    assert chart.notice.isVisibleTo(chart)
    assert "not on your caseload" in chart.notice.text()
    shorts = [
        lab.text()
        for lab in chart.overview.findChildren(QLabel)
        if lab.objectName() == "deniedShort"
    ]
    # demographics, contact details, diagnoses, care team, insurance, emergency contacts
    assert len(shorts) == 6 and all(t.startswith("Hidden:") for t in shorts)
    texts = " ".join(lab.text() for lab in chart.overview.findChildren(QLabel))
    assert "Otherclient" in texts and "1985" not in texts  # name yes, date of birth no
    assert "DOB" not in chart.ident.text() and "MRN" in chart.ident.text()
    privacy = chart.privacy_tab
    show_tab(chart, privacy)
    assert privacy.denied.isVisibleTo(privacy) and not privacy.tabs.isVisibleTo(privacy)
    assert "Consents, disclosures and amendments hidden" in privacy.denied.text()
    show_tab(chart, chart.plan_tab)
    assert "Treatment plans hidden" in chart.plan_tab.denied.text()
    show_tab(chart, chart.discharge_tab)
    assert "Discharge and aftercare hidden" in chart.discharge_tab.summary.toPlainText()
    show_tab(chart, chart.hours_tab)
    assert "Attendance history hidden" in chart.hours_tab.caption.text()
    show_tab(chart, "Notes")
    assert "Notes hidden" in chart.note_view.toPlainText()
    # the own client's chart shows everything, without a notice
    window.open_chart(w.client_own)
    settle()
    assert not chart.notice.isVisibleTo(chart)
    show_tab(chart, privacy)
    assert not privacy.denied.isVisibleTo(privacy) and privacy.tabs.isVisibleTo(privacy)
    assert "DOB 01/02/1990" in chart.ident.text()


def test_admin_resets_a_password_and_user_changes_own_password(qtbot, env):
    """Admin > Users > Security > Reset password sets a temporary password the user must
    replace; Account > Change password lets a user change their own."""
    from PySide6.QtWidgets import QLineEdit

    from iopdesk.services import auth
    from iopdesk.ui.pages.privacy import AccountButton, UserSecurityButton
    from tests.conftest import PASSWORD

    w = env.world
    ctx = AppContext(env.db, w.admin, clinic.get_clinic(env.db))
    changed: list[bool] = []
    target = next(u for u in auth.list_users(env.db, w.admin) if u.username == "billing")
    button = UserSecurityButton(ctx, lambda: target, lambda: changed.append(True))
    qtbot.addWidget(button)
    labels = [a.text() for a in button.menu().actions()]
    assert "Reset password (must change at next sign-in)..." in labels

    def fill(dialog) -> None:
        (field,) = [
            f for f in dialog.findChildren(QLineEdit) if f.objectName() == "temporaryPassword"
        ]
        _type(qtbot, field, "short")
        _click_button(dialog, "Reset password")
        qtbot.waitUntil(lambda: "at least 10" in dialog.error.text())  # nothing saved
        qtbot.waitUntil(lambda: dialog.buttons.isEnabled())  # saved on a worker
        field.clear()
        _type(qtbot, field, "temporary-pass-9")
        _click_button(dialog, "Reset password")

    _when_modal(qtbot, fill)
    button.reset_password()
    settle()
    assert changed == [True]
    with pytest.raises(auth.PasswordChangeRequired):
        auth.login(env.db, "billing", "temporary-pass-9")
    # a user changes their own password from the Account menu (current one asked)
    mine = AccountButton(AppContext(env.db, w.front_desk, clinic.get_clinic(env.db)))
    qtbot.addWidget(mine)

    def change(dialog) -> None:
        assert dialog.current.isVisibleTo(dialog)
        _type(qtbot, dialog.current, "not-my-password")
        _type(qtbot, dialog.new, "front-desk-new-1")
        _type(qtbot, dialog.again, "front-desk-new-1")
        _click_button(dialog, "Change password")
        settle()  # the service checks it, on a worker
        assert "current password is not correct" in dialog.error.text()
        dialog.current.clear()
        _type(qtbot, dialog.current, PASSWORD)
        _click_button(dialog, "Change password")

    _when_modal(qtbot, change)
    mine.change_password()
    assert msgbox.shown[-1].title == "Password changed"
    assert auth.login(env.db, "frontdesk", "front-desk-new-1").username == "frontdesk"
