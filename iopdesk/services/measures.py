"""Outcome measures: PHQ-9 (depression) and GAD-7 (anxiety), scored from their item answers.

Scoring (Kroenke, Spitzer & Williams 2001; Spitzer et al. 2006): each item 0-3 ("not at all"
to "nearly every day"); the total is the sum. PHQ-9 item 9 asks about thoughts of death or
self-harm: any answer above 0 flags the measure for a suicide risk assessment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from iopdesk.errors import NotFoundError, ValidationError
from iopdesk.models import Client, OutcomeMeasure, Staff, utcnow
from iopdesk.services import audit
from iopdesk.services.actor import Actor
from iopdesk.services.clients import require_clinical_in
from iopdesk.services.clinic import clinic_today
from iopdesk.services.declare import Audited, about, service
from iopdesk.services.permissions import Perm
from iopdesk.services.records import update_versioned

ANSWERS = ("Not at all", "Several days", "More than half the days", "Nearly every day")


@dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    items: tuple[str, ...]
    bands: tuple[tuple[int, str], ...]  # (lowest total of the band, label), ascending

    @property
    def max_total(self) -> int:
        return 3 * len(self.items)

    def severity(self, total: int) -> str:
        label = self.bands[0][1]
        for low, name in self.bands:
            if total >= low:
                label = name
        return label


PHQ9 = Instrument(
    "PHQ-9",
    "Patient Health Questionnaire-9 (depression)",
    (
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself, or that you are a failure or have let yourself or "
        "your family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed; or the opposite, "
        "being so fidgety or restless that you have been moving around a lot more than usual",
        "Thoughts that you would be better off dead, or of hurting yourself in some way",
    ),
    (
        (0, "None-minimal"),
        (5, "Mild"),
        (10, "Moderate"),
        (15, "Moderately severe"),
        (20, "Severe"),
    ),
)
GAD7 = Instrument(
    "GAD-7",
    "Generalized Anxiety Disorder-7",
    (
        "Feeling nervous, anxious, or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid, as if something awful might happen",
    ),
    ((0, "Minimal"), (5, "Mild"), (10, "Moderate"), (15, "Severe")),
)
INSTRUMENTS: dict[str, Instrument] = {PHQ9.code: PHQ9, GAD7.code: GAD7}
SUICIDE_ITEM = 9  # PHQ-9, 1-based


@dataclass(frozen=True)
class Score:
    instrument: str
    items: tuple[int, ...]
    total: int
    severity: str
    suicide_risk: bool


@dataclass(frozen=True)
class MeasureInfo:
    id: int
    client_id: int
    instrument: str
    measure_date: date
    items: tuple[int, ...]
    total: int
    severity: str
    suicide_risk: bool
    administered_by: str
    version: int


def instrument(code: str) -> Instrument:
    found = INSTRUMENTS.get((code or "").strip().upper())
    if found is None:
        raise ValidationError(
            f"'{code}' is not a supported measure. Choose PHQ-9 or GAD-7.",
            {"instrument": "Choose PHQ-9 or GAD-7."},
        )
    return found


def score(code: str, items: Sequence[int | None]) -> Score:
    """Validate the item answers and score them; plain messages name the item at fault."""
    inst = instrument(code)
    n = len(inst.items)
    if len(items) != n:
        raise ValidationError(
            f"The {inst.code} has {n} questions; {len(items)} answers were given. Answer all {n}.",
            {"items": f"{n} answers needed."},
        )
    values: list[int] = []
    for number, value in enumerate(items, start=1):
        if value is None:
            raise ValidationError(
                f"Question {number} of the {inst.code} is not answered. Every question needs "
                "an answer from 0 (not at all) to 3 (nearly every day).",
                {f"item{number}": "Not answered."},
            )
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3:
            raise ValidationError(
                f"Question {number} of the {inst.code} has the answer {value!r}; answers go "
                "from 0 (not at all) to 3 (nearly every day).",
                {f"item{number}": "Use 0-3."},
            )
        values.append(value)
    total = sum(values)
    risk = inst is PHQ9 and values[SUICIDE_ITEM - 1] > 0
    return Score(inst.code, tuple(values), total, inst.severity(total), risk)


def _check_chart(session: Session, actor: Actor, client_id: int, entity_id: object) -> None:
    require_clinical_in(
        session,
        actor,
        client_id,
        entity="outcome_measure",
        entity_id=entity_id,
        what="see or record their outcome measures",
    )


def _info(session: Session, m: OutcomeMeasure) -> MeasureInfo:
    items = tuple(int(v) for v in m.item_scores.split(",") if v.strip() != "")
    inst = INSTRUMENTS.get(m.instrument)
    severity = inst.severity(m.total) if inst else ""
    risk = m.instrument == PHQ9.code and len(items) >= SUICIDE_ITEM and items[8] > 0
    who = ""
    if m.administered_by is not None:
        s = session.get(Staff, m.administered_by)
        who = f"{s.first_name} {s.last_name}" if s else ""
    return MeasureInfo(
        m.id or 0,
        m.client_id,
        m.instrument,
        m.measure_date,
        items,
        m.total,
        severity,
        risk,
        who,
        m.version,
    )


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.CREATE, "outcome_measure"))
def record_measure(
    session: Session,
    actor: Actor,
    client_id: int,
    code: str,
    measure_date: date,
    items: Sequence[int | None],
) -> MeasureInfo:
    """Score and store one administration; the total is always computed, never typed."""
    result = score(code, items)
    if session.get(Client, client_id) is None:
        raise NotFoundError("That client does not exist.")
    _check_chart(session, actor, client_id, "")
    if measure_date > clinic_today(session):
        raise ValidationError(
            "The date given cannot be in the future.", {"measure_date": "In the future."}
        )
    m = OutcomeMeasure(
        client_id=client_id,
        instrument=result.instrument,
        measure_date=measure_date,
        item_scores=",".join(str(v) for v in result.items),
        total=result.total,
        administered_by=actor.staff_id,
    )
    session.add(m)
    session.flush()
    about(
        session,
        entity_id=m.id,
        client_id=client_id,
        detail=result.instrument + ("; item 9 positive" if result.suicide_risk else ""),
        flagged=result.suicide_risk,
        now=True,  # the measure's row before the safety flag's
    )
    if result.suicide_risk:
        from iopdesk.services.safety import raise_flag_in

        raise_flag_in(
            session,
            actor,
            client_id,
            "phq9",
            m.id,
            f"item 9 answered {result.items[SUICIDE_ITEM - 1]}",
        )
    return _info(session, m)


@service(Perm.CLINICAL_VIEW, audit=Audited(audit.Action.READ, "outcome_measure"))
def list_measures(
    session: Session, actor: Actor, client_id: int, code: str | None = None
) -> list[MeasureInfo]:
    """The client's measures, oldest first (a series for the chart); the view is audited."""
    wanted = instrument(code).code if code else None
    _check_chart(session, actor, client_id, "")
    query = select(OutcomeMeasure).where(
        OutcomeMeasure.client_id == client_id, col(OutcomeMeasure.voided_at).is_(None)
    )
    if wanted:
        query = query.where(OutcomeMeasure.instrument == wanted)
    rows = session.exec(
        query.order_by(col(OutcomeMeasure.measure_date), col(OutcomeMeasure.id))
    ).all()
    about(
        session,
        entity_id="",
        client_id=client_id,
        detail=f"{len(rows)} measures" + (f" {wanted}" if wanted else ""),
    )
    return [_info(session, m) for m in rows]


def measures_in(session: Session, client_id: int) -> list[MeasureInfo]:
    """The client's measures, oldest first, for a caller that has checked access and audits
    the reading itself (plans.chart_plans); the staff named are read in one query."""
    rows = session.exec(
        select(OutcomeMeasure)
        .where(OutcomeMeasure.client_id == client_id, col(OutcomeMeasure.voided_at).is_(None))
        .order_by(col(OutcomeMeasure.measure_date), col(OutcomeMeasure.id))
    ).all()
    ids = sorted({m.administered_by for m in rows if m.administered_by is not None})
    # held while the names are read (the session's identity map keeps weak references)
    staff = session.exec(select(Staff).where(col(Staff.id).in_(ids))).all() if ids else []
    infos = [_info(session, m) for m in rows]
    del staff
    return infos


def series(measures: Sequence[MeasureInfo]) -> dict[str, list[tuple[date, int]]]:
    """Totals over time per instrument, from list_measures() (plain data for a chart)."""
    result: dict[str, list[tuple[date, int]]] = {code: [] for code in INSTRUMENTS}
    for m in sorted(measures, key=lambda m: (m.measure_date, m.id)):
        result.setdefault(m.instrument, []).append((m.measure_date, m.total))
    return result


@service(Perm.CLINICAL_WRITE, audit=Audited(audit.Action.UPDATE, "outcome_measure"))
def void_measure(
    session: Session, actor: Actor, measure_id: int, version: int, reason: str
) -> None:
    """A measure entered in error is voided with a reason (never deleted)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give a reason for voiding the measure.", {"reason": "Required."})
    m = session.get(OutcomeMeasure, measure_id)
    if m is None or m.voided_at is not None:
        raise NotFoundError("That outcome measure does not exist.")
    _check_chart(session, actor, m.client_id, measure_id)
    update_versioned(
        session,
        actor,
        OutcomeMeasure,
        measure_id,
        version,
        {"voided_at": utcnow(), "voided_by": actor.user_id, "void_reason": reason[:200]},
        what="This outcome measure",
    )
    about(session, entity_id=measure_id, client_id=m.client_id, detail="voided")
