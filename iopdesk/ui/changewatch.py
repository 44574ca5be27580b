"""Keeps the main window current when another workstation changes data, and shows a banner
while the clinic server cannot be reached (the page and whatever was typed stay as they are)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication, QLabel

from iopdesk.services.changes import ChangeListener, PollResult

if TYPE_CHECKING:
    from iopdesk.ui.mainwindow import MainWindow

log = logging.getLogger(__name__)

# Pages that only display lists: reloading them cannot throw away anything typed.
AUTO_REFRESH = frozenset({"Today", "Clients", "Caseloads", "Reports", "Billing"})
POLL_MS_POSTGRES = 1500
POLL_MS_SQLITE = 5000


class ChangeWatch(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.listener = ChangeListener(window.ctx.db)
        self.banner = QLabel("")
        self.banner.setObjectName("connectionBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(
            "background: #fdecea; color: #8b1a1a; border-bottom: 1px solid #f5c2c0; "
            "padding: 8px 24px; font-weight: 600;"
        )
        self.banner.hide()
        self.refreshed = 0  # how many times a change elsewhere reloaded the page (tests)
        self.pending = False  # a change arrived while the page could not be reloaded
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS_POSTGRES if self.listener.postgres else POLL_MS_SQLITE)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> PollResult:
        try:
            result = self.listener.poll(0.0)
        except Exception as exc:  # never let the watcher take the window down
            log.error("change watch: unexpected %s", type(exc).__name__)
            return PollResult(connected=False)
        was_lost = not self.banner.isHidden()
        if not result.connected:
            self.banner.setText(result.message)
            self.banner.show()
            return result
        if was_lost:
            self.banner.hide()
        elsewhere = [c for c in result.changes if c.from_elsewhere]
        if elsewhere or was_lost:  # after an outage, changes may have been missed
            self.pending = True
        if self.pending:
            self._reload()
        return result

    def _reload(self) -> None:
        w = self.window
        if w.locked or QApplication.activeModalWidget() is not None:
            return  # try again on the next tick
        current = w.stack.currentWidget()
        name = next((n for n, p in w.pages.built().items() if p is current), "")
        self.pending = False
        if name in AUTO_REFRESH:
            w.refresh_current()
            self.refreshed += 1
        else:
            w.statusBar().showMessage(
                "Data was changed on another workstation. Press F5 to see the latest.", 15000
            )

    def stop(self) -> None:
        self.timer.stop()
        self.listener.close()
