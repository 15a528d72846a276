"""A disbursement as a process: withdrawn by its requester, and its supporting documents

Revision ID: 0006_disbursement_process
Revises: 0005_approval_rule
Create Date: 2026-11-30

A requested disbursement may be withdrawn by whoever requested it, until it
is approved: a new status, `withdrawn`, with who withdrew it and why (the
time is `decided_at`, as for an approval or a rejection). Invoices and
contracts are kept beside their disbursement in `disbursement_attachment`,
their bytes with their sha256, never changed or deleted. Both are written
only by the ledger's functions in the .sql file, which also write the audit
log.
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0006_disbursement_process"
down_revision = "0005_approval_rule"
branch_labels = None
depends_on = None

SCHEMA = "donations"
FUNCTIONS = Path(__file__).with_suffix(".sql")
PREVIOUS_FUNCTIONS = Path(__file__).with_name("0006_disbursement_process_downgrade.sql")
STATUSES = "('requested', 'approved', 'paid', 'rejected', 'withdrawn')"
PREVIOUS_STATUSES = "('requested', 'approved', 'paid', 'rejected')"
MAX_BYTES = 10 * 1024 * 1024


def upgrade() -> None:
    op.add_column("disbursement", sa.Column("withdrawn_by", sa.String(64), nullable=True), schema=SCHEMA)
    op.add_column("disbursement", sa.Column("withdrawn_by_name", sa.String(200), nullable=True), schema=SCHEMA)
    op.add_column("disbursement", sa.Column("withdraw_reason", sa.Text(), nullable=True), schema=SCHEMA)
    op.drop_constraint(op.f("ck_disbursement_status_known"), "disbursement", schema=SCHEMA)
    op.create_check_constraint(op.f("ck_disbursement_status_known"), "disbursement", f"status IN {STATUSES}",
                               schema=SCHEMA)
    op.create_check_constraint(op.f("ck_disbursement_withdrawn_iff_by"), "disbursement",
                               "(status = 'withdrawn') = (withdrawn_by IS NOT NULL)", schema=SCHEMA)
    op.create_check_constraint(op.f("ck_disbursement_withdrawn_by_requester"), "disbursement",
                               "withdrawn_by IS NULL OR (withdrawn_by = requested_by AND approved_by IS NULL "
                               "AND withdrawn_by_name IS NOT NULL AND decided_at IS NOT NULL)", schema=SCHEMA)

    op.create_table(
        "disbursement_attachment",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("disbursement_id", sa.BigInteger(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by_name", sa.String(length=200), nullable=False),
        sa.Column("uploaded_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("content_type IN ('application/pdf', 'image/png', 'image/jpeg')",
                           name=op.f("ck_disbursement_attachment_content_type_known")),
        sa.CheckConstraint(f"size_bytes BETWEEN 1 AND {MAX_BYTES}",
                           name=op.f("ck_disbursement_attachment_size_in_range")),
        sa.CheckConstraint("size_bytes = octet_length(content)",
                           name=op.f("ck_disbursement_attachment_size_of_content")),
        sa.CheckConstraint("sha256 = encode(sha256(content), 'hex')",
                           name=op.f("ck_disbursement_attachment_sha256_of_content")),
        sa.CheckConstraint("length(filename) BETWEEN 1 AND 255",
                           name=op.f("ck_disbursement_attachment_filename_length")),
        sa.ForeignKeyConstraint(["disbursement_id"], ["donations.disbursement.id"],
                                name=op.f("fk_disbursement_attachment_disbursement_id_disbursement")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disbursement_attachment")),
        schema=SCHEMA,
    )
    op.create_index("ix_disbursement_attachment_disbursement", "disbursement_attachment",
                    ["disbursement_id", "id"], unique=False, schema=SCHEMA)
    op.execute(FUNCTIONS.read_text())


def downgrade() -> None:
    # Before this revision there was no way to hold either: refuse to lose them.
    op.execute("""
        DO $$ BEGIN
            IF EXISTS (SELECT FROM donations.disbursement WHERE status = 'withdrawn')
               OR EXISTS (SELECT FROM donations.disbursement_attachment) THEN
                RAISE EXCEPTION 'withdrawn disbursements or attachments exist: downgrading would lose them';
            END IF;
        END $$
    """)
    op.execute(PREVIOUS_FUNCTIONS.read_text())
    op.drop_index("ix_disbursement_attachment_disbursement", table_name="disbursement_attachment", schema=SCHEMA)
    op.drop_table("disbursement_attachment", schema=SCHEMA)
    op.drop_constraint(op.f("ck_disbursement_withdrawn_by_requester"), "disbursement", schema=SCHEMA)
    op.drop_constraint(op.f("ck_disbursement_withdrawn_iff_by"), "disbursement", schema=SCHEMA)
    op.drop_constraint(op.f("ck_disbursement_status_known"), "disbursement", schema=SCHEMA)
    op.create_check_constraint(op.f("ck_disbursement_status_known"), "disbursement", f"status IN {PREVIOUS_STATUSES}",
                               schema=SCHEMA)
    op.drop_column("disbursement", "withdraw_reason", schema=SCHEMA)
    op.drop_column("disbursement", "withdrawn_by_name", schema=SCHEMA)
    op.drop_column("disbursement", "withdrawn_by", schema=SCHEMA)
