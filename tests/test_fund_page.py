"""A fund's page brings together what the three services know of it.

The funds service's own facts (details, status and what a frozen fund means),
the ledger's (balances, this month's and this year's figures, the last
donations and disbursements, linked into the donations pages, and the
statement) and the reports service's (the fund's reports, linked), each
asked over its internal API for the page's reader. A service that does not
answer leaves a note in its place; the page still answers.
"""

from __future__ import annotations

import dataclasses
import html
import re
import socket
from typing import Any

import pytest

from conftest import Browser, Factory
from shared.dates import today

PASSWORD = "a-long-enough-password"
API = "/donations/api/v1"
FUND, ELSEWHERE = "TL-PAGE-001", "ZY-PAGE-001"


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.json


def shown(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.S)
    assert found, element_id
    return html.unescape(found.group(1)).strip()


@pytest.fixture
def fund(gateway: Any, api: Any, make: Factory) -> dict[str, Any]:
    org = make.organization("铜陵市徽商商会")
    make.fund(org["id"], FUND, name="徽商助学基金")
    other = make.organization("枞阳县商会")
    make.fund(other["id"], ELSEWHERE, name="枞阳县商会基金")
    clerk = api.with_key(make.api_key(org["id"], ["donations:read", "donations:write"], name="clerk"))
    approver = api.with_key(make.api_key(org["id"], ["donations:read", "disbursements:approve"], name="approver"))
    gift = make.donation(FUND, "5000.00", received_on=today().isoformat(), key=clerk.key)
    make.donation(FUND, "800.00", received_on=today().isoformat(), channel="in_kind", key=clerk.key)
    request = ok(clerk.post(f"{API}/disbursements", json={"fund_code": FUND, "amount": "1200.00",
                                                          "payee": "铜陵市第一中学", "purpose": "助学"}), 201)
    ok(approver.post(f"{API}/disbursements/{request['id']}/approve"))
    make.donation(ELSEWHERE, "999.00", received_on=today().isoformat())
    report = ok(api.post("/reports/api/v1/reports", {"period": "2026-Q3", "fund_code": FUND}), 202)
    elsewhere_report = ok(api.post("/reports/api/v1/reports", {"period": "2026-Q3", "fund_code": ELSEWHERE}), 202)
    make.user(gateway, "manager", PASSWORD, "fund_manager", org["id"])
    manager = Browser(gateway)
    manager.login("manager", PASSWORD)
    return {"manager": manager, "gift": gift, "request": request, "report": report,
            "elsewhere_report": elsewhere_report}


def test_the_fund_page_shows_the_three_services_facts(api: Any, fund: dict[str, Any]) -> None:
    page = fund["manager"].get(f"/funds/{FUND}").get_data(as_text=True)
    balance = ok(api.get(f"{API}/funds/{FUND}/balance"))
    # Its own details, and the ledger's figures, equal to the API's.
    assert "徽商助学基金" in page and shown(page, "fund-status") == "正常"
    assert shown(page, "balance") == "¥5,800.00" and balance["balance"] == "5800.00"
    assert shown(page, "cash") == "¥5,000.00" and balance["cash"] == "5000.00"
    assert shown(page, "goods") == "¥800.00" and balance["goods"] == "800.00"
    assert shown(page, "reserved") == "¥1,200.00"
    assert shown(page, "available-cash") == "¥3,800.00"  # the cash less what is set aside; goods are not cash
    assert shown(page, "month-income") == "¥5,800.00" and shown(page, "month-spending") == "¥0.00"
    assert shown(page, "year-income") == "¥5,800.00"
    # The last donations and disbursements, linked into the donations pages, and the statement.
    assert f'href="/donations/receipts/{fund["gift"]["id"]}"' in page
    assert f'href="/donations/disbursements/{fund["request"]["id"]}"' in page
    assert f'href="/donations/funds/{FUND}/statement"' in page
    # Its reports, linked; never another organisation's, nor its figures.
    assert f'href="/reports/reports/{fund["report"]["id"]}"' in page
    assert f'/reports/reports/{fund["elsewhere_report"]["id"]}"' not in page
    assert "999.00" not in page
    assert 'id="ledger-unavailable"' not in page and 'id="reports-unavailable"' not in page
    english = html.unescape(fund["manager"].get(f"/funds/{FUND}?lang=en").get_data(as_text=True))
    assert "Cash available to pay" in english and "Latest donations" in english


def test_another_organisation_s_fund_is_not_found(fund: dict[str, Any]) -> None:
    assert fund["manager"].get(f"/funds/{ELSEWHERE}").status_code == 404


def test_a_frozen_fund_says_what_frozen_means(api: Any, fund: dict[str, Any]) -> None:
    ok(api.post(f"/funds/api/v1/funds/{FUND}/freeze"))
    page = fund["manager"].get(f"/funds/{FUND}").get_data(as_text=True)
    assert shown(page, "fund-status").startswith("已冻结")
    assert "不能冲销" in html.unescape(page)
    overview = html.unescape(fund["manager"].get("/donations/").get_data(as_text=True))
    assert f'<tr id="fund-{FUND}" class="frozen">' in overview and "不能冲销" in overview


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_with_the_reports_service_unreachable_the_page_still_answers(gateway: Any, fund: dict[str, Any]) -> None:
    # The funds service reaches the reports service over HTTP, at an address where nothing listens.
    peers = gateway.apps["funds"].extensions["peers"]
    peers._local.pop("reports")
    peers._clients.pop("reports", None)
    peers.settings = dataclasses.replace(peers.settings, peer_urls={"reports": f"http://127.0.0.1:{closed_port()}"})
    response = fund["manager"].get(f"/funds/{FUND}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="reports-unavailable"' in page and shown(page, "balance") == "¥5,800.00"
    assert "徽商助学基金" in page


def test_with_the_ledger_unreachable_the_page_still_answers(gateway: Any, fund: dict[str, Any]) -> None:
    peers = gateway.apps["funds"].extensions["peers"]
    peers._local.pop("donations")
    peers._clients.pop("donations", None)
    peers.settings = dataclasses.replace(peers.settings,
                                         peer_urls={"donations": f"http://127.0.0.1:{closed_port()}"})
    response = fund["manager"].get(f"/funds/{FUND}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="ledger-unavailable"' in page and 'id="balance"' not in page
    assert f'/reports/reports/{fund["report"]["id"]}"' in page


def test_the_internal_endpoints_are_for_services_only_and_kept_out_of_the_public_documents(api: Any,
                                                                                        fund: dict[str, Any]) -> None:
    reader = {"kind": "user", "id": 1, "name": "x", "organization_id": 1, "scopes": ["admin"], "role": "admin"}
    assert api.post(f"/donations/internal/v1/funds/{FUND}/summary", {"reader": reader}).status_code == 401
    assert api.post(f"/reports/internal/v1/funds/{FUND}/reports",
                    {"reader": reader, "organization_id": 1}).status_code == 401
    for service in ("donations", "reports"):
        assert "/internal/" not in api.get(f"/{service}/openapi.json").get_data(as_text=True)
