"""Payer, fee schedule, coverage and authorization editing (issue 7 items 1-2), both backends."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import col, select

from iopdesk.errors import NotFoundError, PermissionDenied, StaleRecordError, ValidationError
from iopdesk.models import AuditEvent
from iopdesk.services import billing, payers
from iopdesk.services.payers import AuthInput, FeeInput, PayerInput
from tests.conftest import Env
from tests.test_billing import D1, D2, D3, D5, base, client, load, run, session


def test_payer_add_edit_validation_and_concurrency(env: Env) -> None:
    who = env.world.billing
    p = payers.save_payer(env.db, who, PayerInput("MCD", " State Medicaid ", "per_diem", True))
    assert (p.payer_code, p.name, p.billing_mode, p.requires_auth) == (
        "MCD",
        "State Medicaid",
        "per_diem",
        True,
    )
    with pytest.raises(ValidationError) as dup:
        payers.save_payer(env.db, who, PayerInput("mcd", "Other"))
    assert "already used" in dup.value.fields["payer_code"]
    with pytest.raises(ValidationError) as bad:
        payers.save_payer(env.db, who, PayerInput("", "", "monthly"))
    assert set(bad.value.fields) == {"payer_code", "name", "billing_mode"}
    with pytest.raises(ValidationError):
        payers.save_payer(env.db, who, PayerInput("A B", "Spaces"))
    edited = payers.save_payer(
        env.db,
        who,
        PayerInput("MCD", "State Medicaid Plan", "per_diem", False, active=False),
        payer_id=p.id,
        version=p.version,
    )
    assert edited.version == p.version + 1 and not edited.active and not edited.requires_auth
    with pytest.raises(StaleRecordError):
        payers.save_payer(
            env.db, who, PayerInput("MCD", "Lost update"), payer_id=p.id, version=p.version
        )
    assert [x.name for x in payers.list_payers(env.db, who)] == ["State Medicaid Plan"]
    assert payers.list_payers(env.db, who, include_inactive=False) == []
    with env.db.session() as s:
        acts = s.exec(select(AuditEvent.action).where(col(AuditEvent.entity) == "payer")).all()
    assert acts == ["create", "update"]


def test_fees_rates_overlap_and_void(env: Env) -> None:
    who = env.world.billing
    p = payers.save_payer(env.db, who, PayerInput("ACME", "Acme Health"))
    fee = payers.save_fee(env.db, who, FeeInput(p.id, "90834", "$1,100.5"))
    assert fee.rate == Decimal("1100.50") and fee.code == "90834"
    assert payers.save_fee(env.db, who, FeeInput(p.id, "h0015", "0")).code == "H0015"
    for rate in ("-1", "abc", "10.005", "NaN"):
        with pytest.raises(ValidationError) as exc:
            payers.save_fee(env.db, who, FeeInput(p.id, "90837", rate))
        assert "rate" in exc.value.fields
    for code in ("9083", "908345", "HH015", ""):
        with pytest.raises(ValidationError) as exc:
            payers.save_fee(env.db, who, FeeInput(p.id, code, "10"))
        assert "code" in exc.value.fields
    # an open-ended fee already covers every date: a dated one for the same code overlaps
    with pytest.raises(ValidationError) as over:
        payers.save_fee(env.db, who, FeeInput(p.id, "90834", "90", date(2027, 1, 1)))
    assert "already covers" in over.value.fields["code"]
    # end the first fee, then a new rate from 2027 is accepted; the day after is the boundary
    payers.save_fee(
        env.db,
        who,
        FeeInput(p.id, "90834", "100", None, date(2026, 12, 31)),
        fee_id=fee.id,
        version=fee.version,
    )
    with pytest.raises(ValidationError):
        payers.save_fee(env.db, who, FeeInput(p.id, "90834", "90", date(2026, 12, 31)))
    new = payers.save_fee(env.db, who, FeeInput(p.id, "90834", "110", date(2027, 1, 1)))
    with pytest.raises(ValidationError) as order:
        payers.save_fee(env.db, who, FeeInput(p.id, "90837", "1", date(2027, 2, 1), D1))
    assert "effective_to" in order.value.fields
    listed = payers.list_fees(env.db, who, p.id)
    assert [(f.code, f.rate) for f in listed] == [
        ("90834", Decimal("100.00")),
        ("90834", Decimal("110.00")),
        ("H0015", Decimal("0.00")),
    ]
    with pytest.raises(ValidationError):
        payers.void_fee(env.db, who, new.id, " ")
    payers.void_fee(env.db, who, new.id, "entered twice")
    assert len(payers.list_fees(env.db, who, p.id)) == 2
    with pytest.raises(NotFoundError):
        payers.void_fee(env.db, who, new.id, "again")
    assert payers.list_payers(env.db, who)[0].fee_count == 2


def test_dated_fee_prices_each_date_of_service(env: Env, tmp_path: Path) -> None:
    book = base()
    book["Fees"] = [book["Fees"][0]]  # no ACME fees from the workbook
    client(book, "A1")
    for sid, day in (("S1", D1), ("S2", D2)):
        session(book, sid, "individual", day, 45, mrn="A1")
    load(env, tmp_path, book)
    who = env.world.billing
    acme = next(p for p in payers.list_payers(env.db, who) if p.payer_code == "ACME")
    payers.save_fee(env.db, who, FeeInput(acme.id, "90834", "100", None, D1))
    payers.save_fee(env.db, who, FeeInput(acme.id, "90834", "125", D2, None))
    assert [(ln.date_of_service, ln.charge) for ln in run(env).lines] == [
        (D1, Decimal("100.00")),
        (D2, Decimal("125.00")),
    ]


def test_authorization_editor_rules_and_billing(env: Env, tmp_path: Path) -> None:
    book = base()
    client(book, "A1", payer="AUTHP")
    for sid, day in (("S1", D1), ("S2", D2), ("S3", D3)):
        session(book, sid, "individual", day, 45, mrn="A1")
    load(env, tmp_path, book)
    who = env.world.billing
    authp = next(p for p in payers.list_payers(env.db, who) if p.payer_code == "AUTHP")
    cid = run(env).exceptions[0].client_id
    assert {e.reason for e in run(env).exceptions} == {"no authorization"}
    bad = AuthInput(cid, authp.id, "", "9083", D5, D1, "zero")
    with pytest.raises(ValidationError) as exc:
        payers.save_authorization(env.db, who, bad)
    assert set(exc.value.fields) == {"auth_number", "code", "end_date", "units"}
    a = payers.save_authorization(env.db, who, AuthInput(cid, authp.id, "PA-1", "90834", D1, D5, 2))
    assert (a.units, a.used, a.remaining) == (2, 0, 2)
    with pytest.raises(ValidationError) as dup:
        payers.save_authorization(env.db, who, AuthInput(cid, authp.id, "pa-1", "90834", D1, D5, 1))
    assert "already recorded" in dup.value.fields["auth_number"]
    r = run(env)
    assert [(ln.date_of_service, ln.auth_number) for ln in r.lines] == [(D1, "PA-1"), (D2, "PA-1")]
    assert [(e.date_of_service, e.reason) for e in r.exceptions] == [
        (D3, "authorization exhausted")
    ]
    billing.export(env.db, who, D1, D5, tmp_path / "b.xlsx")
    (listed,) = payers.list_authorizations(env.db, who, cid)
    assert (listed.used, listed.remaining) == (2, 0)
    with pytest.raises(ValidationError) as fewer:
        payers.save_authorization(
            env.db,
            who,
            AuthInput(cid, authp.id, "PA-1", "90834", D1, D5, 1),
            auth_id=a.id,
            version=a.version,
        )
    assert "already billed" in fewer.value.fields["units"]
    with pytest.raises(ValidationError):
        payers.void_authorization(env.db, who, a.id, "entered in error")
    more = payers.save_authorization(
        env.db,
        who,
        AuthInput(cid, authp.id, "PA-1", "90834", D1, D5, 3),
        auth_id=a.id,
        version=a.version,
    )
    assert (more.units, more.used, more.remaining) == (3, 2, 1)
    assert [(ln.date_of_service, ln.auth_number) for ln in run(env).lines] == [(D3, "PA-1")]
    with pytest.raises(StaleRecordError):
        payers.save_authorization(
            env.db,
            who,
            AuthInput(cid, authp.id, "PA-1", "90834", D1, D5, 4),
            auth_id=a.id,
            version=a.version,
        )


def test_coverage_fixes_no_member_id(env: Env, tmp_path: Path) -> None:
    book = base()
    client(book, "A1", member=None)
    session(book, "S1", "individual", D1, 45, mrn="A1")
    load(env, tmp_path, book)
    who = env.world.billing
    assert [e.reason for e in run(env).exceptions] == ["no member ID"]
    cid = run(env).exceptions[0].client_id
    (cov,) = payers.list_coverage(env.db, who, cid)
    assert cov.member_id == ""
    with pytest.raises(ValidationError) as exc:
        payers.save_coverage(env.db, who, cid, cov.payer_id, "  ")
    assert "member_id" in exc.value.fields
    payers.save_coverage(
        env.db, who, cid, cov.payer_id, "XJ-99", coverage_id=cov.id, version=cov.version
    )
    assert [ln.member_id for ln in run(env).lines] == ["XJ-99"]


def test_only_billing_and_admin_manage_payers(env: Env) -> None:
    w = env.world
    for actor in (w.front_desk, w.therapist, w.supervisor):
        with pytest.raises(PermissionDenied):
            payers.save_payer(env.db, actor, PayerInput("X", "X"))
    assert payers.save_payer(env.db, w.admin, PayerInput("X", "X")).payer_code == "X"
    with pytest.raises(PermissionDenied):
        payers.list_payers(env.db, w.front_desk)
