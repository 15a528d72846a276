"""The ledger's tables, in the `donations` schema.

Entries and postings are immutable: corrections are reversing entries. Each
fund's balances live on its `fund_ledger` row, updated in the same
transaction as the postings, so a balance is read in O(1); the database
checks that they never go below zero and that every statement's postings
balance (see the migration for the PostgreSQL triggers).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.audit import AuditLogMixin
from shared.db import BigId, declarative_base, utcnow
from shared.idempotency import IdempotencyRecordMixin

SCHEMA = "donations"
Base = declarative_base(SCHEMA)

GENESIS_HASH = "0" * 64

# The accounts of each fund. Debits are positive, credits negative.
BANK = "bank"                  # Assets:Bank:<code>, cash at the federation's bank
IN_KIND = "in_kind"            # Assets:InKind:<code>, donated goods at declared value
UNRESTRICTED = "unrestricted"  # Funds:<code>:Unrestricted, net assets without donor restrictions
RESTRICTED = "restricted"      # Funds:<code>:Restricted, net assets with donor restrictions
ACCOUNTS = (BANK, IN_KIND, UNRESTRICTED, RESTRICTED)
ACCOUNT_NAMES = {
    BANK: "Assets:Bank:{code}",
    IN_KIND: "Assets:InKind:{code}",
    UNRESTRICTED: "Funds:{code}:Unrestricted",
    RESTRICTED: "Funds:{code}:Restricted",
}

DONOR_KINDS = ("individual", "enterprise", "organization")
CHANNELS = ("bank", "cash", "wechat", "alipay", "in_kind")
DONATION_STATUSES = ("recorded", "reversed")
DISBURSEMENT_STATUSES = ("requested", "approved", "paid", "rejected")
ENTRY_KINDS = ("donation", "reversal", "disbursement")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class FundLedger(Base):
    """A fund as the ledger knows it: its account balances and chain head."""

    __tablename__ = "fund_ledger"
    __table_args__ = (
        CheckConstraint("unrestricted_fen >= 0", name="unrestricted_not_negative"),
        CheckConstraint("restricted_fen >= 0", name="restricted_not_negative"),
        CheckConstraint("reserved_fen >= 0", name="reserved_not_negative"),
        CheckConstraint("reserved_fen <= unrestricted_fen + restricted_fen", name="available_not_negative"),
        CheckConstraint("bank_fen + in_kind_fen = unrestricted_fen + restricted_fen", name="assets_equal_net_assets"),
        CheckConstraint("entry_count >= 0", name="entry_count_not_negative"),
        # Payments leave the bank: it covers every approved payment; goods are never negative.
        CheckConstraint("bank_fen >= reserved_fen", name="bank_covers_reserved"),
        CheckConstraint("in_kind_fen >= 0", name="in_kind_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    organization_id: Mapped[int] = mapped_column(index=True)
    restricted: Mapped[bool]
    closed: Mapped[bool] = mapped_column(default=False)
    bank_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    in_kind_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    unrestricted_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    restricted_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    # Approved, unpaid disbursements: available = balance - reserved.
    reserved_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    entry_count: Mapped[int] = mapped_column(default=0)
    chain_head: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @property
    def balance_fen(self) -> int:
        return self.unrestricted_fen + self.restricted_fen

    @property
    def available_fen(self) -> int:
        return self.balance_fen - self.reserved_fen

    @property
    def cash_available_fen(self) -> int:
        """Cash at the bank not yet promised to approved payments."""
        return self.bank_fen - self.reserved_fen


class JournalEntry(Base):
    """One movement of money within a fund; its postings sum to zero.

    `hash` covers the entry, its postings, its source document and the
    previous entry's hash in the same fund (`prev_hash`), see ledger/chain.py.
    """

    __tablename__ = "journal_entry"
    __table_args__ = (
        UniqueConstraint("fund_id", "seq"),
        CheckConstraint(_one_of("kind", ENTRY_KINDS), name="kind_known"),
        CheckConstraint("seq >= 1", name="seq_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("fund_ledger.id"))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    effective_on: Mapped[dt.date]
    posted_at: Mapped[dt.datetime]
    source_id: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Posting(Base):
    __tablename__ = "posting"
    __table_args__ = (
        CheckConstraint(_one_of("account", ACCOUNTS), name="account_known"),
        CheckConstraint("amount_fen <> 0", name="amount_not_zero"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("journal_entry.id"), index=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("fund_ledger.id"))
    account: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int] = mapped_column(BigInteger)


class Donation(Base):
    __tablename__ = "donation"
    __table_args__ = (
        UniqueConstraint("receipt_year", "receipt_seq"),
        CheckConstraint("amount_fen BETWEEN 1 AND 100000000000", name="amount_in_range"),
        CheckConstraint(_one_of("donor_kind", DONOR_KINDS), name="donor_kind_known"),
        CheckConstraint(_one_of("channel", CHANNELS), name="channel_known"),
        CheckConstraint(_one_of("status", DONATION_STATUSES), name="status_known"),
        CheckConstraint("currency = 'CNY'", name="currency_cny"),
        CheckConstraint("(status = 'reversed') = (reversal_entry_id IS NOT NULL)", name="reversed_iff_entry"),
        # A payer's own reference is recorded once per organisation.
        Index("uq_donation_organization_reference", "organization_id", "reference", unique=True,
              postgresql_where=text("reference IS NOT NULL"), sqlite_where=text("reference IS NOT NULL")),
        Index("ix_donation_fund_received", "fund_id", "received_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("fund_ledger.id"))
    fund_code: Mapped[str] = mapped_column(String(32))
    organization_id: Mapped[int]
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    donor_name: Mapped[str] = mapped_column(String(200))
    donor_kind: Mapped[str] = mapped_column(String(16))
    donor_anonymous: Mapped[bool]
    received_on: Mapped[dt.date]
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(Text, default="")
    reference: Mapped[str | None] = mapped_column(String(100))
    receipt_year: Mapped[int]
    receipt_seq: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="recorded")
    entry_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("journal_entry.id"))
    reversal_entry_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("journal_entry.id"))
    reversal_reason: Mapped[str | None] = mapped_column(Text)
    reversed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))

    @property
    def receipt_no(self) -> str:
        return f"{self.receipt_year}-{self.receipt_seq:06d}"

    @property
    def donor(self) -> dict[str, Any]:
        """As recorded; outputs hide the name of an anonymous donor (schemas.py)."""
        return {"name": self.donor_name, "kind": self.donor_kind, "anonymous": self.donor_anonymous}


class ReceiptCounter(Base):
    """The last receipt number issued in a year: the one row every donation takes."""

    __tablename__ = "receipt_counter"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(default=0)


class Disbursement(Base):
    __tablename__ = "disbursement"
    __table_args__ = (
        CheckConstraint("amount_fen BETWEEN 1 AND 100000000000", name="amount_in_range"),
        CheckConstraint(_one_of("status", DISBURSEMENT_STATUSES), name="status_known"),
        CheckConstraint("approved_by IS NULL OR approved_by <> requested_by", name="four_eyes"),
        CheckConstraint("(status = 'paid') = (entry_id IS NOT NULL)", name="paid_iff_entry"),
        Index("ix_disbursement_fund_status", "fund_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("fund_ledger.id"))
    fund_code: Mapped[str] = mapped_column(String(32))
    organization_id: Mapped[int]
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    payee: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text)
    project: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="requested")
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_by_name: Mapped[str] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_by_name: Mapped[str | None] = mapped_column(String(200))
    rejected_by: Mapped[str | None] = mapped_column(String(64))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None]
    paid_on: Mapped[dt.date | None]
    bank_reference: Mapped[str | None] = mapped_column(String(100))
    entry_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("journal_entry.id"))


class AuditLog(AuditLogMixin, Base):
    pass


class IdempotencyRecord(IdempotencyRecordMixin, Base):
    pass
