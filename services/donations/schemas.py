"""The donations API's request and response shapes (see API.md)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from services.donations.dates import today
from services.donations.models import CHANNELS, DISBURSEMENT_STATUSES, DONOR_KINDS
from shared.money import Money, MoneyField
from shared.schemas import BaseSchema, Cursor, ListArgs, StrictBoolean, Text, TrimmedString, page_schema

ANONYMOUS_NAME = "匿名"
FUND_CODE = validate.Regexp(r"^[A-Z0-9-]{3,32}$", error="3-32 characters of A-Z, 0-9 and '-'.")
EARLIEST_DATE = dt.date(2000, 1, 1)
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # business dates are written YYYY-MM-DD


class BusinessDate(fields.Date):
    """A date that has happened, as YYYY-MM-DD: from 2000-01-01 to today (Asia/Shanghai)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dt.date:
        # The RFC 3339 full-date of OpenAPI's `format: date`, not every form
        # date.fromisoformat reads (20260803, 2026-W32-1).
        if isinstance(value, str) and not ISO_DATE.fullmatch(value):
            raise self.make_error("invalid")
        day = super()._deserialize(value, attr, data, **kwargs)
        if day < EARLIEST_DATE:
            raise ValidationError("Must not be before 2000-01-01.")
        if day > today():
            raise ValidationError("Must not be in the future.")
        return day


class DonorSchema(BaseSchema):
    name = TrimmedString(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(DONOR_KINDS))
    anonymous = StrictBoolean(load_default=False)


class DonationCreateSchema(BaseSchema):
    fund_code = fields.String(required=True, validate=FUND_CODE)
    amount = MoneyField(required=True)
    currency = fields.String(required=True, validate=validate.OneOf(["CNY"]))
    donor = fields.Nested(DonorSchema, required=True)
    received_on = BusinessDate(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS),
                            metadata={"description": "in_kind: goods, at their declared value in `amount`"})
    purpose = TrimmedString(load_default="", validate=validate.Length(max=2000))
    reference = TrimmedString(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100),
                              metadata={"description": "The payer's own id; recorded once per organisation."})


class DonorOutSchema(BaseSchema):
    name = fields.Method("_name", metadata={"description": f"'{ANONYMOUS_NAME}' when anonymous"})
    kind = fields.String()
    anonymous = fields.Boolean()

    def _name(self, donor: dict[str, Any]) -> str:
        return ANONYMOUS_NAME if donor["anonymous"] else donor["name"]


class DonationSchema(BaseSchema):
    id = fields.Integer()
    fund_code = fields.String()
    amount = fields.Method("_amount", metadata={"type": "string", "example": "1280.00"})
    amount_in_words = fields.Method("_words", metadata={"description": "大写金额, as on the receipt"})
    currency = fields.String()
    donor = fields.Nested(DonorOutSchema)
    received_on = fields.Date()
    channel = fields.String()
    purpose = fields.String()
    reference = fields.String(allow_none=True)
    receipt_no = fields.String()
    status = fields.String()
    created_at = fields.DateTime()
    reversed_at = fields.DateTime(allow_none=True)
    reversal_reason = fields.String(allow_none=True)
    reversal_entry_id = fields.Integer(allow_none=True, metadata={
        "description": "the reversing entry, as `entry_id` in the fund's statement"})

    def _amount(self, donation: Any) -> str:
        return str(Money(donation.amount_fen))

    def _words(self, donation: Any) -> str:
        return Money(donation.amount_fen).in_chinese_capitals()


class BigListArgs(ListArgs):
    """Lists over tables with 64-bit ids."""

    cursor = Cursor(load_default=None, max_id=2**63 - 1)


class DonationListArgs(BigListArgs):
    fund_code = fields.String(validate=FUND_CODE)
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    donor = Text(validate=validate.Length(min=1, max=200))


class PostingSchema(BaseSchema):
    account = fields.String(metadata={"example": "Assets:Bank:TL-HQ-001"})
    debit = MoneyField()
    credit = MoneyField()


class ReversalSchema(BaseSchema):
    """The reversing entry; `donation` is the original, now marked reversed."""

    id = fields.Integer(attribute="entry.id", metadata={"description": "the reversing entry's id"})
    kind = fields.String(attribute="entry.kind")
    fund_code = fields.String()
    seq = fields.Integer(attribute="entry.seq")
    date = fields.Date(attribute="entry.effective_on")
    posted_at = fields.DateTime(attribute="entry.posted_at")
    amount = MoneyField()
    currency = fields.Constant("CNY")
    reason = fields.String()
    reverses = fields.Integer(attribute="donation.id", metadata={"description": "the reversed donation's id"})
    postings = fields.List(fields.Nested(PostingSchema))
    prev_hash = fields.String(attribute="entry.prev_hash")
    hash = fields.String(attribute="entry.hash")
    donation = fields.Nested(DonationSchema)


class ReverseSchema(BaseSchema):
    reason = TrimmedString(required=True, validate=validate.Length(min=1, max=2000))


class DisbursementCreateSchema(BaseSchema):
    fund_code = fields.String(required=True, validate=FUND_CODE)
    amount = MoneyField(required=True)
    payee = TrimmedString(required=True, validate=validate.Length(min=1, max=200))
    purpose = TrimmedString(required=True, validate=validate.Length(min=1, max=2000))
    project = TrimmedString(load_default=None, allow_none=True, validate=validate.Length(min=1, max=200))


class PaySchema(BaseSchema):
    paid_on = BusinessDate(required=True)
    bank_reference = TrimmedString(required=True, validate=validate.Length(min=1, max=100))


class DisbursementSchema(BaseSchema):
    id = fields.Integer()
    fund_code = fields.String()
    amount = fields.Method("_amount", metadata={"type": "string", "example": "1280.00"})
    currency = fields.Constant("CNY")
    payee = fields.String()
    purpose = fields.String()
    project = fields.String(allow_none=True)
    status = fields.String(validate=validate.OneOf(DISBURSEMENT_STATUSES))
    requested_by = fields.String()
    requested_by_name = fields.String()
    approved_by = fields.String(allow_none=True)
    approved_by_name = fields.String(allow_none=True)
    rejected_by = fields.String(allow_none=True)
    reject_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    paid_on = fields.Date(allow_none=True)
    bank_reference = fields.String(allow_none=True)

    def _amount(self, disbursement: Any) -> str:
        return str(Money(disbursement.amount_fen))


class DisbursementListArgs(BigListArgs):
    fund_code = fields.String(validate=FUND_CODE)
    status = fields.String(validate=validate.OneOf(DISBURSEMENT_STATUSES))


class BalanceSchema(BaseSchema):
    fund_code = fields.String()
    balance = MoneyField()
    available = MoneyField()
    currency = fields.String()
    as_of = fields.DateTime()


class StatementArgs(BaseSchema):
    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("from_") and data.get("to") and data["from_"] > data["to"]:
            raise ValidationError("Must not be after 'to'.", field_name="from")


class StatementLineSchema(BaseSchema):
    entry_id = fields.Integer()
    seq = fields.Integer(metadata={"description": "the entry's place in the fund's hash chain"})
    date = fields.Date()
    kind = fields.String(metadata={"description": "donation, reversal or disbursement"})
    source_id = fields.Integer(metadata={"description": "the donation's or disbursement's id"})
    amount = MoneyField()
    direction = fields.String(metadata={"description": "'in' adds to the fund, 'out' takes from it"})
    balance_after = MoneyField()
    posted_at = fields.DateTime()


class StatementSchema(BaseSchema):
    fund_code = fields.String()
    from_ = fields.Date(data_key="from", attribute="from", allow_none=True)  # statement() names it "from"
    to = fields.Date(allow_none=True)
    currency = fields.String()
    opening_balance = MoneyField()
    entries = fields.List(fields.Nested(StatementLineSchema))
    closing_balance = MoneyField()


class TrialBalanceArgs(BaseSchema):
    as_of = fields.Date(load_default=None)


class TrialBalanceAccountSchema(BaseSchema):
    account = fields.String()
    debit = fields.Method("_debit", metadata={"type": "string", "example": "1280.00"})
    credit = fields.Method("_credit", metadata={"type": "string", "example": "0.00"})

    def _debit(self, row: dict[str, Any]) -> str:
        return str(row["debit"])

    def _credit(self, row: dict[str, Any]) -> str:
        return str(row["credit"])


class TrialBalanceSchema(BaseSchema):
    as_of = fields.Date()
    currency = fields.String()
    accounts = fields.List(fields.Nested(TrialBalanceAccountSchema))
    total_debits = fields.Method("_debits", metadata={"type": "string"})
    total_credits = fields.Method("_credits", metadata={"type": "string"})

    def _debits(self, data: dict[str, Any]) -> str:
        return str(data["total_debits"])

    def _credits(self, data: dict[str, Any]) -> str:
        return str(data["total_credits"])


class ChainHeadSchema(BaseSchema):
    fund_code = fields.String(attribute="code")
    entries = fields.Integer(attribute="entry_count")
    head = fields.String(attribute="chain_head")


class FundCheckSchema(BaseSchema):
    fund_code = fields.String(attribute="chain.fund_code")
    valid = fields.Boolean(metadata={"description": "the chain verifies and the balances match the postings"})
    entries = fields.Integer(attribute="chain.entries")
    head = fields.String(attribute="chain.head")
    chain_valid = fields.Boolean(attribute="chain.valid")
    first_bad_entry_id = fields.Integer(attribute="chain.first_bad_entry_id", allow_none=True)
    first_bad_seq = fields.Integer(attribute="chain.first_bad_seq", allow_none=True)
    problem = fields.String(attribute="chain.problem", allow_none=True)
    balances_match = fields.Boolean(metadata={"description": "stored balances equal the sums of the postings"})


class ChainVerifyArgs(BaseSchema):
    fund_code = fields.String(validate=FUND_CODE)


class ChainReportSchema(BaseSchema):
    valid = fields.Boolean()
    funds = fields.List(fields.Nested(FundCheckSchema))


class BatchRowResultSchema(BaseSchema):
    row = fields.Integer(metadata={"description": "the CSV line number (the header is line 1), "
                                                  "or the 1-based position in the JSON list"})
    status = fields.String(validate=validate.OneOf(["recorded", "duplicate", "invalid"]))
    donation = fields.Nested(DonationSchema)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class BatchResultSchema(BaseSchema):
    results = fields.List(fields.Nested(BatchRowResultSchema))


DonationPageSchema = page_schema(DonationSchema, "DonationPage")
DisbursementPageSchema = page_schema(DisbursementSchema, "DisbursementPage")
ChainHeadsSchema = page_schema(ChainHeadSchema, "ChainHeads")
