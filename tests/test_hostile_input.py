"""Hostile and random text through the services that take what people type, and the import:
very long text, control characters, right-to-left marks, SQL metacharacters, emoji. Each value is
stored and read back exactly (after the documented trimming of surrounding white space) or
refused with a ValidationError; never a crash, never silently changed, never SQL injected."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from iopdesk.db import Database
from iopdesk.errors import ValidationError
from iopdesk.services import clients, notes, staff
from tests.conftest import Env

NASTY = [
    "'; DROP TABLE client; --",
    'Robert"); DELETE FROM app_user; --',
    "%_\\' OR '1'='1",
    "\u202eevil\u202c name",  # right-to-left override
    "\u200f\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",  # RLM, Hebrew, Arabic
    "\U0001f600\U0001f468\u200d\U0001f469\u200d\U0001f467 family",  # emoji, ZWJ sequence
    "e\u0301\u0301\u0301 Zalgo\u0336\u0336",
    "tab\tnew\nline\rcarriage",
    "nul\x00inside",
    "bell\x07 esc\x1b[31m red",
    "\ufeffbom",
    "x" * 5000,
    "\U0010fffd private use",
    "",
    "   ",
]

hostile = st.one_of(
    st.sampled_from(NASTY),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",)),  # any code point but surrogates
        max_size=300,
    ),
    st.text(max_size=3).map(lambda s: s * 1000),  # long runs
)

COMMON = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_n = itertools.count()
pytestmark = pytest.mark.sqlite_only


def _row(db: Database, sql: str, **params: object) -> tuple[object, ...]:
    with db.engine.connect() as conn:
        row = conn.execute(text(sql), params).one()
    return tuple(row)


@COMMON
@given(first=hostile, last=hostile, city=hostile, referral=hostile)
def test_client_intake_text(env: Env, first: str, last: str, city: str, referral: str) -> None:
    data = clients.ClientInput(first, last, date(1990, 1, 1), city=city, referral_source=referral)
    try:
        created = clients.create_client(env.db, env.world.admin, data)
    except ValidationError as exc:
        event("refused")
        assert exc.fields, "a refusal names the field to fix"
        assert set(exc.fields) <= {"first_name", "last_name", "city", "referral_source"}
        return
    event("stored")
    stored = _row(
        env.db,
        "SELECT first_name, last_name, city, referral_source FROM client WHERE id = :i",
        i=created.id,
    )
    assert stored == (first.strip(), last.strip(), city.strip(), referral.strip())
    chart = clients.open_chart(env.db, env.world.admin, created.id or 0)
    assert chart is not None
    # Nothing injected: the tables are all still there and the census still lists everyone.
    assert _row(env.db, "SELECT count(*) FROM app_user")[0] == 5


@COMMON
@given(first=hostile, last=hostile, credentials=hostile, license_number=hostile)
def test_staff_text(env: Env, first: str, last: str, credentials: str, license_number: str) -> None:
    code = f"H{next(_n)}"
    data = staff.StaffInput(
        code, first, last, credentials=credentials, license_number=license_number
    )
    try:
        info = staff.create_staff(env.db, env.world.admin, data)
    except ValidationError as exc:
        event("refused")
        assert exc.fields
        return
    event("stored")
    stored = _row(
        env.db,
        "SELECT first_name, last_name, credentials, license_number FROM staff WHERE id = :i",
        i=info.id,
    )
    assert stored == (
        first.strip(),
        last.strip(),
        credentials.strip(),
        license_number.strip() or None,
    )
    listed = {s.id: s for s in staff.list_staff(env.db, env.world.admin)}
    assert listed[info.id].first_name == first.strip()


@COMMON
@given(data=hostile, assessment=hostile, plan=hostile)
def test_note_draft_sections(env: Env, data: str, assessment: str, plan: str) -> None:
    sections = {"Data": data, "Assessment": assessment, "Plan": plan}
    draft = notes.NoteDraft(
        client_id=env.world.client_own, service_date=date(2026, 11, 2), sections=sections
    )
    try:
        saved = notes.autosave_note(env.db, env.world.therapist, None, None, draft)
    except ValidationError as exc:
        event("refused")
        assert exc.fields
        return
    event("stored")
    back = notes.read_note(env.db, env.world.therapist, saved.id)
    assert back.sections == sections  # a draft keeps exactly what was typed


def _workbook(path: Path, rows: list[tuple[str, str, str]]) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Staff"
    ws.append(["staff_id", "first_name", "last_name", "credentials", "npi", "roles"])
    for code, first, last in rows:
        ws.append([code, first, last, "LPC", None, "therapist"])
    wb.save(path)


def _xlsx_safe(value: str) -> str:
    """Excel cannot hold most control characters at all; what it can hold is tested."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", value)[:32767]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(first=hostile.map(_xlsx_safe), last=hostile.map(_xlsx_safe))
def test_workbook_import_text(env: Env, tmp_path: Path, first: str, last: str) -> None:
    from iopdesk.services.workbook import ImportFailed, import_workbook

    code = f"W{next(_n)}"
    path = tmp_path / f"{code}.xlsx"
    _workbook(path, [(code, first, last)])
    try:
        import_workbook(env.db, env.world.admin, path)
    except ImportFailed as exc:
        event("refused")
        assert exc.problems and "Staff!" in exc.report()
        return
    event("stored")
    stored = _row(env.db, "SELECT first_name, last_name FROM staff WHERE staff_code = :c", c=code)
    assert stored == (first.strip(), last.strip())
