"""Clinic settings, declared once: the settings screen and validation are built from this list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class SettingSpec:
    key: str
    default: Any
    type: type
    label: str
    help: str
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "inactivity_lock_minutes",
        15,
        int,
        "Lock after inactivity (minutes)",
        "The app locks and hides client information after this many idle minutes.",
        1,
        240,
    ),
    SettingSpec(
        "lockout_attempts",
        5,
        int,
        "Failed sign-ins before lock-out",
        "An account is locked after this many wrong passwords in a row.",
        3,
        20,
    ),
    SettingSpec(
        "lockout_minutes",
        15,
        int,
        "Lock-out duration (minutes)",
        "How long a locked account waits before it can sign in again.",
        1,
        1440,
    ),
    SettingSpec(
        "week_start",
        "Mon",
        str,
        "Program week starts on",
        "First day of the program week for weekly hours.",
        choices=WEEKDAYS,
    ),
    SettingSpec(
        "per_diem_minimum_minutes",
        180,
        int,
        "Per-diem minimum (minutes)",
        "Attended minutes a day needs before a per-diem line is billed.",
        1,
        1440,
    ),
    SettingSpec(
        "schedule_weeks_ahead",
        8,
        int,
        "Generate group sessions ahead (weeks)",
        "How many weeks of recurring group sessions are created in advance.",
        1,
        52,
    ),
    SettingSpec(
        "late_note_days",
        3,
        int,
        "Late entry after (days)",
        "Notes signed more than this many days after the service are marked late.",
        0,
        90,
    ),
    SettingSpec(
        "plan_review_days",
        30,
        int,
        "Treatment plan review every (days)",
        "Default review interval for treatment plans.",
        7,
        365,
    ),
    SettingSpec(
        "auth_warn_units",
        3,
        int,
        "Warn when authorization units left below",
        "Authorizations with fewer units left than this are flagged.",
        0,
        100,
    ),
    SettingSpec(
        "auth_warn_days",
        7,
        int,
        "Warn when authorization expires within (days)",
        "Authorizations ending within this many days are flagged.",
        0,
        90,
    ),
    SettingSpec(
        "backup_folder",
        "",
        str,
        "Backup folder",
        "Where automatic backups go (an external drive or synced folder).",
    ),
    SettingSpec(
        "backup_interval_hours",
        24,
        int,
        "Back up when the last backup is older than (hours)",
        "Automatic backups run at start-up or close.",
        1,
        720,
    ),
    SettingSpec("backup_keep_daily", 7, int, "Daily backups kept", "", 1, 365),
    SettingSpec("backup_keep_monthly", 12, int, "Monthly backups kept", "", 0, 120),
    SettingSpec(
        "break_glass_minutes",
        60,
        int,
        "Emergency access lasts (minutes)",
        "How long a break-glass chart access stays open.",
        5,
        480,
    ),
    # Electronic claims (837): who sends the file and who receives it (issue 21).
    SettingSpec(
        "submitter_id",
        "",
        str,
        "Claims submitter ID",
        "Your ID at the clearinghouse (ISA06, GS02 and the 837 submitter).",
    ),
    SettingSpec("submitter_name", "", str, "Claims submitter name", "The 837 submitter's name."),
    SettingSpec(
        "submitter_contact",
        "",
        str,
        "Claims contact name",
        "Person the clearinghouse calls about a file (default: the submitter name).",
    ),
    SettingSpec(
        "submitter_phone",
        "",
        str,
        "Claims contact phone",
        "10 digits (default: the clinic phone).",
    ),
    SettingSpec(
        "receiver_id",
        "",
        str,
        "Clearinghouse (receiver) ID",
        "The clearinghouse's ID (ISA08, GS03 and the 837 receiver).",
    ),
    SettingSpec("receiver_name", "", str, "Clearinghouse name", "The 837 receiver's name."),
    SettingSpec(
        "taxonomy",
        "",
        str,
        "Billing provider taxonomy",
        "The clinic's NUCC taxonomy code, e.g. 261QM0801X (mental health clinic).",
    ),
    SettingSpec(
        "tax_id_type",
        "EIN",
        str,
        "Tax ID type",
        "EIN for an employer identification number, SSN for a social security number.",
        choices=("EIN", "SSN"),
    ),
    SettingSpec(
        "x12_usage",
        "P",
        str,
        "837 files are",
        "P for production, T for test files sent to the clearinghouse.",
        choices=("P", "T"),
    ),
    SettingSpec(
        "require_2fa_for_admins",
        False,
        bool,
        "Require two-factor sign-in for admins",
        "Admins must enrol an authenticator app.",
    ),
)

BY_KEY = {spec.key: spec for spec in SETTINGS}


def parse(spec: SettingSpec, raw: Any) -> Any:
    """Turn stored text or user input into the setting's type; ValueError with a plain message."""
    if spec.type is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"{spec.label}: answer yes or no.")
    if spec.type is int:
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ValueError(f"{spec.label}: enter a whole number.") from None
        if spec.minimum is not None and value < spec.minimum:
            raise ValueError(f"{spec.label}: must be at least {spec.minimum}.")
        if spec.maximum is not None and value > spec.maximum:
            raise ValueError(f"{spec.label}: must be at most {spec.maximum}.")
        return value
    text = str(raw).strip()
    if spec.choices:
        match = [c for c in spec.choices if c.lower() == text.lower()]
        if not match:
            raise ValueError(f"{spec.label}: choose one of {', '.join(spec.choices)}.")
        return match[0]
    return text
