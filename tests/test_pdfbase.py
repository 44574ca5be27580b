"""The one PDF base (reports.pdfbase): every PDF, the aftercare packet included, takes its
letterhead and page footer from it. Read back from real PDFs with pdftotext's word boxes."""

from __future__ import annotations

import ast
import io
import shutil
import subprocess
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import iopdesk.reports as reports_pkg
from iopdesk.reports import PART2_NOTICE, clinical_pdf
from iopdesk.reports import aftercare as packet_writer

PAGE_W = 612.0  # US Letter, points

Word = tuple[float, float, float, float, str]  # xMin, yMin, xMax, yMax (from the top), text


def words(path: Path) -> list[list[Word]]:
    """Each page's words with their boxes, from `pdftotext -bbox`."""
    exe = shutil.which("pdftotext")
    assert exe is not None, "pdftotext (poppler-utils) is needed"
    out = subprocess.run([exe, "-bbox", str(path), "-"], capture_output=True, check=True)
    root = ET.fromstring(out.stdout)
    pages = []
    for page in root.iter("{http://www.w3.org/1999/xhtml}page"):
        pages.append(
            [
                (
                    float(w.get("xMin", 0)),
                    float(w.get("yMin", 0)),
                    float(w.get("xMax", 0)),
                    float(w.get("yMax", 0)),
                    unicodedata.normalize("NFC", w.text or ""),
                )
                for w in page.iter("{http://www.w3.org/1999/xhtml}word")
            ]
        )
    return pages


def find_line(page: list[Word], phrase: str) -> list[Word]:
    """The run of words that spell `phrase` on one line (fails if it is not on the page)."""
    want = phrase.split()
    for i in range(len(page) - len(want) + 1):
        run = page[i : i + len(want)]
        if [w[4] for w in run] == want and len({round(w[3]) for w in run}) == 1:
            return run
    raise AssertionError(f"{phrase!r} is not on the page")


def logo_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (120, 60), "#2D5B8A").save(buf, "PNG")
    return buf.getvalue()


def packet(**changes: object) -> packet_writer.Packet:
    base = packet_writer.Packet(
        clinic_name="Riverbend Community Recovery Center",
        client_name="Martínez, Rosa",
        dob=date(1991, 4, 5),
        mrn="M0007",
        clinic_address="100 Main Street, Springfield, IL 62701",
        clinic_phone="(217) 555-0100",
        part2=True,
        status="finalized",
        clinician="Theo Rapist, LPC",
        printed_at=datetime(2026, 11, 21, 16, 0, tzinfo=UTC),
        triggers="\n".join(f"Trigger line {i}" for i in range(120)),  # several pages
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("language", ["en", "es"])
def test_packet_footer_is_the_shared_footer_in_the_packets_language(tmp_path, language):
    """The packet's Part 2 notice sits where every other PDF's does (centred above the footer
    lines, same size), in the packet's language, with the client's line and "Page X of Y"."""
    t = packet_writer.translator(language)
    out = tmp_path / "packet.pdf"
    n = packet_writer.write_pdf(packet(language=language), out)
    clinical = tmp_path / "clinical.pdf"
    clinical_pdf.write_pdf(
        clinical_pdf.ClinicalDoc(
            "Safety Plan", "Test Clinic", "Rosa Martínez", date(1991, 4, 5), "M0007", part2=True
        ),
        clinical,
    )
    (other,) = words(clinical)
    english_notice = find_line(other, PART2_NOTICE)
    pages = words(out)
    assert n == len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        notice = find_line(page, t(PART2_NOTICE))
        # centred on the page, in the footer's notice size (same height as the other PDF's)
        middle = (notice[0][0] + notice[-1][2]) / 2
        assert abs(middle - PAGE_W / 2) < 1.0
        assert (
            abs((notice[0][3] - notice[0][1]) - (english_notice[0][3] - english_notice[0][1]))
            < 0.01
        )
        if language == "en":  # the same line at the same x as on the clinical document
            assert abs(notice[0][0] - english_notice[0][0]) < 0.01
        ident = find_line(page, f"Martínez, Rosa · {t('MRN')} M0007")
        label = find_line(page, t("Page {page} of {total}").format(page=number, total=n))
        confidential = find_line(page, t(packet_writer.CONFIDENTIAL))
        # top to bottom: notice, the client's line with the page number, confidentiality
        assert notice[0][3] < ident[0][3] < confidential[0][3]
        assert label[0][3] == pytest.approx(ident[0][3], abs=0.5)  # one line
        assert label[-1][2] == pytest.approx(PAGE_W - 0.75 * 72, abs=0.5)  # right margin
        assert ident[0][0] == pytest.approx(0.75 * 72, abs=0.5)
    if language == "es":
        flat = " ".join(w[4] for page in pages for w in page)
        assert "Page" not in flat and PART2_NOTICE not in flat


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize(
    "clinic",
    ["Riverbend Community Recovery Center", "Riverbend Community Recovery and Wellness Center"],
)
def test_letterhead_text_never_overlaps(tmp_path, language, clinic):
    """A draft packet with a logo and a long clinic name: the name, title, address, phone
    and the DRAFT line all print where they can be read (no two words on top of each other)."""
    out = tmp_path / "draft.pdf"
    packet_writer.write_pdf(packet(language=language, clinic_name=clinic, status="draft",
                                   logo_png=logo_png()), out)  # fmt: skip
    t = packet_writer.translator(language)
    first = [w for w in words(out)[0] if w[1] < 100]  # the letterhead band
    for phrase in (clinic, "(217) 555-0100", t(packet_writer.TITLE),
                   t("DRAFT - not yet signed by the clinician")):  # fmt: skip
        find_line(first, phrase)
    for i, a in enumerate(first):
        for b in first[i + 1 :]:
            apart = (
                a[2] <= b[0] + 0.5 or b[2] <= a[0] + 0.5 or a[3] <= b[1] + 0.5 or b[3] <= a[1] + 0.5
            )
            assert apart, f"{a[4]!r} and {b[4]!r} overlap"


def test_running_head_on_later_pages_names_the_client(tmp_path):
    out = tmp_path / "p.pdf"
    packet_writer.write_pdf(packet(language="es", status="draft"), out)
    t = packet_writer.translator("es")
    pages = words(out)
    assert len(pages) >= 2
    find_line(pages[0], "(217) 555-0100")  # the whole letterhead on page 1 only
    for page in pages[1:]:
        head = [w for w in page if w[1] < 80]
        find_line(head, f"Riverbend Community Recovery Center · {t(packet_writer.TITLE)}")
        find_line(head, "Martínez, Rosa")
        find_line(head, t("DRAFT - not yet signed by the clinician"))
        assert "555-0100" not in [w[4] for w in head]


def test_only_pdfbase_draws_letterheads_and_footers():
    """No report writer draws its own letterhead, running head or page footer: text and rules
    on the page canvas, the numbered canvas and the logo belong to reports.pdfbase."""
    own = {"drawString", "drawRightString", "line", "drawImage"}  # methods of the canvas
    folder = Path(reports_pkg.__file__).parent
    found = []
    for path in sorted(folder.rglob("*.py")):
        if path.name == "pdfbase.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                name = node.func.attr  # canvas.drawString(...), canvas.line(...)
            elif isinstance(node, ast.Name | ast.alias):
                name = node.id if isinstance(node, ast.Name) else node.name
                if name != "numbered_canvas":
                    continue
            else:
                continue
            if name in own or name == "numbered_canvas":
                found.append(f"{path.name}:{getattr(node, 'lineno', '?')} {name}")
    assert found == []
