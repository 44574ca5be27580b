"""Reading notes: headers for anyone who may see the chart, content for clinical roles only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import col, select

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, PermissionDenied
from iopdesk.models import Note, Staff
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.clients import can_view_clinical_in
from iopdesk.services.permissions import Perm, require


@dataclass(frozen=True)
class NoteHeader:
    """What front desk and billing may know about a note: that it exists and its state."""

    id: int
    client_id: int
    service_date: date
    format: str
    author: str
    status: str
    signed_at: datetime | None


@dataclass(frozen=True)
class NoteContent:
    header: NoteHeader
    sections: dict[str, str]
    modalities: list[str]
    risk_suicidal: bool
    risk_homicidal: bool
    safety_plan: str


def list_note_headers(db: Database, actor: Actor, client_id: int) -> list[NoteHeader]:
    require(actor, Perm.CLIENT_VIEW)
    with db.session() as session:
        rows = session.execute(
            select(Note, Staff.first_name, Staff.last_name)
            .join(Staff, Staff.id == Note.author_staff_id)  # type: ignore[arg-type]
            .where(Note.client_id == client_id, col(Note.voided_at).is_(None))
            .order_by(col(Note.service_date).desc(), col(Note.id).desc())
        ).all()
        return [_header(n, f"{first} {last}") for n, first, last in rows]


def _header(note: Note, author: str) -> NoteHeader:
    return NoteHeader(
        note.id or 0,
        note.client_id,
        note.service_date,
        note.format,
        author,
        note.status,
        note.signed_at,
    )


def read_note(db: Database, actor: Actor, note_id: int) -> NoteContent:
    """Note content; every view is audited. Front desk and billing are always refused."""
    require(actor, Perm.CLINICAL_VIEW)
    with db.session() as session:
        note = session.get(Note, note_id)
        if note is None:
            raise NotFoundError("That note does not exist.")
        if not can_view_clinical_in(session, actor, note.client_id):
            audit.record(
                session,
                actor,
                audit.Action.DENIED,
                entity="note",
                entity_id=note_id,
                client_id=note.client_id,
                detail="not on caseload",
            )
            session.commit()
            raise PermissionDenied(
                "This client is not on your caseload or in a group you facilitate, so you "
                "cannot read their notes."
            )
        staff = session.get(Staff, note.author_staff_id)
        author = f"{staff.first_name} {staff.last_name}" if staff else ""
        audit.record(
            session,
            actor,
            audit.Action.READ,
            entity="note",
            entity_id=note_id,
            client_id=note.client_id,
        )
        sections = json.loads(note.content_json or "{}")
        return NoteContent(
            header=_header(note, author),
            sections={str(k): str(v) for k, v in sections.items()},
            modalities=[m for m in note.modalities.split(",") if m],
            risk_suicidal=note.risk_suicidal,
            risk_homicidal=note.risk_homicidal,
            safety_plan=note.safety_plan,
        )
