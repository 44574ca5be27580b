"""The census and the chart read on workers: a slower, older read never replaces a newer one."""

from __future__ import annotations

import threading
from typing import Any

from iopdesk.services import audit, clients
from tests.helpers import ctx_for, settle
from tests.helpers.chart import show_tab


class _SlowFirst(clients.CensusIndex):
    """The census index, whose search for `slow` waits until released (an older keystroke
    whose filtering finishes after the newer one's)."""

    def __init__(self, rows: Any, slow: str) -> None:
        super().__init__(rows)
        self.slow = slow
        self.release = threading.Event()

    def search(self, text: str) -> list[clients.CensusRow]:
        if text == self.slow:
            self.release.wait(10)
        return super().search(text)


def test_an_older_keystroke_never_overwrites_a_newer_one(qtbot: Any, env: Any) -> None:
    from PySide6.QtCore import Qt

    from iopdesk.ui.pages.clients import ClientsPage

    page = ClientsPage(ctx_for(env, env.world.front_desk))
    qtbot.addWidget(page)
    page.show()
    page.refresh()
    settle()
    assert page.model.rowCount() == 2
    slow = _SlowFirst(page._census.rows, "o")
    page._census = slow
    qtbot.keyClicks(page.search, "o")  # matches both clients; its search is held back
    qtbot.waitUntil(lambda: page.searching is not None and not page.searching.done)
    held = page.searching
    qtbot.keyClicks(page.search, "wnc")  # "ownc": only Ownclient
    qtbot.waitUntil(lambda: page.searching is not held and page.searching.done, timeout=3000)
    assert [r.last_name for r in page.model.rows] == ["Ownclient"]
    slow.release.set()  # the older search delivers last ...
    settle()
    assert held.done
    assert [r.last_name for r in page.model.rows] == ["Ownclient"]  # ... and is dropped
    assert page.count.text() == "1 client"
    qtbot.keyClick(page.search, Qt.Key.Key_Backspace)
    qtbot.waitUntil(lambda: page.model.rowCount() == 1 and page.search.text() == "own")
    settle()


def test_opening_another_chart_at_once_shows_only_the_last(qtbot: Any, env: Any) -> None:
    from iopdesk.ui.pages.clients import ChartPage

    w = env.world
    chart = ChartPage(ctx_for(env, w.admin))
    qtbot.addWidget(chart)
    chart.show()
    before = audit.count_events(env.db)
    chart.load(w.client_own)
    chart.load(w.client_other)  # before the first has arrived
    settle()
    assert chart.client_id == w.client_other
    assert chart.name.text().startswith("Otherclient, Olga")
    assert audit.count_events(env.db) == before + 2  # both opens were audited
    show_tab(chart, "Notes")
    assert {h.client_id for h in chart.notes_model.rows} <= {w.client_other}
    # a tab read for the previous chart never lands in the next one
    chart.load(w.client_own)
    settle()
    show_tab(chart, "Notes")
    assert [h.id for h in chart.notes_model.rows] == [w.note_own]


def test_a_clinical_tab_never_shows_the_last_charts_rows(qtbot: Any, env: Any) -> None:
    """A therapist reads their own client's Safety tab, then opens a client off their
    caseload: that tab is covered, not left showing the first client's flags."""
    from PySide6.QtWidgets import QLabel

    from iopdesk.ui.pages.clients import ChartPage

    w = env.world
    chart = ChartPage(ctx_for(env, w.therapist))
    qtbot.addWidget(chart)
    chart.resize(1366, 768)
    chart.show()
    chart.load(w.client_own)
    assert chart.safety_tab is not None
    show_tab(chart, chart.safety_tab)
    cover = chart.findChild(QLabel, "chartTabLoading")
    assert cover is not None and not cover.isVisible()
    chart.load(w.client_other)
    settle()
    assert not chart.safety_tab.isEnabled()
    show_tab(chart, chart.safety_tab)
    assert cover.isVisible() and cover.parent() is chart.safety_tab
    assert cover.geometry() == chart.safety_tab.rect()
    assert "clinicians" in cover.text()
