"""The pages' forms forgive what people type and refuse clearly; irreversible acts ask first;
a login lost on the way loses nothing typed.

Driven through the pages as a person would (the Browser fixture, through the gateway); what
the pages did is checked through the public API.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import update

from conftest import Browser, csrf_token
from helpers import field_errors, text, wait_until
from shared.db import utcnow

HTML = {"Accept": "text/html"}
PASSWORD = "a-long-enough-password"
FUND = "TL-PAGE-001"


@pytest.fixture
def org(make: Any) -> dict[str, Any]:
    return make.organization("铜陵市徽商商会")  # type: ignore[no-any-return]


@pytest.fixture
def fund(make: Any, org: dict[str, Any]) -> dict[str, Any]:
    return make.fund(org["id"], FUND, name="徽商助学基金")  # type: ignore[no-any-return]


def logged_in(gateway: Any, make: Any, role: str, organization_id: int, username: str) -> Browser:
    make.user(gateway, username, PASSWORD, role, organization_id)
    browser = Browser(gateway)
    browser.login(username, PASSWORD)
    return browser


def donation_form(**fields: str) -> dict[str, str]:
    return {"fund_code": FUND, "amount": "1280.00", "currency": "CNY", "donor_name": "铜陵某某有限公司",
            "donor_kind": "enterprise", "received_on": "2026-08-03", "channel": "bank", "purpose": "助学",
            "reference": "", **fields}


def donations(api: Any) -> list[dict[str, Any]]:
    response = api.get("/donations/api/v1/donations")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["items"]  # type: ignore[no-any-return]


def balance(api: Any, code: str = FUND) -> tuple[str, str]:
    body = api.get(f"/donations/api/v1/funds/{code}/balance").json
    return body["balance"], body["available"]


def post(browser: Browser, path: str, data: dict[str, Any], token_from: str) -> Any:
    page = browser.get(token_from)
    assert page.status_code == 200, (token_from, page.status_code)
    return browser.http.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True)), **data},
                             headers=HTML)


def options(response: Any, name: str) -> dict[str, str]:
    """A select's options: value -> what it shows."""
    page = response.get_data(as_text=True)
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select, f"no select {name}"
    return {html.unescape(value): html.unescape(shown.strip()) for value, shown in
            re.findall(r'<option[^>]*value="([^"]*)"[^>]*>(.*?)</option>', select.group(1), re.S)}


def selected(response: Any, name: str) -> str | None:
    page = response.get_data(as_text=True)
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select
    found = re.search(r'<option(?=[^>]*\bselected\b)[^>]*value="([^"]*)"', select.group(1))
    return found.group(1) if found else None


def input_value(response: Any, name: str) -> str | None:
    found = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"|<input[^>]*value="([^"]*)"[^>]*name="{name}"',
                      response.get_data(as_text=True))
    if found is None:
        return None
    return html.unescape(found.group(1) if found.group(1) is not None else found.group(2))


# -- amounts as people type them ---------------------------------------------------------

@pytest.mark.parametrize(("typed", "recorded"), [
    ("5000", "5000.00"), ("50,000.00", "50000.00"), ("5,000", "5000.00"), ("¥500", "500.00"),
    ("￥500", "500.00"), (" 500 元", "500.00"), ("５０００．００", "5000.00"), ("1280.5", "1280.50"),
])
def test_an_amount_is_taken_as_people_type_it(admin: Browser, api: Any, fund: dict[str, Any], typed: str,
                                               recorded: str) -> None:
    response = admin.submit("/donations/new", donation_form(amount=typed))
    assert response.status_code == 302, field_errors(response, "amount")
    [donation] = donations(api)
    assert donation["amount"] == recorded


@pytest.mark.parametrize(("typed", "chinese", "english"), [
    ("-5", "金额必须大于 0", "Must be more than 0."),
    ("0", "金额必须大于 0", "Must be more than 0."),
    ("abc", "不是有效的金额", "Not an amount"),
    ("12.345", "两位小数", "At most two decimals"),
    ("5,00", "不是有效的金额", "Not an amount"),
])
def test_an_amount_that_is_none_is_refused_in_the_readers_language(admin: Browser, api: Any,
                                                                   fund: dict[str, Any], typed: str,
                                                                   chinese: str, english: str) -> None:
    response = admin.submit("/donations/new", donation_form(amount=typed))
    assert response.status_code == 422
    assert chinese in field_errors(response, "amount")
    assert input_value(response, "amount") == typed  # shown as typed, to correct
    in_english = admin.submit("/donations/new?lang=en", donation_form(amount=typed))
    assert in_english.status_code == 422 and english in field_errors(in_english, "amount")
    assert donations(api) == []


def test_the_api_stays_strict_about_amounts(api: Any, fund: dict[str, Any]) -> None:
    body = {"fund_code": FUND, "amount": "5,000", "currency": "CNY", "received_on": "2026-08-03",
            "donor": {"name": "某公司", "kind": "enterprise", "anonymous": False}, "channel": "bank"}
    response = api.post("/donations/api/v1/donations", json=body)
    assert response.status_code == 422 and "amount" in response.json["errors"]


def test_a_disbursement_request_takes_an_amount_as_typed(gateway: Any, make: Any, api: Any,
                                                         org: dict[str, Any], fund: dict[str, Any]) -> None:
    make.donation(FUND, "2000.00")
    manager = logged_in(gateway, make, "fund_manager", org["id"], "manager")
    form = {"fund_code": FUND, "payee": "某学校", "purpose": "助学", "category": "programme"}
    refused = manager.submit("/donations/disbursements/new", {**form, "amount": "-5"})
    assert refused.status_code == 422 and "金额必须大于 0" in field_errors(refused, "amount")
    response = manager.submit("/donations/disbursements/new", {**form, "amount": "¥1,000"})
    assert response.status_code == 302, text(response)
    [item] = api.get("/donations/api/v1/disbursements").json["items"]
    assert item["amount"] == "1000.00"


# -- codes, funds to pick, limits, roles ---------------------------------------------------

def test_a_fund_code_typed_in_lower_case_is_upper_cased(admin: Browser, api: Any, org: dict[str, Any]) -> None:
    response = admin.submit("/funds/new", {"code": " tl-low-001 ", "name": "小写编号基金", "kind": "general",
                                           "organization_id": org["id"], "purpose": "助学"})
    assert response.status_code == 302, text(response)
    assert response.location == "/funds/TL-LOW-001"
    assert api.get("/funds/api/v1/funds/TL-LOW-001").json["name"] == "小写编号基金"


def test_funds_are_picked_from_the_users_own_by_name_and_code_new_ones_included(
        gateway: Any, make: Any, org: dict[str, Any], fund: dict[str, Any]) -> None:
    other = make.organization("另一商会")
    make.fund(other["id"], "TL-OTHER-001", name="别人的基金")
    manager = logged_in(gateway, make, "fund_manager", org["id"], "manager")
    page = manager.get("/donations/new")
    shown = options(page, "fund_code")
    assert shown[FUND] == "徽商助学基金（TL-PAGE-001）"
    assert "本机构的基金，按名称和编号列出" in text(page) and "例如 5000、50,000.00 或 ¥500" in text(page)
    assert "TL-OTHER-001" not in shown and shown[""]  # first: pick one

    make.fund(org["id"], "TL-NEW-001", name="新设基金")  # no entries in the ledger yet
    assert "TL-NEW-001" in options(manager.get("/donations/new"), "fund_code")
    assert "TL-NEW-001" in options(manager.get("/donations/disbursements/new"), "fund_code")
    assert "TL-OTHER-001" not in options(manager.get("/donations/search"), "fund_code")


def test_a_text_says_its_limit_before_it_is_reached_and_is_never_cut(admin: Browser, api: Any,
                                                                     fund: dict[str, Any]) -> None:
    page = admin.get("/donations/new")
    assert "最多 200 字" in text(page) and 'maxlength="200"' in page.get_data(as_text=True)
    assert "At most 200 characters." in text(admin.get("/donations/new?lang=en"))
    too_long = admin.submit("/donations/new", donation_form(donor_name="捐" * 201))
    assert too_long.status_code == 422 and field_errors(too_long, "donor_name")
    assert donations(api) == []


def test_a_new_users_role_defaults_to_the_least_power(admin: Browser, org: dict[str, Any]) -> None:
    assert selected(admin.get("/funds/users/new"), "role") == "auditor"


# -- irreversible acts ask first -----------------------------------------------------------

def test_reversing_a_donation_shows_what_will_happen_and_only_the_confirmation_reverses(
        admin: Browser, api: Any, make: Any, fund: dict[str, Any]) -> None:
    make.donation(FUND, "800.00")
    donation = make.donation(FUND, "500.00")
    receipt = f"/donations/receipts/{donation['id']}"
    confirm_path = f"{receipt}/reverse"
    assert f'href="{confirm_path}"' in admin.get(receipt).get_data(as_text=True)

    confirm = admin.get(confirm_path)
    page = text(confirm)
    assert confirm.status_code == 200
    assert "¥500.00" in page and re.search(r'id="balance-after">¥800\.00<', page)
    assert "不可撤销" in page or "cannot be undone" in page
    assert f'href="{receipt}"' in confirm.get_data(as_text=True)  # cancel: back to the receipt
    assert {d["status"] for d in donations(api)} == {"recorded"} and balance(api) == ("1300.00", "1300.00")

    admin.get(receipt)  # cancelling is following the link: nothing is posted
    assert balance(api) == ("1300.00", "1300.00")

    done = post(admin, confirm_path, {"reason": "银行退回"}, token_from=confirm_path)
    assert done.status_code == 302 and done.location == receipt
    assert balance(api) == ("800.00", "800.00")
    assert 'id="confirm"' not in text(admin.get(confirm_path))  # nothing left to confirm


def test_freezing_a_fund_shows_what_it_means_and_only_the_confirmation_freezes(
        admin: Browser, api: Any, make: Any, fund: dict[str, Any]) -> None:
    make.donation(FUND, "300.00")
    detail = f"/funds/{FUND}"
    assert f'href="{detail}/freeze"' in admin.get(detail).get_data(as_text=True)
    confirm = admin.get(f"{detail}/freeze")
    page = text(confirm)
    assert confirm.status_code == 200 and "¥300.00" in page
    assert "仍可接收捐赠，但不能拨付" in page
    assert f'href="{detail}"' in confirm.get_data(as_text=True)
    assert api.get(f"/funds/api/v1/funds/{FUND}").json["status"] == "active"

    frozen = post(admin, f"{detail}/freeze", {}, token_from=f"{detail}/freeze")
    assert frozen.status_code == 302
    assert api.get(f"/funds/api/v1/funds/{FUND}").json["status"] == "frozen"
    # Shown as frozen, with what it means, wherever the fund is listed or shown.
    for where in (detail, "/funds/"):
        assert "仍可接收捐赠，但不能拨付" in text(admin.get(where)), where
    assert "takes donations but pays nothing out" in text(admin.get(f"{detail}?lang=en"))


def test_closing_a_fund_asks_first(admin: Browser, api: Any, make: Any, org: dict[str, Any]) -> None:
    make.fund(org["id"], "TL-CLOSE-001")
    page = admin.get("/funds/TL-CLOSE-001/close")
    assert page.status_code == 200 and 'href="/funds/TL-CLOSE-001"' in page.get_data(as_text=True)
    assert admin.submit("/funds/TL-CLOSE-001/close", {}).status_code == 422  # not confirmed
    assert api.get("/funds/api/v1/funds/TL-CLOSE-001").json["status"] == "active"
    assert admin.submit("/funds/TL-CLOSE-001/close", {"confirm": "y"}).status_code == 302
    assert api.get("/funds/api/v1/funds/TL-CLOSE-001").json["status"] == "closed"


def test_rejecting_a_disbursement_shows_what_will_happen_and_only_the_confirmation_rejects(
        gateway: Any, make: Any, api: Any, org: dict[str, Any], fund: dict[str, Any]) -> None:
    make.donation(FUND, "1000.00")
    manager = logged_in(gateway, make, "fund_manager", org["id"], "manager")
    approver = logged_in(gateway, make, "approver", org["id"], "approver")
    manager.submit("/donations/disbursements/new", {"fund_code": FUND, "amount": "400.00", "payee": "某学校",
                                                    "purpose": "助学", "category": "programme"})
    [item] = api.get("/donations/api/v1/disbursements").json["items"]
    post(approver, f"/donations/disbursements/{item['id']}/approve", {}, token_from="/donations/disbursements/queue")
    assert balance(api) == ("1000.00", "600.00")

    confirm_path = f"/donations/disbursements/{item['id']}/reject"
    queue = approver.get("/donations/disbursements/queue").get_data(as_text=True)
    assert f'href="{confirm_path}"' in queue and f'action="{confirm_path}"' not in queue
    confirm = approver.get(confirm_path)
    page = text(confirm)
    assert confirm.status_code == 200 and "¥400.00" in page
    assert re.search(r'id="available-after">¥1,000\.00<', page)  # the reservation released
    assert 'href="/donations/disbursements/queue"' in confirm.get_data(as_text=True)
    assert api.get(f"/donations/api/v1/disbursements/{item['id']}").json["status"] == "approved"

    no_reason = post(approver, confirm_path, {"reason": " "}, token_from=confirm_path)
    assert no_reason.status_code == 422 and field_errors(no_reason, f"reject-{item['id']}-reason")
    done = post(approver, confirm_path, {"reason": "项目已取消"}, token_from=confirm_path)
    assert done.status_code == 302
    assert api.get(f"/donations/api/v1/disbursements/{item['id']}").json["status"] == "rejected"
    assert balance(api) == ("1000.00", "1000.00")


# -- a login lost on the way --------------------------------------------------------------

def end_every_login(gateway: Any) -> None:
    """Every login ends, as when the user logs out in another tab (the browser keeps its cookie)."""
    from services.funds.models import LoginSession

    app = gateway.apps["funds"]
    with app.app_context():
        with app.extensions["database"].transaction() as session:
            session.execute(update(LoginSession).values(ended_at=utcnow()))


def test_a_form_sent_after_the_login_ended_comes_back_filled_in_after_logging_in(
        gateway: Any, make: Any, api: Any, org: dict[str, Any], fund: dict[str, Any]) -> None:
    manager = logged_in(gateway, make, "fund_manager", org["id"], "manager")
    token = csrf_token(manager.get("/donations/new").get_data(as_text=True))
    end_every_login(gateway)
    wait_until(lambda: manager.get("/donations/").status_code == 302)

    typed = donation_form(amount="50,000", purpose="乡村学校图书室", reference="ERP-77")
    sent = manager.http.post("/donations/new", data={"csrf_token": token, **typed}, headers=HTML)
    assert sent.status_code == 302 and sent.location == "/funds/login?next=/donations/new"
    assert donations(api) == []
    login_page = manager.get(sent.location)
    assert login_page.status_code == 200 and 'lang="zh-CN"' in login_page.get_data(as_text=True)
    assert "登录已失效" in text(login_page)

    back = manager.submit(sent.location, {"username": "manager", "password": PASSWORD})
    assert back.status_code == 302 and back.location == "/donations/new"
    form = manager.get("/donations/new")
    assert "已恢复" in text(form)
    assert (input_value(form, "amount"), input_value(form, "donor_name"), input_value(form, "reference")) == (
        "50,000", "铜陵某某有限公司", "ERP-77")
    assert "乡村学校图书室" in text(form) and selected(form, "fund_code") == FUND
    assert donations(api) == []  # nothing recorded until it is sent again

    assert manager.submit("/donations/new", typed).status_code == 302
    [donation] = donations(api)
    assert (donation["amount"], donation["purpose"]) == ("50000.00", "乡村学校图书室")
    assert input_value(manager.get("/donations/new"), "reference") in (None, "")  # kept once only


def test_a_form_sent_without_its_session_cookie_goes_to_the_login_in_the_pages_language_and_back(
        gateway: Any, make: Any, api: Any, org: dict[str, Any], fund: dict[str, Any]) -> None:
    make.user(gateway, "manager", PASSWORD, "fund_manager", org["id"])
    browser = Browser(gateway)  # the browser was closed: no cookie, so no CSRF token either
    sent = browser.http.post("/donations/new?lang=en", data={"csrf_token": "from-a-closed-browser",
                                                             **donation_form(donor_name="王五")}, headers=HTML)
    assert sent.status_code == 302
    assert sent.location == "/funds/login?next=/donations/new%3Flang%3Den&lang=en"
    login_page = browser.get(sent.location)
    assert 'lang="en"' in login_page.get_data(as_text=True) and "Your login has ended" in text(login_page)

    back = browser.submit(sent.location, {"username": "manager", "password": PASSWORD})
    assert back.location == "/donations/new?lang=en"
    assert input_value(browser.get(back.location), "donor_name") == "王五"
    assert donations(api) == []


def test_a_form_posted_from_another_site_without_a_login_fills_in_nothing(
        gateway: Any, make: Any, org: dict[str, Any], fund: dict[str, Any]) -> None:
    make.user(gateway, "manager", PASSWORD, "fund_manager", org["id"])
    browser = Browser(gateway)
    sent = browser.http.post("/donations/new", data=donation_form(donor_name="伪造"),
                             headers={**HTML, "Origin": "https://evil.example"})
    assert sent.status_code == 302 and sent.location.startswith("/funds/login")
    browser.submit(sent.location, {"username": "manager", "password": PASSWORD})
    assert input_value(browser.get("/donations/new"), "donor_name") in (None, "")
