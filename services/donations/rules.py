"""What the donations service accepts: its vocabularies and its inputs' shapes.

The API, a batch (JSON or CSV), the web forms and the tables' CHECK
constraints (models.py) all take their rules from here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared.dates import today
from shared.contracts.funds import fund_code
from shared.db import MAX_BIG_ID
from shared.money import CURRENCY
from shared.shapes import Amount, Choice, Day, Flag, Nested, Shape, Text, list_fields, refuse_field

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

DONATION = Shape("DonationCreate", {
    "fund_code": fund_code(),
    "amount": Amount(),
    "currency": Choice((CURRENCY,)),
    "donor": Nested(DONOR),
    "received_on": business_date(),
    "channel": Choice(CHANNELS, description="in_kind: goods, at their declared value in `amount`"),
    "purpose": Text(max_length=2000, min_length=0, default=""),
    "reference": Text(max_length=100, default=None, nullable=True,
                      description="The payer's own id; recorded once per organisation."),
}, description="A donation to record.")

REVERSAL = Shape("Reverse", {"reason": Text(max_length=2000)})

DISBURSEMENT = Shape("DisbursementCreate", {
    "fund_code": fund_code(),
    "amount": Amount(),
    "payee": Text(max_length=200),
    "purpose": Text(max_length=2000),
    "project": Text(max_length=200, default=None, nullable=True),
    "category": Choice(DISBURSEMENT_CATEGORIES, default=DEFAULT_DISBURSEMENT_CATEGORY,
                       description="programme: charitable activities; management: the organisation's "
                                   "management costs; fundraising: the costs of raising funds."),
})

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
})

ATTACHMENT_LIST = Shape("AttachmentListArgs", list_fields(max_id=MAX_BIG_ID))

STATEMENT = Shape("StatementArgs", _period_fields(), after=_ordered_period)
TRIAL_BALANCE = Shape("TrialBalanceArgs", {"as_of": Day(required=False, description="Defaults to today.")})
VERIFY = Shape("ChainVerifyArgs", {"fund_code": fund_code(required=False)})
