"""What the printable consent form shows.

Plain data built by iopdesk.services.consents and read by the writers in iopdesk.reports; the
services import these types from here (reports never import services).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class ConsentFormData:
    clinic_name: str
    clinic_address: str
    clinic_phone: str
    client_name: str
    client_dob: date
    mrn: str
    recipient_name: str = ""
    recipient_org: str = ""
    purpose: str = ""
    info_categories: tuple[str, ...] = field(default_factory=tuple)
    expiry: str = ""
    signed_date: date | None = None
    all_categories: tuple[str, ...] = ()  # every box the form offers (the service fills it)
    kind: str = "part2"  # part2 | hipaa
    recipient_class: str = ""  # label of the class of a TPO consent, e.g. "my health plans"
    recipient_address: str = ""
