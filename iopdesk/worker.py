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
is a module-level function (see `iopdesk.services.jobs`). What comes back over the pipe:

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
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from iopdesk.errors import UserError

log = logging.getLogger(__name__)

# The tables of a job and what it returns are small; a stuck child must not hang the app.
POLL_SECONDS = 0.1


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


def run(
    db: Any,
    actor: Any,
    job: Callable[..., Any],
    *args: Any,
    progress: Callable[[int, int, str], Any] | None = None,
    cancelled: Callable[[], bool] | None = None,
    **kwargs: Any,
) -> Any:
    """Run `job(ctl, db, actor, *args, **kwargs)` in a child process; return its result."""
    from iopdesk.services import changes

    outcome = _call(db, actor, job, args, kwargs, progress, cancelled)
    changes.adopt(db, outcome.tables, outcome.audit_ids)
    return outcome.value


def _call(
    db: Any,
    actor: Any,
    job: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    progress: Callable[[int, int, str], Any] | None,
    cancelled: Callable[[], bool] | None,
) -> Outcome:
    from iopdesk.services import changes

    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe(duplex=True)
    request = (db.handoff(), actor, changes.ORIGIN, job, args, kwargs)
    process = context.Process(
        target=_child_main, args=(child_end,), name="iopdesk-worker", daemon=True
    )
    process.start()
    child_end.close()
    try:
        parent_end.send(request)
        asked_to_cancel = False
        while True:
            if cancelled is not None and not asked_to_cancel and cancelled():
                parent_end.send("cancel")
                asked_to_cancel = True
            if not parent_end.poll(POLL_SECONDS):
                if not process.is_alive() and not parent_end.poll(0):
                    raise WorkerFailed("the background worker stopped")
                continue
            try:
                message = parent_end.recv()
            except (EOFError, OSError):
                raise WorkerFailed("the background worker stopped") from None
            kind = message[0]
            if kind == "progress":
                if progress is not None:
                    progress(message[1], message[2], message[3])
            elif kind == "log":
                logging.getLogger(message[2]).log(message[1], "%s", message[3])
            elif kind == "done":
                return Outcome(message[1], frozenset(message[2]), list(message[3]))
            elif kind == "error":
                raise message[1]
            elif kind == "bug":
                raise WorkerFailed(message[1])
            elif kind == "cancelled":
                raise JobCancelled()
    finally:
        parent_end.close()
        process.join(timeout=10)
        if process.is_alive():  # it answered but does not end: do not leave it behind
            process.terminate()
            process.join(timeout=5)


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
    db = None
    try:
        handoff, actor, origin, job, args, kwargs = conn.recv()
        from iopdesk.db import Database
        from iopdesk.services import changes

        changes.ORIGIN = origin  # NOTIFYs say "this workstation", as the app's own saves do
        db = Database.from_handoff(handoff)
        ctl = JobControl(conn)
        with changes.collect() as tables:
            value = job(ctl, db, actor, *args, **kwargs)
        conn.send(("done", value, sorted(tables), changes.own_audit_ids(db)))
    except UserError as exc:
        conn.send(("error", _portable_error(exc)))
    except JobCancelled:
        conn.send(("cancelled",))
    except BaseException as exc:
        log.error("unexpected error in a background job", exc_info=exc)
        conn.send(("bug", type(exc).__name__))
    finally:
        if db is not None:
            db.close()
        conn.close()
