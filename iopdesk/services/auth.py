"""Sign-in, lock-out, screen unlock, and user accounts (Argon2id password hashes)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlmodel import Session, func, select

from iopdesk.db import Database
from iopdesk.errors import (
    AccountLockedError,
    AuthenticationError,
    NotFoundError,
    PermissionDenied,
    ValidationError,
)
from iopdesk.models import Staff, User, utcnow
from iopdesk.models.enums import Role
from iopdesk.services import audit
from iopdesk.services.actor import Actor, parse_roles, roles_text
from iopdesk.services.audit import Action
from iopdesk.services.clinic import get_setting_in
from iopdesk.services.declare import Audited, about, service
from iopdesk.services.permissions import Perm

MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()  # argon2-cffi defaults: Argon2id, t=3, m=64 MiB, p=4
_dummy_hash: str | None = None


def _dummy() -> str:
    """A hash to verify against for unknown users (same work, no user enumeration)."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("not-a-real-password-used-for-timing")
    return _dummy_hash


USERNAME_RE = re.compile(r"^[A-Za-z0-9._-]{2,40}$")

PASSWORD_CHANGE_REQUIRED = (
    "password change required: sign in to the app or use `iopdesk account password`"
)


class PasswordChangeRequired(AuthenticationError):
    """The password was right but an administrator reset it ("must change at next sign-in"):
    no session starts until a new one is set. `actor` is only for `change_password` (the app's
    forced dialog, `iopdesk account password`); every other caller treats this as a failed
    sign-in, so a temporary password never opens anything else."""

    title = "Password change required"

    def __init__(self, actor: Actor) -> None:
        super().__init__(PASSWORD_CHANGE_REQUIRED)
        self.actor = actor


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.",
            {"password": f"At least {MIN_PASSWORD_LENGTH} characters."},
        )
    if password.strip() != password or not password.strip():
        raise ValidationError(
            "The password must not start or end with spaces.",
            {"password": "No leading or trailing spaces."},
        )


def actor_for(user: User) -> Actor:
    assert user.id is not None
    return Actor(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=parse_roles(user.roles),
        staff_id=user.staff_id,
    )


def _verify(user_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(user_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _find_user(session: Session, username: str) -> User | None:
    return session.exec(
        select(User).where(func.lower(User.username) == username.strip().lower())
    ).first()


def login(
    db: Database,
    username: str,
    password: str,
    code: str | None = None,
    *,
    when: datetime | None = None,
) -> Actor:
    """Check a username and password; count failures and lock the account after too many.
    An account with two-factor sign-in also needs `code` (services.totp; `when` fixes the
    clock in tests): without it TwoFactorRequired is raised after a right password.
    After an administrator's reset (must_change_password) a right password raises
    PasswordChangeRequired instead of returning: only a password change may follow."""
    from iopdesk.services.totp import check_second_factor

    second_factor_problem = ""
    must_change = False
    # The password is checked between two short transactions, not inside one: Argon2 takes a
    # moment, and a transaction holding SQLite's write lock (or a PostgreSQL row lock) for it
    # would make parallel sign-ins from several workstations queue and time out.
    with db.session() as session:
        found = _find_user(session, username)
        now = utcnow()
        user_id = found.id if found is not None and found.active else None
        stored_hash = found.password_hash if user_id is not None and found else _dummy()
        if found is not None and user_id is not None and _is_locked(found, now):
            _record_locked(session, found)
            raise_locked = _locked_message(found.locked_until, now)  # type: ignore[arg-type]
            session.commit()
            raise AccountLockedError(raise_locked)
    password_ok = _verify(stored_hash, password)  # same work for an unknown user
    with db.session() as session:
        now = utcnow()
        user = session.get(User, user_id) if user_id is not None else None
        if user is None or not user.active:
            typed = username.strip()
            audit.record(
                session,
                None,
                Action.LOGIN_FAILED,
                # A password typed into the user name box must not land in the log.
                username=typed if USERNAME_RE.match(typed) else "(not a valid user name)",
                entity="app_user",
                detail="unknown or inactive user",
            )
            failed = True
        elif _is_locked(user, now):  # locked meanwhile by attempts from other workstations
            _record_locked(session, user)
            raise_locked = _locked_message(user.locked_until, now)  # type: ignore[arg-type]
            session.commit()
            raise AccountLockedError(raise_locked)
        elif not password_ok:
            failed = True
            _count_failure(session, user, now)
        elif problem := check_second_factor(session, user, code, when):
            failed = True
            second_factor_problem = problem
            _count_failure(session, user, now, f"two-factor {problem}")
        elif not _privileges_sealed(session, user):
            audit.record(
                session,
                None,
                Action.LOGIN_FAILED,
                username=user.username,
                entity="app_user",
                entity_id=user.id,
                detail="privileges changed outside IOPDesk",
                flagged=True,
            )
            session.commit()
            raise AuthenticationError(
                "This account's roles or security settings were changed outside IOPDesk, so it "
                "cannot sign in. An administrator checks the audit log (iopdesk audit verify) "
                "and sets the account's access again."
            )
        else:
            failed = False
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            user.failed_attempts = 0
            user.locked_until = None
            user.last_login_at = now
            session.add(user)
            actor = actor_for(user)
            must_change = user.must_change_password
            audit.record(
                session,
                actor,
                Action.LOGIN,
                entity="app_user",
                entity_id=user.id,
                detail="password change required" if must_change else "",
            )
    if not failed and must_change:
        raise PasswordChangeRequired(actor)
    if failed:
        if user is not None and user.locked_until is not None and user.locked_until > now:
            raise AccountLockedError(_locked_message(user.locked_until, now))
        if second_factor_problem:
            raise AuthenticationError(
                "The two-factor code is not correct or was already used. Type the code the "
                "app shows now, or a recovery code."
            )
        raise AuthenticationError(
            "The user name or password is not correct. Check Caps Lock and try again."
        )
    return actor


def _privileges_sealed(session: Session, user: User) -> bool:
    from iopdesk.services.integrity import clinic_keys, user_seal_ok

    return user_seal_ok(clinic_keys(session).key, user)


def _is_locked(user: User, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def _record_locked(session: Session, user: User) -> None:
    audit.record(
        session,
        None,
        Action.LOGIN_FAILED,
        username=user.username,
        entity="app_user",
        entity_id=user.id,
        detail="account locked",
    )


def _count_failure(session: Session, user: User, now: datetime, why: str = "") -> None:
    """Count one failed attempt atomically: a single UPDATE ... SET failed_attempts =
    failed_attempts + 1 RETURNING, so attempts sent in parallel from several workstations
    (PostgreSQL) each see their own count and the account locks after `lockout_attempts`.
    The UPDATE also holds the row lock until commit, so the lock-out below is never lost."""
    from sqlalchemy import update
    from sqlalchemy.orm.attributes import set_committed_value

    limit = int(get_setting_in(session, "lockout_attempts"))
    minutes = int(get_setting_in(session, "lockout_minutes"))
    table = User.__table__  # type: ignore[attr-defined]
    row = session.execute(
        update(table)
        .where(table.c.id == user.id)
        .values(failed_attempts=table.c.failed_attempts + 1)
        .returning(table.c.failed_attempts, table.c.locked_until)
    ).one()
    count, locked_until = int(row[0]), row[1]
    set_committed_value(user, "failed_attempts", count)
    audit.record(
        session,
        None,
        Action.LOGIN_FAILED,
        username=user.username,
        entity="app_user",
        entity_id=user.id,
        detail=f"{why or 'wrong password'} ({count})",
    )
    if locked_until is not None and locked_until.tzinfo is None:
        locked_until = locked_until.replace(tzinfo=now.tzinfo)
    if locked_until is not None and locked_until > now:
        set_committed_value(user, "locked_until", locked_until)  # locked meanwhile
        return
    if count >= limit:
        until = now + timedelta(minutes=minutes)
        # The lock state is sealed with the account's privileges (services.integrity). Only an
        # account whose seal holds is sealed again with the new lock; one changed outside
        # IOPDesk stays broken (a lock-out must never launder a tampered account).
        sealed = _privileges_sealed(session, user)
        session.execute(
            update(table).where(table.c.id == user.id).values(locked_until=until, failed_attempts=0)
        )
        set_committed_value(user, "locked_until", until)
        set_committed_value(user, "failed_attempts", 0)
        if sealed:
            from iopdesk.services.integrity import reseal_user

            reseal_user(session, user)
        audit.record(
            session,
            None,
            Action.LOCKED_OUT,
            username=user.username,
            entity="app_user",
            entity_id=user.id,
            detail=f"locked for {minutes} min",
            flagged=True,
        )


def _locked_message(until: datetime, now: datetime) -> str:
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    return (
        "This account is locked after too many wrong passwords. Try again in "
        f"{minutes} minute{'s' if minutes != 1 else ''}, or ask an administrator to unlock it."
    )


def unlock_screen(db: Database, actor: Actor, password: str) -> None:
    """Resume after the inactivity lock: the same password rules and lock-out as sign-in.
    A password an administrator reset meanwhile does not resume the session: the user signs
    out and sets a new one at sign-in (PasswordChangeRequired)."""
    must_change = False
    with db.session() as session:
        user = session.get(User, actor.user_id)
        now = utcnow()
        if user is None or not user.active:
            raise AuthenticationError("This account is no longer active.")
        if user.locked_until is not None and user.locked_until > now:
            raise AccountLockedError(_locked_message(user.locked_until, now))
        ok = _verify(user.password_hash, password)
        if ok:
            user.failed_attempts = 0
            session.add(user)
            must_change = user.must_change_password
            audit.record(
                session,
                actor,
                Action.UNLOCK_SCREEN,
                entity="app_user",
                entity_id=user.id,
                detail="refused: password change required" if must_change else "",
            )
        else:
            _count_failure(session, user, now)
    if must_change:
        raise PasswordChangeRequired(actor)
    if not ok:
        if user.locked_until is not None and user.locked_until > now:
            raise AccountLockedError(_locked_message(user.locked_until, now))
        raise AuthenticationError("The password is not correct.")


def logout(db: Database, actor: Actor) -> None:
    audit.record_now(db, actor, Action.LOGOUT, entity="app_user", entity_id=actor.user_id)


def record_screen_lock(db: Database, actor: Actor) -> None:
    audit.record_now(db, actor, Action.SCREEN_LOCK, entity="app_user", entity_id=actor.user_id)


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    display_name: str
    roles: frozenset[Role]
    active: bool
    locked: bool
    last_login_at: datetime | None
    staff_id: int | None
    version: int


def _info(user: User) -> UserInfo:
    now = utcnow()
    return UserInfo(
        id=user.id or 0,
        username=user.username,
        display_name=user.display_name,
        roles=parse_roles(user.roles),
        active=user.active,
        locked=user.locked_until is not None and user.locked_until > now,
        last_login_at=user.last_login_at,
        staff_id=user.staff_id,
        version=user.version,
    )


def create_user_in(
    session: Session,
    actor: Actor | None,
    username: str,
    password: str,
    roles: frozenset[Role] | str,
    display_name: str = "",
    staff_id: int | None = None,
    *,
    password_hash: str | None = None,
) -> User:
    """Create an account. `password_hash` lets bulk callers (the demo) hash a shared password
    once instead of once per account."""
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise ValidationError(
            "User names are 2-40 letters, digits, dots, dashes or underscores.",
            {"username": "Letters, digits, . _ - only (2-40)."},
        )
    if isinstance(roles, str):
        try:
            roles = parse_roles(roles)
        except ValueError as exc:
            raise ValidationError(str(exc), {"roles": str(exc)}) from None
    if not roles:
        raise ValidationError("Give the user at least one role.", {"roles": "Choose a role."})
    check_password_policy(password)
    if _find_user(session, username) is not None:
        raise ValidationError(
            f"The user name '{username}' is already taken.", {"username": "Already taken."}
        )
    if staff_id is not None and session.get(Staff, staff_id) is None:
        raise NotFoundError("That staff record does not exist.")
    now = utcnow()
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        password_hash=password_hash or hash_password(password),
        roles=roles_text(roles),
        staff_id=staff_id,
        password_changed_at=now,
        created_by=actor.user_id if actor else None,
        updated_by=actor.user_id if actor else None,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        Action.USER_ADD,
        entity="app_user",
        entity_id=user.id,
        detail=f"roles={user.roles}",
        username=username if actor is None else None,
    )
    return user


@service(Perm.USERS_MANAGE)
def add_user(
    session: Session,
    actor: Actor,
    username: str,
    password: str,
    roles: frozenset[Role] | str,
    display_name: str = "",
    staff_id: int | None = None,
) -> UserInfo:
    return _info(create_user_in(session, actor, username, password, roles, display_name, staff_id))


@service(Perm.USERS_MANAGE, read_only=True)
def list_users(session: Session, actor: Actor) -> list[UserInfo]:
    return [_info(u) for u in session.exec(select(User).order_by(User.username)).all()]


@service(Perm.USERS_MANAGE, audit=Audited(Action.USER_CHANGE, "app_user"))
def set_user_access(
    session: Session,
    actor: Actor,
    user_id: int,
    expected_version: int,
    *,
    roles: frozenset[Role] | None = None,
    active: bool | None = None,
    unlock: bool = False,
) -> UserInfo:
    """Change roles, (de)activate or unlock an account. Privilege changes are audited."""
    from iopdesk.services.records import update_versioned

    changes: dict[str, object] = {}
    if roles is not None:
        if not roles:
            raise ValidationError("Give the user at least one role.", {"roles": "Choose a role."})
        changes["roles"] = roles_text(roles)
    if active is not None:
        if not active and user_id == actor.user_id:
            raise PermissionDenied("You cannot deactivate your own account.")
        changes["active"] = active
    if unlock:
        changes["locked_until"] = None
        changes["failed_attempts"] = 0
    from iopdesk.services.integrity import reseal_user

    user = update_versioned(
        session, actor, User, user_id, expected_version, changes, what="This user account"
    )
    reseal_user(session, user)  # an administrator set this account's access: seal it
    session.flush()
    admins = [
        u
        for u in session.exec(select(User).where(User.active)).all()
        if Role.ADMIN in parse_roles(u.roles)
    ]
    if not admins:  # rolled back with the session: nothing changes
        raise ValidationError(
            "At least one active administrator must remain, or nobody could manage users "
            "and settings. Give another user the administrator role first."
        )
    detail = (
        ", ".join(f"{k}={v}" for k, v in changes.items() if k in ("roles", "active")) or "unlocked"
    )
    about(session, entity_id=user_id, detail=detail, flagged="roles" in changes)
    return _info(user)


def change_password(db: Database, actor: Actor, old_password: str, new_password: str) -> None:
    """Set a new password (the policy applies; it must differ from the current one). This
    also ends "must change at next sign-in" after an administrator's reset."""
    check_password_policy(new_password)
    with db.session() as session:
        user = session.get(User, actor.user_id)
        if user is None or not user.active or not _verify(user.password_hash, old_password):
            raise AuthenticationError("The current password is not correct.")
        if new_password == old_password:
            raise ValidationError(
                "Choose a new password that is different from the current one.",
                {"new_password": "Must differ from the current password."},
            )
        was_reset = user.must_change_password
        user.password_hash = hash_password(new_password)
        user.password_changed_at = utcnow()
        user.must_change_password = False
        user.version += 1
        session.add(user)
        audit.record(
            session,
            actor,
            Action.PASSWORD_CHANGE,
            entity="app_user",
            entity_id=user.id,
            detail="temporary password replaced" if was_reset else "changed by user",
        )


@service(Perm.USERS_MANAGE, audit=Audited(Action.PASSWORD_CHANGE, "app_user", flagged=True))
def reset_password(session: Session, actor: Actor, user_id: int, new_password: str) -> None:
    """An administrator sets a temporary password; the user must change it at next sign-in."""
    check_password_policy(new_password)
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("That user account does not exist.")
    user.password_hash = hash_password(new_password)
    user.must_change_password = True
    user.locked_until = None
    user.failed_attempts = 0
    user.version += 1
    session.add(user)
    about(session, entity_id=user.id, detail="reset by administrator")
