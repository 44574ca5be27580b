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

    python -m benchmarks.bench_stalls DB_PATH [--runs N] [--only billing_export,import_10k]
        [--trace]

`--trace` prints, for each stall over 40 ms, where the worker thread was while the GUI thread
waited (a watchdog thread samples the worker's frame whenever the heartbeat is late).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import shutil
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


class Watchdog:
    """Notes where every thread is whenever the heartbeat is more than 20 ms late.

    Runs on its own thread: each time it gets the GIL while the GUI thread's last tick is old,
    it records the innermost frames of the other threads. `report` prints, for each stall over
    40 ms, the samples taken during it: a long C call shows as the frame it was called from."""

    def __init__(self, beat: Heartbeat) -> None:
        import threading

        self.beat = beat
        self.samples: list[tuple[float, str]] = []
        self.cpu: list[tuple[float, dict[str, int]]] = []
        self.me = 0
        self.active = True
        self.collections: list[str] = []
        self._gc_start: dict[int, float] = {}
        import gc

        gc.callbacks.append(self._on_gc)
        threading.Thread(target=self._run, daemon=True).start()

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        import threading

        me = threading.get_ident()
        if phase == "start":
            self._gc_start[me] = time.perf_counter()
            return
        ms = (time.perf_counter() - self._gc_start.pop(me, time.perf_counter())) * 1000
        if ms >= 20:
            who = "gui" if me == threading.main_thread().ident else "worker"
            self.collections.append(f"gc generation {info['generation']} on the {who}: {ms:.0f} ms")

    def _run(self) -> None:
        import sys
        import threading
        import traceback

        self.me = threading.get_ident()
        while self.active:
            time.sleep(0.004)
            ticks = self.beat.ticks
            if not ticks:
                continue
            now = time.perf_counter()
            self.cpu.append((now, self._cpu()))
            if (now - ticks[-1]) * 1000 < 20:
                continue
            parts = []
            for ident, frame in sys._current_frames().items():
                if ident == self.me:
                    continue
                stack = traceback.extract_stack(frame)[-3:]
                parts.append(
                    " <- ".join(
                        f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack)
                    )
                )
            self.samples.append((now, " || ".join(parts)))

    @staticmethod
    def _cpu() -> dict[str, int]:
        import os
        import threading

        names = {t.native_id: t.name[:8] for t in threading.enumerate()}
        out = {}
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/schedstat") as f:
                    out[names.get(int(tid), tid)] = int(f.read().split()[0])
            except OSError:
                pass
        return out

    def report(self, name: str) -> None:
        import sys

        ticks = list(self.beat.ticks)
        for a, b in itertools.pairwise(ticks):
            if (b - a) * 1000 - TICK_MS < 40:
                continue
            before = [c for t, c in self.cpu if t <= a + 0.002]
            after = [c for t, c in self.cpu if t >= b - 0.002]
            use = ""
            if before and after:
                use = " cpu " + ", ".join(
                    f"{k}={(after[0].get(k, v) - v) / 1e6:.0f}"
                    for k, v in before[-1].items()
                    if after[0].get(k, v) - v > 2e6
                )
            print(f"{name}: stall {(b - a) * 1000:.0f} ms{use}", file=sys.stderr)
            for t, key in self.samples:
                if a <= t <= b + 0.03:
                    print(f"   +{(t - a) * 1000:5.0f} {key}", file=sys.stderr)
        for line in self.collections:
            print(f"{name}: {line}", file=sys.stderr)
        self.samples.clear()
        self.cpu.clear()
        self.collections.clear()


def profile_workers(min_ms: float = 25.0) -> Callable[[str], None]:
    """Time the gaps between profile events on the op runner's workers (`--profile`).

    A gap is time the worker spent without calling or returning from any function, Python or
    C: one long C call (or loop inside one) that holds the GIL, or the worker waiting for a
    core. Prints the longest gaps with the stack they ended in."""
    import sys

    from iopdesk.ui import ops

    gaps: list[tuple[float, str]] = []
    orig = ops._Runnable.__init__

    def tracer(frame: Any, event: str, arg: Any) -> None:
        now = time.perf_counter()
        last = state.get("t", now)
        if (now - last) * 1000 >= min_ms:
            f, where = frame, []
            while f is not None and len(where) < 4:
                where.append(f"{Path(f.f_code.co_filename).name}:{f.f_lineno} {f.f_code.co_name}")
                f = f.f_back
            what = getattr(arg, "__qualname__", "") if event.startswith("c_") else ""
            gaps.append(((now - last) * 1000, f"{event} {what} @ " + " <- ".join(where)))
        state["t"] = time.perf_counter()

    state: dict[str, float] = {}

    def init(self: Any, fn: Any, ctl: Any) -> None:
        def wrapped(c: Any) -> Any:
            state.clear()
            sys.setprofile(tracer)
            try:
                return fn(c)
            finally:
                sys.setprofile(None)

        orig(self, wrapped, ctl)

    ops._Runnable.__init__ = init  # type: ignore[method-assign]
    import gc
    import threading

    gc_start: dict[int, float] = {}

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        me = threading.get_ident()
        if phase == "start":
            gc_start[me] = time.perf_counter()
            return
        ms = (time.perf_counter() - gc_start.pop(me, time.perf_counter())) * 1000
        if ms >= min_ms / 2:
            who = "gui" if me == threading.main_thread().ident else "worker"
            gaps.append((ms, f"gc generation {info['generation']} on the {who} thread"))

    gc.callbacks.append(on_gc)

    def report(name: str) -> None:
        for ms, where in sorted(gaps, reverse=True)[:25]:
            print(f"{name}: gap {ms:6.1f} ms {where}", file=sys.stderr)
        gaps.clear()

    return report


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
    parser.add_argument("--only", default="", help="comma-separated cases (default: all)")
    parser.add_argument("--trace", action="store_true", help="print where the worker was")
    parser.add_argument("--profile", action="store_true", help="print the workers' C spans")
    args = parser.parse_args(argv)
    only = {c for c in args.only.split(",") if c}
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

    watchdog = Watchdog(beat) if args.trace else None
    profiled = profile_workers() if args.profile else None

    def measure(name: str, start: Callable[[], Any]) -> None:
        if only and name not in only:
            return
        worst = 0.0
        started = time.perf_counter()
        for _ in range(args.runs):
            # The benchmark's own set-up (e.g. writing the 10,000-row workbook with XlsxWriter)
            # leaves young objects behind; collect them first so the GUI collector's first
            # pass does not count them against the action measured.
            gc.collect()
            with beat:
                start()
                ops.wait_all(600_000)
                ops.spin(20)
            worst = max(worst, beat.longest_stall_ms())
            if watchdog is not None:
                watchdog.report(name)
            if profiled is not None:
                profiled(name)
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
    if watchdog is not None:
        watchdog.active = False
    db.close()
    shutil.rmtree(out, ignore_errors=True)  # exports, the 10k workbook, backups
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
