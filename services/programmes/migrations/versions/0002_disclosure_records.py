"""programmes: the disclosure calendar's records of what was published

Revision ID: 0002_disclosure_records
Revises: 0001_programmes
Create Date: 2026-12-01

An item of an organisation's disclosure calendar (services/programmes/calendar.py)
is done once its publication is recorded here: one row per organisation, kind,
subject and date.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.db

revision = '0002_disclosure_records'
down_revision = '0001_programmes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('disclosure_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('published_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_by', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.CheckConstraint("kind IN ('progress', 'full', 'leftover', 'annual_report', 'related_party')",
                       name=op.f('ck_disclosure_record_kind_known')),
    sa.CheckConstraint('length(subject) > 0', name=op.f('ck_disclosure_record_subject_not_empty')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_record')),
    sa.UniqueConstraint('organization_id', 'kind', 'subject', 'due_on',
                        name=op.f('uq_disclosure_record_organization_id_kind_subject_due_on')),
    schema='programmes'
    )


def downgrade() -> None:
    op.drop_table('disclosure_record', schema='programmes')
