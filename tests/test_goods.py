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


# -- the pages -------------------------------------------------------------------------

def goods_form(**fields: str) -> dict[str, str]:
    return {"fund_code": FUND, "amount": "", "currency": "CNY", "donor_name": "铜陵某某粮油有限公司",
            "donor_kind": "enterprise", "received_on": "2026-08-03", "channel": "in_kind", "purpose": "助学",
            "reference": "", "goods_item": "大米", "goods_quantity": "２,５００", "goods_unit": "斤",
            "goods_unit_price": "¥2.6", **fields}


def test_the_form_records_a_gift_in_kind_with_its_goods_and_works_out_its_amount(
        admin: Browser, api: ApiClient, fund: dict[str, Any]) -> None:
    page = admin.get("/donations/new").get_data(as_text=True)
    assert 'name="goods_quantity"' in page and "goods.js" in page and "物资明细" in page
    response = admin.submit("/donations/new", goods_form())
    assert response.status_code == 302, text(response)
    [recorded] = donations(api)
    assert (recorded["amount"], recorded["goods"]) == ("6500.00", RICE)

    receipt = text(admin.get(response.location))
    assert "大米" in receipt and "2,500 斤" in receipt and "每斤 ¥2.60" in receipt
    assert "¥6,500.00" in receipt and "陆仟伍佰元整" in receipt
    assert ORGANIZATION in receipt and "开具单位盖章" in receipt and "经办人签字" in receipt
    assert f'href="/donations/receipts/{recorded["id"]}.pdf"' in receipt


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"goods_item": ""}, "goods_item", "请输入捐赠物资"),
    ({"goods_quantity": "两千"}, "goods_quantity", "不是有效的数量"),
    ({"goods_quantity": "1.2345"}, "goods_quantity", "最多三位小数"),
    ({"goods_quantity": "0"}, "goods_quantity", "数量必须大于 0"),
    ({"goods_unit": ""}, "goods_unit", "请输入单位"),
    ({"goods_unit_price": "abc"}, "goods_unit_price", "金额"),
    ({"amount": "6,000"}, "amount", "6500.00"),
])
def test_the_form_refuses_bad_goods_beside_their_field_and_records_nothing(
        admin: Browser, api: ApiClient, fund: dict[str, Any], fields: dict[str, str], field: str,
        words: str) -> None:
    response = admin.submit("/donations/new", goods_form(**fields))
    assert response.status_code == 422
    assert words in field_errors(response, field), field_errors(response, field)
    assert donations(api) == []


def test_goods_typed_before_choosing_another_channel_are_left_out(
        admin: Browser, api: ApiClient, fund: dict[str, Any]) -> None:
    response = admin.submit("/donations/new", goods_form(channel="bank", amount="100"))
    assert response.status_code == 302, text(response)
    [recorded] = donations(api)
    assert (recorded["channel"], recorded["goods"]) == ("bank", None)


def test_the_queue_and_the_confirmations_show_cash_and_goods_apart(
        admin: Browser, api: ApiClient, make: Factory, fund: dict[str, Any]) -> None:
    gift = assert_ok(api.post(f"{API}/donations", json=body()), 201)
    cash = assert_ok(api.post(f"{API}/donations", json=body("1000.00", channel="bank", goods=None)), 201)
    key = make.api_key(fund["organization_id"], ["donations:read", "donations:write"], name="requester")
    request = assert_ok(api.post(f"{API}/disbursements", key=key, json={
        "fund_code": FUND, "amount": "300.00", "payee": "某小学", "purpose": "助学"}), 201)

    queue = text(admin.get("/donations/disbursements/queue"))
    row = queue[queue.index(f'id="disbursement-{request["id"]}"'):]
    assert 'class="num cash-available">¥1,000.00<' in row and 'class="num goods-held">¥6,500.00<' in row

    reverse = text(admin.get(f"/donations/receipts/{gift['id']}/reverse"))
    assert 'id="available-after">¥1,000.00<' in reverse and 'id="goods-after">¥0.00<' in reverse
    reverse = text(admin.get(f"/donations/receipts/{cash['id']}/reverse"))
    assert 'id="available-after">¥0.00<' in reverse and 'id="goods-after">¥6,500.00<' in reverse
    reject = text(admin.get(f"/donations/disbursements/{request['id']}/reject"))
    assert 'id="available-after">¥1,000.00<' in reject and 'id="goods-after">¥6,500.00<' in reject


def pdf_text(content: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=content, capture_output=True,
                          check=True).stdout.decode()


def test_the_receipt_comes_as_a_pdf_naming_its_number_and_the_organisation(
        admin: Browser, api: ApiClient, fund: dict[str, Any]) -> None:
    recorded = assert_ok(api.post(f"{API}/donations", json=body()), 201)
    response = admin.get(f"/donations/receipts/{recorded['id']}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f'attachment; filename="receipt-{recorded["receipt_no"]}.pdf"'
    assert response.data.startswith(b"%PDF-")
    words = pdf_text(response.data)
    assert recorded["receipt_no"] in words and ORGANIZATION in words
    assert "大米" in words and "陆仟伍佰元整" in words and "经办人签字" in words
    pages = subprocess.run(["pdfinfo", "-"], input=response.data, capture_output=True, check=True).stdout.decode()
    assert re.search(r"^Pages:\s+1$", pages, re.MULTILINE), pages

    english = pdf_text(admin.get(f"/donations/receipts/{recorded['id']}.pdf?lang=en").data)
    assert "Donation receipt" in english and "Handler's signature" in english and ORGANIZATION in english


def test_another_organisations_receipt_pdf_is_not_found(
        api: ApiClient, make: Factory, gateway: Any, fund: dict[str, Any]) -> None:
    recorded = assert_ok(api.post(f"{API}/donations", json=body()), 201)
    other = make.organization("另一个商会")
    make.user(gateway, "other-manager", "a-long-enough-password", "fund_manager", other["id"])
    stranger = Browser(gateway)
    stranger.login("other-manager", "a-long-enough-password")
    assert stranger.get(f"/donations/receipts/{recorded['id']}.pdf").status_code == 404
