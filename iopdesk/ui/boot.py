"""Start the GUI fast: the sign-in window paints before the database stack is imported.

Importing SQLAlchemy, SQLModel, the table classes and the services takes most of a second on
an office PC; none of it is needed to draw a sign-in window. So `run_gui`:

1. makes the QApplication and shows the sign-in window at once, with the clinic name and
   database remembered from the last start on this PC (`boot/*` in ui.ini: no client data);
2. imports the database stack on a background thread while the user types;
3. when that is done (GUI thread again), opens the database as before (keyring, passphrase
   dialog, damaged-file restore), checks the clinic is set up and updates the window's header;
4. pressing Sign in before step 3 finished waits for it (the window keeps painting), then
   checks the password as before.

The first start on a PC (nothing remembered yet) shows a small "Starting IOPDesk" window
instead, then the usual first-start or sign-in dialog. Only PySide6 and the light modules
(dialogs, style, message boxes, paths) are imported by this module.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
import time
import traceback
from types import TracebackType
from typing import Any

from PySide6.QtCore import QEventLoop, QObject, QSettings, Qt, Signal
from PySide6.QtGui import QFont, QIcon
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QVBoxLayout, QWidget

from iopdesk import paths
from iopdesk.errors import UserError
from iopdesk.ui import msgbox
from iopdesk.ui.dialogs import LoginDialog
from iopdesk.ui.style import STYLESHEET

log = logging.getLogger(__name__)
# Start-up moments (time.perf_counter()), for the start-up benchmark and the debug log.
marks: dict[str, float] = {}


def make_app() -> QApplication:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("IOPDesk")
    app.setOrganizationName("IOPDesk")
    icon = paths.resource_path("icons", "iopdesk.png")
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    font = QFont(app.font())
    font.setPointSizeF(10)
    app.setFont(font)
    app.setStyle("Fusion")
    app.setStyleSheet(STYLESHEET)
    from iopdesk.ui import wheelguard

    wheelguard.install(app)  # wheel events never change an unfocused field
    sys.excepthook = _excepthook
    return app


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """A bug: log type and stack (never the message, which may quote client data)."""
    log.error("unexpected %s\n%s", exc_type.__name__, "".join(traceback.format_tb(tb)).rstrip())
    if isinstance(exc, UserError):
        msgbox.user_error(None, exc)
        return
    msgbox.error(
        None,
        "Unexpected problem",
        "IOPDesk ran into an unexpected problem. What you saved before is safe. If it happens "
        f"again, send the log file to support: {paths.log_dir() / 'iopdesk.log'}",
    )


# -- what is remembered between starts (no client data: the clinic's name and where) ----------


def boot_settings() -> QSettings:
    return QSettings(str(paths.config_dir() / "ui.ini"), QSettings.Format.IniFormat)


def _target_key(db: str | None) -> str:
    raw = db or os.environ.get("IOPDESK_DB") or paths.workstation_config().get("database") or ""
    return hashlib.sha256(str(raw).encode()).hexdigest()[:16]


def remembered(db: str | None) -> tuple[str, str] | None:
    s = boot_settings()
    key = _target_key(db)
    name, where = s.value(f"boot/{key}/clinic"), s.value(f"boot/{key}/where")
    if isinstance(name, str) and name and isinstance(where, str):
        return name, where
    return None


def remember(db: str | None, clinic_name: str, where: str) -> None:
    s = boot_settings()
    key = _target_key(db)
    s.setValue(f"boot/{key}/clinic", clinic_name)
    s.setValue(f"boot/{key}/where", where)
    s.sync()


# -- loading the database stack in the background ---------------------------------------------


class StackLoader(QObject):
    """Imports the database stack on a thread; `loaded` is delivered on the GUI thread."""

    loaded = Signal(object)  # None, or the exception the import raised

    def __init__(self) -> None:
        super().__init__()
        self.done = False
        self.error: BaseException | None = None
        self.loaded.connect(self._finished, Qt.ConnectionType.QueuedConnection)

    def start(self) -> None:
        threading.Thread(target=self._run, name="iopdesk-stack-loader", daemon=True).start()

    def _run(self) -> None:
        marks["stack_import_start"] = time.perf_counter()
        error: BaseException | None = None
        try:
            import iopdesk.ui.app
            import iopdesk.ui.mainwindow  # noqa: F401
        except BaseException as exc:  # delivered to the GUI thread
            error = exc
        marks["stack_imported"] = time.perf_counter()
        self.loaded.emit(error)

    def _finished(self, error: BaseException | None) -> None:
        self.done = True
        self.error = error

    def wait(self) -> None:
        """Keep the event loop (and so the window) running until the stack is loaded."""
        if self.done:
            return
        loop = QEventLoop()
        self.loaded.connect(lambda _e: loop.quit(), Qt.ConnectionType.QueuedConnection)
        if not self.done:
            loop.exec()


class StartingWindow(QWidget):
    """Shown at the very first start on a PC, while the database stack loads."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("IOPDesk")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(32, 28, 32, 28)
        title = QLabel("IOPDesk")
        title.setObjectName("pageTitle")
        lay.addWidget(title)
        lay.addWidget(QLabel("Starting..."))
        self.resize(360, 140)


# -- the start ----------------------------------------------------------------------------------


def run_gui(db: str | None = None, username: str | None = None) -> int:
    app = make_app()
    loader = StackLoader()
    known = remembered(db)
    if known is None:
        starting = StartingWindow()
        starting.show()
        loader.start()
        loader.wait()
        starting.close()
        _raise_load_error(loader)
        from iopdesk.ui import app as gui

        return gui.run_gui(db, username)
    clinic_name, where = known
    state: dict[str, Any] = {"db": None, "gone": False}

    def ensure_open() -> None:
        """Sign in was pressed: the stack and the database must be ready first."""
        if state["db"] is None:
            dialog.set_busy("Opening the clinic database...")
            loader.wait()
            dialog.set_busy("")
            if loader.error is None:
                _open_behind_dialog(state, dialog, db)

    dialog = LoginDialog(
        clinic_name,
        lambda u, p, code: _authenticate(state, u, p, code),
        where,
        username=username or "",
        prepare=ensure_open,
    )

    def stack_loaded(_error: object) -> None:
        if state["gone"]:
            return
        if loader.error is not None:
            dialog.reject()
            return
        _open_behind_dialog(state, dialog, db)

    loader.loaded.connect(stack_loaded, Qt.ConnectionType.QueuedConnection)
    loader.start()
    accepted = dialog.exec() == QDialog.DialogCode.Accepted
    state["gone"] = True
    loader.wait()
    _raise_load_error(loader)
    from iopdesk.ui import app as gui

    database = state["db"]
    if state.get("fallback"):
        # Not what was remembered (no clinic yet, or the database could not be opened):
        # the usual start, which says why or offers first-start set-up.
        if database is not None:
            database.close()
        return gui.run_gui(db, username)
    if database is None:
        return 0 if not accepted else 2
    from iopdesk.services.clinic import get_clinic

    try:
        if not accepted:
            return 0
        actor = gui.after_sign_in(database, dialog.result_value, dialog)
        if actor is None:
            return 0
        # The automatic backup (when due) runs in the background once the main window is up
        # (run_session), and again at close.
        code = gui.run_session(app, database, actor, get_clinic(database).is_demo, username or "")
        gui.auto_backup(database)
        return code
    finally:
        database.close()


def _raise_load_error(loader: StackLoader) -> None:
    if loader.error is not None:
        raise loader.error


def _open_behind_dialog(state: dict[str, Any], dialog: LoginDialog, db: str | None) -> None:
    """GUI thread, stack loaded: open the database (asking for a passphrase if needed)."""
    from iopdesk.db import resolve_target
    from iopdesk.services.clinic import get_clinic, is_initialized
    from iopdesk.ui import app as gui

    if state.get("opening") or state["db"] is not None:
        return
    state["opening"] = True
    try:
        target = resolve_target(db)
        database = gui.open_database(target)
    except UserError as exc:
        msgbox.error(dialog, exc.title, exc.message)
        database = None
    if database is None:
        state["fallback"] = False
        dialog.reject()
        return
    if not is_initialized(database):
        state["db"] = database
        state["fallback"] = True
        dialog.reject()
        return
    state["db"] = database
    name = get_clinic(database).name
    remember(db, name, database.describe())
    dialog.set_header(name, database.describe())


def _authenticate(state: dict[str, Any], username: str, password: str, code: str | None) -> Any:
    """Sign in pressed (on an op worker, after `ensure_open` on the GUI thread): check."""
    database = state["db"]
    if database is None or state.get("fallback"):
        raise UserError(
            "The clinic database could not be opened. Close IOPDesk and start it again; the "
            "message shown said why."
        )
    from iopdesk.services import auth

    try:
        actor: Any = auth.login(database, username, password, code)
    except auth.PasswordChangeRequired as exc:
        actor = exc  # the right password, but an administrator reset it: a new one first
    marks["password_checked"] = time.perf_counter()
    return actor
