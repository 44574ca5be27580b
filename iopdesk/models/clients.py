"""Clients, episodes, diagnoses, contacts, enrollments and therapist assignments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Index, func, literal_column
from sqlmodel import Field

from iopdesk.models.base import Tracked, Voidable


class Client(Tracked, table=True):
    __table_args__ = (
        Index("ix_client_name", "last_name", "first_name"),
        # MRNs are unique ignoring case: 'm000001' is 'M000001' (migration 0007_pg_hardening)
        Index("ux_client_mrn_nocase", func.lower(literal_column("mrn")), unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    mrn: str = Field(unique=True, index=True)
    first_name: str
    middle_name: str = ""
    last_name: str
    preferred_name: str = ""
    pronouns: str = ""
    dob: date = Field(index=True)
    sex: str = ""
    phone: str = ""
    email: str = ""
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    primary_language: str = "English"
    status: str = Field(default="referral", index=True)
    part2: bool = False  # record falls under 42 CFR Part 2
    required_weekly_hours: Decimal | None = Field(default=None, max_digits=5, decimal_places=2)
    required_hours_until: date | None = None  # the override's last day (None: no end date)
    required_hours_reason: str = ""
    referral_source: str = ""
    admission_date: date | None = None  # current episode, denormalised for the census
    discharge_date: date | None = None


class Episode(Tracked, table=True):
    """One stay. Readmission opens a new episode and keeps the old ones."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    episode_no: int
    referral_date: date | None = None
    intake_date: date | None = None
    admission_date: date | None = None
    discharge_date: date | None = None
    status: str = "referral"


class StatusChange(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    episode_id: int | None = Field(default=None, foreign_key="episode.id")
    from_status: str | None = None
    to_status: str
    effective_date: date
    reason: str = ""


class EmergencyContact(Tracked, Voidable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    name: str
    relationship: str = ""
    phone: str = ""
    is_primary: bool = False


class Diagnosis(Tracked, Voidable, table=True):
    """ICD-10-CM diagnosis; exactly one active primary per client."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    icd10_code: str
    description: str = ""
    is_primary: bool = False
    sort_order: int = 0
    onset_date: date | None = None
    resolved_date: date | None = None


class Coverage(Tracked, Voidable, table=True):
    """A client's insurance: payer and member ID."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    payer_id: int = Field(foreign_key="payer.id", index=True)
    member_id: str = ""
    group_number: str = ""
    priority: int = 1
    start_date: date | None = None
    end_date: date | None = None
    # The subscriber (policy holder) when it is not the client (837 loop 2010BA / 2000C).
    subscriber_relationship: str = "self"  # self | spouse | child | other
    subscriber_first_name: str = ""
    subscriber_last_name: str = ""
    subscriber_dob: date | None = None
    subscriber_sex: str = ""  # F | M | U


class TrackEnrollment(Tracked, Voidable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    episode_id: int | None = Field(default=None, foreign_key="episode.id")
    track_id: int = Field(foreign_key="track.id", index=True)
    start_date: date
    end_date: date | None = Field(default=None, index=True)  # current ones: NULL or >= day
    end_reason: str = ""


class TherapistAssignment(Tracked, Voidable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    staff_id: int = Field(foreign_key="staff.id", index=True)
    role: str = "primary_therapist"
    start_date: date
    end_date: date | None = None
