"""Service declarations: permission, one transaction, audit and created/updated-by in one place."""

from __future__ import annotations

import pytest
from sqlmodel import Session, func, select

from iopdesk.errors import PermissionDenied, UserError
from iopdesk.models import AuditEvent, NoteTemplate
from iopdesk.services.actor import Actor
from iopdesk.services.audit import Action
from iopdesk.services.declare import Audited, service
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
