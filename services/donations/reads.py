"""What the ledger says: balances, statements, the trial balance, the chains.

Reads only (a request that reads runs in a read-only transaction). Balances
at a date come from `fund_day`, a fund's balance changes by day, so they
cost a row per day, not per entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Select, cast, func, select
from sqlalchemy.orm import Session

from services.donations import chain
from services.donations.commands import visible_fund
from shared.dates import today
from services.donations.models import (
    GENESIS_HASH, Disbursement, Donation, FundDay, FundLedger, JournalEntry, Posting, receipt_no,
)
from services.donations.rules import ACCOUNT_NAMES, IN_KIND, NET_ASSETS
from shared.auth import Principal
from shared.db import snapshot, utcnow
from shared.errors import Problem

# The balance columns of fund_ledger and fund_day, by account; net assets are credits.
BALANCE_COLUMNS = {"bank": "bank_fen", "in_kind": "in_kind_fen", "unrestricted": "unrestricted_fen",
                   "restricted": "restricted_fen"}
CREDIT_ACCOUNTS = frozenset(NET_ASSETS)


def fund_ledger_row(session: Session, code: str) -> FundLedger | None:
    return session.scalar(select(FundLedger).where(FundLedger.code == code))


def fund_balance(session: Session, actor: Principal, code: str) -> dict[str, Any]:
    info = visible_fund(actor, code)
    row = fund_ledger_row(session, code)
    status = info.status
    if row is not None:
        # The newer of the two committed statuses; a restriction being committed applies already.
        status = row.status if row.status_version >= info.status_version else info.status
        if row.pending_status is not None:
            status = row.pending_status
    return {"fund_code": code, "balance_fen": row.balance_fen if row else 0,
            "available_fen": row.available_fen if row else 0, "cash_fen": row.bank_fen if row else 0,
            "goods_fen": row.in_kind_fen if row else 0, "status": status, "as_of": utcnow()}


def _net_assets_before(session: Session, fund_id: int, day: dt.date) -> int:
    """The fund's balance (its net assets) at the end of the day before `day`."""
    total = session.scalar(select(func.coalesce(cast(func.sum(FundDay.unrestricted_fen + FundDay.restricted_fen),
                                                     BigInteger), 0))
                           .where(FundDay.fund_id == fund_id, FundDay.day < day))
    return int(total or 0)


@dataclass(frozen=True)
class StatementLine:
    entry_id: int
    seq: int
    date: dt.date
    kind: str
    source_id: int
    amount_fen: int          # always positive
    direction: str           # "in" or "out" of the fund
    balance_after_fen: int
    posted_at: dt.datetime


def statement(session: Session, actor: Principal, code: str, date_from: dt.date | None,
              date_to: dt.date | None) -> dict[str, Any]:
    visible_fund(actor, code)
    snapshot(session)  # the opening balance and the entries of one moment
    row = fund_ledger_row(session, code)
    lines: list[StatementLine] = []
    opening = running = 0
    if row is not None:
        opening = running = _net_assets_before(session, row.id, date_from) if date_from else 0
        change = -cast(func.sum(Posting.amount_fen), BigInteger)
        query = (select(JournalEntry, change.label("change"))
                 .join(Posting, Posting.entry_id == JournalEntry.id)
                 .where(JournalEntry.fund_id == row.id, Posting.account.in_(NET_ASSETS))
                 .group_by(JournalEntry.id).order_by(JournalEntry.effective_on, JournalEntry.seq))
        if date_from:
            query = query.where(JournalEntry.effective_on >= date_from)
        if date_to:
            query = query.where(JournalEntry.effective_on <= date_to)
        for entry, delta in session.execute(query):
            running += delta
            lines.append(StatementLine(entry.id, entry.seq, entry.effective_on, entry.kind, entry.source_id,
                                       abs(delta), "in" if delta >= 0 else "out", running, entry.posted_at))
    return {"fund_code": code, "from": date_from, "to": date_to, "opening_fen": opening, "entries": lines,
            "closing_fen": running}


@dataclass(frozen=True)
class StatementRow:
    """A statement's line as the pages and the exports show it: its voucher, who gave or was paid,
    whether it moved cash or donated goods, and the balance after it."""

    entry_id: int
    seq: int
    date: dt.date
    kind: str
    source_id: int
    receipt_no: str | None   # a donation's or a reversal's receipt
    party: str | None        # the donor (None when anonymous) or the payee
    anonymous: bool
    goods: bool              # donated goods (Assets:InKind) rather than cash
    amount_fen: int          # always positive
    direction: str           # "in" or "out" of the fund
    balance_after_fen: int


@dataclass(frozen=True)
class PeriodTotals:
    """What came in and went out over a whole period, cash and goods apart."""

    count: int
    cash_in_fen: int
    cash_out_fen: int
    goods_in_fen: int
    goods_out_fen: int

    @property
    def in_fen(self) -> int:
        return self.cash_in_fen + self.goods_in_fen

    @property
    def out_fen(self) -> int:
        return self.cash_out_fen + self.goods_out_fen


def _period_entries(fund_id: int, date_from: dt.date | None, date_to: dt.date | None) -> Select[Any]:
    query = select(JournalEntry).where(JournalEntry.fund_id == fund_id)
    if date_from:
        query = query.where(JournalEntry.effective_on >= date_from)
    if date_to:
        query = query.where(JournalEntry.effective_on <= date_to)
    return query


def _entry_changes(entry_ids: Select[Any] | list[int]) -> Select[Any]:
    """Each entry's change of the fund's net assets (positive: in) and whether it moved goods."""
    change = cast(-func.coalesce(func.sum(Posting.amount_fen).filter(Posting.account.in_(NET_ASSETS)), 0),
                  BigInteger)
    return (select(Posting.entry_id, change.label("change"),
                   func.bool_or(Posting.account == IN_KIND).label("goods"))
            .where(Posting.entry_id.in_(entry_ids)).group_by(Posting.entry_id))


def period_totals(session: Session, fund_id: int, date_from: dt.date | None,
                  date_to: dt.date | None) -> PeriodTotals:
    """The period's count of entries and its inflows and outflows, summed by PostgreSQL."""
    ids = _period_entries(fund_id, date_from, date_to).with_only_columns(JournalEntry.id)
    changes = _entry_changes(ids).subquery()

    def total(sign: int, goods: bool) -> Any:
        moved = func.greatest(sign * changes.c.change, 0)
        return cast(func.coalesce(func.sum(moved).filter(changes.c.goods.is_(goods)), 0), BigInteger)

    row = session.execute(select(func.count(), total(1, False), total(-1, False), total(1, True),
                                 total(-1, True)).select_from(changes)).one()
    return PeriodTotals(*(int(value) for value in row))


def _balance_before(session: Session, fund_id: int, entry: JournalEntry) -> int:
    """The fund's net assets just before `entry` in the statement's order (date, then seq): the
    days before from fund_day, that day's earlier entries from their postings."""
    earlier = (select(JournalEntry.id).where(JournalEntry.fund_id == fund_id,
                                             JournalEntry.effective_on == entry.effective_on,
                                             JournalEntry.seq < entry.seq))
    same_day = session.scalar(select(cast(func.coalesce(-func.sum(Posting.amount_fen), 0), BigInteger))
                              .where(Posting.entry_id.in_(earlier), Posting.account.in_(NET_ASSETS)))
    return _net_assets_before(session, fund_id, entry.effective_on) + int(same_day or 0)


def _statement_rows(session: Session, fund_id: int, entries: list[JournalEntry], opening: int) -> list[StatementRow]:
    """The entries as statement lines, with their documents, the balance running on from `opening`."""
    if not entries:
        return []
    changes = {row.entry_id: row for row in session.execute(_entry_changes([e.id for e in entries]))}
    donation_ids = [e.source_id for e in entries if e.kind in ("donation", "reversal")]
    disbursement_ids = [e.source_id for e in entries if e.kind == "disbursement"]
    donations = {d.id: d for d in session.scalars(select(Donation).where(Donation.id.in_(donation_ids)))}
    disbursements = {d.id: d for d in session.scalars(select(Disbursement).where(Disbursement.id.in_(disbursement_ids)))}
    rows, running = [], opening
    for entry in entries:
        change = changes[entry.id]
        running += change.change
        receipt, party, anonymous = None, None, False
        if entry.kind in ("donation", "reversal") and entry.source_id in donations:
            donation = donations[entry.source_id]
            receipt, anonymous = donation.receipt_no, donation.donor_anonymous
            party = None if anonymous else donation.donor_name
        elif entry.source_id in disbursements:
            party = disbursements[entry.source_id].payee
        rows.append(StatementRow(entry.id, entry.seq, entry.effective_on, entry.kind, entry.source_id, receipt,
                                 party, anonymous, bool(change.goods), abs(change.change),
                                 "in" if change.change >= 0 else "out", running))
    return rows


def statement_page(session: Session, actor: Principal, code: str, date_from: dt.date | None,
                   date_to: dt.date | None, page: int, size: int) -> dict[str, Any]:
    """A page of the fund's statement for a period: the period's opening, totals and closing, and
    the page's lines with a running balance that starts from what the ledger held just before
    the page's first line (so that it is right on every page)."""
    visible_fund(actor, code)
    snapshot(session)
    row = fund_ledger_row(session, code)
    if row is None:
        return {"fund_code": code, "from": date_from, "to": date_to, "opening_fen": 0, "closing_fen": 0,
                "totals": PeriodTotals(0, 0, 0, 0, 0), "rows": [], "page": 1, "pages": 1, "size": size,
                "first": 0, "last": 0, "page_opening_fen": 0}
    opening = _net_assets_before(session, row.id, date_from) if date_from else 0
    totals = period_totals(session, row.id, date_from, date_to)
    pages = max(1, -(-totals.count // size))
    page = min(page, pages)
    entries = list(session.scalars(_period_entries(row.id, date_from, date_to)
                                   .order_by(JournalEntry.effective_on, JournalEntry.seq)
                                   .offset((page - 1) * size).limit(size)))
    page_opening = _balance_before(session, row.id, entries[0]) if entries else opening
    lines = _statement_rows(session, row.id, entries, page_opening)
    first = (page - 1) * size + 1 if lines else 0
    return {"fund_code": code, "from": date_from, "to": date_to, "opening_fen": opening,
            "closing_fen": opening + totals.in_fen - totals.out_fen, "totals": totals, "rows": lines,
            "page": page, "pages": pages, "size": size, "first": first, "last": first + len(lines) - 1 if lines else 0,
            "page_opening_fen": page_opening}


def statement_document(session: Session, actor: Principal, code: str, date_from: dt.date | None,
                       date_to: dt.date | None, limit: int) -> dict[str, Any]:
    """The whole period's statement for an export: every line, at most `limit` (else refused)."""
    visible_fund(actor, code)
    snapshot(session)
    row = fund_ledger_row(session, code)
    if row is None:
        return {"fund_code": code, "from": date_from, "to": date_to, "opening_fen": 0, "closing_fen": 0,
                "totals": PeriodTotals(0, 0, 0, 0, 0), "rows": []}
    opening = _net_assets_before(session, row.id, date_from) if date_from else 0
    totals = period_totals(session, row.id, date_from, date_to)
    if totals.count > limit:
        raise Problem("export_too_large", count=totals.count, max=limit)
    entries = list(session.scalars(_period_entries(row.id, date_from, date_to)
                                   .order_by(JournalEntry.effective_on, JournalEntry.seq)))
    return {"fund_code": code, "from": date_from, "to": date_to, "opening_fen": opening,
            "closing_fen": opening + totals.in_fen - totals.out_fen, "totals": totals,
            "rows": _statement_rows(session, row.id, entries, opening)}


def trial_balance(session: Session, actor: Principal, as_of: dt.date | None) -> dict[str, Any]:
    """Every account's balance at the end of `as_of`, as a debit or a credit."""
    as_of = as_of or today()
    sums = [cast(func.sum(getattr(FundDay, column)), BigInteger).label(account)
            for account, column in BALANCE_COLUMNS.items()]
    moved = [func.bool_or(getattr(FundDay, column) != 0).label(f"{account}_moved")
             for account, column in BALANCE_COLUMNS.items()]
    query = (select(FundLedger.code, *sums, *moved).join(FundLedger, FundLedger.id == FundDay.fund_id)
             .where(FundDay.day <= as_of).group_by(FundLedger.code).order_by(FundLedger.code))
    if not actor.sees_all_organizations:
        query = query.where(FundLedger.organization_id == actor.organization_id)
    accounts = []
    debits = credits = 0
    for row in session.execute(query).mappings():
        for account in sorted(BALANCE_COLUMNS):
            balance = row[account] or 0
            if not row[f"{account}_moved"]:
                continue  # an account nothing moved is not listed
            # A balance is a debit on an asset, a credit on net assets (the other side if negative).
            on_debit_side = (account not in CREDIT_ACCOUNTS) == (balance > 0)
            debit, credit = (abs(balance), 0) if on_debit_side else (0, abs(balance))
            debits += debit
            credits += credit
            accounts.append({"account": ACCOUNT_NAMES[account].format(code=row["code"]),
                             "debit_fen": debit, "credit_fen": credit})
    return {"as_of": as_of, "accounts": accounts, "total_debits_fen": debits, "total_credits_fen": credits}


def chain_heads(session: Session, actor: Principal) -> list[FundLedger]:
    query = select(FundLedger).order_by(FundLedger.code)
    if not actor.sees_all_organizations:
        query = query.where(FundLedger.organization_id == actor.organization_id)
    return list(session.scalars(query))


@dataclass(frozen=True)
class FundCheck:
    """A fund's hash chain verdict, and whether its balances are its postings' sums."""

    chain: chain.ChainVerdict
    balances_match: bool

    @property
    def valid(self) -> bool:
        return self.chain.valid and self.balances_match


def verify_ledger(session: Session, actor: Principal, code: str | None = None) -> list[FundCheck]:
    """Recompute every entry's hash and every balance; a broken chain names its first bad entry.

    One snapshot for the heads and the entries: a donation committed meanwhile
    must not look like an inserted entry.
    """
    snapshot(session)
    funds = chain_heads(session, actor)
    if code is not None:
        funds = [f for f in funds if f.code == code]
        if not funds:
            visible_fund(actor, code)
    return [FundCheck(verify_fund_chain(session, fund), balances_match_postings(session, fund)) for fund in funds]


def balances_match_postings(session: Session, fund: FundLedger) -> bool:
    """The fund's balances, and its balances by day, are the sums of its postings."""
    sums = dict(session.execute(select(Posting.account, cast(func.sum(Posting.amount_fen), BigInteger))
                                .where(Posting.fund_id == fund.id).group_by(Posting.account)).all())
    signed = {account: (-1 if account in CREDIT_ACCOUNTS else 1) * sums.get(account, 0)
              for account in BALANCE_COLUMNS}
    if any(getattr(fund, column) != signed[account] for account, column in BALANCE_COLUMNS.items()):
        return False
    by_day = (select(JournalEntry.effective_on, Posting.account, cast(func.sum(Posting.amount_fen), BigInteger))
              .join(JournalEntry, JournalEntry.id == Posting.entry_id)
              .where(Posting.fund_id == fund.id).group_by(JournalEntry.effective_on, Posting.account))
    expected: dict[dt.date, dict[str, int]] = {}
    for day, account, total in session.execute(by_day):
        expected.setdefault(day, dict.fromkeys(BALANCE_COLUMNS, 0))[account] = \
            (-1 if account in CREDIT_ACCOUNTS else 1) * total
    recorded = {row.day: {account: getattr(row, column) for account, column in BALANCE_COLUMNS.items()}
                for row in session.scalars(select(FundDay).where(FundDay.fund_id == fund.id))}
    recorded = {day: values for day, values in recorded.items() if any(values.values()) or day in expected}
    return recorded == expected


def verify_fund_chain(session: Session, fund: FundLedger) -> chain.ChainVerdict:
    def entries() -> Iterator[chain.ChainEntry]:
        rows = session.execute(select(JournalEntry).where(JournalEntry.fund_id == fund.id)
                               .order_by(JournalEntry.seq).execution_options(yield_per=2000)).scalars()
        batch: list[JournalEntry] = []
        for entry in rows:
            batch.append(entry)
            if len(batch) == 2000:
                yield from _chain_entries(session, batch)
                batch = []
        yield from _chain_entries(session, batch)

    return chain.verify_fund(fund.code, fund.chain_head, fund.entry_count, GENESIS_HASH, entries())


def _chain_entries(session: Session, entries: Sequence[JournalEntry]) -> Iterator[chain.ChainEntry]:
    if not entries:
        return
    ids = [e.id for e in entries]
    postings: dict[int, list[tuple[str, int]]] = {i: [] for i in ids}
    for entry_id, account, amount in session.execute(
            select(Posting.entry_id, Posting.account, Posting.amount_fen).where(Posting.entry_id.in_(ids))):
        postings[entry_id].append((account, amount))
    donations = {d.entry_id: d for d in session.scalars(select(Donation).where(Donation.entry_id.in_(ids)))}
    source_ids = [e.source_id for e in entries if e.kind == "reversal"]
    reversed_ = {d.id: d for d in session.scalars(select(Donation).where(Donation.id.in_(source_ids)))} \
        if source_ids else {}
    disbursements = {d.entry_id: d for d in session.scalars(
        select(Disbursement).where(Disbursement.entry_id.in_(ids)))}
    for entry in entries:
        yield chain.ChainEntry(entry.id, entry.seq, entry.kind, entry.effective_on, entry.posted_at,
                               entry.source_id, entry.actor, entry.prev_hash, entry.hash,
                               _document(entry, donations, reversed_, disbursements), postings[entry.id])


def _document(entry: JournalEntry, donations: dict[int, Donation], reversed_: dict[int, Donation],
              disbursements: dict[int, Disbursement]) -> str:
    """The source document's text as it was hashed; a missing source reads as empty."""
    if entry.kind == "donation" and entry.id in donations:
        d = donations[entry.id]
        return chain.donation_document(receipt_no=receipt_no(d.receipt_year, d.receipt_seq), amount_fen=d.amount_fen,
                                       donor_name=d.donor_name, donor_kind=d.donor_kind,
                                       donor_anonymous=d.donor_anonymous, received_on=d.received_on,
                                       channel=d.channel, purpose=d.purpose, reference=d.reference,
                                       goods_item=d.goods_item, goods_quantity=d.goods_quantity,
                                       goods_unit=d.goods_unit, goods_unit_price_fen=d.goods_unit_price_fen)
    if entry.kind == "reversal" and entry.source_id in reversed_:
        d = reversed_[entry.source_id]
        return chain.reversal_document(donation_id=d.id, receipt_no=receipt_no(d.receipt_year, d.receipt_seq),
                                       reason=d.reversal_reason or "")
    if entry.kind == "disbursement" and entry.id in disbursements:
        b = disbursements[entry.id]
        return chain.disbursement_document(
            disbursement_id=b.id, amount_fen=b.amount_fen, payee=b.payee, purpose=b.purpose, project=b.project,
            paid_on=b.paid_on or entry.effective_on, bank_reference=b.bank_reference or "",
            requested_by=b.requested_by, approved_by=b.approved_by or "", category=b.category,
            project_code=b.project_code, budget_line=b.budget_line, need_id=b.need_id)
    return ""

