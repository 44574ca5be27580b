"""PostgreSQL least privilege and TLS (issue 17, item 4), on the real server the harness starts:
the owner upgrades the schema (`iopdesk --db URL db upgrade --app-role NAME`), the application
role changes data only (it cannot UPDATE, DELETE or TRUNCATE the audit log, ALTER a table or
disable a trigger, and the app refuses to migrate with it); a remote server without TLS is
refused unless an administrator allows it (then a banner says so); a wrong database password
says so plainly; failed sign-ins are counted atomically (20 parallel wrong passwords lock the
account, on both backends)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from iopdesk import cli
from iopdesk.db import ALLOW_INSECURE_ENV, Database, DbTarget, check_transport
from iopdesk.errors import AccountLockedError, AuthenticationError, DatabaseError
from iopdesk.services import audit
from iopdesk.services.auth import login
from tests.conftest import PASSWORD, Env

# -- atomic failed sign-ins (both backends) ----------------------------------------------------


ATTEMPT = """
import os, sys, time
from pathlib import Path
from iopdesk.db import Database, DbTarget
from iopdesk.errors import AccountLockedError, AuthenticationError, DatabaseError
from iopdesk.services.auth import login
target, key, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
if key:
    db = Database.open(DbTarget(path=Path(target)), key=bytes.fromhex(key))
else:
    db = Database.open(DbTarget(url=target))
print("ready", flush=True)
while not go.exists():
    time.sleep(0.01)
for _ in range(20):  # a busy local file (SQLite): the workstation tries again, as a user would
    try:
        login(db, "frontdesk", "wrong-password-123")
        print("signed in")
    except (AuthenticationError, AccountLockedError) as exc:
        print(type(exc).__name__)
    except DatabaseError as exc:
        if "busy" not in exc.message:
            raise
        continue
    break
else:
    print("busy")
db.close()
"""


def test_twenty_parallel_wrong_passwords_lock_the_account(env: Env, tmp_path: Path) -> None:
    """Twenty workstations (processes) send a wrong password at the same moment."""
    import os
    import subprocess
    import sys

    from tests.conftest import TEST_KEY

    db = env.db
    go = tmp_path / "go"
    if env.backend == "sqlite":
        target, key = str(env.reopen_target.path), TEST_KEY.hex()
    else:
        target, key = str(env.reopen_target.url), ""
    repo = str(Path(__file__).resolve().parents[1])
    environ = dict(os.environ, PYTHONPATH=repo)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", ATTEMPT, target, key, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environ,
        )
        for _ in range(20)
    ]
    try:
        for p in procs:  # every workstation is connected before the first attempt
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "ready", p.stderr.read() if p.stderr else ""
        go.touch()
        results = []
        for p in procs:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err[-2000:]
            results.append(out.strip())
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert "signed in" not in results and "busy" not in results
    assert "AccountLockedError" in results  # later attempts were told the account is locked
    with pytest.raises(AccountLockedError):  # even the right password is refused now
        login(db, "frontdesk", PASSWORD)
    with db.session() as s:
        counts = dict(
            s.execute(
                sa.text(
                    "SELECT action, count(*) FROM audit_event WHERE username = 'frontdesk' "
                    "GROUP BY action"
                )
            ).all()
        )
    assert counts.get(audit.Action.LOCKED_OUT, 0) >= 1
    assert counts.get(audit.Action.LOGIN_FAILED, 0) >= 20


def test_five_wrong_passwords_in_a_row_lock_exactly_at_the_fifth(env: Env) -> None:
    for i in range(4):
        with pytest.raises(AuthenticationError) as err:
            login(env.db, "billing", f"wrong-{i}")
        assert not isinstance(err.value, AccountLockedError)
    with pytest.raises(AccountLockedError):
        login(env.db, "billing", "wrong-5")


# -- TLS for a remote server (no server needed: refused before connecting) ---------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://app@db.clinic.lan/iopdesk",
        "postgresql+psycopg://app@db.clinic.lan/iopdesk?sslmode=disable",
        "postgresql+psycopg://app@db.clinic.lan/iopdesk?sslmode=prefer",
        "postgresql+psycopg://app@db.clinic.lan/iopdesk?sslmode=allow",
        "postgresql+psycopg://app@10.0.0.5:5433/iopdesk?sslmode=",
        "postgresql+psycopg://app@/iopdesk?host=db.clinic.lan",
    ],
)
def test_a_remote_server_without_tls_is_refused(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_INSECURE_ENV, raising=False)
    with pytest.raises(DatabaseError) as err:
        Database.open(DbTarget(url=url))
    message = err.value.message
    assert "without encryption" in message and "sslmode=verify-full" in message
    assert "Cannot reach" not in message


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://app@db.clinic.lan/iopdesk?sslmode=require",
        "postgresql+psycopg://app@db.clinic.lan/iopdesk?sslmode=verify-ca",
        "postgresql+psycopg://app@db.clinic.lan/iopdesk?sslmode=verify-full",
        "postgresql+psycopg://app@localhost/iopdesk",
        "postgresql+psycopg://app@127.0.0.1:5432/iopdesk?sslmode=disable",
        "postgresql+psycopg://app@[::1]/iopdesk",
        "postgresql+psycopg://app@/iopdesk",  # the Unix socket
        "postgresql+psycopg://app@/iopdesk?host=/var/run/postgresql",
    ],
)
def test_tls_or_this_computer_is_accepted(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_INSECURE_ENV, raising=False)
    assert check_transport(make_url(url)) is None


def test_an_administrator_may_allow_plain_text_and_the_app_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "postgresql+psycopg://app@db.clinic.lan/iopdesk?sslmode=disable"
    monkeypatch.setenv(ALLOW_INSECURE_ENV, "1")
    db = Database._open_postgres(DbTarget(url=url))  # the engine connects lazily
    try:
        assert db.insecure_warning is not None
        assert db.insecure_warning.startswith("Not encrypted")
        assert ALLOW_INSECURE_ENV in db.insecure_warning
    finally:
        db.close()
    monkeypatch.delenv(ALLOW_INSECURE_ENV)
    from iopdesk import paths

    paths.save_workstation_config({"allow_insecure_database": True})
    try:
        banner = check_transport(make_url(url))
        assert banner is not None and "workstation.json" in banner
    finally:
        paths.save_workstation_config({})


# -- the real server: credentials, roles ---------------------------------------------------------


def _url(server: Any, user: str, dbname: str, password: str | None = None) -> str:
    secret = f":{password}" if password else ""
    return f"postgresql+psycopg://{user}{secret}@{server.host}:{server.port}/{dbname}"


@pytest.mark.pg
def test_a_wrong_database_password_says_so(pg_server: Any) -> None:
    role = f"pw_{uuid.uuid4().hex[:8]}"
    pg_server.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'right-password-1'")
    pg_server.add_hba_rule(f"host all {role} 127.0.0.1/32 scram-sha-256")
    wrong = DbTarget(url=_url(pg_server, role, "postgres", "wrong-password"))
    deadline = time.monotonic() + 30
    while True:  # the server reloads pg_hba.conf asynchronously
        try:
            Database.open(wrong, migrate=False).close()
        except DatabaseError as exc:
            error = exc
            break
        assert time.monotonic() < deadline, "pg_hba.conf was not reloaded"
        time.sleep(0.2)
    assert "refused the user name or password" in error.message
    assert "Cannot reach" not in error.message
    with pytest.raises(DatabaseError, match="refused the user name or password"):
        Database.open(DbTarget(url=_url(pg_server, "no_such_role", "postgres")), migrate=False)
    right = Database.open(
        DbTarget(url=_url(pg_server, role, "postgres", "right-password-1")), migrate=False
    )
    right.close()


@pytest.fixture
def owned_database(pg_server: Any) -> Iterator[tuple[str, str, str]]:
    """A database owned by a plain (non-superuser) owner role; yields (db, owner, app)."""
    tag = uuid.uuid4().hex[:8]
    name, owner, app = f"own_{tag}", f"owner_{tag}", f"app_{tag}"
    pg_server.execute(f"CREATE ROLE {owner} LOGIN CREATEROLE")
    pg_server.execute(f"CREATE DATABASE {name} OWNER {owner}")
    yield name, owner, app
    pg_server.drop_database(name)


def _cli(*args: str) -> int:
    return cli.main(list(args))


@pytest.mark.pg
def test_owner_upgrades_and_the_app_role_changes_data_only(
    pg_server: Any, owned_database: tuple[str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    name, owner, app = owned_database
    owner_url, app_url = _url(pg_server, owner, name), _url(pg_server, app, name)
    # Before the upgrade the app role does not even exist; the owner creates and grants it.
    assert _cli("--db", owner_url, "db", "upgrade", "--app-role", app) == 0
    out = capsys.readouterr().out
    assert "Upgraded the schema from (empty database) to" in out
    assert f"Created the application role '{app}'" in out
    # The workstations set the clinic up and work with the application role.
    from iopdesk.services.clinic import setup_clinic

    db = Database.open(DbTarget(url=app_url))
    try:
        admin = setup_clinic(db, "Least Privilege Clinic", "admin", PASSWORD, "Ada")
        audit.record_now(db, admin, audit.Action.AUDIT_VERIFY, entity="audit_event")
        assert audit.verify(db).ok
        refused = {
            "UPDATE audit_event SET detail = 'x'": "permission denied",
            "DELETE FROM audit_event": "permission denied",
            "TRUNCATE audit_event": "permission denied",
            "TRUNCATE client": "permission denied",
            "ALTER TABLE audit_event DISABLE TRIGGER ALL": "must be owner",
            "ALTER TABLE client ADD COLUMN x integer": "must be owner",
            "DROP TABLE client": "must be owner",
            "CREATE TABLE evil (x integer)": "permission denied",
            "UPDATE alembic_version SET version_num = 'x'": "permission denied",
        }
        with db.engine.connect() as conn:
            for statement, why in refused.items():
                with pytest.raises(sa_exc.ProgrammingError) as err, conn.begin():
                    conn.execute(sa.text(statement))
                assert why in str(err.value.orig), statement
                trigger = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'audit_event'::regclass "
                        "AND NOT tgisinternal AND tgenabled <> 'D'"
                    )
                ).scalar()
                assert trigger and trigger > 0
                conn.rollback()
            n = conn.execute(sa.text("SELECT count(*) FROM audit_event")).scalar()  # SELECT ok
            assert n and n > 0
    finally:
        db.close()
    # Re-running the upgrade is harmless and keeps the grants.
    assert _cli("--db", owner_url, "db", "upgrade", "--app-role", app) == 0
    assert "The schema is up to date" in capsys.readouterr().out


@pytest.mark.pg
def test_the_app_role_never_migrates(
    pg_server: Any, owned_database: tuple[str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    name, owner, app = owned_database
    owner_url, app_url = _url(pg_server, owner, name), _url(pg_server, app, name)
    pg_server.execute(f"CREATE ROLE {app} LOGIN")
    pg_server.execute(f"GRANT CONNECT ON DATABASE {name} TO {app}")
    # An empty database: the application role may not create the schema.
    with pytest.raises(DatabaseError) as err:
        Database.open(DbTarget(url=app_url))
    assert "has no IOPDesk tables yet" in err.value.message
    assert "db upgrade" in err.value.message and f"'{app}'" in err.value.message
    assert _cli("--db", owner_url, "db", "upgrade", "--app-role", app) == 0
    capsys.readouterr()
    # An older schema (a new IOPDesk installed on the workstations first): refused, unchanged.
    from iopdesk import migrations

    previous = migrations.REVISIONS[-2]
    from iopdesk.migrations import runner

    owner_db = Database.open(DbTarget(url=owner_url), migrate=False)
    runner.downgrade(owner_db.engine, previous)  # as the older IOPDesk left it
    owner_db.close()
    with pytest.raises(DatabaseError) as err:
        Database.open(DbTarget(url=app_url))
    assert f"is at schema {previous}" in err.value.message
    assert "may not change the schema" in err.value.message
    rc = _cli("--db", app_url, "db", "upgrade")
    assert rc == cli.EXIT_USER_ERROR
    assert "may not change the schema" in capsys.readouterr().err
    assert _cli("--db", owner_url, "db", "upgrade", "--app-role", app) == 0
    Database.open(DbTarget(url=app_url)).close()  # up to date again: the app opens


def test_db_upgrade_on_a_local_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "local.db"
    monkeypatch.setenv("IOPDESK_DB_PASSPHRASE", "a-long-local-passphrase")
    monkeypatch.setenv("IOPDESK_PASSWORD", PASSWORD)
    assert _cli("--db", str(path), "init", "--clinic-name", "Local", "--admin", "admin") == 0
    capsys.readouterr()
    assert _cli("--db", str(path), "db", "upgrade") == 0
    from iopdesk import migrations

    assert f"The schema is up to date ({migrations.HEAD})" in capsys.readouterr().out
    assert _cli("--db", str(path), "db", "upgrade", "--app-role", "x") == cli.EXIT_USER_ERROR
    assert "PostgreSQL clinic server only" in capsys.readouterr().err
