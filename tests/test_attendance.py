"""The sign-in sheet: defaults, validation, minutes from times, held sessions, permissions,
statement count, and two workstations saving the same sheet (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, time, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import col, select

from iopdesk.db import Database
from iopdesk.errors import PermissionDenied, StaleRecordError, ValidationError
from iopdesk.models import Attendance, AuditEvent, ClinicSession
from iopdesk.services import attendance, audit, schedule
from iopdesk.services.attendance import AttendanceEntry, record_attendance, sign_in_sheet
from tests.conftest import TEST_KEY, Env
from tests.test_concurrency import STALE, _race
from tests.test_schedule import MON, TODAY, make_track, new_client, session_on, staff_id

START, END = time(18), time(21)


@pytest.fixture
def second(env: Env) -> Iterator[Database]:
    """A second workstation: its own Database on the same target."""
    db = Database.open(env.reopen_target, key=TEST_KEY if env.backend == "sqlite" else None)
    try:
        yield db
    finally:
        db.close()


def group(env, n_clients: int = 3, day: date = MON) -> tuple[schedule.SessionInfo, list[int]]:
    """A Monday 18-21 group with n enrolled clients (Aa..., Ab..., in roster order)."""
    tid = make_track(env, f"G{day.toordinal()}", [(day.weekday(), START, END)])
    ids = [
        new_client(env, f"C{i:02d}", f"A{chr(97 + i)}client", tid, day - timedelta(days=30))
        for i in range(n_clients)
    ]
    schedule.generate_sessions(env.db, env.world.front_desk, day, weeks=1, track_id=tid)
    return session_on(env, tid, day), ids


def stored(env, session_id: int) -> dict[int, tuple]:
    with env.db.session() as s:
        rows = s.exec(select(Attendance).where(Attendance.session_id == session_id)).all()
        return {
            r.client_id: (r.status, r.minutes, r.arrival_time, r.departure_time, r.version)
            for r in rows
        }


def test_sheet_lists_the_roster_with_defaults(env):
    s, ids = group(env)
    sheet = sign_in_sheet(env.db, env.world.billing, s.id)
    assert sheet.session.id == s.id and sheet.session_version == s.version
    assert sheet.default_minutes == 180 and sheet.editable and sheet.blocked_reason == ""
    assert [r.client_id for r in sheet.rows] == ids
    assert {(r.status, r.minutes, r.source) for r in sheet.rows} == {(None, None, "enrolled")}
    assert sheet.recorded == 0


def test_save_defaults_absent_zero_and_minutes_from_times(env):
    fd = env.world.front_desk
    s, (a, b, c, d, e) = group(env, 5)
    before = audit.count_events(env.db)
    sheet = record_attendance(
        env.db,
        fd,
        s.id,
        s.version,
        [
            AttendanceEntry(a, "present"),
            AttendanceEntry(b, "late", arrival_time=time(18, 20)),
            AttendanceEntry(c, "left_early", departure_time=time(20)),
            # Absent is 0 minutes and no times, whatever the row still held.
            AttendanceEntry(d, "absent_excused", minutes=90, arrival_time=time(18)),
            AttendanceEntry(e, "late", minutes=150),
        ],
    )
    rows = {r.client_id: r for r in sheet.rows}
    assert [(rows[x].status, rows[x].minutes) for x in (a, b, c, d, e)] == [
        ("present", 180),
        ("late", 160),
        ("left_early", 120),
        ("absent_excused", 0),
        ("late", 150),
    ]
    assert (rows[b].arrival_time, rows[b].departure_time) == (time(18, 20), None)
    assert (rows[d].arrival_time, rows[d].departure_time) == (None, None)
    # The session is now held and its version moved on.
    assert (sheet.session.status, sheet.session_version) == ("held", s.version + 1)
    assert sheet.session.version == s.version + 1 and sheet.recorded == 5
    # One audit event: the session, counts only, no client.
    assert audit.count_events(env.db) == before + 1
    with env.db.session() as session:
        ev = session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc())).first()
    assert (ev.entity, ev.entity_id, ev.client_id) == ("session", str(s.id), None)
    assert "5 rows" in ev.detail and "late=2" in ev.detail and "client" not in ev.detail.lower()
    assert audit.verify(env.db).ok


def test_resave_updates_changed_rows_only(env):
    fd = env.world.front_desk
    s, (a, b, c) = group(env)
    first = record_attendance(
        env.db, fd, s.id, s.version, [AttendanceEntry(x, "present") for x in (a, b, c)]
    )
    second = record_attendance(
        env.db,
        fd,
        s.id,
        first.session_version,
        [
            AttendanceEntry(a, "present"),
            AttendanceEntry(b, "absent_unexcused"),
            AttendanceEntry(c, "left_early", minutes=60),
        ],
    )
    assert second.session.status == "held" and second.session_version == s.version + 2
    rows = stored(env, s.id)
    assert rows[a] == ("present", 180, None, None, 1)  # unchanged: not rewritten
    assert rows[b] == ("absent_unexcused", 0, None, None, 2)
    assert rows[c] == ("left_early", 60, None, None, 2)


@pytest.mark.parametrize(
    ("entry", "field", "words"),
    [
        (AttendanceEntry(0, "late"), "minutes", "arrival time or the minutes"),
        (AttendanceEntry(0, "left_early"), "minutes", "departure time or the minutes"),
        (AttendanceEntry(0, "present", minutes=181), "minutes", "between 0 and 180"),
        (AttendanceEntry(0, "present", minutes=-1), "minutes", "between 0 and 180"),
        (AttendanceEntry(0, "late", arrival_time=time(6, 20)), "arrival_time", "check AM/PM"),
        (AttendanceEntry(0, "late", arrival_time=time(21)), "arrival_time", "before the session"),
        (AttendanceEntry(0, "left_early", departure_time=time(18)), "departure_time", "after"),
        (
            AttendanceEntry(0, "late", arrival_time=time(19), departure_time=time(18, 30)),
            "departure_time",
            "after arrival",
        ),
        (AttendanceEntry(0, "here"), "status", "Choose present"),
    ],
)
def test_row_rules(entry, field, words):
    values, errors = attendance.resolve_entry(entry, START, END)
    assert values == {}
    assert list(errors) == [f"rows.0.{field}"]
    assert words in errors[f"rows.0.{field}"]


def test_row_minutes_from_times_are_clipped_to_the_session():
    def minutes(**kw):
        values, errors = attendance.resolve_entry(AttendanceEntry(0, **kw), START, END)
        assert errors == {}
        return values["minutes"]

    assert minutes(status="present") == 180
    assert minutes(status="present", arrival_time=time(17, 45)) == 180  # early: from the start
    assert minutes(status="late", arrival_time=time(18, 5), departure_time=time(21, 30)) == 175
    assert minutes(status="left_early", arrival_time=time(18, 30), departure_time=time(20)) == 90
    assert minutes(status="late", minutes=0) == 0
    assert minutes(status="absent_unexcused", minutes=45) == 0


def test_invalid_sheet_writes_nothing(env):
    fd = env.world.front_desk
    s, (a, b, c) = group(env)
    outsider = new_client(env, "Out", "Sider", None, None)
    with pytest.raises(ValidationError) as bad:
        record_attendance(
            env.db,
            fd,
            s.id,
            s.version,
            [AttendanceEntry(a, "present"), AttendanceEntry(b, "late"), AttendanceEntry(c, "x")],
        )
    assert set(bad.value.fields) == {f"rows.{b}.minutes", f"rows.{c}.status"}
    assert "highlighted rows" in bad.value.message
    with pytest.raises(ValidationError) as off:
        record_attendance(env.db, fd, s.id, s.version, [AttendanceEntry(outsider, "present")])
    assert off.value.fields == {f"rows.{outsider}.client_id": "Not on the roster."}
    with pytest.raises(ValidationError, match="twice"):
        record_attendance(env.db, fd, s.id, s.version, [AttendanceEntry(a, "present")] * 2)
    with pytest.raises(ValidationError, match="at least one"):
        record_attendance(env.db, fd, s.id, s.version, [])
    assert stored(env, s.id) == {}
    again = schedule.get_session(env.db, fd, s.id)
    assert (again.status, again.version) == ("scheduled", s.version)
    # Added to the roster, the same client can be signed in.
    schedule.add_to_roster(env.db, fd, s.id, outsider, "Walk-in")
    sheet = record_attendance(env.db, fd, s.id, s.version, [AttendanceEntry(outsider, "present")])
    assert {r.client_id: r.source for r in sheet.rows}[outsider] == "added"


def test_future_and_cancelled_sessions_cannot_be_signed_in(env):
    fd = env.world.front_desk
    future_day = TODAY + timedelta(days=9)
    s, (a, *_) = group(env, 1, future_day)
    sheet = sign_in_sheet(env.db, fd, s.id)
    assert not sheet.editable and "in the future" in sheet.blocked_reason
    with pytest.raises(ValidationError) as future:
        record_attendance(env.db, fd, s.id, s.version, [AttendanceEntry(a, "present")])
    assert "in the future" in future.value.message and future.value.fields == {}
    past, (b, *_) = group(env, 1)
    gone = schedule.cancel_session(env.db, fd, past.id, past.version, "Flood")
    with pytest.raises(ValidationError, match="cancelled"):
        record_attendance(env.db, fd, past.id, gone.version, [AttendanceEntry(b, "present")])
    assert stored(env, s.id) == {} and stored(env, past.id) == {}


def test_individual_session_sheet_is_its_client(env):
    w = env.world
    ind = schedule.book_session(
        env.db,
        w.front_desk,
        "individual",
        w.client_own,
        staff_id(env, "T1"),
        MON,
        time(10),
        time(10, 50),
    )
    sheet = sign_in_sheet(env.db, w.therapist, ind.id)
    assert [(r.client_id, r.source) for r in sheet.rows] == [(w.client_own, "booked")]
    assert sheet.default_minutes == 50
    done = record_attendance(
        env.db,
        w.therapist,
        ind.id,
        sheet.session_version,
        [AttendanceEntry(w.client_own, "present")],
    )
    assert (done.rows[0].minutes, done.session.status) == (50, "held")


def test_billing_cannot_record_attendance_front_desk_can(env):
    w = env.world
    s, (a, *_) = group(env, 1)
    assert len(sign_in_sheet(env.db, w.billing, s.id).rows) == 1  # may read it
    with pytest.raises(PermissionDenied):
        record_attendance(env.db, w.billing, s.id, s.version, [AttendanceEntry(a, "present")])
    assert stored(env, s.id) == {}
    saved = record_attendance(
        env.db, w.front_desk, s.id, s.version, [AttendanceEntry(a, "present")]
    )
    assert saved.rows[0].status == "present"


def test_roster_change_does_not_make_an_open_sheet_stale(env):
    fd = env.world.front_desk
    s, (a, b) = group(env, 2)
    open_sheet = sign_in_sheet(env.db, fd, s.id)
    schedule.add_to_roster(env.db, env.world.supervisor, s.id, env.world.client_own, "Walk-in")
    saved = record_attendance(
        env.db, fd, s.id, open_sheet.session_version, [AttendanceEntry(a, "present")]
    )
    assert len(saved.rows) == 3 and saved.recorded == 1
    assert {r.client_id: r.status for r in saved.rows}[b] is None


def test_stale_second_save_is_refused_and_first_save_intact(env, second):
    w = env.world
    s, (a, b, c) = group(env)
    mine = sign_in_sheet(env.db, w.front_desk, s.id)
    theirs = sign_in_sheet(second, w.therapist, s.id)
    assert mine.session_version == theirs.session_version

    saved = record_attendance(
        env.db,
        w.front_desk,
        s.id,
        mine.session_version,
        [AttendanceEntry(a, "present"), AttendanceEntry(b, "late", arrival_time=time(18, 30))],
    )
    events = audit.count_events(env.db)
    with pytest.raises(StaleRecordError) as caught:
        record_attendance(
            second,
            w.therapist,
            s.id,
            theirs.session_version,
            [
                AttendanceEntry(a, "absent_unexcused"),
                AttendanceEntry(b, "present"),
                AttendanceEntry(c, "present"),
            ],
        )
    assert STALE in caught.value.message and "sign-in sheet" in caught.value.message
    assert audit.count_events(env.db) == events  # nothing of the refused save was written
    expected = {a: ("present", 180), b: ("late", 150)}
    for db in (env.db, second):
        reloaded = sign_in_sheet(db, w.admin, s.id)
        assert reloaded.session_version == saved.session_version
        assert {r.client_id: (r.status, r.minutes) for r in reloaded.rows if r.status} == expected
    # After reloading, the second workstation adds its entry on top.
    reloaded = sign_in_sheet(second, w.therapist, s.id)
    final = record_attendance(
        second, w.therapist, s.id, reloaded.session_version, [AttendanceEntry(c, "present")]
    )
    assert {r.client_id: r.status for r in final.rows} == {a: "present", b: "late", c: "present"}


def test_two_workstations_saving_at_the_same_moment_exactly_one_wins(env, second):
    w = env.world
    s, ids = group(env, 4)
    plans = {
        "front": [AttendanceEntry(i, "present") for i in ids],
        "back": [AttendanceEntry(i, "absent_excused") for i in ids],
    }
    results = _race(
        [
            lambda: record_attendance(env.db, w.front_desk, s.id, s.version, plans["front"]),
            lambda: record_attendance(second, w.supervisor, s.id, s.version, plans["back"]),
        ]
    )
    stale = [r for r in results if isinstance(r, StaleRecordError)]
    won = [r for r in results if isinstance(r, attendance.SignInSheet)]
    assert len(stale) == 1 and len(won) == 1, results
    winner = won[0]
    statuses = {r.status for r in winner.rows}
    assert len(statuses) == 1  # the winner's whole sheet, not a mix
    rows = stored(env, s.id)
    assert {v[0] for v in rows.values()} == statuses and len(rows) == 4
    assert all(v[4] == 1 for v in rows.values())
    with env.db.session() as session:
        row = session.get(ClinicSession, s.id)
        assert (row.version, row.status) == (s.version + 1, "held")
    assert audit.verify(env.db).ok


def test_a_fifteen_client_save_is_a_fixed_handful_of_statements(env):
    fd = env.world.front_desk
    small, small_ids = group(env, 3)
    big, big_ids = group(env, 15, MON + timedelta(days=1))
    counts = []
    for s, ids in ((small, small_ids), (big, big_ids)):
        statements: list[str] = []

        def count(conn, cursor, statement, *args, _log=statements):
            _log.append(statement)

        event.listen(env.db.engine, "before_cursor_execute", count)
        try:
            record_attendance(
                env.db, fd, s.id, s.version, [AttendanceEntry(i, "present") for i in ids]
            )
        finally:
            event.remove(env.db.engine, "before_cursor_execute", count)
        counts.append(len(statements))
        inserts = [q for q in statements if q.lstrip().upper().startswith("INSERT INTO ATTENDANCE")]
        assert len(inserts) == 1, inserts
    assert counts[0] == counts[1], counts  # independent of the number of clients
    assert counts[1] <= 25, counts
