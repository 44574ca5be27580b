"""Payers, fee schedules, authorizations, billing batches and lines."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from iopdesk.models.base import Tracked, UTCDateTime, Voidable


class Payer(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    payer_code: str = Field(unique=True, index=True)
    name: str
    billing_mode: str = "per_service"  # per_diem | per_service
    requires_auth: bool = False
    active: bool = True
    audio_only_modifier: str = "93"  # audio-only telehealth: "FQ" (Medicare) or "93"
    group_hq: bool = True  # HQ (group setting) on 90853
    sud_hf: bool = False  # HF (substance abuse program) on services of SUD-track clients
    requires_treatment_plan: bool = False  # no line without a current signed plan
    # Electronic claims (issue 21): the clearinghouse's payer ID; "837P" | "837I" or "" for
    # the billing mode's default (per_service -> 837P, per_diem -> 837I); the institutional
    # type of bill (e.g. 0131, 0761; never guessed); one claim per statement "period" or per
    # "date" of service; SBR09 claim filing indicator (CI commercial, MC Medicaid, ...).
    electronic_payer_id: str = ""
    claim_type: str = ""
    type_of_bill: str = ""
    claim_grouping: str = "period"
    claim_filing_code: str = "CI"


class FeeSchedule(Tracked, Voidable, table=True):
    __table_args__ = (UniqueConstraint("payer_id", "code", "effective_from"),)

    id: int | None = Field(default=None, primary_key=True)
    payer_id: int = Field(foreign_key="payer.id", index=True)
    code: str
    rate: Decimal = Field(max_digits=10, decimal_places=2)
    effective_from: date | None = None
    effective_to: date | None = None


class Authorization(Tracked, Voidable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    payer_id: int = Field(foreign_key="payer.id")
    auth_number: str
    code: str
    start_date: date
    end_date: date
    units: int


class BillingBatch(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    batch_number: str = Field(unique=True)
    kind: str = "xlsx"  # xlsx (Excel export) | x12 (837 files)
    date_from: date
    date_to: date
    payer_filter: str | None = None
    status: str = "exported"  # exported | voided
    line_count: int = 0
    total_charge: Decimal = Field(default=Decimal("0"), max_digits=12, decimal_places=2)
    file_name: str = ""
    voided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    voided_by: int | None = None
    void_reason: str | None = None


class BillingLine(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="billingbatch.id", index=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    session_id: int | None = Field(default=None, foreign_key="clinic_session.id")
    payer_id: int = Field(foreign_key="payer.id")
    authorization_id: int | None = Field(default=None, foreign_key="authorization.id")
    date_of_service: date = Field(index=True)
    procedure_code: str
    modifiers: str = ""
    revenue_code: str = ""
    units: int = 1
    charge: Decimal = Field(max_digits=10, decimal_places=2)
    diagnosis_codes: str = ""
    diagnosis_pointers: str = ""  # e.g. "A,B": letters of diagnosis_codes for this line
    rendering_npi: str = ""
    billing_npi: str = ""
    place_of_service: str = ""
    member_id: str = ""
    auth_number: str = ""
    claim_id: int | None = Field(default=None, foreign_key="claim.id", index=True)


class Claim(Tracked, table=True):
    """One 837 claim (CLM) sent in an x12 batch. Frequency 1 original, 7 replacement of
    `original_claim_id`, 8 void of it (a void has no billing lines of its own)."""

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="billingbatch.id", index=True)
    claim_number: str = Field(unique=True, index=True)  # CLM01, patient control number
    payer_id: int = Field(foreign_key="payer.id")
    client_id: int = Field(foreign_key="client.id", index=True)
    claim_type: str  # 837P | 837I
    frequency: str = "1"
    original_claim_id: int | None = Field(default=None, foreign_key="claim.id")
    date_from: date
    date_to: date
    total_charge: Decimal = Field(default=Decimal("0"), max_digits=12, decimal_places=2)
    line_count: int = 0
    file_name: str = ""
    payer_claim_number: str = ""  # CLP07 from the first remittance that names it


class Remittance(Tracked, table=True):
    """One imported 835 file (its SHA-256 makes a re-import a no-op)."""

    id: int | None = Field(default=None, primary_key=True)
    file_sha256: str = Field(unique=True)
    file_name: str = ""
    payer_name: str = ""
    payer_identifier: str = ""
    check_number: str = ""  # TRN02
    payment_date: date | None = None
    total_paid: Decimal = Field(default=Decimal("0"), max_digits=12, decimal_places=2)
    claims_matched: int = 0
    claims_unmatched: int = 0


class RemittanceClaim(Tracked, table=True):
    """A CLP of an 835; claim_id is None when it matched nothing we sent (never guessed)."""

    id: int | None = Field(default=None, primary_key=True)
    remittance_id: int = Field(foreign_key="remittance.id", index=True)
    claim_id: int | None = Field(default=None, foreign_key="claim.id", index=True)
    claim_number: str  # CLP01 as received
    status_code: str  # CLP02
    charge: Decimal = Field(default=Decimal("0"), max_digits=12, decimal_places=2)
    paid: Decimal = Field(default=Decimal("0"), max_digits=12, decimal_places=2)
    patient_responsibility: Decimal = Field(default=Decimal("0"), max_digits=12, decimal_places=2)
    payer_claim_number: str = ""  # CLP07
    note: str = ""  # why it is unmatched


class RemittanceLine(Tracked, table=True):
    """An SVC of an 835 claim; billing_line_id is None when it matched no line sent."""

    id: int | None = Field(default=None, primary_key=True)
    remittance_claim_id: int = Field(foreign_key="remittanceclaim.id", index=True)
    billing_line_id: int | None = Field(default=None, foreign_key="billingline.id", index=True)
    procedure_code: str = ""
    date_of_service: date | None = None
    charge: Decimal = Field(default=Decimal("0"), max_digits=12, decimal_places=2)
    paid: Decimal = Field(default=Decimal("0"), max_digits=12, decimal_places=2)
    units: int = 0
    patient_responsibility: Decimal = Field(default=Decimal("0"), max_digits=12, decimal_places=2)
    remark_codes: str = ""  # RARC, comma-separated (LQ*HE)
    note: str = ""


class RemittanceAdjustment(Tracked, table=True):
    """A CAS adjustment: group (CO, PR, OA, PI, CR), CARC and amount; claim or line level."""

    id: int | None = Field(default=None, primary_key=True)
    remittance_claim_id: int = Field(foreign_key="remittanceclaim.id", index=True)
    remittance_line_id: int | None = Field(default=None, foreign_key="remittanceline.id")
    group_code: str
    reason_code: str
    amount: Decimal = Field(default=Decimal("0"), max_digits=12, decimal_places=2)
    units: int = 0
