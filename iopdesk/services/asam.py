"""ASAM Criteria dimensions (issue 20 item 5): at admission and at each treatment-plan review,
the six dimensions each rated 0-4 (no risk to very high risk) with a note, and the
recommended level of care; when the client is placed elsewhere the reason is recorded.

Decisions where the issue is silent: a rating of 2 or more needs its note (the justification a
reviewer looks for); an assessment is recorded once (a mistake is voided with a reason and
entered again); "plan_review" assessments may name the treatment plan they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, PermissionDenied, ValidationError
from iopdesk.models import AsamAssessment, Client, Staff, TreatmentPlan, utcnow
from iopdesk.reports.data.asam import DIMENSIONS as DIMENSIONS
from iopdesk.reports.data.asam import OCCASIONS as OCCASIONS
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.clients import require_clinical_in
from iopdesk.services.clinic import clinic_today
from iopdesk.services.declare import Audited, about, service
from iopdesk.services.permissions import Perm, require
from iopdesk.services.records import update_versioned

RATING_LABELS = ("0 - none", "1 - mild", "2 - moderate", "3 - significant", "4 - severe")
LEVELS = {
    "0.5": "0.5 Early intervention",
    "1": "1 Outpatient (OP)",
    "2.1": "2.1 Intensive outpatient (IOP)",
    "2.5": "2.5 Partial hospitalization (PHP)",
    "3.1": "3.1 Clinically managed low-intensity residential",
    "3.3": "3.3 Clinically managed population-specific high-intensity residential",
    "3.5": "3.5 Clinically managed high-intensity residential",
    "3.7": "3.7 Medically monitored intensive inpatient",
    "4": "4 Medically managed intensive inpatient",
}


@dataclass
class AsamInput:
    assessed_on: date
    occasion: str
    ratings: tuple[int, int, int, int, int, int]
    notes: tuple[str, str, str, str, str, str]
    recommended_level: str
    placed_level: str = ""
    variance_reason: str = ""
    plan_id: int | None = None


@dataclass(frozen=True)
class AsamInfo:
    id: int
    version: int
    client_id: int
    assessed_on: date
    occasion: str
    ratings: tuple[int, ...]
    notes: tuple[str, ...]
    recommended_level: str
    placed_level: str
    variance_reason: str
    plan_id: int | None
    clinician: str

    @property
    def recommended_label(self) -> str:
        return LEVELS.get(self.recommended_level, self.recommended_level)

    @property
    def placed_label(self) -> str:
        return LEVELS.get(self.placed_level, self.placed_level)


def validate(data: AsamInput, today: date) -> None:
    errors: dict[str, str] = {}
    if data.assessed_on > today:
        errors["assessed_on"] = "The assessment date cannot be in the future."
    if data.occasion not in OCCASIONS:
        errors["occasion"] = "Choose admission, plan review or other."
    if len(data.ratings) != 6 or len(data.notes) != 6:
        errors["ratings"] = "Rate all six dimensions."
    else:
        for n, (rating, note) in enumerate(zip(data.ratings, data.notes, strict=True), start=1):
            if isinstance(rating, bool) or not isinstance(rating, int) or not 0 <= rating <= 4:
                errors[f"d{n}"] = f"Dimension {n} needs a rating from 0 to 4."
            elif rating >= 2 and not note.strip():
                errors[f"d{n}_note"] = (
                    f"Dimension {n} is rated {rating}: write the note that explains the rating."
                )
    if data.recommended_level not in LEVELS:
        errors["recommended_level"] = "Choose the recommended level of care."
    if data.placed_level and data.placed_level not in LEVELS:
        errors["placed_level"] = "Choose the level of care the client is placed in."
    if (
        data.placed_level
        and data.placed_level != data.recommended_level
        and not data.variance_reason.strip()
    ):
        errors["variance_reason"] = (
            "The client is placed at a different level than recommended: give the reason "
            "(for example client preference, not available, payer)."
        )
    if errors:
        first = next(iter(errors.values()))
        raise ValidationError(
            first if len(errors) == 1 else f"Please correct the highlighted fields. {first}",
            errors,
        )


def _info(session: Session, a: AsamAssessment) -> AsamInfo:
    s = session.get(Staff, a.staff_id)
    ratings = tuple(getattr(a, f"d{n}_rating") for n in range(1, 7))
    notes = tuple(getattr(a, f"d{n}_note") for n in range(1, 7))
    return AsamInfo(
        a.id or 0, a.version, a.client_id, a.assessed_on, a.occasion, ratings, notes,
        a.recommended_level, a.placed_level, a.variance_reason, a.plan_id,
        f"{s.first_name} {s.last_name}" + (f", {s.credentials}" if s.credentials else "")
        if s else "",
    )  # fmt: skip


def _check(session: Session, actor: Actor, client_id: int, what: str) -> None:
    if session.get(Client, client_id) is None:
        raise NotFoundError("That client record does not exist.")
    require_clinical_in(session, actor, client_id, entity="asam", entity_id="", what=what)


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.CREATE, "asam"))
def record_asam(session: Session, actor: Actor, client_id: int, data: AsamInput) -> AsamInfo:
    if actor.staff_id is None:
        raise PermissionDenied("Your user account is not linked to a staff record.")
    _check(session, actor, client_id, "record their ASAM dimensions")
    validate(data, clinic_today(session))
    if data.plan_id is not None:
        plan = session.get(TreatmentPlan, data.plan_id)
        if plan is None or plan.client_id != client_id:
            raise ValidationError("That treatment plan is not this client's.")
    elif data.occasion == "plan_review":  # belongs to the plan being reviewed
        data.plan_id = session.exec(
            select(TreatmentPlan.id)
            .where(TreatmentPlan.client_id == client_id, TreatmentPlan.status != "superseded")
            .order_by(col(TreatmentPlan.start_date).desc(), col(TreatmentPlan.id).desc())
        ).first()
    values: dict[str, object] = {}
    for n in range(6):
        values[f"d{n + 1}_rating"] = data.ratings[n]
        values[f"d{n + 1}_note"] = data.notes[n].strip()
    a = AsamAssessment(
        client_id=client_id,
        assessed_on=data.assessed_on,
        occasion=data.occasion,
        plan_id=data.plan_id,
        recommended_level=data.recommended_level,
        placed_level=data.placed_level,
        variance_reason=data.variance_reason.strip(),
        staff_id=actor.staff_id,
        **values,  # type: ignore[arg-type]
    )
    session.add(a)
    session.flush()
    about(
        session,
        entity_id=a.id,
        client_id=client_id,
        detail=f"{data.occasion}; level {data.recommended_level}",
    )
    return _info(session, a)


def asam_in(session: Session, client_id: int) -> list[AsamInfo]:
    rows = session.exec(
        select(AsamAssessment)
        .where(AsamAssessment.client_id == client_id, col(AsamAssessment.voided_at).is_(None))
        .order_by(col(AsamAssessment.assessed_on).desc(), col(AsamAssessment.id).desc())
    ).all()
    return [_info(session, a) for a in rows]


def due_in(session: Session, client_id: int) -> str:
    """What is missing, in words ("" when up to date): an admission assessment, or one for
    the newest plan review."""
    from iopdesk.models import PlanReview

    rows = asam_in(session, client_id)
    if not rows:
        return "No ASAM dimensions are recorded for this client: rate them at admission."
    review = session.exec(
        select(PlanReview)
        .join(TreatmentPlan, col(TreatmentPlan.id) == col(PlanReview.plan_id))
        .where(TreatmentPlan.client_id == client_id)
        .order_by(col(PlanReview.review_date).desc())
    ).first()
    newest_review = review.review_date if review is not None else None
    if newest_review is not None and rows[0].assessed_on < newest_review:
        return (
            f"The plan review of {newest_review:%m/%d/%Y} has no ASAM dimensions: rate them "
            "again for the review."
        )
    return ""


def asam_due(db: Database, actor: Actor, client_id: int) -> str:
    require(actor, Perm.CLINICAL_VIEW)
    with db.session() as session:
        _check(session, actor, client_id, "see their ASAM dimensions")
        return due_in(session, client_id)


def list_asam(db: Database, actor: Actor, client_id: int) -> list[AsamInfo]:
    """Newest first; reading is audited."""
    require(actor, Perm.CLINICAL_VIEW)
    with db.session() as session:
        _check(session, actor, client_id, "see their ASAM dimensions")
        rows = asam_in(session, client_id)
        audit.record(
            session, actor, audit.Action.READ, entity="asam", client_id=client_id,
            detail=f"{len(rows)} assessments",
        )  # fmt: skip
        return rows


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.UPDATE, "asam"))
def void_asam(
    session: Session, actor: Actor, assessment_id: int, expected_version: int, reason: str
) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give a reason for voiding the assessment.", {"reason": "Required."})
    a = session.get(AsamAssessment, assessment_id)
    if a is None or a.voided_at is not None:
        raise NotFoundError("That ASAM assessment does not exist.")
    _check(session, actor, a.client_id, "change their ASAM dimensions")
    client_id = a.client_id
    update_versioned(
        session, actor, AsamAssessment, assessment_id, expected_version,
        {"voided_at": utcnow(), "voided_by": actor.user_id, "void_reason": reason[:200]},
        what="This ASAM assessment",
    )  # fmt: skip
    about(session, entity_id=assessment_id, client_id=client_id, detail="voided")


def chart_asam(db: Database, actor: Actor, client_id: int) -> tuple[list[AsamInfo], str]:
    """The chart's ASAM tab in one transaction: list_asam (audited as it is) and asam_due,
    with one caseload check."""
    require(actor, Perm.CLINICAL_VIEW)
    with db.session() as session:
        _check(session, actor, client_id, "see their ASAM dimensions")
        rows = asam_in(session, client_id)
        due = due_in(session, client_id)
        audit.record(
            session, actor, audit.Action.READ, entity="asam", client_id=client_id,
            detail=f"{len(rows)} assessments",
        )  # fmt: skip
        return rows, due
