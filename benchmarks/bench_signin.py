"""Sign-in sheet: time to save attendance for a 15-client group
(services.attendance.record_attendance: version check, roster check, one upsert, audit row).
Baseline: the same 15 rows written by one bare INSERT .. ON CONFLICT in one transaction.

Also the same save over a simulated clinic network: 2 ms added to every SQL round trip (a
`before_cursor_execute` listener that sleeps, and the same on COMMIT), reported with the number
of round trips (BEGIN and COMMIT included).

    python -m benchmarks.bench_signin DB_PATH [--runs N]
"""

from __future__ import annotations

import argparse
import time
from datetime import date, datetime
from pathlib import Path

from benchmarks.common import actor, emit, median, open_db, prepare_env

GROUP = 15
LAN_DELAY_S = 0.002  # per round trip, a clinic server over the LAN

BASE_SQL = """
INSERT INTO attendance (session_id, client_id, status, arrival_time, departure_time, minutes,
                        created_at, updated_at, version)
VALUES (:sid, :cid, :st, NULL, NULL, :m, :now, :now, 1)
ON CONFLICT (session_id, client_id) DO UPDATE SET status = excluded.status,
    minutes = excluded.minutes, updated_at = excluded.updated_at, version = version + 1
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path, help="a working copy: this benchmark writes")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    prepare_env()
    from sqlalchemy import text

    from iopdesk.services import attendance

    db = open_db(args.db)
    who = actor(db, "frontdesk")
    with db.engine.connect() as conn:
        # The group session on or before today with the largest roster (most attendance).
        sid = conn.execute(
            text(
                "SELECT s.id FROM clinic_session s LEFT JOIN attendance a ON a.session_id = s.id "
                "WHERE s.kind = 'group' AND s.status != 'cancelled' AND s.session_date <= :d "
                "AND s.session_date >= date(:d, '-14 days') "
                "GROUP BY s.id ORDER BY count(a.id) DESC, s.session_date DESC LIMIT 1"
            ),
            {"d": date.today()},
        ).scalar_one()
    sheet = attendance.sign_in_sheet(db, who, sid)
    clients = [r.client_id for r in sheet.rows][:GROUP]
    times: list[float] = []
    cpu_ms: list[float] = []
    for i in range(args.runs + 1):
        sheet = attendance.sign_in_sheet(db, who, sid)  # what the screen shows before saving
        status = "present" if i % 2 == 0 else "absent_excused"
        entries = [attendance.AttendanceEntry(cid, status) for cid in clients]
        c0, t0 = time.process_time(), time.perf_counter()
        attendance.record_attendance(db, who, sid, sheet.session_version, entries)
        if i:
            times.append((time.perf_counter() - t0) * 1000)
            cpu_ms.append((time.process_time() - c0) * 1000)
    from sqlalchemy import event

    statements = 0

    def lan(*_args: object) -> None:
        nonlocal statements
        statements += 1
        time.sleep(LAN_DELAY_S)

    lan_times: list[float] = []
    lan_statements: list[int] = []
    for i in range(max(5, args.runs // 2) + 1):
        sheet = attendance.sign_in_sheet(db, who, sid)
        status = "late" if i % 2 == 0 else "present"
        entries = [
            attendance.AttendanceEntry(
                cid, status, minutes=sheet.default_minutes // 2 if status == "late" else None
            )
            for cid in clients
        ]
        statements = 0
        event.listen(db.engine, "before_cursor_execute", lan)
        event.listen(db.engine, "commit", lan)  # COMMIT is a round trip too
        try:
            t0 = time.perf_counter()
            attendance.record_attendance(db, who, sid, sheet.session_version, entries)
            elapsed = (time.perf_counter() - t0) * 1000
        finally:
            event.remove(db.engine, "before_cursor_execute", lan)
            event.remove(db.engine, "commit", lan)
        if i:
            lan_times.append(elapsed)
            lan_statements.append(statements)
    # For reference, not a baseline: one transaction that only appends an audit event (the
    # hash-chained row, its head and the checkpoint file), the floor of any audited save.
    from iopdesk.services import audit

    floor: list[float] = []
    for i in range(args.runs + 1):
        t0 = time.perf_counter()
        with db.session() as s:
            audit.record(s, who, audit.Action.UPDATE, entity="session", entity_id=sid)
        if i:
            floor.append((time.perf_counter() - t0) * 1000)
    base: list[float] = []
    base_cpu: list[float] = []
    for i in range(args.runs + 1):
        status = "present" if i % 2 == 0 else "absent_excused"
        now = datetime.now()
        c0, t0 = time.process_time(), time.perf_counter()
        with db.engine.begin() as conn:
            conn.execute(
                text(BASE_SQL),
                [{"sid": sid, "cid": c, "st": status, "m": 60, "now": now} for c in clients],
            )
        if i:
            base.append((time.perf_counter() - t0) * 1000)
            base_cpu.append((time.process_time() - c0) * 1000)
    emit(
        {
            "signin_save": {
                "value_ms": median(times),
                "baseline_ms": median(base),
                "cpu_ms": median(cpu_ms),
                "baseline_cpu_ms": median(base_cpu),
                "clients": len(clients),
                "roster": len(sheet.rows),
                "audited_empty_write_ms": median(floor),
            },
            "signin_save_lan": {
                "value_ms": median(lan_times),
                "round_trips": max(lan_statements),
                "delay_ms_per_round_trip": LAN_DELAY_S * 1000,
                "clients": len(clients),
            },
        }
    )
    db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
