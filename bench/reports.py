"""`make bench` (second part): a quarterly audit report over a ledger of 1,000,000 entries.

    .venv/bin/python bench/reports.py

On a fresh database (charity_reports_bench, dropped and recreated) behind the
gateway under gunicorn, as `make run` serves it:

  1. setup    an organisation, 200 funds (a quarter of them restricted) and two API keys, through the API
  2. load     ~1,000,000 ledger entries over 2024-01-01..2026-09-30 through POST /donations/batch
              (CSV, 50,000 rows a request, 2 client threads), 2,000 disbursements (requested, approved
              by the other key, paid) and 200 reversals through the API; then VACUUM ANALYZE
  3. report   the 2026-Q3 report over all funds, queued through the API and built as the worker
              builds it (tasks.build_and_deliver) in a fresh process under /usr/bin/time -v:
              wall time and peak RSS of the whole run, PDF, XLSX and CSV included
  4. phases   where the time goes: the same build, phase by phase, in another fresh process
              (each question to the ledger, each format), and the donations service's side of
              it called in-process (each query of the figures and the checks, the hash chain)
  5. journal  the quarter's journal export (GET /reports/api/v1/exports), then hledger and
              ledger-cli computing its balances (bare `balance`, /usr/bin/time -v); every fund's
              Funds:<code> balance, negated, must equal the report's closing balance

Results go to bench/results/reports-<timestamp>.json and bench/results/reports-latest.md.
It shares its plumbing with bench/run.py (gunicorn, CPU accounting, batches). Everything it
starts is stopped on exit, Ctrl-C or failure. It talks to 127.0.0.1 only. See bench/README.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
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

RESULTS_DIR = BENCH_DIR / "results"
LOOPBACK = "127.0.0.1"
DEFAULT_DATABASE_URL = f"postgresql+psycopg://postgres@{LOOPBACK}:5432/charity_reports_bench"
PERIOD = "2026-Q3"
FIRST_DAY = dt.date(2024, 1, 1)
LAST_DAY = dt.date(2026, 9, 30)

# Targets (the issue's words): the whole run in at most 5 s and 300 MB, and at least
# twice as fast as ledger-cli's bare balance of the quarter's journal.
TARGET_WALL_S = 5.0
TARGET_RSS_MB = 300.0
TARGET_VS_LEDGER = 2.0

TOOL_ENV = {"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "PATH": "/usr/local/bin:/usr/bin:/bin"}
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def log(message: str) -> None:
    print(f"[reports-bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# =================================================================================================
# The measured processes: started by the driver with the reports service's environment.
# They import nothing of the bench's own beyond this file's top, so what they weigh is the run.
# =================================================================================================

class Clocks:
    """Timers around what a report's build is made of, installed on the classes and modules the
    runner calls (a perf_counter before and after each call; nothing else changes): each question
    to the other services, build_content, each format's render, the summary; and every internal
    HTTP call with its size."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: list[dict[str, Any]] = []

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def install(self) -> None:
        from services.reports import build, runner
        from services.reports.sources import Sources
        from shared.peers import Peers

        def timed(name: str, function: Callable[..., Any], label: Callable[..., str] | None = None) -> Any:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                began = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    self.add(label(*args, **kwargs) if label else name, time.perf_counter() - began)
            return wrapper

        for method in ("heads", "figures", "check_inputs", "funds", "fund", "organization"):
            setattr(Sources, method, timed(f"sources.{method}", getattr(Sources, method)))
        build.build_content = timed("build_content", build.build_content)
        build.summary_json = timed("summary", build.summary_json)
        runner.render = timed("render", runner.render, lambda content, fmt: f"render {fmt}")
        plain_request = Peers.request

        def request(peers: Any, service: str, method: str, path: str, **kwargs: Any) -> Any:
            began = time.perf_counter()
            response = plain_request(peers, service, method, path, **kwargs)
            self.calls.append({"service": service, "path": path, "status": response.status_code,
                               "bytes": len(response.content), "http_s": time.perf_counter() - began})
            return response

        Peers.request = request  # type: ignore[method-assign]


def child_build_one(report_id: int, out: Path) -> int:
    """What the Celery task does for report `report_id` (tasks.build_and_deliver), in this fresh
    process, with Clocks on its parts."""
    began = time.perf_counter()
    from services.reports import create_app, tasks

    imported = time.perf_counter()
    clocks = Clocks()
    clocks.install()
    app = create_app()
    created = time.perf_counter()
    with app.app_context():
        status = tasks.build_and_deliver(app, report_id)
    done = time.perf_counter()
    out.write_text(json.dumps({
        "status": status, "import_s": round(imported - began, 3), "create_app_s": round(created - imported, 3),
        "build_and_deliver_s": round(done - created, 3), "in_process_s": round(done - began, 3),
        "parts": {k: round(v, 3) for k, v in clocks.seconds.items()}, "calls": clocks.calls,
        "max_rss_mb": round(_max_rss_mb(), 1)}))
    return 0 if status == "done" else 1


def child_phases(previous_id: int, out: Path) -> int:
    """The report's build as runner.run_report does it (build_content, then each format), phase by
    phase with the peak RSS after each, WeasyPrint's import apart; then the same again in this
    process, warm (a worker that is already up). `previous_id` is the report this one follows,
    as a new report of the scope would."""
    marks: dict[str, Any] = {"phases": {}, "rss_mb": {}}
    began = time.perf_counter()
    from services.reports import build, create_app, runner
    from services.reports.facts import Head, PreviousReport
    from services.reports.models import ReportRun
    from services.reports.render import FORMATS
    from shared.db import utcnow
    from shared.periods import Period

    marks["phases"]["import"] = time.perf_counter() - began
    clocks = Clocks()
    clocks.install()
    clock = time.perf_counter()
    app = create_app()
    marks["phases"]["create_app"] = time.perf_counter() - clock
    marks["rss_mb"]["after create_app"] = _max_rss_mb()
    peers = app.extensions["peers"]

    with app.app_context():
        with app.extensions["database"].transaction() as session:
            run = session.get(ReportRun, previous_id)
            assert run is not None, f"no report {previous_id}"
            scope, period = runner._scope(run), Period.parse(run.period)
            heads = tuple(Head(code, int(seq), digest) for code, (seq, digest) in sorted((run.heads or {}).items()))
            previous = PreviousReport(run.id, run.period, heads)

        def build_once() -> Any:
            from services.reports.sources import Sources

            return build.build_content(Sources(peers), report_id=0, scope=scope, period=period,
                                       generated_at=utcnow(), previous=previous, progress=lambda percent: None)

        content = build_once()
        marks["phases"]["build_content"] = clocks.seconds["build_content"]
        marks["rss_mb"]["after build_content"] = _max_rss_mb()
        files = {}
        for fmt in FORMATS:
            if fmt == "pdf":  # the PDF renderer imports WeasyPrint when first asked for a PDF
                clock = time.perf_counter()
                try:
                    __import__("weasyprint")
                except ImportError:
                    pass
                marks["phases"]["import weasyprint"] = time.perf_counter() - clock
            clock = time.perf_counter()
            __import__(f"services.reports.render.{fmt}")
            marks["phases"][f"import {fmt} renderer"] = time.perf_counter() - clock
            files[fmt] = len(runner.render(content, fmt))
            marks["phases"][f"render {fmt}"] = clocks.seconds[f"render {fmt}"]
            marks["rss_mb"][f"after {fmt}"] = _max_rss_mb()
        build.summary_json(content)
        marks["phases"]["summary"] = clocks.seconds["summary"]
        marks["total_s"] = time.perf_counter() - began
        marks["sources"] = {k.removeprefix("sources."): v for k, v in clocks.seconds.items()
                            if k.startswith("sources.")}
        marks["calls"] = clocks.calls

        # The same again in this process, now warm: what a worker that is already up spends.
        clocks.seconds, clocks.calls = {}, []
        content = build_once()
        for fmt in FORMATS:
            runner.render(content, fmt)
        warm = {k: v for k, v in clocks.seconds.items() if not k.startswith("sources.")}
        warm["total_s"] = sum(warm.values())
        marks["warm"] = {"phases": warm, "calls": clocks.calls, "sources": {
            k.removeprefix("sources."): v for k, v in clocks.seconds.items() if k.startswith("sources.")}}
    marks["file_bytes"] = files
    marks["content"] = {"funds": len(content.funds), "donors": len(content.donors), "checks": len(content.checks),
                        "anomalies": len(content.anomalies), "late_entries": len(content.late_entries)}
    marks["max_rss_mb"] = _max_rss_mb()
    out.write_text(json.dumps(marks))
    return 0


# =================================================================================================
# The driver.
# =================================================================================================

class BenchError(RuntimeError):
    """Something that stops the benchmark (not a missed target)."""


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise BenchError(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise BenchError(f"{name} must be at least {minimum}")
    return value


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    return default if raw is None or raw == "" else raw not in ("0", "no", "false")


@dataclass
class Config:
    database_url: str
    entries: int
    funds: int
    chunk: int
    batch_threads: int
    disbursements: int
    reversals: int
    api_threads: int
    report_runs: int
    tool_runs: int
    workers: int
    threads: int
    port: int
    quiet_wait: int
    keep_db: bool
    vacuum: bool
    profile: bool
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @classmethod
    def from_env(cls) -> Config:
        from sqlalchemy.engine import make_url

        cpus = os.cpu_count() or 1
        url = os.environ.get("BENCH_REPORTS_DATABASE_URL") or DEFAULT_DATABASE_URL
        config = cls(
            database_url=url,
            entries=_int("BENCH_REPORT_ENTRIES", 1_000_000, minimum=10_000),
            funds=_int("BENCH_REPORT_FUNDS", 200, minimum=10),
            chunk=_int("BENCH_REPORT_CHUNK", 50_000, minimum=1),
            batch_threads=_int("BENCH_BATCH_THREADS", 2, minimum=1),
            disbursements=_int("BENCH_REPORT_DISBURSEMENTS", 2_000),
            reversals=_int("BENCH_REPORT_REVERSALS", 200),
            api_threads=_int("BENCH_REPORT_API_THREADS", 4, minimum=1),
            report_runs=_int("BENCH_REPORT_RUNS", 3, minimum=1),
            tool_runs=_int("BENCH_TOOL_RUNS", 3, minimum=1),
            workers=_int("BENCH_WORKERS", int(os.environ.get("WEB_CONCURRENCY") or cpus), minimum=1),
            threads=_int("BENCH_THREADS", int(os.environ.get("WEB_THREADS") or 32), minimum=1),
            port=_int("BENCH_PORT", 0),
            quiet_wait=_int("BENCH_QUIET_WAIT", 120),
            keep_db=_flag("BENCH_KEEP_DB", True),
            vacuum=_flag("BENCH_VACUUM", True),
            profile=_flag("BENCH_PROFILE", False),
        )
        if config.chunk > 50_000:
            raise BenchError("BENCH_REPORT_CHUNK: the batch endpoint takes at most 50000 rows a request")
        if config.disbursements + config.reversals >= config.entries // 2:
            raise BenchError("BENCH_REPORT_DISBURSEMENTS + BENCH_REPORT_REVERSALS: too many for the ledger's size")
        parsed = make_url(url)
        if parsed.get_backend_name() != "postgresql" or not parsed.database:
            raise BenchError("BENCH_REPORTS_DATABASE_URL must be a postgresql URL naming a database")
        if (parsed.host or "") != LOOPBACK:
            raise BenchError(f"BENCH_REPORTS_DATABASE_URL must point at {LOOPBACK} (the bench talks to nothing else)")
        return config

    @property
    def db(self) -> Any:
        from sqlalchemy.engine import make_url

        return make_url(self.database_url)

    @property
    def donations(self) -> int:
        """Donations to load, so that donations + reversals + payments make `entries` entries."""
        return self.entries - self.disbursements - self.reversals


# -- the ledger's contents ------------------------------------------------------------------------

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕彬鹏辉建国志新宇浩然子涵梓萱欣怡"
PLACES = ("铜陵", "铜官", "义安", "枞阳", "郊区", "狮子山", "顺安", "钟鸣", "大通", "西联", "天门", "老洲")
TRADES = ("铜业", "建材", "物流", "商贸", "电子", "化工", "机械", "食品", "置业", "纺织", "科技", "能源")
SUFFIXES = ("有限公司", "股份有限公司", "集团有限公司", "商行")
ORG_DONORS = ("商会", "行业协会", "慈善协会", "志愿者协会", "校友会", "同乡会")
FUND_NAMES = ("助学", "助老", "扶残", "医疗救助", "乡村振兴", "应急救灾", "环境保护", "文化传承", "关爱儿童", "社区服务")
PURPOSES = ("助学", "助老", "扶贫济困", "医疗救助", "灾害救助", "")
CHANNELS = ("bank", "wechat", "alipay", "cash", "in_kind")
CHANNEL_WEIGHTS = (45, 25, 15, 5, 10)
PAYEES = ("铜陵市第一中学", "义安区敬老院", "铜官区残疾人联合会", "枞阳县人民医院", "顺安镇中心小学",
          "铜陵市儿童福利院", "郊区社区卫生服务中心", "大通镇政府", "铜陵市红十字会", "天门镇敬老院")
CSV_HEADER = "fund_code,amount,currency,donor_name,donor_kind,donor_anonymous,received_on,channel,purpose,reference\n"


@dataclass
class Donor:
    name: str
    kind: str


def donor_pool(rng: random.Random, size: int) -> list[Donor]:
    """Individuals (70 %), enterprises (25 %) and organisations, each name once."""
    donors, seen = [], set()
    while len(donors) < size:
        roll = rng.random()
        if roll < 0.70:
            name, kind = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2)))), "individual"
            if name in seen:  # Chinese names repeat: tell namesakes apart as a register would
                name += f"（{len(donors)}）"
        elif roll < 0.95:
            name = f"{rng.choice(PLACES)}{rng.choice(SURNAMES)}{rng.choice(GIVEN)}{rng.choice(TRADES)}{rng.choice(SUFFIXES)}"
            kind = "enterprise"
        else:
            name, kind = f"{rng.choice(PLACES)}{rng.choice(TRADES)}{rng.choice(ORG_DONORS)}", "organization"
        if name not in seen:
            seen.add(name)
            donors.append(Donor(name, kind))
    return donors


def _amount_fen(rng: random.Random, kind: str) -> int:
    if kind == "individual":
        if rng.random() < 0.6:
            return rng.choice((10, 20, 50, 100, 200, 500, 1000)) * 100
        return rng.randint(1_00, 5_000_00)
    if kind == "enterprise":
        return rng.randint(1_000_00, 200_000_00)
    return rng.randint(500_00, 50_000_00)


@dataclass
class LedgerPlan:
    funds: list[dict[str, Any]]
    chunks: list[tuple[int, bytes]]
    csv_mb: float
    large: int
    structuring: int
    anonymous: int
    in_kind: int
    donors: int
    dormant_funds: list[str]


def plan_ledger(config: Config, run_id: str) -> LedgerPlan:
    """The funds and the donations' CSV chunks, by business date (posted as they came)."""
    rng = random.Random(20261130)
    funds = []
    for k in range(config.funds):
        purpose = FUND_NAMES[k % len(FUND_NAMES)]
        funds.append({"code": f"RB-{k + 1:03d}", "name": f"铜陵市{purpose}基金（{k + 1}号）",
                      "kind": ("chamber_named", "township_named", "general")[k % 3],
                      "purpose": purpose, "restricted": k % 4 == 1, "opened_on": "2023-12-01"})
    # Some funds far busier than others; the last three fall silent after 2025-08 (dormant in 2026-Q3).
    weights = [1 / (1 + k / 20) for k in range(config.funds)]
    rng.shuffle(weights)
    cumulative, total = [], 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)
    dormant = {config.funds - 1, config.funds - 2, config.funds - 3}
    silent_from = dt.date(2025, 9, 1)
    donors = donor_pool(rng, 40_000)
    donor_cumulative, total = [], 0.0
    for rank in range(len(donors)):
        total += 1 / (rank + 1) ** 0.75  # a few donors give again and again
        donor_cumulative.append(total)

    n = config.donations
    span = (LAST_DAY - FIRST_DAY).days + 1
    fund_of = rng.choices(range(config.funds), cum_weights=cumulative, k=n)
    donor_of = rng.choices(range(len(donors)), cum_weights=donor_cumulative, k=n)
    channel_of = rng.choices(CHANNELS, weights=CHANNEL_WEIGHTS, k=n)
    # A gift split to stay under the large-donation threshold (500,000 yuan) in August 2026.
    split_day = dt.date(2026, 8, 10)
    split_rows = {int((split_day - FIRST_DAY).days / span * n) + 40 * j for j in range(4)}
    splitter = Donor("铜陵某某投资有限公司", "enterprise")
    days = [FIRST_DAY + dt.timedelta(days=d) for d in range(span)]
    day_text = [d.isoformat() for d in days]
    rows, chunks, size = [CSV_HEADER], [], 0
    large = anonymous = in_kind = 0
    for i in range(n):
        day = i * span // n
        fund = fund_of[i]
        if fund in dormant and days[day] >= silent_from:
            fund = (fund + 7) % (config.funds - 3)
        donor = donors[donor_of[i]]
        amount = _amount_fen(rng, donor.kind)
        if i in split_rows:
            donor, amount, fund = splitter, rng.randint(470_000_00, 499_000_00), 0
        elif rng.random() < 1 / 40_000:
            amount = rng.randint(500_001_00, 2_000_000_00)
            large += 1
        is_anonymous = donor.kind == "individual" and rng.random() < 0.08
        anonymous += is_anonymous
        channel = channel_of[i]
        in_kind += channel == "in_kind"
        rows.append(f"{funds[fund]['code']},{amount // 100}.{amount % 100:02d},CNY,{donor.name},{donor.kind},"
                    f"{'true' if is_anonymous else 'false'},{day_text[day]},{channel},"
                    f"{rng.choice(PURPOSES) or funds[fund]['purpose']},RB-{run_id}-{i:07d}\n")
        if len(rows) > config.chunk or i == n - 1:
            body = "".join(rows).encode()
            size += len(body)
            chunks.append((len(rows) - 1, body))
            rows = [CSV_HEADER]
    return LedgerPlan(funds, chunks, round(size / 1e6, 1), large, len(split_rows), anonymous, in_kind,
                      len(donors), [funds[k]["code"] for k in sorted(dormant)])


# -- setup and load through the API ---------------------------------------------------------------

@dataclass
class Fixture:
    organization_id: int
    admin_key: str
    requester_key: str
    approver_key: str
    fund_codes: list[str]
    restricted: int


def set_up(lb: Any, base_url: str, admin_key: str, plan: LedgerPlan) -> Fixture:
    with lb.http_client(base_url, admin_key) as admin:
        organization = lb._created(admin.post("/funds/api/v1/organizations", json={
            "name": "铜陵市慈善总会（基准测试）", "kind": "federation", "charity_kind": "foundation"}), "the organisation")
        org_id = organization["id"]
        keys = {}
        for name in ("finance", "approver"):
            keys[name] = lb._created(admin.post(f"/funds/api/v1/organizations/{org_id}/api-keys", json={
                "name": f"bench-{name}", "scopes": ["funds:read", "donations:read", "donations:write",
                                                    "disbursements:approve"]}), f"the API key {name}")["key"]
        for fund in plan.funds:
            lb._created(admin.post("/funds/api/v1/funds", json={**fund, "organization_id": org_id}),
                        f"fund {fund['code']}")
    log(f"organisation {org_id}, {len(plan.funds)} funds ({sum(f['restricted'] for f in plan.funds)} restricted), "
        "two API keys (one requests and pays, the other approves)")
    return Fixture(org_id, admin_key, keys["finance"], keys["approver"], [f["code"] for f in plan.funds],
                   sum(f["restricted"] for f in plan.funds))


def load_disbursements(lb: Any, config: Config, base_url: str, fixture: Fixture) -> dict[str, Any]:
    """Request (one key), approve (the other), pay (the first): three calls each."""
    from shared.dates import today

    rng = random.Random(7)
    paid_on = today().isoformat()
    codes = fixture.fund_codes[:-3]  # not the dormant funds
    work = []
    for i in range(config.disbursements):
        roll = rng.random()
        category = "programme" if roll < 0.8 else "management" if roll < 0.95 else "fundraising"
        work.append({"fund_code": rng.choice(codes), "amount": f"{rng.randint(1_000, 50_000)}.{rng.randint(0, 99):02d}",
                     "payee": PAYEES[min(int(rng.expovariate(0.6)), len(PAYEES) - 1)],
                     "purpose": "季度资助" if category == "programme" else "机构运营" if category == "management"
                     else "募捐活动", "project": None if i % 3 else f"项目{i % 40:02d}", "category": category})
    import httpx

    clients = threading.local()
    opened: list[httpx.Client] = []

    def client(name: str) -> httpx.Client:
        """A keep-alive client per thread and key (no proxy from the environment, as run.http_client)."""
        if not hasattr(clients, name):
            key = fixture.requester_key if name == "finance" else fixture.approver_key
            made = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60,
                                trust_env=False)
            opened.append(made)
            setattr(clients, name, made)
        return getattr(clients, name)  # type: ignore[no-any-return]

    def one(body: dict[str, Any]) -> None:
        made = client("finance").post("/donations/api/v1/disbursements", json=body)
        if made.status_code != 201:
            raise BenchError(f"request: {made.status_code} {made.text[:300]}")
        ident = made.json()["id"]
        approved = client("approver").post(f"/donations/api/v1/disbursements/{ident}/approve")
        if approved.status_code != 200:
            raise BenchError(f"approve: {approved.status_code} {approved.text[:300]}")
        paid = client("finance").post(f"/donations/api/v1/disbursements/{ident}/pay",
                                      json={"paid_on": paid_on, "bank_reference": f"BR-{ident:06d}"})
        if paid.status_code != 200:
            raise BenchError(f"pay: {paid.status_code} {paid.text[:300]}")

    began = time.perf_counter()
    try:
        problems = lb.in_threads(work, config.api_threads, one)
    finally:
        for made in opened:
            made.close()
    wall = time.perf_counter() - began
    if problems:
        raise BenchError(f"disbursements: {problems}")
    return {"count": len(work), "wall_s": round(wall, 1), "paid_on": paid_on,
            "management": sum(w["category"] == "management" for w in work),
            "fundraising": sum(w["category"] == "fundraising" for w in work)}


def load_reversals(lb: Any, config: Config, base_url: str, fixture: Fixture) -> dict[str, Any]:
    if not config.reversals:
        return {"count": 0, "wall_s": 0.0}
    ids = [row[0] for row in _sql_all(config, "SELECT id FROM donations.donation WHERE status = 'recorded' "
                                              "ORDER BY md5(id::text) LIMIT %s", (config.reversals,))]

    def one(donation_id: int) -> None:
        with lb.http_client(base_url, fixture.requester_key) as client:
            done = client.post(f"/donations/api/v1/donations/{donation_id}/reverse", json={"reason": "退回重复入账"})
        if done.status_code != 200:
            raise BenchError(f"reverse {donation_id}: {done.status_code} {done.text[:300]}")

    began = time.perf_counter()
    problems = lb.in_threads(ids, config.api_threads, one)
    if problems:
        raise BenchError(f"reversals: {problems}")
    return {"count": len(ids), "wall_s": round(time.perf_counter() - began, 1)}


def _sql_all(config: Config, query: str, params: tuple[Any, ...] = ()) -> list[Any]:
    import psycopg

    from shared.postgres import libpq_dsn

    with psycopg.connect(libpq_dsn(config.db), autocommit=True) as connection:
        return connection.execute(query, params).fetchall()


def vacuum_analyze(config: Config) -> float:
    """What autovacuum would have done after the load (it is off on this server): statistics
    for the planner, and the visibility map."""
    import psycopg

    from shared.postgres import libpq_dsn

    began = time.perf_counter()
    with psycopg.connect(libpq_dsn(config.db), autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")
    return round(time.perf_counter() - began, 1)


# -- measuring a process ------------------------------------------------------------------------

def parse_time_v(text: str) -> dict[str, float]:
    """/usr/bin/time -v's report: wall and CPU seconds, peak RSS in MB."""
    def value(label: str) -> str:
        match = re.search(rf"^\s*{re.escape(label)}: (.+)$", text, re.MULTILINE)
        if match is None:
            raise BenchError(f"/usr/bin/time -v printed no {label!r}:\n{text[-2000:]}")
        return match.group(1).strip()

    wall = 0.0
    for part in value("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
        wall = wall * 60 + float(part)
    return {"wall_s": round(wall, 2), "user_s": float(value("User time (seconds)")),
            "system_s": float(value("System time (seconds)")),
            "max_rss_mb": round(int(value("Maximum resident set size (kbytes)")) / 1024, 1),
            "exit_status": int(value("Exit status"))}


def timed_process(command: list[str], env: dict[str, str], work_dir: Path, tag: str,
                  stdout: Path | None = None, timeout: float = 3600) -> dict[str, Any]:
    """Run `command` under /usr/bin/time -v; its figures, and the driver's own wall clock."""
    report = work_dir / f"time-{tag}.txt"
    out = stdout or work_dir / f"stdout-{tag}.txt"
    errors = work_dir / f"stderr-{tag}.txt"
    began = time.perf_counter()
    with out.open("wb") as out_file, errors.open("wb") as err_file:
        done = subprocess.run(["/usr/bin/time", "-v", "-o", str(report), *command], env=env, cwd=REPO_ROOT,
                              stdin=subprocess.DEVNULL, stdout=out_file, stderr=err_file, timeout=timeout)
    wall = time.perf_counter() - began
    figures = parse_time_v(report.read_text())
    figures["driver_wall_s"] = round(wall, 3)
    figures["stderr_tail"] = errors.read_text(errors="replace")[-3000:]
    if done.returncode != 0:
        raise BenchError(f"{tag} exited {done.returncode}:\n{figures['stderr_tail']}")
    return figures


def worker_peaks(pids: list[int], reset: bool) -> dict[int, float]:
    """Each gunicorn worker's peak RSS (VmHWM, MB); reset=True starts the peaks afresh."""
    peaks = {}
    for pid in pids:
        if reset:
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            except OSError:
                pass
        try:
            match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
        except OSError:
            continue
        if match:
            peaks[pid] = round(int(match.group(1)) / 1024, 1)
    return peaks


# -- the report ---------------------------------------------------------------------------------

def request_report(lb: Any, base_url: str, admin_key: str) -> int:
    with lb.http_client(base_url, admin_key) as admin:
        response = admin.post("/reports/api/v1/reports", json={"period": PERIOD})
    if response.status_code != 202:
        raise BenchError(f"requesting the report: {response.status_code} {response.text[:500]}")
    return int(response.json()["id"])


def report_env(config: Config, base_url: str, work_dir: Path) -> dict[str, str]:
    """The reports worker's environment: the bench's database and secret, the gateway as its peers
    (PUBLIC_URL: sources go over HTTP as in production), mail to files, an embedded broker."""
    env = {k: v for k, v in os.environ.items()
           if k not in PROXY_VARIABLES and k not in ("SMTP_URL", "FUNDS_URL", "DONATIONS_URL", "REPORTS_URL")}
    env.update({"DATABASE_URL": config.database_url, "SECRET_KEY": config.secret_key, "DATABASE_ROLE_PREFIX": "",
                "PUBLIC_URL": base_url, "VAR_DIR": str(work_dir / "var-worker"), "CELERY_BROKER_URL": "filesystem://",
                "NO_PROXY": f"{LOOPBACK},localhost", "PYTHONUNBUFFERED": "1"})
    return env


def measured_run(lb: Any, config: Config, server: Any, env: dict[str, str], work_dir: Path, admin_key: str,
                 number: int, profile: bool, stopper: Any, stamp: str) -> dict[str, Any]:
    """One report, queued through the API and built in a fresh process under /usr/bin/time -v."""
    report_id = request_report(lb, server.base_url, admin_key)
    out = work_dir / f"build-{report_id}.json"
    command = [sys.executable, str(BENCH_DIR / "reports.py"), "--build-one", str(report_id), str(out)]
    pids = server.worker_pids()
    worker_peaks(pids, reset=True)
    profilers: list[Any] = []
    if profile:
        command, profilers = _profiled(lb, command, server, stopper, stamp, f"run{number}")
    gunicorn_pids = lambda: {server.process.pid, *server.worker_pids()}  # noqa: E731
    with lb.CpuSampler(gunicorn_pids, 0.5) as cpu:
        figures = timed_process(command, env, work_dir, f"build-{report_id}")
    profile_summary = lb.finish_profilers(profilers) if profilers else None
    inside = json.loads(out.read_text())
    with lb.http_client(server.base_url, admin_key) as admin:
        report = admin.get(f"/reports/api/v1/reports/{report_id}").json()
        run_log = admin.get(f"/reports/api/v1/reports/{report_id}/log").json()["items"]
    if report.get("status") != "done":
        raise BenchError(f"report {report_id} is {report.get('status')}: {report.get('error') or run_log[-1:]}")
    durations = [item["duration_ms"] for item in run_log if item.get("duration_ms") is not None]
    cpu_report = cpu.report()
    seconds = {group: round(value, 2) for group, value in cpu.seconds.items() if value >= 0.01}
    own = figures["user_s"] + figures["system_s"]
    inside["calls"] = calls_by_path(inside["calls"])
    result = {
        "run": number, "report_id": report_id, **figures, "in_process": inside,
        # Other processes' CPU over the run: the sampler's "other" group, less the report process.
        "others_cores": round(max(0.0, seconds.get("other", 0.0) - own) / max(cpu.wall, 0.001), 2),
        "run_log_duration_ms": durations[-1] if durations else None,
        "run_log": [{k: item.get(k) for k in ("from_status", "to_status", "duration_ms", "message")}
                    for item in run_log],
        "cpu_seconds": {"report process (user+sys)": round(figures["user_s"] + figures["system_s"], 2),
                        "gunicorn": seconds.get("gunicorn", 0.0), "postgres": seconds.get("postgres", 0.0)},
        "cpu": cpu_report, "gunicorn_worker_peak_rss_mb": worker_peaks(pids, reset=False),
        "files": {f["format"]: f.get("size") for f in report.get("files", [])},
        "summary": report["summary"],
    }
    if profile_summary:
        result["profile"] = profile_summary
    return result


def _profiled(lb: Any, command: list[str], server: Any, stopper: Any, stamp: str,
              tag: str) -> tuple[list[str], list[Any]]:
    """BENCH_PROFILE=1 and py-spy found: the gunicorn workers (wall clock, idle included) and the
    report process itself are sampled."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        log("BENCH_PROFILE: py-spy not found (pip install py-spy into .venv); not profiling")
        return command, []
    holder = SimpleNamespace(server=server, results={"started_at_compact": f"reports-{stamp}"}, stopper=stopper)
    profilers = lb.start_profilers(holder, tag, wall_clock=True)
    out = RESULTS_DIR / f"profile-reports-{stamp}" / f"{tag}-report-process.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    return [spy, "record", "--rate", "100", "--idle", "--format", "raw", "--output", str(out), "--",
            *command], profilers


def calls_by_path(calls: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = {}
    for call in calls:
        entry = paths.setdefault(f"{call['service']} {call['path']}", {"calls": 0, "http_s": 0.0, "bytes": 0})
        entry["calls"] += 1
        entry["http_s"] = round(entry["http_s"] + call["http_s"], 3)
        entry["bytes"] += call["bytes"]
    return paths


def phases(config: Config, env: dict[str, str], work_dir: Path, previous_id: int) -> dict[str, Any]:
    out = work_dir / "phases.json"
    figures = timed_process([sys.executable, str(BENCH_DIR / "reports.py"), "--phases", str(previous_id), str(out)],
                            env, work_dir, "phases")
    marks = json.loads(out.read_text())
    marks["process"] = figures
    for where in (marks, marks["warm"]):
        where["calls"] = calls_by_path(where["calls"])
        where["phases"] = {k: round(v, 3) for k, v in where["phases"].items()}
        where["sources"] = {k: round(v, 3) for k, v in where["sources"].items()}
    return marks


# -- the donations service's side, in-process --------------------------------------------------

def postgres_cpu_s() -> float:
    """CPU seconds used so far by the PostgreSQL processes alive now (backends and workers)."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                raw = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if raw[raw.index("(") + 1:raw.rindex(")")] in ("postgres", "postmaster"):
                rest = raw[raw.rindex(")") + 2:].split()
                ticks += int(rest[11]) + int(rest[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def donations_side(config: Config) -> dict[str, Any]:
    """The ledger's answers to the report computed here, on one snapshot, by the functions the
    donations service's internal API calls (report_facts.figures and report_facts.checks, as
    report_api does, without HTTP). Every report_facts function that takes the session is timed
    where it is called (inclusive: wall time, this process's CPU time, i.e. Python, and the
    PostgreSQL processes' CPU time), so the split follows the module as it stands."""
    import inspect

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from services.donations import report_facts
    from services.donations.report_api import as_json
    from services.reports.checks import LARGE_DONATION_FEN, PAYEE_SHARE_PERCENT
    from shared.periods import Period

    period = Period.parse(PERIOD)
    timings: dict[str, dict[str, float]] = {}
    stack: list[str] = []

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            path = " > ".join([*stack, name])
            stack.append(name)
            wall, cpu, pg = time.perf_counter(), time.process_time(), postgres_cpu_s()
            try:
                return function(*args, **kwargs)
            finally:
                stack.pop()
                entry = timings.setdefault(path, {"calls": 0, "wall_s": 0.0, "python_cpu_s": 0.0,
                                                  "postgres_cpu_s": 0.0})
                entry["calls"] += 1
                entry["wall_s"] += time.perf_counter() - wall
                entry["python_cpu_s"] += time.process_time() - cpu
                entry["postgres_cpu_s"] += postgres_cpu_s() - pg
        return wrapper

    originals = {name: function for name, function in vars(report_facts).items()
                 if inspect.isfunction(function) and function.__module__ == report_facts.__name__
                 and not inspect.isgeneratorfunction(function)
                 and next(iter(inspect.signature(function).parameters), None) == "session"}
    result: dict[str, Any] = {"functions_timed": sorted(originals)}
    engine = create_engine(config.database_url)
    try:
        for name, function in originals.items():
            setattr(report_facts, name, timed(name, function))
        with Session(engine) as session:
            report_facts.read_snapshot(session)
            snapshot = report_facts.heads(session)
            heads = [report_facts.Head(f["fund_code"], f["seq"], f["hash"]) for f in snapshot["funds"]]
            thresholds = report_facts.Thresholds(large_donation_fen=LARGE_DONATION_FEN,
                                                 payee_share_percent=PAYEE_SHARE_PERCENT)
            figures = report_facts.figures(session, heads, period.first, period.last, None, thresholds)
            checks = report_facts.checks(session, heads, None)
            session.rollback()
        for name, value in (("figures", figures), ("checks", checks)):
            began = time.perf_counter()
            body = json.dumps(as_json(value), ensure_ascii=False)
            result.setdefault("json", {})[name] = {"s": round(time.perf_counter() - began, 3),
                                                   "bytes": len(body.encode())}
    finally:
        for name, function in originals.items():
            setattr(report_facts, name, function)
        engine.dispose()
    result["timings"] = {path: {k: round(v, 3) if isinstance(v, float) else v for k, v in entry.items()}
                         for path, entry in timings.items()}
    chain_path = next((path for path in timings if path.endswith("chains")), None)
    if chain_path is not None:
        entries = sum(c.get("entries_verified") or 0 for c in checks["chains"])
        spent = timings[chain_path]
        result["chain"] = {"function": chain_path, "entries": entries,
                           "valid": all(c["valid"] for c in checks["chains"]),
                           "wall_s": round(spent["wall_s"], 3),
                           "us_per_entry": round(spent["wall_s"] / max(entries, 1) * 1e6, 1),
                           "python_us_per_entry": round(spent["python_cpu_s"] / max(entries, 1) * 1e6, 1),
                           "postgres_cpu_s": round(spent["postgres_cpu_s"], 2)}
    return result


# -- the journal and the accounting tools ---------------------------------------------------------

SHOWN = re.compile(r"(-?)(0|[1-9][0-9]*)\.([0-9]{2}) CNY")


def shown_fen(text: str) -> int:
    """A balance as the tools print it ("-1280.50 CNY", or "0"), in fen."""
    text = text.strip()
    if text == "0":
        return 0
    match = SHOWN.fullmatch(text)
    if match is None:
        raise BenchError(f"not a CNY amount with two decimals: {text!r}")
    value = int(match.group(2)) * 100 + int(match.group(3))
    return -value if match.group(1) else value


def export_journal(lb: Any, base_url: str, admin_key: str, path: Path) -> dict[str, Any]:
    began = time.perf_counter()
    with lb.http_client(base_url, admin_key, timeout=1800) as admin:
        response = admin.get("/reports/api/v1/exports", params={"period": PERIOD, "format": "journal"})
    wall = time.perf_counter() - began
    if response.status_code != 200:
        raise BenchError(f"journal export: {response.status_code} {response.text[:500]}")
    path.write_bytes(response.content)
    text = response.content.decode()
    return {"wall_s": round(wall, 2), "bytes": len(response.content), "mb": round(len(response.content) / 1e6, 1),
            "transactions": sum(1 for line in text.splitlines() if line[:4].isdigit()),
            "file_name": response.headers.get("Content-Disposition", "")}


def tool_runs(tool: str, journal: Path, work_dir: Path, runs: int) -> dict[str, Any]:
    """`tool -f FILE balance`, bare, `runs` times under /usr/bin/time -v; the median wall."""
    binary = shutil.which(tool)
    if binary is None:
        raise BenchError(f"{tool} is not installed (scripts/system-deps.sh installs it)")
    results = []
    for n in range(runs):
        figures = timed_process([binary, "-f", str(journal), "balance"], TOOL_ENV, work_dir, f"{tool}-{n}")
        if figures["stderr_tail"].strip():
            raise BenchError(f"{tool} balance wrote to stderr: {figures['stderr_tail'][:500]}")
        results.append(figures)
    walls = [r["wall_s"] for r in results]
    return {"command": f"{tool} -f FILE balance", "runs": [{k: r[k] for k in ("wall_s", "user_s", "system_s",
                                                                             "max_rss_mb")} for r in results],
            "wall_s": statistics.median(walls), "max_rss_mb": max(r["max_rss_mb"] for r in results)}


def tool_fund_balances(tool: str, journal: Path) -> dict[str, int]:
    """Every Funds:<code> balance as the tool sums it (not timed)."""
    if tool == "hledger":
        command = ["hledger", "-f", str(journal), "balance", "Funds", "--tree", "--depth", "2", "--empty",
                   "--no-total", "-O", "csv"]
    else:
        # --depth 2: every Funds:<code> (a fund with one account too, which the tree would fold).
        command = ["ledger", "-f", str(journal), "balance", "^Funds:", "--depth", "2", "--empty", "--no-total",
                   "--format", "%(account)|%(scrub(display_total))\n"]
    done = subprocess.run(command, capture_output=True, text=True, env=TOOL_ENV, timeout=600)
    if done.returncode != 0 or done.stderr:
        raise BenchError(f"{' '.join(command[:4])}: exit {done.returncode}: {done.stderr[:500]}")
    balances = {}
    if tool == "hledger":
        import csv
        import io

        for account, amount in list(csv.reader(io.StringIO(done.stdout)))[1:]:
            balances[account] = shown_fen(amount)
    else:
        for line in done.stdout.splitlines():
            account, _, amount = line.partition("|")
            balances[account] = shown_fen(amount)
    return {account.removeprefix("Funds:"): fen for account, fen in balances.items()
            if account.count(":") == 1 and account.startswith("Funds:")}


def check_tools_against_report(journal: Path, summary: dict[str, Any]) -> dict[str, Any]:
    from services.reports.sources import fen

    closing = {f["fund_code"]: fen(f["closing_balance"]) for f in summary["funds"]}
    checked: dict[str, Any] = {"funds_in_report": len(closing)}
    mismatches = []
    for tool in ("hledger", "ledger"):
        balances = tool_fund_balances(tool, journal)
        checked[f"{tool}_funds"] = len(balances)
        for code, expected in closing.items():
            got = -balances.get(code, 0)
            if got != expected:
                mismatches.append(f"{tool}: Funds:{code} negated is {got / 100:.2f}, the report says "
                                  f"{expected / 100:.2f}")
        extra = sorted(set(balances) - set(closing))
        if extra:
            mismatches.append(f"{tool}: funds the report does not have: {extra[:5]}")
    checked["total_closing"] = f"{sum(closing.values()) / 100:.2f}"
    checked["mismatches"] = mismatches[:20]
    checked["mismatch_count"] = len(mismatches)
    checked["all_equal"] = not mismatches
    return checked


# -- the results ----------------------------------------------------------------------------------

def _verdict(ok: bool) -> str:
    return "PASS" if ok else "**MISS**"


def headline(results: dict[str, Any]) -> dict[str, Any]:
    runs = results.get("report_runs") or []
    if not runs:
        return {}
    walls = [r["wall_s"] for r in runs]
    rss = [r["max_rss_mb"] for r in runs]
    wall = statistics.median(walls)
    ledger = (results.get("tools") or {}).get("ledger", {}).get("wall_s")
    ratio = (ledger / wall) if ledger and wall else None
    return {"wall_s": wall, "wall_first_s": walls[0], "max_rss_mb": max(rss),
            "wall_ok": wall <= TARGET_WALL_S, "rss_ok": max(rss) <= TARGET_RSS_MB,
            "ledger_ratio": round(ratio, 3) if ratio is not None else None,
            "ratio_ok": ratio is not None and ratio >= TARGET_VS_LEDGER}


def where_the_time_goes(results: dict[str, Any]) -> list[str]:
    """Plain sentences: the median run split by its own clocks, then the phases pass (memory,
    WeasyPrint's import, a warm worker) and the donations service's side."""
    lines: list[str] = []
    p, d = results.get("phases"), results.get("donations_side")
    runs = results.get("report_runs") or []
    if not runs:
        return lines
    typical = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
    inside = typical["in_process"]
    parts = inside.get("parts", {})
    sources = {k.removeprefix("sources."): v for k, v in parts.items() if k.startswith("sources.")}
    renders = {k: v for k, v in parts.items() if k.startswith("render ")}
    funds_questions = sources.get("funds", 0.0) + sources.get("organization", 0.0) + sources.get("fund", 0.0)
    build_content = parts.get("build_content", 0.0)
    split = [
        ("the ledger's checks: POST /internal/v1/report/checks, answered by the donations service",
         sources.get("check_inputs", 0.0)),
        ("the period's figures: POST /internal/v1/report/figures", sources.get("figures", 0.0)),
        ("the heads (POST /internal/v1/report/heads) and the funds service",
         sources.get("heads", 0.0) + funds_questions),
        ("judging the checks and assembling the content, in the report process",
         max(0.0, build_content - sum(sources.values()))),
        *[(f"rendering the {name.removeprefix('render ').upper()}"
           + (" (WeasyPrint's import included)" if name == "render pdf" else ""), seconds)
          for name, seconds in renders.items()],
        ("the run's bookkeeping: claiming, progress, storing the files, the run log",
         max(0.0, inside["build_and_deliver_s"] - build_content - sum(renders.values()) - parts.get("summary", 0.0))),
        ("imports and the app (create_app)", inside["import_s"] + inside["create_app_s"]),
        ("the interpreter's start and exit", max(0.0, typical["wall_s"] - inside["in_process_s"])),
    ]
    lines.append(f"Run {typical['run']} (the median: {typical['wall_s']:.2f} s of wall time), by its own clocks:")
    for name, seconds in sorted(split, key=lambda kv: -kv[1]):
        lines.append(f"- {name}: {seconds:.2f} s ({seconds / typical['wall_s']:.0%})")
    cpu = typical["cpu_seconds"]
    lines += ["", f"CPU over that run: the report process {cpu['report process (user+sys)']:.2f} s, gunicorn "
                  f"{cpu['gunicorn']:.2f} s, PostgreSQL {cpu['postgres']:.2f} s; other processes on the machine "
                  f"{typical.get('others_cores', 0):.2f} cores on average ({results['config']['cpus']} cores in all)."]
    if p:
        rss, ph = p.get("rss_mb", {}), p["phases"]
        if rss:
            lines.append("The report process's peak memory as the build goes on (phases pass): " + ", ".join(
                f"{name} {mb:.0f} MB" for name, mb in rss.items()) + f"; importing WeasyPrint takes "
                f"{ph.get('import weasyprint', 0):.2f} s of the first PDF.")
        warm = p.get("warm")
        if warm:
            wp, ws = warm["phases"], warm["sources"]
            lines.append(f"A worker already up (imports done, WeasyPrint loaded: the phases pass building the same "
                         f"report a second time) takes {wp['total_s']:.2f} s without the bookkeeping: the ledger's "
                         f"checks {ws.get('check_inputs', 0):.2f} s, figures {ws.get('figures', 0):.2f} s, PDF "
                         f"{wp.get('render pdf', 0):.2f} s, XLSX {wp.get('render xlsx', 0):.2f} s, CSV "
                         f"{wp.get('render csv', 0):.2f} s.")
    if d:
        timings = d.get("timings", {})
        top = sorted(((path, t) for path, t in timings.items() if " > " in path), key=lambda kv: -kv[1]["wall_s"])
        if top:
            lines.append("Inside the donations service (report_facts.figures and .checks called in-process on one "
                         "snapshot), the costliest parts: " + "; ".join(
                             f"{path.split(' > ')[-1]} {t['wall_s']:.2f} s (Python {t['python_cpu_s']:.2f} s, "
                             f"PostgreSQL {t['postgres_cpu_s']:.2f} s)" for path, t in top[:4]) + ".")
        ch = d.get("chain")
        if ch:
            lines.append(f"The hash chains: {ch['entries']:,} entries re-verified on every report, "
                         f"{ch['us_per_entry']:.0f} µs an entry, of which {ch['python_us_per_entry']:.0f} µs is "
                         f"Python CPU (rows to entries, each entry's document text and SHA-256) on one thread of one "
                         f"gunicorn worker, and PostgreSQL {ch['postgres_cpu_s']:.1f} s of CPU reading them.")
    return lines


def markdown(results: dict[str, Any]) -> str:
    c, h = results["config"], headline(results)
    rows: list[tuple[str, str, str, str]] = []
    ledger = results.get("ledger", {})
    if ledger:
        rows.append(("ledger: journal entries (donations / reversals / payments)",
                     f"{ledger['journal_entries']:,} ({ledger['donations']:,} / {ledger['reversals']:,} / "
                     f"{ledger['payments']:,})", "1,000,000", ""))
        rows.append(("ledger: funds, years; postings", f"{ledger['funds']} ({results['fixture']['restricted']} "
                     f"restricted), {FIRST_DAY}..{LAST_DAY}; {ledger['postings']:,}", "200, 3 years", ""))
        rows.append(("2026-Q3: entries in the quarter", f"{ledger['entries_in_period']:,}", "", ""))
    load = results.get("load", {})
    if load.get("batch"):
        b = load["batch"]
        rows.append((f"load: {b['rows']:,} donations through POST /donations/batch ({c['chunk']:,} rows a request, "
                     f"{c['batch_threads']} threads)", f"{b['wall_s']:.1f} s ({b['rows_per_s']:,.0f} rows/s)", "", ""))
    if load.get("disbursements"):
        rows.append((f"load: {load['disbursements']['count']:,} disbursements (request, approve, pay; "
                     f"{c['api_threads']} threads)", f"{load['disbursements']['wall_s']:.1f} s", "", ""))
    if load.get("reversals"):
        rows.append((f"load: {load['reversals']['count']} reversals", f"{load['reversals']['wall_s']:.1f} s", "", ""))
    if load.get("vacuum_analyze_s") is not None:
        rows.append(("VACUUM (ANALYZE) after the load", f"{load['vacuum_analyze_s']:.1f} s", "", ""))
    for r in results.get("report_runs") or []:
        rows.append((f"report {PERIOD}, all funds, run {r['run']} (report {r['report_id']}): wall / peak RSS",
                     f"{r['wall_s']:.2f} s / {r['max_rss_mb']:.0f} MB", "", ""))
    if h:
        rows.append(("**report: wall time of the whole run** (median of the runs; fresh process, PDF+XLSX+CSV)",
                     f"**{h['wall_s']:.2f} s**", f"<= {TARGET_WALL_S:.0f} s", _verdict(h["wall_ok"])))
        rows.append(("**report: peak memory (max RSS)** (largest of the runs)", f"**{h['max_rss_mb']:.0f} MB**",
                     f"<= {TARGET_RSS_MB:.0f} MB", _verdict(h["rss_ok"])))
    tools = results.get("tools") or {}
    exp = results.get("export")
    if exp:
        rows.append((f"journal export GET /reports/api/v1/exports?period={PERIOD}&format=journal",
                     f"{exp['wall_s']:.2f} s ({exp['mb']} MB, {exp['transactions']:,} transactions)", "", ""))
    for tool in ("hledger", "ledger"):
        t = tools.get(tool)
        if t:
            rows.append((f"`{t['command']}` (median of {len(t['runs'])}): wall / peak RSS",
                         f"{t['wall_s']:.2f} s / {t['max_rss_mb']:.0f} MB", "", ""))
    if h and h.get("ledger_ratio") is not None:
        rows.append(("**ledger-cli wall / report wall**", f"**{h['ledger_ratio']:.2f}x**",
                     f">= {TARGET_VS_LEDGER:.0f}x", _verdict(h["ratio_ok"])))
    check = results.get("tools_check")
    if check:
        rows.append(("hledger and ledger-cli: Funds:<code> negated = the report's closing balance",
                     f"{check['funds_in_report']} funds, {check['mismatch_count']} mismatches", "0",
                     "PASS" if check["all_equal"] else "**FAIL**"))
    lines = [f"# Reports benchmark {results['started_at']}", "",
             f"commit `{results['commit']}`"
             + (f" (with uncommitted changes to {', '.join(results['uncommitted'])})" if results.get("uncommitted")
                else "") + f", {c['cpus']} CPUs, PostgreSQL {results.get('postgres', '?')}, "
             f"gunicorn gthread {c['workers']} workers x {c['threads']} threads; hledger {results.get('hledger_version')}, "
             f"{results.get('ledger_version')}.", "",
             "| measurement | value | target | |", "|---|---|---|---|",
             *[f"| {m} | {v} | {t} | {ok} |" for m, v, t, ok in rows], ""]
    runs = results.get("report_runs") or []
    if runs:
        lines += ["## The measured runs", "",
                  "| run | wall (time -v) | peak RSS | checks / figures / PDF | report process CPU | gunicorn CPU | "
                  "PostgreSQL CPU | others' cores | run log duration | imports / app / build_and_deliver |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in runs:
            cpu, ins = r["cpu_seconds"], r["in_process"]
            parts = ins.get("parts", {})
            lines.append(f"| {r['run']} | {r['wall_s']:.2f} s | {r['max_rss_mb']:.0f} MB | "
                         f"{parts.get('sources.check_inputs', 0):.2f} / {parts.get('sources.figures', 0):.2f} / "
                         f"{parts.get('render pdf', 0):.2f} s | "
                         f"{cpu['report process (user+sys)']:.2f} s | {cpu['gunicorn']:.2f} s | {cpu['postgres']:.2f} s | "
                         f"{r.get('others_cores', 0):.2f} | {(r['run_log_duration_ms'] or 0) / 1000:.2f} s | "
                         f"{ins['import_s']:.2f} / {ins['create_app_s']:.2f} / {ins['build_and_deliver_s']:.2f} s |")
        lines += ["", "Run 1 is the scope's first report; the others follow a finished one (as a quarter's report "
                      "follows the last), which adds the late-entry and previous-head questions. \"others' cores\": "
                      "CPU used meanwhile by processes that are not the bench's (other work on the machine).", "",
                  "## Where the time goes", "", *where_the_time_goes(results), ""]
    p = results.get("phases")
    if p:
        lines += ["The phases pass: the same build in another fresh process, phase by phase (`sources.*`: each "
                  "question to the other services, HTTP and JSON included):", "",
                  "| phase | seconds | peak RSS after |", "|---|---|---|"]
        rss = p.get("rss_mb", {})
        for name, seconds in p["phases"].items():
            after = rss.get(f"after {name.removeprefix('render ')}" if name.startswith("render ") else f"after {name}")
            lines.append(f"| {name} | {seconds:.3f} | {'' if after is None else f'{after:.0f} MB'} |")
        for name, seconds in p["sources"].items():
            lines.append(f"| sources.{name} | {seconds:.3f} | |")
        lines += ["", "| internal call | calls | seconds | bytes |", "|---|---|---|---|"]
        for path, call in sorted(p["calls"].items(), key=lambda kv: -kv[1]["http_s"]):
            lines.append(f"| {path} | {call['calls']} | {call['http_s']:.3f} | {call['bytes']:,} |")
        lines.append("")
    d = results.get("donations_side")
    if d:
        lines += ["The donations service's side: `report_facts.figures` and `report_facts.checks` called "
                  "in-process on one snapshot, as report_api calls them; every report_facts function that takes "
                  "the session, timed where it is called (inclusive):", "",
                  "| function | calls | wall s | Python CPU s | PostgreSQL CPU s |", "|---|---|---|---|---|"]
        for path, t in d.get("timings", {}).items():
            lines.append(f"| {path} | {t['calls']} | {t['wall_s']:.3f} | {t['python_cpu_s']:.3f} | "
                         f"{t['postgres_cpu_s']:.2f} |")
        if d.get("json"):
            lines += ["", "Writing the answers as JSON (as_json and the encoder): " + ", ".join(
                f"{k} {v['s']:.2f} s ({v['bytes']:,} bytes)" for k, v in d["json"].items()) + "."]
        lines.append("")
    verdicts = []
    if h:
        verdicts.append(f"- wall time <= {TARGET_WALL_S:.0f} s: {'met' if h['wall_ok'] else 'missed'} "
                        f"({h['wall_s']:.2f} s)")
        verdicts.append(f"- peak memory <= {TARGET_RSS_MB:.0f} MB: {'met' if h['rss_ok'] else 'missed'} "
                        f"({h['max_rss_mb']:.0f} MB)")
        if h.get("ledger_ratio") is not None:
            verdicts.append(f"- at least {TARGET_VS_LEDGER:.0f}x as fast as ledger-cli's bare balance: "
                            f"{'met' if h['ratio_ok'] else 'missed'} (ledger-cli {tools['ledger']['wall_s']:.2f} s, "
                            f"the report {h['wall_s']:.2f} s: {h['ledger_ratio']:.2f}x)")
    if verdicts:
        lines += ["## Targets", "", *verdicts, ""]
    notes = results.get("notes") or []
    if notes:
        lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    if results["errors"]:
        lines += ["## Errors", "", *[f"- {e}" for e in results["errors"]], ""]
    return "\n".join(lines)


def write_results(results: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"reports-{results['started_at_compact']}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    text = markdown(results)
    (RESULTS_DIR / "reports-latest.md").write_text(text)
    print("\n" + text)
    log(f"results: {path.relative_to(REPO_ROOT)} and bench/results/reports-latest.md")
    return path


def _version(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, env=TOOL_ENV,
                              timeout=30).stdout.splitlines()[0].strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def _uncommitted() -> list[str]:
    """The services' and shared files that differ from the commit measured (others work in this tree)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "services", "shared"],
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line[3:] for line in out.splitlines() if line.strip()]


def ledger_size(config: Config) -> dict[str, Any]:
    (entries, donations, reversals, payments, postings, funds, in_period) = _sql_all(config, """
        SELECT (SELECT count(*) FROM donations.journal_entry),
               (SELECT count(*) FROM donations.journal_entry WHERE kind = 'donation'),
               (SELECT count(*) FROM donations.journal_entry WHERE kind = 'reversal'),
               (SELECT count(*) FROM donations.journal_entry WHERE kind = 'disbursement'),
               (SELECT count(*) FROM donations.posting),
               (SELECT count(*) FROM donations.fund_ledger),
               (SELECT count(*) FROM donations.journal_entry WHERE effective_on BETWEEN '2026-07-01' AND '2026-09-30')
    """)[0]
    return {"journal_entries": entries, "donations": donations, "reversals": reversals, "payments": payments,
            "postings": postings, "funds": funds, "entries_in_period": in_period}


# -- main ---------------------------------------------------------------------------------------

def main() -> int:
    import run as lb  # bench/run.py: gunicorn, CPU accounting, batches

    lb.log = log  # one voice in the output
    if not Path("/usr/bin/time").exists():
        raise BenchError("/usr/bin/time is not installed (Debian package time)")
    config = Config.from_env()
    started = dt.datetime.now(dt.UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    results: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"), "started_at_compact": stamp,
        "commit": lb._commit(), "uncommitted": _uncommitted(), "host": platform.node(),
        "python": platform.python_version(), "hledger_version": _version(["hledger", "--version"]), "ledger_version": _version(["ledger", "--version"]),
        "config": {"cpus": os.cpu_count(), "workers": config.workers, "threads": config.threads,
                   "entries": config.entries, "funds": config.funds, "chunk": config.chunk,
                   "batch_threads": config.batch_threads, "disbursements": config.disbursements,
                   "reversals": config.reversals, "api_threads": config.api_threads,
                   "report_runs": config.report_runs, "tool_runs": config.tool_runs, "vacuum": config.vacuum,
                   "period": PERIOD, "database": config.db.render_as_string(hide_password=True)},
        "targets": {"wall_s": TARGET_WALL_S, "max_rss_mb": TARGET_RSS_MB, "vs_ledger_cli": TARGET_VS_LEDGER},
        "errors": [], "notes": [],
    }
    stopper = lb.Stopper()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lb._raise_interrupt)
    signal.signal(signal.SIGHUP, lb._raise_interrupt)
    work_dir = Path(tempfile.mkdtemp(prefix="charity-reports-bench-"))
    stopper.push("work dir", lambda: shutil.rmtree(work_dir, ignore_errors=True))
    server = None
    try:
        run_id = secrets.token_hex(3).upper()
        log(f"planning {config.donations:,} donations over {config.funds} funds, {FIRST_DAY}..{LAST_DAY}")
        began = time.perf_counter()
        plan = plan_ledger(config, run_id)
        log(f"{len(plan.chunks)} CSV chunks, {plan.csv_mb} MB, in {time.perf_counter() - began:.1f} s "
            f"({plan.donors:,} donors, {plan.anonymous:,} anonymous gifts, {plan.in_kind:,} in kind, "
            f"{plan.large} large, {plan.structuring} split)")
        results["plan"] = {"csv_mb": plan.csv_mb, "chunks": len(plan.chunks), "donor_pool": plan.donors,
                           "anonymous": plan.anonymous, "in_kind": plan.in_kind, "large": plan.large,
                           "split": plan.structuring, "dormant_funds": plan.dormant_funds}

        lb.recreate_database(config)
        if not config.keep_db:
            stopper.push("database", lambda: lb.drop_database(config))
        results["postgres"] = _sql_all(config, "SHOW server_version")[0][0]
        results["postgres_settings"] = dict(_sql_all(config, "SELECT name, setting FROM pg_settings WHERE name = "
                                                             "ANY(%s)", (["autovacuum", "shared_buffers",
                                                                          "work_mem", "max_connections"],)))
        admin_key = "cfk_bench-" + secrets.token_urlsafe(24)
        env = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
        env.update({"DATABASE_URL": config.database_url, "SECRET_KEY": config.secret_key, "DATABASE_ROLE_PREFIX": "",
                    "BOOTSTRAP_ADMIN_API_KEY": admin_key, "VAR_DIR": str(work_dir / "var"),
                    # Reports asked for through the API are queued here and built by the bench, never
                    # by a worker listening on another broker.
                    "CELERY_BROKER_URL": "filesystem://", "PYTHONUNBUFFERED": "1"})
        env.pop("SMTP_URL", None)
        server = lb.start_server(config, env, work_dir, stopper)
        fixture = set_up(lb, server.base_url, admin_key, plan)
        results["fixture"] = {"organization_id": fixture.organization_id, "funds": len(fixture.fund_codes),
                              "restricted": fixture.restricted}
        quiet = lb.QuietGate(config.quiet_wait, lambda: {server.process.pid, *server.worker_pids()})
        results["machine"] = quiet.seen

        # -- load ----------------------------------------------------------------------------
        results["load"] = {}
        rows = sum(n for n, _ in plan.chunks)
        log(f"load: {rows:,} donations in {len(plan.chunks)} requests from {config.batch_threads} threads")
        with lb.CpuSampler(lambda: {server.process.pid, *server.worker_pids()}) as cpu, LoadProgress(config, rows):
            sent = lb.post_batches(server.base_url, fixture.requester_key, plan.chunks, config.batch_threads)
        plan.chunks = []  # 100+ MB the rest of the run does not need
        if sent["problems"] or sent["recorded"] != rows:
            raise BenchError(f"load: {sent['recorded']:,}/{rows:,} recorded; {sent['problems'][:3]}")
        results["load"]["batch"] = {"rows": rows, "wall_s": round(sent["wall_s"], 1),
                                    "rows_per_s": round(rows / sent["wall_s"]), "requests": sent["requests"],
                                    "request_latency": sent["request_latency"], "cpu": cpu.report()}
        log(f"load: {rows:,} rows in {sent['wall_s']:.1f} s = {rows / sent['wall_s']:,.0f} rows/s")
        log(f"disbursements: {config.disbursements:,} (request, approve, pay) from {config.api_threads} threads")
        results["load"]["disbursements"] = load_disbursements(lb, config, server.base_url, fixture)
        log(f"disbursements: {results['load']['disbursements']['wall_s']} s; reversals: {config.reversals}")
        results["load"]["reversals"] = load_reversals(lb, config, server.base_url, fixture)
        paid_on = results["load"]["disbursements"].get("paid_on")
        results["notes"].append(
            f"The ledger's API dates a payment on or after its approval and a reversal on its day of posting, so "
            f"the {config.disbursements:,} payments and {config.reversals} reversals are dated {paid_on}, after "
            f"{PERIOD}: the quarter's figures hold donations only, while the checks (hash chains, four eyes, "
            f"balances, receipts) cover them all.")
        if config.vacuum:
            log("VACUUM (ANALYZE): what autovacuum (off on this server) would have done after the load")
            results["load"]["vacuum_analyze_s"] = vacuum_analyze(config)
        results["ledger"] = ledger_size(config)
        results["database_size_mb"] = round(_sql_all(config, "SELECT pg_database_size(current_database())")[0][0] / 1e6)
        log(f"ledger: {results['ledger']}")

        # -- the measured report runs ------------------------------------------------------
        renv = report_env(config, server.base_url, work_dir)
        results["report_runs"] = []
        for number in range(1, config.report_runs + 1):
            quiet.wait(f"report run {number}")
            result = measured_run(lb, config, server, renv, work_dir, admin_key, number,
                                  config.profile and number == 1, stopper, stamp)
            results["report_runs"].append(result)
            log(f"report run {number} (report {result['report_id']}): wall {result['wall_s']:.2f} s, peak RSS "
                f"{result['max_rss_mb']:.0f} MB, run log {result['run_log_duration_ms']} ms; CPU s "
                f"{result['cpu_seconds']}")
        last = results["report_runs"][-1]

        # -- where the time goes --------------------------------------------------------------
        quiet.wait("phases")
        log("phases: the build again, phase by phase, in a fresh process")
        results["phases"] = phases(config, renv, work_dir, last["report_id"])
        log(f"phases: {results['phases']['phases']}; sources {results['phases']['sources']}")
        quiet.wait("donations side")
        log("the donations service's side, query by query, in-process")
        results["donations_side"] = donations_side(config)
        log(f"donations side: chain {results['donations_side'].get('chain')}")

        # -- the journal, hledger and ledger-cli ------------------------------------------------
        journal = work_dir / f"ledger-{PERIOD}-all.journal"
        quiet.wait("export")
        results["export"] = export_journal(lb, server.base_url, admin_key, journal)
        log(f"journal export: {results['export']}")
        results["tools"] = {}
        for tool in ("hledger", "ledger"):
            quiet.wait(tool)
            results["tools"][tool] = tool_runs(tool, journal, work_dir, config.tool_runs)
            log(f"{tool}: {results['tools'][tool]}")
        results["tools_check"] = check_tools_against_report(journal, last["summary"])
        if not results["tools_check"]["all_equal"]:
            results["errors"].append(f"hledger/ledger-cli balances differ from the report's closing balances: "
                                     f"{results['tools_check']['mismatches'][:5]}")
        log(f"tools vs report: {results['tools_check']['mismatch_count']} mismatches over "
            f"{results['tools_check']['funds_in_report']} funds")
        results["headline"] = headline(results)
    except KeyboardInterrupt:
        log("interrupted: stopping what was started")
        stopper.stop_all()
        return 130
    except (BenchError, lb.BenchError) as error:
        results["errors"].append(str(error))
        log(f"FAILED: {error}")
    except Exception as error:  # still stop everything, still report
        traceback.print_exc()
        results["errors"].append(f"{type(error).__name__}: {error}")
    finally:
        if server is not None:
            results["gunicorn_log_tail"] = server.log_tail(20)
        stopper.stop_all()
    for run in results.get("report_runs") or []:
        run.pop("summary", None)  # kept in the database; the JSON keeps the figures
    write_results(results)
    if results["errors"]:
        log(f"{len(results['errors'])} error(s): see above")
        return 1
    return 0


class LoadProgress:
    """A line every `every` seconds while the load runs: entries in the ledger so far (the funds'
    entry counts: 200 rows to read, not a count over a growing table)."""

    def __init__(self, config: Config, total: int, every: float = 10.0) -> None:
        self.config = config
        self.total = total
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load-progress", daemon=True)

    def _run(self) -> None:
        import psycopg

        from shared.postgres import libpq_dsn

        began = time.perf_counter()
        try:
            with psycopg.connect(libpq_dsn(self.config.db), autocommit=True) as connection:
                while not self._stop.wait(self.every):
                    done = connection.execute("SELECT coalesce(sum(entry_count), 0) FROM donations.fund_ledger"
                                              ).fetchone()[0]
                    elapsed = time.perf_counter() - began
                    log(f"load: {done:,}/{self.total:,} entries after {elapsed:.0f} s ({done / elapsed:,.0f}/s)")
        except psycopg.Error as error:
            log(f"load progress: {error}")

    def __enter__(self) -> LoadProgress:
        self._thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--build-one":
        sys.exit(child_build_one(int(sys.argv[2]), Path(sys.argv[3])))
    if len(sys.argv) == 4 and sys.argv[1] == "--phases":
        sys.exit(child_phases(int(sys.argv[2]), Path(sys.argv[3])))
    try:
        sys.exit(main())
    except BenchError as error:
        log(f"FAILED: {error}")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
