"""A treatment plan as printed (problems, goals, objectives, interventions, reviews).

Plain data built by iopdesk.services.plans and read by the writers in iopdesk.reports; the
services import these types from here (reports never import services).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from iopdesk.models.enums import PlanStatus

RATING_LABELS = {
    "achieved": "Achieved",
    "progressing": "Progressing",
    "no change": "No change",
    "regressed": "Regressed",
}
DUE_WINDOW_DAYS = 7
STATUS_LABELS = {
    PlanStatus.DRAFT.value: "Draft",
    PlanStatus.ACTIVE.value: "Signed (active)",
    PlanStatus.FINALIZED.value: "Finalized",
    PlanStatus.SUPERSEDED.value: "Superseded",
}


@dataclass(frozen=True)
class InterventionInfo:
    id: int
    objective_id: int
    description: str
    modality: str
    frequency: str
    responsible_staff_id: int | None
    responsible: str
    version: int


@dataclass(frozen=True)
class ObjectiveInfo:
    id: int
    goal_id: int
    description: str
    target_date: date | None
    status: str
    version: int
    interventions: list[InterventionInfo] = field(default_factory=list)


@dataclass(frozen=True)
class GoalInfo:
    id: int
    problem_id: int
    description: str
    client_words: str
    status: str
    version: int
    objectives: list[ObjectiveInfo] = field(default_factory=list)


@dataclass(frozen=True)
class ProblemInfo:
    id: int
    plan_id: int
    description: str
    version: int
    goals: list[GoalInfo] = field(default_factory=list)


@dataclass(frozen=True)
class ProgressInfo:
    goal_id: int
    goal: str
    rating: str
    comment: str

    @property
    def rating_label(self) -> str:
        return RATING_LABELS.get(self.rating, self.rating)


@dataclass(frozen=True)
class ReviewInfo:
    id: int
    review_date: date
    reviewer: str
    summary: str
    signed_at: datetime | None
    progress: list[ProgressInfo]


@dataclass(frozen=True)
class PlanInfo:
    id: int
    client_id: int
    episode_id: int | None
    status: str
    start_date: date
    review_interval_days: int
    next_review_date: date | None
    clinician_signed_by: str
    clinician_signed_at: datetime | None
    client_agreed: bool
    client_signed_date: date | None
    version: int
    problems: list[ProblemInfo]
    reviews: list[ReviewInfo]

    @property
    def locked(self) -> bool:
        return self.status != PlanStatus.DRAFT.value

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    def goals(self) -> list[GoalInfo]:
        return [g for p in self.problems for g in p.goals]

    def review_state(self, today: date) -> str:
        return review_state(self.status, self.next_review_date, today)


def review_state(status: str, next_review: date | None, today: date) -> str:
    """'' (not due), 'due' (within DUE_WINDOW_DAYS) or 'overdue'; only signed plans are due."""
    if status != PlanStatus.ACTIVE.value or next_review is None:
        return ""
    if next_review < today:
        return "overdue"
    if next_review <= today + timedelta(days=DUE_WINDOW_DAYS):
        return "due"
    return ""


@dataclass(frozen=True)
class PlanPrint:
    """Everything the PDF writer needs, as plain data."""

    clinic_name: str
    clinic_address: str
    clinic_phone: str
    client_name: str
    mrn: str
    dob: date
    part2: bool
    plan: PlanInfo
    printed_at: datetime
    # (ICD-10-CM code, description, primary) of the client's current diagnoses
    diagnoses: tuple[tuple[str, str, bool], ...] = ()
    asam: Any = None  # services.asam.AsamInfo: newest ASAM dimensions on or before printing
