"""Client registry basics: census list, chart opening (audited), create and edit.

The clients issue extends this with the full intake form, duplicates and import.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, PermissionDenied, StaleRecordError, ValidationError
from iopdesk.models import (
    Authorization,
    BillingBatch,
    BillingLine,
    Client,
    Coverage,
    Diagnosis,
    EmergencyContact,
    Episode,
    Payer,
    Staff,
    StatusChange,
    TherapistAssignment,
    Track,
    TrackEnrollment,
    TreatmentPlan,
)
from iopdesk.models.enums import ClientStatus
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.permissions import Perm, require
from iopdesk.services.records import serialize, update_versioned
from iopdesk.services.validation import check_dob, check_email, normalize_icd10, normalize_phone


@dataclass(frozen=True)
class CensusRow:
    id: int
    mrn: str
    last_name: str
    first_name: str
    preferred_name: str
    dob: date
    phone: str
    status: str
    track: str
    therapist: str
    payer: str
    admission_date: date | None
    part2: bool
    next_review: date | None = None
    auth_remaining: int | None = None

    @property
    def display_name(self) -> str:
        return f"{self.last_name}, {self.first_name}"


def list_census(
    db: Database,
    actor: Actor,
    *,
    search: str = "",
    status: str | None = None,
    track_id: int | None = None,
    therapist_staff_id: int | None = None,
    payer_id: int | None = None,
    client_ids: Collection[int] | None = None,
    on: date | None = None,
    limit: int | None = None,
) -> list[CensusRow]:
    """One set-based query: each client with current track, primary therapist and payer."""
    require(actor, Perm.CENSUS_VIEW)
    on = on or date.today()
    enr = (
        select(TrackEnrollment.client_id, func.max(TrackEnrollment.id).label("eid"))
        .where(col(TrackEnrollment.voided_at).is_(None))
        .where(TrackEnrollment.start_date <= on)
        .where(or_(col(TrackEnrollment.end_date).is_(None), col(TrackEnrollment.end_date) >= on))
        .group_by(TrackEnrollment.client_id)  # type: ignore[arg-type]
        .subquery()
    )
    asg = (
        select(TherapistAssignment.client_id, func.max(TherapistAssignment.id).label("aid"))
        .where(TherapistAssignment.role == "primary_therapist")
        .where(col(TherapistAssignment.voided_at).is_(None))
        .where(TherapistAssignment.start_date <= on)
        .where(
            or_(
                col(TherapistAssignment.end_date).is_(None), col(TherapistAssignment.end_date) >= on
            )
        )
        .group_by(TherapistAssignment.client_id)  # type: ignore[arg-type]
        .subquery()
    )
    cov = (
        select(Coverage.client_id, func.min(Coverage.id).label("cid"))
        .where(col(Coverage.voided_at).is_(None))
        .group_by(Coverage.client_id)  # type: ignore[arg-type]
        .subquery()
    )
    review = (
        select(TreatmentPlan.client_id, func.min(TreatmentPlan.next_review_date).label("due"))
        .where(col(TreatmentPlan.status).in_(["draft", "active"]))
        .group_by(col(TreatmentPlan.client_id))
        .subquery()
    )
    auth_current = and_(
        col(Authorization.voided_at).is_(None),
        col(Authorization.start_date) <= on,
        col(Authorization.end_date) >= on,
    )
    units = (
        select(Authorization.client_id, func.sum(Authorization.units).label("units"))
        .where(auth_current)
        .group_by(col(Authorization.client_id))
        .subquery()
    )
    used = (
        select(Authorization.client_id, func.sum(BillingLine.units).label("used"))
        .join(BillingLine, col(BillingLine.authorization_id) == col(Authorization.id))
        .join(BillingBatch, col(BillingBatch.id) == col(BillingLine.batch_id))
        .where(auth_current, col(BillingBatch.status) == "exported")
        .group_by(col(Authorization.client_id))
        .subquery()
    )
    q: Any = (
        sa_select(  # type: ignore[call-overload]
            Client.id,
            Client.mrn,
            Client.last_name,
            Client.first_name,
            Client.preferred_name,
            Client.dob,
            Client.phone,
            Client.status,
            Track.name,
            Staff.first_name,
            Staff.last_name,
            Staff.credentials,
            Payer.name,
            Client.admission_date,
            Client.part2,
            review.c.due,
            units.c.units,
            used.c.used,
        )
        .outerjoin(enr, enr.c.client_id == Client.id)
        .outerjoin(TrackEnrollment, TrackEnrollment.id == enr.c.eid)
        .outerjoin(Track, Track.id == TrackEnrollment.track_id)
        .outerjoin(asg, asg.c.client_id == Client.id)
        .outerjoin(TherapistAssignment, TherapistAssignment.id == asg.c.aid)
        .outerjoin(Staff, Staff.id == TherapistAssignment.staff_id)
        .outerjoin(cov, cov.c.client_id == Client.id)
        .outerjoin(Coverage, Coverage.id == cov.c.cid)
        .outerjoin(Payer, Payer.id == Coverage.payer_id)
        .outerjoin(review, review.c.client_id == Client.id)
        .outerjoin(units, units.c.client_id == Client.id)
        .outerjoin(used, used.c.client_id == Client.id)
    )
    if status:
        q = q.where(Client.status == status)
    if track_id is not None:
        q = q.where(TrackEnrollment.track_id == track_id)
    if therapist_staff_id is not None:
        q = q.where(TherapistAssignment.staff_id == therapist_staff_id)
    if payer_id is not None:
        q = q.where(Coverage.payer_id == payer_id)
    if client_ids is not None:
        if not client_ids:
            return []
        q = q.where(col(Client.id).in_(list(client_ids)))
    for term in search.split():
        like = f"%{term.lower()}%"
        digits = "".join(ch for ch in term if ch.isdigit())
        conds = [
            func.lower(Client.first_name).like(like),
            func.lower(Client.last_name).like(like),
            func.lower(Client.preferred_name).like(like),
            func.lower(Client.mrn).like(like),
        ]
        if len(digits) >= 3:
            conds.append(
                func.replace(
                    func.replace(
                        func.replace(func.replace(Client.phone, "(", ""), ")", ""), "-", ""
                    ),
                    " ",
                    "",
                ).like(f"%{digits}%")
            )
        q = q.where(or_(*conds))
    q = q.order_by(Client.last_name, Client.first_name, Client.id)
    if limit:
        q = q.limit(limit)
    rows: list[CensusRow] = []
    with db.session() as session:
        for (
            cid,
            mrn,
            last,
            first,
            preferred,
            dob,
            phone,
            st,
            track,
            tfirst,
            tlast,
            tcred,
            payer,
            admitted,
            part2,
            due,
            auth_units,
            auth_used,
        ) in session.execute(q):
            therapist = (
                f"{tfirst} {tlast}".strip() + (f", {tcred}" if tcred else "") if tlast else ""
            )
            remaining = None if auth_units is None else int(auth_units) - int(auth_used or 0)
            rows.append(
                CensusRow(
                    cid,
                    mrn,
                    last,
                    first,
                    preferred,
                    dob,
                    phone,
                    st,
                    track or "",
                    therapist,
                    payer or "",
                    admitted,
                    part2,
                    due,
                    remaining,
                )
            )
    return rows


class CensusIndex:
    """A census read once, searched per keystroke in memory with list_census's rule: every word
    is in the first, last or preferred name or the MRN, or has 3+ digits found in the phone.
    Re-reading 5,000 clients per keystroke took ~150 ms; this takes ~2 ms (docs/performance.md).
    """

    def __init__(self, rows: Sequence[CensusRow]) -> None:
        self.rows = list(rows)
        # "\n" never occurs in a search word (words are split on whitespace)
        self._names = [
            "\n".join((r.first_name, r.last_name, r.preferred_name, r.mrn)).lower()
            for r in self.rows
        ]
        self._phones = ["".join(ch for ch in r.phone if ch.isdigit()) for r in self.rows]

    def search(self, text: str) -> list[CensusRow]:
        terms = [(t.lower(), "".join(ch for ch in t if ch.isdigit())) for t in text.split()]
        if not terms:
            return list(self.rows)
        out: list[CensusRow] = []
        for row, names, phone in zip(self.rows, self._names, self._phones, strict=True):
            for term, digits in terms:
                if term not in names and not (len(digits) >= 3 and digits in phone):
                    break
            else:
                out.append(row)
        return out


@dataclass
class ClientChart:
    client: Client
    diagnoses: list[Diagnosis] = field(default_factory=list)
    contacts: list[EmergencyContact] = field(default_factory=list)
    enrollments: list[tuple[TrackEnrollment, str]] = field(default_factory=list)
    assignments: list[tuple[TherapistAssignment, str]] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)
    coverage: list[tuple[Coverage, str]] = field(default_factory=list)
    can_view_clinical: bool = False


def can_view_clinical_in(session: Session, actor: Actor, client_id: int) -> bool:
    """Supervisors and admins: all clients. Therapists: their caseload and their groups."""
    from iopdesk.models import Attendance, ClinicSession, SessionFacilitator
    from iopdesk.models.enums import Role
    from iopdesk.services.permissions import has

    if not has(actor, Perm.CLINICAL_VIEW):
        return _break_glass(session, actor, client_id)
    if actor.is_(Role.SUPERVISOR) or actor.is_(Role.ADMIN):
        return True
    if actor.staff_id is None:
        return _break_glass(session, actor, client_id)
    today = date.today()
    assigned = session.exec(
        select(func.count())
        .select_from(TherapistAssignment)
        .where(
            TherapistAssignment.client_id == client_id,
            TherapistAssignment.staff_id == actor.staff_id,
            col(TherapistAssignment.voided_at).is_(None),
            or_(
                col(TherapistAssignment.end_date).is_(None),
                col(TherapistAssignment.end_date) >= today,
            ),
        )
    ).one()
    if assigned:
        return True
    facilitated = session.exec(
        select(func.count())
        .select_from(Attendance)
        .join(ClinicSession, and_(ClinicSession.id == Attendance.session_id))  # type: ignore[arg-type]
        .join(SessionFacilitator, SessionFacilitator.session_id == ClinicSession.id)  # type: ignore[arg-type]
        .where(Attendance.client_id == client_id, SessionFacilitator.staff_id == actor.staff_id)
    ).one()
    return bool(facilitated) or _break_glass(session, actor, client_id)


def require_clinical_in(
    session: Session, actor: Actor, client_id: int, *, entity: str, entity_id: Any, what: str
) -> None:
    """Refuse (and audit, committed even though the caller's work is refused) a clinician
    reading or writing `what` of a client outside their caseload and groups."""
    if can_view_clinical_in(session, actor, client_id):
        return
    audit.record(
        session,
        actor,
        audit.Action.DENIED,
        entity=entity,
        entity_id=entity_id,
        client_id=client_id,
        detail="not on caseload",
    )
    session.commit()
    raise PermissionDenied(
        f"This client is not on your caseload or in a group you facilitate, so you cannot {what}."
    )


def _break_glass(session: Session, actor: Actor, client_id: int) -> bool:
    """An unexpired emergency access (services.breakglass) opens the chart for its user."""
    from iopdesk.services.breakglass import active_in

    return active_in(session, actor, client_id)


def open_chart(db: Database, actor: Actor, client_id: int) -> ClientChart:
    """Everything the chart's Overview shows. Opening a chart is audited."""
    require(actor, Perm.CLIENT_VIEW)
    with db.session() as session:
        client = session.get(Client, client_id)
        if client is None:
            raise NotFoundError("That client record does not exist.")
        chart = ClientChart(client=client)
        chart.diagnoses = list(
            session.exec(
                select(Diagnosis)
                .where(Diagnosis.client_id == client_id, col(Diagnosis.voided_at).is_(None))
                .order_by(col(Diagnosis.is_primary).desc(), col(Diagnosis.sort_order))
            ).all()
        )
        chart.contacts = list(
            session.exec(
                select(EmergencyContact).where(
                    EmergencyContact.client_id == client_id,
                    col(EmergencyContact.voided_at).is_(None),
                )
            ).all()
        )
        chart.enrollments = [
            (e, name)
            for e, name in session.execute(
                select(TrackEnrollment, Track.name)
                .join(Track, Track.id == TrackEnrollment.track_id)  # type: ignore[arg-type]
                .where(
                    TrackEnrollment.client_id == client_id,
                    col(TrackEnrollment.voided_at).is_(None),
                )
                .order_by(col(TrackEnrollment.start_date).desc())
            )
        ]
        chart.assignments = [
            (a, f"{first} {last}".strip() + (f", {cred}" if cred else ""))
            for a, first, last, cred in session.execute(
                select(TherapistAssignment, Staff.first_name, Staff.last_name, Staff.credentials)
                .join(Staff, Staff.id == TherapistAssignment.staff_id)  # type: ignore[arg-type]
                .where(
                    TherapistAssignment.client_id == client_id,
                    col(TherapistAssignment.voided_at).is_(None),
                )
                .order_by(col(TherapistAssignment.start_date).desc())
            )
        ]
        chart.episodes = list(
            session.exec(
                select(Episode)
                .where(Episode.client_id == client_id)
                .order_by(col(Episode.episode_no))
            ).all()
        )
        chart.coverage = [
            (c, name)
            for c, name in session.execute(
                select(Coverage, Payer.name)
                .join(Payer, Payer.id == Coverage.payer_id)  # type: ignore[arg-type]
                .where(Coverage.client_id == client_id, col(Coverage.voided_at).is_(None))
            )
        ]
        chart.can_view_clinical = can_view_clinical_in(session, actor, client_id)
        emergency = _break_glass(session, actor, client_id)
        audit.record(
            session,
            actor,
            audit.Action.OPEN_CHART,
            entity="client",
            entity_id=client_id,
            client_id=client_id,
            # opened under emergency access: flagged for the administrators' review
            flagged=emergency,
            detail="emergency access" if emergency else "",
        )
        return chart


@dataclass
class ContactInput:
    name: str
    relationship: str = ""
    phone: str = ""


@dataclass
class ClientInput:
    """Everything the intake form collects. Only names and DOB are required for a referral;
    an active client also needs a track and an admission date."""

    first_name: str
    last_name: str
    dob: date
    preferred_name: str = ""
    middle_name: str = ""
    pronouns: str = ""
    sex: str = ""
    phone: str = ""
    email: str = ""
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    primary_language: str = "English"
    referral_source: str = ""
    status: str = ClientStatus.REFERRAL.value
    diagnoses: list[str] = field(default_factory=list)  # first is primary
    required_weekly_hours: Decimal | None = None
    mrn: str | None = None
    emergency_contacts: list[ContactInput] = field(default_factory=list)
    payer_id: int | None = None
    member_id: str = ""
    track_id: int | None = None
    admission_date: date | None = None


TEXT_FIELDS = (
    "preferred_name",
    "middle_name",
    "pronouns",
    "sex",
    "primary_language",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "referral_source",
)


def _validate(data: ClientInput) -> tuple[dict[str, Any], list[str]]:
    """Field-level validation: every problem is reported at once, keyed by field name."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name in ("first_name", "last_name"):
        text = getattr(data, name).strip()
        if not text:
            errors[name] = "Required."
        elif len(text) > 100:
            errors[name] = "At most 100 characters."
        values[name] = text
    try:
        values["dob"] = check_dob(data.dob)
    except ValueError as exc:
        errors["dob"] = str(exc)
    try:
        values["phone"] = normalize_phone(data.phone)
    except ValueError as exc:
        errors["phone"] = str(exc)
    try:
        values["email"] = check_email(data.email)
    except ValueError as exc:
        errors["email"] = str(exc)
    if data.status not in {s.value for s in ClientStatus}:
        errors["status"] = "Unknown status."
    elif data.status == ClientStatus.DISCHARGED:
        errors["status"] = "A new client cannot start as discharged."
    codes: list[str] = []
    for code in data.diagnoses:
        if not code.strip():
            continue
        try:
            normalized = normalize_icd10(code)
        except ValueError as exc:
            errors["diagnoses"] = str(exc)
            continue
        if normalized in codes:
            errors["diagnoses"] = f"{normalized} is listed twice."
        codes.append(normalized)
    if data.required_weekly_hours is not None and not (
        Decimal(0) <= data.required_weekly_hours <= Decimal(40)
    ):
        errors["required_weekly_hours"] = "Between 0 and 40 hours."
    if data.status in (ClientStatus.ACTIVE, ClientStatus.ON_HOLD):
        if data.track_id is None:
            errors["track_id"] = "An active client needs a program track."
        if data.admission_date is None:
            errors["admission_date"] = "An active client needs an admission date."
    if data.admission_date is not None and "dob" in values and data.admission_date < data.dob:
        errors["admission_date"] = "The admission date is before the date of birth."
    if data.admission_date is not None and data.admission_date > date.today() + timedelta(days=365):
        errors["admission_date"] = "The admission date is more than a year ahead."
    if data.member_id.strip() and data.payer_id is None:
        errors["payer_id"] = "Choose the payer for this member ID."
    for i, contact in enumerate(data.emergency_contacts):
        if not contact.name.strip():
            errors[f"emergency_contacts.{i}.name"] = "Each emergency contact needs a name."
        try:
            normalize_phone(contact.phone)
        except ValueError as exc:
            errors[f"emergency_contacts.{i}.phone"] = str(exc)
    for name in TEXT_FIELDS:
        text = getattr(data, name).strip()
        if len(text) > 200:
            errors[name] = "At most 200 characters."
        values[name] = text
    if errors:
        first = next(iter(errors.values()))
        raise ValidationError(f"Please correct the highlighted fields. {first}", errors)
    values["status"] = data.status
    values["required_weekly_hours"] = data.required_weekly_hours
    return values, codes


def next_mrn(session: Session) -> str:
    """MRNs are sequential, zero-padded: M000001, M000002 ..."""
    serialize(session, "mrn")
    latest = session.exec(
        select(Client.mrn).where(col(Client.mrn).like("M%")).order_by(col(Client.mrn).desc())
    ).first()
    number = 0
    if latest and latest[1:].isdigit():
        number = int(latest[1:])
    return f"M{number + 1:06d}"


def _name_key(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in folded if ch.isalnum())


def _similar(a_first: str, a_last: str, b_first: str, b_last: str) -> bool:
    af, al, bf, bl = (_name_key(x) for x in (a_first, a_last, b_first, b_last))
    if al == bl and (af[:1] == bf[:1] or not af or not bf):
        return True
    if (af, al) == (bl, bf):  # first and last swapped
        return True
    ratio = difflib.SequenceMatcher(None, af + " " + al, bf + " " + bl).ratio()
    return ratio >= 0.8


def find_possible_duplicates(
    db: Database,
    actor: Actor,
    first_name: str,
    last_name: str,
    dob: date,
    exclude_client_id: int | None = None,
) -> list[CensusRow]:
    """Clients with the same date of birth and a similar name, shown before saving."""
    require(actor, Perm.CENSUS_VIEW)
    with db.session() as session:
        same_dob = session.exec(select(Client).where(Client.dob == dob)).all()
        ids = [
            c.id
            for c in same_dob
            if c.id != exclude_client_id
            and _similar(first_name, last_name, c.first_name, c.last_name)
        ]
    if not ids:
        return []
    return list_census(db, actor, client_ids=[i for i in ids if i is not None])


def create_client(db: Database, actor: Actor, data: ClientInput) -> Client:
    """Register a client: record, first episode, status, diagnoses, contacts, coverage and,
    with a track, the enrollment. Part 2 is set automatically for substance-use tracks."""
    require(actor, Perm.CLIENT_EDIT)
    values, codes = _validate(data)
    today = date.today()
    with db.session() as session:
        track = session.get(Track, data.track_id) if data.track_id is not None else None
        if data.track_id is not None and (track is None or not track.active):
            raise ValidationError("That program track does not exist.", {"track_id": "Unknown."})
        if data.payer_id is not None and session.get(Payer, data.payer_id) is None:
            raise ValidationError("That payer does not exist.", {"payer_id": "Unknown."})
        mrn = (data.mrn or "").strip() or next_mrn(session)
        same = func.lower(col(Client.mrn)) == mrn.lower()  # MRNs are unique ignoring case
        if session.exec(select(Client).where(same)).first() is not None:
            raise ValidationError(f"MRN {mrn} is already used.", {"mrn": "Already used."})
        admitted = data.admission_date if data.status in ("active", "on_hold") else None
        client = Client(
            mrn=mrn,
            part2=bool(track and track.is_sud),
            admission_date=admitted,
            created_by=actor.user_id,
            updated_by=actor.user_id,
            **values,
        )
        session.add(client)
        session.flush()
        assert client.id is not None
        episode = Episode(
            client_id=client.id,
            episode_no=1,
            status=client.status,
            referral_date=today,
            intake_date=today if data.status != "referral" else None,
            admission_date=admitted,
            created_by=actor.user_id,
        )
        session.add(episode)
        session.flush()
        session.add(
            StatusChange(
                client_id=client.id,
                episode_id=episode.id,
                to_status=client.status,
                effective_date=admitted or today,
                created_by=actor.user_id,
            )
        )
        for i, code in enumerate(codes):
            session.add(
                Diagnosis(
                    client_id=client.id,
                    icd10_code=code,
                    is_primary=i == 0,
                    sort_order=i,
                    created_by=actor.user_id,
                )
            )
        for i, contact in enumerate(data.emergency_contacts):
            session.add(
                EmergencyContact(
                    client_id=client.id,
                    name=contact.name.strip(),
                    relationship=contact.relationship.strip(),
                    phone=normalize_phone(contact.phone),
                    is_primary=i == 0,
                    created_by=actor.user_id,
                )
            )
        if data.payer_id is not None:
            session.add(
                Coverage(
                    client_id=client.id,
                    payer_id=data.payer_id,
                    member_id=data.member_id.strip(),
                    start_date=admitted,
                    created_by=actor.user_id,
                )
            )
        if track is not None:
            session.add(
                TrackEnrollment(
                    client_id=client.id,
                    episode_id=episode.id,
                    track_id=track.id or 0,
                    start_date=data.admission_date or today,
                    created_by=actor.user_id,
                )
            )
        audit.record(
            session,
            actor,
            audit.Action.CREATE,
            entity="client",
            entity_id=client.id,
            client_id=client.id,
        )
        return client


# Allowed status moves (discharge and readmission have their own calls).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "referral": ("intake", "active"),
    "intake": ("active", "referral"),
    "active": ("on_hold",),
    "on_hold": ("active",),
    "discharged": (),
}


def change_status(
    db: Database,
    actor: Actor,
    client_id: int,
    expected_version: int,
    new_status: str,
    effective_date: date,
    reason: str = "",
    track_id: int | None = None,
) -> Client:
    """Move a client along referral -> intake -> active <-> on hold, recording the date."""
    require(actor, Perm.CLIENT_EDIT)
    with db.session() as session:
        client = _load_current(session, client_id, expected_version)
        if new_status not in TRANSITIONS.get(client.status, ()):
            raise ValidationError(
                f"A client who is {client.status.replace('_', ' ')} cannot be moved to "
                f"{new_status.replace('_', ' ')} here."
                + (" Use Readmit for a discharged client." if client.status == "discharged" else "")
            )
        old_status = client.status
        episode = _current_episode(session, client_id)
        changes: dict[str, Any] = {"status": new_status}
        if new_status == "active" and client.status in ("referral", "intake"):
            has_track = session.exec(
                select(func.count())
                .select_from(TrackEnrollment)
                .where(
                    TrackEnrollment.client_id == client_id,
                    TrackEnrollment.episode_id == episode.id,
                    col(TrackEnrollment.voided_at).is_(None),
                )
            ).one()
            if not has_track and track_id is None:
                raise ValidationError(
                    "Choose the program track to admit the client to.",
                    {"track_id": "Required to admit."},
                )
            if track_id is not None:
                track = session.get(Track, track_id)
                if track is None:
                    raise ValidationError("That program track does not exist.")
                session.add(
                    TrackEnrollment(
                        client_id=client_id,
                        episode_id=episode.id,
                        track_id=track_id,
                        start_date=effective_date,
                        created_by=actor.user_id,
                    )
                )
                if track.is_sud:
                    changes["part2"] = True
            changes["admission_date"] = effective_date
            changes["discharge_date"] = None
            episode.admission_date = effective_date
        if new_status == "intake":
            episode.intake_date = effective_date
        episode.status = new_status
        session.add(episode)
        updated = update_versioned(
            session,
            actor,
            Client,
            client_id,
            expected_version,
            changes,
            what="This client's record",
        )
        _record_status(
            session,
            actor,
            client_id,
            episode.id,
            old_status,
            new_status,
            effective_date,
            reason.strip(),
            f"status {old_status}->{new_status}",
        )
        return updated


def readmit(
    db: Database,
    actor: Actor,
    client_id: int,
    expected_version: int,
    referral_date: date,
    reason: str = "",
) -> Client:
    """A discharged client returns: a new episode starts as a referral; history is kept."""
    require(actor, Perm.CLIENT_EDIT)
    with db.session() as session:
        client = _load_current(session, client_id, expected_version)
        if client.status != "discharged":
            raise ValidationError("Only a discharged client can be readmitted.")
        last = _current_episode(session, client_id)
        if last.discharge_date and referral_date < last.discharge_date:
            raise ValidationError("The new referral date is before the last discharge.")
        episode = Episode(
            client_id=client_id,
            episode_no=last.episode_no + 1,
            status="referral",
            referral_date=referral_date,
            created_by=actor.user_id,
        )
        session.add(episode)
        session.flush()
        updated = update_versioned(
            session,
            actor,
            Client,
            client_id,
            expected_version,
            {"status": "referral", "admission_date": None, "discharge_date": None},
            what="This client's record",
        )
        _record_status(
            session,
            actor,
            client_id,
            episode.id,
            "discharged",
            "referral",
            referral_date,
            reason.strip() or "readmission",
            f"readmitted episode {episode.episode_no}",
        )
        return updated


def discharge_basic(
    db: Database,
    actor: Actor,
    client_id: int,
    expected_version: int,
    discharge_date: date,
    reason: str = "",
) -> Client:
    """End the episode: status discharged, enrollments and assignments end on that date.
    (The guided discharge in services/discharge.py builds on end_episode_in.)"""
    require(actor, Perm.CLIENT_EDIT)
    with db.session() as session:
        return end_episode_in(session, actor, client_id, expected_version, discharge_date, reason)


def end_episode_in(
    session: Session,
    actor: Actor,
    client_id: int,
    expected_version: int,
    discharge_date: date,
    reason: str = "",
) -> Client:
    """discharge_basic's work inside the caller's transaction (the caller checks permission)."""
    client = _load_current(session, client_id, expected_version)
    if client.status == "discharged":
        raise ValidationError("This client is already discharged.")
    old_status = client.status
    episode = _current_episode(session, client_id)
    start = episode.admission_date or episode.referral_date
    if start and discharge_date < start:
        raise ValidationError("The discharge date is before the start of this episode.")
    for model in (TrackEnrollment, TherapistAssignment):
        table: Any = model
        open_rows = session.exec(
            select(table).where(
                table.client_id == client_id,
                col(table.voided_at).is_(None),
                or_(col(table.end_date).is_(None), col(table.end_date) > discharge_date),
            )
        ).all()
        for row in open_rows:
            row.end_date = max(discharge_date, row.start_date)
            row.updated_by = actor.user_id
            session.add(row)
    episode.discharge_date = discharge_date
    episode.status = "discharged"
    session.add(episode)
    updated = update_versioned(
        session,
        actor,
        Client,
        client_id,
        expected_version,
        {"status": "discharged", "discharge_date": discharge_date},
        what="This client's record",
    )
    _record_status(
        session,
        actor,
        client_id,
        episode.id,
        old_status,
        "discharged",
        discharge_date,
        reason.strip(),
        "status ->discharged",
    )
    return updated


def _load_current(session: Session, client_id: int, expected_version: int) -> Client:
    """The client as the caller last saw it, or a plain not-found / changed-elsewhere error."""
    client = session.get(Client, client_id)
    if client is None:
        raise NotFoundError("That client record does not exist.")
    if client.version != expected_version:
        raise StaleRecordError("This client's record")
    return client


def _record_status(
    session: Session,
    actor: Actor,
    client_id: int,
    episode_id: int | None,
    from_status: str | None,
    to_status: str,
    effective: date,
    reason: str,
    detail: str,
) -> None:
    """One dated status-history row and its audit event (no PHI in the detail)."""
    session.add(
        StatusChange(
            client_id=client_id,
            episode_id=episode_id,
            from_status=from_status,
            to_status=to_status,
            effective_date=effective,
            reason=reason,
            created_by=actor.user_id,
        )
    )
    audit.record(
        session,
        actor,
        audit.Action.UPDATE,
        entity="client",
        entity_id=client_id,
        client_id=client_id,
        detail=detail,
    )


def _current_episode(session: Session, client_id: int) -> Episode:
    episode = session.exec(
        select(Episode)
        .where(Episode.client_id == client_id)
        .order_by(col(Episode.episode_no).desc())
    ).first()
    if episode is None:
        raise NotFoundError("This client has no episode of care on record.")
    return episode


EDITABLE_FIELDS = (
    "first_name",
    "last_name",
    "middle_name",
    "preferred_name",
    "pronouns",
    "sex",
    "phone",
    "email",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "primary_language",
    "referral_source",
)


def update_client(
    db: Database, actor: Actor, client_id: int, expected_version: int, changes: dict[str, Any]
) -> Client:
    """Save demographics; refused with 'changed on another workstation' if the record moved on."""
    require(actor, Perm.CLIENT_EDIT)
    unknown = [k for k in changes if k not in EDITABLE_FIELDS]
    if unknown:
        raise ValidationError(f"These fields cannot be edited here: {', '.join(unknown)}.")
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, value in changes.items():
        text = str(value).strip()
        try:
            if key == "phone":
                text = normalize_phone(text)
            elif key == "email":
                text = check_email(text)
            elif key in ("first_name", "last_name") and not text:
                raise ValueError("Required.")
        except ValueError as exc:
            errors[key] = str(exc)
        clean[key] = text
    if errors:
        raise ValidationError(
            f"Please correct the highlighted fields. {next(iter(errors.values()))}", errors
        )
    with db.session() as session:
        client = update_versioned(
            session, actor, Client, client_id, expected_version, clean, what="This client's record"
        )
        audit.record(
            session,
            actor,
            audit.Action.UPDATE,
            entity="client",
            entity_id=client_id,
            client_id=client_id,
            detail="fields=" + ",".join(sorted(clean)),
        )
        return client
