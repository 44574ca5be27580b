"""PHQ-9 and GAD-7 outcome measures (issue 5 item 5): scoring, severity bands, item checks,
the series per client, permissions and audit. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import col, select

from iopdesk.errors import NotFoundError, PermissionDenied, StaleRecordError, ValidationError
from iopdesk.models import AuditEvent, Staff
from iopdesk.services import measures
from iopdesk.services.actor import Actor
from tests.conftest import Env


def items_for(total: int, n: int, last: int = 0) -> list[int]:
    """n answers summing to `total`, the last item fixed to `last`."""
    values = [0] * n
    values[-1] = last
    left = total - last
    for i in range(n - 1):
        values[i] = min(3, left)
        left -= values[i]
    assert left == 0 and sum(values) == total
    return values


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "None-minimal"),
        (4, "None-minimal"),
        (5, "Mild"),
        (9, "Mild"),
        (10, "Moderate"),
        (14, "Moderate"),
        (15, "Moderately severe"),
        (19, "Moderately severe"),
        (20, "Severe"),
        (27, "Severe"),
    ],
)
def test_phq9_bands(total: int, band: str) -> None:
    last = 3 if total == 27 else 0
    s = measures.score("PHQ-9", items_for(total, 9, last))
    assert (s.total, s.severity) == (total, band)
    assert s.suicide_risk is (last > 0)


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "Minimal"),
        (4, "Minimal"),
        (5, "Mild"),
        (9, "Mild"),
        (10, "Moderate"),
        (14, "Moderate"),
        (15, "Severe"),
        (21, "Severe"),
    ],
)
def test_gad7_bands(total: int, band: str) -> None:
    s = measures.score("gad-7", items_for(total, 7, 3 if total == 21 else 0))
    assert (s.instrument, s.total, s.severity, s.suicide_risk) == ("GAD-7", total, band, False)


def test_phq9_item9_flags_suicide_risk() -> None:
    assert measures.score("PHQ-9", [0] * 8 + [1]).suicide_risk
    assert not measures.score("PHQ-9", [3] * 8 + [0]).suicide_risk
    assert not measures.score("GAD-7", [0] * 6 + [3]).suicide_risk  # only PHQ-9 item 9


@pytest.mark.parametrize(
    ("code", "items", "message"),
    [
        ("PHQ-9", [0] * 8, "has 9 questions; 8 answers"),
        ("PHQ-9", [0] * 10, "has 9 questions; 10 answers"),
        ("GAD-7", [0] * 9, "has 7 questions; 9 answers"),
        ("PHQ-9", [0, 0, 4, 0, 0, 0, 0, 0, 0], "Question 3 of the PHQ-9 has the answer 4"),
        ("GAD-7", [0, -1, 0, 0, 0, 0, 0], "Question 2 of the GAD-7 has the answer -1"),
        ("GAD-7", [0, 0, 0, 0, 0, 0, None], "Question 7 of the GAD-7 is not answered"),
        ("GAD-7", [True, 0, 0, 0, 0, 0, 0], "Question 1"),
        ("BDI-II", [0] * 21, "not a supported measure"),
    ],
)
def test_validation_messages(code: str, items: list[int | None], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        measures.score(code, items)


def audit_rows(env: Env, after: int) -> list[AuditEvent]:
    with env.db.session() as s:
        return list(
            s.exec(
                select(AuditEvent).where(col(AuditEvent.id) > after).order_by(col(AuditEvent.id))
            ).all()
        )


def max_audit(env: Env) -> int:
    with env.db.session() as s:
        row = s.exec(select(AuditEvent.id).order_by(col(AuditEvent.id).desc())).first()
        return row or 0


def test_record_list_series_and_audit(env: Env) -> None:
    db, w = env.db, env.world
    d0 = date(2026, 9, 1)
    before = max_audit(env)
    first = measures.record_measure(db, w.therapist, w.client_own, "PHQ-9", d0, [2] * 9)
    assert (first.total, first.severity, first.suicide_risk) == (18, "Moderately severe", True)
    assert first.administered_by == "Theo Rapist"
    measures.record_measure(db, w.therapist, w.client_own, "GAD-7", d0, [1] * 7)
    later = measures.record_measure(
        db, w.therapist, w.client_own, "PHQ-9", d0 + timedelta(days=14), [1] * 8 + [0]
    )
    assert (later.total, later.severity, later.suicide_risk) == (8, "Mild", False)
    rows = audit_rows(env, before)
    assert [(e.action, e.entity, e.flagged) for e in rows] == [
        ("create", "outcome_measure", True),  # item 9 positive is flagged for review
        ("create", "risk_flag", True),  # and raises the client's suicide-risk flag
        ("create", "outcome_measure", False),
        ("create", "outcome_measure", False),
    ]
    assert all(e.client_id == w.client_own for e in rows)
    before = max_audit(env)
    listed = measures.list_measures(db, w.therapist, w.client_own)
    assert [(m.instrument, m.total) for m in listed] == [("PHQ-9", 18), ("GAD-7", 7), ("PHQ-9", 8)]
    assert listed[0].items == (2,) * 9
    assert [(e.action, e.entity) for e in audit_rows(env, before)] == [("read", "outcome_measure")]
    assert measures.series(listed) == {
        "PHQ-9": [(d0, 18), (d0 + timedelta(days=14), 8)],
        "GAD-7": [(d0, 7)],
    }
    phq = measures.list_measures(db, w.therapist, w.client_own, "phq-9")
    assert [m.total for m in phq] == [18, 8]
    with pytest.raises(ValidationError, match="reason"):
        measures.void_measure(db, w.therapist, later.id, later.version, " ")
    measures.void_measure(db, w.therapist, later.id, later.version, "entered for wrong client")
    with pytest.raises(NotFoundError):
        measures.void_measure(db, w.therapist, later.id, later.version + 1, "again")
    assert [m.total for m in measures.list_measures(db, w.therapist, w.client_own, "PHQ-9")] == [18]
    with pytest.raises(StaleRecordError):
        measures.void_measure(db, w.therapist, first.id, first.version + 3, "stale")


def test_refusals(env: Env) -> None:
    db, w = env.db, env.world
    today = date.today()
    with pytest.raises(ValidationError, match="future"):
        measures.record_measure(
            db, w.therapist, w.client_own, "GAD-7", today + timedelta(days=1), [0] * 7
        )
    with pytest.raises(ValidationError, match="Question 1"):  # checked before anything is saved
        measures.record_measure(db, w.therapist, w.client_own, "GAD-7", today, [9] + [0] * 6)
    for actor in (w.front_desk, w.billing):
        with pytest.raises(PermissionDenied):
            measures.record_measure(db, actor, w.client_own, "GAD-7", today, [0] * 7)
        with pytest.raises(PermissionDenied):
            measures.list_measures(db, actor, w.client_own)
    with pytest.raises(PermissionDenied):  # administrators read, clinicians write
        measures.record_measure(db, w.admin, w.client_own, "GAD-7", today, [0] * 7)
    assert measures.list_measures(db, w.admin, w.client_own) == []
    with env.db.session() as s:
        other = s.exec(select(Staff).where(Staff.staff_code == "T2")).one()
    outsider = Actor(999, "outsider", "Other", w.therapist.roles, other.id)
    before = max_audit(env)
    with pytest.raises(PermissionDenied, match="caseload"):
        measures.list_measures(db, outsider, w.client_own)
    with pytest.raises(PermissionDenied, match="caseload"):
        measures.record_measure(db, outsider, w.client_own, "GAD-7", today, [0] * 7)
    assert [e.action for e in audit_rows(env, before)] == ["permission_denied"] * 2
    with pytest.raises(NotFoundError):
        measures.record_measure(db, w.therapist, 424242, "GAD-7", today, [0] * 7)
