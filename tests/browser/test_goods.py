"""A gift in kind through the donation form, in Chromium, on an office screen and on a phone.

A township's fund manager picks 物资捐赠: the goods' fields appear (hidden for any other
channel), the total of quantity x unit price is shown as it is typed and fills the empty
amount; the donation is recorded with its goods, and its receipt lists them, names the
issuing organisation and has room for the seal and the handler's signature. The approval
queue shows the fund's cash available beside the goods it holds. Each screen passes
axe-core and never scrolls sideways, in the language and at the width of the run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shared.money import Money
from tests.browser.support import PageChecks, Site

DONATIONS = "/donations/api/v1"
TOTAL = {"zh": "物资合计价值：¥3,250.00", "en": "Total value of the goods: ¥3,250.00"}


@pytest.mark.parametrize(("lang", "width"), [("zh", 1280), ("en", 390), ("zh", 390), ("en", 1280)])
def test_a_gift_in_kind_is_recorded_with_its_goods_and_its_receipt_lists_them(
        lang: str, width: int, site: Site, open_context: Callable[..., Any], shots: Any) -> None:
    town = site.township
    assert town is not None
    clerk = f"goods.clerk.{lang}{width}"
    site.user(clerk, "fund_manager", town.id)
    page = open_context(clerk, lang, width).new_page()
    checks = PageChecks(page, site.base_url, shots, "goods", lang, width)

    page.goto(f"{site.base_url}/donations/new?lang={lang}")
    goods = page.locator("#goods")
    assert goods.is_hidden()  # a bank transfer has no goods
    page.locator("#fund_code").select_option(value=town.fund)
    page.locator("#donor_name").fill(f"铜陵某某粮油有限公司（{lang} {width}）")
    page.locator("#donor_kind").select_option(value="enterprise")
    page.locator("#channel").select_option(value="in_kind")
    assert goods.is_visible()
    assert page.locator("#goods_item").evaluate("input => input.required")
    page.locator("#goods_item").fill("大米")
    page.locator("#goods_quantity").fill("1,250")
    page.locator("#goods_unit").fill("斤")
    page.locator("#goods_unit_price").fill("2.6")
    assert page.locator("#goods-total").inner_text().strip() == TOTAL[lang]
    assert page.locator("#amount").input_value() == "3250.00"
    checks.check("01_form")

    page.locator("main form.card button[type=submit]").first.click()
    page.wait_for_url("**/donations/receipts/*")
    checks.check("02_receipt")
    recorded = site.api.get(f"{DONATIONS}/donations/{page.url.rsplit('/', 1)[1]}").json
    assert (recorded["amount"], recorded["goods"]) == (
        "3250.00", {"item": "大米", "quantity": "1250", "unit": "斤", "unit_price": "2.60"})
    assert page.locator("#goods-item").inner_text() == "大米"
    assert page.locator("#goods-quantity").inner_text() == "1,250 斤"
    assert page.locator("#organization-name").inner_text() == town.name
    assert page.locator("#seal").is_visible() and page.locator("#signature").is_visible()
    assert page.locator("#receipt-pdf").get_attribute("href") == f"/donations/receipts/{recorded['id']}.pdf"

    # Printed, the receipt stands alone: no menu, no buttons.
    page.emulate_media(media="print")
    assert page.locator("header.site").is_hidden() and page.locator("[data-print]").is_hidden()
    assert page.locator("#receipt").is_visible()
    page.emulate_media(media="screen")

    # Switching back to another channel hides the goods again.
    page.goto(f"{site.base_url}/donations/new")
    page.locator("#channel").select_option(value="in_kind")
    page.locator("#channel").select_option(value="cash")
    assert goods.is_hidden()
    assert not page.locator("#goods_item").evaluate("input => input.required")
    checks.assert_clean()


@pytest.mark.parametrize(("lang", "width"), [("zh", 1280), ("en", 390)])
def test_the_approval_queue_shows_cash_available_and_goods_held_apart(
        lang: str, width: int, site: Site, open_context: Callable[..., Any], shots: Any) -> None:
    chamber = site.chamber
    assert chamber is not None
    balance = site.balance(chamber.fund)
    page = open_context("shanghui.approver", lang, width).new_page()
    checks = PageChecks(page, site.base_url, shots, "goods", lang, width)
    checks.visit("03_queue", f"/donations/disbursements/queue?lang={lang}")
    row = page.locator(f"#disbursement-{site.ids['chamber_requested']}")
    money = {name: Money.parse(balance[name]).fen for name in ("balance", "available", "cash", "goods")}
    cash_fen = money["cash"] - (money["balance"] - money["available"])  # less what approved payments hold
    assert row.locator(".cash-available").inner_text() == Money(cash_fen).display()
    assert row.locator(".goods-held").inner_text() == Money(money["goods"]).display()
    checks.assert_clean()
