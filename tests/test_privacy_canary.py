"""No PHI where it does not belong: a whole session (the GUI offscreen, printouts, a crash,
CLI exports) with a client called "Zyxwq Canaryname", then every log, temporary file, Qt
cache/config file and the (encrypted) database is scanned for that name."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.gui

REPO = Path(__file__).resolve().parents[1]
CANARY_FIRST, CANARY_LAST = "Zyxwq", "Canaryname"
NOTE_CANARY = "Qxzvy-secret-note-words"
PASSPHRASE = "canary-db-passphrase-9"

SESSION = textwrap.dedent(
    """
    import json, logging, sys, time
    from datetime import date, timedelta
    from pathlib import Path

    from iopdesk import logsetup
    logsetup.setup()
    from iopdesk.db import Database, DbTarget
    from iopdesk.errors import UserError
    from iopdesk.models import Note
    from iopdesk.services import auth, clients, consents, disclosures, hours
    from iopdesk.services.clinic import get_clinic
    from iopdesk.services.disclosures import Release

    out = Path(sys.argv[2])
    db = Database.open(DbTarget(path=Path(sys.argv[1])))
    admin = auth.login(db, "admin", sys.argv[3])
    from iopdesk.models import Track
    with db.session() as s:
        track = Track(track_code="SUD", name="SUD evening IOP", is_sud=True)
        s.add(track)
        s.flush()
        track_id = track.id
    c = clients.create_client(
        db, admin, clients.ClientInput(
            "{first}", "{last}", date(1991, 4, 5), status="active", track_id=track_id,
            admission_date=date.today() - timedelta(days=14),
        )
    )
    assert c.part2
    consents.add_consent(
        db, admin, c.id,
        consents.ConsentInput("Acme Health Plan", "payment", date.today(),
                              expiry_date=date.today() + timedelta(days=90),
                              info_categories=("all",)),
    )
    consents.print_consent_form(db, admin, c.id, out / "form.pdf")
    disclosures.print_accounting(db, admin, c.id, str(out / "accounting.pdf"))
    try:  # a refusal the user sees; its text must not reach the log either
        with db.session() as s:
            disclosures.authorize(s, admin, c.id, Release("disclosure", "Other", "legal"), "x")
    except UserError as exc:
        logging.getLogger("iopdesk.test").info("refused: %s", type(exc).__name__)
    hours.export_attendance_report(db, admin, date.today(), out / "week.xlsx")

    from PySide6.QtWidgets import QApplication
    from iopdesk.ui import msgbox
    from iopdesk.ui.app import make_app
    from iopdesk.ui.context import AppContext
    from iopdesk.ui.mainwindow import MainWindow

    app = make_app()
    msgbox.NON_BLOCKING = True
    window = MainWindow(AppContext(db, admin, get_clinic(db)))
    window.resize(1366, 768)
    window.show()
    window.go("Clients")
    from iopdesk.ui import ops

    window.open_chart(c.id)
    ops.wait_all()
    window.chart.tabs.setCurrentWidget(window.chart.privacy_tab)
    ops.wait_all()
    for _ in range(10):
        app.processEvents()
    window.chart.grab()
    # a bug whose message quotes the client: the crash handler must log no message text
    try:
        raise RuntimeError("crash while showing {first} {last} {note}")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    window._closing_for_sign_out = False
    window.close()
    app.processEvents()
    db.close()
    print("session done")
    """
).format(first=CANARY_FIRST, last=CANARY_LAST, note=NOTE_CANARY)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IOPDESK_", "XDG_"))}
    env.update(
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        HOME=str(home / "home"),
        TMPDIR=str(home / "tmp"),
        XDG_CACHE_HOME=str(home / "xdg-cache"),
        XDG_CONFIG_HOME=str(home / "xdg-config"),
        XDG_DATA_HOME=str(home / "xdg-data"),
        XDG_RUNTIME_DIR=str(home / "xdg-runtime"),
        IOPDESK_DATA_DIR=str(home / "data"),
        IOPDESK_CONFIG_DIR=str(home / "config"),
        IOPDESK_DB_PASSPHRASE=PASSPHRASE,
        IOPDESK_PASSWORD=PASSWORD,
        QT_QPA_PLATFORM="offscreen",
    )
    for name in ("home", "tmp", "xdg-cache", "xdg-config", "xdg-data", "xdg-runtime"):
        (home / name).mkdir(parents=True, exist_ok=True)
    (home / "xdg-runtime").chmod(0o700)
    return env


def _run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        env=_env(home),
        cwd=home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _hits(root: Path, needles: list[bytes], skip: Path) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if not path.is_file() or skip in path.parents:
            continue
        data = path.read_bytes()
        if any(n in data for n in needles):
            found.append(str(path.relative_to(root)))
    return found


def test_no_client_name_in_logs_temp_files_caches_or_the_database_file(tmp_path: Path):
    home = tmp_path
    out = home / "exports"  # the user's chosen folder: exports there are meant to hold PHI
    out.mkdir()
    db_path = home / "data" / "clinic.db"
    init = _run(
        home, "-m", "iopdesk", "--db", str(db_path), "init", "--clinic-name", "Canary Clinic",
        "--admin", "admin",
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    session = _run(home, "-c", SESSION, str(db_path), str(out), PASSWORD)
    assert session.returncode == 0, session.stderr[-3000:]
    assert "session done" in session.stdout
    week = __import__("datetime").date.today().isoformat()
    cli = [
        ("report", "attendance", "--week", week, "-o", str(out / "cli-week.pdf"), "--internal"),
        (
            "report",
            "attendance",
            "--week",
            week,
            "-o",
            str(out / "x.pdf"),
            "--recipient",
            "X",
            "--purpose",
            "y",
        ),
        ("export", "workbook", "-o", str(out / "cli.xlsx")),
        ("export", "workbook", "-o", str(out / "y.xlsx"), "--purpose", "payment"),
    ]
    codes = []
    for args in cli:
        r = _run(home, "-m", "iopdesk", "--db", str(db_path), "--user", "admin", *args)
        codes.append(r.returncode)
        assert CANARY_LAST not in r.stderr  # one line with the MRN, never the name
        assert (
            r.returncode == 0
            or "42 CFR Part 2" in r.stderr
            or "--recipient" in r.stderr
            or "recipient directory" in r.stderr
        )
    assert codes == [0, 2, 0, 2]  # the disclosure without a consent was refused
    assert not (out / "x.pdf").exists()
    needles = []
    for text in (CANARY_LAST, NOTE_CANARY, CANARY_LAST.upper()):
        needles += [text.encode("utf-8"), text.encode("utf-16-le")]
    log_file = home / "data" / "logs" / "iopdesk.log"
    logs = sorted(p.name for p in (home / "data").rglob("*.log*"))
    assert logs, "the session wrote no log file"
    log_text = "".join(p.read_text() for p in (home / "data").rglob("*.log*"))
    assert "unexpected RuntimeError" in log_text  # the crash was logged, without its message
    assert _hits(home, needles, skip=out) == []
    assert log_file.exists()
    # the session really handled the name (the user's own export holds it) ...
    from openpyxl import load_workbook

    cells = [v for row in load_workbook(out / "week.xlsx").active.iter_rows(values_only=True)
             for v in row if v]  # fmt: skip
    assert any(CANARY_LAST in str(v) for v in cells)
    # ... and the scan can fail: a stray copy in the temporary folder would be found
    stray = home / "tmp" / "stray.txt"
    stray.write_text(f"{CANARY_FIRST} {CANARY_LAST}", encoding="utf-16-le")
    assert _hits(home, needles, skip=out) == ["tmp/stray.txt"]
