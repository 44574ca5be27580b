"""No service call on the GUI thread from the dialogs of Discharge, Notes and Privacy (issue 18).

Each test opens the dialogs as a user would (the real buttons, typing with keyClicks), saves,
and checks three things: the service functions seen on the GUI thread are only those in
tests.test_gui_thread.ALLOWED or in KEPT below; the save really happened (read back through
the service); a refused save shows its message in the dialog with what was typed kept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLineEdit,
    QPushButton,
    QWidget,
)

from iopdesk.services import aftercare, amendments, consents, discharge, medications, notes, totp
from iopdesk.ui import msgbox
from tests.helpers import main_window, settle
from tests.helpers.chart import show_tab
from tests.test_gui_thread import ALLOWED, gui_thread_calls

pytestmark = [pytest.mark.gui]

# Kept on the GUI thread on purpose, each a single small write whose answer is needed at once
# (the lead measures them at full scale):
KEPT = frozenset(
    {
        # closing a progress-note editor (Close, Esc, signing out, locking, quitting): the
        # window is going away, so the draft is saved before it does (never lose typed work)
        "iopdesk.services.notes.autosave_note",
        # the same for the group-note dialog
        "iopdesk.services.notes.save_group_note",
    }
)


def _gui_calls(on_gui: dict[str, tuple[str, ...]]) -> set[str]:
    return {k for k in on_gui if not k.startswith("(the test itself)")}


def _assert_off_the_gui_thread(on_gui: dict[str, tuple[str, ...]]) -> None:
    called = _gui_calls(on_gui)
    extra = called - ALLOWED - KEPT
    assert not extra, "\n".join(f"{k}: {on_gui[k][:4]}" for k in sorted(extra))


def _on_modal(qtbot: Any, cls: type, act: Callable[[Any], None]) -> None:
    """Run `act(dialog)` once a modal dialog of `cls` is shown (exec() blocks the caller)."""

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, cls) or not dialog.isVisible():
            QTimer.singleShot(10, poll)
            return
        try:
            act(dialog)
        except BaseException:
            import traceback

            traceback.print_exc()
            QDialog.reject(dialog)  # fail the test instead of leaving it waiting on the dialog
            raise

    QTimer.singleShot(0, poll)


def _click(qtbot: Any, button: QWidget) -> None:
    assert button.isEnabled(), button
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _ok(qtbot: Any, dialog: QWidget) -> QPushButton:
    box = dialog.findChild(QDialogButtonBox)
    assert box is not None
    ok = box.button(QDialogButtonBox.StandardButton.Ok)
    _click(qtbot, ok)
    return ok


# -- Discharge --------------------------------------------------------------------------------
def test_discharge_dialog_and_aftercare_editor_save_off_the_gui_thread(
    qtbot, env, monkeypatch, tmp_path
):
    from iopdesk.ui.forms import FormDialog
    from iopdesk.ui.pages import safety as safety_ui
    from iopdesk.ui.pages.discharge import AftercareEditor, DischargeDialog, SummaryDialog
    from tests.test_discharge import admitted_client

    st = admitted_client(env, "Wanda", "Worker")
    therapist = env.world.therapist
    window = main_window(qtbot, env, therapist, size=(1366, 768))
    window.open_chart(st.client_id)
    settle()
    tab = window.chart.discharge_tab
    show_tab(window.chart, tab)
    seen: dict[str, Any] = {}

    def guide(dialog: DischargeDialog) -> None:
        # refused: no reason typed; the message shows in the dialog, on the reason's step
        qtbot.keyClicks(dialog.provider, "Riverbend Outpatient")
        for _ in range(3):
            _click(qtbot, dialog.next)
        _click(qtbot, dialog.finish)
        seen["busy"] = not dialog.finish.isEnabled() and not dialog.back.isEnabled()
        qtbot.waitUntil(lambda: "reason" in dialog.error.text().lower())
        seen["refused_step"] = dialog.pages.currentIndex()
        seen["kept"] = dialog.provider.text()
        qtbot.keyClicks(dialog.reason, "Completed the program.")
        for _ in range(3):
            _click(qtbot, dialog.next)
        _on_modal(qtbot, AftercareEditor, edit_plan)
        _click(qtbot, dialog.finish)

    def edit_plan(editor: AftercareEditor) -> None:
        qtbot.keyClicks(editor.texts["coping_strategies"], "Call my sponsor")
        _click(qtbot, editor.save_btn)
        seen["editor_busy"] = not editor.save_btn.isEnabled()
        qtbot.waitUntil(lambda: editor.error.text() == "Saved.")
        _click(qtbot, editor.finalize_btn)  # the confirmation answers Yes (its default)
        qtbot.waitUntil(lambda: editor.finalize_btn.isEnabled())
        # refused (saved, not signed): the reason on the editor's line, the typing kept
        seen["editor_refusal"] = editor.error.text()
        seen["editor_kept"] = editor.texts["coping_strategies"].toPlainText()
        groups = editor.lists["groups"][0]
        editor.tabs.setCurrentWidget(groups)
        _click(qtbot, groups.add_btn)
        groups.table.setFocus()
        qtbot.keyClick(groups.table, Qt.Key.Key_F2)  # edit the new row's first cell
        qtbot.waitUntil(lambda: isinstance(QApplication.focusWidget(), QLineEdit))
        cell = QApplication.focusWidget()
        qtbot.keyClicks(cell, "Westside AA")
        qtbot.keyClick(cell, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: groups.table.item(0, 0).text() == "Westside AA")
        _click(qtbot, editor.finalize_btn)
        qtbot.waitUntil(
            lambda: editor.finalize_btn.isEnabled() or editor.status.text() == "Finalized"
        )
        assert editor.status.text() == "Finalized", editor.error.text()
        seen["plan_id"] = editor.plan_id
        editor.accept()

    with gui_thread_calls(env.db) as (on_gui, on_workers):
        _on_modal(qtbot, DischargeDialog, guide)
        _click(qtbot, tab.discharge_btn)
        qtbot.waitUntil(lambda: "plan_id" in seen, timeout=30_000)
        settle()
        qtbot.waitUntil(lambda: tab.latest is not None and tab.edit_summary_btn.isEnabled())

        # correct the unsigned summary
        def correct(dialog: SummaryDialog) -> None:
            qtbot.keyClicks(dialog.summary_edit, " Forty days sober.")
            _click(qtbot, dialog.save_btn)

        _on_modal(qtbot, SummaryDialog, correct)
        _click(qtbot, tab.edit_summary_btn)
        settle()
        qtbot.waitUntil(lambda: "Forty days sober" in tab.summary.toPlainText())
        # sign it
        monkeypatch.setattr(msgbox, "confirm", lambda *a, **k: True)
        _click(qtbot, tab.sign_summary_btn)
        settle()  # refused: the medications are not reconciled; said in a box
        assert "Reconcile the medication list" in msgbox.shown[-1].text
        assert "Not signed yet" in tab.summary.toPlainText()
        medications.reconcile(env.db, therapist, st.client_id, "discharge", date.today())
        _click(qtbot, tab.sign_summary_btn)
        settle()
        assert "Signed by" in tab.summary.toPlainText(), msgbox.shown[-1:]

        # an addendum: refused while empty (said in the dialog), then saved
        def addendum(dialog: FormDialog) -> None:
            _ok(qtbot, dialog)
            qtbot.waitUntil(lambda: not dialog.error.isHidden())
            seen["addendum_refusal"] = dialog.error.text()
            (box,) = [w for w in dialog.findChildren(QWidget) if w.objectName() == "reasonText"]
            qtbot.keyClicks(box, "Aftercare appointment confirmed.")
            _ok(qtbot, dialog)

        _on_modal(qtbot, FormDialog, addendum)
        _click(qtbot, tab.addendum_btn)
        settle()
        # print it
        out = tmp_path / "summary.pdf"
        monkeypatch.setattr(safety_ui, "ask_pdf_path", lambda *a: str(out))
        _click(qtbot, tab.print_summary_btn)
        settle()
    assert on_workers
    _assert_off_the_gui_thread(on_gui)
    assert not _gui_calls(on_gui) & KEPT  # no note editor was closed here
    assert seen["busy"] and seen["editor_busy"]  # no second click while saving
    assert seen["refused_step"] == 0 and seen["kept"] == "Riverbend Outpatient"
    assert "addendum" in seen["addendum_refusal"].lower()
    # what was saved, read back through the services
    (info,) = discharge.list_discharges(env.db, therapist, st.client_id)
    assert info.reason == "Completed the program." and info.receiving_provider.startswith(
        "Riverbend"
    )
    assert info.signed and "Forty days sober." in info.summary
    assert [a.text for a in info.addenda] == ["Aftercare appointment confirmed."]
    plan = aftercare.get_plan(env.db, therapist, seen["plan_id"])
    assert plan.finalized and plan.data.coping_strategies == "Call my sponsor"
    assert [g.name for g in plan.data.groups] == ["Westside AA"]
    assert "appointment or a support group" in seen["editor_refusal"]
    assert seen["editor_kept"] == "Call my sponsor"
    assert out.stat().st_size > 1000


def test_clinic_lists_add_is_refused_in_the_dialog_and_saves_off_the_gui_thread(qtbot, env):
    from iopdesk.ui.pages.discharge import ClinicListsDialog

    window = main_window(qtbot, env, env.world.admin)
    window.go("Discharge")
    settle()
    page = window.pages["Discharge"]
    seen: dict[str, Any] = {}

    def add(dialog: ClinicListsDialog) -> None:
        qtbot.waitUntil(lambda: dialog.last_op is not None and dialog.last_op.done)  # read
        before = dialog.model.rowCount()
        qtbot.keyClicks(dialog.field_edits[0][1], "Tuesdays")  # a detail without a name
        _click(qtbot, dialog.add_btn)
        seen["busy"] = not dialog.add_btn.isEnabled()
        qtbot.waitUntil(lambda: bool(dialog.error.text()))
        seen["refusal"] = dialog.error.text()
        seen["kept"] = dialog.field_edits[0][1].text()
        qtbot.keyClicks(dialog.label, "Westside AA")
        _click(qtbot, dialog.add_btn)
        qtbot.waitUntil(lambda: dialog.model.rowCount() == before + 1)
        dialog.accept()

    with gui_thread_calls(env.db) as (on_gui, _workers):
        _on_modal(qtbot, ClinicListsDialog, add)
        _click(qtbot, page.lists_btn)
        settle()
    _assert_off_the_gui_thread(on_gui)
    assert seen["busy"] and seen["refusal"] and seen["kept"] == "Tuesdays"
    entries = aftercare.list_clinic_items(env.db, env.world.admin, "local_meetings")
    assert any(e.label == "Westside AA" and e.data.get("day") == "Tuesdays" for e in entries)


# -- Notes ------------------------------------------------------------------------------------
def test_note_editor_opens_saves_and_signs_off_the_gui_thread(qtbot, env):
    from iopdesk.ui.pages.notes import NoteEditorDialog
    from tests.test_notes import _individual

    w = env.world
    sid = _individual(env, minutes=45)
    window = main_window(qtbot, env, w.therapist)
    window.go("Notes")
    settle()
    page = window.pages["Notes"]
    page.tabs.setCurrentIndex(2)
    row = next(i for i, r in enumerate(page.missing_model.rows) if r.session_id == sid)
    page.missing_table.selectRow(row)
    seen: dict[str, Any] = {}

    def write(dialog: NoteEditorDialog) -> None:
        seen["minutes"] = dialog.minutes.value()  # read on a worker before it opened
        for name, box in dialog.section_boxes.items():
            qtbot.keyClicks(box, f"{name} typed.")
        qtbot.mouseClick(
            dialog.suicidal, Qt.MouseButton.LeftButton, pos=QPoint(8, dialog.suicidal.height() // 2)
        )
        _click(qtbot, dialog.sign_btn)  # refused: ideation needs a safety plan
        seen["busy"] = not dialog.sign_btn.isEnabled() and not dialog.save_btn.isEnabled()
        qtbot.waitUntil(lambda: dialog.error.isVisible())
        seen["refusal"] = dialog.error.text()
        seen["kept"] = {n: b.toPlainText() for n, b in dialog.section_boxes.items()}
        qtbot.keyClicks(dialog.safety_plan, "Call 988; sister checks in.")
        _click(qtbot, dialog.sign_btn)  # saved, asked (Yes), signed: the editor closes
        seen["dialog"] = dialog

    with gui_thread_calls(env.db) as (on_gui, on_workers):
        _on_modal(qtbot, NoteEditorDialog, write)
        _click(qtbot, page.write_btn)
        qtbot.waitUntil(lambda: "dialog" in seen and not seen["dialog"].isVisible(), timeout=30_000)
        settle()
    assert on_workers
    _assert_off_the_gui_thread(on_gui)
    assert not _gui_calls(on_gui) & KEPT  # signed: closing had nothing left to save
    assert seen["minutes"] == 45 and seen["busy"]
    assert "safety plan" in seen["refusal"].lower()
    assert all(t.endswith(" typed.") for t in seen["kept"].values())
    dialog = seen["dialog"]
    content = notes.read_note(env.db, w.therapist, dialog.note_id)
    assert content.header.status == "signed" and content.risk_suicidal
    assert content.safety_plan == "Call 988; sister checks in."
    assert all(content.sections[n] == f"{n} typed." for n in dialog.section_boxes)
    assert page.tabs.tabText(2) == "Sessions without a note (0)"


def test_closing_a_note_editor_saves_on_the_gui_thread_only_what_is_kept(qtbot, env):
    """The one save left on the GUI thread: closing an editor with unsaved typing (KEPT)."""
    from iopdesk.ui.pages.notes import NoteEditorDialog

    w = env.world
    window = main_window(qtbot, env, w.therapist)
    window.open_chart(w.client_own)
    settle()
    show_tab(window.chart, "Notes")
    actions = window.chart.note_actions
    seen: dict[str, Any] = {}

    def type_then_close(dialog: NoteEditorDialog) -> None:
        qtbot.keyClicks(dialog.section_boxes["Data"], "Half a thought")
        dialog.autosave_timer.timeout.emit()  # the 15-second autosave: on a worker
        qtbot.waitUntil(lambda: "autosaved" in dialog.status.text())
        qtbot.keyClicks(dialog.section_boxes["Data"], " and the rest")
        seen["dialog"] = dialog
        dialog.close()  # the window goes away: saved now (KEPT)

    with gui_thread_calls(env.db) as (on_gui, _workers):
        _on_modal(qtbot, NoteEditorDialog, type_then_close)
        _click(qtbot, actions.new_btn)
        qtbot.waitUntil(lambda: "dialog" in seen and not seen["dialog"].isVisible(), timeout=30_000)
        settle()
    _assert_off_the_gui_thread(on_gui)
    assert _gui_calls(on_gui) - ALLOWED == {"iopdesk.services.notes.autosave_note"}
    content = notes.read_note(env.db, w.therapist, seen["dialog"].note_id)
    assert content.sections["Data"] == "Half a thought and the rest"


def test_group_note_and_chart_note_actions_off_the_gui_thread(qtbot, env, tmp_path):
    from iopdesk.ui.pages.notes import GroupNoteDialog
    from tests.test_notes import _group

    w = env.world
    sid, present, _absent = _group(env, n_present=2)
    window = main_window(qtbot, env, w.therapist)
    window.go("Notes")
    settle()
    page = window.pages["Notes"]
    page.tabs.setCurrentIndex(2)
    row = next(i for i, r in enumerate(page.missing_model.rows) if r.session_id == sid)
    page.missing_table.selectRow(row)
    seen: dict[str, Any] = {}

    def write(dialog: GroupNoteDialog) -> None:
        dialog.topic.clear()
        qtbot.keyClicks(dialog.topic, "Coping with cravings")
        for i, r in enumerate(dialog.rows):
            qtbot.keyClicks(r.participation, f"Shared {i}.")
            qtbot.keyClicks(r.response, f"Receptive {i}.")
            qtbot.keyClicks(r.plan, "Continue group.")
        _click(qtbot, dialog.save_btn)
        seen["busy"] = not dialog.save_btn.isEnabled()
        qtbot.waitUntil(lambda: "Draft saved" in dialog.status.text())
        seen["dialog"] = dialog
        _click(qtbot, dialog.sign_btn)  # refused: no group narrative yet
        qtbot.waitUntil(lambda: not dialog.error.isHidden())
        seen["refusal"] = dialog.error.text()
        seen["kept"] = [r.participation.toPlainText() for r in dialog.rows]
        qtbot.keyClicks(dialog.narrative, "Group reviewed high-risk situations.")
        _click(qtbot, dialog.sign_btn)
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=20_000)  # signed: it closes

    with gui_thread_calls(env.db) as (on_gui, _workers):
        _on_modal(qtbot, GroupNoteDialog, write)
        _click(qtbot, page.write_btn)
        qtbot.waitUntil(lambda: "dialog" in seen and not seen["dialog"].isVisible(), timeout=30_000)
        settle()
        # the chart: an addendum to the signed entry, then print it
        window.open_chart(present[0])
        settle()
        chart = window.chart
        show_tab(chart, "Notes")
        chart.notes_table.selectRow(0)
        actions = chart.note_actions
        actions.ask_text = lambda _title: "Late entry: left early."
        _click(qtbot, actions.addendum_btn)
        assert not actions.addendum_btn.isEnabled()  # no second click while it saves
        settle()
        out = tmp_path / "note.pdf"
        from iopdesk.services.disclosures import INTERNAL

        printed = actions.print_note(out, INTERNAL)
        settle()
    _assert_off_the_gui_thread(on_gui)
    assert seen["busy"] and seen["dialog"].signed
    assert "narrative" in seen["refusal"] and seen["kept"] == ["Shared 0.", "Shared 1."]
    headers = notes.list_note_headers(env.db, w.therapist, present[0])
    entry = next(h for h in headers if h.group_note_id == seen["dialog"].group_note_id)
    assert entry.status == "signed"
    content = notes.read_note(env.db, w.therapist, entry.id)
    assert [a.text for a in content.addenda] == ["Late entry: left early."]
    assert printed is not None and printed.result == out and out.stat().st_size > 1000


# -- Privacy ----------------------------------------------------------------------------------
def test_consent_and_amendment_dialogs_save_off_the_gui_thread(qtbot, env):
    from iopdesk.ui.pages.privacy import AmendmentRequestDialog, ConsentDialog

    w = env.world
    window = main_window(qtbot, env, w.therapist)
    window.open_chart(w.client_own)
    settle()
    tab = window.chart.privacy_tab
    show_tab(window.chart, tab)
    seen: dict[str, Any] = {}

    def consent(dialog: ConsentDialog) -> None:
        qtbot.waitUntil(lambda: dialog.recipient.last_op is None or dialog.recipient.last_op.done)
        qtbot.keyClicks(dialog.recipient.combo.lineEdit(), "Acme Health Plan")
        dialog.purpose.lineEdit().clear()
        qtbot.keyClicks(dialog.purpose.lineEdit(), "payment")
        ok = _ok(qtbot, dialog)  # refused: no expiry date or event
        seen["busy"] = not ok.isEnabled()
        qtbot.waitUntil(lambda: not dialog.error.isHidden())
        seen["refusal"] = dialog.error.text()
        seen["kept"] = (dialog.recipient.text(), dialog.purpose.currentText())
        qtbot.keyClicks(dialog.expiry_event, "end of treatment")
        qtbot.mouseClick(
            dialog.categories[0],
            Qt.MouseButton.LeftButton,
            pos=QPoint(8, dialog.categories[0].height() // 2),
        )
        _ok(qtbot, dialog)

    def amendment(dialog: AmendmentRequestDialog) -> None:
        qtbot.waitUntil(lambda: dialog.load_op.done)
        target = dialog.target
        (city,) = [i for i in range(target.count()) if target.itemData(i) == ("field", "city")]
        target.setCurrentIndex(city)
        _ok(qtbot, dialog)  # refused: no change typed
        qtbot.waitUntil(lambda: not dialog.error.isHidden())
        seen["amend_refusal"] = dialog.error.text()
        qtbot.keyClicks(dialog.change, "The city is Springfield")
        _ok(qtbot, dialog)

    with gui_thread_calls(env.db) as (on_gui, on_workers):
        _on_modal(qtbot, ConsentDialog, consent)
        _click(qtbot, tab.add_consent_btn)
        settle()
        qtbot.waitUntil(lambda: tab.consent_model.rowCount() == 1)
        tab.tabs.setCurrentIndex(2)
        _on_modal(qtbot, AmendmentRequestDialog, amendment)
        _click(qtbot, tab.request_btn)
        settle()
        qtbot.waitUntil(lambda: tab.amendment_model.rowCount() == 1)
        # accept it from the tab: the decision dialog saves on a worker too
        tab.amendment_table.selectRow(0)
        tab.decide(True, "City corrected to Springfield.")
        settle()
    assert on_workers
    _assert_off_the_gui_thread(on_gui)
    assert seen["busy"] and "expir" in seen["refusal"].lower()
    assert seen["kept"] == ("Acme Health Plan", "payment")
    assert seen["amend_refusal"]
    (c,) = consents.list_consents(env.db, w.therapist, w.client_own)
    assert c.recipient.startswith("Acme Health Plan") and c.expiry_event == "end of treatment"
    (a,) = amendments.list_amendments(env.db, w.therapist, w.client_own)
    assert a.status == "accepted" and a.requested_change == "The city is Springfield"
    assert tab.amendment_model.rows[0].status == "accepted"


def test_break_glass_and_account_steps_off_the_gui_thread(qtbot, env):
    from iopdesk.services import breakglass
    from iopdesk.ui.pages.privacy import BreakGlassDialog

    w = env.world
    breakglass.set_designated(env.db, w.admin, w.therapist.user_id, True)
    window = main_window(qtbot, env, w.therapist)
    window.open_chart(w.client_other)  # not on this therapist's caseload
    settle()
    chart = window.chart
    seen: dict[str, Any] = {}

    def ask(dialog: BreakGlassDialog) -> None:
        qtbot.keyClicks(dialog.reason, "short")
        _ok(qtbot, dialog)  # refused: at least 10 characters
        qtbot.waitUntil(lambda: not dialog.error.isHidden())
        seen["refusal"] = dialog.error.text()
        seen["kept"] = dialog.reason.toPlainText()
        qtbot.keyClicks(dialog.reason, ": client in crisis, therapist away")
        _ok(qtbot, dialog)

    with gui_thread_calls(env.db) as (on_gui, _workers):
        _on_modal(qtbot, BreakGlassDialog, ask)
        _click(qtbot, chart.break_glass_btn)
        settle()
        account = window.account_btn
        account.new_codes()
        assert not account.isEnabled()  # no second click while it runs
        settle()
    _assert_off_the_gui_thread(on_gui)
    assert seen["refusal"] and seen["kept"] == "short"
    (access,) = breakglass.list_accesses(env.db, w.admin)
    assert access.reason == "short: client in crisis, therapist away"
    # two-factor is off for this user: refused in a box, nothing changed
    assert msgbox.shown[-1].icon == "Warning" or msgbox.shown[-1].title == "Cannot continue"
    assert not totp.status(env.db, w.therapist).enabled


def test_privacy_tab_buttons_off_the_gui_thread(qtbot, env, tmp_path):
    from iopdesk.services.consents import ConsentInput

    w = env.world
    consents.add_consent(
        env.db, w.front_desk, w.client_own,
        ConsentInput(recipient_name="Acme Health Plan", purpose="payment",
                     expiry_event="end of treatment", info_categories=("attendance",),
                     signed_date=date.today()),
    )  # fmt: skip
    window = main_window(qtbot, env, w.front_desk)
    window.open_chart(w.client_own)
    settle()
    tab = window.chart.privacy_tab
    show_tab(window.chart, tab)
    with gui_thread_calls(env.db) as (on_gui, _workers):
        tab.consent_table.selectRow(0)
        tab.print_form(str(tmp_path / "form.pdf"))
        assert not tab.print_btn.isEnabled()
        settle()
        tab.consent_table.selectRow(0)
        tab.attach_form(str(tmp_path / "form.pdf"))
        settle()
        tab.consent_table.selectRow(0)
        tab.view_form()
        settle()
        qtbot.addWidget(tab.form_viewer)
        tab.form_viewer.close()
        tab.consent_table.selectRow(0)
        _click(qtbot, tab.revoke_btn)  # the confirmation answers its default (Yes)
        settle()
        tab.print_accounting(str(tmp_path / "acc.pdf"))
        settle()
    _assert_off_the_gui_thread(on_gui)
    (c,) = consents.list_consents(env.db, w.front_desk, w.client_own)
    assert c.status == "revoked" and c.form_filename == "form.pdf"
    assert tab.consent_model.rows[0].status == "revoked"
    assert (tmp_path / "acc.pdf").stat().st_size > 1000
