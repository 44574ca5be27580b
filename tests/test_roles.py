"""The role matrix: every service action x every role, allowed or refused as designed.

The expected matrix is written out here from the design (minimum necessary access), not read
from iopdesk.services.permissions:
- front desk: census, charts (demographics), client edits; no clinical content, no admin;
- therapist: the same plus clinical content of their own caseload;
- supervisor: clinical content of every client;
- billing: census and charts for billing, no client edits, no clinical content, no admin;
- admin: users, settings, audit log; may read clinical content but never write it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import select

from iopdesk.db import Database
from iopdesk.errors import PermissionDenied
from iopdesk.models import AuditEvent, Client, User
from iopdesk.models.enums import Role
from iopdesk.services import audit, auth, clients, clinic, notes, today
from iopdesk.services.actor import Actor
from iopdesk.services.permissions import ROLE_PERMISSIONS, Perm
from tests.conftest import Env, World

ROLES = ("front_desk", "therapist", "supervisor", "billing", "admin")
EVERYONE = frozenset(ROLES)
ADMIN_ONLY = frozenset({"admin"})
CHART_EDITORS = frozenset({"front_desk", "therapist", "supervisor", "admin"})
CLINICAL_READERS = frozenset({"therapist", "supervisor", "admin"})


def _version(db: Database, model: Any, record_id: int) -> int:
    with db.session() as s:
        return int(s.get(model, record_id).version)


Call = Callable[[World, Database, Actor], Any]

MATRIX: dict[str, tuple[Call, frozenset[str]]] = {
    "audit.list_events": (lambda w, db, a: audit.list_events(db, a), ADMIN_ONLY),
    "auth.add_user": (
        lambda w, db, a: auth.add_user(db, a, f"new.{a.username}", "a-new-password", "billing"),
        ADMIN_ONLY,
    ),
    "auth.list_users": (lambda w, db, a: auth.list_users(db, a), ADMIN_ONLY),
    "auth.set_user_access": (
        lambda w, db, a: auth.set_user_access(
            db, a, w.billing.user_id, _version(db, User, w.billing.user_id), active=True
        ),
        ADMIN_ONLY,
    ),
    "auth.reset_password": (
        lambda w, db, a: auth.reset_password(db, a, w.billing.user_id, "temporary-pass-1"),
        ADMIN_ONLY,
    ),
    "clinic.update_clinic": (
        lambda w, db, a: clinic.update_clinic(
            db, a, clinic.get_clinic(db).version, {"phone": "(555) 000-1111"}
        ),
        ADMIN_ONLY,
    ),
    "clinic.set_setting": (
        lambda w, db, a: clinic.set_setting(db, a, "inactivity_lock_minutes", 10),
        ADMIN_ONLY,
    ),
    "clients.list_census": (lambda w, db, a: clients.list_census(db, a), EVERYONE),
    "clients.open_chart": (lambda w, db, a: clients.open_chart(db, a, w.client_own), EVERYONE),
    "clients.create_client": (
        lambda w, db, a: clients.create_client(
            db, a, clients.ClientInput("Role", f"Test {a.username}", date(1990, 1, 1))
        ),
        CHART_EDITORS,
    ),
    "clients.update_client": (
        lambda w, db, a: clients.update_client(
            db, a, w.client_own, _version(db, Client, w.client_own), {"city": "Toledo"}
        ),
        CHART_EDITORS,
    ),
    "notes.list_note_headers": (
        lambda w, db, a: notes.list_note_headers(db, a, w.client_own),
        EVERYONE,
    ),
    "notes.read_note": (lambda w, db, a: notes.read_note(db, a, w.note_own), CLINICAL_READERS),
    "today.summary": (lambda w, db, a: today.summary(db, a), EVERYONE),
}


def state(db: Database) -> tuple[Any, ...]:
    """Everything a refused call must leave as it was."""
    with db.engine.connect() as conn:
        return tuple(
            conn.execute(text(sql)).all()
            for sql in (
                "SELECT count(*) FROM audit_event",
                "SELECT id, version, city, last_name FROM client ORDER BY id",
                "SELECT id, version, password_hash, active FROM app_user ORDER BY id",
                "SELECT key, value FROM setting ORDER BY key",
                "SELECT version, phone FROM clinic",
            )
        )


@pytest.mark.parametrize("action", list(MATRIX))
def test_role_matrix(env: Env, action: str) -> None:
    call, allowed = MATRIX[action]
    wrong: list[str] = []
    for role, actor in env.world.actors().items():
        before = state(env.db)
        try:
            call(env.world, env.db, actor)
        except PermissionDenied as exc:
            assert exc.message and "\n" not in exc.message
            if state(env.db) != before:
                wrong.append(f"{role}: refused, but the call changed the database")
            if role in allowed:
                wrong.append(f"{role}: refused ({exc.message}) but should be allowed")
        else:
            if role not in allowed:
                wrong.append(f"{role}: allowed but should be refused")
    assert not wrong, f"{action}: " + "; ".join(wrong)


def test_matrix_covers_every_role() -> None:
    assert {r.value for r in Role} == set(ROLES)


def test_permission_table_agrees_with_the_design() -> None:
    """Spot checks of the permission table against the designed access."""

    def holders(perm: Perm) -> set[str]:
        return {role.value for role, perms in ROLE_PERMISSIONS.items() if perm in perms}

    assert set(ROLE_PERMISSIONS) == set(Role)
    assert holders(Perm.CLINICAL_VIEW) == CLINICAL_READERS
    assert holders(Perm.CLINICAL_WRITE) == {"therapist", "supervisor"}  # admin: no clinical write
    assert holders(Perm.NOTE_COSIGN) == {"supervisor"}
    for perm in (Perm.USERS_MANAGE, Perm.SETTINGS_MANAGE, Perm.AUDIT_VIEW):
        assert holders(perm) == ADMIN_ONLY, perm
    assert holders(Perm.BILLING_EXPORT) == {"billing", "admin"}
    assert holders(Perm.CLIENT_EDIT) == CHART_EDITORS
    assert holders(Perm.CENSUS_VIEW) == holders(Perm.CLIENT_VIEW) == EVERYONE


# -- clinical content: caseload and minimum necessary --------------------------------------


def test_therapist_reads_own_caseload_only_and_denial_is_audited(env: Env) -> None:
    w = env.world
    own = notes.read_note(env.db, w.therapist, w.note_own)
    assert own.sections["Data"] == "SECRET-NOTE-TEXT"
    assert clients.open_chart(env.db, w.therapist, w.client_own).can_view_clinical
    assert not clients.open_chart(env.db, w.therapist, w.client_other).can_view_clinical

    with pytest.raises(PermissionDenied) as caught:
        notes.read_note(env.db, w.therapist, w.note_other)
    assert "caseload" in caught.value.message
    with env.db.session() as s:
        denied = s.exec(select(AuditEvent).where(AuditEvent.action == "permission_denied")).all()
    assert [(e.user_id, e.entity, e.entity_id, e.client_id) for e in denied] == [
        (w.therapist.user_id, "note", str(w.note_other), w.client_other)
    ]
    assert audit.verify(env.db).ok


def test_supervisor_and_admin_read_every_client(env: Env) -> None:
    w = env.world
    for actor in (w.supervisor, w.admin):
        for note_id, client_id in ((w.note_own, w.client_own), (w.note_other, w.client_other)):
            content = notes.read_note(env.db, actor, note_id)
            assert content.header.client_id == client_id
            assert content.sections["Data"] == "SECRET-NOTE-TEXT"


@pytest.mark.parametrize("role", ["front_desk", "billing"])
def test_front_desk_and_billing_never_receive_note_content(env: Env, role: str) -> None:
    w = env.world
    actor = w.actors()[role]
    for note_id in (w.note_own, w.note_other):
        with pytest.raises(PermissionDenied) as caught:
            notes.read_note(env.db, actor, note_id)
        assert "clinical" in caught.value.message
    for client_id in (w.client_own, w.client_other):
        headers = notes.list_note_headers(env.db, actor, client_id)
        assert len(headers) == 1
        header = headers[0]
        for attr in ("sections", "content", "content_json", "safety_plan", "header"):
            assert not hasattr(header, attr), attr
        assert "SECRET-NOTE-TEXT" not in repr(dataclasses.asdict(header))
        assert not clients.open_chart(env.db, actor, client_id).can_view_clinical


def test_today_summary_shows_each_role_only_its_own_counts(env: Env) -> None:
    w = env.world
    fd = today.summary(env.db, w.front_desk)
    assert fd.my_unsigned_notes is None and fd.locked_accounts is None
    assert today.summary(env.db, w.billing).locked_accounts is None
    assert today.summary(env.db, w.therapist).my_unsigned_notes == 0
    adm = today.summary(env.db, w.admin)
    assert adm.locked_accounts == 0 and adm.my_unsigned_notes is None


# -- minimum necessary in the chart: role x chart field (issue 16) -------------------------

PHI = {  # what the test client's chart holds, by field
    "dob": None,
    "phone": "555-0142",
    "address": "12 Elm Street",
    "emergency_contacts": "Marta Teen",
    "insurance": "MCD-77812",
    "diagnoses": "F12.20",
}
SCHEDULING = frozenset({"name", "preferred_name", "mrn", "track", "status", "today_sessions"})
ALL_FIELDS = SCHEDULING | frozenset(
    {
        "dob",
        "phone",
        "address",
        "emergency_contacts",
        "insurance",
        "diagnoses",
        "care_team",
        "attendance",
        "notes",
        "plans",
        "aftercare",
        "discharge",
        "privacy",
    }
)
EXPECTED_FIELDS: dict[str, frozenset[str]] = {
    "front_desk": SCHEDULING
    | {"dob", "phone", "address", "emergency_contacts", "insurance", "care_team"}
    | {"attendance", "privacy"},
    "therapist_on_caseload": ALL_FIELDS,
    "therapist_off_caseload": SCHEDULING,
    "supervisor": ALL_FIELDS,
    "billing": SCHEDULING
    | {"dob", "phone", "address", "insurance", "care_team", "attendance", "diagnoses"}
    | {"privacy"},
    "admin": ALL_FIELDS,
    "emergency_access": ALL_FIELDS,  # the off-caseload therapist, after breaking the glass
}


@dataclasses.dataclass(frozen=True)
class Teen:
    client_id: int
    note_id: int
    other_therapist: Actor  # the teen's primary therapist
    aftercare_plan: int  # a draft


def _teen_on_another_caseload(env: Env) -> Teen:
    """Issue 16's case: a 16-year-old Part 2 client on another therapist's caseload, with an
    address, a Medicaid ID, F12.20, an emergency contact, a group today and a note."""
    import datetime as dt
    import hashlib
    import json

    from iopdesk.models import ClinicSession, Note, Payer, Staff, TherapistAssignment, Track

    w, db = env.world, env.db
    today_ = date.today()
    with db.session() as s:
        track = Track(track_code="ASUD", name="Adolescent SUD IOP", is_sud=True)
        payer = Payer(payer_code="MCD", name="Prairie State Medicaid")
        s.add_all([track, payer])
        s.flush()
        track_id, payer_id = track.id, payer.id
        t2 = s.exec(select(Staff).where(Staff.staff_code == "T2")).one()
        t2_id = t2.id
    teen = clients.create_client(
        db,
        w.admin,
        clients.ClientInput(
            "Tina",
            "Teen",
            date(today_.year - 16, 1, 15),
            preferred_name="Tee",
            phone="(217) 555-0142",
            address_line1="12 Elm Street",
            city="Springfield",
            state="IL",
            postal_code="62701",
            diagnoses=["F12.20"],
            emergency_contacts=[clients.ContactInput("Marta Teen", "mother", "(217) 555-0199")],
            payer_id=payer_id,
            member_id="MCD-77812",
            track_id=track_id,
            status="active",
            admission_date=today_ - dt.timedelta(days=10),
        ),
    )
    assert teen.id is not None and teen.part2
    with db.session() as s:
        s.add(TherapistAssignment(client_id=teen.id, staff_id=t2_id, start_date=today_))
        s.add(
            ClinicSession(
                kind="group",
                track_id=track_id,
                session_date=today_,
                start_time=dt.time(17, 0),
                end_time=dt.time(20, 0),
            )
        )
        content = json.dumps({"Data": "TEEN-NOTE-TEXT", "Assessment": "a", "Plan": "p"})
        note = Note(
            client_id=teen.id,
            author_staff_id=t2_id,
            format="DAP",
            service_date=today_,
            content_json=content,
            status="signed",
            content_sha256=hashlib.sha256(content.encode()).hexdigest(),
        )
        s.add(note)
        s.flush()
        note_id = note.id or 0
    info = auth.add_user(db, w.admin, "therapist2", "correct-horse-battery", "therapist", "", t2_id)
    other = Actor(info.id, info.username, info.display_name, info.roles, info.staff_id)
    from iopdesk.services import aftercare

    plan_id = aftercare.create_plan(db, other, teen.id)
    return Teen(teen.id, note_id, other, plan_id)


def _fields_seen(db: Database, actor: Actor, teen: Teen) -> set[str]:
    """Every field of the chart the services hand to this user."""
    from iopdesk.services import aftercare, consents, discharge, hours, plans

    chart = clients.open_chart(db, actor, teen.client_id)
    c = chart.client
    seen = {
        name
        for name, present in (
            ("name", c.first_name == "Tina" and c.last_name == "Teen"),
            ("preferred_name", c.preferred_name == "Tee"),
            ("mrn", bool(c.mrn)),
            ("track", chart.current_track == "Adolescent SUD IOP"),
            ("status", c.status == "active"),
            ("today_sessions", [s.title for s in chart.today_sessions] == ["Adolescent SUD IOP"]),
            ("dob", c.dob is not None),
            ("phone", "555-0142" in c.phone),
            ("address", c.address_line1 == "12 Elm Street" and c.postal_code == "62701"),
            ("emergency_contacts", [e.name for e in chart.contacts] == ["Marta Teen"]),
            ("insurance", [cov.member_id for cov, _ in chart.coverage] == ["MCD-77812"]),
            ("diagnoses", [d.icd10_code for d in chart.diagnoses] == ["F12.20"]),
            ("care_team", len(chart.assignments) == 1),
        )
        if present
    }
    # what is hidden never reaches the caller, not even inside the returned objects
    dumped = repr(chart) + repr(c.model_dump())
    for name, text_ in PHI.items():
        if text_ is not None and name not in seen:
            assert text_ not in dumped, (actor.username, name)
    for section in clients.ChartSection:  # every hidden section is explained in words
        if not chart.access.shows(section):
            assert len(chart.access.reason(section)) > 40, section
    reads: dict[str, Callable[[], object]] = {
        "attendance": lambda: hours.client_history(db, actor, teen.client_id),
        "notes": lambda: notes.read_note(db, actor, teen.note_id),
        "plans": lambda: plans.list_plans(db, actor, teen.client_id),
        "aftercare": lambda: aftercare.get_plan(db, actor, teen.aftercare_plan),
        "discharge": lambda: discharge.list_discharges(db, actor, teen.client_id),
        "privacy": lambda: consents.list_consents(db, actor, teen.client_id),
    }
    for name, read in reads.items():
        try:
            result = read()
        except PermissionDenied as exc:
            assert exc.message and "TEEN-NOTE-TEXT" not in exc.message
            continue
        if name == "notes":
            assert result.sections["Data"] == "TEEN-NOTE-TEXT"  # type: ignore[attr-defined]
        seen.add(name)
    return seen


@pytest.mark.parametrize("who", list(EXPECTED_FIELDS))
def test_role_by_chart_field_matrix(env: Env, who: str) -> None:
    """Issue 16, minimum necessary: exactly these fields of a chart reach each user."""
    from iopdesk.services import breakglass

    w = env.world
    teen = _teen_on_another_caseload(env)
    actor = {
        "front_desk": w.front_desk,
        "therapist_on_caseload": teen.other_therapist,
        "therapist_off_caseload": w.therapist,
        "supervisor": w.supervisor,
        "billing": w.billing,
        "admin": w.admin,
        "emergency_access": w.therapist,
    }[who]
    if who == "emergency_access":
        breakglass.set_designated(env.db, w.admin, w.therapist.user_id, True)
        breakglass.start(env.db, w.therapist, teen.client_id, "client in crisis in the lobby")
    seen = _fields_seen(env.db, actor, teen)
    assert seen == EXPECTED_FIELDS[who], sorted(seen ^ EXPECTED_FIELDS[who])
    (row,) = clients.list_census(env.db, actor, client_ids=[teen.client_id])
    census_hides = "dob" not in seen
    assert (row.dob is None) == census_hides and (row.phone == "") == ("phone" not in seen)
    assert (row.payer == "") == ("insurance" not in seen)
    assert row.mrn and row.track == "Adolescent SUD IOP" and row.status == "active"


def test_off_caseload_therapist_sees_scheduling_only_and_refusals_are_audited(env: Env) -> None:
    """Issue 16, seen 4: a therapist opened another therapist's 16-year-old Part 2 client and
    saw the address, the Medicaid ID and F12.20."""
    from iopdesk.services import hours
    from iopdesk.services.clock import today_of as clinic_today_of
    from iopdesk.services.weekdetail import week_detail

    w = env.world
    teen = _teen_on_another_caseload(env)
    chart = clients.open_chart(env.db, w.therapist, teen.client_id)
    assert chart.client.address_line1 == "" and chart.client.phone == ""
    assert chart.coverage == [] and chart.diagnoses == [] and chart.contacts == []
    assert not chart.can_view_clinical
    reason = chart.access.reason(clients.ChartSection.DIAGNOSES)
    assert "not on your caseload" in reason and "Ask" in reason
    with pytest.raises(PermissionDenied, match="not on your caseload"):
        hours.client_history(env.db, w.therapist, teen.client_id)
    # the chart's Attendance tab and a week explained session by session are the same section
    with pytest.raises(PermissionDenied, match="not on your caseload"):
        hours.client_attendance(env.db, w.therapist, teen.client_id)
    with pytest.raises(PermissionDenied, match="not on your caseload"):
        week_detail(env.db, w.therapist, teen.client_id, clinic_today_of(env.db))
    with env.db.session() as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.client_id == teen.client_id)).all()
    opened = [e for e in events if e.action == "open_chart"]
    assert opened[-1].user_id == w.therapist.user_id and "diagnoses" in opened[-1].detail
    denied = [e for e in events if e.action == "permission_denied"]
    assert denied[-1].detail == "minimum necessary: attendance"
    assert "Tina" not in opened[-1].detail + denied[-1].detail
    # a designated user is told about emergency access instead of "ask"
    from iopdesk.services import breakglass

    breakglass.set_designated(env.db, w.admin, w.therapist.user_id, True)
    again = clients.open_chart(env.db, w.therapist, teen.client_id).access
    assert "Emergency access" in again.reason(clients.ChartSection.DIAGNOSES)
