"""835 remittances (issue 21): parse with pyx12, match to the claims sent, post, and report.

Matching, never guessing:
- a CLP matches the claim whose claim number (our CLM01) equals CLP01; otherwise it is
  listed as unmatched and posts nothing;
- an SVC matches the billing line whose ID equals its REF*6R (our line control number) when
  that line belongs to the matched claim; without REF*6R, the claim's only line with the same
  procedure code and date of service; anything else is listed as unmatched.
- The file's SHA-256 is stored: importing the same file again changes nothing, and so does
  another copy of the same payment (same payer, check/EFT number and amount).

Amounts: CLP04 paid, CLP05 patient responsibility, CAS adjustments (group, CARC, amount) at
claim and line level, LQ*HE remark codes (RARC). A reversal (CLP02 22) carries negative
amounts and so undoes the payment it reverses.

Balances (accounts receivable): charge - paid - patient responsibility - contractual
write-offs (CARC 45, 253 and 23 in any group). Every other adjustment outside group PR is a
denial: it stays in the balance and in the denials work queue until a later remittance, a
replacement claim or a void settles it. Age is counted from the day the claim was sent.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
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
    Payer,
    Remittance,
    RemittanceAdjustment,
    RemittanceClaim,
    RemittanceLine,
)
from iopdesk.models.enums import BatchStatus
from iopdesk.reports.data.remittance import BUCKETS as BUCKETS
from iopdesk.reports.data.remittance import Aging as Aging
from iopdesk.reports.data.remittance import AgingRow as AgingRow
from iopdesk.reports.data.remittance import ClaimBalance as ClaimBalance
from iopdesk.reports.data.remittance import Denial as Denial
from iopdesk.services import audit, filesout
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import clinic_today
from iopdesk.services.declare import Audited, about, acting, service
from iopdesk.services.disclosures import Release
from iopdesk.services.permissions import Perm, require
from iopdesk.services.records import serialize

WRITE_OFF_CARCS = frozenset({"45", "253", "23"})
STATUS_TEXT = {
    "1": "processed as primary",
    "2": "processed as secondary",
    "3": "processed as tertiary",
    "4": "denied",
    "19": "processed as primary, forwarded",
    "20": "processed as secondary, forwarded",
    "21": "processed as tertiary, forwarded",
    "22": "reversal of previous payment",
    "23": "not our claim, forwarded",
}


@lru_cache(maxsize=1)
def _codes() -> dict[str, Any]:
    from iopdesk.paths import resource_text

    text = resource_text("carc_rarc.json")
    data: dict[str, Any] = json.loads(text)
    return data


def carc_description(code: str) -> str:
    entry = _codes()["carc"].get(code)
    return str(entry[0]) if entry else f"Adjustment reason {code} (see the X12 CARC list)."


def carc_action(code: str) -> str:
    entry = _codes()["carc"].get(code)
    return str(entry[1]) if entry else "Look the reason code up and call the payer."


def rarc_description(code: str) -> str:
    return str(_codes()["rarc"].get(code) or f"Remark {code} (see the X12 RARC list).")


def group_description(code: str) -> str:
    return str(_codes()["groups"].get(code) or code)


def code_source() -> str:
    return str(_codes()["source"])


# ------------------------------------------------------------------------------------------
# Parsing (pyx12)
# ------------------------------------------------------------------------------------------


@dataclass
class Adj:
    group: str
    reason: str
    amount: Decimal
    units: int = 0


@dataclass
class SvcIn:
    procedure_code: str
    modifiers: tuple[str, ...]
    charge: Decimal
    paid: Decimal
    units: int
    date_of_service: date | None = None
    line_id: str = ""
    adjustments: list[Adj] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)


@dataclass
class ClpIn:
    claim_number: str
    status: str
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    payer_claim_number: str
    adjustments: list[Adj] = field(default_factory=list)
    lines: list[SvcIn] = field(default_factory=list)


@dataclass
class RemitIn:
    payer_name: str = ""
    payer_identifier: str = ""
    check_number: str = ""
    payment_date: date | None = None
    total_paid: Decimal = Decimal("0")
    claims: list[ClpIn] = field(default_factory=list)


def _dec(text: str | None) -> Decimal:
    try:
        return Decimal(text or "0")
    except ArithmeticError:
        raise ValidationError(f"'{text}' is not an amount in the 835 file.", {}) from None


def _d8(text: str | None) -> date | None:
    try:
        return datetime.strptime(text or "", "%Y%m%d").date()
    except ValueError:
        return None


def parse_835(text: str) -> RemitIn:
    """An 835's payment, claims, lines and adjustments, read with pyx12's X12 reader."""
    import pyx12.errors
    import pyx12.x12file

    from iopdesk.services.claims import quiet_pyx12

    quiet_pyx12()
    out = RemitIn()
    clp: ClpIn | None = None
    svc: SvcIn | None = None
    seen_st = False
    try:
        reader = pyx12.x12file.X12Reader(io.StringIO(text))
        for seg in reader:
            sid = seg.get_seg_id()
            v = seg.get_value
            if sid == "ST":
                if v("ST01") != "835":
                    raise UserError(
                        f"This is an X12 {v('ST01')} file, not an 835 remittance advice."
                    )
                seen_st = True
            elif sid == "BPR":
                out.total_paid = _dec(v("BPR02"))
                out.payment_date = _d8(v("BPR16"))
            elif sid == "TRN":
                out.check_number = v("TRN02") or ""
            elif sid == "N1" and v("N101") == "PR":
                out.payer_name = v("N102") or ""
            elif sid == "REF" and v("REF01") == "2U" and clp is None:
                out.payer_identifier = v("REF02") or ""
            elif sid == "CLP":
                clp = ClpIn(
                    v("CLP01") or "",
                    v("CLP02") or "",
                    _dec(v("CLP03")),
                    _dec(v("CLP04")),
                    _dec(v("CLP05")),
                    v("CLP07") or "",
                )
                svc = None
                out.claims.append(clp)
            elif sid == "SVC" and clp is not None:
                svc = SvcIn(
                    v("SVC01-2") or "",
                    tuple(m for i in range(3, 7) if (m := v(f"SVC01-{i}"))),
                    _dec(v("SVC02")),
                    _dec(v("SVC03")),
                    int(_dec(v("SVC05") or "1")),
                )
                clp.lines.append(svc)
            elif sid == "CAS" and clp is not None:
                target = svc.adjustments if svc is not None else clp.adjustments
                group = v("CAS01") or ""
                for i in range(2, 19, 3):
                    reason = v(f"CAS{i:02d}")
                    if reason:
                        units = v(f"CAS{i + 2:02d}")
                        target.append(
                            Adj(group, reason, _dec(v(f"CAS{i + 1:02d}")), int(_dec(units)))
                        )
            elif sid == "DTM" and svc is not None and v("DTM01") in ("472", "150"):
                svc.date_of_service = _d8(v("DTM02"))
            elif sid == "REF" and svc is not None and v("REF01") == "6R":
                svc.line_id = v("REF02") or ""
            elif sid == "LQ" and svc is not None and v("LQ01") == "HE":
                svc.remarks.append(v("LQ02") or "")
            elif sid in ("SE", "PLB"):
                clp, svc = None, None
    except pyx12.errors.X12Error as exc:
        raise UserError(f"This file is not a readable X12 835 ({exc}).") from None
    if not seen_st:
        raise UserError("This file is not an X12 835 remittance advice (no ST*835 found).")
    return out


# ------------------------------------------------------------------------------------------
# Import and posting
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unmatched:
    claim_number: str
    procedure_code: str
    date_of_service: date | None
    amount: Decimal
    reason: str


@dataclass
class ImportResult:
    remittance_id: int
    already_imported: bool
    claims_matched: int = 0
    lines_matched: int = 0
    paid: Decimal = Decimal("0")
    patient_responsibility: Decimal = Decimal("0")
    unmatched: list[Unmatched] = field(default_factory=list)
    check_number: str = ""
    payer_name: str = ""


def import_remittance(db: Database, actor: Actor, path: Path | str) -> ImportResult:
    """Post an 835 file (see the module doc); re-importing the same file changes nothing."""
    require(actor, Perm.BILLING_EXPORT)
    target = Path(path).expanduser()
    try:
        raw = target.read_bytes()
    except OSError:
        raise UserError(f"Cannot read {target}: check the file name and try again.") from None
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    with db.session() as session:
        acting(session, actor)  # created_by/updated_by are filled by declare.fill_tracked
        serialize(session, "remittance")
        old = session.execute(
            sa_select(Remittance).where(col(Remittance.file_sha256) == digest)
        ).scalar_one_or_none()
        if old is not None:
            assert old.id is not None
            return ImportResult(
                old.id,
                True,
                old.claims_matched,
                check_number=old.check_number,
                payer_name=old.payer_name,
            )
        data = parse_835(text)
        if data.check_number:
            # the same payment in another copy of the file (re-downloaded, new envelope)
            same = session.execute(
                sa_select(Remittance).where(
                    col(Remittance.check_number) == data.check_number,
                    col(Remittance.payer_name) == data.payer_name,
                    col(Remittance.total_paid) == data.total_paid,
                )
            ).scalar_one_or_none()
            if same is not None:
                assert same.id is not None
                return ImportResult(
                    same.id,
                    True,
                    same.claims_matched,
                    check_number=same.check_number,
                    payer_name=same.payer_name,
                )
        remit = Remittance(
            file_sha256=digest,
            file_name=target.name,
            payer_name=data.payer_name,
            payer_identifier=data.payer_identifier,
            check_number=data.check_number,
            payment_date=data.payment_date,
            total_paid=data.total_paid,
        )
        session.add(remit)
        session.flush()
        assert remit.id is not None
        result = ImportResult(
            remit.id, False, check_number=data.check_number, payer_name=data.payer_name
        )
        numbers = [c.claim_number for c in data.claims]
        claims = {
            c.claim_number: c
            for c in session.execute(
                sa_select(Claim).where(col(Claim.claim_number).in_(numbers))
            ).scalars()
        }
        claim_ids = [c.id for c in claims.values() if c.id is not None]
        lines_by_claim: dict[int, list[BillingLine]] = defaultdict(list)
        for bl in session.execute(
            sa_select(BillingLine).where(col(BillingLine.claim_id).in_(claim_ids))
        ).scalars():
            assert bl.claim_id is not None
            lines_by_claim[bl.claim_id].append(bl)
        base: dict[str, Any] = {"created_by": actor.user_id, "updated_by": actor.user_id}
        for clp in data.claims:
            claim = claims.get(clp.claim_number)
            rc = RemittanceClaim(
                remittance_id=remit.id,
                claim_id=claim.id if claim is not None else None,
                claim_number=clp.claim_number,
                status_code=clp.status,
                charge=clp.charge,
                paid=clp.paid,
                patient_responsibility=clp.patient_responsibility,
                payer_claim_number=clp.payer_claim_number,
                note="" if claim is not None else "no claim was sent with this number",
                **base,
            )
            session.add(rc)
            session.flush()
            assert rc.id is not None
            if claim is None:
                result.unmatched.append(Unmatched(clp.claim_number, "", None, clp.paid, rc.note))
                continue
            result.claims_matched += 1
            result.paid += clp.paid
            result.patient_responsibility += clp.patient_responsibility
            if clp.payer_claim_number and not claim.payer_claim_number:
                claim.payer_claim_number = clp.payer_claim_number
                session.add(claim)
            for adj in clp.adjustments:
                session.add(
                    RemittanceAdjustment(
                        remittance_claim_id=rc.id,
                        group_code=adj.group,
                        reason_code=adj.reason,
                        amount=adj.amount,
                        units=adj.units,
                        **base,
                    )
                )
            assert claim.id is not None
            sent = lines_by_claim.get(claim.id, [])
            taken: set[int] = set()
            for svc in clp.lines:
                line, why = _match_line(svc, sent, taken)
                if line is not None:
                    assert line.id is not None
                    taken.add(line.id)
                    result.lines_matched += 1
                else:
                    result.unmatched.append(
                        Unmatched(
                            clp.claim_number,
                            svc.procedure_code,
                            svc.date_of_service,
                            svc.paid,
                            why,
                        )
                    )
                pr = sum((a.amount for a in svc.adjustments if a.group == "PR"), Decimal("0"))
                rl = RemittanceLine(
                    remittance_claim_id=rc.id,
                    billing_line_id=line.id if line is not None else None,
                    procedure_code=svc.procedure_code,
                    date_of_service=svc.date_of_service,
                    charge=svc.charge,
                    paid=svc.paid,
                    units=svc.units,
                    patient_responsibility=pr,
                    remark_codes=",".join(r for r in svc.remarks if r),
                    note="" if line is not None else why,
                    **base,
                )
                session.add(rl)
                session.flush()
                for adj in svc.adjustments:
                    session.add(
                        RemittanceAdjustment(
                            remittance_claim_id=rc.id,
                            remittance_line_id=rl.id,
                            group_code=adj.group,
                            reason_code=adj.reason,
                            amount=adj.amount,
                            units=adj.units,
                            **base,
                        )
                    )
        remit.claims_matched = result.claims_matched
        remit.claims_unmatched = sum(1 for c in data.claims if c.claim_number not in claims)
        session.add(remit)
        audit.record(
            session,
            actor,
            audit.Action.CREATE,
            entity="remittance",
            entity_id=remit.id,
            detail=(
                f"835 {data.check_number}: {len(data.claims)} claims, "
                f"{result.claims_matched} matched, {len(result.unmatched)} unmatched items; "
                f"paid {result.paid}"
            ),
        )
        session.commit()
        return result


def _match_line(
    svc: SvcIn, sent: list[BillingLine], taken: set[int]
) -> tuple[BillingLine | None, str]:
    if svc.line_id:
        for bl in sent:
            if str(bl.id) == svc.line_id:
                return bl, ""
        return None, f"line control number {svc.line_id} is not a line of this claim"
    candidates = [
        bl
        for bl in sent
        if bl.id not in taken
        and bl.procedure_code == svc.procedure_code
        and bl.date_of_service == svc.date_of_service
    ]
    if len(candidates) == 1:
        return candidates[0], ""
    if not candidates:
        return None, "no line of this claim has this code and date"
    return None, "several lines of this claim have this code and date (not guessed)"


# ------------------------------------------------------------------------------------------
# Claim balances, denials work queue, accounts-receivable aging
# ------------------------------------------------------------------------------------------


def _balances(session: Session) -> list[ClaimBalance]:
    replaced = {
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
    rows = session.execute(
        sa_select(Claim, BillingBatch, Client, Payer)
        .join(BillingBatch, col(BillingBatch.id) == col(Claim.batch_id))
        .join(Client, col(Client.id) == col(Claim.client_id))
        .join(Payer, col(Payer.id) == col(Claim.payer_id))
        .where(
            col(BillingBatch.status) != BatchStatus.VOIDED.value,
            col(Claim.frequency).in_(("1", "7")),
        )
        .order_by(col(Claim.id))
    ).all()
    out: dict[int, ClaimBalance] = {}
    for claim, batch, client, payer in rows:
        if claim.id in replaced or claim.id is None:
            continue
        out[claim.id] = ClaimBalance(
            claim.id,
            claim.claim_number,
            payer.payer_code,
            client.mrn,
            f"{client.last_name}, {client.first_name}",
            claim.date_from,
            claim.date_to,
            batch.created_at.date(),
            Decimal(claim.total_charge),
            client_id=client.id or 0,
            part2=client.part2,
        )
    if not out:
        return []
    remits = session.execute(
        sa_select(RemittanceClaim, Remittance)
        .join(Remittance, col(Remittance.id) == col(RemittanceClaim.remittance_id))
        .where(col(RemittanceClaim.claim_id).in_(list(out)))
        .order_by(col(RemittanceClaim.id))
    ).all()
    last_status: dict[int, str] = {}
    rc_claim: dict[int, int] = {}
    for rc, remit in remits:
        assert rc.claim_id is not None and rc.id is not None
        b = out[rc.claim_id]
        rc_claim[rc.id] = rc.claim_id
        b.paid += Decimal(rc.paid)
        b.patient_responsibility += Decimal(rc.patient_responsibility)
        b.last_remit = remit.payment_date or remit.created_at.date()
        last_status[rc.claim_id] = rc.status_code
    if rc_claim:
        reasons: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for adj in session.execute(
            sa_select(RemittanceAdjustment).where(
                col(RemittanceAdjustment.remittance_claim_id).in_(list(rc_claim))
            )
        ).scalars():
            cid = rc_claim[adj.remittance_claim_id]
            b = out[cid]
            amount = Decimal(adj.amount)
            if adj.group_code == "PR":
                continue  # already in CLP05
            if adj.reason_code in WRITE_OFF_CARCS:
                b.write_off += amount
            else:
                b.denied += amount
                reasons[cid][f"{adj.group_code}-{adj.reason_code}"] += amount
        for cid, by_reason in reasons.items():
            out[cid].reasons = [k for k, v in by_reason.items() if v != 0]
        for rl in session.execute(
            sa_select(RemittanceLine).where(
                col(RemittanceLine.remittance_claim_id).in_(list(rc_claim))
            )
        ).scalars():
            for code in (rl.remark_codes or "").split(","):
                b = out[rc_claim[rl.remittance_claim_id]]
                if code and code not in b.remarks:
                    b.remarks.append(code)
    for cid, b in out.items():
        status = last_status.get(cid)
        if status is None:
            continue
        if status == "22" and b.paid == 0:
            b.status = "reversed"
        elif b.denied > 0 and b.paid == 0:
            b.status = "denied"
        elif b.balance > 0:
            b.status = "partially paid"
        else:
            b.status = "paid"
    return list(out.values())


@service(Perm.BILLING_VIEW, audit=Audited(audit.Action.READ, "denials"))
def denials(session: Session, actor: Actor, as_of: date | None = None) -> list[Denial]:
    """Claims with denied amounts still open, oldest first (the work queue)."""
    today = as_of or clinic_today(session)
    rows = [b for b in _balances(session) if b.denied > 0 and b.status != "reversed"]
    about(session, detail=f"{len(rows)} denials")
    out = []
    for b in rows:
        seen_from = b.last_remit or b.sent_on
        codes = [r.split("-", 1)[1] for r in b.reasons]
        out.append(
            Denial(
                b.claim_number,
                b.payer,
                b.mrn,
                b.client,
                b.date_from,
                b.date_to,
                b.denied,
                "; ".join(f"{r} {carc_description(r.split('-', 1)[1])}" for r in b.reasons),
                "; ".join(f"{r} {rarc_description(r)}" for r in b.remarks),
                max(0, (today - seen_from).days),
                " ".join(dict.fromkeys(carc_action(c) for c in codes)),
            )
        )
    out.sort(key=lambda d: (-d.age_days, d.claim_number))
    return out


def bucket(age_days: int) -> str:
    if age_days <= 30:
        return "0-30"
    if age_days <= 60:
        return "31-60"
    if age_days <= 90:
        return "61-90"
    return "90+"


@service(Perm.BILLING_VIEW, audit=Audited(audit.Action.READ, "ar_aging"))
def aging(session: Session, actor: Actor, as_of: date | None = None) -> Aging:
    """Open claim balances by payer in 0-30, 31-60, 61-90 and 90+ days since sent."""
    today = as_of or clinic_today(session)
    open_ = [b for b in _balances(session) if b.balance > 0]
    about(session, detail=f"as of {today}")
    by_payer: dict[str, AgingRow] = {}
    claims = []
    for b in open_:
        age = max(0, (today - b.sent_on).days)
        k = bucket(age)
        row = by_payer.setdefault(b.payer, AgingRow(b.payer, {x: Decimal("0") for x in BUCKETS}))
        row.buckets[k] += b.balance
        claims.append((b, age, k))
    return Aging(today, [by_payer[k] for k in sorted(by_payer)], claims)


@dataclass(frozen=True)
class RemittanceInfo:
    id: int
    file_name: str
    payer_name: str
    check_number: str
    payment_date: date | None
    total_paid: Decimal
    claims_matched: int
    claims_unmatched: int


@service(Perm.BILLING_VIEW)
def list_remittances(session: Session, actor: Actor) -> list[RemittanceInfo]:
    return [
        RemittanceInfo(
            r.id or 0,
            r.file_name,
            r.payer_name,
            r.check_number,
            r.payment_date,
            Decimal(r.total_paid),
            r.claims_matched,
            r.claims_unmatched,
        )
        for r in session.execute(
            sa_select(Remittance).order_by(col(Remittance.id).desc())
        ).scalars()
    ]


@service(Perm.BILLING_VIEW)
def unmatched_items(session: Session, actor: Actor) -> list[Unmatched]:
    """Every remittance claim or line that matched nothing we sent."""
    out = [
        Unmatched(rc.claim_number, "", None, Decimal(rc.paid), rc.note)
        for rc in session.execute(
            sa_select(RemittanceClaim).where(col(RemittanceClaim.claim_id).is_(None))
        ).scalars()
    ]
    for rl, rc in session.execute(
        sa_select(RemittanceLine, RemittanceClaim)
        .join(RemittanceClaim, col(RemittanceClaim.id) == col(RemittanceLine.remittance_claim_id))
        .where(
            col(RemittanceLine.billing_line_id).is_(None),
            col(RemittanceClaim.claim_id).is_not(None),
        )
    ).all():
        out.append(
            Unmatched(
                rc.claim_number,
                rl.procedure_code,
                rl.date_of_service,
                Decimal(rl.paid),
                rl.note,
            )
        )
    return out


def export_receivables(
    db: Database,
    actor: Actor,
    path: Path | str,
    *,
    as_of: date | None = None,
    release: Release | None = None,
) -> Path:
    """The AR aging and denials queue as .xlsx or .pdf, disclosure-gated and audited like
    every export (written to a temporary file, then renamed)."""

    from iopdesk.reports import receivables as writer
    from iopdesk.services.disclosures import authorize_many

    require(actor, Perm.BILLING_VIEW)
    target = Path(path).expanduser()
    suffix = target.suffix.lower()
    if suffix not in (".xlsx", ".pdf"):
        raise ValidationError(
            f"Cannot save the aging report as '{target.name}': use .xlsx or .pdf.",
            {"path": "Use .xlsx or .pdf."},
        )
    if not target.parent.is_dir():
        raise ValidationError(
            f"The folder {target.parent} does not exist. Choose an existing folder.",
            {"path": "Folder not found."},
        )
    release = release or Release("internal", purpose="payment (in-house billing)")
    report = aging(db, actor, as_of)
    queue = denials(db, actor, report.as_of)
    with db.session() as session:
        balances = [b for b, _, _ in report.claims]
        ids = sorted({b.client_id for b in balances})
        if ids:
            authorize_many(session, actor, ids, release, f"AR aging {report.as_of.isoformat()}")
        part2 = any(b.part2 for b in balances)
        clinic = session.execute(sa_select(col(Clinic.name)).limit(1)).scalar_one_or_none() or ""
        write: Callable[[Path], None] = (
            (lambda p: writer.write_xlsx(report, queue, p, part2))
            if suffix == ".xlsx"
            else (lambda p: writer.write_pdf(report, queue, p, clinic, part2))
        )
        with filesout.audited_write(target, write) as place:
            audit.record(
                session,
                actor,
                audit.Action.EXPORT,
                entity="ar_aging",
                detail=f"{release.kind}: AR aging {report.as_of.isoformat()}; "
                f"{len(balances)} claims; {len(queue)} denials"
                + ("; Part 2 notice" if part2 else ""),
            )
            place()
            session.commit()
    return target


@dataclass(frozen=True)
class PostedClaim:
    remittance_id: int
    claim_number: str
    matched: bool
    status: str  # CLP02 in words
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    adjustments: str  # "CO-45 Charge exceeds ... 20.00; PR-2 Coinsurance amount. 10.00"
    remarks: str


@service(Perm.BILLING_VIEW, audit=Audited(audit.Action.READ, "remittance"))
def posted_claims(session: Session, actor: Actor, remittance_id: int) -> list[PostedClaim]:
    """What one 835 posted: each claim with its amounts, adjustments (CARC with description,
    claim and line level) and remark codes (RARC)."""
    rcs = (
        session.execute(
            sa_select(RemittanceClaim)
            .where(col(RemittanceClaim.remittance_id) == remittance_id)
            .order_by(col(RemittanceClaim.id))
        )
        .scalars()
        .all()
    )
    ids = [rc.id for rc in rcs if rc.id is not None]
    adjs: dict[int, list[RemittanceAdjustment]] = defaultdict(list)
    for adj in session.execute(
        sa_select(RemittanceAdjustment)
        .where(col(RemittanceAdjustment.remittance_claim_id).in_(ids))
        .order_by(col(RemittanceAdjustment.id))
    ).scalars():
        adjs[adj.remittance_claim_id].append(adj)
    remarks: dict[int, list[str]] = defaultdict(list)
    for rl in session.execute(
        sa_select(RemittanceLine).where(col(RemittanceLine.remittance_claim_id).in_(ids))
    ).scalars():
        for code in (rl.remark_codes or "").split(","):
            if code and code not in remarks[rl.remittance_claim_id]:
                remarks[rl.remittance_claim_id].append(code)
    about(session, entity_id=remittance_id, detail=f"{len(rcs)} claims")
    out = []
    for rc in rcs:
        assert rc.id is not None
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for adj in adjs[rc.id]:
            totals[f"{adj.group_code}-{adj.reason_code}"] += Decimal(adj.amount)
        out.append(
            PostedClaim(
                remittance_id,
                rc.claim_number,
                rc.claim_id is not None,
                STATUS_TEXT.get(rc.status_code, rc.status_code),
                Decimal(rc.charge),
                Decimal(rc.paid),
                Decimal(rc.patient_responsibility),
                "; ".join(
                    f"{k} {carc_description(k.split('-', 1)[1])} {v:,.2f}"
                    for k, v in totals.items()
                ),
                "; ".join(f"{r} {rarc_description(r)}" for r in remarks[rc.id]),
            )
        )
    return out
