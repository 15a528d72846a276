"""An organisation's kind under the Charity Law, which caps its management costs

Revision ID: 0003_organization_charity_kind
Revises: 0002_fund_status_versions
Create Date: 2026-12-01

A social organisation or social service institution may spend at most 13% of
the year's spending on management, a foundation with public fundraising
status at most 10%. Every organisation so far is the first kind, the default.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_organization_charity_kind"
down_revision = "0002_fund_status_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("organization", sa.Column("charity_kind", sa.String(32), nullable=False,
                                            server_default="social_organization"), schema="funds")
    op.create_check_constraint(op.f("ck_organization_charity_kind_known"), "organization",
                               "charity_kind IN ('social_organization', 'foundation')", schema="funds")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_organization_charity_kind_known"), "organization", schema="funds")
    op.drop_column("organization", "charity_kind", schema="funds")
