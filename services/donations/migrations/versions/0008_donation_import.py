"""Donation imports: an uploaded spreadsheet kept, row by row, between its preview and its recording

Revision ID: 0008_donation_import
Revises: 0007_goods
Create Date: 2026-11-30

An uploaded file is read once and kept as an `import_batch` (who uploaded
it, for which organisation, its columns, its state, when it expires) with an
`import_row` per data row (its original cells, the values read from them,
its verdict and, once confirmed, what became of it: the donation and its
receipt, or why it failed). These are the service's own bookkeeping, not the
ledger: the donations themselves are recorded by the ledger's functions as
ever (services/donations/importing.py).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shared.db

revision = "0008_donation_import"
down_revision = "0007_goods"
branch_labels = None
depends_on = None

SCHEMA = "donations"


def upgrade() -> None:
    op.create_table(
        "import_batch",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_by_name", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("columns", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("include_warned", sa.Boolean(), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('previewed', 'recording', 'done')", name=op.f("ck_import_batch_status_known")),
        sa.CheckConstraint("(status = 'previewed') = (confirmed_at IS NULL)",
                           name=op.f("ck_import_batch_confirmed_iff_not_previewed")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batch")),
        schema=SCHEMA,
    )
    op.create_index("ix_import_batch_created_by", "import_batch", ["created_by", "id"], schema=SCHEMA)
    op.create_table(
        "import_row",
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("cells", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("values", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("errors", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("similar", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("donation_id", sa.BigInteger(), nullable=True),
        sa.Column("receipt_no", sa.String(length=32), nullable=True),
        sa.CheckConstraint("verdict IN ('ready', 'warning', 'error')", name=op.f("ck_import_row_verdict_known")),
        sa.CheckConstraint("state IN ('new', 'pending', 'recorded', 'failed', 'skipped')",
                           name=op.f("ck_import_row_state_known")),
        sa.CheckConstraint("(state = 'recorded') = (donation_id IS NOT NULL)",
                           name=op.f("ck_import_row_recorded_iff_donation")),
        sa.ForeignKeyConstraint(["batch_id"], ["donations.import_batch.id"], ondelete="CASCADE",
                                name=op.f("fk_import_row_batch_id_import_batch")),
        sa.PrimaryKeyConstraint("batch_id", "line", name=op.f("pk_import_row")),
        schema=SCHEMA,
    )
    op.create_index("ix_import_row_batch_state", "import_row", ["batch_id", "state", "line"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_import_row_batch_state", table_name="import_row", schema=SCHEMA)
    op.drop_table("import_row", schema=SCHEMA)
    op.drop_index("ix_import_batch_created_by", table_name="import_batch", schema=SCHEMA)
    op.drop_table("import_batch", schema=SCHEMA)
