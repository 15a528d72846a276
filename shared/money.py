"""Exact money: a value type over Decimal, stored as integer fen.

Amounts cross the API as strings with exactly two decimals ("1280.00") and
are kept in the database as integer fen (SQLite has no exact decimal type).
A float never touches an amount.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import total_ordering
from typing import Any

from marshmallow import fields
from sqlalchemy import BigInteger
from sqlalchemy.types import TypeDecorator

CURRENCY = "CNY"
MIN_AMOUNT_FEN = 1
MAX_AMOUNT_FEN = 1_000_000_000_00
# Exactly two decimals, no sign, no exponent, no leading zeros.
AMOUNT_PATTERN = re.compile(r"(0|[1-9][0-9]{0,9})\.[0-9]{2}")


@total_ordering
class Money:
    """An amount of CNY, exact to the fen. Immutable."""

    __slots__ = ("_fen",)

    def __init__(self, fen: int) -> None:
        if type(fen) is not int:  # bool and float are refused alike
            raise TypeError(f"Money takes integer fen, not {type(fen).__name__}")
        object.__setattr__(self, "_fen", fen)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Money is immutable")

    @classmethod
    def parse(cls, text: str) -> Money:
        """Parse the API form "1280.00"; raises ValueError on anything else."""
        if not isinstance(text, str) or not AMOUNT_PATTERN.fullmatch(text):
            raise ValueError(f"not an amount with two decimals: {text!r}")
        units, cents = text.split(".")
        return cls(int(units) * 100 + int(cents))

    @classmethod
    def from_decimal(cls, value: Decimal) -> Money:
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError(f"not a finite Decimal: {value!r}")
        fen = value * 100
        if fen != fen.to_integral_value():
            raise ValueError(f"more than two decimals: {value}")
        return cls(int(fen))

    @classmethod
    def zero(cls) -> Money:
        return cls(0)

    @property
    def fen(self) -> int:
        return self._fen

    @property
    def amount(self) -> Decimal:
        return Decimal(self._fen).scaleb(-2)

    def __str__(self) -> str:
        sign = "-" if self._fen < 0 else ""
        units, cents = divmod(abs(self._fen), 100)
        return f"{sign}{units}.{cents:02d}"

    def __repr__(self) -> str:
        return f"Money('{self}')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and other._fen == self._fen

    def __lt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self._fen < other._fen

    def __hash__(self) -> int:
        return hash(("Money", self._fen))

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self._fen + other._fen)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self._fen - other._fen)

    def __neg__(self) -> Money:
        return Money(-self._fen)

    def __bool__(self) -> bool:
        return self._fen != 0

    def in_chinese_capitals(self) -> str:
        """The amount as written on a receipt: 壹仟贰佰捌拾元整."""
        return chinese_capitals(self._fen)


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ("", "拾", "佰", "仟")
_GROUP_UNITS = ("", "万", "亿", "万亿")


def _group_text(group: int) -> str:
    """0 < group < 10000, written with inner zeros collapsed to one 零."""
    text = ""
    zero_pending = False
    for position in range(3, -1, -1):
        digit = group // 10**position % 10
        if digit == 0:
            zero_pending = bool(text)
            continue
        if zero_pending:
            text += "零"
            zero_pending = False
        text += _DIGITS[digit] + _SMALL_UNITS[position]
    return text


def chinese_capitals(fen: int) -> str:
    """Chinese financial capitals (大写金额) for an amount in fen."""
    if fen < 0:
        return "负" + chinese_capitals(-fen)
    yuan, cents = divmod(fen, 100)
    jiao, fen_digit = divmod(cents, 10)

    text = ""
    if yuan:
        groups = []
        remaining = yuan
        while remaining:
            groups.append(remaining % 10000)
            remaining //= 10000
        zero_pending = False
        for index in range(len(groups) - 1, -1, -1):
            group = groups[index]
            if group == 0:
                zero_pending = bool(text)
                continue
            # A zero is read when a group is skipped or starts below 1000.
            if text and (zero_pending or group < 1000):
                text += "零"
            zero_pending = False
            text += _group_text(group) + _GROUP_UNITS[index]
        text += "元"
    if not jiao and not fen_digit:
        return (text or "零元") + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif yuan:
        text += "零"
    if fen_digit:
        text += _DIGITS[fen_digit] + "分"
    else:
        text += "整"
    return text


class MoneyType(TypeDecorator[Money]):
    """A Money column stored as integer fen."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Money | None, dialect: Any) -> int | None:
        if value is None:
            return None
        if not isinstance(value, Money):
            raise TypeError(f"expected Money, got {type(value).__name__}")
        return value.fen

    def process_result_value(self, value: int | None, dialect: Any) -> Money | None:
        return None if value is None else Money(int(value))


class MoneyField(fields.Field):
    """An API amount: a string with exactly two decimals, 0.01 to 1000000000.00."""

    default_error_messages = {
        "type": 'Must be a string with two decimals, such as "1280.00", not a number.',
        "format": 'Must be an amount with exactly two decimals, such as "1280.00".',
        "range": "Must be between 0.01 and 1000000000.00.",
    }

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"pattern": r"^(0|[1-9][0-9]{0,9})\.[0-9]{2}$", "example": "1280.00",
                    **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value: Money | None, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Money:
        if not isinstance(value, str):
            raise self.make_error("type")
        try:
            money = Money.parse(value)
        except ValueError:
            raise self.make_error("format") from None
        if not MIN_AMOUNT_FEN <= money.fen <= MAX_AMOUNT_FEN:
            raise self.make_error("range")
        return money
