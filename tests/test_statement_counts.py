"""SQL statements per screen action, counted on the demo clinic (issue 18: at most 15 each).

Every statement is a round trip to a clinic server over the network, so these counts are what
keeps the census, a chart and Today fast there. The screens are driven as the user drives
them (the census read, a chart opened, each of its tabs clicked, Today read), on the encrypted
SQLite file and on PostgreSQL, and every statement they send is counted
(tests.helpers.count_statements).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import select

from iopdesk.db import Database, DbTarget
from iopdesk.models import User
from iopdesk.services.actor import Actor
from iopdesk.services.auth import actor_for
from tests.helpers import count_statements, ctx_for, settle
from tests.helpers.chart import show_tab

LIMIT = 15  # statements per action (issue 18)


class Demo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def actor(self, username: str) -> Actor:
        with self.db.session() as s:
            return actor_for(s.exec(select(User).where(User.username == username)).one())

    def biggest_client(self, staff_id: int | None = None) -> int:
        """The client with the most attendance rows (of this therapist's caseload)."""
        mine = (
            "JOIN therapistassignment t ON t.client_id = a.client_id AND t.staff_id = :sid "
            "AND t.voided_at IS NULL"
            if staff_id is not None
            else ""
        )
        with self.db.read() as s:
            return int(
                s.execute(
                    text(
                        f"SELECT a.client_id FROM attendance a {mine} "
                        "GROUP BY a.client_id ORDER BY count(*) DESC, a.client_id LIMIT 1"
                    ),
                    {"sid": staff_id},
                ).scalar_one()
            )


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Demo]:
    from iopdesk.demo import create_demo_clinic

    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("counts") / "demo.db"
        db = Database.open(DbTarget(path=Path(path)), create=True, key=os.urandom(32))
        name = None
    else:
        server = request.getfixturevalue("pg_server")
        name = f"counts_{os.getpid()}"
        server.create_database(name)
        db = Database.open(DbTarget(url=server.url(name)))
    create_demo_clinic(db)
    yield Demo(db)
    settle()
    db.close()
    if name is not None:
        request.getfixturevalue("pg_server").drop_database(name)


class _Env:
    def __init__(self, db: Database) -> None:
        self.db = db


def _counted(demo: Demo, action: Any) -> list[str]:
    settle()
    with count_statements(demo.db) as seen:
        action()
        settle()
    return list(seen)


def _check(label: str, seen: list[str]) -> None:
    assert len(seen) <= LIMIT, f"{label}: {len(seen)} statements (at most {LIMIT}):\n" + "\n".join(
        " ".join(s.split())[:120] for s in seen
    )


@pytest.mark.parametrize("username", ["admin", "frontdesk"])
def test_census_load(qtbot: Any, demo: Demo, username: str) -> None:
    from iopdesk.ui.pages.clients import ClientsPage

    page = ClientsPage(ctx_for(_Env(demo.db), demo.actor(username)))
    qtbot.addWidget(page)
    # the first read: the census and the filter lists
    seen = _counted(demo, page.refresh)
    assert page.model.rowCount() > 20
    _check("census load", seen)
    seen = _counted(demo, page.refresh)
    _check("census reload", seen)


def test_census_search_keystroke_reads_nothing(qtbot: Any, demo: Demo) -> None:
    from iopdesk.ui.pages.clients import ClientsPage

    page = ClientsPage(ctx_for(_Env(demo.db), demo.actor("admin")))
    qtbot.addWidget(page)
    page.show()
    page.refresh()
    settle()
    everyone = page.model.rowCount()
    name = page.model.rows[0].last_name
    with count_statements(demo.db) as seen:
        qtbot.keyClicks(page.search, name[:4])
        qtbot.waitUntil(lambda: 0 < page.model.rowCount() < everyone)
        settle()
    assert seen == []  # typing filters the census already read (on a worker)


@pytest.mark.parametrize("username", ["admin", "therapist", "frontdesk", "billing"])
def test_today(qtbot: Any, demo: Demo, username: str) -> None:
    from iopdesk.ui.pages.today import TodayPage

    page = TodayPage(ctx_for(_Env(demo.db), demo.actor(username)))
    qtbot.addWidget(page)
    seen = _counted(demo, page.refresh)
    assert page.active.value.text() not in ("", "-")  # filled
    _check(f"Today ({username})", seen)


@pytest.mark.parametrize(
    "username,own", [("admin", False), ("therapist", True), ("frontdesk", False)]
)
def test_chart_open_and_each_tab(qtbot: Any, demo: Demo, username: str, own: bool) -> None:
    from iopdesk.services import audit
    from iopdesk.ui.pages.clients import ChartPage

    actor = demo.actor(username)
    client_id = demo.biggest_client(actor.staff_id if own else None)
    chart = ChartPage(ctx_for(_Env(demo.db), actor))
    qtbot.addWidget(chart)
    chart.resize(1366, 768)
    chart.show()
    opened = audit.count_events(demo.db)
    seen = _counted(demo, lambda: chart.load(client_id))
    assert chart.client_id == client_id and chart.name.text()
    assert audit.count_events(demo.db) == opened + 1  # the open is audited, as before
    _check(f"chart open ({username})", seen)
    for index in range(1, chart.tabs.count()):
        title = chart.tabs.tabText(index)
        if not chart.tabs.isTabEnabled(index) or not chart.tabs.widget(index).isEnabled():
            continue
        seen = _counted(demo, lambda t=title: show_tab(chart, t))
        if title == "Attendance" and chart.hours_tab.model.rowCount():
            # the history and its latest week explained came in the same read
            assert chart.hours_tab.explain.text().startswith("Week ")
        _check(f"chart tab {title} ({username})", seen)
