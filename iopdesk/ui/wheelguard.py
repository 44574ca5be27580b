"""Scrolling a page never changes a field (issue 19 item 6).

One application-wide event filter: a mouse-wheel event over a spin box, combo box, date/time
box or slider that does not have keyboard focus is not given to that field; the page (its
scroll area) scrolls instead. A field the user clicked into (focused) still takes the wheel.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QComboBox, QSlider, QWidget

GUARDED = (QAbstractSpinBox, QComboBox, QSlider)  # not scroll bars: they are for scrolling


def _guarded_field(obj: QObject) -> QWidget | None:
    """The guarded field `obj` is (or is inside, e.g. a spin box's line edit)."""
    widget = obj if isinstance(obj, QWidget) else None
    while widget is not None:
        if isinstance(widget, GUARDED) and not isinstance(widget.parentWidget(), QComboBox):
            return widget
        if widget.isWindow():
            return None
        widget = widget.parentWidget()
    return None


def _focused(field: QWidget) -> bool:
    """The field is the one the user is working in (its window's focus widget)."""
    current = field.window().focusWidget()
    return field.hasFocus() or (
        current is not None and (current is field or field.isAncestorOf(current))
    )


class WheelGuard(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Polish and isinstance(watched, GUARDED):
            _no_wheel_focus(watched)
            return False
        if event.type() != QEvent.Type.Wheel:
            return False
        field = _guarded_field(watched)
        if field is None or _focused(field):
            return False
        # Hand the wheel to the nearest ancestor that is not a guarded field (the page scrolls).
        parent = field.parentWidget()
        while parent is not None and _guarded_field(parent) is not None:
            parent = parent.parentWidget()
        if parent is not None:
            QCoreApplication.sendEvent(parent, event)
        return True


_guard: WheelGuard | None = None


def install(app: QApplication | QCoreApplication | None = None) -> WheelGuard:
    """Install the guard once per application (idempotent)."""
    global _guard
    target = app or QApplication.instance()
    if _guard is None:
        _guard = WheelGuard()
    if target is not None:
        target.removeEventFilter(_guard)
        target.installEventFilter(_guard)
    return _guard


def _no_wheel_focus(widget: QWidget) -> None:
    """Wheel focus would focus the field on the first wheel turn: clicking or Tab only."""
    if widget.focusPolicy() == Qt.FocusPolicy.WheelFocus:
        widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
