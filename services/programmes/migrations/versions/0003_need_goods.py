"""programmes: a need may ask for a quantity of goods (35 street lights), beside its amount

Revision ID: 0003_need_goods
Revises: 0002_disclosure_records
Create Date: 2026-12-01

A need asks for money or for goods: its amount is what it asks for in money
(goods at their value), and when it asks for goods, how many of what unit
(35 盏, 2 吨). Both or neither.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003_need_goods'
down_revision = '0002_disclosure_records'
branch_labels = None
depends_on = None

SCHEMA = "programmes"


def upgrade() -> None:
    op.add_column("need", sa.Column("quantity", sa.Numeric(14, 3), nullable=True), schema=SCHEMA)
    op.add_column("need", sa.Column("unit", sa.String(32), nullable=True), schema=SCHEMA)
    op.create_check_constraint(op.f("ck_need_quantity_with_unit"), "need",
                               "(quantity IS NULL) = (unit IS NULL)", schema=SCHEMA)
    op.create_check_constraint(op.f("ck_need_quantity_positive"), "need", "quantity IS NULL OR quantity > 0",
                               schema=SCHEMA)


def downgrade() -> None:
    op.drop_constraint(op.f("ck_need_quantity_positive"), "need", schema=SCHEMA)
    op.drop_constraint(op.f("ck_need_quantity_with_unit"), "need", schema=SCHEMA)
    op.drop_column("need", "unit", schema=SCHEMA)
    op.drop_column("need", "quantity", schema=SCHEMA)
