"""A township's fund manager's day, through the pages only, in Chromium, on an office screen
and on a phone, in Chinese and in English.

They log in, record a company's donation and see its receipt, request a
disbursement; the approver approves it; the fund manager records its payment
and opens the month's statement. What the pages show is checked against the
ledger (the API's balance), each screen passes axe-core, and each is kept as
a screenshot (make screenshots).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page

from shared.dates import today
from shared.money import Money
from tests.browser.support import PASSWORD, PageChecks, Site

COMPANY = "铜陵天门矿业有限公司"
PAYEE = "天门镇中心小学"
# What the person reads on the buttons and the menu, in each language.
WORDS = {
    "zh": {"username": "用户名", "password": "密码", "log_in": "登录", "log_out": "退出登录", "menu": "主菜单",
           "funds": "基金", "donations": "捐赠与拨付"},
    "en": {"username": "Username", "password": "Password", "log_in": "Log in", "log_out": "Log out",
           "menu": "Main menu", "funds": "Funds", "donations": "Donations and disbursements"},
}
# Each run keeps its own township, fund and people.
RUNS = [("zh", 1280, "001"), ("zh", 390, "002"), ("en", 1280, "003"), ("en", 390, "004")]


def log_in(page: Page, base_url: str, username: str, lang: str = "zh") -> None:
    words = WORDS[lang]
    page.goto(f"{base_url}/")  # the site's address: its pages ask whoever is not logged in to log in
    page.get_by_label(words["username"]).fill(username)
    page.get_by_label(words["password"]).fill(PASSWORD)
    page.get_by_role("button", name=words["log_in"]).click()
    page.wait_for_url(lambda url: "/login" not in url)


def unfold_menu(page: Page) -> None:
    """On a phone the menu is behind its button: open it."""
    fold = page.locator("header details.menu-fold")
    if fold.locator("summary").is_visible() and fold.get_attribute("open") is None:
        fold.locator("summary").click()


def log_out(page: Page, base_url: str, lang: str = "zh") -> None:
    unfold_menu(page)
    page.get_by_role("button", name=WORDS[lang]["log_out"]).click()
    page.wait_for_url(f"{base_url}/funds/login")


def open_menu(page: Page, name: str, lang: str = "zh") -> None:
    unfold_menu(page)
    page.get_by_role("navigation", name=WORDS[lang]["menu"]).get_by_role("link", name=name).click()


def open_subnav(page: Page, path: str) -> None:
    """A link of the donations pages' own menu, by where it leads."""
    page.locator(f'nav.subnav a[href$="{path}"]').click()
    page.wait_for_url(f"**{path}")


def fill_fund(page: Page, code: str) -> None:
    """The fund field: a list of the user's funds, or a code typed."""
    fund = page.locator("#fund_code")
    if fund.evaluate("e => e.tagName") == "SELECT":
        fund.select_option(value=code)
    else:
        fund.fill(code)


@pytest.mark.parametrize(("lang", "width", "run"), RUNS)
def test_a_fund_manager_records_a_donation_requests_a_payment_and_prints_the_statement(
        lang: str, width: int, run: str, site: Site, open_context: Callable[..., Any], shots: Any) -> None:
    fund = f"TM-XC-{run}"
    manager, approver = f"tianmen{run}.manager", f"tianmen{run}.approver"
    town = site.organisation(f"义安区天门镇人民政府{run}", "township", fund, "天门镇乡村振兴冠名慈善基金",
                             "township_named")
    site.user(manager, "fund_manager", town.id)
    site.user(approver, "approver", town.id)
    page = open_context(None, lang, width).new_page()
    checks = PageChecks(page, site.base_url, shots, "flow", lang, width)
    donations_menu = WORDS[lang]["donations"]
    step = iter(range(1, 100))

    def check(name: str) -> None:
        checks.check(f"{next(step):02d}_{name}")

    # The login page, from the site's address.
    page.goto(f"{site.base_url}/")
    page.wait_for_url(f"{site.base_url}/funds/login**")
    check("login")
    log_in(page, site.base_url, manager, lang)
    check("landing")
    open_menu(page, WORDS[lang]["funds"], lang)
    page.wait_for_url("**/funds/")
    check("funds")
    assert fund in page.inner_text("main")

    # A company's donation, through the form.
    open_menu(page, donations_menu, lang)
    open_subnav(page, "/donations/new")
    check("donation_form")
    fill_fund(page, fund)
    page.locator("#amount").fill("50000.00")
    page.locator("#donor_name").fill(COMPANY)
    page.locator("#donor_kind").select_option(value="enterprise")
    page.locator("#received_on").fill(today().isoformat())
    page.locator("#channel").select_option(value="bank")
    page.locator("#purpose").fill("天门镇乡村振兴项目")
    page.locator("main form.card button[type=submit]").first.click()
    page.wait_for_url("**/donations/receipts/*")
    check("receipt")
    donations = site.api.get(f"/donations/api/v1/donations?fund_code={fund}").json["items"]
    assert len(donations) == 1 and donations[0]["amount"] == "50000.00"
    receipt = page.inner_text("main")
    assert donations[0]["receipt_no"] in receipt and COMPANY in receipt
    assert Money.parse("50000.00").display() in receipt  # ¥50,000.00

    # A disbursement requested.
    open_subnav(page, "/donations/disbursements/new")
    check("disbursement_form")
    fill_fund(page, fund)
    page.locator("#amount").fill("12000.00")
    page.locator("#payee").fill(PAYEE)
    page.locator("#purpose").fill("资助困难学生学费")
    page.locator("main form.card button[type=submit]").first.click()
    page.wait_for_load_state()
    check("requested")
    disbursements = site.api.get(f"/donations/api/v1/disbursements?fund_code={fund}").json["items"]
    assert [(d["amount"], d["status"]) for d in disbursements] == [("12000.00", "requested")]
    disbursement_id = disbursements[0]["id"]
    log_out(page, site.base_url, lang)

    # The approver approves it from the queue.
    log_in(page, site.base_url, approver, lang)
    open_menu(page, donations_menu, lang)
    open_subnav(page, "/donations/disbursements/queue")
    row = page.locator(f"#disbursement-{disbursement_id}")
    assert PAYEE in row.inner_text() and Money.parse("12000.00").display() in row.inner_text()
    check("queue")
    row.locator("form[action$='/approve'] button[type=submit]").click()
    page.wait_for_load_state()
    check("approved")
    assert site.api.get(f"/donations/api/v1/disbursements/{disbursement_id}").json["status"] == "approved"
    log_out(page, site.base_url, lang)

    # The fund manager records the payment.
    log_in(page, site.base_url, manager, lang)
    open_menu(page, donations_menu, lang)
    open_subnav(page, "/donations/disbursements/")
    row = page.locator(f"#disbursement-{disbursement_id}")
    row.locator("input[name$=paid_on]").fill(today().isoformat())
    row.locator("input[name$=bank_reference]").fill("ICBC-2026-TM-0001")
    row.locator("form[action*='/pay'] button[type=submit]").click()
    page.wait_for_load_state()
    check("paid")
    assert site.api.get(f"/donations/api/v1/disbursements/{disbursement_id}").json["status"] == "paid"

    # The month's statement, against the ledger's balance.
    open_subnav(page, "/donations/")
    page.locator(f"#fund-{fund} a[href*='/statement']").click()
    page.wait_for_url(f"**/donations/funds/{fund}/statement**")
    first_of_month = today().replace(day=1).isoformat()
    page.locator("#from").fill(first_of_month)
    page.locator("#to").fill(today().isoformat())
    page.locator("main form.filters button[type=submit]").first.click()
    page.wait_for_url("**from=*")
    check("statement")
    balance = site.balance(fund)
    assert balance["balance"] == "38000.00"
    statement = page.inner_text("main")
    assert page.locator("#closing-balance").inner_text().strip() == Money.parse(balance["balance"]).display()
    assert Money.parse("50000.00").display() in statement and Money.parse("12000.00").display() in statement
    checks.assert_clean()
