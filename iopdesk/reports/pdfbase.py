"""The one PDF base: fonts, letterhead and page footer shared by every PDF the app writes.

- Fonts: DejaVu Sans (regular and bold) from resources/fonts, embedded so any client name
  prints ('Nguyễn Thị Ánh'); the PDF base-14 fonts cover Latin-1 only.
- Letterhead: the clinic's logo (when it has one), name and contact line on the left, the
  document's title and a subtitle (week, date of service, plan status, or a red DRAFT line) on
  the right, a rule under them and, on clinical documents, the client's identity line below
  the rule. Drawn on every page, or on the first page only with a one-line running head on the
  later pages. Three sizes: STANDARD, COMPACT (treatment plan) and HANDOUT (the aftercare
  packet the client takes home).
- Page footer: "Page X of Y" on the right, a left line (confidentiality and when the document
  was printed, or what the document is), on a handout the client's name above it and, on
  documents that carry Part 2 (SUD) records, the 42 CFR Part 2 notice (42 CFR 2.32) centred
  above them on every page.
- Language: the base prints the strings it is given. A translated document (the Spanish
  packet) passes its translated title, subtitle, footer line, page label and notice.

reportlab is imported inside the functions: nothing here loads at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
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
ALERT = "#B00020"  # a DRAFT subtitle

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
class LetterheadStyle:
    """Sizes (points) and colours of a letterhead; distances are down from its top line."""

    name_size: float  # clinic name (its baseline is name_size below the top)
    title_size: float  # the document's title, on the name's baseline
    contact_size: float
    subtitle_size: float
    second: float  # baseline of the contact line and the subtitle
    rule: float  # the rule under the letterhead
    ident_size: float
    ident_y: float  # baseline of the client's identity line
    rise: float = 0.0  # how far the top sits above the top margin
    rule_width: float = 0.8
    rule_colour: str = RULE
    ink: str = "#000000"  # clinic name and contact line
    title_colour: str = "#000000"


STANDARD = LetterheadStyle(14, 13, 9, 10, 28, 38, 10, 53)
COMPACT = LetterheadStyle(13, 13, 8.5, 8.5, 26, 34, 9.5, 48)  # more on each page
HANDOUT = LetterheadStyle(  # a larger head with the clinic's colours, for the client's copy
    15, 15, 9, 9, 29, 0.68 * 72, 10, 63, rise=0.25 * 72, rule_width=1.2,
    rule_colour="#2D5B8A", ink="#1F2A37", title_colour="#2D5B8A",
)  # fmt: skip


@dataclass(frozen=True)
class Letterhead:
    """The top of every page of a clinic document. Use `on_first_page`/`on_later_pages` as
    SimpleDocTemplate.build's page callbacks (or `draw` from your own)."""

    clinic_name: str
    contact: str = ""
    title: str = ""
    subtitle: str = ""
    ident: str = ""  # the client's identity line under the rule ("" for none)
    style: LetterheadStyle = STANDARD
    logo_png: bytes | None = None  # the clinic's logo, left of its name
    subtitle_alert: bool = False  # the subtitle is a warning (DRAFT): bold, in red
    # later pages carry a one-line running head (clinic and title, this text on the right)
    # instead of the whole letterhead; "" draws the whole letterhead on every page
    running: str = ""

    @cached_property
    def _logo(self) -> Any:
        if not self.logo_png:
            return None
        import io

        from reportlab.lib.utils import ImageReader

        try:
            return ImageReader(io.BytesIO(self.logo_png))
        except Exception:  # a broken logo must not stop the document
            return None

    def on_first_page(self, page_w: float, page_h: float, margin: float) -> Any:
        return lambda canvas, _doc: self.draw(canvas, page_w, page_h, margin)

    def on_later_pages(self, page_w: float, page_h: float, margin: float) -> Any:
        if self.running:
            return lambda canvas, _doc: self.draw_running(canvas, page_w, page_h, margin)
        return self.on_first_page(page_w, page_h, margin)

    def draw(self, canvas: Any, page_w: float, page_h: float, margin: float) -> None:
        from reportlab.lib import colors
        from reportlab.pdfbase.pdfmetrics import stringWidth

        st = self.style
        canvas.saveState()
        top = page_h - margin + st.rise
        x = margin
        if self._logo is not None:
            iw, ih = self._logo.getSize()
            h = 0.6 * 72
            w = min(1.6 * 72, h * iw / max(ih, 1))
            canvas.drawImage(
                self._logo, margin, top - h, w, h, mask="auto", preserveAspectRatio=True
            )
            x = margin + w + 0.15 * 72
        # name left, title right: both shrink (0.5 pt at a time) until they fit side by side
        name_size, title_size = st.name_size, st.title_size
        while name_size > 7 and (
            stringWidth(self.clinic_name, FONT_BOLD, name_size)
            + stringWidth(self.title, FONT_BOLD, title_size)
            + 18
            > page_w - margin - x
        ):
            name_size, title_size = name_size - 0.5, title_size - 0.5
        ink = colors.HexColor(st.ink)
        canvas.setFillColor(ink)
        canvas.setFont(FONT_BOLD, name_size)
        canvas.drawString(x, top - st.name_size, self.clinic_name)
        # contact left, subtitle right on the second line; when they would run into each
        # other the subtitle goes one line lower if the rule leaves room, else the contact
        # line shrinks (a logo and a long address: "(217) 555-0100" stays readable)
        sub_font = FONT_BOLD if self.subtitle_alert else FONT
        sub_y, contact_size = st.second, st.contact_size
        if self.contact and self.subtitle:
            room = page_w - margin - x - stringWidth(self.subtitle, sub_font, st.subtitle_size)
            if stringWidth(self.contact, FONT, contact_size) + 12 > room:
                if st.rule - st.second >= st.subtitle_size + 8:
                    sub_y = st.second + st.subtitle_size + 2
                else:
                    while contact_size > 6 and (
                        stringWidth(self.contact, FONT, contact_size) + 12 > room
                    ):
                        contact_size -= 0.5
        canvas.setFont(FONT, contact_size)
        if self.contact:
            canvas.drawString(x, top - st.second, self.contact)
        canvas.setFont(FONT_BOLD, title_size)
        canvas.setFillColor(colors.HexColor(st.title_colour))
        canvas.drawRightString(page_w - margin, top - st.name_size, self.title)
        if self.subtitle:
            canvas.setFont(sub_font, st.subtitle_size)
            canvas.setFillColor(colors.HexColor(ALERT) if self.subtitle_alert else ink)
            canvas.drawRightString(page_w - margin, top - sub_y, self.subtitle)
        canvas.setStrokeColor(colors.HexColor(st.rule_colour))
        canvas.setLineWidth(st.rule_width)
        canvas.line(margin, top - st.rule, page_w - margin, top - st.rule)
        if self.ident:
            canvas.setFillColor(ink)
            canvas.setFont(FONT_BOLD, st.ident_size)
            canvas.drawString(margin, top - st.ident_y, self.ident)
        canvas.restoreState()

    def draw_running(self, canvas: Any, page_w: float, page_h: float, margin: float) -> None:
        """The running head of the later pages: "clinic  ·  title" on the left, `running` on
        the right, an alert subtitle (DRAFT) under it, and a thin rule."""
        from reportlab.lib import colors

        canvas.saveState()
        top = page_h - margin + self.style.rise
        canvas.setFillColor(colors.HexColor(self.style.ink))
        canvas.setFont(FONT, 9)
        canvas.drawString(margin, top - 12, f"{self.clinic_name}  ·  {self.title}")
        canvas.setFont(FONT_BOLD, 9)
        canvas.drawRightString(page_w - margin, top - 12, self.running)
        if self.subtitle and self.subtitle_alert:
            canvas.setFont(FONT_BOLD, 8)
            canvas.setFillColor(colors.HexColor(ALERT))
            canvas.drawRightString(page_w - margin, top - 24, self.subtitle)
        canvas.setStrokeColor(colors.HexColor(FOOTER_RULE))
        canvas.setLineWidth(0.6)
        canvas.line(margin, top - 0.4 * 72, page_w - margin, top - 0.4 * 72)
        canvas.restoreState()


@dataclass(frozen=True)
class PageFooter:
    """The bottom of every page: `left` text, "Page X of Y", the client's line (`ident`, on a
    handout) above them, and the Part 2 notice centred above all of them when the document
    carries Part 2 records. Draw it from a `numbered_canvas` (it needs the total)."""

    left: str
    part2: bool
    baseline: float  # y of the left text (the lowest line)
    rule_y: float | None = None  # a thin rule above the footer
    notice: str = PART2_NOTICE  # translated on a translated document
    page_label: str = PAGE_OF  # "{page}" and "{total}" filled in (translated packets)
    ident: str = ""  # a bold line above `left` that carries the page number ("" for none)

    @property
    def top_baseline(self) -> float:
        """y of the footer's highest line (a rule above the footer goes ~10 pt higher)."""
        return self.baseline + (11 if self.ident else 0) + (13 if self.part2 else 0)

    def draw(self, canvas: Any, page: int, total: int, page_w: float, margin: float) -> None:
        from reportlab.lib import colors

        canvas.saveState()
        if self.rule_y is not None:
            canvas.setStrokeColor(colors.HexColor(FOOTER_RULE))
            canvas.setLineWidth(0.5)
            canvas.line(margin, self.rule_y, page_w - margin, self.rule_y)
        y = self.baseline
        label = self.page_label.format(page=page, total=total)
        canvas.setFont(FONT, 8)
        canvas.setFillColor(colors.HexColor(FOOTER_INK))
        canvas.drawString(margin, y, self.left.strip())
        if self.ident:
            y += 11
            canvas.drawRightString(page_w - margin, y, label)
            canvas.setFont(FONT_BOLD, 8.5)
            canvas.drawString(margin, y, self.ident)
        else:
            canvas.drawRightString(page_w - margin, y, label)
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
