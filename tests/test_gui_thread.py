"""No service call on the GUI thread (issue 18): pages load through the op runner.

A listener on the database engine notes every SQL statement sent from the GUI thread and the
service function that sent it (the outermost `iopdesk.services` / `iopdesk.db` frame under the
screen's code). The test signs in as the administrator (every page), clicks through the
sidebar like a user, presses F5 on each page and lets each page react to a change made on
another workstation; then the service functions seen on the GUI thread must all be in ALLOWED,
each measured under 10 ms on the large clinic by `benchmarks/bench_gui_calls.py` (figures in
docs/performance.md).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from sqlalchemy import event

from tests.helpers import boxes, ctx_for, main_window, settle

pytestmark = [pytest.mark.gui]

# Measured under 10 ms on the large clinic (benchmarks/bench_gui_calls.py, which times each
# of these): small reads the main window makes once while it is built, before anything shows.
ALLOWED = frozenset(
    {
        "iopdesk.services.clinic.get_setting",  # the idle-lock interval
        "iopdesk.services.changes.ChangeListener.__init__",  # the newest change seen so far
    }
)

SERVICE_MODULES = ("iopdesk.services.", "iopdesk.db")
SKIP_MODULES = ("iopdesk.services.declare",)  # the @service wrapper: name the body instead


def _service_caller(frame: FrameType | None) -> tuple[str, tuple[str, ...]]:
    """The outermost service function on the stack, and the screen functions (IOPDesk's ui
    code, innermost first) that led to it."""
    found = ""
    screens: list[str] = []
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        where = f"{module}.{frame.f_code.co_qualname}"
        if module.startswith("iopdesk.ui") or module.startswith("tests."):
            if not screens and not found:
                found = f"(SQL straight from {where})"  # a session the screen opened itself
            screens.append(where)
        elif (
            not screens
            and module.startswith(SERVICE_MODULES)
            and not module.startswith(SKIP_MODULES)
        ):
            found = where
        frame = frame.f_back
    return found or "(SQL from outside IOPDesk's code)", tuple(screens)


@contextmanager
def gui_thread_calls(db: Any) -> Iterator[tuple[dict[str, tuple[str, ...]], list[str]]]:
    """Record {service function: the screen functions that called it} for SQL sent from the
    GUI thread, and the statements sent from workers (to show the pages did load, there)."""
    on_gui: dict[str, tuple[str, ...]] = {}
    on_workers: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        if threading.current_thread() is not threading.main_thread():
            on_workers.append(statement)
            return
        caller, screens = _service_caller(sys._getframe(1))
        if screens and screens[0].startswith("tests."):
            caller = f"(the test itself) {caller}"  # setting up, not a screen
        on_gui.setdefault(caller, screens)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield on_gui, on_workers
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def _click_nav(window: Any, row: int) -> None:
    nav = window.nav
    rect = nav.visualItemRect(nav.item(row))
    QTest.mouseClick(nav.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.center()))


def test_the_recorder_sees_a_service_called_on_the_gui_thread(env: Any) -> None:
    """The check can fail: a service called straight from the GUI thread is caught by name."""
    from iopdesk.ui.pages.hours import on_hold_ids

    ctx = ctx_for(env, env.world.admin)
    with gui_thread_calls(env.db) as (on_gui, _workers):
        on_hold_ids(ctx)  # a screen helper that reads the census where it is called
    assert on_gui["iopdesk.services.clients.list_census"][0] == "iopdesk.ui.pages.hours.on_hold_ids"


def test_pages_call_no_service_on_the_gui_thread(qtbot: Any, env: Any) -> None:
    from iopdesk.ui import ops

    with boxes() as shown, gui_thread_calls(env.db) as (on_gui, on_workers):
        window = main_window(qtbot, env, env.world.admin)
        window.resize(1366, 768)
        names = [window.nav.item(i).text() for i in range(window.nav.count())]
        assert names == [
            "Today", "Clients", "Caseloads", "Schedule", "Attendance", "Notes", "Discharge",
            "Billing", "Reports", "Admin",
        ]  # fmt: skip
        for row, name in enumerate(names):
            _click_nav(window, row)
            settle()
            assert window.page_title.text() == window.pages[name].title
            assert window.stack.currentWidget() is window.pages[name]
            QTest.keyClick(window, Qt.Key.Key_F5)  # the user asks for the latest
            settle()
            # another workstation changed everything: the page reloads (or says so)
            ops.bus().changed.emit(ops.OpChanges(frozenset({"*"}), None))
            settle()
            page = window.pages[name]
            tabs = getattr(page, "tabs", None)
            for i in range(tabs.count() if tabs is not None else 0):
                tabs.setCurrentIndex(i)
                settle()
        # the census: type a search, open the first client's chart, click through its tabs
        _click_nav(window, names.index("Clients"))
        settle()
        census = window.pages["Clients"]
        QTest.keyClicks(census.search, "a")
        qtbot.waitUntil(lambda: not census._debounce.isActive())
        settle()
        assert census.model.rowCount() > 0
        table = census.table
        rect = table.visualRect(census.model.index(0, 1))
        QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        QTest.keyClick(table, Qt.Key.Key_Return)  # open the selected client
        qtbot.waitUntil(lambda: window.stack.currentWidget() is window.chart)
        settle()
        chart = window.chart
        assert window.stack.currentWidget() is chart and chart.client_id is not None
        assert chart.name.text()  # the chart was read (on a worker: nothing left on the GUI)
        for i in range(chart.tabs.count()):
            chart.tabs.tabBar().setCurrentIndex(i)
            settle()
        QTest.keyClick(window, Qt.Key.Key_F5)  # the chart reloads
        settle()
        assert not [b for b in shown if b.icon in ("Critical", "Warning")], shown
    assert on_workers, "the pages loaded nothing at all"
    called = {k for k in on_gui if not k.startswith("(the test itself)")}
    assert called <= ALLOWED, "\n".join(f"{k}: {on_gui[k][:4]}" for k in sorted(called - ALLOWED))


def test_admin_page_shows_what_its_worker_loaded(qtbot: Any, env: Any) -> None:
    """The Admin page filled from its background load: users, clinic details and settings."""
    window = main_window(qtbot, env, env.world.admin)
    window.go("Admin")
    settle()
    page = window.pages["Admin"]
    assert {u.username for u in page.users_model.rows} >= {"admin", "frontdesk", "therapist"}
    assert page.clinic_fields["name"].text() == "Test Clinic"
    assert page.db_schema.text().startswith("Schema version: 0")
    assert page.staff_tab.model.rowCount() == 3
    assert page.audit_report.model.rowCount() > 0


def test_every_allowed_call_is_timed_by_the_benchmark(env: Any) -> None:
    """benchmarks/bench_gui_calls.py times every ALLOWED call, and nothing but the KEPT calls
    of the dialog tests besides (those that run while a window is up), and each one runs."""
    from benchmarks.bench_gui_calls import calls
    from tests.test_gui_thread_dialogs_a import KEPT as KEPT_A
    from tests.test_gui_thread_dialogs_b import KEPT as KEPT_B

    timed = calls(env.db, env.world.admin)
    assert set(timed) >= ALLOWED
    assert set(timed) - ALLOWED <= KEPT_A | KEPT_B
    assert "iopdesk.services.drafts.keep" in timed
    assert "iopdesk.services.notes.autosave_note" in timed
    for fn in timed.values():
        fn()
