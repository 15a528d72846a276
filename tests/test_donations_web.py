"""The donations service's web pages, driven as a person would through the gateway.

What the pages did is checked through the public API: the pages must write
exactly what they say, and nothing when they show an error.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from typing import Any

import pytest

from conftest import Browser, csrf_token
from helpers import field_errors, text
from services.donations.batch import CSV_COLUMNS
from shared.dates import today
from shared.money import Money

HTML = {"Accept": "text/html"}
PASSWORD = "a-long-enough-password"
FUND = "TL-WEB-001"




def page_error(response: Any) -> str:
    """The error shown at the top of the page ('' if none)."""
    match = re.search(r'class="flash error"[^>]*>(.*?)</div>', response.get_data(as_text=True), re.S)
    return html.unescape(match.group(1)) if match else ""


def post(browser: Browser, path: str, data: dict[str, Any] | None = None, token_from: str | None = None) -> Any:
    """POST to `path` with the CSRF token of page `token_from` (a button on that page)."""
    form = dict(data or {})
    if token_from:
        page = browser.get(token_from)
        assert page.status_code == 200, (token_from, page.status_code)
        form["csrf_token"] = csrf_token(page.get_data(as_text=True))
    return browser.http.post(path, data=form, headers=HTML)


def days_ago(days: int) -> str:
    return (today() - dt.timedelta(days=days)).isoformat()


def logged_in(gateway: Any, make: Any, role: str, organization_id: int, username: str) -> Browser:
    make.user(gateway, username, PASSWORD, role, organization_id)
    browser = Browser(gateway)
    browser.login(username, PASSWORD)
    return browser


def donations(api: Any, **query: str) -> list[dict[str, Any]]:
    response = api.get("/donations/api/v1/donations", query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["items"]  # type: ignore[no-any-return]


def balance(api: Any, code: str = FUND) -> tuple[str, str]:
    response = api.get(f"/donations/api/v1/funds/{code}/balance")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["balance"], response.json["available"]


def disbursement(api: Any, disbursement_id: int) -> dict[str, Any]:
    response = api.get(f"/donations/api/v1/disbursements/{disbursement_id}")
    assert response.status_code == 200
    return response.json  # type: ignore[no-any-return]


def only_disbursement(api: Any) -> dict[str, Any]:
    items = api.get("/donations/api/v1/disbursements").json["items"]
    assert len(items) == 1, items
    return items[0]  # type: ignore[no-any-return]


def receipt_numbers(response: Any) -> list[str]:
    """The receipt numbers linked from a results table."""
    return re.findall(r'/donations/receipts/\d+">(\d{4}-\d{6})</a>', response.get_data(as_text=True))


@pytest.fixture
def org(make: Any) -> dict[str, Any]:
    return make.organization("铜陵市徽商商会")  # type: ignore[no-any-return]


@pytest.fixture
def fund(make: Any, org: dict[str, Any]) -> dict[str, Any]:
    return make.fund(org["id"], FUND, name="徽商助学基金")  # type: ignore[no-any-return]


def donation_form(**fields: str) -> dict[str, str]:
    return {"fund_code": FUND, "amount": "1280.00", "currency": "CNY", "donor_name": "铜陵某某有限公司", "donor_kind": "enterprise",
            "received_on": days_ago(3), "channel": "bank", "purpose": "助学", "reference": "", **fields}


# -- recording and receipts --------------------------------------------------------

def test_recording_a_donation_leads_to_its_printable_receipt(admin: Browser, api: Any,
                                                             fund: dict[str, Any]) -> None:
    form = admin.get("/donations/new")
    assert form.status_code == 200
    assert f'value="{today().isoformat()}"' in form.get_data(as_text=True)  # received on: today in Shanghai

    response = admin.submit("/donations/new", donation_form(reference="ERP-0001"))
    assert response.status_code == 302
    [recorded] = donations(api)
    assert response.location == f"/donations/receipts/{recorded['id']}"
    assert (recorded["fund_code"], recorded["amount"], recorded["donor"], recorded["received_on"],
            recorded["channel"], recorded["purpose"], recorded["reference"]) == (
        FUND, "1280.00", {"name": "铜陵某某有限公司", "kind": "enterprise", "anonymous": False}, days_ago(3),
        "bank", "助学", "ERP-0001")

    receipt = admin.get(response.location)
    page = text(receipt)
    assert receipt.status_code == 200
    assert "已登记" in page and recorded["receipt_no"] in page
    assert re.search(r'id="amount-in-words">[^<]*壹仟贰佰捌拾元整<', page)
    assert re.search(r'id="amount">¥1,280\.00<', page)
    assert re.search(r'id="donor">铜陵某某有限公司<', page)
    assert "徽商助学基金" in page and FUND in page  # the fund's name, from the funds service
    assert days_ago(3) in page and "银行转账" in page and "企业" in page
    assert "data-print" in page and "print.js" in page and "打印" in page


def test_anonymous_donor_is_named_nowhere_on_the_receipt(admin: Browser, api: Any, fund: dict[str, Any]) -> None:
    response = admin.submit("/donations/new", donation_form(
        donor_name="王秘密", donor_kind="individual", donor_anonymous="y", amount="50.05", channel="wechat"))
    assert response.status_code == 302
    [recorded] = donations(api)
    assert recorded["donor"] == {"name": "匿名", "kind": "individual", "anonymous": True}

    page = text(admin.get(response.location))
    assert re.search(r'id="donor">匿名<', page)
    assert "王秘密" not in page
    assert "伍拾元零伍分" in page and "微信" in page


@pytest.mark.parametrize(("field", "value", "message"), [
    # The page reads amounts as people type them (tests/test_page_forms.py); these it cannot read.
    ("amount", "12.345", "两位小数"),
    ("amount", "1e3", "不是有效的金额"),
    ("amount", "-1.00", "金额必须大于 0"),
    ("amount", "1,28.00", "不是有效的金额"),
    ("amount", "0.00", "金额必须大于 0"),
    ("amount", "1000000000.01", "0.01 至 1000000000.00"),
    ("amount", "", "请输入金额"),
    ("donor_name", "", "请输入捐赠人名称"),
    ("donor_name", "   ", "请输入捐赠人名称"),
    ("received_on", "future", "不能晚于今天"),
    ("received_on", "1999-12-31", "不能早于 2000-01-01"),
    ("received_on", "2026-02-30", "日期"),
    ("fund_code", "TL_WEB_001", "大写字母"),
    ("donor_kind", "alien", "选择"),
    ("channel", "bitcoin", "选择"),
])
def test_field_errors_are_shown_beside_the_field_and_nothing_is_recorded(
        admin: Browser, api: Any, fund: dict[str, Any], field: str, value: str, message: str) -> None:
    if value == "future":
        value = (today() + dt.timedelta(days=1)).isoformat()
    response = admin.submit("/donations/new", donation_form(**{field: value, "purpose": "保留的用途"}))
    assert response.status_code == 422
    assert message in field_errors(response, field)
    others = {"fund_code", "amount", "donor_name", "received_on", "purpose", "reference"} - {field}
    assert all(field_errors(response, other) == "" for other in others)
    page = response.get_data(as_text=True)
    assert "保留的用途" in text(response)  # the other values are kept
    if value.strip() and field in ("amount", "donor_name"):  # a fund is picked from a list of the user's
        assert f'value="{html.escape(value)}"' in page
    assert donations(api) == []


def test_a_fund_the_user_may_not_post_to_is_refused_beside_the_fund_code(
        gateway: Any, make: Any, api: Any, fund: dict[str, Any]) -> None:
    other = make.organization("枞阳县商会")
    manager = logged_in(gateway, make, "fund_manager", other["id"], "zongyang")
    for code in (FUND, "TL-NONE-999"):
        response = manager.submit("/donations/new", donation_form(fund_code=code))
        assert response.status_code == 422
        assert "没有此基金" in field_errors(response, "fund_code")
    assert donations(api) == []


def test_a_reference_already_recorded_is_refused_beside_the_reference(admin: Browser, api: Any, make: Any,
                                                                       fund: dict[str, Any]) -> None:
    make.donation(FUND, "10.00", reference="BANK-42")
    response = admin.submit("/donations/new", donation_form(reference="BANK-42"))
    assert response.status_code == 409
    assert "已在本机构登记过" in field_errors(response, "reference")
    assert [d["amount"] for d in donations(api)] == ["10.00"]


def test_a_closed_fund_takes_no_donation_and_the_page_says_so(admin: Browser, api: Any,
                                                                 fund: dict[str, Any]) -> None:
    assert api.post(f"/funds/api/v1/funds/{FUND}/close").status_code == 200
    response = admin.submit("/donations/new", donation_form())
    assert response.status_code == 409
    assert f"基金 {FUND} 已关闭" in page_error(response)
    assert 'value="铜陵某某有限公司"' in response.get_data(as_text=True)
    assert donations(api) == []


def test_a_post_without_the_csrf_token_is_refused_and_records_nothing(admin: Browser, api: Any,
                                                                      fund: dict[str, Any]) -> None:
    response = admin.http.post("/donations/new", data=donation_form(), headers=HTML)
    assert response.status_code == 400 and "CSRF" in text(response)
    forged = admin.http.post("/donations/new", data={**donation_form(), "csrf_token": "forged"}, headers=HTML)
    assert forged.status_code == 400
    assert donations(api) == []
    # The same form with the page's token is accepted: the token was what was missing.
    assert admin.submit("/donations/new", donation_form()).status_code == 302
    assert len(donations(api)) == 1


def test_pages_need_a_login(browser: Browser) -> None:
    response = browser.get("/donations/new")
    assert response.status_code == 302 and response.location == "/funds/login?next=/donations/new"


# -- CSV import (the pages' import in full: tests/test_import_pages.py) --------------------

CSV = """fund_code,amount,currency,donor_name,donor_kind,donor_anonymous,received_on,channel,purpose,reference
{code},1280.00,CNY,铜陵某某有限公司,enterprise,false,{day},bank,助学,R-1
{code},12.5,CNY,张三,individual,false,{day},cash,,R-2
{code},99.00,CNY,李四,individual,false,{day},cash,,R-1
{code},20.00,CNY,王五,individual,true,{day},wechat,,
NOPE-001,5.00,CNY,赵六,individual,false,{day},cash,,R-3
{code},7.00,CNY,孙七,individual,false,{day},alipay,,OLD-1
{code},8.00,CNY,周八,individual,maybe,{future},in_kind,,R-4
"""
# The API is strict (12.5 is no amount to it); the pages read 12.5 as people mean it, and say before
# recording anything that R-1 comes twice and OLD-1 is recorded already.
EXPECTED = {2: "recorded", 3: "invalid", 4: "duplicate", 5: "recorded", 6: "invalid", 7: "duplicate",
            8: "invalid"}
PREVIEWED = {2: "ready", 3: "ready", 4: "error", 5: "ready", 6: "error", 7: "error", 8: "error"}
IMPORTED = {2: "recorded", 3: "recorded", 4: "failed", 5: "recorded", 6: "failed", 7: "failed", 8: "failed"}


def import_rows(response: Any, kind: str) -> dict[int, str]:
    return {int(line): status for status, line in
            re.findall(rf'<tr class="{kind}-(\w+)" id="row-(\d+)">', response.get_data(as_text=True))}


def test_csv_import_previews_each_line_then_records_the_good_ones(
        admin: Browser, api: Any, make: Any, org: dict[str, Any], fund: dict[str, Any]) -> None:
    make.donation(FUND, "1.00", reference="OLD-1")
    content = CSV.format(code=FUND, day=days_ago(1), future=(today() + dt.timedelta(days=1)).isoformat())
    uploaded = admin.submit("/donations/import", {"file": (io.BytesIO(content.encode()), "捐赠.csv")})
    assert uploaded.status_code == 303
    preview = admin.get(uploaded.location)
    assert import_rows(preview, "row") == PREVIEWED
    page = text(preview)
    line_4 = page.split('id="row-4"')[1].split("</tr>")[0]
    assert "参考号 R-1 在本文件第 2 行也出现过" in line_4 and "also" not in line_4
    line_6 = page.split('id="row-6"')[1].split("</tr>")[0]
    assert "基金编号" in line_6 and "没有此基金" in line_6
    line_7 = page.split('id="row-7"')[1].split("</tr>")[0]
    assert "参考号 OLD-1 已在本机构登记过" in line_7
    line_8 = page.split('id="row-8"')[1].split("</tr>")[0]
    assert "匿名" in line_8 and "收款日期" in line_8 and "不能晚于今天" in line_8
    assert [d["reference"] for d in donations(api)] == ["OLD-1"], "the preview records nothing"

    token = csrf_token(preview.get_data(as_text=True))
    confirmed = admin.http.post(f"{uploaded.location}/confirm", data={"csrf_token": token}, headers=HTML)
    assert confirmed.status_code == 303
    result = admin.get(uploaded.location)
    assert import_rows(result, "state") == IMPORTED
    assert "7 行：已记录 3 行，重复 2 行，无效 2 行" in text(result)
    recorded = [d for d in donations(api) if d["reference"] != "OLD-1"]
    assert sorted((d["amount"], d["reference"], d["donor"]["name"]) for d in recorded) == [
        ("12.50", "R-2", "张三"), ("1280.00", "R-1", "铜陵某某有限公司"), ("20.00", None, "匿名")]
    assert sorted(receipt_numbers(result)) == sorted(d["receipt_no"] for d in recorded)
    assert balance(api) == ("1313.50", "1313.50")

    # The API's batch is as strict as ever with the same file (here for another organisation's fund).
    other = make.organization("枞阳县商会")
    make.fund(other["id"], "ZY-API-001")
    make.donation("ZY-API-001", "1.00", reference="OLD-1")
    by_api = api.post("/donations/api/v1/donations/batch", headers={"Content-Type": "text/csv"},
                      data=content.replace(FUND, "ZY-API-001").encode())
    assert by_api.status_code == 200
    assert {r["row"]: r["status"] for r in by_api.json["results"]} == EXPECTED


def test_csv_import_refuses_a_file_it_cannot_read_beside_the_file_field(admin: Browser, api: Any,
                                                                        fund: dict[str, Any]) -> None:
    no_file = admin.submit("/donations/import", {})
    assert no_file.status_code == 422 and "请选择" in field_errors(no_file, "file")

    not_a_table = admin.submit("/donations/import", {"file": (io.BytesIO(b"\x89PNG\r\n\x1a\n\x00\x00"), "x.png")})
    assert not_a_table.status_code == 422 and "XLSX" in field_errors(not_a_table, "file")

    header = "fund,amount\nTL-WEB-001,1.00\n".encode()
    bad_header = admin.submit("/donations/import", {"file": (io.BytesIO(header), "bad.csv")})
    assert bad_header.status_code == 422
    assert "缺少列：基金代码 (fund_code)" in field_errors(bad_header, "file")  # "fund" names no column of ours
    assert donations(api) == []


def test_csv_template_is_the_header_row_and_imports_cleanly(admin: Browser) -> None:
    page = admin.get("/donations/import")
    assert "/donations/import/template.csv" in page.get_data(as_text=True)
    template = admin.get("/donations/import/template.csv")
    assert template.status_code == 200 and template.mimetype == "text/csv"
    assert "attachment" in template.headers["Content-Disposition"]
    assert template.get_data().decode("utf-8-sig").splitlines() == [",".join(CSV_COLUMNS)]
    # Uploaded as it is, it is read (header accepted) and found to hold no rows.
    empty = admin.submit("/donations/import", {"file": (io.BytesIO(template.get_data()), "t.csv")})
    assert empty.status_code == 422 and "没有数据行" in field_errors(empty, "file")


# -- disbursements ----------------------------------------------------------------

def test_request_approve_and_pay_moves_balance_and_available(gateway: Any, make: Any, api: Any,
                                                            org: dict[str, Any], fund: dict[str, Any]) -> None:
    make.donation(FUND, "1000.00")
    manager = logged_in(gateway, make, "fund_manager", org["id"], "manager")
    approver = logged_in(gateway, make, "approver", org["id"], "approver")

    invalid = manager.submit("/donations/disbursements/new", {"fund_code": FUND, "amount": "300.001", "payee": "",
                                                              "purpose": "助学金"})
    assert invalid.status_code == 422
    assert "两位小数" in field_errors(invalid, "amount") and "请输入收款人" in field_errors(invalid, "payee")
    assert api.get("/donations/api/v1/disbursements").json["items"] == []

    requested = manager.submit("/donations/disbursements/new", {
        "fund_code": FUND, "amount": "300.00", "payee": "义安区实验小学", "purpose": "2026 年助学金",
        "project": "春蕾计划"})
    assert requested.status_code == 302 and requested.location == "/donations/disbursements/"
    item = only_disbursement(api)
    assert (item["status"], item["amount"], item["payee"], item["project"], item["requested_by_name"]) == (
        "requested", "300.00", "义安区实验小学", "春蕾计划", "manager")
    assert "已提交" in text(manager.get("/donations/disbursements/"))
    assert balance(api) == ("1000.00", "1000.00")

    # A fund manager has no say in approvals.
    assert manager.get("/donations/disbursements/queue").status_code == 403
    assert post(manager, f"/donations/disbursements/{item['id']}/approve",
                token_from="/donations/disbursements/").status_code == 403
    assert disbursement(api, item["id"])["status"] == "requested"

    queue = approver.get("/donations/disbursements/queue")
    assert queue.status_code == 200
    assert f'/donations/disbursements/{item["id"]}/approve' in queue.get_data(as_text=True)
    approved = post(approver, f"/donations/disbursements/{item['id']}/approve",
                    token_from="/donations/disbursements/queue")
    assert approved.status_code == 302 and approved.location == "/donations/disbursements/queue"
    after = disbursement(api, item["id"])
    assert (after["status"], after["approved_by_name"]) == ("approved", "approver")
    assert balance(api) == ("1000.00", "700.00")
    overview = text(manager.get("/donations/"))
    assert re.search(rf'id="fund-{FUND}">.*?¥1,000\.00.*?¥700\.00', overview, re.S)

    # Paying: a field error first (nothing paid), then the payment.
    listing = "/donations/disbursements/?status=approved"
    pay = f"/donations/disbursements/{item['id']}/pay?status=approved"
    missing = post(manager, pay, {"paid_on": days_ago(0), "bank_reference": " "}, token_from=listing)
    assert missing.status_code == 422
    assert "请输入银行流水号" in field_errors(missing, f"pay-{item['id']}-bank_reference")
    assert disbursement(api, item["id"])["status"] == "approved"

    paid = post(manager, pay, {"paid_on": days_ago(0), "bank_reference": "ICBC-20261128-01"}, token_from=listing)
    assert paid.status_code == 302 and paid.location == "/donations/disbursements/?status=approved"
    after = disbursement(api, item["id"])
    assert (after["status"], after["paid_on"], after["bank_reference"]) == ("paid", days_ago(0), "ICBC-20261128-01")
    assert balance(api) == ("700.00", "700.00")
    paid_list = text(manager.get("/donations/disbursements/?status=paid"))
    assert f'id="disbursement-{item["id"]}"' in paid_list and "ICBC-20261128-01" in paid_list
    assert f'id="disbursement-{item["id"]}"' not in text(manager.get("/donations/disbursements/?status=requested"))


def test_the_requester_cannot_approve_their_own_disbursement(admin: Browser, api: Any, make: Any,
                                                             fund: dict[str, Any]) -> None:
    make.donation(FUND, "1000.00")
    assert admin.submit("/donations/disbursements/new", {"fund_code": FUND, "amount": "100.00",
                                                         "payee": "某村委会", "purpose": "修路"}).status_code == 302
    item = only_disbursement(api)
    queue = admin.get("/donations/disbursements/queue").get_data(as_text=True)
    row = queue.split(f'id="disbursement-{item["id"]}"')[1].split("</tr>")[0]
    assert "本人申请" in html.unescape(row) and "/approve" not in row  # no approve button is offered

    response = post(admin, f"/donations/disbursements/{item['id']}/approve",
                    token_from="/donations/disbursements/queue")
    assert response.status_code == 403
    assert "申请人不能审批自己" in page_error(response)
    assert disbursement(api, item["id"])["status"] == "requested"
    assert balance(api) == ("1000.00", "1000.00")


def test_a_disbursement_request_says_what_the_money_is_for(admin: Browser, api: Any, make: Any,
                                                          fund: dict[str, Any]) -> None:
    make.donation(FUND, "1000.00")
    page = admin.get("/donations/disbursements/new")
    select = re.search(r'<select[^>]*name="category"[^>]*>(.*?)</select>', page.get_data(as_text=True), re.S)
    assert select, "no category select on the request page"
    options = re.findall(r'<option([^>]*)value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))
    assert [(value, label) for _, value, label in options] == [
        ("programme", "慈善活动支出"), ("management", "管理费用"), ("fundraising", "募捐成本")]
    assert [value for attributes, value, _ in options if "selected" in attributes] == ["programme"]

    refused = admin.submit("/donations/disbursements/new", {"fund_code": FUND, "amount": "100.00",
                                                            "payee": "某会计师事务所", "purpose": "年度审计",
                                                            "category": "salaries"})
    assert refused.status_code == 422
    assert field_errors(refused, "category")
    assert api.get("/donations/api/v1/disbursements").json["items"] == []

    requested = admin.submit("/donations/disbursements/new", {"fund_code": FUND, "amount": "100.00",
                                                              "payee": "某会计师事务所", "purpose": "年度审计",
                                                              "category": "management"})
    assert requested.status_code == 302
    item = only_disbursement(api)
    assert item["category"] == "management"
    row = text(admin.get("/donations/disbursements/")).split(f'id="disbursement-{item["id"]}"')[1].split("</tr>")[0]
    assert "管理费用" in row
    assert f'id="disbursement-{item["id"]}"' in admin.get(
        "/donations/disbursements/?category=management").get_data(as_text=True)
    assert f'id="disbursement-{item["id"]}"' not in admin.get(
        "/donations/disbursements/?category=programme").get_data(as_text=True)


def test_approving_more_than_is_available_shows_the_conflict(gateway: Any, make: Any, api: Any,
                                                             org: dict[str, Any], fund: dict[str, Any]) -> None:
    make.donation(FUND, "100.00")
    approver = logged_in(gateway, make, "approver", org["id"], "approver")
    # The pages refuse such a request up front; the API takes it, and refuses at approval.
    assert api.post("/donations/api/v1/disbursements", json={"fund_code": FUND, "amount": "500.00",
                                                             "payee": "某学校", "purpose": "助学"}).status_code == 201
    item = only_disbursement(api)
    response = post(approver, f"/donations/disbursements/{item['id']}/approve",
                    token_from="/donations/disbursements/queue")
    assert response.status_code == 409
    assert "可用余额为 100.00 元" in page_error(response) and "500.00" in page_error(response)
    assert disbursement(api, item["id"])["status"] == "requested"
    assert balance(api) == ("100.00", "100.00")


def test_rejecting_an_approved_disbursement_releases_its_reservation(
        gateway: Any, make: Any, api: Any, org: dict[str, Any], fund: dict[str, Any]) -> None:
    make.donation(FUND, "1000.00")
    manager = logged_in(gateway, make, "fund_manager", org["id"], "manager")
    approver = logged_in(gateway, make, "approver", org["id"], "approver")
    manager.submit("/donations/disbursements/new", {"fund_code": FUND, "amount": "400.00", "payee": "某学校",
                                                    "purpose": "助学"})
    item = only_disbursement(api)
    post(approver, f"/donations/disbursements/{item['id']}/approve", token_from="/donations/disbursements/queue")
    assert balance(api) == ("1000.00", "600.00")

    queue = approver.get("/donations/disbursements/queue").get_data(as_text=True)
    assert f'id="disbursement-{item["id"]}"' in queue.split('id="approved"')[1]
    reject = f"/donations/disbursements/{item['id']}/reject"
    no_reason = post(approver, reject, {"reason": "  "}, token_from="/donations/disbursements/queue")
    assert no_reason.status_code == 422
    assert "请输入驳回原因" in field_errors(no_reason, f"reject-{item['id']}-reason")
    assert disbursement(api, item["id"])["status"] == "approved"

    rejected = post(approver, reject, {"reason": "项目已取消"}, token_from="/donations/disbursements/queue")
    assert rejected.status_code == 302
    after = disbursement(api, item["id"])
    assert (after["status"], after["reject_reason"]) == ("rejected", "项目已取消")
    assert balance(api) == ("1000.00", "1000.00")
    assert "项目已取消" in text(approver.get("/donations/disbursements/?status=rejected"))

    again = post(approver, reject, {"reason": "再次驳回"}, token_from="/donations/disbursements/queue")
    assert again.status_code == 409 and "已不能驳回" in page_error(again)


# -- statements and search ----------------------------------------------------------

def test_statement_for_a_period_matches_the_api(admin: Browser, api: Any, make: Any,
                                                 fund: dict[str, Any]) -> None:
    make.donation(FUND, "100.00", received_on=days_ago(60))
    make.donation(FUND, "200.00", received_on=days_ago(40))
    make.donation(FUND, "300.00", received_on=days_ago(35))
    make.donation(FUND, "400.00", received_on=days_ago(20))
    query = {"from": days_ago(50), "to": days_ago(30)}
    by_api = api.get(f"/donations/api/v1/funds/{FUND}/statement", query_string=query).json
    assert (by_api["opening_balance"], by_api["closing_balance"]) == ("100.00", "600.00")

    response = admin.get(f"/donations/funds/{FUND}/statement?from={query['from']}&to={query['to']}")
    assert response.status_code == 200
    page = text(response)
    shown = lambda amount: Money.parse(amount).display()  # noqa: E731 - as the pages show money: ¥1,280.00
    assert re.search(rf'id="opening-balance">{shown(by_api["opening_balance"])}<', page)
    assert re.search(rf'id="closing-balance"><strong>{shown(by_api["closing_balance"])}<', page)
    lines = re.findall(r'<tr class="entry">\s*<td>([\d-]+)</td>\s*<td>(\S+)</td>.*?<td class="num">([¥\d.,]*)</td>'
                       r'\s*<td class="num">([¥\d.,]*)</td>\s*<td class="num">([¥\d.,]+)</td>', page, re.S)
    assert lines == [(e["date"], "捐赠", shown(e["amount"]), "", shown(e["balance_after"]))
                     for e in by_api["entries"]]
    assert len(lines) == 2 and "徽商助学基金" in page

    backwards = admin.get(f"/donations/funds/{FUND}/statement?from={days_ago(1)}&to={days_ago(9)}")
    assert backwards.status_code == 422 and "不能晚于截止日期" in field_errors(backwards, "from")
    assert admin.get("/donations/funds/TL-NONE-999/statement").status_code == 404


def test_search_finds_named_donors_but_never_anonymous_ones(admin: Browser, api: Any, make: Any,
                                                            org: dict[str, Any], fund: dict[str, Any]) -> None:
    make.fund(org["id"], "TL-WEB-002")
    donor = {"kind": "individual", "anonymous": False}
    zhang = make.donation(FUND, "10.00", donor={**donor, "name": "张三"}, received_on=days_ago(10))
    zhang2 = make.donation("TL-WEB-002", "11.00", donor={**donor, "name": "张三丰"}, received_on=days_ago(2))
    li = make.donation(FUND, "12.00", donor={**donor, "name": "李四"}, received_on=days_ago(2))
    hidden = make.donation(FUND, "13.00", donor={**donor, "name": "张无名", "anonymous": True},
                           received_on=days_ago(2))

    def found(query: str) -> set[str]:
        response = admin.get("/donations/search?" + query)
        assert response.status_code == 200
        return set(receipt_numbers(response))

    assert found("donor=张") == {zhang["receipt_no"], zhang2["receipt_no"]}
    assert found("donor=张无名") == set()
    assert found("donor=张&fund_code=" + FUND) == {zhang["receipt_no"]}
    assert found(f"from={days_ago(5)}&fund_code={FUND}") == {li["receipt_no"], hidden["receipt_no"]}
    assert found(f"to={days_ago(5)}") == {zhang["receipt_no"]}
    listing = text(admin.get("/donations/search?fund_code=" + FUND))
    assert "张无名" not in listing and "匿名" in listing
    assert admin.get("/donations/search?from=notadate").status_code == 422


# -- reversal ----------------------------------------------------------------------

def test_reversing_from_the_receipt_page_then_again_shows_the_conflict(admin: Browser, api: Any, make: Any,
                                                                       fund: dict[str, Any]) -> None:
    donation = make.donation(FUND, "500.00")
    receipt = f"/donations/receipts/{donation['id']}"
    reverse = f"{receipt}/reverse"
    assert balance(api) == ("500.00", "500.00")

    no_token = admin.http.post(reverse, data={"reason": "录入错误"}, headers=HTML)
    assert no_token.status_code == 400
    no_reason = post(admin, reverse, {"reason": ""}, token_from=receipt)
    assert no_reason.status_code == 422 and "请输入冲销原因" in field_errors(no_reason, "reason")
    assert donations(api)[0]["status"] == "recorded"

    done = post(admin, reverse, {"reason": "银行退回"}, token_from=receipt)
    assert done.status_code == 302 and done.location == receipt
    [after] = donations(api)
    assert (after["status"], after["reversal_reason"]) == ("reversed", "银行退回")
    assert balance(api) == ("0.00", "0.00")
    page = text(admin.get(receipt))
    assert "已冲销" in page and "银行退回" in page and "作废" in page
    assert 'action="/donations/receipts/' not in page  # no reversal form any more

    again = post(admin, reverse, {"reason": "再次冲销"}, token_from=receipt)
    assert again.status_code == 409 and "已经冲销" in text(again)
    assert balance(api) == ("0.00", "0.00")
    statement = text(admin.get(f"/donations/funds/{FUND}/statement"))
    assert "冲销" in statement and re.search(r'id="closing-balance"><strong>¥0\.00<', statement)


# -- who may see and do what ---------------------------------------------------------

def test_an_auditor_reads_every_page_but_records_nothing(gateway: Any, make: Any, api: Any,
                                                         org: dict[str, Any], fund: dict[str, Any]) -> None:
    donation = make.donation(FUND, "88.00")
    auditor = logged_in(gateway, make, "auditor", org["id"], "auditor")
    for path in ("/donations/", f"/donations/receipts/{donation['id']}", "/donations/search?donor=铜陵",
                 "/donations/disbursements/", f"/donations/funds/{FUND}/statement"):
        response = auditor.get(path)
        assert response.status_code == 200, path
    assert donation["receipt_no"] in text(auditor.get("/donations/search"))
    assert "冲销此捐赠" not in text(auditor.get(f"/donations/receipts/{donation['id']}"))
    assert "登记捐赠" not in text(auditor.get("/donations/"))

    for path in ("/donations/new", "/donations/import", "/donations/disbursements/new",
                 "/donations/disbursements/queue"):
        assert auditor.get(path).status_code == 403, path
    forced = post(auditor, "/donations/new", donation_form(), token_from="/donations/search")
    assert forced.status_code == 403
    reversed_ = post(auditor, f"/donations/receipts/{donation['id']}/reverse", {"reason": "x"},
                     token_from="/donations/search")
    assert reversed_.status_code == 403
    assert [(d["amount"], d["status"]) for d in donations(api)] == [("88.00", "recorded")]


def test_another_organisations_manager_cannot_see_this_organisations_donations(
        gateway: Any, make: Any, api: Any, fund: dict[str, Any]) -> None:
    donation = make.donation(FUND, "66.00")
    other = make.organization("枞阳县商会")
    outsider = logged_in(gateway, make, "fund_manager", other["id"], "outsider")
    assert outsider.get(f"/donations/receipts/{donation['id']}").status_code == 404
    assert outsider.get(f"/donations/funds/{FUND}/statement").status_code == 404
    assert donation["receipt_no"] not in text(outsider.get("/donations/search"))
    assert FUND not in text(outsider.get("/donations/"))
    refused = post(outsider, f"/donations/receipts/{donation['id']}/reverse", {"reason": "x"},
                   token_from="/donations/search")
    assert refused.status_code == 404
    assert donations(api)[0]["status"] == "recorded"


def test_a_donation_form_posted_twice_records_once(admin: Browser, api: Any, fund: dict[str, Any]) -> None:
    page = admin.get("/donations/new").get_data(as_text=True)
    submission = re.search(r'name="submission_id"[^>]*value="([0-9a-f]+)"', page)
    assert submission, "the form carries a submission id"
    form = {"csrf_token": csrf_token(page), "submission_id": submission.group(1), **donation_form()}

    first = admin.http.post("/donations/new", data=form, headers={"Accept": "text/html"})
    again = admin.http.post("/donations/new", data=form, headers={"Accept": "text/html"})

    assert first.status_code == again.status_code == 302
    assert first.location == again.location
    assert len(donations(api)) == 1
    fresh = admin.submit("/donations/new", donation_form())  # a new form is a new donation
    assert fresh.status_code == 302 and len(donations(api)) == 2
