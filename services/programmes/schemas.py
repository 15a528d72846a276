"""What the programmes API answers (see API.md), for flask-smorest to serialise and document."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import fields

from services.programmes.rules import (
    ACTIVITY_KINDS, AMENDMENT_STATUSES, CLAIM_STATUSES, DRIVE_STATUSES, MEMBER_ROLES, MILESTONE_STATUSES,
    NEED_CATEGORIES, NEED_STATUSES, PRIORITIES, PROJECT_STATUSES, PURCHASE_KINDS,
)
from services.programmes.rules import CALENDAR_KINDS, CALENDAR_STATUSES
from shared.money import Money
from shared.schemas import AMOUNT_OUT, BaseSchema, currency_field, money_out, page_schema
from shared.shapes import quantity_text


class VillageSchema(BaseSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    township = fields.String(required=True)
    weak = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)


class NeedSchema(BaseSchema):
    id = fields.Integer(required=True)
    village_id = fields.Integer(required=True)
    village = fields.Function(lambda need: need.village.name, required=True,
                              metadata={"type": "string", "description": "The village's name."})
    township = fields.Function(lambda need: need.village.township, required=True, metadata={"type": "string"})
    title = fields.String(required=True)
    category = fields.String(required=True, metadata={"enum": list(NEED_CATEGORIES)})
    description = fields.String(required=True)
    amount = money_out("amount_fen", description="What the need asks for.")
    quantity = fields.Function(lambda need: None if need.quantity is None else quantity_text(need.quantity),
                               required=True, allow_none=True,
                               metadata={"type": "string", "description": "When it asks for goods: how many."})
    unit = fields.String(required=True, allow_none=True, metadata={"description": "The goods' unit (盏)."})
    pledged = money_out("pledged_fen", description="Pledged in live claims (pledged, in progress, fulfilled).")
    paid = money_out("paid_fen", description="Paid out of funds by disbursements naming the need.")
    open = money_out("open_fen", description="amount - pledged: what may still be claimed (0 once closed).")
    signed_off = money_out("signed_off_fen", description="What the village signed off (回单): its confirmed claims.")
    currency = currency_field()
    due_on = fields.Date(required=True)
    priority = fields.String(required=True, metadata={"enum": list(PRIORITIES)})
    status = fields.String(required=True, metadata={"enum": list(NEED_STATUSES)})
    created_at = fields.DateTime(required=True)
    closed_at = fields.DateTime(required=True, allow_none=True)


class ClaimSchema(BaseSchema):
    id = fields.Integer(required=True)
    need_id = fields.Integer(required=True)
    organization_id = fields.Integer(required=True)
    amount = money_out("amount_fen")
    currency = currency_field()
    status = fields.String(required=True, metadata={"enum": list(CLAIM_STATUSES)})
    due_on = fields.Date(required=True)
    note = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    signed_off_at = fields.DateTime(required=True, allow_none=True,
                                    metadata={"description": "When the village confirmed it (回单)."})


VillagePageSchema = page_schema(VillageSchema, "VillagePage")
NeedPageSchema = page_schema(NeedSchema, "NeedPage")
ClaimPageSchema = page_schema(ClaimSchema, "ClaimPage")


# -- assistance teams -------------------------------------------------------------------------------

def _hours_out(attribute: str, description: str = "") -> fields.Field:
    """Hours as a string with one decimal: "12.5"."""
    return fields.Function(lambda obj: format(Decimal(getattr(obj, attribute)).quantize(Decimal("0.1")), "f"),
                           required=True, metadata={"type": "string", "pattern": r"^[0-9]+\.[0-9]$", "example": "12.5",
                                                    **({"description": description} if description else {})})


def _quantity_out(attribute: str, description: str = "") -> fields.Field:
    """A quantity as a string with as few decimals as it needs: "2500", "12.5"."""
    return fields.Function(lambda obj: quantity_text(Decimal(getattr(obj, attribute))), required=True,
                           metadata={"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,3})?$", "example": "2500",
                                     **({"description": description} if description else {})})


class TeamMemberSchema(BaseSchema):
    organization_id = fields.Integer(required=True)
    role = fields.String(required=True, metadata={"enum": list(MEMBER_ROLES)})
    contribution = fields.String(required=True)


class TeamVillageSchema(BaseSchema):
    """A village the team is paired with, and what the team's activities there add up to."""

    village_id = fields.Integer(required=True)
    name = fields.String(required=True)
    township = fields.String(required=True)
    activities = fields.Integer(required=True)
    people_helped = fields.Integer(required=True)
    volunteer_hours = _hours_out("volunteer_hours")


class TeamTotalsSchema(BaseSchema):
    activities = fields.Integer(required=True)
    people_helped = fields.Integer(required=True)
    volunteer_hours = _hours_out("volunteer_hours", "Every volunteer's hours at every activity, summed exactly.")


class TeamProjectSchema(BaseSchema):
    """A project tied to the team, and its money in the ledger."""

    code = fields.String(required=True)
    name = fields.String(required=True)
    fund_code = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": list(PROJECT_STATUSES)})
    village_id = fields.Integer(required=True, allow_none=True)
    approved = money_out("approved_fen", description=(
        "Its approved budget in the ledger (its budget lines' caps; once stopped, what was approved or paid)."))
    paid = money_out("paid_fen", description="Disbursements for it paid.")


class TeamSchema(BaseSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    members = fields.List(fields.Nested(TeamMemberSchema), required=True)
    villages = fields.List(fields.Nested(TeamVillageSchema), required=True,
                           metadata={"description": "The paired villages, each with what was done there."})
    totals = fields.Nested(TeamTotalsSchema, required=True)
    projects = fields.List(fields.Nested(TeamProjectSchema), required=True,
                           metadata={"description": "Projects tied to the team."})
    raised = money_out("raised_fen", description="Approved out of funds for the team's projects.")
    spent = money_out("spent_fen", description="Paid out of funds for the team's projects.")
    currency = currency_field()
    created_at = fields.DateTime(required=True)


class VolunteerSchema(BaseSchema):
    name = fields.String(required=True)
    hours = _hours_out("hours")


class ActivitySchema(BaseSchema):
    id = fields.Integer(required=True)
    team_id = fields.Integer(required=True)
    village_id = fields.Integer(required=True)
    organization_id = fields.Integer(required=True, metadata={"description": "The member that recorded it."})
    on = fields.Date(required=True)
    kind = fields.String(required=True, metadata={"enum": list(ACTIVITY_KINDS)})
    description = fields.String(required=True)
    people_helped = fields.Integer(required=True)
    volunteers = fields.List(fields.Nested(VolunteerSchema), required=True)
    volunteer_hours = _hours_out("volunteer_hours")
    created_at = fields.DateTime(required=True)


TeamPageSchema = page_schema(TeamSchema, "TeamPage")
ActivityPageSchema = page_schema(ActivitySchema, "ActivityPage")


# -- micro public-welfare projects ---------------------------------------------------------------

class BudgetLineSchema(BaseSchema):
    name = fields.String(required=True, metadata={"description": "A disbursement names it as its `budget_line`."})
    amount = money_out("amount_fen", description="Planned.")
    approved = money_out("approved_fen", description=(
        "What the ledger may pay for it: 0 until the project is approved; once stopped or complete, what was "
        "approved or paid."))
    reserved = money_out("reserved_fen", description="Disbursements approved and not yet paid.")
    paid = money_out("paid_fen")
    remaining = money_out("remaining_fen", description="approved - reserved - paid: what may still be approved.")
    percent_of_plan = fields.String(required=True, metadata={
        "description": "paid / amount, in percent with one decimal: \"37.5\".", "example": "37.5"})


class MilestoneSchema(BaseSchema):
    n = fields.Integer(required=True, metadata={"description": "Its place, from 1."})
    name = fields.String(required=True)
    due_on = fields.Date(required=True)
    instalment = money_out("instalment_fen", description="Payable once its report is accepted.")
    status = fields.String(required=True, metadata={"enum": list(MILESTONE_STATUSES)})
    report = fields.String(required=True, allow_none=True)
    reported_at = fields.DateTime(required=True, allow_none=True)
    accepted_at = fields.DateTime(required=True, allow_none=True)
    overdue = fields.Boolean(required=True, metadata={"description": "Pending past its date."})


class BudgetVersionLineSchema(BaseSchema):
    name = fields.String(required=True)
    amount = money_out("amount_fen")


class BudgetVersionSchema(BaseSchema):
    version = fields.Integer(required=True)
    current = fields.Boolean(required=True)
    approved_at = fields.DateTime(required=True, allow_none=True)
    lines = fields.List(fields.Nested(BudgetVersionLineSchema), required=True)


class AmendmentLineSchema(BaseSchema):
    name = fields.String(required=True)
    amount = fields.String(required=True, metadata=dict(AMOUNT_OUT))


class AmendmentSchema(BaseSchema):
    version = fields.Integer(required=True, metadata={"description": "The budget version it makes once approved."})
    lines = fields.List(fields.Nested(AmendmentLineSchema), required=True)
    reason = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": list(AMENDMENT_STATUSES)})
    requested_at = fields.DateTime(required=True)
    decided_at = fields.DateTime(required=True, allow_none=True)


class RecoverySchema(BaseSchema):
    amount = fields.String(required=True, metadata=dict(AMOUNT_OUT))
    reason = fields.String(required=True)
    recorded_at = fields.DateTime(required=True)


class ProjectSchema(BaseSchema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    organization_id = fields.Integer(required=True, metadata={"description": "The implementing organisation."})
    village_id = fields.Integer(required=True, allow_none=True)
    team_id = fields.Integer(required=True, allow_none=True)
    fund_code = fields.String(required=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    status = fields.String(required=True, metadata={"enum": list(PROJECT_STATUSES)})
    budget_version = fields.Integer(required=True, metadata={"description": "The budget version in force."})
    budget = money_out("budget_fen", description="The lines' planned amounts.")
    approved = money_out("approved_fen")
    reserved = money_out("reserved_fen")
    paid = money_out("paid_fen")
    remaining = money_out("remaining_fen")
    percent_of_plan = fields.String(required=True, metadata={"example": "37.5"})
    payable = money_out("payable_fen", description="What may be paid so far: the accepted milestones' instalments.")
    to_recover = money_out("to_recover_fen", description="Misspent money recorded to be recovered.")
    currency = currency_field()
    lines = fields.List(fields.Nested(BudgetLineSchema), required=True)
    milestones = fields.List(fields.Nested(MilestoneSchema), required=True)
    budget_versions = fields.List(fields.Nested(BudgetVersionSchema), required=True, metadata={
        "description": "Every version of the budget, the first as proposed; amendments add the others."})
    amendments = fields.List(fields.Nested(AmendmentSchema), required=True)
    recoveries = fields.List(fields.Nested(RecoverySchema), required=True)
    created_at = fields.DateTime(required=True)
    approved_at = fields.DateTime(required=True, allow_none=True)
    stopped_at = fields.DateTime(required=True, allow_none=True)
    stop_reason = fields.String(required=True, allow_none=True)
    closed_at = fields.DateTime(required=True, allow_none=True)
    final_report = fields.String(required=True, allow_none=True)
    leftover_to = fields.String(required=True, allow_none=True)


ProjectPageSchema = page_schema(ProjectSchema, "ProjectPage")


# -- consumer-assistance drives ------------------------------------------------------------------------

class _DriveMoney(BaseSchema):
    """What purchases paid, and what that is in a fund's books."""

    purchases = fields.Integer(required=True)
    paid_to_village = money_out("paid_to_village_fen", description="Every purchase's amount: paid to the village.")
    exchange = money_out("exchange_fen", description="Bought at market price (`market`): an exchange, neither a "
                                                     "donation nor charitable spending.")
    charitable_spending = money_out("charitable_spending_fen", description=(
        "Produce given on to people in need (`given_on`), at its market value."))
    donation_of_difference = money_out("donation_of_difference_fen", description=(
        "Paid above market value (`premium`, or `given_on` above market): the difference is a donation."))
    related_party_count = fields.Integer(required=True, metadata={
        "description": "Purchases from a seller related to the buying organisation (disclosed within 30 days)."})
    currency = currency_field()


class DriveSchema(_DriveMoney):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    organization_id = fields.Integer(required=True, metadata={"description": "The organisation that runs it."})
    village_id = fields.Integer(required=True)
    village = fields.String(required=True, attribute="village_name", metadata={"description": "The village's name."})
    seller = fields.String(required=True)
    product = fields.String(required=True)
    unit = fields.String(required=True)
    unit_price = money_out("unit_price_fen", description="The market price of one unit.")
    quantity = _quantity_out("quantity", "The target, in units.")
    pledged = _quantity_out("pledged", "Pledged by organisations, in units.")
    bought = _quantity_out("bought", "Bought, in units.")
    status = fields.String(required=True, metadata={"enum": list(DRIVE_STATUSES)})
    created_at = fields.DateTime(required=True)


class DrivePledgeSchema(BaseSchema):
    id = fields.Integer(required=True)
    drive_id = fields.Integer(required=True)
    organization_id = fields.Integer(required=True)
    quantity = _quantity_out("quantity")
    created_at = fields.DateTime(required=True)


class PurchaseSchema(BaseSchema):
    id = fields.Integer(required=True)
    drive_id = fields.Integer(required=True)
    organization_id = fields.Integer(required=True, metadata={"description": "The buying organisation."})
    purchased_on = fields.Date(required=True)
    quantity = _quantity_out("quantity")
    amount = money_out("amount_fen", description="Paid to the village.")
    market_value = money_out("market_value_fen", description="quantity x the drive's unit price, half-up to the fen.")
    kind = fields.String(required=True, metadata={"enum": list(PURCHASE_KINDS)})
    exchange = money_out("exchange_fen", description="A market purchase's amount: an exchange.")
    charitable_spending = money_out("charitable_spending_fen", description="Given on: its market value.")
    donation_of_difference = money_out("donation_of_difference_fen", description="Paid above market value.")
    currency = currency_field()
    related_party = fields.Boolean(required=True)
    disclose_by = fields.Date(required=True, allow_none=True, metadata={
        "description": "A related-party purchase is disclosed by this day (30 days on); null otherwise."})
    fund_code = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)


class VillageDrivesSchema(_DriveMoney):
    """What the drives the caller may see paid a village."""

    village_id = fields.Integer(required=True)
    drives = fields.Integer(required=True)


DrivePageSchema = page_schema(DriveSchema, "DrivePage")
PurchasePageSchema = page_schema(PurchaseSchema, "PurchasePage")


class CalendarItemSchema(BaseSchema):
    """An item of an organisation's disclosure calendar (services/programmes/calendar.py)."""

    organization_id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"enum": list(CALENDAR_KINDS)})
    subject = fields.String(required=True, metadata={
        "description": "A project's code, a purchase's id, a year or a claim's id."})
    title = fields.String(required=True)
    due_on = fields.Date(required=True)
    status = fields.String(required=True, metadata={"enum": list(CALENDAR_STATUSES)})
    leftover = fields.Function(lambda item: str(Money(item.amount_fen)) if item.amount_fen is not None else None,
                               required=True, allow_none=True,
                               metadata={**AMOUNT_OUT, "nullable": True,
                                         "description": "A leftover item's amount; null otherwise."})
    need_id = fields.Integer(required=True, allow_none=True, metadata={"description": "A claim's need."})
    published_at = fields.DateTime(required=True, allow_none=True)
    published_by = fields.String(required=True, allow_none=True)
    note = fields.String(required=True, allow_none=True)
    public_url = fields.String(required=True, allow_none=True, attribute="public_path", metadata={
        "description": "Where the public sees a done project item."})


class CalendarSchema(BaseSchema):
    as_of = fields.Date(required=True, metadata={"description": "The day the statuses are told for (Shanghai)."})
    items = fields.List(fields.Nested(CalendarItemSchema), required=True)
