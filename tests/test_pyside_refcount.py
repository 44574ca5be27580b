"""Guard against PySide6 6.12.0's None-refcount bug on CPython 3.11 (docs/architecture.md):
each void-returning call dropped one reference to None until the interpreter aborted."""

import sys

from PySide6.QtWidgets import QLabel


def test_void_calls_do_not_leak_none_references(qtbot):
    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for i in range(1000):
        label.setText(f"row {i}")
    after = sys.getrefcount(None)
    # A healthy binding keeps None's count steady (small noise allowed); 6.12.0 loses 1000.
    assert after >= before - 10, f"None refcount fell by {before - after} over 1000 setText calls"
    assert label.text() == "row 999"
