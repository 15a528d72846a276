"""Every page speaks Chinese first and is complete in English.

Every word a page shows comes from the catalogue (shared/translations): the
templates say {{ _("...") }}, the forms' labels and the flash messages are
lazy or translated per request. `page_messages()` finds those msgids in the
services' templates, web.py and forms.py (and the shared forms' and roles'
labels); each must have its Chinese and its English words.

Then the pages themselves are crawled, as each role, by following the links a
user can follow: in English (`?lang=`, then kept by the cookie) no Chinese
character is left outside what the test's users typed (their data is ASCII
here) and what is Chinese on purpose, marked lang="zh-CN" (the amount in
Chinese capitals on a receipt, a report's Chinese text, the language switch);
in Chinese, no English label is left.
"""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from services.funds.commands import BOOTSTRAP_ORGANIZATION
from services.reports import tasks
from shared import i18n
from tests.conftest import Browser, Factory, csrf_token

ROOT = Path(__file__).resolve().parent.parent
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
PASSWORD = "a-long-enough-password"
FUND = "RS-EN-001"
# Calls whose first argument is a msgid, in Python; `_("...")` in a template.
PYTHON_CALLS = {"translate", "_l", "lazy_gettext", "N_", "gettext", "_"}
TEMPLATE_CALL = re.compile(r"""\b_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")
PLACEHOLDER = re.compile(r"%\(\w+\)s|%%")
# What the bootstrap made, in Chinese: data, not words of the pages.
KNOWN_DATA = (BOOTSTRAP_ORGANIZATION, "系统管理员")


def _strings(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    return []


# Refusals' messages are held to their own rules (tests/test_refusals.py): `%(field)s` is theirs.
REFUSALS = ROOT / "shared" / "refusals.py"


def page_messages() -> set[str]:
    """Every msgid the pages use: in the services' and shared templates, and in every module of
    services/ and shared/ that calls a translating function (not the migrations nor the refusals)."""
    found: set[str] = set()
    for path in sorted([*ROOT.glob("services/*/templates/**/*.html"), *ROOT.glob("shared/templates/**/*.html")]):
        found |= {m.group(1) if m.group(1) is not None else m.group(2)
                  for m in TEMPLATE_CALL.finditer(path.read_text(encoding="utf-8"))}
    sources = [path for path in sorted([*ROOT.glob("services/**/*.py"), *ROOT.glob("shared/**/*.py")])
               if "migrations" not in path.parts and path != REFUSALS]
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) \
                    else None
                if name in PYTHON_CALLS:
                    found.update(_strings(node.args[0]))
    return found


class VisibleText(HTMLParser):
    """A page's text as a reader meets it, and its placeholders and labels for screen readers;
    without what is marked as Chinese on purpose (lang="zh..."), and only within `within`."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
    ATTRIBUTES = ("placeholder", "aria-label", "alt", "title")

    def __init__(self, within: str = "main") -> None:
        super().__init__()
        self.within = within
        self.inside = 0  # depth within `within`
        self.skipped = 0  # depth within a skipped element
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        void = tag in self.VOID
        if self.skipped:
            self.skipped += 0 if void else 1
            return
        if not self.inside:
            if tag == self.within and not void:
                self.inside = 1
            return
        if (named.get("lang") or "").startswith("zh") or tag in ("script", "style"):
            self.skipped = 0 if void else 1
            return
        self.parts.extend(value for name, value in attrs if name in self.ATTRIBUTES and value)
        if not void:
            self.inside += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if self.skipped:
            self.skipped -= 1
        elif self.inside:
            self.inside -= 1

    def handle_data(self, data: str) -> None:
        if self.inside and not self.skipped:
            self.parts.append(data)

    @classmethod
    def of(cls, html: str, within: str = "main") -> str:
        parser = cls(within)
        parser.feed(html)
        return " ".join(" ".join(parser.parts).split())


LINK = re.compile(r'<a\b[^>]*\bhref="([^"#]+)"')
NOT_PAGES = ("/logout", "/files/", ".csv", ".xlsx", ".pdf", "/api/", "javascript:")


def crawl(browser: Browser, starts: list[str], limit: int = 80) -> dict[str, str]:
    """Every page reachable by following the site's links from `starts`: path -> its HTML."""
    pages: dict[str, str] = {}
    queue = list(starts)
    while queue and len(pages) < limit:
        path = queue.pop(0).replace("&amp;", "&")
        parts = urlsplit(path)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if path in pages or parts.netloc or any(bit in path for bit in NOT_PAGES) or "lang=" in path \
                or not path.startswith(("/funds", "/donations", "/reports")):
            continue
        response = browser.get(path)
        assert response.status_code == 200, (path, response.status_code)
        html = response.get_data(as_text=True)
        pages[path] = html
        queue.extend(LINK.findall(html))
    return pages


def han_outside_data(text: str) -> list[str]:
    for data in KNOWN_DATA:
        text = text.replace(data, "")
    return [match.group(0) for match in re.finditer(r"\S*[\u3400-\u4dbf\u4e00-\u9fff]+\S*", text)]


# -- the catalogue ------------------------------------------------------------------

def test_the_pages_find_their_words_in_the_catalogue() -> None:
    messages = page_messages()
    assert len(messages) > 200  # the extraction found the pages' words
    assert {"Record a donation", "Total", "Fund code", "Individual", "Administrator", "All"} <= messages
    chinese, english = i18n.catalogue("zh"), i18n.catalogue("en")
    held = {m for m in chinese._catalog if m}  # type: ignore[attr-defined]
    for message in sorted(messages):
        assert message in held, f"not in the Chinese catalogue: {message!r}"
        words = PLACEHOLDER.sub("", message)
        if re.search(r"[A-Za-z]{2,}", words):
            assert HAN.search(chinese.gettext(message)), f"no Chinese for {message!r}"
        assert english.gettext(message) == message, message
        # Every placeholder survives the translation.
        assert sorted(PLACEHOLDER.findall(chinese.gettext(message))) == sorted(PLACEHOLDER.findall(message)), message


# -- the pages, crawled ------------------------------------------------------------

@pytest.fixture
def ledger(gateway: Any, make: Factory) -> dict[str, Any]:
    """An organisation and its people, a fund, donations, disbursements and a report, all named in ASCII."""
    org = make.organization("Riverside Chamber of Commerce")
    make.fund(org["id"], FUND, name="Riverside Scholarship Fund", purpose="Scholarships for pupils")
    donor = {"name": "Acme Trading Ltd", "kind": "enterprise", "anonymous": False}
    donation = make.donation(FUND, "50000.00", donor=donor, purpose="Scholarships", reference="BANK-1")
    make.donation(FUND, "20.00", donor={"name": "Someone", "kind": "individual", "anonymous": True},
                  channel="wechat", purpose="Books")
    for role in ("fund_manager", "approver", "auditor"):
        make.user(gateway, role, PASSWORD, role, org["id"])

    manager = Browser(gateway)
    manager.login("fund_manager", PASSWORD)
    for payee, amount in (("Riverside Primary School", "300.00"), ("Hillside Library", "120.50")):
        requested = manager.submit("/donations/disbursements/new", {
            "fund_code": FUND, "amount": amount, "payee": payee, "purpose": "Books", "project": "Reading",
            "category": "programme", "submission_id": payee})
        assert requested.status_code == 302, requested.get_data(as_text=True)
    approver = Browser(gateway)
    approver.login("approver", PASSWORD)
    queue = approver.get("/donations/disbursements/queue").get_data(as_text=True)
    first = min(int(n) for n in re.findall(r'id="disbursement-(\d+)"', queue))
    approved = approver.http.post(f"/donations/disbursements/{first}/approve",
                                  data={"csrf_token": csrf_token(queue)}, headers={"Accept": "text/html"})
    assert approved.status_code == 302, approved.get_data(as_text=True)

    auditor = Browser(gateway)
    auditor.login("auditor", PASSWORD)
    asked = auditor.submit("/reports/", {"period": "2026-Q3", "fund_code": FUND, "organization_id": "",
                                         "submission_id": "report-1"})
    assert asked.status_code == 302, asked.get_data(as_text=True)
    report_id = int(asked.headers["Location"].rsplit("/", 1)[1])
    app = gateway.apps["reports"]
    with app.app_context():
        assert tasks.build_and_deliver(app, report_id) == "done"
    return {"org": org, "donation": donation, "report_id": report_id,
            "browsers": {"fund_manager": manager, "approver": approver, "auditor": auditor}}


def starts(ledger: dict[str, Any]) -> list[str]:
    return ["/funds/", "/donations/", "/reports/", f"/donations/receipts/{ledger['donation']['id']}",
            f"/donations/funds/{FUND}/statement", f"/reports/reports/{ledger['report_id']}",
            "/reports/subscriptions", "/reports/exports"]


def as_each_role(ledger: dict[str, Any], admin: Browser) -> dict[str, Browser]:
    return {**ledger["browsers"], "admin": admin}


def test_every_page_each_role_reaches_is_complete_in_english(ledger: dict[str, Any], admin: Browser,
                                                             gateway: Any) -> None:
    login = Browser(gateway).get("/funds/login?lang=en")
    assert login.status_code == 200 and not han_outside_data(VisibleText.of(login.get_data(as_text=True)))

    crawled = 0
    for role, user in as_each_role(ledger, admin).items():
        chosen = user.get("/funds/?lang=en")  # chosen once; the cookie keeps it
        assert chosen.status_code == 200
        pages = crawl(user, starts(ledger) if role != "approver" else
                      [*starts(ledger), "/donations/disbursements/queue"])
        assert len(pages) >= 10, (role, sorted(pages))
        for path, html in pages.items():
            assert '<html lang="en"' in html, (role, path)
            shown = VisibleText.of(html)
            assert shown, (role, path)
            assert not han_outside_data(shown), (role, path, han_outside_data(shown))
            assert "UTC" not in shown, (role, path)  # times are Beijing time
        crawled += len(pages)
    assert crawled >= 50

    # What is Chinese on purpose is marked so, and says so in English around it.
    receipt = ledger["browsers"]["auditor"].get(f"/donations/receipts/{ledger['donation']['id']}")
    html = receipt.get_data(as_text=True)
    assert re.search(r'lang="zh-CN" id="amount-in-words">人民币伍万元整<', html)
    assert "Amount in words" in VisibleText.of(html) and "Acme Trading Ltd" in html


# English words the pages must not show in Chinese (none is in the test's own data).
ENGLISH_LABELS = ("Total", "Amount", "Status", "Cancel", "Search", "Balance", "Receipt number", "Fund code",
                  "Disbursements", "Approve", "Reject", "Statement", "Opening balance", "Donor", "Payee", "Save",
                  "Filter", "Organisation", "Period", "Print", "Recorded", "All", "Fund manager", "Individual")


def test_every_page_each_role_reaches_is_chinese_by_default(ledger: dict[str, Any], admin: Browser) -> None:
    for role, user in as_each_role(ledger, admin).items():
        pages = crawl(user, starts(ledger))
        assert len(pages) >= 10, (role, sorted(pages))
        for path, html in pages.items():
            assert '<html lang="zh-CN"' in html, (role, path)
            shown = VisibleText.of(html)
            assert HAN.search(shown), (role, path)
            left = [word for word in ENGLISH_LABELS if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", shown)]
            assert not left, (role, path, left)
            assert "UTC" not in shown, (role, path)
        # Chosen English, then Chinese again: the cookie keeps the latest choice.
        assert '<html lang="en"' in user.get("/donations/?lang=en").get_data(as_text=True)
        assert '<html lang="en"' in user.get("/donations/search").get_data(as_text=True)
        assert '<html lang="zh-CN"' in user.get("/donations/?lang=zh").get_data(as_text=True)
        assert '<html lang="zh-CN"' in user.get("/donations/search").get_data(as_text=True)


def test_flash_messages_and_form_labels_follow_the_language(ledger: dict[str, Any]) -> None:
    manager = ledger["browsers"]["fund_manager"]
    form = manager.get("/donations/new?lang=en").get_data(as_text=True)
    assert ">Kind of donor<" in form and ">Company<" in form and ">Gift in kind<" in form
    recorded = manager.submit("/donations/new", {
        "fund_code": FUND, "amount": "10.00", "currency": "CNY", "donor_name": "Bob", "donor_kind": "individual",
        "received_on": "2026-08-03", "channel": "cash", "purpose": "", "reference": "", "submission_id": "en-1"},
        follow_redirects=True)
    shown = VisibleText.of(recorded.get_data(as_text=True))
    assert "Donation recorded: receipt" in shown and not han_outside_data(shown)

    chinese = manager.get("/donations/new?lang=zh").get_data(as_text=True)
    assert ">捐赠人类型<" in chinese and ">企业<" in chinese and ">实物捐赠<" in chinese
    again = manager.submit("/donations/new", {
        "fund_code": FUND, "amount": "11.00", "currency": "CNY", "donor_name": "Bob", "donor_kind": "individual",
        "received_on": "2026-08-03", "channel": "cash", "purpose": "", "reference": "", "submission_id": "zh-1"},
        follow_redirects=True)
    assert "捐赠已登记，收据编号" in VisibleText.of(again.get_data(as_text=True))
