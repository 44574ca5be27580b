"""A billing run (claim lines, exceptions, summary), as the billing workbook and 837 read it.

Plain data built by iopdesk.services.billing and read by the writers in iopdesk.reports; the
services import these types from here (reports never import services).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class ClaimLine:
    """One claim line: the 17 export columns plus the record keys behind them.

    Fields are only ever added (with defaults), never renamed: other writers (837) read them."""

    mrn: str
    client: str  # "Last, First"
    dob: date
    payer: str  # payer ID (payer_code)
    member_id: str
    auth_number: str
    date_of_service: date
    procedure_code: str
    modifiers: str
    revenue_code: str
    units: int
    charge: Decimal
    diagnosis_codes: str
    rendering_npi: str
    billing_npi: str
    place_of_service: str
    client_id: int = 0
    session_id: int | None = None
    authorization_id: int | None = None
    payer_id: int = 0
    part2: bool = False
    diagnosis_pointers: str = ""  # letters of diagnosis_codes for this line, e.g. "A,B"

    @property
    def key(self) -> tuple[int, date, int | None, str]:
        return (self.client_id, self.date_of_service, self.session_id, self.procedure_code)

    def values(self) -> tuple[Any, ...]:
        """The 17 export columns, in the workbook's order."""
        return (
            self.mrn,
            self.client,
            self.dob,
            self.payer,
            self.member_id,
            self.auth_number,
            self.date_of_service,
            self.procedure_code,
            self.modifiers,
            self.revenue_code,
            self.units,
            self.charge,
            self.diagnosis_codes,
            self.diagnosis_pointers,
            self.rendering_npi,
            self.billing_npi,
            self.place_of_service,
        )


@dataclass(frozen=True)
class BillingException:
    mrn: str
    client: str
    date_of_service: date
    reason: str
    client_id: int = 0
    session_id: int | None = None
    part2: bool = False
    # The service the line would bill (the per-diem code, or the CPT code the session's kind
    # and minutes give); "" when no code can be known (e.g. no payer, no per-diem code set).
    service_code: str = ""


@dataclass(frozen=True)
class SummaryRow:
    key: str  # payer ID or procedure code
    lines: int
    units: int
    charges: Decimal


@dataclass
class BillingRun:
    date_from: date
    date_to: date
    lines: list[ClaimLine] = field(default_factory=list)
    exceptions: list[BillingException] = field(default_factory=list)
    by_payer: list[SummaryRow] = field(default_factory=list)
    by_code: list[SummaryRow] = field(default_factory=list)
    payer_filter: str | None = None
    batch_number: str = ""

    @property
    def total(self) -> Decimal:
        return sum((ln.charge for ln in self.lines), Decimal("0.00"))

    @property
    def total_units(self) -> int:
        return sum(ln.units for ln in self.lines)

    @property
    def has_part2(self) -> bool:
        return any(ln.part2 for ln in self.lines) or any(e.part2 for e in self.exceptions)

    @property
    def summary(self) -> dict[str, list[SummaryRow]]:
        return {"payer": self.by_payer, "code": self.by_code}
