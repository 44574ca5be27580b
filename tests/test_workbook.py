"""Spreadsheet import and export (issue 3, item 5): the workbook contract, to the letter.

Workbooks are built here with openpyxl. Every test runs on SQLite and PostgreSQL (the `env`
fixture) except the 10,000-row and demo-clinic tests, which are SQLite only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time as clock
import uuid
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import event, text
from sqlmodel import SQLModel, col, select

from iopdesk.db import Database, DbTarget
from iopdesk.demo import create_demo_clinic, npi_check_digit
from iopdesk.errors import PermissionDenied, UserError, ValidationError
from iopdesk.models import (
    Attendance,
    AuditEvent,
    Authorization,
    Client,
    Clinic,
    ClinicSession,
    Coverage,
    Diagnosis,
    Episode,
    FeeSchedule,
    GroupNote,
    Note,
    Payer,
    SessionFacilitator,
    Setting,
    Staff,
    StatusChange,
    TherapistAssignment,
    Track,
    TrackBlock,
    TrackEnrollment,
)
from iopdesk.services.clinic import get_setting, setup_clinic
from iopdesk.services.clock import today_of
from iopdesk.services.workbook import (
    COLUMNS,
    SHEETS,
    ImportFailed,
    ImportProblem,
    export_workbook,
    import_workbook,
)
from tests.conftest import PASSWORD, TEST_KEY, Env

Rows = list[list[Any]]
TODAY = date.today()


def npi(first_nine: str) -> str:
    return first_nine + str(npi_check_digit(first_nine))


NPI_1, NPI_2, NPI_3 = "1234567893", npi("198765432"), npi("155544433")


def write_book(path: Path, sheets: dict[str, Rows]) -> Path:
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        ws = book.create_sheet(name)
        for row in rows:
            ws.append(row)
    book.save(path)
    return path


def full_sheets() -> dict[str, Rows]:
    """A small but complete clinic: every sheet, every column, a few awkward cells."""
    return {
        "Clinic": [
            ["setting", "value"],
            ["name", "Riverside Recovery IOP"],
            ["address", "12 Main Street, Springfield, IL 62701"],
            ["phone", "555-201-3000"],
            ["billing_npi", NPI_1],
            ["tax_id", "12-3456789"],
            ["office_pos", 11],
            ["week_start", "Sun"],
            ["per_diem_minimum_minutes", 150],
            ["timezone", "America/Chicago"],
        ],
        "Staff": [
            list(COLUMNS["Staff"]),
            ["ST2", "Sam", "Ng", "LPC-Associate", NPI_2, "therapist", "ST1", "yes"],
            ["ST1", "Maria", "Lopez", "LCSW", int(NPI_3), "therapist, supervisor", None],
            ["ST3", "Dana", "Front", None, None, "front_desk", None],
        ],
        "Payers": [
            list(COLUMNS["Payers"]),
            ["MCD", "State Medicaid", "per_diem", "yes"],
            ["ACME", "Acme Health", "per_service", None],
        ],
        "Fees": [
            list(COLUMNS["Fees"]),
            ["MCD", "H0015", 150],
            ["MCD", "S9480", "200.50"],
            ["ACME", "90853", 55.25],
            ["ACME", "90837", 152],
        ],
        "Tracks": [
            list(COLUMNS["Tracks"]),
            [
                "SUD-AM",
                "Adult SUD Morning",
                "IOP",
                "adult",
                None,
                "Mon,Wed,Thu",
                "09:00",
                "12:00",
                "H0015",
            ],
            [
                "TEEN",
                "Teen IOP",
                None,
                "adolescent",
                None,
                "Tue, Thu",
                time(16, 0),
                time(18, 0),
                "S9480",
            ],
        ],
        "Clients": [
            list(COLUMNS["Clients"]),
            # mrn first last preferred dob sex phone email language track admission discharge
            # therapist payer member diagnoses hours
            [
                "C1001",
                "Ana",
                "Diaz",
                "Annie",
                date(1990, 4, 5),
                "F",
                "555 123 4567",
                "ana@example.org",
                "Spanish",
                "SUD-AM",
                date(2026, 10, 1),
                None,
                "ST2",
                "MCD",
                "MCD123",
                "f1020, F41.1",
                None,
            ],
            [
                "C1002",
                "Ben",
                "Cole",
                None,
                "2010-02-03",
                "M",
                None,
                None,
                "English",
                "TEEN",
                "2026-09-15",
                "2026-11-10",
                "ST1",
                "ACME",
                998877,
                "F33.1",
                5,
            ],
            [
                "C1003",
                "Cara",
                "Eng",
                None,
                "1985-12-31",
                None,
                None,
                None,
                None,
                "SUD-AM",
                "2026-10-01",
                None,
                "T1",
                "MCD",
                None,
                None,
                None,
            ],
        ],
        "Authorizations": [
            list(COLUMNS["Authorizations"]),
            ["C1001", "MCD", "PA-100", "H0015", "2026-10-01", "2026-11-30", 24],
        ],
        "Sessions": [
            list(COLUMNS["Sessions"]),
            [
                "G1",
                "group",
                "SUD-AM",
                None,
                "2026-11-02",
                "09:00",
                "12:00",
                "ST1,ST2",
                "Relapse prevention",
                "held",
                "no",
                "signed",
            ],
            [
                "G2",
                "group",
                "SUD-AM",
                None,
                "2026-11-04",
                "09:00",
                "12:00",
                "ST1",
                None,
                None,
                "office",
                "unsigned",
            ],
            [
                "I1",
                "individual",
                None,
                "C1001",
                "2026-11-03",
                "13:00",
                "13:50",
                "ST2",
                None,
                None,
                "home",
                None,
            ],
            [
                "F1",
                "family",
                None,
                "C1002",
                "2026-11-05",
                "15:00",
                "16:00",
                "T1",
                None,
                "cancelled",
                None,
                None,
            ],
            [
                "X1",
                "intake",
                None,
                "C1003",
                "2026-10-01",
                "10:00",
                "11:00",
                "ST1",
                None,
                "held",
                "no",
                "missing",
            ],
        ],
        "Attendance": [
            list(COLUMNS["Attendance"]),
            ["G1", "C1001", "present", None],
            ["G1", "C1003", "late", 150],
            ["G2", "C1001", "left_early", 120],
            ["G2", "C1003", "absent_excused", None],
            ["X1", "C1003", "present", 50],
        ],
    }


def full_book(tmp_path: Path, name: str = "clinic.xlsx") -> Path:
    return write_book(tmp_path / name, full_sheets())


def table_counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {
            t.name: int(s.execute(text(f'SELECT count(*) FROM "{t.name}"')).scalar_one())
            for t in SQLModel.metadata.sorted_tables
        }


VERSIONED = [
    Clinic,
    Setting,
    Staff,
    Payer,
    FeeSchedule,
    Track,
    TrackBlock,
    Client,
    Episode,
    TrackEnrollment,
    TherapistAssignment,
    Coverage,
    Diagnosis,
    StatusChange,
    Authorization,
    ClinicSession,
    SessionFacilitator,
    Attendance,
    GroupNote,
    Note,
]


def versions(db: Database) -> dict[str, list[tuple[str, int, Any]]]:
    """Every row's (key, version, updated_at) in the tables the import writes."""
    out = {}
    with db.session() as s:
        for model in VERSIONED:
            table: Any = model.__table__  # type: ignore[attr-defined]
            pk = next(iter(table.primary_key.columns)).name
            rows = s.execute(
                text(f'SELECT {pk}, version, updated_at FROM "{table.name}" ORDER BY {pk}')
            ).all()
            out[table.name] = [(str(a), int(b), c) for a, b, c in rows]
    return out


def cells(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    book = load_workbook(path)
    return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in book.worksheets}


def problems_of(exc: pytest.ExceptionInfo[ImportFailed]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def audit_events(db: Database, action: str) -> list[AuditEvent]:
    with db.session() as s:
        return list(s.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


@pytest.fixture
def other_db(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A second fresh database holding the same small clinic as `env` (nothing imported)."""
    if backend == "sqlite":
        template, _ = request.getfixturevalue("sqlite_template")
        path = tmp_path / "second.db"
        shutil.copyfile(template, path)
        shutil.copyfile(str(template) + ".keyinfo", str(path) + ".keyinfo")
        db = Database.open(DbTarget(path=path), key=TEST_KEY)
        yield db
        db.close()
    else:
        template, _ = request.getfixturevalue("pg_template")
        server = request.getfixturevalue("pg_server")
        name = f"wb{os.getpid()}_{uuid.uuid4().hex[:10]}"
        server.create_database(name, template=template)
        db = Database.open(DbTarget(url=server.url(name)))
        yield db
        db.close()
        server.drop_database(name)


# -- a valid workbook ---------------------------------------------------------------------------


def test_full_workbook_imports_everything(env: Env, tmp_path: Path) -> None:
    db, admin = env.db, env.world.admin
    result = import_workbook(db, admin, full_book(tmp_path))
    expected = {
        "Clinic": 9,
        "Staff": 3,
        "Payers": 2,
        "Fees": 4,
        "Tracks": 2,
        "Clients": 3,
        "Authorizations": 1,
        "Sessions": 5,
        "Attendance": 5,
    }
    assert result.counts == expected
    assert list(result.counts) == list(SHEETS)[: len(expected)]  # the workbook's sheet order
    assert not result.dry_run
    # The clinic row exists already: 6 fields change, office_pos 11 is unchanged, and the two
    # program settings are new Setting rows.
    assert result.created == {**expected, "Clinic": 2}
    assert result.updated == {**dict.fromkeys(expected, 0), "Clinic": 6}
    assert result.unchanged == {**dict.fromkeys(expected, 0), "Clinic": 1}

    with db.session() as s:
        clinic = s.exec(select(Clinic)).one()
        assert (clinic.name, clinic.phone, clinic.billing_npi, clinic.tax_id) == (
            "Riverside Recovery IOP",
            "(555) 201-3000",
            NPI_1,
            "12-3456789",
        )
        assert (clinic.office_pos, clinic.timezone) == ("11", "America/Chicago")
        staff = {x.staff_code: x for x in s.exec(select(Staff)).all()}
        assert staff["ST1"].roles == "therapist,supervisor"
        assert staff["ST1"].npi == NPI_3  # a number cell read as the 10-digit text
        assert staff["ST2"].supervisor_id == staff["ST1"].id  # a later row, same sheet
        assert staff["ST2"].is_supervisee and not staff["ST1"].is_supervisee
        assert staff["ST3"].credentials == "" and staff["ST3"].npi is None
        payers = {p.payer_code: p for p in s.exec(select(Payer)).all()}
        assert payers["MCD"].requires_auth and not payers["ACME"].requires_auth
        assert payers["ACME"].billing_mode == "per_service"
        fees = {(f.payer_id, f.code): f.rate for f in s.exec(select(FeeSchedule)).all()}
        assert fees[(payers["MCD"].id, "S9480")] == Decimal("200.50")
        assert fees[(payers["ACME"].id, "90853")] == Decimal("55.25")
        tracks = {t.track_code: t for t in s.exec(select(Track)).all()}
        sud, teen = tracks["SUD-AM"], tracks["TEEN"]
        assert sud.is_sud and not teen.is_sud  # H0015 is the alcohol/drug IOP code
        assert (sud.required_weekly_hours, teen.required_weekly_hours) == (9, 6)
        assert (teen.population, teen.level_of_care) == ("adolescent", "IOP")
        blocks = s.exec(select(TrackBlock).where(TrackBlock.track_id == sud.id)).all()
        assert sorted((b.weekday, b.start_time, b.end_time) for b in blocks) == [
            (d, time(9), time(12)) for d in (0, 2, 3)
        ]
        clients = {c.mrn: c for c in s.exec(select(Client)).all()}
        ana, ben, cara = clients["C1001"], clients["C1002"], clients["C1003"]
        assert (ana.preferred_name, ana.phone, ana.primary_language) == (
            "Annie",
            "(555) 123-4567",
            "Spanish",
        )
        assert (ana.status, ana.part2, ana.admission_date) == ("active", True, date(2026, 10, 1))
        assert (ben.status, ben.part2, ben.discharge_date) == (
            "discharged",
            False,
            date(2026, 11, 10),
        )
        assert ben.required_weekly_hours == 5
        assert cara.status == "active" and cara.part2
        episodes = s.exec(select(Episode).where(Episode.client_id == ben.id)).all()
        assert [(e.episode_no, e.status, e.admission_date, e.discharge_date) for e in episodes] == [
            (1, "discharged", date(2026, 9, 15), date(2026, 11, 10))
        ]
        enrollment = s.exec(
            select(TrackEnrollment).where(TrackEnrollment.client_id == ben.id)
        ).one()
        assert (enrollment.track_id, enrollment.start_date, enrollment.end_date) == (
            teen.id,
            date(2026, 9, 15),
            date(2026, 11, 10),
        )
        assignment = s.exec(
            select(TherapistAssignment).where(TherapistAssignment.client_id == ana.id)
        ).one()
        assert (assignment.staff_id, assignment.role, assignment.start_date) == (
            staff["ST2"].id,
            "primary_therapist",
            date(2026, 10, 1),
        )
        world_t1 = s.exec(select(Staff).where(Staff.staff_code == "T1")).one()
        cara_therapist = s.exec(
            select(TherapistAssignment).where(TherapistAssignment.client_id == cara.id)
        ).one()
        assert cara_therapist.staff_id == world_t1.id  # a staff_id from the database
        coverage = s.exec(select(Coverage).where(Coverage.client_id == ben.id)).one()
        assert (coverage.payer_id, coverage.member_id) == (payers["ACME"].id, "998877")
        diagnoses = s.exec(
            select(Diagnosis)
            .where(Diagnosis.client_id == ana.id)
            .order_by(col(Diagnosis.sort_order))
        ).all()
        assert [(d.icd10_code, d.is_primary) for d in diagnoses] == [
            ("F10.20", True),
            ("F41.1", False),
        ]
        auth = s.exec(select(Authorization)).one()
        assert (auth.client_id, auth.auth_number, auth.units, auth.end_date) == (
            ana.id,
            "PA-100",
            24,
            date(2026, 11, 30),
        )
        sessions = {x.external_id: x for x in s.exec(select(ClinicSession)).all()}
        g1, i1, f1 = sessions["G1"], sessions["I1"], sessions["F1"]
        assert (g1.kind, g1.track_id, g1.client_id, g1.topic) == (
            "group",
            sud.id,
            None,
            "Relapse prevention",
        )
        assert g1.block_id is not None  # Monday 09:00 is one of the track's blocks
        assert (sessions["G2"].status, sessions["G2"].telehealth) == ("held", "office")
        assert (i1.client_id, i1.telehealth, f1.status) == (ana.id, "home", "cancelled")
        facilitators = s.exec(
            select(SessionFacilitator).where(SessionFacilitator.session_id == g1.id)
        ).all()
        assert {(f.staff_id, f.is_primary) for f in facilitators} == {
            (staff["ST1"].id, True),
            (staff["ST2"].id, False),
        }
        attendance = {
            (a.session_id, a.client_id): (a.status, a.minutes)
            for a in s.exec(select(Attendance)).all()
        }
        assert attendance == {
            (g1.id, ana.id): ("present", 180),  # default: the session's length
            (g1.id, cara.id): ("late", 150),
            (sessions["G2"].id, ana.id): ("left_early", 120),
            (sessions["G2"].id, cara.id): ("absent_excused", 0),
            (sessions["X1"].id, cara.id): ("present", 50),
            (i1.id, ana.id): ("present", 50),  # implied: no Attendance row for I1
        }
    assert get_setting(db, "week_start") == "Sun"
    assert get_setting(db, "per_diem_minimum_minutes") == 150


def test_note_status_becomes_notes(env: Env, tmp_path: Path) -> None:
    db, admin = env.db, env.world.admin
    import_workbook(db, admin, full_book(tmp_path))
    with db.session() as s:
        sessions = {x.external_id: x.id for x in s.exec(select(ClinicSession)).all()}
        staff = {x.staff_code: x.id for x in s.exec(select(Staff)).all()}
        mrn = {c.id: c.mrn for c in s.exec(select(Client)).all()}
        group_notes = {g.session_id: g for g in s.exec(select(GroupNote)).all()}
        notes = s.exec(select(Note).where(col(Note.session_id).is_not(None))).all()
    # G1 signed: one group note and a signed note for each client who came (present, late).
    g1 = group_notes[sessions["G1"]]
    assert (g1.status, g1.author_staff_id, g1.topic) == (
        "signed",
        staff["ST1"],
        "Relapse prevention",
    )
    g1_notes = [n for n in notes if n.session_id == sessions["G1"]]
    assert sorted(mrn[n.client_id] for n in g1_notes) == ["C1001", "C1003"]
    for n in g1_notes:
        assert (n.group_note_id, n.status, n.author_staff_id) == (g1.id, "signed", staff["ST1"])
        assert n.signed_by == admin.user_id and n.signed_at is not None
        assert n.content_sha256 == hashlib.sha256(n.content_json.encode()).hexdigest()
    assert {n.service_minutes for n in g1_notes} == {180, 150}
    # G2 unsigned: drafts, and only for the client who came (the absent one has none).
    g2 = group_notes[sessions["G2"]]
    g2_notes = [n for n in notes if n.session_id == sessions["G2"]]
    assert g2.status == "draft"
    assert [(mrn[n.client_id], n.status, n.signed_at, n.content_sha256) for n in g2_notes] == [
        ("C1001", "draft", None, None)
    ]
    # I1 (default signed): one note in the client's chart, authored by the facilitator.
    i1_notes = [n for n in notes if n.session_id == sessions["I1"]]
    assert [(mrn[n.client_id], n.status, n.author_staff_id, n.group_note_id) for n in i1_notes] == [
        ("C1001", "signed", staff["ST2"], None)
    ]
    # X1 missing and F1 cancelled: no notes at all.
    assert not [n for n in notes if n.session_id in (sessions["X1"], sessions["F1"])]
    assert set(group_notes) == {sessions["G1"], sessions["G2"]}


def test_import_and_export_are_audited_without_phi(env: Env, tmp_path: Path) -> None:
    db, admin = env.db, env.world.admin
    import_workbook(db, admin, full_book(tmp_path))
    export_workbook(db, admin, tmp_path / "out.xlsx")
    (imported,) = audit_events(db, "import")
    (exported,) = audit_events(db, "export")
    for entry in (imported, exported):
        assert (entry.entity, entry.user_id) == ("workbook", admin.user_id)
        assert "Clients 3" in entry.detail
        for phi in ("Diaz", "Ana", "C1001", "1990", "MCD123", "clinic.xlsx"):
            assert phi not in entry.detail


# -- problems: every one reported, nothing imported ---------------------------------------------


def test_errors_on_several_sheets_are_all_reported_and_nothing_is_imported(
    env: Env, tmp_path: Path
) -> None:
    db, admin = env.db, env.world.admin
    path = write_book(
        tmp_path / "bad.xlsx",
        {
            "Clinic": [
                ["setting", "value"],
                ["colour", "blue"],
                ["billing_npi", "1234567890"],
                ["week_start", "Funday"],
                ["name", "Fine Name"],
            ],
            "Staff": [
                list(COLUMNS["Staff"]),
                ["ST1", "Maria", "Lopez", "LCSW", NPI_1, "therapist", None],
                ["ST2", "Sam", "Ng", None, "1234567890", "janitor", "ST9"],
                ["ST1", "Dup", "Row", None, None, "billing", None],
            ],
            "Payers": [list(COLUMNS["Payers"]), ["MCD", "Medicaid", "per_visit", "maybe"]],
            "Fees": [
                list(COLUMNS["Fees"]),
                ["MCD", "H0015", -5],
                ["NOPE", "90853", "12.345"],
            ],
            "Tracks": [
                ["track_id", "name", "days", "start_time", "end_time"],
                ["SUD", "SUD AM", "Mon,Funday", "12:00", "09:00"],
            ],
            "Clients": [
                [
                    "mrn",
                    "first_name",
                    "last_name",
                    "dob",
                    "phone",
                    "email",
                    "track_id",
                    "admission_date",
                    "discharge_date",
                    "diagnoses",
                ],
                [
                    "C1",
                    "Ana",
                    "Diaz",
                    "05/04/1990",
                    "12345",
                    "ana@",
                    "NOTRACK",
                    "2026-10-01",
                    "2026-09-01",
                    "XYZ",
                ],
                ["C2", "Ben", None, date(2999, 1, 1), None, None, "SUD", None, None, None],
            ],
            "Authorizations": [
                list(COLUMNS["Authorizations"]),
                ["C9", "MCD", "A1", "H0015", "2026-10-01", "2026-09-01", 0],
            ],
            "Sessions": [
                [
                    "session_id",
                    "kind",
                    "track_id",
                    "client_mrn",
                    "date",
                    "start_time",
                    "end_time",
                    "facilitator",
                ],
                ["G1", "group", None, None, "2026-11-02", "09:00", "08:00", "ST1"],
                ["I1", "individual", None, None, "2026-11-03", "25:00", "13:50", "NOBODY"],
                ["I2", "individual", None, "C1", "2026-11-03", "13:00", "13:50", "ST1"],
            ],
            "Attendance": [
                list(COLUMNS["Attendance"]),
                ["I2", "C1", "late", None],
                ["I2", "C1", "present", 60],
                ["NOSUCH", "C1", "present", None],
                ["I2", "C1", "asleep", None],
            ],
        },
    )
    before, audit_before = table_counts(db), len(audit_events(db, "import"))
    with pytest.raises(ImportFailed) as exc:
        import_workbook(db, admin, path)
    day = "use Mon, Tue, Wed, Thu, Fri, Sat, Sun"
    assert problems_of(exc) == [
        "Clinic!2 setting: 'colour' is not allowed; use one of: name, address, phone, "
        "billing_npi, tax_id, office_pos, week_start, per_diem_minimum_minutes, timezone, "
        "submitter_id, submitter_name, receiver_id, receiver_name, taxonomy",
        "Clinic!3 value: '1234567890' is not a valid NPI (10 digits ending in the right check "
        "digit)",
        f"Clinic!4 value: 'Funday' is not a day; {day}",
        "Staff!3 npi: '1234567890' is not a valid NPI (10 digits ending in the right check digit)",
        "Staff!3 roles: Unknown role 'janitor'. Valid roles: front_desk, therapist, supervisor, "
        "billing, admin.",
        "Staff!3 supervisor_id: 'ST9' is not in the Staff sheet or the database",
        "Staff!4 staff_id: 'ST1' appears more than once (first on row 2)",
        "Payers!2 billing_mode: 'per_visit' is not allowed; use one of: per_diem, per_service",
        "Payers!2 requires_auth: 'maybe' is not yes or no",
        "Fees!2 rate: -5 is too small: must be 0 or more",
        "Fees!3 payer_id: 'NOPE' is not in the Payers sheet or the database",
        "Fees!3 rate: 12.345 has more than 2 decimal places",
        f"Tracks!2 days: 'Funday' is not a day; {day}",
        "Tracks!2 end_time: must be after start_time",
        "Clients!2 dob: '05/04/1990' is not a date; use an Excel date or YYYY-MM-DD",
        "Clients!2 phone: Enter a 10-digit phone number, e.g. (555) 123-4567.",
        "Clients!2 email: Enter an e-mail address like name@example.org.",
        "Clients!2 track_id: 'NOTRACK' is not in the Tracks sheet or the database",
        "Clients!2 discharge_date: must be on or after admission_date",
        "Clients!2 diagnoses: 'XYZ' is not an ICD-10-CM code (for example F10.20).",
        "Clients!3 last_name: required, but the cell is empty",
        "Clients!3 dob: Date of birth cannot be in the future.",
        "Clients!3 admission_date: required, but the cell is empty",
        "Authorizations!2 mrn: 'C9' is not in the Clients sheet or the database",
        "Authorizations!2 end_date: must be on or after start_date",
        "Authorizations!2 units: 0 is too small: must be at least 1",
        "Sessions!2 track_id: required for a group session",
        "Sessions!2 end_time: must be after start_time",
        "Sessions!3 client_mrn: required for an individual session",
        "Sessions!3 start_time: '25:00' is not a time; use HH:MM, e.g. 09:00",
        "Sessions!3 facilitator: 'NOBODY' not in the Staff sheet or the database",
        "Attendance!2 minutes: required when status is late",
        "Attendance!3 mrn: 'C1' in session 'I2' appears more than once (first on row 2)",
        "Attendance!3 minutes: 60 minutes is longer than the session (50 minutes)",
        "Attendance!4 session_id: 'NOSUCH' is not in the Sessions sheet or the database",
        "Attendance!5 mrn: 'C1' in session 'I2' appears more than once (first on row 2)",
        "Attendance!5 status: 'asleep' is not allowed; use one of: present, late, left_early, "
        "absent_excused, absent_unexcused",
    ]
    p = exc.value.problems[0]
    assert (p.sheet, p.row, p.column) == ("Clinic", 2, "setting")
    assert isinstance(exc.value, ValidationError)
    assert exc.value.message == (
        "Nothing was imported: the workbook has 37 problems. Correct them in the workbook and "
        "import it again."
    )
    assert exc.value.report().splitlines()[1] == problems_of(exc)[0]
    assert table_counts(db) == before  # the valid rows (Clinic name, Staff ST1) were not written
    assert len(audit_events(db, "import")) == audit_before


def test_problem_format() -> None:
    assert str(ImportProblem("Clients", 7, "dob", "bad")) == "Clients!7 dob: bad"


# -- dry run, re-import, updates ----------------------------------------------------------------


def test_dry_run_validates_counts_and_writes_nothing(env: Env, tmp_path: Path) -> None:
    db, admin = env.db, env.world.admin
    path = full_book(tmp_path)
    before = table_counts(db)
    dry = import_workbook(db, admin, path, dry_run=True)
    assert dry.dry_run and dry.counts["Clients"] == 3 and dry.created["Sessions"] == 5
    assert "Dry run" in dry.lines()[0]
    assert table_counts(db) == before  # nothing, not even an audit event
    real = import_workbook(db, admin, path)
    assert (real.counts, real.created, real.updated, real.unchanged) == (
        dry.counts,
        dry.created,
        dry.updated,
        dry.unchanged,
    )
    # A dry run of a bad workbook reports the same problems as a real import.
    bad = full_sheets()
    bad["Clients"][1][4] = "not a date"
    with pytest.raises(ImportFailed) as exc:
        import_workbook(db, admin, write_book(tmp_path / "bad.xlsx", bad), dry_run=True)
    assert problems_of(exc) == [
        "Clients!2 dob: 'not a date' is not a date; use an Excel date or YYYY-MM-DD"
    ]


def test_reimporting_the_same_workbook_changes_nothing(env: Env, tmp_path: Path) -> None:
    db, admin = env.db, env.world.admin
    path = full_book(tmp_path)
    import_workbook(db, admin, path)
    before_versions, before_counts = versions(db), table_counts(db)
    again = import_workbook(db, admin, path)
    assert again.unchanged == again.counts
    assert set(again.created.values()) == {0} and set(again.updated.values()) == {0}
    assert versions(db) == before_versions  # no version or updated_at moved
    after_counts = table_counts(db)
    assert after_counts.pop("audit_event") == before_counts.pop("audit_event") + 1
    assert after_counts == before_counts


def test_a_changed_cell_updates_only_its_record(env: Env, tmp_path: Path) -> None:
    db, admin = env.db, env.world.admin
    import_workbook(db, admin, full_book(tmp_path))
    before = versions(db)
    sheets = full_sheets()
    sheets["Clients"][1][6] = "(555) 999-0000"  # C1001's phone
    sheets["Fees"][1][2] = 160  # MCD H0015
    result = import_workbook(db, admin, write_book(tmp_path / "changed.xlsx", sheets))
    assert (result.updated["Clients"], result.unchanged["Clients"]) == (1, 2)
    assert (result.updated["Fees"], result.unchanged["Fees"]) == (1, 3)
    assert sum(result.updated.values()) == 2
    after = versions(db)
    changed = {
        (table, key)
        for table in after
        for (key, version, _), (_, old_version, _) in zip(after[table], before[table], strict=True)
        if version != old_version
    }
    with db.session() as s:
        ana = s.exec(select(Client).where(Client.mrn == "C1001")).one()
        fee = s.exec(select(FeeSchedule).where(FeeSchedule.code == "H0015")).one()
    assert changed == {("client", str(ana.id)), ("feeschedule", str(fee.id))}
    assert (ana.phone, ana.version, fee.rate, fee.version) == ("(555) 999-0000", 2, 160, 2)


def test_track_and_therapist_changes_keep_history(env: Env, tmp_path: Path) -> None:
    db, admin = env.db, env.world.admin
    sheets = full_sheets()
    sheets["Clients"][1][10] = TODAY - timedelta(days=30)  # C1001 admitted a month ago
    import_workbook(db, admin, write_book(tmp_path / "a.xlsx", sheets))
    # the change is dated by the clinic's day (its Clinic sheet puts it in Chicago), not this
    # computer's: the two differ for part of every day on a machine that runs in UTC
    today = today_of(db)
    sheets["Clients"][1][9] = "TEEN"  # moved to another track ...
    sheets["Clients"][1][12] = "ST1"  # ... and another therapist
    result = import_workbook(db, admin, write_book(tmp_path / "b.xlsx", sheets))
    assert result.updated["Clients"] == 1
    with db.session() as s:
        ana = s.exec(select(Client).where(Client.mrn == "C1001")).one()
        tracks = {t.id: t.track_code for t in s.exec(select(Track)).all()}
        staff = {x.id: x.staff_code for x in s.exec(select(Staff)).all()}
        enrollments = s.exec(
            select(TrackEnrollment)
            .where(TrackEnrollment.client_id == ana.id)
            .order_by(col(TrackEnrollment.id))
        ).all()
        assignments = s.exec(
            select(TherapistAssignment)
            .where(TherapistAssignment.client_id == ana.id)
            .order_by(col(TherapistAssignment.id))
        ).all()
    yesterday = today - timedelta(days=1)
    start = TODAY - timedelta(days=30)
    assert [(tracks[e.track_id], e.start_date, e.end_date) for e in enrollments] == [
        ("SUD-AM", start, yesterday),
        ("TEEN", today, None),
    ]
    assert [(staff[a.staff_id], a.start_date, a.end_date) for a in assignments] == [
        ("ST2", start, yesterday),
        ("ST1", today, None),
    ]
    assert ana.part2  # Part 2 protection stays after leaving the SUD track
    again = import_workbook(db, admin, write_book(tmp_path / "c.xlsx", sheets))
    assert again.unchanged["Clients"] == 3


def test_a_change_after_the_stay_is_a_correction(env: Env, tmp_path: Path) -> None:
    """C1002 was discharged on 2026-11-10: a different therapist in the workbook cannot be
    dated, so the old assignment is voided (kept, not deleted) and replaced for the stay."""
    db, admin = env.db, env.world.admin
    sheets = full_sheets()
    import_workbook(db, admin, write_book(tmp_path / "a.xlsx", sheets))
    sheets["Clients"][2][12] = "ST2"
    result = import_workbook(db, admin, write_book(tmp_path / "b.xlsx", sheets))
    assert result.updated["Clients"] == 1
    with db.session() as s:
        ben = s.exec(select(Client).where(Client.mrn == "C1002")).one()
        staff = {x.id: x.staff_code for x in s.exec(select(Staff)).all()}
        rows = s.exec(
            select(TherapistAssignment)
            .where(TherapistAssignment.client_id == ben.id)
            .order_by(col(TherapistAssignment.id))
        ).all()
    stay = (date(2026, 9, 15), date(2026, 11, 10))
    assert [(staff[a.staff_id], (a.start_date, a.end_date), a.voided_at is None) for a in rows] == [
        ("ST1", stay, False),
        ("ST2", stay, True),
    ]
    assert rows[0].void_reason == "Corrected by spreadsheet import"
    assert import_workbook(db, admin, write_book(tmp_path / "c.xlsx", sheets)).unchanged == (
        result.counts
    )


def test_discharge_then_readmission_opens_a_new_episode(env: Env, tmp_path: Path) -> None:
    db, admin = env.db, env.world.admin
    sheets = full_sheets()
    import_workbook(db, admin, write_book(tmp_path / "a.xlsx", sheets))
    sheets["Clients"][1][11] = "2026-10-20"  # C1001 discharged
    result = import_workbook(db, admin, write_book(tmp_path / "b.xlsx", sheets))
    assert result.updated["Clients"] == 1
    sheets["Clients"][1][10] = "2026-11-16"  # readmitted
    sheets["Clients"][1][11] = None
    import_workbook(db, admin, write_book(tmp_path / "c.xlsx", sheets))
    with db.session() as s:
        ana = s.exec(select(Client).where(Client.mrn == "C1001")).one()
        episodes = s.exec(
            select(Episode).where(Episode.client_id == ana.id).order_by(col(Episode.episode_no))
        ).all()
        enrollments = s.exec(
            select(TrackEnrollment)
            .where(TrackEnrollment.client_id == ana.id)
            .order_by(col(TrackEnrollment.id))
        ).all()
        steps = s.exec(
            select(StatusChange.to_status)
            .where(StatusChange.client_id == ana.id)
            .order_by(col(StatusChange.id))
        ).all()
    assert [(e.episode_no, e.status, e.admission_date, e.discharge_date) for e in episodes] == [
        (1, "discharged", date(2026, 10, 1), date(2026, 10, 20)),
        (2, "active", date(2026, 11, 16), None),
    ]
    assert [(e.start_date, e.end_date) for e in enrollments] == [
        (date(2026, 10, 1), date(2026, 10, 20)),
        (date(2026, 11, 16), None),
    ]
    assert (ana.status, ana.admission_date, ana.discharge_date) == (
        "active",
        date(2026, 11, 16),
        None,
    )
    assert list(steps) == ["active", "discharged", "active"]


def test_a_signed_note_cannot_be_taken_back(env: Env, tmp_path: Path) -> None:
    db, admin = env.db, env.world.admin
    sheets = full_sheets()
    import_workbook(db, admin, write_book(tmp_path / "a.xlsx", sheets))
    sheets["Sessions"][1][11] = "unsigned"  # G1 was signed
    sheets["Sessions"][2][11] = "signed"  # G2 was unsigned: signing is fine
    with pytest.raises(ImportFailed) as exc:
        import_workbook(db, admin, write_book(tmp_path / "b.xlsx", sheets))
    assert problems_of(exc) == [
        "Sessions!2 note_status: session 'G1' already has a signed note; a signed note cannot "
        "be changed (add an addendum in the chart instead)"
    ]
    sheets["Sessions"][1][11] = "signed"
    result = import_workbook(db, admin, write_book(tmp_path / "c.xlsx", sheets))
    assert result.updated["Sessions"] == 1
    with db.session() as s:
        g2 = s.exec(select(ClinicSession).where(ClinicSession.external_id == "G2")).one()
        group = s.exec(select(GroupNote).where(GroupNote.session_id == g2.id)).one()
        notes = s.exec(select(Note).where(Note.session_id == g2.id)).all()
    assert group.status == "signed"
    assert [(n.status, n.signed_by) for n in notes] == [("signed", admin.user_id)]


# -- round trip ---------------------------------------------------------------------------------


def test_export_import_export_round_trip_is_identical(
    env: Env, other_db: Database, tmp_path: Path
) -> None:
    db, admin = env.db, env.world.admin
    import_workbook(db, admin, full_book(tmp_path))
    first = tmp_path / "first.xlsx"
    counts = export_workbook(db, admin, first)
    assert dict(counts) == {
        "Clinic": 9,
        "Staff": 3,
        "Payers": 2,
        "Fees": 4,
        "Tracks": 2,
        "Clients": 3,
        "Authorizations": 1,
        "Sessions": 5,
        "Attendance": 6,  # I1's implied attendance is written out
        "Recipients": 0,
        "Consents": 0,
    }
    # The test clinic's own staff (no roles) and not-yet-admitted clients cannot be expressed.
    assert counts.skipped == {"Staff": 3, "Clients": 2}
    result = import_workbook(other_db, admin, first)
    assert result.counts == dict(counts)
    second = tmp_path / "second.xlsx"
    assert dict(export_workbook(other_db, admin, second)) == dict(counts)
    a, b = cells(first), cells(second)
    assert list(a) == list(SHEETS)
    assert a == b
    for sheet in SHEETS:
        assert a[sheet][0] == COLUMNS[sheet]  # the contract's columns, in order
    # Exported values: real dates, HH:MM text, comma lists, yes/no, derived note_status.
    clients = {row[0]: row for row in a["Clients"][1:]}
    assert clients["C1001"][4] == datetime(1990, 4, 5)
    assert clients["C1001"][15] == "F10.20,F41.1"
    sessions = {row[0]: row for row in a["Sessions"][1:]}
    assert sessions["G1"][5:8] == ("09:00", "12:00", "ST1,ST2")
    assert [sessions[k][11] for k in ("G1", "G2", "I1", "F1", "X1")] == [
        "signed",
        "unsigned",
        "signed",
        "missing",
        "missing",
    ]
    assert a["Payers"][1:] == [
        ("ACME", "Acme Health", "per_service", "no", "93", "yes", "no", "no", None, None),
        ("MCD", "State Medicaid", "per_diem", "yes", "93", "yes", "no", "no", None, None),
    ]
    assert a["Tracks"][1][5:11] == ("Mon,Wed,Thu", "09:00", "12:00", "H0015", "yes", 0)
    staff_rows = {row[0]: row for row in a["Staff"][1:]}
    assert staff_rows["ST2"][7] == "yes" and staff_rows["ST1"][7] == "no"
    assert [r[0] for r in a["Clients"][1:]] == ["C1001", "C1002", "C1003"]  # sorted by mrn
    # And importing the export back into the database it came from changes nothing.
    before = versions(db)
    back = import_workbook(db, admin, first)
    assert back.unchanged == back.counts
    assert versions(db) == before


@pytest.mark.parametrize("backend", ["sqlite"])
def test_demo_clinic_round_trip(backend: str, tmp_path: Path) -> None:
    """A realistic clinic (readmissions, holds, step-downs, co-facilitators, cancelled and
    future sessions, draft notes): export -> import -> export is identical, and importing
    the export into the clinic it came from changes nothing."""
    demo = Database.open(DbTarget(path=tmp_path / "demo.db"), create=True, key=os.urandom(32))
    empty = Database.open(DbTarget(path=tmp_path / "empty.db"), create=True, key=os.urandom(32))
    try:
        admin, _ = create_demo_clinic(demo, today=date(2026, 11, 27))
        first = tmp_path / "first.xlsx"
        counts = export_workbook(demo, admin, first)
        assert counts["Clients"] > 40 and counts["Sessions"] > 500 and counts["Attendance"] > 1000
        # Referrals and intakes (not admitted to a track) and what hangs off them are left out.
        assert set(counts.skipped) <= {"Clients", "Sessions", "Attendance"}
        before = versions(demo)
        back = import_workbook(demo, admin, first)
        assert back.unchanged == back.counts
        assert versions(demo) == before
        empty_admin = setup_clinic(empty, "Empty clinic", "admin", PASSWORD)
        result = import_workbook(empty, empty_admin, first)
        assert result.created["Sessions"] == counts["Sessions"]
        second = tmp_path / "second.xlsx"
        export_workbook(empty, empty_admin, second)
        assert cells(first) == cells(second)
        with demo.session() as s:
            adol = s.exec(select(Track).where(Track.track_code == "ADOL")).one()
            assert adol.is_sud
        adol_row = next(r for r in cells(first)["Tracks"] if r[0] == "ADOL")
        assert adol_row[5:8] == ("Tue,Thu,Sat 10:00-12:00", "16:00", "18:00")
    finally:
        demo.close()
        empty.close()


# -- bad files ----------------------------------------------------------------------------------


def _zip_without_workbook(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "not a workbook")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "notes.xlsx",
            b"mrn,first_name\nC1,Ana\n",
            "notes.xlsx is not an Excel workbook (.xlsx); it looks like a text or CSV file.",
        ),
        (
            "clients.csv",
            b"mrn,first_name\nC1,Ana\n",
            "clients.csv is not an Excel workbook (.xlsx)",
        ),
        (
            "old.xls",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100,
            "old.xls is an old-style Excel file (.xls) or a password-protected workbook.",
        ),
        ("empty.xlsx", b"", "empty.xlsx is empty (0 bytes); it is not an Excel workbook."),
        ("zip.xlsx", None, "zip.xlsx could not be read as an Excel workbook"),
    ],
)
def test_files_that_are_not_workbooks(
    env: Env, tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is None:
        _zip_without_workbook(path)
    else:
        path.write_bytes(content)
    before = table_counts(env.db)
    with pytest.raises(ImportFailed) as exc:
        import_workbook(env.db, env.world.admin, path)
    assert exc.value.message.startswith(message)
    assert exc.value.problems == []
    assert table_counts(env.db) == before


def test_missing_file_and_folder(env: Env, tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="There is no file at"):
        import_workbook(env.db, env.world.admin, tmp_path / "nowhere.xlsx")
    with pytest.raises(ImportFailed, match="is a folder"):
        import_workbook(env.db, env.world.admin, tmp_path)


def test_empty_workbooks(env: Env, tmp_path: Path) -> None:
    db, admin = env.db, env.world.admin
    blank = Workbook()  # one sheet, "Sheet", nothing in it
    blank.save(tmp_path / "blank.xlsx")
    with pytest.raises(ImportFailed) as exc:
        import_workbook(db, admin, tmp_path / "blank.xlsx")
    assert exc.value.message.startswith("The workbook has none of the sheets IOPDesk imports.")
    headers_only = write_book(
        tmp_path / "headers.xlsx",
        {"Clients": [list(COLUMNS["Clients"])], "Staff": [list(COLUMNS["Staff"])], "Notes": []},
    )
    with pytest.raises(ImportFailed) as exc:
        import_workbook(db, admin, headers_only)
    assert exc.value.message.startswith("The workbook has no rows to import")
    empty_sheets = write_book(tmp_path / "empty.xlsx", {"Clients": [], "Sessions": []})
    with pytest.raises(ImportFailed, match="no rows to import"):
        import_workbook(db, admin, empty_sheets)


def test_missing_and_doubled_columns(env: Env, tmp_path: Path) -> None:
    path = write_book(
        tmp_path / "cols.xlsx",
        {
            "Payers": [["payer_id", "name"], ["MCD", "Medicaid"]],
            "Fees": [["payer_id", "code", "rate", "Rate"], ["MCD", "H0015", 1, 2]],
        },
    )
    with pytest.raises(ImportFailed) as exc:
        import_workbook(env.db, env.world.admin, path)
    assert problems_of(exc) == [
        "Payers!1 billing_mode: required column is missing",
        "Fees!1 rate: the column appears twice (C and D); keep one",
    ]


def test_wrong_types(env: Env, tmp_path: Path) -> None:
    sheets = full_sheets()
    sheets["Clients"][1][4] = 19900405  # a number in a date column
    sheets["Clients"][2][10] = "yesterday"  # text in a date column
    sheets["Clients"][3][16] = 50  # weekly hours out of range
    sheets["Authorizations"][1][6] = "twenty"  # text in a number column
    sheets["Tracks"][1][4] = "nine"
    sheets["Sessions"][1][5] = 9  # a number that is not a time
    sheets["Attendance"][2][3] = 12.5  # minutes must be whole
    sheets["Attendance"][3][3] = 2000  # far out of range
    with pytest.raises(ImportFailed) as exc:
        import_workbook(env.db, env.world.admin, write_book(tmp_path / "types.xlsx", sheets))
    assert problems_of(exc) == [
        "Tracks!2 required_weekly_hours: 'nine' is not a number",
        "Clients!2 dob: 19900405 is a number, not a date; format the cell as a date or type "
        "YYYY-MM-DD",
        "Clients!3 admission_date: 'yesterday' is not a date; use an Excel date or YYYY-MM-DD",
        "Clients!4 required_weekly_hours: 50 is too large: must be at most 40",
        "Authorizations!2 units: 'twenty' is not a whole number",
        "Sessions!2 start_time: 9 is not a time; use HH:MM, e.g. 09:00",
        "Attendance!3 minutes: '12.5' is not a whole number",
        "Attendance!4 minutes: 2000 is too large: must be at most 1440",
    ]


# -- the format's conveniences ------------------------------------------------------------------


def test_headers_sheet_names_and_extra_columns(env: Env, tmp_path: Path) -> None:
    path = write_book(
        tmp_path / "loose.xlsx",
        {
            "Read me": [["This sheet is ignored"]],
            " tracks ": [
                ["Track_ID ", " NAME", "Days", "Start Time", "END_TIME", "Colour"],
                ["EVE", "Evening IOP", "mon, WEDNESDAY,fri", "6:00 PM", "21:00", "blue"],
            ],
            "CLIENTS": [
                ["MRN", "First Name", "last-name", "DOB", "Track_Id", "Admission_Date", "Notes"],
                ["E1", " Eve ", "Ito", datetime(1970, 1, 2), "EVE", "2026-11-02", "ignored"],
            ],
        },
    )
    result = import_workbook(env.db, env.world.admin, path)
    assert result.counts == {"Tracks": 1, "Clients": 1}
    with env.db.session() as s:
        eve = s.exec(select(Client).where(Client.mrn == "E1")).one()
        track = s.exec(select(Track).where(Track.track_code == "EVE")).one()
        blocks = s.exec(select(TrackBlock).where(TrackBlock.track_id == track.id)).all()
    assert (eve.first_name, eve.last_name, eve.dob) == ("Eve", "Ito", date(1970, 1, 2))
    assert sorted((b.weekday, b.start_time, b.end_time) for b in blocks) == [
        (d, time(18), time(21)) for d in (0, 2, 4)
    ]


def test_excel_dates_and_times(env: Env, tmp_path: Path) -> None:
    sheets = full_sheets()
    sheets["Sessions"][1][4] = datetime(2026, 11, 2)  # an Excel date
    sheets["Sessions"][1][5] = time(9, 0)  # an Excel time
    sheets["Sessions"][1][6] = 0.5  # an Excel time value without a time format: 12:00
    sheets["Sessions"][2][5] = "9:00 am"
    sheets["Sessions"][2][6] = datetime(1899, 12, 30, 12, 0)  # a time typed as a date-time
    import_workbook(env.db, env.world.admin, write_book(tmp_path / "t.xlsx", sheets))
    with env.db.session() as s:
        got = {
            x.external_id: (x.session_date, x.start_time, x.end_time)
            for x in s.exec(select(ClinicSession)).all()
        }
    assert got["G1"] == (date(2026, 11, 2), time(9), time(12))
    assert got["G2"] == (date(2026, 11, 4), time(9), time(12))


def test_implied_attendance_and_minutes_rules(env: Env, tmp_path: Path) -> None:
    db, admin = env.db, env.world.admin
    sheets = full_sheets()
    sheets["Attendance"] = [
        list(COLUMNS["Attendance"]),
        ["G1", "C1001", "present", None],
        ["G1", "C1003", "absent_unexcused", None],
        ["X1", "C1003", "late", 200],
        ["F1", "C1002", "present", None],
        ["I1", "C1003", "present", None],
        ["G2", "C1001", "left_early", None],
        ["G2", "C1003", "absent_excused", 30],
    ]
    with pytest.raises(ImportFailed) as exc:
        import_workbook(db, admin, write_book(tmp_path / "bad.xlsx", sheets))
    assert problems_of(exc) == [
        "Attendance!4 minutes: 200 minutes is longer than the session (60 minutes)",
        "Attendance!5 session_id: session 'F1' is cancelled; attendance is recorded only for "
        "held sessions",
        "Attendance!6 mrn: 'C1003' is not the client of individual session 'I1'",
        "Attendance!7 minutes: required when status is left_early",
        "Attendance!8 minutes: must be 0 or empty when status is absent_excused",
    ]
    sheets["Attendance"] = sheets["Attendance"][:3]  # drop the bad rows (and X1's row)
    import_workbook(db, admin, write_book(tmp_path / "good.xlsx", sheets))
    with db.session() as s:
        ids = {x.external_id: x.id for x in s.exec(select(ClinicSession)).all()}
        mrn = {c.id: c.mrn for c in s.exec(select(Client)).all()}
        rows = {
            (a.session_id, mrn[a.client_id]): (a.status, a.minutes)
            for a in s.exec(select(Attendance)).all()
        }
    assert rows == {
        (ids["G1"], "C1001"): ("present", 180),
        (ids["G1"], "C1003"): ("absent_unexcused", 0),
        (ids["I1"], "C1001"): ("present", 50),  # individual session, no Attendance row
        (ids["X1"], "C1003"): ("present", 60),  # intake session, no Attendance row
    }  # F1 is cancelled: nobody is implied present


def test_supervisor_loops_and_self_supervision(env: Env, tmp_path: Path) -> None:
    path = write_book(
        tmp_path / "staff.xlsx",
        {
            "Staff": [
                list(COLUMNS["Staff"]),
                ["A", "Al", "One", None, None, "therapist", "B"],
                ["B", "Bo", "Two", None, None, "supervisor", "A"],
                ["C", "Cy", "Three", None, None, "therapist", "C"],
                ["D", "Di", "Four", None, None, "therapist", "S1"],  # S1: in the database
            ]
        },
    )
    with pytest.raises(ImportFailed) as exc:
        import_workbook(env.db, env.world.admin, path)
    assert problems_of(exc) == [
        "Staff!2 supervisor_id: supervisors go round in a loop (A -> B -> A)",
        "Staff!3 supervisor_id: supervisors go round in a loop (B -> A -> B)",
        "Staff!4 supervisor_id: a staff member cannot be their own supervisor",
    ]


def test_clinic_settings_defaults_need_no_rows(env: Env, tmp_path: Path) -> None:
    path = write_book(
        tmp_path / "clinic.xlsx",
        {
            "Clinic": [
                ["setting", "value"],
                ["week_start", "monday"],
                ["per_diem_minimum_minutes", "180"],
                ["office_pos", 2],
            ]
        },
    )
    result = import_workbook(env.db, env.world.admin, path)
    assert (result.created, result.updated, result.unchanged) == (
        {"Clinic": 0},
        {"Clinic": 1},
        {"Clinic": 2},
    )
    with env.db.session() as s:
        assert s.exec(select(Setting)).all() == []  # the defaults already say Mon and 180
        assert s.exec(select(Clinic)).one().office_pos == "02"


# -- permission ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["front_desk", "therapist", "supervisor", "billing"])
def test_only_admins_import_and_export(env: Env, tmp_path: Path, role: str) -> None:
    actor = env.world.actors()[role]
    path = full_book(tmp_path)
    before = table_counts(env.db)
    with pytest.raises(PermissionDenied):
        import_workbook(env.db, actor, path)
    with pytest.raises(PermissionDenied):
        import_workbook(env.db, actor, path, dry_run=True)
    with pytest.raises(PermissionDenied):
        export_workbook(env.db, actor, tmp_path / "out.xlsx")
    assert not (tmp_path / "out.xlsx").exists()
    assert table_counts(env.db) == before


def test_export_to_a_missing_folder(env: Env, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        export_workbook(env.db, env.world.admin, tmp_path / "no" / "such" / "out.xlsx")
    assert audit_events(env.db, "export") == []


# -- 10,000 rows --------------------------------------------------------------------------------


def _big_book(path: Path, n: int, bad_dob: bool = False) -> Path:
    book = Workbook(write_only=True)
    ws = book.create_sheet("Tracks")
    ws.append(list(COLUMNS["Tracks"]))
    ws.append(["SUD", "SUD IOP", "IOP", "adult", 9, "Mon,Wed,Thu", "18:00", "21:00", "H0015"])
    ws = book.create_sheet("Payers")
    ws.append(list(COLUMNS["Payers"]))
    ws.append(["MCD", "Medicaid", "per_diem", "yes"])
    ws = book.create_sheet("Clients")
    ws.append(list(COLUMNS["Clients"]))
    for i in range(n):
        ws.append(
            [
                f"B{i:05d}",
                f"First{i}",
                f"Last{i}",
                None,
                "1990-13-01" if bad_dob else date(1960 + i % 40, 1 + i % 12, 1 + i % 28),
                "F",
                f"555{i:07d}",
                f"p{i}@example.org",
                "English",
                "SUD",
                date(2026, 1, 1) + timedelta(days=i % 300),
                None,
                "T1",
                "MCD",
                f"M{i:08d}",
                "F10.20,F41.1",
                None,
            ]
        )
    book.save(path)
    return path


@pytest.mark.parametrize("backend", ["sqlite"])
def test_ten_thousand_clients(env: Env, tmp_path: Path) -> None:
    db, admin = env.db, env.world.admin
    path = _big_book(tmp_path / "big.xlsx", 10_000)
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        started = clock.perf_counter()
        result = import_workbook(db, admin, path)
        first = clock.perf_counter() - started
        first_statements, statements = statements, 0
        started = clock.perf_counter()
        again = import_workbook(db, admin, path)
        second = clock.perf_counter() - started
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    print(
        f"\n10,000 clients: import {first:.1f} s ({first_statements} SQL statements), "
        f"identical re-import {second:.1f} s ({statements} statements)"
    )
    assert result.created["Clients"] == 10_000
    assert again.unchanged["Clients"] == 10_000
    assert first_statements < 300 and statements < 300  # no query per row
    with db.session() as s:
        assert s.exec(select(Client).where(Client.mrn == "B09999")).one().phone == (
            "(555) 000-9999"
        )
        assert len(s.exec(select(Diagnosis.id)).all()) >= 20_000


@pytest.mark.parametrize("backend", ["sqlite"])
def test_ten_thousand_bad_rows_are_each_reported(env: Env, tmp_path: Path) -> None:
    path = _big_book(tmp_path / "big.xlsx", 10_000, bad_dob=True)
    before = table_counts(env.db)
    with pytest.raises(ImportFailed) as exc:
        import_workbook(env.db, env.world.admin, path)
    assert len(exc.value.problems) == 10_000
    assert str(exc.value.problems[-1]) == "Clients!10001 dob: '1990-13-01' is not a real date"
    assert "10000 problems" in exc.value.message
    assert table_counts(env.db) == before


def test_hours_override_end_date_round_trips_and_is_checked(env: Env, tmp_path: Path) -> None:
    """Issue 20 item 7: an hours override carries its last day through export and import;
    an end date without hours, or before admission, is refused as Sheet!row column."""
    from datetime import date as _date

    from openpyxl import load_workbook as _load

    db, admin = env.db, env.world.admin
    import_workbook(db, admin, full_book(tmp_path))
    last = _date.today() + timedelta(days=30)
    first = tmp_path / "override.xlsx"
    export_workbook(db, admin, first)
    book = _load(first)
    ws = book["Clients"]
    header = [c.value for c in ws[1]]
    hours_at = header.index("required_weekly_hours") + 1
    until_at = header.index("required_hours_until") + 1
    assert header[-1] == "required_hours_until"  # a new optional column, after the others
    ws.cell(2, hours_at).value = 6
    ws.cell(2, until_at).value = last
    mrn = ws.cell(2, 1).value
    book.save(first)
    import_workbook(db, admin, first)
    with db.read() as s:
        c = s.exec(select(Client).where(Client.mrn == mrn)).one()
        assert (c.required_weekly_hours, c.required_hours_until) == (6, last)
    again = tmp_path / "again.xlsx"
    export_workbook(db, admin, again)
    row = next(r for r in cells(again)["Clients"][1:] if r[0] == mrn)
    assert row[until_at - 1] is not None and row[until_at - 1].date() == last
    # An end date with no hours to end is a mistake, said as Sheet!row column.
    ws.cell(2, hours_at).value = None  # row 2 keeps its end date
    book.save(first)
    with pytest.raises(ImportFailed) as bad:
        import_workbook(db, admin, first, dry_run=True)
    assert problems_of(bad) == [
        "Clients!2 required_hours_until: give the required_weekly_hours it ends"
    ]
