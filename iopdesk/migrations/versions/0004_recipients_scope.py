"""recipient directory; consent kind, recipient record or class, category codes; disclosure
recipient address and categories

Revision ID: 0004_recipients_scope
Revises: 0005_amendment_deadlines
Create Date: 2026-12-06 02:00:00

Releases are matched to consents by recipient record or class (never by a piece of a name),
and by information category. Existing consents keep working: each distinct recipient name
becomes a directory entry the consent points to, and the category labels stored so far
("Attendance and participation", ...) become the category codes (attendance, ...). A label
the clinic typed itself is kept; it covers no document category.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import iopdesk.models.base

revision = "0004_recipients_scope"
down_revision = "0005_amendment_deadlines"
branch_labels = None
depends_on = None

LABEL_CODES = {
    "attendance and participation": "attendance",
    "diagnosis": "diagnosis",
    "treatment plan and progress": "treatment_plan",
    "progress notes": "progress_notes",
    "medications": "medications",
    "drug screen results": "drug_screens",
    "discharge summary and aftercare plan": "discharge_aftercare",
    "billing and insurance information": "billing",
}


def upgrade() -> None:
    op.create_table(
        "recipient",
        sa.Column("created_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("organization", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("recipient", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recipient_name_key"), ["name_key"], unique=True)
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default="part2"
            )
        )
        batch_op.add_column(sa.Column("recipient_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "recipient_class",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="",
            )
        )
        batch_op.create_foreign_key(
            "fk_consent_recipient_id_recipient", "recipient", ["recipient_id"], ["id"]
        )
    with op.batch_alter_table("disclosure", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "recipient_address",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(
            sa.Column(
                "categories", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""
            )
        )
        batch_op.create_foreign_key(
            "fk_disclosure_recipient_id_recipient", "recipient", ["recipient_id"], ["id"]
        )
    _link_existing_consents()


def _link_existing_consents() -> None:
    bind = op.get_bind()
    consent = sa.table(
        "consent",
        sa.column("id", sa.Integer),
        sa.column("recipient_name", sa.String),
        sa.column("recipient_org", sa.String),
        sa.column("info_categories", sa.String),
        sa.column("recipient_id", sa.Integer),
    )
    recipient = sa.table(
        "recipient",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("name_key", sa.String),
        sa.column("organization", sa.String),
        sa.column("address", sa.String),
        sa.column("type", sa.String),
        sa.column("active", sa.Boolean),
        sa.column("created_at", iopdesk.models.base.UTCDateTime(timezone=True)),
        sa.column("updated_at", iopdesk.models.base.UTCDateTime(timezone=True)),
        sa.column("version", sa.Integer),
    )
    now = iopdesk.models.base.utcnow()
    ids: dict[str, int] = {}
    rows = bind.execute(
        sa.select(
            consent.c.id,
            consent.c.recipient_name,
            consent.c.recipient_org,
            consent.c.info_categories,
        ).order_by(consent.c.id)
    ).all()
    for cid, name, org, categories in rows:
        shown = (name or "").strip() or (org or "").strip() or "Unnamed recipient"
        key = shown.casefold()
        if key not in ids:
            bind.execute(
                recipient.insert().values(
                    name=shown,
                    name_key=key,
                    organization=(org or "").strip(),
                    address="",
                    type="other",
                    active=True,
                    created_at=now,
                    updated_at=now,
                    version=1,
                )
            )
            ids[key] = bind.execute(
                sa.select(recipient.c.id).where(recipient.c.name_key == key)
            ).scalar_one()
        codes = []
        for label in (categories or "").split(","):
            label = label.strip()
            if label:
                codes.append(LABEL_CODES.get(label.casefold(), label))
        bind.execute(
            consent.update()
            .where(consent.c.id == cid)
            .values(recipient_id=ids[key], info_categories=",".join(codes))
        )


def downgrade() -> None:
    with op.batch_alter_table("disclosure", schema=None) as batch_op:
        batch_op.drop_constraint("fk_disclosure_recipient_id_recipient", type_="foreignkey")
        batch_op.drop_column("categories")
        batch_op.drop_column("recipient_address")
        batch_op.drop_column("recipient_id")
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.drop_constraint("fk_consent_recipient_id_recipient", type_="foreignkey")
        batch_op.drop_column("recipient_class")
        batch_op.drop_column("recipient_id")
        batch_op.drop_column("kind")
    with op.batch_alter_table("recipient", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recipient_name_key"))
    op.drop_table("recipient")
