"""The Part 2 disclosure gate on every export path, consents, and the accounting."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from iopdesk.errors import ValidationError
from iopdesk.models import AuditEvent, Client, Consent, Disclosure, Recipient
from iopdesk.reports import PART2_NOTICE
from iopdesk.services import billing, consents, disclosures, hours, recipients
from iopdesk.services.disclosures import CLIENT_COPY, INTERNAL, ConsentRequired, Release
from iopdesk.services.workbook import export_workbook
from tests.conftest import Env
from tests.helpers import pdf_text
from tests.test_billing import D1, D4, _two_clients

TODAY = date.today()
PLAN = Release("disclosure", "Acme Health Plan", "payment")


def _mrn_ids(env: Env) -> dict[str, int]:
    with env.db.session() as s:
        return {c.mrn: c.id or 0 for c in s.exec(select(Client)).all()}


def _acme(env: Env) -> None:
    """The recipient directory entry the releases in these tests go to."""
    recipients.add_recipient(
        env.db, env.world.admin, "Acme Health Plan", "Acme Health Plan", "1 Main St", "health_plan"
    )


def _consent(env: Env, client_id: int, state: str) -> None:
    signed = TODAY - timedelta(days=30)
    data = consents.ConsentInput(
        recipient_name="Acme Health Plan",
        recipient_org="Acme Health Plan, claims department",
        purpose="treatment, payment and health care operations",
        signed_date=signed,
        expiry_date=TODAY + timedelta(days=300),
        info_categories=("Attendance and participation", "Diagnosis", "billing"),
    )
    if state == "expired":
        data = consents.ConsentInput(**{**data.__dict__, "expiry_date": TODAY - timedelta(days=2)})
    if state == "unsigned":
        data = consents.ConsentInput(**{**data.__dict__, "signed_date": None})
    if state == "other_recipient":
        data = consents.ConsentInput(
            **{**data.__dict__, "recipient_name": "Dr. Brown", "recipient_org": "Family Clinic"}
        )
    info = consents.add_consent(env.db, env.world.admin, client_id, data)
    if state == "revoked":
        consents.revoke_consent(
            env.db, env.world.admin, info.id, info.version, TODAY - timedelta(days=1)
        )


def _export(env: Env, path_kind: str, target: Path, release: Release | None) -> None:
    w = env.world
    if path_kind == "attendance":
        hours.export_attendance_report(env.db, w.admin, D1, target, release)
    elif path_kind == "billing":
        billing.export(env.db, w.billing, D1, D4, target, release=release)
    else:
        export_workbook(env.db, w.admin, target, release)


def _xlsx_text(path: Path) -> str:
    from openpyxl import load_workbook

    book = load_workbook(path)
    parts = [book.properties.description or ""]
    for ws in book.worksheets:
        parts.append(ws.oddFooter.left.text or "")
        for row in ws.iter_rows(values_only=True):
            parts.extend(str(v) for v in row if v is not None)
    return "\n".join(parts)


def _disclosures(env: Env) -> list[Disclosure]:
    with env.db.session() as s:
        return list(s.exec(select(Disclosure).order_by(col(Disclosure.id))).all())


PATHS = ["attendance", "billing", "workbook"]


@pytest.mark.parametrize("path_kind", PATHS)
@pytest.mark.parametrize("state", ["absent", "expired", "revoked", "unsigned", "other_recipient"])
def test_disclosure_without_valid_consent_is_refused(
    env: Env, tmp_path: Path, path_kind: str, state: str
) -> None:
    _two_clients(env, tmp_path)
    _acme(env)
    ids = _mrn_ids(env)
    if state != "absent":
        _consent(env, ids["B2"], state)
    out = tmp_path / "out"
    out.mkdir()
    target = out / "out.xlsx"
    with pytest.raises(ConsentRequired) as err:
        _export(env, path_kind, target, PLAN)
    assert "B2" in err.value.message and "42 CFR Part 2" in err.value.message
    expected = {
        "absent": "there is no consent on file",
        "expired": "expired on",
        "revoked": "was revoked on",
        "unsigned": "is not signed",
        "other_recipient": "no consent on file names this recipient",
    }[state]
    assert expected in err.value.message
    assert not target.exists()
    assert list(out.iterdir()) == []  # no file, no temporary file
    assert _disclosures(env) == []
    with env.db.session() as s:
        actions = s.exec(select(AuditEvent.action)).all()
    assert "export" not in actions and "disclosure" not in actions


@pytest.mark.parametrize("path_kind", PATHS)
def test_disclosure_with_valid_consent_is_recorded_and_stamped(
    env: Env, tmp_path: Path, path_kind: str
) -> None:
    _two_clients(env, tmp_path)
    _acme(env)
    ids = _mrn_ids(env)
    _consent(env, ids["B2"], "valid")
    target = tmp_path / "out.xlsx"
    _export(env, path_kind, target, PLAN)
    assert target.exists()
    assert PART2_NOTICE in _xlsx_text(target)
    rows = _disclosures(env)
    by_client = {r.client_id: r for r in rows}
    part2 = by_client[ids["B2"]]
    with env.db.session() as s:
        consent = s.exec(select(Consent).where(Consent.client_id == ids["B2"])).one()
    assert part2.consent_id == consent.id
    assert (part2.kind, part2.recipient, part2.purpose) == (
        "disclosure",
        "Acme Health Plan",
        "payment",
    )
    assert part2.what_sent and part2.user_id
    # the non-Part 2 client goes out under HIPAA (no consent needed) and is recorded too
    assert by_client[ids["B1"]].consent_id is None
    with env.db.session() as s:
        ev = s.exec(select(AuditEvent).where(AuditEvent.action == "disclosure")).all()
    assert len(ev) == 1 and "Acme" not in ev[0].detail  # recipient stays out of the audit text


@pytest.mark.parametrize("path_kind", PATHS)
def test_internal_use_needs_no_consent_and_is_recorded_as_internal(
    env: Env, tmp_path: Path, path_kind: str
) -> None:
    _two_clients(env, tmp_path)
    target = tmp_path / "out.xlsx"
    _export(env, path_kind, target, None)  # the default: internal use
    assert target.exists()
    rows = _disclosures(env)
    assert rows and {r.kind for r in rows} == {"internal"}
    assert all(r.consent_id is None for r in rows)


def test_authorize_single_client_kinds_and_validation(env: Env) -> None:
    w = env.world
    _acme(env)
    with env.db.session() as s:
        client = s.get(Client, w.client_own)
        assert client is not None
        client.part2 = True
        s.add(client)
    with env.db.session() as s:
        row = disclosures.authorize(s, w.therapist, w.client_own, CLIENT_COPY, "progress note 1")
        assert row.kind == "client_copy" and row.consent_id is None
        disclosures.authorize(s, w.therapist, w.client_own, INTERNAL, "roster")
        with pytest.raises(ValidationError) as err:
            disclosures.authorize(s, w.therapist, w.client_own, Release("disclosure"), "x")
        assert set(err.value.fields) == {"recipient", "purpose"}
        # a non-Part 2 client may be disclosed without a consent
        other = disclosures.authorize(s, w.therapist, w.client_other, PLAN, "aftercare packet")
        assert other.kind == "disclosure" and other.consent_id is None
        with pytest.raises(ConsentRequired):
            disclosures.authorize(s, w.therapist, w.client_own, PLAN, "progress note 1")
    kinds = [r.kind for r in disclosures.list_disclosures(env.db, w.admin, w.client_own)]
    assert sorted(kinds) == ["client_copy", "internal"]


def test_consent_matching_rules() -> None:
    plan = Recipient(id=7, name="Acme Health Plan", name_key="acme health plan", type="health_plan")
    other = Recipient(id=8, name="Acme", name_key="acme", type="health_plan")
    doctor = Recipient(id=9, name="Dr. Smith", name_key="dr. smith", type="provider")
    c = Consent(client_id=1, recipient_id=7, recipient_name="Acme Health Plan", purpose="TPO")
    assert disclosures.recipient_matches(c, plan)
    assert not disclosures.recipient_matches(c, other)  # never by a piece of the name
    assert disclosures.purpose_matches(c, "Payment ")
    assert disclosures.purpose_matches(c, "health care operations")
    assert not disclosures.purpose_matches(c, "legal proceedings")
    c2 = Consent(
        client_id=1,
        recipient_id=9,
        recipient_name="Dr. Smith",
        purpose="Coordination of care; payment",
    )
    assert disclosures.purpose_matches(c2, "  COORDINATION of care")
    assert disclosures.purpose_matches(c2, "payment")
    assert not disclosures.purpose_matches(c2, "treatment")
    assert not disclosures.purpose_matches(c2, "coordination")
    tpo = Consent(
        client_id=1, recipient_class="treating_providers", recipient_name="x", purpose="treatment"
    )
    assert disclosures.recipient_matches(tpo, doctor)
    assert not disclosures.recipient_matches(tpo, plan)


def test_consent_records_form_revoke_and_status(env: Env, tmp_path: Path) -> None:
    w = env.world
    with pytest.raises(ValidationError) as err:
        consents.add_consent(
            env.db,
            w.front_desk,
            w.client_own,
            consents.ConsentInput("Dr. Brown", "treatment", TODAY),
        )
    assert "expiry_date" in err.value.fields
    info = consents.add_consent(
        env.db,
        w.front_desk,
        w.client_own,
        consents.ConsentInput(
            "Dr. Brown",
            "treatment",
            TODAY,
            expiry_event="end of treatment episode",
            info_categories=("all",),
        ),
    )
    assert info.status == "active" and info.expires == "end of treatment episode"
    with pytest.raises(ValidationError):
        consents.attach_form(env.db, w.front_desk, info.id, b"not a scan", "x.txt")
    pdf = b"%PDF-1.4\n% signed consent scan\n"
    info = consents.attach_form(env.db, w.front_desk, info.id, pdf, "signed consent.pdf")
    assert info.has_form and info.form_filename == "signed consent.pdf"
    data, mime, name = consents.get_form(env.db, w.admin, info.id)
    assert (data, mime, name) == (pdf, "application/pdf", "signed consent.pdf")
    revoked = consents.revoke_consent(env.db, w.front_desk, info.id, info.version)
    assert revoked.status == "revoked" and revoked.revoked_date is not None
    assert [c.status for c in consents.list_consents(env.db, w.admin, w.client_own)] == ["revoked"]
    with env.db.session() as s:
        actions = s.exec(select(AuditEvent.detail).where(AuditEvent.entity == "consent")).all()
    assert any("signed form attached" in a for a in actions)
    assert any(a.startswith("revoked") for a in actions)


def test_consent_form_and_accounting_print(env: Env, tmp_path: Path) -> None:
    w = env.world
    _acme(env)
    info = consents.add_consent(
        env.db,
        w.admin,
        w.client_own,
        consents.ConsentInput(
            "Acme Health Plan",
            "payment",
            TODAY,
            expiry_date=TODAY + timedelta(days=365),
            info_categories=("Diagnosis",),
        ),
    )
    form = consents.print_consent_form(env.db, w.admin, w.client_own, tmp_path / "f.pdf", info.id)
    text = pdf_text(form)
    assert "Canary Ownclient" in text and "Acme Health Plan" in text
    assert "42 CFR part 2 prohibits unauthorized use or disclosure" in text
    assert "revoke this consent" in text
    with env.db.session() as s:
        disclosures.authorize(s, w.admin, w.client_own, PLAN, "attendance letter", ["diagnosis"])
        disclosures.authorize(s, w.admin, w.client_own, INTERNAL, "roster")
    n = disclosures.print_accounting(env.db, w.admin, w.client_own, str(tmp_path / "a.pdf"))
    assert n == 1  # internal use is not a disclosure
    text = pdf_text(tmp_path / "a.pdf")
    assert "Accounting of Disclosures" in text and "attendance letter" in text
    assert "roster" not in text
    assert "1 Main St" in text  # the recipient's address
    assert "none needed" in text  # not Part 2, payment: HIPAA needs no authorization


def _count(env: Env, model: Any) -> int:
    with env.db.session() as s:
        return len(s.exec(select(model)).all())
