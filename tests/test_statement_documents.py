"""A fund's statement as pages and as documents.

The page is paged by period: each page's running balance goes on from what the
ledger held just before its first line, so that it is the API's (unpaged)
statement line for line on every page. The XLSX and the PDF hold the whole
period, with the organisation, the fund, the period and the print date (in
Beijing time) above it, the period's totals and its closing balance.
"""

from __future__ import annotations

import io
import re
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from conftest import Browser, csrf_token
from helpers import text
from shared.dates import today
from shared.money import Money

PASSWORD = "a-long-enough-password"
FUND = "ST-DOC-001"
ORGANIZATION = "铜陵市对账商会"
PERIOD = {"from": "2026-08-01", "to": "2026-08-31"}


def shown(amount: str) -> str:
    return Money.parse(amount).display()


def donation(api: Any, make: Any, amount: str, received_on: str, channel: str = "bank") -> dict[str, Any]:
    if channel != "in_kind":
        return make.donation(FUND, amount, received_on=received_on, channel=channel)  # type: ignore[no-any-return]
    body = {"fund_code": FUND, "amount": amount, "currency": "CNY", "received_on": received_on, "channel": "in_kind",
            "donor": {"name": "铜陵某粮油公司", "kind": "enterprise", "anonymous": False}}
    response = api.post("/donations/api/v1/donations", json=body)
    if response.status_code == 422:  # goods described, where the ledger asks for them
        body["goods"] = {"item": "大米", "quantity": "1", "unit": "批", "unit_price": amount}
        response = api.post("/donations/api/v1/donations", json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json  # type: ignore[no-any-return]


@pytest.fixture
def ledger(gateway: Any, api: Any, make: Any) -> dict[str, Any]:
    """26 entries in August, in days out of the order they were posted (several on a day), one before
    August, a gift in kind, a reversal and a paid disbursement."""
    org = make.organization(ORGANIZATION)
    make.fund(org["id"], FUND, name="对账助学基金")
    make.donation(FUND, "1000.00", received_on="2026-07-15")
    days = [20, 5, 5, 12, 1, 31, 12, 12, 3, 28, 5, 19, 7, 7, 22, 2, 9, 16, 16, 25, 11, 30]
    made = [make.donation(FUND, f"{100 + n * 11}.{n:02d}", received_on=f"2026-08-{day:02d}")
            for n, day in enumerate(days)]
    goods = donation(api, make, "800.00", "2026-08-12", channel="in_kind")
    reversed_one = made[3]
    assert api.post(f"/donations/api/v1/donations/{reversed_one['id']}/reverse",
                    json={"reason": "重复录入"}).status_code in (200, 201)
    make.user(gateway, "st.manager", PASSWORD, "fund_manager", org["id"])
    make.user(gateway, "st.approver", PASSWORD, "approver", org["id"])
    manager, approver = Browser(gateway), Browser(gateway)
    manager.login("st.manager", PASSWORD)
    approver.login("st.approver", PASSWORD)
    assert manager.submit("/donations/disbursements/new", {
        "fund_code": FUND, "amount": "300.00", "payee": "义安区实验小学", "purpose": "助学",
        "category": "programme", "submission_id": "st-1"}).status_code == 302
    [item] = api.get("/donations/api/v1/disbursements").json["items"]
    approved = api.post(f"/donations/api/v1/disbursements/{item['id']}/approve")
    if approved.status_code != 200:  # the admin key may not approve under a stricter rule: the approver does
        queue = approver.get("/donations/disbursements/queue").get_data(as_text=True)
        assert approver.http.post(f"/donations/disbursements/{item['id']}/approve",
                                  data={"csrf_token": csrf_token(queue)},
                                  headers={"Accept": "text/html"}).status_code == 302
    return {"org": org, "manager": manager, "disbursement": item, "goods": goods, "reversed": reversed_one}


def api_statement(api: Any, **period: str) -> dict[str, Any]:
    response = api.get(f"/donations/api/v1/funds/{FUND}/statement", query_string=period)
    assert response.status_code == 200
    return response.json  # type: ignore[no-any-return]


def page_lines(response: Any) -> list[tuple[str, str, str, str]]:
    """(date, income, spending, balance) of each entry on a statement page."""
    return re.findall(r'<tr class="entry">\s*<td>([\d-]+)</td>.*?<td class="num">([¥\d.,]*)</td>'
                      r'\s*<td class="num">([¥\d.,]*)</td>\s*<td class="num">([¥\d.,]+)</td>',
                      response.get_data(as_text=True), re.S)


def test_each_page_of_a_statement_goes_on_from_the_last(ledger: dict[str, Any], api: Any) -> None:
    manager = ledger["manager"]
    whole = api_statement(api, **PERIOD)
    entries = whole["entries"]
    assert len(entries) == 23 and whole["opening_balance"] == "1000.00"
    expected = [(e["date"], shown(e["amount"]) if e["direction"] == "in" else "",
                 shown(e["amount"]) if e["direction"] == "out" else "", shown(e["balance_after"])) for e in entries]

    pages = []
    for number in (1, 2):
        response = manager.get(f"/donations/funds/{FUND}/statement?from={PERIOD['from']}&to={PERIOD['to']}"
                               f"&size=20&page={number}")
        assert response.status_code == 200
        pages.append(response)
        page = text(response)
        # The period's opening, totals and closing on every page.
        assert re.search(rf'id="opening-balance">{re.escape(shown(whole["opening_balance"]))}<', page)
        assert re.search(rf'id="closing-balance"><strong>{re.escape(shown(whole["closing_balance"]))}<', page)
        income = sum((Decimal(e["amount"]) for e in entries if e["direction"] == "in"), Decimal(0))
        spending = sum((Decimal(e["amount"]) for e in entries if e["direction"] == "out"), Decimal(0))
        assert re.search(rf'id="total-income">{re.escape(Money.parse(f"{income:.2f}").display())}<', page)
        assert re.search(rf'id="total-spending">{re.escape(Money.parse(f"{spending:.2f}").display())}<', page)
        assert f"共 {len(entries)} 条" in page
    assert page_lines(pages[0]) == expected[:20]
    assert page_lines(pages[1]) == expected[20:]
    # Page 2 says what it brings forward: the balance after page 1's last line.
    assert re.search(rf'id="page-opening-balance">{re.escape(expected[19][3])}<', text(pages[1]))
    assert "过次页" in text(pages[0]) and "承前页" in text(pages[1])

    # Cash and goods apart in the totals; the gift in kind is marked as goods on its line.
    page = text(pages[0]) + text(pages[1])
    assert re.search(r'id="goods-income">¥800\.00<', page)
    assert ledger["goods"]["receipt_no"] in page and "铜陵某粮油公司" in page
    # Receipt numbers and payees on the lines.
    assert ledger["reversed"]["receipt_no"] in page and "义安区实验小学" not in page  # not paid yet

    # A page of the whole history, no period given: every line's balance is the API's.
    everything = api_statement(api)
    response = manager.get(f"/donations/funds/{FUND}/statement?size=20&page=2")
    assert [line[3] for line in page_lines(response)] == [shown(e["balance_after"]) for e in everything["entries"][20:40]]


def test_the_statement_as_xlsx(ledger: dict[str, Any], api: Any) -> None:
    whole = api_statement(api, **PERIOD)
    response = ledger["manager"].get(f"/donations/funds/{FUND}/statement.xlsx?from={PERIOD['from']}"
                                     f"&to={PERIOD['to']}&size=20&page=2")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    about = {row[0]: row[1] for row in rows[:5] if row and row[0]}
    assert "对账助学基金" in next(iter(about)) and FUND in next(iter(about))
    assert about["所属机构"] == ORGANIZATION
    assert about["期间"] == "2026-08-01 — 2026-08-31"
    assert about["打印时间（北京时间）"].startswith(today().isoformat())
    header_at = next(i for i, row in enumerate(rows) if row and row[0] == "日期")
    assert sheet.freeze_panes == f"A{header_at + 2}"
    header = list(rows[header_at])
    balance, income, spending = header.index("余额"), header.index("收入"), header.index("支出")
    body = rows[header_at + 1:]
    assert body[0][2] == "期初余额" and Decimal(str(body[0][balance])) == Decimal(whole["opening_balance"])
    lines = body[1:1 + len(whole["entries"])]
    # The whole period, not the page asked for; the running balance as the ledger's.
    assert [f"{Decimal(str(row[balance])):.2f}" for row in lines] == [e["balance_after"] for e in whole["entries"]]
    totals = body[1 + len(whole["entries"])]
    assert totals[0] == "本期合计"
    assert f"{Decimal(str(totals[income])):.2f}" == \
        f"{sum(Decimal(e['amount']) for e in whole['entries'] if e['direction'] == 'in'):.2f}"
    assert f"{Decimal(str(totals[spending])):.2f}" == \
        f"{sum(Decimal(e['amount']) for e in whole['entries'] if e['direction'] == 'out'):.2f}"
    closing = body[-1]
    assert closing[2] == "期末余额" and f"{Decimal(str(closing[balance])):.2f}" == whole["closing_balance"]
    # Headers follow the page's language.
    english = ledger["manager"].get(f"/donations/funds/{FUND}/statement.xlsx?from={PERIOD['from']}"
                                    f"&to={PERIOD['to']}&lang=en")
    rows = list(openpyxl.load_workbook(io.BytesIO(english.get_data())).active.iter_rows(values_only=True))
    assert any(row and row[0] == "Date" for row in rows)


def test_the_statement_as_pdf(ledger: dict[str, Any], api: Any, tmp_path: Path) -> None:
    whole = api_statement(api, **PERIOD)
    response = ledger["manager"].get(f"/donations/funds/{FUND}/statement.pdf?from={PERIOD['from']}"
                                     f"&to={PERIOD['to']}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = tmp_path / "statement.pdf"
    pdf.write_bytes(response.get_data())
    words = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                           check=True).stdout
    assert ORGANIZATION in words and FUND in words and "对账助学基金" in words
    assert "2026-08-01 — 2026-08-31" in words
    assert "打印时间（北京时间）" in words and today().isoformat() in words
    assert "本期合计" in words and "期末余额" in words
    assert shown(whole["closing_balance"]) in words and shown(whole["opening_balance"]) in words
    for entry in whole["entries"]:
        assert shown(entry["balance_after"]) in words
    assert re.search(r"\b1 / \d+\b", words)  # page numbers


def test_who_may_export_and_what_is_refused(ledger: dict[str, Any], gateway: Any, make: Any, api: Any) -> None:
    other = make.organization("枞阳县对账商会")
    make.user(gateway, "st.outsider", PASSWORD, "fund_manager", other["id"])
    outsider = Browser(gateway)
    outsider.login("st.outsider", PASSWORD)
    for suffix in ("statement", "statement.xlsx", "statement.pdf"):
        assert outsider.get(f"/donations/funds/{FUND}/{suffix}").status_code == 404, suffix
        refused = ledger["manager"].get(f"/donations/funds/{FUND}/{suffix}?from=2026-09-01&to=2026-08-01")
        assert refused.status_code == 422 and "不能晚于截止日期" in text(refused), suffix
    # Beyond what a PDF holds, it is refused, saying how many lines the period has.
    rows = [{"fund_code": FUND, "amount": "1.00", "currency": "CNY", "received_on": "2026-10-01", "channel": "cash",
             "donor": {"name": "某人", "kind": "individual", "anonymous": False}}] * 2001
    assert api.post("/donations/api/v1/donations/batch", json=rows).status_code < 300
    too_many = ledger["manager"].get(f"/donations/funds/{FUND}/statement.pdf?from=2026-10-01&to=2026-10-31")
    assert too_many.status_code == 422 and "2001" in text(too_many).replace(",", "")
