"""Service declarations: permission, one transaction, audit and created/updated-by in one place."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from sqlmodel import Session, col, func, select

import iopdesk
from iopdesk.errors import PermissionDenied, UserError, ValidationError
from iopdesk.models import AuditEvent, NoteTemplate, Staff
from iopdesk.services import audit, notes, staff
from iopdesk.services.actor import Actor
from iopdesk.services.audit import Action
from iopdesk.services.declare import Arg, Audited, about, database_of, service
from iopdesk.services.permissions import Perm
from tests.conftest import Env


@service(
    Perm.SETTINGS_MANAGE,
    audit=Audited(Action.CREATE, "notetemplate", entity_id=lambda t: t.id),
)
def _add_template(session: Session, actor: Actor, name: str, fail: bool = False) -> NoteTemplate:
    t = NoteTemplate(name=name, sections_json='["Data"]')
    session.add(t)
    session.flush()
    if fail:
        raise UserError("stopped half-way")
    return t


def _events(env: Env) -> int:
    with env.db.read() as s:
        return int(s.exec(select(func.count()).select_from(AuditEvent)).one())


def test_declared_service_checks_audits_and_fills_who(env: Env) -> None:
    before = _events(env)
    t = _add_template(env.db, env.world.admin, "Intake SOAP")
    assert t.created_by == env.world.admin.user_id and t.updated_by == env.world.admin.user_id
    with env.db.read() as s:
        last = s.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()  # type: ignore[union-attr]
    assert last is not None
    assert (last.action, last.entity, last.entity_id) == ("create", "notetemplate", str(t.id))
    assert _events(env) == before + 1


def test_refused_before_touching_the_database(env: Env) -> None:
    before = _events(env)
    with pytest.raises(PermissionDenied):
        _add_template(env.db, env.world.front_desk, "Not mine")
    assert _events(env) == before


def test_failure_rolls_back_the_change_and_its_audit_row(env: Env) -> None:
    before = _events(env)
    with pytest.raises(UserError):
        _add_template(env.db, env.world.admin, "Half", fail=True)
    with env.db.read() as s:
        names = s.exec(select(NoteTemplate.name)).all()
    assert "Half" not in names
    assert _events(env) == before


def test_read_only_services_cannot_audit() -> None:
    with pytest.raises(ValueError):
        service(None, audit=Audited(Action.READ, "x"), read_only=True)


# -- the real services, declared -------------------------------------------------------------
def _last_event(env: Env) -> AuditEvent:
    with env.db.read() as s:
        last = s.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()  # type: ignore[union-attr]
    assert last is not None
    return last


def _staff_input(code: str) -> staff.StaffInput:
    return staff.StaffInput(
        staff_code=code, first_name="Dana", last_name="Reyes", roles="therapist"
    )


def test_real_service_refuses_without_permission_with_the_user_message(env: Env) -> None:
    before = _events(env)
    with pytest.raises(PermissionDenied) as refused:
        staff.create_staff(env.db, env.world.front_desk, _staff_input("S-901"))
    assert str(refused.value) == "Your role does not allow this action. Ask an administrator."
    with pytest.raises(PermissionDenied, match="Only an administrator can manage user accounts"):
        staff.link_user(env.db, env.world.supervisor, env.world.admin.user_id, None)
    assert _events(env) == before
    with env.db.read() as s:
        assert s.exec(select(Staff).where(Staff.staff_code == "S-901")).first() is None


def test_real_service_writes_one_row_with_the_declared_action(env: Env) -> None:
    before = _events(env)
    made = staff.create_staff(env.db, env.world.admin, _staff_input("S-902"))
    assert _events(env) == before + 1
    last = _last_event(env)
    assert (last.action, last.entity, last.entity_id) == (Action.CREATE, "staff", str(made.id))
    assert last.user_id == env.world.admin.user_id

    updated = staff.update_staff(
        env.db, env.world.admin, made.id, made.version, _staff_input("S-903")
    )
    assert _events(env) == before + 2
    last = _last_event(env)
    # entity_id comes from the declared argument, Arg("staff_id")
    assert (last.action, last.entity, last.entity_id) == (Action.UPDATE, "staff", str(made.id))
    assert updated.staff_code == "S-903"

    # a body-supplied detail (about) and a declared flag
    staff.link_user(env.db, env.world.admin, env.world.admin.user_id, None)
    last = _last_event(env)
    assert (last.action, last.entity, last.detail, last.flagged) == (
        Action.USER_CHANGE,
        "app_user",
        "staff_id=None",
        True,
    )
    assert last.entity_id == str(env.world.admin.user_id)


def test_real_service_failure_writes_no_row_and_changes_nothing(env: Env) -> None:
    staff.create_staff(env.db, env.world.admin, _staff_input("S-904"))
    before = _events(env)
    with pytest.raises(ValidationError, match="Staff ID S-904 is already used"):
        staff.create_staff(env.db, env.world.admin, _staff_input("S-904"))
    with pytest.raises(UserError):
        staff.update_staff(env.db, env.world.admin, 999_999, 1, _staff_input("S-905"))
    assert _events(env) == before


def test_who_columns_are_filled_by_the_one_hook_on_insert_and_update(env: Env) -> None:
    made = staff.create_staff(env.db, env.world.supervisor, _staff_input("S-906"))
    with env.db.read() as s:
        row = s.get(Staff, made.id)
        assert row is not None
        assert (row.created_by, row.updated_by) == (env.world.supervisor.user_id,) * 2
        first_update = row.updated_at

    # An ORM change in a declared service: the hook stamps who and when.
    @service(Perm.STAFF_MANAGE)
    def rename(session: Session, actor: Actor, staff_id: int) -> None:
        obj = session.get(Staff, staff_id)
        assert obj is not None
        obj.first_name = "Dee"
        session.add(obj)

    rename(env.db, env.world.admin, made.id)
    with env.db.read() as s:
        row = s.get(Staff, made.id)
        assert row is not None
        assert row.first_name == "Dee"
        assert row.created_by == env.world.supervisor.user_id
        assert row.updated_by == env.world.admin.user_id
        assert row.updated_at >= first_update

    # A versioned UPDATE statement (update_versioned) takes the same columns.
    staff.update_staff(env.db, env.world.supervisor, made.id, row.version, _staff_input("S-906"))
    with env.db.read() as s:
        row = s.get(Staff, made.id)
        assert row is not None
        assert row.updated_by == env.world.supervisor.user_id
        assert row.created_by == env.world.supervisor.user_id


def test_a_session_without_an_actor_is_left_alone(env: Env) -> None:
    with env.db.session() as s:
        t = NoteTemplate(name="Plain", sections_json='["Data"]')
        s.add(t)
        s.flush()
        assert t.created_by is None


@service(
    Perm.SETTINGS_MANAGE,
    audit=Audited(
        lambda t: Action.UPDATE if t.name.endswith("again") else Action.CREATE,
        "notetemplate",
        entity_id=Arg("name"),
    ),
)
def _add_or_skip(session: Session, actor: Actor, name: str, skip: bool = False) -> NoteTemplate:
    t = NoteTemplate(name=name, sections_json='["Data"]')
    session.add(t)
    session.flush()
    if skip:
        about(session, skip=True)
    return t


def test_action_from_the_result_and_skipping_the_row(env: Env) -> None:
    before = _events(env)
    _add_or_skip(env.db, env.world.admin, "T again")
    last = _last_event(env)
    assert (last.action, last.entity_id) == (Action.UPDATE, "T again")
    _add_or_skip(env.db, env.world.admin, "T once")
    assert _last_event(env).action == Action.CREATE
    _add_or_skip(env.db, env.world.admin, "T quiet", skip=True)
    assert _events(env) == before + 2


# -- audit actions are one enum, never a string --------------------------------------------
_ACTION_POSITION = {"record": 2, "record_now": 2, "Audited": 0, "about": None}


def _string_actions(tree: ast.AST) -> list[int]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
        if name not in _ACTION_POSITION:
            continue
        if name in ("record", "record_now") and not (
            isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "audit"
        ):
            continue  # another module's record(), e.g. disclosures.record
        pos = _ACTION_POSITION[name]
        candidates = [kw.value for kw in node.keywords if kw.arg == "action"]
        if pos is not None and len(node.args) > pos:
            candidates.append(node.args[pos])
        if any(_is_text(value) for value in candidates):
            found.append(node.lineno)
    return found


def _is_text(expr: ast.expr) -> bool:
    """The action an expression can evaluate to is a str literal (conditions do not count)."""
    if isinstance(expr, ast.Constant):
        return isinstance(expr.value, str)
    if isinstance(expr, ast.JoinedStr):
        return True
    if isinstance(expr, ast.IfExp):
        return _is_text(expr.body) or _is_text(expr.orelse)
    if isinstance(expr, ast.BoolOp):
        return any(_is_text(v) for v in expr.values)
    if isinstance(expr, ast.Lambda):
        return _is_text(expr.body)
    return False


def test_no_audit_action_is_a_string_literal() -> None:
    root = Path(iopdesk.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{path.relative_to(root)}:{line}" for line in _string_actions(tree)]
    assert offenders == []


def test_the_scan_catches_a_string_action() -> None:
    bad = ast.parse(
        "audit.record(s, a, 'open_chart', entity='x')\n"
        "audit.record_now(db, a, action='login')\n"
        "Audited('create', 'staff')\n"
        "about(s, action='x' if y else Action.READ)\n"
        "Audited(lambda r: f'{r}', 'staff')\n"
        "disclosures.record(s, a, 'plan')\n"
        "audit.record(s, a, Action.BACKUP if status == 'ok' else Action.BACKUP_FAILED)\n"
    )
    assert _string_actions(bad) == [1, 2, 3, 4, 5]


def test_any_of_permissions_refuses_with_its_own_message(env: Env) -> None:
    before = _events(env)
    with pytest.raises(PermissionDenied) as refused:
        notes.create_template(env.db, env.world.therapist, "Mine", ["Data"])
    assert str(refused.value) == "Only a supervisor or an administrator can define note templates."
    assert _events(env) == before
    made = notes.create_template(env.db, env.world.supervisor, "Brief", ["Data", "Plan"])
    last = _last_event(env)
    assert (last.action, last.entity, last.entity_id) == (
        Action.CREATE,
        "notetemplate",
        str(made.template_id),
    )
    notes.set_template_active(env.db, env.world.admin, made.template_id or 0, False)
    last = _last_event(env)
    assert (last.action, last.entity_id, last.detail) == (
        Action.UPDATE,
        str(made.template_id),
        "retired",
    )
    assert _events(env) == before + 2


@service(Perm.SETTINGS_MANAGE, audit=Audited(Action.CREATE, "notetemplate"))
def _written_first(session: Session, actor: Actor, name: str) -> None:
    t = NoteTemplate(name=name, sections_json='["Data"]')
    session.add(t)
    session.flush()
    about(session, entity_id=t.id, now=True)
    audit.record(session, actor, Action.UPDATE, entity="follow_up", entity_id=t.id)


def test_about_now_writes_the_declared_row_before_the_rest(env: Env) -> None:
    before = _events(env)
    _written_first(env.db, env.world.admin, "Ordered")
    with env.db.read() as s:
        newest = select(AuditEvent).where(col(AuditEvent.id) > before)
        rows = s.exec(newest.order_by(col(AuditEvent.id))).all()
    assert [(r.action, r.entity) for r in rows] == [
        (Action.CREATE, "notetemplate"),
        (Action.UPDATE, "follow_up"),
    ]


def test_callers_see_the_db_actor_signature() -> None:
    params = list(inspect.signature(notes.create_note).parameters)
    assert params == ["db", "actor", "draft", "complete"]
    assert notes.create_note.__name__ == "create_note"
    assert next(iter(inspect.signature(notes.create_note.in_session).parameters)) == "session"


@service(Perm.CENSUS_VIEW, read_only=True)
def _which_db(session: Session, actor: Actor) -> object:
    return database_of(session)


def test_database_of_gives_the_body_its_database_and_nothing_outside(env: Env) -> None:
    assert _which_db(env.db, env.world.front_desk) is env.db
    with env.db.read() as s, pytest.raises(RuntimeError):
        database_of(s)


@service(Perm.SETTINGS_MANAGE, stamps=False)
def _stamped_by_hand(session: Session, actor: Actor, name: str) -> NoteTemplate:
    t = NoteTemplate(name=name, sections_json='["Data"]', created_by=None)
    session.add(t)
    session.flush()
    return t


def test_stamps_false_leaves_who_to_the_body(env: Env) -> None:
    with pytest.raises(PermissionDenied):
        _stamped_by_hand(env.db, env.world.front_desk, "Refused")
    t = _stamped_by_hand(env.db, env.world.admin, "By hand")
    assert t.created_by is None and t.updated_by is None


def test_client_intake_declared_who_from_the_hook_and_one_row_each(env: Env) -> None:
    from datetime import date

    from iopdesk.models import Client, Diagnosis, EmergencyContact, Episode, StatusChange
    from iopdesk.services import clients

    desk = env.world.front_desk
    before = _events(env)
    made = clients.create_client(
        env.db,
        desk,
        clients.ClientInput(
            "Hook",
            "Stamped",
            date(1991, 2, 3),
            diagnoses=["F41.1"],
            emergency_contacts=[clients.ContactInput("Kin Stamped", "Sister", "555 222 3333")],
        ),
    )
    last = _last_event(env)
    assert (last.action, last.entity, last.entity_id, last.client_id) == (
        Action.CREATE,
        "client",
        str(made.id),
        made.id,
    )
    moved = clients.change_status(
        env.db, env.world.admin, made.id or 0, made.version, "intake", date(2026, 11, 2)
    )
    last = _last_event(env)
    assert (last.action, last.entity_id, last.detail) == (
        Action.UPDATE,
        str(made.id),
        "status referral->intake",
    )
    assert _events(env) == before + 2
    with env.db.read() as s:
        for model in (Client, Episode, StatusChange, Diagnosis, EmergencyContact):
            key = model.id if model is Client else model.client_id  # type: ignore[attr-defined]
            first = s.exec(select(model).where(key == made.id).order_by(model.id)).first()  # type: ignore[attr-defined]
            assert first is not None and first.created_by == desk.user_id, model.__name__
        episode = s.exec(select(Episode).where(Episode.client_id == made.id)).one()
        assert episode.updated_by == env.world.admin.user_id  # changed by the status move
    assert moved.updated_by == env.world.admin.user_id
