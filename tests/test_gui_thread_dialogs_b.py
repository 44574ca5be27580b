"""No service call on the GUI thread when a dialog saves (issue 18): the dialogs of the chart's
clinical tabs, the schedule, intake, staff, billing set-up and Admin, opened as a user opens
them, typed into and saved with their real buttons.

The recorder of tests/test_gui_thread.py notes every SQL statement sent from the GUI thread
and the service function that sent it. Each test asserts that only ALLOWED (measured under
10 ms) and KEPT (must stay synchronous, reason beside it) reached the GUI thread, that the
save really happened (read back through the services), and that a refused save shows its
message in the dialog with what was typed still there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QPushButton, QWidget

from iopdesk.services import clients, medications, payers, plans, safety, schedule, staff
from iopdesk.services.staff import StaffInput
from iopdesk.ui import msgbox
from tests.helpers import ctx_for, finish, settle
from tests.test_gui_thread import ALLOWED, gui_thread_calls

pytestmark = [pytest.mark.gui]

# Must stay on the GUI thread; the lead measures them at full scale. Only drafts.keep can be
# reached from the dialogs tested here; the others are the start-up paths (ui/boot.py,
# ui/app.py) that run before the main window exists, listed so they are measured too.
KEPT = frozenset(
    {
        # Signing out, locking and closing keep typed work before the window goes: the window
        # waits for that answer anyway, and a worker could finish after the database closed.
        "iopdesk.services.drafts.keep",
        # Read once as the database opens behind the sign-in window (which database, which
        # clinic): nothing else is on screen to stall.
        "iopdesk.services.clinic.is_initialized",
        "iopdesk.services.clinic.get_clinic",
        # An administrator's first sign-in on an older database: the recovery key is shown
        # once, before the main window opens.
        "iopdesk.services.recovery.has_recovery_key",
        "iopdesk.services.recovery.ensure_recovery_key",
        # The closing backup, after the main window closed (the start-up one runs in the
        # background once the window is up).
        "iopdesk.services.backup.auto_backup",
    }
)


def _off_gui(on_gui: dict[str, tuple[str, ...]]) -> None:
    called = {k for k in on_gui if not k.startswith("(the test itself)")}
    assert called <= ALLOWED | KEPT, "\n".join(
        f"{k}: {on_gui[k][:4]}" for k in sorted(called - ALLOWED - KEPT)
    )


def _click(qtbot: Any, button: QWidget) -> None:
    if isinstance(button, QCheckBox):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton, pos=QPoint(8, button.height() // 2))
        return
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _ok(qtbot: Any, dialog: Any) -> None:
    """Click the dialog's OK/save button and let its save (on a worker) deliver."""
    button = getattr(dialog, "ok", None)
    if not isinstance(button, QPushButton):
        button = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert button.isEnabled(), "the dialog's pick lists never arrived"
    _click(qtbot, button)
    settle()


def _open(qtbot: Any, make: Callable[[], Any]) -> Any:
    dialog = make()
    qtbot.addWidget(dialog)
    dialog.show()
    settle()  # what it shows is read on a worker
    return dialog


def _accepted(dialog: QDialog) -> bool:
    return dialog.result() == QDialog.DialogCode.Accepted


# -- the chart's clinical dialogs (pages/safety.py, plan.py, caseload.py, billing_setup.py) -------
@pytest.mark.sqlite_only
def test_clinical_dialogs_save_off_the_gui_thread(qtbot: Any, env: Any) -> None:
    from iopdesk.ui.pages import safety as ui
    from iopdesk.ui.pages.billing_setup import AuthDialog
    from iopdesk.ui.pages.caseload import AssignDialog
    from iopdesk.ui.pages.plan import MeasureDialog, TreatmentPlanTab

    w = env.world
    ctx = ctx_for(env, w.therapist)
    with gui_thread_calls(env.db) as (on_gui, on_workers):
        # C-SSRS: a moderate answer without a disposition is refused in the dialog
        cssrs = _open(qtbot, lambda: ui.CssrsDialog(ctx, w.client_own))
        _click(qtbot, cssrs.boxes["suicidal_thoughts"])
        _click(qtbot, cssrs.boxes["thoughts_with_method"])
        qtbot.keyClicks(cssrs.note, "Passive thoughts this week")
        _ok(qtbot, cssrs)
        assert "disposition" in cssrs.error.text() and cssrs.isVisible()
        assert cssrs.note.toPlainText() == "Passive thoughts this week"  # nothing typed lost
        qtbot.keyClicks(cssrs.disposition, "Safety plan today")
        _ok(qtbot, cssrs)
        assert _accepted(cssrs) and cssrs.result_.risk_level == "moderate"

        # a medication: no dose is refused, then saved
        med = _open(qtbot, lambda: ui.MedicationDialog(ctx, w.client_own))
        qtbot.keyClicks(med.name, "Sertraline")
        _ok(qtbot, med)
        assert "dose" in med.error.text().lower() and med.name.text() == "Sertraline"
        qtbot.keyClicks(med.dose, "50 mg")
        qtbot.keyClicks(med.frequency, "daily")
        _ok(qtbot, med)
        assert _accepted(med)

        # a reason dialog (raise a flag) and the hours override (read before it opens)
        flag = _open(
            qtbot,
            lambda: ui.ReasonDialog(
                "Raise suicide-risk flag",
                "Reason",
                lambda text: safety.raise_flag(env.db, w.therapist, w.client_own, text),
            ),
        )
        qtbot.keyClicks(flag.text, "Disclosed a plan in group")
        _ok(qtbot, flag)
        assert _accepted(flag)

        # the care team: the same person twice is refused beside the field
        assign = _open(qtbot, lambda: AssignDialog(ctx_for(env, w.admin), w.client_own))
        assert "Now:" in assign.current.text()  # the history arrived from its worker
        t1 = w.therapist.staff_id
        assign.staff.setCurrentIndex(assign.staff.findData(t1))
        _ok(qtbot, assign)
        assert "already has this client" in assign.error.text()
        assert assign.staff.property("invalid") is True and assign.staff.currentData() == t1

        # an authorization: missing dates and units are refused, then saved
        billing_ctx = ctx_for(env, w.billing)
        payer = payers.save_payer(
            env.db, w.admin, payers.PayerInput("ACME", "Acme Health", "per_service", False, True)
        )
        auth = _open(qtbot, lambda: AuthDialog(billing_ctx, w.client_own, None, None))
        assert auth.payer.findData(payer.id) >= 0  # the payer list arrived from its worker
        auth.payer.setCurrentIndex(auth.payer.findData(payer.id))
        qtbot.keyClicks(auth.number, "PA-77")
        qtbot.keyClicks(auth.code, "90853")
        _ok(qtbot, auth)
        assert "Units:" in auth.error.text() and auth.number.text() == "PA-77"
        auth.start.set_value(date.today())
        auth.end.set_value(date.today() + timedelta(days=30))
        auth.units.setValue(6)
        _ok(qtbot, auth)
        assert _accepted(auth), auth.error.text()

        # the treatment plan tab: New plan, a problem, a PHQ-9
        tab = TreatmentPlanTab(ctx)
        qtbot.addWidget(tab)
        tab.show()
        tab.client_id = w.client_own
        finish(tab._reload())
        _click(qtbot, tab.new_btn)
        settle()
        assert tab.plan is not None and tab.plan.status == "draft"
        problem = _open(qtbot, lambda: tab.item_dialog("problem", tab.plan.id))
        qtbot.keyClicks(problem.description, "Alcohol use disorder")
        _ok(qtbot, problem)
        assert _accepted(problem) and problem.saved_id is not None
        measure = _open(qtbot, lambda: MeasureDialog(ctx, w.client_own, "GAD-7"))
        measure.set_answers([1, 1, 1, 1, 1, 1, 1])
        _ok(qtbot, measure)
        assert _accepted(measure) and measure.result_info.total == 7
    _off_gui(on_gui)
    assert on_workers
    # the saves happened (read back through the services)
    assert [s.risk_level for s in safety.list_cssrs(env.db, w.therapist, w.client_own)] == [
        "moderate"
    ]
    meds = medications.chart_medications(env.db, w.therapist, w.client_own)[0]
    assert [m.name for m in meds] == ["Sertraline"]
    assert any(f.status == "open" for f in safety.list_flags(env.db, w.therapist, w.client_own))
    (saved_auth,) = payers.list_authorizations(env.db, w.billing, w.client_own)
    assert (saved_auth.auth_number, saved_auth.units) == ("PA-77", 6)
    plan = plans.get_plan(env.db, w.therapist, tab.plan.id)
    assert [p.description for p in plan.problems] == ["Alcohol use disorder"]


# -- the schedule's dialogs (pages/schedule/*.py) ----------------------------------------------
def test_schedule_dialogs_save_off_the_gui_thread(qtbot: Any, env: Any) -> None:
    from iopdesk.ui.pages.schedule import SchedulePage

    w = env.world
    tina = staff.create_staff(
        env.db, w.admin, StaffInput("T9", "Tina", "Yazzie", credentials="LCSW", roles="therapist")
    )
    day = date.today() + timedelta(days=14)
    with gui_thread_calls(env.db) as (on_gui, on_workers):
        page = SchedulePage(ctx_for(env, w.front_desk))
        qtbot.addWidget(page)
        page.resize(1156, 690)
        page.show()
        page.refresh()
        settle()
        # close the clinic that day (the preview of the day is read on a worker)
        close = page.close_clinic_day(day)
        settle()
        assert "No sessions are scheduled" in close.preview.text()
        qtbot.keyClicks(close.reason, "Staff training")
        monkey_confirm = msgbox.confirm
        msgbox.confirm = lambda *a, **k: True  # type: ignore[assignment]
        try:
            _ok(qtbot, close)
        finally:
            msgbox.confirm = monkey_confirm  # type: ignore[assignment]
        assert _accepted(close), close.error.text()
        # booking on the closed day is refused in the dialog; what was typed stays
        book = page.book_appointment(day)
        settle()
        book.client.lineEdit().setText("Ownclient")  # typing would pop up the completer
        book.therapist.setCurrentIndex(book.therapist.findData(tina.id))
        qtbot.keyClicks(book.topic, "Safety plan review")
        _ok(qtbot, book)
        assert book.isVisible() and not _accepted(book)
        assert "closed" in book.error.text().lower()
        assert book.topic.text() == "Safety plan review"
        # another day: booked
        book.date.setDate(book.date.date().addDays(1))
        _ok(qtbot, book)
        assert _accepted(book) and book.booked is not None
    _off_gui(on_gui)
    assert on_workers
    booked = schedule.list_sessions(env.db, w.admin, day, day + timedelta(days=1))
    assert [(s.date, s.topic) for s in booked if s.kind != "group"] == [
        (day + timedelta(days=1), "Safety plan review")
    ]
    assert [c.reason for c in schedule.list_closures(env.db, w.admin, day, day)] == [
        "Staff training"
    ]


# -- intake, staff, payers, Admin (pages/intake.py, staff.py, billing_setup.py, admin.py) -----
def test_admin_and_intake_dialogs_save_off_the_gui_thread(qtbot: Any, env: Any) -> None:
    from iopdesk.ui.pages.admin import AddUserDialog, AdminPage
    from iopdesk.ui.pages.billing_setup import PayerDialog
    from iopdesk.ui.pages.intake import IntakeDialog, intake_choices
    from iopdesk.ui.pages.staff import StaffDialog

    w = env.world
    ctx = ctx_for(env, w.admin)
    choices = intake_choices(ctx)  # the main window reads them on a worker before the form
    with gui_thread_calls(env.db) as (on_gui, on_workers):
        # intake: the same name and date of birth asks (No, the default): not saved
        intake = _open(qtbot, lambda: IntakeDialog(ctx, None, choices))
        qtbot.keyClicks(intake.first_name, "Canary")
        qtbot.keyClicks(intake.last_name, "Ownclient")
        intake.dob.setFocus()
        qtbot.keyClicks(intake.dob, "01/02/1990")
        _ok(qtbot, intake)
        assert "Not saved" in intake.error.text() and intake.created is None
        assert intake.first_name.text() == "Canary"  # nothing typed is lost
        intake.first_name.clear()
        qtbot.keyClicks(intake.first_name, "Cara")
        intake.last_name.clear()
        qtbot.keyClicks(intake.last_name, "Newperson")
        _ok(qtbot, intake)
        assert _accepted(intake) and intake.created is not None, intake.error.text()

        # a staff member whose code is taken: refused beside the field, then saved
        person = _open(qtbot, lambda: StaffDialog(ctx))
        qtbot.keyClicks(person.staff_code, "T1")
        qtbot.keyClicks(person.first_name, "Nadia")
        qtbot.keyClicks(person.last_name, "Newhire")
        _ok(qtbot, person)
        assert not _accepted(person) and person.error.text()
        assert person.first_name.text() == "Nadia"
        person.staff_code.clear()
        qtbot.keyClicks(person.staff_code, "N1")
        _ok(qtbot, person)
        assert _accepted(person), person.error.text()

        # a payer: a code already used is refused on its field
        payer = _open(qtbot, lambda: PayerDialog(ctx_for(env, w.billing), None, None))
        qtbot.keyClicks(payer.code, "MCD")
        qtbot.keyClicks(payer.name, "Medicaid")
        _ok(qtbot, payer)
        assert _accepted(payer), payer.error.text()
        again = _open(qtbot, lambda: PayerDialog(ctx_for(env, w.billing), None, None))
        qtbot.keyClicks(again.code, "MCD")
        qtbot.keyClicks(again.name, "Medicaid again")
        _ok(qtbot, again)
        assert "already used" in again.error.text() and again.name.text() == "Medicaid again"

        # a user whose name is taken: refused in the dialog, then added
        user = _open(qtbot, lambda: AddUserDialog(ctx))
        qtbot.keyClicks(user.username, "therapist")
        qtbot.keyClicks(user.full_name, "Second Theo")
        qtbot.keyClicks(user.password, "a-long-password-1")
        _click(qtbot, user.role_boxes[next(iter(user.role_boxes))])
        _ok(qtbot, user)
        assert user.error.text() and user.full_name.text() == "Second Theo"
        user.username.clear()
        qtbot.keyClicks(user.username, "theo2")
        _ok(qtbot, user)
        assert _accepted(user), user.error.text()

        # Admin > Clinic: a bad NPI marks the field, the typed text stays; then saved
        admin = AdminPage(ctx)
        qtbot.addWidget(admin)
        admin.refresh()
        settle()
        npi = admin.clinic_fields["billing_npi"]
        qtbot.keyClicks(npi, "1234567890")
        _click(qtbot, admin.clinic_save_btn)
        settle()
        assert npi.property("invalid") is True and npi.text() == "1234567890"
        npi.clear()
        qtbot.keyClicks(npi, "1234567893")
        _click(qtbot, admin.clinic_save_btn)
        settle()
        assert msgbox.shown[-1].title == "Clinic details saved"
    _off_gui(on_gui)
    assert on_workers
    from iopdesk.services import auth, clinic

    assert clients.list_census(env.db, w.admin, search="Newperson")[0].first_name == "Cara"
    assert any(s.staff_code == "N1" for s in staff.list_staff(env.db, w.admin, False))
    assert [p.payer_code for p in payers.list_payers(env.db, w.admin)] == ["MCD"]
    assert any(u.username == "theo2" for u in auth.list_users(env.db, w.admin))
    assert clinic.get_clinic(env.db).billing_npi == "1234567893"


# -- the sign-in sheet (pages/attendance.py) -----------------------------------------------------
@pytest.mark.sqlite_only
def test_sign_in_sheet_saves_off_the_gui_thread(qtbot: Any, env: Any) -> None:
    from iopdesk.services import attendance
    from iopdesk.ui.pages.attendance import AttendancePage
    from tests.helpers import tonight_group

    session_id, _ids = tonight_group(env)
    with gui_thread_calls(env.db) as (on_gui, on_workers):
        page = AttendancePage(ctx_for(env, env.world.front_desk))
        qtbot.addWidget(page)
        page.resize(1200, 700)
        page.show()
        page.refresh()
        settle()
        page.open_session(session_id)
        settle()
        table = page.panel.table
        table.setCurrentIndex(page.panel.model.index(0, 2))
        qtbot.keyClick(table, Qt.Key.Key_L)  # late, without minutes: refused
        _click(qtbot, page.panel.save_btn)
        settle()
        assert "minutes" in msgbox.shown[-1].text.lower()
        assert page.panel.model.rows[0].status == "late"  # the mark stays as typed
        table.setCurrentIndex(page.panel.model.index(0, 2))
        qtbot.keyClick(table, Qt.Key.Key_P)
        _click(qtbot, page.panel.save_btn)
        settle()
        assert page.panel.status_line.text().startswith("Saved")
    _off_gui(on_gui)
    assert on_workers
    sheet = attendance.sign_in_sheet(env.db, env.world.admin, session_id)
    assert sheet.rows[0].status == "present"
