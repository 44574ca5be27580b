"""Client registry basics: census list, chart opening (audited), create and edit.

The clients issue extends this with the full intake form, duplicates and import.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy import literal as sa_literal
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
    User,
)
from iopdesk.models.enums import ClientStatus, Role
from iopdesk.services import audit, clock
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import clinic_today
from iopdesk.services.clock import clinic_zone_name, today_of
from iopdesk.services.declare import Arg, Audited, about, database_of, service
from iopdesk.services.permissions import Perm, has
from iopdesk.services.records import serialize, update_versioned
from iopdesk.services.textfold import fold
from iopdesk.services.validation import (
    check_dob,
    check_email,
    check_icd10,
    icd10_description,
    normalize_phone,
)


@dataclass(frozen=True)
class CensusRow:
    id: int
    mrn: str
    last_name: str
    first_name: str
    preferred_name: str
    dob: date | None  # None where the chart hides demographics from this user
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


@service(Perm.CENSUS_VIEW, read_only=True)
def list_census(
    session: Session,
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
    on = on or today_of(database_of(session))
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
    # A search is matched in Python (CensusIndex): SQL LIKE cannot ignore accents portably,
    # and "martinez" must find "Martínez" (issue 19 item 7).
    searching = bool(search.split())
    q = q.order_by(Client.last_name, Client.first_name, Client.id)
    if limit and not searching:
        q = q.limit(limit)
    rows: list[CensusRow] = []
    hidden = ALL_SECTIONS - _roles_sections(actor.roles)
    team: set[int] = _care_team_client_ids(session, actor) if hidden else set()
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
        therapist = f"{tfirst} {tlast}".strip() + (f", {tcred}" if tcred else "") if tlast else ""
        remaining = None if auth_units is None else int(auth_units) - int(auth_used or 0)
        if hidden and cid not in team:  # minimum necessary, as in the chart
            if ChartSection.DEMOGRAPHICS in hidden:
                dob = admitted = None
            if ChartSection.CONTACT in hidden:
                phone = ""
            if ChartSection.INSURANCE in hidden:
                payer, remaining = "", None
            if ChartSection.CARE_TEAM in hidden:
                therapist = ""
            if ChartSection.PLANS in hidden:
                due = None
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
    if searching:
        rows = CensusIndex(rows).search(search)
        if limit:
            rows = rows[:limit]
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
            fold("\n".join((r.first_name, r.last_name, r.preferred_name, r.mrn))) for r in self.rows
        ]
        self._phones = ["".join(ch for ch in r.phone if ch.isdigit()) for r in self.rows]

    def search(self, text: str) -> list[CensusRow]:
        terms = [(fold(t), "".join(ch for ch in t if ch.isdigit())) for t in text.split()]
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


# -- minimum necessary in the chart (HIPAA 164.502(b), 164.514(d)) --------------------------


class ChartSection(StrEnum):
    """The parts of a chart a role may or may not see (docs/privacy.md, "What each role
    sees"). SCHEDULE is what scheduling needs and is open to every role with chart access."""

    SCHEDULE = "schedule"  # name, preferred name, MRN, track, status, today's sessions
    DEMOGRAPHICS = "demographics"  # legal name, date of birth, sex, pronouns, language, dates
    CONTACT = "contact"  # phone, e-mail, address
    EMERGENCY_CONTACTS = "emergency_contacts"
    INSURANCE = "insurance"  # payers, member IDs, authorizations
    CARE_TEAM = "care_team"
    ATTENDANCE = "attendance"  # attendance history and weekly hours over the stay
    DIAGNOSES = "diagnoses"
    NOTES = "notes"  # progress and group note content
    PLANS = "plans"  # treatment plans, goals, measures
    DISCHARGE = "discharge"  # discharge summary, aftercare plan and packet
    PRIVACY = "privacy"  # consents, accounting of disclosures, amendment requests


SECTION_LABELS: dict[ChartSection, str] = {
    ChartSection.SCHEDULE: "Name, MRN, track, status and today's sessions",
    ChartSection.DEMOGRAPHICS: "Demographics",
    ChartSection.CONTACT: "Contact details",
    ChartSection.EMERGENCY_CONTACTS: "Emergency contacts",
    ChartSection.INSURANCE: "Insurance",
    ChartSection.CARE_TEAM: "Care team",
    ChartSection.ATTENDANCE: "Attendance history",
    ChartSection.DIAGNOSES: "Diagnoses",
    ChartSection.NOTES: "Notes",
    ChartSection.PLANS: "Treatment plans",
    ChartSection.DISCHARGE: "Discharge and aftercare",
    ChartSection.PRIVACY: "Consents, disclosures and amendments",
}

ALL_SECTIONS = frozenset(ChartSection)
CLINICAL_SECTIONS = frozenset(
    {ChartSection.DIAGNOSES, ChartSection.NOTES, ChartSection.PLANS, ChartSection.DISCHARGE}
)
# What each role sees of any client's chart. Therapists see ALL_SECTIONS of the clients on
# their caseload or in the groups they facilitate, and only SCHEDULE of everybody else;
# supervisors and administrators see everything; emergency access opens everything.
ROLE_SECTIONS: dict[Role, frozenset[ChartSection]] = {
    Role.FRONT_DESK: frozenset(
        {
            ChartSection.SCHEDULE,
            ChartSection.DEMOGRAPHICS,
            ChartSection.CONTACT,
            ChartSection.EMERGENCY_CONTACTS,
            ChartSection.INSURANCE,
            ChartSection.CARE_TEAM,
            ChartSection.ATTENDANCE,
            ChartSection.PRIVACY,
        }
    ),
    Role.BILLING: frozenset(
        {
            ChartSection.SCHEDULE,
            ChartSection.DEMOGRAPHICS,
            ChartSection.CONTACT,
            ChartSection.INSURANCE,
            ChartSection.CARE_TEAM,
            ChartSection.ATTENDANCE,
            ChartSection.DIAGNOSES,  # claims carry the diagnosis codes
            ChartSection.PRIVACY,  # consents to disclose to payers
        }
    ),
    Role.THERAPIST: frozenset({ChartSection.SCHEDULE}),  # off caseload; on it: everything
    Role.SUPERVISOR: ALL_SECTIONS,
    Role.ADMIN: ALL_SECTIONS,
}


@dataclass(frozen=True)
class ChartAccess:
    """What this user may see of this client's chart, and why the rest is hidden. The
    services leave hidden data out; the screen shows `reason(section)` in its place."""

    visible: frozenset[ChartSection]
    reasons: tuple[tuple[ChartSection, str], ...] = ()
    emergency: bool = False  # opened under emergency access
    on_care_team: bool = False
    notice: str = ""  # one sentence for the top of the chart when anything is hidden
    short_reasons: tuple[tuple[ChartSection, str], ...] = ()

    def shows(self, section: ChartSection) -> bool:
        return section in self.visible

    def reason(self, section: ChartSection) -> str:
        """The full explanation shown in place of a hidden section ("" when shown)."""
        return dict(self.reasons).get(section, "")

    def short(self, section: ChartSection) -> str:
        """A few words for a hidden section under the chart's notice."""
        return dict(self.short_reasons).get(section, "")


def _off_caseload(actor: Actor, section: ChartSection) -> bool:
    """Hidden only because a therapist is not on this client's care team."""
    return actor.is_(Role.THERAPIST) and section not in _roles_sections(
        actor.roles - {Role.THERAPIST}
    )


def _denied_reason(actor: Actor, section: ChartSection, designated: bool) -> tuple[str, str]:
    """(full explanation, a few words) for a hidden section."""
    label = SECTION_LABELS[section]
    if _off_caseload(actor, section):
        why = (
            f"{label} hidden: this client is not on your caseload or in a group you "
            "facilitate, so you see only what scheduling needs."
        )
        short = "Hidden: not on your caseload or in your groups."
    elif section in CLINICAL_SECTIONS:
        why = (
            f"{label} hidden: clinical information is visible only to the client's "
            "clinicians and supervisors."
        )
        short = "Hidden: clinical information, for the client's clinicians only."
    else:
        why = f"{label} hidden: your role does not need it (minimum necessary)."
        short = "Hidden: your role does not need it."
    return why + _hint(designated), short


def _hint(designated: bool) -> str:
    if designated:
        return " In an emergency, use Emergency access (it is logged and reviewed)."
    return " Ask the client's clinician or a supervisor if you need it."


def _roles_sections(roles: Collection[Role]) -> frozenset[ChartSection]:
    out: set[ChartSection] = set()
    for role in roles:
        out |= ROLE_SECTIONS[role]
    return frozenset(out)


def chart_access_in(
    session: Session,
    actor: Actor,
    client_id: int,
    *,
    emergency: bool | None = None,
    on_team: bool | None = None,
) -> ChartAccess:
    """The minimum-necessary rule for one user and one client (see ROLE_SECTIONS).
    `emergency` (an open emergency access of this user) and `on_team` (a therapist on the
    client's care team): when the caller has already read them."""
    from iopdesk.models import User

    if not has(actor, Perm.CLIENT_VIEW):
        return ChartAccess(frozenset())
    if emergency is None:
        emergency = _break_glass(session, actor, client_id)
    if on_team is None:
        on_team = actor.is_(Role.THERAPIST) and _on_care_team(session, actor, client_id)
    if emergency or on_team:
        return ChartAccess(ALL_SECTIONS, (), emergency, on_team)
    visible = _roles_sections(actor.roles)
    if visible == ALL_SECTIONS:
        return ChartAccess(visible)
    user = session.get(User, actor.user_id)
    designated = bool(user and user.break_glass_allowed)
    hidden = [s for s in ChartSection if s not in visible]
    texts = {s: _denied_reason(actor, s, designated) for s in hidden}
    if any(_off_caseload(actor, s) for s in hidden):
        notice = (
            "This client is not on your caseload or in a group you facilitate, so you see "
            "only what scheduling needs: name, MRN, track, status and today's sessions."
        )
    else:
        notice = "Parts of this chart are hidden because your role does not need them."
    return ChartAccess(
        visible,
        tuple((s, texts[s][0]) for s in hidden),
        notice=notice + _hint(designated),
        short_reasons=tuple((s, texts[s][1]) for s in hidden),
    )


def chart_access(db: Database, actor: Actor, client_id: int) -> ChartAccess:
    with db.session() as session:
        return chart_access_in(session, actor, client_id)


def require_section_in(
    session: Session, actor: Actor, client_id: int, section: ChartSection, *, entity: str
) -> ChartAccess:
    """Refuse (audited, committed) a read of a chart section this user may not see."""
    access = chart_access_in(session, actor, client_id)
    if access.shows(section):
        return access
    audit.record(
        session,
        actor,
        audit.Action.DENIED,
        entity=entity,
        client_id=client_id,
        detail=f"minimum necessary: {section.value}",
    )
    session.commit()
    raise PermissionDenied(access.reason(section))


@dataclass(frozen=True)
class ChartSession:
    """One of the client's sessions today (what the front desk and scheduling need)."""

    id: int
    start: str
    end: str
    title: str
    status: str


@dataclass
class ClientChart:
    """The Overview. Sections `access` does not show are left out here (empty lists; blank
    or None client fields), never read from the database into this object."""

    client: Client
    diagnoses: list[Diagnosis] = field(default_factory=list)
    contacts: list[EmergencyContact] = field(default_factory=list)
    enrollments: list[tuple[TrackEnrollment, str]] = field(default_factory=list)
    assignments: list[tuple[TherapistAssignment, str]] = field(default_factory=list)
    coverage: list[tuple[Coverage, str]] = field(default_factory=list)
    can_view_clinical: bool = False
    access: ChartAccess = field(default_factory=lambda: ChartAccess(frozenset()))
    today_sessions: list[ChartSession] = field(default_factory=list)
    current_track: str = ""
    # the suicide-risk banner (services.safety.RiskBanner; empty for users who may not see it)
    banner_text: str = ""
    # this user may open a closed record in an emergency (breakglass.is_designated)
    break_glass_allowed: bool = False


def _care_team_exists(staff_id: int, client_id: int, today: date) -> Any:
    """SQL: the client is on this clinician's caseload (a current assignment) or attends a
    group they facilitate (one EXISTS ... OR EXISTS expression, for any query to carry)."""
    from sqlalchemy import exists

    from iopdesk.models import Attendance, ClinicSession, SessionFacilitator

    assigned = exists().where(
        col(TherapistAssignment.client_id) == client_id,
        col(TherapistAssignment.staff_id) == staff_id,
        col(TherapistAssignment.voided_at).is_(None),
        or_(
            col(TherapistAssignment.end_date).is_(None),
            col(TherapistAssignment.end_date) >= today,
        ),
    )
    facilitated = (
        sa_select(col(Attendance.id))
        .join(ClinicSession, col(ClinicSession.id) == col(Attendance.session_id))
        .join(SessionFacilitator, col(SessionFacilitator.session_id) == col(ClinicSession.id))
        .where(
            col(Attendance.client_id) == client_id,
            col(SessionFacilitator.staff_id) == staff_id,
        )
        .exists()
    )
    return or_(assigned, facilitated)


def _on_care_team(session: Session, actor: Actor, client_id: int) -> bool:
    """The client is on this clinician's caseload (a current assignment) or attends a group
    they facilitate."""
    if actor.staff_id is None:
        return False
    today = clinic_today(session)
    return bool(
        session.execute(sa_select(_care_team_exists(actor.staff_id, client_id, today))).scalar()
    )


def _care_team_client_ids(session: Session, actor: Actor) -> set[int]:
    """The clients whose whole chart this user sees beyond their role's sections: a
    therapist's caseload and groups (_on_care_team), and any open emergency access."""
    from iopdesk.models import Attendance, BreakGlassAccess, ClinicSession, SessionFacilitator
    from iopdesk.models import utcnow as _now

    ids: set[int] = set(
        session.exec(
            select(BreakGlassAccess.client_id).where(
                BreakGlassAccess.user_id == actor.user_id,
                col(BreakGlassAccess.expires_at) > _now(),
            )
        ).all()
    )
    if actor.staff_id is None or not actor.is_(Role.THERAPIST):
        return ids
    today = clock.current_today()
    ids.update(
        session.exec(
            select(TherapistAssignment.client_id).where(
                TherapistAssignment.staff_id == actor.staff_id,
                col(TherapistAssignment.voided_at).is_(None),
                or_(
                    col(TherapistAssignment.end_date).is_(None),
                    col(TherapistAssignment.end_date) >= today,
                ),
            )
        ).all()
    )
    ids.update(
        session.exec(
            select(Attendance.client_id)
            .join(ClinicSession, and_(ClinicSession.id == Attendance.session_id))  # type: ignore[arg-type]
            .join(SessionFacilitator, SessionFacilitator.session_id == ClinicSession.id)  # type: ignore[arg-type]
            .where(SessionFacilitator.staff_id == actor.staff_id)
            .distinct()
        ).all()
    )
    return ids


def can_view_clinical_in(session: Session, actor: Actor, client_id: int) -> bool:
    """Supervisors and admins: all clients. Therapists: their caseload and their groups.
    Anybody: a client they opened under emergency access."""
    if not has(actor, Perm.CLINICAL_VIEW):
        return _break_glass(session, actor, client_id)
    if actor.is_(Role.SUPERVISOR) or actor.is_(Role.ADMIN):
        return True
    return _on_care_team(session, actor, client_id) or _break_glass(session, actor, client_id)


def _can_view_clinical_from(
    session: Session, actor: Actor, client_id: int, access: ChartAccess
) -> bool:
    """can_view_clinical_in, answered from what chart_access_in already read (no query for
    the roles whose answer it holds)."""
    if access.emergency:
        return True
    if not has(actor, Perm.CLINICAL_VIEW):
        return False
    if actor.is_(Role.SUPERVISOR) or actor.is_(Role.ADMIN):
        return True
    if actor.is_(Role.THERAPIST):
        return access.on_care_team
    return _on_care_team(session, actor, client_id)


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


# Client columns left blank in a chart that does not show their section
_SECTION_FIELDS: dict[ChartSection, dict[str, Any]] = {
    ChartSection.DEMOGRAPHICS: {
        "middle_name": "",
        "pronouns": "",
        "dob": None,
        "sex": "",
        "primary_language": "",
        "referral_source": "",
        "admission_date": None,
        "discharge_date": None,
        "required_weekly_hours": None,
    },
    ChartSection.CONTACT: {
        "phone": "",
        "email": "",
        "address_line1": "",
        "address_line2": "",
        "city": "",
        "state": "",
        "postal_code": "",
    },
}


def _masked(client: Client, access: ChartAccess) -> Client:
    """A detached copy of the client row without the columns `access` hides."""
    values = {name: getattr(client, name) for name in Client.model_fields}
    for section, blanks in _SECTION_FIELDS.items():
        if not access.shows(section):
            values.update(blanks)
    copy = Client(**{k: v for k, v in values.items() if v is not None})
    for name, value in values.items():
        if value is None:
            setattr(copy, name, None)  # a hidden date of birth is None, not a date
    return copy


def _today_sessions(
    session: Session,
    client: Client,
    enrollments: Sequence[TrackEnrollment],
    on: date,
) -> list[ChartSession]:
    """The client's sessions on `on`: individual sessions booked for them, and the group
    sessions whose roster holds them (services.schedule.roster_ids_in, for one client: the
    track of the enrollment that owns the day, not discharged before it, plus the roster's
    own additions and removals). One query: the day's sessions with this client's roster
    changes joined."""
    from iopdesk.models import ClinicSession, RosterChange
    from iopdesk.models.enums import SessionKind

    client_id = client.id
    rows = session.execute(
        select(ClinicSession, Track.name, RosterChange.action)
        .outerjoin(Track, col(Track.id) == col(ClinicSession.track_id))
        .outerjoin(
            RosterChange,
            and_(
                col(RosterChange.session_id) == col(ClinicSession.id),
                col(RosterChange.client_id) == client_id,
            ),
        )
        .where(
            ClinicSession.session_date == on,
            or_(
                col(ClinicSession.client_id) == client_id,
                col(ClinicSession.kind) == SessionKind.GROUP.value,
            ),
        )
        .order_by(col(ClinicSession.start_time), col(ClinicSession.id), col(RosterChange.id))
    ).all()
    gone = client.discharge_date is not None and client.discharge_date < on
    owner: TrackEnrollment | None = None
    for e in enrollments:
        covers = e.start_date <= on and (e.end_date is None or e.end_date >= on)
        if covers and (
            owner is None or (e.start_date, e.id or 0) > (owner.start_date, owner.id or 0)
        ):
            owner = e
    name = f"{client.last_name}, {client.first_name}"
    picked: dict[int, tuple[Any, str, bool]] = {}
    for s, track_name, action in rows:
        sid = s.id or 0
        if s.kind == SessionKind.GROUP and s.track_id is not None:
            member = (
                picked[sid][2]
                if sid in picked
                else (not gone and owner is not None and owner.track_id == s.track_id)
            )
            if action == "remove":
                member = False
            elif action is not None and not gone:
                member = True
        else:
            member = s.client_id == client_id
        if s.kind == SessionKind.GROUP:
            title = track_name or "Group"
        else:
            title = f"{s.kind.title()}: {name}"
        picked[sid] = (s, title, member)
    return [
        ChartSession(
            s.id or 0,
            f"{s.start_time:%H:%M}",
            f"{s.end_time:%H:%M}",
            title,
            s.status.replace("_", " "),
        )
        for s, title, member in picked.values()
        if member
    ]


@service(
    Perm.CLIENT_VIEW,
    audit=Audited(
        audit.Action.OPEN_CHART,
        "client",
        entity_id=Arg("client_id"),
        client_id=Arg("client_id"),
    ),
)
def open_chart(session: Session, actor: Actor, client_id: int) -> ClientChart:
    """What the chart's header, risk banner and Overview show, minimum necessary for this
    user (chart_access_in): hidden sections are never read into the result. Opening a chart
    is audited. One short transaction of a fixed handful of statements (the chart's other
    tabs read their own sections when first shown)."""
    from iopdesk.models import BreakGlassAccess
    from iopdesk.models import utcnow as _now
    from iopdesk.services.safety import banner_in

    # the clinic's zone is read once per database (cached), before this session's statements
    db = database_of(session)
    today = today_of(db)
    zone = clinic_zone_name(db)
    # the client and whether this user holds an open emergency access, in one read
    emergency_q = (
        sa_select(func.count())
        .select_from(BreakGlassAccess)
        .where(
            col(BreakGlassAccess.user_id) == actor.user_id,
            col(BreakGlassAccess.client_id) == client_id,
            col(BreakGlassAccess.expires_at) > _now(),
        )
        .scalar_subquery()
    )
    session.info["clinic_tz"] = zone
    on_team_q: Any = sa_select(sa_literal(False)).scalar_subquery()
    if actor.is_(Role.THERAPIST) and actor.staff_id is not None:
        on_team_q = _care_team_exists(actor.staff_id, client_id, today)
    # the client, an open emergency access of this user and whether they are on the
    # client's care team: one read
    designated_q = (
        sa_select(col(User.break_glass_allowed))
        .where(col(User.id) == actor.user_id, col(User.active).is_(True))
        .scalar_subquery()
    )
    found = session.execute(
        sa_select(Client, emergency_q, on_team_q, designated_q).where(col(Client.id) == client_id)
    ).first()
    if found is None:
        raise NotFoundError("That client record does not exist.")
    client, emergency_count, on_team, designated = found
    access = chart_access_in(
        session,
        actor,
        client_id,
        emergency=bool(emergency_count),
        on_team=bool(on_team) and actor.is_(Role.THERAPIST),
    )
    chart = ClientChart(
        client=_masked(client, access), access=access, break_glass_allowed=bool(designated)
    )
    if access.shows(ChartSection.DIAGNOSES):
        chart.diagnoses = list(
            session.exec(
                select(Diagnosis)
                .where(Diagnosis.client_id == client_id, col(Diagnosis.voided_at).is_(None))
                .order_by(col(Diagnosis.is_primary).desc(), col(Diagnosis.sort_order))
            ).all()
        )
    if access.shows(ChartSection.EMERGENCY_CONTACTS):
        chart.contacts = list(
            session.exec(
                select(EmergencyContact).where(
                    EmergencyContact.client_id == client_id,
                    col(EmergencyContact.voided_at).is_(None),
                )
            ).all()
        )
    enrollments = [
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
    current = [
        name
        for e, name in enrollments
        if e.start_date <= today and (e.end_date is None or e.end_date >= today)
    ]
    chart.current_track = current[0] if current else ""
    if access.shows(ChartSection.DEMOGRAPHICS):
        chart.enrollments = enrollments  # the program history, with dates
    if access.shows(ChartSection.CARE_TEAM):
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
    if access.shows(ChartSection.INSURANCE):
        chart.coverage = [
            (c, name)
            for c, name in session.execute(
                select(Coverage, Payer.name)
                .join(Payer, Payer.id == Coverage.payer_id)  # type: ignore[arg-type]
                .where(Coverage.client_id == client_id, col(Coverage.voided_at).is_(None))
            )
        ]
    chart.today_sessions = _today_sessions(session, client, [e for e, _ in enrollments], today)
    chart.can_view_clinical = _can_view_clinical_from(session, actor, client_id, access)
    chart.banner_text = banner_in(session, actor, client_id, chart.can_view_clinical).text
    emergency = access.emergency
    hidden = ",".join(s.value for s in ChartSection if not access.shows(s))
    about(
        session,
        # opened under emergency access: flagged for the administrators' review
        flagged=emergency,
        detail="emergency access" if emergency else (f"hidden: {hidden}" if hidden else ""),
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
    # An hours override is dated: it applies through this day, then the track's hours again.
    required_hours_until: date | None = None
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
            normalized, _description = check_icd10(code)
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
    if data.required_weekly_hours is not None and data.required_hours_until is None:
        errors["required_hours_until"] = (
            "Give the last day of the hours override; after it the track's hours apply again."
        )
    if (
        data.required_hours_until is not None
        and data.admission_date is not None
        and data.required_hours_until < data.admission_date
    ):
        errors["required_hours_until"] = "The override ends before the admission date."
    if data.status in (ClientStatus.ACTIVE, ClientStatus.ON_HOLD):
        if data.track_id is None:
            errors["track_id"] = "An active client needs a program track."
        if data.admission_date is None:
            errors["admission_date"] = "An active client needs an admission date."
    if data.admission_date is not None and "dob" in values and data.admission_date < data.dob:
        errors["admission_date"] = "The admission date is before the date of birth."
    if data.admission_date is not None and data.admission_date > clock.current_today() + timedelta(
        days=365
    ):
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
    if data.required_weekly_hours is not None:
        values["required_hours_until"] = data.required_hours_until
        values["required_hours_reason"] = "set at intake"
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
    return "".join(ch for ch in fold(text) if ch.isalnum())


def _similar(a_first: str, a_last: str, b_first: str, b_last: str) -> bool:
    af, al, bf, bl = (_name_key(x) for x in (a_first, a_last, b_first, b_last))
    if al == bl and (af[:1] == bf[:1] or not af or not bf):
        return True
    if (af, al) == (bl, bf):  # first and last swapped
        return True
    ratio = difflib.SequenceMatcher(None, af + " " + al, bf + " " + bl).ratio()
    return ratio >= 0.8


@service(Perm.CENSUS_VIEW, read_only=True)
def find_possible_duplicates(
    session: Session,
    actor: Actor,
    first_name: str,
    last_name: str,
    dob: date,
    exclude_client_id: int | None = None,
) -> list[CensusRow]:
    """Clients with the same date of birth and a similar name, shown before saving."""
    same_dob = session.exec(select(Client).where(Client.dob == dob)).all()
    ids = [
        c.id
        for c in same_dob
        if c.id != exclude_client_id and _similar(first_name, last_name, c.first_name, c.last_name)
    ]
    if not ids:
        return []
    return list_census.in_session(session, actor, client_ids=[i for i in ids if i is not None])


@service(
    Perm.CLIENT_EDIT,
    audit=Audited(
        audit.Action.CREATE, "client", entity_id=lambda c: c.id, client_id=lambda c: c.id
    ),
)
def create_client(session: Session, actor: Actor, data: ClientInput) -> Client:
    """Register a client: record, first episode, status, diagnoses, contacts, coverage and,
    with a track, the enrollment. Part 2 is set automatically for substance-use tracks."""
    values, codes = _validate(data)
    today = clinic_today(session)
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
    )
    session.add(episode)
    session.flush()
    session.add(
        StatusChange(
            client_id=client.id,
            episode_id=episode.id,
            to_status=client.status,
            effective_date=admitted or today,
        )
    )
    for i, code in enumerate(codes):
        session.add(
            Diagnosis(
                client_id=client.id,
                icd10_code=code,
                description=icd10_description(code),
                is_primary=i == 0,
                sort_order=i,
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
            )
        )
    if data.payer_id is not None:
        session.add(
            Coverage(
                client_id=client.id,
                payer_id=data.payer_id,
                member_id=data.member_id.strip(),
                start_date=admitted,
            )
        )
    if track is not None:
        session.add(
            TrackEnrollment(
                client_id=client.id,
                episode_id=episode.id,
                track_id=track.id or 0,
                start_date=data.admission_date or today,
            )
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


@service(
    Perm.CLIENT_EDIT,
    audit=Audited(
        audit.Action.UPDATE, "client", entity_id=Arg("client_id"), client_id=Arg("client_id")
    ),
)
def change_status(
    session: Session,
    actor: Actor,
    client_id: int,
    expected_version: int,
    new_status: str,
    effective_date: date,
    reason: str = "",
    track_id: int | None = None,
) -> Client:
    """Move a client along referral -> intake -> active <-> on hold, recording the date."""
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
        session, actor, client_id, episode.id, old_status, new_status, effective_date, reason
    )
    about(session, detail=f"status {old_status}->{new_status}")
    return updated


@service(
    Perm.CLIENT_EDIT,
    audit=Audited(
        audit.Action.UPDATE, "client", entity_id=Arg("client_id"), client_id=Arg("client_id")
    ),
)
def readmit(
    session: Session,
    actor: Actor,
    client_id: int,
    expected_version: int,
    referral_date: date,
    reason: str = "",
) -> Client:
    """A discharged client returns: a new episode starts as a referral; history is kept."""
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
    )
    about(session, detail=f"readmitted episode {episode.episode_no}")
    return updated


@service(
    Perm.CLIENT_EDIT,
    audit=Audited(
        audit.Action.UPDATE, "client", entity_id=Arg("client_id"), client_id=Arg("client_id")
    ),
)
def discharge_basic(
    session: Session,
    actor: Actor,
    client_id: int,
    expected_version: int,
    discharge_date: date,
    reason: str = "",
) -> Client:
    """End the episode: status discharged, enrollments and assignments end on that date.
    (The guided discharge in services/discharge.py builds on end_episode_in.)"""
    updated, detail = _end_episode(
        session, actor, client_id, expected_version, discharge_date, reason
    )
    about(session, detail=detail)
    return updated


def end_episode_in(
    session: Session,
    actor: Actor,
    client_id: int,
    expected_version: int,
    discharge_date: date,
    reason: str = "",
) -> Client:
    """discharge_basic's work inside the caller's transaction (the caller checks permission).
    Its audit row is written here, by hand: the guided discharge (discharge.discharge_client)
    declares its own row and composes this one before it."""
    updated, detail = _end_episode(
        session, actor, client_id, expected_version, discharge_date, reason
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
    return updated


def _end_episode(
    session: Session,
    actor: Actor,
    client_id: int,
    expected_version: int,
    discharge_date: date,
    reason: str,
) -> tuple[Client, str]:
    """The episode ends: status discharged, open enrollments and assignments end; the audit
    row's detail is returned for the caller to write."""
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
        session, actor, client_id, episode.id, old_status, "discharged", discharge_date, reason
    )
    return updated, "status ->discharged"


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
) -> None:
    """One dated status-history row (its audit row, without PHI, is the caller's)."""
    session.add(
        StatusChange(
            client_id=client_id,
            episode_id=episode_id,
            from_status=from_status,
            to_status=to_status,
            effective_date=effective,
            reason=reason.strip(),
            created_by=actor.user_id,
        )
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


@service(
    Perm.CLIENT_EDIT,
    audit=Audited(
        audit.Action.UPDATE, "client", entity_id=Arg("client_id"), client_id=Arg("client_id")
    ),
)
def update_client(
    session: Session, actor: Actor, client_id: int, expected_version: int, changes: dict[str, Any]
) -> Client:
    """Save demographics; refused with 'changed on another workstation' if the record moved on."""
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
    client = update_versioned(
        session, actor, Client, client_id, expected_version, clean, what="This client's record"
    )
    about(session, detail="fields=" + ",".join(sorted(clean)))
    return client
