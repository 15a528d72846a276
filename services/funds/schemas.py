"""What the funds API answers (see API.md), for flask-smorest to serialise and document."""

from __future__ import annotations

from marshmallow import fields
from marshmallow.validate import OneOf

from services.funds.rules import CHARITY_KIND_DESCRIPTION, CHARITY_KINDS, FUND_KINDS, ORGANIZATION_KINDS
from shared.auth import SCOPES
from shared.contracts.funds import APPROVAL_RULE_DESCRIPTION, APPROVAL_RULES, FUND_STATUSES
from shared.schemas import BaseSchema, page_schema


class OrganizationSchema(BaseSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": list(ORGANIZATION_KINDS)})
    charity_kind = fields.String(required=True, metadata={"enum": list(CHARITY_KINDS),
                                                          "description": CHARITY_KIND_DESCRIPTION})
    approval_rule = fields.String(required=True, validate=OneOf(APPROVAL_RULES),
                                  metadata={"description": APPROVAL_RULE_DESCRIPTION})
    created_at = fields.DateTime(required=True)


class ApiKeySchema(BaseSchema):
    id = fields.Integer(required=True)
    organization_id = fields.Integer(required=True)
    name = fields.String(required=True)
    prefix = fields.String(required=True,
                           metadata={"description": "A random id to tell keys apart; it reveals nothing of the secret."})
    scopes = fields.List(fields.String(metadata={"enum": list(SCOPES)}), required=True)
    created_at = fields.DateTime(required=True)
    revoked_at = fields.DateTime(required=True, allow_none=True)


class ApiKeyIssuedSchema(ApiKeySchema):
    key = fields.String(required=True, metadata={"description": "The secret. Shown only in this answer."})


class FundSchema(BaseSchema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": list(FUND_KINDS)})
    organization_id = fields.Integer(required=True)
    purpose = fields.String(required=True)
    restricted = fields.Boolean(required=True)
    status = fields.String(required=True, metadata={"enum": list(FUND_STATUSES)})
    opened_on = fields.Date(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    closed_at = fields.DateTime(required=True, allow_none=True)


OrganizationPageSchema = page_schema(OrganizationSchema, "OrganizationPage")
FundPageSchema = page_schema(FundSchema, "FundPage")
ApiKeyPageSchema = page_schema(ApiKeySchema, "ApiKeyPage")
