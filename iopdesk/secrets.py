"""One interface for secrets: the local database key and the PostgreSQL password.

Keys live in the OS keyring when it has a backend. When it has none (a bare Linux box, some
locked-down Windows images) the local database key is derived from a passphrase the user types,
with Argon2id and a random salt. Either way the key itself is never written to disk in the
clear. The `.keyinfo` file beside the database says *where* the key is kept (with the salt and
a check value that tells a wrong passphrase apart from a damaged file), and holds the key
*wrapped* (AES-256-GCM) by the clinic's recovery key: the database and every backup (each
backup carries a copy of the key information) open on a new PC with the recovery key printed
on the recovery kit. A database restored with the recovery key on a PC without a keyring keeps
its key wrapped by the new passphrase (`wrapped`).

The recovery key is 160 random bits written as 8 groups of 4 base32 characters; typing is
forgiving (case, spaces, dashes, 0/O, 1/I and 8/B are all accepted).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from iopdesk.errors import DatabaseError, WrongKeyError

KEYRING_SERVICE = "IOPDesk"
PG_KEYRING_SERVICE = "IOPDesk PostgreSQL"
CLINIC_KEYRING_SERVICE = "IOPDesk clinic audit key"
RECOVERY_BYTES = 20
RECOVERY_ENV = "IOPDESK_RECOVERY_KEY"
KEY_BYTES = 32

# Argon2id parameters for passphrase-derived keys (RFC 9106 second recommendation).
KDF_TIME_COST = 3
KDF_MEMORY_KIB = 64 * 1024
KDF_PARALLELISM = 4

PassphraseProvider = Callable[[bool], str]
"""Called with creating=True when a new passphrase must be chosen; returns the passphrase."""


class NoPassphraseError(DatabaseError):
    title = "Passphrase needed"


def keyring_available() -> bool:
    """True when the OS keyring has a usable backend."""
    try:
        import keyring
        from keyring.backends import fail

        return not isinstance(keyring.get_keyring(), fail.Keyring)
    except Exception:
        return False


def keyring_backend_name() -> str:
    try:
        import keyring

        backend = keyring.get_keyring()
        return getattr(backend, "name", type(backend).__name__)
    except Exception:
        return "none"


def keyring_get(service: str, account: str) -> str | None:
    import keyring
    from keyring.errors import KeyringError, NoKeyringError

    try:
        return keyring.get_password(service, account)
    except NoKeyringError:
        return None
    except KeyringError:
        return None


def keyring_set(service: str, account: str, value: str) -> bool:
    """Store a secret; False when there is no keyring backend (the caller falls back)."""
    import keyring
    from keyring.errors import KeyringError, NoKeyringError

    try:
        keyring.set_password(service, account, value)
    except (NoKeyringError, KeyringError):
        return False
    return keyring.get_password(service, account) == value


def derive_key(passphrase: str, salt: bytes) -> bytes:
    from argon2.low_level import Type, hash_secret_raw

    return hash_secret_raw(
        passphrase.encode("utf-8"),
        salt,
        time_cost=KDF_TIME_COST,
        memory_cost=KDF_MEMORY_KIB,
        parallelism=KDF_PARALLELISM,
        hash_len=KEY_BYTES,
        type=Type.ID,
    )


def _check_value(key: bytes) -> str:
    return hmac.new(key, b"iopdesk-key-check-v1", hashlib.sha256).hexdigest()


@dataclass
class KeyInfo:
    """Where a local database's key is kept (never the key itself)."""

    method: str  # "keyring" | "passphrase" | "external"
    account: str = ""
    salt: str = ""
    check: str = ""
    # Passphrase mode after a restore: the key wrapped by the passphrase-derived key.
    wrapped: str = ""
    # The key wrapped by the recovery key, and the recovery key's fingerprint.
    recovery: str = ""
    recovery_id: str = ""
    # A backup's copy only: the audit chain head at the time of the backup (see
    # services/integrity.py); not secret, sealed with the audit key.
    audit_head: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        if self.method == "keyring":
            return f"Database key kept in the system keyring ({keyring_backend_name()})."
        if self.method == "external":
            return "Database key supplied by the caller."
        return "Database key protected by a passphrase (no system keyring on this computer)."


def keyinfo_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".keyinfo")


def read_keyinfo(db_path: Path) -> KeyInfo | None:
    path = keyinfo_path(db_path)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        values: dict[str, Any] = {
            k: (v if k == "audit_head" else str(v))
            for k, v in data.items()
            if k in KeyInfo.__annotations__
        }
        if not isinstance(values.get("audit_head", {}), dict):
            values["audit_head"] = {}
        return KeyInfo(**values)
    except (ValueError, TypeError, AttributeError) as exc:
        raise DatabaseError(
            f"The key information file {path.name} beside the database is damaged. "
            "Restore it from a backup, or restore the database from a backup."
        ) from exc


def write_keyinfo(db_path: Path, info: KeyInfo) -> None:
    path = keyinfo_path(db_path)
    tmp = path.with_name(path.name + ".tmp")
    data = {k: v for k, v in asdict(info).items() if v not in ("", {})}
    data["method"] = info.method
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def create_key(
    db_path: Path, passphrase_provider: PassphraseProvider | None, use_keyring: bool = True
) -> tuple[bytes, KeyInfo]:
    """Make the key for a new local database and record where it is kept."""
    account = str(db_path.resolve())
    if use_keyring and keyring_available():
        key = secrets.token_bytes(KEY_BYTES)
        if keyring_set(KEYRING_SERVICE, account, key.hex()):
            info = KeyInfo(method="keyring", account=account)
            write_keyinfo(db_path, info)
            return key, info
    passphrase = _ask(passphrase_provider, creating=True)
    if len(passphrase) < 8:
        raise NoPassphraseError("The database passphrase must be at least 8 characters long.")
    salt = secrets.token_bytes(16)
    key = derive_key(passphrase, salt)
    info = KeyInfo(method="passphrase", salt=salt.hex(), check=_check_value(key))
    write_keyinfo(db_path, info)
    return key, info


def load_key(
    db_path: Path, passphrase_provider: PassphraseProvider | None
) -> tuple[bytes, KeyInfo]:
    """Fetch the key of an existing local database."""
    info = read_keyinfo(db_path)
    if info is None:
        raise DatabaseError(
            f"The key information file for {db_path.name} is missing, so the encrypted database "
            "cannot be opened. Copy the .keyinfo file back beside the database, or restore "
            "from a backup."
        )
    if info.method == "keyring":
        hexkey = keyring_get(KEYRING_SERVICE, info.account or str(db_path.resolve()))
        if not hexkey:
            raise DatabaseError(
                "The database key is kept in the system keyring, but the keyring is not "
                "available or does not hold it on this computer. Sign in to the computer "
                "account that created the database, or restore from a backup."
            )
        return bytes.fromhex(hexkey), info
    if info.method != "passphrase":
        raise DatabaseError(
            f"The key of {db_path.name} was supplied by another program, so IOPDesk cannot "
            "open it by itself. Restore it with the recovery key (see docs/backups.md)."
        )
    passphrase = _ask(passphrase_provider, creating=False)
    return key_from_passphrase(info, passphrase), info


def key_from_passphrase(info: KeyInfo, passphrase: str) -> bytes:
    """The database key from its passphrase (derived, or unwrapped after a restore)."""
    derived = derive_key(passphrase, bytes.fromhex(info.salt))
    if not hmac.compare_digest(_check_value(derived), info.check):
        raise WrongKeyError("The database passphrase is not correct. Please try again.")
    if info.wrapped:
        return unwrap(derived, info.wrapped, b"iopdesk-passphrase-wrap-v1")
    return derived


def passphrase_info(key: bytes, passphrase: str, recovery: KeyInfo | None = None) -> KeyInfo:
    """Key information for an existing key newly protected by a passphrase (restore)."""
    if len(passphrase) < 8:
        raise NoPassphraseError("The database passphrase must be at least 8 characters long.")
    salt = secrets.token_bytes(16)
    kek = derive_key(passphrase, salt)
    return KeyInfo(
        method="passphrase",
        salt=salt.hex(),
        check=_check_value(kek),
        wrapped=wrap(kek, key, b"iopdesk-passphrase-wrap-v1"),
        recovery=recovery.recovery if recovery else "",
        recovery_id=recovery.recovery_id if recovery else "",
    )


def keyring_info(db_path: Path, key: bytes, recovery: KeyInfo | None = None) -> KeyInfo | None:
    """Keep an existing key in this computer's keyring; None when there is no keyring."""
    account = str(db_path.resolve())
    if not keyring_available() or not keyring_set(KEYRING_SERVICE, account, key.hex()):
        return None
    return KeyInfo(
        method="keyring",
        account=account,
        recovery=recovery.recovery if recovery else "",
        recovery_id=recovery.recovery_id if recovery else "",
    )


# -- the recovery key -------------------------------------------------------------------------

_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_TYPOS = str.maketrans({"0": "O", "1": "I", "8": "B"})


def generate_recovery_key() -> str:
    raw = base64.b32encode(secrets.token_bytes(RECOVERY_BYTES)).decode("ascii")
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def normalize_recovery_key(text: str) -> bytes:
    """The recovery key's bytes; raises WrongKeyError when the text cannot be one."""
    cleaned = "".join(ch for ch in text.upper().translate(_TYPOS) if ch.isalnum())
    if len(cleaned) != RECOVERY_BYTES * 8 // 5 or any(ch not in _B32 for ch in cleaned):
        raise WrongKeyError(
            "That is not a recovery key: it has 32 letters and digits in 8 groups of 4, "
            "as printed on the recovery kit."
        )
    return base64.b32decode(cleaned)


def _recovery_kek(recovery_key: str) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    raw = normalize_recovery_key(recovery_key)
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"iopdesk-recovery-v1"
    ).derive(raw)


def recovery_id(recovery_key: str) -> str:
    """A short public fingerprint of a recovery key (printed on the kit to tell kits apart)."""
    digest = hmac.new(_recovery_kek(recovery_key), b"iopdesk-recovery-id", hashlib.sha256)
    return digest.hexdigest()[:12]


def wrap(kek: bytes, secret: bytes, aad: bytes) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = secrets.token_bytes(12)
    return base64.b64encode(nonce + AESGCM(kek).encrypt(nonce, secret, aad)).decode("ascii")


def unwrap(kek: bytes, blob: str, aad: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        raw = base64.b64decode(blob.encode("ascii"), validate=True)
        return AESGCM(kek).decrypt(raw[:12], raw[12:], aad)
    except (InvalidTag, ValueError) as exc:
        raise WrongKeyError("The key does not open this (wrong recovery key?).") from exc


def wrap_with_recovery(recovery_key: str, secret: bytes, aad: bytes) -> str:
    return wrap(_recovery_kek(recovery_key), secret, aad)


def unwrap_with_recovery(recovery_key: str, blob: str, aad: bytes) -> bytes:
    try:
        return unwrap(_recovery_kek(recovery_key), blob, aad)
    except WrongKeyError:
        raise WrongKeyError(
            "The recovery key does not open this database. Check each group of four "
            "against the recovery kit of this clinic."
        ) from None


DB_KEY_AAD = b"iopdesk-database-key-v1"


def add_recovery(info: KeyInfo, key: bytes, recovery_key: str) -> KeyInfo:
    info.recovery = wrap_with_recovery(recovery_key, key, DB_KEY_AAD)
    info.recovery_id = recovery_id(recovery_key)
    return info


def key_from_recovery(info: KeyInfo, recovery_key: str) -> bytes:
    if not info.recovery:
        raise WrongKeyError(
            "This database (or backup) was made before it had a recovery key, so only its "
            "keyring or passphrase opens it."
        )
    return unwrap_with_recovery(recovery_key, info.recovery, DB_KEY_AAD)


# -- the clinic audit key of a PostgreSQL clinic, kept on each workstation --------------------


def _clinic_key_file(key_id: str) -> Path:
    from iopdesk import paths

    safe = "".join(ch for ch in key_id if ch.isalnum())[:64]
    return paths.config_dir() / "clinic-keys" / f"{safe}.key"


def store_clinic_key(key_id: str, secret: bytes) -> str:
    """Keep a clinic audit key on this workstation: the keyring, else a file only this
    computer account can read. Returns where it went."""
    if keyring_available() and keyring_set(CLINIC_KEYRING_SERVICE, key_id, secret.hex()):
        return "keyring"
    path = _clinic_key_file(key_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secret.hex())
    os.replace(tmp, path)
    return str(path)


def load_clinic_key(key_id: str) -> bytes | None:
    stored = keyring_get(CLINIC_KEYRING_SERVICE, key_id) if keyring_available() else None
    if stored:
        return bytes.fromhex(stored)
    path = _clinic_key_file(key_id)
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def _ask(provider: PassphraseProvider | None, creating: bool) -> str:
    env = os.environ.get("IOPDESK_DB_PASSPHRASE")
    if env:
        return env
    if provider is None:
        raise NoPassphraseError(
            "This computer has no system keyring, so the database is protected by a "
            "passphrase. Set IOPDESK_DB_PASSPHRASE or run interactively to type it."
        )
    value = provider(creating)
    if not value:
        raise NoPassphraseError("No database passphrase was given.")
    return value


def pg_password(url_key: str) -> str | None:
    return keyring_get(PG_KEYRING_SERVICE, url_key)


def set_pg_password(url_key: str, password: str) -> bool:
    return keyring_set(PG_KEYRING_SERVICE, url_key, password)
