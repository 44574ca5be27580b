"""Audit report, emergency access, amendments and two-factor sign-in."""

from __future__ import annotations

import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from iopdesk.errors import (
    AuthenticationError,
    PermissionDenied,
    StaleRecordError,
    UserError,
    ValidationError,
)
from iopdesk.models import AuditEvent, BreakGlassAccess, Note, RecoveryCode, User
from iopdesk.services import (
    amendments,
    audit,
    audit_report,
    auth,
    breakglass,
    clients,
    today,
    totp,
)
from iopdesk.services.audit_report import AuditQuery
from iopdesk.services.clinic import set_setting
from tests.conftest import PASSWORD, Env

# ------------------------------------------------------------------------------------------
# Audit report
# ------------------------------------------------------------------------------------------


def _seed_events(env: Env) -> int:
    """A few known events after the world's own; returns the first new id."""
    w = env.world
    with env.db.session() as s:
        first = audit.record(s, w.therapist, "open_chart", entity="client", client_id=w.client_own)
        audit.record(s, w.front_desk, "update", entity="client", client_id=w.client_other)
        audit.record(s, w.therapist, "print", entity="note", client_id=w.client_own)
        audit.record(s, w.billing, "export", entity="billing_batch", flagged=True)
        audit.record(s, w.admin, "setting_change", entity="setting", entity_id="zz")
        return first.id or 0


def _all_rows(env: Env) -> list[audit_report.ReportRow]:
    with env.db.session() as s:
        return audit_report._query(s, AuditQuery(sort="id", descending=False), 100_000)


def test_audit_report_filters_match_expected_rows(env: Env) -> None:
    w = env.world
    first = _seed_events(env)
    everything = _all_rows(env)
    rows = audit_report.run(env.db, w.admin, AuditQuery(user_id=w.therapist.user_id))
    assert [r.id for r in rows] == [first + 2, first]  # newest first by default
    assert {r.username for r in rows} == {"therapist"}
    rows = audit_report.run(env.db, w.admin, AuditQuery(client_id=w.client_own))
    expected = [r.id for r in everything if r.client_id == w.client_own]
    assert [r.id for r in rows] == sorted(expected, reverse=True)
    assert all(r.mrn for r in rows)  # the client shows as MRN
    rows = audit_report.run(env.db, w.admin, AuditQuery(action="export", flagged_only=True))
    assert [r.id for r in rows] == [first + 3]
    rows = audit_report.run(
        env.db,
        w.admin,
        AuditQuery(user_id=w.therapist.user_id, action="print", client_id=w.client_own),
    )
    assert [r.id for r in rows] == [first + 2]
    now = datetime.now(UTC).date()
    in_range = audit_report.run(
        env.db, w.admin, AuditQuery(date_from=now - timedelta(days=1), date_to=now + timedelta(1))
    )
    assert first in {r.id for r in in_range}
    assert audit_report.run(env.db, w.admin, AuditQuery(date_to=now - timedelta(days=2))) == []
    with pytest.raises(ValidationError):
        audit_report.run(env.db, w.admin, AuditQuery(date_from=now, date_to=now - timedelta(1)))
    with pytest.raises(PermissionDenied):
        audit_report.run(env.db, w.supervisor, AuditQuery())
    # viewing is audited, with the filters but no PHI
    with env.db.session() as s:
        views = s.exec(
            select(AuditEvent).where(AuditEvent.action == "audit_view").order_by(col(AuditEvent.id))
        ).all()
    assert len(views) == 6 and f"client {w.client_own}" in views[1].detail


@pytest.mark.parametrize(
    "sort", ["id", "occurred_at", "username", "action", "entity", "client", "flagged"]
)
@pytest.mark.parametrize("descending", [False, True])
def test_audit_report_sorts_by_every_column(env: Env, sort: str, descending: bool) -> None:
    _seed_events(env)
    everything = _all_rows(env)
    attr = {"client": "client_id"}.get(sort, sort)

    def key(r: audit_report.ReportRow) -> tuple[object, int]:
        value = getattr(r, attr)
        return ((value is not None, value) if sort == "client" else value, r.id)  # type: ignore[return-value]

    expected = sorted(everything, key=key, reverse=descending)
    got = audit_report.run(env.db, env.world.admin, AuditQuery(sort=sort, descending=descending))
    if sort == "client":  # NULLs sort first ascending on SQLite, last on PostgreSQL
        got_ids = [r.id for r in got if r.client_id is not None]
        exp_ids = [r.id for r in expected if r.client_id is not None]
        assert got_ids == exp_ids
    else:
        assert [r.id for r in got] == [r.id for r in expected]


def test_audit_report_export_is_audited_and_verify_shown(env: Env, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    w = env.world
    _seed_events(env)
    n = audit_report.export(env.db, w.admin, AuditQuery(action="print"), tmp_path / "a.xlsx")
    assert n == 1
    ws = load_workbook(tmp_path / "a.xlsx")["Audit"]
    values = [v for row in ws.iter_rows(values_only=True) for v in row if v is not None]
    assert (
        "print" in values
        and "42 CFR part 2 prohibits unauthorized use or disclosure of these records." in values
    )
    audit_report.export(env.db, w.admin, AuditQuery(), tmp_path / "a.pdf")
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "a.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Audit Report" in text and "setting_change" in text
    with env.db.session() as s:
        exports = s.exec(select(AuditEvent).where(AuditEvent.entity == "audit_report")).all()
    assert [e.detail.split(";")[0] for e in exports] == ["format xlsx", "format pdf"]
    result = audit_report.verify(env.db, w.admin)
    assert result.ok and "intact" in result.message()
    with env.db.session() as s:
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "audit_verify")).one()


def test_privilege_and_security_setting_changes_are_flagged(env: Env) -> None:
    w = env.world
    set_setting(env.db, w.admin, "break_glass_minutes", 30)
    set_setting(env.db, w.admin, "plan_review_days", 45)
    breakglass.set_designated(env.db, w.admin, w.therapist.user_id, True)
    rows = audit_report.run(env.db, w.admin, AuditQuery(flagged_only=True))
    details = [r.detail for r in rows]
    assert "60 -> 30" in details and "break_glass_allowed=True" in details
    assert "30 -> 45" not in details
    with pytest.raises(PermissionDenied):
        breakglass.set_designated(env.db, w.supervisor, w.therapist.user_id, True)


# ------------------------------------------------------------------------------------------
# Emergency access
# ------------------------------------------------------------------------------------------


def _can_view(env: Env, actor: clients.Actor, client_id: int) -> bool:
    with env.db.session() as s:
        return clients.can_view_clinical_in(s, actor, client_id)


def test_break_glass_designated_only_reason_flag_expiry_review(env: Env) -> None:
    w = env.world
    assert not _can_view(env, w.therapist, w.client_other)  # not on this caseload
    with pytest.raises(PermissionDenied):
        breakglass.start(env.db, w.therapist, w.client_other, "client in crisis in the lobby")
    with env.db.session() as s:
        denied = s.exec(select(AuditEvent).where(AuditEvent.action == "permission_denied")).one()
    assert denied.flagged and denied.client_id == w.client_other
    breakglass.set_designated(env.db, w.admin, w.therapist.user_id, True)
    with pytest.raises(ValidationError):
        breakglass.start(env.db, w.therapist, w.client_other, "   urgent ")
    info = breakglass.start(env.db, w.therapist, w.client_other, "client in crisis in the lobby")
    assert info.active() and info.expires_at - info.started_at == timedelta(minutes=60)
    assert _can_view(env, w.therapist, w.client_other)
    assert not _can_view(env, w.front_desk, w.client_other)
    assert clients.open_chart(env.db, w.therapist, w.client_other).can_view_clinical
    with env.db.session() as s:
        opened = s.exec(select(AuditEvent).where(AuditEvent.action == "open_chart")).one()
    assert opened.flagged and opened.detail == "emergency access"
    with env.db.session() as s:
        ev = s.exec(select(AuditEvent).where(AuditEvent.action == "break_glass")).one()
    assert ev.flagged and ev.client_id == w.client_other and "crisis" not in ev.detail
    # listed for the administrator's review on Today
    assert today.summary(env.db, w.admin).break_glass_to_review == 1
    assert today.summary(env.db, w.therapist).break_glass_to_review is None
    (listed,) = breakglass.list_accesses(env.db, w.admin)
    assert listed.reason == "client in crisis in the lobby" and listed.username == "therapist"
    # expiry: once the time is up, the chart closes again
    with env.db.session() as s:
        row = s.get(BreakGlassAccess, info.id)
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        s.add(row)
    assert not _can_view(env, w.therapist, w.client_other)
    breakglass.mark_reviewed(env.db, w.admin, info.id)
    assert today.summary(env.db, w.admin).break_glass_to_review == 0
    with pytest.raises(UserError):
        breakglass.mark_reviewed(env.db, w.admin, info.id)


def test_break_glass_grants_a_role_without_clinical_access(env: Env) -> None:
    w = env.world
    breakglass.set_designated(env.db, w.admin, w.front_desk.user_id, True)
    assert not _can_view(env, w.front_desk, w.client_own)
    info = breakglass.start(env.db, w.front_desk, w.client_own, "on-call emergency, no clinician")
    assert _can_view(env, w.front_desk, w.client_own)
    assert not _can_view(env, w.front_desk, w.client_other)
    breakglass.end(env.db, w.front_desk, info.id)
    assert not _can_view(env, w.front_desk, w.client_own)


# ------------------------------------------------------------------------------------------
# Amendments
# ------------------------------------------------------------------------------------------


def _signed_note(env: Env) -> tuple[int, str]:
    """A note signed the way the notes service signs: hash over the canonical content."""
    import json

    w = env.world
    with env.db.session() as s:
        note = Note(
            client_id=w.client_own,
            author_staff_id=w.therapist.staff_id or 0,
            format="DAP",
            service_date=date(2026, 11, 3),
            content_json=json.dumps({"Data": "attended part", "Assessment": "a", "Plan": "p"}),
        )
        s.add(note)
        s.flush()
        note.status = "signed"
        note.signed_at = datetime.now(UTC)
        note.content_sha256 = amendments.note_hash_in(s, note)
        s.add(note)
        s.flush()
        return note.id or 0, note.content_sha256


def _note_state(env: Env, note_id: int) -> tuple[str, str | None, int]:
    with env.db.session() as s:
        note = s.get(Note, note_id)
        assert note is not None
        return note.content_json, note.content_sha256, note.version


@pytest.mark.parametrize("decision", ["accept", "deny"])
def test_amendment_keeps_the_original_and_its_hash(env: Env, decision: str) -> None:
    w = env.world
    note_id, digest = _signed_note(env)
    before = _note_state(env, note_id)
    req = amendments.request_amendment(
        env.db, w.front_desk, w.client_own, "I attended the full session", note_id=note_id
    )
    assert req.status == "pending" and req.original_sha256 == digest
    with pytest.raises(PermissionDenied):
        amendments.accept(env.db, w.front_desk, req.id, req.version, "x")
    if decision == "accept":
        done = amendments.accept(
            env.db, w.therapist, req.id, req.version, "Client attended 180 minutes."
        )
        assert done.status == "accepted" and done.amendment_text == "Client attended 180 minutes."
    else:
        with pytest.raises(ValidationError):
            amendments.deny(env.db, w.therapist, req.id, req.version, " ")
        done = amendments.deny(
            env.db, w.therapist, req.id, req.version, "The record is accurate and complete."
        )
        assert done.status == "denied" and "accurate" in done.denial_reason
    assert done.note_id == note_id and done.original_sha256 == digest
    assert done.decided_by == "Theo Rapist" and done.decision_date is not None
    assert _note_state(env, note_id) == before  # the original is unchanged
    with env.db.session() as s:
        linked = amendments.amendments_for_note(s, note_id)
    assert [a.id for a in linked] == [req.id]
    lines = amendments.print_lines(linked[0])
    assert lines[0].startswith("Amendment request received")
    with pytest.raises(UserError):
        amendments.deny(env.db, w.therapist, req.id, done.version, "again")


def test_amendment_refused_when_original_was_altered_and_for_chart_fields(env: Env) -> None:
    w = env.world
    # the fixture's note carries a hash that does not match its content (as if altered
    # after signing): a decision is refused until the record is checked
    req = amendments.request_amendment(
        env.db, w.front_desk, w.client_own, "wrong date", note_id=w.note_own
    )
    with pytest.raises(UserError, match="no longer matches"):
        amendments.accept(env.db, w.therapist, req.id, req.version, "text")
    field = amendments.request_amendment(
        env.db, w.front_desk, w.client_own, "My phone is 555-0100", field_name="phone"
    )
    assert field.target == "Chart: Phone"
    done = amendments.accept(env.db, w.therapist, field.id, field.version, "Phone 555-0100")
    assert done.status == "accepted"
    with pytest.raises(ValidationError):
        amendments.request_amendment(env.db, w.front_desk, w.client_own, "x", field_name="mrn")
    with pytest.raises(ValidationError):
        amendments.request_amendment(env.db, w.front_desk, w.client_own, "  ", note_id=w.note_own)
    assert len(amendments.list_amendments(env.db, w.admin, w.client_own)) == 2


# ------------------------------------------------------------------------------------------
# Two-factor sign-in
# ------------------------------------------------------------------------------------------

RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # b"12345678901234567890"


def test_totp_rfc6238_vectors_and_window() -> None:
    # RFC 6238 appendix B (SHA1), last 6 of the 8 digits
    assert totp.code_at(RFC_SECRET, 59) == "287082"
    assert totp.code_at(RFC_SECRET, 1111111109) == "081804"
    assert totp.code_at(RFC_SECRET, 1234567890) == "005924"
    assert totp.code_at(RFC_SECRET, 2000000000) == "279037"
    t = 1_700_000_000.0
    code = totp.code_at(RFC_SECRET, t)
    assert totp.match_step(RFC_SECRET, code, t + 29, None) == totp.step_at(t)
    assert totp.match_step(RFC_SECRET, code, t + 31, None) is not None  # one step of drift
    assert totp.match_step(RFC_SECRET, code, t + 95, None) is None
    assert totp.match_step(RFC_SECRET, code, t, totp.step_at(t)) is None  # replay
    assert totp.match_step(RFC_SECRET, "12345", t, None) is None
    uri = totp.provisioning_uri(RFC_SECRET, "ada")
    assert uri.startswith("otpauth://totp/IOPDesk%3Aada?secret=" + RFC_SECRET)
    matrix = totp.qr_matrix(uri)
    assert len(matrix) == len(matrix[0]) >= 29 and any(any(r) for r in matrix)


def test_two_factor_sign_in_wrong_code_replay_and_recovery(env: Env) -> None:
    w = env.world
    t0 = datetime(2026, 11, 27, 15, 0, 0, tzinfo=UTC)
    enrol = totp.begin_enrolment(w.therapist)
    with pytest.raises(ValidationError):
        totp.confirm_enrolment(env.db, w.therapist, enrol.secret, "000000", now=t0.timestamp())
    codes = totp.confirm_enrolment(
        env.db,
        w.therapist,
        enrol.secret,
        totp.code_at(enrol.secret, t0.timestamp()),
        now=t0.timestamp(),
    )
    assert len(codes) == 10 and len(set(codes)) == 10
    with env.db.session() as s:
        stored = s.exec(select(RecoveryCode.code_hash)).all()
    assert all(c.replace("-", "") not in h for c in codes for h in stored)  # only hashes
    with pytest.raises(totp.TwoFactorRequired):
        auth.login(env.db, "therapist", PASSWORD, when=t0)
    with pytest.raises(AuthenticationError):  # wrong password still says so first
        auth.login(env.db, "therapist", "wrong-password-1", "123456", when=t0)
    t1 = t0 + timedelta(minutes=2)
    code1 = totp.code_at(enrol.secret, t1.timestamp())
    wrong = f"{(int(code1) + 1) % 1_000_000:06d}"
    with pytest.raises(AuthenticationError, match="two-factor code"):
        auth.login(env.db, "therapist", PASSWORD, wrong, when=t1)
    actor = auth.login(env.db, "therapist", PASSWORD, code1, when=t1)
    assert actor.username == "therapist"
    with pytest.raises(AuthenticationError, match="already used"):  # replay of the same step
        auth.login(env.db, "therapist", PASSWORD, code1, when=t1 + timedelta(seconds=10))
    t2 = t1 + timedelta(seconds=60)
    auth.login(env.db, "therapist", PASSWORD, totp.code_at(enrol.secret, t2.timestamp()), when=t2)
    # recovery code: works once
    auth.login(env.db, "therapist", PASSWORD, codes[0].upper(), when=t2)
    with pytest.raises(AuthenticationError):
        auth.login(env.db, "therapist", PASSWORD, codes[0], when=t2)
    assert totp.status(env.db, w.therapist).recovery_codes_left == 9
    with env.db.session() as s:
        failures = s.exec(
            select(AuditEvent.detail).where(AuditEvent.action == "login_failed")
        ).all()
        user = s.exec(select(User).where(User.username == "therapist")).one()
    assert any("two-factor wrong code" in f for f in failures)
    assert any("two-factor code already used" in f for f in failures)
    assert user.totp_secret == enrol.secret and user.totp_last_step == totp.step_at(t2.timestamp())
    # an administrator turns it off for a user who lost the phone (flagged)
    totp.disable(env.db, w.admin, w.therapist.user_id)
    assert auth.login(env.db, "therapist", PASSWORD).username == "therapist"
    with env.db.session() as s:
        flagged = s.exec(
            select(AuditEvent.detail).where(
                AuditEvent.action == "two_factor", col(AuditEvent.flagged)
            )
        ).all()
    assert flagged == [
        "two-factor sign-in enabled",
        "two-factor sign-in turned off by administrator",
    ]


def test_two_factor_required_for_admins_by_setting(env: Env) -> None:
    w = env.world
    assert not totp.enrolment_required(env.db, w.admin)
    set_setting(env.db, w.admin, "require_2fa_for_admins", True)
    assert totp.enrolment_required(env.db, w.admin)
    assert not totp.enrolment_required(env.db, w.therapist)
    enrol = totp.begin_enrolment(w.admin)
    now = datetime.now(UTC).timestamp()
    totp.confirm_enrolment(env.db, w.admin, enrol.secret, totp.code_at(enrol.secret, now), now=now)
    assert not totp.enrolment_required(env.db, w.admin)
    with pytest.raises(UserError, match="required for administrators"):
        totp.disable(env.db, w.admin, w.admin.user_id)
    assert date.today()  # keep import used


# ------------------------------------------------------------------------------------------
# Aftercare packets: minimum necessary (issue 16, seen 4)
# ------------------------------------------------------------------------------------------


def _other_therapist(env: Env) -> clients.Actor:
    from iopdesk.models import Staff

    with env.db.session() as s:
        t2 = s.exec(select(Staff).where(Staff.staff_code == "T2")).one()
    info = auth.add_user(env.db, env.world.admin, "therapist2", PASSWORD, "therapist", "", t2.id)
    return clients.Actor(info.id, info.username, info.display_name, info.roles, info.staff_id)


def test_aftercare_packets_of_other_clients_are_closed_without_emergency_access(
    env: Env, tmp_path: Path
) -> None:
    from iopdesk.services import aftercare
    from tests.test_aftercare import discharged_with_plan, finalize, full_data

    w = env.world
    _, plan_id = discharged_with_plan(env)  # on w.therapist's caseload
    view = aftercare.get_plan(env.db, w.therapist, plan_id)
    aftercare.save_plan(env.db, w.therapist, plan_id, view.version, full_data(view))
    other = _other_therapist(env)
    client_id = view.client_id
    for stage in ("draft", "finalized"):
        if stage == "finalized":
            finalize(env, plan_id)
        out = tmp_path / f"{stage}.pdf"
        with pytest.raises(PermissionDenied, match="not on your caseload"):
            aftercare.print_packet(env.db, other, plan_id, out)
        assert not out.exists()
        with pytest.raises(PermissionDenied, match="not on your caseload"):
            aftercare.get_plan(env.db, other, plan_id)
        with pytest.raises(PermissionDenied):
            aftercare.list_plans(env.db, other, client_id)
        with pytest.raises(PermissionDenied):
            aftercare.build_packet(env.db, other, plan_id)
    with env.db.session() as s:
        denied = s.exec(
            select(AuditEvent).where(
                AuditEvent.action == "permission_denied", AuditEvent.user_id == other.user_id
            )
        ).all()
    assert len(denied) == 8 and {e.client_id for e in denied} == {client_id}
    assert all("Naltrexone" not in e.detail for e in denied)
    # the front desk prints the finalized packet for the client but cannot read the plan
    assert aftercare.print_packet(env.db, w.front_desk, plan_id, tmp_path / "fd.pdf").pages
    assert [p.id for p in aftercare.list_plans(env.db, w.front_desk, client_id)] == [plan_id]
    with pytest.raises(PermissionDenied, match="clinical"):
        aftercare.get_plan(env.db, w.front_desk, plan_id)
    # emergency access opens it, flagged for review
    breakglass.set_designated(env.db, w.admin, other.user_id, True)
    breakglass.start(env.db, other, client_id, "client called in crisis, needs the plan")
    printed = aftercare.print_packet(env.db, other, plan_id, tmp_path / "bg.pdf")
    assert printed.pages and (tmp_path / "bg.pdf").exists()
    assert aftercare.get_plan(env.db, other, plan_id).data.medications[0].name == "Naltrexone"


# ------------------------------------------------------------------------------------------
# Amendment deadlines, extension, disagreement and rebuttal (164.526, issue 16)
# ------------------------------------------------------------------------------------------


def test_amendment_due_in_60_days_one_30_day_extension_before_the_deadline(env: Env) -> None:
    w = env.world
    today_ = date.today()
    req = amendments.request_amendment(
        env.db, w.front_desk, w.client_own, "My phone is 555-0100", field_name="phone"
    )
    assert req.received_date == today_ and req.due_date == today_ + timedelta(days=60)
    assert not req.extended and "due" in amendments.print_lines(req)[-1]
    with pytest.raises(ValidationError, match="future"):
        amendments.request_amendment(
            env.db, w.front_desk, w.client_own, "x", field_name="phone",
            received_date=today_ + timedelta(days=1),
        )  # fmt: skip
    with pytest.raises(PermissionDenied):  # the front desk records, does not extend
        amendments.extend(env.db, w.front_desk, req.id, req.version, "Waiting for the chart")
    with pytest.raises(ValidationError, match="reason"):
        amendments.extend(env.db, w.admin, req.id, req.version, "  short ")
    ext = amendments.extend(
        env.db, w.admin, req.id, req.version, "The treating clinician is on leave until next month"
    )
    assert ext.extended and ext.extended_on == today_
    assert ext.due_date == today_ + timedelta(days=90)
    assert ext.extension_reason == "The treating clinician is on leave until next month"
    with pytest.raises(UserError, match="only one extension"):
        amendments.extend(env.db, w.therapist, req.id, ext.version, "Still waiting for records")
    assert any("extended" in line for line in amendments.print_lines(ext))
    # an extension after the 60 days ran out is refused: the clinic must decide
    late = amendments.request_amendment(
        env.db, w.front_desk, w.client_own, "Wrong city", field_name="city",
        received_date=today_ - timedelta(days=61),
    )  # fmt: skip
    assert late.due_date == today_ - timedelta(days=1)
    with pytest.raises(UserError, match="ran out"):
        amendments.extend(env.db, w.admin, late.id, late.version, "Clinician on leave for now")
    # a request due exactly today can still be extended
    edge = amendments.request_amendment(
        env.db, w.front_desk, w.client_own, "Wrong state", field_name="state",
        received_date=today_ - timedelta(days=60),
    )  # fmt: skip
    assert edge.due_date == today_
    assert amendments.extend(
        env.db, w.therapist, edge.id, edge.version, "Records requested from the hospital"
    ).due_date == today_ + timedelta(days=30)
    done = amendments.accept(env.db, w.therapist, ext.id, ext.version, "Phone 555-0100")
    with pytest.raises(UserError, match="accepted"):
        amendments.extend(env.db, w.admin, done.id, done.version, "Too late to extend now")
    with env.db.session() as s:
        details = s.exec(
            select(AuditEvent.detail).where(AuditEvent.entity == "amendment_request")
        ).all()
    assert details.count("extended 30 days") == 2
    assert all("555" not in d and "leave" not in d for d in details)  # no PHI in the log


def test_overdue_amendments_listed_for_administrators_on_today(env: Env) -> None:
    w = env.world
    today_ = date.today()
    overdue = amendments.request_amendment(
        env.db, w.front_desk, w.client_own, "Wrong city", field_name="city",
        received_date=today_ - timedelta(days=75),
    )  # fmt: skip
    amendments.request_amendment(  # due today: not overdue yet
        env.db, w.front_desk, w.client_other, "Wrong state", field_name="state",
        received_date=today_ - timedelta(days=60),
    )  # fmt: skip
    decided = amendments.request_amendment(
        env.db, w.front_desk, w.client_other, "Wrong ZIP", field_name="postal_code",
        received_date=today_ - timedelta(days=80),
    )  # fmt: skip
    amendments.deny(env.db, w.therapist, decided.id, decided.version, "The ZIP is correct.")
    assert [a.id for a in amendments.list_overdue(env.db, w.admin)] == [overdue.id]
    assert amendments.list_overdue(env.db, w.admin)[0].mrn
    assert today.summary(env.db, w.admin).amendments_overdue == 1
    for actor in (w.front_desk, w.therapist, w.supervisor, w.billing):
        assert today.summary(env.db, actor).amendments_overdue is None
    with pytest.raises(PermissionDenied):
        amendments.list_overdue(env.db, w.supervisor)
    # tomorrow the one due today is overdue too; an extension takes it off the list
    tomorrow = today_ + timedelta(days=1)
    assert len(amendments.list_overdue(env.db, w.admin, tomorrow)) == 2
    amendments.accept(env.db, w.therapist, overdue.id, overdue.version, "City corrected")
    assert amendments.list_overdue(env.db, w.admin) == []
    assert today.summary(env.db, w.admin).amendments_overdue == 0


def test_statement_of_disagreement_and_rebuttal_are_linked_to_the_record(env: Env) -> None:
    w = env.world
    note_id, digest = _signed_note(env)
    req = amendments.request_amendment(
        env.db, w.front_desk, w.client_own, "I attended the full session", note_id=note_id
    )
    with pytest.raises(UserError, match="answers a denial"):
        amendments.record_disagreement(env.db, w.front_desk, req.id, req.version, "I disagree")
    denied = amendments.deny(
        env.db, w.therapist, req.id, req.version, "The record is accurate and complete."
    )
    with pytest.raises(UserError, match="none is on file"):
        amendments.record_rebuttal(env.db, w.therapist, denied.id, denied.version, "Rebuttal")
    with pytest.raises(ValidationError):
        amendments.record_disagreement(env.db, w.front_desk, denied.id, denied.version, "  ")
    with pytest.raises(ValidationError, match="between the denial and today"):
        amendments.record_disagreement(
            env.db, w.front_desk, denied.id, denied.version, "I was there all 3 hours",
            received_date=date.today() + timedelta(days=1),
        )  # fmt: skip
    stated = amendments.record_disagreement(
        env.db, w.front_desk, denied.id, denied.version, "I was there all 3 hours"
    )
    assert stated.disagreement == "I was there all 3 hours"
    assert stated.disagreement_date == date.today()
    with pytest.raises(UserError, match="already on file"):
        amendments.record_disagreement(env.db, w.front_desk, stated.id, stated.version, "again")
    with pytest.raises(PermissionDenied):
        amendments.record_rebuttal(env.db, w.billing, stated.id, stated.version, "No.")
    rebutted = amendments.record_rebuttal(
        env.db, w.therapist, stated.id, stated.version, "Sign-in sheet shows 90 minutes."
    )
    assert rebutted.rebuttal_by == "Theo Rapist" and rebutted.rebuttal_date == date.today()
    with pytest.raises(UserError, match="already on file"):
        amendments.record_rebuttal(env.db, w.admin, rebutted.id, rebutted.version, "More")
    # linked to the note: printed with it, in order; the original note is unchanged
    with env.db.session() as s:
        (linked,) = amendments.amendments_for_note(s, note_id)
    lines = amendments.print_lines(linked)
    assert lines[1].startswith("Denied") and "accurate" in lines[1]
    assert lines[2].startswith("Statement of disagreement") and "3 hours" in lines[2]
    assert lines[3].startswith("Rebuttal") and "90 minutes" in lines[3]
    with env.db.session() as s:
        note = s.get(Note, note_id)
        assert note is not None and note.content_sha256 == digest
    # a stale version is refused (another workstation answered first)
    with pytest.raises(StaleRecordError):
        amendments.record_rebuttal(env.db, w.admin, rebutted.id, stated.version, "x")


def test_deadline_migration_upgrades_a_database_with_requests_in_it(env: Env) -> None:
    """0005_amendment_deadlines on a clinic database that already holds requests: each gets
    the deadline its received date gives it; downgrade and upgrade keep every row."""
    from alembic import command
    from sqlalchemy import inspect, text

    from iopdesk.migrations import runner

    w = env.world
    first = amendments.request_amendment(
        env.db, w.front_desk, w.client_own, "Wrong city", field_name="city",
        received_date=date(2026, 1, 31),
    )  # fmt: skip
    second = amendments.request_amendment(
        env.db, w.front_desk, w.client_other, "Wrong state", field_name="state"
    )
    amendments.extend(env.db, w.admin, second.id, second.version, "Clinician away this month")
    cfg = runner.config()
    with env.db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003_attendance_covering")
        conn.commit()
    with env.db.engine.begin() as conn:
        cols = {c["name"] for c in inspect(conn).get_columns("amendmentrequest")}
        assert "due_date" not in cols and "rebuttal" not in cols
        conn.execute(
            text(
                "INSERT INTO amendmentrequest (created_at, updated_at, version, client_id, "
                "field_name, requested_change, received_date, status, denial_reason, "
                "amendment_text, original_sha256) VALUES (:now, :now, 1, :client, 'phone', "
                "'old request', :received, 'pending', '', '', '')"
            ),
            {"now": datetime.now(UTC), "client": w.client_own, "received": date(2025, 12, 1)},
        )
    runner.upgrade(env.db.engine)
    rows = {
        a.requested_change: a for a in amendments.list_amendments(env.db, w.admin, w.client_own)
    }
    assert rows["old request"].due_date == date(2026, 1, 30)
    assert rows["old request"].disagreement == "" and not rows["old request"].extended
    assert rows["Wrong city"].due_date == date(2026, 4, 1) and rows["Wrong city"].id == first.id
    (again,) = amendments.list_amendments(env.db, w.admin, w.client_other)
    assert again.due_date == second.received_date + timedelta(days=60)  # rebuilt from receipt
    assert amendments.list_overdue(env.db, w.admin, date(2026, 2, 1))[0].requested_change == (
        "old request"
    )
