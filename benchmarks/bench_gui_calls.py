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
        **_closing_note_saves(db),
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


def _closing_note_saves(db: Any) -> dict[str, Callable[[], Any]]:
    """Closing a progress-note editor with unsaved typing saves it on the spot (KEPT in
    tests/test_gui_thread_dialogs_a.py): a therapist's draft note for a client on their
    caseload, saved again and again as the dialog's close does. (The group-note dialog's
    close, `notes.save_group_note`, is KEPT too but not timed here: the generated clinic has
    signed, locked notes for every past group and no group after its last day.)"""
    from datetime import date

    from sqlmodel import col, select

    from benchmarks.common import actor as actor_for_name
    from iopdesk.models import (
        TherapistAssignment,
        User,
    )
    from iopdesk.services import notes
    from iopdesk.services.auth import actor_for, add_user

    today = date.today()
    with db.read() as s:
        staff_id, client_id = s.exec(
            select(TherapistAssignment.staff_id, TherapistAssignment.client_id)
            .where(
                (col(TherapistAssignment.end_date).is_(None))
                | (col(TherapistAssignment.end_date) >= today)
            )
            .limit(1)
        ).one()

    def user_for(staff: int, name: str) -> Any:
        with db.read() as s:
            user = s.exec(select(User).where(User.staff_id == staff)).first()
        if user is None:  # the generated clinic signs in no therapists: add one (a copy)
            admin = actor_for_name(db, "admin")
            add_user(db, admin, name, "bench-therapist-pw-1", "therapist", name, staff)
            with db.read() as s:
                user = s.exec(select(User).where(User.staff_id == staff)).one()
        return actor_for(user)

    therapist = user_for(staff_id, "bench-therapist")
    draft = notes.NoteDraft(
        client_id,
        date.today(),
        sections={"Data": "Half a thought " * 20, "Assessment": "a", "Plan": "p"},
    )
    state: dict[str, Any] = {}

    def autosave() -> None:
        saved = notes.autosave_note(db, therapist, state.get("id"), state.get("version"), draft)
        state["id"], state["version"] = saved.id, saved.version

    out: dict[str, Callable[[], Any]] = {"iopdesk.services.notes.autosave_note": autosave}
    return out


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
