"""The GUI-thread collector: the GIL handed over sooner, and collections bounded in size."""

from __future__ import annotations

import gc
import sys

import pytest

from iopdesk.ui import gcguard, ops

pytestmark = pytest.mark.gui


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_the_guard_collects_on_the_gui_thread_and_restores_python_on_stop(qtbot) -> None:
    before = (gc.get_threshold(), sys.getswitchinterval())
    guard = gcguard.GuiCollector()
    try:
        assert sys.getswitchinterval() == gcguard.SWITCH_INTERVAL_S
        assert gc.get_threshold() == gcguard.BACKSTOP  # automatic collection is a backstop
        gc.collect()
        for _ in range(5000):
            Cycle()  # garbage only a cyclic collection frees
        assert gc.get_count()[0] > guard.thresholds[0]
        ops.spin(gcguard.INTERVAL_MS * 3)  # the timer collects the young generation
        assert gc.get_count()[0] < guard.thresholds[0]
        assert not [o for o in gc.get_objects() if type(o) is Cycle]
        # The middle generation is collected every few young collections, not left to pile up.
        for _ in range(12):  # Python alone would wait for 10
            for _ in range(2000):
                Cycle()
            ops.spin(gcguard.INTERVAL_MS + 20)
        assert gc.get_count()[1] <= gcguard.MIDDLE_EVERY
    finally:
        guard.stop()
    assert (gc.get_threshold(), sys.getswitchinterval()) == before


def test_what_survives_a_full_collection_is_frozen_and_release_walks_it_again(qtbot) -> None:
    import weakref

    guard = gcguard.GuiCollector()
    try:
        keep = [Cycle() for _ in range(3000)]  # made now: walked until frozen
        watch = weakref.ref(keep[0])
        _t0, t1, t2 = guard.thresholds
        # Make a full collection due, with no op running for a while.
        guard._quiet_from = 0.0
        while gc.get_count()[2] <= t2 * gcguard.FULL_FACTOR:
            gc.collect(1)
        for _ in range(t1 + 1):
            gc.collect(0)
        guard.check()
        # Frozen: no collection walks them any more (gc.get_objects lists what is walked).
        assert gc.get_freeze_count() >= len(keep)
        assert not any(type(o) is Cycle for o in gc.get_objects())
        del keep  # cycles that die after they were frozen...
        gc.collect()
        assert watch() is not None  # ...are not collected by an ordinary full collection...
        guard.release()  # ...but by release (sign-out, lock)
        assert watch() is None
    finally:
        guard.stop()
    assert gc.get_freeze_count() == 0
