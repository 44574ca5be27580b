"""Weekly-hours compliance: this week's dashboard for every client enrolled this week, and
52 weeks of history for 500 clients (services.hours), each vs one hand-written SQL aggregate
over the same tables (attended minutes per client, or per client and week).

    python -m benchmarks.bench_hours DB_PATH [--runs N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import CPU_MS, actor, cpu, emit, median, open_db, prepare_env, timed

ATTENDED = "('present', 'late', 'left_early')"

WEEK_SQL = f"""
WITH wk AS (
  SELECT a.client_id, SUM(a.minutes) AS minutes
    FROM clinic_session s JOIN attendance a ON a.session_id = s.id
   WHERE s.session_date BETWEEN :first AND :last AND s.status = 'held'
     AND a.status IN {ATTENDED}
   GROUP BY a.client_id)
SELECT c.id, c.mrn, c.last_name, c.first_name,
       COALESCE(c.required_weekly_hours, t.required_weekly_hours) AS required,
       COALESCE(wk.minutes, 0) AS attended
  FROM trackenrollment e
  JOIN client c ON c.id = e.client_id
  JOIN track t ON t.id = e.track_id
  LEFT JOIN wk ON wk.client_id = c.id
 WHERE e.voided_at IS NULL AND e.start_date <= :last
   AND (e.end_date IS NULL OR e.end_date >= :first)
 ORDER BY c.mrn
"""

HISTORY_SQL = f"""
SELECT a.client_id, CAST((julianday(s.session_date) - julianday(:first)) / 7 AS INTEGER) AS wk,
       SUM(a.minutes)
  FROM attendance a
  JOIN clinic_session s ON s.id = a.session_id
 WHERE a.client_id IN (SELECT value FROM json_each(:ids))
   AND s.session_date BETWEEN :first AND :last
   AND s.status = 'held' AND a.status IN {ATTENDED}
 GROUP BY a.client_id, wk
"""


def interleaved(fns: Sequence[Callable[[], Any]], repeat: int) -> list[list[float]]:
    """`timed` for several functions at once: one call of each per round (the order
    alternating), after one warm-up call each; wall and CPU milliseconds as `timed` keeps
    them."""
    for fn in fns:
        fn()
    walls: list[list[float]] = [[] for _ in fns]
    cpus: list[list[float]] = [[] for _ in fns]
    for i in range(repeat):
        order = range(len(fns)) if i % 2 == 0 else reversed(range(len(fns)))
        for k in order:
            c0, t0 = time.process_time(), time.perf_counter()
            fns[k]()
            walls[k].append((time.perf_counter() - t0) * 1000)
            cpus[k].append((time.process_time() - c0) * 1000)
    for wall, spent in zip(walls, cpus, strict=True):
        CPU_MS[id(wall)] = spent
    return walls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--history-clients", type=int, default=500)
    args = parser.parse_args(argv)
    prepare_env()
    import json

    from sqlalchemy import text

    from iopdesk.services import hours

    db = open_db(args.db)
    who = actor(db, "admin")
    today = date.today()
    first, last = hours.week_bounds(db, today)
    rows = hours.weekly_hours(db, who, today)
    hist_first = first - timedelta(weeks=51)
    with db.engine.connect() as conn:
        ids = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT DISTINCT client_id FROM trackenrollment WHERE voided_at IS NULL "
                    "AND start_date <= :last AND (end_date IS NULL OR end_date >= :first) "
                    "ORDER BY client_id LIMIT :n"
                ),
                {"first": hist_first, "last": last, "n": args.history_clients},
            )
        ]

    # the dashboard and its baseline run alternately, call by call, so that both see the same
    # load on a shared machine (timed one after the other, the ratio of their 4-10 ms medians
    # swung 0.6-2.7x between runs), with more runs for a steadier median
    with db.engine.connect() as conn:
        week, week_base = interleaved(
            (
                lambda: hours.weekly_hours(db, who, today),
                lambda: conn.execute(text(WEEK_SQL), {"first": first, "last": last}).all(),
            ),
            max(21, 3 * args.runs),
        )
    history = timed(
        lambda: hours.history_for_clients(db, who, ids, hist_first, last), max(3, args.runs // 2)
    )
    with db.engine.connect() as conn:
        hist_base = timed(
            lambda: conn.execute(
                text(HISTORY_SQL),
                {"ids": json.dumps(ids), "first": hist_first, "last": last},
            ).all(),
            max(3, args.runs // 2),
        )
    emit(
        {
            "hours_week": {
                "value_ms": median(week),
                "baseline_ms": median(week_base),
                "cpu_ms": cpu(week),
                "baseline_cpu_ms": cpu(week_base),
                "clients": len(rows),
                "week": first.isoformat(),
            },
            "hours_history": {
                "value_ms": median(history),
                "baseline_ms": median(hist_base),
                "cpu_ms": cpu(history),
                "baseline_cpu_ms": cpu(hist_base),
                "clients": len(ids),
                "weeks": 52,
            },
        }
    )
    db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
