"""An organisation's approval rule: who may approve its disbursements

Revision ID: 0006_organization_approval_rule
Revises: 0005_login_sessions
Create Date: 2026-11-30

`other_actor` (anyone but the requester, API.md's rule), `person_only` or
`non_requesting_keys` (see shared/contracts/funds.py). Every organisation so
far keeps the first, the default.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_organization_approval_rule"
down_revision = "0005_login_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("organization", sa.Column("approval_rule", sa.String(32), nullable=False,
                                            server_default="other_actor"), schema="funds")
    op.create_check_constraint(op.f("ck_organization_approval_rule_known"), "organization",
                               "approval_rule IN ('other_actor', 'person_only', 'non_requesting_keys')",
                               schema="funds")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_organization_approval_rule_known"), "organization", schema="funds")
    op.drop_column("organization", "approval_rule", schema="funds")
