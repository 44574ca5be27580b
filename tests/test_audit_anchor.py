"""The audit trail anchored outside the database (issue 17, "What was seen" 2 and 3): someone
with the database key (or the PostgreSQL owner password) drops the protection, deletes the
newest events and rewinds the head, rebuilds the chain after deleting a middle event, or
makes themselves an administrator. Each is detected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import select

from iopdesk.db import Database, DbTarget
from iopdesk.errors import AuthenticationError
from iopdesk.models import AuditEvent, AuditHead, Clinic
from iopdesk.services import audit, auth, backup, integrity
from tests.conftest import PASSWORD, TEST_KEY, Env
from tests.test_audit import add_events, last_id, remove_protection


def events(env: Env) -> list[dict[str, Any]]:
    with env.db.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM audit_event ORDER BY id"))
        return [dict(r) for r in rows.mappings()]


def orm_events(env: Env) -> list[AuditEvent]:
    with env.db.session() as s:
        return list(s.exec(select(AuditEvent).order_by(AuditEvent.id)).all())  # type: ignore[arg-type]


def the_key(env: Env) -> bytes:
    with env.db.session() as s:
        return integrity.clinic_keys(s).key


def rewind_head(env: Env, to_id: int, seal: bytes | None) -> None:
    """Point the head at event `to_id` (sealed with `seal` when the attacker has the key)."""
    row = next(e for e in events(env) if e["id"] == to_id)
    mac = integrity.head_mac(seal, to_id, row["mac"]) if seal else "0" * 64
    with env.db.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_head SET last_id = :i, last_mac = :m, head_mac = :h"),
            {"i": to_id, "m": row["mac"], "h": mac},
        )


def delete_newest(env: Env, keep: int) -> None:
    remove_protection(env)
    with env.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id > :k"), {"k": keep})


def rechain(env: Env, key: bytes, after_deleting: int, protected: bool = True) -> None:
    """Delete one event and rebuild every later one (renumbered, re-linked, re-MACed)."""
    if protected:
        remove_protection(env)
    rows = [e for e in orm_events(env) if e.id != after_deleting]
    with env.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id >= :k"), {"k": after_deleting})
    prev = next((e.mac for e in rows if e.id == after_deleting - 1), "")
    with env.db.session() as s:
        for new_id, row in enumerate(rows[after_deleting - 1 :], start=after_deleting):
            event = AuditEvent(**{**row.model_dump(), "id": new_id, "prev_mac": prev, "mac": ""})
            event.mac = audit.compute_mac(key, prev, event)
            s.add(event)
            prev = event.mac
    with env.db.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_head SET last_id = :i, last_mac = :m, head_mac = :h"),
            {"i": len(rows), "m": prev, "h": integrity.head_mac(key, len(rows), prev)},
        )


# -- where the key is -----------------------------------------------------------------------


def test_the_audit_key_is_not_in_the_database(env: Env) -> None:
    key = the_key(env)
    with env.db.session() as s:
        clinic = s.exec(select(Clinic)).one()
        assert clinic.audit_key is None
        stored = json.dumps({k: str(v) for k, v in clinic.model_dump().items()})
    assert key.hex() not in stored and str(key) not in stored
    if env.backend == "sqlite":  # derived from the database key, which is not in the file
        assert key == integrity.derive_audit_key(TEST_KEY)


def test_a_checkpoint_beside_the_database_follows_the_head(env: Env) -> None:
    n = add_events(env, 2)
    checkpoint = integrity.read_checkpoint(env.db.engine)
    assert checkpoint is not None and checkpoint.last_id == n
    assert checkpoint.genuine(the_key(env))
    if env.backend == "sqlite":
        assert env.db.path is not None
        assert integrity.checkpoint_path(env.db.engine).parent == env.db.path.parent
    result = audit.verify(env.db)
    assert result.ok and result.anchors_checked >= 1, result.message()


# -- tail truncation ------------------------------------------------------------------------


def test_tail_truncation_without_the_key_is_detected(env: Env) -> None:
    n = add_events(env, 5)
    delete_newest(env, n - 3)
    rewind_head(env, n - 3, seal=None)
    integrity.remove_checkpoint(env.db.engine)  # even with the checkpoint gone
    result = audit.verify(env.db)
    assert not result.ok and "chain head was changed outside IOPDesk" in result.problem


def test_tail_truncation_with_the_key_is_caught_by_the_checkpoint(env: Env) -> None:
    """The worst case: the attacker has the key and re-seals the rewound head."""
    n = add_events(env, 5)
    delete_newest(env, n - 3)
    rewind_head(env, n - 3, seal=the_key(env))
    result = audit.verify(env.db)
    assert not result.ok
    assert result.first_bad_id == n - 2
    assert f"newest events {n - 2} to {n} were deleted" in result.problem
    assert "checkpoint" in result.problem
    assert f"BROKEN at event {n - 2}" in result.message()


def test_tail_truncation_with_the_checkpoint_deleted_is_caught_by_a_backup(
    env: Env, tmp_path: Path
) -> None:
    if env.backend != "sqlite":
        pytest.skip("PostgreSQL backups are made on the server (pg_dump)")
    from iopdesk.services.clinic import set_setting

    set_setting(env.db, env.world.admin, "backup_folder", str(tmp_path / "backups"))
    add_events(env, 3)
    made = backup.create_backup(env.db, env.world.admin)
    head = json.loads(Path(str(made.path) + ".keyinfo").read_text())["audit_head"]
    n = last_id(env)
    assert head["last_id"] == n - 1  # the backup's own event comes after its snapshot
    delete_newest(env, n - 4)
    rewind_head(env, n - 4, seal=the_key(env))
    integrity.remove_checkpoint(env.db.engine)
    result = audit.verify(env.db)
    assert not result.ok
    assert "were deleted" in result.problem and f"backup {made.path}" in result.problem


def test_audit_verify_command_reports_deleted_newest_events(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if env.backend != "sqlite":
        pytest.skip("the command opens the local file; the service test covers PostgreSQL")
    from iopdesk import cli

    n = add_events(env, 4)
    delete_newest(env, n - 2)
    rewind_head(env, n - 2, seal=the_key(env))
    env.db.close()
    assert env.db.path is not None
    # the command opens the database with its keyinfo; the test file's key is "external"
    from iopdesk import secrets as keys

    info = keys.KeyInfo(method="external")
    monkeypatch.setattr(keys, "load_key", lambda _p, _pp: (TEST_KEY, info))
    monkeypatch.setenv("IOPDESK_PASSWORD", PASSWORD)
    code = cli.main(["--db", str(env.db.path), "--user", "admin", "audit", "verify"])
    out = capsys.readouterr().out
    assert code == 1
    # the sign-in of the command itself took number n - 1 again: the head is past it
    assert f"Audit log BROKEN at event {n}: the newest events {n} to {n} were deleted" in out
    assert "checkpoint" in out
    # Normal use goes on and new events pass the old numbers: the checkpoint is kept, and
    # the chain is reported as rewritten.
    db = Database.open(DbTarget(path=env.db.path), key=TEST_KEY)
    try:
        for _ in range(3):
            auth.login(db, "billing", PASSWORD)
        result = audit.verify(db)
        assert not result.ok and f"events up to {n} were rewritten" in result.problem
    finally:
        db.close()


# -- middle deletion with re-chaining ---------------------------------------------------------


def test_rechaining_without_the_key_is_detected(env: Env) -> None:
    """Before, the key was in `clinic.audit_key`; a guessed or old key does not fit."""
    n = add_events(env, 5)
    rechain(env, b"\x00" * 32, after_deleting=n - 3)
    result = audit.verify(env.db)
    assert not result.ok and result.first_bad_id == n - 3 and "altered" in result.problem


def test_rechaining_with_the_key_is_caught_by_the_checkpoint(env: Env) -> None:
    n = add_events(env, 5)
    rechain(env, the_key(env), after_deleting=n - 3)
    result = audit.verify(env.db)
    assert not result.ok, result.message()
    assert f"newest events {n} to {n} were deleted" in result.problem


# -- privileges changed in the database ---------------------------------------------------------


def test_role_escalation_in_the_database_is_detected(env: Env) -> None:
    with env.db.engine.begin() as conn:
        conn.execute(text("UPDATE app_user SET roles = 'admin' WHERE username = 'frontdesk'"))
    with pytest.raises(AuthenticationError) as caught:
        auth.login(env.db, "frontdesk", PASSWORD)
    assert "changed outside IOPDesk" in caught.value.message
    result = audit.verify(env.db)
    assert not result.ok
    assert "User account 'frontdesk'" in result.message() and "BROKEN" in result.message()
    with env.db.session() as s:
        refused = s.exec(
            select(AuditEvent).where(AuditEvent.detail == "privileges changed outside IOPDesk")
        ).all()
        assert [e.username for e in refused] == ["frontdesk"] and refused[0].flagged
    # Other accounts are not affected; an administrator sets the access again.
    auth.login(env.db, "billing", PASSWORD)
    info = next(u for u in auth.list_users(env.db, env.world.admin) if u.username == "frontdesk")
    auth.set_user_access(env.db, env.world.admin, info.id, info.version, roles=info.roles)
    auth.login(env.db, "frontdesk", PASSWORD)
    assert audit.verify(env.db).ok


@pytest.mark.parametrize(
    "column, value",
    [
        ("break_glass_allowed", True),
        ("totp_secret", "JBSWY3DPEHPK3PXP"),
        ("active", False),
        ("locked_until", None),
        ("staff_id", None),
    ],
)
def test_other_privilege_columns_are_sealed(env: Env, column: str, value: Any) -> None:
    user = "therapist"
    if column == "locked_until":  # unlocking a locked account by hand
        for _ in range(5):
            with pytest.raises(AuthenticationError):
                auth.login(env.db, user, "wrong password!!")
        value = None
    elif column == "active":
        user, value = "billing", True
        info = next(u for u in auth.list_users(env.db, env.world.admin) if u.username == user)
        auth.set_user_access(env.db, env.world.admin, info.id, info.version, active=False)
    with env.db.engine.begin() as conn:
        conn.execute(text(f"UPDATE app_user SET {column} = :v WHERE username = :u"),
                     {"v": value, "u": user})  # fmt: skip
    with pytest.raises(AuthenticationError):
        auth.login(env.db, user, PASSWORD)
    assert f"User account '{user}'" in audit.verify(env.db).message()


def test_a_user_inserted_in_the_database_cannot_sign_in(env: Env) -> None:
    with env.db.engine.begin() as conn:
        row = dict(
            conn.execute(text("SELECT * FROM app_user WHERE username = 'admin'")).mappings().one()
        )
        row.update(id=999, username="intruder")
        cols = ", ".join(row)
        conn.execute(text(f"INSERT INTO app_user ({cols}) VALUES (:{', :'.join(row)})"), row)
    with pytest.raises(AuthenticationError):
        auth.login(env.db, "intruder", PASSWORD)
    assert "'intruder'" in audit.verify(env.db).message()


def test_ordinary_changes_keep_accounts_sealed(env: Env) -> None:
    """Sign-in, lock-out, unlock, password change and 2FA changes all go through IOPDesk."""
    from iopdesk.services import breakglass

    for _ in range(2):
        with pytest.raises(AuthenticationError):
            auth.login(env.db, "therapist", "wrong password!!")
    actor = auth.login(env.db, "therapist", PASSWORD)
    auth.change_password(env.db, actor, PASSWORD, PASSWORD + "2")
    auth.reset_password(env.db, env.world.admin, actor.user_id, PASSWORD)
    breakglass.set_designated(env.db, env.world.admin, actor.user_id, True)
    with pytest.raises(auth.PasswordChangeRequired) as required:  # the reset must be replaced
        auth.login(env.db, "therapist", PASSWORD)
    auth.change_password(env.db, required.value.actor, PASSWORD, PASSWORD + "3")
    auth.login(env.db, "therapist", PASSWORD + "3")
    assert audit.verify(env.db).ok, audit.verify(env.db).message()


# -- a database from before: the key moves out of it --------------------------------------------


def make_legacy(env: Env, legacy: bytes) -> list[AuditEvent]:
    """Make the database look like one from before 0006: every event MACed with a key kept in
    `clinic.audit_key`, no head seal, no user seals."""
    remove_protection(env)
    rows = orm_events(env)
    with env.db.engine.begin() as conn:
        prev = ""
        for event in rows:
            event.prev_mac = prev
            event.mac = audit.compute_mac(legacy, prev, event)
            conn.execute(text("UPDATE audit_event SET prev_mac = :p, mac = :m WHERE id = :i"),
                         {"p": prev, "m": event.mac, "i": event.id})  # fmt: skip
            prev = event.mac
        conn.execute(text("UPDATE audit_head SET last_mac = :m, head_mac = ''"), {"m": prev})
        conn.execute(text("UPDATE clinic SET audit_key = :k, key_id = ''"), {"k": legacy})
        conn.execute(text("UPDATE app_user SET priv_mac = NULL"))
    return rows


def test_a_legacy_database_moves_its_key_out_and_keeps_old_events_verifiable(env: Env) -> None:
    """Make the database look like one from before 0006: every event MACed with a key kept in
    `clinic.audit_key`, no head seal, no user seals."""
    legacy = b"L" * 32
    rows = make_legacy(env, legacy)
    integrity.remove_checkpoint(env.db.engine)
    n = len(rows)
    result = audit.verify(env.db)  # first use: the key moves out
    assert result.ok, result.message()
    with env.db.session() as s:
        clinic = s.exec(select(Clinic)).one()
        assert clinic.audit_key is None and clinic.audit_legacy_last_id == n
        assert clinic.key_id == integrity.key_id_of(integrity.clinic_keys(s).key)
        head = s.get(AuditHead, 1)
        assert head is not None and head.head_mac
    auth.login(env.db, "frontdesk", PASSWORD)  # accounts were sealed as they stood
    add_events(env, 2)
    assert audit.verify(env.db).ok
    # an old event altered with the legacy key (which an old copy of the file reveals) and
    # re-chained is still caught: the first new event links to the old chain with the new key
    rechain(env, legacy, after_deleting=n - 1, protected=False)
    assert not audit.verify(env.db).ok


# -- PostgreSQL: the server holds no audit key; workstations join with the recovery key ------


@pytest.mark.pg
def test_postgres_workstation_joins_with_the_recovery_key(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from iopdesk.services import recovery
    from iopdesk.services.clinic import setup_clinic

    server = request.getfixturevalue("pg_server")
    name = f"join_{tmp_path.name[-12:]}".lower().replace("-", "_")
    server.create_database(name)
    url = server.url(name)
    first_pc = tmp_path / "first"
    monkeypatch.setenv("IOPDESK_CONFIG_DIR", str(first_pc / "config"))
    monkeypatch.setenv("IOPDESK_DATA_DIR", str(first_pc / "data"))
    db = Database.open(DbTarget(url=url))
    try:
        admin = setup_clinic(db, "Server Clinic", "boss", PASSWORD)
        kit = recovery.ensure_recovery_key(db)
        with db.session() as s:
            key = integrity.clinic_keys(s).key
            clinic = s.exec(select(Clinic)).one()
            assert clinic.recovery_wrapped and clinic.audit_key is None
        with db.engine.connect() as conn:  # nothing on the server holds the key
            dump = " ".join(
                str(v)
                for table in ("clinic", "audit_head", "app_user")
                for row in conn.execute(text(f"SELECT * FROM {table}")).all()
                for v in row
            )
        assert key.hex() not in dump
        assert list((first_pc / "config" / "clinic-keys").glob("*.key"))
        auth.logout(db, admin)
    finally:
        db.close()
    # A second workstation: no key, so it cannot write to the audit log (nor sign in).
    second_pc = tmp_path / "second"
    monkeypatch.setenv("IOPDESK_CONFIG_DIR", str(second_pc / "config"))
    monkeypatch.setenv("IOPDESK_DATA_DIR", str(second_pc / "data"))
    monkeypatch.delenv("IOPDESK_RECOVERY_KEY", raising=False)
    db = Database.open(DbTarget(url=url))
    try:
        with pytest.raises(integrity.ClinicKeyMissing) as caught:
            auth.login(db, "boss", PASSWORD)
        assert "IOPDESK_RECOVERY_KEY" in caught.value.message
    finally:
        db.close()
    monkeypatch.setenv("IOPDESK_RECOVERY_KEY", "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH")
    db = Database.open(DbTarget(url=url))
    try:
        with pytest.raises(Exception, match="recovery key does not open"):
            auth.login(db, "boss", PASSWORD)
    finally:
        db.close()
    monkeypatch.setenv("IOPDESK_RECOVERY_KEY", kit.key)
    db = Database.open(DbTarget(url=url))
    try:
        auth.login(db, "boss", PASSWORD)
        monkeypatch.delenv("IOPDESK_RECOVERY_KEY")
        assert audit.verify(db).ok
    finally:
        db.close()
    db = Database.open(DbTarget(url=url))  # joined: the key is kept on this workstation now
    try:
        auth.login(db, "boss", PASSWORD)
        assert audit.verify(db).ok
    finally:
        db.close()


def test_upgrading_a_0003_database_with_data_moves_the_key_out(env: Env) -> None:
    """The migration on a database with data in it, then the first use."""
    from alembic import command

    from iopdesk import migrations
    from iopdesk.migrations import runner

    add_events(env, 2)
    rows = make_legacy(env, b"M" * 32)
    integrity.remove_checkpoint(env.db.engine)
    cfg = runner.config()
    with env.db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003_attendance_covering")
        conn.commit()
    env.db.engine.dispose()
    assert runner.revisions(env.db.engine)[0] == "0003_attendance_covering"
    env.db.migrate()
    assert env.db.schema_revision() == migrations.HEAD
    result = audit.verify(env.db)
    assert result.ok and result.rows_checked == len(rows), result.message()
    with env.db.session() as s:
        assert s.exec(select(Clinic)).one().audit_key is None
    auth.login(env.db, "admin", PASSWORD)
    assert audit.verify(env.db).ok
