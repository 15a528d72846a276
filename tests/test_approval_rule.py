"""An organisation's approval rule: who may approve its disbursements (README, "Approval rule").

`other_actor` (the default: anyone but the requester, as API.md says), `person_only` (people on
the pages, never an API key) or `non_requesting_keys` (people, or keys that never request; a key
that has approved never requests for the organisation). Set by an admin in the funds service,
enforced by the ledger when a disbursement is requested and approved. The rule itself is written
in shared/contracts/funds.py.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
import pytest

from conftest import ADMIN_KEY, ApiClient, Browser, Factory, csrf_token
from helpers import assert_ok, assert_problem, field_errors, text
from shared.contracts.funds import APPROVAL_RULES
from shared.postgres import libpq_dsn

FUNDS = "/funds/api/v1"
API = "/donations/api/v1"
PASSWORD = "a-long-enough-password"
CLERK = ["funds:read", "donations:read", "donations:write"]
APPROVER = ["donations:read", "disbursements:approve"]
BOTH = [*CLERK, "disbursements:approve"]
HTML = {"Accept": "text/html"}
# The contract: a change reaches every service within 5 seconds (AUTH_CACHE_SECONDS is 2 in the tests).
CONTRACT_SECONDS = 5


@dataclass
class Org:
    id: int
    fund: str
    clerk: ApiClient
    approver: ApiClient


_funds = iter(range(1, 10_000))


def make_org(api: ApiClient, make: Factory, rule: str | None = None, cash: str = "1000.00") -> Org:
    """An organisation (with `rule` from the start, if given), a fund holding `cash`, a clerk's key
    and an approver's key."""
    body: dict[str, Any] = {"name": f"商会审批{next(_funds)}", "kind": "chamber_of_commerce"}
    if rule is not None:
        body["approval_rule"] = rule
    organization = assert_ok(api.post(f"{FUNDS}/organizations", json=body), 201)
    fund = make.fund(organization["id"], f"AR-{next(_funds):04d}")
    make.donation(fund["code"], cash)
    return Org(organization["id"], fund["code"], api.with_key(make.api_key(organization["id"], CLERK, "出纳")),
               api.with_key(make.api_key(organization["id"], APPROVER, "审批")))


def request(client: ApiClient, fund: str, amount: str = "100.00") -> dict[str, Any]:
    return assert_ok(client.post(f"{API}/disbursements", json={
        "fund_code": fund, "amount": amount, "payee": "铜陵市第一中学", "purpose": "助学金"}), 201)


def approve(client: ApiClient, disbursement: dict[str, Any]) -> Any:
    return client.post(f"{API}/disbursements/{disbursement['id']}/approve")


def status(api: ApiClient, disbursement: dict[str, Any]) -> str:
    return assert_ok(api.get(f"{API}/disbursements/{disbursement['id']}"))["status"]  # type: ignore[no-any-return]


def available(api: ApiClient, fund: str) -> str:
    return assert_ok(api.get(f"{API}/funds/{fund}/balance"))["available"]  # type: ignore[no-any-return]


def refused(response: Any, code: str, rule: str) -> dict[str, Any]:
    """A 403 with `code` that names the rule, in its parameters and its words."""
    problem = assert_problem(response, 403)
    assert problem["code"] == code, problem
    assert problem["params"]["approval_rule"] == rule, problem
    assert rule in problem["detail"], problem
    return problem


def set_rule(api: ApiClient, organization_id: int, rule: str) -> dict[str, Any]:
    return assert_ok(api.patch(f"{FUNDS}/organizations/{organization_id}", json={"approval_rule": rule}))  # type: ignore[no-any-return]


def logged_in(gateway: Any, make: Factory, role: str, organization_id: int, username: str) -> Browser:
    make.user(gateway, username, PASSWORD, role, organization_id)
    browser = Browser(gateway)
    browser.login(username, PASSWORD)
    return browser


def post(browser: Browser, path: str, token_from: str, data: dict[str, Any] | None = None) -> Any:
    form = {"csrf_token": csrf_token(browser.get(token_from).get_data(as_text=True)), **(data or {})}
    return browser.http.post(path, data=form, headers=HTML)


def key_id(client: ApiClient) -> int:
    return assert_ok(client.get(f"{FUNDS}/me"))["id"]  # type: ignore[no-any-return]


# -- the default ---------------------------------------------------------------------------

def test_the_default_lets_two_keys_of_one_organisation_request_and_approve_as_the_contract_says(
        api: ApiClient, make: Factory) -> None:
    org = make_org(api, make)
    shown = assert_ok(api.get(f"{FUNDS}/organizations/{org.id}"))
    assert shown["approval_rule"] == "other_actor"
    assert {o["id"]: o["approval_rule"] for o in assert_ok(api.get(f"{FUNDS}/organizations"))["items"]}[org.id] \
        == "other_actor"

    # Two keys that both request and approve: each approves the other's request, never its own.
    first = api.with_key(make.api_key(org.id, BOTH, "甲"))
    second = api.with_key(make.api_key(org.id, BOTH, "乙"))
    mine, yours = request(first, org.fund), request(second, org.fund)
    assert_problem(approve(first, mine), 403)  # four eyes, as always
    assert assert_ok(approve(first, yours))["status"] == "approved"
    assert assert_ok(approve(second, mine))["status"] == "approved"
    assert assert_ok(approve(org.approver, request(org.clerk, org.fund)))["status"] == "approved"
    assert available(api, org.fund) == "700.00"


def test_the_rule_is_documented_with_its_values(api: ApiClient) -> None:
    document = assert_ok(api.get("/funds/openapi.json", key=None))
    schemas = document["components"]["schemas"]
    field = schemas["Organization"]["properties"]["approval_rule"]
    assert field["enum"] == list(APPROVAL_RULES) == ["other_actor", "person_only", "non_requesting_keys"]
    assert "person_only" in field["description"]
    assert "approval_rule" in schemas["Organization"]["required"]
    assert schemas["OrganizationPatch"]["properties"]["approval_rule"]["enum"] == list(APPROVAL_RULES)
    assert schemas["OrganizationCreate"]["properties"]["approval_rule"]["enum"] == list(APPROVAL_RULES)


@pytest.mark.parametrize("rule", ["anyone", "", None, 1, "PERSON_ONLY"])
def test_an_unknown_rule_is_422_naming_it(api: ApiClient, make: Factory, rule: Any) -> None:
    organization = make.organization()
    path = f"{FUNDS}/organizations/{organization['id']}"
    assert_problem(api.patch(path, json={"approval_rule": rule}), 422, "approval_rule")
    assert assert_ok(api.get(path))["approval_rule"] == "other_actor"
    assert_problem(api.post(f"{FUNDS}/organizations", json={"name": "某商会", "kind": "other",
                                                            "approval_rule": rule}), 422, "approval_rule")


# -- person_only -----------------------------------------------------------------------------

def test_person_only_refuses_a_keys_approval_and_a_person_approves_on_the_page(
        gateway: Any, api: ApiClient, make: Factory) -> None:
    org = make_org(api, make, "person_only")
    wanted = request(org.clerk, org.fund, "300.00")  # keys still request

    refused(approve(org.approver, wanted), "approval_rule_person_only", "person_only")
    refused(approve(api, wanted), "approval_rule_person_only", "person_only")  # the federation's admin key too
    assert status(api, wanted) == "requested" and available(api, org.fund) == "1000.00"
    # Rejecting moves no money: a key still may.
    rejected = request(org.clerk, org.fund)
    assert assert_ok(org.approver.post(f"{API}/disbursements/{rejected['id']}/reject",
                                       json={"reason": "重复申请"}))["status"] == "rejected"

    person = logged_in(gateway, make, "approver", org.id, "wang.shenpi")
    queue = person.get("/donations/disbursements/queue")
    assert queue.status_code == 200
    shown = re.search(rf'id="approval-rule-{wanted["id"]}">(.*?)</p>', text(queue), re.S)
    assert shown and "仅限人员在网页上审批" in shown.group(1) and "person_only" in shown.group(1)
    english = re.search(rf'id="approval-rule-{wanted["id"]}">(.*?)</p>',
                        text(person.get("/donations/disbursements/queue?lang=en")), re.S)
    assert english and "never an API key" in english.group(1)

    approved = post(person, f"/donations/disbursements/{wanted['id']}/approve", "/donations/disbursements/queue")
    assert approved.status_code == 302, approved.get_data(as_text=True)
    after = assert_ok(api.get(f"{API}/disbursements/{wanted['id']}"))
    assert after["status"] == "approved" and after["approved_by"].startswith("user:")
    assert available(api, org.fund) == "700.00"


# -- non_requesting_keys ------------------------------------------------------------------------

def test_non_requesting_keys_refuses_a_key_that_has_requested_and_accepts_one_that_never_did(
        api: ApiClient, make: Factory) -> None:
    org = make_org(api, make, "non_requesting_keys")
    other_fund = make.fund(org.id, "AR-OTHER-1")["code"]
    both = api.with_key(make.api_key(org.id, BOTH, "身兼两职"))
    wanted = request(org.clerk, org.fund)

    # A key that has requested any disbursement, of another fund, rejected since, approves nothing.
    asked = request(both, other_fund)
    assert_ok(org.approver.post(f"{API}/disbursements/{asked['id']}/reject", json={"reason": "不需要"}))
    refused(approve(both, wanted), "approval_by_requesting_key", "non_requesting_keys")
    # Nor one whose request is still waiting, for the very fund.
    waiting = api.with_key(make.api_key(org.id, BOTH, "等待中"))
    request(waiting, org.fund)
    refused(approve(waiting, wanted), "approval_by_requesting_key", "non_requesting_keys")
    assert status(api, wanted) == "requested" and available(api, org.fund) == "1000.00"

    # A key that never requested approves.
    assert assert_ok(approve(org.approver, wanted))["status"] == "approved"
    assert available(api, org.fund) == "900.00"


def test_under_non_requesting_keys_a_key_that_has_approved_never_requests(api: ApiClient, make: Factory) -> None:
    """So the keys that request and the keys that approve stay two sets: once a key has approved,
    requesting with it would make it a requester that has approved."""
    org = make_org(api, make, "non_requesting_keys")
    approver = api.with_key(make.api_key(org.id, BOTH, "先审批"))
    assert assert_ok(approve(approver, request(org.clerk, org.fund)))["status"] == "approved"

    response = approver.post(f"{API}/disbursements", json={"fund_code": org.fund, "amount": "10.00",
                                                           "payee": "某村", "purpose": "修路"})
    refused(response, "request_by_approving_key", "non_requesting_keys")
    assert [d["requested_by"] for d in assert_ok(api.get(f"{API}/disbursements"))["items"]] == \
        [f"key:{key_id(org.clerk)}"]
    # It still approves, and a key that never approved still requests.
    assert assert_ok(approve(approver, request(org.clerk, org.fund)))["status"] == "approved"


def test_under_non_requesting_keys_people_approve_as_before(gateway: Any, api: ApiClient, make: Factory,
                                                            admin: Browser) -> None:
    org = make_org(api, make, "non_requesting_keys")
    # A person who requests a disbursement still approves another's: the rule is about keys.
    assert admin.submit("/donations/disbursements/new", {"fund_code": org.fund, "amount": "50.00",
                                                         "payee": "某村委会", "purpose": "修路"}).status_code == 302
    wanted = request(org.clerk, org.fund)
    queue = text(admin.get("/donations/disbursements/queue"))
    assert re.search(rf'id="approval-rule-{wanted["id"]}">[^<]*从未申请拨付', queue)
    approved = post(admin, f"/donations/disbursements/{wanted['id']}/approve", "/donations/disbursements/queue")
    assert approved.status_code == 302
    assert status(api, wanted) == "approved"


def test_a_key_cannot_request_and_approve_at_the_same_moment(database_url: str, api: ApiClient,
                                                             make: Factory) -> None:
    """Its request, not yet committed, holds the key: its approval waits for it, then sees it."""
    org = make_org(api, make, "non_requesting_keys")
    wanted = request(org.clerk, org.fund)
    both = api.with_key(make.api_key(org.id, BOTH, "同时"))
    actor = {"actor": f"key:{key_id(both)}", "name": "同时", "organization_id": org.id, "request_id": None}
    fund = {"code": org.fund, "organization_id": org.id, "restricted": False, "status": "active",
            "status_version": 0, "approval_rule": "non_requesting_keys"}
    answers: list[Any] = []

    with psycopg.connect(libpq_dsn(database_url)) as requesting, \
            psycopg.connect(libpq_dsn(database_url), autocommit=True) as watching:
        requesting.execute("SELECT donations.request_disbursement(%s::jsonb, 1000, '某人', '某事', NULL, "
                           "'programme', NULL, NULL, NULL, %s::jsonb)", (orjson.dumps(fund).decode(), orjson.dumps(actor).decode()))
        approving = threading.Thread(target=lambda: answers.append(approve(both, wanted)))
        approving.start()
        deadline = time.monotonic() + 10
        while not watching.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%approve_disbursement%'").fetchone()[0]:  # type: ignore[index]
            assert time.monotonic() < deadline and approving.is_alive(), answers
            time.sleep(0.05)
        requesting.commit()
    approving.join(10)

    refused(answers[0], "approval_by_requesting_key", "non_requesting_keys")
    assert status(api, wanted) == "requested"


# -- who changes it, the audit log, how soon it applies ------------------------------------------------

def test_only_an_admin_changes_the_rule(gateway: Any, api: ApiClient, make: Factory) -> None:
    org = make_org(api, make)
    path = f"{FUNDS}/organizations/{org.id}"
    chamber = api.with_key(make.api_key(org.id, [*BOTH, "funds:write", "reports:read"], "商会系统"))
    assert_problem(chamber.patch(path, json={"approval_rule": "other_actor"}), 403)
    assert_problem(chamber.patch(path, json={"approval_rule": "person_only"}), 403)
    manager = logged_in(gateway, make, "fund_manager", org.id, "li.jingli")
    assert post(manager, f"/funds/organizations/{org.id}/approval-rule", "/funds/",
                {"approval_rule": "person_only"}).status_code == 403
    assert assert_ok(api.get(path))["approval_rule"] == "other_actor"

    assert set_rule(api, org.id, "person_only")["approval_rule"] == "person_only"
    assert assert_ok(chamber.get(path))["approval_rule"] == "person_only"  # it reads its own rule


def test_an_admin_chooses_the_rule_on_the_organisations_page(admin: Browser, api: ApiClient,
                                                             make: Factory) -> None:
    organization = make.organization()
    page = f"/funds/organizations/{organization['id']}"
    action = f"{page}/approval-rule"
    shown = text(admin.get(page))
    assert re.search(r'id="approval-rule">[^<]*申请人以外的任何人员或密钥', shown)
    options = re.findall(r'<option[^>]*value="([^"]+)"[^>]*>([^<]*)</option>',
                         shown.split('name="approval_rule"')[1].split("</select>")[0])
    assert [value for value, _ in options] == list(APPROVAL_RULES)
    assert "仅限人员在网页上审批" in dict(options)["person_only"]
    assert "never an API key" in text(admin.get(f"{page}?lang=en")).split('name="approval_rule"')[1]

    bad = admin.submit(page, {"approval_rule": "anyone"}, action=action)
    assert bad.status_code == 422 and field_errors(bad, "approval_rule")
    no_token = admin.http.post(action, data={"approval_rule": "person_only"}, headers=HTML)
    assert no_token.status_code == 400
    assert assert_ok(api.get(f"{FUNDS}/organizations/{organization['id']}"))["approval_rule"] == "other_actor"

    saved = admin.submit(page, {"approval_rule": "non_requesting_keys"}, action=action)
    assert saved.status_code == 302 and saved.location == page
    assert assert_ok(api.get(f"{FUNDS}/organizations/{organization['id']}"))["approval_rule"] == \
        "non_requesting_keys"
    assert re.search(r'id="approval-rule">[^<]*从未申请拨付的 API 密钥', text(admin.get(f"{page}?lang=zh")))


def test_a_change_of_the_rule_is_in_the_audit_log(database_url: str, admin: Browser, api: ApiClient,
                                                  make: Factory) -> None:
    organization = make.organization()
    set_rule(api, organization["id"], "person_only")
    set_rule(api, organization["id"], "person_only")  # no change, nothing logged
    page = f"/funds/organizations/{organization['id']}"
    assert admin.submit(page, {"approval_rule": "non_requesting_keys"},
                        action=f"{page}/approval-rule").status_code == 302

    with psycopg.connect(libpq_dsn(database_url)) as connection:
        rows = connection.execute(
            "SELECT actor, details FROM funds.audit_log WHERE action = 'organization.update' AND subject = %s "
            "ORDER BY id", (f"organization:{organization['id']}",)).fetchall()
        created = connection.execute(
            "SELECT details FROM funds.audit_log WHERE action = 'organization.create' AND subject = %s",
            (f"organization:{organization['id']}",)).fetchone()
    admin_key = key_id(api.with_key(ADMIN_KEY))
    assert [(actor, details) for actor, details in rows] == [
        (f"key:{admin_key}", {"approval_rule": {"from": "other_actor", "to": "person_only"}}),
        (rows[1][0], {"approval_rule": {"from": "person_only", "to": "non_requesting_keys"}}),
    ]
    assert rows[1][0].startswith("user:")
    assert created is not None and created[0]["approval_rule"] == "other_actor"


def test_a_change_of_the_rule_takes_effect_within_the_contracts_five_seconds(api: ApiClient,
                                                                              make: Factory) -> None:
    """The ledger hears the rule with the fund, which it keeps for AUTH_CACHE_SECONDS; what a key did
    before the rule was set counts once it is."""
    org = make_org(api, make)
    both = api.with_key(make.api_key(org.id, BOTH, "原先两用"))
    request(both, org.fund)  # under the default: a key may request and approve
    first = request(org.clerk, org.fund)
    assert assert_ok(approve(both, first))["status"] == "approved"  # the ledger knows the fund's rule now

    set_rule(api, org.id, "non_requesting_keys")
    changed = time.monotonic()
    wanted = request(org.clerk, org.fund, "10.00")
    while True:
        response = approve(both, wanted)
        if response.status_code == 403:
            break
        assert response.status_code == 200, response.get_data(as_text=True)
        # Approved under the old rule, still in the ledger's cache: try again with a new one.
        assert time.monotonic() - changed < CONTRACT_SECONDS
        wanted = request(org.clerk, org.fund, "10.00")
        time.sleep(0.2)
    assert time.monotonic() - changed < CONTRACT_SECONDS
    refused(response, "approval_by_requesting_key", "non_requesting_keys")
