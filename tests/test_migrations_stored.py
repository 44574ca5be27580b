"""Upgrade real database files of every earlier schema, as a clinic's PC would.

tests/data/schemas/iopdesk-<revision>.db is the demo clinic (60 clients, ~1,700 attendance
rows, ~1,500 notes, signed and locked notes, audit chain) created by the IOPDesk of that
revision and encrypted with the test key (see tests/data/schemas/README.md). Opening it with
today's code migrates it to the newest schema; nothing may be lost and everything must still
work: sign-in, the chart, weekly hours, billing, the audit chain and the note seals.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from iopdesk.db import Database, DbTarget
from iopdesk.migrations import HEAD, REVISIONS
from tests.conftest import TEST_KEY

SCHEMAS = Path(__file__).with_name("data") / "schemas"
STORED = sorted(p for p in SCHEMAS.glob("iopdesk-*.db"))
DEMO_PASSWORD = "iopdesk-demo"
COUNTS = {"client": 60, "attendance": 1706, "note": 1499, "staff": 8, "payer": 5}


def test_a_stored_file_for_every_released_revision_up_to_0003() -> None:
    stored = {p.stem.removeprefix("iopdesk-") for p in STORED}
    upto = REVISIONS.index("0003_attendance_covering") + 1
    released = {r.split("_", 1)[0] for r in REVISIONS[:upto]}
    assert released <= stored, f"no stored database for {sorted(released - stored)}"


@pytest.mark.parametrize("stored", STORED, ids=lambda p: p.stem)
def test_upgrade_keeps_every_record_and_everything_works(stored: Path, tmp_path: Path) -> None:
    from iopdesk.services import audit, billing, clients, hours
    from iopdesk.services.auth import login

    path = tmp_path / "iopdesk.db"
    shutil.copyfile(stored, path)
    shutil.copyfile(str(stored) + ".keyinfo", str(path) + ".keyinfo")
    db = Database.open(DbTarget(path=path), key=TEST_KEY)
    try:
        assert db.schema_revision() == HEAD
        if not HEAD.startswith(stored.stem.removeprefix("iopdesk-")):
            # The file was backed up beside itself before the upgrade.
            assert list(tmp_path.glob("iopdesk.db.pre-*.bak"))
        with db.read() as s:
            for table, expected in COUNTS.items():
                assert s.execute(text(f"SELECT count(*) FROM {table}")).scalar() == expected
        admin = login(db, "admin", DEMO_PASSWORD)
        census = clients.list_census(db, admin)
        assert census
        chart = clients.open_chart(db, admin, census[0].id)
        assert chart.client.id == census[0].id
        week = hours.weekly_hours(db, admin, date(2026, 11, 16))
        assert week  # rows for the clients enrolled that week
        run = billing.preview(db, admin, date(2026, 10, 1), date(2026, 10, 31))
        assert run.lines  # October of the demo clinic bills
        result = audit.verify(db)
        assert result.ok, result.message()
        therapist = login(db, "therapist", DEMO_PASSWORD)
        assert clients.list_census(db, therapist)
    finally:
        db.close()


@pytest.mark.parametrize("stored", STORED, ids=lambda p: p.stem)
def test_signed_notes_keep_their_seal_after_upgrade(stored: Path, tmp_path: Path) -> None:
    from iopdesk.services import notes
    from iopdesk.services.auth import login

    path = tmp_path / "iopdesk.db"
    shutil.copyfile(stored, path)
    shutil.copyfile(str(stored) + ".keyinfo", str(path) + ".keyinfo")
    db = Database.open(DbTarget(path=path), key=TEST_KEY)
    try:
        supervisor = login(db, "supervisor", DEMO_PASSWORD)
        with db.read() as s:
            signed = [
                int(i)
                for i in s.execute(
                    text("SELECT id FROM note WHERE status = 'signed' ORDER BY id LIMIT 25")
                ).scalars()
            ]
        assert signed
        for note_id in signed:
            assert notes.verify_note(db, supervisor, note_id), f"note {note_id} seal broken"
    finally:
        db.close()


def test_migrate_to_goes_down_and_up_again(tmp_path: Path) -> None:
    """The newest migrations go down to 0003 and back up on a real clinic file."""
    from tests.helpers import migrate_to

    path = tmp_path / "iopdesk.db"
    stored = SCHEMAS / "iopdesk-0003.db"
    shutil.copyfile(stored, path)
    shutil.copyfile(str(stored) + ".keyinfo", str(path) + ".keyinfo")
    migrate_to(path, HEAD, TEST_KEY)
    migrate_to(path, "0003_attendance_covering", TEST_KEY)
    db = Database.open(DbTarget(path=path), key=TEST_KEY, migrate=False)
    try:
        assert db.schema_revision() == "0003_attendance_covering"
    finally:
        db.close()
    migrate_to(path, HEAD, TEST_KEY)
    db = Database.open(DbTarget(path=path), key=TEST_KEY)
    try:
        assert db.schema_revision() == HEAD
        with db.read() as s:
            assert s.execute(text("SELECT count(*) FROM client")).scalar() == COUNTS["client"]
    finally:
        db.close()
