"""Loading a page's part (a tab, a panel) the way pages load: the service calls on a worker
thread, the widgets filled on the GUI thread (see `Page.fetch` / `Page.present`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtWidgets import QWidget

from iopdesk.ui import ops

T = TypeVar("T")


def load(widget: QWidget, fetch: Callable[[], T], present: Callable[[T], Any]) -> ops.Op[T]:
    """Run `fetch()` in the background and hand its result to `present` on the GUI thread.

    Only the newest load of a widget is shown: a slower, older one that delivers after it is
    dropped (two workers can finish out of order).
    """
    from iopdesk.ui import gcguard

    gcguard.install()  # garbage is collected on the GUI thread, never by a worker
    generation = int(getattr(widget, "_load_generation", 0)) + 1
    widget._load_generation = generation  # type: ignore[attr-defined]

    def deliver(data: T) -> None:
        if alive(widget) and getattr(widget, "_load_generation", 0) == generation:
            present(data)

    return ops.Op(widget, fetch, takes_control=False).success(deliver).run_in_background()


def alive(widget: QWidget) -> bool:
    """False once the window holding the widget was closed and deleted (a load that finishes
    after that has nowhere to show its data)."""
    import shiboken6

    return bool(shiboken6.isValid(widget))


def while_alive(widget: QWidget, callback: Callable[[T], Any]) -> Callable[[T], Any]:
    """`callback`, skipped once `widget` is gone (for an op's success callback)."""

    def call(value: T) -> Any:
        return callback(value) if alive(widget) else None

    return call
