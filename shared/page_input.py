"""What people type on the pages, read as they meant it, before the shapes check it.

The API is strict: an amount is "1280.00", a fund code is upper case. A person
types `5000`, `50,000.00`, `¥500`, ` 500 元`, `５０００．００` or `tl-hq-001`,
and means the same. The pages' forms (shared.forms) pass every field through
`normalise` first, so each rule lives once here and the shape that follows is
the API's own: what a form records is exactly what the API would.

A figure that cannot mean an amount is refused here, by its own code
(shared.refusals), in the reader's language: `-5` is "must be more than 0",
`abc` says how to write an amount.

Also here: the funds a form offers to pick from, by name and code, built per
request from the funds service, so a fund made a moment ago is among them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from flask import g
from flask_login import current_user
from wtforms import SelectChoice

from shared import i18n
from shared.money import MAX_AMOUNT_FEN, MIN_AMOUNT_FEN, Money
from shared.refusals import EVERY_FUND, LENGTH_HINT, PICK_A_FUND, Message
from shared.shapes import Amount, Refusal, Shape, Text

# How the pages name a fund (the catalogue words it per language: 徽商助学基金（TL-HQ-001）).
NAME_AND_CODE = "%(name)s (%(code)s)"

# What may stand around an amount: the currency's sign or name, before or after it.
_CURRENCY_BEFORE = re.compile(r"^(?:¥|RMB|CNY|人民币)", re.IGNORECASE)
_CURRENCY_AFTER = re.compile(r"(?:元整|元|圆整|圆|RMB|CNY|yuan)$", re.IGNORECASE)
# Digits grouped by thousands with commas, or not grouped; then at most some decimals.
_FIGURE = re.compile(r"(?P<units>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)(?:\.(?P<decimals>[0-9]*))?")
_MINUS = ("-", "\u2212", "\u2013", "\ufe63")  # NFKC leaves the minus sign and the dash as they are
# A fund code's rule (shared.contracts.funds.fund_code) names its refusal so.
_CODE_RULE = "fund_code_format"


def amount_text(text: str) -> str:
    """A typed amount in the API's form ("50000.00"); raises Refusal if it is no amount.

    Full-width characters count as their ASCII selves (NFKC: ５ is 5, ￥ is ¥,
    ， is a comma); spaces are ignored; ¥, RMB, CNY, 人民币 before and 元 after
    are allowed; commas must group thousands; at most two decimals that are
    not zero (5.000 is 5.00).
    """
    typed = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    negative = typed.startswith(_MINUS)
    if negative:
        typed = typed[1:]
    typed = _CURRENCY_AFTER.sub("", _CURRENCY_BEFORE.sub("", typed, count=1), count=1)
    if not negative and typed.startswith(_MINUS):  # ¥-5
        negative, typed = True, typed[1:]
    figure = _FIGURE.fullmatch(typed)
    if figure is None or not (figure["units"] or figure["decimals"]):
        raise Refusal("amount_unreadable")
    decimals = (figure["decimals"] or "").rstrip("0") if len(figure["decimals"] or "") > 2 else \
        figure["decimals"] or ""
    if len(decimals) > 2:
        raise Refusal("amount_too_precise")
    fen = int(figure["units"].replace(",", "") or "0") * 100 + int(decimals.ljust(2, "0"))
    if negative or fen < MIN_AMOUNT_FEN:
        raise Refusal("amount_not_positive")
    if fen > MAX_AMOUNT_FEN:
        raise Refusal("amount_out_of_range", min=str(Money(MIN_AMOUNT_FEN)), max=str(Money(MAX_AMOUNT_FEN)))
    return str(Money(fen))


def quantity_text(text: str) -> str:
    """A typed quantity of goods as the API writes it ("2500", "12.5"); raises Refusal if it is no
    quantity. Full-width characters count as their ASCII selves, spaces are ignored, commas must
    group thousands, at most three decimals that are not zero (2.5000 is 2.5)."""
    typed = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    if typed.startswith(_MINUS):
        raise Refusal("quantity_not_positive")
    figure = _FIGURE.fullmatch(typed)
    if figure is None or not (figure["units"] or figure["decimals"]):
        raise Refusal("quantity_unreadable")
    decimals = (figure["decimals"] or "").rstrip("0")
    if len(decimals) > 3:
        raise Refusal("quantity_too_precise")
    units = figure["units"].replace(",", "").lstrip("0") or "0"
    if units == "0" and not decimals:
        raise Refusal("quantity_not_positive")
    return f"{units}.{decimals}" if decimals else units


def code_text(text: str) -> str:
    """A typed fund code as the API writes it: full-width as ASCII, trimmed, upper case."""
    return unicodedata.normalize("NFKC", text).strip().upper()


def normalise(shape: Shape, typed: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[Message]]]:
    """The typed fields (by flat name) as the shape wants them, and the refusals of those that
    cannot be read at all (which the shape's own verdict on the same fields gives way to)."""
    clean = dict(typed)
    refused: dict[str, list[Message]] = {}
    for name, (_, rule) in shape.flat_fields.items():
        value = clean.get(name)
        if not isinstance(value, str) or not value.strip():
            continue
        if isinstance(rule, Amount):
            try:
                clean[name] = amount_text(value)
            except Refusal as refusal:
                refused[name] = [refusal.message]
        elif isinstance(rule, Text) and rule.pattern_code == _CODE_RULE:
            clean[name] = code_text(value)
    return clean, refused


def length_hint(max_length: int) -> str:
    """What a text field says of its limit before it is reached, in the reader's language."""
    return i18n.translate(LENGTH_HINT) % {"max": max_length}


# -- picking a fund -----------------------------------------------------------------

def own_funds(*, writable: bool) -> list[dict[str, Any]]:
    """The funds the user sees (or may record to), by code; asked of the funds service once a
    request. Closed funds are left out of what may be recorded to."""
    cache: dict[bool, list[dict[str, Any]]] = g.setdefault("page_input_funds", {})
    if writable not in cache:
        from shared.peers import peers

        me = current_user
        everyone = me.is_admin if writable else me.sees_all_organizations
        params = {} if everyone else {"organization_id": me.organization_id}
        answer = peers().answer("funds", "GET", "/internal/v1/funds", params=params) or {"funds": []}
        allowed = me.may_write if writable else me.may_read
        cache[writable] = [fund for fund in answer["funds"] if allowed(fund["organization_id"])
                           and not (writable and fund["status"] == "closed")]
    return cache[writable]


def fund_label(fund: Mapping[str, Any]) -> str:
    """A fund as a list names it: its name and code, and its status unless it is active."""
    said = i18n.translate(NAME_AND_CODE) % {"name": fund["name"], "code": fund["code"]}
    return said if fund["status"] == "active" else f"{said} · {i18n.label(fund['status'])}"


def fund_choices(*, writable: bool, everything: bool = False) -> list[SelectChoice]:
    """A fund select's choices: the user's funds by name and code, first a choice of none
    (to pick one: "" is refused as required) or, for a filter, of every fund."""
    first = SelectChoice("", i18n.translate(EVERY_FUND if everything else PICK_A_FUND))
    return [first, *(SelectChoice(fund["code"], fund_label(fund)) for fund in own_funds(writable=writable))]
