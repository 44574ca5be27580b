"""note lock: the database refuses to change or delete a signed note, group note or addendum

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 21:30:00

Signing, co-signing (once) and voiding still work: they only touch the signature, co-signature,
void and bookkeeping columns. Everything that is the signed content is frozen, so a correction
can only be an addendum, on both SQLite and PostgreSQL.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Columns that are the signed record; any change to them after signing is refused.
NOTE_LOCKED = (
    "client_id",
    "session_id",
    "group_note_id",
    "author_staff_id",
    "format",
    "template_id",
    "service_date",
    "content_json",
    "modalities",
    "goals_addressed",
    "risk_suicidal",
    "risk_homicidal",
    "safety_plan",
    "service_minutes",
    "status",
    "signed_by",
    "signed_at",
    "content_sha256",
    "late_entry",
    "cosign_required",
)
GROUP_LOCKED = (
    "session_id",
    "author_staff_id",
    "topic",
    "interventions",
    "modalities",
    "narrative",
    "status",
)
ADDENDUM_LOCKED = ("note_id", "author_staff_id", "text", "signed_by", "signed_at", "content_sha256")

# (table, condition on OLD that makes the row locked, locked columns, once-only columns)
LOCKS = (
    ("note", "OLD.status = 'signed'", NOTE_LOCKED, ("cosigned_by", "cosigned_at")),
    ("groupnote", "OLD.status = 'signed'", GROUP_LOCKED, ()),
    ("noteaddendum", "OLD.signed_at IS NOT NULL", ADDENDUM_LOCKED, ()),
)


def _changed(columns: tuple[str, ...], distinct: str) -> str:
    return " OR ".join(f"NEW.{c} {distinct} OLD.{c}" for c in columns)


def _once(columns: tuple[str, ...], distinct: str) -> str:
    return " OR ".join(f"(OLD.{c} IS NOT NULL AND NEW.{c} {distinct} OLD.{c})" for c in columns)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, locked, columns, once in LOCKS:
            changed = _changed(columns, "IS NOT")
            if once:
                changed += " OR " + _once(once, "IS NOT")
            op.execute(
                f"CREATE TRIGGER {table}_signed_no_update BEFORE UPDATE ON {table} "
                f"WHEN {locked} AND ({changed}) "
                f"BEGIN SELECT RAISE(ABORT, '{table} is signed and locked: add an addendum'); END"
            )
            op.execute(
                f"CREATE TRIGGER {table}_signed_no_delete BEFORE DELETE ON {table} "
                f"WHEN {locked} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is signed and cannot be deleted'); END"
            )
        return
    for table, locked, columns, once in LOCKS:
        changed = _changed(columns, "IS DISTINCT FROM")
        if once:
            changed += " OR " + _once(once, "IS DISTINCT FROM")
        op.execute(
            f"""
            CREATE FUNCTION iopdesk_{table}_lock() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    IF {locked} THEN
                        RAISE EXCEPTION '{table} is signed and cannot be deleted';
                    END IF;
                    RETURN OLD;
                END IF;
                IF {locked} AND ({changed}) THEN
                    RAISE EXCEPTION '{table} is signed and locked: add an addendum';
                END IF;
                RETURN NEW;
            END;
            $$
            """
        )
        op.execute(
            f"CREATE TRIGGER {table}_signed_lock BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION iopdesk_{table}_lock()"
        )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, *_ in LOCKS:
        if sqlite:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_signed_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_signed_no_delete")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_signed_lock ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS iopdesk_{table}_lock()")
