"""What the programmes service accepts: its vocabularies and its inputs' shapes.

The API, the web forms and the tables' CHECK constraints (models.py) take
their rules from here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared.contracts.caps import BUDGET_LINE_MAX_LENGTH
from shared.contracts.funds import FUND_CODE_PATTERN, fund_code
from shared.db import MAX_ID
from shared.shapes import Amount, Choice, Day, Flag, Integer, Shape, Text, list_fields

EARLIEST_DATE = dt.date(2000, 1, 1)

# -- villages and their needs (点单式需求清单) ------------------------------------------------
NEED_CATEGORIES = ("roads", "lighting", "drinking_water", "schooling", "elderly_care", "produce_sales",
                   "health", "housing", "other")
PRIORITIES = ("high", "normal", "low")
# A need is open while some of its amount is not pledged; fully pledged when all of it is;
# fulfilled when every live claim on it is fulfilled and it is fully pledged; closed by the bureau.
NEED_STATUSES = ("open", "fully_pledged", "fulfilled", "closed")
# A claim is pledged, then in progress, then fulfilled (and signed off for the village); or withdrawn
# by its organisation, or expired when its date passed unfulfilled. Withdrawn and expired claims free
# their amount.
CLAIM_STATUSES = ("pledged", "in_progress", "fulfilled", "withdrawn", "expired")
LIVE_CLAIM_STATUSES = ("pledged", "in_progress", "fulfilled")

# -- micro public-welfare projects (微公益创投) ----------------------------------------------
PROJECT_STATUSES = ("draft", "approved", "in_progress", "closing", "complete", "stopped")
MILESTONE_STATUSES = ("pending", "reported", "accepted", "cancelled")
AMENDMENT_STATUSES = ("requested", "approved", "rejected")
PROJECT_CODE_PATTERN = FUND_CODE_PATTERN

# -- assistance teams (1+N) -------------------------------------------------------------------
MEMBER_ROLES = ("lead", "partner", "donor")
ACTIVITY_KINDS = ("visit", "goods", "training", "sales_help")

# -- consumer-assistance drives (消费帮扶) -----------------------------------------------------
# What a purchase is, for the fund's books (README, "Consumer-assistance drives"): bought at market
# price, an exchange (neither a donation nor charitable spending); produce given on to people in
# need, charitable spending at its value; a price above market, a donation of the difference.
PURCHASE_KINDS = ("market", "given_on", "premium")
DRIVE_STATUSES = ("open", "closed")


def record_id(**kwargs: Any) -> Integer:
    return Integer(minimum=1, maximum=MAX_ID, **kwargs)


def project_code(**kwargs: Any) -> Text:
    """A project's code: the same form as a fund's (3-32 of A-Z, 0-9, '-')."""
    return fund_code(**kwargs)


def programme_date(**kwargs: Any) -> Day:
    return Day(earliest=EARLIEST_DATE, **kwargs)


def budget_line_name(**kwargs: Any) -> Text:
    return Text(max_length=BUDGET_LINE_MAX_LENGTH, **kwargs)


def name_text(**kwargs: Any) -> Text:
    return Text(max_length=200, **kwargs)


def description_text(**kwargs: Any) -> Text:
    return Text(max_length=4000, min_length=0, default="", **kwargs)


LIST = Shape("ListArgs", list_fields(max_id=MAX_ID))

VILLAGE = Shape("VillageCreate", {
    "name": name_text(),
    "township": name_text(),
    "weak": Flag(default=True, description="An economically weak village (经济薄弱村), as the bureau lists it."),
})
VILLAGE_LIST = Shape("VillageListArgs", {
    **list_fields(max_id=MAX_ID),
    "township": name_text(required=False),
    "weak": Flag(required=False),
    "q": Text(max_length=200, required=False, description="A text in the village's or township's name."),
})

NEED = Shape("NeedCreate", {
    "village_id": record_id(),
    "title": name_text(),
    "category": Choice(NEED_CATEGORIES),
    "amount": Amount(description="What the need asks for, in money (goods at their value)."),
    "due_on": programme_date(description="By when the village needs it."),
    "priority": Choice(PRIORITIES, default="normal"),
    "description": description_text(),
})
NEED_LIST = Shape("NeedListArgs", {
    **list_fields(max_id=MAX_ID),
    "village_id": record_id(required=False),
    "status": Choice(NEED_STATUSES, required=False),
    "category": Choice(NEED_CATEGORIES, required=False),
})

CLAIM = Shape("ClaimCreate", {
    "amount": Amount(description="The share of the need pledged; at most what is still open."),
    "organization_id": record_id(required=False, description=(
        "The organisation that pledges: the key's own (an admin key may name another).")),
    "due_on": programme_date(required=False, description="By when it will be fulfilled; the need's date if absent."),
})
CLAIM_LIST = Shape("ClaimListArgs", {
    **list_fields(max_id=MAX_ID),
    "need_id": record_id(required=False),
    "status": Choice(CLAIM_STATUSES, required=False),
})
CLAIM_NOTE = Shape("ClaimNote", {"note": Text(max_length=2000, min_length=0, default="")})
