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
