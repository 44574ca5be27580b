"""Issue 16 in the GUI: picking a recipient from the directory (and adding one) in the
"who receives this?" question and the consent dialog, typed and clicked into real widgets."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QWidget
from sqlmodel import select

from iopdesk.models import Client, Consent, Recipient
from iopdesk.services import recipients
from iopdesk.ui.pages.privacy import ConsentDialog, RecipientDialog, ReleaseDialog
from tests.helpers import main_window as _window
from tests.helpers import settle
from tests.helpers.chart import show_tab

pytestmark = [pytest.mark.gui, pytest.mark.sqlite_only]


def _ok(dialog: QWidget) -> None:
    buttons = dialog.findChild(QDialogButtonBox)
    assert buttons is not None
    button = buttons.button(QDialogButtonBox.StandardButton.Ok)
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def _tick(box: QWidget) -> None:
    """Click the check box's indicator (its label is shorter than the row)."""
    QTest.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


def _fill_recipient_dialog(name: str, address: str, type_label: str, seen: list[str]) -> None:
    """Runs while the modal "Add a recipient" dialog is open: type into it and click OK."""
    dialog = QApplication.activeModalWidget()
    assert isinstance(dialog, RecipientDialog), dialog
    seen.append(dialog.name.text())
    dialog.name.clear()
    QTest.keyClicks(dialog.name, name)
    QTest.keyClicks(dialog.address, address)
    dialog.type.setCurrentIndex(dialog.type.findText(type_label))
    _ok(dialog)


def test_release_dialog_picks_and_adds_directory_recipients(qtbot, env, tmp_path: Path) -> None:
    w = env.world
    recipients.add_recipient(
        env.db, w.admin, "Prairie State Medicaid", "", "PO Box 1", "health_plan"
    )
    window = _window(qtbot, env, w.admin)
    dialog = ReleaseDialog("The weekly report", window, ctx=window.ctx)
    qtbot.addWidget(dialog)
    dialog.show()
    settle()  # the directory is read on a worker
    QTest.mouseClick(dialog.outside, Qt.MouseButton.LeftButton)
    assert dialog.recipient.isEnabled()
    # a piece of a name is not a recipient: refused, with the way out
    line = dialog.recipient.combo.lineEdit()
    QTest.keyClicks(line, "Medicaid")
    dialog.purpose.lineEdit().clear()
    QTest.keyClicks(dialog.purpose.lineEdit(), "payment")
    _ok(dialog)
    assert dialog.isVisible() and "not in the recipient directory" in dialog.error.text()
    # pick the directory entry from the list (arrow keys in the recipient box)
    line.clear()
    QTest.keyClick(dialog.recipient.combo, Qt.Key.Key_Down)
    assert dialog.recipient.text() == "Prairie State Medicaid"
    _ok(dialog)
    assert dialog.release is not None
    assert dialog.release.recipient == "Prairie State Medicaid"
    assert dialog.release.recipient_id is not None and dialog.release.purpose == "payment"
    # a new recipient is added from the same dialog and selected
    second = ReleaseDialog("The packet", window, ctx=window.ctx)
    qtbot.addWidget(second)
    second.show()
    settle()
    QTest.mouseClick(second.outside, Qt.MouseButton.LeftButton)
    QTest.keyClicks(second.recipient.combo.lineEdit(), "Riverbend Outpatient")
    seen: list[str] = []
    QTimer.singleShot(
        0,
        lambda: _fill_recipient_dialog(
            "Riverbend Outpatient", "44 Elm St", "Health care provider", seen
        ),
    )
    QTest.mouseClick(second.recipient.add_button, Qt.MouseButton.LeftButton)
    settle()  # saved, then the directory read again, on workers
    assert seen == ["Riverbend Outpatient"]  # the typed name is offered
    assert second.recipient.text() == "Riverbend Outpatient"
    second.purpose.setCurrentText("treatment")
    _ok(second)
    second.grab().save("/tmp/privacy-release-release-dialog.png")  # looked at by hand
    assert second.release is not None and second.release.recipient_id is not None
    with env.db.session() as s:
        added = s.exec(select(Recipient).where(Recipient.name == "Riverbend Outpatient")).one()
        assert (added.address, added.type) == ("44 Elm St", "provider")


def test_consent_dialog_records_a_tpo_class_consent_and_a_hipaa_authorization(qtbot, env) -> None:
    w = env.world
    with env.db.session() as s:
        c = s.get(Client, w.client_own)
        assert c is not None
        c.part2 = True
        s.add(c)
    recipients.add_recipient(env.db, w.admin, "Acme Corp HR", "Acme Corp", "1 Plant Rd", "employer")
    window = _window(qtbot, env, w.front_desk)
    window.open_chart(w.client_own)
    tab = window.chart.privacy_tab
    show_tab(window.chart, tab)
    # a Part 2 TPO consent naming the class "my health plans"
    dialog = ConsentDialog(window.ctx, w.client_own, window)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.to_class.setCurrentIndex(dialog.to_class.findData("health_plans"))
    assert not dialog.recipient.isEnabled()
    assert dialog.purpose.currentText() == "treatment, payment, operations"
    _tick(dialog.categories[-1])  # all of my records
    QTest.keyClicks(dialog.expiry_event, "end of treatment")
    _ok(dialog)
    settle()  # saved on a worker
    assert dialog.result() == dialog.DialogCode.Accepted, dialog.error.text()
    # a HIPAA authorization to an employer picked from the directory
    auth = ConsentDialog(window.ctx, w.client_own, window)
    qtbot.addWidget(auth)
    auth.show()
    settle()
    auth.kind.setCurrentIndex(auth.kind.findData("hipaa"))
    QTest.keyClicks(auth.recipient.combo.lineEdit(), "acme corp hr")
    auth.purpose.lineEdit().clear()
    QTest.keyClicks(auth.purpose.lineEdit(), "employment verification")
    _tick(auth.categories[0])  # attendance
    auth.expiry.setDate(auth.expiry.date().currentDate().addDays(30))
    _ok(auth)
    settle()
    assert auth.result() == auth.DialogCode.Accepted, auth.error.text()
    tab.reload()
    settle()
    rows = {c.kind: c for c in tab.consent_model.rows}
    assert rows["part2"].recipient == "my health plans and payers"
    assert rows["hipaa"].recipient == "Acme Corp HR, Acme Corp"
    with env.db.session() as s:
        stored = {c.kind: c for c in s.exec(select(Consent)).all()}
    assert (stored["part2"].recipient_class, stored["part2"].info_categories) == (
        "health_plans",
        "all",
    )
    assert (
        stored["hipaa"].recipient_id is not None and stored["hipaa"].info_categories == "attendance"
    )
    assert stored["hipaa"].expiry_date is not None and stored["hipaa"].expiry_date > date.today()
    assert stored["hipaa"].expiry_date <= date.today() + timedelta(days=31)
    window.chart.tabs.setCurrentWidget(tab)
    window.resize(1366, 768)
    window.grab().save("/tmp/privacy-release-consents.png")  # looked at by hand
    auth.grab().save("/tmp/privacy-release-consent-dialog.png")
