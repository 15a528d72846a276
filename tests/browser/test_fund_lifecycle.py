"""Freezing and closing a fund ask first, and a frozen fund shows as frozen, with what it means.

A township's fund manager opens the freeze from the fund's page: a page says what
will happen, and going back freezes nothing; confirming freezes it. From then on
the fund's page and the list of funds say it is frozen and what that means (the
words of the refusal a frozen fund answers with: one wording), and the donation
and disbursement forms name it as frozen. Closing a fund that holds money asks
for a confirmation and is refused while it holds anything; an empty fund closes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shared import i18n
from tests.browser.support import PASSWORD, PageChecks, Site

LOGIN_WORDS = {"zh": ("用户名", "密码", "登录"), "en": ("Username", "Password", "Log in")}


def fund_status(site: Site, code: str) -> str:
    return str(site.api.get(f"/funds/api/v1/funds/{code}").json["status"])


@pytest.mark.parametrize(("lang", "width", "run"), [("zh", 1280, "1"), ("en", 390, "2")])
def test_freezing_and_closing_ask_first_and_a_frozen_fund_says_what_it_means(
        lang: str, width: int, run: str, site: Site, open_context: Callable[..., Any], shots: Any) -> None:
    town = site.organisation(f"义安区顺安镇人民政府{run}", "township", f"SA-XC-00{run}", "顺安镇乡村振兴冠名慈善基金",
                             "township_named")
    empty = site.make.fund(town.id, f"SA-KB-00{run}", name="顺安镇空白基金", kind="township_named")
    site.donate(town, "3000.00", "顺安镇某某商贸有限公司")
    manager = f"shunan{run}.manager"
    site.user(manager, "fund_manager", town.id)
    page = open_context(None, lang, width).new_page()
    checks = PageChecks(page, site.base_url, shots, "fund-lifecycle", lang, width)
    user, secret, button = LOGIN_WORDS[lang]
    page.goto(f"{site.base_url}/funds/login")
    page.get_by_label(user).fill(manager)
    page.get_by_label(secret).fill(PASSWORD)
    page.get_by_role("button", name=button).click()
    page.wait_for_url(lambda url: "/login" not in url)
    meaning = i18n.render("fund_frozen", {"fund_code": town.fund}, lang)

    # Freezing asks first; going back freezes nothing.
    page.goto(f"{site.base_url}/funds/{town.fund}")
    page.locator("#freeze").click()
    page.wait_for_url(f"**/funds/{town.fund}/freeze")
    checks.check("01_freeze_asks")
    assert meaning in page.locator("#what-will-happen").inner_text()
    assert fund_status(site, town.fund) == "active"
    page.locator("main a.button.secondary").last.click()
    page.wait_for_url(f"**/funds/{town.fund}")
    assert fund_status(site, town.fund) == "active"

    # Confirmed: frozen, and every page that names it says so and what it means.
    page.locator("#freeze").click()
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_url(f"**/funds/{town.fund}")
    checks.check("02_frozen")
    assert fund_status(site, town.fund) == "frozen"
    assert meaning in page.locator("#frozen-meaning").inner_text()
    page.goto(f"{site.base_url}/funds/")
    checks.check("03_list")
    assert meaning in page.locator("main").inner_text()
    frozen = i18n.label("frozen", lang)
    for form in ("/donations/new", "/donations/disbursements/new"):
        page.goto(f"{site.base_url}{form}")
        option = page.locator(f"#fund_code option[value='{town.fund}']")
        assert frozen in option.inner_text(), (form, option.inner_text())
        assert meaning in page.locator(f"#frozen-{town.fund}").inner_text(), form

    # Closing asks for a confirmation, and a fund that holds money is not closed.
    page.goto(f"{site.base_url}/funds/{town.fund}/close")
    checks.check("04_close_asks")
    assert "¥3,000.00" in page.locator("#balance").inner_text()
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("#confirm").get_attribute("aria-invalid") == "true"
    assert fund_status(site, town.fund) == "frozen"
    page.locator("#confirm").check()
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    checks.check("05_close_refused")
    assert fund_status(site, town.fund) == "frozen"

    # An empty fund closes once confirmed.
    page.goto(f"{site.base_url}/funds/{empty['code']}/close")
    page.locator("#confirm").check()
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"**/funds/{empty['code']}")
    checks.check("06_closed")
    assert fund_status(site, empty["code"]) == "closed"
    checks.assert_clean()
