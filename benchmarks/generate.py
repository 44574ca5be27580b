"""A large synthetic clinic for the benchmarks (deterministic for a seed, scale and week).

Full scale (scale=1.0): 5,000 clients admitted over 5 years, 10 tracks, 60 staff, 20 payers,
~220,000 sessions (every group block of every week plus each client's individual, family and
intake appointments), ~1,000,000 attendance rows and a signed note for every attended session
(each group session also has its shared group note). Rows go in with SQLAlchemy Core
executemany in large transactions (docs/architecture.md: `add_all` is ~30x slower).

The file is an ordinary encrypted IOPDesk database (created by `Database.open`, migrated, set up
with `setup_clinic`), cached under benchmarks/.cache/ keyed by seed, scale, years and the week it
was made for, so reruns skip generation.

    python -m benchmarks.generate --scale 0.02          # build (or reuse) and print counts
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import os
import random
import shutil
import sys
import time as _time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
CACHE_DIR = ROOT / ".cache"
# The benchmark database key: fixed and public (synthetic data only), supplied the way the
# system keyring would supply it, so no passphrase KDF runs.
BENCH_KEY = bytes.fromhex("5b" * 32)
ADMIN_USER = "admin"
BILLING_USER = "billing"
FRONT_DESK_USER = "frontdesk"
PASSWORD = "benchmark-password-1"
BIG_PAYER = "MCD"  # the per-service payer of ~16% of clients: the year-export scenario
FORMAT_VERSION = 2  # bump when the generated data changes shape

FIRST = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Lisa",
    "Daniel",
    "Nancy",
    "Matthew",
    "Betty",
    "Anthony",
    "Sandra",
    "Mark",
    "Margaret",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Andrew",
    "Emily",
    "Paul",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Carol",
    "Kevin",
    "Amanda",
    "Brian",
    "Melissa",
    "George",
    "Deborah",
    "Timothy",
    "Stephanie",
    "Ronald",
    "Rebecca",
    "Jason",
    "Sharon",
    "Edward",
    "Laura",
    "Jeffrey",
    "Cynthia",
    "Ryan",
    "Amy",
    "Jacob",
    "Kathleen",
    "Gary",
    "Angela",
    "Nicholas",
    "Shirley",
    "Eric",
    "Brenda",
    "Jonathan",
    "Emma",
    "Stephen",
    "Anna",
    "Larry",
    "Pamela",
    "Justin",
    "Nicole",
    "Scott",
    "Samantha",
    "Brandon",
    "Katherine",
    "Benjamin",
    "Christine",
    "Samuel",
    "Debra",
    "Gregory",
    "Rachel",
    "Alexander",
    "Carolyn",
    "Patrick",
    "Janet",
    "Frank",
    "Maria",
    "Raymond",
    "Olivia",
    "Jack",
    "Heather",
    "Dennis",
    "Helen",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gomez",
    "Phillips",
    "Evans",
    "Turner",
    "Diaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
    "Morris",
    "Morales",
    "Murphy",
    "Cook",
    "Rogers",
    "Gutierrez",
    "Ortiz",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Ramos",
    "Kim",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Chavez",
    "Wood",
    "James",
    "Bennett",
    "Gray",
    "Mendoza",
    "Ruiz",
    "Hughes",
    "Price",
    "Alvarez",
    "Castillo",
    "Sanders",
    "Patel",
    "Myers",
    "Long",
    "Ross",
    "Foster",
    "Jimenez",
    "Powell",
    "Jenkins",
    "Perry",
    "Russell",
    "Sullivan",
    "Bell",
    "Coleman",
    "Butler",
    "Henderson",
    "Barnes",
    "Gonzales",
    "Fisher",
    "Vasquez",
    "Simmons",
]
DIAGNOSES = (
    ("F10.20", "Alcohol dependence, uncomplicated"),
    ("F11.20", "Opioid dependence, uncomplicated"),
    ("F32.1", "Major depressive disorder, single episode, moderate"),
    ("F33.1", "Major depressive disorder, recurrent, moderate"),
    ("F41.1", "Generalized anxiety disorder"),
    ("F43.10", "Post-traumatic stress disorder, unspecified"),
    ("F31.81", "Bipolar II disorder"),
    ("F12.20", "Cannabis dependence, uncomplicated"),
)
# (code, name, level, per-diem code, is SUD, weekdays, blocks as (start, end))
PHP_BLOCKS = ((time(9, 0), time(10, 30)), (time(10, 45), time(12, 15)), (time(13, 0), time(14, 30)))
IOP_BLOCKS = ((time(17, 30), time(19, 0)), (time(19, 15), time(20, 45)))
TRACKS = (
    ("PHP-A", "Adult PHP (mental health)", "PHP", "S9480", False, (0, 1, 2, 3, 4), PHP_BLOCKS),
    ("PHP-S", "Adult PHP (substance use)", "PHP", "H0015", True, (0, 1, 2, 3, 4), PHP_BLOCKS),
    ("PHP-Y", "Adolescent PHP", "PHP", "S9480", False, (0, 1, 2, 3, 4), PHP_BLOCKS),
    ("PHP-D", "Dual diagnosis PHP", "PHP", "H0015", True, (0, 1, 2, 3, 4), PHP_BLOCKS),
    ("IOP-AM", "Adult IOP (mental health)", "IOP", "S9480", False, (0, 1, 2, 3), IOP_BLOCKS),
    ("IOP-AS", "Adult IOP (substance use)", "IOP", "H0015", True, (0, 1, 2, 3), IOP_BLOCKS),
    ("IOP-YM", "Adolescent IOP", "IOP", "S9480", False, (0, 1, 2, 3), IOP_BLOCKS),
    ("IOP-W", "Women's IOP", "IOP", "H0015", True, (0, 1, 2, 3), IOP_BLOCKS),
    ("IOP-V", "Veterans IOP", "IOP", "S9480", False, (0, 1, 2, 3), IOP_BLOCKS),
    ("IOP-OP", "Opioid recovery IOP", "IOP", "H0015", True, (0, 1, 2, 3), IOP_BLOCKS),
)
CODES = ("H0015", "S9480", "90853", "90832", "90834", "90837", "90847", "90791")
FEES = {
    "H0015": "210.00",
    "S9480": "260.00",
    "90853": "45.00",
    "90832": "70.00",
    "90834": "95.00",
    "90837": "130.00",
    "90847": "110.00",
    "90791": "180.00",
}
STATUS_WEIGHTS = (
    ("present", 82),
    ("late", 5),
    ("left_early", 3),
    ("absent_excused", 6),
    ("absent_unexcused", 4),
)


@dataclass(frozen=True)
class Spec:
    seed: int = 20261127
    scale: float = 1.0
    years: int = 5
    today: date | None = None
    weeks: int | None = None  # instead of 52 x years (small test clinics)

    @property
    def total_weeks(self) -> int:
        return self.weeks or 52 * self.years

    @property
    def clients(self) -> int:
        return max(10, round(5000 * self.scale))

    @property
    def staff(self) -> int:
        return max(12, round(60 * min(1.0, self.scale * 5)))

    def day(self) -> date:
        return self.today or date.today()

    def key(self) -> str:
        monday = self.day() - timedelta(days=self.day().weekday())
        return (
            f"v{FORMAT_VERSION}-seed{self.seed}-scale{self.scale:g}-weeks{self.total_weeks}-"
            f"{self.day().isoformat() if self.today else monday.isoformat()}"
        )


def npi(rng: random.Random) -> str:
    """A fake NPI with a valid check digit (no real provider)."""
    first_nine = str(rng.randint(100_000_000, 199_999_999))
    return first_nine + str(_luhn("80840" + first_nine))


def _luhn(payload: str) -> int:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


class Loader:
    """Buffers rows per table and writes them with Core executemany, parents first."""

    ORDER = (
        "staff",
        "payer",
        "feeschedule",
        "track",
        "trackblock",
        "client",
        "episode",
        "statuschange",
        "diagnosis",
        "coverage",
        "authorization",
        "trackenrollment",
        "therapistassignment",
        "treatmentplan",
        "clinic_session",
        "sessionfacilitator",
        "groupnote",
        "attendance",
        "note",
    )

    def __init__(self, conn: Any, chunk: int = 50_000) -> None:
        from sqlmodel import SQLModel

        import iopdesk.models  # noqa: F401  (registers every table)

        self.conn = conn
        self.tables = SQLModel.metadata.tables
        self.chunk = chunk
        self.buffers: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.counts: dict[str, int] = defaultdict(int)
        self.stamp = datetime(2026, 1, 1, tzinfo=UTC)

    def add(self, table: str, row: dict[str, Any]) -> None:
        buf = self.buffers[table]
        buf.append(row)
        if len(buf) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        for name in self.ORDER:
            rows = self.buffers.get(name)
            if not rows:
                continue
            table = self.tables[name]
            tracked = "created_at" in table.c
            if tracked:
                for r in rows:
                    r["created_at"] = r["updated_at"] = self.stamp
                    r["version"] = 1
            self.conn.execute(table.insert(), rows)
            self.counts[name] += len(rows)
            rows.clear()


def _weighted(rng: random.Random, weights: tuple[tuple[str, int], ...]) -> str:
    total = sum(w for _, w in weights)
    pick = rng.random() * total
    for value, w in weights:
        pick -= w
        if pick < 0:
            return value
    return weights[-1][0]


def _minutes(start: time, end: time) -> int:
    return (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)


def _shift(t: time, minutes: int) -> time:
    m = t.hour * 60 + t.minute + minutes
    return time(m // 60, m % 60)


def build(path: Path, spec: Spec, *, log: Any = None) -> dict[str, Any]:
    """Create the database file at `path` (must not exist) and fill it. Returns counts."""
    from iopdesk.db import Database, DbTarget
    from iopdesk.services import auth
    from iopdesk.services.clinic import setup_clinic

    say = log or (lambda *_a: None)
    t0 = _time.perf_counter()
    rng = random.Random(spec.seed)
    today = spec.day()
    week0 = today - timedelta(days=today.weekday())
    end = week0 + timedelta(days=6)  # through the end of this week
    start = week0 - timedelta(weeks=spec.total_weeks - 1)
    db = Database.open(DbTarget(path=path), create=True, key=BENCH_KEY)
    try:
        admin = setup_clinic(
            db,
            "Large Benchmark Clinic",
            ADMIN_USER,
            PASSWORD,
            "Ada Admin",
            billing_npi=npi(rng),
            tax_id="12-3456789",
        )
        auth.add_user(db, admin, FRONT_DESK_USER, PASSWORD, "front_desk", "Frank Desk")
        auth.add_user(db, admin, BILLING_USER, PASSWORD, "billing", "Bill Ing")
        uid = admin.user_id
        with db.engine.connect() as conn:
            conn.connection.driver_connection.execute("PRAGMA synchronous = OFF")
            with conn.begin():
                counts = _fill(conn, rng, spec, start, end, today, uid)
        say(f"generated in {_time.perf_counter() - t0:.1f} s")
        from iopdesk.services.schedule import generate_sessions

        counts["future_group_sessions"] = generate_sessions(db, admin, today)
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    finally:
        db.close()
    counts["seconds"] = round(_time.perf_counter() - t0, 1)
    counts["first_day"] = start.isoformat()
    counts["today"] = today.isoformat()
    return counts


def _fill(
    conn: Any,
    rng: random.Random,
    spec: Spec,
    start: date,
    end: date,
    today: date,
    uid: int | None,
) -> dict[str, Any]:
    ld = Loader(conn)
    # -- staff --------------------------------------------------------------------------------
    n_staff = spec.staff
    therapists: list[int] = []
    staff_npi: dict[int, str] = {}
    for i in range(1, n_staff + 1):
        licensed = i % 6 != 0
        role = "therapist" if i % 10 not in (0, 5) else ("supervisor" if i % 10 == 5 else "")
        code_npi = npi(rng) if licensed else None
        ld.add(
            "staff",
            {
                "id": i,
                "staff_code": f"S{i:03d}",
                "first_name": rng.choice(FIRST),
                "last_name": rng.choice(LAST),
                "credentials": "LCSW" if licensed else "CADC",
                "is_supervisee": not licensed,
                "npi": code_npi,
                "email": f"staff{i}@example.org",
                "phone": "",
                "roles": role or "case_manager",
                "active": True,
            },
        )
        if role in ("therapist", "supervisor") and licensed:
            therapists.append(i)
            assert code_npi is not None
            staff_npi[i] = code_npi
    # -- payers and fees ----------------------------------------------------------------------
    payer_codes = [BIG_PAYER] + [f"P{i:02d}" for i in range(1, 20)]
    payer_weights: list[float] = [16.0] + [84.0 / 19] * 19
    per_diem = {"P03", "P07", "P11", "P15"}
    needs_auth = {"P05", "P09"}
    for pid, code in enumerate(payer_codes, 1):
        ld.add(
            "payer",
            {
                "id": pid,
                "payer_code": code,
                "name": "State Medicaid" if code == BIG_PAYER else f"Health Plan {code}",
                "billing_mode": "per_diem" if code in per_diem else "per_service",
                "requires_auth": code in needs_auth,
                "active": True,
            },
        )
        for fcode, fee in FEES.items():
            ld.add(
                "feeschedule",
                {
                    "payer_id": pid,
                    "code": fcode,
                    "rate": Decimal(fee),
                    "effective_from": start,
                    "effective_to": None,
                    "voided_at": None,
                },
            )
    # -- tracks, blocks, group sessions -------------------------------------------------------
    # Sessions are planned first and numbered in date order at the end, and attendance and
    # notes are written session by session, as a clinic's own data grows (rows of one session
    # sit together on disk, which is what date-range queries read).
    # planned: (day, start, end, kind, track, client, block, telehealth, facilitator)
    planned: list[tuple[Any, ...]] = []
    # marks: (planned index, client, status, arrival, departure, minutes, note author)
    marks: list[tuple[Any, ...]] = []
    track_sessions: dict[int, list[tuple[date, time, int]]] = {}
    track_lead: dict[int, int] = {}
    block_id = 0
    for tid, (code, name, level, pd, sud, days, blocks) in enumerate(TRACKS, 1):
        ld.add(
            "track",
            {
                "id": tid,
                "track_code": code,
                "name": name,
                "level_of_care": level,
                "population": "adolescent" if "Y" in code else "adult",
                "is_sud": sud,
                "required_weekly_hours": Decimal("20" if level == "PHP" else "9"),
                "per_diem_code": pd,
                "room": f"Room {tid}",
                "active": True,
            },
        )
        track_lead[tid] = therapists[tid % len(therapists)]
        ids: dict[tuple[int, time], int] = {}
        for wd in days:
            for b_start, b_end in blocks:
                block_id += 1
                ids[(wd, b_start)] = block_id
                ld.add(
                    "trackblock",
                    {
                        "id": block_id,
                        "track_id": tid,
                        "weekday": wd,
                        "start_time": b_start,
                        "end_time": b_end,
                        "active": True,
                    },
                )
        sessions: list[tuple[date, time, int]] = []
        day = start
        while day <= end:
            if day.weekday() in days:
                for b_start, b_end in blocks:
                    sessions.append((day, b_start, len(planned)))
                    planned.append(
                        (day, b_start, b_end, "group", tid, None, ids[(day.weekday(), b_start)],
                         "no", track_lead[tid])
                    )  # fmt: skip
            day += timedelta(days=1)
        track_sessions[tid] = sessions
    # -- clients ------------------------------------------------------------------------------
    n_clients = spec.clients
    span_days = (today - start).days + 14
    signed_at = datetime(2026, 1, 2, tzinfo=UTC)
    for cid in range(1, n_clients + 1):
        admitted = start + timedelta(days=rng.randrange(span_days))
        stay = rng.randint(6, 24)
        discharged = admitted + timedelta(weeks=stay, days=-1)
        if admitted > today:
            status = "referral"
        elif discharged >= today:
            status = "active"
        else:
            status = "discharged"
        tid = rng.randint(1, len(TRACKS))
        therapist = rng.choice(therapists)
        payer = payer_codes.index(rng.choices(payer_codes, weights=payer_weights, k=1)[0]) + 1
        sud = TRACKS[tid - 1][4]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        ld.add(
            "client",
            {
                "id": cid,
                "mrn": f"M{cid:06d}",
                "first_name": first,
                "last_name": last,
                "preferred_name": "",
                "dob": date(1950 + rng.randrange(55), rng.randint(1, 12), rng.randint(1, 28)),
                "sex": rng.choice("FM"),
                "phone": f"({rng.randint(201, 989)}) 555-{rng.randint(0, 9999):04d}",
                "email": "",
                "city": "Springfield",
                "state": "IL",
                "postal_code": "62701",
                "status": status,
                "part2": sud,
                "admission_date": admitted if status != "referral" else None,
                "discharge_date": discharged if status == "discharged" else None,
                "referral_source": "Self",
            },
        )
        ld.add(
            "episode",
            {
                "id": cid,
                "client_id": cid,
                "episode_no": 1,
                "referral_date": admitted - timedelta(days=7),
                "intake_date": admitted,
                "admission_date": admitted if status != "referral" else None,
                "discharge_date": discharged if status == "discharged" else None,
                "status": status,
            },
        )
        ld.add(
            "statuschange",
            {
                "client_id": cid,
                "episode_id": cid,
                "from_status": None,
                "to_status": "referral",
                "effective_date": admitted - timedelta(days=7),
                "reason": "",
            },
        )
        if status != "referral":
            ld.add(
                "statuschange",
                {
                    "client_id": cid,
                    "episode_id": cid,
                    "from_status": "referral",
                    "to_status": "active",
                    "effective_date": admitted,
                    "reason": "",
                },
            )
        code, desc = rng.choice(DIAGNOSES)
        ld.add(
            "diagnosis",
            {
                "client_id": cid,
                "icd10_code": code,
                "description": desc,
                "is_primary": True,
                "sort_order": 0,
                "onset_date": None,
                "voided_at": None,
            },
        )
        ld.add(
            "coverage",
            {
                "client_id": cid,
                "payer_id": payer,
                "member_id": f"MB{cid:08d}",
                "group_number": "",
                "priority": 1,
                "start_date": admitted - timedelta(days=30),
                "end_date": None,
                "voided_at": None,
            },
        )
        if payer_codes[payer - 1] in needs_auth:
            for acode in CODES:
                ld.add(
                    "authorization",
                    {
                        "client_id": cid,
                        "payer_id": payer,
                        "auth_number": f"A{cid:06d}{acode}",
                        "code": acode,
                        "start_date": admitted,
                        "end_date": discharged,
                        "units": 400,
                        "voided_at": None,
                    },
                )
        ld.add(
            "trackenrollment",
            {
                "client_id": cid,
                "episode_id": cid,
                "track_id": tid,
                "start_date": admitted,
                "end_date": discharged,
                "end_reason": "",
                "voided_at": None,
            },
        )
        ld.add(
            "therapistassignment",
            {
                "client_id": cid,
                "staff_id": therapist,
                "role": "primary_therapist",
                "start_date": admitted,
                "end_date": discharged,
                "voided_at": None,
            },
        )
        ld.add(
            "treatmentplan",
            {
                "client_id": cid,
                "episode_id": cid,
                "status": "active" if status == "active" else "finalized",
                "start_date": admitted,
                "review_interval_days": 30,
                "next_review_date": admitted + timedelta(days=30 * (1 + stay // 5)),
            },
        )
        if status == "referral":
            continue
        last_day = min(discharged, today)
        sessions = track_sessions[tid]
        lo = bisect.bisect_left(sessions, (admitted, time.min, 0))
        hi = bisect.bisect_right(sessions, (last_day, time.max, 1 << 60))

        def attend(index: int, s: time, e: time, cid: int = cid, author: int = therapist) -> None:
            st = _weighted(rng, STATUS_WEIGHTS)
            length = _minutes(s, e)
            arrival, departure, minutes = None, None, 0
            if st == "present":
                arrival, departure, minutes = s, e, length
            elif st == "late":
                arrival, departure, minutes = _shift(s, 15), e, length - 15
            elif st == "left_early":
                arrival, departure, minutes = s, _shift(e, -20), length - 20
            marks.append((index, cid, st, arrival, departure, minutes, author))

        for day, s, index in sessions[lo:hi]:
            if day < today:
                attend(index, s, planned[index][2], author=track_lead[tid])
        # Individual appointments: intake, then each week individual therapy, a skills
        # check-in and (every other week) a family session.
        appointments: list[tuple[date, str, time, time]] = [
            (admitted, "intake", time(8, 0), time(9, 0))
        ]
        for week in range(stay):
            monday = admitted + timedelta(weeks=week)
            appointments.append(
                (monday + timedelta(days=1), "individual", time(15, 0), time(15, 55))
            )
            appointments.append(
                (monday + timedelta(days=3), "individual", time(15, 0), time(15, 40))
            )
            if week % 2 == 1:
                appointments.append(
                    (monday + timedelta(days=2), "family", time(16, 0), time(17, 0))
                )
        for day, kind, s, e in appointments:
            if day > end:
                continue
            telehealth = "home" if rng.random() < 0.15 else "no"
            planned.append((day, s, e, kind, None, cid, None, telehealth, therapist))
            if day <= last_day and day < today:
                attend(len(planned) - 1, s, e)
    # -- sessions in date order, then attendance and notes session by session ----------------
    order = sorted(range(len(planned)), key=lambda i: (*planned[i][:4], planned[i][4] or 0))
    new_id = [0] * len(planned)
    for sid, index in enumerate(order, 1):
        new_id[index] = sid
        day, s, e, kind, tid, cid, block, telehealth, staff = planned[index]
        held = day < today
        ld.add(
            "clinic_session",
            {
                "id": sid,
                "kind": kind,
                "track_id": tid,
                "client_id": cid,
                "block_id": block,
                "session_date": day,
                "start_time": s,
                "end_time": e,
                "location": f"Room {tid}" if tid else "Office",
                "telehealth": telehealth,
                "status": "held" if held else "scheduled",
                "topic": "Skills group" if kind == "group" else "",
            },
        )
        ld.add("sessionfacilitator", {"session_id": sid, "staff_id": staff, "is_primary": True})
        if held and kind == "group":
            ld.add(
                "groupnote",
                {
                    "id": sid,
                    "session_id": sid,
                    "author_staff_id": staff,
                    "topic": "Skills group",
                    "interventions": "CBT skills; relapse prevention",
                    "modalities": "CBT",
                    "narrative": "Group reviewed coping skills and practised a behaviour "
                    "chain analysis.",
                    "status": "signed",
                    "voided_at": None,
                },
            )
    del order
    marks.sort(key=lambda m: (new_id[m[0]], m[1]))
    note_id = 0
    for index, cid, st, arrival, departure, minutes, author in marks:
        sid = new_id[index]
        day, kind = planned[index][0], planned[index][3]
        ld.add(
            "attendance",
            {
                "session_id": sid,
                "client_id": cid,
                "status": st,
                "arrival_time": arrival,
                "departure_time": departure,
                "minutes": minutes,
            },
        )
        if not minutes:
            continue
        note_id += 1
        content = json.dumps(
            {
                "Data": f"Client engaged in session on {day:%m/%d}.",
                "Assessment": "Progressing toward goals.",
                "Plan": "Continue current plan.",
            }
        )
        group = kind == "group"
        ld.add(
            "note",
            {
                "id": note_id,
                "client_id": cid,
                "session_id": sid,
                "group_note_id": sid if group else None,
                "author_staff_id": author,
                "format": "group" if group else "DAP",
                "service_date": day,
                "content_json": content,
                "service_minutes": minutes,
                "status": "signed",
                "signed_by": uid,
                "signed_at": signed_at,
                "content_sha256": hashlib.sha256(content.encode()).hexdigest(),
                "voided_at": None,
            },
        )
    ld.flush()
    return {k: v for k, v in ld.counts.items()}


def cached(spec: Spec, *, log: Any = None) -> Path:
    """The database file for `spec`, generating it once."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path = CACHE_DIR / f"clinic-{spec.key()}.db"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        _up_to_date(path, log)
        return path
    for stale in (path, Path(f"{path}.keyinfo"), Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    tmp_dir = CACHE_DIR / f"tmp-{os.getpid()}"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir()
    try:
        tmp = tmp_dir / path.name
        counts = build(tmp, spec, log=log)
        for suffix in (".keyinfo",):
            src = Path(f"{tmp}{suffix}")
            if src.exists():
                os.replace(src, f"{path}{suffix}")
        os.replace(tmp, path)
        meta.write_text(json.dumps(counts, indent=2))
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return path


def _up_to_date(path: Path, log: Any = None) -> None:
    """A clinic cached by an older IOPDesk is migrated once, here, not inside a timed run
    (the app's own safety copy taken before migrating is not kept in the cache)."""
    from iopdesk import migrations
    from iopdesk.db import Database, DbTarget

    db = Database.open(DbTarget(path=path), key=BENCH_KEY, migrate=False)
    try:
        if db.schema_revision() == migrations.HEAD:
            return
        if log is not None:
            log(f"Migrating the cached clinic to schema {migrations.HEAD} (once)...")
        db.migrate()
    finally:
        db.close()
        for backup in path.parent.glob(f"{path.name}.pre-*.bak"):
            backup.unlink()


def meta(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.with_suffix(".json").read_text())
    return data


def working_copy(path: Path, dest_dir: Path) -> Path:
    """A private copy of a cached database for benchmarks that write (exports, sign-in)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / path.name
    for suffix in ("", ".keyinfo"):
        shutil.copyfile(f"{path}{suffix}", f"{dest}{suffix}")
    for suffix in ("-wal", "-shm"):
        Path(f"{dest}{suffix}").unlink(missing_ok=True)
    return dest


def add_spec_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=Spec.seed)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 5,000 clients")
    parser.add_argument("--years", type=int, default=5)


def spec_from_args(argv: list[str] | None = None) -> Spec:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_spec_args(parser)
    args = parser.parse_args(argv)
    return Spec(seed=args.seed, scale=args.scale, years=args.years)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.common import prepare_env

    prepare_env()
    spec = spec_from_args(argv)
    path = cached(spec, log=lambda m: print(m, file=sys.stderr))
    print(json.dumps({"path": str(path), **meta(path)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
