"""Instant start: the sign-in window paints before the database stack is imported, the user
types while it loads, and signing in opens the main window (a real `iopdesk` process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from iopdesk.db import Database, DbTarget
from iopdesk.services import clinic
from tests.conftest import PASSWORD

pytestmark = pytest.mark.gui
REPO = Path(__file__).resolve().parent.parent

# Runs `iopdesk --db PATH` (the real entry point) with an event filter that notes, at the
# sign-in window's first paint, whether SQLModel and the tables are imported yet; then types the
# user name and password into the real fields, presses Enter, and reports the main window.
CHILD = r"""
import json, os, sys, time
from PySide6.QtCore import QEvent, QObject, QTimer, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QLineEdit, QMainWindow

seen = {}

class Spy(QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint and isinstance(obj, QDialog) and "login" not in seen:
            seen["login"] = True
            seen["sqlalchemy_at_paint"] = "sqlalchemy" in sys.modules
            seen["sqlmodel_at_paint"] = "sqlmodel" in sys.modules
            seen["models_at_paint"] = "iopdesk.models" in sys.modules
            boot = sys.modules.get("iopdesk.ui.boot")
            seen["stack_loaded_at_paint"] = bool(boot and "stack_imported" in boot.marks)
            seen["subtitle_at_paint"] = obj.subtitle.text()
            QTimer.singleShot(0, lambda: type_in(obj))
        if ev.type() == QEvent.Type.Show and isinstance(obj, QMainWindow):
            seen.setdefault("main_shown_at", time.time())
        if ev.type() == QEvent.Type.Paint and isinstance(obj, QMainWindow) and "main" not in seen:
            seen["main"] = True
            seen["title"] = obj.windowTitle()
            seen["sqlalchemy_at_main"] = "sqlalchemy" in sys.modules
            QTimer.singleShot(0, lambda: finish(obj))
        return False

def type_in(dialog):
    user, pw = dialog.findChild(QLineEdit, "username"), dialog.findChild(QLineEdit, "password")
    QTest.keyClicks(user, "admin")
    QTest.keyClicks(pw, os.environ["CHILD_PASSWORD"])
    QTest.keyClick(pw, Qt.Key.Key_Return)

def finish(window):
    seen["subtitle_after"] = ""
    folder = os.environ.get("CHILD_BACKUPS")
    if folder:  # the automatic backup, due at this start: let it finish, then note its files
        from pathlib import Path
        from iopdesk.ui import ops
        ops.wait_all(60_000)
        seen["backups"] = [f.stat().st_mtime for f in Path(folder).iterdir() if f.is_file()]
    window._closing_for_sign_out = False
    print(json.dumps(seen), flush=True)
    os._exit(0)

app = QApplication(sys.argv[:1])
spy = Spy()
app.installEventFilter(spy)
QTimer.singleShot(60_000, lambda: (print(json.dumps(seen), flush=True), os._exit(1)))
from iopdesk.cli import main
sys.exit(main(["--db", os.environ["CHILD_DB"]]))
"""


def _make_clinic(path: Path) -> None:
    os.environ["IOPDESK_DB_PASSPHRASE"] = "boot test passphrase"
    try:
        db = Database.open(DbTarget(path=path), create=True)
        clinic.setup_clinic(db, "Boot Test Clinic", "admin", PASSWORD)
        from iopdesk.services.recovery import ensure_recovery_key

        ensure_recovery_key(db)  # as `iopdesk init` does (else the app shows it at sign-in)
        db.close()
    finally:
        os.environ.pop("IOPDESK_DB_PASSPHRASE", None)


def _run_child(path: Path, **extra: str) -> dict[str, object]:
    env = {
        **os.environ,
        **extra,
        "CHILD_DB": str(path),
        "CHILD_PASSWORD": PASSWORD,
        "IOPDESK_DB_PASSPHRASE": "boot test passphrase",
        "PYTHONPATH": str(REPO),
    }
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    assert lines, f"the app printed nothing; stderr: {out.stderr[-2000:]}"
    result: dict[str, object] = json.loads(lines[-1])
    assert out.returncode == 0, f"{result} {out.stderr[-2000:]}"
    return result


def test_first_start_on_a_pc_then_the_sign_in_window_comes_first(tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    _make_clinic(path)
    # First start on this PC: nothing remembered, the usual start (stack loaded first).
    first = _run_child(path)
    assert first["main"] and first["title"] == "IOPDesk - Boot Test Clinic"
    assert first["models_at_paint"] is True
    # Every later start: the sign-in window is painted before the database stack is imported,
    # already naming the clinic and database; typing and Enter sign in as before.
    second = _run_child(path)
    # (SQLAlchemy itself may be half-imported by then: the loader thread starts first.)
    assert second["stack_loaded_at_paint"] is False
    assert second["sqlmodel_at_paint"] is False
    assert second["models_at_paint"] is False
    assert "Boot Test Clinic" in str(second["subtitle_at_paint"])
    assert str(path) in str(second["subtitle_at_paint"])
    assert second["main"] and second["title"] == "IOPDesk - Boot Test Clinic"


def test_remembered_values_hold_no_client_data(tmp_path: Path) -> None:
    from iopdesk.ui import boot

    boot.remember(str(tmp_path / "x.db"), "Lakeshore IOP", "Local encrypted file x.db")
    assert boot.remembered(str(tmp_path / "x.db")) == (
        "Lakeshore IOP",
        "Local encrypted file x.db",
    )
    assert boot.remembered(str(tmp_path / "other.db")) is None
    text = (Path(os.environ["IOPDESK_CONFIG_DIR"]) / "ui.ini").read_text()
    assert "Lakeshore IOP" in text and "M0000" not in text


def test_a_due_automatic_backup_runs_after_the_main_window_is_up(tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    _make_clinic(path)
    backups = tmp_path / "backups"
    os.environ["IOPDESK_DB_PASSPHRASE"] = "boot test passphrase"
    try:
        db = Database.open(DbTarget(path=path))
        from iopdesk.services import auth

        admin = auth.login(db, "admin", PASSWORD)
        clinic.set_setting(db, admin, "backup_folder", str(backups))
        db.close()
    finally:
        os.environ.pop("IOPDESK_DB_PASSPHRASE", None)
    seen = _run_child(path, CHILD_BACKUPS=str(backups))
    assert seen["main"]
    made = seen["backups"]
    assert isinstance(made, list) and made, "no backup was made although one was due"
    # Made after the main window was shown (it used to run before, with nothing on screen).
    assert min(made) >= float(seen["main_shown_at"])  # type: ignore[arg-type]
