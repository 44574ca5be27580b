"""The chart's medication list and its reconciliation (issue 20 item 3).

- A medication is current on a day when it started on or before that day (or has no start
  date) and has no stop date or stops after that day. Stopping needs a stop date and a reason;
  a wrong entry is voided with a reason. Nothing is deleted.
- Reconciliation: at intake and at discharge (also "review", e.g. after a hospital stay) a
  clinician records that the whole list was reviewed with the client; the list as it stood is
  kept with the record, so a later change does not rewrite what was reconciled.
- The aftercare packet's medications come from this list: the medications current on the
  discharge date (see services.aftercare).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_
from sqlmodel import Session, col, select

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, PermissionDenied, ValidationError
from iopdesk.models import Client, Medication, MedicationReconciliation, Staff, utcnow
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.clients import require_clinical_in
from iopdesk.services.clinic import clinic_today
from iopdesk.services.declare import Audited, about, service
from iopdesk.services.permissions import Perm, require
from iopdesk.services.records import update_versioned

ROUTES = ("oral", "sublingual", "injection (IM)", "injection (subcutaneous)", "topical",
          "transdermal patch", "inhaled", "nasal", "other")  # fmt: skip
SOURCES = ("client report", "prescriber", "pharmacy record", "prior records",
           "medication bottle", "family report")  # fmt: skip
OCCASIONS = ("intake", "discharge", "review")


@dataclass
class MedicationInput:
    name: str
    dose: str = ""
    route: str = ""
    frequency: str = ""
    prescriber: str = ""
    start_date: date | None = None
    stop_date: date | None = None
    stop_reason: str = ""
    source: str = ""


@dataclass(frozen=True)
class MedicationInfo:
    id: int
    version: int
    client_id: int
    name: str
    dose: str
    route: str
    frequency: str
    prescriber: str
    start_date: date | None
    stop_date: date | None
    stop_reason: str
    source: str

    def current_on(self, day: date) -> bool:
        return (self.start_date is None or self.start_date <= day) and (
            self.stop_date is None or self.stop_date > day
        )

    @property
    def line(self) -> str:
        return " ".join(p for p in (self.name, self.dose, self.route, self.frequency) if p)


@dataclass(frozen=True)
class ReconciliationInfo:
    id: int
    occasion: str
    reconciled_on: date
    clinician: str
    medications_text: str
    note: str


def _check(session: Session, actor: Actor, client_id: int, what: str) -> None:
    if session.get(Client, client_id) is None:
        raise NotFoundError("That client record does not exist.")
    require_clinical_in(session, actor, client_id, entity="medication", entity_id="", what=what)


def _info(m: Medication) -> MedicationInfo:
    return MedicationInfo(
        m.id or 0, m.version, m.client_id, m.name, m.dose, m.route, m.frequency, m.prescriber,
        m.start_date, m.stop_date, m.stop_reason, m.source,
    )  # fmt: skip


def validate(data: MedicationInput, today: date) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not data.name.strip():
        errors["name"] = "Enter the medication's name."
    if not data.dose.strip():
        errors["dose"] = "Enter the dose (for example 50 mg)."
    if not data.frequency.strip():
        errors["frequency"] = "Enter how often it is taken (for example once daily)."
    if not data.source.strip():
        errors["source"] = "Say where this information comes from (for example client report)."
    if data.start_date is not None and data.start_date > today:
        errors["start_date"] = "The start date cannot be in the future."
    if data.stop_date is not None:
        if data.start_date is not None and data.stop_date < data.start_date:
            errors["stop_date"] = "The stop date is before the start date."
        if not data.stop_reason.strip():
            errors["stop_reason"] = "Give the reason the medication was stopped."
    return errors


def _raise(errors: dict[str, str]) -> None:
    if errors:
        first = next(iter(errors.values()))
        raise ValidationError(
            first if len(errors) == 1 else f"Please correct the highlighted fields. {first}",
            errors,
        )


def _values(data: MedicationInput) -> dict[str, object]:
    return {
        "name": data.name.strip(),
        "dose": data.dose.strip(),
        "route": data.route.strip(),
        "frequency": data.frequency.strip(),
        "prescriber": data.prescriber.strip(),
        "start_date": data.start_date,
        "stop_date": data.stop_date,
        "stop_reason": data.stop_reason.strip(),
        "source": data.source.strip(),
    }


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.CREATE, "medication"))
def add_medication(
    session: Session, actor: Actor, client_id: int, data: MedicationInput
) -> MedicationInfo:
    _check(session, actor, client_id, "change their medication list")
    _raise(validate(data, clinic_today(session)))
    m = Medication(
        client_id=client_id,
        **_values(data),  # type: ignore[arg-type]
    )
    session.add(m)
    session.flush()
    about(session, entity_id=m.id, client_id=client_id)
    return _info(m)


def _get(session: Session, actor: Actor, med_id: int) -> Medication:
    m = session.get(Medication, med_id)
    if m is None or m.voided_at is not None:
        raise NotFoundError("That medication is not on the list.")
    _check(session, actor, m.client_id, "change their medication list")
    return m


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.UPDATE, "medication"))
def update_medication(
    session: Session, actor: Actor, med_id: int, expected_version: int, data: MedicationInput
) -> MedicationInfo:
    """Correct or stop a medication (stop: a stop date and a reason)."""
    m = _get(session, actor, med_id)
    _raise(validate(data, clinic_today(session)))
    client_id = m.client_id
    updated = update_versioned(
        session, actor, Medication, med_id, expected_version, _values(data),
        what="This medication",
    )  # fmt: skip
    about(
        session, entity_id=med_id, client_id=client_id, detail="stopped" if data.stop_date else ""
    )
    return _info(updated)


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.UPDATE, "medication"))
def void_medication(
    session: Session, actor: Actor, med_id: int, expected_version: int, reason: str
) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give a reason for removing the entry.", {"reason": "Required."})
    m = _get(session, actor, med_id)
    client_id = m.client_id
    update_versioned(
        session, actor, Medication, med_id, expected_version,
        {"voided_at": utcnow(), "voided_by": actor.user_id, "void_reason": reason[:200]},
        what="This medication",
    )  # fmt: skip
    about(session, entity_id=med_id, client_id=client_id, detail="voided")


def medications_in(
    session: Session, client_id: int, current_on: date | None = None
) -> list[MedicationInfo]:
    """The list (no access check: callers check), current ones first, then by name."""
    query = select(Medication).where(
        Medication.client_id == client_id, col(Medication.voided_at).is_(None)
    )
    if current_on is not None:
        query = query.where(
            or_(col(Medication.start_date).is_(None), col(Medication.start_date) <= current_on),
            or_(col(Medication.stop_date).is_(None), col(Medication.stop_date) > current_on),
        )
    rows = [_info(m) for m in session.exec(query).all()]
    rows.sort(key=lambda m: (m.stop_date is not None, m.name.lower(), m.id))
    return rows


def list_medications(db: Database, actor: Actor, client_id: int) -> list[MedicationInfo]:
    require(actor, Perm.CLINICAL_VIEW)
    with db.session() as session:
        _check(session, actor, client_id, "see their medication list")
        rows = medications_in(session, client_id)
        audit.record(
            session, actor, audit.Action.READ, entity="medication", client_id=client_id,
            detail=f"{len(rows)} medications",
        )  # fmt: skip
        return rows


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.CREATE, "medication_reconciliation"))
def reconcile(
    session: Session, actor: Actor, client_id: int, occasion: str, on: date, note: str = ""
) -> ReconciliationInfo:
    """Record that the whole list was reviewed with the client (intake, discharge, review)."""
    if occasion not in OCCASIONS:
        raise ValidationError("Choose intake, discharge or review.", {"occasion": "Choose one."})
    if actor.staff_id is None:
        raise PermissionDenied("Your user account is not linked to a staff record.")
    _check(session, actor, client_id, "reconcile their medications")
    if on > clinic_today(session):
        raise ValidationError("The date cannot be in the future.", {"on": "In the future."})
    current = medications_in(session, client_id, on)
    text = "\n".join(m.line for m in current) or "No current medications"
    r = MedicationReconciliation(
        client_id=client_id,
        occasion=occasion,
        reconciled_on=on,
        staff_id=actor.staff_id,
        medications_text=text,
        note=(note or "").strip(),
    )
    session.add(r)
    session.flush()
    about(
        session, entity_id=r.id, client_id=client_id, detail=f"{occasion}; {len(current)} current"
    )
    return _recon_info(session, r)


def _recon_info(session: Session, r: MedicationReconciliation) -> ReconciliationInfo:
    s = session.get(Staff, r.staff_id)
    who = f"{s.first_name} {s.last_name}" if s else ""
    return ReconciliationInfo(
        r.id or 0, r.occasion, r.reconciled_on, who, r.medications_text, r.note
    )


def reconciliations_in(session: Session, client_id: int) -> list[ReconciliationInfo]:
    rows = session.exec(
        select(MedicationReconciliation)
        .where(MedicationReconciliation.client_id == client_id)
        .order_by(
            col(MedicationReconciliation.reconciled_on).desc(),
            col(MedicationReconciliation.id).desc(),
        )
    ).all()
    return [_recon_info(session, r) for r in rows]


def list_reconciliations(db: Database, actor: Actor, client_id: int) -> list[ReconciliationInfo]:
    require(actor, Perm.CLINICAL_VIEW)
    with db.session() as session:
        _check(session, actor, client_id, "see their medication list")
        return reconciliations_in(session, client_id)


def reconciliation_due(db: Database, actor: Actor, client_id: int) -> str:
    """What reconciliation is missing, in words ("" when none): intake for every client with
    an admission, discharge for a discharged client (since the discharge date)."""
    require(actor, Perm.CLINICAL_VIEW)
    with db.session() as session:
        _check(session, actor, client_id, "see their medication list")
        client = session.get(Client, client_id)
        assert client is not None
        return _due_text(client, reconciliations_in(session, client_id))


def chart_medications(
    db: Database, actor: Actor, client_id: int
) -> tuple[list[MedicationInfo], list[ReconciliationInfo], str]:
    """The chart's Medications tab in one transaction: list_medications (audited as it is),
    list_reconciliations and reconciliation_due, with one caseload check."""
    require(actor, Perm.CLINICAL_VIEW)
    with db.session() as session:
        client = session.get(Client, client_id)  # held: the check and the due text use it
        _check(session, actor, client_id, "see their medication list")
        assert client is not None
        rows = medications_in(session, client_id)
        recs = session.exec(
            select(MedicationReconciliation)
            .where(MedicationReconciliation.client_id == client_id)
            .order_by(
                col(MedicationReconciliation.reconciled_on).desc(),
                col(MedicationReconciliation.id).desc(),
            )
        ).all()
        staff_ids = sorted({r.staff_id for r in recs})
        # held while the names are read (the session's identity map keeps weak references)
        staff = (
            session.exec(select(Staff).where(col(Staff.id).in_(staff_ids))).all()
            if staff_ids
            else []
        )
        done = [_recon_info(session, r) for r in recs]
        del staff
        audit.record(
            session, actor, audit.Action.READ, entity="medication", client_id=client_id,
            detail=f"{len(rows)} medications",
        )  # fmt: skip
        return rows, done, _due_text(client, done)


def _due_text(client: Client, done: list[ReconciliationInfo]) -> str:
    missing = []
    if client.admission_date is not None and not any(r.occasion == "intake" for r in done):
        missing.append("at intake")
    if (
        client.status == "discharged"
        and client.discharge_date is not None
        and not any(
            r.occasion == "discharge" and r.reconciled_on >= client.discharge_date for r in done
        )
    ):
        missing.append("at discharge")
    return ("Medications not reconciled " + " or ".join(missing) + ".") if missing else ""
