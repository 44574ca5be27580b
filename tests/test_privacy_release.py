"""Issue 16, the release half: consent scope by information category, the recipient directory
(exact names, never substrings), HIPAA authorizations for clients outside Part 2, TPO consents
naming a class of recipients, and the notice every disclosed document carries.

The matrix {Part 2, non-Part 2} x {internal, client's own copy, TPO release, non-TPO release}
x {consent states} x {each release path's categories} runs against the gate service on both
databases; every release path then runs end to end through the command line (allowed and
refused) on an encrypted SQLite file."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import col, select

from iopdesk.db import Database, DbTarget
from iopdesk.models import AuditEvent, Client, Consent, Disclosure, Recipient
from iopdesk.reports import PART2_NOTICE, PART2_NOTICE_FULL, RELEASE_NOTICE_SHEET
from iopdesk.services import aftercare, consents, disclosures, recipients
from iopdesk.services.disclosures import CLIENT_COPY, INTERNAL, ConsentRequired, Release
from tests.conftest import PASSWORD, Env, build_world
from tests.helpers import pdf_text

TODAY = date.today()
EVERY = (
    "attendance",
    "diagnosis",
    "treatment_plan",
    "progress_notes",
    "medications",
    "drug_screens",
    "discharge_aftercare",
    "billing",
)
# the categories each release path declares (computed from the document; here the full set)
PATHS = {
    "attendance report": ("attendance",),
    "billing export": ("billing", "diagnosis"),
    "workbook export": ("attendance", "diagnosis", "billing"),
    "aftercare packet": ("discharge_aftercare", "medications"),
    "note printout": ("progress_notes",),
    "plan printout": ("treatment_plan", "diagnosis"),
}
AUDIENCES = ("internal", "client_copy", "tpo", "non_tpo")
STATES = (
    "no consent",
    "valid",
    "expired",
    "revoked",
    "wrong recipient",
    "recipient substring",
    "category missing",
    "category all",
)
PLAN = "Prairie State Medicaid"
NON_TPO = "employment verification"


def expected_allowed(part2: bool, audience: str, state: str) -> bool:
    if audience in ("internal", "client_copy"):
        return True  # inside the clinic, or the client's own right of access
    if not part2 and audience == "tpo":
        return True  # HIPAA 164.506: no authorization needed
    return state in ("valid", "category all")


def _directory(env: Env) -> dict[str, int]:
    a = env.world.admin
    return {
        r.name: r.id
        for r in (
            recipients.add_recipient(
                env.db, a, PLAN, PLAN, "PO Box 4400, Springfield", "health_plan"
            ),
            recipients.add_recipient(env.db, a, "Medicaid", "", "", "health_plan"),
            recipients.add_recipient(
                env.db, a, "Acme Corp HR", "Acme Corp", "1 Plant Rd", "employer"
            ),
        )
    }


def _add_consent(env: Env, client_id: int, part2: bool, state: str, ids: dict[str, int]) -> None:
    if state == "no consent":
        return
    to = "Acme Corp HR" if state == "wrong recipient" else PLAN
    cats: tuple[str, ...] = EVERY
    if state == "category missing":
        cats = ("billing",)  # every path holds something else too
    if state == "category all":
        cats = ("all",)
    info = consents.add_consent(
        env.db,
        env.world.admin,
        client_id,
        consents.ConsentInput(
            recipient_name="",
            recipient_id=ids[to],
            kind="part2" if part2 else "hipaa",
            purpose=f"payment, {NON_TPO}",
            info_categories=cats,
            signed_date=TODAY - timedelta(days=60),
            expiry_date=TODAY - timedelta(days=1)
            if state == "expired"
            else TODAY + timedelta(days=200),
        ),
    )
    if state == "revoked":
        consents.revoke_consent(env.db, env.world.admin, info.id, info.version, TODAY)


def _release(audience: str, state: str) -> Release:
    to = "Medicaid" if state == "recipient substring" else PLAN
    if audience == "internal":
        return INTERNAL
    if audience == "client_copy":
        return CLIENT_COPY
    return Release("disclosure", to, " Payment " if audience == "tpo" else NON_TPO.upper())


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("audience", AUDIENCES)
@pytest.mark.parametrize("part2", [True, False], ids=["part2", "non-part2"])
def test_release_matrix(env: Env, part2: bool, audience: str, state: str) -> None:
    w = env.world
    cid = w.client_own
    with env.db.session() as s:
        client = s.get(Client, cid)
        assert client is not None
        client.part2 = part2
        mrn = client.mrn
        s.add(client)
    ids = _directory(env)
    _add_consent(env, cid, part2, state, ids)
    release = _release(audience, state)
    allowed = expected_allowed(part2, audience, state)
    for path, categories in PATHS.items():
        before = _count(env)
        try:
            with env.db.session() as s:
                plan = disclosures.plan_release(s, [cid], release, categories)
                row = disclosures.authorize(s, w.admin, cid, release, path, categories)
        except ConsentRequired as exc:
            assert not allowed, (path, exc.message)
            assert _count(env) == before  # nothing written
            assert f"Client {mrn}" in exc.message and "Nothing was written" in exc.message
            if state == "category missing":
                missing = set(categories) - {"billing"}
                for code in missing:
                    assert disclosures.CATEGORY_LABELS[code] in exc.message, (path, exc.message)
            if not part2:
                assert "HIPAA authorization" in exc.message
            else:
                assert "42 CFR Part 2" in exc.message
            continue
        assert allowed, (path, "went out")
        assert _count(env) == before + 1
        assert row.kind == release.kind
        assert row.categories.split(",") == [c for c in EVERY if c in categories]
        notice = plan.notice()
        if release.kind != "disclosure":
            assert row.consent_id is None and notice == ()
            continue
        to = "Medicaid" if state == "recipient substring" else PLAN
        assert row.recipient == to and row.recipient_id == ids[to]
        text = "\n".join(notice)
        if to == PLAN:
            assert row.recipient_address == "PO Box 4400, Springfield"
            assert "PO Box 4400" in text
        if part2:
            assert PART2_NOTICE in notice and PART2_NOTICE_FULL in notice
        else:
            assert PART2_NOTICE not in notice
        if row.consent_id is None:  # non-Part 2, treatment/payment/operations
            assert not part2 and audience == "tpo"
            assert "164.506" in text
        else:
            with env.db.session() as s:
                consent = s.get(Consent, row.consent_id)
                assert consent is not None
            assert consent.kind == ("part2" if part2 else "hipaa")
            assert f"no. {consent.id}" in text and "permits disclosure of" in text  # 2.32(b)


def _count(env: Env) -> int:
    with env.db.session() as s:
        return len(s.exec(select(Disclosure.id)).all())


def test_categories_parse_and_labels() -> None:
    assert disclosures.parse_categories("Medications, attendance") == ("attendance", "medications")
    assert disclosures.parse_categories(["Discharge summary and aftercare plan"]) == (
        "discharge_aftercare",
    )
    assert disclosures.parse_categories("all, billing") == ("all",)
    with pytest.raises(Exception, match="not an information category"):
        disclosures.parse_categories("everything")
    assert disclosures.purposes("Treatment, payment and health care operations") == {
        "treatment",
        "payment",
        "operations",
    }
    assert disclosures.purposes("TPO") == {"treatment", "payment", "operations"}
    assert disclosures.purposes(" Court order ; payment") == {"court order", "payment"}


def test_class_consent_needs_tpo_purposes_and_covers_the_class(env: Env) -> None:
    w = env.world
    ids = _directory(env)
    with pytest.raises(Exception, match="TPO consent"):
        consents.add_consent(
            env.db,
            w.admin,
            w.client_own,
            consents.ConsentInput(
                "",
                "payment, employment verification",
                TODAY,
                recipient_class="health_plans",
                info_categories=("all",),
                expiry_date=TODAY + timedelta(days=9),
            ),
        )
    with env.db.session() as s:
        c = s.get(Client, w.client_own)
        assert c is not None
        c.part2 = True
        s.add(c)
    info = consents.add_consent(
        env.db,
        w.admin,
        w.client_own,
        consents.ConsentInput(
            "",
            "treatment, payment, operations",
            TODAY,
            recipient_class="health_plans",
            info_categories=("all",),
            expiry_event="end of treatment",
        ),
    )
    assert info.recipient == "my health plans and payers"
    with env.db.session() as s:  # any health plan in the directory ...
        for name in (PLAN, "Medicaid"):
            disclosures.authorize(
                s, w.admin, w.client_own, Release("disclosure", name, "payment"), "x"
            )
    with pytest.raises(ConsentRequired), env.db.session() as s:  # ... but not an employer
        disclosures.authorize(
            s, w.admin, w.client_own, Release("disclosure", "Acme Corp HR", "payment"), "x"
        )
    assert ids


def test_unknown_recipient_lists_close_names(env: Env) -> None:
    _directory(env)
    with pytest.raises(recipients.UnknownRecipient) as err, env.db.session() as s:
        disclosures.authorize(
            s,
            env.world.admin,
            env.world.client_own,
            Release("disclosure", "Prairie", "payment"),
            "x",
        )
    assert PLAN in err.value.message and "not in the recipient directory" in err.value.message
    with env.db.session() as s:  # exact name, ignoring case and surrounding space
        row = disclosures.authorize(
            s,
            env.world.admin,
            env.world.client_own,
            Release("disclosure", "  prairie STATE medicaid ", "payment"),
            "x",
        )
    assert row.recipient == PLAN
    with pytest.raises(Exception, match="already in the recipient directory"):
        recipients.add_recipient(env.db, env.world.admin, " PRAIRIE state Medicaid")


# -- end to end through the command line ---------------------------------------------------------

PASSPHRASE = "release-matrix-passphrase"


@dataclass(frozen=True)
class Clinic:
    path: Path
    p2_mrn: str  # Part 2 client with a finalized packet listing a medication
    np_mrn: str  # non-Part 2 client with a finalized packet
    week: date


def _envlike(db: Database, world: object, path: Path) -> Env:
    return Env(db, world, "sqlite", DbTarget(path=path))  # type: ignore[arg-type]


def _open(path: Path) -> Database:
    return Database.open(DbTarget(path=path), passphrase_provider=lambda creating: PASSPHRASE)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Clinic:
    from tests.test_aftercare import discharged_with_plan, finalize, full_data
    from tests.test_billing import D1, _two_clients

    folder = tmp_path_factory.mktemp("release-clinic")
    path = folder / "iopdesk.db"
    db = Database.open(
        DbTarget(path=path), create=True, passphrase_provider=lambda creating: PASSPHRASE
    )
    try:
        world = build_world(db)
        env = _envlike(db, world, path)
        _two_clients(env, folder)
        mrns = []
        for first, part2 in (("Pat", True), ("Nora", False)):
            st, plan_id = discharged_with_plan(env, first, "Released", part2=part2)
            view = aftercare.get_plan(db, world.therapist, plan_id)
            aftercare.save_plan(db, world.therapist, plan_id, view.version, full_data(view))
            finalize(env, plan_id)
            with db.session() as s:
                c = s.get(Client, st.client_id)
                assert c is not None
                mrns.append(c.mrn)
        _directory(env)
        # the issue's consent: the health plan may receive attendance, diagnosis and billing
        with db.session() as s:
            part2_ids = list(s.exec(select(Client.id).where(col(Client.part2))).all())
        for cid in part2_ids:
            consents.add_consent(
                db, world.admin, cid,
                consents.ConsentInput(
                    PLAN, "treatment, payment, operations", TODAY - timedelta(days=30),
                    info_categories=("attendance", "diagnosis", "billing"),
                    expiry_date=TODAY + timedelta(days=300),
                ),
            )  # fmt: skip
    finally:
        db.close()
    return Clinic(path, mrns[0], mrns[1], D1)


def _copy(clinic: Clinic, dest: Path) -> Path:
    dest.mkdir()
    target = dest / "iopdesk.db"
    shutil.copyfile(clinic.path, target)
    shutil.copyfile(f"{clinic.path}.keyinfo", f"{target}.keyinfo")
    return target


def _tpo_for_everyone(path: Path) -> None:
    """A 2.31(a)(4)(i) TPO consent (class: health plans; all information) for every Part 2
    client."""
    db = _open(path)
    try:
        from iopdesk.services.auth import login

        admin = login(db, "admin", PASSWORD)
        with db.session() as s:
            ids = list(s.exec(select(Client.id).where(col(Client.part2))).all())
        for cid in ids:
            consents.add_consent(
                db, admin, cid,
                consents.ConsentInput(
                    "", "treatment, payment, operations", TODAY, recipient_class="health_plans",
                    info_categories=("all",), expiry_date=TODAY + timedelta(days=365),
                ),
            )  # fmt: skip
    finally:
        db.close()


def _revoke_all(path: Path) -> None:
    db = _open(path)
    try:
        from iopdesk.services.auth import login

        admin = login(db, "admin", PASSWORD)
        with db.session() as s:
            rows = [(c.id, c.version) for c in s.exec(select(Consent)).all()]
        for cid, version in rows:
            consents.revoke_consent(db, admin, cid or 0, version, TODAY)
    finally:
        db.close()


def _run(
    path: Path, user: str, *args: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    from iopdesk import cli

    monkeypatch.setenv("IOPDESK_DB_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("IOPDESK_PASSWORD", PASSWORD)
    capsys.readouterr()
    code = cli.main(["--db", str(path), "--user", user, *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _rows(path: Path) -> list[Disclosure]:
    db = _open(path)
    try:
        with db.session() as s:
            return list(s.exec(select(Disclosure).where(Disclosure.kind == "disclosure")).all())
    finally:
        db.close()


def _xlsx_text(path: Path) -> str:
    book = load_workbook(path)
    parts = []
    for ws in book.worksheets:
        for row in ws.iter_rows(values_only=True):
            parts.extend(str(v) for v in row if v is not None)
    return "\n".join(parts)


def _command(kind: str, clinic: Clinic, out: Path) -> tuple[str, tuple[str, ...]]:
    week = clinic.week.isoformat()
    end = (clinic.week + timedelta(days=4)).isoformat()
    return {
        "report attendance": ("admin", ("report", "attendance", "--week", week, "-o", str(out))),
        "export billing": (
            "billing",
            ("export", "billing", "--from", week, "--to", end, "-o", str(out)),
        ),
        "export workbook": ("admin", ("export", "workbook", "-o", str(out))),
        "print aftercare": ("admin", ("print", "aftercare", clinic.p2_mrn, "-o", str(out))),
    }[kind]


SUFFIX = {
    "report attendance": ".pdf",
    "export billing": ".xlsx",
    "export workbook": ".xlsx",
    "print aftercare": ".pdf",
}


@pytest.mark.parametrize("kind", list(SUFFIX))
@pytest.mark.parametrize("covered", [False, True], ids=["refused", "allowed"])
def test_cli_release_paths(
    clinic: Clinic,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
    kind: str,
    covered: bool,
) -> None:
    path = _copy(clinic, tmp_path / "db")
    if covered:
        _tpo_for_everyone(path)
    else:
        _revoke_all(path)
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / f"file{SUFFIX[kind]}"
    user, args = _command(kind, clinic, out)
    purpose = "payment" if kind != "print aftercare" else "treatment"
    code, stdout, err = _run(
        path, user, *args, "--recipient", "prairie state medicaid", "--purpose", purpose,
        monkeypatch=monkeypatch, capsys=capsys,
    )  # fmt: skip
    if not covered:
        assert code == 2, (stdout, err)
        assert len(err.strip().splitlines()) == 1 and "Nothing was written" in err
        assert list(folder.iterdir()) == []
        assert _rows(path) == []
        return
    assert code == 0, err
    assert out.exists()
    rows = _rows(path)
    assert rows and all(r.recipient == PLAN and r.recipient_address for r in rows)
    text = pdf_text(out, layout=False) if out.suffix == ".pdf" else _xlsx_text(out)
    flat = " ".join(text.split())
    assert "PO Box 4400" in flat
    assert "permits disclosure of" in flat  # the consent's scope (2.32(b))
    assert " ".join(PART2_NOTICE_FULL.split()[:12]) in flat
    assert PART2_NOTICE in flat
    if out.suffix == ".xlsx":
        assert RELEASE_NOTICE_SHEET in load_workbook(out).sheetnames


def test_issue_repro_scope_substring_hipaa_and_tpo_class(
    clinic: Clinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """What was seen 1, 2, 3 and 6."""
    path = _copy(clinic, tmp_path / "db")
    folder = tmp_path / "out"
    folder.mkdir()
    packet = folder / "packet.pdf"
    base = ("print", "aftercare", clinic.p2_mrn, "-o", str(packet))

    def run(*args: str) -> tuple[int, str, str]:
        return _run(path, "admin", *args, monkeypatch=monkeypatch, capsys=capsys)

    # 1. the consent covers attendance, diagnosis and billing: the packet is refused
    code, _, err = run(*base, "--recipient", PLAN, "--purpose", "payment")
    assert code == 2 and not packet.exists()
    assert clinic.p2_mrn in err and "discharge/aftercare" in err and "medications" in err
    # 2. a consent to "Prairie State Medicaid" does not let "Medicaid" through
    code, _, err = run(*base, "--recipient", "Medicaid", "--purpose", "payment")
    assert code == 2 and not packet.exists() and "42 CFR Part 2" in err
    code, _, err = run(*base, "--recipient", "Prairie", "--purpose", "payment")
    assert code == 2 and "not in the recipient directory" in err and PLAN in err
    # 3. a client outside Part 2: an employer for employment verification needs an authorization
    other = ("print", "aftercare", clinic.np_mrn, "-o", str(packet))
    code, _, err = run(*other, "--recipient", "Acme Corp HR", "--purpose", NON_TPO)
    assert code == 2 and not packet.exists()
    assert clinic.np_mrn in err and "HIPAA authorization" in err
    assert _rows(path) == []
    # ... and with a signed HIPAA authorization covering it, it goes out and is recorded
    db = _open(path)
    try:
        from iopdesk.services.auth import login

        admin = login(db, "admin", PASSWORD)
        with db.session() as s:
            np_id = s.exec(select(Client.id).where(Client.mrn == clinic.np_mrn)).one()
            p2_id = s.exec(select(Client.id).where(Client.mrn == clinic.p2_mrn)).one()
        consents.add_consent(
            db, admin, np_id,
            consents.ConsentInput(
                "Acme Corp HR", NON_TPO, TODAY, kind="hipaa",
                info_categories=("discharge_aftercare", "medications"),
                expiry_date=TODAY + timedelta(days=30),
            ),
        )  # fmt: skip
    finally:
        db.close()
    code, _, err = run(
        *other, "--recipient", "acme corp hr", "--purpose", " Employment Verification"
    )
    assert code == 0, err
    assert packet.exists()
    packet.unlink()
    # 6. a TPO consent naming a class ("my health plans") is honoured
    code, _, err = run(
        *base, "--recipient", PLAN, "--purpose", "payment", "--leave-out", "medications"
    )
    assert code == 2  # discharge/aftercare is still not covered by the scoped consent
    db = _open(path)
    try:
        admin = login(db, "admin", PASSWORD)
        consents.add_consent(
            db, admin, p2_id,
            consents.ConsentInput(
                "", "treatment, payment and health care operations", TODAY,
                recipient_class="health_plans", info_categories=("discharge_aftercare",),
                expiry_event="end of treatment",
            ),
        )  # fmt: skip
    finally:
        db.close()
    code, _, err = run(*base, "--recipient", PLAN, "--purpose", "payment")
    assert code == 2 and "medications" in err and "--leave-out medications" in err
    code, _, err = run(
        *base, "--recipient", PLAN, "--purpose", "payment", "--leave-out", "medications"
    )
    assert code == 0, err
    text = " ".join(pdf_text(packet, layout=False).split())
    assert "Naltrexone" not in text and "Left out of this copy" in text
    assert "my health plans and payers" in text and PART2_NOTICE in text
    rows = _rows(path)
    assert rows[-1].categories == "discharge_aftercare" and rows[-1].consent_id
    db = _open(path)
    try:
        with db.session() as s:
            details = s.exec(
                select(AuditEvent.detail).where(AuditEvent.action == "disclosure")
            ).all()
    finally:
        db.close()
    assert not any(PLAN in d or "Acme" in d for d in details)  # recipients stay out of the audit


def test_consent_form_carries_the_2024_statements(env: Env, tmp_path: Path) -> None:
    w = env.world
    _directory(env)
    tpo = consents.add_consent(
        env.db,
        w.admin,
        w.client_own,
        consents.ConsentInput(
            "",
            "treatment, payment, operations",
            TODAY,
            recipient_class="treating_providers",
            info_categories=("all",),
            expiry_date=TODAY + timedelta(days=365),
        ),
    )
    form = consents.print_consent_form(env.db, w.admin, w.client_own, tmp_path / "tpo.pdf", tpo.id)
    text = " ".join(pdf_text(form, layout=False).split())
    for needed in (
        "my treating providers",
        "2.31(a)(4)(i)",
        "revoke this consent at any time",
        "To revoke this consent, tell any staff member",
        "2.31(a)(4)(iii)(A)",  # redisclosure by HIPAA entities for TPO
        "2.31(a)(4)(iii)(B)",  # consequences of refusing to sign
        "expires on the date or event stated above",
        (TODAY + timedelta(days=365)).isoformat(),
        "All of my records",
        "42 CFR 2.32",
        PART2_NOTICE,
    ):
        assert needed in text, needed
    auth = consents.add_consent(
        env.db,
        w.admin,
        w.client_own,
        consents.ConsentInput(
            "Acme Corp HR",
            NON_TPO,
            TODAY,
            kind="hipaa",
            info_categories=("attendance",),
            expiry_date=TODAY + timedelta(days=30),
        ),
    )
    form = consents.print_consent_form(env.db, w.admin, w.client_own, tmp_path / "h.pdf", auth.id)
    text = " ".join(pdf_text(form, layout=False).split())
    assert "Authorization for the Use and Disclosure of Health Information" in text
    assert "1 Plant Rd" in text and "will not condition my treatment" in text
    assert "may then no longer be protected" in text


def test_migration_links_existing_consents_to_directory_records(env: Env) -> None:
    """0004 on a database with consents in it: each recipient name becomes a directory entry
    the consent points to, the old category labels become codes, and releases still work."""
    from alembic import command
    from sqlalchemy import text

    from iopdesk.migrations import runner

    w = env.world
    cfg = runner.config()
    with env.db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003_attendance_covering")
        conn.commit()
    signed = TODAY - timedelta(days=10)
    with env.db.engine.begin() as conn:
        for name, org, cats in (
            ("Lakeshore Health Plan", "", "Attendance and participation,Diagnosis,Our own words"),
            ("lakeshore health plan ", "Claims", "Medications"),
            ("", "Family Clinic", "Discharge summary and aftercare plan"),
        ):
            conn.execute(
                text(
                    "INSERT INTO consent (created_at, updated_at, version, client_id, "
                    "recipient_name, recipient_org, purpose, info_categories, signed_date, "
                    "expiry_date, expiry_event, form_mime, form_filename) VALUES (:now, :now, 1, "
                    ":cid, :name, :org, 'payment', :cats, :signed, :expiry, '', '', '')"
                ),
                {
                    "now": signed,
                    "cid": w.client_own,
                    "name": name,
                    "org": org,
                    "cats": cats,
                    "signed": signed,
                    "expiry": TODAY + timedelta(days=30),
                },
            )
    runner.upgrade(env.db.engine)
    with env.db.session() as s:
        directory = {r.name_key: r for r in s.exec(select(Recipient)).all()}
        rows = s.exec(select(Consent).order_by(col(Consent.id))).all()
    assert set(directory) == {"lakeshore health plan", "family clinic"}
    assert [c.recipient_id for c in rows] == [
        directory["lakeshore health plan"].id,
        directory["lakeshore health plan"].id,
        directory["family clinic"].id,
    ]
    assert [c.info_categories for c in rows] == [
        "attendance,diagnosis,Our own words",
        "medications",
        "discharge_aftercare",
    ]
    assert {c.kind for c in rows} == {"part2"}
    with env.db.session() as s:
        c = s.get(Client, w.client_own)
        assert c is not None
        c.part2 = True
        s.add(c)
    with env.db.session() as s:
        row = disclosures.authorize(
            s,
            w.admin,
            w.client_own,
            Release("disclosure", "Lakeshore Health Plan", "payment"),
            "x",
            ["attendance", "diagnosis"],
        )
    assert row.consent_id == rows[0].id


def test_a_report_refusal_names_every_client_and_what_is_missing(env: Env) -> None:
    """One refusal stops the whole report; each client is named with its own reason."""
    w = env.world
    ids = _directory(env)
    with env.db.session() as s:
        for cid in (w.client_own, w.client_other):
            c = s.get(Client, cid)
            assert c is not None
            c.part2 = True
            s.add(c)
        mrns = {cid: s.get(Client, cid).mrn for cid in (w.client_own, w.client_other)}  # type: ignore[union-attr]
    _add_consent(env, w.client_own, True, "category missing", ids)  # billing only
    release = Release("disclosure", PLAN, "payment")
    with pytest.raises(ConsentRequired) as err, env.db.session() as s:
        disclosures.authorize_many(
            s,
            w.admin,
            {w.client_own: ("medications",), w.client_other: ()},
            release,
            "x",
            ("billing",),
        )
    text = err.value.message
    assert f"Client {mrns[w.client_own]} is protected by 42 CFR Part 2" in text
    assert "does not cover: medications" in text
    assert (
        f"Client {mrns[w.client_other]} is protected by 42 CFR Part 2 and there is no consent"
        in text
    )
    assert "2 client(s)" in text and len(text.splitlines()) == 1
    assert err.value.leave_out == ()  # nothing to offer: the second client has no consent
    assert _count(env) == 0
    # one client, only medications missing, and the document can leave them out: offered
    with pytest.raises(ConsentRequired) as err, env.db.session() as s:
        disclosures.plan_release(
            s,
            [w.client_own],
            release,
            ("billing", "medications"),
            reducible={"medications": "leave them out"},
        )
    assert err.value.leave_out == ("medications",)
    assert "leave out medications (leave them out)" in err.value.message
