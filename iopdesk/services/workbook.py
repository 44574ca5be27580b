"""Spreadsheet import and export: the clinic's data as one .xlsx workbook (issue 3, item 5).

Import reads every sheet and validates every row, including references between sheets and to
the database, before it writes anything; then it writes in one transaction. A workbook with
any problem imports nothing. Rows are matched on natural keys (staff_id, payer_id, mrn ...)
and only rows whose values differ are written, so importing the same workbook again changes
nothing. Export writes the same sheets and columns, so export -> import -> export is stable.

Optional coding columns (issue 20): Staff `requires_cosign` yes|no (an associate/supervisee
whose notes need a co-signature before they bill; default no, never inferred from
supervisor_id), Payers `audio_only_modifier` 93|FQ, `hq_modifier` yes|no (default yes),
`hf_modifier` yes|no and `requires_treatment_plan` yes|no (default no), Tracks
`required_weekly_days` 0-7 (default 0 = no day minimum). Clients' diagnoses must be billable
ICD-10-CM codes of the code set (a heading such as F10.2 is refused).

Performance: lookups are loaded once per import (no query per row), new rows go in with bulk
INSERTs, and unchanged records are compared as plain rows, so a 10,000-row sheet takes seconds
(tests/test_workbook.py::test_ten_thousand_clients prints the timings).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy import func, insert
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from iopdesk import settings as settings_decl
from iopdesk.db import Database
from iopdesk.errors import DatabaseError, UserError, ValidationError
from iopdesk.models import (
    Attendance,
    Authorization,
    Client,
    Clinic,
    ClinicSession,
    Coverage,
    Diagnosis,
    Episode,
    FeeSchedule,
    GroupNote,
    Note,
    Payer,
    SessionFacilitator,
    Setting,
    Staff,
    StatusChange,
    TherapistAssignment,
    Track,
    TrackBlock,
    TrackEnrollment,
    utcnow,
)
from iopdesk.models.enums import (
    ATTENDED_STATUSES,
    AssignmentRole,
    AttendanceStatus,
    BillingMode,
    ClientStatus,
    LevelOfCare,
    NoteFormat,
    NoteStatus,
    Population,
    SessionKind,
    SessionStatus,
    Telehealth,
)
from iopdesk.reports import PART2_NOTICE
from iopdesk.services import audit, clock, workbook_privacy
from iopdesk.services.actor import Actor, parse_roles, roles_text
from iopdesk.services.clinic import clinic_today, get_setting_in
from iopdesk.services.clock import forget_zone
from iopdesk.services.disclosures import INTERNAL, Release, authorize_many, plan_release
from iopdesk.services.permissions import Perm, require
from iopdesk.services.validation import (
    check_dob,
    check_email,
    check_icd10,
    icd10_description,
    normalize_phone,
    npi_is_valid,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

IMPORT_ACTION = audit.Action.IMPORT
# what an exported workbook holds, for the release gate
RELEASE_CATEGORIES = ("attendance", "diagnosis", "billing")
EXPORT_ACTION = audit.Action.EXPORT


# -- the contract -----------------------------------------------------------------------------


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


# -- public results and errors ----------------------------------------------------------------


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


# -- reading the file -------------------------------------------------------------------------


@dataclass
class _Sheet:
    name: str
    columns: dict[str, int]
    rows: list[tuple[int, tuple[Any, ...]]]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


_OOXML_ESCAPE = re.compile("_x([0-9A-Fa-f]{4})_")


def _cell_text(value: Any) -> Any:
    """A cell value with OOXML's `_xHHHH_` escapes undone (Excel and XlsxWriter write a CR or
    control character that way; openpyxl hands the escape through as it is)."""
    if isinstance(value, str) and "_x" in value:
        return _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
    return value


def _norm(text: Any) -> str:
    """Header / choice key: trimmed, lower-case, spaces and hyphens as underscores."""
    return re.sub(r"[\s\-]+", "_", str(text).strip().strip("*").strip().lower())


_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SAVE_AS = "In Excel choose File > Save As > Excel Workbook (*.xlsx), then import the new file."


def _read(path: Path) -> tuple[list[_Sheet], list[ImportProblem]]:
    name = path.name
    if not path.exists():
        raise ImportFailed([], f"There is no file at {path}.")
    if not path.is_file():
        raise ImportFailed([], f"{path} is a folder, not an Excel workbook.")
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            if not head:
                raise ImportFailed([], f"{name} is empty (0 bytes); it is not an Excel workbook.")
            if head.startswith(_OLE_MAGIC):
                raise ImportFailed(
                    [],
                    f"{name} is an old-style Excel file (.xls) or a password-protected workbook. "
                    f"Remove any password. {_SAVE_AS}",
                )
            if not head.startswith(b"PK\x03\x04"):
                raise ImportFailed(
                    [],
                    f"{name} is not an Excel workbook (.xlsx); it looks like a text or CSV file. "
                    f"Open it in Excel and save it as an Excel Workbook. {_SAVE_AS}",
                )
            fh.seek(0)
            _check_package(fh, name)
            fh.seek(0)
            import openpyxl

            try:
                book = openpyxl.load_workbook(fh, read_only=True, data_only=True)
                try:
                    return _read_sheets(book)
                finally:
                    book.close()
            except ImportFailed:
                raise
            except Exception as exc:
                log.info("unreadable workbook: %s", type(exc).__name__)
                raise ImportFailed(
                    [],
                    f"{name} could not be read as an Excel workbook; it may be damaged or be "
                    f"another kind of file. {_SAVE_AS}",
                ) from None
    except OSError as exc:
        raise ImportFailed([], f"{name} could not be opened: {exc.strerror or exc}.") from None


# Limits on the package, checked from the zip directory before anything is decompressed (a
# "zip bomb" of a few MB can expand to gigabytes). Python's zipfile never yields more than an
# entry's declared size, so the declared sizes bound what openpyxl can read. A clinic's real
# workbook (5,000 clients, a million attendance rows) stays far below them.
MAX_ENTRIES = 10_000
MAX_UNCOMPRESSED = 1_500_000_000  # all parts together
MAX_PART = 64_000_000  # a part openpyxl reads whole (shared strings, styles, workbook ...)
MAX_SHEET = 1_000_000_000  # one worksheet (streamed row by row)
MAX_RATIO = 200  # uncompressed : compressed, for parts over RATIO_FROM bytes
RATIO_FROM = 10_000_000


def _check_package(fh: Any, name: str) -> None:
    """Refuse a workbook whose uncompressed size or compression ratio is absurd, from the
    zip directory alone (nothing is decompressed here)."""
    import zipfile

    try:
        with zipfile.ZipFile(fh) as z:
            entries = z.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise ImportFailed(
            [], f"{name} could not be read as an Excel workbook; it is damaged. {_SAVE_AS}"
        ) from None
    refused = (
        f"{name} was not imported: {{why}}. A real clinic workbook is far smaller; this file "
        "may be damaged or made to exhaust the computer's memory (a 'zip bomb'). Nothing was "
        "read from it."
    )
    if len(entries) > MAX_ENTRIES:
        raise ImportFailed([], refused.format(why=f"it holds {len(entries):,} parts"))
    total = sum(e.file_size for e in entries)
    if total > MAX_UNCOMPRESSED:
        why = f"it would expand to {total / 1e6:,.0f} MB"
        raise ImportFailed([], refused.format(why=why))
    for e in entries:
        is_sheet = e.filename.startswith("xl/worksheets/")
        if e.file_size > (MAX_SHEET if is_sheet else MAX_PART):
            why = f"its part {e.filename} would expand to {e.file_size / 1e6:,.0f} MB"
            raise ImportFailed([], refused.format(why=why))
        if e.file_size > RATIO_FROM and e.file_size > MAX_RATIO * max(e.compress_size, 1):
            ratio = e.file_size / max(e.compress_size, 1)
            why = (
                f"its part {e.filename} is compressed {ratio:,.0f} to 1 "
                f"({e.compress_size:,} bytes expanding to {e.file_size / 1e6:,.0f} MB)"
            )
            raise ImportFailed([], refused.format(why=why))


def _read_sheets(book: Any) -> tuple[list[_Sheet], list[ImportProblem]]:
    from openpyxl.utils import get_column_letter

    by_key = {s.lower(): s for s in SHEETS}
    problems: list[ImportProblem] = []
    found: dict[str, str] = {}
    sheets: list[_Sheet] = []
    for ws in book.worksheets:
        title = str(ws.title)
        name = by_key.get(title.strip().lower())
        if name is None:
            continue  # other sheets (instructions, lookups) are ignored
        if name in found:
            problems.append(
                ImportProblem(
                    name,
                    1,
                    "",
                    f"the workbook has two {name} sheets ('{found[name]}' and '{title}'); "
                    "keep only one",
                )
            )
            continue
        found[name] = title
        if hasattr(ws, "reset_dimensions"):
            ws.reset_dimensions()  # some writers record wrong dimensions; read every row
        rows = ws.iter_rows(values_only=True)
        header = next(rows, None)
        data = [
            (num, tuple(_cell_text(v) for v in values))
            for num, values in enumerate(rows, start=2)
            if any(not _blank(v) for v in values)
        ]
        if header is None or all(_blank(v) for v in header):
            if not data:
                continue  # an empty sheet is the same as no sheet
            header = ()
        known = set(COLUMNS[name])
        columns: dict[str, int] = {}
        for idx, cell in enumerate(header):
            if _blank(cell):
                continue
            key = _norm(cell)
            if key not in known:
                continue  # extra columns are ignored
            if key in columns:
                problems.append(
                    ImportProblem(
                        name,
                        1,
                        key,
                        f"the column appears twice ({get_column_letter(columns[key] + 1)} and "
                        f"{get_column_letter(idx + 1)}); keep one",
                    )
                )
                continue
            columns[key] = idx
        for column in COLUMNS[name]:
            if column in REQUIRED[name] and column not in columns:
                problems.append(ImportProblem(name, 1, column, "required column is missing"))
        sheets.append(_Sheet(name, columns, data))
    if not found:
        raise ImportFailed(
            [],
            "The workbook has none of the sheets IOPDesk imports. Name the sheets "
            f"{', '.join(SHEETS)} (each one is optional) with column names in row 1.",
        )
    if not problems and not any(s.rows for s in sheets):
        raise ImportFailed(
            [],
            "The workbook has no rows to import: its sheets hold only column names or nothing. "
            "Put one record per row below the header row.",
        )
    return sheets, problems


# -- cell parsers (raise ValueError with the message shown to the user) ----------------------


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        raise ValueError(
            f"{_show(value)} is a date, but text was expected (Excel may have changed what "
            "was typed: format the column as Text and type it again)"
        )
    if isinstance(value, time | timedelta):
        raise ValueError(f"{_show(value)} is a time, but text was expected")
    return str(value).strip()


def _text(max_len: int) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _as_text(value)
        if len(text) > max_len:
            raise ValueError(f"too long ({len(text)} characters; at most {max_len})")
        return text

    return parse


def _upper_code(max_len: int) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _as_text(value).upper()
        if not re.fullmatch(r"[A-Z0-9][A-Z0-9.\-]*", text):
            raise ValueError(f"'{text}' is not a billing code (letters and digits, e.g. 90853)")
        if len(text) > max_len:
            raise ValueError(f"too long ({len(text)} characters; at most {max_len})")
        return text

    return parse


_DATE_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?$")


EARLIEST_DATE = date(1900, 1, 1)


def _date(value: Any) -> date:
    """A date in a sane range: not before 1900, not more than a year ahead."""
    day = _any_date(value)
    if day < EARLIEST_DATE:
        raise ValueError(f"{day.isoformat()} is before 1900; check the year")
    latest = clock.current_today() + timedelta(days=366)
    if day > latest:
        raise ValueError(f"{day.isoformat()} is more than a year ahead; check the year")
    return day


def _birth_date(value: Any) -> date:
    """A date of birth: not before 1900 (check_dob then refuses a future one)."""
    day = _any_date(value)
    if day < EARLIEST_DATE:
        raise ValueError(f"{day.isoformat()} is before 1900; check the year")
    return day


def _any_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        match = _DATE_RE.match(value)
        if match:
            try:
                return date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                raise ValueError(f"'{value}' is not a real date") from None
        raise ValueError(f"'{value}' is not a date; use an Excel date or YYYY-MM-DD")
    if isinstance(value, time):
        raise ValueError(f"{_show(value)} is a time, not a date; use an Excel date or YYYY-MM-DD")
    raise ValueError(
        f"{_show(value)} is a number, not a date; format the cell as a date or type YYYY-MM-DD"
    )


_TIME_RE = re.compile(r"^(\d{1,2})[:.](\d{2})(?::(\d{2}))?\s*([ap])?\.?(?:m\.?)?$", re.IGNORECASE)


def _time(value: Any) -> time:
    seconds: float
    if isinstance(value, datetime):
        value = value.time()
    if isinstance(value, time):
        seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
    elif isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        if not 0 <= value < 1:
            raise ValueError(f"{_show(value)} is not a time; use HH:MM, e.g. 09:00")
        seconds = float(value) * 86400
    elif isinstance(value, str):
        match = _TIME_RE.match(value.strip())
        if not match:
            raise ValueError(f"'{value}' is not a time; use HH:MM, e.g. 09:00")
        hour, minute = int(match[1]), int(match[2])
        ampm = (match[4] or "").lower()
        if minute > 59 or (ampm and not 1 <= hour <= 12) or hour > 23:
            raise ValueError(f"'{value}' is not a time; use HH:MM, e.g. 09:00")
        if ampm:
            hour = hour % 12 + (12 if ampm == "p" else 0)
        seconds = hour * 3600 + minute * 60 + int(match[3] or 0)
    else:
        raise ValueError(f"'{_show(value)}' is not a time; use HH:MM, e.g. 09:00")
    minutes = round(seconds / 60)
    if not 0 <= minutes < 24 * 60:
        raise ValueError(f"'{_show(value)}' is not a time of day; use HH:MM, e.g. 09:00")
    return time(minutes // 60, minutes % 60)


def _int(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        number: int
        if isinstance(value, bool):
            raise ValueError(f"'{_show(value)}' is not a whole number")
        if isinstance(value, int):
            number = value
        elif (
            (isinstance(value, float) and value.is_integer())
            or (isinstance(value, Decimal) and value == value.to_integral_value())
            or (isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value))
        ):
            number = int(value)
        else:
            raise ValueError(f"'{_show(value)}' is not a whole number")
        if number < low:
            raise ValueError(f"{number} is too small: must be at least {low}")
        if number > high:
            raise ValueError(f"{number} is too large: must be at most {high}")
        return number

    return parse


def _decimal(low: Decimal, high: Decimal, places: int = 2) -> Callable[[Any], Decimal]:
    step = Decimal(1).scaleb(-places)

    def parse(value: Any) -> Decimal:
        number: Decimal
        try:
            if isinstance(value, bool):
                raise InvalidOperation
            if isinstance(value, int | Decimal):
                number = Decimal(value)
            elif isinstance(value, float):
                number = Decimal(repr(value))
            elif isinstance(value, str):
                number = Decimal(value.replace("$", "").replace(",", "").strip())
            else:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            raise ValueError(f"'{_show(value)}' is not a number") from None
        if not number.is_finite():
            raise ValueError(f"'{_show(value)}' is not a number")
        if number != number.quantize(step):
            raise ValueError(f"{_show(value)} has more than {places} decimal places")
        if number < low:
            least = "0 or more" if low == 0 else f"at least {low}"
            raise ValueError(f"{_show(value)} is too small: must be {least}")
        if number > high:
            raise ValueError(f"{_show(value)} is too large: must be at most {high}")
        return number.quantize(step)

    return parse


def _choice(options: Sequence[str]) -> Callable[[Any], str]:
    lookup = {_norm(o): o for o in options}

    def parse(value: Any) -> str:
        key = _norm(_as_text(value))
        if key in lookup:
            return lookup[key]
        raise ValueError(f"'{_show(value)}' is not allowed; use one of: {', '.join(options)}")

    return parse


def _yes_no(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _as_text(value).lower()
    if text in ("yes", "y", "true", "1"):
        return True
    if text in ("no", "n", "false", "0"):
        return False
    raise ValueError(f"'{_show(value)}' is not yes or no")


def _items(value: Any) -> list[str]:
    return [part.strip() for part in re.split(r"[,;]", _as_text(value)) if part.strip()]


def _codes(max_len: int) -> Callable[[Any], list[str]]:
    one = _text(max_len)

    def parse(value: Any) -> list[str]:
        return list(dict.fromkeys(one(item) for item in _items(value)))

    return parse


def _npi(value: Any) -> str:
    text = _as_text(value).replace(" ", "")
    if not npi_is_valid(text):
        raise ValueError(f"'{text}' is not a valid NPI (10 digits ending in the right check digit)")
    return text


def _roles(value: Any) -> frozenset[str]:
    roles = parse_roles(_as_text(value))
    if not roles:
        raise ValueError("list at least one role")
    return frozenset(r.value for r in roles)


def _roles_text(roles: Iterable[str]) -> str:
    return roles_text(parse_roles(",".join(roles)))


def _diagnoses(value: Any) -> list[str]:
    """Billable ICD-10-CM codes of the code set (a heading such as F10.2 is refused)."""
    return list(dict.fromkeys(check_icd10(code)[0] for code in _items(value)))


def _validator(check: Callable[[str], str], max_len: int) -> Callable[[Any], str]:
    text = _text(max_len)

    def parse(value: Any) -> str:
        return check(text(value))

    return parse


_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAYS = settings_decl.WEEKDAYS


def _weekday(token: str) -> int:
    word = token.strip().lower().rstrip(".")
    matches = [i for i, name in enumerate(_DAY_NAMES) if len(word) >= 2 and name.startswith(word)]
    if len(matches) != 1:
        raise ValueError(f"'{token}' is not a day; use {', '.join(WEEKDAYS)}")
    return matches[0]


DayBlock = tuple[int, time | None, time | None]


def _days(value: Any) -> list[DayBlock]:
    """'Mon,Wed,Thu'; a day may carry its own times when they differ: 'Sat 10:00-12:00'."""
    out: list[DayBlock] = []
    seen: set[tuple[int, time | None]] = set()
    for item in _items(value):
        match = re.fullmatch(r"(\S+)(?:\s+(\S+)\s*-\s*(\S+))?", item)
        if not match:
            raise ValueError(f"'{item}' is not a day; separate days with commas, e.g. Mon,Wed,Thu")
        day = _weekday(match[1])
        start = _time(match[2]) if match[2] else None
        end = _time(match[3]) if match[3] else None
        if start is not None and end is not None and end <= start:
            raise ValueError(f"in '{item}' the end time must be after the start time")
        if (day, start) in seen:
            raise ValueError(f"{WEEKDAYS[day]} is listed twice")
        seen.add((day, start))
        out.append((day, start, end))
    if not out:
        raise ValueError("list at least one day, e.g. Mon,Wed,Thu")
    return sorted(out, key=lambda b: (b[0], b[1] or time.min))


def _tax_id(value: Any) -> str:
    digits = re.sub(r"\D", "", _as_text(value))
    if len(digits) != 9:
        raise ValueError(f"'{_show(value)}' is not a tax ID (EIN: 9 digits, e.g. 12-3456789)")
    return f"{digits[:2]}-{digits[2:]}"


def _pos(value: Any) -> str:
    text = _as_text(value)
    if not re.fullmatch(r"\d{1,2}", text) or int(text) == 0:
        raise ValueError(
            f"'{text}' is not a place-of-service code (2 digits, e.g. 11 office, 57 program)"
        )
    return f"{int(text):02d}"


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    import zoneinfo

    try:
        return frozenset(zoneinfo.available_timezones())
    except Exception:  # pragma: no cover - no time zone database on this computer
        return frozenset()


def _timezone(value: Any) -> str:
    text = _as_text(value)
    zones = _zones()
    if (zones and text not in zones) or (not zones and not re.fullmatch(r"[A-Za-z_]+/\S+", text)):
        raise ValueError(f"'{text}' is not a time zone name (e.g. America/Chicago)")
    return text


def _edi_id(value: Any) -> str:
    text = _as_text(value)
    if not re.fullmatch(r"[A-Za-z0-9]{1,15}", text):
        raise ValueError(f"'{text}' is not an X12 ID (1 to 15 letters and digits)")
    return text.upper()


def _taxonomy(value: Any) -> str:
    text = _as_text(value).upper()
    if not re.fullmatch(r"[0-9A-Z]{9}X", text):
        raise ValueError(
            f"'{text}' is not a provider taxonomy code (10 characters, e.g. 261QM0801X)"
        )
    return text


def _electronic_payer_id(value: Any) -> str:
    text = _as_text(value).upper()
    if not re.fullmatch(r"[0-9A-Z]{2,80}", text):
        raise ValueError(f"'{text}' is not an electronic payer ID (letters and digits)")
    return text


def _setting(key: str) -> Callable[[Any], Any]:
    spec = settings_decl.BY_KEY[key]

    def parse(value: Any) -> Any:
        if key == "week_start":
            return WEEKDAYS[_weekday(_as_text(value))]
        return settings_decl.parse(spec, _as_text(value))

    return parse


_CLINIC_VALUE: dict[str, Callable[[Any], Any]] = {
    "name": _text(200),
    "address": _text(300),
    "phone": _validator(normalize_phone, 40),
    "billing_npi": _npi,
    "tax_id": _tax_id,
    "office_pos": _pos,
    "week_start": _setting("week_start"),
    "per_diem_minimum_minutes": _setting("per_diem_minimum_minutes"),
    "timezone": _timezone,
    "submitter_id": _edi_id,
    "submitter_name": _text(60),
    "receiver_id": _edi_id,
    "receiver_name": _text(60),
    "taxonomy": _taxonomy,
}


# -- parsed rows ------------------------------------------------------------------------------


class _Row:
    """One spreadsheet row being parsed; problems go straight into the shared list."""

    def __init__(
        self, sheet: _Sheet, num: int, values: tuple[Any, ...], problems: list[ImportProblem]
    ) -> None:
        self.sheet = sheet
        self.num = num
        self.values = values
        self.problems = problems
        self.ok = True
        self.v: dict[str, Any] = {}

    def has(self, column: str) -> bool:
        return column in self.sheet.columns

    def raw(self, column: str) -> Any:
        idx = self.sheet.columns.get(column)
        if idx is None or idx >= len(self.values):
            return None
        value = self.values[idx]
        if isinstance(value, str):
            return value.strip() or None
        return value

    def error(self, column: str, message: str) -> None:
        self.ok = False
        self.problems.append(ImportProblem(self.sheet.name, self.num, column, message))

    def get(self, column: str, parse: Callable[[Any], T], required: bool = False) -> T | None:
        value = self.raw(column)
        if value is None:
            if required and self.has(column):
                self.error(column, "required, but the cell is empty")
            return None
        try:
            return parse(value)
        except ValueError as exc:
            self.error(column, str(exc))
            return None

    def put(
        self,
        column: str,
        parse: Callable[[Any], Any],
        required: bool = False,
        default: Any = None,
    ) -> Any:
        """Parse into self.v; absent columns stay out of self.v (an update leaves them alone)."""
        if not self.has(column):
            return None
        value = self.get(column, parse, required)
        if value is None and self.raw(column) is None:
            value = default
        self.v[column] = value
        return value


def _mrn_key(mrn: str | None) -> str | None:
    """MRNs are unique ignoring case and surrounding space: 'm000001' is 'M000001'."""
    return None if mrn is None else mrn.strip().casefold()


def _canonical_mrns(book: _Book, st: _State) -> None:
    """Spell every MRN in the workbook as the database does (or as the Clients sheet first
    does), so that 'm000001' in any sheet is the existing client 'M000001', not a new one."""
    spelled: dict[str, str] = {}
    for known in st.client_ids:
        spelled.setdefault(known.strip().casefold(), known)
    for r in book.sheet("Clients"):
        mrn = r.v.get("mrn")
        if isinstance(mrn, str):
            spelled.setdefault(mrn.casefold(), mrn)
    for sheet, column in (
        ("Clients", "mrn"),
        ("Authorizations", "mrn"),
        ("Sessions", "client_mrn"),
        ("Attendance", "mrn"),
    ):
        for r in book.sheet(sheet):
            value = r.v.get(column)
            if isinstance(value, str):
                r.v[column] = spelled.get(value.casefold(), value)


def _unique(row: _Row, column: str, key: Any, first: dict[Any, int], label: str = "") -> None:
    if key is None:
        return
    if key in first:
        shown = label or f"'{key}'"
        row.error(column, f"{shown} appears more than once (first on row {first[key]})")
    else:
        first[key] = row.num


@dataclass
class _Book:
    order: list[str]  # sheets in the workbook's order
    rows: dict[str, list[_Row]]
    problems: list[ImportProblem]

    def sheet(self, name: str) -> list[_Row]:
        return self.rows.get(name, [])


def _parse(sheets: list[_Sheet], problems: list[ImportProblem]) -> _Book:
    parsers: dict[str, Callable[[_Sheet, list[ImportProblem]], list[_Row]]] = {
        "Clinic": _parse_clinic,
        "Staff": _parse_staff,
        "Payers": _parse_payers,
        "Fees": _parse_fees,
        "Tracks": _parse_tracks,
        "Clients": _parse_clients,
        "Authorizations": _parse_authorizations,
        "Sessions": _parse_sessions,
        "Attendance": _parse_attendance,
        "Recipients": workbook_privacy.parse_recipients,
        "Consents": workbook_privacy.parse_consents,
    }
    rows = {sheet.name: parsers[sheet.name](sheet, problems) for sheet in sheets}
    return _Book([s.name for s in sheets], rows, problems)


def _rows(sheet: _Sheet, problems: list[ImportProblem]) -> Iterator[_Row]:
    for num, values in sheet.rows:
        yield _Row(sheet, num, values, problems)


def _parse_clinic(sheet: _Sheet, problems: list[ImportProblem]) -> list[_Row]:
    out: list[_Row] = []
    first: dict[Any, int] = {}
    for r in _rows(sheet, problems):
        key = r.put("setting", _choice(CLINIC_SETTINGS), required=True)
        _unique(r, "setting", key, first)
        if key is not None:
            r.put("value", _CLINIC_VALUE[key], required=True)
        else:
            r.get("value", _as_text, required=True)
        out.append(r)
    return out


def _parse_staff(sheet: _Sheet, problems: list[ImportProblem]) -> list[_Row]:
    out: list[_Row] = []
    first: dict[Any, int] = {}
    for r in _rows(sheet, problems):
        _unique(r, "staff_id", r.put("staff_id", _text(30), True), first)
        r.put("first_name", _text(100), True)
        r.put("last_name", _text(100), True)
        r.put("credentials", _text(100), default="")
        r.put("npi", _npi)
        r.put("roles", _roles, True)
        r.put("supervisor_id", _text(30))
        r.put("requires_cosign", _yes_no, default=False)
        r.put("taxonomy", _taxonomy, default="")
        out.append(r)
    return out


def _parse_payers(sheet: _Sheet, problems: list[ImportProblem]) -> list[_Row]:
    out: list[_Row] = []
    first: dict[Any, int] = {}
    for r in _rows(sheet, problems):
        _unique(r, "payer_id", r.put("payer_id", _text(30), True), first)
        r.put("name", _text(200), True)
        r.put("billing_mode", _choice([m.value for m in BillingMode]), True)
        r.put("requires_auth", _yes_no, default=False)
        r.put("audio_only_modifier", _choice(AUDIO_ONLY_MODIFIERS), default="93")
        r.put("hq_modifier", _yes_no, default=True)
        r.put("hf_modifier", _yes_no, default=False)
        r.put("requires_treatment_plan", _yes_no, default=False)
        r.put("electronic_payer_id", _electronic_payer_id, default="")
        r.put("claim_type", _choice(["837P", "837I"]), default="")
        out.append(r)
    return out


def _parse_fees(sheet: _Sheet, problems: list[ImportProblem]) -> list[_Row]:
    out: list[_Row] = []
    first: dict[Any, int] = {}
    for r in _rows(sheet, problems):
        payer = r.put("payer_id", _text(30), True)
        code = r.put("code", _upper_code(10), True)
        r.put("rate", _decimal(Decimal(0), Decimal("99999999.99")), True)
        if payer is not None and code is not None:
            label = f"the fee for {payer} {code}"
            _unique(r, "code", (payer, code), first, label)
        out.append(r)
    return out


def _parse_tracks(sheet: _Sheet, problems: list[ImportProblem]) -> list[_Row]:
    out: list[_Row] = []
    first: dict[Any, int] = {}
    for r in _rows(sheet, problems):
        _unique(r, "track_id", r.put("track_id", _text(30), True), first)
        r.put("name", _text(200), True)
        r.put("level_of_care", _choice([x.value for x in LevelOfCare]), default="IOP")
        r.put("population", _choice([p.value for p in Population]), default="adult")
        r.put("required_weekly_hours", _decimal(Decimal(0), Decimal(40)))
        r.put("days", _days, True)
        start = r.put("start_time", _time, True)
        end = r.put("end_time", _time, True)
        if start is not None and end is not None and end <= start:
            r.error("end_time", "must be after start_time")
        r.put("per_diem_code", _choice(PER_DIEM_CODES))
        r.put("substance_use", _yes_no)
        r.put("required_weekly_days", _int(0, 7), default=0)
        out.append(r)
    return out


def _parse_clients(sheet: _Sheet, problems: list[ImportProblem]) -> list[_Row]:
    out: list[_Row] = []
    first: dict[Any, int] = {}
    for r in _rows(sheet, problems):
        mrn = r.put("mrn", _text(20), True)
        _unique(r, "mrn", _mrn_key(mrn), first, f"'{mrn}' (MRNs ignore case)")
        r.put("first_name", _text(100), True)
        r.put("last_name", _text(100), True)
        r.put("preferred_name", _text(100), default="")
        dob = r.put("dob", _birth_date, True)
        if dob is not None:
            try:
                check_dob(dob)
            except ValueError as exc:
                r.error("dob", str(exc))
        r.put("sex", _text(20), default="")
        r.put("phone", _validator(normalize_phone, 40), default="")
        r.put("email", _validator(check_email, 200), default="")
        r.put("primary_language", _text(50), default="")
        r.put("track_id", _text(30), True)
        admission = r.put("admission_date", _date, True)
        if admission is not None and dob is not None and admission < dob:
            r.error(
                "admission_date",
                f"{admission.isoformat()} is before the date of birth ({dob.isoformat()})",
            )
        discharge = r.put("discharge_date", _date)
        if admission is not None and discharge is not None and discharge < admission:
            r.error("discharge_date", "must be on or after admission_date")
        r.put("primary_therapist", _text(30))
        payer = r.put("payer_id", _text(30))
        member = r.put("member_id", _text(40), default="")
        if member and payer is None and r.raw("payer_id") is None:
            r.error("member_id", "give the payer_id this member ID belongs to")
        r.put("diagnoses", _diagnoses, default=[])
        hours = r.put("required_weekly_hours", _decimal(Decimal(0), Decimal(40)))
        r.put("part2", _yes_no)
        until = r.put("required_hours_until", _date)
        if until is not None and hours is None and r.raw("required_weekly_hours") is None:
            r.error("required_hours_until", "give the required_weekly_hours it ends")
        elif until is not None and admission is not None and until < admission:
            r.error("required_hours_until", "must be on or after admission_date")
        out.append(r)
    return out


def _parse_authorizations(sheet: _Sheet, problems: list[ImportProblem]) -> list[_Row]:
    out: list[_Row] = []
    first: dict[Any, int] = {}
    for r in _rows(sheet, problems):
        mrn = r.put("mrn", _text(20), True)
        payer = r.put("payer_id", _text(30), True)
        number = r.put("auth_number", _text(40), True)
        code = r.put("code", _upper_code(10), True)
        start = r.put("start_date", _date, True)
        end = r.put("end_date", _date, True)
        if start is not None and end is not None and end < start:
            r.error("end_date", "must be on or after start_date")
        r.put("units", _int(1, 100_000), True)
        if None not in (mrn, payer, number, code):
            label = f"authorization {number} for {mrn} ({payer} {code})"
            _unique(r, "auth_number", (_mrn_key(mrn), payer, number, code), first, label)
        out.append(r)
    return out


def _parse_sessions(sheet: _Sheet, problems: list[ImportProblem]) -> list[_Row]:
    out: list[_Row] = []
    first: dict[Any, int] = {}
    statuses = (SessionStatus.HELD.value, SessionStatus.CANCELLED.value, "scheduled")
    for r in _rows(sheet, problems):
        _unique(r, "session_id", r.put("session_id", _text(60), True), first)
        kind = r.put("kind", _choice(_KINDS), True)
        track = r.put("track_id", _text(30))
        client = r.put("client_mrn", _text(20))
        r.put("date", _date, True)
        start = r.put("start_time", _time, True)
        end = r.put("end_time", _time, True)
        if start is not None and end is not None and end <= start:
            r.error("end_time", "must be after start_time")
        r.put("facilitator", _codes(30), True)
        r.put("topic", _text(200), default="")
        status = r.put("status", _choice(statuses), default=SessionStatus.HELD.value)
        r.put("telehealth", _choice([t.value for t in Telehealth]), default=Telehealth.NO.value)
        held = (status or SessionStatus.HELD.value) == SessionStatus.HELD.value
        note = r.put(
            "note_status",
            _choice(("signed", "unsigned", "missing")),
            default="signed" if held else "missing",
        )
        if not held and note in ("signed", "unsigned"):
            r.error("note_status", f"a {status} session has no note; leave it empty or use missing")
        if kind == SessionKind.GROUP.value:
            if track is None and r.raw("track_id") is None:
                r.error("track_id", "required for a group session")
            if r.raw("client_mrn") is not None:
                r.error(
                    "client_mrn",
                    "leave empty for a group session; list who came in the Attendance sheet",
                )
        elif kind is not None and client is None and r.raw("client_mrn") is None:
            r.error("client_mrn", f"required for a{'n' if kind[0] in 'ai' else ''} {kind} session")
        out.append(r)
    return out


def _parse_attendance(sheet: _Sheet, problems: list[ImportProblem]) -> list[_Row]:
    out: list[_Row] = []
    first: dict[Any, int] = {}
    for r in _rows(sheet, problems):
        sid = r.put("session_id", _text(60), True)
        mrn = r.put("mrn", _text(20), True)
        r.put("status", _choice([s.value for s in AttendanceStatus]), True)
        r.put("minutes", _int(0, 24 * 60))
        if sid is not None and mrn is not None:
            _unique(r, "mrn", (sid, _mrn_key(mrn)), first, f"'{mrn}' in session '{sid}'")
        out.append(r)
    return out


# -- helpers for the database side ------------------------------------------------------------


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


class _Writer:
    """Change tracking shared by the apply steps: stamps, version bumps, bulk inserts."""

    def __init__(self, session: Session, actor: Actor, probe: bool = False) -> None:
        self.s = session
        self.actor = actor
        self.uid = actor.user_id
        self.now = utcnow()
        self.today = clinic_today(session)
        self.sqlite = session.get_bind().dialect.name == "sqlite"
        # A probe runs the same update code against plain rows and only answers "would this
        # change anything?", so unchanged records never need ORM objects.
        self.probe = probe

    def prober(self) -> _Writer:
        probe = _Writer(self.s, self.actor, probe=True)
        probe.now, probe.today = self.now, self.today
        return probe

    def base(self) -> dict[str, Any]:
        return {
            "created_at": self.now,
            "updated_at": self.now,
            "created_by": self.uid,
            "updated_by": self.uid,
            "version": 1,
        }

    def row(self, **values: Any) -> dict[str, Any]:
        return {**self.base(), **values}

    def touch(self, obj: Any, values: dict[str, Any]) -> bool:
        """Write only what differs; bump the version once. True when something changed."""
        changes = {k: v for k, v in values.items() if getattr(obj, k) != v}
        if not changes:
            return False
        if self.probe:
            return True
        for key, value in changes.items():
            setattr(obj, key, value)
        obj.version = (obj.version or 0) + 1
        obj.updated_at = self.now
        obj.updated_by = self.uid
        self.s.add(obj)
        return True

    def void(self, obj: Any, reason: str) -> None:
        if self.probe:
            return
        obj.voided_at = self.now
        obj.voided_by = self.uid
        obj.void_reason = reason
        obj.version = (obj.version or 0) + 1
        obj.updated_at = self.now
        obj.updated_by = self.uid
        self.s.add(obj)

    def insert_ids(self, model: Any, rows: list[dict[str, Any]]) -> list[int]:
        """Bulk INSERT returning the new ids in row order.

        SQLite cannot return ids of a multi-row INSERT in a guaranteed order, so SQLAlchemy
        falls back to one statement per row (10,000 clients: 20,000 statements). There the
        transaction already holds the write lock (BEGIN IMMEDIATE), so the ids are assigned
        here, after the current maximum. PostgreSQL returns them in order from its sequence.
        """
        if not rows:
            return []
        if self.probe:
            return [0] * len(rows)
        table = model.__table__
        if self.sqlite:
            top = self.s.execute(sa_select(func.max(table.c.id))).scalar() or 0
            ids = list(range(top + 1, top + 1 + len(rows)))
            self.s.execute(
                insert(table), [{**row, "id": pk} for row, pk in zip(rows, ids, strict=True)]
            )
            return ids
        result = self.s.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
        )
        return [int(pk) for pk in result.scalars()]

    def insert(self, model: Any, rows: list[dict[str, Any]]) -> None:
        """Bulk INSERT through the Core table (about twice as fast as the ORM bulk path)."""
        if rows and not self.probe:
            self.s.execute(insert(model.__table__), rows)


@dataclass
class _Tally:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)

    def add(self, sheet: str, kind: str) -> None:
        bucket = getattr(self, kind)
        bucket[sheet] = bucket.get(sheet, 0) + 1


# -- database state loaded once per import ----------------------------------------------------


class _State:
    """Everything the checks and the writes look up, loaded with a handful of queries."""

    def __init__(self, session: Session, book: _Book) -> None:
        self.s = session
        clinic = session.exec(select(Clinic)).first()
        if clinic is None:
            raise ValidationError("The clinic has not been set up yet (run the first-start setup).")
        self.clinic = clinic
        self.staff: dict[str, Staff] = {x.staff_code: x for x in session.exec(select(Staff))}
        self.payers: dict[str, Payer] = {x.payer_code: x for x in session.exec(select(Payer))}
        self.tracks: dict[str, Track] = {x.track_code: x for x in session.exec(select(Track))}
        self.client_ids: dict[str, int] = {
            mrn: int(pk) for mrn, pk in session.exec(select(Client.mrn, Client.id)).all() if pk
        }
        self._mrn_by_id: dict[int, str] | None = None
        # sessions named in the Sessions or Attendance sheet that already exist
        wanted = sorted(
            {
                r.v["session_id"]
                for name in ("Sessions", "Attendance")
                for r in book.sheet(name)
                if r.v.get("session_id")
            }
        )
        self.sessions: dict[str, ClinicSession] = {}
        for chunk in _chunks(wanted):
            for obj in session.exec(
                select(ClinicSession).where(col(ClinicSession.external_id).in_(chunk))
            ):
                assert obj.external_id is not None
                self.sessions[obj.external_id] = obj
        missing = [k for k in wanted if k not in self.sessions and _GENERATED_SESSION_ID.match(k)]
        if missing:
            generated = _generated_ids(session)
            ids = {generated[k]: k for k in missing if k in generated}
            for chunk in _chunks(sorted(ids)):
                for obj in session.exec(
                    select(ClinicSession).where(col(ClinicSession.id).in_(chunk))
                ):
                    self.sessions[ids[_pk(obj)]] = obj
        # notes of existing sessions listed in the Sessions sheet
        self.group_notes: dict[int, GroupNote] = {}
        self.member_notes: dict[int, dict[int, Note]] = {}  # group note id -> client -> note
        self.single_notes: dict[tuple[int, int], Note] = {}  # (session, client) -> note
        existing = sorted(
            {
                _pk(self.sessions[r.v["session_id"]])
                for r in book.sheet("Sessions")
                if r.v.get("session_id") in self.sessions
            }
        )
        for chunk in _chunks(existing):
            for gn in session.exec(
                select(GroupNote)
                .where(col(GroupNote.session_id).in_(chunk), col(GroupNote.voided_at).is_(None))
                .order_by(col(GroupNote.id))
            ):
                self.group_notes.setdefault(gn.session_id, gn)
            for note in session.exec(
                select(Note)
                .where(col(Note.session_id).in_(chunk), col(Note.voided_at).is_(None))
                .order_by(col(Note.id))
            ):
                if note.group_note_id is not None:
                    self.member_notes.setdefault(note.group_note_id, {}).setdefault(
                        note.client_id, note
                    )
                elif note.session_id is not None:
                    self.single_notes.setdefault((note.session_id, note.client_id), note)

    def mrn_of(self, client_id: int | None) -> str | None:
        if client_id is None:
            return None
        if self._mrn_by_id is None:
            self._mrn_by_id = {pk: mrn for mrn, pk in self.client_ids.items()}
        return self._mrn_by_id.get(client_id)

    def note_state(self, obj: ClinicSession) -> str:
        """signed | unsigned | missing, as the export derives note_status."""
        sid = _pk(obj)
        if obj.kind == SessionKind.GROUP.value:
            gn = self.group_notes.get(sid)
            status = gn.status if gn else None
        else:
            note = self.single_notes.get((sid, obj.client_id or 0))
            status = note.status if note else None
        if status is None:
            return "missing"
        return "signed" if status == NoteStatus.SIGNED.value else "unsigned"


# -- cross-sheet and database checks ----------------------------------------------------------


def _keys(book: _Book, sheet: str, column: str) -> set[str]:
    return {r.v[column] for r in book.sheet(sheet) if r.v.get(column) is not None}


def _check(book: _Book, st: _State) -> None:
    staff = _keys(book, "Staff", "staff_id") | set(st.staff)
    payers = _keys(book, "Payers", "payer_id") | set(st.payers)
    tracks = _keys(book, "Tracks", "track_id") | set(st.tracks)
    clients = _keys(book, "Clients", "mrn") | set(st.client_ids)

    def ref(r: _Row, column: str, known: set[str], sheet: str) -> None:
        value = r.v.get(column)
        if value is not None and value not in known:
            r.error(column, f"'{value}' is not in the {sheet} sheet or the database")

    # Staff: supervisors exist and do not loop
    code_by_id = {x.id: code for code, x in st.staff.items()}
    supervisor: dict[str, str | None] = {
        code: code_by_id.get(x.supervisor_id) for code, x in st.staff.items()
    }
    for r in book.sheet("Staff"):
        if r.v.get("staff_id") is not None and "supervisor_id" in r.v:
            supervisor[r.v["staff_id"]] = r.v["supervisor_id"]
    for r in book.sheet("Staff"):
        code, sup = r.v.get("staff_id"), r.v.get("supervisor_id")
        if sup is None:
            continue
        if sup == code:
            r.error("supervisor_id", "a staff member cannot be their own supervisor")
            continue
        if sup not in staff:
            ref(r, "supervisor_id", staff, "Staff")
            continue
        chain: list[str] = [str(code)]
        cur: str | None = sup
        while cur is not None and cur not in chain and len(chain) < 1000:
            chain.append(cur)
            cur = supervisor.get(cur)
        if cur == code:
            r.error(
                "supervisor_id", f"supervisors go round in a loop ({' -> '.join(chain)} -> {code})"
            )
    for r in book.sheet("Fees"):
        ref(r, "payer_id", payers, "Payers")
    for r in book.sheet("Clients"):
        ref(r, "track_id", tracks, "Tracks")
        ref(r, "primary_therapist", staff, "Staff")
        ref(r, "payer_id", payers, "Payers")
    for r in book.sheet("Authorizations"):
        ref(r, "mrn", clients, "Clients")
        ref(r, "payer_id", payers, "Payers")
    sheet_sessions: dict[str, _Row] = {}
    for r in book.sheet("Sessions"):
        sid = r.v.get("session_id")
        if sid is not None:
            sheet_sessions.setdefault(sid, r)
        ref(r, "track_id", tracks, "Tracks")
        if r.v.get("kind") != SessionKind.GROUP.value:
            ref(r, "client_mrn", clients, "Clients")
        unknown = [code for code in r.v.get("facilitator") or [] if code not in staff]
        if unknown:
            shown = ", ".join(f"'{c}'" for c in unknown)
            r.error("facilitator", f"{shown} not in the Staff sheet or the database")
        existing = st.sessions.get(sid) if sid is not None else None
        if existing is not None:
            _check_existing_session(r, existing, st)
    for r in book.sheet("Attendance"):
        _check_attendance(r, sheet_sessions, st, clients)
    workbook_privacy.check(book, st, clients)


def _check_existing_session(r: _Row, obj: ClinicSession, st: _State) -> None:
    sid = r.v["session_id"]
    kind = r.v.get("kind")
    if kind is not None and kind != obj.kind:
        r.error(
            "kind",
            f"session '{sid}' already exists as a {obj.kind} session; its kind cannot change",
        )
        return
    mrn = r.v.get("client_mrn")
    if kind != SessionKind.GROUP.value and mrn is not None and mrn != st.mrn_of(obj.client_id):
        r.error("client_mrn", f"session '{sid}' already belongs to another client; it cannot move")
    wanted = r.v.get("note_status")
    if "note_status" in r.v and wanted is not None:
        current = st.note_state(obj)
        if current == "signed" and wanted != "signed":
            r.error(
                "note_status",
                f"session '{sid}' already has a signed note; a signed note cannot be changed "
                "(add an addendum in the chart instead)",
            )


def _check_attendance(
    r: _Row, sheet_sessions: dict[str, _Row], st: _State, clients: set[str]
) -> None:
    sid, mrn, status = r.v.get("session_id"), r.v.get("mrn"), r.v.get("status")
    if mrn is not None and mrn not in clients:
        r.error("mrn", f"'{mrn}' is not in the Clients sheet or the database")
    info: tuple[str | None, str | None, time | None, time | None, str | None] | None = None
    srow = sheet_sessions.get(sid) if sid is not None else None
    if srow is not None:
        existing = st.sessions.get(sid or "")
        info = (
            srow.v.get("kind") or (existing.kind if existing else None),
            srow.v.get("status")
            if "status" in srow.v
            else (existing.status if existing else SessionStatus.HELD.value),
            srow.v.get("start_time"),
            srow.v.get("end_time"),
            srow.v.get("client_mrn") or (st.mrn_of(existing.client_id) if existing else None),
        )
    elif sid is not None and sid in st.sessions:
        obj = st.sessions[sid]
        info = (obj.kind, obj.status, obj.start_time, obj.end_time, st.mrn_of(obj.client_id))
    elif sid is not None:
        r.error("session_id", f"'{sid}' is not in the Sessions sheet or the database")
        return
    if info is None:
        return
    kind, session_status, start, end, client_mrn = info
    if session_status is not None and session_status != SessionStatus.HELD.value:
        r.error(
            "session_id",
            f"session '{sid}' is {session_status}; attendance is recorded only for held sessions",
        )
        return
    other = kind not in (None, SessionKind.GROUP.value) and client_mrn not in (None, mrn)
    if other and mrn is not None:
        r.error("mrn", f"'{mrn}' is not the client of {kind} session '{sid}'")
    if status is None:
        return
    length = _minutes(start, end) if start is not None and end is not None else None
    minutes = r.v.get("minutes")
    if status in (AttendanceStatus.LATE.value, AttendanceStatus.LEFT_EARLY.value):
        if minutes is None and r.raw("minutes") is None:
            r.error("minutes", f"required when status is {status}")
    elif status not in ATTENDED_STATUSES and minutes:
        r.error("minutes", f"must be 0 or empty when status is {status}")
    if minutes is not None and length is not None and minutes > length:
        r.error("minutes", f"{minutes} minutes is longer than the session ({length} minutes)")


# -- writing ----------------------------------------------------------------------------------


def _apply(book: _Book, st: _State, w: _Writer) -> _Tally:
    tally = _Tally()
    _apply_clinic(book.sheet("Clinic"), st, w, tally)
    _apply_staff(book.sheet("Staff"), st, w, tally)
    _apply_payers(book.sheet("Payers"), st, w, tally)
    _apply_fees(book.sheet("Fees"), st, w, tally)
    _apply_tracks(book.sheet("Tracks"), st, w, tally)
    _apply_clients(book.sheet("Clients"), st, w, tally)
    _apply_authorizations(book.sheet("Authorizations"), st, w, tally)
    _Sessions(book, st, w, tally).apply()
    workbook_privacy.apply_recipients(book.sheet("Recipients"), st, w, tally)
    workbook_privacy.apply_consents(book.sheet("Consents"), st, w, tally)
    w.s.flush()
    return tally


def _count(tally: _Tally, sheet: str, created: bool, changed: bool) -> None:
    tally.add(sheet, "created" if created else "updated" if changed else "unchanged")


def _apply_clinic(rows: list[_Row], st: _State, w: _Writer, tally: _Tally) -> None:
    clinic_changes: dict[str, Any] = {}
    for r in rows:
        key, value = r.v["setting"], r.v["value"]
        if key in _CLINIC_FIELDS:
            changed = getattr(st.clinic, key) != value
            if changed:
                clinic_changes[key] = value
            _count(tally, "Clinic", False, changed)
            continue
        stored = w.s.get(Setting, key)
        if stored is None:
            # A value equal to the default needs no row: the setting already has that value.
            created = get_setting_in(w.s, key) != value
            if created:
                w.s.add(Setting(key=key, value=str(value), **w.base()))
            _count(tally, "Clinic", created, False)
        else:
            try:
                same = settings_decl.parse(settings_decl.BY_KEY[key], stored.value) == value
            except ValueError:
                same = False
            _count(tally, "Clinic", False, not same and w.touch(stored, {"value": str(value)}))
    w.touch(st.clinic, clinic_changes)


def _apply_staff(rows: list[_Row], st: _State, w: _Writer, tally: _Tally) -> None:
    created: set[str] = set()
    for r in rows:
        code = r.v["staff_id"]
        if code in st.staff:
            continue
        obj = Staff(
            staff_code=code,
            first_name=r.v["first_name"],
            last_name=r.v["last_name"],
            credentials=r.v.get("credentials") or "",
            npi=r.v.get("npi"),
            taxonomy=r.v.get("taxonomy") or "",
            roles=_roles_text(r.v["roles"]),
            is_supervisee=bool(r.v.get("requires_cosign")),
            **w.base(),
        )
        w.s.add(obj)
        st.staff[code] = obj
        created.add(code)
    w.s.flush()
    for r in rows:
        code = r.v["staff_id"]
        obj = st.staff[code]
        sup = r.v.get("supervisor_id")
        sup_id = st.staff[sup].id if sup is not None else None
        if code in created:
            if sup_id is not None:
                obj.supervisor_id = sup_id
                w.s.add(obj)
            _count(tally, "Staff", True, False)
            continue
        values: dict[str, Any] = {
            k: r.v[k]
            for k in ("first_name", "last_name", "credentials", "npi", "taxonomy")
            if k in r.v
        }
        if "roles" in r.v:
            try:
                same = frozenset(x.value for x in parse_roles(obj.roles)) == r.v["roles"]
            except ValueError:
                same = False
            if not same:
                values["roles"] = _roles_text(r.v["roles"])
        if "supervisor_id" in r.v:
            values["supervisor_id"] = sup_id
        if "requires_cosign" in r.v:
            values["is_supervisee"] = r.v["requires_cosign"]
        _count(tally, "Staff", False, w.touch(obj, values))


def _apply_payers(rows: list[_Row], st: _State, w: _Writer, tally: _Tally) -> None:
    for r in rows:
        code = r.v["payer_id"]
        obj = st.payers.get(code)
        values: dict[str, Any] = {
            k: r.v[k]
            for k in ("name", "billing_mode", "requires_auth", "electronic_payer_id", "claim_type")
            if k in r.v
        }
        values.update(
            {field: r.v[column] for column, field in _PAYER_RULE_COLUMNS.items() if column in r.v}
        )
        if obj is None:
            obj = Payer(payer_code=code, **{"requires_auth": False, **values}, **w.base())
            w.s.add(obj)
            st.payers[code] = obj
            _count(tally, "Payers", True, False)
        else:
            _count(tally, "Payers", False, w.touch(obj, values))
    w.s.flush()


def _current_fees(session: Session) -> dict[tuple[int, str], FeeSchedule]:
    """The fee in force for each (payer, code): open-ended first, then the latest start."""
    out: dict[tuple[int, str], FeeSchedule] = {}

    def rank(f: FeeSchedule) -> tuple[bool, date, int]:
        return (f.effective_to is None, f.effective_from or date.min, _pk(f))

    for fee in session.exec(select(FeeSchedule).where(col(FeeSchedule.voided_at).is_(None))):
        key = (fee.payer_id, fee.code)
        if key not in out or rank(fee) > rank(out[key]):
            out[key] = fee
    return out


def _apply_fees(rows: list[_Row], st: _State, w: _Writer, tally: _Tally) -> None:
    if not rows:
        return
    current = _current_fees(w.s)
    for r in rows:
        payer_id = _pk(st.payers[r.v["payer_id"]])
        obj = current.get((payer_id, r.v["code"]))
        if obj is None:
            obj = FeeSchedule(payer_id=payer_id, code=r.v["code"], rate=r.v["rate"], **w.base())
            w.s.add(obj)
            current[(payer_id, r.v["code"])] = obj
            _count(tally, "Fees", True, False)
        else:
            _count(tally, "Fees", False, w.touch(obj, {"rate": r.v["rate"]}))
    w.s.flush()


def _apply_tracks(rows: list[_Row], st: _State, w: _Writer, tally: _Tally) -> None:
    if not rows:
        return
    blocks: dict[int, list[TrackBlock]] = {}
    for b in w.s.exec(select(TrackBlock).order_by(col(TrackBlock.id))):
        blocks.setdefault(b.track_id, []).append(b)
    for r in rows:
        code = r.v["track_id"]
        obj = st.tracks.get(code)
        values: dict[str, Any] = {
            k: r.v[k] for k in ("name", "level_of_care", "population") if k in r.v
        }
        population = values.get("population") or (obj.population if obj else "adult")
        if "required_weekly_hours" in r.v or obj is None:
            hours = r.v.get("required_weekly_hours")
            values["required_weekly_hours"] = (
                hours if hours is not None else DEFAULT_HOURS[population]
            )
        if "required_weekly_days" in r.v or obj is None:
            values["required_weekly_days"] = r.v.get("required_weekly_days") or 0
        if "per_diem_code" in r.v or obj is None:
            values["per_diem_code"] = r.v.get("per_diem_code")
            values["is_sud"] = values["per_diem_code"] == SUD_PER_DIEM_CODE
        if r.v.get("substance_use") is not None:  # given: it wins over the per-diem default
            values["is_sud"] = r.v["substance_use"]
        created = obj is None
        if obj is None:
            obj = Track(track_code=code, **{"level_of_care": "IOP", **values}, **w.base())
            w.s.add(obj)
            w.s.flush()
            st.tracks[code] = obj
            changed = False
        else:
            changed = w.touch(obj, values)
        start, end = r.v["start_time"], r.v["end_time"]
        wanted = {(day, s or start): e or end for day, s, e in r.v["days"]}
        have = {(b.weekday, b.start_time): b for b in blocks.get(_pk(obj), [])}
        for (day, s), e in wanted.items():
            block = have.get((day, s))
            if block is None:
                w.s.add(
                    TrackBlock(track_id=_pk(obj), weekday=day, start_time=s, end_time=e, **w.base())
                )
                changed = True
            else:
                changed = w.touch(block, {"end_time": e, "active": True}) or changed
        for key, block in have.items():
            if key not in wanted and block.active:
                changed = w.touch(block, {"active": False}) or changed
        _count(tally, "Tracks", created, changed)
    w.s.flush()


def _by_client(
    session: Session,
    model: Any,
    ids: Sequence[int],
    *where: Any,
    plain: bool = False,
    key: str = "client_id",
) -> dict[int, list[Any]]:
    """Records of these clients: ORM objects, or (plain=True) read-only rows, much cheaper."""
    out: dict[int, list[Any]] = {}
    entity = model.__table__ if plain else model
    column = getattr(model, key)
    for chunk in _chunks(ids):
        query = sa_select(entity).where(col(column).in_(chunk), *where).order_by(col(model.id))
        rows = session.execute(query) if plain else session.scalars(query)
        for obj in rows:
            out.setdefault(getattr(obj, key), []).append(obj)
    return out


@dataclass
class _ClientRows:
    """Rows for bulk INSERT, gathered while the Clients sheet is applied."""

    enrollments: list[dict[str, Any]] = field(default_factory=list)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    coverage: list[dict[str, Any]] = field(default_factory=list)
    diagnoses: list[dict[str, Any]] = field(default_factory=list)
    status_changes: list[dict[str, Any]] = field(default_factory=list)


def _apply_clients(rows: list[_Row], st: _State, w: _Writer, tally: _Tally) -> None:
    if not rows:
        return
    out = _ClientRows()
    new = [r for r in rows if r.v["mrn"] not in st.client_ids]
    old_rows = [r for r in rows if r.v["mrn"] in st.client_ids]  # before the new are added
    ids = w.insert_ids(Client, [_new_client(r, st, w) for r in new])
    for r, pk in zip(new, ids, strict=True):
        st.client_ids[r.v["mrn"]] = pk
    episode_ids = w.insert_ids(
        Episode,
        [
            w.row(
                client_id=pk,
                episode_no=1,
                admission_date=r.v["admission_date"],
                discharge_date=r.v.get("discharge_date"),
                status=_new_status(r),
            )
            for r, pk in zip(new, ids, strict=True)
        ],
    )
    for r, pk, episode_id in zip(new, ids, episode_ids, strict=True):
        _new_episode_rows(r, pk, episode_id, st, w, out, None)
        _apply_coverage(r, pk, [], st, w, out)
        _apply_diagnoses(r, pk, [], w, out)
        _count(tally, "Clients", True, False)
    if old_rows:
        _update_clients(old_rows, st, w, out, tally)
    w.insert(TrackEnrollment, out.enrollments)
    w.insert(TherapistAssignment, out.assignments)
    w.insert(Coverage, out.coverage)
    w.insert(Diagnosis, out.diagnoses)
    w.insert(StatusChange, out.status_changes)


def _new_status(r: _Row) -> str:
    if r.v.get("discharge_date") is not None:
        return ClientStatus.DISCHARGED.value
    return ClientStatus.ACTIVE.value


def _new_client(r: _Row, st: _State, w: _Writer) -> dict[str, Any]:
    v = r.v
    return w.row(
        mrn=v["mrn"],
        first_name=v["first_name"],
        last_name=v["last_name"],
        preferred_name=v.get("preferred_name") or "",
        dob=v["dob"],
        sex=v.get("sex") or "",
        phone=v.get("phone") or "",
        email=v.get("email") or "",
        primary_language=v.get("primary_language") or "",
        status=_new_status(r),
        part2=v["part2"] if v.get("part2") is not None else st.tracks[v["track_id"]].is_sud,
        required_weekly_hours=v.get("required_weekly_hours"),
        required_hours_until=(
            v.get("required_hours_until") if v.get("required_weekly_hours") is not None else None
        ),
        admission_date=v["admission_date"],
        discharge_date=v.get("discharge_date"),
    )


def _new_episode_rows(
    r: _Row,
    client_id: int,
    episode_id: int,
    st: _State,
    w: _Writer,
    out: _ClientRows,
    from_status: str | None,
) -> None:
    """Enrollment, primary therapist and status history of a newly recorded admission."""
    admission, discharge = r.v["admission_date"], r.v.get("discharge_date")
    out.enrollments.append(
        w.row(
            client_id=client_id,
            episode_id=episode_id,
            track_id=_pk(st.tracks[r.v["track_id"]]),
            start_date=admission,
            end_date=discharge,
        )
    )
    if r.v.get("primary_therapist") is not None:
        out.assignments.append(_assignment_row(w, client_id, st, r, admission, discharge))
    status = [(from_status, ClientStatus.ACTIVE.value, admission)]
    if discharge is not None:
        status.append((ClientStatus.ACTIVE.value, ClientStatus.DISCHARGED.value, discharge))
    for old, to, day in status:
        out.status_changes.append(_status_row(w, client_id, episode_id, old, to, day))


def _assignment_row(
    w: _Writer, client_id: int, st: _State, r: _Row, start: date, end: date | None
) -> dict[str, Any]:
    return w.row(
        client_id=client_id,
        staff_id=_pk(st.staff[r.v["primary_therapist"]]),
        role=AssignmentRole.PRIMARY_THERAPIST.value,
        start_date=start,
        end_date=end,
    )


def _status_row(
    w: _Writer, client_id: int, episode_id: int | None, old: str | None, to: str, day: date
) -> dict[str, Any]:
    return w.row(
        client_id=client_id,
        episode_id=episode_id,
        from_status=old,
        to_status=to,
        effective_date=day,
        reason="Spreadsheet import",
    )


def _apply_coverage(
    r: _Row, client_id: int, current: list[Coverage], st: _State, w: _Writer, out: _ClientRows
) -> bool:
    """A blank payer_id leaves coverage alone; a payer sets the client's first coverage."""
    code = r.v.get("payer_id")
    if code is None:
        return False
    payer_id = _pk(st.payers[code])
    cur = min(current, key=lambda c: (c.priority, _pk(c))) if current else None
    if cur is None:
        out.coverage.append(
            w.row(
                client_id=client_id,
                payer_id=payer_id,
                member_id=r.v.get("member_id") or "",
                priority=1,
                start_date=r.v["admission_date"],
            )
        )
        return True
    values: dict[str, Any] = {"payer_id": payer_id}
    if "member_id" in r.v:
        values["member_id"] = r.v["member_id"] or ""
    return w.touch(cur, values)


def _apply_diagnoses(
    r: _Row, client_id: int, current: list[Diagnosis], w: _Writer, out: _ClientRows
) -> bool:
    """A non-empty list replaces the diagnoses (first = primary); removed ones are voided."""
    wanted: list[str] = r.v.get("diagnoses") or []
    if not wanted:
        return False
    current = sorted(current, key=lambda d: (not d.is_primary, d.sort_order, _pk(d)))
    changed = False
    kept: dict[str, Diagnosis] = {}
    for d in current:
        if d.icd10_code in wanted and d.icd10_code not in kept:
            kept[d.icd10_code] = d
        else:
            w.void(d, "Removed by spreadsheet import")
            changed = True
    for i, code in enumerate(wanted):
        same = kept.get(code)
        if same is None:
            out.diagnoses.append(
                w.row(
                    client_id=client_id,
                    icd10_code=code,
                    description=icd10_description(code),
                    is_primary=i == 0,
                    sort_order=i,
                )
            )
            changed = True
        else:
            changed = w.touch(same, {"is_primary": i == 0, "sort_order": i}) or changed
    return changed


def _update_clients(
    rows: list[_Row], st: _State, w: _Writer, out: _ClientRows, tally: _Tally
) -> None:
    """Existing clients: probe plain rows first, then load and change only what differs."""
    ids = sorted(st.client_ids[r.v["mrn"]] for r in rows)
    plain = _client_records(w.s, ids, plain=True)
    probe = w.prober()
    changed = [r for r in rows if _update_one(r, plain, st, probe, _ClientRows())]
    for _ in range(len(rows) - len(changed)):
        _count(tally, "Clients", False, False)
    if not changed:
        return
    records = _client_records(w.s, sorted(st.client_ids[r.v["mrn"]] for r in changed))
    for r in changed:
        _update_one(r, records, st, w, out)
        _count(tally, "Clients", False, True)


_ClientRecords = tuple[dict[int, list[Any]], ...]


def _client_records(session: Session, ids: Sequence[int], plain: bool = False) -> _ClientRecords:
    return (
        _by_client(session, Client, ids, plain=plain, key="id"),
        _by_client(session, Episode, ids, plain=plain),
        _by_client(
            session,
            TrackEnrollment,
            ids,
            col(TrackEnrollment.voided_at).is_(None),
            plain=plain,
        ),
        _by_client(
            session,
            TherapistAssignment,
            ids,
            col(TherapistAssignment.voided_at).is_(None),
            col(TherapistAssignment.role) == AssignmentRole.PRIMARY_THERAPIST.value,
            plain=plain,
        ),
        _by_client(session, Coverage, ids, col(Coverage.voided_at).is_(None), plain=plain),
        _by_client(session, Diagnosis, ids, col(Diagnosis.voided_at).is_(None), plain=plain),
    )


def _update_one(r: _Row, records: _ClientRecords, st: _State, w: _Writer, out: _ClientRows) -> bool:
    clients, episodes, enrollments, assignments, coverage, diagnoses = records
    pk = st.client_ids[r.v["mrn"]]
    changed = _update_client(
        r,
        clients[pk][0],
        max(episodes.get(pk, []), key=lambda e: (e.episode_no, _pk(e)), default=None),
        enrollments.get(pk, []),
        assignments.get(pk, []),
        st,
        w,
        out,
    )
    changed = _apply_coverage(r, pk, coverage.get(pk, []), st, w, out) or changed
    return _apply_diagnoses(r, pk, diagnoses.get(pk, []), w, out) or changed


def _update_client(
    r: _Row,
    client: Client,
    episode: Episode | None,
    enrollments: list[TrackEnrollment],
    assignments: list[TherapistAssignment],
    st: _State,
    w: _Writer,
    out: _ClientRows,
) -> bool:
    v = r.v
    pk = _pk(client)
    admission: date = v["admission_date"]
    discharge: date | None = v.get("discharge_date")
    old_admission, old_discharge, old_status = (
        client.admission_date,
        client.discharge_date,
        client.status,
    )
    if discharge is not None:
        status = ClientStatus.DISCHARGED.value
    elif old_status in (ClientStatus.REFERRAL, ClientStatus.INTAKE, ClientStatus.DISCHARGED):
        status = ClientStatus.ACTIVE.value
    else:
        status = old_status  # active or on hold: the workbook has no column for holds
    track = st.tracks[v["track_id"]]
    values: dict[str, Any] = {
        k: v[k]
        for k in (
            "first_name",
            "last_name",
            "preferred_name",
            "dob",
            "sex",
            "phone",
            "email",
            "primary_language",
            "required_weekly_hours",
            "required_hours_until",
        )
        if k in v
    }
    if values.get("required_weekly_hours", "absent") is None:
        values["required_hours_until"] = None  # no override: no end date
    for k in ("preferred_name", "sex", "phone", "email", "primary_language"):
        if k in values and values[k] is None:
            values[k] = ""
    values.update(
        admission_date=admission,
        discharge_date=discharge,
        status=status,
        # Part 2 protection stays once it applied (a step-down to a mental-health track
        # does not release earlier substance-use records).
        part2=v["part2"] if v.get("part2") is not None else client.part2 or track.is_sud,
    )
    changed = w.touch(client, values)
    readmission = (
        episode is not None
        and episode.discharge_date is not None
        and admission > episode.discharge_date
        and episode.admission_date != admission
    )
    if episode is None or readmission:
        number = episode.episode_no + 1 if episode is not None else 1
        (episode_id,) = w.insert_ids(
            Episode,
            [
                w.row(
                    client_id=pk,
                    episode_no=number,
                    admission_date=admission,
                    discharge_date=discharge,
                    status=status,
                )
            ],
        )
        _new_episode_rows(r, pk, episode_id, st, w, out, old_status)
        return True
    changed = (
        w.touch(
            episode, {"admission_date": admission, "discharge_date": discharge, "status": status}
        )
        or changed
    )
    episode_id = _pk(episode)
    span = _Span(w, admission, discharge, old_admission, old_discharge)
    mine = [e for e in enrollments if e.episode_id in (episode_id, None)]
    cur_enrollment = max(mine, key=lambda e: (e.start_date, _pk(e)), default=None)
    changed = (
        span.reconcile(
            cur_enrollment,
            "track_id",
            _pk(track),
            lambda start, end: out.enrollments.append(
                w.row(
                    client_id=pk,
                    episode_id=episode_id,
                    track_id=_pk(track),
                    start_date=start,
                    end_date=end,
                )
            ),
        )
        or changed
    )
    if v.get("primary_therapist") is not None:
        staff_id = _pk(st.staff[v["primary_therapist"]])
        cur = max(assignments, key=lambda a: (a.start_date, _pk(a)), default=None)
        if (
            cur is not None
            and cur.end_date is not None
            and cur.end_date < min(admission, old_admission or admission)
        ):
            cur = None  # that assignment belonged to an earlier stay
        changed = (
            span.reconcile(
                cur,
                "staff_id",
                staff_id,
                lambda start, end: out.assignments.append(
                    _assignment_row(w, pk, st, r, start, end)
                ),
            )
            or changed
        )
    if status != old_status:
        day = (
            discharge
            if status == ClientStatus.DISCHARGED.value and discharge is not None
            else admission
        )
        out.status_changes.append(_status_row(w, pk, episode_id, old_status, status, day))
    return changed


@dataclass
class _Span:
    """Keeps a dated record (track enrollment, therapist assignment) in line with the row."""

    w: _Writer
    admission: date
    discharge: date | None
    old_admission: date | None
    old_discharge: date | None

    def reconcile(
        self, cur: Any, attr: str, target: int, new: Callable[[date, date | None], None]
    ) -> bool:
        w = self.w
        if cur is None:
            new(self.admission, self.discharge)
            return True
        values: dict[str, Any] = {}
        if cur.start_date == self.old_admission:
            values["start_date"] = self.admission
        if cur.end_date is None or cur.end_date == self.old_discharge:
            values["end_date"] = self.discharge
        if getattr(cur, attr) == target:
            return w.touch(cur, values)
        # A change of track or therapist takes effect on the import date and the old record
        # ends the day before, so history shows who had the client when (as staff.assign
        # does). A change that cannot be dated that way (the stay is over, or the old record
        # starts today or later) is a correction: the old record is voided and replaced.
        effective = max(self.admission, w.today)
        start = values.get("start_date", cur.start_date)
        if (self.discharge is not None and self.discharge < effective) or start >= effective:
            w.void(cur, "Corrected by spreadsheet import")
            new(start, self.discharge)
            return True
        values["end_date"] = effective - timedelta(days=1)
        w.touch(cur, values)
        new(effective, self.discharge)
        return True


def _apply_authorizations(rows: list[_Row], st: _State, w: _Writer, tally: _Tally) -> None:
    if not rows:
        return
    ids = sorted({st.client_ids[r.v["mrn"]] for r in rows})
    current: dict[tuple[int, int, str, str], Authorization] = {}
    for objs in _by_client(
        w.s, Authorization, ids, col(Authorization.voided_at).is_(None)
    ).values():
        for a in objs:
            current.setdefault((a.client_id, a.payer_id, a.auth_number, a.code), a)
    new: list[dict[str, Any]] = []
    for r in rows:
        v = r.v
        key = (st.client_ids[v["mrn"]], _pk(st.payers[v["payer_id"]]), v["auth_number"], v["code"])
        values = {"start_date": v["start_date"], "end_date": v["end_date"], "units": v["units"]}
        obj = current.get(key)
        if obj is None:
            client_id, payer_id, number, code = key
            new.append(
                w.row(
                    client_id=client_id, payer_id=payer_id, auth_number=number, code=code, **values
                )
            )
            _count(tally, "Authorizations", True, False)
        else:
            _count(tally, "Authorizations", False, w.touch(obj, values))
    w.insert(Authorization, new)


class _Sessions:
    """Sessions, their facilitators, attendance (explicit and implied) and note status."""

    def __init__(self, book: _Book, st: _State, w: _Writer, tally: _Tally) -> None:
        self.rows = book.sheet("Sessions")
        self.attendance = book.sheet("Attendance")
        self.st, self.w, self.tally = st, w, tally
        self.ids: dict[str, int] = {k: _pk(obj) for k, obj in st.sessions.items()}
        self.created: set[str] = set()
        self.touched: set[str] = set()
        # session db id -> (kind, held?, start, end, client id, date)
        self.info: dict[int, tuple[str, bool, time, time, int | None, date]] = {}
        self.author: dict[int, int] = {}
        self.present: dict[int, dict[int, tuple[str, int]]] = {}

    def apply(self) -> None:
        if not self.rows and not self.attendance:
            return
        self._sessions()
        self._attendance()
        self._notes()
        for r in self.rows:
            sid = r.v["session_id"]
            _count(self.tally, "Sessions", sid in self.created, sid in self.touched)

    def _sessions(self) -> None:
        st, w = self.st, self.w
        blocks = {
            (t, d, s): pk
            for pk, t, d, s in w.s.execute(
                sa_select(
                    col(TrackBlock.id),
                    col(TrackBlock.track_id),
                    col(TrackBlock.weekday),
                    col(TrackBlock.start_time),
                )
            ).all()
        }
        for known in st.sessions.values():
            self.info[_pk(known)] = (
                known.kind,
                known.status == SessionStatus.HELD.value,
                known.start_time,
                known.end_time,
                known.client_id,
                known.session_date,
            )
        new_rows: list[_Row] = []
        values_of: dict[str, dict[str, Any]] = {}
        for r in self.rows:
            v = r.v
            values: dict[str, Any] = {
                "session_date": v["date"],
                "start_time": v["start_time"],
                "end_time": v["end_time"],
            }
            if "track_id" in v:
                values["track_id"] = _pk(st.tracks[v["track_id"]]) if v["track_id"] else None
            for key in ("topic", "status", "telehealth"):
                if key in v:
                    values[key] = v[key]
            if v["kind"] == SessionKind.GROUP.value:
                # A client cannot cancel a group: a cancelled track group is a clinic
                # cancellation, so its day leaves the week's proration like a closure.
                values["cancelled_by_clinic"] = (
                    v.get("status") or SessionStatus.HELD.value
                ) == SessionStatus.CANCELLED.value
            values_of[v["session_id"]] = values
            obj = st.sessions.get(v["session_id"])
            if obj is None:
                new_rows.append(r)
            elif w.touch(obj, values):
                self.touched.add(v["session_id"])
        inserts = []
        for r in new_rows:
            v = r.v
            values = values_of[v["session_id"]]
            track_id = values.get("track_id")
            client_id = st.client_ids[v["client_mrn"]] if v.get("client_mrn") else None
            inserts.append(
                w.row(
                    external_id=v["session_id"],
                    kind=v["kind"],
                    track_id=track_id,
                    client_id=client_id,
                    block_id=blocks.get((track_id, v["date"].weekday(), v["start_time"]))
                    if v["kind"] == SessionKind.GROUP.value
                    else None,
                    session_date=v["date"],
                    start_time=v["start_time"],
                    end_time=v["end_time"],
                    topic=values.get("topic") or "",
                    status=values.get("status") or SessionStatus.HELD.value,
                    cancelled_by_clinic=bool(values.get("cancelled_by_clinic")),
                    telehealth=values.get("telehealth") or Telehealth.NO.value,
                )
            )
        for r, pk, row in zip(new_rows, w.insert_ids(ClinicSession, inserts), inserts, strict=True):
            sid = r.v["session_id"]
            self.ids[sid] = pk
            self.created.add(sid)
            self.info[pk] = (
                row["kind"],
                row["status"] == SessionStatus.HELD.value,
                row["start_time"],
                row["end_time"],
                row["client_id"],
                row["session_date"],
            )
        for r in self.rows:
            obj = st.sessions.get(r.v["session_id"])
            if obj is not None:
                self.info[_pk(obj)] = (
                    obj.kind,
                    obj.status == SessionStatus.HELD.value,
                    obj.start_time,
                    obj.end_time,
                    obj.client_id,
                    obj.session_date,
                )
        self._facilitators()

    def _facilitators(self) -> None:
        st, w = self.st, self.w
        existing_ids = sorted(
            self.ids[r.v["session_id"]] for r in self.rows if r.v["session_id"] not in self.created
        )
        have: dict[int, list[SessionFacilitator]] = {}
        for chunk in _chunks(existing_ids):
            for row in w.s.exec(
                select(SessionFacilitator)
                .where(col(SessionFacilitator.session_id).in_(chunk))
                .order_by(col(SessionFacilitator.id))
            ):
                have.setdefault(row.session_id, []).append(row)
        new: list[dict[str, Any]] = []
        for r in self.rows:
            sid = r.v["session_id"]
            pk = self.ids[sid]
            wanted = [_pk(st.staff[code]) for code in r.v["facilitator"]]
            self.author[pk] = wanted[0]
            current = {f.staff_id: f for f in have.get(pk, [])}
            changed = False
            for old in current.values():
                if old.staff_id not in wanted:
                    w.s.delete(old)
                    changed = True
            for i, staff_id in enumerate(wanted):
                f = current.get(staff_id)
                if f is None:
                    new.append(w.row(session_id=pk, staff_id=staff_id, is_primary=i == 0))
                    changed = True
                else:
                    changed = w.touch(f, {"is_primary": i == 0}) or changed
            if changed and sid not in self.created:
                self.touched.add(sid)
        w.s.flush()
        w.insert(SessionFacilitator, new)

    def _attendance(self) -> None:
        st, w = self.st, self.w
        scope = sorted(
            {self.ids[r.v["session_id"]] for r in [*self.rows, *self.attendance]}
            - {self.ids[k] for k in self.created}
        )
        have: dict[tuple[int, int], Attendance] = {}
        for chunk in _chunks(scope):
            for a in w.s.exec(
                select(Attendance)
                .where(col(Attendance.session_id).in_(chunk))
                .order_by(col(Attendance.id))
            ):
                have.setdefault((a.session_id, a.client_id), a)
                self.present.setdefault(a.session_id, {})[a.client_id] = (a.status, a.minutes)
        new: list[dict[str, Any]] = []
        listed: set[int] = set()
        by_sid = {pk: sid for sid, pk in self.ids.items()}
        for r in self.attendance:
            pk = self.ids[r.v["session_id"]]
            listed.add(pk)
            client_id = st.client_ids[r.v["mrn"]]
            _, _, start, end, _, _ = self.info[pk]
            status = r.v["status"]
            minutes = r.v.get("minutes")
            if status == AttendanceStatus.PRESENT.value and minutes is None:
                minutes = _minutes(start, end)
            elif status not in ATTENDED_STATUSES:
                minutes = 0
            values = {"status": status, "minutes": minutes}
            obj = have.get((pk, client_id))
            if obj is None:
                new.append(w.row(session_id=pk, client_id=client_id, **values))
                _count(self.tally, "Attendance", True, False)
            else:
                _count(self.tally, "Attendance", False, w.touch(obj, values))
            self.present.setdefault(pk, {})[client_id] = (status, minutes or 0)
        # An individual, family or intake session with no Attendance row: its client came
        # for the whole session (unless attendance was already recorded for them).
        for r in self.rows:
            pk = self.ids[r.v["session_id"]]
            kind, held, start, end, owner, _ = self.info[pk]
            if kind == SessionKind.GROUP.value or not held or pk in listed or owner is None:
                continue
            if (pk, owner) in have:
                continue
            full = _minutes(start, end)
            new.append(
                w.row(
                    session_id=pk,
                    client_id=owner,
                    status=AttendanceStatus.PRESENT.value,
                    minutes=full,
                )
            )
            self.present.setdefault(pk, {})[owner] = (AttendanceStatus.PRESENT.value, full)
            if by_sid[pk] not in self.created:
                self.touched.add(by_sid[pk])
        w.insert(Attendance, new)

    def _notes(self) -> None:
        st, w = self.st, self.w
        group_rows: list[tuple[str, int, str]] = []
        notes: list[dict[str, Any]] = []
        for r in self.rows:
            if "note_status" not in r.v:
                continue
            sid = r.v["session_id"]
            pk = self.ids[sid]
            kind, held, _, _, client_id, day = self.info[pk]
            wanted = r.v["note_status"] or ("signed" if held else "missing")
            attended = {
                cid: minutes
                for cid, (status, minutes) in self.present.get(pk, {}).items()
                if status in ATTENDED_STATUSES
            }
            if kind == SessionKind.GROUP.value:
                gn = st.group_notes.get(pk)
                if gn is None:
                    if wanted != "missing":
                        group_rows.append((sid, pk, wanted))
                    continue
                members = st.member_notes.get(_pk(gn), {})
                if wanted == "missing":
                    for voided in [gn, *members.values()]:
                        w.void(voided, "Marked missing by spreadsheet import")
                    self.touched.add(sid)
                    continue
                changed = False
                if wanted == "signed" and gn.status != NoteStatus.SIGNED.value:
                    changed = w.touch(gn, {"status": NoteStatus.SIGNED.value})
                    for member in members.values():
                        changed = self._sign(member) or changed
                for cid, minutes in attended.items():
                    if cid not in members:
                        notes.append(
                            self._note_row(cid, pk, _pk(gn), day, minutes, wanted, group=True)
                        )
                        changed = True
                if changed:
                    self.touched.add(sid)
                continue
            if client_id is None:
                continue
            note = st.single_notes.get((pk, client_id))
            if note is None:
                if wanted != "missing":
                    spent = attended.get(client_id)
                    notes.append(self._note_row(client_id, pk, None, day, spent, wanted))
                    if sid not in self.created:
                        self.touched.add(sid)
            elif wanted == "missing":
                w.void(note, "Marked missing by spreadsheet import")
                self.touched.add(sid)
            elif wanted == "signed" and self._sign(note):
                self.touched.add(sid)
        gn_rows = (
            [
                w.row(
                    session_id=pk,
                    author_staff_id=self.author[pk],
                    topic=next(
                        r.v.get("topic") or "" for r in self.rows if r.v["session_id"] == sid
                    ),
                    status=NoteStatus.SIGNED.value
                    if wanted == "signed"
                    else NoteStatus.DRAFT.value,
                )
                for sid, pk, wanted in group_rows
            ]
            if group_rows
            else []
        )
        for (sid, pk, wanted), gn_id in zip(
            group_rows, w.insert_ids(GroupNote, gn_rows), strict=True
        ):
            _, _, _, _, _, day = self.info[pk]
            for cid, (status, minutes) in self.present.get(pk, {}).items():
                if status in ATTENDED_STATUSES:
                    notes.append(self._note_row(cid, pk, gn_id, day, minutes, wanted, group=True))
            if sid not in self.created:
                self.touched.add(sid)
        w.insert(Note, notes)

    def _sign(self, note: Note) -> bool:
        if note.status == NoteStatus.SIGNED.value:
            return False
        return self.w.touch(
            note,
            {
                "status": NoteStatus.SIGNED.value,
                "signed_by": self.w.uid,
                "signed_at": self.w.now,
                "content_sha256": hashlib.sha256(note.content_json.encode("utf-8")).hexdigest(),
            },
        )

    def _note_row(
        self,
        client_id: int,
        session_id: int,
        group_note_id: int | None,
        day: date,
        minutes: int | None,
        wanted: str,
        group: bool = False,
    ) -> dict[str, Any]:
        signed = wanted == "signed"
        return self.w.row(
            client_id=client_id,
            session_id=session_id,
            group_note_id=group_note_id,
            author_staff_id=self.author[session_id],
            format=NoteFormat.GROUP.value if group else NoteFormat.CUSTOM.value,
            service_date=day,
            content_json=NOTE_CONTENT,
            service_minutes=minutes,
            status=NoteStatus.SIGNED.value if signed else NoteStatus.DRAFT.value,
            signed_by=self.w.uid if signed else None,
            signed_at=self.w.now if signed else None,
            content_sha256=NOTE_CONTENT_SHA256 if signed else None,
        )


# -- import entry point -----------------------------------------------------------------------


def _sort_key(p: ImportProblem) -> tuple[int, int, int, str]:
    sheet = SHEETS.index(p.sheet) if p.sheet in SHEETS else len(SHEETS)
    columns = COLUMNS.get(p.sheet, ())
    column = columns.index(p.column) if p.column in columns else -1
    return (sheet, p.row, column, p.message)


def _detail(counts: dict[str, int], tally: _Tally) -> str:
    parts = [
        f"{sheet} {n} (new {tally.created.get(sheet, 0)}, changed {tally.updated.get(sheet, 0)})"
        for sheet, n in counts.items()
    ]
    return "rows: " + "; ".join(parts)


def import_workbook(db: Database, actor: Actor, path: Path, dry_run: bool = False) -> ImportResult:
    """Validate the whole workbook, then import it in one transaction (or, dry run, nothing).

    Raises ImportFailed listing every problem, and imports nothing, when any row is wrong.
    """
    require(actor, Perm.IMPORT_RUN)
    sheets, problems = _read(Path(path))
    book = _parse(sheets, problems)
    counts = {name: len(book.rows[name]) for name in book.order}
    with db.session() as session:
        st = _State(session, book)
        _canonical_mrns(book, st)
        _check(book, st)
        if problems:
            raise ImportFailed(sorted(problems, key=_sort_key))
        try:
            tally = _apply(book, st, _Writer(session, actor))
        except sa_exc.IntegrityError as exc:
            # Every key was checked above, so this is another workstation saving the same
            # records at the same moment (PostgreSQL; SQLite imports hold the write lock).
            log.warning("import stopped by a database constraint (%s)", type(exc.orig).__name__)
            raise DatabaseError(
                "Another workstation saved some of the same records while the workbook was "
                "being imported. Nothing was imported; import the workbook again."
            ) from None
        if dry_run:
            session.rollback()
        else:
            audit.record(
                session, actor, IMPORT_ACTION, entity="workbook", detail=_detail(counts, tally)
            )
    forget_zone(db)  # the Clinic sheet may have changed the time zone
    return ImportResult(
        counts=counts,
        dry_run=dry_run,
        created={s: tally.created.get(s, 0) for s in counts},
        updated={s: tally.updated.get(s, 0) for s in counts},
        unchanged={s: tally.unchanged.get(s, 0) for s in counts},
    )


# -- export -----------------------------------------------------------------------------------


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _or_none(value: Any) -> Any:
    return None if value in (None, "") else value


def _note_status(status: str | None) -> str:
    if status is None:
        return "missing"
    return "signed" if status == NoteStatus.SIGNED.value else "unsigned"


def _track_days(blocks: list[TrackBlock]) -> tuple[str, time, time]:
    """days, start, end: the most common block times; other days carry their own times."""
    blocks = sorted(blocks, key=lambda b: (b.weekday, b.start_time))
    tally: dict[tuple[time, time], int] = {}
    for b in blocks:
        tally[(b.start_time, b.end_time)] = tally.get((b.start_time, b.end_time), 0) + 1
    best = max(tally.values())
    start, end = next(t for t in tally if tally[t] == best)
    days = [
        WEEKDAYS[b.weekday]
        if (b.start_time, b.end_time) == (start, end)
        else f"{WEEKDAYS[b.weekday]} {_hhmm(b.start_time)}-{_hhmm(b.end_time)}"
        for b in blocks
    ]
    return ",".join(days), start, end


class _Export:
    """Reads the database into the workbook's rows (sorted by natural key)."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.data: dict[str, list[list[Any]]] = {}
        self.skipped: dict[str, int] = {}

    def skip(self, sheet: str) -> None:
        self.skipped[sheet] = self.skipped.get(sheet, 0) + 1

    def run(self) -> dict[str, list[list[Any]]]:
        self.clinic()
        self.staff()
        self.payers()
        self.fees()
        self.tracks()
        self.clients()
        self.authorizations()
        self.sessions()
        self.attendance()
        self.data["Recipients"] = workbook_privacy.export_recipients(self.s)
        self.data["Consents"] = workbook_privacy.export_consents(self.s, self.mrn)
        return self.data

    def clinic(self) -> None:
        clinic = self.s.exec(select(Clinic)).first()
        values: dict[str, Any] = {k: getattr(clinic, k) for k in _CLINIC_FIELDS} if clinic else {}
        values.update({k: get_setting_in(self.s, k) for k in _SETTING_KEYS})
        self.data["Clinic"] = [
            [k, values[k]] for k in sorted(CLINIC_SETTINGS) if values.get(k) not in (None, "")
        ]

    def staff(self) -> None:
        staff = self.s.exec(select(Staff).order_by(col(Staff.staff_code))).all()
        self.staff_code = {_pk(x): x.staff_code for x in staff}
        rows = []
        for x in staff:
            try:
                roles = parse_roles(x.roles)
            except ValueError:
                roles = frozenset()
            if not roles:
                self.skip("Staff")  # a staff record without roles cannot be expressed
                continue
            rows.append(
                [
                    x.staff_code,
                    x.first_name,
                    x.last_name,
                    _or_none(x.credentials),
                    _or_none(x.npi),
                    roles_text(roles),
                    self.staff_code.get(x.supervisor_id) if x.supervisor_id else None,
                    "yes" if x.is_supervisee else "no",
                    _or_none(x.taxonomy),
                ]
            )
        self.data["Staff"] = rows

    def payers(self) -> None:
        payers = self.s.exec(select(Payer).order_by(col(Payer.payer_code))).all()
        self.payer_code = {_pk(p): p.payer_code for p in payers}
        self.data["Payers"] = [
            [
                p.payer_code,
                p.name,
                p.billing_mode,
                "yes" if p.requires_auth else "no",
                p.audio_only_modifier,
                "yes" if p.group_hq else "no",
                "yes" if p.sud_hf else "no",
                "yes" if p.requires_treatment_plan else "no",
                _or_none(p.electronic_payer_id),
                _or_none(p.claim_type),
            ]
            for p in payers
        ]

    def fees(self) -> None:
        rows = [
            [self.payer_code[payer_id], code, float(fee.rate)]
            for (payer_id, code), fee in _current_fees(self.s).items()
        ]
        self.data["Fees"] = sorted(rows, key=lambda r: (r[0], r[1]))

    def tracks(self) -> None:
        blocks: dict[int, list[TrackBlock]] = {}
        for b in self.s.exec(select(TrackBlock).where(col(TrackBlock.active).is_(True))):
            blocks.setdefault(b.track_id, []).append(b)
        self.track_code: dict[int, str] = {}
        rows = []
        for t in self.s.exec(select(Track).order_by(col(Track.track_code))).all():
            if not blocks.get(_pk(t)):
                self.skip("Tracks")  # no weekly schedule: days, start and end are required
                continue
            self.track_code[_pk(t)] = t.track_code
            days, start, end = _track_days(blocks[_pk(t)])
            rows.append(
                [
                    t.track_code,
                    t.name,
                    t.level_of_care,
                    t.population,
                    _number(t.required_weekly_hours),
                    days,
                    _hhmm(start),
                    _hhmm(end),
                    t.per_diem_code,
                    "yes" if t.is_sud else "no",
                    t.required_weekly_days,
                ]
            )
        self.data["Tracks"] = rows

    def clients(self) -> None:
        s = self.s
        # Column queries, not ORM objects: a 10,000-client export builds no ORM instances.
        enrollment: dict[int, int] = {}
        for client_id, track_id in s.execute(
            sa_select(col(TrackEnrollment.client_id), col(TrackEnrollment.track_id))
            .where(col(TrackEnrollment.voided_at).is_(None))
            .order_by(col(TrackEnrollment.start_date), col(TrackEnrollment.id))
        ):
            enrollment[client_id] = track_id  # the latest wins
        therapist: dict[int, int] = {}
        for client_id, staff_id in s.execute(
            sa_select(col(TherapistAssignment.client_id), col(TherapistAssignment.staff_id))
            .where(
                col(TherapistAssignment.voided_at).is_(None),
                col(TherapistAssignment.role) == AssignmentRole.PRIMARY_THERAPIST.value,
            )
            .order_by(col(TherapistAssignment.start_date), col(TherapistAssignment.id))
        ):
            therapist[client_id] = staff_id
        coverage: dict[int, tuple[int, str]] = {}
        for client_id, payer_id, member_id in s.execute(
            sa_select(col(Coverage.client_id), col(Coverage.payer_id), col(Coverage.member_id))
            .where(col(Coverage.voided_at).is_(None))
            .order_by(col(Coverage.priority), col(Coverage.id))
        ):
            coverage.setdefault(client_id, (payer_id, member_id))
        diagnoses: dict[int, list[str]] = {}
        for client_id, code in s.execute(
            sa_select(col(Diagnosis.client_id), col(Diagnosis.icd10_code))
            .where(col(Diagnosis.voided_at).is_(None))
            .order_by(
                col(Diagnosis.is_primary).desc(), col(Diagnosis.sort_order), col(Diagnosis.id)
            )
        ):
            diagnoses.setdefault(client_id, []).append(code)
        self.mrn: dict[int, str] = {}
        rows = []
        for c in s.execute(
            sa_select(
                col(Client.id),
                col(Client.mrn),
                col(Client.first_name),
                col(Client.last_name),
                col(Client.preferred_name),
                col(Client.dob),
                col(Client.sex),
                col(Client.phone),
                col(Client.email),
                col(Client.primary_language),
                col(Client.admission_date),
                col(Client.discharge_date),
                col(Client.required_weekly_hours),
                col(Client.part2),
                col(Client.required_hours_until),
            ).order_by(col(Client.mrn))
        ):
            pk = int(c.id)
            track_id = enrollment.get(pk)
            if c.admission_date is None or track_id not in self.track_code:
                self.skip("Clients")  # not admitted to a track yet (referral or intake)
                continue
            self.mrn[pk] = c.mrn
            payer_id, member_id = coverage.get(pk, (None, ""))
            rows.append(
                [
                    c.mrn,
                    c.first_name,
                    c.last_name,
                    _or_none(c.preferred_name),
                    c.dob,
                    _or_none(c.sex),
                    _or_none(c.phone),
                    _or_none(c.email),
                    _or_none(c.primary_language),
                    self.track_code[track_id],
                    c.admission_date,
                    c.discharge_date,
                    self.staff_code.get(therapist[pk]) if pk in therapist else None,
                    self.payer_code.get(payer_id) if payer_id is not None else None,
                    _or_none(member_id) if payer_id is not None else None,
                    ",".join(diagnoses.get(pk, [])) or None,
                    _number(c.required_weekly_hours),
                    "yes" if c.part2 else "no",
                    c.required_hours_until if c.required_weekly_hours is not None else None,
                ]
            )
        self.data["Clients"] = rows

    def authorizations(self) -> None:
        rows = []
        for a in self.s.execute(
            sa_select(
                col(Authorization.client_id),
                col(Authorization.payer_id),
                col(Authorization.auth_number),
                col(Authorization.code),
                col(Authorization.start_date),
                col(Authorization.end_date),
                col(Authorization.units),
            ).where(col(Authorization.voided_at).is_(None))
        ):
            if a.client_id not in self.mrn:
                self.skip("Authorizations")
                continue
            rows.append(
                [
                    self.mrn[a.client_id],
                    self.payer_code[a.payer_id],
                    a.auth_number,
                    a.code,
                    a.start_date,
                    a.end_date,
                    a.units,
                ]
            )
        self.data["Authorizations"] = sorted(rows, key=lambda r: (r[0], r[1], r[2], r[3]))

    def sessions(self) -> None:
        s = self.s
        generated = {pk: key for key, pk in _generated_ids(s).items()}
        facilitators: dict[int, list[str]] = {}
        for session_id, staff_id in s.execute(
            sa_select(
                col(SessionFacilitator.session_id), col(SessionFacilitator.staff_id)
            ).order_by(col(SessionFacilitator.is_primary).desc(), col(SessionFacilitator.id))
        ):
            facilitators.setdefault(session_id, []).append(self.staff_code[staff_id])
        group_status: dict[int, str] = {}
        for session_id, status in s.execute(
            sa_select(col(GroupNote.session_id), col(GroupNote.status))
            .where(col(GroupNote.voided_at).is_(None))
            .order_by(col(GroupNote.id).desc())
        ):
            group_status[session_id] = status  # the first (lowest id) wins
        note_status: dict[tuple[int, int], str] = {}
        for session_id, client_id, status in s.execute(
            sa_select(col(Note.session_id), col(Note.client_id), col(Note.status))
            .where(
                col(Note.voided_at).is_(None),
                col(Note.group_note_id).is_(None),
                col(Note.session_id).is_not(None),
            )
            .order_by(col(Note.id).desc())
        ):
            note_status[(session_id, client_id)] = status
        self.session_key: dict[int, str] = {}
        rows = []
        for x in s.execute(
            sa_select(
                col(ClinicSession.id),
                col(ClinicSession.external_id),
                col(ClinicSession.kind),
                col(ClinicSession.track_id),
                col(ClinicSession.client_id),
                col(ClinicSession.session_date),
                col(ClinicSession.start_time),
                col(ClinicSession.end_time),
                col(ClinicSession.topic),
                col(ClinicSession.status),
                col(ClinicSession.telehealth),
            )
        ):
            pk = int(x.id)
            if (
                (x.client_id is not None and x.client_id not in self.mrn)
                or (x.track_id is not None and x.track_id not in self.track_code)
                or not facilitators.get(pk)
            ):
                self.skip("Sessions")
                continue
            key = x.external_id or generated[pk]
            self.session_key[pk] = key
            if x.kind == SessionKind.GROUP.value:
                status = group_status.get(pk)
            else:
                status = note_status.get((pk, x.client_id or 0))
            rows.append(
                [
                    key,
                    x.kind,
                    self.track_code.get(x.track_id) if x.track_id else None,
                    self.mrn.get(x.client_id) if x.client_id else None,
                    x.session_date,
                    _hhmm(x.start_time),
                    _hhmm(x.end_time),
                    ",".join(facilitators[pk]),
                    _or_none(x.topic),
                    x.status,
                    x.telehealth,
                    _note_status(status),
                ]
            )
        self.data["Sessions"] = sorted(rows, key=lambda r: str(r[0]))

    def attendance(self) -> None:
        rows = []
        for session_id, client_id, status, minutes in self.s.execute(
            sa_select(
                col(Attendance.session_id),
                col(Attendance.client_id),
                col(Attendance.status),
                col(Attendance.minutes),
            )
        ):
            if session_id not in self.session_key or client_id not in self.mrn:
                self.skip("Attendance")
                continue
            rows.append([self.session_key[session_id], self.mrn[client_id], status, minutes])
        self.data["Attendance"] = sorted(rows, key=lambda r: (r[0], r[1]))


_WIDTHS = {
    "setting": 26,
    "value": 40,
    "name": 30,
    "first_name": 16,
    "last_name": 18,
    "roles": 24,
    "days": 24,
    "diagnoses": 22,
    "session_id": 32,
    "topic": 30,
    "email": 28,
    "phone": 16,
    "facilitator": 16,
}


def _write(path: Path, data: dict[str, list[list[Any]]], notice: tuple[str, ...] = ()) -> None:
    """Write the workbook to `<path>.partial` beside `path` (reports.xlsx: XlsxWriter, every
    text a text cell) and rename it into place; a failure removes the partial file."""
    from iopdesk.reports.xlsx import Book, partial_path, remove_leftovers

    tmp = partial_path(path)
    remove_leftovers(tmp)
    try:
        with Book(
            tmp,
            title="IOPDesk clinic workbook",
            subject="Protected health information",
            comments=(
                "Contains protected health information. "
                + PART2_NOTICE
                + " Keep this file encrypted and delete it when it is no longer needed."
            ),
        ) as book:
            bold = book.style(bold=True)
            rate_style = book.style(number_format="0.00")
            for sheet in SHEETS:
                columns = COLUMNS[sheet]
                ws = book.sheet(
                    sheet, widths=[_WIDTHS.get(name, 14) for name in columns], freeze_rows=1
                )
                ws.append(columns, (bold,) * len(columns))
                styles = [rate_style if name == "rate" else None for name in columns]
                for row in data.get(sheet, []):
                    ws.append(row, styles)
            if notice:  # a disclosure: who received it, the consent's scope, the 2.32 notice
                from iopdesk.reports import RELEASE_NOTICE_SHEET

                about = book.sheet(RELEASE_NOTICE_SHEET, widths=(120,))
                for line in notice:
                    about.append((line,))
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(
            f"Could not save {path}: {exc.strerror or exc}. If the file is open in Excel, "
            "close it and try again."
        ) from None
    finally:
        remove_leftovers(tmp)


def export_workbook(
    db: Database, actor: Actor, path: Path, release: Release | None = None
) -> ExportCounts:
    """Write the clinic's data in the import format; returns rows written per sheet.

    `release` says who receives the file (default internal use, e.g. a backup copy or a move
    to another IOPDesk); a disclosure needs a covering consent for every Part 2 client in it,
    checked before the file is written, with one disclosure row per client exported.

    Records the format cannot express (clients not yet admitted to a track, staff without
    roles, and what hangs off them) are left out and counted in the result's `skipped`.
    """
    require(actor, Perm.IMPORT_RUN)
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder; give a file name such as clinic.xlsx.")
    if not path.parent.is_dir():
        raise UserError(f"The folder {path.parent} does not exist; choose another place to save.")
    with db.session() as session:
        export = _Export(session)
        data = export.run()
        release = release or INTERNAL
        ids = list(export.mrn)
        notice = plan_release(session, ids, release, RELEASE_CATEGORIES).notice()
        authorize_many(session, actor, ids, release, "clinic workbook export", RELEASE_CATEGORIES)
        _write(path, data, notice)
        counts = {sheet: len(data[sheet]) for sheet in SHEETS}
        detail = "rows: " + ", ".join(f"{s} {n}" for s, n in counts.items())
        if export.skipped:
            detail += "; left out: " + ", ".join(f"{s} {n}" for s, n in export.skipped.items())
        audit.record(session, actor, EXPORT_ACTION, entity="workbook", detail=detail)
    return ExportCounts(counts, dict(export.skipped))
