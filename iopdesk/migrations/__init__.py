"""Alembic environment and versions; `runner` applies them.

HEAD is this code's newest schema revision and REVISIONS every revision it knows, oldest
first. They let a database that is already up to date open with one SQL query instead of
importing Alembic (about a third of a second at every start); tests/test_db.py checks them
against Alembic's own view of the versions folder. Add a migration: add its id here too.
"""

REVISIONS: tuple[str, ...] = ("0001", "0002", "0003_attendance_covering", "0006_audit_anchor")
HEAD = REVISIONS[-1]
