"""ASC X12 5010 837 writer: 005010X222A1 (professional) and 005010X223A2 (institutional).

Takes plain data (services/claims.py builds it from the billing engine's claim lines) and
returns the interchange text. pyx12 has no generator, so the segments are written here and
every file is checked with pyx12's validator before it leaves (services/claims.validate).

Delimiters: `*` element, `:` component, `^` repetition, `~` segment (one segment a line).
Every text value reaching this module is already reduced to the X12 basic character set
(services/claims.x12_text), so none of them can contain a delimiter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

PROFESSIONAL = "837P"
INSTITUTIONAL = "837I"
VERSIONS = {PROFESSIONAL: "005010X222A1", INSTITUTIONAL: "005010X223A2"}


@dataclass(frozen=True)
class Address:
    line1: str
    line2: str
    city: str
    state: str
    zip: str


@dataclass(frozen=True)
class Provider:
    """The billing provider (the clinic)."""

    name: str
    npi: str
    taxonomy: str
    tax_id: str
    tax_id_qualifier: str  # EI (EIN) | SY (SSN)
    address: Address


@dataclass(frozen=True)
class Person:
    last: str
    first: str
    dob: date | None
    sex: str  # F | M | U
    address: Address | None = None


@dataclass(frozen=True)
class Clinician:
    npi: str
    last: str
    first: str
    taxonomy: str = ""


@dataclass(frozen=True)
class Line:
    line_id: str  # REF*6R: the billing line's record ID, echoed back on the 835
    date_of_service: date
    procedure_code: str
    modifiers: tuple[str, ...]
    revenue_code: str
    units: int
    charge: Decimal
    place_of_service: str
    pointers: tuple[int, ...]  # 1-based into the claim's diagnoses (837P)
    rendering: Clinician | None = None


@dataclass(frozen=True)
class Claim:
    claim_number: str  # CLM01
    claim_type: str  # 837P | 837I
    frequency: str  # 1 original | 7 replacement | 8 void
    payer_name: str
    payer_id: str  # electronic payer ID (NM1*PR ... PI)
    filing_code: str  # SBR09
    member_id: str
    group_number: str
    relationship: str  # "18" self, "01" spouse, "19" child, "G8" other
    subscriber: Person
    patient: Person | None  # None when the patient is the subscriber
    diagnoses: tuple[str, ...]  # ICD-10-CM without the dot, principal first
    auth_number: str
    original_reference: str  # REF*F8 for frequencies 7 and 8
    facility_code: str  # 837P: place of service; 837I: first two digits of the type of bill
    statement_from: date
    statement_to: date
    attending: Clinician | None  # 837I
    patient_status: str  # 837I CL103
    lines: tuple[Line, ...]

    @property
    def total(self) -> Decimal:
        return sum((ln.charge for ln in self.lines), Decimal("0.00"))


@dataclass(frozen=True)
class Interchange:
    claim_type: str
    sender_id: str
    sender_name: str
    contact_name: str
    contact_phone: str
    receiver_id: str
    receiver_name: str
    control_number: int
    created: datetime
    usage: str  # P | T
    reference: str  # BHT03: the batch number
    billing: Provider
    claims: tuple[Claim, ...] = field(default_factory=tuple)


def _d8(d: date) -> str:
    return d.strftime("%Y%m%d")


def _amount(value: Decimal) -> str:
    """X12 R type: no trailing zeros after the point, no point for whole amounts."""
    text = format(value.quantize(Decimal("0.01")), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


class _Segments:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, *elements: str) -> None:
        parts = list(elements)
        while parts and parts[-1] == "":
            parts.pop()
        self.items.append("*".join(parts))


def _isa_field(value: str, width: int) -> str:
    return value[:width].ljust(width)


def render(ic: Interchange) -> str:
    """The whole interchange: ISA, one GS, one ST with every claim, SE, GE, IEA."""
    version = VERSIONS[ic.claim_type]
    ctrl = f"{ic.control_number % 1_000_000_000:09d}"
    st_ctrl = "0001"
    head = (
        f"ISA*00*{' ' * 10}*00*{' ' * 10}*ZZ*{_isa_field(ic.sender_id, 15)}*ZZ*"
        f"{_isa_field(ic.receiver_id, 15)}*{ic.created:%y%m%d}*{ic.created:%H%M}*^*00501*"
        f"{ctrl}*0*{ic.usage}*:"
    )
    gs = (
        f"GS*HC*{ic.sender_id}*{ic.receiver_id}*{ic.created:%Y%m%d}*{ic.created:%H%M}*1*X*{version}"
    )
    s = _Segments()
    s.add("ST", "837", st_ctrl, version)
    s.add("BHT", "0019", "00", ic.reference, f"{ic.created:%Y%m%d}", f"{ic.created:%H%M}", "CH")
    s.add("NM1", "41", "2", ic.sender_name, "", "", "", "", "46", ic.sender_id)
    s.add("PER", "IC", ic.contact_name, "TE", ic.contact_phone)
    s.add("NM1", "40", "2", ic.receiver_name, "", "", "", "", "46", ic.receiver_id)
    hl = 1
    s.add("HL", "1", "", "20", "1")
    b = ic.billing
    s.add("PRV", "BI", "PXC", b.taxonomy)
    s.add("NM1", "85", "2", b.name, "", "", "", "", "XX", b.npi)
    _address(s, b.address)
    s.add("REF", b.tax_id_qualifier, b.tax_id)
    for claim in ic.claims:
        hl += 1
        subscriber_hl = hl
        s.add("HL", str(hl), "1", "22", "0" if claim.patient is None else "1")
        s.add(
            "SBR",
            "P",
            "18" if claim.patient is None else "",
            claim.group_number,
            "",
            "",
            "",
            "",
            "",
            claim.filing_code,
        )
        sub = claim.subscriber
        s.add("NM1", "IL", "1", sub.last, sub.first, "", "", "", "MI", claim.member_id)
        if sub.address is not None:
            _address(s, sub.address)
        if sub.dob is not None:
            s.add("DMG", "D8", _d8(sub.dob), sub.sex or "U")
        s.add("NM1", "PR", "2", claim.payer_name, "", "", "", "", "PI", claim.payer_id)
        if claim.patient is not None:
            hl += 1
            pat = claim.patient
            s.add("HL", str(hl), str(subscriber_hl), "23", "0")
            s.add("PAT", claim.relationship)
            s.add("NM1", "QC", "1", pat.last, pat.first)
            if pat.address is not None:
                _address(s, pat.address)
            s.add("DMG", "D8", _d8(pat.dob) if pat.dob else "", pat.sex or "U")
        if claim.claim_type == PROFESSIONAL:
            _professional(s, claim, b.npi)
        else:
            _institutional(s, claim)
    s.add("SE", str(len(s.items) + 1), st_ctrl)
    body = "~\n".join(s.items)
    return f"{head}~\n{gs}~\n{body}~\nGE*1*1~\nIEA*1*{ctrl}~\n"


def _address(s: _Segments, a: Address) -> None:
    s.add("N3", a.line1, a.line2)
    s.add("N4", a.city, a.state, a.zip)


def _claim_refs(s: _Segments, claim: Claim) -> None:
    if claim.frequency in ("7", "8") and claim.original_reference:
        s.add("REF", "F8", claim.original_reference)
    if claim.auth_number:
        s.add("REF", "G1", claim.auth_number)


def _professional(s: _Segments, claim: Claim, billing_npi: str) -> None:
    s.add(
        "CLM",
        claim.claim_number,
        _amount(claim.total),
        "",
        "",
        f"{claim.facility_code}:B:{claim.frequency}",
        "Y",
        "A",
        "Y",
        "Y",
    )
    _claim_refs(s, claim)
    s.add(
        "HI",
        *(f"{'ABK' if i == 0 else 'ABF'}:{code}" for i, code in enumerate(claim.diagnoses[:12])),
    )
    for n, ln in enumerate(claim.lines, start=1):
        s.add("LX", str(n))
        s.add(
            "SV1",
            ":".join(("HC", ln.procedure_code, *ln.modifiers[:4])),
            _amount(ln.charge),
            "UN",
            str(ln.units),
            ln.place_of_service if ln.place_of_service != claim.facility_code else "",
            "",
            ":".join(str(p) for p in ln.pointers[:4]),
        )
        s.add("DTP", "472", "D8", _d8(ln.date_of_service))
        s.add("REF", "6R", ln.line_id)
        r = ln.rendering
        if r is not None and r.npi and r.npi != billing_npi:
            s.add("NM1", "82", "1", r.last, r.first, "", "", "", "XX", r.npi)
            if r.taxonomy:
                s.add("PRV", "PE", "PXC", r.taxonomy)


def _institutional(s: _Segments, claim: Claim) -> None:
    s.add(
        "CLM",
        claim.claim_number,
        _amount(claim.total),
        "",
        "",
        f"{claim.facility_code}:A:{claim.frequency}",
        "",
        "A",
        "Y",
        "Y",
    )
    s.add("DTP", "434", "RD8", f"{_d8(claim.statement_from)}-{_d8(claim.statement_to)}")
    s.add("CL1", "", "", claim.patient_status)
    _claim_refs(s, claim)
    s.add("HI", f"ABK:{claim.diagnoses[0]}")
    others = claim.diagnoses[1:13]
    if others:
        s.add("HI", *(f"ABF:{code}" for code in others))
    a = claim.attending
    if a is not None:
        s.add("NM1", "71", "1", a.last, a.first, "", "", "", "XX", a.npi)
        if a.taxonomy:
            s.add("PRV", "AT", "PXC", a.taxonomy)
    for n, ln in enumerate(claim.lines, start=1):
        s.add("LX", str(n))
        s.add(
            "SV2",
            ln.revenue_code,
            ":".join(("HC", ln.procedure_code, *ln.modifiers[:4])),
            _amount(ln.charge),
            "UN",
            str(ln.units),
        )
        s.add("DTP", "472", "D8", _d8(ln.date_of_service))
        s.add("REF", "6R", ln.line_id)
