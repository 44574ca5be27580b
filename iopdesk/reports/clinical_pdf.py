"""A signed clinical document as a PDF: the safety plan and the discharge summary.

Takes plain data (`ClinicalDoc`); the caller makes the write atomic, passes it through the
release gate and audits it. Letter portrait: clinic and client identifiers on every page,
titled sections (text or a table), a signature block, "Page X of Y", and the 42 CFR 2.32
notice in every page's footer for Part 2 records. An unsigned document says DRAFT on every
page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from iopdesk.reports import release_notice_flowables
from iopdesk.reports.pdfbase import (
    CONFIDENTIAL,
    FONT,
    FONT_BOLD,
    Letterhead,
    PageFooter,
    contact_line,
    footer_height,
    register_fonts,
)


@dataclass(frozen=True)
class Section:
    heading: str
    text: str = ""
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    widths: tuple[float, ...] = ()  # fractions of the text width
    empty: str = "None recorded"
    emphasis: bool = False  # a warning (red heading)


@dataclass(frozen=True)
class ClinicalDoc:
    title: str
    clinic_name: str
    client_name: str
    dob: date
    mrn: str
    date_label: str = ""
    clinic_address: str = ""
    clinic_phone: str = ""
    sections: tuple[Section, ...] = ()
    signature: tuple[str, ...] = ()
    signed: bool = False
    part2: bool = False
    printed: str = ""
    signature_lines: tuple[str, ...] = ()  # blank lines to sign on paper, e.g. "Client"
    extra: dict[str, str] = field(default_factory=dict)


def when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%m/%d/%Y %H:%M %Z").strip()


def write_pdf(doc_data: ClinicalDoc, path: Path | str, notice: tuple[str, ...] = ()) -> int:
    """Write the document; returns the number of pages. `notice`: the closing release
    notice of a disclosure (who received it, what it holds, the consent's scope, 2.32)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import inch
    from reportlab.platypus import (
        KeepTogether,
        LongTable,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        TableStyle,
    )

    register_fonts()
    d = doc_data
    page_w, page_h = letter
    margin = 0.6 * inch
    usable = page_w - 2 * margin
    footer_h = footer_height(d.part2)
    ident = f"Client: {d.client_name}    DOB: {d.dob:%m/%d/%Y}    MRN: {d.mrn}"
    navy = colors.HexColor("#1F3B5A")
    letterhead = Letterhead(
        d.clinic_name,
        contact_line(d.clinic_address, d.clinic_phone),
        d.title,
        d.date_label,
        ident,
    )
    footer = PageFooter(f"{CONFIDENTIAL}  {d.printed}", d.part2, baseline=margin - 6)

    def draw_header(canvas: Any, _doc: Any) -> None:
        letterhead.draw(canvas, page_w, page_h, margin)
        if not d.signed:
            canvas.saveState()
            canvas.setFont(FONT_BOLD, 60)
            canvas.setFillColor(colors.Color(0.85, 0.1, 0.1, alpha=0.12))
            canvas.translate(page_w / 2, page_h / 2)
            canvas.rotate(35)
            canvas.drawCentredString(0, 0, "DRAFT")
            canvas.restoreState()

    body = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=13.5)
    small = ParagraphStyle("small", parent=body, fontSize=8.5, leading=11)
    muted = ParagraphStyle("muted", parent=body, textColor=colors.HexColor("#666666"))
    cell = ParagraphStyle("cell", parent=body, fontSize=9.5, leading=12)
    head_cell = ParagraphStyle("headcell", parent=cell, fontName=FONT_BOLD)
    heading = ParagraphStyle(
        "heading", parent=body, fontName=FONT_BOLD, fontSize=11.5, leading=15,
        textColor=navy, spaceBefore=9, spaceAfter=3,
    )  # fmt: skip
    warn = ParagraphStyle("warn", parent=heading, textColor=colors.HexColor("#B00020"))

    def para(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text).replace("\n", "<br/>"), style)

    story: list[Any] = []
    for s in d.sections:
        block: list[Any] = [para(s.heading, warn if s.emphasis else heading)]
        if s.text.strip():
            block.append(para(s.text))
        if s.headers:
            if s.rows:
                widths = s.widths or tuple(1 / len(s.headers) for _ in s.headers)
                titled = any(h for h in s.headers)  # all-blank headers: a table of facts
                table = LongTable(
                    ([[para(h, head_cell) for h in s.headers]] if titled else [])
                    + [[para(v, cell) for v in row] for row in s.rows],
                    colWidths=[usable * w for w in widths],
                    repeatRows=1 if titled else 0,
                )
                table.setStyle(
                    TableStyle(
                        [
                            (
                                "BACKGROUND",
                                (0, 0),
                                (-1 if titled else 0, 0 if titled else -1),
                                colors.HexColor("#E6ECF3"),
                            ),
                            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#B8C2D0")),
                            ("VALIGN", (0, 0), (-1, -1), "TOP"),
                            ("TOPPADDING", (0, 0), (-1, -1), 3),
                            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                        ]
                    )
                )
                block.append(table)
            else:
                block.append(para(s.empty, muted))
        elif not s.text.strip():
            block.append(para(s.empty, muted))
        story.append(KeepTogether(block) if len(block) <= 3 else block[0])
        if len(block) > 3:
            story += block[1:]
    sig: list[Any] = [para("Signatures", heading)]
    for line in d.signature:
        sig.append(para(line, small if line.startswith("Content SHA") else body))
    for who in d.signature_lines:
        sig += [
            Spacer(1, 18),
            para("_" * 46 + "      " + "_" * 16),
            para(f"{who}      Date", small),
        ]
    story.append(KeepTogether(sig))
    doc = SimpleDocTemplate(
        str(path),
        pagesize=letter,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin + 0.9 * inch,
        bottomMargin=margin + footer_h,
        title=f"{d.title} - {d.mrn}",
        author=d.clinic_name,
        creator="IOPDesk",
        initialFontName=FONT,
    )
    story += release_notice_flowables(notice, FONT, FONT_BOLD)
    doc.build(
        story,
        onFirstPage=draw_header,
        onLaterPages=draw_header,
        canvasmaker=footer.canvas_class(page_w, margin),
    )
    return int(doc.page)
