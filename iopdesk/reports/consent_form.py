"""The 42 CFR 2.31 consent form, printed blank or filled from a recorded consent."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from iopdesk.reports.data.consents import ConsentFormData

TITLE = "Consent for the Release of Confidential Substance Use Disorder Information"
HIPAA_TITLE = "Authorization for the Use and Disclosure of Health Information"
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
    "revoke_how": (
        "To revoke this consent, tell any staff member of {clinic} or write to {clinic}{at}. "
        "Revoking it stops future disclosures; it does not undo disclosures already made."
    ),
    "tpo": (
        "If this consent is for treatment, payment and health care operations, my records may "
        "be disclosed to the recipients named or described above for all such future uses. A "
        "recipient that is a Part 2 program, a HIPAA covered entity or a business associate "
        "may then further use and disclose my records as the HIPAA rules permit, except for "
        "uses and disclosures in civil, criminal, administrative or legislative proceedings "
        "against me (42 CFR 2.31(a)(4)(iii)(A))."
    ),
    "refusal": (
        "If I do not sign this consent, the only consequence is that {clinic} will not "
        "disclose my records to this recipient for this purpose; my treatment at {clinic} "
        "does not depend on it (42 CFR 2.31(a)(4)(iii)(B))."
    ),
    "proceedings": (
        "My records, or testimony about them, may not be used in civil, criminal, "
        "administrative or legislative proceedings against me without a separate consent or a "
        "court order, and SUD counseling notes need their own separate consent."
    ),
    "notice": (
        "Every disclosure under this consent is sent with the notice required by 42 CFR 2.32 "
        "and a copy or explanation of this consent's scope."
    ),
    "accounting": ("I may ask {clinic} for a list of the disclosures made under this consent."),
    "copy": "I have the right to a copy of this signed form.",
}
# HIPAA 45 CFR 164.508(c): the required statements of an authorization
HIPAA_TEXT = {
    "intro": (
        "I, {client}, authorize {clinic} to use and disclose the health information described "
        "below about me to the recipient named below, for the purpose stated."
    ),
    "revoke": (
        "I may revoke this authorization at any time by telling any staff member of {clinic} "
        "or writing to {clinic}{at}, except to the extent that {clinic} has already acted on "
        "it. Unless revoked earlier, it expires on the date or event stated above."
    ),
    "conditions": (
        "{clinic} will not condition my treatment, payment, enrollment or eligibility for "
        "benefits on whether I sign this authorization."
    ),
    "redisclosure": (
        "Information disclosed under this authorization may be redisclosed by the recipient "
        "and may then no longer be protected by the HIPAA Privacy Rule."
    ),
    "copy": "I have the right to a copy of this signed form.",
}


def write_pdf(data: ConsentFormData, path: Path | str) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import inch
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from iopdesk.reports.pdfbase import FONT, FONT_BOLD, PageFooter, register_fonts

    register_fonts()
    page_w, _ = letter
    margin = 0.75 * inch
    body = ParagraphStyle("b", fontName=FONT, fontSize=10, leading=13.5)
    bold = ParagraphStyle("bb", parent=body, fontName=FONT_BOLD)
    title = ParagraphStyle("t", fontName=FONT_BOLD, fontSize=13.5, leading=17, spaceAfter=6)
    label = ParagraphStyle("l", parent=body, fontName=FONT_BOLD, fontSize=9)

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text), style)

    box = "\u2612" if data.info_categories else "\u2610"
    categories = [
        p(f"{box if c in data.info_categories else chr(0x2610)}  {c}") for c in data.all_categories
    ]
    extra = [c for c in data.info_categories if c not in data.all_categories]
    categories += [p(f"\u2612  {c}") for c in extra]
    hipaa = data.kind == "hipaa"
    at = f" at {data.clinic_address}" if data.clinic_address else ""
    fill = {"client": data.client_name, "clinic": data.clinic_name, "at": at}
    if data.recipient_class:
        who = [
            [
                p("Recipients (a class)", label),
                p(f"{data.recipient_class} (a consent for treatment, payment and health care "
                  "operations, 42 CFR 2.31(a)(4)(i))"),
            ]
        ]  # fmt: skip
    else:
        who = [
            [p("Recipient (name)", label), p(data.recipient_name or BLANK)],
            [p("Recipient (organization)", label), p(data.recipient_org or BLANK)],
            [p("Recipient (address)", label), p(data.recipient_address or BLANK)],
        ]
    fields = [
        [p("Client", label), p(f"{data.client_name}   (date of birth {data.client_dob:%m/%d/%Y})")],
        *who,
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
        p(HIPAA_TITLE if hipaa else TITLE, title),
        p((HIPAA_TEXT if hipaa else TEXT)["intro"].format(**fill)),
        Spacer(1, 8),
        table,
        Spacer(1, 10),
    ]
    keys = (
        ("revoke", "conditions", "redisclosure", "copy")
        if hipaa
        else (
            "revoke",
            "revoke_how",
            "conditions",
            "refusal",
            "redisclosure",
            "tpo",
            "proceedings",
            "notice",
            "accounting",
            "copy",
        )
    )
    for key in keys:
        story += [p((HIPAA_TEXT if hipaa else TEXT)[key].format(**fill)), Spacer(1, 5)]
    story += [Spacer(1, 11), sign]
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
    # A Part 2 consent carries the 2.32 notice; a HIPAA authorization does not.
    footer = PageFooter(f"MRN {data.mrn}", data.kind != "hipaa", baseline=margin - 30)
    doc.build(story, canvasmaker=footer.canvas_class(page_w, margin))
