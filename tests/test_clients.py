"""Client registry: intake validation, MRN, duplicates, Part 2, status flow, readmission."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from iopdesk.errors import StaleRecordError, ValidationError
from iopdesk.models import (
    Client,
    Coverage,
    Diagnosis,
    EmergencyContact,
    Episode,
    Payer,
    StatusChange,
    TherapistAssignment,
    Track,
    TrackEnrollment,
)
from iopdesk.services import clients
from iopdesk.services.clients import ClientInput, ContactInput


@pytest.fixture
def setup(env):
    with env.db.session() as s:
        sud = Track(track_code="SUD", name="Adult SUD Evening IOP", is_sud=True)
        mh = Track(track_code="MH", name="Adult MH Day IOP", is_sud=False)
        payer = Payer(payer_code="MCD", name="State Medicaid", billing_mode="per_diem")
        s.add_all([sud, mh, payer])
        s.flush()
        ids = sud.id, mh.id, payer.id
    return env, *ids


def intake(**kw) -> ClientInput:
    base = dict(first_name="Ana", last_name="Nguyễn", dob=date(1990, 4, 5))
    base.update(kw)
    return ClientInput(**base)


def test_full_intake_creates_every_part(setup):
    env, sud, _mh, payer = setup
    data = intake(
        preferred_name="Annie",
        pronouns="she/her",
        phone="555 123 4567",
        email="ana@example.org",
        status="active",
        track_id=sud,
        admission_date=date(2026, 11, 2),
        diagnoses=["f1020", "F41.1"],
        payer_id=payer,
        member_id="MCD-001",
        required_weekly_hours=Decimal("6"),
        required_hours_until=date(2026, 11, 15),
        emergency_contacts=[ContactInput("Binh Nguyễn", "Brother", "(555) 222-3333")],
    )
    client = clients.create_client(env.db, env.world.front_desk, data)
    assert client.mrn.startswith("M") and len(client.mrn) == 7
    assert client.part2 is True  # SUD track -> 42 CFR Part 2
    assert client.phone == "(555) 123-4567"
    assert client.status == "active" and client.admission_date == date(2026, 11, 2)
    with env.db.session() as s:
        dx = s.exec(select(Diagnosis).where(Diagnosis.client_id == client.id)).all()
        assert [(d.icd10_code, d.is_primary) for d in sorted(dx, key=lambda d: d.sort_order)] == [
            ("F10.20", True),
            ("F41.1", False),
        ]
        enr = s.exec(select(TrackEnrollment).where(TrackEnrollment.client_id == client.id)).one()
        assert (enr.track_id, enr.start_date, enr.end_date) == (sud, date(2026, 11, 2), None)
        cov = s.exec(select(Coverage).where(Coverage.client_id == client.id)).one()
        assert (cov.payer_id, cov.member_id) == (payer, "MCD-001")
        contact = s.exec(
            select(EmergencyContact).where(EmergencyContact.client_id == client.id)
        ).one()
        assert contact.name == "Binh Nguyễn" and contact.is_primary
        assert s.exec(select(Episode).where(Episode.client_id == client.id)).one().episode_no == 1
    row = clients.list_census(env.db, env.world.front_desk, search="nguy")[0]
    assert (row.track, row.payer, row.status) == (
        "Adult SUD Evening IOP",
        "State Medicaid",
        "active",
    )


def test_mental_health_track_is_not_part2(setup):
    env, _sud, mh, _payer = setup
    client = clients.create_client(
        env.db, env.world.admin, intake(status="active", track_id=mh, admission_date=date.today())
    )
    assert client.part2 is False


def test_field_level_messages_for_every_bad_field(setup):
    env, *_ = setup
    bad = intake(
        first_name=" ",
        dob=date.today() + timedelta(days=1),
        phone="12345",
        email="not-an-email",
        diagnoses=["F10.20", "XYZ"],
        status="active",
        member_id="123",
        emergency_contacts=[ContactInput("", "", "1")],
    )
    with pytest.raises(ValidationError) as info:
        clients.create_client(env.db, env.world.front_desk, bad)
    fields = info.value.fields
    assert fields["first_name"] == "Required."
    assert "future" in fields["dob"]
    assert "10-digit" in fields["phone"]
    assert "e-mail" in fields["email"]
    assert "'XYZ' is not an ICD-10-CM code" in fields["diagnoses"]
    assert "track" in fields["track_id"] and "admission" in fields["admission_date"]
    assert "payer" in fields["payer_id"]
    assert "emergency_contacts.0.name" in fields and "emergency_contacts.0.phone" in fields
    assert clients.list_census(env.db, env.world.admin, search="Nguy") == []  # nothing saved


def test_mrns_are_sequential_and_unique(setup):
    env, *_ = setup
    a = clients.create_client(env.db, env.world.admin, intake(first_name="A"))
    b = clients.create_client(env.db, env.world.admin, intake(first_name="B", last_name="Other"))
    assert int(b.mrn[1:]) == int(a.mrn[1:]) + 1
    with pytest.raises(ValidationError) as info:
        clients.create_client(env.db, env.world.admin, intake(mrn=a.mrn, first_name="C"))
    assert info.value.fields == {"mrn": "Already used."}


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("Ana", "Nguyen", True),  # accent-insensitive
        ("Anna", "Nguyễn", True),  # same last name, same initial
        ("Nguyễn", "Ana", True),  # swapped
        ("Ana", "Ngyuen", True),  # typo
        ("Zed", "Smith", False),
    ],
)
def test_possible_duplicates_same_dob_similar_name(setup, first, last, expected):
    env, *_ = setup
    existing = clients.create_client(env.db, env.world.admin, intake())
    found = clients.find_possible_duplicates(
        env.db, env.world.front_desk, first, last, date(1990, 4, 5)
    )
    assert ([r.id for r in found] == [existing.id]) is expected
    # A different date of birth is never a duplicate.
    assert (
        clients.find_possible_duplicates(
            env.db, env.world.front_desk, first, last, date(1990, 4, 6)
        )
        == []
    )


def test_status_flow_with_dates_and_history(setup):
    env, sud, _mh, _payer = setup
    actor = env.world.front_desk
    c = clients.create_client(env.db, actor, intake())
    assert c.status == "referral"
    c = clients.change_status(env.db, actor, c.id, c.version, "intake", date(2026, 11, 1))
    with pytest.raises(ValidationError) as info:  # admitting needs a track
        clients.change_status(env.db, actor, c.id, c.version, "active", date(2026, 11, 3))
    assert "track" in info.value.message
    c = clients.change_status(
        env.db, actor, c.id, c.version, "active", date(2026, 11, 3), track_id=sud
    )
    assert (c.status, c.admission_date, c.part2) == ("active", date(2026, 11, 3), True)
    c = clients.change_status(
        env.db, actor, c.id, c.version, "on_hold", date(2026, 11, 10), reason="hospitalized"
    )
    c = clients.change_status(env.db, actor, c.id, c.version, "active", date(2026, 11, 14))
    with pytest.raises(ValidationError):
        clients.change_status(env.db, actor, c.id, c.version, "referral", date(2026, 11, 15))
    with env.db.session() as s:
        changes = s.exec(
            select(StatusChange).where(StatusChange.client_id == c.id).order_by(StatusChange.id)
        ).all()
        assert [(x.from_status, x.to_status, x.effective_date) for x in changes] == [
            (None, "referral", date.today()),
            ("referral", "intake", date(2026, 11, 1)),
            ("intake", "active", date(2026, 11, 3)),
            ("active", "on_hold", date(2026, 11, 10)),
            ("on_hold", "active", date(2026, 11, 14)),
        ]
        episode = s.exec(select(Episode).where(Episode.client_id == c.id)).one()
        assert (episode.intake_date, episode.admission_date) == (
            date(2026, 11, 1),
            date(2026, 11, 3),
        )


def test_stale_status_change_is_refused(setup):
    env, *_ = setup
    c = clients.create_client(env.db, env.world.admin, intake())
    clients.change_status(env.db, env.world.admin, c.id, c.version, "intake", date.today())
    with pytest.raises(StaleRecordError):
        clients.change_status(env.db, env.world.front_desk, c.id, c.version, "intake", date.today())


def test_discharge_then_readmission_keeps_history(setup):
    env, sud, mh, _payer = setup
    actor = env.world.admin
    c = clients.create_client(
        env.db, actor, intake(status="active", track_id=sud, admission_date=date(2026, 9, 1))
    )
    with env.db.session() as s:
        s.add(TherapistAssignment(client_id=c.id, staff_id=1, start_date=date(2026, 9, 1)))
    c = clients.discharge_basic(env.db, actor, c.id, c.version, date(2026, 10, 15), "completed")
    assert (c.status, c.discharge_date) == ("discharged", date(2026, 10, 15))
    with env.db.session() as s:
        enr = s.exec(select(TrackEnrollment).where(TrackEnrollment.client_id == c.id)).one()
        asg = s.exec(select(TherapistAssignment).where(TherapistAssignment.client_id == c.id)).one()
        assert enr.end_date == asg.end_date == date(2026, 10, 15)
    with pytest.raises(ValidationError):
        clients.change_status(env.db, actor, c.id, c.version, "active", date(2026, 11, 1))
    c = clients.readmit(env.db, actor, c.id, c.version, date(2026, 11, 20))
    assert (c.status, c.admission_date, c.discharge_date) == ("referral", None, None)
    c = clients.change_status(
        env.db, actor, c.id, c.version, "active", date(2026, 11, 23), track_id=mh
    )
    with env.db.session() as s:
        episodes = s.exec(
            select(Episode).where(Episode.client_id == c.id).order_by(Episode.id)
        ).all()
        assert [(e.episode_no, e.admission_date, e.discharge_date) for e in episodes] == [
            (1, date(2026, 9, 1), date(2026, 10, 15)),
            (2, date(2026, 11, 23), None),
        ]
        enrollments = s.exec(
            select(TrackEnrollment)
            .where(TrackEnrollment.client_id == c.id)
            .order_by(TrackEnrollment.id)
        ).all()
        assert [(e.track_id, e.end_date) for e in enrollments] == [
            (sud, date(2026, 10, 15)),
            (mh, None),
        ]
        assert s.get(Client, c.id).part2 is True  # once Part 2, the record stays Part 2
    row = clients.list_census(env.db, actor, search=c.mrn)[0]
    assert row.track == "Adult MH Day IOP"


def test_census_filters(setup):
    env, sud, mh, payer = setup
    actor = env.world.admin
    a = clients.create_client(
        env.db,
        actor,
        intake(
            status="active",
            track_id=sud,
            admission_date=date.today(),
            payer_id=payer,
            phone="5551239876",
        ),
    )
    clients.create_client(
        env.db,
        actor,
        intake(
            first_name="Bo",
            last_name="Lee",
            status="active",
            track_id=mh,
            admission_date=date.today(),
        ),
    )
    assert [r.id for r in clients.list_census(env.db, actor, track_id=sud)] == [a.id]
    assert [r.id for r in clients.list_census(env.db, actor, payer_id=payer)] == [a.id]
    assert [r.id for r in clients.list_census(env.db, actor, search="123-98")] == [a.id]
    assert [r.id for r in clients.list_census(env.db, actor, search=a.mrn.lower())] == [a.id]
    assert {r.last_name for r in clients.list_census(env.db, actor, status="active")} == {
        "Nguyễn",
        "Lee",
    }


def test_census_shows_next_review_and_authorization_units_left(setup):
    from decimal import Decimal as D

    from iopdesk.models import Authorization, BillingBatch, BillingLine, TreatmentPlan

    env, sud, _mh, payer = setup
    actor = env.world.admin
    c = clients.create_client(
        env.db,
        actor,
        intake(status="active", track_id=sud, admission_date=date.today(), payer_id=payer),
    )
    today = date.today()
    with env.db.session() as s:
        s.add(
            TreatmentPlan(
                client_id=c.id,
                start_date=today,
                status="active",
                next_review_date=today + timedelta(days=9),
            )
        )
        s.add(
            TreatmentPlan(
                client_id=c.id,
                start_date=today,
                status="superseded",
                next_review_date=today - timedelta(days=40),
            )
        )
        auth = Authorization(
            client_id=c.id,
            payer_id=payer,
            auth_number="A1",
            code="H0015",
            start_date=today - timedelta(days=5),
            end_date=today + timedelta(days=20),
            units=10,
        )
        old = Authorization(
            client_id=c.id,
            payer_id=payer,
            auth_number="A0",
            code="H0015",
            start_date=today - timedelta(days=90),
            end_date=today - timedelta(days=60),
            units=30,
        )
        s.add_all([auth, old])
        s.flush()
        live = BillingBatch(batch_number="B1", date_from=today, date_to=today)
        void = BillingBatch(batch_number="B2", date_from=today, date_to=today, status="voided")
        s.add_all([live, void])
        s.flush()
        for batch, units in ((live, 3), (void, 5)):
            s.add(
                BillingLine(
                    batch_id=batch.id,
                    client_id=c.id,
                    payer_id=payer,
                    authorization_id=auth.id,
                    date_of_service=today,
                    procedure_code="H0015",
                    units=units,
                    charge=D("100.00"),
                )
            )
    row = clients.list_census(env.db, actor, search=c.mrn)[0]
    assert row.next_review == today + timedelta(days=9)  # superseded plans do not count
    assert row.auth_remaining == 7  # 10 authorized - 3 billed; voided batch frees its lines
    other = clients.list_census(env.db, actor, search="Otherclient")[0]
    assert (other.next_review, other.auth_remaining) == (None, None)
