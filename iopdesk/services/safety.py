"""Suicide risk that stays visible (issue 20 items 1-2): risk flags, the follow-up task, the
C-SSRS screener and the Stanley-Brown safety plan.

The rules, exactly (decisions where the issue is silent are marked *):

- A flag is raised on the client when a PHQ-9 is recorded with item 9 above 0, or when a note
  whose risk screen says "Suicidal ideation: yes" is saved complete or signed (group entries
  when the group note is signed). A clinician may also raise one by hand with a reason*.
  While a flag is open, another trigger adds a line to its history instead of a second flag*.
- The flag shows as a banner on the chart and the clinical screens of users who may read the
  client's clinical record*, and as a Today item for the client's current primary therapist(s)
  and every supervisor.
- Each flag carries a follow-up task. It is done only when, since the flag was raised, a
  clinician has recorded a C-SSRS screener (scored) AND either signed a safety plan or written
  a reasoned decision that no safety plan is needed. The task stays open until then, even when
  the flag is cleared*.
- Clearing needs a clinician (clinical write access to this client) and a reason. Nothing is
  deleted: every flag, with its dated events (raised, retriggered, assessed, safety plan,
  decision, cleared), is the client's flag history.
- C-SSRS screener triage (Columbia "Screen Version - Recent"): high risk = yes to 4 or 5, or
  suicidal behaviour in the past 3 months; moderate = yes to 3, or behaviour ever (longer
  ago); low = yes to 1 or 2 only; none = all no. Questions 3-5 are asked only after a yes to 2.
  A screen is signed by the clinician on saving and locked (database triggers)*.
- A safety plan is signed when all seven Stanley-Brown steps are filled in, and the
  professionals and agencies list holds 988 (new plans start with it). Signing locks it
  (SHA-256, database triggers); a newer signed plan supersedes the older one*.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from iopdesk.db import Database
from iopdesk.errors import (
    NotFoundError,
    PermissionDenied,
    StaleRecordError,
    UserError,
    ValidationError,
)
from iopdesk.models import (
    Client,
    CssrsScreen,
    RiskFlag,
    RiskFlagEvent,
    SafetyPlan,
    Staff,
    TherapistAssignment,
    User,
    utcnow,
)
from iopdesk.models.enums import AssignmentRole, Role
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.clients import can_view_clinical_in, require_clinical_in
from iopdesk.services.clinic import clinic_today
from iopdesk.services.declare import Arg, Audited, about, service
from iopdesk.services.people import user_name
from iopdesk.services.permissions import Perm, has, require
from iopdesk.services.records import update_versioned

M = TypeVar("M")
Info = TypeVar("Info")
OPEN = "open"
CLEARED = "cleared"
SOURCE_LABELS = {"phq9": "PHQ-9 item 9", "note": "note risk screen", "manual": "clinician"}
CRISIS_LINE = {"name": "988 Suicide & Crisis Lifeline (call or text)", "phone": "988"}

CSSRS_QUESTIONS = (
    ("wish_dead", "1. Have you wished you were dead or wished you could go to sleep and not "
     "wake up?"),
    ("suicidal_thoughts", "2. Have you actually had any thoughts of killing yourself?"),
    ("thoughts_with_method", "3. Have you been thinking about how you might do this?"),
    ("intent", "4. Have you had these thoughts and had some intention of acting on them?"),
    ("plan_with_intent", "5. Have you started to work out or worked out the details of how "
     "to kill yourself? Do you intend to carry out this plan?"),
    ("behavior_ever", "6. Have you ever done anything, started to do anything, or prepared to "
     "do anything to end your life?"),
    ("behavior_past_3_months", "   If yes to 6: was this within the past 3 months?"),
)  # fmt: skip
RISK_LEVELS = ("none", "low", "moderate", "high")
RISK_LABELS = {"none": "No risk identified", "low": "Low risk", "moderate": "Moderate risk",
               "high": "High risk"}  # fmt: skip

SAFETY_STEPS = (
    ("warning_signs", "1. Warning signs (thoughts, images, mood, situations, behavior)"),
    ("internal_coping", "2. Internal coping strategies: things I can do on my own"),
    ("distraction", "3. People and social settings that provide distraction"),
    ("help_contacts", "4. People whom I can ask for help"),
    ("professionals", "5. Professionals or agencies I can contact during a crisis"),
    ("environment_safety", "6. Making the environment safe (lethal means)"),
    ("reasons_for_living", "7. The one thing most important to me and worth living for"),
)


# -- plain data -----------------------------------------------------------------------------
@dataclass(frozen=True)
class FlagEvent:
    event: str
    detail: str
    at: datetime
    by: str


@dataclass(frozen=True)
class FlagInfo:
    id: int
    version: int
    client_id: int
    source: str
    detail: str
    raised_at: datetime
    status: str
    cleared_at: datetime | None
    cleared_by: str
    clear_reason: str
    assessment_id: int | None
    safety_plan_id: int | None
    decision: str
    followup_done_at: datetime | None
    events: tuple[FlagEvent, ...] = ()
    raised_on: date | None = None  # the clinic's date when it was raised

    @property
    def followup_open(self) -> bool:
        return self.followup_done_at is None

    @property
    def followup_needs(self) -> str:
        """What the follow-up task still needs, in words ("" when done)."""
        if self.followup_done_at is not None:
            return ""
        needs = []
        if self.assessment_id is None:
            needs.append("a C-SSRS risk assessment")
        if self.safety_plan_id is None and not self.decision:
            needs.append("a signed safety plan or a reasoned decision")
        return " and ".join(needs)


@dataclass(frozen=True)
class RiskBanner:
    """What a chart or clinical screen shows at the top ("" text: nothing to show)."""

    client_id: int
    flag_id: int | None
    text: str
    followup: str  # what the follow-up still needs

    @property
    def shown(self) -> bool:
        return bool(self.text)


@dataclass(frozen=True)
class RiskTask:
    """A Today item: a client with an open flag or an open follow-up task."""

    client_id: int
    mrn: str
    client: str
    flag_id: int
    raised_at: datetime
    flag_open: bool
    needs: str
    raised_on: date | None = None


@dataclass(frozen=True)
class CssrsInput:
    screen_date: date
    wish_dead: bool = False
    suicidal_thoughts: bool = False
    thoughts_with_method: bool = False
    intent: bool = False
    plan_with_intent: bool = False
    behavior_ever: bool = False
    behavior_past_3_months: bool = False
    clinical_note: str = ""
    disposition: str = ""


@dataclass(frozen=True)
class CssrsInfo:
    id: int
    client_id: int
    screen_date: date
    answers: dict[str, bool]
    risk_level: str
    clinical_note: str
    disposition: str
    administered_by: str
    signed_at: datetime | None

    @property
    def risk_label(self) -> str:
        return RISK_LABELS.get(self.risk_level, self.risk_level)


@dataclass(frozen=True)
class Contact:
    name: str
    phone: str = ""


@dataclass
class SafetyPlanData:
    warning_signs: str = ""
    internal_coping: str = ""
    distraction: str = ""
    help_contacts: list[Contact] = field(default_factory=list)
    professionals: list[Contact] = field(default_factory=list)
    environment_safety: str = ""
    reasons_for_living: str = ""
    client_participated: bool = False


@dataclass(frozen=True)
class SafetyPlanInfo:
    id: int
    version: int
    client_id: int
    status: str
    data: SafetyPlanData
    signed_by: str
    signed_at: datetime | None
    content_sha256: str | None
    created_at: datetime


# -- helpers --------------------------------------------------------------------------------
def _check(session: Session, actor: Actor, client_id: int, entity: str, what: str) -> None:
    if session.get(Client, client_id) is None:
        raise NotFoundError("That client record does not exist.")
    require_clinical_in(session, actor, client_id, entity=entity, entity_id="", what=what)


def _chart_list(
    session: Session,
    actor: Actor,
    client_id: int,
    what: tuple[str, str, str],
    query: SelectOfScalar[M],
    info: Callable[[Session, M], Info],
) -> list[Info]:
    """A list the chart shows, the same way for each kind of record (declared by the caller
    with the clinical read permission and a READ row of `entity`): access to this client, the
    rows of `query`, the audit detail counting them, each row turned into its info. `what` is
    (audited entity, "see their ..." for a refusal, the plural counted in the audit detail)."""
    entity, refusal, plural = what
    _check(session, actor, client_id, entity, refusal)
    rows = session.exec(query).all()
    about(session, detail=f"{len(rows)} {plural}")
    return [info(session, row) for row in rows]


def _listed(entity: str) -> Audited[Any]:
    """The READ row of a chart list (_chart_list fills in the count)."""
    return Audited(audit.Action.READ, entity, client_id=Arg("client_id"))


def _clinician(actor: Actor) -> None:
    """After the declared CLINICAL_WRITE permission: the user documents as a staff member."""
    if actor.staff_id is None:
        raise PermissionDenied(
            "Your user account is not linked to a staff record, so you cannot document "
            "clinical care. Ask an administrator to link it."
        )


def _event(session: Session, actor: Actor | None, flag: RiskFlag, event: str, detail: str) -> None:
    session.add(
        RiskFlagEvent(
            flag_id=flag.id or 0,
            event=event,
            detail=detail[:300],
            at=utcnow(),
            by_user=actor.user_id if actor else None,
            created_by=actor.user_id if actor else None,
            updated_by=actor.user_id if actor else None,
        )
    )


def _flag_info(session: Session, f: RiskFlag, with_events: bool = False) -> FlagInfo:
    events: tuple[FlagEvent, ...] = ()
    if with_events:
        rows = session.exec(
            select(RiskFlagEvent)
            .where(RiskFlagEvent.flag_id == f.id)
            .order_by(col(RiskFlagEvent.at), col(RiskFlagEvent.id))
        ).all()
        events = tuple(
            FlagEvent(e.event, e.detail, e.at, user_name(session, e.by_user)) for e in rows
        )
    return FlagInfo(
        id=f.id or 0,
        version=f.version,
        client_id=f.client_id,
        source=f.source,
        detail=f.detail,
        raised_at=f.raised_at,
        status=f.status,
        cleared_at=f.cleared_at,
        cleared_by=user_name(session, f.cleared_by),
        clear_reason=f.clear_reason,
        assessment_id=f.assessment_id,
        safety_plan_id=f.safety_plan_id,
        decision=f.decision,
        followup_done_at=f.followup_done_at,
        events=events,
        raised_on=_local_date(session, f),
    )


def _pending_followups(session: Session, client_id: int) -> list[RiskFlag]:
    return list(
        session.exec(
            select(RiskFlag)
            .where(RiskFlag.client_id == client_id, col(RiskFlag.followup_done_at).is_(None))
            .order_by(col(RiskFlag.id))
        ).all()
    )


def _maybe_done(session: Session, actor: Actor, flag: RiskFlag) -> None:
    if (
        flag.followup_done_at is None
        and flag.assessment_id is not None
        and (flag.safety_plan_id is not None or flag.decision)
    ):
        flag.followup_done_at = utcnow()
        _event(session, actor, flag, "follow-up done", "")


# -- raising --------------------------------------------------------------------------------
def raise_flag_in(
    session: Session,
    actor: Actor | None,
    client_id: int,
    source: str,
    source_id: int | None,
    detail: str = "",
) -> int:
    """Raise (or, while one is open, add a trigger to) the client's suicide-risk flag, inside
    the caller's transaction. Returns the flag id. Never refused: safety comes first."""
    label = SOURCE_LABELS.get(source, source)
    what = label + (f" #{source_id}" if source_id else "") + (f": {detail}" if detail else "")
    current = session.exec(
        select(RiskFlag)
        .where(RiskFlag.client_id == client_id, RiskFlag.status == OPEN)
        .order_by(col(RiskFlag.id).desc())
    ).first()
    if current is not None:
        seen = session.exec(
            select(RiskFlagEvent).where(
                RiskFlagEvent.flag_id == current.id, RiskFlagEvent.detail == what[:300]
            )
        ).first()
        if seen is None and not (current.source == source and current.source_id == source_id):
            _event(session, actor, current, "retriggered", what)
        return current.id or 0
    flag = RiskFlag(
        client_id=client_id,
        source=source,
        source_id=source_id,
        detail=detail[:300],
        raised_at=utcnow(),
        raised_by=actor.user_id if actor else None,
        created_by=actor.user_id if actor else None,
        updated_by=actor.user_id if actor else None,
    )
    session.add(flag)
    session.flush()
    _event(session, actor, flag, "raised", what)
    audit.record(
        session,
        actor,
        audit.Action.CREATE,
        entity="risk_flag",
        entity_id=flag.id,
        client_id=client_id,
        detail=f"suicide risk flag raised by {source}",
        flagged=True,
    )
    return flag.id or 0


@service(Perm.CLINICAL_WRITE)  # the audit row is raise_flag_in's (it is composed elsewhere too)
def raise_flag(session: Session, actor: Actor, client_id: int, reason: str) -> FlagInfo:
    """A clinician raises the flag by hand (e.g. risk disclosed outside a note or measure)."""
    _clinician(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Say why you are raising the risk flag.", {"reason": "Required."})
    _check(session, actor, client_id, "risk_flag", "raise a risk flag for them")
    flag_id = raise_flag_in(session, actor, client_id, "manual", None, reason)
    session.flush()
    flag = session.get(RiskFlag, flag_id)
    assert flag is not None
    return _flag_info(session, flag, True)


# -- reading --------------------------------------------------------------------------------
def banner_in(
    session: Session, actor: Actor, client_id: int, can_view: bool | None = None
) -> RiskBanner:
    """The banner for this user: only users who may read the client's clinical record see it.
    `can_view`: the caller already knows (the chart's open computes it once)."""
    if can_view is None:
        can_view = can_view_clinical_in(session, actor, client_id)
    if not can_view:
        return RiskBanner(client_id, None, "", "")
    # the open flag and the open follow-ups in one read
    rows = session.exec(
        select(RiskFlag)
        .where(
            RiskFlag.client_id == client_id,
            or_(col(RiskFlag.status) == OPEN, col(RiskFlag.followup_done_at).is_(None)),
        )
        .order_by(col(RiskFlag.id))
    ).all()
    open_flag = next((f for f in reversed(rows) if f.status == OPEN), None)
    pending = [f for f in rows if f.followup_done_at is None]
    if open_flag is None and not pending:
        return RiskBanner(client_id, None, "", "")
    shown = open_flag or pending[-1]
    info = _flag_info(session, shown)
    needs = "; ".join(sorted({_flag_info(session, f).followup_needs for f in pending} - {""}))
    if open_flag is not None:
        text = (
            f"SUICIDE RISK FLAG since {info.raised_on:%m/%d/%Y} "
            f"({SOURCE_LABELS.get(info.source, info.source)})"
        )
    else:
        text = "Suicide risk flag cleared; follow-up still open"
    if needs:
        text += f". Follow-up needs {needs}."
    return RiskBanner(client_id, shown.id, text, needs)


def banner(db: Database, actor: Actor, client_id: int) -> RiskBanner:
    with db.session() as session:
        return banner_in(session, actor, client_id)


@service(Perm.CLINICAL_VIEW, audit=_listed("risk_flag"))
def list_flags(session: Session, actor: Actor, client_id: int) -> list[FlagInfo]:
    """The client's whole flag history, newest first, each with its events (audited)."""
    return _chart_list(
        session,
        actor,
        client_id,
        ("risk_flag", "see their risk flags", "risk flags"),
        select(RiskFlag).where(RiskFlag.client_id == client_id).order_by(col(RiskFlag.id).desc()),
        lambda session, f: _flag_info(session, f, True),
    )


def tasks_in(session: Session, actor: Actor, today: date | None = None) -> list[RiskTask] | None:
    """Today items: supervisors see every client; a therapist the clients they are the current
    primary therapist of. None for users without clinical access. `today`: the clinic's date
    when the caller knows it."""
    if not has(actor, Perm.CLINICAL_WRITE) and not actor.is_(Role.SUPERVISOR):
        return None
    query = (
        select(RiskFlag, Client.mrn, Client.last_name, Client.first_name)
        .join(Client, col(Client.id) == col(RiskFlag.client_id))
        .where(or_(col(RiskFlag.status) == OPEN, col(RiskFlag.followup_done_at).is_(None)))
    )
    if not actor.is_(Role.SUPERVISOR):
        if actor.staff_id is None:
            return []
        today = today or clinic_today(session)
        mine = select(TherapistAssignment.client_id).where(
            TherapistAssignment.staff_id == actor.staff_id,
            TherapistAssignment.role == AssignmentRole.PRIMARY_THERAPIST.value,
            col(TherapistAssignment.voided_at).is_(None),
            TherapistAssignment.start_date <= today,
            or_(
                col(TherapistAssignment.end_date).is_(None),
                col(TherapistAssignment.end_date) >= today,
            ),
        )
        query = query.where(col(RiskFlag.client_id).in_(mine))
    rows = session.exec(query.order_by(col(RiskFlag.raised_at), col(RiskFlag.id))).all()
    tasks = []
    for f, mrn, last, first in rows:
        info = _flag_info(session, f)
        tasks.append(
            RiskTask(
                f.client_id,
                mrn,
                f"{last}, {first}",
                f.id or 0,
                f.raised_at,
                f.status == OPEN,
                info.followup_needs,
                info.raised_on,
            )
        )
    return tasks


def my_tasks(db: Database, actor: Actor) -> list[RiskTask]:
    with db.session() as session:
        return tasks_in(session, actor) or []


# -- follow-up and clearing -----------------------------------------------------------------
def _get_flag(session: Session, actor: Actor, flag_id: int, what: str) -> RiskFlag:
    flag = session.get(RiskFlag, flag_id)
    if flag is None:
        raise NotFoundError("That risk flag does not exist.")
    _check(session, actor, flag.client_id, "risk_flag", what)
    return flag


@service(
    Perm.CLINICAL_WRITE,
    audit=Audited(
        audit.Action.UPDATE,
        "risk_flag",
        entity_id=Arg("flag_id"),
        client_id=lambda info: info.client_id,
        detail=lambda _: "reasoned decision recorded",
    ),
)
def record_decision(
    session: Session, actor: Actor, flag_id: int, expected_version: int, decision: str
) -> FlagInfo:
    """A clinician's reasoned decision that no safety plan is needed (instead of a plan)."""
    _clinician(actor)
    decision = (decision or "").strip()
    if len(decision) < 20:
        raise ValidationError(
            "Write the clinical reasoning for not making a safety plan (at least a sentence).",
            {"decision": "Give the reasoning."},
        )
    flag = _get_flag(session, actor, flag_id, "document their risk follow-up")
    if flag.version != expected_version:
        raise StaleRecordError("This risk flag")
    if flag.followup_done_at is not None:
        raise UserError("The follow-up of this flag is already complete.")
    flag.decision = decision[:2000]
    flag.decision_by = actor.user_id
    _event(session, actor, flag, "decision", "no safety plan: reasoned decision")
    _maybe_done(session, actor, flag)
    _save(session, actor, flag)
    return _flag_info(session, flag, True)


@service(
    Perm.CLINICAL_WRITE,
    audit=Audited(
        audit.Action.UPDATE,
        "risk_flag",
        entity_id=Arg("flag_id"),
        client_id=lambda info: info.client_id,
        detail=lambda _: "suicide risk flag cleared",
        flagged=True,
    ),
)
def clear_flag(
    session: Session, actor: Actor, flag_id: int, expected_version: int, reason: str
) -> FlagInfo:
    """A clinician clears the flag with a reason; the flag and its history stay on record."""
    _clinician(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            "Give the reason for clearing the risk flag.", {"reason": "Required."}
        )
    flag = _get_flag(session, actor, flag_id, "clear their risk flag")
    if flag.status != OPEN:
        raise UserError("This risk flag is already cleared.")
    if flag.version != expected_version:
        raise StaleRecordError("This risk flag")
    flag.status = CLEARED
    flag.cleared_at = utcnow()
    flag.cleared_by = actor.user_id
    flag.clear_reason = reason[:1000]
    _event(session, actor, flag, "cleared", "")
    _save(session, actor, flag)
    return _flag_info(session, flag, True)


def _save(session: Session, actor: Actor, flag: RiskFlag) -> None:
    flag.version += 1
    flag.updated_at = utcnow()
    flag.updated_by = actor.user_id
    session.add(flag)
    session.flush()


# -- C-SSRS screener ------------------------------------------------------------------------
def cssrs_risk(data: CssrsInput) -> str:
    """The screener's triage level from the answers (see the module docstring)."""
    if data.intent or data.plan_with_intent or (data.behavior_ever and data.behavior_past_3_months):
        return "high"
    if data.thoughts_with_method or data.behavior_ever:
        return "moderate"
    if data.wish_dead or data.suicidal_thoughts:
        return "low"
    return "none"


def validate_cssrs(data: CssrsInput, today: date) -> None:
    errors: dict[str, str] = {}
    if data.screen_date > today:
        errors["screen_date"] = "The screening date cannot be in the future."
    if not data.suicidal_thoughts and (
        data.thoughts_with_method or data.intent or data.plan_with_intent
    ):
        errors["suicidal_thoughts"] = (
            "Questions 3 to 5 are asked only after a yes to question 2 (thoughts of killing "
            "yourself). Answer question 2 yes, or answer 3 to 5 no."
        )
    if data.behavior_past_3_months and not data.behavior_ever:
        errors["behavior_ever"] = (
            "Behavior in the past 3 months needs a yes to question 6 (any suicidal behavior)."
        )
    if cssrs_risk(data) != "none" and not data.disposition.strip():
        errors["disposition"] = (
            "Record the disposition: what was done about the risk found (for example safety "
            "plan, higher level of care, emergency evaluation)."
        )
    if errors:
        first = next(iter(errors.values()))
        raise ValidationError(first, errors)


def _cssrs_info(session: Session, s: CssrsScreen) -> CssrsInfo:
    staff = session.get(Staff, s.administered_by)
    return CssrsInfo(
        s.id or 0,
        s.client_id,
        s.screen_date,
        {key: bool(getattr(s, key)) for key, _ in CSSRS_QUESTIONS},
        s.risk_level,
        s.clinical_note,
        s.disposition,
        f"{staff.first_name} {staff.last_name}" if staff else "",
        s.signed_at,
    )


@service(
    Perm.CLINICAL_WRITE,
    audit=Audited(
        audit.Action.CREATE, "cssrs", entity_id=lambda info: info.id, client_id=Arg("client_id")
    ),
)
def record_cssrs(session: Session, actor: Actor, client_id: int, data: CssrsInput) -> CssrsInfo:
    """Score, sign and store a C-SSRS screener; it completes the assessment part of every open
    follow-up task raised on or before the screening date."""
    _clinician(actor)
    _check(session, actor, client_id, "cssrs", "record their risk assessment")
    validate_cssrs(data, clinic_today(session))
    level = cssrs_risk(data)
    now = utcnow()
    screen = CssrsScreen(
        client_id=client_id,
        screen_date=data.screen_date,
        wish_dead=data.wish_dead,
        suicidal_thoughts=data.suicidal_thoughts,
        thoughts_with_method=data.thoughts_with_method,
        intent=data.intent,
        plan_with_intent=data.plan_with_intent,
        behavior_ever=data.behavior_ever,
        behavior_past_3_months=data.behavior_past_3_months,
        risk_level=level,
        clinical_note=data.clinical_note.strip(),
        disposition=data.disposition.strip(),
        administered_by=actor.staff_id or 0,
        signed_by=actor.user_id,
        signed_at=now,
    )
    session.add(screen)
    session.flush()
    linked = 0
    for flag in _pending_followups(session, client_id):
        if flag.assessment_id is None and data.screen_date >= _local_date(session, flag):
            flag.assessment_id = screen.id
            _event(session, actor, flag, "assessed", f"C-SSRS: {RISK_LABELS[level]}")
            _maybe_done(session, actor, flag)
            _save(session, actor, flag)
            linked += 1
    about(
        session,
        detail=f"C-SSRS screener; risk {level}; {linked} follow-ups",
        flagged=level in ("moderate", "high"),
    )
    return _cssrs_info(session, screen)


def _local_date(session: Session, flag: RiskFlag) -> date:
    from iopdesk.models import Clinic
    from iopdesk.services.clinic import clinic_now

    if "clinic_tz" not in session.info:  # read once per session, not once per flag
        session.info["clinic_tz"] = session.exec(select(Clinic.timezone).limit(1)).first()
    zone = clinic_now(session.info["clinic_tz"]).tzinfo
    return flag.raised_at.astimezone(zone).date()


@service(Perm.CLINICAL_VIEW, audit=_listed("cssrs"))
def list_cssrs(session: Session, actor: Actor, client_id: int) -> list[CssrsInfo]:
    return _chart_list(
        session,
        actor,
        client_id,
        ("cssrs", "see their risk assessments", "screens"),
        select(CssrsScreen)
        .where(CssrsScreen.client_id == client_id, col(CssrsScreen.voided_at).is_(None))
        .order_by(col(CssrsScreen.screen_date).desc(), col(CssrsScreen.id).desc()),
        _cssrs_info,
    )


# -- safety plans ---------------------------------------------------------------------------
def _contacts(text: str) -> list[Contact]:
    try:
        raw = json.loads(text or "[]")
    except ValueError:
        return []
    return [Contact(str(c.get("name", "")), str(c.get("phone", ""))) for c in raw]


def _contacts_json(items: list[Contact]) -> str:
    return json.dumps(
        [{"name": c.name.strip(), "phone": c.phone.strip()} for c in items if c.name.strip()],
        ensure_ascii=False,
    )


def _plan_data(p: SafetyPlan) -> SafetyPlanData:
    return SafetyPlanData(
        p.warning_signs,
        p.internal_coping,
        p.distraction,
        _contacts(p.help_contacts_json),
        _contacts(p.professionals_json),
        p.environment_safety,
        p.reasons_for_living,
        p.client_participated,
    )


def _plan_info(session: Session, p: SafetyPlan) -> SafetyPlanInfo:
    return SafetyPlanInfo(
        p.id or 0,
        p.version,
        p.client_id,
        p.status,
        _plan_data(p),
        user_name(session, p.signed_by),
        p.signed_at,
        p.content_sha256,
        p.created_at,
    )


def canonical_plan(p: SafetyPlan) -> str:
    """What the signature covers: every step, as stored."""
    return json.dumps(
        {
            "client_id": p.client_id,
            "warning_signs": p.warning_signs,
            "internal_coping": p.internal_coping,
            "distraction": p.distraction,
            "help_contacts": json.loads(p.help_contacts_json or "[]"),
            "professionals": json.loads(p.professionals_json or "[]"),
            "environment_safety": p.environment_safety,
            "reasons_for_living": p.reasons_for_living,
            "client_participated": p.client_participated,
        },
        sort_keys=True,
        ensure_ascii=False,
    )


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def _check_contacts(items: list[Contact], key: str, errors: dict[str, str], phones: bool) -> None:
    for i, c in enumerate(items, start=1):
        if not c.name.strip() and c.phone.strip():
            errors[key] = f"Line {i} has a phone number but no name."
        elif phones and c.name.strip() and len(_digits(c.phone)) < 3:
            errors[key] = f"{c.name.strip()} needs a phone number."


def sign_errors(data: SafetyPlanData) -> dict[str, str]:
    """What stops a safety plan from being signed, per step (empty: it can be signed)."""
    errors: dict[str, str] = {}
    for key, label in SAFETY_STEPS:
        if key in ("help_contacts", "professionals"):
            filled = any(c.name.strip() for c in getattr(data, key))
        else:
            filled = bool(str(getattr(data, key)).strip())
        if not filled:
            errors[key] = f"Step {label.split('.')[0]} is empty."
    _check_contacts(data.help_contacts, "help_contacts", errors, phones=True)
    _check_contacts(data.professionals, "professionals", errors, phones=True)
    if not any(_digits(c.phone) == "988" for c in data.professionals):
        errors["professionals"] = (
            "The professionals and agencies list must include the 988 Suicide & Crisis Lifeline."
        )
    return errors


@service(Perm.CLINICAL_VIEW)
def new_plan_data(session: Session, actor: Actor, client_id: int) -> SafetyPlanData:
    """A new plan's starting point: the newest signed plan's steps, else 988 listed."""
    _check(session, actor, client_id, "safety_plan", "see their safety plan")
    last = _current_signed(session, client_id)
    if last is not None:
        data = _plan_data(last)
        data.client_participated = False
        return data
    return SafetyPlanData(professionals=[Contact(CRISIS_LINE["name"], CRISIS_LINE["phone"])])


def _current_signed(session: Session, client_id: int) -> SafetyPlan | None:
    return session.exec(
        select(SafetyPlan)
        .where(SafetyPlan.client_id == client_id, SafetyPlan.status == "signed")
        .order_by(col(SafetyPlan.signed_at).desc(), col(SafetyPlan.id).desc())
    ).first()


def _values(data: SafetyPlanData) -> dict[str, Any]:
    for key in ("help_contacts", "professionals"):
        errors: dict[str, str] = {}
        _check_contacts(getattr(data, key), key, errors, phones=False)
        if errors:
            raise ValidationError(next(iter(errors.values())), errors)
    return {
        "warning_signs": data.warning_signs.strip(),
        "internal_coping": data.internal_coping.strip(),
        "distraction": data.distraction.strip(),
        "help_contacts_json": _contacts_json(data.help_contacts),
        "professionals_json": _contacts_json(data.professionals),
        "environment_safety": data.environment_safety.strip(),
        "reasons_for_living": data.reasons_for_living.strip(),
        "client_participated": bool(data.client_participated),
    }


@service(
    Perm.CLINICAL_WRITE,
    audit=Audited(
        audit.Action.UPDATE, "safety_plan", entity_id=lambda i: i.id, client_id=Arg("client_id")
    ),
)
def save_safety_plan(
    session: Session,
    actor: Actor,
    client_id: int,
    data: SafetyPlanData,
    plan_id: int | None = None,
    expected_version: int | None = None,
) -> SafetyPlanInfo:
    """Create or update a draft safety plan (anything typed is kept)."""
    _clinician(actor)
    _check(session, actor, client_id, "safety_plan", "write their safety plan")
    values = _values(data)
    if plan_id is None:
        plan = SafetyPlan(client_id=client_id, **values)
        session.add(plan)
        session.flush()
        about(session, action=audit.Action.CREATE)
    else:
        existing = session.get(SafetyPlan, plan_id)
        if existing is None or existing.client_id != client_id:
            raise NotFoundError("That safety plan does not exist.")
        if existing.status != "draft":
            raise UserError("This safety plan is signed and locked. Start a new plan to change it.")
        plan = update_versioned(
            session,
            actor,
            SafetyPlan,
            plan_id,
            expected_version or 0,
            values,
            what="This safety plan",
        )
    return _plan_info(session, plan)


@service(
    Perm.CLINICAL_WRITE,
    audit=Audited(
        audit.Action.SIGN, "safety_plan", entity_id=Arg("plan_id"), client_id=lambda i: i.client_id
    ),
)
def sign_safety_plan(
    session: Session, actor: Actor, plan_id: int, expected_version: int
) -> SafetyPlanInfo:
    """Sign and lock the plan; it supersedes the client's older signed plan and completes the
    safety-plan part of every open follow-up task."""
    _clinician(actor)
    plan = session.get(SafetyPlan, plan_id)
    if plan is None:
        raise NotFoundError("That safety plan does not exist.")
    _check(session, actor, plan.client_id, "safety_plan", "sign their safety plan")
    if plan.status != "draft":
        raise UserError("This safety plan is already signed.")
    if plan.version != expected_version:
        raise StaleRecordError("This safety plan")
    errors = sign_errors(_plan_data(plan))
    if errors:
        raise ValidationError(
            "The safety plan cannot be signed yet: " + " ".join(errors.values()), errors
        )
    older = _current_signed(session, plan.client_id)
    if older is not None:
        older.status = "superseded"
        older.version += 1
        session.add(older)
        session.flush()
    sha = hashlib.sha256(canonical_plan(plan).encode("utf-8")).hexdigest()
    session.expunge(plan)
    signed = update_versioned(
        session,
        actor,
        SafetyPlan,
        plan_id,
        expected_version,
        {
            "status": "signed",
            "signed_by": actor.user_id,
            "signed_at": utcnow(),
            "content_sha256": sha,
        },
        what="This safety plan",
    )
    for flag in _pending_followups(session, signed.client_id):
        if flag.safety_plan_id is None:
            flag.safety_plan_id = plan_id
            _event(session, actor, flag, "safety plan", f"safety plan #{plan_id} signed")
            _maybe_done(session, actor, flag)
            _save(session, actor, flag)
    return _plan_info(session, signed)


@service(Perm.CLINICAL_VIEW, audit=_listed("safety_plan"))
def list_safety_plans(session: Session, actor: Actor, client_id: int) -> list[SafetyPlanInfo]:
    return _chart_list(
        session,
        actor,
        client_id,
        ("safety_plan", "see their safety plan", "safety plans"),
        select(SafetyPlan)
        .where(SafetyPlan.client_id == client_id)
        .order_by(col(SafetyPlan.id).desc()),
        _plan_info,
    )


def current_plan_in(session: Session, client_id: int) -> SafetyPlanInfo | None:
    """The client's current signed safety plan (for the aftercare packet)."""
    plan = _current_signed(session, client_id)
    return _plan_info(session, plan) if plan is not None else None


@service(Perm.CLINICAL_VIEW)
def verify_safety_plan(session: Session, actor: Actor, plan_id: int) -> bool:
    """Does the signed plan still hash to its recorded SHA-256?"""
    plan = session.get(SafetyPlan, plan_id)
    if plan is None:
        raise NotFoundError("That safety plan does not exist.")
    _check(session, actor, plan.client_id, "safety_plan", "see their safety plan")
    digest = hashlib.sha256(canonical_plan(plan).encode("utf-8")).hexdigest()
    return plan.content_sha256 == digest


# -- printing -------------------------------------------------------------------------------
def clinic_header_in(session: Session) -> dict[str, str]:
    from iopdesk.models import Clinic

    clinic = session.exec(select(Clinic)).first()
    if clinic is None:
        return {"clinic_name": "", "clinic_address": "", "clinic_phone": "", "tz": ""}
    return {
        "clinic_name": clinic.name,
        "clinic_address": clinic.address,
        "clinic_phone": clinic.phone,
        "tz": clinic.timezone or "",
    }


def printed_line(session: Session, actor: Actor) -> str:
    from iopdesk.services.clinic import clinic_now

    tz = clinic_header_in(session)["tz"] or None
    return f"Printed {clinic_now(tz):%m/%d/%Y %H:%M} by {actor.display_name}"


def safety_plan_doc(session: Session, actor: Actor, plan_id: int) -> Any:
    """The plan as a reports.clinical_pdf.ClinicalDoc (no access check: callers check)."""
    from iopdesk.reports.clinical_pdf import ClinicalDoc, Section

    plan = session.get(SafetyPlan, plan_id)
    if plan is None:
        raise NotFoundError("That safety plan does not exist.")
    client = session.get(Client, plan.client_id)
    assert client is not None
    info = _plan_info(session, plan)
    d = info.data
    header = clinic_header_in(session)
    sections = []
    for key, label in SAFETY_STEPS:
        if key in ("help_contacts", "professionals"):
            items: list[Contact] = getattr(d, key)
            sections.append(
                Section(
                    label,
                    headers=("Name", "Phone"),
                    rows=tuple((c.name, c.phone) for c in items),
                    widths=(0.62, 0.38),
                )
            )
        else:
            sections.append(Section(label, str(getattr(d, key))))
    sections.append(
        Section(
            "If you are in crisis",
            "Call or text 988 (Suicide & Crisis Lifeline), or call 911, or go to the nearest "
            "emergency room.",
            emphasis=True,
        )
    )
    signature: list[str] = []
    if info.signed_at is not None:
        signature.append(
            f"Electronically signed by {info.signed_by} on {local_time(session, info.signed_at)}"
        )
        signature.append(
            "The client took part in making this plan."
            if d.client_participated
            else "Client participation not recorded."
        )
        signature.append(f"Content SHA-256: {info.content_sha256}")
        if info.status == "superseded":
            signature.append("SUPERSEDED by a newer signed safety plan.")
    else:
        signature.append("DRAFT: not signed. This safety plan is not final.")
    return ClinicalDoc(
        title="Safety Plan",
        clinic_name=header["clinic_name"],
        clinic_address=header["clinic_address"],
        clinic_phone=header["clinic_phone"],
        client_name=f"{client.first_name} {client.last_name}",
        dob=client.dob,
        mrn=client.mrn,
        date_label=(
            f"Signed {local_time(session, info.signed_at)[:10]}" if info.signed_at else "Draft"
        ),
        sections=tuple(sections),
        signature=tuple(signature),
        signed=info.signed_at is not None,
        part2=client.part2,
        printed=printed_line(session, actor),
        signature_lines=("Client signature",),
    )


def local_time(session: Session, value: datetime | None) -> str:
    """A UTC instant as the clinic's wall-clock time, e.g. "12/05/2026 21:01 EST"."""
    if value is None:
        return ""
    from iopdesk.services.clinic import clinic_now

    zone = clinic_now(clinic_header_in(session)["tz"] or None).tzinfo
    return f"{value.astimezone(zone):%m/%d/%Y %H:%M %Z}".strip()


def print_safety_plan(
    db: Database, actor: Actor, plan_id: int, path: Any, *, release: Any = None
) -> Any:
    """Write the plan's PDF through the Part 2 release gate (default: the client's copy)."""
    # Checked by hand, not declared: release_pdf opens its own write transaction after this
    # read, which cannot run inside a declared service's open one.
    require(actor, Perm.CLINICAL_VIEW)
    from iopdesk.reports.clinical_pdf import write_pdf
    from iopdesk.services.disclosures import CLIENT_COPY
    from iopdesk.services.printing import pdf_target, release_pdf

    target = pdf_target(path, "safety plan")
    with db.session() as session:
        plan = session.get(SafetyPlan, plan_id)
        if plan is None:
            raise NotFoundError("That safety plan does not exist.")
        _check(session, actor, plan.client_id, "safety_plan", "print their safety plan")
        doc = safety_plan_doc(session, actor, plan_id)
        client_id = plan.client_id
    pages: list[int] = []
    return release_pdf(
        db,
        actor,
        target,
        lambda p, notice: pages.append(write_pdf(doc, p, notice)),
        client_id=client_id,
        categories=("treatment_plan",),
        release=release or CLIENT_COPY,
        what=lambda: f"safety plan {plan_id} ({pages[0]} pages)",
        entity="safety_plan",
        entity_id=plan_id,
        detail=lambda row: f"safety plan; {pages[0]} pages; disclosure {row.id}",
    )


@dataclass(frozen=True)
class SafetyTabData:
    """What the chart's Safety tab shows: risk flags (with their events), C-SSRS screens and
    safety plans, newest first."""

    flags: list[FlagInfo]
    screens: list[CssrsInfo]
    plans: list[SafetyPlanInfo]


@service(
    Perm.CLINICAL_VIEW,
    audit=Audited(audit.Action.READ, "safety", client_id=Arg("client_id")),
)
def chart_safety(session: Session, actor: Actor, client_id: int) -> SafetyTabData:
    """list_flags, list_cssrs and list_safety_plans in one read-and-audit transaction (the
    chart's Safety tab): one caseload check, the flags' events in one query, the people
    named in one more, and one audit record of the reading (entity "safety", the three
    counts in its detail)."""
    _check(session, actor, client_id, "risk_flag", "see their risk flags")
    flags = session.exec(
        select(RiskFlag).where(RiskFlag.client_id == client_id).order_by(col(RiskFlag.id).desc())
    ).all()
    screens = session.exec(
        select(CssrsScreen)
        .where(CssrsScreen.client_id == client_id, col(CssrsScreen.voided_at).is_(None))
        .order_by(col(CssrsScreen.screen_date).desc(), col(CssrsScreen.id).desc())
    ).all()
    plans = session.exec(
        select(SafetyPlan)
        .where(SafetyPlan.client_id == client_id)
        .order_by(col(SafetyPlan.id).desc())
    ).all()
    events: dict[int, list[RiskFlagEvent]] = {}
    if flags:
        for e in session.exec(
            select(RiskFlagEvent)
            .where(col(RiskFlagEvent.flag_id).in_([f.id for f in flags]))
            .order_by(col(RiskFlagEvent.at), col(RiskFlagEvent.id))
        ).all():
            events.setdefault(e.flag_id, []).append(e)
    people = _load_people(  # held here: the session's identity map keeps weak references
        session,
        {f.cleared_by for f in flags}
        | {p.signed_by for p in plans}
        | {e.by_user for es in events.values() for e in es},
        {s.administered_by for s in screens},
    )
    flag_infos = [
        replace(
            _flag_info(session, f),
            events=tuple(
                FlagEvent(e.event, e.detail, e.at, user_name(session, e.by_user))
                for e in events.get(f.id or 0, [])
            ),
        )
        for f in flags
    ]
    result = SafetyTabData(
        flag_infos,
        [_cssrs_info(session, s) for s in screens],
        [_plan_info(session, p) for p in plans],
    )
    about(
        session,
        detail=f"{len(flags)} risk flags, {len(screens)} screens, {len(plans)} safety plans",
    )
    del people
    return result


def _load_people(
    session: Session, user_ids: set[int | None], staff_ids: set[int | None]
) -> list[Any]:
    """Bring these users and staff (and the users' staff rows) into the session in two
    queries, so that user_name and session.get answer from the identity map. The caller
    holds the returned rows while it needs them (the identity map keeps weak references)."""
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
