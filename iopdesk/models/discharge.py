"""Discharge and the aftercare plan the client takes home."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlmodel import Field

from iopdesk.models.base import Tracked, UTCDateTime, Voidable


class Discharge(Tracked, Voidable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    episode_id: int | None = Field(default=None, foreign_key="episode.id")
    discharge_date: date
    discharge_type: str
    reason: str = ""
    summary: str = ""
    step_down_level: str = ""
    receiving_provider: str = ""
    signed_by: int | None = Field(default=None)  # app_user id; signed summaries are locked
    signed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    content_sha256: str | None = None


class DischargeAddendum(Tracked, table=True):
    """A dated, signed correction or late entry to a signed discharge summary (locked)."""

    id: int | None = Field(default=None, primary_key=True)
    discharge_id: int = Field(foreign_key="discharge.id", index=True)
    author_user_id: int = Field(foreign_key="app_user.id")
    text: str
    signed_at: datetime = Field(sa_type=UTCDateTime)
    content_sha256: str


class DischargeGoalProgress(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    discharge_id: int = Field(foreign_key="discharge.id", index=True)
    goal_id: int | None = Field(default=None, foreign_key="plangoal.id")
    goal_text: str = ""
    progress: str = ""


class AftercarePlan(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    discharge_id: int | None = Field(default=None, foreign_key="discharge.id")
    status: str = "draft"  # draft | finalized
    triggers: str = ""
    warning_signs: str = ""
    coping_strategies: str = ""
    client_goals: str = ""
    strengths: str = ""
    finalized_by: int | None = Field(default=None, foreign_key="app_user.id")
    finalized_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AftercareAppointment(Tracked, Voidable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="aftercareplan.id", index=True)
    provider: str
    appointment_type: str = ""
    appointment_date: date | None = None
    appointment_time: time | None = None
    address: str = ""
    phone: str = ""
    sort_order: int = 0


class AftercareMedication(Tracked, Voidable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="aftercareplan.id", index=True)
    name: str
    dose: str = ""
    schedule: str = ""
    prescriber: str = ""
    sort_order: int = 0


class AftercareSupportGroup(Tracked, Voidable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="aftercareplan.id", index=True)
    name: str
    day: str = ""
    meeting_time: str = ""
    place: str = ""
    sort_order: int = 0


class AftercareContact(Tracked, Voidable, table=True):
    """A support person to call."""

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="aftercareplan.id", index=True)
    name: str
    relationship: str = ""
    phone: str = ""
    sort_order: int = 0


class AftercareCrisisResource(Tracked, Voidable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="aftercareplan.id", index=True)
    name: str
    contact: str = ""
    description: str = ""
    sort_order: int = 0
