"""What the donations API answers (see API.md), and the OpenAPI documents of it.

A donation is answered often (a batch answers a million), so `donation_json`
writes it directly; DonationSchema documents exactly that and dumps through
it. The other answers are plain marshmallow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from flask import url_for
from marshmallow import fields

from services.donations.models import receipt_no
from services.donations.rules import (
    ACCOUNT_NAMES, ANONYMOUS_NAME, ATTACHMENT_TYPES, CHANNELS, DISBURSEMENT_CATEGORIES, DISBURSEMENT_STATUSES,
    DONATION_STATUSES, DONOR_KINDS, ENTRY_KINDS,
)
from shared.contracts.funds import FUND_STATUSES
from shared.money import CURRENCY, Money
from shared.schemas import AMOUNT_OUT, BaseSchema, currency_field, money_out, page_schema
from shared.shapes import QUANTITY_PATTERN, quantity_text


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def goods_json(d: Any) -> dict[str, str] | None:
    """A gift in kind's goods as the API shows them, or None."""
    if d.goods_item is None:
        return None
    return {"item": d.goods_item, "quantity": quantity_text(d.goods_quantity), "unit": d.goods_unit,
            "unit_price": str(Money(d.goods_unit_price_fen))}


def donation_json(d: Any) -> dict[str, Any]:
    """A donation as the API shows it: a Donation row, or anything with its attributes."""
    amount = Money(d.amount_fen)
    anonymous = d.donor_anonymous
    return {
        "id": d.id, "fund_code": d.fund_code, "amount": str(amount),
        "amount_in_words": amount.in_chinese_capitals(), "currency": CURRENCY,
        "donor": {"name": ANONYMOUS_NAME if anonymous else d.donor_name, "kind": d.donor_kind,
                  "anonymous": anonymous},
        "received_on": d.received_on.isoformat(), "channel": d.channel, "purpose": d.purpose,
        "reference": d.reference, "goods": goods_json(d), "receipt_no": receipt_no(d.receipt_year, d.receipt_seq),
        "status": d.status,
        "created_at": d.created_at.isoformat(), "reversed_at": _iso(d.reversed_at),
        "reversal_reason": d.reversal_reason, "reversal_entry_id": d.reversal_entry_id,
    }


class DonorOutSchema(BaseSchema):
    name = fields.String(required=True, metadata={"description": f"'{ANONYMOUS_NAME}' when anonymous"})
    kind = fields.String(required=True, metadata={"enum": list(DONOR_KINDS)})
    anonymous = fields.Boolean(required=True)


class GoodsOutSchema(BaseSchema):
    """What a gift in kind was; its donation's `amount` is quantity x unit_price, rounded half-up to the fen."""

    item = fields.String(required=True, metadata={"example": "大米"})
    quantity = fields.String(required=True, metadata={
        "pattern": f"^{QUANTITY_PATTERN}$", "example": "2500",
        "description": "more than 0, with as few decimals as it needs (at most three)"})
    unit = fields.String(required=True, metadata={"example": "斤"})
    unit_price = fields.String(required=True, metadata=AMOUNT_OUT)


class DonationSchema(BaseSchema):
    """A donation (documents `donation_json`, which writes it)."""

    id = fields.Integer(required=True)
    fund_code = fields.String(required=True)
    amount = fields.String(required=True, metadata=AMOUNT_OUT)
    amount_in_words = fields.String(required=True, metadata={"description": "大写金额, as on the receipt"})
    currency = currency_field()
    donor = fields.Nested(DonorOutSchema, required=True)
    received_on = fields.Date(required=True)
    channel = fields.String(required=True, metadata={"enum": list(CHANNELS)})
    purpose = fields.String(required=True)
    reference = fields.String(required=True, allow_none=True)
    goods = fields.Nested(GoodsOutSchema, required=True, allow_none=True, metadata={
        "description": "the goods of a gift in kind, when they were given; else null"})
    receipt_no = fields.String(required=True, metadata={"example": "2026-000001"})
    status = fields.String(required=True, metadata={"enum": list(DONATION_STATUSES)})
    created_at = fields.DateTime(required=True)
    reversed_at = fields.DateTime(required=True, allow_none=True)
    reversal_reason = fields.String(required=True, allow_none=True)
    reversal_entry_id = fields.Integer(required=True, allow_none=True, metadata={
        "description": "the reversing entry, as `entry_id` in the fund's statement"})

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        many = self.many if many is None else many
        if many:
            return [donation_json(item) for item in obj]
        return donation_json(obj)


class PostingSchema(BaseSchema):
    account = fields.String(required=True, metadata={"example": "Assets:Bank:TL-HQ-001"})
    debit = fields.String(required=True, metadata=AMOUNT_OUT)
    credit = fields.String(required=True, metadata=AMOUNT_OUT)


class ReversalSchema(BaseSchema):
    """The reversing entry; `donation` is the original, now marked reversed."""

    id = fields.Integer(required=True, attribute="entry.id", metadata={"description": "the reversing entry's id"})
    kind = fields.String(required=True, attribute="entry.kind", metadata={"enum": ["reversal"]})
    fund_code = fields.String(required=True)
    seq = fields.Integer(required=True, attribute="entry.seq")
    date = fields.Date(required=True, attribute="entry.effective_on")
    posted_at = fields.DateTime(required=True, attribute="entry.posted_at")
    amount = money_out("amount_fen")
    currency = currency_field()
    reason = fields.String(required=True)
    reverses = fields.Integer(required=True, attribute="donation.id",
                              metadata={"description": "the reversed donation's id"})
    postings = fields.List(fields.Nested(PostingSchema), required=True)
    prev_hash = fields.String(required=True, attribute="entry.prev_hash")
    hash = fields.String(required=True, attribute="entry.hash")
    donation = fields.Nested(DonationSchema, required=True)


class DisbursementSchema(BaseSchema):
    id = fields.Integer(required=True)
    fund_code = fields.String(required=True)
    amount = money_out("amount_fen")
    currency = currency_field()
    payee = fields.String(required=True)
    purpose = fields.String(required=True)
    project = fields.String(required=True, allow_none=True)
    category = fields.String(required=True, metadata={
        "enum": list(DISBURSEMENT_CATEGORIES),
        "description": "programme (charitable activities), management or fundraising: "
                       "how the Charity Law's annual ratios count it"})
    status = fields.String(required=True, metadata={"enum": list(DISBURSEMENT_STATUSES)})
    requested_by = fields.String(required=True)
    requested_by_name = fields.String(required=True)
    approved_by = fields.String(required=True, allow_none=True)
    approved_by_name = fields.String(required=True, allow_none=True)
    rejected_by = fields.String(required=True, allow_none=True)
    reject_reason = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    decided_at = fields.DateTime(required=True, allow_none=True)
    paid_on = fields.Date(required=True, allow_none=True)
    bank_reference = fields.String(required=True, allow_none=True)
    withdrawn_by = fields.String(required=True, allow_none=True, metadata={
        "description": "who withdrew it (always its requester); `decided_at` is when"})
    withdrawn_by_name = fields.String(required=True, allow_none=True)
    withdraw_reason = fields.String(required=True, allow_none=True)
    project_code = fields.String(required=True, allow_none=True, metadata={
        "description": "the programmes service's project whose budget line it pays, or null"})
    budget_line = fields.String(required=True, allow_none=True, metadata={
        "description": "the name of that project's budget line, or null"})
    need_id = fields.Integer(required=True, allow_none=True, metadata={
        "description": "the village's need it pays for (its organisation's pledge), or null"})


class TimelineStepSchema(BaseSchema):
    status = fields.String(required=True, metadata={"enum": list(DISBURSEMENT_STATUSES),
                                                     "description": "the status this step gave the disbursement"})
    actor = fields.String(required=True, metadata={"example": "user:3"})
    actor_name = fields.String(required=True)
    at = fields.DateTime(required=True)
    reason = fields.String(required=True, allow_none=True, metadata={
        "description": "why it was rejected or withdrawn"})
    paid_on = fields.Date(required=True, allow_none=True)
    bank_reference = fields.String(required=True, allow_none=True)


class TimelineSchema(BaseSchema):
    """A disbursement's steps, oldest first, as the ledger recorded them in its audit log."""

    disbursement_id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": list(DISBURSEMENT_STATUSES)})
    steps = fields.List(fields.Nested(TimelineStepSchema), required=True)


class AttachmentSchema(BaseSchema):
    """A document attached to a disbursement (an invoice, a contract), kept as uploaded."""

    id = fields.Integer(required=True)
    disbursement_id = fields.Integer(required=True)
    filename = fields.String(required=True)
    content_type = fields.String(required=True, metadata={"enum": list(ATTACHMENT_TYPES),
                                                           "description": "told by the file's content"})
    size = fields.Integer(required=True, attribute="size_bytes", metadata={"description": "in bytes"})
    sha256 = fields.String(required=True, metadata={"description": "of the content, lowercase hex"})
    uploaded_by = fields.String(required=True)
    uploaded_by_name = fields.String(required=True)
    uploaded_at = fields.DateTime(required=True)
    url = fields.Function(lambda a: url_for("donations_api.DisbursementAttachmentById",
                                            disbursement_id=a.disbursement_id, attachment_id=a.id),
                          required=True, metadata={"type": "string", "description": "where its bytes are"})


class BalanceSchema(BaseSchema):
    fund_code = fields.String(required=True)
    balance = money_out("balance_fen")
    available = money_out("available_fen", description="balance less approved, unpaid disbursements")
    cash = money_out("cash_fen", description="at the bank (the rest of the balance is donated goods)")
    goods = money_out("goods_fen", description="donated goods, at their declared value")
    currency = currency_field()
    status = fields.String(required=True, metadata={"enum": list(FUND_STATUSES),
                                                     "description": "the fund's status as the ledger applies it"})
    as_of = fields.DateTime(required=True)


class StatementLineSchema(BaseSchema):
    entry_id = fields.Integer(required=True)
    seq = fields.Integer(required=True, metadata={"description": "the entry's place in the fund's hash chain"})
    date = fields.Date(required=True)
    kind = fields.String(required=True, metadata={"enum": list(ENTRY_KINDS)})
    source_id = fields.Integer(required=True, metadata={"description": "the donation's or disbursement's id"})
    amount = money_out("amount_fen", description="always positive; see direction")
    direction = fields.String(required=True, metadata={"enum": ["in", "out"],
                                                        "description": "'in' adds to the fund, 'out' takes from it"})
    balance_after = money_out("balance_after_fen")
    posted_at = fields.DateTime(required=True)


class StatementSchema(BaseSchema):
    fund_code = fields.String(required=True)
    from_ = fields.Date(required=True, data_key="from", attribute="from", allow_none=True)
    to = fields.Date(required=True, allow_none=True)
    currency = currency_field()
    opening_balance = money_out("opening_fen")
    entries = fields.List(fields.Nested(StatementLineSchema), required=True)
    closing_balance = money_out("closing_fen")


class TrialBalanceAccountSchema(BaseSchema):
    account = fields.String(required=True, metadata={"example": "Assets:Bank:TL-HQ-001"})
    debit = money_out("debit_fen")
    credit = money_out("credit_fen")


class TrialBalanceSchema(BaseSchema):
    as_of = fields.Date(required=True)
    currency = currency_field()
    accounts = fields.List(fields.Nested(TrialBalanceAccountSchema), required=True)
    total_debits = money_out("total_debits_fen")
    total_credits = money_out("total_credits_fen")


class ChainHeadSchema(BaseSchema):
    fund_code = fields.String(required=True, attribute="code")
    entries = fields.Integer(required=True, attribute="entry_count")
    head = fields.String(required=True, attribute="chain_head")


class FundCheckSchema(BaseSchema):
    fund_code = fields.String(required=True, attribute="chain.fund_code")
    valid = fields.Boolean(required=True, metadata={
        "description": "the chain verifies and the balances match the postings"})
    entries = fields.Integer(required=True, attribute="chain.entries")
    head = fields.String(required=True, attribute="chain.head")
    chain_valid = fields.Boolean(required=True, attribute="chain.valid")
    first_bad_entry_id = fields.Integer(required=True, attribute="chain.first_bad_entry_id", allow_none=True)
    first_bad_seq = fields.Integer(required=True, attribute="chain.first_bad_seq", allow_none=True)
    problem = fields.String(required=True, attribute="chain.problem", allow_none=True)
    balances_match = fields.Boolean(required=True, metadata={
        "description": "stored balances, and the balances by day, equal the sums of the postings"})


class ChainReportSchema(BaseSchema):
    valid = fields.Boolean(required=True)
    funds = fields.List(fields.Nested(FundCheckSchema), required=True)


class BatchRowResultSchema(BaseSchema):
    row = fields.Integer(required=True, metadata={"description": "the CSV line number (the header is line 1), "
                                                                 "or the 1-based position in the JSON list"})
    status = fields.String(required=True, metadata={"enum": ["recorded", "duplicate", "invalid"]})
    donation = fields.Nested(DonationSchema)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    codes = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                        metadata={"description": "each refused field's refusal codes"})


class BatchResultSchema(BaseSchema):
    results = fields.List(fields.Nested(BatchRowResultSchema), required=True)


def named_postings(fund_code: str, postings: Iterable[tuple[str, int]]) -> list[dict[str, str]]:
    """Postings as accountants read them: account name, debit, credit."""
    return [{"account": ACCOUNT_NAMES[account].format(code=fund_code),
             "debit": str(Money(amount if amount > 0 else 0)), "credit": str(Money(-amount if amount < 0 else 0))}
            for account, amount in postings]


DonationPageSchema = page_schema(DonationSchema, "DonationPage")
DisbursementPageSchema = page_schema(DisbursementSchema, "DisbursementPage")
AttachmentPageSchema = page_schema(AttachmentSchema, "AttachmentPage")
ChainHeadsSchema = page_schema(ChainHeadSchema, "ChainHeads")
