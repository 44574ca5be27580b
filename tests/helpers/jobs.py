"""Jobs for tests/test_worker.py: module-level, so a worker process finds them by name."""

from __future__ import annotations

import os
import time
from typing import Any


def counts(ctl: Any, db: Any, actor: Any, n: int) -> list[int]:
    """Reports progress n times, then returns what it counted."""
    for i in range(1, n + 1):
        ctl.progress(i, n, f"step {i}")
    return list(range(n))


def leaky_bug(ctl: Any, db: Any, actor: Any, text: str) -> None:
    """A bug whose message quotes client data (as a database error's text can)."""
    raise KeyError(text)


def dies(ctl: Any, db: Any, actor: Any) -> None:
    """The process ends without an answer (killed, out of memory)."""
    os._exit(3)


def until_cancelled(ctl: Any, db: Any, actor: Any) -> None:
    ctl.progress(0, 1, "waiting")
    for _ in range(3000):
        ctl.check()
        time.sleep(0.01)
    raise AssertionError("never cancelled")


def own_process(ctl: Any, db: Any, actor: Any) -> dict[str, str]:
    """What the world can see of the worker process: its command line and environment."""
    with open("/proc/self/cmdline", "rb") as f:
        cmdline = f.read().decode(errors="replace")
    with open("/proc/self/environ", "rb") as f:
        environ = f.read().decode(errors="replace")
    return {"pid": str(os.getpid()), "cmdline": cmdline, "environ": environ}


def parted(ctl: Any, db: Any, actor: Any, n: int) -> str:
    """Sends n numbers as the part "numbers" (in pieces), then returns a small result."""
    ctl.part("numbers", list(range(n)), size=1000)
    return "sent"
