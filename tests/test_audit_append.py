"""The cheap audit append (issue 18, sign-in save): the checkpoint is one block rewritten in
place and is parsed again only when its bytes change; the checkpoint's event is not re-read
when the head the transaction locked is that event. None of it may let a rewritten chain or
another process's checkpoint go unnoticed (both backends)."""

from __future__ import annotations

import json
import os

from sqlalchemy import text

from iopdesk.models import AuditEvent
from iopdesk.services import audit, integrity
from tests.conftest import Env
from tests.test_audit import add_events, last_id, remove_protection
from tests.test_audit_anchor import orm_events, the_key


def test_the_checkpoint_is_one_block_rewritten_in_place(env: Env) -> None:
    n = add_events(env, 2)
    path = integrity.checkpoint_path(env.db.engine)
    before = path.stat()
    assert before.st_size == integrity.CHECKPOINT_BYTES
    m = add_events(env, 3)
    after = path.stat()
    assert m == n + 3
    assert (after.st_ino, after.st_size) == (before.st_ino, integrity.CHECKPOINT_BYTES)
    # read back by what verify and the backups use, not by the cache
    anchor = integrity.read_checkpoint_file(path)
    assert anchor is not None and anchor.last_id == m and anchor.genuine(the_key(env))
    assert not path.with_name(path.name + ".tmp").exists()
    result = audit.verify(env.db)
    assert result.ok and result.anchors_checked >= 1, result.message()


def test_an_older_checkpoint_file_is_taken_over_and_padded(env: Env) -> None:
    """A checkpoint written by the earlier code (shorter JSON, no padding) stays readable and
    the next commit rewrites it as one block."""
    add_events(env, 1)
    path = integrity.checkpoint_path(env.db.engine)
    short = path.read_bytes().rstrip()
    path.write_bytes(short)
    assert integrity.read_checkpoint(env.db.engine) is not None
    m = add_events(env, 1)
    assert path.stat().st_size == integrity.CHECKPOINT_BYTES
    anchor = integrity.read_checkpoint_file(path)
    assert anchor is not None and anchor.last_id == m


def test_a_head_left_on_a_rewritten_event_is_still_caught(env: Env) -> None:
    """Someone with the key rewrites the newest event (new content, new MAC) but leaves the
    head and the checkpoint on its old MAC: the next events link to the old MAC, so the
    chain breaks right there, with or without the checkpoint check."""
    n = add_events(env, 4)
    key = the_key(env)
    row = next(e for e in orm_events(env) if e.id == n)
    remove_protection(env)
    forged = AuditEvent(**{**row.model_dump(), "detail": "nothing happened"})
    forged_mac = audit.compute_mac(key, row.prev_mac, forged)
    assert forged_mac != row.mac
    with env.db.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_event SET detail = :d, mac = :m WHERE id = :i"),
            {"d": "nothing happened", "m": forged_mac, "i": n},
        )
    add_events(env, 2)
    result = audit.verify(env.db)
    assert not result.ok and result.first_bad_id == n + 1, result.message()
    assert "link to the previous event does not match" in result.problem


def test_a_checkpoint_changed_behind_this_process_is_read_again(env: Env) -> None:
    """Another process leaves a later head in the checkpoint (same size, same timestamps): it
    is recognised by its bytes, never moved backwards, and verify reports the gap."""
    n = add_events(env, 2)
    path = integrity.checkpoint_path(env.db.engine)
    stamp = path.stat()
    with env.db.session() as s:
        keys = integrity.clinic_keys(s)
    later = integrity.head_record(keys, n + 10, "f" * 64)
    data = json.dumps(later).encode().ljust(integrity.CHECKPOINT_BYTES)
    with open(path, "r+b") as f:
        f.write(data)
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    add_events(env, 3)
    anchor = integrity.read_checkpoint_file(path)
    assert anchor is not None and anchor.last_id == n + 10
    result = audit.verify(env.db)
    assert not result.ok
    assert f"holds event {n + 10}, the database ends at event {last_id(env)}" in result.problem
