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
