"""Census search as you type: time per keystroke from the text change to the repainted table
(ClientsPage.refresh: services.clients.list_census + model reset + viewport repaint), over
every client. Baseline: the bare SQL LIKE over the client table for the same text.

    python -m benchmarks.bench_census DB_PATH [--runs N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.common import actor, emit, median, open_db, prepare_env

WORDS = ("smith", "gar", "m00012", "555")  # a name, a partial name, an MRN, phone digits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    prepare_env()
    from PySide6.QtWidgets import QApplication
    from sqlalchemy import text

    from iopdesk.services.clinic import get_clinic
    from iopdesk.ui import ops
    from iopdesk.ui.app import make_app
    from iopdesk.ui.context import AppContext
    from iopdesk.ui.pages.clients import ClientsPage

    app: QApplication = make_app()
    db = open_db(args.db)
    who = actor(db, "admin")
    page = ClientsPage(AppContext(db, who, get_clinic(db)))
    page.resize(1366, 700)
    page.show()
    page.refresh()
    ops.wait_all()  # the census is read on a worker
    app.processEvents()
    total = page.model.rowCount()
    assert total > 0, "the census did not load"

    cpu_ms: list[float] = []

    def keystroke(value: str) -> float:
        c0, t0 = time.process_time(), time.perf_counter()
        page.search.setText(value)
        page._debounce.stop()
        page._debounce.timeout.emit()  # what the search box's debounce timer runs
        ops.wait_all()  # the search runs on a worker; its rows are shown on the GUI thread
        page.table.viewport().repaint()
        cpu_ms.append((time.process_time() - c0) * 1000)
        return (time.perf_counter() - t0) * 1000

    per_key: list[float] = []
    for _ in range(args.runs + 1):
        run: list[float] = []
        for word in WORDS:
            for i in range(1, len(word) + 1):
                run.append(keystroke(word[:i]))
            run.append(keystroke(""))  # clear: the full census again
        if _ > 0:  # the first pass warms caches
            per_key.extend(run)
        app.processEvents()

    sql = text(
        "SELECT id, mrn, last_name, first_name FROM client WHERE lower(first_name) LIKE :p "
        "OR lower(last_name) LIKE :p OR lower(mrn) LIKE :p ORDER BY last_name, first_name"
    )
    base: list[float] = []
    with db.engine.connect() as conn:
        for _ in range(args.runs + 1):
            for word in WORDS:
                for i in range(0, len(word) + 1):
                    t0 = time.perf_counter()
                    conn.execute(sql, {"p": f"%{word[:i]}%"}).all()
                    if _ > 0:
                        base.append((time.perf_counter() - t0) * 1000)
    emit(
        {
            "census_keystroke": {
                "value_ms": median(per_key),
                "p95_ms": round(sorted(per_key)[int(len(per_key) * 0.95) - 1], 2),
                "max_ms": round(max(per_key), 2),
                "baseline_ms": median(base),
                "cpu_ms": median(cpu_ms[len(cpu_ms) - len(per_key) :]),
                "clients": total,
                "keystrokes": len(per_key),
            }
        }
    )
    db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
