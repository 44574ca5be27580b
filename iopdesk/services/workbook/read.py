"""Reading the workbook: the .xlsx package checked before it is opened (size, zip bombs, old
.xls files), every sheet read with openpyxl, and every cell parsed into typed values; a bad cell
becomes an ImportProblem (`Sheet!row column: message`), never an exception."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from iopdesk import settings as settings_decl
from iopdesk.models.enums import (
    AttendanceStatus,
    BillingMode,
    LevelOfCare,
    Population,
    SessionKind,
    SessionStatus,
    Telehealth,
)
from iopdesk.services import clock
from iopdesk.services.actor import parse_roles, roles_text
from iopdesk.services.validation import (
    check_dob,
    check_email,
    check_icd10,
    normalize_phone,
    npi_is_valid,
)
from iopdesk.services.workbook import privacy as workbook_privacy
from iopdesk.services.workbook.contract import (
    _KINDS,
    AUDIO_ONLY_MODIFIERS,
    CLINIC_SETTINGS,
    COLUMNS,
    PER_DIEM_CODES,
    REQUIRED,
    SHEETS,
    ImportFailed,
    ImportProblem,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


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
