"""Treatment plans (issue 5 items 5-7): hierarchy, sign and lock, client agreement, revisions,
reviews with progress per goal, due/overdue lists, permissions, audit and the PDF printout.
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from iopdesk.errors import (
    NotFoundError,
    PermissionDenied,
    StaleRecordError,
    UserError,
    ValidationError,
)
from iopdesk.models import AuditEvent, Client, Staff
from iopdesk.reports import PART2_NOTICE
from iopdesk.services import plans
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import set_setting
from iopdesk.services.plans import GoalRating
from tests.conftest import Env
from tests.helpers import pdf_pages

START = date(2026, 3, 2)


def events(env: Env, after: int = 0) -> list[AuditEvent]:
    with env.db.session() as s:
        return list(
            s.exec(
                select(AuditEvent).where(col(AuditEvent.id) > after).order_by(col(AuditEvent.id))
            ).all()
        )


def last_id(env: Env) -> int:
    rows = events(env)
    return rows[-1].id or 0 if rows else 0


def set_client(env: Env, client_id: int, **values: object) -> None:
    with env.db.session() as s:
        c = s.get(Client, client_id)
        assert c is not None
        for k, v in values.items():
            setattr(c, k, v)
        s.add(c)


def staff_id(env: Env) -> int:
    assert env.world.therapist.staff_id is not None
    return env.world.therapist.staff_id


def full_plan(env: Env, actor: Actor | None = None, goals: int = 1, start: date = START) -> int:
    """A complete draft: one problem, `goals` goals each with an objective and intervention."""
    actor = actor or env.world.therapist
    db, cid = env.db, env.world.client_own
    plan_id = plans.create_plan(db, actor, cid, start_date=start)
    problem = plans.add_problem(db, actor, plan_id, "Alcohol use disorder, moderate")
    for n in range(goals):
        goal = plans.add_goal(
            db, actor, problem, f"Maintain abstinence {n}", client_words=f"I want to stay sober {n}"
        )
        objective = plans.add_objective(
            db, actor, goal, "Attend 9 of 9 group hours weekly", start + timedelta(days=28)
        )
        plans.add_intervention(
            db,
            actor,
            objective,
            "Relapse-prevention group",
            "Relapse prevention",
            "3x weekly",
            staff_id(env),
        )
    return plan_id


# ------------------------------------------------------------------------------------------


def test_hierarchy_round_trip_edit_and_remove(env: Env) -> None:
    db, w = env.db, env.world
    before = last_id(env)
    plan_id = full_plan(env)
    plan = plans.get_plan(db, w.therapist, plan_id)
    assert plan.status == "draft" and not plan.locked
    assert plan.review_interval_days == 30  # the setting's default
    assert plan.next_review_date is None  # only a signed plan has a review schedule
    [problem] = plan.problems
    [goal] = problem.goals
    assert goal.client_words == "I want to stay sober 0"
    [objective] = goal.objectives
    assert objective.target_date == START + timedelta(days=28)
    [iv] = objective.interventions
    assert (iv.modality, iv.frequency, iv.responsible) == (
        "Relapse prevention",
        "3x weekly",
        "Theo Rapist, LPC",
    )
    plans.update_goal(db, w.therapist, goal.id, goal.version, "Stay abstinent", "One day at a time")
    with pytest.raises(StaleRecordError):  # another workstation's stale copy
        plans.update_goal(db, w.therapist, goal.id, goal.version, "Other text", "")
    plans.update_objective(
        db, w.therapist, objective.id, objective.version, "Attend all groups", START
    )
    with pytest.raises(ValidationError, match="target date"):
        plans.update_objective(db, w.therapist, objective.id, objective.version + 1, "x", None)
    with pytest.raises(ValidationError, match="before the plan's start"):
        plans.add_objective(db, w.therapist, goal.id, "x", START - timedelta(days=1))
    with pytest.raises(ValidationError, match="Enter the goal"):
        plans.add_goal(db, w.therapist, problem.id, "   ")
    with pytest.raises(ValidationError, match="responsible"):
        plans.add_intervention(db, w.therapist, objective.id, "x", "CBT", "Weekly", None)
    plan = plans.get_plan(db, w.therapist, plan_id)
    goal2 = plan.problems[0].goals[0]
    assert (goal2.description, goal2.client_words) == ("Stay abstinent", "One day at a time")
    assert goal2.objectives[0].description == "Attend all groups"
    second = plans.add_problem(db, w.therapist, plan_id, "Depressed mood")
    plan = plans.get_plan(db, w.therapist, plan_id)
    assert [p.description for p in plan.problems][1] == "Depressed mood"
    plans.remove_item(db, w.therapist, "problem", second, plan.problems[1].version)
    plan = plans.get_plan(db, w.therapist, plan_id)
    assert [p.id for p in plan.problems] == [problem.id]  # voided, not shown
    with pytest.raises(NotFoundError):
        plans.add_goal(db, w.therapist, second, "goal under a removed problem")
    rows = events(env, before)
    created = {e.entity for e in rows if e.action == "create"}
    assert created >= {"treatment_plan", "plan_problem", "plan_goal", "plan_objective"}
    assert any(e.action == "read" and e.entity == "treatment_plan" for e in rows)
    assert all(e.client_id == w.client_own for e in rows if e.entity.startswith("plan"))
    assert not any("sober" in e.detail for e in rows)  # no clinical text in the audit log


def test_one_draft_at_a_time_and_interval_setting(env: Env) -> None:
    db, w = env.db, env.world
    set_setting(db, w.admin, "plan_review_days", 14)
    plan_id = full_plan(env)
    assert plans.get_plan(db, w.therapist, plan_id).review_interval_days == 14
    with pytest.raises(UserError, match="already has a draft"):
        plans.create_plan(db, w.therapist, w.client_own)
    with pytest.raises(ValidationError, match="between 7 and 365"):
        plans.update_plan(db, w.therapist, plan_id, 1, START, 3)
    info = plans.sign_plan(
        db, w.therapist, plan_id, plans.get_plan(db, w.therapist, plan_id).version
    )
    assert info.next_review_date == START + timedelta(days=14)


def test_sign_requires_complete_plan_and_locks(env: Env) -> None:
    db, w = env.db, env.world
    plan_id = plans.create_plan(db, w.therapist, w.client_own, start_date=START)
    with pytest.raises(ValidationError, match="at least one problem"):
        plans.sign_plan(db, w.therapist, plan_id, 1)
    problem = plans.add_problem(db, w.therapist, plan_id, "Anxiety")
    goal = plans.add_goal(db, w.therapist, problem, "Reduce panic attacks")
    with pytest.raises(ValidationError, match="has no objective"):
        plans.sign_plan(db, w.therapist, plan_id, 1)
    objective = plans.add_objective(db, w.therapist, goal, "0 attacks a week", START)
    with pytest.raises(ValidationError, match="has no intervention"):
        plans.sign_plan(db, w.therapist, plan_id, 1)
    plans.add_intervention(db, w.therapist, objective, "CBT", "CBT", "Weekly", staff_id(env))
    with pytest.raises(StaleRecordError):
        plans.sign_plan(db, w.therapist, plan_id, 99)
    before = last_id(env)
    info = plans.sign_plan(db, w.therapist, plan_id, 1)
    assert info.status == "active" and info.locked
    assert info.clinician_signed_by == "Theo Rapist, LPC"
    assert info.clinician_signed_at is not None
    assert info.next_review_date == START + timedelta(days=30)
    assert [e.action for e in events(env, before)] == ["sign"]
    g = info.problems[0].goals[0]
    for attempt in (
        lambda: plans.add_problem(db, w.therapist, plan_id, "more"),
        lambda: plans.update_goal(db, w.therapist, g.id, g.version, "changed"),
        lambda: plans.add_objective(db, w.therapist, g.id, "more", START),
        lambda: plans.remove_item(db, w.therapist, "goal", g.id, g.version),
        lambda: plans.sign_plan(db, w.therapist, plan_id, info.version),
    ):
        with pytest.raises(UserError, match="signed and locked"):
            attempt()
    assert plans.get_plan(db, w.therapist, plan_id).problems[0].goals[0].description == (
        "Reduce panic attacks"
    )


def test_client_agreement(env: Env) -> None:
    db, w = env.db, env.world
    plan_id = full_plan(env)
    info = plans.sign_plan(db, w.therapist, plan_id, 1)
    with pytest.raises(ValidationError, match="future"):
        plans.record_client_agreement(
            db, w.therapist, plan_id, info.version, date.today() + timedelta(days=2)
        )
    with pytest.raises(ValidationError, match="before the plan's start"):
        plans.record_client_agreement(
            db, w.therapist, plan_id, info.version, START - timedelta(days=1)
        )
    plans.record_client_agreement(db, w.therapist, plan_id, info.version, START + timedelta(1))
    after = plans.get_plan(db, w.therapist, plan_id)
    assert after.client_agreed and after.client_signed_date == START + timedelta(days=1)
    assert after.status == "active"  # agreement does not unlock the plan
    with pytest.raises(StaleRecordError):
        plans.record_client_agreement(db, w.therapist, plan_id, info.version, START)


def test_revise_refusals(env: Env) -> None:
    db, w = env.db, env.world
    first = full_plan(env)
    plans.sign_plan(db, w.therapist, first, 1)
    draft = plans.create_plan(db, w.therapist, w.client_own)
    with pytest.raises(UserError, match="still a draft"):
        plans.revise_plan(db, w.therapist, draft)
    with pytest.raises(UserError, match="already has a draft"):  # one draft at a time
        plans.revise_plan(db, w.therapist, first)


def test_revision_copies_open_goals(env: Env) -> None:
    db, w = env.db, env.world
    first = full_plan(env, goals=2)
    info = plans.sign_plan(db, w.therapist, first, 1)
    g1, g2 = info.goals()
    plans.add_review(
        db,
        w.therapist,
        first,
        info.version,
        START + timedelta(days=20),
        "Good month",
        [GoalRating(g1.id, "achieved", "sober 20 days"), GoalRating(g2.id, "progressing")],
    )
    second = plans.revise_plan(db, w.therapist, first)
    assert plans.current_plan_id(db, w.therapist, w.client_own) == second
    draft = plans.get_plan(db, w.therapist, second)
    assert draft.status == "draft" and draft.start_date == date.today()
    assert [g.description for g in draft.goals()] == [g2.description]  # achieved goal dropped
    assert draft.goals()[0].objectives[0].interventions[0].modality == "Relapse prevention"
    assert plans.get_plan(db, w.therapist, first).status == "active"  # in force until signed
    plans.sign_plan(db, w.therapist, second, draft.version)
    assert plans.get_plan(db, w.therapist, first).status == "superseded"
    statuses = [p.status for p in plans.list_plans(db, w.therapist, w.client_own)]
    assert sorted(statuses) == ["active", "superseded"]
    assert plans.current_plan_id(db, w.therapist, w.client_own) == second


def test_review_records_progress_per_goal(env: Env) -> None:
    db, w = env.db, env.world
    plan_id = full_plan(env, goals=2)
    with pytest.raises(UserError, match="Sign the draft first"):
        plans.add_review(db, w.therapist, plan_id, 1, START, "x", [])
    info = plans.sign_plan(db, w.therapist, plan_id, 1)
    g1, g2 = info.goals()
    day = START + timedelta(days=25)
    with pytest.raises(ValidationError, match="every open goal"):
        plans.add_review(
            db, w.therapist, plan_id, info.version, day, "x", [GoalRating(g1.id, "progressing")]
        )
    with pytest.raises(ValidationError, match="not a progress rating"):
        plans.add_review(
            db,
            w.therapist,
            plan_id,
            info.version,
            day,
            "x",
            [GoalRating(g1.id, "great"), GoalRating(g2.id, "progressing")],
        )
    with pytest.raises(ValidationError, match="only once"):
        plans.add_review(
            db,
            w.therapist,
            plan_id,
            info.version,
            day,
            "x",
            [GoalRating(g1.id, "regressed"), GoalRating(g1.id, "progressing")],
        )
    with pytest.raises(ValidationError, match="Enter the review summary"):
        plans.add_review(db, w.therapist, plan_id, info.version, day, "", [])
    with pytest.raises(ValidationError, match="future"):
        plans.add_review(
            db, w.therapist, plan_id, info.version, date.today() + timedelta(days=1), "x", []
        )
    ratings = [GoalRating(g1.id, "achieved", "met"), GoalRating(g2.id, "no change", "stuck")]
    with pytest.raises(StaleRecordError):
        plans.add_review(db, w.therapist, plan_id, info.version + 5, day, "Month 1", ratings)
    before = last_id(env)
    plans.add_review(db, w.therapist, plan_id, info.version, day, "Month 1", ratings)
    after = plans.get_plan(db, w.therapist, plan_id)
    assert after.next_review_date == day + timedelta(days=30)  # moves from the review date
    [review] = after.reviews
    assert review.reviewer == "Theo Rapist, LPC" and review.summary == "Month 1"
    assert [(p.goal_id, p.rating, p.comment) for p in review.progress] == [
        (g1.id, "achieved", "met"),
        (g2.id, "no change", "stuck"),
    ]
    assert [g.status for g in after.goals()] == ["achieved", "open"]
    assert [(e.action, e.entity) for e in events(env, before)] == [
        ("create", "plan_review"),
        ("read", "treatment_plan"),
    ]
    # the next review needs only the goal that is still open
    plans.add_review(
        db,
        w.therapist,
        plan_id,
        after.version,
        day + timedelta(days=5),
        "M2",
        [GoalRating(g2.id, "regressed")],
    )
    assert len(plans.get_plan(db, w.therapist, plan_id).reviews) == 2


def test_review_due_and_overdue_boundaries(env: Env) -> None:
    db, w = env.db, env.world
    set_client(env, w.client_own, status="active")
    plan_id = full_plan(env)
    plans.sign_plan(db, w.therapist, plan_id, 1)
    due = START + timedelta(days=30)
    window = plans.DUE_WINDOW_DAYS

    def mine(on: date) -> list[tuple[int, str, int]]:
        return [
            (r.plan_id, r.state, r.days) for r in plans.reviews_due(db, w.therapist, "mine", on)
        ]

    assert mine(due - timedelta(days=window + 1)) == []
    assert mine(due - timedelta(days=window)) == [(plan_id, "due", window)]
    assert mine(due) == [(plan_id, "due", 0)]
    assert mine(due + timedelta(days=1)) == [(plan_id, "overdue", 1)]
    clinic = plans.reviews_due(db, w.supervisor, "clinic", due + timedelta(days=3))
    assert [(r.plan_id, r.state, r.days, r.mrn != "") for r in clinic] == [
        (plan_id, "overdue", 3, True)
    ]
    assert plans.reviews_due(db, w.supervisor, "mine", due) == []  # not her caseload
    with pytest.raises(PermissionDenied):
        plans.reviews_due(db, w.therapist, "clinic", due)
    counts = plans.review_counts(db, w.therapist, due + timedelta(days=1))
    assert counts == plans.ReviewCounts(0, 1, "mine")
    assert plans.review_counts(db, w.supervisor, due) == plans.ReviewCounts(1, 0, "clinic")
    assert plans.review_counts(db, w.front_desk, due) is None
    assert plans.review_counts(db, w.billing, due) is None
    set_client(env, w.client_own, status="discharged")
    assert mine(due + timedelta(days=1)) == []  # discharged clients need no review


def test_permissions_and_denied_audit(env: Env) -> None:
    db, w = env.db, env.world
    plan_id = full_plan(env)
    for actor in (w.front_desk, w.billing):
        with pytest.raises(PermissionDenied):
            plans.get_plan(db, actor, plan_id)
        with pytest.raises(PermissionDenied):
            plans.create_plan(db, actor, w.client_own)
        with pytest.raises(PermissionDenied):
            plans.list_plans(db, actor, w.client_own)
    with pytest.raises(PermissionDenied):  # admin reads plans but does not write them
        plans.add_problem(db, w.admin, plan_id, "x")
    assert plans.get_plan(db, w.admin, plan_id).id == plan_id
    assert plans.get_plan(db, w.supervisor, plan_id).id == plan_id
    # a therapist who is not on the client's care team is refused, and that is audited
    with env.db.session() as s:
        other_staff = s.exec(select(Staff).where(Staff.staff_code == "T2")).one()
    outsider = Actor(999, "outsider", "Other", w.therapist.roles, other_staff.id)
    before = last_id(env)
    with pytest.raises(PermissionDenied, match="caseload"):
        plans.get_plan(db, outsider, plan_id)
    with pytest.raises(PermissionDenied, match="caseload"):
        plans.add_problem(db, outsider, plan_id, "x")
    denied = [e for e in events(env, before) if e.action == "permission_denied"]
    assert len(denied) == 2 and all(e.client_id == w.client_own for e in denied)


def test_print_part2_plan_carries_notice_on_every_page(env: Env, tmp_path: Path) -> None:
    db, w = env.db, env.world
    set_client(env, w.client_own, part2=True, status="active")
    plan_id = full_plan(env, goals=9)  # long enough for several pages
    info = plans.sign_plan(db, w.therapist, plan_id, 1)
    plans.record_client_agreement(db, w.therapist, plan_id, info.version, START)
    info = plans.get_plan(db, w.therapist, plan_id)
    plans.add_review(
        db,
        w.therapist,
        plan_id,
        info.version,
        START + timedelta(days=29),
        "Steady progress",
        [GoalRating(g.id, "progressing", f"comment {i}") for i, g in enumerate(info.goals())],
    )
    out = tmp_path / "plan.pdf"
    before = last_id(env)
    plans.print_plan(db, w.therapist, plan_id, out)
    pages = pdf_pages(out)
    assert len(pages) >= 2
    for number, text in enumerate(pages, start=1):
        assert PART2_NOTICE in text
        assert f"Page {number} of {len(pages)}" in text
        assert "Test Clinic" in text and "Ownclient, Canary" in text
    whole = " ".join("\n".join(pages).split())  # table cells wrap lines
    for expected in (
        "Treatment Plan",
        "Problem 1: Alcohol use disorder, moderate",
        "Goal 1.1: Maintain abstinence 0",
        "I want to stay sober 0",
        "Objective 1.1.1: Attend 9 of 9 group hours weekly",
        "Relapse prevention",
        "3x weekly",
        "Review history",
        "Steady progress",
        "Progressing",
        "Clinician signature",
        "Client signature",
        "Signed electronically by Theo Rapist, LPC",
        "Client agreed to this plan; signed 03/02/2026",
    ):
        assert expected in whole, expected
    disclose, ev = events(env, before)
    assert (ev.action, ev.entity, ev.entity_id) == ("print", "treatment_plan", str(plan_id))
    assert "Part 2" in ev.detail and "internal" in ev.detail
    assert (disclose.action, disclose.entity) == ("disclosure", "disclosure")
    # giving the Part 2 plan to someone else needs a consent: refused, no file, nothing written
    from iopdesk.services import recipients
    from iopdesk.services.disclosures import ConsentRequired, Release

    recipients.add_recipient(db, w.admin, "Dr. Who", type="provider")
    other = tmp_path / "to-provider.pdf"
    before = last_id(env)
    with pytest.raises(ConsentRequired):
        plans.print_plan(
            db, w.therapist, plan_id, other, release=Release("disclosure", "Dr. Who", "treatment")
        )
    assert not other.exists() and not list(tmp_path.glob("*.partial*"))
    assert [e.action for e in events(env, before)] == []
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(out), str(tmp_path / "p")],
        check=True,
    )
    assert list(tmp_path.glob("p*.png"))


def test_print_without_part2_has_no_notice(env: Env, tmp_path: Path) -> None:
    db, w = env.db, env.world
    set_client(env, w.client_own, part2=False)
    plan_id = full_plan(env)
    out = tmp_path / "draft.pdf"
    plans.print_plan(db, w.therapist, plan_id, out)
    text = "\n".join(pdf_pages(out))
    assert PART2_NOTICE not in text
    assert "Not signed (draft)" in text and "Client agreement not yet recorded" in text
    with pytest.raises(ValidationError, match=r"\.pdf"):
        plans.print_plan(db, w.therapist, plan_id, tmp_path / "plan.docx")
    with pytest.raises(PermissionDenied):
        plans.print_plan(db, w.front_desk, plan_id, tmp_path / "fd.pdf")
    assert not (tmp_path / "fd.pdf").exists()
