"""The demo clinic's October 2026 billing workbook, compared cell by cell with a reviewed golden
copy, and read back through LibreOffice (`soffice --headless --convert-to csv`) with the same
values (issue 7 acceptance).

Regenerate the golden file only after an intentional change to the demo data or the workbook
layout, and review the difference before committing it:
    IOPDESK_REGEN_GOLDEN=1 python -m pytest tests/test_billing_golden.py
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from iopdesk.db import Database
from iopdesk.demo import DEMO_PASSWORD, create_demo_clinic
from iopdesk.reports import PART2_NOTICE
from iopdesk.reports.billing import CLAIM_HEADERS, CLAIM_SHEET, EXCEPTION_SHEET, SUMMARY_SHEET
from iopdesk.services import billing
from iopdesk.services.auth import login
from tests.test_demo import TODAY

GOLDEN = Path(__file__).parent / "golden" / "demo-billing-2026-10.xlsx"
PERIOD = (date(2026, 10, 1), date(2026, 10, 31))
SHEETS = [CLAIM_SHEET, EXCEPTION_SHEET, SUMMARY_SHEET]
REQUIRE_TOOLS = os.environ.get("IOPDESK_REQUIRE_TOOLS") == "1"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("golden")
    db = Database.open(folder / "demo.db", create=True, key=os.urandom(32))
    try:
        create_demo_clinic(db, today=TODAY)
        biller = login(db, "billing", DEMO_PASSWORD)
        out = folder / "demo-billing.xlsx"
        result = billing.export(db, biller, *PERIOD, out)
        assert result.batch_number and result.lines > 0
        if os.environ.get("IOPDESK_REGEN_GOLDEN") == "1":
            GOLDEN.parent.mkdir(exist_ok=True)
            shutil.copyfile(out, GOLDEN)
        yield out
    finally:
        db.close()


def _cells(path: Path) -> dict[str, list[list[Any]]]:
    wb = load_workbook(path)
    return {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in wb.worksheets}


def test_demo_workbook_matches_golden_cell_by_cell(exported: Path) -> None:
    got, want = load_workbook(exported), load_workbook(GOLDEN)
    assert got.sheetnames == want.sheetnames == SHEETS
    for name in SHEETS:
        g, w = got[name], want[name]
        assert (g.max_row, g.max_column) == (w.max_row, w.max_column), name
        for grow, wrow in zip(g.iter_rows(), w.iter_rows(), strict=True):
            for gc, wc in zip(grow, wrow, strict=True):
                where = f"{name}!{gc.coordinate}"
                assert gc.value == wc.value, where
                assert type(gc.value) is type(wc.value), where
                assert gc.number_format == wc.number_format, where
                assert gc.font.b == wc.font.b, where
        assert g.freeze_panes == w.freeze_panes
        assert g.auto_filter.ref == w.auto_filter.ref
        widths = {k: d.width for k, d in g.column_dimensions.items()}
        assert widths == {k: d.width for k, d in w.column_dimensions.items()}


def test_golden_workbook_shape(exported: Path) -> None:
    """What the golden copy itself must show, so a bad regeneration cannot slip through."""
    sheets = _cells(GOLDEN)
    claims = sheets[CLAIM_SHEET]
    assert tuple(claims[0]) == CLAIM_HEADERS
    rows = claims[1:]
    assert len(rows) > 100
    keys = [(r[0], r[6], r[7]) for r in rows]
    assert keys == sorted(keys)  # MRN, date of service, code
    assert len(set(keys)) == len(keys)  # one line per client-day (per diem) or session
    for r in rows:
        assert isinstance(r[6], datetime) and PERIOD[0] <= r[6].date() <= PERIOD[1]
        assert isinstance(r[2], datetime)  # DOB is a real date
        assert isinstance(r[10], int) and isinstance(r[11], (int, float)) and r[11] > 0
        assert r[1].count(", ") == 1  # "Last, First"
        code, mods, rev, pos = r[7], r[8], r[9], r[16]
        # one pointer letter (A-L) per diagnosis in the Diagnosis Codes column, at most 4
        pointers, n_codes = r[13].split(","), len(str(r[12]).split(","))
        assert 1 <= len(pointers) <= min(4, n_codes)
        assert all(p in "ABCDEFGHIJKL"[:n_codes] for p in pointers) and pointers[0] == "A"
        if code in ("H0015", "S9480"):
            assert (r[10], rev) == (1, {"H0015": "0906", "S9480": "0905"}[code])
        else:
            assert rev is None or rev == ""
        if code == "90853":
            assert str(mods).startswith("HQ")
        assert ("95" in str(mods or "").split(",")) == (pos in ("02", "10"))
    summary = sheets[SUMMARY_SHEET]
    assert summary[0][0] == "Batch Number" and summary[0][1] == "B000001"
    total = next(r for r in summary if r[0] == "Total")
    assert total[2] == len(rows)
    assert round(total[4], 2) == round(sum(r[11] for r in rows), 2)
    assert any(r[0] == PART2_NOTICE for r in summary)  # the demo has SUD (Part 2) clients
    exceptions = sheets[EXCEPTION_SHEET]
    assert tuple(exceptions[0]) == ("MRN", "Client", "Date of Service", "Reason")
    assert len(exceptions) > 1


def _soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def _libreoffice_csv(
    xlsx: Path, out_dir: Path, sheets: list[str] = SHEETS
) -> dict[str, list[list[str]]]:
    """Every sheet as LibreOffice shows it (one CSV per sheet, UTF-8, cells as displayed)."""
    exe = _soffice()
    assert exe is not None
    profile = out_dir / "lo-profile"
    # filter options: comma, quote, UTF-8, line 1, -, language, quoted text, detect numbers,
    # save cell contents as shown, export formulas, remove space, sheet -1 = every sheet
    options = "44,34,76,1,,0,false,true,true,false,false,-1"
    subprocess.run(
        [
            exe,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            f"csv:Text - txt - csv (StarCalc):{options}",
            "--outdir",
            str(out_dir),
            str(xlsx),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    result = {}
    for name in sheets:
        path = out_dir / f"{xlsx.stem}-{name}.csv"
        with path.open(encoding="utf-8", newline="") as fh:
            result[name] = list(csv.reader(fh))
    return result


def _shown(value: Any, number_format: str) -> str:
    """The text a spreadsheet shows for an openpyxl value with the export's formats."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, (int, float)) and "$" in number_format:
        return f"${value:,.2f}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def test_libreoffice_reads_the_same_values(exported: Path, tmp_path: Path) -> None:
    if _soffice() is None:
        if REQUIRE_TOOLS:
            pytest.fail("LibreOffice (soffice) is required here: install libreoffice-calc-nogui")
        pytest.skip("LibreOffice is not installed")
    shown = _libreoffice_csv(exported, tmp_path)
    wb = load_workbook(exported)
    for name in SHEETS:
        ws = wb[name]
        want = [[_shown(c.value, c.number_format) for c in row] for row in ws.iter_rows()]
        got = shown[name]
        assert len(got) == len(want), name
        for r, (grow, wrow) in enumerate(zip(got, want, strict=True), start=1):
            padded = grow + [""] * (len(wrow) - len(grow))
            assert padded[: len(wrow)] == wrow, f"{name} row {r}"
