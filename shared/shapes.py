"""Shapes: each input's rules, defined once.

A `Shape` names its fields and their rules. Everything that takes that input
uses it: the API (a JSON body or query arguments), a batch row (JSON or a
CSV line), a web form, and the database's CHECK constraints, which the
models build from the same fields (`sql_check`) as the last guard.

    values = DONATION.load(body)           # JSON values, by JSON types
    values = DONATION.load_text(row)       # text values (a CSV row, a form), same rules

Both return the clean values (nested like the input) or raise `Invalid`,
whose `errors` map each refused field to its `Message`s (a code and its
parameters, worded by shared.refusals and shared.i18n). JSON names fields by
path (`donor.name`), text by the flat name its column or form field has
(`donor_name`). `Shape.schema()` is the marshmallow schema flask-smorest
documents in OpenAPI; its `load` is this module's, so what the documents say
and what the service checks cannot drift apart.

Checking is plain Python written for speed (a batch checks a million rows),
not a general validation library: one method per field kind.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import marshmallow
from marshmallow import fields as mf
from marshmallow import validate as mv

from shared.money import MAX_AMOUNT_FEN, MIN_AMOUNT_FEN, Money
from shared.refusals import Message
from shared.schemas import AMOUNT_IN, decode_cursor

MISSING: Any = marshmallow.missing
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # RFC 3339 full-date, as OpenAPI's `format: date`
TEXT_TRUE = frozenset({"true", "1", "yes", "y", "on"})
TEXT_FALSE = frozenset({"false", "0", "no", "n", "off", ""})

Errors = dict[str, list[Message]]


class Invalid(Exception):
    """Input refused: {field: [Message, ...]}."""

    def __init__(self, errors: Errors) -> None:
        super().__init__(errors)
        self.errors = errors


class Refusal(Exception):
    """One field's refusal, raised inside a check."""

    __slots__ = ("message",)

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.message = Message(code, params)


class Field:
    """A field's rules. `check` reads a JSON value, `read` first turns text into one."""

    def __init__(self, *, required: bool = True, default: Any = MISSING, nullable: bool = False,
                 description: str = "", example: Any = None) -> None:
        self.required = required and default is MISSING
        self.default = default
        self.nullable = nullable
        self.description = description
        self.example = example

    # -- checking ----------------------------------------------------------------------

    def check(self, value: Any) -> Any:
        """The clean value of a JSON value; raises Refusal."""
        raise NotImplementedError

    def read(self, text: str) -> Any:
        """The JSON value a text stands for (a CSV cell, a form field)."""
        return text

    def absent(self) -> Any:
        if self.required:
            raise Refusal("required")
        return self.default() if callable(self.default) else self.default

    # -- documentation -------------------------------------------------------------------

    def marshmallow_field(self) -> mf.Field:
        kwargs: dict[str, Any] = {"required": self.required, "allow_none": self.nullable,
                                  "metadata": self.metadata()}
        if not self.required and self.default is not MISSING and not callable(self.default):
            kwargs["load_default"] = self.default
        return self._marshmallow(**kwargs)

    def metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = {}
        if self.description:
            metadata["description"] = self.description
        if self.example is not None:
            metadata["example"] = self.example
        return metadata

    def _marshmallow(self, **kwargs: Any) -> mf.Field:
        return mf.String(**kwargs)

    # -- the database -----------------------------------------------------------------------

    def sql_check(self, column: str) -> str:
        """The CHECK expression that holds this field's rule on `column`."""
        raise NotImplementedError(f"{type(self).__name__} has no CHECK form")


class Text(Field):
    """A string: trimmed, no NUL, no lone surrogate, within its length, matching its pattern."""

    def __init__(self, *, max_length: int, min_length: int = 1, trim: bool = True,
                 pattern: str | None = None, pattern_code: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length
        self.min_length = min_length
        self.trim = trim
        self.pattern = pattern
        self._regex = re.compile(pattern) if pattern else None
        self.pattern_code = pattern_code

    def check(self, value: Any) -> str:
        if type(value) is not str:
            raise Refusal("not_a_string")
        if self.trim:
            value = value.strip()
        if not value.isascii():
            if "\x00" in value:
                raise Refusal("nul_character")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise Refusal("lone_surrogate") from None
        elif "\x00" in value:
            raise Refusal("nul_character")
        length = len(value)
        if length < self.min_length:
            raise Refusal("blank") if length == 0 else Refusal("too_short", min=self.min_length)
        if length > self.max_length:
            raise Refusal("too_long", max=self.max_length)
        if self._regex is not None and not self._regex.fullmatch(value):
            raise Refusal(self.pattern_code)
        return value

    def _marshmallow(self, **kwargs: Any) -> mf.Field:
        rules: list[Any] = [mv.Length(min=self.min_length or None, max=self.max_length)]
        if self.pattern:
            rules.append(mv.Regexp(f"^{self.pattern}$"))
        return mf.String(validate=rules, **kwargs)

    def sql_check(self, column: str) -> str:
        parts = [f"length({column}) BETWEEN {self.min_length} AND {self.max_length}"]
        if self.pattern:
            parts.append(f"{column} ~ '^{self.pattern}$'")
        return " AND ".join(parts)


class Choice(Field):
    """One of a fixed set of strings."""

    def __init__(self, choices: Iterable[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choices = tuple(choices)
        self._set = frozenset(self.choices)

    def check(self, value: Any) -> str:
        if type(value) is not str:
            raise Refusal("not_a_string")
        if value not in self._set:
            raise Refusal("not_one_of", choices=", ".join(self.choices))
        return value

    def _marshmallow(self, **kwargs: Any) -> mf.Field:
        return mf.String(validate=mv.OneOf(self.choices), **kwargs)

    def sql_check(self, column: str) -> str:
        return f"{column} IN ({', '.join(repr(choice) for choice in self.choices)})"


class Amount(Field):
    """Money as the API writes it: a string with exactly two decimals, 0.01 to 1000000000.00."""

    def check(self, value: Any) -> Money:
        if type(value) is not str:
            raise Refusal("amount_not_a_string")
        try:
            money = Money.parse(value)
        except ValueError:
            raise Refusal("amount_format") from None
        if not MIN_AMOUNT_FEN <= money.fen <= MAX_AMOUNT_FEN:
            raise Refusal("amount_out_of_range", min=str(Money(MIN_AMOUNT_FEN)), max=str(Money(MAX_AMOUNT_FEN)))
        return money

    def metadata(self) -> dict[str, Any]:
        return {"example": AMOUNT_IN["example"], "description": AMOUNT_IN["description"], **super().metadata()}

    def _marshmallow(self, **kwargs: Any) -> mf.Field:
        return mf.String(validate=mv.Regexp(AMOUNT_IN["pattern"]), **kwargs)

    def sql_check(self, column: str) -> str:
        return f"{column} BETWEEN {MIN_AMOUNT_FEN} AND {MAX_AMOUNT_FEN}"


class Day(Field):
    """A date written YYYY-MM-DD, between `earliest` and `latest()` (both optional)."""

    def __init__(self, *, earliest: dt.date | None = None, latest: Callable[[], dt.date] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.earliest = earliest
        self.latest = latest

    def check(self, value: Any) -> dt.date:
        if type(value) is not str or len(value) != 10 or not ISO_DATE.fullmatch(value):
            raise Refusal("date_format")
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise Refusal("date_format") from None
        if self.earliest is not None and day < self.earliest:
            raise Refusal("date_too_early", earliest=self.earliest.isoformat())
        if self.latest is not None and day > self.latest():
            raise Refusal("date_in_future")
        return day

    def metadata(self) -> dict[str, Any]:
        metadata = super().metadata()
        bounds = [f"not before {self.earliest.isoformat()}" if self.earliest else "",
                  "not after today in Asia/Shanghai" if self.latest else ""]
        if any(bounds):
            said = metadata.get("description", "")
            metadata["description"] = f"{said} YYYY-MM-DD, {' and '.join(b for b in bounds if b)}.".strip()
        return metadata

    def _marshmallow(self, **kwargs: Any) -> mf.Field:
        return mf.Date(**kwargs)


class Flag(Field):
    """JSON true or false; in text, true/false, 1/0, yes/no, on/off, or blank for false."""

    def check(self, value: Any) -> bool:
        if type(value) is not bool:
            raise Refusal("not_a_boolean")
        return value

    def read(self, text: str) -> Any:
        word = text.strip().lower()
        if word in TEXT_TRUE:
            return True
        if word in TEXT_FALSE:
            return False
        raise Refusal("boolean_text")

    def _marshmallow(self, **kwargs: Any) -> mf.Field:
        return mf.Boolean(**kwargs)


class Integer(Field):
    """A whole number (never 2.7, never true) between `minimum` and `maximum`."""

    def __init__(self, *, minimum: int, maximum: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minimum = minimum
        self.maximum = maximum

    def check(self, value: Any) -> int:
        if type(value) is not int:
            raise Refusal("not_an_integer")
        if not self.minimum <= value <= self.maximum:
            raise Refusal("out_of_range", min=self.minimum, max=self.maximum)
        return value

    def read(self, text: str) -> Any:
        text = text.strip()
        if not text.isascii() or not text.removeprefix("-").isdigit() or len(text) > 20:
            raise Refusal("not_an_integer")
        return int(text)

    def _marshmallow(self, **kwargs: Any) -> mf.Field:
        return mf.Integer(strict=True, validate=mv.Range(self.minimum, self.maximum), **kwargs)


class Many(Field):
    """A list of items of one field, at least `min_items`, none repeated."""

    def __init__(self, item: Field, *, min_items: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.item = item
        self.min_items = min_items

    def check(self, value: Any) -> list[Any]:
        if type(value) is not list:
            raise Refusal("not_a_list")
        if len(value) < self.min_items:
            raise Refusal("too_few", min=self.min_items)
        items = []
        for item in value:
            clean = self.item.check(item)
            if clean not in items:
                items.append(clean)
        return items

    def _marshmallow(self, **kwargs: Any) -> mf.Field:
        return mf.List(self.item.marshmallow_field(), validate=mv.Length(min=self.min_items or None), **kwargs)


class Custom(Field):
    """A field checked by a function of the JSON value (an opaque cursor, say)."""

    def __init__(self, checker: Callable[[Any], Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.checker = checker

    def check(self, value: Any) -> Any:
        return self.checker(value)


# A quantity (goods given in kind, a drive's produce) is kept as NUMERIC(14,3): at most 11 digits
# before the point and 3 after.
QUANTITY_PATTERN = r"(0|[1-9][0-9]{0,10})(\.[0-9]{1,3})?"


class Quantity(Field):
    """A count or a weight as the API writes it: a decimal string more than 0, at most three
    decimals ("2500", "12.5"); its clean value is a Decimal."""

    _regex = re.compile(QUANTITY_PATTERN)

    def check(self, value: Any) -> Decimal:
        if type(value) is not str or not self._regex.fullmatch(value):
            raise Refusal("quantity_format")
        quantity = Decimal(value)
        if quantity <= 0:
            raise Refusal("quantity_not_positive")
        return quantity

    def _marshmallow(self, **kwargs: Any) -> mf.Field:
        return mf.String(validate=mv.Regexp(f"^{QUANTITY_PATTERN}$"), **kwargs)

    def sql_check(self, column: str) -> str:
        return f"{column} > 0"


def quantity_text(quantity: Decimal) -> str:
    """A quantity as the API answers it: as few decimals as it needs (2500, 12.5)."""
    text = format(quantity, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class Rows(Field):
    """A list of objects of one shape (a budget's lines, a team's members). The list is checked
    here; each object by its shape, in the enclosing shape (Shape._load_object), which names a
    refused field by its place in the list: `lines.1.name` (counted from 0)."""

    def __init__(self, shape: Shape, *, min_items: int = 0, max_items: int = 500, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shape = shape
        self.min_items = min_items
        self.max_items = max_items

    def check(self, value: Any) -> list[Any]:
        if type(value) is not list:
            raise Refusal("not_a_list")
        if len(value) < self.min_items:
            raise Refusal("too_few", min=self.min_items)
        if len(value) > self.max_items:
            raise Refusal("too_many", max=self.max_items)
        return value

    def _marshmallow(self, **kwargs: Any) -> mf.Field:
        return mf.List(mf.Nested(self.shape.schema()),
                       validate=mv.Length(min=self.min_items or None, max=self.max_items), **kwargs)


class Nested(Field):
    """An object of its own shape."""

    def __init__(self, shape: Shape, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shape = shape

    def check(self, value: Any) -> Any:
        raise AssertionError("checked by the enclosing shape")

    def _marshmallow(self, **kwargs: Any) -> mf.Field:
        return mf.Nested(self.shape.schema(), **kwargs)


class Shape:
    """Named fields; `after` runs when every field passed (rules across fields)."""

    def __init__(self, name: str, fields: Mapping[str, Field], *,
                 after: Callable[[dict[str, Any]], None] | None = None, description: str = "") -> None:
        # `after` checks rules across fields once each passed; it raises refuse_field(...).
        self.name = name
        self.fields = dict(fields)
        self.after = after
        self.description = description
        self._schema: type[marshmallow.Schema] | None = None
        # A flat row names a nested field <outer>_<inner>: donor.name is donor_name.
        self.flat_fields: dict[str, tuple[tuple[str, ...], Field]] = {}
        for key, field in self.fields.items():
            if isinstance(field, Nested):
                for inner_key, inner in field.shape.fields.items():
                    self.flat_fields[f"{key}_{inner_key}"] = ((key, inner_key), inner)
            else:
                self.flat_fields[key] = ((key,), field)
        self.json_paths = {flat: ".".join(path) for flat, (path, _) in self.flat_fields.items()}
        # What load_text does for each flat field, worked out once (a batch reads a million rows).
        self._text_plan = [
            (flat, path[:-1], path[-1], field, isinstance(field, Many),
             isinstance(field, Flag), None if type(field).read is Field.read else field.read)
            for flat, (path, field) in self.flat_fields.items()]

    # -- JSON ----------------------------------------------------------------------------

    def load(self, data: Any) -> dict[str, Any]:
        errors: Errors = {}
        values = self._load_object(data, "", errors)
        if errors:
            raise Invalid(errors)
        return values

    def _load_object(self, data: Any, prefix: str, errors: Errors) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            errors[prefix.rstrip(".") or "_schema"] = [Message("not_an_object")]
            return {}
        values: dict[str, Any] = {}
        for key, field in self.fields.items():
            value = data.get(key, MISSING)
            try:
                if value is MISSING:
                    result = field.absent()
                    if result is MISSING:
                        continue
                elif value is None:
                    if not field.nullable:
                        raise Refusal("null")
                    result = None
                elif isinstance(field, Nested):
                    result = field.shape._load_object(value, f"{prefix}{key}.", errors)
                elif isinstance(field, Rows):
                    result = [field.shape._load_object(item, f"{prefix}{key}.{place}.", errors)
                              for place, item in enumerate(field.check(value))]
                else:
                    result = field.check(value)
            except Refusal as refusal:
                errors[prefix + key] = [refusal.message]
                continue
            values[key] = result
        if len(data) > len(values) or not all(key in self.fields for key in data):
            for key in data:
                if key not in self.fields:
                    errors[f"{prefix}{key}"] = [Message("unknown_field")]
        if not errors and self.after is not None:
            self._after(values, errors, prefix)
        return values

    # -- text ------------------------------------------------------------------------------

    def load_text(self, row: Mapping[str, Any], *, ignore_unknown: bool = False,
                  blank_is_absent: bool = True) -> dict[str, Any]:
        """Text values by flat name.

        `ignore_unknown`: a submitted form carries more than its shape (a CSRF token).
        `blank_is_absent`: a form's or a CSV's empty field says nothing; the API's
        `?limit=` is a bad limit.
        """
        errors: Errors = {}
        values: dict[str, Any] = {}
        getlist = getattr(row, "getlist", None)
        get = row.get
        for flat, outer, name, field, many, flag, read in self._text_plan:
            try:
                if many:
                    texts = getlist(flat) if getlist is not None else get(flat, [])
                    texts = [] if texts is MISSING else texts
                    texts = [t for t in texts if t.strip()] if isinstance(texts, list) else [texts]
                    result = field.check(texts) if texts or field.min_items else field.absent()
                else:
                    text = get(flat)
                    if text is None or text is MISSING or (blank_is_absent and not flag and not text.strip()):
                        result = None if field.nullable and not field.required else field.absent()
                    else:
                        result = field.check(read(text) if read is not None else text)
            except Refusal as refusal:
                errors[flat] = [refusal.message]
                continue
            if result is MISSING:
                continue
            target = values
            for key in outer:
                target = target.setdefault(key, {})
            target[name] = result
        if not ignore_unknown:
            for key in row:
                if key not in self.flat_fields:
                    errors[key] = [Message("unknown_field")]
        if not errors and self.after is not None:
            self._after(values, errors, "")
        if errors:
            raise Invalid(errors)
        return values

    def _after(self, values: dict[str, Any], errors: Errors, prefix: str) -> None:
        assert self.after is not None
        try:
            self.after(values)
        except Invalid as invalid:
            for name, messages in invalid.errors.items():
                errors[prefix + name] = messages

    # -- documents ----------------------------------------------------------------------------

    def schema(self) -> type[marshmallow.Schema]:
        """The marshmallow schema that documents this shape; loading goes through the shape."""
        if self._schema is None:
            shape = self
            attributes: dict[str, Any] = {name: field.marshmallow_field() for name, field in self.fields.items()}

            def load(schema: marshmallow.Schema, data: Any, *, many: Any = None, partial: Any = None,
                     unknown: Any = None) -> dict[str, Any]:
                try:
                    if hasattr(data, "getlist"):  # query arguments: text
                        return shape.load_text(data, blank_is_absent=False)
                    return shape.load(data)
                except Invalid as invalid:
                    raise marshmallow.ValidationError(nest(invalid.errors)) from None

            attributes["load"] = load
            attributes["Meta"] = type("Meta", (), {"ordered": True, "unknown": marshmallow.RAISE})
            if self.description:
                attributes["__doc__"] = self.description
            self._schema = type(f"{self.name}Schema", (marshmallow.Schema,), attributes)
        return self._schema


def refuse_field(field: str, code: str, **params: Any) -> Invalid:
    """What a shape's `after` rule raises about one field (by its JSON name)."""
    return Invalid({field: [Message(code, params)]})


def nest(errors: Errors) -> dict[str, Any]:
    """{"donor.name": [m]} -> {"donor": {"name": [m]}}, as marshmallow reports errors."""
    nested: dict[str, Any] = {}
    for path, messages in errors.items():
        target = nested
        parts = path.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = list(messages)
    return nested


# -- lists ---------------------------------------------------------------------------------

def cursor_position(max_id: int) -> Callable[[Any], dict[str, Any]]:
    """Reads an opaque cursor ({"id": 42} inside) naming a row whose id fits its column."""

    def check(value: Any) -> dict[str, Any]:
        position = decode_cursor(value) if isinstance(value, str) else None
        position_id = position.get("id") if isinstance(position, dict) else None
        if type(position_id) is not int or not 0 < position_id <= max_id:
            raise Refusal("cursor_invalid")
        return position  # type: ignore[return-value]

    return check


def list_fields(*, max_id: int) -> dict[str, Field]:
    """`limit` and `cursor`, as every list takes them (see shared.schemas.paginate)."""
    return {
        "limit": Integer(minimum=1, maximum=500, default=50, description="How many items a page holds (1-500)."),
        "cursor": Custom(cursor_position(max_id), required=False,
                         description="`next_cursor` of the previous page."),
    }
