"""The audit log: every service action writes one event; the database refuses to change or
delete events; verify finds the first altered, deleted, reordered or forged row; no PHI."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlmodel import col, select

from iopdesk.errors import AuthenticationError, DatabaseError, StaleRecordError
from iopdesk.models import AuditEvent
from iopdesk.services import audit, auth, clients, notes
from tests.conftest import PASSWORD, Env

# -- helpers ---------------------------------------------------------------------------------


def last_id(env: Env) -> int:
    with env.db.engine.connect() as conn:
        return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM audit_event")).scalar_one())


def events_after(env: Env, after: int) -> list[AuditEvent]:
    with env.db.session() as s:
        return list(
            s.exec(
                select(AuditEvent).where(col(AuditEvent.id) > after).order_by(col(AuditEvent.id))
            )
        )


def one_event(env: Env, call: Callable[[], Any]) -> tuple[Any, AuditEvent]:
    """Run `call` and return its result and the single audit event it wrote."""
    before = last_id(env)
    result = call()
    written = events_after(env, before)
    assert len(written) == 1, [(e.action, e.detail) for e in written]
    return result, written[0]


def assert_recent_utc(event: AuditEvent) -> None:
    assert event.occurred_at.tzinfo is not None
    assert event.occurred_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - event.occurred_at) < timedelta(minutes=2)


def remove_protection(env: Env) -> None:
    """What an attacker with direct database access would do first."""
    with env.db.engine.begin() as conn:
        if env.backend == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER audit_event_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_event_no_delete")
        else:
            conn.exec_driver_sql("ALTER TABLE audit_event DISABLE TRIGGER USER")


def raw_row(env: Env, event_id: int) -> dict[str, Any]:
    with env.db.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM audit_event WHERE id = :i"), {"i": event_id})
        return dict(row.mappings().one())


def overwrite_row(env: Env, event_id: int, values: dict[str, Any]) -> None:
    values = {k: v for k, v in values.items() if k != "id"}
    sets = ", ".join(f"{k} = :{k}" for k in values)
    with env.db.engine.begin() as conn:
        conn.execute(text(f"UPDATE audit_event SET {sets} WHERE id = :the_id"),
                     {**values, "the_id": event_id})  # fmt: skip


def add_events(env: Env, count: int) -> int:
    """Lengthen the chain with real events; returns the last id."""
    for _ in range(count):
        clients.open_chart(env.db, env.world.admin, env.world.client_other)
    return last_id(env)


# -- every action is recorded --------------------------------------------------------------


def test_login_and_failed_logins_are_recorded(env: Env) -> None:
    actor, ev = one_event(env, lambda: auth.login(env.db, "therapist", PASSWORD))
    assert (ev.action, ev.user_id, ev.username, ev.entity) == (
        "login", actor.user_id, "therapist", "app_user"
    )  # fmt: skip
    assert_recent_utc(ev)

    def wrong_password() -> None:
        with pytest.raises(AuthenticationError):
            auth.login(env.db, "billing", "not-the-password")

    _, ev = one_event(env, wrong_password)
    assert (ev.action, ev.user_id, ev.username) == ("login_failed", None, "billing")
    assert ev.entity_id == str(env.world.billing.user_id)
    assert "not-the-password" not in ev.detail
    assert_recent_utc(ev)

    def unknown_user() -> None:
        with pytest.raises(AuthenticationError):
            auth.login(env.db, "mallory", PASSWORD)

    _, ev = one_event(env, unknown_user)
    assert (ev.action, ev.user_id, ev.username) == ("login_failed", None, "mallory")
    assert PASSWORD not in ev.detail

    _, ev = one_event(env, lambda: auth.logout(env.db, actor))
    assert (ev.action, ev.user_id) == ("logout", actor.user_id)


def test_chart_actions_are_recorded(env: Env) -> None:
    w = env.world
    fd = w.front_desk

    chart, ev = one_event(env, lambda: clients.open_chart(env.db, fd, w.client_own))
    assert (ev.action, ev.entity, ev.entity_id, ev.client_id, ev.user_id) == (
        "open_chart", "client", str(w.client_own), w.client_own, fd.user_id
    )  # fmt: skip
    assert_recent_utc(ev)

    data = clients.ClientInput("Newby", "Person", date(2001, 2, 3))
    created, ev = one_event(env, lambda: clients.create_client(env.db, fd, data))
    assert (ev.action, ev.entity, ev.client_id, ev.user_id) == (
        "create", "client", created.id, fd.user_id
    )  # fmt: skip

    change = {"phone": "555-201-3344"}
    _, ev = one_event(
        env, lambda: clients.update_client(env.db, fd, w.client_own, chart.client.version, change)
    )
    assert (ev.action, ev.entity, ev.client_id, ev.detail) == (
        "update", "client", w.client_own, "fields=phone"
    )  # fmt: skip

    _, ev = one_event(env, lambda: notes.read_note(env.db, w.therapist, w.note_own))
    assert (ev.action, ev.entity, ev.entity_id, ev.client_id, ev.user_id) == (
        "read", "note", str(w.note_own), w.client_own, w.therapist.user_id
    )  # fmt: skip

    rows, ev = one_event(env, lambda: audit.list_events(env.db, w.admin))
    assert ev.action == "audit_view" and ev.user_id == w.admin.user_id
    assert rows and rows[0].id < ev.id  # newest first, the view itself recorded after


def test_failed_service_call_leaves_no_event(env: Env) -> None:
    """An event is written in the action's own transaction: no action, no event."""
    w = env.world
    before = last_id(env)
    chart = clients.open_chart(env.db, w.admin, w.client_own)
    clients.update_client(env.db, w.admin, w.client_own, chart.client.version, {"city": "Kent"})
    after_ok = last_id(env)
    assert after_ok == before + 2
    with pytest.raises(StaleRecordError, match="another workstation"):
        clients.update_client(env.db, w.admin, w.client_own, chart.client.version, {"city": "X"})
    assert last_id(env) == after_ok
    assert audit.verify(env.db).ok


# -- the database refuses changes ----------------------------------------------------------

REFUSED = {
    "update one": "UPDATE audit_event SET detail = 'nothing happened' WHERE id = 2",
    "update all": "UPDATE audit_event SET username = 'someone else'",
    "delete one": "DELETE FROM audit_event WHERE id = 2",
    "delete all": "DELETE FROM audit_event",
    "truncate": "TRUNCATE audit_event",  # SQLite has none: its DELETE-all is the truncate
}


def test_database_refuses_to_change_audit_rows(env: Env) -> None:
    before_rows = [raw_row(env, i) for i in range(1, last_id(env) + 1)]
    for what, statement in REFUSED.items():
        if env.backend == "sqlite" and what == "truncate":
            statement = "DELETE FROM audit_event"
        try:
            with env.db.engine.begin() as conn:
                conn.exec_driver_sql(statement)
        except sa_exc.DBAPIError as exc:
            assert "append-only" in str(exc.orig), (what, exc)
        else:
            pytest.fail(f"the database allowed {what}: {statement}")
    assert [raw_row(env, i) for i in range(1, last_id(env) + 1)] == before_rows
    result = audit.verify(env.db)
    assert result.ok and result.rows_checked == len(before_rows)


def test_refusal_through_the_app_is_a_plain_message(env: Env) -> None:
    with pytest.raises(DatabaseError) as caught, env.db.session() as s:
        s.execute(text("DELETE FROM audit_event WHERE id = 1"))
    assert caught.value.message == "The audit log cannot be changed or deleted."


# -- verify -------------------------------------------------------------------------------------


def test_untouched_log_verifies(env: Env) -> None:
    n = add_events(env, 3)
    result = audit.verify(env.db)
    assert result.ok and result.first_bad_id is None
    assert result.rows_checked == n == audit.count_events(env.db)
    assert result.message() == f"Audit log intact: {n} events verified."


def _assert_broken_at(env: Env, bad_id: int, words: str) -> None:
    result = audit.verify(env.db)
    assert not result.ok
    assert result.first_bad_id == bad_id, result.message()
    assert result.rows_checked == bad_id - 1
    assert words in result.problem
    assert f"event {bad_id}" in result.message()


def test_verify_detects_an_altered_row(env: Env) -> None:
    n = add_events(env, 4)
    k = n // 2
    remove_protection(env)
    overwrite_row(env, k, {"detail": "nothing to see here"})
    _assert_broken_at(env, k, "altered")


def test_verify_detects_any_altered_field(env: Env) -> None:
    n = add_events(env, 2)
    k = n - 1
    row = raw_row(env, k)
    remove_protection(env)
    changes = {
        "username": "admin2",
        "action": "read",
        "occurred_at": datetime(2020, 1, 1, tzinfo=UTC) if env.backend != "sqlite" else
        "2020-01-01 00:00:00.000000",
        "user_id": env.world.therapist.user_id,
        "client_id": env.world.client_own,
        "entity_id": "1",
        "flagged": not row["flagged"],
    }  # fmt: skip
    for column, changed in changes.items():
        assert changed != row[column], column
        overwrite_row(env, k, {column: changed})
        result = audit.verify(env.db)
        assert (result.ok, result.first_bad_id) == (False, k), column
        assert "altered" in result.problem, column
        overwrite_row(env, k, {column: row[column]})
        assert audit.verify(env.db).ok, f"restoring {column} should restore the chain"


def test_verify_detects_a_deleted_middle_row(env: Env) -> None:
    n = add_events(env, 4)
    k = n // 2
    remove_protection(env)
    with env.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = :k"), {"k": k})
    _assert_broken_at(env, k, "missing")


def test_verify_detects_reordered_rows(env: Env) -> None:
    n = add_events(env, 4)
    a, b = n // 2, n // 2 + 1
    row_a, row_b = raw_row(env, a), raw_row(env, b)
    remove_protection(env)
    overwrite_row(env, a, row_b)
    overwrite_row(env, b, row_a)
    assert raw_row(env, a)["mac"] == row_b["mac"]
    _assert_broken_at(env, a, "reordered")


def test_verify_detects_a_deleted_last_row(env: Env) -> None:
    n = add_events(env, 2)
    remove_protection(env)
    with env.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = :n"), {"n": n})
    result = audit.verify(env.db)
    assert not result.ok
    assert result.first_bad_id == n and result.rows_checked == n - 1
    assert "removed" in result.problem and "head" in result.problem


def test_verify_detects_a_forged_row(env: Env) -> None:
    """Appending is allowed, but a row not made by the app does not carry a valid MAC."""
    n = add_events(env, 1)
    last = raw_row(env, n)
    forged = {**last, "id": n + 1, "detail": "forged", "prev_mac": last["mac"], "mac": "0" * 64}
    columns = ", ".join(forged)
    with env.db.engine.begin() as conn:
        conn.execute(
            text(f"INSERT INTO audit_event ({columns}) VALUES (:{', :'.join(forged)})"), forged
        )
        conn.execute(text("UPDATE audit_head SET last_id = :i, last_mac = :m"),
                     {"i": n + 1, "m": "0" * 64})  # fmt: skip
    _assert_broken_at(env, n + 1, "altered")


# -- no PHI in the log -----------------------------------------------------------------------


def test_audit_details_hold_no_phi(env: Env) -> None:
    w = env.world
    first, last, new_first = "Quillonia", "Phiprobeson", "Marzipanda"
    data = clients.ClientInput(
        first, last, date(1977, 7, 17), email="quillonia@example.org", diagnoses=["F33.1"]
    )
    created = clients.create_client(env.db, w.front_desk, data)
    assert created.id is not None
    chart = clients.open_chart(env.db, w.therapist, created.id)
    clients.update_client(
        env.db,
        w.front_desk,
        created.id,
        chart.client.version,
        {"first_name": new_first, "phone": "(555) 010-4242", "city": "Xylophoneville"},
    )
    clients.open_chart(env.db, w.supervisor, created.id)
    notes.read_note(env.db, w.therapist, w.note_own)  # note text: SECRET-NOTE-TEXT
    clients.list_census(env.db, w.admin, search=last)

    with env.db.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM audit_event")).mappings().all()
    assert any(r["client_id"] == created.id for r in rows)
    text_of_log = "\n".join(" ".join(str(v) for v in r.values()) for r in rows).lower()
    for phi in (first, last, new_first, "quillonia@example.org", "1977-07-17", "010-4242",
                "xylophoneville", "F33.1", "secret-note-text", "ownclient", "canary"):  # fmt: skip
        assert phi.lower() not in text_of_log, f"{phi!r} found in the audit log"
