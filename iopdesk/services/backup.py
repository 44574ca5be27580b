"""Backups and restore: nobody at a small clinic should have to remember to make one.

Local database: a consistent snapshot taken with the SQLite online backup API while holding one
read transaction (so the row counts we compare against belong to the same snapshot), encrypted
with the same key, written to a `.partial` file, verified (opened with the key, integrity check,
row counts equal to the source) and only then renamed into place. Automatic backups go to the
backup folder setting and are pruned to the last N days and M months. Restore verifies the file
first and refuses a damaged or foreign backup before anything is replaced; the current database
is kept aside as a dated copy.

PostgreSQL: `pg_dump` when it is installed; otherwise the message says what to run instead.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from iopdesk import paths
from iopdesk import secrets as keys
from iopdesk.db import Database, DbTarget
from iopdesk.errors import DatabaseError, DiskFullError, UserError
from iopdesk.models import BackupRecord
from iopdesk.models.base import utcnow
from iopdesk.services import integrity
from iopdesk.services.actor import Actor
from iopdesk.services.declare import service
from iopdesk.services.permissions import Perm, require

log = logging.getLogger(__name__)

STALE_DAYS = 3
STAMP_FORMAT = "%Y%m%d-%H%M%S"
KIND_AUTOMATIC = "automatic"
KIND_MANUAL = "manual"
KIND_FILE = "file"
KIND_POSTGRES = "pg_dump"


class BackupError(DatabaseError):
    """A backup could not be made or a backup file cannot be used."""

    title = "Backup problem"


class BadBackupError(BackupError):
    """A backup file that must not be restored: damaged, foreign key, not IOPDesk, too new."""

    title = "This backup cannot be used"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size_bytes: int
    counts: dict[str, int]
    kind: str
    pruned: list[Path] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class FileCheck:
    """What a verified backup file holds."""

    path: Path
    revision: str | None
    counts: dict[str, int]
    clinic_name: str

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class BackupRow:
    id: int
    created_at: datetime
    path: str
    kind: str
    status: str
    size_bytes: int
    message: str
    on_disk: bool


@dataclass(frozen=True)
class BackupStatus:
    last_ok_at: datetime | None
    last_ok_path: str
    last_attempt_at: datetime | None
    last_attempt_status: str
    last_attempt_message: str
    folder: Path | None

    def age_days(self, now: datetime | None = None) -> float | None:
        if self.last_ok_at is None:
            return None
        return ((now or utcnow()) - self.last_ok_at).total_seconds() / 86400


@dataclass(frozen=True)
class RestoreResult:
    restored_from: Path
    kept_aside: Path | None
    counts: dict[str, int]

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


# -- low level: encrypted connections and checks ------------------------------------------


def db_key(db: Database) -> bytes:
    """The raw key of an open local database (the engine holds it as x'hex')."""
    if db.backend != "sqlite":
        raise BackupError("File backups are for the local database only.")
    raw = str(db.engine.url.password or "")
    match = re.fullmatch(r"x'([0-9a-fA-F]+)'", raw)
    if match is None:
        raise BackupError("The database key is not available to the backup.")
    return bytes.fromhex(match.group(1))


def _connect(path: Path, key: bytes) -> Any:
    import sqlcipher3

    conn = sqlcipher3.connect(str(path), check_same_thread=False)
    conn.isolation_level = None
    cur = conn.cursor()
    with contextlib.suppress(Exception):  # older SQLCipher builds lack the pragma
        cur.execute("PRAGMA cipher_log_level = NONE")
    cur.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    cur.close()
    return conn


def _table_counts(conn: Any) -> dict[str, int]:
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        ).fetchall()
    ]
    return {n: int(conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in names}


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return True
    msg = str(exc).lower()
    return "disk is full" in msg or "no space left" in msg or "file too large" in msg


def check_file(path: Path, key: bytes) -> FileCheck:
    """Open a backup with the key and prove it is a whole IOPDesk database; raise otherwise."""
    from iopdesk.migrations import runner

    if not path.is_file() or path.stat().st_size == 0:
        raise BadBackupError(f"There is no backup file at {path}.")
    try:
        conn = _connect(path, key)
    except Exception as exc:
        raise BadBackupError(f"The backup {path.name} cannot be opened: {exc}") from None
    try:
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except Exception:
            raise BadBackupError(
                f"The backup {path.name} cannot be opened with this database's key. It was "
                "made from another IOPDesk database, or it is damaged. Nothing was changed."
            ) from None
        try:
            problems = [r[0] for r in conn.execute("PRAGMA cipher_integrity_check").fetchall()]
            result = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        except Exception:
            problems, result = ["unreadable"], ["unreadable"]
        if problems or result != ["ok"]:
            raise BadBackupError(
                f"The backup {path.name} is damaged (its integrity check failed). Nothing was "
                "changed. Use an older backup."
            )
        try:
            counts = _table_counts(conn)
            revision_row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            clinic_row = conn.execute("SELECT name FROM clinic LIMIT 1").fetchone()
        except Exception:
            raise BadBackupError(
                f"{path.name} is not an IOPDesk backup. Nothing was changed."
            ) from None
    finally:
        conn.close()
    revision = revision_row[0] if revision_row else None
    if revision is not None and revision not in runner.known_revisions():
        raise BadBackupError(
            f"The backup {path.name} was made by a newer version of IOPDesk. Install that "
            "version to restore it. Nothing was changed."
        )
    return FileCheck(path, revision, counts, clinic_row[0] if clinic_row else "")


def _snapshot(db: Database, dest: Path) -> tuple[dict[str, int], dict[str, Any]]:
    """Copy one consistent snapshot to `dest`; return its row counts and audit chain head."""
    key = db_key(db)
    raw = db.engine.raw_connection()
    try:
        src = raw.driver_connection
        assert src is not None
        src.execute("BEGIN")
        try:
            counts = _table_counts(src)
            head = _head_of(src)
            target = _connect(dest, key)
            try:
                src.backup(target)
            finally:
                target.close()
        finally:
            src.execute("COMMIT")
    finally:
        raw.close()
    return counts, head


def _head_of(conn: Any) -> dict[str, Any]:
    """The audit chain head as sealed in the database (recorded in the backup's key info)."""
    try:
        row = conn.execute("SELECT last_id, last_mac, head_mac FROM audit_head WHERE id = 1")
        last_id, last_mac, mac = row.fetchone()
        key_id = conn.execute("SELECT key_id FROM clinic LIMIT 1").fetchone()
    except Exception:
        return {}
    return {
        "key_id": key_id[0] if key_id else "",
        "last_id": int(last_id),
        "last_mac": last_mac,
        "head_mac": mac,
        "at": utcnow().isoformat(timespec="seconds"),
    }


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_verified_copy(db: Database, dest: Path) -> tuple[int, dict[str, int]]:
    """Snapshot to dest.partial, verify it against the source counts, then rename into place."""
    partial = dest.with_name(dest.name + ".partial")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        counts, head = _snapshot(db, partial)
        _fsync(partial)
        check = check_file(partial, db_key(db))
        if check.counts != counts:
            raise BackupError(
                "The backup was written but its contents do not match the database, so it was "
                "deleted. Try again; if it happens again, the backup folder's disk may be failing."
            )
        # The key information travels with the backup: where the key is kept, the salt of a
        # passphrase, the key wrapped by the recovery key, and the audit chain head.
        info = (keys.read_keyinfo(db.path) if db.path is not None else None) or keys.KeyInfo(
            method="external"
        )
        info.audit_head = head
        keys.write_keyinfo(dest, info)
        os.replace(partial, dest)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        if isinstance(exc, BackupError):
            raise
        if _is_disk_full(exc):
            raise DiskFullError(
                f"The backup folder {dest.parent} is full, so no backup was made. The "
                "database itself is safe. Free some space there or choose another backup "
                "folder (Admin > Settings)."
            ) from None
        if isinstance(exc, OSError):
            raise BackupError(
                f"The backup could not be written to {dest.parent} ({exc.strerror}). Check "
                "that the drive is connected and writable, or choose another backup folder."
            ) from None
        raise
    return dest.stat().st_size, counts


# -- where backups go ------------------------------------------------------------------------


def backup_folder(db: Database) -> Path:
    from iopdesk.services.clinic import get_setting

    configured = str(get_setting(db, "backup_folder") or "").strip()
    if configured:
        return Path(configured).expanduser()
    return paths.data_dir() / "backups"


def _stem(db: Database) -> str:
    assert db.path is not None
    return db.path.name.removesuffix(".db")


def _pattern(stem: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(stem)}-backup-(\d{{8}}-\d{{6}})\.db$")


def backup_files(folder: Path, stem: str) -> list[tuple[datetime, Path]]:
    """This database's backups in a folder, newest first (the time is in the name, UTC)."""
    if not folder.is_dir():
        return []
    pattern = _pattern(stem)
    found = []
    for entry in folder.iterdir():
        match = pattern.match(entry.name)
        if match and entry.is_file():
            when = datetime.strptime(match.group(1), STAMP_FORMAT).replace(tzinfo=UTC)
            found.append((when, entry))
    return sorted(found, reverse=True)


def retained(files: list[tuple[datetime, Path]], daily: int, monthly: int) -> set[Path]:
    """Keep the newest backup of each of the last `daily` days and `monthly` months."""
    keep: set[Path] = set()
    days: set[str] = set()
    months: set[str] = set()
    for when, path in sorted(files, reverse=True):
        day, month = when.strftime("%Y-%m-%d"), when.strftime("%Y-%m")
        if day not in days and len(days) < daily:
            days.add(day)
            keep.add(path)
        if month not in months and len(months) < monthly:
            months.add(month)
            keep.add(path)
    return keep


def prune(db: Database, folder: Path | None = None) -> list[Path]:
    from iopdesk.services.clinic import get_setting

    folder = folder or backup_folder(db)
    files = backup_files(folder, _stem(db))
    daily = int(get_setting(db, "backup_keep_daily"))
    keep = retained(files, daily, int(get_setting(db, "backup_keep_monthly")))
    removed = []
    for _when, path in files:
        if path in keep:
            continue
        path.unlink(missing_ok=True)
        keys.keyinfo_path(path).unlink(missing_ok=True)
        removed.append(path)
    if removed:
        names = {str(p) for p in removed}
        with db.session() as session:
            for rec in session.exec(
                select(BackupRecord).where(col(BackupRecord.path).in_(names))
            ).all():
                rec.status = "pruned"
                session.add(rec)
    return removed


def _remember(db: Database, dest: Path) -> None:
    """Note the last good backup beside the database: a damaged database cannot tell us."""
    if db.path is None:
        return
    note = db.path.with_name(db.path.name + ".lastbackup")
    tmp = note.with_name(note.name + ".tmp")
    try:
        tmp.write_text(
            json.dumps({"folder": str(dest.parent), "latest": str(dest)}), encoding="utf-8"
        )
        os.replace(tmp, note)
    except OSError:
        log.warning("could not note the last backup beside the database")


def _record(
    db: Database,
    actor: Actor | None,
    path: Path,
    kind: str,
    status: str,
    size: int = 0,
    message: str = "",
    now: datetime | None = None,
) -> None:
    from iopdesk.services import audit

    with db.session() as session:
        session.add(
            BackupRecord(
                created_at=now or utcnow(),
                path=str(path),
                kind=kind,
                status=status,
                size_bytes=size,
                message=message,
            )
        )
        audit.record(
            session,
            actor,
            audit.Action.BACKUP if status == "ok" else audit.Action.BACKUP_FAILED,
            entity="backup",
            entity_id=path.name,
            detail=f"{kind}: {message}"[:200],
            flagged=status != "ok",
            username=None if actor else "system",
        )


# -- making backups ----------------------------------------------------------------------------


def create_backup(
    db: Database,
    actor: Actor | None,
    dest: Path | None = None,
    *,
    kind: str | None = None,
    now: datetime | None = None,
) -> BackupResult:
    """Back up now. Without `dest`, into the backup folder (then old backups are pruned).

    `actor` None means the automatic backup (start-up or close), which needs no sign-in.
    """
    if actor is not None:
        require(actor, Perm.BACKUP_RUN)
    if db.backend != "sqlite":
        if dest is None:
            raise BackupError(
                "Backups of a PostgreSQL clinic server are made on the server. Use "
                "`iopdesk backup -o FILE` on a computer with the PostgreSQL client tools, or "
                "the server's own backup (see docs/clinic-server.md)."
            )
        return _pg_dump(db, actor, dest)
    in_folder = dest is None
    if dest is None:
        stamp = (now or utcnow()).astimezone(UTC).strftime(STAMP_FORMAT)
        dest = backup_folder(db) / f"{_stem(db)}-backup-{stamp}.db"
        kind = kind or (KIND_MANUAL if actor is not None else KIND_AUTOMATIC)
    kind = kind or KIND_FILE
    dest = dest.expanduser().absolute()
    if db.path is not None and dest.resolve() == db.path.resolve():
        raise BackupError("Choose a backup file other than the database itself.")
    try:
        size, counts = write_verified_copy(db, dest)
    except UserError as exc:
        _record(db, actor, dest, kind, "failed", message=exc.message, now=now)
        raise
    _record(db, actor, dest, kind, "ok", size, f"{sum(counts.values())} rows verified", now)
    pruned: list[Path] = []
    if in_folder:
        _remember(db, dest)
        pruned = prune(db, dest.parent)
    return BackupResult(dest, size, counts, kind, pruned)


def pg_dump_path() -> str | None:
    return shutil.which("pg_dump")


def _pg_dump(db: Database, actor: Actor | None, dest: Path) -> BackupResult:
    url = db.engine.url
    exe = pg_dump_path()
    if exe is None:
        raise BackupError(
            "pg_dump (PostgreSQL client tools) is not installed on this computer, so IOPDesk "
            "cannot back up the clinic server from here. Install the PostgreSQL client tools "
            "and run this again, or on the server run: "
            f"pg_dump -Fc -d {url.database} -f {dest.name}"
        )
    dest = dest.expanduser().absolute()
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    args = [exe, "-Fc", "--no-owner", "-f", str(partial), "-d", str(url.database)]
    if url.host:
        args += ["-h", str(url.host)]
    if url.port:
        args += ["-p", str(url.port)]
    if url.username:
        args += ["-U", str(url.username)]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False, timeout=3600)
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        first = (proc.stderr.strip().splitlines() or ["unknown error"])[0][:200]
        _record(db, actor, dest, KIND_POSTGRES, "failed", message=first)
        raise BackupError(f"pg_dump could not back up the clinic server: {first}")
    os.replace(partial, dest)
    size = dest.stat().st_size
    # The dump's key information records the audit chain head (no key: the server has none).
    keys.write_keyinfo(dest, keys.KeyInfo(method="postgresql", audit_head=_pg_head(db)))
    _record(db, actor, dest, KIND_POSTGRES, "ok", size, "pg_dump custom format")
    return BackupResult(dest, size, {}, KIND_POSTGRES)


def _pg_head(db: Database) -> dict[str, Any]:
    from sqlalchemy import text

    with db.engine.connect() as conn:
        row = conn.execute(
            text("SELECT last_id, last_mac, head_mac FROM audit_head WHERE id = 1")
        ).first()
        key_id = conn.execute(text("SELECT key_id FROM clinic LIMIT 1")).scalar()
    if row is None:
        return {}
    return {
        "key_id": key_id or "",
        "last_id": int(row[0]),
        "last_mac": row[1],
        "head_mac": row[2],
        "at": utcnow().isoformat(timespec="seconds"),
    }


def status(db: Database) -> BackupStatus:
    """Last good backup and last attempt (any user may see whether backups are working)."""
    with db.read() as session:
        last_ok = session.exec(
            select(BackupRecord)
            .where(BackupRecord.status != "failed")
            .order_by(col(BackupRecord.created_at).desc(), col(BackupRecord.id).desc())
            .limit(1)
        ).first()
        last = session.exec(
            select(BackupRecord)
            .order_by(col(BackupRecord.created_at).desc(), col(BackupRecord.id).desc())
            .limit(1)
        ).first()
    folder = backup_folder(db) if db.backend == "sqlite" else None
    return BackupStatus(
        last_ok.created_at if last_ok else None,
        last_ok.path if last_ok else "",
        last.created_at if last else None,
        last.status if last else "",
        last.message if last else "",
        folder,
    )


def auto_backup(db: Database, now: datetime | None = None) -> BackupResult | None:
    """At start-up or close: back up when the last good automatic-folder backup is too old.

    Never raises a UserError (a failed attempt is recorded and shown on Today and Admin);
    returns None when no backup was due or possible.
    """
    from iopdesk.services.clinic import get_clinic, get_setting

    if db.backend != "sqlite" or db.path is None:
        return None
    try:
        if get_clinic(db).is_demo:
            return None
        hours = int(get_setting(db, "backup_interval_hours"))
        current = status(db)
        now = now or utcnow()
        if current.last_ok_at is not None and now - current.last_ok_at < timedelta(hours=hours):
            return None
        return create_backup(db, None, kind=KIND_AUTOMATIC, now=now)
    except UserError as exc:
        log.warning("automatic backup failed: %s", type(exc).__name__)
        return None


def stale_warning(db: Database, now: datetime | None = None) -> str | None:
    """Today's warning when the last good backup is older than three days (local database)."""
    from iopdesk.services.clinic import get_clinic

    if db.backend != "sqlite" or get_clinic(db).is_demo:
        return None
    current = status(db)
    age = current.age_days(now)
    if age is None:
        return (
            "This clinic's data has never been backed up. An administrator can back up now "
            "in Admin > Backups."
        )
    if age > STALE_DAYS:
        return (
            f"The last good backup is {int(age)} days old. An administrator can back up now "
            "in Admin > Backups (and check that the backup drive is connected)."
        )
    return None


@service(Perm.BACKUP_RUN)
def list_backups(session: Session, actor: Actor, limit: int = 200) -> list[BackupRow]:
    records = session.exec(
        select(BackupRecord)
        .order_by(col(BackupRecord.created_at).desc(), col(BackupRecord.id).desc())
        .limit(limit)
    ).all()
    return [
        BackupRow(
            r.id or 0,
            r.created_at,
            r.path,
            r.kind,
            r.status,
            r.size_bytes,
            r.message,
            Path(r.path).is_file(),
        )
        for r in records
    ]


# -- restore -------------------------------------------------------------------------------


def _stage(source: Path, target: Path, key: bytes) -> tuple[Path, FileCheck]:
    """Copy the backup beside the database and verify the copy (what will be swapped in)."""
    check_file(source, key)  # refuse early, before copying a large bad file
    staging = target.with_name(target.name + ".restore-staging")
    staging.unlink(missing_ok=True)
    try:
        shutil.copyfile(source, staging)
        _fsync(staging)
        return staging, check_file(staging, key)
    except BaseException as exc:
        staging.unlink(missing_ok=True)
        if _is_disk_full(exc):
            raise DiskFullError(
                "There is not enough free disk space beside the database to restore this "
                "backup. Nothing was changed."
            ) from None
        raise


def _swap_in(target: Path, staging: Path, now: datetime | None = None) -> Path | None:
    """Keep the current database aside as a dated copy, then move the staged file in."""
    stamp = (now or utcnow()).astimezone(UTC).strftime(STAMP_FORMAT)
    aside: Path | None = None
    if target.exists():
        aside = target.with_name(f"{target.name}.before-restore-{stamp}")
        os.replace(target, aside)
        for suffix in ("-wal", "-shm"):
            side = target.with_name(target.name + suffix)
            if side.exists():
                os.replace(side, aside.with_name(aside.name + suffix))
    os.replace(staging, target)
    return aside


def restore(db: Database, actor: Actor, source: Path) -> RestoreResult:
    """Replace the open local database with a verified backup (the Database stays usable)."""
    require(actor, Perm.BACKUP_RUN)
    if db.backend != "sqlite" or db.path is None:
        raise BackupError(
            "A PostgreSQL clinic server is restored on the server with pg_restore "
            "(see docs/clinic-server.md)."
        )
    key = db_key(db)
    target = db.path
    source = source.expanduser().absolute()
    if source.resolve() == target.resolve():
        raise BadBackupError("That file is the database itself, not a backup.")
    staging, check = _stage(source, target, key)
    replaced = _newest_head(db)
    try:  # fold the WAL into the file before moving it
        raw = db.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        finally:
            raw.close()
    except Exception:
        log.warning("checkpoint before restore failed")
    db.engine.dispose()
    aside = _swap_in(target, staging)
    _after_restore(db, actor, source, replaced)
    return RestoreResult(source, aside, check.counts)


def restore_damaged(
    target: Path,
    source: Path,
    authenticate: Callable[[Database], Actor],
    *,
    key: bytes | None = None,
    passphrase_provider: keys.PassphraseProvider | None = None,
) -> RestoreResult:
    """Restore when the current database cannot be opened (damaged): the administrator signs
    in against the verified backup itself, since the damaged file cannot check a password."""
    if key is None:
        key, _info = keys.load_key(target, passphrase_provider)
    source = source.expanduser().absolute()
    staging, check = _stage(source, target, key)
    try:
        staged = Database.open(DbTarget(path=staging), key=key)
        try:
            actor = authenticate(staged)
            require(actor, Perm.BACKUP_RUN)
        finally:
            staged.close()
    except BaseException:
        staging.unlink(missing_ok=True)
        keys.keyinfo_path(staging).unlink(missing_ok=True)
        raise
    keys.keyinfo_path(staging).unlink(missing_ok=True)
    integrity.file_checkpoint_path(staging).unlink(missing_ok=True)
    checkpoint = integrity.read_checkpoint_file(integrity.file_checkpoint_path(target))
    aside = _swap_in(target, staging)
    db = Database.open(DbTarget(path=target), key=key)
    try:
        _after_restore(db, actor, source, checkpoint.last_id if checkpoint else 0)
    finally:
        db.close()
    return RestoreResult(source, aside, check.counts)


def _newest_head(db: Database) -> int:
    """The newest audit event this database or any record of its chain head has reached."""
    from sqlmodel import Session as _Session

    from iopdesk.models import AuditHead

    newest = max((a.last_id for a in anchors_for(db)), default=0)
    with contextlib.suppress(Exception), _Session(db.engine) as session:
        head = session.get(AuditHead, 1)
        newest = max(newest, head.last_id if head else 0)
    return newest


def _after_restore(
    db: Database, actor: Actor | None, source: Path, replaced: int, username: str = ""
) -> None:
    """Record the restore. Its detail names the newest event of the replaced history, so that
    `audit verify` accepts checkpoints and newer backups of that history (they are not a sign
    of deleted events: the restore, itself in the chain, says why they are not here)."""
    from iopdesk.services import audit

    integrity.remove_checkpoint(db.engine)  # the checkpoint of the replaced history
    audit.record_now(
        db,
        actor,
        audit.Action.RESTORE,
        entity="backup",
        entity_id=source.name,
        detail=f"replaced head {replaced}",
        flagged=True,
        username=username or None,
    )


def restore_candidates(
    db_path: Path, key: bytes, limit: int | None = None
) -> list[tuple[datetime, Path]]:
    """Good backups of a (damaged) database, newest first: from the folder noted beside it and
    the default folder. Each one is verified; damaged ones are skipped."""
    folders = backup_folders_for(db_path)
    stem = db_path.name.removesuffix(".db")
    seen: set[Path] = set()
    candidates: list[tuple[datetime, Path]] = []
    for folder in folders:
        for when, path in backup_files(folder, stem):
            if path in seen:
                continue
            seen.add(path)
            candidates.append((when, path))
    good = []
    for when, path in sorted(candidates, reverse=True):
        try:
            check_file(path, key)
        except UserError:
            continue
        good.append((when, path))
        if limit is not None and len(good) >= limit:
            break
    return good


def pg_restore_hint(target: DbTarget) -> str:
    url = make_url(target.url or "")
    return (
        "A PostgreSQL clinic server is restored on the server: "
        f"pg_restore --clean --if-exists -d {url.database} FILE (see docs/clinic-server.md)."
    )


def backup_folders_for(db_path: Path) -> list[Path]:
    """Where backups of this database may be (noted folder first, then the default)."""
    folders = [paths.data_dir() / "backups"]
    note = db_path.with_name(db_path.name + ".lastbackup")
    try:
        data = json.loads(note.read_text(encoding="utf-8"))
        folders.insert(0, Path(str(data["folder"])))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return list(dict.fromkeys(folders))


def anchors_for(db: Database) -> list[integrity.Anchor]:
    """Chain heads recorded outside the database: its checkpoint file and (local database)
    the key information of every backup of it in the backup folders."""
    found: list[integrity.Anchor] = []
    checkpoint = integrity.read_checkpoint(db.engine)
    if checkpoint is not None:
        found.append(checkpoint)
    seen: set[Path] = set()
    with db.session() as session:  # backups recorded in the database, wherever they were written
        recorded = session.exec(select(BackupRecord.path).where(BackupRecord.status == "ok")).all()
    for name in recorded:
        _add_backup_anchor(found, seen, Path(name))
    if db.backend != "sqlite" or db.path is None:
        return found
    folders = backup_folders_for(db.path)
    with contextlib.suppress(UserError):
        folders.insert(0, backup_folder(db))
    for folder in dict.fromkeys(folders):
        for _when, path in backup_files(folder, _stem(db)):
            _add_backup_anchor(found, seen, path)
    return found


def _add_backup_anchor(found: list[integrity.Anchor], seen: set[Path], path: Path) -> None:
    if path in seen or not keys.keyinfo_path(path).is_file():
        return
    seen.add(path)
    try:
        info = keys.read_keyinfo(path)
    except UserError:
        return
    if info is not None and info.audit_head:
        anchor = integrity.anchor_from(f"backup {path}", info.audit_head)
        if anchor is not None:
            found.append(anchor)


def damaged_hint(db_path: Path) -> str:
    """One line for the command line when the database will not open: which backup to use."""
    stem = db_path.name.removesuffix(".db")
    for folder in backup_folders_for(db_path):
        files = backup_files(folder, stem)
        if files:
            return (
                f"The latest backup is {files[0][1]}. Restore it with: "
                f'iopdesk restore "{files[0][1]}" --user ADMIN'
            )
    return "No backup of this database was found in the backup folder."


# -- restore on a new PC -----------------------------------------------------------------------


@dataclass(frozen=True)
class NewPcRestore:
    result: RestoreResult
    key_description: str
    audit_message: str
    audit_ok: bool


def backup_key(
    source: Path,
    *,
    recovery_key: str | None = None,
    passphrase: str | None = None,
) -> tuple[bytes, keys.KeyInfo, str]:
    """Open a backup's key from its key information: with the recovery key, the database
    passphrase, or (same computer) the keyring. Returns the key, the key information, and
    which of them opened it ("recovery", "passphrase" or "keyring")."""
    info = keys.read_keyinfo(source)
    if info is None:
        raise BadBackupError(
            f"The key information file {keys.keyinfo_path(source).name} is not beside the "
            f"backup {source.name}. Every backup is written with one: copy both files (the "
            "whole backup folder) to this computer. Nothing was changed."
        )
    if recovery_key:
        return keys.key_from_recovery(info, recovery_key), info, "recovery"
    if info.method == "passphrase" and passphrase:
        return keys.key_from_passphrase(info, passphrase), info, "passphrase"
    if info.method == "keyring":
        stored = keys.keyring_get(keys.KEYRING_SERVICE, info.account) if info.account else None
        if stored and keys.keyring_available():
            return bytes.fromhex(stored), info, "keyring"
    if info.method == "passphrase":
        raise keys.NoPassphraseError(
            "This backup is protected by the database passphrase. Set IOPDESK_DB_PASSPHRASE "
            "(or IOPDESK_RECOVERY_KEY with the key from the recovery kit), or run the command "
            "in a terminal to type it."
        )
    raise keys.NoPassphraseError(
        "This backup's key was kept in the keyring of the computer that made it. Give the "
        "recovery key from the clinic's recovery kit: set IOPDESK_RECOVERY_KEY, or run the "
        "command in a terminal to type it."
    )


def restore_new(
    target: Path,
    source: Path,
    *,
    recovery_key: str | None = None,
    passphrase: str | None = None,
    new_passphrase: keys.PassphraseProvider | None = None,
    authenticate: Callable[[Database], Actor] | None = None,
    replace_existing: bool = False,
    restored_by: str = "",
    old_key: bytes | None = None,
) -> NewPcRestore:
    """Restore a backup where no database exists yet (a new PC), key it for this computer
    (its keyring, else a passphrase) and verify it, audit trail included.

    The key comes from the recovery key or the backup's passphrase. On a computer with a
    keyring the key goes there; without one, a passphrase backup keeps its passphrase when it
    was opened with it, and otherwise the key is wrapped by a new passphrase from
    `new_passphrase` (or IOPDESK_DB_PASSPHRASE)."""
    from iopdesk.services import audit

    target = target.expanduser().absolute()
    source = source.expanduser().absolute()
    if target.exists() and target.stat().st_size > 0 and not replace_existing:
        raise BackupError(
            f"A database already exists at {target}. Sign in and restore into it "
            "(`iopdesk --user ADMIN restore FILE`), or choose another --db. Nothing was changed."
        )
    key, info, opened_by = backup_key(source, recovery_key=recovery_key, passphrase=passphrase)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging, check = _stage(source, target, key)
    try:
        new_info, typed = _key_for_this_pc(target, key, info, opened_by, passphrase, new_passphrase)
        if authenticate is not None:
            staged = Database.open(DbTarget(path=staging), key=key)
            try:
                actor: Actor | None = authenticate(staged)
                assert actor is not None
                require(actor, Perm.BACKUP_RUN)
            finally:
                staged.close()
        else:
            actor = None
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    finally:
        keys.keyinfo_path(staging).unlink(missing_ok=True)
        integrity.file_checkpoint_path(staging).unlink(missing_ok=True)
    aside = _swap_in(target, staging)
    if aside is not None:  # the replaced database keeps its key information (and key)
        with contextlib.suppress(OSError, UserError):
            old_info = keys.read_keyinfo(target)
            if old_info is not None:
                if old_info.method == "keyring" and old_key is not None:
                    old_info.account = str(aside.resolve())
                    keys.keyring_set(keys.KEYRING_SERVICE, old_info.account, old_key.hex())
                keys.write_keyinfo(aside, old_info)
    keys.write_keyinfo(target, new_info)
    integrity.file_checkpoint_path(target).unlink(missing_ok=True)
    # Open it the way IOPDesk will from now on (keyring or passphrase), not with the key in hand.
    db = Database.open(DbTarget(path=target), passphrase_provider=lambda _creating: typed)
    try:
        replaced = max((a.last_id for a in anchors_for(db) if a.last_id > 0), default=0)
        _after_restore(
            db,
            actor,
            source,
            replaced,
            username=""
            if actor
            else f"restored with the {opened_by.replace('recovery', 'recovery key')}",
        )
        checked = audit.verify(db)
        description = db.key_description
    finally:
        db.close()
    return NewPcRestore(
        RestoreResult(source, aside, check.counts), description, checked.message(), checked.ok
    )


def _key_for_this_pc(
    target: Path,
    key: bytes,
    info: keys.KeyInfo,
    opened_by: str,
    passphrase: str | None,
    new_passphrase: keys.PassphraseProvider | None,
) -> tuple[keys.KeyInfo, str]:
    """Where the restored database's key is kept on this computer (and the passphrase that
    opens it from now on, "" for the keyring)."""
    in_keyring = keys.keyring_info(target, key, info)
    if in_keyring is not None:
        return in_keyring, ""
    if opened_by == "passphrase" and info.method == "passphrase" and passphrase:
        kept = keys.KeyInfo(**{**info.__dict__, "audit_head": {}})
        return kept, passphrase  # the same passphrase as before
    chosen = os.environ.get("IOPDESK_DB_PASSPHRASE") or (
        new_passphrase(True) if new_passphrase is not None else ""
    )
    if not chosen:
        raise keys.NoPassphraseError(
            "This computer has no system keyring, so the restored database needs a passphrase: "
            "set IOPDESK_DB_PASSPHRASE or run the command in a terminal to choose one. "
            "Nothing was changed."
        )
    return keys.passphrase_info(key, chosen, info), chosen
