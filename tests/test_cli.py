"""The real `iopdesk` command in a subprocess: init, user add, audit verify, and one clear
line (never a traceback) for every error a user can make."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from iopdesk import __version__
from iopdesk.db import Database, DbTarget
from iopdesk.models.enums import Role
from iopdesk.services import audit, auth
from tests.conftest import PASSWORD

REPO = Path(__file__).resolve().parents[1]
PASSPHRASE = "cli-db-passphrase-7"
NEW_PASSWORD = "alice-password-42"


def cli_env(home: Path, **overrides: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOPDESK_")}
    env.update(
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        IOPDESK_DATA_DIR=str(home / "data"),
        IOPDESK_CONFIG_DIR=str(home / "config"),
        IOPDESK_DB_PASSPHRASE=PASSPHRASE,
        IOPDESK_PASSWORD=PASSWORD,
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def iopdesk(home: Path, *args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iopdesk", *args],
        env=cli_env(home, **env),
        cwd=home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def fingerprint(db_path: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(db_path.parent.iterdir())
        if p.name.startswith(db_path.name) and p.is_file()
    }


def assert_one_clear_line(proc: subprocess.CompletedProcess[str], words: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("iopdesk: ")
    assert words in lines[0], lines[0]
    assert proc.stdout == ""


def open_in_process(path: Path) -> Database:
    return Database.open(DbTarget(path=path), passphrase_provider=lambda creating: PASSPHRASE)


@dataclass(frozen=True)
class Initialized:
    path: Path
    init: subprocess.CompletedProcess[str]
    add: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def clinic_db(tmp_path_factory: pytest.TempPathFactory) -> Initialized:
    """`iopdesk init` then `iopdesk user add`, as an administrator would type them."""
    home = tmp_path_factory.mktemp("cli-home")
    path = home / "clinic" / "iopdesk.db"
    init = iopdesk(home, "--db", str(path), "init", "--clinic-name", "Lakeside IOP",
                   "--admin", "boss", "--admin-name", "Barbara Oss")  # fmt: skip
    add = iopdesk(home, "--db", str(path), "--user", "boss", "user", "add", "alice",
                  "--role", "therapist", "--name", "Alice T",
                  IOPDESK_NEW_PASSWORD=NEW_PASSWORD)  # fmt: skip
    return Initialized(path, init, add)


def copy_db(src: Path, dest_dir: Path) -> Path:
    dest_dir.mkdir(parents=True)
    dest = dest_dir / "iopdesk.db"
    shutil.copyfile(src, dest)
    shutil.copyfile(f"{src}.keyinfo", f"{dest}.keyinfo")
    return dest


def tamper(path: Path) -> None:
    """An attacker with the passphrase drops the trigger and edits event 3."""
    db = open_in_process(path)
    try:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER audit_event_no_update")
            conn.execute(text("UPDATE audit_event SET detail = 'roles=front_desk' WHERE id = 3"))
    finally:
        db.close()


@dataclass(frozen=True)
class Case:
    """One command line. "{db}" in args is a private copy of the initialized database,
    "{missing}" a path where no database exists."""

    args: tuple[str, ...]
    env: tuple[tuple[str, str | None], ...] = ()
    prepare: Callable[[Path], None] | None = None


VERIFY = ("--db", "{db}", "--user", "boss", "audit", "verify")
CASES: dict[str, Case] = {
    "version": Case(("--version",)),
    "verify intact": Case(VERIFY),
    "verify tampered": Case(VERIFY, prepare=tamper),
    "wrong passphrase": Case(VERIFY, (("IOPDESK_DB_PASSPHRASE", "not-the-passphrase"),)),
    "no passphrase": Case(VERIFY, (("IOPDESK_DB_PASSPHRASE", None),)),
    "wrong password": Case(VERIFY, (("IOPDESK_PASSWORD", "wrong-password-1"),)),
    "missing --user": Case(("--db", "{db}", "audit", "verify")),
    "not an admin": Case(("--db", "{db}", "--user", "alice", "audit", "verify"),
                         (("IOPDESK_PASSWORD", NEW_PASSWORD),)),
    "missing database": Case(("--db", "{missing}", "--user", "boss", "audit", "verify")),
    "unc path": Case(("--db", "//fileserver/clinic/iopdesk.db", "init", "--clinic-name", "X",
                      "--admin", "boss")),
    "init twice": Case(("--db", "{db}", "init", "--clinic-name", "Second", "--admin", "boss2")),
    "weak password": Case(("--db", "{missing}", "init", "--clinic-name", "X", "--admin", "boss"),
                          (("IOPDESK_PASSWORD", "short"),)),
}  # fmt: skip


@dataclass(frozen=True)
class Run:
    proc: subprocess.CompletedProcess[str]
    db: Path
    missing: Path
    before: dict[str, str]  # fingerprint of the copy just before the command ran


@pytest.fixture(scope="module")
def runs(clinic_db: Initialized, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Every case, each on its own copy, several at a time (each start imports the app)."""
    assert clinic_db.init.returncode == 0 and clinic_db.add.returncode == 0
    prepared: dict[str, tuple[Path, Path, Path, dict[str, str]]] = {}
    for name, case in CASES.items():
        home = tmp_path_factory.mktemp("case")
        db = copy_db(clinic_db.path, home / "db")
        if case.prepare is not None:
            case.prepare(db)
        prepared[name] = (home, db, home / "absent" / "iopdesk.db", fingerprint(db))

    def run(name: str) -> subprocess.CompletedProcess[str]:
        home, db, missing, _ = prepared[name]
        args = [a.format(db=db, missing=missing) for a in CASES[name].args]
        return iopdesk(home, *args, **dict(CASES[name].env))

    with ThreadPoolExecutor(max_workers=4) as pool:
        procs = dict(zip(CASES, pool.map(run, CASES), strict=True))
    return {
        name: Run(procs[name], db, missing, before)
        for name, (_, db, missing, before) in prepared.items()
    }


def test_version(runs: dict[str, Run]) -> None:
    proc = runs["version"].proc
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"IOPDesk {__version__}"


def test_init_creates_an_encrypted_clinic_database(clinic_db: Initialized) -> None:
    proc = clinic_db.init
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "Created clinic 'Lakeside IOP' with administrator 'boss'." in proc.stdout
    assert "passphrase" in proc.stdout  # says where the key is kept
    data = clinic_db.path.read_bytes()
    assert b"SQLite format 3" not in data and b"Lakeside" not in data
    assert PASSPHRASE not in Path(f"{clinic_db.path}.keyinfo").read_text()


def test_user_add(clinic_db: Initialized, tmp_path: Path) -> None:
    proc = clinic_db.add
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "Added user 'alice' (therapist)."
    db = open_in_process(copy_db(clinic_db.path, tmp_path / "db"))
    try:
        alice = auth.login(db, "alice", NEW_PASSWORD)
        assert alice.roles == frozenset({Role.THERAPIST}) and alice.display_name == "Alice T"
        users = {u.username: u.roles for u in auth.list_users(db, auth.login(db, "boss", PASSWORD))}
        assert users == {"boss": frozenset({Role.ADMIN}), "alice": frozenset({Role.THERAPIST})}
    finally:
        db.close()


def test_audit_verify_intact(runs: dict[str, Run]) -> None:
    proc = runs["verify intact"].proc
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Audit log intact:") and proc.stderr == ""


def test_audit_verify_detects_tampering(runs: dict[str, Run]) -> None:
    proc = runs["verify tampered"].proc
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "BROKEN at event 3" in proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("wrong passphrase", "passphrase is not correct"),
        ("no passphrase", "passphrase"),
        ("wrong password", "user name or password is not correct"),
        ("missing --user", "--user"),
        ("not an admin", "administrator"),
        ("missing database", "No IOPDesk database"),
        ("unc path", "PostgreSQL"),
        ("init twice", "already has a clinic; nothing was changed"),
        ("weak password", "at least 10 characters"),
    ],
)
def test_errors_are_one_clear_line_and_change_nothing(
    runs: dict[str, Run], case: str, words: str
) -> None:
    run = runs[case]
    assert_one_clear_line(run.proc, words)
    if case in ("wrong password", "not an admin"):
        return  # signing in writes to the audit log (checked below)
    assert fingerprint(run.db) == run.before
    assert not run.missing.exists() and not run.missing.parent.exists()


def test_failed_sign_in_from_the_command_line_is_audited(runs: dict[str, Run]) -> None:
    db = open_in_process(runs["wrong password"].db)
    try:
        with db.engine.connect() as conn:
            last = conn.execute(
                text("SELECT action, username FROM audit_event ORDER BY id DESC LIMIT 1")
            ).one()
        assert tuple(last) == ("login_failed", "boss")
        assert audit.verify(db).ok
    finally:
        db.close()


def test_reset_password_must_be_changed_before_any_command(
    clinic_db: Initialized, tmp_path: Path
) -> None:
    """Issue 16: an administrator's reset ("must change at next sign-in") is enforced on the
    command line; `iopdesk account password` is the way out, with the password policy."""
    assert clinic_db.add.returncode == 0
    path = copy_db(clinic_db.path, tmp_path / "db")
    db = open_in_process(path)
    try:
        boss = auth.login(db, "boss", PASSWORD)
        alice = next(u for u in auth.list_users(db, boss) if u.username == "alice")
        auth.reset_password(db, boss, alice.id, "temporary-pass-1")
    finally:
        db.close()
    home = tmp_path
    temp = {"IOPDESK_PASSWORD": "temporary-pass-1"}
    as_alice = ("--db", str(path), "--user", "alice")
    refused = iopdesk(home, *as_alice, "report", "attendance", "--week", "2026-11-23",
                      "-o", str(tmp_path / "r.xlsx"), **temp)  # fmt: skip
    assert_one_clear_line(
        refused, "password change required: sign in to the app or use `iopdesk account password`"
    )
    assert not (tmp_path / "r.xlsx").exists()
    # the new password must meet the policy and differ from the temporary one
    weak = iopdesk(home, *as_alice, "account", "password", IOPDESK_NEW_PASSWORD="short", **temp)
    assert_one_clear_line(weak, "at least 10 characters")
    same = iopdesk(home, *as_alice, "account", "password",
                   IOPDESK_NEW_PASSWORD="temporary-pass-1", **temp)  # fmt: skip
    assert_one_clear_line(same, "different from the current one")
    wrong = iopdesk(home, *as_alice, "account", "password",
                    IOPDESK_PASSWORD="not-the-temporary",
                    IOPDESK_NEW_PASSWORD="fresh-pass-99")  # fmt: skip
    assert_one_clear_line(wrong, "user name or password is not correct")
    nobody = iopdesk(home, "--db", str(path), "account", "password")
    assert_one_clear_line(nobody, "--user NAME")
    done = iopdesk(home, *as_alice, "account", "password",
                   IOPDESK_NEW_PASSWORD="fresh-pass-99", **temp)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Changed the password of 'alice'." and done.stderr == ""
    again = iopdesk(home, *as_alice, "audit", "verify", **temp)
    assert_one_clear_line(again, "user name or password is not correct")  # temporary is dead
    db = open_in_process(path)
    try:
        assert auth.login(db, "alice", "fresh-pass-99").username == "alice"
        with db.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT action, detail FROM audit_event WHERE username = 'alice' "
                    "AND action IN ('login', 'password_change') ORDER BY id"
                )
            ).all()
        assert ("password_change", "temporary password replaced") in [tuple(r) for r in rows]
        assert audit.verify(db).ok
    finally:
        db.close()
