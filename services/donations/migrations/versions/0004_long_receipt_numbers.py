"""Receipt numbers past 999,999 in a year keep all their digits

Revision ID: 0004_long_receipt_numbers
Revises: 0003_disbursement_category
Create Date: 2026-11-30

No receipt of a year had reached 1,000,000 on a ledger in use; no stored hash changes.
"""
from __future__ import annotations

from pathlib import Path

from alembic import op

revision = "0004_long_receipt_numbers"
down_revision = "0003_disbursement_category"
branch_labels = None
depends_on = None

FUNCTION = Path(__file__).with_suffix(".sql")


def upgrade() -> None:
    op.execute(FUNCTION.read_text())


def downgrade() -> None:
    op.execute("CREATE OR REPLACE FUNCTION donations.receipt_no(year integer, seq integer) RETURNS text "
               "LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN year::text || '-' || lpad(seq::text, 6, '0')")
