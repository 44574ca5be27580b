"""Crash safety on real files: a writer SIGKILLed at random moments (scripts/kill_harness.py,
a smaller count here than the script's 200+), and a full disk (a small tmpfs mounted for the
test) that gives a plain message and loses nothing already saved."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from iopdesk.db import Database, DbTarget
from iopdesk.errors import DiskFullError
from iopdesk.services import audit, backup, clients
from iopdesk.services.clinic import set_setting
from tests.conftest import TEST_KEY, World

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

CI_KILLS = int(os.environ.get("IOPDESK_CI_KILLS", "20"))
pytestmark = pytest.mark.sqlite_only


@pytest.fixture(scope="module")
def demo_clinic(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    import kill_harness

    return kill_harness.prepare(tmp_path_factory.mktemp("kills"))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the harness forks its writer")
def test_random_sigkills_leave_a_sound_database(demo_clinic) -> None:  # type: ignore[no-untyped-def]
    import kill_harness

    report = kill_harness.run(CI_KILLS, seed=7, max_delay=1.0, clinic=demo_clinic)
    assert report.kills == CI_KILLS
    assert report.failures == []
    # The writer really was working when it was killed (not just starting up).
    assert report.committed.get("signed", 0) + report.committed.get("attendance", 0) >= 5


def test_checker_detects_a_broken_invariant(demo_clinic, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The harness's checks can fail: a half-signed note and a lost commit are caught."""
    import dataclasses

    import kill_harness

    path = tmp_path / "copy.db"
    src = Database.open(DbTarget(path=demo_clinic.path), key=demo_clinic.key)
    try:
        src.backup_sqlite(path)
    finally:
        src.close()
    clinic = dataclasses.replace(demo_clinic, path=path)
    seen = kill_harness.Seen()
    assert kill_harness.check(clinic, seen) == []
    db = Database.open(DbTarget(path=clinic.path), key=clinic.key)
    try:
        with db.engine.begin() as conn:
            note_id = conn.execute(
                text("SELECT id FROM note WHERE status = 'draft' LIMIT 1")
            ).scalar_one()
            conn.execute(text("DROP TRIGGER IF EXISTS note_signed_immutable"))
            conn.execute(
                text("UPDATE note SET status = 'signed', content_sha256 = '' WHERE id = :i"),
                {"i": note_id},
            )
    finally:
        db.close()
    seen.signed.add(10**9)  # reported as signed, but not in the database
    problems = kill_harness.check(clinic, seen)
    assert any("half-signed" in p for p in problems)
    assert any("lost after the kill" in p for p in problems)


# -- a full disk --------------------------------------------------------------------------------


def _mount_tmpfs(where: Path, size: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MB file system (tmpfs); the test is skipped where mounting is not allowed."""
    where = tmp_path / "small-disk"
    if not _mount_tmpfs(where, "4m"):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(folder: Path, leave: int) -> Path:
    filler = folder / "filler.bin"
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    with filler.open("wb") as f:
        f.write(b"\0" * max(0, free - leave))
    return filler


def test_disk_full_plain_message_and_nothing_lost(
    small_disk: Path, sqlite_template: tuple[Path, World]
) -> None:
    template, world = sqlite_template
    path = small_disk / "iopdesk.db"
    shutil.copyfile(template, path)
    shutil.copyfile(str(template) + ".keyinfo", str(path) + ".keyinfo")
    db = Database.open(DbTarget(path=path), key=TEST_KEY)
    saved: list[int] = []
    try:
        filler = _fill(small_disk, leave=96 * 1024)
        error = None
        for i in range(2000):
            try:
                info = clients.create_client(
                    db,
                    world.admin,
                    clients.ClientInput(
                        "Disk", f"Full{i:04d}", date(1990, 1, 1), referral_source="x" * 200
                    ),
                )
            except DiskFullError as exc:
                error = exc
                break
            assert info.id is not None
            saved.append(info.id)
        assert error is not None, "the disk never filled up"
        assert saved, "nothing fitted before the disk was full"
        assert error.message.startswith("The disk is full")
        assert "Everything saved before is safe" in error.message
        # Space freed: the same open database carries on.
        filler.unlink()
        again = clients.create_client(
            db, world.admin, clients.ClientInput("Disk", "Afterwards", date(1990, 1, 1))
        )
        assert again.id is not None
        saved.append(again.id)
    finally:
        db.close()
    reopened = Database.open(DbTarget(path=path), key=TEST_KEY)
    try:
        with reopened.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            ids = {r[0] for r in conn.execute(text("SELECT id FROM client"))}
        assert set(saved) <= ids
        assert audit.verify(reopened).ok
    finally:
        reopened.close()


def test_backup_to_a_full_folder_says_so_and_leaves_no_partial_file(
    small_disk: Path, env: object
) -> None:
    db, world = env.db, env.world  # type: ignore[attr-defined]
    set_setting(db, world.admin, "backup_folder", str(small_disk / "backups"))
    (small_disk / "backups").mkdir()
    _fill(small_disk, leave=64 * 1024)
    with pytest.raises(DiskFullError, match=r"backup folder .* is full"):
        backup.create_backup(db, world.admin)
    assert [p.name for p in (small_disk / "backups").iterdir()] == []
    st = backup.status(db)
    assert st.last_attempt_status == "failed" and st.last_ok_at is None
    assert audit.verify(db).ok


FSIZE_WRITER = r"""
import json, os, resource, signal, sys
from datetime import date
from pathlib import Path
from iopdesk.db import Database, DbTarget
from iopdesk.errors import UserError
from iopdesk.services import auth, clients

path, key = Path(sys.argv[1]), bytes.fromhex(sys.argv[2])
db = Database.open(DbTarget(path=path), key=key)
admin = auth.login(db, "admin", sys.argv[3])
biggest = max(os.path.getsize(p) for p in (path, Path(str(path) + "-wal")) if p.exists())
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (biggest + 128 * 1024, resource.RLIM_INFINITY))
saved, error = [], None
for i in range(5000):
    try:
        c = clients.create_client(db, admin, clients.ClientInput(
            "Disk", f"Limit{i:04d}", date(1990, 1, 1), referral_source="x" * 200))
    except UserError as exc:
        error = {"type": type(exc).__name__, "message": exc.message}
        break
    saved.append(c.id)
print(json.dumps({"saved": saved, "error": error}))
"""


def test_write_past_a_file_size_limit_plain_message_and_nothing_lost(
    tmp_path: Path, sqlite_template: tuple[Path, World]
) -> None:
    """Where no small file system can be mounted (CI without root): a real file-size limit
    (RLIMIT_FSIZE) in a subprocess makes SQLite's writes fail the way a full disk does."""
    import json

    from tests.conftest import PASSWORD

    template, _world = sqlite_template
    path = tmp_path / "iopdesk.db"
    shutil.copyfile(template, path)
    shutil.copyfile(str(template) + ".keyinfo", str(path) + ".keyinfo")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", FSIZE_WRITER, str(path), TEST_KEY.hex(), PASSWORD],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["saved"], "nothing fitted under the limit"
    assert result["error"] is not None, "the limit was never reached"
    assert result["error"]["type"] == "DiskFullError"
    assert "could not be saved" in result["error"]["message"]
    assert "Everything saved before is safe" in result["error"]["message"]
    db = Database.open(DbTarget(path=path), key=TEST_KEY)
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            ids = {r[0] for r in conn.execute(text("SELECT id FROM client"))}
        assert set(result["saved"]) <= ids
        assert audit.verify(db).ok
    finally:
        db.close()
