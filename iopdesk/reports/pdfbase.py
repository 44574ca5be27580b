"""The one PDF base: fonts, letterhead and page footer shared by every PDF the app writes.

- Fonts: DejaVu Sans (regular and bold) from resources/fonts, embedded so any client name
  prints ('Nguyễn Thị Ánh'); the PDF base-14 fonts cover Latin-1 only.
- Letterhead: the clinic's name and contact line on the left, the document's title and a
  subtitle (week, date of service, plan status) on the right, a rule under them and, on
  clinical documents, the client's identity line below the rule. Drawn on every page.
- Page footer: "Page X of Y" on the right, a left line (confidentiality and when the document
  was printed, or what the document is) and, on documents that carry Part 2 (SUD) records, the
  42 CFR Part 2 notice (42 CFR 2.32) centred above them on every page.

reportlab is imported inside the functions: nothing here loads at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from iopdesk.paths import resource_path
from iopdesk.reports import PART2_NOTICE

FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
CONFIDENTIAL = "Confidential: contains protected health information."
PAGE_OF = "Page {page} of {total}"

# Colours of the letterhead and footer (the same on every document).
RULE = "#5B6B82"
FOOTER_RULE = "#B8C2D0"
FOOTER_INK = "#333333"

_fonts_registered = False


def register_fonts() -> None:
    """Register the bundled DejaVu Sans pair once (FONT, FONT_BOLD, and bold mapping so
    <b> in a Paragraph picks the bold face)."""
    global _fonts_registered
    if _fonts_registered:
        return
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont(FONT, str(resource_path("fonts", "DejaVuSans.ttf"))))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(resource_path("fonts", "DejaVuSans-Bold.ttf"))))
    addMapping(FONT, 0, 0, FONT)
    addMapping(FONT, 1, 0, FONT_BOLD)
    addMapping(FONT, 0, 1, FONT)
    addMapping(FONT, 1, 1, FONT_BOLD)
    _fonts_registered = True


def contact_line(*parts: str) -> str:
    """'12 Main St  ·  (505) 555-0100': the non-empty parts of the clinic's contact."""
    return "  ·  ".join(p for p in parts if p)


def footer_height(part2: bool) -> float:
    """Room the footer needs under the text frame (more with the Part 2 notice)."""
    from reportlab.lib.units import inch

    return float(0.6 * inch if part2 else 0.45 * inch)


def numbered_canvas(footer: Callable[[Any, int, int], None]) -> type:
    """A reportlab canvas class that holds each page until the document is complete, then
    draws `footer(canvas, page, total)` on every page, so footers can say "Page X of Y"."""
    from reportlab.pdfgen.canvas import Canvas

    class NumberedCanvas(Canvas):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                footer(self, number, total)
                super().showPage()
            super().save()

    return NumberedCanvas


@dataclass(frozen=True)
class Letterhead:
    """The top of every page of a clinic document."""

    clinic_name: str
    contact: str = ""
    title: str = ""
    subtitle: str = ""
    ident: str = ""  # the client's identity line under the rule ("" for none)
    compact: bool = False  # the smaller variant (treatment plan: more on each page)

    def draw(self, canvas: Any, page_w: float, page_h: float, margin: float) -> None:
        from reportlab.lib import colors

        # name and title size, second line's size and drop, rule, identity size and drop
        big, small, second, rule, ident_size, ident_y = (
            (13, 8.5, 26, 34, 9.5, 48) if self.compact else (14, 9, 28, 38, 10, 53)
        )
        canvas.saveState()
        top = page_h - margin
        canvas.setFont(FONT_BOLD, big)
        canvas.drawString(margin, top - big, self.clinic_name)
        canvas.setFont(FONT, small)
        if self.contact:
            canvas.drawString(margin, top - second, self.contact)
        canvas.setFont(FONT_BOLD, 13)
        canvas.drawRightString(page_w - margin, top - big, self.title)
        canvas.setFont(FONT, 8.5 if self.compact else 10)
        if self.subtitle:
            canvas.drawRightString(page_w - margin, top - second, self.subtitle)
        canvas.setStrokeColor(colors.HexColor(RULE))
        canvas.setLineWidth(0.8)
        canvas.line(margin, top - rule, page_w - margin, top - rule)
        if self.ident:
            canvas.setFont(FONT_BOLD, ident_size)
            canvas.drawString(margin, top - ident_y, self.ident)
        canvas.restoreState()


@dataclass(frozen=True)
class PageFooter:
    """The bottom of every page: `left` text, "Page X of Y", and the Part 2 notice when the
    document carries Part 2 records. Draw it from a `numbered_canvas` (it needs the total)."""

    left: str
    part2: bool
    baseline: float  # y of the left text and page number
    rule_y: float | None = None  # a thin rule above the footer
    notice: str = PART2_NOTICE
    page_label: str = PAGE_OF  # "{page}" and "{total}" filled in (translated packets)

    def draw(self, canvas: Any, page: int, total: int, page_w: float, margin: float) -> None:
        from reportlab.lib import colors

        canvas.saveState()
        if self.rule_y is not None:
            canvas.setStrokeColor(colors.HexColor(FOOTER_RULE))
            canvas.setLineWidth(0.5)
            canvas.line(margin, self.rule_y, page_w - margin, self.rule_y)
        y = self.baseline
        canvas.setFont(FONT, 8)
        canvas.setFillColor(colors.HexColor(FOOTER_INK))
        canvas.drawString(margin, y, self.left.strip())
        canvas.drawRightString(page_w - margin, y, self.page_label.format(page=page, total=total))
        if self.part2:
            canvas.setFont(FONT_BOLD, 8.5)
            canvas.setFillColor(colors.black)
            canvas.drawCentredString(page_w / 2, y + 13, self.notice)
        canvas.restoreState()

    def canvas_class(self, page_w: float, margin: float) -> type:
        """The canvasmaker for SimpleDocTemplate.build that draws this footer."""
        return numbered_canvas(
            lambda canvas, page, total: self.draw(canvas, page, total, page_w, margin)
        )
