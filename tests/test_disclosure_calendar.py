"""The disclosure calendar (信息公开日历) through the programmes API and its page: a long project's quarterly and
full disclosures, a related-party purchase's 30 days, the annual report, claims' reminders; marking an item
published makes it done; another organisation sees none of it. And the disbursement form naming a budget
line or a need, with the programmes service's choices."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from services.programmes.calendar import add_months
from shared.dates import today
from tests.conftest import ApiClient, Browser, Factory, csrf_token
from tests.helpers import assert_ok, assert_problem
from tests.test_programmes_projects import EQUIPMENT, Org, accept, body, organisation

PASSWORD = "a-long-enough-password"
HTML = {"Accept": "text/html"}

API = "/programmes/api/v1"
DISCLOSURES = f"{API}/disclosures"
CODE = "XM-CAL-001"


def long_project(org: Org, code: str = CODE) -> tuple[dt.date, dt.date]:
    """A project of seven months that started four months ago, approved."""
    starts_on = add_months(today(), -4)
    ends_on = add_months(starts_on, 7)
    project = body(org, code, starts_on=starts_on.isoformat(), ends_on=ends_on.isoformat())
    project["milestones"] = [{**m, "due_on": ends_on.isoformat()} for m in project["milestones"]]
    assert_ok(org.writer.post(f"{API}/projects", json=project), 201)
    assert_ok(org.approver.post(f"{API}/projects/{code}/approve"))
    return starts_on, ends_on


def items(client: ApiClient, query: str = "") -> list[dict[str, Any]]:
    return assert_ok(client.get(f"{DISCLOSURES}{query}"))["items"]  # type: ignore[no-any-return]


def shown(found: list[dict[str, Any]], kind: str) -> list[tuple[str, str, str]]:
    return [(i["subject"], i["due_on"], i["status"]) for i in found if i["kind"] == kind]


def related_purchase(api: ApiClient, org: Org, days_ago: int) -> dict[str, Any]:
    village = assert_ok(api.post(f"{API}/villages", json={"name": "永丰村", "township": "顺安镇"}), 201)
    drive = assert_ok(org.writer.post(f"{API}/drives", json={
        "name": "永丰村大米认购", "village_id": village["id"], "product": "大米", "unit": "袋",
        "unit_price": "50.00", "quantity": "100"}), 201)
    return assert_ok(org.writer.post(f"{API}/drives/{drive['id']}/purchases", json={  # type: ignore[no-any-return]
        "quantity": "10", "amount": "500.00", "kind": "market", "related_party": True,
        "purchased_on": (today() - dt.timedelta(days=days_ago)).isoformat()}), 201)


def test_a_long_project_a_related_purchase_and_the_annual_report_are_on_the_calendar(api: ApiClient,
                                                                                      make: Factory) -> None:
    org = organisation(api, make)
    starts_on, ends_on = long_project(org)
    purchase = related_purchase(api, org, days_ago=20)
    on = today()
    found = items(org.writer)
    # Quarterly from the start while it runs (3 and 6 months; 9 is after its end), then the full one.
    assert shown(found, "progress") == [(CODE, add_months(starts_on, 3).isoformat(), "late"),
                                        (CODE, add_months(starts_on, 6).isoformat(), "upcoming")]
    assert shown(found, "full") == [(CODE, add_months(ends_on, 3).isoformat(), "upcoming")]
    assert shown(found, "related_party") == [
        (str(purchase["id"]), (on + dt.timedelta(days=10)).isoformat(), "due_soon")]
    report_due = dt.date(on.year, 5, 31)
    expected = "late" if on > report_due else "due_soon" if (report_due - on).days <= 14 else "upcoming"
    assert shown(found, "annual_report") == [(str(on.year - 1), report_due.isoformat(), expected),
                                             (str(on.year), f"{on.year + 1}-05-31", "upcoming")]
    assert all(i["organization_id"] == org.id and i["title"] for i in found)
    assert [i["due_on"] for i in found] == sorted(i["due_on"] for i in found)
    first = next(i for i in found if i["kind"] == "progress")
    assert (first["published_at"], first["public_url"], first["leftover"]) == (None, None, None)
    assert "XM-CAL-001" in first["title"]

    # Filters: by status, kind and dates.
    assert {i["status"] for i in items(org.writer, "?status=late")} == {"late"}
    assert shown(items(org.writer, "?kind=full"), "full") == shown(found, "full")
    window = items(org.writer, f"?from={on.isoformat()}&to={(on + dt.timedelta(days=30)).isoformat()}")
    assert [i["kind"] for i in window] == ["related_party"] + (
        ["annual_report"] if on <= dt.date(on.year, 5, 31) <= on + dt.timedelta(days=30) else [])


def test_marking_an_item_published_makes_it_done_once(api: ApiClient, make: Factory) -> None:
    org = organisation(api, make)
    starts_on, _ = long_project(org)
    due = add_months(starts_on, 3).isoformat()
    marked = assert_ok(org.writer.post(DISCLOSURES, json={"kind": "progress", "subject": CODE, "due_on": due,
                                                          "note": "已在官网公示"}, headers={"Idempotency-Key": "cal-1"}),
                       201)
    assert (marked["status"], marked["note"], marked["public_url"]) == (
        "done", "已在官网公示", f"/programmes/public/projects/{CODE}")
    assert marked["published_by"] and marked["published_at"]
    # The same key again: the first answer; without it, a second record is refused.
    again = org.writer.post(DISCLOSURES, json={"kind": "progress", "subject": CODE, "due_on": due,
                                               "note": "已在官网公示"}, headers={"Idempotency-Key": "cal-1"})
    assert (again.status_code, again.json) == (201, marked)
    problem = assert_problem(org.writer.post(DISCLOSURES, json={"kind": "progress", "subject": CODE, "due_on": due}),
                             409)
    assert problem["code"] == "disclosure_already_recorded"
    assert shown(items(org.writer, "?kind=progress"), "progress")[0] == (CODE, due, "done")
    # Only what is on the calendar: another date, another project, a claim's reminder.
    for wrong in ({"kind": "progress", "subject": CODE, "due_on": add_months(starts_on, 4).isoformat()},
                  {"kind": "full", "subject": "XM-NONE", "due_on": due}):
        assert_problem(org.writer.post(DISCLOSURES, json=wrong), 422, "subject")
    assert_problem(org.writer.post(DISCLOSURES, json={"kind": "claim_reminder", "subject": "1", "due_on": due}),
                   422, "kind")
    # A reader may not record.
    reader = api.with_key(make.api_key(org.id, ["programmes:read"], "reader"))
    assert_problem(reader.post(DISCLOSURES, json={"kind": "full", "subject": CODE, "due_on": due}), 403)
    assert len(items(reader, "?kind=progress")) == 2


def test_another_organisation_sees_none_of_it_and_cannot_mark_it(api: ApiClient, make: Factory) -> None:
    org = organisation(api, make)
    starts_on, _ = long_project(org)
    related_purchase(api, org, days_ago=3)
    other = organisation(api, make)
    theirs = items(other.writer)
    assert {i["organization_id"] for i in theirs} == {other.id}
    assert {i["kind"] for i in theirs} == {"annual_report"}
    assert items(other.writer, f"?organization_id={org.id}") == []
    assert_problem(other.writer.post(DISCLOSURES, json={
        "kind": "progress", "subject": CODE, "due_on": add_months(starts_on, 3).isoformat()}), 422, "subject")
    # Naming another organisation is an admin's.
    assert_problem(other.writer.post(DISCLOSURES, json={
        "kind": "progress", "subject": CODE, "due_on": add_months(starts_on, 3).isoformat(),
        "organization_id": org.id}), 422, "organization_id")
    # The admin sees every organisation the programmes know, or one.
    assert org.id in {i["organization_id"] for i in items(api)}
    assert {i["organization_id"] for i in items(api, f"?organization_id={other.id}")} == {other.id}
    assert {i["organization_id"] for i in items(api, f"?organization_id={org.id}")} == {org.id}
    assert shown(items(org.writer, "?kind=progress"), "progress")[0][2] == "late"


def test_a_claim_due_within_two_weeks_is_reminded(api: ApiClient, make: Factory) -> None:
    org = organisation(api, make)
    village = assert_ok(api.post(f"{API}/villages", json={"name": "新桥村", "township": "钟鸣镇"}), 201)
    soon = assert_ok(api.post(f"{API}/needs", json={
        "village_id": village["id"], "title": "修缮村道", "category": "roads", "amount": "8000.00",
        "due_on": (today() + dt.timedelta(days=5)).isoformat()}), 201)
    later = assert_ok(api.post(f"{API}/needs", json={
        "village_id": village["id"], "title": "安装路灯", "category": "lighting", "amount": "3000.00",
        "due_on": (today() + dt.timedelta(days=60)).isoformat()}), 201)
    claim = assert_ok(org.writer.post(f"{API}/needs/{soon['id']}/claims", json={"amount": "2000.00"}), 201)
    assert_ok(org.writer.post(f"{API}/needs/{later['id']}/claims", json={"amount": "1000.00"}), 201)
    reminders = [i for i in items(org.writer) if i["kind"] == "claim_reminder"]
    assert [(i["subject"], i["need_id"], i["status"]) for i in reminders] == [
        (str(claim["id"]), soon["id"], "due_soon")]
    assert_ok(org.writer.post(f"{API}/claims/{claim['id']}/fulfil", json={}))
    assert [i for i in items(org.writer) if i["kind"] == "claim_reminder"] == []


def test_bad_input_is_a_422_naming_the_field(api: ApiClient, make: Factory) -> None:
    org = organisation(api, make)
    good = {"kind": "annual_report", "subject": str(today().year - 1), "due_on": f"{today().year}-05-31"}
    for name, bad in (("kind", "weekly"), ("kind", 3), ("subject", ""), ("subject", "x" * 65),
                      ("due_on", "2026-13-01"), ("due_on", "31/05/2026"), ("note", "x" * 2001),
                      ("organization_id", 0)):
        assert_problem(org.writer.post(DISCLOSURES, json={**good, name: bad}), 422, name)
    assert_problem(org.writer.post(DISCLOSURES, json={**good, "extra": 1}), 422, "extra")
    for query, name in (("?status=soon", "status"), ("?from=2026-02-30", "from"), ("?kind=x", "kind"),
                        ("?from=2026-06-01&to=2026-05-01", "from"), ("?organization_id=abc", "organization_id")):
        assert_problem(org.writer.get(f"{DISCLOSURES}{query}"), 422, name)
    assert [i["status"] for i in items(org.writer, "?kind=annual_report")][1] == "upcoming"
    assert_ok(org.writer.post(DISCLOSURES, json=good), 201)
    assert items(org.writer, "?kind=annual_report")[0]["status"] == "done"


# -- the pages ---------------------------------------------------------------------------------------

def logged_in(gateway: Any, make: Factory, role: str, organization_id: int, username: str) -> Browser:
    make.user(gateway, username, PASSWORD, role, organization_id)
    browser = Browser(gateway)
    browser.login(username, PASSWORD)
    return browser


def row(html: str, item_id: str) -> str:
    match = re.search(rf'<tr id="{re.escape(item_id)}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, item_id
    return match.group(0)


def test_the_calendar_page_lists_the_late_first_and_marks_one_published(api: ApiClient, make: Factory,
                                                                         gateway: Any) -> None:
    org = organisation(api, make)
    starts_on, _ = long_project(org)
    purchase = related_purchase(api, org, days_ago=25)
    manager = logged_in(gateway, make, "fund_manager", org.id, "cal.manager")
    late_id = f"item-progress-{CODE}-{add_months(starts_on, 3).isoformat()}"

    landing = manager.get("/programmes/").get_data(as_text=True)
    assert 'id="disclosure-warning"' in landing and "信息公开日历" in landing
    page = manager.get("/programmes/calendar")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.index('id="calendar-late"') < html.index(late_id) < html.index(f"item-related_party-{purchase['id']}")
    assert 'class="calendar-late"' in row(html, late_id) and "已逾期" in row(html, late_id)
    assert "第 1 次进展公开" in row(html, late_id)
    soon = row(html, f"item-related_party-{purchase['id']}-{(today() + dt.timedelta(days=5)).isoformat()}")
    assert "两周内到期" in soon and "⚠" in soon and "标记为已公开" in soon

    marked = manager.http.post("/programmes/calendar/published", headers=HTML, data={
        "csrf_token": csrf_token(html), "kind": "progress", "subject": CODE,
        "due_on": add_months(starts_on, 3).isoformat(), "organization_id": str(org.id)})
    assert marked.status_code == 302, marked.get_data(as_text=True)
    html = manager.get("/programmes/calendar").get_data(as_text=True)
    done = row(html, late_id)
    assert "已于" in done and f'href="/programmes/public/projects/{CODE}"' in done and "标记为已公开" not in done
    start = html.find('id="calendar-late"')
    assert start < 0 or late_id not in html[start:html.index("</table>", start)]  # no longer among the late
    assert shown(items(org.writer, "?kind=progress"), "progress")[0][2] == "done"
    # Again: refused on the page, in Chinese, nothing written twice.
    again = manager.http.post("/programmes/calendar/published", headers=HTML, data={
        "csrf_token": csrf_token(html), "kind": "progress", "subject": CODE,
        "due_on": add_months(starts_on, 3).isoformat(), "organization_id": str(org.id)})
    assert again.status_code == 409 and "已登记为已公开" in again.get_data(as_text=True)
    # In English when asked.
    english = manager.get("/programmes/calendar?lang=en").get_data(as_text=True)
    assert "Disclosure calendar" in english and "Progress disclosure 1 of project" in english
    manager.get("/programmes/calendar?lang=zh")

    # Another organisation's manager sees none of it, and cannot mark it.
    other = make.organization()
    stranger = logged_in(gateway, make, "fund_manager", other["id"], "cal.stranger")
    theirs = stranger.get("/programmes/calendar").get_data(as_text=True)
    assert CODE not in theirs and f"item-related_party-{purchase['id']}" not in theirs
    refused = stranger.http.post("/programmes/calendar/published", headers=HTML, data={
        "csrf_token": csrf_token(theirs), "kind": "related_party", "subject": str(purchase["id"]),
        "due_on": (today() + dt.timedelta(days=5)).isoformat(), "organization_id": str(org.id)})
    assert refused.status_code == 422
    assert "标记为已公开" not in row(manager.get("/programmes/calendar").get_data(as_text=True), late_id)


def test_the_disbursement_form_names_a_budget_line_and_the_project_shows_it_paid(api: ApiClient, make: Factory,
                                                                                 gateway: Any) -> None:
    org = organisation(api, make)
    long_project(org)
    accept(org, 1, CODE)  # its first instalment (6,000.00) is payable
    manager = logged_in(gateway, make, "fund_manager", org.id, "form.manager")
    page = manager.get("/donations/disbursements/new").get_data(as_text=True)
    assert 'id="programmes-unavailable"' not in page
    assert f'<option value="{CODE}"' in page and f'<option value="{EQUIPMENT}"' in page
    assert "剩余 ¥6,000.00" in page

    def request(extra: dict[str, str], key: str) -> Any:
        return manager.http.post("/donations/disbursements/new", headers=HTML, data={
            "csrf_token": csrf_token(page), "submission_id": key, "fund_code": org.fund, "amount": "500",
            "payee": "铜陵某教育设备公司", "purpose": "采购教学设备", "project": "", "category": "programme",
            **extra})

    # The ledger's refusals beside the fields, in Chinese; nothing written.
    wrong = request({"project_code": CODE, "budget_line": "不存在的科目", "need_id": ""}, "form-wrong-1")
    assert wrong.status_code == 409
    shown = wrong.get_data(as_text=True)
    errors = re.search(r'<ul class="errors" id="errors-budget_line">(.*?)</ul>', shown, re.S)
    assert errors and "不存在的科目" in errors.group(1), shown
    both = request({"project_code": CODE, "budget_line": EQUIPMENT, "need_id": "7"}, "form-wrong-2")
    assert both.status_code == 422 and 'id="errors-need_id"' in both.get_data(as_text=True)
    assert assert_ok(org.writer.get(f"/donations/api/v1/disbursements?fund_code={org.fund}"))["items"] == []

    made = request({"project_code": CODE, "budget_line": EQUIPMENT, "need_id": ""}, "form-good-1")
    assert made.status_code == 302, made.get_data(as_text=True)
    [disbursement] = assert_ok(org.writer.get(f"/donations/api/v1/disbursements?fund_code={org.fund}"))["items"]
    assert (disbursement["project_code"], disbursement["budget_line"], disbursement["need_id"]) == (
        CODE, EQUIPMENT, None)
    assert_ok(org.approver.post(f"/donations/api/v1/disbursements/{disbursement['id']}/approve"))
    assert_ok(org.writer.post(f"/donations/api/v1/disbursements/{disbursement['id']}/pay",
                              json={"paid_on": today().isoformat(), "bank_reference": "B-1"}))
    project = assert_ok(org.writer.get(f"{API}/projects/{CODE}"))
    line = next(x for x in project["lines"] if x["name"] == EQUIPMENT)
    assert (line["paid"], line["remaining"]) == ("500.00", "5500.00")
    detail = manager.get(f"/donations/disbursements/{disbursement['id']}").get_data(as_text=True)
    assert f'href="/programmes/projects/{CODE}"' in detail and EQUIPMENT in detail
    listed = manager.get("/donations/disbursements/").get_data(as_text=True)
    assert f'href="/programmes/projects/{CODE}"' in listed
    again = manager.get("/donations/disbursements/new").get_data(as_text=True)
    assert "剩余 ¥5,500.00" in again


def test_without_the_programmes_service_the_fields_are_typed(api: ApiClient, make: Factory, gateway: Any) -> None:
    org = organisation(api, make)
    manager = logged_in(gateway, make, "fund_manager", org.id, "typed.manager")
    programmes = gateway.apps["programmes"]
    saved = programmes.wsgi_app

    def down(environ: Any, start_response: Any) -> Any:
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"down"]

    programmes.wsgi_app = down
    try:
        page = manager.get("/donations/disbursements/new").get_data(as_text=True)
    finally:
        programmes.wsgi_app = saved
    assert 'id="programmes-unavailable"' in page and "公益项目服务暂时无法访问" in page
    assert re.search(r'<input[^>]*id="project_code"', page) and re.search(r'<input[^>]*id="need_id"', page)
