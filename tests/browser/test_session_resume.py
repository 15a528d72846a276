"""Losing a login loses nothing typed, in Chromium.

A fund manager types a donation; before they send it their login ends: they
logged out in another tab, the browser lost its session cookie (closed, or the
cookie expired), or an admin changed their password. Sending it leads to the
login page, in the page's language, which says what was typed is kept; after
logging in they are back at the form with what they typed, and sending it
records the donation once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page

from shared import i18n
from shared.dates import today
from shared.refusals import LOGIN_ENDED_KEPT, TYPED_AGAIN
from tests.browser.conftest import AUTH_CACHE_SECONDS
from tests.browser.support import PASSWORD, PageChecks, Site

NEW_PASSWORD = "another-long-enough-password"
DONOR = "钟鸣镇个体户张秀兰"
LOGIN_WORDS = {"zh": ("用户名", "密码", "登录"), "en": ("Username", "Password", "Log in")}


def log_in(page: Page, username: str, password: str, lang: str) -> None:
    user, secret, button = LOGIN_WORDS[lang]
    page.get_by_label(user).fill(username)
    page.get_by_label(secret).fill(password)
    page.get_by_role("button", name=button).click()
    page.wait_for_url(lambda url: "/login" not in url)


def logged_out_in_another_tab(site: Site, context: BrowserContext, username: str, open_context: Any) -> None:
    other = context.new_page()
    other.goto(f"{site.base_url}/funds/")
    other.locator("header form[action$='/logout'] button").first.evaluate("b => b.form.requestSubmit()")
    other.wait_for_url("**/funds/login**")
    other.close()


def cookie_lost(site: Site, context: BrowserContext, username: str, open_context: Any) -> None:
    """The browser was closed, or the session cookie expired: it is gone."""
    context.clear_cookies(name="charity_session")


def password_changed_by_an_admin(site: Site, context: BrowserContext, username: str, open_context: Any) -> None:
    """The admin sets a new password: every login of the user ends."""
    admin = open_context("admin", "zh", 1280).new_page()
    admin.goto(f"{site.base_url}/funds/users/")
    admin.locator("tr", has_text=username).get_by_role("link").first.click()
    admin.locator("#password").fill(NEW_PASSWORD)
    admin.locator("main form button[type=submit]").first.click()
    admin.wait_for_url("**/funds/users/")


ENDINGS = {"logged-out-elsewhere": logged_out_in_another_tab, "cookie-lost": cookie_lost,
           "password-changed": password_changed_by_an_admin}


@pytest.mark.parametrize(("ending", "lang", "width"), [
    ("logged-out-elsewhere", "zh", 1280), ("cookie-lost", "zh", 390), ("password-changed", "zh", 1280),
    ("cookie-lost", "en", 390)])
def test_a_form_sent_after_the_login_ended_comes_back_filled_in_and_records_once(
        ending: str, lang: str, width: int, site: Site, open_context: Callable[..., Any], shots: Any) -> None:
    username = f"resume.{ending}.{lang}.{width}"
    town = site.township
    assert town is not None
    site.user(username, "fund_manager", town.id)
    context = open_context(None, lang, width)
    page = context.new_page()
    checks = PageChecks(page, site.base_url, shots, f"resume-{ending}", lang, width)
    page.goto(f"{site.base_url}/funds/login")
    log_in(page, username, PASSWORD, lang)

    page.goto(f"{site.base_url}/donations/new")
    page.locator("#fund_code").select_option(value=town.fund)
    typed = {"#amount": "3,600.50", "#donor_name": f"{DONOR}（{ending} {lang} {width}）", "#purpose": "敬老院冬季取暖"}
    for selector, value in typed.items():
        page.locator(selector).fill(value)
    page.locator("#donor_kind").select_option(value="individual")
    page.locator("#channel").select_option(value="wechat")
    checks.check("01_typed")

    ENDINGS[ending](site, context, username, open_context)
    if ending != "cookie-lost":  # ended on the server: the services may trust it this long still
        page.wait_for_timeout((AUTH_CACHE_SECONDS + 0.5) * 1000)
    page.locator("main form.card button[type=submit]").first.click()
    page.wait_for_url("**/funds/login**")
    checks.check("02_login")
    assert i18n.translate(LOGIN_ENDED_KEPT, lang) in page.locator("main").inner_text()

    log_in(page, username, NEW_PASSWORD if ending == "password-changed" else PASSWORD, lang)
    page.wait_for_url("**/donations/new")
    checks.check("03_filled_in")
    assert i18n.translate(TYPED_AGAIN, lang) in page.locator("main").inner_text()
    for selector, value in typed.items():
        assert page.locator(selector).input_value() == value, selector
    assert page.locator("#fund_code").input_value() == town.fund
    assert page.locator("#donor_kind").input_value() == "individual"
    assert page.locator("#channel").input_value() == "wechat"
    assert not [d for d in site.api.get(f"/donations/api/v1/donations?fund_code={town.fund}&limit=200").json["items"]
                if d["donor"]["name"] == typed["#donor_name"]]

    page.locator("#received_on").fill(today().isoformat())
    page.locator("main form.card button[type=submit]").first.click()
    page.wait_for_url("**/donations/receipts/*")
    checks.check("04_receipt")
    recorded = [d for d in site.api.get(f"/donations/api/v1/donations?fund_code={town.fund}&limit=200").json["items"]
                if d["donor"]["name"] == typed["#donor_name"]]
    assert [(d["amount"], d["channel"]) for d in recorded] == [("3600.50", "wechat")], recorded
    checks.assert_clean()
