"""Intake form, staff records and caseloads through the real widgets, offscreen."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QDialog

from iopdesk.models import Payer, Track
from iopdesk.models.enums import Role
from iopdesk.services import clients, clinic, lookups, staff
from iopdesk.services.staff import StaffInput
from iopdesk.ui import msgbox, style
from iopdesk.ui.pages.caseload import AssignDialog, CaseloadPage
from iopdesk.ui.pages.intake import IntakeDialog, to_qdate
from iopdesk.ui.pages.staff import LinkUserDialog, StaffDialog, StaffTab
from tests.helpers import ctx_for, finish, settle

pytestmark = [pytest.mark.gui, pytest.mark.parametrize("backend", ["sqlite"])]
TODAY = date.today()
VALID_NPI = "1234567893"


@pytest.fixture
def lookup_ids(env) -> dict[str, int]:
    """The test world has no tracks or payers: two tracks (one SUD) and a payer."""
    with env.db.session() as s:
        sud = Track(track_code="SUD-E", name="Adult SUD Evening IOP", is_sud=True)
        mh = Track(track_code="MH-D", name="Adult Mental Health Day", is_sud=False)
        old = Track(track_code="OLD", name="Retired track", active=False)
        payer = Payer(payer_code="BCBS", name="Blue Cross")
        s.add_all([sud, mh, old, payer])
        s.flush()
        assert sud.id and mh.id and payer.id
        return {"sud": sud.id, "mh": mh.id, "payer": payer.id}


def open_intake(qtbot, env, actor=None) -> IntakeDialog:
    dialog = IntakeDialog(ctx_for(env, actor or env.world.front_desk))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def type_basics(qtbot, dialog: IntakeDialog, first: str, last: str, dob: str) -> None:
    dialog.tabs.setCurrentIndex(0)
    qtbot.keyClicks(dialog.first_name, first)
    qtbot.keyClicks(dialog.last_name, last)
    dialog.dob.setFocus()
    qtbot.keyClicks(dialog.dob, dob)


def choose(combo, data) -> None:
    index = combo.findData(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)


def save(qtbot, dialog) -> None:
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), Qt.LeftButton)
    settle()  # the save runs on a worker


def census_names(env, search: str) -> list[str]:
    rows = clients.list_census(env.db, env.world.admin, search=search)
    return [f"{r.first_name} {r.last_name}" for r in rows]


# -- lookups ---------------------------------------------------------------------------------
def test_lookups_list_active_tracks_and_payers(env, lookup_ids):
    tracks = lookups.list_tracks(env.db, env.world.front_desk)
    assert [t.code for t in tracks] == ["MH-D", "SUD-E"]  # by name; the retired one is left out
    assert [t.is_sud for t in tracks] == [False, True]
    payers = lookups.list_payers(env.db, env.world.billing)
    assert [(p.code, p.name) for p in payers] == [("BCBS", "Blue Cross")]


# -- intake ----------------------------------------------------------------------------------
def test_register_active_sud_client_through_the_form(qtbot, env, lookup_ids):
    dialog = open_intake(qtbot, env)
    assert dialog.admission.isEnabled() is False  # referral by default
    type_basics(qtbot, dialog, "Maria", "Lopez-Garcia", "03151988")
    assert dialog.dob.value() == date(1988, 3, 15)
    qtbot.keyClicks(dialog.preferred_name, "Mari")
    qtbot.mouseClick(dialog.next_button, Qt.LeftButton)
    assert dialog.tabs.currentIndex() == 1
    qtbot.keyClicks(dialog.phone, "555 123 4567")
    qtbot.keyClicks(dialog.email, "maria@example.org")
    qtbot.keyClicks(dialog.address1, "12 Elm Street")
    qtbot.keyClicks(dialog.city, "Springfield")
    choose(dialog.state, "IL")
    qtbot.keyClicks(dialog.zip, "62701")
    name, relationship, phone, _remove = dialog.contacts.rows[0]
    qtbot.keyClicks(name, "Jose Lopez")
    qtbot.keyClicks(relationship, "Brother")
    qtbot.keyClicks(phone, "555-987-6543")
    qtbot.mouseClick(dialog.next_button, Qt.LeftButton)
    assert dialog.tabs.currentIndex() == 2
    assert not dialog.next_button.isEnabled()  # last section
    assert "set automatically" in dialog.part2.text()
    choose(dialog.status, "active")
    assert dialog.admission.isEnabled()
    choose(dialog.track, lookup_ids["sud"])
    assert "Part 2 record: yes" in dialog.part2.text()
    assert dialog.hours.placeholderText() == "9 (track default)"
    dialog.admission.setDate(to_qdate(TODAY - timedelta(days=2)))
    choose(dialog.payer, lookup_ids["payer"])
    qtbot.keyClicks(dialog.member_id, "XYZ123456")
    qtbot.keyClicks(dialog.diagnoses, "F10.20, F41.1")
    save(qtbot, dialog)

    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.error.text()
    created = dialog.created
    assert created is not None and created.part2 is True
    assert created.mrn.startswith("M") and created.status == "active"
    assert not [s for s in msgbox.shown if s.icon == "Question"]  # no duplicate prompt
    rows = clients.list_census(env.db, env.world.admin, search="lopez-garcia")
    assert [(r.mrn, r.track, r.payer, r.phone) for r in rows] == [
        (created.mrn, "Adult SUD Evening IOP", "Blue Cross", "(555) 123-4567")
    ]
    assert rows[0].admission_date == TODAY - timedelta(days=2)
    chart = clients.open_chart(env.db, env.world.admin, created.id)
    c = chart.client
    assert (c.preferred_name, c.email, c.city, c.state, c.postal_code) == (
        "Mari",
        "maria@example.org",
        "Springfield",
        "IL",
        "62701",
    )
    assert c.required_weekly_hours is None  # track default
    assert [(d.icd10_code, d.is_primary) for d in chart.diagnoses] == [
        ("F10.20", True),
        ("F41.1", False),
    ]
    assert [(e.name, e.relationship, e.phone) for e in chart.contacts] == [
        ("Jose Lopez", "Brother", "(555) 987-6543")
    ]
    assert [(cov.member_id, payer) for cov, payer in chart.coverage] == [
        ("XYZ123456", "Blue Cross")
    ]
    assert [name for _e, name in chart.enrollments] == ["Adult SUD Evening IOP"]


def test_weekly_hours_override_and_non_sud_track(qtbot, env, lookup_ids):
    dialog = open_intake(qtbot, env)
    type_basics(qtbot, dialog, "Ann", "Override", "07041975")
    dialog.tabs.setCurrentIndex(2)
    choose(dialog.track, lookup_ids["mh"])
    assert "set automatically" in dialog.part2.text()
    qtbot.keyClicks(dialog.hours, "6.x5")  # the validator drops what is not a number
    assert dialog.hours.text() == "6.5"
    dialog.hours_until.setFocus()  # an override is dated (issue 20 item 7)
    qtbot.keyClicks(dialog.hours_until, f"{TODAY + timedelta(days=6):%m/%d/%Y}")
    save(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.error.text()
    assert dialog.created is not None
    assert dialog.created.part2 is False and dialog.created.status == "referral"
    assert str(dialog.created.required_weekly_hours) in ("6.5", "6.50")


def test_validation_marks_fields_and_keeps_what_was_typed(qtbot, env, lookup_ids):
    before = len(clients.list_census(env.db, env.world.admin))
    dialog = open_intake(qtbot, env)
    type_basics(qtbot, dialog, "Pat", "Typo", "01011990")
    dialog.tabs.setCurrentIndex(1)
    qtbot.keyClicks(dialog.phone, "555-12")
    qtbot.keyClicks(dialog.contacts.rows[0][0], "Sam Typo")
    qtbot.keyClicks(dialog.contacts.rows[0][2], "12")
    dialog.tabs.setCurrentIndex(2)
    qtbot.keyClicks(dialog.diagnoses, "F10.20, NOTACODE")
    save(qtbot, dialog)

    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    assert dialog.created is None
    bad = {w.objectName() for w in dialog.invalid_widgets()}
    assert bad == {"phone", "diagnoses", "contactPhone1"}
    assert dialog.phone.property("invalid") is True
    assert "10-digit" in dialog.phone.toolTip()
    assert "NOTACODE" in dialog.diagnoses.toolTip()
    assert dialog.error.isVisible()
    assert "Phone:" in dialog.error.text() and "Diagnoses:" in dialog.error.text()
    assert dialog.tabs.currentIndex() == 1  # moved to the first field to fix
    assert not dialog.tabs.tabIcon(1).isNull() and not dialog.tabs.tabIcon(2).isNull()
    assert dialog.tabs.tabIcon(0).isNull()
    # Everything typed is still there.
    assert dialog.first_name.text() == "Pat" and dialog.phone.text() == "555-12"
    assert dialog.diagnoses.text() == "F10.20, NOTACODE"
    assert dialog.dob.value() == date(1990, 1, 1)
    assert len(clients.list_census(env.db, env.world.admin)) == before

    # Editing a marked field clears its mark.
    dialog.phone.clear()
    qtbot.keyClicks(dialog.phone, "5551234567")
    assert dialog.phone.property("invalid") is False
    assert dialog.phone.toolTip() == ""

    # A future date of birth typed in the box is refused in plain words as the box is left ...
    dialog.tabs.setCurrentIndex(0)
    dialog.dob.selectAll()
    qtbot.keyClicks(dialog.dob, f"0101{TODAY.year + 1}")
    qtbot.keyClick(dialog.dob, Qt.Key.Key_Tab)
    assert dialog.dob.property("invalid") is True and "future" in dialog.dob.toolTip()
    assert "future" in dialog.age.text()
    # ... and if one reaches the service anyway (clock changed), the field is marked.
    dialog.dob.setMaximumDate(QDate(2100, 12, 31))
    dialog.dob.set_value(TODAY + timedelta(days=10))
    save(qtbot, dialog)
    assert dialog.dob.property("invalid") is True
    assert "future" in dialog.dob.toolTip()
    assert dialog.tabs.currentIndex() == 0

    # Fix everything: it saves.
    dialog.dob.set_value(date(1990, 1, 1))
    dialog.contacts.rows[0][2].clear()
    qtbot.keyClicks(dialog.contacts.rows[0][2], "(555) 222-3333")
    dialog.diagnoses.setText("F10.20, F41.1")
    save(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.error.text()
    assert census_names(env, "Typo") == ["Pat Typo"]


def test_missing_date_of_birth_and_names(qtbot, env, lookup_ids):
    dialog = open_intake(qtbot, env)
    assert dialog.dob.value() is None
    save(qtbot, dialog)
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert {w.objectName() for w in dialog.invalid_widgets()} == {
        "first_name",
        "last_name",
        "dob",
    }
    assert "Date of birth: Enter the date of birth." in dialog.error.text()
    assert dialog.first_name.hasFocus() or dialog.focusWidget() is dialog.first_name


def test_active_client_needs_a_track(qtbot, env, lookup_ids):
    dialog = open_intake(qtbot, env)
    type_basics(qtbot, dialog, "Noah", "Notrack", "05051995")
    dialog.tabs.setCurrentIndex(2)
    choose(dialog.status, "active")
    save(qtbot, dialog)
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert dialog.track.property("invalid") is True
    assert dialog.tabs.currentIndex() == 2


def test_possible_duplicate_is_confirmed_before_saving(qtbot, env, lookup_ids, monkeypatch):
    own = clients.open_chart(env.db, env.world.admin, env.world.client_own).client
    dialog = open_intake(qtbot, env)
    type_basics(qtbot, dialog, "Canery", "Ownclient", "01021990")  # same DOB, similar name
    save(qtbot, dialog)

    questions = [s for s in msgbox.shown if s.icon == "Question"]
    assert len(questions) == 1 and questions[0].title == "Possible duplicate client"
    assert f"MRN {own.mrn}" in questions[0].text and "01/02/1990" in questions[0].text
    assert "Ownclient, Canary" in questions[0].text
    # NON_BLOCKING: confirm() returns its default (No) -> nothing saved, dialog stays open.
    assert dialog.isVisible() and dialog.created is None
    assert "Not saved" in dialog.error.text()
    assert census_names(env, "Ownclient") == ["Canary Ownclient"]

    monkeypatch.setattr(msgbox, "confirm", lambda *a, **k: True)
    save(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.error.text()
    assert sorted(census_names(env, "Ownclient")) == ["Canary Ownclient", "Canery Ownclient"]


def test_emergency_contact_rows_add_and_remove(qtbot, env, lookup_ids):
    dialog = open_intake(qtbot, env)
    dialog.tabs.setCurrentIndex(1)
    rows = dialog.contacts
    assert len(rows.rows) == 1
    qtbot.mouseClick(rows.add_button, Qt.LeftButton)
    qtbot.mouseClick(rows.add_button, Qt.LeftButton)
    assert len(rows.rows) == 3 and not rows.add_button.isEnabled()
    qtbot.keyClicks(rows.rows[1][0], "Second Person")
    qtbot.mouseClick(rows.rows[0][3], Qt.LeftButton)  # remove the first (empty) row
    assert len(rows.rows) == 2 and rows.add_button.isEnabled()
    assert [(i, c.name) for i, c in rows.filled()] == [(0, "Second Person")]


def test_cancel_asks_before_discarding_typed_text(qtbot, env, lookup_ids, monkeypatch):
    empty = open_intake(qtbot, env)
    qtbot.keyClick(empty, Qt.Key_Escape)
    assert not empty.isVisible() and not msgbox.shown  # nothing typed: closes at once

    dialog = open_intake(qtbot, env)
    qtbot.keyClicks(dialog.last_name, "Halfway")
    qtbot.keyClick(dialog, Qt.Key_Escape)
    assert dialog.isVisible()  # confirm() answered No (its default)
    assert msgbox.shown[-1].title == "Discard this intake?"
    monkeypatch.setattr(msgbox, "confirm", lambda *a, **k: True)
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Cancel), Qt.LeftButton)
    assert not dialog.isVisible() and dialog.result() == QDialog.DialogCode.Rejected


def test_keyboard_tab_order_follows_the_form(qtbot, env, lookup_ids):
    dialog = open_intake(qtbot, env)
    dialog.activateWindow()
    qtbot.waitUntil(lambda: dialog.isActiveWindow(), timeout=2000)
    dialog.first_name.setFocus()
    order = []
    for _ in range(7):
        qtbot.keyClick(dialog.focusWidget(), Qt.Key_Tab)
        order.append(dialog.focusWidget().objectName())
    assert order == [
        "middle_name",
        "last_name",
        "preferred_name",
        "pronouns",
        "dob",
        "sex",
        "primary_language",
    ]


# -- staff -----------------------------------------------------------------------------------
def test_staff_dialog_refuses_bad_npi_then_accepts_valid_one(qtbot, env):
    ctx = ctx_for(env, env.world.admin)
    dialog = StaffDialog(ctx)
    qtbot.addWidget(dialog)
    settle()  # its pick list is read on a worker
    dialog.show()
    qtbot.waitExposed(dialog)
    qtbot.keyClicks(dialog.staff_code, "N1")
    qtbot.keyClicks(dialog.first_name, "Nina")
    qtbot.keyClicks(dialog.last_name, "Pi")
    dialog.credentials.setCurrentText("LCSW")
    qtbot.keyClicks(dialog.npi, "1234567890")  # bad check digit
    save(qtbot, dialog)
    assert dialog.isVisible() and dialog.saved is None
    assert dialog.npi.property("invalid") is True
    assert "check digit" in dialog.npi.toolTip()
    assert "NPI:" in dialog.error.text()
    assert dialog.staff_code.text() == "N1" and dialog.first_name.text() == "Nina"

    dialog.npi.clear()
    assert dialog.npi.property("invalid") is False
    qtbot.keyClicks(dialog.npi, VALID_NPI)
    dialog.has_expiry.setChecked(True)
    dialog.expiry.setDate(to_qdate(date(2030, 6, 30)))
    save(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.error.text()
    assert dialog.saved is not None
    assert (dialog.saved.npi, dialog.saved.credentials, dialog.saved.roles) == (
        VALID_NPI,
        "LCSW",
        "therapist",
    )
    assert dialog.saved.license_expiry == date(2030, 6, 30)


def test_supervisee_needs_supervisor_marked(qtbot, env):
    dialog = StaffDialog(ctx_for(env, env.world.admin))
    qtbot.addWidget(dialog)
    settle()  # its pick list is read on a worker
    qtbot.keyClicks(dialog.staff_code, "A7")
    qtbot.keyClicks(dialog.first_name, "Ari")
    qtbot.keyClicks(dialog.last_name, "Associate")
    dialog.supervisee.setChecked(True)
    dialog.role_boxes[Role.THERAPIST].setChecked(False)
    save(qtbot, dialog)
    assert dialog.fields["roles"].property("invalid") is True  # no role chosen
    dialog.role_boxes[Role.THERAPIST].setChecked(True)
    assert dialog.fields["roles"].property("invalid") is False
    save(qtbot, dialog)
    assert dialog.supervisor.property("invalid") is True
    sup = next(s for s in staff.list_staff(env.db, env.world.admin) if s.staff_code == "S1")
    choose(dialog.supervisor, sup.id)
    assert dialog.supervisor.property("invalid") is False
    save(qtbot, dialog)
    assert dialog.saved is not None and dialog.saved.supervisor == "Sue Pervisor"


def test_staff_tab_license_warning_edit_and_stale_edit(qtbot, env):
    ctx = ctx_for(env, env.world.admin)
    soon = staff.create_staff(
        env.db,
        env.world.admin,
        StaffInput("L1", "Lena", "Soon", "LPC", license_expiry=TODAY + timedelta(days=10)),
    )
    tab = StaffTab(ctx)
    qtbot.addWidget(tab)
    tab.refresh()
    settle()
    assert tab.warning.isVisibleTo(tab)
    assert "Lena Soon, LPC: License expires in 10 days" in tab.warning.text()
    row = next(i for i, s in enumerate(tab.model.rows) if s.id == soon.id)
    license_col = [c.header for c in tab.model.columns].index("License expiry")
    index = tab.model.index(row, license_col)
    assert "(expires in 10 days)" in tab.model.data(index)
    assert tab.model.data(index, Qt.ItemDataRole.ForegroundRole).color().name() == style.WARN
    assert tab.model.data(tab.model.index(row, 6)) == "not linked"

    # Edit: the form is filled from the record and saved with its version.
    dialog = StaffDialog(ctx, soon)
    qtbot.addWidget(dialog)
    settle()  # its pick list is read on a worker
    assert dialog.first_name.text() == "Lena" and dialog.has_expiry.isChecked()
    dialog.expiry.setDate(to_qdate(TODAY + timedelta(days=730)))
    save(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.error.text()
    tab.refresh()
    settle()
    assert not tab.warning.isVisibleTo(tab)

    # Someone else saves first: the stale edit is refused, shown, and the dialog closes.
    fresh = next(s for s in staff.list_staff(env.db, env.world.admin) if s.id == soon.id)
    stale = StaffDialog(ctx, fresh)
    qtbot.addWidget(stale)
    settle()  # its pick list is read on a worker
    staff.update_staff(
        env.db,
        env.world.admin,
        fresh.id,
        fresh.version,
        StaffInput("L1", "Lena", "Elsewhere", "LPC", roles="therapist"),
        active=True,
    )
    stale.last_name.setText("Mine")
    save(qtbot, stale)
    assert stale.stale is True and stale.result() == QDialog.DialogCode.Accepted
    assert msgbox.shown[-1].title == "Changed on another workstation"
    tab.refresh()
    settle()
    assert next(s for s in tab.model.rows if s.id == soon.id).last_name == "Elsewhere"


def test_link_user_account(qtbot, env):
    ctx = ctx_for(env, env.world.admin)
    info = staff.create_staff(env.db, env.world.admin, StaffInput("F1", "Frank", "Desk"))
    dialog = LinkUserDialog(ctx, info)
    qtbot.addWidget(dialog)
    settle()  # its pick list is read on a worker
    assert dialog.account.currentData() is None
    choose(dialog.account, env.world.front_desk.user_id)
    save(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.error.text()
    linked = next(s for s in staff.list_staff(env.db, env.world.admin) if s.id == info.id)
    assert linked.username == "frontdesk"
    # Unlinking again.
    again = LinkUserDialog(ctx, linked)
    qtbot.addWidget(again)
    settle()  # its pick list is read on a worker
    assert again.account.currentData() == env.world.front_desk.user_id
    again.account.setCurrentIndex(0)
    save(qtbot, again)
    unlinked = next(s for s in staff.list_staff(env.db, env.world.admin) if s.id == info.id)
    assert unlinked.username == ""


# -- assignments and caseloads ---------------------------------------------------------------
def counts(page: CaseloadPage, staff_id: int) -> tuple[int, int]:
    row = next(r for r in page.staff_model.rows if r.staff_id == staff_id)
    return row.primary, row.total


def assign_with_dialog(qtbot, ctx, client_id, staff_id, start: date) -> AssignDialog:
    dialog = AssignDialog(ctx, client_id, client_label="Casey Caseload")
    qtbot.addWidget(dialog)
    settle()  # the staff list and the history arrive
    choose(dialog.role, "primary_therapist")
    choose(dialog.staff, staff_id)
    dialog.start.setDate(to_qdate(start))
    save(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.error.text()
    return dialog


def test_assign_and_reassign_primary_therapist_changes_caseloads(qtbot, env):
    admin = env.world.admin
    ctx = ctx_for(env, admin)
    first = staff.create_staff(env.db, admin, StaffInput("TA", "Tina", "First", "LPC"))
    second = staff.create_staff(env.db, admin, StaffInput("TB", "Tom", "Second", "LCSW"))
    client = clients.create_client(
        env.db, admin, clients.ClientInput("Casey", "Caseload", date(1980, 2, 3))
    )
    assert client.id is not None
    page = CaseloadPage(ctx)
    qtbot.addWidget(page)
    page.resize(1156, 690)
    page.show()
    page.refresh()
    settle()
    assert counts(page, first.id) == (0, 0) and counts(page, second.id) == (0, 0)

    assign_with_dialog(qtbot, ctx, client.id, first.id, TODAY - timedelta(days=30))
    page.refresh()
    settle()
    assert counts(page, first.id) == (1, 1) and counts(page, second.id) == (0, 0)
    page.select_staff(first.id)
    settle()
    assert [r.mrn for r in page.clients_model.rows] == [client.mrn]
    assert page.heading.text() == "Tina First, LPC: 1 client"

    # The dialog shows who has the role now; the same person again is refused on the field.
    dialog = AssignDialog(ctx, client.id)
    qtbot.addWidget(dialog)
    settle()  # the staff list and the history arrive
    assert "Now: Tina First, LPC" in dialog.current.text()
    assert dialog.history_model.rowCount() == 1
    choose(dialog.staff, first.id)
    save(qtbot, dialog)
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert "already has this client" in dialog.error.text()
    assert dialog.staff.property("invalid") is True

    assign_with_dialog(qtbot, ctx, client.id, second.id, TODAY)
    page.refresh()
    settle()
    assert counts(page, first.id) == (0, 0) and counts(page, second.id) == (1, 1)
    assert page.heading.text() == "Tina First, LPC: 0 clients"  # selection kept
    assert page.empty.isVisibleTo(page)
    page.select_staff(second.id)
    settle()
    assert [r.id for r in page.clients_model.rows] == [client.id]

    history = staff.assignments_for(env.db, admin, client.id)
    assert [(a.staff_id, a.start_date, a.end_date) for a in history] == [
        (second.id, TODAY, None),
        (first.id, TODAY - timedelta(days=30), TODAY - timedelta(days=1)),
    ]
    shown = AssignDialog(ctx, client.id)
    qtbot.addWidget(shown)
    settle()  # the staff list and the history arrive
    marks = [
        shown.history_model.data(shown.history_model.index(r, 4))
        for r in range(shown.history_model.rowCount())
    ]
    assert marks == ["Current", ""]
    assert shown.history_model.data(shown.history_model.index(1, 3)) == (
        f"{TODAY - timedelta(days=1):%m/%d/%Y}"
    )

    with qtbot.waitSignal(page.open_client, timeout=1000) as blocker:
        page.clients_table.doubleClicked.emit(page.clients_model.index(0, 1))
    assert blocker.args == [client.id]


def test_caseload_page_defaults_to_own_caseload(qtbot, env):
    therapist = env.world.therapist  # linked to staff T1, primary therapist of client_own
    page = CaseloadPage(ctx_for(env, therapist))
    qtbot.addWidget(page)
    page.refresh()
    settle()
    assert page.selected_staff() is not None
    assert page.selected_staff().staff_id == therapist.staff_id
    assert [r.id for r in page.clients_model.rows] == [env.world.client_own]
    assert not page.assign_button.isVisibleTo(page)  # therapists cannot reassign


@pytest.mark.qt_log_ignore("This plugin does not support")  # offscreen popups: raise(), grab
def test_date_of_birth_box_blank_age_and_calendar_page(qtbot, env, lookup_ids):
    from PySide6.QtWidgets import QToolButton

    dialog = open_intake(qtbot, env)
    assert dialog.dob.value() is None and dialog.dob.text() == ""
    assert dialog.dob.placeholderText() == "MM/DD/YYYY"
    assert dialog.age.text() == ""
    dialog.dob.setFocus()
    qtbot.keyClicks(dialog.dob, "12311970")
    qtbot.keyClick(dialog.dob, Qt.Key_Tab)
    assert dialog.dob.value() == date(1970, 12, 31) and dialog.dob.text() == "12/31/1970"
    assert dialog.age.text().startswith("Age 5")
    dialog.dob.selectAll()
    qtbot.keyClick(dialog.dob, Qt.Key_Delete)  # clearing it makes it blank again
    qtbot.keyClick(dialog.dob, Qt.Key_Tab)
    assert dialog.dob.value() is None
    # The calendar button opens decades back, not on January 1900.
    button = next(b for b in dialog.dob.findChildren(QToolButton) if b.isVisible())
    qtbot.mouseClick(button, Qt.LeftButton)
    calendar = dialog.dob._popup.calendar
    qtbot.waitUntil(calendar.isVisible, timeout=2000)
    assert calendar.yearShown() == dialog.dob.blank_page.year
    calendar.window().close()


def test_admin_import_dialog_reports_problems_then_imports(qtbot, env, tmp_path):
    from openpyxl import Workbook

    from iopdesk.ui.pages.admin import AdminPage

    page = AdminPage(ctx_for(env, env.world.admin))
    qtbot.addWidget(page)
    bad = tmp_path / "bad.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.title = "Payers"
    ws.append(["payer_id", "name", "billing_mode"])
    ws.append(["MCD", "State Medicaid", "monthly"])
    wb.save(bad)
    check = page.import_file(bad)
    settle()
    assert check.error is not None and page.last_import is None
    assert "Payers!2 billing_mode" in page.import_result.toPlainText()
    assert lookups.list_payers(env.db, env.world.admin) == []  # nothing imported
    good = tmp_path / "good.xlsx"
    ws["C2"] = "per_diem"
    wb.save(good)
    # NON_BLOCKING confirm answers its default (yes) for the import question.
    check = page.import_file(good)
    settle()
    assert check.error is None and page.last_import is not None
    assert page.last_import.done and page.last_import.error is None
    assert "Payers: 1 row (1 new" in page.import_result.toPlainText()
    assert [p.code for p in lookups.list_payers(env.db, env.world.admin)] == ["MCD"]


def test_admin_clinic_details_validate_and_save(qtbot, env):
    from iopdesk.ui.pages.admin import AdminPage

    page = AdminPage(ctx_for(env, env.world.admin))
    qtbot.addWidget(page)
    page.refresh()
    settle()
    assert page.clinic_fields["name"].text() == "Test Clinic"
    page.clinic_fields["billing_npi"].setText("1234567890")  # bad check digit
    page.clinic_fields["office_pos"].setText("office")
    refused = page.save_clinic()
    finish(refused)  # the save runs on a worker
    assert refused.error is not None
    assert page.clinic_fields["billing_npi"].text() == "1234567890"  # what was typed stays
    assert page.clinic_fields["billing_npi"].property("invalid") is True
    assert page.clinic_fields["office_pos"].property("invalid") is True
    assert clinic.get_clinic(env.db).billing_npi == ""  # nothing saved
    page.clinic_fields["billing_npi"].setText("1234567893")
    page.clinic_fields["office_pos"].setText("57")
    page.clinic_fields["phone"].setText("555 010 4400")
    saving = page.save_clinic()
    finish(saving)
    assert saving.error is None
    saved = clinic.get_clinic(env.db)
    assert (saved.billing_npi, saved.office_pos, saved.phone) == (
        "1234567893",
        "57",
        "(555) 010-4400",
    )


def test_intake_describes_diagnoses_from_the_code_set_and_refuses_a_heading(qtbot, env, lookup_ids):
    """Issue 20 item 11 at intake: each typed code is described from ICD-10-CM as it is
    typed; a heading (F10.2) is refused with its billable codes; the stored diagnosis keeps
    the code set's description."""
    dialog = open_intake(qtbot, env)
    type_basics(qtbot, dialog, "Ida", "Coder", "02031980")
    dialog.tabs.setCurrentIndex(2)
    qtbot.keyClicks(dialog.diagnoses, "f1020, F10.2")
    shown = dialog.diagnosis_descriptions.text().splitlines()
    assert shown == [
        "F10.20: Alcohol dependence, uncomplicated",
        "F10.2: not a billable ICD-10-CM code",
    ]
    save(qtbot, dialog)
    assert dialog.result() != QDialog.DialogCode.Accepted and dialog.created is None
    assert "diagnoses" in {w.objectName() for w in dialog.invalid_widgets()}
    assert "F10.2 (Alcohol dependence) is a heading" in dialog.diagnoses.toolTip()
    assert "F10.21 Alcohol dependence, in remission" in dialog.diagnoses.toolTip()
    for _ in range(len(", F10.2")):
        qtbot.keyClick(dialog.diagnoses, Qt.Key.Key_Backspace)
    qtbot.keyClicks(dialog.diagnoses, ", F10.21")
    assert dialog.diagnosis_descriptions.text().splitlines()[1] == (
        "F10.21: Alcohol dependence, in remission"
    )
    save(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.error.text()
    assert dialog.created is not None
    chart = clients.open_chart(env.db, env.world.admin, dialog.created.id or 0)
    assert [(d.icd10_code, d.description) for d in chart.diagnoses] == [
        ("F10.20", "Alcohol dependence, uncomplicated"),
        ("F10.21", "Alcohol dependence, in remission"),
    ]


def test_weekly_hours_dashboard_shows_days_after_status(qtbot, env):
    """Issue 20 item 8 on the dashboard: Required Days and Attended Days right after Status;
    9 hours on 2 of 3 required days is not met. Clicking "<" and ">" walks the weeks."""
    from datetime import time

    from PySide6.QtWidgets import QPushButton

    from iopdesk.models import Attendance, ClinicSession, TrackBlock, TrackEnrollment
    from iopdesk.ui.pages.hours import WeeklyHoursWidget

    monday = TODAY - timedelta(days=TODAY.weekday())
    with env.db.session() as s:
        t = Track(track_code="IOP3", name="Three-day IOP", required_weekly_days=3)
        s.add(t)
        s.flush()
        for wd in (0, 2, 4):
            s.add(TrackBlock(track_id=t.id, weekday=wd, start_time=time(9), end_time=time(12)))
        cid = env.world.client_own
        s.add(TrackEnrollment(client_id=cid, track_id=t.id, start_date=monday - timedelta(7)))
        for day, minutes in ((monday, 270), (monday + timedelta(days=2), 270)):
            cs = ClinicSession(
                kind="group",
                track_id=t.id,
                session_date=day,
                start_time=time(9),
                end_time=time(13, 30),
                status="held",
            )
            s.add(cs)
            s.flush()
            s.add(Attendance(session_id=cs.id, client_id=cid, status="present", minutes=minutes))
    widget = WeeklyHoursWidget(ctx_for(env, env.world.admin))
    qtbot.addWidget(widget)
    widget.resize(1366, 600)
    widget.show()
    widget.refresh()
    settle()
    model = widget.model
    headers = [model.headerData(i, Qt.Orientation.Horizontal) for i in range(model.columnCount())]
    status = headers.index("Status")
    assert headers[status + 1 : status + 3] == ["Required Days", "Attended Days"]
    assert headers[:status] == [
        "MRN",
        "Client",
        "Track",
        "Therapist",
        "Required",
        "Attended",
        "Left",
    ]
    row = next(i for i, r in enumerate(model.rows) if r.client_id == env.world.client_own)

    def cell(column: int) -> str:
        return str(model.index(row, column).data())

    assert (cell(status + 1), cell(status + 2)) == ("3", "2")
    assert cell(status).startswith("not met")
    previous = next(b for b in widget.findChildren(QPushButton) if b.text() == "<")
    qtbot.mouseClick(previous, Qt.MouseButton.LeftButton)  # last week: nothing attended
    settle()
    row = next(i for i, r in enumerate(model.rows) if r.client_id == env.world.client_own)
    assert (cell(status + 1), cell(status + 2)) == ("3", "0")


def test_intake_hours_override_needs_its_last_day(qtbot, env, lookup_ids):
    """Issue 20 item 7 at intake: typed weekly hours are an override with an end date (it was
    permanent); without one the form says so and saves nothing."""
    dialog = open_intake(qtbot, env)
    type_basics(qtbot, dialog, "Ola", "Override", "04051990")
    dialog.tabs.setCurrentIndex(2)
    qtbot.keyClicks(dialog.hours, "6")
    save(qtbot, dialog)
    assert dialog.created is None
    assert "required_hours_until" in {w.objectName() for w in dialog.invalid_widgets()}
    dialog.hours_until.setFocus()
    last_day = TODAY + timedelta(days=13)
    qtbot.keyClicks(dialog.hours_until, f"{last_day:%m/%d/%Y}")
    save(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.error.text()
    assert dialog.created is not None
    chart = clients.open_chart(env.db, env.world.admin, dialog.created.id or 0)
    assert chart.client.required_weekly_hours == 6
    assert chart.client.required_hours_until == last_day
