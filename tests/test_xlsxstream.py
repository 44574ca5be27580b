"""The streaming XLSX writer behind the billing export (iopdesk/reports/xlsxstream.py): what it
writes must read back the same through openpyxl and LibreOffice, and be a well-formed package
(parts, element order, escaping) that Excel opens."""

from __future__ import annotations

import errno
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from openpyxl import load_workbook

from iopdesk.reports.xlsxstream import (
    XlsxWriter,
    clean_text,
    column_letter,
    excel_serial,
    xml_attr,
    xml_text,
)
from tests.test_billing_golden import REQUIRE_TOOLS, _libreoffice_csv, _soffice

NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
TRICKY = [
    "Fish & Chips <Ltd>",
    "She said \"hi\" & 'bye'",
    "]]> and <![CDATA[x]]>",
    "=SUM(A1:A2)",
    "+1-555-0100",
    "@user",
    "  padded  ",
    "line one\nline two",
    "tab\there",
    "Zoë Ångström – 日本語 😀",
    "a\x00b\x01c\x08d\x0be\x0cf\x1fg",  # control characters XML cannot hold: dropped
    "cr\rkept",
]


def _write(path: Path, build: Any, **kw: Any) -> Path:
    with XlsxWriter(path, **kw) as book:
        build(book)
    return path


def _values(ws: Any) -> list[list[Any]]:
    return [[c.value for c in row] for row in ws.iter_rows()]


def test_text_is_escaped_cleaned_and_stays_text(tmp_path: Path) -> None:
    def build(book: XlsxWriter) -> None:
        with book.sheet("Text") as ws:
            for value in TRICKY:
                ws.append([value, value])  # the second copy reuses the shared string

    path = _write(tmp_path / "t.xlsx", build)
    ws = load_workbook(path)["Text"]
    expected = [clean_text(v) for v in TRICKY]
    assert [r[0] for r in _values(ws)] == expected
    assert [r[1] for r in _values(ws)] == expected
    assert expected[10] == "abcdefg"
    assert all(c.data_type == "s" for row in ws.iter_rows() for c in row)  # no formula
    with zipfile.ZipFile(path) as z:
        sst = z.read("xl/sharedStrings.xml").decode()
        ElementTree.fromstring(sst)  # well-formed
        assert sst.count("<si>") == len(TRICKY)  # one entry per distinct string
        assert '<t xml:space="preserve">  padded  </t>' in sst


def test_numbers_dates_bools_and_empty_cells(tmp_path: Path) -> None:
    big = 2**53 + 1

    def build(book: XlsxWriter) -> None:
        money = book.style(number_format='"$"#,##0.00')
        with book.sheet("Values") as ws:
            ws.append([0, -7, big, 10**20, 1.5e300, -2.5e-300, 0.1])
            ws.append([Decimal("127.50"), Decimal("9690.00"), 63487.0, 1e16], [money] * 4)
            ws.append([float("nan"), float("inf"), Decimal("-Infinity"), True, False])
            ws.append([date(2026, 10, 1), date(1900, 1, 1), date(1900, 2, 28), date(1900, 3, 1)])
            ws.append([datetime(2026, 5, 1, 13, 30, 15), datetime(2026, 5, 1), date(1899, 12, 31)])
            ws.append([None, "", None, "x", None])
            ws.append([])
            ws.append(["after the empty row"])

    path = _write(tmp_path / "v.xlsx", build)
    ws = load_workbook(path)["Values"]
    rows = _values(ws)
    assert rows[0] == [0, -7, big, 10**20, 1.5e300, -2.5e-300, 0.1]
    assert type(rows[0][2]) is int
    assert rows[1][:4] == [127.5, 9690, 63487, 1e16]
    # integral values come back as int, as openpyxl itself writes them ("%.16g")
    assert [type(v) for v in rows[1][:4]] == [float, int, int, float]  # "1e+16"
    assert ws.cell(2, 1).number_format == '"$"#,##0.00'
    assert rows[2][:5] == [None, None, None, True, False]  # no NaN/infinity in a spreadsheet
    assert rows[3][:4] == [
        datetime(2026, 10, 1),
        datetime(1900, 1, 1),
        datetime(1900, 2, 28),
        datetime(1900, 3, 1),
    ]
    assert all(ws.cell(4, c).is_date for c in range(1, 5))
    assert ws.cell(4, 1).number_format == "yyyy-mm-dd"  # a date gets a date format
    assert rows[4][0] == datetime(2026, 5, 1, 13, 30, 15)
    assert rows[4][1] == datetime(2026, 5, 1)
    assert ws.cell(5, 1).number_format == "yyyy-mm-dd h:mm:ss"
    assert rows[5][:5] == [None, None, None, "x", None]
    assert ws.cell(6, 4).coordinate == "D6"
    assert all(v is None for v in rows[6])
    assert rows[7][0] == "after the empty row" and ws.max_row == 8


def test_serials_match_openpyxl() -> None:
    from openpyxl.utils.datetime import to_excel

    for d in (date(1900, 1, 1), date(1900, 2, 28), date(1900, 3, 1), date(2026, 11, 27)):
        assert excel_serial(d) == to_excel(d)
    moment = datetime(2026, 11, 27, 6, 0)
    assert excel_serial(moment) == pytest.approx(to_excel(moment))
    with pytest.raises(TypeError):
        excel_serial(datetime(2026, 1, 1, tzinfo=__import__("datetime").UTC))


def test_layout_styles_and_sheet_names(tmp_path: Path) -> None:
    name = "R&D's <log>"

    def build(book: XlsxWriter) -> None:
        head = book.style(bold=True, fill="DDE4EE")
        units = book.style(number_format="0")
        with book.sheet(
            name,
            widths=(12, 28.5, 8),
            freeze_header=True,
            auto_filter=True,
            print_titles=True,
            landscape=True,
            footer="Part 2 & notice",
        ) as ws:
            ws.append(["A", "B", "C"], [head] * 3)
            for i in range(1, 5):
                ws.append([f"r{i}", i, i * 2], [0, units, 0])
        with book.sheet("Empty", auto_filter=True):
            pass
        with book.sheet("Plain") as ws:
            ws.append(["just one"])

    path = _write(tmp_path / "l.xlsx", build, title="Layout & <title>")
    wb = load_workbook(path)
    assert wb.sheetnames == [name, "Empty", "Plain"]
    assert wb.properties.title == "Layout & <title>"
    ws = wb[name]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:C5"
    assert ws.print_title_rows == "$1:$1"
    assert ws.page_setup.orientation == "landscape"
    # "&&" is the header/footer code for a literal "&" (openpyxl shows the code as is)
    assert ws.oddFooter.left.text == "Part 2 && notice"
    assert {k: d.width for k, d in ws.column_dimensions.items()} == {"A": 12, "B": 28.5, "C": 8}
    assert ws["A1"].font.b and ws["A1"].fill.fgColor.rgb.endswith("DDE4EE")
    assert not ws["A2"].font.b and ws["B2"].number_format == "0"
    empty = wb["Empty"]
    assert empty.max_row == 1 and empty["A1"].value is None
    assert empty.auto_filter.ref == "A1:A1"
    assert wb["Plain"].freeze_panes is None and wb["Plain"].auto_filter.ref is None
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        for part in z.namelist():
            if part.endswith((".xml", ".rels")):
                ElementTree.fromstring(z.read(part))  # every part is well-formed XML
        order = [
            el.tag.removeprefix(NS)
            for el in ElementTree.fromstring(z.read("xl/worksheets/sheet1.xml"))
        ]
        # the schema's order of a worksheet's children
        assert order == [
            "sheetPr",
            "sheetViews",
            "sheetFormatPr",
            "cols",
            "sheetData",
            "autoFilter",
            "pageMargins",
            "pageSetup",
            "headerFooter",
        ]
        types = z.read("[Content_Types].xml").decode()
        for part in z.namelist():
            if part.startswith("xl/") and part.endswith(".xml"):
                assert f'PartName="/{part}"' in types


def test_errors_are_plain_and_leave_the_file_closed(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        XlsxWriter(tmp_path / "missing" / "x.xlsx")
    path = tmp_path / "broken.xlsx"
    with pytest.raises(RuntimeError), XlsxWriter(path) as book, book.sheet("S") as ws:
        ws.append(["partial"])
        raise RuntimeError("stop")
    path.unlink()  # closed (Windows could not remove an open file)
    with XlsxWriter(tmp_path / "bad.xlsx") as book:
        with pytest.raises(ValueError):
            book.sheet("a/b")
        with pytest.raises(ValueError):
            book.sheet("x" * 32)
        ws = book.sheet("ok")
        with pytest.raises(ValueError):
            book.sheet("second while the first is open")
        with pytest.raises(ValueError):
            ws.append(["a"], [99])  # an unknown style id
        with pytest.raises(TypeError):
            ws.append([object()])
        ws.close()
        with pytest.raises(ValueError):
            book.sheet("OK")  # names are case-insensitively unique
    assert load_workbook(tmp_path / "bad.xlsx").sheetnames == ["ok"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_full_disk_raises_the_os_error() -> None:
    """A full disk surfaces as OSError(ENOSPC): the export turns it into its 'disk is full'
    message and removes the temporary file."""
    with pytest.raises(OSError) as err, XlsxWriter("/dev/full") as book, book.sheet("S") as ws:
        for i in range(20_000):
            ws.append([f"row {i}", i])
    assert err.value.errno == errno.ENOSPC


def test_rows_are_streamed_not_held(tmp_path: Path) -> None:
    path = tmp_path / "big.xlsx"
    with XlsxWriter(path) as book, book.sheet("Big") as ws:
        for i in range(30_000):
            ws.append([f"M{i % 250:06d}", i, date(2026, 1, 1), Decimal(i) / 4])
        assert path.stat().st_size > 100_000  # rows are on disk before the sheet is closed
    ws2 = load_workbook(path, read_only=True)["Big"]
    rows = list(ws2.iter_rows(values_only=True))
    assert len(rows) == 30_000 and rows[-1][:2] == ("M000249", 29_999)


def test_helpers() -> None:
    assert [column_letter(i) for i in (1, 16, 26, 27, 702, 703, 16384)] == [
        "A",
        "P",
        "Z",
        "AA",
        "ZZ",
        "AAA",
        "XFD",
    ]
    with pytest.raises(ValueError):
        column_letter(16385)
    assert xml_text("a<b>&c\rd\x07") == "a&lt;b&gt;&amp;c&#13;d"
    for value in ('x"y\n', 'it\'s "both"\t<&>\r', "plain"):
        assert ElementTree.fromstring(f"<a v={xml_attr(value)}/>").get("v") == value


def test_libreoffice_reads_the_same(tmp_path: Path) -> None:
    if _soffice() is None:
        if REQUIRE_TOOLS:
            pytest.fail("LibreOffice (soffice) is required here: install libreoffice-calc-nogui")
        pytest.skip("LibreOffice is not installed")
    text = [v for v in TRICKY if "\n" not in v and "\r" not in v]

    def build(book: XlsxWriter) -> None:
        day = book.style(number_format="yyyy-mm-dd")
        money = book.style(number_format='"$"#,##0.00')
        with book.sheet("Mixed", freeze_header=True, auto_filter=True) as ws:
            ws.append(["Text", "Number", "Date", "Charge", "Empty"])
            for i, value in enumerate(text):
                ws.append(
                    [value, i * 1000 + 0.5, date(2026, 1, 1 + i), Decimal("1234.5"), None],
                    [0, 0, day, money, 0],
                )
            ws.append([None, 10**15, None, None, ""])
        with book.sheet("Blank"):
            pass

    path = _write(tmp_path / "lo.xlsx", build)
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
    assert rows[-1][:2] == ["", "1000000000000000"]
    assert shown["Blank"] in ([], [[]], [[""]])
