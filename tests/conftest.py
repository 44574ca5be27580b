"""Test harness: offscreen Qt, private data folders, no real keyring, and a fresh database per
test on both backends (an encrypted SQLite file and a real PostgreSQL server started here)."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

# Set before anything imports Qt or keyring.
# A 1920x1080 offscreen screen (the default 800x800 one clamps window geometry).
os.environ["QT_QPA_PLATFORM"] = (
    f"offscreen:configfile={Path(__file__).with_name('offscreen-screen.json')}"
)
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
os.environ.pop("IOPDESK_DB_PASSPHRASE", None)
os.environ.pop("IOPDESK_PASSWORD", None)
os.environ.pop("IOPDESK_DB", None)
# The test clinic keeps the default clinic time zone (America/New_York); tests run in that zone
# too, so that date.today() in a test is the clinic's today at any hour (in UTC evenings the
# two days differ, and a session "today" would be in the clinic's future).
os.environ["TZ"] = "America/New_York"
if hasattr(time, "tzset"):
    time.tzset()
_private = Path(tempfile.mkdtemp(prefix="iopdesk-test-home-"))
os.environ["IOPDESK_DATA_DIR"] = str(_private / "data")
os.environ["IOPDESK_CONFIG_DIR"] = str(_private / "config")

import pytest  # noqa: E402

from iopdesk.db import Database, DbTarget  # noqa: E402
from iopdesk.services.actor import Actor  # noqa: E402
from tests.helpers.fixtures import _gui_test_boxes, boxes, group  # noqa: E402, F401 (shared)

TEST_KEY = bytes.fromhex("5a" * 32)
PASSWORD = "correct-horse-battery"
REQUIRE_PG = os.environ.get("IOPDESK_REQUIRE_PG") == "1"


@dataclass(frozen=True)
class World:
    """A small clinic: one user per role, two clients, one note on each."""

    admin: Actor
    front_desk: Actor
    therapist: Actor  # primary therapist of client_own only
    supervisor: Actor
    billing: Actor
    client_own: int
    client_other: int
    note_own: int
    note_other: int

    def actors(self) -> dict[str, Actor]:
        return {
            "front_desk": self.front_desk,
            "therapist": self.therapist,
            "supervisor": self.supervisor,
            "billing": self.billing,
            "admin": self.admin,
        }


def build_world(db: Database) -> World:
    import hashlib

    from iopdesk.models import Note, Staff, TherapistAssignment
    from iopdesk.services import auth, clients
    from iopdesk.services.clinic import setup_clinic

    admin = setup_clinic(db, "Test Clinic", "admin", PASSWORD, "Ada Admin")
    with db.session() as s:
        t = Staff(staff_code="T1", first_name="Theo", last_name="Rapist", credentials="LPC")
        t2 = Staff(staff_code="T2", first_name="Other", last_name="Therapist", credentials="LCSW")
        sup = Staff(staff_code="S1", first_name="Sue", last_name="Pervisor", credentials="LCSW")
        s.add_all([t, t2, sup])
        s.flush()
        t_id, t2_id, sup_id = t.id, t2.id, sup.id
    fd = auth.add_user(db, admin, "frontdesk", PASSWORD, "front_desk", "Frank Desk")
    th = auth.add_user(db, admin, "therapist", PASSWORD, "therapist", "Theo Rapist", t_id)
    sp = auth.add_user(db, admin, "supervisor", PASSWORD, "supervisor,therapist", "Sue", sup_id)
    bl = auth.add_user(db, admin, "billing", PASSWORD, "billing", "Bill Ing")
    own = clients.create_client(
        db,
        admin,
        clients.ClientInput("Canary", "Ownclient", date(1990, 1, 2), diagnoses=["F10.20"]),
    )
    other = clients.create_client(
        db, admin, clients.ClientInput("Olga", "Otherclient", date(1985, 5, 6))
    )
    assert own.id is not None and other.id is not None
    note_ids = []
    with db.session() as s:
        s.add(TherapistAssignment(client_id=own.id, staff_id=t_id, start_date=date(2026, 1, 1)))
        s.add(TherapistAssignment(client_id=other.id, staff_id=t2_id, start_date=date(2026, 1, 1)))
        for cid, author in ((own.id, t_id), (other.id, t2_id)):
            content = json.dumps({"Data": "SECRET-NOTE-TEXT", "Assessment": "a", "Plan": "p"})
            n = Note(
                client_id=cid,
                author_staff_id=author,
                format="DAP",
                service_date=date(2026, 11, 2),
                content_json=content,
                status="signed",
                content_sha256=hashlib.sha256(content.encode()).hexdigest(),
            )
            s.add(n)
            s.flush()
            note_ids.append(n.id)

    def actor(info: auth.UserInfo) -> Actor:
        return Actor(info.id, info.username, info.display_name, info.roles, info.staff_id)

    return World(
        admin,
        actor(fd),
        actor(th),
        actor(sp),
        actor(bl),
        own.id,
        other.id,
        note_ids[0],
        note_ids[1],
    )


_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    from tests.pgharness import PostgresServer, find_pg_bin

    if find_pg_bin() is None:
        if REQUIRE_PG:
            pytest.fail("PostgreSQL binaries (initdb, pg_ctl) not found, and CI requires them.")
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found on this machine")
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, World]:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database.open(DbTarget(path=path), create=True, key=TEST_KEY)
    world = build_world(db)
    db.close()
    return path, world


@pytest.fixture(scope="session")
def pg_template(pg_server: object) -> tuple[str, World]:
    server = pg_server
    server.create_database("iopdesk_template")  # type: ignore[attr-defined]
    db = Database.open(DbTarget(url=server.url("iopdesk_template")))  # type: ignore[attr-defined]
    world = build_world(db)
    db.close()
    return "iopdesk_template", world


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sqlite_only: run on the encrypted SQLite file only (GUI behaviour, SQLite files); "
        "the services underneath are tested on both backends elsewhere",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `sqlite_only` lose their PostgreSQL half (one marker instead of a
    `backend` fixture copied into each file)."""
    keep, drop = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        on_pg = params is not None and params.params.get("backend") == "postgresql"
        (drop if on_pg and item.get_closest_marker("sqlite_only") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@dataclass
class Env:
    db: Database
    world: World
    backend: str
    reopen_target: DbTarget


@pytest.fixture
def env(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    """A fresh, migrated database holding the small clinic of build_world()."""
    if backend == "sqlite":
        template, world = request.getfixturevalue("sqlite_template")
        path = tmp_path / "iopdesk.db"
        shutil.copyfile(template, path)
        shutil.copyfile(str(template) + ".keyinfo", str(path) + ".keyinfo")
        target = DbTarget(path=path)
        db = Database.open(target, key=TEST_KEY)
    else:
        template, world = request.getfixturevalue("pg_template")
        server = request.getfixturevalue("pg_server")
        name = f"t{os.getpid()}_{next(_counter)}"
        server.create_database(name, template=template)
        target = DbTarget(url=server.url(name))
        db = Database.open(target)
    yield Env(db, world, backend, target)
    _let_background_ops_finish()
    db.close()
    if backend != "sqlite":
        server.drop_database(name)


def _let_background_ops_finish() -> None:
    """A screen's background operation must not outlive the test's database."""
    import sys

    if "iopdesk.ui.ops" in sys.modules:
        from iopdesk.ui import ops

        ops.wait_all(60_000)


@pytest.fixture
def db(env: Env) -> Database:
    return env.db


@pytest.fixture
def world(env: Env) -> World:
    return env.world
