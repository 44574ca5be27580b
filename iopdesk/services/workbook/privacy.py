"""The workbook's privacy sheets (issue 16, item 8): `Recipients` (the recipient directory)
and `Consents` (42 CFR Part 2 consents and HIPAA authorizations), parsed, checked, applied and
exported the way the rest of services.workbook does its other sheets. Both sheets are optional.
The workbook's helpers are imported inside the functions: the read module imports this one."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from iopdesk.models import Client, Consent, Recipient
from iopdesk.services import disclosures, recipients

if TYPE_CHECKING:
    from iopdesk.services.workbook.apply import _Tally, _Writer
    from iopdesk.services.workbook.check import _State
    from iopdesk.services.workbook.contract import ImportProblem
    from iopdesk.services.workbook.read import _Book, _Row, _Sheet

RECIPIENTS_SPEC = "name* organization address type"
CONSENTS_SPEC = "mrn* recipient* kind purposes* information* signed_date* expiry_date revoked_date"
DEFAULT_EXPIRY_EVENT = "until revoked (no expiry date in the imported workbook)"


def _recipient_type(value: Any) -> str:
    from iopdesk.services.workbook.read import _as_text, _show

    text = _as_text(value).strip().lower().replace(" ", "_")
    if text not in recipients.TYPES:
        raise ValueError(
            f"'{_show(value)}' is not allowed; use one of: {', '.join(recipients.TYPES)}"
        )
    return text


def _kind(value: Any) -> str:
    from iopdesk.services.workbook.read import _as_text, _show

    text = _as_text(value).strip().lower()
    if text not in disclosures.CONSENT_KINDS:
        raise ValueError(f"'{_show(value)}' is not allowed; use one of: part2, hipaa")
    return text


def _purposes(value: Any) -> str:
    from iopdesk.services.workbook.read import _items

    items = _items(value)
    if not items:
        raise ValueError("list at least one purpose")
    return ", ".join(items)


def _information(value: Any) -> tuple[str, ...]:
    from iopdesk.services.workbook.read import _items, _show

    items = _items(value)
    allowed = (*disclosures.CATEGORIES, disclosures.ALL)
    bad = [i for i in items if i.strip().lower() not in allowed]
    if bad or not items:
        shown = _show(bad[0]) if bad else ""
        raise ValueError(
            (f"'{shown}' is not an information category; " if bad else "list the information; ")
            + f"use a comma list of {', '.join(allowed)}"
        )
    return disclosures.parse_categories([i.lower() for i in items])


def parse_recipients(sheet: _Sheet, problems: list[ImportProblem]) -> list[_Row]:
    from iopdesk.services.workbook.read import _rows, _text, _unique

    out: list[_Row] = []
    first: dict[Any, int] = {}
    for r in _rows(sheet, problems):
        name = r.put("name", _text(200), True)
        key = recipients.name_key(name) if name else None
        _unique(r, "name", key, first, f"'{name}'")
        r.put("organization", _text(200), default="")
        r.put("address", _text(500), default="")
        r.put("type", _recipient_type, default="other")
        out.append(r)
    return out


def parse_consents(sheet: _Sheet, problems: list[ImportProblem]) -> list[_Row]:
    from iopdesk.services.workbook.read import _date, _rows, _text

    out: list[_Row] = []
    for r in _rows(sheet, problems):
        r.put("mrn", _text(20), True)
        r.put("recipient", _text(200), True)
        r.put("kind", _kind, default="part2")
        r.put("purposes", _purposes, True)
        r.put("information", _information, True)
        signed = r.put("signed_date", _date, True)
        expiry = r.put("expiry_date", _date)
        revoked = r.put("revoked_date", _date)
        if signed is not None and expiry is not None and expiry < signed:
            r.error("expiry_date", "must be on or after signed_date")
        if signed is not None and revoked is not None and revoked < signed:
            r.error("revoked_date", "must be on or after signed_date")
        out.append(r)
    return out


def check(book: _Book, st: _State, clients: set[str]) -> None:
    """Consents name a client (Clients sheet or database) and a recipient (Recipients sheet,
    the directory, or a class); a class is for treatment, payment and operations only."""
    known = {
        recipients.name_key(r.v["name"]) for r in book.sheet("Recipients") if r.v.get("name")
    } | set(st.s.exec(select(Recipient.name_key)).all())
    seen: dict[tuple[Any, ...], int] = {}
    for r in book.sheet("Consents"):
        mrn, to = r.v.get("mrn"), r.v.get("recipient")
        if mrn is not None and mrn not in clients:
            r.error("mrn", f"'{mrn}' is not in the Clients sheet or the database")
        if to is None:
            continue
        klass = to.strip().lower()
        if klass in recipients.CLASSES:
            wanted = disclosures.purposes(r.v.get("purposes") or "")
            if wanted and not wanted <= set(disclosures.TPO):
                r.error(
                    "purposes",
                    "a consent to a class of recipients is for treatment, payment and "
                    "operations only",
                )
        elif recipients.name_key(to) not in known:
            r.error(
                "recipient",
                f"'{to}' is not in the Recipients sheet or the recipient directory (or use "
                "treating_providers or health_plans)",
            )
        key = (mrn, recipients.name_key(to), r.v.get("kind"), r.v.get("signed_date"))
        if None not in key:
            if key in seen:
                r.error(
                    "recipient",
                    f"the same consent (client, recipient, kind, signed_date) appears more "
                    f"than once (first on row {seen[key]})",
                )
            else:
                seen[key] = r.num


def apply_recipients(rows: list[_Row], st: _State, w: _Writer, tally: _Tally) -> None:
    from iopdesk.services.workbook.apply import _count

    if not rows:
        return
    have = {r.name_key: r for r in w.s.exec(select(Recipient)).all()}
    for r in rows:
        key = recipients.name_key(r.v["name"])
        values: dict[str, Any] = {
            k: r.v[k] for k in ("organization", "address", "type") if k in r.v
        }
        obj = have.get(key)
        if obj is None:
            obj = Recipient(
                name=r.v["name"],
                name_key=key,
                organization=values.get("organization", ""),
                address=values.get("address", ""),
                type=values.get("type", "other"),
                **w.base(),
            )
            if not w.probe:
                w.s.add(obj)
                w.s.flush()
            have[key] = obj
            _count(tally, "Recipients", True, False)
        else:
            values["name"] = r.v["name"]
            _count(tally, "Recipients", False, w.touch(obj, values))
    w.s.flush()


def apply_consents(rows: list[_Row], st: _State, w: _Writer, tally: _Tally) -> None:
    from iopdesk.services.workbook.apply import _count

    if not rows:
        return
    directory = {r.name_key: r for r in w.s.exec(select(Recipient)).all()}
    key_of = {r.id: key for key, r in directory.items()}  # a renamed entry keeps its consents
    ids = sorted({st.client_ids[r.v["mrn"]] for r in rows})
    existing: dict[tuple[int, str, str, date | None], Consent] = {}
    for c in w.s.exec(select(Consent).where(col(Consent.client_id).in_(ids))).all():
        target = c.recipient_class or key_of.get(
            c.recipient_id, recipients.name_key(c.recipient_name)
        )
        existing.setdefault((c.client_id, target, c.kind, c.signed_date), c)
    for r in rows:
        v = r.v
        cid = st.client_ids[v["mrn"]]
        to = v["recipient"].strip()
        klass = to.lower() if to.lower() in recipients.CLASSES else ""
        rec = None if klass else directory[recipients.name_key(to)]
        target = klass or recipients.name_key(rec.name if rec else to)
        values: dict[str, Any] = {
            "purpose": v["purposes"],
            "info_categories": ",".join(v["information"]),
            "expiry_date": v.get("expiry_date"),
            "revoked_date": v.get("revoked_date"),
        }
        obj = existing.get((cid, target, v["kind"], v["signed_date"]))
        if obj is None:
            obj = Consent(
                client_id=cid,
                kind=v["kind"],
                recipient_id=rec.id if rec else None,
                recipient_class=klass,
                recipient_name=rec.name if rec else recipients.CLASS_LABELS[klass],
                recipient_org=rec.organization if rec else "",
                signed_date=v["signed_date"],
                expiry_event="" if v.get("expiry_date") else DEFAULT_EXPIRY_EVENT,
                **values,
                **w.base(),
            )
            if not w.probe:
                w.s.add(obj)
            _count(tally, "Consents", True, False)
        else:
            if v.get("expiry_date") is None and not obj.expiry_event:
                values["expiry_event"] = DEFAULT_EXPIRY_EVENT
            _count(tally, "Consents", False, w.touch(obj, values))
    w.s.flush()


def export_recipients(session: Session) -> list[list[Any]]:
    rows = session.exec(select(Recipient).where(col(Recipient.active))).all()
    return [
        [r.name, r.organization or None, r.address or None, r.type]
        for r in sorted(rows, key=lambda r: r.name.casefold())
    ]


def export_consents(session: Session, mrn: dict[int, str]) -> list[list[Any]]:
    """Consents of the exported clients, by MRN and signing date."""
    out: list[list[Any]] = []
    rows = session.exec(select(Consent).order_by(col(Consent.signed_date), col(Consent.id))).all()
    names = {r.id: r.name for r in session.exec(select(Recipient)).all()}
    for c in rows:
        if c.client_id not in mrn or c.signed_date is None:
            continue
        to = c.recipient_class or names.get(c.recipient_id or -1) or c.recipient_name
        cats = disclosures.stored_categories(c.info_categories)
        information = (
            disclosures.ALL
            if disclosures.ALL in cats
            else ", ".join(x for x in disclosures.CATEGORIES if x in cats)
        )
        out.append(
            [
                mrn[c.client_id],
                to,
                c.kind,
                c.purpose,
                information,
                c.signed_date,
                c.expiry_date,
                c.revoked_date,
            ]
        )
    out.sort(key=lambda row: (row[0], row[5], row[1]))
    return out


def client_part2(session: Session) -> dict[int, bool]:
    return {
        int(pk): bool(p2)
        for pk, p2 in session.exec(select(Client.id, Client.part2)).all()
        if pk is not None
    }
