"""Aftercare packet PDF (iopdesk.reports.aftercare.write_pdf: letterhead, running head,
"Page X of Y" footers, Part 2 notice, tables) vs a bare reportlab document with the same text
and tables in the same embedded font.

    python -m benchmarks.bench_aftercare [--runs N]
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from benchmarks.common import cpu, emit, median, prepare_env, timed

LOREM = (
    "Client identified evening cravings after work and arguments at home as the main "
    "triggers, and practised urge surfing, calling a sponsor and leaving the situation. "
)


def packet() -> Any:
    from iopdesk.reports import aftercare as ac

    return ac.Packet(
        clinic_name="Large Benchmark Clinic",
        client_name="Garcia, Maria",
        dob=date(1988, 4, 12),
        mrn="M000123",
        clinic_address="100 Main Street, Springfield, IL 62701",
        clinic_phone="(217) 555-0100",
        preferred_name="Mari",
        discharge_date=date(2026, 11, 20),
        discharge_type="completed_program",
        step_down_level="OP",
        receiving_provider="Springfield Outpatient Counseling",
        summary=LOREM * 6,
        progress=tuple((f"Goal {i}: reduce use and build supports", LOREM * 2) for i in range(4)),
        appointments=tuple(
            ac.Appointment(
                f"Provider {i}",
                "Therapy",
                date(2026, 12, i + 1),
                time(10, 0),
                "1 Elm St",
                "(217) 555-01{i:02d}",
            )
            for i in range(6)
        ),
        medications=tuple(
            ac.Medication(f"Medication {i}", "10 mg", "once daily", "Dr. Patel") for i in range(5)
        ),
        groups=tuple(
            ac.SupportGroup(f"Recovery group {i}", "Tuesday", "7:00 PM", "Community hall")
            for i in range(5)
        ),
        triggers=LOREM * 2,
        warning_signs=LOREM * 2,
        coping_strategies=LOREM * 3,
        contacts=tuple(ac.Contact(f"Contact {i}", "Sister", "(217) 555-0199") for i in range(4)),
        crisis=(
            ac.CrisisResource("988 Suicide & Crisis Lifeline", "Call or text 988", "24/7"),
            ac.CrisisResource("Crisis Text Line", "Text HOME to 741741", "24/7"),
            ac.CrisisResource("Emergency", "911", "Immediate danger"),
        ),
        client_goals=LOREM,
        strengths=LOREM,
        status="finalized",
        clinician="Theo Rapist, LPC",
        finalized_at=datetime(2026, 11, 20, 15, 0, tzinfo=UTC),
        part2=True,
        printed_at=datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
    )


def bare(p: Any, path: Path) -> None:
    """The same content in a plain SimpleDocTemplate: paragraphs and plain tables."""
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

    from iopdesk.reports.attendance import FONT, register_fonts

    register_fonts()
    body = ParagraphStyle("b", fontName=FONT, fontSize=10, leading=13)
    head = ParagraphStyle("h", fontName=FONT, fontSize=13, leading=16)
    story: list[Any] = [Paragraph(p.clinic_name, head), Paragraph(p.client_name, body)]

    def section(title: str, text: str) -> None:
        story.extend([Spacer(1, 6), Paragraph(title, head), Paragraph(text, body)])

    def table(title: str, rows: list[tuple[str, ...]]) -> None:
        story.extend([Spacer(1, 6), Paragraph(title, head)])
        cells = [[Paragraph(str(v), body) for v in r] for r in rows]
        story.append(Table(cells, repeatRows=0))

    section("Summary", p.summary)
    table("Progress", list(p.progress))
    table("Appointments", [(a.provider, a.kind, str(a.day), str(a.at)) for a in p.appointments])
    table("Medications", [(m.name, m.dose, m.schedule, m.prescriber) for m in p.medications])
    table("Groups", [(g.name, g.day, g.meeting_time, g.place) for g in p.groups])
    section("Triggers", p.triggers)
    section("Warning signs", p.warning_signs)
    section("Coping", p.coping_strategies)
    table("Contacts", [(c.name, c.relationship, c.phone) for c in p.contacts])
    table("Crisis", [(c.name, c.contact, c.description) for c in p.crisis])
    section("Goals", p.client_goals)
    section("Strengths", p.strengths)
    SimpleDocTemplate(str(path), pagesize=letter).build(story)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", nargs="?", help="unused: the packet is built in memory")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    prepare_env()
    from iopdesk.reports import aftercare

    out = Path(tempfile.mkdtemp(prefix="iopdesk-bench-aftercare-"))
    p = packet()
    pages = aftercare.write_pdf(p, out / "packet.pdf")
    values = timed(lambda: aftercare.write_pdf(p, out / "packet.pdf"), args.runs)
    base = timed(lambda: bare(p, out / "bare.pdf"), args.runs)
    emit(
        {
            "aftercare_pdf": {
                "value_ms": median(values),
                "baseline_ms": median(base),
                "cpu_ms": cpu(values),
                "baseline_cpu_ms": cpu(base),
                "pages": pages,
            }
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
