"""Billing rules, batches and the Excel export (issue 7 items 3-4), on SQLite and PostgreSQL.

Test data comes in through the spreadsheet import: each test writes a small workbook.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlmodel import col, select

from iopdesk.demo import npi_check_digit
from iopdesk.errors import PermissionDenied, UserError, ValidationError
from iopdesk.models import AuditEvent, BillingBatch, BillingLine, Disclosure
from iopdesk.reports import billing as writer
from iopdesk.services import billing
from iopdesk.services.actor import Actor
from iopdesk.services.billing import BillingRun, ClaimLine
from iopdesk.services.workbook import COLUMNS, import_workbook
from tests.conftest import Env

Rows = list[list[Any]]


def npi(first_nine: str) -> str:
    return first_nine + str(npi_check_digit(first_nine))


NPI_BILL, NPI_1, NPI_2 = npi("111222333"), npi("198765432"), npi("155544433")
D1 = date(2026, 3, 2)  # a Monday
D2, D3, D4, D5 = (D1 + timedelta(days=i) for i in range(1, 5))


def base() -> dict[str, Rows]:
    return {
        "Clinic": [["setting", "value"], ["billing_npi", NPI_BILL], ["office_pos", "11"]],
        "Staff": [
            list(COLUMNS["Staff"]),
            ["ST1", "Maria", "Lopez", "LCSW", NPI_1, "therapist", None],
            ["ST2", "Sam", "Ng", "LPC", NPI_2, "therapist", None],
        ],
        "Payers": [
            list(COLUMNS["Payers"]),
            ["MCD", "State Medicaid", "per_diem", "no"],
            ["ACME", "Acme Health", "per_service", "no"],
            ["AUTHP", "Auth Plan", "per_service", "yes"],
            ["AUTHD", "Auth Diem", "per_diem", "yes"],
        ],
        "Fees": [
            list(COLUMNS["Fees"]),
            ["MCD", "H0015", 150],
            ["MCD", "S9480", "200.50"],
            ["AUTHD", "H0015", 140],
            ["ACME", "90853", 55.25],
            ["ACME", "90832", 80],
            ["ACME", "90834", 100],
            ["ACME", "90837", 150],
            ["ACME", "90847", 120],
            ["ACME", "90791", 200],
            ["AUTHP", "90834", 100],
        ],
        "Tracks": [
            list(COLUMNS["Tracks"]),
            [
                "SUD",
                "Adult SUD",
                "IOP",
                "adult",
                None,
                "Mon,Tue,Wed,Thu,Fri",
                "09:00",
                "12:00",
                "H0015",
            ],
            [
                "PSY",
                "Adult MH",
                "IOP",
                "adult",
                None,
                "Mon,Tue,Wed,Thu,Fri",
                "09:00",
                "12:00",
                "S9480",
            ],
            ["NOC", "No Code", "IOP", "adult", None, "Mon,Tue,Wed,Thu,Fri", "09:00", "12:00", None],
        ],
        "Clients": [list(COLUMNS["Clients"])],
        "Authorizations": [list(COLUMNS["Authorizations"])],
        "Sessions": [list(COLUMNS["Sessions"])],
        "Attendance": [list(COLUMNS["Attendance"])],
    }


def client(
    book: dict[str, Rows],
    mrn: str,
    track: str = "PSY",
    payer: str | None = "ACME",
    member: str | None = "M-1",
    diagnoses: str | None = "F33.1",
    therapist: str | None = "ST2",
    first: str = "Ana",
    last: str = "Diaz",
) -> None:
    book["Clients"].append(
        [
            mrn,
            first,
            last,
            None,
            date(1990, 4, 5),
            None,
            None,
            None,
            None,
            track,
            date(2026, 1, 5),
            None,
            therapist,
            payer,
            member,
            diagnoses,
            None,
        ]
    )


def session(
    book: dict[str, Rows],
    sid: str,
    kind: str,
    day: date,
    minutes: int,
    *,
    mrn: str | None = None,
    track: str | None = None,
    start: time = time(13, 0),
    fac: str = "ST1",
    telehealth: str = "no",
    note: str = "signed",
) -> None:
    end = (datetime.combine(day, start) + timedelta(minutes=minutes)).time()
    book["Sessions"].append(
        [
            sid,
            kind,
            track,
            mrn,
            day,
            start.strftime("%H:%M"),
            end.strftime("%H:%M"),
            fac,
            None,
            "held",
            telehealth,
            note,
        ]
    )


def group(
    book: dict[str, Rows],
    sid: str,
    day: date,
    minutes: int,
    mrns: list[str],
    *,
    track: str = "PSY",
    note: str = "signed",
    telehealth: str = "no",
    start: time = time(9, 0),
) -> None:
    session(
        book, sid, "group", day, minutes, track=track, note=note, telehealth=telehealth, start=start
    )
    for m in mrns:
        book["Attendance"].append([sid, m, "present", None])


def load(env: Env, tmp_path: Path, book: dict[str, Rows]) -> None:
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in book.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    path = tmp_path / "import.xlsx"
    wb.save(path)
    import_workbook(env.db, env.world.admin, path)


def run(env: Env, start: date = D1, end: date = D5, **kw: Any) -> BillingRun:
    return billing.preview(env.db, env.world.billing, start, end, **kw)


def codes(r: BillingRun) -> list[tuple[str, date, str]]:
    return [(ln.mrn, ln.date_of_service, ln.procedure_code) for ln in r.lines]


def reasons(r: BillingRun) -> list[tuple[str, date, str]]:
    return [(e.mrn, e.date_of_service, e.reason) for e in r.exceptions]


# ------------------------------------------------------------------------------------------


def test_per_service_codes_boundaries_and_telehealth(env: Env, tmp_path: Path) -> None:
    book = base()
    client(book, "A1")
    for i, (kind, minutes) in enumerate(
        [
            ("individual", 15),
            ("individual", 16),
            ("individual", 37),
            ("individual", 38),
            ("individual", 52),
            ("individual", 53),
            ("family", 25),
            ("family", 26),
            ("intake", 20),
        ]
    ):
        session(book, f"S{i}", kind, D1 + timedelta(days=i), minutes, mrn="A1")
    session(book, "TH", "individual", D1 + timedelta(days=9), 60, mrn="A1", telehealth="home")
    session(book, "TO", "individual", D1 + timedelta(days=10), 60, mrn="A1", telehealth="office")
    group(book, "G1", D1 + timedelta(days=11), 90, ["A1"], telehealth="home")
    group(book, "G2", D1 + timedelta(days=12), 90, ["A1"])
    load(env, tmp_path, book)
    r = run(env, D1, D1 + timedelta(days=12))
    got = [(ln.procedure_code, ln.modifiers, ln.place_of_service) for ln in r.lines]
    days = {ln.date_of_service: ln for ln in r.lines}
    assert [days[D1 + timedelta(days=i)].procedure_code for i in range(1, 6)] == [
        "90832",
        "90832",
        "90834",
        "90834",
        "90837",
    ]
    assert days[D1 + timedelta(days=7)].procedure_code == "90847"
    assert days[D1 + timedelta(days=8)].procedure_code == "90791"
    assert (
        days[D1 + timedelta(days=9)].place_of_service,
        days[D1 + timedelta(days=9)].modifiers,
    ) == ("10", "95")
    assert (
        days[D1 + timedelta(days=10)].place_of_service,
        days[D1 + timedelta(days=10)].modifiers,
    ) == ("02", "95")
    g1, g2 = days[D1 + timedelta(days=11)], days[D1 + timedelta(days=12)]
    assert (g1.procedure_code, g1.modifiers, g1.place_of_service) == ("90853", "HQ,95", "10")
    assert (g2.procedure_code, g2.modifiers, g2.place_of_service) == ("90853", "HQ", "11")
    assert len(got) == 11
    assert reasons(r) == [
        ("A1", D1, "under 16 minutes"),
        ("A1", D1 + timedelta(days=6), "under 26 minutes"),
    ]
    # charges, revenue code, NPIs, sorting
    assert days[D1 + timedelta(days=5)].charge == Decimal("150.00")
    assert g2.charge == Decimal("55.25") and g2.revenue_code == ""
    assert all(ln.rendering_npi == NPI_1 and ln.billing_npi == NPI_BILL for ln in r.lines)
    assert [ln.date_of_service for ln in r.lines] == sorted(ln.date_of_service for ln in r.lines)
    assert {s.key: (s.lines, s.units) for s in r.by_payer} == {"ACME": (11, 11)}


def test_per_diem_lines_bundling_minimum_and_notes(env: Env, tmp_path: Path) -> None:
    book = base()
    client(book, "D1", track="SUD", payer="MCD", therapist="ST2", first="Dee", last="Ell")
    client(book, "D2", track="PSY", payer="MCD")
    client(book, "D3", track="NOC", payer="MCD")
    # D1: day 1 180 min group + an individual (bundled); day 2 two groups 60+60 = 120;
    # day 3 unsigned group 180; day 4 signed 180 + unsigned individual (still a line)
    group(book, "G1", D1, 180, ["D1", "D2", "D3"], track="SUD")
    session(book, "I1", "individual", D1, 45, mrn="D1")
    group(book, "G2a", D2, 60, ["D1"], track="SUD")
    group(book, "G2b", D2, 60, ["D1"], track="SUD", start=time(10, 30))
    group(book, "G3", D3, 180, ["D1"], track="SUD", note="unsigned")
    group(book, "G4", D4, 180, ["D1"], track="SUD")
    session(book, "I4", "individual", D4, 30, mrn="D1", note="missing")
    # day 5: 150 signed + 30 unsigned -> below 180 with signed notes -> note not signed
    group(book, "G5", D5, 150, ["D1"], track="SUD")
    session(book, "I5", "individual", D5, 30, mrn="D1", note="unsigned")
    load(env, tmp_path, book)
    r = run(env)
    assert codes(r) == [("D1", D1, "H0015"), ("D1", D4, "H0015"), ("D2", D1, "S9480")]
    first = r.lines[0]
    assert (first.units, first.revenue_code, first.charge) == (1, "0906", Decimal("150.00"))
    assert first.session_id is None and first.client == "Ell, Dee"
    assert first.rendering_npi == NPI_2  # the primary therapist, not the facilitator
    assert first.place_of_service == "11" and first.modifiers == ""
    assert r.lines[2].revenue_code == "0905" and r.lines[2].charge == Decimal("200.50")
    assert reasons(r) == [
        ("D1", D2, "below per-diem minimum (120 of 180 min)"),
        ("D1", D3, "note not signed"),
        ("D1", D5, "note not signed"),
        ("D3", D1, "no per-diem code"),
    ]
    assert r.lines[0].part2 and not r.lines[2].part2


def test_per_diem_minimum_setting_and_telehealth(env: Env, tmp_path: Path) -> None:
    book = base()
    book["Clinic"].append(["per_diem_minimum_minutes", 120])
    client(book, "D1", track="SUD", payer="MCD")
    group(book, "G1", D1, 120, ["D1"], track="SUD", telehealth="home")
    group(book, "G2", D2, 119, ["D1"], track="SUD")
    load(env, tmp_path, book)
    r = run(env)
    assert [(ln.place_of_service, ln.modifiers) for ln in r.lines] == [("10", "95")]
    assert reasons(r) == [("D1", D2, "below per-diem minimum (119 of 120 min)")]


def test_exception_precedence_and_no_fee(env: Env, tmp_path: Path) -> None:
    book = base()
    # each client has every later problem too: unsigned note and 10 minutes
    client(book, "E1", payer=None, member=None, diagnoses=None)
    client(book, "E2", member=None, diagnoses=None)
    client(book, "E3", diagnoses=None)
    client(book, "E4")
    client(book, "E5")
    client(book, "E6", payer="AUTHP")  # no fee for 90832, and no authorization
    client(book, "E7", payer="AUTHP")  # fee, no authorization
    for m in ("E1", "E2", "E3", "E4"):
        session(book, f"S{m}", "individual", D1, 10, mrn=m, note="unsigned")
    session(book, "SE5", "individual", D1, 10, mrn="E5")
    session(book, "SE6", "individual", D1, 20, mrn="E6")
    session(book, "SE7", "individual", D1, 40, mrn="E7")
    load(env, tmp_path, book)
    r = run(env)
    assert r.lines == []
    assert reasons(r) == [
        ("E1", D1, "no payer"),
        ("E2", D1, "no member ID"),
        ("E3", D1, "no diagnosis"),
        ("E4", D1, "note not signed"),
        ("E5", D1, "under 16 minutes"),
        ("E6", D1, "no fee for 90832"),
        ("E7", D1, "no authorization"),
    ]
    # per-diem payers check the client reasons first too
    assert [e.client for e in r.exceptions][:1] == ["Diaz, Ana"]


def test_authorization_units_in_date_order(env: Env, tmp_path: Path) -> None:
    book = base()
    client(book, "A1", payer="AUTHP")
    book["Authorizations"].append(["A1", "AUTHP", "AU-1", "90834", D1, D3, 2])
    for i, day in enumerate((D1, D2, D3, D4)):
        session(book, f"S{i}", "individual", day, 45, mrn="A1")
    client(book, "A2", track="SUD", payer="AUTHD")
    book["Authorizations"].append(["A2", "AUTHD", "AU-2", "H0015", D1, D5, 1])
    book["Authorizations"].append(["A2", "AUTHD", "AU-3", "H0015", D2, D2, 1])
    for i, day in enumerate((D1, D2, D3)):
        group(book, f"G{i}", day, 180, ["A2"], track="SUD")
    load(env, tmp_path, book)
    r = run(env)
    assert [(ln.mrn, ln.date_of_service, ln.auth_number) for ln in r.lines] == [
        ("A1", D1, "AU-1"),
        ("A1", D2, "AU-1"),
        ("A2", D1, "AU-2"),
        ("A2", D2, "AU-3"),  # the authorization ending first is used first
    ]
    assert all(ln.authorization_id for ln in r.lines)
    assert reasons(r) == [
        ("A1", D3, "authorization exhausted"),
        ("A1", D4, "no authorization"),
        ("A2", D3, "authorization exhausted"),
    ]
    # units billed in earlier batches count: export day 1, then preview the rest
    billing.export(env.db, env.world.billing, D1, D1, tmp_path / "b1.xlsx")
    r2 = run(env, D2, D3)
    assert [(ln.mrn, ln.date_of_service, ln.auth_number) for ln in r2.lines] == [
        ("A1", D2, "AU-1"),
        ("A2", D2, "AU-3"),
    ]
    # re-including billed lines does not count their own units twice
    r3 = run(env, D1, D3, include_billed=True)
    assert len(r3.lines) == 4


def test_formatting_diagnoses_and_rendering(env: Env, tmp_path: Path) -> None:
    book = base()
    client(book, "F1", diagnoses="F41.1, f1020, F33.1", first="Zoe", last="O'Neil")
    session(book, "S1", "individual", D1, 60, mrn="F1", fac="ST2", telehealth="office")
    group(book, "G1", D2, 90, ["F1"], telehealth="office")
    load(env, tmp_path, book)
    r = run(env)
    assert [ln.client for ln in r.lines] == ["O'Neil, Zoe"] * 2
    assert r.lines[0].diagnosis_codes == "F41.1,F10.20,F33.1"
    assert (r.lines[0].rendering_npi, r.lines[1].rendering_npi) == (NPI_2, NPI_1)
    assert r.lines[1].modifiers == "HQ,95"
    assert r.lines[0].member_id == "M-1" and r.lines[0].payer == "ACME"


def test_only_held_attended_in_range(env: Env, tmp_path: Path) -> None:
    book = base()
    client(book, "H1")
    group(book, "G1", D1, 90, [])
    book["Attendance"].append(["G1", "H1", "absent_unexcused", None])
    session(book, "S2", "individual", D2, 60, mrn="H1")
    book["Sessions"][-1][9] = "cancelled"
    book["Sessions"][-1][11] = None
    group(book, "G3", D3, 90, [])
    book["Attendance"].append(["G3", "H1", "late", 70])
    session(book, "S6", "individual", D5 + timedelta(days=1), 60, mrn="H1")
    load(env, tmp_path, book)
    r = run(env)
    assert codes(r) == [("H1", D3, "90853")]
    assert r.exceptions == []
    assert codes(run(env, payer_code="MCD")) == []
    with pytest.raises(ValidationError):
        run(env, payer_code="NOPE")
    with pytest.raises(ValidationError):
        run(env, D2, D1)


def _two_clients(env: Env, tmp_path: Path) -> None:
    book = base()
    client(book, "B1")
    client(book, "B2", track="SUD", payer="MCD", first="Bo", last="Part")
    for i, day in enumerate((D1, D2, D3, D4)):
        session(book, f"S{i}", "individual", day, 45, mrn="B1")
        group(book, f"G{i}", day, 180, ["B2"], track="SUD")
    load(env, tmp_path, book)


def test_double_billing_include_billed_and_void(env: Env, tmp_path: Path) -> None:
    _two_clients(env, tmp_path)
    who = env.world.billing
    first = billing.export(env.db, who, D1, D3, tmp_path / "one.xlsx")
    second = billing.export(env.db, who, D2, D4, tmp_path / "two.xlsx")
    assert (first.lines, second.lines) == (6, 2)
    assert first.batch_number and first.batch_number != second.batch_number
    assert first.total == Decimal("750.00")
    with env.db.session() as s:
        keys = s.exec(
            select(
                col(BillingLine.client_id),
                col(BillingLine.date_of_service),
                col(BillingLine.procedure_code),
            )
        ).all()
    assert len(keys) == 8 == len(set(keys))
    assert run(env, D1, D4).lines == []
    assert len(run(env, D1, D4, include_billed=True).lines) == 8
    again = billing.export(env.db, who, D1, D1, tmp_path / "again.xlsx", include_billed=True)
    assert again.lines == 2
    with pytest.raises(ValidationError):
        billing.void_batch(env.db, who, first.batch_number, "  ")
    info = billing.void_batch(env.db, who, first.batch_number, "wrong payer")
    assert info.status == "voided" and info.void_reason == "wrong payer"
    with pytest.raises(UserError):
        billing.void_batch(env.db, who, first.batch_number, "again")
    # D1 is still in batch 3; D2, D3 are free again
    assert sorted({ln.date_of_service for ln in run(env, D1, D4).lines}) == [D2, D3]
    batches = billing.list_batches(env.db, who)
    assert [b.batch_number for b in batches][-1] == first.batch_number
    assert [b.status for b in batches] == ["exported", "exported", "voided"]
    with env.db.session() as s:
        actions = s.exec(
            select(AuditEvent.action).where(col(AuditEvent.entity) == "billing_batch")
        ).all()
        assert actions.count("export") == 3 and actions.count("update") == 1
        assert s.exec(select(Disclosure)).first() is not None


def test_dry_run_and_failed_write_leave_nothing(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _two_clients(env, tmp_path)
    who = env.world.billing
    target = tmp_path / "out.xlsx"
    res = billing.export(env.db, who, D1, D4, target, dry_run=True)
    assert res.dry_run and res.lines == 8 and res.batch_number == ""
    assert not target.exists()

    def boom(*_a: Any, **_k: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "write_xlsx", boom)
    with pytest.raises(UserError):
        billing.export(env.db, who, D1, D4, target)
    with pytest.raises(ValidationError):
        billing.export(env.db, who, D1, D4, tmp_path / "missing" / "x.xlsx")
    with pytest.raises(ValidationError):
        billing.export(env.db, who, D1, D4, tmp_path / "x.csv")
    assert not target.exists()
    assert list(tmp_path.glob(".out*")) == []
    with env.db.session() as s:
        assert s.exec(select(BillingBatch)).all() == []
        assert s.exec(select(BillingLine)).all() == []


def test_workbook_read_back(env: Env, tmp_path: Path) -> None:
    _two_clients(env, tmp_path)
    target = tmp_path / "billing.xlsx"
    res = billing.export(env.db, env.world.billing, D1, D5, target)
    wb = load_workbook(target)
    assert wb.sheetnames == ["Claim Lines", "Exceptions", "Summary"]
    ws = wb["Claim Lines"]
    assert [c.value for c in ws[1]] == [
        "MRN",
        "Client",
        "DOB",
        "Payer",
        "Member ID",
        "Auth Number",
        "Date of Service",
        "Procedure Code",
        "Modifiers",
        "Revenue Code",
        "Units",
        "Charge",
        "Diagnosis Codes",
        "Diagnosis Pointers",
        "Rendering NPI",
        "Billing NPI",
        "Place of Service",
    ]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:Q9"
    assert ws.column_dimensions["B"].width > 10
    row = [c.value for c in ws[2]]
    assert row[0] == "B1" and row[1] == "Diaz, Ana"
    assert isinstance(row[2], datetime) and row[2].date() == date(1990, 4, 5)
    assert isinstance(row[6], datetime) and row[6].date() == D1
    assert row[7] == "90834" and row[10] == 1 and isinstance(row[10], int)
    assert row[11] == 100 and isinstance(row[11], (int, float))
    assert (row[12], row[13]) == ("F33.1", "A")
    assert ws.cell(2, 12).number_format == '"$"#,##0.00'
    assert ws.cell(2, 3).is_date and ws.cell(2, 7).is_date
    assert [c.value for c in ws[6]][:2] == ["B2", "Part, Bo"]
    assert [c.value for c in ws[6]][9] == "0906"
    assert ws.max_row == 9
    exc = wb["Exceptions"]
    assert [c.value for c in exc[1]] == ["MRN", "Client", "Date of Service", "Reason"]
    assert exc.max_row == 1
    summary = [[c.value for c in r] for r in wb["Summary"].iter_rows()]
    flat = [v for r in summary for v in r]
    assert res.batch_number in flat
    assert ["Payer", "ACME", 4, 4, 400] in summary
    assert ["Payer", "MCD", 4, 4, 600] in summary
    assert ["Procedure Code", "H0015", 4, 4, 600] in summary
    assert writer.PART2_NOTICE in flat  # B2 is in the SUD track


def test_no_part2_notice_exceptions_sheet_and_payer_filter(env: Env, tmp_path: Path) -> None:
    book = base()
    client(book, "N1")
    client(book, "N2", payer="AUTHP", first="Ned", last="Two")
    session(book, "S1", "individual", D1, 45, mrn="N1")
    session(book, "S2", "individual", D2, 10, mrn="N1")
    session(book, "S3", "individual", D2, 45, mrn="N2")
    load(env, tmp_path, book)
    target = tmp_path / "b.xlsx"
    res = billing.export(env.db, env.world.billing, D1, D5, target, payer_code="ACME")
    assert (res.lines, res.exceptions) == (1, 1)
    wb = load_workbook(target)
    flat = [c.value for r in wb["Summary"].iter_rows() for c in r]
    assert writer.PART2_NOTICE not in flat and "ACME" in flat
    exc = wb["Exceptions"]
    assert [c.value for c in exc[2]][:2] == ["N1", "Diaz, Ana"]
    assert exc.cell(2, 3).is_date and exc.cell(2, 4).value == "under 16 minutes"
    assert exc.freeze_panes == "A2"
    with env.db.session() as s:
        batch = s.exec(select(BillingBatch)).one()
        assert batch.payer_filter == "ACME" and batch.line_count == 1
        assert batch.total_charge == Decimal("100.00")
    # the other payer's session is still unbilled
    later = run(env)
    assert later.lines == []
    assert reasons(later) == [("N1", D2, "under 16 minutes"), ("N2", D2, "no authorization")]


def test_set_based_query_count(env: Env, tmp_path: Path) -> None:
    from sqlalchemy import event

    book = base()
    for n in range(12):
        client(book, f"Q{n:02d}", track="SUD" if n % 2 else "PSY", payer="MCD" if n % 2 else "ACME")
    for i, day in enumerate((D1, D2, D3)):
        group(book, f"G{i}", day, 180, [f"Q{n:02d}" for n in range(12)])
    load(env, tmp_path, book)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = env.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        small = len(run(env, D1, D1).lines)
        n_small = len(statements)
        statements.clear()
        big = len(run(env, D1, D3).lines)
        n_big = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert (small, big) == (12, 36)
    assert n_small == n_big < 30


def test_permissions(env: Env, tmp_path: Path) -> None:
    fd = env.world.front_desk
    with pytest.raises(PermissionDenied):
        billing.preview(env.db, fd, D1, D5)
    with pytest.raises(PermissionDenied):
        billing.export(env.db, fd, D1, D5, tmp_path / "x.xlsx")
    with pytest.raises(PermissionDenied):
        billing.void_batch(env.db, fd, "B000001", "x")
    with pytest.raises(PermissionDenied):
        billing.list_batches(env.db, fd)
    assert billing.list_batches(env.db, env.world.admin) == []


def test_pure_rules() -> None:
    assert billing.procedure_for("individual", 15) == (None, "under 16 minutes")
    assert billing.procedure_for("individual", 16)[0] == "90832"
    assert billing.procedure_for("individual", 37)[0] == "90832"
    assert billing.procedure_for("individual", 38)[0] == "90834"
    assert billing.procedure_for("individual", 52)[0] == "90834"
    assert billing.procedure_for("individual", 53)[0] == "90837"
    assert billing.procedure_for("family", 25) == (None, "under 26 minutes")
    assert billing.procedure_for("family", 26)[0] == "90847"
    assert billing.join_modifiers(["95", "HQ"]) == "HQ,95"
    line = ClaimLine(*(["x"] * 16))  # type: ignore[arg-type]
    assert len(line.values()) == 17 == len(writer.CLAIM_HEADERS)


def test_workbook_text_stays_text_and_progress(tmp_path: Path) -> None:
    """Names and codes a person typed reach the workbook as text, whatever they hold: XML
    special characters, a leading '=' (never a formula), characters XML cannot hold (dropped);
    progress is reported every 500 lines and at the end."""
    names = ['=HYPERLINK("x")', "O'Brien & <Sons>", "Tab\tand\x07bell", "+1", "-2", "@me"]
    lines = [
        ClaimLine(
            mrn=f"M{n:05d}",
            client=names[n % len(names)],
            dob=date(1980, 1, 1),
            payer="ACME",
            member_id="",
            auth_number="",
            date_of_service=D1,
            procedure_code="90834",
            modifiers="",
            revenue_code="",
            units=1,
            charge=Decimal("100.10"),
            diagnosis_codes="F32.1",
            rendering_npi=NPI_1,
            billing_npi=NPI_BILL,
            place_of_service="11",
        )
        for n in range(1001)
    ]
    run = BillingRun(D1, D5, lines=lines, batch_number="B000042")
    calls: list[tuple[int, int]] = []
    target = tmp_path / "text.xlsx"
    writer.write_xlsx(run, target, lambda done, total: calls.append((done, total)))
    assert calls == [(500, 1001), (1000, 1001), (1001, 1001)]
    wb = load_workbook(target)
    ws = wb[writer.CLAIM_SHEET]
    assert ws.max_row == 1002 and ws.auto_filter.ref == "A1:Q1002"
    got = [ws.cell(r, 2).value for r in range(2, 2 + len(names))]
    assert got == [n.replace("\x07", "") for n in names]
    assert all(ws.cell(r, 2).data_type == "s" for r in range(2, 2 + len(names)))
    assert ws.cell(2, 5).value is None and ws.cell(2, 10).value is None  # "" -> empty cell
    assert ws.cell(2, 12).value == 100.1 and ws.cell(2, 11).number_format == "0"
    summary = [[c.value for c in r] for r in wb[writer.SUMMARY_SHEET].iter_rows()]
    assert ["Total", None, 1001, 1001, 100200.1] in summary
    assert summary[0][:2] == ["Batch Number", "B000042"]
    assert writer.PART2_NOTICE not in [v for r in summary for v in r]
    assert wb[writer.EXCEPTION_SHEET].max_row == 1


# -- issue 20 items 9-12: co-signature, 90846, audio-only, per-payer modifiers, pointers, plans


def _ids(env: Env) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """(client id by MRN, session id by imported session_id, staff id by staff code)."""
    from iopdesk.models import Client, ClinicSession, Staff

    with env.db.session() as s:
        return (
            {c.mrn: c.id or 0 for c in s.exec(select(Client))},
            {x.external_id or "": x.id or 0 for x in s.exec(select(ClinicSession))},
            {x.staff_code: x.id or 0 for x in s.exec(select(Staff))},
        )


def test_supervisee_notes_are_billable_only_once_cosigned(env: Env, tmp_path: Path) -> None:
    """An associate's note (Staff `requires_cosign` yes) bills only after the supervisor's
    co-signature; a licensed clinician with a supervisor on file needs none; notes imported
    as signed count as complete. Precedence: not signed before not co-signed."""
    from iopdesk.services import auth, notes
    from iopdesk.services.notes import NoteDraft
    from tests.conftest import PASSWORD

    book = base()
    book["Staff"].append(["AS1", "Ada", "Assoc", "LPC-Associate", None, "therapist", "S1", "yes"])
    book["Staff"].append(["LC1", "Lee", "Licensed", "LCSW", None, "therapist", "S1", "no"])
    client(book, "C1", therapist="AS1")
    client(book, "C2", therapist="LC1", payer="MCD", member="M-2", first="Per", last="Diem")
    session(book, "I1", "individual", D1, 45, mrn="C1", fac="AS1", note="missing")
    session(book, "I2", "individual", D2, 45, mrn="C1", fac="AS1", note="missing")
    session(book, "I3", "individual", D3, 45, mrn="C1", fac="AS1")  # imported as signed
    session(
        book, "L1", "individual", D1, 45, mrn="C1", fac="LC1", start=time(15, 0), note="missing"
    )
    group(book, "G1", D4, 180, ["C2"], note="missing")
    load(env, tmp_path, book)
    mrns, sessions, staff = _ids(env)
    admin = env.world.admin
    assoc_user = auth.add_user(env.db, admin, "assoc", PASSWORD, "therapist", "Ada", staff["AS1"])
    lic_user = auth.add_user(env.db, admin, "lic", PASSWORD, "therapist", "Lee", staff["LC1"])
    assoc = Actor(assoc_user.id, "assoc", "Ada", assoc_user.roles, staff["AS1"])
    lic = Actor(lic_user.id, "lic", "Lee", lic_user.roles, staff["LC1"])
    with env.db.session() as s:
        from iopdesk.models import Staff

        a, b = s.get(Staff, staff["AS1"]), s.get(Staff, staff["LC1"])
        assert a is not None and b is not None
        assert a.is_supervisee and not b.is_supervisee and b.supervisor_id is not None

    def write(who: Actor, cid: int, sid: str, day: date, sign: bool = True) -> int:
        draft = NoteDraft(
            client_id=cid,
            service_date=day,
            sections={"Data": "Worked on triggers.", "Assessment": "Engaged.", "Plan": "Next."},
            session_id=sessions[sid],
            service_minutes=45,
        )
        saved = notes.create_note(env.db, who, draft)
        if sign:
            notes.sign_note(env.db, who, saved.id, saved.version)
        return saved.id

    first = write(assoc, mrns["C1"], "I1", D1)
    write(assoc, mrns["C1"], "I2", D2, sign=False)
    write(lic, mrns["C1"], "L1", D1)
    r = run(env, D1, D3)
    assert reasons(r) == [
        ("C1", D1, billing.NOTE_NOT_COSIGNED),
        ("C1", D2, billing.NOTE_NOT_SIGNED),
    ]
    assert [(ln.mrn, ln.date_of_service) for ln in r.lines] == [("C1", D1), ("C1", D3)]
    assert r.lines[0].session_id == sessions["L1"]  # the licensed clinician's note bills
    # the supervisor co-signs: the associate's session bills
    header = notes.read_note(env.db, env.world.supervisor, first).header
    notes.cosign_note(env.db, env.world.supervisor, first, header.version)
    r = run(env, D1, D3)
    assert reasons(r) == [("C1", D2, billing.NOTE_NOT_SIGNED)]
    assert sorted(ln.session_id or 0 for ln in r.lines) == sorted(
        [sessions["L1"], sessions["I1"], sessions["I3"]]
    )

    # per diem: the day's minutes count only with co-signed notes (an associate's group note)
    with env.db.session() as s:
        from iopdesk.models import Note

        content = '{"Data": "d"}'
        s.add(
            Note(
                client_id=mrns["C2"],
                session_id=sessions["G1"],
                author_staff_id=staff["AS1"],
                format="DAP",
                service_date=D4,
                content_json=content,
                status="signed",
                cosign_required=True,
            )
        )
    r = run(env, D4, D4)
    assert reasons(r) == [("C2", D4, billing.NOTE_NOT_COSIGNED)]


def test_90846_audio_only_and_per_payer_hq_hf(env: Env, tmp_path: Path) -> None:
    book = base()
    book["Payers"].append(["MCR", "Medicare", "per_service", "no", "FQ", "no", "yes", "no"])
    for code in ("90846", "90853", "90834"):
        book["Fees"].append(["ACME", code, 90] if code == "90846" else ["MCR", code, 70])
    book["Fees"].append(["MCR", "90846", 95])
    client(book, "X1")  # ACME, mental-health track
    client(book, "Y1", track="SUD", payer="MCR", member="1EG4-TE5-MK72", first="Yu", last="Sud")
    session(book, "F1", "family_without_client", D1, 30, mrn="X1")
    session(book, "F2", "family_without_client", D2, 25, mrn="X1")
    session(book, "A1", "individual", D3, 45, mrn="X1", telehealth="home_audio")
    session(book, "A2", "individual", D3, 45, mrn="Y1", telehealth="office_audio")
    session(book, "A3", "individual", D4, 45, mrn="Y1", telehealth="home")
    group(book, "G1", D5, 90, ["X1", "Y1"])
    load(env, tmp_path, book)
    r = run(env)
    got = {
        (ln.mrn, ln.date_of_service, ln.procedure_code): (ln.modifiers, ln.place_of_service)
        for ln in r.lines
    }
    assert got == {
        ("X1", D1, "90846"): ("", "11"),
        ("X1", D3, "90834"): ("93", "10"),  # audio only, client at home: POS as for video
        ("X1", D5, "90853"): ("HQ", "11"),
        ("Y1", D3, "90834"): ("HF,FQ", "02"),  # Medicare: FQ; SUD client of an HF payer
        ("Y1", D4, "90834"): ("HF,95", "10"),
        ("Y1", D5, "90853"): ("HF", "11"),  # this payer rejects HQ
    }
    assert reasons(r) == [("X1", D2, "under 26 minutes")]
    assert billing.procedure_for("family_without_client", 26) == ("90846", None)
    assert billing.place_and_modifier("office_audio", "11", "FQ") == ("02", "FQ")
    assert billing.join_modifiers(["93", "95", "HF", "HQ", "FQ"]) == "HQ,HF,95,FQ,93"


def test_diagnosis_pointers_per_line(env: Env, tmp_path: Path) -> None:
    from iopdesk.models import Diagnosis

    book = base()
    many = "F33.1,F41.1,F10.20,F43.10,F90.0,F41.0"
    client(book, "P1", diagnoses=many)
    client(book, "P2", diagnoses="F41.1", first="Two", last="Dx")
    for i in range(3):
        session(book, f"S{i}", "individual", D1 + timedelta(days=i), 45, mrn="P1")
    session(book, "T1", "individual", D1, 45, mrn="P2")
    session(book, "T2", "individual", D3, 45, mrn="P2")
    load(env, tmp_path, book)
    mrns, _, _ = _ids(env)
    with env.db.session() as s:
        rows = {
            d.icd10_code: d
            for d in s.exec(select(Diagnosis).where(Diagnosis.client_id == mrns["P1"]))
        }
        rows["F41.1"].resolved_date = D1  # resolved after the first day
        rows["F43.10"].onset_date = D3  # began on the third
        s.add_all([rows["F41.1"], rows["F43.10"]])
        only = s.exec(select(Diagnosis).where(Diagnosis.client_id == mrns["P2"])).one()
        only.resolved_date = D2
        s.add(only)
    r = run(env)
    by = {(ln.mrn, ln.date_of_service): ln for ln in r.lines}
    assert by[("P1", D1)].diagnosis_codes == many
    assert by[("P1", D1)].diagnosis_pointers == "A,B,C,E"  # D (F43.10) has not begun
    assert by[("P1", D2)].diagnosis_pointers == "A,C,E,F"  # B resolved the day before
    assert by[("P1", D3)].diagnosis_pointers == "A,C,D,E"
    assert by[("P2", D1)].diagnosis_pointers == "A"
    assert reasons(r) == [("P2", D3, billing.NO_DIAGNOSIS)]  # nothing active that day
    target = tmp_path / "dx.xlsx"
    billing.export(env.db, env.world.billing, D1, D5, target)
    ws = load_workbook(target)[writer.CLAIM_SHEET]
    head = [c.value for c in ws[1]]
    at = head.index("Diagnosis Pointers")
    assert head[at - 1] == "Diagnosis Codes"
    assert [ws.cell(r, at + 1).value for r in range(2, 5)] == ["A,B,C,E", "A,C,E,F", "A,C,D,E"]
    with env.db.session() as s:
        stored = s.exec(select(BillingLine).order_by(col(BillingLine.date_of_service))).all()
        assert "A,C,E,F" in [ln.diagnosis_pointers for ln in stored]


def test_diagnosis_codes_stop_at_twelve() -> None:
    spans = [(f"F{i:02d}.0", None, None) for i in range(14)]
    assert billing.diagnosis_pointers(spans, D1) == "A,B,C,D"
    assert billing.diagnosis_pointers(spans[:2], D1) == "A,B"
    assert billing.diagnosis_pointers([], D1) == ""
    assert billing.POINTER_LETTERS[billing.MAX_DIAGNOSES - 1] == "L"


def test_treatment_plan_required_per_payer(env: Env, tmp_path: Path) -> None:
    from iopdesk.models import PlanReview, TreatmentPlan, utcnow

    book = base()
    book["Payers"].append(["PLAN", "Plan Payer", "per_service", "no", "93", "yes", "no", "yes"])
    book["Fees"].append(["PLAN", "90834", 100])
    client(book, "Q1", payer="PLAN")
    client(book, "Q2", first="No", last="Rule")  # ACME: the rule is off by default
    days = [D1 + timedelta(days=i) for i in range(8)]
    for i, day in enumerate(days):
        session(book, f"Q1-{i}", "individual", day, 45, mrn="Q1")
    session(book, "Q2-0", "individual", D1, 45, mrn="Q2")
    load(env, tmp_path, book)
    mrns, _, staff = _ids(env)
    end = days[-1]
    r = run(env, D1, end)
    assert {e.reason for e in r.exceptions} == {billing.NO_TREATMENT_PLAN}
    assert len(r.exceptions) == 8 and codes(r) == [("Q2", D1, "90834")]
    with env.db.session() as s:
        s.add(  # a draft does not count
            TreatmentPlan(client_id=mrns["Q1"], start_date=D1, status="draft")
        )
        plan = TreatmentPlan(
            client_id=mrns["Q1"],
            start_date=days[1],
            status="active",
            review_interval_days=2,
            next_review_date=days[3],
            clinician_signed_at=utcnow(),
        )
        s.add(plan)
        s.flush()
        plan_id = plan.id or 0
    r = run(env, D1, end)
    # before the first signed plan, and from the day after the review was due
    assert [e.date_of_service for e in r.exceptions] == [days[0], *days[4:]]
    with env.db.session() as s:
        s.add(PlanReview(plan_id=plan_id, review_date=days[4], reviewer_staff_id=staff["ST1"]))
    r = run(env, D1, end)
    assert [e.date_of_service for e in r.exceptions] == [days[0], days[7]]
    assert [e.reason for e in r.exceptions] == [billing.NO_TREATMENT_PLAN] * 2
    assert billing.plan_in_effect([(D1, 30, [])], D1 + timedelta(days=30))
    assert not billing.plan_in_effect([(D1, 30, [])], D1 + timedelta(days=31))
    assert not billing.plan_in_effect([], D1)


def test_cli_dry_run_tells_the_truth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`export billing --dry-run` says what it would write and never "Wrote FILE"; no file,
    no batch. The same command without --dry-run writes it and says so."""
    from iopdesk import cli
    from tests.conftest import PASSWORD

    monkeypatch.setenv("IOPDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IOPDESK_DB_PASSPHRASE", "cli-db-passphrase-7")
    monkeypatch.setenv("IOPDESK_PASSWORD", PASSWORD)
    dbfile = tmp_path / "clinic.db"

    def run(*args: str) -> tuple[int, str, str]:
        code = cli.main(["--db", str(dbfile), *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    assert run("init", "--clinic-name", "CLI Clinic", "--admin", "boss")[0] == 0
    book = base()
    client(book, "A1")
    session(book, "S1", "individual", D1, 45, mrn="A1")
    session(book, "S2", "individual", D2, 10, mrn="A1")
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in book.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(tmp_path / "clinic.xlsx")
    code, _, err = run("--user", "boss", "import", str(tmp_path / "clinic.xlsx"))
    assert code == 0, err
    target = tmp_path / "claims.xlsx"
    billing_args = ("--user", "boss", "export", "billing", "--from", "2026-03-02")
    code, out, err = run(*billing_args, "--to", "2026-03-06", "-o", str(target), "--dry-run")
    assert code == 0, err
    assert out.strip() == (
        f"Dry run: would write {target}: 1 claim lines, $100.00; 1 exceptions. "
        "Nothing was written and no billing batch was recorded."
    )
    assert "Wrote" not in out and not target.exists()
    code, out, err = run(*billing_args, "--to", "2026-03-06", "-o", str(target))
    assert code == 0, err
    assert out.strip().endswith(f"Wrote {target}") and "(batch B000001)" in out
    assert target.is_file()


def test_migration_0009_upgrades_a_clinic_with_data(env: Env, tmp_path: Path) -> None:
    """0009_coding_rules down to 0003 and up again on a clinic with payers, tracks and billed
    lines: nothing is lost, and the new columns come up with values that bill as before
    (no day minimum, audio-only 93, HQ on, HF off, no plan rule, no pointers on old lines)."""
    from alembic import command
    from sqlalchemy import inspect, text

    from iopdesk import migrations
    from iopdesk.migrations import runner

    _two_clients(env, tmp_path)
    first = billing.export(env.db, env.world.billing, D1, D4, tmp_path / "b1.xlsx")
    assert first.lines == 8
    new_columns = {
        "track": "required_weekly_days",
        "payer": "audio_only_modifier",
        "billingline": "diagnosis_pointers",
    }

    def columns(table: str) -> set[str]:
        with env.db.engine.connect() as conn:
            return {c["name"] for c in inspect(conn).get_columns(table)}

    cfg = runner.config()
    with env.db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003_attendance_covering")
        conn.commit()
    for table, column in new_columns.items():
        assert column not in columns(table)
    with env.db.engine.connect() as conn:
        counts = [
            conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar()
            for t in ("track", "payer", "billingline")
        ]
    assert counts[0] == 3 and counts[1] == 4 and counts[2] == 8
    runner.upgrade(env.db.engine)
    assert env.db.schema_revision() == migrations.HEAD
    with env.db.engine.connect() as conn:
        assert {r[0] for r in conn.execute(text("SELECT required_weekly_days FROM track"))} == {0}
        payers_ = conn.execute(
            text("SELECT audio_only_modifier, group_hq, sud_hf, requires_treatment_plan FROM payer")
        ).all()
        assert {(a, bool(b), bool(c), bool(d)) for a, b, c, d in payers_} == {
            ("93", True, False, False)
        }
        pointers = {r[0] for r in conn.execute(text("SELECT diagnosis_pointers FROM billingline"))}
        assert pointers == {""}
    again = run(env, D1, D4, include_billed=True)
    assert len(again.lines) == 8 and {ln.diagnosis_pointers for ln in again.lines} == {"A"}
