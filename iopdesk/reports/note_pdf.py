"""One progress or group note as a printable PDF (issue 5 item 6).

Takes a `NotePrint` (plain data from iopdesk.services.notes.note_print_data); the caller makes
the write atomic and audits the print. Letter portrait: clinic header and client identifiers
on every page, the note's sections, the risk screen, signature, co-signature and addenda lines,
"Page X of Y", and the 42 CFR Part 2 notice in every page's footer for Part 2 records.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
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
from iopdesk.timefmt import stamp

if TYPE_CHECKING:
    from iopdesk.reports.data.notes import NotePrint

FORMAT_TITLES = {
    "SOAP": "Progress Note (SOAP)",
    "DAP": "Progress Note (DAP)",
    "BIRP": "Progress Note (BIRP)",
    "GIRP": "Progress Note (GIRP)",
    "custom": "Progress Note",
    "group": "Group Therapy Note",
}


def _when(value: datetime | None, tz: str | None = None) -> str:
    """Clinic-local with the zone abbreviation ("12/03/2026 6:57 PM CST"), never UTC."""
    if value is None:
        return ""
    return stamp(value, tz)


def note_title(data: NotePrint) -> str:
    return FORMAT_TITLES.get(data.content.header.format, "Progress Note")


def signature_lines(data: NotePrint) -> list[str]:
    """The signature block as text lines (also used for the on-screen view)."""
    c, h = data.content, data.content.header
    lines = []
    if h.status == "signed":
        signed = _when(h.signed_at, data.timezone)
        lines.append(f"Electronically signed by {c.signed_by or h.author} on {signed}")
        if h.late_entry:
            lines.append(
                f"LATE ENTRY: signed after the clinic's limit for service date "
                f"{h.service_date:%m/%d/%Y}"
            )
        if c.content_sha256:
            lines.append(f"Content SHA-256: {c.content_sha256}")
        if h.cosign_required:
            if h.cosigned_at:
                lines.append(
                    f"Co-signed by {c.cosigned_by} on {_when(h.cosigned_at, data.timezone)}"
                )
            else:
                lines.append("Awaiting supervisor co-signature")
    else:
        lines.append("DRAFT: not signed. This note is not final and is not billable.")
    return lines


def write_pdf(data: NotePrint, path: Path | str, notice: tuple[str, ...] = ()) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import inch
    from reportlab.platypus import (
        KeepTogether,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    register_fonts()
    page_w, page_h = letter
    margin = 0.6 * inch
    header_h = 1.25 * inch
    footer_h = footer_height(data.part2)
    c, h = data.content, data.content.header
    title = note_title(data)
    ident = (
        f"Client: {data.client_name}    DOB: {data.client_dob:%m/%d/%Y}    MRN: {data.client_mrn}"
    )
    printed = f"Printed {_when(data.printed_at, data.timezone)} by {data.printed_by}"
    letterhead = Letterhead(
        data.clinic_name,
        contact_line(data.clinic_address, data.clinic_phone),
        title,
        f"Date of service: {h.service_date:%m/%d/%Y}",
        ident,
    )
    footer = PageFooter(f"{CONFIDENTIAL}  {printed}", data.part2, baseline=margin - 6)

    body = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=13.5)
    small = ParagraphStyle("small", parent=body, fontSize=8.5, leading=11)
    label = ParagraphStyle("label", parent=body, fontName=FONT_BOLD, fontSize=10.5, leading=14)
    heading = ParagraphStyle(
        "heading",
        parent=label,
        fontSize=11,
        textColor=colors.HexColor("#1F3B5A"),
        spaceBefore=8,
        spaceAfter=2,
    )
    warn = ParagraphStyle(
        "warn", parent=body, fontName=FONT_BOLD, textColor=colors.HexColor("#B00020")
    )

    def para(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text).replace("\n", "<br/>"), style)

    story: list[Any] = []
    facts = [
        ("Service", data.session_label or h.format),
        ("Clinician", h.author),
        ("Minutes", "" if c.service_minutes is None else str(c.service_minutes)),
        ("Modalities", ", ".join(c.modalities) or "None recorded"),
    ]
    if c.goals_addressed:
        goals = [c.goal_labels.get(g, f"Goal {g}") for g in c.goals_addressed]
        facts.append(("Plan goals addressed", "; ".join(goals)))
    table = Table(
        [[para(k, label), para(v)] for k, v in facts],
        colWidths=[1.6 * inch, page_w - 2 * margin - 1.6 * inch],
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("LINEBELOW", (0, -1), (-1, -1), 0.5, colors.HexColor("#B8C2D0")),
            ]
        )
    )
    story.append(table)
    if c.group is not None:
        story.append(para("Group session", heading))
        story.append(para(f"Topic: {c.group.topic}"))
        if c.group.interventions:
            story.append(para(f"Interventions: {c.group.interventions}"))
        if c.group.modalities:
            story.append(para(f"Modalities: {', '.join(c.group.modalities)}"))
        story.append(Spacer(1, 3))
        story.append(para(c.group.narrative))
        story.append(para("Individualized entry", heading))
    for section, text in c.sections.items():
        story.append(KeepTogether([para(section, heading), para(text or "(blank)")]))
    story.append(para("Risk screen", heading))
    if c.risk_screened or c.risk_suicidal or c.risk_homicidal:
        screen = (
            f"Suicidal ideation: {'YES' if c.risk_suicidal else 'denied'}  |  "
            f"Homicidal ideation: {'YES' if c.risk_homicidal else 'denied'}"
        )
    else:
        screen = "Not done: the risk screen was not recorded on this note."
    story.append(para(screen, warn if (c.risk_suicidal or c.risk_homicidal) else body))
    if c.safety_plan:
        story.append(para(f"Safety plan: {c.safety_plan}"))
    story.append(para("Signatures", heading))
    for line in signature_lines(data):
        story.append(para(line, small if line.startswith("Content SHA") else body))
    if c.addenda:
        story.append(para("Addenda", heading))
        for a in c.addenda:
            sig = (
                f"Signed by {a.signed_by} on {_when(a.signed_at, data.timezone)}"
                if a.signed_at
                else "Not signed yet"
            )
            story.append(
                KeepTogether(
                    [
                        para(
                            f"Addendum by {a.author}, written {_when(a.created_at, data.timezone)}",
                            label,
                        ),
                        para(a.text),
                        para(sig, small),
                        Spacer(1, 4),
                    ]
                )
            )
    doc = SimpleDocTemplate(
        str(path),
        pagesize=letter,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin + header_h - 0.35 * inch,
        bottomMargin=margin + footer_h,
        title=f"{title} {h.service_date.isoformat()}",
        author=data.clinic_name,
        creator="IOPDesk",
        initialFontName=FONT,
    )
    story += release_notice_flowables(notice, FONT, FONT_BOLD)
    doc.build(
        story,
        onFirstPage=lambda canvas, _doc: letterhead.draw(canvas, page_w, page_h, margin),
        onLaterPages=lambda canvas, _doc: letterhead.draw(canvas, page_w, page_h, margin),
        canvasmaker=footer.canvas_class(page_w, margin),
    )
