"""Shared helpers: a private environment, opening the benchmark database, timing."""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
SCREEN = REPO / "tests" / "offscreen-screen.json"


def prepare_env() -> None:
    """Offscreen Qt, no real keyring, private data/config folders (never the user's clinic)."""
    os.environ.setdefault("QT_QPA_PLATFORM", f"offscreen:configfile={SCREEN}")
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    for name in ("IOPDESK_DB", "IOPDESK_DB_PASSPHRASE", "IOPDESK_PASSWORD"):
        os.environ.pop(name, None)
    if "IOPDESK_DATA_DIR" not in os.environ:
        private = Path(tempfile.mkdtemp(prefix="iopdesk-bench-"))
        os.environ["IOPDESK_DATA_DIR"] = str(private / "data")
        os.environ["IOPDESK_CONFIG_DIR"] = str(private / "config")


def open_db(path: Path) -> Any:
    from benchmarks.generate import BENCH_KEY
    from iopdesk.db import Database, DbTarget

    return Database.open(DbTarget(path=path), key=BENCH_KEY)


def actor(db: Any, username: str) -> Any:
    """The signed-in user without the deliberate Argon2 password check (timed separately)."""
    from sqlmodel import select

    from iopdesk.models import User
    from iopdesk.services.auth import actor_for

    with db.session() as s:
        user = s.exec(select(User).where(User.username == username)).one()
        return actor_for(user)


CPU_MS: dict[int, list[float]] = {}  # id(result list) -> CPU milliseconds of the same runs


def timed(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> list[float]:
    """Wall-clock milliseconds of `repeat` calls after `warmup` untimed calls. The process CPU
    time of the same calls is kept too (`cpu(result)`): on a busy machine wall time includes
    waiting for a core, CPU time does not."""
    for _ in range(warmup):
        fn()
    out: list[float] = []
    cpu: list[float] = []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    CPU_MS[id(out)] = cpu
    return out


def cpu(values: list[float]) -> float:
    """Median CPU milliseconds of the runs `timed` returned as `values`."""
    return median(CPU_MS.get(id(values), values))


def median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def emit(result: dict[str, Any]) -> None:
    """One JSON object on stdout: the runner reads the last line."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
