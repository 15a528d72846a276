"""Hostile input found by probing the running system: each answered 500 before its fix."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import ApiClient, Browser, Factory
from tests.helpers import assert_problem


@pytest.mark.parametrize("path", [
    "/donations/api/v1/funds/基金A/balance",
    "/donations/api/v1/funds/基金A/statement",
    "/donations/api/v1/donations?fund_code=基金A",
    "/donations/api/v1/funds/%E2%80%A8/balance",
])
def test_a_fund_code_in_any_script_in_an_api_url_is_not_found(api: ApiClient, path: str) -> None:
    response = api.get(path)
    assert response.status_code in (404, 422), (response.status_code, response.get_data(as_text=True))


@pytest.mark.parametrize("path", [
    "/donations/funds/基金A/statement",
    "/donations/statement?fund_code=基金A",
])
def test_a_fund_code_in_any_script_on_a_page_is_not_found(admin: Browser, path: str) -> None:
    response = admin.get(path)
    assert response.status_code in (404, 422), (path, response.status_code)


@pytest.mark.parametrize("target", ["/funds/\r\nSet-Cookie: x=1", "/donations/%0d%0aX: y", "//evil.example/", "/\\evil.example/",
                                    "/funds/\n"])
def test_a_login_next_with_line_breaks_or_elsewhere_stays_on_the_site(browser: Browser, target: str) -> None:
    from tests.conftest import ADMIN_PASSWORD, csrf_token

    page = browser.get("/funds/login", query_string={"next": target})
    assert page.status_code == 200
    response = browser.http.post("/funds/login", query_string={"next": target},
                                 data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                       "username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 302, response.status_code
    location = response.headers["Location"]
    assert "\r" not in location and "\n" not in location and "evil.example" not in location


def test_url_building_words_in_the_disbursement_lists_query_are_ignored(api: ApiClient, make: Factory,
                                                                        admin: Browser) -> None:
    org = make.organization()
    fund = make.fund(org["id"])
    make.donation(fund["code"], "1000.00")
    clerk = make.api_key(org["id"], ["donations:write", "donations:read"], name="clerk")
    approver = make.api_key(org["id"], ["disbursements:approve", "donations:read"], name="approver")
    made = api.post("/donations/api/v1/disbursements", {"fund_code": fund["code"], "amount": "10.00",
                                                        "payee": "某村", "purpose": "路灯"}, key=clerk)
    assert api.post(f"/donations/api/v1/disbursements/{made.json['id']}/approve", key=approver).status_code == 200
    for query in ("_method=BOGUS", "_anchor=x&status=approved", "_external=1&_scheme=javascript", "_method=POST"):
        page = admin.get(f"/donations/disbursements/?{query}")
        assert page.status_code == 200, (query, page.status_code)
        html = page.get_data(as_text=True)
        assert f"/donations/disbursements/{made.json['id']}/pay" in html
        assert "#x" not in html and "javascript:" not in html and "http://" not in html.split("<main", 1)[1]


@pytest.mark.parametrize("path", ["/donations/api/v1/donations", "/funds/api/v1/organizations",
                                  "/reports/api/v1/reports", "/donations/api/v1/disbursements"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"])
def test_a_single_object_post_that_is_not_json_is_a_415_like_the_batch(api: ApiClient, path: str,
                                                                       content_type: str) -> None:
    response = api.request("POST", path, data='{"name": "x"}', headers={"Content-Type": content_type})
    problem = assert_problem(response, 415)
    assert "application/json" in problem["detail"] and content_type in problem["detail"]


def test_an_empty_post_is_still_a_422_naming_the_missing_fields(api: ApiClient) -> None:
    assert_problem(api.request("POST", "/funds/api/v1/organizations"), 422, "name")


def test_a_keys_listed_id_reveals_nothing_of_its_secret(api: ApiClient, make: Factory) -> None:
    org = make.organization()
    issued = api.post(f"/funds/api/v1/organizations/{org['id']}/api-keys",
                      {"name": "integration", "scopes": ["funds:read"]}).json
    listed = api.get(f"/funds/api/v1/organizations/{org['id']}/api-keys").json["items"]
    (key,) = [k for k in listed if k["id"] == issued["id"]]
    assert key["prefix"] == issued["prefix"] and key["prefix"].startswith("key_")
    secret = issued["key"]
    assert not any(secret[i:i + 4] in key["prefix"] for i in range(len(secret) - 3))


def test_the_last_admin_key_cannot_be_revoked(api: ApiClient, make: Factory) -> None:
    org = make.organization()
    me = api.get("/funds/api/v1/me").json
    problem = assert_problem(api.delete(f"/funds/api/v1/organizations/{me['organization_id']}/api-keys/{me['id']}"),
                             409)
    assert "last admin key" in problem["detail"]
    assert api.get("/funds/api/v1/me").status_code == 200
    # With a second admin key, the first may go; then the second is the last.
    second = api.post(f"/funds/api/v1/organizations/{me['organization_id']}/api-keys",
                      {"name": "second admin", "scopes": ["admin"]}).json
    assert api.delete(f"/funds/api/v1/organizations/{me['organization_id']}/api-keys/{me['id']}").status_code in (
        200, 204)
    other = api.with_key(second["key"])
    assert_problem(other.delete(f"/funds/api/v1/organizations/{me['organization_id']}/api-keys/{second['id']}"), 409)
    # A key without admin goes as before.
    plain = other.post(f"/funds/api/v1/organizations/{org['id']}/api-keys",
                       {"name": "reader", "scopes": ["funds:read"]}).json
    assert other.delete(f"/funds/api/v1/organizations/{org['id']}/api-keys/{plain['id']}").status_code in (200, 204)


def test_logging_out_ends_the_session_for_every_copy_of_its_cookie(gateway: Any) -> None:
    """A cookie copied before logout is refused after it, by every service, within the contract's 5 s."""
    import time

    from werkzeug.test import Client

    from tests.conftest import ADMIN_PASSWORD, csrf_token

    browser = Browser(gateway)
    browser.login("admin", ADMIN_PASSWORD)
    copied = browser.http.get_cookie("charity_session")
    assert copied is not None
    thief = Client(gateway)
    thief.set_cookie("charity_session", copied.value)
    for path in ("/funds/", "/donations/", "/reports/"):
        assert thief.get(path, headers={"Accept": "text/html"}).status_code == 200, path
    other_login = Browser(gateway)
    other_login.login("admin", ADMIN_PASSWORD)  # another browser of the same user stays logged in

    page = browser.get("/funds/").get_data(as_text=True)
    assert browser.http.post("/funds/logout", data={"csrf_token": csrf_token(page)}).status_code == 302
    deadline = time.monotonic() + 5
    for path in ("/funds/", "/donations/", "/reports/"):
        while True:
            answer = thief.get(path, headers={"Accept": "text/html"})
            if answer.status_code == 302 and "/funds/login" in answer.headers["Location"]:
                break
            assert time.monotonic() < deadline, f"{path} still accepts the logged-out cookie"
            time.sleep(0.2)
    assert other_login.get("/funds/").status_code == 200


def _login(browser: Browser, username: str, password: str) -> Any:
    from tests.conftest import csrf_token

    page = browser.get("/funds/login")
    return browser.http.post("/funds/login", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                                   "username": username, "password": password},
                             headers={"Accept": "text/html"})


def test_wrong_passwords_are_throttled_by_account_then_even_the_right_one_waits(gateway: Any,
                                                                                 make: Factory) -> None:
    from tests.conftest import ADMIN_PASSWORD

    org = make.organization()
    make.user(gateway, "clerk", "a-long-enough-password", "fund_manager", org["id"])
    browser = Browser(gateway)
    answers = [_login(browser, "admin", f"wrong-{n}").status_code for n in range(5)]
    assert answers == [422] * 5
    refused = _login(browser, "ADMIN ", ADMIN_PASSWORD)  # the same account, however typed
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert re.search(r"请在 \d+ 秒后再试", refused.get_data(as_text=True))
    assert _login(browser, "clerk", "a-long-enough-password").status_code == 302  # another account is not


def test_wrong_passwords_from_one_address_are_throttled_across_accounts(browser: Browser) -> None:
    statuses = [_login(browser, f"nobody{n}", "wrong-password").status_code for n in range(21)]
    assert statuses[:20] == [422] * 20 and statuses[20] == 429


def test_bad_api_keys_from_one_address_are_throttled(api: ApiClient) -> None:
    # Each service counts (together, in the Redis of production; here in each one's memory).
    for path in ("/funds/api/v1/me", "/donations/api/v1/donations"):
        statuses = [api.with_key(f"cfk_guess-{n}").get(path).status_code for n in range(20)]
        assert statuses == [401] * 20
        refused = api.with_key("cfk_guess-x").get(path)
        problem = assert_problem(refused, 429)
        assert int(refused.headers["Retry-After"]) >= 1 and "try again in" in problem["detail"]


@pytest.mark.parametrize("trusted, separate", [("0", False), ("1", True)])
def test_failed_logins_count_by_the_address_the_gateway_saw_only_behind_a_trusted_proxy(
        app_config: dict[str, Any], trusted: str, separate: bool) -> None:
    from services.gateway import create_gateway

    gateway = create_gateway({**app_config, "TRUSTED_PROXIES": trusted})
    try:
        browser = Browser(gateway)
        from tests.conftest import csrf_token

        def attempt(n: int) -> int:
            page = browser.get("/funds/login")
            return browser.http.post("/funds/login", headers={"Accept": "text/html", "X-Forwarded-For": f"10.0.0.{n}"},
                                     data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                           "username": f"nobody{n}", "password": "wrong-password"}).status_code

        statuses = [attempt(n) for n in range(21)]
        assert (statuses[20] == 422) == separate, statuses
    finally:
        for app in gateway.apps.values():
            app.extensions["database"].dispose()
