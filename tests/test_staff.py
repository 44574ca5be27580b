"""Staff records, NPI and license checks, assignments with history, caseloads."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from iopdesk.errors import PermissionDenied, StaleRecordError, ValidationError
from iopdesk.services import clients, staff
from iopdesk.services.clients import ClientInput
from iopdesk.services.staff import StaffInput

VALID_NPI = "1234567893"  # CMS's published example
TODAY = date.today()


def new_staff(env, code: str, **kw) -> staff.StaffInfo:
    kw.setdefault("credentials", "LPC")
    data = StaffInput(
        staff_code=code, first_name=kw.pop("first", code), last_name="Clinician", **kw
    )
    return staff.create_staff(env.db, env.world.admin, data)


def new_client(env, name: str) -> int:
    c = clients.create_client(
        env.db, env.world.admin, ClientInput(name, "Client", date(1990, 1, 1))
    )
    assert c.id is not None
    return c.id


def test_npi_check_digit_and_field_messages(env):
    with pytest.raises(ValidationError) as info:
        new_staff(env, "X1", npi="1234567890")
    assert "NPI" in info.value.fields["npi"]
    info2 = new_staff(env, "X1", npi=VALID_NPI)
    assert info2.npi == VALID_NPI
    with pytest.raises(ValidationError) as dup:
        new_staff(env, "X1")
    assert dup.value.fields == {"staff_code": "Already used."}


def test_supervisee_needs_a_supervisor(env):
    with pytest.raises(ValidationError) as info:
        new_staff(env, "A1", is_supervisee=True)
    assert "supervisor_id" in info.value.fields
    sup = new_staff(env, "S9", first="Sue")
    assoc = new_staff(
        env, "A1", is_supervisee=True, supervisor_id=sup.id, credentials="LPC-Associate"
    )
    assert assoc.supervisor == "Sue Clinician"
    with pytest.raises(ValidationError):
        staff.update_staff(
            env.db,
            env.world.admin,
            sup.id,
            sup.version,
            StaffInput("S9", "Sue", "Clinician", supervisor_id=sup.id),
            active=True,
        )


@pytest.mark.parametrize(
    ("expiry", "expected"),
    [
        (None, ""),
        (TODAY + timedelta(days=120), ""),
        (TODAY + timedelta(days=30), "License expires in 30 days"),
        (TODAY + timedelta(days=1), "License expires in 1 day "),
        (TODAY - timedelta(days=2), "License expired on"),
    ],
)
def test_license_warning(expiry, expected):
    text = staff.license_warning(expiry, TODAY)
    assert text.startswith(expected) if expected else text == ""


def test_expiring_licenses_listed_and_edit_is_versioned(env):
    s = new_staff(env, "L1", license_expiry=TODAY + timedelta(days=10))
    assert [x.id for x in staff.expiring_licenses(env.db, env.world.admin)] == [s.id]
    updated = staff.update_staff(
        env.db,
        env.world.admin,
        s.id,
        s.version,
        StaffInput("L1", "L1", "Clinician", license_expiry=TODAY + timedelta(days=400)),
        active=True,
    )
    assert staff.expiring_licenses(env.db, env.world.admin) == []
    with pytest.raises(StaleRecordError):  # a second workstation still holds the old version
        staff.update_staff(
            env.db,
            env.world.supervisor,
            s.id,
            s.version,
            StaffInput("L1", "L1", "Other"),
            active=True,
        )
    assert updated.version == s.version + 1


def test_staff_management_is_for_supervisors_and_admins(env):
    for actor in (env.world.front_desk, env.world.therapist, env.world.billing):
        with pytest.raises(PermissionDenied):
            staff.create_staff(env.db, actor, StaffInput("Z1", "Z", "Z"))
    assert new_staff(env, "Z2").staff_code == "Z2"


def test_link_user_account(env):
    s = new_staff(env, "FD1")
    staff.link_user(env.db, env.world.admin, env.world.front_desk.user_id, s.id)
    linked = {x.staff_code: x.username for x in staff.list_staff(env.db, env.world.admin)}
    assert linked["FD1"] == "frontdesk"
    with pytest.raises(ValidationError):  # one staff record, one account
        staff.link_user(env.db, env.world.admin, env.world.billing.user_id, s.id)


def test_assign_reassign_keeps_history_and_moves_caseload(env):
    a = new_staff(env, "T8", first="Alice")
    b = new_staff(env, "T9", first="Bob")
    cid = new_client(env, "Casey")
    start = TODAY - timedelta(days=20)
    staff.assign(env.db, env.world.supervisor, cid, a.id, "primary_therapist", start)

    def counts() -> dict[str, int]:
        return {
            c.name: c.counts.get("primary_therapist", 0)
            for c in staff.caseload_counts(env.db, env.world.admin)
        }

    assert counts().get("Alice Clinician") == 1 and "Bob Clinician" not in counts()
    assert [r.id for r in staff.caseload(env.db, env.world.admin, a.id)] == [cid]
    staff.assign(env.db, env.world.supervisor, cid, b.id, "primary_therapist", TODAY)
    assert counts().get("Bob Clinician") == 1 and "Alice Clinician" not in counts()
    assert staff.caseload(env.db, env.world.admin, a.id) == []
    history = staff.assignments_for(env.db, env.world.front_desk, cid)
    assert [(h.staff_id, h.start_date, h.end_date) for h in history] == [
        (b.id, TODAY, None),
        (a.id, start, TODAY - timedelta(days=1)),
    ]
    assert history[0].current() and not history[1].current()
    # The census shows the new primary therapist.
    assert clients.list_census(env.db, env.world.admin, search="Casey")[0].therapist.startswith(
        "Bob Clinician"
    )


def test_same_day_correction_voids_the_mistake(env):
    a = new_staff(env, "T8", first="Alice")
    b = new_staff(env, "T9", first="Bob")
    cid = new_client(env, "Casey")
    staff.assign(env.db, env.world.supervisor, cid, a.id, "case_manager", TODAY)
    staff.assign(env.db, env.world.supervisor, cid, b.id, "case_manager", TODAY)
    history = staff.assignments_for(env.db, env.world.admin, cid)
    assert [h.staff_id for h in history if h.role == "case_manager"] == [b.id]
    with pytest.raises(ValidationError):
        staff.assign(env.db, env.world.supervisor, cid, b.id, "case_manager", TODAY)


def test_roles_are_independent_and_assignment_needs_permission(env):
    a = new_staff(env, "T8", first="Alice")
    p = new_staff(env, "P1", first="Pat", credentials="MD")
    cid = new_client(env, "Casey")
    staff.assign(env.db, env.world.supervisor, cid, a.id, "primary_therapist", TODAY)
    staff.assign(env.db, env.world.admin, cid, p.id, "psychiatrist", TODAY)
    roles = {h.role for h in staff.assignments_for(env.db, env.world.admin, cid) if h.current()}
    assert roles == {"primary_therapist", "psychiatrist"}
    for actor in (env.world.front_desk, env.world.therapist, env.world.billing):
        with pytest.raises(PermissionDenied):
            staff.assign(env.db, actor, cid, a.id, "case_manager", TODAY)


def test_therapist_clinical_access_follows_assignment(env):
    from iopdesk.services import notes

    w = env.world
    t_staff = w.therapist.staff_id
    # The therapist reads notes of client_own (assigned in the fixture) but not client_other.
    notes.read_note(env.db, w.therapist, w.note_own)
    with pytest.raises(PermissionDenied):
        notes.read_note(env.db, w.therapist, w.note_other)
    staff.assign(env.db, w.supervisor, w.client_other, t_staff, "primary_therapist", TODAY)
    assert notes.read_note(env.db, w.therapist, w.note_other).sections["Data"]
