"""The aftercare plan editor, reusable clinic lists, and the printable packet (issue 6 items
2-4).

Decisions where the issue is silent:

- A plan is saved as a whole (text fields and every list) with one version check on the
  plan: two workstations editing the same plan cannot silently overwrite each other. Items
  removed in the editor are voided, never deleted.
- New plans start with the clinic's crisis resources: the clinic's own "crisis_resources" list
  when it has any active entries, else the defaults shipped in resources/crisis_resources.json
  (988 call or text, 911, SAMHSA National Helpline). They can be edited per plan.
- Reusable clinic lists (local meetings, common referrals, crisis resources) live in the
  existing ClinicListItem table (list_name + label + data_json), not in settings: they are
  rows the clinic adds to and retires one by one. Clinicians (DISCHARGE_MANAGE) and
  administrators (SETTINGS_MANAGE) maintain them; everyone who can see clients can pick.
- Status: draft -> finalized. Finalizing is the clinician's electronic signature (who and
  when); the client signs the printed packet. A finalized plan is read-only; a clinician can
  reopen it to draft with a reason (audited), e.g. to correct a phone number.
- Editing needs DISCHARGE_MANAGE and the client's clinical record open to the user. Reading and
  printing need AFTERCARE_PRINT (the front desk prints packets); a draft can be printed only
  by a clinician (it prints marked DRAFT), so an unsigned plan never goes home by mistake.
- Every print or save of a packet goes through the Part 2 gate (services/disclosures.py):
  by default it is the client's own copy; given to someone else it is a disclosure, which for a
  Part 2 record needs a covering consent. Both are entered in the accounting of disclosures and
  audited (PRINT); the Part 2 notice is on every page of a Part 2 packet.
- The packet is in Spanish when the client's primary language is Spanish.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, func, select

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, PermissionDenied, StaleRecordError, ValidationError
from iopdesk.models import (
    AftercareAppointment,
    AftercareContact,
    AftercareCrisisResource,
    AftercareMedication,
    AftercarePlan,
    AftercareSupportGroup,
    Client,
    Clinic,
    ClinicListItem,
    Discharge,
    utcnow,
)
from iopdesk.paths import resource_text
from iopdesk.reports import aftercare as packet_writer
from iopdesk.services import audit, clock
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import clinic_now
from iopdesk.services.declare import AnyOf, Audited, about, service
from iopdesk.services.discharge import current_goals_in, require_client_clinical
from iopdesk.services.disclosures import CLIENT_COPY, Release
from iopdesk.services.people import user_name
from iopdesk.services.permissions import Perm, has, require
from iopdesk.services.records import touch
from iopdesk.services.validation import normalize_phone

TEXT_FIELDS = ("triggers", "warning_signs", "coping_strategies", "client_goals", "strengths")
CLINIC_LISTS: dict[str, str] = {
    "local_meetings": "Local meetings",
    "common_referrals": "Common referrals",
    "crisis_resources": "Crisis resources",
}
MAX_TEXT = 60_000


# -- plain data ----------------------------------------------------------------------------------
@dataclass
class AppointmentItem:
    provider: str
    appointment_type: str = ""
    appointment_date: date | None = None
    appointment_time: time | None = None
    address: str = ""
    phone: str = ""
    id: int | None = None


@dataclass
class MedicationItem:
    name: str
    dose: str = ""
    schedule: str = ""
    prescriber: str = ""
    id: int | None = None


@dataclass
class GroupItem:
    name: str
    day: str = ""
    meeting_time: str = ""
    place: str = ""
    id: int | None = None


@dataclass
class ContactItem:
    name: str
    relationship: str = ""
    phone: str = ""
    id: int | None = None


@dataclass
class CrisisItem:
    name: str
    contact: str = ""
    description: str = ""
    id: int | None = None


@dataclass
class AftercareData:
    """Everything the editor edits."""

    triggers: str = ""
    warning_signs: str = ""
    coping_strategies: str = ""
    client_goals: str = ""
    strengths: str = ""
    appointments: list[AppointmentItem] = field(default_factory=list)
    medications: list[MedicationItem] = field(default_factory=list)
    groups: list[GroupItem] = field(default_factory=list)
    contacts: list[ContactItem] = field(default_factory=list)
    crisis: list[CrisisItem] = field(default_factory=list)


@dataclass(frozen=True)
class PlanView:
    id: int
    version: int
    client_id: int
    mrn: str
    client_name: str
    preferred_name: str
    dob: date
    part2: bool
    language: str
    discharge_id: int | None
    discharge_date: date | None
    status: str
    finalized_by: str
    finalized_at: datetime | None
    data: AftercareData

    @property
    def finalized(self) -> bool:
        return self.status == "finalized"


@dataclass(frozen=True)
class PlanSummary:
    id: int
    client_id: int
    status: str
    discharge_date: date | None
    updated_at: datetime


@dataclass(frozen=True)
class ListEntry:
    id: int
    version: int
    list_name: str
    label: str
    data: dict[str, str]
    active: bool


@dataclass(frozen=True)
class PrintResult:
    path: Path
    pages: int
    part2: bool
    language: str
    disclosure_id: int
    release_kind: str


# (editor list attribute, model, item class, required field, label for messages)
_KINDS: tuple[tuple[str, Any, Any, str, str], ...] = (
    ("appointments", AftercareAppointment, AppointmentItem, "provider", "follow-up appointment"),
    ("medications", AftercareMedication, MedicationItem, "name", "medication"),
    ("groups", AftercareSupportGroup, GroupItem, "name", "support group"),
    ("contacts", AftercareContact, ContactItem, "name", "support person"),
    ("crisis", AftercareCrisisResource, CrisisItem, "name", "crisis resource"),
)


# -- defaults and clinic lists -------------------------------------------------------------------
def shipped_crisis_resources() -> list[CrisisItem]:
    data = json.loads(resource_text("crisis_resources.json"))
    return [
        CrisisItem(r["name"], r.get("contact", ""), r.get("description", ""))
        for r in data["resources"]
    ]


def crisis_defaults_in(session: Session) -> list[CrisisItem]:
    rows = session.exec(
        select(ClinicListItem)
        .where(ClinicListItem.list_name == "crisis_resources", ClinicListItem.active == True)  # noqa: E712
        .order_by(col(ClinicListItem.sort_order), col(ClinicListItem.id))
    ).all()
    if not rows:
        return shipped_crisis_resources()
    items = []
    for r in rows:
        data = _load_json(r.data_json)
        items.append(CrisisItem(r.label, data.get("contact", ""), data.get("description", "")))
    return items


def _load_json(text: str) -> dict[str, str]:
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


@service(Perm.CLIENT_VIEW, read_only=True)
def list_clinic_items(
    session: Session, actor: Actor, list_name: str, *, include_inactive: bool = False
) -> list[ListEntry]:
    if list_name not in CLINIC_LISTS:
        raise ValidationError(f"There is no clinic list called '{list_name}'.")
    q = select(ClinicListItem).where(ClinicListItem.list_name == list_name)
    if not include_inactive:
        q = q.where(ClinicListItem.active == True)  # noqa: E712
    rows = session.exec(q.order_by(col(ClinicListItem.sort_order), col(ClinicListItem.label))).all()
    return [
        ListEntry(r.id or 0, r.version, r.list_name, r.label, _load_json(r.data_json), r.active)
        for r in rows
    ]


LIST_EDITORS = AnyOf(
    (Perm.DISCHARGE_MANAGE, Perm.SETTINGS_MANAGE),
    "Only clinicians and administrators can change the clinic lists.",
)


def _require_list_editor(actor: Actor) -> None:
    LIST_EDITORS.check(actor)


@service(
    LIST_EDITORS,
    audit=Audited(
        audit.Action.CREATE,
        "clinic_list_item",
        entity_id=lambda e: e.id,
        detail=lambda e: f"list {e.list_name}" + ("" if e.active else "; inactive"),
    ),
)
def save_clinic_item(
    session: Session,
    actor: Actor,
    list_name: str,
    label: str,
    data: dict[str, str] | None = None,
    *,
    item_id: int | None = None,
    expected_version: int | None = None,
    active: bool = True,
) -> ListEntry:
    """Add an entry to a clinic list, or change one (with its version)."""
    if list_name not in CLINIC_LISTS:
        raise ValidationError(f"There is no clinic list called '{list_name}'.")
    label = label.strip()
    if not label:
        raise ValidationError("Enter a name for the entry.", {"label": "Required."})
    clean = {k: str(v).strip() for k, v in (data or {}).items()}
    if item_id is None:
        item = ClinicListItem(
            list_name=list_name,
            label=label,
            data_json=json.dumps(clean, ensure_ascii=False),
            active=active,
        )
    else:
        found = session.get(ClinicListItem, item_id)
        if found is None or found.list_name != list_name:
            raise NotFoundError("That list entry does not exist.")
        if expected_version is not None and found.version != expected_version:
            raise StaleRecordError("This list entry")
        item = found
        item.label = label
        item.data_json = json.dumps(clean, ensure_ascii=False)
        item.active = active
        touch(item, actor)
        about(session, action=audit.Action.UPDATE)
    session.add(item)
    session.flush()
    return ListEntry(item.id or 0, item.version, list_name, label, clean, item.active)


# -- plans ---------------------------------------------------------------------------------------
def create_plan_in(
    session: Session, actor: Actor, client_id: int, discharge_id: int | None = None
) -> int:
    plan = AftercarePlan(
        client_id=client_id,
        discharge_id=discharge_id,
    )
    session.add(plan)
    session.flush()
    assert plan.id is not None
    for order, item in enumerate(crisis_defaults_in(session)):
        session.add(
            AftercareCrisisResource(
                plan_id=plan.id,
                name=item.name,
                contact=item.contact,
                description=item.description,
                sort_order=order,
            )
        )
    audit.record(
        session,
        actor,
        audit.Action.CREATE,
        entity="aftercare_plan",
        entity_id=plan.id,
        client_id=client_id,
        detail=f"draft; discharge {discharge_id or '-'}",
    )
    return plan.id


CARRIED_TYPE = "Next level of care (receiving provider)"


def carry_receiving_provider_in(
    session: Session, actor: Actor, plan_id: int, provider: str
) -> None:
    """The receiving provider named at discharge becomes the plan's first appointment (to be
    completed with a date and time), unless the plan already lists that provider."""
    name = provider.strip()
    if not name:
        return
    rows = session.exec(
        select(AftercareAppointment).where(
            AftercareAppointment.plan_id == plan_id,
            col(AftercareAppointment.voided_at).is_(None),
        )
    ).all()
    if any(r.provider.strip().casefold() == name.casefold() for r in rows):
        return
    session.add(
        AftercareAppointment(
            plan_id=plan_id,
            provider=name,
            appointment_type=CARRIED_TYPE,
            sort_order=-1,
        )
    )


def printable_phone(text: str) -> str:
    """'5551234567' -> '(555) 123-4567' on paper; anything else (a 988 line, an extension)
    prints as typed."""
    try:
        return normalize_phone(text) or text
    except ValueError:
        return text


@service(None)  # the permission is the caseload rule, checked on the record
def create_plan(session: Session, actor: Actor, client_id: int) -> int:
    """Start a draft plan before the discharge (it is attached when the client is discharged).
    A client with a draft already gets that draft back."""
    require_client_clinical(session, actor, client_id, Perm.DISCHARGE_MANAGE)
    if session.get(Client, client_id) is None:
        raise NotFoundError("That client record does not exist.")
    existing = session.exec(
        select(AftercarePlan.id).where(
            AftercarePlan.client_id == client_id, AftercarePlan.status == "draft"
        )
    ).first()
    if existing is not None:
        return int(existing)
    return create_plan_in(session, actor, client_id, None)


def _plan(session: Session, plan_id: int) -> AftercarePlan:
    plan = session.get(AftercarePlan, plan_id)
    if plan is None:
        raise NotFoundError("That aftercare plan does not exist.")
    return plan


def _items(session: Session, model: Any, plan_id: int) -> list[Any]:
    return list(
        session.exec(
            select(model)
            .where(model.plan_id == plan_id, col(model.voided_at).is_(None))
            .order_by(col(model.sort_order), col(model.id))
        ).all()
    )


def _to_item(row: Any, cls: Any) -> Any:
    return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


def is_spanish(language: str) -> bool:
    text = language.strip().lower()
    return text.startswith(("spanish", "español", "espanol")) or text in ("es", "spa")


def _view(session: Session, plan: AftercarePlan) -> PlanView:
    assert plan.id is not None
    client = session.get(Client, plan.client_id)
    assert client is not None
    data = AftercareData(**{name: getattr(plan, name) for name in TEXT_FIELDS})
    for attr, model, cls, _, _ in _KINDS:
        setattr(data, attr, [_to_item(r, cls) for r in _items(session, model, plan.id)])
    discharge = session.get(Discharge, plan.discharge_id) if plan.discharge_id else None
    return PlanView(
        id=plan.id,
        version=plan.version,
        client_id=client.id or 0,
        mrn=client.mrn,
        client_name=f"{client.first_name} {client.last_name}",
        preferred_name=client.preferred_name,
        dob=client.dob,
        part2=client.part2,
        language="es" if is_spanish(client.primary_language) else "en",
        discharge_id=plan.discharge_id,
        discharge_date=discharge.discharge_date if discharge else client.discharge_date,
        status=plan.status,
        finalized_by=user_name(session, plan.finalized_by),
        finalized_at=plan.finalized_at,
        data=data,
    )


def _require_reader(
    session: Session, actor: Actor, client_id: int, *, content: bool = True
) -> None:
    """Plan content (medications, triggers, contacts) is clinical: the client's clinicians,
    supervisors and administrators, or emergency access. The front desk (packet printing
    only) may list a client's plans to print the finalized packet, not read them."""
    if not content and has(actor, Perm.AFTERCARE_PRINT) and not has(actor, Perm.CLINICAL_VIEW):
        return
    _require_clinical_audited(session, actor, client_id, None, "read")


def get_plan(db: Database, actor: Actor, plan_id: int) -> PlanView:
    with db.session() as session:
        plan = _plan(session, plan_id)
        _require_reader(session, actor, plan.client_id)
        view = _view(session, plan)
        audit.record(
            session,
            actor,
            audit.Action.READ,
            entity="aftercare_plan",
            entity_id=plan_id,
            client_id=plan.client_id,
        )
        return view


def list_plans(db: Database, actor: Actor, client_id: int) -> list[PlanSummary]:
    """The client's aftercare plans, newest first."""
    with db.session() as session:
        _require_reader(session, actor, client_id, content=False)
        rows = session.exec(
            select(AftercarePlan)
            .where(AftercarePlan.client_id == client_id)
            .order_by(col(AftercarePlan.id).desc())
        ).all()
        result = []
        for p in rows:
            d = session.get(Discharge, p.discharge_id) if p.discharge_id else None
            result.append(
                PlanSummary(
                    p.id or 0, client_id, p.status, d.discharge_date if d else None, p.updated_at
                )
            )
        return result


def _clean_text(value: str, label: str, errors: dict[str, str]) -> str:
    text = (value or "").replace("\r\n", "\n").strip()
    if len(text) > MAX_TEXT:
        errors[label] = f"Too long: at most {MAX_TEXT:,} characters."
    return text


def validate(data: AftercareData) -> None:
    errors: dict[str, str] = {}
    for name in TEXT_FIELDS:
        _clean_text(getattr(data, name), name, errors)
    for attr, _, _, required, label in _KINDS:
        for i, item in enumerate(getattr(data, attr)):
            if not str(getattr(item, required) or "").strip():
                errors[f"{attr}.{i}"] = (
                    f"Row {i + 1} of the {label}s has no {required.replace('_', ' ')}: "
                    f"enter it or remove the row."
                )
    if errors:
        first = next(iter(errors.values()))
        raise ValidationError(
            first if len(errors) == 1 else f"Please correct the highlighted rows. {first}", errors
        )


@service(None, audit=Audited(audit.Action.UPDATE, "aftercare_plan"))
def save_plan(
    session: Session, actor: Actor, plan_id: int, expected_version: int, data: AftercareData
) -> PlanView:
    """Save the whole plan; refused if it changed elsewhere or is finalized."""
    validate(data)
    plan = _plan(session, plan_id)
    require_client_clinical(session, actor, plan.client_id, Perm.DISCHARGE_MANAGE)
    if plan.version != expected_version:
        raise StaleRecordError("This aftercare plan")
    if plan.status == "finalized":
        raise ValidationError(
            "This aftercare plan is finalized and cannot be changed. Reopen it first."
        )
    changed: list[str] = []
    for name in TEXT_FIELDS:
        value = getattr(data, name).replace("\r\n", "\n").strip()
        if getattr(plan, name) != value:
            setattr(plan, name, value)
            changed.append(name)
    for attr, model, cls, _, _ in _KINDS:
        existing = {r.id: r for r in _items(session, model, plan_id)}
        keep: set[int] = set()
        n = 0
        for order, item in enumerate(getattr(data, attr)):
            values = {
                f.name: (v.strip() if isinstance(v, str) else v)
                for f in fields(cls)
                if f.name != "id"
                for v in [getattr(item, f.name)]
            }
            values["sort_order"] = order
            row = existing.get(item.id) if item.id is not None else None
            if item.id is not None and row is None:
                raise NotFoundError(
                    "An item of this plan was removed on another workstation. Reload the "
                    "plan and make your changes again."
                )
            if row is None:
                session.add(
                    model(
                        plan_id=plan_id,
                        **values,
                    )
                )
                n += 1
                continue
            keep.add(row.id)
            if any(getattr(row, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(row, k, v)
                touch(row, actor)
                session.add(row)
                n += 1
        for rid, row in existing.items():
            if rid not in keep:
                row.voided_at = utcnow()
                row.voided_by = actor.user_id
                row.void_reason = "removed in the aftercare editor"
                touch(row, actor)
                session.add(row)
                n += 1
        if n:
            changed.append(attr)
    touch(plan, actor)
    session.add(plan)
    session.flush()
    about(
        session,
        entity_id=plan_id,
        client_id=plan.client_id,
        detail="changed=" + (",".join(changed) or "nothing"),
    )
    return _view(session, plan)


@service(None, audit=Audited(audit.Action.UPDATE, "aftercare_plan"))
def finalize_plan(session: Session, actor: Actor, plan_id: int, expected_version: int) -> PlanView:
    """The clinician signs the plan: it becomes read-only and ready to print for the client."""
    plan = _plan(session, plan_id)
    require_client_clinical(session, actor, plan.client_id, Perm.DISCHARGE_MANAGE)
    if plan.version != expected_version:
        raise StaleRecordError("This aftercare plan")
    if plan.status == "finalized":
        raise ValidationError("This aftercare plan is already finalized.")
    problems = []
    if not _items(session, AftercareCrisisResource, plan_id):
        problems.append("at least one crisis resource")
    # The receiving provider carried from the discharge counts once it has a date.
    booked = [
        a
        for a in _items(session, AftercareAppointment, plan_id)
        if a.appointment_date is not None or a.appointment_type != CARRIED_TYPE
    ]
    if not (booked or _items(session, AftercareSupportGroup, plan_id)):
        problems.append("a follow-up appointment or a support group")
    if problems:
        raise ValidationError("Before the plan is signed, add " + " and ".join(problems) + ".")
    plan.status = "finalized"
    plan.finalized_by = actor.user_id
    plan.finalized_at = utcnow()
    touch(plan, actor)
    session.add(plan)
    session.flush()
    about(
        session,
        entity_id=plan_id,
        client_id=plan.client_id,
        detail="finalized (clinician signature)",
    )
    return _view(session, plan)


@service(None, audit=Audited(audit.Action.UPDATE, "aftercare_plan"))
def reopen_plan(
    session: Session, actor: Actor, plan_id: int, expected_version: int, reason: str
) -> PlanView:
    if not reason.strip():
        raise ValidationError("Give the reason for reopening the plan.", {"reason": "Required."})
    plan = _plan(session, plan_id)
    require_client_clinical(session, actor, plan.client_id, Perm.DISCHARGE_MANAGE)
    if plan.version != expected_version:
        raise StaleRecordError("This aftercare plan")
    if plan.status != "finalized":
        raise ValidationError("Only a finalized plan can be reopened.")
    plan.status = "draft"
    plan.finalized_by = None
    plan.finalized_at = None
    touch(plan, actor)
    session.add(plan)
    session.flush()
    about(session, entity_id=plan_id, client_id=plan.client_id, detail="reopened to draft")
    return _view(session, plan)


# -- the packet ----------------------------------------------------------------------------------
@service(Perm.AFTERCARE_PRINT)
def plan_for_mrn(session: Session, actor: Actor, mrn: str) -> int:
    """The plan to print for a client: the newest finalized one, else the newest draft."""
    same = func.lower(col(Client.mrn)) == mrn.strip().lower()  # unique ignoring case
    client = session.exec(select(Client).where(same)).first()
    if client is None:
        raise NotFoundError(f"No client has the MRN '{mrn.strip()}'.")
    plans = session.exec(
        select(AftercarePlan)
        .where(AftercarePlan.client_id == client.id)
        .order_by(col(AftercarePlan.id).desc())
    ).all()
    if not plans:
        raise NotFoundError(f"Client {client.mrn} has no aftercare plan.")
    final = [p for p in plans if p.status == "finalized"]
    return int((final or plans)[0].id or 0)


@service(Perm.AFTERCARE_PRINT)
def print_cover(session: Session, actor: Actor, plan_id: int) -> PlanView:
    """What the print dialog needs (client, language, status) without the plan's clinical
    content, for a user who may print this packet: the front desk prints a finalized packet
    for the client without reading the plan; clinicians only for their own clients."""
    plan = _plan(session, plan_id)
    _require_packet_access(session, actor, plan)
    if plan.status != "finalized" and not has(actor, Perm.DISCHARGE_MANAGE):
        raise ValidationError(
            "This aftercare plan is still a draft. The clinician must finalize (sign) it "
            "before the packet is printed for the client."
        )
    return replace(_view(session, plan), data=AftercareData())


@service(Perm.AFTERCARE_PRINT)
def build_packet(session: Session, actor: Actor, plan_id: int) -> packet_writer.Packet:
    """The packet's plain data (reading audited by print_packet)."""
    return _packet_in(session, actor, plan_id)


def _require_clinical_audited(
    session: Session, actor: Actor, client_id: int, plan_id: int | None, what: str
) -> None:
    """The caseload rule of discharge.require_client_clinical (own clients, treated before
    discharge, supervisors, emergency access); a refusal is audited and committed."""
    try:
        require_client_clinical(session, actor, client_id, Perm.CLIENT_VIEW)
    except PermissionDenied:
        audit.record(
            session,
            actor,
            audit.Action.DENIED,
            entity="aftercare_plan",
            entity_id=plan_id if plan_id is not None else "",
            client_id=client_id,
            detail=f"aftercare {what}: not on caseload",
        )
        session.commit()
        raise PermissionDenied(
            f"This client is not on your caseload or in a group you facilitate, so you cannot "
            f"{what} their aftercare plan or packet. In an emergency, use Emergency access on "
            "the chart (it is logged and reviewed)."
            if has(actor, Perm.CLINICAL_VIEW)
            else "Aftercare plans are clinical: only the client's clinicians and supervisors "
            "can read them. The front desk prints the finalized packet for the client."
        ) from None


def _require_packet_access(session: Session, actor: Actor, plan: AftercarePlan) -> None:
    """Minimum necessary: a clinician prints or reads a packet (draft or final) only for a
    client of their own (caseload, groups, or treated before discharge) or under emergency
    access; refusals are audited. The front desk keeps printing finalized packets to hand to
    the client; drafts stay with the clinicians (checked by the caller)."""
    if has(actor, Perm.CLINICAL_VIEW):
        _require_clinical_audited(session, actor, plan.client_id, plan.id, "print or read")


def _packet_in(session: Session, actor: Actor, plan_id: int) -> packet_writer.Packet:
    plan = _plan(session, plan_id)
    _require_packet_access(session, actor, plan)
    if plan.status != "finalized" and not has(actor, Perm.DISCHARGE_MANAGE):
        raise ValidationError(
            "This aftercare plan is still a draft. The clinician must finalize (sign) it before "
            "the packet is printed for the client."
        )
    view = _view(session, plan)
    clinic = session.exec(select(Clinic)).first()
    discharge = session.get(Discharge, plan.discharge_id) if plan.discharge_id else None
    progress: tuple[tuple[str, str], ...] = ()
    if discharge is not None and discharge.id is not None:
        from iopdesk.models import DischargeGoalProgress

        progress = tuple(
            (g.goal_text, g.progress)
            for g in session.exec(
                select(DischargeGoalProgress)
                .where(DischargeGoalProgress.discharge_id == discharge.id)
                .order_by(col(DischargeGoalProgress.id))
            ).all()
        )
    d = view.data
    tz = clinic.timezone if clinic else None
    return packet_writer.Packet(
        clinic_name=clinic.name if clinic else "",
        clinic_address=clinic.address if clinic else "",
        clinic_phone=clinic.phone if clinic else "",
        logo_png=clinic.logo_png if clinic else None,
        client_name=view.client_name,
        preferred_name=view.preferred_name,
        dob=view.dob,
        mrn=view.mrn,
        discharge_date=view.discharge_date,
        discharge_type=discharge.discharge_type if discharge else "",
        step_down_level=discharge.step_down_level if discharge else "",
        receiving_provider=discharge.receiving_provider if discharge else "",
        summary=discharge.summary if discharge else "",
        progress=progress,
        appointments=tuple(
            packet_writer.Appointment(
                a.provider,
                a.appointment_type,
                a.appointment_date,
                a.appointment_time,
                a.address,
                printable_phone(a.phone),
            )
            for a in d.appointments
        ),
        medications=_packet_medications(session, plan.client_id, view.discharge_date, d),
        safety_plan=_packet_safety_plan(session, plan.client_id),
        groups=tuple(
            packet_writer.SupportGroup(g.name, g.day, g.meeting_time, g.place) for g in d.groups
        ),
        triggers=d.triggers,
        warning_signs=d.warning_signs,
        coping_strategies=d.coping_strategies,
        contacts=tuple(
            packet_writer.Contact(c.name, c.relationship, printable_phone(c.phone))
            for c in d.contacts
        ),
        crisis=tuple(
            packet_writer.CrisisResource(c.name, c.contact, c.description) for c in d.crisis
        ),
        client_goals=d.client_goals,
        strengths=d.strengths,
        status=view.status,
        clinician=view.finalized_by,
        # Clinic-local, like the print time: the signing day is the clinic's day.
        finalized_at=(
            clock.local(view.finalized_at, tz).replace(tzinfo=None) if view.finalized_at else None
        ),
        part2=view.part2,
        language=view.language,
        printed_at=clinic_now(tz),
    )


def _packet_medications(
    session: Session, client_id: int, on: date | None, data: AftercareData
) -> tuple[packet_writer.Medication, ...]:
    """The chart's medication list (issue 20 item 3): the medications current on the
    discharge date (today before discharge). A client whose chart has no medication list yet
    keeps the medications typed into the aftercare plan."""
    from iopdesk.models import Medication
    from iopdesk.services.clinic import clinic_today
    from iopdesk.services.medications import medications_in

    has_list = session.exec(
        select(Medication.id)
        .where(Medication.client_id == client_id, col(Medication.voided_at).is_(None))
        .limit(1)
    ).first()
    if has_list is None:
        return tuple(
            packet_writer.Medication(m.name, m.dose, m.schedule, m.prescriber)
            for m in data.medications
        )
    return tuple(
        packet_writer.Medication(
            m.name, " ".join(p for p in (m.dose, m.route) if p), m.frequency, m.prescriber
        )
        for m in medications_in(session, client_id, on or clinic_today(session))
    )


def _packet_safety_plan(session: Session, client_id: int) -> tuple[tuple[str, str], ...]:
    """The client's current signed safety plan, step by step (issue 20 item 2)."""
    from iopdesk.services.safety import current_plan_in

    plan = current_plan_in(session, client_id)
    if plan is None:
        return ()
    d = plan.data

    def people(items: list[Any]) -> str:
        return "\n".join(f"{c.name}  {c.phone}".strip() for c in items)

    return tuple(
        (label, text)
        for label, text in (
            (packet_writer.SAFETY_STEPS[0], d.warning_signs),
            (packet_writer.SAFETY_STEPS[1], d.internal_coping),
            (packet_writer.SAFETY_STEPS[2], d.distraction),
            (packet_writer.SAFETY_STEPS[3], people(d.help_contacts)),
            (packet_writer.SAFETY_STEPS[4], people(d.professionals)),
            (packet_writer.SAFETY_STEPS[5], d.environment_safety),
            (packet_writer.SAFETY_STEPS[6], d.reasons_for_living),
        )
    )


def packet_categories(packet: packet_writer.Packet) -> tuple[str, ...]:
    """The information categories the packet holds: discharge/aftercare, plus medications
    when it lists any."""
    return ("discharge_aftercare",) + (
        ("medications",) if packet.medications and not packet.medications_left_out else ()
    )


LEAVE_OUT = ("medications",)  # what a packet can honestly be printed without


def print_packet(
    db: Database,
    actor: Actor,
    plan_id: int,
    path: Path | str,
    *,
    release: Release | None = None,
    language: str | None = None,
    leave_out: tuple[str, ...] = (),
) -> PrintResult:
    """Write the packet PDF to `path` atomically, through the release gate (default: the
    client's own copy), and audit it; the records and the file appear together.

    `leave_out=("medications",)` prints the packet without the medications list (the page
    says so), for a recipient whose consent covers the aftercare plan but not medications;
    a refusal offers it when that is the only thing missing."""

    require(actor, Perm.AFTERCARE_PRINT)
    from iopdesk.services.printing import pdf_target, release_pdf

    unknown = [c for c in leave_out if c not in LEAVE_OUT]
    if unknown:
        raise ValidationError(
            f"The aftercare packet can leave out only: {', '.join(LEAVE_OUT)}.",
            {"leave_out": "Not possible."},
        )
    target = pdf_target(path, "packet")
    with db.session() as session:
        packet = _packet_in(session, actor, plan_id)
        plan = _plan(session, plan_id)
        client_id = plan.client_id
    if language in ("en", "es"):
        packet = replace(packet, language=language)
    left_out: tuple[str, ...] = ()
    if "medications" in leave_out and packet.medications:
        packet = replace(packet, medications=(), medications_left_out=True)
        left_out = ("medications",)
    pages: list[int] = []
    release = release or CLIENT_COPY
    final = release
    # the release gate records the release and refuses a disclosure the consent does not
    # cover (then no file appears); a disclosure carries its notice on a closing page
    row = release_pdf(
        db,
        actor,
        target,
        lambda p, notice: pages.append(
            packet_writer.write_pdf(replace(packet, release_notice=notice), p)
        ),
        client_id=client_id,
        release=release,
        categories=packet_categories(packet),
        reducible={
            "medications": "print the packet without the medications: --leave-out medications"
        },
        left_out=left_out,
        what=lambda: (
            f"aftercare packet (plan {plan_id}, {pages[0]} pages)"
            + ("; medications left out" if left_out else "")
        ),
        entity="aftercare_plan",
        entity_id=plan_id,
        detail=lambda row: (
            f"aftercare packet; {pages[0]} pages; language {packet.language}; "
            f"status {packet.status}; {final.kind}; disclosure {row.id}"
            + ("; Part 2 notice" if packet.part2 else "")
        ),
    )
    return PrintResult(target, pages[0], packet.part2, packet.language, row.id or 0, release.kind)


def goals_for_client(db: Database, actor: Actor, client_id: int) -> list[str]:
    """Treatment-plan goal texts, to pre-fill the client's goals in a new plan."""
    # a write unit: a refused read is audited (and committed)
    with db.session() as session:
        require_client_clinical(session, actor, client_id, Perm.CLINICAL_VIEW)
        return [g.text for g in current_goals_in(session, client_id)]
