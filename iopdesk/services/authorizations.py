"""Authorizations: units left (from billed lines) and the warnings clinics act on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import col

from iopdesk.db import Database
from iopdesk.models import Authorization, BillingBatch, BillingLine, Client, Payer, Setting
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import setting_value
from iopdesk.services.clock import today_of
from iopdesk.services.permissions import Perm, require


@dataclass(frozen=True)
class AuthStatus:
    id: int
    client_id: int
    mrn: str
    client: str
    payer: str
    auth_number: str
    code: str
    start_date: date
    end_date: date
    units: int
    used: int
    warning: str  # "" when fine

    @property
    def remaining(self) -> int:
        return self.units - self.used


def statuses(
    db: Database,
    actor: Actor,
    *,
    on: date | None = None,
    client_id: int | None = None,
    warnings_only: bool = False,
    thresholds: tuple[Any, Any] | None = None,
) -> list[AuthStatus]:
    """Current (and upcoming) authorizations with units used by non-voided billing batches.

    A warning when fewer than `auth_warn_units` units remain or the authorization ends within
    `auth_warn_days` days (settings; defaults 3 and 7).
    """
    require(actor, Perm.CENSUS_VIEW)
    on = on or today_of(db)
    with db.read() as session:
        # both thresholds in one read (a round trip each is what a clinic server pays for);
        # `thresholds`: their stored texts, already read by the caller (the Today screen)
        if thresholds is not None:
            stored = {"auth_warn_units": thresholds[0], "auth_warn_days": thresholds[1]}
        else:
            stored = dict(
                session.execute(
                    sa_select(col(Setting.key), col(Setting.value)).where(
                        col(Setting.key).in_(["auth_warn_units", "auth_warn_days"])
                    )
                ).all()
            )
        warn_units = int(setting_value("auth_warn_units", stored.get("auth_warn_units")))
        warn_days = int(setting_value("auth_warn_days", stored.get("auth_warn_days")))
        used = (
            sa_select(
                col(BillingLine.authorization_id).label("aid"),
                func.sum(col(BillingLine.units)).label("used"),
            )
            .join(BillingBatch, col(BillingBatch.id) == col(BillingLine.batch_id))
            .where(col(BillingBatch.status) == "exported")
            .group_by(col(BillingLine.authorization_id))
            .subquery()
        )
        q: Any = (
            sa_select(  # type: ignore[call-overload]
                Authorization,
                Client.mrn,
                Client.last_name,
                Client.first_name,
                Payer.name,
                func.coalesce(used.c.used, 0),
            )
            .join(Client, col(Client.id) == col(Authorization.client_id))
            .join(Payer, col(Payer.id) == col(Authorization.payer_id))
            .outerjoin(used, used.c.aid == col(Authorization.id))
            .where(
                col(Authorization.voided_at).is_(None),
                col(Authorization.end_date) >= on,
                col(Client.status) != "discharged",
            )
            .order_by(col(Authorization.end_date), col(Client.mrn))
        )
        if client_id is not None:
            q = q.where(col(Authorization.client_id) == client_id)
        rows = session.execute(q).all()
    result = []
    for a, mrn, last, first, payer, used_units in rows:
        left = int(a.units) - int(used_units)
        warning = ""
        if left <= 0:
            warning = "no units left"
        elif left < warn_units:
            warning = f"{left} unit{'s' if left != 1 else ''} left"
        if a.end_date <= on + timedelta(days=warn_days):
            ends = f"ends {a.end_date:%m/%d/%Y}"
            warning = f"{warning}; {ends}" if warning else ends
        if warnings_only and not warning:
            continue
        result.append(
            AuthStatus(
                a.id or 0,
                a.client_id,
                mrn,
                f"{last}, {first}",
                payer,
                a.auth_number,
                a.code,
                a.start_date,
                a.end_date,
                int(a.units),
                int(used_units),
                warning,
            )
        )
    return result
