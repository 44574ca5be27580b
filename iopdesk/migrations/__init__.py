"""Alembic environment and versions; `runner` applies them.

HEAD is this code's newest schema revision and REVISIONS every revision it knows, oldest
first. They let a database that is already up to date open with one SQL query instead of
importing Alembic (about a third of a second at every start); tests/test_db.py checks them
against Alembic's own view of the versions folder. Add a migration: add its id here too.
"""

REVISIONS: tuple[str, ...] = (
    "0001",
    "0002",
    "0003_attendance_covering",
    "0008_clinical_safety",
    "0005_amendment_deadlines",
    "0004_recipients_scope",
    "0009_coding_rules",
    "0010_electronic_claims",
    "0011_ux",
    "0007_pg_hardening",
    "0006_audit_anchor",
    "0012_form_drafts",
    "0013_attendance_day",
)
HEAD = REVISIONS[-1]
