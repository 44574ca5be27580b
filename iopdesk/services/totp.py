"""Two-factor sign-in: TOTP (RFC 6238, HMAC-SHA1, 6 digits, 30 s steps) that any
authenticator app reads from a QR code, plus ten one-time recovery codes.

- A code is accepted for the current step and one step either side (clock drift), and only
  for a step later than the last one used: a code seen over a shoulder cannot be replayed.
- The secret lives in the encrypted database (User.totp_secret); it is shown once, at
  enrolment, and never logged or exported.
- Recovery codes are shown once and stored as salted PBKDF2 hashes; each works once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from sqlmodel import Session, col, select

from iopdesk.db import Database
from iopdesk.errors import AuthenticationError, NotFoundError, UserError, ValidationError
from iopdesk.models import RecoveryCode, User, utcnow
from iopdesk.models.enums import Role
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import get_setting_in
from iopdesk.services.declare import Arg, Audited, about, service
from iopdesk.services.permissions import Perm, require

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
ISSUER = "IOPDesk"
RECOVERY_CODES = 10
_PBKDF2_ROUNDS = 120_000
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def new_secret() -> str:
    """160 random bits, base32 without padding (what authenticator apps expect)."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    cleaned = secret.strip().replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def step_at(when: float) -> int:
    return int(when // STEP_SECONDS)


def code_for_step(secret: str, step: int) -> str:
    """RFC 4226 HOTP of the step counter (dynamic truncation)."""
    digest = hmac.new(_key(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def code_at(secret: str, when: float) -> str:
    return code_for_step(secret, step_at(when))


def match_step(secret: str, code: str, when: float, last_step: int | None) -> int | None:
    """The step `code` belongs to (within the drift window, after `last_step`), else None."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    now_step = step_at(when)
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(code_for_step(secret, step), code):
            return step
    return None


def provisioning_uri(secret: str, username: str, issuer: str = ISSUER) -> str:
    label = quote(f"{issuer}:{username}")
    return (
        f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer)}"
        f"&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
    )


def qr_matrix(text: str) -> list[list[bool]]:
    """The QR code's modules (True = dark), with a 4-module quiet zone; the UI paints it."""
    import qrcode

    qr = qrcode.QRCode(border=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    return [[bool(v) for v in row] for row in qr.get_matrix()]


# ------------------------------------------------------------------------------------------
# Recovery codes
# ------------------------------------------------------------------------------------------


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _normal_code(code: str) -> str:
    return code.strip().lower().replace("-", "").replace(" ", "")


def hash_recovery_code(code: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", _normal_code(code).encode(), salt, _PBKDF2_ROUNDS)
    return f"pbkdf2_sha256${_PBKDF2_ROUNDS}${salt.hex()}${digest.hex()}"


def _check_recovery_hash(stored: str, code: str) -> bool:
    try:
        _, rounds, salt, digest = stored.split("$")
        got = hashlib.pbkdf2_hmac(
            "sha256", _normal_code(code).encode(), bytes.fromhex(salt), int(rounds)
        )
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


def _replace_recovery_codes(session: Session, actor: Actor | None, user_id: int) -> list[str]:
    for old in session.exec(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user_id, col(RecoveryCode.used_at).is_(None)
        )
    ).all():
        old.used_at = utcnow()  # retired: the new set replaces it
        session.add(old)
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    by = actor.user_id if actor else None
    session.add_all(
        RecoveryCode(user_id=user_id, code_hash=hash_recovery_code(c), created_by=by, updated_by=by)
        for c in codes
    )
    return codes


# ------------------------------------------------------------------------------------------
# Enrolment and status
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str

    @property
    def grouped_secret(self) -> str:
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


@dataclass(frozen=True)
class TwoFactorStatus:
    enabled: bool
    required: bool
    recovery_codes_left: int


def begin_enrolment(actor: Actor) -> Enrolment:
    """A fresh secret to show as a QR code; nothing is saved until a code from it is typed."""
    secret = new_secret()
    return Enrolment(secret, provisioning_uri(secret, actor.username))


def confirm_enrolment(
    db: Database, actor: Actor, secret: str, code: str, *, now: float | None = None
) -> list[str]:
    """Save the secret once the app shows a right code; returns the recovery codes (shown
    once)."""
    when = time.time() if now is None else now
    step = match_step(secret, code, when, None)
    if step is None:
        raise ValidationError(
            "That code does not match. Check the phone's clock is set automatically and type "
            "the 6 digits the app shows now.",
            {"code": "Wrong code."},
        )
    with db.session() as session:
        user = session.get(User, actor.user_id)
        if user is None:
            raise NotFoundError("This user account does not exist.")
        user.totp_secret = secret
        user.totp_last_step = step
        user.version += 1
        session.add(user)
        codes = _replace_recovery_codes(session, actor, user.id or 0)
        audit.record(
            session,
            actor,
            audit.Action.TWO_FACTOR,
            entity="app_user",
            entity_id=user.id,
            detail="two-factor sign-in enabled",
            flagged=True,
        )
    return codes


def new_recovery_codes(db: Database, actor: Actor) -> list[str]:
    with db.session() as session:
        user = session.get(User, actor.user_id)
        if user is None or not user.totp_secret:
            raise UserError("Turn on two-factor sign-in first.")
        codes = _replace_recovery_codes(session, actor, actor.user_id)
        audit.record(
            session,
            actor,
            audit.Action.TWO_FACTOR,
            entity="app_user",
            entity_id=actor.user_id,
            detail="new recovery codes",
        )
    return codes


@service(
    None, audit=Audited(audit.Action.TWO_FACTOR, "app_user", entity_id=Arg("user_id"), flagged=True)
)
def disable(session: Session, actor: Actor, user_id: int) -> None:
    """Turn two-factor off: for oneself, or by an administrator for a user who lost the phone
    and the codes. Refused while the setting requires it for an administrator's account."""
    if user_id != actor.user_id:  # the permission depends on whose account it is
        require(actor, Perm.USERS_MANAGE)
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("This user account does not exist.")
    if user_id == actor.user_id and _required_in(session, user):
        raise UserError(
            "Two-factor sign-in is required for administrators by the clinic's settings."
        )
    user.totp_secret = None
    user.totp_last_step = None
    user.version += 1
    session.add(user)
    for rc in session.exec(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user_id, col(RecoveryCode.used_at).is_(None)
        )
    ).all():
        rc.used_at = utcnow()
        session.add(rc)
    about(
        session,
        detail="two-factor sign-in turned off"
        + ("" if user_id == actor.user_id else " by administrator"),
    )


def _required_in(session: Session, user: User) -> bool:
    from iopdesk.services.actor import parse_roles

    return Role.ADMIN in parse_roles(user.roles) and bool(
        get_setting_in(session, "require_2fa_for_admins")
    )


def status(db: Database, actor: Actor) -> TwoFactorStatus:
    with db.read() as session:
        user = session.get(User, actor.user_id)
        if user is None:
            raise NotFoundError("This user account does not exist.")
        left = len(
            session.exec(
                select(RecoveryCode.id).where(
                    RecoveryCode.user_id == actor.user_id, col(RecoveryCode.used_at).is_(None)
                )
            ).all()
        )
        return TwoFactorStatus(bool(user.totp_secret), _required_in(session, user), left)


def enrolment_required(db: Database, actor: Actor) -> bool:
    """True when the settings require two-factor for this user and it is not set up yet."""
    s = status(db, actor)
    return s.required and not s.enabled


# ------------------------------------------------------------------------------------------
# Sign-in (called by services.auth inside its transaction)
# ------------------------------------------------------------------------------------------


class TwoFactorRequired(AuthenticationError):
    """The password was right; the account also needs its authenticator code."""

    title = "Two-factor code needed"


def check_second_factor(
    session: Session, user: User, code: str | None, when: datetime | None = None
) -> str | None:
    """None when the code (TOTP or an unused recovery code) is right, else the reason.
    Marks the TOTP step / the recovery code used."""
    if not user.totp_secret:
        return None
    if not code or not code.strip():
        raise TwoFactorRequired(
            "Enter the 6-digit code from your authenticator app (or a recovery code)."
        )
    at = (when or utcnow()).timestamp()
    typed = code.strip()
    if typed.replace(" ", "").isdigit():
        step = match_step(user.totp_secret, typed, at, user.totp_last_step)
        if step is None:
            if match_step(user.totp_secret, typed, at, None) is not None:
                return "code already used"
            return "wrong code"
        user.totp_last_step = step
        session.add(user)
        return None
    for rc in session.exec(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id, col(RecoveryCode.used_at).is_(None)
        )
    ).all():
        if _check_recovery_hash(rc.code_hash, typed):
            rc.used_at = utcnow()
            session.add(rc)
            return None
    return "wrong recovery code"
