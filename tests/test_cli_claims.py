"""The real `iopdesk` command: export claims, import remittance, report aging."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlmodel import select

from iopdesk.models import Client, Payer
from iopdesk.services import claims
from tests.test_billing import D1, D2, D5, client, group, session
from tests.test_claims import electronic_book
from tests.test_cli import NEW_PASSWORD, assert_one_clear_line, iopdesk, open_in_process
from tests.x12_835 import Clp, Svc, write_835

FROM, TO = D1.isoformat(), D5.isoformat()


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    home = tmp_path_factory.mktemp("cli-claims")
    db = home / "clinic" / "iopdesk.db"
    assert iopdesk(home, "--db", str(db), "init", "--clinic-name", "Lakeside IOP",
                   "--admin", "boss").returncode == 0  # fmt: skip
    added = iopdesk(home, "--db", str(db), "--user", "boss", "user", "add", "bill",
                    "--role", "billing", IOPDESK_NEW_PASSWORD=NEW_PASSWORD)  # fmt: skip
    assert added.returncode == 0
    book = electronic_book()
    client(book, "A1", payer="ACME", first="Zoë", last="Ñúñez")
    client(book, "D1", track="SUD", payer="MCD", member="MC-9")
    group(book, "g1", D1, 60, ["A1"])
    session(book, "i1", "individual", D2, 45, mrn="A1", telehealth="home")
    group(book, "s1", D1, 200, ["D1"], track="SUD", start=time(8, 0))
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in book.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    xlsx = home / "clinic.xlsx"
    wb.save(xlsx)
    imported = iopdesk(home, "--db", str(db), "--user", "boss", "import", str(xlsx))
    assert imported.returncode == 0, imported.stderr
    opened = open_in_process(db)
    try:
        with opened.session() as s:
            for c in s.exec(select(Client)).all():
                c.address_line1, c.city, c.state, c.postal_code = (
                    "5 Elm",
                    "Springfield",
                    "IL",
                    "62701",
                )
                s.add(c)
            for p in s.exec(select(Payer)).all():
                p.type_of_bill = "0131"
                s.add(p)
            s.commit()
    finally:
        opened.close()
    return home, db


def bill(home: Path, db: Path, *args: str):  # type: ignore[no-untyped-def]
    return iopdesk(home, "--db", str(db), "--user", "bill", *args, IOPDESK_PASSWORD=NEW_PASSWORD)


def test_export_claims_import_remittance_and_aging(clinic: tuple[Path, Path]) -> None:
    home, db = clinic
    out = home / "x12"
    out.mkdir()
    dry = bill(
        home, db, "export", "claims", "--from", FROM, "--to", TO, "-o", str(out), "--dry-run"
    )
    assert dry.returncode == 0, dry.stderr
    assert "Dry run: 2 claims" in dry.stdout and "Would write ACME_837P.x12" in dry.stdout
    assert list(out.iterdir()) == []
    missing = bill(
        home, db, "export", "claims", "--from", FROM, "--to", TO, "-o", str(home / "nope")
    )
    assert_one_clear_line(missing, "does not exist")
    run = bill(home, db, "export", "claims", "--from", FROM, "--to", TO, "-o", str(out))
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["ACME_837P.x12", "MCD_837I.x12"]
    assert "X12 text: A1 first name: 'Zoë' -> 'ZOE'" in run.stdout
    for path in out.iterdir():
        assert claims.validate(path.read_text()) == []
    again = bill(home, db, "export", "claims", "--from", FROM, "--to", TO, "-o", str(out))
    assert again.returncode == 0 and "0 claims" in again.stdout
    excel = bill(
        home, db, "export", "billing", "--from", FROM, "--to", TO, "-o", str(home / "b.xlsx")
    )
    assert excel.returncode == 0 and "0 claim lines" in excel.stdout  # never billed twice
    (rc,) = claims.read_837((out / "ACME_837P.x12").read_text())
    era = home / "era.835"
    era.write_text(write_835([
        Clp(rc.claim_number, "1", rc.total, Decimal("40"), lines=[
            Svc(ln.procedure_code, ln.charge, Decimal("20"), ln.date_of_service, ln.line_id,
                [("CO", "45", ln.charge - 20)]) for ln in rc.lines]),
        Clp("UNKNOWN-1", "1", Decimal("10"), Decimal("10")),
    ]))  # fmt: skip
    posted = bill(home, db, "import", "remittance", str(era))
    assert posted.returncode == 0, posted.stderr
    assert "1 claims, 2 lines matched; paid $40.00" in posted.stdout
    assert "unmatched: claim UNKNOWN-1" in posted.stdout
    twice = bill(home, db, "import", "remittance", str(era))
    assert twice.returncode == 0 and "nothing changed" in twice.stdout
    aging = bill(home, db, "report", "aging", "-o", str(home / "ar.xlsx"))
    assert aging.returncode == 0, aging.stderr
    sheet = load_workbook(home / "ar.xlsx")["AR Aging"]
    assert sheet.cell(4, 1).value == "MCD"  # ACME is paid; MCD still open


def test_import_remittance_needs_a_file(clinic: tuple[Path, Path]) -> None:
    home, db = clinic
    assert_one_clear_line(bill(home, db, "import", "remittance"), "Name the 835 file")
    bad = home / "not.835"
    bad.write_text("hello")
    proc = bill(home, db, "import", "remittance", str(bad))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
