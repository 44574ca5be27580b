"""Electronic claims (issue 21): 837P/837I files from the billing engine's claim lines.

One rules engine, two writers: the claim lines and exceptions come from services/billing.py
exactly as the Excel export gets them (`billing._run`); this module only groups them into
claims, adds the electronic set-up and hands plain data to reports/x12_837.py. Every file is
checked with pyx12's validator before it is written; a file with any error is never written.

Rules (decisions where the issue is silent are marked *):
- Claim type: the payer's `claim_type`, else its billing mode's default (per_service 837P,
  per_diem 837I).
- One claim per client, payer, claim type, authorization number* and (837I) attending
  provider* (an 837P claim holds at most 50 lines, 837I 999: more start a new claim),
  per statement period (the calendar month inside the export range*: the claim spans its
  first to last date of service that month) or per date of service, as the payer's
  `claim_grouping` says.
- Claim exceptions (the claim's lines are not sent and stay billable): "no electronic payer
  ID", "no type of bill" (837I; never guessed), "no revenue code" (837I line), "no subscriber
  details" (relationship not self and the subscriber's name, DOB or sex missing),
  "no client address" (the client is the subscriber: N3/N4 are required), "no attending
  provider NPI" (837I).
- Frequency from the batch history: a claim sent in an x12 batch that was later voided and
  not yet replaced or voided electronically is *replaced* (7, REF*F8 = the payer's claim
  number from its remittance, else our claim number) by a new claim of the same client,
  payer and claim type whose dates overlap it, or else sent as a *void* (8) with its
  original lines when the export covers its dates.
- Text is reduced to the X12 basic character set (upper case letters, digits, space and
  ! " & ' ( ) + , - . / ; ? =); each value that changed beyond upper-casing is listed.
- Files: one per payer and claim type, `<PAYER_ID>_837P.x12` / `<PAYER_ID>_837I.x12`.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from iopdesk.db import Database
from iopdesk.errors import UserError, ValidationError
from iopdesk.models import (
    BillingBatch,
    BillingLine,
    Claim,
    Client,
    Clinic,
    Coverage,
    Payer,
    Staff,
)
from iopdesk.models.enums import BatchStatus, BillingMode
from iopdesk.reports import x12_837 as x12
from iopdesk.services import audit, billing, clock, filesout
from iopdesk.services.actor import Actor
from iopdesk.services.billing import BillingException, ClaimLine
from iopdesk.services.clinic import get_setting_in
from iopdesk.services.declare import acting
from iopdesk.services.disclosures import Release
from iopdesk.services.permissions import Perm, require
from iopdesk.services.records import serialize

# The information categories an 837 file holds about each client in it (release gate).
CLAIM_CATEGORIES = ("billing", "diagnosis")
PROFESSIONAL = x12.PROFESSIONAL
INSTITUTIONAL = x12.INSTITUTIONAL
CLAIM_TYPES = (PROFESSIONAL, INSTITUTIONAL)
GROUPINGS = ("period", "date")
RELATIONSHIPS = {"self": "18", "spouse": "01", "child": "19", "other": "G8"}
FILING_CODES = ("CI", "MC", "MB", "MA", "HM", "BL", "CH", "VA", "WC", "11", "ZZ")
KIND_X12 = "x12"
MAX_LINES = {PROFESSIONAL: 50, INSTITUTIONAL: 999}

NO_ELECTRONIC_PAYER_ID = "no electronic payer ID"
NO_TYPE_OF_BILL = "no type of bill"
NO_REVENUE_CODE = "no revenue code"
NO_SUBSCRIBER = "no subscriber details"
NO_CLIENT_ADDRESS = "no client address"
NO_ATTENDING = "no attending provider NPI"

_BASIC = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !\"&'()+,-./;?=")
_SPECIAL = {"ß": "SS", "Æ": "AE", "æ": "AE", "Ø": "O", "ø": "O", "Ł": "L", "ł": "L", "Đ": "D"}
_SPECIAL.update({"đ": "D", "Œ": "OE", "œ": "OE", "Þ": "TH", "þ": "TH", "ı": "I"})
_ADDRESS = re.compile(
    r"^(?P<street>.+?),\s*(?P<city>[^,]+),\s*(?P<state>[A-Za-z]{2})\s+(?P<zip>\d{5}(?:-?\d{4})?)$"
)
_TOB = re.compile(r"^0?\d{3}$")
_TAXONOMY = re.compile(r"^[0-9A-Z]{9}X$")


def claim_type_for(billing_mode: str, claim_type: str = "") -> str:
    """The payer's claim type, else the billing mode's default."""
    if claim_type:
        return claim_type
    return INSTITUTIONAL if billing_mode == BillingMode.PER_DIEM.value else PROFESSIONAL


def x12_text(value: str) -> str:
    """`value` in the X12 basic character set: accents dropped, letters upper-cased, any
    other character (the delimiters * : ~ ^ among them) a space; spaces collapsed."""
    out: list[str] = []
    for ch in value or "":
        ch = _SPECIAL.get(ch, ch)
        for c in unicodedata.normalize("NFKD", ch):
            if unicodedata.combining(c):
                continue
            c = c.upper()
            out.append(c if c in _BASIC else " ")
    return " ".join("".join(out).split())


@dataclass(frozen=True)
class TextChange:
    """A value that the X12 basic character set changed (beyond upper-casing)."""

    mrn: str  # "" for clinic and payer set-up
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class ClaimInfo:
    claim_number: str
    claim_type: str
    frequency: str
    payer: str
    mrn: str
    date_from: date
    date_to: date
    lines: int
    total: Decimal
    original: str = ""


@dataclass
class ClaimsResult:
    batch_number: str  # "" for a dry run or when nothing was sent
    files: list[Path] = field(default_factory=list)
    claims: list[ClaimInfo] = field(default_factory=list)
    exceptions: list[BillingException] = field(default_factory=list)
    changes: list[TextChange] = field(default_factory=list)
    lines: int = 0
    total: Decimal = Decimal("0.00")
    dry_run: bool = False
    texts: dict[str, str] = field(default_factory=dict)  # file name -> 837 text

    @property
    def originals(self) -> int:
        return sum(1 for c in self.claims if c.frequency == "1")

    @property
    def replacements(self) -> int:
        return sum(1 for c in self.claims if c.frequency == "7")

    @property
    def voids(self) -> int:
        return sum(1 for c in self.claims if c.frequency == "8")


# ------------------------------------------------------------------------------------------
# Validation and reading with pyx12
# ------------------------------------------------------------------------------------------


def quiet_pyx12() -> None:
    """pyx12 logs every error it finds, with segment values (names, member IDs), to the root
    logger: keep that out of IOPDesk's log files; callers get the errors as return values."""
    logger = logging.getLogger("pyx12")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    logger.propagate = False


def validate(text: str) -> list[str]:
    """Every error pyx12's validator (its 5010 maps) finds in an X12 interchange: [] = valid."""
    import pyx12.params
    import pyx12.x12n_document

    quiet_pyx12()

    out = io.StringIO()
    try:
        ok = pyx12.x12n_document.x12n_document(
            param=pyx12.params.params(),
            src_file=io.StringIO(text),
            fd_997=None,
            fd_html=None,
            fd_json=out,
        )
    except Exception as exc:  # pyx12 raises EngineError on a file it cannot walk at all
        return [f"pyx12 could not read the file: {exc}"]
    errors: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            here = where
            if "seg_id" in node:
                here = f"line {node.get('cur_line')} {node['seg_id']}"
            for err in node.get("errors", ()) or ():
                errors.append(f"{here}: {err.get('err_str')}")
            for key, value in node.items():
                if key != "errors":
                    walk(value, here)
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    text_out = out.getvalue()
    if text_out:
        walk(json.loads(text_out), "file")
    if not ok and not errors:
        errors.append("pyx12 reports the file as invalid")
    return errors


@dataclass(frozen=True)
class ReadLine:
    line_id: str
    procedure_code: str
    modifiers: tuple[str, ...]
    revenue_code: str
    charge: Decimal
    units: int
    date_of_service: date | None


@dataclass(frozen=True)
class ReadClaim:
    claim_number: str
    frequency: str
    total: Decimal
    member_id: str
    payer_id: str
    original_reference: str
    auth_number: str
    diagnoses: tuple[str, ...]
    lines: tuple[ReadLine, ...]


def read_837(text: str) -> list[ReadClaim]:
    """The claims of an 837 (either type) as pyx12's parser reads them."""
    import pyx12.x12file

    quiet_pyx12()
    claims: list[ReadClaim] = []
    cur: dict[str, Any] | None = None
    line: dict[str, Any] | None = None
    member = payer = ""

    def close_line() -> None:
        nonlocal line
        if cur is not None and line is not None:
            cur["lines"].append(ReadLine(**line))
        line = None

    def close_claim() -> None:
        nonlocal cur
        close_line()
        if cur is not None:
            cur["lines"] = tuple(cur["lines"])
            cur["diagnoses"] = tuple(cur["diagnoses"])
            claims.append(ReadClaim(**cur))
        cur = None

    for seg in pyx12.x12file.X12Reader(io.StringIO(text)):
        sid = seg.get_seg_id()
        v = seg.get_value
        if sid == "HL" and v("HL03") == "22":
            close_claim()
        elif sid == "NM1" and v("NM101") == "IL":
            member = v("NM109") or ""
        elif sid == "NM1" and v("NM101") == "PR":
            payer = v("NM109") or ""
        elif sid == "CLM":
            close_claim()
            cur = {
                "claim_number": v("CLM01") or "",
                "frequency": v("CLM05-3") or "",
                "total": Decimal(v("CLM02") or "0"),
                "member_id": member,
                "payer_id": payer,
                "original_reference": "",
                "auth_number": "",
                "diagnoses": [],
                "lines": [],
            }
        elif cur is not None and sid == "REF" and line is None:
            if v("REF01") == "F8":
                cur["original_reference"] = v("REF02") or ""
            elif v("REF01") == "G1":
                cur["auth_number"] = v("REF02") or ""
        elif cur is not None and sid == "HI":
            for i in range(1, 13):
                code = v(f"HI{i:02d}-2")
                if code:
                    cur["diagnoses"].append(code)
        elif cur is not None and sid == "LX":
            close_line()
            line = {
                "line_id": "",
                "procedure_code": "",
                "modifiers": (),
                "revenue_code": "",
                "charge": Decimal("0"),
                "units": 0,
                "date_of_service": None,
            }
        elif line is not None and sid in ("SV1", "SV2"):
            proc = "SV101" if sid == "SV1" else "SV202"
            amount, units = ("SV102", "SV104") if sid == "SV1" else ("SV203", "SV205")
            line["procedure_code"] = v(f"{proc}-2") or ""
            line["modifiers"] = tuple(m for i in range(3, 7) if (m := v(f"{proc}-{i}")))
            line["revenue_code"] = (v("SV201") or "") if sid == "SV2" else ""
            line["charge"] = Decimal(v(amount) or "0")
            line["units"] = int(Decimal(v(units) or "0"))
        elif line is not None and sid == "DTP" and v("DTP01") == "472":
            line["date_of_service"] = datetime.strptime(v("DTP03") or "", "%Y%m%d").date()
        elif line is not None and sid == "REF" and v("REF01") == "6R":
            line["line_id"] = v("REF02") or ""
        elif sid == "SE":
            close_claim()
    close_claim()
    return claims


# ------------------------------------------------------------------------------------------
# Set-up
# ------------------------------------------------------------------------------------------


@dataclass
class _Setup:
    billing: x12.Provider
    sender_id: str
    sender_name: str
    contact_name: str
    contact_phone: str
    receiver_id: str
    receiver_name: str
    usage: str
    changes: list[TextChange]


def _digits(text: str) -> str:
    return "".join(ch for ch in text or "" if ch.isdigit())


def _text(changes: list[TextChange], mrn: str, name: str, value: str) -> str:
    after = x12_text(value)
    if after != " ".join((value or "").upper().split()):
        changes.append(TextChange(mrn, name, value, after))
    return after


def _clinic_setup(session: Session) -> _Setup:
    """The clinic's electronic set-up; a UserError naming everything missing."""
    clinic = session.execute(sa_select(Clinic).limit(1)).scalar_one_or_none()
    if clinic is None:
        raise UserError("The clinic has not been set up yet.")

    def setting(key: str) -> str:
        return str(get_setting_in(session, key) or "").strip()

    missing: list[str] = []
    sender_id, receiver_id = setting("submitter_id"), setting("receiver_id")
    sender_name, receiver_name = setting("submitter_name"), setting("receiver_name")
    taxonomy = setting("taxonomy").upper()
    for label, value in (
        ("claims submitter ID (submitter_id)", sender_id),
        ("claims submitter name (submitter_name)", sender_name),
        ("clearinghouse ID (receiver_id)", receiver_id),
        ("clearinghouse name (receiver_name)", receiver_name),
    ):
        if not value:
            missing.append(label)
    for label, value in (("submitter_id", sender_id), ("receiver_id", receiver_id)):
        if value and (len(value) > 15 or x12_text(value) != value.upper()):
            missing.append(f"{label} of at most 15 letters and digits")
    if not _TAXONOMY.fullmatch(taxonomy):
        missing.append("billing provider taxonomy (10 characters, e.g. 261QM0801X)")
    npi = _digits(clinic.billing_npi)
    if len(npi) != 10:
        missing.append("billing NPI (10 digits)")
    tax_id = _digits(clinic.tax_id)
    if len(tax_id) != 9:
        missing.append("tax ID (9 digits)")
    match = _ADDRESS.match(" ".join((clinic.address or "").split()))
    zip9 = _digits(match.group("zip")) if match else ""
    if match is None:
        missing.append("clinic address as 'street, city, ST 12345-6789'")
    elif len(zip9) != 9:
        missing.append("the clinic address's ZIP+4 (9 digits, required for the billing provider)")
    phone = _digits(setting("submitter_phone") or clinic.phone)
    if len(phone) == 11 and phone.startswith("1"):
        phone = phone[1:]
    if len(phone) != 10:
        missing.append("claims contact phone (10 digits)")
    if missing:
        raise UserError(
            "Electronic claims need this set-up first (Admin > Clinic and settings): "
            + "; ".join(missing)
            + "."
        )
    assert match is not None
    changes: list[TextChange] = []
    street = [p.strip() for p in match.group("street").split(",", 1)]
    address = x12.Address(
        _text(changes, "", "clinic address", street[0]),
        _text(changes, "", "clinic address", street[1]) if len(street) > 1 else "",
        _text(changes, "", "clinic city", match.group("city")),
        match.group("state").upper(),
        zip9,
    )
    provider = x12.Provider(
        _text(changes, "", "clinic name", clinic.name)[:60],
        npi,
        taxonomy,
        tax_id,
        "SY" if setting("tax_id_type") == "SSN" else "EI",
        address,
    )
    return _Setup(
        provider,
        sender_id.upper(),
        _text(changes, "", "submitter name", sender_name)[:60],
        _text(changes, "", "claims contact", setting("submitter_contact") or sender_name)[:60],
        phone,
        receiver_id.upper(),
        _text(changes, "", "receiver name", receiver_name)[:60],
        setting("x12_usage") or "P",
        changes,
    )


# ------------------------------------------------------------------------------------------
# Grouping claim lines into claims
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cov:
    id: int
    client_id: int
    payer_id: int
    member_id: str
    group_number: str
    start: date | None
    end: date | None
    relationship: str
    sub_first: str
    sub_last: str
    sub_dob: date | None
    sub_sex: str


@dataclass
class _Draft:
    client_id: int
    payer_id: int
    claim_type: str
    auth_number: str
    attending_npi: str
    lines: list[ClaimLine]
    frequency: str = "1"
    original: Claim | None = None
    line_ids: list[str] = field(default_factory=list)

    @property
    def date_from(self) -> date:
        return min(ln.date_of_service for ln in self.lines)

    @property
    def date_to(self) -> date:
        return max(ln.date_of_service for ln in self.lines)

    @property
    def total(self) -> Decimal:
        return sum((ln.charge for ln in self.lines), Decimal("0.00"))


def _sex(value: str) -> str:
    v = (value or "").strip().upper()[:1]
    return v if v in ("F", "M") else "U"


def _icd(code: str) -> str:
    return code.replace(".", "").strip().upper()


def _split_codes(text: str) -> list[str]:
    return [_icd(c) for c in (text or "").split(",") if c.strip()]


@dataclass
class _World:
    payers: dict[int, Payer]
    clients: dict[int, Client]
    coverages: dict[int, list[_Cov]]
    staff: dict[str, Staff]


def _load_world(session: Session, client_ids: Iterable[int]) -> _World:
    ids = sorted(set(client_ids))
    payers = {p.id: p for p in session.execute(sa_select(Payer)).scalars() if p.id is not None}
    clients = {
        c.id: c
        for c in session.execute(sa_select(Client).where(col(Client.id).in_(ids))).scalars()
        if c.id is not None
    }
    coverages: dict[int, list[_Cov]] = defaultdict(list)
    for cv in session.execute(
        sa_select(Coverage)
        .where(col(Coverage.client_id).in_(ids), col(Coverage.voided_at).is_(None))
        .order_by(col(Coverage.priority), col(Coverage.id))
    ).scalars():
        assert cv.id is not None
        coverages[cv.client_id].append(
            _Cov(
                cv.id,
                cv.client_id,
                cv.payer_id,
                (cv.member_id or "").strip(),
                (cv.group_number or "").strip(),
                cv.start_date,
                cv.end_date,
                cv.subscriber_relationship or "self",
                cv.subscriber_first_name or "",
                cv.subscriber_last_name or "",
                cv.subscriber_dob,
                cv.subscriber_sex or "",
            )
        )
    staff = {
        s.npi: s
        for s in session.execute(sa_select(Staff).where(col(Staff.npi).is_not(None))).scalars()
        if s.npi
    }
    return _World(payers, clients, coverages, staff)


def _coverage_of(world: _World, ln: ClaimLine) -> _Cov | None:
    for cv in world.coverages.get(ln.client_id, ()):
        if (
            cv.payer_id == ln.payer_id
            and (cv.start is None or cv.start <= ln.date_of_service)
            and (cv.end is None or ln.date_of_service <= cv.end)
        ):
            return cv
    return None


def _drafts(lines: Iterable[ClaimLine], world: _World) -> list[_Draft]:
    groups: dict[tuple[Any, ...], _Draft] = {}
    for ln in lines:
        payer = world.payers[ln.payer_id]
        ctype = claim_type_for(payer.billing_mode, payer.claim_type)
        # statement period: the calendar month within the export range (a payer rejects
        # an institutional claim whose statement dates span two months)
        day = ln.date_of_service
        period: date = day if payer.claim_grouping == "date" else day.replace(day=1)
        attending = ln.rendering_npi if ctype == INSTITUTIONAL else ""
        key = (ln.client_id, ln.payer_id, ctype, ln.auth_number, attending, period)
        draft = groups.get(key)
        if draft is None:
            draft = groups[key] = _Draft(
                ln.client_id, ln.payer_id, ctype, ln.auth_number, attending, []
            )
        draft.lines.append(ln)
    out: list[_Draft] = []
    for d in groups.values():
        d.lines.sort(key=lambda ln: (ln.date_of_service, ln.procedure_code, ln.session_id or 0))
        limit = MAX_LINES[d.claim_type]
        for i in range(0, len(d.lines), limit):  # 837P: at most 50 service lines a claim
            out.append(
                _Draft(
                    d.client_id,
                    d.payer_id,
                    d.claim_type,
                    d.auth_number,
                    d.attending_npi,
                    d.lines[i : i + limit],
                )
            )
    out.sort(key=lambda d: (d.payer_id, d.claim_type, d.client_id, d.date_from, d.auth_number))
    return out


def _problem(d: _Draft, world: _World) -> str | None:
    payer = world.payers[d.payer_id]
    if not (payer.electronic_payer_id or "").strip():
        return NO_ELECTRONIC_PAYER_ID
    if d.claim_type == INSTITUTIONAL:
        if not _TOB.fullmatch((payer.type_of_bill or "").strip()):
            return NO_TYPE_OF_BILL
        if any(not ln.revenue_code for ln in d.lines):
            return NO_REVENUE_CODE
        if not d.attending_npi:
            return NO_ATTENDING
    cov = _coverage_of(world, d.lines[0])
    if cov is not None and cov.relationship != "self":
        if not (cov.sub_first and cov.sub_last and cov.sub_dob and cov.sub_sex):
            return NO_SUBSCRIBER
    else:
        c = world.clients[d.client_id]
        if not (c.address_line1 and c.city and c.state and _digits(c.postal_code)):
            return NO_CLIENT_ADDRESS
    return None


def _person_address(c: Client, changes: list[TextChange]) -> x12.Address:
    return x12.Address(
        _text(changes, c.mrn, "address", c.address_line1)[:55],
        _text(changes, c.mrn, "address", c.address_line2)[:55],
        _text(changes, c.mrn, "city", c.city)[:30],
        x12_text(c.state)[:2],
        _digits(c.postal_code)[:9],
    )


def _clinician(world: _World, npi: str, changes: list[TextChange]) -> x12.Clinician | None:
    s = world.staff.get(npi)
    if not npi or s is None:
        return None
    return x12.Clinician(
        npi,
        _text(changes, "", "staff last name", s.last_name)[:60],
        _text(changes, "", "staff first name", s.first_name)[:35],
        (s.taxonomy or "").strip().upper(),
    )


def _x12_claim(
    d: _Draft, number: str, world: _World, setup: _Setup, changes: list[TextChange]
) -> x12.Claim:
    payer = world.payers[d.payer_id]
    client = world.clients[d.client_id]
    cov = _coverage_of(world, d.lines[0])
    mrn = client.mrn
    patient = x12.Person(
        _text(changes, mrn, "last name", client.last_name)[:60],
        _text(changes, mrn, "first name", client.first_name)[:35],
        client.dob,
        _sex(client.sex),
        _person_address(client, changes),
    )
    relationship = cov.relationship if cov is not None else "self"
    if relationship == "self" or cov is None:
        subscriber, pat = patient, None
    else:
        subscriber = x12.Person(
            _text(changes, mrn, "subscriber last name", cov.sub_last)[:60],
            _text(changes, mrn, "subscriber first name", cov.sub_first)[:35],
            cov.sub_dob,
            _sex(cov.sub_sex),
            None,
        )
        pat = patient
    diagnoses: list[str] = []
    for ln in d.lines:
        for code in _split_codes(ln.diagnosis_codes):
            if code not in diagnoses:
                diagnoses.append(code)
    diagnoses = diagnoses[:12]
    lines: list[x12.Line] = []
    for ln, line_id in zip(d.lines, d.line_ids, strict=True):
        own = _split_codes(ln.diagnosis_codes)
        letters = str(getattr(ln, "diagnosis_pointers", "") or "")
        if letters:  # A-L into the line's own diagnosis list, when the engine gives them
            picked = [
                own[ord(ch) - ord("A")]
                for ch in letters.replace(",", "").upper()
                if "A" <= ch <= "L" and ord(ch) - ord("A") < len(own)
            ]
            own = picked or own
        pointers = tuple(diagnoses.index(c) + 1 for c in own if c in diagnoses)[:4]
        lines.append(
            x12.Line(
                line_id,
                ln.date_of_service,
                ln.procedure_code,
                tuple(m for m in ln.modifiers.split(",") if m),
                ln.revenue_code,
                ln.units,
                ln.charge,
                ln.place_of_service,
                pointers or (1,),
                _clinician(world, ln.rendering_npi, changes),
            )
        )
    positions = [ln.place_of_service for ln in d.lines]
    if d.claim_type == INSTITUTIONAL:
        facility = (payer.type_of_bill or "").strip()[-3:][:2]
    else:
        facility = max(set(positions), key=lambda p: (positions.count(p), p == "11", p))
    original = ""
    if d.original is not None:
        original = d.original.payer_claim_number or d.original.claim_number
    status = "30"
    if client.discharge_date is not None and client.discharge_date <= d.date_to:
        status = "01"
    return x12.Claim(
        claim_number=number,
        claim_type=d.claim_type,
        frequency=d.frequency,
        payer_name=_text(changes, "", "payer name", payer.name)[:60],
        payer_id=x12_text(payer.electronic_payer_id)[:80],
        filing_code=(payer.claim_filing_code or "CI").strip().upper(),
        member_id=x12_text(cov.member_id if cov else d.lines[0].member_id)[:80],
        group_number=x12_text(cov.group_number if cov else "")[:50],
        relationship=RELATIONSHIPS.get(relationship, "G8"),
        subscriber=subscriber,
        patient=pat,
        diagnoses=tuple(diagnoses),
        auth_number=x12_text(d.auth_number)[:50],
        original_reference=original,
        facility_code=facility,
        statement_from=d.date_from,
        statement_to=d.date_to,
        attending=_clinician(world, d.attending_npi, changes),
        patient_status=status,
        lines=tuple(lines),
    )


# ------------------------------------------------------------------------------------------
# Batch history: replacements (7) and voids (8)
# ------------------------------------------------------------------------------------------


def _open_voided_claims(
    session: Session, date_from: date, date_to: date, payer_id: int | None
) -> list[Claim]:
    """Claims sent in x12 batches since voided, not yet replaced or voided electronically."""
    superseded = {
        r[0]
        for r in session.execute(
            sa_select(col(Claim.original_claim_id))
            .join(BillingBatch, col(BillingBatch.id) == col(Claim.batch_id))
            .where(
                col(Claim.original_claim_id).is_not(None),
                col(BillingBatch.status) != BatchStatus.VOIDED.value,
            )
        )
    }
    q = (
        sa_select(Claim)
        .join(BillingBatch, col(BillingBatch.id) == col(Claim.batch_id))
        .where(
            col(BillingBatch.status) == BatchStatus.VOIDED.value,
            col(Claim.frequency).in_(("1", "7")),
            col(Claim.date_from) <= date_to,
            col(Claim.date_to) >= date_from,
        )
        .order_by(col(Claim.id))
    )
    if payer_id is not None:
        q = q.where(col(Claim.payer_id) == payer_id)
    return [c for c in session.execute(q).scalars() if c.id not in superseded]


def _lines_of(session: Session, claim_ids: list[int]) -> dict[int, list[tuple[int, ClaimLine]]]:
    """The stored lines of earlier claims, as claim lines (for voids)."""
    out: dict[int, list[tuple[int, ClaimLine]]] = defaultdict(list)
    if not claim_ids:
        return out
    rows = session.execute(
        sa_select(BillingLine, Client)
        .join(Client, col(Client.id) == col(BillingLine.client_id))
        .where(col(BillingLine.claim_id).in_(claim_ids))
        .order_by(col(BillingLine.id))
    ).all()
    for bl, c in rows:
        assert bl.id is not None and bl.claim_id is not None
        out[bl.claim_id].append(
            (
                bl.id,
                ClaimLine(
                    mrn=c.mrn,
                    client=f"{c.last_name}, {c.first_name}",
                    dob=c.dob,
                    payer="",
                    member_id=bl.member_id,
                    auth_number=bl.auth_number,
                    date_of_service=bl.date_of_service,
                    procedure_code=bl.procedure_code,
                    modifiers=bl.modifiers,
                    revenue_code=bl.revenue_code,
                    units=bl.units,
                    charge=Decimal(bl.charge),
                    diagnosis_codes=bl.diagnosis_codes,
                    rendering_npi=bl.rendering_npi,
                    billing_npi=bl.billing_npi,
                    place_of_service=bl.place_of_service,
                    client_id=bl.client_id,
                    session_id=bl.session_id,
                    authorization_id=bl.authorization_id,
                    payer_id=bl.payer_id,
                    part2=c.part2,
                ),
            )
        )
    return out


# ------------------------------------------------------------------------------------------
# The export
# ------------------------------------------------------------------------------------------


def _writer(text: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_text(text, encoding="ascii", newline="")

    return write


def file_name(payer_code: str, claim_type: str) -> str:
    return f"{payer_code}_{claim_type}.x12"


def export_claims(
    db: Database,
    actor: Actor,
    date_from: date,
    date_to: date,
    out_dir: Path | str | None,
    *,
    payer_code: str | None = None,
    dry_run: bool = False,
    release: Release | None = None,
    now: datetime | None = None,
) -> ClaimsResult:
    """Build, validate and (unless dry_run) write the period's 837 files, recording a billing
    batch (kind x12) with its claims and lines, the accounting of disclosures and the audit
    event in one transaction. Lines already in a live batch (Excel or 837) are never sent
    again. Nothing is written or recorded when any file fails pyx12's validation."""
    require(actor, Perm.BILLING_EXPORT)
    from iopdesk.services.disclosures import authorize_many

    release = release or Release("internal", purpose="payment (in-house billing)")
    folder = Path(out_dir).expanduser() if out_dir is not None else None
    if not dry_run and (folder is None or not folder.is_dir()):
        raise ValidationError(
            f"The folder {folder} does not exist. Choose an existing folder for the 837 files.",
            {"path": "Folder not found."},
        )
    created = now or clock.now_of(db).replace(tzinfo=None)  # clinic-local wall time
    with db.session() as session:
        acting(session, actor)  # created_by/updated_by are filled by declare.fill_tracked
        serialize(session, "billing_batch")
        setup = _clinic_setup(session)
        run = billing._run(session, date_from, date_to, payer_code, False)
        result = ClaimsResult("", dry_run=dry_run, changes=list(setup.changes))
        result.exceptions = list(run.exceptions)
        only_payer = (
            None
            if payer_code is None
            else session.execute(
                sa_select(col(Payer.id)).where(col(Payer.payer_code) == payer_code)
            ).scalar_one()
        )
        pending = _open_voided_claims(session, date_from, date_to, only_payer)
        old_lines = _lines_of(session, [c.id for c in pending if c.id is not None])
        world = _load_world(
            session,
            [ln.client_id for ln in run.lines] + [c.client_id for c in pending],
        )
        drafts: list[_Draft] = []
        for d in _drafts(run.lines, world):
            reason = _problem(d, world)
            if reason is not None:
                info = world.clients[d.client_id]
                for day in sorted({ln.date_of_service for ln in d.lines}):
                    result.exceptions.append(
                        BillingException(
                            info.mrn,
                            f"{info.last_name}, {info.first_name}",
                            day,
                            reason,
                            d.client_id,
                            None,
                            info.part2,
                        )
                    )
                continue
            drafts.append(d)
        # replacements: a new claim takes the place of a voided one it overlaps
        pool = list(pending)
        for d in drafts:
            for old in pool:
                if (
                    (old.client_id, old.payer_id, old.claim_type)
                    == (d.client_id, d.payer_id, d.claim_type)
                    and old.date_from <= d.date_to
                    and d.date_from <= old.date_to
                ):
                    d.frequency, d.original = "7", old
                    pool.remove(old)
                    break
        voids: list[_Draft] = []
        for old in pool:
            assert old.id is not None
            stored = old_lines.get(old.id, [])
            if not stored:
                continue
            v = _Draft(
                old.client_id,
                old.payer_id,
                old.claim_type,
                stored[0][1].auth_number,
                stored[0][1].rendering_npi if old.claim_type == INSTITUTIONAL else "",
                [ln for _, ln in stored],
                "8",
                old,
                [str(i) for i, _ in stored],
            )
            if _problem(v, world) is None:
                voids.append(v)
        result.exceptions.sort(
            key=lambda e: (e.mrn, e.date_of_service, e.session_id or 0, e.reason)
        )
        sent = drafts + voids
        new_lines = [ln for d in drafts for ln in d.lines]
        result.lines = len(new_lines)
        result.total = sum((ln.charge for ln in new_lines), Decimal("0.00"))
        batch_number = billing._next_batch_number(session)
        batch: BillingBatch | None = None
        if sent and not dry_run:
            batch = BillingBatch(
                batch_number=batch_number,
                kind=KIND_X12,
                date_from=date_from,
                date_to=date_to,
                payer_filter=payer_code,
                line_count=len(new_lines),
                total_charge=result.total,
                file_name=", ".join(
                    sorted(
                        {file_name(world.payers[d.payer_id].payer_code, d.claim_type) for d in sent}
                    )
                ),
            )
            session.add(batch)
            session.flush()
        # claim records and their lines (their IDs are the 837's line control numbers)
        numbers: dict[int, str] = {}
        for n, d in enumerate(sent, start=1):
            number = f"{batch_number}-{n}"
            numbers[id(d)] = number
            if batch is None:
                if d.frequency != "8":
                    d.line_ids = [f"{n}.{i}" for i in range(1, len(d.lines) + 1)]
                continue
            assert batch.id is not None
            payer = world.payers[d.payer_id]
            claim = Claim(
                batch_id=batch.id,
                claim_number=number,
                payer_id=d.payer_id,
                client_id=d.client_id,
                claim_type=d.claim_type,
                frequency=d.frequency,
                original_claim_id=d.original.id if d.original is not None else None,
                date_from=d.date_from,
                date_to=d.date_to,
                total_charge=d.total,
                line_count=len(d.lines),
                file_name=file_name(payer.payer_code, d.claim_type),
            )
            session.add(claim)
            session.flush()
            if d.frequency == "8":
                continue
            rows = [
                BillingLine(
                    batch_id=batch.id,
                    client_id=ln.client_id,
                    session_id=ln.session_id,
                    payer_id=ln.payer_id,
                    authorization_id=ln.authorization_id,
                    date_of_service=ln.date_of_service,
                    procedure_code=ln.procedure_code,
                    modifiers=ln.modifiers,
                    revenue_code=ln.revenue_code,
                    units=ln.units,
                    charge=ln.charge,
                    diagnosis_codes=ln.diagnosis_codes,
                    rendering_npi=ln.rendering_npi,
                    billing_npi=ln.billing_npi,
                    place_of_service=ln.place_of_service,
                    member_id=ln.member_id,
                    auth_number=ln.auth_number,
                    claim_id=claim.id,
                )
                for ln in d.lines
            ]
            session.add_all(rows)
            session.flush()
            d.line_ids = [str(r.id) for r in rows]
        # the files, each validated before anything is written
        by_file: dict[tuple[str, str], list[_Draft]] = defaultdict(list)
        for d in sent:
            by_file[(world.payers[d.payer_id].payer_code, d.claim_type)].append(d)
        changes: list[TextChange] = []
        control_base = (batch.id if batch is not None and batch.id is not None else 0) * 100
        for index, ((code, ctype), group) in enumerate(sorted(by_file.items()), start=1):
            claims = tuple(_x12_claim(d, numbers[id(d)], world, setup, changes) for d in group)
            text = x12.render(
                x12.Interchange(
                    ctype,
                    setup.sender_id,
                    setup.sender_name,
                    setup.contact_name,
                    setup.contact_phone,
                    setup.receiver_id,
                    setup.receiver_name,
                    control_base + index,
                    created,
                    setup.usage,
                    batch_number,
                    setup.billing,
                    claims,
                )
            )
            errors = validate(text)
            if errors:
                raise UserError(
                    f"The 837 file for payer {code} did not pass X12 validation, so nothing "
                    "was written: " + "; ".join(errors[:5])
                )
            result.texts[file_name(code, ctype)] = text
            for d, c in zip(group, claims, strict=True):
                result.claims.append(
                    ClaimInfo(
                        c.claim_number,
                        ctype,
                        d.frequency,
                        code,
                        world.clients[d.client_id].mrn,
                        d.date_from,
                        d.date_to,
                        len(d.lines),
                        d.total,
                        c.original_reference,
                    )
                )
        result.changes.extend(dict.fromkeys(changes))
        if dry_run or batch is None:
            session.rollback()
            return result
        result.batch_number = batch_number
        # What the files hold about each client sent: billing and the claim's diagnoses (every
        # claim carries its diagnosis codes). Lines held back as exceptions are not in them.
        disclosed = {cid: CLAIM_CATEGORIES for cid in sorted({d.client_id for d in sent})}
        if disclosed:
            authorize_many(
                session,
                actor,
                disclosed,
                release,
                f"837 claims {batch_number} {date_from.isoformat()}..{date_to.isoformat()}",
            )
        part2 = any(world.clients[d.client_id].part2 for d in sent)
        assert folder is not None
        with contextlib.ExitStack() as files:  # every file written whole before any is placed
            places = [
                files.enter_context(filesout.audited_write(folder / name, _writer(text)))
                for name, text in sorted(result.texts.items())
            ]
            audit.record(
                session,
                actor,
                audit.Action.EXPORT,
                entity="billing_batch",
                entity_id=batch.id if batch.id is not None else "",
                detail=(
                    f"{release.kind}: 837 claims {batch_number} "
                    f"{date_from.isoformat()}..{date_to.isoformat()}"
                    + (f"; payer {payer_code}" if payer_code else "")
                    + f"; {len(result.texts)} files; {result.originals} original, "
                    f"{result.replacements} replacement, {result.voids} void claims; "
                    f"{result.lines} lines; {len(result.exceptions)} exceptions; "
                    f"total {result.total}; {len(result.changes)} text changes"
                    + ("; Part 2 notice" if part2 else "")
                ),
            )
            for place in places:
                place()
            session.commit()  # no file without its batch: a failed commit removes them all
        result.files = [folder / name for name in sorted(result.texts)]
    return result
