"""A gift in kind's goods: item, quantity, unit and unit price on the donation

Revision ID: 0007_goods
Revises: 0006_disbursement_process
Create Date: 2026-11-30

Goods are not cash. A donation in kind may say what was given: the item, its
quantity (NUMERIC(14,3)), its unit and its declared unit price in fen; its
amount is then the quantity times the unit price, rounded half-up to the fen.
The named CHECKs hold the four together, only on a gift in kind, worth its
amount. record_donations takes them (the .sql file) and hashes them after the
donation's document only when there are any: no hash already in a chain
changes (see chain.py).
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0007_goods"
down_revision = "0006_disbursement_process"
branch_labels = None
depends_on = None

SCHEMA = "donations"
FUNCTIONS = Path(__file__).with_suffix(".sql")
PREVIOUS_FUNCTIONS = Path(__file__).with_name("0007_goods_downgrade.sql")
CHECKS = {
    "goods_complete": "(goods_item IS NULL) = (goods_quantity IS NULL) AND (goods_item IS NULL) = (goods_unit IS NULL) "
                      "AND (goods_item IS NULL) = (goods_unit_price_fen IS NULL)",
    "goods_in_kind_only": "goods_item IS NULL OR channel = 'in_kind'",
    "goods_item_length": "length(goods_item) BETWEEN 1 AND 100",
    "goods_quantity_positive": "goods_quantity > 0",
    "goods_unit_length": "length(goods_unit) BETWEEN 1 AND 16",
    "goods_unit_price_in_range": "goods_unit_price_fen BETWEEN 1 AND 100000000000",
    "goods_worth_amount": "goods_item IS NULL OR amount_fen = round(goods_quantity * goods_unit_price_fen)",
}


def upgrade() -> None:
    op.add_column("donation", sa.Column("goods_item", sa.String(100), nullable=True), schema=SCHEMA)
    op.add_column("donation", sa.Column("goods_quantity", sa.Numeric(14, 3), nullable=True), schema=SCHEMA)
    op.add_column("donation", sa.Column("goods_unit", sa.String(16), nullable=True), schema=SCHEMA)
    op.add_column("donation", sa.Column("goods_unit_price_fen", sa.BigInteger(), nullable=True), schema=SCHEMA)
    for name, condition in CHECKS.items():
        op.create_check_constraint(op.f(f"ck_donation_{name}"), "donation", condition, schema=SCHEMA)
    op.execute(FUNCTIONS.read_text())


def downgrade() -> None:
    # Without the columns, a gift's goods would be lost and its entry would no longer verify.
    op.execute("""
        DO $$ BEGIN
            IF EXISTS (SELECT FROM donations.donation WHERE goods_item IS NOT NULL) THEN
                RAISE EXCEPTION 'donations with goods exist: downgrading would lose them and break their '
                    'funds'' chains';
            END IF;
        END $$
    """)
    op.execute(PREVIOUS_FUNCTIONS.read_text())
    for name in reversed(CHECKS):
        op.drop_constraint(op.f(f"ck_donation_{name}"), "donation", schema=SCHEMA)
    for column in ("goods_unit_price_fen", "goods_unit", "goods_quantity", "goods_item"):
        op.drop_column("donation", column, schema=SCHEMA)
