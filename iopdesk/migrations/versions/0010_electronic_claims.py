"""electronic claims: 837 set-up fields, claims sent, 835 remittances posted

Revision ID: 0010_electronic_claims
Revises: 0009_coding_rules
Create Date: 2026-12-06 02:00:00

Set-up for 837 files on payers (electronic payer ID, claim type, type of bill, claim
grouping, claim filing indicator), staff (taxonomy) and coverages (subscriber when not the
client); billing batches get a kind (xlsx or x12) and billing lines the claim they were sent
on. New tables: claim (each CLM sent, with frequency 1/7/8), remittance, remittanceclaim,
remittanceline and remittanceadjustment (835 posting). Existing rows get the defaults: every
batch so far was an Excel export, every coverage's subscriber is the client.
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import iopdesk.models.base

revision = "0010_electronic_claims"
down_revision = "0009_coding_rules"
branch_labels = None
depends_on = None

_S = AutoString


def _tracked() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("created_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", iopdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


def _money(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Numeric(precision=12, scale=2), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("payer", schema=None) as b:
        b.add_column(sa.Column("electronic_payer_id", _S(), nullable=False, server_default=""))
        b.add_column(sa.Column("claim_type", _S(), nullable=False, server_default=""))
        b.add_column(sa.Column("type_of_bill", _S(), nullable=False, server_default=""))
        b.add_column(sa.Column("claim_grouping", _S(), nullable=False, server_default="period"))
        b.add_column(sa.Column("claim_filing_code", _S(), nullable=False, server_default="CI"))
    with op.batch_alter_table("staff", schema=None) as b:
        b.add_column(sa.Column("taxonomy", _S(), nullable=False, server_default=""))
    with op.batch_alter_table("coverage", schema=None) as b:
        b.add_column(
            sa.Column("subscriber_relationship", _S(), nullable=False, server_default="self")
        )
        b.add_column(sa.Column("subscriber_first_name", _S(), nullable=False, server_default=""))
        b.add_column(sa.Column("subscriber_last_name", _S(), nullable=False, server_default=""))
        b.add_column(sa.Column("subscriber_dob", sa.Date(), nullable=True))
        b.add_column(sa.Column("subscriber_sex", _S(), nullable=False, server_default=""))
    with op.batch_alter_table("billingbatch", schema=None) as b:
        b.add_column(sa.Column("kind", _S(), nullable=False, server_default="xlsx"))

    op.create_table(
        "claim",
        *_tracked(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("claim_number", _S(), nullable=False),
        sa.Column("payer_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("claim_type", _S(), nullable=False),
        sa.Column("frequency", _S(), nullable=False),
        sa.Column("original_claim_id", sa.Integer(), nullable=True),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        _money("total_charge"),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("file_name", _S(), nullable=False),
        sa.Column("payer_claim_number", _S(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["billingbatch.id"]),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"]),
        sa.ForeignKeyConstraint(["original_claim_id"], ["claim.id"]),
        sa.ForeignKeyConstraint(["payer_id"], ["payer.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("claim", schema=None) as b:
        b.create_index(b.f("ix_claim_batch_id"), ["batch_id"], unique=False)
        b.create_index(b.f("ix_claim_claim_number"), ["claim_number"], unique=True)
        b.create_index(b.f("ix_claim_client_id"), ["client_id"], unique=False)

    with op.batch_alter_table("billingline", schema=None) as b:
        b.add_column(sa.Column("claim_id", sa.Integer(), nullable=True))
        b.create_index(b.f("ix_billingline_claim_id"), ["claim_id"], unique=False)
        b.create_foreign_key("fk_billingline_claim_id_claim", "claim", ["claim_id"], ["id"])

    op.create_table(
        "remittance",
        *_tracked(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_sha256", _S(), nullable=False),
        sa.Column("file_name", _S(), nullable=False),
        sa.Column("payer_name", _S(), nullable=False),
        sa.Column("payer_identifier", _S(), nullable=False),
        sa.Column("check_number", _S(), nullable=False),
        sa.Column("payment_date", sa.Date(), nullable=True),
        _money("total_paid"),
        sa.Column("claims_matched", sa.Integer(), nullable=False),
        sa.Column("claims_unmatched", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("file_sha256"),
    )
    op.create_table(
        "remittanceclaim",
        *_tracked(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("remittance_id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=True),
        sa.Column("claim_number", _S(), nullable=False),
        sa.Column("status_code", _S(), nullable=False),
        _money("charge"),
        _money("paid"),
        _money("patient_responsibility"),
        sa.Column("payer_claim_number", _S(), nullable=False),
        sa.Column("note", _S(), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claim.id"]),
        sa.ForeignKeyConstraint(["remittance_id"], ["remittance.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("remittanceclaim", schema=None) as b:
        b.create_index(b.f("ix_remittanceclaim_claim_id"), ["claim_id"], unique=False)
        b.create_index(b.f("ix_remittanceclaim_remittance_id"), ["remittance_id"], unique=False)
    op.create_table(
        "remittanceline",
        *_tracked(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("remittance_claim_id", sa.Integer(), nullable=False),
        sa.Column("billing_line_id", sa.Integer(), nullable=True),
        sa.Column("procedure_code", _S(), nullable=False),
        sa.Column("date_of_service", sa.Date(), nullable=True),
        _money("charge"),
        _money("paid"),
        sa.Column("units", sa.Integer(), nullable=False),
        _money("patient_responsibility"),
        sa.Column("remark_codes", _S(), nullable=False),
        sa.Column("note", _S(), nullable=False),
        sa.ForeignKeyConstraint(["billing_line_id"], ["billingline.id"]),
        sa.ForeignKeyConstraint(["remittance_claim_id"], ["remittanceclaim.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("remittanceline", schema=None) as b:
        b.create_index(b.f("ix_remittanceline_billing_line_id"), ["billing_line_id"], unique=False)
        b.create_index(
            b.f("ix_remittanceline_remittance_claim_id"), ["remittance_claim_id"], unique=False
        )
    op.create_table(
        "remittanceadjustment",
        *_tracked(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("remittance_claim_id", sa.Integer(), nullable=False),
        sa.Column("remittance_line_id", sa.Integer(), nullable=True),
        sa.Column("group_code", _S(), nullable=False),
        sa.Column("reason_code", _S(), nullable=False),
        _money("amount"),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["remittance_claim_id"], ["remittanceclaim.id"]),
        sa.ForeignKeyConstraint(["remittance_line_id"], ["remittanceline.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("remittanceadjustment", schema=None) as b:
        b.create_index(
            b.f("ix_remittanceadjustment_remittance_claim_id"),
            ["remittance_claim_id"],
            unique=False,
        )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+ and PostgreSQL): a batch copy of payer, staff, coverage
    # or billingbatch would drop a table other tables' foreign keys point at.
    op.drop_table("remittanceadjustment")
    op.drop_table("remittanceline")
    op.drop_table("remittanceclaim")
    op.drop_table("remittance")
    with op.batch_alter_table("billingline", schema=None) as b:  # nothing references it now
        b.drop_constraint("fk_billingline_claim_id_claim", type_="foreignkey")
        b.drop_index(b.f("ix_billingline_claim_id"))
        b.drop_column("claim_id")
    op.drop_table("claim")
    op.drop_column("billingbatch", "kind")
    for name in (
        "subscriber_sex",
        "subscriber_dob",
        "subscriber_last_name",
        "subscriber_first_name",
        "subscriber_relationship",
    ):
        op.drop_column("coverage", name)
    op.drop_column("staff", "taxonomy")
    for name in (
        "claim_filing_code",
        "claim_grouping",
        "type_of_bill",
        "claim_type",
        "electronic_payer_id",
    ):
        op.drop_column("payer", name)
