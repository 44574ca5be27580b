"""Client registry basics: census list, chart opening (audited), create and edit.

The clients issue extends this with the full intake form, duplicates and import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, ValidationError
from iopdesk.models import (
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
)
from iopdesk.models.enums import ClientStatus
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.permissions import Perm, require
from iopdesk.services.records import update_versioned
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
    q: Any = (
        sa_select(  # type: ignore[call-overload]
            Client, Track.name, Staff.first_name, Staff.last_name, Staff.credentials, Payer.name
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
    )
    if status:
        q = q.where(Client.status == status)
    if track_id is not None:
        q = q.where(TrackEnrollment.track_id == track_id)
    if therapist_staff_id is not None:
        q = q.where(TherapistAssignment.staff_id == therapist_staff_id)
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
        for client, track, tfirst, tlast, tcred, payer in session.execute(q):
            therapist = (
                f"{tfirst} {tlast}".strip() + (f", {tcred}" if tcred else "") if tlast else ""
            )
            rows.append(
                CensusRow(
                    client.id,
                    client.mrn,
                    client.last_name,
                    client.first_name,
                    client.preferred_name,
                    client.dob,
                    client.phone,
                    client.status,
                    track or "",
                    therapist,
                    payer or "",
                    client.admission_date,
                    client.part2,
                )
            )
    return rows


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
        return False
    if actor.is_(Role.SUPERVISOR) or actor.is_(Role.ADMIN):
        return True
    if actor.staff_id is None:
        return False
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
    return bool(facilitated)


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
                .where(TrackEnrollment.client_id == client_id)
                .order_by(col(TrackEnrollment.start_date).desc())
            )
        ]
        chart.assignments = [
            (a, f"{first} {last}".strip() + (f", {cred}" if cred else ""))
            for a, first, last, cred in session.execute(
                select(TherapistAssignment, Staff.first_name, Staff.last_name, Staff.credentials)
                .join(Staff, Staff.id == TherapistAssignment.staff_id)  # type: ignore[arg-type]
                .where(TherapistAssignment.client_id == client_id)
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
        audit.record(
            session,
            actor,
            audit.Action.OPEN_CHART,
            entity="client",
            entity_id=client_id,
            client_id=client_id,
        )
        return chart


@dataclass
class ClientInput:
    first_name: str
    last_name: str
    dob: date
    preferred_name: str = ""
    middle_name: str = ""
    pronouns: str = ""
    sex: str = ""
    phone: str = ""
    email: str = ""
    primary_language: str = "English"
    status: str = ClientStatus.REFERRAL.value
    diagnoses: list[str] = field(default_factory=list)  # first is primary
    required_weekly_hours: Decimal | None = None
    mrn: str | None = None


def _validate(data: ClientInput) -> tuple[dict[str, Any], list[str]]:
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
    codes: list[str] = []
    for code in data.diagnoses:
        try:
            codes.append(normalize_icd10(code))
        except ValueError as exc:
            errors["diagnoses"] = str(exc)
    if data.required_weekly_hours is not None and not (
        Decimal(0) <= data.required_weekly_hours <= Decimal(40)
    ):
        errors["required_weekly_hours"] = "Between 0 and 40 hours."
    if errors:
        first = next(iter(errors.values()))
        raise ValidationError(f"Please correct the highlighted fields. {first}", errors)
    for name in ("preferred_name", "middle_name", "pronouns", "sex", "primary_language"):
        values[name] = getattr(data, name).strip()
    values["status"] = data.status
    values["required_weekly_hours"] = data.required_weekly_hours
    return values, codes


def next_mrn(session: Session) -> str:
    """MRNs are sequential, zero-padded: M000001, M000002 ..."""
    latest = session.exec(
        select(Client.mrn).where(col(Client.mrn).like("M%")).order_by(col(Client.mrn).desc())
    ).first()
    number = 0
    if latest and latest[1:].isdigit():
        number = int(latest[1:])
    return f"M{number + 1:06d}"


def create_client(db: Database, actor: Actor, data: ClientInput) -> Client:
    require(actor, Perm.CLIENT_EDIT)
    values, codes = _validate(data)
    with db.session() as session:
        mrn = (data.mrn or "").strip() or next_mrn(session)
        if session.exec(select(Client).where(Client.mrn == mrn)).first() is not None:
            raise ValidationError(f"MRN {mrn} is already used.", {"mrn": "Already used."})
        client = Client(mrn=mrn, created_by=actor.user_id, updated_by=actor.user_id, **values)
        session.add(client)
        session.flush()
        assert client.id is not None
        episode = Episode(
            client_id=client.id,
            episode_no=1,
            status=client.status,
            referral_date=date.today(),
            created_by=actor.user_id,
        )
        session.add(episode)
        session.flush()
        session.add(
            StatusChange(
                client_id=client.id,
                episode_id=episode.id,
                to_status=client.status,
                effective_date=date.today(),
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
        audit.record(
            session,
            actor,
            audit.Action.CREATE,
            entity="client",
            entity_id=client.id,
            client_id=client.id,
        )
        return client


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
