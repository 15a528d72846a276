"""A fund's status changes are numbered; the fund code's rule in one CHECK

Revision ID: 0002_fund_status_versions
Revises: 7f27032c2210
Create Date: 2026-11-30

The ledger keeps a copy of each fund's status (it stops money the instant a
freeze commits): every change takes the next number of a sequence, so the
ledger can tell a later status from an earlier one, whatever order they
reach it in.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_fund_status_versions"
down_revision = "7f27032c2210"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE funds.fund_status_version_seq")
    op.add_column("fund", sa.Column("status_version", sa.BigInteger(), nullable=False, server_default="0"),
                  schema="funds")
    op.alter_column("fund", "status_version", server_default=None, schema="funds")
    op.drop_constraint(op.f("ck_fund_code_length"), "fund", schema="funds")
    op.drop_constraint(op.f("ck_fund_code_format"), "fund", schema="funds")
    op.create_check_constraint(op.f("ck_fund_code_format"), "fund",
                               "length(code) BETWEEN 3 AND 32 AND code ~ '^[A-Z0-9-]{3,32}$'", schema="funds")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_fund_code_format"), "fund", schema="funds")
    op.create_check_constraint(op.f("ck_fund_code_format"), "fund", "code ~ '^[A-Z0-9-]{3,32}$'", schema="funds")
    op.create_check_constraint(op.f("ck_fund_code_length"), "fund", "length(code) BETWEEN 3 AND 32", schema="funds")
    op.drop_column("fund", "status_version", schema="funds")
    op.execute("DROP SEQUENCE funds.fund_status_version_seq")
