"""Posting to the ledger: the one place that writes entries and postings.

Everything that moves money goes through `Ledger.post`, or `record_donations`
for many donations at once; the hot single-donation path on PostgreSQL is the
SQL function `donations.record_donation`, which follows the same rules (and
is held to them by the same tests and the chain verification).

Locks are always taken in the same order: fund ledger rows (by code), then
the receipt counter, so concurrent writers cannot deadlock.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.donations import chain
from services.donations.dates import shanghai_date
from services.donations.models import (
    BANK, GENESIS_HASH, IN_KIND, RESTRICTED, UNRESTRICTED, AuditLog, Donation, FundLedger,
    JournalEntry, Posting, ReceiptCounter,
)
from shared.auth import FundInfo

BALANCE_COLUMNS = {BANK: "bank_fen", IN_KIND: "in_kind_fen", UNRESTRICTED: "unrestricted_fen",
                   RESTRICTED: "restricted_fen"}
# Net assets are credit accounts: their balance is the negated sum of postings.
BALANCE_SIGN = {BANK: 1, IN_KIND: 1, UNRESTRICTED: -1, RESTRICTED: -1}


@dataclass(frozen=True)
class NewDonation:
    """A validated donation, not yet recorded."""

    fund: FundInfo
    amount_fen: int
    donor_name: str
    donor_kind: str
    donor_anonymous: bool
    received_on: dt.date
    channel: str
    purpose: str
    reference: str | None


def donation_postings(restricted: bool, channel: str, amount_fen: int) -> list[tuple[str, int]]:
    asset = IN_KIND if channel == "in_kind" else BANK
    net_assets = RESTRICTED if restricted else UNRESTRICTED
    return [(asset, amount_fen), (net_assets, -amount_fen)]


def disbursement_postings(restricted: bool, amount_fen: int) -> list[tuple[str, int]]:
    """Paying out; from a restricted fund the release from restriction comes first."""
    release = [(RESTRICTED, amount_fen), (UNRESTRICTED, -amount_fen)] if restricted else []
    return [*release, (UNRESTRICTED, amount_fen), (BANK, -amount_fen)]


def balance_deltas(postings: Iterable[tuple[str, int]]) -> dict[str, int]:
    deltas: dict[str, int] = defaultdict(int)
    for account, amount in postings:
        deltas[BALANCE_COLUMNS[account]] += BALANCE_SIGN[account] * amount
    return dict(deltas)


def receipt_year(now: dt.datetime) -> int:
    return shanghai_date(now).year


@dataclass
class _FundState:
    row: dict[str, Any]
    deltas: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    entries: int = 0


class Ledger:
    """Writes to the ledger inside the caller's transaction (never commits)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    # -- funds ---------------------------------------------------------------

    def ensure_funds(self, funds: Iterable[FundInfo]) -> None:
        """Make the ledger rows of these funds exist (no lock)."""
        insert_ = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        values = [{"code": f.code, "organization_id": f.organization_id, "restricted": f.restricted,
                   "closed": False, "bank_fen": 0, "in_kind_fen": 0, "unrestricted_fen": 0,
                   "restricted_fen": 0, "reserved_fen": 0, "entry_count": 0,
                   "chain_head": GENESIS_HASH, "updated_at": dt.datetime.now(dt.UTC)}
                  for f in {f.code: f for f in funds}.values()]
        if values:
            self.session.execute(insert_(FundLedger).values(values).on_conflict_do_nothing(
                index_elements=["code"]))

    def lock_funds(self, codes: Iterable[str]) -> dict[str, FundLedger]:
        """The funds' ledger rows, locked until commit, in code order."""
        ordered = sorted(set(codes))
        rows = self.session.scalars(
            select(FundLedger).where(FundLedger.code.in_(ordered)).order_by(FundLedger.code)
            .with_for_update().execution_options(populate_existing=True))
        return {row.code: row for row in rows}

    def fund(self, info: FundInfo, *, lock: bool = True) -> FundLedger:
        self.ensure_funds([info])
        if lock:
            return self.lock_funds([info.code])[info.code]
        return self.session.scalars(select(FundLedger).where(FundLedger.code == info.code)).one()

    # -- ids and receipt numbers ----------------------------------------------

    def allocate_ids(self, model: type[Any], count: int) -> list[int]:
        if count == 0:
            return []
        table: Table = model.__table__
        if self.dialect == "postgresql":
            sequence = f"{table.schema}.{table.name}_id_seq"
            rows = self.session.execute(text(
                "SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :count)"),
                {"sequence": sequence, "count": count})
            return [row[0] for row in rows]
        # SQLite: the write lock is already held (BEGIN IMMEDIATE), so max + 1 is safe.
        start = (self.session.scalar(select(func.max(table.c.id))) or 0) + 1
        return list(range(start, start + count))

    def take_receipt_numbers(self, year: int, count: int) -> range:
        """`count` consecutive numbers of `year`; taken last, it locks the year's counter."""
        insert_ = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        statement = insert_(ReceiptCounter).values(year=year, last_seq=count)
        statement = statement.on_conflict_do_update(
            index_elements=["year"], set_={"last_seq": ReceiptCounter.last_seq + count},
        ).returning(ReceiptCounter.last_seq)
        last = self.session.execute(statement).scalar_one()
        return range(last - count + 1, last + 1)

    # -- posting ----------------------------------------------------------------

    def post(self, fund: FundLedger, *, kind: str, effective_on: dt.date, source_id: int, actor: str,
             document: str, postings: Sequence[tuple[str, int]], now: dt.datetime,
             reserved_delta: int = 0) -> JournalEntry:
        """One entry on a locked fund row: postings, balances and chain head move together."""
        if sum(amount for _, amount in postings) != 0:
            raise ValueError("an entry's postings must sum to zero")
        seq = fund.entry_count + 1
        entry_hash = chain.entry_hash(prev_hash=fund.chain_head, fund_code=fund.code, seq=seq, kind=kind,
                                      effective_on=effective_on, posted_at=now, source_id=source_id,
                                      actor=actor, document=document, postings=postings)
        entry = JournalEntry(fund_id=fund.id, seq=seq, kind=kind, effective_on=effective_on, posted_at=now,
                             source_id=source_id, actor=actor, prev_hash=fund.chain_head, hash=entry_hash)
        self.session.add(entry)
        self.session.flush()
        # One statement: PostgreSQL checks that each statement's postings balance.
        self.session.execute(insert(Posting).values([
            {"entry_id": entry.id, "fund_id": fund.id, "account": account, "amount_fen": amount}
            for account, amount in postings]))
        for column, delta in balance_deltas(postings).items():
            setattr(fund, column, getattr(fund, column) + delta)
        fund.reserved_fen += reserved_delta
        fund.entry_count = seq
        fund.chain_head = entry_hash
        fund.updated_at = now
        self.session.flush()
        return entry

    def record_donations(self, donations: Sequence[NewDonation], *, actor: str, actor_name: str,
                         organization_id: int | None, request_id: str | None,
                         now: dt.datetime) -> list[dict[str, Any]]:
        """Record many donations in one go; returns their rows as dicts, in input order.

        The caller has checked each donation (fund open and visible, reference
        not yet recorded). Rows are written with COPY on PostgreSQL.
        """
        if not donations:
            return []
        self.ensure_funds(d.fund for d in donations)
        funds = {code: _FundState(row={"id": r.id, "code": r.code, "entry_count": r.entry_count,
                                       "chain_head": r.chain_head})
                 for code, r in self.lock_funds(d.fund.code for d in donations).items()}
        donation_ids = self.allocate_ids(Donation, len(donations))
        entry_ids = self.allocate_ids(JournalEntry, len(donations))
        year = receipt_year(now)
        receipts = self.take_receipt_numbers(year, len(donations))

        donation_rows, entry_rows, posting_rows = [], [], []
        for donation, donation_id, entry_id, receipt_seq in zip(donations, donation_ids, entry_ids, receipts):
            state = funds[donation.fund.code]
            postings = donation_postings(donation.fund.restricted, donation.channel, donation.amount_fen)
            receipt_no = f"{year}-{receipt_seq:06d}"
            seq = state.row["entry_count"] + state.entries + 1
            prev_hash = state.row["chain_head"]
            document = chain.donation_document(
                receipt_no=receipt_no, amount_fen=donation.amount_fen, donor_name=donation.donor_name,
                donor_kind=donation.donor_kind, donor_anonymous=donation.donor_anonymous,
                received_on=donation.received_on, channel=donation.channel, purpose=donation.purpose,
                reference=donation.reference)
            entry_hash = chain.entry_hash(prev_hash=prev_hash, fund_code=donation.fund.code, seq=seq,
                                          kind="donation", effective_on=donation.received_on, posted_at=now,
                                          source_id=donation_id, actor=actor, document=document,
                                          postings=postings)
            state.row["chain_head"] = entry_hash
            state.entries += 1
            for column, delta in balance_deltas(postings).items():
                state.deltas[column] += delta
            fund_id = state.row["id"]
            entry_rows.append((entry_id, fund_id, seq, "donation", donation.received_on, now, donation_id,
                               actor, prev_hash, entry_hash))
            posting_rows.extend((entry_id, fund_id, account, amount) for account, amount in postings)
            donation_rows.append((
                donation_id, fund_id, donation.fund.code, donation.fund.organization_id, donation.amount_fen,
                "CNY", donation.donor_name, donation.donor_kind, donation.donor_anonymous,
                donation.received_on, donation.channel, donation.purpose, donation.reference, year,
                receipt_seq, "recorded", entry_id, now, actor))

        self._bulk_insert(JournalEntry, ("id", "fund_id", "seq", "kind", "effective_on", "posted_at",
                                         "source_id", "actor", "prev_hash", "hash"), entry_rows)
        self._bulk_insert(Posting, ("entry_id", "fund_id", "account", "amount_fen"), posting_rows)
        donation_columns = ("id", "fund_id", "fund_code", "organization_id", "amount_fen", "currency",
                            "donor_name", "donor_kind", "donor_anonymous", "received_on", "channel",
                            "purpose", "reference", "receipt_year", "receipt_seq", "status", "entry_id",
                            "created_at", "created_by")
        self._bulk_insert(Donation, donation_columns, donation_rows)
        for state in funds.values():
            table = FundLedger.__table__
            self.session.execute(
                update(FundLedger).where(FundLedger.id == state.row["id"]).values(
                    entry_count=state.row["entry_count"] + state.entries, chain_head=state.row["chain_head"],
                    updated_at=now, **{column: table.c[column] + delta for column, delta in state.deltas.items()}))
        first, last = donation_ids[0], donation_ids[-1]
        self.session.add(AuditLog(
            at=now, service="donations", actor=actor, actor_name=actor_name, organization_id=organization_id,
            action="donation.record" if len(donations) == 1 else "donation.record_batch",
            subject=f"donation:{first}" if len(donations) == 1 else f"donations:{first}-{last}",
            details={"count": len(donations), "receipts": [f"{year}-{receipts[0]:06d}", f"{year}-{receipts[-1]:06d}"],
                     "amount_fen": sum(d.amount_fen for d in donations)},
            request_id=request_id))
        self.session.flush()
        self.session.expire_all()  # the fund rows changed behind the ORM's back
        return [dict(zip(donation_columns, row)) for row in donation_rows]

    def _bulk_insert(self, model: type[Any], columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """Insert rows in as few statements as possible (an entry's postings always in one)."""
        table: Table = model.__table__
        if self.dialect == "postgresql" and len(rows) > 50:
            cursor = self.session.connection().connection.driver_connection.cursor()
            column_list = ", ".join(columns)
            with cursor.copy(f"COPY {table.schema}.{table.name} ({column_list}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        # SQLite takes at most 32766 parameters a statement; entries have two postings.
        step = 32766 // len(columns) // 2 * 2
        for start in range(0, len(rows), step):
            self.session.execute(insert(table).values([dict(zip(columns, row)) for row in rows[start:start + step]]))
