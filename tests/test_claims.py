"""Electronic claims (issue 21): 837P/837I validated by pyx12, read back by pyx12's parser,
batch history frequencies, no double billing with the Excel export, and 835 posting."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from iopdesk.errors import UserError
from iopdesk.models import (
    BillingLine,
    Claim,
    Client,
    Coverage,
    Payer,
    RemittanceAdjustment,
    RemittanceClaim,
    Setting,
    utcnow,
)
from iopdesk.services import billing, claims, remittance
from iopdesk.services.workbook import COLUMNS
from tests.conftest import Env
from tests.test_billing import D1, D2, D3, D5, base, client, group, load, session
from tests.x12_835 import Clp, Svc, write_835

SETUP = {
    "submitter_id": "TESTSUB01",
    "submitter_name": "Test Clinic",
    "receiver_id": "CLEARHOUSE",
    "receiver_name": "Clear House",
    "taxonomy": "261QM0801X",
}


def electronic_book() -> dict[str, list[list[Any]]]:
    book = base()
    book["Clinic"] += [[k, v] for k, v in SETUP.items()]
    book["Clinic"] += [["address", "12 Main St, Suite 4, Springfield, IL 62701-1234"]]
    book["Clinic"] += [["phone", "(217) 555-0100"], ["tax_id", "36-1234567"]]
    width = len(COLUMNS["Payers"])
    payers = [book["Payers"][0]]
    ids = {"MCD": "77001", "ACME": "87726", "AUTHP": "60054", "AUTHD": "77002"}
    for row in book["Payers"][1:]:
        payers.append(row + [None] * (width - len(row) - 2) + [ids[row[0]], None])
    book["Payers"] = payers
    staff = [book["Staff"][0]]
    at = list(book["Staff"][0]).index("taxonomy") if "taxonomy" in book["Staff"][0] else None
    for row in book["Staff"][1:]:
        if at is None:
            staff.append([*row, "101YP2500X"])
        else:
            staff.append([*row, *[None] * (at - len(row)), "101YP2500X"])
    book["Staff"] = staff
    return book


def finish_setup(env: Env, *, subscriber: str | None = None) -> None:
    """What the workbook does not carry: addresses, type of bill, a parent as subscriber."""
    with env.db.session() as s:
        for c in s.exec(select(Client)).all():
            c.address_line1, c.city, c.state, c.postal_code = (
                "5 Elm St",
                "Springfield",
                "IL",
                "62701",
            )
            s.add(c)
        for p in s.exec(select(Payer)).all():
            p.type_of_bill = "0131"
            s.add(p)
        if subscriber is not None:
            cov = s.exec(
                select(Coverage)
                .join(Client, col(Client.id) == col(Coverage.client_id))
                .where(col(Client.mrn) == subscriber)
            ).one()
            cov.subscriber_relationship = "child"
            cov.subscriber_first_name, cov.subscriber_last_name = "Rosa", "Núñez"
            cov.subscriber_dob, cov.subscriber_sex = date(1970, 5, 6), "F"
            s.add(cov)
        s.commit()


def export(env: Env, out: Path, start: date = D1, end: date = D5, **kw: Any) -> claims.ClaimsResult:
    return claims.export_claims(env.db, env.world.billing, start, end, out, **kw)


def basic_world(env: Env, tmp_path: Path) -> None:
    book = electronic_book()
    client(book, "A1", payer="ACME", first="Zoë", last="O'Brien-Ñúñez")
    client(book, "D1", track="SUD", payer="MCD", member="MC-9")
    group(book, "g1", D1, 60, ["A1"])
    session(book, "i1", "individual", D2, 45, mrn="A1", telehealth="home")
    for day in (D1, D2):
        group(book, f"s{day.day}", day, 200, ["D1"], track="SUD", start=time(8, 0))
    load(env, tmp_path, book)
    finish_setup(env)


def test_837_files_validate_and_read_back(env: Env, tmp_path: Path) -> None:
    basic_world(env, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    r = export(env, out)
    assert sorted(p.name for p in out.iterdir()) == ["ACME_837P.x12", "MCD_837I.x12"]
    assert r.batch_number and r.lines == 4 and len(r.claims) == 2
    with env.db.session() as s:
        stored = {c.claim_number: c for c in s.exec(select(Claim)).all()}
        lines = s.exec(select(BillingLine).order_by(col(BillingLine.id))).all()
    for path in out.iterdir():
        text = path.read_text()
        assert claims.validate(text) == []
        assert "005010X222A1" in text if "837P" in path.name else "005010X223A2" in text
        for rc in claims.read_837(text):
            c = stored[rc.claim_number]
            assert rc.frequency == "1" and rc.total == c.total_charge
            mine = [ln for ln in lines if ln.claim_id == c.id]
            assert [
                (x.line_id, x.procedure_code, x.charge, x.units, x.date_of_service)
                for x in rc.lines
            ] == [
                (str(ln.id), ln.procedure_code, ln.charge, ln.units, ln.date_of_service)
                for ln in mine
            ]
    prof = claims.read_837((out / "ACME_837P.x12").read_text())[0]
    assert [ln.modifiers for ln in prof.lines] == [("HQ",), ("95",)]
    assert prof.diagnoses == ("F331",)
    inst = claims.read_837((out / "MCD_837I.x12").read_text())[0]
    assert [(ln.revenue_code, ln.procedure_code) for ln in inst.lines] == [("0906", "H0015")] * 2
    # Unicode names reduced to the basic character set, with a record of what changed
    text = (out / "ACME_837P.x12").read_text()
    assert "NM1*IL*1*O'BRIEN-NUNEZ*ZOE****MI*M-1~" in text
    changed = {(c.mrn, c.field): (c.before, c.after) for c in r.changes}
    assert changed[("A1", "first name")] == ("Zoë", "ZOE")
    assert changed[("A1", "last name")] == ("O'Brien-Ñúñez", "O'BRIEN-NUNEZ")
    # never sent twice: neither by 837 nor by Excel
    again = export(env, out)
    assert again.claims == [] and again.batch_number == ""
    assert billing.preview(env.db, env.world.billing, D1, D5).lines == []


def test_excel_first_then_837_sends_nothing_twice(env: Env, tmp_path: Path) -> None:
    basic_world(env, tmp_path)
    billing.export(env.db, env.world.billing, D1, D1, tmp_path / "b.xlsx")
    out = tmp_path / "out"
    out.mkdir()
    r = export(env, out)
    sent = {
        (ln.procedure_code, ln.date_of_service)
        for c in r.texts.values()
        for rc in claims.read_837(c)
        for ln in rc.lines
    }
    assert sent == {("90834", D2), ("H0015", D2)}  # D1 went out in the Excel batch


def test_dry_run_and_missing_setup(env: Env, tmp_path: Path) -> None:
    basic_world(env, tmp_path)
    r = export(env, None, dry_run=True)
    assert r.dry_run and len(r.claims) == 2 and r.batch_number == ""
    assert all(claims.validate(t) == [] for t in r.texts.values())
    with env.db.session() as s:
        assert s.exec(select(Claim)).all() == []
        s.delete(s.get(Setting, "receiver_id"))
        s.commit()
    with pytest.raises(UserError, match="clearinghouse ID"):
        export(env, tmp_path)
    assert list(tmp_path.glob("*.x12")) == []


def test_edge_cases_subscriber_auth_many_lines(env: Env, tmp_path: Path) -> None:
    book = electronic_book()
    client(book, "K1", payer="ACME", first="Timmy", last="Núñez")
    client(book, "P1", payer="AUTHP", member="AP-1")
    book["Authorizations"].append(["P1", "AUTHP", "PA-777", "90834", D1, D5, 10])
    session(book, "pa", "individual", D1, 45, mrn="P1")
    for day in range(5):
        for k in range(12):
            start = time(7 + k, 0)
            session(
                book,
                f"m{day}-{k}",
                "individual",
                D1 + timedelta(days=day),
                20,
                mrn="K1",
                start=start,
                telehealth="office" if k % 2 else "no",
            )
    load(env, tmp_path, book)
    finish_setup(env, subscriber="K1")
    out = tmp_path / "out"
    out.mkdir()
    r = export(env, out)
    text = (out / "ACME_837P.x12").read_text()
    assert claims.validate(text) == []
    read = claims.read_837(text)
    assert [len(c.lines) for c in read] == [50, 10]  # 60 lines: an 837P claim holds 50
    assert "PAT*19~" in text and "NM1*IL*1*NUNEZ*ROSA****MI*M-1~" in text
    assert "NM1*QC*1*NUNEZ*TIMMY~" in text
    assert "SV1*HC:90832:95*80*UN*1*02**1~" in text  # telehealth office: POS 02 + 95
    auth = (out / "AUTHP_837P.x12").read_text()
    assert claims.validate(auth) == []
    assert claims.read_837(auth)[0].auth_number == "PA-777"
    assert r.lines == 61


def test_void_batch_sends_replacements_and_voids(env: Env, tmp_path: Path) -> None:
    basic_world(env, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    first = export(env, out)
    billing.void_batch(env.db, env.world.billing, first.batch_number, "wrong member IDs")
    with env.db.session() as s:  # D1 (MCD) loses its coverage: it cannot be billed again
        cov = s.exec(
            select(Coverage)
            .join(Client, col(Client.id) == col(Coverage.client_id))
            .where(col(Client.mrn) == "D1")
        ).one()
        cov.voided_at, cov.void_reason = utcnow(), "entered in error"
        s.add(cov)
        s.commit()
    second = export(env, out)
    freq = {(c.payer, c.frequency): c for c in second.claims}
    assert set(freq) == {("ACME", "7"), ("MCD", "8")}
    originals = {c.payer: c.claim_number for c in first.claims}
    for path in out.iterdir():
        text = path.read_text()
        assert claims.validate(text) == []
        (rc,) = claims.read_837(text)
        payer = path.name.split("_")[0]
        assert rc.original_reference == originals[payer]
        assert rc.frequency == ("7" if payer == "ACME" else "8")
    assert len(claims.read_837((out / "MCD_837I.x12").read_text())[0].lines) == 2
    third = export(env, out)  # nothing left to replace or void
    assert third.claims == []


def four_claims(env: Env, tmp_path: Path) -> dict[str, Claim]:
    book = electronic_book()
    for mrn in ("P", "Q", "R", "S"):
        client(book, mrn, payer="ACME", member=f"M-{mrn}")
        session(book, f"i{mrn}", "individual", D1, 45, mrn=mrn)
    session(book, "iQ2", "individual", D3, 60, mrn="Q")
    load(env, tmp_path, book)
    finish_setup(env)
    out = tmp_path / "out"
    out.mkdir()
    export(env, out)
    with env.db.session() as s:
        rows = s.exec(
            select(Claim, Client).join(Client, col(Client.id) == col(Claim.client_id))
        ).all()
        return {c.mrn: cl for cl, c in rows}


def line_ids(env: Env, claim: Claim) -> list[str]:
    with env.db.session() as s:
        return [
            str(b.id)
            for b in s.exec(
                select(BillingLine)
                .where(BillingLine.claim_id == claim.id)
                .order_by(col(BillingLine.id))
            ).all()
        ]


def test_835_posting_denials_aging_and_reimport(env: Env, tmp_path: Path) -> None:
    c = four_claims(env, tmp_path)
    p, q, r_, s_ = c["P"], c["Q"], c["R"], c["S"]
    qa, qb = line_ids(env, q)
    d0 = Decimal("0")
    remit = [
        Clp(
            p.claim_number,
            "1",
            Decimal("100"),
            Decimal("80"),
            d0,
            "PAYER-P",
            lines=[
                Svc(
                    "90834",
                    Decimal("100"),
                    Decimal("80"),
                    D1,
                    line_ids(env, p)[0],
                    [("CO", "45", Decimal("20"))],
                )
            ],
        ),
        Clp(
            q.claim_number,
            "1",
            Decimal("250"),
            Decimal("90"),
            Decimal("10"),
            "PAYER-Q",
            lines=[
                Svc("90834", Decimal("100"), Decimal("90"), D1, qa, [("PR", "2", Decimal("10"))]),
                Svc("90837", Decimal("150"), d0, D3, qb, [("CO", "197", Decimal("150"))], ["N54"]),
            ],
        ),
        Clp(
            r_.claim_number, "4", Decimal("100"), d0, d0, "PAYER-R", [("CO", "197", Decimal("100"))]
        ),
        Clp(
            s_.claim_number,
            "1",
            Decimal("100"),
            Decimal("100"),
            d0,
            "PAYER-S",
            lines=[Svc("90834", Decimal("100"), Decimal("100"), D1)],
        ),
        Clp("NOT-OURS-1", "1", Decimal("40"), Decimal("40"), d0, "X"),
        Clp(
            p.claim_number,
            "1",
            Decimal("100"),
            d0,
            d0,
            "PAYER-P2",
            lines=[Svc("90834", Decimal("100"), d0, D1, "999999")],
        ),
    ]
    text = write_835(remit)
    assert claims.validate(text) == []  # our test remittance is a valid 835 too
    f = tmp_path / "era.835"
    f.write_text(text)
    res = remittance.import_remittance(env.db, env.world.billing, f)
    assert not res.already_imported
    assert res.claims_matched == 5 and res.lines_matched == 4
    posted = {
        p.claim_number: p
        for p in remittance.posted_claims(env.db, env.world.billing, res.remittance_id)
    }
    assert posted[q.claim_number].patient_responsibility == Decimal("10")
    assert "PR-2 Coinsurance amount. 10.00" in posted[q.claim_number].adjustments
    assert "N54 Claim information is inconsistent" in posted[q.claim_number].remarks
    assert posted[r_.claim_number].status == "denied" and not posted["NOT-OURS-1"].matched
    assert [(u.claim_number, u.reason) for u in res.unmatched] == [
        ("NOT-OURS-1", "no claim was sent with this number"),
        (p.claim_number, "line control number 999999 is not a line of this claim"),
    ]
    with env.db.session() as s:
        count = (
            len(s.exec(select(RemittanceClaim)).all()),
            len(s.exec(select(RemittanceAdjustment)).all()),
        )
    again = remittance.import_remittance(env.db, env.world.billing, f)
    assert again.already_imported
    copy = tmp_path / "era-copy.835"  # the same payment re-downloaded in a new envelope
    copy.write_text(text.replace("000000777", "000000778"))
    assert remittance.import_remittance(env.db, env.world.billing, copy).already_imported
    with env.db.session() as s:
        assert (
            len(s.exec(select(RemittanceClaim)).all()),
            len(s.exec(select(RemittanceAdjustment)).all()),
        ) == count
    # reversal of S's payment in a second file
    f2 = tmp_path / "era2.835"
    f2.write_text(
        write_835(
            [
                Clp(
                    s_.claim_number,
                    "22",
                    Decimal("-100"),
                    Decimal("-100"),
                    d0,
                    "PAYER-S",
                    lines=[Svc("90834", Decimal("-100"), Decimal("-100"), D1)],
                )
            ],
            check="CHK1002",
        )
    )
    remittance.import_remittance(env.db, env.world.billing, f2)
    as_of = date.today() + timedelta(days=45)
    with env.db.session() as s:
        balances = {b.claim_number: b for b in remittance._balances(s)}
    assert balances[p.claim_number].status == "paid" and balances[p.claim_number].balance == 0
    assert balances[q.claim_number].status == "partially paid"
    assert balances[q.claim_number].balance == Decimal("150")
    assert balances[r_.claim_number].status == "denied"
    assert (
        balances[s_.claim_number].status == "reversed" and balances[s_.claim_number].balance == 100
    )
    queue = remittance.denials(env.db, env.world.billing, as_of)
    assert [(d.claim_number, d.amount) for d in queue] == [
        (q.claim_number, Decimal("150")),
        (r_.claim_number, Decimal("100")),
    ] or sorted((d.claim_number, d.amount) for d in queue) == sorted(
        [(q.claim_number, Decimal("150")), (r_.claim_number, Decimal("100"))]
    )
    denial = next(d for d in queue if d.claim_number == r_.claim_number)
    assert "CO-197 Precertification/authorization" in denial.reasons
    assert "authorization" in denial.action
    assert "N54" in next(d for d in queue if d.claim_number == q.claim_number).remarks
    ag = remittance.aging(env.db, env.world.billing, as_of)
    assert [(row.payer, row.buckets["31-60"]) for row in ag.rows] == [("ACME", Decimal("350"))]
    assert ag.totals["0-30"] == 0


def test_aging_and_denials_reports_read_back(env: Env, tmp_path: Path) -> None:
    import subprocess

    from openpyxl import load_workbook

    c = four_claims(env, tmp_path)
    r_ = c["R"]
    f = tmp_path / "era.835"
    f.write_text(
        write_835(
            [
                Clp(
                    r_.claim_number,
                    "4",
                    Decimal("100"),
                    Decimal("0"),
                    Decimal("0"),
                    "X",
                    [("CO", "197", Decimal("100"))],
                )
            ]
        )
    )
    remittance.import_remittance(env.db, env.world.billing, f)
    as_of = date.today() + timedelta(days=100)
    xlsx = remittance.export_receivables(
        env.db, env.world.billing, tmp_path / "ar.xlsx", as_of=as_of
    )
    wb = load_workbook(xlsx)
    assert wb.sheetnames == ["AR Aging", "Open Claims", "Denials"]
    ws = wb["AR Aging"]
    assert [c.value for c in ws[3]] == ["Payer", "0-30", "31-60", "61-90", "90+", "Total"]
    assert [c.value for c in ws[4]] == ["ACME", 0, 0, 0, 550, 550]
    den = wb["Denials"]
    assert den.cell(2, 1).value == r_.claim_number and den.cell(2, 7).value == 100
    assert "CO-197" in den.cell(2, 9).value
    pdf = remittance.export_receivables(env.db, env.world.billing, tmp_path / "ar.pdf", as_of=as_of)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "90+" in text and r_.claim_number in text and "550.00" in text


def test_demo_clinic_837s_pass_pyx12_and_read_back(tmp_path: Path) -> None:
    import os

    from iopdesk.db import Database
    from iopdesk.demo import DEMO_PASSWORD, create_demo_clinic
    from iopdesk.services.auth import login

    db = Database.open(tmp_path / "demo.db", create=True, key=os.urandom(32))
    try:
        create_demo_clinic(db, today=date(2026, 11, 27))
        biller = login(db, "billing", DEMO_PASSWORD)
        out = tmp_path / "x12"
        out.mkdir()
        r = claims.export_claims(db, biller, date(2026, 10, 1), date(2026, 11, 26), out)
        names = sorted(p.name for p in out.iterdir())
        assert names == ["GLCHP_837I.x12", "LHP_837I.x12", "PSMCD_837I.x12", "SUMMIT_837P.x12"]
        with db.session() as s:
            stored = {c.claim_number: c for c in s.exec(select(Claim)).all()}
        read_back = 0
        texts = [p.read_text() for p in out.iterdir()]
        for text in texts:
            assert claims.validate(text) == []
            for rc in claims.read_837(text):
                c = stored[rc.claim_number]
                assert (rc.total, len(rc.lines)) == (c.total_charge, c.line_count)
                read_back += 1
        assert read_back == len(stored) == len(r.claims) > 20
        # (the demo's adolescents, whose parent is the subscriber, attend 2 hours a day: below
        # the per-diem minimum, so they are exceptions; test_edge_cases covers loop 2000C)
        assert any(c.before != c.after for c in r.changes)  # accented names reduced
    finally:
        db.close()


def test_migration_downgrades_and_upgrades_a_database_with_data(env: Env, tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import inspect, text

    from iopdesk import migrations
    from iopdesk.migrations import runner

    basic_world(env, tmp_path)
    billing.export(env.db, env.world.billing, D1, D5, tmp_path / "b.xlsx")
    cfg = runner.config()
    with env.db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003_attendance_covering")
        conn.commit()
    with env.db.engine.connect() as conn:
        assert "claim" not in inspect(conn).get_table_names()
        assert conn.execute(text("SELECT count(*) FROM billingline")).scalar_one() == 4
    runner.upgrade(env.db.engine)
    assert env.db.schema_revision() == migrations.HEAD
    with env.db.session() as s:
        lines = s.exec(select(BillingLine)).all()
        assert len(lines) == 4 and all(ln.claim_id is None for ln in lines)
        covs = s.exec(select(Coverage)).all()
        assert {c.subscriber_relationship for c in covs} == {"self"}
        assert {p.claim_grouping for p in s.exec(select(Payer)).all()} == {"period"}
    with env.db.engine.connect() as conn:
        assert conn.execute(text("SELECT DISTINCT kind FROM billingbatch")).scalars().all() == [
            "xlsx"
        ]
    out = tmp_path / "x12"
    out.mkdir()
    assert export(env, out).claims == []  # the Excel batch still counts after the upgrade


def test_setup_fields_are_validated_and_stored(env: Env, tmp_path: Path) -> None:
    from iopdesk.errors import ValidationError
    from iopdesk.services import payers, staff

    basic_world(env, tmp_path)
    admin = env.world.admin
    info = next(p for p in payers.list_payers(env.db, admin) if p.payer_code == "MCD")
    data = payers.PayerInput(
        "MCD",
        info.name,
        info.billing_mode,
        info.requires_auth,
        True,
        electronic_payer_id="77001",
        claim_type="837X",
        type_of_bill="13",
    )
    with pytest.raises(ValidationError) as bad:
        payers.save_payer(env.db, admin, data, payer_id=info.id, version=info.version)
    assert set(bad.value.fields) == {"claim_type", "type_of_bill"}
    data.claim_type, data.type_of_bill, data.claim_grouping = "837I", "0761", "date"
    saved = payers.save_payer(env.db, admin, data, payer_id=info.id, version=info.version)
    assert (saved.claim_type, saved.type_of_bill, saved.claim_grouping) == ("837I", "0761", "date")
    with env.db.session() as s:
        a1 = s.exec(select(Client).where(Client.mrn == "A1")).one()
        acme = s.exec(select(Payer).where(Payer.payer_code == "ACME")).one()
    assert a1.id is not None and acme.id is not None
    with pytest.raises(ValidationError) as bad:
        payers.save_coverage(env.db, admin, a1.id, acme.id, "M-2", subscriber_relationship="spouse")
    assert {"subscriber_last_name", "subscriber_dob", "subscriber_sex"} <= set(bad.value.fields)
    cov = payers.save_coverage(
        env.db,
        admin,
        a1.id,
        acme.id,
        "M-2",
        subscriber_relationship="spouse",
        subscriber_first_name="Lee",
        subscriber_last_name="Diaz",
        subscriber_dob=date(1985, 1, 2),
        subscriber_sex="m",
    )
    assert (cov.subscriber_relationship, cov.subscriber_sex) == ("spouse", "M")
    person = next(x for x in staff.list_staff(env.db, admin) if x.staff_code == "ST1")
    assert person.taxonomy == "101YP2500X"  # from the workbook's Staff taxonomy column
    with pytest.raises(ValidationError) as bad:
        staff.update_staff(
            env.db,
            admin,
            person.id,
            person.version,
            staff.StaffInput("ST1", "Maria", "Lopez", npi=person.npi, taxonomy="12345"),
        )
    assert "taxonomy" in bad.value.fields


def test_workbook_carries_the_electronic_setup(env: Env, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from iopdesk.services.workbook import export_workbook, import_workbook

    basic_world(env, tmp_path)
    out = tmp_path / "clinic.xlsx"
    export_workbook(env.db, env.world.admin, out)
    wb = load_workbook(out)
    clinic_rows = {r[0]: r[1] for r in wb["Clinic"].iter_rows(min_row=2, values_only=True)}
    assert {k: clinic_rows[k] for k in SETUP} == SETUP
    payers_ = [r for r in wb["Payers"].iter_rows(values_only=True)]
    assert payers_[0][-2:] == ("electronic_payer_id", "claim_type")
    at = list(payers_[0]).index("electronic_payer_id")
    assert {r[0]: r[at] for r in payers_[1:]}["MCD"] == "77001"
    staff_rows = [r for r in wb["Staff"].iter_rows(values_only=True)]
    assert staff_rows[0][-1] == "taxonomy" and staff_rows[1][-1] == "101YP2500X"
    again = import_workbook(env.db, env.world.admin, out)
    assert sum(again.updated.values()) == 0 and sum(again.created.values()) == 0
    # a wrong value is reported with its sheet, row and column, and nothing is imported
    ws = wb["Payers"]
    ws.cell(2, len(payers_[0])).value = "837Z"
    wb["Staff"].cell(2, len(staff_rows[0])).value = "nope"
    wb.save(out)
    from iopdesk.services.workbook import ImportFailed

    with pytest.raises(ImportFailed) as failed:
        import_workbook(env.db, env.world.admin, out)
    text = failed.value.report()
    assert "Payers!2 claim_type" in text and "Staff!2 taxonomy" in text


def test_disclosure_gate_and_audit(env: Env, tmp_path: Path) -> None:
    from iopdesk.models import AuditEvent, Disclosure
    from iopdesk.services.disclosures import ConsentRequired, Release

    basic_world(env, tmp_path)
    with env.db.session() as s:
        d1 = s.exec(select(Client).where(Client.mrn == "D1")).one()
        d1.part2 = True
        s.add(d1)
        s.commit()
    out = tmp_path / "out"
    out.mkdir()
    from iopdesk.services.recipients import add_recipient

    add_recipient(env.db, env.world.admin, "Demo Clearinghouse", type="other")
    with pytest.raises(ConsentRequired):
        export(env, out, release=Release("disclosure", "Demo Clearinghouse", "payment"))
    assert list(out.iterdir()) == []
    with env.db.session() as s:
        assert s.exec(select(Claim)).all() == []
    r = export(env, out)  # in-house billing staff: internal use
    with env.db.session() as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.entity == "billing_batch")).all()
        detail = events[-1].detail
        assert f"837 claims {r.batch_number}" in detail and "Part 2 notice" in detail
        assert "Zoë" not in detail and "O'Brien" not in detail  # no names in the audit log
        assert len(s.exec(select(Disclosure)).all()) == 2  # one per client in the files


def test_validator_finds_errors_and_logs_no_values(caplog: pytest.LogCaptureFixture) -> None:
    from iopdesk.reports import x12_837 as x12

    addr = x12.Address("1 MAIN ST", "", "SPRINGFIELD", "IL", "627011234")
    person = x12.Person("SECRETNAME", "ANA", date(1990, 1, 2), "F", addr)
    line = x12.Line("7", D1, "90834", (), "", 1, Decimal("100"), "11", (1,))
    claim = x12.Claim(
        "B1-1", "837P", "1", "ACME", "87726", "CI", "M1", "", "18", person, None, ("F331",),
        "", "", "11", D1, D1, None, "30", (line,),
    )  # fmt: skip
    provider = x12.Provider("CLINIC", "1112223339", "261QM0801X", "361234567", "EI", addr)
    ic = x12.Interchange(
        "837P", "SUB", "CLINIC", "ANN", "2175550100", "RCV", "CH", 1,
        datetime(2026, 3, 9, 10, 0), "T", "B1", provider, (claim,),
    )  # fmt: skip
    good = x12.render(ic)
    assert claims.validate(good) == []
    bad = good.replace("SBR*P*18", "SBR*Q*18").replace("DTP*472*D8*20260302~\n", "")
    with caplog.at_level("DEBUG"):
        errors = claims.validate(bad)
    assert any("SBR" in e for e in errors) and any(
        "Date - Service Date" in e or "DTP" in e for e in errors
    )
    assert "SECRETNAME" not in caplog.text


def test_statement_period_is_the_calendar_month_or_the_day(env: Env, tmp_path: Path) -> None:
    book = electronic_book()
    client(book, "A1", payer="ACME")
    feb = date(2026, 2, 27)
    session(book, "f1", "individual", feb, 45, mrn="A1")
    session(book, "m1", "individual", D1, 45, mrn="A1")
    session(book, "m2", "individual", D2, 45, mrn="A1")
    load(env, tmp_path, book)
    finish_setup(env)
    r = export(env, None, feb, D5, dry_run=True)
    assert [(c.date_from, c.date_to, c.lines) for c in r.claims] == [(feb, feb, 1), (D1, D2, 2)]
    with env.db.session() as s:
        acme = s.exec(select(Payer).where(Payer.payer_code == "ACME")).one()
        acme.claim_grouping = "date"
        s.add(acme)
        s.commit()
    r = export(env, None, feb, D5, dry_run=True)
    assert [(c.date_from, c.lines) for c in r.claims] == [(feb, 1), (D1, 1), (D2, 1)]
    assert claims.validate(r.texts["ACME_837P.x12"]) == []
