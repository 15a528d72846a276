"""Villages, needs and claims through the programmes API (点单, 接单, 回单)."""

from __future__ import annotations

from typing import Any

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
    n = need(api, v["id"])
    assert (n["amount"], n["pledged"], n["paid"], n["open"], n["status"]) == ("3500.00", "0.00", "0.00", "3500.00",
                                                                                "open")
    assert n["village"] == "红旗村" and n["township"] == "钟鸣镇"
    assert assert_ok(api.get(f"{API}/needs/{n['id']}"))["id"] == n["id"]
    listed = assert_ok(api.get(f"{API}/needs?village_id={v['id']}&status=open"))
    assert [item["id"] for item in listed["items"]] == [n["id"]]
