"""shared/money.py: the Money value type, the API's amount field (a shape) and
the Chinese capitals written on receipts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.money import MAX_AMOUNT_FEN, MIN_AMOUNT_FEN, Money, chinese_capitals
from shared.shapes import Amount, Invalid, Shape

FEN_IN_RANGE = st.integers(min_value=MIN_AMOUNT_FEN, max_value=MAX_AMOUNT_FEN)
AMOUNT = Shape("Amount", {"amount": Amount()})


def load_amount(value: Any) -> Money:
    return AMOUNT.load({"amount": value})["amount"]  # type: ignore[no-any-return]


# -- Money.parse -------------------------------------------------------------

@pytest.mark.parametrize(("text_form", "fen"), [
    ("0.01", 1),
    ("0.10", 10),
    ("1.00", 100),
    ("1280.00", 128_000),
    ("1000000000.00", 100_000_000_000),
])
def test_parse_reads_two_decimal_strings_exactly(text_form: str, fen: int) -> None:
    money = Money.parse(text_form)
    assert money.fen == fen
    assert str(money) == text_form


@pytest.mark.parametrize("bad", [
    "1", "1.5", "1.505", ".50", "1.", "-1.00", "+1.00", "01.00", "00.01", " 1.00", "1.00 ",
    "1,000.00", "1e3", "1E3", "NaN", "Infinity", "", "１.００", "12345678901.00",
])
def test_parse_refuses_anything_but_the_api_form(bad: str) -> None:
    with pytest.raises(ValueError):
        Money.parse(bad)


@pytest.mark.parametrize("not_text", [12.5, 100, None, True, Decimal("1.00"), b"1.00"])
def test_parse_refuses_non_strings(not_text: Any) -> None:
    with pytest.raises(ValueError):
        Money.parse(not_text)


@given(FEN_IN_RANGE)
def test_parse_of_str_round_trips(fen: int) -> None:
    assert Money.parse(str(Money(fen))) == Money(fen)


# -- the API's amount field -------------------------------------------------------

@pytest.mark.parametrize("bad", [
    12.5, 100, "NaN", "Infinity", "1e3", "1.5", "1.505", "-1.00", "+1.00", "0.00",
    "1000000000.01", "01.00", " 1.00", "1,000.00", "", None, True,
], ids=repr)
def test_money_field_refuses_and_names_the_field(bad: Any) -> None:
    with pytest.raises(Invalid) as caught:
        load_amount(bad)
    assert list(caught.value.errors) == ["amount"]
    assert caught.value.errors["amount"][0].code in (
        "amount_not_a_string", "amount_format", "amount_out_of_range", "null")


def test_money_field_requires_a_value() -> None:
    with pytest.raises(Invalid) as caught:
        AMOUNT.load({})
    assert [m.code for m in caught.value.errors["amount"]] == ["required"]


@pytest.mark.parametrize(("text_form", "fen"), [
    ("0.01", MIN_AMOUNT_FEN),
    ("1280.00", 128_000),
    ("1000000000.00", MAX_AMOUNT_FEN),
])
def test_money_field_accepts_the_boundaries(text_form: str, fen: int) -> None:
    money = load_amount(text_form)
    assert isinstance(money, Money)
    assert money.fen == fen


@given(FEN_IN_RANGE)
def test_money_field_load_of_str_round_trips(fen: int) -> None:
    assert load_amount(str(Money(fen))) == Money(fen)


# -- arithmetic and comparisons ---------------------------------------------

def test_summing_ten_dimes_is_exactly_one_yuan() -> None:
    total = Money.zero()
    for _ in range(10):
        total += Money.parse("0.10")
    assert total == Money.parse("1.00")
    assert str(total) == "1.00"


def test_arithmetic_is_exact_to_the_fen() -> None:
    assert Money.parse("0.10") + Money.parse("0.20") == Money.parse("0.30")
    assert Money.parse("1000000000.00") - Money.parse("0.01") == Money.parse("999999999.99")
    assert Money.parse("1.00") - Money.parse("1.00") == Money.zero()
    assert -Money.parse("1.50") == Money(-150)
    assert str(Money(-5)) == "-0.05"
    assert Money.parse("12.34").amount == Decimal("12.34")


def test_comparisons_and_truth() -> None:
    small, large = Money.parse("0.99"), Money.parse("1.00")
    assert small < large <= large and large > small >= small
    assert sorted([large, small, Money.zero()]) == [Money.zero(), small, large]
    assert max(small, large) is large
    assert not Money.zero() and Money(1)
    assert Money(100) == Money(100) and hash(Money(100)) == hash(Money(100))
    assert len({Money(100), Money.parse("1.00")}) == 1
    # A Money is never equal to a bare number, even one of the same value.
    assert Money(100) != 100
    assert Money(100) != Decimal("1.00")
    assert Money(100) != "1.00"


@given(st.integers(min_value=-MAX_AMOUNT_FEN, max_value=MAX_AMOUNT_FEN),
       st.integers(min_value=-MAX_AMOUNT_FEN, max_value=MAX_AMOUNT_FEN))
def test_arithmetic_matches_integer_fen(a: int, b: int) -> None:
    assert (Money(a) + Money(b)).fen == a + b
    assert (Money(a) - Money(b)).fen == a - b
    assert (Money(a) < Money(b)) == (a < b)
    assert (Money(a) == Money(b)) == (a == b)


@pytest.mark.parametrize("not_fen", [1.0, 12.5, True, Decimal("1"), "100", None])
def test_money_takes_integer_fen_only(not_fen: Any) -> None:
    with pytest.raises(TypeError):
        Money(not_fen)


@pytest.mark.parametrize("operation", [
    lambda m: m + 0.1,
    lambda m: 0.1 + m,
    lambda m: m - 1.0,
    lambda m: m + 1,
    lambda m: m + Decimal("0.10"),
    lambda m: m < 1.5,
    lambda m: m >= 1,
])
def test_money_refuses_to_mix_with_floats_and_numbers(operation: Any) -> None:
    with pytest.raises(TypeError):
        operation(Money(100))


def test_money_is_immutable() -> None:
    money = Money(100)
    with pytest.raises(AttributeError):
        money._fen = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        money.other = 5  # type: ignore[attr-defined]
    assert money.fen == 100


# -- Chinese capitals ---------------------------------------------------------

@pytest.mark.parametrize(("amount", "capitals"), [
    ("0.01", "壹分"),
    ("0.10", "壹角整"),
    ("0.11", "壹角壹分"),
    ("1.00", "壹元整"),
    ("1.05", "壹元零伍分"),
    ("1.50", "壹元伍角整"),
    ("10.00", "壹拾元整"),
    ("100.01", "壹佰元零壹分"),
    ("105.00", "壹佰零伍元整"),
    ("1001.00", "壹仟零壹元整"),
    ("1010.10", "壹仟零壹拾元壹角整"),
    ("1280.00", "壹仟贰佰捌拾元整"),
    ("10000.00", "壹万元整"),
    ("10010.00", "壹万零壹拾元整"),
    ("60036.00", "陆万零叁拾陆元整"),
    ("100000.00", "壹拾万元整"),
    ("1000100.00", "壹佰万零壹佰元整"),
    ("10100000.00", "壹仟零壹拾万元整"),
    ("40000000.05", "肆仟万元零伍分"),
    ("100000001.00", "壹亿零壹元整"),
    ("100010000.00", "壹亿零壹万元整"),
    ("123456789.12", "壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖元壹角贰分"),
    ("1000000000.00", "壹拾亿元整"),
])
def test_chinese_capitals(amount: str, capitals: str) -> None:
    money = Money.parse(amount)
    assert chinese_capitals(money.fen) == capitals
    assert money.in_chinese_capitals() == capitals


def test_chinese_capitals_of_zero_and_negative() -> None:
    assert chinese_capitals(0) == "零元整"
    assert Money(-100).in_chinese_capitals() == "负壹元整"


@given(FEN_IN_RANGE)
def test_chinese_capitals_use_only_financial_characters(fen: int) -> None:
    capitals = chinese_capitals(fen)
    assert capitals
    assert set(capitals) <= set("零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整")
    assert "零零" not in capitals
    assert capitals.endswith(("整", "分"))
