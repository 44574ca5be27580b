"""The census, a chart and Today on a clinic server over the network (simulated LAN).

Every SQL statement pays a round trip to the server; on a clinic LAN that is ~1-2 ms before
the server does any work. An SQLAlchemy `before_cursor_execute` listener sleeps 2 ms before
each statement, and the real screens are driven as the user drives them (the op runner and the
services they call):

- the census load (Clients page: the census read, then the search filter);
- opening the largest chart (header, risk banner and Overview);
- each chart tab the first time it is shown (the chart of the largest client);
- Today.

Target (issue 18): each < 300 ms with the 2 ms per round trip. Baseline: the same actions
without the added delay (the same run). Figures are medians of --runs timed runs after one
warm-up; the statements each action sent are reported too.

    python -m benchmarks.bench_latency DB_PATH [--runs N] [--delay-ms 2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import actor, emit, median, open_db, prepare_env


class Lan:
    """Adds `delay_ms` before every statement (a network round trip) and counts them."""

    def __init__(self, engine: Any, delay_ms: float) -> None:
        self.engine = engine
        self.delay = delay_ms / 1000
        self.on = False
        self.count = 0

    def __enter__(self) -> Lan:
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._before)
        return self

    def __exit__(self, *exc: object) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._before)

    def _before(self, _conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if head in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"):
            return
        self.count += 1
        if self.on:
            time.sleep(self.delay)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--delay-ms", type=float, default=2.0)
    args = parser.parse_args(argv)
    prepare_env()
    from sqlalchemy import text

    from iopdesk.services import clinic
    from iopdesk.ui import msgbox, ops
    from iopdesk.ui.app import make_app
    from iopdesk.ui.context import AppContext
    from iopdesk.ui.pages.clients import ChartPage, ClientsPage
    from iopdesk.ui.pages.today import TodayPage

    make_app()
    msgbox.NON_BLOCKING = True
    db = open_db(args.db)
    admin = actor(db, "admin")
    ctx = AppContext(db, admin, clinic.get_clinic(db))
    with db.read() as s:
        biggest = int(
            s.execute(
                text("SELECT client_id FROM attendance GROUP BY client_id ORDER BY count(*) DESC")
            ).scalar()
            or 0
        )
    census = ClientsPage(ctx)
    census.resize(1366, 700)
    census.show()
    today = TodayPage(ctx)
    today.resize(1366, 700)
    today.show()
    chart = ChartPage(ctx)
    chart.resize(1366, 700)
    chart.show()

    def settled(start: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            start()
            ops.wait_all(600_000)

        return run

    def open_chart() -> None:
        chart.tabs.setCurrentIndex(0)
        chart.load(biggest)
        ops.wait_all(600_000)

    actions: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {
        "census_load": (lambda: None, settled(census.refresh)),
        "chart_open": (lambda: chart.tabs.setCurrentIndex(0), open_chart),
        "today": (lambda: None, settled(today.refresh)),
    }
    open_chart()
    for index in range(1, chart.tabs.count()):
        if not chart.tabs.widget(index).isEnabled():
            continue
        name = "tab_" + chart.tabs.tabText(index).lower().replace(" ", "_")

        def show(i: int = index) -> None:
            chart.tabs.setCurrentIndex(i)
            ops.wait_all(600_000)

        actions[name] = (open_chart, show)  # each run: the chart opened afresh, then the tab

    results: dict[str, dict[str, float]] = {}
    with Lan(db.engine, args.delay_ms) as lan:
        for name, (prepare, act) in actions.items():
            figures: dict[str, float] = {}
            for delayed in (False, True):
                lan.on = False
                prepare()
                act()  # warm-up
                times: list[float] = []
                for _ in range(args.runs):
                    prepare()
                    lan.on = delayed
                    lan.count = 0
                    t0 = time.perf_counter()
                    act()
                    times.append((time.perf_counter() - t0) * 1000)
                    lan.on = False
                figures["lan_ms" if delayed else "local_ms"] = median(times)
                figures["statements"] = lan.count
            results[name] = figures
    worst = max(results, key=lambda k: results[k]["lan_ms"])
    emit(
        {
            "latency": {
                "value_ms": results[worst]["lan_ms"],
                "baseline_ms": results[worst]["local_ms"],
                "slowest": worst,
                "delay_ms_per_statement": args.delay_ms,
                **{f"{k}_ms": v["lan_ms"] for k, v in results.items()},
                **{f"{k}_local_ms": v["local_ms"] for k, v in results.items()},
                **{f"{k}_statements": int(v["statements"]) for k, v in results.items()},
            }
        }
    )
    db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
