"""The Billing screen: preview, export, void a batch (real widgets, offscreen)."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook
from PySide6.QtCore import QDate

from iopdesk.services import billing, clinic
from iopdesk.ui import msgbox
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.billing import BillingPage
from tests.helpers import finish, settle
from tests.test_billing import D1, D4, _two_clients

pytestmark = [pytest.mark.gui, pytest.mark.sqlite_only]


def test_preview_export_and_void(qtbot, env, tmp_path):
    _two_clients(env, tmp_path)
    page = BillingPage(AppContext(env.db, env.world.billing, clinic.get_clinic(env.db)))
    qtbot.addWidget(page)
    page.date_from.setDate(QDate(D1.year, D1.month, D1.day))
    page.date_to.setDate(QDate(D4.year, D4.month, D4.day))
    finish(page.preview())
    assert page.lines_model.rowCount() == 8
    assert page.tabs.tabText(0) == "Claim lines (8)"
    out = tmp_path / "claims.xlsx"
    result = finish(page.export_to(out))
    settle()  # the batch list and the preview refresh after the export
    assert result is not None and result.lines == 8 and out.exists()
    assert page.progress_seen[-1] == (8, 8)  # the progress dialog reached the end
    assert load_workbook(out)["Claim Lines"].max_row == 9  # header + 8 lines
    assert page.lines_model.rowCount() == 0  # billed lines are not offered twice
    assert [b.batch_number for b in page.batch_model.rows] == [result.batch_number]
    refused = page.void(result.batch_number, "")
    finish(refused)
    assert refused.error is not None  # a reason is required
    assert "reason" in msgbox.shown[-1].text.lower()
    assert finish(page.void(result.batch_number, "sent to the wrong biller")) is not None
    settle()
    assert page.batch_model.rows[0].status == "voided"
    finish(page.preview())
    assert page.lines_model.rowCount() == 8  # voiding freed the lines


def test_admin_may_export_billing(qtbot, env):
    page = BillingPage(AppContext(env.db, env.world.admin, clinic.get_clinic(env.db)))
    qtbot.addWidget(page)
    assert page.export_btn.isEnabled()  # admin may export


def test_payers_and_fees_tab(qtbot, env, tmp_path):
    from iopdesk.ui.pages.billing_setup import FeeDialog, PayerDialog

    _two_clients(env, tmp_path)
    page = BillingPage(AppContext(env.db, env.world.billing, clinic.get_clinic(env.db)))
    qtbot.addWidget(page)
    page.refresh()
    settle()
    tab = page.payers_tab
    codes = [p.payer_code for p in tab.payer_model.rows]
    assert "ACME" in codes and "MCD" in codes
    bad = PayerDialog(tab.ctx, None, tab)
    bad.code.setText("ACME")  # already used
    bad._try_accept()
    settle()  # the save runs on a worker
    assert bad.result() == 0 and "Payer ID: Payer ID ACME is already used" in bad.error.text()
    dialog = PayerDialog(tab.ctx, None, tab)
    dialog.code.setText("BCBS")
    dialog.name.setText("Blue Plan")
    dialog.mode.setCurrentIndex(dialog.mode.findData("per_diem"))
    dialog.requires_auth.setChecked(True)
    dialog._try_accept()
    settle()  # the save runs on a worker
    assert dialog.result() == 1 and dialog.saved is not None
    tab.refresh()
    settle()
    tab._select(dialog.saved.id)
    settle()
    assert tab.selected_payer().payer_code == "BCBS"
    fee = FeeDialog(tab.ctx, tab.selected_payer(), None, tab)
    fee.code.setText("H0015")
    fee.rate.setText("12.345")
    fee._try_accept()
    settle()  # the save runs on a worker
    assert fee.result() == 0 and "Fee:" in fee.error.text()
    fee.rate.setText("$180")
    fee._try_accept()
    settle()  # the save runs on a worker
    assert fee.result() == 1
    tab.refresh()
    settle()
    assert [(f.code, str(f.rate)) for f in tab.fee_model.rows] == [("H0015", "180.00")]
    finish(tab.void_fee(tab.fee_model.rows[0].id, "typo"))
    settle()
    assert tab.fee_model.rows == []


def test_chart_billing_tab_authorization(qtbot, env, tmp_path):
    from iopdesk.ui.pages.billing_setup import AuthDialog, ClientBillingTab

    _two_clients(env, tmp_path)
    ctx = AppContext(env.db, env.world.billing, clinic.get_clinic(env.db))
    run = billing.preview(env.db, env.world.billing, D1, D4)
    cid = run.lines[0].client_id
    tab = ClientBillingTab(ctx)
    qtbot.addWidget(tab)
    tab.load(cid)
    assert len(tab.cov_model.rows) == 1 and tab.auth_model.rows == []
    dialog = AuthDialog(ctx, cid, None, tab)
    settle()  # the payer list is read on a worker
    dialog.number.setText("PA-77")
    dialog.code.setText("90853")
    dialog._try_accept()  # no dates, no units
    settle()  # the save runs on a worker
    assert dialog.result() == 0
    for field in ("From", "To", "Units"):
        assert f"{field}:" in dialog.error.text()
    dialog.start.set_value(D1)
    dialog.end.set_value(D4)
    dialog.units.setValue(6)
    dialog._try_accept()
    settle()  # the save runs on a worker
    assert dialog.result() == 1
    tab.load(cid)  # the test reads it here
    (auth,) = tab.auth_model.rows
    assert (auth.auth_number, auth.units, auth.used, auth.remaining) == ("PA-77", 6, 0, 6)


def test_payer_coding_rules_typed_into_the_payer_dialog(qtbot, env, tmp_path):
    """Issue 20 items 10 and 12: the audio-only modifier, HQ, HF and the treatment-plan rule
    are set per payer on Billing > Payers & fees, by keyboard, and bill accordingly."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from iopdesk.services import payers
    from iopdesk.ui.pages.billing_setup import PayerDialog

    _two_clients(env, tmp_path)
    page = BillingPage(AppContext(env.db, env.world.admin, clinic.get_clinic(env.db)))
    qtbot.addWidget(page)
    page.refresh()
    settle()
    tab = page.payers_tab
    dialog = PayerDialog(tab.ctx, None, tab)
    dialog.show()
    assert dialog.group_hq.isChecked() and dialog.audio.currentData() == "93"  # defaults
    QTest.keyClicks(dialog.code, "MCR")
    QTest.keyClicks(dialog.name, "Medicare Part B")
    dialog.audio.setFocus()
    QTest.keyClick(dialog.audio, Qt.Key.Key_Down)  # 93 -> FQ (Medicare)
    for box in (dialog.group_hq, dialog.sud_hf, dialog.requires_plan):
        box.setFocus()
        QTest.keyClick(box, Qt.Key.Key_Space)
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), Qt.LeftButton)
    settle()  # the save runs on a worker
    assert dialog.result() == 1 and dialog.saved is not None
    saved = next(p for p in payers.list_payers(env.db, env.world.admin) if p.payer_code == "MCR")
    assert (saved.audio_only_modifier, saved.group_hq, saved.sud_hf) == ("FQ", False, True)
    assert saved.requires_treatment_plan
    tab.refresh()
    settle()
    row = next(i for i, p in enumerate(tab.payer_model.rows) if p.payer_code == "MCR")
    shown = tab.payer_model.index(row, 4).data()
    assert shown == "audio FQ, no HQ, HF, plan required"
    # editing shows the stored values, and typing back the defaults restores them
    again = PayerDialog(tab.ctx, saved, tab)
    again.show()
    assert again.audio.currentData() == "FQ" and not again.group_hq.isChecked()
    assert again.sud_hf.isChecked() and again.requires_plan.isChecked()
    again.audio.setFocus()
    QTest.keyClick(again.audio, Qt.Key.Key_Up)
    again.group_hq.setFocus()
    QTest.keyClick(again.group_hq, Qt.Key.Key_Space)
    qtbot.mouseClick(again.buttons.button(again.buttons.StandardButton.Ok), Qt.LeftButton)
    settle()  # the save runs on a worker
    assert again.result() == 1
    back = next(p for p in payers.list_payers(env.db, env.world.admin) if p.payer_code == "MCR")
    assert (back.audio_only_modifier, back.group_hq) == ("93", True)
