"""The weekly hours report (issue 4 item 5) as an Excel workbook or a printable PDF.

Both take an `AttendanceReport` (plain data from iopdesk.services.hours) and write one file;
the caller (export_attendance_report) makes the write atomic and audits it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from iopdesk.reports import PART2_NOTICE
from iopdesk.reports.pdfbase import (  # the fonts are also used from here by older callers
    CONFIDENTIAL as CONFIDENTIAL,
)
from iopdesk.reports.pdfbase import (
    FONT as FONT,
)
from iopdesk.reports.pdfbase import (
    FONT_BOLD as FONT_BOLD,
)
from iopdesk.reports.pdfbase import (
    Letterhead,
    PageFooter,
    contact_line,
    footer_height,
)
from iopdesk.reports.pdfbase import (
    register_fonts as register_fonts,
)

if TYPE_CHECKING:
    from iopdesk.reports.data.hours import AttendanceReport, WeekRow

SHEET_NAME = "Weekly Hours"
HEADERS = (
    "MRN",
    "Client",
    "Track",
    "Required Hours",
    "Attended Hours",
    "Status",
    "Required Days",
    "Attended Days",
)
_DAY_COLUMNS = (6, 7)  # whole numbers; Required Days empty when the week has no day minimum
TITLE = "Weekly Hours Report"


def week_label(start: date, end: date) -> str:
    """'Mon 2 Mar 2026 - Sun 8 Mar 2026' (no locale-dependent strftime names)."""
    names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

    def one(d: date) -> str:
        return f"{names[d.weekday()]} {d.day} {months[d.month - 1]} {d.year}"

    return f"{one(start)} – {one(end)}"


def _row_values(
    row: WeekRow,
) -> tuple[str, str, str, Decimal | None, Decimal, str, int | None, int]:
    return (
        row.mrn,
        row.client,
        row.track,
        row.required_hours,
        row.attended_hours,
        row.status,
        row.required_days,
        row.attended_days,
    )


# ------------------------------------------------------------------------------------------
# XLSX
# ------------------------------------------------------------------------------------------


def write_xlsx(report: AttendanceReport, path: Path | str, notice: tuple[str, ...] = ()) -> None:
    """Sheet 'Weekly Hours': one header row, one row per client (by MRN), hours as numbers
    formatted 0.00, frozen header, autofilter; the Part 2 notice under the table and in the
    printed footer when any client's record is a Part 2 record. Written by reports.xlsx:
    every name is a text cell, never a formula."""
    from iopdesk.reports.xlsx import Book

    title = f"{TITLE} {report.week_start.isoformat()}"
    with Book(path, title=title) as book:
        footer = (PART2_NOTICE if report.has_part2 else CONFIDENTIAL, "Page &P of &N")
        ws = book.sheet(
            SHEET_NAME,
            widths=(12, 32, 30, 16, 16, 16, 14, 14),
            freeze_rows=1,
            auto_filter=True,
            print_titles=True,
            landscape=True,
            fit_width=True,
            header=(
                report.clinic_name,
                f"{TITLE}: {week_label(report.week_start, report.week_end)}",
            ),
            footer=footer,
        )
        head = book.style(bold=True, fill="DDE4EE")
        head_right = book.style(bold=True, fill="DDE4EE", align="right")
        ws.append(
            HEADERS,
            [head_right if i in (3, 4, *_DAY_COLUMNS) else head for i in range(len(HEADERS))],
        )
        hours = book.style(number_format="0.00")
        count = book.style(number_format="0")
        status_style = {
            "not met": book.style(color="B00020"),
            "met": book.style(color="1B5E20"),
        }
        for row in report.rows:
            values = _row_values(row)
            ws.append(
                values,
                (None, None, None, hours, hours, status_style.get(row.status), count, count),
            )
        ws.end_table()
        if report.has_part2:
            ws.append(())
            ws.append((PART2_NOTICE,), (book.style(bold=True),))
        if notice:
            from iopdesk.reports import RELEASE_NOTICE_SHEET

            about = book.sheet(RELEASE_NOTICE_SHEET, widths=(120,), footer=footer)
            for line in notice:
                about.append((line,))


# ------------------------------------------------------------------------------------------
# PDF
# ------------------------------------------------------------------------------------------


def _hours(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def write_pdf(report: AttendanceReport, path: Path | str, notice: tuple[str, ...] = ()) -> None:
    """Landscape Letter: clinic header and week on every page, the table with its header row
    repeated on each page, 'Page X of Y', and the Part 2 notice in every page's footer when any
    client's record is a Part 2 record."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import landscape, letter
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import inch
    from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

    register_fonts()
    page_w, page_h = landscape(letter)
    margin = 0.5 * inch
    header_h = 0.95 * inch
    footer_h = footer_height(report.has_part2)
    printed = (
        report.generated_at.strftime("Printed %Y-%m-%d %H:%M %Z").strip()
        if report.generated_at
        else ""
    )
    letterhead = Letterhead(
        report.clinic_name,
        contact_line(report.clinic_address, report.clinic_phone),
        TITLE,
        f"Week: {week_label(report.week_start, report.week_end)}",
    )
    footer = PageFooter(
        f"{CONFIDENTIAL}  {printed}",
        report.has_part2,
        baseline=margin - 4,
        rule_y=margin + footer_h - 0.3 * inch,
    )

    body = ParagraphStyle("cell", fontName=FONT, fontSize=9, leading=11)
    head = ParagraphStyle("head", parent=body, fontName=FONT_BOLD)
    head_right = ParagraphStyle("head_r", parent=head, alignment=2)
    summary_style = ParagraphStyle("summary", parent=body, fontSize=9.5, leading=12)

    def para(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text), style)

    data: list[list[Any]] = [
        [para(h, head_right if i in (3, 4, *_DAY_COLUMNS) else head) for i, h in enumerate(HEADERS)]
    ]
    status_colours = {
        "met": colors.HexColor("#1B5E20"),
        "not met": colors.HexColor("#B00020"),
        "no requirement": colors.HexColor("#555555"),
    }
    style_cmds: list[tuple[Any, ...]] = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDE4EE")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.HexColor("#5B6B82")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ALIGN", (3, 1), (4, -1), "RIGHT"),
        ("ALIGN", (6, 1), (7, -1), "RIGHT"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#D5DAE1")),
    ]
    for i, row in enumerate(report.rows, start=1):
        mrn, client, track, required, attended, status, days_required, days = _row_values(row)
        data.append(
            [
                mrn,
                para(client),
                para(track),
                _hours(required),
                _hours(attended),
                status,
                "—" if days_required is None else str(days_required),
                str(days),
            ]
        )
        style_cmds.append(("TEXTCOLOR", (5, i), (5, i), status_colours.get(status, colors.black)))
        if status == "not met":
            style_cmds.append(("FONTNAME", (5, i), (5, i), FONT_BOLD))
        if i % 2 == 0:
            style_cmds.append(("BACKGROUND", (0, i), (-1, i), colors.HexColor("#F5F7FA")))
    if not report.rows:
        data.append(["", para("No client was enrolled during this week."), *[""] * 6])

    usable = page_w - 2 * margin
    fractions = (0.07, 0.16, 0.151, 0.13, 0.13, 0.115, 0.122, 0.122)
    table = LongTable(data, colWidths=[usable * f for f in fractions], repeatRows=1)
    table.setStyle(TableStyle(style_cmds))

    counts = report.counts()
    summary = (
        f"{len(report.rows)} client{'s' if len(report.rows) != 1 else ''} enrolled this week: "
        f"{counts.get('met', 0)} met, {counts.get('not met', 0)} not met, "
        f"{counts.get('no requirement', 0)} no requirement. Required hours and days are prorated "
        "for partial weeks, clinic closures and groups cancelled by the clinic; with a day "
        "minimum, met needs both."
    )
    doc = SimpleDocTemplate(
        str(path),
        pagesize=(page_w, page_h),
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin + header_h - 0.35 * inch,
        bottomMargin=margin + footer_h,
        title=f"{TITLE} {report.week_start.isoformat()}",
        author=report.clinic_name,
        creator="IOPDesk",
        initialFontName=FONT,  # no stray, non-embedded Helvetica on the pages
    )

    def on_page(canvas: Any, _doc: Any) -> None:
        letterhead.draw(canvas, page_w, page_h, margin)

    from iopdesk.reports import release_notice_flowables

    doc.build(
        [
            para(summary, summary_style),
            Spacer(1, 6),
            table,
            *release_notice_flowables(notice, FONT, FONT_BOLD),
        ],
        onFirstPage=on_page,
        onLaterPages=on_page,
        canvasmaker=footer.canvas_class(page_w, margin),
    )
