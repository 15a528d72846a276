"""The funds API's request and response shapes."""

from __future__ import annotations

from marshmallow import fields, validate

from services.funds.models import FUND_CODE_PATTERN, FUND_KINDS, FUND_STATUSES, ORGANIZATION_KINDS
from shared.auth import SCOPES
from shared.db import MAX_ID
from shared.schemas import BaseSchema, ListArgs, StrictBoolean, StrictInteger, Text, TrimmedString, page_schema

NAME = validate.Length(min=1, max=200)


class OrganizationCreateSchema(BaseSchema):
    name = TrimmedString(required=True, validate=NAME)
    kind = fields.String(required=True, validate=validate.OneOf(ORGANIZATION_KINDS))


class OrganizationSchema(BaseSchema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    created_at = fields.DateTime()


class ApiKeyCreateSchema(BaseSchema):
    name = TrimmedString(required=True, validate=NAME)
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)), required=True,
                         validate=validate.Length(min=1))


class ApiKeySchema(BaseSchema):
    id = fields.Integer()
    organization_id = fields.Integer()
    name = fields.String()
    prefix = fields.String(metadata={"description": "The first characters of the key, to tell keys apart."})
    scopes = fields.List(fields.String())
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)


class ApiKeyIssuedSchema(ApiKeySchema):
    key = fields.String(metadata={"description": "The secret. Shown only in this answer."})


class FundCreateSchema(BaseSchema):
    code = fields.String(required=True, validate=validate.Regexp(
        f"^{FUND_CODE_PATTERN}$", error="3-32 characters of A-Z, 0-9 and '-', e.g. TL-HQ-001."))
    name = TrimmedString(required=True, validate=NAME)
    kind = fields.String(required=True, validate=validate.OneOf(FUND_KINDS))
    organization_id = StrictInteger(required=True)
    purpose = TrimmedString(load_default="", validate=validate.Length(max=2000))
    restricted = StrictBoolean(load_default=False)
    opened_on = fields.Date(load_default=None, metadata={"description": "Defaults to today (Asia/Shanghai)."})


class FundPatchSchema(BaseSchema):
    name = TrimmedString(validate=NAME)
    purpose = TrimmedString(validate=validate.Length(max=2000))


class FundSchema(BaseSchema):
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    organization_id = fields.Integer()
    purpose = fields.String()
    restricted = fields.Boolean()
    status = fields.String(validate=validate.OneOf(FUND_STATUSES))
    opened_on = fields.Date()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class FundListArgs(ListArgs):
    organization_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    kind = fields.String(validate=validate.OneOf(FUND_KINDS))
    status = fields.String(validate=validate.OneOf(FUND_STATUSES))
    q = Text(validate=validate.Length(min=1, max=200))


OrganizationPageSchema = page_schema(OrganizationSchema, "OrganizationPage")
FundPageSchema = page_schema(FundSchema, "FundPage")
ApiKeyPageSchema = page_schema(ApiKeySchema, "ApiKeyPage")
