"""First-start setup, the clinic record, and clinic settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, func, select

from iopdesk import settings as settings_decl
from iopdesk.db import Database
from iopdesk.errors import NotFoundError, ValidationError
from iopdesk.models import Clinic, Setting, User
from iopdesk.models.enums import Role
from iopdesk.services.actor import Actor
from iopdesk.services.audit import Action
from iopdesk.services.declare import Audited, about, service
from iopdesk.services.permissions import Perm, require
from iopdesk.services.validation import normalize_phone, npi_is_valid


@dataclass(frozen=True)
class ClinicInfo:
    id: int
    name: str
    address: str
    phone: str
    email: str
    billing_npi: str
    tax_id: str
    office_pos: str
    timezone: str
    is_demo: bool
    version: int


def _info(c: Clinic) -> ClinicInfo:
    return ClinicInfo(
        c.id or 0,
        c.name,
        c.address,
        c.phone,
        c.email,
        c.billing_npi,
        c.tax_id,
        c.office_pos,
        c.timezone,
        c.is_demo,
        c.version,
    )


def is_initialized(db: Database) -> bool:
    with db.session() as session:
        has_clinic = session.exec(select(func.count()).select_from(Clinic)).one() > 0
        has_user = session.exec(select(func.count()).select_from(User)).one() > 0
        return bool(has_clinic and has_user)


def setup_clinic(
    db: Database,
    clinic_name: str,
    admin_username: str,
    admin_password: str,
    admin_display_name: str = "",
    *,
    is_demo: bool = False,
    **clinic_fields: Any,
) -> Actor:
    """First start: create the clinic and its first administrator, in one transaction."""
    from iopdesk.services import audit
    from iopdesk.services.auth import actor_for, create_user_in

    name = clinic_name.strip()
    if not name:
        raise ValidationError("Enter the clinic's name.", {"clinic_name": "Required."})
    with db.session() as session:
        if session.exec(select(func.count()).select_from(Clinic)).one() > 0:
            raise ValidationError("This database already has a clinic; setup was not repeated.")
        # The audit key is not stored here: services/integrity.py derives or keeps it.
        clinic = Clinic(name=name, is_demo=is_demo, **clinic_fields)
        session.add(clinic)
        session.flush()
        audit.record(
            session,
            None,
            audit.Action.SETUP,
            entity="clinic",
            entity_id=clinic.id,
            username=admin_username.strip(),
        )
        user = create_user_in(
            session,
            None,
            admin_username,
            admin_password,
            frozenset({Role.ADMIN}),
            admin_display_name,
        )
        return actor_for(user)


def get_clinic(db: Database) -> ClinicInfo:
    """Clinic letterhead data (not PHI): readable by any signed-in user."""
    with db.read() as session:
        clinic = session.exec(select(Clinic)).first()
        if clinic is None:
            raise NotFoundError("The clinic has not been set up yet.")
        return _info(clinic)


CLINIC_EDITABLE = (
    "name",
    "address",
    "phone",
    "email",
    "billing_npi",
    "tax_id",
    "office_pos",
    "timezone",
)


def update_clinic(
    db: Database, actor: Actor, expected_version: int, changes: dict[str, str]
) -> ClinicInfo:
    require(actor, Perm.SETTINGS_MANAGE)
    from iopdesk.services import audit
    from iopdesk.services.records import update_versioned

    bad = [k for k in changes if k not in CLINIC_EDITABLE]
    if bad:
        raise ValidationError(f"Unknown clinic field(s): {', '.join(bad)}.")
    errors: dict[str, str] = {}
    if "name" in changes and not changes["name"].strip():
        errors["name"] = "Required."
    npi = changes.get("billing_npi", "").strip()
    if npi and not npi_is_valid(npi):
        errors["billing_npi"] = "Not a valid NPI: 10 digits with a correct check digit."
    pos = changes.get("office_pos", "").strip()
    if "office_pos" in changes and not (pos.isdigit() and len(pos) == 2):
        errors["office_pos"] = "Two digits, e.g. 11 (office) or 57."
    if "phone" in changes:
        try:
            changes["phone"] = normalize_phone(changes["phone"])
        except ValueError as exc:
            errors["phone"] = str(exc)
    if "timezone" in changes:
        try:
            ZoneInfo(changes["timezone"].strip())
        except (ValueError, KeyError, ZoneInfoNotFoundError):
            errors["timezone"] = "Use a time zone name such as America/Chicago."
    if errors:
        raise ValidationError(
            f"Please correct the highlighted fields. {next(iter(errors.values()))}", errors
        )
    with db.session() as session:
        clinic = session.exec(select(Clinic)).first()
        if clinic is None:
            raise NotFoundError("The clinic has not been set up yet.")
        updated = update_versioned(
            session, actor, Clinic, clinic.id, expected_version, changes, what="The clinic details"
        )
        audit.record(
            session,
            actor,
            audit.Action.SETTING_CHANGE,
            entity="clinic",
            entity_id=clinic.id,
            detail="fields=" + ",".join(sorted(changes)),
        )
        from iopdesk.services.clock import forget_zone

        forget_zone(db)
        return _info(updated)


def clinic_now(tz_name: str | None) -> datetime:
    """Now in the clinic's time zone (falls back to this computer's zone)."""
    from iopdesk.services import clock

    return clock.now(tz_name)


def clinic_today(session: Session) -> date:
    """Today in the clinic's time zone: dates of service are clinic-local wall-clock dates."""
    return clinic_now(session.exec(select(Clinic.timezone).limit(1)).first()).date()


def setting_value(key: str, stored: str | None) -> Any:
    """A setting's value from its stored text: the declared default when nothing is stored
    or the text cannot be read."""
    spec = settings_decl.BY_KEY[key]
    if stored is None:
        return spec.default
    try:
        return settings_decl.parse(spec, stored)
    except ValueError:
        return spec.default


def get_setting_in(session: Session, key: str) -> Any:
    row = session.get(Setting, key)
    return setting_value(key, None if row is None else row.value)


def get_setting(db: Database, key: str) -> Any:
    with db.read() as session:
        return get_setting_in(session, key)


def all_settings(db: Database) -> dict[str, Any]:
    with db.read() as session:
        return {spec.key: get_setting_in(session, spec.key) for spec in settings_decl.SETTINGS}


SECURITY_SETTINGS = frozenset(
    {
        "inactivity_lock_minutes",
        "lockout_attempts",
        "lockout_minutes",
        "break_glass_minutes",
        "require_2fa_for_admins",
        "backup_folder",
    }
)


@service(Perm.SETTINGS_MANAGE, audit=Audited(Action.SETTING_CHANGE, "setting"))
def set_setting(session: Session, actor: Actor, key: str, value: Any) -> Any:

    spec = settings_decl.BY_KEY.get(key)
    if spec is None:
        raise ValidationError(f"There is no setting called '{key}'.")
    try:
        parsed = settings_decl.parse(spec, value)
    except ValueError as exc:
        raise ValidationError(str(exc), {key: str(exc)}) from None
    row = session.get(Setting, key)
    old = get_setting_in(session, key)
    if row is None:
        row = Setting(key=key, value=str(parsed))
    else:
        row.value = str(parsed)
        row.version += 1
    session.add(row)
    # security settings are flagged for review in the audit report
    about(session, entity_id=key, detail=f"{old} -> {parsed}", flagged=key in SECURITY_SETTINGS)
    return parsed


LOGO_MAX_BYTES = 1_000_000


def get_logo(db: Database) -> bytes | None:
    """The clinic's logo (PNG or JPEG) for letterheads; not PHI."""
    with db.read() as session:
        clinic = session.exec(select(Clinic)).first()
        return None if clinic is None or not clinic.logo_png else bytes(clinic.logo_png)


@service(Perm.SETTINGS_MANAGE, audit=Audited(Action.SETTING_CHANGE, "clinic"))
def set_logo(session: Session, actor: Actor, data: bytes | None) -> None:
    """Set (PNG or JPEG, at most 1 MB) or remove (None) the logo printed on packets."""
    from iopdesk.services.records import touch

    if data is not None:
        if not (data.startswith(b"\x89PNG\r\n\x1a\n") or data.startswith(b"\xff\xd8\xff")):
            raise ValidationError(
                "The logo must be a PNG or JPEG picture.", {"logo": "Not a picture."}
            )
        if len(data) > LOGO_MAX_BYTES:
            raise ValidationError(
                "The logo file is larger than 1 MB; save a smaller picture and try again.",
                {"logo": "Too large."},
            )
    clinic = session.exec(select(Clinic)).first()
    if clinic is None:
        raise NotFoundError("The clinic has not been set up yet.")
    clinic.logo_png = data
    touch(clinic, actor)
    session.add(clinic)
    about(
        session,
        entity_id=clinic.id,
        detail="logo removed" if data is None else f"logo set ({len(data)} bytes)",
    )
