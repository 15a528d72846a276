"""A township's fund manager's day, through the pages only, in Chromium.

They log in, record a company's donation and see its receipt, request a
disbursement; the approver approves it; the fund manager records its payment
and opens the month's statement. What the pages show is checked against the
ledger (the API's balance), each screen passes axe-core, and each is kept as
a screenshot (make screenshots).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page

from shared.dates import today
from shared.money import Money
from tests.browser.support import PASSWORD, PageChecks, Site

FUND = "TM-XC-001"
COMPANY = "铜陵天门矿业有限公司"
PAYEE = "天门镇中心小学"


def log_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/")  # the site's address: its pages ask whoever is not logged in to log in
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: "/login" not in url)


def log_out(page: Page, base_url: str) -> None:
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(f"{base_url}/funds/login")


def open_menu(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name=name).click()


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


def test_a_fund_manager_records_a_donation_requests_a_payment_and_prints_the_statement(
        site: Site, open_context: Callable[..., Any], shots: Any) -> None:
    town = site.organisation("义安区天门镇人民政府", "township", FUND, "天门镇乡村振兴冠名慈善基金", "township_named")
    site.user("tianmen.manager", "fund_manager", town.id)
    site.user("tianmen.approver", "approver", town.id)
    page = open_context(None, "zh", 1280).new_page()
    checks = PageChecks(page, site.base_url, shots, "flow", "zh", 1280)
    step = iter(range(1, 100))

    def check(name: str) -> None:
        checks.check(f"{next(step):02d}_{name}")

    # The login page, from the site's address.
    page.goto(f"{site.base_url}/")
    page.wait_for_url(f"{site.base_url}/funds/login**")
    check("login")
    log_in(page, site.base_url, "tianmen.manager")
    check("funds")
    assert FUND in page.inner_text("main")

    # A company's donation, through the form.
    open_menu(page, "捐赠与拨付")
    open_subnav(page, "/donations/new")
    check("donation_form")
    fill_fund(page, FUND)
    page.locator("#amount").fill("50000.00")
    page.locator("#donor_name").fill(COMPANY)
    page.locator("#donor_kind").select_option(value="enterprise")
    page.locator("#received_on").fill(today().isoformat())
    page.locator("#channel").select_option(value="bank")
    page.locator("#purpose").fill("天门镇乡村振兴项目")
    page.locator("main form.card button[type=submit]").first.click()
    page.wait_for_url("**/donations/receipts/*")
    check("receipt")
    donations = site.api.get(f"/donations/api/v1/donations?fund_code={FUND}").json["items"]
    assert len(donations) == 1 and donations[0]["amount"] == "50000.00"
    receipt = page.inner_text("main")
    assert donations[0]["receipt_no"] in receipt and COMPANY in receipt
    assert Money.parse("50000.00").display() in receipt  # ¥50,000.00

    # A disbursement requested.
    open_subnav(page, "/donations/disbursements/new")
    check("disbursement_form")
    fill_fund(page, FUND)
    page.locator("#amount").fill("12000.00")
    page.locator("#payee").fill(PAYEE)
    page.locator("#purpose").fill("资助困难学生学费")
    page.locator("main form.card button[type=submit]").first.click()
    page.wait_for_load_state()
    check("requested")
    disbursements = site.api.get(f"/donations/api/v1/disbursements?fund_code={FUND}").json["items"]
    assert [(d["amount"], d["status"]) for d in disbursements] == [("12000.00", "requested")]
    disbursement_id = disbursements[0]["id"]
    log_out(page, site.base_url)

    # The approver approves it from the queue.
    log_in(page, site.base_url, "tianmen.approver")
    open_menu(page, "捐赠与拨付")
    open_subnav(page, "/donations/disbursements/queue")
    row = page.locator(f"#disbursement-{disbursement_id}")
    assert PAYEE in row.inner_text() and Money.parse("12000.00").display() in row.inner_text()
    check("queue")
    row.locator("form[action$='/approve'] button[type=submit]").click()
    page.wait_for_load_state()
    check("approved")
    assert site.api.get(f"/donations/api/v1/disbursements/{disbursement_id}").json["status"] == "approved"
    log_out(page, site.base_url)

    # The fund manager records the payment.
    log_in(page, site.base_url, "tianmen.manager")
    open_menu(page, "捐赠与拨付")
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
    page.locator(f"#fund-{FUND} a[href*='/statement']").click()
    page.wait_for_url(f"**/donations/funds/{FUND}/statement**")
    first_of_month = today().replace(day=1).isoformat()
    page.locator("#from").fill(first_of_month)
    page.locator("#to").fill(today().isoformat())
    page.locator("main form.filters button[type=submit]").first.click()
    page.wait_for_url("**from=*")
    check("statement")
    balance = site.balance(FUND)
    assert balance["balance"] == "38000.00"
    statement = page.inner_text("main")
    assert page.locator("#closing-balance").inner_text().strip() == Money.parse(balance["balance"]).display()
    assert Money.parse("50000.00").display() in statement and Money.parse("12000.00").display() in statement
    checks.assert_clean()
