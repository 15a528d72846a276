"""The overview and a fund's page in Chromium: the chart draws, the figures are the ledger's.

At an office screen's width and a phone's, in Chinese and English: the overview's
chart is drawn within the screen, its totals equal the balances the API gives,
and neither page scrolls sideways or fails axe-core.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tests.browser.support import LANGUAGES, WIDTHS, PageChecks, Site


def yuan(shown: str) -> Decimal:
    return Decimal(shown.strip().replace("¥", "").replace(",", ""))


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_the_overview_draws_its_chart_and_totals_the_ledger(width: int, lang: str, site: Site,
                                                            open_context: Callable[..., Any], shots: Any) -> None:
    page = open_context("shanghui.manager", lang, width).new_page()
    checks = PageChecks(page, site.base_url, shots, "overview", lang, width)
    checks.visit("overview", "/donations/")
    chart = page.locator("figure#monthly svg.chart")
    box = chart.bounding_box()
    assert box is not None and box["width"] > 200 and box["x"] + box["width"] <= width, box
    assert chart.get_attribute("role") == "img"
    title = page.locator("figure#monthly svg.chart title").text_content() or ""
    assert ("Income and spending by month" if lang == "en" else "月度收入与支出") in title
    # Twelve months of bars, two to a month.
    assert page.locator("figure#monthly svg.chart rect[width]").count() >= 24
    balance = site.balance(site.chamber.fund)  # type: ignore[union-attr]
    assert yuan(page.locator("#total-balance").inner_text()) == Decimal(balance["balance"])
    assert yuan(page.locator("#summary-balance").inner_text()) == Decimal(balance["balance"])
    set_aside = Decimal(balance["balance"]) - Decimal(balance["available"])
    assert yuan(page.locator("#total-available").inner_text()) == Decimal(balance["cash"]) - set_aside
    # The chart's figures as a table, behind a disclosure.
    page.locator("figure#monthly details summary").click()
    checks.check("overview-figures")
    assert page.locator("#months tbody tr").count() == 12
    checks.visit("fund", f"/funds/{site.chamber.fund}")  # type: ignore[union-attr]
    assert yuan(page.locator("#balance").inner_text()) == Decimal(balance["balance"])
    checks.assert_clean()
