"""Answers: the base of every response schema, cursor pagination, the caller,
problems, and the two ways the documents write money.

Inputs are shapes (shared.shapes); these marshmallow schemas describe what
the services answer, for flask-smorest to serialise and document.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from collections.abc import Callable

from marshmallow import EXCLUDE, Schema, fields

from shared.auth import ROLES, SCOPES
from shared.errors import PROBLEM_TYPE_BASE
from shared.money import CURRENCY, MAX_AMOUNT_FEN, MIN_AMOUNT_FEN, Money

PRINCIPAL_KINDS = ("user", "api_key")  # shared.auth.Principal.kind

# -- money in the documents ------------------------------------------------------------
# An amount sent to the API: 0.01 to 1000000000.00, exactly two decimals, no sign, no exponent,
# no leading zeros (what shared.shapes.Amount accepts, as one regular expression).
if (MIN_AMOUNT_FEN, MAX_AMOUNT_FEN) != (1, 1_000_000_000_00):
    raise AssertionError("AMOUNT_IN_PATTERN spells out 0.01 to 1000000000.00: write it again")
AMOUNT_IN_PATTERN = r"^(0\.(0[1-9]|[1-9][0-9])|[1-9][0-9]{0,8}\.[0-9]{2}|1000000000\.00)$"
# An amount the API answers: a sum, a balance or a figure may be zero, and a figure negative.
AMOUNT_OUT_PATTERN = r"^-?(0|[1-9][0-9]*)\.[0-9]{2}$"
AMOUNT_IN = {
    "type": "string", "pattern": AMOUNT_IN_PATTERN, "example": "1280.00",
    "description": f"CNY as a string with exactly two decimals, {Money(MIN_AMOUNT_FEN)} to {Money(MAX_AMOUNT_FEN)}; "
                   "never a JSON number.",
}
AMOUNT_OUT = {"type": "string", "pattern": AMOUNT_OUT_PATTERN, "example": "1280.00"}
# How many items a page of a list holds at most (`limit`, 1-500).
MAX_PAGE_ITEMS = 500


class BaseSchema(Schema):
    """An answer. Answers gain fields as the API grows (API.md): the documents leave them open."""

    class Meta:
        ordered = True
        unknown = EXCLUDE


def currency_field() -> fields.Field:
    """The currency of every amount: CNY."""
    return fields.Constant(CURRENCY, required=True, metadata={"type": "string", "enum": [CURRENCY]})


def money_out(attribute: str, *, description: str = "", **kwargs: Any) -> fields.Field:
    """An amount kept in integer fen under `attribute`, answered as "1280.00"."""
    metadata = {**AMOUNT_OUT, **({"description": description} if description else {})}
    return fields.Function(lambda obj: str(Money(_get(obj, attribute))), required=True, metadata=metadata, **kwargs)


def _get(obj: Any, name: str) -> Any:
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


class Stored(fields.Nested):
    """A value kept as JSON (a report's summary), answered as it was kept; `nested` documents it."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return value


class Computed(fields.Nested):
    """A nested answer computed from the whole object by `getter` (documented as its schema)."""

    def __init__(self, nested: Any, getter: Callable[[Any, Any], Any], **kwargs: Any) -> None:
        super().__init__(nested, **kwargs)
        self.getter = getter

    def get_value(self, obj: Any, attr: str, accessor: Any = None, default: Any = None) -> Any:
        return self.getter(self.parent, obj)


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any] | None:
    """The position inside a cursor, or None if it is not one this API gave."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return position if isinstance(position, dict) else None


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """{"items": [...], "next_cursor": "..." | null} for `item_schema`."""
    return type(name, (BaseSchema,), {
        "items": fields.List(fields.Nested(item_schema), required=True,
                             metadata={"maxItems": MAX_PAGE_ITEMS, "description": "At most `limit` items."}),
        "next_cursor": fields.String(allow_none=True, required=True,
                                     metadata={"description": "Pass as `cursor` for the next page; null on the last."}),
    })


def paginate(session: Any, query: Any, args: dict[str, Any], model: Any) -> dict[str, Any]:
    """One page of `query` (ordered newest first by id) after `args["cursor"]`."""
    if args.get("cursor"):
        query = query.where(model.id < args["cursor"]["id"])
    limit = args["limit"]
    rows = list(session.scalars(query.limit(limit + 1)))
    items = rows[:limit]
    next_cursor = encode_cursor({"id": items[-1].id}) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


class PrincipalSchema(BaseSchema):
    """Who an API key or a login is: GET /<service>/api/v1/me."""

    kind = fields.String(required=True, metadata={"enum": list(PRINCIPAL_KINDS)})
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    organization_id = fields.Integer(required=True)
    scopes = fields.List(fields.String(metadata={"enum": list(SCOPES)}), required=True)
    role = fields.String(required=True, allow_none=True, metadata={
        "enum": [*ROLES, None], "description": "A user's role; null for an API key."})


class ProblemSchema(BaseSchema):
    """An error, as RFC 9457 problem details (application/problem+json)."""

    type = fields.String(required=True, metadata={
        "format": "uri", "example": PROBLEM_TYPE_BASE + "validation",
        "description": "Ends in `code`."})
    title = fields.String(required=True, metadata={"example": "Validation failed"})
    status = fields.Integer(required=True, metadata={"minimum": 400, "maximum": 599, "example": 422})
    detail = fields.String(required=True, metadata={
        "description": "What was refused, in English; for a validation problem, each field with its messages."})
    code = fields.String(required=True, metadata={
        "example": "validation",
        "description": "The refusal's stable code: compare this, never `detail`. Each error response of an "
                       "operation lists the codes it answers with."})
    params = fields.Dict(keys=fields.String(), metadata={
        "description": "The values the message names (a fund's code, an amount, ...), when it names any."})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), metadata={
        "description": "Each refused field (`donor.name`, or a header such as `Idempotency-Key`) with its "
                       "messages in English."})
    codes = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), metadata={
        "description": "Each refused field with its refusal codes, in the order of `errors`."})
