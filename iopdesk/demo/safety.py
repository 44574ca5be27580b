"""Clinical-safety records of the demo clinic (issue 20), with no random numbers: added last,
from what the demo already holds, so the rest of the demo stays exactly as it was.

- Every active client: a medication list (reconciled at intake) and ASAM dimensions at
  admission; clients on substance-use tracks: weekly drug screens since admission.
- Every active client whose newest PHQ-9 has item 9 above 0: a suicide-risk flag raised that
  day; every other such client has the follow-up documented (C-SSRS screener and a signed
  safety plan), the rest still show on Today.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import or_
from sqlmodel import Session, col, select

from iopdesk.models import (
    AsamAssessment,
    Client,
    CssrsScreen,
    DrugScreen,
    DrugScreenResult,
    Medication,
    MedicationReconciliation,
    OutcomeMeasure,
    RiskFlag,
    RiskFlagEvent,
    SafetyPlan,
    TherapistAssignment,
    Track,
    TrackEnrollment,
    User,
)
from iopdesk.services.safety import canonical_plan

MEDS = (
    ("Sertraline", "50 mg", "oral", "once daily", "Dr. Priya Raman", "prescriber"),
    ("Naltrexone", "50 mg", "oral", "once daily", "Dr. Priya Raman", "prescriber"),
    ("Trazodone", "50 mg", "oral", "at bedtime as needed", "Dr. Lee", "client report"),
    ("Buprenorphine/naloxone", "8/2 mg", "sublingual", "once daily", "Dr. Ng", "pharmacy record"),
    ("Bupropion XL", "150 mg", "oral", "every morning", "Dr. Lee", "medication bottle"),
)
PANEL = ("Alcohol (EtG)", "Amphetamines", "Benzodiazepines", "Cocaine", "Fentanyl", "Opiates",
         "THC")  # fmt: skip


def _at(d: date, hour: int = 15) -> datetime:
    return datetime.combine(d, time(hour), tzinfo=UTC)


def add_demo_safety(session: Session, today: date) -> int:
    """Add the records; returns the number of clients given any."""
    rows = session.exec(
        select(Client, TrackEnrollment.track_id, Track.is_sud)
        .join(TrackEnrollment, col(TrackEnrollment.client_id) == col(Client.id))
        .join(Track, col(Track.id) == col(TrackEnrollment.track_id))
        .where(
            Client.status == "active",
            col(TrackEnrollment.voided_at).is_(None),
            or_(col(TrackEnrollment.end_date).is_(None), col(TrackEnrollment.end_date) >= today),
        )
        .order_by(col(Client.id))
    ).all()
    done: set[int] = set()
    flagged = 0
    for client, _track_id, is_sud in rows:
        cid = client.id
        if cid is None or cid in done or client.admission_date is None:
            continue
        done.add(cid)
        n = len(done)
        admitted = client.admission_date
        assignment = session.exec(
            select(TherapistAssignment)
            .where(
                TherapistAssignment.client_id == cid,
                col(TherapistAssignment.voided_at).is_(None),
                TherapistAssignment.role == "primary_therapist",
            )
            .order_by(col(TherapistAssignment.start_date).desc())
        ).first()
        if assignment is None:
            continue
        staff_id = assignment.staff_id
        user = session.exec(select(User).where(User.staff_id == staff_id)).first()
        user_id = user.id if user else None
        # medications, reconciled at intake
        chosen = [MEDS[(n + k) % len(MEDS)] for k in range(1 + n % 2)]
        for name, dose, route, freq, prescriber, source in chosen:
            session.add(
                Medication(
                    client_id=cid, name=name, dose=dose, route=route, frequency=freq,
                    prescriber=prescriber, start_date=admitted - timedelta(days=30 + n),
                    source=source, created_by=user_id, updated_by=user_id,
                )
            )  # fmt: skip
        session.add(
            MedicationReconciliation(
                client_id=cid, occasion="intake", reconciled_on=admitted, staff_id=staff_id,
                medications_text="\n".join(" ".join(m[:4]) for m in chosen),
                note="Reviewed with the client.", created_by=user_id, updated_by=user_id,
            )
        )  # fmt: skip
        # ASAM at admission
        d5 = 3 if is_sud else 2
        session.add(
            AsamAssessment(
                client_id=cid, assessed_on=admitted, occasion="admission",
                d1_rating=1 if is_sud else 0, d1_note="", d2_rating=0, d2_note="",
                d3_rating=2, d3_note="Depressed mood and anxiety; PHQ-9 in the moderate range",
                d4_rating=2, d4_note="Ambivalent; attends when reminded",
                d5_rating=d5, d5_note="Daily use or symptoms until admission; two relapses",
                d6_rating=1 + n % 2, d6_note="Lives with family; one using peer" if n % 2 else "",
                recommended_level="2.1", placed_level="2.1", staff_id=staff_id,
                created_by=user_id, updated_by=user_id,
            )
        )  # fmt: skip
        # weekly drug screens on substance-use tracks
        if is_sud:
            day = admitted + timedelta(days=2)
            week = 0
            while day < today and week < 8:
                screen = DrugScreen(
                    client_id=cid, collected_date=day, collected_time=time(9, 15),
                    observed=week % 2 == 0, specimen="urine", panel="12-panel cup",
                    testing="point_of_care", collected_by=staff_id, reviewed_by=staff_id,
                    reviewed_at=_at(day), created_by=user_id, updated_by=user_id,
                )  # fmt: skip
                session.add(screen)
                session.flush()
                for substance in PANEL:
                    result = "negative"
                    if substance == "THC" and week == 0 and n % 3 == 0:
                        result = "positive"
                    elif substance == "Alcohol (EtG)" and week == 1 and n % 4 == 0:
                        result = "dilute"
                    session.add(
                        DrugScreenResult(screen_id=screen.id or 0, substance=substance,
                                         result=result)
                    )  # fmt: skip
                day += timedelta(days=7)
                week += 1
        # suicide risk from the newest PHQ-9
        phq = session.exec(
            select(OutcomeMeasure)
            .where(OutcomeMeasure.client_id == cid, OutcomeMeasure.instrument == "PHQ-9")
            .order_by(col(OutcomeMeasure.measure_date).desc())
        ).first()
        if phq is None or int(phq.item_scores.split(",")[8]) == 0:
            continue
        flagged += 1
        raised = _at(phq.measure_date)
        flag = RiskFlag(
            client_id=cid, source="phq9", source_id=phq.id,
            detail=f"item 9 answered {phq.item_scores.split(',')[8]}", raised_at=raised,
            raised_by=user_id, created_by=user_id, updated_by=user_id,
        )  # fmt: skip
        session.add(flag)
        session.flush()
        session.add(RiskFlagEvent(flag_id=flag.id or 0, event="raised", at=raised,
                                  detail=f"PHQ-9 item 9 #{phq.id}", by_user=user_id))  # fmt: skip
        if flagged % 2 == 0:
            continue  # left open: shows on Today and in the banner
        screen_day = min(phq.measure_date + timedelta(days=1), today)
        cssrs = CssrsScreen(
            client_id=cid, screen_date=screen_day, wish_dead=True, risk_level="low",
            clinical_note="Passive wish to be dead; no plan, intent or behavior.",
            disposition="Safety plan written with the client; reviewed weekly.",
            administered_by=staff_id, signed_by=user_id, signed_at=_at(screen_day, 16),
            created_by=user_id, updated_by=user_id,
        )  # fmt: skip
        plan = SafetyPlan(
            client_id=cid, status="signed",
            warning_signs="Not sleeping; staying in my room; thinking nobody would notice",
            internal_coping="Walk around the block; shower; guided breathing app",
            distraction="Coffee shop on Main St; the library; my cousin's house",
            help_contacts_json='[{"name": "My sister", "phone": "(555) 010-2233"}]',
            professionals_json='[{"name": "988 Suicide & Crisis Lifeline (call or text)", '
            '"phone": "988"}, {"name": "Riverbend IOP", "phone": "(555) 010-4400"}]',
            environment_safety="My brother keeps my medications; no firearms at home",
            reasons_for_living="My kids; my dog", client_participated=True,
            signed_by=user_id, signed_at=_at(screen_day, 17),
            created_by=user_id, updated_by=user_id,
        )  # fmt: skip
        plan.content_sha256 = hashlib.sha256(canonical_plan(plan).encode("utf-8")).hexdigest()
        session.add_all([cssrs, plan])  # signed as inserted: the lock allows no later update
        session.flush()
        flag.assessment_id, flag.safety_plan_id = cssrs.id, plan.id
        flag.followup_done_at = _at(screen_day, 17)
        session.add(flag)
        for event, detail, hour in (
            ("assessed", "C-SSRS: Low risk", 16),
            ("safety plan", f"safety plan #{plan.id} signed", 17),
            ("follow-up done", "", 17),
        ):
            session.add(RiskFlagEvent(flag_id=flag.id or 0, event=event, detail=detail,
                                      at=_at(screen_day, hour), by_user=user_id))  # fmt: skip
        session.flush()
    return len(done)
