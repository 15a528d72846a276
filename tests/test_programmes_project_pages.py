"""The micro projects' pages, driven as people would: proposed through the form, approved by another user,
a milestone reported and accepted, the ledger's paid figures shown; refusals beside their fields, in
Chinese, writing nothing; another organisation's project not found. Checked through the public API."""

from __future__ import annotations

import re
from typing import Any

from helpers import field_errors, text
from tests.helpers import assert_ok
from shared.dates import today
from tests.test_programmes_pages import API, logged_in, post

CODE = "XM-PG-001"
DISBURSEMENTS = "/donations/api/v1/disbursements"


def proposal(fund: str, village_id: int, **changes: str) -> dict[str, str]:
    return {"code": CODE.lower(), "name": "红旗村小学教学提升", "fund_code": fund, "village_id": str(village_id),
            "team_id": "", "starts_on": "2026-09-01", "ends_on": "2027-06-30", "description": "添置设备",
            "line_name_1": "教学设备", "line_amount_1": "6,000", "line_name_2": "教师培训", "line_amount_2": "¥4000",
            "milestone_name_1": "设备到位", "milestone_due_on_1": "2026-12-31", "milestone_instalment_1": "6000",
            "milestone_name_2": "培训完成", "milestone_due_on_2": "2027-06-30", "milestone_instalment_2": "4,000.00",
            "submission_id": "projectform0001", **changes}


def test_a_project_is_proposed_approved_reported_accepted_and_paid_through_the_pages(
        api: Any, gateway: Any, make: Any) -> None:
    org = make.organization("Pages Project Chamber")
    fund = make.fund(org["id"])["code"]
    make.donation(fund, "50000.00")
    village = assert_ok(api.post(f"{API}/villages", json={"name": "红旗村", "township": "钟鸣镇"}), 201)
    manager = logged_in(gateway, make, "fund_manager", org["id"], "proj.manager")
    approver = logged_in(gateway, make, "approver", org["id"], "proj.approver")

    # A refused proposal: each refusal beside its field, in Chinese; nothing written.
    for name, changes in (("ends_on", {"ends_on": "2026-01-01"}), ("line_amount_2", {"line_amount_2": "abc"}),
                          ("milestone_name_2", {"milestone_name_2": ""})):
        refused = post(manager, "/programmes/projects/new",
                       proposal(fund, village["id"], **changes, submission_id=f"projectform{name[:4]}"),
                       "/programmes/projects/new")
        assert refused.status_code == 422, refused.get_data(as_text=True)
        beside = field_errors(refused, name)
        assert re.search(r"[\u4e00-\u9fff]", beside), (name, beside)
    assert 'value="abc"' in post(manager, "/programmes/projects/new", proposal(fund, village["id"], line_amount_2="abc", submission_id="projectformabc0"), "/programmes/projects/new").get_data(as_text=True)
    assert api.get(f"{API}/projects/{CODE}").status_code == 404

    made = post(manager, "/programmes/projects/new", proposal(fund, village["id"]), "/programmes/projects/new")
    assert made.status_code == 302, made.get_data(as_text=True)
    assert made.headers["Location"].endswith(f"/programmes/projects/{CODE}")
    project = api.get(f"{API}/projects/{CODE}").json
    assert (project["status"], project["village_id"], project["fund_code"]) == ("draft", village["id"], fund)
    assert [(x["name"], x["amount"]) for x in project["lines"]] == [("教学设备", "6000.00"), ("教师培训", "4000.00")]
    assert [(m["name"], m["instalment"]) for m in project["milestones"]] == [("设备到位", "6000.00"),
                                                                           ("培训完成", "4000.00")]
    listed = text(manager.get("/programmes/projects"))
    assert f'id="project-{CODE}"' in listed and re.search(r'id="total-budget">¥10,000.00<', listed)
    assert "草稿" in listed

    # The proposer sees no approve button; an approver of the organisation approves.
    assert 'id="approve"' not in manager.get(f"/programmes/projects/{CODE}").get_data(as_text=True)
    page = f"/programmes/projects/{CODE}"
    approved = post(approver, f"{page}/approve", {}, page)
    assert approved.status_code == 302, approved.get_data(as_text=True)
    assert api.get(f"{API}/projects/{CODE}").json["status"] == "approved"

    reported = post(manager, f"{page}/milestones/1/report", {"report": "设备已到位"}, page)
    assert reported.status_code == 302, reported.get_data(as_text=True)
    accepted = post(approver, f"{page}/milestones/1/accept", {}, page)
    assert accepted.status_code == 302, accepted.get_data(as_text=True)
    milestone = api.get(f"{API}/projects/{CODE}").json["milestones"][0]
    assert (milestone["status"], milestone["report"]) == ("accepted", "设备已到位")
    # Accepting twice is refused on the page, in Chinese.
    again = post(approver, f"{page}/milestones/1/accept", {}, page)
    assert again.status_code == 409 and re.search(r'id="error">[^<]*[\u4e00-\u9fff]', text(again))

    # Paid through the ledger: the line's paid figure, remaining and bar.
    clerk = api.with_key(make.api_key(org["id"], ["donations:read", "donations:write"], "clerk"))
    boss = api.with_key(make.api_key(org["id"], ["donations:read", "disbursements:approve"], "boss"))
    made = assert_ok(clerk.post(DISBURSEMENTS, json={
        "fund_code": fund, "amount": "1500.00", "payee": "铜陵某教育设备公司", "purpose": "采购教学设备",
        "project_code": CODE, "budget_line": "教学设备"}), 201)
    assert_ok(boss.post(f"{DISBURSEMENTS}/{made['id']}/approve"))
    assert_ok(clerk.post(f"{DISBURSEMENTS}/{made['id']}/pay", json={"paid_on": today().isoformat(), "bank_reference": "B-1"}))
    shown = text(manager.get(page))
    row = re.search(r'<tr id="line-1">(.*?)</tr>', shown, re.S).group(1)  # type: ignore[union-attr]
    assert "¥1,500.00" in row and "¥4,500.00" in row and "25.0%" in row, row
    assert re.search(r'id="total-paid">¥1,500.00<', shown)
    assert "已验收" in shown

    # Another organisation's user: not found.
    other = logged_in(gateway, make, "fund_manager", make.organization("Other Project Chamber")["id"], "proj.other")
    assert other.get(page).status_code == 404
    assert f'id="project-{CODE}"' not in other.get("/programmes/projects").get_data(as_text=True)
