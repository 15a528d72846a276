"""The donations service's operations: check who asks and what, then post.

Views call these and never commit; every money movement locks its fund's
ledger row (see ledger.py), so balances cannot race below zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import g, has_request_context
from sqlalchemy import BigInteger, Select, and_, cast, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from services.donations import chain
from services.donations.dates import today
from services.donations.ledger import (
    BALANCE_COLUMNS, BALANCE_SIGN, Ledger, NewDonation, disbursement_postings,
)
from services.donations.models import (
    ACCOUNT_NAMES, GENESIS_HASH, RESTRICTED, UNRESTRICTED, AuditLog, Disbursement, Donation, FundLedger,
    JournalEntry, Posting,
)
from shared import audit
from shared.auth import FundInfo, Principal, authority
from shared.db import contains_pattern, utcnow
from shared.errors import Conflict, Forbidden, NotFound, ValidationProblem
from shared.money import Money

FUND_CLOSED_HINT = "fund_closed"


# -- funds -------------------------------------------------------------------

def visible_fund(actor: Principal, code: str, *, write: bool = False) -> FundInfo:
    """The fund as the funds service knows it; 404 if missing or not the caller's."""
    info = authority().fund(code) if isinstance(code, str) and 3 <= len(code) <= 32 else None
    allowed = info is not None and (actor.may_write(info.organization_id) if write
                                    else actor.may_read(info.organization_id))
    if not allowed:
        raise NotFound(f"No fund {code}.")
    assert info is not None
    return info


def writable_fund(actor: Principal, code: str, *, field: str = "fund_code") -> FundInfo:
    """A fund the caller may post to; a body field naming another's fund is a 422."""
    try:
        return visible_fund(actor, code, write=True)
    except NotFound:
        raise ValidationProblem.field(field, "No such fund.") from None


def fund_ledger_row(session: Session, code: str) -> FundLedger | None:
    return session.scalar(select(FundLedger).where(FundLedger.code == code))


@dataclass(frozen=True)
class Balance:
    fund_code: str
    balance: Money
    available: Money
    as_of: dt.datetime
    currency: str = "CNY"


def fund_balance(session: Session, actor: Principal, code: str) -> Balance:
    visible_fund(actor, code)
    row = fund_ledger_row(session, code)
    balance = row.balance_fen if row else 0
    available = row.available_fen if row else 0
    return Balance(code, Money(balance), Money(available), utcnow())


def close_fund(session: Session, info: FundInfo) -> Money:
    """Close the fund in the ledger if it holds nothing; after this it takes nothing."""
    ledger = Ledger(session)
    row = ledger.fund(info)
    if row.balance_fen or row.reserved_fen:
        raise Conflict(f"Fund {info.code} still holds {Money(row.balance_fen)} CNY; only a fund with a "
                       "zero balance can be closed.")
    if not row.closed:
        row.closed = True
        session.flush()
    return Money(row.balance_fen)


# -- donations -----------------------------------------------------------------

def _request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


def new_donation(info: FundInfo, data: dict[str, Any]) -> NewDonation:
    donor = data["donor"]
    return NewDonation(fund=info, amount_fen=data["amount"].fen, donor_name=donor["name"],
                       donor_kind=donor["kind"], donor_anonymous=donor["anonymous"],
                       received_on=data["received_on"], channel=data["channel"],
                       purpose=data.get("purpose") or "", reference=data.get("reference"))


def record_donation(session: Session, actor: Principal, data: dict[str, Any]) -> Donation:
    info = writable_fund(actor, data["fund_code"])
    if info.status == "closed":
        raise Conflict(f"Fund {info.code} is closed and takes no donations.")
    donation = new_donation(info, data)
    # No savepoint: an error fails the whole request, which then rolls back.
    try:
        if session.get_bind().dialect.name == "postgresql":
            return _record_on_postgresql(session, actor, donation)
        row = Ledger(session).record_donations([donation], actor=actor.actor, actor_name=actor.name,
                                               organization_id=actor.organization_id,
                                               request_id=_request_id(), now=utcnow())[0]
        return Donation(**row)
    except IntegrityError as error:
        if "reference" in str(error.orig):
            raise Conflict(f"A donation with the reference {donation.reference!r} is already recorded "
                           "for this organisation.",
                           errors={"reference": ["Already recorded for this organisation."]}) from None
        raise
    except DBAPIError as error:
        if FUND_CLOSED_HINT in str(getattr(error.orig, "diag", None) and error.orig.diag.message_hint):
            raise Conflict(f"Fund {info.code} is closed and takes no donations.") from None
        raise


_RECORD_DONATION = text(
    "SELECT * FROM donations.record_donation(:fund_code, :organization_id, :restricted, :amount_fen, "
    ":donor_name, :donor_kind, :donor_anonymous, :received_on, :channel, :purpose, :reference, :actor, "
    ":actor_name, :request_id)")


def _record_on_postgresql(session: Session, actor: Principal, donation: NewDonation) -> Donation:
    """One round trip: the SQL function posts everything (see the migration).

    Unless the request has already begun its transaction (to claim an
    Idempotency-Key), the function runs as a transaction of its own: its
    locks on the fund and the receipt counter are then released as soon as
    it returns, not after the answer has been built.
    """
    if session.in_transaction():
        execute = session.execute
    else:
        connection = session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        execute = connection.execute
    row = execute(_RECORD_DONATION, {
        "fund_code": donation.fund.code, "organization_id": donation.fund.organization_id,
        "restricted": donation.fund.restricted, "amount_fen": donation.amount_fen,
        "donor_name": donation.donor_name, "donor_kind": donation.donor_kind,
        "donor_anonymous": donation.donor_anonymous, "received_on": donation.received_on,
        "channel": donation.channel, "purpose": donation.purpose, "reference": donation.reference,
        "actor": actor.actor, "actor_name": actor.name, "request_id": _request_id(),
    }).mappings().one()
    return Donation(**row)


def get_donation(session: Session, actor: Principal, donation_id: int, *, for_update: bool = False) -> Donation:
    query = select(Donation).where(Donation.id == donation_id)
    if for_update:
        query = query.with_for_update()
    donation = session.scalar(query) if 0 < donation_id < 2**63 else None
    if donation is None or not actor.may_read(donation.organization_id):
        raise NotFound(f"No donation {donation_id}.")
    return donation


def donation_query(actor: Principal, *, fund_code: str | None = None, date_from: dt.date | None = None,
                   date_to: dt.date | None = None, donor: str | None = None) -> Select[tuple[Donation]]:
    query = select(Donation).order_by(Donation.id.desc())
    if not actor.sees_all_organizations:
        query = query.where(Donation.organization_id == actor.organization_id)
    if fund_code:
        query = query.where(Donation.fund_code == fund_code)
    if date_from:
        query = query.where(Donation.received_on >= date_from)
    if date_to:
        query = query.where(Donation.received_on <= date_to)
    if donor:
        # Anonymous donors cannot be found by name: that would reveal it.
        pattern = contains_pattern(donor)
        query = query.where(Donation.donor_anonymous.is_(False),
                            Donation.donor_name.ilike(pattern, escape="\\"))
    return query


@dataclass(frozen=True)
class Reversal:
    """The reversing entry, with the donation it reverses."""

    entry: JournalEntry
    fund_code: str
    donation: Donation
    reason: str
    postings: list[dict[str, Any]]

    @property
    def amount(self) -> Money:
        return Money(self.donation.amount_fen)


def reverse_donation(session: Session, actor: Principal, donation_id: int, reason: str) -> Reversal:
    if not actor.has("donations:write"):
        raise Forbidden("Reversing a donation needs the scope 'donations:write'.")
    donation = get_donation(session, actor, donation_id)
    if not actor.may_write(donation.organization_id):
        raise NotFound(f"No donation {donation_id}.")
    info = visible_fund(actor, donation.fund_code)
    ledger = Ledger(session)
    fund = ledger.lock_funds([donation.fund_code])[donation.fund_code]
    session.refresh(donation, with_for_update=True)
    if donation.status == "reversed":
        raise Conflict(f"Donation {donation.receipt_no} is already reversed.")
    original = session.execute(select(Posting.account, Posting.amount_fen)
                               .where(Posting.entry_id == donation.entry_id)).all()
    postings = [(account, -amount) for account, amount in original]
    net_account = RESTRICTED if info.restricted else UNRESTRICTED
    class_balance = fund.restricted_fen if net_account == RESTRICTED else fund.unrestricted_fen
    if donation.amount_fen > min(fund.available_fen, class_balance):
        raise Conflict(f"Reversing {Money(donation.amount_fen)} CNY would take fund {fund.code} below "
                       f"zero: it has {Money(fund.available_fen)} CNY available.")
    # The money goes back out of the asset it came into: the bank must still
    # cover approved payments, and goods cannot be returned twice.
    if donation.channel == "in_kind" and donation.amount_fen > fund.in_kind_fen:
        raise Conflict(f"Reversing {Money(donation.amount_fen)} CNY of goods would take fund {fund.code}'s "
                       f"goods below zero: it holds {Money(fund.in_kind_fen)} CNY of goods.")
    if donation.channel != "in_kind" and donation.amount_fen > fund.cash_available_fen:
        raise Conflict(f"Reversing {Money(donation.amount_fen)} CNY would take fund {fund.code}'s bank "
                       f"balance below what approved payments need: {Money(fund.cash_available_fen)} CNY "
                       "of cash is available.")
    now = utcnow()
    reason = reason.strip()
    entry = ledger.post(fund, kind="reversal", effective_on=today(), source_id=donation.id, actor=actor.actor,
                        document=chain.reversal_document(donation_id=donation.id, receipt_no=donation.receipt_no,
                                                         reason=reason),
                        postings=postings, now=now)
    donation.status = "reversed"
    donation.reversal_entry_id = entry.id
    donation.reversal_reason = reason
    donation.reversed_at = now
    session.flush()
    audit.record(session, AuditLog, actor, "donation.reverse", f"donation:{donation.id}",
                 {"receipt_no": donation.receipt_no, "amount_fen": donation.amount_fen, "reason": reason,
                  "entry_id": entry.id})
    return Reversal(entry=entry, fund_code=fund.code, donation=donation, reason=reason,
                    postings=named_postings(fund.code, postings))


def named_postings(fund_code: str, postings: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
    """Postings as accountants read them: account name, debit, credit."""
    return [{"account": ACCOUNT_NAMES[account].format(code=fund_code),
             "debit": Money(amount if amount > 0 else 0), "credit": Money(-amount if amount < 0 else 0)}
            for account, amount in postings]


# -- disbursements ---------------------------------------------------------------

def request_disbursement(session: Session, actor: Principal, data: dict[str, Any]) -> Disbursement:
    info = writable_fund(actor, data["fund_code"])
    if info.status == "closed":
        raise Conflict(f"Fund {info.code} is closed.")
    fund = Ledger(session).fund(info, lock=False)
    if fund.closed:
        raise Conflict(f"Fund {info.code} is closed.")
    disbursement = Disbursement(
        fund_id=fund.id, fund_code=info.code, organization_id=info.organization_id,
        amount_fen=data["amount"].fen, payee=data["payee"], purpose=data["purpose"],
        project=data.get("project"), status="requested", requested_by=actor.actor,
        requested_by_name=actor.name, created_at=utcnow())
    session.add(disbursement)
    session.flush()
    audit.record(session, AuditLog, actor, "disbursement.request", f"disbursement:{disbursement.id}",
                 {"fund_code": info.code, "amount_fen": disbursement.amount_fen, "payee": disbursement.payee})
    return disbursement


def get_disbursement(session: Session, actor: Principal, disbursement_id: int) -> Disbursement:
    disbursement = session.get(Disbursement, disbursement_id) if 0 < disbursement_id < 2**63 else None
    if disbursement is None or not actor.may_read(disbursement.organization_id):
        raise NotFound(f"No disbursement {disbursement_id}.")
    return disbursement


def _disbursement_for_change(session: Session, actor: Principal, disbursement_id: int
                             ) -> tuple[Disbursement, FundLedger, FundInfo]:
    """The disbursement and its fund's ledger row, both locked (fund first)."""
    disbursement = get_disbursement(session, actor, disbursement_id)
    if not actor.may_write(disbursement.organization_id):
        raise NotFound(f"No disbursement {disbursement_id}.")
    info = visible_fund(actor, disbursement.fund_code)
    fund = Ledger(session).lock_funds([disbursement.fund_code])[disbursement.fund_code]
    session.refresh(disbursement, with_for_update=True)
    return disbursement, fund, info


def _require_active(info: FundInfo, fund: FundLedger, action: str) -> None:
    status = "closed" if fund.closed else info.status
    if status != "active":
        raise Conflict(f"Fund {info.code} is {status}: it pays nothing out, so it cannot {action}.")


def approve_disbursement(session: Session, actor: Principal, disbursement_id: int) -> Disbursement:
    if not actor.has("disbursements:approve"):
        raise Forbidden("Approving needs the scope 'disbursements:approve'.")
    disbursement, fund, info = _disbursement_for_change(session, actor, disbursement_id)
    if disbursement.requested_by == actor.actor:
        raise Forbidden("The requester cannot approve their own disbursement: someone else must.")
    if disbursement.status != "requested":
        raise Conflict(f"Disbursement {disbursement.id} is {disbursement.status}, not requested.")
    _require_active(info, fund, "approve a disbursement")
    if disbursement.amount_fen > fund.available_fen:
        raise Conflict(f"Fund {fund.code} has {Money(fund.available_fen)} CNY available, less than the "
                       f"{Money(disbursement.amount_fen)} CNY to approve.")
    if disbursement.amount_fen > fund.cash_available_fen:
        # Payments leave the bank; donated goods are not cash.
        raise Conflict(f"Fund {fund.code} has {Money(fund.cash_available_fen)} CNY of cash available, less "
                       f"than the {Money(disbursement.amount_fen)} CNY to approve (the rest is donated goods).")
    fund.reserved_fen += disbursement.amount_fen
    disbursement.status = "approved"
    disbursement.approved_by = actor.actor
    disbursement.approved_by_name = actor.name
    disbursement.decided_at = utcnow()
    session.flush()
    audit.record(session, AuditLog, actor, "disbursement.approve", f"disbursement:{disbursement.id}",
                 {"fund_code": fund.code, "amount_fen": disbursement.amount_fen})
    return disbursement


def pay_disbursement(session: Session, actor: Principal, disbursement_id: int, paid_on: dt.date,
                     bank_reference: str) -> Disbursement:
    if not actor.has("donations:write"):
        raise Forbidden("Paying needs the scope 'donations:write'.")
    disbursement, fund, info = _disbursement_for_change(session, actor, disbursement_id)
    if disbursement.status != "approved":
        raise Conflict(f"Disbursement {disbursement.id} is {disbursement.status}; only an approved one is paid.")
    _require_active(info, fund, "pay")
    assert disbursement.approved_by is not None
    now = utcnow()
    entry = Ledger(session).post(
        fund, kind="disbursement", effective_on=paid_on, source_id=disbursement.id, actor=actor.actor,
        document=chain.disbursement_document(
            disbursement_id=disbursement.id, amount_fen=disbursement.amount_fen, payee=disbursement.payee,
            purpose=disbursement.purpose, project=disbursement.project, paid_on=paid_on,
            bank_reference=bank_reference, requested_by=disbursement.requested_by,
            approved_by=disbursement.approved_by),
        postings=disbursement_postings(fund.restricted, disbursement.amount_fen), now=now,
        reserved_delta=-disbursement.amount_fen)
    disbursement.status = "paid"
    disbursement.paid_on = paid_on
    disbursement.bank_reference = bank_reference
    disbursement.entry_id = entry.id
    session.flush()
    audit.record(session, AuditLog, actor, "disbursement.pay", f"disbursement:{disbursement.id}",
                 {"fund_code": fund.code, "amount_fen": disbursement.amount_fen, "entry_id": entry.id,
                  "bank_reference": bank_reference, "paid_on": paid_on.isoformat()})
    return disbursement


def reject_disbursement(session: Session, actor: Principal, disbursement_id: int, reason: str) -> Disbursement:
    if not actor.has("disbursements:approve"):
        raise Forbidden("Rejecting needs the scope 'disbursements:approve'.")
    disbursement, fund, _info = _disbursement_for_change(session, actor, disbursement_id)
    if disbursement.status not in ("requested", "approved"):
        raise Conflict(f"Disbursement {disbursement.id} is {disbursement.status}; it can no longer be rejected.")
    if disbursement.status == "approved":
        fund.reserved_fen -= disbursement.amount_fen  # the reservation is released
    disbursement.status = "rejected"
    disbursement.rejected_by = actor.actor
    disbursement.reject_reason = reason.strip()
    disbursement.decided_at = utcnow()
    session.flush()
    audit.record(session, AuditLog, actor, "disbursement.reject", f"disbursement:{disbursement.id}",
                 {"fund_code": fund.code, "reason": disbursement.reject_reason})
    return disbursement


def disbursement_query(actor: Principal, *, fund_code: str | None = None,
                       status: str | None = None) -> Select[tuple[Disbursement]]:
    query = select(Disbursement).order_by(Disbursement.id.desc())
    if not actor.sees_all_organizations:
        query = query.where(Disbursement.organization_id == actor.organization_id)
    if fund_code:
        query = query.where(Disbursement.fund_code == fund_code)
    if status:
        query = query.where(Disbursement.status == status)
    return query


# -- statements, trial balance, chain -------------------------------------------

NET_ASSETS = (UNRESTRICTED, RESTRICTED)
LEDGER_COLUMNS = [(account, column, BALANCE_SIGN[account]) for account, column in BALANCE_COLUMNS.items()]


@dataclass(frozen=True)
class StatementLine:
    entry_id: int
    seq: int
    date: dt.date
    kind: str
    source_id: int
    amount: Money       # always positive
    direction: str      # "in" or "out" of the fund
    balance_after: Money
    posted_at: dt.datetime


def statement(session: Session, actor: Principal, code: str, date_from: dt.date | None,
              date_to: dt.date | None) -> dict[str, Any]:
    visible_fund(actor, code)
    row = fund_ledger_row(session, code)
    if date_from and date_to and date_from > date_to:
        raise ValidationProblem.field("from", "Must not be after 'to'.")
    if row is None:
        return {"fund_code": code, "from": date_from, "to": date_to, "opening_balance": Money(0),
                "entries": [], "closing_balance": Money(0), "currency": "CNY"}
    change = -cast(func.sum(Posting.amount_fen), BigInteger)
    # Through the fund's entries (indexed by fund and seq), then their postings.
    net = and_(JournalEntry.fund_id == row.id, Posting.account.in_(NET_ASSETS))
    opening = 0
    if date_from:
        opening = session.scalar(select(func.coalesce(change, 0)).join(JournalEntry, JournalEntry.id == Posting.entry_id)
                                 .where(net, JournalEntry.effective_on < date_from)) or 0
    query = (select(JournalEntry, change.label("change")).join(Posting, Posting.entry_id == JournalEntry.id)
             .where(net).group_by(JournalEntry.id).order_by(JournalEntry.effective_on, JournalEntry.seq))
    if date_from:
        query = query.where(JournalEntry.effective_on >= date_from)
    if date_to:
        query = query.where(JournalEntry.effective_on <= date_to)
    running = opening
    lines = []
    for entry, delta in session.execute(query):
        running += delta
        lines.append(StatementLine(entry.id, entry.seq, entry.effective_on, entry.kind, entry.source_id,
                                   Money(abs(delta)), "in" if delta >= 0 else "out", Money(running),
                                   entry.posted_at))
    return {"fund_code": code, "from": date_from, "to": date_to, "opening_balance": Money(opening),
            "entries": lines, "closing_balance": Money(running), "currency": "CNY"}


def trial_balance(session: Session, actor: Principal, as_of: dt.date | None) -> dict[str, Any]:
    as_of = as_of or today()
    query = (select(FundLedger.code, Posting.account, cast(func.sum(Posting.amount_fen), BigInteger))
             .join(FundLedger, FundLedger.id == Posting.fund_id)
             .join(JournalEntry, JournalEntry.id == Posting.entry_id)
             .where(JournalEntry.effective_on <= as_of)
             .group_by(FundLedger.code, Posting.account).order_by(FundLedger.code, Posting.account))
    if not actor.sees_all_organizations:
        query = query.where(FundLedger.organization_id == actor.organization_id)
    accounts = []
    debits = credits = 0
    for code, account, total in session.execute(query):
        debit, credit = (total, 0) if total >= 0 else (0, -total)
        debits += debit
        credits += credit
        accounts.append({"account": ACCOUNT_NAMES[account].format(code=code), "debit": Money(debit),
                         "credit": Money(credit)})
    return {"as_of": as_of, "accounts": accounts, "total_debits": Money(debits),
            "total_credits": Money(credits), "currency": "CNY"}


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
    """Recompute every entry's hash and every balance; a broken chain names its first bad entry."""
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        # One snapshot for the heads and the entries: a donation committed
        # meanwhile must not look like an inserted entry.
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    funds = chain_heads(session, actor)
    if code is not None:
        funds = [f for f in funds if f.code == code]
        if not funds:
            visible_fund(actor, code)
    return [FundCheck(verify_fund_chain(session, fund), balances_match_postings(session, fund)) for fund in funds]


def balances_match_postings(session: Session, fund: FundLedger) -> bool:
    """The fund's stored balances are the sums of its postings."""
    sums = dict(session.execute(select(Posting.account, cast(func.sum(Posting.amount_fen), BigInteger))
                                .where(Posting.fund_id == fund.id).group_by(Posting.account)).all())
    return all(getattr(fund, column) == sign * sums.get(account, 0)
               for account, column, sign in LEDGER_COLUMNS)


def verify_fund_chain(session: Session, fund: FundLedger) -> chain.ChainVerdict:
    def entries() -> Any:
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


def _chain_entries(session: Session, entries: Sequence[JournalEntry]) -> Any:
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
        return chain.donation_document(receipt_no=d.receipt_no, amount_fen=d.amount_fen, donor_name=d.donor_name,
                                       donor_kind=d.donor_kind, donor_anonymous=d.donor_anonymous,
                                       received_on=d.received_on, channel=d.channel, purpose=d.purpose,
                                       reference=d.reference)
    if entry.kind == "reversal" and entry.source_id in reversed_:
        d = reversed_[entry.source_id]
        return chain.reversal_document(donation_id=d.id, receipt_no=d.receipt_no, reason=d.reversal_reason or "")
    if entry.kind == "disbursement" and entry.id in disbursements:
        b = disbursements[entry.id]
        return chain.disbursement_document(
            disbursement_id=b.id, amount_fen=b.amount_fen, payee=b.payee, purpose=b.purpose, project=b.project,
            paid_on=b.paid_on or entry.effective_on, bank_reference=b.bank_reference or "",
            requested_by=b.requested_by, approved_by=b.approved_by or "")
    return ""

