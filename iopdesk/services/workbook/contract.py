"""The workbook contract (issue 3, item 5): the sheets and columns, the settings and codes the
cells may hold, the results and errors of an import and an export, and the session_id that an
exported session without an external id gets. Shared by read, check, apply and export."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from iopdesk.errors import ValidationError
from iopdesk.models import Client, ClinicSession, Track
from iopdesk.models.enums import Population, SessionKind
from iopdesk.services import audit

T = TypeVar("T")


IMPORT_ACTION = audit.Action.IMPORT
# what an exported workbook holds, for the release gate
RELEASE_CATEGORIES = ("attendance", "diagnosis", "billing")
EXPORT_ACTION = audit.Action.EXPORT


def _spec(text: str) -> tuple[tuple[str, bool], ...]:
    return tuple((word.rstrip("*"), word.endswith("*")) for word in text.split())


_CONTRACT: dict[str, tuple[tuple[str, bool], ...]] = {
    "Clinic": _spec("setting* value*"),
    "Staff": _spec(
        "staff_id* first_name* last_name* credentials npi roles* supervisor_id requires_cosign "
        "taxonomy"
    ),
    "Payers": _spec(
        "payer_id* name* billing_mode* requires_auth audio_only_modifier hq_modifier "
        "hf_modifier requires_treatment_plan electronic_payer_id claim_type"
    ),
    "Fees": _spec("payer_id* code* rate*"),
    "Tracks": _spec(
        "track_id* name* level_of_care population required_weekly_hours days* start_time* "
        "end_time* per_diem_code substance_use required_weekly_days"
    ),
    "Clients": _spec(
        "mrn* first_name* last_name* preferred_name dob* sex phone email primary_language "
        "track_id* admission_date* discharge_date primary_therapist payer_id member_id "
        "diagnoses required_weekly_hours part2 required_hours_until"
    ),
    "Authorizations": _spec("mrn* payer_id* auth_number* code* start_date* end_date* units*"),
    "Sessions": _spec(
        "session_id* kind* track_id client_mrn date* start_time* end_time* facilitator* topic "
        "status telehealth note_status"
    ),
    "Attendance": _spec("session_id* mrn* status* minutes"),
    # issue 16: the recipient directory and consents (services.workbook_privacy)
    "Recipients": _spec("name* organization address type"),
    "Consents": _spec(
        "mrn* recipient* kind purposes* information* signed_date* expiry_date revoked_date"
    ),
}

SHEETS: tuple[str, ...] = tuple(_CONTRACT)
"""Sheet names in the contract's order (also the order rows are applied in)."""
COLUMNS: dict[str, tuple[str, ...]] = {
    sheet: tuple(name for name, _ in cols) for sheet, cols in _CONTRACT.items()
}
REQUIRED: dict[str, frozenset[str]] = {
    sheet: frozenset(name for name, required in cols if required)
    for sheet, cols in _CONTRACT.items()
}
CLINIC_SETTINGS: tuple[str, ...] = (
    "name",
    "address",
    "phone",
    "billing_npi",
    "tax_id",
    "office_pos",
    "week_start",
    "per_diem_minimum_minutes",
    "timezone",
    "submitter_id",
    "submitter_name",
    "receiver_id",
    "receiver_name",
    "taxonomy",
)
_CLINIC_FIELDS = frozenset(
    {"name", "address", "phone", "billing_npi", "tax_id", "office_pos", "timezone"}
)
_SETTING_KEYS = (
    "week_start",
    "per_diem_minimum_minutes",
    "submitter_id",
    "submitter_name",
    "receiver_id",
    "receiver_name",
    "taxonomy",
)
PER_DIEM_CODES = ("H0015", "S9480")
AUDIO_ONLY_MODIFIERS = ("93", "FQ")  # audio-only telehealth: 93, or FQ for Medicare
# Payers sheet column -> Payer field
_PAYER_RULE_COLUMNS = {
    "audio_only_modifier": "audio_only_modifier",
    "hq_modifier": "group_hq",
    "hf_modifier": "sud_hf",
    "requires_treatment_plan": "requires_treatment_plan",
}
SUD_PER_DIEM_CODE = "H0015"  # HCPCS H0015: alcohol and/or drug services, intensive outpatient
DEFAULT_HOURS = {Population.ADULT.value: Decimal("9"), Population.ADOLESCENT.value: Decimal("6")}
NOTE_CONTENT = json.dumps(
    {"Note": "Session documented outside IOPDesk; recorded by spreadsheet import."}
)
NOTE_CONTENT_SHA256 = hashlib.sha256(NOTE_CONTENT.encode("utf-8")).hexdigest()
_CHUNK = 500
_KINDS = tuple(k.value for k in SessionKind)
_GENERATED_SESSION_ID = re.compile(
    r"^(group|individual|family|family_without_client|intake)-\d{8}-\d{4}-"
)


@dataclass(frozen=True)
class ImportProblem:
    """One problem in one cell: shown as `Sheet!row column: message` (row 1 is the header)."""

    sheet: str
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.sheet}!{self.row} {self.column}: {self.message}"


@dataclass(frozen=True)
class ImportResult:
    """Rows read per sheet (in the workbook's sheet order) and what happened to them."""

    counts: dict[str, int]
    dry_run: bool
    created: dict[str, int]
    updated: dict[str, int]
    unchanged: dict[str, int]

    def lines(self) -> list[str]:
        """Plain-language summary, one line per sheet (what the CLI and dialog print)."""
        if self.dry_run:
            head = "Dry run: the workbook is valid. Nothing was written; an import would do:"
        else:
            head = "Import finished:"
        out = [head]
        for sheet, rows in self.counts.items():
            out.append(
                f"  {sheet}: {rows} row{'s' if rows != 1 else ''} "
                f"({self.created[sheet]} new, {self.updated[sheet]} changed, "
                f"{self.unchanged[sheet]} unchanged)"
            )
        return out


class ImportFailed(ValidationError):
    """The workbook was refused; nothing was imported. `problems` lists every bad cell."""

    title = "Nothing was imported"

    def __init__(self, problems: Sequence[ImportProblem], message: str | None = None) -> None:
        self.problems = list(problems)
        if message is None:
            n = len(self.problems)
            message = (
                f"Nothing was imported: the workbook has {n} problem{'s' if n != 1 else ''}. "
                "Correct them in the workbook and import it again."
            )
        super().__init__(message)

    def report(self) -> str:
        """The summary followed by one `Sheet!row column: message` line per problem."""
        return "\n".join([self.message, *(str(p) for p in self.problems)])


class ExportCounts(dict[str, int]):
    """Rows written per sheet; `skipped` counts records the format cannot express."""

    def __init__(self, counts: dict[str, int], skipped: dict[str, int]) -> None:
        super().__init__(counts)
        self.skipped = skipped


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _pk(obj: Any) -> int:
    value = obj.id
    assert value is not None
    return int(value)


def _minutes(start: time, end: time) -> int:
    return (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)


def _hhmm(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def generated_session_id(
    kind: str, day: date, start: time, track_code: str | None, mrn: str | None, pk: int
) -> str:
    """A readable session_id for a session that has none (created in the app, not imported)."""
    return f"{kind}-{day:%Y%m%d}-{start:%H%M}-{track_code or mrn or pk}"


def _generated_ids(session: Session) -> dict[str, int]:
    """session_id -> ClinicSession.id for sessions without an external_id; export and import
    compute it the same way, so an exported workbook re-imports onto the same sessions."""
    used = {e for e in session.exec(select(ClinicSession.external_id)).all() if e}
    tracks = {pk: code for pk, code in session.exec(select(Track.id, Track.track_code)).all()}
    rows = session.execute(
        sa_select(
            col(ClinicSession.id),
            col(ClinicSession.kind),
            col(ClinicSession.session_date),
            col(ClinicSession.start_time),
            col(ClinicSession.track_id),
            col(Client.mrn),
        )
        .outerjoin(Client, col(Client.id) == col(ClinicSession.client_id))
        .where(col(ClinicSession.external_id).is_(None))
        .order_by(col(ClinicSession.id))
    ).all()
    out: dict[str, int] = {}
    for pk, kind, day, start, track_id, mrn in rows:
        assert pk is not None
        base = generated_session_id(
            kind, day, start, tracks.get(track_id) if track_id else None, mrn, pk
        )
        key, n = base, 1
        while key in used:
            n += 1
            key = f"{base}-{n}"
        used.add(key)
        out[key] = pk
    return out
