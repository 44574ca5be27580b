"""coding rules: day minimum per track, per-payer modifiers and plan rule, diagnosis pointers

Revision ID: 0009_coding_rules
Revises: 0004_recipients_scope
Create Date: 2026-12-06 02:00:00

- track.required_weekly_days: days a week with attendance a track requires. Existing tracks
  get 0 (no day minimum), so an upgraded clinic's weekly statuses do not change.
- payer.audio_only_modifier ("93", or "FQ" for Medicare), payer.group_hq (HQ on 90853, on as
  before), payer.sud_hf (HF on substance-use services, off), payer.requires_treatment_plan
  (off): an upgraded clinic bills exactly as before until someone changes them.
- billingline.diagnosis_pointers: the letters (A-L) of the line's diagnoses; "" for lines
  exported before.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_coding_rules"
down_revision = "0004_recipients_scope"
branch_labels = None
depends_on = None

# (table, column, type, server default for the rows already there)
COLUMNS = (
    ("track", "required_weekly_days", sa.Integer(), sa.text("0")),
    ("payer", "audio_only_modifier", sa.String(), "93"),
    ("payer", "group_hq", sa.Boolean(), sa.true()),
    ("payer", "sud_hf", sa.Boolean(), sa.false()),
    ("payer", "requires_treatment_plan", sa.Boolean(), sa.false()),
    ("billingline", "diagnosis_pointers", sa.String(), ""),
)


def upgrade() -> None:
    # Adding a column with a constant default is done in place on SQLite too ("never" copy
    # the table: a copy of a table other rows refer to would trip their foreign keys).
    for table in dict.fromkeys(t for t, *_ in COLUMNS):
        with op.batch_alter_table(table, recreate="never") as batch:
            for t, name, type_, default in COLUMNS:
                if t == table:
                    batch.add_column(sa.Column(name, type_, nullable=False, server_default=default))


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place, likewise
    for table in reversed(list(dict.fromkeys(t for t, *_ in COLUMNS))):
        with op.batch_alter_table(table, recreate="never") as batch:
            for t, name, *_ in reversed(COLUMNS):
                if t == table:
                    batch.drop_column(name)
