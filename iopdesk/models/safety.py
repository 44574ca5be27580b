"""Clinical safety records: suicide-risk flags, C-SSRS screens, safety plans, medications,
drug screens and ASAM dimension ratings (issue 20 items 1-5)."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlmodel import Field

from iopdesk.models.base import Tracked, UTCDateTime, Voidable


class RiskFlag(Tracked, table=True):
    """A suicide-risk flag on a client. Never deleted: cleared with a reason, so the client's
    flag history is every row. The follow-up task (assessment + safety plan or a reasoned
    decision) is tracked on the flag and stays open independently of clearing."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    kind: str = "suicide"
    source: str  # phq9 | note | manual
    source_id: int | None = None  # outcome measure id or note id
    detail: str = ""  # what raised it (no note text)
    raised_at: datetime = Field(sa_type=UTCDateTime)
    raised_by: int | None = Field(default=None, foreign_key="app_user.id")
    status: str = Field(default="open", index=True)  # open | cleared
    cleared_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cleared_by: int | None = Field(default=None, foreign_key="app_user.id")
    clear_reason: str = ""
    # the follow-up task
    assessment_id: int | None = Field(default=None, foreign_key="cssrsscreen.id")
    safety_plan_id: int | None = Field(default=None, foreign_key="safetyplan.id")
    decision: str = ""  # the reasoned decision not to write a safety plan
    decision_by: int | None = Field(default=None, foreign_key="app_user.id")
    followup_done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RiskFlagEvent(Tracked, table=True):
    """One dated line of a flag's history: raised, retriggered, assessed, plan, cleared."""

    id: int | None = Field(default=None, primary_key=True)
    flag_id: int = Field(foreign_key="riskflag.id", index=True)
    event: str
    detail: str = ""
    at: datetime = Field(sa_type=UTCDateTime)
    by_user: int | None = Field(default=None, foreign_key="app_user.id")


class CssrsScreen(Tracked, Voidable, table=True):
    """Columbia Suicide Severity Rating Scale, screener (recent / since last contact)."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    screen_date: date
    wish_dead: bool = False  # Q1
    suicidal_thoughts: bool = False  # Q2
    thoughts_with_method: bool = False  # Q3
    intent: bool = False  # Q4
    plan_with_intent: bool = False  # Q5
    behavior_ever: bool = False  # Q6
    behavior_past_3_months: bool = False  # Q6 follow-up
    risk_level: str  # none | low | moderate | high
    clinical_note: str = ""
    disposition: str = ""
    administered_by: int = Field(foreign_key="staff.id")
    signed_by: int | None = Field(default=None, foreign_key="app_user.id")
    signed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SafetyPlan(Tracked, table=True):
    """Stanley-Brown safety plan. Signed plans are locked (database triggers); a newer signed
    plan supersedes the older one."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    status: str = "draft"  # draft | signed | superseded
    warning_signs: str = ""
    internal_coping: str = ""
    distraction: str = ""  # people and social settings that provide distraction
    help_contacts_json: str = "[]"  # [{"name", "phone"}] people I can ask for help
    professionals_json: str = "[]"  # [{"name", "phone"}] professionals and agencies
    environment_safety: str = ""
    reasons_for_living: str = ""
    client_participated: bool = False
    signed_by: int | None = Field(default=None, foreign_key="app_user.id")
    signed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    content_sha256: str | None = None


class Medication(Tracked, Voidable, table=True):
    """One medication on the client's chart list (current while stop_date is empty)."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    name: str
    dose: str = ""
    route: str = ""
    frequency: str = ""
    prescriber: str = ""
    start_date: date | None = None
    stop_date: date | None = None
    stop_reason: str = ""
    source: str = ""  # client report | prescriber | pharmacy | prior records | medication bottle


class MedicationReconciliation(Tracked, table=True):
    """A clinician reviewed the whole list with the client (at intake or at discharge)."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    occasion: str  # intake | discharge | review
    reconciled_on: date
    staff_id: int = Field(foreign_key="staff.id")
    medications_text: str = ""  # the reconciled list as it stood (name dose route frequency)
    note: str = ""


class DrugScreen(Tracked, Voidable, table=True):
    """A drug screen specimen; its information category for disclosures is drug_screens."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    collected_date: date = Field(index=True)
    collected_time: time | None = None
    observed: bool = False
    specimen: str = "urine"
    panel: str = ""
    testing: str = "point_of_care"  # point_of_care | lab
    lab_name: str = ""
    collected_by: int | None = Field(default=None, foreign_key="staff.id")
    reviewed_by: int | None = Field(default=None, foreign_key="staff.id")
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    comment: str = ""


class DrugScreenResult(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    screen_id: int = Field(foreign_key="drugscreen.id", index=True)
    substance: str
    result: str  # negative | positive | dilute | refused


class AsamAssessment(Tracked, Voidable, table=True):
    """ASAM Criteria dimensions 1-6, each rated 0-4 with a note, and the level of care."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    assessed_on: date
    occasion: str  # admission | plan_review | other
    plan_id: int | None = Field(default=None, foreign_key="treatmentplan.id")
    d1_rating: int
    d1_note: str = ""
    d2_rating: int
    d2_note: str = ""
    d3_rating: int
    d3_note: str = ""
    d4_rating: int
    d4_note: str = ""
    d5_rating: int
    d5_note: str = ""
    d6_rating: int
    d6_note: str = ""
    recommended_level: str
    placed_level: str = ""
    variance_reason: str = ""
    staff_id: int = Field(foreign_key="staff.id")
