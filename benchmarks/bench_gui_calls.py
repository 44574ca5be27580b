"""The service calls still allowed on the GUI thread, timed on the large clinic.

Pages load through the op runner (a worker thread); a few small reads stay on the GUI thread
because the window needs them while it is built. `tests/test_gui_thread.py` lists them in
ALLOWED; each must take under 10 ms here (median of the runs), or it belongs on a worker.

    python -m benchmarks.bench_gui_calls DB_PATH [--runs N]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import actor, emit, median, open_db, prepare_env, timed

LIMIT_MS = 10.0


def calls(db: Any, who: Any) -> dict[str, Callable[[], Any]]:
    """Each ALLOWED entry of tests/test_gui_thread.py, called as the window calls it."""
    from iopdesk.services import changes, clinic

    return {
        "iopdesk.services.clinic.get_setting": lambda: clinic.get_setting(
            db, "inactivity_lock_minutes"
        ),
        "iopdesk.services.changes.ChangeListener.__init__": lambda: changes.ChangeListener(db),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    prepare_env()
    db = open_db(args.db)
    who = actor(db, "admin")
    figures: dict[str, float] = {}
    for name, fn in calls(db, who).items():
        figures[name] = median(timed(fn, args.runs, warmup=2))
    db.close()
    worst = max(figures.values())
    emit(
        {
            "gui_calls": {
                "value_ms": worst,
                "limit_ms": LIMIT_MS,
                **{
                    f"{name.rsplit('.', 2)[-2]}.{name.rsplit('.', 1)[-1]}": v
                    for name, v in figures.items()
                },
            }
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
