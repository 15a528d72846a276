"""Exact money: a value type over Decimal, stored as integer fen.

Amounts cross the API as strings with exactly two decimals ("1280.00") and
are kept in the database as integer fen (bigint): sums and comparisons are
exact integer arithmetic in Python and SQL alike. A float never touches an
amount.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache, total_ordering
from typing import Any

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

    def display(self) -> str:
        """As people read it: ¥1,234,567.80 (grouped thousands, the sign before the ¥)."""
        units, cents = divmod(abs(self._fen), 100)
        return f"{'-' if self._fen < 0 else ''}¥{units:,}.{cents:02d}"

    @classmethod
    def parse_signed(cls, text: str) -> Money:
        """Like `parse`, also taking a leading minus (a figure, not an amount to move)."""
        if isinstance(text, str) and text.startswith("-"):
            return -cls.parse(text[1:])
        return cls.parse(text)

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


@lru_cache(maxsize=65536)
def chinese_capitals(fen: int) -> str:
    """Chinese financial capitals (大写金额) for an amount in fen (a batch repeats amounts)."""
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


def priced_fen(quantity: Decimal, unit_price_fen: int) -> int:
    """What a quantity is worth at a unit price (goods given in kind, produce bought in a drive):
    quantity x unit price, rounded half-up to the fen."""
    return int((quantity * unit_price_fen).quantize(Decimal(1), rounding=ROUND_HALF_UP))
