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
from iopdesk.ui.mainwindow import MainWindow
from iopdesk.ui.pages.privacy import ReleaseDialog, TwoFactorDialog

pytestmark = pytest.mark.gui


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture(autouse=True)
def _nonblocking_boxes():
    msgbox.NON_BLOCKING = True
    msgbox.shown.clear()
    yield
    msgbox.NON_BLOCKING = False


def open_window(qtbot, env, actor) -> MainWindow:
    window = MainWindow(AppContext(env.db, actor, clinic.get_clinic(env.db)))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.ready)  # the first page fills just after the first paint
    return window


def test_chart_privacy_tab_consents_forms_and_disclosures(qtbot, env, tmp_path: Path):
    from iopdesk.ui.pages.privacy import ConsentDialog

    w = env.world
    window = open_window(qtbot, env, w.front_desk)
    window.open_chart(w.client_own)
    tab = window.chart.privacy_tab
    assert window.chart.tabs.tabText(window.chart.tabs.indexOf(tab)) == "Privacy"
    assert tab.consent_model.rowCount() == 0
    dialog = ConsentDialog(window.ctx, w.client_own, window)
    qtbot.addWidget(dialog)
    dialog.recipient_name.setText("Acme Health Plan")
    dialog.purpose.setCurrentText("payment")
    dialog._try_accept()
    assert "expiry" in dialog.error.text()  # an expiry date or event is required
    dialog.expiry_event.setText("end of treatment")
    dialog.categories[0].setChecked(True)
    dialog._try_accept()
    assert dialog.result() == dialog.DialogCode.Accepted
    tab.reload()
    assert tab.consent_model.rowCount() == 1
    tab.consent_table.selectRow(0)
    tab.print_form(str(tmp_path / "form.pdf"))
    assert (tmp_path / "form.pdf").stat().st_size > 1000
    scan = tmp_path / "scan.pdf"  # stands in for the signed, scanned form
    scan.write_bytes((tmp_path / "form.pdf").read_bytes())
    tab.consent_table.selectRow(0)
    tab.attach_form(str(scan))
    assert tab.consent_model.rows[0].form_filename == "scan.pdf"
    tab.consent_table.selectRow(0)
    tab.view_form()  # rendered from memory, no temporary file
    qtbot.addWidget(tab.form_viewer)
    assert tab.form_viewer.document.pageCount() == 2  # the form with the 2024 statements
    tab.form_viewer.close()
    tab.consent_table.selectRow(0)
    tab.revoke()  # the confirmation answers yes in tests
    assert tab.consent_model.rows[0].status == "revoked"
    tab.print_accounting(str(tmp_path / "acc.pdf"))
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
    chart = window.chart
    assert chart.break_glass_btn.isVisibleTo(chart)
    dialog = BreakGlassDialog(window.ctx, w.client_other, "Olga Otherclient", window)
    qtbot.addWidget(dialog)
    dialog._try_accept()
    assert "reason" in dialog.error.text().lower()
    dialog.reason.setPlainText("Client called in crisis, primary therapist unreachable")
    dialog._try_accept()
    assert dialog.result_info is not None
    window.open_chart(w.client_other)
    assert not chart.break_glass_btn.isVisibleTo(chart)  # the chart is open now
    admin_window = open_window(qtbot, env, w.admin)
    today = admin_window.pages["Today"]
    today.refresh()
    panel = today.break_glass_panel
    assert panel.isVisibleTo(today) and panel.model.rowCount() == 1
    assert today.break_glass.value.text() == "1"
    panel.table.selectRow(0)
    panel.mark_reviewed()
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
    assert widget.model.rowCount() > 5
    ids = [r.id for r in widget.model.rows]
    assert ids == sorted(ids, reverse=True)
    widget.sort_by(2)  # User column, ascending
    names = [r.username for r in widget.model.rows]
    assert names == sorted(names)
    widget.sort_by(2)
    names = [r.username for r in widget.model.rows]  # (each view adds an audit event)
    assert names == sorted(names, reverse=True) and names[0] != names[-1]
    widget.action.setCurrentIndex(widget.action.findData("user_add"))
    widget.refresh()
    assert {r.action for r in widget.model.rows} == {"user_add"}
    with env.db.session() as s:
        mrn = s.get(Client, w.client_own).mrn
    widget.action.setCurrentIndex(0)
    widget.client.setText(mrn)
    widget.refresh()
    assert widget.model.rows and {r.client_id for r in widget.model.rows} == {w.client_own}
    widget.export(".xlsx", str(tmp_path / "audit.xlsx"))
    ws = load_workbook(tmp_path / "audit.xlsx")["Audit"]
    assert ws.max_row >= 4
    admin._verify()  # the old entry point still works
    assert widget.verify_result.text().startswith("Audit log intact")


def test_two_factor_enrolment_dialog(qtbot, env):
    w = env.world
    ctx = AppContext(env.db, w.supervisor, clinic.get_clinic(env.db))
    dialog = TwoFactorDialog(ctx)
    qtbot.addWidget(dialog)
    assert dialog.qr.matrix and dialog.qr.width() == 220
    dialog.code.setText("000000")
    dialog._try_accept()
    assert dialog.error.isVisibleTo(dialog)
    dialog.code.setText(totp.code_at(dialog.enrolment.secret, time.time()))
    dialog._try_accept()
    assert len(dialog.recovery_codes) == 10
    assert msgbox.shown[-1].title == "Recovery codes"
    assert totp.status(env.db, w.supervisor).enabled
    from iopdesk.ui.pages.privacy import AccountButton

    button = AccountButton(ctx)
    qtbot.addWidget(button)
    button.new_codes()
    assert msgbox.shown[-1].title == "Recovery codes"
    assert totp.status(env.db, w.supervisor).recovery_codes_left == 10
    button.turn_off()  # the confirmation answers no in tests: still on
    assert totp.status(env.db, w.supervisor).enabled
    assert consents  # module import used by other tests in this file
