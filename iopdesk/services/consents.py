"""42 CFR 2.31 consents: record, attach the signed form (kept in the encrypted database),
revoke, list with status, and print the consent form from a template."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, UserError, ValidationError
from iopdesk.models import Client, Clinic, Consent, Recipient
from iopdesk.reports.data.consents import ConsentFormData as ConsentFormData
from iopdesk.services import audit, recipients
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import clinic_today
from iopdesk.services.declare import Audited, about, service
from iopdesk.services.disclosures import (
    ALL,
    CATEGORIES,
    CATEGORY_TITLES,
    CONSENT_KIND_LABELS,
    CONSENT_KINDS,
    TPO,
    consent_status,
    parse_categories,
    purposes,
    stored_categories,
)
from iopdesk.services.permissions import Perm, require
from iopdesk.services.recipients import CLASS_LABELS, CLASSES
from iopdesk.services.records import update_versioned

MAX_FORM_BYTES = 20 * 1024 * 1024
INFO_CATEGORIES = tuple(CATEGORY_TITLES[c] for c in CATEGORIES)
KINDS = CONSENT_KINDS
_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


@dataclass(frozen=True)
class ConsentInput:
    """A consent as entered. The recipient is a directory record (`recipient_id`), a class
    (`recipient_class`, Part 2 TPO consents only), or a name: a name that is not yet in the
    directory is added to it (organization `recipient_org`)."""

    recipient_name: str
    purpose: str
    signed_date: date | None
    recipient_org: str = ""
    info_categories: tuple[str, ...] = ()  # codes or titles; ("all",) for everything
    expiry_date: date | None = None
    expiry_event: str = ""
    kind: str = "part2"  # part2 | hipaa
    recipient_id: int | None = None
    recipient_class: str = ""


@dataclass(frozen=True)
class ConsentInfo:
    id: int
    client_id: int
    recipient_name: str
    recipient_org: str
    purpose: str
    info_categories: tuple[str, ...]  # titles, for display
    signed_date: date | None
    expiry_date: date | None
    expiry_event: str
    revoked_date: date | None
    has_form: bool
    form_filename: str
    status: str
    version: int
    kind: str = "part2"
    recipient_id: int | None = None
    recipient_class: str = ""
    categories: tuple[str, ...] = ()  # codes

    @property
    def recipient(self) -> str:
        if self.recipient_class:
            return CLASS_LABELS.get(self.recipient_class, self.recipient_class)
        return ", ".join(p for p in (self.recipient_name, self.recipient_org) if p)

    @property
    def kind_label(self) -> str:
        return CONSENT_KIND_LABELS.get(self.kind, self.kind)

    @property
    def expires(self) -> str:
        if self.expiry_date:
            return self.expiry_date.isoformat()
        return self.expiry_event


def _info(c: Consent, today: date) -> ConsentInfo:
    codes = tuple(sorted(stored_categories(c.info_categories), key=_category_order))
    return ConsentInfo(
        id=c.id or 0,
        client_id=c.client_id,
        recipient_name=c.recipient_name,
        recipient_org=c.recipient_org,
        purpose=c.purpose,
        info_categories=tuple(CATEGORY_TITLES[x] for x in codes),
        signed_date=c.signed_date,
        expiry_date=c.expiry_date,
        expiry_event=c.expiry_event,
        revoked_date=c.revoked_date,
        has_form=c.form_data is not None,
        form_filename=c.form_filename,
        status=consent_status(c, today),
        version=c.version,
        kind=c.kind,
        recipient_id=c.recipient_id,
        recipient_class=c.recipient_class,
        categories=codes,
    )


def _category_order(code: str) -> int:
    order = (*CATEGORIES, ALL)
    return order.index(code) if code in order else len(order)


def _validate(session: Session, actor: Actor, data: ConsentInput) -> dict[str, Any]:
    fields: dict[str, str] = {}
    kind = (data.kind or "part2").strip().casefold()
    if kind in ("hipaa authorization", "hipaa_authorization"):
        kind = "hipaa"
    if kind in ("part 2", "part_2", "42 cfr part 2"):
        kind = "part2"
    if kind not in CONSENT_KINDS:
        fields["kind"] = (
            "A consent is a 42 CFR Part 2 consent (part2) or a HIPAA authorization (hipaa)."
        )
    klass = data.recipient_class.strip()
    if klass and klass not in CLASSES:
        fields["recipient_class"] = f"Recipient classes are {', '.join(CLASSES)}."
    if (
        not klass
        and data.recipient_id is None
        and not (data.recipient_name.strip() or data.recipient_org.strip())
    ):
        fields["recipient_name"] = "Name the person or organization that may receive records."
    wanted = purposes(data.purpose)
    if not data.purpose.strip():
        fields["purpose"] = "Say what the disclosure is for (e.g. payment, treatment)."
    elif klass and not wanted <= set(TPO):
        fields["purpose"] = (
            "A consent naming a class of recipients is a TPO consent: its purposes can only be "
            "treatment, payment and operations."
        )
    if not data.expiry_date and not data.expiry_event.strip():
        fields["expiry_date"] = "A consent needs an expiry date or event."
    if data.signed_date and data.expiry_date and data.expiry_date < data.signed_date:
        fields["expiry_date"] = "The consent cannot expire before it was signed."
    codes: tuple[str, ...] = ()
    if any("," in c for c in data.info_categories):
        fields["info_categories"] = "Categories cannot contain commas."
    else:
        try:
            codes = parse_categories(data.info_categories)
        except ValidationError as exc:
            fields["info_categories"] = exc.message
    if not codes and "info_categories" not in fields:
        fields["info_categories"] = "Tick the information the client agrees to release."
    if fields:
        raise ValidationError(next(iter(fields.values())), fields)
    name, org, recipient_id = data.recipient_name.strip(), data.recipient_org.strip(), None
    if klass:
        name, org = CLASS_LABELS[klass], ""
    elif data.recipient_id is not None:
        found = session.get(Recipient, data.recipient_id)
        if found is None:
            raise NotFoundError("That recipient is no longer in the directory.")
        name, org, recipient_id = found.name, found.organization, found.id
    else:
        found = recipients.find_in(session, name or org)
        if found is None:
            found = recipients.add_in(session, actor, name or org, org)
        name, org, recipient_id = found.name, found.organization or org, found.id
    return {
        "kind": kind,
        "recipient_id": recipient_id,
        "recipient_class": klass,
        "recipient_name": name,
        "recipient_org": org,
        "purpose": ", ".join(p.strip() for p in re.split(r"[,;]", data.purpose) if p.strip()),
        "info_categories": ",".join(codes),
        "signed_date": data.signed_date,
        "expiry_date": data.expiry_date,
        "expiry_event": data.expiry_event.strip(),
    }


@service(Perm.CLIENT_EDIT, audit=Audited(audit.Action.CONSENT, "consent"))
def add_consent(session: Session, actor: Actor, client_id: int, data: ConsentInput) -> ConsentInfo:
    if session.get(Client, client_id) is None:
        raise NotFoundError("That client record does not exist.")
    values = _validate(session, actor, data)
    consent = Consent(client_id=client_id, **values)
    session.add(consent)
    session.flush()
    about(
        session,
        entity_id=consent.id,
        client_id=client_id,
        detail=f"recorded ({values['kind']})" + ("" if consent.signed_date else " (unsigned)"),
    )
    return _info(consent, clinic_today(session))


@service(Perm.CLIENT_EDIT, audit=Audited(audit.Action.CONSENT, "consent"))
def update_consent(
    session: Session, actor: Actor, consent_id: int, expected_version: int, data: ConsentInput
) -> ConsentInfo:
    """Correct a consent's details (e.g. enter the signing date once it is signed)."""
    values = _validate(session, actor, data)
    consent = update_versioned(
        session, actor, Consent, consent_id, expected_version, values, what="This consent"
    )
    about(session, entity_id=consent_id, client_id=consent.client_id, detail="updated")
    return _info(consent, clinic_today(session))


@service(Perm.CLIENT_EDIT, audit=Audited(audit.Action.CONSENT, "consent"))
def revoke_consent(
    session: Session, actor: Actor, consent_id: int, expected_version: int, on: date | None = None
) -> ConsentInfo:
    """The client withdrew the consent (2.31(a)(6)); nothing may go out under it from `on`."""
    current = session.get(Consent, consent_id)
    if current is None:
        raise NotFoundError("That consent does not exist.")
    if current.revoked_date is not None:
        raise UserError(f"This consent was already revoked on {current.revoked_date}.")
    day = on or clinic_today(session)
    consent = update_versioned(
        session,
        actor,
        Consent,
        consent_id,
        expected_version,
        {"revoked_date": day},
        what="This consent",
    )
    about(
        session,
        entity_id=consent_id,
        client_id=consent.client_id,
        detail=f"revoked {day.isoformat()}",
    )
    return _info(consent, clinic_today(session))


def sniff_mime(data: bytes) -> str:
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    return ""


@service(Perm.CLIENT_EDIT, audit=Audited(audit.Action.CONSENT, "consent"))
def attach_form(
    session: Session, actor: Actor, consent_id: int, source: Path | str | bytes, filename: str = ""
) -> ConsentInfo:
    """Store the scanned signed form (PDF or image) inside the encrypted database."""
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        filename = filename or path.name
        try:
            if path.stat().st_size > MAX_FORM_BYTES:
                raise ValidationError("The scanned form is larger than 20 MB; scan it smaller.")
            data = path.read_bytes()
        except OSError as exc:
            raise UserError(f"Could not read {path.name}: {exc.strerror or exc}.") from None
    if len(data) > MAX_FORM_BYTES:
        raise ValidationError("The scanned form is larger than 20 MB; scan it smaller.")
    mime = sniff_mime(data)
    if not mime:
        raise ValidationError("Attach the signed form as a PDF or an image (PNG, JPEG, TIFF).")
    consent = session.get(Consent, consent_id)
    if consent is None:
        raise NotFoundError("That consent does not exist.")
    consent.form_data = data
    consent.form_mime = mime
    consent.form_filename = Path(filename).name[:200] or "consent-form"
    consent.version += 1
    session.add(consent)
    about(
        session,
        entity_id=consent_id,
        client_id=consent.client_id,
        detail=f"signed form attached ({mime}, {len(data)} bytes)",
    )
    session.flush()
    return _info(consent, clinic_today(session))


def get_form(db: Database, actor: Actor, consent_id: int) -> tuple[bytes, str, str]:
    """(data, mime, filename) of the attached form; viewing it is audited."""
    require(actor, Perm.CLIENT_VIEW)
    with db.session() as session:
        consent = session.get(Consent, consent_id)
        if consent is None or consent.form_data is None:
            raise NotFoundError("No signed form is attached to this consent.")
        audit.record(
            session,
            actor,
            audit.Action.READ,
            entity="consent",
            entity_id=consent_id,
            client_id=consent.client_id,
            detail="signed form viewed",
        )
        return bytes(consent.form_data), consent.form_mime, consent.form_filename


def list_consents(db: Database, actor: Actor, client_id: int) -> list[ConsentInfo]:
    require(actor, Perm.CLIENT_VIEW)
    with db.session() as session:
        from iopdesk.services.clients import ChartSection, require_section_in

        require_section_in(session, actor, client_id, ChartSection.PRIVACY, entity="consent")
        today = clinic_today(session)
        rows = session.exec(
            select(Consent)
            .where(Consent.client_id == client_id)
            .order_by(col(Consent.signed_date).desc(), col(Consent.id).desc())
        ).all()
        return [_info(c, today) for c in rows]


# ------------------------------------------------------------------------------------------
# The printable consent form
# ------------------------------------------------------------------------------------------


def consent_form_data(
    db: Database, actor: Actor, client_id: int, consent_id: int | None = None
) -> ConsentFormData:
    require(actor, Perm.CLIENT_VIEW)
    with db.session() as session:
        client = session.get(Client, client_id)
        clinic = session.exec(select(Clinic).limit(1)).first()
        if client is None or clinic is None:
            raise NotFoundError("That client record does not exist.")
        consent = session.get(Consent, consent_id) if consent_id else None
        if consent is not None and consent.client_id != client_id:
            raise NotFoundError("That consent belongs to another client.")
        name = " ".join(p for p in (client.first_name, client.middle_name, client.last_name) if p)
        base = ConsentFormData(
            clinic_name=clinic.name,
            clinic_address=clinic.address,
            clinic_phone=clinic.phone,
            client_name=name,
            client_dob=client.dob,
            mrn=client.mrn,
            all_categories=(*INFO_CATEGORIES, CATEGORY_TITLES[ALL]),
        )
        if consent is None:
            return base
        info = _info(consent, clinic_today(session))
        address = ""
        if consent.recipient_id is not None:
            rec = session.get(Recipient, consent.recipient_id)
            address = rec.address if rec else ""
        return ConsentFormData(
            **{
                **base.__dict__,
                "recipient_name": info.recipient_name,
                "recipient_org": info.recipient_org,
                "purpose": info.purpose,
                "info_categories": info.info_categories,
                "expiry": info.expires,
                "signed_date": info.signed_date,
                "kind": info.kind,
                "recipient_class": CLASS_LABELS.get(info.recipient_class, ""),
                "recipient_address": address,
            }
        )


def print_consent_form(
    db: Database, actor: Actor, client_id: int, path: Path | str, consent_id: int | None = None
) -> Path:
    """Write the consent form PDF (blank or filled from a recorded consent) for signing."""
    from iopdesk.reports.consent_form import write_pdf

    data = consent_form_data(db, actor, client_id, consent_id)
    target = Path(path).expanduser()
    if not target.parent.is_dir():
        raise ValidationError(f"The folder {target.parent} does not exist.")
    write_pdf(data, target)
    with db.session() as session:
        audit.record(
            session,
            actor,
            audit.Action.PRINT,
            entity="consent",
            entity_id=consent_id or "",
            client_id=client_id,
            detail="consent form printed",
        )
    return target


def add_demo_privacy(session: Session, today: date, user_id: int | None) -> int:
    """Demo data (no random numbers): every Part 2 client consented at admission to its
    payer for payment; the first one also has an expired and a revoked consent to show; the
    on-call clinicians ("therapist", "psychiatrist") may use emergency access."""
    from datetime import timedelta

    from iopdesk.models import Coverage, Payer, User

    for user in session.exec(
        select(User).where(col(User.username).in_(["therapist", "psychiatrist"]))
    ).all():
        user.break_glass_allowed = True
        session.add(user)

    rows = session.exec(
        select(col(Client.id), col(Client.admission_date), col(Payer.name))
        .join(Coverage, Coverage.client_id == Client.id)  # type: ignore[arg-type]
        .join(Payer, Payer.id == Coverage.payer_id)  # type: ignore[arg-type]
        .where(col(Client.part2), col(Coverage.voided_at).is_(None))
        .order_by(col(Client.id), col(Coverage.priority))
    ).all()
    seen: set[int] = set()
    added: list[Consent] = []
    directory: dict[str, Recipient] = {}

    def entry(name: str, org: str, address: str, kind: str) -> Recipient:
        key = recipients.name_key(name)
        if key not in directory:
            found = recipients.find_in(session, name)
            directory[key] = found or recipients.add_in(session, None, name, org, address, kind)
        return directory[key]

    for client_id, admitted, payer in rows:
        if client_id is None or client_id in seen or payer.lower().startswith("self"):
            continue
        seen.add(client_id)
        signed = admitted or today - timedelta(days=30)
        plan = entry(payer, payer, "PO Box 4400, Springfield, IL 62701", "health_plan")
        added.append(
            Consent(
                client_id=client_id,
                kind="part2",
                recipient_id=plan.id,
                recipient_name=plan.name,
                recipient_org=plan.organization,
                purpose="treatment, payment, operations",
                info_categories="attendance,diagnosis,billing",
                signed_date=signed,
                expiry_date=signed + timedelta(days=365),
                created_by=user_id,
                updated_by=user_id,
            )
        )
        if len(seen) == 1:
            doctor = entry(
                "Dr. Maria Lopez",
                "Lakeside Family Medicine",
                "210 Lake Street, Springfield, IL 62704",
                "provider",
            )
            added.append(
                Consent(
                    client_id=client_id,
                    kind="part2",
                    recipient_id=doctor.id,
                    recipient_name=doctor.name,
                    recipient_org=doctor.organization,
                    purpose="coordination of care",
                    info_categories="diagnosis,medications",
                    signed_date=signed - timedelta(days=400),
                    expiry_date=signed - timedelta(days=35),
                    created_by=user_id,
                    updated_by=user_id,
                )
            )
            family = entry("Jordan Carter", "", "", "family")
            added.append(
                Consent(
                    client_id=client_id,
                    kind="part2",
                    recipient_id=family.id,
                    recipient_name=family.name,
                    recipient_org="",
                    purpose="family involvement in treatment",
                    info_categories="attendance",
                    signed_date=signed,
                    expiry_event="end of treatment",
                    revoked_date=signed + timedelta(days=10),
                    created_by=user_id,
                    updated_by=user_id,
                )
            )
    # recipients a release may name without any consent on file (refused until one is signed)
    entry("Acme Corp HR", "Acme Corp", "900 Industrial Parkway, Springfield, IL 62702", "employer")
    entry("Riverbend Outpatient", "Riverbend Outpatient", "44 Elm Street, Riverbend", "provider")
    session.add_all(added)
    session.flush()
    return len(added)
