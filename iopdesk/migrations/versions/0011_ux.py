"""risk screen done: a note records whether the risk screen was done at all

Revision ID: 0011_ux
Revises: 0010_electronic_claims
Create Date: 2026-12-06 02:00:00

Before this, two unchecked boxes printed as "Risk screen: negative" although nobody had asked.
`risk_screened` is NULL for notes written before (the screen was not recorded; they print as not
done unless an ideation box was checked) and is part of the signed record: the database refuses
to change it on a signed note, like the other risk-screen columns.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_ux"
down_revision = "0010_electronic_claims"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("note") as batch:
        batch.add_column(sa.Column("risk_screened", sa.Boolean(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER note_risk_screened_lock BEFORE UPDATE ON note "
            "WHEN OLD.status = 'signed' AND NEW.risk_screened IS NOT OLD.risk_screened "
            "BEGIN SELECT RAISE(ABORT, 'note is signed and locked: add an addendum'); END"
        )
        return
    op.execute(
        """
        CREATE FUNCTION iopdesk_note_risk_screened_lock() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.status = 'signed' AND NEW.risk_screened IS DISTINCT FROM OLD.risk_screened
            THEN
                RAISE EXCEPTION 'note is signed and locked: add an addendum';
            END IF;
            RETURN NEW;
        END;
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER note_risk_screened_lock BEFORE UPDATE ON note "
        "FOR EACH ROW EXECUTE FUNCTION iopdesk_note_risk_screened_lock()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS note_risk_screened_lock")
    else:
        op.execute("DROP TRIGGER IF EXISTS note_risk_screened_lock ON note")
        op.execute("DROP FUNCTION IF EXISTS iopdesk_note_risk_screened_lock()")
    with op.batch_alter_table("note") as batch:
        batch.drop_column("risk_screened")
