"""MRNs unique ignoring case: 'm000001' and 'M000001' are the same client

Revision ID: 0007_pg_hardening
Revises: 0011_ux
Create Date: 2026-12-06 02:20:00

A unique index on lower(mrn) (an expression index, on SQLite and PostgreSQL). Surrounding space
never reaches the column (every entry path strips it). A database that already holds two MRNs
differing only in case is not changed: the upgrade stops with a plain message naming them
(record IDs and MRNs only), to be merged or renumbered by the clinic first.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_pg_hardening"
down_revision = "0011_ux"
branch_labels = None
depends_on = None

INDEX = "ux_client_mrn_nocase"


def upgrade() -> None:
    bind = op.get_bind()
    clashes = bind.execute(
        sa.text(
            "SELECT lower(mrn), count(*) FROM client GROUP BY lower(mrn) HAVING count(*) > 1 "
            "ORDER BY lower(mrn)"
        )
    ).all()
    if clashes:
        from iopdesk.errors import DatabaseError

        shown = ", ".join(f"{row[0]} ({row[1]} clients)" for row in clashes[:10])
        raise DatabaseError(
            "This database holds MRNs that differ only in upper/lower case: "
            f"{shown}. IOPDesk now treats them as the same MRN. Give each client a distinct "
            "MRN with the previous version of IOPDesk, then open the database again; nothing "
            "was changed."
        )
    op.create_index(INDEX, "client", [sa.text("lower(mrn)")], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="client")
