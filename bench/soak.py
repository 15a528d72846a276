"""`make bench` (third part): ten minutes of mixed traffic at a steady rate.

    .venv/bin/python bench/soak.py          # BENCH_SUITES=soak make bench

On a fresh database (charity_soak, dropped and recreated), the gateway under
gunicorn and the reports worker with beat, as `make run` starts them, take a
steady stream of requests for BENCH_SOAK_SECONDS (600): arrivals on a fixed
clock (BENCH_SOAK_RATE a second, open loop: a slow answer does not slow the
arrivals), spread over what the three kinds of users do:

  donate     POST /donations with an Idempotency-Key; one in ten sent twice (the replay
             must answer the same donation)
  balance    GET /funds/{code}/balance
  statement  GET /funds/{code}/statement for the month, of a fund only read during the run
  list       GET /donations?fund_code=&limit=50
  batch      POST /donations/batch, 50 CSV rows
  disburse   request, approve (another key), pay: three calls
  reverse    POST /donations/{id}/reverse of one of its own earlier donations
  page       a fund manager's pages: the funds home, the donations home, the read fund's
             statement, reports
  report     once a minute: POST /reports for the read fund's month, then polled until done

Money moves on four funds; a fifth (SOAK-R, 2,000 entries made before the clock starts) is
only read (statements, its statement page, its reports), so that a read costs the same at the
end as at the start: the soak looks for leaks and drift under steady work, not for the cost of
a growing ledger, which bench/run.py and bench/reports.py measure.

Every BENCH_SOAK_SAMPLE (5) seconds it reads the resident memory of every process
(gunicorn's master and workers, the Celery worker and its children). The run is
cut in windows of BENCH_SOAK_WINDOW (60) seconds; the first is warm-up. Flat means:
zero errors; every process group's memory in the last window within 10% (and
30 MB) of the first measured one; p50 and p99 of the last window within 1.5x of
the first measured one. Afterwards the ledger is checked: trial balance, every
fund's hash chain, receipts without gaps, and every donation answered 201
recorded exactly once.

Results go to bench/results/soak-<timestamp>.json and bench/results/soak-latest.md.
Everything it starts is stopped on exit, Ctrl-C or failure. It talks to 127.0.0.1 only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import queue
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter, deque
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

import run as lb  # noqa: E402  bench/run.py: gunicorn, databases, percentiles

RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_DATABASE_URL = f"postgresql+psycopg://postgres@{lb.LOOPBACK}:5432/charity_soak"
API = "/donations/api/v1"
FUNDS = ("SOAK-A", "SOAK-B", "SOAK-C", "SOAK-D")   # money comes in and goes out here
# Read only during the run, so that what reads it costs the same at the end as at the start:
# the soak looks for leaks and drift, not for the cost of a growing ledger (bench/run.py's part).
READ_FUND = "SOAK-R"
READ_FUND_ENTRIES = 2000
# Clients drop an idle connection before gunicorn does (its keep-alive is 2 s): a request sent
# on a connection the server is closing would be reset, through no fault of either.
CLIENT_LIMITS = httpx.Limits(keepalive_expiry=1.0)
# Operation: weight (per hundred arrivals).
MIX = {"donate": 36, "balance": 18, "statement": 8, "list": 8, "batch": 4, "disburse": 6,
       "reverse": 3, "page": 17}
GROWTH_LIMIT = 0.10       # memory: the last window within 10% of the first measured one ...
GROWTH_FLOOR_MB = 30.0    # ... or within 30 MB, whichever is more lenient for small processes
LATENCY_LIMIT = 1.5       # p50 and p99: the last window within 1.5x of the first measured one


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class Config:
    database_url: str
    seconds: int
    rate: float
    window: int
    sample: int
    clients: int
    keep_db: bool
    # The server's SECRET_KEY; the migrations derive the services' role passwords from it.
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @classmethod
    def from_env(cls) -> Config:
        config = cls(
            database_url=os.environ.get("BENCH_SOAK_DATABASE_URL") or DEFAULT_DATABASE_URL,
            seconds=lb._int("BENCH_SOAK_SECONDS", 600, minimum=30),
            rate=float(os.environ.get("BENCH_SOAK_RATE") or 25),
            window=lb._int("BENCH_SOAK_WINDOW", 60, minimum=5),
            sample=lb._int("BENCH_SOAK_SAMPLE", 5),
            clients=lb._int("BENCH_SOAK_CLIENTS", 24),
            keep_db=os.environ.get("BENCH_KEEP_DB") == "1",
        )
        if not 0 < config.rate <= 500:
            raise lb.BenchError("BENCH_SOAK_RATE: requests a second, 0 < rate <= 500")
        if config.seconds < 3 * config.window:
            raise lb.BenchError("BENCH_SOAK_SECONDS must hold at least three windows (BENCH_SOAK_WINDOW)")
        host = lb.make_url(config.database_url).host
        if host not in (lb.LOOPBACK, "localhost", None):
            raise lb.BenchError("the soak talks to 127.0.0.1 only: BENCH_SOAK_DATABASE_URL must be local")
        return config

    @property
    def db(self) -> Any:
        return lb.make_url(self.database_url)


# -- what the clients record --------------------------------------------------------------------

@dataclass
class Sample:
    at: float          # seconds since the start, when the request was due
    operation: str
    latency_s: float   # from the moment it was due: a late start counts (no coordinated omission)
    ok: bool


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: list[Sample] = []
        self.errors: list[str] = []
        self.recorded_ids: Counter[int] = Counter()   # donation ids answered 201 (or replayed)
        self.batch_rows = 0
        self.replays = 0
        self.reports: list[dict[str, Any]] = []

    def add(self, sample: Sample, error: str | None = None) -> None:
        with self.lock:
            self.samples.append(sample)
            if error is not None and len(self.errors) < 200:
                self.errors.append(f"{sample.at:7.1f}s {sample.operation}: {error}")


class Unexpected(Exception):
    pass


def expect(response: httpx.Response, status: int, what: str) -> dict[str, Any]:
    if response.status_code != status:
        raise Unexpected(f"{what}: {response.status_code} {response.text[:200]}")
    return response.json() if response.headers.get("content-type", "").endswith("json") else {}


# -- the traffic ----------------------------------------------------------------------------------

class Traffic:
    """What one client thread does, one operation per arrival."""

    def __init__(self, base: str, keys: dict[str, str], admin_password: str, tally: Tally,
                 donations: deque[int], lock: threading.Lock, seed: int) -> None:
        self.clerk = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys['clerk']}"},
                                  timeout=60, trust_env=False, limits=CLIENT_LIMITS)
        self.approver = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys['approver']}"},
                                     timeout=60, trust_env=False, limits=CLIENT_LIMITS)
        self.browser = httpx.Client(base_url=base, timeout=60, trust_env=False, follow_redirects=True,
                                    limits=CLIENT_LIMITS)
        self.admin_password = admin_password
        self.tally, self.donations, self.lock = tally, donations, lock
        self.random = random.Random(seed)
        self.logged_in = False
        self.today = dt.date.today()

    def close(self) -> None:
        for client in (self.clerk, self.approver, self.browser):
            client.close()

    def fund(self) -> str:
        return self.random.choice(FUNDS)

    def donation_body(self) -> dict[str, Any]:
        amount = f"{self.random.randint(1, 5000)}.{self.random.randint(0, 99):02d}"
        return {"fund_code": self.fund(), "amount": amount, "currency": "CNY",
                "donor": {"name": f"捐赠人{self.random.randint(1, 9999)}", "kind": "individual",
                          "anonymous": self.random.random() < 0.1},
                "received_on": self.today.isoformat(), "channel": "bank", "purpose": "助学"}

    def donate(self) -> None:
        body, key = self.donation_body(), uuid.uuid4().hex
        first = expect(self.clerk.post(f"{API}/donations", json=body, headers={"Idempotency-Key": key}),
                       201, "donation")
        with self.lock:
            self.tally.recorded_ids[first["id"]] += 1
            self.donations.append(first["id"])
        if self.random.random() < 0.1:
            again = expect(self.clerk.post(f"{API}/donations", json=body, headers={"Idempotency-Key": key}),
                           201, "replayed donation")
            if again["id"] != first["id"]:
                raise Unexpected(f"replay answered donation {again['id']}, not {first['id']}")
            with self.lock:
                self.tally.replays += 1

    def balance(self) -> None:
        expect(self.clerk.get(f"{API}/funds/{self.fund()}/balance"), 200, "balance")

    def statement(self) -> None:
        start = self.today.replace(day=1).isoformat()
        expect(self.clerk.get(f"{API}/funds/{READ_FUND}/statement",
                              params={"from": start, "to": self.today.isoformat()}), 200, "statement")

    def list(self) -> None:
        expect(self.clerk.get(f"{API}/donations", params={"fund_code": self.fund(), "limit": 50}), 200, "list")

    def batch(self) -> None:
        lines = [lb.CSV_HEADER]
        for _ in range(50):
            lines.append(f"{self.fund()},{self.random.randint(1, 900)}.00,CNY,企业{self.random.randint(1, 99)},"
                         f"enterprise,false,{self.today.isoformat()},bank,助学,SOAK-{uuid.uuid4().hex}\n")
        response = self.clerk.post(f"{API}/donations/batch", content="".join(lines).encode(),
                                   headers={"Content-Type": "text/csv"})
        results = expect(response, 200, "batch")["results"]
        recorded = [row["donation"]["id"] for row in results if row["status"] == "recorded"]
        if len(recorded) != 50:
            raise Unexpected(f"batch recorded {len(recorded)} of 50: {results[:2]}")
        with self.lock:
            self.tally.batch_rows += 50
            for donation_id in recorded:
                self.tally.recorded_ids[donation_id] += 1

    def disburse(self) -> None:
        body = {"fund_code": self.fund(), "amount": f"{self.random.randint(1, 50)}.00",
                "payee": "铜陵市某村委会", "purpose": "修路"}
        requested = expect(self.clerk.post(f"{API}/disbursements", json=body), 201, "disbursement request")
        expect(self.approver.post(f"{API}/disbursements/{requested['id']}/approve"), 200, "approval")
        expect(self.clerk.post(f"{API}/disbursements/{requested['id']}/pay", json={
            "paid_on": self.today.isoformat(), "bank_reference": f"SOAK-{requested['id']}"}), 200, "payment")

    def reverse(self) -> None:
        with self.lock:
            donation_id = self.donations.popleft() if self.donations else None
        if donation_id is None:
            return self.balance()
        response = self.clerk.post(f"{API}/donations/{donation_id}/reverse", json={"reason": "录入错误"})
        # 409 is an honest answer when the fund cannot give the money back (already paid out).
        if response.status_code == 409:
            return None
        expect(response, 200, "reversal")
        return None

    def page(self) -> None:
        if not self.logged_in:
            login = self.browser.get("/funds/login")
            token = re.search(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', login.text)
            if not token:
                raise Unexpected("login page without a CSRF token")
            response = self.browser.post("/funds/login", data={
                "username": "admin", "password": self.admin_password, "csrf_token": token.group(1)})
            if response.status_code != 200 or "/login" in str(response.url):
                raise Unexpected(f"login: {response.status_code} {response.url}")
            self.logged_in = True
        path = self.random.choice(["/funds/", "/donations/", f"/donations/funds/{READ_FUND}/statement",
                                   "/reports/"])
        response = self.browser.get(path)
        if response.status_code != 200:
            raise Unexpected(f"page {path}: {response.status_code}")


def report_loop(base: str, key: str, tally: Tally, stop: threading.Event, began: float) -> None:
    """Once a minute, the read fund's report for the month, polled until it is done."""
    period = dt.date.today().strftime("%Y-%m")
    turn = 0
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60,
                      trust_env=False, limits=CLIENT_LIMITS) as client:
        while not stop.wait(0 if turn == 0 else 60):
            fund = READ_FUND
            turn += 1
            asked = time.monotonic()
            try:
                run = expect(client.post("/reports/api/v1/reports", json={"period": period, "fund_code": fund}),
                             202, "report")
                while run["status"] in ("queued", "running"):
                    if time.monotonic() - asked > 120:
                        raise Unexpected(f"report {run['id']} still {run['status']} after 120 s")
                    time.sleep(0.5)
                    run = expect(client.get(f"/reports/api/v1/reports/{run['id']}"), 200, "report")
                if run["status"] != "done":
                    raise Unexpected(f"report {run['id']} {run['status']}: {run.get('error')}")
                tally.reports.append({"id": run["id"], "fund": fund, "at_s": round(asked - began, 1),
                                      "seconds": round(time.monotonic() - asked, 2)})
            except (Unexpected, httpx.HTTPError) as error:
                with tally.lock:
                    tally.errors.append(f"{asked - began:7.1f}s report: {error}")


def drive(config: Config, base: str, keys: dict[str, str], admin_password: str, tally: Tally,
          memory: MemorySampler) -> float:
    """Arrivals at a fixed rate for config.seconds; the measured wall time."""
    arrivals: queue.Queue[tuple[float, str] | None] = queue.Queue()
    donations: deque[int] = deque(maxlen=5000)
    lock = threading.Lock()
    operations = [name for name, weight in MIX.items() for _ in range(weight)]
    began = time.monotonic()
    stop = threading.Event()

    def client(seed: int) -> None:
        traffic = Traffic(base, keys, admin_password, tally, donations, lock, seed)
        try:
            while (item := arrivals.get()) is not None:
                due, operation = item
                error = None
                try:
                    getattr(traffic, operation)()
                except (Unexpected, httpx.HTTPError) as failure:
                    error = str(failure) or type(failure).__name__
                tally.add(Sample(due - began, operation, time.monotonic() - due, error is None), error)
        finally:
            traffic.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(config.clients)]
    reporter = threading.Thread(target=report_loop, args=(base, keys["clerk"], tally, stop, began), daemon=True)
    for thread in threads + [reporter]:
        thread.start()
    pick = random.Random(7)
    count = int(config.seconds * config.rate)
    for i in range(count):
        due = began + i / config.rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        arrivals.put((due, pick.choice(operations)))
        if i % int(config.rate * config.window) == 0 and i:
            done = len(tally.samples)
            log(f"{i / config.rate:5.0f} s: {done:,} answered, {arrivals.qsize()} waiting, "
                f"{len(tally.errors)} errors, {memory.latest_text()}")
    for _ in threads:
        arrivals.put(None)
    for thread in threads:
        thread.join(timeout=120)
    stop.set()
    reporter.join(timeout=150)
    return time.monotonic() - began


# -- memory -----------------------------------------------------------------------------------------

def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class MemorySampler(threading.Thread):
    """Resident memory of each process the soak started, every `interval` seconds."""

    def __init__(self, roots: dict[str, int], interval: int, began: float) -> None:
        super().__init__(daemon=True)
        self.roots, self.interval, self.began = roots, interval, began
        self.series: list[dict[str, Any]] = []
        self.stopped = threading.Event()

    def processes(self) -> dict[str, int]:
        named: dict[str, int] = {}
        for name, root in self.roots.items():
            named[f"{name} master"] = root
            for n, pid in enumerate(lb.children(root), 1):
                named[f"{name} child {n}"] = pid
        return named

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            reading = {name: _rss_mb(pid) for name, pid in self.processes().items()}
            self.series.append({"at_s": round(time.monotonic() - self.began, 1),
                                "rss_mb": {k: round(v, 1) for k, v in reading.items() if v is not None}})

    def latest_text(self) -> str:
        if not self.series:
            return "memory not read yet"
        total = sum(self.series[-1]["rss_mb"].values())
        return f"{total:.0f} MB resident in {len(self.series[-1]['rss_mb'])} processes"


# -- judging -------------------------------------------------------------------------------------

def windows(config: Config, tally: Tally) -> list[dict[str, Any]]:
    out = []
    for start in range(0, config.seconds, config.window):
        inside = [s for s in tally.samples if start <= s.at < start + config.window]
        latencies = sorted(s.latency_s * 1000 for s in inside)
        out.append({"from_s": start, "requests": len(inside), "errors": sum(not s.ok for s in inside),
                    "per_s": round(len(inside) / config.window, 1),
                    "p50_ms": round(lb.percentile(latencies, 50), 1), "p99_ms": round(lb.percentile(latencies, 99), 1),
                    "max_ms": round(latencies[-1], 1) if latencies else None})
    return out


def memory_by_window(config: Config, series: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Each process group's median total resident memory per window."""
    groups: dict[str, list[float]] = {}
    for start in range(0, config.seconds, config.window):
        inside = [r for r in series if start <= r["at_s"] < start + config.window]
        for group in ("gunicorn", "celery"):
            totals = sorted(sum(v for k, v in r["rss_mb"].items() if k.startswith(group)) for r in inside)
            groups.setdefault(group, []).append(round(totals[len(totals) // 2], 1) if totals else float("nan"))
    return groups


def verdict(config: Config, table: list[dict[str, Any]], memory: dict[str, list[float]],
            tally: Tally, verify: dict[str, Any]) -> dict[str, Any]:
    first, last = table[1], table[-1]  # the first window is warm-up
    checks: dict[str, Any] = {"errors": len(tally.errors), "errors_ok": not tally.errors}
    checks["p50_ratio"] = round(last["p50_ms"] / first["p50_ms"], 2)
    checks["p99_ratio"] = round(last["p99_ms"] / first["p99_ms"], 2)
    checks["latency_flat"] = checks["p50_ratio"] <= LATENCY_LIMIT and checks["p99_ratio"] <= LATENCY_LIMIT
    growth = {}
    for group, values in memory.items():
        grew = values[-1] - values[1]
        growth[group] = {"first_mb": values[1], "last_mb": values[-1], "grew_mb": round(grew, 1),
                         "flat": grew <= max(GROWTH_LIMIT * values[1], GROWTH_FLOOR_MB)}
    checks["memory"] = growth
    checks["memory_flat"] = all(g["flat"] for g in growth.values())
    checks["ledger_ok"] = all(verify[k] for k in ("trial_balance_equal", "chains_valid", "receipts_gapless",
                                                  "each_donation_once"))
    checks["ok"] = checks["errors_ok"] and checks["latency_flat"] and checks["memory_flat"] and checks["ledger_ok"]
    return checks


def verify_ledger(config: Config, base: str, key: str, tally: Tally) -> dict[str, Any]:
    result: dict[str, Any] = {}
    with lb.http_client(base, key, timeout=600) as client:
        body = client.get(f"{API}/trial-balance").json()
        result["trial_balance_equal"] = body["total_debits"] == body["total_credits"]
        chains = {code: client.get(f"{API}/ledger/verify", params={"fund_code": code}).json().get("valid")
                  for code in (*FUNDS, READ_FUND)}
        result["chains_valid"] = all(chains.values())
    count, max_seq, distinct = lb.sql_one(config, """
        SELECT count(*), coalesce(max(receipt_seq), 0), count(DISTINCT (receipt_year, receipt_seq))
        FROM donations.donation""")
    result["receipts_gapless"] = count == max_seq == distinct
    doubled = [i for i, n in tally.recorded_ids.items() if n > 1]
    result["donations_in_ledger"] = count
    result["donations_answered"] = len(tally.recorded_ids)
    result["each_donation_once"] = not doubled and count == len(tally.recorded_ids)
    return result


def markdown(results: dict[str, Any]) -> str:
    c, v = results["config"], results["verdict"]
    lines = [f"# Soak: {c['seconds']} s at {c['rate']} requests/s ({results['started_at']}, {results['commit']})", "",
             f"{results['requests']:,} requests, {v['errors']} errors, {results['replays']} idempotent replays, "
             f"{results['batch_rows']:,} batch rows, {len(results['reports'])} reports built "
             f"(median {results['report_median_s']} s). Verdict: **{'flat' if v['ok'] else 'NOT flat'}**.", "",
             "| window | requests/s | errors | p50 ms | p99 ms | max ms | gunicorn MB | celery MB |",
             "|---|---|---|---|---|---|---|---|"]
    for i, w in enumerate(results["windows"]):
        lines.append(f"| {w['from_s']}–{w['from_s'] + c['window']} s{' (warm-up)' if i == 0 else ''} | {w['per_s']} | "
                     f"{w['errors']} | {w['p50_ms']} | {w['p99_ms']} | {w['max_ms']} | "
                     f"{results['memory_by_window']['gunicorn'][i]} | {results['memory_by_window']['celery'][i]} |")
    lines += ["", f"Latency, last window against the first measured: p50 ×{v['p50_ratio']}, p99 ×{v['p99_ratio']} "
              f"(limit ×{LATENCY_LIMIT}).",
              "Memory: " + "; ".join(f"{g} {m['first_mb']} → {m['last_mb']} MB ({m['grew_mb']:+} MB)"
                                     for g, m in v["memory"].items()) + ".",
              f"Ledger: {results['verify']}."]
    if results["errors"]:
        kinds = Counter(e.split(":", 1)[0].split()[-1] for e in results["errors"])
        lines += ["", f"Errors by operation: {dict(kinds)}; the first 20:", ""]
        lines += [f"- {e}" for e in results["errors"][:20]]
    return "\n".join(lines) + "\n"


# -- main ------------------------------------------------------------------------------------------

def main() -> int:
    config = Config.from_env()
    started = dt.datetime.now(dt.UTC)
    results: dict[str, Any] = {"started_at": started.isoformat(timespec="seconds"), "commit": lb._commit(),
                               "host": platform.node(), "python": platform.python_version(),
                               "config": {"seconds": config.seconds, "rate": config.rate, "window": config.window,
                                          "clients": config.clients, "mix": MIX, "cpus": os.cpu_count()}}
    stopper = lb.Stopper()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lb._raise_interrupt)
    work_dir = Path(tempfile.mkdtemp(prefix="charity-soak-"))
    stopper.push("work dir", lambda: shutil.rmtree(work_dir, ignore_errors=True))
    try:
        lb.create_database(config.database_url, replace=True)
        lb.upgrade(config.database_url, secret_key=config.secret_key)
        if not config.keep_db:
            stopper.push("database", lambda: lb.drop_database_and_roles(config.database_url))
        admin_key, admin_password = "cfk_soak-" + secrets.token_urlsafe(24), secrets.token_urlsafe(16)
        env = {**os.environ, "DATABASE_URL": config.database_url, "SECRET_KEY": config.secret_key,
               "DATABASE_ROLE_PREFIX": "", "BOOTSTRAP_ADMIN_API_KEY": admin_key,
               "BOOTSTRAP_ADMIN_PASSWORD": admin_password, "VAR_DIR": str(work_dir / "var"),
               "PYTHONUNBUFFERED": "1"}
        env.pop("CELERY_BROKER_URL", None)  # the embedded transport under VAR_DIR, as `make run`
        (work_dir / "var").mkdir()
        port = lb.free_port()
        env["PORT"] = str(port)  # where the worker finds the services (PUBLIC_URL)
        server = lb.start_server(SimpleNamespace(port=port, workers=os.cpu_count() or 1, threads=32),
                                 env, work_dir, stopper)
        from services.serve import worker_command

        worker_log = (work_dir / "worker.log").open("wb")
        worker = subprocess.Popen(worker_command(env), cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                                  stdout=worker_log, stderr=subprocess.STDOUT, start_new_session=True)

        def stop_worker() -> None:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)
                    worker.wait()
            worker_log.close()
        stopper.push("celery worker", stop_worker)
        tally = Tally()
        keys = set_up(server.base_url, admin_key, tally)
        warm_up_report_workers(server.base_url, keys["clerk"])
        began = time.monotonic()
        memory = MemorySampler({"gunicorn": server.process.pid, "celery": worker.pid}, config.sample, began)
        memory.start()
        log(f"soak: {config.seconds} s at {config.rate}/s from {config.clients} client threads")
        wall = drive(config, server.base_url, keys, admin_password, tally, memory)
        memory.stopped.set()
        memory.join()
        if any(" report: " in e for e in tally.errors):
            tail = (work_dir / "worker.log").read_text(errors="replace").splitlines()[-30:]
            log("the reports worker's last lines:\n" + "\n".join(tail))
        log("verifying the ledger (not timed)")
        verify = verify_ledger(config, server.base_url, keys["clerk"], tally)
        table = windows(config, tally)
        by_window = memory_by_window(config, memory.series)
        durations = sorted(r["seconds"] for r in tally.reports)
        results.update({
            "wall_s": round(wall, 1), "requests": len(tally.samples), "errors": tally.errors,
            "replays": tally.replays, "batch_rows": tally.batch_rows, "reports": tally.reports,
            "report_median_s": durations[len(durations) // 2] if durations else None,
            "by_operation": {op: lb.latency_summary_ms([s.latency_s for s in tally.samples if s.operation == op])
                             for op in MIX},
            "windows": table, "memory_by_window": by_window, "memory_series": memory.series,
            "verify": verify, "verdict": verdict(config, table, by_window, tally, verify)})
    except KeyboardInterrupt:
        log("interrupted: stopping what was started")
        stopper.stop_all()
        return 130
    except lb.BenchError as error:
        log(f"failed: {error}")
        stopper.stop_all()
        return 1
    except Exception:
        traceback.print_exc()
        stopper.stop_all()
        return 1
    stopper.stop_all()
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    (RESULTS_DIR / f"soak-{stamp}.json").write_text(json.dumps(results, ensure_ascii=False, indent=1))
    table_text = markdown(results)
    (RESULTS_DIR / "soak-latest.md").write_text(table_text)
    print(table_text)
    return 0 if results["verdict"]["ok"] else 1


def warm_up_report_workers(base: str, key: str) -> None:
    """Two reports at once before the clock starts, so that each of the worker's two processes has
    built one (loaded WeasyPrint, its fonts) and what the soak measures is steady work."""
    period = dt.date.today().strftime("%Y-%m")
    with lb.http_client(base, key) as client:
        runs = [expect(client.post("/reports/api/v1/reports", json={"period": period, "fund_code": code}), 202,
                       "warm-up report") for code in (READ_FUND, FUNDS[0])]
        deadline = time.monotonic() + 180
        for run in runs:
            while run["status"] in ("queued", "running"):
                if time.monotonic() > deadline:
                    raise lb.BenchError(f"warm-up report {run['id']} still {run['status']} after 180 s")
                time.sleep(0.5)
                run = expect(client.get(f"/reports/api/v1/reports/{run['id']}"), 200, "warm-up report")
            if run["status"] != "done":
                raise lb.BenchError(f"warm-up report {run['id']} {run['status']}: {run.get('error')}")
    log("the report worker's processes have each built a report")


def set_up(base: str, admin_key: str, tally: Tally) -> dict[str, str]:
    """An organisation with four funds and the read fund, a clerk's key and an approver's key; seed money
    in each fund, and the read fund's entries."""
    with lb.http_client(base, admin_key) as admin:
        org = lb._created(admin.post("/funds/api/v1/organizations",
                                     json={"name": "铜陵市耐久测试商会", "kind": "chamber_of_commerce"}), "organisation")
        keys = {}
        for name, scopes in (("clerk", ["donations:write", "donations:read", "funds:read", "reports:read"]),
                             ("approver", ["disbursements:approve", "donations:read", "funds:read"])):
            keys[name] = lb._created(admin.post(f"/funds/api/v1/organizations/{org['id']}/api-keys",
                                                json={"name": name, "scopes": scopes}), f"{name} key")["key"]
        for code in (*FUNDS, READ_FUND):
            lb._created(admin.post("/funds/api/v1/funds", json={
                "code": code, "name": lb.FUND_NAME, "kind": "chamber_named", "organization_id": org["id"],
                "purpose": "助学助困", "restricted": False}), f"fund {code}")
    with lb.http_client(base, keys["clerk"]) as clerk:
        for code in FUNDS:  # enough that payouts never run short
            seed = lb._created(clerk.post(f"{API}/donations", json={
                "fund_code": code, "amount": "1000000.00", "currency": "CNY",
                "donor": {"name": lb.DONOR, "kind": "enterprise", "anonymous": False},
                "received_on": dt.date.today().isoformat(), "channel": "bank", "purpose": "助学"}), "seed donation")
            tally.recorded_ids[seed["id"]] += 1
        today = dt.date.today().isoformat()
        rows = [lb.CSV_HEADER] + [f"{READ_FUND},{(i % 900) + 1}.{i % 100:02d},CNY,捐赠人{i},individual,false,{today},"
                                  f"bank,助学,SOAK-R-{i:05d}\n" for i in range(READ_FUND_ENTRIES)]
        response = clerk.post(f"{API}/donations/batch", content="".join(rows).encode(),
                              headers={"Content-Type": "text/csv"})
        for row in expect(response, 200, "the read fund's entries")["results"]:
            if row["status"] != "recorded":
                raise lb.BenchError(f"the read fund's entries: {row}")
            tally.recorded_ids[row["donation"]["id"]] += 1
    log(f"organisation {org['id']}, funds {', '.join(FUNDS)}, read fund {READ_FUND} with {READ_FUND_ENTRIES:,} entries")
    return keys


if __name__ == "__main__":
    sys.exit(main())
