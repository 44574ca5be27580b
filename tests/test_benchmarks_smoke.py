"""The benchmark generator at a tiny scale: row counts and the shape of the data, so the large
synthetic clinic cannot rot. No timings here (they live in benchmarks/, docs/performance.md)."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from benchmarks.generate import BENCH_KEY, BIG_PAYER, TRACKS, Spec, build
from iopdesk.db import Database, DbTarget

TODAY = date(2026, 11, 18)  # a Wednesday
SPEC = Spec(seed=7, scale=0.004, today=TODAY, weeks=16)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    path = tmp_path_factory.mktemp("bench") / "clinic.db"
    counts = build(path, SPEC)
    return path, counts


@pytest.fixture
def conn(generated: tuple[Path, dict[str, object]]):  # type: ignore[no-untyped-def]
    db = Database.open(DbTarget(path=generated[0]), key=BENCH_KEY)
    with db.engine.connect() as c:
        yield c
    db.close()


def count(conn, sql: str, **params: object) -> int:  # type: ignore[no-untyped-def]
    return int(conn.execute(text(sql), params).scalar_one())


def test_counts_match_the_spec_and_the_database(generated, conn) -> None:  # type: ignore[no-untyped-def]
    _path, counts = generated
    assert SPEC.clients == 20 and SPEC.staff == 12
    for table, expected in (
        ("client", 20),
        ("staff", 12),
        ("track", len(TRACKS)),
        ("payer", 20),
        ("trackenrollment", 20),
        ("therapistassignment", 20),
        ("coverage", 20),
    ):
        assert counts[table] == expected, table
        assert count(conn, f"SELECT count(*) FROM {table}") == expected, table
    for table in ("clinic_session", "attendance", "note", "groupnote", "sessionfacilitator"):
        assert counts[table] == count(conn, f"SELECT count(*) FROM {table}") - (
            counts["future_group_sessions"] if table == "clinic_session" else 0
        ), table
    # 16 weeks of every group block (3 PHP blocks on 5 days, 2 IOP blocks on 4 days)
    blocks = sum(len(days) * len(b) for _c, _n, _l, _p, _s, days, b in TRACKS)
    assert count(conn, "SELECT count(*) FROM trackblock") == blocks == 108
    groups = count(conn, "SELECT count(*) FROM clinic_session WHERE kind = 'group'")
    assert groups - counts["future_group_sessions"] == 16 * blocks  # type: ignore[operator]
    assert counts["attendance"] > 300  # type: ignore[operator]
    assert count(conn, "SELECT count(*) FROM payer WHERE payer_code = :c", c=BIG_PAYER) == 1


def test_attendance_notes_and_sessions_are_consistent(conn) -> None:  # type: ignore[no-untyped-def]
    # attendance only for held sessions before today, never twice for one client
    assert (
        count(
            conn,
            "SELECT count(*) FROM attendance a JOIN clinic_session s ON s.id = a.session_id "
            "WHERE s.status != 'held' OR s.session_date >= :d",
            d=TODAY,
        )
        == 0
    )
    # every attended row has exactly one signed note for that client and session; no others
    attended = count(conn, "SELECT count(*) FROM attendance WHERE minutes > 0")
    assert attended == count(conn, "SELECT count(*) FROM note WHERE status = 'signed'")
    assert (
        count(
            conn,
            "SELECT count(*) FROM attendance a LEFT JOIN note n ON n.session_id = a.session_id "
            "AND n.client_id = a.client_id WHERE a.minutes > 0 AND n.id IS NULL",
        )
        == 0
    )
    # each held group session has its group note; group attendance is within the enrollment
    assert (
        count(
            conn,
            "SELECT count(*) FROM clinic_session s LEFT JOIN groupnote g ON g.session_id = s.id "
            "WHERE s.kind = 'group' AND s.status = 'held' AND g.id IS NULL",
        )
        == 0
    )
    assert (
        count(
            conn,
            "SELECT count(*) FROM attendance a JOIN clinic_session s ON s.id = a.session_id "
            "JOIN trackenrollment e ON e.client_id = a.client_id WHERE s.kind = 'group' AND "
            "(s.track_id != e.track_id OR s.session_date < e.start_date "
            "OR s.session_date > e.end_date)",
        )
        == 0
    )
    # sessions are numbered in date order (as a clinic's data grows); this week is scheduled
    days = [r[0] for r in conn.execute(text("SELECT session_date FROM clinic_session ORDER BY id"))]
    generated_days = [d for d in days if d is not None]
    assert generated_days[: len(generated_days) - 852] == sorted(
        generated_days[: len(generated_days) - 852]
    )
    monday = TODAY - timedelta(days=TODAY.weekday())
    assert (
        count(
            conn,
            "SELECT count(*) FROM clinic_session WHERE session_date >= :d AND status = 'scheduled'",
            d=TODAY,
        )
        > 0
    )
    assert count(
        conn, "SELECT count(*) FROM clinic_session WHERE session_date < :m", m=monday
    ) > count(conn, "SELECT count(*) FROM clinic_session WHERE session_date >= :m", m=monday)
    statuses = Counter(r[0] for r in conn.execute(text("SELECT status FROM attendance")))
    assert statuses["present"] > statuses["absent_unexcused"] > 0


def test_generation_is_deterministic(generated, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _path, counts = generated
    again = build(tmp_path / "again.db", SPEC)
    for key in ("client", "clinic_session", "attendance", "note", "authorization"):
        assert again[key] == counts[key], key


def test_census_search_in_memory_matches_the_query(generated) -> None:  # type: ignore[no-untyped-def]
    """The census screen filters per keystroke in memory (CensusIndex); it must find exactly
    what list_census(search=...) finds."""
    from benchmarks.common import actor
    from iopdesk.services import clients

    db = Database.open(DbTarget(path=generated[0]), key=BENCH_KEY)
    try:
        admin = actor(db, "admin")
        index = clients.CensusIndex(clients.list_census(db, admin))
        assert len(index.rows) == 20
        sample = index.rows[3]
        words = [
            "",
            "a",
            "an",
            "Son",
            sample.last_name.upper(),
            f"{sample.first_name[:2]} {sample.last_name[-3:]}",
            sample.mrn.lower(),
            sample.phone[-4:],
            sample.phone[1:4] + sample.phone[6:9],
            "zzz-no-such",
        ]
        for word in words:
            want = [r.id for r in clients.list_census(db, admin, search=word)]
            assert [r.id for r in index.search(word)] == want, word
        assert [r.id for r in index.search(sample.mrn)] == [sample.id]
    finally:
        db.close()
