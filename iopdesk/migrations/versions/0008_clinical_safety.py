"""clinical safety: risk flags, C-SSRS screens, safety plans, medications, drug screens,
ASAM dimensions, signed discharge summaries and dated hours overrides (issue 20 items 1-7)

Revision ID: 0008_clinical_safety
Revises: 0003_attendance_covering
Create Date: 2026-12-06 02:00:00

New tables only, plus nullable (or defaulted) columns on client and discharge, so an existing
database with data upgrades in place. Existing discharge summaries stay unsigned (editable)
until a clinician signs them. Signed safety plans, signed C-SSRS screens and signed discharge
summaries (with their goal progress) are refused any change or deletion by triggers, on SQLite
and PostgreSQL, like signed notes (0002).
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import iopdesk.models.base

revision = "0008_clinical_safety"
down_revision = "0003_attendance_covering"
branch_labels = None
depends_on = None

TABLES = (
    "dischargeaddendum",
    "riskflagevent",
    "riskflag",
    "asamassessment",
    "safetyplan",
    "drugscreenresult",
    "cssrsscreen",
    "medicationreconciliation",
    "medication",
    "drugscreen",
)

SAFETY_PLAN_LOCKED = (
    "client_id",
    "warning_signs",
    "internal_coping",
    "distraction",
    "help_contacts_json",
    "professionals_json",
    "environment_safety",
    "reasons_for_living",
    "client_participated",
    "signed_by",
    "signed_at",
    "content_sha256",
)
CSSRS_LOCKED = (
    "client_id",
    "screen_date",
    "wish_dead",
    "suicidal_thoughts",
    "thoughts_with_method",
    "intent",
    "plan_with_intent",
    "behavior_ever",
    "behavior_past_3_months",
    "risk_level",
    "clinical_note",
    "disposition",
    "administered_by",
    "signed_by",
    "signed_at",
)
DISCHARGE_LOCKED = (
    "client_id",
    "episode_id",
    "discharge_date",
    "discharge_type",
    "reason",
    "summary",
    "step_down_level",
    "receiving_provider",
    "signed_by",
    "signed_at",
    "content_sha256",
)
GOAL_LOCKED = ("discharge_id", "goal_id", "goal_text", "progress")
ADDENDUM_LOCKED = ("discharge_id", "author_user_id", "text", "signed_at", "content_sha256")
PARENT_SIGNED = "(SELECT signed_at FROM discharge WHERE id = OLD.discharge_id) IS NOT NULL"

# (table, condition on OLD that makes the row locked, locked columns)
LOCKS = (
    ("safetyplan", "OLD.signed_at IS NOT NULL", SAFETY_PLAN_LOCKED),
    ("cssrsscreen", "OLD.signed_at IS NOT NULL", CSSRS_LOCKED),
    ("discharge", "OLD.signed_at IS NOT NULL", DISCHARGE_LOCKED),
    ("dischargegoalprogress", PARENT_SIGNED, GOAL_LOCKED),
    ("dischargeaddendum", "OLD.signed_at IS NOT NULL", ADDENDUM_LOCKED),
)


def _changed(columns: tuple[str, ...], distinct: str) -> str:
    return " OR ".join(f"NEW.{c} {distinct} OLD.{c}" for c in columns)


def _create_locks() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, locked, columns in LOCKS:
            op.execute(
                f"CREATE TRIGGER {table}_signed_no_update BEFORE UPDATE ON {table} "
                f"WHEN {locked} AND ({_changed(columns, 'IS NOT')}) "
                f"BEGIN SELECT RAISE(ABORT, '{table} is signed and locked'); END"
            )
            op.execute(
                f"CREATE TRIGGER {table}_signed_no_delete BEFORE DELETE ON {table} "
                f"WHEN {locked} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is signed and cannot be deleted'); END"
            )
        return
    for table, locked, columns in LOCKS:
        changed = _changed(columns, "IS DISTINCT FROM")
        op.execute(
            f"""
            CREATE FUNCTION iopdesk_{table}_lock() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    IF {locked} THEN
                        RAISE EXCEPTION '{table} is signed and cannot be deleted';
                    END IF;
                    RETURN OLD;
                END IF;
                IF {locked} AND ({changed}) THEN
                    RAISE EXCEPTION '{table} is signed and locked';
                END IF;
                RETURN NEW;
            END;
            $$
            """
        )
        op.execute(
            f"CREATE TRIGGER {table}_signed_lock BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION iopdesk_{table}_lock()"
        )


def _create_goal_insert_lock() -> None:
    """No new goal-progress rows on a signed summary either."""
    signed = "(SELECT signed_at FROM discharge WHERE id = NEW.discharge_id) IS NOT NULL"
    message = "dischargegoalprogress: the discharge summary is signed and locked"
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER dischargegoalprogress_signed_no_insert BEFORE INSERT ON "
            f"dischargegoalprogress WHEN {signed} BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )
        return
    op.execute(
        f"""
        CREATE FUNCTION iopdesk_dischargegoalprogress_insert_lock() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF {signed} THEN
                RAISE EXCEPTION '{message}';
            END IF;
            RETURN NEW;
        END;
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER dischargegoalprogress_signed_insert_lock BEFORE INSERT ON "
        "dischargegoalprogress FOR EACH ROW EXECUTE FUNCTION "
        "iopdesk_dischargegoalprogress_insert_lock()"
    )


def _drop_locks() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS dischargegoalprogress_signed_no_insert")
    else:
        op.execute(
            "DROP TRIGGER IF EXISTS dischargegoalprogress_signed_insert_lock "
            "ON dischargegoalprogress"
        )
        op.execute("DROP FUNCTION IF EXISTS iopdesk_dischargegoalprogress_insert_lock()")
    for table, *_ in LOCKS:
        if sqlite:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_signed_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_signed_no_delete")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_signed_lock ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS iopdesk_{table}_lock()")


def upgrade() -> None:
    op.create_table(
        "drugscreen",
        sa.Column("voided_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("voided_by", sa.Integer(), nullable=True),
        sa.Column("void_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("collected_date", sa.Date(), nullable=False),
        sa.Column("collected_time", sa.Time(), nullable=True),
        sa.Column("observed", sa.Boolean(), nullable=False),
        sa.Column("specimen", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("panel", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("testing", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("lab_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("collected_by", sa.Integer(), nullable=True),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("comment", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
        ),
        sa.ForeignKeyConstraint(
            ["collected_by"],
            ["staff.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"],
            ["staff.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("drugscreen", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_drugscreen_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_drugscreen_collected_date"), ["collected_date"], unique=False
        )

    op.create_table(
        "medication",
        sa.Column("voided_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("voided_by", sa.Integer(), nullable=True),
        sa.Column("void_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("dose", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("route", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("frequency", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("prescriber", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("stop_date", sa.Date(), nullable=True),
        sa.Column("stop_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("medication", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_medication_client_id"), ["client_id"], unique=False)

    op.create_table(
        "medicationreconciliation",
        sa.Column("created_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("occasion", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reconciled_on", sa.Date(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("medications_text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("medicationreconciliation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_medicationreconciliation_client_id"), ["client_id"], unique=False
        )

    op.create_table(
        "cssrsscreen",
        sa.Column("voided_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("voided_by", sa.Integer(), nullable=True),
        sa.Column("void_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("screen_date", sa.Date(), nullable=False),
        sa.Column("wish_dead", sa.Boolean(), nullable=False),
        sa.Column("suicidal_thoughts", sa.Boolean(), nullable=False),
        sa.Column("thoughts_with_method", sa.Boolean(), nullable=False),
        sa.Column("intent", sa.Boolean(), nullable=False),
        sa.Column("plan_with_intent", sa.Boolean(), nullable=False),
        sa.Column("behavior_ever", sa.Boolean(), nullable=False),
        sa.Column("behavior_past_3_months", sa.Boolean(), nullable=False),
        sa.Column("risk_level", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("clinical_note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("disposition", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("administered_by", sa.Integer(), nullable=False),
        sa.Column("signed_by", sa.Integer(), nullable=True),
        sa.Column("signed_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["administered_by"],
            ["staff.id"],
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
        ),
        sa.ForeignKeyConstraint(
            ["signed_by"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("cssrsscreen", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cssrsscreen_client_id"), ["client_id"], unique=False)

    op.create_table(
        "drugscreenresult",
        sa.Column("created_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("screen_id", sa.Integer(), nullable=False),
        sa.Column("substance", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("result", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["screen_id"],
            ["drugscreen.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("drugscreenresult", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_drugscreenresult_screen_id"), ["screen_id"], unique=False
        )

    op.create_table(
        "safetyplan",
        sa.Column("created_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("warning_signs", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("internal_coping", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("distraction", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("help_contacts_json", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("professionals_json", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("environment_safety", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reasons_for_living", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("client_participated", sa.Boolean(), nullable=False),
        sa.Column("signed_by", sa.Integer(), nullable=True),
        sa.Column("signed_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("content_sha256", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
        ),
        sa.ForeignKeyConstraint(
            ["signed_by"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("safetyplan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_safetyplan_client_id"), ["client_id"], unique=False)

    op.create_table(
        "asamassessment",
        sa.Column("voided_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("voided_by", sa.Integer(), nullable=True),
        sa.Column("void_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("occasion", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("d1_rating", sa.Integer(), nullable=False),
        sa.Column("d1_note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("d2_rating", sa.Integer(), nullable=False),
        sa.Column("d2_note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("d3_rating", sa.Integer(), nullable=False),
        sa.Column("d3_note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("d4_rating", sa.Integer(), nullable=False),
        sa.Column("d4_note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("d5_rating", sa.Integer(), nullable=False),
        sa.Column("d5_note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("d6_rating", sa.Integer(), nullable=False),
        sa.Column("d6_note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("recommended_level", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("placed_level", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("variance_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["treatmentplan.id"],
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("asamassessment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_asamassessment_client_id"), ["client_id"], unique=False
        )

    op.create_table(
        "riskflag",
        sa.Column("created_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("raised_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("raised_by", sa.Integer(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("cleared_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cleared_by", sa.Integer(), nullable=True),
        sa.Column("clear_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=True),
        sa.Column("safety_plan_id", sa.Integer(), nullable=True),
        sa.Column("decision", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("decision_by", sa.Integer(), nullable=True),
        sa.Column(
            "followup_done_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["cssrsscreen.id"],
        ),
        sa.ForeignKeyConstraint(
            ["cleared_by"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
        ),
        sa.ForeignKeyConstraint(
            ["decision_by"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["raised_by"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["safety_plan_id"],
            ["safetyplan.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("riskflag", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_riskflag_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_riskflag_status"), ["status"], unique=False)

    op.create_table(
        "riskflagevent",
        sa.Column("created_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flag_id", sa.Integer(), nullable=False),
        sa.Column("event", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("by_user", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_user"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["flag_id"],
            ["riskflag.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("riskflagevent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_riskflagevent_flag_id"), ["flag_id"], unique=False)

    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("required_hours_until", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "required_hours_reason",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="",
            )
        )

    with op.batch_alter_table("discharge", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signed_by", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("signed_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("content_sha256", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )

    op.create_table(
        "dischargeaddendum",
        sa.Column("created_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("discharge_id", sa.Integer(), nullable=False),
        sa.Column("author_user_id", sa.Integer(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("signed_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("content_sha256", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(["author_user_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["discharge_id"], ["discharge.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dischargeaddendum", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dischargeaddendum_discharge_id"), ["discharge_id"], unique=False
        )
    _create_locks()
    _create_goal_insert_lock()


def downgrade() -> None:
    _drop_locks()
    for table in TABLES:
        op.drop_table(table)
    # plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+ and PostgreSQL): a batch copy of client
    # or discharge would drop a table other tables' rows point at
    for table, column in (
        ("discharge", "content_sha256"),
        ("discharge", "signed_at"),
        ("discharge", "signed_by"),
        ("client", "required_hours_reason"),
        ("client", "required_hours_until"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
