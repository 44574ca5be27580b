"""The one facade that owns the engine: open, migrate, hand out short-lived sessions.

Local (default): one SQLCipher-encrypted SQLite file. Shared: PostgreSQL, chosen by URL.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import QueuePool
from sqlmodel import Session

from iopdesk import paths
from iopdesk import secrets as keys
from iopdesk.errors import (
    CorruptDatabaseError,
    DatabaseError,
    DiskFullError,
    NetworkShareError,
    SchemaTooNewError,
    UserError,
)
from iopdesk.services.clock import utc_now

log = logging.getLogger(__name__)
# Execution option that marks a Database.read() unit: its SQLite transaction begins deferred.
READ_ONLY_OPTION = "iopdesk_read_only"

NETWORK_FS = {
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "fuse.sshfs",
    "sshfs",
    "9p",
    "afs",
    "ncpfs",
    "fuse.gvfsd-fuse",
    "davfs",
    "fuse.davfs2",
    "fuse.rclone",
    "glusterfs",
    "ceph",
    "lustre",
}


@dataclass(frozen=True)
class DbTarget:
    """Which database to open: a local file or a PostgreSQL URL."""

    path: Path | None = None
    url: str | None = None

    @property
    def is_postgres(self) -> bool:
        return self.url is not None

    def describe(self) -> str:
        if self.url is not None:
            u = make_url(self.url)
            return f"PostgreSQL {u.database} on {u.host or 'localhost'}:{u.port or 5432}"
        return f"Local encrypted file {self.path}"


@dataclass(frozen=True)
class Handoff:
    """An open database, as a child process needs it (see Database.handoff)."""

    target: DbTarget
    # The address with the server password, and the SQLCipher key (x'hex'): never shown,
    # logged or stored.
    url: str = field(repr=False)
    secret: str = field(repr=False)
    key_description: str = ""


def resolve_target(db: str | None = None) -> DbTarget:
    """--db, else IOPDESK_DB, else this workstation's configured URL, else the default file."""
    value = db or os.environ.get("IOPDESK_DB") or paths.workstation_config().get("database")
    if not value:
        return DbTarget(path=paths.default_db_path())
    value = str(value)
    if value.startswith(("postgresql:", "postgresql+psycopg:", "postgres:")):
        url = make_url(value)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return DbTarget(url=url.render_as_string(hide_password=False))
    if "://" in value and not value.startswith("sqlite"):
        raise DatabaseError(
            f"Unsupported database address {value.split('://')[0]}://. Use a file path for a "
            "local database or postgresql://user@server/database for a shared one."
        )
    if value.startswith("sqlite"):
        value = value.split(":///", 1)[-1]
    return DbTarget(path=Path(value).expanduser())


SECURE_SSLMODES = ("require", "verify-ca", "verify-full")
LOCAL_HOSTS = ("", "localhost", "127.0.0.1", "::1")
ALLOW_INSECURE_ENV = "IOPDESK_DB_ALLOW_INSECURE"
ALLOW_INSECURE_KEY = "allow_insecure_database"  # in workstation.json
INSECURE_BANNER = (
    "Not encrypted: this workstation talks to the clinic database server without TLS, because "
    "an administrator allowed it ({setting}). Anyone on the network can read client records. "
    "Turn TLS on at the server and remove the setting."
)


def _pg_hosts(url: URL) -> list[str]:
    """Every host a PostgreSQL URL may connect to (the URL's host and libpq's ?host=...)."""
    hosts = [url.host or ""]
    extra = url.query.get("host")
    if extra:
        values = extra if isinstance(extra, tuple) else (extra,)
        for value in values:
            hosts += str(value).split(",")
    return [h.strip() for h in hosts]


def is_local_host(host: str) -> bool:
    """This computer: no host (a Unix socket), localhost, a loopback address or a socket path."""
    return host in LOCAL_HOSTS or host.startswith("/") or host.startswith("127.")


def insecure_allowed() -> str | None:
    """Where the administrator allowed a connection without TLS, or None."""
    if os.environ.get(ALLOW_INSECURE_ENV, "").strip().lower() in ("1", "yes", "true"):
        return f"{ALLOW_INSECURE_ENV}=1"
    if paths.workstation_config().get(ALLOW_INSECURE_KEY) is True:
        return f'"{ALLOW_INSECURE_KEY}": true in workstation.json'
    return None


def check_transport(url: URL) -> str | None:
    """Refuse a remote PostgreSQL server without sslmode=require, verify-ca or verify-full
    (raises DatabaseError), unless an administrator allowed it: then return the banner text.
    A server on this computer (localhost, a Unix socket) needs no TLS."""
    remote = [h for h in _pg_hosts(url) if not is_local_host(h)]
    if not remote:
        return None
    mode = url.query.get("sslmode")
    mode = str(mode[-1] if isinstance(mode, tuple) else mode or "").strip().lower()
    if mode in SECURE_SSLMODES:
        return None
    setting = insecure_allowed()
    if setting is not None:
        log.warning("connecting to a remote database server without TLS (allowed by setting)")
        return INSECURE_BANNER.format(setting=setting)
    given = f"sslmode={mode}" if mode else "no sslmode"
    raise DatabaseError(
        f"Refused to connect to the clinic database server {remote[0]} without encryption "
        f"({given}). Client records must not cross the network in clear text: add "
        "?sslmode=verify-full (or require) to the database address, with TLS turned on at the "
        "server (see docs/clinic-server.md)."
    )


def network_share_reason(path: Path, mounts_text: str | None = None) -> str | None:
    """Why `path` is on a network share, or None. SQLite over SMB/NFS corrupts under load."""
    raw = str(path)
    if raw.startswith(("\\\\", "//")):
        return "a Windows network share (UNC path)"
    if sys.platform == "win32":  # pragma: no cover - Windows only
        import ctypes

        drive = os.path.splitdrive(os.path.abspath(raw))[0]
        if drive:
            DRIVE_REMOTE = 4
            if ctypes.windll.kernel32.GetDriveTypeW(drive + "\\") == DRIVE_REMOTE:
                return f"a mapped network drive ({drive})"
        return None
    if mounts_text is None:
        try:
            mounts_text = Path("/proc/mounts").read_text()
        except OSError:
            return None
    resolved = str(Path(os.path.abspath(raw)).parent.resolve())
    best: tuple[int, str] | None = None
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point = fields[1].replace("\\040", " ")
        inside = resolved == mount_point or resolved.startswith(mount_point.rstrip("/") + "/")
        if inside and (best is None or len(mount_point) > best[0]):
            best = (len(mount_point), fields[2])
    if best and best[1] in NETWORK_FS:
        return f"a network file system ({best[1]})"
    return None


def translate_error(exc: BaseException) -> UserError | None:
    """Map a driver error to a plain-language error the user can act on."""
    msg = str(getattr(exc, "orig", exc) or exc).lower()
    if "database or disk is full" in msg or "no space left on device" in msg or "disk full" in msg:
        return DiskFullError(
            "The disk is full, so the last change could not be saved. Everything saved before "
            "is safe. Free some disk space (or ask for help), then try again."
        )
    if "disk i/o error" in msg:  # e.g. a file-size limit or a failing disk: same remedy
        return DiskFullError(
            "The computer could not write to the disk, so the last change could not be saved. "
            "Everything saved before is safe. The disk may be full or failing: free some disk "
            "space (or ask for help), then try again."
        )
    if "file is not a database" in msg or "database disk image is malformed" in msg:
        return CorruptDatabaseError(
            "The database file is damaged or is not an IOPDesk database. Nothing was changed. "
            "Restore the latest backup (Admin > Backups, or `iopdesk restore FILE`)."
        )
    if "database is locked" in msg or "database is busy" in msg:
        return DatabaseError("The database is busy with another task. Wait a moment and try again.")
    if "append-only" in msg:
        return DatabaseError("The audit log cannot be changed or deleted.")
    if (
        "password authentication failed" in msg
        or "authentication failed for user" in msg
        or "no password supplied" in msg
        or ("role" in msg and "does not exist" in msg)
    ):
        return DatabaseError(
            "The clinic database server refused the user name or password of the database "
            "account (the user in postgresql://USER@server/database; the password in the "
            "system keyring or the address). Check them with whoever set up the server."
        )
    if "no pg_hba.conf entry" in msg:
        return DatabaseError(
            "The clinic database server does not accept this workstation, this database "
            "account or this connection type (pg_hba.conf). Ask whoever set up the server to "
            "allow it; connections from workstations must use TLS (sslmode=verify-full)."
        )
    if "database" in msg and "does not exist" in msg:
        return DatabaseError(
            "The clinic database named in the address does not exist on the server. Check the "
            "database name (postgresql://user@server/DATABASE)."
        )
    if isinstance(exc, sa_exc.OperationalError) and (
        "connection" in msg or "could not connect" in msg or "server closed" in msg
    ):
        return DatabaseError(
            "Cannot reach the clinic database server. Check the network connection, then try "
            "again; your typed text is kept."
        )
    return None


class Database:
    """Owns the engine. Services take a Database and open one short session per call."""

    def __init__(self, engine: Engine, target: DbTarget, key_description: str) -> None:
        self.engine = engine
        self.target = target
        self.key_description = key_description
        # Shown as a banner in the app: a remote server reached without TLS (allowed by an
        # administrator's explicit setting), else None.
        self.insecure_warning: str | None = None
        # Called by close(): e.g. the worker process serving this database ends with it.
        self.closing: list[Callable[[], None]] = []

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @property
    def path(self) -> Path | None:
        return self.target.path

    def describe(self) -> str:
        return self.target.describe()

    # -- opening --------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        target: DbTarget | str | None = None,
        *,
        create: bool = False,
        passphrase_provider: keys.PassphraseProvider | None = None,
        key: bytes | None = None,
        migrate: bool = True,
    ) -> Database:
        """Open (and with create=True, create) a database, then bring its schema up to date."""
        if not isinstance(target, DbTarget):
            target = resolve_target(target)
        if target.url is not None:
            db = cls._open_postgres(target)
        else:
            db = cls._open_sqlite(target, create, passphrase_provider, key)
        try:
            db.check_readable()
            db._remember_pg_password()
            if migrate:
                db.migrate()
        except BaseException:
            db.close()
            raise
        return db

    @classmethod
    def _open_sqlite(
        cls,
        target: DbTarget,
        create: bool,
        passphrase_provider: keys.PassphraseProvider | None,
        key: bytes | None,
    ) -> Database:
        assert target.path is not None
        path = target.path
        reason = network_share_reason(path)
        if reason:
            raise NetworkShareError(
                f"The database {path} is on {reason}. A local database file must not be shared "
                "over the network: two computers writing to it can corrupt it. For several "
                "workstations, use a PostgreSQL clinic server (see docs/clinic-server.md) "
                "and choose it with --db postgresql://..."
            )
        exists = path.exists() and path.stat().st_size > 0
        if not exists and not create:
            raise DatabaseError(
                f"No IOPDesk database at {path}. Run the first-start setup "
                "(`iopdesk init`) or choose another database with --db."
            )
        if exists and create:
            raise DatabaseError(f"A database already exists at {path}; nothing was changed.")
        path.parent.mkdir(parents=True, exist_ok=True)
        if key is not None:
            description = "Database key supplied by the caller."
            if not exists:
                keys.write_keyinfo(path, keys.KeyInfo(method="external"))
        elif exists:
            key, info = keys.load_key(path, passphrase_provider)
            description = info.describe()
        else:
            key, info = keys.create_key(path, passphrase_provider)
            description = info.describe()
        engine = sqlite_engine(path, key)
        return cls(engine, target, description)

    @classmethod
    def _open_postgres(cls, target: DbTarget) -> Database:
        assert target.url is not None
        url = make_url(target.url)
        warning = check_transport(url)
        if url.password is None:
            stored = keys.pg_password(pg_account(url))
            if stored:
                url = url.set(password=stored)
        from iopdesk.services import changes  # noqa: F401 - commits announce themselves (NOTIFY)

        engine = create_engine(
            url,
            hide_parameters=True,  # an error's text never quotes row values (names, phones)
            pool_pre_ping=True,
            pool_size=3,
            max_overflow=2,
            connect_args={"connect_timeout": 10},
        )
        db = cls(engine, target, "PostgreSQL password kept in the system keyring or URL.")
        db.insecure_warning = warning
        return db

    # -- a worker process opening the same database ----------------------------------------
    def handoff(self) -> Handoff:
        """What a worker process (iopdesk.worker) needs to open this same database.

        It holds the key (or the server password): it is only ever sent over the private pipe
        to a child process, never written to a file, the command line or the environment."""
        url = self.engine.url
        return Handoff(
            self.target,
            url.render_as_string(hide_password=False),
            str(url.password or ""),
            self.key_description,
        )

    @classmethod
    def from_handoff(cls, handoff: Handoff) -> Database:
        """Open the database a parent process handed over (no migration: the parent did it)."""
        if handoff.target.url is not None:
            db = cls._open_postgres(DbTarget(url=handoff.url))
        else:
            assert handoff.target.path is not None
            key = bytes.fromhex(handoff.secret[2:-1])  # x'...' as sqlite_engine writes it
            db = cls(sqlite_engine(handoff.target.path, key), handoff.target, "")
        db.key_description = handoff.key_description
        return db

    def check_readable(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(
                    text(
                        "SELECT count(*) FROM sqlite_master"
                        if self.backend == "sqlite"
                        else "SELECT 1"
                    )
                )
        except sa_exc.DBAPIError as exc:
            err = translate_error(exc)
            if err is not None:
                raise err from None
            raise DatabaseError(
                f"Cannot open the database ({self.describe()}): {_first_line(exc)}"
            ) from None

    def close(self) -> None:
        for hook in self.closing:
            try:
                hook()
            except Exception:
                log.warning("a close hook failed", exc_info=True)
        self.closing.clear()
        self.engine.dispose()

    def _remember_pg_password(self) -> None:
        """A password typed into a server address once is kept in the keyring, not in files."""
        url = self.engine.url
        if self.backend == "postgresql" and url.password and keys.keyring_available():
            keys.set_pg_password(pg_account(url), str(url.password))

    # -- migrations -----------------------------------------------------------------------
    def _stored_revision(self) -> tuple[bool, str | None]:
        """(the database has an alembic_version table, the revision stored in it), read with
        plain SQL so that opening an up-to-date database does not import Alembic."""
        with self.engine.connect() as conn:
            if self.backend == "sqlite":
                exists = conn.execute(
                    text(
                        "SELECT 1 FROM sqlite_master "
                        "WHERE type = 'table' AND name = 'alembic_version'"
                    )
                ).first()
            else:
                exists = conn.execute(text("SELECT to_regclass('alembic_version')")).scalar()
            if not exists:
                return False, None
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        return True, (str(row[0]) if row else None)

    def migrate(self) -> None:
        from iopdesk import migrations

        has_table, stored = self._stored_revision()
        if has_table and stored == migrations.HEAD:
            return  # the usual case at every start: up to date, Alembic never imported
        from iopdesk.migrations import runner

        current, head = runner.revisions(self.engine)
        known = runner.known_revisions()
        if current is not None and current not in known:
            raise SchemaTooNewError(
                f"This database was last used by a newer version of IOPDesk (schema {current}). "
                "Install the newer version on this computer; nothing was changed."
            )
        if current is None:
            with self.engine.connect() as conn:
                existing = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
            if existing:
                raise DatabaseError(
                    "This database already holds tables that IOPDesk did not create. "
                    "Choose an empty database or an IOPDesk database."
                )
        if current == head:
            return
        if self.backend == "postgresql":
            self._require_schema_owner(current, head)
        if current is not None and self.backend == "sqlite":
            assert self.path is not None
            stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
            backup = self.path.with_name(f"{self.path.name}.pre-{head}-{stamp}.bak")
            self.backup_sqlite(backup)
            log.info("backed up database before migrating %s -> %s", current, head)
        runner.upgrade(self.engine)

    def _require_schema_owner(self, current: str | None, head: str | None) -> None:
        """On PostgreSQL only the schema owner migrates (`iopdesk --db URL db upgrade`): the
        workstations' application role may change data, never tables."""
        with self.engine.connect() as conn:
            user = str(conn.execute(text("SELECT current_user")).scalar())
            may = conn.execute(
                text(
                    "SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) OR "
                    "(has_schema_privilege(current_user, current_schema(), 'CREATE') AND "
                    "(to_regclass('alembic_version') IS NULL OR pg_has_role(current_user, "
                    "(SELECT relowner FROM pg_class WHERE oid = to_regclass('alembic_version')),"
                    " 'USAGE')))"
                )
            ).scalar()
        if may:
            return
        what = "has no IOPDesk tables yet" if current is None else f"is at schema {current}"
        raise DatabaseError(
            f"The clinic database {what}; this IOPDesk needs schema {head}. The database "
            f"account '{user}' is the workstations' application account and may not change "
            "the schema. An administrator upgrades it once with the owner account: "
            "iopdesk --db postgresql://OWNER@server/database?sslmode=verify-full db upgrade "
            "(see docs/clinic-server.md). Nothing was changed."
        )

    def schema_revision(self) -> str | None:
        return self._stored_revision()[1]

    # -- sessions -------------------------------------------------------------------------
    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on error, driver errors translated."""
        session = Session(self.engine, expire_on_commit=False)
        try:
            yield session
            session.commit()
        except sa_exc.DBAPIError as exc:
            session.rollback()
            err = translate_error(exc)
            if err is not None:
                raise err from exc
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work: never takes the write lock, never writes anything.

        On SQLite it begins a deferred transaction (a consistent WAL snapshot that does not
        block, and is not blocked by, a writer); on PostgreSQL a READ ONLY transaction, so a
        write slipped into a read path fails loudly instead of committing.
        """
        session = Session(self.engine, expire_on_commit=False)
        try:
            if self.backend == "postgresql":
                session.connection(
                    execution_options={READ_ONLY_OPTION: True, "postgresql_readonly": True}
                )
            else:
                session.connection(execution_options={READ_ONLY_OPTION: True})
            yield session
            # Ending a read-only transaction: COMMIT, not ROLLBACK, because a rollback expires
            # the loaded objects the caller is about to use (they are detached next).
            session.commit()
        except sa_exc.DBAPIError as exc:
            session.rollback()
            err = translate_error(exc)
            if err is not None:
                raise err from exc
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    # -- backup (SQLite online backup API) -----------------------------------------------
    def backup_sqlite(self, dest: Path) -> Path:
        """Copy the live local database to `dest`, encrypted with the same key."""
        if self.backend != "sqlite":
            raise DatabaseError("Online file backup is for the local database only.")
        key_hex = self.engine.url.password or ""
        import sqlcipher3

        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".partial")
        if tmp.exists():
            tmp.unlink()
        raw = self.engine.raw_connection()
        try:
            target = sqlcipher3.connect(str(tmp))
            try:
                target.execute(f'PRAGMA key="{key_hex}"')
                raw.driver_connection.backup(target)  # type: ignore[union-attr]
            finally:
                target.close()
        finally:
            raw.close()
        os.replace(tmp, dest)
        if self.path is not None:
            info = keys.read_keyinfo(self.path)
            if info is not None:  # the salt is needed to open a passphrase backup; not secret
                keys.write_keyinfo(dest, info)
        return dest


def pg_account(url: URL) -> str:
    return f"{url.username}@{url.host or 'localhost'}:{url.port or 5432}/{url.database}"


FETCH_CHUNK = 256


def _chunked_connection_class() -> type:
    """A SQLCipher connection whose cursors fetch in chunks of Python-visible size.

    The driver's `fetchall` is one C loop over every row: it lets go of the GIL around each
    step but never runs Python bytecode, so it never honours another thread's request for the
    GIL and the GUI thread could wait for the whole result (600 ms for a large export's rows).
    Fetching FETCH_CHUNK rows at a time returns to the interpreter between chunks, where the
    GIL is handed over: a background read no longer freezes the window. `executemany` (a
    batch's billing lines, an import's rows) has the same C loop and the same remedy."""
    from sqlcipher3 import dbapi2

    class ChunkedCursor(dbapi2.Cursor):  # type: ignore[misc]
        def executemany(self, sql: str, rows: Any) -> Any:
            # The rows come from a Python generator: resuming it runs bytecode between rows,
            # which is where the interpreter hands the GIL to a waiting thread.
            return super().executemany(sql, (row for row in rows))

        def fetchall(self) -> list[Any]:
            rows: list[Any] = []
            while True:
                chunk = self.fetchmany(FETCH_CHUNK)
                if not chunk:
                    return rows
                rows.extend(chunk)

    class ChunkedConnection(dbapi2.Connection):  # type: ignore[misc]
        def cursor(self, factory: Any = ChunkedCursor) -> Any:
            return super().cursor(factory)

    return ChunkedConnection


def sqlite_engine(path: Path, key: bytes) -> Engine:
    """An engine over a SQLCipher file with the pragmas IOPDesk relies on."""
    url = URL.create("sqlite+pysqlcipher", password=f"x'{key.hex()}'", database=str(path))
    # A queue of connections shared by the threads, not pysqlcipher's default of one per
    # thread (SingletonThreadPool): the op runner's workers get a fresh Python thread state
    # for each op, so "per thread" meant a new connection per op, and past five of them the
    # pool closed connections that another worker was still using.
    engine = create_engine(
        url,
        connect_args={
            "check_same_thread": False,
            "timeout": 15,
            "factory": _chunked_connection_class(),
        },
        poolclass=QueuePool,
        pool_size=5,
        hide_parameters=True,  # an error's text never quotes row values (names, phones)
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, manage transactions so BEGIN IMMEDIATE is used.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in (
            "PRAGMA cipher_log_level = NONE",
            "PRAGMA foreign_keys = ON",
            "PRAGMA temp_store = MEMORY",
            "PRAGMA busy_timeout = 15000",
        ):
            with suppress(Exception):
                cur.execute(pragma)
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
        except Exception:
            pass
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A write transaction takes the write lock up front: two workstations' transactions
        # queue instead of failing half-way with SQLITE_BUSY when a reader upgrades to a
        # writer. A read (Database.read) begins deferred: WAL readers never wait for a writer,
        # so a command-line import cannot freeze a screen that is only reading.
        if conn.get_execution_options().get(READ_ONLY_OPTION):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _first_line(exc: BaseException) -> str:
    text_ = str(getattr(exc, "orig", exc))
    return re.split(r"[\r\n]", text_, maxsplit=1)[0][:200]
