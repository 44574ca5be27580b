"""Session documentation: progress notes, group notes, sign and lock, co-sign, addenda, queues.

Headers (that a note exists and its state) are visible to anyone who may see the chart; content
only to clinical roles with access to the client, and every read or print of content is audited.
A signed note is frozen twice over: here (refusal with a plain message) and in the database
(migration 0002 triggers). Corrections are addenda, which are signed and then frozen as well.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import and_, exists, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, PermissionDenied, UserError, ValidationError
from iopdesk.models import (
    Attendance,
    Client,
    ClinicSession,
    GroupNote,
    Note,
    NoteAddendum,
    NoteTemplate,
    PlanGoal,
    PlanProblem,
    SessionFacilitator,
    Staff,
    TreatmentPlan,
    utcnow,
)
from iopdesk.models.enums import (
    ATTENDED_STATUSES,
    NOTE_SECTIONS,
    THERAPY_MODALITIES,
    NoteFormat,
    NoteStatus,
    SessionKind,
    SessionStatus,
)
from iopdesk.reports.data.notes import AWAITING_COSIGN as AWAITING_COSIGN
from iopdesk.reports.data.notes import AddendumView as AddendumView
from iopdesk.reports.data.notes import GroupNarrative as GroupNarrative
from iopdesk.reports.data.notes import NoteContent as NoteContent
from iopdesk.reports.data.notes import NoteHeader as NoteHeader
from iopdesk.reports.data.notes import NotePrint as NotePrint
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.clients import require_clinical_in
from iopdesk.services.clinic import clinic_today, get_setting_in
from iopdesk.services.declare import AnyOf, Arg, Audited, about, service
from iopdesk.services.disclosures import Release
from iopdesk.services.people import user_name
from iopdesk.services.permissions import Perm, has, require
from iopdesk.services.records import update_versioned

MODALITIES: tuple[str, ...] = THERAPY_MODALITIES
# Short names people type (and the issue uses) mapped to the stored label.
_MODALITY_ALIASES = {
    "mi": "Motivational Interviewing",
    "trauma-informed": "Trauma-informed care",
    "trauma informed": "Trauma-informed care",
    "family systems therapy": "Family systems",
}
GROUP_ENTRY_SECTIONS: tuple[str, ...] = ("Participation", "Response", "Plan")
PROGRESS_KINDS = (
    SessionKind.INDIVIDUAL.value,
    SessionKind.FAMILY.value,
    SessionKind.FAMILY_WITHOUT_CLIENT.value,
    SessionKind.INTAKE.value,
)


# -- plain data handed to the UI and the PDF writer ---------------------------------------------


def risk_screen_text(content: NoteContent) -> str:
    """The risk screen as printed and shown: a screen not done says so (never "negative")."""
    if not (content.risk_screened or content.risk_suicidal or content.risk_homicidal):
        return "Risk screen: not done"
    return (
        f"Risk screen: suicidal ideation {'REPORTED' if content.risk_suicidal else 'denied'}; "
        f"homicidal ideation {'REPORTED' if content.risk_homicidal else 'denied'}"
    )


@dataclass
class NoteDraft:
    """What the editor sends: one progress note of one client."""

    client_id: int
    service_date: date
    format: str = NoteFormat.DAP.value
    sections: dict[str, str] = field(default_factory=dict)
    session_id: int | None = None
    template_id: int | None = None
    modalities: list[str] = field(default_factory=list)
    goals_addressed: list[int] = field(default_factory=list)
    risk_suicidal: bool = False
    risk_homicidal: bool = False
    safety_plan: str = ""
    service_minutes: int | None = None
    risk_screened: bool = False


@dataclass(frozen=True)
class FormatChoice:
    """A note format the editor offers: a built-in one or a clinic template."""

    key: str  # "SOAP" ... or "template:<id>"
    label: str
    format: str
    template_id: int | None
    sections: tuple[str, ...]


@dataclass(frozen=True)
class GoalChoice:
    id: int
    label: str


@dataclass(frozen=True)
class SavedNote:
    id: int
    version: int
    status: str


@dataclass(frozen=True)
class QueueItem:
    kind: str  # note | group | session
    id: int  # note id, group note id, or session id
    service_date: date
    title: str  # client name or group title
    detail: str  # format / session kind
    author: str
    state: str
    client_id: int | None = None
    session_id: int | None = None
    version: int = 0
    # A group note's row in the co-sign queue stands for every client's entry: (id, version)
    members: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class QueueCounts:
    my_drafts: int
    awaiting_my_cosign: int
    sessions_without_note: int


@dataclass
class GroupEntry:
    participation: str = ""
    response: str = ""
    plan: str = ""
    service_minutes: int | None = None

    def sections(self) -> dict[str, str]:
        return {"Participation": self.participation, "Response": self.response, "Plan": self.plan}


@dataclass
class GroupNoteInput:
    topic: str = ""
    interventions: str = ""
    modalities: list[str] = field(default_factory=list)
    narrative: str = ""
    entries: dict[int, GroupEntry] = field(default_factory=dict)  # client id -> entry


@dataclass(frozen=True)
class GroupMember:
    client_id: int
    name: str
    mrn: str
    attendance: str
    minutes: int
    note_id: int | None
    entry: GroupEntry
    note_status: str


@dataclass(frozen=True)
class GroupNoteForm:
    """Everything the group-note dialog needs for one held group session."""

    session_id: int
    title: str
    session_date: date
    start: str
    end: str
    group_note_id: int | None
    version: int | None
    status: str
    topic: str
    interventions: str
    modalities: list[str]
    narrative: str
    members: list[GroupMember]
    absent: list[str]


@dataclass(frozen=True)
class GroupSaveResult:
    group_note_id: int
    version: int
    status: str
    note_ids: dict[int, int]
    warnings: list[str]


# -- helpers ----------------------------------------------------------------------------------
def _name(staff: Staff | None) -> str:
    if staff is None:
        return ""
    cred = f", {staff.credentials}" if staff.credentials else ""
    return f"{staff.first_name} {staff.last_name}{cred}"


def _split(text: str) -> list[str]:
    return [p for p in (s.strip() for s in text.split(",")) if p]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def needs_cosign(staff: Staff) -> bool:
    """An associate/supervisee (the staff record's `is_supervisee` field, set on the staff
    screen or by the Staff sheet's `requires_cosign` column) needs a supervisor's co-signature
    on every note. Having a supervisor on file, or a credential that reads like one, does not
    decide it: a licensed clinician may have a clinical supervisor too."""
    return bool(staff.is_supervisee)


def canonical_content(note: Note, group: GroupNote | None = None) -> str:
    """The signed record as one stable text: what content_sha256 is computed over.

    Key order, whitespace and JSON formatting cannot change the hash; any change of what the
    clinician signed (sections, risk screen, minutes, goals, the group narrative) does.
    """
    doc: dict[str, Any] = {
        "client_id": note.client_id,
        "session_id": note.session_id,
        "author_staff_id": note.author_staff_id,
        "format": note.format,
        "template_id": note.template_id,
        "service_date": note.service_date.isoformat(),
        "sections": json.loads(note.content_json or "{}"),
        "modalities": _split(note.modalities),
        "goals_addressed": _split(note.goals_addressed),
        "risk_suicidal": note.risk_suicidal,
        "risk_homicidal": note.risk_homicidal,
        "safety_plan": note.safety_plan,
        "service_minutes": note.service_minutes,
    }
    if note.risk_screened is not None:  # notes signed before it was recorded keep their hash
        doc["risk_screened"] = note.risk_screened
    if group is not None:
        doc["group"] = {
            "topic": group.topic,
            "interventions": group.interventions,
            "modalities": _split(group.modalities),
            "narrative": group.narrative,
        }
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _addendum_canonical(add: NoteAddendum) -> str:
    return json.dumps(
        {"note_id": add.note_id, "author_staff_id": add.author_staff_id, "text": add.text},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def normalize_modalities(values: list[str]) -> list[str]:
    """Known modalities in the clinic's spelling and order; unknown ones refused."""
    known = {m.lower(): m for m in MODALITIES}
    chosen: set[str] = set()
    bad: list[str] = []
    for raw in values:
        key = raw.strip().lower()
        if not key:
            continue
        label = known.get(key) or _MODALITY_ALIASES.get(key)
        if label is None:
            bad.append(raw.strip())
        else:
            chosen.add(label)
    if bad:
        raise ValidationError(
            f"Unknown modality: {', '.join(bad)}. Choose from: {', '.join(MODALITIES)}.",
            {"modalities": "Unknown modality."},
        )
    return [m for m in MODALITIES if m in chosen]


def _staff_of(session: Session, actor: Actor) -> Staff:
    if actor.staff_id is None:
        raise PermissionDenied(
            "Your user account is not linked to a staff record, so you cannot write notes. "
            "Ask an administrator to link it."
        )
    staff = session.get(Staff, actor.staff_id)
    if staff is None:
        raise NotFoundError("Your staff record no longer exists.")
    return staff


def _require_chart(session: Session, actor: Actor, client_id: int, note_id: Any = "") -> None:
    require_clinical_in(
        session,
        actor,
        client_id,
        entity="note",
        entity_id=note_id,
        what="read or write their notes",
    )


def _get_note(session: Session, note_id: int) -> Note:
    note = session.get(Note, note_id)
    if note is None or note.voided_at is not None:
        raise NotFoundError("That note does not exist or was voided.")
    return note


def _sections_for(session: Session, fmt: str, template_id: int | None) -> tuple[str, ...]:
    if fmt in NOTE_SECTIONS:
        return NOTE_SECTIONS[fmt]
    if fmt == NoteFormat.GROUP.value:
        return GROUP_ENTRY_SECTIONS
    if fmt == NoteFormat.CUSTOM.value:
        template = session.get(NoteTemplate, template_id) if template_id else None
        if template is None:
            raise ValidationError("Choose a note template.", {"template_id": "Required."})
        return tuple(json.loads(template.sections_json))
    raise ValidationError(
        f"Unknown note format '{fmt}'. Use SOAP, DAP, BIRP, GIRP or a clinic template.",
        {"format": "Unknown format."},
    )


def _risk_errors(suicidal: bool, homicidal: bool, safety_plan: str) -> dict[str, str]:
    if (suicidal or homicidal) and not safety_plan.strip():
        return {
            "safety_plan": "A safety plan is required when suicidal or homicidal ideation is "
            "reported."
        }
    return {}


def _raise(errors: dict[str, str]) -> None:
    if errors:
        first = next(iter(errors.values()))
        raise ValidationError(first if len(errors) == 1 else "Please correct: " + first, errors)


def _check_minutes(minutes: int | None) -> dict[str, str]:
    if minutes is not None and not (0 <= minutes <= 1440):
        return {"service_minutes": "Minutes must be between 0 and 1440."}
    return {}


def _check_goals(session: Session, client_id: int, goal_ids: list[int]) -> str:
    if not goal_ids:
        return ""
    rows = session.exec(
        select(PlanGoal.id)
        .join(PlanProblem, col(PlanProblem.id) == PlanGoal.problem_id)
        .join(TreatmentPlan, col(TreatmentPlan.id) == PlanProblem.plan_id)
        .where(
            col(PlanGoal.id).in_(goal_ids),
            TreatmentPlan.client_id == client_id,
            col(PlanGoal.voided_at).is_(None),
        )
    ).all()
    if set(rows) != set(goal_ids):
        raise ValidationError(
            "A goal addressed is not a goal of this client's treatment plan.",
            {"goals_addressed": "Not a goal of this client's plan."},
        )
    return ",".join(str(g) for g in sorted(set(goal_ids)))


def _draft_values(
    session: Session, actor: Actor, draft: NoteDraft, *, complete: bool, note_id: int | None
) -> dict[str, Any]:
    """Validated column values for a draft. `complete` adds the rules an explicit save needs
    (risk screen); autosave stores whatever was typed so that nothing is lost."""
    client = session.get(Client, draft.client_id)
    if client is None:
        raise NotFoundError("That client record does not exist.")
    fmt = draft.format
    names = _sections_for(session, fmt, draft.template_id)
    if fmt == NoteFormat.GROUP.value:
        raise ValidationError("Group entries are written in the group note.", {"format": "Group"})
    unknown = [k for k in draft.sections if k not in names]
    if unknown:
        raise ValidationError(
            f"Section '{unknown[0]}' is not part of a {fmt} note.", {"sections": "Unknown section."}
        )
    errors: dict[str, str] = {}
    errors.update(_check_minutes(draft.service_minutes))
    if complete:
        errors.update(_risk_errors(draft.risk_suicidal, draft.risk_homicidal, draft.safety_plan))
    if draft.session_id is not None:
        cs = session.get(ClinicSession, draft.session_id)
        if cs is None:
            raise NotFoundError("That session does not exist.")
        if cs.kind not in PROGRESS_KINDS:
            errors["session_id"] = "Group sessions are documented with a group note."
        elif cs.client_id != draft.client_id:
            errors["session_id"] = "That session belongs to another client."
        elif cs.status != SessionStatus.HELD.value:
            errors["session_id"] = "Only a session that was held can be documented."
        else:
            other = session.exec(
                select(Note.id).where(
                    Note.session_id == draft.session_id,
                    Note.client_id == draft.client_id,
                    col(Note.voided_at).is_(None),
                    Note.id != (note_id or -1),
                )
            ).first()
            if other is not None:
                errors["session_id"] = "This session already has a note; open that one instead."
        if cs.session_date != draft.service_date:
            errors.setdefault("service_date", "The service date must be the session's date.")
    _raise(errors)
    goals = _check_goals(session, draft.client_id, draft.goals_addressed)
    sections = {name: str(draft.sections.get(name, "")) for name in names}
    return {
        "client_id": draft.client_id,
        "session_id": draft.session_id,
        "format": fmt,
        "template_id": draft.template_id if fmt == NoteFormat.CUSTOM.value else None,
        "service_date": draft.service_date,
        "content_json": json.dumps(sections, ensure_ascii=False),
        "modalities": ",".join(normalize_modalities(draft.modalities)),
        "goals_addressed": goals,
        "risk_suicidal": draft.risk_suicidal,
        "risk_homicidal": draft.risk_homicidal,
        "risk_screened": bool(draft.risk_screened or draft.risk_suicidal or draft.risk_homicidal),
        "safety_plan": draft.safety_plan.strip() if complete else draft.safety_plan,
        "service_minutes": draft.service_minutes,
    }


def _raise_risk(session: Session, actor: Actor, note: Note) -> None:
    """A risk screen with suicidal ideation raises (or adds to) the client's risk flag."""
    from iopdesk.services.safety import raise_flag_in

    raise_flag_in(
        session, actor, note.client_id, "note", note.id, f"note of {note.service_date:%m/%d/%Y}"
    )


def _refuse_locked(note: Note) -> None:
    if note.status == NoteStatus.SIGNED.value:
        raise UserError(
            "This note is signed and locked, so it cannot be changed. "
            "To correct or add to it, write an addendum."
        )


# -- reading ---------------------------------------------------------------------------------
def list_note_headers(db: Database, actor: Actor, client_id: int) -> list[NoteHeader]:
    require(actor, Perm.CLIENT_VIEW)
    with db.read() as session:
        rows = session.execute(
            select(Note, Staff)
            .join(Staff, col(Staff.id) == Note.author_staff_id)
            .where(Note.client_id == client_id, col(Note.voided_at).is_(None))
            .order_by(col(Note.service_date).desc(), col(Note.id).desc())
        ).all()
        return [_header(n, _name(s)) for n, s in rows]


def _header(note: Note, author: str, client_name: str = "") -> NoteHeader:
    return NoteHeader(
        note.id or 0,
        note.client_id,
        note.service_date,
        note.format,
        author,
        note.status,
        note.signed_at,
        cosign_required=note.cosign_required,
        cosigned_at=note.cosigned_at,
        late_entry=note.late_entry,
        group_note_id=note.group_note_id,
        session_id=note.session_id,
        client_name=client_name,
        author_staff_id=note.author_staff_id,
        version=note.version,
    )


def _addenda(session: Session, note_id: int) -> list[AddendumView]:
    rows = session.exec(
        select(NoteAddendum).where(NoteAddendum.note_id == note_id).order_by(col(NoteAddendum.id))
    ).all()
    return [
        AddendumView(
            a.id or 0,
            _name(session.get(Staff, a.author_staff_id)),
            a.author_staff_id,
            a.text,
            a.created_at,
            user_name(session, a.signed_by),
            a.signed_at,
            a.content_sha256,
            a.version,
        )
        for a in rows
    ]


def _content(session: Session, note: Note) -> NoteContent:
    author = _name(session.get(Staff, note.author_staff_id))
    client = session.get(Client, note.client_id)
    client_name = f"{client.last_name}, {client.first_name}" if client else ""
    sections = json.loads(note.content_json or "{}")
    group = None
    if note.group_note_id is not None:
        g = session.get(GroupNote, note.group_note_id)
        if g is not None:
            group = GroupNarrative(
                g.id or 0, g.topic, g.interventions, _split(g.modalities), g.narrative, g.status
            )
    goal_ids = [int(g) for g in _split(note.goals_addressed) if g.isdigit()]
    labels: dict[int, str] = {}
    if goal_ids:
        for goal in session.exec(select(PlanGoal).where(col(PlanGoal.id).in_(goal_ids))):
            labels[goal.id or 0] = goal.description
    return NoteContent(
        header=_header(note, author, client_name),
        sections={str(k): str(v) for k, v in sections.items()},
        modalities=_split(note.modalities),
        risk_suicidal=note.risk_suicidal,
        risk_homicidal=note.risk_homicidal,
        safety_plan=note.safety_plan,
        goals_addressed=goal_ids,
        risk_screened=bool(note.risk_screened or note.risk_suicidal or note.risk_homicidal),
        service_minutes=note.service_minutes,
        template_id=note.template_id,
        signed_by=user_name(session, note.signed_by),
        cosigned_by=user_name(session, note.cosigned_by),
        content_sha256=note.content_sha256,
        addenda=_addenda(session, note.id or 0),
        group=group,
        goal_labels=labels,
    )


def read_note(db: Database, actor: Actor, note_id: int) -> NoteContent:
    """Note content; every view is audited. Front desk and billing are always refused."""
    require(actor, Perm.CLINICAL_VIEW)
    with db.session() as session:
        note = session.get(Note, note_id)
        if note is None:
            raise NotFoundError("That note does not exist.")
        _require_chart(session, actor, note.client_id, note_id)
        audit.record(
            session,
            actor,
            audit.Action.READ,
            entity="note",
            entity_id=note_id,
            client_id=note.client_id,
        )
        return _content(session, note)


def verify_note(db: Database, actor: Actor, note_id: int) -> bool:
    """True when a signed note still matches the SHA-256 taken when it was signed."""
    require(actor, Perm.CLINICAL_VIEW)
    with db.session() as session:
        note = _get_note(session, note_id)
        _require_chart(session, actor, note.client_id, note_id)
        if note.content_sha256 is None:
            return False
        group = session.get(GroupNote, note.group_note_id) if note.group_note_id else None
        if _sha(canonical_content(note, group)) == note.content_sha256:
            return True
        # Notes signed by the spreadsheet import (and the demo generator) hash the sections
        # JSON only; the database lock still covers every other column of those notes.
        return _sha(note.content_json) == note.content_sha256


# -- formats, templates, goals, defaults ------------------------------------------------------
def note_formats(db: Database, actor: Actor) -> list[FormatChoice]:
    require(actor, Perm.CLINICAL_VIEW)
    choices = [FormatChoice(f, f, f, None, s) for f, s in NOTE_SECTIONS.items()]
    with db.read() as session:
        for t in session.exec(
            select(NoteTemplate).where(NoteTemplate.active).order_by(col(NoteTemplate.name))
        ):
            choices.append(
                FormatChoice(
                    f"template:{t.id}",
                    f"Template: {t.name}",
                    NoteFormat.CUSTOM.value,
                    t.id,
                    tuple(json.loads(t.sections_json)),
                )
            )
    return choices


@service(
    AnyOf(
        (Perm.SETTINGS_MANAGE, Perm.NOTE_COSIGN),
        "Only a supervisor or an administrator can define note templates.",
    ),
    audit=Audited(audit.Action.CREATE, "notetemplate", entity_id=lambda c: c.template_id),
)
def create_template(session: Session, actor: Actor, name: str, sections: list[str]) -> FormatChoice:
    """A clinic-defined note template (supervisors and administrators)."""
    name = name.strip()
    clean = [s.strip() for s in sections if s.strip()]
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Give the template a name."
    if not clean:
        errors["sections"] = "A template needs at least one section."
    elif len({s.lower() for s in clean}) != len(clean):
        errors["sections"] = "Section names must be different."
    _raise(errors)
    if session.exec(select(NoteTemplate).where(NoteTemplate.name == name)).first():
        raise ValidationError(f"A template named {name} exists.", {"name": "Already used."})
    t = NoteTemplate(name=name, sections_json=json.dumps(clean, ensure_ascii=False))
    session.add(t)
    session.flush()
    return FormatChoice(f"template:{t.id}", f"Template: {name}", "custom", t.id, tuple(clean))


@dataclass(frozen=True)
class TemplateInfo:
    id: int
    name: str
    sections: tuple[str, ...]
    active: bool
    used: int  # notes written with it


MANAGE_TEMPLATES = AnyOf(
    (Perm.SETTINGS_MANAGE, Perm.NOTE_COSIGN),
    "Only a supervisor or an administrator can manage note templates.",
)


def _may_manage_templates(actor: Actor) -> None:
    MANAGE_TEMPLATES.check(actor)


def list_templates(db: Database, actor: Actor) -> list[TemplateInfo]:
    """Every clinic note template, active first, with how many notes used it."""
    _may_manage_templates(actor)
    with db.read() as session:
        used = dict(
            session.execute(
                select(Note.template_id, func.count())
                .where(col(Note.template_id).is_not(None))
                .group_by(col(Note.template_id))
            ).all()
        )
        rows = session.exec(select(NoteTemplate).order_by(col(NoteTemplate.name))).all()
        infos = [
            TemplateInfo(
                t.id or 0,
                t.name,
                tuple(json.loads(t.sections_json)),
                t.active,
                int(used.get(t.id, 0)),
            )
            for t in rows
        ]
        return sorted(infos, key=lambda t: (not t.active, t.name.lower()))


@service(
    MANAGE_TEMPLATES,
    audit=Audited(audit.Action.UPDATE, "notetemplate", entity_id=Arg("template_id")),
)
def set_template_active(session: Session, actor: Actor, template_id: int, active: bool) -> None:
    """Retire a template (kept for the notes written with it) or bring it back."""
    from iopdesk.services.records import touch

    t = session.get(NoteTemplate, template_id)
    if t is None:
        raise NotFoundError("That note template no longer exists.")
    t.active = active
    touch(t, actor)
    session.add(t)
    about(session, detail="active" if active else "retired")


def client_goals(db: Database, actor: Actor, client_id: int) -> list[GoalChoice]:
    """Open goals of the client's current treatment plan(s), for 'goals addressed'."""
    require(actor, Perm.CLINICAL_VIEW)
    # a write unit: a refused read is audited (and committed)
    with db.session() as session:
        _require_chart(session, actor, client_id)
        rows = session.execute(
            select(PlanGoal, PlanProblem.description)
            .join(PlanProblem, col(PlanProblem.id) == PlanGoal.problem_id)
            .join(TreatmentPlan, col(TreatmentPlan.id) == PlanProblem.plan_id)
            .where(
                TreatmentPlan.client_id == client_id,
                col(TreatmentPlan.status) != "superseded",
                col(PlanGoal.voided_at).is_(None),
                col(PlanProblem.voided_at).is_(None),
            )
            .order_by(col(TreatmentPlan.id), col(PlanProblem.sort_order), col(PlanGoal.sort_order))
        ).all()
        return [GoalChoice(g.id or 0, g.description) for g, _problem in rows]


def attended_minutes(session: Session, session_id: int, client_id: int) -> int | None:
    row = session.exec(
        select(Attendance).where(
            Attendance.session_id == session_id, Attendance.client_id == client_id
        )
    ).first()
    if row is None or row.status not in ATTENDED_STATUSES:
        return None
    return row.minutes


def new_note_defaults(
    db: Database, actor: Actor, client_id: int, session_id: int | None = None
) -> NoteDraft:
    """A fresh draft: the session's date and the minutes recorded at sign-in."""
    require(actor, Perm.CLINICAL_WRITE)
    with db.session() as session:
        _require_chart(session, actor, client_id)
        draft = NoteDraft(client_id=client_id, service_date=clinic_today(session))
        if session_id is not None:
            cs = session.get(ClinicSession, session_id)
            if cs is None:
                raise NotFoundError("That session does not exist.")
            draft.session_id = session_id
            draft.service_date = cs.session_date
            draft.service_minutes = attended_minutes(session, session_id, client_id)
            if cs.kind == SessionKind.INTAKE.value:
                draft.format = NoteFormat.SOAP.value
        return draft


def client_sessions(db: Database, actor: Actor, client_id: int) -> list[QueueItem]:
    """Held individual/family/intake sessions of a client that have no note yet."""
    require(actor, Perm.CLINICAL_WRITE)
    # a write unit: a refused read is audited (and committed)
    with db.session() as session:
        _require_chart(session, actor, client_id)
        documented = exists().where(
            col(Note.session_id) == ClinicSession.id,
            col(Note.client_id) == client_id,
            col(Note.voided_at).is_(None),
        )
        rows = session.exec(
            select(ClinicSession)
            .where(
                ClinicSession.client_id == client_id,
                col(ClinicSession.kind).in_(PROGRESS_KINDS),
                ClinicSession.status == SessionStatus.HELD.value,
                ~documented,
            )
            .order_by(col(ClinicSession.session_date).desc())
        ).all()
        return [
            QueueItem(
                "session",
                s.id or 0,
                s.session_date,
                f"{s.kind.title()} session {s.start_time:%H:%M}",
                s.kind,
                "",
                "no note",
                client_id,
                s.id,
            )
            for s in rows
        ]


# -- writing progress notes -------------------------------------------------------------------
def _content_for_author(session: Session, actor: Actor, note: Note) -> None:
    if note.author_staff_id != actor.staff_id:
        raise PermissionDenied("Only the note's author can change or sign it.")


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.CREATE, "note"))
def create_note(
    session: Session, actor: Actor, draft: NoteDraft, *, complete: bool = True
) -> SavedNote:
    staff = _staff_of(session, actor)
    _require_chart(session, actor, draft.client_id)
    values = _draft_values(session, actor, draft, complete=complete, note_id=None)
    note = Note(
        author_staff_id=staff.id or 0,
        status=NoteStatus.DRAFT.value,
        cosign_required=needs_cosign(staff),
        **values,
    )
    session.add(note)
    session.flush()
    if complete and note.risk_suicidal:
        _raise_risk(session, actor, note)
    about(
        session, entity_id=note.id, client_id=note.client_id, detail="" if complete else "autosave"
    )
    return SavedNote(note.id or 0, note.version, note.status)


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.UPDATE, "note"))
def update_note(
    session: Session,
    actor: Actor,
    note_id: int,
    expected_version: int,
    draft: NoteDraft,
    *,
    complete: bool = True,
) -> SavedNote:
    """Save a draft. Signed notes are refused (here and by the database)."""
    note = _get_note(session, note_id)
    _require_chart(session, actor, note.client_id, note_id)
    _refuse_locked(note)
    _content_for_author(session, actor, note)
    if draft.client_id != note.client_id:
        raise ValidationError("A note cannot be moved to another client's chart.")
    values = _draft_values(session, actor, draft, complete=complete, note_id=note_id)
    if note.group_note_id is not None:
        raise UserError("This is a group entry: edit it in the group note.")
    updated = update_versioned(
        session, actor, Note, note_id, expected_version, values, what="This note"
    )
    if complete and updated.risk_suicidal:
        _raise_risk(session, actor, updated)
    about(
        session, entity_id=note_id, client_id=note.client_id, detail="" if complete else "autosave"
    )
    return SavedNote(note_id, updated.version, updated.status)


def autosave_note(
    db: Database,
    actor: Actor,
    note_id: int | None,
    expected_version: int | None,
    draft: NoteDraft,
) -> SavedNote:
    """The editor's timer and close handler: keep whatever was typed, complete or not, so a
    crash or power cut loses at most a few seconds of work. A note signed meanwhile (another
    window) is refused like any edit."""
    if note_id is None:
        return create_note(db, actor, draft, complete=False)
    return update_note(db, actor, note_id, expected_version or 0, draft, complete=False)


def _sign_values(
    session: Session, actor: Actor, note: Note, group: GroupNote | None
) -> dict[str, Any]:
    now = utcnow()
    late_days = int(get_setting_in(session, "late_note_days"))
    late = (clinic_today(session) - note.service_date).days > late_days
    return {
        "status": NoteStatus.SIGNED.value,
        "signed_by": actor.user_id,
        "signed_at": now,
        "content_sha256": _sha(canonical_content(note, group)),
        "late_entry": late,
    }


def _complete_errors(note: Note) -> dict[str, str]:
    errors: dict[str, str] = {}
    sections = json.loads(note.content_json or "{}")
    for name, text in sections.items():
        if not str(text).strip():
            errors[f"section:{name}"] = f"The {name} section is empty."
    if not sections:
        errors["sections"] = "The note has no content."
    errors.update(_risk_errors(note.risk_suicidal, note.risk_homicidal, note.safety_plan))
    errors.update(_check_minutes(note.service_minutes))
    return errors


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.SIGN, "note"))
def sign_note(session: Session, actor: Actor, note_id: int, expected_version: int) -> NoteHeader:
    """Sign and lock: signer, time, SHA-256 of the canonical content; late entries marked."""
    note = _get_note(session, note_id)
    _require_chart(session, actor, note.client_id, note_id)
    _refuse_locked(note)
    _content_for_author(session, actor, note)
    if note.group_note_id is not None:
        raise UserError("Group entries are signed together with their group note.")
    if note.version != expected_version:
        from iopdesk.errors import StaleRecordError

        raise StaleRecordError("This note")
    _raise(_complete_errors(note))
    values = _sign_values(session, actor, note, None)
    session.expunge(note)
    updated = update_versioned(
        session, actor, Note, note_id, expected_version, values, what="This note"
    )
    if updated.risk_suicidal:
        _raise_risk(session, actor, updated)
    about(
        session,
        entity_id=note_id,
        client_id=note.client_id,
        detail="late entry" if values["late_entry"] else "",
    )
    return _header(updated, _name(session.get(Staff, updated.author_staff_id)))


@service(Perm.NOTE_COSIGN, audit=Audited(audit.Action.COSIGN, "note"))
def cosign_note(session: Session, actor: Actor, note_id: int, expected_version: int) -> NoteHeader:
    """A supervisor co-signs a supervisee's signed note (once)."""
    note = _get_note(session, note_id)
    _require_chart(session, actor, note.client_id, note_id)
    if note.status != NoteStatus.SIGNED.value:
        raise UserError("The author has not signed this note yet; co-sign it after they do.")
    if not note.cosign_required:
        raise UserError("This note does not need a co-signature.")
    if note.cosigned_at is not None:
        raise UserError("This note is already co-signed.")
    if note.author_staff_id == actor.staff_id:
        raise PermissionDenied("You cannot co-sign your own note.")
    author = session.get(Staff, note.author_staff_id)
    if (
        author is not None
        and author.supervisor_id is not None
        and author.supervisor_id != actor.staff_id
    ):
        raise PermissionDenied("Only the author's supervisor of record can co-sign this note.")
    updated = update_versioned(
        session,
        actor,
        Note,
        note_id,
        expected_version,
        {"cosigned_by": actor.user_id, "cosigned_at": utcnow()},
        what="This note",
    )
    about(session, entity_id=note_id, client_id=note.client_id)
    return _header(updated, _name(author))


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.VOID, "note"))
def void_note(
    session: Session, actor: Actor, note_id: int, expected_version: int, reason: str
) -> None:
    """Void a note written in error (never deleted). Drafts: the author; signed notes: a
    supervisor, with a reason that stays on the record."""
    if not reason.strip():
        raise ValidationError("Say why the note is voided.", {"reason": "Required."})
    note = _get_note(session, note_id)
    _require_chart(session, actor, note.client_id, note_id)
    if note.status == NoteStatus.SIGNED.value:
        if not has(actor, Perm.NOTE_COSIGN):
            raise PermissionDenied("Only a supervisor can void a signed note.")
    elif note.author_staff_id != actor.staff_id and not has(actor, Perm.NOTE_COSIGN):
        raise PermissionDenied("Only the author or a supervisor can void this draft.")
    update_versioned(
        session,
        actor,
        Note,
        note_id,
        expected_version,
        {"voided_at": utcnow(), "voided_by": actor.user_id, "void_reason": reason.strip()},
        what="This note",
    )
    about(
        session,
        entity_id=note_id,
        client_id=note.client_id,
        detail="voided (reason kept on the note)",
    )


# -- addenda ---------------------------------------------------------------------------------
@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.CREATE, "noteaddendum"))
def add_addendum(session: Session, actor: Actor, note_id: int, text: str) -> AddendumView:
    """A dated, authored correction or late addition to a signed note (unsigned until signed)."""
    if not text.strip():
        raise ValidationError("Write the addendum text.", {"text": "Required."})
    staff = _staff_of(session, actor)
    note = _get_note(session, note_id)
    _require_chart(session, actor, note.client_id, note_id)
    if note.status != NoteStatus.SIGNED.value:
        raise UserError("This note is still a draft: edit it instead of adding an addendum.")
    add = NoteAddendum(
        note_id=note_id,
        author_staff_id=staff.id or 0,
        text=text.strip(),
    )
    session.add(add)
    session.flush()
    about(session, entity_id=add.id, client_id=note.client_id, detail=f"note {note_id}")
    return _addenda_one(session, add)


def _addenda_one(session: Session, add: NoteAddendum) -> AddendumView:
    return next(a for a in _addenda(session, add.note_id) if a.id == add.id)


def _get_addendum(session: Session, actor: Actor, addendum_id: int) -> tuple[NoteAddendum, Note]:
    add = session.get(NoteAddendum, addendum_id)
    if add is None:
        raise NotFoundError("That addendum does not exist.")
    note = _get_note(session, add.note_id)
    _require_chart(session, actor, note.client_id, add.note_id)
    if add.signed_at is not None:
        raise UserError("This addendum is signed and locked; write another addendum instead.")
    if add.author_staff_id != actor.staff_id:
        raise PermissionDenied("Only the addendum's author can change or sign it.")
    return add, note


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.UPDATE, "noteaddendum"))
def update_addendum(
    session: Session, actor: Actor, addendum_id: int, expected_version: int, text: str
) -> AddendumView:
    if not text.strip():
        raise ValidationError("Write the addendum text.", {"text": "Required."})
    _add, note = _get_addendum(session, actor, addendum_id)
    updated = update_versioned(
        session,
        actor,
        NoteAddendum,
        addendum_id,
        expected_version,
        {"text": text.strip()},
        what="This addendum",
    )
    about(session, entity_id=addendum_id, client_id=note.client_id)
    return _addenda_one(session, updated)


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.SIGN, "noteaddendum"))
def sign_addendum(
    session: Session, actor: Actor, addendum_id: int, expected_version: int
) -> AddendumView:
    add, note = _get_addendum(session, actor, addendum_id)
    updated = update_versioned(
        session,
        actor,
        NoteAddendum,
        addendum_id,
        expected_version,
        {
            "signed_by": actor.user_id,
            "signed_at": utcnow(),
            "content_sha256": _sha(_addendum_canonical(add)),
        },
        what="This addendum",
    )
    about(session, entity_id=addendum_id, client_id=note.client_id, detail=f"note {note.id}")
    return _addenda_one(session, updated)


# -- group notes -----------------------------------------------------------------------------
def _group_session(session: Session, session_id: int) -> ClinicSession:
    cs = session.get(ClinicSession, session_id)
    if cs is None:
        raise NotFoundError("That session does not exist.")
    if cs.kind != SessionKind.GROUP.value:
        raise UserError("This is not a group session: write a progress note instead.")
    if cs.status != SessionStatus.HELD.value:
        raise UserError("Only a group session that was held can be documented.")
    return cs


def _require_group_writer(session: Session, actor: Actor, session_id: int) -> Staff:
    staff = _staff_of(session, actor)
    facilitator = session.exec(
        select(SessionFacilitator.id).where(
            SessionFacilitator.session_id == session_id,
            SessionFacilitator.staff_id == staff.id,
        )
    ).first()
    if facilitator is None and not has(actor, Perm.NOTE_COSIGN):
        raise PermissionDenied("Only a facilitator of this group can write its group note.")
    return staff


def _attending(session: Session, session_id: int) -> list[tuple[Attendance, Client]]:
    rows = session.execute(
        select(Attendance, Client)
        .join(Client, col(Client.id) == Attendance.client_id)
        .where(Attendance.session_id == session_id)
        .order_by(col(Client.last_name), col(Client.first_name))
    ).all()
    return [(a, c) for a, c in rows]


def _current_group_note(session: Session, session_id: int) -> GroupNote | None:
    return session.exec(
        select(GroupNote)
        .where(GroupNote.session_id == session_id, col(GroupNote.voided_at).is_(None))
        .order_by(col(GroupNote.id))
    ).first()


def _entry_of(note: Note | None) -> GroupEntry:
    if note is None:
        return GroupEntry()
    s = json.loads(note.content_json or "{}")
    return GroupEntry(
        str(s.get("Participation", "")),
        str(s.get("Response", "")),
        str(s.get("Plan", "")),
        note.service_minutes,
    )


def group_note_form(db: Database, actor: Actor, session_id: int) -> GroupNoteForm:
    """The group narrative and one row per attending client (absent clients listed apart)."""
    require(actor, Perm.CLINICAL_VIEW)
    from iopdesk.models import Track

    with db.session() as session:
        cs = _group_session(session, session_id)
        if not has(actor, Perm.NOTE_COSIGN):
            _require_group_writer(session, actor, session_id)
        gn = _current_group_note(session, session_id)
        notes: dict[int, Note] = {}
        if gn is not None:
            for n in session.exec(
                select(Note).where(Note.group_note_id == gn.id, col(Note.voided_at).is_(None))
            ):
                notes[n.client_id] = n
        members: list[GroupMember] = []
        absent: list[str] = []
        for a, c in _attending(session, session_id):
            name = f"{c.last_name}, {c.first_name}"
            if a.status not in ATTENDED_STATUSES:
                absent.append(f"{name} ({a.status.replace('_', ' ')})")
                continue
            note = notes.get(c.id or 0)
            entry = _entry_of(note)
            if note is None:
                entry.service_minutes = a.minutes
            members.append(
                GroupMember(
                    c.id or 0,
                    name,
                    c.mrn,
                    a.status,
                    a.minutes,
                    note.id if note else None,
                    entry,
                    note.status if note else "",
                )
            )
        track = session.get(Track, cs.track_id) if cs.track_id else None
        audit.record(
            session,
            actor,
            audit.Action.READ,
            entity="groupnote",
            entity_id=gn.id if gn else "",
            detail=f"session {session_id}",
        )
        for cid, n in notes.items():  # each client's entry shown is a view of their note
            audit.record(
                session,
                actor,
                audit.Action.READ,
                entity="note",
                entity_id=n.id,
                client_id=cid,
                detail=f"group note {gn.id if gn else ''}",
            )
        return GroupNoteForm(
            session_id,
            track.name if track else (cs.topic or "Group"),
            cs.session_date,
            f"{cs.start_time:%H:%M}",
            f"{cs.end_time:%H:%M}",
            gn.id if gn else None,
            gn.version if gn else None,
            gn.status if gn else "",
            gn.topic if gn else cs.topic,
            gn.interventions if gn else "",
            _split(gn.modalities) if gn else [],
            gn.narrative if gn else "",
            members,
            absent,
        )


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def identical_entry_warnings(entries: dict[int, GroupEntry], names: dict[int, str]) -> list[str]:
    """Cloned individualized entries cause payer denials: name every pair that is the same
    (ignoring case, spacing and punctuation)."""
    seen: dict[str, list[int]] = {}
    for cid, entry in entries.items():
        key = _norm(f"{entry.participation} | {entry.response}")
        if key.replace("|", "").strip():
            seen.setdefault(key, []).append(cid)
    warnings = []
    for ids in seen.values():
        if len(ids) > 1:
            who = ", ".join(names.get(i, str(i)) for i in ids)
            warnings.append(
                f"The individualized entries of {who} are identical. Payers deny cloned "
                "notes: describe each client's own participation and response."
            )
    return warnings


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.CREATE, "groupnote"))
def save_group_note(
    session: Session,
    actor: Actor,
    session_id: int,
    data: GroupNoteInput,
    expected_version: int | None = None,
) -> GroupSaveResult:
    """Write (or update) the group narrative and each attending client's entry, as drafts.

    Entries for clients who did not attend are refused; a client's entry is a Note in that
    client's chart linked by group_note_id. Returns warnings (identical entries)."""
    cs = _group_session(session, session_id)
    staff = _require_group_writer(session, actor, session_id)
    attending = {
        c.id or 0: (a, c)
        for a, c in _attending(session, session_id)
        if a.status in ATTENDED_STATUSES
    }
    strangers = [cid for cid in data.entries if cid not in attending]
    if strangers:
        raise ValidationError(
            "Only clients who attended this group get an entry; absent clients get no note.",
            {"entries": "Client did not attend."},
        )
    for entry in data.entries.values():
        _raise(_check_minutes(entry.service_minutes))
    modalities = ",".join(normalize_modalities(data.modalities))
    gn = _current_group_note(session, session_id)
    group_values: dict[str, Any] = {
        "topic": data.topic.strip(),
        "interventions": data.interventions.strip(),
        "modalities": modalities,
        "narrative": data.narrative.strip(),
    }
    if gn is None:
        gn = GroupNote(
            session_id=session_id,
            author_staff_id=staff.id or 0,
            status=NoteStatus.DRAFT.value,
            **group_values,
        )
        session.add(gn)
        session.flush()
        action = audit.Action.CREATE
    else:
        if gn.status == NoteStatus.SIGNED.value:
            raise UserError(
                "This group note is signed and locked. Corrections are addenda on each "
                "client's entry."
            )
        if gn.author_staff_id != staff.id:
            raise PermissionDenied("Only the group note's author can change it.")
        gn = update_versioned(
            session,
            actor,
            GroupNote,
            gn.id,
            expected_version if expected_version is not None else -1,
            group_values,
            what="This group note",
        )
        action = audit.Action.UPDATE
    gid = gn.id or 0
    existing = {
        n.client_id: n
        for n in session.exec(
            select(Note).where(Note.group_note_id == gid, col(Note.voided_at).is_(None))
        )
    }
    note_ids: dict[int, int] = {}
    cosign = needs_cosign(staff)
    for cid, entry in data.entries.items():
        a, _client = attending[cid]
        content = json.dumps(entry.sections(), ensure_ascii=False)
        minutes = entry.service_minutes if entry.service_minutes is not None else a.minutes
        note = existing.get(cid)
        if note is None:
            note = Note(
                client_id=cid,
                session_id=session_id,
                group_note_id=gid,
                author_staff_id=staff.id or 0,
                format=NoteFormat.GROUP.value,
                service_date=cs.session_date,
                content_json=content,
                modalities=modalities,
                service_minutes=minutes,
                status=NoteStatus.DRAFT.value,
                cosign_required=cosign,
            )
            session.add(note)
            session.flush()
            audit.record(
                session,
                actor,
                audit.Action.CREATE,
                entity="note",
                entity_id=note.id,
                client_id=cid,
                detail=f"group note {gid}",
            )
        elif (note.content_json, note.modalities, note.service_minutes) != (
            content,
            modalities,
            minutes,
        ):
            note = update_versioned(
                session,
                actor,
                Note,
                note.id,
                note.version,
                {"content_json": content, "modalities": modalities, "service_minutes": minutes},
                what="A group entry",
            )
            audit.record(
                session,
                actor,
                audit.Action.UPDATE,
                entity="note",
                entity_id=note.id,
                client_id=cid,
                detail=f"group note {gid}",
            )
        note_ids[cid] = note.id or 0
    for cid, note in existing.items():
        note_ids.setdefault(cid, note.id or 0)
    about(session, action=action, entity_id=gid, detail=f"session {session_id}")
    names = {cid: f"{c.first_name} {c.last_name}" for cid, (_a, c) in attending.items()}
    all_entries = {cid: _entry_of(n) for cid, n in existing.items()}
    all_entries.update(data.entries)
    warnings = identical_entry_warnings(all_entries, names)
    return GroupSaveResult(gid, gn.version, gn.status, note_ids, warnings)


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.SIGN, "groupnote"))
def sign_group_note(
    session: Session, actor: Actor, group_note_id: int, expected_version: int
) -> GroupSaveResult:
    """Sign the narrative and every attending client's entry at once; each entry is locked
    with its own SHA-256 (covering the shared narrative too)."""
    gn = session.get(GroupNote, group_note_id)
    if gn is None or gn.voided_at is not None:
        raise NotFoundError("That group note does not exist.")
    staff = _staff_of(session, actor)
    if gn.author_staff_id != staff.id:
        raise PermissionDenied("Only the group note's author can sign it.")
    if gn.status == NoteStatus.SIGNED.value:
        raise UserError("This group note is already signed.")
    errors: dict[str, str] = {}
    if not gn.topic.strip():
        errors["topic"] = "Enter the group topic."
    if not gn.narrative.strip():
        errors["narrative"] = "Write the group narrative."
    _raise(errors)
    attending = {
        c.id or 0: c for a, c in _attending(session, gn.session_id) if a.status in ATTENDED_STATUSES
    }
    entries = {
        n.client_id: n
        for n in session.exec(
            select(Note).where(Note.group_note_id == group_note_id, col(Note.voided_at).is_(None))
        )
    }
    missing = [
        f"{c.first_name} {c.last_name}" for cid, c in attending.items() if cid not in entries
    ]
    for cid, n in entries.items():
        c = attending.get(cid)
        if c is not None and _complete_errors(n):
            missing.append(f"{c.first_name} {c.last_name}")
    if missing:
        raise ValidationError(
            "Complete the participation, response and plan of every attending client "
            "before signing: " + ", ".join(missing) + ".",
            {"entries": "Incomplete."},
        )
    updated = update_versioned(
        session,
        actor,
        GroupNote,
        group_note_id,
        expected_version,
        {"status": NoteStatus.SIGNED.value},
        what="This group note",
    )
    for cid, n in entries.items():
        values = _sign_values(session, actor, n, updated)
        session.expunge(n)
        update_versioned(session, actor, Note, n.id, n.version, values, what="A group entry")
        if n.risk_suicidal:
            _raise_risk(session, actor, n)
        audit.record(
            session,
            actor,
            audit.Action.SIGN,
            entity="note",
            entity_id=n.id,
            client_id=cid,
            detail=f"group note {group_note_id}" + ("; late entry" if values["late_entry"] else ""),
        )
    about(session, entity_id=group_note_id)
    names = {cid: f"{c.first_name} {c.last_name}" for cid, c in attending.items()}
    warnings = identical_entry_warnings({cid: _entry_of(n) for cid, n in entries.items()}, names)
    return GroupSaveResult(
        group_note_id,
        updated.version,
        updated.status,
        {cid: n.id or 0 for cid, n in entries.items()},
        warnings,
    )


# -- work queues ----------------------------------------------------------------------------
def _cosign_filter(actor: Actor) -> Any:
    """Signed supervisee notes still waiting, that this supervisor may co-sign."""
    author_ok = or_(col(Staff.supervisor_id) == actor.staff_id, col(Staff.supervisor_id).is_(None))
    return and_(
        col(Note.status) == NoteStatus.SIGNED.value,
        col(Note.cosign_required),
        col(Note.cosigned_at).is_(None),
        col(Note.voided_at).is_(None),
        col(Note.author_staff_id) != (actor.staff_id or -1),
        author_ok,
    )


def _without_note_query(actor: Actor) -> Any:
    """(session, client) pairs the actor facilitated, attended, held, and undocumented."""
    facilitated = exists().where(
        col(SessionFacilitator.session_id) == ClinicSession.id,
        col(SessionFacilitator.staff_id) == (actor.staff_id or -1),
    )
    single_note = exists().where(
        col(Note.session_id) == ClinicSession.id,
        col(Note.client_id) == Attendance.client_id,
        col(Note.voided_at).is_(None),
    )
    group_note = exists().where(
        col(GroupNote.session_id) == ClinicSession.id, col(GroupNote.voided_at).is_(None)
    )
    return (
        select(ClinicSession, Client)
        .join(Attendance, col(Attendance.session_id) == ClinicSession.id)
        .join(Client, col(Client.id) == Attendance.client_id)
        .where(
            ClinicSession.status == SessionStatus.HELD.value,
            col(Attendance.status).in_([s.value for s in ATTENDED_STATUSES]),
            facilitated,
            or_(
                and_(col(ClinicSession.kind) == SessionKind.GROUP.value, ~group_note),
                and_(col(ClinicSession.kind) != SessionKind.GROUP.value, ~single_note),
            ),
        )
        .order_by(col(ClinicSession.session_date).desc(), col(ClinicSession.start_time))
    )


def _can_queue(actor: Actor) -> bool:
    return has(actor, Perm.CLINICAL_WRITE) and actor.staff_id is not None


def my_drafts(db: Database, actor: Actor) -> list[QueueItem]:
    """My unsigned progress notes and group notes."""
    require(actor, Perm.CLINICAL_VIEW)
    if not _can_queue(actor):
        return []
    with db.read() as session:
        items: list[QueueItem] = []
        for n, c in session.execute(
            select(Note, Client)
            .join(Client, col(Client.id) == Note.client_id)
            .where(
                Note.author_staff_id == actor.staff_id,
                Note.status == NoteStatus.DRAFT.value,
                col(Note.voided_at).is_(None),
                col(Note.group_note_id).is_(None),
            )
            .order_by(col(Note.service_date))
        ).all():
            items.append(
                QueueItem(
                    "note",
                    n.id or 0,
                    n.service_date,
                    f"{c.last_name}, {c.first_name}",
                    n.format,
                    actor.display_name,
                    "draft",
                    c.id,
                    n.session_id,
                )
            )
        for g, cs in session.execute(
            select(GroupNote, ClinicSession)
            .join(ClinicSession, col(ClinicSession.id) == GroupNote.session_id)
            .where(
                GroupNote.author_staff_id == actor.staff_id,
                GroupNote.status == NoteStatus.DRAFT.value,
                col(GroupNote.voided_at).is_(None),
            )
            .order_by(col(ClinicSession.session_date))
        ).all():
            items.append(
                QueueItem(
                    "group",
                    g.id or 0,
                    cs.session_date,
                    f"Group: {g.topic or cs.topic or 'group session'}",
                    "group",
                    actor.display_name,
                    "draft",
                    None,
                    cs.id,
                )
            )
        items.sort(key=lambda i: (i.service_date, i.title))
        return items


def awaiting_my_cosign(db: Database, actor: Actor) -> list[QueueItem]:
    require(actor, Perm.CLINICAL_VIEW)
    if not has(actor, Perm.NOTE_COSIGN) or actor.staff_id is None:
        return []
    with db.read() as session:
        rows = session.execute(
            select(Note, Client, Staff)
            .join(Client, col(Client.id) == Note.client_id)
            .join(Staff, col(Staff.id) == Note.author_staff_id)
            .where(_cosign_filter(actor))
            .order_by(col(Note.service_date), col(Note.id))
        ).all()
        return [
            QueueItem(
                "note",
                n.id or 0,
                n.service_date,
                f"{c.last_name}, {c.first_name}",
                n.format,
                _name(s),
                AWAITING_COSIGN,
                c.id,
                n.session_id,
                n.version,
            )
            for n, c, s in rows
        ]


def cosign_queue(db: Database, actor: Actor) -> list[QueueItem]:
    """The co-sign queue with one row per note: a group note is one row (kind "group") standing
    for each client's entry (`members`), oldest first."""
    items = awaiting_my_cosign(db, actor)
    if not items:
        return []
    with db.session() as session:
        group_of = dict(
            session.execute(
                select(col(Note.id), col(Note.group_note_id)).where(
                    col(Note.id).in_([i.id for i in items]), col(Note.group_note_id).is_not(None)
                )
            ).all()
        )
        topics = dict(
            session.execute(
                select(col(GroupNote.id), col(GroupNote.topic)).where(
                    col(GroupNote.id).in_(set(group_of.values()))
                )
            ).all()
        )
    out: list[QueueItem] = []
    groups: dict[int, list[QueueItem]] = {}
    for item in items:
        gid = group_of.get(item.id)
        if gid is None:
            out.append(replace(item, members=((item.id, item.version),)))
            continue
        if gid not in groups:
            groups[gid] = []
            out.append(item)  # placeholder, replaced below in the same position
        groups[gid].append(item)
    result: list[QueueItem] = []
    for item in out:
        gid = group_of.get(item.id)
        if gid is None:
            result.append(item)
            continue
        entries = groups[gid]
        n = len(entries)
        topic = topics.get(gid) or "group"
        result.append(
            replace(
                entries[0],
                kind="group",
                title=f"Group: {topic} ({n} client{'s' if n != 1 else ''})",
                detail="group",
                client_id=None,
                members=tuple((e.id, e.version) for e in entries),
            )
        )
    return result


def sessions_without_note(db: Database, actor: Actor) -> list[QueueItem]:
    """Held sessions I facilitated where an attending client has no note (groups: no group
    note at all), oldest first."""
    require(actor, Perm.CLINICAL_VIEW)
    if not _can_queue(actor):
        return []
    from iopdesk.models import Track

    with db.read() as session:
        rows = session.execute(_without_note_query(actor)).all()
        items: list[QueueItem] = []
        seen_groups: set[int] = set()
        tracks = {t.id: t.name for t in session.exec(select(Track))}
        for cs, c in rows:
            sid = cs.id or 0
            if cs.kind == SessionKind.GROUP.value:
                if sid in seen_groups:
                    continue
                seen_groups.add(sid)
                title = tracks.get(cs.track_id, cs.topic or "Group")
                items.append(
                    QueueItem(
                        "session",
                        sid,
                        cs.session_date,
                        f"Group: {title}",
                        "group",
                        "",
                        "no group note",
                        None,
                        sid,
                    )
                )
            else:
                items.append(
                    QueueItem(
                        "session",
                        sid,
                        cs.session_date,
                        f"{c.last_name}, {c.first_name}",
                        cs.kind,
                        "",
                        "no note",
                        c.id,
                        sid,
                    )
                )
        return items


def drafts_count_sql(actor: Actor) -> Any:
    """SQL for the number of this clinician's unsigned drafts (notes and group notes), a
    column any query can carry (the Today screen's one counts query)."""
    notes_q = (
        select(func.count())
        .select_from(Note)
        .where(
            Note.author_staff_id == actor.staff_id,
            Note.status == NoteStatus.DRAFT.value,
            col(Note.voided_at).is_(None),
            col(Note.group_note_id).is_(None),
        )
        .scalar_subquery()
    )
    groups_q = (
        select(func.count())
        .select_from(GroupNote)
        .where(
            GroupNote.author_staff_id == actor.staff_id,
            GroupNote.status == NoteStatus.DRAFT.value,
            col(GroupNote.voided_at).is_(None),
        )
        .scalar_subquery()
    )
    return notes_q + groups_q


def cosign_count_sql(actor: Actor) -> Any:
    """SQL for the number of notes awaiting this supervisor's co-signature (a column)."""
    return (
        select(func.count())
        .select_from(Note)
        .join(Staff, col(Staff.id) == Note.author_staff_id)
        .where(_cosign_filter(actor))
        .scalar_subquery()
    )


def queue_counts_in(
    session: Session, actor: Actor, read: dict[str, Any] | None = None
) -> QueueCounts:
    """The three queue sizes in one transaction (the Today screen). `read`: the "drafts" and
    "cosign" counts when the caller's own query already carried drafts_count_sql and
    cosign_count_sql."""
    read = read or {}
    drafts = cosign = missing = 0
    if _can_queue(actor):
        if "drafts" in read:
            drafts = read["drafts"]
        else:
            drafts = session.execute(sa_select(drafts_count_sql(actor))).scalar_one()
        pairs = session.execute(_without_note_query(actor)).all()
        missing = len({(cs.id, None if cs.kind == "group" else c.id) for cs, c in pairs})
    if has(actor, Perm.NOTE_COSIGN) and actor.staff_id is not None:
        if "cosign" in read:
            cosign = read["cosign"]
        else:
            cosign = session.execute(sa_select(cosign_count_sql(actor))).scalar_one()
    return QueueCounts(int(drafts or 0), int(cosign or 0), int(missing))


def queue_counts(db: Database, actor: Actor) -> QueueCounts:
    require(actor, Perm.CLINICAL_VIEW)
    with db.read() as session:
        return queue_counts_in(session, actor)


# -- printing ---------------------------------------------------------------------------------
def note_print_data(db: Database, actor: Actor, note_id: int) -> NotePrint:
    from iopdesk.models import Clinic

    require(actor, Perm.CLINICAL_VIEW)
    with db.session() as session:
        note = _get_note(session, note_id)
        _require_chart(session, actor, note.client_id, note_id)
        client = session.get(Client, note.client_id)
        assert client is not None
        clinic = session.exec(select(Clinic)).first()
        label = ""
        if note.session_id is not None:
            cs = session.get(ClinicSession, note.session_id)
            if cs is not None:
                label = f"{cs.kind.title()} session {cs.start_time:%H:%M}-{cs.end_time:%H:%M}"
                if cs.location:
                    label += f", {cs.location}"
        return NotePrint(
            clinic.name if clinic else "",
            clinic.address if clinic else "",
            clinic.phone if clinic else "",
            f"{client.first_name} {client.last_name}",
            client.dob,
            client.mrn,
            client.part2,
            _content(session, note),
            label,
            utcnow(),
            actor.display_name,
            clinic.timezone if clinic else None,
        )


def print_note(
    db: Database,
    actor: Actor,
    note_id: int,
    path: Path | str,
    *,
    release: Release | None = None,
) -> Path:
    """Write the note as a PDF and audit the print (Part 2 records carry the 2.32 notice).

    `release` says who receives it (default: internal use). It passes the 42 CFR Part 2
    disclosure gate, which records it and refuses a Part 2 disclosure without a valid consent;
    then no file appears."""
    from iopdesk.reports.note_pdf import write_pdf
    from iopdesk.services import disclosures
    from iopdesk.services.printing import pdf_target, release_pdf

    target = pdf_target(path, "note")
    data = note_print_data(db, actor, note_id)
    release_pdf(
        db,
        actor,
        target,
        lambda p, notice: write_pdf(data, p, notice),
        client_id=data.content.header.client_id,
        release=release or disclosures.INTERNAL,
        categories=("progress_notes",),
        what=f"progress note {note_id}",
        entity="note",
        entity_id=note_id,
        detail=lambda row: (
            f"note PDF; {row.kind}; disclosure {row.id}"
            + ("; 42 CFR Part 2 notice" if data.part2 else "")
        ),
    )
    return target
