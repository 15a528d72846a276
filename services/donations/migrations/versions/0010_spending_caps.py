"""Spending caps: a disbursement naming a project's budget line or a village's need

Revision ID: 0010_spending_caps
Revises: 0009_list_indexes
Create Date: 2026-12-02

The programmes service owns projects, their budget lines and the pledges
organisations make to villages' needs; the ledger owns the money. It keeps a
cap for each (`spending_cap`, keyed as shared/contracts/caps.py says), set
by the programmes service through the internal API (set_cap, version
ordered), and checks it under the fund's lock when a disbursement naming it
is approved and paid: `reserved + paid <= limit` always. A disbursement may
name `project_code` with `budget_line`, or `need_id`; its payment's hashed
document adds them only when present, so no hash already in a chain changes
(see the .sql file and chain.py).
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0010_spending_caps"
down_revision = "0009_list_indexes"
branch_labels = None
depends_on = None

SCHEMA = "donations"
FUNCTIONS = Path(__file__).with_suffix(".sql")
PREVIOUS_FUNCTIONS = Path(__file__).with_name("0010_spending_caps_downgrade.sql")
# As models.py builds them (tests/test_shapes.py holds the two equal).
CAP_CHECKS = {
    "kind_known": "kind IN ('project', 'project_line', 'need')",
    "cap_key_length": "length(cap_key) BETWEEN 1 AND 300",
    "limit_not_negative": "limit_fen >= 0",
    "reserved_not_negative": "reserved_fen >= 0",
    "paid_not_negative": "paid_fen >= 0",
    "within_limit": "reserved_fen + paid_fen <= limit_fen",
    "version_not_negative": "version >= 0",
}
DISBURSEMENT_CHECKS = {
    "budget_line_iff_project": "(project_code IS NULL) = (budget_line IS NULL)",
    "project_or_need": "project_code IS NULL OR need_id IS NULL",
}


def upgrade() -> None:
    op.create_table(
        "spending_cap",
        sa.Column("cap_key", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("fund_code", sa.String(length=32), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("limit_fen", sa.BigInteger(), nullable=False),
        sa.Column("reserved_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("updated_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        *(sa.CheckConstraint(condition, name=op.f(f"ck_spending_cap_{name}")) for name, condition in CAP_CHECKS.items()),
        sa.PrimaryKeyConstraint("cap_key", name=op.f("pk_spending_cap")),
        schema=SCHEMA,
    )
    op.add_column("disbursement", sa.Column("project_code", sa.String(32), nullable=True), schema=SCHEMA)
    op.add_column("disbursement", sa.Column("budget_line", sa.String(200), nullable=True), schema=SCHEMA)
    op.add_column("disbursement", sa.Column("need_id", sa.Integer(), nullable=True), schema=SCHEMA)
    for name, condition in DISBURSEMENT_CHECKS.items():
        op.create_check_constraint(op.f(f"ck_disbursement_{name}"), "disbursement", condition, schema=SCHEMA)
    op.create_index("ix_disbursement_project_code", "disbursement", ["project_code", "id"], schema=SCHEMA,
                    postgresql_where=sa.text("project_code IS NOT NULL"))
    op.create_index("ix_disbursement_need_id", "disbursement", ["need_id", "id"], schema=SCHEMA,
                    postgresql_where=sa.text("need_id IS NOT NULL"))
    # request_disbursement takes three more arguments: the old one goes, the .sql file makes the new one.
    op.execute("DROP FUNCTION donations.request_disbursement(jsonb, bigint, text, text, text, text, jsonb)")
    op.execute(FUNCTIONS.read_text())


def downgrade() -> None:
    # Without the columns a payment naming a project or a need would no longer verify: refuse to lose one.
    op.execute("""
        DO $$ BEGIN
            IF EXISTS (SELECT FROM donations.disbursement WHERE project_code IS NOT NULL OR need_id IS NOT NULL)
               OR EXISTS (SELECT FROM donations.spending_cap) THEN
                RAISE EXCEPTION 'disbursements naming a project or a need, or spending caps, exist: '
                    'downgrading would lose them and break their funds'' chains';
            END IF;
        END $$
    """)
    op.execute("DROP FUNCTION donations.set_cap(text, text, text, integer, bigint, bigint, boolean, text, jsonb)")
    op.execute("DROP FUNCTION donations.request_disbursement(jsonb, bigint, text, text, text, text, text, text, "
               "integer, jsonb)")
    op.execute("DROP FUNCTION donations.lock_caps(donations.disbursement, boolean)")
    op.execute("DROP FUNCTION donations.cap_keys(donations.disbursement)")
    op.execute("DROP FUNCTION donations.check_cap(donations.spending_cap, donations.disbursement)")
    op.execute("DROP FUNCTION donations.caps_document(text, text, integer)")
    op.execute(PREVIOUS_FUNCTIONS.read_text())
    op.drop_index("ix_disbursement_need_id", table_name="disbursement", schema=SCHEMA)
    op.drop_index("ix_disbursement_project_code", table_name="disbursement", schema=SCHEMA)
    for name in reversed(DISBURSEMENT_CHECKS):
        op.drop_constraint(op.f(f"ck_disbursement_{name}"), "disbursement", schema=SCHEMA)
    for column in ("need_id", "budget_line", "project_code"):
        op.drop_column("disbursement", column, schema=SCHEMA)
    op.drop_table("spending_cap", schema=SCHEMA)
