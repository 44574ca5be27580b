"""Two workstations on one database: a stale save is refused, never silently lost."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from iopdesk.db import Database
from iopdesk.errors import StaleRecordError
from iopdesk.services import audit, clients, clinic
from tests.conftest import TEST_KEY, Env

STALE = "was changed on another workstation after you opened it"


@pytest.fixture
def second(env: Env) -> Iterator[Database]:
    """A second workstation: its own Database (engine, pool) on the same target."""
    db = Database.open(env.reopen_target, key=TEST_KEY if env.backend == "sqlite" else None)
    try:
        yield db
    finally:
        db.close()


def test_stale_client_save_is_refused_and_first_save_kept(env: Env, second: Database) -> None:
    w = env.world
    front = clients.open_chart(env.db, w.front_desk, w.client_own).client
    back = clients.open_chart(second, w.therapist, w.client_own).client
    assert front.version == back.version

    saved = clients.update_client(
        env.db, w.front_desk, w.client_own, front.version, {"phone": "555-123-4567"}
    )
    assert saved.version == front.version + 1
    events = audit.count_events(env.db)

    with pytest.raises(StaleRecordError) as caught:
        clients.update_client(
            second, w.therapist, w.client_own, back.version, {"phone": "555-999-0000"}
        )
    assert STALE in caught.value.message
    assert "Your changes were not saved" in caught.value.message
    assert audit.count_events(env.db) == events  # the refused save left no trace

    for db in (env.db, second):
        now = clients.open_chart(db, w.admin, w.client_own).client
        assert (now.phone, now.version) == ("(555) 123-4567", saved.version)

    # After reloading, the second workstation can save on top of the first one's change.
    again = clients.update_client(
        second, w.therapist, w.client_own, saved.version, {"city": "Dayton"}
    )
    assert (again.phone, again.city, again.version) == (
        "(555) 123-4567",
        "Dayton",
        saved.version + 1,
    )


def test_stale_clinic_save_is_refused_and_first_save_kept(env: Env, second: Database) -> None:
    admin = env.world.admin
    mine = clinic.get_clinic(env.db)
    theirs = clinic.get_clinic(second)
    assert mine.version == theirs.version

    saved = clinic.update_clinic(env.db, admin, mine.version, {"phone": "(555) 222-3333"})
    with pytest.raises(StaleRecordError) as caught:
        clinic.update_clinic(second, admin, theirs.version, {"name": "Renamed Clinic"})
    assert STALE in caught.value.message

    for db in (env.db, second):
        now = clinic.get_clinic(db)
        assert (now.name, now.phone, now.version) == (
            "Test Clinic",
            "(555) 222-3333",
            saved.version,
        )


def _race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at the same moment in threads; return each result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a save hung"
    return results


def test_simultaneous_saves_exactly_one_wins(env: Env, second: Database) -> None:
    w = env.world
    version = clients.open_chart(env.db, w.admin, w.client_other).client.version
    cities = ["Akron", "Canton"]
    results = _race(
        [
            lambda: clients.update_client(
                env.db, w.front_desk, w.client_other, version, {"city": cities[0]}
            ),
            lambda: clients.update_client(
                second, w.supervisor, w.client_other, version, {"city": cities[1]}
            ),
        ]
    )
    stale = [r for r in results if isinstance(r, StaleRecordError)]
    won = [r for r in results if not isinstance(r, Exception)]
    assert len(stale) == 1 and len(won) == 1, results
    final = clients.open_chart(env.db, w.admin, w.client_other).client
    assert final.version == version + 1
    assert final.city == won[0].city
    assert audit.verify(env.db).ok


def test_audit_chain_stays_intact_with_two_workstations_writing(env: Env, second: Database) -> None:
    w = env.world
    before = audit.count_events(env.db)

    def open_many(db: Database) -> None:
        for _ in range(15):
            clients.open_chart(db, w.front_desk, w.client_own)

    results = _race([lambda: open_many(env.db), lambda: open_many(second)])
    assert results == [None, None]
    result = audit.verify(second)
    assert result.ok, result.message()
    assert result.rows_checked == before + 30
