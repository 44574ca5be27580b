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


# What the intake form keeps when the user signs out with it half typed (its largest draft).
DRAFT = {
    "first_name": "Renata",
    "last_name": "Okafor",
    "preferred_name": "Ren",
    "dob": "1988-04-12",
    "sex": "F",
    "phone": "(217) 555-0142",
    "email": "renata@example.org",
    "address": "100 Main Street, Springfield, IL 62701",
    "emergency_contact": "Sam Okafor (217) 555-0199",
    "diagnoses": "F10.20, F41.1",
    "track": "EVE",
    "referral": "Springfield Outpatient Counseling",
    "notes": "Prefers evening groups; works days. " * 8,
}


def calls(db: Any, who: Any) -> dict[str, Callable[[], Any]]:
    """Each ALLOWED entry of tests/test_gui_thread.py, and each KEPT entry of
    tests/test_gui_thread_dialogs_a.py / _b.py that runs while a window is on screen, called as
    the window calls it. (KEPT also lists calls made when no window is up to stall: the
    recovery key shown before an administrator's first main window, a restore at first start,
    the backup after the main window closed.)"""
    from iopdesk.services import changes, clinic, drafts, recovery

    return {
        "iopdesk.services.clinic.get_setting": lambda: clinic.get_setting(
            db, "inactivity_lock_minutes"
        ),
        "iopdesk.services.changes.ChangeListener.__init__": lambda: changes.ChangeListener(db),
        # Signing out, locking or closing with a form half typed keeps it first.
        "iopdesk.services.drafts.keep": lambda: drafts.keep(db, who, "intake", DRAFT),
        # Read as the database opens behind the sign-in window.
        "iopdesk.services.clinic.is_initialized": lambda: clinic.is_initialized(db),
        "iopdesk.services.clinic.get_clinic": lambda: clinic.get_clinic(db),
        "iopdesk.services.recovery.has_recovery_key": lambda: recovery.has_recovery_key(db),
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
    from iopdesk.services import drafts

    drafts.discard(db, who, "intake")
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
