"""HIPAA 164.526 amendment requests against a signed note or a chart field.

The original is never changed. A request keeps the SHA-256 of the original as it stood when
the request was received (for a signed note, the hash taken at signing); accepting it records
the amendment text linked to the original, denying it records the reason linked to the
request, and both print with the record (`amendments_for_note`). A decision is refused when
the original no longer matches its hash (the record was altered outside the rules).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, UserError, ValidationError
from iopdesk.models import AmendmentRequest, Client, Note, User
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import clinic_today
from iopdesk.services.permissions import Perm, require
from iopdesk.services.records import update_versioned

# chart fields a request may name (Client columns); notes are named by note_id
CHART_FIELDS = {
    "first_name": "First name",
    "middle_name": "Middle name",
    "last_name": "Last name",
    "preferred_name": "Preferred name",
    "pronouns": "Pronouns",
    "dob": "Date of birth",
    "sex": "Sex",
    "phone": "Phone",
    "email": "Email",
    "address_line1": "Address",
    "city": "City",
    "state": "State",
    "postal_code": "ZIP code",
    "primary_language": "Primary language",
    "referral_source": "Referral source",
}


@dataclass(frozen=True)
class AmendmentInfo:
    id: int
    client_id: int
    note_id: int | None
    field_name: str
    requested_change: str
    received_date: date
    status: str
    decision_date: date | None
    decided_by: str
    denial_reason: str
    amendment_text: str
    original_sha256: str
    version: int

    @property
    def target(self) -> str:
        if self.note_id is not None:
            return f"Note {self.note_id}"
        return f"Chart: {CHART_FIELDS.get(self.field_name, self.field_name)}"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def note_hash_in(session: Session, note: Note) -> str:
    """The note's content hash now (same canonical text as signing uses)."""
    from iopdesk.models import GroupNote
    from iopdesk.services.notes import canonical_content

    group = session.get(GroupNote, note.group_note_id) if note.group_note_id else None
    return _sha(canonical_content(note, group))


def _field_hash(client: Client, field_name: str) -> str:
    value = getattr(client, field_name)
    return _sha(f"{field_name}={'' if value is None else value}")


def _current_hash(session: Session, req: AmendmentRequest) -> str:
    if req.note_id is not None:
        note = session.get(Note, req.note_id)
        if note is None:
            raise NotFoundError("The note of this request no longer exists.")
        return note_hash_in(session, note)
    client = session.get(Client, req.client_id)
    if client is None:
        raise NotFoundError("That client record does not exist.")
    return _field_hash(client, req.field_name)


def _info(session: Session, r: AmendmentRequest) -> AmendmentInfo:
    who = ""
    if r.decided_by is not None:
        user = session.get(User, r.decided_by)
        who = user.display_name if user else ""
    return AmendmentInfo(
        id=r.id or 0,
        client_id=r.client_id,
        note_id=r.note_id,
        field_name=r.field_name,
        requested_change=r.requested_change,
        received_date=r.received_date,
        status=r.status,
        decision_date=r.decision_date,
        decided_by=who,
        denial_reason=r.denial_reason,
        amendment_text=r.amendment_text,
        original_sha256=r.original_sha256,
        version=r.version,
    )


def request_amendment(
    db: Database,
    actor: Actor,
    client_id: int,
    requested_change: str,
    *,
    note_id: int | None = None,
    field_name: str = "",
    received_date: date | None = None,
) -> AmendmentInfo:
    """Record a client's written request to amend a signed note or a chart field."""
    require(actor, Perm.CLIENT_VIEW)
    text = requested_change.strip()
    if not text:
        raise ValidationError(
            "Write down what the client asks to change.", {"requested_change": "Required."}
        )
    if (note_id is None) == (not field_name):
        raise ValidationError("Choose either a signed note or a chart field to amend.")
    if field_name and field_name not in CHART_FIELDS:
        raise ValidationError(f"'{field_name}' is not a chart field that can be amended.")
    with db.session() as session:
        client = session.get(Client, client_id)
        if client is None:
            raise NotFoundError("That client record does not exist.")
        if note_id is not None:
            note = session.get(Note, note_id)
            if note is None or note.client_id != client_id:
                raise NotFoundError("That note does not belong to this client.")
            if note.content_sha256 is None or note.status not in ("signed", "cosigned"):
                raise UserError(
                    "Only a signed note can be amended; a draft is still edited by its author."
                )
            original = note.content_sha256
        else:
            original = _field_hash(client, field_name)
        req = AmendmentRequest(
            client_id=client_id,
            note_id=note_id,
            field_name=field_name,
            requested_change=text,
            received_date=received_date or clinic_today(session),
            original_sha256=original,
            created_by=actor.user_id,
            updated_by=actor.user_id,
        )
        session.add(req)
        session.flush()
        audit.record(
            session,
            actor,
            audit.Action.AMENDMENT,
            entity="amendment_request",
            entity_id=req.id,
            client_id=client_id,
            detail=f"requested for {'note ' + str(note_id) if note_id else 'field ' + field_name}",
        )
        return _info(session, req)


def _decide(
    db: Database,
    actor: Actor,
    request_id: int,
    expected_version: int,
    changes: dict[str, object],
    what: str,
) -> AmendmentInfo:
    require(actor, Perm.CLINICAL_WRITE)
    with db.session() as session:
        req = session.get(AmendmentRequest, request_id)
        if req is None:
            raise NotFoundError("That amendment request does not exist.")
        if req.status != "pending":
            raise UserError(f"This request was already {req.status}.")
        if _current_hash(session, req) != req.original_sha256:
            raise UserError(
                "The original record no longer matches the version the request was made "
                "against. Ask an administrator to run an integrity check before deciding."
            )
        changes = {
            **changes,
            "decision_date": clinic_today(session),
            "decided_by": actor.user_id,
        }
        req = update_versioned(
            session,
            actor,
            AmendmentRequest,
            request_id,
            expected_version,
            changes,
            what="This amendment request",
        )
        audit.record(
            session,
            actor,
            audit.Action.AMENDMENT,
            entity="amendment_request",
            entity_id=request_id,
            client_id=req.client_id,
            detail=what,
        )
        return _info(session, req)


def accept(
    db: Database, actor: Actor, request_id: int, expected_version: int, amendment_text: str
) -> AmendmentInfo:
    """Accept: the amendment is linked to the original; the original stays as signed."""
    text = amendment_text.strip()
    if not text:
        raise ValidationError(
            "Write the amendment as it should appear with the record.",
            {"amendment_text": "Required."},
        )
    return _decide(
        db,
        actor,
        request_id,
        expected_version,
        {"status": "accepted", "amendment_text": text},
        "accepted",
    )


def deny(
    db: Database, actor: Actor, request_id: int, expected_version: int, reason: str
) -> AmendmentInfo:
    """Deny (164.526(d)): the request and the written reason stay linked to the record."""
    text = reason.strip()
    if not text:
        raise ValidationError(
            "Give the reason for the denial; the client receives it in writing.",
            {"denial_reason": "Required."},
        )
    return _decide(
        db,
        actor,
        request_id,
        expected_version,
        {"status": "denied", "denial_reason": text},
        "denied",
    )


def list_amendments(db: Database, actor: Actor, client_id: int) -> list[AmendmentInfo]:
    require(actor, Perm.CLIENT_VIEW)
    with db.session() as session:
        from iopdesk.services.clients import ChartSection, require_section_in

        require_section_in(
            session, actor, client_id, ChartSection.PRIVACY, entity="amendment_request"
        )
        rows = session.exec(
            select(AmendmentRequest)
            .where(AmendmentRequest.client_id == client_id)
            .order_by(col(AmendmentRequest.received_date).desc(), col(AmendmentRequest.id).desc())
        ).all()
        return [_info(session, r) for r in rows]


def amendments_for_note(session: Session, note_id: int) -> list[AmendmentInfo]:
    """Decided requests of a note, oldest first, for printing with it (note printouts)."""
    rows = session.exec(
        select(AmendmentRequest)
        .where(AmendmentRequest.note_id == note_id, AmendmentRequest.status != "pending")
        .order_by(col(AmendmentRequest.decision_date), col(AmendmentRequest.id))
    ).all()
    return [_info(session, r) for r in rows]


def print_lines(info: AmendmentInfo) -> list[str]:
    """Plain lines a printout appends after the record."""
    head = f"Amendment request received {info.received_date.isoformat()}: {info.requested_change}"
    if info.status == "accepted":
        return [
            head,
            f"Accepted {info.decision_date} by {info.decided_by}. Amendment: {info.amendment_text}",
        ]
    if info.status == "denied":
        return [head, f"Denied {info.decision_date} by {info.decided_by}: {info.denial_reason}"]
    return [head, "Pending decision."]
