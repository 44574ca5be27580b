"""The audit report as an Excel workbook or a landscape PDF (plain data in, one file out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from iopdesk.reports import PART2_NOTICE
from iopdesk.timefmt import utc_now

if TYPE_CHECKING:
    from iopdesk.reports.data.audit import ReportRow

TITLE = "Audit Report"
HEADERS = (
    "#",
    "When (UTC)",
    "User",
    "Action",
    "Record",
    "Record ID",
    "Client (MRN)",
    "Detail",
    "Workstation",
    "Flagged",
)


@dataclass(frozen=True)
class AuditReportData:
    clinic_name: str
    filters: str
    printed_by: str
    rows: list[ReportRow]
    printed_at: datetime = field(default_factory=utc_now)


def write_xlsx(data: AuditReportData, path: Path | str) -> None:
    """Sheet 'Audit': title, filters line, header, one row per event, the Part 2 notice.
    Written by reports.xlsx: text is always a text cell (a detail such as '=1+1' or a user
    name '@x' is never run as a formula)."""
    from iopdesk.reports.xlsx import Book

    with Book(path, title=TITLE) as book:
        ws = book.sheet(
            "Audit",
            widths=(8, 20, 14, 18, 16, 12, 14, 60, 18, 9),
            freeze_rows=3,
            footer=(PART2_NOTICE, "Page &P of &N"),
        )
        bold = book.style(bold=True)
        ws.append((f"{data.clinic_name} - {TITLE}",), (book.style(bold=True, size=13),))
        ws.append(
            (
                f"Filters: {data.filters}. Printed {data.printed_at:%Y-%m-%d %H:%M} UTC "
                f"by {data.printed_by}. {len(data.rows)} events.",
            )
        )
        head = book.style(bold=True, fill="DDE4EE")
        ws.append(HEADERS, (head,) * len(HEADERS))
        flag = book.style(bold=True, color="B00020")
        for row in data.rows:
            values = row.values()
            if row.flagged:
                ws.append(values, [flag if v == "yes" else None for v in values])
            else:
                ws.append(values)
        ws.append(())
        ws.append((PART2_NOTICE,), (bold,))


def write_pdf(data: AuditReportData, path: Path | str) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import landscape, letter
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import inch
    from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

    from iopdesk.reports.pdfbase import FONT, FONT_BOLD, PageFooter, register_fonts

    register_fonts()
    page_w, _ = landscape(letter)
    margin = 0.45 * inch
    body = ParagraphStyle("cell", fontName=FONT, fontSize=7.5, leading=9)
    head = ParagraphStyle("head", parent=body, fontName=FONT_BOLD)
    title = ParagraphStyle("title", fontName=FONT_BOLD, fontSize=14, leading=17)
    small = ParagraphStyle("small", fontName=FONT, fontSize=8.5, leading=11)

    widths = [0.45, 1.35, 0.85, 1.0, 0.95, 0.7, 0.85, 2.4, 0.9, 0.65]
    scale = (page_w - 2 * margin) / (sum(widths) * inch)
    col_widths = [w * inch * scale for w in widths]
    table_data: list[list[Any]] = [[Paragraph(escape(h), head) for h in HEADERS]]
    for row in data.rows:
        table_data.append([Paragraph(escape(str(v)), body) for v in row.values()])
    table = LongTable(table_data, colWidths=col_widths, repeatRows=1)
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDE4EE")),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#B8C2D0")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    for i, row in enumerate(data.rows, start=1):
        if row.flagged:
            style.append(("BACKGROUND", (0, i), (-1, i), colors.HexColor("#FDECEA")))
    table.setStyle(TableStyle(style))
    doc = SimpleDocTemplate(
        str(path),
        pagesize=landscape(letter),
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin + 6,
        title=TITLE,
        author="IOPDesk",
    )
    story: list[Any] = [
        Paragraph(escape(f"{data.clinic_name} - {TITLE}"), title),
        Paragraph(
            escape(
                f"Filters: {data.filters}. Printed {data.printed_at:%Y-%m-%d %H:%M} UTC by "
                f"{data.printed_by}. {len(data.rows)} events; flagged events are shaded."
            ),
            small,
        ),
        Spacer(1, 6),
        table,
    ]
    # Every page: what it is, page X of Y and the Part 2 notice (the log names clients).
    footer = PageFooter(f"{data.clinic_name} - {TITLE}", True, baseline=margin - 10)
    doc.build(story, canvasmaker=footer.canvas_class(page_w, margin))
