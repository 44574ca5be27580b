"""A client's weekly-hours override with an end date (issue 20 item 7).

- The override (Client.required_weekly_hours) replaces the track's required hours through its
  end date (Client.required_hours_until, inclusive); from the next day the track's hours apply
  again (services.hours prorates a week that straddles the end). An override set here always
  has an end date and a reason: reduced intensity is a clinical decision that is reviewed.
  Older overrides without an end date still apply and show as "no end date".
- Billing never reads the override: per-diem codes come from the client's track enrollment, so
  an expired override cannot keep a client billed at a level (see docs/clinical.md).
- The weekly hours dashboard shows every override that applies in the week it shows, with its
  end date (`overrides_for_week`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import or_
from sqlmodel import Session, col, select

from iopdesk.errors import NotFoundError, ValidationError
from iopdesk.models import Client
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.clients import require_clinical_in
from iopdesk.services.clinic import clinic_today
from iopdesk.services.declare import Audited, about, service
from iopdesk.services.permissions import Perm
from iopdesk.services.records import update_versioned


@dataclass(frozen=True)
class HoursOverride:
    client_id: int
    hours: Decimal
    until: date | None  # None: no end date (set before end dates existed)
    reason: str

    def applies_on(self, day: date) -> bool:
        return self.until is None or day <= self.until

    @property
    def label(self) -> str:
        hours = f"{self.hours:.2f}"
        if self.until is None:
            return f"Override {hours} h (no end date)"
        return f"Override {hours} h through {self.until:%m/%d/%Y}"


def parse_hours(text: str) -> Decimal:
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        raise ValidationError(
            "Enter the weekly hours as a number like 6 or 7.5.", {"hours": "A number."}
        ) from None
    return value


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.UPDATE, "client"))
def set_hours_override(
    session: Session,
    actor: Actor,
    client_id: int,
    expected_version: int,
    hours: Decimal,
    until: date,
    reason: str,
) -> HoursOverride:
    """Set (or replace) the client's override; the end date and a reason are required."""
    errors: dict[str, str] = {}
    if not (Decimal(0) <= hours <= Decimal(40)) or hours != hours.quantize(Decimal("0.01")):
        errors["hours"] = "Weekly hours go from 0 to 40, in steps of 0.01."
    if until is None:
        errors["until"] = "Give the override's end date (the last day it applies)."
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = "Give the clinical reason for the override."
    if session.get(Client, client_id) is None:
        raise NotFoundError("That client record does not exist.")
    require_clinical_in(
        session, actor, client_id, entity="client", entity_id=client_id,
        what="change their required hours",
    )  # fmt: skip
    today = clinic_today(session)
    if until is not None and until < today:
        errors["until"] = f"The end date has passed (today is {today:%m/%d/%Y})."
    if errors:
        first = next(iter(errors.values()))
        raise ValidationError(first, errors)
    update_versioned(
        session, actor, Client, client_id, expected_version,
        {"required_weekly_hours": hours, "required_hours_until": until,
         "required_hours_reason": reason[:300]},
        what="This client's record",
    )  # fmt: skip
    about(
        session,
        entity_id=client_id,
        client_id=client_id,
        detail=f"hours override {hours} through {until.isoformat()}",
    )
    return HoursOverride(client_id, hours, until, reason)


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.UPDATE, "client"))
def end_hours_override(
    session: Session, actor: Actor, client_id: int, expected_version: int
) -> None:
    """Remove the override now: the track's hours apply from today (the past weeks keep it:
    it ends yesterday)."""
    client = session.get(Client, client_id)
    if client is None:
        raise NotFoundError("That client record does not exist.")
    require_clinical_in(
        session, actor, client_id, entity="client", entity_id=client_id,
        what="change their required hours",
    )  # fmt: skip
    if client.required_weekly_hours is None:
        raise ValidationError("This client has no hours override.")
    yesterday = clinic_today(session) - timedelta(days=1)
    update_versioned(
        session, actor, Client, client_id, expected_version,
        {"required_hours_until": yesterday}, what="This client's record",
    )  # fmt: skip
    about(
        session,
        entity_id=client_id,
        client_id=client_id,
        detail=f"hours override ended {yesterday.isoformat()}",
    )


@service(Perm.CLIENT_VIEW)
def current_override(session: Session, actor: Actor, client_id: int) -> HoursOverride | None:
    """The client's override if it still applies today (else None)."""
    client = session.get(Client, client_id)
    if client is None:
        raise NotFoundError("That client record does not exist.")
    if client.required_weekly_hours is None:
        return None
    o = HoursOverride(
        client_id,
        Decimal(client.required_weekly_hours),
        client.required_hours_until,
        client.required_hours_reason,
    )
    return o if o.applies_on(clinic_today(session)) else None


@service(Perm.CENSUS_VIEW)
def overrides_for_week(
    session: Session, actor: Actor, week_start: date, client_ids: Collection[int] | None = None
) -> dict[int, HoursOverride]:
    """Overrides that apply on at least one day of the week starting `week_start`."""
    query = select(Client).where(
        col(Client.required_weekly_hours).is_not(None),
        or_(
            col(Client.required_hours_until).is_(None),
            col(Client.required_hours_until) >= week_start,
        ),
    )
    if client_ids is not None:
        query = query.where(col(Client.id).in_(list(client_ids)))
    result: dict[int, HoursOverride] = {}
    for c in session.exec(query).all():
        if c.id is not None and c.required_weekly_hours is not None:
            result[c.id] = HoursOverride(
                c.id,
                Decimal(c.required_weekly_hours),
                c.required_hours_until,
                c.required_hours_reason or "",
            )
    return result
