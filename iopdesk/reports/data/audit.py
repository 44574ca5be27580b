"""One audit-log row, as the audit report writers read it.

Plain data built by iopdesk.services.audit_report and read by the writers in iopdesk.reports; the
services import these types from here (reports never import services).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ReportRow:
    id: int
    occurred_at: datetime
    username: str
    action: str
    entity: str
    entity_id: str
    client_id: int | None
    mrn: str
    detail: str
    workstation: str
    flagged: bool

    def values(self) -> tuple[object, ...]:
        return (
            self.id,
            self.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
            self.username,
            self.action,
            self.entity,
            self.entity_id,
            self.mrn,
            self.detail,
            self.workstation,
            "yes" if self.flagged else "",
        )
