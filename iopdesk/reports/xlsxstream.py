"""A small streaming XLSX writer for big, plainly styled sheets (the billing export).

openpyxl's write_only mode builds a cell object per styled value and serialises it through
its generic element writer; a year of claim lines (~30,000 rows of 16 cells) spent most of its
export there (docs/performance.md). This writer turns each row into one XML string (cached
shared-string indexes, numbers, dates as serials, per-column style ids) and streams it into the
zip entry of its sheet, a few hundred rows at a time: memory holds the distinct strings, not
the rows.

What it writes is an ordinary SpreadsheetML package (the parts and element order Excel
expects, as openpyxl writes them): per sheet column widths, a frozen header row, an
auto-filter, print titles, landscape page setup and a left footer; per cell a style from a
small table of number formats, bold and a solid fill. Strings are shared strings, stripped of
characters XML cannot hold; an empty string or None leaves the cell out. Sheets are written one
after the other (`with book.sheet(...) as ws: ws.append(...)`); the package parts that list the
sheets are written by `close()`.

    with XlsxWriter(path, title="Billing export") as book:
        head = book.style(bold=True, fill="DDE4EE")
        with book.sheet("Claims", widths=(12, 28), freeze_header=True, auto_filter=True) as ws:
            ws.append(("MRN", "Client"), (head, head))
            ws.append(("M001", "Diaz, Ana"))
"""

from __future__ import annotations

import contextlib
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from math import isfinite
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from xml.sax.saxutils import escape as _escape
from xml.sax.saxutils import quoteattr

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

# Characters XML 1.0 cannot hold (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF)
ILLEGAL_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_BUILTIN_FORMATS = {
    "General": 0,
    "0": 1,
    "0.00": 2,
    "#,##0": 3,
    "#,##0.00": 4,
    "0%": 9,
    "0.00%": 10,
    "mm-dd-yy": 14,
    "@": 49,
}
_DATE_FORMAT = "yyyy-mm-dd"
_DATETIME_FORMAT = "yyyy-mm-dd h:mm:ss"
_EPOCH_ORDINAL = date(1899, 12, 30).toordinal()
_MAX_ROWS = 1_048_576
_MAX_COLUMNS = 16_384
_FLUSH_ROWS = 256


def clean_text(value: str) -> str:
    """`value` without the characters an XML file cannot hold."""
    return ILLEGAL_XML_CHARS.sub("", value)


def xml_text(value: str) -> str:
    """Escaped element text: &, <, > and CR (kept as a character reference so that it survives
    XML line-end normalisation); characters XML cannot hold are dropped."""
    text = _escape(clean_text(value))
    return text.replace("\r", "&#13;") if "\r" in text else text


def xml_attr(value: str) -> str:
    """A quoted, escaped attribute value (tab, LF and CR as character references)."""
    return quoteattr(clean_text(value), {"\t": "&#9;", "\n": "&#10;", "\r": "&#13;"})


def column_letter(index: int) -> str:
    """'A' for 1, 'Z' for 26, 'AA' for 27, ..."""
    if not 1 <= index <= _MAX_COLUMNS:
        raise ValueError(f"column {index} is outside 1..{_MAX_COLUMNS}")
    letters = ""
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def excel_serial(value: date) -> int | float:
    """The spreadsheet serial of a date or naive datetime (1900 date system, as openpyxl's
    `to_excel`: days since 1899-12-30, one less up to 1900-02-28 for Excel's phantom
    1900-02-29)."""
    days = value.toordinal() - _EPOCH_ORDINAL
    if 0 < days <= 60:
        days -= 1
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise TypeError("Spreadsheet dates cannot hold a time zone; convert to local time.")
        t = value.time()
        seconds = t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6
        return days + seconds / 86400 if seconds else days
    return days


def _number(value: float | Decimal) -> str | None:
    """Number text as openpyxl writes it ('%.16g': 63487.0 -> '63487'); None for NaN/inf."""
    if not isfinite(value):
        return None
    return f"{float(value):.16g}"


@dataclass(frozen=True)
class _Style:
    num_fmt: int
    bold: bool
    fill: str | None


@dataclass
class _SheetInfo:
    name: str
    rows: int
    columns: int
    auto_filter: str | None
    print_titles: bool


@dataclass
class _Styles:
    formats: dict[str, int] = field(default_factory=dict)  # custom format code -> id
    xfs: list[_Style] = field(default_factory=lambda: [_Style(0, False, None)])
    attrs: list[str] = field(default_factory=lambda: [""])  # ' s="N"' per style id

    def add(self, number_format: str | None, bold: bool, fill: str | None) -> int:
        code = number_format or "General"
        num = _BUILTIN_FORMATS.get(code)
        if num is None:
            num = self.formats.setdefault(code, 164 + len(self.formats))
        style = _Style(num, bold, fill.upper().lstrip("#") if fill else None)
        if style not in self.xfs:
            self.attrs.append(f' s="{len(self.xfs)}"')
            self.xfs.append(style)
        return self.xfs.index(style)

    def xml(self) -> str:
        num_fmts = "".join(
            f'<numFmt numFmtId="{i}" formatCode={xml_attr(code)}/>'
            for code, i in self.formats.items()
        )
        fills = sorted({s.fill for s in self.xfs if s.fill})
        fill_ids = {rgb: 2 + i for i, rgb in enumerate(fills)}
        xfs = []
        for s in self.xfs:
            attrs = f'numFmtId="{s.num_fmt}" fontId="{int(s.bold)}" '
            attrs += f'fillId="{fill_ids.get(s.fill or "", 0)}" borderId="0" xfId="0"'
            if s.num_fmt:
                attrs += ' applyNumberFormat="1"'
            if s.bold:
                attrs += ' applyFont="1"'
            if s.fill:
                attrs += ' applyFill="1"'
            xfs.append(f"<xf {attrs}/>")
        rgb = ("FF" + f if len(f) == 6 else f for f in fills)
        return (
            f'{_XML_DECL}<styleSheet xmlns="{MAIN_NS}">'
            + (f'<numFmts count="{len(self.formats)}">{num_fmts}</numFmts>' if num_fmts else "")
            + '<fonts count="2">'
            '<font><sz val="11"/><color theme="1"/><name val="Calibri"/><family val="2"/>'
            '<scheme val="minor"/></font>'
            '<font><b/><sz val="11"/><color theme="1"/><name val="Calibri"/><family val="2"/>'
            '<scheme val="minor"/></font></fonts>'
            f'<fills count="{2 + len(fills)}">'
            '<fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill>'
            + "".join(
                f'<fill><patternFill patternType="solid"><fgColor rgb="{c}"/>'
                '<bgColor indexed="64"/></patternFill></fill>'
                for c in rgb
            )
            + "</fills>"
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
            "</borders>"
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
            "</cellStyleXfs>"
            f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            '<dxfs count="0"/><tableStyles count="0" defaultTableStyle="TableStyleMedium9" '
            'defaultPivotStyle="PivotStyleLight16"/></styleSheet>'
        )


class SheetWriter:
    """One worksheet being streamed: `append(values, styles)` row by row, then `close()` (or
    use it as a context manager). Obtained from `XlsxWriter.sheet`."""

    def __init__(
        self,
        book: XlsxWriter,
        stream: IO[bytes],
        info: _SheetInfo,
        header_xml: str,
        tail: tuple[bool, bool, str | None],
    ) -> None:
        self._book = book
        self._stream = stream
        self._info = info
        self._tail = tail  # auto_filter, landscape, footer
        self._pending: list[str] = [header_xml]
        self._letters: list[str] = []
        self._style_attrs = book._styles.attrs  # grows in place as styles are added
        self._checked: Sequence[int] | None = None
        self._closed = False

    @property
    def rows(self) -> int:
        """Rows appended so far (empty ones included)."""
        return self._info.rows

    def append(self, values: Sequence[Any], styles: Sequence[int] | None = None) -> None:
        """Add the next row. `values` may hold str, int, float, Decimal, bool, date, datetime
        or None; `styles` (ids from `XlsxWriter.style`, 0 = plain) runs parallel to values.
        A date without a style gets a date format, so that it reads back as a date."""
        if self._closed:
            raise ValueError("This sheet is already closed.")
        info = self._info
        if info.rows >= _MAX_ROWS:
            raise ValueError(f"A sheet holds at most {_MAX_ROWS:,} rows.")
        n = len(values)
        if n > len(self._letters):
            if n > _MAX_COLUMNS:
                raise ValueError(f"A sheet holds at most {_MAX_COLUMNS:,} columns.")
            self._letters = [column_letter(i + 1) for i in range(n)]
        if styles is not None and styles is not self._checked:
            self._check(styles, n)
        info.rows += 1
        r = str(info.rows)
        if n > info.columns:
            info.columns = n
        letters = self._letters
        shared = self._book._shared
        style_attrs = self._style_attrs
        cells: list[str] = []
        for i, value in enumerate(values):
            if value is None:
                continue
            s = styles[i] if styles else 0
            kind = type(value)
            if kind is str:
                idx = shared.get(value)
                if idx is None:
                    idx = self._book._share(value)
                if idx >= 0:
                    cells.append(f'<c r="{letters[i]}{r}"{style_attrs[s]} t="s"><v>{idx}</v></c>')
            elif kind is int:
                cells.append(f'<c r="{letters[i]}{r}"{style_attrs[s]}><v>{value}</v></c>')
            elif kind is date:
                if not s:
                    s = self._book.style(number_format=_DATE_FORMAT)
                cells.append(
                    f'<c r="{letters[i]}{r}"{style_attrs[s]}><v>{excel_serial(value)}</v></c>'
                )
            elif (kind is Decimal or kind is float) and isfinite(value):
                cells.append(
                    f'<c r="{letters[i]}{r}"{style_attrs[s]}><v>{float(value):.16g}</v></c>'
                )
            else:
                cell = self._other(value, letters[i] + r, s)
                if cell:
                    cells.append(cell)
        row = f'<row r="{r}">{"".join(cells)}</row>' if cells else ""
        if row:
            pending = self._pending
            pending.append(row)
            if len(pending) >= _FLUSH_ROWS:
                self._flush()

    def _check(self, styles: Sequence[int], n: int) -> None:
        known = len(self._style_attrs)
        if len(styles) < n or any(not 0 <= s < known for s in styles):
            raise ValueError("Give one known style id (from XlsxWriter.style) per value.")
        self._checked = styles

    def _other(self, value: Any, ref: str, s: int) -> str:
        if isinstance(value, bool):
            return f'<c r="{ref}"{self._style_attrs[s]} t="b"><v>{int(value)}</v></c>'
        if isinstance(value, datetime | date):
            if not s:
                fmt = _DATETIME_FORMAT if isinstance(value, datetime) else _DATE_FORMAT
                s = self._book.style(number_format=fmt)
            serial = excel_serial(value)
            text = str(serial) if isinstance(serial, int) else f"{serial:.16g}"
            return f'<c r="{ref}"{self._style_attrs[s]}><v>{text}</v></c>'
        if isinstance(value, int):  # an int subclass (IntEnum ...)
            return f'<c r="{ref}"{self._style_attrs[s]}><v>{int(value)}</v></c>'
        if isinstance(value, float | Decimal):
            number = _number(value)
            if number is None:  # NaN or infinity: a spreadsheet has no such number
                return ""
            return f'<c r="{ref}"{self._style_attrs[s]}><v>{number}</v></c>'
        if isinstance(value, str):  # a str subclass (StrEnum ...)
            idx = self._book._share(str(value))
            return f'<c r="{ref}"{self._style_attrs[s]} t="s"><v>{idx}</v></c>' if idx >= 0 else ""
        if isinstance(value, time):
            raise TypeError("Time-of-day cells are not supported; write a datetime or text.")
        raise TypeError(f"Cannot write a {type(value).__name__} to a spreadsheet cell.")

    def _flush(self) -> None:
        if self._pending:
            self._stream.write("".join(self._pending).encode("utf-8"))
            self._pending = []

    def close(self) -> None:
        """Finish the sheet (auto-filter, page setup, footer) and its zip entry."""
        if self._closed:
            return
        self._closed = True
        info = self._info
        auto_filter, landscape, footer = self._tail
        tail = ["</sheetData>"]
        if auto_filter:
            last = column_letter(max(info.columns, 1))
            info.auto_filter = f"A1:{last}{max(info.rows, 1)}"
            tail.append(f'<autoFilter ref="{info.auto_filter}"/>')
        tail.append(
            '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>'
        )
        if landscape:
            tail.append('<pageSetup orientation="landscape"/>')
        if footer:
            text = xml_text("&L" + footer.replace("&", "&&"))
            tail.append(f"<headerFooter><oddFooter>{text}</oddFooter></headerFooter>")
        tail.append("</worksheet>")
        self._pending.append("".join(tail))
        self._flush()
        self._stream.close()
        self._book._sheet_done(self)

    def __enter__(self) -> SheetWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
        # on an error the book's own exit abandons the whole file


class XlsxWriter:
    """A workbook written straight to `path` (see the module docstring). Use it as a context
    manager: leaving the block normally finishes the package; an exception closes the file
    as it is (the caller removes it: the billing export writes to a temporary file)."""

    def __init__(self, path: Path | str, *, title: str = "", creator: str = "IOPDesk") -> None:
        self._title = title
        self._creator = creator
        self._styles = _Styles()
        self._shared: dict[str, int] = {}
        self._strings: list[str] = []  # escaped shared-string items, index order
        self._sheets: list[_SheetInfo] = []
        self._open_sheet: SheetWriter | None = None
        self._file: IO[bytes] = open(path, "wb")  # noqa: SIM115 - closed by close()/abort
        try:
            self._zip = zipfile.ZipFile(self._file, "w", zipfile.ZIP_DEFLATED)
        except BaseException:
            self._file.close()
            raise

    # -- styles and strings ----------------------------------------------------------------

    def style(
        self, *, number_format: str | None = None, bold: bool = False, fill: str | None = None
    ) -> int:
        """The id of a cell style (number format code, bold font, solid fill 'RRGGBB')."""
        return self._styles.add(number_format, bold, fill)

    def _share(self, value: str) -> int:
        """The shared-string index of `value` (-1: nothing left to write once cleaned)."""
        idx = self._shared.get(value)
        if idx is not None:
            return idx
        text = clean_text(value)
        if not text:
            idx = -1
        else:
            idx = len(self._strings)
            escaped = xml_text(text)
            space = ' xml:space="preserve"' if text != text.strip() else ""
            self._strings.append(f"<si><t{space}>{escaped}</t></si>")
        self._shared[value] = idx
        return idx

    # -- sheets ----------------------------------------------------------------------------

    def sheet(
        self,
        name: str,
        *,
        widths: Sequence[float] = (),
        freeze_header: bool = False,
        auto_filter: bool = False,
        print_titles: bool = False,
        landscape: bool = False,
        footer: str | None = None,
    ) -> SheetWriter:
        """Start the next sheet (the previous one must be closed). `freeze_header` freezes
        row 1; `auto_filter` filters row 1 over every written row and column; `print_titles`
        repeats row 1 on every printed page; `footer` is printed at the bottom left."""
        if self._open_sheet is not None:
            raise ValueError("Close the previous sheet first.")
        bad = set("[]:*?/\\")
        if not name or len(name) > 31 or bad & set(name) or name.startswith("'"):
            raise ValueError(f"{name!r} is not a valid sheet name.")
        if name.casefold() in {s.name.casefold() for s in self._sheets}:
            raise ValueError(f"There is already a sheet named {name!r}.")
        info = _SheetInfo(clean_text(name), 0, 0, None, print_titles)
        self._sheets.append(info)
        if freeze_header:
            view = (
                '<sheetView workbookViewId="0">'
                '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView>'
            )
        else:
            view = '<sheetView workbookViewId="0"><selection activeCell="A1" sqref="A1"/>'
            view += "</sheetView>"
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{_number(w)}" customWidth="1"/>'
            for i, w in enumerate(widths, start=1)
        )
        header = (
            f'{_XML_DECL}<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
            '<sheetPr><outlinePr summaryBelow="1" summaryRight="1"/>'
            + f"</sheetPr><sheetViews>{view}</sheetViews>"
            '<sheetFormatPr baseColWidth="8" defaultRowHeight="15"/>'
            + (f"<cols>{cols}</cols>" if cols else "")
            + "<sheetData>"
        )
        stream = self._zip.open(f"xl/worksheets/sheet{len(self._sheets)}.xml", "w")
        self._open_sheet = SheetWriter(self, stream, info, header, (auto_filter, landscape, footer))
        return self._open_sheet

    def _sheet_done(self, sheet: SheetWriter) -> None:
        if self._open_sheet is sheet:
            self._open_sheet = None

    # -- the package -----------------------------------------------------------------------

    def close(self) -> None:
        """Finish the open sheet and write the parts that list the sheets, styles and
        strings; the file is complete when this returns."""
        try:
            if self._open_sheet is not None:
                self._open_sheet.close()
            if not self._sheets:
                raise ValueError("A workbook needs at least one sheet.")
            self._write_parts()
            self._zip.close()
        except BaseException:
            self.abort()
            raise
        self._file.close()

    def abort(self) -> None:
        """Close the file as it is (incomplete); the caller removes it."""
        sheet, self._open_sheet = self._open_sheet, None
        if sheet is not None:
            sheet._closed = True
            with contextlib.suppress(Exception):
                sheet._stream.close()
        with contextlib.suppress(Exception):
            self._zip.close()
        self._file.close()

    def __enter__(self) -> XlsxWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def _write_parts(self) -> None:
        sheets = self._sheets
        n = len(sheets)
        put = self._zip.writestr
        strings = self._strings
        put(
            "xl/sharedStrings.xml",
            f'{_XML_DECL}<sst xmlns="{MAIN_NS}" count="{len(strings)}" '
            f'uniqueCount="{len(strings)}">{"".join(strings)}</sst>',
        )
        put("xl/styles.xml", self._styles.xml())
        put("xl/theme/theme1.xml", _theme_xml())
        names: list[str] = []
        for i, s in enumerate(sheets):
            quoted = "'" + s.name.replace("'", "''") + "'"
            if s.auto_filter:
                a, b = s.auto_filter.split(":")
                ref = f"{quoted}!${_split(a)}:${_split(b)}"
                names.append(
                    f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
                    f"{xml_text(ref)}</definedName>"
                )
            if s.print_titles:
                names.append(
                    f'<definedName name="_xlnm.Print_Titles" localSheetId="{i}">'
                    f"{xml_text(quoted)}!$1:$1</definedName>"
                )
        put(
            "xl/workbook.xml",
            f'{_XML_DECL}<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
            '<workbookPr/><bookViews><workbookView activeTab="0"/></bookViews><sheets>'
            + "".join(
                f'<sheet name={xml_attr(s.name)} sheetId="{i}" r:id="rId{i}"/>'
                for i, s in enumerate(sheets, start=1)
            )
            + "</sheets>"
            + (f"<definedNames>{''.join(names)}</definedNames>" if names else "")
            + '<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>',
        )
        rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
        put(
            "xl/_rels/workbook.xml.rels",
            f'{_XML_DECL}<Relationships xmlns="{PKG_REL_NS}">'
            + "".join(
                f'<Relationship Id="rId{i}" Type="{rel}/worksheet" '
                f'Target="worksheets/sheet{i}.xml"/>'
                for i in range(1, n + 1)
            )
            + f'<Relationship Id="rId{n + 1}" Type="{rel}/styles" Target="styles.xml"/>'
            f'<Relationship Id="rId{n + 2}" Type="{rel}/theme" Target="theme/theme1.xml"/>'
            f'<Relationship Id="rId{n + 3}" Type="{rel}/sharedStrings" '
            'Target="sharedStrings.xml"/></Relationships>',
        )
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        put(
            "docProps/core.xml",
            f"{_XML_DECL}<cp:coreProperties "
            'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            + (f"<dc:title>{xml_text(self._title)}</dc:title>" if self._title else "")
            + f"<dc:creator>{xml_text(self._creator)}</dc:creator>"
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{now}</dcterms:modified>'
            "</cp:coreProperties>",
        )
        put(
            "docProps/app.xml",
            f"{_XML_DECL}<Properties "
            'xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
            f"<Application>{xml_text(self._creator)}</Application></Properties>",
        )
        put(
            "_rels/.rels",
            f'{_XML_DECL}<Relationships xmlns="{PKG_REL_NS}">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" '
            'Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
            'core-properties" Target="docProps/core.xml"/>'
            f'<Relationship Id="rId3" Type="{rel}/extended-properties" '
            'Target="docProps/app.xml"/></Relationships>',
        )
        ct = "application/vnd.openxmlformats-officedocument"
        put(
            "[Content_Types].xml",
            f"{_XML_DECL}<Types "
            'xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" '
            f'ContentType="{ct}.spreadsheetml.sheet.main+xml"/>'
            + "".join(
                f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
                f'ContentType="{ct}.spreadsheetml.worksheet+xml"/>'
                for i in range(1, n + 1)
            )
            + f'<Override PartName="/xl/styles.xml" ContentType="{ct}.spreadsheetml.styles+xml"/>'
            f'<Override PartName="/xl/theme/theme1.xml" ContentType="{ct}.theme+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" '
            f'ContentType="{ct}.spreadsheetml.sharedStrings+xml"/>'
            '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
            '<Override PartName="/docProps/app.xml" '
            f'ContentType="{ct}.extended-properties+xml"/></Types>',
        )


def _split(ref: str) -> str:
    """'P291' -> 'P$291' (an absolute reference once prefixed with '$')."""
    i = next(i for i, ch in enumerate(ref) if ch.isdigit())
    return f"{ref[:i]}${ref[i:]}"


def _theme_xml() -> str:
    # The default Office theme (fonts and colours the styles' theme references point at),
    # as openpyxl ships it.
    from openpyxl.writer.theme import theme_xml

    return str(theme_xml)
