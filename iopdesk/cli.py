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
from datetime import date
from pathlib import Path

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
    demo.add_argument(
        "--self-test",
        action="store_true",
        help="open every main screen for each demo role, close, and exit 0 when all worked "
        "(with --db, the demo clinic is created in that new database and kept)",
    )

    init = sub.add_parser("init", help="create a new clinic database and its first administrator")
    init.add_argument("--clinic-name", required=True, metavar="NAME")
    init.add_argument("--admin", required=True, metavar="USER", help="administrator user name")
    init.add_argument("--admin-name", default="", metavar="FULL NAME")
    init.add_argument(
        "--recovery-kit",
        metavar="FILE.pdf",
        help="also write the printable recovery kit (with the recovery key) to this file",
    )

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

    imp = sub.add_parser(
        "import", help="import clinic data from an Excel workbook (all or nothing)"
    )
    imp.add_argument(
        "file", metavar="FILE.xlsx", help="a clinic workbook, or 'remittance' then FILE.835"
    )
    imp.add_argument("remittance_file", nargs="?", metavar="FILE.835", help=argparse.SUPPRESS)
    imp.add_argument("--dry-run", action="store_true", help="check the workbook, change nothing")

    exp = sub.add_parser("export", help="export data")
    exp_sub = exp.add_subparsers(dest="export_command", metavar="WHAT")
    wb = exp_sub.add_parser("workbook", help="the whole clinic in the import workbook format")
    wb.add_argument("-o", "--output", required=True, metavar="FILE.xlsx")
    _release_options(wb)

    bil = exp_sub.add_parser("billing", help="claim lines for a period (records a billing batch)")
    bil.add_argument("--from", dest="date_from", required=True, metavar="YYYY-MM-DD")
    bil.add_argument("--to", dest="date_to", required=True, metavar="YYYY-MM-DD")
    bil.add_argument("-o", "--output", required=True, metavar="FILE.xlsx")
    bil.add_argument("--payer", metavar="ID", help="only this payer (its payer ID)")
    bil.add_argument(
        "--include-billed", action="store_true", help="also lines already in a billing batch"
    )
    bil.add_argument(
        "--dry-run",
        action="store_true",
        help="show what would be exported; write no file, record no batch",
    )
    _release_options(bil)

    clm = exp_sub.add_parser(
        "claims", help="837P/837I files for a period, one per payer and claim type"
    )
    clm.add_argument("--from", dest="date_from", required=True, metavar="YYYY-MM-DD")
    clm.add_argument("--to", dest="date_to", required=True, metavar="YYYY-MM-DD")
    clm.add_argument("-o", "--output", required=True, metavar="DIR", help="existing folder")
    clm.add_argument("--payer", metavar="ID", help="only this payer (its payer ID)")
    clm.add_argument(
        "--dry-run", action="store_true", help="build and validate, write and record nothing"
    )
    _release_options(clm)

    rep = sub.add_parser("report", help="reports")
    rep_sub = rep.add_subparsers(dest="report_command", metavar="REPORT")
    att = rep_sub.add_parser("attendance", help="weekly hours against the requirement")
    att.add_argument("--week", required=True, metavar="YYYY-MM-DD", help="any date in the week")
    att.add_argument("-o", "--output", required=True, metavar="FILE.xlsx|FILE.pdf")
    _release_options(att)
    age = rep_sub.add_parser("aging", help="accounts-receivable aging and denials (835 posted)")
    age.add_argument("-o", "--output", required=True, metavar="FILE.xlsx|FILE.pdf")
    age.add_argument("--as-of", dest="as_of", metavar="YYYY-MM-DD", help="default: today")
    _release_options(age)

    bak = sub.add_parser("backup", help="back up the database now (verified after writing)")
    bak.add_argument(
        "-o", "--output", metavar="FILE", help="write the backup here (default: backup folder)"
    )
    res = sub.add_parser(
        "restore",
        help="replace the local database with a verified backup (administrator); where no "
        "database exists yet (a new PC), the key comes from IOPDESK_RECOVERY_KEY, "
        "IOPDESK_DB_PASSPHRASE or a prompt",
    )
    res.add_argument("file", metavar="FILE")

    kit = sub.add_parser(
        "recovery-kit",
        help="print the clinic's recovery kit (PDF with the recovery key) again (administrator)",
    )
    kit.add_argument("-o", "--output", required=True, metavar="FILE.pdf")
    kit.add_argument(
        "--new",
        action="store_true",
        help="replace the recovery key (the old kit was lost); older backups keep the old key",
    )

    prn = sub.add_parser("print", help="printable documents (PDF)")
    prn_sub = prn.add_subparsers(dest="print_command", metavar="WHAT")
    pac = prn_sub.add_parser("aftercare", help="a client's aftercare packet")
    pac.add_argument("mrn", nargs="?", metavar="MRN", help="the client's MRN")
    pac.add_argument("--client", metavar="MRN", help="the client's MRN (same as MRN)")
    pac.add_argument("-o", "--output", required=True, metavar="FILE.pdf")
    pac.add_argument(
        "--language", choices=("en", "es"), help="default: the client's primary language"
    )
    given = pac.add_argument_group(
        "who receives the packet",
        "Default: the client's own copy. --internal for use inside the clinic; --recipient and "
        "--purpose when it goes to someone else (a disclosure: the recipient's exact name in "
        "the recipient directory; it needs a consent or authorization covering it).",
    )
    to = given.add_mutually_exclusive_group()
    to.add_argument("--internal", action="store_true", help="for use inside the clinic")
    to.add_argument(
        "--recipient", metavar="NAME", help="recipient directory name (exact, any case)"
    )
    given.add_argument("--purpose", metavar="TEXT", help="purpose of the disclosure")
    given.add_argument(
        "--leave-out",
        choices=("medications",),
        action="append",
        default=[],
        help="print the packet without this (when the consent does not cover it)",
    )

    acc = sub.add_parser("account", help="your own account")
    acc_sub = acc.add_subparsers(dest="account_command", metavar="ACTION")
    acc_sub.add_parser(
        "password",
        help="change your password (current one from IOPDESK_PASSWORD, the new one from "
        "IOPDESK_NEW_PASSWORD, else prompted); also after an administrator's reset",
    )

    dbp = sub.add_parser("db", help="database administration (schema upgrade, server roles)")
    db_sub = dbp.add_subparsers(dest="db_command", metavar="ACTION")
    upg = db_sub.add_parser(
        "upgrade",
        help="bring the schema up to date; on PostgreSQL run it with the owner account",
    )
    upg.add_argument(
        "--app-role",
        metavar="ROLE",
        help="PostgreSQL: create (if missing) and grant the workstations' application role: "
        "data only, the audit log append-only (password from IOPDESK_APP_DB_PASSWORD)",
    )

    aud = sub.add_parser("audit", help="audit log tools")
    aud_sub = aud.add_subparsers(dest="audit_command", metavar="ACTION")
    aud_sub.add_parser("verify", help="check the audit log's tamper-evident chain")
    return parser


def _release_options(parser: argparse.ArgumentParser) -> None:
    """Who receives an export (42 CFR Part 2): internal use unless --recipient is given."""
    group = parser.add_argument_group(
        "who receives the file",
        "Default --internal (staff of this clinic). A file that leaves the clinic is a "
        "disclosure: give --recipient (its exact name in the recipient directory) and "
        "--purpose; every client in it then needs a consent or authorization covering it "
        "(non-Part 2 clients: none needed for treatment, payment or operations).",
    )
    who = group.add_mutually_exclusive_group()
    who.add_argument("--internal", action="store_true", help="for use inside the clinic")
    who.add_argument(
        "--recipient", metavar="NAME", help="recipient directory name (exact, any case)"
    )
    group.add_argument("--purpose", metavar="TEXT", help="purpose of the disclosure")


def _release(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from iopdesk.services.disclosures import INTERNAL, Release

    if args.recipient:
        if not (args.purpose or "").strip():
            raise UserError("Give --purpose with --recipient (e.g. --purpose payment).")
        if not args.recipient.strip():
            raise UserError("Give the recipient's name in the recipient directory.")
        return Release("disclosure", args.recipient.strip(), args.purpose.strip())
    if args.purpose:
        raise UserError("--purpose needs --recipient (who receives the file).")
    return INTERNAL


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
        # The sign-in window paints before the database stack is imported (ui/boot.py).
        from iopdesk.ui.boot import run_gui

        return run_gui(db=args.db, username=args.user)
    if args.command == "demo":
        if (
            args.screenshot and not args.self_test
        ):  # a developer's tool (make screenshots): the product never loads it
            from iopdesk.devtools.screenshots import demo_screenshot

            return demo_screenshot(args.screenshot, page=args.page, size=args.size, db=args.db)
        from iopdesk.ui.app import run_demo

        return run_demo(show_login=args.login, self_test=args.self_test, db_target=args.db)
    if args.command == "init":
        return _init(args)
    if args.command == "user":
        if args.user_command != "add":
            parser.parse_args(["user", "--help"])
        return _user_add(args)
    if args.command == "import":
        return _import(args)
    if args.command == "export":
        if args.export_command == "billing":
            return _export_billing(args)
        if args.export_command == "claims":
            return _export_claims(args)
        if args.export_command != "workbook":
            parser.parse_args(["export", "--help"])
        return _export_workbook(args)
    if args.command == "report":
        if args.report_command == "aging":
            return _report_aging(args)
        if args.report_command != "attendance":
            parser.parse_args(["report", "--help"])
        return _report_attendance(args)
    if args.command == "backup":
        return _backup(args)
    if args.command == "restore":
        return _restore(args)
    if args.command == "recovery-kit":
        return _recovery_kit(args)
    if args.command == "print":
        if args.print_command != "aftercare":
            parser.parse_args(["print", "--help"])
        return _print_aftercare(args)
    if args.command == "account":
        if args.account_command != "password":
            parser.parse_args(["account", "--help"])
        return _account_password(args)
    if args.command == "db":
        if args.db_command != "upgrade":
            parser.parse_args(["db", "--help"])
        return _db_upgrade(args)
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
    from iopdesk.db import Database, resolve_target
    from iopdesk.errors import CorruptDatabaseError

    try:
        return Database.open(args.db, create=create, passphrase_provider=_cli_passphrase)
    except CorruptDatabaseError as exc:
        target = resolve_target(args.db)
        if target.path is not None and args.command != "restore":
            from iopdesk.services.backup import damaged_hint

            exc.message = f"{exc.message} {damaged_hint(target.path)}"
        raise


def _sign_in(db, args: argparse.Namespace, password: str | None = None):  # type: ignore[no-untyped-def]
    """The signed-in user. A password an administrator reset raises PasswordChangeRequired
    (main prints its one line): only `iopdesk account password` goes on from there."""
    from iopdesk.services.auth import login
    from iopdesk.services.totp import TwoFactorRequired

    if not args.user:
        raise AuthenticationError("Sign in with --user NAME (password from IOPDESK_PASSWORD).")
    if password is None:
        password = _password("IOPDESK_PASSWORD", f"Password for {args.user}: ")
    code = os.environ.get("IOPDESK_TOTP") or None
    try:
        return login(db, args.user, password, code)
    except TwoFactorRequired:
        if not sys.stdin.isatty():
            raise UserError(
                "This account uses two-factor sign-in: set IOPDESK_TOTP to the current code."
            ) from None
        return login(db, args.user, password, input("Two-factor code: ").strip())


def _account_password(args: argparse.Namespace) -> int:
    """Change one's own password; the way out of "must change at next sign-in" without the
    app. The new password meets the policy and differs from the current one; audited."""
    from iopdesk.services.auth import PasswordChangeRequired, change_password, check_password_policy

    if not args.user:
        raise AuthenticationError(
            "Say whose password: iopdesk --user NAME account password (the current password "
            "from IOPDESK_PASSWORD, the new one from IOPDESK_NEW_PASSWORD)."
        )
    db = _open(args)
    try:
        current = _password("IOPDESK_PASSWORD", f"Current password for {args.user}: ")
        try:
            actor = _sign_in(db, args, current)
        except PasswordChangeRequired as exc:
            actor = exc.actor
        new = _password("IOPDESK_NEW_PASSWORD", "New password: ", confirm=True)
        check_password_policy(new)
        change_password(db, actor, current, new)
        print(f"Changed the password of '{actor.username}'.")
    finally:
        db.close()
    return EXIT_OK


def _init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from iopdesk.db import resolve_target
    from iopdesk.services.auth import check_password_policy
    from iopdesk.services.clinic import is_initialized, setup_clinic
    from iopdesk.services.recovery import ensure_recovery_key, write_kit

    password = _password("IOPDESK_PASSWORD", f"Password for {args.admin}: ", confirm=True)
    check_password_policy(password)
    target = resolve_target(args.db)
    create = target.path is not None and not (target.path.exists() and target.path.stat().st_size)
    db = _open(args, create=create)
    try:
        if is_initialized(db):
            raise UserError(f"{target.describe()} already has a clinic; nothing was changed.")
        setup_clinic(db, args.clinic_name, args.admin, password, args.admin_name)
        recovery = ensure_recovery_key(db)
        if args.recovery_kit:
            write_kit(db, recovery, Path(args.recovery_kit))
        print(f"Created clinic '{args.clinic_name.strip()}' with administrator '{args.admin}'.")
        print(f"Database: {db.describe()}")
        print(db.key_description)
        print(f"Recovery key: {recovery.key}")
        print(
            "Write the recovery key down or print the recovery kit"
            + (f" ({args.recovery_kit})" if args.recovery_kit else "")
            + " and keep it locked away from this PC: it opens the backups on a new PC. It is "
            "shown only now; an administrator can print the kit again with "
            "`iopdesk --user ADMIN recovery-kit -o FILE.pdf`."
        )
    finally:
        db.close()
    return EXIT_OK


def _db_upgrade(args: argparse.Namespace) -> int:
    """Upgrade the schema (the only command meant for the PostgreSQL owner account), then
    optionally grant the application role."""
    from iopdesk import migrations
    from iopdesk.db import Database

    db = Database.open(args.db, passphrase_provider=_cli_passphrase, migrate=False)
    try:
        before = db.schema_revision()
        db.migrate()
        after = db.schema_revision()
        if before == after:
            print(f"The schema is up to date ({after}).")
        else:
            print(f"Upgraded the schema from {before or '(empty database)'} to {after}.")
        assert after == migrations.HEAD
        if args.app_role:
            from iopdesk.pgroles import grant_app_role

            r = grant_app_role(db, args.app_role, os.environ.get("IOPDESK_APP_DB_PASSWORD"))
            made = "Created" if r.created else "Updated"
            print(
                f"{made} the application role '{r.role}': data only on {r.tables} tables, the "
                "audit log append-only (SELECT, INSERT); no schema changes, no TRUNCATE."
            )
            print(f"Workstations connect as {r.role}; keep this owner account for db upgrade.")
        elif db.backend == "postgresql":
            print("Tip: --app-role NAME grants the workstations' data-only account.")
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
    from iopdesk.services import audit_report

    db = _open(args)
    try:
        actor = _sign_in(db, args)
        result = audit_report.verify(db, actor)  # checks the permission and records the check
        print(result.message())
    finally:
        db.close()
    return EXIT_OK if result.ok else EXIT_FAILED_CHECK


def _import(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.file == "remittance":
        return _import_remittance(args)
    if args.remittance_file is not None:
        raise UserError(
            "Import one workbook (import FILE.xlsx) or a remittance (import remittance FILE.835)."
        )

    from iopdesk.services.workbook import ImportFailed, import_workbook

    db = _open(args)
    try:
        actor = _sign_in(db, args)
        try:
            result = import_workbook(db, actor, Path(args.file), dry_run=args.dry_run)
        except ImportFailed as exc:
            print(exc.report(), file=sys.stderr)
            return EXIT_USER_ERROR
        print("\n".join(result.lines()))
    finally:
        db.close()
    return EXIT_OK


def _export_workbook(args: argparse.Namespace) -> int:
    from pathlib import Path

    from iopdesk.services.workbook import export_workbook

    db = _open(args)
    try:
        actor = _sign_in(db, args)
        counts = export_workbook(db, actor, Path(args.output), _release(args))
        print(f"Wrote {args.output}: " + ", ".join(f"{s} {n}" for s, n in counts.items()))
        if counts.skipped:
            print(
                "Left out (the format cannot express them): "
                + ", ".join(f"{s} {n}" for s, n in counts.skipped.items())
            )
    finally:
        db.close()
    return EXIT_OK


def _report_attendance(args: argparse.Namespace) -> int:
    from datetime import date
    from pathlib import Path

    from iopdesk.services.hours import export_attendance_report

    try:
        week = date.fromisoformat(args.week)
    except ValueError:
        raise UserError(f"'{args.week}' is not a date; use YYYY-MM-DD, e.g. 2026-11-23.") from None
    db = _open(args)
    try:
        actor = _sign_in(db, args)
        n = export_attendance_report(db, actor, week, Path(args.output), _release(args))
        print(f"Wrote the attendance report ({n} clients) to {args.output}")
    finally:
        db.close()
    return EXIT_OK


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"'{text}' is not a date; use YYYY-MM-DD, e.g. 2026-11-23.") from None


def _export_billing(args: argparse.Namespace) -> int:
    from pathlib import Path

    from iopdesk.services import billing

    start, end = _iso_date(args.date_from), _iso_date(args.date_to)
    db = _open(args)
    try:
        actor = _sign_in(db, args)
        r = billing.export(
            db,
            actor,
            start,
            end,
            Path(args.output),
            payer_code=args.payer,
            include_billed=args.include_billed,
            dry_run=args.dry_run,
            release=_release(args) if (args.recipient or args.purpose) else None,
        )
        if r.dry_run:  # nothing was written and no batch recorded: say only what would be
            print(
                f"Dry run: would write {args.output}: {r.lines} claim lines, "
                f"${r.total:,.2f}; {r.exceptions} exceptions. Nothing was written and no "
                "billing batch was recorded."
            )
        else:
            batch = f" (batch {r.batch_number})" if r.batch_number else ""
            print(
                f"{r.lines} claim lines, ${r.total:,.2f}{batch}; {r.exceptions} exceptions. "
                f"Wrote {args.output}"
            )
    finally:
        db.close()
    return EXIT_OK


def _import_remittance(args: argparse.Namespace) -> int:
    from pathlib import Path

    from iopdesk.services import remittance

    if not args.remittance_file:
        raise UserError("Name the 835 file: iopdesk import remittance FILE.835")
    db = _open(args)
    try:
        actor = _sign_in(db, args)
        r = remittance.import_remittance(db, actor, Path(args.remittance_file))
        if r.already_imported:
            print(f"Already imported (remittance {r.remittance_id}): nothing changed.")
            return EXIT_OK
        print(
            f"Posted 835 {r.check_number} from {r.payer_name}: {r.claims_matched} claims, "
            f"{r.lines_matched} lines matched; paid ${r.paid:,.2f}, patient responsibility "
            f"${r.patient_responsibility:,.2f}; {len(r.unmatched)} unmatched."
        )
        for u in r.unmatched:
            when = u.date_of_service.isoformat() if u.date_of_service else ""
            print(f"  unmatched: claim {u.claim_number} {u.procedure_code} {when} {u.reason}")
    finally:
        db.close()
    return EXIT_OK


def _report_aging(args: argparse.Namespace) -> int:
    from pathlib import Path

    from iopdesk.services import remittance

    as_of = _iso_date(args.as_of) if args.as_of else None
    db = _open(args)
    try:
        actor = _sign_in(db, args)
        path = remittance.export_receivables(
            db,
            actor,
            Path(args.output),
            as_of=as_of,
            release=_release(args) if (args.recipient or args.purpose) else None,
        )
        print(f"Wrote {path}")
    finally:
        db.close()
    return EXIT_OK


def _export_claims(args: argparse.Namespace) -> int:
    from pathlib import Path

    from iopdesk.services import claims

    start, end = _iso_date(args.date_from), _iso_date(args.date_to)
    db = _open(args)
    try:
        actor = _sign_in(db, args)
        r = claims.export_claims(
            db,
            actor,
            start,
            end,
            Path(args.output),
            payer_code=args.payer,
            dry_run=args.dry_run,
            release=_release(args) if (args.recipient or args.purpose) else None,
        )
        batch = f" (batch {r.batch_number})" if r.batch_number else ""
        kind = "Dry run: " if r.dry_run else ""
        print(
            f"{kind}{len(r.claims)} claims ({r.originals} original, {r.replacements} "
            f"replacement, {r.voids} void), {r.lines} lines, ${r.total:,.2f}{batch}; "
            f"{len(r.exceptions)} exceptions."
        )
        names = r.files if not r.dry_run else sorted(r.texts)
        for name in names:
            print(f"{'Would write' if r.dry_run else 'Wrote'} {name}")
        for e in r.exceptions:
            print(f"  exception: {e.mrn} {e.date_of_service.isoformat()} {e.reason}")
        for c in r.changes:
            who = c.mrn or "set-up"
            print(f"  X12 text: {who} {c.field}: '{c.before}' -> '{c.after}'")
    finally:
        db.close()
    return EXIT_OK


def _backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from iopdesk.services import backup

    db = _open(args)
    try:
        actor = _sign_in(db, args)
        out = Path(args.output) if args.output else None
        r = backup.create_backup(db, actor, out)
        checked = f", {r.rows} rows verified" if r.counts else ""
        print(f"Backed up to {r.path} ({r.size_bytes:,} bytes{checked}).")
        if r.pruned:
            print(f"Removed {len(r.pruned)} old backups (keeping the set daily and monthly ones).")
    finally:
        db.close()
    return EXIT_OK


def _restore(args: argparse.Namespace) -> int:
    from pathlib import Path

    from iopdesk.db import resolve_target
    from iopdesk.errors import CorruptDatabaseError
    from iopdesk.services import backup
    from iopdesk.services.auth import login

    target = resolve_target(args.db)
    if target.path is None:
        raise UserError(backup.pg_restore_hint(target))
    source = Path(args.file)
    if not (target.path.exists() and target.path.stat().st_size > 0):
        return _restore_new(args, target.path, source)
    try:
        db = _open(args)
    except CorruptDatabaseError:
        if not args.user:
            raise AuthenticationError(
                "Sign in with --user NAME (password from IOPDESK_PASSWORD)."
            ) from None
        password = _password("IOPDESK_PASSWORD", f"Password for {args.user}: ")
        print("The current database cannot be opened; checking the backup instead.")
        result = backup.restore_damaged(
            target.path,
            source,
            lambda staged: login(staged, args.user, password),
            passphrase_provider=_cli_passphrase,
        )
    else:
        try:
            actor = _sign_in(db, args)
            try:
                result = backup.restore(db, actor, source)
            except backup.BadBackupError as exc:
                given = (
                    os.environ.get("IOPDESK_RECOVERY_KEY")
                    or os.environ.get("IOPDESK_DB_PASSPHRASE")
                    or sys.stdin.isatty()
                )
                if "this database's key" not in exc.message or not given:
                    raise
                # A backup of another database (e.g. the clinic's real one, after `init` made
                # a new empty database here): the recovery key or its passphrase opens it.
                old_key = backup.db_key(db)
                db.close()
                return _restore_new(
                    args, target.path, source, replace=True, by=actor.username, old_key=old_key
                )
        finally:
            db.close()
    print(f"Restored {result.rows} rows from {result.restored_from}.")
    if result.kept_aside is not None:
        print(f"The previous database was kept as {result.kept_aside}.")
    return EXIT_OK


def _backup_credentials() -> tuple[str | None, str | None]:
    """The recovery key or database passphrase given for a backup (environment or prompt)."""
    from iopdesk import secrets as keys

    recovery = os.environ.get(keys.RECOVERY_ENV, "").strip() or None
    passphrase = os.environ.get("IOPDESK_DB_PASSPHRASE") or None
    if recovery or passphrase:
        return recovery, passphrase
    if not sys.stdin.isatty():
        return None, None
    typed = getpass.getpass("Recovery key from the recovery kit (or the database passphrase): ")
    try:
        keys.normalize_recovery_key(typed)
    except UserError:
        return None, typed or None
    return typed, None


def _restore_new(
    args: argparse.Namespace,
    target: Path,
    source: Path,
    *,
    replace: bool = False,
    by: str = "",
    old_key: bytes | None = None,
) -> int:
    """Restore where no database exists yet (a new PC): the backup's own key information and
    the recovery key or passphrase open it; the result is keyed for this PC and verified."""
    from iopdesk.services import backup
    from iopdesk.services.auth import login

    recovery, passphrase = _backup_credentials()
    if not recovery and not passphrase:
        raise UserError(
            "Give the recovery key from the clinic's recovery kit (IOPDESK_RECOVERY_KEY) or, "
            "for a passphrase database, its passphrase (IOPDESK_DB_PASSPHRASE), or run the "
            "command in a terminal to type it. Nothing was changed."
        )
    authenticate = None
    if args.user and not replace:
        password = _password("IOPDESK_PASSWORD", f"Password for {args.user}: ")

        def authenticate(staged):  # type: ignore[no-untyped-def]
            return login(staged, args.user, password)

    done = backup.restore_new(
        target,
        source,
        recovery_key=recovery,
        passphrase=passphrase,
        new_passphrase=_cli_passphrase,
        authenticate=authenticate,
        replace_existing=replace,
        restored_by=by,
        old_key=old_key,
    )
    print(f"Restored {done.result.rows} rows from {done.result.restored_from}.")
    if done.result.kept_aside is not None:
        print(f"The previous database was kept as {done.result.kept_aside}.")
    print(f"Database: {target}")
    print(done.key_description)
    print(done.audit_message)
    return EXIT_OK if done.audit_ok else EXIT_FAILED_CHECK


def _recovery_kit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from iopdesk.services.recovery import print_kit

    db = _open(args)
    try:
        actor = _sign_in(db, args)
        recovery = print_kit(db, actor, Path(args.output), new=args.new)
    finally:
        db.close()
    state = "a new recovery key was made" if recovery.created else "the clinic's recovery key"
    print(f"Wrote the recovery kit ({state}, kit {recovery.recovery_id}) to {args.output}")
    if recovery.created:
        print("Make a new backup now: backups made before this kit cannot be opened with it.")
    return EXIT_OK


def _print_aftercare(args: argparse.Namespace) -> int:
    """The client's newest finalized aftercare packet; by default the client's own copy."""
    from pathlib import Path

    from iopdesk.services import aftercare
    from iopdesk.services.disclosures import CLIENT_COPY

    mrn = (args.client or args.mrn or "").strip()
    if not mrn:
        raise UserError("Give the client's MRN, e.g. iopdesk print aftercare --client M000123.")
    if args.mrn and args.client and args.mrn.strip() != args.client.strip():
        raise UserError("Give the MRN once (either MRN or --client).")
    release = _release(args) if (args.recipient or args.purpose or args.internal) else CLIENT_COPY
    db = _open(args)
    try:
        actor = _sign_in(db, args)
        plan_id = aftercare.plan_for_mrn(db, actor, mrn)
        r = aftercare.print_packet(
            db,
            actor,
            plan_id,
            Path(args.output),
            release=release,
            language=args.language,
            leave_out=tuple(args.leave_out),
        )
        print(f"Wrote the aftercare packet for {mrn} ({r.pages} pages) to {args.output}")
    finally:
        db.close()
    return EXIT_OK
