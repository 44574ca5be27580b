"""form drafts: unsaved form work kept for the user who typed it

Revision ID: 0012_form_drafts
Revises: 0006_audit_anchor
Create Date: 2026-12-06 02:10:00

Signing out, the inactivity lock's "sign out" and closing the window keep what was typed into
an intake form or a sign-in sheet, in the encrypted database, for the same user to take up
again. One row per user and form.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import iopdesk.models.base

revision = "0012_form_drafts"
down_revision = "0006_audit_anchor"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "form_draft",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("form", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("data_json", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("saved_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ux_form_draft_user_form", "form_draft", ["user_id", "form"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_form_draft_user_form", table_name="form_draft")
    op.drop_table("form_draft")
