"""Backups and restore on real files: verified round trip equal row for row, damaged and foreign
backups refused before anything is replaced, retention, the automatic-backup age rule, the
Today warning and the `iopdesk backup` / `iopdesk restore` commands."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from iopdesk.db import Database, DbTarget
from iopdesk.errors import PermissionDenied
from iopdesk.models.base import utcnow
from iopdesk.services import audit, backup, clients
from iopdesk.services.clinic import set_setting
from tests.conftest import PASSWORD, TEST_KEY, Env, World


def dump(db: Database, skip: tuple[str, ...] = ()) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order (what "equal row for row" means)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with db.engine.connect() as conn:
        for table in sorted(inspect(conn).get_table_names()):
            if table in skip:
                continue
            rows = conn.execute(text(f'SELECT * FROM "{table}"')).all()
            out[table] = sorted((tuple(r) for r in rows), key=repr)
    return out


def client_name(db: Database, client_id: int) -> tuple[str, str] | None:
    with db.engine.connect() as conn:
        row = conn.execute(
            text("SELECT first_name, last_name FROM client WHERE id = :i"), {"i": client_id}
        ).first()
    return None if row is None else (row[0], row[1])


def events(db: Database) -> list[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM audit_event ORDER BY id"))]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def folder(env: Env, tmp_path: Path) -> Path:
    path = tmp_path / "backups"
    set_setting(env.db, env.world.admin, "backup_folder", str(path))
    return path


def add_client(db: Database, world: World, last: str = "Afterbackup") -> int:
    info = clients.create_client(
        db, world.admin, clients.ClientInput("Late", last, date(1980, 3, 4))
    )
    assert info.id is not None
    return info.id


# -- SQLite -------------------------------------------------------------------------------------

pytestmark = pytest.mark.sqlite_only


def test_backup_is_verified_copy_equal_row_for_row(env: Env, folder: Path) -> None:
    db, world = env.db, env.world
    before = dump(db)
    result = backup.create_backup(db, world.admin)
    assert result.path.parent == folder and result.path.is_file()
    assert result.kind == backup.KIND_MANUAL
    assert result.counts["client"] == 2 and result.rows > 20
    assert backup.backup_files(folder, "iopdesk")[0][1] == result.path
    # The backup opens with the same key and holds exactly the rows the database held.
    copy = Database.open(DbTarget(path=result.path), key=TEST_KEY, migrate=False)
    try:
        assert dump(copy) == before
    finally:
        copy.close()
    # The wrong key cannot open it: it is encrypted, not a plain SQLite file.
    with pytest.raises(backup.BadBackupError, match="key"):
        backup.check_file(result.path, b"\x01" * 32)
    assert not result.path.read_bytes().startswith(b"SQLite format 3")
    # Recorded and audited.
    st = backup.status(db)
    assert st.last_ok_path == str(result.path) and st.last_attempt_status == "ok"
    rows = backup.list_backups(db, world.admin)
    assert rows[0].on_disk and rows[0].kind == "manual"
    assert audit.verify(db).ok


def test_restore_round_trip(env: Env, folder: Path) -> None:
    db, world = env.db, env.world
    events_at_backup = events(db)
    made = backup.create_backup(db, world.admin)
    at_backup = dump(db, skip=("backuprecord", "audit_event", "audit_head"))
    late = add_client(db, world)
    result = backup.restore(db, world.admin, made.path)
    assert result.kept_aside is not None and result.kept_aside.is_file()
    assert result.kept_aside.name.startswith("iopdesk.db.before-restore-")
    # The same Database object keeps working, now on the restored data.
    assert dump(db, skip=("backuprecord", "audit_event", "audit_head")) == at_backup
    assert client_name(db, late) is None
    after = events(db)
    assert after[: len(events_at_backup)] == events_at_backup  # old history unchanged
    assert [e[4] for e in after[len(events_at_backup) :]] == ["restore"]
    assert audit.verify(db).ok
    with db.engine.connect() as conn:
        last = conn.execute(text("SELECT action FROM audit_event ORDER BY id DESC")).first()
    assert last is not None and last[0] == "restore"
    # The copy kept aside still holds the client added after the backup.
    aside = Database.open(DbTarget(path=result.kept_aside), key=TEST_KEY, migrate=False)
    try:
        assert client_name(aside, late) == ("Late", "Afterbackup")
    finally:
        aside.close()


def _damage(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)  # one page's ciphertext overwritten
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["damaged", "truncated", "not-a-database", "wrong-key"])
def test_bad_backup_refused_before_anything_replaced(
    env: Env, folder: Path, tmp_path: Path, how: str
) -> None:
    db, world = env.db, env.world
    made = backup.create_backup(db, world.admin)
    late = add_client(db, world)
    bad = tmp_path / "bad.db"
    if how == "damaged":
        shutil.copyfile(made.path, bad)
        _damage(bad)
    elif how == "truncated":
        bad.write_bytes(made.path.read_bytes()[:8192])
    elif how == "not-a-database":
        bad.write_text("hello, this is not a database\n" * 500)
    else:  # a perfectly good backup of another clinic's database (another key)
        other = Database.open(DbTarget(path=tmp_path / "other.db"), create=True, key=b"\x07" * 32)
        from iopdesk.services.clinic import setup_clinic

        setup_clinic(other, "Other Clinic", "admin", PASSWORD)
        other.backup_sqlite(bad)
        other.close()
    assert db.path is not None
    db.engine.dispose()
    before = sha(db.path)
    with pytest.raises(backup.BadBackupError) as exc:
        backup.restore(db, world.admin, bad)
    assert "Nothing was changed" in exc.value.message or "no backup" in exc.value.message.lower()
    if how == "wrong-key":
        assert "another IOPDesk database" in exc.value.message
    db.engine.dispose()
    assert sha(db.path) == before
    assert not list(db.path.parent.glob("*.before-restore-*"))
    assert not list(db.path.parent.glob("*.restore-staging"))
    assert client_name(db, late) == ("Late", "Afterbackup")


def test_only_an_administrator_backs_up_or_restores(env: Env, folder: Path) -> None:
    db, world = env.db, env.world
    made = backup.create_backup(db, world.admin)
    for who in (world.front_desk, world.therapist, world.billing):
        with pytest.raises(PermissionDenied):
            backup.create_backup(db, who)
        with pytest.raises(PermissionDenied):
            backup.restore(db, who, made.path)


def test_retention_keeps_last_days_and_months(env: Env, folder: Path) -> None:
    db, world = env.db, env.world
    set_setting(db, world.admin, "backup_keep_daily", 2)
    set_setting(db, world.admin, "backup_keep_monthly", 2)
    times = [
        datetime(2026, 1, 5, 9, tzinfo=UTC),
        datetime(2026, 1, 20, 9, tzinfo=UTC),
        datetime(2026, 2, 3, 9, tzinfo=UTC),
        datetime(2026, 2, 10, 10, tzinfo=UTC),
        datetime(2026, 2, 10, 12, tzinfo=UTC),
        datetime(2026, 2, 11, 9, tzinfo=UTC),
    ]
    made = [backup.create_backup(db, world.admin, now=t).path for t in times]
    left = [p for _t, p in backup.backup_files(folder, "iopdesk")]
    # Days: Feb 11 and Feb 10 (its newest); months: Feb (Feb 11) and Jan (Jan 20).
    assert left == [made[5], made[4], made[1]]
    for gone in (made[0], made[2], made[3]):
        assert not gone.exists() and not Path(str(gone) + ".keyinfo").exists()
    statuses = {r.path: r.status for r in backup.list_backups(db, world.admin)}
    assert statuses[str(made[0])] == "pruned" and statuses[str(made[5])] == "ok"
    # Files of other databases in the same folder are never touched.
    stranger = folder / "otherclinic-backup-20250101-000000.db"
    stranger.write_bytes(b"x")
    backup.prune(db)
    assert stranger.exists()


def test_automatic_backup_age_rule_and_today_warning(env: Env, folder: Path) -> None:
    db, world = env.db, env.world
    set_setting(db, world.admin, "backup_interval_hours", 24)
    now = utcnow()
    assert "never been backed up" in (backup.stale_warning(db, now) or "")
    first = backup.auto_backup(db, now=now)
    assert first is not None and first.kind == "automatic"
    assert backup.stale_warning(db, now) is None
    assert backup.auto_backup(db, now=now + timedelta(hours=23)) is None
    second = backup.auto_backup(db, now=now + timedelta(hours=25))
    assert second is not None and second.path != first.path
    assert backup.stale_warning(db, now + timedelta(hours=25, days=2)) is None
    warning = backup.stale_warning(db, now + timedelta(hours=25, days=4))
    assert warning is not None and "4 days old" in warning
    records = [r for r in backup.list_backups(db, world.admin) if r.status == "ok"]
    assert len(records) == 2 and {r.kind for r in records} == {"automatic"}


def test_failed_backup_is_recorded_and_keeps_the_database(env: Env, tmp_path: Path) -> None:
    db, world = env.db, env.world
    blocker = tmp_path / "a-file-not-a-folder"
    blocker.write_text("x")
    set_setting(db, world.admin, "backup_folder", str(blocker / "sub"))
    assert backup.auto_backup(db) is None  # never raises at start-up or close
    st = backup.status(db)
    assert st.last_ok_at is None and st.last_attempt_status == "failed"
    assert "could not be written" in st.last_attempt_message
    with pytest.raises(backup.BackupError, match="could not be written"):
        backup.create_backup(db, world.admin)
    assert client_name(db, world.client_own) == ("Canary", "Ownclient")


def test_restore_damaged_database_signs_in_against_backup(env: Env, folder: Path) -> None:
    db, world = env.db, env.world
    made = backup.create_backup(db, world.admin)
    assert db.path is not None
    path = db.path
    db.close()
    # The live file gets damaged (say, a power cut during a disk failure).
    for side in ("-wal", "-shm"):
        Path(str(path) + side).unlink(missing_ok=True)
    data = bytearray(path.read_bytes())
    data[0:4096] = bytes(4096)
    path.write_bytes(bytes(data))
    from iopdesk.errors import CorruptDatabaseError

    with pytest.raises(CorruptDatabaseError):
        Database.open(DbTarget(path=path), key=TEST_KEY)
    newer = folder / "iopdesk-backup-29991231-000000.db"  # newest, but damaged: skipped
    shutil.copyfile(made.path, newer)
    _damage(newer)
    candidates = backup.restore_candidates(path, TEST_KEY)
    assert [p for _t, p in candidates] == [made.path]
    assert backup.restore_candidates(path, TEST_KEY, limit=1) == candidates
    from iopdesk.errors import AuthenticationError
    from iopdesk.services.auth import login

    with pytest.raises(AuthenticationError):
        backup.restore_damaged(
            path, made.path, lambda s: login(s, "admin", "wrong-password"), key=TEST_KEY
        )
    with pytest.raises(PermissionDenied):
        backup.restore_damaged(
            path, made.path, lambda s: login(s, "frontdesk", PASSWORD), key=TEST_KEY
        )
    assert not list(path.parent.glob("*.before-restore-*"))
    result = backup.restore_damaged(
        path, made.path, lambda s: login(s, "admin", PASSWORD), key=TEST_KEY
    )
    assert result.kept_aside is not None
    reopened = Database.open(DbTarget(path=path), key=TEST_KEY)
    try:
        assert client_name(reopened, world.client_own) == ("Canary", "Ownclient")
        assert audit.verify(reopened).ok
    finally:
        reopened.close()


# -- the command line ---------------------------------------------------------------------------


def test_cli_backup_and_restore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real command functions in-process (tests/test_cli.py covers the subprocess wiring)."""
    from iopdesk import cli

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("IOPDESK_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("IOPDESK_DB_PASSPHRASE", "cli-db-passphrase-7")
    monkeypatch.setenv("IOPDESK_PASSWORD", PASSWORD)
    dbfile = home / "clinic.db"

    def run(*args: str) -> tuple[int, str, str]:
        code = cli.main(["--db", str(dbfile), *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, _, err = run("init", "--clinic-name", "CLI Clinic", "--admin", "boss")
    assert code == 0, err
    code, out, err = run("--user", "boss", "backup")
    assert code == 0 and "rows verified" in out, err
    in_folder = list((home / "data" / "backups").glob("clinic-backup-*.db"))
    assert len(in_folder) == 1
    copy = home / "copy.db"
    code, out, err = run("--user", "boss", "backup", "-o", str(copy))
    assert code == 0 and copy.is_file() and Path(str(copy) + ".keyinfo").is_file(), err
    # A damaged backup is refused with one line; nothing replaced.
    bad = home / "bad.db"
    shutil.copyfile(copy, bad)
    _damage(bad)
    code, _, err = run("--user", "boss", "restore", str(bad))
    assert code == 2 and "damaged" in err and "Traceback" not in err
    assert not list(home.glob("clinic.db.before-restore-*"))
    code, out, err = run("--user", "boss", "restore", str(copy))
    assert code == 0, err
    assert "kept as" in out and len(list(home.glob("clinic.db.before-restore-*"))) == 1
    # A damaged live database: the error names the latest backup, and restore still works
    # (the administrator's password is checked against the backup itself).
    for side in ("-wal", "-shm"):
        Path(str(dbfile) + side).unlink(missing_ok=True)
    raw = bytearray(dbfile.read_bytes())
    raw[0:4096] = bytes(4096)
    dbfile.write_bytes(bytes(raw))
    code, _, err = run("--user", "boss", "audit", "verify")
    assert code == 2 and "damaged" in err and "iopdesk restore" in err
    assert str(in_folder[0]) in err
    monkeypatch.setenv("IOPDESK_PASSWORD", "not-the-password")
    code, _, err = run("--user", "boss", "restore", str(in_folder[0]))
    assert code == 2 and len(list(home.glob("clinic.db.before-restore-*"))) == 1
    monkeypatch.setenv("IOPDESK_PASSWORD", PASSWORD)
    code, out, err = run("--user", "boss", "restore", str(in_folder[0]))
    assert code == 0 and "cannot be opened" in out, err
    code, out, err = run("--user", "boss", "audit", "verify")
    assert code == 0, err
    # PostgreSQL databases are restored on the server; the command says how.
    code = cli.main(["--db", "postgresql://u@server/clinic", "--user", "boss", "restore", "x"])
    assert code == 2 and "pg_restore" in capsys.readouterr().err


# -- PostgreSQL -----------------------------------------------------------------------------------


@pytest.mark.pg
def test_postgres_backup_with_pg_dump(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = request.getfixturevalue("pg_server")
    template, world = request.getfixturevalue("pg_template")
    server.create_database("bk_src", template=template)
    src = Database.open(DbTarget(url=server.url("bk_src")))
    try:
        dump_file = tmp_path / "clinic.dump"
        from tests.pgharness import find_pg_bin

        pg_bin = find_pg_bin()
        assert pg_bin is not None
        monkeypatch.setenv("PATH", f"{pg_bin}:/usr/bin:/bin")
        result = backup.create_backup(src, world.admin, dump_file)
        assert result.kind == "pg_dump" and dump_file.stat().st_size > 1000
        # The dump's key information records the audit chain head, and verify compares it.
        head = json.loads(Path(str(dump_file) + ".keyinfo").read_text())["audit_head"]
        assert head["last_id"] > 0 and head["head_mac"]
        checked = audit.verify(src)
        assert checked.ok and checked.anchors_checked >= 2, checked.message()
        before = dump(src, skip=("backuprecord", "audit_event", "audit_head"))
        server.create_database("bk_dst")
        restored = subprocess.run(
            [str(pg_bin / "pg_restore"), "--no-owner", "-d", server.conninfo("bk_dst"),
             str(dump_file)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert restored.returncode == 0, restored.stderr
        dst = Database.open(DbTarget(url=server.url("bk_dst")))
        try:
            assert dump(dst, skip=("backuprecord", "audit_event", "audit_head")) == before
        finally:
            dst.close()
        # Without pg_dump on PATH the message says what to do instead.
        monkeypatch.setenv("PATH", str(tmp_path))
        with pytest.raises(backup.BackupError, match="pg_dump -Fc -d bk_src"):
            backup.create_backup(src, world.admin, tmp_path / "again.dump")
        assert backup.status(src).last_ok_at is not None
        assert backup.stale_warning(src) is None  # the server's backups are the server's job
    finally:
        src.close()
        server.drop_database("bk_src")
        server.drop_database("bk_dst")
