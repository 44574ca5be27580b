"""PostgreSQL least privilege: the schema owner migrates, the workstations' application role
changes data only (docs/clinic-server.md).

`grant_app_role` runs as the owner (from `iopdesk --db URL db upgrade --app-role NAME`) after
the schema is up to date, and is repeated after every upgrade so that new tables are covered:

- CONNECT on the database, USAGE (not CREATE) on the schema; CREATE on the schema is revoked
  from PUBLIC;
- SELECT, INSERT, UPDATE, DELETE on every table, but only SELECT on `alembic_version` and only
  SELECT, INSERT on `audit_event` (the append-only audit log); USAGE, SELECT on sequences;
- never TRUNCATE, REFERENCES or TRIGGER, and never ownership: the role cannot ALTER or DROP a
  table, disable or drop a trigger, or truncate anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from iopdesk.db import Database
from iopdesk.errors import DatabaseError, UserError

ROLE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
APPEND_ONLY = ("audit_event",)
READ_ONLY = ("alembic_version",)


@dataclass(frozen=True)
class GrantResult:
    role: str
    created: bool
    tables: int


def grant_app_role(db: Database, role: str, password: str | None = None) -> GrantResult:
    """Create (when missing, and the owner may) and grant the application role. `password`
    sets the role's password (never logged, never stored by IOPDesk)."""
    if db.backend != "postgresql":
        raise UserError("Database roles are for a PostgreSQL clinic server only.")
    role = role.strip()
    if not ROLE_RE.match(role):
        raise UserError(
            f"'{role}' is not a usable role name: use lower-case letters, digits and _ "
            "(e.g. iopdesk_app)."
        )
    from psycopg import errors as pg_errors
    from psycopg import sql

    raw = db.engine.raw_connection()
    try:
        conn = raw.driver_connection
        assert conn is not None
        ident = sql.Identifier(role)
        with conn.cursor() as cur:
            cur.execute("SELECT current_user, current_database(), current_schema()")
            row = cur.fetchone()
            assert row is not None
            owner, database, schema = (str(v) for v in row)
            if role == owner:
                raise UserError(
                    f"The application role must not be the owner account '{owner}': choose "
                    "another name, e.g. iopdesk_app."
                )
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            created = cur.fetchone() is None
            try:
                if created:
                    cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
                if password:
                    cur.execute(
                        sql.SQL("ALTER ROLE {} PASSWORD {}").format(ident, sql.Literal(password))
                    )
            except pg_errors.InsufficientPrivilege:
                conn.rollback()
                raise DatabaseError(
                    f"The owner account '{owner}' may not create or change roles. On the "
                    f"server, as the PostgreSQL administrator, run: CREATE ROLE {role} LOGIN "
                    "PASSWORD '...'; then run db upgrade --app-role again."
                ) from None
            cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (role,))
            flags = cur.fetchone()
            if flags is not None and flags[0]:
                conn.rollback()
                raise UserError(
                    f"The role '{role}' is a PostgreSQL superuser: it can do anything, so it "
                    "cannot be the application role. Choose another role."
                )
            db_ident, schema_ident = sql.Identifier(database), sql.Identifier(schema)
            statements = [
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db_ident, ident),
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema_ident, ident),
                sql.SQL("REVOKE CREATE ON SCHEMA {} FROM PUBLIC").format(schema_ident),
                sql.SQL("REVOKE CREATE ON SCHEMA {} FROM {}").format(schema_ident, ident),
                sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(
                    schema_ident, ident
                ),
                sql.SQL(
                    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}"
                ).format(schema_ident, ident),
                sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
                    schema_ident, ident
                ),
            ]
            for table in APPEND_ONLY:
                statements.append(
                    sql.SQL("REVOKE UPDATE, DELETE ON {} FROM {}").format(
                        sql.Identifier(table), ident
                    )
                )
            for table in READ_ONLY:
                statements.append(
                    sql.SQL("REVOKE INSERT, UPDATE, DELETE ON {} FROM {}").format(
                        sql.Identifier(table), ident
                    )
                )
            for statement in statements:
                cur.execute(statement)
            cur.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
                "AND tableowner = current_user"
            )
            counted = cur.fetchone()
            tables = int(counted[0]) if counted else 0
        conn.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
    return GrantResult(role, created, tables)
