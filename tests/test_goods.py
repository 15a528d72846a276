"""Gifts in kind: what was given (item, quantity, unit, unit price) kept with the donation, its
amount their product; cash and goods apart wherever a balance is shown; the receipt as a
document to file, on the page and as a PDF.

Driven through the API and the pages as people use them; what they wrote is read back
through the API.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from conftest import ApiClient, Browser, Factory
from helpers import assert_ok, assert_problem, field_errors, text

API = "/donations/api/v1"
FUND = "TL-GOODS-01"
ORGANIZATION = "铜陵市徽商商会"
RICE = {"item": "大米", "quantity": "2500", "unit": "斤", "unit_price": "2.60"}


@pytest.fixture
def org(make: Factory) -> dict[str, Any]:
    return make.organization(ORGANIZATION)


@pytest.fixture
def fund(make: Factory, org: dict[str, Any]) -> dict[str, Any]:
    return make.fund(org["id"], FUND, name="徽商助学基金")


def body(amount: str = "6500.00", **overrides: Any) -> dict[str, Any]:
    return {"fund_code": FUND, "amount": amount, "currency": "CNY",
            "donor": {"name": "铜陵某某粮油有限公司", "kind": "enterprise", "anonymous": False},
            "received_on": "2026-08-03", "channel": "in_kind", "goods": dict(RICE), **overrides}


def donations(api: ApiClient) -> list[dict[str, Any]]:
    return assert_ok(api.get(f"{API}/donations"))["items"]  # type: ignore[no-any-return]


def balance(api: ApiClient) -> dict[str, Any]:
    return assert_ok(api.get(f"{API}/funds/{FUND}/balance"))  # type: ignore[no-any-return]


# -- the API ---------------------------------------------------------------------------

def test_a_gift_in_kind_keeps_its_goods_and_counts_as_goods_not_cash(api: ApiClient, fund: dict[str, Any]) -> None:
    recorded = assert_ok(api.post(f"{API}/donations", json=body()), 201)
    assert recorded["goods"] == RICE
    assert recorded["amount"] == "6500.00" and recorded["channel"] == "in_kind"
    assert assert_ok(api.get(f"{API}/donations/{recorded['id']}"))["goods"] == RICE
    # A quantity with decimals, rounded half-up to the fen: 12.5 x 0.05 = 0.625 -> 0.63.
    eggs = {"item": "鸡蛋", "quantity": "12.5", "unit": "kg", "unit_price": "0.05"}
    assert assert_ok(api.post(f"{API}/donations", json=body("0.63", goods=eggs)), 201)["goods"] == eggs
    # Cash as ever, and in kind without goods (the contract allows it): goods are null.
    plain = assert_ok(api.post(f"{API}/donations", json=body("1000.00", channel="bank", goods=None)), 201)
    bare = assert_ok(api.post(f"{API}/donations", json={
        key: value for key, value in body("300.00").items() if key != "goods"}), 201)
    assert plain["goods"] is None and bare["goods"] is None

    figures = balance(api)
    assert (figures["balance"], figures["cash"], figures["goods"]) == ("7800.63", "1000.00", "6800.63")
    verdict = assert_ok(api.get(f"{API}/ledger/verify", query_string={"fund_code": FUND}))
    assert verdict["valid"] is True, verdict


@pytest.mark.parametrize(("goods", "field", "code"), [
    ({**RICE, "item": ""}, "goods.item", "blank"),
    ({**RICE, "item": "米" * 101}, "goods.item", "too_long"),
    ({**RICE, "quantity": "0"}, "goods.quantity", "quantity_not_positive"),
    ({**RICE, "quantity": "1.2345"}, "goods.quantity", "quantity_format"),
    ({**RICE, "quantity": 2500}, "goods.quantity", "quantity_format"),
    ({**RICE, "quantity": "-3"}, "goods.quantity", "quantity_format"),
    ({**RICE, "unit": ""}, "goods.unit", "blank"),
    ({**RICE, "unit": "斤" * 17}, "goods.unit", "too_long"),
    ({**RICE, "unit_price": "2.6"}, "goods.unit_price", "amount_format"),
    ({**RICE, "unit_price": "0.00"}, "goods.unit_price", "amount_out_of_range"),
    ({key: value for key, value in RICE.items() if key != "unit"}, "goods.unit", "required"),
    ({**RICE, "colour": "white"}, "goods.colour", "unknown_field"),
    ("大米", "goods", "not_an_object"),
])
def test_each_bad_field_of_the_goods_is_named_and_nothing_is_written(
        api: ApiClient, fund: dict[str, Any], goods: Any, field: str, code: str) -> None:
    problem = assert_problem(api.post(f"{API}/donations", json=body(goods=goods)), 422, field)
    assert problem["codes"] == {field: [code]}
    assert donations(api) == []


def test_goods_only_with_a_gift_in_kind(api: ApiClient, fund: dict[str, Any]) -> None:
    problem = assert_problem(api.post(f"{API}/donations", json=body(channel="bank")), 422, "goods")
    assert problem["codes"] == {"goods": ["goods_not_in_kind"]}
    assert donations(api) == []


def test_the_amount_must_be_what_the_goods_are_worth(api: ApiClient, fund: dict[str, Any]) -> None:
    problem = assert_problem(api.post(f"{API}/donations", json=body("6500.01")), 422, "amount")
    assert problem["codes"] == {"amount": ["goods_amount_mismatch"]}
    assert "6500.00" in problem["errors"]["amount"][0]
    eggs = {"item": "鸡蛋", "quantity": "12.5", "unit": "kg", "unit_price": "0.05"}
    problem = assert_problem(api.post(f"{API}/donations", json=body("0.62", goods=eggs)), 422, "amount")
    assert problem["codes"] == {"amount": ["goods_amount_mismatch"]}
    assert donations(api) == [] and balance(api)["goods"] == "0.00"


def test_a_batch_takes_goods_as_a_single_donation_does(api: ApiClient, fund: dict[str, Any]) -> None:
    answer = assert_ok(api.post(f"{API}/donations/batch", json=[body(), body("1.00")]), 200)
    statuses = [row["status"] for row in answer["results"]]
    assert statuses == ["recorded", "invalid"], answer
    [recorded] = donations(api)
    assert recorded["goods"] == RICE


def test_the_openapi_document_describes_the_goods(api: ApiClient) -> None:
    schemas = assert_ok(api.get("/donations/openapi.json"))["components"]["schemas"]
    create = next(s for name, s in schemas.items() if name.startswith("DonationCreate"))
    assert "goods" in create["properties"] and "goods" not in create.get("required", [])
    answered = schemas["Donation"]["properties"]["goods"]
    assert "goods" in schemas["Donation"]["required"]
    assert answered.get("nullable") or "null" in str(answered), answered

