"""Child process for the start-up and memory benchmarks (run by bench_startup.py).

    bare   - a bare PySide6 QMainWindow (with a label), shown; exits after its first paint.
    app    - what `iopdesk` does at start (log setup, the CLI module, iopdesk.ui.app, the
             database opened with its key as the system keyring hands it over, the schedule
             kept ahead, MainWindow built and shown via the real run_session); notes the main
             window's first paint, then waits until its first page (Today) is filled ("ready")
             and exits. The interactive sign-in (a deliberate ~0.1-0.3 s Argon2
             check while the user types) is left out and timed on its own.
    memory - like app, then visits every page (the census lists all clients) and reports the
             peak resident memory.

Prints one JSON line. BENCH_T0 (time.time() in the parent just before it started this process)
gives the wall time since launch, interpreter start-up included.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def _since_launch() -> float:
    return (time.time() - float(os.environ["BENCH_T0"])) * 1000


def _cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round((usage.ru_utime + usage.ru_stime) * 1000, 1)


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / 1024, 1)


def bare() -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    result: dict[str, float] = {}
    app = QApplication(sys.argv[:1])

    class Window(QMainWindow):
        def paintEvent(self, event: object) -> None:
            super().paintEvent(event)  # type: ignore[arg-type]
            if not result:
                result["paint_ms"] = _since_launch()
                result["cpu_ms"] = _cpu_ms()
                QTimer.singleShot(0, lambda: app.exit(0))

    window = Window()
    window.setWindowTitle("Bare")
    window.setCentralWidget(QLabel("Hello"))
    window.resize(1366, 768)
    window.show()
    app.exec()
    print(json.dumps({**result, "peak_rss_mb": _peak_rss_mb()}))
    return 0


def app_start(db_path: str, memory: bool) -> int:
    marks: dict[str, float] = {"interpreter_ms": _since_launch()}
    from iopdesk import cli, logsetup  # noqa: F401  (what `iopdesk` imports first)

    logsetup.setup()
    from PySide6.QtCore import QTimer

    from iopdesk.ui import app as app_module

    marks["imports_ms"] = _since_launch()
    from benchmarks.common import actor, open_db

    qapp = app_module.make_app()
    from pathlib import Path

    db = open_db(Path(db_path))
    marks["db_open_ms"] = _since_launch()
    user = actor(db, "admin")
    base = app_module.MainWindow
    windows: list[object] = []

    class Timed(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            marks["window_build_start_ms"] = _since_launch()
            super().__init__(*args, **kwargs)
            marks["window_built_ms"] = _since_launch()
            windows.append(self)

        def paintEvent(self, event: object) -> None:
            super().paintEvent(event)
            if "paint_ms" not in marks:
                marks["paint_ms"] = _since_launch()  # the window is on screen
                marks["cpu_at_paint"] = _cpu_ms()
                QTimer.singleShot(0, after_paint)

    def after_paint() -> None:
        window = windows[0]
        # the first page (Today) is filled just after the first paint: "ready" is when it is
        while not window.ready:  # type: ignore[attr-defined]
            qapp.processEvents()
        marks["ready_ms"] = _since_launch()
        marks["cpu_at_ready"] = _cpu_ms()
        if memory:
            window = windows[0]
            for name in list(window.pages):  # type: ignore[attr-defined]
                window.go(name)  # type: ignore[attr-defined]
                for _ in range(3):
                    qapp.processEvents()
            window.go("Clients")  # type: ignore[attr-defined]
            page = window.pages["Clients"]  # type: ignore[attr-defined]
            marks["census_rows"] = page.model.rowCount()
            for _ in range(3):
                qapp.processEvents()
        window = windows[0]
        window._closing_for_sign_out = False  # type: ignore[attr-defined]
        qapp.exit(0)

    app_module.MainWindow = Timed  # type: ignore[misc]
    try:
        app_module.run_session(qapp, db, user, demo=False)
    finally:
        db.close()
    marks["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(marks))
    return 0


def boot(db_path: str) -> int:
    """The real `iopdesk` start on a PC that has signed in before: the sign-in window's first
    paint (before the database stack is imported), then, after typing and Enter, the main
    window's first paint measured from the end of the password check."""
    marks: dict[str, float] = {"interpreter_ms": _since_launch()}
    from PySide6.QtCore import QEvent, QObject, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QDialog, QLineEdit, QMainWindow

    qapp = QApplication(sys.argv[:1])

    class Spy(QObject):
        def eventFilter(self, obj: object, ev: object) -> bool:
            kind = ev.type()  # type: ignore[attr-defined]
            if kind == QEvent.Type.Paint and isinstance(obj, QDialog) and "login" not in marks:
                marks["login_paint_ms"] = _since_launch()
                marks["cpu_at_login_paint"] = _cpu_ms()
                marks["login"] = 1
                QTimer.singleShot(0, lambda: type_in(obj))
            if kind == QEvent.Type.Paint and isinstance(obj, QMainWindow) and "main" not in marks:
                from iopdesk.ui import boot as boot_module

                now = time.perf_counter()
                marks["main"] = 1
                checked = boot_module.marks.get("password_checked", now)
                marks["main_after_password_ms"] = round((now - checked) * 1000, 1)
                obj._closing_for_sign_out = False  # type: ignore[attr-defined]
                print(json.dumps(marks), flush=True)
                os._exit(0)
            return False

    def type_in(dialog: QDialog) -> None:
        user = dialog.findChild(QLineEdit, "username")
        password = dialog.findChild(QLineEdit, "password")
        QTest.keyClicks(user, "admin")
        QTest.keyClicks(password, os.environ.get("BENCH_PASSWORD", "bench-password"))
        QTest.keyClick(password, Qt.Key.Key_Return)

    spy = Spy()
    qapp.installEventFilter(spy)
    from iopdesk.cli import main as cli_main

    return cli_main(["--db", db_path])


def main() -> int:
    mode = sys.argv[1]
    if mode == "bare":
        return bare()
    if mode == "boot":
        return boot(sys.argv[2])
    return app_start(sys.argv[2], memory=mode == "memory")


if __name__ == "__main__":
    raise SystemExit(main())
