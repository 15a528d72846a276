"""Spending caps: a disbursement naming a project's budget line or a village's need is never
approved nor paid beyond what the programmes service allows (API.md, "Programmes service";
shared/contracts/caps.py), also when approvals race.

The caps are set here through the ledger's internal API, as the programmes service sets them;
everything else goes through the public API, as integrators use it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest

from shared.auth import internal_token
from shared.contracts.caps import need_cap_key, project_cap_key, project_line_cap_key
from shared.dates import today
from tests.conftest import ADMIN_KEY, SECRET_KEY, ApiClient, Factory, LiveServer
from tests.helpers import assert_ok, assert_problem
from tests.test_ledger_race import database_dsn

API = "/donations/api/v1"
INTERNAL = {"X-Internal-Token": internal_token(SECRET_KEY)}
PROJECT = "XM-2026-001"
LINE = "教学设备"


def set_cap(api: ApiClient, cap_key: str, kind: str, limit: str, version: int, *, organization_id: int,
            fund_code: str | None = None, clamp: bool = False) -> Any:
    return api.request("PUT", "/donations/internal/v1/caps", key=None, headers=INTERNAL, json={
        "cap_key": cap_key, "kind": kind, "fund_code": fund_code, "organization_id": organization_id,
        "limit": limit, "version": version, "clamp": clamp, "label": cap_key})


def figures(api: ApiClient, *cap_keys: str) -> dict[str, dict[str, Any]]:
    body = assert_ok(api.post("/donations/internal/v1/caps/figures", json={"cap_keys": list(cap_keys)}, key=None,
                              headers=INTERNAL))
    return {item["cap_key"]: item for item in body["items"]}


@dataclass
class Org:
    id: int
    fund: str
    clerk: ApiClient
    approver: ApiClient


def organisation(api: ApiClient, make: Factory, fund_code: str, amount: str = "100000.00") -> Org:
    organization = make.organization()
    fund = make.fund(organization["id"], fund_code)
    make.donation(fund["code"], amount)
    clerk = api.with_key(make.api_key(organization["id"], ["donations:read", "donations:write"], "clerk"))
    approver = api.with_key(make.api_key(organization["id"], ["donations:read", "disbursements:approve"], "approver"))
    return Org(organization["id"], fund["code"], clerk, approver)


def project_caps(api: ApiClient, org: Org, line_limit: str, payable: str = "50000.00", version: int = 1,
                 project: str = PROJECT) -> None:
    assert_ok(set_cap(api, project_cap_key(project), "project", payable, version, organization_id=org.id,
                      fund_code=org.fund))
    assert_ok(set_cap(api, project_line_cap_key(project, LINE), "project_line", line_limit, version,
                      organization_id=org.id, fund_code=org.fund))


def request(org: Org, amount: str, **fields: Any) -> Any:
    return org.clerk.post(f"{API}/disbursements", json={
        "fund_code": org.fund, "amount": amount, "payee": "钟鸣镇中心小学", "purpose": "采购教学设备", **fields})


def refused(response: Any, code: str, status: int = 409) -> dict[str, Any]:
    problem = assert_problem(response, status)
    assert problem["code"] == code, problem
    return problem


def test_a_line_reserves_on_approval_pays_on_payment_and_releases_on_rejection(api: ApiClient,
                                                                               make: Factory) -> None:
    org = organisation(api, make, "CAP-001")
    project_caps(api, org, "1000.00")
    line = project_line_cap_key(PROJECT, LINE)

    first = assert_ok(request(org, "600.00", project_code=PROJECT, budget_line=LINE), 201)
    assert (first["project_code"], first["budget_line"], first["need_id"]) == (PROJECT, LINE, None)
    assert figures(api, line)[line]["reserved"] == "0.00"  # a request reserves nothing

    assert_ok(org.approver.post(f"{API}/disbursements/{first['id']}/approve"))
    assert figures(api, line)[line] == {"cap_key": line, "limit": "1000.00", "reserved": "600.00", "paid": "0.00",
                                        "remaining": "400.00", "version": 1}

    # Beyond what is left: refused at once when requested...
    beyond = refused(request(org, "400.01", project_code=PROJECT, budget_line=LINE), "budget_line_exceeded")
    assert beyond["detail"] == (f"Budget line {LINE} of project {PROJECT} has 400.00 CNY left, less than the "
                                f"400.01 CNY of this disbursement.")
    # ...and when approved, what was requested within it while it was left.
    second = assert_ok(request(org, "400.00", project_code=PROJECT, budget_line=LINE), 201)
    third = assert_ok(request(org, "400.00", project_code=PROJECT, budget_line=LINE), 201)
    assert_ok(org.approver.post(f"{API}/disbursements/{second['id']}/approve"))
    refused(org.approver.post(f"{API}/disbursements/{third['id']}/approve"), "budget_line_exceeded")
    assert assert_ok(org.clerk.get(f"{API}/disbursements/{third['id']}"))["status"] == "requested"

    paid = assert_ok(org.clerk.post(f"{API}/disbursements/{first['id']}/pay",
                                    json={"paid_on": today().isoformat(), "bank_reference": "ICBC-1"}))
    assert paid["status"] == "paid"
    assert figures(api, line)[line]["reserved"] == "400.00" and figures(api, line)[line]["paid"] == "600.00"

    assert_ok(org.approver.post(f"{API}/disbursements/{second['id']}/reject", json={"reason": "发票不全"}))
    assert figures(api, line)[line] == {"cap_key": line, "limit": "1000.00", "reserved": "0.00", "paid": "600.00",
                                        "remaining": "400.00", "version": 1}
    assert_ok(org.approver.post(f"{API}/disbursements/{third['id']}/approve"))

    # The lists find them by project; the payment's entry (naming the line) verifies.
    listed = assert_ok(org.clerk.get(f"{API}/disbursements", query_string={"project_code": PROJECT}))
    assert sorted(item["id"] for item in listed["items"]) == sorted([first["id"], second["id"], third["id"]])
    assert assert_ok(org.clerk.get(f"{API}/disbursements", query_string={"project_code": "XM-OTHER"}))["items"] == []
    assert assert_ok(api.get(f"{API}/ledger/verify", query_string={"fund_code": org.fund}))["valid"] is True


def test_only_accepted_milestones_instalments_are_payable(api: ApiClient, make: Factory) -> None:
    org = organisation(api, make, "CAP-002")
    project_caps(api, org, "5000.00", payable="0.00")
    refused(request(org, "100.00", project_code=PROJECT, budget_line=LINE), "project_payable_exceeded")
    # A milestone accepted: its instalment is payable.
    assert_ok(set_cap(api, project_cap_key(PROJECT), "project", "300.00", 2, organization_id=org.id,
                      fund_code=org.fund))
    disbursement = assert_ok(request(org, "300.00", project_code=PROJECT, budget_line=LINE), 201)
    assert_ok(org.approver.post(f"{API}/disbursements/{disbursement['id']}/approve"))
    caps = figures(api, project_cap_key(PROJECT), project_line_cap_key(PROJECT, LINE))
    assert {key: cap["reserved"] for key, cap in caps.items()} == {
        project_cap_key(PROJECT): "300.00", project_line_cap_key(PROJECT, LINE): "300.00"}


def test_unknown_lines_and_another_funds_project_are_refused_at_the_request(api: ApiClient, make: Factory) -> None:
    org = organisation(api, make, "CAP-003")
    other = organisation(api, make, "CAP-004")
    project_caps(api, org, "1000.00")
    problem = refused(request(org, "10.00", project_code=PROJECT, budget_line="不存在的科目"), "budget_line_unknown")
    assert problem["detail"] == f"Project {PROJECT} has no budget line 不存在的科目 that the ledger knows of."
    refused(request(org, "10.00", project_code="XM-NONE", budget_line=LINE), "budget_line_unknown")
    mismatch = refused(request(other, "10.00", project_code=PROJECT, budget_line=LINE), "project_fund_mismatch")
    assert mismatch["detail"] == f"Project {PROJECT} is paid from fund CAP-003, not from CAP-004."
    # Nothing was written.
    assert assert_ok(org.clerk.get(f"{API}/disbursements"))["items"] == []
    assert assert_ok(other.clerk.get(f"{API}/disbursements"))["items"] == []


def test_a_need_is_paid_from_its_pledging_organisations_funds_only(api: ApiClient, make: Factory) -> None:
    org = organisation(api, make, "CAP-005")
    other = organisation(api, make, "CAP-006")
    need = need_cap_key(42, org.id)
    assert_ok(set_cap(api, need, "need", "500.00", 1, organization_id=org.id))

    refused(request(other, "100.00", need_id=42), "need_not_pledged")
    refused(request(org, "100.00", need_id=43), "need_not_pledged")
    refused(request(org, "500.01", need_id=42), "need_pledge_exceeded")
    disbursement = assert_ok(request(org, "500.00", need_id=42), 201)
    assert (disbursement["project_code"], disbursement["budget_line"], disbursement["need_id"]) == (None, None, 42)
    assert_ok(org.approver.post(f"{API}/disbursements/{disbursement['id']}/approve"))
    assert figures(api, need)[need]["remaining"] == "0.00"
    listed = assert_ok(org.clerk.get(f"{API}/disbursements", query_string={"need_id": 42}))
    assert [item["id"] for item in listed["items"]] == [disbursement["id"]]

    # The pledge withdrawn meanwhile cannot go below what is approved, unless clamped.
    below = refused(set_cap(api, need, "need", "100.00", 2, organization_id=org.id), "cap_below_committed")
    assert below["detail"] == f"Cap {need} cannot be 100.00 CNY: 500.00 CNY of it are already approved or paid."
    assert figures(api, need)[need]["limit"] == "500.00"
    clamped = assert_ok(set_cap(api, need, "need", "100.00", 2, organization_id=org.id, clamp=True))
    assert clamped == {"cap_key": need, "limit": "500.00", "reserved": "500.00", "paid": "0.00",
                       "remaining": "0.00", "version": 2}


def test_a_caps_versions_order_its_changes(api: ApiClient, make: Factory) -> None:
    org = organisation(api, make, "CAP-007")
    line = project_line_cap_key(PROJECT, LINE)
    assert_ok(set_cap(api, line, "project_line", "900.00", 5, organization_id=org.id, fund_code=org.fund))
    # An older or the same version changes nothing: a late or repeated message.
    for version, limit in ((4, "100.00"), (5, "200.00")):
        same = assert_ok(set_cap(api, line, "project_line", limit, version, organization_id=org.id,
                                 fund_code=org.fund))
        assert (same["limit"], same["version"]) == ("900.00", 5)
    newer = assert_ok(set_cap(api, line, "project_line", "0.00", 6, organization_id=org.id, fund_code=org.fund))
    assert (newer["limit"], newer["remaining"], newer["version"]) == ("0.00", "0.00", 6)
    assert figures(api, line, "project:NO-SUCH") == {line: newer}
    # The internal API wants its token and a valid body.
    assert_problem(api.request("PUT", "/donations/internal/v1/caps", key=None, json={}), 401)
    assert_problem(set_cap(api, line, "project_line", "1.5", 7, organization_id=org.id), 422, "limit")
    assert_problem(set_cap(api, line, "budget", "1.00", 7, organization_id=org.id), 422, "kind")


@pytest.mark.parametrize(("fields", "field", "code"), [
    ({"budget_line": LINE}, "budget_line", "budget_line_without_project"),
    ({"project_code": PROJECT}, "budget_line", "required"),
    ({"project_code": PROJECT, "budget_line": LINE, "need_id": 42}, "need_id", "project_and_need"),
    ({"need_id": "x"}, "need_id", "not_an_integer"),
    ({"need_id": 0}, "need_id", "out_of_range"),
    ({"project_code": "xm-2026-001", "budget_line": LINE}, "project_code", "fund_code_format"),
    ({"project_code": PROJECT, "budget_line": "x" * 201}, "budget_line", "too_long"),
])
def test_bad_project_or_need_fields_are_refused_by_name_and_nothing_is_written(
        api: ApiClient, make: Factory, fields: dict[str, Any], field: str, code: str) -> None:
    org = organisation(api, make, "CAP-008")
    problem = assert_problem(request(org, "10.00", **fields), 422, field)
    assert problem["codes"][field] == [code]
    assert assert_ok(org.clerk.get(f"{API}/disbursements"))["items"] == []
    assert_problem(org.clerk.get(f"{API}/disbursements", query_string={"need_id": "x"}), 422, "need_id")
    assert_problem(org.clerk.get(f"{API}/disbursements", query_string={"project_code": "x"}), 422, "project_code")


def test_a_disbursement_naming_nothing_shows_nulls(api: ApiClient, make: Factory) -> None:
    org = organisation(api, make, "CAP-009")
    plain = assert_ok(request(org, "10.00"), 201)
    assert (plain["project_code"], plain["budget_line"], plain["need_id"]) == (None, None, None)


# -- the race ----------------------------------------------------------------------------------

RACERS = 20


def test_twenty_approvals_racing_at_one_line_approve_exactly_what_it_holds(live_server: LiveServer,
                                                                          database_url: str) -> None:
    base = live_server.base_url
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=base, timeout=60) as http:
        organization = http.post("/funds/api/v1/organizations", headers=admin,
                                 json={"name": "额度并发商会", "kind": "chamber_of_commerce"}).json()
        assert http.post("/funds/api/v1/funds", headers=admin, json={
            "code": "CAP-RACE", "name": "额度并发基金", "kind": "chamber_named",
            "organization_id": organization["id"], "purpose": "助学", "restricted": False}).status_code == 201
        assert http.post("/donations/api/v1/donations", headers=admin, json={
            "fund_code": "CAP-RACE", "amount": "100000.00", "currency": "CNY",
            "donor": {"name": "某公司", "kind": "enterprise", "anonymous": False},
            "received_on": "2026-08-03", "channel": "bank"}).status_code == 201

        def key(name: str, scopes: list[str]) -> dict[str, str]:
            made = http.post(f"/funds/api/v1/organizations/{organization['id']}/api-keys", headers=admin,
                             json={"name": name, "scopes": scopes})
            assert made.status_code == 201, made.text
            return {"Authorization": f"Bearer {made.json()['key']}"}

        clerk = key("clerk", ["donations:read", "donations:write"])
        approver = key("approver", ["donations:read", "disbursements:approve"])
        for path, kind, limit in ((project_cap_key(PROJECT), "project", "50000.00"),
                                  (project_line_cap_key(PROJECT, LINE), "project_line", "1000.00")):
            assert http.put("/donations/internal/v1/caps", headers=INTERNAL, json={
                "cap_key": path, "kind": kind, "fund_code": "CAP-RACE", "organization_id": organization["id"],
                "limit": limit, "version": 1}).status_code == 200
        ids = []
        for _ in range(RACERS):
            made = http.post("/donations/api/v1/disbursements", headers=clerk, json={
                "fund_code": "CAP-RACE", "amount": "100.00", "payee": "钟鸣镇中心小学", "purpose": "教学设备",
                "project_code": PROJECT, "budget_line": LINE})
            assert made.status_code == 201, made.text
            ids.append(made.json()["id"])

    start = threading.Barrier(RACERS)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def approve(disbursement_id: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            start.wait()
            response = client.post(f"/donations/api/v1/disbursements/{disbursement_id}/approve", headers=approver)
            with lock:
                answers.append(response)

    threads = [threading.Thread(target=approve, args=(disbursement_id,)) for disbursement_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(answers) == RACERS
    statuses = sorted(response.status_code for response in answers)
    assert statuses == [200] * 10 + [409] * 10, [response.text for response in answers]
    assert {response.json()["code"] for response in answers if response.status_code == 409} == \
        {"budget_line_exceeded"}
    with httpx.Client(base_url=base, timeout=60) as http:
        caps = http.post("/donations/internal/v1/caps/figures", headers=INTERNAL,
                         json={"cap_keys": [project_line_cap_key(PROJECT, LINE)]}).json()["items"]
    assert [(cap["reserved"], cap["remaining"]) for cap in caps] == [("1000.00", "0.00")]
    with psycopg.connect(database_dsn(database_url)) as db:
        assert db.execute("SELECT count(*), sum(amount_fen) FROM donations.disbursement WHERE status = 'approved' "
                          "AND project_code = %s", (PROJECT,)).fetchone() == (10, 100000)
        assert db.execute("SELECT reserved_fen FROM donations.fund_ledger WHERE code = 'CAP-RACE'").fetchone() == \
            (100000,)
