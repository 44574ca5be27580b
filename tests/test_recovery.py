"""Recovery kit and restore on a new PC (issue 17, "What was seen" 1): the steps of
docs/backups.md "The PC died", followed with the real command on fresh data folders, in
keyring mode (a file keyring from keyrings.alt stands in for the dead PC's and the new PC's
keyrings) and in passphrase mode (no keyring)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlmodel import select

from iopdesk import secrets as keys
from iopdesk.db import Database, DbTarget
from iopdesk.errors import PermissionDenied
from iopdesk.models import AuditEvent, Clinic
from iopdesk.services import audit, recovery
from tests.conftest import PASSWORD, Env

KEY_LINE = re.compile(r"^Recovery key: ((?:[A-Z2-7]{4}-){7}[A-Z2-7]{4})$", re.M)


class Pc:
    """One office PC: its own data folder and (optionally) its own keyring."""

    def __init__(self, root: Path, name: str, keyring_file: bool) -> None:
        self.home = root / name
        self.data = self.home / "data"
        self.keyring_path = self.home / "keyring.cfg" if keyring_file else None

    def use(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import keyring
        from keyring.backends import fail

        monkeypatch.setenv("IOPDESK_DATA_DIR", str(self.data))
        monkeypatch.setenv("IOPDESK_CONFIG_DIR", str(self.home / "config"))
        if self.keyring_path is None:
            keyring.set_keyring(fail.Keyring())
        else:
            from keyrings.alt.file import PlaintextKeyring

            kr = PlaintextKeyring()
            kr.file_path = str(self.keyring_path)  # type: ignore[misc]
            keyring.set_keyring(kr)

    @property
    def db(self) -> Path:
        return self.data / "iopdesk.db"


@pytest.fixture
def no_keyring_after() -> Iterator[None]:
    import keyring
    from keyring.backends import fail

    yield
    keyring.set_keyring(fail.Keyring())


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from iopdesk import cli

    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def old_pc_with_backup(
    pc: Pc, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[str, Path]:
    """Set up a clinic (init), add a client, back up; returns the recovery key and the backup."""
    from datetime import date

    from iopdesk.services import auth, clients

    pc.use(monkeypatch)
    monkeypatch.setenv("IOPDESK_PASSWORD", PASSWORD)
    code, out, err = run(capsys, "init", "--clinic-name", "Harbor IOP", "--admin", "boss")
    assert code == 0, err
    found = KEY_LINE.findall(out)
    assert len(found) == 1, out
    db = Database.open(DbTarget(path=pc.db))
    try:
        admin = auth.login(db, "boss", PASSWORD)
        clients.create_client(
            db, admin, clients.ClientInput("Rowan", "Beforecrash", date(1980, 3, 4))
        )
    finally:
        db.close()
    code, out, err = run(capsys, "--user", "boss", "backup")
    assert code == 0, err
    made = sorted((pc.data / "backups").glob("iopdesk-backup-*.db"))
    assert len(made) == 1
    info = json.loads(keys.keyinfo_path(made[0]).read_text())
    assert info["recovery"] and info["audit_head"]["last_id"] > 0
    assert found[0] not in keys.keyinfo_path(made[0]).read_text()  # the key is not written
    return found[0], made[0]


def copy_backups(backup: Path, usb: Path) -> Path:
    """What the IT contractor does: the backup drive (each .db with its .keyinfo)."""
    usb.mkdir(parents=True)
    for f in backup.parent.iterdir():
        shutil.copy2(f, usb / f.name)
    return usb / backup.name


def client_names(db: Database) -> list[str]:
    from iopdesk.models import Client

    with db.session() as s:
        return sorted(c.last_name for c in s.exec(select(Client)).all())


def test_the_pc_died_keyring_mode_restores_with_the_recovery_key(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_keyring_after: None,
) -> None:
    monkeypatch.delenv("IOPDESK_DB_PASSPHRASE", raising=False)
    old = Pc(tmp_path, "old-pc", keyring_file=True)
    recovery_key, backup = old_pc_with_backup(old, monkeypatch, capsys)
    assert json.loads(keys.keyinfo_path(old.db).read_text())["method"] == "keyring"
    usb_copy = copy_backups(backup, tmp_path / "usb")
    shutil.rmtree(old.home)  # the PC died: its disk and its keyring are gone

    new = Pc(tmp_path, "new-pc", keyring_file=True)
    new.use(monkeypatch)
    # Without the recovery key the backup cannot be opened: one plain line, nothing created.
    monkeypatch.delenv("IOPDESK_RECOVERY_KEY", raising=False)
    code, out, err = run(capsys, "restore", str(usb_copy))
    assert code == 2 and "recovery key" in err and "Traceback" not in err, err
    assert not new.db.exists()
    # A wrong key is refused the same way.
    monkeypatch.setenv("IOPDESK_RECOVERY_KEY", "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH")
    code, out, err = run(capsys, "restore", str(usb_copy))
    assert code == 2 and "recovery key does not open" in err, err
    assert not new.db.exists()
    # The documented step: the key as typed from the paper (lower case, spaces) works.
    monkeypatch.setenv("IOPDESK_RECOVERY_KEY", recovery_key.lower().replace("-", " "))
    code, out, err = run(capsys, "restore", str(usb_copy))
    assert code == 0, err
    assert "Audit log intact" in out and "keyring" in out, out
    monkeypatch.delenv("IOPDESK_RECOVERY_KEY")
    # Keyed for this PC: its keyring holds the key; the next start needs nothing typed.
    info = keys.read_keyinfo(new.db)
    assert info is not None and info.method == "keyring" and info.recovery
    assert keys.keyring_get(keys.KEYRING_SERVICE, str(new.db.resolve()))
    db = Database.open(DbTarget(path=new.db))
    try:
        assert client_names(db) == ["Beforecrash"]
        with db.session() as s:
            last = s.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()  # type: ignore[union-attr]
            assert last is not None and last.action == "restore" and last.flagged
            assert last.username == "restored with the recovery key"
    finally:
        db.close()
    code, out, err = run(capsys, "--user", "boss", "audit", "verify")
    assert code == 0 and "intact" in out, err
    # The recovery key still opens this database's next backups.
    code, out, err = run(capsys, "--user", "boss", "backup")
    assert code == 0, err
    newest = sorted((new.data / "backups").glob("iopdesk-backup-*.db"))[-1]
    info = keys.read_keyinfo(newest)
    assert info is not None
    assert keys.key_from_recovery(info, recovery_key) == keys.key_from_recovery(
        keys.read_keyinfo(usb_copy),
        recovery_key,  # type: ignore[arg-type]
    )


def test_the_pc_died_passphrase_mode(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_keyring_after: None,
) -> None:
    old = Pc(tmp_path, "old-pc", keyring_file=False)
    monkeypatch.setenv("IOPDESK_DB_PASSPHRASE", "clinic passphrase 2026")
    recovery_key, backup = old_pc_with_backup(old, monkeypatch, capsys)
    usb_copy = copy_backups(backup, tmp_path / "usb")
    shutil.rmtree(old.home)

    # With the passphrase (the documented step for a passphrase database).
    new = Pc(tmp_path, "new-pc", keyring_file=False)
    new.use(monkeypatch)
    monkeypatch.delenv("IOPDESK_RECOVERY_KEY", raising=False)
    monkeypatch.setenv("IOPDESK_DB_PASSPHRASE", "not the passphrase")
    code, out, err = run(capsys, "restore", str(usb_copy))
    assert code == 2 and "passphrase is not correct" in err, err
    assert not new.db.exists()
    monkeypatch.setenv("IOPDESK_DB_PASSPHRASE", "clinic passphrase 2026")
    monkeypatch.setenv("IOPDESK_PASSWORD", "not the password")  # --user: checked on the backup
    code, out, err = run(capsys, "--user", "boss", "restore", str(usb_copy))
    assert code == 2 and "not correct" in err and not new.db.exists(), err
    monkeypatch.setenv("IOPDESK_PASSWORD", PASSWORD)
    code, out, err = run(capsys, "--user", "boss", "restore", str(usb_copy))
    assert code == 0 and "Audit log intact" in out, err
    code, out, err = run(capsys, "--user", "boss", "audit", "verify")
    assert code == 0, err
    db = Database.open(DbTarget(path=new.db))
    assert client_names(db) == ["Beforecrash"]
    db.close()

    # The passphrase was forgotten: the recovery key opens the backup and a new passphrase
    # protects the restored database from then on.
    third = Pc(tmp_path, "third-pc", keyring_file=False)
    third.use(monkeypatch)
    monkeypatch.setenv("IOPDESK_RECOVERY_KEY", recovery_key)
    monkeypatch.setenv("IOPDESK_DB_PASSPHRASE", "a brand new passphrase")
    code, out, err = run(capsys, "restore", str(usb_copy))
    assert code == 0 and "Audit log intact" in out, err
    monkeypatch.delenv("IOPDESK_RECOVERY_KEY")
    code, out, err = run(capsys, "--user", "boss", "audit", "verify")
    assert code == 0, err
    monkeypatch.setenv("IOPDESK_DB_PASSPHRASE", "clinic passphrase 2026")
    code, out, err = run(capsys, "--user", "boss", "audit", "verify")
    assert code == 2 and "passphrase is not correct" in err


def test_restore_after_init_on_the_new_pc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 17, seen 1: `init` with the same passphrase, then `restore` said 'cannot be opened
    with this database's key'. Now the backup's own key information opens it."""
    old = Pc(tmp_path, "old-pc", keyring_file=False)
    monkeypatch.setenv("IOPDESK_DB_PASSPHRASE", "same passphrase 99")
    _key, backup = old_pc_with_backup(old, monkeypatch, capsys)
    new = Pc(tmp_path, "new-pc", keyring_file=False)
    new.use(monkeypatch)
    code, out, err = run(capsys, "init", "--clinic-name", "Oops", "--admin", "boss")
    assert code == 0, err
    code, out, err = run(capsys, "--user", "boss", "restore", str(backup))
    assert code == 0, err
    assert "kept as" in out and "Audit log intact" in out
    db = Database.open(DbTarget(path=new.db))
    assert client_names(db) == ["Beforecrash"]
    db.close()
    aside = next(p for p in new.data.glob("iopdesk.db.before-restore-*") if p.suffix != ".keyinfo")
    assert keys.keyinfo_path(aside).is_file()  # the replaced database still opens
    Database.open(DbTarget(path=aside), migrate=False).close()


def test_a_backup_without_its_key_information_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lonely = tmp_path / "lonely.db"
    lonely.write_bytes(b"x" * 4096)
    monkeypatch.setenv("IOPDESK_RECOVERY_KEY", keys.generate_recovery_key())
    code, _, err = run(capsys, "--db", str(tmp_path / "new.db"), "restore", str(lonely))
    assert code == 2 and "lonely.db.keyinfo" in err and "copy both files" in err
    assert not (tmp_path / "new.db").exists()


def test_recovery_key_format_and_typing() -> None:
    key = keys.generate_recovery_key()
    assert re.fullmatch(r"(?:[A-Z2-7]{4}-){7}[A-Z2-7]{4}", key)
    assert keys.generate_recovery_key() != key
    raw = keys.normalize_recovery_key(key)
    assert keys.normalize_recovery_key(key.lower().replace("-", " ")) == raw
    typo = key.replace("O", "0").replace("I", "1").replace("B", "8")
    assert keys.normalize_recovery_key(typo) == raw
    for bad in ("", key[:-1], key + "A", "correct horse battery staple"):
        with pytest.raises(keys.WrongKeyError):
            keys.normalize_recovery_key(bad)


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_recovery_kit_printed_again_by_an_administrator(env: Env, tmp_path: Path) -> None:
    """A database made before the recovery kit existed gets its key from `recovery-kit`;
    printing again shows the same key; only administrators; every print is audited."""
    db, w = env.db, env.world
    assert not recovery.has_recovery_key(db)
    with pytest.raises(PermissionDenied):
        recovery.print_kit(db, w.supervisor, tmp_path / "kit.pdf")
    assert not (tmp_path / "kit.pdf").exists()
    first = recovery.print_kit(db, w.admin, tmp_path / "kit.pdf")
    assert first.created
    text = pdf_text(tmp_path / "kit.pdf")
    for words in (
        "IOPDesk recovery kit",
        "Test Clinic",
        first.key,
        first.recovery_id,
        "What it is for",
        "Where to keep it",
        db.describe().split()[0],
    ):
        assert words in text, words
    again = recovery.print_kit(db, w.admin, tmp_path / "again.pdf")
    assert not again.created and again.key == first.key
    with db.session() as s:
        clinic = s.exec(select(Clinic)).one()
        assert first.key not in json.dumps(
            {k: str(v) for k, v in clinic.model_dump().items()}
        )  # only a sealed copy is stored
        printed = s.exec(select(AuditEvent).where(AuditEvent.action == "recovery_kit")).all()
    assert [e.flagged for e in printed] == [True, True, True]  # made, printed, printed again
    assert audit.verify(db).ok
    if env.backend == "sqlite":
        assert db.path is not None
        info = keys.read_keyinfo(db.path)
        assert info is not None and keys.key_from_recovery(info, first.key)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(tmp_path / "kit.pdf"),
         "/tmp/recovery-kit"],
        check=False,
    )  # fmt: skip


def test_cli_recovery_kit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IOPDESK_DB_PASSPHRASE", "cli kit passphrase")
    monkeypatch.setenv("IOPDESK_PASSWORD", PASSWORD)
    dbfile = tmp_path / "clinic.db"
    kit = tmp_path / "setup-kit.pdf"
    code, out, err = run(
        capsys, "--db", str(dbfile), "init", "--clinic-name", "Kit Clinic", "--admin", "boss",
        "--recovery-kit", str(kit),
    )  # fmt: skip
    assert code == 0, err
    key = KEY_LINE.findall(out)[0]
    assert key in pdf_text(kit)
    code, out, err = run(
        capsys, "--db", str(dbfile), "--user", "boss", "recovery-kit", "-o", str(tmp_path / "k.pdf")
    )
    assert code == 0 and "Wrote the recovery kit" in out, err
    assert key in pdf_text(tmp_path / "k.pdf")
    code, out, err = run(
        capsys, "--db", str(dbfile), "--user", "boss", "recovery-kit", "-o", str(tmp_path / "k.txt")
    )
    assert code == 2 and ".pdf" in err


def test_a_lost_kit_is_replaced_by_a_new_key(env: Env, tmp_path: Path) -> None:
    if env.backend != "sqlite":
        pytest.skip("the database key is wrapped beside a local database")
    db = env.db
    assert db.path is not None
    first = recovery.print_kit(db, env.world.admin, tmp_path / "a.pdf")
    second = recovery.print_kit(db, env.world.admin, tmp_path / "b.pdf", new=True)
    assert second.created and second.key != first.key
    info = keys.read_keyinfo(db.path)
    assert info is not None and keys.key_from_recovery(info, second.key)
    with pytest.raises(keys.WrongKeyError):
        keys.key_from_recovery(info, first.key)
    assert recovery.ensure_recovery_key(db).key == second.key


def test_the_pc_died_with_the_real_command(tmp_path: Path) -> None:
    """The documented commands in real processes: keyring mode (a file keyring from
    keyrings.alt per PC, chosen by PYTHON_KEYRING_BACKEND), `--db PATH` on the new PC."""
    from tests.test_cli import iopdesk

    def pc(name: str) -> dict[str, str | None]:
        return {
            "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
            "XDG_DATA_HOME": str(tmp_path / name / "xdg"),
            "IOPDESK_DB_PASSPHRASE": None,
        }

    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    made = iopdesk(old, "init", "--clinic-name", "Harbor", "--admin", "boss", **pc("old"))
    assert made.returncode == 0, made.stderr
    assert "system keyring" in made.stdout
    key = KEY_LINE.findall(made.stdout)[0]
    done = iopdesk(
        old, "--user", "boss", "backup", "-o", str(tmp_path / "usb" / "b.db"), **pc("old")
    )
    assert done.returncode == 0, done.stderr
    shutil.rmtree(old)

    db = new / "clinic" / "iopdesk.db"
    refused = iopdesk(new, "--db", str(db), "restore", str(tmp_path / "usb" / "b.db"), **pc("new"))
    assert refused.returncode == 2 and "recovery key" in refused.stderr
    assert "Traceback" not in refused.stderr and not db.exists()
    restored = iopdesk(
        new, "--db", str(db), "restore", str(tmp_path / "usb" / "b.db"),
        IOPDESK_RECOVERY_KEY=key, **pc("new"),
    )  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    assert "Restored" in restored.stdout and "Audit log intact" in restored.stdout
    verify = iopdesk(new, "--db", str(db), "--user", "boss", "audit", "verify", **pc("new"))
    assert verify.returncode == 0 and "intact" in verify.stdout, verify.stderr
