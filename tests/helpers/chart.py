"""Driving the client chart in GUI tests: it opens on a worker and each tab reads its section
the first time it is shown."""

from __future__ import annotations

from typing import Any


def show_tab(chart: Any, tab: Any) -> None:
    """Click the chart's tab for `tab` (a tab page widget or its title), as the user would,
    and let its section arrive."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from tests.helpers import settle

    settle()  # the chart itself first
    tabs = chart.tabs
    index = (
        next(i for i in range(tabs.count()) if tabs.tabText(i) == tab)
        if isinstance(tab, str)
        else tabs.indexOf(tab)
    )
    assert index >= 0, f"the chart has no tab {tab!r}"
    bar = tabs.tabBar()
    if not bar.isVisible():
        tabs.setCurrentIndex(index)  # a chart page that is not on screen
    else:
        QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
    assert tabs.currentIndex() == index
    settle()
