"""Consents, disclosures, emergency access, amendments, audit log and backups."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, LargeBinary
from sqlmodel import Field, SQLModel

from iopdesk.models.base import Tracked, UTCDateTime, utcnow


class Recipient(Tracked, table=True):
    """An outside person or organization records may be released to (the recipient directory).
    Names are unique ignoring case and surrounding space (`name_key`)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str
    name_key: str = Field(unique=True, index=True)  # name.strip().casefold()
    organization: str = ""
    address: str = ""
    type: str = "other"  # provider | health_plan | employer | court | family | other
    active: bool = True


class Consent(Tracked, table=True):
    """A 42 CFR 2.31 consent (kind "part2") or a HIPAA 164.508 authorization (kind "hipaa").

    It names a recipient record (`recipient_id`) or, for a Part 2 TPO consent
    (2.31(a)(4)(i)), a class of recipients (`recipient_class`: treating_providers |
    health_plans); `recipient_name`/`recipient_org` keep the name as signed."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    kind: str = "part2"  # part2 | hipaa
    recipient_id: int | None = Field(default=None, foreign_key="recipient.id")
    recipient_class: str = ""
    recipient_name: str
    recipient_org: str = ""
    purpose: str  # comma list: treatment, payment, operations or free text
    info_categories: str = ""  # comma list of category codes (or "all")
    signed_date: date | None = None
    expiry_date: date | None = None
    expiry_event: str = ""
    revoked_date: date | None = None
    form_data: bytes | None = Field(default=None, sa_type=LargeBinary)
    form_mime: str = ""
    form_filename: str = ""


class Disclosure(SQLModel, table=True):
    """One release of records (accounting of disclosures)."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    consent_id: int | None = Field(default=None, foreign_key="consent.id")
    disclosed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    user_id: int = Field(foreign_key="app_user.id")
    kind: str = "disclosure"  # disclosure | internal | client_copy
    recipient: str = ""
    recipient_id: int | None = Field(default=None, foreign_key="recipient.id")
    recipient_address: str = ""  # as it was on the day of the disclosure
    purpose: str = ""
    what_sent: str = ""
    categories: str = ""  # comma list of the information categories the document held


class BreakGlassAccess(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    client_id: int = Field(foreign_key="client.id")
    reason: str
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    reviewed_by: int | None = Field(default=None, foreign_key="app_user.id")
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AmendmentRequest(Tracked, table=True):
    """HIPAA 164.526 amendment request against a signed note or chart field."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    note_id: int | None = Field(default=None, foreign_key="note.id")
    field_name: str = ""
    requested_change: str
    received_date: date
    status: str = "pending"  # pending | accepted | denied
    decision_date: date | None = None
    decided_by: int | None = Field(default=None, foreign_key="app_user.id")
    denial_reason: str = ""
    amendment_text: str = ""
    original_sha256: str = ""
    # 164.526(b)(2): act within 60 days of receipt; one extension of up to 30 days, given in
    # writing with the reason before the 60 days run out. due_date is the current deadline.
    due_date: date = Field(index=True)
    extension_reason: str = ""
    extended_on: date | None = None
    extended_by: int | None = Field(default=None, foreign_key="app_user.id")
    # 164.526(d)(1)(iii), (d)(3), (d)(4): after a denial, the client's statement of
    # disagreement and the clinic's rebuttal, linked to the record with the request
    disagreement: str = ""
    disagreement_date: date | None = None
    rebuttal: str = ""
    rebuttal_date: date | None = None
    rebuttal_by: int | None = Field(default=None, foreign_key="app_user.id")


class AuditEvent(SQLModel, table=True):
    """Append-only, HMAC-chained audit log. Triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_client", "client_id"), Index("ix_audit_user", "user_id"))

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = Field(sa_type=UTCDateTime, index=True)
    user_id: int | None = None
    username: str = ""
    action: str = Field(index=True)
    entity: str = ""
    entity_id: str = ""
    client_id: int | None = None
    detail: str = ""
    workstation: str = ""
    flagged: bool = False
    prev_mac: str
    mac: str


class AuditHead(SQLModel, table=True):
    """The chain's last link; serialises writers and lets verify detect a truncated tail."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    last_id: int = 0
    last_mac: str = ""
    # HMAC (clinic audit key) over last_id and last_mac: a rewound head needs the key.
    head_mac: str = ""


class BackupRecord(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    path: str
    kind: str = "daily"
    status: str = "ok"
    size_bytes: int = 0
    message: str = ""
