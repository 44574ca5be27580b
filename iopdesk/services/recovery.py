"""The clinic's recovery key and its printed kit.

The recovery key is made once per clinic: at set-up (first start or `iopdesk init`), or, for a
database made by an older IOPDesk, at the next administrator sign-in in the app or by
`iopdesk --user ADMIN recovery-kit -o FILE.pdf`. It wraps the database key in the key
information beside a local database (and so in every later backup's copy of it); on a
PostgreSQL clinic server it wraps the clinic audit key (services/integrity.py), so that a new
workstation can join. A copy sealed with the audit key stays in the database, so that an
administrator can print the same kit again (audited and flagged) without anyone ever
storing the key in the clear.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, select

from iopdesk import secrets as keys
from iopdesk.db import Database
from iopdesk.errors import NotFoundError, UserError
from iopdesk.models import Clinic
from iopdesk.services import audit, clock, filesout, integrity
from iopdesk.services.actor import Actor
from iopdesk.services.permissions import Perm, require

RECOVERY_KIT = audit.Action.RECOVERY_KIT


@dataclass(frozen=True)
class RecoveryKey:
    key: str
    recovery_id: str
    created: bool  # made just now (show it once) or an existing one


def has_recovery_key(db: Database) -> bool:
    with db.session() as session:
        clinic = session.exec(select(Clinic)).first()
        return bool(clinic and clinic.recovery_sealed)


def ensure_recovery_key(db: Database, *, new: bool = False) -> RecoveryKey:
    """The clinic's recovery key, made now when the clinic has none yet (or `new`: replaced,
    e.g. when the printed kit was lost). Also puts the wrapped database key back into the key
    information file when that copy is missing."""
    with db.session() as session:
        clinic = session.exec(select(Clinic)).first()
        if clinic is None:
            raise NotFoundError("The clinic has not been set up yet.")
        ck = integrity.clinic_keys(session)
        created = new or not clinic.recovery_sealed
        if created:
            recovery_key = keys.generate_recovery_key()
            clinic.recovery_sealed = integrity.seal_recovery(ck.key, recovery_key)
            clinic.recovery_id = keys.recovery_id(recovery_key)
            if db.backend != "sqlite":
                clinic.recovery_wrapped = keys.wrap_with_recovery(
                    recovery_key, ck.key, integrity.CLINIC_KEY_AAD
                )
            session.add(clinic)
            audit.record(
                session,
                None,
                RECOVERY_KIT,
                entity="clinic",
                entity_id=clinic.id,
                detail=f"recovery key {clinic.recovery_id} created",
                flagged=True,
                username="system",
            )
            # The key file is written before the commit: a key that is in the database but not
            # beside it would be shown on a kit that cannot open the backups.
            _wrap_database_key(db, recovery_key)
        else:
            recovery_key = integrity.unseal_recovery(ck.key, clinic.recovery_sealed)
            _wrap_database_key(db, recovery_key, only_if_missing=True)
        return RecoveryKey(recovery_key, clinic.recovery_id, created)


def _wrap_database_key(db: Database, recovery_key: str, only_if_missing: bool = False) -> None:
    if db.backend != "sqlite" or db.path is None:
        return
    from iopdesk.services.backup import db_key

    info = keys.read_keyinfo(db.path) or keys.KeyInfo(method="external")
    if only_if_missing and info.recovery and info.recovery_id == keys.recovery_id(recovery_key):
        return
    keys.write_keyinfo(db.path, keys.add_recovery(info, db_key(db), recovery_key))


def write_kit(
    db: Database,
    recovery: RecoveryKey,
    output: Path,
    record: Callable[[Session], object] | None = None,
) -> Path:
    """Write the kit PDF (the caller has just made the key, or checked the administrator).
    `record(session)` writes the audit row: the kit is placed inside its transaction."""
    from iopdesk.reports.recovery_kit import KitData, write_pdf
    from iopdesk.services.clinic import get_clinic

    output = output.expanduser()
    if output.suffix.lower() != ".pdf":
        raise UserError("The recovery kit is a PDF: give a file name ending in .pdf.")
    data = KitData(
        clinic=get_clinic(db).name,
        database=db.describe(),
        made_on=clock.today_of(db),
        recovery_key=recovery.key,
        recovery_id=recovery.recovery_id,
        postgres=db.backend != "sqlite",
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    with filesout.audited_write(output, lambda p: write_pdf(data, p), "recovery kit") as place:
        if record is not None:
            with db.session() as session:
                record(session)
                place()
    return output


def print_kit(db: Database, actor: Actor, output: Path, *, new: bool = False) -> RecoveryKey:
    """An administrator prints the kit (again): makes the key when the clinic has none yet,
    or a new one with `new`. Audited and flagged: the kit opens every backup."""
    require(actor, Perm.SETTINGS_MANAGE)
    recovery = ensure_recovery_key(db, new=new)
    write_kit(
        db,
        recovery,
        output,
        record=lambda session: audit.record(
            session,
            actor,
            RECOVERY_KIT,
            entity="clinic",
            entity_id=recovery.recovery_id,
            detail="recovery kit printed (new key)" if recovery.created else "recovery kit printed",
            flagged=True,
        ),
    )
    return recovery
