"""Issue 16, item 8: the workbook's Recipients and Consents sheets and the Clients.part2 and
Tracks.substance_use columns: import, checks reported as `Sheet!row column: message`, export,
and an export -> import -> export round trip that is identical."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from iopdesk.db import Database
from iopdesk.models import Client, Consent, Recipient, Track
from iopdesk.services.workbook import (
    COLUMNS,
    SHEETS,
    ImportFailed,
    export_workbook,
    import_workbook,
)
from tests.conftest import Env
from tests.test_workbook import cells, full_sheets, other_db, problems_of, versions, write_book

__all__ = ["other_db"]  # the fixture, imported for pytest


def _set(sheets: dict[str, Any], sheet: str, key: str, column: str, value: Any) -> None:
    idx = COLUMNS[sheet].index(column)
    for row in sheets[sheet][1:]:
        if row[0] == key:
            row.extend([None] * (idx + 1 - len(row)))
            row[idx] = value
            return
    raise AssertionError(key)


def privacy_sheets() -> dict[str, Any]:
    sheets = full_sheets()
    _set(sheets, "Clients", "C1002", "part2", "yes")  # not on a substance-use track
    second = sheets["Tracks"][2][0]
    _set(sheets, "Tracks", second, "substance_use", "No")
    sheets["Recipients"] = [
        list(COLUMNS["Recipients"]),
        [
            "Prairie State Medicaid",
            "Prairie State Medicaid",
            "PO Box 4400, Springfield",
            "health_plan",
        ],
        ["Acme Corp HR", "Acme Corp", "1 Plant Road", "employer"],
        ["Jordan Carter", None, None, None],  # type defaults to other
    ]
    sheets["Consents"] = [
        list(COLUMNS["Consents"]),
        ["C1001", "prairie state medicaid", "part2", "payment", "attendance, diagnosis, billing",
         "2026-10-01", "2027-09-30", None],
        ["C1001", "health_plans", None, "treatment, payment, operations", "all",
         "2026-10-02", None, None],
        ["C1002", "Acme Corp HR", "hipaa", "employment verification", "discharge_aftercare",
         "2026-10-03", "2026-12-31", "2026-11-15"],
    ]  # fmt: skip
    return sheets


def test_privacy_sheets_import(env: Env, tmp_path: Path) -> None:
    result = import_workbook(
        env.db, env.world.admin, write_book(tmp_path / "p.xlsx", privacy_sheets())
    )
    assert result.created["Recipients"] == 3 and result.created["Consents"] == 3
    with env.db.session() as s:
        directory = {r.name: r for r in s.exec(select(Recipient)).all()}
        assert directory["Jordan Carter"].type == "other"
        assert directory["Acme Corp HR"].address == "1 Plant Road"
        part2 = dict(s.exec(select(Client.mrn, Client.part2)).all())
        assert part2["C1001"] is True  # default: its track is a substance-use track
        assert part2["C1002"] is True  # given
        assert part2["C1003"] is True
        tracks = {t.track_code: t.is_sud for t in s.exec(select(Track)).all()}
        assert tracks["SUD-AM"] is True  # default from H0015
        rows = s.exec(select(Consent).order_by(col(Consent.signed_date))).all()
        by = {c.signed_date: c for c in rows}
        plan = by[date(2026, 10, 1)]
        assert (plan.kind, plan.recipient_id, plan.info_categories, plan.purpose) == (
            "part2",
            directory["Prairie State Medicaid"].id,
            "attendance,diagnosis,billing",
            "payment",
        )
        tpo = by[date(2026, 10, 2)]
        assert (tpo.kind, tpo.recipient_class, tpo.info_categories) == (
            "part2",
            "health_plans",
            "all",
        )
        assert tpo.expiry_event  # no expiry date: valid until revoked, and says so
        auth = by[date(2026, 10, 3)]
        assert (auth.kind, auth.revoked_date) == ("hipaa", date(2026, 11, 15))


def test_privacy_round_trip_is_identical(env: Env, other_db: Database, tmp_path: Path) -> None:
    db, admin = env.db, env.world.admin
    import_workbook(db, admin, write_book(tmp_path / "p.xlsx", privacy_sheets()))
    first = tmp_path / "first.xlsx"
    counts = export_workbook(db, admin, first)
    assert counts["Recipients"] == 3 and counts["Consents"] == 3
    a = cells(first)
    assert list(a) == list(SHEETS)
    assert a["Recipients"][0] == COLUMNS["Recipients"]
    assert a["Consents"][0] == COLUMNS["Consents"]
    assert a["Consents"][1][:5] == (
        "C1001",
        "Prairie State Medicaid",
        "part2",
        "payment",
        "attendance, diagnosis, billing",
    )
    assert a["Consents"][2][1:5] == (
        "health_plans",
        "part2",
        "treatment, payment, operations",
        "all",
    )
    clients = {row[0]: row for row in a["Clients"][1:]}
    p2 = COLUMNS["Clients"].index("part2")
    assert [clients[m][p2] for m in ("C1001", "C1002", "C1003")] == ["yes", "yes", "yes"]
    su = COLUMNS["Tracks"].index("substance_use")
    assert [r[su] for r in a["Tracks"][1:]] == ["yes", "no"]
    import_workbook(other_db, admin, first)
    second = tmp_path / "second.xlsx"
    export_workbook(other_db, admin, second)
    assert cells(second) == a
    before = versions(db)
    with db.session() as s:
        consent_versions = sorted((c.id, c.version) for c in s.exec(select(Consent)).all())
    back = import_workbook(db, admin, first)
    assert back.unchanged == back.counts  # re-importing the export changes nothing
    assert versions(db) == before
    with db.session() as s:
        assert sorted((c.id, c.version) for c in s.exec(select(Consent)).all()) == consent_versions


def test_privacy_sheet_problems(env: Env, tmp_path: Path) -> None:
    sheets = privacy_sheets()
    _set(sheets, "Clients", "C1003", "part2", "maybe")
    _set(sheets, "Tracks", "SUD-AM", "substance_use", "sometimes")
    sheets["Recipients"] += [
        ["PRAIRIE STATE MEDICAID ", None, None, None],
        ["Court", None, None, "judge"],
    ]
    sheets["Consents"] += [
        ["C9999", "Nobody", "part3", None, "attendance, everything", "2026-10-01",
         "2026-09-01", None],
        ["C1003", "treating_providers", "part2", "court order", "all", "2026-10-01", None, None],
    ]  # fmt: skip
    with pytest.raises(ImportFailed) as err:
        import_workbook(env.db, env.world.admin, write_book(tmp_path / "bad.xlsx", sheets))
    problems = problems_of(err)
    expected = [
        "Tracks!2 substance_use: 'sometimes' is not yes or no",
        "Clients!4 part2: 'maybe' is not yes or no",
        "Recipients!5 name: 'PRAIRIE STATE MEDICAID' appears more than once (first on row 2)",
        "Recipients!6 type: 'judge' is not allowed; use one of: provider, health_plan, "
        "employer, court, family, other",
        "Consents!5 mrn: 'C9999' is not in the Clients sheet or the database",
        "Consents!5 recipient: 'Nobody' is not in the Recipients sheet or the recipient "
        "directory (or use treating_providers or health_plans)",
        "Consents!5 kind: 'part3' is not allowed; use one of: part2, hipaa",
        "Consents!5 purposes: required, but the cell is empty",
        "Consents!5 information: 'everything' is not an information category; use a comma "
        "list of attendance, diagnosis, treatment_plan, progress_notes, medications, "
        "drug_screens, discharge_aftercare, billing, all",
        "Consents!5 expiry_date: must be on or after signed_date",
        "Consents!6 purposes: a consent to a class of recipients is for treatment, payment "
        "and operations only",
    ]
    for line in expected:
        assert line in problems, (line, problems)
    with env.db.session() as s:
        assert s.exec(select(Recipient)).all() == []  # nothing imported


def test_a_renamed_recipient_keeps_its_consents_on_reimport(env: Env, tmp_path: Path) -> None:
    from iopdesk.services import recipients

    db, admin = env.db, env.world.admin
    import_workbook(db, admin, write_book(tmp_path / "p.xlsx", privacy_sheets()))
    acme = recipients.resolve(db, "acme corp hr")
    recipients.update_recipient(db, admin, acme.id, acme.version, "Acme HR Department", "Acme Corp")
    out = tmp_path / "renamed.xlsx"
    export_workbook(db, admin, out)
    assert any(row[1] == "Acme HR Department" for row in cells(out)["Consents"][1:])
    back = import_workbook(db, admin, out)
    assert back.created["Consents"] == 0 and back.unchanged["Consents"] == 3
