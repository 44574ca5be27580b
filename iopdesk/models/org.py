"""Clinic, settings, users, staff and program tracks."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import LargeBinary, UniqueConstraint, event
from sqlmodel import Field

from iopdesk.models.base import Tracked, UTCDateTime


class Clinic(Tracked, table=True):
    """The clinic this database belongs to (exactly one row)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str
    address: str = ""
    phone: str = ""
    email: str = ""
    billing_npi: str = ""
    tax_id: str = ""
    office_pos: str = "11"
    timezone: str = "America/New_York"
    logo_png: bytes | None = Field(default=None, sa_type=LargeBinary)
    # Before 0006 the audit log's HMAC key was kept here in the clear. It is moved out at the
    # first use after the upgrade (services/integrity.py) and this column is emptied.
    audit_key: bytes | None = Field(default=None, sa_type=LargeBinary, nullable=True)
    is_demo: bool = False
    # Fingerprint of the clinic audit key (the key itself is never stored in the database).
    key_id: str = ""
    # The pre-0006 audit key, wrapped by the current audit key, and the last event it MACed.
    audit_legacy_key: str = ""
    audit_legacy_last_id: int = 0
    # The recovery key sealed with the audit key (an administrator can print the kit again),
    # its fingerprint, and (PostgreSQL) the audit key wrapped by the recovery key, so that a
    # new workstation joins the clinic with the recovery key.
    recovery_sealed: str = ""
    recovery_id: str = ""
    recovery_wrapped: str = ""


class Setting(Tracked, table=True):
    """A clinic setting declared in iopdesk.settings; value stored as text."""

    key: str = Field(primary_key=True)
    value: str


class User(Tracked, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True)
    display_name: str
    password_hash: str
    roles: str  # comma-separated iopdesk.models.enums.Role values
    active: bool = True
    failed_attempts: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    password_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    must_change_password: bool = False
    break_glass_allowed: bool = False
    totp_secret: str | None = None
    totp_last_step: int | None = None
    staff_id: int | None = Field(default=None, foreign_key="staff.id")
    # HMAC (clinic audit key) over the privilege columns: checked at sign-in and by verify.
    priv_mac: str | None = None


class RecoveryCode(Tracked, table=True):
    """One-time two-factor recovery codes (hashed)."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    code_hash: str
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Staff(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    staff_code: str = Field(unique=True, index=True)  # the clinic's own staff ID
    first_name: str
    last_name: str
    credentials: str = ""  # e.g. "LCSW", "LPC-Associate"
    is_supervisee: bool = False  # associate/supervisee: notes need a co-signature
    npi: str | None = None
    license_number: str | None = None
    license_state: str | None = None
    license_expiry: date | None = None
    supervisor_id: int | None = Field(default=None, foreign_key="staff.id")
    email: str = ""
    phone: str = ""
    roles: str = ""  # roles this person works in (import contract); user accounts hold access
    active: bool = True
    taxonomy: str = ""  # NUCC provider taxonomy code for 837 rendering/attending provider


class Track(Tracked, table=True):
    """A program group (e.g. adult SUD evening IOP) with its weekly schedule."""

    id: int | None = Field(default=None, primary_key=True)
    track_code: str = Field(unique=True, index=True)
    name: str
    level_of_care: str = "IOP"
    population: str = "adult"
    is_sud: bool = False  # substance-use track: clients' records fall under 42 CFR Part 2
    required_weekly_hours: Decimal = Field(default=Decimal("9"), max_digits=5, decimal_places=2)
    # Days a week with attendance the track requires (0 = no day minimum). Left None, a new
    # track gets its level of care's default when saved (DEFAULT_WEEKLY_DAYS: IOP 3, PHP 5,
    # OP 0); spreadsheet-imported tracks say it themselves (default 0).
    required_weekly_days: int | None = Field(default=None, nullable=False)
    per_diem_code: str | None = None  # H0015 | S9480
    room: str = ""
    active: bool = True


DEFAULT_WEEKLY_DAYS = {"IOP": 3, "PHP": 5, "OP": 0}


@event.listens_for(Track, "before_insert")
def _default_weekly_days(_mapper: Any, _connection: Any, track: Track) -> None:
    if track.required_weekly_days is None:
        track.required_weekly_days = DEFAULT_WEEKLY_DAYS.get(track.level_of_care, 0)


class TrackBlock(Tracked, table=True):
    """One recurring weekly group block of a track."""

    __table_args__ = (UniqueConstraint("track_id", "weekday", "start_time"),)

    id: int | None = Field(default=None, primary_key=True)
    track_id: int = Field(foreign_key="track.id", index=True)
    weekday: int  # 0 = Monday ... 6 = Sunday
    start_time: time
    end_time: time
    active: bool = True


class ClinicClosure(Tracked, table=True):
    """A day the clinic is closed (holiday); its sessions are cancelled by the clinic."""

    id: int | None = Field(default=None, primary_key=True)
    closure_date: date = Field(unique=True, index=True)
    reason: str


class ClinicListItem(Tracked, table=True):
    """Reusable clinic lists (local meetings, common referrals, crisis lines)."""

    id: int | None = Field(default=None, primary_key=True)
    list_name: str = Field(index=True)
    label: str
    data_json: str = "{}"
    active: bool = True
    sort_order: int = 0
