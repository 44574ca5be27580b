"""Issue 19 service rules on both backends: the risk-screen column's migration, the one date
parser, the clinic clock and week names."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from iopdesk.services import clock, notes
from iopdesk.services.datetext import parse_date
from tests import test_workbook
from tests.test_notes import _draft, _today


def test_risk_screened_migration_upgrades_a_database_with_signed_notes(env) -> None:
    from alembic import command

    from iopdesk.migrations import runner

    w, db = env.world, env.db
    saved = notes.create_note(db, w.therapist, _draft(w, _today(db)))
    notes.sign_note(db, w.therapist, saved.id, saved.version)
    cfg = runner.config()
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003_attendance_covering")
        conn.commit()
    with db.engine.connect() as conn:
        columns = (
            [r[1] for r in conn.execute(text("PRAGMA table_info(note)"))]
            if (db.engine.dialect.name == "sqlite")
            else [
                r[0]
                for r in conn.execute(
                    text(
                        "SELECT column_name FROM information_schema.columns WHERE table_name='note'"
                    )
                )
            ]
        )
        assert "risk_screened" not in columns
    runner.upgrade(db.engine)
    # Notes signed before the column existed keep their hash: NULL is left out of the text.
    with db.session() as session:
        from iopdesk.models import Note

        row = session.get(Note, saved.id)
        assert row is not None and row.risk_screened is None
        assert "risk_screened" not in notes.canonical_content(row)
        row.risk_screened = False
        assert '"risk_screened":false' in notes.canonical_content(row)
        session.rollback()
    content = notes.read_note(db, w.therapist, saved.id)
    assert notes.risk_screen_text(content) == "Risk screen: not done"
    with db.engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT risk_screened FROM note WHERE id = :id"), {"id": saved.id}
            ).scalar()
            is None
        )
    # ... and the database refuses to mark a signed note's screen done afterwards.
    with pytest.raises(sa_exc.DBAPIError), db.engine.begin() as conn:
        conn.execute(
            text("UPDATE note SET risk_screened = :v WHERE id = :id"),
            {"v": True, "id": saved.id},
        )


@pytest.mark.parametrize(
    ("typed", "past", "expected"),
    [
        ("3/15/1988", True, date(1988, 3, 15)),
        ("03/15/1988", True, date(1988, 3, 15)),
        ("03151988", True, date(1988, 3, 15)),
        ("3-15-88", True, date(1988, 3, 15)),
        ("031588", True, date(1988, 3, 15)),
        ("12/07/26", True, date(1926, 12, 7)),  # a birth date is never after today
        ("12/06/26", True, date(2026, 12, 6)),  # today is not the future
        ("12/07/26", False, date(2026, 12, 7)),  # other dates: the nearest century
        ("1/5/75", False, date(1975, 1, 5)),
        ("Sun 12/06/2026", False, date(2026, 12, 6)),
        ("2026-12-06", False, date(2026, 12, 6)),
        ("12/24", False, date(2026, 12, 24)),
        ("  ", True, None),
    ],
)
def test_parse_date_reads_us_dates(typed, past, expected):
    assert parse_date(typed, today=date(2026, 12, 6), past=past) == expected


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("13/45/1990", "the month must be 1 to 12"),
        ("2/29/2025", "February 2025 has days 1 to 28"),
        ("4/31/2020", "April 2020 has days 1 to 30"),
        ("0/10/2020", "the month must be 1 to 12"),
        ("yesterday", "is not a date"),
        ("1234567", "is not a date"),
    ],
)
def test_parse_date_refuses_impossible_dates_in_plain_words(typed, words):
    with pytest.raises(ValueError, match=words):
        parse_date(typed, today=date(2026, 12, 6))


def test_date_of_birth_needs_a_year():
    with pytest.raises(ValueError, match="needs the year"):
        parse_date("3/15", today=date(2026, 12, 6), past=True)


def test_clinic_clock_prints_local_time_with_the_zone():
    moment = datetime(2026, 12, 4, 5, 57)  # stored naive UTC
    assert clock.stamp(moment, "America/Chicago") == "12/03/2026 11:57 PM CST"
    assert clock.stamp(moment.replace(tzinfo=UTC), "America/New_York") == (
        "12/04/2026 12:57 AM EST"
    )
    assert clock.local(datetime(2026, 7, 1, 17), "America/Chicago").tzname() == "CDT"


def test_weeks_are_named_by_the_week_start():
    assert clock.week_start_of(date(2026, 12, 6), "Mon") == date(2026, 11, 30)
    assert clock.week_label(date(2026, 11, 30)) == "Mon 11/30 - Sun 12/06"
    assert clock.week_start_of(date(2026, 12, 6), "Sun") == date(2026, 12, 6)
    assert clock.week_label(date(2026, 12, 6)) == "Sun 12/06 - Sat 12/12"


# --- 4. an imported cancelled group is a clinic cancellation ---------------------------------


def _ana_required(db, actor) -> int:
    from iopdesk.services import hours

    rows = hours.weekly_hours(db, actor, date(2026, 11, 2))
    return next(r.required_minutes for r in rows if r.mrn == "C1001")


other_db = test_workbook.other_db  # a second fresh database (fixture)


def test_an_imported_cancelled_group_leaves_the_weeks_proration(env, tmp_path, other_db):
    from iopdesk.models import ClinicSession
    from iopdesk.services.workbook import export_workbook, import_workbook
    from tests.test_workbook import COLUMNS, full_sheets, write_book

    db, admin = env.db, env.world.admin
    sheets = full_sheets()
    import_workbook(db, admin, write_book(tmp_path / "a.xlsx", sheets))
    full_week = _ana_required(db, admin)  # SUD-AM meets Mon, Wed, Thu
    assert full_week > 0
    row = ["G3", "group", "SUD-AM", None, "2026-11-05", "09:00", "12:00", "ST1"]
    row += ["Snow day", "cancelled", "no", None]
    assert len(row) == len(COLUMNS["Sessions"])
    sheets["Sessions"].append(row)
    import_workbook(db, admin, write_book(tmp_path / "b.xlsx", sheets))
    with db.session() as s:
        from sqlmodel import select

        g3 = s.exec(select(ClinicSession).where(ClinicSession.external_id == "G3")).one()
        assert (g3.status, g3.cancelled_by_clinic) == ("cancelled", True)
    # Thursday is not counted, exactly as for a closure: two of three program days.
    assert _ana_required(db, admin) == round(full_week * 2 / 3)
    # Export -> import into another database keeps it.
    out = tmp_path / "export.xlsx"
    export_workbook(db, admin, out)
    import_workbook(other_db, admin, out)
    assert _ana_required(other_db, admin) == round(full_week * 2 / 3)
    # A cancelled individual session stays the client's cancellation.
    with db.session() as s:
        f1 = s.exec(select(ClinicSession).where(ClinicSession.external_id == "F1")).one()
        assert (f1.status, f1.cancelled_by_clinic) == ("cancelled", False)


def test_readme_screenshots_are_made_by_make_screenshots_or_named_as_by_hand():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    makefile = (root / "Makefile").read_text(encoding="utf-8")
    shown = set(re.findall(r"docs/screenshots/([\w.-]+\.png)", readme))
    made = set(re.findall(r"--screenshot docs/screenshots/([\w.-]+\.png)", makefile))
    by_hand = readme.split("are made by hand", 1)[0].rsplit("\n\n", 1)[-1]
    missing = {name for name in shown - made if f"`{name}`" not in by_hand}
    assert shown and not missing, missing
    for words in ("IOPDESK_REQUIRE_TOOLS", "postgresql", "python3-venv", "libxcb-cursor0"):
        assert words in readme


def test_the_demo_shows_a_working_clinic_on_a_weekend(tmp_path):
    import os
    from datetime import timedelta

    from iopdesk.db import Database, DbTarget
    from iopdesk.demo import create_demo_clinic
    from iopdesk.services import today

    sunday = date(2026, 12, 6)
    db = Database.open(DbTarget(path=tmp_path / "demo.db"), create=True, key=os.urandom(32))
    try:
        admin, _ = create_demo_clinic(db, today=sunday)
        saturday = today.summary(db, admin, on=sunday - timedelta(days=1))
        assert any("Adolescent" in s.title for s in saturday.sessions_today)
        on_sunday = today.summary(db, admin, on=sunday)
        assert on_sunday.next_day == sunday + timedelta(days=1)  # Monday
        assert len(on_sunday.next_sessions) >= 3
    finally:
        db.close()
