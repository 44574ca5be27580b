"""Staff records, therapist assignments (with history) and caseloads."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, ValidationError
from iopdesk.models import Client, Staff, TherapistAssignment, User, utcnow
from iopdesk.models.enums import AssignmentRole
from iopdesk.services import clock
from iopdesk.services.actor import Actor, parse_roles, roles_text
from iopdesk.services.audit import Action
from iopdesk.services.clients import CensusRow, list_census
from iopdesk.services.clock import today_of
from iopdesk.services.declare import Arg, Audited, about, service
from iopdesk.services.permissions import Perm, require
from iopdesk.services.records import touch, update_versioned
from iopdesk.services.validation import check_email, normalize_phone, npi_is_valid

LICENSE_WARNING_DAYS = 60
ROLE_LABELS = {
    AssignmentRole.PRIMARY_THERAPIST.value: "Primary therapist",
    AssignmentRole.CASE_MANAGER.value: "Case manager",
    AssignmentRole.PSYCHIATRIST.value: "Psychiatrist",
}


@dataclass
class StaffInput:
    staff_code: str
    first_name: str
    last_name: str
    credentials: str = ""
    is_supervisee: bool = False
    npi: str = ""
    license_number: str = ""
    license_state: str = ""
    license_expiry: date | None = None
    supervisor_id: int | None = None
    email: str = ""
    phone: str = ""
    roles: str = "therapist"
    taxonomy: str = ""  # NUCC provider taxonomy for 837 claims


@dataclass(frozen=True)
class StaffInfo:
    id: int
    staff_code: str
    first_name: str
    last_name: str
    credentials: str
    is_supervisee: bool
    npi: str
    license_number: str
    license_state: str
    license_expiry: date | None
    supervisor_id: int | None
    supervisor: str
    email: str
    phone: str
    roles: str
    active: bool
    username: str
    version: int
    license_warning: str = ""
    taxonomy: str = ""

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}" + (
            f", {self.credentials}" if self.credentials else ""
        )


def license_warning(expiry: date | None, today: date | None = None) -> str:
    """Plain words for the license state: expired, expiring soon, or nothing."""
    if expiry is None:
        return ""
    today = today or clock.current_today()
    if expiry < today:
        return f"License expired on {expiry:%m/%d/%Y}"
    if expiry <= today + timedelta(days=LICENSE_WARNING_DAYS):
        days = (expiry - today).days
        return f"License expires in {days} day{'s' if days != 1 else ''} ({expiry:%m/%d/%Y})"
    return ""


def _validate(data: StaffInput) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name in ("staff_code", "first_name", "last_name"):
        text = getattr(data, name).strip()
        if not text:
            errors[name] = "Required."
        values[name] = text
    npi = data.npi.strip()
    if npi and not npi_is_valid(npi):
        errors["npi"] = "Not a valid NPI: 10 digits with a correct check digit."
    values["npi"] = npi or None
    taxonomy = data.taxonomy.strip().upper()
    if taxonomy and not re.fullmatch(r"[0-9A-Z]{9}X", taxonomy):
        errors["taxonomy"] = "A taxonomy code is 10 characters ending in X, e.g. 101YP2500X."
    values["taxonomy"] = taxonomy
    try:
        values["phone"] = normalize_phone(data.phone)
    except ValueError as exc:
        errors["phone"] = str(exc)
    try:
        values["email"] = check_email(data.email)
    except ValueError as exc:
        errors["email"] = str(exc)
    try:
        roles = parse_roles(data.roles)
        if not roles:
            errors["roles"] = "Choose at least one role this person works in."
        values["roles"] = roles_text(roles)
    except ValueError as exc:
        errors["roles"] = str(exc)
    if data.is_supervisee and data.supervisor_id is None:
        errors["supervisor_id"] = "A supervisee needs a supervisor for co-signatures."
    if errors:
        raise ValidationError(
            f"Please correct the highlighted fields. {next(iter(errors.values()))}", errors
        )
    values.update(
        credentials=data.credentials.strip(),
        is_supervisee=data.is_supervisee,
        license_number=data.license_number.strip() or None,
        license_state=data.license_state.strip() or None,
        license_expiry=data.license_expiry,
        supervisor_id=data.supervisor_id,
    )
    return values


def _infos(session: Session, rows: list[Staff]) -> list[StaffInfo]:
    names = {s.id: f"{s.first_name} {s.last_name}" for s in session.exec(select(Staff)).all()}
    users = {
        u.staff_id: u.username
        for u in session.exec(select(User).where(col(User.staff_id).is_not(None))).all()
    }
    return [
        StaffInfo(
            s.id or 0,
            s.staff_code,
            s.first_name,
            s.last_name,
            s.credentials,
            s.is_supervisee,
            s.npi or "",
            s.license_number or "",
            s.license_state or "",
            s.license_expiry,
            s.supervisor_id,
            names.get(s.supervisor_id, "") if s.supervisor_id else "",
            s.email,
            s.phone,
            s.roles,
            s.active,
            users.get(s.id, ""),
            s.version,
            license_warning(s.license_expiry),
            s.taxonomy,
        )
        for s in rows
    ]


@service(Perm.CENSUS_VIEW, read_only=True)
def list_staff(session: Session, actor: Actor, active_only: bool = True) -> list[StaffInfo]:
    """Staff are listed for anyone who may see the census (to pick therapists)."""
    q = select(Staff).order_by(col(Staff.last_name), col(Staff.first_name))
    if active_only:
        q = q.where(Staff.active)
    return _infos(session, list(session.exec(q).all()))


def _check_supervisor(session: Session, supervisor_id: int | None, self_id: int | None) -> None:
    if supervisor_id is None:
        return
    if supervisor_id == self_id:
        raise ValidationError(
            "A staff member cannot supervise themselves.", {"supervisor_id": "Choose someone else."}
        )
    sup = session.get(Staff, supervisor_id)
    if sup is None or not sup.active:
        raise ValidationError(
            "That supervisor is not an active staff member.",
            {"supervisor_id": "Unknown supervisor."},
        )


@service(Perm.STAFF_MANAGE, audit=Audited(Action.CREATE, "staff", entity_id=lambda s: s.id))
def create_staff(session: Session, actor: Actor, data: StaffInput) -> StaffInfo:
    values = _validate(data)
    if session.exec(select(Staff).where(Staff.staff_code == values["staff_code"])).first():
        raise ValidationError(
            f"Staff ID {values['staff_code']} is already used.", {"staff_code": "Already used."}
        )
    _check_supervisor(session, data.supervisor_id, None)
    staff = Staff(**values)
    session.add(staff)
    session.flush()
    return _infos(session, [staff])[0]


@service(Perm.STAFF_MANAGE, audit=Audited(Action.UPDATE, "staff", entity_id=Arg("staff_id")))
def update_staff(
    session: Session,
    actor: Actor,
    staff_id: int,
    expected_version: int,
    data: StaffInput,
    active: bool = True,
) -> StaffInfo:
    values = _validate(data)
    values["active"] = active
    clash = session.exec(
        select(Staff).where(Staff.staff_code == values["staff_code"], Staff.id != staff_id)
    ).first()
    if clash:
        raise ValidationError(
            f"Staff ID {values['staff_code']} is already used.", {"staff_code": "Already used."}
        )
    _check_supervisor(session, data.supervisor_id, staff_id)
    staff = update_versioned(
        session, actor, Staff, staff_id, expected_version, values, what="This staff record"
    )
    return _infos(session, [staff])[0]


@service(
    Perm.USERS_MANAGE,
    audit=Audited(Action.USER_CHANGE, "app_user", entity_id=Arg("user_id"), flagged=True),
)
def link_user(session: Session, actor: Actor, user_id: int, staff_id: int | None) -> None:
    """Connect a sign-in account to the person's staff record (their caseload, their notes)."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("That user account does not exist.")
    if staff_id is not None:
        if session.get(Staff, staff_id) is None:
            raise NotFoundError("That staff record does not exist.")
        other = session.exec(
            select(User).where(User.staff_id == staff_id, User.id != user_id)
        ).first()
        if other is not None:
            raise ValidationError(f"That staff record is already linked to {other.username}.")
    user.staff_id = staff_id
    touch(user, actor)
    session.add(user)
    about(session, detail=f"staff_id={staff_id}")


def expiring_licenses(db: Database, actor: Actor, today: date | None = None) -> list[StaffInfo]:
    return [s for s in list_staff(db, actor) if license_warning(s.license_expiry, today)]


# -- assignments ---------------------------------------------------------------------------
@dataclass(frozen=True)
class AssignmentInfo:
    id: int
    client_id: int
    staff_id: int
    staff_name: str
    role: str
    start_date: date
    end_date: date | None

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    def current(self, on: date | None = None) -> bool:
        on = on or clock.current_today()
        return self.start_date <= on and (self.end_date is None or self.end_date >= on)


@service(Perm.CLIENT_VIEW, read_only=True)
def assignments_for(session: Session, actor: Actor, client_id: int) -> list[AssignmentInfo]:
    """The care team over time, newest first (history is kept on reassignment)."""
    rows = session.execute(
        select(TherapistAssignment, Staff.first_name, Staff.last_name, Staff.credentials)
        .join(Staff, Staff.id == TherapistAssignment.staff_id)  # type: ignore[arg-type]
        .where(
            TherapistAssignment.client_id == client_id,
            col(TherapistAssignment.voided_at).is_(None),
        )
        .order_by(col(TherapistAssignment.start_date).desc(), col(TherapistAssignment.id).desc())
    ).all()
    return [
        AssignmentInfo(
            a.id or 0,
            a.client_id,
            a.staff_id,
            f"{f} {last}" + (f", {cr}" if cr else ""),
            a.role,
            a.start_date,
            a.end_date,
        )
        for a, f, last, cr in rows
    ]


@service(
    Perm.ASSIGNMENT_MANAGE,
    audit=Audited(
        Action.UPDATE,
        "assignment",
        entity_id=lambda a: a.id,
        client_id=lambda a: a.client_id,
        detail=lambda a: f"{a.role} -> staff {a.staff_id}",
    ),
)
def assign(
    session: Session, actor: Actor, client_id: int, staff_id: int, role: str, start_date: date
) -> AssignmentInfo:
    """Give a client a primary therapist, case manager or psychiatrist from `start_date`.

    The person currently in that role (if any) is ended the day before, so the history shows
    who had the client when. A same-day correction voids the mistaken assignment instead.
    """
    if role not in ROLE_LABELS:
        raise ValidationError(f"Unknown assignment role '{role}'.")
    client = session.get(Client, client_id)
    if client is None:
        raise NotFoundError("That client record does not exist.")
    if client.status == "discharged":
        raise ValidationError("This client is discharged; readmit them first.")
    staff = session.get(Staff, staff_id)
    if staff is None or not staff.active:
        raise ValidationError("That staff member is not active.")
    current = session.exec(
        select(TherapistAssignment).where(
            TherapistAssignment.client_id == client_id,
            TherapistAssignment.role == role,
            col(TherapistAssignment.voided_at).is_(None),
            or_(
                col(TherapistAssignment.end_date).is_(None),
                col(TherapistAssignment.end_date) >= start_date,
            ),
        )
    ).all()
    for old in current:
        if old.staff_id == staff_id and old.start_date <= start_date and old.end_date is None:
            raise ValidationError(
                f"{staff.first_name} {staff.last_name} already has this client in that role."
            )
        if old.start_date >= start_date:
            old.voided_at = utcnow()
            old.voided_by = actor.user_id
            old.void_reason = "replaced on or before its start date"
        else:
            old.end_date = start_date - timedelta(days=1)
        old.version += 1
        session.add(old)
    new = TherapistAssignment(
        client_id=client_id, staff_id=staff_id, role=role, start_date=start_date
    )
    session.add(new)
    session.flush()
    name = f"{staff.first_name} {staff.last_name}" + (
        f", {staff.credentials}" if staff.credentials else ""
    )
    return AssignmentInfo(new.id or 0, client_id, staff_id, name, role, start_date, None)


@service(
    Perm.ASSIGNMENT_MANAGE,
    audit=Audited(Action.UPDATE, "assignment", entity_id=Arg("assignment_id")),
)
def end_assignment(session: Session, actor: Actor, assignment_id: int, end_date: date) -> None:
    row = session.get(TherapistAssignment, assignment_id)
    if row is None or row.voided_at is not None:
        raise NotFoundError("That assignment does not exist.")
    if end_date < row.start_date:
        raise ValidationError("The end date is before the assignment started.")
    row.end_date = end_date
    touch(row, actor)
    session.add(row)
    about(session, client_id=row.client_id, detail="ended")


@dataclass(frozen=True)
class CaseloadCount:
    staff_id: int
    name: str
    credentials: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def caseload_counts(db: Database, actor: Actor, on: date | None = None) -> list[CaseloadCount]:
    """Current assignments per staff member and role (one GROUP BY)."""
    require(actor, Perm.CENSUS_VIEW)
    on = on or today_of(db)
    with db.read() as session:
        rows = session.execute(
            sa_select(
                col(Staff.id),
                col(Staff.first_name),
                col(Staff.last_name),
                col(Staff.credentials),
                col(TherapistAssignment.role),
                func.count(col(TherapistAssignment.id)),
            )
            .join(TherapistAssignment, col(TherapistAssignment.staff_id) == col(Staff.id))
            .join(Client, col(Client.id) == col(TherapistAssignment.client_id))
            .where(
                col(TherapistAssignment.voided_at).is_(None),
                col(TherapistAssignment.start_date) <= on,
                or_(
                    col(TherapistAssignment.end_date).is_(None),
                    col(TherapistAssignment.end_date) >= on,
                ),
                col(Client.status) != "discharged",
            )
            .group_by(
                col(Staff.id),
                col(Staff.first_name),
                col(Staff.last_name),
                col(Staff.credentials),
                col(TherapistAssignment.role),
            )
        ).all()
    result: dict[int, CaseloadCount] = {}
    for sid, first, last, cred, role, count in rows:
        entry = result.setdefault(sid, CaseloadCount(sid, f"{first} {last}", cred or "", {}))
        entry.counts[role] = int(count)
    return sorted(result.values(), key=lambda c: c.name)


def caseload(db: Database, actor: Actor, staff_id: int, on: date | None = None) -> list[CensusRow]:
    """The clients a staff member currently has in any role (census rows)."""
    require(actor, Perm.CENSUS_VIEW)
    on = on or today_of(db)
    with db.read() as session:
        ids = set(
            session.exec(
                select(TherapistAssignment.client_id).where(
                    TherapistAssignment.staff_id == staff_id,
                    col(TherapistAssignment.voided_at).is_(None),
                    TherapistAssignment.start_date <= on,
                    or_(
                        col(TherapistAssignment.end_date).is_(None),
                        col(TherapistAssignment.end_date) >= on,
                    ),
                )
            ).all()
        )
    return [r for r in list_census(db, actor, on=on, client_ids=ids) if r.status != "discharged"]
