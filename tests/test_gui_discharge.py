"""The Discharge screens with real widgets (offscreen): guided discharge through the dialog,
editing and finalizing the aftercare plan, printing the packet, the work list and the chart tab."""

from __future__ import annotations

import pytest
from pypdf import PdfReader
from PySide6.QtWidgets import QDialog
from sqlmodel import select

from iopdesk.models import AftercarePlan, Client, ClinicSession
from iopdesk.services import aftercare
from iopdesk.ui.pages import discharge as page_mod
from iopdesk.ui.pages.discharge import (
    AftercareEditor,
    ClientDischargeTab,
    DischargeDialog,
    DischargePage,
    PrintDialog,
    parse_time,
)
from tests.helpers import ctx_for, finish, settle
from tests.test_discharge import LAST, admitted_client

pytestmark = [pytest.mark.gui, pytest.mark.sqlite_only]


def test_guided_discharge_edit_finalize_and_print(qtbot, env, tmp_path):
    st = admitted_client(env, "Łukasz", "Żółkowski")
    ctx = ctx_for(env, env.world.therapist)
    dialog = DischargeDialog(ctx, st.client_id)
    qtbot.addWidget(dialog)
    assert len(dialog.goal_edits) == 2
    # step 1: a missing reason is refused in plain words and nothing changes
    dialog.date.setDate(page_mod._qdate(LAST))
    dialog.go(3)
    assert dialog.finish.isVisibleTo(dialog) and not dialog.next.isVisibleTo(dialog)
    assert "1 booked session" not in dialog.review.text()
    finish(dialog.submit())
    assert dialog.result() != QDialog.DialogCode.Accepted and dialog.result_ is None
    assert "reason" in dialog.error.text() and dialog.pages.currentIndex() == 0
    dialog.reason.setPlainText("Completed the program.")
    dialog.goal_edits[0][1].setPlainText("Sober 40 days.")
    dialog.goal_edits[1][1].setPlainText("Working again.")
    dialog.summary.setPlainText("Good engagement throughout.")
    dialog.level.setCurrentText("OP")
    dialog.provider.setText("Riverbend Outpatient")
    dialog.go(3)
    assert "Progress entered for 2 of 2 plan goals" in dialog.review.text()
    finish(dialog.submit())
    assert dialog.result() == QDialog.DialogCode.Accepted
    result = dialog.result_
    assert result is not None and result.sessions_cancelled == 1
    with env.db.session() as s:
        assert s.get(Client, st.client_id).status == "discharged"
        assert s.get(ClinicSession, st.future_individual).status == "cancelled"

    # the aftercare editor: add rows, save, finalize (sign), print
    editor = AftercareEditor(ctx, result.plan_id)
    qtbot.addWidget(editor)
    assert editor.lists["crisis"][0].table.rowCount() == 3  # the shipped defaults
    appts = editor.lists["appointments"][0]
    appts.add_item(None)
    for col, text in enumerate(
        ("Dr. Okafor", "Psychiatry", "12/03/2026", "2:30 pm", "44 Elm St", "(555) 201-3344")
    ):
        appts.table.item(0, col).setText(text)
    meds = editor.lists["medications"][0]
    meds.add_item(None)
    meds.table.item(0, 0).setText("Naltrexone")
    meds.table.item(0, 1).setText("50 mg")
    meds.add_item(None)  # an empty row left blank is ignored
    editor.texts["coping_strategies"].setPlainText("Call my sponsor")
    finish(editor.copy_goals())
    finish(editor.copy_goals())  # twice: nothing is duplicated
    assert editor.texts["client_goals"].toPlainText().count("Stay sober") == 1
    assert "Rebuild routines" in editor.texts["client_goals"].toPlainText()
    finish(editor.save())
    assert editor.error.text() == "Saved."
    view = aftercare.get_plan(env.db, env.world.therapist, result.plan_id)
    assert view.data.appointments[0].appointment_time == parse_time("2:30 PM")
    assert [m.name for m in view.data.medications] == ["Naltrexone"]
    assert view.data.coping_strategies == "Call my sponsor"
    # a bad date is named by tab, row and column
    appts.table.item(0, 2).setText("13/45/2026")
    assert editor.save() is None  # refused before saving
    assert "Appointments, row 1, Date" in editor.error.text()
    appts.table.item(0, 2).setText("12/03/2026")
    finish(editor.finalize())
    assert editor.status.text() == "Finalized"
    assert not editor.save_btn.isEnabled() and editor.reopen_btn.isVisibleTo(editor)
    assert appts.table.editTriggers() == appts.table.EditTrigger.NoEditTriggers

    # print from the front desk: the client's own copy
    fd = ctx_for(env, env.world.front_desk)
    printer = PrintDialog(fd, aftercare.print_cover(env.db, env.world.front_desk, result.plan_id))
    qtbot.addWidget(printer)
    out = tmp_path / "packet.pdf"
    printer.path.setText(str(out))
    printer.do_print()
    finish(printer.last_op)
    assert printer.result() == QDialog.DialogCode.Accepted, printer.error.text()
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(str(out)).pages)
    assert "Łukasz Żółkowski" in text and "Naltrexone" in text and "Dr. Okafor" in text
    # a wrong file name is shown in the dialog, not as a crash
    bad = PrintDialog(fd, aftercare.print_cover(env.db, env.world.front_desk, result.plan_id))
    qtbot.addWidget(bad)
    bad.path.setText(str(tmp_path / "packet.txt"))
    bad.do_print()
    finish(bad.last_op)
    assert ".pdf" in bad.error.text()


def test_editor_is_read_only_for_others_and_closed_to_the_front_desk(qtbot, env):
    """Minimum necessary (issue 16): the plan's content is clinical, so the front desk gets a
    plain explanation instead of the editor; an administrator reads it without editing."""
    from iopdesk.errors import PermissionDenied

    st = admitted_client(env)
    plan_id = aftercare.create_plan(env.db, env.world.therapist, st.client_id)
    with pytest.raises(PermissionDenied, match="clinical"):
        AftercareEditor(ctx_for(env, env.world.front_desk), plan_id)
    editor = AftercareEditor(ctx_for(env, env.world.admin), plan_id)
    qtbot.addWidget(editor)
    assert not editor.save_btn.isVisibleTo(editor)
    assert not editor.finalize_btn.isVisibleTo(editor)
    assert editor.texts["triggers"].isReadOnly()


def test_page_lists_and_chart_tab(qtbot, env):
    st = admitted_client(env)
    ctx = ctx_for(env, env.world.supervisor)
    dialog = DischargeDialog(ctx, st.client_id)
    qtbot.addWidget(dialog)
    dialog.reason.setPlainText("Moved away.")
    dialog.type.setCurrentIndex(dialog.type.findData("administrative"))
    dialog.date.setDate(page_mod._qdate(LAST))
    finish(dialog.submit())
    assert dialog.result() == QDialog.DialogCode.Accepted
    page = DischargePage(ctx_for(env, env.world.front_desk))
    qtbot.addWidget(page)
    page.refresh()
    settle()
    assert page.tabs.tabText(1) == "Recently discharged (1)"
    assert not page.discharge_btn.isVisibleTo(page)  # the front desk does not discharge
    assert page.models["discharged"].rows[0].plan_status == "draft"
    tab = ClientDischargeTab(ctx)
    qtbot.addWidget(tab)
    tab.load(st.client_id, "discharged")
    assert tab.plans_model.rowCount() == 1
    assert "Administrative" in tab.summary.toPlainText()
    assert "Moved away." in tab.summary.toPlainText()
    assert not tab.discharge_btn.isEnabled()
    with env.db.session() as s:
        assert len(s.exec(select(AftercarePlan)).all()) == 1


def test_saved_packet_goes_to_a_printer_page_by_page(qtbot, tmp_path):
    from datetime import date

    from PySide6.QtPrintSupport import QPrinter

    from iopdesk.reports import aftercare as writer

    packet = writer.Packet(
        clinic_name="Clinic",
        client_name="Ελένη Παπαδοπούλου",
        dob=date(1980, 1, 1),
        mrn="M9",
        medications=tuple(writer.Medication(f"Med {i}") for i in range(60)),
    )
    pdf = tmp_path / "packet.pdf"
    pages = writer.write_pdf(packet, pdf)
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)  # a file stands in for the printer
    printed = tmp_path / "printed.pdf"
    printer.setOutputFileName(str(printed))
    assert page_mod.render_to_printer(pdf, printer) == pages >= 2
    assert len(PdfReader(str(printed)).pages) == pages
