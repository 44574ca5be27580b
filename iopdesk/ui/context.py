"""What every page needs: the database facade and the signed-in user."""

from __future__ import annotations

from dataclasses import dataclass

from iopdesk.db import Database
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import ClinicInfo
from iopdesk.services.permissions import Perm, has


@dataclass
class AppContext:
    db: Database
    actor: Actor
    clinic: ClinicInfo

    def __post_init__(self) -> None:
        from iopdesk.ui import clock

        clock.set_zone(self.clinic.timezone)

    def can(self, perm: Perm) -> bool:
        return has(self.actor, perm)
