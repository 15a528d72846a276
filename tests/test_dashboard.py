"""The overview a fund manager lands on: how the funds are doing.

Every figure the page shows is held against what the ledger says through the
public API (balances, the donations and disbursements themselves), in Beijing
calendar months and years: a donation received on the first day of this
month counts in it, one of the previous month's last day does not; a
reversal counts in the month it is posted; donated goods are goods, not cash.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal
from typing import Any

import pytest

from conftest import Browser, Factory
from services.donations.dashboard import chart_months, periods_at
from shared.dates import SHANGHAI, today
from shared.periods import Period

PASSWORD = "a-long-enough-password"
API = "/donations/api/v1"
FUND, FROZEN, ELSEWHERE = "TL-DASH-001", "TL-DASH-002", "ZY-DASH-001"


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.json


def yuan(shown: str) -> Decimal:
    """¥1,280.00 (or -¥40.00) as a Decimal."""
    match = re.fullmatch(r"(-?)¥([0-9,]+\.[0-9]{2})", shown.strip())
    assert match, shown
    return Decimal(match.group(2).replace(",", "")) * (-1 if match.group(1) else 1)


def cell(page: str, row_id: str, css: str) -> Decimal:
    row = re.search(rf'<tr id="{re.escape(row_id)}"[^>]*>(.*?)</tr>', page, re.S)
    assert row, row_id
    found = re.search(rf'<td class="num {css}">(.*?)</td>', row.group(1), re.S)
    assert found, (row_id, css)
    return yuan(html.unescape(found.group(1)))


def by_id(page: str, element_id: str) -> Decimal:
    found = re.search(rf'id="{element_id}">(.*?)<', page, re.S)
    assert found, element_id
    return yuan(html.unescape(found.group(1)))


def test_a_month_and_a_year_are_beijing_s() -> None:
    # 16:30 UTC on 30 November is half past midnight on 1 December in Beijing.
    assert periods_at(dt.datetime(2026, 11, 30, 16, 30, tzinfo=dt.UTC)) == (Period.month(2026, 12),
                                                                             Period.year(2026))
    assert periods_at(dt.datetime(2026, 11, 30, 15, 59, tzinfo=dt.UTC)) == (Period.month(2026, 11),
                                                                             Period.year(2026))
    assert periods_at(dt.datetime(2026, 12, 31, 16, 0, tzinfo=dt.UTC)) == (Period.month(2027, 1), Period.year(2027))
    months = chart_months(Period.month(2026, 3))
    assert (len(months), months[0], months[-1]) == (12, Period.month(2025, 4), Period.month(2026, 3))


@pytest.fixture
def ledger(gateway: Any, api: Any, make: Factory) -> dict[str, Any]:
    """Two funds of one organisation with donations either side of this month's start, goods, a reversal,
    a paid and an approved disbursement, a requested one; one fund frozen; another organisation's fund."""
    org = make.organization("铜陵市徽商商会")
    make.fund(org["id"], FUND, name="徽商助学基金")
    make.fund(org["id"], FROZEN, name="徽商济困基金")
    other = make.organization("枞阳县商会")
    make.fund(other["id"], ELSEWHERE, name="枞阳县商会基金")
    clerk = api.with_key(make.api_key(org["id"], ["donations:read", "donations:write"], name="clerk"))
    approver = api.with_key(make.api_key(org["id"], ["donations:read", "disbursements:approve"], name="approver"))
    day = today()
    month = Period.containing(day, "month")
    last_month = month.previous.last
    for amount, received_on, channel in (("1000.00", day, "bank"), ("200.00", month.first, "bank"),
                                         ("300.00", last_month, "bank"), ("50.00", day, "in_kind"),
                                         ("40.00", day, "bank")):
        make.donation(FUND, amount, received_on=received_on.isoformat(), channel=channel, key=clerk.key)
    reversed_one = [d for d in ok(clerk.get(f"{API}/donations"))["items"] if d["amount"] == "40.00"][0]
    ok(clerk.post(f"{API}/donations/{reversed_one['id']}/reverse", json={"reason": "录错"}))
    paid = ok(clerk.post(f"{API}/disbursements", json={"fund_code": FUND, "amount": "100.00", "payee": "铜陵市第一中学",
                                                       "purpose": "助学"}), 201)
    ok(approver.post(f"{API}/disbursements/{paid['id']}/approve"))
    ok(clerk.post(f"{API}/disbursements/{paid['id']}/pay",
                  json={"paid_on": day.isoformat(), "bank_reference": "ICBC-0001"}))
    approved = ok(clerk.post(f"{API}/disbursements", json={"fund_code": FUND, "amount": "70.00",
                                                           "payee": "铜陵市图书馆", "purpose": "购书"}), 201)
    ok(approver.post(f"{API}/disbursements/{approved['id']}/approve"))
    ok(clerk.post(f"{API}/disbursements", json={"fund_code": FUND, "amount": "5.00", "payee": "某村委会",
                                                "purpose": "济困"}), 201)
    make.donation(FROZEN, "10.00", received_on=day.isoformat(), key=clerk.key)
    ok(api.post(f"/funds/api/v1/funds/{FROZEN}/freeze"))
    make.donation(ELSEWHERE, "999.00", received_on=day.isoformat())
    make.user(gateway, "manager", PASSWORD, "fund_manager", org["id"])
    make.user(gateway, "approver", PASSWORD, "approver", org["id"])
    return {"clerk": clerk, "month": month, "year": Period.containing(day, "year")}


def expected_flows(client: Any, code: str, period: Period) -> tuple[Decimal, Decimal]:
    """What the API's donations and disbursements say came in and went out of the fund in the period."""
    income = Decimal(0)
    for item in ok(client.get(f"{API}/donations", query_string={"fund_code": code, "limit": 500}))["items"]:
        if period.contains(dt.date.fromisoformat(item["received_on"])):
            income += Decimal(item["amount"])
        if item["reversed_at"] and period.contains(dt.datetime.fromisoformat(item["reversed_at"])
                                                   .astimezone(SHANGHAI).date()):
            income -= Decimal(item["amount"])
    spending = sum((Decimal(item["amount"]) for item in ok(client.get(
        f"{API}/disbursements", query_string={"fund_code": code, "status": "paid"}))["items"]
        if period.contains(dt.date.fromisoformat(item["paid_on"]))), Decimal(0))
    return income, spending


def test_the_overview_shows_what_the_ledger_holds(gateway: Any, api: Any, ledger: dict[str, Any]) -> None:
    manager = Browser(gateway)
    assert manager.login("manager", PASSWORD).location == "/donations/"
    page = manager.get("/donations/").get_data(as_text=True)
    for code in (FUND, FROZEN):
        balance = ok(api.get(f"{API}/funds/{code}/balance"))
        set_aside = Decimal(balance["balance"]) - Decimal(balance["available"])
        assert cell(page, f"fund-{code}", "balance") == Decimal(balance["balance"])
        assert cell(page, f"fund-{code}", "goods") == Decimal(balance["goods"])
        assert cell(page, f"fund-{code}", "reserved") == set_aside
        # Cash available to pay: the cash at the bank less what is set aside; goods are not cash.
        assert cell(page, f"fund-{code}", "available") == Decimal(balance["cash"]) - set_aside
        for period, prefix in ((ledger["month"], "month"), (ledger["year"], "year")):
            income, spending = expected_flows(api, code, period)
            assert cell(page, f"flows-{code}", f"{prefix}-income") == income, (code, prefix)
            assert cell(page, f"flows-{code}", f"{prefix}-spending") == spending, (code, prefix)

    # The figures themselves, as the fixture made them.
    assert cell(page, f"fund-{FUND}", "goods") == Decimal("50.00")
    assert cell(page, f"fund-{FUND}", "available") == Decimal("1450.00") - Decimal("50.00") - 70
    assert cell(page, f"flows-{FUND}", "month-income") == Decimal("1250.00")  # 1000 + 200 + 50 goods; 40 reversed
    assert cell(page, f"flows-{FUND}", "month-spending") == Decimal("100.00")
    same_year = ledger["month"].previous.first.year == ledger["year"].first.year
    assert cell(page, f"flows-{FUND}", "year-income") == Decimal("1550.00" if same_year else "1250.00")
    assert by_id(page, "total-balance") == Decimal("1450.00") + Decimal("10.00")
    assert by_id(page, "total-month-income") == Decimal("1260.00")
    assert by_id(page, "summary-month-spending") == Decimal("100.00")

    # Another organisation's fund never appears, in the tables nor in the last entries.
    assert ELSEWHERE not in page and "999.00" not in page
    # A frozen fund is marked, with what frozen means, in the words the refusal uses.
    assert re.search(rf'<tr id="fund-{FROZEN}" class="frozen">', page)
    note = html.unescape(re.search(rf'id="frozen-{FROZEN}">(.*?)</p>', page, re.S).group(1))
    assert FROZEN in note and "不能冲销" in note
    # The last entries, newest first, each linked to its receipt or its disbursement.
    entries = re.findall(r'<tr id="entry-\d+">(.*?)</tr>', page, re.S)
    assert len(entries) == 8  # five donations, a reversal and a payment of one fund, a donation of the other
    assert "/donations/receipts/" in entries[0] and FROZEN in entries[0]
    assert any("/donations/disbursements/" in entry for entry in entries)
    # A manager approves nothing, and the requests awaiting a decision are the clerk key's, not theirs.
    assert 'id="pending"' not in page and 'id="mine"' not in page


def test_the_approver_sees_the_queue_s_size_and_the_admin_every_fund(gateway: Any, admin: Browser,
                                                                   ledger: dict[str, Any]) -> None:
    approver = Browser(gateway)
    assert approver.login("approver", PASSWORD).location == "/donations/disbursements/queue"
    page = approver.get("/donations/").get_data(as_text=True)
    assert re.search(r'id="pending">1<', page)
    everything = admin.get("/donations/").get_data(as_text=True)
    assert f'id="fund-{ELSEWHERE}"' in everything
    assert by_id(everything, "total-balance") == Decimal("1460.00") + Decimal("999.00")


def test_a_manager_s_own_requests_awaiting_a_decision(gateway: Any, ledger: dict[str, Any]) -> None:
    manager = Browser(gateway)
    manager.login("manager", PASSWORD)
    assert manager.submit("/donations/disbursements/new", {
        "fund_code": FUND, "amount": "12.00", "payee": "铜陵市图书馆", "purpose": "购书",
        "category": "programme", "submission_id": "mine-1"}).status_code == 302
    page = manager.get("/donations/").get_data(as_text=True)
    assert re.search(r'id="mine">1<', page)


def test_the_chart_in_the_reader_s_language(gateway: Any, ledger: dict[str, Any]) -> None:
    manager = Browser(gateway)
    manager.login("manager", PASSWORD)
    for lang, words in (("zh", ("收入", "支出", "月度收入与支出")), ("en", ("Income", "Spending", "Income and spending by month"))):
        page = html.unescape(manager.get(f"/donations/?lang={lang}").get_data(as_text=True))
        svg = re.search(r"<svg[^>]*>.*?</svg>", page, re.S).group(0)
        assert 'role="img"' in svg and "viewBox=" in svg
        title = re.search(r"<title[^>]*>(.*?)</title>", svg, re.S).group(1)
        assert words[2] in title
        assert all(word in svg for word in words[:2])
        # The same figures as a table, the months' total equal to the twelve months' bars.
        months = re.search(r'<table id="months">(.*?)</table>', page, re.S).group(1)
        rows = re.findall(r"<tr><td>(.*?)</td><td class=\"num\">(.*?)</td><td class=\"num\">(.*?)</td></tr>",
                          months)
        assert len(rows) == 12
        assert yuan(rows[-1][1]) == Decimal("1260.00") and yuan(rows[-1][2]) == Decimal("100.00")


def statements_for(gateway: Any, browser: Browser, path: str) -> int:
    """How many SQL statements the donations service runs to answer the page."""
    from sqlalchemy import event

    database = gateway.apps["donations"].extensions["database"]
    count = 0

    def counted(*_: Any) -> None:
        nonlocal count
        count += 1

    engines = {database.engine, database.read_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", counted)
    try:
        assert browser.get(path).status_code == 200
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", counted)
    return count


def test_the_overview_s_queries_do_not_grow_with_the_funds(gateway: Any, make: Factory, admin: Browser) -> None:
    org = make.organization("铜陵市徽商商会")
    make.fund(org["id"], "TL-MANY-000")
    make.donation("TL-MANY-000", "1.00", received_on=today().isoformat())
    few = statements_for(gateway, admin, "/donations/")
    for number in range(1, 25):
        make.fund(org["id"], f"TL-MANY-{number:03d}")
        make.donation(f"TL-MANY-{number:03d}", "1.00", received_on=today().isoformat())
    page = admin.get("/donations/").get_data(as_text=True)
    assert by_id(page, "total-balance") == Decimal("25.00")
    assert statements_for(gateway, admin, "/donations/") == few
