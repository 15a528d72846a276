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
from services.donations.models import (
    AuditLog, Disbursement, DisbursementAttachment, Donation, FundLedger, JournalEntry, Posting,
)
from services.donations.rules import (
    ATTACHMENT_EXTENSIONS, ATTACHMENT_MAX_BYTES, ATTACHMENT_NAME_MAX, attachment_type,
)
from services.donations.schemas import donation_json, named_postings
from shared.auth import Principal, authority
from shared.contracts.funds import FundInfo, is_fund_code
from shared import metrics
from shared.db import MAX_BIG_ID, after_commit, contains_pattern
from shared.dates import SHANGHAI
from shared.errors import Problem
from shared.money import Money
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
    goods = data.get("goods") or {}
    return NewDonation(fund=fund, amount_fen=data["amount"].fen, donor_name=donor["name"],
                       donor_kind=donor["kind"], donor_anonymous=donor["anonymous"],
                       received_on=data["received_on"], channel=data["channel"],
                       purpose=data.get("purpose") or "", reference=data.get("reference"),
                       goods_item=goods.get("item"), goods_quantity=goods.get("quantity"),
                       goods_unit=goods.get("unit"),
                       goods_unit_price_fen=goods["unit_price"].fen if goods else None)


class RecordedDonation:
    """A donation just recorded, with what donation_json reads of a Donation row."""

    __slots__ = ("id", "fund_code", "amount_fen", "donor_name", "donor_kind", "donor_anonymous", "received_on",
                 "channel", "purpose", "reference", "goods_item", "goods_quantity", "goods_unit",
                 "goods_unit_price_fen", "receipt_year", "receipt_seq", "status", "created_at", "reversed_at",
                 "reversal_reason", "reversal_entry_id")

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
        self.goods_item = donation.goods_item
        self.goods_quantity = donation.goods_quantity
        self.goods_unit = donation.goods_unit
        self.goods_unit_price_fen = donation.goods_unit_price_fen
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
                   date_to: dt.date | None = None, donor: str | None = None, organization_id: int | None = None,
                   channel: str | None = None, status: str | None = None, amount_min: Money | None = None,
                   amount_max: Money | None = None) -> Select[tuple[Donation]]:
    query = select(Donation).order_by(Donation.id.desc())
    if not actor.sees_all_organizations:
        query = query.where(Donation.organization_id == actor.organization_id)
    if organization_id:
        query = query.where(Donation.organization_id == organization_id)
    if channel:
        query = query.where(Donation.channel == channel)
    if status:
        query = query.where(Donation.status == status)
    if amount_min is not None:
        query = query.where(Donation.amount_fen >= amount_min.fen)
    if amount_max is not None:
        query = query.where(Donation.amount_fen <= amount_max.fen)
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
                                       data.get("project"), data["category"], project_code=data.get("project_code"),
                                       budget_line=data.get("budget_line"), need_id=data.get("need_id"))


def available_cash_fen(session: Session, code: str) -> int:
    """What the fund could pay today: its cash less approved, unpaid disbursements (goods are not cash)."""
    row = session.scalar(select(FundLedger).where(FundLedger.code == code))
    return row.available_cash_fen if row is not None else 0


def request_disbursement_within_cash(session: Session, actor: Principal, data: dict[str, Any]) -> Disbursement:
    """A request from the pages: beyond the fund's available cash it is refused at once, beside the
    amount. (The API takes any request and refuses at approval, as API.md says.)"""
    fund = writable_fund(actor, data["fund_code"])
    cash = available_cash_fen(session, fund.code)
    if data["amount"].fen > cash:
        raise Problem.field("amount", "request_exceeds_cash", fund_code=fund.code, cash_fen=cash,
                            amount_fen=data["amount"].fen)
    return request_disbursement(session, actor, data)


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


def withdraw_disbursement(session: Session, actor: Principal, disbursement_id: int, reason: str) -> Disbursement:
    """By its requester (the same user or key), while it is requested; nothing was reserved for it."""
    _, fund = _disbursement_for_change(session, actor, disbursement_id, "donations:write")
    return ledger.withdraw_disbursement(session, actor, fund, disbursement_id, reason)


# -- a disbursement's history and documents ---------------------------------------

# What each audited act of the ledger makes of a disbursement.
STEP_OF_ACTION = {"disbursement.request": "requested", "disbursement.approve": "approved",
                  "disbursement.pay": "paid", "disbursement.reject": "rejected",
                  "disbursement.withdraw": "withdrawn"}


@dataclass(frozen=True)
class Step:
    """One step of a disbursement's timeline: who took it, when, and why (a rejection, a withdrawal)."""

    status: str
    actor: str
    actor_name: str
    at: dt.datetime
    reason: str | None = None
    paid_on: dt.date | None = None
    bank_reference: str | None = None


def timeline(session: Session, actor: Principal, disbursement_id: int) -> list[Step]:
    """The disbursement's steps, oldest first, as the ledger's functions wrote them to the audit log."""
    disbursement = get_disbursement(session, actor, disbursement_id)
    entries = session.scalars(select(AuditLog).where(AuditLog.subject == f"disbursement:{disbursement.id}",
                                                     AuditLog.action.in_(list(STEP_OF_ACTION)))
                              .order_by(AuditLog.at, AuditLog.id))
    steps = []
    for entry in entries:
        status = STEP_OF_ACTION[entry.action]
        details = entry.details or {}
        reason = details.get("reason") if status in ("rejected", "withdrawn") else None
        paid_on = dt.date.fromisoformat(details["paid_on"]) if status == "paid" and details.get("paid_on") else None
        steps.append(Step(status, entry.actor, entry.actor_name, entry.at, reason or None, paid_on,
                          details.get("bank_reference") if status == "paid" else None))
    if not steps or steps[0].status != "requested":
        # The request itself is on the row whatever the log holds.
        steps.insert(0, Step("requested", disbursement.requested_by, disbursement.requested_by_name,
                             disbursement.created_at))
    return steps


def may_attach(actor: Principal, disbursement: Disbursement) -> bool:
    """Its requester, or an approver of its organisation (scopes and organisation; its state is the ledger's)."""
    return actor.may_write(disbursement.organization_id) and (
        actor.actor == disbursement.requested_by or actor.has("disbursements:approve"))


def attachment_name(filename: str | None, content_type: str) -> str:
    """The uploaded file's own name, without any folder, control character or invalid text, at most
    ATTACHMENT_NAME_MAX characters (its extension kept); a name for it when it has none."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    name = name.encode("utf-8", "replace").decode("utf-8")
    if not name.strip(". "):
        name = "attachment" + ATTACHMENT_EXTENSIONS[content_type]
    if len(name) > ATTACHMENT_NAME_MAX:
        stem, dot, extension = name.rpartition(".")
        extension = dot + extension if stem and len(extension) <= 16 else ""
        name = name[:ATTACHMENT_NAME_MAX - len(extension)] + extension if extension else name[:ATTACHMENT_NAME_MAX]
    return name


def read_attachment(upload: Any) -> tuple[bytes, str]:
    """The uploaded file's bytes and type; refused beside `file` when it is missing, empty, too large or
    neither PDF, PNG nor JPEG by its content."""
    if upload is None or not hasattr(upload, "stream"):
        raise Problem.field("file", "file_required")
    content = upload.stream.read(ATTACHMENT_MAX_BYTES + 1)
    if not content:
        raise Problem.field("file", "file_required")
    if len(content) > ATTACHMENT_MAX_BYTES:
        raise Problem.field("file", "attachment_too_large", max=ATTACHMENT_MAX_BYTES // (1024 * 1024))
    content_type = attachment_type(content)
    if content_type is None:
        raise Problem.field("file", "attachment_type")
    return content, content_type


def attach(session: Session, actor: Principal, disbursement_id: int, upload: Any) -> DisbursementAttachment:
    """Attach an uploaded document; the ledger refuses a rejected or withdrawn disbursement and writes the
    audit log."""
    disbursement = get_disbursement(session, actor, disbursement_id)
    if not may_attach(actor, disbursement):
        raise Problem("attachment_forbidden", id=disbursement.id)
    content, content_type = read_attachment(upload)
    attachment_id = ledger.attach_to_disbursement(session, actor, disbursement.id,
                                                  attachment_name(getattr(upload, "filename", None), content_type),
                                                  content_type, content)
    attachment = session.get(DisbursementAttachment, attachment_id)
    assert attachment is not None
    return attachment


def attachment_query(session: Session, actor: Principal, disbursement_id: int) -> Select[tuple[DisbursementAttachment]]:
    """The disbursement's attachments, newest first (their content is read only when asked for)."""
    disbursement = get_disbursement(session, actor, disbursement_id)
    return (select(DisbursementAttachment).where(DisbursementAttachment.disbursement_id == disbursement.id)
            .order_by(DisbursementAttachment.id.desc()))


def get_attachment(session: Session, actor: Principal, disbursement_id: int,
                   attachment_id: int) -> DisbursementAttachment:
    disbursement = get_disbursement(session, actor, disbursement_id)
    attachment = session.get(DisbursementAttachment, attachment_id) if 0 < attachment_id <= MAX_BIG_ID else None
    if attachment is None or attachment.disbursement_id != disbursement.id:
        raise Problem("attachment_not_found", id=attachment_id, disbursement_id=disbursement.id)
    return attachment


def beijing_midnight(day: dt.date) -> dt.datetime:
    """The moment a day begins in Beijing."""
    return dt.datetime.combine(day, dt.time(), tzinfo=SHANGHAI)


def disbursement_query(actor: Principal, *, fund_code: str | None = None, status: str | None = None,
                       category: str | None = None, organization_id: int | None = None, payee: str | None = None,
                       requested_from: dt.date | None = None, requested_to: dt.date | None = None,
                       paid_from: dt.date | None = None, paid_to: dt.date | None = None,
                       amount_min: Money | None = None, amount_max: Money | None = None,
                       project_code: str | None = None, need_id: int | None = None,
                       ) -> Select[tuple[Disbursement]]:
    query = select(Disbursement).order_by(Disbursement.id.desc())
    if not actor.sees_all_organizations:
        query = query.where(Disbursement.organization_id == actor.organization_id)
    if organization_id:
        query = query.where(Disbursement.organization_id == organization_id)
    if payee:
        query = query.where(Disbursement.payee.ilike(contains_pattern(payee), escape="\\"))
    # The day a request was made is its day in Beijing.
    if requested_from:
        query = query.where(Disbursement.created_at >= beijing_midnight(requested_from))
    if requested_to:
        query = query.where(Disbursement.created_at < beijing_midnight(requested_to + dt.timedelta(days=1)))
    if paid_from:
        query = query.where(Disbursement.paid_on >= paid_from)
    if paid_to:
        query = query.where(Disbursement.paid_on <= paid_to)
    if amount_min is not None:
        query = query.where(Disbursement.amount_fen >= amount_min.fen)
    if amount_max is not None:
        query = query.where(Disbursement.amount_fen <= amount_max.fen)
    if fund_code:
        query = query.where(Disbursement.fund_code == fund_code)
    if status:
        query = query.where(Disbursement.status == status)
    if category:
        query = query.where(Disbursement.category == category)
    if project_code:
        query = query.where(Disbursement.project_code == project_code)
    if need_id:
        query = query.where(Disbursement.need_id == need_id)
    return query
