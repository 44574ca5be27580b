"""Start the GUI: open the database (asking for the passphrase when there is no keyring),
first-start setup, sign-in, then the main window. Also the demo launcher."""

from __future__ import annotations

import logging
import secrets
import shutil
import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialog, QWidget

from iopdesk import paths
from iopdesk.db import Database, DbTarget, resolve_target
from iopdesk.errors import CorruptDatabaseError, UserError, WrongKeyError
from iopdesk.services import auth
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import get_clinic, is_initialized, setup_clinic
from iopdesk.ui import boot, clock, msgbox, ops
from iopdesk.ui.boot import make_app
from iopdesk.ui.clock import clinic_time
from iopdesk.ui.context import AppContext
from iopdesk.ui.dialogs import (
    LoginDialog,
    PassphraseDialog,
    RecoveryKeyDialog,
    RestoreBackupDialog,
    SetupDialog,
)
from iopdesk.ui.mainwindow import MainWindow
from iopdesk.ui.widgets import Page

log = logging.getLogger(__name__)


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
        except CorruptDatabaseError as exc:
            return offer_restore(target, exc)
        except UserError as exc:
            if "No database passphrase was given" in exc.message:
                return None
            msgbox.error(None, exc.title, exc.message)
            return None
    return None


def auto_backup(db: Database) -> None:
    """The automatic backup never stops the app: a failure is recorded for Today and Admin."""
    from iopdesk.services import backup

    try:
        backup.auto_backup(db)
    except Exception as exc:
        log.error("automatic backup: unexpected %s", type(exc).__name__)


def offer_restore(target: DbTarget, exc: CorruptDatabaseError) -> Database | None:
    """The database file is damaged: offer the latest good backup (an administrator confirms
    with their password, checked against that backup). The damaged file is kept aside."""
    from iopdesk import secrets as keys
    from iopdesk.services import backup

    if target.path is None:
        msgbox.error(None, exc.title, exc.message)
        return None
    path = target.path
    try:
        key, info = keys.load_key(path, gui_passphrase)
        candidates = backup.restore_candidates(path, key, limit=1)
    except UserError as err:
        msgbox.error(None, exc.title, f"{exc.message}\n\n{err.message}")
        return None
    if not candidates:
        msgbox.error(
            None,
            exc.title,
            f"{exc.message}\n\nNo good backup of this database was found in the backup folder. "
            "If the backups are on an external drive, connect it and start IOPDesk again.",
        )
        return None
    when, source = candidates[0]
    if not msgbox.confirm(
        None,
        "Restore the latest good backup?",
        f"{exc.message}\n\nThe latest good backup was made "
        f"{clinic_time(when):%m/%d/%Y %H:%M}:\n{source}\n\nRestore it now? Changes made "
        "after that time are not in it. The damaged file is kept aside. An administrator "
        "signs in to confirm.",
    ):
        return None
    dialog = LoginDialog(
        "Restore the latest backup",
        lambda u, p, code: backup.restore_damaged(
            path, source, lambda staged: auth.login(staged, u, p, code), key=key
        ),
        f"Administrator sign-in to restore {source.name}",
    )
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    db = Database.open(target, key=key)
    db.key_description = info.describe()
    msgbox.info(None, "Backup restored", f"The backup {source.name} was restored.")
    return db


RESTORE_CHOSEN = "restore"


def first_start(db: Database) -> Actor | str | None:
    """The clinic's name and first administrator; RESTORE_CHOSEN when the user chose
    "Restore from a backup" instead (a new PC for a clinic that already has data)."""
    dialog = SetupDialog()

    def check_and_create() -> None:
        """What was typed is checked here; the clinic is made (password hash, tables) on an
        op worker while the dialog waits with its buttons off."""
        dialog._check()
        name, username = dialog.clinic_name.text(), dialog.username.text()
        password, full_name = dialog.password.text(), dialog.full_name.text()
        dialog.save_action = lambda: setup_clinic(db, name, username, password, full_name)

    dialog.accept_action = check_and_create
    code = dialog.exec()
    if code == SetupDialog.RESTORE:
        return RESTORE_CHOSEN
    if code != QDialog.DialogCode.Accepted:
        return None
    actor: Actor = dialog.saved
    show_recovery_key(db)
    return actor


def show_recovery_key(db: Database, parent: QWidget | None = None) -> bool:
    """Make the clinic's recovery key when it has none yet, and show it once with the kit.
    At set-up, and at an administrator's sign-in for a database made by an older IOPDesk."""
    from iopdesk.services import recovery

    try:
        if get_clinic(db).is_demo or recovery.has_recovery_key(db):
            return False
        made = recovery.ensure_recovery_key(db)
    except UserError as exc:
        msgbox.user_error(parent, exc)
        return False

    def save(name: str) -> None:
        from pathlib import Path

        target = Path(name if name.lower().endswith(".pdf") else name + ".pdf")
        recovery.write_kit(db, made, target)

    RecoveryKeyDialog(made.key, save, parent).exec()
    return True


def restore_at_first_start(target: DbTarget, empty: Database) -> Database | None:
    """First start on a new PC: restore a backup with the recovery key or the passphrase,
    keyed for this PC and verified. `empty` is the database just made for the setup (no
    clinic in it); it is closed and replaced. None when the user cancelled."""
    from pathlib import Path

    from iopdesk import secrets as keys
    from iopdesk.errors import ValidationError
    from iopdesk.services import backup

    if target.path is None:
        msgbox.info(None, "Restore from a backup", backup.pg_restore_hint(target))
        return None
    path = target.path
    dialog = RestoreBackupDialog(str(paths.data_dir() / "backups"))
    chosen: dict[str, str] = {}

    def new_passphrase(creating: bool) -> str:  # asked in the middle of the restore
        chosen["passphrase"] = ops.ask_on_gui(lambda: gui_passphrase(creating))
        return chosen["passphrase"]

    typed: dict[str, Any] = {}

    def check_typed() -> None:  # GUI thread: what was typed
        typed["source"] = Path(dialog.file.text().strip())
        typed["key"] = dialog.recovery_key.text().strip() or None
        typed["pass"] = dialog.passphrase.text() or None
        if not dialog.file.text().strip() or not typed["source"].is_file():
            raise ValidationError("Choose the backup file (Choose...).")
        if not typed["key"] and not typed["pass"]:
            raise ValidationError("Type the recovery key from the recovery kit, or the passphrase.")

    def run() -> None:  # an op worker: the key check and the restore take seconds
        source, typed_key, typed_pass = typed["source"], typed["key"], typed["pass"]
        backup.backup_key(source, recovery_key=typed_key, passphrase=typed_pass)  # check first
        if not chosen.get("cleared") and not is_initialized(empty):
            chosen["cleared"] = "yes"  # nothing in it: make room for the backup
            empty.close()
            for name in (path.name, path.name + "-wal", path.name + "-shm"):
                path.with_name(name).unlink(missing_ok=True)
            keys.keyinfo_path(path).unlink(missing_ok=True)
        done = backup.restore_new(
            path,
            source,
            recovery_key=typed_key,
            passphrase=typed_pass,
            new_passphrase=new_passphrase,
        )
        if typed_pass and not typed_key:
            chosen.setdefault("passphrase", typed_pass)
        dialog.outcome = done  # type: ignore[attr-defined]

    dialog.accept_action = check_typed
    dialog.save_action = run
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    done: backup.NewPcRestore = dialog.outcome  # type: ignore[attr-defined]
    box = msgbox.info if done.audit_ok else msgbox.warning
    box(
        None,
        "Backup restored",
        f"Restored {done.result.rows:,} rows from {done.result.restored_from.name}.\n\n"
        f"{done.key_description}\n{done.audit_message}\n\nStaff sign in with their usual "
        "accounts.",
    )
    remembered = chosen.get("passphrase")
    return Database.open(
        target,
        passphrase_provider=(lambda _c: remembered) if remembered else gui_passphrase,
    )


def sign_in(db: Database, clinic_name: str, username: str = "") -> Actor | None:
    def attempt(u: str, p: str, code: str | None) -> object:  # on an op worker
        try:
            return auth.login(db, u, p, code)
        except auth.PasswordChangeRequired as exc:
            return exc  # right password, but it was reset: a new one first

    dialog = LoginDialog(clinic_name, attempt, db.describe(), username=username)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return after_sign_in(db, dialog.result_value, dialog)


def require_new_password(
    db: Database, actor: Actor, temporary: str, parent: QWidget | None = None
) -> bool:
    """After an administrator's reset: the forced "New password required" dialog. False when
    the user signs out instead (nothing opens with the temporary password)."""
    from iopdesk.ui.dialogs import ChangePasswordDialog

    dialog = ChangePasswordDialog(
        lambda old, new: auth.change_password(db, actor, old, new),
        required=True,
        current=temporary,
        parent=parent,
    )
    return dialog.exec() == QDialog.DialogCode.Accepted


def after_sign_in(db: Database, result: object, dialog: LoginDialog) -> Actor | None:
    """What must happen between the password check and the main window: a new password
    after an administrator's reset, then two-factor enrolment when required. None when the
    user gave up (signed out instead)."""
    from iopdesk.ui.pages.privacy import enrol_if_required

    if isinstance(result, auth.PasswordChangeRequired):
        if not require_new_password(db, result.actor, dialog.password.text(), dialog):
            return None
        result = result.actor
    if not isinstance(result, Actor):
        return None
    if not enrol_if_required(db, result, dialog):
        return None
    return result


def keep_schedule_ahead(db: Database, actor: Actor) -> int:
    """Group sessions are kept generated `schedule_weeks_ahead` weeks ahead at sign-in
    (idempotent), so the front desk never finds an empty week."""

    from iopdesk.services.permissions import Perm, has
    from iopdesk.services.schedule import generate_sessions

    if not has(actor, Perm.SCHEDULE_MANAGE):
        return 0
    try:
        return generate_sessions(db, actor, clock.today())
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
        from iopdesk.models.enums import Role

        if Role.ADMIN in current.roles and not demo:
            show_recovery_key(db)  # a database made before recovery keys existed
        window = MainWindow(AppContext(db, current, get_clinic(db)), demo=demo)
        window.signed_out.connect(lambda: QTimer.singleShot(0, lambda: show(None)))
        state["window"] = window
        window.show()
        # Group sessions weeks ahead: after the window is up, in the background.
        signed_in = current
        ops.Op(window, lambda: keep_schedule_ahead(db, signed_in)).failure(
            lambda exc: ops.log_bug(exc)
        ).run_in_background()
        # The automatic backup, when one is due: in the background once the window is up. A
        # large clinic's takes ~15 s, which used to pass after the sign-in with nothing shown.
        ops.Op(window, lambda: auto_backup(db)).run_in_background()

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
            chosen = first_start(database)
            if chosen == RESTORE_CHOSEN:
                restored = restore_at_first_start(target, database)
                if restored is None:
                    return 0
                database = restored
            elif not isinstance(chosen, Actor):
                return 0
            else:
                actor = chosen
        clinic_info = get_clinic(database)
        boot.remember(db, clinic_info.name, database.describe())  # next start: sign-in at once
        # The automatic backup runs (when due) in the background after the window is up, and
        # at close.
        code = run_session(app, database, actor, clinic_info.is_demo, username or "")
        auto_backup(database)
        return code
    finally:
        database.close()


def run_demo(
    show_login: bool = False,
    self_test: bool = False,
    db_target: str | None = None,
    show: Callable[[QApplication, Database, Actor], int] | None = None,
) -> int:
    """A fresh demo clinic each time, in its own folder; the key lives only in memory.

    With `db_target`, the demo clinic is created in that new database instead (its key in the
    keyring or from IOPDESK_DB_PASSPHRASE, like a real one) and kept, or a demo clinic kept
    there before is opened again: the release smoke test. `show`, instead of the window, gets
    the demo clinic signed in as the administrator (the dev tools' screenshots)."""
    from iopdesk.demo import DEMO_PASSWORD, create_demo_clinic

    app = make_app()
    fresh = True
    if db_target:
        db, fresh = _open_demo_database(db_target)
    else:
        folder = paths.data_dir() / "demo"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        db = Database.open(
            DbTarget(path=folder / "iopdesk-demo.db"), create=True, key=secrets.token_bytes(32)
        )
        db.key_description = "Demo data: its encryption key is held in memory for this run only."
    try:
        if fresh:
            create_demo_clinic(db)
        admin = auth.login(db, "admin", DEMO_PASSWORD)
        if self_test:
            return _self_test(app, db, DEMO_PASSWORD)
        if show is not None:
            return show(app, db, admin)
        print(
            f"Demo clinic ready. Sign in as admin, frontdesk, therapist, supervisor or "
            f"billing with the password {DEMO_PASSWORD!r}."
        )
        return run_session(
            app,
            db,
            None if show_login else admin,
            demo=True,
            username="admin" if show_login else "",
        )
    finally:
        db.close()


def _open_demo_database(value: str) -> tuple[Database, bool]:
    """(database, empty) for a kept demo clinic: a new database, or one holding a demo clinic
    from before; never a database with a real clinic."""
    target = resolve_target(value)
    creating = target.path is not None and not (
        target.path.exists() and target.path.stat().st_size > 0
    )
    db = Database.open(target, create=creating, passphrase_provider=gui_passphrase)
    if not is_initialized(db):
        return db, True
    if get_clinic(db).is_demo:
        return db, False
    db.close()
    raise UserError(f"{target.describe()} holds a real clinic; the demo needs a new database.")


def _self_test(app: QApplication, db: Database, password: str) -> int:
    """Sign in as each demo role, open every main screen and a client chart with every tab,
    paint each one, and close. 0 when nothing failed; the release smoke test runs this on the
    frozen app to prove Qt plugins, fonts, resources and services all load."""
    from iopdesk.demo import STAFF

    msgbox.NON_BLOCKING = True
    shown_before = len(msgbox.shown)
    failures: list[str] = []
    screens = 0
    seen_roles: set[frozenset[str]] = set()
    for username in ["admin", *(spec.username for spec in STAFF)]:
        actor = auth.login(db, username, password)
        roles = frozenset(r.value for r in actor.roles)
        if roles not in seen_roles:
            first = not seen_roles
            seen_roles.add(roles)
            screens += _self_test_window(app, db, actor, "+".join(sorted(roles)), failures, first)
    try:  # the long file jobs (billing and workbook export, import) run in a worker process
        from iopdesk import worker
        from iopdesk.migrations import HEAD
        from iopdesk.services import jobs

        if worker.run(db, actor, jobs.ping) != HEAD:
            failures.append("worker process: read another schema revision")
    except Exception as exc:
        log.error("self-test: the worker process failed with %s", type(exc).__name__)
        failures.append(f"worker process ({type(exc).__name__})")
    for box in msgbox.shown[shown_before:]:
        if box.icon in ("Critical", "Warning"):
            failures.append(f"message shown: {box.title}")
    if failures:
        print("Self-test FAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    print(f"Self-test passed: {screens} screens for {len(seen_roles)} roles opened and painted.")
    return 0


def _self_test_window(
    app: QApplication,
    db: Database,
    actor: Actor,
    label: str,
    failures: list[str],
    first: bool = False,
) -> int:
    """One role's main window: every page, then the first active client's chart tabs."""
    from functools import partial

    from iopdesk.services.clients import list_census

    try:
        window = MainWindow(AppContext(db, actor, get_clinic(db)), demo=True)
    except Exception as exc:
        log.error("self-test: the main window failed with %s", type(exc).__name__)
        failures.append(f"{label}: main window ({type(exc).__name__}: {exc})")
        return 0
    window.resize(1366, 768)
    window.show()
    ops.spin()
    window.grab()
    if first:  # the release smoke test times the start-up to this line
        print("Self-test: the first main window is painted.", flush=True)
    screens = 0

    def visit(name: str, action: Callable[[], object]) -> None:
        nonlocal screens
        try:
            action()
            ops.wait_all()
            ops.spin()
            window.grab()
            screens += 1
        except Exception as exc:  # report every screen, not only the first failure
            log.error("self-test: %s failed with %s", name, type(exc).__name__)
            failures.append(f"{label}: {name} ({type(exc).__name__})")

    def open_page(page: Page) -> None:
        window.stack.setCurrentWidget(page)
        page.refresh()

    for name, page in list(window.pages.items()):
        visit(name, partial(open_page, page))
    if "Clients" in window.pages:
        rows = list_census(db, actor, status="active")
        if rows:
            client_id = rows[0].id
            visit("client chart", lambda: window.chart.load(client_id))
            tabs = window.chart.tabs
            for index in range(tabs.count()):
                visit(f"chart tab {tabs.tabText(index)}", partial(tabs.setCurrentIndex, index))
    window._closing_for_sign_out = False
    window.close()
    window.deleteLater()
    ops.spin()
    return screens
