"""The op runner: service calls off the GUI thread, one failure policy, changes announced."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from iopdesk.errors import StaleRecordError, UserError
from iopdesk.services import clients
from iopdesk.ui import msgbox, ops
from tests.conftest import Env
from tests.helpers import finish

pytestmark = pytest.mark.gui


def test_op_runs_off_the_gui_thread_and_delivers_on_it(qtbot) -> None:
    gui = threading.get_ident()
    seen: dict[str, int] = {}

    def work() -> int:
        seen["worker"] = threading.get_ident()
        return 42

    def done(value: int) -> None:
        seen["delivered"] = threading.get_ident()
        seen["value"] = value

    op = ops.Op(None, work).success(done).run_in_background()
    assert finish(op) == 42
    assert seen["worker"] != gui
    assert seen["delivered"] == gui
    assert seen["value"] == 42


def test_gui_thread_keeps_running_while_an_op_works(qtbot) -> None:
    """A heartbeat timer keeps ticking while a 0.5 s service call runs."""
    from PySide6.QtCore import QTimer

    beats: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: beats.append(time.monotonic()))
    timer.start()
    op = ops.run(None, lambda: time.sleep(0.5))
    finish(op)
    timer.stop()
    assert len(beats) >= 5  # a frozen GUI thread would not have ticked at all


def test_user_error_is_shown_in_its_own_words(qtbot) -> None:
    def work() -> None:
        raise UserError("The end date is before the start date.")

    op = ops.run(None, work)
    finish(op)
    assert isinstance(op.error, UserError)
    assert msgbox.shown[-1].text == "The end date is before the start date."


def test_stale_record_reloads_after_saying_so(qtbot) -> None:
    reloaded: list[bool] = []

    def work() -> None:
        raise StaleRecordError("This client")

    finish(ops.run(None, work, reload=lambda: reloaded.append(True)))
    assert "changed on another workstation" in msgbox.shown[-1].text
    assert reloaded == [True]


def test_unexpected_error_is_one_line_and_the_log_has_no_values(qtbot, caplog) -> None:
    secret = "Martinez-555-0199"

    def work() -> None:
        raise RuntimeError(f"boom for {secret}")

    with caplog.at_level(logging.ERROR, logger="iopdesk.ui.ops"):
        finish(ops.run(None, work))
    box = msgbox.shown[-1]
    assert box.title == "Something went wrong"
    assert "RuntimeError" in box.text and secret not in box.text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged and "work" in logged  # type and where
    assert secret not in logged  # never the exception text


def test_a_quick_step_on_the_gui_thread_follows_the_same_policy(qtbot, caplog) -> None:
    """ops.attempt (dialogs, quick clicks): the same three outcomes as an op, one policy."""
    reloaded: list[bool] = []

    def fail(exc: Exception) -> None:
        raise exc

    assert ops.attempt(None, lambda: None) is True
    assert not ops.attempt(None, lambda: fail(UserError("Pick a track first.")), reloaded.clear)
    assert msgbox.shown[-1].text == "Pick a track first." and reloaded == []  # no reload
    stale = StaleRecordError("This plan")
    assert not ops.attempt(None, lambda: fail(stale), lambda: reloaded.append(True))
    assert "changed on another workstation" in msgbox.shown[-1].text and reloaded == [True]
    secret = "Martinez-555-0199"
    with caplog.at_level(logging.ERROR, logger="iopdesk.ui.ops"):
        assert not ops.attempt(None, lambda: fail(KeyError(secret)))
    assert msgbox.shown[-1].title == "Something went wrong"
    assert secret not in msgbox.shown[-1].text
    assert secret not in "\n".join(r.getMessage() for r in caplog.records)


def test_progress_and_cancel(qtbot) -> None:
    steps: list[int] = []
    release = threading.Event()

    def work(ctl: ops.OpControl) -> int:
        done = 0
        for i in range(1000):
            ctl.progress(i, 1000, f"step {i}")
            steps.append(i)
            if i == 3:
                release.wait(5)
            ctl.check()
            done = i
        return done

    op = ops.Op(None, work).with_progress("Working...", cancellable=True).run_in_background()
    qtbot.waitUntil(lambda: len(steps) >= 4, timeout=5000)
    op.cancel()
    release.set()
    finish(op)
    assert isinstance(op.error, ops.OpCancelled)
    assert len(steps) < 1000
    assert msgbox.shown == []  # cancelling is not an error


def test_changes_are_collected_and_announced(qtbot, env: Env) -> None:
    got: list[ops.OpChanges] = []
    ops.bus().changed.connect(got.append)
    try:
        chart = clients.open_chart(env.db, env.world.admin, env.world.client_own).client
        finish(
            ops.run(
                None,
                lambda: clients.update_client(
                    env.db, env.world.admin, env.world.client_own, chart.version, {"city": "Elyria"}
                ),
            )
        )
        assert got and "client" in got[-1].tables
        assert "audit_event" not in got[-1].tables
        got.clear()
        finish(ops.run(None, lambda: clients.list_census(env.db, env.world.admin)))
        assert got == []  # a read announces nothing
    finally:
        ops.bus().changed.disconnect(got.append)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_reads_do_not_wait_for_a_writer(env: Env) -> None:
    """A read runs while another connection holds the write lock (no 15 s freeze)."""
    holding = threading.Event()
    finished = threading.Event()

    def writer() -> None:
        with env.db.session() as s:
            s.execute(text("UPDATE clinic SET name = name"))
            holding.set()
            finished.wait(10)

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert holding.wait(5)
        started = time.monotonic()
        with env.db.read() as s:
            assert s.execute(text("SELECT count(*) FROM client")).scalar() == 2
        waited = time.monotonic() - started
        still_locked = not finished.is_set() and t.is_alive()
    finally:
        finished.set()
        t.join()
    assert still_locked  # the read finished while the writer still held the lock
    assert waited < 10


@pytest.mark.parametrize("backend", ["postgresql"])
def test_read_unit_refuses_writes(env: Env) -> None:
    from iopdesk.errors import UserError as _UE

    with pytest.raises(Exception) as info, env.db.read() as s:
        s.execute(text("UPDATE clinic SET name = 'x'"))
    assert not isinstance(info.value, _UE) or "read" in str(info.value).lower()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_own_saves_do_not_raise_the_other_workstation_notice(qtbot, env: Env) -> None:
    from iopdesk.services import changes as changes_service
    from iopdesk.services.clinic import get_clinic
    from iopdesk.ui.context import AppContext
    from iopdesk.ui.mainwindow import MainWindow

    window = MainWindow(AppContext(env.db, env.world.admin, get_clinic(env.db)))
    qtbot.addWidget(window)
    window.change_watch.timer.stop()
    window.go("Admin")  # a page that is only told, never reloaded
    finish_all()
    window.change_watch.check()
    chart = clients.open_chart(env.db, env.world.admin, env.world.client_own).client
    clients.update_client(
        env.db, env.world.admin, env.world.client_own, chart.version, {"city": "Elyria"}
    )
    result = window.change_watch.check()
    assert result.changes and not any(c.from_elsewhere for c in result.changes)
    assert "another workstation" not in window.statusBar().currentMessage()
    # A write by another process (the command line) is still news.
    import subprocess
    import sys

    script = (
        "import sys; from tests.conftest import TEST_KEY; from iopdesk.db import Database,"
        " DbTarget; from pathlib import Path; from iopdesk.services import clients;"
        " from tests.conftest import build_world;"
        f" db = Database.open(DbTarget(path=Path({str(env.db.path)!r})), key=TEST_KEY);"
        " from iopdesk.services.auth import login;"
        " a = login(db, 'admin', 'correct-horse-battery');"
        f" c = clients.open_chart(db, a, {env.world.client_own}).client;"
        f" clients.update_client(db, a, {env.world.client_own}, c.version, {{'city': 'Lorain'}})"
    )
    subprocess.run(
        [sys.executable, "-c", script], check=True, cwd=Path(__file__).parent.parent, timeout=120
    )
    result = window.change_watch.check()
    assert any(c.from_elsewhere for c in result.changes)
    assert "another workstation" in window.statusBar().currentMessage()
    assert changes_service.ORIGIN  # this process's own marker exists
    window._closing_for_sign_out = False
    window.close()


def finish_all() -> None:
    assert ops.wait_all(60_000)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_list_page_refreshes_only_when_what_it_shows_changed(qtbot, env: Env) -> None:
    from iopdesk.services.clinic import get_clinic
    from iopdesk.ui.context import AppContext
    from iopdesk.ui.mainwindow import MainWindow

    window = MainWindow(AppContext(env.db, env.world.admin, get_clinic(env.db)))
    qtbot.addWidget(window)
    window.change_watch.timer.stop()
    window.go("Clients")
    finish_all()
    page = window.pages["Clients"]
    calls: list[int] = []
    original = page.refresh
    page.refresh = lambda: (calls.append(1), original())[1]  # type: ignore[method-assign]
    ops.bus().changed.emit(ops.OpChanges(frozenset({"notetemplate"}), None))
    assert calls == []  # the census does not show note templates
    ops.bus().changed.emit(ops.OpChanges(frozenset({"client"}), None))
    assert calls == [1]
    ops.bus().changed.emit(ops.OpChanges(frozenset({"client"}), page))
    assert calls == [1]  # the page's own operation: it refreshes itself
    window._closing_for_sign_out = False
    window.close()


def test_a_worker_asks_the_gui_thread_and_waits_for_the_answer(qtbot) -> None:
    asked_on: list[bool] = []

    def question() -> str:
        asked_on.append(threading.current_thread() is threading.main_thread())
        return "the passphrase"

    def refuse() -> str:
        raise UserError("Cancelled.")

    def work() -> tuple[str, str]:
        answer = ops.ask_on_gui(question)
        try:
            ops.ask_on_gui(refuse)
        except UserError as exc:
            return answer, exc.message
        return answer, ""

    op = ops.Op(None, work)
    op.run_in_background()
    assert finish(op) == ("the passphrase", "Cancelled.")
    assert asked_on == [True]  # the dialog would be shown on the GUI thread


def test_every_done_callback_runs_in_order(qtbot) -> None:
    seen: list[str] = []
    op = ops.Op(None, lambda: 1).on_done(lambda: seen.append("first"))
    op.on_done(lambda: seen.append("second"))
    op.run_in_background()
    finish(op)
    assert seen == ["first", "second"]
