"""The organisation's approval rule, enforced where disbursements are requested and approved

Revision ID: 0005_approval_rule
Revises: 0004_long_receipt_numbers
Create Date: 2026-11-30

A key's first request and first approval are kept, one row a key
(key_activity), filled from the disbursements so far: the rule
`non_requesting_keys` asks whether a key has ever done the other (see the
.sql file, and shared/contracts/funds.py for the rule).
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0005_approval_rule"
down_revision = "0004_long_receipt_numbers"
branch_labels = None
depends_on = None

SCHEMA = "donations"
FUNCTIONS = Path(__file__).with_suffix(".sql")
PREVIOUS_FUNCTIONS = Path(__file__).with_name("0005_approval_rule_downgrade.sql")


def upgrade() -> None:
    op.create_table(
        "key_activity",
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("first_requested_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_approved_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("actor LIKE 'key:%'", name=op.f("ck_key_activity_actor_is_key")),
        sa.CheckConstraint("first_requested_at IS NOT NULL OR first_approved_at IS NOT NULL",
                           name=op.f("ck_key_activity_acted")),
        sa.PrimaryKeyConstraint("actor", name=op.f("pk_key_activity")),
        schema=SCHEMA,
    )
    op.execute("""
        INSERT INTO donations.key_activity (actor, first_requested_at, first_approved_at)
        SELECT actor, min(requested_at), min(approved_at) FROM (
            SELECT requested_by AS actor, created_at AS requested_at, NULL::timestamptz AS approved_at
            FROM donations.disbursement WHERE requested_by LIKE 'key:%'
            UNION ALL
            SELECT approved_by, NULL, decided_at FROM donations.disbursement WHERE approved_by LIKE 'key:%'
        ) acts GROUP BY actor
    """)
    op.execute(FUNCTIONS.read_text())


def downgrade() -> None:
    op.execute(PREVIOUS_FUNCTIONS.read_text())
    op.drop_table("key_activity", schema=SCHEMA)
