"""Villages, needs and claims through the programmes API (点单, 接单, 回单)."""

from __future__ import annotations

from typing import Any

from shared.dates import today
from tests.conftest import ApiClient
from tests.helpers import assert_ok, assert_problem

API = "/programmes/api/v1"


def village(api: ApiClient, name: str = "红旗村", township: str = "钟鸣镇") -> dict[str, Any]:
    return assert_ok(api.post(f"{API}/villages", json={"name": name, "township": township}), 201)


def need(api: ApiClient, village_id: int, amount: str = "3500.00", **extra: Any) -> dict[str, Any]:
    body = {"village_id": village_id, "title": "路灯 10 盏", "category": "lighting", "amount": amount,
            "due_on": "2027-03-31", "priority": "high", **extra}
    return assert_ok(api.post(f"{API}/needs", json=body), 201)


def test_the_bureau_lists_a_village_and_posts_its_need(api: ApiClient) -> None:
    v = village(api)
    assert v["weak"] is True
    n = need(api, v["id"], quantity="10", unit="盏")
    assert (n["amount"], n["pledged"], n["paid"], n["open"], n["signed_off"], n["status"]) == (
        "3500.00", "0.00", "0.00", "3500.00", "0.00", "open")
    assert (n["quantity"], n["unit"]) == ("10", "盏")
    assert n["village"] == "红旗村" and n["township"] == "钟鸣镇"
    assert assert_ok(api.get(f"{API}/needs/{n['id']}"))["id"] == n["id"]
    listed = assert_ok(api.get(f"{API}/needs?village_id={v['id']}&status=open"))
    assert [item["id"] for item in listed["items"]] == [n["id"]]
    money_alone = need(api, v["id"])
    assert (money_alone["quantity"], money_alone["unit"]) == (None, None)


def org_key(make: Any, scopes: list[str] | None = None) -> tuple[int, str]:
    organization = make.organization()
    return organization["id"], make.api_key(organization["id"], scopes or ["programmes:read", "programmes:write"])


def test_bad_input_on_every_field_is_a_422_naming_it_and_writes_nothing(api: ApiClient) -> None:
    v = village(api)
    good = {"village_id": v["id"], "title": "饮水工程", "category": "drinking_water", "amount": "20000.00",
            "due_on": "2027-01-31", "priority": "normal"}
    for field, bad in [("village_id", "x"), ("village_id", 999999), ("title", ""), ("title", "x" * 201),
                       ("category", "rockets"), ("amount", 20000), ("amount", "0.00"), ("amount", "1.234"),
                       ("due_on", "2027-02-30"), ("priority", "urgent"), ("description", "x" * 4001),
                       ("quantity", "0"), ("quantity", 35), ("quantity", "1.2345"), ("unit", "x" * 33)]:
        assert_problem(api.post(f"{API}/needs", json={**good, "quantity": "35", "unit": "盏", field: bad}), 422, field)
    # Goods come with their unit, and a unit with its quantity.
    assert_problem(api.post(f"{API}/needs", json={**good, "quantity": "35"}), 422, "unit")
    assert_problem(api.post(f"{API}/needs", json={**good, "unit": "盏"}), 422, "quantity")
    assert_problem(api.post(f"{API}/needs", json={**good, "colour": "red"}), 422, "colour")
    for field, bad in [("name", ""), ("township", None), ("weak", "yes")]:
        assert_problem(api.post(f"{API}/villages", json={"name": "新村", "township": "顺安镇", field: bad}), 422, field)
    assert assert_ok(api.get(f"{API}/needs"))["items"] == []
    n = need(api, v["id"])
    for body, field in [({"amount": "1e3"}, "amount"), ({}, "amount"), ({"amount": "10.00", "due_on": "tomorrow"},
                                                                        "due_on"),
                        ({"amount": "10.00", "organization_id": "1"}, "organization_id")]:
        assert_problem(api.post(f"{API}/needs/{n['id']}/claims", json=body), 422, field)
    assert assert_ok(api.get(f"{API}/claims"))["items"] == []


def test_the_bureau_alone_lists_villages_and_posts_needs(api: ApiClient, make: Any) -> None:
    _, key = org_key(make)
    assert_problem(api.post(f"{API}/villages", json={"name": "新村", "township": "顺安镇"}, key=key), 403)
    v = village(api)
    assert_problem(api.post(f"{API}/needs", key=key, json={
        "village_id": v["id"], "title": "路灯", "category": "lighting", "amount": "300.00", "due_on": "2027-01-31"}),
        403)
    assert_problem(api.post(f"{API}/villages", json={"name": "红旗村", "township": "钟鸣镇"}), 409)


def test_a_claim_moves_pledged_in_progress_fulfilled_and_is_signed_off(api: ApiClient, make: Any) -> None:
    organization_id, key = org_key(make)
    n = need(api, village(api)["id"], amount="3500.00")
    as_org = api.with_key(key)
    claim = assert_ok(as_org.post(f"{API}/needs/{n['id']}/claims", json={"amount": "1200.00"}), 201)
    assert (claim["status"], claim["amount"], claim["organization_id"]) == ("pledged", "1200.00", organization_id)
    assert claim["due_on"] == "2027-03-31"
    shown = assert_ok(api.get(f"{API}/needs/{n['id']}"))
    assert (shown["pledged"], shown["open"], shown["status"]) == ("1200.00", "2300.00", "open")
    problem = assert_problem(as_org.post(f"{API}/needs/{n['id']}/claims", json={"amount": "2300.01"}), 409)
    assert problem["code"] == "claim_exceeds_open" and "2300.00" in problem["detail"]
    rest = assert_ok(as_org.post(f"{API}/needs/{n['id']}/claims", json={"amount": "2300.00"}), 201)
    assert assert_ok(api.get(f"{API}/needs/{n['id']}"))["status"] == "fully_pledged"

    assert assert_ok(as_org.post(f"{API}/claims/{claim['id']}/start", json={}))["status"] == "in_progress"
    assert_problem(as_org.post(f"{API}/claims/{claim['id']}/start", json={}), 409)
    assert_problem(api.post(f"{API}/claims/{claim['id']}/sign-off", json={}), 409)  # not fulfilled yet
    done = assert_ok(as_org.post(f"{API}/claims/{claim['id']}/fulfil", json={"note": "10 盏已安装"}))
    assert (done["status"], done["note"]) == ("fulfilled", "10 盏已安装")
    assert_problem(as_org.post(f"{API}/claims/{claim['id']}/sign-off", json={}), 403)  # the bureau signs off
    signed = assert_ok(api.post(f"{API}/claims/{claim['id']}/sign-off", json={}))
    assert signed["signed_off_at"]
    assert assert_ok(api.get(f"{API}/needs/{n['id']}"))["signed_off"] == "1200.00"
    assert_problem(api.post(f"{API}/claims/{claim['id']}/sign-off", json={}), 409)
    assert_problem(as_org.post(f"{API}/claims/{claim['id']}/withdraw", json={}), 409)

    withdrawn = assert_ok(as_org.post(f"{API}/claims/{rest['id']}/withdraw", json={"note": "资金未到位"}))
    assert withdrawn["status"] == "withdrawn"
    shown = assert_ok(api.get(f"{API}/needs/{n['id']}"))
    assert (shown["pledged"], shown["open"], shown["status"]) == ("1200.00", "2300.00", "open")


def test_another_organisations_claim_answers_404(api: ApiClient, make: Any) -> None:
    _, key = org_key(make)
    _, other = org_key(make)
    n = need(api, village(api)["id"])
    claim = assert_ok(api.with_key(key).post(f"{API}/needs/{n['id']}/claims", json={"amount": "100.00"}), 201)
    as_other = api.with_key(other)
    assert_problem(as_other.get(f"{API}/claims/{claim['id']}"), 404)
    for step in ("start", "fulfil", "withdraw"):
        assert_problem(as_other.post(f"{API}/claims/{claim['id']}/{step}", json={}), 404)
    assert assert_ok(as_other.get(f"{API}/claims"))["items"] == []
    assert_problem(as_other.post(f"{API}/needs/{n['id']}/claims", json={"amount": "1.00",
                                                                        "organization_id": 1}), 422,
                   "organization_id")
    reader = make.api_key(make.organization()["id"], ["programmes:read"])
    assert_problem(api.with_key(reader).post(f"{API}/needs/{n['id']}/claims", json={"amount": "1.00"}), 403)
    assert_problem(api.get(f"{API}/needs/999999"), 404)
    assert_problem(api.get(f"{API}/villages/0"), 404)


def test_a_closed_need_takes_no_claim(api: ApiClient, make: Any) -> None:
    _, key = org_key(make)
    n = need(api, village(api)["id"])
    closed = assert_ok(api.post(f"{API}/needs/{n['id']}/close"))
    assert (closed["status"], closed["open"]) == ("closed", "0.00")
    assert assert_problem(api.with_key(key).post(f"{API}/needs/{n['id']}/claims", json={"amount": "1.00"}),
                          409)["code"] == "need_closed"


def test_a_claim_is_replayed_for_its_idempotency_key(api: ApiClient, make: Any) -> None:
    _, key = org_key(make)
    n = need(api, village(api)["id"], amount="500.00")
    as_org = api.with_key(key)
    headers = {"Idempotency-Key": "claim-1"}
    first = as_org.post(f"{API}/needs/{n['id']}/claims", json={"amount": "300.00"}, headers=headers)
    again = as_org.post(f"{API}/needs/{n['id']}/claims", json={"amount": "300.00"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201) and first.json == again.json
    assert assert_ok(api.get(f"{API}/needs/{n['id']}"))["pledged"] == "300.00"


def test_the_need_cap_lets_the_claiming_organisations_funds_pay_for_it(api: ApiClient, make: Any) -> None:
    """A disbursement naming the need is within the organisation's pledge; the need shows it paid."""
    organization_id, key = org_key(make, ["programmes:read", "programmes:write", "donations:read",
                                          "donations:write", "funds:read"])
    approver = make.api_key(organization_id, ["donations:read", "disbursements:approve"])
    fund = make.fund(organization_id)
    make.donation(fund["code"], "5000.00")
    n = need(api, village(api)["id"], amount="3500.00")
    as_org = api.with_key(key)
    claim = assert_ok(as_org.post(f"{API}/needs/{n['id']}/claims", json={"amount": "1000.00"}), 201)

    def request(amount: str) -> dict[str, Any]:
        return assert_ok(as_org.post("/donations/api/v1/disbursements", json={
            "fund_code": fund["code"], "amount": amount, "payee": "红旗村村委会", "purpose": "路灯",
            "need_id": n["id"]}), 201)

    first = request("600.00")
    assert first["need_id"] == n["id"]
    assert_ok(api.with_key(approver).post(f"/donations/api/v1/disbursements/{first['id']}/approve"))
    assert_ok(as_org.post(f"/donations/api/v1/disbursements/{first['id']}/pay",
                          json={"paid_on": today().isoformat(), "bank_reference": "B-1"}))
    assert assert_ok(api.get(f"{API}/needs/{n['id']}"))["paid"] == "600.00"
    second = as_org.post("/donations/api/v1/disbursements", json={
        "fund_code": fund["code"], "amount": "400.01", "payee": "红旗村村委会", "purpose": "路灯", "need_id": n["id"]})
    assert second.status_code == 409, second.get_data(as_text=True)
    # Money paid for the claim: withdrawing it would leave the payment beyond the pledge.
    problem = assert_problem(as_org.post(f"{API}/claims/{claim['id']}/withdraw", json={}), 409)
    assert problem["code"] == "cap_below_committed"
    assert assert_ok(as_org.get(f"{API}/claims/{claim['id']}"))["status"] == "pledged"
