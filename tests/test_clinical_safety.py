"""Clinical safety (issue 20 items 1-7) on SQLite and PostgreSQL: risk flags and their
follow-up, C-SSRS, safety plans (signed, locked, printed, in the packet), the medication list,
drug screens, ASAM dimensions (and the plan PDF's diagnoses), the signed discharge summary and
the dated hours override."""

from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from iopdesk.errors import PermissionDenied, UserError, ValidationError
from iopdesk.models import (
    AuditEvent,
    Client,
    ClinicSession,
    Discharge,
    DischargeGoalProgress,
    RiskFlag,
    SafetyPlan,
    Track,
    TrackBlock,
    TrackEnrollment,
    TreatmentPlan,
)
from iopdesk.services import (
    aftercare,
    asam,
    discharge,
    drugscreens,
    hours,
    measures,
    medications,
    notes,
    overrides,
    plans,
    safety,
    today,
)
from iopdesk.services.clinic import clinic_now
from iopdesk.services.safety import Contact, CssrsInput, SafetyPlanData
from tests.conftest import Env
from tests.helpers import pdf_text

TODAY = clinic_now("America/New_York").date()


def full_plan(**kw) -> SafetyPlanData:
    values = dict(
        warning_signs="Not sleeping; isolating",
        internal_coping="Walk the dog; breathing exercise",
        distraction="Coffee shop on Main St; cousin Ana",
        help_contacts=[Contact("Ana (cousin)", "555-201-3344")],
        professionals=[
            Contact("988 Suicide & Crisis Lifeline", "988"),
            Contact("Dr. Reyes (therapist)", "555-100-2000"),
        ],
        environment_safety="Brother keeps the medications; no firearms at home",
        reasons_for_living="My daughter",
        client_participated=True,
    )
    values.update(kw)
    return SafetyPlanData(**values)  # type: ignore[arg-type]


def phq9_positive(env: Env, cid: int) -> measures.MeasureInfo:
    return measures.record_measure(
        env.db, env.world.therapist, cid, "PHQ-9", TODAY, [1, 1, 1, 1, 1, 1, 1, 1, 1]
    )


# -- 1. risk flag --------------------------------------------------------------------------
def test_phq9_item9_raises_a_flag_banner_today_and_follow_up(env: Env) -> None:
    w = env.world
    measures.record_measure(env.db, w.therapist, w.client_own, "PHQ-9", TODAY, [2] * 8 + [0])
    assert not safety.banner(env.db, w.therapist, w.client_own).shown  # item 9 = 0: no flag
    m = phq9_positive(env, w.client_own)
    assert m.suicide_risk
    b = safety.banner(env.db, w.therapist, w.client_own)
    assert b.shown and "SUICIDE RISK FLAG" in b.text and "PHQ-9 item 9" in b.text
    assert "C-SSRS" in b.followup and "safety plan" in b.followup
    # clinical users only: the front desk and billing never see it
    assert not safety.banner(env.db, w.front_desk, w.client_own).shown
    assert not safety.banner(env.db, w.billing, w.client_own).shown
    # Today: the primary therapist and the supervisor; not the front desk
    mine = today.summary(env.db, w.therapist).risk_tasks
    assert mine is not None and [t.client_id for t in mine] == [w.client_own]
    assert mine[0].flag_open and "C-SSRS" in mine[0].needs
    sup = today.summary(env.db, w.supervisor).risk_tasks
    assert sup is not None and w.client_own in [t.client_id for t in sup]
    assert today.summary(env.db, w.front_desk).risk_tasks is None
    # the audit marks it
    with env.db.session() as s:
        ev = s.exec(select(AuditEvent).where(AuditEvent.entity == "risk_flag")).all()
        assert any(e.flagged and e.client_id == w.client_own for e in ev)


def test_another_therapist_does_not_get_the_today_item(env: Env) -> None:
    w = env.world
    measures.record_measure(env.db, w.supervisor, w.client_other, "PHQ-9", TODAY, [0] * 8 + [2])
    assert today.summary(env.db, w.therapist).risk_tasks == []
    sup = today.summary(env.db, w.supervisor).risk_tasks
    assert sup is not None and [t.client_id for t in sup] == [w.client_other]


def test_note_risk_screen_raises_and_a_second_trigger_adds_history(env: Env) -> None:
    w = env.world
    phq9_positive(env, w.client_own)
    draft = notes.NoteDraft(
        client_id=w.client_own,
        service_date=TODAY,
        sections={"Data": "d", "Assessment": "a", "Plan": "p"},
        risk_suicidal=True,
        safety_plan="Reviewed coping steps",
        service_minutes=50,
    )
    saved = notes.create_note(env.db, w.therapist, draft)
    notes.sign_note(env.db, w.therapist, saved.id, saved.version)
    flags = safety.list_flags(env.db, w.therapist, w.client_own)
    assert len(flags) == 1  # one open flag, the note added to its history (once)
    events = [e.event for e in flags[0].events]
    assert events == ["raised", "retriggered"]
    assert "note risk screen" in flags[0].events[1].detail


def test_note_alone_raises_a_flag_but_an_autosave_does_not(env: Env) -> None:
    w = env.world
    draft = notes.NoteDraft(
        client_id=w.client_own,
        service_date=TODAY,
        sections={"Data": "d"},
        risk_suicidal=True,
    )
    notes.autosave_note(env.db, w.therapist, None, None, draft)
    assert safety.list_flags(env.db, w.therapist, w.client_own) == []
    draft.sections = {"Data": "d", "Assessment": "a", "Plan": "p"}
    draft.safety_plan = "Safety plan reviewed"
    draft.service_minutes = 45
    notes.create_note(env.db, w.therapist, draft)
    flags = safety.list_flags(env.db, w.therapist, w.client_own)
    assert [f.source for f in flags] == ["note"]


def test_follow_up_needs_cssrs_and_a_plan_or_decision(env: Env) -> None:
    w = env.world
    phq9_positive(env, w.client_own)
    flag = safety.list_flags(env.db, w.therapist, w.client_own)[0]
    # a decision without an assessment leaves the task open
    flag = safety.record_decision(
        env.db,
        w.therapist,
        flag.id,
        flag.version,
        "Passive ideation only, no plan or intent; protective factors strong; review weekly.",
    )
    assert flag.followup_open and flag.followup_needs == "a C-SSRS risk assessment"
    screen = safety.record_cssrs(
        env.db,
        w.therapist,
        w.client_own,
        CssrsInput(TODAY, wish_dead=True, disposition="Safety planning; weekly review"),
    )
    assert screen.risk_level == "low"
    flag = safety.list_flags(env.db, w.therapist, w.client_own)[0]
    assert not flag.followup_open and flag.followup_needs == ""
    assert flag.status == "open"  # the flag itself stays until a clinician clears it
    assert [e.event for e in flag.events] == ["raised", "decision", "assessed", "follow-up done"]


def test_signed_safety_plan_completes_the_follow_up(env: Env) -> None:
    w = env.world
    phq9_positive(env, w.client_own)
    safety.record_cssrs(
        env.db,
        w.therapist,
        w.client_own,
        CssrsInput(TODAY, True, True, True, disposition="Safety plan written today"),
    )
    assert safety.list_flags(env.db, w.therapist, w.client_own)[0].followup_open
    plan = safety.save_safety_plan(env.db, w.therapist, w.client_own, full_plan())
    safety.sign_safety_plan(env.db, w.therapist, plan.id, plan.version)
    flag = safety.list_flags(env.db, w.therapist, w.client_own)[0]
    assert not flag.followup_open and flag.safety_plan_id == plan.id


def test_clearing_needs_a_clinician_and_a_reason_and_keeps_history(env: Env) -> None:
    w = env.world
    phq9_positive(env, w.client_own)
    flag = safety.list_flags(env.db, w.therapist, w.client_own)[0]
    with pytest.raises(ValidationError, match="reason"):
        safety.clear_flag(env.db, w.therapist, flag.id, flag.version, "  ")
    for who in (w.front_desk, w.billing, w.admin):
        with pytest.raises(PermissionDenied):
            safety.clear_flag(env.db, who, flag.id, flag.version, "ok")
    # a therapist without this client on their caseload cannot clear it
    phq9 = measures.record_measure(
        env.db, w.supervisor, w.client_other, "PHQ-9", TODAY, [0] * 8 + [1]
    )
    assert phq9.suicide_risk
    other = safety.list_flags(env.db, w.supervisor, w.client_other)[0]
    with pytest.raises(PermissionDenied):
        safety.clear_flag(env.db, w.therapist, other.id, other.version, "fine")
    cleared = safety.clear_flag(
        env.db, w.therapist, flag.id, flag.version, "C-SSRS negative; denies ideation"
    )
    assert cleared.status == "cleared" and cleared.clear_reason.startswith("C-SSRS")
    assert cleared.cleared_by.startswith("Theo Rapist")
    with pytest.raises(UserError, match="already cleared"):
        safety.clear_flag(env.db, w.therapist, flag.id, cleared.version, "again")
    # follow-up still open: the banner says so
    b = safety.banner(env.db, w.therapist, w.client_own)
    assert b.shown and "cleared; follow-up still open" in b.text
    # a new trigger raises a new flag; the old one stays in the history
    phq9_positive(env, w.client_own)
    flags = safety.list_flags(env.db, w.therapist, w.client_own)
    assert [f.status for f in flags] == ["open", "cleared"]
    with env.db.session() as s:
        assert len(s.exec(select(RiskFlag)).all()) == 3


def test_manual_flag_needs_a_reason(env: Env) -> None:
    w = env.world
    with pytest.raises(ValidationError):
        safety.raise_flag(env.db, w.therapist, w.client_own, "")
    f = safety.raise_flag(env.db, w.therapist, w.client_own, "Disclosed at check-in")
    assert f.source == "manual" and f.status == "open"


# -- C-SSRS ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answers", "level"),
    [
        ({}, "none"),
        ({"wish_dead": True}, "low"),
        ({"suicidal_thoughts": True}, "low"),
        ({"suicidal_thoughts": True, "thoughts_with_method": True}, "moderate"),
        ({"behavior_ever": True}, "moderate"),
        ({"suicidal_thoughts": True, "intent": True}, "high"),
        ({"suicidal_thoughts": True, "plan_with_intent": True}, "high"),
        ({"behavior_ever": True, "behavior_past_3_months": True}, "high"),
    ],
)
def test_cssrs_triage(answers: dict[str, bool], level: str) -> None:
    assert safety.cssrs_risk(CssrsInput(TODAY, **answers)) == level


def test_cssrs_validation(env: Env) -> None:
    w = env.world
    with pytest.raises(ValidationError, match="question 2"):
        safety.record_cssrs(
            env.db, w.therapist, w.client_own, CssrsInput(TODAY, intent=True, disposition="x")
        )
    with pytest.raises(ValidationError, match="question 6"):
        safety.record_cssrs(
            env.db,
            w.therapist,
            w.client_own,
            CssrsInput(TODAY, behavior_past_3_months=True, disposition="x"),
        )
    with pytest.raises(ValidationError, match="disposition"):
        safety.record_cssrs(env.db, w.therapist, w.client_own, CssrsInput(TODAY, wish_dead=True))
    with pytest.raises(ValidationError, match="future"):
        safety.record_cssrs(
            env.db, w.therapist, w.client_own, CssrsInput(TODAY + timedelta(days=1))
        )
    with pytest.raises(PermissionDenied):
        safety.record_cssrs(env.db, w.front_desk, w.client_own, CssrsInput(TODAY))
    s = safety.record_cssrs(env.db, w.therapist, w.client_own, CssrsInput(TODAY))
    assert s.risk_level == "none" and s.signed_at is not None
    assert [x.id for x in safety.list_cssrs(env.db, w.therapist, w.client_own)] == [s.id]


# -- 2. safety plan ----------------------------------------------------------------------------
def test_safety_plan_sign_rules_lock_supersede_and_pdf(env: Env, tmp_path: Path) -> None:
    w = env.world
    start = safety.new_plan_data(env.db, w.therapist, w.client_own)
    assert [c.phone for c in start.professionals] == ["988"]
    draft = safety.save_safety_plan(env.db, w.therapist, w.client_own, start)
    with pytest.raises(ValidationError, match="Step 1 is empty"):
        safety.sign_safety_plan(env.db, w.therapist, draft.id, draft.version)
    no988 = full_plan(professionals=[Contact("Dr. Reyes", "555-100-2000")])
    draft = safety.save_safety_plan(env.db, w.therapist, w.client_own, no988, draft.id, 1)
    with pytest.raises(ValidationError, match="988"):
        safety.sign_safety_plan(env.db, w.therapist, draft.id, draft.version)
    with pytest.raises(ValidationError, match="needs a phone"):
        bad = full_plan(help_contacts=[Contact("Ana", "")])
        d2 = safety.save_safety_plan(env.db, w.therapist, w.client_own, bad, draft.id, 2)
        safety.sign_safety_plan(env.db, w.therapist, d2.id, d2.version)
    draft = safety.list_safety_plans(env.db, w.therapist, w.client_own)[0]
    draft = safety.save_safety_plan(
        env.db, w.therapist, w.client_own, full_plan(), draft.id, draft.version
    )
    signed = safety.sign_safety_plan(env.db, w.therapist, draft.id, draft.version)
    assert signed.status == "signed" and signed.content_sha256
    assert safety.verify_safety_plan(env.db, w.therapist, signed.id)
    with pytest.raises(UserError, match="signed and locked"):
        safety.save_safety_plan(
            env.db, w.therapist, w.client_own, full_plan(), signed.id, signed.version
        )
    # the database refuses a change to the signed content, and a delete
    with pytest.raises(Exception, match="locked"), env.db.session() as s:
        s.execute(
            text("UPDATE safetyplan SET reasons_for_living = 'x' WHERE id = :i"), {"i": signed.id}
        )
    with pytest.raises(Exception, match="signed"), env.db.session() as s:
        s.execute(text("DELETE FROM safetyplan WHERE id = :i"), {"i": signed.id})
    # a second signed plan supersedes the first
    again = safety.new_plan_data(env.db, w.therapist, w.client_own)
    assert again.reasons_for_living == "My daughter"
    second = safety.save_safety_plan(env.db, w.therapist, w.client_own, again)
    safety.sign_safety_plan(env.db, w.therapist, second.id, second.version)
    statuses = [p.status for p in safety.list_safety_plans(env.db, w.therapist, w.client_own)]
    assert statuses == ["signed", "superseded"]
    # printable
    out = tmp_path / "safety.pdf"
    safety.print_safety_plan(env.db, w.therapist, second.id, out)
    body = pdf_text(out)
    for words in (
        "Safety Plan",
        "1. Warning signs",
        "Not sleeping; isolating",
        "4. People whom I can ask for help",
        "555-201-3344",
        "988",
        "6. Making the environment safe",
        "My daughter",
        "Electronically signed by Theo Rapist",
        "MRN:",
    ):
        assert words in body, words
    assert "DRAFT" not in body
    with env.db.session() as s:
        assert s.exec(
            select(AuditEvent).where(
                AuditEvent.entity == "safety_plan", AuditEvent.action == "print"
            )
        ).first()


def test_safety_plan_reader_rules(env: Env) -> None:
    w = env.world
    with pytest.raises(PermissionDenied):
        safety.list_safety_plans(env.db, w.front_desk, w.client_own)
    with pytest.raises(PermissionDenied):
        safety.save_safety_plan(env.db, w.therapist, w.client_other, full_plan())


# -- 3. medications ------------------------------------------------------------------------------
def test_medication_list_validation_stop_and_reconciliation(env: Env) -> None:
    w = env.world
    M = medications.MedicationInput
    with pytest.raises(ValidationError) as err:
        medications.add_medication(env.db, w.therapist, w.client_own, M(""))
    assert {"name", "dose", "frequency", "source"} <= set(err.value.fields)
    sert = medications.add_medication(
        env.db, w.therapist, w.client_own,
        M("Sertraline", "50 mg", "oral", "once daily", "Dr. Lee", TODAY - timedelta(60),
          source="client report"),
    )  # fmt: skip
    bup = medications.add_medication(
        env.db, w.therapist, w.client_own,
        M("Buprenorphine/naloxone", "8/2 mg", "sublingual", "once daily", "Dr. Ng",
          source="prescriber"),
    )  # fmt: skip
    with pytest.raises(ValidationError, match="reason"):
        medications.update_medication(
            env.db, w.therapist, sert.id, sert.version,
            M("Sertraline", "50 mg", "oral", "once daily", stop_date=TODAY, source="x"),
        )  # fmt: skip
    stopped = medications.update_medication(
        env.db, w.therapist, sert.id, sert.version,
        M("Sertraline", "50 mg", "oral", "once daily", "Dr. Lee", TODAY - timedelta(60),
          TODAY, "Side effects", "client report"),
    )  # fmt: skip
    assert not stopped.current_on(TODAY) and stopped.current_on(TODAY - timedelta(1))
    r = medications.reconcile(env.db, w.therapist, w.client_own, "discharge", TODAY, "Reviewed")
    assert r.medications_text == "Buprenorphine/naloxone 8/2 mg sublingual once daily"
    names = [m.name for m in medications.list_medications(env.db, w.therapist, w.client_own)]
    assert names == ["Buprenorphine/naloxone", "Sertraline"]  # current first
    medications.void_medication(env.db, w.therapist, bup.id, bup.version, "wrong client")
    assert [m.name for m in medications.list_medications(env.db, w.therapist, w.client_own)] == [
        "Sertraline"
    ]
    with pytest.raises(PermissionDenied):
        medications.list_medications(env.db, w.front_desk, w.client_own)
    with pytest.raises(ValidationError):
        medications.reconcile(env.db, w.therapist, w.client_own, "lunch", TODAY)


# -- 4. drug screens -------------------------------------------------------------------------------
def test_drug_screens_record_validate_review_and_category(env: Env) -> None:
    w = env.world
    R = drugscreens.ResultInput
    with pytest.raises(ValidationError, match="laboratory"):
        drugscreens.record_screen(
            env.db, w.therapist, w.client_own,
            drugscreens.ScreenInput(TODAY, testing="lab", panel="12",
                                    results=[R("THC", "negative")]),
        )  # fmt: skip
    with pytest.raises(ValidationError, match="negative, positive, dilute or refused"):
        drugscreens.record_screen(
            env.db, w.therapist, w.client_own,
            drugscreens.ScreenInput(TODAY, panel="12", results=[R("THC", "maybe")]),
        )  # fmt: skip
    with pytest.raises(ValidationError, match="at least one result"):
        drugscreens.record_screen(
            env.db, w.therapist, w.client_own, drugscreens.ScreenInput(TODAY, panel="12")
        )
    older = drugscreens.record_screen(
        env.db, w.therapist, w.client_own,
        drugscreens.ScreenInput(TODAY - timedelta(7), time(9, 30), True, "urine", "12-panel cup",
                                results=[R("THC", "negative"), R("Cocaine", "negative")]),
    )  # fmt: skip
    newer = drugscreens.record_screen(
        env.db, w.therapist, w.client_own,
        drugscreens.ScreenInput(TODAY, time(10), False, "oral fluid", "6-panel", "lab",
                                "Quest", [R("Fentanyl", "positive"), R("THC", "dilute")]),
    )  # fmt: skip
    assert older.summary == "All negative" and newer.any_positive
    assert newer.summary == "Fentanyl positive, THC dilute"
    assert newer.category == "drug_screens"
    timeline = drugscreens.list_screens(env.db, w.therapist, w.client_own)
    assert [s.id for s in timeline] == [newer.id, older.id]
    reviewed = drugscreens.review_screen(env.db, w.therapist, newer.id, newer.version)
    assert reviewed.reviewed_by == "Theo Rapist" and reviewed.reviewed_at is not None
    with pytest.raises(UserError, match="already reviewed"):
        drugscreens.review_screen(env.db, w.therapist, newer.id, reviewed.version)
    with env.db.session() as s:
        [(category, lines)] = drugscreens.disclosure_rows(s, w.client_own)
    assert category == "drug_screens" and len(lines) == 2
    assert "Fentanyl: positive" in lines[1] and "observed" in lines[0]
    with pytest.raises(PermissionDenied):
        drugscreens.list_screens(env.db, w.billing, w.client_own)


# -- 5. ASAM ---------------------------------------------------------------------------------------
def test_asam_rules_and_plan_pdf_shows_diagnoses(env: Env, tmp_path: Path) -> None:
    w = env.world
    A = asam.AsamInput
    notes6 = ("", "", "Depression, moderate", "Ambivalent", "Daily use until admission", "")
    with pytest.raises(ValidationError, match="0 to 4"):
        asam.record_asam(
            env.db, w.therapist, w.client_own,
            A(TODAY, "admission", (0, 1, 2, 5, 3, 1), notes6, "2.1"),
        )  # fmt: skip
    with pytest.raises(ValidationError, match="Dimension 6 is rated 2"):
        asam.record_asam(
            env.db, w.therapist, w.client_own,
            A(TODAY, "admission", (0, 1, 2, 2, 3, 2), notes6, "2.1"),
        )  # fmt: skip
    with pytest.raises(ValidationError, match="different level"):
        asam.record_asam(
            env.db, w.therapist, w.client_own,
            A(TODAY, "admission", (0, 1, 2, 2, 3, 1), notes6, "2.5", "2.1"),
        )  # fmt: skip
    a = asam.record_asam(
        env.db, w.therapist, w.client_own,
        A(TODAY, "admission", (0, 1, 2, 2, 3, 1), notes6, "2.1", "2.1"),
    )  # fmt: skip
    assert a.recommended_label == "2.1 Intensive outpatient (IOP)"
    assert asam.list_asam(env.db, w.therapist, w.client_own)[0].ratings == (0, 1, 2, 2, 3, 1)
    with env.db.session() as s:
        plan = TreatmentPlan(client_id=w.client_own, start_date=TODAY)
        s.add(plan)
        s.flush()
        plan_id = plan.id
    out = tmp_path / "plan.pdf"
    plans.print_plan(env.db, w.therapist, plan_id, out)
    body = pdf_text(out)
    assert "Diagnoses (ICD-10-CM)" in body and "F10.20" in body and "Primary" in body
    assert "ASAM dimensions (Admission" in body and "Readiness to change" in body
    assert "2.1 Intensive outpatient (IOP)" in body


# -- 6. discharge summary --------------------------------------------------------------------------
def _discharged(env: Env, dtype: str = "completed") -> discharge.DischargeInfo:
    w = env.world
    with env.db.session() as s:
        t = Track(track_code="TD", name="Adult IOP")
        s.add(t)
        s.flush()
        s.add(
            TrackEnrollment(client_id=w.client_own, track_id=t.id, start_date=TODAY - timedelta(30))
        )
        c = s.get(Client, w.client_own)
        c.status, c.admission_date = "active", TODAY - timedelta(30)
        s.add(c)
    c_version = discharge.prepare_discharge(env.db, w.therapist, w.client_own).client_version
    discharge.discharge_client(
        env.db, w.therapist, w.client_own, c_version,
        discharge.DischargeInput(TODAY, dtype, "Completed the program", "", "OP", "Clinic B"),
    )  # fmt: skip
    return discharge.list_discharges(env.db, w.therapist, w.client_own)[0]


def test_teds_reasons_and_old_types_map(env: Env) -> None:
    assert discharge.teds_reason("completed_program") == "completed"
    assert discharge.teds_reason("step_down_transfer") == "transferred"
    assert discharge.teds_reason("left_against_advice") == "left_against_advice"
    assert discharge.teds_reason("administrative") == "terminated_by_facility"
    for code in ("incarcerated", "death", "other"):
        assert discharge.teds_reason(code) == code
    assert set(discharge.TEDS_REASON.values()) == set(discharge.TEDS_LABELS)
    d = _discharged(env, "completed")  # a TEDS code as input is stored as the old value
    assert d.discharge_type == "completed_program" and d.teds_reason == "completed"


def test_discharge_summary_signs_locks_and_prints(env: Env, tmp_path: Path) -> None:
    w = env.world
    d = _discharged(env)
    with pytest.raises(ValidationError) as err:
        discharge.sign_discharge(env.db, w.therapist, d.id, d.version)
    assert {"summary", "medications"} <= set(err.value.fields)
    d = discharge.update_discharge(
        env.db, w.therapist, d.id, d.version, {"summary": "Six weeks of IOP; sober 40 days."}
    )
    medications.add_medication(
        env.db, w.therapist, w.client_own,
        medications.MedicationInput("Naltrexone", "50 mg", "oral", "daily", "Dr. Ng",
                                    source="prescriber"),
    )  # fmt: skip
    medications.reconcile(env.db, w.therapist, w.client_own, "discharge", TODAY)
    with env.db.session() as s:  # a goal row, so the goal-progress lock has one to guard
        s.add(DischargeGoalProgress(discharge_id=d.id, goal_text="Stay sober", progress="40 d"))
    with pytest.raises(PermissionDenied):
        discharge.sign_discharge(env.db, w.front_desk, d.id, d.version)
    signed = discharge.sign_discharge(env.db, w.therapist, d.id, d.version)
    assert signed.signed and signed.signed_by.startswith("Theo Rapist") and signed.content_sha256
    assert discharge.verify_discharge(env.db, w.therapist, d.id)
    with pytest.raises(UserError, match="signed and locked"):
        discharge.update_discharge(env.db, w.therapist, d.id, signed.version, {"summary": "x"})
    with pytest.raises(UserError, match="already signed"):
        discharge.sign_discharge(env.db, w.therapist, d.id, signed.version)
    with pytest.raises(Exception, match="locked"), env.db.session() as s:
        s.execute(text("UPDATE discharge SET summary = 'edited' WHERE id = :i"), {"i": d.id})
    # its goal progress is locked too: no change, and no new row
    with pytest.raises(Exception, match="locked"), env.db.session() as s:
        s.execute(
            text("UPDATE dischargegoalprogress SET progress = 'x' WHERE discharge_id = :i"),
            {"i": d.id},
        )
    with pytest.raises(Exception, match="locked"), env.db.session() as s:
        s.add(DischargeGoalProgress(discharge_id=d.id, goal_text="g", progress="p"))
    # a correction is an addendum: signed on saving, locked, printed with the summary
    with pytest.raises(ValidationError, match="Write the addendum"):
        discharge.add_discharge_addendum(env.db, w.therapist, d.id, " ")
    with pytest.raises(PermissionDenied):
        discharge.add_discharge_addendum(env.db, w.front_desk, d.id, "x")
    info = discharge.add_discharge_addendum(
        env.db, w.therapist, d.id, "Late entry: follow-up appointment confirmed 12/10."
    )
    assert [a.text for a in info.addenda] == ["Late entry: follow-up appointment confirmed 12/10."]
    assert discharge.verify_discharge(env.db, w.therapist, d.id)  # the summary is unchanged
    with pytest.raises(Exception, match="locked"), env.db.session() as s:
        s.execute(
            text("UPDATE dischargeaddendum SET text = 'x' WHERE discharge_id = :i"), {"i": d.id}
        )
    out = tmp_path / "discharge.pdf"
    discharge.print_discharge(env.db, w.therapist, d.id, out)
    body = pdf_text(out)
    assert "Addenda" in body and "follow-up appointment confirmed" in body
    for words in (
        "Discharge Summary",
        "Treatment completed",
        "Six weeks of IOP",
        "Naltrexone",
        "Electronically signed by Theo Rapist",
        "Content SHA-256",
    ):
        assert words in body, words  # fmt: skip
    with env.db.session() as row:
        assert row.get(Discharge, d.id).signed_at is not None  # type: ignore[union-attr]


# -- 2/3. aftercare packet: medications from the chart, the safety plan ----------------------------
def test_packet_medications_come_from_the_chart_and_it_holds_the_safety_plan(env: Env) -> None:
    w = env.world
    d = _discharged(env)
    with env.db.session() as s:
        plan_id = s.exec(select(aftercare.AftercarePlan.id)).first()  # type: ignore[attr-defined]
    before = aftercare.build_packet(env.db, w.therapist, plan_id)
    assert before.medications == () and before.safety_plan == ()
    medications.add_medication(
        env.db, w.therapist, w.client_own,
        medications.MedicationInput("Naltrexone", "50 mg", "oral", "once daily", "Dr. Ng",
                                    TODAY - timedelta(20), source="prescriber"),
    )  # fmt: skip
    medications.add_medication(
        env.db, w.therapist, w.client_own,
        medications.MedicationInput("Trazodone", "50 mg", "oral", "at bedtime", "Dr. Ng",
                                    TODAY - timedelta(20), d.discharge_date - timedelta(2),
                                    "No longer needed", "prescriber"),
    )  # fmt: skip
    p = safety.save_safety_plan(env.db, w.therapist, w.client_own, full_plan())
    safety.sign_safety_plan(env.db, w.therapist, p.id, p.version)
    packet = aftercare.build_packet(env.db, w.therapist, plan_id)
    assert [(m.name, m.dose, m.schedule) for m in packet.medications] == [
        ("Naltrexone", "50 mg oral", "once daily")
    ]
    steps = dict(packet.safety_plan)
    assert steps["My reasons for living"] == "My daughter"
    assert "988" in steps["Professionals and agencies I can call in a crisis"]


def test_packet_pdf_prints_the_safety_plan(env: Env, tmp_path: Path) -> None:
    from iopdesk.reports import aftercare as writer

    packet = writer.Packet(
        "Clinic", "Ana Client", date(1990, 1, 1), "M1",
        safety_plan=((writer.SAFETY_STEPS[0], "Isolating"), (writer.SAFETY_STEPS[6], "My son")),
    )  # fmt: skip
    out = tmp_path / "p.pdf"
    writer.write_pdf(packet, out)
    body = pdf_text(out)
    assert "My safety plan" in body and "Isolating" in body and "My son" in body
    es = tmp_path / "es.pdf"
    from dataclasses import replace

    writer.write_pdf(replace(packet, language="es"), es)
    body = pdf_text(es)
    assert "Mi plan de seguridad" in body and "Mis razones para vivir" in body
    assert "My reasons for living" not in body


# -- 7. hours override with an end date ---------------------------------------------------
def test_hours_override_ends_on_its_end_date(env: Env) -> None:
    w = env.world
    monday = TODAY - timedelta(days=TODAY.weekday()) - timedelta(days=14)
    with env.db.session() as s:
        t = Track(track_code="IOPX", name="IOP", required_weekly_hours=Decimal("9"))
        s.add(t)
        s.flush()
        for wd in (0, 2, 4):
            s.add(TrackBlock(track_id=t.id, weekday=wd, start_time=time(9), end_time=time(12)))
        s.add(TrackEnrollment(client_id=w.client_own, track_id=t.id, start_date=monday))
        s.add(ClinicSession(kind="group", track_id=t.id, session_date=monday, start_time=time(9),
                            end_time=time(12), status="held"))  # fmt: skip
    with env.db.session() as s:
        version = s.get(Client, w.client_own).version  # type: ignore[union-attr]
    with pytest.raises(ValidationError, match="end date has passed"):
        overrides.set_hours_override(
            env.db, w.therapist, w.client_own, version, Decimal("6"), TODAY - timedelta(1), "x"
        )
    with pytest.raises(ValidationError, match="clinical reason"):
        overrides.set_hours_override(
            env.db, w.therapist, w.client_own, version, Decimal("6"), TODAY, ""
        )
    with pytest.raises(PermissionDenied):
        overrides.set_hours_override(
            env.db, w.front_desk, w.client_own, version, Decimal("6"), TODAY, "step-down"
        )
    overrides.set_hours_override(
        env.db, w.therapist, w.client_own, version, Decimal("6"), TODAY, "Returning to work"
    )
    # then pretend time passed: the override ended on the Wednesday of the first week
    with env.db.session() as s:
        c = s.get(Client, w.client_own)
        c.required_hours_until = monday + timedelta(days=2)  # Wednesday
        s.add(c)

    def required(week: date) -> int | None:
        rows = hours.weekly_hours(env.db, w.admin, week, today=TODAY)
        return next(r.required_minutes for r in rows if r.client_id == w.client_own)

    # week 1: Mon+Wed at 6 h (2/3 x 360 = 240) + Fri at 9 h (1/3 x 540 = 180) = 420
    assert required(monday) == 420
    assert required(monday + timedelta(days=7)) == 540  # expired: the track's 9 hours
    shown = overrides.overrides_for_week(env.db, w.admin, monday)
    assert shown[w.client_own].until == monday + timedelta(days=2)
    assert "through" in shown[w.client_own].label
    assert w.client_own not in overrides.overrides_for_week(env.db, w.admin, monday + timedelta(7))
    assert overrides.current_override(env.db, w.admin, w.client_own) is None


def test_override_without_end_date_still_applies(env: Env) -> None:
    w = env.world
    with env.db.session() as s:
        c = s.get(Client, w.client_own)
        c.required_weekly_hours = Decimal("6")
        s.add(c)
    o = overrides.current_override(env.db, w.admin, w.client_own)
    assert o is not None and o.until is None and "no end date" in o.label
    with env.db.session() as s:
        v = s.get(Client, w.client_own).version  # type: ignore[union-attr]
    overrides.end_hours_override(env.db, w.therapist, w.client_own, v)
    assert overrides.current_override(env.db, w.admin, w.client_own) is None


def test_safety_tables_have_no_flag_for_unrelated_clients(env: Env) -> None:
    w = env.world
    with env.db.session() as s:
        assert s.exec(select(RiskFlag).where(col(RiskFlag.client_id) == w.client_other)).all() == []
        assert s.exec(select(SafetyPlan)).all() == []


def test_migration_upgrades_a_database_with_data_both_ways(env: Env) -> None:
    """0008 down to 0003 and back up on a database holding clients, a discharge and safety
    records: the older rows survive, the new columns start empty, the locks come back."""
    from alembic import command

    from iopdesk.migrations import HEAD, runner

    w = env.world
    d = _discharged(env)
    phq9_positive(env, w.client_own)
    cfg = runner.config()
    with env.db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003_attendance_covering")
        conn.commit()
        assert conn.exec_driver_sql("SELECT count(*) FROM discharge").scalar() == 1
    runner.upgrade(env.db.engine)
    assert env.db.schema_revision() == HEAD
    with env.db.session() as s:
        row = s.get(Discharge, d.id)
        assert row is not None and row.signed_at is None and row.reason == d.reason
        c = s.get(Client, w.client_own)
        assert c is not None and c.required_hours_until is None and c.required_hours_reason == ""
        assert s.exec(select(RiskFlag)).all() == []  # the new tables start empty
    p = safety.save_safety_plan(env.db, w.therapist, w.client_own, full_plan())
    safety.sign_safety_plan(env.db, w.therapist, p.id, p.version)
    with pytest.raises(Exception, match="locked"), env.db.session() as s:
        s.execute(text("UPDATE safetyplan SET warning_signs = 'x' WHERE id = :i"), {"i": p.id})


def test_asam_and_reconciliation_say_what_is_due(env: Env) -> None:
    from iopdesk.models import PlanReview

    w = env.world
    assert "at admission" in asam.asam_due(env.db, w.therapist, w.client_own)
    notes6 = ("", "", "", "", "", "")
    with env.db.session() as s:
        plan = TreatmentPlan(client_id=w.client_own, start_date=TODAY - timedelta(40))
        s.add(plan)
        s.flush()
        plan_id = plan.id
    asam.record_asam(
        env.db,
        w.therapist,
        w.client_own,
        asam.AsamInput(TODAY - timedelta(40), "admission", (1, 1, 1, 1, 1, 1), notes6, "2.1"),
    )
    assert asam.asam_due(env.db, w.therapist, w.client_own) == ""
    with env.db.session() as s:
        s.add(
            PlanReview(
                plan_id=plan_id, review_date=TODAY - timedelta(2), reviewer_staff_id=1, summary=""
            )
        )
    assert "plan review of" in asam.asam_due(env.db, w.therapist, w.client_own)
    a = asam.record_asam(
        env.db,
        w.therapist,
        w.client_own,
        asam.AsamInput(TODAY, "plan_review", (1, 1, 1, 1, 1, 1), notes6, "1", "1"),
    )
    assert a.plan_id == plan_id  # linked to the plan under review
    assert asam.asam_due(env.db, w.therapist, w.client_own) == ""
    # medications: intake reconciliation owed once admitted
    assert medications.reconciliation_due(env.db, w.therapist, w.client_own) == ""
    with env.db.session() as s:
        c = s.get(Client, w.client_own)
        c.admission_date = TODAY - timedelta(40)  # type: ignore[union-attr]
        s.add(c)
    assert "at intake" in medications.reconciliation_due(env.db, w.therapist, w.client_own)
    medications.reconcile(env.db, w.therapist, w.client_own, "intake", TODAY - timedelta(40))
    assert medications.reconciliation_due(env.db, w.therapist, w.client_own) == ""
