"""A progress note as printed (header, content, addenda).

Plain data built by iopdesk.services.notes and read by the writers in iopdesk.reports; the
services import these types from here (reports never import services).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from iopdesk.models.enums import NoteStatus

AWAITING_COSIGN = "awaiting co-signature"


@dataclass(frozen=True)
class NoteHeader:
    """What front desk and billing may know about a note: that it exists and its state."""

    id: int
    client_id: int
    service_date: date
    format: str
    author: str
    status: str
    signed_at: datetime | None
    cosign_required: bool = False
    cosigned_at: datetime | None = None
    late_entry: bool = False
    group_note_id: int | None = None
    session_id: int | None = None
    client_name: str = ""
    author_staff_id: int = 0
    version: int = 1

    @property
    def state(self) -> str:
        """draft | signed | awaiting co-signature | co-signed (what lists show)."""
        if self.status == NoteStatus.SIGNED.value and self.cosign_required:
            return "co-signed" if self.cosigned_at else AWAITING_COSIGN
        return self.status

    @property
    def state_label(self) -> str:
        text = self.state.capitalize()
        return f"{text} (late entry)" if self.late_entry else text


@dataclass(frozen=True)
class AddendumView:
    id: int
    author: str
    author_staff_id: int
    text: str
    created_at: datetime
    signed_by: str
    signed_at: datetime | None
    content_sha256: str | None
    version: int


@dataclass(frozen=True)
class GroupNarrative:
    id: int
    topic: str
    interventions: str
    modalities: list[str]
    narrative: str
    status: str


@dataclass(frozen=True)
class NoteContent:
    header: NoteHeader
    sections: dict[str, str]
    modalities: list[str]
    risk_suicidal: bool
    risk_homicidal: bool
    safety_plan: str
    goals_addressed: list[int] = field(default_factory=list)
    risk_screened: bool = False  # the screen was done (checking either box means it was)
    service_minutes: int | None = None
    template_id: int | None = None
    signed_by: str = ""
    cosigned_by: str = ""
    content_sha256: str | None = None
    addenda: list[AddendumView] = field(default_factory=list)
    group: GroupNarrative | None = None
    goal_labels: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NotePrint:
    """Plain data for reports.note_pdf."""

    clinic_name: str
    clinic_address: str
    clinic_phone: str
    client_name: str
    client_dob: date
    client_mrn: str
    part2: bool
    content: NoteContent
    session_label: str
    printed_at: datetime
    printed_by: str
    timezone: str | None = None  # the clinic's: every time prints clinic-local with its zone
