"""The Schedule page through its real widgets, offscreen: week and day views, booking with the
double-booking warning, generation, clinic closures, cancellation, facilitators and rosters."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from PySide6.QtCore import QDate, Qt, QTime
from PySide6.QtWidgets import QDialog

from iopdesk.models import Track, TrackBlock
from iopdesk.services import clients, clinic, schedule, staff
from iopdesk.services.clients import ClientInput
from iopdesk.services.staff import StaffInput
from iopdesk.ui import msgbox
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.schedule import (
    AddClientDialog,
    BookDialog,
    CancelDialog,
    CloseDayDialog,
    FacilitatorsDialog,
    GenerateDialog,
    SchedulePage,
    wrap_text,
)
from tests.helpers import settle

pytestmark = [pytest.mark.gui, pytest.mark.parametrize("backend", ["sqlite"])]

TODAY = date.today()
MON = TODAY - timedelta(days=TODAY.weekday()) + timedelta(weeks=1)  # next week: all scheduled
TUE, WED, THU = (MON + timedelta(days=n) for n in (1, 2, 3))
ADMITTED = TODAY - timedelta(days=30)
GROUP = "Adult MH Day IOP"


@pytest.fixture
def clinic_data(env) -> dict[str, int]:
    """A Mon/Wed/Thu 09:00-12:00 day track with two clients, an evening track with one client,
    and a therapist."""
    admin = env.world.admin
    with env.db.session() as s:
        day = Track(track_code="MH-D", name=GROUP, room="Group Room B")
        eve = Track(track_code="SUD-E", name="Adult SUD Evening IOP", room="Group Room A")
        s.add_all([day, eve])
        s.flush()
        for weekday in (0, 2, 3):
            s.add(
                TrackBlock(track_id=day.id, weekday=weekday, start_time=time(9), end_time=time(12))
            )
        s.add(TrackBlock(track_id=eve.id, weekday=1, start_time=time(18), end_time=time(21)))
        day_id, eve_id = day.id, eve.id
    tina = staff.create_staff(
        env.db, admin, StaffInput("T9", "Tina", "Yazzie", credentials="LCSW", roles="therapist")
    )

    def client(first: str, last: str, track_id: int) -> int:
        data = ClientInput(first, last, date(1985, 3, 4), status="active")
        data.track_id, data.admission_date = track_id, ADMITTED
        created = clients.create_client(env.db, admin, data)
        assert created.id is not None
        return created.id

    return {
        "track": day_id,
        "evening": eve_id,
        "tina": tina.id,
        "begay": client("Crystal", "Begay", day_id),
        "otter": client("Oscar", "Otter", day_id),
        "nakai": client("Nora", "Nakai", eve_id),
    }


def generate(env) -> None:
    assert schedule.generate_sessions(env.db, env.world.admin, MON, weeks=1) == 4


def open_page(qtbot, env, actor=None) -> SchedulePage:
    page = SchedulePage(
        AppContext(env.db, actor or env.world.front_desk, clinic.get_clinic(env.db))
    )
    qtbot.addWidget(page)
    page.resize(1156, 690)
    page.show()
    qtbot.waitExposed(page)
    page.refresh()
    page.go_to(MON)
    settle()
    return page


def ok(qtbot, dialog: QDialog) -> None:
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), Qt.LeftButton)
    settle()  # the save runs on a worker


def column_titles(page: SchedulePage) -> list[list[str]]:
    return [[s.title for s in c.list.model_.rows] for c in page.week.columns]


def group_on(env, day: date) -> schedule.SessionInfo:
    (found,) = [
        s for s in schedule.list_sessions(env.db, env.world.admin, day, day) if s.kind == "group"
    ]
    return found


def roster_names(env, session_id: int) -> list[str]:
    return [e.display_name for e in schedule.roster(env.db, env.world.admin, session_id)]


def choose(combo, data) -> None:
    index = combo.findData(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)
    settle()


def book(qtbot, page, client: str, staff_id: int, day: date, start: time) -> BookDialog:
    dialog = page.book_appointment(day)
    settle()  # what the dialog shows is read on a worker
    assert isinstance(dialog, BookDialog) and dialog.isVisible()
    dialog.client.lineEdit().setText(client)  # typing would pop up the completer
    choose(dialog.therapist, staff_id)
    dialog.start.setTime(QTime(start.hour, start.minute))
    ok(qtbot, dialog)
    return dialog


# -- week view -------------------------------------------------------------------------------
def test_generate_dialog_fills_the_week_on_the_right_days(qtbot, env, clinic_data):
    clinic.set_setting(env.db, env.world.admin, "schedule_weeks_ahead", 3)
    page = open_page(qtbot, env)
    assert column_titles(page) == [[]] * 7
    assert "No sessions" in page.week.columns[0].empty.text()

    dialog = page.generate_sessions()

    settle()  # what the dialog shows is read on a worker
    assert isinstance(dialog, GenerateDialog)
    assert dialog.weeks.value() == 3  # the schedule_weeks_ahead setting
    dialog.start.setDate(QDate(MON.year, MON.month, MON.day))
    dialog.weeks.setValue(1)
    assert f"{MON:%m/%d/%Y}" in dialog.preview.text()
    ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.error.text()
    assert msgbox.shown[-1].title == "Group sessions created"
    assert "Created 4 group sessions" in msgbox.shown[-1].text

    settle()
    assert column_titles(page) == [
        [GROUP],
        ["Adult SUD Evening IOP"],
        [GROUP],
        [GROUP],
        [],
        [],
        [],
    ]
    assert [h.text() for h in page.week.headers] == [
        f"{MON + timedelta(days=i):%a %m/%d}" for i in range(7)
    ]
    monday = page.week.columns[0].list.model_.rows[0]
    assert (monday.date, monday.start, monday.roster_count) == (MON, time(9), 2)
    assert page.banner.isHidden()

    # Running it again creates nothing and says so.
    again = page.generate_sessions()
    settle()  # what the dialog shows is read on a worker
    again.start.setDate(QDate(MON.year, MON.month, MON.day))
    again.weeks.setValue(1)
    ok(qtbot, again)
    assert msgbox.shown[-1].title == "Nothing to create"


def test_week_columns_follow_the_clinic_week_start(qtbot, env, clinic_data):
    clinic.set_setting(env.db, env.world.admin, "week_start", "Sun")
    generate(env)
    page = open_page(qtbot, env)
    sunday = MON - timedelta(days=1)
    assert page.week.headers[0].text() == f"{sunday:%a %m/%d}"
    titles = column_titles(page)
    assert titles[0] == [] and titles[1] == [GROUP]  # Monday is the second column
    assert page.range_label.text().startswith(f"{sunday:%b}")


def test_navigation_and_keyboard_between_days(qtbot, env, clinic_data):
    generate(env)
    page = open_page(qtbot, env)
    qtbot.mouseClick(page.next_btn, Qt.LeftButton)
    settle()
    assert page.day == MON + timedelta(weeks=1) and column_titles(page) == [[]] * 7
    qtbot.mouseClick(page.prev_btn, Qt.LeftButton)
    settle()
    assert column_titles(page)[0] == [GROUP]
    # Select Monday's group, then Right goes to Tuesday's evening group, Right again to Wed.
    assert page.select_session(group_on(env, MON).id)
    settle()
    monday_list = page.week.columns[0].list
    monday_list.setFocus()
    qtbot.keyClick(monday_list, Qt.Key_Right)
    settle()
    assert page.selected() is not None and page.selected().date == TUE
    qtbot.keyClick(page.week.columns[1].list, Qt.Key_Right)
    settle()
    assert page.selected().date == WED
    assert page.week.columns[0].list.selectionModel().selectedRows() == []


def test_day_view_lists_the_day_with_details(qtbot, env, clinic_data):
    generate(env)
    page = open_page(qtbot, env)
    qtbot.mouseClick(page.week.headers[0], Qt.LeftButton)  # a day's heading opens the day
    settle()
    assert page.mode == "day" and page.day_btn.isChecked()
    assert page.range_label.text().startswith(f"{MON:%A}")
    model = page.day_model
    assert [model.data(model.index(0, c)) for c in range(7)] == [
        "09:00-12:00",
        GROUP,
        "Group",
        "-",
        "Group Room B",
        "2",
        "Scheduled",
    ]
    page.day_table.selectRow(0)
    settle()
    assert page.details.title.text() == GROUP
    assert page.details.roster_title.text() == "Roster (2)"
    qtbot.mouseClick(page.next_btn, Qt.LeftButton)
    settle()
    assert page.day == TUE and model.rowCount() == 1
    qtbot.mouseClick(page.week_btn, Qt.LeftButton)
    settle()
    assert page.mode == "week" and page.views.currentIndex() == 0


# -- booking ---------------------------------------------------------------------------------
def test_book_dialog_books_and_warns_about_a_double_booking(qtbot, env, clinic_data):
    generate(env)
    page = open_page(qtbot, env)
    tina = clinic_data["tina"]

    first = book(qtbot, page, "Begay", tina, TUE, time(13))
    assert first.result() == QDialog.DialogCode.Accepted, first.error.text()
    assert first.booked is not None and first.booked.title == "Individual: Begay, Crystal"
    assert (first.booked.start, first.booked.end) == (time(13), time(14))  # 60 min default
    assert not [m for m in msgbox.shown if m.icon == "Warning"]
    settle()
    assert "Individual: Begay, Crystal" in column_titles(page)[1]
    assert page.selected() is not None and page.selected().id == first.booked.id

    # Same therapist, overlapping: booked anyway, with the warning naming both sessions.
    second = book(qtbot, page, "Otter", tina, TUE, time(13, 30))
    assert second.result() == QDialog.DialogCode.Accepted
    warning = msgbox.shown[-1]
    assert warning.icon == "Warning" and warning.title == "Booked, with a scheduling conflict"
    assert "Therapist Tina Yazzie, LCSW is double-booked" in warning.text
    assert "Individual: Begay, C. (13:00-14:00)" in warning.text
    booked = [
        s.title
        for s in schedule.list_sessions(env.db, env.world.admin, TUE, TUE)
        if s.kind == "individual"
    ]
    assert sorted(booked) == ["Individual: Begay, Crystal", "Individual: Otter, Oscar"]
    settle()
    assert page.banner.isVisible() and page.banner_title.text() == "1 scheduling conflict this week"
    assert "Tina Yazzie" in page.banner.toolTip()
    # Both cards carry the conflict; the details panel says who else is booked.
    assert set(page.week.columns[1].list.model_.conflicts) == {
        first.booked.id,
        second.booked.id,
    }
    assert page.details.conflict.isVisible()
    assert page.details.conflict.text() == (
        "Double-booked with Individual: Begay, C. (13:00-14:00): therapist Tina Yazzie, LCSW"
    )


def test_client_booked_during_their_group_is_a_conflict(qtbot, env, clinic_data):
    generate(env)
    page = open_page(qtbot, env)
    dialog = book(qtbot, page, "Begay", clinic_data["tina"], MON, time(10))
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert "Client Begay, Crystal is double-booked" in msgbox.shown[-1].text
    assert f"{GROUP} (09:00-12:00)" in msgbox.shown[-1].text


def test_book_dialog_marks_missing_fields_and_stays_open(qtbot, env, clinic_data):
    page = open_page(qtbot, env)
    dialog = page.book_appointment(MON)
    settle()  # what the dialog shows is read on a worker
    ok(qtbot, dialog)
    assert dialog.isVisible() and dialog.booked is None
    assert dialog.client.property("invalid") is True
    assert "Choose a client" in dialog.error.text()
    dialog.client.lineEdit().setText("Begay")  # typing would pop up the completer
    choose(dialog.therapist, clinic_data["tina"])
    dialog.start.setTime(QTime(15, 0))
    dialog.end.setTime(QTime(14, 0))  # ends before it starts: the service's field message
    assert dialog.length.text() == "ends before it starts"
    ok(qtbot, dialog)
    assert dialog.isVisible() and dialog.end.property("invalid") is True
    assert "end time must be after the start time" in dialog.error.text()
    assert dialog.client.property("invalid") is False


def test_book_dialog_defaults_follow_kind_and_start(qtbot, env, clinic_data):
    page = open_page(qtbot, env)
    dialog = page.book_appointment(MON)
    settle()  # what the dialog shows is read on a worker
    choose(dialog.kind, "intake")
    assert dialog.end.time() == QTime(10, 30) and dialog.length.text() == "1 h 30 min"
    dialog.start.setTime(QTime(14, 0))
    assert dialog.end.time() == QTime(15, 30)  # the length is kept when the start moves
    dialog.reject()


# -- closures --------------------------------------------------------------------------------
def test_close_clinic_day_cancels_that_day_and_the_week_shows_closed(
    qtbot, env, clinic_data, monkeypatch
):
    generate(env)
    schedule.book_session(
        env.db, env.world.admin, "individual", clinic_data["otter"], clinic_data["tina"], WED,
        time(13), time(13, 50),
    )  # fmt: skip
    page = open_page(qtbot, env)
    dialog = page.close_clinic_day(WED)
    settle()  # what the dialog shows is read on a worker
    assert isinstance(dialog, CloseDayDialog)
    assert "2 scheduled sessions" in dialog.preview.text()
    ok(qtbot, dialog)
    assert dialog.isVisible() and dialog.reason.property("invalid") is True  # reason required

    qtbot.keyClicks(dialog.reason, "Thanksgiving")
    ok(qtbot, dialog)  # confirm() answers its default, No: nothing happens
    question = msgbox.shown[-1]
    assert question.icon == "Question" and "2 scheduled sessions will be cancelled" in question.text
    assert dialog.isVisible()
    assert all(
        s.status == "scheduled" for s in schedule.list_sessions(env.db, env.world.admin, WED, WED)
    )

    monkeypatch.setattr(msgbox, "confirm", lambda *a, **k: True)
    ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted and dialog.cancelled == 2
    wednesday = schedule.list_sessions(env.db, env.world.admin, WED, WED)
    assert [(s.status, s.cancelled_by_clinic, s.cancel_reason) for s in wednesday] == [
        ("cancelled", True, "Thanksgiving")
    ] * 2
    assert group_on(env, MON).status == "scheduled"  # other days untouched

    settle()
    column = page.week.columns[2]
    assert column.closed.isVisible() and column.closed.text() == "Closed: Thanksgiving"
    assert all(s.is_cancelled for s in column.list.model_.rows)
    assert not page.week.columns[0].closed.isVisible()
    assert "Clinic closed" in page.notice.text()

    # The day view shows the closure with a way to reopen it.
    page.open_day(WED)
    settle()
    assert page.closed_banner.isVisible() and "Thanksgiving" in page.closed_text.text()
    qtbot.mouseClick(page.reopen_btn, Qt.LeftButton)
    settle()
    assert all(
        s.status == "scheduled" for s in schedule.list_sessions(env.db, env.world.admin, WED, WED)
    )
    assert not page.closed_banner.isVisible()


def test_booking_on_a_closed_day_is_refused_in_plain_words(qtbot, env, clinic_data):
    schedule.close_clinic_day(env.db, env.world.admin, THU, "Snow day")
    page = open_page(qtbot, env)
    dialog = book(qtbot, page, "Begay", clinic_data["tina"], THU, time(13))
    assert dialog.isVisible() and dialog.booked is None
    assert "The clinic is closed" in dialog.error.text() and "Snow day" in dialog.error.text()
    assert dialog.date.property("invalid") is True


# -- one session -----------------------------------------------------------------------------
def test_cancel_a_session_with_a_reason_then_reinstate(qtbot, env, clinic_data):
    generate(env)
    page = open_page(qtbot, env)
    monday = group_on(env, MON)
    assert page.select_session(monday.id)
    settle()
    details = page.details
    assert details.cancel.isVisible() and not details.reinstate.isVisible()
    qtbot.mouseClick(details.cancel, Qt.LeftButton)
    settle()
    dialog = page.active_dialog
    assert isinstance(dialog, CancelDialog)
    assert dialog.who_row.isHidden()  # a group is always cancelled by the clinic
    ok(qtbot, dialog)
    assert dialog.isVisible() and "reason" in dialog.error.text()
    qtbot.keyClicks(dialog.reason.lineEdit(), "Therapist ill")
    ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.error.text()

    cancelled = group_on(env, MON)
    assert (cancelled.status, cancelled.cancelled_by_clinic, cancelled.cancel_reason) == (
        "cancelled",
        True,
        "Therapist ill",
    )
    assert group_on(env, WED).status == "scheduled"
    settle()
    assert page.selected() is not None and page.selected().is_cancelled
    assert details.status.text() == "Cancelled by the clinic"
    assert details.reason.text() == "Therapist ill"
    assert details.reinstate.isVisible() and not details.cancel.isVisible()
    assert not details.sign_in.isEnabled() and not details.add_client.isEnabled()
    card = page.week.columns[0].list.model_
    assert "Therapist ill" in card.data(card.index(0, 0), Qt.ItemDataRole.ToolTipRole)

    qtbot.mouseClick(details.reinstate, Qt.LeftButton)
    settle()
    assert group_on(env, MON).status == "scheduled"
    assert details.status.text() == "Scheduled" and details.sign_in.isEnabled()


def test_appointment_cancelled_by_the_client(qtbot, env, clinic_data):
    info = schedule.book_session(
        env.db, env.world.admin, "family", clinic_data["begay"], clinic_data["tina"], TUE,
        time(15), time(16),
    )  # fmt: skip
    page = open_page(qtbot, env)
    page.select_session(info.id)
    settle()
    dialog = page.cancel_selected()
    settle()  # what the dialog shows is read on a worker
    assert dialog is not None and not dialog.who_row.isHidden()
    dialog.by_client.setChecked(True)
    dialog.reason.setCurrentText("Client request")
    ok(qtbot, dialog)
    got = schedule.get_session(env.db, env.world.admin, info.id)
    assert (got.status, got.cancelled_by_clinic, got.cancel_reason) == (
        "cancelled",
        False,
        "Client request",
    )
    settle()
    assert page.details.status.text() == "Cancelled by the client"


def test_a_change_from_another_workstation_reloads(qtbot, env, clinic_data):
    generate(env)
    page = open_page(qtbot, env)
    monday = group_on(env, MON)
    page.select_session(monday.id)
    settle()
    dialog = page.cancel_selected()
    settle()  # what the dialog shows is read on a worker
    # Meanwhile another workstation sets the facilitator (the session's version moves on).
    schedule.set_facilitators(
        env.db, env.world.admin, monday.id, monday.version, [clinic_data["tina"]]
    )
    dialog.reason.setCurrentText("Therapist ill")
    ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Rejected and dialog.stale
    assert msgbox.shown[-1].title == "Changed on another workstation"
    assert group_on(env, MON).status == "scheduled"  # nothing overwritten
    settle()
    assert page.selected() is not None
    assert page.selected().facilitators == ("Tina Yazzie, LCSW",)  # reloaded


def test_facilitators_dialog_sets_primary_first(qtbot, env, clinic_data):
    generate(env)
    page = open_page(qtbot, env)
    page.select_session(group_on(env, MON).id)
    settle()
    qtbot.mouseClick(page.details.edit_facilitators, Qt.LeftButton)
    settle()
    dialog = page.active_dialog
    assert isinstance(dialog, FacilitatorsDialog)
    names = {}
    for i in range(dialog.list.count()):
        item = dialog.list.item(i)
        names[item.text()] = item
    names["Tina Yazzie, LCSW"].setCheckState(Qt.CheckState.Checked)
    names["Theo Rapist, LPC"].setCheckState(Qt.CheckState.Checked)
    assert dialog.primary.count() == 2
    dialog.primary.setCurrentIndex(dialog.primary.findText("Theo Rapist, LPC"))
    settle()
    ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.error.text()
    assert group_on(env, MON).facilitators == ("Theo Rapist, LPC", "Tina Yazzie, LCSW")
    settle()
    assert page.details.facilitators.text() == "Theo Rapist, LPC\nTina Yazzie, LCSW"
    # The therapist filter now finds the session.
    choose(page.therapist_filter, clinic_data["tina"])
    settle()
    assert column_titles(page) == [[GROUP], [], [], [], [], [], []]


# -- rosters ---------------------------------------------------------------------------------
def test_add_and_remove_a_client_on_one_occurrence_only(qtbot, env, clinic_data, monkeypatch):
    generate(env)
    page = open_page(qtbot, env)
    monday, wednesday = group_on(env, MON), group_on(env, WED)
    page.select_session(monday.id)
    settle()
    details = page.details
    assert [r.display_name for r in details.roster_model.rows] == ["Begay, Crystal", "Otter, Oscar"]
    assert not details.remove_client.isEnabled()  # nobody selected yet

    qtbot.mouseClick(details.add_client, Qt.LeftButton)
    settle()
    dialog = page.active_dialog
    assert isinstance(dialog, AddClientDialog)
    labels = [dialog.client.itemText(i) for i in range(dialog.client.count())]
    assert not any("Begay" in x or "Otter" in x for x in labels)  # already on the roster
    dialog.client.lineEdit().setText("nakai")  # typing would pop up the completer
    ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.error.text()
    assert roster_names(env, monday.id) == ["Begay, Crystal", "Nakai, Nora", "Otter, Oscar"]
    settle()
    assert [(r.last, r.source) for r in details.roster_model.rows] == [
        ("Begay", "enrolled"),
        ("Nakai", "added"),
        ("Otter", "enrolled"),
    ]
    assert details.roster_title.text() == "Roster (3)"

    details.roster.selectRow(2)  # Otter
    assert details.remove_client.isEnabled()
    monkeypatch.setattr(msgbox, "confirm", lambda *a, **k: True)
    qtbot.mouseClick(details.remove_client, Qt.LeftButton)
    settle()
    assert roster_names(env, monday.id) == ["Begay, Crystal", "Nakai, Nora"]
    assert roster_names(env, wednesday.id) == ["Begay, Crystal", "Otter, Oscar"]  # unchanged
    assert [r.last for r in details.roster_model.rows] == ["Begay", "Nakai"]
    assert page.week.columns[0].list.model_.rows[0].roster_count == 2


def test_remove_asks_first(qtbot, env, clinic_data):
    generate(env)
    page = open_page(qtbot, env)
    monday = group_on(env, MON)
    page.select_session(monday.id)
    settle()
    page.details.roster.selectRow(0)
    qtbot.mouseClick(page.details.remove_client, Qt.LeftButton)
    settle()
    assert msgbox.shown[-1].title == "Remove from this session?"
    assert roster_names(env, monday.id) == ["Begay, Crystal", "Otter, Oscar"]  # answered No


def test_sign_in_and_open_client_signals(qtbot, env, clinic_data):
    generate(env)
    page = open_page(qtbot, env)
    monday = group_on(env, MON)
    page.select_session(monday.id)
    settle()
    with qtbot.waitSignal(page.open_sign_in, timeout=1000) as signed:
        qtbot.mouseClick(page.details.sign_in, Qt.LeftButton)
        settle()
    assert signed.args == [monday.id]
    index = page.details.roster_model.index(0, 0)
    with qtbot.waitSignal(page.open_client, timeout=1000) as opened:
        page.details.roster.doubleClicked.emit(index)
    assert opened.args == [clinic_data["begay"]]


# -- roles -----------------------------------------------------------------------------------
def test_roles_see_only_what_they_may_do(qtbot, env, clinic_data):
    generate(env)
    billing = open_page(qtbot, env, env.world.billing)
    assert not any(
        b.isVisible() for b in (billing.book_btn, billing.generate_btn, billing.close_btn)
    )
    billing.select_session(group_on(env, MON).id)
    settle()
    d = billing.details
    assert not d.sign_in.isVisible() and not d.cancel.isVisible()
    assert not d.add_client.isVisible() and d.roster_hint.isVisible()

    therapist = open_page(qtbot, env, env.world.therapist)
    assert not therapist.book_btn.isVisible()
    assert therapist.therapist_filter.currentText() == "My schedule"  # their own sessions first
    therapist.select_session(group_on(env, MON).id)
    settle()
    assert column_titles(therapist) == [[]] * 7  # Theo facilitates nothing yet
    choose(therapist.therapist_filter, None)
    assert therapist.select_session(group_on(env, MON).id)
    settle()
    assert therapist.details.sign_in.isVisible() and not therapist.details.cancel.isVisible()

    desk = open_page(qtbot, env, env.world.front_desk)
    assert desk.book_btn.isVisible() and desk.close_btn.isVisible()


def test_wrap_text_keeps_two_lines_and_elides(qtbot, backend):
    from PySide6.QtGui import QFont, QFontMetrics

    fm = QFontMetrics(QFont())
    width = fm.horizontalAdvance("Adult Mental")
    lines = wrap_text("Adult Mental Health Day IOP Program", fm, width, 2)
    assert len(lines) == 2 and lines[0] == "Adult Mental" and lines[1].endswith("…")
    assert wrap_text("Short", fm, width, 2) == ["Short"]


def test_book_90846_family_session_audio_only(qtbot, env, clinic_data):
    """Issue 20 item 10: the booking dialog offers family psychotherapy without the client
    present (90846) and audio-only telehealth; chosen from the keyboard, they are stored."""
    page = open_page(qtbot, env)
    dialog = page.book_appointment(TUE)
    settle()  # what the dialog shows is read on a worker
    kinds = [dialog.kind.itemText(i) for i in range(dialog.kind.count())]
    assert "Family, client not present (90846)" in kinds
    places = [dialog.telehealth.itemText(i) for i in range(dialog.telehealth.count())]
    assert "Telehealth, audio only - client at home" in places
    dialog.kind.setFocus()
    while dialog.kind.currentData() != "family_without_client":
        qtbot.keyClick(dialog.kind, Qt.Key.Key_Down)
        settle()
    dialog.telehealth.setFocus()
    while dialog.telehealth.currentData() != "home_audio":
        qtbot.keyClick(dialog.telehealth, Qt.Key.Key_Down)
        settle()
    dialog.client.lineEdit().setText("Begay")  # typing would pop up the completer
    choose(dialog.therapist, clinic_data["tina"])
    dialog.start.setTime(QTime(13, 0))
    ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.error.text()
    (booked,) = [
        s
        for s in schedule.list_sessions(env.db, env.world.admin, TUE, TUE)
        if s.kind == "family_without_client"
    ]
    assert booked.telehealth == "home_audio"
