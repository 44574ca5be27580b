"""The aftercare packet the client takes home (issue 6 item 3), as a Letter-size PDF.

Takes a `Packet` (plain data built by iopdesk.services.aftercare) and writes one file. Layout,
drawn by the one PDF base (reports.pdfbase) with the packet's translated strings: the HANDOUT
letterhead on page 1 (logo, clinic name, address, phone), a running head on later pages, and
on every page the client's name and MRN, "Page X of Y", and the 42 CFR Part 2 notice when the
record is a Part 2 record. Text is set in DejaVu Sans (embedded) so any name prints as typed.
Long text is laid out as paragraphs in the story (never inside one table cell) so it wraps and
flows across pages; list sections are tables whose rows may break between pages, and fall back
to paragraph blocks when a cell is too long to fit a page. Empty sections say "None recorded".
A Spanish packet is all Spanish: labels and fixed text from resources/aftercare_es.json, the
values of pick-list fields (appointment types, medication frequencies, relationships, days,
levels of care) from its `_terms` when a value is exactly one of them, the shipped crisis
resources from the `es` of resources/crisis_resources.json, and dates, weekdays and times from
Babel (CLDR) in each language. Anything else the clinician typed prints as typed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from iopdesk.paths import resource_path
from iopdesk.reports import PART2_NOTICE, release_notice_flowables
from iopdesk.reports.pdfbase import PAGE_OF
from iopdesk.timefmt import stamp

TITLE = "Aftercare Plan"
CONFIDENTIAL = (
    "Confidential: this packet contains your health information. Keep it in a safe place."
)
LONG_CELL = 700  # characters: a table cell longer than this is laid out as paragraphs

LANGUAGES = ("en", "es")
ENGLISH_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME_RE = re.compile(
    r"^\s*(\d{1,2})(?::(\d{2}))?\s*([ap])\.?\s*m?\.?\s*$|^\s*(\d{1,2}):(\d{2})\s*$",
    re.IGNORECASE,
)
DISCHARGE_TYPES = {
    "completed_program": "Completed program",
    "step_down_transfer": "Step-down / transfer",
    "left_against_advice": "Left against advice",
    "administrative": "Administrative",
    "incarcerated": "Incarcerated",
    "death": "Death",
    "other": "Other",
}
# the client's signed safety plan (Stanley-Brown), in the client's words
SAFETY_STEPS = (
    "Warning signs that a crisis may be developing",
    "Things I can do on my own to take my mind off my problems",
    "People and places that help me take my mind off things",
    "People I can ask for help",
    "Professionals and agencies I can call in a crisis",
    "Making my surroundings safe",
    "My reasons for living",
)


@dataclass(frozen=True)
class Appointment:
    provider: str
    kind: str = ""
    day: date | None = None
    at: time | None = None
    address: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Medication:
    name: str
    dose: str = ""
    schedule: str = ""
    prescriber: str = ""


@dataclass(frozen=True)
class SupportGroup:
    name: str
    day: str = ""
    meeting_time: str = ""
    place: str = ""


@dataclass(frozen=True)
class Contact:
    name: str
    relationship: str = ""
    phone: str = ""


@dataclass(frozen=True)
class CrisisResource:
    name: str
    contact: str = ""
    description: str = ""


@dataclass(frozen=True)
class Packet:
    clinic_name: str
    client_name: str
    dob: date
    mrn: str
    clinic_address: str = ""
    clinic_phone: str = ""
    logo_png: bytes | None = None
    preferred_name: str = ""
    discharge_date: date | None = None
    discharge_type: str = ""
    step_down_level: str = ""
    receiving_provider: str = ""
    summary: str = ""
    progress: tuple[tuple[str, str], ...] = ()  # (goal, progress and gains)
    appointments: tuple[Appointment, ...] = ()
    medications: tuple[Medication, ...] = ()
    groups: tuple[SupportGroup, ...] = ()
    triggers: str = ""
    warning_signs: str = ""
    coping_strategies: str = ""
    contacts: tuple[Contact, ...] = ()
    crisis: tuple[CrisisResource, ...] = ()
    safety_plan: tuple[tuple[str, str], ...] = ()  # (step, text) of the signed safety plan
    client_goals: str = ""
    strengths: str = ""
    status: str = "draft"
    clinician: str = ""
    finalized_at: datetime | None = None
    part2: bool = False
    language: str = "en"  # en | es
    printed_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # a disclosure: who received it, what it holds, the consent's scope, the 2.32 notice
    release_notice: tuple[str, ...] = ()
    medications_left_out: bool = False  # the consent did not cover them (said so, not hidden)


@cache
def _spanish_file() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        resource_path("aftercare_es.json").read_text(encoding="utf-8")
    )
    return data


@cache
def _spanish() -> dict[str, str]:
    return {k: v for k, v in _spanish_file().items() if not k.startswith("_")}


@cache
def _spanish_terms(group: str) -> dict[str, str]:
    """One `_terms` group, keyed by the English value in lower case."""
    terms = _spanish_file().get("_terms", {}).get(group, {})
    return {k.casefold(): v for k, v in terms.items()}


@cache
def _crisis_spanish() -> dict[tuple[str, str, str], tuple[str, str, str]]:
    """The shipped crisis resources (name, contact, description) -> their Spanish text."""
    data = json.loads(resource_path("crisis_resources.json").read_text(encoding="utf-8"))
    out = {}
    for r in data["resources"]:
        es = r.get("es")
        if es:
            key = (r["name"], r.get("contact", ""), r.get("description", ""))
            out[key] = (es["name"], es.get("contact", ""), es.get("description", ""))
    return out


def term(value: str, language: str, group: str) -> str:
    """A pick-list value in the packet's language: translated when it is exactly one of the
    group's English terms, else as typed."""
    if language != "es" or not value.strip():
        return value
    return _spanish_terms(group).get(value.strip().casefold(), value)


def _weekday_index(word: str) -> int | None:
    w = word.strip(".").casefold()
    if w.endswith("s") and w[:-1] in ENGLISH_WEEKDAYS:  # "Wednesdays"
        w = w[:-1]
    for i, name in enumerate(ENGLISH_WEEKDAYS):
        if w == name or (len(w) >= 3 and name.startswith(w) and w in (name[:3], name[:4])):
            return i
    return None


def day_text(value: str, language: str) -> str:
    """A meeting day ("Wednesday", "Monday to Friday", "Tue & Thu", "Weekends") in the
    packet's language, weekday names from Babel; anything else as typed."""
    if language != "es" or not value.strip():
        return value
    whole = _spanish_terms("days").get(value.strip().casefold())
    if whole is not None:
        return whole
    tokens = re.findall(r"[A-Za-z]+\.?|&|,|-", value)
    if "".join(tokens).replace(" ", "") != re.sub(r"\s+", "", value):
        return value  # something other than days and connectors: typed text
    words = []
    for token in tokens:
        index = _weekday_index(token)
        if index is not None:
            words.append(weekday_name(index, language))
            continue
        connector = _spanish_terms("days").get(token.casefold())
        if connector is None:
            return value
        words.append(connector)
    return " ".join(words).replace(" ,", ",")


def weekday_name(index: int, language: str) -> str:
    """Monday = 0 ... Sunday = 6, from Babel (CLDR): "Wednesday", "miércoles"."""
    from babel.dates import get_day_names

    return str(get_day_names("wide", locale=language)[index])


def _time(at: time, language: str) -> str:
    from babel.dates import format_time

    # CLDR puts a narrow no-break space before AM/PM; print an ordinary one
    return format_time(at, "short", locale=language).replace("\u202f", " ")


def time_text(value: str, language: str) -> str:
    """A typed meeting time ("6:00 PM", "18:00", "7 am") in the packet's language."""
    if language != "es" or not value.strip():
        return value
    m = _TIME_RE.match(value)
    if m is None:
        return value
    if m.group(4) is not None:
        hour, minute = int(m.group(4)), int(m.group(5))
    else:
        hour, minute = int(m.group(1)) % 12, int(m.group(2) or 0)
        if m.group(3).lower() == "p":
            hour += 12
    if not (0 <= hour < 24 and 0 <= minute < 60):
        return value
    return _time(time(hour, minute), language)


def crisis_text(c: CrisisResource, language: str) -> tuple[str, str, str]:
    """A shipped crisis resource in the packet's language; one the clinic typed as typed."""
    row = (c.name, c.contact, c.description)
    if language != "es":
        return row
    return _crisis_spanish().get(row, row)


def translator(language: str) -> Any:
    table = _spanish() if language == "es" else {}

    def t(text: str) -> str:
        return table.get(text, text)

    return t


def _printed_stamp(at: datetime, language: str) -> str:
    """When the packet was printed, clinic-local with the zone: in English the clinic's one
    stamp ("12/03/2026 6:57 PM CST"); in Spanish a Babel date and time ("03/12/2026 18:57")."""
    if language != "es":
        return stamp(at, None)
    from iopdesk.timefmt import local

    t = local(at, None)
    return f"{t:%d/%m/%Y} {_time(t.time(), language)} {t.tzname() or ''}".strip()


def long_date(d: date | None, language: str) -> str:
    """ "April 5, 1990" / "5 de abril de 1990" (Babel, CLDR long date)."""
    if d is None:
        return ""
    from babel.dates import format_date

    return format_date(d, "long", locale=language if language in LANGUAGES else "en")


def _when(a: Appointment, language: str) -> str:
    language = language if language in LANGUAGES else "en"
    parts = []
    if a.day is not None:
        parts.append(f"{weekday_name(a.day.weekday(), language)}, {long_date(a.day, language)}")
    if a.at is not None:
        parts.append(_time(a.at, language))
    return " ".join(parts)


def write_pdf(packet: Packet, path: Path | str) -> int:
    """Write the packet; returns the number of pages."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import inch
    from reportlab.platypus import (
        CondPageBreak,
        Flowable,
        KeepTogether,
        LongTable,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        TableStyle,
    )

    from iopdesk.reports.pdfbase import (
        FONT,
        FONT_BOLD,
        FOOTER_RULE,
        HANDOUT,
        Letterhead,
        PageFooter,
        contact_line,
        register_fonts,
    )

    register_fonts()
    lang = packet.language if packet.language in ("en", "es") else "en"
    t = translator(lang)
    page_w, page_h = letter
    margin = 0.75 * inch
    usable = page_w - 2 * margin - 12  # the frame's 6 pt padding on each side
    ink = colors.HexColor(HANDOUT.ink)
    accent = colors.HexColor(HANDOUT.title_colour)
    rule = colors.HexColor(FOOTER_RULE)
    shade = colors.HexColor("#E8EEF5")

    who = packet.client_name + (f" ({packet.preferred_name})" if packet.preferred_name else "")
    draft = packet.status != "finalized"
    # the letterhead on page 1, a running head with the client's name on the later pages
    letterhead = Letterhead(
        packet.clinic_name,
        contact_line(packet.clinic_address, packet.clinic_phone),
        t(TITLE),
        t("DRAFT - not yet signed by the clinician") if draft else "",
        style=HANDOUT,
        logo_png=packet.logo_png,
        subtitle_alert=True,
        running=who,
    )
    printed = (
        f"{t('Printed')} {_printed_stamp(packet.printed_at, packet.language)}"
        if packet.printed_at
        else ""
    )
    # every line in the packet's language: a Spanish packet is all Spanish
    footer = PageFooter(
        f"{t(CONFIDENTIAL)}  {printed}",
        packet.part2,
        baseline=0.4 * inch,  # clear of a printer's unprintable edge
        notice=t(PART2_NOTICE),
        page_label=t(PAGE_OF),
        ident=f"{who}  ·  {t('MRN')} {packet.mrn}",
    )
    footer_top = footer.top_baseline + 10  # the rule above the footer
    footer = replace(footer, rule_y=footer_top)

    body = ParagraphStyle(
        "body", fontName=FONT, fontSize=10, leading=13.5, textColor=ink, splitLongWords=1
    )
    small = ParagraphStyle("small", parent=body, fontSize=9, leading=12)
    cell = ParagraphStyle("cell", parent=body, fontSize=9, leading=11.5)
    cell_head = ParagraphStyle("cellh", parent=cell, fontName=FONT_BOLD)
    label = ParagraphStyle("label", parent=body, fontName=FONT_BOLD, fontSize=10)
    h1 = ParagraphStyle(
        "h1",
        parent=body,
        fontName=FONT_BOLD,
        fontSize=13,
        leading=16,
        textColor=accent,
        spaceBefore=12,
        spaceAfter=5,
    )
    h2 = ParagraphStyle(
        "h2", parent=body, fontName=FONT_BOLD, fontSize=11, leading=14, spaceBefore=6, spaceAfter=3
    )
    muted = ParagraphStyle("muted", parent=body, textColor=colors.HexColor("#5F6D7C"))

    def para(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text).replace("\n", "<br/>"), style)

    def paras(text: str, style: ParagraphStyle = body) -> list[Flowable]:
        """Free text: one Paragraph per line so long text flows across pages."""
        out: list[Flowable] = []
        for line in text.strip().splitlines():
            if line.strip():
                out.append(para(line.strip(), style))
            else:
                out.append(Spacer(1, 5))
        return out

    none = t("None recorded")

    def heading(text: str) -> list[Flowable]:
        # keep a heading with the start of its section
        return [CondPageBreak(1.1 * inch), para(text, h1)]

    def text_section(title: str, text: str, style: ParagraphStyle = h1) -> list[Flowable]:
        head: list[Flowable] = (
            heading(title) if style is h1 else [CondPageBreak(0.8 * inch), para(title, h2)]
        )
        if not text.strip():
            return [*head, para(none, muted)]
        return [*head, *paras(text)]

    def table_section(
        title: str, headers: list[str], rows: list[list[str]], widths: list[float]
    ) -> list[Flowable]:
        out = heading(title)
        if not rows:
            return [*out, para(none, muted)]
        if any(len(v) > LONG_CELL for r in rows for v in r):
            for r in rows:
                block: list[Flowable] = []
                for h, v in zip(headers, r, strict=True):
                    if v.strip():
                        block.append(Paragraph(f"<b>{escape(h)}:</b> " + escape(v.strip()), body))
                out.append(Spacer(1, 4))
                out.extend(block)
                out.append(Spacer(1, 4))
            return out
        data: list[list[Any]] = [[para(h, cell_head) for h in headers]]
        data += [[para(v, cell) for v in r] for r in rows]
        table = LongTable(data, colWidths=[usable * w for w in widths], repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("BACKGROUND", (0, 0), (-1, 0), shade),
                    ("LINEBELOW", (0, 0), (-1, 0), 0.8, accent),
                    ("LINEBELOW", (0, 1), (-1, -1), 0.25, rule),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("TOPPADDING", (0, 0), (-1, -1), 4),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
                    ("LEFTPADDING", (0, 0), (-1, -1), 5),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 5),
                ]
            )
        )
        out.append(table)
        return out

    story: list[Flowable] = []
    # -- who and when
    kind = DISCHARGE_TYPES.get(packet.discharge_type, packet.discharge_type)
    facts = [
        (t("Name"), packet.client_name),
        (t("Preferred name"), packet.preferred_name),
        (t("Date of birth"), long_date(packet.dob, lang)),
        (t("MRN"), packet.mrn),
        (t("Discharge date"), long_date(packet.discharge_date, lang)),
        (t("Type of discharge"), t(kind) if kind else ""),
        (t("Next level of care"), term(packet.step_down_level, lang, "levels of care")),
        (t("Receiving provider"), packet.receiving_provider),
    ]
    fact_rows: list[list[Any]] = []
    for i in range(0, len(facts), 2):
        pair = facts[i : i + 2]
        row: list[Any] = []
        for k, v in pair:
            row += [para(k, cell_head), para(v or "—", cell)]
        fact_rows.append(row)
    facts_table = LongTable(fact_rows, colWidths=[usable * w for w in (0.17, 0.33, 0.19, 0.31)])
    facts_table.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.6, rule),
                ("BACKGROUND", (0, 0), (0, -1), shade),
                ("BACKGROUND", (2, 0), (2, -1), shade),
                ("LINEBELOW", (0, 0), (-1, -2), 0.25, rule),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    story += [para(t("Your plan for staying well after the program"), h2), facts_table]

    # -- crisis resources first: what the client needs most urgently
    crisis_rows = [list(crisis_text(c, lang)) for c in packet.crisis]
    story += table_section(
        t("Crisis resources"),
        [t("Resource"), t("How to reach"), t("About")],
        crisis_rows,
        [0.3, 0.27, 0.43],
    )
    if crisis_rows:
        story.insert(len(story) - 1, para(t("If you are in crisis, get help right away:"), body))

    # -- progress
    story += heading(t("Your progress"))
    if not packet.progress and not packet.summary.strip():
        story.append(para(none, muted))
    for goal, progress in packet.progress:
        story.append(CondPageBreak(0.7 * inch))
        story.append(Paragraph(f"<b>{escape(t('Goal'))}:</b> {escape(goal)}", body))
        story += paras(progress or none, body)
        story.append(Spacer(1, 5))
    if packet.summary.strip():
        story += [CondPageBreak(0.7 * inch), para(t("Summary"), label), *paras(packet.summary)]

    story += table_section(
        t("Follow-up appointments"),
        [t("Provider"), t("Type"), t("Date and time"), t("Address"), t("Phone")],
        [
            [
                a.provider,
                term(a.kind, lang, "appointment types"),
                _when(a, lang),
                a.address,
                a.phone,
            ]
            for a in packet.appointments
        ],
        [0.2, 0.17, 0.2, 0.25, 0.18],
    )
    if packet.medications_left_out:
        story += heading(t("Medications"))
        story.append(
            para(
                "Left out of this copy: the client's consent for this disclosure does not "
                "cover medications.",
                muted,
            )
        )
    else:
        story += table_section(
            t("Medications"),
            [t("Medication"), t("Dose"), t("When to take it"), t("Prescriber")],
            [
                [m.name, m.dose, term(m.schedule, lang, "frequencies"), m.prescriber]
                for m in packet.medications
            ],
            [0.3, 0.17, 0.28, 0.25],
        )
    story += table_section(
        t("Support groups"),
        [t("Group"), t("Day"), t("Time"), t("Place or link")],
        [
            [g.name, day_text(g.day, lang), time_text(g.meeting_time, lang), g.place]
            for g in packet.groups
        ],
        [0.3, 0.14, 0.14, 0.42],
    )
    story += heading(t("Relapse prevention plan"))
    story += text_section(t("Triggers and high-risk situations"), packet.triggers, h2)
    story += text_section(t("Warning signs"), packet.warning_signs, h2)
    story += text_section(t("Coping strategies"), packet.coping_strategies, h2)
    story += table_section(
        t("People I can call"),
        [t("Name"), t("Relationship"), t("Phone")],
        [[c.name, term(c.relationship, lang, "relationships"), c.phone] for c in packet.contacts],
        [0.4, 0.3, 0.3],
    )
    if packet.safety_plan:
        story += heading(t("My safety plan"))
        for step, text in packet.safety_plan:
            if step in SAFETY_STEPS[3:5]:  # "name  phone" lines: a shipped name is translated
                text = "\n".join(
                    t(name) + sep + phone
                    for name, sep, phone in (line.partition("  ") for line in text.split("\n"))
                )
            story += text_section(t(step), text, h2)
    story += text_section(t("My goals"), packet.client_goals)
    story += text_section(t("My strengths"), packet.strengths)

    # -- signatures (kept together on one page)
    line = "_" * 44
    sig: list[Flowable] = [
        para(t("Signatures"), h1),
        para(t("I took part in making this plan and received a copy."), body),
        Spacer(1, 22),
    ]
    sig_rows = [
        [para(line, body), para("_" * 18, body)],
        [para(t("Client signature"), small), para(t("Date"), small)],
        [Spacer(1, 16), Spacer(1, 16)],
        [para(line, body), para("_" * 18, body)],
        [para(t("Clinician signature"), small), para(t("Date"), small)],
    ]
    sig_table = LongTable(sig_rows, colWidths=[usable * 0.62, usable * 0.38])
    sig_table.setStyle(
        TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("VALIGN", (0, 0), (-1, -1), "TOP")])
    )
    sig.append(sig_table)
    if packet.status == "finalized" and packet.clinician:
        when = long_date(packet.finalized_at.date(), lang) if packet.finalized_at else ""
        sig += [
            Spacer(1, 8),
            para(
                f"{t('Electronically signed by')} {packet.clinician}"
                + (f" {t('on')} {when}" if when else ""),
                small,
            ),
        ]
    story.append(KeepTogether(sig))
    story += release_notice_flowables(packet.release_notice, FONT, FONT_BOLD)

    tmp_title = f"{t(TITLE)} - {packet.client_name}"
    doc = SimpleDocTemplate(
        str(path),
        pagesize=letter,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin + 0.55 * inch,
        bottomMargin=footer_top + 10,
        title=tmp_title,
        author=packet.clinic_name,
        creator="IOPDesk",
        initialFontName=FONT,
    )
    doc.build(
        story,
        onFirstPage=letterhead.on_first_page(page_w, page_h, margin),
        onLaterPages=letterhead.on_later_pages(page_w, page_h, margin),
        canvasmaker=footer.canvas_class(page_w, margin),
    )
    return int(doc.page)
