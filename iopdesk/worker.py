"""Long file jobs in a worker process, so the window never waits for them.

A year's billing export or a 10,000-row workbook import is minutes of Python work (openpyxl,
XlsxWriter, building claim lines). On a thread of the app's own process it competes with the
window for the interpreter's lock (the GIL): measured at full scale, the window stood still for
up to a second at a time while openpyxl inflated a worksheet, although the worker was on
another thread (docs/performance.md). A separate process has its own interpreter, so the
window keeps painting whatever the job does.

    result = worker.run(db, actor, jobs.billing_export, start, end, path, progress=step)

blocks the calling thread (an op runner worker: `ops.in_process` wraps it) until the job ends
in a child process started with the "spawn" method (no fork of a process that runs Qt
threads). The child opens the same database from `db.handoff()`, sent over the private pipe
(never argv, environment or a file), and runs `job(ctl, db, actor, *args, **kwargs)`; the job
is a module-level function (see `iopdesk.services.jobs`). The process stays warm for the next
job on the same database (starting one costs ~1 s of imports), runs one job at a time, opens
no connection that outlives a job (a restore swaps the file in between), and ends when the
database is closed, when the app's end of the pipe closes, or when a job leaves it broken.
What comes back over the pipe:

- progress (`ctl.progress(done, total, label)`), passed to `progress`;
- log records (already formatted without exception text: no PHI), re-logged here;
- the result, the tables the job committed and the audit ids it wrote: `changes.adopt` takes
  them as this process's own, so the screens refresh as after a job on a thread and the change
  poll does not show the app's own export as another workstation's save (on PostgreSQL the
  child's NOTIFY carries this process's origin for the same reason);
- or the error: an error the user can fix arrives as itself; anything else is logged by the
  child (types and code lines only) and raised here as `WorkerFailed` naming its type.

A job that checks `ctl.cancelled` stops when `cancel()` returns true in the parent. A child that
dies without an answer raises `WorkerFailed` ("the background worker stopped").

This module does not import Qt: the child never loads it.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from iopdesk.errors import UserError

log = logging.getLogger(__name__)

# The tables of a job and what it returns are small; a stuck child must not hang the app.
POLL_SECONDS = 0.1
PART_SIZE = 2000


class WorkerFailed(Exception):
    """A job failed with an unexpected error (a bug), or its process died. `kind` names it."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class JobCancelled(Exception):
    """Raised in the child by `JobControl.check()` when the parent asked to cancel."""


@dataclass
class JobControl:
    """Handed to a job in the child: progress reporting and cancellation."""

    _conn: Connection
    _cancelled: bool = False

    def progress(self, done: int, total: int, label: str = "") -> None:
        self._conn.send(("progress", int(done), int(total), label))

    def part(self, name: str, items: list[Any], size: int = PART_SIZE) -> None:
        """Send a long list ahead of the result, in pieces: the app unpickles each piece in one
        C call that holds its GIL, so one piece must stay short (2,000 claim lines: ~2 ms)."""
        for start in range(0, len(items), size):
            self._conn.send(("part", name, items[start : start + size]))

    @property
    def cancelled(self) -> bool:
        if not self._cancelled and self._conn.poll():
            self._cancelled = self._conn.recv() == "cancel"
        return self._cancelled

    def check(self) -> None:
        if self.cancelled:
            raise JobCancelled()


@dataclass(frozen=True)
class Outcome:
    value: Any
    tables: frozenset[str]
    audit_ids: list[int]


@dataclass
class _Request:
    """One job as the app asks for it: what the child runs, and where its answers go."""

    actor: Any
    job: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    progress: Callable[[int, int, str], Any] | None = None
    cancelled: Callable[[], bool] | None = None
    parts: dict[str, list[Any]] | None = None


def run(
    db: Any,
    actor: Any,
    job: Callable[..., Any],
    *args: Any,
    progress: Callable[[int, int, str], Any] | None = None,
    cancelled: Callable[[], bool] | None = None,
    parts: dict[str, list[Any]] | None = None,
    **kwargs: Any,
) -> Any:
    """Run `job(ctl, db, actor, *args, **kwargs)` in a child process; return its result. The
    lists the job sent with `ctl.part(name, items)` are gathered into `parts[name]`."""
    from iopdesk.services import changes

    outcome = _call(db, _Request(actor, job, args, kwargs, progress, cancelled, parts))
    changes.adopt(db, outcome.tables, outcome.audit_ids)
    return outcome.value


class _Process:
    """One warm worker process for one open database: started at its first job, then reused
    (a start costs ~1 s of imports), one job at a time."""

    def __init__(self, db: Any) -> None:
        from iopdesk.services import changes

        context = multiprocessing.get_context("spawn")
        self.engine = db.engine
        self.handoff = db.handoff()
        self.conn, child_end = context.Pipe(duplex=True)
        self.process = context.Process(
            target=_child_main, args=(child_end,), name="iopdesk-worker", daemon=True
        )
        self.process.start()
        child_end.close()
        self.conn.send((self.handoff, changes.ORIGIN))
        self.lock = threading.Lock()
        self.broken = False

    def serves(self, db: Any) -> bool:
        return not self.broken and self.engine is db.engine and self.handoff == db.handoff()

    def call(self, request: _Request) -> Outcome:
        progress, cancelled, parts = request.progress, request.cancelled, request.parts
        finished = False
        try:
            try:
                self.conn.send((request.actor, request.job, request.args, request.kwargs))
            except OSError:
                raise WorkerFailed("the background worker stopped") from None
            asked_to_cancel = False
            while True:
                if cancelled is not None and not asked_to_cancel and cancelled():
                    self.conn.send("cancel")
                    asked_to_cancel = True
                if not self.conn.poll(POLL_SECONDS):
                    if not self.process.is_alive() and not self.conn.poll(0):
                        raise WorkerFailed("the background worker stopped")
                    continue
                try:
                    message = self.conn.recv()
                except (EOFError, OSError):
                    raise WorkerFailed("the background worker stopped") from None
                kind = message[0]
                if kind == "progress":
                    if progress is not None:
                        progress(message[1], message[2], message[3])
                    continue
                if kind == "log":
                    logging.getLogger(message[2]).log(message[1], "%s", message[3])
                    continue
                if kind == "part":
                    if parts is not None:
                        parts.setdefault(message[1], []).extend(message[2])
                    continue
                finished = True
                if kind == "done":
                    return Outcome(message[1], frozenset(message[2]), list(message[3]))
                if kind == "error":
                    raise message[1]
                if kind == "cancelled":
                    raise JobCancelled()
                raise WorkerFailed(message[1])  # "bug"
        finally:
            if not finished:  # mid-job (it died, or this side failed): never reuse it
                self.stop()

    def stop(self) -> None:
        self.broken = True
        with suppress(Exception):
            self.conn.close()  # the child reads EOF and ends
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)


_current: _Process | None = None
_current_lock = threading.Lock()


def _call(db: Any, request: _Request) -> Outcome:
    global _current
    while True:
        with _current_lock:
            worker = _current
            if worker is None or not worker.serves(db):
                if worker is not None:
                    worker.stop()  # another database (or it broke): its process ends
                worker = _current = _Process(db)
                db.closing.append(lambda w=worker: _stop(w))
        with worker.lock:  # one job at a time; the next waits for it
            if not worker.broken:  # else the job before this one ended it: start another
                return worker.call(request)


def _stop(worker: _Process) -> None:
    global _current
    with _current_lock:
        worker.stop()
        if _current is worker:
            _current = None


def shutdown() -> None:
    """End the worker process (the app closes its database, or a test ends)."""
    global _current
    with _current_lock:
        if _current is not None:
            _current.stop()
            _current = None


# -- the child ------------------------------------------------------------------------------


class _PipeLogHandler(logging.Handler):
    """Sends the child's log records to the app, which writes them to its log file."""

    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self.conn = conn
        from iopdesk.logsetup import NoValuesFormatter

        self.setFormatter(NoValuesFormatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        with suppress(Exception):  # the app is gone: nothing is left to log to
            self.conn.send(("log", record.levelno, record.name, self.format(record)))


def _portable_error(exc: UserError) -> UserError:
    """The error itself when it survives the pipe, else a plain UserError with its message."""
    try:
        copy = pickle.loads(pickle.dumps(exc))
        if isinstance(copy, UserError) and copy.message == exc.message:
            return exc
    except Exception:
        pass
    plain = UserError(exc.message)
    plain.title = exc.title
    return plain


def _child_main(conn: Connection) -> None:
    root = logging.getLogger()
    root.handlers[:] = [_PipeLogHandler(conn)]
    root.setLevel(logging.INFO)
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    handoff, origin = conn.recv()
    from iopdesk.db import Database
    from iopdesk.services import changes

    changes.ORIGIN = origin  # NOTIFYs say "this workstation", as the app's own saves do
    db = Database.from_handoff(handoff)
    try:
        while True:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                return  # the app closed the pipe (or ended): so does its worker
            if request == "cancel":
                continue  # came after the job it was meant for had ended
            _child_job(conn, db, *request)
    finally:
        db.close()
        conn.close()


def _child_job(
    conn: Connection,
    db: Any,
    actor: Any,
    job: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    from iopdesk.services import changes

    before = set(changes.own_audit_ids(db))
    try:
        ctl = JobControl(conn)
        with changes.collect() as tables:
            value = job(ctl, db, actor, *args, **kwargs)
        ids = [i for i in changes.own_audit_ids(db) if i not in before]
        conn.send(("done", value, sorted(tables), ids))
    except UserError as exc:
        conn.send(("error", _portable_error(exc)))
    except JobCancelled:
        conn.send(("cancelled",))
    except Exception as exc:
        log.error("unexpected error in a background job", exc_info=exc)
        conn.send(("bug", type(exc).__name__))
    finally:
        # No connection outlives a job: a restore swaps the database file in between.
        db.engine.dispose()
