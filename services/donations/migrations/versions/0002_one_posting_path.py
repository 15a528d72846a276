"""One posting path: the ledger's rules in its SQL functions, the fund's status, balances by day

Revision ID: 0002_one_posting_path
Revises: 6723067e86a0
Create Date: 2026-11-30

Every posting now goes through the functions in 0002_one_posting_path.sql.
The fund's ledger row keeps the fund's status (`closed` becomes `status`,
with the funds service's version and a change being prepared); `fund_day`
keeps each fund's balance changes by day, so that no balance goes below
zero on any day and balances at a date are read without summing postings.
Postings are numbered within their entry, and the foreign keys of the
high-volume tables give way to per-statement checks (see the .sql file).
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0002_one_posting_path"
down_revision = "6723067e86a0"
branch_labels = None
depends_on = None

SCHEMA = "donations"
FUNCTIONS = Path(__file__).with_suffix(".sql")


def upgrade() -> None:
    op.execute("DROP FUNCTION donations.record_donation")
    op.execute("DROP FUNCTION donations.entry_hash")

    # The fund's status, as the funds service last said it (and a change it is committing).
    op.add_column("fund_ledger", sa.Column("status", sa.String(16), nullable=False, server_default="active"),
                  schema=SCHEMA)
    op.execute("UPDATE donations.fund_ledger SET status = 'closed' WHERE closed")
    op.alter_column("fund_ledger", "status", server_default=None, schema=SCHEMA)
    op.drop_column("fund_ledger", "closed", schema=SCHEMA)
    op.add_column("fund_ledger", sa.Column("status_version", sa.BigInteger(), nullable=False, server_default="0"),
                  schema=SCHEMA)
    op.alter_column("fund_ledger", "status_version", server_default=None, schema=SCHEMA)
    op.add_column("fund_ledger", sa.Column("pending_status", sa.String(16), nullable=True), schema=SCHEMA)
    op.add_column("fund_ledger", sa.Column("pending_version", sa.BigInteger(), nullable=True), schema=SCHEMA)
    op.add_column("fund_ledger", sa.Column("pending_since", sa.DateTime(timezone=True), nullable=True),
                  schema=SCHEMA)
    for name, condition in (
        ("status_known", "status IN ('active', 'frozen', 'closed')"),
        ("pending_status_known", "pending_status IN ('active', 'frozen', 'closed')"),
        ("pending_complete", "(pending_status IS NULL) = (pending_version IS NULL) "
                             "AND (pending_status IS NULL) = (pending_since IS NULL)"),
        ("closed_holds_nothing", "status <> 'closed' OR (bank_fen = 0 AND in_kind_fen = 0 AND reserved_fen = 0)"),
    ):
        op.create_check_constraint(op.f(f"ck_fund_ledger_{name}"), "fund_ledger", condition, schema=SCHEMA)

    # Balance changes by fund and day, signed as balances (assets debit, net assets credit).
    op.create_table(
        "fund_day",
        sa.Column("fund_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("bank_fen", sa.BigInteger(), nullable=False),
        sa.Column("in_kind_fen", sa.BigInteger(), nullable=False),
        sa.Column("unrestricted_fen", sa.BigInteger(), nullable=False),
        sa.Column("restricted_fen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["fund_id"], ["donations.fund_ledger.id"],
                                name=op.f("fk_fund_day_fund_id_fund_ledger")),
        sa.PrimaryKeyConstraint("fund_id", "day", name=op.f("pk_fund_day")),
        schema=SCHEMA,
    )
    op.execute("""
        INSERT INTO donations.fund_day (fund_id, day, bank_fen, in_kind_fen, unrestricted_fen, restricted_fen)
        SELECT e.fund_id, e.effective_on,
               coalesce(sum(p.amount_fen) FILTER (WHERE p.account = 'bank'), 0),
               coalesce(sum(p.amount_fen) FILTER (WHERE p.account = 'in_kind'), 0),
               coalesce(-sum(p.amount_fen) FILTER (WHERE p.account = 'unrestricted'), 0),
               coalesce(-sum(p.amount_fen) FILTER (WHERE p.account = 'restricted'), 0)
        FROM donations.posting p JOIN donations.journal_entry e ON e.id = p.entry_id
        GROUP BY e.fund_id, e.effective_on
    """)

    # Postings are numbered within their entry: (entry_id, line) is their key.
    op.add_column("posting", sa.Column("line", sa.SmallInteger(), nullable=True), schema=SCHEMA)
    op.execute("ALTER TABLE donations.posting DISABLE TRIGGER posting_append_only")
    op.execute("""
        UPDATE donations.posting p SET line = n.line
        FROM (SELECT id, row_number() OVER (PARTITION BY entry_id ORDER BY id) AS line FROM donations.posting) n
        WHERE n.id = p.id
    """)
    op.execute("ALTER TABLE donations.posting ENABLE TRIGGER posting_append_only")
    op.alter_column("posting", "line", nullable=False, schema=SCHEMA)
    op.drop_constraint(op.f("pk_posting"), "posting", schema=SCHEMA)
    op.drop_index(op.f("ix_posting_entry_id"), table_name="posting", schema=SCHEMA)
    op.drop_column("posting", "id", schema=SCHEMA)
    op.create_primary_key(op.f("pk_posting"), "posting", ["entry_id", "line"], schema=SCHEMA)
    op.create_check_constraint(op.f("ck_posting_line_positive"), "posting", "line >= 1", schema=SCHEMA)

    # Per-statement checks (the .sql file) stand in for the row-level foreign keys of the hot path.
    for table, column, referred in (("posting", "entry_id", "journal_entry"), ("posting", "fund_id", "fund_ledger"),
                                    ("journal_entry", "fund_id", "fund_ledger"), ("donation", "fund_id", "fund_ledger"),
                                    ("donation", "entry_id", "journal_entry")):
        op.drop_constraint(op.f(f"fk_{table}_{column}_{referred}"), table, schema=SCHEMA)

    # A fund's entries by date: statements and reports of a period.
    op.create_index("ix_journal_entry_fund_effective", "journal_entry", ["fund_id", "effective_on", "seq"],
                    schema=SCHEMA)

    op.execute(FUNCTIONS.read_text())


def downgrade() -> None:
    for function in ("record_donations(jsonb, jsonb)", "reverse_donation(bigint, jsonb, text, jsonb)",
                     "request_disbursement(jsonb, bigint, text, text, text, jsonb)",
                     "approve_disbursement(bigint, jsonb, jsonb)",
                     "pay_disbursement(bigint, jsonb, date, text, jsonb)",
                     "reject_disbursement(bigint, jsonb, text, jsonb)", "lock_disbursement(bigint, jsonb)",
                     "prepare_fund_status(jsonb, text, bigint)", "settle_fund_status(text, text, bigint, boolean)",
                     "post_entries(donations.entry_input[], timestamptz)",
                     "require_history_not_negative(integer, text, date)", "require_inflow(donations.fund_ledger)",
                     "require_outflow(donations.fund_ledger)", "lock_fund(jsonb)",
                     "settle_locked(donations.fund_ledger, text, bigint, boolean)",
                     "audit(jsonb, text, text, jsonb, timestamptz)", "check_new_entries()", "check_new_donations()",
                     "guard_disbursement()", "refuse(text, jsonb)"):
        op.execute(f"DROP FUNCTION donations.{function} CASCADE")
    for function in ("link(text, text)",
                     "entry_content(text, integer, text, date, timestamptz, bigint, text, text, text)",
                     "postings_text(text[], bigint[])",
                     "donation_document(text, bigint, text, text, boolean, date, text, text, text)",
                     "reversal_document(bigint, text, text)",
                     "disbursement_document(bigint, bigint, text, text, text, date, text, text, text)",
                     "receipt_no(integer, integer)", "shanghai_day(timestamptz)", "day_text(date)", "field(text)"):
        op.execute(f"DROP FUNCTION donations.{function}")
    op.execute("DROP TYPE donations.entry_input")
    for trigger, table in (("fund_ledger_no_truncate", "fund_ledger"), ("donation_no_truncate", "donation"),
                           ("disbursement_no_truncate", "disbursement")):
        op.execute(f"DROP TRIGGER {trigger} ON donations.{table}")
    op.execute(Path(__file__).with_name("0001_ledger_postings_balance.sql").read_text())

    op.drop_index("ix_journal_entry_fund_effective", table_name="journal_entry", schema=SCHEMA)
    for table, column, referred in (("posting", "entry_id", "journal_entry"), ("posting", "fund_id", "fund_ledger"),
                                    ("journal_entry", "fund_id", "fund_ledger"), ("donation", "fund_id", "fund_ledger"),
                                    ("donation", "entry_id", "journal_entry")):
        op.create_foreign_key(op.f(f"fk_{table}_{column}_{referred}"), table, referred, [column], ["id"],
                              source_schema=SCHEMA, referent_schema=SCHEMA)

    op.drop_constraint(op.f("ck_posting_line_positive"), "posting", schema=SCHEMA)
    op.drop_constraint(op.f("pk_posting"), "posting", schema=SCHEMA)
    op.add_column("posting", sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False), schema=SCHEMA)
    op.create_primary_key(op.f("pk_posting"), "posting", ["id"], schema=SCHEMA)
    op.create_index(op.f("ix_posting_entry_id"), "posting", ["entry_id"], schema=SCHEMA)
    op.drop_column("posting", "line", schema=SCHEMA)

    op.drop_table("fund_day", schema=SCHEMA)
    for name in ("status_known", "pending_status_known", "pending_complete", "closed_holds_nothing"):
        op.drop_constraint(op.f(f"ck_fund_ledger_{name}"), "fund_ledger", schema=SCHEMA)
    op.add_column("fund_ledger", sa.Column("closed", sa.Boolean(), nullable=False, server_default=sa.false()),
                  schema=SCHEMA)
    op.execute("UPDATE donations.fund_ledger SET closed = (status = 'closed')")
    op.alter_column("fund_ledger", "closed", server_default=None, schema=SCHEMA)
    for column in ("pending_since", "pending_version", "pending_status", "status_version", "status"):
        op.drop_column("fund_ledger", column, schema=SCHEMA)

    op.execute(Path(__file__).with_name("0001_ledger_record_donation.sql").read_text())
