"""The database facade: encryption at rest, where the key is kept, refusing unsafe or unknown
databases (network share, newer schema, corrupt file) without changing them, backups,
addresses, plain-language driver errors, and a migration that matches the models."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sqlite3
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import event, inspect, text
from sqlalchemy import exc as sa_exc
from sqlmodel import SQLModel

import iopdesk.db as dbmod
import iopdesk.models  # noqa: F401  (registers every table on SQLModel.metadata)
from iopdesk import secrets as keys
from iopdesk.db import Database, DbTarget, network_share_reason, resolve_target, translate_error
from iopdesk.errors import (
    CorruptDatabaseError,
    DatabaseError,
    DiskFullError,
    NetworkShareError,
    SchemaTooNewError,
    UserError,
    WrongKeyError,
)
from iopdesk.migrations import runner
from iopdesk.secrets import NoPassphraseError
from iopdesk.services import clients
from iopdesk.services.clinic import setup_clinic
from tests.conftest import PASSWORD, TEST_KEY, Env, World

PASSPHRASE = "plum-orchard-42 lantern"
CANARY_FIRST = "Zyxwvut"
CANARY_LAST = "Canaryname"
CANARY_NAMES = (CANARY_FIRST.encode(), CANARY_LAST.encode(), b"Zyxwvut Canaryname")


# -- helpers ---------------------------------------------------------------------------------


def give(passphrase: str) -> Callable[[bool], str]:
    return lambda creating: passphrase


def never_asked(creating: bool) -> str:
    raise AssertionError("the passphrase must not be asked for here")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fingerprint(db_path: Path) -> dict[str, str]:
    """Hashes of the database file and everything beside it that belongs to it."""
    return {
        p.name: sha256(p)
        for p in sorted(db_path.parent.iterdir())
        if p.name.startswith(db_path.name) and p.is_file()
    }


def copy_db(src: Path, dest_dir: Path, name: str = "copy.db") -> Path:
    """Copy a closed database file together with its .keyinfo."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / name
    shutil.copyfile(src, dest)
    shutil.copyfile(keys.keyinfo_path(src), keys.keyinfo_path(dest))
    return dest


def row_counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {
            name: conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()
            for name in sorted(SQLModel.metadata.tables)
        }


def client_names(db: Database) -> set[tuple[str, str]]:
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT first_name, last_name FROM client")).all()
    return {(first, last) for first, last in rows}


def assert_plain(message: str) -> None:
    """A message meant for a clinic's staff: one line, no driver jargon, no traceback."""
    assert message and "\n" not in message
    for jargon in ("Traceback", "sqlite3.", "sqlcipher", "psycopg", "OperationalError", "(x'"):
        assert jargon not in message


def assert_no_canary(path: Path) -> None:
    data = path.read_bytes()
    for needle in CANARY_NAMES:
        assert needle not in data, f"client name found in plain text in {path.name}"
    assert b"SQLite format 3" not in data, f"{path.name} is not encrypted"


@pytest.fixture(scope="module")
def passphrase_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed, passphrase-protected database holding one client (copy it before use)."""
    path = tmp_path_factory.mktemp("passphrase") / "clinic.db"
    db = Database.open(DbTarget(path=path), create=True, passphrase_provider=give(PASSPHRASE))
    try:
        admin = setup_clinic(db, "Canary Clinic", "admin", PASSWORD)
        clients.create_client(
            db, admin, clients.ClientInput(CANARY_FIRST, CANARY_LAST, date(1980, 3, 4))
        )
    finally:
        db.close()
    return path


@pytest.fixture
def no_env_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IOPDESK_DB_PASSPHRASE", raising=False)


# -- (a) encryption at rest and the passphrase ----------------------------------------------


def test_local_database_is_encrypted_on_disk(tmp_path: Path, no_env_passphrase: None) -> None:
    path = tmp_path / "iopdesk.db"
    asked: list[bool] = []

    def provider(creating: bool) -> str:
        asked.append(creating)
        return PASSPHRASE

    db = Database.open(DbTarget(path=path), create=True, passphrase_provider=provider)
    try:
        assert asked == [True]  # no keyring here: a new passphrase was asked for
        assert "passphrase" in db.key_description
        admin = setup_clinic(db, "Canary Clinic", "admin", PASSWORD)
        client = clients.create_client(
            db, admin, clients.ClientInput(CANARY_FIRST, CANARY_LAST, date(1980, 3, 4))
        )
        # While the app is running the pages sit in the WAL file: that must be encrypted too.
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cipher_version").scalar()
        for p in tmp_path.iterdir():
            assert_no_canary(p)
    finally:
        db.close()

    files = sorted(p.name for p in tmp_path.iterdir())
    assert "iopdesk.db" in files
    for p in tmp_path.iterdir():  # the file, -wal/-shm if left, and .keyinfo
        assert_no_canary(p)

    # The standard library (no key) cannot read it.
    plain = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        with pytest.raises(sqlite3.DatabaseError):
            plain.execute("SELECT name FROM sqlite_master").fetchall()
    finally:
        plain.close()

    # The right passphrase opens it, and the client is there.
    db = Database.open(DbTarget(path=path), passphrase_provider=provider)
    try:
        assert asked == [True, False]
        assert (CANARY_FIRST, CANARY_LAST) in client_names(db)
        chart = clients.open_chart(db, admin, client.id or 0)
        assert chart.client.last_name == CANARY_LAST
    finally:
        db.close()


def test_keyinfo_holds_no_key_and_no_passphrase(
    passphrase_db: Path, no_env_passphrase: None
) -> None:
    info = json.loads(keys.keyinfo_path(passphrase_db).read_text())
    assert info["method"] == "passphrase"
    salt = bytes.fromhex(info["salt"])
    key_hex = keys.derive_key(PASSPHRASE, salt).hex()
    raw = keys.keyinfo_path(passphrase_db).read_text()
    assert key_hex not in raw.lower()
    assert PASSPHRASE not in raw


def test_wrong_passphrase_is_refused_and_changes_nothing(
    passphrase_db: Path, tmp_path: Path, no_env_passphrase: None
) -> None:
    path = copy_db(passphrase_db, tmp_path)
    before = fingerprint(path)
    with pytest.raises(WrongKeyError) as caught:
        Database.open(DbTarget(path=path), passphrase_provider=give("plum-orchard-41 lantern"))
    assert caught.value.message == "The database passphrase is not correct. Please try again."
    assert fingerprint(path) == before

    db = Database.open(DbTarget(path=path), passphrase_provider=give(PASSPHRASE))
    try:
        assert (CANARY_FIRST, CANARY_LAST) in client_names(db)
    finally:
        db.close()


def test_missing_passphrase_when_creating_creates_nothing(
    tmp_path: Path, no_env_passphrase: None
) -> None:
    path = tmp_path / "new.db"
    with pytest.raises(NoPassphraseError) as caught:
        Database.open(DbTarget(path=path), create=True)
    assert "IOPDESK_DB_PASSPHRASE" in caught.value.message
    assert_plain(caught.value.message)
    assert list(tmp_path.iterdir()) == []

    with pytest.raises(NoPassphraseError):
        Database.open(DbTarget(path=path), create=True, passphrase_provider=give(""))
    with pytest.raises(NoPassphraseError) as short:
        Database.open(DbTarget(path=path), create=True, passphrase_provider=give("short"))
    assert "at least 8 characters" in short.value.message
    assert list(tmp_path.iterdir()) == []


def test_missing_passphrase_when_opening(
    passphrase_db: Path, tmp_path: Path, no_env_passphrase: None
) -> None:
    path = copy_db(passphrase_db, tmp_path)
    before = fingerprint(path)
    with pytest.raises(NoPassphraseError) as caught:
        Database.open(DbTarget(path=path))
    assert "passphrase" in caught.value.message
    assert_plain(caught.value.message)
    with pytest.raises(NoPassphraseError):
        Database.open(DbTarget(path=path), passphrase_provider=give(""))
    assert fingerprint(path) == before


def test_passphrase_from_environment(
    passphrase_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IOPDESK_DB_PASSPHRASE", PASSPHRASE)
    path = copy_db(passphrase_db, tmp_path)
    db = Database.open(DbTarget(path=path), passphrase_provider=never_asked)
    try:
        assert (CANARY_FIRST, CANARY_LAST) in client_names(db)
    finally:
        db.close()

    monkeypatch.setenv("IOPDESK_DB_PASSPHRASE", "not the passphrase")
    with pytest.raises(WrongKeyError):
        Database.open(DbTarget(path=path))


def test_sqlite_connection_settings(sqlite_template: tuple[Path, World], tmp_path: Path) -> None:
    db = Database.open(DbTarget(path=copy_db(sqlite_template[0], tmp_path)), key=TEST_KEY)
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA temp_store").scalar() == 2  # MEMORY
            assert conn.exec_driver_sql("PRAGMA cipher_version").scalar()
    finally:
        db.close()


# -- (b) the key kept in the OS keyring -------------------------------------------------------


@pytest.fixture
def file_keyring(tmp_path: Path) -> Iterator[object]:
    """A real keyring backend (keyrings.alt plain-text file) in a private file."""
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    previous = keyring.get_keyring()
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


def test_key_kept_in_keyring(file_keyring: object, tmp_path: Path, no_env_passphrase: None) -> None:
    import keyring
    from keyring.backends import fail

    path = tmp_path / "data" / "iopdesk.db"
    db = Database.open(DbTarget(path=path), create=True, passphrase_provider=never_asked)
    try:
        assert "keyring" in db.key_description
        admin = setup_clinic(db, "Canary Clinic", "admin", PASSWORD)
        clients.create_client(
            db, admin, clients.ClientInput(CANARY_FIRST, CANARY_LAST, date(1980, 3, 4))
        )
    finally:
        db.close()

    info = keys.read_keyinfo(path)
    assert info is not None and info.method == "keyring"
    key_hex = keyring.get_password(keys.KEYRING_SERVICE, info.account)
    assert key_hex and len(bytes.fromhex(key_hex)) == keys.KEY_BYTES
    assert key_hex.lower() not in keys.keyinfo_path(path).read_text().lower()
    assert key_hex.encode() not in path.read_bytes()
    assert_no_canary(path)

    db = Database.open(DbTarget(path=path), passphrase_provider=never_asked)
    try:
        assert (CANARY_FIRST, CANARY_LAST) in client_names(db)
    finally:
        db.close()

    # Without the keyring that holds the key: a clear message, and the file is untouched.
    before = fingerprint(path)
    keyring.set_keyring(fail.Keyring())
    with pytest.raises(DatabaseError) as caught:
        Database.open(DbTarget(path=path), passphrase_provider=never_asked)
    assert "keyring" in caught.value.message
    assert_plain(caught.value.message)
    assert fingerprint(path) == before


# -- (c) network shares ------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["//server/share/iopdesk.db", "\\\\server\\share\\iopdesk.db"])
def test_unc_path_is_refused(raw: str) -> None:
    with pytest.raises(NetworkShareError) as caught:
        Database.open(DbTarget(path=Path(raw)), create=True, key=TEST_KEY)
    assert "PostgreSQL" in caught.value.message
    assert "network" in caught.value.message
    with pytest.raises(NetworkShareError):
        Database.open(raw, create=True, key=TEST_KEY)  # as typed after --db
    assert not Path(raw).exists()


FAKE_MOUNTS = """\
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
/dev/sda1 / ext4 rw,relatime 0 0
tmpfs /run tmpfs rw,nosuid,nodev 0 0
fileserver:/export/clinic /zzclinic/nfs nfs4 rw,relatime,vers=4.2 0 0
//fileserver/clinic /zzclinic/smb cifs rw,relatime,vers=3.0 0 0
/dev/sdb1 /zzclinic/nfs/localdisk ext4 rw,relatime 0 0
//fileserver/front\\040desk /zzclinic/front\\040desk cifs rw 0 0
"""


@pytest.mark.parametrize(
    ("path", "fs"),
    [
        ("/zzclinic/nfs/iopdesk.db", "nfs4"),
        ("/zzclinic/nfs/deeper/folder/iopdesk.db", "nfs4"),
        ("/zzclinic/smb/iopdesk.db", "cifs"),
        ("/zzclinic/front desk/iopdesk.db", "cifs"),
        ("/zzclinic/nfs/localdisk/iopdesk.db", None),  # a local disk mounted inside the share
        ("/zzclinic/nfsother/iopdesk.db", None),  # same prefix, different folder
        ("/zzclinic/iopdesk.db", None),
        ("/home/frontdesk/iopdesk.db", None),
    ],
)
def test_network_share_reason_uses_longest_mount(path: str, fs: str | None) -> None:
    reason = network_share_reason(Path(path), FAKE_MOUNTS)
    if fs is None:
        assert reason is None
    else:
        assert reason is not None and fs in reason


def test_existing_database_on_network_mount_is_refused_untouched(
    sqlite_template: tuple[Path, World], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy_db(sqlite_template[0], tmp_path / "share")
    mount = str((tmp_path / "share").resolve())
    mounts = f"/dev/sda1 / ext4 rw 0 0\nserver:/clinic {mount} nfs4 rw 0 0\n"
    real = dbmod.network_share_reason
    monkeypatch.setattr(dbmod, "network_share_reason", lambda p, mounts_text=None: real(p, mounts))
    before = fingerprint(path)
    with pytest.raises(NetworkShareError) as caught:
        Database.open(DbTarget(path=path), key=TEST_KEY)
    assert "nfs4" in caught.value.message and "PostgreSQL" in caught.value.message
    assert fingerprint(path) == before


# -- (d) a database written by a newer IOPDesk -----------------------------------------------


def _reopen(env: Env, *, migrate: bool = True) -> Database:
    key = TEST_KEY if env.backend == "sqlite" else None
    return Database.open(env.reopen_target, key=key, migrate=migrate)


def test_newer_schema_is_refused_and_nothing_is_lost(env: Env) -> None:
    head = runner.script().get_current_head()
    counts = row_counts(env.db)
    with env.db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    env.db.close()

    with pytest.raises(SchemaTooNewError) as caught:
        _reopen(env)
    assert "newer version" in caught.value.message
    assert "nothing was changed" in caught.value.message
    assert_plain(caught.value.message)

    raw = _reopen(env, migrate=False)
    try:
        assert raw.schema_revision() == "9999_future"  # refused, not "repaired"
        assert row_counts(raw) == counts
        with raw.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    finally:
        raw.close()
    db = _reopen(env)
    try:
        assert row_counts(db) == counts
        assert client_names(db) >= {("Canary", "Ownclient"), ("Olga", "Otherclient")}
    finally:
        db.close()


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    engine = dbmod.sqlite_engine(path, TEST_KEY)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount TEXT)"))
        conn.execute(text("INSERT INTO invoices (amount) VALUES ('12.50')"))
    engine.dispose()
    with pytest.raises(DatabaseError) as caught:
        Database.open(DbTarget(path=path), key=TEST_KEY)
    assert "did not create" in caught.value.message
    engine = dbmod.sqlite_engine(path, TEST_KEY)
    try:
        with engine.connect() as conn:
            names = inspect(conn).get_table_names()
            assert names == ["invoices"]
            assert conn.execute(text("SELECT amount FROM invoices")).scalar_one() == "12.50"
    finally:
        engine.dispose()


# -- (e) damaged files ----------------------------------------------------------------------


def _assert_corrupt_refused(path: Path, **open_kw: object) -> None:
    before = fingerprint(path)
    with pytest.raises(CorruptDatabaseError) as caught:
        Database.open(DbTarget(path=path), **open_kw)  # type: ignore[arg-type]
    assert "backup" in caught.value.message
    assert_plain(caught.value.message)
    assert fingerprint(path) == before, "opening a damaged file must not change it"


def test_random_bytes_are_reported_as_corrupt(
    sqlite_template: tuple[Path, World], tmp_path: Path
) -> None:
    path = copy_db(sqlite_template[0], tmp_path)
    path.write_bytes(os.urandom(path.stat().st_size))
    _assert_corrupt_refused(path, key=TEST_KEY)


@pytest.mark.parametrize("keep", [100, 4096, 4097, 0.5])
def test_truncated_file_is_reported_as_corrupt(
    sqlite_template: tuple[Path, World], tmp_path: Path, keep: float
) -> None:
    path = copy_db(sqlite_template[0], tmp_path)
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else int(keep)
    path.write_bytes(data[:cut])
    _assert_corrupt_refused(path, key=TEST_KEY)


def test_damaged_passphrase_database_is_not_blamed_on_the_passphrase(
    passphrase_db: Path, tmp_path: Path, no_env_passphrase: None
) -> None:
    path = copy_db(passphrase_db, tmp_path)
    data = bytearray(path.read_bytes())
    data[:4096] = os.urandom(4096)
    path.write_bytes(bytes(data))
    _assert_corrupt_refused(path, passphrase_provider=give(PASSPHRASE))


def test_plain_sqlite_file_is_not_an_iopdesk_database(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    _assert_corrupt_refused(path, key=TEST_KEY)


def test_missing_file_is_not_created_without_create(tmp_path: Path) -> None:
    path = tmp_path / "nope.db"
    with pytest.raises(DatabaseError) as caught:
        Database.open(DbTarget(path=path), key=TEST_KEY)
    assert "iopdesk init" in caught.value.message
    assert list(tmp_path.iterdir()) == []


def test_create_over_existing_database_is_refused(
    sqlite_template: tuple[Path, World], tmp_path: Path
) -> None:
    path = copy_db(sqlite_template[0], tmp_path)
    before = fingerprint(path)
    with pytest.raises(DatabaseError) as caught:
        Database.open(DbTarget(path=path), create=True, key=TEST_KEY)
    assert "nothing was changed" in caught.value.message
    assert fingerprint(path) == before


def test_unreachable_postgres_server_gives_a_plain_message() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on `port` now.
    with pytest.raises(DatabaseError) as caught:
        Database.open(DbTarget(url=f"postgresql+psycopg://clinic@127.0.0.1:{port}/iopdesk"))
    assert "Cannot reach the clinic database server" in caught.value.message
    assert_plain(caught.value.message)


# -- (f) backups -----------------------------------------------------------------------------


def test_backup_opens_with_the_same_key_and_holds_the_same_rows(
    sqlite_template: tuple[Path, World], tmp_path: Path
) -> None:
    path = copy_db(sqlite_template[0], tmp_path / "live")
    db = Database.open(DbTarget(path=path), key=TEST_KEY)
    try:
        counts = row_counts(db)
        dest = db.backup_sqlite(tmp_path / "backups" / "daily.db")
    finally:
        db.close()
    assert dest == tmp_path / "backups" / "daily.db"
    assert not list((tmp_path / "backups").glob("*.partial"))
    data = dest.read_bytes()
    assert b"SQLite format 3" not in data and b"Ownclient" not in data
    copy = Database.open(DbTarget(path=dest), key=TEST_KEY)
    try:
        assert row_counts(copy) == counts
        assert counts["client"] == 2 and counts["audit_event"] > 0
    finally:
        copy.close()
    with pytest.raises(CorruptDatabaseError):  # another key cannot read it
        Database.open(DbTarget(path=dest), key=bytes(32))


def test_backup_of_passphrase_database_opens_with_the_passphrase(
    passphrase_db: Path, tmp_path: Path, no_env_passphrase: None
) -> None:
    """A restored backup must open with what the clinic has: its passphrase. The salt lives in
    the .keyinfo file, so a backup that leaves it behind cannot be opened once the original
    disk is gone."""
    path = copy_db(passphrase_db, tmp_path / "live")
    db = Database.open(DbTarget(path=path), passphrase_provider=give(PASSPHRASE))
    try:
        counts = row_counts(db)
        dest = db.backup_sqlite(tmp_path / "external-drive" / "clinic-backup.db")
    finally:
        db.close()
    shutil.rmtree(tmp_path / "live")  # the office PC's disk died
    copy = Database.open(DbTarget(path=dest), passphrase_provider=give(PASSPHRASE))
    try:
        assert row_counts(copy) == counts
    finally:
        copy.close()


def test_file_backup_is_for_the_local_database_only(env: Env, tmp_path: Path) -> None:
    if env.backend == "sqlite":
        dest = env.db.backup_sqlite(tmp_path / "b.db")
        assert dest.stat().st_size > 0
    else:
        with pytest.raises(DatabaseError) as caught:
            env.db.backup_sqlite(tmp_path / "b.db")
        assert "local database" in caught.value.message
        assert not (tmp_path / "b.db").exists()


# -- (g) database addresses -----------------------------------------------------------------


@pytest.fixture
def clean_address_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("IOPDESK_DB", raising=False)
    monkeypatch.setenv("IOPDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IOPDESK_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path


def test_resolve_target_paths(clean_address_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_target("/srv/clinic/iopdesk.db") == DbTarget(path=Path("/srv/clinic/iopdesk.db"))
    assert resolve_target("~/iopdesk.db").path == Path.home() / "iopdesk.db"
    assert resolve_target("sqlite:////srv/clinic/a.db") == DbTarget(path=Path("/srv/clinic/a.db"))
    assert resolve_target("sqlite:///relative.db") == DbTarget(path=Path("relative.db"))
    default = resolve_target(None)
    assert default == DbTarget(path=clean_address_env / "data" / "iopdesk.db")
    assert not default.is_postgres
    assert "Local encrypted file" in default.describe()

    monkeypatch.setenv("IOPDESK_DB", "/srv/from-env.db")
    assert resolve_target(None).path == Path("/srv/from-env.db")
    assert resolve_target("/srv/from-flag.db").path == Path("/srv/from-flag.db")
    monkeypatch.delenv("IOPDESK_DB")

    from iopdesk import paths

    paths.save_workstation_config({"database": "postgresql://clinic@db.local/iopdesk"})
    assert resolve_target(None).url == "postgresql+psycopg://clinic@db.local/iopdesk"


def test_resolve_target_postgres_urls(clean_address_env: Path) -> None:
    target = resolve_target("postgresql://clinic:s3cret@db.local:5433/iopdesk?sslmode=require")
    assert target.is_postgres and target.path is None
    assert target.url is not None
    assert target.url.startswith("postgresql+psycopg://clinic:s3cret@db.local:5433/iopdesk")
    assert "sslmode=require" in target.url  # TLS setting passed through
    assert target.describe() == "PostgreSQL iopdesk on db.local:5433"
    assert "s3cret" not in target.describe()
    assert resolve_target("postgres://c@h/d").url == "postgresql+psycopg://c@h/d"
    assert resolve_target("postgresql+psycopg://c@h/d").url == "postgresql+psycopg://c@h/d"


@pytest.mark.parametrize("raw", ["mysql://c@h/d", "https://example.org/db", "ftp://h/x.db"])
def test_resolve_target_unsupported_scheme(raw: str, clean_address_env: Path) -> None:
    with pytest.raises(DatabaseError) as caught:
        resolve_target(raw)
    assert "postgresql://" in caught.value.message
    assert_plain(caught.value.message)


# -- (h) driver errors in plain words ----------------------------------------------------------


def _driver_error(message: str) -> sa_exc.OperationalError:
    return sa_exc.OperationalError("INSERT INTO client ...", {}, Exception(message))


@pytest.mark.parametrize(
    ("driver_message", "expected", "words"),
    [
        ("database or disk is full", DiskFullError, "disk is full"),
        ('could not extend file "base/1/2": No space left on device', DiskFullError, "disk"),
        ("file is not a database", CorruptDatabaseError, "backup"),
        ("database disk image is malformed", CorruptDatabaseError, "backup"),
        ("database is locked", DatabaseError, "busy"),
        ("audit_event is append-only", DatabaseError, "audit log"),
        ('connection to server at "10.0.0.5", port 5432 failed', DatabaseError, "Cannot reach"),
        ("server closed the connection unexpectedly", DatabaseError, "Cannot reach"),
    ],
)
def test_translate_error(driver_message: str, expected: type[UserError], words: str) -> None:
    err = translate_error(_driver_error(driver_message))
    assert type(err) is expected
    assert err is not None and words in err.message
    assert_plain(err.message)


def test_translate_error_leaves_unknown_errors_alone() -> None:
    assert translate_error(_driver_error("no such column: foo")) is None
    assert translate_error(ValueError("something else")) is None


def test_bad_values_are_not_reported_as_a_damaged_database(env: Env) -> None:
    """Real driver errors about a malformed *value*. Telling the clinic the database is damaged
    and to restore the latest backup would make them throw away everything entered since."""
    bad_value = {
        "sqlite": "SELECT json('{not json')",  # sqlite: "malformed JSON"
        "postgresql": "SELECT CAST('{F10.20' AS text[])",  # "malformed array literal"
    }[env.backend]
    with pytest.raises(Exception) as caught, env.db.session() as s:
        s.execute(text(bad_value))
    assert "malformed" in str(getattr(caught.value, "__cause__", None) or caught.value)
    assert not isinstance(caught.value, CorruptDatabaseError), caught.value
    assert row_counts(env.db)["client"] == 2  # and of course nothing was damaged


def test_disk_full_while_saving_loses_nothing(
    sqlite_template: tuple[Path, World], tmp_path: Path
) -> None:
    """A real SQLITE_FULL from the driver (the file may not grow), through a service call."""
    _, world = sqlite_template
    path = copy_db(sqlite_template[0], tmp_path)
    db = Database.open(DbTarget(path=path), key=TEST_KEY)
    try:
        admin, cid = world.admin, world.client_own
        chart = clients.open_chart(db, admin, cid)
        saved = clients.update_client(db, admin, cid, chart.client.version, {"city": "Dayton"})
        with db.engine.connect() as conn:
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

        @event.listens_for(db.engine, "connect")
        def _cap(dbapi_conn: object, _record: object) -> None:
            dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")  # type: ignore[attr-defined]

        db.engine.dispose()
        with pytest.raises(DiskFullError) as caught:
            clients.update_client(
                db, admin, cid, saved.version, {"address_line1": "x" * 400_000, "city": "Akron"}
            )
        assert "Everything saved before is safe" in caught.value.message
        event.remove(db.engine, "connect", _cap)
        db.engine.dispose()
        after = clients.open_chart(db, admin, cid).client
        assert (after.city, after.address_line1, after.version) == ("Dayton", "", saved.version)
    finally:
        db.close()


# -- (i) the migration builds exactly the models -------------------------------------------


def test_migration_creates_every_model_table(env: Env) -> None:
    with env.db.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert tables == set(SQLModel.metadata.tables) | {"alembic_version"}
    assert env.db.schema_revision() == runner.script().get_current_head()


def test_migrated_schema_matches_the_models(env: Env) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with env.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, SQLModel.metadata)
    assert diffs == []


def test_revision_constants_match_the_versions_folder() -> None:
    """An up-to-date database opens without importing Alembic, by comparing the stored
    revision with these constants; they must name exactly the migrations that ship."""
    from iopdesk import migrations

    script = runner.script()
    walked = [rev.revision for rev in script.walk_revisions()]  # newest first
    assert script.get_current_head() == migrations.HEAD
    assert list(migrations.REVISIONS) == list(reversed(walked))
    assert set(migrations.REVISIONS) == runner.known_revisions()


def test_opening_an_up_to_date_database_skips_alembic(tmp_path: Path) -> None:
    """Start-up cost: Alembic is imported only when a migration is due."""
    import subprocess
    import sys

    path = tmp_path / "clinic.db"
    Database.open(DbTarget(path=path), create=True, key=TEST_KEY).close()
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from iopdesk.db import Database, DbTarget\n"
        f"db = Database.open(DbTarget(path=Path({str(path)!r})), key={TEST_KEY!r})\n"
        "print(db.schema_revision(), 'alembic' in sys.modules)\n"
        "db.close()\n"
    )
    repo = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=repo, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    from iopdesk import migrations

    assert out.stdout.split() == [migrations.HEAD, "False"]
