"""A disbursement's category: charitable activities, management or fundraising

Revision ID: 0003_disbursement_category
Revises: 0002_one_posting_path
Create Date: 2026-12-01

The Charity Law's annual ratios (charitable spending, management costs) need
to know what each disbursement paid for. Every disbursement so far becomes
`programme` (charitable activities), the default. The payment's hashed
document covers the category from now on, written so that a `programme`
payment reads as it always did: no hash already in a chain changes (see the
.sql file and chain.py).
"""
from __future__ import annotations

from pathlib import Path

from alembic import op

revision = "0003_disbursement_category"
down_revision = "0002_one_posting_path"
branch_labels = None
depends_on = None

SCHEMA = "donations"
FUNCTIONS = Path(__file__).with_suffix(".sql")
PREVIOUS_FUNCTIONS = Path(__file__).with_name("0003_disbursement_category_downgrade.sql")


def upgrade() -> None:
    op.execute("ALTER TABLE donations.disbursement ADD COLUMN category text NOT NULL DEFAULT 'programme'")
    op.create_check_constraint(op.f("ck_disbursement_category_known"), "disbursement",
                               "category IN ('programme', 'management', 'fundraising')", schema=SCHEMA)
    # Their signatures change: the old ones go, the .sql file makes the new ones.
    op.execute("DROP FUNCTION donations.request_disbursement(jsonb, bigint, text, text, text, jsonb)")
    op.execute("DROP FUNCTION donations.disbursement_document(bigint, bigint, text, text, text, date, text, text, "
               "text)")
    op.execute(FUNCTIONS.read_text())


def downgrade() -> None:
    # Without the column, a payment of another category would no longer verify: refuse to lose one.
    op.execute("""
        DO $$ BEGIN
            IF EXISTS (SELECT FROM donations.disbursement WHERE category <> 'programme') THEN
                RAISE EXCEPTION 'disbursements of a category other than programme exist: '
                    'downgrading would lose their category and break their funds'' chains';
            END IF;
        END $$
    """)
    op.execute("DROP FUNCTION donations.request_disbursement(jsonb, bigint, text, text, text, text, jsonb)")
    op.execute("DROP FUNCTION donations.disbursement_document(bigint, bigint, text, text, text, date, text, text, "
               "text, text)")
    op.drop_constraint(op.f("ck_disbursement_category_known"), "disbursement", schema=SCHEMA)
    op.drop_column("disbursement", "category", schema=SCHEMA)
    op.execute(PREVIOUS_FUNCTIONS.read_text())
