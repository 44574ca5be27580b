"""42 CFR 2.31 consents: record, attach the signed form (kept in the encrypted database),
revoke, list with status, and print the consent form from a template."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, UserError, ValidationError
from iopdesk.models import Client, Clinic, Consent, utcnow
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import clinic_today
from iopdesk.services.disclosures import consent_status
from iopdesk.services.permissions import Perm, require
from iopdesk.services.records import update_versioned

MAX_FORM_BYTES = 20 * 1024 * 1024
INFO_CATEGORIES = (
    "Attendance and participation",
    "Diagnosis",
    "Treatment plan and progress",
    "Progress notes",
    "Medications",
    "Drug screen results",
    "Discharge summary and aftercare plan",
    "Billing and insurance information",
)
_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


@dataclass(frozen=True)
class ConsentInput:
    recipient_name: str
    purpose: str
    signed_date: date | None
    recipient_org: str = ""
    info_categories: tuple[str, ...] = ()
    expiry_date: date | None = None
    expiry_event: str = ""


@dataclass(frozen=True)
class ConsentInfo:
    id: int
    client_id: int
    recipient_name: str
    recipient_org: str
    purpose: str
    info_categories: tuple[str, ...]
    signed_date: date | None
    expiry_date: date | None
    expiry_event: str
    revoked_date: date | None
    has_form: bool
    form_filename: str
    status: str
    version: int

    @property
    def recipient(self) -> str:
        return ", ".join(p for p in (self.recipient_name, self.recipient_org) if p)

    @property
    def expires(self) -> str:
        if self.expiry_date:
            return self.expiry_date.isoformat()
        return self.expiry_event


def _info(c: Consent, today: date) -> ConsentInfo:
    return ConsentInfo(
        id=c.id or 0,
        client_id=c.client_id,
        recipient_name=c.recipient_name,
        recipient_org=c.recipient_org,
        purpose=c.purpose,
        info_categories=tuple(p.strip() for p in c.info_categories.split(",") if p.strip()),
        signed_date=c.signed_date,
        expiry_date=c.expiry_date,
        expiry_event=c.expiry_event,
        revoked_date=c.revoked_date,
        has_form=c.form_data is not None,
        form_filename=c.form_filename,
        status=consent_status(c, today),
        version=c.version,
    )


def _validate(data: ConsentInput) -> dict[str, Any]:
    fields: dict[str, str] = {}
    if not data.recipient_name.strip() and not data.recipient_org.strip():
        fields["recipient_name"] = "Name the person or organization that may receive records."
    if not data.purpose.strip():
        fields["purpose"] = "Say what the disclosure is for (e.g. payment, treatment)."
    if not data.expiry_date and not data.expiry_event.strip():
        fields["expiry_date"] = "A Part 2 consent needs an expiry date or event."
    if data.signed_date and data.expiry_date and data.expiry_date < data.signed_date:
        fields["expiry_date"] = "The consent cannot expire before it was signed."
    if any("," in c for c in data.info_categories):
        fields["info_categories"] = "Categories cannot contain commas."
    if fields:
        raise ValidationError(next(iter(fields.values())), fields)
    return {
        "recipient_name": data.recipient_name.strip() or data.recipient_org.strip(),
        "recipient_org": data.recipient_org.strip(),
        "purpose": data.purpose.strip(),
        "info_categories": ",".join(c.strip() for c in data.info_categories if c.strip()),
        "signed_date": data.signed_date,
        "expiry_date": data.expiry_date,
        "expiry_event": data.expiry_event.strip(),
    }


def add_consent(db: Database, actor: Actor, client_id: int, data: ConsentInput) -> ConsentInfo:
    require(actor, Perm.CLIENT_EDIT)
    values = _validate(data)
    with db.session() as session:
        if session.get(Client, client_id) is None:
            raise NotFoundError("That client record does not exist.")
        consent = Consent(
            client_id=client_id, created_by=actor.user_id, updated_by=actor.user_id, **values
        )
        session.add(consent)
        session.flush()
        audit.record(
            session,
            actor,
            audit.Action.CONSENT,
            entity="consent",
            entity_id=consent.id,
            client_id=client_id,
            detail="recorded" + ("" if consent.signed_date else " (unsigned)"),
        )
        return _info(consent, clinic_today(session))


def update_consent(
    db: Database, actor: Actor, consent_id: int, expected_version: int, data: ConsentInput
) -> ConsentInfo:
    """Correct a consent's details (e.g. enter the signing date once it is signed)."""
    require(actor, Perm.CLIENT_EDIT)
    values = _validate(data)
    with db.session() as session:
        consent = update_versioned(
            session, actor, Consent, consent_id, expected_version, values, what="This consent"
        )
        audit.record(
            session,
            actor,
            audit.Action.CONSENT,
            entity="consent",
            entity_id=consent_id,
            client_id=consent.client_id,
            detail="updated",
        )
        return _info(consent, clinic_today(session))


def revoke_consent(
    db: Database, actor: Actor, consent_id: int, expected_version: int, on: date | None = None
) -> ConsentInfo:
    """The client withdrew the consent (2.31(a)(6)); nothing may go out under it from `on`."""
    require(actor, Perm.CLIENT_EDIT)
    with db.session() as session:
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
        audit.record(
            session,
            actor,
            audit.Action.CONSENT,
            entity="consent",
            entity_id=consent_id,
            client_id=consent.client_id,
            detail=f"revoked {day.isoformat()}",
            flagged=False,
        )
        return _info(consent, clinic_today(session))


def sniff_mime(data: bytes) -> str:
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    return ""


def attach_form(
    db: Database, actor: Actor, consent_id: int, source: Path | str | bytes, filename: str = ""
) -> ConsentInfo:
    """Store the scanned signed form (PDF or image) inside the encrypted database."""
    require(actor, Perm.CLIENT_EDIT)
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
    with db.session() as session:
        consent = session.get(Consent, consent_id)
        if consent is None:
            raise NotFoundError("That consent does not exist.")
        consent.form_data = data
        consent.form_mime = mime
        consent.form_filename = Path(filename).name[:200] or "consent-form"
        consent.version += 1
        consent.updated_at = utcnow()
        consent.updated_by = actor.user_id
        session.add(consent)
        audit.record(
            session,
            actor,
            audit.Action.CONSENT,
            entity="consent",
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
    all_categories: tuple[str, ...] = INFO_CATEGORIES


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
        )
        if consent is None:
            return base
        info = _info(consent, clinic_today(session))
        return ConsentFormData(
            **{
                **base.__dict__,
                "recipient_name": info.recipient_name,
                "recipient_org": info.recipient_org,
                "purpose": info.purpose,
                "info_categories": info.info_categories,
                "expiry": info.expires,
                "signed_date": info.signed_date,
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
    for client_id, admitted, payer in rows:
        if client_id is None or client_id in seen or payer.lower().startswith("self"):
            continue
        seen.add(client_id)
        signed = admitted or today - timedelta(days=30)
        added.append(
            Consent(
                client_id=client_id,
                recipient_name=payer,
                purpose="treatment, payment and health care operations",
                info_categories="Attendance and participation,Diagnosis,"
                "Billing and insurance information",
                signed_date=signed,
                expiry_date=signed + timedelta(days=365),
                created_by=user_id,
                updated_by=user_id,
            )
        )
        if len(seen) == 1:
            added.append(
                Consent(
                    client_id=client_id,
                    recipient_name="Dr. Maria Lopez",
                    recipient_org="Lakeside Family Medicine",
                    purpose="coordination of care",
                    info_categories="Diagnosis,Medications",
                    signed_date=signed - timedelta(days=400),
                    expiry_date=signed - timedelta(days=35),
                    created_by=user_id,
                    updated_by=user_id,
                )
            )
            added.append(
                Consent(
                    client_id=client_id,
                    recipient_name="Jordan Carter",
                    recipient_org="",
                    purpose="family involvement in treatment",
                    info_categories="Attendance and participation",
                    signed_date=signed,
                    expiry_event="end of treatment",
                    revoked_date=signed + timedelta(days=10),
                    created_by=user_id,
                    updated_by=user_id,
                )
            )
    session.add_all(added)
    session.flush()
    return len(added)
