"""Helpers shared by the tests (instead of copying fixtures into each file)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


def ctx_for(env: Any, actor: Any) -> Any:
    """The AppContext a page or dialog gets when `actor` is signed in to the test clinic."""
    from iopdesk.services import clinic
    from iopdesk.ui.context import AppContext

    return AppContext(env.db, actor, clinic.get_clinic(env.db))


def tonight_group(env: Any, clients: int = 4) -> tuple[int, list[int]]:
    """A group session of an evening SUD track today (00:00-03:00, so it is under way or
    over whatever the hour) with `clients` (at most 4) active clients enrolled: Alpha, Bravo,
    Charlie, Delta. Returns (session id, client ids in that order)."""
    from datetime import date, time, timedelta

    from iopdesk.models import ClinicSession, Track, TrackBlock
    from iopdesk.services import clients as client_service
    from iopdesk.services.clients import ClientInput

    today = date.today()
    with env.db.session() as s:
        track = Track(track_code="EVE", name="Evening IOP", is_sud=True)
        s.add(track)
        s.flush()
        s.add(
            TrackBlock(
                track_id=track.id,
                weekday=today.weekday(),
                start_time=time(0, 0),
                end_time=time(3, 0),
            )
        )
        session = ClinicSession(
            kind="group",
            track_id=track.id,
            session_date=today,
            start_time=time(0, 0),
            end_time=time(3, 0),
        )
        s.add(session)
        s.flush()
        track_id, session_id = track.id, session.id
    names = (("Ann", "Alpha"), ("Ben", "Bravo"), ("Cy", "Charlie"), ("Di", "Delta"))
    ids = []
    for first, last in names[:clients]:
        c = client_service.create_client(
            env.db,
            env.world.admin,
            ClientInput(
                first,
                last,
                date(1990, 1, 1),
                status="active",
                track_id=track_id,
                admission_date=today - timedelta(days=7),
            ),
        )
        ids.append(c.id)
    return session_id, ids


def pdf_text(path: Any, layout: bool = True) -> str:
    """The text of a PDF the app wrote, as poppler's pdftotext reads it (`layout`: columns
    kept where they stand on the page)."""
    import subprocess

    args = ["pdftotext", *(["-layout"] if layout else []), str(path), "-"]
    return subprocess.run(args, capture_output=True, check=True).stdout.decode("utf-8")


def pdf_pages(path: Any) -> list[str]:
    """The text of each page of a PDF, as pypdf reads it."""
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(str(path)).pages]


def main_window(
    qtbot: Any,
    env: Any,
    actor: Any,
    size: tuple[int, int] | None = None,
    poll_changes: bool = False,
) -> Any:
    """The real main window for `actor`, shown (at `size` if given), its first page filled.
    The change poll is stopped unless `poll_changes` (tests drive it). Closed by qtbot at the
    end of the test."""
    from iopdesk.ui.mainwindow import MainWindow

    window = MainWindow(ctx_for(env, actor))
    qtbot.addWidget(window)
    if not poll_changes:
        window.change_watch.timer.stop()
    if size is not None:
        window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.ready)  # the first page fills just after the first paint
    settle()
    return window


def migrate_to(path: Any, revision: str, key: bytes) -> None:
    """Bring the encrypted SQLite database at `path` to exactly `revision` (up or down), as
    the IOPDesk release with that newest migration would have left it."""
    from iopdesk.db import sqlite_engine
    from iopdesk.migrations import runner

    engine = sqlite_engine(path, key)
    try:
        current = runner.revisions(engine)[0]
        if current is not None and _is_later(current, revision):
            runner.downgrade(engine, revision)
        else:
            runner.upgrade(engine, revision)
    finally:
        engine.dispose()


def _is_later(a: str, b: str) -> bool:
    from iopdesk.migrations import REVISIONS

    return REVISIONS.index(a) > REVISIONS.index(b)


@contextmanager
def boxes() -> Iterator[list[Any]]:
    """Message boxes that do not block and are recorded (what the user would have seen)."""
    from iopdesk.ui import msgbox

    msgbox.NON_BLOCKING = True
    msgbox.shown.clear()
    try:
        yield msgbox.shown
    finally:
        msgbox.NON_BLOCKING = False


@contextmanager
def count_statements(db: Any) -> Iterator[list[str]]:
    """The SQL statements sent to the database inside the block (BEGIN/COMMIT not counted):
    round trips are what a clinic server over the network pays for."""
    from sqlalchemy import event

    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if head not in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
