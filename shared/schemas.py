"""Base marshmallow schemas: strict input, cursor pagination."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from shared.db import MAX_ID


class BaseSchema(Schema):
    """Unknown fields are an error, named in the answer."""

    class Meta:
        unknown = RAISE
        ordered = True


class StrictInteger(fields.Integer):
    """An integer that refuses 2.7 instead of truncating it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)


class Text(fields.String):
    """A string the database can store: no NUL character, no lone surrogate
    (JSON may spell both, as \\u0000 and \\ud800)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("Must not contain NUL characters.")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("Must be valid Unicode text (no lone surrogates).") from None
        return text


def TrimmedString(**kwargs: Any) -> fields.String:  # noqa: N802 - a field factory
    """A string with surrounding white space removed before validation."""
    return _Trimmed(**kwargs)


class _Trimmed(Text):
    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        return text.strip()


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError("Not a cursor returned by this API.", field_name="cursor") from None
    if not isinstance(position, dict):
        raise ValidationError("Not a cursor returned by this API.", field_name="cursor")
    return position


class Cursor(fields.String):
    """An opaque position in a list, {"id": 42} on the inside.

    `max_id` is the largest id the list's id column holds (PostgreSQL refuses
    to compare that column with anything larger).
    """

    def __init__(self, *, max_id: int = MAX_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_id = max_id

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dict[str, Any]:
        text = super()._deserialize(value, attr, data, **kwargs)
        position = decode_cursor(text)
        position_id = position.get("id")
        if type(position_id) is not int or not 0 < position_id <= self.max_id:
            raise ValidationError("Not a cursor returned by this API.")
        return position


class ListArgs(BaseSchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = Cursor(load_default=None)


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """{"items": [...], "next_cursor": "..." | null} for `item_schema`."""
    return type(name, (Schema,), {
        "items": fields.List(fields.Nested(item_schema)),
        "next_cursor": fields.String(allow_none=True),
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


class StrictBoolean(fields.Boolean):
    """JSON true or false only: not "yes", not 1."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class PrincipalSchema(BaseSchema):
    """Who an API key or a login is: GET /<service>/api/v1/me."""

    kind = fields.String(metadata={"description": "user or api_key"})
    id = fields.Integer()
    name = fields.String()
    organization_id = fields.Integer()
    scopes = fields.List(fields.String())
    role = fields.String(allow_none=True)
