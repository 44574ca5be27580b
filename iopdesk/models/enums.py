"""Enumerations stored as plain strings (portable across SQLite and PostgreSQL)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    FRONT_DESK = "front_desk"
    THERAPIST = "therapist"
    SUPERVISOR = "supervisor"
    BILLING = "billing"
    ADMIN = "admin"


class LevelOfCare(StrEnum):
    PHP = "PHP"
    IOP = "IOP"
    OP = "OP"


class Population(StrEnum):
    ADULT = "adult"
    ADOLESCENT = "adolescent"


class ClientStatus(StrEnum):
    REFERRAL = "referral"
    INTAKE = "intake"
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    DISCHARGED = "discharged"


class AssignmentRole(StrEnum):
    PRIMARY_THERAPIST = "primary_therapist"
    CASE_MANAGER = "case_manager"
    PSYCHIATRIST = "psychiatrist"


class SessionKind(StrEnum):
    GROUP = "group"
    INDIVIDUAL = "individual"
    FAMILY = "family"
    FAMILY_WITHOUT_CLIENT = "family_without_client"  # 90846: the family seen, the client not
    INTAKE = "intake"


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"


class Telehealth(StrEnum):
    NO = "no"
    OFFICE = "office"
    HOME = "home"
    # audio only (no video): the same places of service, modifier FQ or 93 by payer
    OFFICE_AUDIO = "office_audio"
    HOME_AUDIO = "home_audio"


class AttendanceStatus(StrEnum):
    PRESENT = "present"
    LATE = "late"
    LEFT_EARLY = "left_early"
    ABSENT_EXCUSED = "absent_excused"
    ABSENT_UNEXCUSED = "absent_unexcused"


ATTENDED_STATUSES = (AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.LEFT_EARLY)


class NoteFormat(StrEnum):
    SOAP = "SOAP"
    DAP = "DAP"
    BIRP = "BIRP"
    GIRP = "GIRP"
    CUSTOM = "custom"
    GROUP = "group"


NOTE_SECTIONS: dict[str, tuple[str, ...]] = {
    "SOAP": ("Subjective", "Objective", "Assessment", "Plan"),
    "DAP": ("Data", "Assessment", "Plan"),
    "BIRP": ("Behavior", "Intervention", "Response", "Plan"),
    "GIRP": ("Goal", "Intervention", "Response", "Plan"),
}


# Therapy modalities a note records; a treatment plan's interventions add two more
# (services/plans.py MODALITIES).
THERAPY_MODALITIES: tuple[str, ...] = (
    "CBT",
    "DBT",
    "Motivational Interviewing",
    "Psychodynamic",
    "Psychoeducation",
    "Mindfulness",
    "Family systems",
    "Relapse prevention",
    "Trauma-informed care",
)


class NoteStatus(StrEnum):
    DRAFT = "draft"
    SIGNED = "signed"
    VOIDED = "voided"


class DischargeType(StrEnum):
    COMPLETED = "completed_program"
    STEP_DOWN = "step_down_transfer"
    AMA = "left_against_advice"
    ADMINISTRATIVE = "administrative"  # TEDS: terminated by facility
    INCARCERATED = "incarcerated"
    DEATH = "death"
    OTHER = "other"


class BillingMode(StrEnum):
    PER_DIEM = "per_diem"
    PER_SERVICE = "per_service"


class BatchStatus(StrEnum):
    EXPORTED = "exported"
    VOIDED = "voided"


class DisclosureKind(StrEnum):
    DISCLOSURE = "disclosure"
    INTERNAL = "internal"
    CLIENT_COPY = "client_copy"


class PlanStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    FINALIZED = "finalized"
    SUPERSEDED = "superseded"
