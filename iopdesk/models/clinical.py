"""Notes with addenda and signatures, treatment plans, outcome measures."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field

from iopdesk.models.base import Tracked, UTCDateTime, Voidable


class NoteTemplate(Tracked, table=True):
    """A clinic-defined note template: section names as a JSON list."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    sections_json: str
    active: bool = True


class GroupNote(Tracked, Voidable, table=True):
    """The shared narrative of a group session, written once."""

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="clinic_session.id", index=True)
    author_staff_id: int = Field(foreign_key="staff.id")
    topic: str = ""
    interventions: str = ""
    modalities: str = ""
    narrative: str = ""
    status: str = "draft"


class Note(Tracked, Voidable, table=True):
    """A progress note in one client's chart (also each client's part of a group note)."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    session_id: int | None = Field(default=None, foreign_key="clinic_session.id", index=True)
    group_note_id: int | None = Field(default=None, foreign_key="groupnote.id", index=True)
    author_staff_id: int = Field(foreign_key="staff.id", index=True)
    format: str = "DAP"
    template_id: int | None = Field(default=None, foreign_key="notetemplate.id")
    service_date: date
    content_json: str = "{}"  # section name -> text
    modalities: str = ""  # comma-separated
    goals_addressed: str = ""  # comma-separated plan goal ids
    risk_suicidal: bool = False
    risk_homicidal: bool = False
    # Was the risk screen done at all? None: not recorded (notes written before it was asked).
    risk_screened: bool | None = None
    safety_plan: str = ""
    service_minutes: int | None = None
    status: str = Field(default="draft", index=True)
    signed_by: int | None = Field(default=None, foreign_key="app_user.id")
    signed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    content_sha256: str | None = None
    late_entry: bool = False
    cosign_required: bool = False
    cosigned_by: int | None = Field(default=None, foreign_key="app_user.id")
    cosigned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class NoteAddendum(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    note_id: int = Field(foreign_key="note.id", index=True)
    author_staff_id: int = Field(foreign_key="staff.id")
    text: str
    signed_by: int | None = Field(default=None, foreign_key="app_user.id")
    signed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    content_sha256: str | None = None


class TreatmentPlan(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    episode_id: int | None = Field(default=None, foreign_key="episode.id")
    status: str = "draft"
    start_date: date
    review_interval_days: int = 30
    next_review_date: date | None = None
    clinician_signed_by: int | None = Field(default=None, foreign_key="app_user.id")
    clinician_signed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    client_agreed: bool = False
    client_signed_date: date | None = None
    content_sha256: str | None = None


class PlanProblem(Tracked, Voidable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="treatmentplan.id", index=True)
    description: str
    sort_order: int = 0


class PlanGoal(Tracked, Voidable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    problem_id: int = Field(foreign_key="planproblem.id", index=True)
    description: str
    client_words: str = ""
    status: str = "open"
    sort_order: int = 0


class PlanObjective(Tracked, Voidable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    goal_id: int = Field(foreign_key="plangoal.id", index=True)
    description: str
    target_date: date | None = None
    status: str = "open"
    sort_order: int = 0


class PlanIntervention(Tracked, Voidable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    objective_id: int = Field(foreign_key="planobjective.id", index=True)
    description: str
    modality: str = ""
    frequency: str = ""
    responsible_staff_id: int | None = Field(default=None, foreign_key="staff.id")


class PlanReview(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="treatmentplan.id", index=True)
    review_date: date
    reviewer_staff_id: int = Field(foreign_key="staff.id")
    summary: str = ""
    signed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class GoalProgress(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="planreview.id", index=True)
    goal_id: int = Field(foreign_key="plangoal.id")
    rating: str = ""  # e.g. achieved / progressing / no change / regressed
    comment: str = ""


class OutcomeMeasure(Tracked, Voidable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    instrument: str  # PHQ-9 | GAD-7
    measure_date: date
    item_scores: str  # comma-separated integers
    total: int
    administered_by: int | None = Field(default=None, foreign_key="staff.id")
