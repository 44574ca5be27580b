"""The 42 CFR Part 2 disclosure gate and the accounting of disclosures.

Every path that sends client data out of IOPDesk (printouts, exports, packets) calls
`authorize` (one client) or `authorize_many` (a report over many clients) inside its own
transaction, before the file is placed, with a `Release` saying who receives it:

- ``internal``: staff of this clinic use it (a roster, the in-house biller). Allowed, recorded.
- ``client_copy``: the client's own copy (a right of access, not a disclosure). Allowed, recorded.
- ``disclosure``: it leaves the clinic for `recipient` for `purpose`. For a Part 2 client a
  valid consent must cover it, else `ConsentRequired` (nothing is recorded, the caller's
  transaction rolls back and no file appears). Non-Part 2 clients are recorded without a
  consent (HIPAA allows treatment, payment and operations disclosures without one).

A consent is valid on a day when it is signed on or before that day, its expiry date (if any)
is not before that day, and it is not revoked on or before that day. A consent whose expiry is
an event ("end of treatment") stays valid until staff revoke it or enter the date.

Matching (deliberately plain, so staff can predict it):
- recipient: the release's recipient equals the consent's recipient name or organization,
  ignoring case, punctuation and extra spaces, or one contains the other (at least 4 letters),
  so "Acme Health Plan" matches a consent to "Acme Health Plan, claims department";
- purpose: the release's purpose equals the consent's purpose or one of its listed purposes
  (split on commas, semicolons, slashes and "and"); a consent for "treatment, payment and
  health care operations" (or "TPO") covers each of the three.

Audit rows name the disclosure id, its kind, the consent id and what was sent; the recipient
stays in the (encrypted) disclosure table, never in the audit detail or a log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, UserError, ValidationError
from iopdesk.models import Client, Consent, Disclosure, User, utcnow
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import clinic_today
from iopdesk.services.permissions import Perm, require

KINDS = ("internal", "client_copy", "disclosure")
KIND_LABELS = {
    "internal": "Internal use",
    "client_copy": "Client's own copy",
    "disclosure": "Disclosure",
}


@dataclass(frozen=True)
class Release:
    """Who receives what, asked by the UI/CLI before any export."""

    kind: str  # "internal" | "client_copy" | "disclosure"
    recipient: str = ""  # name/organization when kind == "disclosure"
    purpose: str = ""

    def describe(self) -> str:
        if self.kind == "disclosure":
            return f"Disclosure to {self.recipient} for {self.purpose}"
        return KIND_LABELS.get(self.kind, self.kind)


INTERNAL = Release("internal", purpose="internal use")
CLIENT_COPY = Release("client_copy", purpose="client's own copy")


class ConsentRequired(UserError):
    """A Part 2 record would leave the clinic without a valid consent covering it."""

    title = "Consent needed"


def _norm(text: str) -> str:
    text = text.casefold().replace("healthcare", "health care")
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


_TPO = ("treatment", "payment", "health care operations")
_TPO_NAMES = {"tpo", "treatment payment and health care operations", "treatment payment operations"}


def _purposes(text: str) -> set[str]:
    whole = _norm(text)
    terms = {whole}
    for part in re.split(r"[,;/]|\band\b", text.casefold().replace("healthcare", "health care")):
        term = _norm(part)
        if term:
            terms.add(term)
    if whole in _TPO_NAMES or "tpo" in terms or {"treatment", "payment"} <= terms:
        terms.update(_TPO)
    if "operations" in terms:
        terms.add("health care operations")
    return terms


def recipient_matches(consent: Consent, recipient: str) -> bool:
    wanted = _norm(recipient)
    if not wanted:
        return False
    for name in (_norm(consent.recipient_name), _norm(consent.recipient_org)):
        if not name:
            continue
        if name == wanted:
            return True
        if min(len(name), len(wanted)) >= 4 and (name in wanted or wanted in name):
            return True
    return False


def purpose_matches(consent: Consent, purpose: str) -> bool:
    wanted = _norm(purpose)
    return bool(wanted) and wanted in _purposes(consent.purpose)


def consent_problem(consent: Consent, on: date) -> str:
    """Why a consent is not valid on `on` ("" when it is)."""
    if consent.signed_date is None:
        return "it is not signed"
    if consent.signed_date > on:
        return f"it is dated {consent.signed_date.isoformat()}, after today"
    if consent.revoked_date is not None and consent.revoked_date <= on:
        return f"it was revoked on {consent.revoked_date.isoformat()}"
    if consent.expiry_date is not None and consent.expiry_date < on:
        return f"it expired on {consent.expiry_date.isoformat()}"
    return ""


def consent_status(consent: Consent, on: date) -> str:
    """One word for lists: active | expired | revoked | unsigned."""
    if consent.revoked_date is not None and consent.revoked_date <= on:
        return "revoked"
    if consent.signed_date is None or consent.signed_date > on:
        return "unsigned"
    if consent.expiry_date is not None and consent.expiry_date < on:
        return "expired"
    return "active"


def find_consent(session: Session, client_id: int, release: Release, on: date) -> Consent | None:
    """The newest valid consent of the client covering the release's recipient and purpose."""
    consents = session.exec(
        select(Consent)
        .where(Consent.client_id == client_id)
        .order_by(col(Consent.signed_date).desc(), col(Consent.id).desc())
    ).all()
    for c in consents:
        if (
            not consent_problem(c, on)
            and recipient_matches(c, release.recipient)
            and purpose_matches(c, release.purpose)
        ):
            return c
    return None


def _refusal(session: Session, client: Client, release: Release, on: date) -> str:
    consents = session.exec(select(Consent).where(Consent.client_id == client.id)).all()
    covering = [
        c
        for c in consents
        if recipient_matches(c, release.recipient) and purpose_matches(c, release.purpose)
    ]
    if covering:
        why = "the consent on file for them " + consent_problem(covering[-1], on)
    elif consents:
        why = "no consent on file names this recipient and purpose"
    else:
        why = "there is no consent on file"
    return (
        f"Client {client.mrn} is protected by 42 CFR Part 2 and {why}. Nothing was sent. "
        f"Record a signed consent to '{release.recipient}' for '{release.purpose}' in the "
        "client's Consents tab, or choose internal use or the client's own copy."
    )


def check_release(release: Release) -> Release:
    if release.kind not in KINDS:
        raise ValidationError(f"Unknown release kind '{release.kind}'.")
    if release.kind == "disclosure":
        fields = {}
        if not release.recipient.strip():
            fields["recipient"] = "Who receives it?"
        if not release.purpose.strip():
            fields["purpose"] = "For what purpose?"
        if fields:
            raise ValidationError(
                "A disclosure needs the recipient (person or organization) and the purpose.",
                fields,
            )
        return Release("disclosure", release.recipient.strip(), release.purpose.strip())
    return release


def _plan(
    session: Session, client_ids: Iterable[int], release: Release, on: date
) -> list[tuple[int, int | None]]:
    """(client_id, consent_id) for each client, or ConsentRequired naming the first refusal."""
    ids = sorted(set(client_ids))
    if not ids:
        return []
    clients = {c.id: c for c in session.exec(select(Client).where(col(Client.id).in_(ids))).all()}
    plan: list[tuple[int, int | None]] = []
    refused: list[Client] = []
    for cid in ids:
        client = clients.get(cid)
        if client is None:
            raise NotFoundError("That client record does not exist.")
        consent_id: int | None = None
        if release.kind == "disclosure" and client.part2:
            consent = find_consent(session, cid, release, on)
            if consent is None:
                refused.append(client)
                continue
            consent_id = consent.id
        plan.append((cid, consent_id))
    if refused:
        message = _refusal(session, refused[0], release, on)
        if len(refused) > 1:
            others = ", ".join(c.mrn for c in refused[1:6]) + ("..." if len(refused) > 6 else "")
            message += f" The same applies to {len(refused) - 1} more client(s): {others}."
        raise ConsentRequired(message)
    return plan


def _write(
    session: Session,
    actor: Actor,
    plan: Sequence[tuple[int, int | None]],
    release: Release,
    what: str,
    now: datetime,
) -> list[Disclosure]:
    rows = [
        Disclosure(
            client_id=cid,
            consent_id=consent_id,
            disclosed_at=now,
            user_id=actor.user_id,
            kind=release.kind,
            recipient=release.recipient,
            purpose=release.purpose,
            what_sent=what[:500],
        )
        for cid, consent_id in plan
    ]
    session.add_all(rows)
    session.flush()
    return rows


def authorize(
    session: Session, actor: Actor, client_id: int, release: Release, what: str
) -> Disclosure:
    """Check and record one client's release inside the caller's transaction.

    `what` names what was sent without PHI (e.g. "progress note 42", "aftercare packet").
    Raises ConsentRequired for a Part 2 disclosure without a valid covering consent."""
    release = check_release(release)
    plan = _plan(session, [client_id], release, clinic_today(session))
    (row,) = _write(session, actor, plan, release, what, utcnow())
    audit.record(
        session,
        actor,
        audit.Action.DISCLOSE,
        entity="disclosure",
        entity_id=row.id,
        client_id=client_id,
        detail=f"{release.kind}; consent {row.consent_id or '-'}; {what}",
    )
    return row


def authorize_many(
    session: Session, actor: Actor, client_ids: Iterable[int], release: Release, what: str
) -> list[Disclosure]:
    """The same for a report over many clients: all are checked before anything is written
    (one refusal stops the whole export); one disclosure row per client, one audit event."""
    release = check_release(release)
    plan = _plan(session, client_ids, release, clinic_today(session))
    rows = _write(session, actor, plan, release, what, utcnow())
    if rows:
        audit.record(
            session,
            actor,
            audit.Action.DISCLOSE,
            entity="disclosure",
            entity_id=f"{rows[0].id}-{rows[-1].id}" if len(rows) > 1 else rows[0].id,
            client_id=rows[0].client_id if len(rows) == 1 else None,
            detail=f"{release.kind}; {len(rows)} clients; "
            f"consents {sum(1 for r in rows if r.consent_id)}; {what}",
        )
    return rows


def needs_consent(db: Database, client_ids: Iterable[int]) -> bool:
    """True when any of these clients is Part 2 (the UI then asks who receives the export)."""
    ids = list(set(client_ids))
    if not ids:
        return False
    with db.session() as session:
        return (
            session.exec(
                select(Client.id).where(col(Client.id).in_(ids), col(Client.part2)).limit(1)
            ).first()
            is not None
        )


# ------------------------------------------------------------------------------------------
# Accounting of disclosures
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisclosureRow:
    id: int
    disclosed_at: datetime
    kind: str
    recipient: str
    purpose: str
    what_sent: str
    consent_id: int | None
    username: str


def list_disclosures(
    db: Database, actor: Actor, client_id: int, *, include_internal: bool = True
) -> list[DisclosureRow]:
    """A client's releases, newest first."""
    require(actor, Perm.CLIENT_VIEW)
    with db.session() as session:
        from iopdesk.services.clients import ChartSection, require_section_in

        require_section_in(session, actor, client_id, ChartSection.PRIVACY, entity="disclosure")
        q = (
            select(Disclosure, User.username)
            .join(User, User.id == Disclosure.user_id)  # type: ignore[arg-type]
            .where(Disclosure.client_id == client_id)
        )
        if not include_internal:
            q = q.where(Disclosure.kind == "disclosure")
        rows = [
            DisclosureRow(
                d.id or 0,
                d.disclosed_at,
                d.kind,
                d.recipient,
                d.purpose,
                d.what_sent,
                d.consent_id,
                username,
            )
            for d, username in session.exec(
                q.order_by(col(Disclosure.disclosed_at).desc(), col(Disclosure.id).desc())
            ).all()
        ]
        return rows  # part of the chart, whose opening is audited (printing is audited)


def print_accounting(
    db: Database,
    actor: Actor,
    client_id: int,
    path: str,
    *,
    include_internal: bool = False,
) -> int:
    """Write the client's accounting of disclosures (PDF); printing it is audited.
    Returns the number of releases listed."""
    from pathlib import Path

    from iopdesk.models import Clinic
    from iopdesk.reports.disclosures import AccountingData, write_pdf

    rows = list_disclosures(db, actor, client_id, include_internal=include_internal)
    target = Path(path).expanduser()
    if not target.parent.is_dir():
        raise ValidationError(f"The folder {target.parent} does not exist.")
    with db.session() as session:
        client = session.get(Client, client_id)
        clinic = session.exec(select(Clinic).limit(1)).first()
        if client is None or clinic is None:
            raise NotFoundError("That client record does not exist.")
        data = AccountingData(
            clinic_name=clinic.name,
            clinic_address=clinic.address,
            clinic_phone=clinic.phone,
            client_name=f"{client.first_name} {client.last_name}",
            mrn=client.mrn,
            dob=client.dob,
            part2=client.part2,
            rows=rows,
            printed_by=actor.display_name,
        )
        write_pdf(data, target)
        audit.record(
            session,
            actor,
            audit.Action.PRINT,
            entity="disclosure",
            client_id=client_id,
            detail=f"accounting of disclosures printed, {len(rows)} rows",
        )
    return len(rows)
