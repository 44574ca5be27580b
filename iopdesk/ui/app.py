"""Start the GUI: open the database (asking for the passphrase when there is no keyring),
first-start setup, sign-in, then the main window. Also the demo launcher."""

from __future__ import annotations

import logging
import secrets
import shutil
import sys
import traceback
from types import TracebackType

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QDialog, QWidget

from iopdesk import paths
from iopdesk.db import Database, DbTarget, resolve_target
from iopdesk.errors import UserError, WrongKeyError
from iopdesk.services import auth
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import get_clinic, is_initialized, setup_clinic
from iopdesk.ui import msgbox
from iopdesk.ui.context import AppContext
from iopdesk.ui.dialogs import LoginDialog, PassphraseDialog, SetupDialog
from iopdesk.ui.mainwindow import MainWindow
from iopdesk.ui.style import STYLESHEET

log = logging.getLogger(__name__)


def make_app() -> QApplication:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("IOPDesk")
    app.setOrganizationName("IOPDesk")
    font = QFont(app.font())
    font.setPointSizeF(10)
    app.setFont(font)
    app.setStyle("Fusion")
    app.setStyleSheet(STYLESHEET)
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


def gui_passphrase(creating: bool) -> str:
    dialog = PassphraseDialog(creating)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return ""
    return dialog.passphrase.text()


def open_database(target: DbTarget) -> Database | None:
    """Open the database, creating it on first start. None if the user cancelled."""
    creating = target.path is not None and not (
        target.path.exists() and target.path.stat().st_size > 0
    )
    for _attempt in range(5):
        try:
            return Database.open(target, create=creating, passphrase_provider=gui_passphrase)
        except WrongKeyError as exc:
            msgbox.warning(None, exc.title, exc.message)
        except UserError as exc:
            if "No database passphrase was given" in exc.message:
                return None
            msgbox.error(None, exc.title, exc.message)
            return None
    return None


def first_start(db: Database) -> Actor | None:
    dialog = SetupDialog()

    def create() -> None:
        dialog.result_actor = setup_clinic(  # type: ignore[attr-defined]
            db,
            dialog.clinic_name.text(),
            dialog.username.text(),
            dialog.password.text(),
            dialog.full_name.text(),
        )

    def check_and_create() -> None:
        dialog._check()
        create()

    dialog.accept_action = check_and_create
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    actor: Actor = dialog.result_actor  # type: ignore[attr-defined]
    return actor


def sign_in(db: Database, clinic_name: str, username: str = "") -> Actor | None:
    dialog = LoginDialog(
        clinic_name, lambda u, p: auth.login(db, u, p), db.describe(), username=username
    )
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    assert isinstance(dialog.result_value, Actor)
    return dialog.result_value


def keep_schedule_ahead(db: Database, actor: Actor) -> int:
    """Group sessions are kept generated `schedule_weeks_ahead` weeks ahead at sign-in
    (idempotent), so the front desk never finds an empty week."""
    from datetime import date

    from iopdesk.services.permissions import Perm, has
    from iopdesk.services.schedule import generate_sessions

    if not has(actor, Perm.SCHEDULE_MANAGE):
        return 0
    try:
        return generate_sessions(db, actor, date.today())
    except UserError as exc:
        log.warning("schedule generation at sign-in skipped: %s", type(exc).__name__)
        return 0


def run_session(
    app: QApplication, db: Database, actor: Actor | None, demo: bool, username: str = ""
) -> int:
    """Main window until the user quits; signing out returns to the sign-in dialog."""
    state: dict[str, MainWindow | None] = {"window": None}

    def show(current: Actor | None) -> None:
        if current is None:
            current = sign_in(db, get_clinic(db).name, username)
        if current is None:
            app.quit()
            return
        keep_schedule_ahead(db, current)
        window = MainWindow(AppContext(db, current, get_clinic(db)), demo=demo)
        window.signed_out.connect(lambda: QTimer.singleShot(0, lambda: show(None)))
        state["window"] = window
        window.show()

    app.setQuitOnLastWindowClosed(False)
    show(actor)
    if state["window"] is None:
        return 0

    def maybe_quit() -> None:
        window = state["window"]
        if window is not None and not window.isVisible() and not window._closing_for_sign_out:
            app.quit()

    app.lastWindowClosed.connect(maybe_quit)
    return app.exec()


def run_gui(db: str | None = None, username: str | None = None) -> int:
    app = make_app()
    try:
        target = resolve_target(db)
    except UserError as exc:
        msgbox.error(None, exc.title, exc.message)
        return 2
    database = open_database(target)
    if database is None:
        return 2
    try:
        actor = None
        if not is_initialized(database):
            actor = first_start(database)
            if actor is None:
                return 0
        return run_session(app, database, actor, get_clinic(database).is_demo, username or "")
    finally:
        database.close()


def run_demo(
    show_login: bool = False,
    screenshot: str | None = None,
    page: str = "today",
    size: str = "1366x768",
) -> int:
    """A fresh demo clinic each time, in its own folder; the key lives only in memory."""
    from iopdesk.services.demo import DEMO_PASSWORD, create_demo_clinic

    app = make_app()
    folder = paths.data_dir() / "demo"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    db = Database.open(
        DbTarget(path=folder / "iopdesk-demo.db"), create=True, key=secrets.token_bytes(32)
    )
    db.key_description = "Demo data: its encryption key is held in memory for this run only."
    try:
        create_demo_clinic(db)
        admin = auth.login(db, "admin", DEMO_PASSWORD)
        if not screenshot:
            print(
                f"Demo clinic ready. Sign in as admin, frontdesk, therapist, supervisor or "
                f"billing with the password {DEMO_PASSWORD!r}."
            )
        if screenshot:
            return _screenshot(app, db, admin, screenshot, page, size)
        return run_session(
            app,
            db,
            None if show_login else admin,
            demo=True,
            username="admin" if show_login else "",
        )
    finally:
        db.close()


def _screenshot(
    app: QApplication, db: Database, actor: Actor, out: str, page: str, size: str
) -> int:
    """Render one page of the real window to a PNG (README screenshots, visual checks)."""
    width, height = (int(v) for v in size.lower().split("x"))
    window = MainWindow(AppContext(db, actor, get_clinic(db)), demo=True)
    window.resize(width, height)
    window.show()
    name = page.strip().lower()
    target: QWidget = window
    if name.startswith("chart"):
        from iopdesk.services.clients import list_census

        rows = list_census(db, actor, status="active")
        window.go("Clients")
        window.open_chart(rows[0].id)
        if name == "chart-attendance":
            window.chart.tabs.setCurrentIndex(1)
        elif name == "chart-billing" and window.chart.billing_tab is not None:
            window.chart.tabs.setCurrentWidget(window.chart.billing_tab)
    elif name == "lock":
        window.lock()
    elif name == "billing-payers":
        window.go("Billing")
        billing_page = window.pages["Billing"]
        billing_page.tabs.setCurrentWidget(billing_page.payers_tab)  # type: ignore[attr-defined]
    elif name == "intake":
        from iopdesk.ui.pages.intake import IntakeDialog

        target = IntakeDialog(window.ctx, window)
        target.show()
    elif name in ("signin", "hours"):
        from datetime import date

        from iopdesk.services.schedule import list_sessions

        window.go("Attendance")
        page_widget = window.pages["Attendance"]
        if name == "signin":
            groups = [
                s for s in list_sessions(db, actor, date.today(), date.today()) if s.kind == "group"
            ]
            if groups:
                page_widget.open_session(groups[0].id)  # type: ignore[attr-defined]
        else:
            page_widget.tabs.setCurrentIndex(1)  # type: ignore[attr-defined]
    else:
        window.go(name.title())
        if name == "billing":
            window.pages["Billing"].preview()  # type: ignore[attr-defined]
    for _ in range(5):
        app.processEvents()
    target.grab().save(out)
    window._closing_for_sign_out = False
    window.close()
    print(f"Saved {out}")
    return 0
