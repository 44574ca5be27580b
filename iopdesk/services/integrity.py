"""The clinic audit key and the anchors that keep the audit trail honest outside the database.

Where the audit key lives (never in the database):
- Local database: derived from the database key (HMAC-SHA256 with a fixed label). Whoever can
  open the database file can also derive it; the anchors below are what catch a rewind.
- PostgreSQL: a random key made at set-up and kept on each workstation (its system keyring,
  else a file in the workstation's configuration folder readable only by that computer
  account). The server holds only its fingerprint (`clinic.key_id`) and a copy wrapped by the
  recovery key, so a new workstation joins with the recovery key (`IOPDESK_RECOVERY_KEY`). A
  person with the PostgreSQL owner password therefore cannot forge events, chain heads or user
  privileges.

What the key protects, besides each event's MAC (services/audit.py):
- `audit_head.head_mac`: the chain head carries its own MAC, so rewinding it needs the key.
- Checkpoints: after every commit that added events, the head is written to a checkpoint file
  beside the local database (on PostgreSQL, in this workstation's data folder). Every backup's
  key information records the head too. `audit verify` reports deleted newest events when any
  checkpoint or backup holds a later head than the database, or a different event at its id.
- `app_user.priv_mac`: roles, active, emergency-access designation, two-factor secret, lock
  state, password hash and staff link of each account. A session flush re-seals a changed
  account only when its stored seal was valid (or an administrator set its access through
  IOPDesk), so an account changed directly in the database stays broken: it cannot sign in and
  `audit verify` names it.

A database from before this scheme kept its key in `clinic.audit_key`: at the first use it is
moved out (epoch): the old key is kept wrapped by the new one for the events it MACed, the
plaintext column is emptied, the head is sealed and every account is sealed as it stands.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import bindparam, event, inspect
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

from iopdesk import paths
from iopdesk import secrets as keys
from iopdesk.errors import DatabaseError
from iopdesk.models import AuditEvent, AuditHead, Clinic, User, utcnow

log = logging.getLogger(__name__)

LEGACY_AAD = b"iopdesk-legacy-audit-key-v1"
CLINIC_KEY_AAD = b"iopdesk-clinic-audit-key-v1"
RECOVERY_SEAL_AAD = b"iopdesk-recovery-key-seal-v1"
RESEAL = "iopdesk_reseal_users"
SEALED_FIELDS = (
    "username",
    "roles",
    "active",
    "break_glass_allowed",
    "totp_secret",
    "locked_until",
    "password_hash",
    "staff_id",
)


class ClinicKeyMissing(DatabaseError):
    title = "This workstation needs the recovery key"


@dataclass(frozen=True)
class ClinicKeys:
    key: bytes
    key_id: str
    legacy_key: bytes | None
    legacy_last_id: int

    def for_event(self, event_id: int) -> bytes:
        if self.legacy_key is not None and event_id <= self.legacy_last_id:
            return self.legacy_key
        return self.key


_cache: WeakKeyDictionary[Engine, ClinicKeys] = WeakKeyDictionary()


def key_id_of(key: bytes) -> str:
    return hmac.new(key, b"iopdesk-key-id-v1", hashlib.sha256).hexdigest()[:24]


def sqlite_db_key(engine: Engine) -> bytes | None:
    match = re.fullmatch(r"x'([0-9a-fA-F]+)'", str(engine.url.password or ""))
    return bytes.fromhex(match.group(1)) if match else None


def derive_audit_key(db_key: bytes) -> bytes:
    return hmac.new(db_key, b"iopdesk-audit-key-v1", hashlib.sha256).digest()


def clinic_keys(session: Session) -> ClinicKeys:
    """The audit key of the database behind `session` (moving a legacy key out on first use)."""
    found = maybe_clinic_keys(session)
    if found is None:
        raise DatabaseError("The clinic has not been set up yet (run the first-start setup).")
    return found


def maybe_clinic_keys(session: Session) -> ClinicKeys | None:
    engine = engine_of(session)
    with session.no_autoflush:
        row = session.exec(
            select(Clinic.id, Clinic.key_id, Clinic.audit_legacy_key).limit(1)
        ).first()
        if row is None:
            return None
        cached = _cache.get(engine)
        if cached is not None and row[1] and cached.key_id == row[1]:
            return cached
        clinic = session.get(Clinic, row[0])
        assert clinic is not None
        key = _find_key(engine, clinic)
        if not clinic.key_id:
            _adopt(session, clinic, key, engine)
        elif not hmac.compare_digest(key_id_of(key), clinic.key_id):
            raise DatabaseError(
                "The audit key on this computer does not belong to this database, so its "
                "audit trail cannot be checked or extended. Nothing was changed."
            )
    legacy = (
        keys.unwrap(key, clinic.audit_legacy_key, LEGACY_AAD) if clinic.audit_legacy_key else None
    )
    result = ClinicKeys(key, clinic.key_id, legacy, clinic.audit_legacy_last_id)
    _cache[engine] = result  # re-checked against the stored key_id at every use
    return result


def _find_key(engine: Engine, clinic: Clinic) -> bytes:
    if engine.dialect.name == "sqlite":
        db_key = sqlite_db_key(engine)
        if db_key is None:
            raise DatabaseError("The database key is not available to the audit log.")
        return derive_audit_key(db_key)
    if not clinic.key_id:
        return secrets.token_bytes(keys.KEY_BYTES)  # a new clinic, or moving a legacy key out
    stored = keys.load_clinic_key(clinic.key_id)
    if stored is not None:
        return stored
    typed = os.environ.get(keys.RECOVERY_ENV, "").strip()
    if typed and clinic.recovery_wrapped:
        joined = keys.unwrap_with_recovery(typed, clinic.recovery_wrapped, CLINIC_KEY_AAD)
        if key_id_of(joined) == clinic.key_id:
            keys.store_clinic_key(clinic.key_id, joined)
            log.info("this workstation joined the clinic with the recovery key")
            return joined
    raise ClinicKeyMissing(
        "This workstation does not hold the clinic's audit key yet, so it cannot write to the "
        "audit log. An administrator joins it once with the clinic's recovery key: set "
        "IOPDESK_RECOVERY_KEY and run `iopdesk --db URL --user ADMIN audit verify` (see "
        "docs/security.md). Nothing was changed."
    )


def _adopt(session: Session, clinic: Clinic, key: bytes, engine: Engine) -> None:
    """A new clinic, or one whose key was stored in the database: seal everything with `key`."""
    head = session.get(AuditHead, 1)
    if clinic.audit_key:
        clinic.audit_legacy_key = keys.wrap(key, bytes(clinic.audit_key), LEGACY_AAD)
        clinic.audit_legacy_last_id = head.last_id if head else 0
        clinic.audit_key = None
        log.info("moved the audit key out of the database (legacy events kept verifiable)")
    clinic.key_id = key_id_of(key)
    session.add(clinic)
    if head is not None:
        head.head_mac = head_mac(key, head.last_id, head.last_mac)
        session.add(head)
    reseal = session.info.setdefault(RESEAL, set())
    for user in session.exec(select(User)).all():
        user.priv_mac = seal_user(key, _current(user))
        reseal.add(user.id)
        session.add(user)
    if engine.dialect.name != "sqlite":
        keys.store_clinic_key(clinic.key_id, key)


# -- the chain head -----------------------------------------------------------------------------


def head_mac(key: bytes, last_id: int, last_mac: str) -> str:
    msg = f"iopdesk-audit-head\x1e{last_id}\x1e{last_mac}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Anchor:
    """A chain head recorded outside the database (a checkpoint file or a backup)."""

    source: str
    last_id: int
    last_mac: str
    head_mac: str
    key_id: str
    at: datetime | None

    def genuine(self, key: bytes) -> bool:
        return hmac.compare_digest(head_mac(key, self.last_id, self.last_mac), self.head_mac)


def head_record(keys_: ClinicKeys, last_id: int, last_mac: str) -> dict[str, Any]:
    return {
        "key_id": keys_.key_id,
        "last_id": last_id,
        "last_mac": last_mac,
        "head_mac": head_mac(keys_.key, last_id, last_mac),
        "at": utcnow().isoformat(timespec="seconds"),
    }


def anchor_from(source: str, data: dict[str, Any]) -> Anchor | None:
    try:
        at = datetime.fromisoformat(str(data["at"])) if data.get("at") else None
        return Anchor(
            source,
            int(data["last_id"]),
            str(data["last_mac"]),
            str(data["head_mac"]),
            str(data.get("key_id", "")),
            at,
        )
    except (KeyError, TypeError, ValueError):
        return None


def checkpoint_path(engine: Engine) -> Path:
    """Beside a local database; for a PostgreSQL database, in this workstation's data folder."""
    if engine.dialect.name == "sqlite":
        return file_checkpoint_path(Path(str(engine.url.database)))
    url = engine.url
    account = f"{url.username}@{url.host or 'localhost'}_{url.port or 5432}_{url.database}"
    safe = re.sub(r"[^A-Za-z0-9@._-]", "_", account)
    return paths.data_dir() / "audit-checkpoints" / f"{safe}.json"


def file_checkpoint_path(db_file: Path) -> Path:
    return db_file.with_name(db_file.name + ".auditcheckpoint")


# The checkpoint is written in place as one block of this many bytes (the JSON record padded
# with spaces): one write, no new file and rename per commit. A create-and-rename costs a
# journal flush on ext4 (~3 ms here), which every audited save paid.
CHECKPOINT_BYTES = 512

# Per engine: where its checkpoint lives, and the bytes of that file this process last read or
# wrote with what they parse to. The file is still read at every use (a few microseconds): an
# unchanged file is recognised by its bytes, not by its timestamps, so another process's write
# within the same clock tick is never mistaken for ours.
_paths: WeakKeyDictionary[Engine, Path] = WeakKeyDictionary()
_seen: WeakKeyDictionary[Engine, tuple[bytes, Anchor | None]] = WeakKeyDictionary()


def _path_of(engine: Engine) -> Path:
    path = _paths.get(engine)
    if path is None:
        path = _paths[engine] = checkpoint_path(engine)
    return path


def _parse(path: Path, data: bytes) -> Anchor | None:
    try:
        parsed = json.loads(data)
    except ValueError:
        return None
    return anchor_from(f"checkpoint {path}", parsed) if isinstance(parsed, dict) else None


def read_checkpoint(engine: Engine) -> Anchor | None:
    path = _path_of(engine)
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 16)
    except OSError:
        return None
    seen = _seen.get(engine)
    if seen is not None and seen[0] == data:
        return seen[1]
    anchor = _parse(path, data)
    _seen[engine] = (data, anchor)
    return anchor


def read_checkpoint_file(path: Path) -> Anchor | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return anchor_from(f"checkpoint {path}", data) if isinstance(data, dict) else None


# Two of this process's threads committing at once must not write an older head after a newer.
_write_lock = threading.Lock()


def write_checkpoint(engine: Engine, record: dict[str, Any], *, force: bool = False) -> None:
    """Record the head beside the database; never moves an existing checkpoint backwards."""
    with _write_lock:
        _write_checkpoint(engine, record, force)


def _write_checkpoint(engine: Engine, record: dict[str, Any], force: bool) -> None:
    current = read_checkpoint(engine)
    if (
        not force
        and current is not None
        and current.key_id == record["key_id"]
        and current.last_id >= int(record["last_id"])
    ):
        return
    path = _path_of(engine)
    data = json.dumps(record).encode("utf-8").ljust(CHECKPOINT_BYTES)
    try:
        try:
            with open(path, "r+b") as f:  # in place: one write of one block
                f.write(data)
                f.truncate()
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
    except OSError:
        log.warning("could not write the audit checkpoint beside the database")
        return
    _seen[engine] = (data, _parse(path, data))


def remove_checkpoint(engine: Engine) -> None:
    _seen.pop(engine, None)
    checkpoint_path(engine).unlink(missing_ok=True)


_HEAD = "iopdesk_head"
_HEAD_START = "iopdesk_head_start"
_EVENT_MAC = sa_select(AuditEvent.__table__.c.mac).where(  # type: ignore[attr-defined]
    AuditEvent.__table__.c.id == bindparam("id")  # type: ignore[attr-defined]
)


def engine_of(session: Session | OrmSession) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def cached_keys(engine: Engine, key_id: str | None) -> ClinicKeys | None:
    """The keys this process already holds for `engine`, if the stored key_id still names them."""
    cached = _cache.get(engine)
    return cached if cached is not None and key_id and cached.key_id == key_id else None


def note_head(
    session: Session, keys_: ClinicKeys, last_id: int, last_mac: str, before: tuple[int, str]
) -> str:
    """The head's seal for this transaction; the checkpoint is written once it commits.
    `before` is the head this session's first event linked to."""
    record = head_record(keys_, last_id, last_mac)
    session.info[_HEAD] = record
    session.info.setdefault(_HEAD_START, before)
    return str(record["head_mac"])


@event.listens_for(OrmSession, "before_commit")
def _before_commit(session: OrmSession) -> None:
    """Never overwrite the evidence: a checkpoint whose event is not in this chain (the tail was
    deleted and new events took its numbers) is left for `audit verify` to report."""
    record = session.info.get(_HEAD)
    if record is None:
        return
    current = read_checkpoint(engine_of(session))
    if current is None or current.key_id != record["key_id"]:
        return
    if current.last_id > int(record["last_id"]):
        return  # write_checkpoint keeps the later one
    if session.info.get(_HEAD_START) == (current.last_id, current.last_mac):
        # The head this transaction locked is the checkpoint's event, and the first new event
        # links to its MAC: if that row were not in the chain, the new link would break and
        # verify would report it there. No need to read the row.
        return
    mac = session.execute(_EVENT_MAC, {"id": current.last_id}).scalar()
    if mac != current.last_mac:
        session.info[_HEAD] = None
        log.warning("the audit checkpoint does not match this chain; kept for audit verify")


@event.listens_for(OrmSession, "after_commit")
def _after_commit(session: OrmSession) -> None:
    session.info.pop(_HEAD_START, None)
    record = session.info.pop(_HEAD, None)
    if record is not None:
        write_checkpoint(engine_of(session), record)


@event.listens_for(OrmSession, "after_rollback")
def _after_rollback(session: OrmSession) -> None:
    session.info.pop(_HEAD, None)
    session.info.pop(_HEAD_START, None)


# -- users' privilege seal ------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _current(user: User) -> dict[str, Any]:
    return {name: getattr(user, name) for name in SEALED_FIELDS}


def seal_user(key: bytes, values: dict[str, Any]) -> str:
    parts = []
    for name in SEALED_FIELDS:
        value = values.get(name)
        if name == "totp_secret":  # the seal must not help anyone guess the secret
            value = hashlib.sha256(value.encode()).hexdigest() if value else ""
        if name == "roles":
            value = ",".join(sorted(r.strip() for r in str(value or "").split(",") if r.strip()))
        if name == "username":
            value = str(value or "").lower()
        parts.append(f"{name}={_text(value)}")
    msg = ("iopdesk-user-privileges-v1\x1e" + "\x1e".join(parts)).encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def user_seal_ok(key: bytes, user: User) -> bool:
    return bool(user.priv_mac) and hmac.compare_digest(
        seal_user(key, _current(user)), str(user.priv_mac)
    )


def allow_reseal(session: Session, user_id: int) -> None:
    """An administrator sets this account's access through IOPDesk: seal it as it now is."""
    session.info.setdefault(RESEAL, set()).add(user_id)


def reseal_user(session: Session, user: User) -> None:
    """Seal an account as it now stands (after an administrator set its access, or after a
    direct SQL UPDATE made by IOPDesk itself)."""
    allow_reseal(session, user.id or 0)
    user.priv_mac = seal_user(clinic_keys(session).key, _current(user))
    session.add(user)


def _original(user: User) -> dict[str, Any]:
    state = inspect(user)
    values = {}
    for name in SEALED_FIELDS:
        hist = state.attrs[name].history
        values[name] = hist.deleted[0] if hist.deleted else getattr(user, name)
    return values


@event.listens_for(OrmSession, "before_flush")
def _seal_users(session: OrmSession, _ctx: Any, _instances: Any) -> None:
    users_new = [o for o in session.new if isinstance(o, User)]
    users_dirty = [
        o
        for o in session.dirty
        if isinstance(o, User)
        and any(inspect(o).attrs[name].history.has_changes() for name in SEALED_FIELDS)
    ]
    if not users_new and not users_dirty:
        return
    found = maybe_clinic_keys(session)  # type: ignore[arg-type]
    if found is None:  # no clinic yet: nothing to seal with
        return
    key = found.key
    reseal = session.info.get(RESEAL, set())
    for user in users_new:
        user.priv_mac = seal_user(key, _current(user))
    for user in users_dirty:
        original_ok = bool(user.priv_mac) and hmac.compare_digest(
            seal_user(key, _original(user)), str(user.priv_mac)
        )
        if original_ok or user.id in reseal:
            user.priv_mac = seal_user(key, _current(user))
        # else: changed outside IOPDesk before; it stays unsealed until an administrator
        # sets its access again (services.auth.set_user_access).


def broken_users(session: Session, key: bytes) -> list[tuple[int, str]]:
    return [
        (u.id or 0, u.username)
        for u in session.exec(select(User).order_by(User.id)).all()  # type: ignore[arg-type]
        if not user_seal_ok(key, u)
    ]


# -- the recovery key's sealed copy ----------------------------------------------------------


def seal_recovery(key: bytes, recovery_key: str) -> str:
    return keys.wrap(key, recovery_key.encode("ascii"), RECOVERY_SEAL_AAD)


def unseal_recovery(key: bytes, sealed: str) -> str:
    return keys.unwrap(key, sealed, RECOVERY_SEAL_AAD).decode("ascii")
