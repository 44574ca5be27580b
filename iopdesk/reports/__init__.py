"""Report writers: they take plain data (dataclasses built by services) and write PDF/XLSX.

reportlab and XlsxWriter (reports.xlsx, every XLSX export) are imported inside the writers, never
at start-up.
"""

from __future__ import annotations

from typing import Any

# 42 CFR 2.32 short-form notice, stamped on every Part 2 record that leaves the clinic.
PART2_NOTICE = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
# 42 CFR 2.32(a)(1), the full notice (as amended in 2024), printed with every disclosure.
PART2_NOTICE_FULL = (
    "This record which has been disclosed to you is protected by Federal confidentiality "
    "rules (42 CFR part 2). These rules prohibit you from using or disclosing this record, or "
    "testimony that describes the information contained in this record, in any civil, "
    "criminal, administrative, or legislative proceedings by any Federal, State, or local "
    "authority, against the patient, unless authorized by the consent of the patient, except "
    "as provided at 42 CFR 2.12(c)(5) or as authorized by a court in accordance with 42 CFR "
    "2.64 or 2.65. In addition, the Federal rules prohibit you from making any further "
    "disclosure of this record unless authorized by the written consent of the patient whose "
    "record it is or as otherwise permitted by 42 CFR part 2. A general authorization for the "
    "release of medical or other information is NOT sufficient for this purpose (see 42 CFR "
    "2.31). The Federal rules restrict any use of the information to investigate or prosecute "
    "with regard to a crime any patient with a substance use disorder, except as provided at "
    "42 CFR 2.12(c)(5) and 2.66."
)
RELEASE_NOTICE_TITLE = "About this disclosure"
RELEASE_NOTICE_SHEET = "Disclosure notice"  # the sheet a disclosed workbook carries it on


def release_notice_flowables(lines: tuple[str, ...], font: str, bold: str) -> list[Any]:
    """A closing section (new page) with the release notice lines: who received the document,
    what it holds, the consent's scope (42 CFR 2.32(b)) and the 2.32 notice."""
    if not lines:
        return []
    from xml.sax.saxutils import escape

    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import PageBreak, Paragraph, Spacer

    body = ParagraphStyle("release-notice", fontName=font, fontSize=9.5, leading=12.5)
    head = ParagraphStyle("release-notice-h", fontName=bold, fontSize=13, leading=17)
    out: list[Any] = [PageBreak(), Paragraph(escape(RELEASE_NOTICE_TITLE), head), Spacer(1, 6)]
    for line in lines:
        out.append(Paragraph(escape(line), body))
        out.append(Spacer(1, 5))
    return out
