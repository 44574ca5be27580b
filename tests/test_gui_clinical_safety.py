"""The clinical safety screens with real widgets (offscreen), typing and clicking: the risk
banner in the chart and the note editor, Today's risk list, the C-SSRS and safety plan
dialogs (signed, printed), medications, drug screens, ASAM, the discharge summary's sign and
print, and the hours override."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QCheckBox, QPushButton
from sqlmodel import select

from iopdesk.models import Client
from iopdesk.services import discharge, drugscreens, measures, medications, safety
from iopdesk.ui import msgbox
from iopdesk.ui.pages import safety as ui
from iopdesk.ui.pages.clients import ChartPage
from iopdesk.ui.pages.today import TodayPage
from tests.helpers import ctx_for, pdf_text, settle
from tests.helpers.chart import show_tab
from tests.test_clinical_safety import TODAY, _discharged

pytestmark = [pytest.mark.gui, pytest.mark.sqlite_only]


def click(qtbot, button) -> None:
    if isinstance(button, QCheckBox):  # on the box itself, whatever the widget's width
        pos = QPoint(8, button.height() // 2)
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton, pos=pos)
        return
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    settle()  # a dialog's save (or a tab's button) runs on a worker


def test_banner_today_cssrs_and_safety_plan(qtbot, env, tmp_path, monkeypatch):
    w = env.world
    ctx = ctx_for(env, w.therapist)
    measures.record_measure(env.db, w.therapist, w.client_own, "PHQ-9", TODAY, [1] * 9)
    chart = ChartPage(ctx)
    qtbot.addWidget(chart)
    chart.resize(1366, 768)
    chart.load(w.client_own)
    chart.show()
    settle()
    assert chart.risk_banner.isVisible() and "SUICIDE RISK FLAG" in chart.risk_banner.text()
    tab = chart.safety_tab
    assert tab is not None
    show_tab(chart, tab)
    assert tab.flags_model.rowCount() == 1
    assert "raised" in tab.history.toPlainText()
    # the front desk's chart has no banner and no safety tabs
    fd_chart = ChartPage(ctx_for(env, w.front_desk))
    qtbot.addWidget(fd_chart)
    fd_chart.load(w.client_own)
    settle()
    assert not fd_chart.risk_banner.isVisibleTo(fd_chart) and fd_chart.safety_tab is None
    # the note editor shows it too (and closing the empty editor keeps nothing)
    from iopdesk.ui.pages.notes import NoteEditorDialog

    editor = NoteEditorDialog(ctx, w.client_own, client_label="Ownclient")
    qtbot.addWidget(editor)
    settle()  # the banner is read on a worker
    assert editor.risk_banner.isVisibleTo(editor) and "PHQ-9" in editor.risk_banner.text()
    # Today lists it for the therapist
    today_page = TodayPage(ctx)
    qtbot.addWidget(today_page)
    today_page.refresh()
    settle()
    assert today_page.risk_list.isVisibleTo(today_page)
    assert "Ownclient, Canary" in today_page.risk_list.text()

    # C-SSRS: a moderate answer without disposition is refused in words; then saved
    dialog = ui.CssrsDialog(ctx, w.client_own)
    qtbot.addWidget(dialog)
    click(qtbot, dialog.boxes["suicidal_thoughts"])
    click(qtbot, dialog.boxes["thoughts_with_method"])
    assert dialog.level.text() == "Moderate risk"
    click(qtbot, dialog.ok)
    assert "disposition" in dialog.error.text() and dialog.result_ is None
    qtbot.keyClicks(dialog.disposition, "Safety plan today; seen twice weekly")
    click(qtbot, dialog.ok)
    assert dialog.result_ is not None and dialog.result_.risk_level == "moderate"

    # safety plan: type every step, sign
    new_data = safety.new_plan_data(env.db, w.therapist, w.client_own)  # the tab reads it first
    plan_dialog = ui.SafetyPlanDialog(ctx, w.client_own, new_data=new_data)
    qtbot.addWidget(plan_dialog)
    assert plan_dialog.people["professionals"][0][1].text() == "988"
    click(qtbot, plan_dialog.ok)
    assert "Step 1 is empty" in plan_dialog.error.text()
    for key, words in (
        ("warning_signs", "Not sleeping, isolating"),
        ("internal_coping", "Walk the dog"),
        ("distraction", "Library, cousin Ana"),
        ("environment_safety", "Brother holds my medications"),
        ("reasons_for_living", "My daughter"),
    ):
        qtbot.keyClicks(plan_dialog.texts[key], words)
    name, phone = plan_dialog.people["help_contacts"][0]
    qtbot.keyClicks(name, "Ana (cousin)")
    qtbot.keyClicks(phone, "555-201-3344")
    click(qtbot, plan_dialog.participated)
    click(qtbot, plan_dialog.ok)
    assert plan_dialog.result_ is not None and plan_dialog.result_.status == "signed"
    flag = safety.list_flags(env.db, w.therapist, w.client_own)[0]
    assert not flag.followup_open
    tab.load(w.client_own)
    assert tab.plans_model.rowCount() == 1
    chart.resize(1366, 768)
    chart.tabs.setCurrentWidget(tab)
    chart.grab().save("/tmp/cs/shot-safety-tab.png")
    dialog.resize(1024, 700)
    dialog.grab().save("/tmp/cs/shot-cssrs.png")
    plan_dialog.resize(1024, 700)
    plan_dialog.grab().save("/tmp/cs/shot-safety-plan.png")
    # print
    out = tmp_path / "plan.pdf"
    monkeypatch.setattr(ui, "ask_pdf_path", lambda *a: str(out))
    tab.plans.selectRow(0)
    click(qtbot, tab.print_btn)
    assert "Brother holds my medications" in pdf_text(out)


def test_clear_flag_dialog_needs_a_reason(qtbot, env):
    w = env.world
    ctx = ctx_for(env, w.therapist)
    measures.record_measure(env.db, w.therapist, w.client_own, "PHQ-9", TODAY, [0] * 8 + [2])
    flag = safety.list_flags(env.db, w.therapist, w.client_own)[0]
    dialog = ui.ReasonDialog(
        "Clear suicide-risk flag",
        "Reason for clearing",
        lambda text: safety.clear_flag(env.db, w.therapist, flag.id, flag.version, text),
    )
    qtbot.addWidget(dialog)
    click(qtbot, dialog.ok)
    assert "reason" in dialog.error.text()
    qtbot.keyClicks(dialog.text, "C-SSRS negative; denies ideation; plan reviewed")
    click(qtbot, dialog.ok)
    assert dialog.result_.status == "cleared"
    banner = ui.RiskBanner()
    qtbot.addWidget(banner)
    banner.update_for(ctx, w.client_own)
    settle()  # read on a worker
    assert "cleared; follow-up still open" in banner.text()


def test_medications_tab_add_stop_and_reconcile(qtbot, env):
    w = env.world
    ctx = ctx_for(env, w.therapist)
    dialog = ui.MedicationDialog(ctx, w.client_own)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.name, "Sertraline")
    click(qtbot, dialog.ok)
    assert "dose" in dialog.error.text().lower()
    qtbot.keyClicks(dialog.dose, "50 mg")
    qtbot.keyClicks(dialog.frequency, "once daily")
    click(qtbot, dialog.ok)
    med = dialog.result_
    assert med is not None and med.route == "oral" and med.source == "client report"
    stop = ui.MedicationDialog(ctx, w.client_own, med)
    qtbot.addWidget(stop)
    click(qtbot, stop.stopped)
    click(qtbot, stop.ok)
    assert "reason" in stop.error.text()
    qtbot.keyClicks(stop.stop_reason, "Side effects")
    click(qtbot, stop.ok)
    assert stop.result_.stop_date == date.today()
    recon = ui.ReconcileDialog(ctx, w.client_own)
    qtbot.addWidget(recon)
    recon.occasion.setCurrentIndex(recon.occasion.findData("intake"))
    qtbot.keyClicks(recon.note, "Reviewed with the client and the pharmacy list")
    click(qtbot, recon.ok)
    tab = ui.MedicationsTab(ctx)
    qtbot.addWidget(tab)
    tab.load(w.client_own)
    assert tab.model.rowCount() == 1
    assert "intake by Theo Rapist: No current medications" in tab.recon.toPlainText()


def test_drug_screen_dialog_and_timeline(qtbot, env):
    w = env.world
    ctx = ctx_for(env, w.therapist)
    dialog = ui.DrugScreenDialog(ctx, w.client_own)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.time, "9:30")
    click(qtbot, dialog.observed)
    qtbot.keyClicks(dialog.panel, "12-panel cup")
    click(qtbot, dialog.ok)
    assert "at least one result" in dialog.error.text()
    dialog.results["Fentanyl"].setCurrentText("positive")
    click(qtbot, dialog.all_negative)
    click(qtbot, dialog.ok)
    screen = dialog.result_
    assert screen is not None and screen.observed and screen.any_positive
    assert len(screen.results) == len(drugscreens.COMMON_SUBSTANCES)
    tab = ui.DrugScreensTab(ctx)
    qtbot.addWidget(tab)
    tab.load(w.client_own)
    assert tab.model.rowCount() == 1
    tab.table.selectRow(0)
    click(qtbot, tab.review_btn)
    assert drugscreens.list_screens(env.db, w.therapist, w.client_own)[0].reviewed_by
    tab.resize(1366, 600)
    tab.grab().save("/tmp/cs/shot-drug-screens.png")


def test_asam_dialog_requires_notes_and_shows_in_the_tab(qtbot, env):
    w = env.world
    ctx = ctx_for(env, w.therapist)
    dialog = ui.AsamDialog(ctx, w.client_own)
    qtbot.addWidget(dialog)
    dialog.ratings[4].setValue(3)
    click(qtbot, dialog.ok)
    assert "Dimension 5 is rated 3" in dialog.error.text()
    qtbot.keyClicks(dialog.notes[4], "Daily use until admission; two relapses")
    click(qtbot, dialog.ok)
    assert dialog.result_ is not None and dialog.result_.recommended_level == "2.1"
    tab = ui.AsamTab(ctx)
    qtbot.addWidget(tab)
    tab.load(w.client_own)
    assert "5. Relapse" in tab.detail.toPlainText() and "2.1 Intensive" in tab.detail.toPlainText()
    dialog.resize(1024, 700)
    dialog.grab().save("/tmp/cs/shot-asam.png")


def test_discharge_summary_edit_sign_and_print(qtbot, env, tmp_path, monkeypatch):
    from iopdesk.ui.pages.discharge import ClientDischargeTab, SummaryDialog

    w = env.world
    d = _discharged(env)
    medications.reconcile(env.db, w.therapist, w.client_own, "discharge", TODAY)
    ctx = ctx_for(env, w.therapist)
    tab = ClientDischargeTab(ctx)
    qtbot.addWidget(tab)
    tab.load(w.client_own, "discharged")
    assert "Not signed yet" in tab.summary.toPlainText()
    assert tab.sign_summary_btn.isEnabled()
    dialog = SummaryDialog(ctx, tab.latest)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.summary_edit, "Six weeks of IOP; 40 days sober.")
    click(qtbot, dialog.save_btn)
    settle()  # saved on a worker
    tab.load(w.client_own, "discharged")
    monkeypatch.setattr(msgbox, "confirm", lambda *a, **k: True)
    click(qtbot, tab.sign_summary_btn)
    settle()  # signed, then the tab read again, on workers
    info = discharge.list_discharges(env.db, w.therapist, w.client_own)[0]
    assert info.signed and info.id == d.id
    assert "Signed by Theo Rapist" in tab.summary.toPlainText()
    assert not tab.sign_summary_btn.isEnabled() and not tab.edit_summary_btn.isEnabled()
    assert tab.addendum_btn.isEnabled()
    add = ui.ReasonDialog(
        "Discharge summary addendum",
        "Addendum",
        lambda text: discharge.add_discharge_addendum(env.db, w.therapist, d.id, text),
    )
    qtbot.addWidget(add)
    qtbot.keyClicks(add.text, "Late entry: aftercare appointment confirmed.")
    click(qtbot, add.ok)
    tab.load(w.client_own, "discharged")
    assert "Addendum" in tab.summary.toPlainText()
    out = tmp_path / "summary.pdf"
    monkeypatch.setattr(ui, "ask_pdf_path", lambda *a: str(out))
    click(qtbot, tab.print_summary_btn)
    settle()
    assert "40 days sober" in pdf_text(out) and "aftercare appointment confirmed" in pdf_text(out)


def test_hours_override_dialog(qtbot, env):
    w = env.world
    ctx = ctx_for(env, w.therapist)
    with env.db.session() as s:
        version = s.get(Client, w.client_own).version
    dialog = ui.HoursOverrideDialog(ctx, w.client_own, version)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.hours, "six")
    click(qtbot, dialog.ok)
    assert "number" in dialog.error.text()
    dialog.hours.clear()
    qtbot.keyClicks(dialog.hours, "6")
    dialog.until.setDate(dialog.until.date().addDays(28))
    click(qtbot, dialog.ok)
    assert "reason" in dialog.error.text()
    qtbot.keyClicks(dialog.reason, "Returning to work; step-down trial")
    click(qtbot, dialog.ok)
    assert dialog.result_ is not None
    with env.db.session() as s:
        c = s.exec(select(Client).where(Client.id == w.client_own)).one()
        assert c.required_hours_until == TODAY + timedelta(days=28)
    chart = ChartPage(ctx)
    qtbot.addWidget(chart)
    chart.load(w.client_own)
    settle()
    label = chart.findChild(type(dialog.error), "hoursOverride")
    assert label is not None and "6.00 h a week through" in label.text()


def test_weekly_hours_dashboard_shows_the_override_and_its_end(qtbot, env):
    from decimal import Decimal

    from iopdesk.models import Track, TrackBlock, TrackEnrollment
    from iopdesk.services import overrides
    from iopdesk.ui.pages.hours import WeeklyHoursWidget

    w = env.world
    with env.db.session() as s:
        t = Track(track_code="IOPD", name="IOP", required_weekly_hours=Decimal("9"))
        s.add(t)
        s.flush()
        for wd in (0, 2, 4):
            s.add(TrackBlock(track_id=t.id, weekday=wd, start_time=time(9), end_time=time(12)))
        s.add(
            TrackEnrollment(client_id=w.client_own, track_id=t.id, start_date=TODAY - timedelta(30))
        )
        version = s.get(Client, w.client_own).version
    until = TODAY + timedelta(days=10)
    overrides.set_hours_override(
        env.db, w.therapist, w.client_own, version, Decimal("6"), until, "Step-down trial"
    )
    widget = WeeklyHoursWidget(ctx_for(env, w.supervisor))
    qtbot.addWidget(widget)
    widget.refresh()
    settle()
    row = next(i for i in range(widget.model.rowCount()) if widget.model.row_at(i).mrn == "M000001")
    assert widget.model.index(row, 4).data().endswith("*")
    assert f"6.00 h through {until:%m/%d/%Y}" in widget.override_note.text()
    # a week after the end date: no star, no note, the track's 9 hours
    for _ in range(3):  # three weeks on: past the end date whatever today's weekday
        qtbot.mouseClick(widget.findChildren(QPushButton)[1], Qt.MouseButton.LeftButton)  # ">"
    settle()
    row = next(i for i in range(widget.model.rowCount()) if widget.model.row_at(i).mrn == "M000001")
    assert widget.model.index(row, 4).data() == "9.00"
    assert not widget.override_note.text()


def test_positive_phq9_from_the_plan_tab_shows_the_banner_at_once(qtbot, env):
    w = env.world
    ctx = ctx_for(env, w.therapist)
    chart = ChartPage(ctx)
    qtbot.addWidget(chart)
    chart.load(w.client_own)
    settle()
    assert not chart.risk_banner.isVisibleTo(chart)
    show_tab(chart, chart.plan_tab)  # measures are recorded from the Treatment plan tab
    info = measures.record_measure(env.db, w.therapist, w.client_own, "PHQ-9", TODAY, [0] * 8 + [1])
    chart.plan_tab.after_measure(info)
    assert "A suicide-risk flag is now on the chart" in msgbox.shown[-1].text
    settle()  # the banner is read again on a worker
    assert chart.risk_banner.isVisibleTo(chart) and "PHQ-9 item 9" in chart.risk_banner.text()
    assert chart.safety_tab is not None
    show_tab(chart, chart.safety_tab)
    assert chart.safety_tab.flags_model.rowCount() == 1
