"""Treatment plans: problems -> goals -> objectives -> interventions, signing, reviews.

Life cycle (PlanStatus):
- draft: editable by clinical staff who may see the chart; every edit checks the record's
  version, so two workstations never overwrite each other silently.
- active: signed by a clinician (signer + time). A signed plan is locked: its wording cannot
  change. Progress is recorded by reviews (progress per goal; a goal rated "achieved" is marked
  achieved), and any change of wording goes through `revise_plan`, which copies the plan into a
  new draft. When that draft is signed, the earlier plan becomes "superseded" and stays on
  record, unchanged, with its reviews.
- the client's agreement (client_agreed + the date the client signed) may be recorded on a draft
  or a signed plan: clients often sign after the clinician.

Reviews are due every `review_interval_days` (setting `plan_review_days`, default 30): the
first on start date + interval, each next on review date + interval. A review is "overdue" once
its date has passed and "due" from DUE_WINDOW_DAYS before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, or_, select

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, PermissionDenied, UserError, ValidationError
from iopdesk.models import (
    Client,
    GoalProgress,
    PlanGoal,
    PlanIntervention,
    PlanObjective,
    PlanProblem,
    PlanReview,
    Staff,
    TherapistAssignment,
    TreatmentPlan,
    User,
    utcnow,
)
from iopdesk.models.enums import THERAPY_MODALITIES, PlanStatus, Role
from iopdesk.reports.data.plans import DUE_WINDOW_DAYS as DUE_WINDOW_DAYS
from iopdesk.reports.data.plans import RATING_LABELS as RATING_LABELS
from iopdesk.reports.data.plans import STATUS_LABELS as STATUS_LABELS
from iopdesk.reports.data.plans import GoalInfo as GoalInfo
from iopdesk.reports.data.plans import InterventionInfo as InterventionInfo
from iopdesk.reports.data.plans import ObjectiveInfo as ObjectiveInfo
from iopdesk.reports.data.plans import PlanInfo as PlanInfo
from iopdesk.reports.data.plans import PlanPrint as PlanPrint
from iopdesk.reports.data.plans import ProblemInfo as ProblemInfo
from iopdesk.reports.data.plans import ProgressInfo as ProgressInfo
from iopdesk.reports.data.plans import ReviewInfo as ReviewInfo
from iopdesk.reports.data.plans import review_state as review_state
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.clients import require_clinical_in
from iopdesk.services.clinic import clinic_today, get_setting_in
from iopdesk.services.declare import Audited, about, service
from iopdesk.services.disclosures import Release
from iopdesk.services.people import user_name
from iopdesk.services.permissions import Perm, has, require
from iopdesk.services.records import update_versioned

MODALITIES = (*THERAPY_MODALITIES, "Medication management", "Case management")
FREQUENCIES = (
    "Daily in program",
    "3x weekly",
    "Weekly",
    "Every 2 weeks",
    "Monthly",
    "As needed",
)
RATINGS = ("achieved", "progressing", "no change", "regressed")
MAX_TEXT = 2000


# ------------------------------------------------------------------------------------------
# Plain data returned to the UI and the PDF writer
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanSummary:
    id: int
    status: str
    start_date: date
    clinician_signed_at: datetime | None
    next_review_date: date | None
    client_agreed: bool

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class GoalRating:
    """One goal's progress as entered on a review."""

    goal_id: int
    rating: str
    comment: str = ""


@dataclass(frozen=True)
class DueReview:
    plan_id: int
    client_id: int
    client: str
    mrn: str
    next_review_date: date
    state: str  # "due" | "overdue"
    days: int  # days overdue (positive) or days until due (zero or positive)


@dataclass(frozen=True)
class ReviewCounts:
    due: int
    overdue: int
    scope: str  # "mine" | "clinic"


# ------------------------------------------------------------------------------------------
# Access helpers
# ------------------------------------------------------------------------------------------


def _check_chart(session: Session, actor: Actor, client_id: int, entity: str, ent_id: Any) -> None:
    require_clinical_in(
        session,
        actor,
        client_id,
        entity=entity,
        entity_id=ent_id,
        what="see or change their treatment plan",
    )


def _plan(session: Session, plan_id: int) -> TreatmentPlan:
    plan = session.get(TreatmentPlan, plan_id)
    if plan is None:
        raise NotFoundError("That treatment plan does not exist.")
    return plan


def _editable_plan(session: Session, actor: Actor, plan_id: int) -> TreatmentPlan:
    plan = _plan(session, plan_id)
    _check_chart(session, actor, plan.client_id, "treatment_plan", plan_id)
    if plan.status != PlanStatus.DRAFT.value:
        raise UserError(
            "This treatment plan is signed and locked. Record progress with a review, or use "
            "'Revise plan' to start a new version that you can edit and sign."
        )
    return plan


def _text(value: str, label: str, key: str, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError(f"Enter the {label}.", {key: "Required."})
    if len(value) > MAX_TEXT:
        raise ValidationError(
            f"The {label} is too long ({len(value)} characters; at most {MAX_TEXT}).",
            {key: "Too long."},
        )
    return value


def _interval(value: int) -> int:
    if not 7 <= value <= 365:
        raise ValidationError(
            "The review interval must be between 7 and 365 days.",
            {"review_interval_days": "7-365 days."},
        )
    return value


def _staff_name(session: Session, staff_id: int | None) -> str:
    if staff_id is None:
        return ""
    s = session.get(Staff, staff_id)
    if s is None:
        return ""
    return f"{s.first_name} {s.last_name}" + (f", {s.credentials}" if s.credentials else "")


# ------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------


def list_plans(db: Database, actor: Actor, client_id: int) -> list[PlanSummary]:
    """The client's plans, newest first (plan headers only; no clinical text)."""
    require(actor, Perm.CLINICAL_VIEW)
    # a write unit: a refused read is audited (and committed)
    with db.session() as session:
        _check_chart(session, actor, client_id, "treatment_plan", "")
        plans = session.exec(
            select(TreatmentPlan)
            .where(TreatmentPlan.client_id == client_id)
            .order_by(col(TreatmentPlan.start_date).desc(), col(TreatmentPlan.id).desc())
        ).all()
        return [
            PlanSummary(
                p.id or 0,
                p.status,
                p.start_date,
                p.clinician_signed_at,
                p.next_review_date,
                p.client_agreed,
            )
            for p in plans
        ]


def current_plan_id(db: Database, actor: Actor, client_id: int) -> int | None:
    """The plan the chart opens on: a draft being written, else the signed (active) plan,
    else the newest plan of any status."""
    plans = list_plans(db, actor, client_id)
    for wanted in (PlanStatus.DRAFT.value, PlanStatus.ACTIVE.value):
        for p in plans:
            if p.status == wanted:
                return p.id
    return plans[0].id if plans else None


@dataclass(frozen=True)
class ChartPlans:
    """What the chart's Treatment plan tab shows: the plan list, the plan shown (the current
    one unless another was asked for) and the client's outcome measures."""

    summaries: list[PlanSummary]
    plan_id: int | None
    plan: PlanInfo | None
    measures: list[Any]


def chart_plans(
    db: Database, actor: Actor, client_id: int, plan_id: int | None = None
) -> ChartPlans:
    """list_plans, current_plan_id, get_plan and measures.list_measures in one transaction:
    one caseload check and one audit record of the reading (the plan, with the number of
    outcome measures read alongside)."""
    from iopdesk.services import measures

    require(actor, Perm.CLINICAL_VIEW)
    with db.session() as session:
        _check_chart(session, actor, client_id, "treatment_plan", "")
        rows = session.exec(
            select(TreatmentPlan)
            .where(TreatmentPlan.client_id == client_id)
            .order_by(col(TreatmentPlan.start_date).desc(), col(TreatmentPlan.id).desc())
        ).all()
        summaries = [
            PlanSummary(
                p.id or 0,
                p.status,
                p.start_date,
                p.clinician_signed_at,
                p.next_review_date,
                p.client_agreed,
            )
            for p in rows
        ]
        if plan_id is None:
            plan_id = _current_of(summaries)
        plan = next((p for p in rows if p.id == plan_id), None)
        if plan_id is not None and plan is None:
            plan = _plan(session, plan_id)  # another client's plan id: refused below
            _check_chart(session, actor, plan.client_id, "treatment_plan", plan_id)
        measured = measures.measures_in(session, client_id)
        audit.record(
            session,
            actor,
            audit.Action.READ,
            entity="treatment_plan",
            entity_id=plan_id if plan_id is not None else "",
            client_id=client_id,
            detail=f"with {len(measured)} outcome measures",
        )
        info = _plan_info(session, plan) if plan is not None else None
        return ChartPlans(summaries, plan_id, info, measured)


def _current_of(plans: Sequence[PlanSummary]) -> int | None:
    for wanted in (PlanStatus.DRAFT.value, PlanStatus.ACTIVE.value):
        for p in plans:
            if p.status == wanted:
                return p.id
    return plans[0].id if plans else None


def get_plan(db: Database, actor: Actor, plan_id: int) -> PlanInfo:
    """The whole plan with its reviews; every view is audited."""
    require(actor, Perm.CLINICAL_VIEW)
    with db.session() as session:
        plan = _plan(session, plan_id)
        _check_chart(session, actor, plan.client_id, "treatment_plan", plan_id)
        audit.record(
            session,
            actor,
            audit.Action.READ,
            entity="treatment_plan",
            entity_id=plan_id,
            client_id=plan.client_id,
        )
        return _plan_info(session, plan)


def _plan_info(session: Session, plan: TreatmentPlan) -> PlanInfo:
    """The whole plan in a fixed handful of queries: the problem > goal > objective >
    intervention tree in one (outer joins), the reviews and their goal ratings in two, the
    people named in one."""
    pid = plan.id or 0
    tree = session.execute(
        sa_select(PlanProblem, PlanGoal, PlanObjective, PlanIntervention)
        .outerjoin(
            PlanGoal,
            and_(
                col(PlanGoal.problem_id) == col(PlanProblem.id), col(PlanGoal.voided_at).is_(None)
            ),
        )
        .outerjoin(
            PlanObjective,
            and_(
                col(PlanObjective.goal_id) == col(PlanGoal.id),
                col(PlanObjective.voided_at).is_(None),
            ),
        )
        .outerjoin(
            PlanIntervention,
            and_(
                col(PlanIntervention.objective_id) == col(PlanObjective.id),
                col(PlanIntervention.voided_at).is_(None),
            ),
        )
        .where(col(PlanProblem.plan_id) == pid, col(PlanProblem.voided_at).is_(None))
    ).all()
    found_problems: dict[int, PlanProblem] = {}
    found_goals: dict[int, PlanGoal] = {}
    found_objectives: dict[int, PlanObjective] = {}
    found_interventions: dict[int, PlanIntervention] = {}
    for p, g, o, i in tree:
        found_problems[p.id] = p
        if g is not None:
            found_goals[g.id] = g
        if o is not None:
            found_objectives[o.id] = o
        if i is not None:
            found_interventions[i.id] = i
    problems = sorted(found_problems.values(), key=lambda p: (p.sort_order, p.id or 0))
    goals = sorted(found_goals.values(), key=lambda g: (g.sort_order, g.id or 0))
    objectives = sorted(found_objectives.values(), key=lambda o: (o.sort_order, o.id or 0))
    interventions = sorted(found_interventions.values(), key=lambda i: i.id or 0)
    reviews = session.exec(
        select(PlanReview)
        .where(PlanReview.plan_id == pid)
        .order_by(col(PlanReview.review_date), col(PlanReview.id))
    ).all()
    progress_by_review: dict[int, list[GoalProgress]] = {}
    if reviews:
        for gp in session.exec(
            select(GoalProgress)
            .where(col(GoalProgress.review_id).in_([r.id for r in reviews]))
            .order_by(col(GoalProgress.id))
        ).all():
            progress_by_review.setdefault(gp.review_id, []).append(gp)
    # the people named: this local holds them while the names are built (the session's
    # identity map keeps weak references)
    _people = _load_people(
        session,
        {plan.clinician_signed_by},
        {i.responsible_staff_id for i in interventions} | {r.reviewer_staff_id for r in reviews},
    )
    by_objective: dict[int, list[InterventionInfo]] = {}
    for i in interventions:
        by_objective.setdefault(i.objective_id, []).append(
            InterventionInfo(
                i.id or 0,
                i.objective_id,
                i.description,
                i.modality,
                i.frequency,
                i.responsible_staff_id,
                _staff_name(session, i.responsible_staff_id),
                i.version,
            )
        )
    by_goal: dict[int, list[ObjectiveInfo]] = {}
    for o in objectives:
        by_goal.setdefault(o.goal_id, []).append(
            ObjectiveInfo(
                o.id or 0,
                o.goal_id,
                o.description,
                o.target_date,
                o.status,
                o.version,
                by_objective.get(o.id or 0, []),
            )
        )
    by_problem: dict[int, list[GoalInfo]] = {}
    goal_text: dict[int, str] = {}
    for g in goals:
        goal_text[g.id or 0] = g.description
        by_problem.setdefault(g.problem_id, []).append(
            GoalInfo(
                g.id or 0,
                g.problem_id,
                g.description,
                g.client_words,
                g.status,
                g.version,
                by_goal.get(g.id or 0, []),
            )
        )
    problem_infos = [
        ProblemInfo(p.id or 0, pid, p.description, p.version, by_problem.get(p.id or 0, []))
        for p in problems
    ]
    review_infos = []
    for r in reviews:
        progress_rows = progress_by_review.get(r.id or 0, [])
        progress = []
        for gp in progress_rows:
            text = goal_text.get(gp.goal_id)
            if text is None:
                old_goal = session.get(PlanGoal, gp.goal_id)
                text = old_goal.description if old_goal else ""
            progress.append(ProgressInfo(gp.goal_id, text, gp.rating, gp.comment))
        review_infos.append(
            ReviewInfo(
                r.id or 0,
                r.review_date,
                _staff_name(session, r.reviewer_staff_id),
                r.summary,
                r.signed_at,
                progress,
            )
        )
    return PlanInfo(
        pid,
        plan.client_id,
        plan.episode_id,
        plan.status,
        plan.start_date,
        plan.review_interval_days,
        plan.next_review_date,
        user_name(session, plan.clinician_signed_by),
        plan.clinician_signed_at,
        plan.client_agreed,
        plan.client_signed_date,
        plan.version,
        problem_infos,
        review_infos,
    )


def _load_people(
    session: Session, user_ids: set[int | None], staff_ids: set[int | None]
) -> list[Any]:
    """These users and staff (and the users' staff rows) in two queries, so that _user_name
    and _staff_name answer from the session; the caller holds the rows while it needs them
    (the session's identity map keeps weak references)."""
    ids = sorted(i for i in user_ids if i is not None)
    users = list(session.exec(select(User).where(col(User.id).in_(ids))).all()) if ids else []
    wanted = {i for i in staff_ids if i is not None} | {
        u.staff_id for u in users if u.staff_id is not None
    }
    staff = (
        list(session.exec(select(Staff).where(col(Staff.id).in_(sorted(wanted)))).all())
        if wanted
        else []
    )
    return [*users, *staff]


# ------------------------------------------------------------------------------------------
# Creating and editing a draft
# ------------------------------------------------------------------------------------------


def _open_draft(session: Session, client_id: int) -> TreatmentPlan | None:
    return session.exec(
        select(TreatmentPlan).where(
            TreatmentPlan.client_id == client_id,
            TreatmentPlan.status == PlanStatus.DRAFT.value,
        )
    ).first()


def _current_episode(session: Session, client_id: int) -> int | None:
    from iopdesk.models import Episode

    return session.exec(
        select(Episode.id)
        .where(Episode.client_id == client_id)
        .order_by(col(Episode.episode_no).desc())
        .limit(1)
    ).first()


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.CREATE, "treatment_plan"))
def create_plan(
    session: Session,
    actor: Actor,
    client_id: int,
    start_date: date | None = None,
    review_interval_days: int | None = None,
) -> int:
    """A new, empty draft plan. A client has at most one draft at a time."""
    client = session.get(Client, client_id)
    if client is None:
        raise NotFoundError("That client does not exist.")
    _check_chart(session, actor, client_id, "treatment_plan", "")
    if _open_draft(session, client_id) is not None:
        raise UserError(
            "This client already has a draft treatment plan. Finish and sign that draft "
            "instead of starting another one."
        )
    interval = _interval(
        review_interval_days
        if review_interval_days is not None
        else int(get_setting_in(session, "plan_review_days"))
    )
    plan = TreatmentPlan(
        client_id=client_id,
        episode_id=_current_episode(session, client_id),
        status=PlanStatus.DRAFT.value,
        start_date=start_date or clinic_today(session),
        review_interval_days=interval,
    )
    session.add(plan)
    session.flush()
    assert plan.id is not None
    about(session, entity_id=plan.id, client_id=client_id)
    return plan.id


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.UPDATE, "treatment_plan"))
def update_plan(
    session: Session,
    actor: Actor,
    plan_id: int,
    version: int,
    start_date: date,
    review_interval_days: int,
) -> None:
    plan = _editable_plan(session, actor, plan_id)
    update_versioned(
        session,
        actor,
        TreatmentPlan,
        plan_id,
        version,
        {"start_date": start_date, "review_interval_days": _interval(review_interval_days)},
        what="This treatment plan",
    )
    about(
        session,
        entity_id=plan_id,
        client_id=plan.client_id,
        detail="fields=start_date,review_interval_days",
    )


# Each level of the hierarchy: its model, the parent link, how to find the plan, audit name.
_LEVELS: dict[str, tuple[type[Any], str]] = {
    "problem": (PlanProblem, "plan_problem"),
    "goal": (PlanGoal, "plan_goal"),
    "objective": (PlanObjective, "plan_objective"),
    "intervention": (PlanIntervention, "plan_intervention"),
}
_WHAT = {
    "problem": "This problem",
    "goal": "This goal",
    "objective": "This objective",
    "intervention": "This intervention",
}


def _plan_of(session: Session, kind: str, item_id: int) -> TreatmentPlan:
    """Walk up from any item to its plan (refusing voided parents)."""
    model, _ = _LEVELS[kind]
    item = session.get(model, item_id)
    if item is None or item.voided_at is not None:
        raise NotFoundError(f"{_WHAT[kind]} no longer exists.")
    if kind == "intervention":
        return _plan_of(session, "objective", item.objective_id)
    if kind == "objective":
        return _plan_of(session, "goal", item.goal_id)
    if kind == "goal":
        return _plan_of(session, "problem", item.problem_id)
    return _plan(session, item.plan_id)


def _next_order(session: Session, model: type[Any], parent_field: str, parent_id: int) -> int:
    rows = session.exec(
        select(model.sort_order).where(getattr(model, parent_field) == parent_id)
    ).all()
    return max(rows, default=-1) + 1


def _add(
    session: Session,
    actor: Actor,
    kind: str,
    parent_kind: str | None,
    parent_id: int,
    values: dict[str, Any],
) -> int:
    if parent_kind is None:
        plan = _editable_plan(session, actor, parent_id)
    else:
        plan = _plan_of(session, parent_kind, parent_id)
        plan = _editable_plan(session, actor, plan.id or 0)
    model, entity = _LEVELS[kind]
    parent_field = {
        "problem": "plan_id",
        "goal": "problem_id",
        "objective": "goal_id",
        "intervention": "objective_id",
    }[kind]
    if "sort_order" in model.model_fields:
        values["sort_order"] = _next_order(session, model, parent_field, parent_id)
    item = model(
        **{parent_field: parent_id},
        **values,
    )
    session.add(item)
    session.flush()
    audit.record(
        session,
        actor,
        audit.Action.CREATE,
        entity=entity,
        entity_id=item.id,
        client_id=plan.client_id,
        detail=f"plan {plan.id}",
    )
    return int(item.id)


def _update(
    session: Session,
    actor: Actor,
    kind: str,
    item_id: int,
    version: int,
    changes: dict[str, Any],
) -> None:
    plan = _plan_of(session, kind, item_id)
    _editable_plan(session, actor, plan.id or 0)
    model, entity = _LEVELS[kind]
    update_versioned(session, actor, model, item_id, version, changes, what=_WHAT[kind])
    audit.record(
        session,
        actor,
        audit.Action.UPDATE,
        entity=entity,
        entity_id=item_id,
        client_id=plan.client_id,
        detail="fields=" + ",".join(sorted(changes)),
    )


@service(Perm.CLINICAL_WRITE)
def add_problem(session: Session, actor: Actor, plan_id: int, description: str) -> int:
    text = _text(description, "problem", "description")
    return _add(session, actor, "problem", None, plan_id, {"description": text})


@service(Perm.CLINICAL_WRITE)
def update_problem(
    session: Session, actor: Actor, problem_id: int, version: int, description: str
) -> None:
    text = _text(description, "problem", "description")
    _update(session, actor, "problem", problem_id, version, {"description": text})


@service(Perm.CLINICAL_WRITE)
def add_goal(
    session: Session, actor: Actor, problem_id: int, description: str, client_words: str = ""
) -> int:
    values = {
        "description": _text(description, "goal", "description"),
        "client_words": _text(client_words, "client's own words", "client_words", False),
        "status": "open",
    }
    return _add(session, actor, "goal", "problem", problem_id, values)


@service(Perm.CLINICAL_WRITE)
def update_goal(
    session: Session,
    actor: Actor,
    goal_id: int,
    version: int,
    description: str,
    client_words: str = "",
) -> None:
    changes = {
        "description": _text(description, "goal", "description"),
        "client_words": _text(client_words, "client's own words", "client_words", False),
    }
    _update(session, actor, "goal", goal_id, version, changes)


def _target(session: Session, plan: TreatmentPlan, target_date: date | None) -> date:
    if target_date is None:
        raise ValidationError(
            "Enter a target date: an objective must say by when it will be met.",
            {"target_date": "Required."},
        )
    if target_date < plan.start_date:
        raise ValidationError(
            f"The target date cannot be before the plan's start date ({plan.start_date:%m/%d/%Y}).",
            {"target_date": "Before the plan start."},
        )
    return target_date


@service(Perm.CLINICAL_WRITE)
def add_objective(
    session: Session, actor: Actor, goal_id: int, description: str, target_date: date | None
) -> int:
    """A measurable objective (how much, how often, by when) with its target date."""
    text = _text(description, "objective", "description")
    plan = _plan_of(session, "goal", goal_id)
    values = {
        "description": text,
        "target_date": _target(session, plan, target_date),
        "status": "open",
    }
    return _add(session, actor, "objective", "goal", goal_id, values)


@service(Perm.CLINICAL_WRITE)
def update_objective(
    session: Session,
    actor: Actor,
    objective_id: int,
    version: int,
    description: str,
    target_date: date | None,
) -> None:
    text = _text(description, "objective", "description")
    plan = _plan_of(session, "objective", objective_id)
    changes = {"description": text, "target_date": _target(session, plan, target_date)}
    _update(session, actor, "objective", objective_id, version, changes)


def _intervention_values(
    session: Session,
    description: str,
    modality: str,
    frequency: str,
    responsible_staff_id: int | None,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "description": _text(description, "intervention", "description"),
        "modality": _text(modality, "modality", "modality"),
        "frequency": _text(frequency, "frequency", "frequency"),
    }
    if responsible_staff_id is None:
        raise ValidationError(
            "Choose the staff member responsible for this intervention.",
            {"responsible_staff_id": "Required."},
        )
    person = session.get(Staff, responsible_staff_id)
    if person is None or not person.active:
        raise ValidationError(
            "The responsible staff member was not found or is no longer active.",
            {"responsible_staff_id": "Choose an active staff member."},
        )
    values["responsible_staff_id"] = responsible_staff_id
    return values


@service(Perm.CLINICAL_WRITE)
def add_intervention(
    session: Session,
    actor: Actor,
    objective_id: int,
    description: str,
    modality: str,
    frequency: str,
    responsible_staff_id: int | None,
) -> int:
    values = _intervention_values(session, description, modality, frequency, responsible_staff_id)
    return _add(session, actor, "intervention", "objective", objective_id, values)


@service(Perm.CLINICAL_WRITE)
def update_intervention(
    session: Session,
    actor: Actor,
    intervention_id: int,
    version: int,
    description: str,
    modality: str,
    frequency: str,
    responsible_staff_id: int | None,
) -> None:
    changes = _intervention_values(session, description, modality, frequency, responsible_staff_id)
    _update(session, actor, "intervention", intervention_id, version, changes)


@service(Perm.CLINICAL_WRITE)
def remove_item(session: Session, actor: Actor, kind: str, item_id: int, version: int) -> None:
    """Take an item (and so everything under it) off a draft. Records are voided, not
    deleted; children of a voided item no longer show because their parent is gone."""
    if kind not in _LEVELS:
        raise ValidationError(f"Unknown plan item '{kind}'.")
    _update(
        session,
        actor,
        kind,
        item_id,
        version,
        {
            "voided_at": utcnow(),
            "voided_by": actor.user_id,
            "void_reason": "removed from draft plan",
        },
    )


# ------------------------------------------------------------------------------------------
# Signing, client agreement, new versions
# ------------------------------------------------------------------------------------------


def _incomplete(info: PlanInfo) -> list[str]:
    problems: list[str] = []
    if not info.problems:
        return ["Add at least one problem."]
    for p in info.problems:
        if not p.goals:
            problems.append(f"Problem '{p.description[:40]}' has no goal.")
        for g in p.goals:
            if not g.objectives:
                problems.append(f"Goal '{g.description[:40]}' has no objective.")
            for o in g.objectives:
                if not o.interventions:
                    problems.append(f"Objective '{o.description[:40]}' has no intervention.")
    return problems


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.SIGN, "treatment_plan"))
def sign_plan(session: Session, actor: Actor, plan_id: int, version: int) -> PlanInfo:
    """The clinician's signature: stores signer and time, locks the plan, sets the first
    review date and supersedes the client's previously signed plan."""
    plan = _editable_plan(session, actor, plan_id)
    missing = _incomplete(_plan_info(session, plan))
    if missing:
        raise ValidationError(
            "The plan is not complete yet, so it cannot be signed:\n- " + "\n- ".join(missing)
        )
    previous = session.exec(
        select(TreatmentPlan).where(
            TreatmentPlan.client_id == plan.client_id,
            TreatmentPlan.status == PlanStatus.ACTIVE.value,
            TreatmentPlan.id != plan_id,
        )
    ).all()
    signed = update_versioned(
        session,
        actor,
        TreatmentPlan,
        plan_id,
        version,
        {
            "status": PlanStatus.ACTIVE.value,
            "clinician_signed_by": actor.user_id,
            "clinician_signed_at": utcnow(),
            "next_review_date": plan.start_date + timedelta(days=plan.review_interval_days),
        },
        what="This treatment plan",
    )
    for old in previous:
        update_versioned(
            session,
            actor,
            TreatmentPlan,
            old.id,
            old.version,
            {"status": PlanStatus.SUPERSEDED.value},
            what="The earlier treatment plan",
        )
        audit.record(
            session,
            actor,
            audit.Action.UPDATE,
            entity="treatment_plan",
            entity_id=old.id,
            client_id=old.client_id,
            detail=f"superseded by plan {plan_id}",
        )
    about(session, entity_id=plan_id, client_id=plan.client_id)
    return _plan_info(session, signed)


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.UPDATE, "treatment_plan"))
def record_client_agreement(
    session: Session, actor: Actor, plan_id: int, version: int, signed_date: date
) -> None:
    """The client agreed to the plan and signed it on `signed_date` (paper or pad)."""
    plan = _plan(session, plan_id)
    _check_chart(session, actor, plan.client_id, "treatment_plan", plan_id)
    if plan.status == PlanStatus.SUPERSEDED.value:
        raise UserError("This plan was replaced by a newer version; record agreement there.")
    today = clinic_today(session)
    if signed_date > today:
        raise ValidationError(
            "The client's signature date cannot be in the future.",
            {"client_signed_date": "In the future."},
        )
    if signed_date < plan.start_date:
        raise ValidationError(
            f"The client's signature date cannot be before the plan's start date "
            f"({plan.start_date:%m/%d/%Y}).",
            {"client_signed_date": "Before the plan start."},
        )
    update_versioned(
        session,
        actor,
        TreatmentPlan,
        plan_id,
        version,
        {"client_agreed": True, "client_signed_date": signed_date},
        what="This treatment plan",
    )
    about(session, entity_id=plan_id, client_id=plan.client_id, detail="client agreement recorded")


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.CREATE, "treatment_plan"))
def revise_plan(session: Session, actor: Actor, plan_id: int) -> int:
    """Start a new draft version of a signed plan: the open problems, goals, objectives and
    interventions are copied; the signed plan stays in force until the new one is signed."""
    plan = _plan(session, plan_id)
    _check_chart(session, actor, plan.client_id, "treatment_plan", plan_id)
    if plan.status == PlanStatus.DRAFT.value:
        raise UserError("This plan is still a draft: edit it directly.")
    if _open_draft(session, plan.client_id) is not None:
        raise UserError(
            "This client already has a draft treatment plan. Finish and sign that draft "
            "instead of starting another one."
        )
    info = _plan_info(session, plan)
    new = TreatmentPlan(
        client_id=plan.client_id,
        episode_id=plan.episode_id,
        status=PlanStatus.DRAFT.value,
        start_date=clinic_today(session),
        review_interval_days=plan.review_interval_days,
    )
    session.add(new)
    session.flush()
    assert new.id is not None
    for pi, p in enumerate(info.problems):
        problem = PlanProblem(plan_id=new.id, description=p.description, sort_order=pi)
        session.add(problem)
        session.flush()
        for gi, g in enumerate(p.goals):
            if g.status == "achieved":
                continue
            goal = PlanGoal(
                problem_id=problem.id or 0,
                description=g.description,
                client_words=g.client_words,
                sort_order=gi,
            )
            session.add(goal)
            session.flush()
            for oi, o in enumerate(g.objectives):
                objective = PlanObjective(
                    goal_id=goal.id or 0,
                    description=o.description,
                    target_date=max(o.target_date or new.start_date, new.start_date),
                    sort_order=oi,
                )
                session.add(objective)
                session.flush()
                for i in o.interventions:
                    session.add(
                        PlanIntervention(
                            objective_id=objective.id or 0,
                            description=i.description,
                            modality=i.modality,
                            frequency=i.frequency,
                            responsible_staff_id=i.responsible_staff_id,
                        )
                    )
    about(session, entity_id=new.id, client_id=plan.client_id, detail=f"revision of plan {plan_id}")
    return new.id


# ------------------------------------------------------------------------------------------
# Reviews
# ------------------------------------------------------------------------------------------


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.CREATE, "plan_review"))
def add_review(
    session: Session,
    actor: Actor,
    plan_id: int,
    version: int,
    review_date: date,
    summary: str,
    progress: Sequence[GoalRating],
) -> int:
    """A signed review: progress for every open goal, then the next review is due
    `review_interval_days` after this one."""
    if actor.staff_id is None:
        raise PermissionDenied("Only a clinician with a staff record can review a treatment plan.")
    text = _text(summary, "review summary", "summary")
    plan = _plan(session, plan_id)
    _check_chart(session, actor, plan.client_id, "treatment_plan", plan_id)
    if plan.status != PlanStatus.ACTIVE.value:
        raise UserError(
            "Only a signed, active treatment plan can be reviewed. Sign the draft first."
        )
    today = clinic_today(session)
    if review_date > today:
        raise ValidationError(
            "The review date cannot be in the future.", {"review_date": "In the future."}
        )
    if review_date < plan.start_date:
        raise ValidationError(
            "The review date cannot be before the plan's start date.",
            {"review_date": "Before the plan start."},
        )
    info = _plan_info(session, plan)
    open_goals = {g.id: g for g in info.goals() if g.status != "achieved"}
    seen: set[int] = set()
    for r in progress:
        if r.goal_id not in open_goals:
            raise ValidationError("A progress rating names a goal that is not on this plan.")
        if r.goal_id in seen:
            raise ValidationError("Each goal can be rated only once in a review.")
        if r.rating not in RATINGS:
            raise ValidationError(
                f"'{r.rating}' is not a progress rating. Use one of: "
                + ", ".join(RATING_LABELS.values())
                + ".",
                {"rating": "Unknown rating."},
            )
        _text(r.comment, "progress comment", "comment", False)
        seen.add(r.goal_id)
    missing = [g.description[:40] for gid, g in open_goals.items() if gid not in seen]
    if missing:
        raise ValidationError(
            "Rate the progress on every open goal: " + "; ".join(missing) + ".",
            {"rating": "Missing."},
        )
    update_versioned(
        session,
        actor,
        TreatmentPlan,
        plan_id,
        version,
        {"next_review_date": review_date + timedelta(days=plan.review_interval_days)},
        what="This treatment plan",
    )
    review = PlanReview(
        plan_id=plan_id,
        review_date=review_date,
        reviewer_staff_id=actor.staff_id,
        summary=text,
        signed_at=utcnow(),
    )
    session.add(review)
    session.flush()
    assert review.id is not None
    for r in progress:
        session.add(
            GoalProgress(
                review_id=review.id,
                goal_id=r.goal_id,
                rating=r.rating,
                comment=r.comment.strip(),
            )
        )
        if r.rating == "achieved":
            goal = open_goals[r.goal_id]
            update_versioned(
                session,
                actor,
                PlanGoal,
                goal.id,
                goal.version,
                {"status": "achieved"},
                what="This goal",
            )
    about(
        session,
        entity_id=review.id,
        client_id=plan.client_id,
        detail=f"plan {plan_id}; {len(progress)} goals rated",
    )
    return review.id


def _supervises_all(actor: Actor) -> bool:
    return actor.is_(Role.SUPERVISOR) or actor.is_(Role.ADMIN)


def reviews_due(
    db: Database, actor: Actor, scope: str = "mine", on: date | None = None
) -> list[DueReview]:
    """Signed plans of active clients whose review is overdue or due within DUE_WINDOW_DAYS.

    scope "mine": clients whose primary therapist is the actor; "clinic": everyone
    (supervisors and administrators only). Overdue first, then by date.
    """
    require(actor, Perm.CLINICAL_VIEW)
    if scope not in ("mine", "clinic"):
        raise ValidationError("Choose 'mine' or 'clinic'.")
    if scope == "clinic" and not _supervises_all(actor):
        raise PermissionDenied(
            "Only supervisors and administrators can see the clinic-wide plan review list."
        )
    with db.read() as session:
        today = on or clinic_today(session)
        horizon = today + timedelta(days=DUE_WINDOW_DAYS)
        query = (
            select(TreatmentPlan, Client.last_name, Client.first_name, Client.mrn)
            .join(Client, Client.id == TreatmentPlan.client_id)  # type: ignore[arg-type]
            .where(
                TreatmentPlan.status == PlanStatus.ACTIVE.value,
                col(TreatmentPlan.next_review_date).is_not(None),
                col(TreatmentPlan.next_review_date) <= horizon,
                col(Client.status).in_(["active", "on_hold"]),
            )
        )
        if scope == "mine":
            if actor.staff_id is None:
                return []
            mine = (
                select(TherapistAssignment.client_id)
                .where(
                    TherapistAssignment.staff_id == actor.staff_id,
                    TherapistAssignment.role == "primary_therapist",
                    col(TherapistAssignment.voided_at).is_(None),
                    TherapistAssignment.start_date <= today,
                    or_(
                        col(TherapistAssignment.end_date).is_(None),
                        col(TherapistAssignment.end_date) >= today,
                    ),
                )
                .scalar_subquery()
            )
            query = query.where(col(TreatmentPlan.client_id).in_(mine))
        rows = session.execute(query).all()
        result = []
        for plan, last, first, mrn in rows:
            nxt = plan.next_review_date
            assert nxt is not None
            state = "overdue" if nxt < today else "due"
            result.append(
                DueReview(
                    plan.id or 0,
                    plan.client_id,
                    f"{last}, {first}",
                    mrn,
                    nxt,
                    state,
                    (today - nxt).days if state == "overdue" else (nxt - today).days,
                )
            )
        result.sort(key=lambda r: (r.state != "overdue", r.next_review_date, r.client))
        return result


def review_summary(
    db: Database, actor: Actor, on: date | None = None
) -> tuple[ReviewCounts, list[DueReview]] | None:
    """review_counts and the reviews it counts, from one read (the Today screen's tile and
    its tooltip)."""
    if not has(actor, Perm.CLINICAL_VIEW):
        return None
    scope = "clinic" if _supervises_all(actor) else "mine"
    if scope == "mine" and actor.staff_id is None:
        return None
    rows = reviews_due(db, actor, scope, on)
    overdue = sum(1 for r in rows if r.state == "overdue")
    return ReviewCounts(len(rows) - overdue, overdue, scope), rows


def review_counts(db: Database, actor: Actor, on: date | None = None) -> ReviewCounts | None:
    """For the Today screen: the clinic-wide counts for supervisors and administrators, the
    actor's own caseload for other clinicians; None for roles without clinical access."""
    if not has(actor, Perm.CLINICAL_VIEW):
        return None
    scope = "clinic" if _supervises_all(actor) else "mine"
    if scope == "mine" and actor.staff_id is None:
        return None
    rows = reviews_due(db, actor, scope, on)
    overdue = sum(1 for r in rows if r.state == "overdue")
    return ReviewCounts(len(rows) - overdue, overdue, scope)


# ------------------------------------------------------------------------------------------
# Printing
# ------------------------------------------------------------------------------------------


def build_plan_print(db: Database, actor: Actor, plan_id: int) -> PlanPrint:
    require(actor, Perm.CLINICAL_VIEW)
    from iopdesk.models import Clinic
    from iopdesk.services.clinic import clinic_now

    with db.session() as session:
        plan = _plan(session, plan_id)
        _check_chart(session, actor, plan.client_id, "treatment_plan", plan_id)
        client = session.get(Client, plan.client_id)
        clinic = session.exec(select(Clinic)).first()
        assert client is not None and clinic is not None
        return PlanPrint(
            clinic.name,
            clinic.address,
            clinic.phone,
            f"{client.last_name}, {client.first_name}"
            + (f' "{client.preferred_name}"' if client.preferred_name else ""),
            client.mrn,
            client.dob,
            client.part2,
            _plan_info(session, plan),
            clinic_now(clinic.timezone),
            _print_diagnoses(session, plan.client_id),
            _print_asam(session, plan.client_id, plan_id),
        )


def _print_diagnoses(session: Session, client_id: int) -> tuple[tuple[str, str, bool], ...]:
    from iopdesk.models import Diagnosis

    rows = session.exec(
        select(Diagnosis)
        .where(
            Diagnosis.client_id == client_id,
            col(Diagnosis.voided_at).is_(None),
            col(Diagnosis.resolved_date).is_(None),
        )
        .order_by(col(Diagnosis.is_primary).desc(), col(Diagnosis.sort_order), col(Diagnosis.id))
    ).all()
    return tuple((d.icd10_code, d.description, d.is_primary) for d in rows)


def _print_asam(session: Session, client_id: int, plan_id: int) -> Any:
    """The ASAM assessment recorded for this plan, else the client's newest one."""
    from iopdesk.services.asam import asam_in

    rows = asam_in(session, client_id)
    for a in rows:
        if a.plan_id == plan_id:
            return a
    return rows[0] if rows else None


def print_plan(
    db: Database, actor: Actor, plan_id: int, path: Any, *, release: Release | None = None
) -> PlanPrint:
    """Write the plan to a PDF at `path` (atomically) and audit the print. A Part 2 record
    carries the 42 CFR 2.32 notice on every page. `release` (default internal use) passes the
    Part 2 disclosure gate, which records it and refuses a disclosure without a valid consent
    (then no file appears)."""
    from iopdesk.reports import plan_pdf
    from iopdesk.services import disclosures
    from iopdesk.services.printing import pdf_target, release_pdf

    target = pdf_target(path, "plan")
    data = build_plan_print(db, actor, plan_id)
    release_pdf(
        db,
        actor,
        target,
        lambda p, notice: plan_pdf.write_pdf(data, p, notice),
        client_id=data.plan.client_id,
        release=release or disclosures.INTERNAL,
        categories=("treatment_plan", "diagnosis"),
        what=f"treatment plan {plan_id}",
        entity="treatment_plan",
        entity_id=plan_id,
        detail=lambda row: (
            f"pdf; {row.kind}; disclosure {row.id}" + ("; Part 2 notice" if data.part2 else "")
        ),
    )
    return data
