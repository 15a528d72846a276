"""A disbursement as a process, through the pages only, in Chromium.

A township's fund manager requests a disbursement, attaches the payee's
invoice (a real PDF) and sees it listed with its SHA-256, then withdraws the
request, and its timeline says so; a file over the limit is refused with words
that say why. They request another, which the township's approver approves:
from then on the requester is no longer offered to withdraw it. Each screen
passes axe-core at the width and in the language of the run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from services.donations.rules import ATTACHMENT_MAX_BYTES
from shared import i18n
from tests.browser.support import PASSWORD, PageChecks, Site

DONATIONS = "/donations/api/v1"
LOGIN_WORDS = {"zh": ("用户名", "密码", "登录"), "en": ("Username", "Password", "Log in")}


@pytest.fixture(scope="module")
def invoice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The payee's invoice: a one-page PDF as WeasyPrint writes it."""
    from weasyprint import HTML

    path = tmp_path_factory.mktemp("invoice") / "发票-敬老院.pdf"
    path.write_bytes(HTML(string="""<html><body style='font-family: "Noto Sans CJK SC", sans-serif'>
        <h1>增值税普通发票</h1><p>购买方：钟鸣镇敬老院　金额：¥600.00</p></body></html>""").write_pdf())
    return path


@pytest.fixture(scope="module")
def too_big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scan one byte over the attachments' limit."""
    path = tmp_path_factory.mktemp("scan") / "scan.pdf"
    with path.open("wb") as handle:
        handle.write(b"%PDF-1.4\n")
        handle.truncate(ATTACHMENT_MAX_BYTES + 1)
    return path


def shown(status: str, lang: str) -> str:
    """A status as a page shows it standing alone: its label, with a capital in English."""
    label = i18n.label(status, lang)
    return label[:1].upper() + label[1:]


def log_in(page: Page, base_url: str, username: str, lang: str) -> None:
    user, secret, button = LOGIN_WORDS[lang]
    page.goto(f"{base_url}/funds/login")
    page.get_by_label(user).fill(username)
    page.get_by_label(secret).fill(PASSWORD)
    page.get_by_role("button", name=button).click()
    page.wait_for_url(lambda url: "/login" not in url)


def request_disbursement(page: Page, site: Site, amount: str, payee: str) -> int:
    page.goto(f"{site.base_url}/donations/disbursements/new")
    page.locator("#fund_code").select_option(value=site.township.fund)  # type: ignore[union-attr]
    page.locator("#amount").fill(amount)
    page.locator("#payee").fill(payee)
    page.locator("#purpose").fill("冬季取暖补助")
    page.locator("main form.card button[type=submit]").first.click()
    page.wait_for_url("**/donations/disbursements/")
    mine = [d for d in site.api.get(f"{DONATIONS}/disbursements?fund_code={site.township.fund}&limit=200")  # type: ignore[union-attr]
            .json["items"] if d["payee"] == payee]
    assert [d["status"] for d in mine] == ["requested"], mine
    return int(mine[0]["id"])


@pytest.mark.parametrize(("lang", "width"), [("zh", 1280), ("en", 390)])
def test_a_requester_attaches_an_invoice_and_withdraws_and_cannot_withdraw_once_approved(
        lang: str, width: int, site: Site, open_context: Callable[..., Any], shots: Any,
        invoice: Path, too_big: Path) -> None:
    town = site.township
    assert town is not None
    requester, approver = f"process.clerk.{lang}{width}", f"process.approver.{lang}{width}"
    site.user(requester, "fund_manager", town.id)
    site.user(approver, "approver", town.id)
    page = open_context(None, lang, width).new_page()
    checks = PageChecks(page, site.base_url, shots, "process", lang, width)
    log_in(page, site.base_url, requester, lang)

    # Requested, then its own page.
    first = request_disbursement(page, site, "600.00", f"钟鸣镇敬老院（{lang} {width}）")
    page.goto(f"{site.base_url}/donations/disbursements/{first}")
    checks.check("01_requested")
    assert page.locator("#status").inner_text().strip() == shown("requested", lang)

    # The invoice attached, listed with its SHA-256.
    page.locator("#attach-form input[type=file]").set_input_files(str(invoice))
    page.locator("#attach-form button[type=submit]").click()
    page.wait_for_url(f"**/donations/disbursements/{first}")
    checks.check("02_attached")
    digest = hashlib.sha256(invoice.read_bytes()).hexdigest()
    row = page.locator("#attachments tbody tr").first
    assert invoice.name in row.inner_text() and digest in row.inner_text()
    listed = site.api.get(f"{DONATIONS}/disbursements/{first}/attachments").json["items"]
    assert [(a["filename"], a["sha256"]) for a in listed] == [(invoice.name, digest)]

    # A file over the limit: refused, saying why; nothing attached.
    page.locator("#attach-form input[type=file]").set_input_files(str(too_big))
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.locator("#attach-form button[type=submit]").click()
    page.wait_for_load_state()
    assert answer.value.status == 422
    checks.check("03_too_big")
    said = i18n.render("attachment_too_large", {"max": ATTACHMENT_MAX_BYTES // (1024 * 1024)}, lang)
    assert said in page.locator("#attach-form").inner_text()
    assert page.locator("#file").get_attribute("aria-invalid") == "true"
    assert len(site.api.get(f"{DONATIONS}/disbursements/{first}/attachments").json["items"]) == 1

    # Withdrawn by its requester, with a reason: the timeline says who, when and why.
    page.goto(f"{site.base_url}/donations/disbursements/{first}")
    page.locator("#withdraw-form textarea").fill("敬老院已另获补助")
    page.locator("#withdraw-form button[type=submit]").click()
    page.wait_for_url(f"**/donations/disbursements/{first}")
    checks.check("04_withdrawn")
    assert site.api.get(f"{DONATIONS}/disbursements/{first}").json["status"] == "withdrawn"
    assert page.locator("#status").inner_text().strip() == shown("withdrawn", lang)
    steps = page.locator("#timeline li")
    assert steps.count() == 2
    last = steps.nth(1).inner_text()
    assert shown("withdrawn", lang) in last and "敬老院已另获补助" in last
    assert page.locator("#withdraw-form").count() == 0 and page.locator("#attach-form").count() == 0

    # Another request, approved by the approver: its requester may no longer withdraw it.
    second = request_disbursement(page, site, "500.00", f"钟鸣镇卫生院（{lang} {width}）")
    page.goto(f"{site.base_url}/donations/disbursements/{second}")
    assert page.locator("#withdraw-form").count() == 1
    approving = open_context(None, lang, width).new_page()
    log_in(approving, site.base_url, approver, lang)
    approving.goto(f"{site.base_url}/donations/disbursements/queue")
    approving.locator(f"#disbursement-{second} form[action$='/approve'] button[type=submit]").click()
    approving.wait_for_load_state()
    assert site.api.get(f"{DONATIONS}/disbursements/{second}").json["status"] == "approved"

    page.goto(f"{site.base_url}/donations/disbursements/{second}")
    checks.check("05_approved")
    assert page.locator("#status").inner_text().strip() == shown("approved", lang)
    assert page.locator("#withdraw-form").count() == 0
    assert [shown(s, lang) for s in ("requested", "approved")] == [
        step.split("·")[0].strip() for step in page.locator("#timeline li").all_inner_texts()]
    checks.assert_clean()
