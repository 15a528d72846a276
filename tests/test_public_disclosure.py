"""The public disclosure (公开), read without a key as anyone would: a fund, a project, a village and a
team as JSON and as pages, in Chinese and in English. A donor who asked not to be named is never named,
an individual recipient appears only under a stable pseudonym, volunteers, claims' notes and milestones'
reports are never shown; corrections are published as corrections; answers are cacheable and reads are
rate-limited per address."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from shared.dates import today
from tests.conftest import ApiClient, Browser, Factory
from tests.helpers import assert_ok, assert_problem, text

API = "/programmes/api/v1"
PUBLIC = "/programmes/public"
DISBURSEMENTS = "/donations/api/v1/disbursements"
SECRETS = ("张三", "李四", "王志愿", "赵六联系电话", "钱七家的孩子", "不再合作的原因", "录入错误")


@dataclass
class Org:
    id: int
    fund: str
    writer: ApiClient
    approver: ApiClient


def organisation(api: ApiClient, make: Factory, name: str) -> Org:
    organization = make.organization(name)
    fund = make.fund(organization["id"], purpose="助学助困，帮扶薄弱村")
    writer = make.api_key(organization["id"], ["programmes:read", "programmes:write", "donations:read",
                                               "donations:write"], "clerk")
    approver = make.api_key(organization["id"], ["programmes:read", "disbursements:approve", "donations:read"],
                            "approver")
    return Org(organization["id"], fund["code"], api.with_key(writer), api.with_key(approver))


def pay(org: Org, amount: str, payee: str, purpose: str, **fields: Any) -> dict[str, Any]:
    made = assert_ok(org.writer.post(DISBURSEMENTS, json={"fund_code": org.fund, "amount": amount, "payee": payee,
                                                          "purpose": purpose, **fields}), 201)
    assert_ok(org.approver.post(f"{DISBURSEMENTS}/{made['id']}/approve"))
    return assert_ok(org.writer.post(f"{DISBURSEMENTS}/{made['id']}/pay",
                                     json={"paid_on": today().isoformat(), "bank_reference": f"B-{made['id']}"}))


def public(api: ApiClient, path: str, **kwargs: Any) -> Any:
    return api.get(f"{PUBLIC}{path}", key=None, **kwargs)


def page(browser: Browser, path: str) -> Any:
    response = browser.get(f"{PUBLIC}{path}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    return response


def never_shown(body: str) -> None:
    for secret in SECRETS:
        assert secret not in body, secret


@pytest.fixture
def ledger(api: ApiClient, make: Factory) -> dict[str, Any]:
    """A fund with an anonymous and a named donation, a reversed one, a payment to a person and one for a
    village's need; a project; a team with volunteers."""
    org = organisation(api, make, "铜陵有色慈善商会")
    month = today().isoformat()[:7]
    make.donation(org.fund, "5000.00", donor={"name": "张三", "kind": "individual", "anonymous": True},
                  received_on=today().isoformat())
    make.donation(org.fund, "20000.00", donor={"name": "铜陵有色", "kind": "enterprise", "anonymous": False},
                  received_on=today().isoformat())
    mistaken = make.donation(org.fund, "300.00", donor={"name": "某某商行", "kind": "enterprise", "anonymous": False},
                             received_on=today().isoformat())
    assert_ok(api.post(f"/donations/api/v1/donations/{mistaken['id']}/reverse", json={"reason": "录入错误"}))

    village = assert_ok(api.post(f"{API}/villages", json={"name": "红旗村", "township": "钟鸣镇"}), 201)
    need = assert_ok(api.post(f"{API}/needs", json={
        "village_id": village["id"], "title": "路灯 10 盏", "category": "lighting", "amount": "3500.00",
        "due_on": "2027-03-31", "priority": "high", "description": "钱七家的孩子夜里上学"}), 201)
    claim = assert_ok(org.writer.post(f"{API}/needs/{need['id']}/claims", json={"amount": "1000.00"}), 201)
    assert_ok(org.writer.post(f"{API}/claims/{claim['id']}/start", json={"note": "赵六联系电话 13800000000"}))

    pay(org, "800.00", "李四", "困难家庭助学金")
    pay(org, "600.00", "红旗村村委会", "路灯", need_id=need["id"])

    project = {"code": "XM-GK-001", "name": "红旗村小学教学提升", "fund_code": org.fund, "village_id": village["id"],
               "starts_on": "2026-09-01", "ends_on": "2027-06-30", "description": "为村小添置设备",
               "lines": [{"name": "教学设备", "amount": "6000.00"}],
               "milestones": [{"name": "设备到位", "due_on": "2026-12-31", "instalment": "6000.00"}]}
    assert_ok(org.writer.post(f"{API}/projects", json=project), 201)
    draft = {**project, "code": "XM-GK-002", "name": "草稿项目"}
    assert_ok(org.writer.post(f"{API}/projects", json=draft), 201)

    other = make.organization("钟鸣镇商会")
    team = assert_ok(org.writer.post(f"{API}/teams", json={
        "name": "钟鸣镇 1+N 帮扶团", "village_ids": [village["id"]],
        "members": [{"organization_id": org.id, "role": "lead", "contribution": "不再合作的原因"},
                    {"organization_id": other["id"], "role": "partner"}]}), 201)
    assert_ok(org.writer.post(f"{API}/teams/{team['id']}/activities", json={
        "on": today().isoformat(), "village_id": village["id"], "kind": "visit", "people_helped": 12,
        "volunteers": [{"name": "王志愿", "hours": "3.5"}, {"name": "孙志愿", "hours": "2"}]}), 201)
    return {"org": org, "month": month, "village": village, "need": need, "team": team, "project": project,
            "mistaken": mistaken}


def test_the_fund_shows_what_it_received_and_spent_and_never_who_asked_not_to_be_named(
        api: ApiClient, make: Factory, ledger: dict[str, Any]) -> None:
    org: Org = ledger["org"]
    response = public(api, f"/v1/funds/{org.fund}")
    fund = assert_ok(response)
    body = response.get_data(as_text=True)
    never_shown(body)
    assert fund["code"] == org.fund and fund["purpose"] == "助学助困，帮扶薄弱村"
    assert fund["organization"] == "铜陵有色慈善商会"
    donors = {d["amount"]: d for d in fund["donations"]}
    assert donors["5000.00"]["donor"] == "匿名" and donors["5000.00"]["anonymous"] is True
    assert donors["20000.00"]["donor"] == "铜陵有色"
    assert donors["300.00"]["reversed"] is True and "reason" not in json.dumps(donors["300.00"])
    # The correction, in the month it was posted, with its receipt: never its reason.
    assert fund["corrections"] == [{"receipt_no": ledger["mistaken"]["receipt_no"], "amount": "300.00",
                                    "posted_on": today().isoformat()}]
    month = next(m for m in fund["months"] if m["month"] == ledger["month"])
    assert (month["received"], month["corrections"], month["spent"]) == ("25300.00", "300.00", "1400.00")
    # The months agree with the ledger's statement of the same days.
    statement = assert_ok(api.get(f"/donations/api/v1/funds/{org.fund}/statement"))
    closing = statement["closing_balance"]
    assert fund["totals"]["net"] == closing == "23600.00"
    payments = {p["amount"]: p for p in fund["disbursements"]}
    assert payments["600.00"]["payee"] == "红旗村村委会" and payments["600.00"]["need_id"] == ledger["need"]["id"]
    pseudonym = payments["800.00"]["payee_pseudonym"]
    assert payments["800.00"]["payee"] is None and pseudonym.startswith("受助方-") and len(pseudonym) == 10
    # Stable across requests; another fund paying the same person has another pseudonym.
    again = assert_ok(public(api, f"/v1/funds/{org.fund}"))
    assert {p["amount"]: p for p in again["disbursements"]}["800.00"]["payee_pseudonym"] == pseudonym
    other = organisation(api, make, "另一商会")
    make.donation(other.fund, "1000.00")
    pay(other, "100.00", "李四", "助学金")
    elsewhere = assert_ok(public(api, f"/v1/funds/{other.fund}"))["disbursements"][0]["payee_pseudonym"]
    assert elsewhere.startswith("受助方-") and elsewhere != pseudonym
    # The draft project is not among the fund's projects.
    assert [p["code"] for p in fund["projects"]] == []


def test_the_fund_page_in_chinese_and_in_english(api: ApiClient, browser: Browser, ledger: dict[str, Any]) -> None:
    org: Org = ledger["org"]
    pseudonym = {p["amount"]: p for p in assert_ok(public(api, f"/v1/funds/{org.fund}"))["disbursements"]}[
        "800.00"]["payee_pseudonym"]
    chinese = text(page(browser, f"/funds/{org.fund}"))
    never_shown(chinese)
    for shown in ("铜陵有色", "匿名", "红旗村村委会", pseudonym, "¥25,300.00", "<svg", "更正",
                  ledger["mistaken"]["receipt_no"]):
        assert shown in chinese, shown
    english = text(page(browser, f"/funds/{org.fund}?lang=en"))
    never_shown(english)
    for shown in ("铜陵有色", "Anonymous", f"Recipient-{pseudonym.split('-')[1]}", "Correction", "¥25,300.00"):
        assert shown in english, shown
    index = text(page(browser, "/"))
    assert org.fund in index and "红旗村" in index


def test_a_project_is_public_once_approved_and_its_reports_stay_with_the_organisations(
        api: ApiClient, browser: Browser, ledger: dict[str, Any]) -> None:
    org: Org = ledger["org"]
    assert_problem(public(api, "/v1/projects/XM-GK-001"), 404)
    assert browser.get(f"{PUBLIC}/projects/XM-GK-001").status_code == 404
    assert_ok(org.approver.post(f"{API}/projects/XM-GK-001/approve"))
    assert_ok(org.writer.post(f"{API}/projects/XM-GK-001/milestones/1/report", json={"report": "钱七家的孩子已领到"}))
    assert_ok(org.approver.post(f"{API}/projects/XM-GK-001/milestones/1/accept"))
    pay(org, "2500.00", "铜陵某教育设备公司", "采购教学设备", project_code="XM-GK-001", budget_line="教学设备")
    response = public(api, "/v1/projects/XM-GK-001")
    project = assert_ok(response)
    never_shown(response.get_data(as_text=True))
    assert (project["status"], project["budget"], project["paid"], project["percent_of_plan"]) == (
        "in_progress", "6000.00", "2500.00", "41.7")
    assert project["lines"] == [{"name": "教学设备", "amount": "6000.00", "paid": "2500.00", "percent_of_plan": "41.7"}]
    assert project["milestones"][0]["status"] == "accepted" and "report" not in project["milestones"][0]
    assert [event["event"] for event in project["timeline"]] == ["approved", "milestone_reported",
                                                                 "milestone_accepted"]
    assert project["months"] == [{"month": ledger["month"], "paid": "2500.00"}]
    assert_problem(public(api, "/v1/projects/XM-GK-002"), 404)  # still a draft
    assert_problem(public(api, "/v1/projects/nope!"), 404)
    for lang in ("zh", "en"):
        shown = text(page(browser, f"/projects/XM-GK-001?lang={lang}"))
        never_shown(shown)
        assert "设备到位" in shown and "¥2,500.00" in shown and "41.7%" in shown
    fund = assert_ok(public(api, f"/v1/funds/{org.fund}"))
    assert [p["code"] for p in fund["projects"]] == ["XM-GK-001"]


def test_the_village_and_the_team_show_counts_never_people(api: ApiClient, browser: Browser,
                                                          ledger: dict[str, Any]) -> None:
    village_id, team_id = ledger["village"]["id"], ledger["team"]["id"]
    response = public(api, f"/v1/villages/{village_id}")
    village = assert_ok(response)
    never_shown(response.get_data(as_text=True))
    need = village["needs"][0]
    assert (need["title"], need["pledged"], need["paid"]) == ("路灯 10 盏", "1000.00", "600.00")
    assert need["claims"] == [{"organization": "铜陵有色慈善商会", "amount": "1000.00", "status": "in_progress",
                               "signed_off": False}]
    assert village["teams"] == [{"id": team_id, "name": "钟鸣镇 1+N 帮扶团", "activities": 1, "people_helped": 12,
                                 "volunteer_hours": "5.5"}]
    response = public(api, f"/v1/teams/{team_id}")
    team = assert_ok(response)
    never_shown(response.get_data(as_text=True))
    assert team["activities"][0]["volunteers"] == 2 and team["activities"][0]["volunteer_hours"] == "5.5"
    assert {m["organization"] for m in team["members"]} == {"铜陵有色慈善商会", "钟鸣镇商会"}
    for path in (f"/villages/{village_id}", f"/teams/{team_id}"):
        for lang in ("zh", "en"):
            shown = text(page(browser, f"{path}?lang={lang}"))
            never_shown(shown)
            assert "红旗村" in shown and "5.5" in shown
    for missing in ("/v1/villages/999999", "/v1/teams/999999", "/v1/villages/99999999999999999999",
                    "/v1/funds/NO-SUCH-FUND", "/v1/funds/x%20y"):
        assert_problem(public(api, missing), 404)
    assert browser.get(f"{PUBLIC}/villages/999999").status_code == 404


def test_answers_are_cacheable_with_an_etag(api: ApiClient, ledger: dict[str, Any]) -> None:
    path = f"/v1/villages/{ledger['village']['id']}"
    first = public(api, path)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "public, max-age=60"
    etag = first.headers["ETag"]
    assert etag.strip('"') and len(etag.strip('"')) == 64
    again = public(api, path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert public(api, path, headers={"If-None-Match": '"other"'}).status_code == 200
    assert "Set-Cookie" not in first.headers


def test_reads_are_limited_per_address(app_config: dict[str, Any], database_url: str) -> None:
    from services.gateway import create_gateway

    gateway = create_gateway({**app_config, "PUBLIC_READS_PER_MINUTE": "3"})
    try:
        anyone = ApiClient(gateway, key=None)
        admin = ApiClient(gateway)
        village = assert_ok(admin.post(f"{API}/villages", json={"name": "新村", "township": "顺安镇"}), 201)
        for _ in range(3):
            assert anyone.get(f"{PUBLIC}/v1/villages/{village['id']}").status_code == 200
        refused = anyone.get(f"{PUBLIC}/v1/villages/{village['id']}")
        assert assert_problem(refused, 429)["code"] == "too_many_reads"
        assert int(refused.headers["Retry-After"]) >= 1
        shown = anyone.get(f"{PUBLIC}/villages/{village['id']}", headers={"Accept": "text/html"})
        assert shown.status_code == 429 and shown.mimetype == "text/html"
    finally:
        for app in gateway.apps.values():
            app.extensions["peers"].close()
            app.extensions["database"].dispose()
