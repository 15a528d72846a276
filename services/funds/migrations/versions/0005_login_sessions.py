"""Login sessions kept server-side, so logging out ends a session wherever its cookie is

Revision ID: 0005_login_sessions
Revises: 0004_public_key_ids
Create Date: 2026-11-30

Sessions from before carry no login of their own: their users log in again.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0005_login_sessions"
down_revision = "0004_public_key_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["funds.user_account.id"], name=op.f("fk_login_session_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_login_session_token_hash")),
        schema="funds",
    )
    op.create_index(op.f("ix_login_session_user_id"), "login_session", ["user_id"], unique=False, schema="funds")


def downgrade() -> None:
    op.drop_index(op.f("ix_login_session_user_id"), table_name="login_session", schema="funds")
    op.drop_table("login_session", schema="funds")
