"""Micro public-welfare projects through the programmes API (微公益创投): proposed, approved by someone else,
paid by instalments as milestones are accepted, never beyond a budget line (also when approvals race),
stopped, amended, closed."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import httpx

from shared.dates import today
from tests.conftest import ADMIN_KEY, ApiClient, Factory, LiveServer
from tests.helpers import assert_ok, assert_problem

API = "/programmes/api/v1"
DISBURSEMENTS = "/donations/api/v1/disbursements"
CODE = "XM-2026-001"
EQUIPMENT, TRAINING = "教学设备", "教师培训"


@dataclass
class Org:
    id: int
    fund: str
    writer: ApiClient  # the implementing organisation's clerk: proposes, reports, requests payments
    approver: ApiClient


def organisation(api: ApiClient, make: Factory, amount: str = "100000.00") -> Org:
    organization = make.organization()
    fund = make.fund(organization["id"])
    make.donation(fund["code"], amount)
    writer = make.api_key(organization["id"], ["programmes:read", "programmes:write", "donations:read",
                                               "donations:write"], "clerk")
    approver = make.api_key(organization["id"], ["programmes:read", "disbursements:approve", "donations:read"],
                            "approver")
    return Org(organization["id"], fund["code"], api.with_key(writer), api.with_key(approver))


def village(api: ApiClient) -> dict[str, Any]:
    return assert_ok(api.post(f"{API}/villages", json={"name": "红旗村", "township": "钟鸣镇"}), 201)


def body(org: Org, code: str = CODE, **extra: Any) -> dict[str, Any]:
    return {"code": code, "name": "红旗村小学教学提升", "fund_code": org.fund, "starts_on": "2026-09-01",
            "ends_on": "2027-06-30", "description": "为村小添置设备并培训教师",
            "lines": [{"name": EQUIPMENT, "amount": "6000.00"}, {"name": TRAINING, "amount": "4000.00"}],
            "milestones": [{"name": "设备到位", "due_on": "2026-12-31", "instalment": "6000.00"},
                           {"name": "培训完成", "due_on": "2027-06-30", "instalment": "4000.00"}], **extra}


def propose(org: Org, code: str = CODE, **extra: Any) -> dict[str, Any]:
    return assert_ok(org.writer.post(f"{API}/projects", json=body(org, code, **extra)), 201)


def line(project: dict[str, Any], name: str) -> dict[str, Any]:
    return next(item for item in project["lines"] if item["name"] == name)


def request(org: Org, amount: str, budget_line: str = EQUIPMENT, code: str = CODE) -> Any:
    return org.writer.post(DISBURSEMENTS, json={
        "fund_code": org.fund, "amount": amount, "payee": "铜陵某教育设备公司", "purpose": "采购教学设备",
        "project_code": code, "budget_line": budget_line})


def pay(org: Org, amount: str, budget_line: str = EQUIPMENT) -> dict[str, Any]:
    made = assert_ok(request(org, amount, budget_line), 201)
    assert_ok(org.approver.post(f"{DISBURSEMENTS}/{made['id']}/approve"))
    return assert_ok(org.writer.post(f"{DISBURSEMENTS}/{made['id']}/pay",
                                     json={"paid_on": today().isoformat(), "bank_reference": f"B-{made['id']}"}))


def refused(response: Any, code: str, status: int = 409) -> dict[str, Any]:
    problem = assert_problem(response, status)
    assert problem["code"] == code, problem
    return problem


def accept(org: Org, n: int, code: str = CODE) -> dict[str, Any]:
    assert_ok(org.writer.post(f"{API}/projects/{code}/milestones/{n}/report", json={"report": f"第{n}阶段完成"}))
    return assert_ok(org.approver.post(f"{API}/projects/{code}/milestones/{n}/accept"))


def test_a_project_is_proposed_approved_and_paid_by_instalments_within_its_lines(api: ApiClient,
                                                                                  make: Factory) -> None:
    org = organisation(api, make)
    v = village(api)
    draft = propose(org, village_id=v["id"])
    assert (draft["status"], draft["organization_id"], draft["fund_code"], draft["village_id"]) == (
        "draft", org.id, org.fund, v["id"])
    assert [(x["name"], x["amount"], x["approved"], x["paid"], x["remaining"], x["percent_of_plan"])
            for x in draft["lines"]] == [(EQUIPMENT, "6000.00", "0.00", "0.00", "0.00", "0.0"),
                                         (TRAINING, "4000.00", "0.00", "0.00", "0.00", "0.0")]
    assert [(m["n"], m["status"], m["instalment"], m["overdue"]) for m in draft["milestones"]] == [
        (1, "pending", "6000.00", False), (2, "pending", "4000.00", False)]
    assert draft["budget_version"] == 1 and [b["version"] for b in draft["budget_versions"]] == [1]
    # Nothing is payable from a draft.
    refused(request(org, "100.00"), "budget_line_unknown")
    # Its proposer cannot report on it yet, nor approve it.
    refused(org.writer.post(f"{API}/projects/{CODE}/milestones/1/report", json={"report": "x"}),
            "project_transition_invalid")
    assert_problem(org.writer.post(f"{API}/projects/{CODE}/approve"), 403)

    approved = assert_ok(org.approver.post(f"{API}/projects/{CODE}/approve"))
    assert approved["status"] == "approved"
    assert [(x["approved"], x["remaining"]) for x in approved["lines"]] == [("6000.00", "6000.00"),
                                                                            ("4000.00", "4000.00")]
    assert approved["payable"] == "0.00"
    refused(org.approver.post(f"{API}/projects/{CODE}/approve"), "project_transition_invalid")
    # No milestone accepted: nothing is payable yet.
    refused(request(org, "100.00"), "project_payable_exceeded")

    reported = assert_ok(org.writer.post(f"{API}/projects/{CODE}/milestones/1/report", json={"report": "设备已到位"}))
    assert reported["status"] == "in_progress"
    assert (reported["milestones"][0]["status"], reported["milestones"][0]["report"]) == ("reported", "设备已到位")
    refused(org.writer.post(f"{API}/projects/{CODE}/milestones/1/report", json={"report": "again"}),
            "milestone_transition_invalid")
    refused(org.approver.post(f"{API}/projects/{CODE}/milestones/2/accept"), "milestone_transition_invalid")
    refused(org.approver.post(f"{API}/projects/{CODE}/milestones/9/accept"), "milestone_not_found", 404)
    accepted = assert_ok(org.approver.post(f"{API}/projects/{CODE}/milestones/1/accept"))
    assert accepted["milestones"][0]["status"] == "accepted" and accepted["milestones"][0]["accepted_at"]
    assert accepted["payable"] == "6000.00"

    pay(org, "5000.00")
    shown = assert_ok(org.writer.get(f"{API}/projects/{CODE}"))
    equipment = line(shown, EQUIPMENT)
    assert (equipment["approved"], equipment["paid"], equipment["remaining"], equipment["percent_of_plan"]) == (
        "6000.00", "5000.00", "1000.00", "83.3")
    assert (shown["paid"], shown["percent_of_plan"]) == ("5000.00", "50.0")
    # Beyond the accepted instalments (6000 - 5000) though within its line: refused.
    refused(request(org, "1000.01", TRAINING), "project_payable_exceeded")
    # The second milestone accepted, beyond the line's remainder though within the instalments: refused.
    assert accept(org, 2)["payable"] == "10000.00"
    problem = refused(request(org, "1000.01"), "budget_line_exceeded")
    assert "has 1000.00 CNY left" in problem["detail"]
    within = assert_ok(request(org, "1000.00", TRAINING), 201)
    assert_ok(org.approver.post(f"{DISBURSEMENTS}/{within['id']}/approve"))
    assert line(assert_ok(org.writer.get(f"{API}/projects/{CODE}")), TRAINING)["remaining"] == "3000.00"


def test_a_stopped_project_cancels_its_unpaid_instalments_and_records_what_to_recover(api: ApiClient,
                                                                                       make: Factory) -> None:
    org = organisation(api, make)
    propose(org)
    assert_ok(org.approver.post(f"{API}/projects/{CODE}/approve"))
    accept(org, 1)
    pay(org, "2000.00")
    approved_unpaid = assert_ok(request(org, "1000.00"), 201)
    assert_ok(org.approver.post(f"{DISBURSEMENTS}/{approved_unpaid['id']}/approve"))
    assert_ok(org.writer.post(f"{API}/projects/{CODE}/milestones/2/report", json={"report": "培训开始"}))
    assert_problem(org.writer.post(f"{API}/projects/{CODE}/stop", json={"reason": "x"}), 403)
    assert_problem(org.approver.post(f"{API}/projects/{CODE}/stop", json={}), 422, "reason")

    stopped = assert_ok(org.approver.post(f"{API}/projects/{CODE}/stop", json={"reason": "实施单位挪用资金"}))
    assert (stopped["status"], stopped["stop_reason"]) == ("stopped", "实施单位挪用资金")
    assert [m["status"] for m in stopped["milestones"]] == ["accepted", "cancelled"]
    # The lines hold what is already approved or paid, nothing more.
    assert [(x["approved"], x["remaining"]) for x in stopped["lines"]] == [("3000.00", "0.00"), ("0.00", "0.00")]
    refused(request(org, "0.01"), "project_payable_exceeded")
    refused(org.approver.post(f"{API}/projects/{CODE}/stop", json={"reason": "again"}), "project_transition_invalid")
    refused(org.approver.post(f"{API}/projects/{CODE}/milestones/2/accept"), "project_transition_invalid")
    # The approved payment may still be paid (it was promised before the stop).
    assert_ok(org.writer.post(f"{DISBURSEMENTS}/{approved_unpaid['id']}/pay",
                              json={"paid_on": today().isoformat(), "bank_reference": "B-LAST"}))

    recovered = assert_ok(org.approver.post(f"{API}/projects/{CODE}/recoveries",
                                            json={"amount": "1200.00", "reason": "挪作他用"}), 201)
    assert recovered["to_recover"] == "1200.00"
    assert [(r["amount"], r["reason"]) for r in recovered["recoveries"]] == [("1200.00", "挪作他用")]
    problem = refused(org.approver.post(f"{API}/projects/{CODE}/recoveries",
                                        json={"amount": "1800.01", "reason": "超额"}), "recovery_exceeds_paid")
    assert "3000.00" in problem["detail"]
    assert_problem(org.approver.post(f"{API}/projects/{CODE}/recoveries", json={"amount": "0.00", "reason": "x"}),
                   422, "amount")


def test_an_amendment_is_approved_by_someone_else_and_kept_as_a_version(api: ApiClient, make: Factory) -> None:
    org = organisation(api, make)
    propose(org)
    assert_ok(org.approver.post(f"{API}/projects/{CODE}/approve"))
    accept(org, 1)
    pay(org, "3000.00")

    # The total stays the milestones' instalments.
    assert_problem(org.writer.post(f"{API}/projects/{CODE}/amendments", json={
        "lines": [{"name": EQUIPMENT, "amount": "6000.00"}], "reason": "x"}), 422, "lines")
    assert_problem(org.writer.post(f"{API}/projects/{CODE}/amendments", json={
        "lines": [{"name": EQUIPMENT, "amount": "5000.00"}, {"name": EQUIPMENT, "amount": "5000.00"}],
        "reason": "x"}), 422, "lines.1.name")
    # A line below what is already paid: the approval is refused, nothing changes.
    below = assert_ok(org.writer.post(f"{API}/projects/{CODE}/amendments", json={
        "lines": [{"name": EQUIPMENT, "amount": "2000.00"}, {"name": TRAINING, "amount": "8000.00"}],
        "reason": "设备降价"}), 201)
    assert (below["version"], below["status"]) == (2, "requested")
    refused(org.writer.post(f"{API}/projects/{CODE}/amendments", json={
        "lines": [{"name": EQUIPMENT, "amount": "10000.00"}], "reason": "x"}), "amendment_pending")
    refused(org.approver.post(f"{API}/projects/{CODE}/amendments/2/approve"), "cap_below_committed")
    shown = assert_ok(org.writer.get(f"{API}/projects/{CODE}"))
    assert shown["budget_version"] == 1 and line(shown, EQUIPMENT)["approved"] == "6000.00"
    rejected = assert_ok(org.approver.post(f"{API}/projects/{CODE}/amendments/2/reject"))
    assert [a["status"] for a in rejected["amendments"]] == ["rejected"]

    assert_ok(org.writer.post(f"{API}/projects/{CODE}/amendments", json={
        "lines": [{"name": EQUIPMENT, "amount": "3500.00"}, {"name": "教材", "amount": "6500.00"}],
        "reason": "培训改为教材"}), 201)
    amended = assert_ok(org.approver.post(f"{API}/projects/{CODE}/amendments/3/approve"))
    assert amended["budget_version"] == 3
    assert [(x["name"], x["amount"], x["approved"], x["paid"], x["remaining"]) for x in amended["lines"]] == [
        (EQUIPMENT, "3500.00", "3500.00", "3000.00", "500.00"), ("教材", "6500.00", "6500.00", "0.00", "6500.00")]
    assert [(b["version"], b["current"], [(x["name"], x["amount"]) for x in b["lines"]])
            for b in amended["budget_versions"]] == [
        (1, False, [(EQUIPMENT, "6000.00"), (TRAINING, "4000.00")]),
        (3, True, [(EQUIPMENT, "3500.00"), ("教材", "6500.00")])]
    refused(request(org, "500.01"), "budget_line_exceeded")
    refused(request(org, "1.00", TRAINING), "budget_line_exceeded")  # a removed line holds nothing
    refused(org.approver.post(f"{API}/projects/{CODE}/amendments/3/approve"), "amendment_not_requested")
    refused(org.approver.post(f"{API}/projects/{CODE}/amendments/7/approve"), "amendment_not_found", 404)


def test_the_requester_of_an_amendment_and_the_proposer_of_a_project_do_not_approve_them(
        api: ApiClient, make: Factory) -> None:
    org = organisation(api, make)
    lead = api.with_key(make.api_key(org.id, ["programmes:read", "programmes:write", "disbursements:approve"],
                                     "lead"))
    assert_ok(lead.post(f"{API}/projects", json=body(org)), 201)
    refused(lead.post(f"{API}/projects/{CODE}/approve"), "own_project_approval", 403)
    assert_ok(org.approver.post(f"{API}/projects/{CODE}/approve"))
    assert_ok(lead.post(f"{API}/projects/{CODE}/amendments", json={
        "lines": [{"name": EQUIPMENT, "amount": "10000.00"}], "reason": "合并科目"}), 201)
    refused(lead.post(f"{API}/projects/{CODE}/amendments/2/approve"), "own_amendment_approval", 403)
    assert_ok(lead.post(f"{API}/projects/{CODE}/milestones/1/report", json={"report": "完成"}))
    refused(lead.post(f"{API}/projects/{CODE}/milestones/1/accept"), "own_milestone_acceptance", 403)
    # The admin's own proposal is no different.
    assert_ok(api.post(f"{API}/projects", json={**body(org, "XM-2026-002"), "organization_id": org.id}), 201)
    refused(api.post(f"{API}/projects/XM-2026-002/approve"), "own_project_approval", 403)
    assert_ok(org.approver.post(f"{API}/projects/XM-2026-002/approve"))


def test_a_project_closes_with_its_final_report_and_where_its_leftover_goes(api: ApiClient, make: Factory) -> None:
    org = organisation(api, make)
    propose(org)
    assert_ok(org.approver.post(f"{API}/projects/{CODE}/approve"))
    accept(org, 1)
    pay(org, "5500.00")
    refused(org.writer.post(f"{API}/projects/{CODE}/close", json={"final_report": "完成", "leftover_to": "X"}),
            "milestones_unfinished")
    accept(org, 2)
    pay(org, "3800.00", TRAINING)
    closing = assert_ok(org.writer.post(f"{API}/projects/{CODE}/closing"))
    assert closing["status"] == "closing"
    problem = assert_problem(org.writer.post(f"{API}/projects/{CODE}/close", json={"final_report": "全部完成"}),
                             422, "leftover_to")
    assert "700.00" in problem["errors"]["leftover_to"][0]
    closed = assert_ok(org.writer.post(f"{API}/projects/{CODE}/close", json={
        "final_report": "全部完成", "leftover_to": "结余转入红旗村二期教学项目"}))
    assert (closed["status"], closed["final_report"], closed["leftover_to"]) == (
        "complete", "全部完成", "结余转入红旗村二期教学项目")
    assert closed["closed_at"] and closed["paid"] == "9300.00"
    # Nothing more is paid for it.
    assert [x["remaining"] for x in closed["lines"]] == ["0.00", "0.00"]
    refused(request(org, "0.01"), "project_payable_exceeded")
    refused(org.writer.post(f"{API}/projects/{CODE}/close", json={"final_report": "x", "leftover_to": "y"}),
            "project_transition_invalid")
    listed = assert_ok(org.writer.get(f"{API}/projects", query_string={"status": "complete"}))
    assert [item["code"] for item in listed["items"]] == [CODE]
    assert assert_ok(org.writer.get(f"{API}/projects", query_string={"status": "draft"}))["items"] == []


def test_bad_input_on_every_field_is_a_422_naming_it_and_writes_nothing(api: ApiClient, make: Factory) -> None:
    org = organisation(api, make)
    other = organisation(api, make)
    good = body(org)
    lines, milestones = good["lines"], good["milestones"]
    for field, bad, named in [
        ("code", "x", "code"), ("code", "xm-lower", "code"), ("name", "", "name"), ("name", "x" * 201, "name"),
        ("organization_id", "1", "organization_id"), ("organization_id", other.id, "organization_id"),
        ("village_id", 999999, "village_id"), ("village_id", "x", "village_id"), ("team_id", 999999, "team_id"),
        ("fund_code", "NO-SUCH-FUND", "fund_code"), ("fund_code", other.fund, "fund_code"),
        ("fund_code", None, "fund_code"), ("starts_on", "2026-02-30", "starts_on"),
        ("ends_on", "2026-08-31", "ends_on"), ("description", "x" * 4001, "description"),
        ("lines", [], "lines"), ("lines", "x", "lines"), ("lines", ["x"], "lines.0"),
        ("lines", [lines[0], {**lines[1], "amount": "1.234"}], "lines.1.amount"),
        ("lines", [lines[0], {**lines[1], "amount": 4000}], "lines.1.amount"),
        ("lines", [lines[0], {**lines[1], "name": EQUIPMENT}], "lines.1.name"),
        ("lines", [lines[0], {**lines[1], "name": ""}], "lines.1.name"),
        ("lines", [lines[0], {**lines[1], "colour": "red"}], "lines.1.colour"),
        ("milestones", [], "milestones"), ("milestones", milestones[:1], "milestones"),
        ("milestones", [milestones[0], {**milestones[1], "due_on": "soon"}], "milestones.1.due_on"),
        ("milestones", [{**milestones[0], "instalment": "0.00"}, milestones[1]], "milestones.0.instalment"),
        ("colour", "red", "colour"),
    ]:
        assert_problem(org.writer.post(f"{API}/projects", json={**good, field: bad}), 422, named)
    for missing in ("code", "name", "fund_code", "starts_on", "ends_on", "lines", "milestones"):
        assert_problem(org.writer.post(f"{API}/projects", json={k: v for k, v in good.items() if k != missing}),
                       422, missing)
    assert assert_ok(api.get(f"{API}/projects"))["items"] == []
    propose(org)
    refused(org.writer.post(f"{API}/projects", json=good), "project_code_taken")
    assert_problem(org.writer.get(f"{API}/projects", query_string={"status": "dreaming"}), 422, "status")


def test_another_organisations_project_answers_404(api: ApiClient, make: Factory) -> None:
    org = organisation(api, make)
    other = organisation(api, make)
    propose(org)
    refused(other.writer.get(f"{API}/projects/{CODE}"), "project_not_found", 404)
    refused(other.approver.post(f"{API}/projects/{CODE}/approve"), "project_not_found", 404)
    refused(other.writer.post(f"{API}/projects/{CODE}/milestones/1/report", json={"report": "x"}),
            "project_not_found", 404)
    assert assert_ok(other.writer.get(f"{API}/projects"))["items"] == []
    assert [item["code"] for item in assert_ok(api.get(f"{API}/projects",
                                                       query_string={"organization_id": org.id}))["items"]] == [CODE]
    assert [item["code"] for item in assert_ok(api.get(f"{API}/projects",
                                                       query_string={"fund_code": org.fund}))["items"]] == [CODE]
    refused(org.writer.get(f"{API}/projects/XM-NONE"), "project_not_found", 404)


def test_a_proposal_is_replayed_for_its_idempotency_key(api: ApiClient, make: Factory) -> None:
    org = organisation(api, make)
    headers = {"Idempotency-Key": "project-1"}
    first = org.writer.post(f"{API}/projects", json=body(org), headers=headers)
    again = org.writer.post(f"{API}/projects", json=body(org), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201) and first.json == again.json
    assert_problem(org.writer.post(f"{API}/projects", json=body(org, "XM-OTHER"), headers=headers), 422)
    assert len(assert_ok(org.writer.get(f"{API}/projects"))["items"]) == 1


RACERS = 20


def test_approvals_racing_at_one_line_never_exceed_it(live_server: LiveServer) -> None:
    base = live_server.base_url
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=base, timeout=60) as http:
        def ok(response: httpx.Response, status: int = 200) -> Any:
            assert response.status_code == status, response.text
            return response.json()

        organization = ok(http.post("/funds/api/v1/organizations", headers=admin,
                                    json={"name": "项目并发商会", "kind": "chamber_of_commerce"}), 201)
        ok(http.post("/funds/api/v1/funds", headers=admin, json={
            "code": "XM-RACE-FUND", "name": "项目并发基金", "kind": "chamber_named",
            "organization_id": organization["id"], "purpose": "助学", "restricted": False}), 201)
        ok(http.post("/donations/api/v1/donations", headers=admin, json={
            "fund_code": "XM-RACE-FUND", "amount": "100000.00", "currency": "CNY",
            "donor": {"name": "某公司", "kind": "enterprise", "anonymous": False},
            "received_on": "2026-08-03", "channel": "bank"}), 201)

        def key(name: str, scopes: list[str]) -> dict[str, str]:
            made = ok(http.post(f"/funds/api/v1/organizations/{organization['id']}/api-keys", headers=admin,
                                json={"name": name, "scopes": scopes}), 201)
            return {"Authorization": f"Bearer {made['key']}"}

        clerk = key("clerk", ["programmes:read", "programmes:write", "donations:read", "donations:write"])
        approver = key("approver", ["programmes:read", "disbursements:approve", "donations:read"])
        ok(http.post(f"{API}/projects", headers=clerk, json={
            "code": CODE, "name": "并发项目", "fund_code": "XM-RACE-FUND", "starts_on": "2026-09-01",
            "ends_on": "2027-06-30", "lines": [{"name": EQUIPMENT, "amount": "1000.00"},
                                               {"name": TRAINING, "amount": "9000.00"}],
            "milestones": [{"name": "全部", "due_on": "2027-06-30", "instalment": "10000.00"}]}), 201)
        ok(http.post(f"{API}/projects/{CODE}/approve", headers=approver))
        ok(http.post(f"{API}/projects/{CODE}/milestones/1/report", headers=clerk, json={"report": "完成"}))
        ok(http.post(f"{API}/projects/{CODE}/milestones/1/accept", headers=approver))
        ids = [ok(http.post(DISBURSEMENTS, headers=clerk, json={
            "fund_code": "XM-RACE-FUND", "amount": "100.00", "payee": "某设备公司", "purpose": "教学设备",
            "project_code": CODE, "budget_line": EQUIPMENT}), 201)["id"] for _ in range(RACERS)]

    start = threading.Barrier(RACERS)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def approve(disbursement_id: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            start.wait()
            response = client.post(f"{DISBURSEMENTS}/{disbursement_id}/approve", headers=approver)
            with lock:
                answers.append(response)

    threads = [threading.Thread(target=approve, args=(disbursement_id,)) for disbursement_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    statuses = sorted(response.status_code for response in answers)
    assert statuses == [200] * 10 + [409] * 10, [response.text for response in answers]
    with httpx.Client(base_url=base, timeout=60) as http:
        project = http.get(f"{API}/projects/{CODE}", headers=approver).json()
    equipment = line(project, EQUIPMENT)
    assert (equipment["reserved"], equipment["remaining"]) == ("1000.00", "0.00")


def test_a_project_with_the_longest_names_is_approved(api: ApiClient, make: Factory) -> None:
    """A line's cap is labelled with the project's and the line's names, 200 characters each."""
    org = organisation(api, make)
    long_line = "线" * 200
    assert_ok(org.writer.post(f"{API}/projects", json={
        **body(org), "name": "项" * 200, "lines": [{"name": long_line, "amount": "10000.00"}],
        "milestones": [{"name": "完成", "due_on": "2027-06-30", "instalment": "10000.00"}]}), 201)
    approved = assert_ok(org.approver.post(f"{API}/projects/{CODE}/approve"))
    assert [(x["name"], x["approved"]) for x in approved["lines"]] == [(long_line, "10000.00")]
