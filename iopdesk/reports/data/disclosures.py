"""One accounting-of-disclosures row.

Plain data built by iopdesk.services.disclosures and read by the writers in iopdesk.reports; the
services import these types from here (reports never import services).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class DisclosureRow:
    id: int
    disclosed_at: datetime
    kind: str
    recipient: str
    purpose: str
    what_sent: str
    consent_id: int | None
    username: str
    recipient_address: str = ""
    consent_used: str = ""  # e.g. "42 CFR Part 2 consent no. 3, signed 2026-01-02"
    categories: str = ""  # plain labels of what the document held
