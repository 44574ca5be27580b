"""The demo clinic: shape, internal consistency, audit chain and determinism."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterator
from datetime import date, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import and_, exists, or_
from sqlmodel import col, func, select

from iopdesk.db import Database, DbTarget
from iopdesk.demo import DEMO_PASSWORD, DemoSummary, create_demo_clinic
from iopdesk.models import (
    Attendance,
    AuditEvent,
    Authorization,
    Client,
    ClinicClosure,
    ClinicSession,
    Episode,
    Note,
    Staff,
    TherapistAssignment,
    Track,
    TrackBlock,
    TrackEnrollment,
    User,
)
from iopdesk.models.enums import ATTENDED_STATUSES, ClientStatus
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.auth import login
from iopdesk.services.validation import npi_is_valid
from tests.pgharness import PostgresServer

TODAY = date(2026, 11, 27)  # a Friday; Thanksgiving (26 Nov 2026) is in the history window


def _fresh(path: Path) -> Database:
    return Database.open(path, create=True, key=os.urandom(32))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, Actor, DemoSummary]]:
    db = _fresh(tmp_path_factory.mktemp("demo") / "demo.db")
    admin, summary = create_demo_clinic(db, today=TODAY)
    yield db, admin, summary
    db.close()


def _fingerprint(db: Database) -> tuple[list[tuple[str, str, str]], list[tuple[str, int]], int]:
    with db.session() as s:
        names = [
            (c.mrn, c.first_name, c.last_name)
            for c in s.exec(select(Client).order_by(col(Client.mrn))).all()
        ]
        statuses = sorted(Counter(s.exec(select(Attendance.status)).all()).items())
        minutes = s.exec(select(func.sum(Attendance.minutes))).one() or 0
    return names, statuses, minutes


def test_summary_matches_database(demo: tuple[Database, Actor, DemoSummary]) -> None:
    db, admin, summary = demo
    assert admin.username == "admin"
    assert 55 <= summary.clients <= 65
    assert (summary.staff, summary.tracks, summary.payers) == (8, 3, 5)
    with db.session() as s:
        assert s.exec(select(func.count()).select_from(Client)).one() == summary.clients
        assert s.exec(select(func.count()).select_from(ClinicSession)).one() == summary.sessions
        assert s.exec(select(func.count()).select_from(Attendance)).one() == summary.attendance
        assert s.exec(select(func.count()).select_from(Note)).one() == summary.notes
        usernames = set(s.exec(select(User.username)).all())
    assert usernames == set(summary.usernames)
    assert {"admin", "frontdesk", "billing", "supervisor", "therapist"} <= usernames


def test_tracks_and_schedule(demo: tuple[Database, Actor, DemoSummary]) -> None:
    db, _, _ = demo
    expected = {
        # code: (population, is_sud, hours, per-diem code, {weekday: (start, end)})
        "SUD-EVE": ("adult", True, 9, "H0015", {d: (time(18), time(21)) for d in (0, 2, 3)}),
        "MH-DAY": ("adult", False, 9, "S9480", {d: (time(9), time(12)) for d in range(5)}),
        "ADOL": (
            "adolescent",
            True,
            6,
            "H0015",
            {1: (time(16), time(18)), 3: (time(16), time(18)), 5: (time(10), time(12))},
        ),
    }
    with db.session() as s:
        tracks = s.exec(select(Track)).all()
        assert {t.track_code for t in tracks} == set(expected)
        for t in tracks:
            population, is_sud, hours, code, blocks = expected[t.track_code]
            assert t.level_of_care == "IOP"
            assert (t.population, t.is_sud, t.required_weekly_hours, t.per_diem_code) == (
                population,
                is_sud,
                hours,
                code,
            )
            rows = s.exec(select(TrackBlock).where(TrackBlock.track_id == t.id)).all()
            assert {b.weekday: (b.start_time, b.end_time) for b in rows} == blocks
            weekly = sum((b.end_time.hour - b.start_time.hour) for b in rows)
            assert weekly >= hours


def test_staff_credentials(demo: tuple[Database, Actor, DemoSummary]) -> None:
    db, _, _ = demo
    with db.session() as s:
        staff = s.exec(select(Staff)).all()
        users = {u.username: u for u in s.exec(select(User)).all()}
    assert len(staff) == 8
    npis = [p.npi for p in staff if p.npi is not None]
    assert len(npis) >= 6
    assert all(npi_is_valid(n) for n in npis)
    assert len(set(npis)) == len(npis)
    clinicians = [p for p in staff if p.license_number]
    assert all(p.npi and p.license_expiry for p in clinicians)
    expiring = [
        p for p in clinicians if p.license_expiry and p.license_expiry <= TODAY + timedelta(60)
    ]
    assert len(expiring) == 1
    supervisees = [p for p in staff if p.is_supervisee]
    by_id = {p.id: p for p in staff}
    assert supervisees
    for p in supervisees:
        assert p.supervisor_id is not None and "supervisor" in by_id[p.supervisor_id].roles
    assert users["admin"].staff_id is None
    assert all(u.staff_id is not None for name, u in users.items() if name != "admin")
    assert set(users["supervisor"].roles.split(",")) == {"supervisor", "therapist"}


def test_clients_cover_every_stage(demo: tuple[Database, Actor, DemoSummary]) -> None:
    db, _, _ = demo
    with db.session() as s:
        clients = s.exec(select(Client).order_by(col(Client.mrn))).all()
        episodes = s.exec(select(Episode)).all()
        enrollments = s.exec(select(TrackEnrollment)).all()
        adol = s.exec(select(Track).where(Track.track_code == "ADOL")).one()
    by_status = Counter(c.status for c in clients)
    assert set(by_status) == {s.value for s in ClientStatus}
    assert 10 <= by_status["discharged"] <= 15
    assert by_status["active"] > len(clients) / 2
    assert [c.mrn for c in clients] == [f"M{i:06d}" for i in range(1, len(clients) + 1)]
    assert any(not (c.first_name + c.last_name).isascii() for c in clients)
    assert any(c.preferred_name for c in clients)
    assert any(c.primary_language == "Spanish" for c in clients)
    assert all(c.email == "" or c.email.endswith("@example.org") for c in clients)
    ended = {e.client_id: e for e in enrollments if e.end_date is not None}
    for c in clients:
        if c.status == "discharged":
            assert c.discharge_date is not None and c.discharge_date < TODAY
            assert c.admission_date is not None and c.admission_date < c.discharge_date
            assert ended[c.id].end_date == c.discharge_date
        elif c.status in ("active", "on_hold"):
            assert c.admission_date is not None and c.discharge_date is None
        else:
            assert c.admission_date is None
    per_client = Counter(e.client_id for e in episodes)
    assert max(per_client.values()) == 2  # one readmission
    assert set(per_client) == {c.id for c in clients}
    teen_ids = {e.client_id for e in enrollments if e.track_id == adol.id}
    assert teen_ids
    for c in clients:
        if c.id in teen_ids:
            age = TODAY.year - c.dob.year - ((TODAY.month, TODAY.day) < (c.dob.month, c.dob.day))
            assert 13 <= age <= 17


def test_part2_follows_track(demo: tuple[Database, Actor, DemoSummary]) -> None:
    db, _, _ = demo
    with db.session() as s:
        rows = s.exec(
            select(Client.part2, Track.is_sud)
            .join(TrackEnrollment, col(TrackEnrollment.client_id) == Client.id)
            .join(Track, col(Track.id) == TrackEnrollment.track_id)
        ).all()
    assert rows
    assert all(part2 == is_sud for part2, is_sud in rows)
    assert {is_sud for _, is_sud in rows} == {True, False}


def test_attendance_only_for_held_sessions_and_enrolled_clients(
    demo: tuple[Database, Actor, DemoSummary],
) -> None:
    db, _, _ = demo
    with db.session() as s:
        not_held = s.exec(
            select(func.count())
            .select_from(Attendance)
            .join(ClinicSession, col(ClinicSession.id) == Attendance.session_id)
            .where(or_(ClinicSession.status != "held", col(ClinicSession.session_date) >= TODAY))
        ).one()
        enrolled = exists().where(
            and_(
                TrackEnrollment.client_id == Attendance.client_id,
                TrackEnrollment.track_id == ClinicSession.track_id,
                col(TrackEnrollment.start_date) <= ClinicSession.session_date,
                or_(
                    col(TrackEnrollment.end_date).is_(None),
                    col(TrackEnrollment.end_date) >= ClinicSession.session_date,
                ),
                col(TrackEnrollment.voided_at).is_(None),
            )
        )
        group_total = s.exec(
            select(func.count())
            .select_from(Attendance)
            .join(ClinicSession, col(ClinicSession.id) == Attendance.session_id)
            .where(ClinicSession.kind == "group")
        ).one()
        group_not_enrolled = s.exec(
            select(func.count())
            .select_from(Attendance)
            .join(ClinicSession, col(ClinicSession.id) == Attendance.session_id)
            .where(ClinicSession.kind == "group", ~enrolled)
        ).one()
        other_client = s.exec(
            select(func.count())
            .select_from(Attendance)
            .join(ClinicSession, col(ClinicSession.id) == Attendance.session_id)
            .where(ClinicSession.kind != "group", ClinicSession.client_id != Attendance.client_id)
        ).one()
        minutes_bad = s.exec(
            select(func.count())
            .select_from(Attendance)
            .where(
                or_(
                    and_(col(Attendance.status).in_(ATTENDED_STATUSES), Attendance.minutes <= 0),
                    and_(col(Attendance.status).not_in(ATTENDED_STATUSES), Attendance.minutes != 0),
                )
            )
        ).one()
        statuses = set(s.exec(select(Attendance.status)).all())
        held_groups = s.exec(
            select(func.count())
            .select_from(ClinicSession)
            .where(ClinicSession.kind == "group", ClinicSession.status == "held")
        ).one()
        scheduled = s.exec(
            select(func.count())
            .select_from(ClinicSession)
            .where(ClinicSession.status == "scheduled", col(ClinicSession.session_date) < TODAY)
        ).one()
        future = s.exec(
            select(func.count())
            .select_from(ClinicSession)
            .where(col(ClinicSession.session_date) > TODAY)
        ).one()
    assert not_held == 0
    assert group_total > 1000 and group_not_enrolled == 0
    assert other_client == 0
    assert minutes_bad == 0
    assert statuses == {"present", "late", "left_early", "absent_excused", "absent_unexcused"}
    assert 12 * 11 - 11 <= held_groups <= 12 * 11  # 11 blocks a week, 12 weeks, minus closures
    assert scheduled == 0
    assert future > 0


def test_some_clients_meet_weekly_hours_and_some_do_not(
    demo: tuple[Database, Actor, DemoSummary],
) -> None:
    db, _, _ = demo
    week = TODAY - timedelta(days=TODAY.weekday() + 7)  # last full week
    with db.session() as s:
        rows = s.exec(
            select(Attendance.client_id, func.sum(Attendance.minutes), Track.required_weekly_hours)
            .join(ClinicSession, col(ClinicSession.id) == Attendance.session_id)
            .join(Track, col(Track.id) == ClinicSession.track_id)
            .where(
                ClinicSession.kind == "group",
                col(ClinicSession.session_date) >= week,
                col(ClinicSession.session_date) < week + timedelta(days=7),
            )
            .group_by(col(Attendance.client_id), col(Track.required_weekly_hours))
        ).all()
    met = [cid for cid, minutes, hours in rows if minutes >= hours * 60]
    missed = [cid for cid, minutes, hours in rows if minutes < hours * 60]
    assert len(met) >= 5 and len(missed) >= 5


def test_closure_day_cancels_its_sessions(demo: tuple[Database, Actor, DemoSummary]) -> None:
    db, _, _ = demo
    with db.session() as s:
        closure = s.exec(select(ClinicClosure)).one()
        sessions = s.exec(
            select(ClinicSession).where(ClinicSession.session_date == closure.closure_date)
        ).all()
    assert closure.closure_date == date(2026, 11, 26) and "Thanksgiving" in closure.reason
    assert sessions
    assert all(x.status == "cancelled" and x.cancelled_by_clinic for x in sessions)
    assert all(x.cancel_reason for x in sessions)


def test_notes_signed_with_correct_hash(demo: tuple[Database, Actor, DemoSummary]) -> None:
    db, _, _ = demo
    with db.session() as s:
        notes = s.exec(select(Note)).all()
        users = {u.id: u for u in s.exec(select(User)).all()}
    signed = [n for n in notes if n.status == "signed"]
    drafts = [n for n in notes if n.status == "draft"]
    assert len(signed) > 10 * len(drafts) > 0
    for n in signed:
        assert n.content_sha256 == hashlib.sha256(n.content_json.encode("utf-8")).hexdigest()
        assert n.signed_by is not None and n.signed_at is not None
        assert users[n.signed_by].staff_id == n.author_staff_id
    assert all(n.content_sha256 is None and n.signed_at is None for n in drafts)
    formats = Counter(n.format for n in notes)
    assert {"DAP", "SOAP", "BIRP", "group"} <= set(formats)
    assert all(n.group_note_id is not None for n in notes if n.format == "group")
    # Supervisee notes: co-signature required; older ones co-signed, recent ones waiting.
    cosign = [n for n in signed if n.cosign_required]
    assert any(n.cosigned_by for n in cosign) and any(not n.cosigned_by for n in cosign)
    # Each clinician with recent notes has something in their unsigned queue.
    assert len({n.author_staff_id for n in drafts}) >= 4


def test_assignments_authorizations_history(demo: tuple[Database, Actor, DemoSummary]) -> None:
    db, _, _ = demo
    with db.session() as s:
        primaries = s.exec(
            select(TherapistAssignment).where(TherapistAssignment.role == "primary_therapist")
        ).all()
        roles = set(s.exec(select(TherapistAssignment.role)).all())
        auths = s.exec(select(Authorization)).all()
        attended = s.exec(
            select(Attendance.client_id, ClinicSession.session_date)
            .join(ClinicSession, col(ClinicSession.id) == Attendance.session_id)
            .where(ClinicSession.kind == "group", col(Attendance.status).in_(ATTENDED_STATUSES))
        ).all()
    assert roles == {"primary_therapist", "case_manager", "psychiatrist"}
    open_counts = Counter(a.client_id for a in primaries if a.end_date is None)
    assert max(open_counts.values()) == 1  # one current primary therapist each
    switched = Counter(a.client_id for a in primaries if a.end_date is not None)
    assert any(cid in open_counts for cid in switched)  # a mid-stay reassignment
    current = [a for a in auths if a.start_date <= TODAY <= a.end_date]
    assert any(a.end_date <= TODAY + timedelta(days=7) for a in current)
    remaining = [
        a.units
        - sum(1 for cid, d in attended if cid == a.client_id and a.start_date <= d <= a.end_date)
        for a in current
    ]
    assert any(0 < r <= 2 for r in remaining)


def test_audit_chain_and_demo_event(demo: tuple[Database, Actor, DemoSummary]) -> None:
    db, _, summary = demo
    assert audit.verify(db).ok
    with db.session() as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.entity == "demo")).all()
        names = s.exec(select(Client.last_name)).all()
    assert len(events) == 1 and events[0].action == "create"
    assert f"clients={summary.clients}" in events[0].detail
    assert not any(name in events[0].detail for name in names)


def test_demo_users_can_sign_in(demo: tuple[Database, Actor, DemoSummary]) -> None:
    db, _, summary = demo
    actor = login(db, "frontdesk", DEMO_PASSWORD)
    assert actor.staff_id is not None
    assert {r.value for r in actor.roles} == {"front_desk"}
    for username in summary.usernames:
        assert login(db, username, DEMO_PASSWORD).username == username
    assert audit.verify(db).ok


def test_deterministic_for_same_seed(
    demo: tuple[Database, Actor, DemoSummary], tmp_path: Path
) -> None:
    db, _, summary = demo
    other = _fresh(tmp_path / "again.db")
    try:
        _, again = create_demo_clinic(other, today=TODAY, seed=7)
        assert again == summary
        assert _fingerprint(other) == _fingerprint(db)
    finally:
        other.close()


@pytest.mark.pg
def test_same_demo_on_postgresql(
    demo: tuple[Database, Actor, DemoSummary], pg_server: PostgresServer
) -> None:
    db, _, summary = demo
    name = f"demo_{os.getpid()}"
    pg_server.create_database(name)
    other = Database.open(DbTarget(url=pg_server.url(name)))
    try:
        _, again = create_demo_clinic(other, today=TODAY, seed=7)
        assert again == summary
        assert _fingerprint(other) == _fingerprint(db)
        assert audit.verify(other).ok
    finally:
        other.close()
        pg_server.drop_database(name)
