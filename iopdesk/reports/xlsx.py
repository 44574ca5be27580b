"""The one XLSX writer behind every export (billing, attendance report, clinic workbook, audit
report): XlsxWriter, a maintained library, in `constant_memory` mode (rows go to disk as they
are appended, memory holds one row), with `strings_to_formulas`, `strings_to_urls` and
`strings_to_numbers` off. Every str is written as a text cell, so a client named
`=HYPERLINK(...)`, `+1 555`, `-x`, `@user` or one starting with a tab or CR stays text and
reads back unchanged. openpyxl stays for reading workbooks.

No temporary file lands in the system temp folder: XlsxWriter's row buffers live in a private
folder beside the output (`<path>.d`), removed when the book is closed or aborted. Callers
write to `<target>.partial` (see `partial_path`) and rename it onto the target on success.

    with Book(path, title="Billing export") as book:
        head = book.style(bold=True, fill="DDE4EE")
        ws = book.sheet("Claims", widths=(12, 28), freeze_rows=1, auto_filter=True)
        ws.append(("MRN", "Client"), (head, head))
        ws.append(("M001", "Diaz, Ana"))
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from math import isfinite
from pathlib import Path
from types import TracebackType
from typing import Any

# Characters XML 1.0 cannot hold (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF)
ILLEGAL_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Text a spreadsheet program would treat as a formula or command when typed: always a text
# cell here (write_string), never parsed.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
MAX_ROWS = 1_048_576
MAX_TEXT = 32_767
PARTIAL_SUFFIX = ".partial"
_NO_STYLES: tuple[None, ...] = ()
_TEXT_CACHE = 50_000


def clean_text(value: str) -> str:
    """`value` without the characters an XML file cannot hold (cut to a cell's 32,767)."""
    text = ILLEGAL_XML_CHARS.sub("", value)
    return text[:MAX_TEXT]


_OOXML_ESCAPE = re.compile("_x([0-9A-Fa-f]{4})_")


def read_text(value: Any) -> Any:
    """A value read by openpyxl with OOXML's `_xHHHH_` escapes undone (a CR is stored as
    `_x000D_`; openpyxl hands the escape through as it is)."""
    if isinstance(value, str) and "_x" in value:
        return _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
    return value


def partial_path(target: Path) -> Path:
    """`<target>.partial`: where an export is written before it is renamed onto `target`."""
    return target.with_name(target.name + PARTIAL_SUFFIX)


def _work_dir(path: Path) -> Path:
    return path.with_name(path.name + ".d")


def remove_leftovers(path: Path) -> None:
    """Remove what a killed export left at `path` (the file and its row-buffer folder)."""
    with contextlib.suppress(OSError):
        path.unlink()
    shutil.rmtree(_work_dir(path), ignore_errors=True)


def footer_text(text: str) -> str:
    """Literal text for a header/footer section ('&' starts a code; a literal one is '&&')."""
    return text.replace("&", "&&")


class Sheet:
    """One worksheet: `append(values, styles)` row by row (rows cannot be revisited)."""

    def __init__(self, book: Book, ws: Any, auto_filter: bool) -> None:
        self._book = book
        self._ws = ws
        self._auto_filter = auto_filter
        self.rows = 0  # rows appended so far, empty ones included
        self.columns = 0
        self._table_end: tuple[int, int] | None = None
        self._texts: dict[str, str] = {}  # cleaned text per distinct value (MRNs, codes ...)
        # XlsxWriter's typed writers without the A1-notation wrapper of the public methods
        # (the hot path of a year's billing export: ~450,000 cells)
        self._string = getattr(ws, "_write_string", ws.write_string)
        self._number = getattr(ws, "_write_number", ws.write_number)
        self._datetime = getattr(ws, "_write_datetime", ws.write_datetime)
        self._blank = getattr(ws, "_write_blank", ws.write_blank)

    def append(self, values: Sequence[Any], styles: Sequence[Any] | None = None) -> None:
        """Add the next row. `values` may hold str, int, float, Decimal, bool, date, datetime or
        None (None and '' leave the cell empty); `styles` (from `Book.style`, None = plain)
        runs parallel to values; an empty cell with a style is written blank with it. A date
        without a style gets the yyyy-mm-dd format."""
        if self.rows >= MAX_ROWS:
            raise ValueError(f"A sheet holds at most {MAX_ROWS:,} rows.")
        r = self.rows
        self.rows += 1
        n = len(values)
        if n > self.columns:
            self.columns = n
        if styles is None:
            styles = _NO_STYLES
        elif len(styles) < n:
            styles = tuple(styles) + (None,) * (n - len(styles))
        texts = self._texts
        string, number, when = self._string, self._number, self._datetime
        for c, value in enumerate(values):
            fmt = styles[c] if c < len(styles) else None
            kind = type(value)
            if kind is str:
                text = texts.get(value)
                if text is None:
                    text = self._text(value)
                if text:
                    string(r, c, text, fmt)
                elif fmt is not None:
                    self._blank(r, c, None, fmt)
            elif kind is int or kind is Decimal or kind is float:
                if kind is int:
                    number(r, c, value, fmt)
                elif isfinite(value):  # a spreadsheet has no NaN or infinity
                    number(r, c, float(value), fmt)
            elif kind is date:
                when(r, c, value, fmt if fmt is not None else self._book.date_style)
            elif value is None:
                if fmt is not None:  # an empty cell keeps its format (typed into later)
                    self._blank(r, c, None, fmt)
            else:
                self._other(r, c, value, fmt)

    def _text(self, value: str) -> str:
        text = clean_text(value)
        if len(self._texts) < _TEXT_CACHE:
            self._texts[value] = text
        return text

    def _other(self, r: int, c: int, value: Any, fmt: Any) -> None:
        if isinstance(value, bool):
            self._ws.write_boolean(r, c, value, fmt)
        elif isinstance(value, str):  # a str subclass (StrEnum ...)
            text = clean_text(str(value))
            if text:
                self._string(r, c, text, fmt)
        elif isinstance(value, int | float | Decimal):
            if isfinite(value):
                self._number(r, c, int(value) if isinstance(value, int) else float(value), fmt)
        elif isinstance(value, datetime | date):
            if isinstance(value, datetime):
                if value.tzinfo is not None:
                    raise TypeError("Spreadsheet dates cannot hold a time zone; use local time.")
                default = self._book.datetime_style
            else:
                default = self._book.date_style
            self._datetime(r, c, value, fmt if fmt is not None else default)
        elif isinstance(value, time):
            raise TypeError("Time-of-day cells are not supported; write a datetime or text.")
        else:
            raise TypeError(f"Cannot write a {type(value).__name__} to a spreadsheet cell.")

    def end_table(self) -> None:
        """The auto-filter ends here: rows appended later (a notice) are not filtered."""
        self._table_end = (self.rows, self.columns)

    def _finish(self) -> None:
        if self._auto_filter:
            rows, columns = self._table_end or (self.rows, self.columns)
            self._ws.autofilter(0, 0, max(rows - 1, 0), max(columns - 1, 0))


class Book:
    """A workbook written to `path` (see the module docstring). As a context manager: leaving
    the block normally completes the file; an exception removes it and its row buffers."""

    def __init__(
        self,
        path: Path | str,
        *,
        title: str = "",
        subject: str = "",
        comments: str = "",
        creator: str = "IOPDesk",
    ) -> None:
        import xlsxwriter

        self.path = Path(path)
        self._work = _work_dir(self.path)
        shutil.rmtree(self._work, ignore_errors=True)
        self._work.mkdir()
        self._sheets: list[Sheet] = []
        self._closed = False
        self._wb = xlsxwriter.Workbook(
            str(self.path),
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "tmpdir": str(self._work),
            },
        )
        self._wb.set_properties(
            {"title": title, "subject": subject, "comments": comments, "author": creator}
        )
        self._styles: dict[tuple[Any, ...], Any] = {}
        self.date_style = self.style(number_format=DATE_FORMAT)
        self.datetime_style = self.style(number_format=DATETIME_FORMAT)

    def style(
        self,
        *,
        number_format: str | None = None,
        bold: bool = False,
        fill: str | None = None,
        color: str | None = None,
        size: float | None = None,
        align: str | None = None,
    ) -> Any:
        """A cell style: number format code, bold, solid fill and font colour ('RRGGBB'),
        font size, horizontal alignment ('left', 'right', 'center')."""
        key = (number_format, bold, fill, color, size, align)
        found = self._styles.get(key)
        if found is not None:
            return found
        props: dict[str, Any] = {}
        if number_format:
            props["num_format"] = number_format
        if bold:
            props["bold"] = True
        if fill:
            props["pattern"] = 1
            props["bg_color"] = "#" + fill.lstrip("#")
        if color:
            props["font_color"] = "#" + color.lstrip("#")
        if size:
            props["font_size"] = size
        if align:
            props["align"] = align
        fmt = self._wb.add_format(props)
        self._styles[key] = fmt
        return fmt

    def sheet(
        self,
        name: str,
        *,
        widths: Sequence[float] = (),
        freeze_rows: int = 0,
        auto_filter: bool = False,
        print_titles: bool = False,
        landscape: bool = False,
        fit_width: bool = False,
        header: tuple[str, str] | None = None,
        footer: tuple[str, str] | str | None = None,
    ) -> Sheet:
        """Add the next sheet. `freeze_rows` freezes the top rows; `auto_filter` filters row
        1 over every written row and column; `print_titles` repeats row 1 on printed pages;
        `header`/`footer` are printed (left, right) texts; a plain str footer is left only.
        Header and footer texts are literal ('&' is escaped here)."""
        ws = self._wb.add_worksheet(name)
        for i, width in enumerate(widths):
            ws.set_column(i, i, width)
        if freeze_rows:
            ws.freeze_panes(freeze_rows, 0)
        if print_titles:
            ws.repeat_rows(0)
        if landscape:
            ws.set_landscape()
        if fit_width:
            ws.set_paper(1)  # Letter
            ws.fit_to_pages(1, 0)
        if header:
            left, right = header
            ws.set_header(_sections(left, right))
        if footer:
            left, right = (footer, "") if isinstance(footer, str) else footer
            ws.set_footer(_sections(left, right, raw_right=True))
        sheet = Sheet(self, ws, auto_filter)
        self._sheets.append(sheet)
        return sheet

    def close(self) -> None:
        """Complete the file. An OSError (disk full, no permission) comes out as itself."""
        if self._closed:
            return
        self._closed = True
        from xlsxwriter.exceptions import FileCreateError

        try:
            for sheet in self._sheets:
                sheet._finish()
            self._wb.close()
        except FileCreateError as exc:
            self._abandon()
            inner = exc.args[0] if exc.args else None
            if isinstance(inner, OSError):
                raise inner from None
            raise
        except BaseException:
            self._abandon()
            raise
        shutil.rmtree(self._work, ignore_errors=True)

    def abort(self) -> None:
        """Give the file up: close the row buffers, remove them and the partial file."""
        if self._closed:
            return
        self._closed = True
        self._abandon()

    def _abandon(self) -> None:
        self._wb.fileclosed = True  # nothing left to write; silence XlsxWriter's destructor
        for ws in self._wb.worksheets():
            fh = getattr(ws, "row_data_fh", None)
            if fh is not None:
                with contextlib.suppress(Exception):
                    fh.close()
        remove_leftovers(self.path)

    def __enter__(self) -> Book:
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


def _sections(left: str, right: str, raw_right: bool = False) -> str:
    """'&L<left>&R<right>'; `raw_right` keeps codes such as 'Page &P of &N' in the right."""
    out = ""
    if left:
        out += "&L" + footer_text(left)
    if right:
        out += "&R" + (right if raw_right else footer_text(right))
    return out
