"""The donations service's lists: which columns each sorts by and which filters it takes.

Paging, sorting, totals and exports are shared/listing.py's; the filters' queries
are commands.py's. The donations and disbursements lists read from an index in
their default sort's order (migration 0009: the organisation or the fund, then
the date, then the id).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared.contracts.funds import fund_code
from shared.db import MAX_BIG_ID
from shared.listing import paging_fields
from shared.shapes import Amount, Choice, Day, Field, Integer, Shape, Text, refuse_field

from services.donations.rules import CHANNELS, DISBURSEMENT_CATEGORIES, DISBURSEMENT_STATUSES, DONATION_STATUSES

STATEMENT_PAGE_SIZE = 100
# A PDF is laid out page by page, so it holds fewer rows than an XLSX (EXPORT_LIMIT).
PDF_EXPORT_LIMIT = 2_000


def _ordered(*pairs: tuple[str, str]) -> Any:
    """A rule across fields: each pair's first value is not above its second."""

    def check(values: dict[str, Any]) -> None:
        for low, high in pairs:
            if values.get(low) is not None and values.get(high) is not None and values[low] > values[high]:
                raise refuse_field(low, "date_after_to" if isinstance(values[low], dt.date) else
                                   "amount_min_above_max")

    return check


def _filter_fields() -> dict[str, Field]:
    return {"fund_code": fund_code(required=False),
            "organization_id": Integer(minimum=1, maximum=MAX_BIG_ID, required=False),
            "amount_min": Amount(required=False), "amount_max": Amount(required=False)}


# The donations list: which columns it sorts by (the keys the page's links carry).
DONATION_SORTS = ("receipt", "received_on", "fund", "donor", "kind", "channel", "amount", "status")
DONATION_PAGE = Shape("DonationPageArgs", {
    **paging_fields(DONATION_SORTS, "received_on"),
    **_filter_fields(),
    "donor": Text(max_length=200, required=False),
    "channel": Choice(CHANNELS, required=False),
    "status": Choice(DONATION_STATUSES, required=False),
    "from": Day(required=False),
    "to": Day(required=False),
}, after=_ordered(("from", "to"), ("amount_min", "amount_max")))

DISBURSEMENT_SORTS = ("id", "requested_on", "fund", "payee", "amount", "category", "status", "paid_on")
DISBURSEMENT_PAGE = Shape("DisbursementPageArgs", {
    **paging_fields(DISBURSEMENT_SORTS, "id"),
    **_filter_fields(),
    "payee": Text(max_length=200, required=False),
    "status": Choice(DISBURSEMENT_STATUSES, required=False),
    "category": Choice(DISBURSEMENT_CATEGORIES, required=False),
    "requested_from": Day(required=False),
    "requested_to": Day(required=False),
    "paid_from": Day(required=False),
    "paid_to": Day(required=False),
}, after=_ordered(("requested_from", "requested_to"), ("paid_from", "paid_to"), ("amount_min", "amount_max")))

STATEMENT_PAGE = Shape("StatementPageArgs", {
    **paging_fields(("date",), "date", "asc", default_size=STATEMENT_PAGE_SIZE),
    "from": Day(required=False),
    "to": Day(required=False),
}, after=_ordered(("from", "to")))
