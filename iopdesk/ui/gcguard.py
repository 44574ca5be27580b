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

A full collection walks every object the app holds: with every page of the large clinic
loaded, 207,000 objects and 143-259 ms, a pause the user would feel at a random quiet moment.
Most of them live as long as the app (modules, classes, the window). So what survives is
frozen (`gc.freeze()`, a constant-time move to a generation no collection walks): once when
the guard starts, then after each full collection, which therefore only walks what was made
since the last one (measured 0.0 ms right after a freeze). The price: a cycle that dies after
it was frozen waits for `release()`, which the main window calls when it signs out or locks
(the lock screen hides the one long collection it does), and which the timer does by itself
when the frozen objects have doubled since the last one.
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
# A full collection walks the frozen objects too (release) once they are this many times what
# survived the last such walk: dead cycles among them can then hold at most that much memory.
REFREEZE_GROWTH = 2

_guard: GuiCollector | None = None


class GuiCollector(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.switch_interval = sys.getswitchinterval()
        self._quiet_from = 0.0
        self._frozen_at_release = 0
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
            if gc.get_freeze_count() > REFREEZE_GROWTH * max(self._frozen_at_release, 100_000):
                self.release()  # bounds what dead cycles can hold between sign-outs
            else:
                gc.collect(2)  # what was made since the last freeze, when no op ran lately
                gc.freeze()
        elif c1 >= MIDDLE_EVERY:
            # The survivors of the last few young collections, a bounded amount each time:
            # left to pile up while an op runs, they made one collection of 300 ms after it.
            gc.collect(1)
        elif c0 > t0:
            gc.collect(0)

    def release(self) -> None:
        """Collect everything, frozen objects too, then freeze what survives (sign-out, lock)."""
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self._frozen_at_release = gc.get_freeze_count()

    def stop(self) -> None:
        gc.unfreeze()
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
        gc.freeze()  # what is loaded by now (the code: modules, classes) lives as long as the app
    return _guard


def release() -> None:
    """Walk the whole heap once (the user is not working: signed out or locked)."""
    if _guard is not None:
        _guard.release()
