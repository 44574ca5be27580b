"""The printable group roster / sign-in sheet for the room (PDF).

With `privacy=True` only the preferred (or first) name and last initial print, for a sheet
that lies on a table where other clients can see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from pathlib import Path


@dataclass(frozen=True)
class RosterLine:
    name: str
    mrn: str
    part2: bool


@dataclass(frozen=True)
class RosterDoc:
    clinic_name: str
    title: str
    session_date: date
    start: time
    end: time
    facilitators: str
    location: str
    lines: tuple[RosterLine, ...]
    privacy: bool


def write_pdf(doc: RosterDoc, path: Path | str) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import inch
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from iopdesk.reports.pdfbase import FONT, FONT_BOLD, PageFooter, register_fonts

    register_fonts()
    part2 = any(line.part2 for line in doc.lines)
    title_style = ParagraphStyle("t", fontName=FONT_BOLD, fontSize=15, leading=19)
    body = ParagraphStyle("b", fontName=FONT, fontSize=10, leading=13)

    story = [
        Paragraph(doc.clinic_name, body),
        Paragraph(f"Sign-in sheet: {doc.title}", title_style),
        Paragraph(
            f"{doc.session_date:%A, %B %d, %Y}  {doc.start:%H:%M}-{doc.end:%H:%M}"
            + (f"  |  {doc.location}" if doc.location else "")
            + (f"  |  Facilitator: {doc.facilitators}" if doc.facilitators else ""),
            body,
        ),
        Spacer(1, 12),
    ]
    header: list[object] = ["#", "Client", "Time in", "Time out", "Signature"]
    if not doc.privacy:
        header.insert(2, "MRN")
    data: list[list[object]] = [header]
    for i, line in enumerate(doc.lines, start=1):
        row: list[object] = [str(i), Paragraph(line.name, body), "", "", ""]
        if not doc.privacy:
            row.insert(2, line.mrn)
        data.append(row)
    widths = [0.35, 2.6, 0.9, 0.9, 2.25] if doc.privacy else [0.35, 2.2, 0.85, 0.8, 0.8, 2.0]
    table = Table(data, colWidths=[w * inch for w in widths], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), FONT_BOLD, 10),
                ("FONT", (0, 1), (-1, -1), FONT, 10),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f6")),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#9aa5b1")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f8fafc")]),
                ("TOPPADDING", (0, 1), (-1, -1), 9),
                ("BOTTOMPADDING", (0, 1), (-1, -1), 9),
            ]
        )
    )
    story.append(table)
    footer = PageFooter(
        f"{doc.clinic_name} - {doc.title} - {doc.session_date:%m/%d/%Y}", part2, baseline=0.5 * inch
    )
    pdf = SimpleDocTemplate(
        str(path),
        pagesize=letter,
        leftMargin=0.75 * inch,
        rightMargin=0.75 * inch,
        topMargin=0.7 * inch,
        bottomMargin=0.8 * inch,
        title=f"Sign-in sheet {doc.title}",
    )
    # the caller (attendance.export_roster) writes through filesout.audited_write
    pdf.build(story, canvasmaker=footer.canvas_class(letter[0], 0.75 * inch))
