"""Payers, their fee schedules, clients' coverage and authorizations: the billing set-up screens.

Decisions where the billing issue is silent:
- Payer IDs are the clearinghouse payer codes; they cannot change once a batch used them
  (billed lines refer to the payer row, so renaming the ID would rewrite history).
- A fee applies to (payer, code) from an optional start date to an optional end date; two fees
  for the same payer and code may not overlap, so exactly one fee prices a date of service.
  A fee is removed by voiding it (with a reason), never deleted.
- An authorization's units cannot be lowered below the units already billed against it, and
  its auth number is unique per payer among non-voided authorizations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from sqlalchemy import func
from sqlmodel import Session, SQLModel, col, select

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, ValidationError
from iopdesk.models import (
    Authorization,
    BillingBatch,
    BillingLine,
    Client,
    Coverage,
    FeeSchedule,
    Payer,
    utcnow,
)
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.declare import service
from iopdesk.services.permissions import Perm, require
from iopdesk.services.records import update_versioned

BILLING_MODES = ("per_diem", "per_service")
# audio-only telehealth modifier: 93 (CPT, most payers) or FQ (Medicare)
AUDIO_ONLY_MODIFIERS = ("93", "FQ")
CODE_RE = re.compile(r"^(\d{5}|[A-Z]\d{4})$")  # CPT (90834) or HCPCS (H0015)
R = TypeVar("R", bound=SQLModel)
PAYER_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,29}$")


def _store(
    session: Session,
    actor: Actor,
    model: type[R],
    record_id: int | None,
    version: int | None,
    values: dict[str, Any],
    *,
    noun: str,
    entity: str,
    new: dict[str, Any] | None = None,
    client_id: int | None = None,
    detail: str = "",
) -> R:
    """Add a record (`new` + `values`) or change the one read at `version` (refused when
    someone saved it meanwhile, or it was voided), and audit the create or update."""
    if record_id is None:
        record = model(**(new or {}), **values)
        session.add(record)
        session.flush()
    else:
        current = session.get(model, record_id)
        if current is None or getattr(current, "voided_at", None) is not None:
            raise NotFoundError(f"That {noun} no longer exists.")
        record = update_versioned(
            session,
            actor,
            model,
            record_id,
            version if version is not None else current.version,  # type: ignore[attr-defined]
            values,
            what=f"This {noun}",
        )
    audit.record(
        session,
        actor,
        audit.Action.UPDATE if record_id else audit.Action.CREATE,
        entity=entity,
        entity_id=record.id,  # type: ignore[attr-defined]
        client_id=client_id,
        detail=detail,
    )
    return record


def _void(
    session: Session,
    actor: Actor,
    record: Any,
    reason: str,
    *,
    noun: str,
    entity: str,
    client_id: int | None = None,
) -> None:
    update_versioned(
        session,
        actor,
        type(record),
        record.id,
        record.version,
        {"voided_at": utcnow(), "voided_by": actor.user_id, "void_reason": reason.strip()},
        what=f"This {noun}",
    )
    audit.record(
        session,
        actor,
        audit.Action.UPDATE,
        entity=entity,
        entity_id=record.id,
        client_id=client_id,
        detail="voided",
    )


SUBSCRIBER_RELATIONSHIPS = ("self", "spouse", "child", "other")


# -- payers ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PayerInfo:
    id: int
    payer_code: str
    name: str
    billing_mode: str
    requires_auth: bool
    active: bool
    version: int
    fee_count: int
    audio_only_modifier: str = "93"
    group_hq: bool = True
    sud_hf: bool = False
    requires_treatment_plan: bool = False
    electronic_payer_id: str = ""
    claim_type: str = ""
    type_of_bill: str = ""
    claim_grouping: str = "period"
    claim_filing_code: str = "CI"


@dataclass
class PayerInput:
    payer_code: str
    name: str
    billing_mode: str = "per_service"
    requires_auth: bool = False
    active: bool = True
    audio_only_modifier: str = "93"  # "FQ" for Medicare
    group_hq: bool = True  # HQ on 90853 (many commercial payers reject it)
    sud_hf: bool = False  # HF on services of substance-use track clients
    requires_treatment_plan: bool = False  # bill only with a current signed plan
    electronic_payer_id: str = ""
    claim_type: str = ""  # "" = from the billing mode (per_service 837P, per_diem 837I)
    type_of_bill: str = ""
    claim_grouping: str = "period"
    claim_filing_code: str = "CI"


def list_payers(db: Database, actor: Actor, *, include_inactive: bool = True) -> list[PayerInfo]:
    require(actor, Perm.BILLING_VIEW)
    with db.read() as session:
        fees = (
            select(FeeSchedule.payer_id, func.count().label("n"))
            .where(col(FeeSchedule.voided_at).is_(None))
            .group_by(col(FeeSchedule.payer_id))
            .subquery()
        )
        q = (
            select(Payer, func.coalesce(fees.c.n, 0))
            .outerjoin(fees, fees.c.payer_id == col(Payer.id))
            .order_by(func.lower(Payer.name), col(Payer.payer_code))
        )
        if not include_inactive:
            q = q.where(col(Payer.active).is_(True))
        return [_payer_info(p, int(n)) for p, n in session.exec(q).all()]


def _payer_info(p: Payer, fee_count: int = 0) -> PayerInfo:
    assert p.id is not None
    return PayerInfo(
        p.id,
        p.payer_code,
        p.name,
        p.billing_mode,
        p.requires_auth,
        p.active,
        p.version,
        fee_count,
        p.audio_only_modifier,
        p.group_hq,
        p.sud_hf,
        p.requires_treatment_plan,
        p.electronic_payer_id,
        p.claim_type,
        p.type_of_bill,
        p.claim_grouping,
        p.claim_filing_code,
    )


def _validate_payer(session: Session, data: PayerInput, payer_id: int | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    code = data.payer_code.strip()
    if not code:
        errors["payer_code"] = "Enter the payer ID."
    elif not PAYER_CODE_RE.match(code):
        errors["payer_code"] = "Use letters, digits, dot, dash or underscore (up to 30)."
    else:
        other = session.exec(
            select(Payer.id).where(func.lower(Payer.payer_code) == code.lower())
        ).first()
        if other is not None and other != payer_id:
            errors["payer_code"] = f"Payer ID {code} is already used."
    if not data.name.strip():
        errors["name"] = "Enter the payer's name."
    elif len(data.name.strip()) > 120:
        errors["name"] = "Keep the name under 120 characters."
    if data.billing_mode not in BILLING_MODES:
        errors["billing_mode"] = "Choose per diem or per service."
    if data.audio_only_modifier not in AUDIO_ONLY_MODIFIERS:
        errors["audio_only_modifier"] = "Choose 93, or FQ for Medicare."
    edi = data.electronic_payer_id.strip()
    if edi and not re.fullmatch(r"[0-9A-Za-z]{2,80}", edi):
        errors["electronic_payer_id"] = "Use the clearinghouse's payer ID (letters and digits)."
    if data.claim_type not in ("", "837P", "837I"):
        errors["claim_type"] = "Choose 837P (professional) or 837I (institutional)."
    tob = data.type_of_bill.strip()
    if tob and not re.fullmatch(r"0?\d{3}", tob):
        errors["type_of_bill"] = "Enter the 4-digit type of bill, e.g. 0131 or 0761."
    if data.claim_grouping not in ("period", "date"):
        errors["claim_grouping"] = "Choose per statement period or per date of service."
    if not re.fullmatch(r"[0-9A-Z]{2}", data.claim_filing_code.strip().upper()):
        errors["claim_filing_code"] = "Enter the 2-character claim filing indicator (e.g. CI, MC)."
    return errors


@service(Perm.PAYER_MANAGE)
def save_payer(
    session: Session,
    actor: Actor,
    data: PayerInput,
    *,
    payer_id: int | None = None,
    version: int | None = None,
) -> PayerInfo:
    """Add a payer, or change one read at `version` (refused if changed meanwhile)."""
    errors = _validate_payer(session, data, payer_id)
    values = {
        "payer_code": data.payer_code.strip(),
        "name": data.name.strip(),
        "billing_mode": data.billing_mode,
        "requires_auth": data.requires_auth,
        "active": data.active,
        "audio_only_modifier": data.audio_only_modifier,
        "group_hq": data.group_hq,
        "sud_hf": data.sud_hf,
        "requires_treatment_plan": data.requires_treatment_plan,
        "electronic_payer_id": data.electronic_payer_id.strip().upper(),
        "claim_type": data.claim_type,
        "type_of_bill": data.type_of_bill.strip(),
        "claim_grouping": data.claim_grouping,
        "claim_filing_code": data.claim_filing_code.strip().upper(),
    }
    current = session.get(Payer, payer_id) if payer_id is not None else None
    if (
        current is not None
        and current.payer_code != values["payer_code"]
        and _payer_billed(session, current.id or 0)
    ):
        errors["payer_code"] = "This payer has billed lines; its ID cannot change."
    if errors:
        raise ValidationError("Please correct the payer details.", errors)
    payer = _store(session, actor, Payer, payer_id, version, values, noun="payer", entity="payer")
    return _payer_info(payer)


def _payer_billed(session: Session, payer_id: int) -> bool:
    return (
        session.exec(
            select(BillingLine.id).where(BillingLine.payer_id == payer_id).limit(1)
        ).first()
        is not None
    )


# -- fee schedules ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FeeInfo:
    id: int
    payer_id: int
    code: str
    rate: Decimal
    effective_from: date | None
    effective_to: date | None
    version: int


@dataclass
class FeeInput:
    payer_id: int
    code: str
    rate: str | Decimal
    effective_from: date | None = None
    effective_to: date | None = None


def list_fees(db: Database, actor: Actor, payer_id: int) -> list[FeeInfo]:
    require(actor, Perm.BILLING_VIEW)
    with db.read() as session:
        rows = session.exec(
            select(FeeSchedule)
            .where(FeeSchedule.payer_id == payer_id, col(FeeSchedule.voided_at).is_(None))
            .order_by(col(FeeSchedule.code), col(FeeSchedule.effective_from).asc().nulls_first())
        ).all()
        return [_fee_info(f) for f in rows]


def _fee_info(f: FeeSchedule) -> FeeInfo:
    assert f.id is not None
    return FeeInfo(
        f.id, f.payer_id, f.code, Decimal(f.rate), f.effective_from, f.effective_to, f.version
    )


def parse_rate(text: str | Decimal) -> Decimal:
    """A fee as typed ("150", "$1,234.50"); refuses negatives and fractions of a cent."""
    raw = str(text).strip().replace("$", "").replace(",", "")
    try:
        rate = Decimal(raw)
    except InvalidOperation:
        raise ValidationError(
            "Enter the fee as an amount, e.g. 150.00.", {"rate": "Not an amount."}
        ) from None
    if not rate.is_finite() or rate < 0:
        raise ValidationError("The fee cannot be negative.", {"rate": "Not an amount."})
    if rate != rate.quantize(Decimal("0.01")):
        raise ValidationError("Fees are in dollars and cents.", {"rate": "Two decimals at most."})
    if rate >= Decimal("100000000"):
        raise ValidationError("That fee is too large.", {"rate": "Too large."})
    return rate.quantize(Decimal("0.01"))


def _overlaps(a0: date | None, a1: date | None, b0: date | None, b1: date | None) -> bool:
    lo, hi = date.min, date.max
    return (a0 or lo) <= (b1 or hi) and (b0 or lo) <= (a1 or hi)


@service(Perm.PAYER_MANAGE)
def save_fee(
    session: Session,
    actor: Actor,
    data: FeeInput,
    *,
    fee_id: int | None = None,
    version: int | None = None,
) -> FeeInfo:
    code = data.code.strip().upper()
    errors: dict[str, str] = {}
    if not CODE_RE.match(code):
        errors["code"] = "Use a 5-digit CPT code (90834) or a HCPCS code (H0015)."
    rate: Decimal | None = None
    try:
        rate = parse_rate(data.rate)
    except ValidationError as exc:
        errors.update(exc.fields)
    if data.effective_from and data.effective_to and data.effective_to < data.effective_from:
        errors["effective_to"] = "The end date is before the start date."
    if session.get(Payer, data.payer_id) is None:
        raise NotFoundError("That payer no longer exists.")
    if not errors:
        others = session.exec(
            select(FeeSchedule).where(
                FeeSchedule.payer_id == data.payer_id,
                FeeSchedule.code == code,
                col(FeeSchedule.voided_at).is_(None),
            )
        ).all()
        for other in others:
            if other.id != fee_id and _overlaps(
                data.effective_from, data.effective_to, other.effective_from, other.effective_to
            ):
                errors["code"] = (
                    f"A fee for {code} already covers some of these dates "
                    f"({_span(other.effective_from, other.effective_to)})."
                )
                break
    if errors:
        raise ValidationError("Please correct the fee.", errors)
    assert rate is not None
    values = {
        "code": code,
        "rate": rate,
        "effective_from": data.effective_from,
        "effective_to": data.effective_to,
    }
    fee = _store(
        session,
        actor,
        FeeSchedule,
        fee_id,
        version,
        values,
        noun="fee",
        entity="fee",
        new={"payer_id": data.payer_id},
        detail=code,
    )
    return _fee_info(fee)


def _span(start: date | None, end: date | None) -> str:
    a = f"{start:%m/%d/%Y}" if start else "any date"
    b = f"{end:%m/%d/%Y}" if end else "no end"
    return f"{a} to {b}"


@service(Perm.PAYER_MANAGE)
def void_fee(session: Session, actor: Actor, fee_id: int, reason: str) -> None:
    if not reason.strip():
        raise ValidationError("Say why the fee is removed.", {"reason": "Required."})
    fee = session.get(FeeSchedule, fee_id)
    if fee is None or fee.voided_at is not None:
        raise NotFoundError("That fee no longer exists.")
    _void(session, actor, fee, reason, noun="fee", entity="fee")


# -- coverage --------------------------------------------------------------------------------
@dataclass(frozen=True)
class CoverageInfo:
    id: int
    client_id: int
    payer_id: int
    payer: str
    member_id: str
    group_number: str
    start_date: date | None
    end_date: date | None
    version: int
    subscriber_relationship: str = "self"
    subscriber_first_name: str = ""
    subscriber_last_name: str = ""
    subscriber_dob: date | None = None
    subscriber_sex: str = ""


def list_coverage(db: Database, actor: Actor, client_id: int) -> list[CoverageInfo]:
    require(actor, Perm.BILLING_VIEW)
    with db.read() as session:
        rows = session.exec(
            select(Coverage, Payer.name)
            .join(Payer, col(Payer.id) == col(Coverage.payer_id))
            .where(Coverage.client_id == client_id, col(Coverage.voided_at).is_(None))
            .order_by(col(Coverage.priority), col(Coverage.id))
        ).all()
        return [
            CoverageInfo(
                c.id or 0,
                c.client_id,
                c.payer_id,
                name,
                c.member_id,
                c.group_number,
                c.start_date,
                c.end_date,
                c.version,
                c.subscriber_relationship,
                c.subscriber_first_name,
                c.subscriber_last_name,
                c.subscriber_dob,
                c.subscriber_sex,
            )
            for c, name in rows
        ]


@service(Perm.PAYER_MANAGE)
def save_coverage(
    session: Session,
    actor: Actor,
    client_id: int,
    payer_id: int,
    member_id: str,
    *,
    group_number: str = "",
    start_date: date | None = None,
    end_date: date | None = None,
    coverage_id: int | None = None,
    version: int | None = None,
    subscriber_relationship: str = "self",
    subscriber_first_name: str = "",
    subscriber_last_name: str = "",
    subscriber_dob: date | None = None,
    subscriber_sex: str = "",
) -> CoverageInfo:
    """Record or correct a client's insurance (payer and member ID; the subscriber, the policy
    holder, when it is not the client)."""
    errors: dict[str, str] = {}
    member = member_id.strip()
    if not member:
        errors["member_id"] = "Enter the member ID from the insurance card."
    elif len(member) > 40 or not member.isprintable():
        errors["member_id"] = "That member ID does not look right."
    if start_date and end_date and end_date < start_date:
        errors["end_date"] = "The end date is before the start date."
    relationship = subscriber_relationship or "self"
    if relationship not in SUBSCRIBER_RELATIONSHIPS:
        errors["subscriber_relationship"] = "Choose self, spouse, child or other."
    sub_sex = (subscriber_sex or "").strip().upper()[:1]
    if relationship != "self":
        if not subscriber_first_name.strip() or not subscriber_last_name.strip():
            errors["subscriber_last_name"] = "Enter the subscriber's first and last name."
        if subscriber_dob is None:
            errors["subscriber_dob"] = "Enter the subscriber's date of birth."
        if sub_sex not in ("F", "M", "U"):
            errors["subscriber_sex"] = "Choose the subscriber's sex (F, M or U)."
    if session.get(Client, client_id) is None:
        raise NotFoundError("That client does not exist.")
    if session.get(Payer, payer_id) is None:
        errors["payer_id"] = "Choose a payer."
    if errors:
        raise ValidationError("Please correct the insurance details.", errors)
    values = {
        "payer_id": payer_id,
        "member_id": member,
        "group_number": group_number.strip(),
        "start_date": start_date,
        "end_date": end_date,
        "subscriber_relationship": relationship,
        "subscriber_first_name": subscriber_first_name.strip() if relationship != "self" else "",
        "subscriber_last_name": subscriber_last_name.strip() if relationship != "self" else "",
        "subscriber_dob": subscriber_dob if relationship != "self" else None,
        "subscriber_sex": sub_sex if relationship != "self" else "",
    }
    if coverage_id is not None:
        current = session.get(Coverage, coverage_id)
        if current is None or current.client_id != client_id:
            raise NotFoundError("That insurance record no longer exists.")
    cov = _store(
        session,
        actor,
        Coverage,
        coverage_id,
        version,
        values,
        noun="insurance record",
        entity="coverage",
        new={"client_id": client_id},
        client_id=client_id,
    )
    assert cov.id is not None
    payer = session.get(Payer, payer_id)
    assert payer is not None
    return CoverageInfo(
        cov.id,
        client_id,
        payer_id,
        payer.name,
        cov.member_id,
        cov.group_number,
        cov.start_date,
        cov.end_date,
        cov.version,
        cov.subscriber_relationship,
        cov.subscriber_first_name,
        cov.subscriber_last_name,
        cov.subscriber_dob,
        cov.subscriber_sex,
    )


# -- authorizations --------------------------------------------------------------------------
@dataclass(frozen=True)
class AuthInfo:
    id: int
    client_id: int
    payer_id: int
    payer: str
    auth_number: str
    code: str
    start_date: date
    end_date: date
    units: int
    used: int
    version: int

    @property
    def remaining(self) -> int:
        return self.units - self.used


@dataclass
class AuthInput:
    client_id: int
    payer_id: int
    auth_number: str
    code: str
    start_date: date | None
    end_date: date | None
    units: int | str


def _used(session: Session, auth_id: int) -> int:
    total = session.exec(
        select(func.coalesce(func.sum(BillingLine.units), 0))
        .join(BillingBatch, col(BillingBatch.id) == col(BillingLine.batch_id))
        .where(BillingLine.authorization_id == auth_id, BillingBatch.status != "voided")
    ).one()
    return int(total)


def list_authorizations(db: Database, actor: Actor, client_id: int) -> list[AuthInfo]:
    """All of a client's authorizations (current, future and past), newest first."""
    require(actor, Perm.BILLING_VIEW)
    with db.read() as session:
        rows = session.exec(
            select(Authorization, Payer.name)
            .join(Payer, col(Payer.id) == col(Authorization.payer_id))
            .where(Authorization.client_id == client_id, col(Authorization.voided_at).is_(None))
            .order_by(col(Authorization.start_date).desc(), col(Authorization.id).desc())
        ).all()
        return [_auth_info(a, name, _used(session, a.id or 0)) for a, name in rows]


def _auth_info(a: Authorization, payer: str, used: int) -> AuthInfo:
    assert a.id is not None
    return AuthInfo(
        a.id,
        a.client_id,
        a.payer_id,
        payer,
        a.auth_number,
        a.code,
        a.start_date,
        a.end_date,
        a.units,
        used,
        a.version,
    )


@service(Perm.PAYER_MANAGE)
def save_authorization(
    session: Session,
    actor: Actor,
    data: AuthInput,
    *,
    auth_id: int | None = None,
    version: int | None = None,
) -> AuthInfo:
    errors: dict[str, str] = {}
    number = data.auth_number.strip()
    code = data.code.strip().upper()
    if not number:
        errors["auth_number"] = "Enter the authorization number from the payer."
    elif len(number) > 40 or not number.isprintable():
        errors["auth_number"] = "That authorization number does not look right."
    if not CODE_RE.match(code):
        errors["code"] = "Use a 5-digit CPT code (90834) or a HCPCS code (H0015)."
    if data.start_date is None:
        errors["start_date"] = "Enter the first date the authorization covers."
    if data.end_date is None:
        errors["end_date"] = "Enter the last date the authorization covers."
    if data.start_date and data.end_date and data.end_date < data.start_date:
        errors["end_date"] = "The end date is before the start date."
    units = 0
    try:
        units = int(str(data.units).strip())
        if units <= 0 or units > 10000:
            errors["units"] = "Units must be a whole number from 1 to 10000."
    except ValueError:
        errors["units"] = "Units must be a whole number, e.g. 20."
    if session.get(Client, data.client_id) is None:
        raise NotFoundError("That client does not exist.")
    payer = session.get(Payer, data.payer_id)
    if payer is None:
        errors["payer_id"] = "Choose a payer."
    elif number:
        dup = session.exec(
            select(Authorization.id).where(
                Authorization.payer_id == data.payer_id,
                func.lower(Authorization.auth_number) == number.lower(),
                col(Authorization.voided_at).is_(None),
            )
        ).all()
        if any(d != auth_id for d in dup):
            errors["auth_number"] = f"Authorization {number} is already recorded for this payer."
    used = _used(session, auth_id) if auth_id is not None else 0
    if auth_id is not None and "units" not in errors and units < used:
        errors["units"] = f"{used} units are already billed; units cannot be fewer."
    if errors:
        raise ValidationError("Please correct the authorization.", errors)
    assert payer is not None
    values = {
        "payer_id": data.payer_id,
        "auth_number": number,
        "code": code,
        "start_date": data.start_date,
        "end_date": data.end_date,
        "units": units,
    }
    auth = _store(
        session,
        actor,
        Authorization,
        auth_id,
        version,
        values,
        noun="authorization",
        entity="authorization",
        new={"client_id": data.client_id},
        client_id=data.client_id,
    )
    return _auth_info(auth, payer.name, used)


@service(Perm.PAYER_MANAGE)
def void_authorization(session: Session, actor: Actor, auth_id: int, reason: str) -> None:
    """Withdraw an authorization entered in error; refused once lines were billed against it."""
    if not reason.strip():
        raise ValidationError("Say why the authorization is removed.", {"reason": "Required."})
    auth = session.get(Authorization, auth_id)
    if auth is None or auth.voided_at is not None:
        raise NotFoundError("That authorization no longer exists.")
    if _used(session, auth_id):
        raise ValidationError(
            "Lines were billed against this authorization; void those batches first.",
            {"reason": "Billed."},
        )
    _void(
        session,
        actor,
        auth,
        reason,
        noun="authorization",
        entity="authorization",
        client_id=auth.client_id,
    )
