"""A treatment plan printed to PDF (Letter, portrait).

Takes a `PlanPrint` (plain data from iopdesk.services.plans); the caller (print_plan) makes
the write atomic and audits it. Every page carries the clinic header, the client's identifiers
and "Page X of Y"; a Part 2 record carries the 42 CFR 2.32 notice on every page.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from iopdesk.reports import release_notice_flowables
from iopdesk.reports.pdfbase import (
    COMPACT,
    CONFIDENTIAL,
    FONT,
    FONT_BOLD,
    Letterhead,
    PageFooter,
    contact_line,
    footer_height,
    register_fonts,
)

if TYPE_CHECKING:
    from iopdesk.reports.data.plans import PlanPrint

TITLE = "Treatment Plan"


def _d(value: date | None) -> str:
    return f"{value:%m/%d/%Y}" if value else "—"


def _dt(value: datetime | None, tz: tzinfo | None = None) -> str:
    """A UTC instant shown in the clinic's time zone (that of the print time)."""
    if value is None:
        return "—"
    return value.astimezone(tz).strftime("%m/%d/%Y %H:%M %Z").strip()


def write_pdf(data: PlanPrint, path: Path | str, notice: tuple[str, ...] = ()) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import inch
    from reportlab.platypus import (
        CondPageBreak,
        KeepTogether,
        LongTable,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    register_fonts()
    plan = data.plan
    clinic_tz = data.printed_at.tzinfo
    page_w, page_h = letter
    margin = 0.6 * inch
    header_h = 1.05 * inch
    footer_h = footer_height(data.part2)
    usable = page_w - 2 * margin
    printed = f"Printed {data.printed_at:%m/%d/%Y %H:%M %Z}".strip()
    ident = f"{data.client_name}   ·   MRN {data.mrn}   ·   DOB {_d(data.dob)}"
    line_colour = colors.HexColor("#5B6B82")
    pale = colors.HexColor("#D5DAE1")
    band = colors.HexColor("#DDE4EE")
    soft = colors.HexColor("#F5F7FA")

    letterhead = Letterhead(
        data.clinic_name,
        contact_line(data.clinic_address, data.clinic_phone),
        TITLE,
        f"Plan #{plan.id} · {plan.status_label}",
        ident,
        style=COMPACT,
    )
    footer = PageFooter(
        f"{CONFIDENTIAL}  {printed}",
        data.part2,
        baseline=margin - 6,
        rule_y=margin + footer_h - 0.3 * inch,
    )

    body = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=11.5)
    small = ParagraphStyle("small", parent=body, fontSize=8.5, leading=10.5)
    bold = ParagraphStyle("bold", parent=body, fontName=FONT_BOLD)
    h1 = ParagraphStyle(
        "h1",
        parent=body,
        fontName=FONT_BOLD,
        fontSize=11.5,
        leading=14,
        spaceBefore=8,
        spaceAfter=4,
        textColor=colors.HexColor("#1F3A5F"),
    )
    h2 = ParagraphStyle(
        "h2",
        parent=body,
        fontName=FONT_BOLD,
        fontSize=10,
        leading=12.5,
        spaceBefore=4,
        spaceAfter=2,
    )
    quote = ParagraphStyle(
        "quote",
        parent=body,
        fontSize=9,
        leading=11.5,
        leftIndent=12,
        textColor=colors.HexColor("#333333"),
        spaceAfter=4,
    )

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text).replace("\n", "<br/>"), style)

    story: list[Any] = []

    # Plan header facts
    signer = plan.clinician_signed_by or "—"
    facts = [
        [p("Status", bold), p(plan.status_label), p("Start date", bold), p(_d(plan.start_date))],
        [
            p("Review every", bold),
            p(f"{plan.review_interval_days} days"),
            p("Next review", bold),
            p(_d(plan.next_review_date) if plan.status == "active" else "—"),
        ],
        [
            p("Clinician signature", bold),
            p(
                f"{signer}, {_dt(plan.clinician_signed_at, clinic_tz)}"
                if plan.clinician_signed_at
                else "Not signed (draft)"
            ),
            p("Client agreement", bold),
            p(
                f"Agreed, signed {_d(plan.client_signed_date)}"
                if plan.client_agreed
                else "Not recorded"
            ),
        ],
    ]
    facts_table = Table(facts, colWidths=[usable * f for f in (0.19, 0.31, 0.19, 0.31)])
    facts_table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (-1, -1), soft),
                ("BOX", (0, 0), (-1, -1), 0.5, pale),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    story += [facts_table, Spacer(1, 6)]
    story += _diagnoses_and_asam(data, p, bold, body, h1, usable, band, line_colour)

    # Problems -> goals -> objectives -> interventions
    if not plan.problems:
        story.append(p("No problems have been entered on this plan yet."))
    for pi, problem in enumerate(plan.problems, start=1):
        story.append(CondPageBreak(1.4 * inch))
        story.append(p(f"Problem {pi}: {problem.description}", h1))
        if not problem.goals:
            story.append(p("No goals entered.", small))
        for gi, goal in enumerate(problem.goals, start=1):
            head: list[Any] = [
                p(
                    f"Goal {pi}.{gi}: {goal.description}"
                    + ("  (achieved)" if goal.status == "achieved" else ""),
                    h2,
                )
            ]
            if goal.client_words:
                words = goal.client_words.strip().strip('"“”')
                head.append(p(f"In the client's words: “{words}”", quote))
            rows: list[list[Any]] = [
                [
                    p("Objective / intervention", bold),
                    p("Modality", bold),
                    p("Frequency", bold),
                    p("Responsible", bold),
                    p("Target", bold),
                ]
            ]
            cmds: list[tuple[Any, ...]] = [
                ("BACKGROUND", (0, 0), (-1, 0), band),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, line_colour),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
            ]
            for oi, objective in enumerate(goal.objectives, start=1):
                r = len(rows)
                rows.append(
                    [
                        p(f"Objective {pi}.{gi}.{oi}: {objective.description}", bold),
                        "",
                        "",
                        "",
                        p(_d(objective.target_date)),
                    ]
                )
                cmds += [
                    ("SPAN", (0, r), (3, r)),
                    ("BACKGROUND", (0, r), (-1, r), soft),
                    ("LINEABOVE", (0, r), (-1, r), 0.25, pale),
                ]
                for intervention in objective.interventions:
                    rows.append(
                        [
                            p(f"• {intervention.description}", small),
                            p(intervention.modality, small),
                            p(intervention.frequency, small),
                            p(intervention.responsible, small),
                            "",
                        ]
                    )
                if not objective.interventions:
                    rows.append([p("• No intervention entered.", small), "", "", "", ""])
            if not goal.objectives:
                rows.append([p("No objectives entered.", small), "", "", "", ""])
            table = LongTable(
                rows,
                colWidths=[usable * f for f in (0.42, 0.15, 0.13, 0.17, 0.13)],
                repeatRows=1,
            )
            table.setStyle(TableStyle(cmds))
            story.append(KeepTogether([*head, table]) if len(rows) < 12 else head[0])
            if len(rows) >= 12:
                story += [*head[1:], table]
            story.append(Spacer(1, 6))

    # Review history
    story.append(CondPageBreak(1.2 * inch))
    story.append(p("Review history", h1))
    if not plan.reviews:
        story.append(p("No reviews recorded yet.", small))
    else:
        rows = [[p("Date", bold), p("Reviewer", bold), p("Summary and progress per goal", bold)]]
        for review in plan.reviews:
            lines = [escape(review.summary)]
            for prog in review.progress:
                goal_text = prog.goal if len(prog.goal) <= 80 else prog.goal[:79] + "…"
                text = f"<b>{escape(goal_text.rstrip('.'))}</b>: {escape(prog.rating_label)}"
                if prog.comment:
                    text += f" — {escape(prog.comment)}"
                lines.append(text)
            rows.append(
                [
                    p(_d(review.review_date)),
                    p(review.reviewer),
                    Paragraph("<br/>".join(lines), small),
                ]
            )
        table = LongTable(rows, colWidths=[usable * f for f in (0.13, 0.22, 0.65)], repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("BACKGROUND", (0, 0), (-1, 0), band),
                    ("LINEBELOW", (0, 0), (-1, 0), 0.8, line_colour),
                    ("LINEBELOW", (0, 1), (-1, -1), 0.25, pale),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story.append(table)

    # Signatures
    clinician = (
        f"Signed electronically by {signer} on {_dt(plan.clinician_signed_at, clinic_tz)}"
        if plan.clinician_signed_at
        else "Not yet signed"
    )
    client_line = (
        f"Client agreed to this plan; signed {_d(plan.client_signed_date)}"
        if plan.client_agreed
        else "Client agreement not yet recorded"
    )
    sig_rows = [
        [p("Clinician signature", bold), "", p("Date", bold), ""],
        [
            p(clinician, small),
            "",
            p(
                _d(plan.clinician_signed_at.astimezone(clinic_tz).date())
                if plan.clinician_signed_at
                else ""
            ),
            "",
        ],
        ["", "", "", ""],
        [p("Client signature", bold), "", p("Date", bold), ""],
        [
            p(client_line, small),
            "",
            p(_d(plan.client_signed_date) if plan.client_agreed else ""),
            "",
        ],
    ]
    sig = Table(
        sig_rows,
        colWidths=[usable * 0.55, usable * 0.05, usable * 0.3, usable * 0.1],
        rowHeights=[None, 26, 14, None, 26],
    )
    sig.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 1), (0, 1), 0.8, colors.black),
                ("LINEBELOW", (2, 1), (2, 1), 0.8, colors.black),
                ("LINEBELOW", (0, 4), (0, 4), 0.8, colors.black),
                ("LINEBELOW", (2, 4), (2, 4), 0.8, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
            ]
        )
    )
    story += [Spacer(1, 14), KeepTogether([p("Signatures", h1), sig])]

    doc = SimpleDocTemplate(
        str(path),
        pagesize=letter,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin + header_h - 0.2 * inch,
        bottomMargin=margin + footer_h,
        title=f"{TITLE} {data.mrn} #{plan.id}",
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


def _diagnoses_and_asam(
    data: PlanPrint, p: Any, bold: Any, body: Any, h1: Any, usable: float, band: Any, line: Any
) -> list[Any]:
    """The client's diagnoses and the ASAM dimensions that justify the level of care."""
    from reportlab.platypus import Spacer, Table, TableStyle

    style = TableStyle(
        [
            ("BACKGROUND", (0, 0), (-1, 0), band),
            ("LINEBELOW", (0, 0), (-1, 0), 0.8, line),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 2.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ]
    )
    out: list[Any] = [p("Diagnoses (ICD-10-CM)", h1)]
    if data.diagnoses:
        rows = [[p("Code", bold), p("Description", bold), p("", bold)]] + [
            [p(code), p(desc), p("Primary" if primary else "")]
            for code, desc, primary in data.diagnoses
        ]
        table = Table(rows, colWidths=[usable * f for f in (0.14, 0.7, 0.16)], repeatRows=1)
        table.setStyle(style)
        out.append(table)
    else:
        out.append(p("No diagnosis recorded."))
    a = data.asam
    if a is not None:
        from iopdesk.reports.data.asam import DIMENSIONS, OCCASIONS

        out.append(
            p(
                f"ASAM dimensions ({OCCASIONS.get(a.occasion, a.occasion)}, "
                f"{_d(a.assessed_on)}, {a.clinician})",
                h1,
            )
        )
        rows = [[p("Dimension", bold), p("Risk (0-4)", bold), p("Note", bold)]] + [
            [p(f"{n}. {name}"), p(str(a.ratings[n - 1])), p(a.notes[n - 1])]
            for n, name in enumerate(DIMENSIONS, start=1)
        ]
        table = Table(rows, colWidths=[usable * f for f in (0.36, 0.12, 0.52)], repeatRows=1)
        table.setStyle(style)
        out.append(table)
        level = f"Recommended level of care: {a.recommended_label}"
        if a.placed_level and a.placed_level != a.recommended_level:
            level += f". Placed in {a.placed_label}: {a.variance_reason}"
        out.append(p(level, body))
    out.append(Spacer(1, 6))
    return out
