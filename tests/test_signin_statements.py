"""Issue 18: the sign-in sheet over a clinic network. Saving a full group's sheet is at most
15 SQL statements (round trips) on SQLite and PostgreSQL, and still refuses a stale sheet and a
client who is not on the roster with the messages the front desk sees."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from sqlmodel import col, select

from iopdesk.errors import StaleRecordError, ValidationError
from iopdesk.models import Attendance, AuditEvent
from iopdesk.services import audit, schedule
from iopdesk.services.attendance import AttendanceEntry, record_attendance, sign_in_sheet
from tests.helpers import count_statements
from tests.test_attendance import group
from tests.test_schedule import MON, new_client, staff_id

MAX_STATEMENTS = 15
ROSTER = 15  # a full group


def stored(env, session_id: int) -> dict[int, tuple]:
    with env.db.session() as s:
        rows = s.exec(select(Attendance).where(Attendance.session_id == session_id)).all()
        return {r.client_id: (r.status, r.minutes, r.arrival_time, r.departure_time) for r in rows}


def audit_count(env, session_id: int) -> int:
    with env.db.session() as s:
        return len(
            s.exec(
                select(AuditEvent.id).where(
                    col(AuditEvent.entity) == "session",
                    col(AuditEvent.entity_id) == str(session_id),
                )
            ).all()
        )


def full_group(env):
    """A group of 15 enrolled clients plus one walk-in added to this occurrence, with a
    facilitator: every part of the sheet has something to show."""
    s, ids = group(env, ROSTER)
    walk_in = new_client(env, "Walk", "Zin", None, None)
    schedule.add_to_roster(env.db, env.world.front_desk, s.id, walk_in, "Walk-in")
    s = schedule.get_session(env.db, env.world.front_desk, s.id)
    s = schedule.set_facilitators(
        env.db, env.world.front_desk, s.id, s.version, [staff_id(env, "T1")]
    )
    return s, [*ids, walk_in]


def marks(ids: list[int], flip: bool = False) -> list[AttendanceEntry]:
    out = []
    for i, cid in enumerate(ids):
        if (i % 4 == 0) != flip:
            out.append(AttendanceEntry(cid, "late", arrival_time=time(18, 30)))
        elif i % 4 == 1:
            out.append(AttendanceEntry(cid, "absent_excused"))
        else:
            out.append(AttendanceEntry(cid, "present"))
    return out


def test_full_roster_save_is_at_most_15_statements_and_saves_everything(env):
    fd = env.world.front_desk
    s, ids = full_group(env)
    sheet = sign_in_sheet(env.db, fd, s.id)
    assert len(sheet.rows) == ROSTER + 1
    events = audit_count(env, s.id)
    for attempt, flip in ((1, False), (2, True)):  # first save inserts, the second updates
        with count_statements(env.db) as seen:
            saved = record_attendance(env.db, fd, s.id, sheet.session_version, marks(ids, flip))
        assert len(seen) <= MAX_STATEMENTS, (attempt, len(seen), seen)
        writes = [q for q in seen if q.lstrip().upper().startswith("INSERT INTO ATTENDANCE")]
        assert len(writes) == 1, writes  # one upsert for the whole sheet
        rows = stored(env, s.id)
        assert set(rows) == set(ids)
        expected = {e.client_id: e.status for e in marks(ids, flip)}
        assert {cid: r[0] for cid, r in rows.items()} == expected
        late = [cid for cid, st in expected.items() if st == "late"]
        assert all(rows[c][1:3] == (150, time(18, 30)) for c in late)
        assert saved.session_version == sheet.session_version + 1
        assert saved.session.status == "held" and saved.recorded == ROSTER + 1
        # The sheet the save returns is the sheet a fresh load shows.
        assert saved == sign_in_sheet(env.db, fd, s.id)
        assert audit_count(env, s.id) == events + attempt  # one event per save
        sheet = saved
    assert audit.verify(env.db).ok


def test_loading_the_sheet_is_at_most_15_statements(env):
    s, _ids = full_group(env)
    with count_statements(env.db) as seen:
        sheet = sign_in_sheet(env.db, env.world.billing, s.id)
    assert len(seen) <= MAX_STATEMENTS, seen
    assert len(sheet.rows) == ROSTER + 1 and sheet.session.facilitators


def test_stale_sheet_is_refused_and_writes_nothing(env):
    fd = env.world.front_desk
    s, ids = full_group(env)
    sheet = sign_in_sheet(env.db, fd, s.id)
    # Another workstation saves first.
    record_attendance(env.db, env.world.supervisor, s.id, sheet.session_version, marks(ids))
    before, events = stored(env, s.id), audit_count(env, s.id)
    with count_statements(env.db) as seen, pytest.raises(StaleRecordError) as stale:
        record_attendance(env.db, fd, s.id, sheet.session_version, marks(ids, flip=True))
    assert stale.value.title == "Changed on another workstation"
    assert stale.value.message == (
        "This sign-in sheet was changed on another workstation after you opened it. Your "
        "changes were not saved. The record will be reloaded so you can see the latest version "
        "and make your changes again."
    )
    assert len(seen) <= MAX_STATEMENTS
    assert stored(env, s.id) == before and audit_count(env, s.id) == events
    assert schedule.get_session(env.db, fd, s.id).version == sheet.session_version + 1


def test_client_not_on_the_roster_is_refused_and_nothing_is_saved(env):
    fd = env.world.front_desk
    s, ids = full_group(env)
    outsider = new_client(env, "Out", "Sider", None, None)
    # Enrolled in the track only after this session: not on its roster either.
    late_joiner = new_client(env, "Late", "Joiner", s.track_id, MON + timedelta(days=7))
    sheet = sign_in_sheet(env.db, fd, s.id)
    events = audit_count(env, s.id)
    for stranger in (outsider, late_joiner):
        with pytest.raises(ValidationError) as refused:
            record_attendance(
                env.db,
                fd,
                s.id,
                sheet.session_version,
                [*marks(ids), AttendanceEntry(stranger, "present")],
            )
        assert refused.value.message == (
            "A client on the sheet is not on this session's roster. Add them to the roster "
            "first, then sign them in."
        )
        assert refused.value.fields == {f"rows.{stranger}.client_id": "Not on the roster."}
    # Nothing of the refused saves was written, and the sheet is not stale because of them.
    assert stored(env, s.id) == {} and audit_count(env, s.id) == events
    again = schedule.get_session(env.db, fd, s.id)
    assert (again.status, again.version) == ("scheduled", sheet.session_version)
    saved = record_attendance(env.db, fd, s.id, sheet.session_version, marks(ids))
    assert saved.recorded == ROSTER + 1


def test_saving_part_of_the_sheet_keeps_the_other_marks(env):
    fd = env.world.front_desk
    s, ids = full_group(env)
    first = record_attendance(env.db, fd, s.id, s.version, marks(ids))
    one = ids[1]
    with count_statements(env.db) as seen:
        saved = record_attendance(
            env.db, fd, s.id, first.session_version, [AttendanceEntry(one, "absent_unexcused")]
        )
    assert len(seen) <= MAX_STATEMENTS
    assert saved == sign_in_sheet(env.db, fd, s.id)
    rows = stored(env, s.id)
    assert rows[one] == ("absent_unexcused", 0, None, None)
    assert {c: r[0] for c, r in rows.items() if c != one} == {
        e.client_id: e.status for e in marks(ids) if e.client_id != one
    }


def test_individual_session_sheet_saves_within_the_limit(env):
    w = env.world
    cid = new_client(env, "Indy", "Vidual", None, MON - timedelta(days=10))
    info = schedule.book_session(
        env.db, w.front_desk, "individual", cid, staff_id(env, "T1"), MON, time(10), time(11)
    )
    with count_statements(env.db) as seen:
        saved = record_attendance(
            env.db, w.front_desk, info.id, info.version, [AttendanceEntry(cid, "present")]
        )
    assert len(seen) <= MAX_STATEMENTS
    assert saved.session.title == "Individual: Vidual, Indy"
    assert saved == sign_in_sheet(env.db, w.front_desk, info.id)


def test_empty_roster_sheet_loads_and_refuses_a_stranger(env):
    fd = env.world.front_desk
    s, ids = group(env, 0)
    assert ids == []
    with count_statements(env.db) as seen:
        sheet = sign_in_sheet(env.db, fd, s.id)
    assert len(seen) <= MAX_STATEMENTS
    assert sheet.rows == () and sheet.editable and sheet.session.roster_count == 0
    stranger = new_client(env, "No", "Roster", None, None)
    with pytest.raises(ValidationError) as refused:
        record_attendance(
            env.db, fd, s.id, sheet.session_version, [AttendanceEntry(stranger, "present")]
        )
    assert refused.value.fields == {f"rows.{stranger}.client_id": "Not on the roster."}
    assert stored(env, s.id) == {}
