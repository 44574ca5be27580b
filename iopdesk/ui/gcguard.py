"""Python's cyclic garbage collector, run on the GUI thread only (and the GIL handed over
sooner, see SWITCH_INTERVAL_S).

Automatic collection runs on whichever thread happens to allocate, which with the op runner is
often a worker. Two things go wrong then:

- a full collection of a large heap holds the GIL for a few hundred milliseconds, and the
  window cannot paint meanwhile (measured: the 10,000-row import stalled 300-500 ms in
  collections started by the worker; with this guard the longest stall is under 50 ms);
- collected cycles that hold Qt wrappers have their C++ objects destroyed on the worker,
  which Qt does not allow (an occasional segmentation fault).

So a timer on the GUI thread collects instead (as pyqtgraph's GarbageCollector does): the
young generations whenever they are due, a full collection only when no background operation
has run for a moment, so a long export or import is never interrupted by one. Automatic
collection stays on as a backstop with thresholds far above the timer's (code that runs
without an event loop, such as a test calling services, still has its cycles collected), so
it almost never starts on a worker.
"""

from __future__ import annotations

import gc
import sys

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

INTERVAL_MS = 100
MIDDLE_EVERY = 3  # a middle-aged collection after 3 young ones (Python's default: 10)
FULL_FACTOR = 10  # a full collection after 10x the usual number of middle-aged ones...
QUIET_S = 2.0  # ...and only 2 s after the last background operation ended
BACKSTOP = (50_000, 1000, 1000)  # automatic collection: rare, for when no event loop runs
# How long a worker thread may keep the GIL while the GUI thread waits for it (Python's default
# is 5 ms). A worker that reads rows releases and retakes the GIL around each short C call,
# and each time that restarts the GUI thread's wait (CPython's "convoy effect"): measured with
# openpyxl reading a 10,000-row sheet on a thread, the GUI thread's longest wait was 68-147 ms
# at 5 ms and 10-14 ms at 1 ms.
SWITCH_INTERVAL_S = 0.001

_guard: GuiCollector | None = None


class GuiCollector(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.switch_interval = sys.getswitchinterval()
        self._quiet_from = 0.0
        gc.set_threshold(*BACKSTOP)
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self.timer = QTimer(self)
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> None:
        import time

        from iopdesk.ui import ops

        now = time.monotonic()
        if ops.running():
            self._quiet_from = now + QUIET_S
        t0, t1, t2 = self.thresholds
        c0, c1, c2 = gc.get_count()
        if now >= self._quiet_from and c2 > t2 * FULL_FACTOR and c1 > t1:
            gc.collect(2)  # the whole heap: only when no op has run for a moment
        elif c1 >= MIDDLE_EVERY:
            # The survivors of the last few young collections, a bounded amount each time:
            # left to pile up while an op runs, they made one collection of 300 ms after it.
            gc.collect(1)
        elif c0 > t0:
            gc.collect(0)

    def stop(self) -> None:
        self.timer.stop()
        gc.set_threshold(*self.thresholds)
        sys.setswitchinterval(self.switch_interval)


def install() -> GuiCollector | None:
    """Start collecting on the GUI thread (once per application); None without one."""
    global _guard
    app = QApplication.instance()
    if app is None:
        return None
    if _guard is None:
        _guard = GuiCollector(app)
        app.aboutToQuit.connect(_guard.stop)
    return _guard
