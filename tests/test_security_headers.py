"""Every answer carries the security headers; pages satisfy their Content-Security-Policy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from services.gateway import create_gateway
from shared.config import REPO_ROOT
from tests.conftest import ApiClient, Browser

COMMON = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}


def assert_common(response: Any) -> None:
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, (name, response.headers.get(name))
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/funds/", "/donations/", "/reports/", "/reports/subscriptions", "/programmes/"])
def test_pages_forbid_framing_inline_script_and_caching(admin: Browser, path: str) -> None:
    page = admin.get(path)
    assert page.status_code == 200
    assert_common(page)
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert page.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in page.headers


def test_the_login_page_and_errors_carry_them_too(browser: Browser) -> None:
    for response in (browser.get("/funds/login"), browser.get("/funds/no-such-page")):
        assert_common(response)
        assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/funds/api/v1/funds", "/donations/api/v1/donations", "/reports/api/v1/reports",
                                  "/programmes/api/v1/needs", "/funds/api/v1/me"])
def test_api_answers_run_nothing_and_are_not_cached(api: ApiClient, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 200
    assert_common(response)
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert response.headers["Cache-Control"] == "no-store"
    unauthorised = api.with_key(None).get(path)
    assert unauthorised.status_code == 401 and unauthorised.headers["Cache-Control"] == "no-store"


def test_the_print_button_works_without_inline_script(admin: Browser) -> None:
    script = admin.get("/donations/static/print.js")
    assert script.status_code == 200 and "window.print()" in script.get_data(as_text=True)


def test_the_browsable_docs_may_run_their_own_script(api: ApiClient) -> None:
    docs = api.get("/donations/docs")
    assert docs.status_code == 200
    assert "script-src 'self' 'unsafe-inline'" in docs.headers["Content-Security-Policy"]
    assert_common(docs)


def test_templates_hold_no_inline_script_or_handlers() -> None:
    """The pages' policy allows scripts from the site only: a template with an inline script or
    an on...= handler would be broken by it."""
    offenders = []
    for template in [*REPO_ROOT.glob("services/*/templates/**/*.html"), *REPO_ROOT.glob("shared/templates/**/*.html")]:
        text = Path(template).read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\son[a-z]+\s*=", text):
            offenders.append(str(template.relative_to(REPO_ROOT)))
    assert offenders == []


def test_over_https_cookies_are_secure_and_hsts_is_sent(app_config: dict[str, Any]) -> None:
    from werkzeug.test import Client

    from tests.conftest import ADMIN_PASSWORD, csrf_token

    gateway = create_gateway({**app_config, "HTTPS_ONLY": "1"})
    try:
        client = Client(gateway)
        page = client.get("/funds/login", base_url="https://localhost")
        assert page.headers["Strict-Transport-Security"].startswith("max-age=")
        login = client.post("/funds/login", base_url="https://localhost",
                            headers={"Referer": "https://localhost/funds/login"},
                            data={"csrf_token": csrf_token(page.get_data(as_text=True)), "username": "admin",
                                  "password": ADMIN_PASSWORD})
        assert login.status_code == 302
        cookies = login.headers.getlist("Set-Cookie")
        assert cookies and all("Secure" in cookie for cookie in cookies)
    finally:
        for app in gateway.apps.values():
            app.extensions["database"].dispose()
