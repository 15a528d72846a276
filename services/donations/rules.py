"""What the donations service accepts: its vocabularies and its inputs' shapes.

The API, a batch (JSON or CSV), the web forms and the tables' CHECK
constraints (models.py) all take their rules from here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from shared.dates import today
from shared.contracts.caps import BUDGET_LINE_MAX_LENGTH
from shared.contracts.funds import fund_code
from shared.db import MAX_BIG_ID, MAX_ID
from shared.money import CURRENCY, Money, priced_fen
from shared.shapes import (
    Amount, Choice, Day, Flag, Integer, Nested, Quantity, Shape, Text, list_fields, refuse_field,
)

DONOR_KINDS = ("individual", "enterprise", "organization")
CHANNELS = ("bank", "cash", "wechat", "alipay", "in_kind")
DONATION_STATUSES = ("recorded", "reversed")
# A requested disbursement is approved, then paid; or rejected (requested or approved); or
# withdrawn by its requester while it is still requested.
DISBURSEMENT_STATUSES = ("requested", "approved", "paid", "rejected", "withdrawn")
# What a disbursement's money goes to, as the Charity Law's annual ratios count it:
# charitable activities, the organisation's management, or raising funds.
DISBURSEMENT_CATEGORIES = ("programme", "management", "fundraising")
DEFAULT_DISBURSEMENT_CATEGORY = DISBURSEMENT_CATEGORIES[0]
ENTRY_KINDS = ("donation", "reversal", "disbursement")
# The accounts of each fund. Debits are positive, credits negative.
BANK = "bank"                  # Assets:Bank:<code>, cash at the federation's bank
IN_KIND = "in_kind"            # Assets:InKind:<code>, donated goods at declared value
UNRESTRICTED = "unrestricted"  # Funds:<code>:Unrestricted, net assets without donor restrictions
RESTRICTED = "restricted"      # Funds:<code>:Restricted, net assets with donor restrictions
ACCOUNTS = (BANK, IN_KIND, UNRESTRICTED, RESTRICTED)
NET_ASSETS = (UNRESTRICTED, RESTRICTED)
ACCOUNT_NAMES = {
    BANK: "Assets:Bank:{code}",
    IN_KIND: "Assets:InKind:{code}",
    UNRESTRICTED: "Funds:{code}:Unrestricted",
    RESTRICTED: "Funds:{code}:Restricted",
}

ANONYMOUS_NAME = "匿名"
EARLIEST_DATE = dt.date(2000, 1, 1)


def business_date(**kwargs: Any) -> Day:
    """A date that has happened: from 2000-01-01 to today in Asia/Shanghai."""
    return Day(earliest=EARLIEST_DATE, latest=today, **kwargs)


DONOR = Shape("Donor", {
    "name": Text(max_length=200, description=f"Shown as '{ANONYMOUS_NAME}' wherever the donor is anonymous."),
    "kind": Choice(DONOR_KINDS),
    "anonymous": Flag(default=False, description="Hide the donor's name in every output."),
})

# Goods given in kind: what, how many of what unit, at what declared price each.
GOODS = Shape("Goods", {
    "item": Text(max_length=100, example="大米"),
    "quantity": Quantity(description="More than 0, at most three decimals.", example="2500"),
    "unit": Text(max_length=16, example="斤", description="Such as 斤, 箱, kg, 件."),
    "unit_price": Amount(),
}, description="What a gift in kind was: `amount` is `quantity` x `unit_price`, rounded half-up to the fen.")


def _goods_match(values: dict[str, Any]) -> None:
    goods = values.get("goods")
    if goods is None:
        return
    if values["channel"] != IN_KIND:
        raise refuse_field("goods", "goods_not_in_kind")
    expected = priced_fen(goods["quantity"], goods["unit_price"].fen)
    if values["amount"].fen != expected:
        raise refuse_field("amount", "goods_amount_mismatch", expected=str(Money(expected)))


class DonationShape(Shape):
    """The donation's shape, whose `goods` are optional as a whole: a text row (a CSV line, a
    form) without a word in any goods_ column has none; with one, all four are checked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.goods_columns = tuple(flat for flat, (path, _) in self.flat_fields.items() if path[0] == "goods")
        self._without_goods = Shape(self.name, {key: field for key, field in self.fields.items() if key != "goods"},
                                    after=self.after)

    def load_text(self, row: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
        if any(isinstance(text := row.get(column), str) and text.strip() for column in self.goods_columns):
            return super().load_text(row, **kwargs)
        if any(column in row for column in self.goods_columns):
            row = {key: value for key, value in row.items() if key not in self.goods_columns}
        values = self._without_goods.load_text(row, **kwargs)
        values["goods"] = None
        return values


DONATION = DonationShape("DonationCreate", {
    "fund_code": fund_code(),
    "amount": Amount(),
    "currency": Choice((CURRENCY,)),
    "donor": Nested(DONOR),
    "received_on": business_date(),
    "channel": Choice(CHANNELS, description="in_kind: goods, at their declared value in `amount`"),
    "purpose": Text(max_length=2000, min_length=0, default=""),
    "reference": Text(max_length=100, default=None, nullable=True,
                      description="The payer's own id; recorded once per organisation."),
    "goods": Nested(GOODS, default=None, nullable=True,
                    description="Only for channel in_kind (optional there): the goods given; `amount` must "
                                "then be quantity x unit_price, rounded half-up to the fen."),
}, after=_goods_match, description="A donation to record.")

REVERSAL = Shape("Reverse", {"reason": Text(max_length=2000)})

def _project_or_need(values: dict[str, Any]) -> None:
    """A project's budget line (both named) or a need, or neither; never both."""
    if values.get("budget_line") is not None and values.get("project_code") is None:
        raise refuse_field("budget_line", "budget_line_without_project")
    if values.get("project_code") is not None and values.get("budget_line") is None:
        raise refuse_field("budget_line", "required")
    if values.get("project_code") is not None and values.get("need_id") is not None:
        raise refuse_field("need_id", "project_and_need")


DISBURSEMENT = Shape("DisbursementCreate", {
    "fund_code": fund_code(),
    "amount": Amount(),
    "payee": Text(max_length=200),
    "purpose": Text(max_length=2000),
    "project": Text(max_length=200, default=None, nullable=True),
    "category": Choice(DISBURSEMENT_CATEGORIES, default=DEFAULT_DISBURSEMENT_CATEGORY,
                       description="programme: charitable activities; management: the organisation's "
                                   "management costs; fundraising: the costs of raising funds."),
    # What the programmes service lets it pay (shared/contracts/caps.py): approving or paying beyond
    # the line's remaining, or the need's unpaid pledged amount, is refused.
    "project_code": fund_code(nullable=True, default=None,
                              description="The programmes service's project (a code like a fund's); with "
                                          "`budget_line`."),
    "budget_line": Text(max_length=BUDGET_LINE_MAX_LENGTH, nullable=True, default=None,
                        description="The name of the project's budget line; required with `project_code`, "
                                    "refused without it."),
    "need_id": Integer(minimum=1, maximum=MAX_ID, nullable=True, default=None,
                       description="A village's need the fund's organisation pledged to; not with a project."),
}, after=_project_or_need)

WITHDRAWAL = Shape("Withdraw", {"reason": Text(max_length=2000, min_length=0, default="",
                                                description="Why the requester withdraws it (optional).")})

# A disbursement's supporting documents (invoices, contracts): what they may be, told by their
# first bytes, never by their name; at most ATTACHMENT_MAX_BYTES each.
ATTACHMENT_TYPES = {"application/pdf": (b"%PDF-",), "image/png": (b"\x89PNG\r\n\x1a\n",),
                    "image/jpeg": (b"\xff\xd8\xff",)}
ATTACHMENT_EXTENSIONS = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
ATTACHMENT_NAME_MAX = 255
# Who may no longer add a document to a disbursement: it will never be paid.
ATTACHMENT_CLOSED_STATUSES = ("rejected", "withdrawn")


def attachment_type(content: bytes) -> str | None:
    """The file's type by its first bytes: one of ATTACHMENT_TYPES, else None."""
    for content_type, signatures in ATTACHMENT_TYPES.items():
        if content.startswith(signatures):
            return content_type
    return None


PAYMENT = Shape("Pay", {
    "paid_on": business_date(description="The day the bank paid: not before the approval, not in the future."),
    "bank_reference": Text(max_length=100),
})


def _ordered_period(values: dict[str, Any]) -> None:
    if values.get("from") and values.get("to") and values["from"] > values["to"]:
        raise refuse_field("from", "date_after_to")


def _period_fields() -> dict[str, Any]:
    return {"from": Day(required=False, description="The first day (YYYY-MM-DD), inclusive."),
            "to": Day(required=False, description="The last day (YYYY-MM-DD), inclusive.")}


DONATION_LIST = Shape("DonationListArgs", {
    **list_fields(max_id=MAX_BIG_ID),
    "fund_code": fund_code(required=False),
    **_period_fields(),
    "donor": Text(max_length=200, required=False, description="Part of a donor's name (anonymous donors never match)."),
}, after=_ordered_period)

DISBURSEMENT_LIST = Shape("DisbursementListArgs", {
    **list_fields(max_id=MAX_BIG_ID),
    "fund_code": fund_code(required=False),
    "status": Choice(DISBURSEMENT_STATUSES, required=False),
    "category": Choice(DISBURSEMENT_CATEGORIES, required=False),
    "project_code": fund_code(required=False),
    "need_id": Integer(minimum=1, maximum=MAX_ID, required=False),
})

ATTACHMENT_LIST = Shape("AttachmentListArgs", list_fields(max_id=MAX_BIG_ID))

STATEMENT = Shape("StatementArgs", _period_fields(), after=_ordered_period)
TRIAL_BALANCE = Shape("TrialBalanceArgs", {"as_of": Day(required=False, description="Defaults to today.")})
VERIFY = Shape("ChainVerifyArgs", {"fund_code": fund_code(required=False)})
