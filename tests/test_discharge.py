"""The guided discharge (issue 6 item 1) on SQLite and PostgreSQL: what it ends, cancels and
keeps, validation, permissions, concurrency, audit, readmission and the work list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal

import pytest
from sqlmodel import col, select

from iopdesk.errors import PermissionDenied, StaleRecordError, ValidationError
from iopdesk.models import (
    AftercareCrisisResource,
    AftercarePlan,
    Attendance,
    AuditEvent,
    BillingBatch,
    BillingLine,
    Client,
    ClinicSession,
    Discharge,
    DischargeGoalProgress,
    Episode,
    Payer,
    PlanGoal,
    PlanProblem,
    RosterChange,
    TherapistAssignment,
    Track,
    TrackEnrollment,
    TreatmentPlan,
)
from iopdesk.services import aftercare, audit, clients, discharge
from iopdesk.services.clients import ClientInput
from iopdesk.services.clinic import clinic_now
from iopdesk.services.discharge import DischargeInput, GoalProgressInput

# the clinic's today (the test clinic keeps the default time zone), not this computer's
TODAY = clinic_now("America/New_York").date()
ADMIT = TODAY - timedelta(days=40)
PAST = TODAY - timedelta(days=3)
LAST = TODAY - timedelta(days=1)


@dataclass
class Setup:
    client_id: int
    track_id: int
    goal_ids: list[int]
    past_group: int
    future_individual: int
    future_group: int
    held_individual: int


def admitted_client(env, first: str = "Dana", last: str = "Discharge", *, assign=True) -> Setup:
    """An active client on a track, assigned to the world's therapist, with a treatment plan of
    two goals, attendance and a billing line in the past, and sessions booked after today."""
    w = env.world
    with env.db.session() as s:
        track = Track(track_code=f"T{first}{last}"[:20], name="Adult SUD evening", is_sud=True)
        s.add(track)
        s.flush()
        track_id = track.id
    data = ClientInput(first, last, date(1991, 4, 5))
    data.status, data.track_id, data.admission_date = "active", track_id, ADMIT
    c = clients.create_client(env.db, w.admin, data)
    cid = c.id
    with env.db.session() as s:
        if assign:
            s.add(
                TherapistAssignment(client_id=cid, staff_id=w.therapist.staff_id, start_date=ADMIT)
            )
        plan = TreatmentPlan(client_id=cid, status="active", start_date=ADMIT)
        s.add(plan)
        s.flush()
        prob = PlanProblem(plan_id=plan.id, description="Alcohol use")
        s.add(prob)
        s.flush()
        goals = [
            PlanGoal(problem_id=prob.id, description="Stay sober", client_words="no drinking"),
            PlanGoal(problem_id=prob.id, description="Rebuild routines", sort_order=1),
        ]
        s.add_all(goals)

        def sess(day, kind="group", status="scheduled", client=None) -> ClinicSession:
            row = ClinicSession(
                kind=kind,
                track_id=track_id if kind == "group" else None,
                client_id=client,
                session_date=day,
                start_time=time(18),
                end_time=time(21),
                status=status,
            )
            s.add(row)
            return row

        past_group = sess(PAST, status="held")
        held_individual = sess(LAST, kind="individual", status="held", client=cid)
        future_individual = sess(TODAY + timedelta(days=5), kind="individual", client=cid)
        future_group = sess(TODAY + timedelta(days=6))
        s.flush()
        s.add(Attendance(session_id=past_group.id, client_id=cid, status="present", minutes=180))
        s.add(Attendance(session_id=held_individual.id, client_id=cid, status="present"))
        s.add(RosterChange(session_id=future_group.id, client_id=cid, action="add"))
        payer = Payer(payer_code=f"P{cid}", name="Payer")
        s.add(payer)
        s.flush()
        batch = BillingBatch(batch_number=f"B{cid}", date_from=PAST, date_to=PAST, line_count=1)
        s.add(batch)
        s.flush()
        s.add(
            BillingLine(
                batch_id=batch.id,
                client_id=cid,
                session_id=past_group.id,
                payer_id=payer.id,
                date_of_service=PAST,
                procedure_code="H0015",
                charge=Decimal("150.00"),
            )
        )
        s.flush()
        return Setup(
            cid,
            track_id,
            [g.id for g in goals],
            past_group.id,
            future_individual.id,
            future_group.id,
            held_individual.id,
        )


def good_input(setup: Setup, **kw) -> DischargeInput:
    values = dict(
        discharge_date=LAST,
        discharge_type="completed_program",
        reason="Met treatment plan goals.",
        summary="Completed 6 weeks of IOP.",
        step_down_level="OP",
        receiving_provider="Riverbend Outpatient",
        goals=[
            GoalProgressInput(setup.goal_ids[0], "Stay sober", "60 days sober."),
            GoalProgressInput(setup.goal_ids[1], "Rebuild routines", "Back at work."),
        ],
    )
    values.update(kw)
    return DischargeInput(**values)


def version_of(env, cid: int) -> int:
    with env.db.session() as s:
        return s.get(Client, cid).version


def test_prepare_lists_goals_and_what_will_end(env):
    st = admitted_client(env)
    start = discharge.prepare_discharge(env.db, env.world.therapist, st.client_id)
    assert [g.goal_id for g in start.goals] == st.goal_ids
    assert "no drinking" in start.goals[0].text
    assert start.last_attended == LAST
    assert start.future_sessions == 1
    assert start.enrollments == 1 and start.assignments == 1
    assert start.default_date == TODAY


def test_discharge_ends_everything_and_keeps_history(env):
    st = admitted_client(env)
    cid = st.client_id
    with env.db.session() as s:
        attendance_before = sorted(
            (a.session_id, a.status, a.minutes)
            for a in s.exec(select(Attendance).where(Attendance.client_id == cid))
        )
        billing_before = [
            (b.id, b.charge, b.date_of_service)
            for b in s.exec(select(BillingLine).where(BillingLine.client_id == cid))
        ]
    result = discharge.discharge_client(
        env.db, env.world.therapist, cid, version_of(env, cid), good_input(st)
    )
    assert result.sessions_cancelled == 1
    assert result.roster_adds_removed == 1
    assert result.enrollments_ended == 1 and result.assignments_ended == 1
    with env.db.session() as s:
        c = s.get(Client, cid)
        assert c.status == "discharged" and c.discharge_date == LAST
        assert result.client_version == c.version
        enr = s.exec(select(TrackEnrollment).where(TrackEnrollment.client_id == cid)).all()
        assert [e.end_date for e in enr] == [LAST]
        asg = s.exec(select(TherapistAssignment).where(TherapistAssignment.client_id == cid)).all()
        assert [a.end_date for a in asg] == [LAST]
        fut = s.get(ClinicSession, st.future_individual)
        assert fut.status == "cancelled" and fut.cancel_reason == discharge.CANCEL_REASON
        # what happened stays as it was
        assert s.get(ClinicSession, st.held_individual).status == "held"
        assert s.get(ClinicSession, st.past_group).status == "held"
        assert s.get(ClinicSession, st.future_group).status == "scheduled"  # others still meet
        rc = s.exec(select(RosterChange).where(RosterChange.client_id == cid)).one()
        assert rc.action == "remove"
        attendance_after = sorted(
            (a.session_id, a.status, a.minutes)
            for a in s.exec(select(Attendance).where(Attendance.client_id == cid))
        )
        billing_after = [
            (b.id, b.charge, b.date_of_service)
            for b in s.exec(select(BillingLine).where(BillingLine.client_id == cid))
        ]
        assert attendance_after == attendance_before and billing_after == billing_before
        d = s.get(Discharge, result.discharge_id)
        assert (d.discharge_type, d.step_down_level, d.receiving_provider) == (
            "completed_program",
            "OP",
            "Riverbend Outpatient",
        )
        progress = s.exec(
            select(DischargeGoalProgress).where(DischargeGoalProgress.discharge_id == d.id)
        ).all()
        assert [(p.goal_id, p.progress) for p in progress] == [
            (st.goal_ids[0], "60 days sober."),
            (st.goal_ids[1], "Back at work."),
        ]
        plan = s.get(AftercarePlan, result.plan_id)
        assert plan.status == "draft" and plan.discharge_id == d.id
        crisis = s.exec(
            select(AftercareCrisisResource).where(AftercareCrisisResource.plan_id == plan.id)
        ).all()
        assert any("988" in c.contact for c in crisis)
        assert any("1-800-662-4357" in c.contact for c in crisis)
        events = s.exec(
            select(AuditEvent).where(AuditEvent.entity == "discharge", AuditEvent.client_id == cid)
        ).all()
        assert len(events) == 1 and "1 sessions cancelled" in events[0].detail
        assert "Stay sober" not in events[0].detail  # no clinical text in the audit log
    # the roster of the future group no longer lists the client
    from iopdesk.services import schedule

    roster = schedule.roster(env.db, env.world.admin, st.future_group)
    assert cid not in [r.client_id for r in roster]
    # everything stays readable
    infos = discharge.list_discharges(env.db, env.world.therapist, cid)
    assert infos[0].summary == "Completed 6 weeks of IOP." and infos[0].episode_no == 1
    chart = clients.open_chart(env.db, env.world.front_desk, cid)
    assert chart.enrollments and chart.assignments


def test_readmission_starts_a_new_episode_and_keeps_the_old_discharge(env):
    st = admitted_client(env)
    cid = st.client_id
    discharge.discharge_client(
        env.db, env.world.therapist, cid, version_of(env, cid), good_input(st)
    )
    c = clients.readmit(env.db, env.world.front_desk, cid, version_of(env, cid), TODAY, "back")
    assert c.status == "referral" and c.discharge_date is None
    with env.db.session() as s:
        eps = s.exec(
            select(Episode).where(Episode.client_id == cid).order_by(col(Episode.id))
        ).all()
        assert [(e.episode_no, e.status) for e in eps] == [(1, "discharged"), (2, "referral")]
        # the one-off group add that was turned into a remove does not come back
        rc = s.exec(select(RosterChange).where(RosterChange.client_id == cid)).one()
        assert rc.action == "remove"
    old = discharge.list_discharges(env.db, env.world.supervisor, cid)
    assert [d.discharge_date for d in old] == [LAST]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"discharge_type": "vanished"}, "discharge_type", "type of discharge"),
        ({"discharge_date": TODAY + timedelta(days=1)}, "discharge_date", "future"),
        ({"discharge_date": ADMIT - timedelta(days=1)}, "discharge_date", "admission"),
        ({"discharge_date": PAST}, "discharge_date", "attended a session"),
        ({"reason": "  "}, "reason", "reason"),
        (
            {
                "discharge_type": "step_down_transfer",
                "step_down_level": "",
                "receiving_provider": "",
            },
            "step_down_level",
            "next level of care",
        ),
    ],
)
def test_validation_messages_are_plain_and_change_nothing(env, changes, field, words):
    st = admitted_client(env)
    v = version_of(env, st.client_id)
    with pytest.raises(ValidationError) as err:
        discharge.discharge_client(
            env.db, env.world.therapist, st.client_id, v, good_input(st, **changes)
        )
    assert field in err.value.fields and words in err.value.message
    with env.db.session() as s:
        assert s.get(Client, st.client_id).status == "active"
        assert s.exec(select(Discharge).where(Discharge.client_id == st.client_id)).all() == []
        assert s.get(ClinicSession, st.future_individual).status == "scheduled"


def test_goal_from_another_plan_is_refused(env):
    st = admitted_client(env)
    other = admitted_client(env, "Otto", "Other")
    data = good_input(st, goals=[GoalProgressInput(other.goal_ids[0], "x", "y")])
    with pytest.raises(ValidationError, match="not part of this client's treatment plan"):
        discharge.discharge_client(
            env.db, env.world.supervisor, st.client_id, version_of(env, st.client_id), data
        )


def test_permissions_and_caseload(env):
    w = env.world
    st = admitted_client(env)
    other = admitted_client(env, "Nora", "Notmine", assign=False)
    for actor in (w.front_desk, w.billing, w.admin):
        with pytest.raises(PermissionDenied):
            discharge.prepare_discharge(env.db, actor, st.client_id)
    with pytest.raises(PermissionDenied, match="own clinicians"):
        discharge.discharge_client(
            env.db,
            w.therapist,
            other.client_id,
            version_of(env, other.client_id),
            good_input(other),
        )
    # a supervisor may discharge anyone
    discharge.discharge_client(
        env.db, w.supervisor, other.client_id, version_of(env, other.client_id), good_input(other)
    )
    # the front desk sees the work list but not the clinical summary
    assert any(r.client_id == other.client_id for r in discharge.work_list(env.db, w.front_desk))
    with pytest.raises(PermissionDenied):
        discharge.list_discharges(env.db, w.front_desk, other.client_id)


def test_stale_version_is_refused(env):
    st = admitted_client(env)
    v = version_of(env, st.client_id)
    clients.update_client(env.db, env.world.admin, st.client_id, v, {"phone": "(555) 123-4567"})
    with pytest.raises(StaleRecordError):
        discharge.discharge_client(env.db, env.world.therapist, st.client_id, v, good_input(st))
    with env.db.session() as s:
        assert s.get(Client, st.client_id).status == "active"


def test_discharge_twice_is_refused(env):
    st = admitted_client(env)
    discharge.discharge_client(
        env.db, env.world.therapist, st.client_id, version_of(env, st.client_id), good_input(st)
    )
    with pytest.raises(ValidationError, match="already discharged"):
        discharge.prepare_discharge(env.db, env.world.therapist, st.client_id)


def test_correct_summary_later_with_concurrency_and_audit(env):
    st = admitted_client(env)
    r = discharge.discharge_client(
        env.db, env.world.therapist, st.client_id, version_of(env, st.client_id), good_input(st)
    )
    info = discharge.list_discharges(env.db, env.world.therapist, st.client_id)[0]
    gp = info.goals[0]
    new = discharge.update_discharge(
        env.db,
        env.world.therapist,
        r.discharge_id,
        info.version,
        {"summary": "Corrected summary."},
        {gp.id: "75 days sober."},
    )
    assert new.summary == "Corrected summary." and new.goals[0].progress == "75 days sober."
    with pytest.raises(StaleRecordError):
        discharge.update_discharge(
            env.db, env.world.therapist, r.discharge_id, info.version, {"summary": "lost"}
        )
    with pytest.raises(ValidationError):
        discharge.update_discharge(
            env.db, env.world.therapist, r.discharge_id, new.version, {"discharge_date": "x"}
        )
    assert audit.verify(env.db).ok


def test_aftercare_draft_started_before_discharge_is_attached(env):
    st = admitted_client(env)
    plan_id = aftercare.create_plan(env.db, env.world.therapist, st.client_id)
    assert aftercare.create_plan(env.db, env.world.therapist, st.client_id) == plan_id
    r = discharge.discharge_client(
        env.db, env.world.therapist, st.client_id, version_of(env, st.client_id), good_input(st)
    )
    assert r.plan_id == plan_id
    view = aftercare.get_plan(env.db, env.world.supervisor, plan_id)
    assert view.discharge_id == r.discharge_id and view.discharge_date == LAST


def test_work_list_categories(env):
    w = env.world
    st = admitted_client(env)
    idle = admitted_client(env, "Ida", "Idle")
    with env.db.session() as s:  # Ida has not attended for three weeks
        for a in s.exec(select(Attendance).where(Attendance.client_id == idle.client_id)):
            s.delete(a)
    discharge.discharge_client(
        env.db, w.therapist, st.client_id, version_of(env, st.client_id), good_input(st)
    )
    rows = discharge.work_list(env.db, w.front_desk)
    by = {(r.category, r.client_id) for r in rows}
    assert ("discharged", st.client_id) in by
    assert ("pending", idle.client_id) in by
    disc = next(r for r in rows if r.client_id == st.client_id)
    assert disc.plan_status == "draft" and disc.when == LAST
