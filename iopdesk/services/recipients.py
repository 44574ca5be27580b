"""The recipient directory: the outside people and organizations records may be released to.

A release names a directory entry (never free text), so a consent to "Prairie State Medicaid"
is matched to that entry and nothing else. Names are unique ignoring case and surrounding
space; `--recipient NAME` on the command line must give one exactly, and an unknown name is
refused with the close names so staff can pick the right one."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from sqlmodel import Session, col, select

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, UserError, ValidationError
from iopdesk.models import Recipient
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.declare import Audited, about, service
from iopdesk.services.permissions import Perm
from iopdesk.services.records import update_versioned

TYPES = ("provider", "health_plan", "employer", "court", "family", "other")
TYPE_LABELS = {
    "provider": "Health care provider",
    "health_plan": "Health plan / payer",
    "employer": "Employer",
    "court": "Court / legal",
    "family": "Family member",
    "other": "Other",
}
# Recipient classes a 42 CFR 2.31(a)(4)(i) TPO consent may name instead of one recipient.
CLASSES = ("treating_providers", "health_plans")
CLASS_LABELS = {
    "treating_providers": "my treating providers",
    "health_plans": "my health plans and payers",
}
CLASS_TYPES = {
    "treating_providers": frozenset({"provider"}),
    "health_plans": frozenset({"health_plan"}),
}


class UnknownRecipient(UserError):
    title = "Unknown recipient"


@dataclass(frozen=True)
class RecipientInfo:
    id: int
    name: str
    organization: str
    address: str
    type: str
    version: int

    @property
    def type_label(self) -> str:
        return TYPE_LABELS.get(self.type, self.type)

    def describe(self) -> str:
        parts = [self.name]
        if self.organization and self.organization.casefold() != self.name.casefold():
            parts.append(self.organization)
        return ", ".join(parts)


def name_key(name: str) -> str:
    return name.strip().casefold()


def info(r: Recipient) -> RecipientInfo:
    return RecipientInfo(r.id or 0, r.name, r.organization, r.address, r.type, r.version)


def check_type(value: str) -> str:
    kind = (value or "").strip().casefold().replace(" ", "_") or "other"
    if kind not in TYPES:
        raise ValidationError(
            f"'{value}' is not a recipient type; use one of {', '.join(TYPES)}.",
            {"type": "Unknown type."},
        )
    return kind


def close_names(session: Session, name: str, limit: int = 5) -> list[str]:
    """Directory names that look like `name` (contain it, or are spelled alike)."""
    names = list(session.exec(select(Recipient.name).where(col(Recipient.active))).all())
    wanted = name_key(name)
    if not wanted:
        return sorted(names, key=str.casefold)[:limit]
    keys = {n.casefold(): n for n in names}
    found = [n for n in names if wanted in n.casefold() or n.casefold() in wanted]
    for key in difflib.get_close_matches(wanted, list(keys), n=limit, cutoff=0.6):
        if keys[key] not in found:
            found.append(keys[key])
    return found[:limit]


def find_in(session: Session, name: str) -> Recipient | None:
    return session.exec(select(Recipient).where(Recipient.name_key == name_key(name))).first()


def resolve_in(session: Session, name: str) -> Recipient:
    """The directory entry named exactly `name` (case and surrounding space ignored)."""
    found = find_in(session, name)
    if found is not None:
        return found
    close = close_names(session, name)
    hint = f" Close names: {'; '.join(close)}." if close else " The directory has no similar name."
    raise UnknownRecipient(
        f"'{name.strip()}' is not in the recipient directory (names must match exactly).{hint} "
        "Nothing was written. Give the exact name, or add the recipient to the directory "
        "(Add... beside Recipient in the app, or the Recipients sheet of the clinic workbook)."
    )


def resolve(db: Database, name: str) -> RecipientInfo:
    with db.session() as session:
        return info(resolve_in(session, name))


def list_recipients(db: Database, actor: Actor) -> list[RecipientInfo]:
    """The directory (no client information in it), sorted by name."""
    with db.session() as session:
        rows = session.exec(select(Recipient).where(col(Recipient.active))).all()
        return sorted((info(r) for r in rows), key=lambda r: r.name.casefold())


def get(db: Database, recipient_id: int) -> RecipientInfo:
    with db.session() as session:
        r = session.get(Recipient, recipient_id)
        if r is None:
            raise NotFoundError("That recipient is not in the directory.")
        return info(r)


def _values(name: str, organization: str, address: str, type: str) -> dict[str, str]:
    shown = " ".join(name.split())
    if not shown:
        raise ValidationError("Give the recipient's name.", {"name": "Required."})
    if len(shown) > 200 or len(organization) > 200 or len(address) > 500:
        raise ValidationError("That recipient's name, organization or address is too long.")
    return {
        "name": shown,
        "name_key": name_key(shown),
        "organization": organization.strip(),
        "address": address.strip(),
        "type": check_type(type),
    }


def add_in(
    session: Session,
    actor: Actor | None,
    name: str,
    organization: str = "",
    address: str = "",
    type: str = "other",
) -> Recipient:
    values = _values(name, organization, address, type)
    if find_in(session, values["name"]) is not None:
        raise ValidationError(
            f"'{values['name']}' is already in the recipient directory.",
            {"name": "Already in the directory."},
        )
    who = actor.user_id if actor else None
    r = Recipient(
        name=values["name"],
        name_key=values["name_key"],
        organization=values["organization"],
        address=values["address"],
        type=values["type"],
        created_by=who,
        updated_by=who,
    )
    session.add(r)
    session.flush()
    if actor is not None:
        audit.record(
            session, actor, audit.Action.CREATE, entity="recipient", entity_id=r.id, detail="added"
        )
    return r


@service(Perm.CLIENT_EDIT)
def add_recipient(
    session: Session,
    actor: Actor,
    name: str,
    organization: str = "",
    address: str = "",
    type: str = "other",
) -> RecipientInfo:
    return info(add_in(session, actor, name, organization, address, type))


@service(Perm.CLIENT_EDIT, audit=Audited(audit.Action.UPDATE, "recipient"))
def update_recipient(
    session: Session,
    actor: Actor,
    recipient_id: int,
    expected_version: int,
    name: str,
    organization: str = "",
    address: str = "",
    type: str = "other",
) -> RecipientInfo:
    values = _values(name, organization, address, type)
    other = find_in(session, values["name"])
    if other is not None and other.id != recipient_id:
        raise ValidationError(f"'{values['name']}' is already in the recipient directory.")
    r = update_versioned(
        session, actor, Recipient, recipient_id, expected_version, values, what="This recipient"
    )
    about(session, entity_id=recipient_id)
    return info(r)
