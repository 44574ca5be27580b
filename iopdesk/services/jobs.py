"""The long file jobs the app runs in a worker process (see iopdesk.worker).

Each is `job(ctl, db, actor, ...)`: a module-level function (a child process finds it by name)
that calls one service and reports progress through `ctl`. They add nothing to the services:
same permission checks, audit rows and files, so the command line and a screen stay one path.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from iopdesk.db import Database
    from iopdesk.services.actor import Actor
    from iopdesk.services.billing import BillingRun, ExportResult
    from iopdesk.services.claims import ClaimsResult
    from iopdesk.services.disclosures import Release


class Control(Protocol):
    def progress(self, done: int, total: int, label: str = "") -> None: ...

    def check(self) -> None:
        """Raise (iopdesk.worker.JobCancelled) if the user pressed Cancel."""

    def part(self, name: str, items: list[Any], size: int = ...) -> None:
        """Send a long list ahead of the result, in pieces."""


def billing_export(
    ctl: Control,
    db: Database,
    actor: Actor,
    date_from: date,
    date_to: date,
    path: Path,
    payer_code: str | None,
    include_billed: bool,
    release: Release | None,
) -> ExportResult:
    """The billing workbook of a period (Billing > Export). Cancel stops it while the lines are
    written: the transaction rolls back, so no batch, no audit row and no file (partial or
    whole) is left."""
    from iopdesk.services import billing

    def step(done: int, total: int) -> None:
        ctl.progress(done, total, f"Writing claim line {done:,} of {total:,}...")
        ctl.check()

    return billing.export(
        db,
        actor,
        date_from,
        date_to,
        path,
        payer_code=payer_code,
        include_billed=include_billed,
        progress=step,
        release=release,
    )


def billing_preview(
    ctl: Control,
    db: Database,
    actor: Actor,
    date_from: date,
    date_to: date,
    payer_code: str | None,
    include_billed: bool,
) -> tuple[BillingRun, dict[int, str], tuple[int, Decimal]]:
    """What the period would bill (Billing > Preview): the run without its lines and exceptions,
    which arrive in pieces as the parts "lines" and "exceptions" (a year's preview is ~150,000
    lines: built here, the app's process never holds the rows they came from), the labels of
    the period's sessions (to tell same-day exception rows apart) and the totals."""
    from dataclasses import replace

    from iopdesk.errors import UserError
    from iopdesk.services import billing, schedule

    run = billing.preview(
        db, actor, date_from, date_to, payer_code=payer_code, include_billed=include_billed
    )
    try:
        sessions = schedule.list_sessions(db, actor, date_from, date_to)
        labels = {s.id: f"{s.start:%H:%M} {s.kind} - {s.title}" for s in sessions}
    except UserError:
        labels = {}
    totals = (run.total_units, run.total)
    ctl.part("lines", run.lines)
    ctl.part("exceptions", run.exceptions)
    return replace(run, lines=[], exceptions=[]), labels, totals


def claims_export(
    ctl: Control,
    db: Database,
    actor: Actor,
    date_from: date,
    date_to: date,
    folder: Path,
    payer_code: str | None,
    release: Release | None,
) -> ClaimsResult:
    """The period's 837 files (Billing > Export claims)."""
    from iopdesk.services import claims

    return claims.export_claims(
        db, actor, date_from, date_to, folder, payer_code=payer_code, release=release
    )


def workbook_import(
    ctl: Control, db: Database, actor: Actor, path: Path, dry_run: bool = False
) -> Any:
    """Check (dry run) or import a clinic workbook (Admin > Import)."""
    from iopdesk.services.workbook import import_workbook

    return import_workbook(db, actor, path, dry_run=dry_run)


def workbook_export(
    ctl: Control, db: Database, actor: Actor, path: Path, release: Release | None
) -> Any:
    """The clinic workbook in the import format (Admin > Export)."""
    from iopdesk.services.workbook import export_workbook

    return export_workbook(db, actor, path, release)


def ping(ctl: Control, db: Database, actor: Actor) -> str:
    """Open the database in a worker process and read its schema revision: the demo self-test
    (and so the release smoke test of the frozen app) proves that a worker process starts,
    receives the key and reads the encrypted file."""
    from sqlalchemy import text

    with db.read() as session:
        return str(session.execute(text("SELECT version_num FROM alembic_version")).scalar())
