"""Session documentation (issue 5): progress notes, group notes, sign and lock, co-sign,
addenda, work queues, printing and privacy. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlmodel import select

from iopdesk.db import Database
from iopdesk.errors import (
    NotFoundError,
    PermissionDenied,
    StaleRecordError,
    UserError,
    ValidationError,
)
from iopdesk.models import (
    Attendance,
    AuditEvent,
    Client,
    ClinicSession,
    Note,
    PlanGoal,
    PlanProblem,
    SessionFacilitator,
    Staff,
    TherapistAssignment,
    Track,
    TreatmentPlan,
)
from iopdesk.reports import PART2_NOTICE
from iopdesk.services import auth, notes, today
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import clinic_today, set_setting
from iopdesk.services.notes import GroupEntry, GroupNoteInput, NoteDraft
from tests.conftest import PASSWORD, Env, World
from tests.helpers import pdf_pages

SECTIONS = {
    "SOAP": {"Subjective": "Client reports cravings.", "Objective": "Calm, engaged.",
             "Assessment": "Progressing.", "Plan": "Continue weekly."},
    "DAP": {"Data": "Discussed triggers at work.", "Assessment": "Insight improving.",
            "Plan": "Practice urge surfing."},
    "BIRP": {"Behavior": "Tearful at start.", "Intervention": "DBT distress tolerance.",
             "Response": "Used TIPP skill in session.", "Plan": "Daily diary card."},
    "GIRP": {"Goal": "Reduce drinking days.", "Intervention": "MI decisional balance.",
             "Response": "Named two reasons to change.", "Plan": "Track drinks for a week."},
}  # fmt: skip


def _today(db: Database) -> date:
    with db.session() as s:
        return clinic_today(s)


def _session(
    db: Database,
    kind: str,
    day: date,
    staff_id: int,
    attendees: dict[int, tuple[str, int]],
    client_id: int | None = None,
    track_id: int | None = None,
) -> int:
    with db.session() as s:
        cs = ClinicSession(
            kind=kind,
            client_id=client_id,
            track_id=track_id,
            session_date=day,
            start_time=time(10, 0),
            end_time=time(11, 0) if kind != "group" else time(13, 0),
            status="held",
            topic="Coping with cravings" if kind == "group" else "",
        )
        s.add(cs)
        s.flush()
        assert cs.id is not None
        s.add(SessionFacilitator(session_id=cs.id, staff_id=staff_id))
        for cid, (status, minutes) in attendees.items():
            s.add(Attendance(session_id=cs.id, client_id=cid, status=status, minutes=minutes))
        return cs.id


def _staff_id(actor: Actor) -> int:
    assert actor.staff_id is not None
    return actor.staff_id


def _individual(env: Env, day: date | None = None, minutes: int = 48) -> int:
    w = env.world
    return _session(
        env.db,
        "individual",
        day or _today(env.db),
        _staff_id(w.therapist),
        {w.client_own: ("present", minutes)},
        client_id=w.client_own,
    )


def _draft(w: World, day: date, fmt: str = "DAP", session_id: int | None = None) -> NoteDraft:
    return NoteDraft(
        client_id=w.client_own,
        service_date=day,
        format=fmt,
        sections=dict(SECTIONS.get(fmt, {})),
        session_id=session_id,
        modalities=["CBT", "mi"],
        service_minutes=45,
    )


def _goal(db: Database, client_id: int) -> int:
    with db.session() as s:
        plan = TreatmentPlan(client_id=client_id, start_date=date(2026, 11, 1), status="active")
        s.add(plan)
        s.flush()
        problem = PlanProblem(plan_id=plan.id or 0, description="Alcohol use")
        s.add(problem)
        s.flush()
        goal = PlanGoal(problem_id=problem.id or 0, description="Stay sober 30 days")
        s.add(goal)
        s.flush()
        return goal.id or 0


def _audit(db: Database, action: str, entity: str, entity_id: int) -> list[AuditEvent]:
    with db.session() as s:
        return list(
            s.exec(
                select(AuditEvent).where(
                    AuditEvent.action == action,
                    AuditEvent.entity == entity,
                    AuditEvent.entity_id == str(entity_id),
                )
            )
        )


@dataclass
class Supervisee:
    actor: Actor
    staff_id: int


def _supervisee(env: Env, with_supervisor: bool = True) -> Supervisee:
    w, db = env.world, env.db
    with db.session() as s:
        st = Staff(
            staff_code="A1",
            first_name="Ada",
            last_name="Associate",
            credentials="LPC-Associate",
            is_supervisee=with_supervisor,
            supervisor_id=_staff_id(w.supervisor) if with_supervisor else None,
        )
        s.add(st)
        s.flush()
        sid = st.id or 0
        s.add(
            TherapistAssignment(client_id=w.client_own, staff_id=sid, start_date=date(2026, 1, 1))
        )
    info = auth.add_user(db, w.admin, "associate", PASSWORD, "therapist", "Ada Associate", sid)
    return Supervisee(Actor(info.id, info.username, info.display_name, info.roles, sid), sid)


# -- progress notes -------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["SOAP", "DAP", "BIRP", "GIRP"])
def test_each_format_round_trips(env: Env, fmt: str) -> None:
    w, db = env.world, env.db
    day = _today(db)
    sid = _individual(env, day)
    goal = _goal(db, w.client_own)
    draft = _draft(w, day, fmt, sid)
    draft.goals_addressed = [goal]
    draft.modalities = ["trauma-informed", "Relapse prevention", "DBT"]
    saved = notes.create_note(db, w.therapist, draft)
    content = notes.read_note(db, w.therapist, saved.id)
    assert list(content.sections) == list(SECTIONS[fmt])  # the format's sections, in order
    assert content.sections == SECTIONS[fmt]
    assert content.header.format == fmt and content.header.status == "draft"
    assert content.modalities == ["DBT", "Relapse prevention", "Trauma-informed care"]
    assert content.goals_addressed == [goal]
    assert content.goal_labels[goal] == "Stay sober 30 days"
    assert content.service_minutes == 45
    # after signing it still reads back the same, and the hash covers the content
    notes.sign_note(db, w.therapist, saved.id, saved.version)
    signed = notes.read_note(db, w.therapist, saved.id)
    assert signed.sections == SECTIONS[fmt]
    assert notes.verify_note(db, w.therapist, saved.id)


def test_clinic_template_round_trips(env: Env) -> None:
    w, db = env.world, env.db
    with pytest.raises(PermissionDenied):
        notes.create_template(db, w.therapist, "Crisis", ["Situation", "Action"])
    tpl = notes.create_template(db, w.supervisor, "Crisis contact", ["Situation", "Action", "Plan"])
    with pytest.raises(ValidationError):
        notes.create_template(db, w.admin, "Crisis contact", ["X"])
    choice = next(
        f for f in notes.note_formats(db, w.therapist) if f.template_id == tpl.template_id
    )
    assert choice.sections == ("Situation", "Action", "Plan")
    draft = NoteDraft(
        client_id=w.client_own,
        service_date=_today(db),
        format="custom",
        template_id=tpl.template_id,
        sections={"Situation": "Called in distress", "Action": "Grounding", "Plan": "Call Monday"},
    )
    saved = notes.create_note(db, w.therapist, draft)
    content = notes.read_note(db, w.therapist, saved.id)
    assert content.template_id == tpl.template_id
    assert content.sections == {
        "Situation": "Called in distress",
        "Action": "Grounding",
        "Plan": "Call Monday",
    }
    draft.sections = {"Data": "wrong section"}
    with pytest.raises(ValidationError):
        notes.create_note(db, w.therapist, draft)


def test_minutes_and_date_prefilled_from_attendance(env: Env) -> None:
    w, db = env.world, env.db
    day = _today(db) - timedelta(days=1)
    sid = _individual(env, day, minutes=52)
    defaults = notes.new_note_defaults(db, w.therapist, w.client_own, sid)
    assert defaults.service_minutes == 52
    assert defaults.service_date == day and defaults.session_id == sid
    assert [s.id for s in notes.client_sessions(db, w.therapist, w.client_own)] == [sid]
    saved = notes.create_note(db, w.therapist, _draft(w, day, "DAP", sid))
    assert notes.client_sessions(db, w.therapist, w.client_own) == []
    # one note per client and session
    with pytest.raises(ValidationError) as err:
        notes.create_note(db, w.therapist, _draft(w, day, "DAP", sid))
    assert "session_id" in err.value.fields
    assert saved.id


def test_risk_screen_requires_safety_plan(env: Env) -> None:
    w, db = env.world, env.db
    for flag in ("risk_suicidal", "risk_homicidal"):
        draft = _draft(w, _today(db))
        setattr(draft, flag, True)
        with pytest.raises(ValidationError) as err:
            notes.create_note(db, w.therapist, draft)
        assert "safety_plan" in err.value.fields
    draft = _draft(w, _today(db))
    draft.risk_suicidal = True
    # autosave keeps an unfinished risk screen, but signing refuses it
    saved = notes.autosave_note(db, w.therapist, None, None, draft)
    with pytest.raises(ValidationError) as err:
        notes.sign_note(db, w.therapist, saved.id, saved.version)
    assert "safety_plan" in err.value.fields
    draft.safety_plan = "Call 988; remove firearms; sister stays over tonight."
    saved = notes.update_note(db, w.therapist, saved.id, saved.version, draft)
    notes.sign_note(db, w.therapist, saved.id, saved.version)
    content = notes.read_note(db, w.therapist, saved.id)
    assert content.risk_suicidal and "988" in content.safety_plan


def test_bad_input_refused(env: Env) -> None:
    w, db = env.world, env.db
    day = _today(db)
    draft = _draft(w, day)
    draft.modalities = ["Hypnosis"]
    with pytest.raises(ValidationError) as err:
        notes.create_note(db, w.therapist, draft)
    assert "modalities" in err.value.fields
    draft = _draft(w, day, "XYZ")
    with pytest.raises(ValidationError):
        notes.create_note(db, w.therapist, draft)
    draft = _draft(w, day)
    draft.goals_addressed = [_goal(db, w.client_other)]  # another client's goal
    with pytest.raises(ValidationError) as err:
        notes.create_note(db, w.therapist, draft)
    assert "goals_addressed" in err.value.fields
    draft = _draft(w, day)
    draft.service_minutes = -5
    with pytest.raises(ValidationError):
        notes.create_note(db, w.therapist, draft)


def test_optimistic_concurrency_and_autosave(env: Env) -> None:
    w, db = env.world, env.db
    draft = _draft(w, _today(db))
    draft.sections = {"Data": "first words"}
    first = notes.autosave_note(db, w.therapist, None, None, draft)
    draft.sections = {"Data": "first words and more"}
    second = notes.autosave_note(db, w.therapist, first.id, first.version, draft)
    assert second.id == first.id and second.version == first.version + 1
    assert notes.read_note(db, w.therapist, first.id).sections["Data"] == "first words and more"
    with pytest.raises(StaleRecordError):  # another workstation saved in between
        notes.update_note(db, w.therapist, first.id, first.version, draft)
    with pytest.raises(StaleRecordError):
        notes.sign_note(db, w.therapist, first.id, first.version)
    # incomplete sections cannot be signed
    with pytest.raises(ValidationError) as err:
        notes.sign_note(db, w.therapist, first.id, second.version)
    assert "section:Assessment" in err.value.fields
    rows = _audit(db, "update", "note", first.id)
    assert [r.detail for r in rows] == ["autosave"]


# -- sign and lock --------------------------------------------------------------------------
def test_signed_note_is_locked_in_service_and_database(env: Env) -> None:
    w, db = env.world, env.db
    saved = notes.create_note(db, w.therapist, _draft(w, _today(db)))
    header = notes.sign_note(db, w.therapist, saved.id, saved.version)
    assert header.status == "signed" and header.signed_at is not None
    assert not header.late_entry and header.state == "signed"
    with db.session() as s:
        note = s.get(Note, saved.id)
        assert note is not None
        assert note.signed_by == w.therapist.user_id
        assert (
            note.content_sha256
            == hashlib.sha256(notes.canonical_content(note).encode()).hexdigest()
        )
        version = note.version
    draft = _draft(w, _today(db))
    draft.sections["Plan"] = "changed after signing"
    with pytest.raises(UserError, match="signed and locked"):
        notes.update_note(db, w.therapist, saved.id, version, draft)
    with pytest.raises(UserError, match="signed and locked"):
        notes.autosave_note(db, w.therapist, saved.id, version, draft)
    with pytest.raises(UserError):
        notes.sign_note(db, w.therapist, saved.id, version)
    # The database itself refuses content changes, a status change and deletion.
    for statement in (
        "UPDATE note SET content_json = '{}' WHERE id = :id",
        "UPDATE note SET safety_plan = 'x', version = version + 1 WHERE id = :id",
        "UPDATE note SET status = 'draft' WHERE id = :id",
        "UPDATE note SET service_minutes = 999 WHERE id = :id",
        "UPDATE note SET content_sha256 = NULL WHERE id = :id",
        "DELETE FROM note WHERE id = :id",
    ):
        with pytest.raises(sa_exc.DBAPIError), db.engine.begin() as conn:
            conn.execute(text(statement), {"id": saved.id})
    assert notes.verify_note(db, w.therapist, saved.id)
    # ... while a draft stays freely editable at the database level
    other = notes.create_note(db, w.therapist, _draft(w, _today(db)))
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE note SET safety_plan = 'ok' WHERE id = :id"), {"id": other.id})


def test_voiding_a_signed_note_still_works(env: Env) -> None:
    w, db = env.world, env.db
    saved = notes.create_note(db, w.therapist, _draft(w, _today(db)))
    header = notes.sign_note(db, w.therapist, saved.id, saved.version)
    with pytest.raises(PermissionDenied):
        notes.void_note(db, w.therapist, saved.id, header.version, "wrong client")
    notes.void_note(db, w.supervisor, saved.id, header.version, "Written in the wrong chart")
    assert saved.id not in [h.id for h in notes.list_note_headers(db, w.therapist, w.client_own)]
    assert _audit(db, "void", "note", saved.id)


def test_late_entry_marked(env: Env) -> None:
    w, db = env.world, env.db
    set_setting(db, w.admin, "late_note_days", 3)
    today_ = _today(db)
    on_time = notes.create_note(db, w.therapist, _draft(w, today_ - timedelta(days=3)))
    late = notes.create_note(db, w.therapist, _draft(w, today_ - timedelta(days=4)))
    assert not notes.sign_note(db, w.therapist, on_time.id, on_time.version).late_entry
    header = notes.sign_note(db, w.therapist, late.id, late.version)
    assert header.late_entry and header.state_label == "Signed (late entry)"
    assert "late entry" in _audit(db, "sign", "note", late.id)[0].detail
    listed = {h.id: h for h in notes.list_note_headers(db, w.front_desk, w.client_own)}
    assert listed[late.id].late_entry and not listed[on_time.id].late_entry


def test_addenda_are_signed_then_locked(env: Env) -> None:
    w, db = env.world, env.db
    saved = notes.create_note(db, w.therapist, _draft(w, _today(db)))
    with pytest.raises(UserError, match="draft"):
        notes.add_addendum(db, w.therapist, saved.id, "too early")
    notes.sign_note(db, w.therapist, saved.id, saved.version)
    with pytest.raises(ValidationError):
        notes.add_addendum(db, w.therapist, saved.id, "   ")
    add = notes.add_addendum(db, w.therapist, saved.id, "Correction: minutes were 50.")
    assert add.signed_at is None and add.author.startswith("Theo Rapist")
    add = notes.update_addendum(db, w.therapist, add.id, add.version, "Correction: 50 minutes.")
    with pytest.raises(PermissionDenied):
        notes.sign_addendum(db, w.supervisor, add.id, add.version)
    signed = notes.sign_addendum(db, w.therapist, add.id, add.version)
    assert signed.signed_at is not None and signed.content_sha256
    with pytest.raises(UserError, match="locked"):
        notes.update_addendum(db, w.therapist, add.id, signed.version, "again")
    with pytest.raises(sa_exc.DBAPIError), db.engine.begin() as conn:
        conn.execute(text("UPDATE noteaddendum SET text = 'x' WHERE id = :id"), {"id": add.id})
    content = notes.read_note(db, w.therapist, saved.id)
    assert [a.text for a in content.addenda] == ["Correction: 50 minutes."]
    assert content.sections == SECTIONS["DAP"]  # the original is untouched
    assert _audit(db, "sign", "noteaddendum", add.id)


def test_cosign_flow(env: Env) -> None:
    w, db = env.world, env.db
    assoc = _supervisee(env)
    saved = notes.create_note(db, assoc.actor, _draft(w, _today(db)))
    header = notes.sign_note(db, assoc.actor, saved.id, saved.version)
    assert header.cosign_required and header.state == "awaiting co-signature"
    assert notes.queue_counts(db, w.supervisor).awaiting_my_cosign == 1
    queue = notes.awaiting_my_cosign(db, w.supervisor)
    assert [q.id for q in queue] == [saved.id] and queue[0].author.startswith("Ada Associate")
    assert notes.awaiting_my_cosign(db, w.therapist) == []  # not a supervisor
    with pytest.raises(PermissionDenied):
        notes.cosign_note(db, w.therapist, saved.id, header.version)
    with pytest.raises(PermissionDenied):
        notes.cosign_note(db, assoc.actor, saved.id, header.version)
    summary = today.summary(db, w.supervisor)
    assert summary.awaiting_my_cosign == 1
    cosigned = notes.cosign_note(db, w.supervisor, saved.id, header.version)
    assert cosigned.state == "co-signed" and cosigned.cosigned_at is not None
    with pytest.raises(UserError, match="already"):
        notes.cosign_note(db, w.supervisor, saved.id, cosigned.version)
    assert notes.awaiting_my_cosign(db, w.supervisor) == []
    content = notes.read_note(db, w.supervisor, saved.id)
    assert content.cosigned_by == "Sue Pervisor, LCSW"
    assert notes.verify_note(db, w.supervisor, saved.id)  # co-signing leaves the hash valid
    # a co-signature cannot be rewritten at the database level
    with pytest.raises(sa_exc.DBAPIError), db.engine.begin() as conn:
        conn.execute(text("UPDATE note SET cosigned_by = NULL WHERE id = :id"), {"id": saved.id})
    assert _audit(db, "cosign", "note", saved.id)


def test_draft_cannot_be_cosigned_and_licensed_needs_none(env: Env) -> None:
    w, db = env.world, env.db
    assoc = _supervisee(env)
    saved = notes.create_note(db, assoc.actor, _draft(w, _today(db)))
    with pytest.raises(UserError, match="not signed"):
        notes.cosign_note(db, w.supervisor, saved.id, saved.version)
    mine = notes.create_note(db, w.therapist, _draft(w, _today(db)))  # Theo, LPC
    header = notes.sign_note(db, w.therapist, mine.id, mine.version)
    assert not header.cosign_required
    with pytest.raises(UserError, match="does not need"):
        notes.cosign_note(db, w.supervisor, mine.id, header.version)


# -- group notes ----------------------------------------------------------------------------
def _group(env: Env, n_present: int = 3) -> tuple[int, list[int], int]:
    """A held group: client_own, client_other and more attend; one extra client absent."""
    w, db = env.world, env.db
    with db.session() as s:
        track = Track(track_code="SUD-A", name="Adult SUD Evening IOP", is_sud=True)
        s.add(track)
        s.flush()
        track_id = track.id or 0
        extra = []
        for i in range(n_present - 2 + 1):
            c = Client(mrn=f"G{i:05d}", first_name=f"Gus{i}", last_name="Groupmember",
                       dob=date(1980, 1, 1 + i), status="active")  # fmt: skip
            s.add(c)
            s.flush()
            extra.append(c.id or 0)
    present = [w.client_own, w.client_other, *extra[:-1]]
    absent = extra[-1]
    attendees = {cid: ("present", 180) for cid in present}
    attendees[present[-1]] = ("late", 150)
    attendees[absent] = ("absent_unexcused", 0)
    sid = _session(db, "group", _today(db), _staff_id(w.therapist), attendees, track_id=track_id)
    return sid, present, absent


def test_group_note_entries_for_attending_clients_only(env: Env) -> None:
    w, db = env.world, env.db
    sid, present, absent = _group(env)
    form = notes.group_note_form(db, w.therapist, sid)
    assert [m.client_id for m in sorted(form.members, key=lambda m: m.client_id)] == sorted(present)
    assert len(form.absent) == 1 and "absent unexcused" in form.absent[0]
    late = next(m for m in form.members if m.client_id == present[-1])
    assert late.entry.service_minutes == 150  # prefilled from attendance
    data = GroupNoteInput(
        topic="Coping with cravings",
        interventions="Urge surfing practice; relapse prevention worksheet",
        modalities=["Relapse prevention", "Mindfulness"],
        narrative="Group reviewed high-risk situations and practised urge surfing.",
        entries={
            cid: GroupEntry(f"Shared trigger #{i}", f"Named coping skill {i}", "Continue group")
            for i, cid in enumerate(present)
        },
    )
    bad = GroupNoteInput(**{**data.__dict__, "entries": {absent: GroupEntry("x", "y", "z")}})
    with pytest.raises(ValidationError, match="absent"):
        notes.save_group_note(db, w.therapist, sid, bad)
    saved = notes.save_group_note(db, w.therapist, sid, data)
    assert saved.warnings == [] and set(saved.note_ids) == set(present)
    with db.session() as s:
        rows = s.exec(select(Note).where(Note.group_note_id == saved.group_note_id)).all()
        assert {n.client_id for n in rows} == set(present)  # filed in each attending chart
        assert all(n.format == "group" and n.session_id == sid for n in rows)
        assert {n.service_minutes for n in rows} == {180, 150}
    assert absent not in saved.note_ids
    assert notes.list_note_headers(db, w.admin, absent) == []
    # each entry appears in that client's chart
    own = notes.list_note_headers(db, w.therapist, w.client_own)
    assert any(h.group_note_id == saved.group_note_id for h in own)
    # opening the group note again audits a view of each client's entry
    notes.group_note_form(db, w.therapist, sid)
    for note_id in saved.note_ids.values():
        assert _audit(db, "read", "note", note_id)
    # drafts queue shows the group note once
    drafts = notes.my_drafts(db, w.therapist)
    assert [d.kind for d in drafts].count("group") == 1
    # sign all at once
    signed = notes.sign_group_note(db, w.therapist, saved.group_note_id, saved.version)
    assert signed.status == "signed"
    for cid, note_id in signed.note_ids.items():
        content = notes.read_note(db, w.therapist, note_id)
        assert content.header.status == "signed" and content.group is not None
        assert content.group.narrative.startswith("Group reviewed")
        assert notes.verify_note(db, w.therapist, note_id)
        assert content.header.client_id == cid
    with pytest.raises(UserError, match="locked"):
        notes.save_group_note(db, w.therapist, sid, data, signed.version)
    with pytest.raises(sa_exc.DBAPIError), db.engine.begin() as conn:
        conn.execute(
            text("UPDATE groupnote SET narrative = 'rewritten' WHERE id = :id"),
            {"id": saved.group_note_id},
        )


def test_identical_group_entries_warn(env: Env) -> None:
    w, db = env.world, env.db
    sid, present, _absent = _group(env)
    same = GroupEntry("Participated actively.", "Receptive to feedback.", "Continue group")
    data = GroupNoteInput(
        topic="Coping",
        narrative="Narrative",
        entries={
            present[0]: same,
            present[1]: GroupEntry("participated  ACTIVELY", "Receptive to feedback!", "Next"),
            present[2]: GroupEntry("Quiet; shared once about sleep.", "Open to CBT-I tips.", "Go"),
        },
    )
    saved = notes.save_group_note(db, w.therapist, sid, data)
    assert len(saved.warnings) == 1
    assert "Canary Ownclient" in saved.warnings[0] and "Olga Otherclient" in saved.warnings[0]
    assert "Gus0" not in saved.warnings[0]
    # the warning does not block signing (a clinician may confirm), and is returned again
    signed = notes.sign_group_note(db, w.therapist, saved.group_note_id, saved.version)
    assert len(signed.warnings) == 1


def test_group_note_sign_requires_every_attending_entry(env: Env) -> None:
    w, db = env.world, env.db
    sid, present, _absent = _group(env)
    data = GroupNoteInput(
        topic="Coping",
        narrative="Narrative",
        entries={present[0]: GroupEntry("Shared", "Engaged", "Continue")},
    )
    saved = notes.save_group_note(db, w.therapist, sid, data)
    with pytest.raises(ValidationError, match="Olga Otherclient"):
        notes.sign_group_note(db, w.therapist, saved.group_note_id, saved.version)
    with pytest.raises(PermissionDenied):  # not a facilitator
        notes.save_group_note(db, _supervisee(env).actor, sid, data)
    # a later save updates the draft with optimistic concurrency
    data.entries[present[1]] = GroupEntry("Talked about family", "Tearful", "Check in")
    again = notes.save_group_note(db, w.therapist, sid, data, saved.version)
    assert again.version == saved.version + 1 and set(again.note_ids) == set(present[:2])
    with pytest.raises(StaleRecordError):
        notes.save_group_note(db, w.therapist, sid, data, saved.version)


# -- queues ---------------------------------------------------------------------------------
def test_work_queues_and_today_counts(env: Env) -> None:
    w, db = env.world, env.db
    day = _today(db) - timedelta(days=1)
    s1 = _individual(env, day)
    s2 = _individual(env, day - timedelta(days=1))
    # a session where the client did not come needs no note
    _session(db, "individual", day, _staff_id(w.therapist), {w.client_own: ("absent_excused", 0)},
             client_id=w.client_own)  # fmt: skip
    gsid, _present, _absent = _group(env)
    counts = notes.queue_counts(db, w.therapist)
    assert counts.sessions_without_note == 3 and counts.my_drafts == 0
    missing = notes.sessions_without_note(db, w.therapist)
    assert {(m.session_id, m.detail) for m in missing} == {
        (s1, "individual"),
        (s2, "individual"),
        (gsid, "group"),
    }
    saved = notes.create_note(db, w.therapist, _draft(w, day, "DAP", s1))
    counts = notes.queue_counts(db, w.therapist)
    assert (counts.sessions_without_note, counts.my_drafts) == (2, 1)
    assert [d.id for d in notes.my_drafts(db, w.therapist)] == [saved.id]
    summary = today.summary(db, w.therapist)
    assert summary.my_unsigned_notes == 1 and summary.sessions_without_note == 2
    assert summary.awaiting_my_cosign is None  # therapists do not co-sign
    notes.sign_note(db, w.therapist, saved.id, saved.version)
    assert notes.queue_counts(db, w.therapist).my_drafts == 0
    # queues are per clinician
    assert notes.queue_counts(db, w.supervisor).sessions_without_note == 0
    fd = today.summary(db, w.front_desk)
    assert fd.sessions_without_note is None and fd.awaiting_my_cosign is None


# -- privacy and audit ----------------------------------------------------------------------
@pytest.mark.parametrize("role", ["front_desk", "billing"])
def test_front_desk_and_billing_refused(env: Env, role: str) -> None:
    w, db = env.world, env.db
    actor = w.actors()[role]
    with pytest.raises(PermissionDenied):
        notes.create_note(db, actor, _draft(w, _today(db)))
    with pytest.raises(PermissionDenied):
        notes.read_note(db, actor, w.note_own)
    with pytest.raises(PermissionDenied):
        notes.print_note(db, actor, w.note_own, "/tmp/never.pdf")
    with pytest.raises(PermissionDenied):
        notes.my_drafts(db, actor)
    assert not Path("/tmp/never.pdf").exists()


def test_therapist_refused_outside_caseload_and_admin_cannot_write(env: Env) -> None:
    w, db = env.world, env.db
    draft = _draft(w, _today(db))
    draft.client_id = w.client_other
    with pytest.raises(PermissionDenied, match="caseload"):
        notes.create_note(db, w.therapist, draft)
    with db.session() as s:
        denied = s.exec(
            select(AuditEvent).where(
                AuditEvent.action == "permission_denied", AuditEvent.client_id == w.client_other
            )
        ).all()
        assert denied and denied[-1].user_id == w.therapist.user_id
    with pytest.raises(PermissionDenied):
        notes.create_note(db, w.admin, _draft(w, _today(db)))
    assert notes.read_note(db, w.admin, w.note_own).sections["Data"] == "SECRET-NOTE-TEXT"
    # only the author edits or signs a draft
    saved = notes.create_note(db, w.therapist, _draft(w, _today(db)))
    with pytest.raises(PermissionDenied):
        notes.sign_note(db, w.supervisor, saved.id, saved.version)


def test_every_view_and_print_is_audited(env: Env, tmp_path: Path) -> None:
    w, db = env.world, env.db
    saved = notes.create_note(db, w.therapist, _draft(w, _today(db)))
    notes.read_note(db, w.therapist, saved.id)
    notes.read_note(db, w.supervisor, saved.id)
    reads = _audit(db, "read", "note", saved.id)
    assert [r.user_id for r in reads] == [w.therapist.user_id, w.supervisor.user_id]
    assert all(r.client_id == w.client_own for r in reads)
    assert _audit(db, "create", "note", saved.id)
    notes.print_note(db, w.therapist, saved.id, tmp_path / "n.pdf")
    prints = _audit(db, "print", "note", saved.id)
    assert len(prints) == 1 and prints[0].client_id == w.client_own
    with pytest.raises(NotFoundError):
        notes.read_note(db, w.therapist, 999999)


# -- printing ------------------------------------------------------------------------------
@pytest.mark.parametrize("part2", [True, False])
def test_note_pdf_text(env: Env, tmp_path: Path, part2: bool) -> None:
    w, db = env.world, env.db
    with db.session() as s:
        client = s.get(Client, w.client_own)
        assert client is not None
        client.part2 = part2
        s.add(client)
        mrn = client.mrn
    sid = _individual(env)
    draft = _draft(w, _today(db), "BIRP", sid)
    draft.sections["Response"] = "Long response. " * 400  # forces more than one page
    draft.risk_suicidal = True
    draft.safety_plan = "Call 988 or the on-call clinician."
    saved = notes.create_note(db, w.therapist, draft)
    notes.sign_note(db, w.therapist, saved.id, saved.version)
    add = notes.add_addendum(db, w.therapist, saved.id, "Addendum: family contacted.")
    notes.sign_addendum(db, w.therapist, add.id, add.version)
    out = notes.print_note(db, w.therapist, saved.id, tmp_path / "note.pdf")
    pages = pdf_pages(out)
    assert len(pages) >= 2
    full = "\n".join(pages)
    for needle in (
        "Test Clinic",
        "Progress Note (BIRP)",
        "Canary Ownclient",
        "01/02/1990",
        f"MRN: {mrn}",
        "Behavior",
        "Tearful at start.",
        "Intervention",
        "DBT distress tolerance.",
        "Plan",
        "Daily diary card.",
        "Suicidal ideation: YES",
        "Call 988 or the on-call clinician.",
        "Electronically signed by Theo Rapist",
        "Addendum: family contacted.",
        "Signed by Theo Rapist",
    ):
        assert needle in full, needle
    for page in pages:  # identifiers and (for Part 2) the notice on every page
        assert "Canary Ownclient" in page
        assert (PART2_NOTICE in page) is part2
    # every print passes the disclosure gate: recorded (internal use by default); a Part 2
    # note given to another party without a consent is refused and leaves no file
    from iopdesk.models import Disclosure
    from iopdesk.services.disclosures import ConsentRequired, Release

    with db.session() as s:
        kinds = s.exec(select(Disclosure.kind).where(Disclosure.client_id == w.client_own)).all()
    assert kinds == ["internal"]
    other = tmp_path / "to-provider.pdf"
    from iopdesk.services import recipients

    recipients.add_recipient(db, w.admin, "Lakeside Behavioral Health", type="provider")
    release = Release("disclosure", "Lakeside Behavioral Health", "treatment")
    if part2:
        with pytest.raises(ConsentRequired):
            notes.print_note(db, w.therapist, saved.id, other, release=release)
        assert not other.exists()
    else:
        notes.print_note(db, w.therapist, saved.id, other, release=release)
        assert other.exists()


def test_note_pdf_page_image(env: Env, tmp_path: Path) -> None:
    """Render page 1 with pdftoppm (looked at by hand; docs/screenshots/note-pdf.png)."""
    w, db = env.world, env.db
    sid = _individual(env)
    saved = notes.create_note(db, w.therapist, _draft(w, _today(db), "SOAP", sid))
    notes.sign_note(db, w.therapist, saved.id, saved.version)
    out = notes.print_note(db, w.therapist, saved.id, tmp_path / "note.pdf")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(out), str(tmp_path / "p")],
        check=True,
    )
    png = next(tmp_path.glob("p*.png"))
    assert png.stat().st_size > 5000


def test_lock_migration_downgrades_and_upgrades(env: Env) -> None:
    from alembic import command

    from iopdesk.migrations import runner

    w, db = env.world, env.db
    saved = notes.create_note(db, w.therapist, _draft(w, _today(db)))
    notes.sign_note(db, w.therapist, saved.id, saved.version)
    update = text("UPDATE note SET safety_plan = :v WHERE id = :id")
    cfg = runner.config()
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
        conn.commit()
    with db.engine.begin() as conn:  # without 0002 nothing stops a raw edit
        conn.execute(update, {"v": "tampered", "id": saved.id})
    runner.upgrade(db.engine)  # (reading notes needs the newer columns back)
    assert not notes.verify_note(db, w.therapist, saved.id)  # ... but the hash shows it
    with pytest.raises(sa_exc.DBAPIError), db.engine.begin() as conn:
        conn.execute(update, {"v": "again", "id": saved.id})
