"""Issue 19: a clinic day without surprises. Each test types and clicks into the real widgets as
a front-desk worker, therapist or administrator would."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QPoint, Qt
from PySide6.QtWidgets import QLineEdit, QTableView

from iopdesk.models import ClinicSession, Track
from iopdesk.services import attendance, clients, clinic
from iopdesk.services.clients import ClientInput
from iopdesk.ui import msgbox
from tests.helpers import ctx_for, settle, tonight_group
from tests.helpers.chart import show_tab

pytestmark = [pytest.mark.gui, pytest.mark.sqlite_only]


def click_cell(qtbot, table: QTableView, row: int, column: int) -> None:
    rect = table.visualRect(table.model().index(row, column))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def type_into_cell(qtbot, table: QTableView, row: int, column: int, text: str) -> None:
    """Click the cell, press F2 to edit as a user does, select what is there, type, Enter."""
    click_cell(qtbot, table, row, column)
    qtbot.keyClick(table, Qt.Key.Key_F2)
    editors = [e for e in table.findChildren(QLineEdit) if e.isVisible()]
    assert len(editors) == 1
    editor = editors[0]
    qtbot.keyClick(editor, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not shiboken6.isValid(editor) or not editor.isVisible())
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


# --- 1. attendance minutes follow the times --------------------------------------------------


@pytest.fixture
def group(env):
    return tonight_group(env, clients=2)


def test_editing_a_saved_rows_times_recomputes_the_minutes(qtbot, env, group):
    from iopdesk.ui.pages.attendance import AttendancePage

    session_id, _ids = group
    page = AttendancePage(ctx_for(env, env.world.front_desk))
    qtbot.addWidget(page)
    page.resize(1200, 700)
    page.show()
    page.refresh()
    settle()
    page.open_session(session_id)
    settle()
    table = page.panel.table
    # Both present, saved: 180 minutes each.
    click_cell(qtbot, table, 0, 2)
    qtbot.keyClick(table, Qt.Key.Key_P)
    qtbot.keyClick(table, Qt.Key.Key_P)
    qtbot.keyClick(table, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    settle()  # the save runs on a worker
    saved = attendance.sign_in_sheet(env.db, env.world.admin, session_id)
    got = {r.last: r.minutes for r in saved.rows}
    assert got == {"Alpha": 180, "Bravo": 180}
    # Then the front desk corrects the saved rows: Ann came late at 00:40, Ben left at 02:00.
    click_cell(qtbot, table, 0, 2)
    qtbot.keyClick(table, Qt.Key.Key_L)
    qtbot.keyClick(table, Qt.Key.Key_E)
    type_into_cell(qtbot, table, 0, 3, "00:40")
    type_into_cell(qtbot, table, 1, 4, "0200")
    qtbot.waitUntil(lambda: page.panel.model.rows[1].departure == "0200")
    # The minutes column shows what will be stored before saving.
    model = page.panel.model
    assert model.data(model.index(0, 5), Qt.ItemDataRole.DisplayRole) == "140"
    assert model.data(model.index(1, 5), Qt.ItemDataRole.DisplayRole) == "120"
    qtbot.mouseClick(page.panel.save_btn, Qt.MouseButton.LeftButton)
    settle()  # the save runs on a worker
    sheet = attendance.sign_in_sheet(env.db, env.world.admin, session_id)
    got2 = {r.last: (r.status, r.minutes) for r in sheet.rows}
    assert got2 == {"Alpha": ("late", 140), "Bravo": ("left_early", 120)}
    # Editing the saved late time again follows the new time too.
    type_into_cell(qtbot, table, 0, 3, "01:00")
    qtbot.mouseClick(page.panel.save_btn, Qt.MouseButton.LeftButton)
    settle()  # the save runs on a worker
    sheet = attendance.sign_in_sheet(env.db, env.world.admin, session_id)
    assert {r.last: r.minutes for r in sheet.rows}["Alpha"] == 120


def test_late_and_left_early_times_must_lie_inside_the_session(qtbot, env, group):
    from iopdesk.ui.pages.attendance import AttendancePage

    session_id, _ids = group
    page = AttendancePage(ctx_for(env, env.world.front_desk))
    qtbot.addWidget(page)
    page.resize(1200, 700)
    page.show()
    page.refresh()
    settle()
    page.open_session(session_id)
    settle()
    table = page.panel.table
    click_cell(qtbot, table, 0, 2)
    qtbot.keyClick(table, Qt.Key.Key_L)
    qtbot.keyClick(table, Qt.Key.Key_E)
    type_into_cell(qtbot, table, 0, 3, "00:00")  # "late" at the start time
    type_into_cell(qtbot, table, 1, 4, "03:30")  # "left early" after the end
    qtbot.mouseClick(page.panel.save_btn, Qt.MouseButton.LeftButton)
    settle()  # the save runs on a worker
    assert msgbox.shown and "after the session starts" in msgbox.shown[-1].text
    assert attendance.sign_in_sheet(env.db, env.world.admin, session_id).recorded == 0
    type_into_cell(qtbot, table, 0, 3, "00:15")
    qtbot.mouseClick(page.panel.save_btn, Qt.MouseButton.LeftButton)
    settle()  # the save runs on a worker
    assert "before the session ends" in msgbox.shown[-1].text
    type_into_cell(qtbot, table, 1, 4, "02:45")
    qtbot.mouseClick(page.panel.save_btn, Qt.MouseButton.LeftButton)
    settle()  # the save runs on a worker
    sheet = attendance.sign_in_sheet(env.db, env.world.admin, session_id)
    assert {r.last: r.minutes for r in sheet.rows} == {"Alpha": 165, "Bravo": 165}


def test_typed_minutes_that_disagree_with_the_times_are_refused():
    entry = attendance.AttendanceEntry(0, "late", 180, time(9, 40), time(12))
    values, errors = attendance.resolve_entry(entry, time(9), time(12))
    assert values == {} and "does not match the times" in errors["rows.0.minutes"]
    ok, _ = attendance.resolve_entry(
        attendance.AttendanceEntry(0, "late", None, time(9, 40), time(12)), time(9), time(12)
    )
    assert ok["minutes"] == 140


# --- 2. one date box that reads dates as people type them -----------------------------------


def open_intake(qtbot, env):
    from iopdesk.ui.pages.intake import IntakeDialog

    dialog = IntakeDialog(ctx_for(env, env.world.front_desk))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def retype(qtbot, edit, text: str) -> None:
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Tab)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("3/15/1988", date(1988, 3, 15)),
        ("03/15/1988", date(1988, 3, 15)),
        ("03151988", date(1988, 3, 15)),
        ("3-15-88", date(1988, 3, 15)),
        ("031588", date(1988, 3, 15)),
        ("3.15.1988", date(1988, 3, 15)),
        ("1988-03-15", date(1988, 3, 15)),
        # A two-digit year of birth is never in the future: this year's "12/31/YY" is 19YY
        # unless that day has passed.
        (f"1/2/{date.today().year % 100 + 1:02d}", date(date.today().year - 99, 1, 2)),
    ],
)
def test_date_of_birth_reads_the_usual_ways_of_typing_a_date(qtbot, env, typed, expected):
    dialog = open_intake(qtbot, env)
    assert dialog.dob.text() == "" and dialog.dob.value() is None  # never prefilled
    retype(qtbot, dialog.dob, typed)
    assert dialog.dob.value() == expected
    assert dialog.dob.text() == f"{expected:%m/%d/%Y}"
    assert dialog.dob.property("invalid") is not True
    assert dialog.age.text().startswith("Age ")


def test_an_impossible_date_of_birth_is_refused_in_plain_words(qtbot, env):
    dialog = open_intake(qtbot, env)
    qtbot.keyClicks(dialog.first_name, "Pat")
    qtbot.keyClicks(dialog.last_name, "Typo")
    retype(qtbot, dialog.dob, "13/45/1990")
    assert dialog.dob.property("invalid") is True
    assert "month must be 1 to 12" in dialog.age.text()  # beside the box, not "Age 30"
    assert dialog.dob.text() == "13/45/1990"  # what was typed stays to be corrected
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), Qt.LeftButton)
    assert dialog.created is None
    assert "month must be 1 to 12" in dialog.error.text()
    assert clients.list_census(env.db, env.world.admin, search="Typo") == []
    retype(qtbot, dialog.dob, "2/30/1990")
    assert "February 1990 has days 1 to 28" in dialog.age.text()
    retype(qtbot, dialog.dob, "2/3/1990")
    assert dialog.dob.value() == date(1990, 2, 3) and dialog.dob.property("invalid") is False


def test_every_typed_date_field_is_the_one_date_box(qtbot, env):
    """No screen offers QDateEdit's section-stepping box for typing a date."""
    from PySide6.QtWidgets import QDateEdit

    from iopdesk.ui.dates import DateEdit
    from iopdesk.ui.pages.attendance import AttendancePage
    from iopdesk.ui.pages.billing import BillingPage

    for page in (
        AttendancePage(ctx_for(env, env.world.admin)),
        BillingPage(ctx_for(env, env.world.admin)),
    ):
        qtbot.addWidget(page)
        assert page.findChildren(QDateEdit) == []
        assert page.findChildren(DateEdit)
    page = AttendancePage(ctx_for(env, env.world.front_desk))
    qtbot.addWidget(page)
    page.show()
    retype(qtbot, page.day, "3/2/26")
    assert page.current_day() == date(2026, 3, 2) and page.day.text() == "Mon 03/02/2026"


# --- 3. a risk screen not done prints as not done --------------------------------------------


def _pdf_text(path) -> str:
    from pypdf import PdfReader

    return " ".join(p.extract_text() for p in PdfReader(str(path)).pages)


def _write_note(qtbot, env, *, screened: bool):
    from iopdesk.services import notes
    from iopdesk.ui.pages.notes import NoteEditorDialog

    w = env.world
    dialog = NoteEditorDialog(ctx_for(env, w.therapist), w.client_own, client_label="Own")
    qtbot.addWidget(dialog)
    dialog.show()
    for name, box in dialog.section_boxes.items():
        qtbot.keyClicks(box, f"{name} text.")
    if screened:
        qtbot.mouseClick(
            dialog.screened, Qt.MouseButton.LeftButton, pos=QPoint(8, dialog.screened.height() // 2)
        )
        assert dialog.screened.isChecked()
    qtbot.mouseClick(dialog.sign_btn, Qt.MouseButton.LeftButton)
    settle()  # saved, asked, then signed on workers
    assert dialog.signed, dialog.error.text()
    return notes.read_note(env.db, w.therapist, dialog.note_id)


def test_an_unchecked_risk_screen_prints_as_not_done(qtbot, env, tmp_path):
    from iopdesk.services import notes
    from iopdesk.ui.pages.notes import note_text

    content = _write_note(qtbot, env, screened=False)
    assert "Risk screen: not done" in note_text(content)
    assert "negative" not in note_text(content)
    pdf = notes.print_note(env.db, env.world.therapist, content.header.id, tmp_path / "n.pdf")
    text = _pdf_text(pdf)
    assert "Not done" in text and "denied" not in text and "negative" not in text


def test_a_risk_screen_done_prints_the_answers(qtbot, env, tmp_path):
    from iopdesk.services import notes
    from iopdesk.ui.pages.notes import note_text

    content = _write_note(qtbot, env, screened=True)
    assert "suicidal ideation denied; homicidal ideation denied" in note_text(content)
    pdf = notes.print_note(env.db, env.world.therapist, content.header.id, tmp_path / "n.pdf")
    assert "Suicidal ideation: denied" in _pdf_text(pdf)
    # The signed hash covers the screen: the record verifies as signed.
    with env.db.session() as s:
        from iopdesk.models import Note

        row = s.get(Note, content.header.id)
        assert row.risk_screened is True
        assert row.content_sha256 == notes._sha(notes.canonical_content(row))


# --- 5. one clinic clock; weeks named the same everywhere ------------------------------------


def _set_zone(env, name: str) -> None:
    info = clinic.get_clinic(env.db)
    clinic.update_clinic(env.db, env.world.admin, info.version, {"timezone": name})


def test_every_screen_uses_the_clinic_clock(qtbot, env, tmp_path):
    """A clinic 19 hours ahead of this computer: Today, the sign-in day, the discharge date and
    printed times all follow the clinic's clock and zone, not the computer's or UTC."""
    from iopdesk.services import clock as service_clock
    from iopdesk.services import notes
    from iopdesk.ui.pages.attendance import AttendancePage
    from iopdesk.ui.pages.today import TodayPage

    _set_zone(env, "Pacific/Kiritimati")
    clinic_day = service_clock.today("Pacific/Kiritimati")
    today_page = TodayPage(ctx_for(env, env.world.admin))
    qtbot.addWidget(today_page)
    today_page.refresh()
    settle()
    assert today_page.subtitle_label.text().startswith(f"{clinic_day:%A, %B %-d, %Y}")
    attendance_page = AttendancePage(ctx_for(env, env.world.front_desk))
    qtbot.addWidget(attendance_page)
    assert attendance_page.current_day() == clinic_day
    # The Today button on the sign-in sheet goes back to the clinic's today.
    retype(qtbot, attendance_page.day, "1/5/2026")
    today_btn = next(
        b
        for b in attendance_page.findChildren(type(attendance_page.panel.save_btn))
        if b.text() == "Today"
    )
    qtbot.mouseClick(today_btn, Qt.MouseButton.LeftButton)
    assert attendance_page.current_day() == clinic_day
    # A printed note says the clinic's local time and zone abbreviation, never UTC.
    pdf = notes.print_note(env.db, env.world.therapist, env.world.note_own, tmp_path / "n.pdf")
    text = _pdf_text(pdf)
    assert "UTC" not in text and "+14 by" in text  # Kiritimati has no abbreviation: +14


def test_the_dashboard_and_the_chart_name_the_week_alike(qtbot, env, group):
    from iopdesk.services import clock as service_clock
    from iopdesk.ui.pages.hours import ClientHoursTab, WeeklyHoursWidget

    session_id, ids = group
    attendance.record_attendance(
        env.db,
        env.world.front_desk,
        session_id,
        attendance.sign_in_sheet(env.db, env.world.admin, session_id).session_version,
        [attendance.AttendanceEntry(ids[0], "present")],
    )
    dashboard = WeeklyHoursWidget(ctx_for(env, env.world.admin))
    qtbot.addWidget(dashboard)
    dashboard.show()
    retype(qtbot, dashboard.week, f"{date.today():%m/%d/%Y}")
    dashboard.refresh()
    settle()
    start = service_clock.week_start_of(date.today(), "Mon")
    label = service_clock.week_label(start)
    assert dashboard.week_label.text() == label
    assert label.startswith("Mon ") and " - Sun " in label
    chart = ClientHoursTab(ctx_for(env, env.world.admin))
    qtbot.addWidget(chart)
    chart.load(ids[0])
    header = chart.model.headerData(0, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
    assert header == "Week"
    assert chart.model.data(chart.model.index(0, 0), Qt.ItemDataRole.DisplayRole) == label
    # The week-start setting renames both.
    from iopdesk.services.clinic import set_setting

    set_setting(env.db, env.world.admin, "week_start", "Sun")
    dashboard.refresh()
    settle()
    sunday = service_clock.week_label(service_clock.week_start_of(date.today(), "Sun"))
    assert dashboard.week_label.text() == sunday and sunday.startswith("Sun ")


# --- 18. Today on a day without sessions ----------------------------------------------------


def test_today_lists_the_next_clinic_days_sessions(qtbot, env):
    from iopdesk.ui.pages.today import TodayPage

    tomorrow = date.today() + timedelta(days=2)
    with env.db.session() as s:
        track = Track(track_code="WKD", name="Weekday IOP", is_sud=False)
        s.add(track)
        s.flush()
        s.add(
            ClinicSession(
                kind="group",
                track_id=track.id,
                session_date=tomorrow,
                start_time=time(9),
                end_time=time(12),
            )
        )
    page = TodayPage(ctx_for(env, env.world.front_desk))
    qtbot.addWidget(page)
    page.resize(1366, 768)
    page.show()
    page.refresh()
    settle()
    assert "No sessions today - next clinic day" in page.schedule_title.text()
    assert f"{tomorrow:%A, %B %-d}" in page.schedule_title.text()
    assert page.table.isVisible() and page.model.rowCount() == 1
    assert page.model.rows[0].title == "Weekday IOP"


# --- 6. the mouse wheel scrolls the page, never an unfocused field ---------------------------


def _wheel(widget, steps: int = -3) -> None:
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    pos = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        pos,
        QPointF(widget.mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)  # through the application's event filters


def test_scrolling_the_settings_page_changes_no_setting(qtbot, env):
    from PySide6.QtWidgets import QComboBox, QSpinBox

    from iopdesk.ui import wheelguard
    from iopdesk.ui.app import make_app
    from iopdesk.ui.pages.admin import AdminPage

    make_app()
    assert wheelguard._guard is not None
    page = AdminPage(ctx_for(env, env.world.admin))
    qtbot.addWidget(page)
    page.resize(1024, 700)
    page.show()
    page.refresh()
    settle()
    spin = page.setting_widgets["auth_warn_days"]
    assert isinstance(spin, QSpinBox)
    tab = next(i for i in range(page.tabs.count()) if page.tabs.widget(i).isAncestorOf(spin))
    qtbot.mouseClick(
        page.tabs.tabBar(),
        Qt.MouseButton.LeftButton,
        pos=page.tabs.tabBar().tabRect(tab).center(),
    )
    assert page.tabs.currentIndex() == tab
    before = spin.value()
    _wheel(spin)
    _wheel(spin.lineEdit())
    assert spin.value() == before  # "7 went to 0" no more
    combo = page.setting_widgets["week_start"]
    assert isinstance(combo, QComboBox)
    shown = combo.currentText()
    _wheel(combo)
    assert combo.currentText() == shown
    # A field the user clicked into still takes the wheel.
    qtbot.mouseClick(spin.lineEdit(), Qt.MouseButton.LeftButton)
    spin.setFocus()
    _wheel(spin, steps=1)
    assert spin.value() == before + 1


# --- 7. accents and case never hide a client -------------------------------------------------


@pytest.fixture
def accented(env):
    ids = {}
    for first, last in (("Ana", "Martínez"), ("Chloé", "Durand"), ("José", "Núñez")):
        c = clients.create_client(
            env.db, env.world.admin, ClientInput(first, last, date(1990, 1, 1))
        )
        ids[last] = c.id
    return ids


def test_client_search_ignores_accents_and_case(qtbot, env, accented):
    from iopdesk.ui.pages.clients import ClientsPage

    page = ClientsPage(ctx_for(env, env.world.front_desk))
    qtbot.addWidget(page)
    page.show()
    page.refresh()
    settle()

    def found() -> set[str]:
        return {r.last_name for r in page.model.rows}

    for typed, expected in (
        ("martinez", {"Martínez"}),
        ("chloe", {"Durand"}),
        ("NUNEZ jose", {"Núñez"}),
    ):
        page.search.selectAll()
        qtbot.keyClicks(page.search, typed)
        qtbot.waitUntil(lambda e=expected: found() == e)
    # The service search (used by other screens) folds the same way.
    rows = clients.list_census(env.db, env.world.admin, search="martinez")
    assert [r.last_name for r in rows] == ["Martínez"]
    rows = clients.list_census(env.db, env.world.admin, search="MARTÍNEZ")
    assert [r.last_name for r in rows] == ["Martínez"]


@pytest.mark.qt_log_ignore("This plugin does not support")  # offscreen popups
def test_client_pick_list_finds_a_client_without_typing_accents(qtbot, env, accented):
    from iopdesk.ui.pages.schedule import BookDialog, chosen_client

    dialog = BookDialog(ctx_for(env, env.world.front_desk), date.today())
    qtbot.addWidget(dialog)
    settle()  # the pick list is read on a worker
    dialog.show()
    line = dialog.client.lineEdit()
    qtbot.keyClicks(line, "nunez")
    popup = dialog.client.completer().popup()
    qtbot.waitUntil(popup.isVisible)
    assert popup.model().rowCount() == 1
    assert chosen_client(dialog.client) == accented["Núñez"]


# --- 14. the duplicate-client question defaults to No ----------------------------------------


def test_enter_on_the_duplicate_question_does_not_register(qtbot, env):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    clients.create_client(env.db, env.world.admin, ClientInput("Pat", "Typo", date(1990, 1, 1)))
    dialog = open_intake(qtbot, env)
    qtbot.keyClicks(dialog.first_name, "Pat")
    qtbot.keyClicks(dialog.last_name, "Typo")
    retype(qtbot, dialog.dob, "01/01/1990")
    msgbox.NON_BLOCKING = False  # the real question box, answered with the keyboard
    seen: list[str] = []

    def press_enter() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, press_enter)
            return
        seen.append(box.defaultButton().text())
        qtbot.keyClick(box, Qt.Key.Key_Return)

    QTimer.singleShot(0, press_enter)
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), Qt.LeftButton)
    settle()  # the duplicate search runs on a worker, then the question is asked
    assert seen and "No" in seen[0]
    assert dialog.created is None  # Enter answered No: nobody registered twice
    assert len(clients.list_census(env.db, env.world.admin, search="typo")) == 1


# --- 15. the main window fits the screen ----------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(1366, 728), (1024, 700), (1920, 1040)])
def test_main_window_fits_the_usable_screen(qtbot, env, width, height):
    from PySide6.QtCore import QRect

    from iopdesk.ui.mainwindow import MainWindow

    window = MainWindow(ctx_for(env, env.world.front_desk))
    qtbot.addWidget(window)
    avail = QRect(0, 0, width, height)  # a laptop screen less its taskbar
    window.fit_to_screen(avail)
    window.show()
    frame = window.FRAME_ALLOWANCE
    assert window.width() + frame.width() <= width
    assert window.height() + frame.height() <= height
    # The status bar is inside the window, so on the screen.
    bar = window.statusBar()
    bottom = bar.mapTo(window, bar.rect().bottomLeft()).y()
    assert bar.isVisible() and bottom < window.height()


# --- 12. editing a signed note offers an addendum -------------------------------------------


def test_edit_on_a_signed_note_offers_an_addendum_that_shows_at_once(qtbot, env):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QDialogButtonBox, QInputDialog, QPlainTextEdit

    from iopdesk.services import notes
    from iopdesk.ui.pages.clients import ChartPage
    from tests.test_notes import _draft, _today

    w = env.world
    saved = notes.create_note(env.db, w.therapist, _draft(w, _today(env.db)))
    notes.sign_note(env.db, w.therapist, saved.id, saved.version)
    chart = ChartPage(ctx_for(env, w.therapist))
    qtbot.addWidget(chart)
    chart.resize(1366, 768)
    chart.show()
    chart.load(w.client_own)
    show_tab(chart, "Notes")
    row = next(i for i, h in enumerate(chart.notes_model.rows) if h.id == saved.id)
    click_cell(qtbot, chart.notes_table, row, 0)
    settle()
    assert "Supervisor" not in chart.note_view.toPlainText()

    def type_addendum() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QInputDialog):
            QTimer.singleShot(20, type_addendum)
            return
        editor = box.findChild(QPlainTextEdit)
        qtbot.keyClicks(editor, "Late entry: client called after group.")
        ok = box.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, type_addendum)
    qtbot.mouseClick(chart.note_actions.edit_btn, Qt.MouseButton.LeftButton)
    question = msgbox.shown[-1]
    assert question.title == "This note is signed" and "addendum" in question.text
    # The addendum is there at once, under the same note, still selected.
    settle()
    assert "Late entry: client called after group." in chart.note_view.toPlainText()
    assert chart.note_actions.selected().id == saved.id


# --- 9. the co-sign queue: one row per note, several at once, then the next ------------------


def test_cosign_queue_has_one_row_per_note_and_moves_on(qtbot, env):
    from iopdesk.services import notes
    from iopdesk.ui.pages.notes import NotesPage
    from tests.test_notes import _draft, _group, _session, _supervisee, _today

    w = env.world
    assoc = _supervisee(env)
    sid, present, _absent = _group(env)
    group_sid = _session(
        env.db,
        "group",
        _today(env.db),
        assoc.staff_id,
        {cid: ("present", 180) for cid in present},
        track_id=None,
    )
    del sid
    entries = {
        cid: notes.GroupEntry(f"Took part {i}.", f"Response {i}.", "Continue.")
        for i, cid in enumerate(present)
    }
    saved = notes.save_group_note(
        env.db,
        assoc.actor,
        group_sid,
        notes.GroupNoteInput("Coping with cravings", "CBT", ["CBT"], "Group narrative.", entries),
    )
    notes.sign_group_note(env.db, assoc.actor, saved.group_note_id, saved.version)
    for _ in range(2):
        one = notes.create_note(env.db, assoc.actor, _draft(w, _today(env.db)))
        notes.sign_note(env.db, assoc.actor, one.id, one.version)
    page = NotesPage(ctx_for(env, w.supervisor))
    qtbot.addWidget(page)
    page.resize(1366, 768)
    page.show()
    page.refresh()
    settle()
    # One row for the group note (3 clients) and one per individual note: 3, not 5.
    assert page.cosign_model.rowCount() == 3
    group_row = next(i for i, r in enumerate(page.cosign_model.rows) if r.kind == "group")
    assert "3 clients" in page.cosign_model.rows[group_row].title
    assert page.cosign_btn.text() == "Co-sign selected"
    # Co-sign the first row: the next note is selected and shown, ready to read.
    click_cell(qtbot, page.cosign_table, 0, 1)
    qtbot.mouseClick(page.cosign_btn, Qt.MouseButton.LeftButton)
    settle()
    assert page.cosign_model.rowCount() == 2
    assert page.cosign_table.selectionModel().selectedRows()[0].row() == 0
    assert page.cosign_view.toPlainText().strip() != ""
    # Ctrl+click the other row too and co-sign both (the group co-signs every entry).
    click_cell(qtbot, page.cosign_table, 0, 1)
    rect = page.cosign_table.visualRect(page.cosign_model.index(1, 1))
    qtbot.mouseClick(
        page.cosign_table.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.ControlModifier,
        rect.center(),
    )
    qtbot.mouseClick(page.cosign_btn, Qt.MouseButton.LeftButton)
    settle()
    assert page.cosign_model.rowCount() == 0
    assert notes.awaiting_my_cosign(env.db, w.supervisor) == []
    assert page.tabs.tabText(1) == "Awaiting my co-signature (0)"


# --- 10. "Save and open" saves where the user chooses and says what happened ------------------


def test_save_and_open_reports_where_and_a_failure_to_open(qtbot, env, tmp_path):
    from iopdesk.services import aftercare
    from iopdesk.ui import files
    from iopdesk.ui.pages import discharge as page_mod
    from iopdesk.ui.pages.discharge import PrintDialog
    from tests.test_discharge import admitted_client

    st = admitted_client(env)
    plan_id = aftercare.create_plan(env.db, env.world.therapist, st.client_id)
    view = aftercare.get_plan(env.db, env.world.therapist, plan_id)
    dialog = PrintDialog(ctx_for(env, env.world.therapist), view)
    qtbot.addWidget(dialog)
    dialog.show()
    # Offered in the user's Documents folder, not the program's hidden data folder.
    assert dialog.path.text().startswith(str(files.documents_dir()))
    out = tmp_path / "Packet for Ana.pdf"
    dialog.path.selectAll()
    qtbot.keyClicks(dialog.path, str(out))
    opened: list[str] = []
    old_opener, old_flag = files.OPENER, page_mod.OPEN_AFTER_PRINT
    files.OPENER = lambda url: opened.append(url.toLocalFile()) or False  # no PDF viewer
    page_mod.OPEN_AFTER_PRINT = True
    try:
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
        settle()  # written on a worker, then opened
    finally:
        files.OPENER, page_mod.OPEN_AFTER_PRINT = old_opener, old_flag
    assert out.exists() and opened == [str(out)]
    titles = [m.title for m in msgbox.shown]
    assert "Could not open the file" in titles and "Aftercare packet saved" in titles
    assert str(out) in msgbox.shown[-1].text


# --- 13. weekly hours: holds, order, a week explained, tiles that open their list -----------


def test_weekly_hours_put_holds_aside_and_explain_a_week(qtbot, env, group):
    from iopdesk.ui.mainwindow import MainWindow
    from iopdesk.ui.pages.hours import ClientHoursTab, WeeklyHoursWidget

    session_id, (ann, ben) = group
    sheet = attendance.sign_in_sheet(env.db, env.world.admin, session_id)
    attendance.record_attendance(
        env.db,
        env.world.front_desk,
        session_id,
        sheet.session_version,
        [
            attendance.AttendanceEntry(ann, "present"),
            attendance.AttendanceEntry(ben, "absent_unexcused"),
        ],
    )
    info = clients.open_chart(env.db, env.world.admin, ben).client
    clients.change_status(
        env.db, env.world.admin, ben, info.version, "on_hold", date.today(), "Medical leave"
    )
    dashboard = WeeklyHoursWidget(ctx_for(env, env.world.admin))
    qtbot.addWidget(dashboard)
    dashboard.refresh()
    settle()
    by_name = {r.client: i for i, r in enumerate(dashboard.model.rows)}
    status = dashboard.model.data(
        dashboard.model.index(by_name["Bravo, Ben"], 7), Qt.ItemDataRole.DisplayRole
    )
    assert status == "on hold"  # not "not met (at risk)"
    assert dashboard.model.rows[-1].client == "Bravo, Ben"  # holds last, needs first
    assert "1 on hold" in dashboard.summary.text()
    # The chart explains the week: what was scheduled, attended, missed, and the hold.
    chart = ClientHoursTab(ctx_for(env, env.world.admin))
    qtbot.addWidget(chart)
    chart.load(ben)
    settle()  # the latest week is explained from a background read
    text = chart.explain.text()
    assert "1 session(s) scheduled, 0 attended, 1 missed, 0 cancelled" in text
    assert "On hold: Medical leave" in text and "missed, unexcused" in text
    # Today's tiles open the list they count.
    window = MainWindow(ctx_for(env, env.world.admin))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.ready)
    today_page = window.stack.currentWidget()
    qtbot.mouseClick(today_page.at_risk, Qt.MouseButton.LeftButton)
    assert window.page_title.text() == "Attendance"
    assert window.stack.currentWidget().tabs.currentIndex() == 1  # weekly hours
    window.go("Today")
    qtbot.mouseClick(window.stack.currentWidget().active, Qt.MouseButton.LeftButton)
    assert window.page_title.text() == "Clients"
    assert window.stack.currentWidget().status.currentData() == "active"


# --- 11. aftercare: the receiving provider carried over, finalized is read-only, phones -----


def test_aftercare_carries_the_provider_locks_when_final_and_formats_phones(qtbot, env, tmp_path):
    from iopdesk.services import aftercare
    from iopdesk.ui.pages.discharge import AftercareEditor, DischargeDialog
    from tests.test_discharge import admitted_client

    st = admitted_client(env)
    ctx = ctx_for(env, env.world.therapist)
    dialog = DischargeDialog(ctx, st.client_id)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.reason, "Completed the program.")
    for _label, edit in dialog.goal_edits:
        qtbot.keyClicks(edit, "Progress made.")
    qtbot.keyClicks(dialog.summary, "Good engagement.")
    qtbot.keyClicks(dialog.provider, "Riverbend Outpatient")
    dialog.go(3)
    qtbot.mouseClick(dialog.finish, Qt.MouseButton.LeftButton)
    settle()  # discharged on a worker
    result = dialog.result_
    assert result is not None, dialog.error.text()
    editor = AftercareEditor(ctx, result.plan_id)
    qtbot.addWidget(editor)
    editor.show()
    appts = editor.lists["appointments"][0]
    assert appts.table.rowCount() == 1
    assert appts.table.item(0, 0).text() == "Riverbend Outpatient"  # carried from discharge
    # Complete it as typed: the date, and the phone as digits only.
    for column, typed in ((2, "12/14/2026"), (5, "5551234567")):
        rect = appts.table.visualItemRect(appts.table.item(0, column))
        qtbot.mouseDClick(appts.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        cell = next(e for e in appts.table.findChildren(QLineEdit) if e.isVisible())
        qtbot.keyClicks(cell, typed)
        qtbot.keyClick(cell, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda c=column, t=typed: appts.table.item(0, c).text() == t)
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qtbot.mouseClick(editor.finalize_btn, Qt.MouseButton.LeftButton)  # confirm answers Yes
    settle()
    assert editor.status.text() == "Finalized"
    assert not editor.save_btn.isEnabled() and not editor.finalize_btn.isEnabled()
    out = aftercare.print_packet(
        env.db, env.world.therapist, result.plan_id, tmp_path / "packet.pdf"
    ).path
    text = _pdf_text(out)
    assert "(555) 123-4567" in text and "5551234567" not in text
    assert "Riverbend Outpatient" in text
    # One clinic clock: printed in clinic time with its zone, signed on the clinic's day.
    import re

    from iopdesk.services import clock as service_clock

    assert re.search(r"Printed \d\d/\d\d/\d{4} \d{1,2}:\d\d [AP]M E[SD]T", text)
    assert f"{service_clock.today('America/New_York'):%B} " in text


# --- 8. billing exceptions that can be acted on ----------------------------------------------


def test_billing_exceptions_say_how_to_fix_open_the_chart_and_guard_export(qtbot, env, tmp_path):
    from iopdesk.ui.mainwindow import MainWindow
    from tests.test_billing import D1, D2, base, client, load, session

    book = base()
    client(book, "B9", member=None, first="Nia", last="Nomember")
    session(book, "S1", "individual", D1, 45, mrn="B9")
    session(book, "S2", "individual", D1, 45, mrn="B9", start=time(15, 0))
    load(env, tmp_path, book)
    window = MainWindow(ctx_for(env, env.world.admin))
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    qtbot.waitUntil(lambda: window.ready)
    window.go("Billing")
    page = window.stack.currentWidget()
    retype(qtbot, page.date_from, f"{D1:%m/%d/%Y}")
    retype(qtbot, page.date_to, f"{D2:%m/%d/%Y}")
    preview = next(b for b in page.findChildren(type(page.export_btn)) if b.text() == "Preview")
    qtbot.mouseClick(preview, Qt.MouseButton.LeftButton)
    settle()  # the preview runs in the background
    model = page.exc_model
    assert model.rowCount() == 2
    cells = [
        [model.data(model.index(r, c), Qt.ItemDataRole.DisplayRole) for c in range(7)]
        for r in range(2)
    ]
    # Same client and day twice: the session column tells them apart.
    assert cells[0][3] != cells[1][3] and "13:00" in cells[0][3] + cells[1][3]
    assert [row[4] for row in cells] == ["90834", "90834"]  # the service each would bill
    assert all("member ID" in row[6] for row in cells)  # a plain "how to fix"
    # Export asks first (Enter/default is No) and exports nothing.
    msgbox.shown.clear()
    qtbot.mouseClick(page.export_btn, Qt.MouseButton.LeftButton)
    assert msgbox.shown[0].title == "Export with open exceptions?"
    assert list(tmp_path.glob("billing-*.xlsx")) == []
    # Open chart > Billing from the row.
    page.tabs.setCurrentIndex(1)
    click_cell(qtbot, page.exc_table, 0, 1)
    qtbot.mouseClick(page.open_chart_btn, Qt.MouseButton.LeftButton)
    settle()
    chart = window.chart
    assert window.stack.currentWidget() is chart
    assert chart.tabs.currentWidget() is chart.billing_tab
