"""Throwaway PostgreSQL server for the test suite.

Starts a private, password-less (trust auth) PostgreSQL cluster in a fresh temporary
directory, listening only on 127.0.0.1 on a free port, tuned for speed rather than
durability. Works as an ordinary user and as root (the server is then run as the
``postgres`` system user, or ``nobody``).

Example::

    with PostgresServer() as pg:
        pg.create_database("app")
        engine = sqlalchemy.create_engine(pg.url("app"))
"""

from __future__ import annotations

import atexit
import os
import pwd
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["PostgresServer", "find_pg_bin"]

_LOG_TAIL_LINES = 40
_BIND_ERRORS = ("could not bind", "Address already in use", "could not create listen socket")


def _is_pg_bin(directory: Path) -> bool:
    return all(os.access(directory / tool, os.X_OK) for tool in ("initdb", "pg_ctl"))


def _version_key(directory: Path) -> tuple[int, ...]:
    """Sort key for ``/usr/lib/postgresql/<version>/bin``; non-numeric versions sort first."""
    try:
        return tuple(int(part) for part in directory.parent.name.split("."))
    except ValueError:
        return (-1,)


def find_pg_bin() -> Path | None:
    """Return the directory holding ``initdb`` and ``pg_ctl``, or None when not installed.

    PATH is searched first; otherwise the highest version under
    ``/usr/lib/postgresql/*/bin`` is used.
    """
    found = shutil.which("initdb")
    if found:
        for candidate in (Path(found).resolve().parent, Path(found).parent):
            if _is_pg_bin(candidate):
                return candidate
    candidates = [d for d in Path("/usr/lib/postgresql").glob("*/bin") if _is_pg_bin(d)]
    if not candidates:
        return None
    return max(candidates, key=_version_key)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _traversable(path: Path, uid: int, gid: int) -> bool:
    """True when every component of ``path`` can be traversed by ``uid``/``gid``."""
    for part in (path, *path.parents):
        st = part.stat()
        if st.st_uid == uid:
            bit = stat.S_IXUSR
        elif st.st_gid == gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


class PostgresServer:
    """A disposable PostgreSQL cluster; use :meth:`start`/:meth:`stop` or ``with``."""

    host = "127.0.0.1"

    def __init__(
        self,
        bindir: Path | str | None = None,
        superuser: str = "postgres",
        max_connections: int = 50,
        startup_timeout: int = 30,
    ) -> None:
        found = Path(bindir) if bindir is not None else find_pg_bin()
        if found is None or not _is_pg_bin(found):
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.bindir: Path = found
        self.superuser = superuser
        self.max_connections = max_connections
        self.startup_timeout = startup_timeout
        self.port: int = 0
        self.base_dir: Path | None = None
        self.os_user: str | None = None  # OS account the server runs as when we are root
        self._running = False

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self._base() / "data"

    @property
    def log_file(self) -> Path:
        return self._base() / "server.log"

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> PostgresServer:
        """Create the cluster with initdb and start the server; returns self."""
        if self._running:
            return self
        try:
            self._make_base_dir()
            self._initdb()
            self._configure()
            self._start_server()
        except BaseException:
            self._cleanup_dir()
            raise
        self._running = True
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """Stop the server immediately (no checkpoint) and delete its directory."""
        atexit.unregister(self.stop)
        try:
            if self._running:
                self._run(
                    [
                        str(self.bindir / "pg_ctl"),
                        "-D",
                        str(self.data_dir),
                        "-m",
                        "immediate",
                        "-w",
                        "stop",
                    ],
                    check=False,
                )
        finally:
            self._running = False
            self._cleanup_dir()

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- connection helpers ------------------------------------------------------------

    def url(self, dbname: str) -> str:
        """SQLAlchemy URL (psycopg 3 driver) for ``dbname`` as the superuser."""
        self._require_running()
        return f"postgresql+psycopg://{self.superuser}@{self.host}:{self.port}/{dbname}"

    def conninfo(self, dbname: str = "postgres") -> str:
        """libpq connection string for ``dbname``, usable with ``psycopg.connect``."""
        self._require_running()
        return f"host={self.host} port={self.port} user={self.superuser} dbname={dbname}"

    def create_database(self, name: str, template: str | None = None) -> None:
        """CREATE DATABASE ``name``, optionally copied from ``template``.

        Other sessions connected to ``template`` are terminated first, since PostgreSQL
        refuses to copy a database that is in use.
        """
        from psycopg import sql

        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            stmt = sql.SQL("{} TEMPLATE {}").format(stmt, sql.Identifier(template))
            # FILE_COPY (PostgreSQL 15+) copies a small template about 3x faster than WAL_LOG.
            if self._server_version() >= 150000:
                stmt = sql.SQL("{} STRATEGY FILE_COPY").format(stmt)
        with self._admin_connection() as conn:
            if template is not None:
                self._terminate(conn, template)
            conn.execute(stmt)

    def _server_version(self) -> int:
        if not hasattr(self, "_version_num"):
            with self._admin_connection() as conn:
                self._version_num = int(conn.execute("SHOW server_version_num").fetchone()[0])
        return self._version_num

    def drop_database(self, name: str) -> None:
        """DROP DATABASE IF EXISTS ``name``, disconnecting any other sessions first."""
        from psycopg import sql

        ident = sql.Identifier(name)
        with self._admin_connection() as conn:
            if conn.info.server_version >= 130000:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
            else:
                self._terminate(conn, name)
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(ident))

    def execute(self, statement: str, dbname: str = "postgres") -> None:
        """Run one statement as the superuser (autocommit), e.g. CREATE ROLE."""
        import psycopg

        self._require_running()
        with psycopg.connect(self.conninfo(dbname), autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def add_hba_rule(self, line: str) -> None:
        """Put `line` first in pg_hba.conf (e.g. password authentication for one test role)
        and reload the server configuration. Other roles keep trust authentication."""
        hba = self.data_dir / "pg_hba.conf"
        rules = hba.read_text(encoding="utf-8")
        with open(hba, "w", encoding="utf-8") as fh:  # keeps the server account's ownership
            fh.write(line.rstrip("\n") + "\n" + rules)
        with self._admin_connection() as conn:
            conn.execute("SELECT pg_reload_conf()")

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Last ``lines`` lines of the server log ('' when there is none)."""
        try:
            text = self.log_file.read_text(errors="replace")
        except (OSError, RuntimeError):
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- internals ---------------------------------------------------------------------

    def _base(self) -> Path:
        if self.base_dir is None:
            raise RuntimeError("PostgresServer has not been started")
        return self.base_dir

    def _require_running(self) -> None:
        if not self._running:
            raise RuntimeError("PostgresServer is not running")

    def _admin_connection(self) -> Any:
        import psycopg

        self._require_running()
        return psycopg.connect(self.conninfo("postgres"), autocommit=True, connect_timeout=10)

    @staticmethod
    def _terminate(conn: Any, dbname: str) -> None:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        )

    def _make_base_dir(self) -> None:
        if os.geteuid() != 0:
            self.base_dir = Path(tempfile.mkdtemp(prefix="pgharness-"))
            return
        # PostgreSQL refuses to run as root: hand everything to an unprivileged account.
        for name in ("postgres", "nobody"):
            try:
                entry = pwd.getpwnam(name)
                break
            except KeyError:
                continue
        else:
            raise RuntimeError("running as root but neither 'postgres' nor 'nobody' exists")
        self.os_user = entry.pw_name
        parent = Path(tempfile.gettempdir())
        if not _traversable(parent, entry.pw_uid, entry.pw_gid):
            parent = Path("/tmp")
        self.base_dir = Path(tempfile.mkdtemp(prefix="pgharness-", dir=parent))
        os.chown(self.base_dir, entry.pw_uid, entry.pw_gid)
        os.chmod(self.base_dir, 0o700)

    def _initdb(self) -> None:
        self._run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-E",
                "UTF8",
                "--locale=C",
                "-A",
                "trust",
                "-U",
                self.superuser,
                "--no-sync",
            ],
            what="initdb",
        )

    def _configure(self) -> None:
        # The files already belong to the server account; appending/truncating keeps that.
        settings = {
            "listen_addresses": f"'{self.host}'",
            "unix_socket_directories": f"'{self.data_dir}'",
            "max_connections": str(self.max_connections),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "wal_level": "minimal",
            "max_wal_senders": "0",
            "log_min_messages": "warning",
        }
        conf = "".join(f"{key} = {value}\n" for key, value in settings.items())
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as fh:
            fh.write("\n# pgharness\n" + conf)
        with open(self.data_dir / "pg_hba.conf", "w", encoding="utf-8") as fh:
            fh.write("local all all trust\nhost all all 127.0.0.1/32 trust\n")

    def _start_server(self) -> None:
        for attempt in range(3):
            self.port = _free_port(self.host)
            cmd = [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                f"-p {self.port}",
                "-w",
                "-t",
                str(self.startup_timeout),
                "start",
            ]
            try:
                self._run(cmd, what="pg_ctl start")
                return
            except RuntimeError:
                # Another process may have grabbed the port between probe and bind.
                if attempt < 2 and any(err in self.log_tail() for err in _BIND_ERRORS):
                    self.log_file.unlink(missing_ok=True)
                    continue
                raise

    def _wrap(self, cmd: Sequence[str]) -> list[str]:
        """Prefix ``cmd`` so it runs as :attr:`os_user` when we are root."""
        user = self.os_user
        if user is None:
            return list(cmd)
        if shutil.which("runuser"):
            return ["runuser", "-u", user, "--", *cmd]
        if shutil.which("setpriv"):
            entry = pwd.getpwnam(user)
            return [
                "setpriv",
                f"--reuid={entry.pw_uid}",
                f"--regid={entry.pw_gid}",
                "--init-groups",
                "--",
                *cmd,
            ]
        return ["su", "-s", "/bin/sh", "-c", shlex.join(cmd), user]

    def _run(self, cmd: Sequence[str], what: str = "command", check: bool = True) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", TZ=env.get("TZ", "UTC"))
        full = self._wrap(cmd)
        try:
            proc = subprocess.run(
                full,
                cwd=self._base(),
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.startup_timeout + 30,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            if check:
                raise RuntimeError(self._failure(what, full, str(exc))) from exc
            return
        if check and proc.returncode != 0:
            output = f"exit code {proc.returncode}\n{proc.stdout}{proc.stderr}"
            raise RuntimeError(self._failure(what, full, output))

    def _failure(self, what: str, cmd: Sequence[str], output: str) -> str:
        tail = self.log_tail() or "(no server log)"
        return (
            f"{what} failed: {shlex.join(cmd)}\n{output.strip()}\n"
            f"--- server log tail ({self.log_file}) ---\n{tail}"
        )

    def _cleanup_dir(self) -> None:
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None


if __name__ == "__main__":  # manual smoke test: python tests/pgharness.py
    t0 = time.monotonic()
    with PostgresServer() as server:
        print(f"started in {time.monotonic() - t0:.2f}s: {server.url('postgres')}")
