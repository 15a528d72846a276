"""What the programmes service accepts: its vocabularies and its inputs' shapes.

The API, the web forms and the tables' CHECK constraints (models.py) take
their rules from here.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from marshmallow import fields as mf
from marshmallow import validate as mv

from shared.contracts.caps import BUDGET_LINE_MAX_LENGTH
from shared.contracts.funds import FUND_CODE_PATTERN, fund_code
from shared.dates import today
from shared.db import MAX_ID
from shared.money import Money
from shared.refusals import Message
from shared.shapes import (
    Amount, Choice, Day, Field, Flag, Integer, Invalid, Many, Quantity, Refusal, Rows, Shape, Text, list_fields,
    refuse_field,
)

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

def _goods_with_unit(values: dict[str, Any]) -> None:
    """A quantity of goods and its unit come together."""
    if (values.get("quantity") is None) != (values.get("unit") is None):
        raise refuse_field("unit" if values.get("quantity") is not None else "quantity", "required")


NEED = Shape("NeedCreate", {
    "village_id": record_id(),
    "title": name_text(),
    "category": Choice(NEED_CATEGORIES),
    "amount": Amount(description="What the need asks for, in money (goods at their value)."),
    "quantity": Quantity(required=False, nullable=True, default=None, example="35",
                         description="When it asks for goods: how many (with `unit`)."),
    "unit": Text(max_length=32, required=False, nullable=True, default=None, example="盏",
                 description="The goods' unit, such as 盏, 吨, 套: required with `quantity`."),
    "due_on": programme_date(description="By when the village needs it."),
    "priority": Choice(PRIORITIES, default="normal"),
    "description": description_text(),
}, after=_goods_with_unit)
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


# -- assistance teams and consumer-assistance drives: inputs -----------------------------------
# A volunteer's hours at one activity: more than 0, at most a day, at most one decimal.
HOURS_PATTERN = r"(0|[1-9][0-9]?)(\.[0-9])?"
MAX_PEOPLE_HELPED = 1_000_000
# A related-party purchase is disclosed within this many days of the purchase.
RELATED_PARTY_DISCLOSURE_DAYS = 30


class Hours(Field):
    """A volunteer's hours as a string: "2.5", more than 0, at most 24, at most one decimal."""

    _regex = re.compile(HOURS_PATTERN)

    def check(self, value: Any) -> Decimal:
        if type(value) is not str or not self._regex.fullmatch(value):
            raise Refusal("hours_format")
        hours = Decimal(value)
        if not 0 < hours <= 24:
            raise Refusal("hours_format")
        return hours

    def _marshmallow(self, **kwargs: Any) -> mf.Field:
        return mf.String(validate=mv.Regexp(f"^{HOURS_PATTERN}$"), **kwargs)

    def sql_check(self, column: str) -> str:
        return f"{column} > 0 AND {column} <= 24"


def organization_ref(**kwargs: Any) -> Integer:
    return record_id(**kwargs)


TEAM_MEMBER = Shape("TeamMemberInput", {
    "organization_id": organization_ref(),
    "role": Choice(MEMBER_ROLES, description="`lead` (exactly one: the 1 of 1+N), `partner` or `donor`."),
    "contribution": Text(max_length=2000, min_length=0, default="",
                         description="What the member contributes: money, goods, people, skills."),
})


def _team_members(values: dict[str, Any]) -> None:
    members = values["members"]
    leads = sum(1 for member in members if member["role"] == "lead")
    if leads != 1:
        raise refuse_field("members", "team_one_lead", leads=leads)
    seen: set[int] = set()
    for member in members:
        if member["organization_id"] in seen:
            raise refuse_field("members", "team_member_repeated", organization_id=member["organization_id"])
        seen.add(member["organization_id"])


TEAM = Shape("TeamCreate", {
    "name": name_text(),
    "members": Rows(TEAM_MEMBER, min_items=1, max_items=100,
                    description="The lead organisation and its partners and donors, each once."),
    "village_ids": Many(record_id(), min_items=1, description="The weak villages the team is paired with."),
}, after=_team_members, description="An assistance team (1+N): one lead organisation and its members, paired "
                                    "with one or more weak villages.")
TEAM_LIST = Shape("TeamListArgs", {
    **list_fields(max_id=MAX_ID),
    "village_id": record_id(required=False),
    "organization_id": organization_ref(required=False, description="Teams this organisation is a member of."),
})

VOLUNTEER = Shape("VolunteerInput", {
    "name": Text(max_length=100),
    "hours": Hours(description="More than 0, at most 24, at most one decimal, as a string: \"2.5\".",
                   example="2.5"),
})
ACTIVITY = Shape("ActivityCreate", {
    "on": programme_date(latest=today, description="The day of the activity."),
    "village_id": record_id(description="One of the team's villages."),
    "kind": Choice(ACTIVITY_KINDS),
    "people_helped": Integer(minimum=0, maximum=MAX_PEOPLE_HELPED, default=0),
    "description": description_text(),
    "volunteers": Rows(VOLUNTEER, default=list, max_items=500,
                       description="The volunteers by name, with their hours."),
})
ACTIVITY_LIST = Shape("ActivityListArgs", {
    **list_fields(max_id=MAX_ID),
    "village_id": record_id(required=False),
    "kind": Choice(ACTIVITY_KINDS, required=False),
})

DRIVE = Shape("DriveCreate", {
    "name": name_text(),
    "village_id": record_id(description="The village whose produce the drive buys."),
    "product": name_text(example="黄桃"),
    "unit": Text(max_length=32, example="5斤装一筐", description="Such as 斤, kg, 箱, a 5-jin basket."),
    "unit_price": Amount(description="The market price of one unit."),
    "quantity": Quantity(description="The drive's target, in units: more than 0, at most three decimals.",
                         example="2500"),
    "seller": Text(max_length=200, min_length=0, default="", description="Who sells: the village's co-operative, say."),
})
DRIVE_LIST = Shape("DriveListArgs", {
    **list_fields(max_id=MAX_ID),
    "village_id": record_id(required=False),
    "status": Choice(DRIVE_STATUSES, required=False),
})
PLEDGE = Shape("DrivePledgeCreate", {
    "organization_id": organization_ref(required=False, description=(
        "The organisation that pledges: the key's own (the drive's organiser or an admin may name another).")),
    "quantity": Quantity(description="How many units it will buy; a second pledge replaces the first."),
})
PURCHASE = Shape("PurchaseCreate", {
    "organization_id": organization_ref(required=False, description=(
        "The buying organisation: the key's own (the drive's organiser or an admin may name another).")),
    "quantity": Quantity(description="Units bought."),
    "amount": Amount(description="What was paid to the village."),
    "kind": Choice(PURCHASE_KINDS, description=(
        "`market`: bought at market price, an exchange (amount = quantity x unit price); `given_on`: the produce "
        "is given to people in need, charitable spending at its market value (amount at market value or above); "
        "`premium`: paid above market, the difference is a donation.")),
    "related_party": Flag(default=False, description=(
        "The seller is related to the buying organisation: disclosed within 30 days.")),
    "purchased_on": programme_date(latest=today, default=today, description="The day of the purchase; today if absent."),
    "fund_code": fund_code(required=False, default=None, nullable=True,
                           description="The fund whose ledger the purchase concerns: the buying organisation's."),
})
PURCHASE_LIST = Shape("PurchaseListArgs", {
    **list_fields(max_id=MAX_ID),
    "kind": Choice(PURCHASE_KINDS, required=False),
})


# -- micro public-welfare projects: inputs ------------------------------------------------------

MAX_PROJECT_ROWS = 100
FieldErrors = dict[str, list[Message]]


BUDGET_LINE = Shape("BudgetLineIn", {
    "name": budget_line_name(description="The line's name, unique in the budget: a disbursement names it "
                                         "as its `budget_line`."),
    "amount": Amount(description="What the line plans to spend."),
})
MILESTONE = Shape("MilestoneIn", {
    "name": name_text(),
    "due_on": programme_date(description="By when its report is due."),
    "instalment": Amount(description="What becomes payable once its report is accepted."),
})


def _budget_lines(values: dict[str, Any], errors: FieldErrors) -> None:
    seen: set[str] = set()
    for place, line in enumerate(values["lines"]):
        if line["name"] in seen:
            errors[f"lines.{place}.name"] = [Message("budget_line_repeated")]
        seen.add(line["name"])


def _project_rules(values: dict[str, Any]) -> None:
    errors: FieldErrors = {}
    if values["ends_on"] < values["starts_on"]:
        errors["ends_on"] = [Message("ends_before_start")]
    _budget_lines(values, errors)
    if not errors:
        budget = sum(line["amount"].fen for line in values["lines"])
        instalments = sum(milestone["instalment"].fen for milestone in values["milestones"])
        if budget != instalments:
            errors["milestones"] = [Message("instalments_not_budget", {
                "instalments": str(Money(instalments)), "budget": str(Money(budget))})]
    if errors:
        raise Invalid(errors)


def _amendment_rules(values: dict[str, Any]) -> None:
    errors: FieldErrors = {}
    _budget_lines(values, errors)
    if errors:
        raise Invalid(errors)


def _report_text(**kwargs: Any) -> Text:
    return Text(max_length=20000, **kwargs)


def _reason_text(**kwargs: Any) -> Text:
    return Text(max_length=2000, **kwargs)


PROJECT = Shape("ProjectCreate", {
    "code": project_code(description="The project's code, as a fund's: a disbursement names it as its "
                                     "`project_code`."),
    "name": name_text(),
    "organization_id": record_id(required=False, description=(
        "The implementing organisation: the key's own (an admin key may name another).")),
    "village_id": record_id(required=False, nullable=True, default=None,
                            description="The village or community it serves."),
    "team_id": record_id(required=False, nullable=True, default=None,
                         description="The assistance team it belongs to, if any."),
    "fund_code": fund_code(description="The fund that pays for it: one of the organisation's."),
    "starts_on": programme_date(),
    "ends_on": programme_date(description="Not before `starts_on`."),
    "description": description_text(),
    "lines": Rows(BUDGET_LINE, min_items=1, max_items=MAX_PROJECT_ROWS, description="The budget's lines, their names unique."),
    "milestones": Rows(MILESTONE, min_items=1, max_items=MAX_PROJECT_ROWS, description=(
        "In order; their instalments add up to the budget. An instalment is paid only after its milestone's "
        "report is accepted.")),
}, after=_project_rules, description="A micro public-welfare project to propose (it starts as a draft).")
PROJECT_LIST = Shape("ProjectListArgs", {
    **list_fields(max_id=MAX_ID),
    "organization_id": record_id(required=False),
    "status": Choice(PROJECT_STATUSES, required=False),
    "village_id": record_id(required=False),
    "fund_code": fund_code(required=False),
})
AMENDMENT = Shape("AmendmentCreate", {
    "lines": Rows(BUDGET_LINE, min_items=1, max_items=MAX_PROJECT_ROWS, description=(
        "The whole new budget; its total stays the milestones' instalments. A line left out is removed "
        "(refused if money for it is approved or paid).")),
    "reason": _reason_text(),
}, after=_amendment_rules, description="A change of a project's budget, approved like a payout.")
PROJECT_STOP = Shape("ProjectStop", {"reason": _reason_text()})
PROJECT_CLOSE = Shape("ProjectClose", {
    "final_report": _report_text(),
    "leftover_to": Text(max_length=500, required=False, nullable=True, default=None, description=(
        "Where money left over goes (a similar project, as the law requires); required when some is left.")),
})
MILESTONE_REPORT = Shape("MilestoneReport", {"report": _report_text()})
RECOVERY = Shape("RecoveryCreate", {
    "amount": Amount(description="What was misspent and is to be recovered: at most what was paid."),
    "reason": _reason_text(),
})


# -- the disclosure calendar (services/programmes/calendar.py) ----------------------------------
# What is disclosed when (Charity Law 2023; the Ministry's order No. 81): a project running more than
# six months, its progress every three months from its start; every project, its full account within
# three months of its end, and its leftover money within three months of its close; the year's
# annual report by 31 May of the next; a related-party purchase within 30 days.
DISCLOSURE_KINDS = ("progress", "full", "leftover", "annual_report", "related_party")
# The calendar also reminds an organisation of its claims' dates (nothing is published for them).
CALENDAR_KINDS = (*DISCLOSURE_KINDS, "claim_reminder")
# done: recorded as published; late: past its date; due_soon: within DUE_SOON_DAYS; else upcoming.
CALENDAR_STATUSES = ("done", "late", "due_soon", "upcoming")
DUE_SOON_DAYS = 14
PROGRESS_EVERY_MONTHS = 3
PROGRESS_AFTER_MONTHS = 6
FULL_WITHIN_MONTHS = 3
LEFTOVER_WITHIN_MONTHS = 3
ANNUAL_REPORT_DUE = (5, 31)  # the previous year's, by 31 May


def _calendar_period(values: dict[str, Any]) -> None:
    if values.get("from") and values.get("to") and values["from"] > values["to"]:
        raise refuse_field("from", "date_after_to")


DISCLOSURE = Shape("DisclosureCreate", {
    "kind": Choice(DISCLOSURE_KINDS),
    "subject": Text(max_length=64, description="A project's code, a purchase's id or a year, as the calendar "
                                               "names it."),
    "due_on": programme_date(description="The item's date on the calendar (a project's quarters differ by it)."),
    "note": Text(max_length=2000, min_length=0, default="", description="Where it was published, say."),
    "organization_id": organization_ref(required=False, description=(
        "Whose calendar: the key's own organisation (an admin key may name another).")),
}, description="That an item of the organisation's disclosure calendar was published.")
DISCLOSURE_LIST = Shape("DisclosureListArgs", {
    "organization_id": organization_ref(required=False, description=(
        "One organisation's calendar (admins and auditors; others see only their own).")),
    "from": programme_date(required=False, description="Items due on or after this day."),
    "to": programme_date(required=False, description="Items due on or before this day."),
    "status": Choice(CALENDAR_STATUSES, required=False),
    "kind": Choice(CALENDAR_KINDS, required=False),
}, after=_calendar_period)
