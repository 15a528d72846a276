"""The pages' donation import: the spreadsheet fund managers keep, previewed, confirmed, recorded once.

Driven as a person would, through the gateway; what was recorded is read back
through the public API, and what was kept of an upload from the database.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import openpyxl
import psycopg
import pytest

from conftest import Browser, csrf_token
from helpers import field_errors, text
from services.donations import importing
from shared.dates import today
from shared.postgres import libpq_dsn

HTML = {"Accept": "text/html"}
PASSWORD = "a-long-enough-password"
FUND = "TL-IMP-001"
HEADER = ["序号", "基金代码", "金额（元）", "捐赠人", "捐赠人类型", "匿名", "捐赠日期", "方式", "用途", "流水号"]


@pytest.fixture
def org(make: Any) -> dict[str, Any]:
    return make.organization("铜陵市徽商商会")  # type: ignore[no-any-return]


@pytest.fixture
def fund(make: Any, org: dict[str, Any]) -> dict[str, Any]:
    return make.fund(org["id"], FUND, name="徽商助学基金")  # type: ignore[no-any-return]


@pytest.fixture
def manager(gateway: Any, make: Any, org: dict[str, Any], fund: dict[str, Any]) -> Browser:
    return logged_in(gateway, make, "fund_manager", org["id"], "manager")


def logged_in(gateway: Any, make: Any, role: str, organization_id: int, username: str) -> Browser:
    make.user(gateway, username, PASSWORD, role, organization_id)
    browser = Browser(gateway)
    browser.login(username, PASSWORD)
    return browser


def day(days_ago: int) -> dt.date:
    return today() - dt.timedelta(days=days_ago)


def workbook(header: list[str], rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(header: list[str], rows: list[list[Any]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def upload(browser: Browser, content: bytes, filename: str = "捐赠.xlsx") -> Any:
    return browser.submit("/donations/import", {"file": (io.BytesIO(content), filename)})


def preview_of(browser: Browser, response: Any) -> tuple[str, Any]:
    """The preview's address after an upload, and the preview itself."""
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    path = response.location
    assert re.fullmatch(r"/donations/import/\d+", path), path
    page = browser.get(path)
    assert page.status_code == 200
    return path, page


def verdicts(page: Any) -> dict[int, str]:
    return {int(line): verdict for verdict, line in
            re.findall(r'<tr class="row-(\w+)" id="row-(\d+)">', page.get_data(as_text=True))}


def row_text(page: Any, line: int) -> str:
    return text(page).split(f'id="row-{line}"')[1].split("</tr>")[0]


def confirm(browser: Browser, path: str, include_warned: bool = False, token_page: Any = None) -> Any:
    page = token_page or browser.get(path)
    form = {"csrf_token": csrf_token(page.get_data(as_text=True))}
    if include_warned:
        form["include_warned"] = "y"
    return browser.http.post(f"{path}/confirm", data=form, headers=HTML)


def donations(api: Any) -> list[dict[str, Any]]:
    response = api.get("/donations/api/v1/donations", query_string={"limit": "200"})
    assert response.status_code == 200
    return response.json["items"]  # type: ignore[no-any-return]


def kept_batches(database_url: str) -> int:
    with psycopg.connect(libpq_dsn(database_url)) as connection:
        return connection.execute("SELECT count(*) FROM donations.import_batch").fetchone()[0]  # type: ignore[index]


# -- reading what people keep ---------------------------------------------------------

def test_an_xlsx_with_chinese_headers_values_and_excel_dates_is_previewed_then_recorded(
        manager: Browser, api: Any) -> None:
    serial = (day(3) - dt.date(1899, 12, 30)).days
    content = workbook(HEADER, [
        [1, FUND, 1280, "铜陵某某有限公司", "企业", "否", dt.datetime.combine(day(1), dt.time()), "转账", "助学",
         "R-1"],
        [2, "tl-imp-001", 12.5, "张三", "个人", "是", day(2).strftime("%Y/%m/%d"), "现金", "", None],
        [3, FUND, "50,000.00", "某某社会组织", "组织", None, serial, "支付宝", "", 20261121001],
        [4, FUND, "abc", "李四", "个人", "否", day(1).strftime("%Y年%m月%d日"), "微信", "", None],
        [5, "NOPE-001", 5, "赵六", "单位", "否", day(1).isoformat(), "物资", "", None],
        [6, FUND, 12.345, "孙七", "个人", "否", day(1).isoformat(), "现金", "", None],
    ])
    path, page = preview_of(manager, upload(manager, content))
    assert verdicts(page) == {2: "ready", 3: "ready", 4: "ready", 5: "error", 6: "error", 7: "error"}
    assert "金额（元）" in row_text(page, 5)
    assert "没有此基金" in row_text(page, 6)
    assert "金额（元）" in row_text(page, 7)
    assert re.search(r'id="total-ready">¥51,292\.50<', page.get_data(as_text=True))
    assert donations(api) == [], "a preview records nothing"

    done = confirm(manager, path)
    assert done.status_code == 303 and done.location == path
    result = manager.get(path)
    assert result.status_code == 200
    recorded = sorted((d["amount"], d["donor"]["name"], d["donor"]["kind"], d["received_on"], d["channel"],
                       d["reference"]) for d in donations(api))
    assert recorded == [
        ("12.50", "匿名", "individual", day(2).isoformat(), "cash", None),
        ("1280.00", "铜陵某某有限公司", "enterprise", day(1).isoformat(), "bank", "R-1"),
        ("50000.00", "某某社会组织", "organization", day(3).isoformat(), "alipay", "20261121001"),
    ]
    page_text = text(result)
    for donation in donations(api):
        assert donation["receipt_no"] in page_text
        assert f'/donations/receipts/{donation["id"]}' in page_text
    assert re.search(r'id="total-recorded">¥51,292\.50<', result.get_data(as_text=True))

    # Confirming again (a second click, the back button, another tab) records nothing more.
    again = confirm(manager, path, token_page=page)
    assert again.status_code == 303
    assert len(donations(api)) == 3


def test_a_gb18030_csv_as_excel_in_china_saves_it_is_read(manager: Browser, api: Any) -> None:
    content = csv_bytes(["基金代码", "金额", "捐赠人", "捐赠人类型", "收到日期", "渠道"],
                        [[FUND, "¥1,000", "铜陵某某有限公司", "企业", day(1).strftime("%Y/%m/%d"), "银行"],
                         [FUND, "88", "王五", "个人", day(2).isoformat(), "微信"]], encoding="gb18030")
    path, page = preview_of(manager, upload(manager, content, "捐赠.csv"))
    assert verdicts(page) == {2: "ready", 3: "ready"}
    assert "铜陵某某有限公司" in text(page)
    confirm(manager, path)
    assert sorted(d["amount"] for d in donations(api)) == ["1000.00", "88.00"]


def test_the_apis_codes_as_headers_and_values_are_read_too(manager: Browser, api: Any) -> None:
    content = csv_bytes(["fund_code", "amount", "currency", "donor_name", "donor_kind", "donor_anonymous",
                         "received_on", "channel"],
                        [[FUND, "1280.00", "CNY", "某某公司", "enterprise", "false", day(1).isoformat(), "bank"]])
    _, page = preview_of(manager, upload(manager, b"\xef\xbb\xbf" + content, "api.csv"))
    assert verdicts(page) == {2: "ready"}


# -- duplicates ------------------------------------------------------------------------------

def test_rows_like_ones_recorded_are_warned_and_skipped_unless_included(manager: Browser, api: Any,
                                                                         make: Any) -> None:
    earlier = make.donation(FUND, "100.00", received_on=day(5).isoformat())
    rows = [[FUND, "100", "铜陵某某有限公司", "企业", day(5).isoformat(), "银行", ""],      # like the one recorded
            [FUND, "30", "张三", "个人", day(1).isoformat(), "现金", ""],
            [FUND, "30", "张三", "个人", day(1).isoformat(), "现金", ""],                # like the row above
            [FUND, "100", "铜陵某某有限公司", "企业", day(5).isoformat(), "银行", "BANK-9"]]  # has a reference
    content = csv_bytes(["基金代码", "金额", "捐赠人", "捐赠人类型", "收到日期", "渠道", "参考号"], rows)

    path, page = preview_of(manager, upload(manager, content, "dup.csv"))
    assert verdicts(page) == {2: "warning", 3: "ready", 4: "warning", 5: "ready"}
    assert earlier["receipt_no"] in row_text(page, 2) and "同一捐赠人" in row_text(page, 2)
    assert "第 3 行" in row_text(page, 4)
    confirm(manager, path)
    assert len(donations(api)) == 3  # the earlier one, and rows 3 and 5
    result = manager.get(path)
    assert "已跳过" in row_text(result, 2)

    # The same rows again, the warned ones included this time.
    path, page = preview_of(manager, upload(manager, content, "dup.csv"))
    assert verdicts(page) == {2: "warning", 3: "warning", 4: "warning", 5: "error"}  # BANK-9 is recorded now
    assert "BANK-9" in row_text(page, 5)
    confirm(manager, path, include_warned=True)
    assert len(donations(api)) == 6


# -- the rows to fix ---------------------------------------------------------------------------

def test_the_rows_not_recorded_download_with_their_columns_and_why(manager: Browser, api: Any) -> None:
    content = workbook(HEADER, [
        [1, FUND, 1280, "铜陵某某有限公司", "企业", "否", day(1).isoformat(), "转账", "助学", "R-1"],
        [2, FUND, "12.345", "张三", "人", "否", day(1).isoformat(), "现金", "", None],
        [3, FUND, "20", "李四", "个人", "否", (today() + dt.timedelta(days=2)).isoformat(), "现金", "", None],
    ])
    path, _ = preview_of(manager, upload(manager, content))
    confirm(manager, path)
    result = manager.get(path)
    assert 'id="rows-to-fix-xlsx"' in result.get_data(as_text=True)

    download = manager.get(f"{path}/rows-to-fix.xlsx")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(download.get_data())).active
    lines = [[cell if cell is not None else "" for cell in row] for row in sheet.iter_rows(values_only=True)]
    assert lines[0] == [*HEADER, "错误"]
    assert [line[3] for line in lines[1:]] == ["张三", "李四"]
    assert lines[1][2] == "12.345" and "金额（元）" in lines[1][-1] and "捐赠人类型" in lines[1][-1]
    assert "捐赠日期" in lines[2][-1] and "今天" in lines[2][-1]

    in_english = manager.get(f"{path}/rows-to-fix.csv?lang=en")
    rows = list(csv.reader(io.StringIO(in_english.get_data().decode("utf-8-sig"))))
    assert rows[0][-1] == "Errors" and len(rows) == 3

    # Fixed and uploaded again, they are recorded.
    fixed = workbook(rows[0][:-1], [[*row[:2], "12.35", row[3], "个人", *row[5:6], day(1).isoformat(), *row[7:-1]]
                                    for row in rows[1:2]])
    path, page = preview_of(manager, upload(manager, fixed))
    assert verdicts(page) == {2: "ready"}
    confirm(manager, path)
    assert sorted(d["amount"] for d in donations(api)) == ["12.35", "1280.00"]


def test_a_row_to_fix_typed_like_a_formula_comes_back_as_text(manager: Browser, api: Any) -> None:
    content = csv_bytes(["基金代码", "金额", "捐赠人", "捐赠人类型", "收到日期", "渠道", "用途"],
                        [[FUND, "100", "=HYPERLINK(\"http://example.com\")", "人", day(1).isoformat(), "现金", "=1+2"]])
    path, _ = preview_of(manager, upload(manager, content, "formula.csv"))
    confirm(manager, path)
    sheet = openpyxl.load_workbook(io.BytesIO(manager.get(f"{path}/rows-to-fix.xlsx").get_data())).active
    cells = {cell.value: cell.data_type for cell in sheet[2]}
    assert cells["=1+2"] == "s" and cells['=HYPERLINK("http://example.com")'] == "s", cells



def test_a_townships_own_spreadsheet_imports_its_other_columns_named_and_kept(manager: Browser, api: Any) -> None:
    """备注, 联系电话, 经办人 and a column without a name are not imported, and the preview says so (序号
    and an empty column without a name go without a word); the rows to fix keep them, and re-import."""
    header = ["序号", "基金代码", "备注", "金额", "捐赠人", "联系电话", "捐赠人类型", "收到日期", "渠道", "经办人", "",
              "备注", ""]
    content = workbook(header, [
        [1, FUND, "年终捐赠", 500, "铜陵某某有限公司", "13800000000", "企业", day(1), "转账", "王会计", "x", "", None],
        [2, FUND, "", "abc", "张三", "0562-1234567", "个人", day(1), "现金", "王会计", None, "再核对", None],
        [3, FUND, "", 20, "李四", "", "个人", day(2), "微信", "", None, "", None],
    ])
    path, page = preview_of(manager, upload(manager, content))
    assert verdicts(page) == {2: "ready", 3: "error", 4: "ready"}
    said = text(page).split('id="ignored-columns">')[1].split("</p>")[0]
    assert said == "这些列未导入：备注、联系电话、经办人、第 11 列（无列名）。", said
    english = manager.get(f"{path}?lang=en")
    said = english.get_data(as_text=True).split('id="ignored-columns">')[1].split("</p>")[0]
    assert said.startswith("These columns are not imported: ") and "column 11, without a name" in said, said
    assert '<span lang="zh-CN">联系电话</span>' in said
    manager.get(f"{path}?lang=zh")

    confirm(manager, path)
    assert sorted(d["amount"] for d in donations(api)) == ["20.00", "500.00"]
    download = manager.get(f"{path}/rows-to-fix.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(download.get_data())).active
    lines = [[cell if cell is not None else "" for cell in row] for row in sheet.iter_rows(values_only=True)]
    assert lines[0] == [*header[:-1], "错误"]  # a last column without a name is no column
    assert lines[1][:12] == ["2", FUND, "", "abc", "张三", "0562-1234567", "个人", day(1).isoformat(), "现金",
                             "王会计", "", "再核对"]

    # Fixed as downloaded (its error column too), it imports.
    lines[1][3] = "30"
    path, page = preview_of(manager, upload(manager, workbook(lines[0], lines[1:])))
    assert verdicts(page) == {2: "ready"}
    assert "这些列未导入：备注、联系电话、经办人、错误。" in text(page)
    confirm(manager, path)
    assert sorted(d["amount"] for d in donations(api)) == ["20.00", "30.00", "500.00"]


# -- files refused as a whole -----------------------------------------------------------------

@pytest.mark.parametrize(("content", "filename", "said"), [
    (b"", "empty.csv", "请选择"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", ".xlsx"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "photo.png", "XLSX"),
    (b"PK\x03\x04 not really a workbook", "broken.xlsx", "无法读取"),
    ("基金代码,金额,捐赠人\n".encode(), "header-only.csv", "没有数据行"),
    # Columns it does not know are not imported; a required one it does not find is still missing.
    ("基金代码,金额,捐赠者姓名,捐赠人类型,收到日期,渠道,备注栏\nTL-IMP-001,1,a,个人,2026-01-01,现金,x\n".encode(),
     "unknown.csv", "捐赠人 (donor_name)"),
    ("基金代码,金额,捐赠金额,捐赠人,捐赠人类型,收到日期,渠道\nTL-IMP-001,1,1,a,个人,2026-01-01,现金\n".encode(),
     "repeated.csv", "金额、捐赠金额"),
    ("基金代码,金额\nTL-IMP-001,1\n".encode(), "missing.csv", "捐赠人 (donor_name)"),
])
def test_a_file_that_cannot_be_read_is_refused_naming_why_and_nothing_is_kept(
        manager: Browser, api: Any, database_url: str, content: bytes, filename: str, said: str) -> None:
    response = upload(manager, content, filename)
    assert response.status_code == 422
    assert said in field_errors(response, "file"), field_errors(response, "file")
    assert kept_batches(database_url) == 0 and donations(api) == []


def test_a_file_of_too_many_rows_is_refused(manager: Browser, database_url: str) -> None:
    rows = [[FUND, "1", "张三", "个人", day(1).isoformat(), "现金"]] * (importing.MAX_ROWS + 1)
    response = upload(manager, csv_bytes(["基金代码", "金额", "捐赠人", "捐赠人类型", "收到日期", "渠道"], rows), "big.csv")
    assert response.status_code == 422
    assert str(importing.MAX_ROWS) in field_errors(response, "file").replace(",", "")
    assert kept_batches(database_url) == 0


# -- large files, in chunks ---------------------------------------------------------------------

def test_a_large_file_is_recorded_in_chunks_each_row_once(manager: Browser, api: Any) -> None:
    count = importing.CHUNK_ROWS * 2 + 7
    rows = [[FUND, f"{n}.00", f"捐赠人{n}", "个人", day(1).isoformat(), "现金", f"BIG-{n}"] for n in range(1, count + 1)]
    content = csv_bytes(["基金代码", "金额", "捐赠人", "捐赠人类型", "收到日期", "渠道", "流水号"], rows)
    path, _ = preview_of(manager, upload(manager, content, "big.csv"))
    confirm(manager, path)

    progress = manager.get(f"{path}/progress").json
    assert progress["status"] == "recording" and progress["recorded"] == importing.CHUNK_ROWS
    assert progress["pending"] == count - importing.CHUNK_ROWS
    result = manager.get(path)
    assert 'id="import-bar"' in result.get_data(as_text=True) and "import_progress.js" in result.get_data(as_text=True)

    token = csrf_token(result.get_data(as_text=True))
    answers = []
    for _ in range(4):  # more asks than chunks: the extra ones record nothing
        answer = manager.http.post(f"{path}/continue", data={"csrf_token": token},
                                   headers={"Accept": "application/json"})
        assert answer.status_code == 200
        answers.append(answer.json)
    assert [a["status"] for a in answers] == ["recording", "done", "done", "done"]
    assert answers[-1]["recorded"] == count and answers[-1]["percent"] == 100
    # Without the script, the button posts the same form and comes back to the page.
    assert manager.http.post(f"{path}/continue", data={"csrf_token": token}, headers=HTML).status_code == 303

    total = api.get(f"/donations/api/v1/funds/{FUND}/balance").json["balance"]
    assert total == f"{count * (count + 1) // 2}.00"
    receipts = {d["reference"] for d in api.get("/donations/api/v1/donations",
                                                  query_string={"limit": "200", "fund_code": FUND}).json["items"]}
    assert len(receipts) == 200  # a page of them: distinct references


# -- whose it is --------------------------------------------------------------------------------

def test_another_organisations_user_cannot_see_or_confirm_an_import(
        gateway: Any, make: Any, manager: Browser, api: Any) -> None:
    content = csv_bytes(["基金代码", "金额", "捐赠人", "捐赠人类型", "收到日期", "渠道"],
                        [[FUND, "66", "张三", "个人", day(1).isoformat(), "现金"]])
    path, _ = preview_of(manager, upload(manager, content, "mine.csv"))
    other = make.organization("枞阳县商会")
    make.fund(other["id"], "ZY-IMP-001")
    outsider = logged_in(gateway, make, "fund_manager", other["id"], "outsider")
    for suffix in ("", "/progress", "/rows-to-fix.xlsx", "/rows-to-fix.csv"):
        assert outsider.get(path + suffix).status_code == 404, suffix
    token = csrf_token(outsider.get("/donations/import").get_data(as_text=True))
    for action in ("/confirm", "/continue"):
        refused = outsider.http.post(path + action, data={"csrf_token": token, "include_warned": "y"}, headers=HTML)
        assert refused.status_code == 404, action
    assert donations(api) == []
    assert "张三" not in text(outsider.get(path))
    assert confirm(manager, path).status_code == 303 and len(donations(api)) == 1


def test_the_templates_download_and_the_xlsx_one_imports(manager: Browser) -> None:
    page = manager.get("/donations/import")
    assert "/donations/import/template.xlsx" in page.get_data(as_text=True)
    template = manager.get("/donations/import/template.xlsx")
    assert template.status_code == 200 and "attachment" in template.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(template.get_data())).active
    header, example = list(sheet.iter_rows(values_only=True))
    assert header[:3] == ("基金代码", "金额", "币种") and example[1] == "1280.00"
    # Its example names a fund of another; the file itself is read.
    _, preview = preview_of(manager, upload(manager, template.get_data()))
    assert verdicts(preview) == {2: "error"} and "没有此基金" in row_text(preview, 2)


# -- gifts in kind -------------------------------------------------------------------------------

def test_a_gift_in_kinds_goods_are_read_from_their_columns(manager: Browser, api: Any) -> None:
    header = ["基金代码", "金额", "捐赠人", "捐赠人类型", "收到日期", "方式", "物品", "数量", "单位", "单价"]
    content = workbook(header, [
        [FUND, 6500, "铜陵某某粮油公司", "企业", day(1), "物资", "大米", 2500, "斤", 2.6],
        [FUND, 100, "张三", "个人", day(1), "现金", None, None, None, None],
        [FUND, 50, "李四", "个人", day(1), "物资", "棉被", 3, "床", 20],   # 3 x 20 is not 50
    ])
    path, page = preview_of(manager, upload(manager, content))
    assert verdicts(page) == {2: "ready", 3: "ready", 4: "error"}
    assert "60.00" in row_text(page, 4)
    confirm(manager, path)
    goods = {d["donor"]["name"]: (d["amount"], d["channel"], d["goods"]) for d in donations(api)}
    assert goods == {"铜陵某某粮油公司": ("6500.00", "in_kind", {"item": "大米", "quantity": "2500", "unit": "斤",
                                                               "unit_price": "2.60"}),
                     "张三": ("100.00", "cash", None)}


def test_two_tabs_recording_the_same_import_at_once_record_each_row_once(manager: Browser, api: Any,
                                                                          gateway: Any) -> None:
    """Two requests for the next rows at once (two tabs, a double click): they take the batch's
    lock in turn, and the second finds the first one's rows recorded."""
    from concurrent.futures import ThreadPoolExecutor

    from werkzeug.test import Client

    count = importing.CHUNK_ROWS * 3
    rows = [[FUND, "1.00", f"捐赠人{n}", "个人", day(1).isoformat(), "现金", f"TAB-{n}"] for n in range(count)]
    content = csv_bytes(["基金代码", "金额", "捐赠人", "捐赠人类型", "收到日期", "渠道", "流水号"], rows)
    path, _ = preview_of(manager, upload(manager, content, "tabs.csv"))
    confirm(manager, path)
    token = csrf_token(manager.get(path).get_data(as_text=True))
    tabs = [Client(gateway) for _ in range(2)]
    for tab in tabs:
        tab._cookies = dict(manager.http._cookies)  # the same login in another tab

    def go_on(tab: Client) -> list[dict[str, Any]]:
        answers = []
        for _ in range(3):
            answer = tab.post(f"{path}/continue", data={"csrf_token": token}, headers={"Accept": "application/json"})
            assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
            answers.append(answer.json)
        return answers

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(go_on, tabs))
    assert all(answers[-1]["status"] == "done" for answers in results)
    balance = api.get(f"/donations/api/v1/funds/{FUND}/balance").json["balance"]
    assert balance == f"{count}.00"
    assert manager.get(f"{path}/progress").json == {
        "status": "done", "total": count, "to_record": count, "recorded": count, "failed": 0, "skipped": 0,
        "pending": 0, "percent": 100}


def test_an_import_left_unconfirmed_expires(manager: Browser, api: Any, database_url: str) -> None:
    content = csv_bytes(["基金代码", "金额", "捐赠人", "捐赠人类型", "收到日期", "渠道"],
                        [[FUND, "10", "张三", "个人", day(1).isoformat(), "现金"]])
    path, page = preview_of(manager, upload(manager, content, "old.csv"))
    with psycopg.connect(libpq_dsn(database_url)) as connection:
        connection.execute("UPDATE donations.import_batch SET expires_at = now() - interval '1 minute'")
    expired = manager.get(path)
    assert 'id="expired"' in expired.get_data(as_text=True) and 'id="confirm"' not in expired.get_data(as_text=True)
    assert "已过期" in text(expired)
    refused = confirm(manager, path, token_page=page)
    assert refused.status_code == 409 and donations(api) == []
    # The next upload clears it away.
    preview_of(manager, upload(manager, content, "again.csv"))
    assert manager.get(path).status_code == 404
