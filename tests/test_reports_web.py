"""The reports pages, as an auditor and a fund manager use them."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from services.reports import tasks
from tests.conftest import ApiClient, Browser, Factory
from tests.helpers import text
from tests.reports_support import owner_query

PASSWORD = "a-long-enough-password"
REPORTS = "/reports/api/v1"


@pytest.fixture
def ledger(api: ApiClient, make: Factory, gateway: Any) -> dict[str, Any]:
    org = make.organization("铜陵市工商联")
    fund = make.fund(org["id"], "TL-HQ-001", name="铜陵市工商联冠名慈善基金")
    make.donation(fund["code"], "50000.00", received_on="2026-07-03")
    other = make.organization("义安区商会")
    others = make.fund(other["id"], "YA-SH-001", name="义安区商会冠名慈善基金")
    make.donation(others["code"], "800.00", received_on="2026-07-05")
    make.user(gateway, "auditor", PASSWORD, "auditor", org["id"])
    make.user(gateway, "manager", PASSWORD, "fund_manager", org["id"])
    return {"org": org, "fund": fund, "other": other, "others": others}


def build(gateway: Any, report_id: int) -> str:
    app = gateway.apps["reports"]
    with app.app_context():
        return tasks.build_and_deliver(app, report_id)


def test_an_auditor_asks_for_a_report_reads_it_and_downloads_its_files(browser: Browser, gateway: Any,
                                                                       ledger: dict[str, Any]) -> None:
    browser.login("auditor", PASSWORD)
    page = browser.get("/reports/")
    assert page.status_code == 200 and "还没有报告" in text(page)
    response = browser.submit("/reports/", {"period": "2026-Q3", "fund_code": "", "organization_id": "",
                                            "submission_id": "s1"})
    assert response.status_code == 302, text(response)
    report_id = int(response.headers["Location"].rsplit("/", 1)[1])
    queued = browser.get(f"/reports/reports/{report_id}")
    assert "排队中" in text(queued) and 'http-equiv="refresh"' in queued.get_data(as_text=True)
    assert build(gateway, report_id) == "done"
    page = browser.get(f"/reports/reports/{report_id}")
    shown = text(page)
    assert "已完成" in shown and "http-equiv" not in page.get_data(as_text=True)
    assert "全部基金" in shown and "¥50,800.00" in shown  # every fund: both organisations' (an auditor sees all)
    assert "试算平衡" in shown and "✓ 通过" in shown and "✗" not in shown
    assert re.search(r"生成中\s*→\s*已完成", shown)
    pdf = browser.get(f"/reports/reports/{report_id}/files/pdf")
    assert pdf.status_code == 200 and pdf.get_data()[:5] == b"%PDF-"
    assert browser.get(f"/reports/reports/{report_id}/files/doc").status_code == 404
    listing = browser.get("/reports/?period=2026-Q3&status=done").get_data(as_text=True)
    assert f'id="report-{report_id}"' in listing and "全部通过" in listing
    assert 'id="report-' not in browser.get("/reports/?status=failed").get_data(as_text=True)


def test_a_bad_period_on_the_page_is_refused_beside_the_field(browser: Browser, ledger: dict[str, Any]) -> None:
    browser.login("auditor", PASSWORD)
    response = browser.submit("/reports/", {"period": "2026-13", "submission_id": "s2"})
    assert response.status_code == 422
    assert "例如 2026-08、2026-Q3 或 2026" in text(response)
    assert owner_query(browser.http.application.apps["reports"].config["DATABASE_URL"],  # type: ignore[attr-defined]
                       "SELECT count(*) FROM reports.report_run") == [(0,)]


def test_a_fund_manager_sees_only_the_organisations_reports(browser: Browser, api: ApiClient, gateway: Any,
                                                           ledger: dict[str, Any]) -> None:
    mine = api.post(f"{REPORTS}/reports", {"period": "2026-Q3", "fund_code": "TL-HQ-001"}).json["id"]
    theirs = api.post(f"{REPORTS}/reports", {"period": "2026-Q3", "fund_code": "YA-SH-001"}).json["id"]
    everything = api.post(f"{REPORTS}/reports", {"period": "2026-Q3"}).json["id"]
    browser.login("manager", PASSWORD)
    listing = browser.get("/reports/").get_data(as_text=True)
    rows = set(re.findall(r'id="report-(\d+)"', listing))
    assert rows == {str(mine)}, (rows, theirs, everything)
    assert browser.get(f"/reports/reports/{theirs}").status_code == 404
    assert browser.get(f"/reports/reports/{everything}").status_code == 404
    refused = browser.submit("/reports/", {"period": "2026-Q3", "submission_id": "s3"})
    assert refused.status_code == 403 and "只有慈善总会的管理员和审计员" in text(refused)


def test_an_auditor_manages_their_own_subscriptions(browser: Browser, ledger: dict[str, Any]) -> None:
    browser.login("auditor", PASSWORD)
    made = browser.submit("/reports/subscriptions", {"email": "auditor@mca.tongling.gov.cn",
                                                     "frequency": "quarterly", "fund_code": "TL-HQ-001"})
    assert made.status_code == 302
    page = browser.get("/reports/subscriptions")
    assert "auditor@mca.tongling.gov.cn" in text(page) and "每季度" in text(page)
    bad = browser.submit("/reports/subscriptions", {"email": "nobody", "frequency": "quarterly"})
    assert bad.status_code == 422 and "不是有效的电子邮件地址" in text(bad)
    subscription_id = re.search(r'id="subscription-(\d+)"', page.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    cancelled = browser.submit("/reports/subscriptions", {}, action=f"/reports/subscriptions/{subscription_id}/cancel")
    assert cancelled.status_code == 302
    assert "还没有订阅" in text(browser.get("/reports/subscriptions"))


def test_the_export_button_gives_a_journal_hledger_reads(browser: Browser, ledger: dict[str, Any],
                                                         tmp_path: Any) -> None:
    import shutil

    browser.login("auditor", PASSWORD)
    form = browser.get("/reports/exports")
    assert form.status_code == 200 and "hledger" in text(form)
    journal = browser.get("/reports/exports?period=2026-Q3&format=journal&fund_code=TL-HQ-001")
    assert journal.status_code == 200, text(journal)
    assert "attachment" in journal.headers["Content-Disposition"]
    refused = browser.get("/reports/exports?period=2026-Q9&format=journal")
    assert refused.status_code == 422
    if not shutil.which("hledger"):
        pytest.skip("hledger is not installed (Debian package hledger; make install installs it as root)")
    path = tmp_path / "q3.journal"
    path.write_bytes(journal.get_data())
    balance = subprocess.run(["hledger", "-f", str(path), "balance", "Funds:TL-HQ-001", "--flat", "-N"],
                             capture_output=True, text=True, check=True, env={"LC_ALL": "C.UTF-8"}).stdout
    assert "-50000.00 CNY" in balance.replace(",", "")
