"""attendance_day: per client and day attendance, kept up to date by the database itself

Revision ID: 0013_attendance_day
Revises: 0012_form_drafts
Create Date: 2026-12-06 07:45:00

The weekly hours dashboard joined a week's ~3,600 attendance rows to their sessions and
grouped them by client at every refresh; `attendance_day` holds that join already grouped by
(day, client): attended minutes, attended rows, rows that are not an unexcused absence and
the unexcused absences after the day's last other row (models/summaries.py). The dashboard
then reads ~1,400 small rows.

Triggers keep it right whoever writes (the app, the command line, another workstation, an
import): any change to an attendance row at a session that counts, and any change to a held
session's status, kind, date or start time (or its deletion), recomputes the affected
(client, day) rows from the base tables: delete the rows of those clients and days, insert
them again from `attendance` joined to `clinic_session` (`recompute_sql`). On SQLite a status
or minutes change that stays on the same side of "unexcused" (a sign-in sheet saved again)
updates its client-day by the difference instead: the day's order of absences is unchanged.

PostgreSQL: a transaction-level advisory lock per (client, day), taken before the recompute,
makes two workstations writing the same client's day queue, so the second recomputes from
what the first committed. SQLite has one writer at a time.

Existing data is backfilled here. SQLite drops a table's triggers when the table is
recreated (batch_alter_table on `attendance` or `clinic_session`): a later migration that
does that must call `create_triggers()` again (tests/test_hours_summary.py fails otherwise).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_attendance_day"
down_revision = "0012_form_drafts"
branch_labels = None
depends_on = None

ATTENDED = "('present', 'late', 'left_early')"
UNEXCUSED = "'absent_unexcused'"
COUNTS = "s.status = 'held' AND s.kind <> 'family_without_client'"
# the (client, day) pairs whose rows are recomputed: a condition on the day column and one
# on the client column, each a format string taking the column
_TRIGGERS = (
    "attendance_day_on_insert",
    "attendance_day_on_update",
    "attendance_day_on_status",  # SQLite only
    "attendance_day_on_move",
    "attendance_day_on_delete",
    "attendance_day_on_session_update",
    "attendance_day_on_session_delete",
)


def _minute_of_day(dialect: str) -> str:
    if dialect == "postgresql":
        return "(extract(hour FROM s.start_time) * 60 + extract(minute FROM s.start_time))::int"
    return (
        "(CAST(substr(s.start_time, 1, 2) AS INTEGER) * 60 "
        "+ CAST(substr(s.start_time, 4, 2) AS INTEGER))"
    )


def recompute_sql(dialect: str, day_cond: str, client_cond: str) -> list[str]:
    """DELETE + INSERT of the attendance_day rows whose day and client meet the conditions
    (`{col}` in each is replaced by the column)."""
    minute = _minute_of_day(dialect)
    return [
        "DELETE FROM attendance_day WHERE "
        f"{day_cond.format(col='day')} AND {client_cond.format(col='client_id')}",
        "INSERT INTO attendance_day (day, client_id, minutes, attended, others, tail) "
        "SELECT r.day, r.client_id, "
        f"sum(CASE WHEN r.status IN {ATTENDED} THEN r.minutes ELSE 0 END), "
        f"sum(CASE WHEN r.status IN {ATTENDED} THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN r.status <> {UNEXCUSED} THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN r.status = {UNEXCUSED} AND r.m > coalesce(r.mo, -1) THEN 1 ELSE 0 END) "
        "FROM (SELECT s.session_date AS day, a.client_id AS client_id, a.status AS status, "
        f"a.minutes AS minutes, {minute} AS m, "
        f"max(CASE WHEN a.status <> {UNEXCUSED} THEN {minute} END) "
        "OVER (PARTITION BY a.client_id, s.session_date) AS mo "
        "FROM clinic_session s JOIN attendance a ON a.session_id = s.id "
        f"WHERE {COUNTS} AND {day_cond.format(col='s.session_date')} "
        f"AND {client_cond.format(col='a.client_id')}) r "
        "GROUP BY r.day, r.client_id",
    ]


def _sqlite_triggers() -> list[str]:
    def trigger(name: str, when: str, day_cond: str, client_cond: str) -> str:
        body = ";\n".join(recompute_sql("sqlite", day_cond, client_cond))
        return f"CREATE TRIGGER {name} {when}\nBEGIN\n{body};\nEND"

    def day_of(session: str) -> str:
        return f"(SELECT session_date FROM clinic_session WHERE id = {session})"

    def counts(session: str) -> str:
        """A row at a session that does not count (not held, or 90846) changes nothing."""
        return f"EXISTS (SELECT 1 FROM clinic_session s WHERE s.id = {session} AND {COUNTS})"

    same_row = (
        "OLD.session_id = NEW.session_id AND OLD.client_id = NEW.client_id "
        "AND (OLD.status IS NOT NEW.status OR OLD.minutes IS NOT NEW.minutes)"
    )
    return [
        trigger(
            "attendance_day_on_insert",
            f"AFTER INSERT ON attendance WHEN {counts('NEW.session_id')}",
            "{col} = " + day_of("NEW.session_id"),
            "{col} = NEW.client_id",
        ),
        # a row's status or minutes changed (the sign-in sheet) without crossing between an
        # unexcused absence and anything else: the day's order of absences is the same, so
        # its minutes and attended rows change by the difference (its row exists: this row
        # counted before)
        f"CREATE TRIGGER attendance_day_on_update AFTER UPDATE OF status, minutes ON "
        f"attendance WHEN {same_row} AND (OLD.status = {UNEXCUSED}) = (NEW.status = {UNEXCUSED}) "
        f"AND {counts('NEW.session_id')}\nBEGIN\nUPDATE attendance_day SET "
        f"minutes = minutes + (CASE WHEN NEW.status IN {ATTENDED} THEN NEW.minutes ELSE 0 END) "
        f"- (CASE WHEN OLD.status IN {ATTENDED} THEN OLD.minutes ELSE 0 END), "
        f"attended = attended + (CASE WHEN NEW.status IN {ATTENDED} THEN 1 ELSE 0 END) "
        f"- (CASE WHEN OLD.status IN {ATTENDED} THEN 1 ELSE 0 END) "
        f"WHERE day = {day_of('NEW.session_id')} AND client_id = NEW.client_id;\nEND",
        # ... crossing it: the client's day again
        trigger(
            "attendance_day_on_status",
            "AFTER UPDATE OF status, minutes ON attendance "
            f"WHEN {same_row} AND (OLD.status = {UNEXCUSED}) IS NOT (NEW.status = {UNEXCUSED}) "
            f"AND {counts('NEW.session_id')}",
            "{col} = " + day_of("NEW.session_id"),
            "{col} = NEW.client_id",
        ),
        # a row moved to another session or client: both clients' days
        trigger(
            "attendance_day_on_move",
            "AFTER UPDATE OF session_id, client_id ON attendance "
            "WHEN OLD.session_id IS NOT NEW.session_id OR OLD.client_id IS NOT NEW.client_id",
            "{col} IN (SELECT session_date FROM clinic_session "
            "WHERE id IN (OLD.session_id, NEW.session_id))",
            "{col} IN (OLD.client_id, NEW.client_id)",
        ),
        trigger(
            "attendance_day_on_delete",
            f"AFTER DELETE ON attendance WHEN {counts('OLD.session_id')}",
            "{col} = " + day_of("OLD.session_id"),
            "{col} = OLD.client_id",
        ),
        trigger(
            "attendance_day_on_session_update",
            "AFTER UPDATE OF status, kind, session_date, start_time ON clinic_session "
            "WHEN (OLD.status = 'held' OR NEW.status = 'held') AND (OLD.status IS NOT NEW.status "
            "OR OLD.kind IS NOT NEW.kind OR OLD.session_date IS NOT NEW.session_date "
            "OR OLD.start_time IS NOT NEW.start_time)",
            "{col} IN (OLD.session_date, NEW.session_date)",
            "{col} IN (SELECT client_id FROM attendance WHERE session_id = NEW.id)",
        ),
        trigger(
            "attendance_day_on_session_delete",
            "AFTER DELETE ON clinic_session WHEN OLD.status = 'held'",
            "{col} = OLD.session_date",
            "1 = 1",  # its attendance rows may already be gone: the whole day again
        ),
    ]


def _postgresql_triggers() -> list[str]:
    recompute = ";\n  ".join(
        recompute_sql("postgresql", "{col} = ANY(days)", "{col} = ANY(clients)")
    )
    return [
        "CREATE FUNCTION attendance_day_recompute(clients integer[], days date[]) "
        "RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\n"
        # queue behind another transaction recomputing the same client's day (two int4 keys:
        # a key space apart from the single-bigint locks of services/records.serialize)
        "  PERFORM pg_advisory_xact_lock(k.c, k.d) FROM (SELECT DISTINCT c, "
        "(d - DATE '2000-01-01') AS d FROM unnest(clients) AS c, unnest(days) AS d "
        "WHERE c IS NOT NULL AND d IS NOT NULL ORDER BY 1, 2) AS k;\n"
        f"  {recompute};\nEND\n$$",
        "CREATE FUNCTION attendance_day_on_attendance() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "DECLARE clients integer[] := '{}'; days date[] := '{}';\nBEGIN\n"
        # a row at a session that does not count (not held, or 90846) changes nothing
        "  IF TG_OP <> 'UPDATE' AND NOT EXISTS (SELECT 1 FROM clinic_session s WHERE s.id = "
        f"(CASE WHEN TG_OP = 'INSERT' THEN NEW.session_id ELSE OLD.session_id END) AND {COUNTS})"
        " THEN\n    RETURN NULL;\n  END IF;\n"
        "  IF TG_OP <> 'DELETE' THEN\n"
        "    clients := clients || NEW.client_id;\n"
        "    days := days || (SELECT session_date FROM clinic_session WHERE id = NEW.session_id);\n"
        "  END IF;\n"
        "  IF TG_OP <> 'INSERT' THEN\n"
        "    clients := clients || OLD.client_id;\n"
        "    days := days || (SELECT session_date FROM clinic_session WHERE id = OLD.session_id);\n"
        "  END IF;\n"
        "  PERFORM attendance_day_recompute(clients, days);\n"
        "  RETURN NULL;\nEND\n$$",
        "CREATE FUNCTION attendance_day_on_session() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "  IF TG_OP = 'DELETE' THEN\n"
        "    PERFORM attendance_day_recompute(ARRAY(SELECT client_id FROM attendance_day "
        "WHERE day = OLD.session_date), ARRAY[OLD.session_date]);\n"
        "  ELSE\n"
        "    PERFORM attendance_day_recompute(ARRAY(SELECT client_id FROM attendance "
        "WHERE session_id = NEW.id), ARRAY[OLD.session_date, NEW.session_date]);\n"
        "  END IF;\n"
        "  RETURN NULL;\nEND\n$$",
        "CREATE TRIGGER attendance_day_on_insert AFTER INSERT ON attendance "
        "FOR EACH ROW EXECUTE FUNCTION attendance_day_on_attendance()",
        "CREATE TRIGGER attendance_day_on_update AFTER UPDATE OF status, minutes ON attendance "
        "FOR EACH ROW WHEN (OLD.session_id = NEW.session_id AND OLD.client_id = NEW.client_id "
        "AND (OLD.status IS DISTINCT FROM NEW.status OR OLD.minutes IS DISTINCT FROM NEW.minutes))"
        " EXECUTE FUNCTION attendance_day_on_attendance()",
        "CREATE TRIGGER attendance_day_on_move AFTER UPDATE OF session_id, client_id ON attendance "
        "FOR EACH ROW WHEN (OLD.session_id IS DISTINCT FROM NEW.session_id "
        "OR OLD.client_id IS DISTINCT FROM NEW.client_id) "
        "EXECUTE FUNCTION attendance_day_on_attendance()",
        "CREATE TRIGGER attendance_day_on_delete AFTER DELETE ON attendance "
        "FOR EACH ROW EXECUTE FUNCTION attendance_day_on_attendance()",
        "CREATE TRIGGER attendance_day_on_session_update AFTER UPDATE OF status, kind, "
        "session_date, start_time ON clinic_session FOR EACH ROW "
        "WHEN ((OLD.status = 'held' OR NEW.status = 'held') AND (OLD.status IS DISTINCT FROM "
        "NEW.status OR OLD.kind IS DISTINCT FROM NEW.kind OR OLD.session_date IS DISTINCT FROM "
        "NEW.session_date OR OLD.start_time IS DISTINCT FROM NEW.start_time)) "
        "EXECUTE FUNCTION attendance_day_on_session()",
        "CREATE TRIGGER attendance_day_on_session_delete AFTER DELETE ON clinic_session "
        "FOR EACH ROW WHEN (OLD.status = 'held') EXECUTE FUNCTION attendance_day_on_session()",
    ]


def create_triggers() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    for statement in _postgresql_triggers() if dialect == "postgresql" else _sqlite_triggers():
        bind.exec_driver_sql(statement)


def drop_triggers() -> None:
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    for name in _TRIGGERS:
        table = "clinic_session" if "session" in name else "attendance"
        bind.exec_driver_sql(
            f"DROP TRIGGER IF EXISTS {name} ON {table}"
            if postgresql
            else f"DROP TRIGGER IF EXISTS {name}"
        )
    if postgresql:
        for function in (
            "attendance_day_on_session()",
            "attendance_day_on_attendance()",
            "attendance_day_recompute(integer[], date[])",
        ):
            bind.exec_driver_sql(f"DROP FUNCTION IF EXISTS {function}")


def upgrade() -> None:
    op.create_table(
        "attendance_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("attended", sa.Integer(), nullable=False),
        sa.Column("others", sa.Integer(), nullable=False),
        sa.Column("tail", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "client_id"),
        sqlite_with_rowid=False,
    )
    dialect = op.get_bind().dialect.name
    for statement in recompute_sql(dialect, "1 = 1", "1 = 1")[1:]:  # the backfill
        op.execute(statement)
    create_triggers()
    if dialect == "sqlite":
        has_stats = (
            op.get_bind()
            .exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
            )
            .first()
        )
        if has_stats is not None:  # as 0003: a table without statistics plans badly
            op.execute("ANALYZE attendance_day")


def downgrade() -> None:
    drop_triggers()
    op.drop_table("attendance_day")
