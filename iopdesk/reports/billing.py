"""The billing export workbook (issue 7 item 4), streamed by reports.xlsx (XlsxWriter).

Sheets: `Claim Lines` (17 columns, real dates and numbers, frozen header, autofilter),
`Exceptions` and `Summary` (totals per payer and per code, the batch number and, when any
row concerns a 42 CFR Part 2 record, the Part 2 notice).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from iopdesk.reports import PART2_NOTICE

if TYPE_CHECKING:
    from iopdesk.reports.data.billing import BillingRun

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
    "Diagnosis Pointers",
    "Rendering NPI",
    "Billing NPI",
    "Place of Service",
)
CLAIM_WIDTHS = (12, 28, 12, 10, 16, 16, 14, 14, 11, 12, 8, 12, 24, 12, 14, 14, 10)
EXCEPTION_HEADERS = ("MRN", "Client", "Date of Service", "Reason")
EXCEPTION_WIDTHS = (12, 28, 14, 44)
SUMMARY_HEADERS = ("Group", "Key", "Lines", "Units", "Charges")
SUMMARY_WIDTHS = (14, 16, 10, 10, 14)
HEADER_FILL = "DDE4EE"
DATE_FORMAT = "yyyy-mm-dd"
CURRENCY_FORMAT = '"$"#,##0.00'

_DATE_COLUMNS = {2, 6}
_UNITS_COLUMN = 10
_CHARGE_COLUMN = 11


def write_xlsx(
    run: BillingRun,
    path: Path | str,
    progress: Callable[[int, int], None] | None = None,
    notice: tuple[str, ...] = (),
) -> None:
    """Write the run to `path`. `progress(done, total)` is called every 500 claim lines.

    A year of claim lines is ~30,000 rows (docs/performance.md), streamed through
    reports.xlsx (XlsxWriter, constant memory). Text is always stored as text, so a value
    starting with '=' never becomes a formula."""
    from iopdesk.reports.xlsx import Book, Sheet

    title = f"Billing export {run.batch_number}".strip()
    footer = PART2_NOTICE if run.has_part2 else None
    with Book(path, title=title) as book:
        head = book.style(bold=True, fill=HEADER_FILL)
        day = book.style(number_format=DATE_FORMAT)
        units = book.style(number_format="0")
        money = book.style(number_format=CURRENCY_FORMAT)
        bold = book.style(bold=True)

        def sheet(name: str, widths: tuple[int, ...]) -> Sheet:
            return book.sheet(
                name,
                widths=widths,
                freeze_rows=1,
                auto_filter=True,
                print_titles=True,
                landscape=True,
                footer=footer,
            )

        total = len(run.lines)
        claims = sheet(CLAIM_SHEET, CLAIM_WIDTHS)
        claims.append(CLAIM_HEADERS, (head,) * len(CLAIM_HEADERS))
        styles: list[object] = [None] * len(CLAIM_HEADERS)
        for i in _DATE_COLUMNS:
            styles[i] = day
        styles[_UNITS_COLUMN] = units
        styles[_CHARGE_COLUMN] = money
        claim_styles = tuple(styles)
        append = claims.append
        for n, line in enumerate(run.lines, start=1):
            append(line.values(), claim_styles)
            if progress is not None and n % 500 == 0:
                progress(n, total)

        exceptions = sheet(EXCEPTION_SHEET, EXCEPTION_WIDTHS)
        exceptions.append(EXCEPTION_HEADERS, (head,) * len(EXCEPTION_HEADERS))
        exception_styles = (None, None, day, None)
        for exc in run.exceptions:
            exceptions.append(
                (exc.mrn, exc.client, exc.date_of_service, exc.reason), exception_styles
            )

        summary = book.sheet(SUMMARY_SHEET, widths=SUMMARY_WIDTHS, footer=footer)
        summary.append(("Batch Number", run.batch_number or "(none)"))
        period = f"{run.date_from.isoformat()} to {run.date_to.isoformat()}"
        summary.append(("Period", period))
        summary.append(("Payer Filter", run.payer_filter or "(all)"))
        summary.append(())
        summary.append(SUMMARY_HEADERS, (head,) * len(SUMMARY_HEADERS))
        totals = (None, None, None, None, money)
        for group, rows in (("Payer", run.by_payer), ("Procedure Code", run.by_code)):
            for r in rows:
                summary.append((group, r.key, r.lines, r.units, r.charges), totals)
        summary.append(("Total", "", len(run.lines), run.total_units, run.total), totals)
        summary.append(("Exceptions", "", len(run.exceptions)))
        if run.has_part2:
            summary.append(())
            summary.append((PART2_NOTICE,), (bold,))
        if notice:
            from iopdesk.reports import RELEASE_NOTICE_SHEET

            about = book.sheet(RELEASE_NOTICE_SHEET, widths=(120,), footer=footer)
            for text in notice:
                about.append((text,))
    if progress is not None:
        progress(total, total)
