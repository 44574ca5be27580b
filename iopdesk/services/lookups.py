"""Read-only pick lists for forms: active program tracks and payers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session, col, select

from iopdesk.models import Payer, Track
from iopdesk.services.actor import Actor
from iopdesk.services.declare import service
from iopdesk.services.permissions import Perm


@dataclass(frozen=True)
class TrackOption:
    id: int
    code: str
    name: str
    is_sud: bool = False  # clients enrolled here fall under 42 CFR Part 2
    required_weekly_hours: Decimal = Decimal("9")
    level_of_care: str = "IOP"
    population: str = "adult"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})"


@dataclass(frozen=True)
class PayerOption:
    id: int
    code: str
    name: str
    requires_auth: bool = False

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})"


@service(Perm.CENSUS_VIEW, read_only=True)
def list_tracks(session: Session, actor: Actor) -> list[TrackOption]:
    """Active tracks by name, for combo boxes."""
    rows = session.exec(
        select(Track).where(col(Track.active)).order_by(col(Track.name), col(Track.id))
    ).all()
    return [
        TrackOption(
            t.id or 0,
            t.track_code,
            t.name,
            bool(t.is_sud),
            Decimal(t.required_weekly_hours),
            t.level_of_care,
            t.population,
        )
        for t in rows
    ]


@service(Perm.CENSUS_VIEW, read_only=True)
def list_payers(session: Session, actor: Actor) -> list[PayerOption]:
    """Active payers by name, for combo boxes."""
    rows = session.exec(
        select(Payer).where(col(Payer.active)).order_by(col(Payer.name), col(Payer.id))
    ).all()
    return [PayerOption(p.id or 0, p.payer_code, p.name, bool(p.requires_auth)) for p in rows]
