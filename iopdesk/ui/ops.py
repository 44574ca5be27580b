"""The one way a screen runs a service call: off the GUI thread, with one failure policy.

Shaped after Anki's `qt/aqt/operations` (`CollectionOp(parent, op).success(...).
run_in_background()`) and TagStudio's QRunnable with a `done` signal:

    Op(self, lambda ctl: billing.export(db, actor, ..., progress=ctl.progress))
        .with_progress("Exporting billing...", cancellable=False)
        .success(self._exported)
        .run_in_background()

- The callable runs on a QThreadPool worker. Services open their own short database session
  per call, so the worker never shares a session with the GUI thread.
- `ctl.progress(done, total, label)` may be called from the worker; the progress dialog is
  updated on the GUI thread through a queued signal. `ctl.cancelled` turns true when the user
  presses Cancel (for services that check it; `ctl.check()` raises `OpCancelled`).
- The result, or the failure, is delivered on the GUI thread. Failure policy, in one place:
  a stale record -> the message, then the `reload` callback (so the screen shows the latest
  version); any other error the user can fix -> its message in a box; a cancelled op -> nothing;
  anything else is a bug -> one plain line in a box and the traceback in the log (type and
  code lines only: never argument values or the exception text, which may hold client data).
- Every table the op committed is collected (services.changes.collect) and, when there were
  any, announced once on `bus().changed` as an `OpChanges`; pages declare the tables they
  show and refresh only when one of those changed (see `Page.shows`).

Tests: `wait_all()` blocks (processing events) until every running op has delivered.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QEventLoop, QObject, QRunnable, Qt, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import QApplication, QProgressDialog, QWidget

from iopdesk import worker
from iopdesk.errors import StaleRecordError, UserError
from iopdesk.ui import msgbox

log = logging.getLogger(__name__)

T = TypeVar("T")


class OpCancelled(Exception):
    """Raised inside an op (by `OpControl.check`) when the user pressed Cancel."""


@dataclass(frozen=True)
class OpChanges:
    """What one operation committed: table names, and the widget that started it."""

    tables: frozenset[str]
    source: object | None = None

    def touches(self, shown: frozenset[str] | set[str]) -> bool:
        return "*" in self.tables or "*" in shown or bool(self.tables & shown)


class ChangeBus(QObject):
    """The application's one 'data changed' signal (own operations and other workstations)."""

    changed = Signal(object)  # OpChanges


_bus: ChangeBus | None = None


def bus() -> ChangeBus:
    global _bus
    if _bus is None:
        _bus = ChangeBus()
    return _bus


class _Bridge(QObject):
    """Lives on the GUI thread; the worker emits, Qt queues the call to the GUI thread."""

    progressed = Signal(int, int, str)
    finished = Signal(object)


@dataclass
class OpControl:
    """Handed to the op's callable: progress reporting and cancellation."""

    _bridge: _Bridge
    _cancel: threading.Event = field(default_factory=threading.Event)

    def progress(self, done: int, total: int, label: str = "") -> None:
        self._bridge.progressed.emit(int(done), int(total), label)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise OpCancelled()


@dataclass
class _Outcome:
    value: Any = None
    error: BaseException | None = None
    tables: frozenset[str] = frozenset()


class _Runnable(QRunnable):
    def __init__(self, fn: Callable[[OpControl], Any], ctl: OpControl) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self.fn = fn
        self.ctl = ctl

    def run(self) -> None:
        from iopdesk.services import changes

        outcome = _Outcome()
        with changes.collect() as tables:
            try:
                outcome.value = self.fn(self.ctl)
            except BaseException as exc:  # delivered to the GUI thread, never lost
                outcome.error = exc
        outcome.tables = frozenset(tables)
        try:
            self.ctl._bridge.finished.emit(outcome)
        except RuntimeError:  # the app is shutting down: nobody is left to deliver to
            log.info("a background operation finished after its window closed")


_running: set[Op[Any]] = set()
_pool: QThreadPool | None = None


def pool() -> QThreadPool:
    """Two workers: a database is one writer at a time anyway, and reads stay snappy."""
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(2)
    return _pool


class Op(Generic[T]):
    """A service call to run in the background; configure, then `run_in_background()`."""

    def __init__(
        self,
        parent: QWidget | None,
        fn: Callable[[OpControl], T] | Callable[[], T],
        *,
        takes_control: bool | None = None,
    ) -> None:
        self.parent = parent
        if takes_control is None:
            takes_control = _accepts_argument(fn)
        plain: Callable[..., Any] = fn
        self._fn: Callable[[OpControl], Any] = plain if takes_control else (lambda _c: plain())
        self._success: Callable[[T], Any] | None = None
        self._failure: Callable[[BaseException], Any] | None = None
        self._reload: Callable[[], Any] | None = None
        self._finally: list[Callable[[], Any]] = []
        self._progress_label: str | None = None
        self._cancellable = False
        self._dialog: QProgressDialog | None = None
        self._bridge: _Bridge | None = None
        self.ctl: OpControl | None = None
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None

    # -- configuration ---------------------------------------------------------------------
    def success(self, callback: Callable[[T], Any]) -> Op[T]:
        self._success = callback
        return self

    def failure(self, callback: Callable[[BaseException], Any]) -> Op[T]:
        """Replace the default failure policy (the callback gets the exception)."""
        self._failure = callback
        return self

    def on_stale(self, reload: Callable[[], Any]) -> Op[T]:
        """After 'changed on another workstation', call this to show the latest version."""
        self._reload = reload
        return self

    def on_done(self, callback: Callable[[], Any]) -> Op[T]:
        """Called after success or failure (e.g. to re-enable a button); several may be added
        (forms.submit adds its own), each called in the order added."""
        self._finally.append(callback)
        return self

    def with_progress(self, label: str, cancellable: bool = False) -> Op[T]:
        """Show a window-modal progress dialog while it runs (the window keeps painting)."""
        self._progress_label = label
        self._cancellable = cancellable
        return self

    # -- running -----------------------------------------------------------------------------
    def run_in_background(self) -> Op[T]:
        global _asker
        if _asker is None:  # made here, on the GUI thread, for ask_on_gui
            _asker = _Asker()
        self._bridge = _Bridge()
        self.ctl = OpControl(self._bridge)
        self._bridge.progressed.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        self._bridge.finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)
        if self._progress_label is not None:
            self._dialog = _progress_dialog(self.parent, self._progress_label, self._cancellable)
            if self._cancellable:
                self._dialog.canceled.connect(self.cancel)
        _running.add(self)
        pool().start(_Runnable(self._fn, self.ctl))
        return self

    def cancel(self) -> None:
        if self.ctl is not None:
            self.ctl._cancel.set()
        if self._dialog is not None:
            self._dialog.setLabelText("Cancelling...")

    def _on_progress(self, done: int, total: int, label: str) -> None:
        if self._dialog is None:
            return
        self._dialog.setMaximum(max(total, 1))
        self._dialog.setValue(min(done, max(total, 1)))
        if label:
            self._dialog.setLabelText(label)

    def _on_finished(self, outcome: _Outcome) -> None:
        _running.discard(self)
        if self._dialog is not None:
            self._dialog.reset()
            self._dialog.hide()
            self._dialog.deleteLater()
            self._dialog = None
        self.done = True
        self.error = outcome.error
        if outcome.tables:
            bus().changed.emit(OpChanges(outcome.tables, self.parent))
        try:
            if outcome.error is None:
                self.result = outcome.value
                if self._success is not None:
                    self._success(outcome.value)
            elif self._failure is not None:
                self._failure(outcome.error)
            else:
                report_failure(self.parent, outcome.error, self._reload)
        finally:
            for callback in self._finally:
                callback()
            if self._bridge is not None:
                self._bridge.deleteLater()
                self._bridge = None


def run(
    parent: QWidget | None,
    fn: Callable[[], T],
    success: Callable[[T], Any] | None = None,
    *,
    progress: str | None = None,
    reload: Callable[[], Any] | None = None,
) -> Op[T]:
    """Shorthand: run `fn()` in the background and hand its result to `success`."""
    op: Op[T] = Op(parent, fn, takes_control=False)
    if success is not None:
        op.success(success)
    if progress is not None:
        op.with_progress(progress)
    if reload is not None:
        op.on_stale(reload)
    return op.run_in_background()


class _Asker(QObject):
    """Lives on the GUI thread: runs a question a worker asks there, the worker waiting."""

    asked = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.asked.connect(self._ask, Qt.ConnectionType.BlockingQueuedConnection)

    @staticmethod
    def _ask(holder: list[Any]) -> None:
        try:
            holder[1] = holder[0]()
        except BaseException as exc:  # raised again on the worker
            holder[2] = exc


_asker: _Asker | None = None


def ask_on_gui(question: Callable[[], T]) -> T:
    """From an op's worker: run `question()` (a dialog, e.g. "choose a passphrase") on the GUI
    thread and wait for its answer, for a service that needs one in the middle of its work.
    Called on the GUI thread itself, it simply runs it."""
    if _asker is None or threading.current_thread() is threading.main_thread():
        return question()
    holder: list[Any] = [question, None, None]
    _asker.asked.emit(holder)
    if holder[2] is not None:
        raise holder[2]
    return holder[1]  # type: ignore[no-any-return]


def in_process(
    db: Any,
    actor: Any,
    job: Callable[..., Any],
    *args: Any,
    observe: Callable[[int, int, str], Any] | None = None,
    parts: dict[str, list[Any]] | None = None,
    **kwargs: Any,
) -> Callable[[OpControl], Any]:
    """An op body that runs `job(ctl, db, actor, *args, **kwargs)` in a worker process
    (iopdesk.worker), for the long file jobs whose Python work would otherwise compete with the
    window for the interpreter: `Op(self, ops.in_process(db, actor, jobs.billing_export, ...))`.
    Progress reaches the op's dialog (and `observe`, on the op's worker thread); Cancel reaches
    a job that checks `ctl.cancelled`; the long lists it sends with `ctl.part` are gathered in
    `parts`; the tables it committed are announced as for any op."""

    def body(ctl: OpControl) -> Any:
        def progress(done: int, total: int, label: str) -> None:
            if observe is not None:
                observe(done, total, label)
            ctl.progress(done, total, label)

        try:
            return worker.run(
                db,
                actor,
                job,
                *args,
                progress=progress,
                cancelled=lambda: ctl.cancelled,
                parts=parts,
                **kwargs,
            )
        except worker.JobCancelled:
            raise OpCancelled() from None

    return body


def attempt(
    parent: QWidget | None, action: Callable[[], Any], reload: Callable[[], Any] | None = None
) -> bool:
    """Run a quick step of a screen now, on the GUI thread (opening a dialog, a click whose
    service call is measured under 10 ms), with the same failure policy as an op: True when it
    went through. Anything slower goes through `Op` instead."""
    try:
        action()
    except Exception as exc:
        report_failure(parent, exc, reload)
        return False
    return True


def report_failure(
    parent: QWidget | None, exc: BaseException, reload: Callable[[], Any] | None = None
) -> None:
    """The one failure policy for everything a screen runs."""
    if isinstance(exc, OpCancelled):
        return
    if isinstance(exc, StaleRecordError):
        msgbox.user_error(parent, exc)
        if reload is not None:
            reload()
        return
    if isinstance(exc, UserError):
        msgbox.user_error(parent, exc)
        return
    log_bug(exc)
    kind = exc.kind if isinstance(exc, worker.WorkerFailed) else type(exc).__name__
    msgbox.error(
        parent,
        "Something went wrong",
        f"IOPDesk could not finish this ({kind}). Nothing more was changed. "
        "The details for support are in the log file.",
    )


def log_bug(exc: BaseException) -> None:
    """Traceback with code lines only: exception text and values may contain client data."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("unexpected %s in a screen operation\n%s", type(exc).__name__, frames)


def wait_all(timeout_ms: int = 30_000) -> bool:
    """Run the event loop until every running op has delivered (tests, closing the window)."""
    if not _running:
        return True
    if QApplication.instance() is None:
        return False
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(5)
    poll.timeout.connect(lambda: loop.quit() if not _running else None)
    deadline = QTimer()
    deadline.setSingleShot(True)
    deadline.timeout.connect(loop.quit)
    poll.start()
    deadline.start(timeout_ms)
    loop.exec()
    poll.stop()
    deadline.stop()
    return not _running


def spin(ms: int = 0) -> None:
    """Run the event loop for `ms` milliseconds (pending paints and queued deliveries too)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def running() -> int:
    return len(_running)


def _progress_dialog(parent: QWidget | None, label: str, cancellable: bool) -> QProgressDialog:
    dialog = QProgressDialog(label, "Cancel" if cancellable else "", 0, 0, parent)
    dialog.setObjectName("opProgress")
    dialog.setWindowTitle("IOPDesk")
    if not cancellable:
        dialog.setCancelButton(None)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(400)  # quick ops never flash a dialog
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    dialog.setValue(0)
    return dialog


def _accepts_argument(fn: Callable[..., Any]) -> bool:
    import inspect

    try:
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.default is inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        return False
    return len(params) == 1
