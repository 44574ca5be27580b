"""The billing export workbook (issue 7 item 4), streamed with openpyxl's write_only mode.

Sheets: `Claim Lines` (16 columns, real dates and numbers, frozen header, autofilter),
`Exceptions` and `Summary` (totals per payer and per code, the batch number and, when any
row concerns a 42 CFR Part 2 record, the Part 2 notice).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iopdesk.reports import PART2_NOTICE

if TYPE_CHECKING:
    from iopdesk.services.billing import BillingRun, SummaryRow

CLAIM_SHEET = "Claim Lines"
EXCEPTION_SHEET = "Exceptions"
SUMMARY_SHEET = "Summary"
CLAIM_HEADERS = (
    "MRN",
    "Client",
    "DOB",
    "Payer",
    "Member ID",
    "Auth Number",
    "Date of Service",
    "Procedure Code",
    "Modifiers",
    "Revenue Code",
    "Units",
    "Charge",
    "Diagnosis Codes",
    "Rendering NPI",
    "Billing NPI",
    "Place of Service",
)
CLAIM_WIDTHS = (12, 28, 12, 10, 16, 16, 14, 14, 11, 12, 8, 12, 24, 14, 14, 10)
EXCEPTION_HEADERS = ("MRN", "Client", "Date of Service", "Reason")
EXCEPTION_WIDTHS = (12, 28, 14, 44)
SUMMARY_HEADERS = ("Group", "Key", "Lines", "Units", "Charges")
DATE_FORMAT = "yyyy-mm-dd"
CURRENCY_FORMAT = '"$"#,##0.00'

_DATE_COLUMNS = {2, 6}
_UNITS_COLUMN = 10
_CHARGE_COLUMN = 11


def write_xlsx(
    run: BillingRun, path: Path | str, progress: Callable[[int, int], None] | None = None
) -> None:
    """Write the run to `path`. `progress(done, total)` is called every 500 claim lines."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDE4EE")

    def header(ws: Any, names: tuple[str, ...]) -> None:
        cells = []
        for name in names:
            cell = WriteOnlyCell(ws, value=name)
            cell.font = bold
            cell.fill = fill
            cells.append(cell)
        ws.append(cells)

    def setup(ws: Any, names: tuple[str, ...], widths: tuple[int, ...], rows: int) -> None:
        for i, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = width
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(names))}{rows + 1}"
        ws.print_title_rows = "1:1"
        ws.page_setup.orientation = "landscape"

    def text(ws: Any, value: Any) -> Any:
        # text cells never become formulas (a value starting with '=' stays text)
        cell = WriteOnlyCell(ws, value=value)
        if isinstance(value, str) and value.startswith(("=", "+", "-", "@")):
            cell.data_type = "s"
        return cell

    claims = wb.create_sheet(CLAIM_SHEET)
    setup(claims, CLAIM_HEADERS, CLAIM_WIDTHS, len(run.lines))
    header(claims, CLAIM_HEADERS)
    total = len(run.lines)
    # The hot loop (a year is ~30,000 lines; docs/performance.md): one styled cell per styled
    # column, re-used for every row (a write-only row is serialised inside append(), so the
    # cell is free again), plain values elsewhere; only text that could read as a formula gets
    # a cell of its own. Building 16 cells per row made the export ~2x bare openpyxl.
    styled = {i: WriteOnlyCell(claims) for i in (*_DATE_COLUMNS, _UNITS_COLUMN, _CHARGE_COLUMN)}
    for i, cell in styled.items():
        cell.number_format = (
            DATE_FORMAT if i in _DATE_COLUMNS else "0" if i == _UNITS_COLUMN else CURRENCY_FORMAT
        )
    for n, line in enumerate(run.lines, start=1):
        row: list[Any] = list(line.values())
        for i, value in enumerate(row):
            if isinstance(value, str) and value.startswith(("=", "+", "-", "@")):
                row[i] = text(claims, value)
        row[_UNITS_COLUMN] = int(row[_UNITS_COLUMN])
        row[_CHARGE_COLUMN] = float(row[_CHARGE_COLUMN])
        for i, cell in styled.items():
            cell.value = row[i]
            row[i] = cell
        claims.append(row)
        if progress is not None and n % 500 == 0:
            progress(n, total)

    exceptions = wb.create_sheet(EXCEPTION_SHEET)
    setup(exceptions, EXCEPTION_HEADERS, EXCEPTION_WIDTHS, len(run.exceptions))
    header(exceptions, EXCEPTION_HEADERS)
    for exc in run.exceptions:
        day = WriteOnlyCell(exceptions, value=exc.date_of_service)
        day.number_format = DATE_FORMAT
        exceptions.append(
            [text(exceptions, exc.mrn), text(exceptions, exc.client), day, exc.reason]
        )

    summary = wb.create_sheet(SUMMARY_SHEET)
    for i, width in enumerate((14, 16, 10, 10, 14), start=1):
        summary.column_dimensions[get_column_letter(i)].width = width
    summary.append([WriteOnlyCell(summary, value="Batch Number"), run.batch_number or "(none)"])
    period = f"{run.date_from.isoformat()} to {run.date_to.isoformat()}"
    summary.append(["Period", period])
    summary.append(["Payer Filter", run.payer_filter or "(all)"])
    summary.append([])
    header(summary, SUMMARY_HEADERS)

    def totals(group: str, rows: list[SummaryRow]) -> None:
        for r in rows:
            charge = WriteOnlyCell(summary, value=float(r.charges))
            charge.number_format = CURRENCY_FORMAT
            summary.append([group, r.key, r.lines, r.units, charge])

    totals("Payer", run.by_payer)
    totals("Procedure Code", run.by_code)
    grand = WriteOnlyCell(summary, value=float(run.total))
    grand.number_format = CURRENCY_FORMAT
    summary.append(["Total", "", len(run.lines), run.total_units, grand])
    summary.append(["Exceptions", "", len(run.exceptions)])
    if run.has_part2:
        summary.append([])
        notice = WriteOnlyCell(summary, value=PART2_NOTICE)
        notice.font = bold
        summary.append([notice])
        for ws in (claims, exceptions, summary):
            ws.oddFooter.left.text = PART2_NOTICE
    if progress is not None:
        progress(total, total)
    wb.properties.title = f"Billing export {run.batch_number}".strip()
    wb.save(str(path))
