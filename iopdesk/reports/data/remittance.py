"""Receivables: claim balances, denials and aging buckets, as the receivables writers read them.

Plain data built by iopdesk.services.remittance and read by the writers in iopdesk.reports; the
services import these types from here (reports never import services).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

BUCKETS = ("0-30", "31-60", "61-90", "90+")


@dataclass
class ClaimBalance:
    claim_id: int
    claim_number: str
    payer: str
    mrn: str
    client: str
    date_from: date
    date_to: date
    sent_on: date
    charge: Decimal
    paid: Decimal = Decimal("0")
    patient_responsibility: Decimal = Decimal("0")
    write_off: Decimal = Decimal("0")
    denied: Decimal = Decimal("0")
    status: str = "sent"  # sent | paid | partially paid | denied | reversed
    reasons: list[str] = field(default_factory=list)  # "CO-197" ...
    remarks: list[str] = field(default_factory=list)
    last_remit: date | None = None
    client_id: int = 0
    part2: bool = False

    @property
    def balance(self) -> Decimal:
        return self.charge - self.paid - self.patient_responsibility - self.write_off


@dataclass(frozen=True)
class Denial:
    claim_number: str
    payer: str
    mrn: str
    client: str
    date_from: date
    date_to: date
    amount: Decimal
    reasons: str  # "CO-197 Precertification ... absent."
    remarks: str
    age_days: int
    action: str


@dataclass
class AgingRow:
    payer: str
    buckets: dict[str, Decimal]

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), Decimal("0"))


@dataclass
class Aging:
    as_of: date
    rows: list[AgingRow]
    claims: list[tuple[ClaimBalance, int, str]]  # balance, age days, bucket

    @property
    def totals(self) -> dict[str, Decimal]:
        return {k: sum((r.buckets[k] for r in self.rows), Decimal("0")) for k in BUCKETS}
