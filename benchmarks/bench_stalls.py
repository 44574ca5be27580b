"""The longest GUI-thread stall while the app does long work, measured by a heartbeat.

A QTimer ticks every 5 ms on the GUI thread; the longest gap between two ticks, minus the
interval, is how long the window could not paint or answer a click. Measured through the real
screens (the op runner and the services they call), on the large clinic:

- a year's billing export (Billing page, Export);
- a 10,000-row workbook import (Admin page, Import: the check, then the import);
- a backup of the large clinic (Admin > Backups, Back up now);
- opening the largest chart (the client with the most attendance rows);
- typing in the census search (one keystroke at a time, as QTest types).

Target (issue 18): <= 50 ms each. Baseline: the same heartbeat while the GUI thread is idle
(the timer's own jitter on this machine).

    python -m benchmarks.bench_stalls DB_PATH [--runs N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import actor, emit, open_db, prepare_env

TICK_MS = 5


class Heartbeat:
    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def __enter__(self) -> Heartbeat:
        self.ticks.clear()
        self.ticks.append(time.perf_counter())
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timer.stop()
        self.ticks.append(time.perf_counter())

    def longest_stall_ms(self) -> float:
        gaps = [b - a for a, b in zip(self.ticks, self.ticks[1:], strict=False)]
        return round(max(0.0, max(gaps, default=0.0) * 1000 - TICK_MS), 1)


def _workbook_10k(path: Path) -> int:
    """A clinic workbook with 10,000 client rows (the import check reads every cell)."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("Tracks")
    ws.write_row(0, 0, ["code", "name", "required_weekly_hours", "per_diem_code"])
    ws.write_row(1, 0, ["BIG", "Bulk import track", 9, "H0015"])
    ws = wb.add_worksheet("Clients")
    ws.write_row(0, 0, ["mrn", "first_name", "last_name", "dob", "sex", "status", "track"])
    for i in range(10_000):
        ws.write_row(
            i + 1,
            0,
            [f"B{i:06d}", f"First{i}", f"Last{i % 977}", "1980-01-01", "F", "active", "BIG"],
        )
    wb.close()
    return 10_000


def compiled() -> None:
    """Compile IOPDesk's modules first, as an installed or frozen app has them.

    With PYTHONDONTWRITEBYTECODE set (as on the benchmark machine) every import compiles its
    module from source, and `compile` is one C call that holds the GIL: a worker importing the
    2,900-line workbook module would stop the window for ~300 ms, which no installed copy
    does. Compiling ahead writes the same .pyc files an installation holds."""
    import compileall

    from benchmarks.common import REPO

    compileall.compile_dir(str(REPO / "iopdesk"), quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path, help="a working copy: this benchmark writes")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args(argv)
    prepare_env()
    compiled()
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from sqlalchemy import text

    from iopdesk.services import clinic
    from iopdesk.services.disclosures import INTERNAL
    from iopdesk.ui import msgbox, ops
    from iopdesk.ui.app import make_app
    from iopdesk.ui.context import AppContext
    from iopdesk.ui.pages.admin import AdminPage
    from iopdesk.ui.pages.billing import BillingPage
    from iopdesk.ui.pages.clients import ChartPage, ClientsPage

    make_app()
    from iopdesk.ui import gcguard

    gcguard.install()  # as the main window does
    msgbox.NON_BLOCKING = True
    db = open_db(args.db)
    admin = actor(db, "admin")
    ctx = AppContext(db, admin, clinic.get_clinic(db))
    out = Path(tempfile.mkdtemp(prefix="iopdesk-bench-stalls-"))
    beat = Heartbeat()
    results: dict[str, Any] = {}

    def measure(name: str, start: Callable[[], Any]) -> None:
        worst = 0.0
        started = time.perf_counter()
        for _ in range(args.runs):
            with beat:
                start()
                ops.wait_all(600_000)
                ops.spin(20)
            worst = max(worst, beat.longest_stall_ms())
        results[name] = {
            "stall_ms": worst,
            "took_ms": round((time.perf_counter() - started) * 1000 / args.runs, 1),
        }

    with beat:
        ops.spin(500)
    idle = beat.longest_stall_ms()

    billing_page = BillingPage(ctx)
    billing_page.resize(1366, 700)
    billing_page.show()
    date_to = date.today() - timedelta(days=1)
    date_from = date_to - timedelta(days=364)
    from PySide6.QtCore import QDate

    billing_page.date_from.setDate(QDate(date_from.year, date_from.month, date_from.day))
    billing_page.date_to.setDate(QDate(date_to.year, date_to.month, date_to.day))
    billing_page.include_billed.setChecked(True)
    counter = iter(range(100))
    measure(
        "billing_export",
        lambda: billing_page.export_to(out / f"billing-{next(counter)}.xlsx", INTERNAL),
    )

    admin_page = AdminPage(ctx)
    admin_page.resize(1366, 700)
    admin_page.show()
    book = out / "import-10k.xlsx"
    _workbook_10k(book)
    measure("import_10k", lambda: admin_page.import_file(book))

    backups_tab = admin_page.backups_tab
    clinic.set_setting(db, admin, "backup_folder", str(out / "backups"))
    measure("backup", lambda: backups_tab.back_up_now())

    with db.read() as s:
        biggest = s.execute(
            text("SELECT client_id FROM attendance GROUP BY client_id ORDER BY count(*) DESC")
        ).scalar()
    chart = ChartPage(ctx)
    chart.resize(1366, 700)
    chart.show()
    measure("chart_open", lambda: chart.load(int(biggest or 0)))

    census = ClientsPage(ctx)
    census.resize(1366, 700)
    census.show()
    census.refresh()
    ops.wait_all()

    def type_search() -> None:
        census.search.setFocus()
        census.search.clear()
        for ch in "garcia":
            QTest.keyClick(census.search, ch)
            ops.spin(census._debounce.interval() + 5)
        QTest.keyClick(census.search, Qt.Key.Key_Backspace)
        ops.spin(census._debounce.interval() + 5)

    measure("census_typing", type_search)
    worst = max(r["stall_ms"] for r in results.values())
    emit(
        {
            "gui_stall": {
                "value_ms": worst,
                "baseline_ms": idle,
                **{f"{k}_stall_ms": v["stall_ms"] for k, v in results.items()},
                **{f"{k}_took_ms": v["took_ms"] for k, v in results.items()},
            }
        }
    )
    db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
