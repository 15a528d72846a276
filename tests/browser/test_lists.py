"""The lists and the statement in Chromium: headings sort, pages turn, filters keep the sort, and a
statement on a phone keeps its dates on one line while its table scrolls within its box.

Every step is checked as every page is (axe-core, no sideways scroll of the page, its language)
and kept as a screenshot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from shared.dates import today
from tests.browser.support import LANGUAGES, PageChecks, Site

FUND = "LB-SH-001"
MANAGER = "liebiao.manager"
ORGANISATION = "铜陵市列表商会"


def yuan(shown: str) -> Decimal:
    return Decimal(shown.strip().replace("¥", "").replace(",", ""))


@pytest.fixture(scope="module")
def crowded(site: Site) -> Site:
    """A chamber with 45 donations over the last 60 days, more than two pages of 20."""
    org = site.organisation(ORGANISATION, "chamber_of_commerce", FUND, "列表测试冠名慈善基金", "chamber_named")
    site.user(MANAGER, "fund_manager", org.id)
    rows = [{"fund_code": FUND, "amount": f"{(n * 53) % 900 + 10}.{n:02d}", "currency": "CNY",
             "donor": {"name": f"{'张' if n % 5 == 0 else '李'}捐赠人{n:02d}", "kind": "individual", "anonymous": False},
             "received_on": (today() - dt.timedelta(days=(n * 7) % 60)).isoformat(),
             "channel": ("bank", "wechat", "alipay")[n % 3]} for n in range(45)]
    response = org.clerk.post("/donations/api/v1/donations/batch", json=rows)
    assert response.status_code < 300, response.get_data(as_text=True)[:500]
    return site


def shown_amounts(page: Any) -> list[Decimal]:
    return [yuan(cell) for cell in page.locator("#results tbody td.num").all_inner_texts()]


def test_sorting_paging_and_filtering_the_donations(crowded: Site, open_context: Callable[..., Any],
                                                     shots: Any) -> None:
    page = open_context(MANAGER, "zh", 1280).new_page()
    checks = PageChecks(page, crowded.base_url, shots, "lists", "zh", 1280)
    checks.visit("donations-list", f"/donations/search?fund_code={FUND}&size=20")
    assert page.locator("#results tbody tr").count() == 20
    assert "第 1–20 条，共 45 条" in page.locator("#listing-summary").inner_text()
    everything = yuan(page.locator("#total-amount").inner_text())

    # The amount's heading sorts, largest first, then smallest first; it says which (aria-sort).
    page.locator("#results thead th", has_text="金额").locator("a").click()
    page.wait_for_url("**sort=amount**")
    heading = page.locator("#results thead th", has_text="金额")
    assert heading.get_attribute("aria-sort") == "descending"
    amounts = shown_amounts(page)
    assert amounts == sorted(amounts, reverse=True)
    heading.locator("a").click()
    page.wait_for_url("**order=asc**")
    assert page.locator("#results thead th", has_text="金额").get_attribute("aria-sort") == "ascending"
    first_page = shown_amounts(page)
    assert first_page == sorted(first_page)
    checks.check("donations-sorted")

    # The next page goes on in the same order, with the same filters; the total is still all 45's.
    page.locator("nav.pager a", has_text="2").first.click()
    page.wait_for_url("**page=2**")
    assert "sort=amount" in page.url and f"fund_code={FUND}" in page.url
    second_page = shown_amounts(page)
    assert second_page == sorted(second_page) and min(second_page) >= max(first_page)
    assert "第 21–40 条，共 45 条" in page.locator("#listing-summary").inner_text()
    assert yuan(page.locator("#total-amount").inner_text()) == everything
    assert page.locator("nav.pager a[aria-current=page]").inner_text() == "2"
    checks.check("donations-page-2")

    # A filter starts again at the first page and keeps the sort.
    page.locator("#donor").fill("张")
    page.locator("main form.filters button[type=submit]").click()
    page.wait_for_url("**donor=**")
    assert "sort=amount" in page.url and "page=" not in page.url
    donors = page.locator("#results tbody td:nth-child(4)").all_inner_texts()
    assert donors and all(name.startswith("张") for name in donors)
    assert shown_amounts(page) == sorted(shown_amounts(page))
    assert page.locator("#export-xlsx").get_attribute("href").count("donor=") == 1  # type: ignore[union-attr]
    checks.check("donations-filtered")
    checks.assert_clean()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_statement_on_a_phone_keeps_its_dates_on_one_line_and_prints_with_its_header(
        lang: str, crowded: Site, open_context: Callable[..., Any], shots: Any) -> None:
    page = open_context(MANAGER, lang, 390).new_page()
    checks = PageChecks(page, crowded.base_url, shots, "lists", lang, 390)
    checks.visit("statement-phone", f"/donations/funds/{FUND}/statement?size=20&page=2")
    dates = page.locator("#statement tr.entry td:first-child")
    assert dates.count() == 20
    one_line = page.evaluate("""() => Array.from(document.querySelectorAll('#statement tr.entry td:first-child'))
        .every(td => { const r = document.createRange(); r.selectNodeContents(td); return r.getClientRects().length === 1; })""")
    assert one_line, "a date wraps"
    # The table scrolls within its own box; the page does not.
    box = page.locator("#statement").locator("xpath=..")
    assert "table-wrap" in (box.get_attribute("class") or "")
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")

    # Printed: no menu, no filters, a header with the organisation, the fund, the period and the date.
    page.emulate_media(media="print")
    assert not page.locator("header.site").is_visible()
    assert not page.locator("form.filters").is_visible()
    header = page.locator("#print-header")
    assert header.is_visible()
    assert ORGANISATION in header.inner_text() and FUND in header.inner_text()
    assert today().isoformat() in page.locator("#print-date").inner_text()
    page.emulate_media(media="screen")
    checks.assert_clean()
