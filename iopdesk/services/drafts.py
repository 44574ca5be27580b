"""Unsaved form work, kept for the user who typed it (never lost to a sign-out or a lock).

A form (the intake form, a sign-in sheet) hands its typed values as a plain dict; they are
kept in the encrypted database under (user, form name), offered back the next time the same
user opens that form, and removed once taken or saved for real. Only the user who typed a
draft can read it; nothing is audited as a chart access because a draft is not yet a record
(the record it becomes is audited when it is saved).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, delete, select

from iopdesk.errors import ValidationError
from iopdesk.models import FormDraft
from iopdesk.models.base import utcnow
from iopdesk.services.actor import Actor
from iopdesk.services.declare import service

MAX_DRAFT_BYTES = 256_000


@dataclass(frozen=True)
class Draft:
    form: str
    data: dict[str, Any]
    saved_at: datetime


# Every signed-in user may keep their own drafts (no role permission); a user only ever
# reaches their own rows.
@service(None)
def keep(s: Session, actor: Actor, form: str, data: dict[str, Any]) -> None:
    """Keep (or replace) this user's draft of `form`."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
    if len(text.encode()) > MAX_DRAFT_BYTES:
        raise ValidationError("This form holds too much text to keep as a draft.")
    row = s.exec(
        select(FormDraft).where(FormDraft.user_id == actor.user_id, FormDraft.form == form)
    ).first()
    if row is None:
        s.add(FormDraft(user_id=actor.user_id, form=form, data_json=text, saved_at=utcnow()))
    else:
        row.data_json = text
        row.saved_at = utcnow()
        s.add(row)


@service(None, read_only=True)
def peek(s: Session, actor: Actor, form: str) -> Draft | None:
    """This user's draft of `form`, if any (left in place)."""
    row = s.exec(
        select(FormDraft).where(FormDraft.user_id == actor.user_id, FormDraft.form == form)
    ).first()
    if row is None:
        return None
    return Draft(row.form, dict(json.loads(row.data_json)), row.saved_at)


@service(None)
def discard(s: Session, actor: Actor, form: str) -> None:
    """Remove this user's draft of `form` (taken up, saved for real, or thrown away)."""
    s.execute(
        delete(FormDraft).where(
            col(FormDraft.user_id) == actor.user_id, col(FormDraft.form) == form
        )
    )


@service(None, read_only=True)
def forms_with_drafts(s: Session, actor: Actor) -> list[str]:
    return list(
        s.exec(
            select(FormDraft.form)
            .where(FormDraft.user_id == actor.user_id)
            .order_by(col(FormDraft.saved_at))
        ).all()
    )
