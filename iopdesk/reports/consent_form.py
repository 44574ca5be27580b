"""The 42 CFR 2.31 consent form, printed blank or filled from a recorded consent."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from iopdesk.reports import PART2_NOTICE

if TYPE_CHECKING:
    from iopdesk.services.consents import ConsentFormData

TITLE = "Consent for the Release of Confidential Substance Use Disorder Information"
BLANK = "_" * 44

# the elements 42 CFR 2.31(a) requires, in plain words
TEXT = {
    "intro": (
        "I, {client}, authorize {clinic} to disclose the information described below about "
        "me to the recipient named below, for the purpose stated."
    ),
    "revoke": (
        "I understand that I may revoke this consent at any time, in writing or orally, except "
        "to the extent that action has already been taken in reliance on it. Unless revoked "
        "earlier, this consent expires on the date or event stated above."
    ),
    "conditions": (
        "I understand that my treatment, payment, enrollment or eligibility for benefits will "
        "not be conditioned on whether I sign this consent, except where permitted by law."
    ),
    "redisclosure": (
        "I understand that my records are protected under the federal regulations governing "
        "Confidentiality of Substance Use Disorder Patient Records, 42 CFR part 2, and the "
        "HIPAA Privacy Rule, 45 CFR parts 160 and 164, and cannot be disclosed without my "
        "written consent unless otherwise provided for by the regulations. Information "
        "disclosed under this consent may be re-disclosed by a recipient that is not covered "
        "by these rules and may then no longer be protected by them."
    ),
    "copy": "I have the right to a copy of this signed form.",
}


def write_pdf(data: ConsentFormData, path: Path | str) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import inch
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from iopdesk.reports.attendance import FONT, FONT_BOLD, register_fonts

    register_fonts()
    page_w, _ = letter
    margin = 0.75 * inch
    body = ParagraphStyle("b", fontName=FONT, fontSize=10, leading=13.5)
    bold = ParagraphStyle("bb", parent=body, fontName=FONT_BOLD)
    title = ParagraphStyle("t", fontName=FONT_BOLD, fontSize=13.5, leading=17, spaceAfter=6)
    label = ParagraphStyle("l", parent=body, fontName=FONT_BOLD, fontSize=9)

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text), style)

    def decorate(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT_BOLD, 8.5)
        canvas.drawCentredString(page_w / 2, margin - 18, PART2_NOTICE)
        canvas.setFont(FONT, 8)
        canvas.drawRightString(page_w - margin, margin - 30, f"MRN {data.mrn}  Page {doc.page}")
        canvas.restoreState()

    box = "\u2612" if data.info_categories else "\u2610"
    categories = [
        p(f"{box if c in data.info_categories else chr(0x2610)}  {c}") for c in data.all_categories
    ]
    extra = [c for c in data.info_categories if c not in data.all_categories]
    categories += [p(f"\u2612  {c}") for c in extra]
    fields = [
        [p("Client", label), p(f"{data.client_name}   (date of birth {data.client_dob:%m/%d/%Y})")],
        [p("Recipient (name)", label), p(data.recipient_name or BLANK)],
        [p("Recipient (organization)", label), p(data.recipient_org or BLANK)],
        [p("Purpose of the disclosure", label), p(data.purpose or BLANK)],
        [p("Information to disclose", label), categories],
        [p("This consent expires on (date or event)", label), p(data.expiry or BLANK)],
    ]
    table = Table(fields, colWidths=[2.0 * inch, page_w - 2 * margin - 2.0 * inch])
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#8893A3")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#EEF2F7")),
            ]
        )
    )
    signed = f"{data.signed_date:%m/%d/%Y}" if data.signed_date else "____________"
    sign = Table(
        [
            [p("Signature of client", label), p("Date", label)],
            [p("_" * 52), p(signed)],
            [p("Signature of parent/guardian/representative (if required)", label), p("")],
            [p("_" * 52), p("____________")],
        ],
        colWidths=[4.6 * inch, 2.0 * inch],
    )
    story: list[Any] = [
        p(data.clinic_name, bold),
        p("  ·  ".join(x for x in (data.clinic_address, data.clinic_phone) if x)),
        Spacer(1, 12),
        p(TITLE, title),
        p(TEXT["intro"].format(client=data.client_name, clinic=data.clinic_name)),
        Spacer(1, 8),
        table,
        Spacer(1, 10),
        p(TEXT["revoke"]),
        Spacer(1, 5),
        p(TEXT["conditions"]),
        Spacer(1, 5),
        p(TEXT["redisclosure"]),
        Spacer(1, 5),
        p(TEXT["copy"]),
        Spacer(1, 16),
        sign,
    ]
    doc = SimpleDocTemplate(
        str(path),
        pagesize=letter,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin + 10,
        title="Consent to disclose",
        author="IOPDesk",
    )
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
