"""amendment deadlines, extension, statement of disagreement and rebuttal (HIPAA 164.526)

Revision ID: 0005_amendment_deadlines
Revises: 0008_clinical_safety
Create Date: 2026-12-06 02:00:00

A clinic must act on a request to amend within 60 days of receiving it, may extend that once
by up to 30 days with a written reason, and links the client's statement of disagreement and
its rebuttal to the record after a denial. Requests already on file get the deadline their
received date gives them (received + 60 days), computed here in Python so the same code runs
on SQLite and PostgreSQL.
"""

from datetime import timedelta

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005_amendment_deadlines"
down_revision = "0008_clinical_safety"
branch_labels = None
depends_on = None

TABLE = "amendmentrequest"
TEXT_COLUMNS = ("extension_reason", "disagreement", "rebuttal")
DATE_COLUMNS = ("extended_on", "disagreement_date", "rebuttal_date")
USER_COLUMNS = ("extended_by", "rebuttal_by")


def _fk(column: str) -> str:
    return f"fk_{TABLE}_{column}_app_user"


def upgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_date", sa.Date(), nullable=True))
        for name in TEXT_COLUMNS:
            batch_op.add_column(
                sa.Column(
                    name, sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""
                )
            )
        for name in DATE_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Date(), nullable=True))
        for name in USER_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))
            batch_op.create_foreign_key(_fk(name), "app_user", [name], ["id"])
    bind = op.get_bind()
    table = sa.table(
        TABLE, sa.column("id", sa.Integer()), sa.column("received_date", sa.Date()),
        sa.column("due_date", sa.Date()),
    )  # fmt: skip
    rows = bind.execute(sa.select(table.c.id, table.c.received_date)).all()
    for request_id, received in rows:
        bind.execute(
            table.update()
            .where(table.c.id == request_id)
            .values(due_date=received + timedelta(days=60))
        )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.alter_column("due_date", existing_type=sa.Date(), nullable=False)
        batch_op.create_index(batch_op.f("ix_amendmentrequest_due_date"), ["due_date"])


def downgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_amendmentrequest_due_date"))
        for name in USER_COLUMNS:
            batch_op.drop_constraint(_fk(name), type_="foreignkey")
            batch_op.drop_column(name)
        for name in (*DATE_COLUMNS, *TEXT_COLUMNS, "due_date"):
            batch_op.drop_column(name)
