"""The sign-in sheet with the keyboard only; the conflict when two workstations save."""

from __future__ import annotations

from datetime import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from iopdesk.services import attendance, clinic
from iopdesk.ui import msgbox
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.attendance import AttendancePage, parse_time
from tests.helpers import finish, settle

pytestmark = [pytest.mark.gui, pytest.mark.sqlite_only]


def open_page(qtbot, env, actor) -> AttendancePage:
    page = AttendancePage(AppContext(env.db, actor, clinic.get_clinic(env.db)))
    qtbot.addWidget(page)
    page.resize(1200, 700)
    page.show()
    page.refresh()
    settle()  # the page loads in the background
    return page


def test_keyboard_only_sign_in(qtbot, env, group):
    session_id, _ids = group
    page = open_page(qtbot, env, env.world.front_desk)
    page.open_session(session_id)
    settle()
    table = page.panel.table
    assert page.panel.model.rowCount() == 4
    # One key per client: present, late, absent unexcused; arrow down skips nobody.
    for key in (Qt.Key.Key_P, Qt.Key.Key_L, Qt.Key.Key_U, Qt.Key.Key_X):
        qtbot.keyClick(table, key)
    # Late needs minutes: move to the Minutes cell of row 2 and type them.
    table.setCurrentIndex(page.panel.model.index(1, 5))
    qtbot.keyClick(table, Qt.Key.Key_1)  # typing opens the cell editor with that digit
    editor = table.findChild(QLineEdit)
    qtbot.keyClicks(editor, "50")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: page.panel.model.rows[1].minutes == "150")  # queued commit
    qtbot.keyClick(table, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    settle()  # the save runs on a worker
    assert page.panel.status_line.text() == "Saved 4 clients"
    sheet = attendance.sign_in_sheet(env.db, env.world.admin, session_id)
    got = {r.last: (r.status, r.minutes) for r in sheet.rows}
    assert got == {
        "Alpha": ("present", 180),
        "Bravo": ("late", 150),
        "Charlie": ("absent_unexcused", 0),
        "Delta": ("absent_excused", 0),
    }
    assert sheet.session.status == "held"
    # The weekly-hours dashboard on the same screen shows the new minutes.
    dashboard = page._hours_tab
    dashboard.refresh()
    settle()
    by_name = {r.client: r for r in dashboard.model.rows}
    assert by_name["Alpha, Ann"].attended_minutes == 180
    assert by_name["Bravo, Ben"].attended_minutes == 150
    assert by_name["Charlie, Cy"].attended_minutes == 0


def test_second_workstation_gets_a_clear_conflict_and_sees_the_first(qtbot, env, group):
    session_id, _ids = group
    first = open_page(qtbot, env, env.world.front_desk)
    second = open_page(qtbot, env, env.world.therapist)
    first.open_session(session_id)
    settle()
    second.open_session(session_id)
    settle()
    first.panel.model.set_status(0, "present")
    first.panel.save()
    settle()  # the save runs on a worker
    second.panel.model.set_status(0, "absent_unexcused")
    second.panel.save()
    settle()  # the save runs on a worker
    assert msgbox.shown[-1].title == "Changed on another workstation"
    # Nothing lost: the first save stands, and the second screen now shows it.
    assert second.panel.model.rows[0].status == "present"
    sheet = attendance.sign_in_sheet(env.db, env.world.admin, session_id)
    assert sheet.rows[0].status == "present"


def test_late_without_minutes_is_refused_in_plain_words(qtbot, env, group):
    session_id, _ids = group
    page = open_page(qtbot, env, env.world.front_desk)
    page.open_session(session_id)
    settle()
    page.panel.model.set_status(0, "late")
    page.panel.save()
    settle()  # the save runs on a worker
    assert msgbox.shown and "minutes" in msgbox.shown[-1].text.lower()
    assert attendance.sign_in_sheet(env.db, env.world.admin, session_id).recorded == 0


def test_printable_roster_with_privacy_names(qtbot, env, group, tmp_path):
    from pypdf import PdfReader

    session_id, _ids = group
    out = tmp_path / "roster.pdf"
    attendance.export_roster(env.db, env.world.front_desk, session_id, out, privacy=True)
    text = PdfReader(out).pages[0].extract_text()
    assert "Ann A." in text and "Alpha" not in text
    assert "42 CFR part 2" in text  # SUD track -> Part 2 notice
    full = tmp_path / "full.pdf"
    attendance.export_roster(env.db, env.world.front_desk, session_id, full, privacy=False)
    assert "Alpha, Ann" in PdfReader(full).pages[0].extract_text()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18:05", time(18, 5)),
        ("1805", time(18, 5)),
        ("6:05 pm", time(18, 5)),
        ("12:10 am", time(0, 10)),
        ("", None),
    ],
)
def test_parse_time(text, expected):
    assert parse_time(text) == expected


def test_parse_time_rejects_nonsense():
    with pytest.raises(ValueError, match="not a time"):
        parse_time("25:99")


def test_reports_screen_saves_the_weekly_hours_workbook(qtbot, env, group, tmp_path):
    from openpyxl import load_workbook

    from iopdesk.ui.pages.reports import ReportsPage

    page = ReportsPage(AppContext(env.db, env.world.front_desk, clinic.get_clinic(env.db)))
    qtbot.addWidget(page)
    out = tmp_path / "week.xlsx"
    assert finish(page.save_to(out)) == 4
    ws = load_workbook(out)["Weekly Hours"]
    assert [c.value for c in ws[1]] == [
        "MRN", "Client", "Track", "Required Hours", "Attended Hours", "Status",
        "Required Days", "Attended Days",
    ]  # fmt: skip
    assert ws.max_row >= 5 and "Saved weekly hours for 4 clients" in page.result.text()
    assert finish(page.save_to(tmp_path / "week.csv")) is None  # plain refusal, no file
    assert msgbox.shown[-1].title and not (tmp_path / "week.csv").exists()
