"""A small 835 writer for tests: remittances built from the claims an 837 export sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass
class Svc:
    code: str
    charge: Decimal
    paid: Decimal
    day: date
    line_id: str = ""
    cas: list[tuple[str, str, Decimal]] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)


@dataclass
class Clp:
    number: str
    status: str
    charge: Decimal
    paid: Decimal
    patient: Decimal = Decimal("0")
    payer_claim: str = "PCN1"
    cas: list[tuple[str, str, Decimal]] = field(default_factory=list)
    lines: list[Svc] = field(default_factory=list)


def _a(v: Decimal) -> str:
    text = format(v.quantize(Decimal("0.01")), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def write_835(claims: list[Clp], check: str = "CHK1001", paid_on: date = date(2026, 12, 10)) -> str:
    total = sum((c.paid for c in claims), Decimal("0"))
    segs = [
        "ST*835*0001",
        f"BPR*I*{_a(total)}*C*CHK************{paid_on:%Y%m%d}",
        f"TRN*1*{check}*1999999999",
        f"DTM*405*{paid_on:%Y%m%d}",
        "N1*PR*SUMMIT MUTUAL",
        "N3*1 PAYER WAY",
        "N4*CHICAGO*IL*60601",
        "PER*BL*PROVIDER SERVICES*TE*8005550100",
        "N1*PE*TEST CLINIC*XX*1112223339",
        "LX*1",
    ]
    for c in claims:
        segs.append(
            f"CLP*{c.number}*{c.status}*{_a(c.charge)}*{_a(c.paid)}*{_a(c.patient)}*12*{c.payer_claim}*11*1"
        )
        for g, r, amt in c.cas:
            segs.append(f"CAS*{g}*{r}*{_a(amt)}")
        segs.append("NM1*QC*1*DOE*PAT****MI*M1")
        for s in c.lines:
            segs.append(f"SVC*HC:{s.code}*{_a(s.charge)}*{_a(s.paid)}**1")
            segs.append(f"DTM*472*{s.day:%Y%m%d}")
            for g, r, amt in s.cas:
                segs.append(f"CAS*{g}*{r}*{_a(amt)}")
            if s.line_id:
                segs.append(f"REF*6R*{s.line_id}")
            for rm in s.remarks:
                segs.append(f"LQ*HE*{rm}")
    segs.append(f"SE*{len(segs) + 1}*0001")
    head = (
        "ISA*00*          *00*          *ZZ*DEMOCLEAR      *ZZ*RBIOP0001      *261210*1200*^*"
        "00501*000000777*0*P*:"
    )
    gs = "GS*HP*DEMOCLEAR*RBIOP0001*20261210*1200*77*X*005010X221A1"
    return "~\n".join([head, gs, *segs, "GE*1*77", "IEA*1*000000777"]) + "~\n"
