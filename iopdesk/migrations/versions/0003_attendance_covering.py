"""attendance covering indexes, and an end-date index for current enrollments

Revision ID: 0003_attendance_covering
Revises: 0002
Create Date: 2026-11-27 23:55:00

The weekly-hours dashboard and its history read attendance by session (one week's held
sessions) and by client (a client's rows, e.g. for an unexcused-absence run): with the status
and minutes in the index those reads never touch the attendance table itself. Each covering
index starts with the column of the single-column index it replaces, so every lookup those
served is served as before. "Enrolled during this week" is `end_date IS NULL OR end_date >=
first day`: with an index on end_date that reads the few current enrollments instead of every
enrollment the clinic ever had.

SQLite plans by the statistics in sqlite_stat1 when a database has them (ANALYZE was run):
an index without statistics then loses to an older one that has them even where it is the
better choice, so those tables' statistics are refreshed here. A database without statistics
is left without them.
"""

from alembic import op

revision = "0003_attendance_covering"
down_revision = "0002"
branch_labels = None
depends_on = None

COVERING = (
    # (new index, its columns, the single-column index it replaces)
    (
        "ix_attendance_session_covering",
        ["session_id", "client_id", "status", "minutes"],
        "ix_attendance_session_id",
    ),
    (
        "ix_attendance_client_covering",
        ["client_id", "session_id", "status", "minutes"],
        "ix_attendance_client_id",
    ),
)
END_DATE = (("ix_trackenrollment_end_date", "trackenrollment"),)


def _refresh_sqlite_statistics() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return  # PostgreSQL keeps per-column statistics: a new index needs nothing
    has_stats = bind.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
    ).first()
    if has_stats is not None:
        for table in ("attendance", *(table for _, table in END_DATE)):
            op.execute(f"ANALYZE {table}")


def upgrade() -> None:
    for name, columns, replaced in COVERING:
        op.create_index(name, "attendance", columns, unique=False)
        op.drop_index(replaced, table_name="attendance")
    for name, table in END_DATE:
        op.create_index(name, table, ["end_date"], unique=False)
    _refresh_sqlite_statistics()


def downgrade() -> None:
    for name, table in END_DATE:
        op.drop_index(name, table_name=table)
    for name, columns, replaced in COVERING:
        op.create_index(replaced, "attendance", [columns[0]], unique=False)
        op.drop_index(name, table_name="attendance")
    _refresh_sqlite_statistics()
