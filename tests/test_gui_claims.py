"""Billing screen, electronic claims: the 837 export beside the workbook export, the payer
dialog's electronic fields typed in, and the Remittances & AR tab posting an 835."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtTest import QTest

from iopdesk.services import claims, clinic, payers
from iopdesk.ui import msgbox
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.billing import BillingPage
from tests.helpers import finish, settle
from tests.test_billing import D1, D5
from tests.test_claims import basic_world
from tests.x12_835 import Clp, Svc, write_835

pytestmark = [pytest.mark.gui, pytest.mark.sqlite_only]


def test_export_claims_then_post_835(qtbot, env, tmp_path):
    basic_world(env, tmp_path)
    page = BillingPage(AppContext(env.db, env.world.billing, clinic.get_clinic(env.db)))
    qtbot.addWidget(page)
    page.resize(1366, 768)
    page.show()
    # the 837 export sits beside the workbook export
    bar = page.claims_btn.parentWidget()
    assert bar is page.export_btn.parentWidget() and page.claims_btn.isEnabled()
    assert page.claims_btn.x() < page.export_btn.x()
    page.date_from.setDate(QDate(D1.year, D1.month, D1.day))
    page.date_to.setDate(QDate(D5.year, D5.month, D5.day))
    QTest.mouseClick(
        next(b for b in page.findChildren(type(page.export_btn)) if b.text() == "Preview"),
        Qt.MouseButton.LeftButton,
    )
    settle()
    assert page.lines_model.rowCount() == 4
    out = tmp_path / "x12"
    out.mkdir()
    result = finish(page.export_claims_to(out))
    settle()
    assert result is not None and sorted(p.name for p in out.iterdir()) == [
        "ACME_837P.x12",
        "MCD_837I.x12",
    ]
    assert msgbox.shown[-1].title == "Claims exported"
    assert "Every file passed X12 validation" in msgbox.shown[-1].text
    assert page.lines_model.rowCount() == 0  # sent lines are not offered again
    assert page.batch_model.rows[0].batch_number == result.batch_number
    # post a remittance for the professional claim
    (rc,) = claims.read_837((out / "ACME_837P.x12").read_text())
    era = tmp_path / "era.835"
    era.write_text(
        write_835(
            [
                Clp(
                    rc.claim_number,
                    "1",
                    rc.total,
                    Decimal("50"),
                    lines=[
                        Svc(
                            ln.procedure_code,
                            ln.charge,
                            Decimal("50") if i == 0 else Decimal(0),
                            ln.date_of_service,
                            ln.line_id,
                            [("CO", "45", ln.charge - 50)]
                            if i == 0
                            else [("CO", "197", ln.charge)],
                        )
                        for i, ln in enumerate(rc.lines)
                    ],
                )
            ]
        )
    )
    tab = page.remit_tab
    page.tabs.setCurrentWidget(tab)
    posted = finish(tab.import_file(era))
    settle()
    assert posted is not None and posted.claims_matched == 1 and not posted.unmatched
    assert tab.denials_model.rowCount() == 1
    assert tab.tabs.tabText(0) == "Denials (1)"
    assert tab.denials_model.rows[0].reasons.startswith("CO-197")
    assert [r.payer for r in tab.aging_model.rows] == ["ACME", "MCD"]
    tab.tabs.setCurrentIndex(2)  # Remittances: what the selected 835 posted
    (shown,) = tab.posted_model.rows
    assert shown.matched and shown.paid == Decimal("50") and shown.status.startswith("processed")
    assert "CO-45 Charge exceeds fee schedule" in shown.adjustments
    assert "CO-197 Precertification/authorization" in shown.adjustments
    again = finish(tab.import_file(era))
    settle()
    assert again is not None and again.already_imported
    assert msgbox.shown[-1].title == "Already imported"
    pdf = finish(tab.export_aging_to(tmp_path / "ar.pdf"))
    assert pdf is not None and pdf.read_bytes().startswith(b"%PDF")


def test_payer_dialog_electronic_fields(qtbot, env, tmp_path):
    from iopdesk.ui.pages.billing_setup import PayerDialog

    basic_world(env, tmp_path)
    page = BillingPage(AppContext(env.db, env.world.admin, clinic.get_clinic(env.db)))
    qtbot.addWidget(page)
    page.refresh()
    settle()
    info = next(p for p in payers.list_payers(env.db, env.world.admin) if p.payer_code == "MCD")
    dialog = PayerDialog(page.ctx, info, page)
    assert dialog.edi.text() == "77001" and dialog.tob.text() == "0131"
    dialog.tob.clear()
    QTest.keyClicks(dialog.tob, "13x")
    dialog._try_accept()
    settle()  # the save runs on a worker
    assert dialog.result() == 0 and "Type of bill" in dialog.error.text()
    dialog.tob.clear()
    QTest.keyClicks(dialog.tob, "0761")
    dialog.edi.clear()
    QTest.keyClicks(dialog.edi, "skco0")
    dialog.claim_type.setCurrentIndex(dialog.claim_type.findData("837P"))
    dialog.grouping.setCurrentIndex(dialog.grouping.findData("date"))
    dialog._try_accept()
    settle()  # the save runs on a worker
    assert dialog.result() == 1
    saved = next(p for p in payers.list_payers(env.db, env.world.admin) if p.payer_code == "MCD")
    assert (saved.electronic_payer_id, saved.type_of_bill, saved.claim_type) == (
        "SKCO0",
        "0761",
        "837P",
    )
    assert saved.claim_grouping == "date"


def test_coverage_dialog_subscriber_typed_in_reaches_the_837(qtbot, env, tmp_path):
    from iopdesk.ui.pages.billing_setup import CoverageDialog

    basic_world(env, tmp_path)
    ctx = AppContext(env.db, env.world.billing, clinic.get_clinic(env.db))
    run = claims.export_claims(env.db, env.world.billing, D1, D5, None, dry_run=True)
    cid = next(c for c in run.claims if c.payer == "ACME").mrn
    from sqlmodel import select

    from iopdesk.models import Client

    with env.db.session() as s:
        client_id = s.exec(select(Client.id).where(Client.mrn == cid)).one()
    (cov,) = payers.list_coverage(env.db, env.world.billing, client_id)
    dialog = CoverageDialog(ctx, client_id, cov, None)
    settle()  # the payer list is read on a worker
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.relationship.setFocus()
    qtbot.keyClicks(dialog.relationship, "Child")
    assert dialog.relationship.currentData() == "child"
    qtbot.keyClicks(dialog.sub_first, "Rosa")
    qtbot.keyClicks(dialog.sub_last, "D")
    dialog.sub_last.insert("í")  # as an input method delivers it (QTest types ASCII only)
    qtbot.keyClicks(dialog.sub_last, "az")
    dialog.sub_sex.setFocus()
    qtbot.keyClicks(dialog.sub_sex, "Female")
    dialog._try_accept()  # no date of birth yet
    settle()  # the save runs on a worker
    assert dialog.result() == 0 and "Subscriber date of birth" in dialog.error.text()
    dialog.sub_dob.set_value(date(1970, 3, 4))
    dialog._try_accept()
    settle()  # the save runs on a worker
    assert dialog.result() == 1, dialog.error.text()
    (saved,) = payers.list_coverage(env.db, env.world.billing, client_id)
    assert (saved.subscriber_relationship, saved.subscriber_last_name, saved.subscriber_sex) == (
        "child",
        "Díaz",
        "F",
    )
    again = claims.export_claims(env.db, env.world.billing, D1, D5, None, dry_run=True)
    text = again.texts["ACME_837P.x12"]
    assert "PAT*19~" in text and "NM1*IL*1*DIAZ*ROSA****MI*M-1~" in text
    assert claims.validate(text) == []
