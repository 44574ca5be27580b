"""Placing a chart printout (note, treatment plan, aftercare packet) on disk: the release gate
decides first (a refusal writes nothing), the document is written beside the target with the
release notice a disclosure carries, then - in one transaction - the release is checked again
and recorded, audited as a print, and renamed into place. A refusal or a failure leaves no
file and no rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from iopdesk.db import Database
from iopdesk.errors import ValidationError
from iopdesk.models import Disclosure
from iopdesk.services import audit, disclosures, filesout
from iopdesk.services.actor import Actor
from iopdesk.services.disclosures import Release


def pdf_target(path: Path | str, what: str) -> Path:
    """The checked destination of a PDF printout (a .pdf name in an existing folder)."""
    target = Path(path).expanduser()
    if target.suffix.lower() != ".pdf":
        raise ValidationError(
            f"Cannot save the {what} as '{target.name}': choose a file name ending in .pdf.",
            {"path": "Use .pdf."},
        )
    if not target.parent.is_dir():
        raise ValidationError(
            f"The folder {target.parent} does not exist. Choose an existing folder.",
            {"path": "Folder not found."},
        )
    return target


def release_pdf(
    db: Database,
    actor: Actor,
    target: Path,
    write: Callable[[Path, tuple[str, ...]], None],
    *,
    client_id: int,
    release: Release,
    categories: Iterable[str],
    what: str | Callable[[], str],
    entity: str,
    entity_id: int,
    detail: Callable[[Disclosure], str],
    reducible: Mapping[str, str] | None = None,
    left_out: Iterable[str] = (),
) -> Disclosure:
    """Decide the release for the document's `categories` (ConsentRequired before anything is
    written), write with `write(tmp, notice)` (`notice`: the lines a disclosure carries, empty
    otherwise), then record the release (`what`, no PHI; a callable is asked after writing)
    and a print event whose detail is `detail(disclosure)`, and rename into place, all or
    nothing. `reducible`/`left_out`: see disclosures.plan_release."""
    categories = tuple(categories)
    left_out = tuple(left_out)
    with db.session() as session:
        plan = disclosures.plan_release(
            session, [client_id], release, categories, reducible=reducible, left_out=left_out
        )
    notice = plan.notice()
    with (
        filesout.audited_write(target, lambda p: write(p, notice)) as place,
        db.session() as session,
    ):
        sent = what() if callable(what) else what
        row = disclosures.authorize(
            session, actor, client_id, release, sent, categories, left_out=left_out
        )
        audit.record(
            session,
            actor,
            audit.Action.PRINT,
            entity=entity,
            entity_id=entity_id,
            client_id=client_id,
            detail=detail(row),
        )
        place()
    return row
