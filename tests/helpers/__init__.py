"""Helpers shared by the tests (instead of copying fixtures into each file)."""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def finish(op: Any) -> Any:
    """Wait for a background operation started by a screen; return its result (or raise).

    GUI tests drive the real screens, whose service calls run on worker threads: this lets the
    op deliver on the GUI thread, as it would for the user, then hands back what it returned.
    """
    from iopdesk.ui import ops

    assert ops.wait_all(60_000), "a background operation did not finish within 60 s"
    assert op.done, "the operation never delivered"
    return op.result


def settle() -> None:
    """Let every running background operation deliver (pages refreshed in the background)."""
    from iopdesk.ui import ops

    assert ops.wait_all(60_000), "a background operation did not finish within 60 s"
