"""ICD-10-CM from the real code set (issue 20 item 11): billable (leaf) codes only, the code
set's description stored and shown, headings refused with their billable codes suggested; on
intake and on spreadsheet import, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlmodel import select

from iopdesk.errors import ValidationError
from iopdesk.models import Diagnosis
from iopdesk.services import clients
from iopdesk.services.validation import check_icd10, icd10_description
from iopdesk.services.workbook import COLUMNS, ImportFailed, import_workbook
from tests.conftest import Env


@pytest.mark.parametrize(
    ("typed", "code", "description"),
    [
        ("F10.20", "F10.20", "Alcohol dependence, uncomplicated"),
        ("f1020", "F10.20", "Alcohol dependence, uncomplicated"),
        (" F41.1 ", "F41.1", "Generalized anxiety disorder"),
        ("F11.20", "F11.20", "Opioid dependence, uncomplicated"),
        ("F32.A", "F32.A", "Depression, unspecified"),
    ],
)
def test_billable_codes_are_accepted_with_the_code_sets_description(
    typed: str, code: str, description: str
) -> None:
    assert check_icd10(typed) == (code, description)


@pytest.mark.parametrize(
    ("typed", "heading", "first_children"),
    [
        ("F10", "F10 (Alcohol related disorders)", ["F10.10 Alcohol abuse, uncomplicated"]),
        ("F10.2", "F10.2 (Alcohol dependence)", ["F10.20 Alcohol dependence, uncomplicated"]),
        ("f102", "F10.2 (Alcohol dependence)", ["F10.21 Alcohol dependence, in remission"]),
        ("F33", "F33 (Major depressive disorder, recurrent)", ["F33.0 ", "F33.1 "]),
    ],
)
def test_headings_are_refused_with_billable_codes_suggested(
    typed: str, heading: str, first_children: list[str]
) -> None:
    with pytest.raises(ValueError) as caught:
        check_icd10(typed)
    message = str(caught.value)
    assert message.startswith(f"{heading} is a heading, not a billable code.")
    for child in first_children:
        assert child in message
    # only billable codes are suggested: F10.23 (a heading itself) is not
    assert "F10.23 " not in message and "F10.2 " not in message.split("codes:")[1]


@pytest.mark.parametrize("typed", ["F99.99", "Z99.99", "U07.9", "F10.3"])
def test_codes_outside_the_code_set_are_refused(typed: str) -> None:
    with pytest.raises(ValueError, match="is not in the ICD-10-CM code set"):
        check_icd10(typed)


def test_malformed_codes_keep_the_shape_message() -> None:
    with pytest.raises(ValueError, match="is not an ICD-10-CM code"):
        check_icd10("alcohol")
    assert icd10_description("F10.2") == "Alcohol dependence"
    assert icd10_description("F99.99") == ""


def test_intake_refuses_a_heading_and_stores_the_description(env: Env) -> None:
    admin = env.world.admin
    with pytest.raises(ValidationError) as caught:
        clients.create_client(
            env.db,
            admin,
            clients.ClientInput("Hea", "Ding", date(1980, 1, 1), diagnoses=["F41.1", "F10.2"]),
        )
    assert "F10.2 (Alcohol dependence) is a heading" in caught.value.fields["diagnoses"]
    assert "F10.20 Alcohol dependence, uncomplicated" in caught.value.fields["diagnoses"]
    saved = clients.create_client(
        env.db,
        admin,
        clients.ClientInput("Lea", "Fcode", date(1980, 1, 1), diagnoses=["f1020", "F41.1"]),
    )
    with env.db.session() as s:
        rows = s.exec(
            select(Diagnosis).where(Diagnosis.client_id == saved.id).order_by(Diagnosis.sort_order)
        ).all()
    assert [(d.icd10_code, d.description, d.is_primary) for d in rows] == [
        ("F10.20", "Alcohol dependence, uncomplicated", True),
        ("F41.1", "Generalized anxiety disorder", False),
    ]
    chart = clients.open_chart(env.db, admin, saved.id or 0)
    assert chart.diagnoses[0].description == "Alcohol dependence, uncomplicated"


def _book(tmp_path: Path, diagnoses: str) -> Path:
    rows = {
        "Tracks": [
            list(COLUMNS["Tracks"]),
            ["SUD", "Adult SUD", "IOP", "adult", None, "Mon,Wed,Fri", "09:00", "12:00", "H0015"],
        ],
        "Clients": [
            list(COLUMNS["Clients"]),
            [
                *("M1", "Ana", "Diaz", None, date(1990, 4, 5), None, None, None, None, "SUD"),
                *(date(2026, 1, 5), None, None, None, None, diagnoses, None),
            ],
        ],
    }
    wb = Workbook()
    wb.remove(wb.active)
    for name, sheet_rows in rows.items():
        ws = wb.create_sheet(name)
        for row in sheet_rows:
            ws.append(row)
    path = tmp_path / "dx.xlsx"
    wb.save(path)
    return path


def test_import_refuses_a_heading_and_stores_descriptions(env: Env, tmp_path: Path) -> None:
    with pytest.raises(ImportFailed) as caught:
        import_workbook(env.db, env.world.admin, _book(tmp_path, "F10.20, F10"))
    [problem] = caught.value.problems
    assert (problem.sheet, problem.column) == ("Clients", "diagnoses")
    assert "F10 (Alcohol related disorders) is a heading" in problem.message
    import_workbook(env.db, env.world.admin, _book(tmp_path, "F1020, F41.1"))
    with env.db.session() as s:
        got = sorted((d.icd10_code, d.description) for d in s.exec(select(Diagnosis)))
    assert ("F10.20", "Alcohol dependence, uncomplicated") in got
    assert ("F41.1", "Generalized anxiety disorder") in got
