"""A client's accounting of disclosures (HIPAA 164.528; 42 CFR 2.24) as a printable PDF."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from iopdesk.timefmt import utc_now

if TYPE_CHECKING:
    from iopdesk.reports.data.disclosures import DisclosureRow

TITLE = "Accounting of Disclosures"
KIND_LABELS = {
    "internal": "Internal use",
    "client_copy": "Client's copy",
    "disclosure": "Disclosure",
}


@dataclass(frozen=True)
class AccountingData:
    clinic_name: str
    clinic_address: str
    clinic_phone: str
    client_name: str
    mrn: str
    dob: date
    part2: bool
    rows: list[DisclosureRow]
    printed_by: str = ""
    printed_at: datetime = field(default_factory=utc_now)


def write_pdf(data: AccountingData, path: Path | str) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import inch
    from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

    from iopdesk.reports.pdfbase import FONT, FONT_BOLD, PageFooter, contact_line, register_fonts

    register_fonts()
    page_w, _ = letter
    margin = 0.6 * inch
    body = ParagraphStyle("b", fontName=FONT, fontSize=9, leading=11.5)
    head = ParagraphStyle("h", parent=body, fontName=FONT_BOLD)
    title = ParagraphStyle("t", fontName=FONT_BOLD, fontSize=15, leading=19)

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text).replace("\n", "<br/>"), style)

    rows: list[list[Any]] = [
        [
            p(h, head)
            for h in (
                "Date and time",
                "Type",
                "Recipient and address",
                "Purpose",
                "What was sent",
                "Consent used",
            )
        ]
    ]
    for r in sorted(data.rows, key=lambda r: r.disclosed_at):
        rows.append(
            [
                p(r.disclosed_at.astimezone().strftime("%Y-%m-%d %H:%M")),
                p(KIND_LABELS.get(r.kind, r.kind)),
                p("\n".join(x for x in (r.recipient, r.recipient_address) if x) or "-"),
                p(r.purpose or "-"),
                p(r.what_sent + (f" (information: {r.categories})" if r.categories else "")),
                p(r.consent_used or (f"no. {r.consent_id}" if r.consent_id else "none needed")),
            ]
        )
    widths = [0.95, 0.95, 1.6, 0.9, 1.55, 1.25]
    scale = (page_w - 2 * margin) / (sum(widths) * inch)
    table = LongTable(rows, colWidths=[w * inch * scale for w in widths], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDE4EE")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#B8C2D0")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    contact = contact_line(data.clinic_address, data.clinic_phone)
    story: list[Any] = [
        p(data.clinic_name, head),
        p(contact),
        Spacer(1, 10),
        p(TITLE, title),
        p(f"Client: {data.client_name}   MRN: {data.mrn}   Date of birth: {data.dob:%m/%d/%Y}"),
        p(
            f"Printed {data.printed_at.astimezone():%Y-%m-%d %H:%M} by {data.printed_by}. "
            "Every release of this client's records recorded by IOPDesk, oldest first."
        ),
        Spacer(1, 8),
        table if data.rows else p("No disclosures are recorded for this client."),
    ]
    doc = SimpleDocTemplate(
        str(path),
        pagesize=letter,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin + 10,
        title=TITLE,
        author="IOPDesk",
    )
    footer = PageFooter(f"{data.mrn}  Confidential", data.part2, baseline=margin - 14)
    doc.build(story, canvasmaker=footer.canvas_class(page_w, margin))
