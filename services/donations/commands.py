"""The donations service's operations: check who asks, then let the ledger act.

Who may do what (scopes, organisations) is checked here; what the ledger's
rules allow is checked by its SQL functions (ledger.py), under the fund's
lock. Views call these and never commit: the request commits once at its end
(a single donation without an Idempotency-Key is posted with others in one
transaction by the poster, see poster.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson
from flask import Response, current_app, g
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from services.donations import funds_status, ledger
from services.donations.ledger import NewDonation, Outcome
from services.donations.models import Disbursement, Donation, JournalEntry, Posting
from services.donations.schemas import donation_json, named_postings
from shared.auth import Principal, authority
from shared.contracts.funds import FundInfo, is_fund_code
from shared import metrics
from shared.db import MAX_BIG_ID, after_commit, contains_pattern
from shared.errors import Problem
from shared.refusals import Message

# -- funds -------------------------------------------------------------------


def visible_fund(actor: Principal, code: str, *, write: bool = False) -> FundInfo:
    """The fund as the funds service knows it; 404 if there is none, or it is not the caller's."""
    if not is_fund_code(code):
        raise Problem("fund_not_found", fund_code=code)
    info = authority().fund(code)
    allowed = info is not None and (actor.may_write(info.organization_id) if write
                                    else actor.may_read(info.organization_id))
    if not allowed:
        raise Problem("fund_not_found", fund_code=code)
    assert info is not None
    return info


def writable_fund(actor: Principal, code: str) -> FundInfo:
    """A fund the caller may post to; a fund_code naming another's fund is a 422."""
    try:
        return visible_fund(actor, code, write=True)
    except Problem as problem:
        if problem.code != "fund_not_found":
            raise
        raise Problem.field("fund_code", "no_such_fund") from None


# -- donations -----------------------------------------------------------------


def new_donation(fund: FundInfo, data: dict[str, Any]) -> NewDonation:
    """A donation as DONATION loaded it (from JSON, a CSV row or a form)."""
    donor = data["donor"]
    return NewDonation(fund=fund, amount_fen=data["amount"].fen, donor_name=donor["name"],
                       donor_kind=donor["kind"], donor_anonymous=donor["anonymous"],
                       received_on=data["received_on"], channel=data["channel"],
                       purpose=data.get("purpose") or "", reference=data.get("reference"))


class RecordedDonation:
    """A donation just recorded, with what donation_json reads of a Donation row."""

    __slots__ = ("id", "fund_code", "amount_fen", "donor_name", "donor_kind", "donor_anonymous", "received_on",
                 "channel", "purpose", "reference", "receipt_year", "receipt_seq", "status", "created_at",
                 "reversed_at", "reversal_reason", "reversal_entry_id")

    def __init__(self, donation: NewDonation, outcome: Outcome) -> None:
        self.id = outcome.id
        self.fund_code = donation.fund.code
        self.amount_fen = donation.amount_fen
        self.donor_name = donation.donor_name
        self.donor_kind = donation.donor_kind
        self.donor_anonymous = donation.donor_anonymous
        self.received_on = donation.received_on
        self.channel = donation.channel
        self.purpose = donation.purpose
        self.reference = donation.reference
        self.receipt_year = outcome.receipt_year
        self.receipt_seq = outcome.receipt_seq
        self.status = "recorded"
        self.created_at = outcome.created_at
        self.reversed_at = self.reversal_reason = self.reversal_entry_id = None


def donation_created(donation: NewDonation, outcome: Outcome) -> Response:
    """The answer to a donation: 201 with it, or the refusal of its outcome."""
    if outcome.outcome == "recorded":
        body = orjson.dumps(donation_json(RecordedDonation(donation, outcome)))
        return Response(body, status=201, mimetype="application/json")
    if outcome.outcome == "duplicate":
        raise Problem("duplicate_reference", reference=donation.reference,
                      errors={"reference": [Message("duplicate_reference", {"reference": donation.reference})]})
    raise Problem(outcome.outcome, fund_code=donation.fund.code)


def count_recorded(donations: list[NewDonation], outcomes: list[Outcome]) -> None:
    """Count the donations recorded (metrics) once the request's transaction has committed them."""
    recorded = [d for d, o in zip(donations, outcomes) if o.outcome == "recorded"]
    if recorded:
        after_commit(lambda: [metrics.donation_recorded(d.fund.restricted, d.amount_fen) for d in recorded])


def record_donation(session: Session, actor: Principal, data: dict[str, Any]) -> Response:
    """One donation: in this request's transaction when it holds an Idempotency-Key (whose
    record must commit with it), else posted together with other requests' (poster.py)."""
    fund = writable_fund(actor, data["fund_code"])
    donation = new_donation(fund, data)
    if g.get("idempotency_claimed"):
        outcome = ledger.record_donations(session, [donation], [ledger.actor_json(actor)])[0]
        count_recorded([donation], [outcome])
        if outcome.outcome == "fund_status_changing":
            funds_status.settle_after_request(fund.code)  # once this request has released its locks
        return donation_created(donation, outcome)
    return current_app.extensions["donation_poster"].post(donation, ledger.actor_json(actor))


def get_donation(session: Session, actor: Principal, donation_id: int) -> Donation:
    donation = session.get(Donation, donation_id) if 0 < donation_id <= MAX_BIG_ID else None
    if donation is None or not actor.may_read(donation.organization_id):
        raise Problem("donation_not_found", id=donation_id)
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
        query = query.where(Donation.donor_anonymous.is_(False),
                            Donation.donor_name.ilike(contains_pattern(donor), escape="\\"))
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
    def amount_fen(self) -> int:
        return self.donation.amount_fen


def _may_change(actor: Principal, scope: str, organization_id: int, not_found: Problem) -> None:
    if not actor.has(scope):
        raise Problem("scope_missing", scope=scope)
    if not actor.may_write(organization_id):
        raise not_found


def reverse_donation(session: Session, actor: Principal, donation_id: int, reason: str) -> Reversal:
    donation = get_donation(session, actor, donation_id)
    _may_change(actor, "donations:write", donation.organization_id,
                Problem("donation_not_found", id=donation_id))
    fund = funds_status.settled_fund(session, actor, donation.fund_code)
    entry_id = ledger.reverse_donation(session, actor, fund, donation.id, reason)
    session.refresh(donation)
    entry = session.get(JournalEntry, entry_id)
    assert entry is not None
    postings = session.execute(select(Posting.account, Posting.amount_fen).where(Posting.entry_id == entry_id)
                               .order_by(Posting.line)).all()
    return Reversal(entry=entry, fund_code=donation.fund_code, donation=donation, reason=reason,
                    postings=named_postings(donation.fund_code, postings))


# -- disbursements ---------------------------------------------------------------


def request_disbursement(session: Session, actor: Principal, data: dict[str, Any]) -> Disbursement:
    fund = writable_fund(actor, data["fund_code"])
    return ledger.request_disbursement(session, actor, fund, data["amount"].fen, data["payee"], data["purpose"],
                                       data.get("project"), data["category"])


def get_disbursement(session: Session, actor: Principal, disbursement_id: int) -> Disbursement:
    disbursement = session.get(Disbursement, disbursement_id) if 0 < disbursement_id <= MAX_BIG_ID else None
    if disbursement is None or not actor.may_read(disbursement.organization_id):
        raise Problem("disbursement_not_found", id=disbursement_id)
    return disbursement


def _disbursement_for_change(session: Session, actor: Principal, disbursement_id: int,
                             scope: str) -> tuple[Disbursement, FundInfo]:
    disbursement = get_disbursement(session, actor, disbursement_id)
    _may_change(actor, scope, disbursement.organization_id,
                Problem("disbursement_not_found", id=disbursement_id))
    return disbursement, funds_status.settled_fund(session, actor, disbursement.fund_code)


def approve_disbursement(session: Session, actor: Principal, disbursement_id: int) -> Disbursement:
    _, fund = _disbursement_for_change(session, actor, disbursement_id, "disbursements:approve")
    return ledger.approve_disbursement(session, actor, fund, disbursement_id)


def pay_disbursement(session: Session, actor: Principal, disbursement_id: int, paid_on: dt.date,
                     bank_reference: str) -> Disbursement:
    _, fund = _disbursement_for_change(session, actor, disbursement_id, "donations:write")
    paid = ledger.pay_disbursement(session, actor, fund, disbursement_id, paid_on, bank_reference)
    after_commit(lambda: metrics.disbursement_paid(fund.restricted, paid.amount_fen))
    return paid


def reject_disbursement(session: Session, actor: Principal, disbursement_id: int, reason: str) -> Disbursement:
    _, fund = _disbursement_for_change(session, actor, disbursement_id, "disbursements:approve")
    return ledger.reject_disbursement(session, actor, fund, disbursement_id, reason)


def disbursement_query(actor: Principal, *, fund_code: str | None = None, status: str | None = None,
                       category: str | None = None) -> Select[tuple[Disbursement]]:
    query = select(Disbursement).order_by(Disbursement.id.desc())
    if not actor.sees_all_organizations:
        query = query.where(Disbursement.organization_id == actor.organization_id)
    if fund_code:
        query = query.where(Disbursement.fund_code == fund_code)
    if status:
        query = query.where(Disbursement.status == status)
    if category:
        query = query.where(Disbursement.category == category)
    return query
