"""HIPAA 164.526 amendment requests against a signed note or a chart field.

The original is never changed. A request keeps the SHA-256 of the original as it stood when
the request was received (for a signed note, the hash taken at signing); accepting it records
the amendment text linked to the original, denying it records the reason linked to the
request, and both print with the record (`amendments_for_note`). A decision is refused when
the original no longer matches its hash (the record was altered outside the rules).

Deadlines (164.526(b)(2)): a decision is due 60 days after the request was received; before
that date passes it may be extended once by 30 days with a written reason (the client is told
the reason and the new date). Pending requests past their due date are listed on the
administrators' Today screen. After a denial the client may file a statement of disagreement
(164.526(d)(1)(iii)) and the clinic may answer with a rebuttal (d)(3); both stay linked to the
record with the request and the denial and print with it (d)(4), (d)(5).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session, col, select

from iopdesk.db import Database
from iopdesk.errors import (
    NotFoundError,
    PermissionDenied,
    StaleRecordError,
    UserError,
    ValidationError,
)
from iopdesk.models import AmendmentRequest, Client, Note
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import clinic_today
from iopdesk.services.declare import Arg, Audited, about, service
from iopdesk.services.people import user_name
from iopdesk.services.permissions import Perm, has, require
from iopdesk.services.records import update_versioned

DECISION_DAYS = 60  # 164.526(b)(2): act no later than 60 days after receipt
EXTENSION_DAYS = 30  # ... extended once, by no more than 30 days

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
    due_date: date
    extension_reason: str = ""
    extended_on: date | None = None
    disagreement: str = ""
    disagreement_date: date | None = None
    rebuttal: str = ""
    rebuttal_date: date | None = None
    rebuttal_by: str = ""
    mrn: str = ""

    @property
    def extended(self) -> bool:
        return self.extended_on is not None

    def overdue(self, today: date) -> bool:
        return self.status == "pending" and self.due_date < today

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
    who = user_name(session, r.decided_by, as_staff=False)
    client = session.get(Client, r.client_id)
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
        due_date=r.due_date,
        extension_reason=r.extension_reason,
        extended_on=r.extended_on,
        disagreement=r.disagreement,
        disagreement_date=r.disagreement_date,
        rebuttal=r.rebuttal,
        rebuttal_date=r.rebuttal_date,
        rebuttal_by=user_name(session, r.rebuttal_by, as_staff=False),
        mrn=client.mrn if client else "",
    )


@service(Perm.CLIENT_VIEW, audit=Audited(audit.Action.AMENDMENT, "amendment_request"))
def request_amendment(
    session: Session,
    actor: Actor,
    client_id: int,
    requested_change: str,
    *,
    note_id: int | None = None,
    field_name: str = "",
    received_date: date | None = None,
) -> AmendmentInfo:
    """Record a client's written request to amend a signed note or a chart field."""
    text = requested_change.strip()
    if not text:
        raise ValidationError(
            "Write down what the client asks to change.", {"requested_change": "Required."}
        )
    if (note_id is None) == (not field_name):
        raise ValidationError("Choose either a signed note or a chart field to amend.")
    if field_name and field_name not in CHART_FIELDS:
        raise ValidationError(f"'{field_name}' is not a chart field that can be amended.")
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
    received = received_date or clinic_today(session)
    if received > clinic_today(session):
        raise ValidationError(
            "The date the request was received cannot be in the future.",
            {"received_date": "Not in the future."},
        )
    req = AmendmentRequest(
        client_id=client_id,
        note_id=note_id,
        field_name=field_name,
        requested_change=text,
        received_date=received,
        due_date=received + timedelta(days=DECISION_DAYS),
        original_sha256=original,
    )
    session.add(req)
    session.flush()
    about(
        session,
        entity_id=req.id,
        client_id=client_id,
        detail=f"requested for {'note ' + str(note_id) if note_id else 'field ' + field_name}",
    )
    return _info(session, req)


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.AMENDMENT, "amendment_request"))
def _decide(
    session: Session,
    actor: Actor,
    request_id: int,
    expected_version: int,
    changes: dict[str, object],
    what: str,
) -> AmendmentInfo:
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
    about(session, entity_id=request_id, client_id=req.client_id, detail=what)
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


def _require_officer(actor: Actor) -> None:
    """Deciding, extending and rebutting: the clinicians (who decide) and the
    administrators (who run the privacy processes)."""
    if not (has(actor, Perm.CLINICAL_WRITE) or has(actor, Perm.AUDIT_VIEW)):
        raise PermissionDenied(
            "Only clinicians and administrators can extend or answer an amendment request."
        )


# The caller checks its own permission first (accept/deny, extend, the client's statements).
@service(
    None,
    audit=Audited(
        audit.Action.AMENDMENT,
        "amendment_request",
        entity_id=Arg("request_id"),
        client_id=lambda info: info.client_id,
        detail=Arg("detail"),
    ),
)
def _update(
    session: Session,
    actor: Actor,
    request_id: int,
    expected_version: int,
    check: Callable[[Session, AmendmentRequest], dict[str, object]],
    detail: str,
) -> AmendmentInfo:
    req = session.get(AmendmentRequest, request_id)
    if req is None:
        raise NotFoundError("That amendment request does not exist.")
    if req.version != expected_version:
        raise StaleRecordError("This amendment request")
    changes = check(session, req)
    req = update_versioned(
        session,
        actor,
        AmendmentRequest,
        request_id,
        expected_version,
        changes,
        what="This amendment request",
    )
    return _info(session, req)


def extend(
    db: Database, actor: Actor, request_id: int, expected_version: int, reason: str
) -> AmendmentInfo:
    """The one 30-day extension (164.526(b)(2)(ii)): only while the request is pending and
    before its 60 days have run out, with the reason the client is told in writing."""
    _require_officer(actor)
    text = " ".join(reason.split())
    if len(text) < 10:
        raise ValidationError(
            "Write the reason for the delay (at least 10 characters); the client receives it "
            "in writing with the new date.",
            {"extension_reason": "Required."},
        )

    def check(session: Session, req: AmendmentRequest) -> dict[str, object]:
        today = clinic_today(session)
        if req.status != "pending":
            raise UserError(f"This request was already {req.status}; there is nothing to extend.")
        if req.extended_on is not None:
            raise UserError(
                "This request was already extended once; the law allows only one extension. "
                f"Decide it by {req.due_date:%m/%d/%Y}."
            )
        if req.due_date < today:
            raise UserError(
                f"The 60 days ran out on {req.due_date:%m/%d/%Y}; an extension must be given "
                "before then. Decide the request now."
            )
        return {
            "due_date": req.due_date + timedelta(days=EXTENSION_DAYS),
            "extension_reason": text[:2000],
            "extended_on": today,
            "extended_by": actor.user_id,
        }

    return _update(db, actor, request_id, expected_version, check, "extended 30 days")


def record_disagreement(
    db: Database,
    actor: Actor,
    request_id: int,
    expected_version: int,
    statement: str,
    received_date: date | None = None,
) -> AmendmentInfo:
    """The client's written statement of disagreement with a denial (164.526(d)(1)(iii)),
    linked to the record; whoever receives it at the clinic records it."""
    require(actor, Perm.CLIENT_VIEW)
    text = statement.strip()
    if not text:
        raise ValidationError(
            "Type the client's statement of disagreement as they wrote it.",
            {"disagreement": "Required."},
        )

    def check(session: Session, req: AmendmentRequest) -> dict[str, object]:
        today = clinic_today(session)
        if req.status != "denied":
            raise UserError(
                f"A statement of disagreement answers a denial; this request is {req.status}."
            )
        if req.disagreement:
            raise UserError("The client's statement of disagreement is already on file.")
        when = received_date or today
        if when > today or (req.decision_date is not None and when < req.decision_date):
            raise ValidationError(
                "The statement's date must be between the denial and today.",
                {"disagreement_date": "Between the denial and today."},
            )
        return {"disagreement": text, "disagreement_date": when}

    return _update(db, actor, request_id, expected_version, check, "statement of disagreement")


def record_rebuttal(
    db: Database, actor: Actor, request_id: int, expected_version: int, rebuttal: str
) -> AmendmentInfo:
    """The clinic's written rebuttal to the statement of disagreement (164.526(d)(3)); a
    copy goes to the client. Linked to the record with the request, denial and statement."""
    _require_officer(actor)
    text = rebuttal.strip()
    if not text:
        raise ValidationError("Write the rebuttal.", {"rebuttal": "Required."})

    def check(session: Session, req: AmendmentRequest) -> dict[str, object]:
        if not req.disagreement:
            raise UserError(
                "A rebuttal answers the client's statement of disagreement; none is on file."
            )
        if req.rebuttal:
            raise UserError("A rebuttal is already on file for this request.")
        return {
            "rebuttal": text,
            "rebuttal_date": clinic_today(session),
            "rebuttal_by": actor.user_id,
        }

    return _update(db, actor, request_id, expected_version, check, "rebuttal")


def overdue_in(session: Session, today: date) -> list[AmendmentInfo]:
    rows = session.exec(
        select(AmendmentRequest)
        .where(AmendmentRequest.status == "pending", col(AmendmentRequest.due_date) < today)
        .order_by(col(AmendmentRequest.due_date), col(AmendmentRequest.id))
    ).all()
    return [_info(session, r) for r in rows]


def count_overdue_in(session: Session, today: date) -> int:
    from sqlmodel import func

    return int(
        session.exec(
            select(func.count())
            .select_from(AmendmentRequest)
            .where(AmendmentRequest.status == "pending", col(AmendmentRequest.due_date) < today)
        ).one()
    )


@service(Perm.AUDIT_VIEW)
def list_overdue(session: Session, actor: Actor, today: date | None = None) -> list[AmendmentInfo]:
    """Pending requests past their due date, oldest deadline first (administrators)."""
    return overdue_in(session, today or clinic_today(session))


@service(Perm.CLIENT_VIEW)
def list_amendments(session: Session, actor: Actor, client_id: int) -> list[AmendmentInfo]:
    from iopdesk.services.clients import ChartSection, require_section_in

    require_section_in(session, actor, client_id, ChartSection.PRIVACY, entity="amendment_request")
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
    lines = [head]
    if info.extended_on is not None:
        lines.append(
            f"Decision extended on {info.extended_on} to {info.due_date}: {info.extension_reason}"
        )
    if info.status == "accepted":
        lines.append(
            f"Accepted {info.decision_date} by {info.decided_by}. Amendment: {info.amendment_text}"
        )
    elif info.status == "denied":
        lines.append(f"Denied {info.decision_date} by {info.decided_by}: {info.denial_reason}")
        if info.disagreement:
            lines.append(
                f"Statement of disagreement received {info.disagreement_date}: {info.disagreement}"
            )
        if info.rebuttal:
            lines.append(f"Rebuttal {info.rebuttal_date} by {info.rebuttal_by}: {info.rebuttal}")
    else:
        lines.append(f"Pending decision, due {info.due_date}.")
    return lines
