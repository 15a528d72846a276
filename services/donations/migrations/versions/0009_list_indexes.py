"""Indexes for the lists that page and sort: donations and disbursements by organisation or fund

Revision ID: 0009_list_indexes
Revises: 0008_donation_import
Create Date: 2026-11-30

The pages list donations newest first by the day received (and disbursements
by number) within a user's organisation or a fund, a page at a time, with the
count and the sum of every matching row (services/donations/listing.py). Each
index is in that order and carries the amount, so that a page deep in the
list skips its rows in the index, and the count and the sum read the index
alone (an index-only scan) instead of the table. A statement pages through
`journal_entry (fund_id, effective_on, seq)`, which exists already.
"""
from __future__ import annotations

from alembic import op

revision = "0009_list_indexes"
down_revision = "0008_donation_import"
branch_labels = None
depends_on = None

SCHEMA = "donations"
INDEXES = {
    "ix_donation_organization_received": ("donation", "organization_id, received_on, id", "amount_fen"),
    "ix_donation_fund_code_received": ("donation", "fund_code, received_on, id", "amount_fen"),
    "ix_disbursement_organization_id": ("disbursement", "organization_id, id", "amount_fen"),
    "ix_disbursement_fund_code_id": ("disbursement", "fund_code, id", "amount_fen"),
}


def upgrade() -> None:
    for name, (table, columns, carried) in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {SCHEMA}.{table} ({columns}) INCLUDE ({carried})")


def downgrade() -> None:
    for name in INDEXES:
        op.execute(f"DROP INDEX {SCHEMA}.{name}")
