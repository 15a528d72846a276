"""The ledger's tables, in the `donations` schema.

The service reads these; it writes them only through the ledger's SQL
functions (ledger.py, and the migration 0002_one_posting_path.sql): entries
and postings are immutable, corrections are reversing entries. Each fund's
balances live on its `fund_ledger` row and its balance changes by day on
`fund_day`, both updated in the same transaction as the postings.

CHECK constraints are built from the same rules the API checks (rules.py);
a test holds them equal to what the migrations installed.

Beside the ledger, the service's own bookkeeping of the pages' import
(importing.py, migration 0008): `import_batch`, an uploaded file kept between
its preview and its recording, and its `import_row`s.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, Numeric, SmallInteger, String, Text,
    UniqueConstraint, text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.donations.rules import (
    ACCOUNTS, ATTACHMENT_MAX_BYTES, ATTACHMENT_NAME_MAX, ATTACHMENT_TYPES, DEFAULT_DISBURSEMENT_CATEGORY, DISBURSEMENT,
    DISBURSEMENT_STATUSES, DONATION, DONATION_STATUSES, DONOR, ENTRY_KINDS, GOODS, IN_KIND,
)
from shared.audit import AuditLogMixin
from shared.contracts.caps import CAP_KINDS
from shared.contracts.funds import FUND_STATUSES
from shared.db import UTCDateTime, declarative_base, utcnow
from shared.idempotency import IdempotencyRecordMixin
from shared.shapes import Choice

SCHEMA = "donations"
Base = declarative_base(SCHEMA)

GENESIS_HASH = "0" * 64


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return Choice(values).sql_check(column)


class FundLedger(Base):
    """A fund as the ledger knows it: its status, account balances and chain head."""

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
        CheckConstraint(_one_of("status", FUND_STATUSES), name="status_known"),
        CheckConstraint(_one_of("pending_status", FUND_STATUSES), name="pending_status_known"),
        CheckConstraint("(pending_status IS NULL) = (pending_version IS NULL) "
                        "AND (pending_status IS NULL) = (pending_since IS NULL)", name="pending_complete"),
        CheckConstraint("status <> 'closed' OR (bank_fen = 0 AND in_kind_fen = 0 AND reserved_fen = 0)",
                        name="closed_holds_nothing"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    organization_id: Mapped[int] = mapped_column(index=True)
    restricted: Mapped[bool]
    # The funds service's status for the fund, at its version; a restricting
    # change being committed there applies here from the moment it is prepared.
    status: Mapped[str] = mapped_column(String(16))
    status_version: Mapped[int] = mapped_column(BigInteger)
    pending_status: Mapped[str | None] = mapped_column(String(16))
    pending_version: Mapped[int | None] = mapped_column(BigInteger)
    pending_since: Mapped[dt.datetime | None]
    bank_fen: Mapped[int] = mapped_column(BigInteger)
    in_kind_fen: Mapped[int] = mapped_column(BigInteger)
    unrestricted_fen: Mapped[int] = mapped_column(BigInteger)
    restricted_fen: Mapped[int] = mapped_column(BigInteger)
    # Approved, unpaid disbursements: available = balance - reserved.
    reserved_fen: Mapped[int] = mapped_column(BigInteger)
    entry_count: Mapped[int]
    chain_head: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @property
    def balance_fen(self) -> int:
        return self.unrestricted_fen + self.restricted_fen

    @property
    def available_fen(self) -> int:
        return self.balance_fen - self.reserved_fen

    @property
    def available_cash_fen(self) -> int:
        """What can be paid: cash at the bank less approved, unpaid disbursements (goods are not cash)."""
        return min(self.bank_fen, self.balance_fen) - self.reserved_fen


class FundDay(Base):
    """A fund's balance changes on one day (by effective date), signed as balances."""

    __tablename__ = "fund_day"

    fund_id: Mapped[int] = mapped_column(ForeignKey("fund_ledger.id"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    bank_fen: Mapped[int] = mapped_column(BigInteger)
    in_kind_fen: Mapped[int] = mapped_column(BigInteger)
    unrestricted_fen: Mapped[int] = mapped_column(BigInteger)
    restricted_fen: Mapped[int] = mapped_column(BigInteger)


class JournalEntry(Base):
    """One movement of money within a fund; its postings sum to zero.

    `hash` covers the entry, its postings, its source document and the
    previous entry's hash in the same fund (`prev_hash`), see chain.py.
    """

    __tablename__ = "journal_entry"
    __table_args__ = (
        UniqueConstraint("fund_id", "seq"),
        CheckConstraint(_one_of("kind", ENTRY_KINDS), name="kind_known"),
        CheckConstraint("seq >= 1", name="seq_positive"),
        Index("ix_journal_entry_fund_effective", "fund_id", "effective_on", "seq"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    fund_id: Mapped[int]
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
        CheckConstraint("line >= 1", name="line_positive"),
    )

    entry_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    line: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    fund_id: Mapped[int]
    account: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int] = mapped_column(BigInteger)


class Donation(Base):
    __tablename__ = "donation"
    __table_args__ = (
        UniqueConstraint("receipt_year", "receipt_seq"),
        CheckConstraint(DONATION.fields["amount"].sql_check("amount_fen"), name="amount_in_range"),
        CheckConstraint(DONOR.fields["kind"].sql_check("donor_kind"), name="donor_kind_known"),
        CheckConstraint(DONATION.fields["channel"].sql_check("channel"), name="channel_known"),
        CheckConstraint(_one_of("status", DONATION_STATUSES), name="status_known"),
        CheckConstraint(DONATION.fields["currency"].sql_check("currency"), name="currency_cny"),
        CheckConstraint("(status = 'reversed') = (reversal_entry_id IS NOT NULL)", name="reversed_iff_entry"),
        # A gift in kind's goods (0007_goods.py): all four or none, only in kind, worth its amount.
        CheckConstraint("(goods_item IS NULL) = (goods_quantity IS NULL) AND (goods_item IS NULL) = (goods_unit IS NULL) "
                        "AND (goods_item IS NULL) = (goods_unit_price_fen IS NULL)", name="goods_complete"),
        CheckConstraint(f"goods_item IS NULL OR channel = '{IN_KIND}'", name="goods_in_kind_only"),
        CheckConstraint(GOODS.fields["item"].sql_check("goods_item"), name="goods_item_length"),
        CheckConstraint(GOODS.fields["quantity"].sql_check("goods_quantity"), name="goods_quantity_positive"),
        CheckConstraint(GOODS.fields["unit"].sql_check("goods_unit"), name="goods_unit_length"),
        CheckConstraint(GOODS.fields["unit_price"].sql_check("goods_unit_price_fen"), name="goods_unit_price_in_range"),
        CheckConstraint("goods_item IS NULL OR amount_fen = round(goods_quantity * goods_unit_price_fen)",
                        name="goods_worth_amount"),
        # A payer's own reference is recorded once per organisation.
        Index("uq_donation_organization_reference", "organization_id", "reference", unique=True,
              postgresql_where=text("reference IS NOT NULL")),
        Index("ix_donation_fund_received", "fund_id", "received_on"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    fund_id: Mapped[int]
    fund_code: Mapped[str] = mapped_column(String(32))
    organization_id: Mapped[int]
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    donor_name: Mapped[str] = mapped_column(String(200))
    donor_kind: Mapped[str] = mapped_column(String(16))
    donor_anonymous: Mapped[bool]
    received_on: Mapped[dt.date]
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(100))
    goods_item: Mapped[str | None] = mapped_column(String(100))
    goods_quantity: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))
    goods_unit: Mapped[str | None] = mapped_column(String(16))
    goods_unit_price_fen: Mapped[int | None] = mapped_column(BigInteger)
    receipt_year: Mapped[int]
    receipt_seq: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    entry_id: Mapped[int] = mapped_column(BigInteger)
    reversal_entry_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("journal_entry.id"))
    reversal_reason: Mapped[str | None] = mapped_column(Text)
    reversed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(64))

    @property
    def receipt_no(self) -> str:
        return receipt_no(self.receipt_year, self.receipt_seq)


def receipt_no(year: int, seq: int) -> str:
    return f"{year}-{seq:06d}"


class ReceiptCounter(Base):
    """The last receipt number issued in a year: the one row every donation takes."""

    __tablename__ = "receipt_counter"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int]


class Disbursement(Base):
    __tablename__ = "disbursement"
    __table_args__ = (
        CheckConstraint(DISBURSEMENT.fields["amount"].sql_check("amount_fen"), name="amount_in_range"),
        CheckConstraint(_one_of("status", DISBURSEMENT_STATUSES), name="status_known"),
        CheckConstraint(DISBURSEMENT.fields["category"].sql_check("category"), name="category_known"),
        CheckConstraint("approved_by IS NULL OR approved_by <> requested_by", name="four_eyes"),
        CheckConstraint("(status = 'paid') = (entry_id IS NOT NULL)", name="paid_iff_entry"),
        # Withdrawn by its requester, before anyone approved it (0006_disbursement_process.sql).
        CheckConstraint("(status = 'withdrawn') = (withdrawn_by IS NOT NULL)", name="withdrawn_iff_by"),
        CheckConstraint("withdrawn_by IS NULL OR (withdrawn_by = requested_by AND approved_by IS NULL "
                        "AND withdrawn_by_name IS NOT NULL AND decided_at IS NOT NULL)",
                        name="withdrawn_by_requester"),
        Index("ix_disbursement_fund_status", "fund_id", "status"),
        # A project's budget line, or a need, held by their spending caps (0010_spending_caps.sql).
        CheckConstraint("(project_code IS NULL) = (budget_line IS NULL)", name="budget_line_iff_project"),
        CheckConstraint("project_code IS NULL OR need_id IS NULL", name="project_or_need"),
        Index("ix_disbursement_project_code", "project_code", "id", postgresql_where=text("project_code IS NOT NULL")),
        Index("ix_disbursement_need_id", "need_id", "id", postgresql_where=text("need_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("fund_ledger.id"))
    fund_code: Mapped[str] = mapped_column(String(32))
    organization_id: Mapped[int]
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    payee: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text)
    project: Mapped[str | None] = mapped_column(String(200))
    # Hashed into the payment's entry unless it is the default (see chain.disbursement_document).
    category: Mapped[str] = mapped_column(Text, server_default=DEFAULT_DISBURSEMENT_CATEGORY)
    status: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_by_name: Mapped[str] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_by_name: Mapped[str | None] = mapped_column(String(200))
    rejected_by: Mapped[str | None] = mapped_column(String(64))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    decided_at: Mapped[dt.datetime | None]
    paid_on: Mapped[dt.date | None]
    bank_reference: Mapped[str | None] = mapped_column(String(100))
    entry_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("journal_entry.id"))
    withdrawn_by: Mapped[str | None] = mapped_column(String(64))
    withdrawn_by_name: Mapped[str | None] = mapped_column(String(200))
    withdraw_reason: Mapped[str | None] = mapped_column(Text)
    # Hashed into the payment's entry only when present (see chain.caps_document).
    project_code: Mapped[str | None] = mapped_column(String(32))
    budget_line: Mapped[str | None] = mapped_column(String(200))
    need_id: Mapped[int | None]


class SpendingCap(Base):
    """What the programmes service lets funds pay for a project, a budget line or a need
    (shared/contracts/caps.py): approved and unpaid disbursements naming it are `reserved`, paid ones
    `paid`. Written only by the ledger's functions (set_cap and the disbursements', 0010_spending_caps.sql).
    """

    __tablename__ = "spending_cap"
    __table_args__ = (
        CheckConstraint(Choice(CAP_KINDS).sql_check("kind"), name="kind_known"),
        CheckConstraint("length(cap_key) BETWEEN 1 AND 300", name="cap_key_length"),
        CheckConstraint("limit_fen >= 0", name="limit_not_negative"),
        CheckConstraint("reserved_fen >= 0", name="reserved_not_negative"),
        CheckConstraint("paid_fen >= 0", name="paid_not_negative"),
        CheckConstraint("reserved_fen + paid_fen <= limit_fen", name="within_limit"),
        CheckConstraint("version >= 0", name="version_not_negative"),
    )

    cap_key: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    fund_code: Mapped[str | None] = mapped_column(String(32))
    organization_id: Mapped[int]
    limit_fen: Mapped[int] = mapped_column(BigInteger)
    reserved_fen: Mapped[int] = mapped_column(BigInteger)
    paid_fen: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(BigInteger)
    label: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime]


class DisbursementAttachment(Base):
    """A document supporting a disbursement (an invoice, a contract): its bytes, kept as uploaded.

    Written only by the ledger's function attach_to_disbursement (0006_disbursement_process.sql),
    which also writes the audit log; never changed or deleted. The database checks that the
    stored sha256 and size are the content's own.
    """

    __tablename__ = "disbursement_attachment"
    __table_args__ = (
        CheckConstraint(_one_of("content_type", tuple(ATTACHMENT_TYPES)), name="content_type_known"),
        CheckConstraint(f"size_bytes BETWEEN 1 AND {ATTACHMENT_MAX_BYTES}", name="size_in_range"),
        CheckConstraint("size_bytes = octet_length(content)", name="size_of_content"),
        CheckConstraint("sha256 = encode(sha256(content), 'hex')", name="sha256_of_content"),
        CheckConstraint(f"length(filename) BETWEEN 1 AND {ATTACHMENT_NAME_MAX}", name="filename_length"),
        Index("ix_disbursement_attachment_disbursement", "disbursement_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    disbursement_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("disbursement.id"))
    filename: Mapped[str] = mapped_column(String(ATTACHMENT_NAME_MAX))
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_by_name: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[dt.datetime]


class KeyActivity(Base):
    """When an API key first requested and first approved a disbursement, one row a key: what the
    approval rule `non_requesting_keys` asks (shared/contracts/funds.py). Written by the ledger's
    request and approval (0005_approval_rule.sql), which lock the key's row first."""

    __tablename__ = "key_activity"
    __table_args__ = (
        CheckConstraint("actor LIKE 'key:%'", name="actor_is_key"),
        CheckConstraint("first_requested_at IS NOT NULL OR first_approved_at IS NOT NULL", name="acted"),
    )

    actor: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_requested_at: Mapped[dt.datetime | None]
    first_approved_at: Mapped[dt.datetime | None]


class AuditLog(AuditLogMixin, Base):
    pass


class IdempotencyRecord(IdempotencyRecordMixin, Base):
    pass


class ImportBatch(Base):
    """An uploaded file, kept between its preview and its recording (the pages' import: importing.py)."""

    __tablename__ = "import_batch"
    __table_args__ = (
        CheckConstraint("status IN ('previewed', 'recording', 'done')", name="status_known"),
        CheckConstraint("(status = 'previewed') = (confirmed_at IS NULL)", name="confirmed_iff_not_previewed"),
        Index("ix_import_batch_created_by", "created_by", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    organization_id: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(64))
    created_by_name: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    # The file's header: [[its text, the field it holds or null], ...]
    columns: Mapped[list[list[str | None]]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16))
    include_warned: Mapped[bool | None] = mapped_column(Boolean)
    row_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    def header_of(self, field: str) -> str:
        """The file's own name for a field's column (else the field's code)."""
        return next((name for name, mapped in self.columns if mapped == field), field)


class ImportRow(Base):
    """One data row of an import: its cells, what was read, its verdict, and what became of it."""

    __tablename__ = "import_row"
    __table_args__ = (
        CheckConstraint("verdict IN ('ready', 'warning', 'error')", name="verdict_known"),
        CheckConstraint("state IN ('new', 'pending', 'recorded', 'failed', 'skipped')", name="state_known"),
        CheckConstraint("(state = 'recorded') = (donation_id IS NOT NULL)", name="recorded_iff_donation"),
        Index("ix_import_row_batch_state", "batch_id", "state", "line"),
    )

    batch_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("import_batch.id", ondelete="CASCADE"),
                                          primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    cells: Mapped[list[str]] = mapped_column(JSONB)
    # The values as the API's CSV would hold them, by field; null when the row cannot be read.
    values: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    verdict: Mapped[str] = mapped_column(String(16))
    # {field: [{"code": ..., "params": {...}}]}: why it is refused, or (a warning) what it resembles.
    errors: Mapped[dict[str, list[dict[str, Any]]] | None] = mapped_column(JSONB)
    similar: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    state: Mapped[str] = mapped_column(String(16))
    donation_id: Mapped[int | None] = mapped_column(BigInteger)
    receipt_no: Mapped[str | None] = mapped_column(String(32))
