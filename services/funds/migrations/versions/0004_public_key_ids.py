"""A key's listed id is random: it no longer shows the secret's first characters

Revision ID: 0004_public_key_ids
Revises: 0003_organization_charity_kind
Create Date: 2026-11-30

Keys issued before showed 12 characters of their secret as `prefix`; those
characters are replaced by a random id (the secret itself is unchanged).
"""
from __future__ import annotations

from alembic import op

revision = "0004_public_key_ids"
down_revision = "0003_organization_charity_kind"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE funds.api_key SET prefix = 'key_' || substr(md5(random()::text || id::text), 1, 12)")


def downgrade() -> None:
    pass  # the secrets' characters are gone for good, as they should be
