"""What the programmes API answers (see API.md), for flask-smorest to serialise and document."""

from __future__ import annotations

from marshmallow import fields

from services.programmes.rules import CLAIM_STATUSES, NEED_CATEGORIES, NEED_STATUSES, PRIORITIES
from shared.schemas import BaseSchema, currency_field, money_out, page_schema


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
    pledged = money_out("pledged_fen", description="Pledged in live claims (pledged, in progress, fulfilled).")
    paid = money_out("paid_fen", description="Paid out of funds by disbursements naming the need.")
    open = money_out("open_fen", description="amount - pledged: what may still be claimed (0 once closed).")
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
