"""The Billing screen: preview, export, void a batch (real widgets, offscreen)."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook
from PySide6.QtCore import QDate

from iopdesk.services import clinic
from iopdesk.ui import msgbox
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.billing import BillingPage
from tests.test_billing import D1, D4, _two_clients

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


def test_preview_export_and_void(qtbot, env, tmp_path):
    _two_clients(env, tmp_path)
    page = BillingPage(AppContext(env.db, env.world.billing, clinic.get_clinic(env.db)))
    qtbot.addWidget(page)
    page.date_from.setDate(QDate(D1.year, D1.month, D1.day))
    page.date_to.setDate(QDate(D4.year, D4.month, D4.day))
    page.preview()
    assert page.lines_model.rowCount() == 8
    assert page.tabs.tabText(0) == "Claim lines (8)"
    out = tmp_path / "claims.xlsx"
    result = page.export_to(out)
    assert result is not None and result.lines == 8 and out.exists()
    assert load_workbook(out)["Claim Lines"].max_row == 9  # header + 8 lines
    assert page.lines_model.rowCount() == 0  # billed lines are not offered twice
    assert [b.batch_number for b in page.batch_model.rows] == [result.batch_number]
    assert not page.void(result.batch_number, "")  # a reason is required
    assert page.void(result.batch_number, "sent to the wrong biller")
    assert page.batch_model.rows[0].status == "voided"
    page.preview()
    assert page.lines_model.rowCount() == 8  # voiding freed the lines


def test_admin_may_export_billing(qtbot, env):
    page = BillingPage(AppContext(env.db, env.world.admin, clinic.get_clinic(env.db)))
    qtbot.addWidget(page)
    assert page.export_btn.isEnabled()  # admin may export
