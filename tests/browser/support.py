"""What the browser tests share: checking a page with axe-core, keeping its screenshot.

axe-core is vendored in tests/browser/vendor (see its README): it runs inside the
page, so it sees what a user's browser sees (styles, contrast, the accessibility
tree). A page passes with no violation of serious or critical impact.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page

from services.reports import tasks
from shared.dates import today
from tests.conftest import ApiClient, Factory
from tests.helpers import assert_ok

VENDOR = Path(__file__).parent / "vendor"
AXE = VENDOR / "axe.min.js"
# The widths the pages are checked at: an office screen and a phone.
WIDTHS = (1280, 390)
LANGUAGES = ("zh", "en")
BLOCKING = ("serious", "critical")
NAME = re.compile(r"[^A-Za-z0-9_.-]+")
PASSWORD = "a-long-enough-password"
DONATIONS = "/donations/api/v1"
# An organisation's two keys: a clerk's who records and requests, an approver's who approves.
CLERK_SCOPES = ["funds:read", "donations:read", "donations:write"]
APPROVER_SCOPES = ["donations:read", "disbursements:approve"]
# The chamber's micro project (build_programmes).
PROJECT = "ZJ-XM-2026-001"


def screenshots_dir(default: Path) -> Path:
    """SCREENSHOTS_DIR if set (make screenshots), else the test run's own folder."""
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or default)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Shots:
    """Where screenshots go, named <flow>-<step>-<lang>-<width>.png."""

    folder: Path

    def take(self, page: Page, flow: str, step: str, lang: str, width: int) -> Path:
        name = "-".join(NAME.sub("_", part) for part in (flow, step, lang, str(width))) + ".png"
        path = self.folder / name
        page.screenshot(path=str(path), full_page=True)
        return path


def install_axe(context: BrowserContext) -> None:
    """axe-core in every page the context opens, before the page's own scripts.

    As an init script (the DevTools protocol's), not a <script> tag: the pages' Content-Security-Policy
    allows scripts from the site only, and stays enforced while the pages are checked.
    """
    context.add_init_script(path=str(AXE))


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now."""
    assert page.evaluate("() => typeof window.axe === 'object'"), "axe-core is not in the page (install_axe)"
    return page.evaluate(  # type: ignore[no-any-return]
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary,
                                         html: n.html.slice(0, 200)}))}));
        }""")


def blocking(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v["impact"] in BLOCKING]


def describe(violations: list[dict[str, Any]]) -> str:
    """Violations as a person reads them: rule, impact, where, why."""
    lines = []
    for violation in violations:
        lines.append(f"  [{violation['impact']}] {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:6]:
            lines.append(f"      at {node['target']}: {node['html']}")
            for reason in (node["summary"] or "").splitlines()[1:3]:
                lines.append(f"         {reason.strip()}")
        if len(violation["nodes"]) > 6:
            lines.append(f"      ... and {len(violation['nodes']) - 6} more")
    return "\n".join(lines)


def no_horizontal_scroll(page: Page) -> bool:
    """The page itself never scrolls sideways: wide content scrolls within its own box."""
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"))


class PageChecks:
    """Visits pages, checks each, keeps a screenshot; collects every failure to report them together."""

    def __init__(self, page: Page, base_url: str, shots: Shots, flow: str, lang: str, width: int) -> None:
        self.page, self.base_url, self.shots = page, base_url, shots
        self.flow, self.lang, self.width = flow, lang, width
        self.failures: list[str] = []

    def visit(self, step: str, path: str, status: int = 200, expect_text: str | None = None) -> None:
        response = self.page.goto(self.base_url + path)
        where = f"{step} ({path}, {self.lang}, {self.width} px)"
        if response is None or response.status != status:
            self.failures.append(f"{where}: status {response.status if response else None}, wanted {status}")
            return
        self.check(step, where, expect_text)

    def check(self, step: str, where: str | None = None, expect_text: str | None = None) -> None:
        where = where or f"{step} ({self.page.url}, {self.lang}, {self.width} px)"
        self.shots.take(self.page, self.flow, step, self.lang, self.width)
        html_lang = self.page.evaluate("() => document.documentElement.lang")
        if html_lang != ("en" if self.lang == "en" else "zh-CN"):
            self.failures.append(f"{where}: <html lang={html_lang!r}>")
        if expect_text is not None and expect_text not in self.page.inner_text("body"):
            self.failures.append(f"{where}: {expect_text!r} not shown")
        if not no_horizontal_scroll(self.page):
            width = self.page.evaluate("() => document.documentElement.scrollWidth")
            self.failures.append(f"{where}: the page scrolls sideways ({width} px wide)")
        found = blocking(axe_violations(self.page))
        if found:
            self.failures.append(f"{where}: axe found\n{describe(found)}")

    def assert_clean(self) -> None:
        assert not self.failures, "\n".join(self.failures)


# -- the site and its ledger ---------------------------------------------------------------

@dataclass
class Organisation:
    id: int
    name: str
    fund: str
    clerk: ApiClient
    approver: ApiClient


@dataclass
class Site:
    base_url: str
    gateway: Any
    api: ApiClient
    make: Factory
    township: Organisation | None = None
    chamber: Organisation | None = None
    ids: dict[str, int] = field(default_factory=dict)
    logins: dict[str, Any] = field(default_factory=dict)

    def organisation(self, name: str, kind: str, fund_code: str, fund_name: str, fund_kind: str) -> Organisation:
        """An organisation with a fund, a clerk's key and an approver's key."""
        made = self.make.organization(name, kind=kind)
        self.make.fund(made["id"], fund_code, name=fund_name, kind=fund_kind)
        return Organisation(made["id"], name, fund_code,
                            self.api.with_key(self.make.api_key(made["id"], CLERK_SCOPES, "出纳")),
                            self.api.with_key(self.make.api_key(made["id"], APPROVER_SCOPES, "审批")))

    def user(self, username: str, role: str, organisation_id: int) -> None:
        self.make.user(self.gateway, username, PASSWORD, role, organisation_id)

    def donate(self, org: Organisation, amount: str, donor: str, kind: str = "enterprise",
               channel: str = "bank", **fields: Any) -> dict[str, Any]:
        body = {"fund_code": org.fund, "amount": amount, "currency": "CNY",
                "donor": {"name": donor, "kind": kind, "anonymous": False},
                "received_on": today().isoformat(), "channel": channel, "purpose": "助学助困", **fields}
        return assert_ok(org.clerk.post(f"{DONATIONS}/donations", json=body), 201)  # type: ignore[no-any-return]

    def request(self, org: Organisation, amount: str, payee: str) -> dict[str, Any]:
        body = {"fund_code": org.fund, "amount": amount, "payee": payee, "purpose": "资助困难学生学费"}
        return assert_ok(org.clerk.post(f"{DONATIONS}/disbursements", json=body), 201)  # type: ignore[no-any-return]

    def approve(self, org: Organisation, disbursement: dict[str, Any]) -> None:
        assert_ok(org.approver.post(f"{DONATIONS}/disbursements/{disbursement['id']}/approve"))

    def pay(self, org: Organisation, disbursement: dict[str, Any]) -> None:
        assert_ok(org.clerk.post(f"{DONATIONS}/disbursements/{disbursement['id']}/pay",
                                 json={"paid_on": today().isoformat(), "bank_reference": f"ICBC-{disbursement['id']}"}))

    def balance(self, fund: str) -> dict[str, Any]:
        return assert_ok(self.api.get(f"{DONATIONS}/funds/{fund}/balance"))  # type: ignore[no-any-return]


def build_ledger(site: Site) -> None:
    federation = site.make.organization("铜陵市慈善总会", kind="federation")
    town = site.township = site.organisation("义安区钟鸣镇人民政府", "township", "ZM-XC-001",
                                             "钟鸣镇乡村振兴冠名慈善基金", "township_named")
    chamber = site.chamber = site.organisation("铜陵市浙江商会", "chamber_of_commerce", "ZJ-SH-001",
                                               "铜陵市浙江商会冠名慈善基金", "chamber_named")
    site.user("zhen.manager", "fund_manager", town.id)
    site.user("shanghui.manager", "fund_manager", chamber.id)
    site.user("shanghui.approver", "approver", chamber.id)
    site.user("zonghui.auditor", "auditor", federation["id"])

    site.ids["town_donation"] = site.donate(town, "50000.00", "铜陵钟鸣建材有限公司")["id"]
    site.donate(town, "1280.50", "王秀英", kind="individual")
    paid = site.request(town, "8000.00", "钟鸣镇中心小学")
    site.approve(town, paid)
    site.pay(town, paid)
    site.ids["town_requested"] = site.request(town, "2000.00", "钟鸣镇敬老院")["id"]

    site.ids["chamber_donation"] = site.donate(chamber, "200000.00", "浙江某某集团铜陵分公司")["id"]
    site.ids["chamber_requested"] = site.request(chamber, "15000.00", "铜陵市第一中学")["id"]
    approved = site.request(chamber, "5000.00", "义安区人民医院")
    site.approve(chamber, approved)
    site.ids["chamber_approved"] = approved["id"]

    # The needs list: a village's needs, one of them partly claimed by the chamber (the bureau claims for it).
    programmes = "/programmes/api/v1"
    village = assert_ok(site.api.post(f"{programmes}/villages", {"name": "红旗村", "township": "义安区钟鸣镇"}), 201)
    site.ids["village"] = village["id"]
    need = assert_ok(site.api.post(f"{programmes}/needs", {
        "village_id": village["id"], "title": "主干道路灯 10 盏", "category": "lighting", "amount": "35000.00",
        "due_on": "2027-03-31", "priority": "high", "description": "村口至村委会约 1.2 公里，夜间无照明。"}), 201)
    site.ids["need"] = need["id"]
    assert_ok(site.api.post(f"{programmes}/needs", {
        "village_id": village["id"], "title": "留守老人助餐点厨具", "category": "elderly_care", "amount": "8600.00",
        "due_on": "2026-12-31", "priority": "normal"}), 201)
    site.ids["claim"] = assert_ok(site.api.post(f"{programmes}/needs/{need['id']}/claims", {
        "amount": "12000.00", "organization_id": chamber.id}), 201)["id"]

    build_programmes(site)

    report = assert_ok(site.api.post("/reports/api/v1/reports",
                                     {"period": today().strftime("%Y-%m"), "fund_code": town.fund}), 202)
    site.ids["town_report"] = report["id"]
    app = site.gateway.apps["reports"]
    with app.app_context():
        assert tasks.build_and_deliver(app, report["id"]) == "done"


def build_programmes(site: Site) -> None:
    """The chamber's programmes: a project approved with a milestone accepted and paid from its line,
    an assistance team with an activity, a drive with a purchase of each kind."""
    programmes, chamber = "/programmes/api/v1", site.chamber
    assert chamber is not None
    writer = site.api.with_key(site.make.api_key(chamber.id, [*CLERK_SCOPES, "programmes:read", "programmes:write"],
                                                 "项目专员"))
    approver = site.api.with_key(site.make.api_key(chamber.id, [*APPROVER_SCOPES, "programmes:read"], "项目审批"))
    village = site.ids["village"]
    team = assert_ok(writer.post(f"{programmes}/teams", json={
        "name": "浙商红旗村 1+N 帮扶团", "village_ids": [village],
        "members": [{"organization_id": chamber.id, "role": "lead"}]}), 201)
    site.ids["team"] = team["id"]
    assert_ok(writer.post(f"{programmes}/teams/{team['id']}/activities", json={
        "on": today().isoformat(), "village_id": village, "kind": "visit", "people_helped": 12,
        "volunteers": [{"name": "陈志强", "hours": "2.5"}, {"name": "李晓梅", "hours": "3"}]}), 201)

    code = PROJECT
    assert_ok(writer.post(f"{programmes}/projects", json={
        "code": code, "name": "红旗村主干道路灯安装", "fund_code": chamber.fund, "village_id": village,
        "team_id": team["id"], "starts_on": today().isoformat(),
        "ends_on": (today() + timedelta(days=300)).isoformat(),
        "lines": [{"name": "路灯设备", "amount": "24000.00"}, {"name": "安装施工", "amount": "11000.00"}],
        "milestones": [{"name": "路灯到货", "due_on": (today() + timedelta(days=30)).isoformat(),
                        "instalment": "20000.00"},
                       {"name": "安装完成并验收", "due_on": (today() + timedelta(days=120)).isoformat(),
                        "instalment": "15000.00"}]}), 201)
    assert_ok(approver.post(f"{programmes}/projects/{code}/approve"))
    assert_ok(writer.post(f"{programmes}/projects/{code}/milestones/1/report", json={"report": "10 盏路灯已到货"}))
    assert_ok(approver.post(f"{programmes}/projects/{code}/milestones/1/accept"))
    paid = assert_ok(writer.post(f"{DONATIONS}/disbursements", json={
        "fund_code": chamber.fund, "amount": "12345.60", "payee": "铜陵某照明工程公司", "purpose": "路灯设备首期款",
        "project_code": code, "budget_line": "路灯设备"}), 201)
    assert_ok(approver.post(f"{DONATIONS}/disbursements/{paid['id']}/approve"))
    assert_ok(writer.post(f"{DONATIONS}/disbursements/{paid['id']}/pay",
                          json={"paid_on": today().isoformat(), "bank_reference": f"ICBC-{paid['id']}"}))

    drive = assert_ok(writer.post(f"{programmes}/drives", json={
        "name": "红旗村黄桃消费帮扶", "village_id": village, "product": "黄桃", "unit": "筐",
        "unit_price": "50.00", "quantity": "1000"}), 201)
    site.ids["drive"] = drive["id"]
    for quantity, amount, kind, related in (("120", "6000.00", "market", False), ("40", "2000.00", "given_on", False),
                                            ("20", "1300.00", "premium", True)):
        assert_ok(writer.post(f"{programmes}/drives/{drive['id']}/purchases", json={
            "quantity": quantity, "amount": amount, "kind": kind, "related_party": related,
            "fund_code": chamber.fund}), 201)
