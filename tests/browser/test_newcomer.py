"""The issue's "done when", as a person new to the system lives it: given only the login, a
township's fund manager records a company's donation, a batch from their spreadsheet and a gift
of produce, requests a disbursement with its invoice attached; the approver approves it, the
fund manager records it paid, and prints the month's statement.

Only what a newcomer sees is used to go from page to page: the site's address, then links and
buttons by their words (never an address typed after logging in, never an id nobody sees), the
form fields by their labels. Every page visited is in the run's language (Chinese by default,
English once chosen with the language switch), shows every amount as ¥1,234.56, passes axe-core,
never scrolls sideways, and is kept as a screenshot.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from playwright.sync_api import Page

from shared import i18n
from shared.dates import today
from shared.money import Money
from tests.browser.support import PASSWORD, PageChecks, Site
from tests.test_pages_language import ENGLISH_LABELS, HAN, VisibleText

COMPANY = "铜陵顺安建材有限公司"
PAYEE = "顺安镇中心小学"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# An amount as the pages show it, and what must never be shown: a bare figure of yuan or fen.
SHOWN_MONEY = re.compile(r"^-?¥\d{1,3}(,\d{3})*\.\d{2}$")
BARE_FIGURE = re.compile(r"(?<![A-Za-z0-9_¥,.\-#/:])\d{4,}(\.\d{1,2})?(?![A-Za-z0-9_,.\-/:%])")
# Figures that are no amounts: a count of rows, a file's size.
NOT_AMOUNTS = re.compile(r"\d{1,3}(,\d{3})*|\d+(\.\d)? (B|KB|MB)")
# Names of file formats and the like, the same in every language.
FORMAT_NAMES = {"XLSX", "CSV", "PDF", "PNG", "JPEG", "Excel", "UTF", "SHA", "CNY", "YYYY"}
# What a page shows a newcomer, leaving out what is written for machines: codes (the CSV
# format's column names and values are typed as they are in any language).
FOR_MACHINES = re.compile(r"<code\b.*?</code>", re.DOTALL)
# Where a figure is typed rather than read: hints of how to type one, the import's columns and
# example row (what a spreadsheet's cells may hold).
SHOWN_TEXT = """() => { const main = document.querySelector("main").cloneNode(true);
    main.querySelectorAll(".hint, code, #columns, #example, #api-csv, input, textarea, select").forEach(e => e.remove());
    return main.textContent; }"""
# Each run keeps its own township, fund and people.
RUNS = [("zh", 1280, "1"), ("zh", 390, "2"), ("en", 1280, "3")]


def words(text: str, lang: str) -> str:
    """What the page says for the catalogue's `text` in the run's language."""
    return i18n.translate(text, lang)


def township_spreadsheet(fund: str, tag: str) -> bytes:
    """A township's donations register as kept by hand: Chinese headers and values, dates typed
    as text and entered as dates."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "捐赠登记"
    sheet.append(["基金代码", "捐赠人", "捐赠人类型", "金额", "捐赠日期", "渠道", "用途"])
    day = today()
    sheet.append([fund, f"顺安农机合作社{tag}", "企业", 12000, day.strftime("%Y/%m/%d"), "银行", "助学"])
    sheet.append([fund, f"张桂兰{tag}", "个人", 500.5, datetime(day.year, day.month, day.day), "现金", "助困"])
    sheet.append([fund, f"顺安镇供销社{tag}", "企业", "3,000.00", day.strftime("%Y/%m/%d"), "银行", ""])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def invoice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from weasyprint import HTML

    path = tmp_path_factory.mktemp("newcomer-invoice") / "发票-顺安镇中心小学.pdf"
    path.write_bytes(HTML(string="""<html><body style='font-family: "Noto Sans CJK SC", sans-serif'>
        <h1>增值税普通发票</h1><p>购买方：顺安镇中心小学　金额：¥8,000.00</p></body></html>""").write_pdf())
    return path


class Newcomer:
    """A person at the browser: goes where the pages' words lead, and checks every page on the way."""

    def __init__(self, page: Page, checks: PageChecks, lang: str, width: int, data: list[str]) -> None:
        self.page, self.checks = page, checks
        self.lang, self.width, self.data = lang, width, data
        self.steps = iter(range(1, 100))

    def w(self, text: str) -> str:
        return words(text, self.lang)

    # -- moving about, by the words on the page -----------------------------------------------

    def log_in(self, username: str) -> None:
        self.page.get_by_label(self.w("Username"), exact=True).fill(username)
        self.page.get_by_label(self.w("Password"), exact=True).fill(PASSWORD)
        self.page.get_by_role("button", name=self.w("Log in")).click()
        self.page.wait_for_url(lambda url: "/login" not in url)

    def unfold_menu(self) -> None:
        fold = self.page.locator("header details.menu-fold")
        if fold.locator("summary").is_visible() and fold.get_attribute("open") is None:
            self.page.get_by_text(self.w("Menu"), exact=True).click()

    def log_out(self) -> None:
        self.unfold_menu()
        self.page.get_by_role("button", name=self.w("Log out")).click()
        self.page.wait_for_url("**/funds/login**")

    def follow(self, name: str, within: str = "main") -> None:
        """A link of the donations pages' menu or of the page itself, by its words."""
        before = self.page.url
        scope = self.page.get_by_role("navigation", name=self.w("Donations and disbursements")) \
            if within == "subnav" else self.page.locator("main")
        scope.get_by_role("link", name=name, exact=True).first.click()
        self.page.wait_for_url(lambda url: url != before)
        self.page.wait_for_load_state()

    def press(self, name: str) -> None:
        self.page.locator("main").get_by_role("button", name=name, exact=True).first.click()
        self.page.wait_for_load_state()

    # -- what every page must be --------------------------------------------------------------

    def check(self, name: str) -> None:
        step = f"{next(self.steps):02d}_{name}"
        where = f"{step} ({self.page.url}, {self.lang}, {self.width} px)"
        self.checks.check(step, where)
        html = FOR_MACHINES.sub("", self.page.content())
        shown = VisibleText.of(html)
        for data in sorted(self.data, key=len, reverse=True):
            shown = shown.replace(data, "")
        if self.lang == "zh":
            left = [word for word in ENGLISH_LABELS if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", shown)]
            latin = [word for word in re.findall(r"\b[A-Za-z]{3,}\b", shown) if word not in FORMAT_NAMES]
            if left or latin:
                self.checks.failures.append(f"{where}: English words on a Chinese page: {left or latin}")
            if not HAN.search(shown):
                self.checks.failures.append(f"{where}: no Chinese in main")
        else:
            han = re.findall(r"\S*[\u3400-\u4dbf\u4e00-\u9fff]+\S*", shown)
            if han:
                self.checks.failures.append(f"{where}: Chinese words on an English page: {han}")
        cells = self.page.locator("main td.num, main th.num, main .summary dd").all_inner_texts()
        odd = [cell for cell in (c.strip() for c in cells)
               if cell and re.search(r"\d", cell) and not SHOWN_MONEY.match(cell)
               and not NOT_AMOUNTS.fullmatch(cell)]
        if odd:
            self.checks.failures.append(f"{where}: amounts not written as ¥1,234.56: {odd}")
        bare = [m.group(0) for m in BARE_FIGURE.finditer(self.page.evaluate(SHOWN_TEXT))
                if not re.fullmatch(r"20\d\d", m.group(0))]  # a year
        if bare:
            self.checks.failures.append(f"{where}: bare figures that read as amounts: {bare}")


@pytest.mark.parametrize(("lang", "width", "run"), RUNS)
def test_a_newcomer_does_a_month_of_a_fund_with_only_the_login(
        lang: str, width: int, run: str, site: Site, open_context: Callable[..., Any], shots: Any,
        invoice: Path) -> None:
    # Names of its own: the package's other tests keep theirs in the same ledger.
    fund = f"SA-XN-00{run}"
    town_name = f"义安区顺安镇人民政府（新）{run}"
    fund_name = "顺安镇乡村振兴冠名慈善基金"
    manager, approver = f"shunan{run}.newcomer", f"shunan{run}.checker"
    town = site.organisation(town_name, "township", fund, fund_name, "township_named")
    site.user(manager, "fund_manager", town.id)
    site.user(approver, "approver", town.id)
    page = open_context(None, "zh", width).new_page()  # a Chinese browser: English is chosen on the page
    checks = PageChecks(page, site.base_url, shots, "newcomer", lang, width)
    # What is the ledger's data, not the page's words: names, funds, people as they were typed.
    grower = f"顺安镇黄桃种植户{run}"
    data = [town_name, fund_name, COMPANY, PAYEE, manager, approver, grower, "黄桃", "斤",
            "顺安镇乡村振兴项目", "资助困难学生学费", invoice.name, "顺安镇捐赠登记.xlsx", "ICBC",
            *(f"{name}{run}" for name in ("顺安农机合作社", "张桂兰", "顺安镇供销社")), "助学", "助困"]
    me = Newcomer(page, checks, lang, width, data)
    w = me.w

    # The site's address leads to the login page; English is chosen there with the switch.
    page.goto(f"{site.base_url}/")
    page.wait_for_url("**/funds/login**")
    if lang == "en":
        page.get_by_role("navigation", name="语言 / Language").get_by_role("link", name="English").click()
        page.wait_for_url("**lang=en**")
    me.check("login")
    me.log_in(manager)
    assert page.url.rstrip("/").endswith("/donations"), page.url
    me.check("overview")

    # 1. A company's donation, amount typed as the form's hint says it may be.
    me.follow(w("Record a donation"), "subnav")
    me.check("donation_form")
    hint = page.locator("main").inner_text()
    assert "50,000.00" in hint, "the form says how to type an amount"
    page.get_by_label(w("Fund code"), exact=True).select_option(value=fund)
    page.get_by_label(w("Amount (yuan)"), exact=True).fill("50,000.00")
    page.get_by_label(w("Donor's name"), exact=True).fill(COMPANY)
    page.get_by_label(w("Kind of donor"), exact=True).select_option(label=w("Company"))
    page.get_by_label(w("Channel"), exact=True).select_option(label=w("Bank transfer"))
    page.get_by_label(w("Purpose of the gift"), exact=True).fill("顺安镇乡村振兴项目")
    me.press(w("Record and issue a receipt"))
    page.wait_for_url("**/donations/receipts/*")
    me.check("receipt")
    receipt = page.locator("main").inner_text()
    assert COMPANY in receipt and "¥50,000.00" in receipt and "人民币伍万元整" in receipt

    # 2. A batch from the township's spreadsheet: the preview's verdicts and total, then recorded.
    me.follow(w("Import a batch"), "subnav")
    me.check("import")
    page.get_by_label(w("Spreadsheet (XLSX or CSV)"), exact=True).set_input_files(files=[{
        "name": "顺安镇捐赠登记.xlsx", "mimeType": XLSX, "buffer": township_spreadsheet(fund, run)}])
    me.press(w("Import"))
    page.wait_for_url(lambda url: url.rstrip("/").split("/")[-1].isdigit())
    me.check("import_preview")
    preview = page.locator("main").inner_text()
    assert "¥15,500.50" in preview, "the preview's total of the rows ready"
    assert page.locator("main tr.total").count() >= 1
    assert site.balance(fund)["balance"] == "50000.00", "the preview records nothing"
    me.press(w("Record the donations"))
    page.wait_for_selector("#results")
    me.check("import_result")
    assert "¥15,500.50" in page.locator("main").inner_text()
    assert site.balance(fund)["balance"] == "65500.50"

    # 3. A gift of produce: 500 jin of yellow peaches at 7 yuan, its total worked out.
    me.follow(w("Record a donation"), "subnav")
    page.get_by_label(w("Fund code"), exact=True).select_option(value=fund)
    page.get_by_label(w("Donor's name"), exact=True).fill(grower)
    page.get_by_label(w("Kind of donor"), exact=True).select_option(label=w("Individual"))
    page.get_by_label(w("Channel"), exact=True).select_option(label=w("Gift in kind"))
    page.get_by_label(w("Goods given"), exact=True).fill("黄桃")
    page.get_by_label(w("Quantity"), exact=True).fill("500")
    page.get_by_label(w("Unit"), exact=True).fill("斤")
    page.get_by_label(w("Unit price (yuan)"), exact=True).fill("7")
    assert "¥3,500.00" in page.locator("#goods").inner_text()
    me.check("gift_in_kind_form")
    me.press(w("Record and issue a receipt"))
    page.wait_for_url("**/donations/receipts/*")
    me.check("gift_in_kind_receipt")
    receipt = page.locator("main").inner_text()
    assert "黄桃" in receipt and "500 斤" in receipt and "¥3,500.00" in receipt

    # 4. A disbursement requested within the cash available shown, its invoice attached.
    me.follow(w("Request a disbursement"), "subnav")
    page.get_by_label(w("Fund code"), exact=True).select_option(value=fund)
    available = page.locator("#available-cash").inner_text()
    assert "¥65,500.50" in available, available  # cash: the goods are not
    me.check("disbursement_form")
    page.get_by_label(w("Amount (yuan)"), exact=True).fill("8,000.00")
    page.get_by_label(w("Payee"), exact=True).fill(PAYEE)
    page.get_by_label(w("Purpose of the disbursement"), exact=True).fill("资助困难学生学费")
    me.press(w("Submit the request"))
    me.check("requested")
    mine = site.api.get(f"/donations/api/v1/disbursements?fund_code={fund}").json["items"]
    assert [(d["amount"], d["status"]) for d in mine] == [("8000.00", "requested")]
    disbursement_id = mine[0]["id"]
    page.locator("main tr", has_text=PAYEE).get_by_role("link", name=w("Attachments")).click()
    page.wait_for_url(f"**/donations/disbursements/{disbursement_id}#attachments")
    me.check("disbursement")
    page.get_by_label(w("Attachment (an invoice, a contract…)"), exact=True).set_input_files(str(invoice))
    me.press(w("Upload"))
    page.wait_for_url(f"**/donations/disbursements/{disbursement_id}")
    me.check("attached")
    assert invoice.name in page.locator("main").inner_text()
    me.log_out()

    # 5. The approver lands on the queue and approves; the fund manager records the payment.
    me.log_in(approver)
    assert page.url.endswith("/donations/disbursements/queue"), page.url
    me.check("queue")
    row = page.locator("main tr", has_text=PAYEE)
    assert "¥8,000.00" in row.inner_text()
    # The invoice read before deciding, then back to the queue.
    row.get_by_role("link", name=w("Attachments")).click()
    page.wait_for_url(f"**/donations/disbursements/{disbursement_id}#attachments")
    assert invoice.name in page.locator("#attachments").inner_text()
    me.check("invoice_seen_by_approver")
    me.follow(w("Approval queue"))
    row = page.locator("main tr", has_text=PAYEE)
    row.get_by_role("button", name=w("Approve"), exact=True).click()
    page.wait_for_load_state()
    me.check("approved")
    assert site.api.get(f"/donations/api/v1/disbursements/{disbursement_id}").json["status"] == "approved"
    me.log_out()

    me.log_in(manager)
    me.follow(w("Disbursements"), "subnav")
    row = page.locator("main tr", has_text=PAYEE)
    row.get_by_label(w("Bank reference")).fill(f"ICBC-2026-SA-000{run}")
    row.get_by_role("button", name=w("Record the payment")).click()
    page.wait_for_load_state()
    me.check("paid")
    assert site.api.get(f"/donations/api/v1/disbursements/{disbursement_id}").json["status"] == "paid"

    # 6. The month's statement, printed: its header and totals against the ledger.
    me.follow(w("Overview"), "subnav")
    page.locator("main tr", has_text=fund).get_by_role("link", name=w("Statement")).first.click()
    page.wait_for_url(f"**/donations/funds/{fund}/statement**")
    me.follow(w("This month"))
    me.check("statement")
    balance = Money.parse(site.balance(fund)["balance"])
    assert balance.display() == "¥61,000.50"

    def shown_fen(cell: str) -> int:
        return Money.parse(page.locator(cell).inner_text().strip().lstrip("¥").replace(",", "")).fen

    # The fund began this month: the period's income less its spending is the ledger's balance.
    assert (shown_fen("#total-income"), shown_fen("#total-spending")) == (6_900_050, 800_000)
    assert shown_fen("#opening-balance") + shown_fen("#total-income") - shown_fen("#total-spending") \
        == shown_fen("#closing-balance") == balance.fen
    page.emulate_media(media="print")
    header = page.locator("#print-header")
    assert header.is_visible() and page.locator("header.site").is_hidden()
    printed = header.inner_text()
    first = today().replace(day=1).isoformat()
    assert town_name in printed and first in printed and today().isoformat() in printed, printed
    assert page.locator("#print-date").inner_text().startswith(today().isoformat())
    checks.shots.take(page, "newcomer", f"{next(me.steps):02d}_statement_printed", lang, width)
    page.pdf(path=str(checks.shots.folder / f"newcomer-statement-{lang}-{width}.pdf"))
    page.emulate_media(media="screen")
    checks.assert_clean()
