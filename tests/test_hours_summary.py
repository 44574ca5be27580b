"""The weekly hours dashboard's fast paths, held against the general ones on a real database
(SQLite and PostgreSQL):

- `attendance_day`, the per client-and-day summary the database keeps with triggers
  (migration 0013_attendance_day), equals a recompute from the attendance rows after every
  kind of write, made with plain SQL as another program would make it;
- the dashboard (`weekly_hours`: the summary and the one-week row builder `_week_rows`) gives
  exactly the rows of the general path (`history_for_clients` for one week: the attendance
  aggregate and `_client_rows`) in randomized clinics: closures, clinic-cancelled groups, day
  minimums, odd block weekdays, overrides with and without an end date, transfers, voided
  enrollments, several therapists, excused and unexcused absences, family sessions without
  the client, past, current and future weeks, other week starts, track and therapist filters.
"""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, text, update
from sqlmodel import select

from iopdesk.models import (
    Attendance,
    AttendanceDay,
    Client,
    ClinicClosure,
    ClinicSession,
    Staff,
    TherapistAssignment,
    Track,
    TrackBlock,
    TrackEnrollment,
)
from iopdesk.services import clinic, hours
from iopdesk.services.hours import WeekRow

NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
W = date(2026, 3, 2)  # a Monday: the middle of the randomized clinic's span
ATTENDED = ("present", "late", "left_early")
STATUSES = (*ATTENDED, "absent_excused", "absent_unexcused", "absent_unexcused")
TRIGGERS = {
    "attendance_day_on_insert",
    "attendance_day_on_update",
    "attendance_day_on_move",
    "attendance_day_on_delete",
    "attendance_day_on_session_update",
    "attendance_day_on_session_delete",
}


def _t(minute: int) -> time:
    return time(minute // 60, minute % 60)


def build_clinic(db: Any, rng: random.Random, clients: int = 24) -> dict[str, list[int]]:
    """A random clinic around the week of W, written through the models."""
    made: dict[str, list[int]] = defaultdict(list)
    first, last = W - timedelta(days=28), W + timedelta(days=20)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    with db.session() as s:
        staff = []
        for i in range(3):
            member = Staff(staff_code=f"RS{i}", first_name=f"Sam{i}", last_name="Rand")
            member.credentials = rng.choice(["", "LCSW"])
            s.add(member)
            s.flush()
            staff.append(member.id)
        made["staff"] = staff
        tracks = []
        for i in range(3):
            track = Track(
                track_code=f"R{i}",
                name=rng.choice([f"Rand {i}", "Shared name"]),
                required_weekly_hours=Decimal(rng.choice(["9", "6", "12.5", "7.75", "0"])),
                required_weekly_days=rng.choice([0, 0, 1, 2, 3]),
            )
            s.add(track)
            s.flush()
            weekdays = rng.sample(range(7), rng.randint(0 if i == 2 else 1, 5))
            for wd in weekdays:
                s.add(
                    TrackBlock(
                        track_id=track.id,
                        weekday=wd,
                        start_time=time(9),
                        end_time=time(12),
                        active=rng.random() > 0.15,
                    )
                )
            tracks.append((track.id, set(weekdays)))
        made["tracks"] = [t for t, _ in tracks]
        for day in rng.sample(days, 3):
            s.add(ClinicClosure(closure_date=day, reason="Holiday"))
        people = []
        for i in range(clients):
            override = rng.choice([None, None, None, Decimal("5"), Decimal("10.5")])
            until = None
            if override is not None and rng.random() < 0.5:
                until = W + timedelta(days=rng.randint(-10, 10))
            client = Client(
                mrn=f"RZ{i:03d}",
                first_name=f"Pat{i}",
                last_name=rng.choice(["Lee", "Ode", "Ray"]),
                dob=date(1990, 1, 1),
                status="active",
                required_weekly_hours=override,
                required_hours_until=until,
                part2=rng.random() < 0.3,
            )
            s.add(client)
            s.flush()
            people.append(client.id)
            start = W + timedelta(days=rng.randint(-25, 12))
            for _ in range(rng.choice([1, 1, 1, 2, 3])):
                end = rng.choice([None, start + timedelta(days=rng.randint(0, 14))])
                track_id = rng.choice(made["tracks"])
                enrollment = TrackEnrollment(
                    client_id=client.id, track_id=track_id, start_date=start, end_date=end
                )
                if rng.random() < 0.1:
                    enrollment.voided_at = NOW
                s.add(enrollment)
                if end is None:
                    break
                start = end if rng.random() < 0.5 else end + timedelta(days=rng.randint(1, 5))
            for _ in range(rng.choice([0, 1, 1, 2])):
                begin = W + timedelta(days=rng.randint(-20, 10))
                s.add(
                    TherapistAssignment(
                        client_id=client.id,
                        staff_id=rng.choice(staff),
                        role=rng.choice(["primary_therapist"] * 4 + ["case_manager"]),
                        start_date=begin,
                        end_date=rng.choice([None, begin + timedelta(days=rng.randint(0, 9))]),
                    )
                )
        made["clients"] = people
        s.flush()
        for day in days:
            for track_id, weekdays in tracks:
                if day.weekday() not in weekdays and rng.random() > 0.05:
                    continue
                for _ in range(rng.choice([1, 1, 2])):
                    status = rng.choice(["held"] * 6 + ["cancelled", "scheduled"])
                    start = rng.choice([540, 540, 600, 780])
                    session = ClinicSession(
                        kind="group",
                        track_id=track_id,
                        session_date=day,
                        start_time=_t(start),
                        end_time=_t(start + rng.choice([60, 180, 0])),
                        status=status,
                        cancelled_by_clinic=status == "cancelled" and rng.random() < 0.7,
                    )
                    s.add(session)
                    s.flush()
                    made["sessions"].append(session.id)
                    for cid in rng.sample(people, rng.randint(0, min(8, len(people)))):
                        s.add(_attendance(rng, session.id, cid))
            for cid in rng.sample(people, 2):
                kind = rng.choice(["individual", "family", "family_without_client", "intake"])
                status = rng.choice(["held", "held", "scheduled", "cancelled"])
                session = ClinicSession(
                    kind=kind,
                    client_id=cid,
                    session_date=day,
                    start_time=_t(rng.choice([540, 840, 900])),
                    end_time=_t(960),
                    status=status,
                )
                s.add(session)
                s.flush()
                made["sessions"].append(session.id)
                if status != "scheduled" or rng.random() < 0.2:
                    s.add(_attendance(rng, session.id, cid))
    return made


def _attendance(rng: random.Random, session_id: int, client_id: int) -> Attendance:
    status = rng.choice(STATUSES)
    minutes = rng.choice([0, 45, 60, 180]) if status in ATTENDED else rng.choice([0, 0, 30])
    return Attendance(session_id=session_id, client_id=client_id, status=status, minutes=minutes)


def recompute(db: Any) -> dict[tuple[date, int], tuple[int, int, int, int]]:
    """attendance_day from its definition, in Python over the attendance rows."""
    rows: dict[tuple[date, int], list[tuple[int, str, int]]] = defaultdict(list)
    with db.session() as s:
        for day, start, cid, status, minutes in s.execute(
            select(
                ClinicSession.session_date,
                ClinicSession.start_time,
                Attendance.client_id,
                Attendance.status,
                Attendance.minutes,
            )
            .join(Attendance, Attendance.session_id == ClinicSession.id)  # type: ignore[arg-type]
            .where(
                ClinicSession.status == "held",
                ClinicSession.kind != "family_without_client",
            )
        ):
            rows[(day, cid)].append((start.hour * 60 + start.minute, status, minutes))
    out = {}
    for key, marks in rows.items():
        others = [m for m, status, _ in marks if status != "absent_unexcused"]
        last_other = max(others) if others else -1
        out[key] = (
            sum(minutes for _, status, minutes in marks if status in ATTENDED),
            sum(1 for _, status, _ in marks if status in ATTENDED),
            len(others),
            sum(1 for m, status, _ in marks if status == "absent_unexcused" and m > last_other),
        )
    return out


def summary(db: Any) -> dict[tuple[date, int], tuple[int, int, int, int]]:
    with db.session() as s:
        return {
            (r.day, r.client_id): (r.minutes, r.attended, r.others, r.tail)
            for r in s.exec(select(AttendanceDay))
        }


def expected_week(
    db: Any,
    actor: Any,
    week_of: date,
    today: date,
    track_id: int | None = None,
    staff_id: int | None = None,
) -> list[WeekRow]:
    """The dashboard by the general path: every client enrolled in the week (not voided),
    one week of `history_for_clients` each (the attendance aggregate and `_client_rows`),
    the filters applied from the tables, ordered by MRN."""
    first, last = hours.week_bounds(db, week_of)
    with db.session() as s:
        spans = s.exec(
            select(TrackEnrollment).where(
                TrackEnrollment.voided_at.is_(None),  # type: ignore[union-attr]
                TrackEnrollment.start_date <= last,
            )
        ).all()
        enrolled: dict[int, set[int]] = defaultdict(set)
        for e in spans:
            if e.end_date is None or e.end_date >= first:
                enrolled[e.client_id].add(e.track_id)
        primary: dict[int, tuple[date, int, int]] = {}
        for a in s.exec(
            select(TherapistAssignment).where(
                TherapistAssignment.role == "primary_therapist",
                TherapistAssignment.voided_at.is_(None),  # type: ignore[union-attr]
            )
        ):
            if a.start_date <= last and (a.end_date is None or a.end_date >= first):
                key = (a.start_date, a.id or 0, a.staff_id)
                if a.client_id not in primary or key > primary[a.client_id]:
                    primary[a.client_id] = key
    ids = [
        cid
        for cid, tracks in enrolled.items()
        if (track_id is None or track_id in tracks)
        and (staff_id is None or (cid in primary and primary[cid][2] == staff_id))
    ]
    if not ids:
        return []
    history = hours.history_for_clients(db, actor, ids, first, first, today=today)
    rows = [history[cid][0] for cid in ids]
    return sorted(rows, key=lambda r: (r.mrn, r.client_id))


def check_dashboard(db: Any, actor: Any, made: dict[str, list[int]], rng: random.Random) -> int:
    """The dashboard equals the general path for several weeks, "today"s and filters."""
    compared = 0
    for offset in (-21, -7, 0, 7, 14):
        week_of = W + timedelta(days=offset + rng.randint(0, 6))
        first, last = hours.week_bounds(db, week_of)
        todays = (first - timedelta(days=3), first + timedelta(days=rng.randint(0, 6)), last)
        for today in todays:
            got = hours.weekly_hours(db, actor, week_of, today=today)
            assert got == expected_week(db, actor, week_of, today), (week_of, today)
            compared += len(got)
        today = todays[1]
        for track_id in made["tracks"]:
            got = hours.weekly_hours(db, actor, week_of, track_id=track_id, today=today)
            assert got == expected_week(db, actor, week_of, today, track_id=track_id)
        for staff_id in made["staff"]:
            got = hours.weekly_hours(db, actor, week_of, therapist_staff_id=staff_id, today=today)
            assert got == expected_week(db, actor, week_of, today, staff_id=staff_id)
    return compared


# ------------------------------------------------------------------------------------------


def test_summary_triggers_exist_at_head(db):
    """SQLite drops a table's triggers when a migration recreates the table: a later
    migration that does so must create them again (0013_attendance_day.create_triggers)."""
    with db.engine.connect() as conn:
        if db.backend == "postgresql":
            names = conn.execute(
                text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
            ).scalars()
        else:
            names = conn.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            ).scalars()
        found = set(names)
    assert found >= TRIGGERS
    if db.backend == "sqlite":  # a status change across unexcused / other recomputes there
        assert "attendance_day_on_status" in found


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_dashboard_equals_the_general_path_in_random_clinics(env, seed):
    """The fast row builder (`_week_rows`) and the summary agree with `_client_rows` and the
    attendance aggregate in every case; with the week starting on another day too."""
    rng = random.Random(seed)
    made = build_clinic(env.db, rng)
    admin = env.world.admin
    assert summary(env.db) == recompute(env.db)
    compared = check_dashboard(env.db, admin, made, rng)
    clinic.set_setting(env.db, admin, "week_start", rng.choice(["Sun", "Wed", "Sat"]))
    compared += check_dashboard(env.db, admin, made, rng)
    # the cases are real ones: rows with every status, streaks, day minimums and projections
    rows = [
        r
        for offset in range(-21, 15, 7)
        for r in hours.weekly_hours(env.db, admin, W + timedelta(days=offset), today=W)
    ]
    assert compared > 200
    assert {r.status for r in rows} == {"met", "not met", "no requirement"}
    assert any(r.unexcused_streak >= 2 for r in rows)
    assert any(r.required_days for r in rows)
    assert {r.projection for r in rows} >= {"on track", "at risk", None}


def test_summary_follows_every_kind_of_write(env):
    """Writes made with plain SQL (as the command line, another workstation or an import
    would): inserts, status and minutes changes, moved and re-timed sessions, a session
    held and then cancelled, a family session turned into one without the client, rows
    moved to another session or client, deletions. The summary stays equal to a recompute,
    and the dashboard to the general path."""
    rng = random.Random(7)
    made = build_clinic(env.db, rng, clients=16)
    admin = env.world.admin
    people, sessions = made["clients"], made["sessions"]

    def attendance_rows(conn: Any) -> list[tuple[int, int, int]]:
        """The random clinic's attendance rows (the small world's own are left alone)."""
        ours = set(sessions)
        return [
            (r[0], r[1], r[2])
            for r in conn.execute(text("SELECT id, session_id, client_id FROM attendance"))
            if r[1] in ours
        ]

    for round_ in range(6):
        with env.db.engine.begin() as conn:
            for _ in range(12):
                rows = attendance_rows(conn)
                taken = {(s, c) for _, s, c in rows}
                op = rng.randrange(9)
                row_id, session_id, client_id = rng.choice(rows)
                if op == 0:  # a new row
                    sid, cid = rng.choice(sessions), rng.choice(people)
                    if (sid, cid) not in taken:
                        conn.execute(
                            insert(Attendance),
                            {
                                "session_id": sid,
                                "client_id": cid,
                                "status": rng.choice(STATUSES),
                                "minutes": rng.choice([0, 60, 180]),
                                "version": 1,
                                "created_at": NOW,
                                "updated_at": NOW,
                            },
                        )
                elif op == 1:  # status, minutes or both (or the same values again)
                    sets = rng.choice(
                        ["status = :st", "minutes = :m", "status = :st, minutes = :m"]
                    )
                    conn.execute(
                        text(f"UPDATE attendance SET {sets} WHERE id = :i"),
                        {"st": rng.choice(STATUSES), "m": rng.choice([0, 30, 180]), "i": row_id},
                    )
                elif op == 2:
                    conn.execute(text("DELETE FROM attendance WHERE id = :i"), {"i": row_id})
                elif op == 3:  # moved to another session or client
                    sid, cid = rng.choice(
                        [(rng.choice(sessions), client_id), (session_id, rng.choice(people))]
                    )
                    if (sid, cid) not in taken:
                        conn.execute(
                            text(
                                "UPDATE attendance SET session_id = :s, client_id = :c "
                                "WHERE id = :i"
                            ),
                            {"s": sid, "c": cid, "i": row_id},
                        )
                elif op == 4:  # held <-> cancelled / scheduled
                    conn.execute(
                        text("UPDATE clinic_session SET status = :st WHERE id = :i"),
                        {"st": rng.choice(["held", "cancelled", "scheduled"]), "i": session_id},
                    )
                elif op == 5:  # moved to another day
                    day = W + timedelta(days=rng.randint(-21, 14))
                    conn.execute(
                        update(ClinicSession)
                        .where(ClinicSession.id == session_id)  # type: ignore[arg-type]
                        .values(session_date=day)
                    )
                elif op == 6:  # re-timed (changes which absence is the last of the day)
                    conn.execute(
                        update(ClinicSession)
                        .where(ClinicSession.id == session_id)  # type: ignore[arg-type]
                        .values(start_time=_t(rng.choice([480, 540, 600, 900])))
                    )
                elif op == 7:  # family without the client and back
                    conn.execute(
                        text("UPDATE clinic_session SET kind = :k WHERE id = :i"),
                        {
                            "k": rng.choice(["family_without_client", "family", "group"]),
                            "i": session_id,
                        },
                    )
                else:  # a session and its rows deleted
                    conn.execute(
                        text("DELETE FROM attendance WHERE session_id = :i"), {"i": session_id}
                    )
                    conn.execute(
                        text("DELETE FROM clinic_session WHERE id = :i"), {"i": session_id}
                    )
                    sessions.remove(session_id)
        assert summary(env.db) == recompute(env.db), f"after round {round_}"
    check_dashboard(env.db, admin, made, rng)


def test_two_workstations_writing_one_clients_day(env):
    """PostgreSQL: a second transaction changing the same client's day waits for the first
    and then recomputes from what it committed (neither's change is lost)."""
    if env.db.backend != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    rng = random.Random(3)
    made = build_clinic(env.db, rng, clients=4)
    cid = made["clients"][0]
    day = W + timedelta(days=30)
    with env.db.session() as s:
        ids = []
        for start in (540, 780):
            session = ClinicSession(
                kind="group",
                track_id=made["tracks"][0],
                session_date=day,
                start_time=_t(start),
                end_time=_t(start + 60),
                status="held",
            )
            s.add(session)
            s.flush()
            ids.append(session.id)
    insert = text(
        "INSERT INTO attendance (session_id, client_id, status, minutes, version, created_at, "
        "updated_at) VALUES (:s, :c, 'present', :m, 1, now(), now())"
    )
    first = env.db.engine.connect()
    first.begin()
    first.execute(insert, {"s": ids[0], "c": cid, "m": 60})
    done = threading.Event()

    def second() -> None:
        with env.db.engine.begin() as conn:
            conn.execute(insert, {"s": ids[1], "c": cid, "m": 45})
        done.set()

    worker = threading.Thread(target=second)
    worker.start()
    assert not done.wait(0.5)  # queued behind the first
    first.commit()
    first.close()
    worker.join(10)
    assert done.is_set()
    assert summary(env.db)[(day, cid)] == (105, 2, 2, 0)
    assert summary(env.db) == recompute(env.db)


def test_migration_backfills_and_downgrades(env, tmp_path):
    """0013 on a database that already holds attendance: down to 0012 drops the summary and
    its triggers (writes there go on working), up again backfills it from every row."""
    from iopdesk.migrations import runner

    rng = random.Random(11)
    build_clinic(env.db, rng, clients=8)
    before = summary(env.db)
    assert before and before == recompute(env.db)
    runner.downgrade(env.db.engine, "0012_form_drafts")
    with env.db.engine.begin() as conn:
        conn.execute(text("UPDATE attendance SET status = 'absent_unexcused', minutes = 0"))
    runner.upgrade(env.db.engine)
    after = summary(env.db)
    assert after == recompute(env.db)
    assert {v[0] for v in after.values()} == {0}
    assert sum(v[3] for v in after.values()) > 0
