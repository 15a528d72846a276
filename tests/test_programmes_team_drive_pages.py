"""The assistance teams' and consumer-assistance drives' pages, driven as people would: a team formed and an
activity recorded, a drive started and a purchase of each kind recorded with its classified totals; a
refusal beside its field in Chinese writing nothing; another organisation's drive not found."""

from __future__ import annotations

import re
from typing import Any

from helpers import field_errors, text
from shared.dates import today
from tests.helpers import assert_ok
from tests.test_programmes_pages import API, logged_in, post


def test_a_team_is_formed_and_records_an_activity(api: Any, gateway: Any, make: Any) -> None:
    org = make.organization("Team Pages Chamber")
    make.fund(org["id"])
    village = assert_ok(api.post(f"{API}/villages", json={"name": "永丰村", "township": "顺安镇"}), 201)
    manager = logged_in(gateway, make, "fund_manager", org["id"], "team.manager")
    made = post(manager, "/programmes/teams/new", {
        "name": "永丰帮扶团", "member_organization_id_1": str(org["id"]), "member_role_1": "lead",
        "member_contribution_1": "资金", "village_ids": str(village["id"]), "submission_id": "teamform00000001"},
        "/programmes/teams/new")
    assert made.status_code == 302, made.get_data(as_text=True)
    team_id = int(made.headers["Location"].rsplit("/", 1)[1])
    page = f"/programmes/teams/{team_id}"
    recorded = post(manager, f"{page}/activities", {
        "on": today().isoformat(), "village_id": str(village["id"]), "kind": "visit", "people_helped": "12",
        "description": "走访留守老人", "volunteer_name_1": "张三", "volunteer_hours_1": "2.5",
        "volunteer_name_2": "李四", "volunteer_hours_2": "3", "submission_id": "activityform0001"}, page)
    assert recorded.status_code == 302, recorded.get_data(as_text=True)
    team = api.get(f"{API}/teams/{team_id}").json
    assert (team["totals"]["activities"], team["totals"]["people_helped"]) == (1, 12), team
    shown = text(manager.get(page))
    assert re.search(r'id="people-helped">12<', shown) and re.search(r'id="volunteer-hours">5.5<', shown)
    assert "张三" in shown and "走访" in shown
    # Hours beyond a day: refused beside the row's field, in Chinese; nothing recorded.
    refused = post(manager, f"{page}/activities", {
        "on": today().isoformat(), "village_id": str(village["id"]), "kind": "visit", "people_helped": "1",
        "volunteer_name_1": "王五", "volunteer_hours_1": "30", "submission_id": "activityform0002"}, page)
    assert refused.status_code == 422
    assert re.search(r"[\u4e00-\u9fff]", field_errors(refused, "volunteer_hours_1"))
    assert api.get(f"{API}/teams/{team_id}").json["totals"]["activities"] == 1
    assert f'id="team-{team_id}"' in manager.get("/programmes/teams").get_data(as_text=True)


def test_a_drive_records_a_purchase_of_each_kind_and_classifies_them(api: Any, gateway: Any, make: Any) -> None:
    org = make.organization("Drive Pages Chamber")
    fund = make.fund(org["id"])["code"]
    village = assert_ok(api.post(f"{API}/villages", json={"name": "黄桃村", "township": "西联镇"}), 201)
    manager = logged_in(gateway, make, "fund_manager", org["id"], "drive.manager")
    made = post(manager, "/programmes/drives/new", {
        "name": "黄桃消费帮扶", "village_id": str(village["id"]), "product": "黄桃", "unit": "筐",
        "unit_price": "50", "quantity": "1,000", "seller": "合作社", "submission_id": "driveform0000001"},
        "/programmes/drives/new")
    assert made.status_code == 302, made.get_data(as_text=True)
    drive_id = int(made.headers["Location"].rsplit("/", 1)[1])
    page = f"/programmes/drives/{drive_id}"
    day = today().isoformat()
    for n, (kind, quantity, amount, related) in enumerate((("market", "10", "500", ""),
                                                           ("given_on", "20", "1,100", "y"),
                                                           ("premium", "4", "¥260", ""))):
        data = {"quantity": quantity, "amount": amount, "kind": kind, "purchased_on": day, "fund_code": fund,
                "submission_id": f"purchaseform000{n}"}
        if related:
            data["related_party"] = related
        bought = post(manager, f"{page}/purchases", data, page)
        assert bought.status_code == 302, bought.get_data(as_text=True)
    shown = text(manager.get(page))
    assert re.search(r'id="exchange">¥500.00<', shown)
    assert re.search(r'id="charitable-spending">¥1,000.00<', shown)
    assert re.search(r'id="donation-of-difference">¥160.00<', shown)  # 100 given on + 60 premium
    assert re.search(r'id="paid-to-village">¥1,860.00<', shown) and re.search(r'id="bought">34<', shown)
    assert re.search(r'id="related-parties">1<', shown) and "须于" in shown
    # A market purchase not at market value: refused beside the amount, in Chinese; nothing written.
    refused = post(manager, f"{page}/purchases", {"quantity": "10", "amount": "499", "kind": "market",
                                                  "purchased_on": day, "submission_id": "purchaseform0009"}, page)
    assert refused.status_code == 422
    assert "500.00" in field_errors(refused, "amount") and re.search(r"[\u4e00-\u9fff]", field_errors(refused, "amount"))
    assert len(api.get(f"{API}/drives/{drive_id}/purchases").json["items"]) == 3
    # Another organisation's user: not found.
    other = logged_in(gateway, make, "fund_manager", make.organization("Other Drive Chamber")["id"], "drive.other")
    assert other.get(page).status_code == 404
