"""The recovery kit: one printed page that lets the clinic open its data on a new PC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class KitData:
    clinic: str
    database: str
    made_on: date
    recovery_key: str
    recovery_id: str
    postgres: bool = False


WHAT_FOR = (
    "This key opens the clinic's IOPDesk data when the usual way is gone: the office PC died "
    "or was replaced, its system keyring was lost, or nobody remembers the database "
    "passphrase. With it, any backup of this database can be restored on a new PC "
    "(First start > Restore from a backup, or \u201ciopdesk restore FILE\u201d with the key "
    "in IOPDESK_RECOVERY_KEY). It does not replace a user's password: after the restore, staff "
    "sign in with their own accounts."
)
WHAT_FOR_PG = (
    "This key lets a new workstation join the clinic server: it unlocks the clinic's audit "
    "key, which every workstation needs to write to the audit log (set IOPDESK_RECOVERY_KEY "
    "once on the new workstation). It does not replace the database password or a user's "
    "password."
)
WHERE = (
    "Keep this page where the clinic keeps its other critical papers: a locked cabinet or "
    "safe, away from the PC and away from the backup drive. Anyone who has this key and a "
    "backup can read every client record in it, so do not photograph it, e-mail it or keep it "
    "in the same bag as the backup drive. Give a sealed copy to the clinic's owner or IT "
    "contractor if the clinic's policy allows. If the page is lost or seen by someone who "
    "should not have it, an administrator makes a new key (\u201ciopdesk recovery-kit "
    "--new\u201d) and the clinic makes a new backup; older backups still open only with the "
    "old key."
)


def write_pdf(data: KitData, path: Path | str) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import inch
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from iopdesk.reports.pdfbase import FONT, FONT_BOLD, register_fonts

    register_fonts()
    margin = 0.8 * inch
    body = ParagraphStyle("b", fontName=FONT, fontSize=10.5, leading=14.5, spaceAfter=6)
    head = ParagraphStyle("h", parent=body, fontName=FONT_BOLD, fontSize=11.5, spaceBefore=8)
    title = ParagraphStyle("t", fontName=FONT_BOLD, fontSize=18, leading=22, spaceAfter=4)
    sub = ParagraphStyle("s", parent=body, fontSize=10, textColor=colors.HexColor("#444444"))
    keystyle = ParagraphStyle(
        "k", fontName="Courier-Bold", fontSize=17, leading=24, alignment=1, spaceAfter=0
    )
    label = ParagraphStyle("l", parent=body, fontName=FONT_BOLD, fontSize=9.5, spaceAfter=0)
    cell = ParagraphStyle("c", parent=body, fontSize=9.5, spaceAfter=0)
    story = [
        Paragraph("IOPDesk recovery kit", title),
        Paragraph(escape(data.clinic), sub),
        Spacer(1, 10),
    ]
    facts = Table(
        [
            [Paragraph("Clinic", label), Paragraph(escape(data.clinic), cell)],
            [Paragraph("Database", label), Paragraph(escape(data.database), cell)],
            [Paragraph("Made on", label), Paragraph(data.made_on.isoformat(), cell)],
            [Paragraph("Kit number", label), Paragraph(escape(data.recovery_id), cell)],
        ],
        colWidths=[1.2 * inch, None],
    )
    facts.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -2), 0.3, colors.HexColor("#cccccc")),
            ]
        )
    )
    box = Table([[Paragraph("Recovery key", label)], [Paragraph(data.recovery_key, keystyle)]])
    box.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 1.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                ("TOPPADDING", (0, 1), (-1, 1), 10),
                ("BOTTOMPADDING", (0, 1), (-1, 1), 12),
            ]
        )
    )
    story += [
        facts,
        Spacer(1, 14),
        box,
        Spacer(1, 4),
        Paragraph("Type it exactly as printed; capitals, spaces and dashes do not matter.", sub),
        Paragraph("What it is for", head),
        Paragraph(escape(WHAT_FOR_PG if data.postgres else WHAT_FOR), body),
        Paragraph("Where to keep it", head),
        Paragraph(escape(WHERE), body),
        Paragraph("When the PC dies", head),
        Paragraph(
            escape(
                "Install IOPDesk on the new PC, connect the backup drive (or copy the backup "
                "folder: each backup .db file with its .keyinfo file), start IOPDesk and choose "
                "Restore from a backup, then type this key. Step by step: docs/backups.md, "
                "\u201cThe PC died\u201d."
            ),
            body,
        ),
    ]
    doc = SimpleDocTemplate(
        str(path),
        pagesize=letter,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title="IOPDesk recovery kit",
        author="IOPDesk",
    )
    doc.build(story)
