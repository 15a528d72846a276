"""What the funds service accepts: its vocabularies and its inputs' shapes.

The API, the web forms and the tables' CHECK constraints (models.py) take
their rules from here; the fund code's rule is the contract every service
shares (shared.contracts.funds).
"""

from __future__ import annotations

from typing import Any

from shared.auth import ROLES, SCOPES
from shared.contracts.funds import DEFAULT_APPROVAL_RULE, FUND_STATUSES, approval_rule, fund_code
from shared.db import MAX_ID
from shared.shapes import Choice, Day, Flag, Integer, Many, Shape, Text, list_fields, refuse_field

ORGANIZATION_KINDS = ("township", "chamber_of_commerce", "federation", "other")
# What kind of charitable organisation the Charity Law takes it for, and the most its management
# costs may be of the year's spending, in percent: a social organisation or social service
# institution (the default), or a foundation with public fundraising status.
MANAGEMENT_COST_LIMIT_PERCENT = {"social_organization": 13, "foundation": 10}
CHARITY_KINDS = tuple(MANAGEMENT_COST_LIMIT_PERCENT)
DEFAULT_CHARITY_KIND = CHARITY_KINDS[0]
CHARITY_KIND_DESCRIPTION = (
    "The organisation's kind under the Charity Law, which caps its management costs at a share of the year's "
    "spending: " + ", ".join(f"{kind} {percent}%" for kind, percent in MANAGEMENT_COST_LIMIT_PERCENT.items())
    + " (a foundation with public fundraising status).")
FUND_KINDS = ("township_named", "chamber_named", "general")
MIN_PASSWORD_LENGTH = 10
USERNAME_PATTERN = r"[A-Za-z0-9_.-]{2,64}"


def organization_id(**kwargs: object) -> Integer:
    return Integer(minimum=1, maximum=MAX_ID, **kwargs)  # type: ignore[arg-type]


def _charity_kind(**kwargs: object) -> Choice:
    return Choice(CHARITY_KINDS, description=CHARITY_KIND_DESCRIPTION, **kwargs)  # type: ignore[arg-type]


ORGANIZATION = Shape("OrganizationCreate", {
    "name": Text(max_length=200),
    "kind": Choice(ORGANIZATION_KINDS),
    "charity_kind": _charity_kind(default=DEFAULT_CHARITY_KIND),
    "approval_rule": approval_rule(default=DEFAULT_APPROVAL_RULE),
})

# PATCH: what is sent changes.
ORGANIZATION_CHANGE = Shape("OrganizationPatch", {"charity_kind": _charity_kind(required=False),
                                                  "approval_rule": approval_rule(required=False)})
# The organisation's page changes its charity kind alone, and its approval rule alone.
ORGANIZATION_CHARITY_KIND = Shape("OrganizationCharityKind", {"charity_kind": _charity_kind()})
ORGANIZATION_APPROVAL_RULE = Shape("OrganizationApprovalRule", {"approval_rule": approval_rule()})

API_KEY = Shape("ApiKeyCreate", {
    "name": Text(max_length=200),
    "scopes": Many(Choice(SCOPES), min_items=1),
})


def _fund_name(**kwargs: object) -> Text:
    return Text(max_length=200, **kwargs)  # type: ignore[arg-type]


def _fund_purpose(**kwargs: object) -> Text:
    return Text(max_length=2000, min_length=0, **kwargs)  # type: ignore[arg-type]


FUND = Shape("FundCreate", {
    "code": fund_code(),
    "name": _fund_name(),
    "kind": Choice(FUND_KINDS),
    "organization_id": organization_id(),
    "purpose": _fund_purpose(default=""),
    "restricted": Flag(default=False, description="Donations may only be spent on `purpose`."),
    "opened_on": Day(default=None, nullable=True, description="Defaults to today (Asia/Shanghai)."),
})

# PATCH: what is sent changes; the page sends both, a blank name is refused.
FUND_CHANGE = Shape("FundPatch", {"name": _fund_name(required=False), "purpose": _fund_purpose(required=False)})
FUND_EDIT = Shape("FundEdit", {"name": _fund_name(), "purpose": _fund_purpose(default="")})

FUND_LIST = Shape("FundListArgs", {
    **list_fields(max_id=MAX_ID),
    "organization_id": organization_id(required=False),
    "kind": Choice(FUND_KINDS, required=False),
    "status": Choice(FUND_STATUSES, required=False),
    "q": Text(max_length=200, required=False, description="A part of the fund's name or code."),
})

LIST = Shape("ListArgs", list_fields(max_id=MAX_ID))

LOGIN = Shape("Login", {
    "username": Text(max_length=64),
    "password": Text(max_length=256, trim=False),
})


def _password(**kwargs: object) -> Text:
    return Text(max_length=256, min_length=MIN_PASSWORD_LENGTH, trim=False, **kwargs)  # type: ignore[arg-type]


USER = Shape("UserCreate", {
    "username": Text(max_length=64, min_length=2, pattern=USERNAME_PATTERN, pattern_code="username_format"),
    "display_name": Text(max_length=200, min_length=0, default=""),
    "password": _password(),
    "role": Choice(ROLES),
    "organization_id": organization_id(),
})

USER_CHANGE = Shape("UserChange", {
    "display_name": Text(max_length=200, min_length=0, default=""),
    "role": Choice(ROLES),
    "organization_id": organization_id(),
    "active": Flag(default=False),
    "password": _password(required=False),
})


def _confirmed(values: dict[str, Any]) -> None:
    if not values["confirm"]:
        raise refuse_field("confirm", "confirm_required")


# Closing a fund on its page: the box that says the closer means it.
FUND_CLOSE = Shape("FundClose", {"confirm": Flag(default=False)}, after=_confirmed)
