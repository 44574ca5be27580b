"""Drug screens (issue 20 item 4): specimen, collection, each substance's result, review.

- A screen records the collection date and time, whether collection was observed, the
  specimen (urine, oral fluid, breath, blood, hair, sweat), the panel, point-of-care or lab
  (with the lab's name), who collected it and who reviewed it. Each substance tested has one
  result: negative, positive, dilute or refused.
- Reviewing (a clinician, once) marks the results read; an unreviewed positive is the work a
  clinician still owes. Wrong entries are voided with a reason, never deleted.
- Drug screen results are 42 CFR Part 2 substance-use information: the records are labelled
  with the information category INFORMATION_CATEGORY ("drug_screens"), which a consent must
  name before they are disclosed (see `disclosure_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

from sqlmodel import Session, col, select

from iopdesk.db import Database
from iopdesk.errors import NotFoundError, PermissionDenied, UserError, ValidationError
from iopdesk.models import Client, DrugScreen, DrugScreenResult, Staff, utcnow
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.clients import require_clinical_in
from iopdesk.services.clinic import clinic_today
from iopdesk.services.declare import Audited, about, service
from iopdesk.services.permissions import Perm, require
from iopdesk.services.records import update_versioned

INFORMATION_CATEGORY = "drug_screens"
RESULTS = ("negative", "positive", "dilute", "refused")
SPECIMENS = ("urine", "oral fluid", "breath", "blood", "hair", "sweat")
TESTING = {"point_of_care": "Point of care", "lab": "Laboratory"}
COMMON_SUBSTANCES = (
    "Alcohol (EtG)", "Amphetamines", "Barbiturates", "Benzodiazepines", "Buprenorphine",
    "Cocaine", "Fentanyl", "Methadone", "Methamphetamine", "MDMA", "Opiates", "Oxycodone",
    "PCP", "THC", "Tramadol", "Xylazine",
)  # fmt: skip


@dataclass(frozen=True)
class ResultInput:
    substance: str
    result: str


@dataclass
class ScreenInput:
    collected_date: date
    collected_time: time | None = None
    observed: bool = False
    specimen: str = "urine"
    panel: str = ""
    testing: str = "point_of_care"
    lab_name: str = ""
    results: list[ResultInput] = field(default_factory=list)
    comment: str = ""


@dataclass(frozen=True)
class ScreenInfo:
    id: int
    version: int
    client_id: int
    collected_date: date
    collected_time: time | None
    observed: bool
    specimen: str
    panel: str
    testing: str
    lab_name: str
    results: tuple[ResultInput, ...]
    collected_by: str
    reviewed_by: str
    reviewed_at: datetime | None
    comment: str
    category: str = INFORMATION_CATEGORY

    @property
    def summary(self) -> str:
        """One line for a timeline: positives first, else "all negative"."""
        flagged = [f"{r.substance} {r.result}" for r in self.results if r.result != "negative"]
        if not self.results:
            return "No results"
        return ", ".join(flagged) if flagged else "All negative"

    @property
    def any_positive(self) -> bool:
        return any(r.result == "positive" for r in self.results)


def _check(session: Session, actor: Actor, client_id: int, what: str) -> None:
    if session.get(Client, client_id) is None:
        raise NotFoundError("That client record does not exist.")
    require_clinical_in(session, actor, client_id, entity="drug_screen", entity_id="", what=what)


def _staff_name(session: Session, staff_id: int | None) -> str:
    if staff_id is None:
        return ""
    s = session.get(Staff, staff_id)
    return f"{s.first_name} {s.last_name}" if s else ""


def _info(session: Session, s: DrugScreen) -> ScreenInfo:
    results = session.exec(
        select(DrugScreenResult)
        .where(DrugScreenResult.screen_id == s.id)
        .order_by(col(DrugScreenResult.id))
    ).all()
    return ScreenInfo(
        s.id or 0, s.version, s.client_id, s.collected_date, s.collected_time, s.observed,
        s.specimen, s.panel, s.testing, s.lab_name,
        tuple(ResultInput(r.substance, r.result) for r in results),
        _staff_name(session, s.collected_by), _staff_name(session, s.reviewed_by),
        s.reviewed_at, s.comment,
    )  # fmt: skip


def validate(data: ScreenInput, today: date) -> None:
    errors: dict[str, str] = {}
    if data.collected_date > today:
        errors["collected_date"] = "The collection date cannot be in the future."
    if data.specimen not in SPECIMENS:
        errors["specimen"] = "Choose the specimen: " + ", ".join(SPECIMENS) + "."
    if data.testing not in TESTING:
        errors["testing"] = "Choose point of care or laboratory."
    elif data.testing == "lab" and not data.lab_name.strip():
        errors["lab_name"] = "Enter the laboratory's name."
    if not data.panel.strip():
        errors["panel"] = "Enter the panel tested (for example 12-panel cup)."
    if not data.results:
        errors["results"] = "Enter at least one result (use 'refused' when the client refused)."
    seen: set[str] = set()
    for r in data.results:
        name = r.substance.strip()
        if not name:
            errors["results"] = "Each result needs the substance tested."
        elif r.result not in RESULTS:
            errors["results"] = (
                f"The result for {name} must be negative, positive, dilute or refused."
            )
        elif name.lower() in seen:
            errors["results"] = f"{name} is listed twice."
        seen.add(name.lower())
    if errors:
        first = next(iter(errors.values()))
        raise ValidationError(first, errors)


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.CREATE, "drug_screen"))
def record_screen(session: Session, actor: Actor, client_id: int, data: ScreenInput) -> ScreenInfo:
    _check(session, actor, client_id, "record their drug screens")
    validate(data, clinic_today(session))
    s = DrugScreen(
        client_id=client_id,
        collected_date=data.collected_date,
        collected_time=data.collected_time,
        observed=data.observed,
        specimen=data.specimen,
        panel=data.panel.strip(),
        testing=data.testing,
        lab_name=data.lab_name.strip() if data.testing == "lab" else "",
        collected_by=actor.staff_id,
        comment=data.comment.strip(),
    )
    session.add(s)
    session.flush()
    for r in data.results:
        session.add(
            DrugScreenResult(
                screen_id=s.id or 0,
                substance=r.substance.strip(),
                result=r.result,
            )
        )
    session.flush()
    about(session, entity_id=s.id, client_id=client_id, detail=f"{len(data.results)} results")
    return _info(session, s)


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.UPDATE, "drug_screen"))
def review_screen(
    session: Session, actor: Actor, screen_id: int, expected_version: int
) -> ScreenInfo:
    """A clinician marks the results reviewed (once)."""
    if actor.staff_id is None:
        raise PermissionDenied("Your user account is not linked to a staff record.")
    s = session.get(DrugScreen, screen_id)
    if s is None or s.voided_at is not None:
        raise NotFoundError("That drug screen does not exist.")
    _check(session, actor, s.client_id, "review their drug screens")
    if s.reviewed_at is not None:
        raise UserError("This drug screen was already reviewed.")
    client_id = s.client_id
    updated = update_versioned(
        session, actor, DrugScreen, screen_id, expected_version,
        {"reviewed_by": actor.staff_id, "reviewed_at": utcnow()}, what="This drug screen",
    )  # fmt: skip
    about(session, entity_id=screen_id, client_id=client_id, detail="reviewed")
    return _info(session, updated)


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.UPDATE, "drug_screen"))
def void_screen(
    session: Session, actor: Actor, screen_id: int, expected_version: int, reason: str
) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give a reason for voiding the screen.", {"reason": "Required."})
    s = session.get(DrugScreen, screen_id)
    if s is None or s.voided_at is not None:
        raise NotFoundError("That drug screen does not exist.")
    _check(session, actor, s.client_id, "change their drug screens")
    client_id = s.client_id
    update_versioned(
        session, actor, DrugScreen, screen_id, expected_version,
        {"voided_at": utcnow(), "voided_by": actor.user_id, "void_reason": reason[:200]},
        what="This drug screen",
    )  # fmt: skip
    about(session, entity_id=screen_id, client_id=client_id, detail="voided")


def screens_in(session: Session, client_id: int) -> list[ScreenInfo]:
    """The client's screens, newest first (no access check: callers check)."""
    rows = session.exec(
        select(DrugScreen)
        .where(DrugScreen.client_id == client_id, col(DrugScreen.voided_at).is_(None))
        .order_by(
            col(DrugScreen.collected_date).desc(),
            col(DrugScreen.collected_time).desc(),
            col(DrugScreen.id).desc(),
        )
    ).all()
    return [_info(session, s) for s in rows]


def list_screens(db: Database, actor: Actor, client_id: int) -> list[ScreenInfo]:
    """The chart's timeline (newest first); reading is audited."""
    require(actor, Perm.CLINICAL_VIEW)
    with db.session() as session:
        _check(session, actor, client_id, "see their drug screens")
        rows = screens_in(session, client_id)
        audit.record(
            session, actor, audit.Action.READ, entity="drug_screen", client_id=client_id,
            detail=f"{len(rows)} drug screens",
        )  # fmt: skip
        return rows


def disclosure_rows(
    session: Session, client_id: int, first: date | None = None, last: date | None = None
) -> list[tuple[str, list[str]]]:
    """The client's screens as (category, text lines) for a document that includes the
    "drug_screens" information category; the caller's consent check decides whether it may."""
    lines = []
    for s in reversed(screens_in(session, client_id)):
        if (first and s.collected_date < first) or (last and s.collected_date > last):
            continue
        when = f"{s.collected_date:%m/%d/%Y}" + (
            f" {s.collected_time:%H:%M}" if s.collected_time else ""
        )
        results = "; ".join(f"{r.substance}: {r.result}" for r in s.results)
        lines.append(
            f"{when} {s.specimen} ({'observed' if s.observed else 'not observed'}), "
            f"{s.panel}, {TESTING[s.testing]}"
            + (f" {s.lab_name}" if s.lab_name else "")
            + f": {results}"
            + (f"; reviewed by {s.reviewed_by}" if s.reviewed_by else "; not reviewed")
        )
    return [(INFORMATION_CATEGORY, lines)]
