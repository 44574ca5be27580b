"""The chart's Audit tab: who opened or changed this client's records (admins only)."""

from __future__ import annotations

import pytest
from sqlmodel import col, func, select

from iopdesk.models import AuditEvent
from iopdesk.services import clinic
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.clients import ChartPage
from tests.helpers import settle
from tests.helpers.chart import show_tab

pytestmark = [pytest.mark.gui, pytest.mark.sqlite_only]


def _views(env) -> int:
    with env.db.session() as s:
        return s.exec(select(func.count()).where(col(AuditEvent.action) == "audit_view")).one()


def test_chart_audit_tab_lists_this_clients_events(qtbot, env) -> None:
    w = env.world
    chart = ChartPage(AppContext(env.db, w.admin, clinic.get_clinic(env.db)))
    qtbot.addWidget(chart)
    chart.load(w.client_own)
    settle()
    assert chart.audit_tab is not None
    assert _views(env) == 0  # not read until the tab is shown
    chart.tabs.setCurrentWidget(chart.audit_tab)
    settle()
    rows = chart.audit_tab.model.rows
    assert rows and {r.client_id for r in rows} == {w.client_own}
    assert ("open_chart", "admin") in {(r.action, r.username) for r in rows}
    assert [r.id for r in rows] == sorted((r.id for r in rows), reverse=True)
    assert _views(env) == 1  # looking at the audit trail is itself audited
    chart.load(w.client_other)  # another chart while the tab is showing: re-read for it
    settle()
    assert {r.client_id for r in chart.audit_tab.model.rows} == set()  # none of the last one's
    show_tab(chart, chart.audit_tab)
    assert {r.client_id for r in chart.audit_tab.model.rows} == {w.client_other}


def test_chart_audit_tab_is_for_admins_only(qtbot, env) -> None:
    for actor in (env.world.therapist, env.world.front_desk, env.world.billing):
        chart = ChartPage(AppContext(env.db, actor, clinic.get_clinic(env.db)))
        qtbot.addWidget(chart)
        assert chart.audit_tab is None
