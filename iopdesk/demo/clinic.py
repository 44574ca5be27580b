"""A fake but realistic demo clinic, for trying IOPDesk, training, screenshots and tests.

Everything is invented: people, NPIs (valid check digits, no real providers), payers and
member IDs. The clinic is flagged `is_demo`. The data is deterministic for a given
(today, seed), so screenshots and tests are reproducible. Bulk rows go in with ORM bulk
INSERTs (docs/architecture.md: `add_all` is ~15x slower) inside one transaction.
"""

from __future__ import annotations

import hashlib
import json
import random
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import insert, select
from sqlmodel import Session, SQLModel, col

from iopdesk.db import Database
from iopdesk.models import (
    Attendance,
    Authorization,
    Client,
    ClinicClosure,
    ClinicSession,
    Coverage,
    Diagnosis,
    Discharge,
    EmergencyContact,
    Episode,
    FeeSchedule,
    GoalProgress,
    GroupNote,
    Note,
    OutcomeMeasure,
    Payer,
    PlanGoal,
    PlanIntervention,
    PlanObjective,
    PlanProblem,
    PlanReview,
    SessionFacilitator,
    Staff,
    StatusChange,
    TherapistAssignment,
    Track,
    TrackBlock,
    TrackEnrollment,
    TreatmentPlan,
)
from iopdesk.models.enums import (
    AssignmentRole,
    AttendanceStatus,
    BillingMode,
    ClientStatus,
    DischargeType,
    NoteFormat,
    NoteStatus,
    PlanStatus,
    SessionKind,
    SessionStatus,
    Telehealth,
)
from iopdesk.models.org import DEFAULT_WEEKLY_DAYS
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.auth import create_user_in, hash_password
from iopdesk.services.clinic import setup_clinic

DEMO_PASSWORD = "iopdesk-demo"
CLINIC_NAME = "Riverbend Recovery & Wellness (DEMO)"
CLINIC_TIMEZONE = "America/Chicago"
SESSION_WEEKS = 12  # weeks of history, ending today


@dataclass(frozen=True)
class DemoSummary:
    clients: int
    staff: int
    tracks: int
    sessions: int
    attendance: int
    notes: int
    payers: int
    usernames: list[str]


# -- fixed catalogue ------------------------------------------------------------------------


@dataclass(frozen=True)
class _StaffSpec:
    key: str
    first: str
    last: str
    credentials: str
    roles: str
    username: str
    license_prefix: str | None = None  # None: not a licensed clinician (no NPI either)
    note_format: str = NoteFormat.DAP.value
    office: str = ""
    supervisor: str | None = None


STAFF: tuple[_StaffSpec, ...] = (
    _StaffSpec(
        "okafor",
        "Margaret",
        "Okafor",
        "LCSW",
        "supervisor,therapist",
        "supervisor",
        "149",
        NoteFormat.DAP.value,
        "Office 1",
    ),
    _StaffSpec(
        "reyes", "Daniel", "Reyes", "LPC", "therapist", "therapist", "178", "SOAP", "Office 2"
    ),
    _StaffSpec(
        "raman", "Priya", "Raman", "LADC", "therapist", "therapist2", "183", "DAP", "Office 3"
    ),
    _StaffSpec(
        "whitfield",
        "Jordan",
        "Whitfield",
        "LPC-Associate",
        "therapist",
        "therapist3",
        "179",
        "BIRP",
        "Office 4",
        supervisor="okafor",
    ),
    _StaffSpec(
        "nakamura",
        "Emily",
        "Nakamura",
        "LMFT",
        "therapist",
        "therapist4",
        "168",
        "BIRP",
        "Family Room",
    ),
    _StaffSpec(
        "adeyemi", "Samuel", "Adeyemi", "MD", "therapist", "psychiatrist", "036", "SOAP", "Office 5"
    ),
    _StaffSpec("brennan", "Hannah", "Brennan", "", "front_desk", "frontdesk"),
    _StaffSpec("ortega", "Luis", "Ortega", "CPC", "billing", "billing"),
)
_STAFF_BY_KEY = {s.key: s for s in STAFF}
EXPIRING_LICENSE = "raman"  # expires within 60 days: the Today screen's licence warning


@dataclass(frozen=True)
class _TrackSpec:
    code: str
    name: str
    population: str
    is_sud: bool
    hours: Decimal
    per_diem_code: str
    room: str
    blocks: tuple[tuple[int, time, time], ...]  # weekday (0 = Monday), start, end
    flavor: str  # which phrase bank notes draw from: sud | mh | teen

    @property
    def weekdays(self) -> tuple[int, ...]:
        return tuple(b[0] for b in self.blocks)


TRACKS: tuple[_TrackSpec, ...] = (
    _TrackSpec(
        "SUD-EVE",
        "Adult SUD Evening IOP",
        "adult",
        True,
        Decimal("9"),
        "H0015",
        "Group Room A",
        tuple((d, time(18, 0), time(21, 0)) for d in (0, 2, 3)),
        "sud",
    ),
    _TrackSpec(
        "MH-DAY",
        "Adult Mental Health Day IOP",
        "adult",
        False,
        Decimal("9"),
        "S9480",
        "Group Room B",
        tuple((d, time(9, 0), time(12, 0)) for d in range(5)),
        "mh",
    ),
    _TrackSpec(
        "ADOL",
        "Adolescent IOP",
        "adolescent",
        True,
        Decimal("6"),
        "H0015",
        "Teen Room",
        (
            (1, time(16, 0), time(18, 0)),
            (3, time(16, 0), time(18, 0)),
            (5, time(10, 0), time(12, 0)),
        ),
        "teen",
    ),
)
_TRACK_BY_CODE = {t.code: t for t in TRACKS}

# (track, weekday) -> (primary facilitator, co-facilitator)
FACILITATORS: dict[tuple[str, int], tuple[str, str | None]] = {
    ("SUD-EVE", 0): ("raman", "whitfield"),
    ("SUD-EVE", 2): ("whitfield", None),
    ("SUD-EVE", 3): ("raman", None),
    ("MH-DAY", 0): ("reyes", None),
    ("MH-DAY", 1): ("okafor", None),
    ("MH-DAY", 2): ("reyes", None),
    ("MH-DAY", 3): ("nakamura", None),
    ("MH-DAY", 4): ("reyes", None),
    ("ADOL", 1): ("nakamura", "whitfield"),
    ("ADOL", 3): ("nakamura", "whitfield"),
    ("ADOL", 5): ("whitfield", None),
}

# primary-therapist caseload weights per track
CASELOAD: dict[str, tuple[tuple[str, int], ...]] = {
    "SUD-EVE": (("raman", 4), ("whitfield", 3), ("reyes", 2), ("okafor", 1)),
    "MH-DAY": (("reyes", 4), ("nakamura", 3), ("okafor", 2)),
    "ADOL": (("nakamura", 3), ("whitfield", 2)),
}


@dataclass(frozen=True)
class _PayerSpec:
    code: str
    name: str
    mode: str
    requires_auth: bool
    factor: Decimal
    member_prefix: str | None  # None: no member ID (self-pay)
    auth_prefix: str = ""


PAYERS: tuple[_PayerSpec, ...] = (
    _PayerSpec(
        "PSMCD",
        "Prairie State Medicaid",
        BillingMode.PER_DIEM.value,
        True,
        Decimal("0.80"),
        "",
        "PA",
    ),
    _PayerSpec(
        "GLCHP",
        "Great Lakes Community Health Plan (Medicaid MCO)",
        BillingMode.PER_DIEM.value,
        True,
        Decimal("0.85"),
        "GL",
        "GLA",
    ),
    _PayerSpec(
        "LHP", "Lakeshore Health Plan", BillingMode.PER_DIEM.value, False, Decimal("1.25"), "LHP"
    ),
    _PayerSpec(
        "SUMMIT",
        "Summit Mutual Insurance",
        BillingMode.PER_SERVICE.value,
        True,
        Decimal("1.15"),
        "SMU",
        "SM",
    ),
    _PayerSpec(
        "SELF",
        "Self-pay (sliding scale)",
        BillingMode.PER_SERVICE.value,
        False,
        Decimal("0.50"),
        None,
    ),
)
_PAYER_BY_CODE = {p.code: p for p in PAYERS}
PAYER_MIX: dict[str, tuple[tuple[str, int], ...]] = {
    "SUD-EVE": (("PSMCD", 4), ("GLCHP", 2), ("LHP", 2), ("SUMMIT", 1), ("SELF", 1)),
    "MH-DAY": (("PSMCD", 2), ("GLCHP", 1), ("LHP", 4), ("SUMMIT", 2), ("SELF", 1)),
    "ADOL": (("PSMCD", 3), ("GLCHP", 1), ("LHP", 3), ("SUMMIT", 1)),
}
BASE_RATES: dict[str, Decimal] = {
    "H0015": Decimal("150.00"),
    "S9480": Decimal("275.00"),
    "90853": Decimal("55.00"),
    "90832": Decimal("78.00"),
    "90834": Decimal("112.00"),
    "90837": Decimal("152.00"),
    "90847": Decimal("118.00"),
    "90791": Decimal("190.00"),
}

DIAGNOSES: dict[str, str] = {
    "F10.20": "Alcohol dependence, uncomplicated",
    "F11.20": "Opioid dependence, uncomplicated",
    "F12.20": "Cannabis dependence, uncomplicated",
    "F14.20": "Cocaine dependence, uncomplicated",
    "F15.20": "Other stimulant dependence, uncomplicated",
    "F33.1": "Major depressive disorder, recurrent, moderate",
    "F32.1": "Major depressive disorder, single episode, moderate",
    "F41.1": "Generalized anxiety disorder",
    "F43.10": "Post-traumatic stress disorder, unspecified",
    "F31.81": "Bipolar II disorder",
}
_SUD_PRIMARY = ("F10.20",) * 4 + ("F11.20",) * 3 + ("F14.20", "F15.20", "F15.20")
_MH_PRIMARY = ("F33.1",) * 4 + ("F32.1", "F32.1", "F41.1", "F41.1", "F43.10", "F43.10", "F31.81")
_TEEN_PRIMARY = ("F12.20",) * 4 + ("F10.20",)
_COOCCURRING = ("F33.1", "F41.1", "F43.10", "F32.1")


@dataclass(frozen=True)
class _Name:
    first: str
    last: str
    sex: str
    preferred: str = ""
    pronouns: str = ""
    language: str = "English"
    middle: str = ""


ADULT_NAMES: tuple[_Name, ...] = (
    _Name("Marcus", "Bell", "M"),
    _Name("Jennifer", "Kowalczyk", "F", preferred="Jen"),
    _Name("Thanh", "Nguyễn", "M"),
    _Name("Zoë", "Hartley", "F", pronouns="she/her"),
    _Name("Łukasz", "Nowak", "M"),
    _Name("Sigrún", "Ólafsdóttir", "F"),
    _Name("Rosa", "Martínez", "F", language="Spanish"),
    _Name("José", "Ramírez", "M", middle="Luis", language="Spanish"),
    _Name("DeShawn", "Carter", "M"),
    _Name("Aisha", "Mohammed", "F"),
    _Name("Kevin", "O'Brien", "M"),
    _Name("Tamara", "Jenkins", "F"),
    _Name("Robert", "Sandoval", "M", preferred="Bobby"),
    _Name("Heather", "Lindqvist", "F"),
    _Name("Christopher", "Dunn", "M", preferred="Chris"),
    _Name("Guadalupe", "Herrera", "F", preferred="Lupe", language="Spanish"),
    _Name("Anthony", "Russo", "M"),
    _Name("Brianna", "Washington", "F"),
    _Name("Wei", "Chen", "M"),
    _Name("Fatima", "Haddad", "F"),
    _Name("Tyler", "Brooks", "M", pronouns="he/him"),
    _Name("Krystal", "Dawson", "F"),
    _Name("Dmitri", "Volkov", "M"),
    _Name("Nicole", "Patterson", "F"),
    _Name("Raymond", "Two Bears", "M"),
    _Name("Ashley", "Moreno", "F"),
    _Name("Jamal", "Greene", "M"),
    _Name("Megan", "Schultz", "F", middle="Anne"),
    _Name("Alejandro", "Cruz", "M"),
    _Name("Patricia", "Byrne", "F", preferred="Trish"),
    _Name("Hiroshi", "Tanaka", "M"),
    _Name("Leah", "Goldberg", "F"),
    _Name("Curtis", "Holloway", "M"),
    _Name("Renée", "Dubois", "F"),
    _Name("Francisco", "Gutiérrez", "M", preferred="Paco", language="Spanish"),
    _Name("Kimberly", "Sato", "F"),
    _Name("Jonathan", "Pierce", "M", preferred="Jon"),
    _Name("Destiny", "Coleman", "F"),
    _Name("Noah", "Abernathy", "M"),
    _Name("Samantha", "Whitaker", "F", preferred="Sam"),
    _Name("Mohammed", "Al-Sayed", "M"),
    _Name("Crystal", "Begay", "F"),
    _Name("Derek", "Lindgren", "M"),
    _Name("Olga", "Petrenko", "F"),
    _Name("Travis", "McAllister", "M"),
    _Name("Ngozi", "Eze", "F"),
    _Name("Alex", "Kim", "X", pronouns="they/them"),
    _Name("Brandon", "Fischer", "M", middle="James"),
    _Name("Valeria", "Castillo", "F"),
    _Name("Gregory", "Håkansson", "M", preferred="Greg"),
)
TEEN_NAMES: tuple[_Name, ...] = (
    _Name("Jayden", "Morales", "M"),
    _Name("Maya", "Thompson", "F"),
    _Name("Ethan", "Kowalski", "M"),
    _Name("Chloé", "Martin", "F"),
    _Name("Isaiah", "Robinson", "M"),
    _Name("Lily", "Park", "F"),
    _Name("Mateo", "Hernández", "M"),
    _Name("Kayla", "Johnson", "F", preferred="Kay"),
    _Name("Owen", "Sørensen", "M"),
    _Name("Riley", "Adams", "X", pronouns="they/them"),
)

# (status, track, how many); "readmitted" is an active client on their second episode.
CLIENT_PLAN: tuple[tuple[str, str, int], ...] = (
    ("active", "SUD-EVE", 14),
    ("active", "MH-DAY", 15),
    ("active", "ADOL", 6),
    ("readmitted", "SUD-EVE", 1),
    ("on_hold", "SUD-EVE", 2),
    ("on_hold", "MH-DAY", 1),
    ("discharged", "SUD-EVE", 7),
    ("discharged", "MH-DAY", 5),
    ("discharged", "ADOL", 2),
    ("intake", "SUD-EVE", 1),
    ("intake", "MH-DAY", 1),
    ("intake", "ADOL", 1),
    ("referral", "SUD-EVE", 2),
    ("referral", "MH-DAY", 1),
    ("referral", "ADOL", 1),
)
DISCHARGE_TYPES: tuple[str, ...] = (
    (DischargeType.COMPLETED.value,) * 6
    + (DischargeType.STEP_DOWN.value,) * 4
    + (DischargeType.AMA.value,) * 3
    + (DischargeType.ADMINISTRATIVE.value,)
)
DISCHARGE_TEXT: dict[str, tuple[str, str, str, str]] = {
    # type -> (enrollment end reason, discharge reason, step-down level, receiving provider)
    DischargeType.COMPLETED.value: (
        "Completed program",
        "Met treatment plan goals.",
        "OP",
        "Riverbend Outpatient Counseling",
    ),
    DischargeType.STEP_DOWN.value: (
        "Stepped down to OP",
        "Stable; stepped down to standard outpatient care.",
        "OP",
        "Lakeside Behavioral Health",
    ),
    DischargeType.AMA.value: (
        "Left against advice",
        "Stopped attending; did not respond to outreach.",
        "",
        "",
    ),
    DischargeType.ADMINISTRATIVE.value: (
        "Administrative discharge",
        "Moved out of the service area.",
        "OP",
        "Referred to a program near the new address",
    ),
}
HOLD_REASONS = (
    "Medical hospitalization",
    "Family emergency out of state",
    "Awaiting authorization renewal",
)
REFERRAL_SOURCES = {
    "sud": (
        "Self",
        "Primary care physician",
        "Emergency department",
        "Drug court",
        "Employee assistance program",
        "Lakeview detox unit",
    ),
    "mh": (
        "Self",
        "Primary care physician",
        "Psychiatric inpatient unit",
        "Employee assistance program",
        "Outpatient therapist",
    ),
    "teen": ("School counselor", "Parent", "Pediatrician", "Juvenile probation"),
}

CONTACT_FIRST_F = ("Maria", "Linda", "Karen", "Angela", "Denise", "Carmen", "Grace", "Yolanda")
CONTACT_FIRST_M = ("James", "Michael", "David", "Carlos", "Steven", "Paul", "Terrence", "Victor")
STREETS = (
    "Maple Ave",
    "Oak St",
    "River Rd",
    "Lincoln Blvd",
    "Prairie Ln",
    "Cedar Ct",
    "Washington St",
    "Mill Creek Rd",
    "Sunset Dr",
    "Elm St",
)
CITIES = (
    ("Riverbend", "60990"),
    ("Millbrook", "60991"),
    ("Fairview", "60992"),
    ("Cedar Falls", "60993"),
    ("Oak Hollow", "60994"),
)

# -- note phrase banks (kept short; notes are varied so they are not cloned) -------------------

TOPICS: dict[str, tuple[tuple[str, str, str], ...]] = {
    # flavor -> (topic, interventions, modalities)
    "sud": (
        (
            "Relapse prevention: identifying triggers",
            "Trigger mapping worksheet; pair share",
            "Relapse prevention,CBT",
        ),
        (
            "Relapse prevention: high-risk situations and refusal skills",
            "Refusal-skills role-play",
            "Relapse prevention",
        ),
        ("Coping with cravings: urge surfing", "Guided urge-surfing exercise", "Mindfulness"),
        (
            "Building a sober support network",
            "Support map; mutual-help meeting review",
            "Psychoeducation,Motivational Interviewing",
        ),
        ("Thinking errors and cognitive restructuring", "Thought records", "CBT"),
        (
            "Stages of change and personal motivation",
            "Decisional balance exercise",
            "Motivational Interviewing",
        ),
        ("The neuroscience of addiction", "Didactic with video; discussion", "Psychoeducation"),
        ("Process group: shame and self-forgiveness", "Open process group", "Psychodynamic"),
        ("Managing stress without substances", "Stress inventory; paced breathing", "CBT"),
        ("Family roles in addiction", "Genogram discussion", "Family systems,Psychoeducation"),
        ("Medication-assisted treatment: facts and myths", "Didactic; Q&A", "Psychoeducation"),
        ("Healthy routines: sleep, nutrition and exercise", "Daily schedule planning", "CBT"),
    ),
    "mh": (
        ("DBT skills: distress tolerance (TIPP)", "Skills teaching; practice", "DBT"),
        ("DBT skills: emotion regulation", "Check the facts worksheet", "DBT"),
        (
            "DBT skills: interpersonal effectiveness (DEAR MAN)",
            "DEAR MAN role-play",
            "DBT",
        ),
        ("Mindfulness: wise mind", "Guided meditation; debrief", "Mindfulness,DBT"),
        ("CBT: identifying automatic thoughts", "Thought records", "CBT"),
        ("CBT: behavioral activation", "Activity scheduling", "CBT"),
        (
            "Managing anxiety: grounding techniques",
            "5-4-3-2-1 grounding practice",
            "Mindfulness,Trauma-informed care",
        ),
        ("Sleep hygiene and mood", "Sleep diary review", "Psychoeducation"),
        ("Process group", "Open process group", "Psychodynamic"),
        ("Self-compassion and values", "Values card sort", "Mindfulness"),
        (
            "Understanding trauma responses",
            "Window of tolerance teaching",
            "Trauma-informed care,Psychoeducation",
        ),
        ("Wellness recovery action plan (WRAP)", "WRAP worksheet", "Psychoeducation"),
    ),
    "teen": (
        ("Peer pressure and refusal skills", "Role-play in pairs", "Relapse prevention,CBT"),
        (
            "Vaping and cannabis: what the research says",
            "Myth-or-fact game",
            "Psychoeducation",
        ),
        ("Emotion regulation for teens", "TIPP skills practice", "DBT"),
        ("Healthy relationships and boundaries", "Scenario discussion", "Psychoeducation"),
        ("Coping with stress at school", "Coping menu worksheet", "CBT,Mindfulness"),
        ("Social media and self-esteem", "Thought challenging", "CBT"),
        ("Family communication skills", "I-statement practice", "Family systems"),
        ("Goal setting and motivation", "SMART goals worksheet", "Motivational Interviewing"),
    ),
}
NARRATIVES = (
    "{n} members attended. Facilitator introduced the topic; members practised the skill "
    "and applied it to the past week.",
    "{n} members attended. Brief check-in, then structured exercise and discussion; group "
    "cohesion good.",
    "{n} members attended. Didactic followed by small-group practice; members shared "
    "examples and gave peer feedback.",
    "{n} members attended. Check-in surfaced stressors; facilitator linked them to the topic "
    "and closed with a coping plan for the week.",
)
SHARES = {
    "sud": (
        "a high-risk situation at work",
        "cravings over the weekend",
        "daily calls with a sponsor",
        "avoiding old using friends",
        "a family argument and how it was handled",
    ),
    "mh": (
        "poor sleep this week",
        "using grounding during a panic episode",
        "returning to a daily walk",
        "conflict with a partner",
        "a low-mood day and what helped",
    ),
    "teen": (
        "stress about exams",
        "a conflict with a friend",
        "saying no at a party",
        "arguments about curfew",
        "a goal for the school term",
    ),
}
PARTICIPATION = (
    "Actively engaged; shared about {share}.",
    "Participated when prompted and offered support to peers.",
    "Engaged throughout; asked questions about the material.",
    "Quiet at first, then shared about {share}.",
    "Contributed examples and completed the worksheet.",
)
GROUP_RESPONSE = (
    "Identified two personal triggers and a coping response for each.",
    "Demonstrated the skill in role-play.",
    "Verbalized understanding of the material.",
    "Receptive to peer feedback.",
    "Struggled to apply the skill; will review in individual session.",
)
GROUP_PLAN = (
    "Continue IOP as scheduled.",
    "Practise the skill daily and report back in group.",
    "Review in individual session this week.",
    "Continue current treatment plan.",
)
MOOD = {
    "sud": (
        "Client reported continuous sobriety since last session and stable mood",
        "Client reported a brief lapse (two drinks) after a family argument",
        "Client reported strong cravings on payday but did not use",
        "Client attended two mutual-support meetings this week",
        "Client reported better sleep and fewer cravings",
    ),
    "mh": (
        "Client reported low mood most days, rated 4/10",
        "Client reported two panic episodes this week",
        "Client reported more energy and has resumed daily walks",
        "Client described poor sleep and racing thoughts",
        "Client reported using distress tolerance skills at work",
    ),
    "teen": (
        "Client reported no cannabis use since last session",
        "Client reported vaping twice at a party",
        "Client reported conflict with parents about curfew",
        "Client reported better focus at school this week",
        "Client described stress about upcoming exams",
    ),
}
FOCUS = {
    "sud": (
        "Explored triggers linked to evening routines",
        "Reviewed relapse-prevention plan and support contacts",
        "Explored ambivalence about cutting off using friends",
        "Practised refusal skills for work events",
    ),
    "mh": (
        "Identified automatic thoughts and practised reframing",
        "Reviewed diary card and skill use",
        "Practised grounding and paced breathing",
        "Planned pleasant activities for the week",
    ),
    "teen": (
        "Practised refusal skills for peer situations",
        "Explored coping options for school stress",
        "Reviewed home contract and curfew agreement",
        "Identified values and short-term goals",
    ),
}
QUOTES = {
    "sud": (
        '"I made it through the weekend without drinking."',
        '"Work has been really stressful."',
        '"I didn\'t use, but I thought about it a lot."',
        '"My family and I are talking more."',
    ),
    "mh": (
        '"I\'ve been getting out of bed a little earlier."',
        '"The anxiety was bad on Tuesday."',
        '"I tried the breathing exercise and it helped."',
        '"I still feel flat most days."',
    ),
    "teen": (
        '"School was okay this week."',
        '"My mom keeps checking my phone."',
        '"I said no when my friends were smoking."',
        '"I\'m stressed about finals."',
    ),
}
OBJECTIVE = (
    "Alert and oriented; appropriately groomed; affect congruent with mood.",
    "Casually dressed; speech normal in rate; affect mildly restricted.",
    "Good eye contact; cooperative; thought process linear.",
    "Appeared tired; affect anxious; engaged throughout.",
)
ASSESSMENT = (
    "Engaged and making steady progress toward plan goals.",
    "Partial progress; some ambivalence about change remains.",
    "Symptoms improving; insight increasing.",
    "Remains at moderate risk; protective factors growing.",
    "Motivated; continues to need the structure of IOP.",
)
RESPONSE = (
    "Client engaged and identified two coping strategies.",
    "Client was receptive and agreed to practise between sessions.",
    "Client was guarded at first, then engaged.",
    "Client demonstrated the skill accurately in session.",
)
PLAN = (
    "Continue weekly individual sessions and IOP groups.",
    "Client will log cravings or symptoms daily; review next session.",
    "Client will practise one skill daily and track it.",
    "Coordinate with psychiatrist about medication response.",
    "Review treatment plan goals at next session.",
)
MODALITIES = {
    "sud": ("Relapse prevention", "Motivational Interviewing", "CBT"),
    "mh": ("CBT", "DBT", "Mindfulness", "Trauma-informed care"),
    "teen": ("CBT", "Motivational Interviewing", "Family systems"),
}
CLIENT_WORDS = {
    "sud": (
        '"I want to stay sober for my kids."',
        '"I want my life back."',
        '"I want to keep my job."',
    ),
    "mh": ('"I want to feel like myself again."', '"I want to get back to work."'),
    "teen": ('"I want my parents to trust me again."', '"I want to stay on the team."'),
}
PLAN_TEXT = {
    # flavor -> (problem, goal, (objective, days), (objective, days), interventions)
    "sud": (
        "{dx} with continued use despite health, work and family consequences.",
        "Maintain abstinence and build a recovery support network.",
        ("Attend at least 3 IOP groups weekly for 8 weeks.", 56),
        ("Identify 3 personal triggers and a coping plan for each.", 21),
        (
            ("Relapse prevention group", "Relapse prevention", "3x weekly"),
            ("Individual CBT", "CBT", "Weekly"),
        ),
    ),
    "mh": (
        "{dx}: symptoms impair work, sleep and daily routine.",
        "Reduce symptoms and return to a stable daily routine.",
        ("PHQ-9 below 10 within 8 weeks.", 56),
        ("Use 2 coping skills daily, tracked on a diary card.", 14),
        (
            ("DBT skills group", "DBT", "5x weekly"),
            ("Individual CBT", "CBT", "Weekly"),
        ),
    ),
    "teen": (
        "{dx}: use is affecting school attendance and family relationships.",
        "Stop cannabis and alcohol use and return to regular school attendance.",
        ("Negative drug screens for 6 consecutive weeks.", 42),
        ("Attend at least 90% of school days each week.", 28),
        (
            ("Adolescent IOP group", "Relapse prevention", "3x weekly"),
            ("Family therapy", "Family systems", "Every 2 weeks"),
        ),
    ),
}
SAFETY_PLAN = (
    "Passive ideation, no plan or intent. Safety plan reviewed: warning signs, coping steps, "
    "people to call, 988 Lifeline. Partner will secure medications."
)


# -- small helpers --------------------------------------------------------------------------


def npi_check_digit(first_nine: str) -> int:
    """Luhn check digit over '80840' + the first nine digits (as npi_is_valid checks)."""
    total = 0
    for i, ch in enumerate(reversed("80840" + first_nine)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def _npi(rng: random.Random) -> str:
    first_nine = "1" + "".join(str(rng.randrange(10)) for _ in range(8))
    return first_nine + str(npi_check_digit(first_nine))


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(n))


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _days(lo: date, hi: date) -> list[date]:
    return [lo + timedelta(days=i) for i in range((hi - lo).days + 1)]


def _years_before(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _holidays(year: int) -> list[tuple[date, str]]:
    return [
        (date(year, 1, 1), "New Year's Day"),
        (_nth_weekday(year, 1, 0, 3), "Martin Luther King Jr. Day"),
        (_last_weekday(year, 5, 0), "Memorial Day"),
        (date(year, 6, 19), "Juneteenth"),
        (date(year, 7, 4), "Independence Day"),
        (_nth_weekday(year, 9, 0, 1), "Labor Day"),
        (_nth_weekday(year, 11, 3, 4), "Thanksgiving Day"),
        (date(year, 12, 25), "Christmas Day"),
    ]


def _closure(start: date, today: date) -> tuple[date, str]:
    """The latest holiday in the history window that falls on a program day."""
    program_days = {wd for t in TRACKS for wd in t.weekdays}
    found = [
        (d, name)
        for year in (today.year - 1, today.year)
        for d, name in _holidays(year)
        if start <= d < today and d.weekday() in program_days
    ]
    if found:
        return max(found)
    return _monday(today) - timedelta(weeks=3), "All-staff training day"


def _clinic_tz() -> tzinfo:
    try:
        return ZoneInfo(CLINIC_TIMEZONE)
    except ZoneInfoNotFoundError:  # Windows without tzdata: fixed CST is close enough here
        return timezone(timedelta(hours=-6))


def _t(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


def _m(t: time) -> int:
    return t.hour * 60 + t.minute


_FOLD = str.maketrans(
    {"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "ð": "d", "Ð": "D", "þ": "th", "ß": "ss"}
)


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


# -- the plan in memory, before it is inserted ------------------------------------------------


@dataclass
class _Episode:
    no: int
    status: str
    referral: date
    intake: date | None = None
    admission: date | None = None
    discharge: date | None = None
    hold: date | None = None
    hold_reason: str = ""
    discharge_type: str = ""
    therapists: list[tuple[date, date | None, str]] = field(default_factory=list)
    case_manager: str | None = None
    psychiatrist: str | None = None
    id: int = 0

    def attending(self, d: date) -> bool:
        """Expected at group on `d`: admitted, not discharged, not on hold."""
        if self.admission is None or d < self.admission:
            return False
        if self.discharge is not None and d > self.discharge:
            return False
        return not (self.hold is not None and d >= self.hold)

    def last_day(self, default: date) -> date:
        if self.discharge is not None:
            return self.discharge
        if self.hold is not None:
            return self.hold - timedelta(days=1)
        return default


@dataclass
class _Client:
    idx: int
    name: _Name
    track: _TrackSpec
    dob: date
    episodes: list[_Episode]
    payer: str
    attend_rate: float
    excused_share: float
    diagnoses: list[str]
    id: int = 0

    @property
    def status(self) -> str:
        return self.episodes[-1].status

    @property
    def key(self) -> str:
        return f"client:{self.idx}"

    def therapist_on(self, d: date) -> str | None:
        for ep in self.episodes:
            for start, end, staff in ep.therapists:
                if start <= d and (end is None or d <= end):
                    return staff
        return None

    def episode_on(self, d: date) -> _Episode | None:
        for ep in self.episodes:
            if ep.attending(d):
                return ep
        return None


@dataclass
class _Sess:
    kind: str
    day: date
    start: int  # minutes after midnight, clinic wall clock
    end: int
    staff: list[tuple[str, bool]]  # (staff key, is_primary)
    location: str
    track: _TrackSpec | None = None
    client: _Client | None = None
    block: tuple[str, int] | None = None
    telehealth: str = Telehealth.NO.value
    status: str = SessionStatus.SCHEDULED.value
    by_clinic: bool = False
    reason: str = ""
    topic: str = ""
    modalities: str = ""
    interventions: str = ""
    id: int = 0


# -- the builder ----------------------------------------------------------------------------


# Aftercare plans of discharged demo clients (issue 6). flavor -> text; "es" for Spanish speakers.
_AFTERCARE_EN = {
    "sud": (
        "Payday Fridays; driving past my old bar; arguments at home; being alone on weekends.",
        "Skipping meetings.\nRomanticizing past use.\nSleeping badly for several nights.",
        "Call my sponsor before I act.\nGo to a meeting the same day.\nUse the HALT check: "
        "hungry, angry, lonely, tired.\nLeave situations where people are drinking.",
        ("Stay sober one day at a time.", "Keep my job and rebuild trust at home."),
        ("Honest, determined, supportive family.", "Good sense of humor; finished the program."),
    ),
    "mh": (
        "Work deadlines piling up; anniversaries of losses; conflict with my partner.",
        "Staying in bed past noon.\nCanceling plans with friends.\nThoughts that nothing "
        "will get better.",
        "Daily 20-minute walk.\nUse the thought record from group.\nBox breathing for panic."
        "\nText a friend when I notice I am withdrawing.",
        ("Keep going to therapy every week.", "Return to work part-time."),
        ("Insightful, creative, caring parent.", "Reaches out for help; consistent attendance."),
    ),
    "teen": (
        "Pressure from friends at parties; stress before exams.",
        "Lying to my parents about where I am.\nDropping grades.",
        "Talk to my school counselor.\nUse the DBT skills card.\nCall my mom or aunt.",
        ("Finish the school year.", "Stay on the soccer team."),
        ("Athletic, funny, loyal friend.", "Close to grandmother; good at art."),
    ),
}
_AFTERCARE_ES = {
    "sud": (
        "Los viernes de pago; pasar por el bar de antes; discusiones en casa.",
        "Faltar a las reuniones.\nPensar que puedo beber solo un poco.",
        "Llamar a mi madrina antes de actuar.\nIr a una reunión el mismo día.\nSalir de "
        "lugares donde se bebe.",
        ("Mantenerme sobria un día a la vez.", "Conservar mi trabajo."),
        ("Trabajadora, honesta, familia que me apoya.",),
    ),
    "mh": (
        "Presión en el trabajo; aniversarios de pérdidas.",
        "Quedarme en la cama.\nAislarme de mi familia.",
        "Caminar todos los días.\nRespiración profunda.\nLlamar a mi hermana.",
        ("Seguir con la terapia cada semana.",),
        ("Buena madre, creativa, pide ayuda.",),
    ),
    "teen": (
        "Fiestas con amigos; exámenes.",
        "Mentir a mis padres.\nBajar las notas.",
        "Hablar con la consejera escolar.\nLlamar a mi tía.",
        ("Terminar el año escolar.",),
        ("Deportista, leal, buen amigo.",),
    ),
}
AFTERCARE_TEXT: dict[str, dict[str, Any]] = {"en": _AFTERCARE_EN, "es": _AFTERCARE_ES}
AFTERCARE_PROVIDERS = (
    ("Riverbend Outpatient Counseling", "Individual therapy intake", "88 Mill Street, Riverbend, "
     "IL 60990", "(555) 014-2200"),
    ("Lakeside Behavioral Health", "Psychiatry follow-up", "410 Lake Avenue, Suite 3, Riverbend, "
     "IL 60991", "(555) 016-7300"),
    ("Dr. Priya Raman, MD", "Medication management", "12 Oak Court, Riverbend, IL 60990",
     "(555) 012-9090"),
)  # fmt: skip
AFTERCARE_MEDS = {
    "sud": (
        {"name": "Naltrexone", "dose": "50 mg", "schedule": "Once a day",
         "prescriber": "Dr. Raman"},
        {"name": "Buprenorphine/naloxone", "dose": "8 mg/2 mg", "schedule": "Once a day",
         "prescriber": "Dr. Raman"},
        {"name": "Gabapentin", "dose": "300 mg", "schedule": "Three times a day",
         "prescriber": "Dr. Raman"},
    ),
    "mh": (
        {"name": "Sertraline", "dose": "100 mg", "schedule": "Every morning",
         "prescriber": "Dr. Raman"},
        {"name": "Hydroxyzine", "dose": "25 mg", "schedule": "As needed for anxiety, up to 3 a day",
         "prescriber": "Dr. Raman"},
        {"name": "Trazodone", "dose": "50 mg", "schedule": "At bedtime", "prescriber": "Dr. Raman"},
    ),
}  # fmt: skip
AFTERCARE_GROUPS = {
    "sud": (
        {"name": "AA Sunrise Group", "day": "Monday to Friday", "meeting_time": "7:00 AM",
         "place": "Grace Church basement, 200 Elm Street"},
        {"name": "SMART Recovery", "day": "Tuesday", "meeting_time": "6:30 PM",
         "place": "smartrecovery.org (online)"},
        {"name": "NA Riverbend Hope", "day": "Thursday", "meeting_time": "7:30 PM",
         "place": "Community Center, Room 4"},
    ),
    "mh": (
        {"name": "NAMI Connection support group", "day": "Wednesday", "meeting_time": "6:00 PM",
         "place": "Riverbend Library, meeting room B"},
        {"name": "DBT skills alumni group", "day": "Saturday", "meeting_time": "10:00 AM",
         "place": "Riverbend IOP, Room 2"},
        {"name": "Depression and Bipolar Support Alliance", "day": "Monday",
         "meeting_time": "7:00 PM", "place": "dbsalliance.org (online)"},
    ),
    "teen": (
        {"name": "Teen recovery group (Alateen)", "day": "Tuesday", "meeting_time": "4:30 PM",
         "place": "Youth Center, 55 Park Road"},
        {"name": "Family skills night", "day": "Thursday", "meeting_time": "6:00 PM",
         "place": "Riverbend IOP, Room 1"},
    ),
}  # fmt: skip


class _Demo:
    def __init__(self, session: Session, admin: Actor, today: date, rng: random.Random) -> None:
        self.s = session
        self.admin = admin
        self.uid = admin.user_id
        self.today = today
        self.rng = rng
        self.week0 = _monday(today)
        self.start = self.week0 - timedelta(weeks=SESSION_WEEKS - 1)
        self.end = self.week0 + timedelta(days=13)  # through Sunday of next week
        self.closure_date, self.closure_reason = _closure(self.start, today)
        self.tz = _clinic_tz()
        self.staff_id: dict[str, int] = {}
        self.user_id: dict[str, int] = {}
        self.track_id: dict[str, int] = {}
        self.block_id: dict[tuple[str, int], int] = {}
        self.payer_id: dict[str, int] = {}
        self.clients: list[_Client] = []
        self.sessions: list[_Sess] = []
        self.busy: dict[tuple[str, date], list[tuple[int, int]]] = {}
        self.group_days: dict[int, list[date]] = {}  # client idx -> days attended at group
        self.counts: dict[str, int] = {}

    # -- generic insert helpers ---------------------------------------------------------------
    def _row(self, **values: Any) -> dict[str, Any]:
        values.setdefault("created_by", self.uid)
        values.setdefault("updated_by", self.uid)
        return values

    def _insert(self, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
        if rows:
            self.s.execute(insert(model), rows)
        self.counts[model.__name__] = self.counts.get(model.__name__, 0) + len(rows)

    def _insert_ids(self, model: type[SQLModel], rows: list[dict[str, Any]]) -> list[int]:
        """Insert many rows and return their new ids in input order."""
        self.counts[model.__name__] = self.counts.get(model.__name__, 0) + len(rows)
        if not rows:
            return []
        table: Any = model
        result = self.s.execute(
            insert(table).returning(table.id, sort_by_parameter_order=True), rows
        )
        return [int(i) for i in result.scalars()]

    def _utc(self, d: date, minutes: int) -> datetime:
        local = datetime.combine(d, time(0, 0), tzinfo=self.tz) + timedelta(minutes=minutes)
        return local.astimezone(UTC)

    def _pick_day(self, lo: date, hi: date, weekdays: tuple[int, ...]) -> date:
        days = [
            d for d in _days(lo, hi) if d.weekday() in weekdays and d != self.closure_date
        ] or _days(lo, max(lo, hi))
        return self.rng.choice(days)

    # -- organisation -------------------------------------------------------------------------
    def staff(self) -> list[str]:
        staff_rows: list[dict[str, Any]] = []
        for spec in STAFF:
            licensed = spec.license_prefix is not None
            if spec.key == EXPIRING_LICENSE:
                expiry = self.today + timedelta(days=41)
            else:
                expiry = self.today + timedelta(days=self.rng.randint(150, 720))
            staff_rows.append(
                self._row(
                    staff_code=f"S{len(staff_rows) + 1:03d}",
                    first_name=spec.first,
                    last_name=spec.last,
                    credentials=spec.credentials,
                    is_supervisee=spec.supervisor is not None,
                    npi=_npi(self.rng) if licensed else None,
                    license_number=f"{spec.license_prefix}.{_digits(self.rng, 6)}"
                    if licensed
                    else None,
                    license_state="IL" if licensed else None,
                    license_expiry=expiry if licensed else None,
                    supervisor_id=None,
                    email=f"{spec.first[0].lower()}.{_ascii(spec.last)}@example.org",
                    phone=self._phone(),
                    roles=spec.roles,
                )
            )
        for spec, sid in zip(STAFF, self._insert_ids(Staff, staff_rows), strict=True):
            self.staff_id[spec.key] = sid
        for spec in STAFF:
            if spec.supervisor:
                staff = self.s.get(Staff, self.staff_id[spec.key])
                assert staff is not None
                staff.supervisor_id = self.staff_id[spec.supervisor]
                self.s.add(staff)
        usernames = []
        shared_hash = hash_password(DEMO_PASSWORD)  # one Argon2 run, not one per account
        for spec in STAFF:
            user = create_user_in(
                self.s,
                self.admin,
                spec.username,
                DEMO_PASSWORD,
                spec.roles,
                f"{spec.first} {spec.last}",
                self.staff_id[spec.key],
                password_hash=shared_hash,
            )
            assert user.id is not None
            self.user_id[spec.key] = user.id
            usernames.append(spec.username)
        return usernames

    def tracks(self) -> None:
        ids = self._insert_ids(
            Track,
            [
                self._row(
                    track_code=t.code,
                    name=t.name,
                    level_of_care="IOP",
                    population=t.population,
                    is_sud=t.is_sud,
                    required_weekly_hours=t.hours,
                    required_weekly_days=DEFAULT_WEEKLY_DAYS["IOP"],
                    per_diem_code=t.per_diem_code,
                    room=t.room,
                )
                for t in TRACKS
            ],
        )
        self.track_id = {t.code: i for t, i in zip(TRACKS, ids, strict=True)}
        keys = [(t.code, wd) for t in TRACKS for wd, _, _ in t.blocks]
        rows = [
            self._row(track_id=self.track_id[t.code], weekday=wd, start_time=st, end_time=en)
            for t in TRACKS
            for wd, st, en in t.blocks
        ]
        self.block_id = dict(zip(keys, self._insert_ids(TrackBlock, rows), strict=True))

    def payers(self) -> None:
        ids = self._insert_ids(
            Payer,
            [
                self._row(
                    payer_code=p.code,
                    name=p.name,
                    billing_mode=p.mode,
                    requires_auth=p.requires_auth,
                )
                for p in PAYERS
            ],
        )
        self.payer_id = {p.code: i for p, i in zip(PAYERS, ids, strict=True)}
        effective = date(self.start.year, 1, 1)
        self._insert(
            FeeSchedule,
            [
                self._row(
                    payer_id=self.payer_id[p.code],
                    code=code,
                    rate=(rate * p.factor).quantize(Decimal("0.01")),
                    effective_from=effective,
                )
                for p in PAYERS
                for code, rate in BASE_RATES.items()
            ],
        )

    def closure(self) -> None:
        self._insert(
            ClinicClosure,
            [self._row(closure_date=self.closure_date, reason=self.closure_reason)],
        )

    # -- clients ------------------------------------------------------------------------------
    def _phone(self) -> str:
        return f"(555) 01{self.rng.randrange(10)}-{self.rng.randrange(10000):04d}"

    def plan_clients(self) -> None:
        rng = self.rng
        adults, teens = list(ADULT_NAMES), list(TEEN_NAMES)
        rng.shuffle(adults)
        rng.shuffle(teens)
        discharge_types = list(DISCHARGE_TYPES)
        rng.shuffle(discharge_types)
        holds = list(HOLD_REASONS)
        for status, code, count in CLIENT_PLAN:
            track = _TRACK_BY_CODE[code]
            for _ in range(count):
                teen = track.population == "adolescent"
                name = (teens if teen else adults).pop()
                ages = (14, 17) if teen else ((21, 62) if track.is_sud else (19, 68))
                latest = _years_before(self.today, ages[0])
                earliest = _years_before(self.today, ages[1] + 1) + timedelta(days=1)
                dob = earliest + timedelta(days=rng.randrange((latest - earliest).days + 1))
                episodes = self._episodes(status, track, discharge_types, holds)
                profile = rng.choices([(0.95, 0.7), (0.86, 0.5), (0.68, 0.3)], weights=[5, 4, 2])[0]
                if episodes[-1].discharge_type == DischargeType.AMA.value:
                    profile = (0.6, 0.2)
                self.clients.append(
                    _Client(
                        idx=len(self.clients),
                        name=name,
                        track=track,
                        dob=dob,
                        episodes=episodes,
                        payer=_weighted(rng, PAYER_MIX[code]),
                        attend_rate=profile[0],
                        excused_share=profile[1],
                        diagnoses=self._diagnoses(track),
                    )
                )
        self._assign_staff()
        # MRNs follow the order in which clients were first referred.
        self.clients.sort(key=lambda c: (c.episodes[0].referral, c.idx))

    def _episodes(
        self, status: str, track: _TrackSpec, discharge_types: list[str], holds: list[str]
    ) -> list[_Episode]:
        rng, today = self.rng, self.today
        weekdays = (0, 1, 2, 3, 4)
        admit_days = tuple(d for d in track.weekdays if d < 5)

        def admitted(ep: _Episode, admission: date) -> _Episode:
            ep.admission = admission
            ep.intake = self._pick_day(
                admission - timedelta(days=6), admission - timedelta(days=1), weekdays
            )
            ep.referral = self._pick_day(
                ep.intake - timedelta(days=10), ep.intake - timedelta(days=2), weekdays
            )
            return ep

        if status == "referral":
            day = self._pick_day(today - timedelta(days=10), today - timedelta(days=1), weekdays)
            return [_Episode(1, ClientStatus.REFERRAL.value, day)]
        if status == "intake":
            intake = self._pick_day(today - timedelta(days=6), today - timedelta(days=1), weekdays)
            referral = self._pick_day(
                intake - timedelta(days=9), intake - timedelta(days=2), weekdays
            )
            return [_Episode(1, ClientStatus.INTAKE.value, referral, intake=intake)]
        if status in ("active", "readmitted"):
            lo = today - timedelta(days=98 if status == "active" else 36)
            hi = today - timedelta(days=2 if status == "active" else 30)
            ep = admitted(
                _Episode(1, ClientStatus.ACTIVE.value, today), self._pick_day(lo, hi, admit_days)
            )
            if status == "active":
                return [ep]
            first_admit = self._pick_day(
                today - timedelta(days=240), today - timedelta(days=220), admit_days
            )
            first = admitted(_Episode(1, ClientStatus.DISCHARGED.value, today), first_admit)
            first.discharge = self._pick_day(
                first_admit + timedelta(days=14), first_admit + timedelta(days=24), track.weekdays
            )
            first.discharge_type = DischargeType.AMA.value
            ep.no = 2
            return [first, ep]
        if status == "on_hold":
            admission = self._pick_day(
                today - timedelta(days=60), today - timedelta(days=21), admit_days
            )
            ep = admitted(_Episode(1, ClientStatus.ON_HOLD.value, today), admission)
            ep.hold = self._pick_day(
                today - timedelta(days=12), today - timedelta(days=3), weekdays
            )
            ep.hold_reason = holds.pop(0)
            return [ep]
        # discharged
        dtype = discharge_types.pop()
        discharge = self._pick_day(
            today - timedelta(days=75), today - timedelta(days=3), track.weekdays
        )
        stay = rng.randint(14, 30) if dtype == DischargeType.AMA.value else rng.randint(42, 84)
        admission = self._pick_day(
            discharge - timedelta(days=stay + 3), discharge - timedelta(days=stay), admit_days
        )
        ep = admitted(_Episode(1, ClientStatus.DISCHARGED.value, today), admission)
        ep.discharge = discharge
        ep.discharge_type = dtype
        return [ep]

    def _diagnoses(self, track: _TrackSpec) -> list[str]:
        rng = self.rng
        if track.flavor == "sud":
            codes = [rng.choice(_SUD_PRIMARY)]
            if rng.random() < 0.35:
                codes.append(rng.choice([c for c in _SUD_PRIMARY if c != codes[0]]))
            if rng.random() < 0.45:
                codes.append(rng.choice(_COOCCURRING))
        elif track.flavor == "mh":
            codes = [rng.choice(_MH_PRIMARY)]
            if rng.random() < 0.5:
                codes.append(rng.choice([c for c in _MH_PRIMARY if c != codes[0]]))
        else:
            codes = [rng.choice(_TEEN_PRIMARY)]
            if rng.random() < 0.6:
                codes.append(rng.choice(("F32.1", "F41.1", "F43.10")))
        return list(dict.fromkeys(codes))

    def _assign_staff(self) -> None:
        rng, today = self.rng, self.today
        for c in self.clients:
            for ep in c.episodes:
                if ep.intake is None:
                    continue
                primary = _weighted(rng, CASELOAD[c.track.code])
                ep.therapists = [(ep.intake, ep.discharge, primary)]
                if ep.admission is None:
                    continue
                if c.track.flavor == "sud" and primary != "whitfield" and rng.random() < 0.4:
                    ep.case_manager = "whitfield"
                needs_md = "F11.20" in c.diagnoses or "F31.81" in c.diagnoses
                if needs_md or rng.random() < (0.45 if c.track.flavor == "mh" else 0.15):
                    ep.psychiatrist = "adeyemi"
        # One client changed primary therapist mid-stay, so the assignment history shows it.
        candidates = [
            c
            for c in self.clients
            if c.status == ClientStatus.ACTIVE.value
            and len(c.episodes) == 1
            and c.track.population == "adult"
            and (c.episodes[0].admission or today) <= today - timedelta(days=35)
        ]
        if candidates:
            c = rng.choice(candidates)
            ep = c.episodes[0]
            start, _, old = ep.therapists[0]
            new = next(k for k, _ in CASELOAD[c.track.code] if k != old)
            switch = self._pick_day(
                today - timedelta(days=21), today - timedelta(days=10), (0, 1, 2, 3, 4)
            )
            ep.therapists = [(start, switch - timedelta(days=1), old), (switch, None, new)]

    def insert_clients(self) -> None:
        rng = self.rng
        rows = []
        for n, c in enumerate(self.clients, start=1):
            last_ep = c.episodes[-1]
            city, postal = rng.choice(CITIES)
            has_email = rng.random() < (0.6 if c.track.population == "adolescent" else 0.9)
            email = f"{_ascii(c.name.first)}.{_ascii(c.name.last)}{rng.randrange(10, 99)}"
            rows.append(
                self._row(
                    mrn=f"M{n:06d}",
                    first_name=c.name.first,
                    middle_name=c.name.middle,
                    last_name=c.name.last,
                    preferred_name=c.name.preferred,
                    pronouns=c.name.pronouns,
                    dob=c.dob,
                    sex=c.name.sex,
                    phone=self._phone(),
                    email=f"{email}@example.org" if has_email else "",
                    address_line1=f"{rng.randint(100, 9899)} {rng.choice(STREETS)}",
                    address_line2=f"Apt {rng.randint(1, 4)}{'ABCD'[rng.randrange(4)]}"
                    if rng.random() < 0.25
                    else "",
                    city=city,
                    state="IL",
                    postal_code=postal,
                    primary_language=c.name.language,
                    status=c.status,
                    part2=c.track.is_sud,
                    required_weekly_hours=None,
                    referral_source=rng.choice(REFERRAL_SOURCES[c.track.flavor]),
                    admission_date=last_ep.admission,
                    discharge_date=last_ep.discharge,
                )
            )
        # A step-down client allowed fewer hours for a while (the per-client override).
        stepdown = [
            i
            for i, c in enumerate(self.clients)
            if c.status == ClientStatus.ACTIVE.value and c.track.code == "SUD-EVE"
        ]
        if stepdown:
            rows[rng.choice(stepdown)]["required_weekly_hours"] = Decimal("6")
        for c, cid in zip(self.clients, self._insert_ids(Client, rows), strict=True):
            c.id = cid

        episodes = [(c, ep) for c in self.clients for ep in c.episodes]
        ids = self._insert_ids(
            Episode,
            [
                self._row(
                    client_id=c.id,
                    episode_no=ep.no,
                    referral_date=ep.referral,
                    intake_date=ep.intake,
                    admission_date=ep.admission,
                    discharge_date=ep.discharge,
                    status=ep.status,
                )
                for c, ep in episodes
            ],
        )
        for (_, ep), eid in zip(episodes, ids, strict=True):
            ep.id = eid
        self._status_changes()
        self._contacts()
        self._clinical_basics()

    def _status_changes(self) -> None:
        rows = []
        for c in self.clients:
            prev: str | None = None
            for ep in c.episodes:
                steps: list[tuple[str, date, str]] = [
                    (
                        ClientStatus.REFERRAL.value,
                        ep.referral,
                        "Readmission referral" if ep.no > 1 else "Referral received",
                    )
                ]
                if ep.intake is not None:
                    steps.append((ClientStatus.INTAKE.value, ep.intake, "Intake assessment"))
                if ep.admission is not None:
                    steps.append(
                        (ClientStatus.ACTIVE.value, ep.admission, f"Admitted to {c.track.name}")
                    )
                if ep.hold is not None:
                    steps.append((ClientStatus.ON_HOLD.value, ep.hold, ep.hold_reason))
                if ep.discharge is not None:
                    steps.append(
                        (
                            ClientStatus.DISCHARGED.value,
                            ep.discharge,
                            DISCHARGE_TEXT[ep.discharge_type][0],
                        )
                    )
                for to_status, day, reason in steps:
                    rows.append(
                        self._row(
                            client_id=c.id,
                            episode_id=ep.id,
                            from_status=prev,
                            to_status=to_status,
                            effective_date=day,
                            reason=reason,
                        )
                    )
                    prev = to_status
        self._insert(StatusChange, rows)

    def _contacts(self) -> None:
        rng = self.rng
        rows = []
        for c in self.clients:
            teen = c.track.population == "adolescent"
            relations = (
                ["Mother", "Father", "Grandmother", "Legal guardian", "Aunt"]
                if teen
                else ["Spouse", "Partner", "Mother", "Sister", "Brother", "Friend", "Father"]
            )
            rng.shuffle(relations)
            for i in range(rng.choice((1, 2, 2) if teen else (1, 1, 2))):
                relation = relations[i]
                female = relation in ("Mother", "Grandmother", "Aunt", "Sister") or (
                    relation not in ("Father", "Brother") and rng.random() < 0.5
                )
                first = rng.choice(CONTACT_FIRST_F if female else CONTACT_FIRST_M)
                family = relation not in ("Friend", "Partner")
                last = (
                    c.name.last
                    if family and rng.random() < 0.85
                    else rng.choice(("Lopez", "Miller", "Okonkwo", "Anderson", "Novak", "Reed"))
                )
                rows.append(
                    self._row(
                        client_id=c.id,
                        name=f"{first} {last}",
                        relationship=relation,
                        phone=self._phone(),
                        is_primary=i == 0,
                    )
                )
        self._insert(EmergencyContact, rows)

    def _clinical_basics(self) -> None:
        rng = self.rng
        diagnoses, coverage, enrollments, assignments, discharges = [], [], [], [], []
        for c in self.clients:
            first = c.episodes[0]
            for i, code in enumerate(c.diagnoses):
                diagnoses.append(
                    self._row(
                        client_id=c.id,
                        icd10_code=code,
                        description=DIAGNOSES[code],
                        is_primary=i == 0,
                        sort_order=i,
                        onset_date=None,
                        resolved_date=None,
                    )
                )
            payer = _PAYER_BY_CODE[c.payer]
            if payer.member_prefix is None:
                member, group = "", ""
            elif payer.member_prefix == "":
                member, group = _digits(rng, 9), ""
            else:
                member = payer.member_prefix + _digits(rng, 9)
                group = f"G{_digits(rng, 5)}" if payer.code in ("LHP", "SUMMIT") else ""
            coverage.append(
                self._row(
                    client_id=c.id,
                    payer_id=self.payer_id[c.payer],
                    member_id=member,
                    group_number=group,
                    priority=1,
                    start_date=date(first.referral.year, 1, 1),
                    end_date=None,
                )
            )
            for ep in c.episodes:
                if ep.admission is not None:
                    enrollments.append(
                        self._row(
                            client_id=c.id,
                            episode_id=ep.id,
                            track_id=self.track_id[c.track.code],
                            start_date=ep.admission,
                            end_date=ep.discharge,
                            end_reason=DISCHARGE_TEXT[ep.discharge_type][0] if ep.discharge else "",
                        )
                    )
                for start, end, staff in ep.therapists:
                    assignments.append(self._assignment(c, staff, "primary", start, end))
                if ep.case_manager and ep.admission:
                    assignments.append(
                        self._assignment(c, ep.case_manager, "cm", ep.admission, ep.discharge)
                    )
                if ep.psychiatrist and ep.admission:
                    start = min(
                        ep.admission + timedelta(days=rng.randint(3, 10)),
                        ep.last_day(self.today),
                    )
                    assignments.append(
                        self._assignment(c, ep.psychiatrist, "md", start, ep.discharge)
                    )
                if ep.discharge is not None:
                    _, reason, level, provider = DISCHARGE_TEXT[ep.discharge_type]
                    discharges.append(
                        self._row(
                            client_id=c.id,
                            episode_id=ep.id,
                            discharge_date=ep.discharge,
                            discharge_type=ep.discharge_type,
                            reason=reason,
                            summary=f"Discharged from {c.track.name}. {reason}",
                            step_down_level=level,
                            receiving_provider=provider,
                        )
                    )
        self._insert(Diagnosis, diagnoses)
        self._insert(Coverage, coverage)
        self._insert(TrackEnrollment, enrollments)
        self._insert(TherapistAssignment, assignments)
        self._insert(Discharge, discharges)

    def _assignment(
        self, c: _Client, staff: str, role: str, start: date, end: date | None
    ) -> dict[str, Any]:
        roles = {
            "primary": AssignmentRole.PRIMARY_THERAPIST.value,
            "cm": AssignmentRole.CASE_MANAGER.value,
            "md": AssignmentRole.PSYCHIATRIST.value,
        }
        return self._row(
            client_id=c.id,
            staff_id=self.staff_id[staff],
            role=roles[role],
            start_date=start,
            end_date=end,
        )

    # -- sessions -----------------------------------------------------------------------------
    def _free(self, who: str, d: date, start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in self.busy.get((who, d), ()))

    def _book(self, who: str, d: date, start: int, end: int) -> None:
        self.busy.setdefault((who, d), []).append((start, end))

    def _set_status(self, s: _Sess, client_may_cancel: bool) -> None:
        if s.day == self.closure_date:
            s.status = SessionStatus.CANCELLED.value
            s.by_clinic = True
            s.reason = f"Clinic closed: {self.closure_reason}"
        elif s.day >= self.today:
            s.status = SessionStatus.SCHEDULED.value
        else:
            roll = self.rng.random() if client_may_cancel else 1.0
            if roll < 0.05:
                s.status = SessionStatus.CANCELLED.value
                s.reason = self.rng.choice(
                    (
                        "Client cancelled: illness",
                        "Client cancelled: work conflict",
                        "Client cancelled: no transportation",
                    )
                )
            elif roll < 0.09:
                s.status = SessionStatus.CANCELLED.value
                s.reason = "No-show"
            else:
                s.status = SessionStatus.HELD.value

    def plan_sessions(self) -> None:
        rng = self.rng
        topic_cycle = {f: list(TOPICS[f]) for f in TOPICS}
        for topics in topic_cycle.values():
            rng.shuffle(topics)
        topic_pos = dict.fromkeys(topic_cycle, 0)
        for d in _days(self.start, self.end):
            for track in TRACKS:
                for wd, st, en in track.blocks:
                    if wd != d.weekday():
                        continue
                    primary, co = FACILITATORS[(track.code, wd)]
                    staff = [(primary, True)] + ([(co, False)] if co else [])
                    topics = topic_cycle[track.flavor]
                    topic, interventions, modalities = topics[topic_pos[track.flavor] % len(topics)]
                    topic_pos[track.flavor] += 1
                    s = _Sess(
                        SessionKind.GROUP.value,
                        d,
                        _m(st),
                        _m(en),
                        staff,
                        track.room,
                        track=track,
                        block=(track.code, wd),
                        topic=topic,
                        interventions=interventions,
                        modalities=modalities,
                    )
                    self._set_status(s, client_may_cancel=False)
                    for key, _ in staff:
                        self._book(key, d, s.start, s.end)
                    self.sessions.append(s)
        for c in self.clients:
            for ep in c.episodes:
                if ep.admission is not None:
                    self._individual_series(c, ep)
        for c in self.clients:
            for ep in c.episodes:
                if ep.intake is not None:
                    self._intake(c, ep.intake, ep.therapists[0][2])
        # One new referral already has an intake appointment booked.
        referrals = [c for c in self.clients if c.status == ClientStatus.REFERRAL.value]
        if referrals:
            c = referrals[-1]
            day = self._pick_day(
                self.today + timedelta(days=1), self.today + timedelta(days=6), (0, 1, 2, 3, 4)
            )
            self._intake(c, day, CASELOAD[c.track.code][0][0])
        self._family_sessions()

    def _individual_series(self, c: _Client, ep: _Episode) -> None:
        rng = self.rng
        assert ep.admission is not None
        first = max(ep.admission + timedelta(days=1), self.start)
        limit = ep.last_day(self.end)
        teen = c.track.population == "adolescent"
        weekdays = (0, 2, 4) if teen else (0, 1, 2, 3, 4)
        times = (15 * 60 + 30, 16 * 60 + 30, 17 * 60 + 30) if teen else (780, 840, 900, 960, 1020)
        for seg_start, seg_end, staff in ep.therapists:
            lo, hi = max(first, seg_start), min(limit, seg_end or self.end)
            if lo > hi:
                continue
            mondays = [
                _monday(lo) + timedelta(weeks=w) for w in range((hi - _monday(lo)).days // 7 + 1)
            ]
            days = {
                wd: [m + timedelta(days=wd) for m in mondays if lo <= m + timedelta(days=wd) <= hi]
                for wd in weekdays
            }
            candidates = [(wd, t) for wd in weekdays for t in times]
            rng.shuffle(candidates)
            candidates.sort(key=lambda x: -len(days[x[0]]))  # stable: keeps the shuffle
            wd, t = next(
                (
                    (wd, t)
                    for wd, t in candidates
                    if all(
                        self._free(staff, d, t, t + 60) and self._free(c.key, d, t, t + 60)
                        for d in days[wd]
                    )
                ),
                candidates[0],
            )
            office = _STAFF_BY_KEY[staff].office
            for d in days[wd]:
                start = t
                if not (self._free(staff, d, t, t + 60) and self._free(c.key, d, t, t + 60)):
                    free = [
                        x
                        for x in times
                        if self._free(staff, d, x, x + 60) and self._free(c.key, d, x, x + 60)
                    ]
                    if not free:
                        continue
                    start = free[0]
                length = rng.choice((45, 50, 53, 55, 60))
                home = rng.random() < 0.1
                s = _Sess(
                    SessionKind.INDIVIDUAL.value,
                    d,
                    start,
                    start + length,
                    [(staff, True)],
                    "Telehealth (client's home)" if home else office,
                    client=c,
                    telehealth=Telehealth.HOME.value if home else Telehealth.NO.value,
                )
                self._set_status(s, client_may_cancel=True)
                self._book(staff, d, start, start + length)
                self._book(c.key, d, start, start + length)
                self.sessions.append(s)

    def _intake(self, c: _Client, day: date, staff: str) -> None:
        teen = c.track.population == "adolescent"
        times = (900, 960, 1020, 840) if teen else (600, 660, 780, 840, 900, 960)
        start = next((t for t in times if self._free(staff, day, t, t + 60)), times[0])
        s = _Sess(
            SessionKind.INTAKE.value,
            day,
            start,
            start + 60,
            [(staff, True)],
            _STAFF_BY_KEY[staff].office,
            client=c,
            topic="Intake assessment",
        )
        self._set_status(s, client_may_cancel=False)
        self._book(staff, day, start, start + 60)
        self._book(c.key, day, start, start + 60)
        self.sessions.append(s)

    def _family_sessions(self) -> None:
        rng = self.rng
        adults = [
            c
            for c in self.clients
            if c.track.population == "adult" and c.episodes[-1].admission is not None
        ]
        chosen = {c.idx for c in rng.sample(adults, min(5, len(adults)))}
        staff = "nakamura"
        for c in self.clients:
            teen = c.track.population == "adolescent"
            if not teen and c.idx not in chosen:
                continue
            ep = c.episodes[-1]
            if ep.admission is None:
                continue
            every = 2 if teen else 3
            lo = max(ep.admission + timedelta(days=7), self.start)
            hi = ep.last_day(self.end)
            week = _monday(lo)
            while week <= hi:
                slots = (
                    [(wd, t) for wd in (0, 2, 4) for t in (1020, 1080)]
                    if teen
                    else [(wd, t) for wd in (0, 1, 2, 3, 4) for t in (900, 960, 1020)]
                )
                rng.shuffle(slots)
                for wd, t in slots:
                    d = week + timedelta(days=wd)
                    if not (lo <= d <= hi):
                        continue
                    if self._free(staff, d, t, t + 50) and self._free(c.key, d, t, t + 50):
                        s = _Sess(
                            SessionKind.FAMILY.value,
                            d,
                            t,
                            t + 50,
                            [(staff, True)],
                            "Family Room",
                            client=c,
                            topic="Family session",
                        )
                        self._set_status(s, client_may_cancel=True)
                        self._book(staff, d, t, t + 50)
                        self._book(c.key, d, t, t + 50)
                        self.sessions.append(s)
                        break
                week += timedelta(weeks=every)

    def insert_sessions(self) -> None:
        self.sessions.sort(key=lambda s: (s.day, s.start, s.kind, s.client.idx if s.client else -1))
        rows = [
            self._row(
                kind=s.kind,
                track_id=self.track_id[s.track.code] if s.track else None,
                client_id=s.client.id if s.client else None,
                block_id=self.block_id[s.block] if s.block else None,
                session_date=s.day,
                start_time=_t(s.start),
                end_time=_t(s.end),
                location=s.location,
                telehealth=s.telehealth,
                status=s.status,
                cancelled_by_clinic=s.by_clinic,
                cancel_reason=s.reason,
                topic=s.topic,
            )
            for s in self.sessions
        ]
        for s, sid in zip(self.sessions, self._insert_ids(ClinicSession, rows), strict=True):
            s.id = sid
        self._insert(
            SessionFacilitator,
            [
                self._row(session_id=s.id, staff_id=self.staff_id[key], is_primary=primary)
                for s in self.sessions
                for key, primary in s.staff
            ],
        )

    # -- attendance and notes -----------------------------------------------------------------
    def _signing(self, s: _Sess, author: str, draft: bool, content: str) -> dict[str, Any]:
        rng = self.rng
        created = self._utc(s.day, s.end + rng.randint(5, 30))
        values: dict[str, Any] = {
            "created_at": created,
            "updated_at": created,
            "status": NoteStatus.DRAFT.value,
            "signed_by": None,
            "signed_at": None,
            "content_sha256": None,
            "cosign_required": _STAFF_BY_KEY[author].supervisor is not None,
            "cosigned_by": None,
            "cosigned_at": None,
        }
        if draft:
            return values
        signed = min(
            created + timedelta(minutes=rng.randint(10, 240)), self._utc(s.day, 23 * 60 + 30)
        )
        values.update(
            updated_at=signed,
            status=NoteStatus.SIGNED.value,
            signed_by=self.user_id[author],
            signed_at=signed,
            content_sha256=_sha256(content),
        )
        supervisor = _STAFF_BY_KEY[author].supervisor
        if supervisor and s.day < self.today - timedelta(days=7):
            cosigned = signed + timedelta(days=1, hours=rng.randint(0, 6))
            values.update(
                updated_at=cosigned, cosigned_by=self.user_id[supervisor], cosigned_at=cosigned
            )
        return values

    def _note(
        self,
        s: _Sess,
        c: _Client,
        author: str,
        fmt: str,
        sections: dict[str, str],
        modalities: str,
        minutes: int,
        draft: bool,
        group_note_id: int | None = None,
        risk: bool = False,
    ) -> dict[str, Any]:
        content = json.dumps(sections, ensure_ascii=False)
        return self._row(
            client_id=c.id,
            session_id=s.id,
            group_note_id=group_note_id,
            author_staff_id=self.staff_id[author],
            format=fmt,
            service_date=s.day,
            content_json=content,
            modalities=modalities,
            risk_suicidal=risk,
            risk_screened=group_note_id is None,
            safety_plan=SAFETY_PLAN if risk else "",
            service_minutes=minutes,
            **self._signing(s, author, draft, content),
        )

    def _individual_sections(self, fmt: str, flavor: str) -> dict[str, str]:
        rng = self.rng
        mood, focus = rng.choice(MOOD[flavor]), rng.choice(FOCUS[flavor])
        if fmt == NoteFormat.SOAP.value:
            return {
                "Subjective": rng.choice(QUOTES[flavor]),
                "Objective": rng.choice(OBJECTIVE),
                "Assessment": rng.choice(ASSESSMENT),
                "Plan": rng.choice(PLAN),
            }
        if fmt == NoteFormat.BIRP.value:
            return {
                "Behavior": mood + ".",
                "Intervention": focus + ".",
                "Response": rng.choice(RESPONSE),
                "Plan": rng.choice(PLAN),
            }
        return {
            "Data": f"{mood}. {focus}.",
            "Assessment": rng.choice(ASSESSMENT),
            "Plan": rng.choice(PLAN),
        }

    def attendance_and_notes(self) -> None:
        rng, today = self.rng, self.today
        by_track: dict[str, list[_Client]] = {t.code: [] for t in TRACKS}
        for c in sorted(self.clients, key=lambda c: c.idx):
            by_track[c.track.code].append(c)
        risk_client = rng.choice([c for c in self.clients if c.track.flavor == "mh"]).idx
        risk_done = False
        attendance: list[dict[str, Any]] = []
        group_notes: list[dict[str, Any]] = []
        pending: list[tuple[_Sess, list[tuple[_Client, str, int]], bool]] = []
        notes: list[dict[str, Any]] = []
        recent = today - timedelta(days=5)
        for s in self.sessions:
            if s.status != SessionStatus.HELD.value:
                continue
            if s.kind == SessionKind.GROUP.value:
                assert s.track is not None
                present = []
                for c in by_track[s.track.code]:
                    if c.episode_on(s.day) is None:
                        continue
                    status, arrive, leave = self._group_status(c, s)
                    minutes = max(0, leave - arrive) if arrive >= 0 else 0
                    attendance.append(
                        self._row(
                            session_id=s.id,
                            client_id=c.id,
                            status=status,
                            arrival_time=_t(arrive) if arrive >= 0 else None,
                            departure_time=_t(leave) if arrive >= 0 else None,
                            minutes=minutes,
                        )
                    )
                    if arrive >= 0:
                        present.append((c, status, minutes))
                        self.group_days.setdefault(c.idx, []).append(s.day)
                if present:
                    draft = s.day >= today - timedelta(days=3) and rng.random() < 0.5
                    pending.append((s, present, draft))
                    author = s.staff[0][0]
                    group_notes.append(
                        self._row(
                            session_id=s.id,
                            author_staff_id=self.staff_id[author],
                            topic=s.topic,
                            interventions=s.interventions,
                            modalities=s.modalities,
                            narrative=rng.choice(NARRATIVES).format(n=len(present)),
                            status=NoteStatus.DRAFT.value if draft else NoteStatus.SIGNED.value,
                        )
                    )
                continue
            assert s.client is not None
            c, author = s.client, s.staff[0][0]
            late = rng.randint(5, 15) if rng.random() < 0.05 else 0
            attendance.append(
                self._row(
                    session_id=s.id,
                    client_id=c.id,
                    status=AttendanceStatus.LATE.value if late else AttendanceStatus.PRESENT.value,
                    arrival_time=_t(s.start + late),
                    departure_time=_t(s.end),
                    minutes=s.end - s.start - late,
                )
            )
            if s.day >= today - timedelta(days=7) and rng.random() < 0.12:
                continue  # not written yet: the "sessions without a note" queue
            draft = s.day >= recent and rng.random() < 0.35
            flavor = c.track.flavor
            if s.kind == SessionKind.INTAKE.value:
                primary = c.diagnoses[0]
                sections = {
                    "Subjective": "Presenting concerns, history and current use reviewed.",
                    "Objective": "Biopsychosocial assessment completed; mental status exam "
                    "unremarkable apart from "
                    + rng.choice(("anxious affect", "low mood", "fatigue"))
                    + ".",
                    "Assessment": f"Meets criteria for {primary} {DIAGNOSES[primary]}. "
                    "IOP level of care indicated.",
                    "Plan": f"Admit to {c.track.name}; consents signed; initial treatment plan "
                    "within 7 days.",
                }
                notes.append(
                    self._note(
                        s,
                        c,
                        author,
                        NoteFormat.SOAP.value,
                        sections,
                        "Psychoeducation",
                        s.end - s.start - late,
                        draft,
                    )
                )
            elif s.kind == SessionKind.FAMILY.value:
                sections = {
                    "Data": "Session with client and family. "
                    + rng.choice(
                        (
                            "Discussed communication at home.",
                            "Reviewed house rules and supports for recovery.",
                            "Family shared concerns; client responded calmly.",
                        )
                    ),
                    "Assessment": rng.choice(ASSESSMENT),
                    "Plan": "Next family session in two to three weeks.",
                }
                notes.append(
                    self._note(
                        s,
                        c,
                        author,
                        NoteFormat.DAP.value,
                        sections,
                        "Family systems",
                        s.end - s.start - late,
                        draft,
                    )
                )
            else:
                fmt = _STAFF_BY_KEY[author].note_format
                risk = c.idx == risk_client and not risk_done
                risk_done = risk_done or risk
                mods = rng.sample(MODALITIES[flavor], 2 if rng.random() < 0.4 else 1)
                notes.append(
                    self._note(
                        s,
                        c,
                        author,
                        fmt,
                        self._individual_sections(fmt, flavor),
                        ",".join(mods),
                        s.end - s.start - late,
                        draft and not risk,
                        risk=risk,
                    )
                )
        self._insert(Attendance, attendance)
        group_ids = self._insert_ids(GroupNote, group_notes)
        for (s, present, draft), gid in zip(pending, group_ids, strict=True):
            assert s.track is not None
            author = s.staff[0][0]
            for c, status, minutes in present:
                share = rng.choice(SHARES[s.track.flavor])
                if status == AttendanceStatus.LATE.value:
                    participation = "Arrived late; engaged once present."
                elif status == AttendanceStatus.LEFT_EARLY.value:
                    participation = "Left early; participated before leaving."
                else:
                    participation = rng.choice(PARTICIPATION).format(share=share)
                sections = {
                    "Participation": participation,
                    "Response": rng.choice(GROUP_RESPONSE),
                    "Plan": rng.choice(GROUP_PLAN),
                }
                notes.append(
                    self._note(
                        s,
                        c,
                        author,
                        NoteFormat.GROUP.value,
                        sections,
                        s.modalities,
                        minutes,
                        draft,
                        group_note_id=gid,
                    )
                )
        self._ensure_drafts(notes)
        self._insert(Note, notes)

    def _ensure_drafts(self, notes: list[dict[str, Any]]) -> None:
        """Every clinician who wrote notes this week has at least one still unsigned."""
        has_draft = {n["author_staff_id"] for n in notes if n["status"] == NoteStatus.DRAFT.value}
        latest: dict[int, dict[str, Any]] = {}
        week_ago = self.today - timedelta(days=7)
        for n in notes:
            if (
                n["group_note_id"] is None
                and not n["risk_suicidal"]
                and n["service_date"] >= week_ago
            ):
                current = latest.get(n["author_staff_id"])
                if current is None or n["service_date"] >= current["service_date"]:
                    latest[n["author_staff_id"]] = n
        for author, n in latest.items():
            if author not in has_draft:
                n.update(
                    status=NoteStatus.DRAFT.value,
                    signed_by=None,
                    signed_at=None,
                    content_sha256=None,
                    cosigned_by=None,
                    cosigned_at=None,
                    updated_at=n["created_at"],
                )

    def _group_status(self, c: _Client, s: _Sess) -> tuple[str, int, int]:
        """(status, arrival, departure); arrival -1 when absent."""
        rng = self.rng
        rate = c.attend_rate
        ep = c.episode_on(s.day)
        ama = ep is not None and ep.discharge_type == DischargeType.AMA.value
        if ama and ep and ep.discharge and s.day > ep.discharge - timedelta(days=14):
            rate = 0.35  # drifting away before leaving against advice
        if rng.random() >= rate:
            excused = rng.random() < c.excused_share
            status = (
                AttendanceStatus.ABSENT_EXCUSED if excused else AttendanceStatus.ABSENT_UNEXCUSED
            )
            return status.value, -1, -1
        roll = rng.random()
        if roll < 0.07:
            return AttendanceStatus.LATE.value, s.start + rng.choice((10, 15, 20, 30, 45)), s.end
        if roll < 0.11:
            return AttendanceStatus.LEFT_EARLY.value, s.start, s.end - rng.choice((15, 30, 45, 60))
        return AttendanceStatus.PRESENT.value, s.start, s.end

    # -- treatment plans, measures, authorizations --------------------------------------------
    def treatment_plans(self) -> None:
        rng, today = self.rng, self.today
        plans: list[tuple[_Client, _Episode, date, str]] = []
        rows = []
        reviews: list[tuple[int, date, str]] = []  # plan index, review date, reviewer
        for c in self.clients:
            ep = c.episodes[-1]
            if ep.admission is None or ep.status not in (
                ClientStatus.ACTIVE.value,
                ClientStatus.ON_HOLD.value,
            ):
                continue
            therapist = c.therapist_on(ep.admission) or ep.therapists[0][2]
            if ep.admission > today - timedelta(days=5):
                start = ep.admission
                rows.append(
                    self._row(
                        client_id=c.id,
                        episode_id=ep.id,
                        status=PlanStatus.DRAFT.value,
                        start_date=start,
                        review_interval_days=30,
                        next_review_date=None,
                    )
                )
                plans.append((c, ep, start, therapist))
                continue
            start = min(ep.admission + timedelta(days=rng.randint(2, 6)), today - timedelta(days=1))
            due = start + timedelta(days=30)
            while due < today and rng.random() < 0.88:
                reviews.append((len(rows), due, c.therapist_on(due) or therapist))
                due += timedelta(days=30)
            signed = self._utc(start, 16 * 60 + rng.randint(0, 90))
            rows.append(
                self._row(
                    client_id=c.id,
                    episode_id=ep.id,
                    status=PlanStatus.ACTIVE.value,
                    start_date=start,
                    review_interval_days=30,
                    next_review_date=due,
                    clinician_signed_by=self.user_id[therapist],
                    clinician_signed_at=signed,
                    client_agreed=True,
                    client_signed_date=start,
                )
            )
            plans.append((c, ep, start, therapist))
        plan_ids = self._insert_ids(TreatmentPlan, rows)
        self._insert(
            PlanReview,
            [
                self._row(
                    plan_id=plan_ids[i],
                    review_date=day,
                    reviewer_staff_id=self.staff_id[who],
                    summary=rng.choice(
                        (
                            "Progressing on all objectives; plan continued.",
                            "Partial progress; objectives adjusted.",
                            "Good engagement; continue current interventions.",
                        )
                    ),
                    signed_at=self._utc(day, 17 * 60),
                )
                for i, day, who in reviews
            ],
        )
        problem_ids = self._insert_ids(
            PlanProblem,
            [
                self._row(
                    plan_id=pid,
                    description=PLAN_TEXT[c.track.flavor][0].format(dx=DIAGNOSES[c.diagnoses[0]]),
                    sort_order=0,
                )
                for pid, (c, _, _, _) in zip(plan_ids, plans, strict=True)
            ],
        )
        goal_ids = self._insert_ids(
            PlanGoal,
            [
                self._row(
                    problem_id=prob,
                    description=PLAN_TEXT[c.track.flavor][1],
                    client_words=rng.choice(CLIENT_WORDS[c.track.flavor]),
                    status="open",
                    sort_order=0,
                )
                for prob, (c, _, _, _) in zip(problem_ids, plans, strict=True)
            ],
        )
        objectives: list[tuple[_Client, int, str]] = []
        objective_rows = []
        for goal, (c, _, start, therapist) in zip(goal_ids, plans, strict=True):
            text = PLAN_TEXT[c.track.flavor]
            for order, (desc, days) in enumerate((text[2], text[3])):
                objective_rows.append(
                    self._row(
                        goal_id=goal,
                        description=desc,
                        target_date=start + timedelta(days=days),
                        status="open",
                        sort_order=order,
                    )
                )
                objectives.append((c, order, therapist))
        objective_ids = self._insert_ids(PlanObjective, objective_rows)
        interventions = []
        for oid, (c, order, therapist) in zip(objective_ids, objectives, strict=True):
            desc, modality, frequency = PLAN_TEXT[c.track.flavor][4][order]
            responsible = "nakamura" if modality == "Family systems" else therapist
            interventions.append(
                self._row(
                    objective_id=oid,
                    description=desc,
                    modality=modality,
                    frequency=frequency,
                    responsible_staff_id=self.staff_id[responsible],
                )
            )
        self._insert(PlanIntervention, interventions)

    def outcome_measures(self) -> None:
        rng = self.rng
        rows = []
        for c in self.clients:
            if c.track.flavor != "mh":
                continue
            for ep in c.episodes:
                if ep.admission is None:
                    continue
                last = min(ep.last_day(self.today), self.today - timedelta(days=1))
                phq, gad = rng.randint(13, 22), rng.randint(9, 18)
                day = ep.admission
                while day <= last:
                    staff = c.therapist_on(day) or ep.therapists[0][2]
                    for instrument, total, items in (("PHQ-9", phq, 9), ("GAD-7", gad, 7)):
                        scores = [0] * items
                        for _ in range(total):
                            open_items = [i for i, v in enumerate(scores) if v < 3]
                            scores[rng.choice(open_items)] += 1
                        rows.append(
                            self._row(
                                client_id=c.id,
                                instrument=instrument,
                                measure_date=day,
                                item_scores=",".join(map(str, scores)),
                                total=total,
                                administered_by=self.staff_id[staff],
                            )
                        )
                    phq = max(2, phq - rng.randint(0, 3))
                    gad = max(1, gad - rng.randint(0, 2))
                    day += timedelta(days=14)
        self._insert(OutcomeMeasure, rows)

    def plan_review_progress(self, rng: random.Random) -> None:
        """Progress per goal on each demo plan review (issue 5: reviews rate every goal).

        Uses its own random generator so nothing generated before it changes."""
        goals = self.s.execute(
            select(col(PlanProblem.plan_id), col(PlanGoal.id))
            .join(PlanGoal, col(PlanGoal.problem_id) == col(PlanProblem.id))
            .order_by(col(PlanGoal.id))
        ).all()
        by_plan: dict[int, list[int]] = {}
        for plan_id, goal_id in goals:
            by_plan.setdefault(plan_id, []).append(goal_id)
        reviews = self.s.execute(
            select(col(PlanReview.id), col(PlanReview.plan_id)).order_by(col(PlanReview.id))
        ).all()
        comments = {
            "progressing": (
                "Attending consistently; using coping skills in group.",
                "Reports fewer cravings; practising refusal skills.",
                "Completing homework; mood more stable.",
            ),
            "no change": (
                "Attendance uneven this month; barriers discussed.",
                "Still struggling with sleep; will revisit interventions.",
            ),
            "regressed": ("Lapse reported; relapse-prevention plan updated.",),
        }
        rows = []
        for review_id, plan_id in reviews:
            for goal_id in by_plan.get(plan_id, []):
                rating = rng.choices(["progressing", "no change", "regressed"], weights=[7, 2, 1])[
                    0
                ]
                rows.append(
                    self._row(
                        review_id=review_id,
                        goal_id=goal_id,
                        rating=rating,
                        comment=rng.choice(comments[rating]),
                    )
                )
        self._insert(GoalProgress, rows)

    def authorizations(self) -> None:
        rng, today = self.rng, self.today
        rows: list[dict[str, Any]] = []
        current: list[tuple[int, int]] = []  # (row index, units used so far) of open auths
        for c in self.clients:
            payer = _PAYER_BY_CODE[c.payer]
            if not payer.requires_auth:
                continue
            per_diem = payer.mode == BillingMode.PER_DIEM.value
            code = c.track.per_diem_code if per_diem else "90853"
            days = self.group_days.get(c.idx, [])
            for ep in c.episodes:
                if ep.admission is None:
                    continue
                span = 60 if per_diem else 45
                weekly = len(c.track.blocks)
                units = -(-weekly * span // 7)  # planned sessions, rounded up
                start = ep.admission
                last = ep.discharge or today
                while start <= last:
                    end = start + timedelta(days=span - 1)
                    used = sum(1 for d in days if start <= d <= min(end, today))
                    if start <= today <= end and ep.discharge is None:
                        current.append((len(rows), used))
                    rows.append(
                        self._row(
                            client_id=c.id,
                            payer_id=self.payer_id[c.payer],
                            auth_number=f"{payer.auth_prefix}{_digits(rng, 8)}",
                            code=code,
                            start_date=start,
                            end_date=end,
                            units=units,
                        )
                    )
                    start = end + timedelta(days=1)
        # A few open authorizations nearly used up, and one about to expire.
        busy = [(i, used) for i, used in current if used >= 5]
        rng.shuffle(busy)
        for i, used in busy[:3]:
            rows[i]["units"] = used + rng.randint(1, 2)
        for i, _ in busy[3:4]:
            rows[i]["end_date"] = today + timedelta(days=5)
        self._insert(Authorization, rows)

    def aftercare_plans(self, rng: random.Random) -> None:
        """Aftercare plans for discharged clients (issue 6): finalized for most, two drafts.
        Uses its own generator so the data generated before it is unchanged."""
        from iopdesk.models import (
            AftercareAppointment,
            AftercareContact,
            AftercareCrisisResource,
            AftercareMedication,
            AftercarePlan,
            AftercareSupportGroup,
        )
        from iopdesk.services.aftercare import shipped_crisis_resources

        found = self.s.execute(
            select(Discharge.id, Discharge.client_id, Discharge.episode_id)  # type: ignore[call-overload]
        ).all()
        by_episode = {(cid, eid): did for did, cid, eid in found}
        todo: list[tuple[_Client, _Episode, int]] = []
        for c in self.clients:
            ep = c.episodes[-1]
            if c.status != ClientStatus.DISCHARGED.value or ep.discharge is None:
                continue
            did = by_episode.get((c.id, ep.id))
            if did is not None:
                todo.append((c, ep, did))
        if not todo:
            return
        drafts = {c.idx for c, _, _ in rng.sample(todo, min(2, len(todo) - 1))}
        rows = []
        for c, ep, did in todo:
            assert ep.discharge is not None
            therapist = c.therapist_on(ep.discharge) or ep.therapists[-1][2]
            spanish = c.name.language == "Spanish"
            final = c.idx not in drafts
            bank = AFTERCARE_TEXT["es" if spanish else "en"][c.track.flavor]
            rows.append(
                self._row(
                    client_id=c.id,
                    discharge_id=did,
                    status="finalized" if final else "draft",
                    triggers=bank[0],
                    warning_signs=bank[1],
                    coping_strategies=bank[2],
                    client_goals=rng.choice(bank[3]),
                    strengths=rng.choice(bank[4]),
                    finalized_by=self.user_id[therapist] if final else None,
                    finalized_at=self._utc(ep.discharge, 16 * 60 + rng.randint(0, 60))
                    if final
                    else None,
                )
            )
        plan_ids = self._insert_ids(AftercarePlan, rows)
        appts, meds, groups, contacts, crisis = [], [], [], [], []
        for pid, (c, ep, _) in zip(plan_ids, todo, strict=True):
            assert ep.discharge is not None
            provider, kind, address, phone = rng.choice(AFTERCARE_PROVIDERS)
            day = ep.discharge + timedelta(days=rng.randint(5, 12))
            while day.weekday() > 4:
                day += timedelta(days=1)
            appts.append(
                self._row(
                    plan_id=pid,
                    provider=provider,
                    appointment_type=kind,
                    appointment_date=day,
                    appointment_time=time(rng.choice((9, 10, 13, 15)), rng.choice((0, 30))),
                    address=address,
                    phone=phone,
                    sort_order=0,
                )
            )
            if c.track.flavor != "teen" and rng.random() < 0.8:
                for order, med in enumerate(rng.sample(AFTERCARE_MEDS[c.track.flavor], 2)):
                    meds.append(self._row(plan_id=pid, sort_order=order, **med))
            for order, grp in enumerate(rng.sample(AFTERCARE_GROUPS[c.track.flavor], 2)):
                groups.append(self._row(plan_id=pid, sort_order=order, **grp))
            first = rng.choice(("Maria", "James", "Aisha", "Tom", "Linh", "Carmen", "Dev"))
            relation = rng.choice(("Sister", "Brother", "Friend", "Sponsor", "Mother", "Partner"))
            family = relation in ("Sister", "Brother", "Mother")
            contacts.append(
                self._row(
                    plan_id=pid,
                    name=f"{first} {c.name.last if family else rng.choice(('Reyes', 'Okafor'))}",
                    relationship=relation,
                    phone=f"(555) 01{rng.randrange(10)}-{rng.randrange(10000):04d}",
                    sort_order=0,
                )
            )
            for order, item in enumerate(shipped_crisis_resources()):
                crisis.append(
                    self._row(
                        plan_id=pid,
                        name=item.name,
                        contact=item.contact,
                        description=item.description,
                        sort_order=order,
                    )
                )
        self._insert(AftercareAppointment, appts)
        self._insert(AftercareMedication, meds)
        self._insert(AftercareSupportGroup, groups)
        self._insert(AftercareContact, contacts)
        self._insert(AftercareCrisisResource, crisis)


def create_demo_clinic(
    db: Database, today: date | None = None, seed: int = 7
) -> tuple[Actor, DemoSummary]:
    """Create the demo clinic in a fresh, empty database; returns the admin and the counts."""
    from iopdesk.services import clock

    # The demo's "today" is the demo clinic's today (Chicago), the day its screens show.
    today = today or clock.today(CLINIC_TIMEZONE)
    rng = random.Random(seed)
    admin = setup_clinic(
        db,
        CLINIC_NAME,
        "admin",
        DEMO_PASSWORD,
        "Alex Admin",
        is_demo=True,
        address="1200 Riverside Drive, Suite 210, Riverbend, IL 60990-2104",
        phone="(555) 010-4400",
        email="frontdesk@example.org",
        billing_npi=_npi(rng),
        tax_id=f"36-{_digits(rng, 7)}",
        timezone=CLINIC_TIMEZONE,
    )
    with db.session() as session:
        demo = _Demo(session, admin, today, rng)
        usernames = ["admin", *demo.staff()]
        demo.tracks()
        demo.payers()
        demo.closure()
        demo.plan_clients()
        demo.insert_clients()
        demo.plan_sessions()
        demo.insert_sessions()
        demo.attendance_and_notes()
        demo.treatment_plans()
        demo.outcome_measures()
        demo.authorizations()
        demo.plan_review_progress(random.Random(seed * 1000 + 5))  # own generator: added last
        demo.aftercare_plans(random.Random(seed * 1000 + 6))  # own generator: added last
        from iopdesk.services.consents import add_demo_privacy

        add_demo_privacy(session, today, admin.user_id)  # no random numbers: added last
        from iopdesk.demo.safety import add_demo_safety

        add_demo_safety(session, today)  # no random numbers: added last
        add_demo_claims_setup(session, admin.user_id, today)  # no random numbers: added last
        counts = demo.counts
        summary = DemoSummary(
            clients=counts["Client"],
            staff=counts["Staff"],
            tracks=counts["Track"],
            sessions=counts["ClinicSession"],
            attendance=counts["Attendance"],
            notes=counts["Note"],
            payers=counts["Payer"],
            usernames=usernames,
        )
        audit.record(
            session,
            admin,
            audit.Action.CREATE,
            entity="demo",
            detail=(
                f"clients={summary.clients} staff={summary.staff} tracks={summary.tracks} "
                f"sessions={summary.sessions} attendance={summary.attendance} "
                f"notes={summary.notes} group_notes={counts['GroupNote']} "
                f"payers={summary.payers} users={len(usernames)}"
            ),
        )
    return admin, summary


# Electronic claims set-up of the demo clinic (issue 21): a made-up clearinghouse, payer IDs,
# types of bill and taxonomies, and a parent as the subscriber of each adolescent's plan.
DEMO_CLAIMS_SETTINGS = {
    "submitter_id": "RBIOP0001",
    "submitter_name": "Riverbend Recovery IOP",
    "submitter_contact": "Luis Ortega",
    "submitter_phone": "(555) 010-4400",
    "receiver_id": "DEMOCLEAR",
    "receiver_name": "Demo Clearinghouse",
    "taxonomy": "261QM0801X",
    "tax_id_type": "EIN",
    "x12_usage": "T",
}
# payer code -> (electronic payer ID, claim type "" = from billing mode, type of bill, filing)
DEMO_PAYER_EDI = {
    "PSMCD": ("77001", "", "0131", "MC"),
    "GLCHP": ("77012", "", "0131", "HM"),
    "LHP": ("60054", "", "0131", "CI"),
    "SUMMIT": ("87726", "", "", "CI"),
}
TAXONOMY_BY_CREDENTIAL = (
    ("MD", "2084P0800X"),
    ("PsyD", "103T00000X"),
    ("PhD", "103T00000X"),
    ("LCSW", "1041C0700X"),
    ("LMFT", "106H00000X"),
    ("LPC", "101YP2500X"),
    ("CADC", "101YA0400X"),
)


def add_demo_claims_setup(session: Session, user_id: int | None, today: date) -> None:
    from iopdesk.models import Setting

    for key, value in DEMO_CLAIMS_SETTINGS.items():
        session.add(Setting(key=key, value=value, created_by=user_id, updated_by=user_id))
    for payer in session.execute(select(Payer)).scalars().all():
        edi = DEMO_PAYER_EDI.get(payer.payer_code)
        if edi is not None:
            payer.electronic_payer_id, payer.claim_type, payer.type_of_bill = edi[:3]
            payer.claim_filing_code = edi[3]
            session.add(payer)
    for staff in session.execute(select(Staff).where(col(Staff.npi).is_not(None))).scalars():
        staff.taxonomy = next(
            (t for cred, t in TAXONOMY_BY_CREDENTIAL if cred.lower() in staff.credentials.lower()),
            "101YM0800X",
        )
        session.add(staff)
    adolescents = session.execute(
        select(Coverage, Client)
        .join(Client, col(Client.id) == col(Coverage.client_id))
        .order_by(col(Coverage.id))
    ).all()
    for i, (coverage, client) in enumerate(adolescents):
        age = (today - client.dob).days // 365
        if age >= 18:
            continue
        coverage.subscriber_relationship = "child"
        coverage.subscriber_last_name = client.last_name
        coverage.subscriber_first_name = ("Maria", "James", "Linda", "Robert")[i % 4]
        coverage.subscriber_dob = client.dob.replace(year=client.dob.year - 31, day=1)
        coverage.subscriber_sex = "F" if i % 2 == 0 else "M"
        session.add(coverage)
    session.flush()
