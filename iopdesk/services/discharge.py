"""The guided discharge (issue 6 item 1) and the Discharge work list.

Decisions where the issue is silent:

- One transaction does the whole discharge: the episode ends through clients.end_episode_in
  (status, dated status history, enrollments and care-team assignments end on the discharge
  date), a Discharge record with one progress entry per treatment-plan goal is written, the
  client's booked individual/family/intake sessions after the discharge date that are still
  scheduled are cancelled by the clinic ("Client discharged"), one-occurrence group roster adds
  after that date become removes (so they do not come back on readmission), and a draft
  aftercare plan is opened (or an existing unattached draft is linked). Nothing is deleted:
  attendance, notes, billing lines and held sessions stay exactly as they were.
- The discharge date may not be in the future (paperwork for a planned last day waits for
  that day) and may not fall before a session the client attended; sessions on the discharge
  date itself stay (the last day of treatment).
- A reason is always required; a step-down / transfer needs the next level of care or the
  receiving provider.
- Discharging needs DISCHARGE_MANAGE and, for a therapist, the client on their caseload
  (the same rule as reading clinical content). Reading the discharge summary needs clinical
  access; the work list (names, dates, aftercare status) needs only CLIENT_VIEW so the front
  desk can find packets to print.
- A discharge summary can be corrected (reason, summary, next level of care, receiving
  provider, goal progress) with optimistic concurrency until a clinician signs it; the date
  and type are fixed: a wrong date is corrected by readmitting (clients.readmit) and
  discharging again.
- Signing (issue 20 item 6) locks the summary like a note: signer, time and the SHA-256 of its
  content are kept, and any later change is refused here and by database triggers (on the
  summary and its goal progress). Signing needs the summary text and, except after a death,
  the medication list reconciled at discharge (services.medications). The signed summary
  prints as a PDF (through the Part 2 release gate).
- Discharge reasons follow TEDS: completed, transferred, left against professional advice,
  terminated by facility, incarcerated, death, other. The stored values of the four older
  types are kept (completed_program, step_down_transfer, left_against_advice, administrative)
  and map to the TEDS reasons in TEDS_REASON; the TEDS codes are accepted as input too.
- Readmission is clients.readmit: a new episode; the old discharge stays on record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from iopdesk.db import Database
from iopdesk.errors import (
    NotFoundError,
    PermissionDenied,
    StaleRecordError,
    UserError,
    ValidationError,
)
from iopdesk.models import (
    AftercarePlan,
    Attendance,
    Client,
    ClinicSession,
    Discharge,
    DischargeAddendum,
    DischargeGoalProgress,
    Episode,
    PlanGoal,
    PlanProblem,
    RosterChange,
    TherapistAssignment,
    TrackEnrollment,
    TreatmentPlan,
    utcnow,
)
from iopdesk.models.enums import ATTENDED_STATUSES, DischargeType, SessionKind, SessionStatus
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.clients import can_view_clinical_in, end_episode_in
from iopdesk.services.clinic import clinic_today
from iopdesk.services.declare import Audited, about, service
from iopdesk.services.people import user_name
from iopdesk.services.permissions import Perm, has, require
from iopdesk.services.records import touch

TYPE_LABELS: dict[str, str] = {
    DischargeType.COMPLETED.value: "Completed program",
    DischargeType.STEP_DOWN.value: "Step-down / transfer",
    DischargeType.AMA.value: "Left against advice",
    DischargeType.ADMINISTRATIVE.value: "Administrative",
    DischargeType.INCARCERATED.value: "Incarcerated",
    DischargeType.DEATH.value: "Death",
    DischargeType.OTHER.value: "Other",
}
# TEDS reason for discharge, transfer or discontinuance of treatment, per stored type
TEDS_LABELS: dict[str, str] = {
    "completed": "Treatment completed",
    "transferred": "Transferred to another treatment program or facility",
    "left_against_advice": "Dropped out of treatment / left against professional advice",
    "terminated_by_facility": "Terminated by facility",
    "incarcerated": "Incarcerated",
    "death": "Death",
    "other": "Other",
}
TEDS_REASON: dict[str, str] = {
    DischargeType.COMPLETED.value: "completed",
    DischargeType.STEP_DOWN.value: "transferred",
    DischargeType.AMA.value: "left_against_advice",
    DischargeType.ADMINISTRATIVE.value: "terminated_by_facility",
    DischargeType.INCARCERATED.value: "incarcerated",
    DischargeType.DEATH.value: "death",
    DischargeType.OTHER.value: "other",
}
_FROM_TEDS = {teds: stored for stored, teds in TEDS_REASON.items()}


def normalize_type(value: str) -> str:
    """A stored discharge type from either a stored value or a TEDS code ("completed")."""
    value = (value or "").strip()
    return value if value in TYPE_LABELS else _FROM_TEDS.get(value, value)


def teds_reason(discharge_type: str) -> str:
    return TEDS_REASON.get(normalize_type(discharge_type), "other")


LEVELS_OF_CARE = ("OP", "IOP", "PHP", "Residential", "Inpatient", "Peer support only", "None")
CANCEL_REASON = "Client discharged"
PENDING_IDLE_DAYS = 14
RECENT_DAYS = 30


def type_label(value: str) -> str:
    return TYPE_LABELS.get(value, value.replace("_", " ").capitalize())


# -- plain data for the UI ----------------------------------------------------------------------
@dataclass(frozen=True)
class GoalInfo:
    goal_id: int
    text: str
    status: str


@dataclass(frozen=True)
class DischargeStart:
    """What the guided discharge dialog needs to open."""

    client_id: int
    client_version: int
    mrn: str
    name: str
    status: str
    part2: bool
    admission_date: date | None
    default_date: date
    last_attended: date | None
    goals: list[GoalInfo]
    future_sessions: int
    enrollments: int
    assignments: int


@dataclass(frozen=True)
class GoalProgressInput:
    goal_id: int | None
    goal_text: str
    progress: str


@dataclass
class DischargeInput:
    discharge_date: date
    discharge_type: str
    reason: str
    summary: str = ""
    step_down_level: str = ""
    receiving_provider: str = ""
    goals: list[GoalProgressInput] = field(default_factory=list)


@dataclass(frozen=True)
class DischargeResult:
    discharge_id: int
    plan_id: int
    client_version: int
    sessions_cancelled: int
    roster_adds_removed: int
    enrollments_ended: int
    assignments_ended: int


@dataclass(frozen=True)
class GoalProgressInfo:
    id: int
    goal_id: int | None
    goal_text: str
    progress: str


@dataclass(frozen=True)
class AddendumInfo:
    id: int
    author: str
    text: str
    signed_at: datetime


@dataclass(frozen=True)
class DischargeInfo:
    id: int
    version: int
    client_id: int
    episode_id: int | None
    episode_no: int | None
    discharge_date: date
    discharge_type: str
    reason: str
    summary: str
    step_down_level: str
    receiving_provider: str
    goals: list[GoalProgressInfo]
    created_at: datetime
    created_by: int | None
    signed_at: datetime | None = None
    signed_by: str = ""
    content_sha256: str | None = None
    addenda: tuple[AddendumInfo, ...] = ()

    @property
    def type_label(self) -> str:
        return type_label(self.discharge_type)

    @property
    def teds_reason(self) -> str:
        return teds_reason(self.discharge_type)

    @property
    def signed(self) -> bool:
        return self.signed_at is not None


@dataclass(frozen=True)
class WorkRow:
    """One line of the Discharge page's work list."""

    category: str  # pending | discharged | draft
    client_id: int
    mrn: str
    name: str
    status: str
    part2: bool
    when: date | None  # last attended (pending) or discharge date
    note: str
    plan_id: int | None
    plan_status: str  # "" | draft | finalized


# -- helpers -------------------------------------------------------------------------------------
def require_client_clinical(session: Session, actor: Actor, client_id: int, perm: Perm) -> None:
    """`perm`, and the client's clinical record open to this user (caseload rule)."""
    require(actor, perm)
    if can_view_clinical_in(session, actor, client_id):
        return
    # a clinician who treated the client keeps access after the assignment ended at
    # discharge: they finish the summary and the aftercare plan afterwards
    if (
        has(actor, Perm.CLINICAL_VIEW)
        and actor.staff_id is not None
        and session.exec(
            select(func.count())
            .select_from(TherapistAssignment)
            .where(
                TherapistAssignment.client_id == client_id,
                TherapistAssignment.staff_id == actor.staff_id,
                col(TherapistAssignment.voided_at).is_(None),
            )
        ).one()
    ):
        return
    raise PermissionDenied(
        "Only the client's own clinicians and supervisors can do this for this client."
    )


def _client(session: Session, client_id: int) -> Client:
    client = session.get(Client, client_id)
    if client is None:
        raise NotFoundError("That client record does not exist.")
    return client


def current_goals_in(session: Session, client_id: int) -> list[GoalInfo]:
    """Goals of the client's current treatment plan(s) (not superseded, not voided)."""
    rows = session.execute(
        sa_select(
            col(PlanGoal.id),
            col(PlanGoal.description),
            col(PlanGoal.client_words),
            col(PlanGoal.status),
        )
        .join(PlanProblem, col(PlanProblem.id) == col(PlanGoal.problem_id))
        .join(TreatmentPlan, col(TreatmentPlan.id) == col(PlanProblem.plan_id))
        .where(
            col(TreatmentPlan.client_id) == client_id,
            col(TreatmentPlan.status) != "superseded",
            col(PlanGoal.voided_at).is_(None),
            col(PlanProblem.voided_at).is_(None),
        )
        .order_by(
            col(TreatmentPlan.start_date),
            col(PlanProblem.sort_order),
            col(PlanGoal.sort_order),
            col(PlanGoal.id),
        )
    ).all()
    goals = []
    for gid, desc, words, status in rows:
        words = words.strip().strip('"\u201c\u201d').strip()
        text = desc + (f' (in the client\'s words: "{words}")' if words else "")
        goals.append(GoalInfo(int(gid), text, status))
    return goals


def _last_attended(session: Session, client_id: int) -> date | None:
    value = session.execute(
        sa_select(func.max(ClinicSession.session_date))
        .join(Attendance, col(Attendance.session_id) == col(ClinicSession.id))
        .where(
            col(Attendance.client_id) == client_id,
            col(Attendance.status).in_([s.value for s in ATTENDED_STATUSES]),
        )
    ).scalar()
    return value


def _future_booked(session: Session, client_id: int, after: date) -> Any:
    return (
        col(ClinicSession.client_id) == client_id,
        col(ClinicSession.kind) != SessionKind.GROUP.value,
        col(ClinicSession.session_date) > after,
        col(ClinicSession.status) == SessionStatus.SCHEDULED.value,
    )


def _count_open(session: Session, model: Any, client_id: int, on: date) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(model)
            .where(
                model.client_id == client_id,
                col(model.voided_at).is_(None),
                or_(col(model.end_date).is_(None), col(model.end_date) > on),
            )
        ).one()
    )


# -- the guided discharge ------------------------------------------------------------------------
def prepare_discharge(db: Database, actor: Actor, client_id: int) -> DischargeStart:
    """Everything the guided discharge shows before anything changes."""
    with db.session() as session:
        require_client_clinical(session, actor, client_id, Perm.DISCHARGE_MANAGE)
        c = _client(session, client_id)
        if c.status == "discharged":
            raise ValidationError(
                "This client is already discharged. Use Readmit on the chart to start a new "
                "episode."
            )
        today = clinic_today(session)
        return DischargeStart(
            client_id=client_id,
            client_version=c.version,
            mrn=c.mrn,
            name=f"{c.first_name} {c.last_name}",
            status=c.status,
            part2=c.part2,
            admission_date=c.admission_date,
            default_date=today,
            last_attended=_last_attended(session, client_id),
            goals=current_goals_in(session, client_id),
            future_sessions=int(
                session.exec(
                    select(func.count())
                    .select_from(ClinicSession)
                    .where(*_future_booked(session, client_id, today))
                ).one()
            ),
            enrollments=_count_open(session, TrackEnrollment, client_id, today),
            assignments=_count_open(session, TherapistAssignment, client_id, today),
        )


def validate_discharge(
    data: DischargeInput, today: date, admission: date | None, last_attended: date | None
) -> None:
    """Plain-language checks, all fields at once (the dialog highlights each)."""
    errors: dict[str, str] = {}
    data.discharge_type = normalize_type(data.discharge_type)
    if data.discharge_type not in TYPE_LABELS:
        errors["discharge_type"] = "Choose the type of discharge."
    if data.discharge_date > today:
        errors["discharge_date"] = (
            f"The discharge date cannot be in the future (today is {today:%m/%d/%Y})."
        )
    elif admission is not None and data.discharge_date < admission:
        errors["discharge_date"] = (
            f"The discharge date is before the admission date ({admission:%m/%d/%Y})."
        )
    elif last_attended is not None and data.discharge_date < last_attended:
        errors["discharge_date"] = (
            f"The client attended a session on {last_attended:%m/%d/%Y}, after this discharge "
            "date. Choose that day or later."
        )
    if not data.reason.strip():
        errors["reason"] = "Enter the reason for the discharge."
    if (
        data.discharge_type == DischargeType.STEP_DOWN.value
        and not data.step_down_level.strip()
        and not data.receiving_provider.strip()
    ):
        errors["step_down_level"] = (
            "For a step-down or transfer, enter the next level of care or the receiving provider."
        )
    for i, g in enumerate(data.goals):
        if not g.goal_text.strip():
            errors[f"goal_{i}"] = "Each goal needs its text."
    if errors:
        first = next(iter(errors.values()))
        raise ValidationError(
            first if len(errors) == 1 else f"Please correct the highlighted fields. {first}",
            errors,
        )


@service(None, audit=Audited(audit.Action.CREATE, "discharge"))
def discharge_client(
    session: Session, actor: Actor, client_id: int, expected_version: int, data: DischargeInput
) -> DischargeResult:
    """Discharge the client in one transaction (see the module docstring)."""
    from iopdesk.services.aftercare import carry_receiving_provider_in, create_plan_in

    require_client_clinical(session, actor, client_id, Perm.DISCHARGE_MANAGE)
    c = _client(session, client_id)
    if c.version != expected_version:
        raise StaleRecordError("This client's record")
    if c.status == "discharged":
        raise ValidationError("This client is already discharged.")
    today = clinic_today(session)
    validate_discharge(data, today, c.admission_date, _last_attended(session, client_id))
    known_goals = {g.goal_id for g in current_goals_in(session, client_id)}
    for g in data.goals:
        if g.goal_id is not None and g.goal_id not in known_goals:
            raise ValidationError("A goal is not part of this client's treatment plan.")
    on = data.discharge_date
    enrollments = _count_open(session, TrackEnrollment, client_id, on)
    assignments = _count_open(session, TherapistAssignment, client_id, on)
    updated = end_episode_in(session, actor, client_id, expected_version, on, data.reason)
    episode = session.exec(
        select(Episode)
        .where(Episode.client_id == client_id)
        .order_by(col(Episode.episode_no).desc())
    ).first()
    record = Discharge(
        client_id=client_id,
        episode_id=episode.id if episode else None,
        discharge_date=on,
        discharge_type=data.discharge_type,
        reason=data.reason.strip(),
        summary=data.summary.strip(),
        step_down_level=data.step_down_level.strip(),
        receiving_provider=data.receiving_provider.strip(),
    )
    session.add(record)
    session.flush()
    assert record.id is not None
    for g in data.goals:
        session.add(
            DischargeGoalProgress(
                discharge_id=record.id,
                goal_id=g.goal_id,
                goal_text=g.goal_text.strip(),
                progress=g.progress.strip(),
            )
        )
    now = utcnow()
    cancelled = session.execute(
        update(ClinicSession)
        .where(*_future_booked(session, client_id, on))
        .values(
            status=SessionStatus.CANCELLED.value,
            cancelled_by_clinic=True,
            cancel_reason=CANCEL_REASON,
            version=col(ClinicSession.version) + 1,
            updated_at=now,
            updated_by=actor.user_id,
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    future_groups = sa_select(col(ClinicSession.id)).where(col(ClinicSession.session_date) > on)
    removed = session.execute(
        update(RosterChange)
        .where(
            col(RosterChange.client_id) == client_id,
            col(RosterChange.action) == "add",
            col(RosterChange.session_id).in_(future_groups),
        )
        .values(
            action="remove",
            reason=CANCEL_REASON,
            version=col(RosterChange.version) + 1,
            updated_at=now,
            updated_by=actor.user_id,
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    draft = session.exec(
        select(AftercarePlan)
        .where(
            AftercarePlan.client_id == client_id,
            AftercarePlan.status == "draft",
            col(AftercarePlan.discharge_id).is_(None),
        )
        .order_by(col(AftercarePlan.id).desc())
    ).first()
    if draft is not None:
        draft.discharge_id = record.id
        touch(draft, actor)
        session.add(draft)
        plan_id = draft.id or 0
    else:
        plan_id = create_plan_in(session, actor, client_id, record.id)
    carry_receiving_provider_in(session, actor, plan_id, record.receiving_provider)
    about(
        session,
        entity_id=record.id,
        client_id=client_id,
        detail=f"type {data.discharge_type}; {len(data.goals)} goals; "
        f"{cancelled} sessions cancelled; {removed} roster adds removed; "
        f"{enrollments} enrollments and {assignments} assignments ended; "
        f"aftercare plan {plan_id}",
    )
    return DischargeResult(
        discharge_id=record.id,
        plan_id=plan_id,
        client_version=updated.version,
        sessions_cancelled=int(cancelled),
        roster_adds_removed=int(removed),
        enrollments_ended=enrollments,
        assignments_ended=assignments,
    )


# -- reading and correcting ----------------------------------------------------------------------
def _info(session: Session, d: Discharge) -> DischargeInfo:
    assert d.id is not None
    goals = session.exec(
        select(DischargeGoalProgress)
        .where(DischargeGoalProgress.discharge_id == d.id)
        .order_by(col(DischargeGoalProgress.id))
    ).all()
    episode_no = None
    if d.episode_id is not None:
        ep = session.get(Episode, d.episode_id)
        episode_no = ep.episode_no if ep else None
    return DischargeInfo(
        id=d.id,
        version=d.version,
        client_id=d.client_id,
        episode_id=d.episode_id,
        episode_no=episode_no,
        discharge_date=d.discharge_date,
        discharge_type=d.discharge_type,
        reason=d.reason,
        summary=d.summary,
        step_down_level=d.step_down_level,
        receiving_provider=d.receiving_provider,
        goals=[GoalProgressInfo(g.id or 0, g.goal_id, g.goal_text, g.progress) for g in goals],
        created_at=d.created_at,
        created_by=d.created_by,
        signed_at=d.signed_at,
        signed_by=user_name(session, d.signed_by),
        content_sha256=d.content_sha256,
        addenda=tuple(
            AddendumInfo(a.id or 0, user_name(session, a.author_user_id), a.text, a.signed_at)
            for a in session.exec(
                select(DischargeAddendum)
                .where(DischargeAddendum.discharge_id == d.id)
                .order_by(col(DischargeAddendum.id))
            ).all()
        ),
    )


def discharge_in(session: Session, discharge_id: int) -> DischargeInfo:
    d = session.get(Discharge, discharge_id)
    if d is None or d.voided_at is not None:
        raise NotFoundError("That discharge record does not exist.")
    return _info(session, d)


def list_discharges(db: Database, actor: Actor, client_id: int) -> list[DischargeInfo]:
    """Every discharge of the client, newest first (summaries are clinical content)."""
    with db.session() as session:
        require_client_clinical(session, actor, client_id, Perm.CLINICAL_VIEW)
        rows = session.exec(
            select(Discharge)
            .where(Discharge.client_id == client_id, col(Discharge.voided_at).is_(None))
            .order_by(col(Discharge.discharge_date).desc(), col(Discharge.id).desc())
        ).all()
        result = [_info(session, d) for d in rows]
        if result:
            audit.record(
                session,
                actor,
                audit.Action.READ,
                entity="discharge",
                entity_id=result[0].id,
                client_id=client_id,
                detail=f"{len(result)} discharge summaries",
            )
        return result


EDITABLE = ("reason", "summary", "step_down_level", "receiving_provider")


@service(None, audit=Audited(audit.Action.UPDATE, "discharge"))
def update_discharge(
    session: Session,
    actor: Actor,
    discharge_id: int,
    expected_version: int,
    changes: dict[str, str],
    goal_progress: dict[int, str] | None = None,
) -> DischargeInfo:
    """Correct the summary later; refused if someone else saved it since it was read."""
    bad = [k for k in changes if k not in EDITABLE]
    if bad:
        raise ValidationError(f"These discharge fields cannot be changed: {', '.join(bad)}.")
    if "reason" in changes and not changes["reason"].strip():
        raise ValidationError("Enter the reason for the discharge.", {"reason": "Required."})
    d = session.get(Discharge, discharge_id)
    if d is None or d.voided_at is not None:
        raise NotFoundError("That discharge record does not exist.")
    require_client_clinical(session, actor, d.client_id, Perm.DISCHARGE_MANAGE)
    if d.signed_at is not None:
        raise UserError(
            "This discharge summary is signed and locked. Add an addendum to correct it."
        )
    if d.version != expected_version:
        raise StaleRecordError("This discharge summary")
    if (
        d.discharge_type == DischargeType.STEP_DOWN.value
        and not changes.get("step_down_level", d.step_down_level).strip()
        and not changes.get("receiving_provider", d.receiving_provider).strip()
    ):
        raise ValidationError(
            "For a step-down or transfer, enter the next level of care or the receiving provider.",
            {"step_down_level": "Required for a step-down."},
        )
    for key, value in changes.items():
        setattr(d, key, value.strip())
    for gp_id, text in (goal_progress or {}).items():
        gp = session.get(DischargeGoalProgress, gp_id)
        if gp is None or gp.discharge_id != d.id:
            raise NotFoundError("That goal is not part of this discharge summary.")
        gp.progress = text.strip()
        touch(gp, actor)
        session.add(gp)
    touch(d, actor)
    session.add(d)
    session.flush()
    about(
        session,
        entity_id=d.id,
        client_id=d.client_id,
        detail="fields=" + ",".join(sorted(changes) + (["goals"] if goal_progress else [])),
    )
    return _info(session, d)


# -- signing and printing ------------------------------------------------------------------------
def canonical_summary(d: Discharge, goals: list[DischargeGoalProgress]) -> str:
    """What the signature covers: every field of the summary and each goal's progress."""
    import json

    return json.dumps(
        {
            "client_id": d.client_id,
            "episode_id": d.episode_id,
            "discharge_date": d.discharge_date.isoformat(),
            "discharge_type": d.discharge_type,
            "reason": d.reason,
            "summary": d.summary,
            "step_down_level": d.step_down_level,
            "receiving_provider": d.receiving_provider,
            "goals": [[g.goal_id, g.goal_text, g.progress] for g in goals],
        },
        sort_keys=True,
        ensure_ascii=False,
    )


def _goal_rows(session: Session, discharge_id: int) -> list[DischargeGoalProgress]:
    return list(
        session.exec(
            select(DischargeGoalProgress)
            .where(DischargeGoalProgress.discharge_id == discharge_id)
            .order_by(col(DischargeGoalProgress.id))
        ).all()
    )


def sign_errors_in(session: Session, d: Discharge) -> dict[str, str]:
    from iopdesk.models import MedicationReconciliation

    errors: dict[str, str] = {}
    if not d.summary.strip():
        errors["summary"] = "Write the discharge summary (course of treatment) before signing."
    if not d.reason.strip():
        errors["reason"] = "Enter the reason for the discharge."
    if d.discharge_type != DischargeType.DEATH.value:
        reconciled = session.exec(
            select(func.count())
            .select_from(MedicationReconciliation)
            .where(
                MedicationReconciliation.client_id == d.client_id,
                MedicationReconciliation.occasion == "discharge",
                col(MedicationReconciliation.reconciled_on) >= d.discharge_date - timedelta(7),
            )
        ).one()
        if not reconciled:
            errors["medications"] = (
                "Reconcile the medication list at discharge first (chart, Medications tab)."
            )
    return errors


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.SIGN, "discharge"))
def sign_discharge(
    session: Session, actor: Actor, discharge_id: int, expected_version: int
) -> DischargeInfo:
    """Sign and lock the summary (see the module docstring)."""
    if actor.staff_id is None:
        raise PermissionDenied("Your user account is not linked to a staff record.")
    d = session.get(Discharge, discharge_id)
    if d is None or d.voided_at is not None:
        raise NotFoundError("That discharge record does not exist.")
    require_client_clinical(session, actor, d.client_id, Perm.DISCHARGE_MANAGE)
    if d.signed_at is not None:
        raise UserError("This discharge summary is already signed.")
    if d.version != expected_version:
        raise StaleRecordError("This discharge summary")
    errors = sign_errors_in(session, d)
    if errors:
        raise ValidationError(" ".join(errors.values()), errors)
    import hashlib

    sha = hashlib.sha256(
        canonical_summary(d, _goal_rows(session, discharge_id)).encode("utf-8")
    ).hexdigest()
    d.signed_by = actor.user_id
    d.signed_at = utcnow()
    d.content_sha256 = sha
    touch(d, actor)
    session.add(d)
    session.flush()
    about(session, entity_id=d.id, client_id=d.client_id)
    return _info(session, d)


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.CREATE, "discharge_addendum"))
def add_discharge_addendum(
    session: Session, actor: Actor, discharge_id: int, text: str
) -> DischargeInfo:
    """A dated correction or late entry to a signed summary, signed by its author on saving
    and locked; the summary itself never changes."""
    text = (text or "").strip()
    if not text:
        raise ValidationError("Write the addendum.", {"text": "Required."})
    d = session.get(Discharge, discharge_id)
    if d is None or d.voided_at is not None:
        raise NotFoundError("That discharge record does not exist.")
    require_client_clinical(session, actor, d.client_id, Perm.DISCHARGE_MANAGE)
    if d.signed_at is None:
        raise UserError("The summary is not signed yet: edit it instead of adding an addendum.")
    import hashlib

    add = DischargeAddendum(
        discharge_id=discharge_id,
        author_user_id=actor.user_id,
        text=text,
        signed_at=utcnow(),
        content_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )
    session.add(add)
    session.flush()
    about(session, entity_id=add.id, client_id=d.client_id, detail=f"discharge {discharge_id}")
    return _info(session, d)


def verify_discharge(db: Database, actor: Actor, discharge_id: int) -> bool:
    """Does the signed summary still hash to its recorded SHA-256?"""
    with db.session() as session:
        d = session.get(Discharge, discharge_id)
        if d is None:
            raise NotFoundError("That discharge record does not exist.")
        require_client_clinical(session, actor, d.client_id, Perm.CLINICAL_VIEW)
        import hashlib

        text = canonical_summary(d, _goal_rows(session, discharge_id))
        return d.content_sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()


def discharge_doc(session: Session, actor: Actor, discharge_id: int) -> Any:
    """The summary as a reports.clinical_pdf.ClinicalDoc (no access check: callers check)."""
    from iopdesk.models import MedicationReconciliation
    from iopdesk.reports.clinical_pdf import ClinicalDoc, Section
    from iopdesk.services.medications import medications_in
    from iopdesk.services.safety import clinic_header_in, local_time, printed_line

    info = discharge_in(session, discharge_id)
    client = _client(session, info.client_id)
    header = clinic_header_in(session)
    facts = [
        ("Admission date", f"{client.admission_date:%m/%d/%Y}" if client.admission_date else ""),
        ("Discharge date", f"{info.discharge_date:%m/%d/%Y}"),
        ("Type of discharge", info.type_label),
        ("TEDS reason", TEDS_LABELS[info.teds_reason]),
        ("Next level of care", info.step_down_level),
        ("Receiving provider", info.receiving_provider),
    ]
    meds = medications_in(session, info.client_id, info.discharge_date)
    recon = session.exec(
        select(MedicationReconciliation)
        .where(
            MedicationReconciliation.client_id == info.client_id,
            MedicationReconciliation.occasion == "discharge",
        )
        .order_by(col(MedicationReconciliation.id).desc())
    ).first()
    sections: tuple[Section, ...] = (
        Section("Discharge", headers=("", ""), rows=tuple((k, v) for k, v in facts if v),
                widths=(0.3, 0.7)),
        Section("Reason for discharge", info.reason),
        Section("Summary of treatment", info.summary),
        Section(
            "Progress on treatment-plan goals",
            headers=("Goal", "Progress"),
            rows=tuple((g.goal_text, g.progress) for g in info.goals),
            widths=(0.45, 0.55),
        ),
        Section(
            "Medications at discharge"
            + (f" (reconciled {recon.reconciled_on:%m/%d/%Y})" if recon else " (not reconciled)"),
            headers=("Medication", "Dose", "Route", "Frequency", "Prescriber"),
            rows=tuple((m.name, m.dose, m.route, m.frequency, m.prescriber) for m in meds),
            widths=(0.26, 0.14, 0.14, 0.22, 0.24),
            empty="No current medications",
        ),
    )  # fmt: skip
    if info.addenda:
        sections += (
            Section(
                "Addenda",
                headers=("Signed", "By", "Addendum"),
                rows=tuple(
                    (local_time(session, a.signed_at), a.author, a.text) for a in info.addenda
                ),
                widths=(0.2, 0.22, 0.58),
            ),
        )
    if info.signed_at is not None:
        signature: tuple[str, ...] = (
            f"Electronically signed by {info.signed_by} on {local_time(session, info.signed_at)}",
            f"Content SHA-256: {info.content_sha256}",
        )
    else:
        signature = ("DRAFT: not signed. This discharge summary is not final.",)
    return ClinicalDoc(
        title="Discharge Summary",
        clinic_name=header["clinic_name"],
        clinic_address=header["clinic_address"],
        clinic_phone=header["clinic_phone"],
        client_name=f"{client.first_name} {client.last_name}",
        dob=client.dob,
        mrn=client.mrn,
        date_label=f"Discharged {info.discharge_date:%m/%d/%Y}",
        sections=sections,
        signature=signature,
        signed=info.signed_at is not None,
        part2=client.part2,
        printed=printed_line(session, actor),
    )


def _summary_categories(doc: Any) -> tuple[str, ...]:
    """What the printed summary actually holds, for the release gate: the discharge, plus
    treatment-plan goals and medications when it lists any."""
    held = ["discharge_aftercare"]
    for section in doc.sections:
        if section.heading.startswith("Progress on treatment-plan goals") and section.rows:
            held.append("treatment_plan")
        if section.heading.startswith("Medications at discharge") and section.rows:
            held.append("medications")
    return tuple(held)


def print_discharge(
    db: Database, actor: Actor, discharge_id: int, path: Any, *, release: Any = None
) -> Any:
    """Write the summary's PDF through the Part 2 release gate (default: internal use)."""
    from iopdesk.reports.clinical_pdf import write_pdf
    from iopdesk.services.disclosures import INTERNAL
    from iopdesk.services.printing import pdf_target, release_pdf

    target = pdf_target(path, "discharge summary")
    with db.session() as session:
        d = session.get(Discharge, discharge_id)
        if d is None or d.voided_at is not None:
            raise NotFoundError("That discharge record does not exist.")
        require_client_clinical(session, actor, d.client_id, Perm.CLINICAL_VIEW)
        doc = discharge_doc(session, actor, discharge_id)
        client_id = d.client_id
    pages: list[int] = []
    return release_pdf(
        db,
        actor,
        target,
        lambda p, notice: pages.append(write_pdf(doc, p, notice)),
        client_id=client_id,
        categories=_summary_categories(doc),
        release=release or INTERNAL,
        what=lambda: f"discharge summary {discharge_id} ({pages[0]} pages)",
        entity="discharge",
        entity_id=discharge_id,
        detail=lambda row: f"discharge summary; {pages[0]} pages; disclosure {row.id}",
    )


# -- the work list -------------------------------------------------------------------------------
def work_list(db: Database, actor: Actor, *, recent_days: int = RECENT_DAYS) -> list[WorkRow]:
    """Discharge pending (on hold, or active without attendance for two weeks), recently
    discharged, and every aftercare plan still in draft."""
    require(actor, Perm.CLIENT_VIEW)
    with db.read() as session:
        today = clinic_today(session)
        last_seen = (
            sa_select(
                col(Attendance.client_id).label("cid"),
                func.max(ClinicSession.session_date).label("last"),
            )
            .join(ClinicSession, col(ClinicSession.id) == col(Attendance.session_id))
            .where(col(Attendance.status).in_([s.value for s in ATTENDED_STATUSES]))
            .group_by(col(Attendance.client_id))
            .subquery()
        )
        latest_plan = (
            sa_select(
                col(AftercarePlan.client_id).label("cid"),
                func.max(AftercarePlan.id).label("pid"),
            )
            .group_by(col(AftercarePlan.client_id))
            .subquery()
        )
        rows = session.execute(
            sa_select(
                col(Client.id),
                col(Client.mrn),
                col(Client.last_name),
                col(Client.first_name),
                col(Client.preferred_name),
                col(Client.status),
                col(Client.part2),
                col(Client.admission_date),
                col(Client.discharge_date),
                last_seen.c.last,
                col(AftercarePlan.id),
                col(AftercarePlan.status),
            )
            .outerjoin(last_seen, last_seen.c.cid == col(Client.id))
            .outerjoin(latest_plan, latest_plan.c.cid == col(Client.id))
            .outerjoin(AftercarePlan, col(AftercarePlan.id) == latest_plan.c.pid)
            .where(col(Client.status).in_(["active", "on_hold", "discharged"]))
        ).all()
        drafts = session.execute(
            sa_select(col(AftercarePlan.id), col(AftercarePlan.client_id)).where(
                col(AftercarePlan.status) == "draft"
            )
        ).all()
    draft_by_client = {cid: pid for pid, cid in drafts}
    result: list[WorkRow] = []
    idle_cutoff = today - timedelta(days=PENDING_IDLE_DAYS)
    recent_cutoff = today - timedelta(days=recent_days)
    for cid, mrn, last, first, pref, status, part2, admitted, dis, seen, pid, pstatus in rows:
        name = f"{last}, {first}" + (f' "{pref}"' if pref else "")
        plan_status = pstatus or ""
        if status == "discharged":
            if dis is not None and dis >= recent_cutoff:
                result.append(
                    WorkRow(
                        "discharged",
                        cid,
                        mrn,
                        name,
                        status,
                        bool(part2),
                        dis,
                        "Aftercare plan " + (plan_status or "not started"),
                        pid,
                        plan_status,
                    )
                )
        else:
            reason = ""
            if status == "on_hold":
                reason = "On hold"
            elif seen is not None and seen < idle_cutoff:
                reason = f"No attendance since {seen:%m/%d/%Y}"
            elif seen is None and admitted is not None and admitted < idle_cutoff:
                reason = "No attendance since admission"
            if reason:
                result.append(
                    WorkRow(
                        "pending",
                        cid,
                        mrn,
                        name,
                        status,
                        bool(part2),
                        seen,
                        reason,
                        pid,
                        plan_status,
                    )
                )
        shown_draft = status == "discharged" and dis is not None and dis >= recent_cutoff
        if cid in draft_by_client and not (shown_draft and pid == draft_by_client[cid]):
            result.append(
                WorkRow(
                    "draft",
                    cid,
                    mrn,
                    name,
                    status,
                    bool(part2),
                    dis,
                    "Aftercare plan in draft",
                    draft_by_client[cid],
                    "draft",
                )
            )
    order = {"pending": 0, "discharged": 1, "draft": 2}
    result.sort(
        key=lambda r: (order[r.category], -(r.when.toordinal() if r.when else 0), r.name.lower())
    )
    return result


def can_discharge(actor: Actor) -> bool:
    return has(actor, Perm.DISCHARGE_MANAGE)
