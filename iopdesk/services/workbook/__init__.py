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

The package, one room per step:

- `contract`: sheets, columns, codes; ImportProblem, ImportResult, ImportFailed, ExportCounts.
- `read`: the .xlsx file opened safely with openpyxl, every cell parsed into typed rows.
- `check`: the database state loaded once, and the checks across sheets and the database.
- `apply`: the writes, in one transaction; `import_workbook` (read -> check -> apply).
- `export`: `export_workbook`, the same sheets and columns.
- `privacy`: the Recipients and Consents sheets, through each of the steps above.
"""

from __future__ import annotations

from iopdesk.services.workbook.apply import import_workbook
from iopdesk.services.workbook.contract import (
    AUDIO_ONLY_MODIFIERS,
    CLINIC_SETTINGS,
    COLUMNS,
    DEFAULT_HOURS,
    EXPORT_ACTION,
    IMPORT_ACTION,
    NOTE_CONTENT,
    NOTE_CONTENT_SHA256,
    PER_DIEM_CODES,
    RELEASE_CATEGORIES,
    REQUIRED,
    SHEETS,
    SUD_PER_DIEM_CODE,
    ExportCounts,
    ImportFailed,
    ImportProblem,
    ImportResult,
    generated_session_id,
)
from iopdesk.services.workbook.export import export_workbook
from iopdesk.services.workbook.read import (
    EARLIEST_DATE,
    MAX_ENTRIES,
    MAX_PART,
    MAX_RATIO,
    MAX_SHEET,
    MAX_UNCOMPRESSED,
    RATIO_FROM,
    WEEKDAYS,
)

__all__ = [
    "AUDIO_ONLY_MODIFIERS",
    "CLINIC_SETTINGS",
    "COLUMNS",
    "DEFAULT_HOURS",
    "EARLIEST_DATE",
    "EXPORT_ACTION",
    "IMPORT_ACTION",
    "MAX_ENTRIES",
    "MAX_PART",
    "MAX_RATIO",
    "MAX_SHEET",
    "MAX_UNCOMPRESSED",
    "NOTE_CONTENT",
    "NOTE_CONTENT_SHA256",
    "PER_DIEM_CODES",
    "RATIO_FROM",
    "RELEASE_CATEGORIES",
    "REQUIRED",
    "SHEETS",
    "SUD_PER_DIEM_CODE",
    "WEEKDAYS",
    "ExportCounts",
    "ImportFailed",
    "ImportProblem",
    "ImportResult",
    "export_workbook",
    "generated_session_id",
    "import_workbook",
]
