"""Several workstations on one PostgreSQL clinic server, as separate processes: no lost update,
the loser of a race is told "changed on another workstation", a change made on one workstation
reaches the others' screens (LISTEN/NOTIFY; polling on SQLite), and a lost server connection is
reported and recovered from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from iopdesk.db import Database, DbTarget
from iopdesk.services import changes, clients
from tests.conftest import PASSWORD, TEST_KEY, Env
from tests.helpers import settle

REPO = Path(__file__).resolve().parents[1]

# A workstation: its own process, engine and sign-in. Reads commands from stdin, one per line,
# and answers with one JSON line each.
WORKER = r"""
import json, sys
from pathlib import Path
from iopdesk.db import Database, DbTarget
from iopdesk.errors import StaleRecordError
from iopdesk.services import attendance, auth, clients

target, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
db = Database.open(DbTarget(url=target) if "://" in target else DbTarget(path=Path(target)),
                   key=bytes.fromhex(sys.argv[4]) if len(sys.argv) > 4 else None)
actor = auth.login(db, user, password)
held = {}
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    op, cid = cmd["op"], cmd["client"]
    if op == "load":
        held[cid] = clients.open_chart(db, actor, cid).client.version
        print(json.dumps({"version": held[cid]}), flush=True)
    elif op == "save":
        try:
            c = clients.update_client(
                db, actor, cid, held[cid], cmd.get("changes") or {"city": cmd.get("city")}
            )
            print(json.dumps({"saved": c.version}), flush=True)
        except StaleRecordError as exc:
            print(json.dumps({"stale": exc.message}), flush=True)
    elif op == "append":  # read-modify-write with reload on conflict, n times
        stale = 0
        for i in range(cmd["n"]):
            while True:
                chart = clients.open_chart(db, actor, cid).client
                new = (chart.referral_source + " " + f"{cmd['tag']}{i}").strip()
                try:
                    clients.update_client(db, actor, cid, chart.version, {"referral_source": new})
                    break
                except StaleRecordError:
                    stale += 1
        print(json.dumps({"done": cmd["n"], "stale": stale}), flush=True)
    elif op == "sheet_load":
        sheet = attendance.sign_in_sheet(db, actor, cmd["session"])
        held[("s", cmd["session"])] = sheet.session_version
        print(json.dumps({"version": sheet.session_version}), flush=True)
    elif op == "sheet_save":
        entry = attendance.AttendanceEntry(cid, cmd["status"], cmd.get("minutes"))
        try:
            saved = attendance.record_attendance(
                db, actor, cmd["session"], held[("s", cmd["session"])], [entry]
            )
            print(json.dumps({"saved": saved.session_version}), flush=True)
        except StaleRecordError as exc:
            print(json.dumps({"stale": exc.message}), flush=True)
    elif op == "quit":
        break
db.close()
"""


class Workstation:
    def __init__(self, env: Env, user: str = "admin") -> None:
        args = [sys.executable, "-c", WORKER, _target(env), user, PASSWORD]
        if env.backend == "sqlite":
            args.append(TEST_KEY.hex())
        pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": pythonpath},
        )
        assert self.ask_raw() == {"ready": True}

    def ask_raw(self) -> dict[str, object]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "the workstation process died"
        return dict(json.loads(line))

    def send(self, **cmd: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def ask(self, **cmd: object) -> dict[str, object]:
        self.send(**cmd)
        return self.ask_raw()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.send(op="quit", client=0)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _target(env: Env) -> str:
    t = env.reopen_target
    return t.url if t.url is not None else str(t.path)


@pytest.fixture
def two(env: Env) -> Iterator[tuple[Workstation, Workstation]]:
    a, b = Workstation(env), Workstation(env, "frontdesk")
    try:
        yield a, b
    finally:
        a.close()
        b.close()


@pytest.mark.pg
@pytest.mark.parametrize("backend", ["postgresql"])
def test_loser_of_a_race_is_told_and_nothing_is_overwritten(
    env: Env, two: tuple[Workstation, Workstation]
) -> None:
    a, b = two
    cid = env.world.client_own
    assert a.ask(op="load", client=cid) == b.ask(op="load", client=cid)
    first = a.ask(op="save", client=cid, city="Akron")
    assert "saved" in first
    lost = b.ask(op="save", client=cid, city="Boston")
    assert "changed on another workstation" in str(lost["stale"])
    chart = clients.open_chart(env.db, env.world.admin, cid).client
    assert (chart.city, chart.version) == ("Akron", first["saved"])
    # After reloading, the second workstation's save goes through on top of the first.
    b.ask(op="load", client=cid)
    assert "saved" in b.ask(op="save", client=cid, city="Boston")
    assert clients.open_chart(env.db, env.world.admin, cid).client.city == "Boston"


@pytest.mark.pg
@pytest.mark.parametrize("backend", ["postgresql"])
def test_attendance_race_on_one_sign_in_sheet(
    env: Env, two: tuple[Workstation, Workstation]
) -> None:
    import datetime as dt

    from iopdesk.services import schedule
    from iopdesk.services.attendance import sign_in_sheet

    w = env.world
    assert w.therapist.staff_id is not None
    info = schedule.book_session(
        env.db, w.admin, "individual", w.client_own, w.therapist.staff_id,
        dt.date.today(), dt.time(9, 0), dt.time(10, 0),
    )  # fmt: skip
    a, b = two
    cid = w.client_own
    assert a.ask(op="sheet_load", session=info.id, client=cid) == b.ask(
        op="sheet_load", session=info.id, client=cid
    )
    assert "saved" in a.ask(op="sheet_save", session=info.id, client=cid, status="present")
    lost = b.ask(op="sheet_save", session=info.id, client=cid, status="absent_unexcused")
    assert "sign-in sheet was changed on another workstation" in str(lost["stale"])
    sheet = sign_in_sheet(env.db, w.admin, info.id)
    assert [r.status for r in sheet.rows if r.client_id == cid] == ["present"]


@pytest.mark.pg
@pytest.mark.parametrize("backend", ["postgresql"])
def test_concurrent_read_modify_write_loses_no_update(
    env: Env, two: tuple[Workstation, Workstation]
) -> None:
    a, b = two
    cid = env.world.client_other
    n = 12
    a.send(op="append", client=cid, tag="a", n=n)
    b.send(op="append", client=cid, tag="b", n=n)
    ra, rb = a.ask_raw(), b.ask_raw()
    assert ra["done"] == rb["done"] == n
    tokens = clients.open_chart(env.db, env.world.admin, cid).client.referral_source.split()
    assert sorted(tokens) == sorted([f"a{i}" for i in range(n)] + [f"b{i}" for i in range(n)])
    # Each process's own tokens are in the order it wrote them.
    assert [t for t in tokens if t[0] == "a"] == [f"a{i}" for i in range(n)]


@pytest.mark.pg
@pytest.mark.parametrize("backend", ["postgresql"])
def test_change_on_another_workstation_is_signalled(
    env: Env, two: tuple[Workstation, Workstation]
) -> None:
    listener = changes.ChangeListener(env.db)
    try:
        assert listener.poll(0.0).connected
        a, _b = two
        cid = env.world.client_own
        a.ask(op="load", client=cid)
        a.ask(op="save", client=cid, city="Columbus")
        got = listener.wait(30.0)
        assert got and "client" in got[0].tables and got[0].from_elsewhere
        assert "audit_event" not in got[0].tables  # the payload names tables only
        # A change made in this process is announced too, but marked as ours.
        clients.update_client(
            env.db,
            env.world.admin,
            cid,
            clients.open_chart(env.db, env.world.admin, cid).client.version,
            {"city": "Dayton"},
        )
        mine = listener.poll(5.0).changes
        assert mine and not mine[0].from_elsewhere
    finally:
        listener.close()


@pytest.mark.pg
@pytest.mark.parametrize("backend", ["postgresql"])
def test_lost_connection_is_reported_then_recovered(env: Env, request) -> None:  # type: ignore[no-untyped-def]
    server = request.getfixturevalue("pg_server")
    listener = changes.ChangeListener(env.db)
    try:
        assert listener.poll(0.0).connected
        pid = listener._conn.info.backend_pid
        import psycopg

        with psycopg.connect(server.conninfo(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        lost = listener.poll(0.0)
        assert not lost.connected and "connection" in lost.message
        back = listener.poll(0.0)
        assert back.connected
        a = Workstation(env)
        try:
            a.ask(op="load", client=env.world.client_own)
            a.ask(op="save", client=env.world.client_own, city="Reconnected")
        finally:
            a.close()
        assert listener.wait(30.0)
    finally:
        listener.close()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_polling_fallback(env: Env) -> None:
    listener = changes.ChangeListener(env.db)
    assert listener.poll().changes == []
    other = Database.open(DbTarget(path=env.db.path), key=TEST_KEY)
    try:
        chart = clients.open_chart(other, env.world.admin, env.world.client_own).client
        assert listener.poll().changes == []  # reading a chart is not a change
        clients.update_client(
            other, env.world.admin, env.world.client_own, chart.version, {"city": "Elyria"}
        )
    finally:
        other.close()
    assert listener.poll().changes
    assert listener.poll().changes == []


# -- the window ---------------------------------------------------------------------------


@pytest.mark.gui
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def test_window_refreshes_on_change_and_shows_banner_when_offline(  # type: ignore[no-untyped-def]
    qtbot, env: Env, request
) -> None:
    from iopdesk.services.clinic import get_clinic
    from iopdesk.ui import msgbox
    from iopdesk.ui.context import AppContext
    from iopdesk.ui.mainwindow import MainWindow

    msgbox.NON_BLOCKING = True
    try:
        window = MainWindow(AppContext(env.db, env.world.admin, get_clinic(env.db)))
        qtbot.addWidget(window)
        window.change_watch.timer.stop()  # the test drives the checks
        window.go("Clients")
        page = window.pages["Clients"]
        window.change_watch.check()
        other = Workstation(env)  # another workstation: its own process
        try:
            other.ask(op="load", client=env.world.client_own)
            assert "saved" in other.ask(
                op="save", client=env.world.client_own, changes={"phone": "555-222-3333"}
            )
        finally:
            other.close()
        # Typed text elsewhere on the window is not touched by the refresh.
        window.search.setText("typed but not sent")
        for _ in range(40):
            window.change_watch.check()
            if window.change_watch.refreshed:
                break
            qtbot.wait(250)
        assert window.change_watch.refreshed >= 1
        settle()  # the census re-reads on a worker
        rows = {r.id: r for r in page.model.rows}  # type: ignore[attr-defined]
        assert rows[env.world.client_own].phone == "(555) 222-3333"
        assert window.search.text() == "typed but not sent"
        if env.backend == "postgresql":
            server = request.getfixturevalue("pg_server")
            import psycopg

            pid = window.change_watch.listener._conn.info.backend_pid
            with psycopg.connect(server.conninfo(), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            window.change_watch.check()
            assert not window.change_watch.banner.isHidden()
            assert "connection" in window.change_watch.banner.text()
            assert window.search.text() == "typed but not sent"
            window.change_watch.check()
            assert window.change_watch.banner.isHidden()
        window._closing_for_sign_out = False
        window.close()
    finally:
        msgbox.NON_BLOCKING = False


def test_no_phi_in_the_signal() -> None:
    """Only table names travel in the payload (it is visible to any LISTENer)."""
    change = changes._parse(json.dumps({"t": ["client"], "o": "ws:1"}))
    assert change.tables == frozenset({"client"}) and change.origin == "ws:1"
    assert changes._parse("not json").tables == frozenset({"*"})
