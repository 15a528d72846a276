"""`make bench` (fourth part): how fast the fund managers' pages answer on a fund of a year's entries.

    .venv/bin/python bench/pages.py                          # BENCH_SUITES=pages make bench
    BENCH_PAGES_DONATIONS=2000 .venv/bin/python bench/pages.py   # a quick try

On a fresh database (charity_pages_bench, dropped and recreated) behind the gateway under
gunicorn, as `make run` serves it (bench/run.py's helpers):

  1. setup     through the API: an organisation with one fund of BENCH_PAGES_DONATIONS (20,000)
               donations (one CSV batch, dated over the last year, one in twelve in kind with its
               goods) and ~500 disbursements (requested, approved, paid); a second organisation
               with a fund of its own (what the first must not see). A fund manager of the first
               organisation is created by the admin through the users page; both log in through
               the login page (CSRF) with a cookie-keeping client.
  2. pages     each page, after a warm-up, BENCH_PAGES_REQUESTS (50) times one after the other
               on one keep-alive connection: p50/p95/max and the response's size. Exports (XLSX,
               PDF) fewer times (BENCH_PAGES_EXPORT_REQUESTS, 5).
  3. import    a 5,000-row XLSX uploaded BENCH_PAGES_IMPORT_RUNS (3) times: upload -> preview;
               the last one confirmed and recorded chunk by chunk until done.
  4. checks    the fund manager sees none of the other organisation's fund (not timed).

Results go to bench/results/pages-<timestamp>.json and bench/results/pages-latest.md.
Everything it starts is stopped on exit, Ctrl-C or failure. It talks to 127.0.0.1 only.
See bench/README.md for the environment variables.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
import platform
import random
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
for _path in (str(REPO_ROOT), str(BENCH_DIR)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import httpx  # noqa: E402

import run as lb  # noqa: E402  bench/run.py: gunicorn, databases, CPU accounting, percentiles

RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_DATABASE_URL = f"postgresql+psycopg://postgres@{lb.LOOPBACK}:5432/charity_pages_bench"
API = "/donations/api/v1"
FUND = "PAGES-MAIN"
NOISE_FUND = "PAGES-NOISE"
MANAGER = "pages-manager"
# Clients drop an idle connection before gunicorn does (its keep-alive is 2 s), as in soak.py.
CLIENT_LIMITS = httpx.Limits(keepalive_expiry=1.0)
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HTML = "text/html"
PDF = "application/pdf"

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英",
         "华", "平", "刚", "桂英", "建国", "志强")
TOWNS = ("铜官", "义安", "郊区", "枞阳", "狮子山", "顺安", "钟鸣", "大通")
TRADES = ("建材", "化工", "电子", "物流", "铜业", "食品", "纺织", "置业")
SEARCHED = "铜业"   # the donor filter measured: one trade in eight, enterprises only
GOODS = (("大米", "斤", 350), ("食用油", "桶", 8990), ("棉被", "床", 15000), ("书包", "个", 4500),
         ("口罩", "箱", 12000))
PAYEES = ("铜陵市义安区顺安镇新民村委会", "铜陵市郊区大通镇和平村委会", "铜陵市第三中学", "枞阳县钱铺乡敬老院",
          "铜陵市铜官区幸福社区居委会", "铜陵市特殊教育学校")
CHANNELS = ("bank", "wechat", "alipay", "cash")


def log(message: str) -> None:
    print(f"[pages {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Unexpected(Exception):
    """An answer the run did not expect: the measurement fails (and the run)."""


# -- configuration ----------------------------------------------------------------------------

@dataclass
class Config:
    database_url: str
    donations: int
    disbursements: int
    noise_donations: int
    import_rows: int
    import_runs: int
    requests: int
    export_requests: int
    warmup: int
    workers: int
    threads: int
    quiet_wait: int
    port: int
    keep_db: bool
    # The server's SECRET_KEY; the migrations derive the services' role passwords from it.
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @classmethod
    def from_env(cls) -> Config:
        cpus = os.cpu_count() or 1
        donations = lb._int("BENCH_PAGES_DONATIONS", 20_000, minimum=200)
        config = cls(
            database_url=os.environ.get("BENCH_PAGES_DATABASE_URL") or DEFAULT_DATABASE_URL,
            donations=donations,
            disbursements=lb._int("BENCH_PAGES_DISBURSEMENTS", max(10, donations // 40), minimum=0),
            noise_donations=lb._int("BENCH_PAGES_NOISE_DONATIONS", max(100, donations // 4)),
            import_rows=lb._int("BENCH_PAGES_IMPORT_ROWS", min(5_000, max(100, donations // 4))),
            import_runs=lb._int("BENCH_PAGES_IMPORT_RUNS", 3),
            requests=lb._int("BENCH_PAGES_REQUESTS", 50),
            export_requests=lb._int("BENCH_PAGES_EXPORT_REQUESTS", 5),
            warmup=lb._int("BENCH_PAGES_WARMUP", 3, minimum=0),
            workers=lb._int("BENCH_WORKERS", int(os.environ.get("WEB_CONCURRENCY") or cpus)),
            threads=lb._int("BENCH_THREADS", int(os.environ.get("WEB_THREADS") or 32)),
            quiet_wait=lb._int("BENCH_QUIET_WAIT", 120, minimum=0),
            port=lb._int("BENCH_PORT", 0, minimum=0),
            keep_db=(os.environ.get("BENCH_KEEP_DB") or "1") not in ("0", "", "no", "false"),
        )
        if config.donations > 50_000:
            raise lb.BenchError("BENCH_PAGES_DONATIONS: at most 50000 (one CSV batch)")
        if config.import_rows > 10_000:
            raise lb.BenchError("BENCH_PAGES_IMPORT_ROWS: an import takes at most 10000 rows")
        parsed = lb.make_url(config.database_url)
        if parsed.get_backend_name() != "postgresql" or not parsed.database:
            raise lb.BenchError("BENCH_PAGES_DATABASE_URL must be a postgresql URL naming a database")
        if (parsed.host or "") != lb.LOOPBACK:
            raise lb.BenchError(f"BENCH_PAGES_DATABASE_URL must point at {lb.LOOPBACK} (the bench talks to nothing else)")
        return config

    @property
    def db(self) -> Any:
        return lb.make_url(self.database_url)


# -- the data ------------------------------------------------------------------------------------

def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@dataclass
class Gift:
    received_on: dt.date
    donor: str
    kind: str
    anonymous: bool
    channel: str
    amount_fen: int
    goods: tuple[str, int, str, int] | None  # item, quantity, unit, unit price (fen)


def gifts(rng: random.Random, count: int, first_day: dt.date, days: int) -> list[Gift]:
    """`count` gifts dated over `days` days from `first_day`, in date order, as a year's ledger fills."""
    out = []
    for i in range(count):
        on = first_day + dt.timedelta(days=rng.randrange(days))
        if rng.random() < 0.3:
            donor, kind, anonymous = (f"铜陵市{rng.choice(TOWNS)}{rng.choice(TRADES)}有限公司", "enterprise", False)
            fen = rng.randint(1_000, 200_000) * 100
        else:
            donor = f"{rng.choice(SURNAMES)}{rng.choice(GIVEN)}{rng.randint(1, 400)}"
            kind, anonymous = "individual", rng.random() < 0.08
            fen = rng.randint(10, 5_000) * 100 + rng.choice((0, 0, 50, rng.randint(0, 99)))
        goods = None
        channel = CHANNELS[i % len(CHANNELS)]
        if i % 12 == 5:  # one in twelve in kind, with its goods
            item, unit, price = rng.choice(GOODS)
            quantity = rng.randint(1, 400)
            goods, channel, fen = (item, quantity, unit, price), "in_kind", quantity * price
        out.append(Gift(on, donor, kind, anonymous, channel, fen, goods))
    out.sort(key=lambda g: g.received_on)
    return out


def gifts_csv(fund: str, rows: list[Gift], prefix: str) -> bytes:
    lines = [lb.CSV_HEADER.rstrip("\n") + ",goods_item,goods_quantity,goods_unit,goods_unit_price\n"]
    for i, g in enumerate(rows):
        goods = ("", "", "", "") if g.goods is None else (g.goods[0], str(g.goods[1]), g.goods[2], yuan(g.goods[3]))
        lines.append(",".join((fund, yuan(g.amount_fen), "CNY", g.donor, g.kind, "true" if g.anonymous else "false",
                               g.received_on.isoformat(), g.channel, "助学助困" if i % 3 else "扶贫济困",
                               f"{prefix}-{i:06d}", *goods)) + "\n")
    return "".join(lines).encode()


def import_xlsx(fund: str, rows: list[Gift], prefix: str) -> bytes:
    """The spreadsheet a fund manager keeps: Chinese headers, Chinese values, a column not imported."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("捐赠")
    sheet.append(["序号", "基金代码", "捐赠人", "捐赠人类型", "金额", "收到日期", "渠道", "用途", "流水号", "物品", "数量",
                  "单位", "单价", "备注"])
    kinds = {"individual": "个人", "enterprise": "企业"}
    channels = {"bank": "银行转账", "wechat": "微信", "alipay": "支付宝", "cash": "现金", "in_kind": "物资"}
    for i, g in enumerate(rows, start=1):
        goods = [None, None, None, None] if g.goods is None else [g.goods[0], g.goods[1], g.goods[2],
                                                                   float(yuan(g.goods[3]))]
        sheet.append([i, fund, g.donor, kinds[g.kind], float(yuan(g.amount_fen)), g.received_on,
                      channels[g.channel], "助学", f"{prefix}-{i:05d}", *goods, "经办人：小王" if i % 7 == 0 else None])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def month_before(day: dt.date) -> tuple[dt.date, dt.date]:
    last = day.replace(day=1) - dt.timedelta(days=1)
    return last.replace(day=1), last


# -- setup through the API and the pages ------------------------------------------------------

def expect(response: httpx.Response, status: int, what: str) -> httpx.Response:
    if response.status_code != status:
        raise Unexpected(f"{what}: {response.status_code} {response.text[:300]}")
    return response


def csrf_token(html: str, what: str) -> str:
    match = CSRF.search(html)
    if not match:
        raise Unexpected(f"{what}: no CSRF token on the page")
    return match.group(1) or match.group(2)


def browser(base: str) -> httpx.Client:
    # trust_env=False: no proxy from the environment; the bench talks to 127.0.0.1 only.
    return httpx.Client(base_url=base, timeout=600, trust_env=False, limits=CLIENT_LIMITS,
                        headers={"Accept": "text/html"})


def log_in(client: httpx.Client, username: str, password: str) -> str:
    """Through the login form, as a person does; where it sends them."""
    page = expect(client.get("/funds/login"), 200, "login page")
    response = client.post("/funds/login", data={"csrf_token": csrf_token(page.text, "login page"),
                                                  "username": username, "password": password})
    if response.status_code != 302 or "/login" in response.headers.get("location", "/login"):
        raise Unexpected(f"login as {username}: {response.status_code} {response.text[:300]}")
    return response.headers["location"]


@dataclass
class Fixture:
    today: dt.date
    first_day: dt.date
    gifts: list[Gift]
    receipt_id: int
    disbursements: dict[str, int]
    manager_password: str
    seed: dict[str, Any]


def set_up(config: Config, base: str, admin_key: str, admin_password: str) -> Fixture:
    from shared.dates import today as beijing_today

    today = beijing_today()
    first_day = today - dt.timedelta(days=364)
    rng = random.Random(20261130)
    seed: dict[str, Any] = {}
    keys: dict[str, str] = {}
    with lb.http_client(base, admin_key, timeout=600) as admin:
        orgs = {}
        for tag, name in (("main", "铜陵市页面测试商会"), ("noise", "铜陵市另一商会")):
            orgs[tag] = lb._created(admin.post("/funds/api/v1/organizations",
                                               json={"name": name, "kind": "chamber_of_commerce"}), f"organisation {tag}")
            for role, scopes in (("clerk", ["donations:write", "donations:read", "funds:read"]),
                                 ("approver", ["disbursements:approve", "donations:read", "funds:read"])):
                keys[f"{tag}-{role}"] = lb._created(admin.post(
                    f"/funds/api/v1/organizations/{orgs[tag]['id']}/api-keys",
                    json={"name": role, "scopes": scopes}), f"{tag} {role} key")["key"]
        for tag, code in (("main", FUND), ("noise", NOISE_FUND)):
            lb._created(admin.post("/funds/api/v1/funds", json={
                "code": code, "name": lb.FUND_NAME, "kind": "chamber_named", "organization_id": orgs[tag]["id"],
                "purpose": "助学助困", "restricted": False}), f"fund {code}")

    main_gifts = gifts(rng, config.donations, first_day, 365)
    noise_gifts = gifts(rng, config.noise_donations, first_day, 365)
    receipt_id = 0
    for tag, code, rows in (("main", FUND, main_gifts), ("noise", NOISE_FUND, noise_gifts)):
        body = gifts_csv(code, rows, f"P-{tag.upper()}")
        began = time.perf_counter()
        with lb.http_client(base, keys[f"{tag}-clerk"], timeout=600) as clerk:
            response = clerk.post(f"{API}/donations/batch", content=body, headers={"Content-Type": "text/csv"})
        took = time.perf_counter() - began
        recorded = response.content.count(lb.RECORDED) if response.status_code == 200 else 0
        if recorded != len(rows):
            raise lb.BenchError(f"batch on {code}: {response.status_code}, {recorded}/{len(rows)} recorded: "
                                f"{response.text[:300]}")
        seed[f"{tag}_batch"] = {"rows": len(rows), "seconds": round(took, 2), "bytes": len(body)}
        if tag == "main":  # a bank donation in the middle of the year: its receipt is measured
            results = response.json()["results"]
            middle = next(r for r in results[len(results) // 2:] if r["donation"]["channel"] == "bank")
            receipt_id = middle["donation"]["id"]
        log(f"{code}: {len(rows):,} donations in one batch in {took:.1f} s")

    # Disbursements on the main fund: a fifth left requested, a fifth approved, the rest paid.
    work = []
    for i in range(config.disbursements):
        state = "requested" if i % 5 == 0 else "approved" if i % 5 == 1 else "paid"
        category = "programme" if i % 10 < 8 else "management" if i % 10 == 8 else "fundraising"
        work.append((i, state, {"fund_code": FUND, "amount": yuan(rng.randint(500, 20_000) * 100),
                                "payee": PAYEES[i % len(PAYEES)], "purpose": "助学金发放" if category == "programme"
                                else "机构运营" if category == "management" else "募捐活动",
                                "project": None if i % 3 else f"项目{i % 12:02d}", "category": category}))
    counts = {"requested": 0, "approved": 0, "paid": 0}
    lock = threading.Lock()
    local = threading.local()
    opened: list[httpx.Client] = []

    def client(role: str, tag: str = "main") -> httpx.Client:
        name = f"{tag}_{role}"
        if not hasattr(local, name):
            made = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys[f'{tag}-{role}']}"},
                                timeout=60, trust_env=False)
            with lock:
                opened.append(made)
            setattr(local, name, made)
        return getattr(local, name)  # type: ignore[no-any-return]

    def one(item: tuple[int, str, dict[str, Any]]) -> None:
        _, state, body = item
        ident = expect(client("clerk").post(f"{API}/disbursements", json=body), 201, "disbursement").json()["id"]
        if state != "requested":
            expect(client("approver").post(f"{API}/disbursements/{ident}/approve"), 200, "approval")
        if state == "paid":
            expect(client("clerk").post(f"{API}/disbursements/{ident}/pay", json={
                "paid_on": today.isoformat(), "bank_reference": f"PG-{ident:06d}"}), 200, "payment")
        with lock:
            counts[state] += 1

    def noise(i: int) -> None:
        expect(client("clerk", "noise").post(f"{API}/disbursements", json={
            "fund_code": NOISE_FUND, "amount": "800.00", "payee": PAYEES[i % len(PAYEES)], "purpose": "助学金发放"}),
            201, "noise disbursement")

    began = time.perf_counter()
    try:
        problems = lb.in_threads(work, 4, one) + lb.in_threads(list(range(max(5, config.disbursements // 10))), 4, noise)
    finally:
        for made in opened:
            made.close()
    if problems:
        raise lb.BenchError(f"disbursements: {problems}")
    seed["disbursements"] = {**counts, "seconds": round(time.perf_counter() - began, 1)}
    log(f"{FUND}: {config.disbursements} disbursements ({counts}) in {seed['disbursements']['seconds']} s")

    # The fund manager, made by the admin on the users page, as a person would.
    password = secrets.token_urlsafe(16)
    with browser(base) as admin_page:
        log_in(admin_page, "admin", admin_password)
        form = expect(admin_page.get("/funds/users/new"), 200, "new user page")
        made = admin_page.post("/funds/users/new", data={
            "csrf_token": csrf_token(form.text, "new user page"), "username": MANAGER, "display_name": "基金管理员",
            "password": password, "role": "fund_manager", "organization_id": str(orgs["main"]["id"])})
        if made.status_code != 302:
            raise lb.BenchError(f"creating the fund manager: {made.status_code} {made.text[:300]}")
    seed["organizations"] = {tag: org["id"] for tag, org in orgs.items()}
    return Fixture(today, first_day, main_gifts, receipt_id, counts, password, seed)


# -- measuring ---------------------------------------------------------------------------------

@dataclass
class Page:
    key: str
    label: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = HTML
    export: bool = False
    note: str = ""


def pages(config: Config, fixture: Fixture) -> list[Page]:
    today, first_day = fixture.today, fixture.first_day
    month_start = today.replace(day=1)
    last_month = month_before(today)
    year = {"from": first_day.isoformat(), "to": today.isoformat()}

    def entries(first: dt.date, last: dt.date) -> int:
        """The fund's journal entries dated between the two days (the payments are dated today)."""
        return (sum(first <= g.received_on <= last for g in fixture.gifts)
                + (fixture.disbursements["paid"] if first <= today <= last else 0))

    in_year = entries(first_day, today)
    deep = min(150, math.ceil(len(fixture.gifts) / 100))
    matching = sum(SEARCHED in g.donor for g in fixture.gifts)
    statement = f"/donations/funds/{FUND}/statement"
    month = {"from": last_month[0].isoformat(), "to": last_month[1].isoformat()}
    return [
        Page("overview", "overview /donations/", "/donations/"),
        Page("fund_page", f"fund page /funds/{FUND}", f"/funds/{FUND}"),
        Page("search_first", "donations list, page 1 (50)", "/donations/search"),
        Page("search_deep", f"donations list, page {deep} of size 100", "/donations/search",
             {"page": deep, "size": 100}),
        Page("search_amount", "donations list, sorted by amount", "/donations/search",
             {"sort": "amount", "order": "desc"}),
        Page("search_donor", f"donations list, donor contains {SEARCHED} ({matching:,} rows)", "/donations/search",
             {"donor": SEARCHED}),
        Page("disbursements", "disbursements list, page 1", "/donations/disbursements/"),
        Page("statement_month", f"statement, this month ({month_start:%m-%d} to {today:%m-%d}: "
             f"{entries(month_start, today):,} entries)", statement,
             {"from": month_start.isoformat(), "to": today.isoformat()}),
        Page("statement_year_first", f"statement, whole year ({in_year:,} entries), first page", statement, year),
        Page("statement_year_last", "statement, whole year, last page", statement,
             {**year, "page": math.ceil(in_year / 100)}),
        Page("statement_xlsx", f"statement XLSX, {last_month[0]:%Y-%m} ({entries(*last_month):,} entries)",
             f"{statement}.xlsx", month, XLSX, export=True),
        Page("statement_pdf", f"statement PDF, {last_month[0]:%Y-%m} ({entries(*last_month):,} entries)", f"{statement}.pdf", month, PDF, export=True),
        Page("receipt", "receipt page", f"/donations/receipts/{fixture.receipt_id}"),
        Page("receipt_pdf", "receipt PDF", f"/donations/receipts/{fixture.receipt_id}.pdf", kind=PDF),
    ]


def export_page(config: Config, fixture: Fixture, client: httpx.Client) -> tuple[Page, dict[str, Any]]:
    """The donations list's XLSX export of every row; when the export refuses that many rows (its
    limit), the refusal is recorded and the largest export it takes is measured instead: the rows
    received up to the last day that keeps them within the limit."""
    began = time.perf_counter()
    response = client.get("/donations/search/export.xlsx")
    took = time.perf_counter() - began
    whole = {"rows": len(fixture.gifts), "status": response.status_code, "ms": round(took * 1000, 1),
             "bytes": len(response.content)}
    if response.status_code == 200 and response.headers.get("content-type", "").startswith(XLSX):
        return Page("export_xlsx", f"donations XLSX export, all {len(fixture.gifts):,} rows",
                    "/donations/search/export.xlsx", kind=XLSX, export=True), whole
    from shared.listing import EXPORT_LIMIT

    days = sorted(g.received_on for g in fixture.gifts)
    cutoff = days[min(EXPORT_LIMIT, len(days)) - 1]
    if len(days) > EXPORT_LIMIT and days[EXPORT_LIMIT] == cutoff:  # the limit falls inside a day
        cutoff -= dt.timedelta(days=1)
    rows = sum(day <= cutoff for day in days)
    whole["limit"] = EXPORT_LIMIT
    log(f"the export of all {len(fixture.gifts):,} rows answers {response.status_code} (at most {EXPORT_LIMIT:,} "
        f"rows): measuring the {rows:,} received up to {cutoff}")
    return Page("export_xlsx", f"donations XLSX export, {rows:,} rows (to {cutoff})", "/donations/search/export.xlsx",
                {"to": cutoff.isoformat()}, XLSX, export=True,
                note=f"all {len(fixture.gifts):,}: {response.status_code} in {whole['ms']} ms"), whole


def measure(client: httpx.Client, page: Page, count: int, warmup: int, quiet: lb.QuietGate,
            ours: Callable[[], set[int]]) -> dict[str, Any]:
    quiet.wait(page.key)
    result: dict[str, Any] = {"key": page.key, "label": page.label, "path": page.path, "params": page.params,
                              "note": page.note}
    try:
        for _ in range(warmup):
            _get(client, page)
        latencies, sizes, wire = [], [], []
        with lb.CpuSampler(ours, None) as cpu:
            for _ in range(count):
                began = time.perf_counter()
                response = _get(client, page)
                latencies.append(time.perf_counter() - began)
                sizes.append(len(response.content))
                wire.append(response.num_bytes_downloaded)
        result.update(summary(latencies))
        result.update({"bytes": sorted(sizes)[len(sizes) // 2], "wire_bytes": sorted(wire)[len(wire) // 2],
                       "cpu": cpu.report()})
    except (Unexpected, httpx.HTTPError) as error:
        result["error"] = f"{type(error).__name__}: {error}"
    return result


def _get(client: httpx.Client, page: Page) -> httpx.Response:
    response = client.get(page.path, params=page.params)
    if response.status_code != 200:
        raise Unexpected(f"{page.path}: {response.status_code} {response.text[:300]}")
    if not response.headers.get("content-type", "").startswith(page.kind):
        raise Unexpected(f"{page.path}: {response.headers.get('content-type')}, not {page.kind}")
    return response


def summary(latencies_s: list[float]) -> dict[str, Any]:
    ordered = sorted(s * 1000 for s in latencies_s)
    return {"count": len(ordered), "p50_ms": round(lb.percentile(ordered, 50), 1),
            "p95_ms": round(lb.percentile(ordered, 95), 1), "max_ms": round(ordered[-1], 1),
            "mean_ms": round(sum(ordered) / len(ordered), 1)}


def measure_import(config: Config, fixture: Fixture, client: httpx.Client, quiet: lb.QuietGate,
                   ours: Callable[[], set[int]], work_dir: Path) -> dict[str, Any]:
    """Upload -> preview, `import_runs` times (the same file; previews record nothing); then the
    last one confirmed and recorded chunk by chunk (as the result page's script asks) until done."""
    rng = random.Random(5000)
    rows = gifts(rng, config.import_rows, fixture.today - dt.timedelta(days=27), 28)
    body = import_xlsx(FUND, rows, "IMP")
    (work_dir / "import.xlsx").write_bytes(body)
    result: dict[str, Any] = {"rows": len(rows), "file_bytes": len(body), "runs": []}
    try:
        quiet.wait("import preview")
        batch_id = 0
        with lb.CpuSampler(ours, None) as cpu:
            for _ in range(config.import_runs):
                form = expect(client.get("/donations/import"), 200, "import page")
                token = csrf_token(form.text, "import page")
                began = time.perf_counter()
                uploaded = client.post("/donations/import", data={"csrf_token": token},
                                       files={"file": ("捐赠登记.xlsx", body, XLSX)})
                upload_s = time.perf_counter() - began
                if uploaded.status_code != 303:
                    raise Unexpected(f"upload: {uploaded.status_code} {uploaded.text[:300]}")
                location = uploaded.headers["location"]
                batch_id = int(location.rstrip("/").rsplit("/", 1)[-1])
                preview = expect(client.get(location), 200, "preview")
                total_s = time.perf_counter() - began
                if 'id="confirm-form"' not in preview.text:
                    raise Unexpected("the preview offers no confirmation")
                result["runs"].append({"batch_id": batch_id, "upload_ms": round(upload_s * 1000, 1),
                                       "preview_page_ms": round((total_s - upload_s) * 1000, 1),
                                       "total_ms": round(total_s * 1000, 1), "preview_bytes": len(preview.content)})
                log(f"import of {len(rows):,} rows: upload {upload_s * 1000:,.0f} ms, preview page "
                    f"{(total_s - upload_s) * 1000:,.0f} ms ({len(preview.content) / 1e6:.1f} MB)")
                last_preview = preview
        result["preview_cpu"] = cpu.report()
        for part in ("upload_ms", "preview_page_ms", "total_ms"):
            values = sorted(run[part] for run in result["runs"])
            result[f"{part[:-3]}_median_ms"] = values[len(values) // 2]
        result["preview_max_ms"] = max(run["total_ms"] for run in result["runs"])

        quiet.wait("import recording")
        token = csrf_token(last_preview.text, "preview")
        chunks: list[float] = []
        with lb.CpuSampler(ours, None) as cpu:
            began = time.perf_counter()
            confirmed = client.post(f"/donations/import/{batch_id}/confirm", data={"csrf_token": token})
            confirm_s = time.perf_counter() - began
            if confirmed.status_code != 303:
                raise Unexpected(f"confirm: {confirmed.status_code} {confirmed.text[:300]}")
            page = expect(client.get(confirmed.headers["location"]), 200, "result page")
            result_page_s = time.perf_counter() - began - confirm_s
            token = csrf_token(page.text, "result page")
            state: dict[str, Any] = {"status": "recording", "pending": 1}
            while state["status"] != "done" and state["pending"]:
                if len(chunks) > config.import_rows:
                    raise Unexpected(f"the import does not end: {state}")
                chunk_began = time.perf_counter()
                state = expect(client.post(f"/donations/import/{batch_id}/continue", data={"csrf_token": token},
                                           headers={"Accept": "application/json"}), 200, "continue").json()
                chunks.append(time.perf_counter() - chunk_began)
            wall = time.perf_counter() - began
        if state["recorded"] != len(rows):
            raise Unexpected(f"the import recorded {state['recorded']} of {len(rows)} rows: {state}")
        result["recording"] = {
            "wall_ms": round(wall * 1000, 1), "confirm_ms": round(confirm_s * 1000, 1),
            "result_page_ms": round(result_page_s * 1000, 1), "result_page_bytes": len(page.content),
            "chunks": len(chunks) + 1, "chunk": summary(chunks) if chunks else None,
            "rows_per_s": round(len(rows) / wall), "recorded": state["recorded"], "cpu": cpu.report()}
        log(f"import recorded: {len(rows):,} rows in {wall:.1f} s (confirm {confirm_s * 1000:,.0f} ms, "
            f"{len(chunks)} more chunks)")
    except (Unexpected, httpx.HTTPError) as error:
        result["error"] = f"{type(error).__name__}: {error}"
    return result


def check_isolation(client: httpx.Client) -> dict[str, Any]:
    """The fund manager sees nothing of the other organisation (not timed)."""
    seen = {}
    for path, params in (("/donations/", {}), ("/donations/search", {"donor": SEARCHED, "size": 200}),
                         ("/donations/disbursements/", {"size": 200}), ("/funds/", {})):
        response = client.get(path, params=params)
        seen[path] = response.status_code == 200 and NOISE_FUND not in response.text
    other = client.get(f"/donations/funds/{NOISE_FUND}/statement")
    seen["other statement refused"] = other.status_code in (403, 404)
    return {"ok": all(seen.values()), **seen}


# -- results ------------------------------------------------------------------------------------

def _size(n: int | None) -> str:
    if n is None:
        return ""
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def markdown(results: dict[str, Any]) -> str:
    c = results["config"]
    machine = results.get("machine", [])
    busiest = max((m["background_cores"] for m in machine), default=None)
    lines = [f"# Fund managers' pages ({results['started_at']}, {results['commit']})", "",
             (f"{c['donations']:,} donations on one fund over a year (one in twelve in kind), "
              f"{c['disbursements']} disbursements ({results.get('seed', {}).get('disbursements', {})}), "
              f"a second organisation of {c['noise_donations']:,} donations; gunicorn {c['workers']} workers x "
              f"{c['threads']} threads on {c['cpus']} CPUs. One client logged in as a fund manager, one request "
              f"after another on a keep-alive connection; {c['requests']} requests a page "
              f"({c['export_requests']} an export) after {c['warmup']} warm-up requests."), "",
             "| page | requests | p50 ms | p95 ms | max ms | size | note |", "|---|---|---|---|---|---|---|"]
    for r in results.get("pages", []):
        if "error" in r:
            lines.append(f"| {r['label']} | | | | | | **ERROR** {r['error'][:200]} |")
            continue
        lines.append(f"| {r['label']} | {r['count']} | {r['p50_ms']:,} | {r['p95_ms']:,} | {r['max_ms']:,} | "
                     f"{_size(r['bytes'])} | {r['note']} |")
    imp = results.get("import")
    if imp:
        if imp.get("runs"):
            lines.append(f"| import preview, {imp['rows']:,}-row XLSX ({_size(imp['file_bytes'])}): upload + preview "
                         f"page | {len(imp['runs'])} | {imp['total_median_ms']:,} | | {imp['preview_max_ms']:,} | "
                         f"{_size(imp['runs'][-1]['preview_bytes'])} | upload {imp['upload_median_ms']:,} ms, "
                         f"preview page {imp['preview_page_median_ms']:,} ms (medians) |")
        rec = imp.get("recording")
        if rec:
            chunk = rec["chunk"] or {}
            lines.append(f"| import recording, {rec['recorded']:,} rows: confirm, result page, chunks until done | 1 | "
                         f"{rec['wall_ms']:,} | | | {_size(rec['result_page_bytes'])} | {rec['chunks']} chunks "
                         f"(confirm {rec['confirm_ms']:,} ms, result page {rec['result_page_ms']:,} ms, further chunks "
                         f"p50 {chunk.get('p50_ms', '-')} ms); {rec['rows_per_s']:,} rows/s |")
        if imp.get("error"):
            lines.append(f"| import | | | | | | **ERROR** {imp['error'][:200]} |")
    lines += ["", "Sizes are the body as received (decoded); the JSON also has the bytes on the wire."]
    if busiest is not None:
        lines.append(f"Machine: {c['cpus']} CPUs; before each measurement other processes used at most "
                     f"{busiest:.2f} cores ({'idle' if busiest <= 0.25 else 'NOT idle: figures may be high'}).")
    if results.get("isolation"):
        lines.append(f"Isolation (the other organisation's fund on none of the pages): "
                     f"{'ok' if results['isolation']['ok'] else 'FAILED'}.")
    if results.get("export_whole"):
        w = results["export_whole"]
        if w["status"] != 200:
            lines.append(f"The donations export of all {w['rows']:,} rows is refused ({w['status']}, in {w['ms']} ms): "
                         f"an export holds at most {w.get('limit', '?'):,} rows; the largest it takes is measured.")
    if results.get("uncommitted"):
        lines.append(f"Measured with uncommitted changes in: {', '.join(results['uncommitted'])}.")
    if results["errors"]:
        lines += ["", "**Errors:**", ""] + [f"- {e}" for e in results["errors"]]
    return "\n".join(lines) + "\n"


def write_results(results: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"pages-{results['started_at_compact']}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    text = markdown(results)
    (RESULTS_DIR / "pages-latest.md").write_text(text)
    print("\n" + text)
    log(f"results: {path.relative_to(REPO_ROOT)} and bench/results/pages-latest.md")
    return path


def uncommitted() -> list[str]:
    import subprocess

    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "services", "shared"],
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line[3:] for line in out.splitlines() if line.strip()]


# -- main ----------------------------------------------------------------------------------------

def main() -> int:
    lb.log = log  # one voice in the output
    config = Config.from_env()
    started = dt.datetime.now(dt.UTC)
    results: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"), "started_at_compact": started.strftime("%Y%m%dT%H%M%SZ"),
        "commit": lb._commit(), "uncommitted": uncommitted(), "host": platform.node(),
        "python": platform.python_version(),
        "config": {"cpus": os.cpu_count(), "workers": config.workers, "threads": config.threads,
                   "donations": config.donations, "disbursements": config.disbursements,
                   "noise_donations": config.noise_donations, "import_rows": config.import_rows,
                   "import_runs": config.import_runs, "requests": config.requests,
                   "export_requests": config.export_requests, "warmup": config.warmup,
                   "database": config.db.render_as_string(hide_password=True)},
        "errors": [],
    }
    stopper = lb.Stopper()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored
    signal.signal(signal.SIGTERM, lb._raise_interrupt)
    signal.signal(signal.SIGHUP, lb._raise_interrupt)
    work_dir = Path(tempfile.mkdtemp(prefix="charity-pages-"))
    stopper.push("work dir", lambda: shutil.rmtree(work_dir, ignore_errors=True))
    server = None
    try:
        lb.create_database(config.database_url, replace=True)
        log(f"database {config.db.database} recreated; migrating")
        lb.upgrade(config.database_url, secret_key=config.secret_key)
        if not config.keep_db:
            stopper.push("database", lambda: lb.drop_database_and_roles(config.database_url))
        results["postgres"] = lb.sql_one(config, "SHOW server_version")[0]
        admin_key, admin_password = "cfk_pages-" + secrets.token_urlsafe(24), secrets.token_urlsafe(16)
        env = {**os.environ, "DATABASE_URL": config.database_url, "SECRET_KEY": config.secret_key,
               "DATABASE_ROLE_PREFIX": "", "BOOTSTRAP_ADMIN_API_KEY": admin_key,
               "BOOTSTRAP_ADMIN_PASSWORD": admin_password, "VAR_DIR": str(work_dir / "var"),
               "PYTHONUNBUFFERED": "1"}
        server = lb.start_server(SimpleNamespace(port=config.port, workers=config.workers, threads=config.threads),
                                 env, work_dir, stopper)
        fixture = set_up(config, server.base_url, admin_key, admin_password)
        results["seed"] = fixture.seed

        def ours() -> set[int]:
            assert server is not None
            return {server.process.pid, *server.worker_pids()}

        quiet = lb.QuietGate(config.quiet_wait, ours)
        results["machine"] = quiet.seen
        client = browser(server.base_url)
        stopper.push("client", client.close)
        home = log_in(client, MANAGER, fixture.manager_password)
        results["login_lands_on"] = home
        log(f"logged in as {MANAGER} (fund manager), sent to {home}")

        whole_export: dict[str, Any] | None = None
        measured = pages(config, fixture)
        export, whole_export = export_page(config, fixture, client)
        results["export_whole"] = whole_export
        measured.insert(6, export)
        results["pages"] = []
        for page in measured:
            count = config.export_requests if page.export else config.requests
            warmup = min(config.warmup, 1) if page.export else config.warmup
            result = measure(client, page, count, warmup, quiet, ours)
            results["pages"].append(result)
            if "error" in result:
                results["errors"].append(f"{page.label}: {result['error']}")
                log(f"{page.label}: FAILED {result['error'][:300]}")
            else:
                log(f"{page.label}: p50 {result['p50_ms']:,} ms, p95 {result['p95_ms']:,} ms, max "
                    f"{result['max_ms']:,} ms, {_size(result['bytes'])}; {lb.cpu_text(result['cpu'])}")
        results["isolation"] = check_isolation(client)
        if not results["isolation"]["ok"]:
            results["errors"].append(f"isolation: {results['isolation']}")
        results["import"] = measure_import(config, fixture, client, quiet, ours, work_dir)
        if results["import"].get("error"):
            results["errors"].append(f"import: {results['import']['error']}")
    except KeyboardInterrupt:
        log("interrupted: stopping what was started")
        stopper.stop_all()
        return 130
    except (lb.BenchError, Unexpected) as error:
        results["errors"].append(str(error))
        log(f"FAILED: {error}")
    except Exception as error:  # noqa: BLE001 - an unexpected failure: still stop everything, still report
        traceback.print_exc()
        results["errors"].append(f"{type(error).__name__}: {error}")
    finally:
        if server is not None:
            results["gunicorn_log_tail"] = server.log_tail(20)
        stopper.stop_all()
    write_results(results)
    if results["errors"]:
        log(f"{len(results['errors'])} error(s): see above")
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except lb.BenchError as error:
        log(f"FAILED: {error}")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
