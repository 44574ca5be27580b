"""Billing: claim lines for a period, billing batches and the Excel export (issue 7 items 3-4).

The rules, exactly (decisions where the issue is silent are marked *):

- A line is produced only for *held* sessions the client attended (present, late, left_early)
  whose date lies in the export range (both ends inclusive).
- The client's payer on a date: the non-voided Coverage covering that date (start/end dates,
  open ends), lowest priority number first, then oldest*. No coverage -> "no payer".
- per_diem payer: one line per client per date of service with the per-diem code of the track
  the client is enrolled in that day (newest enrollment covering the day*), units 1, when the
  attended minutes that day across held sessions *with a signed note* reach the setting
  `per_diem_minimum_minutes` (default 180). Otherwise no line and one exception for the day:
  "note not signed" when the day has an attended session without a signed note, else
  "below per-diem minimum (N of M min)" where N = the day's attended minutes (all of them are
  then signed, so N is also the signed minutes) and M = the setting (180 by default)*.
  Every service of a per-diem payer's client is bundled into the day: no separate lines.
  No enrollment or a track without a per-diem code -> "no per-diem code" (checked after the
  minutes rules*). Revenue code 0906 for H0015, 0905 for S9480, "" for everything else.
  Rendering NPI: the client's primary therapist on that date (newest assignment covering it*).
  Place of service*: when every counted session of the day was telehealth "home" -> 10 + 95,
  every one telehealth "office" -> 02 + 95, otherwise the clinic's office POS.
- per_service payer: one line per attended session: group 90853 + HQ (unless the payer turns
  HQ off: `Payer.group_hq`); individual by attended minutes 16-37 90832, 38-52 90834, 53+
  90837, under 16 "under 16 minutes"; family 90847 at 26+ minutes else "under 26 minutes";
  family without the client present (kind family_without_client) 90846 at 26+ minutes else
  "under 26 minutes"; intake 90791. Rendering NPI: the session's primary facilitator (any
  facilitator when none is marked primary*).
- Telehealth "home": POS 10 + modifier 95; "office": POS 02 + 95; else the office POS.
  Audio-only telehealth ("home_audio", "office_audio"): the same POS with the payer's
  audio-only modifier instead of 95: FQ (Medicare) or 93 (`Payer.audio_only_modifier`).
- HF (substance abuse program): on every line of a payer with `Payer.sud_hf` on, for a day the
  client is enrolled in a substance-use track (Track.is_sud; the newest enrollment covering
  the day*).
- Modifiers joined "," in the order HQ, HF, 95, FQ, 93.
- Notes: a session counts as documented when the client's note of it is signed and, when the
  note needs a co-signature (its author is an associate/supervisee: Staff.is_supervisee, at
  the time of writing), co-signed. Signed but not yet co-signed -> "note not co-signed".
  Notes imported as signed need no co-signature.
- Diagnoses: the `Diagnosis Codes` column holds the client's diagnoses active in the period
  (primary first, then sort order; at most 12, as a claim holds), and `Diagnosis Pointers`
  the letters (A-L) of those active on the date of service (onset on or before it, not
  resolved before it), at most 4, e.g. "A,B". None active on the day -> "no diagnosis".
- Treatment plan (payer setting `requires_treatment_plan`, default off): a date of service
  needs a signed plan in effect: the newest signed plan (active, superseded or finalized)
  starting on or before the day*, whose review was not overdue on that day: the review due
  date is the plan start + its review interval, then each review date (on or before the day)
  + the interval; the day after the due date the plan is overdue. Otherwise "no current
  treatment plan".
- charge = fee (non-voided FeeSchedule for payer and code effective on the date, newest
  effective_from wins*) x units; none -> "no fee for CODE".
- Payer requires authorization: a non-voided Authorization for client, payer and code covering
  the date with units left. Lines are allocated in date order (then MRN, then code); units
  used = units of lines in non-voided batches + earlier lines of this run. Among several
  covering authorizations the one ending first (then starting first) is used first*. None
  covering -> "no authorization"; covering but used up -> "authorization exhausted".
- Precedence (the first applying reason is the exception): no payer, no member ID,
  no diagnosis, no current treatment plan*, note not signed, note not co-signed, the minutes
  rules (and "no per-diem code"*), no fee, authorization.
- Exceptions are one per client-day for per-diem payers and for clients without a payer*, one
  per session for per-service payers.
- Double billing: a line is left out when a line with the same (client, date, session (None
  for per diem), code) is in a non-voided batch, unless include_billed. Re-included lines
  do not count their own earlier units against their authorization twice*.

Set-based: one fixed set of queries per run, whatever the number of clients or days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import func as sa_func
from sqlalchemy import literal as sa_literal
from sqlalchemy import select as sa_select
from sqlalchemy.sql import Executable
from sqlmodel import Session, col

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, UserError, ValidationError
from iopdesk.models import (
    Attendance,
    Authorization,
    BillingBatch,
    BillingLine,
    Client,
    Clinic,
    ClinicSession,
    Coverage,
    Diagnosis,
    FeeSchedule,
    Note,
    Payer,
    PlanReview,
    SessionFacilitator,
    Staff,
    TherapistAssignment,
    Track,
    TrackEnrollment,
    TreatmentPlan,
    utcnow,
)
from iopdesk.models.enums import (
    ATTENDED_STATUSES,
    AssignmentRole,
    BatchStatus,
    BillingMode,
    NoteStatus,
    PlanStatus,
    SessionKind,
    SessionStatus,
    Telehealth,
)
from iopdesk.reports.data.billing import BillingException as BillingException
from iopdesk.reports.data.billing import BillingRun as BillingRun
from iopdesk.reports.data.billing import ClaimLine as ClaimLine
from iopdesk.reports.data.billing import SummaryRow as SummaryRow
from iopdesk.services import audit, filesout
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import get_setting_in
from iopdesk.services.declare import Audited, about, acting, service
from iopdesk.services.disclosures import Release
from iopdesk.services.permissions import Perm, require
from iopdesk.services.records import serialize
from iopdesk.services.steps import free_in_steps, sort_in_steps, sorted_in_steps

_ATTENDED = tuple(s.value for s in ATTENDED_STATUSES)
_CENTS = Decimal("0.01")

REVENUE_CODES = {"H0015": "0906", "S9480": "0905"}

NO_PAYER = "no payer"
NO_MEMBER_ID = "no member ID"
NO_DIAGNOSIS = "no diagnosis"
NOTE_NOT_SIGNED = "note not signed"
NOTE_NOT_COSIGNED = "note not co-signed"
NO_TREATMENT_PLAN = "no current treatment plan"
MAX_DIAGNOSES = 12  # a claim holds 12 diagnoses (837P HI, CMS-1500 box 21 A-L)
MAX_POINTERS = 4  # a line points at 4 of them (SV107, box 24E)
POINTER_LETTERS = "ABCDEFGHIJKL"
AUDIO_ONLY_MODIFIERS = ("93", "FQ")
NO_PER_DIEM_CODE = "no per-diem code"
UNDER_16 = "under 16 minutes"
UNDER_26 = "under 26 minutes"
NO_AUTHORIZATION = "no authorization"
AUTH_EXHAUSTED = "authorization exhausted"


def below_minimum(minutes: int, minimum: int) -> str:
    return f"below per-diem minimum ({minutes} of {minimum} min)"


def no_fee(code: str) -> str:
    return f"no fee for {code}"


# ------------------------------------------------------------------------------------------
# Plain data
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportResult:
    batch_number: str  # "" for a dry run or when there was no line to bill
    lines: int
    exceptions: int
    total: Decimal
    dry_run: bool = False
    path: Path | None = None


@dataclass(frozen=True)
class BatchInfo:
    id: int
    batch_number: str
    date_from: date
    date_to: date
    payer_filter: str | None
    status: str
    line_count: int
    total_charge: Decimal
    file_name: str
    created_at: datetime
    void_reason: str | None


# ------------------------------------------------------------------------------------------
# Pure rules
# ------------------------------------------------------------------------------------------


def procedure_for(kind: str, minutes: int) -> tuple[str | None, str | None]:
    """(code, None) or (None, exception reason) for one per-service session."""
    if kind == SessionKind.GROUP.value:
        return "90853", None
    if kind == SessionKind.INTAKE.value:
        return "90791", None
    if kind == SessionKind.FAMILY.value:
        return ("90847", None) if minutes >= 26 else (None, UNDER_26)
    if kind == SessionKind.FAMILY_WITHOUT_CLIENT.value:
        return ("90846", None) if minutes >= 26 else (None, UNDER_26)
    if kind == SessionKind.INDIVIDUAL.value:
        if minutes < 16:
            return None, UNDER_16
        if minutes <= 37:
            return "90832", None
        if minutes <= 52:
            return "90834", None
        return "90837", None
    return None, f"unknown session kind {kind}"


def place_and_modifier(
    telehealth: str, office_pos: str, audio_modifier: str = "93"
) -> tuple[str, str | None]:
    """(place of service, telehealth modifier): video 95, audio only the payer's FQ or 93."""
    if telehealth == Telehealth.HOME.value:
        return "10", "95"
    if telehealth == Telehealth.OFFICE.value:
        return "02", "95"
    if telehealth == Telehealth.HOME_AUDIO.value:
        return "10", audio_modifier
    if telehealth == Telehealth.OFFICE_AUDIO.value:
        return "02", audio_modifier
    return office_pos, None


def diagnosis_pointers(codes: Sequence[tuple[str, date | None, date | None]], day: date) -> str:
    """Letters (A-L) of the codes active on `day` (onset, resolved), at most MAX_POINTERS."""
    letters = [
        POINTER_LETTERS[i]
        for i, (_code, onset, resolved) in enumerate(codes[:MAX_DIAGNOSES])
        if (onset is None or onset <= day) and (resolved is None or resolved >= day)
    ]
    return ",".join(letters[:MAX_POINTERS])


def plan_in_effect(plans: Sequence[tuple[date, int, Sequence[date]]], day: date) -> bool:
    """Whether a signed treatment plan is in effect on `day`: the newest plan starting on or
    before it (plans as (start, review interval days, review dates)) is not overdue."""
    current: tuple[date, int, Sequence[date]] | None = None
    for plan in plans:
        if plan[0] <= day and (current is None or plan[0] >= current[0]):
            current = plan
    if current is None:
        return False
    start, interval, reviews = current
    last = max((r for r in reviews if start <= r <= day), default=start)
    return day <= last + timedelta(days=interval)


def join_modifiers(modifiers: Iterable[str | None]) -> str:
    order = {"HQ": 0, "HF": 1, "95": 2, "FQ": 3, "93": 4}
    present = [m for m in modifiers if m]
    return ",".join(sorted(dict.fromkeys(present), key=lambda m: order.get(m, 2)))


def _covers(start: date | None, end: date | None, day: date) -> bool:
    return (start is None or start <= day) and (end is None or day <= end)


# ------------------------------------------------------------------------------------------
# Loading (a fixed number of queries)
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Att:
    session_id: int
    client_id: int
    day: date
    kind: str
    telehealth: str
    minutes: int


@dataclass(frozen=True)
class _ClientInfo:
    mrn: str
    label: str
    dob: date
    part2: bool


@dataclass(frozen=True)
class _PayerRules:
    audio_modifier: str = "93"
    group_hq: bool = True
    sud_hf: bool = False
    requires_plan: bool = False


@dataclass
class _Facts:
    office_pos: str
    billing_npi: str
    minimum: int
    attended: list[_Att]
    signed: set[tuple[int, int]]
    clients: dict[int, _ClientInfo]
    coverages: dict[int, list[tuple[date | None, date | None, int, str]]]  # payer_id, member
    diagnoses: dict[int, str]
    enrollments: dict[int, list[tuple[date, date | None, int, str | None]]]  # order, code
    therapists: dict[int, list[tuple[date, date | None, int, str]]]  # order, npi
    facilitators: dict[int, str]
    payers: dict[int, tuple[str, str, bool]]  # code, mode, requires_auth
    fees: dict[tuple[int, str], list[tuple[date | None, date | None, Decimal]]]
    auths: dict[tuple[int, int, str], list[tuple[date, date, int, str, int]]]
    billed: dict[tuple[int, date, int | None, str], tuple[int | None, int]]
    billed_units: dict[int, int]
    # (session, client) pairs whose signed note still awaits its co-signature
    uncosigned: set[tuple[int, int]] = field(default_factory=set)
    # client -> [(code, onset, resolved)] in claim order (the Diagnosis Codes column)
    diagnosis_spans: dict[int, list[tuple[str, date | None, date | None]]] = field(
        default_factory=dict
    )
    sud_enrollments: dict[int, list[tuple[date, date | None, int, bool]]] = field(
        default_factory=dict
    )
    payer_rules: dict[int, _PayerRules] = field(default_factory=dict)
    # client -> [(start, review interval days, review dates)] of signed plans
    plans: dict[int, list[tuple[date, int, list[date]]]] = field(default_factory=dict)


def _rows(core: Connection, statement: Executable) -> Sequence[Any]:
    """All rows of a Core statement (no ORM result layer: a big clinic's year is ~200,000).

    Taken 2,000 at a time: `all()` builds every row in one compiled loop that holds the GIL
    (575 ms for a year's attendance), and the export runs beside the GUI thread."""
    rows: list[Any] = []
    for part in core.execute(statement).partitions(2000):
        rows.extend(part)
    return rows


_INSERT_CHUNK = 5000


def _each(core: Connection, statement: Executable) -> Iterator[Any]:
    """The rows of a Core statement one at a time, fetched 2,000 at a time (as `_rows`); each
    batch is freed once read, so no list of a year's rows is freed in one go afterwards."""
    for part in core.execute(statement).partitions(2000):
        yield from part


def _load(
    session: Session, date_from: date, date_to: date, only_payer_id: int | None = None
) -> _Facts:
    clinic = session.execute(
        sa_select(col(Clinic.office_pos), col(Clinic.billing_npi)).limit(1)
    ).first()
    if clinic is None:
        raise NotFoundError("The clinic has not been set up yet.")
    minimum = int(get_setting_in(session, "per_diem_minimum_minutes"))

    in_range = (
        col(ClinicSession.session_date) >= date_from,
        col(ClinicSession.session_date) <= date_to,
        col(ClinicSession.status) == SessionStatus.HELD.value,
    )
    # Whether the client's note of the session is signed, looked up per attended row through
    # the note's session index (a separate note query walked every note of the year's
    # sessions).
    signed_note = (
        sa_select(sa_literal(1))
        .where(
            col(Note.session_id) == col(Attendance.session_id),
            col(Note.client_id) == col(Attendance.client_id),
            col(Note.status) == NoteStatus.SIGNED.value,
            col(Note.voided_at).is_(None),
        )
        .exists()
    )
    # ... and whether that signed note still awaits the co-signature its author needs
    uncosigned_note = (
        sa_select(sa_literal(1))
        .where(
            col(Note.session_id) == col(Attendance.session_id),
            col(Note.client_id) == col(Attendance.client_id),
            col(Note.status) == NoteStatus.SIGNED.value,
            col(Note.voided_at).is_(None),
            col(Note.cosign_required),
            col(Note.cosigned_at).is_(None),
        )
        .exists()
    )
    attended_q = (
        sa_select(
            col(Attendance.session_id),
            col(Attendance.client_id),
            col(ClinicSession.session_date),
            col(ClinicSession.kind),
            col(ClinicSession.telehealth),
            col(Attendance.minutes),
            signed_note,
            uncosigned_note,
        )
        .join(ClinicSession, col(ClinicSession.id) == col(Attendance.session_id))
        .where(*in_range, col(Attendance.status).in_(_ATTENDED))
    )
    if only_payer_id is not None:
        # An export for one payer keeps only clients that ever had that payer's coverage (a
        # superset of the days _compute bills to it): the queries and pricing below then read
        # ~200 clients instead of a big clinic's whole year (docs/performance.md). `+ 0`
        # keeps the database on the date index: through the client index SQLite walked each
        # client's whole history, 5x slower on time-ordered data.
        attended_q = attended_q.where(
            (col(Attendance.client_id) + 0).in_(
                sa_select(col(Coverage.client_id)).where(
                    col(Coverage.payer_id) == only_payer_id, col(Coverage.voided_at).is_(None)
                )
            )
        )
    # Core rows (no ORM result layer) here and below: a big clinic's year is ~200,000 rows.
    core = session.connection()
    rows = _rows(core, attended_q)
    attended = [_Att(r[0], r[1], r[2], r[3], r[4] or "no", int(r[5] or 0)) for r in rows]
    signed = {(r[0], r[1]) for r in rows if r[6]}
    uncosigned = {(r[0], r[1]) for r in rows if r[6] and r[7]}
    free_in_steps(rows)  # a year's rows: freed in steps (see services/steps.py)
    # The run's clients, listed once: as a sub-query it was re-run by each query below.
    client_ids = sorted({a.client_id for a in attended})
    session_ids = sa_select(col(ClinicSession.id)).where(*in_range).scalar_subquery()

    clients = {
        r[0]: _ClientInfo(r[1], f"{r[2]}, {r[3]}", r[4], bool(r[5]))
        for r in _each(
            core,
            sa_select(
                col(Client.id),
                col(Client.mrn),
                col(Client.last_name),
                col(Client.first_name),
                col(Client.dob),
                col(Client.part2),
            ).where(col(Client.id).in_(client_ids)),
        )
    }
    coverages: dict[int, list[tuple[date | None, date | None, int, str]]] = defaultdict(list)
    for r in _each(
        core,
        sa_select(
            col(Coverage.client_id),
            col(Coverage.start_date),
            col(Coverage.end_date),
            col(Coverage.payer_id),
            col(Coverage.member_id),
        )
        .where(col(Coverage.client_id).in_(client_ids), col(Coverage.voided_at).is_(None))
        .order_by(col(Coverage.priority), col(Coverage.id)),
    ):
        coverages[r[0]].append((r[1], r[2], r[3], (r[4] or "").strip()))
    diag_lists: dict[int, list[str]] = defaultdict(list)
    diag_spans: dict[int, list[tuple[str, date | None, date | None]]] = defaultdict(list)
    for r in _each(
        core,
        sa_select(
            col(Diagnosis.client_id),
            col(Diagnosis.icd10_code),
            col(Diagnosis.onset_date),
            col(Diagnosis.resolved_date),
        )
        .where(
            col(Diagnosis.client_id).in_(client_ids),
            col(Diagnosis.voided_at).is_(None),
            col(Diagnosis.resolved_date).is_(None) | (col(Diagnosis.resolved_date) >= date_from),
            col(Diagnosis.onset_date).is_(None) | (col(Diagnosis.onset_date) <= date_to),
        )
        .order_by(
            col(Diagnosis.client_id),
            col(Diagnosis.is_primary).desc(),
            col(Diagnosis.sort_order),
            col(Diagnosis.id),
        ),
    ):
        if r[1] and r[1] not in diag_lists[r[0]] and len(diag_lists[r[0]]) < MAX_DIAGNOSES:
            diag_lists[r[0]].append(r[1])
            diag_spans[r[0]].append((r[1], r[2], r[3]))
    enrollments: dict[int, list[tuple[date, date | None, int, str | None]]] = defaultdict(list)
    sud_enrollments: dict[int, list[tuple[date, date | None, int, bool]]] = defaultdict(list)
    for r in _each(
        core,
        sa_select(
            col(TrackEnrollment.client_id),
            col(TrackEnrollment.start_date),
            col(TrackEnrollment.end_date),
            col(TrackEnrollment.id),
            col(Track.per_diem_code),
            col(Track.is_sud),
        )
        .join(Track, col(Track.id) == col(TrackEnrollment.track_id))
        .where(
            col(TrackEnrollment.client_id).in_(client_ids),
            col(TrackEnrollment.voided_at).is_(None),
        ),
    ):
        enrollments[r[0]].append((r[1], r[2], r[3], r[4]))
        sud_enrollments[r[0]].append((r[1], r[2], r[3], bool(r[5])))
    therapists: dict[int, list[tuple[date, date | None, int, str]]] = defaultdict(list)
    for r in _each(
        core,
        sa_select(
            col(TherapistAssignment.client_id),
            col(TherapistAssignment.start_date),
            col(TherapistAssignment.end_date),
            col(TherapistAssignment.id),
            col(Staff.npi),
        )
        .join(Staff, col(Staff.id) == col(TherapistAssignment.staff_id))
        .where(
            col(TherapistAssignment.client_id).in_(client_ids),
            col(TherapistAssignment.voided_at).is_(None),
            col(TherapistAssignment.role) == AssignmentRole.PRIMARY_THERAPIST.value,
        ),
    ):
        therapists[r[0]].append((r[1], r[2], r[3], r[4] or ""))
    facilitators: dict[int, str] = {}
    for r in _each(
        core,
        sa_select(col(SessionFacilitator.session_id), col(Staff.npi))
        .join(Staff, col(Staff.id) == col(SessionFacilitator.staff_id))
        .where(col(SessionFacilitator.session_id).in_(session_ids))
        .order_by(col(SessionFacilitator.is_primary), col(SessionFacilitator.id)),
    ):
        facilitators[r[0]] = r[1] or ""  # primary rows come last and win
    payer_rows = _rows(
        core,
        sa_select(
            col(Payer.id),
            col(Payer.payer_code),
            col(Payer.billing_mode),
            col(Payer.requires_auth),
            col(Payer.audio_only_modifier),
            col(Payer.group_hq),
            col(Payer.sud_hf),
            col(Payer.requires_treatment_plan),
        ),
    )
    payers = {r[0]: (r[1], r[2], bool(r[3])) for r in payer_rows}
    payer_rules = {
        r[0]: _PayerRules(r[4] or "93", bool(r[5]), bool(r[6]), bool(r[7])) for r in payer_rows
    }
    plans: dict[int, list[tuple[date, int, list[date]]]] = {}
    if client_ids and any(rule.requires_plan for rule in payer_rules.values()):
        plans = _signed_plans(core, client_ids)
    fees: dict[tuple[int, str], list[tuple[date | None, date | None, Decimal]]] = defaultdict(list)
    for r in _each(
        core,
        sa_select(
            col(FeeSchedule.payer_id),
            col(FeeSchedule.code),
            col(FeeSchedule.effective_from),
            col(FeeSchedule.effective_to),
            col(FeeSchedule.rate),
        ).where(col(FeeSchedule.voided_at).is_(None)),
    ):
        fees[(r[0], r[1])].append((r[2], r[3], Decimal(r[4])))
    auths: dict[tuple[int, int, str], list[tuple[date, date, int, str, int]]] = defaultdict(list)
    for r in _each(
        core,
        sa_select(
            col(Authorization.client_id),
            col(Authorization.payer_id),
            col(Authorization.code),
            col(Authorization.start_date),
            col(Authorization.end_date),
            col(Authorization.id),
            col(Authorization.auth_number),
            col(Authorization.units),
        ).where(
            col(Authorization.client_id).in_(client_ids),
            col(Authorization.voided_at).is_(None),
            col(Authorization.end_date) >= date_from,
            col(Authorization.start_date) <= date_to,
        ),
    ):
        auths[(r[0], r[1], r[2])].append((r[3], r[4], r[5], r[6], int(r[7])))
    live = col(BillingBatch.status) != BatchStatus.VOIDED.value
    billed: dict[tuple[int, date, int | None, str], tuple[int | None, int]] = {}
    for r in _each(
        core,
        sa_select(
            col(BillingLine.client_id),
            col(BillingLine.date_of_service),
            col(BillingLine.session_id),
            col(BillingLine.procedure_code),
            col(BillingLine.authorization_id),
            col(BillingLine.units),
        )
        .join(BillingBatch, col(BillingBatch.id) == col(BillingLine.batch_id))
        .where(
            live,
            col(BillingLine.date_of_service) >= date_from,
            col(BillingLine.date_of_service) <= date_to,
            # only the run's clients (`+ 0`: stay on the date index, as above)
            (col(BillingLine.client_id) + 0).in_(client_ids),
        ),
    ):
        billed[(r[0], r[1], r[2], r[3])] = (r[4], int(r[5]))
    # Units already billed against the authorizations this run can draw on (no other
    # authorization is ever looked up).
    auth_ids = sorted({a[2] for spans in auths.values() for a in spans})
    billed_units: dict[int, int] = (
        {
            r[0]: int(r[1])
            for r in _each(
                core,
                sa_select(col(BillingLine.authorization_id), sa_func.sum(col(BillingLine.units)))
                .join(BillingBatch, col(BillingBatch.id) == col(BillingLine.batch_id))
                .where(live, col(BillingLine.authorization_id).in_(auth_ids))
                .group_by(col(BillingLine.authorization_id)),
            )
        }
        if auth_ids
        else {}
    )
    return _Facts(
        office_pos=clinic[0] or "11",
        billing_npi=clinic[1] or "",
        minimum=minimum,
        attended=attended,
        signed=signed,
        clients=clients,
        coverages=coverages,
        diagnoses={cid: ",".join(codes) for cid, codes in diag_lists.items()},
        enrollments=enrollments,
        uncosigned=uncosigned,
        diagnosis_spans=diag_spans,
        sud_enrollments=sud_enrollments,
        payer_rules=payer_rules,
        plans=plans,
        therapists=therapists,
        facilitators=facilitators,
        payers=payers,
        fees=fees,
        auths=auths,
        billed=billed,
        billed_units=billed_units,
    )


def _signed_plans(
    core: Connection, client_ids: list[int]
) -> dict[int, list[tuple[date, int, list[date]]]]:
    """Each client's signed treatment plans (start, review interval, review dates): two
    queries, made only when some payer requires a plan."""
    signed = (
        col(TreatmentPlan.client_id).in_(client_ids),
        col(TreatmentPlan.clinician_signed_at).is_not(None),
        col(TreatmentPlan.status) != PlanStatus.DRAFT.value,
    )
    reviews: dict[int, list[date]] = defaultdict(list)
    for r in _each(
        core,
        sa_select(col(PlanReview.plan_id), col(PlanReview.review_date))
        .join(TreatmentPlan, col(TreatmentPlan.id) == col(PlanReview.plan_id))
        .where(*signed),
    ):
        reviews[r[0]].append(r[1])
    plans: dict[int, list[tuple[date, int, list[date]]]] = defaultdict(list)
    for r in _each(
        core,
        sa_select(
            col(TreatmentPlan.client_id),
            col(TreatmentPlan.id),
            col(TreatmentPlan.start_date),
            col(TreatmentPlan.review_interval_days),
        ).where(*signed),
    ):
        plans[r[0]].append((r[2], int(r[3]), reviews.get(r[1], [])))
    return plans


# ------------------------------------------------------------------------------------------
# Computing a run (pure Python over the loaded facts)
# ------------------------------------------------------------------------------------------


@dataclass
class _Candidate:
    """A line that passed every rule up to the fee; fee and authorization come later."""

    client_id: int
    day: date
    session_id: int | None
    payer_id: int
    member_id: str
    code: str
    modifiers: str
    pos: str
    rendering_npi: str
    pointers: str = ""


def _newest(spans: Iterable[tuple[date, date | None, int, Any]], day: date) -> Any:
    best: tuple[date, date | None, int, Any] | None = None
    for span in spans:
        if _covers(span[0], span[1], day) and (best is None or (span[0], span[2]) > best[:3:2]):
            best = span
    return None if best is None else best[3]


def _coverage(facts: _Facts, cid: int, day: date) -> tuple[int, str] | None:
    for start, end, payer_id, member in facts.coverages.get(cid, ()):
        if _covers(start, end, day):
            return payer_id, member
    return None


def _fee(facts: _Facts, payer_id: int, code: str, day: date) -> Decimal | None:
    best: tuple[date, Decimal] | None = None
    for start, end, rate in facts.fees.get((payer_id, code), ()):
        if _covers(start, end, day):
            key = start or date.min
            if best is None or key >= best[0]:
                best = (key, rate)
    return None if best is None else best[1]


def _compute(
    facts: _Facts, date_from: date, date_to: date, payer_code: str | None, include_billed: bool
) -> BillingRun:
    run = BillingRun(date_from, date_to, payer_filter=payer_code)
    by_day: dict[tuple[int, date], list[_Att]] = defaultdict(list)
    for a in facts.attended:
        by_day[(a.client_id, a.day)].append(a)

    candidates: list[_Candidate] = []

    def exception(
        cid: int, day: date, reason: str, session_id: int | None = None, code: str = ""
    ) -> None:
        info = facts.clients[cid]
        run.exceptions.append(
            BillingException(
                info.mrn, info.label, day, reason, cid, session_id, info.part2, code or ""
            )
        )

    for (cid, day), atts in sorted_in_steps(by_day.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if cid not in facts.clients:
            continue
        atts.sort(key=lambda a: a.session_id)
        cover = _coverage(facts, cid, day)
        payer = facts.payers.get(cover[0]) if cover else None
        if payer_code is not None and (payer is None or payer[0] != payer_code):
            continue
        if cover is None or payer is None:
            exception(cid, day, NO_PAYER)
            continue
        payer_id, member = cover
        per_diem = payer[1] == BillingMode.PER_DIEM.value
        rules = facts.payer_rules.get(payer_id, _PayerRules())
        pointers = diagnosis_pointers(facts.diagnosis_spans.get(cid, ()), day)
        client_reason = (
            NO_MEMBER_ID
            if not member
            else NO_DIAGNOSIS
            if not pointers
            else NO_TREATMENT_PLAN
            if rules.requires_plan and not plan_in_effect(facts.plans.get(cid, ()), day)
            else None
        )
        hf = "HF" if rules.sud_hf and _newest(facts.sud_enrollments.get(cid, ()), day) else None
        if per_diem:
            diem = _newest(facts.enrollments.get(cid, ()), day) or ""
            if client_reason:
                exception(cid, day, client_reason, code=diem)
                continue
            counted = [
                a
                for a in atts
                if (a.session_id, cid) in facts.signed
                and (a.session_id, cid) not in facts.uncosigned
            ]
            signed_minutes = sum(a.minutes for a in counted)
            if signed_minutes < facts.minimum:
                if any((a.session_id, cid) not in facts.signed for a in atts):
                    exception(cid, day, NOTE_NOT_SIGNED, code=diem)
                elif len(counted) < len(atts):
                    exception(cid, day, NOTE_NOT_COSIGNED, code=diem)
                else:
                    exception(cid, day, below_minimum(signed_minutes, facts.minimum), code=diem)
                continue
            code = _newest(facts.enrollments.get(cid, ()), day)
            if not code:
                exception(cid, day, NO_PER_DIEM_CODE)
                continue
            modes = {a.telehealth for a in counted}
            pos, modifier = place_and_modifier(
                modes.pop() if len(modes) == 1 else Telehealth.NO.value,
                facts.office_pos,
                rules.audio_modifier,
            )
            candidates.append(
                _Candidate(
                    cid,
                    day,
                    None,
                    payer_id,
                    member,
                    code,
                    join_modifiers([hf, modifier]),
                    pos,
                    _newest(facts.therapists.get(cid, ()), day) or "",
                    pointers,
                )
            )
            continue
        for a in atts:
            code, reason = procedure_for(a.kind, a.minutes)
            if client_reason:
                exception(cid, day, client_reason, a.session_id, code or "")
                continue
            if (a.session_id, cid) not in facts.signed:
                exception(cid, day, NOTE_NOT_SIGNED, a.session_id, code or "")
                continue
            if (a.session_id, cid) in facts.uncosigned:
                exception(cid, day, NOTE_NOT_COSIGNED, a.session_id, code or "")
                continue
            if code is None:
                exception(cid, day, reason or "not billable", a.session_id)
                continue
            pos, modifier = place_and_modifier(a.telehealth, facts.office_pos, rules.audio_modifier)
            hq = "HQ" if a.kind == SessionKind.GROUP.value and rules.group_hq else None
            candidates.append(
                _Candidate(
                    cid,
                    day,
                    a.session_id,
                    payer_id,
                    member,
                    code,
                    join_modifiers([hq, hf, modifier]),
                    pos,
                    facts.facilitators.get(a.session_id, ""),
                    pointers,
                )
            )

    # double billing: already-billed lines leave the run (or, re-included, stop counting twice)
    used = dict(facts.billed_units)
    kept: list[_Candidate] = []
    for c in candidates:
        billed = facts.billed.get((c.client_id, c.day, c.session_id, c.code))
        if billed is None:
            kept.append(c)
        elif include_billed:
            kept.append(c)
            if billed[0] is not None:
                used[billed[0]] = used.get(billed[0], 0) - billed[1]

    # fee, then authorization units in date order
    sort_in_steps(
        kept, key=lambda c: (c.day, facts.clients[c.client_id].mrn, c.code, c.session_id or 0)
    )
    for c in kept:
        info = facts.clients[c.client_id]
        payer_code_, _mode, requires_auth = facts.payers[c.payer_id]
        rate = _fee(facts, c.payer_id, c.code, c.day)
        if rate is None:
            exception(c.client_id, c.day, no_fee(c.code), c.session_id, c.code)
            continue
        units = 1
        auth_id: int | None = None
        auth_number = ""
        if requires_auth:
            covering = sorted(
                (
                    a
                    for a in facts.auths.get((c.client_id, c.payer_id, c.code), ())
                    if a[0] <= c.day <= a[1]
                ),
                key=lambda a: (a[1], a[0], a[2]),
            )
            if not covering:
                exception(c.client_id, c.day, NO_AUTHORIZATION, c.session_id, c.code)
                continue
            chosen = next((a for a in covering if a[4] - used.get(a[2], 0) >= units), None)
            if chosen is None:
                exception(c.client_id, c.day, AUTH_EXHAUSTED, c.session_id, c.code)
                continue
            auth_id, auth_number = chosen[2], chosen[3]
            used[auth_id] = used.get(auth_id, 0) + units
        run.lines.append(
            ClaimLine(
                mrn=info.mrn,
                client=info.label,
                dob=info.dob,
                payer=payer_code_,
                member_id=c.member_id,
                auth_number=auth_number,
                date_of_service=c.day,
                procedure_code=c.code,
                modifiers=c.modifiers,
                revenue_code=REVENUE_CODES.get(c.code, ""),
                units=units,
                charge=(rate * units).quantize(_CENTS, rounding=ROUND_HALF_UP),
                diagnosis_codes=facts.diagnoses.get(c.client_id, ""),
                diagnosis_pointers=c.pointers,
                rendering_npi=c.rendering_npi,
                billing_npi=facts.billing_npi,
                place_of_service=c.pos,
                client_id=c.client_id,
                session_id=c.session_id,
                authorization_id=auth_id,
                payer_id=c.payer_id,
                part2=info.part2,
            )
        )
    sort_in_steps(
        run.lines,
        key=lambda ln: (ln.mrn, ln.date_of_service, ln.procedure_code, ln.session_id or 0),
    )
    run.exceptions.sort(key=lambda e: (e.mrn, e.date_of_service, e.session_id or 0, e.reason))
    run.by_payer = _summarise(run.lines, lambda ln: ln.payer)
    run.by_code = _summarise(run.lines, lambda ln: ln.procedure_code)
    free_in_steps(by_day, candidates, kept)
    return run


def _summarise(lines: list[ClaimLine], key: Any) -> list[SummaryRow]:
    totals: dict[str, list[Any]] = {}
    for ln in lines:
        t = totals.setdefault(key(ln), [0, 0, Decimal("0.00")])
        t[0] += 1
        t[1] += ln.units
        t[2] += ln.charge
    return [SummaryRow(k, v[0], v[1], v[2]) for k, v in sorted(totals.items())]


def _check_range(date_from: date, date_to: date) -> None:
    if date_to < date_from:
        raise ValidationError(
            "The end date is before the start date.", {"date_to": "Must be on or after the start."}
        )


def _run(
    session: Session,
    date_from: date,
    date_to: date,
    payer_code: str | None,
    include_billed: bool,
) -> BillingRun:
    _check_range(date_from, date_to)
    only_payer_id = (
        None
        if payer_code is None
        else session.execute(
            sa_select(col(Payer.id)).where(col(Payer.payer_code) == payer_code)
        ).scalar_one_or_none()
    )
    facts = _load(session, date_from, date_to, only_payer_id)
    if payer_code is not None and payer_code not in {p[0] for p in facts.payers.values()}:
        raise ValidationError(
            f"There is no payer with the ID {payer_code}.", {"payer": "Unknown payer ID."}
        )
    run = _compute(facts, date_from, date_to, payer_code, include_billed)
    _release_facts(facts)
    return run


def _release_facts(facts: _Facts) -> None:
    """Free a year's facts in steps (see services/steps.py) once the run is computed."""
    free_in_steps(*(v for v in vars(facts).values() if isinstance(v, list | dict | set)))


# ------------------------------------------------------------------------------------------
# Service calls
# ------------------------------------------------------------------------------------------


def preview(
    db: Database,
    actor: Actor,
    date_from: date,
    date_to: date,
    *,
    payer_code: str | None = None,
    include_billed: bool = False,
) -> BillingRun:
    """What an export over the range would bill now (nothing is recorded but the audit)."""
    require(actor, Perm.BILLING_VIEW)
    with db.session() as session:
        run = _run(session, date_from, date_to, payer_code, include_billed)
        audit.record(
            session,
            actor,
            audit.Action.READ,
            entity="billing_preview",
            detail=f"{date_from.isoformat()}..{date_to.isoformat()}; {len(run.lines)} lines; "
            f"{len(run.exceptions)} exceptions",
        )
        return run


def _next_batch_number(session: Session) -> str:
    count = session.execute(sa_select(sa_func.count()).select_from(BillingBatch)).scalar_one()
    return f"B{int(count) + 1:06d}"


def release_categories(run: BillingRun) -> dict[int, tuple[str, ...]]:
    """Per client, the information categories the billing workbook holds about them: billing,
    plus diagnosis when a claim line carries diagnosis codes."""
    out: dict[int, set[str]] = {}
    for ln in run.lines:
        cats = out.setdefault(ln.client_id, {"billing"})
        if ln.diagnosis_codes.strip():
            cats.add("diagnosis")
    for e in run.exceptions:
        out.setdefault(e.client_id, {"billing"})
    return {cid: tuple(sorted(c)) for cid, c in sorted(out.items())}


def export(
    db: Database,
    actor: Actor,
    date_from: date,
    date_to: date,
    path: Path | str,
    *,
    payer_code: str | None = None,
    include_billed: bool = False,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    release: Release | None = None,
) -> ExportResult:
    """Compute the run and, unless dry_run, record a batch with its lines, the audit event and
    the accounting of disclosures in one transaction, writing the workbook before it commits
    (temp file in the same folder, then os.replace). A failure at any step leaves neither
    batch nor file. With no billable line no batch is recorded, but the workbook (exceptions)
    is still written and audited. `progress(done, total)` reports claim lines written.

    `release` says who receives the workbook: default in-house billing staff (internal use);
    an outside biller, clearinghouse or payer is a disclosure, refused (ConsentRequired)
    unless every Part 2 client in the workbook has a valid consent covering it."""
    require(actor, Perm.BILLING_EXPORT)
    from iopdesk.services.disclosures import authorize_many, plan_release

    release = release or Release("internal", purpose="payment (in-house billing)")
    from iopdesk.reports import billing as writer

    target = Path(path).expanduser()
    if not dry_run:
        if target.suffix.lower() != ".xlsx":
            raise ValidationError(
                f"Cannot save the billing export as '{target.name}': use a name ending in .xlsx.",
                {"path": "Use .xlsx."},
            )
        if not target.parent.is_dir():
            raise ValidationError(
                f"The folder {target.parent} does not exist. Choose an existing folder.",
                {"path": "Folder not found."},
            )
    with db.session() as session:
        acting(session, actor)  # created_by/updated_by are filled by declare.fill_tracked
        serialize(session, "billing_batch")
        run = _run(session, date_from, date_to, payer_code, include_billed)
        total = run.total
        if dry_run:
            session.rollback()
            return ExportResult("", len(run.lines), len(run.exceptions), total, True, None)
        batch_id: int | None = None
        if run.lines:
            run.batch_number = _next_batch_number(session)
            batch = BillingBatch(
                batch_number=run.batch_number,
                date_from=date_from,
                date_to=date_to,
                payer_filter=payer_code,
                line_count=len(run.lines),
                total_charge=total,
                file_name=target.name,
            )
            session.add(batch)
            session.flush()
            batch_id = batch.id
            assert batch_id is not None
            now = utcnow()  # one timestamp for the batch's lines
            # Inserted 5,000 lines per statement: SQLAlchemy builds and then frees each
            # statement's parameter lists in C loops that hold the GIL (~100 ms for a year's
            # ~190,000 lines in one statement, a stall of the window).
            for at in range(0, len(run.lines), _INSERT_CHUNK):
                params = [
                    {
                        "batch_id": batch_id,
                        "client_id": ln.client_id,
                        "session_id": ln.session_id,
                        "payer_id": ln.payer_id,
                        "authorization_id": ln.authorization_id,
                        "date_of_service": ln.date_of_service,
                        "procedure_code": ln.procedure_code,
                        "modifiers": ln.modifiers,
                        "revenue_code": ln.revenue_code,
                        "units": ln.units,
                        "charge": ln.charge,
                        "diagnosis_codes": ln.diagnosis_codes,
                        "diagnosis_pointers": ln.diagnosis_pointers,
                        "rendering_npi": ln.rendering_npi,
                        "billing_npi": ln.billing_npi,
                        "place_of_service": ln.place_of_service,
                        "member_id": ln.member_id,
                        "auth_number": ln.auth_number,
                        "created_by": actor.user_id,
                        "updated_by": actor.user_id,
                        "created_at": now,
                        "updated_at": now,
                        "version": 1,
                    }
                    for ln in run.lines[at : at + _INSERT_CHUNK]
                ]
                session.execute(BillingLine.__table__.insert(), params)  # type: ignore[attr-defined]
        disclosed = release_categories(run)
        notice: tuple[str, ...] = ()
        if disclosed:
            notice = plan_release(session, disclosed, release).notice()
            authorize_many(
                session,
                actor,
                disclosed,
                release,
                f"billing export {run.batch_number or '(no batch)'} "
                f"{date_from.isoformat()}..{date_to.isoformat()}",
            )
        with filesout.audited_write(
            target,
            lambda p: (
                writer.write_xlsx(run, p, progress, notice)
                if notice
                else writer.write_xlsx(run, p, progress)
            ),
        ) as place:
            audit.record(
                session,
                actor,
                audit.Action.EXPORT,
                entity="billing_batch",
                entity_id=batch_id if batch_id is not None else "",
                detail=(
                    f"{release.kind}: billing export {run.batch_number or '(no batch)'} "
                    f"{date_from.isoformat()}..{date_to.isoformat()}"
                    + (f"; payer {payer_code}" if payer_code else "")
                    + f"; {len(run.lines)} lines; {len(run.exceptions)} exceptions; total {total}"
                    + ("; Part 2 notice" if run.has_part2 else "")
                ),
            )
            place()
            session.commit()  # no file without its batch: a failed commit removes the file
    result = ExportResult(
        run.batch_number, len(run.lines), len(run.exceptions), total, False, target
    )
    free_in_steps(run.lines, run.exceptions)  # a year's claim lines: freed in steps
    return result


@service(Perm.BILLING_EXPORT, audit=Audited(audit.Action.UPDATE, "billing_batch"))
def void_batch(session: Session, actor: Actor, batch_number: str, reason: str) -> BatchInfo:
    """Void an exported batch with a reason: its lines become billable again."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give a reason for voiding the batch.", {"reason": "Required."})
    serialize(session, "billing_batch")
    batch = session.execute(
        sa_select(BillingBatch).where(col(BillingBatch.batch_number) == batch_number)
    ).scalar_one_or_none()
    if batch is None:
        raise NotFoundError(f"There is no billing batch {batch_number}.")
    if batch.status == BatchStatus.VOIDED.value:
        raise UserError(f"Billing batch {batch_number} is already voided.")
    now = utcnow()
    batch.status = BatchStatus.VOIDED.value
    batch.voided_at = now
    batch.voided_by = actor.user_id
    batch.void_reason = reason
    batch.updated_at = now
    batch.version += 1
    session.add(batch)
    session.flush()
    about(session, entity_id=batch.id, detail=f"voided batch {batch_number}")
    return _info(batch)


def _info(b: BillingBatch) -> BatchInfo:
    assert b.id is not None
    return BatchInfo(
        b.id,
        b.batch_number,
        b.date_from,
        b.date_to,
        b.payer_filter,
        b.status,
        b.line_count,
        Decimal(b.total_charge),
        b.file_name,
        b.created_at,
        b.void_reason,
    )


def list_batches(db: Database, actor: Actor) -> list[BatchInfo]:
    """Every batch, newest first."""
    require(actor, Perm.BILLING_VIEW)
    with db.read() as session:
        batches = session.execute(
            sa_select(BillingBatch).order_by(col(BillingBatch.id).desc())
        ).scalars()
        return [_info(b) for b in batches]
