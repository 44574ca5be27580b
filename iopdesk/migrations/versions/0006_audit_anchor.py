"""audit trail anchored outside the database; recovery key

Revision ID: 0006_audit_anchor
Revises: 0007_pg_hardening
Create Date: 2026-12-06 02:00:00

The audit HMAC key leaves the database: `clinic.audit_key` becomes nullable and is emptied by
the application at the first use after this upgrade (services/integrity.py), because only the
application holds the key it is re-wrapped with (derived from the database key, or the
clinic's workstation-held key on PostgreSQL). The columns added here hold the key's
fingerprint, the old key wrapped by the new one (old events stay verifiable), the recovery
key's sealed copy, the chain head's own MAC and each user's privilege MAC.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_audit_anchor"
down_revision = "0007_pg_hardening"
branch_labels = None
depends_on = None

CLINIC_TEXT = ("key_id", "audit_legacy_key", "recovery_sealed", "recovery_id", "recovery_wrapped")


def upgrade() -> None:
    with op.batch_alter_table("clinic") as batch:
        batch.alter_column("audit_key", existing_type=sa.LargeBinary(), nullable=True)
        for name in CLINIC_TEXT:
            batch.add_column(sa.Column(name, sa.String(), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("audit_legacy_last_id", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("head_mac", sa.String(), nullable=False, server_default=""))
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("priv_mac", sa.String(), nullable=True))


def downgrade() -> None:
    # recreate="never": a table copy of app_user (referenced by many tables) fails on SQLite
    # with foreign keys on; SQLite 3.35+ drops a column in place.
    with op.batch_alter_table("app_user", recreate="never") as batch:
        batch.drop_column("priv_mac")
    with op.batch_alter_table("audit_head", recreate="never") as batch:
        batch.drop_column("head_mac")
    with op.batch_alter_table("clinic", recreate="never") as batch:
        batch.drop_column("audit_legacy_last_id")
        for name in CLINIC_TEXT:
            batch.drop_column(name)
