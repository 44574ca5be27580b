"""The `iopdesk` command: the GUI launcher and the automation subcommands.

Errors the user can fix exit non-zero with one clear line; bugs are logged (no PHI) and
reported with the log file's location, never with a traceback on the terminal.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Sequence

from iopdesk import __version__
from iopdesk.errors import AuthenticationError, UserError

log = logging.getLogger("iopdesk.cli")

EXIT_OK = 0
EXIT_FAILED_CHECK = 1
EXIT_USER_ERROR = 2
EXIT_BUG = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iopdesk",
        description="IOPDesk: administration for Intensive Outpatient Program clinics. "
        "With no command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"IOPDesk {__version__}")
    parser.add_argument(
        "--db",
        metavar="URL|PATH",
        help="database: a local file path or postgresql://user@server/database "
        "(default: this computer's configured database)",
    )
    parser.add_argument(
        "--user",
        metavar="NAME",
        help="sign in as NAME; the password is read from IOPDESK_PASSWORD, else prompted",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="open the app on a fresh demo clinic with fake data")
    demo.add_argument("--login", action="store_true", help="show the sign-in dialog")
    demo.add_argument("--screenshot", metavar="PNG", help=argparse.SUPPRESS)
    demo.add_argument("--page", default="today", help=argparse.SUPPRESS)
    demo.add_argument("--size", default="1366x768", help=argparse.SUPPRESS)

    init = sub.add_parser("init", help="create a new clinic database and its first administrator")
    init.add_argument("--clinic-name", required=True, metavar="NAME")
    init.add_argument("--admin", required=True, metavar="USER", help="administrator user name")
    init.add_argument("--admin-name", default="", metavar="FULL NAME")

    user = sub.add_parser("user", help="manage user accounts")
    user_sub = user.add_subparsers(dest="user_command", metavar="ACTION")
    add = user_sub.add_parser("add", help="add a user (the new password from IOPDESK_NEW_PASSWORD)")
    add.add_argument("username")
    add.add_argument(
        "--role",
        required=True,
        metavar="ROLE[,ROLE]",
        help="front_desk, therapist, supervisor, billing, admin",
    )
    add.add_argument("--name", default="", metavar="FULL NAME")

    aud = sub.add_parser("audit", help="audit log tools")
    aud_sub = aud.add_subparsers(dest="audit_command", metavar="ACTION")
    aud_sub.add_parser("verify", help="check the audit log's tamper-evident chain")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from iopdesk import logsetup

    log_file = logsetup.setup()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(parser, args)
    except UserError as exc:
        print(f"iopdesk: {exc.message}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("iopdesk: cancelled.", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as exc:
        log.exception("unexpected error in command %s: %s", args.command, type(exc).__name__)
        print(
            f"iopdesk: an unexpected error happened ({type(exc).__name__}). Nothing more was "
            f"changed. Details for support are in {log_file}.",
            file=sys.stderr,
        )
        return EXIT_BUG


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command is None:
        from iopdesk.ui.app import run_gui

        return run_gui(db=args.db, username=args.user)
    if args.command == "demo":
        from iopdesk.ui.app import run_demo

        return run_demo(
            show_login=args.login, screenshot=args.screenshot, page=args.page, size=args.size
        )
    if args.command == "init":
        return _init(args)
    if args.command == "user":
        if args.user_command != "add":
            parser.parse_args(["user", "--help"])
        return _user_add(args)
    if args.command == "audit":
        if args.audit_command != "verify":
            parser.parse_args(["audit", "--help"])
        return _audit_verify(args)
    parser.print_help()
    return EXIT_USER_ERROR


def _cli_passphrase(creating: bool) -> str:
    if not sys.stdin.isatty():
        return ""
    if creating:
        print(
            "This computer has no system keyring. Choose a passphrase for the database; it is "
            "needed every time IOPDesk opens the database. Keep it safe: without it the data "
            "cannot be recovered."
        )
        first = getpass.getpass("New database passphrase: ")
        if getpass.getpass("Type it again: ") != first:
            raise UserError("The two passphrases do not match.")
        return first
    return getpass.getpass("Database passphrase: ")


def _password(env: str, prompt: str, confirm: bool = False) -> str:
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise UserError(f"No password given: set {env} or run the command in a terminal.")
    value = getpass.getpass(prompt)
    if confirm and getpass.getpass("Type it again: ") != value:
        raise UserError("The two passwords do not match.")
    return value


def _open(args: argparse.Namespace, create: bool = False):  # type: ignore[no-untyped-def]
    from iopdesk.db import Database

    return Database.open(args.db, create=create, passphrase_provider=_cli_passphrase)


def _sign_in(db, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from iopdesk.services.auth import login

    if not args.user:
        raise AuthenticationError("Sign in with --user NAME (password from IOPDESK_PASSWORD).")
    return login(db, args.user, _password("IOPDESK_PASSWORD", f"Password for {args.user}: "))


def _init(args: argparse.Namespace) -> int:
    from iopdesk.db import resolve_target
    from iopdesk.services.auth import check_password_policy
    from iopdesk.services.clinic import is_initialized, setup_clinic

    password = _password("IOPDESK_PASSWORD", f"Password for {args.admin}: ", confirm=True)
    check_password_policy(password)
    target = resolve_target(args.db)
    create = target.path is not None and not (target.path.exists() and target.path.stat().st_size)
    db = _open(args, create=create)
    try:
        if is_initialized(db):
            raise UserError(f"{target.describe()} already has a clinic; nothing was changed.")
        setup_clinic(db, args.clinic_name, args.admin, password, args.admin_name)
        print(f"Created clinic '{args.clinic_name.strip()}' with administrator '{args.admin}'.")
        print(f"Database: {db.describe()}")
        print(db.key_description)
    finally:
        db.close()
    return EXIT_OK


def _user_add(args: argparse.Namespace) -> int:
    from iopdesk.services.auth import add_user

    db = _open(args)
    try:
        actor = _sign_in(db, args)
        password = _password("IOPDESK_NEW_PASSWORD", f"New password for {args.username}: ", True)
        info = add_user(db, actor, args.username, password, args.role, args.name)
        roles = ", ".join(sorted(r.value for r in info.roles))
        print(f"Added user '{info.username}' ({roles}).")
    finally:
        db.close()
    return EXIT_OK


def _audit_verify(args: argparse.Namespace) -> int:
    from iopdesk.services import audit
    from iopdesk.services.permissions import Perm, require

    db = _open(args)
    try:
        actor = _sign_in(db, args)
        require(actor, Perm.AUDIT_VIEW)
        result = audit.verify(db)
        audit.record_now(
            db,
            actor,
            audit.Action.AUDIT_VERIFY,
            entity="audit_event",
            detail="ok" if result.ok else f"broken at {result.first_bad_id}",
            flagged=not result.ok,
        )
        print(result.message())
    finally:
        db.close()
    return EXIT_OK if result.ok else EXIT_FAILED_CHECK
