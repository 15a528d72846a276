"""Answers: the base of every response schema, cursor pagination, the caller.

Inputs are shapes (shared.shapes); these marshmallow schemas describe what
the services answer, for flask-smorest to serialise and document.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from marshmallow import Schema, fields


class BaseSchema(Schema):
    class Meta:
        ordered = True


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
        "items": fields.List(fields.Nested(item_schema), required=True),
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

    kind = fields.String(metadata={"description": "user or api_key"})
    id = fields.Integer()
    name = fields.String()
    organization_id = fields.Integer()
    scopes = fields.List(fields.String())
    role = fields.String(allow_none=True)
