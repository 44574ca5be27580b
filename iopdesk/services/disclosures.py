"""The release gate (42 CFR Part 2 and HIPAA) and the accounting of disclosures.

Every path that sends client data out of IOPDesk (printouts, exports, packets) declares the
information categories the document holds (computed from what is actually in it) and asks
`plan_release` (before writing the file: the document then carries the notice) and
`authorize`/`authorize_many` (inside the transaction that places it) with a `Release`:

- ``internal``: staff of this clinic use it (a roster, the in-house biller). Allowed, recorded.
- ``client_copy``: the client's own copy (a right of access, not a disclosure). Allowed, recorded.
- ``disclosure``: it leaves the clinic for a recipient of the directory (services.recipients)
  for a purpose:
  - a 42 CFR Part 2 client needs a valid Part 2 consent (kind "part2") naming that recipient
    record, or a class it belongs to (TPO consent, 2.31(a)(4)(i)), for that purpose, whose
    categories cover every category of the document ("all" covers everything);
  - any other client: treatment, payment or health care operations are allowed without an
    authorization (HIPAA 164.506) and recorded; any other purpose needs a valid HIPAA
    authorization (kind "hipaa", 164.508) covering the recipient, purpose and categories.
  Otherwise `ConsentRequired` names each client and what is missing; nothing is recorded,
  the caller's transaction rolls back and no file appears.

A consent is valid on a day when it is signed on or before that day, its expiry date (if any)
is not before that day, and it is not revoked on or before that day. A consent whose expiry is
an event ("end of treatment") stays valid until staff revoke it or enter the date.

Matching is exact, so staff can predict it: the recipient is a directory record (a consent
names the record or a class; never a piece of a name); purposes are compared after trimming,
ignoring case ("health care operations" and "operations" are the same purpose, "TPO" is all
three).

Audit rows name the disclosure id, its kind, the consent id and what was sent; the recipient
stays in the (encrypted) disclosure table, never in the audit detail or a log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, col, select

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, UserError, ValidationError
from iopdesk.models import Client, Consent, Disclosure, Recipient, User, utcnow
from iopdesk.reports.data.disclosures import DisclosureRow as DisclosureRow
from iopdesk.services import audit, recipients
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import clinic_today
from iopdesk.services.permissions import Perm, require

KINDS = ("internal", "client_copy", "disclosure")
KIND_LABELS = {
    "internal": "Internal use",
    "client_copy": "Client's own copy",
    "disclosure": "Disclosure",
}
CONSENT_KINDS = ("part2", "hipaa")
CONSENT_KIND_LABELS = {"part2": "42 CFR Part 2 consent", "hipaa": "HIPAA authorization"}

# -- information categories -----------------------------------------------------------------

CATEGORIES = (
    "attendance",
    "diagnosis",
    "treatment_plan",
    "progress_notes",
    "medications",
    "drug_screens",
    "discharge_aftercare",
    "billing",
)
ALL = "all"
CATEGORY_LABELS = {
    "attendance": "attendance",
    "diagnosis": "diagnosis",
    "treatment_plan": "treatment plan",
    "progress_notes": "progress notes",
    "medications": "medications",
    "drug_screens": "drug screens",
    "discharge_aftercare": "discharge/aftercare",
    "billing": "billing",
    ALL: "all information",
}
# The wording on the consent form and in the chart (older consents stored these labels).
CATEGORY_TITLES = {
    "attendance": "Attendance and participation",
    "diagnosis": "Diagnosis",
    "treatment_plan": "Treatment plan and progress",
    "progress_notes": "Progress notes",
    "medications": "Medications",
    "drug_screens": "Drug screen results",
    "discharge_aftercare": "Discharge summary and aftercare plan",
    "billing": "Billing and insurance information",
    ALL: "All of my records",
}
_CATEGORY_WORDS = {
    **{code: code for code in (*CATEGORIES, ALL)},
    **{title.casefold(): code for code, title in CATEGORY_TITLES.items()},
    **{label.casefold(): code for code, label in CATEGORY_LABELS.items()},
    "discharge": "discharge_aftercare",
    "aftercare": "discharge_aftercare",
    "all information": ALL,
}


def category_code(text: str) -> str | None:
    """The category code for a code, label or title (None when unknown)."""
    word = " ".join(text.strip().casefold().split())
    return _CATEGORY_WORDS.get(word) or _CATEGORY_WORDS.get(word.replace(" ", "_"))


def parse_categories(items: Iterable[str] | str) -> tuple[str, ...]:
    """Category codes in the canonical order; ValidationError naming an unknown one."""
    if isinstance(items, str):
        items = items.split(",")
    codes: set[str] = set()
    for item in items:
        if not item.strip():
            continue
        code = category_code(item)
        if code is None:
            raise ValidationError(
                f"'{item.strip()}' is not an information category; use "
                f"{', '.join(CATEGORIES)} or all.",
                {"info_categories": "Unknown category."},
            )
        codes.add(code)
    if ALL in codes:
        return (ALL,)
    return tuple(c for c in CATEGORIES if c in codes)


def stored_categories(text: str) -> frozenset[str]:
    """Codes of a stored consent (unknown free text covers nothing)."""
    return frozenset(c for c in (category_code(p) for p in text.split(",")) if c)


def categories_text(codes: Iterable[str]) -> str:
    order = (*CATEGORIES, ALL)
    wanted = set(codes)
    return ", ".join(CATEGORY_LABELS[c] for c in order if c in wanted) or "none"


# -- purposes ---------------------------------------------------------------------------------

TPO = ("treatment", "payment", "operations")
_TPO_ITEM = re.compile(
    r"^(treatment|payment|operations)(( and | or | )(treatment|payment|operations))+$"
)


def norm_purpose(text: str) -> str:
    word = " ".join(text.strip().casefold().split())
    word = word.replace("healthcare", "health care")
    if word in ("health care operations", "operations"):
        return "operations"
    return word


def purposes(text: str) -> set[str]:
    """The purposes a consent lists (comma or semicolon list; "TPO" is all three)."""
    found: set[str] = set()
    for part in re.split(r"[,;]", text):
        item = norm_purpose(part).replace("health care operations", "operations")
        if item.startswith("and "):
            item = item[4:]
        if not item:
            continue
        if item in ("tpo", "treatment payment and operations"):
            found.update(TPO)
        elif _TPO_ITEM.match(item):
            found.update(w for w in item.split() if w in TPO)
        else:
            found.add(norm_purpose(item))
    return found


def is_tpo(purpose: str) -> bool:
    """Treatment, payment or health care operations (one of them, or a list of them)."""
    wanted = purposes(purpose)
    return bool(wanted) and wanted <= set(TPO)


# -- releases ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    """Who receives what, asked by the UI/CLI before any export."""

    kind: str  # "internal" | "client_copy" | "disclosure"
    recipient: str = ""  # a recipient directory name when kind == "disclosure"
    purpose: str = ""
    recipient_id: int | None = None  # the directory record, when the UI picked it

    def describe(self) -> str:
        if self.kind == "disclosure":
            return f"Disclosure to {self.recipient} for {self.purpose}"
        return KIND_LABELS.get(self.kind, self.kind)


INTERNAL = Release("internal", purpose="internal use")
CLIENT_COPY = Release("client_copy", purpose="client's own copy")


class ConsentRequired(UserError):
    """A record would leave the clinic without a valid consent or authorization covering it.

    `leave_out` lists the categories that, left out of the document, would make the release
    allowed (only those the caller said it can honestly leave out)."""

    title = "Consent needed"

    def __init__(self, message: str, leave_out: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.leave_out = leave_out


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


def recipient_matches(consent: Consent, recipient: Recipient) -> bool:
    """The consent names this directory record, or a class the record belongs to."""
    if consent.recipient_class:
        return recipient.type in recipients.CLASS_TYPES.get(consent.recipient_class, frozenset())
    if consent.recipient_id is not None:
        return consent.recipient_id == recipient.id
    return recipients.name_key(consent.recipient_name) == recipient.name_key


def purpose_matches(consent: Consent, purpose: str) -> bool:
    """Every purpose of the release is one the consent lists."""
    wanted = purposes(purpose)
    return bool(wanted) and wanted <= purposes(consent.purpose)


def missing_categories(consent: Consent, needed: Iterable[str]) -> frozenset[str]:
    covered = stored_categories(consent.info_categories)
    if ALL in covered:
        return frozenset()
    return frozenset(needed) - covered


def _who(name: str, organization: str) -> str:
    if organization and organization.casefold() != name.casefold():
        return f"{name}, {organization}" if name else organization
    return name


def consent_scope(consent: Consent) -> str:
    """The consent's scope in one plain sentence (2.32(b): goes with every disclosure)."""
    kind = CONSENT_KIND_LABELS.get(consent.kind, consent.kind)
    if consent.recipient_class:
        who = recipients.CLASS_LABELS.get(consent.recipient_class, consent.recipient_class)
    else:
        who = _who(consent.recipient_name, consent.recipient_org)
    until = (
        f"until {consent.expiry_date.isoformat()}"
        if consent.expiry_date
        else f"until {consent.expiry_event or 'revoked'}"
    )
    signed = consent.signed_date.isoformat() if consent.signed_date else "unsigned"
    return (
        f"{kind} no. {consent.id}, signed {signed}, valid {until}: permits disclosure of "
        f"{categories_text(stored_categories(consent.info_categories))} to {who} for "
        f"{consent.purpose}. The client may revoke it at any time, in writing or orally, "
        "except where it has already been acted on."
    )


@dataclass(frozen=True)
class Decision:
    client_id: int
    mrn: str
    part2: bool
    categories: frozenset[str]
    consent_id: int | None
    scope: str = ""  # the consent's scope sentence, when one was used


@dataclass(frozen=True)
class ReleasePlan:
    """What the gate allowed: one decision per client, and the recipient record."""

    release: Release
    decisions: tuple[Decision, ...]
    recipient_id: int | None = None
    recipient_name: str = ""
    recipient_org: str = ""
    recipient_address: str = ""
    on: date | None = None
    leave_out: tuple[str, ...] = field(default_factory=tuple)

    @property
    def has_part2(self) -> bool:
        return any(d.part2 for d in self.decisions)

    def notice(self) -> tuple[str, ...]:
        """The lines every disclosed document carries: who received it and why, what it
        holds, the consent's scope (2.32(b)) and, for Part 2 records, the 2.32 notice.
        Empty for internal use and the client's own copy."""
        if self.release.kind != "disclosure":
            return ()
        who = _who(self.recipient_name, self.recipient_org)
        lines = [
            f"Disclosed on {self.on.isoformat() if self.on else ''} to {who}"
            + (f", {self.recipient_address}" if self.recipient_address else "")
            + f", for {self.release.purpose}.",
        ]
        cats: set[str] = set()
        for d in self.decisions:
            cats |= d.categories
        lines.append(f"This document contains: {categories_text(cats)}.")
        if self.leave_out:
            left = categories_text(self.leave_out)
            lines.append(f"Left out because the consent does not cover it: {left}.")
        scopes: dict[str, list[str]] = {}
        for d in self.decisions:
            if d.scope:
                scopes.setdefault(d.scope, []).append(d.mrn)
        many = len(self.decisions) > 1
        for scope, mrns in scopes.items():
            lines.append(
                ("Client " + ", ".join(mrns) + ": " if many else "Released under ") + scope
            )
        plain = [d.mrn for d in self.decisions if not d.scope]
        if plain:
            lines.append(
                ("Client " + ", ".join(plain) + ": " if many else "")
                + "released for treatment, payment or health care operations as HIPAA "
                "permits (45 CFR 164.506); no authorization is needed."
            )
        if self.has_part2:
            from iopdesk.reports import PART2_NOTICE, PART2_NOTICE_FULL

            lines.append(PART2_NOTICE)
            lines.append(PART2_NOTICE_FULL)
        return tuple(lines)


def check_release(release: Release) -> Release:
    if release.kind not in KINDS:
        raise ValidationError(f"Unknown release kind '{release.kind}'.")
    if release.kind == "disclosure":
        fields = {}
        if not release.recipient.strip() and release.recipient_id is None:
            fields["recipient"] = "Who receives it?"
        if not release.purpose.strip():
            fields["purpose"] = "For what purpose?"
        if fields:
            raise ValidationError(
                "A disclosure needs the recipient (from the recipient directory) and the purpose.",
                fields,
            )
        return Release(
            "disclosure", release.recipient.strip(), release.purpose.strip(), release.recipient_id
        )
    return release


def _recipient(session: Session, release: Release) -> Recipient:
    if release.recipient_id is not None:
        found = session.get(Recipient, release.recipient_id)
        if found is None:
            raise NotFoundError("That recipient is no longer in the directory.")
        return found
    return recipients.resolve_in(session, release.recipient)


def _decide(
    client: Client,
    consents: Sequence[Consent],
    release: Release,
    recipient: Recipient,
    needed: frozenset[str],
    on: date,
) -> tuple[Consent | None, str, frozenset[str]]:
    """(consent used, "" when allowed else why not, categories missing from the best valid
    consent covering recipient and purpose)."""
    kind = "part2" if client.part2 else "hipaa"
    if not client.part2 and is_tpo(release.purpose):
        return None, "", frozenset()
    covering = [
        c
        for c in consents
        if c.kind == kind
        and recipient_matches(c, recipient)
        and purpose_matches(c, release.purpose)
    ]
    valid = [c for c in covering if not consent_problem(c, on)]
    for c in valid:
        if not missing_categories(c, needed):
            return c, "", frozenset()
    law = (
        "is protected by 42 CFR Part 2 and"
        if client.part2
        else "needs a HIPAA authorization (45 CFR 164.508) for a purpose other than "
        "treatment, payment or health care operations, and"
    )
    if valid:
        missing = min((missing_categories(c, needed) for c in valid), key=len)
        return (
            None,
            f"{law} the {CONSENT_KIND_LABELS[kind]} on file does not cover: "
            f"{categories_text(missing)}",
            missing,
        )
    if covering:
        return (
            None,
            f"{law} the {CONSENT_KIND_LABELS[kind]} on file for them "
            + consent_problem(covering[0], on),
            frozenset(),
        )
    other_kind = [
        c
        for c in consents
        if c.kind != kind
        and recipient_matches(c, recipient)
        and purpose_matches(c, release.purpose)
        and not consent_problem(c, on)
    ]
    if other_kind and client.part2:
        return (
            None,
            (f"{law} only a HIPAA authorization is on file; a 42 CFR Part 2 consent is needed"),
            frozenset(),
        )
    if consents:
        return None, f"{law} no consent on file names this recipient and purpose", frozenset()
    return None, f"{law} there is no consent on file", frozenset()


def plan_release(
    session: Session,
    client_ids: Iterable[int] | Mapping[int, Iterable[str]],
    release: Release,
    categories: Iterable[str] = (),
    *,
    reducible: Mapping[str, str] | None = None,
    left_out: Iterable[str] = (),
) -> ReleasePlan:
    """Decide the release for every client (nothing written). `client_ids` may map each
    client to the categories of its part of the document; `categories` applies to all.
    `reducible` maps a category the document can honestly leave out to how to ask for that
    (e.g. {"medications": "--leave-out medications"}); the refusal then offers it.
    Raises ConsentRequired naming every refused client and what is missing."""
    release = check_release(release)
    on = clinic_today(session)
    common = frozenset(categories)
    if isinstance(client_ids, Mapping):
        needed_by = {cid: frozenset(cats) | common for cid, cats in client_ids.items()}
    else:
        needed_by = {cid: common for cid in client_ids}
    ids = sorted(needed_by)
    clients = (
        {c.id: c for c in session.exec(select(Client).where(col(Client.id).in_(ids))).all()}
        if ids
        else {}
    )
    recipient = _recipient(session, release) if release.kind == "disclosure" else None
    consents_by: dict[int, list[Consent]] = {}
    if recipient is not None and ids:
        for c in session.exec(
            select(Consent)
            .where(col(Consent.client_id).in_(ids))
            .order_by(col(Consent.signed_date).desc(), col(Consent.id).desc())
        ).all():
            consents_by.setdefault(c.client_id, []).append(c)
    decisions: list[Decision] = []
    refused: list[tuple[Client, str, frozenset[str]]] = []
    for cid in ids:
        client = clients.get(cid)
        if client is None:
            raise NotFoundError("That client record does not exist.")
        needed = needed_by[cid]
        if recipient is None:
            decisions.append(Decision(cid, client.mrn, client.part2, needed, None))
            continue
        consent, why, missing = _decide(
            client, consents_by.get(cid, []), release, recipient, needed, on
        )
        if why:
            refused.append((client, why, missing))
            continue
        decisions.append(
            Decision(
                cid,
                client.mrn,
                client.part2,
                needed,
                consent.id if consent else None,
                consent_scope(consent) if consent else "",
            )
        )
    if refused:
        raise _refusal(refused, release, recipient, reducible or {})
    return ReleasePlan(
        release,
        tuple(decisions),
        recipient.id if recipient else None,
        recipient.name if recipient else "",
        recipient.organization if recipient else "",
        recipient.address if recipient else "",
        on,
        tuple(c for c in CATEGORIES if c in set(left_out)),
    )


def _refusal(
    refused: list[tuple[Client, str, frozenset[str]]],
    release: Release,
    recipient: Recipient | None,
    reducible: Mapping[str, str],
) -> ConsentRequired:
    who = recipient.name if recipient else release.recipient
    parts = [
        f"Nothing was written: the release to {who} for {release.purpose} is not covered for "
        f"{len(refused)} client(s)."
    ]
    shown = [f"Client {client.mrn} {why}" for client, why, _ in refused[:50]]
    if len(refused) > 50:
        shown.append(f"{len(refused) - 50} more clients")
    parts.append("; ".join(shown) + ".")
    missing_all: set[str] = set()
    for _, _, missing in refused:
        missing_all |= missing
    leave_out: tuple[str, ...] = ()
    if reducible and all(missing for _, _, missing in refused) and missing_all <= set(reducible):
        leave_out = tuple(c for c in CATEGORIES if c in missing_all)
        hints = "; ".join(reducible[c] for c in leave_out)
        parts.append(
            f"The consent covers the rest: leave out {categories_text(leave_out)} ({hints})."
        )
    parts.append(
        "Record a signed consent or authorization covering this recipient, purpose and "
        "information in the client's Privacy tab, or choose internal use or the client's "
        "own copy."
    )
    return ConsentRequired(" ".join(parts), leave_out)


def record(
    session: Session, actor: Actor, plan: ReleasePlan, what: str, now: datetime | None = None
) -> list[Disclosure]:
    rows = [
        Disclosure(
            client_id=d.client_id,
            consent_id=d.consent_id,
            disclosed_at=now or utcnow(),
            user_id=actor.user_id,
            kind=plan.release.kind,
            recipient=plan.recipient_name or plan.release.recipient,
            recipient_id=plan.recipient_id,
            recipient_address=plan.recipient_address,
            purpose=plan.release.purpose,
            what_sent=what[:500],
            categories=",".join(c for c in CATEGORIES if c in d.categories),
        )
        for d in plan.decisions
    ]
    session.add_all(rows)
    session.flush()
    return rows


def authorize(
    session: Session,
    actor: Actor,
    client_id: int,
    release: Release,
    what: str,
    categories: Iterable[str] = (),
    *,
    left_out: Iterable[str] = (),
) -> Disclosure:
    """Check and record one client's release inside the caller's transaction.

    `what` names what was sent without PHI (e.g. "progress note 42", "aftercare packet").
    Raises ConsentRequired when the release is not covered."""
    plan = plan_release(session, [client_id], release, categories, left_out=left_out)
    (row,) = record(session, actor, plan, what)
    audit.record(
        session,
        actor,
        audit.Action.DISCLOSE,
        entity="disclosure",
        entity_id=row.id,
        client_id=client_id,
        detail=f"{plan.release.kind}; consent {row.consent_id or '-'}; {what}; "
        f"categories {row.categories or '-'}",
    )
    return row


def authorize_many(
    session: Session,
    actor: Actor,
    client_ids: Iterable[int] | Mapping[int, Iterable[str]],
    release: Release,
    what: str,
    categories: Iterable[str] = (),
) -> list[Disclosure]:
    """The same for a report over many clients: all are checked before anything is written
    (one refusal stops the whole export); one disclosure row per client, one audit event."""
    plan = plan_release(session, client_ids, release, categories)
    rows = record(session, actor, plan, what)
    if rows:
        audit.record(
            session,
            actor,
            audit.Action.DISCLOSE,
            entity="disclosure",
            entity_id=f"{rows[0].id}-{rows[-1].id}" if len(rows) > 1 else rows[0].id,
            client_id=rows[0].client_id if len(rows) == 1 else None,
            detail=f"{plan.release.kind}; {len(rows)} clients; "
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


def _consent_used(c: Consent | None) -> str:
    if c is None:
        return ""
    signed = c.signed_date.isoformat() if c.signed_date else "unsigned"
    return f"{CONSENT_KIND_LABELS.get(c.kind, c.kind)} no. {c.id}, signed {signed}"


def list_disclosures(
    db: Database, actor: Actor, client_id: int, *, include_internal: bool = True
) -> list[DisclosureRow]:
    """A client's releases, newest first."""
    require(actor, Perm.CLIENT_VIEW)
    with db.session() as session:
        from iopdesk.services.clients import ChartSection, require_section_in

        require_section_in(session, actor, client_id, ChartSection.PRIVACY, entity="disclosure")
        q = (
            select(Disclosure, User.username, Consent)
            .join(User, User.id == Disclosure.user_id)  # type: ignore[arg-type]
            .join(Consent, Consent.id == Disclosure.consent_id, isouter=True)  # type: ignore[arg-type]
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
                d.recipient_address,
                _consent_used(c),
                categories_text(stored_categories(d.categories)) if d.categories else "",
            )
            for d, username, c in session.exec(
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
