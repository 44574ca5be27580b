"""The Notes screen, the note editor and the group-note dialog (real widgets, offscreen)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt

from iopdesk.services import clinic, notes
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.notes import GroupNoteDialog, NoteEditorDialog, NotesPage
from tests.helpers import finish, settle
from tests.helpers.chart import show_tab
from tests.test_notes import _group, _individual, _today

pytestmark = [pytest.mark.gui, pytest.mark.sqlite_only]


def _page(qtbot, env, actor) -> NotesPage:
    page = NotesPage(AppContext(env.db, actor, clinic.get_clinic(env.db)))
    qtbot.addWidget(page)
    page.resize(1200, 700)
    page.show()
    page.refresh()
    settle()
    return page


def click(qtbot, box) -> None:
    """Click a check box on its indicator (a stretched box's centre is empty space)."""
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


def _row(model, predicate) -> int:
    return next(i for i, r in enumerate(model.rows) if predicate(r))


def test_write_and_sign_progress_note_through_the_editor(qtbot, env):
    w = env.world
    sid = _individual(env, minutes=50)
    page = _page(qtbot, env, w.therapist)
    assert page.tabs.tabText(0) == "My drafts (0)"
    assert page.tabs.tabText(2) == "Sessions without a note (1)"
    assert not page.tabs.isTabVisible(1)  # therapists do not co-sign
    row = _row(page.missing_model, lambda r: r.session_id == sid)
    page.missing_table.selectRow(row)
    dialog = page.dialog_for(page.missing_model.row_at(row))
    qtbot.addWidget(dialog)
    dialog.show()
    assert isinstance(dialog, NoteEditorDialog)
    assert dialog.minutes.value() == 50  # prefilled from attendance
    # switch the format with the keyboard: sections follow
    dialog.format.setFocus()
    dialog.format.setCurrentIndex(dialog.format.findData("BIRP"))
    assert list(dialog.section_boxes) == ["Behavior", "Intervention", "Response", "Plan"]
    for name, text in (
        ("Behavior", "Restless, then settled."),
        ("Intervention", "MI: reflective listening."),
        ("Response", "Named a reason to stay sober."),
        ("Plan", "Meet next week."),
    ):
        qtbot.keyClicks(dialog.section_boxes[name], text)
    click(qtbot, dialog.modality_boxes["Motivational Interviewing"])
    click(qtbot, dialog.suicidal)
    assert dialog.suicidal.isChecked()
    qtbot.mouseClick(dialog.sign_btn, Qt.MouseButton.LeftButton)
    settle()
    assert not dialog.signed and dialog.error.isVisible()
    assert "safety plan" in dialog.error.text().lower()
    qtbot.keyClicks(dialog.safety_plan, "Call 988; sister checks in tonight.")
    qtbot.mouseClick(dialog.sign_btn, Qt.MouseButton.LeftButton)
    settle()  # saved, asked, then signed: each step on a worker
    assert dialog.signed
    content = notes.read_note(env.db, w.therapist, dialog.note_id)
    assert content.header.status == "signed" and content.header.format == "BIRP"
    assert content.sections["Response"] == "Named a reason to stay sober."
    assert content.modalities == ["Motivational Interviewing"]
    assert content.risk_suicidal and content.service_minutes == 50
    page.refresh()
    settle()
    assert page.tabs.tabText(2) == "Sessions without a note (0)"
    assert page.tabs.tabText(0) == "My drafts (0)"


def test_autosave_keeps_a_draft_and_closing_saves(qtbot, env):
    w = env.world
    page = _page(qtbot, env, w.therapist)
    dialog = NoteEditorDialog(page.ctx, w.client_own, client_label="Ownclient", parent=page)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.autosave_timer.isActive() and 10_000 <= dialog.autosave_timer.interval() <= 30_000
    qtbot.keyClicks(dialog.section_boxes["Data"], "Half a thought")
    dialog.autosave_timer.timeout.emit()  # what the timer does every 15 seconds
    finish(dialog.saving)
    assert dialog.note_id is not None and "autosaved" in dialog.status.text()
    qtbot.keyClicks(dialog.section_boxes["Data"], " and the rest")
    dialog.close()  # closing saves what was typed since
    content = notes.read_note(env.db, w.therapist, dialog.note_id)
    assert content.sections["Data"] == "Half a thought and the rest"
    page.refresh()
    settle()
    assert page.tabs.tabText(0) == "My drafts (1)"
    # reopening the draft from the queue shows what was typed
    page.drafts_table.selectRow(0)
    again = page.dialog_for(page.drafts_model.row_at(0))
    qtbot.addWidget(again)
    assert isinstance(again, NoteEditorDialog)
    assert again.section_boxes["Data"].toPlainText() == "Half a thought and the rest"


def test_group_note_for_six_clients_with_keyboard_and_mouse(qtbot, env):
    w = env.world
    sid, present, absent = _group(env, n_present=6)
    page = _page(qtbot, env, w.therapist)
    row = _row(page.missing_model, lambda r: r.session_id == sid)
    assert page.missing_model.row_at(row).detail == "group"
    dialog = page.dialog_for(page.missing_model.row_at(row))
    qtbot.addWidget(dialog)
    dialog.show()
    assert isinstance(dialog, GroupNoteDialog)
    dialog.activateWindow()
    assert len(dialog.rows) == 6  # attending clients only
    assert {r.member.client_id for r in dialog.rows} == set(present)
    assert absent not in [r.member.client_id for r in dialog.rows]
    dialog.topic.clear()
    qtbot.keyClicks(dialog.topic, "Coping with cravings")
    qtbot.keyClicks(dialog.interventions, "Urge surfing; relapse-prevention worksheet")
    click(qtbot, dialog.modality_boxes["Relapse prevention"])
    qtbot.keyClicks(dialog.narrative, "Group reviewed high-risk situations.")
    for i, r in enumerate(dialog.rows):
        # Tab moves between fields inside the row, as in any form
        r.participation.setFocus()
        qtbot.keyClicks(r.participation, "Participated actively.")
        qtbot.keyClick(r.participation, Qt.Key.Key_Tab)
        assert dialog.focusWidget() is r.response
        qtbot.keyClicks(r.response, "Receptive to feedback." if i < 2 else f"Named skill {i}.")
        qtbot.keyClicks(r.plan, "Continue group.")
    qtbot.mouseClick(dialog.save_btn, Qt.MouseButton.LeftButton)
    finish(dialog.saving)
    # the first two entries are identical: a visible warning names both clients
    assert dialog.warning_label.isVisible()
    assert dialog.warning_label.text().count("identical") == 1
    # make the second one individual, then sign
    dialog.rows[1].participation.clear()
    qtbot.keyClicks(dialog.rows[1].participation, "Quiet; shared once about sleep.")
    qtbot.mouseClick(dialog.sign_btn, Qt.MouseButton.LeftButton)
    settle()
    assert dialog.signed and dialog.warnings == []
    for r in dialog.rows:
        headers = notes.list_note_headers(env.db, w.therapist, r.member.client_id)
        entry = next(h for h in headers if h.group_note_id == dialog.group_note_id)
        assert entry.status == "signed" and entry.format == "group"
    assert notes.list_note_headers(env.db, w.admin, absent) == []
    page.refresh()
    settle()
    assert page.tabs.tabText(2) == "Sessions without a note (0)"


def test_supervisor_cosign_queue_and_chart_actions(qtbot, env, tmp_path: Path):
    from tests.test_notes import _draft, _supervisee

    w = env.world
    assoc = _supervisee(env)
    for _ in range(2):
        saved = notes.create_note(env.db, assoc.actor, _draft(w, _today(env.db)))
        notes.sign_note(env.db, assoc.actor, saved.id, saved.version)
    page = _page(qtbot, env, w.supervisor)
    assert page.tabs.isTabVisible(1)
    assert page.tabs.tabText(1) == "Awaiting my co-signature (2)"
    page.cosign_table.selectRow(0)
    page._preview_cosign()
    settle()
    assert "Awaiting co-signature" in page.cosign_view.toPlainText()
    page.cosign_table.selectAll()  # e.g. every entry of one group note at once
    qtbot.mouseClick(page.cosign_btn, Qt.MouseButton.LeftButton)
    settle()
    assert page.tabs.tabText(1) == "Awaiting my co-signature (0)"
    assert notes.read_note(env.db, w.supervisor, saved.id).header.state == "co-signed"

    from iopdesk.ui.pages.clients import ChartPage

    chart = ChartPage(page.ctx)
    qtbot.addWidget(chart)
    chart.load(w.client_own)
    show_tab(chart, "Notes")
    row = _row(chart.notes_model, lambda h: h.id == saved.id)
    assert chart.notes_model.row_at(row).state_label == "Co-signed"
    chart.notes_table.selectRow(row)
    actions = chart.note_actions
    assert actions.isVisibleTo(chart.notes_tab)
    out = finish(actions.print_note(tmp_path / "note.pdf"))
    assert out is not None and out.exists() and out.stat().st_size > 1000
    actions.ask_text = lambda _title: "Supervisor addendum: reviewed with associate."
    actions.add_addendum()
    settle()
    chart.notes_table.selectRow(_row(chart.notes_model, lambda h: h.id == saved.id))
    chart._show_note(chart.notes_table.currentIndex())
    settle()
    assert "Supervisor addendum" in chart.note_view.toPlainText()


def test_chart_new_note_offers_held_sessions(qtbot, env):
    from PySide6.QtCore import QTimer

    from iopdesk.ui.pages.clients import ChartPage

    w = env.world
    sid = _individual(env, minutes=40)
    chart = ChartPage(AppContext(env.db, w.therapist, clinic.get_clinic(env.db)))
    qtbot.addWidget(chart)
    chart.load(w.client_own)
    show_tab(chart, "Notes")
    actions = chart.note_actions
    offered: list[int | None] = []
    seen: dict[str, object] = {}
    actions.choose_session = lambda sessions: (
        offered.extend(s.session_id for s in sessions),
        sessions[0].session_id,
    )[1]

    def write() -> None:
        dialog = actions.dialog
        seen["minutes"] = dialog.minutes.value()
        for name, box in dialog.section_boxes.items():
            box.setPlainText(f"{name} written in the chart")
        seen["dialog"] = dialog
        qtbot.mouseClick(dialog.sign_btn, Qt.MouseButton.LeftButton)

    def opened() -> None:  # the sessions and the note are read on workers first
        if actions.dialog is None or not actions.dialog.isVisible():
            QTimer.singleShot(10, opened)
            return
        write()

    QTimer.singleShot(0, opened)
    actions.new_note()
    # saved, asked, then signed on workers: the editor closes itself
    qtbot.waitUntil(lambda: "dialog" in seen and not seen["dialog"].isVisible(), timeout=30_000)
    seen["signed"] = seen.pop("dialog").signed
    settle()  # the list is read again on a worker
    assert offered == [sid]
    assert seen == {"minutes": 40, "signed": True}
    header = next(h for h in chart.notes_model.rows if h.session_id == sid)
    assert header.status == "signed"
    # front desk sees the list but none of the note actions
    fd_chart = ChartPage(AppContext(env.db, w.front_desk, clinic.get_clinic(env.db)))
    qtbot.addWidget(fd_chart)
    fd_chart.load(w.client_own)
    show_tab(fd_chart, "Notes")
    assert not fd_chart.note_actions.isVisibleTo(fd_chart.notes_tab)
