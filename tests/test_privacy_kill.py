"""No PHI outside the encrypted store when an export is killed (issue 17, item 5): each export
(clinic workbook, billing, attendance report, audit report) is killed with SIGKILL half-way
through its rows and again while the file is being packaged; then the log folder, the temp
folders and the home folder are scanned for the canary client name. The only leftovers are the
`<target>.partial` file and its row buffers beside the target (the user's chosen folder), and
the next export to that target removes them. Also: a database error whose parameters and
driver message quote a client is logged without those values."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from iopdesk.db import Database
from tests.test_privacy_canary import _env, _hits

CANARY = "Zyxwqcanary"
PHONE = "555-0199-4242"
REPO = Path(__file__).resolve().parents[1]
EXPORTS = ("workbook", "billing", "attendance", "audit")

SETUP = textwrap.dedent(
    """
    import sys
    from datetime import date
    from pathlib import Path
    from iopdesk import logsetup
    logsetup.setup()
    import sqlalchemy as sa
    from iopdesk.db import Database, DbTarget
    from iopdesk.demo import create_demo_clinic
    db = Database.open(DbTarget(path=Path(sys.argv[1])), create=True)
    create_demo_clinic(db, today=date(2026, 11, 27))
    with db.session() as s:
        s.execute(sa.text("UPDATE client SET last_name = :n || id, phone = :p"),
                  {{"n": "{canary}", "p": "{phone}"}})
    db.close()
    print("setup done")
    """
).format(canary=CANARY, phone=PHONE)

EXPORT = textwrap.dedent(
    """
    import os, sys, time, zipfile
    from datetime import date
    from pathlib import Path
    from iopdesk import logsetup
    logsetup.setup()
    from iopdesk.db import Database, DbTarget
    from iopdesk.reports import xlsx
    from iopdesk.services import audit_report, billing, hours, workbook
    from iopdesk.services.auth import login

    db_path, target, which, point = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]

    def pause():
        print("PAUSED", flush=True)
        time.sleep(600)

    if point == "rows":  # stop half-way through the rows of the first big sheet
        original = xlsx.Sheet.append
        count = [0]
        def append(self, values, styles=None):
            original(self, values, styles)
            count[0] += 1
            if count[0] == 40:
                pause()
        xlsx.Sheet.append = append
    elif point == "package":  # stop while the parts are zipped into the file
        original_write = zipfile.ZipFile.write
        def write(self, *args, **kw):
            result = original_write(self, *args, **kw)
            if "sheet" in str(args[1] if len(args) > 1 else kw.get("arcname")):
                pause()
            return result
        zipfile.ZipFile.write = write
        original_writestr = zipfile.ZipFile.writestr
        def writestr(self, info, data, *args, **kw):
            result = original_writestr(self, info, data, *args, **kw)
            if "sheet" in getattr(info, "filename", str(info)):
                pause()
            return result
        zipfile.ZipFile.writestr = writestr

    db = Database.open(DbTarget(path=Path(db_path)))
    admin = login(db, "admin", "iopdesk-demo")
    if which == "workbook":
        workbook.export_workbook(db, admin, target)
    elif which == "billing":
        biller = login(db, "billing", "iopdesk-demo")
        billing.export(db, biller, date(2026, 10, 1), date(2026, 10, 31), target)
    elif which == "attendance":
        hours.export_attendance_report(db, admin, date(2026, 11, 16), target)
    else:
        audit_report.export(db, admin, audit_report.AuditQuery(), target)
    print("EXPORTED", flush=True)
    """
)


def _python(home: Path, *args: str) -> subprocess.Popen[str]:
    env = _env(home)
    env["IOPDESK_PASSWORD"] = "iopdesk-demo"
    return subprocess.Popen(
        [sys.executable, *args],
        env=env,
        cwd=home,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    home = tmp_path_factory.mktemp("killhome")
    db_path = home / "data" / "clinic.db"
    proc = _python(home, "-c", SETUP, str(db_path))
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0 and "setup done" in out, err[-3000:]
    return home, db_path


@pytest.mark.parametrize("point", ["rows", "package"])
@pytest.mark.parametrize("which", EXPORTS)
def test_killed_export_leaves_no_phi_outside_the_target_folder(
    clinic: tuple[Path, Path], which: str, point: str
) -> None:
    home, db_path = clinic
    folder = home / f"out-{which}-{point}"
    folder.mkdir()
    target = folder / f"{which}.xlsx"
    proc = _python(home, "-c", EXPORT, str(db_path), str(target), which, point)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "PAUSED" not in line:
        proc.kill()
        pytest.fail(f"the export never reached {point}: {line!r} {proc.stderr.read()[-3000:]}")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    needles = [s.encode() for s in (CANARY, PHONE)] + [CANARY.encode("utf-16-le")]
    # logs, TMPDIR, HOME, XDG folders: nothing (the export folders hold what the user asked for)
    outside = [h for h in _hits(home, needles, skip=folder) if not h.startswith("out-")]
    assert outside == []
    assert not target.exists()
    left = sorted(p.name for p in folder.iterdir())
    assert set(left) <= {f"{which}.xlsx.partial", f"{which}.xlsx.partial.d"}, left
    # the next export to the same target replaces the leftovers and completes
    again = _python(home, "-c", EXPORT, str(db_path), str(target), which, "none")
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0 and "EXPORTED" in out, err[-3000:]
    assert sorted(p.name for p in folder.iterdir()) == [f"{which}.xlsx"]
    from openpyxl import load_workbook

    cells = [
        str(v)
        for ws in load_workbook(target, read_only=True).worksheets
        for row in ws.iter_rows(values_only=True)
        for v in row
        if v is not None
    ]
    assert cells
    if which != "audit":  # the audit report holds no names: it shows who did what to which MRN
        assert any(CANARY in v for v in cells)  # the scan looked for a name really exported


def test_a_database_error_is_logged_without_the_values(db: Database, tmp_path: Path) -> None:
    """An unexpected database error whose statement carries a client's name and phone, and
    whose driver message may quote them (PostgreSQL's 'Key (mrn)=(...)'): its text hides the
    parameters, and the log shows the error's type and stack frames only."""
    from iopdesk import logsetup

    log_file = tmp_path / "iopdesk.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logsetup.NoValuesFormatter("%(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger("iopdesk.test.dberror")
    log.addHandler(handler)
    mrn = f"{CANARY}-MRN"
    update = sa.text("UPDATE client SET mrn = :mrn, first_name = :first, phone = :phone")
    values = {"mrn": mrn, "first": CANARY, "phone": PHONE}
    try:
        with pytest.raises(sa_exc.IntegrityError) as err, db.engine.begin() as conn:
            conn.execute(update, values)  # two clients, one MRN: a unique violation
        assert PHONE not in str(err.value)  # hide_parameters: "[SQL parameters hidden ...]"
        try:
            raise RuntimeError("while saving") from err.value
        except RuntimeError:
            log.exception("unexpected error in command %s", "import")
    finally:
        log.removeHandler(handler)
        handler.close()
    text = log_file.read_text(encoding="utf-8")
    assert "unexpected error in command import" in text
    assert "IntegrityError" in text or "DBAPIError" in text or "Error" in text
    assert CANARY not in text and PHONE not in text
