"""The lists that scale: the donations and disbursements pages page, sort and filter, their 合计 row
counts and sums every matching row (not only the page), and their XLSX export holds exactly what
the list shows, every matching row, in its order. Bad filters are refused naming the field; another
organisation's rows never appear, in the page or in the export.

Driven through the pages as people use them; the ledger's own figures come from the public API.
"""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

import openpyxl
import pytest

from conftest import Browser, csrf_token
from helpers import field_errors, text
from shared.dates import today
from shared.money import Money

PASSWORD = "a-long-enough-password"
FUND, OTHER_FUND, OUTSIDE_FUND = "LS-A-001", "LS-A-002", "LS-B-001"
CHANNELS = ("bank", "cash", "wechat", "alipay")


def receipts(response: Any) -> list[str]:
    """The receipt numbers the results table links to, in its order."""
    return re.findall(r'/donations/receipts/\d+">(\d{4}-\d{6})</a>', response.get_data(as_text=True))


def total_shown(response: Any) -> Decimal:
    match = re.search(r'id="total-amount">([^<]+)<', response.get_data(as_text=True))
    assert match, "no 合计 amount"
    return Decimal(match.group(1).replace("¥", "").replace(",", ""))


def workbook_rows(response: Any) -> tuple[list[str], list[tuple[Any, ...]], tuple[Any, ...], list[tuple[Any, ...]]]:
    """An export's header, its rows, its 合计 row and the lines above the header."""
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    header_at = next(i for i, row in enumerate(rows) if row and row[0] in ("收据编号", "Receipt number", "编号", "No."))
    body = rows[header_at + 1:]
    assert str(body[-1][0]).startswith(("合计", "Total")), body[-1]
    assert sheet.freeze_panes == f"A{header_at + 2}"  # the header stays in view
    return list(rows[header_at]), body[:-1], body[-1], rows[:header_at]


def login(gateway: Any, make: Any, role: str, organization_id: int, username: str) -> Browser:
    make.user(gateway, username, PASSWORD, role, organization_id)
    browser = Browser(gateway)
    browser.login(username, PASSWORD)
    return browser


@pytest.fixture
def ledger(gateway: Any, api: Any, make: Any) -> dict[str, Any]:
    """Two organisations: A with two funds and 64 donations of every channel and status, B with one."""
    a = make.organization("铜陵市列表商会")
    b = make.organization("枞阳县列表商会")
    make.fund(a["id"], FUND, name="列表助学基金")
    make.fund(a["id"], OTHER_FUND, name="列表助老基金")
    make.fund(b["id"], OUTSIDE_FUND, name="外会基金")
    rows = []
    for n in range(60):
        rows.append({"fund_code": FUND if n % 4 else OTHER_FUND, "amount": f"{(n * 37) % 500 + 1}.{n % 100:02d}",
                     "currency": "CNY", "donor": {"name": f"捐赠人{n:02d}" if n % 10 else f"张{n:02d}",
                                                  "kind": "individual" if n % 3 else "enterprise",
                                                  "anonymous": n % 15 == 7},
                     "received_on": f"2026-{8 + n % 3:02d}-{1 + n % 28:02d}", "channel": CHANNELS[n % 4]})
    response = api.post("/donations/api/v1/donations/batch", json=rows)
    assert response.status_code < 300, response.get_data(as_text=True)[:500]
    outside = [make.donation(OUTSIDE_FUND, "999.99", received_on="2026-09-09") for _ in range(3)]
    donations = api.get("/donations/api/v1/donations", query_string={"limit": 500}).json["items"]
    reversed_one = next(d for d in donations if d["fund_code"] == FUND)
    assert api.post(f"/donations/api/v1/donations/{reversed_one['id']}/reverse",
                    json={"reason": "录入错误"}).status_code in (200, 201)
    manager = login(gateway, make, "fund_manager", a["id"], "list.manager")
    outsider = login(gateway, make, "fund_manager", b["id"], "list.outsider")
    donations = api.get("/donations/api/v1/donations", query_string={"limit": 500}).json["items"]
    return {"a": a, "b": b, "manager": manager, "outsider": outsider, "donations": donations,
            "outside": outside, "reversed": reversed_one}


def matching(ledger: dict[str, Any], **conditions: Any) -> list[dict[str, Any]]:
    """The organisation A's donations the API lists that meet every condition (a predicate a field)."""
    return [d for d in ledger["donations"] if d["fund_code"] in (FUND, OTHER_FUND)
            and all(test(d) for test in conditions.values())]


def money_sum(donations: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(d["amount"]) for d in donations), Decimal(0))


def test_a_page_at_a_time_with_the_total_of_every_matching_row(ledger: dict[str, Any], api: Any) -> None:
    manager = ledger["manager"]
    mine = matching(ledger, fund=lambda d: d["fund_code"] == FUND)
    first = manager.get(f"/donations/search?fund_code={FUND}&size=20")
    assert first.status_code == 200
    page = text(first)
    assert len(receipts(first)) == 20
    assert f"第 1–20 条，共 {len(mine)} 条" in page
    assert total_shown(first) == money_sum(mine)  # all of them, not the 20 shown
    assert f"合计（{len(mine)} 笔）" in page

    second = manager.get(f"/donations/search?fund_code={FUND}&size=20&page=2")
    assert not set(receipts(second)) & set(receipts(first))
    assert f"第 21–40 条，共 {len(mine)} 条" in text(second)
    # The pages together list each matching donation once.
    every = [r for p in range(1, 4) for r in receipts(manager.get(f"/donations/search?fund_code={FUND}&size=20&page={p}"))]
    assert sorted(every) == sorted(d["receipt_no"] for d in mine)
    # A page past the last shows the last.
    assert receipts(manager.get(f"/donations/search?fund_code={FUND}&size=20&page=99")) == \
        receipts(manager.get(f"/donations/search?fund_code={FUND}&size=20&page=3"))
    # The pager's links keep the filters.
    assert re.search(rf'href="/donations/search\?[^"]*fund_code={FUND}[^"]*page=2"', first.get_data(as_text=True)) or \
        re.search(rf'href="/donations/search\?[^"]*page=2[^"]*fund_code={FUND}', first.get_data(as_text=True))

    # Recorded donations of the fund add up to the ledger's balance of it.
    recorded = manager.get(f"/donations/search?fund_code={FUND}&status=recorded&size=20")
    balance = api.get(f"/donations/api/v1/funds/{FUND}/balance").json["balance"]
    assert total_shown(recorded) == Decimal(balance)


def test_sorting_by_a_column_heading(ledger: dict[str, Any]) -> None:
    manager = ledger["manager"]
    amounts = lambda r: [Decimal(a.replace("¥", "").replace(",", ""))  # noqa: E731
                         for a in re.findall(r'<td class="num">([^<]+)</td>', r.get_data(as_text=True))]
    ascending = manager.get("/donations/search?sort=amount&order=asc&size=200&channel=cash")
    shown = amounts(ascending)
    assert shown == sorted(shown) and len(shown) == len(matching(ledger, c=lambda d: d["channel"] == "cash"))
    html = ascending.get_data(as_text=True)
    heading = re.search(r'<th scope="col" class="sortable num" aria-sort="ascending"><a href="([^"]+)"', html)
    assert heading, "the sorted heading says so"
    # Its link sorts the other way, keeping the filter, from the first page.
    assert "order=desc" in heading.group(1) and "channel=cash" in heading.group(1) and "page=" not in heading.group(1)
    descending = manager.get(heading.group(1).replace("&amp;", "&"))
    assert amounts(descending) == sorted(shown, reverse=True)
    # By date, oldest first, ties by number.
    by_date = manager.get("/donations/search?sort=received_on&order=asc&size=200")
    dates = re.findall(r'<td class="date">([\d-]+)</td>', by_date.get_data(as_text=True))
    assert dates == sorted(dates)


@pytest.mark.parametrize("query, condition", [
    ("donor=张", lambda d: not d["donor"]["anonymous"] and "张" in d["donor"]["name"]),
    ("channel=wechat", lambda d: d["channel"] == "wechat"),
    ("status=reversed", lambda d: d["status"] == "reversed"),
    ("status=recorded&fund_code=" + OTHER_FUND, lambda d: d["status"] == "recorded" and d["fund_code"] == OTHER_FUND),
    ("from=2026-09-01&to=2026-09-30", lambda d: "2026-09-01" <= d["received_on"] <= "2026-09-30"),
    ("amount_min=100&amount_max=¥250.50", lambda d: Decimal("100") <= Decimal(d["amount"]) <= Decimal("250.50")),
])
def test_each_filter_and_its_totals(ledger: dict[str, Any], query: str, condition: Any) -> None:
    expected = matching(ledger, condition=condition)
    assert expected, query
    response = ledger["manager"].get(f"/donations/search?{query}&size=200")
    assert response.status_code == 200
    assert sorted(receipts(response)) == sorted(d["receipt_no"] for d in expected)
    assert total_shown(response) == money_sum(expected)


def test_the_export_holds_exactly_what_the_list_shows(ledger: dict[str, Any]) -> None:
    manager = ledger["manager"]
    query = "channel=bank&sort=amount&order=desc&size=20"
    listing = manager.get(f"/donations/search?{query}")
    expected = matching(ledger, c=lambda d: d["channel"] == "bank")
    assert 'id="export-xlsx"' in listing.get_data(as_text=True)
    header, rows, total, about = workbook_rows(manager.get(f"/donations/search/export.xlsx?{query}&page=2"))
    assert header[:2] == ["收据编号", "收款日期"] and "金额" in header
    amount = header.index("金额")
    # Every matching row (not only the page), in the list's order; money as numbers, exactly.
    assert [row[0] for row in rows][:20] == receipts(listing)
    assert sorted(row[0] for row in rows) == sorted(d["receipt_no"] for d in expected)
    assert [row[amount] for row in rows] == sorted((row[amount] for row in rows), reverse=True)
    assert Decimal(str(total[amount])).quantize(Decimal("0.01")) == money_sum(expected)
    assert str(len(expected)) in str(total[0])
    assert ("筛选条件", "收款方式：银行转账") in [line[:2] for line in about]  # it says what it was filtered by

    english = manager.get(f"/donations/search/export.xlsx?{query}&lang=en")
    header, rows, total, _ = workbook_rows(english)
    assert header[0] == "Receipt number" and len(rows) == len(expected)
    # Anonymous donors are anonymous in the export too.
    anonymous = [d for d in ledger["donations"] if d["donor"]["anonymous"] and d["fund_code"] in (FUND, OTHER_FUND)]
    _, rows, _, _ = workbook_rows(manager.get("/donations/search/export.xlsx"))
    names = {row[0]: row[4] for row in rows}
    assert anonymous and all(names[d["receipt_no"]] == "匿名捐赠人" or names[d["receipt_no"]] != d["donor"]["name"]
                             for d in anonymous)


@pytest.mark.parametrize("query, field", [
    ("amount_min=abc", "amount_min"),
    ("amount_min=500&amount_max=20", "amount_min"),
    ("size=7", "size"),
    ("sort=password", "sort"),
    ("order=sideways", "order"),
    ("page=0", "page"),
    ("from=notadate", "from"),
    ("from=2026-09-30&to=2026-09-01", "from"),
    ("channel=pigeon", "channel"),
    ("organization_id=x", "organization_id"),
])
def test_a_bad_filter_is_refused_naming_its_field(ledger: dict[str, Any], query: str, field: str) -> None:
    for path in ("/donations/search", "/donations/search/export.xlsx"):
        response = ledger["manager"].get(f"{path}?{query}")
        assert response.status_code == 422, (path, query, response.status_code)
        if field in ("page", "sort", "order", "organization_id"):  # not a field on this page: said above the form
            summary = re.search(r'id="error-summary".*?</div>', text(response), re.S)
            assert summary and {"page": "页码", "sort": "排序依据", "order": "排序方向",
                                "organization_id": "机构"}[field] in summary.group(0), (path, query)
        else:
            assert field_errors(response, field), (path, query)
        assert not receipts(response)  # nothing is listed by a filter that was refused


def test_another_organisations_rows_never_appear(ledger: dict[str, Any], admin: Browser) -> None:
    outsider, a = ledger["outsider"], ledger["a"]
    theirs = {d["receipt_no"] for d in ledger["donations"] if d["fund_code"] in (FUND, OTHER_FUND)}
    ours = {d["receipt_no"] for d in ledger["outside"]}
    for query in ("", f"organization_id={a['id']}", f"fund_code={FUND}", "size=200"):
        response = outsider.get(f"/donations/search?{query}")
        assert response.status_code == 200
        assert not set(receipts(response)) & theirs, query
        _, rows, total, _ = workbook_rows(outsider.get(f"/donations/search/export.xlsx?{query}"))
        assert not {row[0] for row in rows} & theirs, query
    _, rows, _, _ = workbook_rows(outsider.get("/donations/search/export.xlsx"))
    assert {row[0] for row in rows} == ours
    # The admin sees both, and picks an organisation.
    page = admin.get(f"/donations/search?organization_id={a['id']}&size=200")
    assert set(receipts(page)) == theirs
    assert 'name="organization_id"' in page.get_data(as_text=True)
    assert 'name="organization_id"' not in outsider.get("/donations/search").get_data(as_text=True)


def test_disbursements_filter_sort_export_and_pay_keeping_the_filters(ledger: dict[str, Any], gateway: Any,
                                                                      make: Any, api: Any) -> None:
    manager = ledger["manager"]
    approver = login(gateway, make, "approver", ledger["a"]["id"], "list.approver")
    for payee, amount, category in (("义安区实验小学", "30.00", "programme"), ("铜陵市图书馆", "12.50", "programme"),
                                    ("某会计师事务所", "20.00", "management")):
        assert manager.submit("/donations/disbursements/new", {
            "fund_code": FUND, "amount": amount, "payee": payee, "purpose": "助学", "category": category,
            "submission_id": payee}).status_code == 302
    items = {d["payee"]: d for d in api.get("/donations/api/v1/disbursements").json["items"]}
    queue = approver.get("/donations/disbursements/queue").get_data(as_text=True)
    for payee in ("义安区实验小学", "某会计师事务所"):
        assert approver.http.post(f"/donations/disbursements/{items[payee]['id']}/approve",
                                  data={"csrf_token": csrf_token(queue)},
                                  headers={"Accept": "text/html"}).status_code == 302

    def shown(query: str) -> list[int]:
        response = manager.get(f"/donations/disbursements/?{query}")
        assert response.status_code == 200, query
        return [int(n) for n in re.findall(r'<tr id="disbursement-(\d+)"', response.get_data(as_text=True))]

    assert shown("payee=图书馆") == [items["铜陵市图书馆"]["id"]]
    assert shown("category=management") == [items["某会计师事务所"]["id"]]
    assert shown("amount_min=15&amount_max=25") == [items["某会计师事务所"]["id"]]
    assert shown(f"requested_from={today().isoformat()}&sort=amount&order=asc") == [
        items[p]["id"] for p in ("铜陵市图书馆", "某会计师事务所", "义安区实验小学")]
    assert shown("requested_to=2026-01-01") == []
    approved = manager.get("/donations/disbursements/?status=approved&sort=amount&order=asc")
    assert total_shown(approved) == Decimal("50.00")
    assert manager.get("/donations/disbursements/?paid_from=nope").status_code == 422
    assert field_errors(manager.get("/donations/disbursements/?paid_from=nope"), "paid_from")
    assert shown("status=approved") and not ledger["outsider"].get(
        "/donations/disbursements/?status=approved").get_data(as_text=True).count('<tr id="disbursement-')

    header, rows, total, _ = workbook_rows(manager.get("/donations/disbursements/export.xlsx?status=approved"
                                                       "&sort=amount&order=asc"))
    assert [row[0] for row in rows] == [items["某会计师事务所"]["id"], items["义安区实验小学"]["id"]]
    assert Decimal(str(total[header.index("金额")])).quantize(Decimal("0.01")) == Decimal("50.00")
    _, rows, _, _ = workbook_rows(ledger["outsider"].get("/donations/disbursements/export.xlsx"))
    assert rows == []

    # Paying from a filtered, sorted list comes back to the same list.
    listing = "/donations/disbursements/?status=approved&sort=amount&order=asc&size=20"
    page = manager.get(listing).get_data(as_text=True)
    target = items["某会计师事务所"]["id"]
    action = re.search(rf'action="(/donations/disbursements/{target}/pay[^"]*)"', page)
    assert action and "status=approved" in action.group(1) and "sort=amount" in action.group(1)
    paid = manager.http.post(action.group(1).replace("&amp;", "&"), data={
        "csrf_token": csrf_token(page), "paid_on": today().isoformat(), "bank_reference": "ICBC-LIST-1"},
        headers={"Accept": "text/html"})
    assert paid.status_code == 302, text(paid)[:3000]
    assert paid.location.startswith("/donations/disbursements/?")
    for kept in ("status=approved", "sort=amount", "order=asc", "size=20"):
        assert kept in paid.location
    assert api.get(f"/donations/api/v1/disbursements/{target}").json["status"] == "paid"
    assert Money.parse("20.00").display() in text(manager.get("/donations/disbursements/?status=paid"))
