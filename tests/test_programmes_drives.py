"""Consumer-assistance drives (消费帮扶) through the programmes API: pledges, purchases and what each is."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.conftest import ApiClient
from tests.helpers import assert_ok, assert_problem

API = "/programmes/api/v1"


def village(api: ApiClient, name: str = "红旗村", township: str = "钟鸣镇") -> dict[str, Any]:
    return assert_ok(api.post(f"{API}/villages", json={"name": name, "township": township}), 201)


def org_key(make: Any, scopes: list[str] | None = None) -> tuple[int, str]:
    organization = make.organization()
    return organization["id"], make.api_key(organization["id"], scopes or ["programmes:read", "programmes:write"])


def peach_drive(as_org: ApiClient, village_id: int, **extra: Any) -> dict[str, Any]:
    """Hongqi Village's yellow peaches: a 5-jin basket at 35 yuan, 2,500 kg (1,000 baskets) in all."""
    body = {"name": "红旗村黄桃认购", "village_id": village_id, "product": "黄桃", "unit": "5斤装一筐",
            "unit_price": "35.00", "quantity": "1000", "seller": "红旗村黄桃专业合作社", **extra}
    return assert_ok(as_org.post(f"{API}/drives", json=body), 201)


def buy(as_org: ApiClient, drive_id: int, quantity: str, amount: str, kind: str, **extra: Any) -> dict[str, Any]:
    return assert_ok(as_org.post(f"{API}/drives/{drive_id}/purchases", json={
        "quantity": quantity, "amount": amount, "kind": kind, **extra}), 201)


def test_the_peach_drive_adds_up_to_the_fen(api: ApiClient, make: Any) -> None:
    organiser, key = org_key(make)
    buyer, buyer_key = org_key(make)
    v = village(api)
    as_organiser = api.with_key(key)
    drive = peach_drive(as_organiser, v["id"])
    assert (drive["unit_price"], drive["quantity"], drive["pledged"], drive["bought"]) == ("35.00", "1000", "0", "0")
    assert (drive["organization_id"], drive["village"], drive["paid_to_village"]) == (organiser, "红旗村", "0.00")

    assert_ok(as_organiser.post(f"{API}/drives/{drive['id']}/pledges", json={"quantity": "300"}), 201)
    pledge = assert_ok(as_organiser.post(f"{API}/drives/{drive['id']}/pledges",
                                         json={"quantity": "200.5", "organization_id": buyer}), 201)
    assert (pledge["organization_id"], pledge["quantity"]) == (buyer, "200.5")
    assert_ok(as_organiser.post(f"{API}/drives/{drive['id']}/pledges", json={"quantity": "250"}), 201)  # replaces

    market = buy(as_organiser, drive["id"], "100", "3500.00", "market")
    assert (market["market_value"], market["exchange"], market["donation_of_difference"]) == ("3500.00", "3500.00",
                                                                                              "0.00")
    premium = buy(as_organiser, drive["id"], "10", "400.00", "premium", related_party=True,
                  purchased_on="2026-08-03")
    assert (premium["market_value"], premium["donation_of_difference"], premium["exchange"]) == ("350.00", "50.00",
                                                                                                 "0.00")
    assert (premium["related_party"], premium["disclose_by"]) == (True, "2026-09-02")
    given = buy(api.with_key(buyer_key), drive["id"], "20", "700.00", "given_on")
    assert (given["organization_id"], given["charitable_spending"], given["disclose_by"]) == (buyer, "700.00", None)
    # Half-up to the fen: 0.125 basket at 35.00 is 4.375, so 4.38.
    assert buy(as_organiser, drive["id"], "0.125", "4.38", "market")["market_value"] == "4.38"

    shown = assert_ok(as_organiser.get(f"{API}/drives/{drive['id']}"))
    assert (shown["pledged"], shown["bought"], shown["purchases"]) == ("450.5", "130.125", 4)
    assert (shown["paid_to_village"], shown["exchange"], shown["charitable_spending"],
            shown["donation_of_difference"], shown["related_party_count"]) == ("4604.38", "3504.38", "700.00",
                                                                              "50.00", 1)
    listed = assert_ok(as_organiser.get(f"{API}/drives/{drive['id']}/purchases?kind=premium"))
    assert [p["id"] for p in listed["items"]] == [premium["id"]]
    page = assert_ok(as_organiser.get(f"{API}/drives/{drive['id']}/purchases?limit=3"))
    assert len(page["items"]) == 3 and page["next_cursor"]

    other_village = village(api, "新桥村")
    other = peach_drive(as_organiser, other_village["id"], name="新桥村大米", product="大米", unit="袋",
                        unit_price="50.00")
    buy(as_organiser, other["id"], "2", "100.00", "market")
    per_village = assert_ok(as_organiser.get(f"{API}/villages/{v['id']}/drives"))
    assert (per_village["drives"], per_village["paid_to_village"], per_village["donation_of_difference"]) == (
        1, "4604.38", "50.00")
    assert assert_ok(as_organiser.get(f"{API}/villages/{other_village['id']}/drives"))["paid_to_village"] == "100.00"
    assert [d["id"] for d in assert_ok(as_organiser.get(f"{API}/drives?village_id={v['id']}"))["items"]] == [
        drive["id"]]


def test_another_organisations_drive_answers_404(api: ApiClient, make: Any) -> None:
    _, key = org_key(make)
    buyer, buyer_key = org_key(make)
    _, other = org_key(make)
    v = village(api)
    drive = peach_drive(api.with_key(key), v["id"])
    as_other, as_buyer = api.with_key(other), api.with_key(buyer_key)
    for response in (as_other.get(f"{API}/drives/{drive['id']}"), as_other.get(f"{API}/drives/{drive['id']}/purchases"),
                     as_other.post(f"{API}/drives/{drive['id']}/pledges", json={"quantity": "1"}),
                     as_other.post(f"{API}/drives/{drive['id']}/purchases",
                                   json={"quantity": "1", "amount": "35.00", "kind": "market"}),
                     as_buyer.get(f"{API}/drives/{drive['id']}")):
        assert_problem(response, 404)
    assert assert_ok(as_other.get(f"{API}/drives"))["items"] == []
    assert assert_ok(as_other.get(f"{API}/villages/{v['id']}/drives"))["paid_to_village"] == "0.00"
    # The organiser names a buyer, who then sees the drive, and may record its own purchases, not another's.
    buy(api.with_key(key), drive["id"], "1", "35.00", "market", organization_id=buyer)
    assert assert_ok(as_buyer.get(f"{API}/drives/{drive['id']}"))["bought"] == "1"
    assert [d["id"] for d in assert_ok(as_buyer.get(f"{API}/drives"))["items"]] == [drive["id"]]
    problem = assert_problem(as_buyer.post(f"{API}/drives/{drive['id']}/purchases", json={
        "quantity": "1", "amount": "35.00", "kind": "market", "organization_id": 1}), 422, "organization_id")
    assert problem["codes"]["organization_id"] == ["not_drive_organiser"]
    reader = make.api_key(buyer, ["programmes:read"])
    assert_problem(api.with_key(reader).post(f"{API}/drives/{drive['id']}/pledges", json={"quantity": "1"}), 403)
    assert_problem(api.get(f"{API}/drives/999999"), 404)


def test_bad_input_on_every_field_is_a_422_naming_it_and_writes_nothing(api: ApiClient, make: Any) -> None:
    organization_id, key = org_key(make)
    other_org, _ = org_key(make)
    as_org = api.with_key(key)
    v = village(api)
    good = {"name": "红旗村黄桃认购", "village_id": v["id"], "product": "黄桃", "unit": "5斤装一筐",
            "unit_price": "35.00", "quantity": "1000"}
    for field, bad in [("name", ""), ("village_id", 999999), ("village_id", "1"), ("product", "x" * 201),
                       ("unit", ""), ("unit", "x" * 33), ("unit_price", 35), ("unit_price", "0.00"),
                       ("unit_price", "35.0"), ("quantity", 1000), ("quantity", "0"), ("quantity", "1.2345"),
                       ("quantity", "-1"), ("quantity", "1e3"), ("seller", "x" * 201)]:
        assert_problem(as_org.post(f"{API}/drives", json={**good, field: bad}), 422, field)
    assert assert_ok(as_org.get(f"{API}/drives"))["items"] == []

    drive = peach_drive(as_org, v["id"])
    mine = make.fund(organization_id)
    theirs = make.fund(other_org)
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    purchase = {"quantity": "100", "amount": "3500.00", "kind": "market"}
    for field, bad in [("quantity", "0"), ("quantity", 100), ("amount", "3500.01"), ("amount", "3499.99"),
                       ("amount", "3500"), ("kind", "gift"), ("related_party", "yes"), ("purchased_on", tomorrow),
                       ("purchased_on", "2026-02-30"), ("fund_code", "nope"), ("fund_code", "NO-SUCH-FUND"),
                       ("fund_code", theirs["code"]), ("organization_id", 999999), ("organization_id", "x")]:
        assert_problem(as_org.post(f"{API}/drives/{drive['id']}/purchases", json={**purchase, field: bad}),
                       422, field)
    # A premium is above market; produce given on is bought at market value or above.
    for kind, amount in [("premium", "3500.00"), ("premium", "3000.00"), ("given_on", "3499.99")]:
        problem = assert_problem(as_org.post(f"{API}/drives/{drive['id']}/purchases",
                                             json={**purchase, "kind": kind, "amount": amount}), 422, "amount")
        assert "3500.00" in problem["detail"]
    for field, bad in [("quantity", "0.000"), ("quantity", None), ("organization_id", 0)]:
        assert_problem(as_org.post(f"{API}/drives/{drive['id']}/pledges", json={"quantity": "1", field: bad}),
                       422, field)
    shown = assert_ok(as_org.get(f"{API}/drives/{drive['id']}"))
    assert (shown["bought"], shown["pledged"], shown["purchases"]) == ("0", "0", 0)
    assert assert_ok(as_org.get(f"{API}/drives/{drive['id']}/purchases"))["items"] == []
    assert buy(as_org, drive["id"], "100", "3500.00", "market", fund_code=mine["code"])["fund_code"] == mine["code"]


def test_a_purchase_is_replayed_for_its_idempotency_key(api: ApiClient, make: Any) -> None:
    _, key = org_key(make)
    as_org = api.with_key(key)
    drive = peach_drive(as_org, village(api)["id"])
    headers = {"Idempotency-Key": "peaches-1"}
    body = {"quantity": "10", "amount": "400.00", "kind": "premium"}
    first = as_org.post(f"{API}/drives/{drive['id']}/purchases", json=body, headers=headers)
    again = as_org.post(f"{API}/drives/{drive['id']}/purchases", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201) and first.json == again.json
    assert assert_ok(as_org.get(f"{API}/drives/{drive['id']}"))["donation_of_difference"] == "50.00"
    assert_problem(as_org.post(f"{API}/drives/{drive['id']}/purchases", json={**body, "quantity": "11"},
                               headers=headers), 422)
