"""The role matrix: every service action x every role, allowed or refused as designed.

The expected matrix is written out here from the design (minimum necessary access), not read
from iopdesk.services.permissions:
- front desk: census, charts (demographics), client edits; no clinical content, no admin;
- therapist: the same plus clinical content of their own caseload;
- supervisor: clinical content of every client;
- billing: census and charts for billing, no client edits, no clinical content, no admin;
- admin: users, settings, audit log; may read clinical content but never write it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import select

from iopdesk.db import Database
from iopdesk.errors import PermissionDenied
from iopdesk.models import AuditEvent, Client, User
from iopdesk.models.enums import Role
from iopdesk.services import audit, auth, clients, clinic, notes, today
from iopdesk.services.actor import Actor
from iopdesk.services.permissions import ROLE_PERMISSIONS, Perm
from tests.conftest import Env, World

ROLES = ("front_desk", "therapist", "supervisor", "billing", "admin")
EVERYONE = frozenset(ROLES)
ADMIN_ONLY = frozenset({"admin"})
CHART_EDITORS = frozenset({"front_desk", "therapist", "supervisor", "admin"})
CLINICAL_READERS = frozenset({"therapist", "supervisor", "admin"})


def _version(db: Database, model: Any, record_id: int) -> int:
    with db.session() as s:
        return int(s.get(model, record_id).version)


Call = Callable[[World, Database, Actor], Any]

MATRIX: dict[str, tuple[Call, frozenset[str]]] = {
    "audit.list_events": (lambda w, db, a: audit.list_events(db, a), ADMIN_ONLY),
    "auth.add_user": (
        lambda w, db, a: auth.add_user(db, a, f"new.{a.username}", "a-new-password", "billing"),
        ADMIN_ONLY,
    ),
    "auth.list_users": (lambda w, db, a: auth.list_users(db, a), ADMIN_ONLY),
    "auth.set_user_access": (
        lambda w, db, a: auth.set_user_access(
            db, a, w.billing.user_id, _version(db, User, w.billing.user_id), active=True
        ),
        ADMIN_ONLY,
    ),
    "auth.reset_password": (
        lambda w, db, a: auth.reset_password(db, a, w.billing.user_id, "temporary-pass-1"),
        ADMIN_ONLY,
    ),
    "clinic.update_clinic": (
        lambda w, db, a: clinic.update_clinic(
            db, a, clinic.get_clinic(db).version, {"phone": "(555) 000-1111"}
        ),
        ADMIN_ONLY,
    ),
    "clinic.set_setting": (
        lambda w, db, a: clinic.set_setting(db, a, "inactivity_lock_minutes", 10),
        ADMIN_ONLY,
    ),
    "clients.list_census": (lambda w, db, a: clients.list_census(db, a), EVERYONE),
    "clients.open_chart": (lambda w, db, a: clients.open_chart(db, a, w.client_own), EVERYONE),
    "clients.create_client": (
        lambda w, db, a: clients.create_client(
            db, a, clients.ClientInput("Role", f"Test {a.username}", date(1990, 1, 1))
        ),
        CHART_EDITORS,
    ),
    "clients.update_client": (
        lambda w, db, a: clients.update_client(
            db, a, w.client_own, _version(db, Client, w.client_own), {"city": "Toledo"}
        ),
        CHART_EDITORS,
    ),
    "notes.list_note_headers": (
        lambda w, db, a: notes.list_note_headers(db, a, w.client_own),
        EVERYONE,
    ),
    "notes.read_note": (lambda w, db, a: notes.read_note(db, a, w.note_own), CLINICAL_READERS),
    "today.summary": (lambda w, db, a: today.summary(db, a), EVERYONE),
}


def state(db: Database) -> tuple[Any, ...]:
    """Everything a refused call must leave as it was."""
    with db.engine.connect() as conn:
        return tuple(
            conn.execute(text(sql)).all()
            for sql in (
                "SELECT count(*) FROM audit_event",
                "SELECT id, version, city, last_name FROM client ORDER BY id",
                "SELECT id, version, password_hash, active FROM app_user ORDER BY id",
                "SELECT key, value FROM setting ORDER BY key",
                "SELECT version, phone FROM clinic",
            )
        )


@pytest.mark.parametrize("action", list(MATRIX))
def test_role_matrix(env: Env, action: str) -> None:
    call, allowed = MATRIX[action]
    wrong: list[str] = []
    for role, actor in env.world.actors().items():
        before = state(env.db)
        try:
            call(env.world, env.db, actor)
        except PermissionDenied as exc:
            assert exc.message and "\n" not in exc.message
            if state(env.db) != before:
                wrong.append(f"{role}: refused, but the call changed the database")
            if role in allowed:
                wrong.append(f"{role}: refused ({exc.message}) but should be allowed")
        else:
            if role not in allowed:
                wrong.append(f"{role}: allowed but should be refused")
    assert not wrong, f"{action}: " + "; ".join(wrong)


def test_matrix_covers_every_role() -> None:
    assert {r.value for r in Role} == set(ROLES)


def test_permission_table_agrees_with_the_design() -> None:
    """Spot checks of the permission table against the designed access."""

    def holders(perm: Perm) -> set[str]:
        return {role.value for role, perms in ROLE_PERMISSIONS.items() if perm in perms}

    assert set(ROLE_PERMISSIONS) == set(Role)
    assert holders(Perm.CLINICAL_VIEW) == CLINICAL_READERS
    assert holders(Perm.CLINICAL_WRITE) == {"therapist", "supervisor"}  # admin: no clinical write
    assert holders(Perm.NOTE_COSIGN) == {"supervisor"}
    for perm in (Perm.USERS_MANAGE, Perm.SETTINGS_MANAGE, Perm.AUDIT_VIEW):
        assert holders(perm) == ADMIN_ONLY, perm
    assert holders(Perm.BILLING_EXPORT) == {"billing", "admin"}
    assert holders(Perm.CLIENT_EDIT) == CHART_EDITORS
    assert holders(Perm.CENSUS_VIEW) == holders(Perm.CLIENT_VIEW) == EVERYONE


# -- clinical content: caseload and minimum necessary --------------------------------------


def test_therapist_reads_own_caseload_only_and_denial_is_audited(env: Env) -> None:
    w = env.world
    own = notes.read_note(env.db, w.therapist, w.note_own)
    assert own.sections["Data"] == "SECRET-NOTE-TEXT"
    assert clients.open_chart(env.db, w.therapist, w.client_own).can_view_clinical
    assert not clients.open_chart(env.db, w.therapist, w.client_other).can_view_clinical

    with pytest.raises(PermissionDenied) as caught:
        notes.read_note(env.db, w.therapist, w.note_other)
    assert "caseload" in caught.value.message
    with env.db.session() as s:
        denied = s.exec(select(AuditEvent).where(AuditEvent.action == "permission_denied")).all()
    assert [(e.user_id, e.entity, e.entity_id, e.client_id) for e in denied] == [
        (w.therapist.user_id, "note", str(w.note_other), w.client_other)
    ]
    assert audit.verify(env.db).ok


def test_supervisor_and_admin_read_every_client(env: Env) -> None:
    w = env.world
    for actor in (w.supervisor, w.admin):
        for note_id, client_id in ((w.note_own, w.client_own), (w.note_other, w.client_other)):
            content = notes.read_note(env.db, actor, note_id)
            assert content.header.client_id == client_id
            assert content.sections["Data"] == "SECRET-NOTE-TEXT"


@pytest.mark.parametrize("role", ["front_desk", "billing"])
def test_front_desk_and_billing_never_receive_note_content(env: Env, role: str) -> None:
    w = env.world
    actor = w.actors()[role]
    for note_id in (w.note_own, w.note_other):
        with pytest.raises(PermissionDenied) as caught:
            notes.read_note(env.db, actor, note_id)
        assert "clinical" in caught.value.message
    for client_id in (w.client_own, w.client_other):
        headers = notes.list_note_headers(env.db, actor, client_id)
        assert len(headers) == 1
        header = headers[0]
        for attr in ("sections", "content", "content_json", "safety_plan", "header"):
            assert not hasattr(header, attr), attr
        assert "SECRET-NOTE-TEXT" not in repr(dataclasses.asdict(header))
        assert not clients.open_chart(env.db, actor, client_id).can_view_clinical


def test_today_summary_shows_each_role_only_its_own_counts(env: Env) -> None:
    w = env.world
    fd = today.summary(env.db, w.front_desk)
    assert fd.my_unsigned_notes is None and fd.locked_accounts is None
    assert today.summary(env.db, w.billing).locked_accounts is None
    assert today.summary(env.db, w.therapist).my_unsigned_notes == 0
    adm = today.summary(env.db, w.admin)
    assert adm.locked_accounts == 0 and adm.my_unsigned_notes is None
