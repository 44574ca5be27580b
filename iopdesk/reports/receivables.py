"""Accounts-receivable aging (by payer, 0-30 / 31-60 / 61-90 / 90+ days) and the denials work
queue, as an Excel workbook (XlsxWriter) or a PDF (reportlab). Plain data in, one file out."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from iopdesk.reports import PART2_NOTICE
from iopdesk.reports.pdfbase import CONFIDENTIAL, FONT, FONT_BOLD, PageFooter, register_fonts

if TYPE_CHECKING:
    from iopdesk.reports.data.remittance import Aging, Denial

AGING_SHEET = "AR Aging"
CLAIMS_SHEET = "Open Claims"
DENIALS_SHEET = "Denials"
AGING_HEADERS = ("Payer", "0-30", "31-60", "61-90", "90+", "Total")
CLAIM_HEADERS = (
    "Claim",
    "Payer",
    "MRN",
    "Client",
    "From",
    "To",
    "Sent",
    "Age (days)",
    "Bucket",
    "Charge",
    "Paid",
    "Balance",
    "Status",
)
DENIAL_HEADERS = (
    "Claim",
    "Payer",
    "MRN",
    "Client",
    "From",
    "To",
    "Amount",
    "Age (days)",
    "Reason",
    "Remarks",
    "What to do",
)


def write_xlsx(aging: Aging, denials: list[Denial], path: Path | str, part2: bool) -> None:
    import xlsxwriter

    from iopdesk.reports.data.remittance import BUCKETS

    # Text is always text: a payer or client name starting with "=" must never become a live
    # formula (the same options as reports.xlsx, the writer of every other export).
    wb = xlsxwriter.Workbook(
        str(path),
        {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
    )
    try:
        bold = wb.add_format({"bold": True, "bg_color": "#DCE3EC", "border": 1})
        money = wb.add_format({"num_format": "#,##0.00"})
        money_b = wb.add_format({"num_format": "#,##0.00", "bold": True})
        day = wb.add_format({"num_format": "yyyy-mm-dd"})
        wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        footer = PART2_NOTICE if part2 else CONFIDENTIAL

        ws = wb.add_worksheet(AGING_SHEET)
        ws.write(0, 0, f"Accounts receivable as of {aging.as_of.isoformat()}", bold)
        ws.write_row(2, 0, AGING_HEADERS, bold)
        r = 3
        for row in aging.rows:
            ws.write(r, 0, row.payer)
            for i, b in enumerate(BUCKETS, start=1):
                ws.write_number(r, i, float(row.buckets[b]), money)
            ws.write_number(r, 5, float(row.total), money)
            r += 1
        ws.write(r, 0, "Total", bold)
        totals = aging.totals
        for i, b in enumerate(BUCKETS, start=1):
            ws.write_number(r, i, float(totals[b]), money_b)
        ws.write_number(r, 5, float(sum(totals.values(), Decimal("0"))), money_b)
        if part2:
            ws.write(r + 2, 0, PART2_NOTICE)
        ws.set_column(0, 0, 16)
        ws.set_column(1, 5, 13)
        ws.set_footer(f"&L{footer}")

        wc = wb.add_worksheet(CLAIMS_SHEET)
        wc.write_row(0, 0, CLAIM_HEADERS, bold)
        for n, (cb, age, bucket) in enumerate(aging.claims, start=1):
            wc.write_row(n, 0, (cb.claim_number, cb.payer, cb.mrn, cb.client))
            wc.write_datetime(n, 4, _dt(cb.date_from), day)
            wc.write_datetime(n, 5, _dt(cb.date_to), day)
            wc.write_datetime(n, 6, _dt(cb.sent_on), day)
            wc.write_number(n, 7, age)
            wc.write(n, 8, bucket)
            wc.write_number(n, 9, float(cb.charge), money)
            wc.write_number(n, 10, float(cb.paid), money)
            wc.write_number(n, 11, float(cb.balance), money)
            wc.write(n, 12, cb.status)
        wc.freeze_panes(1, 0)
        wc.autofilter(0, 0, max(1, len(aging.claims)), len(CLAIM_HEADERS) - 1)
        wc.set_column(0, 3, 15)
        wc.set_column(4, 12, 12)
        wc.set_footer(f"&L{footer}")

        wd = wb.add_worksheet(DENIALS_SHEET)
        wd.write_row(0, 0, DENIAL_HEADERS, bold)
        for n, d in enumerate(denials, start=1):
            wd.write_row(n, 0, (d.claim_number, d.payer, d.mrn, d.client))
            wd.write_datetime(n, 4, _dt(d.date_from), day)
            wd.write_datetime(n, 5, _dt(d.date_to), day)
            wd.write_number(n, 6, float(d.amount), money)
            wd.write_number(n, 7, d.age_days)
            wd.write(n, 8, d.reasons, wrap)
            wd.write(n, 9, d.remarks, wrap)
            wd.write(n, 10, d.action, wrap)
        wd.freeze_panes(1, 0)
        wd.set_column(0, 7, 12)
        wd.set_column(8, 10, 45)
        wd.set_footer(f"&L{footer}")
    finally:
        wb.close()


def _dt(d: Any) -> Any:
    from datetime import datetime

    return datetime(d.year, d.month, d.day)


def write_pdf(
    aging: Aging, denials: list[Denial], path: Path | str, clinic: str, part2: bool
) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import landscape, letter
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import inch
    from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

    from iopdesk.reports.data.remittance import BUCKETS

    register_fonts()
    body = ParagraphStyle("b", fontName=FONT, fontSize=8.5, leading=10.5)
    head = ParagraphStyle("h", parent=body, fontName=FONT_BOLD)
    title = ParagraphStyle("t", parent=body, fontName=FONT_BOLD, fontSize=14, leading=18)

    def p(text: Any, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(str(text)), style)

    def money(v: Decimal) -> str:
        return f"{v:,.2f}"

    style = TableStyle(
        [
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DCE3EC")),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#B8C2D0")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    story: list[Any] = [
        p(f"{clinic}: accounts receivable aging", title),
        p(f"As of {aging.as_of.isoformat()}; age counted from the day each claim was sent."),
        Spacer(1, 8),
    ]
    rows = [[p(h, head) for h in AGING_HEADERS]]
    for row in aging.rows:
        rows.append(
            [p(row.payer)] + [p(money(row.buckets[b])) for b in BUCKETS] + [p(money(row.total))]
        )
    totals = aging.totals
    rows.append(
        [p("Total", head)]
        + [p(money(totals[b]), head) for b in BUCKETS]
        + [p(money(sum(totals.values(), Decimal("0"))), head)]
    )
    t = LongTable(rows, repeatRows=1, colWidths=[1.6 * inch] + [1.2 * inch] * 5)
    t.setStyle(style)
    story += [t, Spacer(1, 14), p("Denials work queue", title), Spacer(1, 4)]
    drows = [
        [
            p(h, head)
            for h in ("Claim", "Payer", "MRN", "Dates", "Amount", "Age", "Reason", "What to do")
        ]
    ]
    for d in denials:
        drows.append(
            [
                p(d.claim_number),
                p(d.payer),
                p(d.mrn),
                p(f"{d.date_from.isoformat()} to {d.date_to.isoformat()}"),
                p(money(d.amount)),
                p(f"{d.age_days} d"),
                p(d.reasons + (f" ({d.remarks})" if d.remarks else "")),
                p(d.action),
            ]
        )
    if len(drows) == 1:
        drows.append([p("No open denials.")] + [p("")] * 7)
    dt = LongTable(
        drows,
        repeatRows=1,
        colWidths=[x * inch for x in (1.0, 0.7, 0.8, 1.2, 0.8, 0.5, 2.5, 2.5)],
    )
    dt.setStyle(style)
    story.append(dt)

    doc = SimpleDocTemplate(
        str(path),
        pagesize=landscape(letter),
        leftMargin=0.5 * inch,
        rightMargin=0.5 * inch,
        topMargin=0.5 * inch,
        bottomMargin=0.8 * inch,
        title="Accounts receivable aging",
    )
    footer = PageFooter(CONFIDENTIAL, part2, baseline=0.35 * inch)
    doc.build(story, canvasmaker=footer.canvas_class(landscape(letter)[0], 0.5 * inch))
