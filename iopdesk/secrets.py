"""One interface for secrets: the local database key and the PostgreSQL password.

Keys live in the OS keyring when it has a backend. When it has none (a bare Linux box, some
locked-down Windows images) the local database key is derived from a passphrase the user types,
with Argon2id and a random salt. Either way the key itself is never written to disk: the
`.keyinfo` file beside the database only says *where* the key is kept (and holds the salt and a
check value that tells a wrong passphrase apart from a damaged file).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from iopdesk.errors import DatabaseError, WrongKeyError

KEYRING_SERVICE = "IOPDesk"
PG_KEYRING_SERVICE = "IOPDesk PostgreSQL"
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

    method: str  # "keyring" | "passphrase"
    account: str = ""
    salt: str = ""
    check: str = ""

    def describe(self) -> str:
        if self.method == "keyring":
            return f"Database key kept in the system keyring ({keyring_backend_name()})."
        return "Database key derived from a passphrase (no system keyring on this computer)."


def keyinfo_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".keyinfo")


def read_keyinfo(db_path: Path) -> KeyInfo | None:
    path = keyinfo_path(db_path)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return KeyInfo(**{k: str(v) for k, v in data.items() if k in KeyInfo.__annotations__})
    except (ValueError, TypeError) as exc:
        raise DatabaseError(
            f"The key information file {path.name} beside the database is damaged. "
            "Restore it from a backup, or restore the database from a backup."
        ) from exc


def write_keyinfo(db_path: Path, info: KeyInfo) -> None:
    path = keyinfo_path(db_path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(info.__dict__, indent=2), encoding="utf-8")
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
    passphrase = _ask(passphrase_provider, creating=False)
    key = derive_key(passphrase, bytes.fromhex(info.salt))
    if not hmac.compare_digest(_check_value(key), info.check):
        raise WrongKeyError("The database passphrase is not correct. Please try again.")
    return key, info


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
