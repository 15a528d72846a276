"""`make bench`: how fast the donations ledger records and reads, end to end.

    .venv/bin/python bench/run.py

On a fresh database (charity_bench, dropped and recreated) behind the gateway
under gunicorn, as `make run` serves it:

  1. setup     an organisation, its funds and an API key, through the API
  2. seed      ~10k donations (one CSV batch), then balance reads at ~10k entries
  3. http      POST /donations/api/v1/donations with wrk at 1, 8 and 32 connections
  4. pgbench   the same SQL function, donations.record_donations, at 1, 8 and 32 clients
  5. batch     1,000,000 CSV rows through POST /donations/batch from 2 client threads
  6. balance   balance reads again, now at ~1M entries
  7. verify    trial balance, one fund's hash chain, row counts (not timed)

Results go to bench/results/<timestamp>.json and bench/results/latest.md.
Everything it starts is stopped on exit, Ctrl-C or failure. It talks to
127.0.0.1 only. See bench/README.md for the environment variables.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import queue
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy.engine import URL, make_url  # noqa: E402

from shared.migrate import drop_database_and_roles, upgrade  # noqa: E402
from shared.postgres import create_database, libpq_dsn  # noqa: E402

RESULTS_DIR = BENCH_DIR / "results"
WRK_SCRIPT = BENCH_DIR / "post_donation.lua"
PGBENCH_SCRIPT = BENCH_DIR / "record_donation.sql"
LOOPBACK = "127.0.0.1"
DEFAULT_DATABASE_URL = f"postgresql+psycopg://postgres@{LOOPBACK}:5432/charity_bench"

# Targets (see the brief in bench/README.md).
TARGET_DONATIONS_PER_S = 700
TARGET_RATIO = 0.7
TARGET_P99_MS = 100.0
TARGET_BATCH_ROWS_PER_S = 1_000_000 / 30  # 1M rows in 30 s
TARGET_BALANCE_P99_MS = 5.0

FUND_NAME = "铜陵市慈善基金"
DONOR = "铜陵某某有限公司"


class BenchError(RuntimeError):
    """Something that stops the benchmark (not a missed target)."""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- configuration ------------------------------------------------------------------

def _int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise BenchError(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise BenchError(f"{name} must be at least {minimum}")
    return value


@dataclass
class Config:
    database_url: str
    seconds: int
    connections: list[int]
    workers: int
    threads: int
    warmup_seconds: int
    seed_rows: int
    batch_rows: int
    chunk: int
    batch_threads: int
    batch_funds: int
    balance_requests: int
    quiet_wait: int
    port: int
    keep_db: bool
    profile: bool
    steps: set[str]
    # The server's SECRET_KEY; the migrations derive the services' role passwords from it.
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @classmethod
    def from_env(cls) -> Config:
        cpus = os.cpu_count() or 1
        url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL
        raw = os.environ.get("BENCH_CONNECTIONS") or "1,8,32"
        connections = [int(c) for c in raw.split(",") if c.strip().isdigit()]
        if len(connections) != len(raw.split(",")) or min(connections) < 1 or max(connections) > 256:
            raise BenchError("BENCH_CONNECTIONS: a comma-separated list of 1..256")
        steps = {s.strip() for s in (os.environ.get("BENCH_STEPS") or "http,pgbench,batch,balance,verify").split(",")}
        unknown = steps - {"http", "pgbench", "batch", "balance", "verify"}
        if unknown:
            raise BenchError(f"BENCH_STEPS: unknown step(s) {', '.join(sorted(unknown))}")
        config = cls(
            database_url=url,
            seconds=_int("BENCH_SECONDS", 15),
            connections=connections,
            # What `make run` serves (services.serve.gunicorn_command): a worker a core,
            # 32 threads each, unless WEB_CONCURRENCY / WEB_THREADS say otherwise.
            workers=_int("BENCH_WORKERS", int(os.environ.get("WEB_CONCURRENCY") or cpus)),
            threads=_int("BENCH_THREADS", int(os.environ.get("WEB_THREADS") or 32)),
            warmup_seconds=_int("BENCH_WARMUP", 3, minimum=0),
            seed_rows=_int("BENCH_SEED_ROWS", 10_000),
            batch_rows=_int("BENCH_BATCH_ROWS", 1_000_000),
            chunk=_int("BENCH_CHUNK", 10_000),
            batch_threads=_int("BENCH_BATCH_THREADS", 2),
            batch_funds=_int("BENCH_BATCH_FUNDS", 4),
            balance_requests=_int("BENCH_BALANCE_REQUESTS", 2000),
            quiet_wait=_int("BENCH_QUIET_WAIT", 120, minimum=0),
            port=_int("BENCH_PORT", 0, minimum=0),
            keep_db=(os.environ.get("BENCH_KEEP_DB") or "1") not in ("0", "", "no", "false"),
            profile=(os.environ.get("BENCH_PROFILE") or "0") not in ("0", "", "no", "false"),
            steps=steps,
        )
        if config.chunk > 50_000:
            raise BenchError("BENCH_CHUNK: the batch endpoint takes at most 50000 rows a request")
        parsed = make_url(url)
        if parsed.get_backend_name() != "postgresql" or not parsed.database:
            raise BenchError("BENCH_DATABASE_URL must be a postgresql URL naming a database")
        if (parsed.host or "") != LOOPBACK:
            raise BenchError(f"BENCH_DATABASE_URL must point at {LOOPBACK} (the bench talks to nothing else)")
        return config

    @property
    def db(self) -> URL:
        return make_url(self.database_url)


# -- process management -------------------------------------------------------------

class Stopper:
    """Everything started, stopped in reverse order, once, whatever happens."""

    def __init__(self) -> None:
        self._actions: list[tuple[str, Callable[[], None]]] = []

    def push(self, name: str, action: Callable[[], None]) -> None:
        self._actions.append((name, action))

    def stop_all(self) -> None:
        while self._actions:
            name, action = self._actions.pop()
            try:
                action()
            except Exception as error:  # keep stopping the rest
                log(f"stopping {name}: {error}")


def _raise_interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def children(parent: int) -> list[int]:
    """The processes whose parent is `parent`, from /proc."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                raw = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(raw[raw.rindex(")") + 2:].split()[1]) == parent:
                pids.append(int(entry))
    return sorted(pids)


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def worker_pids(self) -> list[int]:
        """The master's children (gunicorn's workers)."""
        return children(self.process.pid)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # gunicorn: graceful stop of master and workers
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        try:  # its own session and process group: whatever is left of it (master or workers)
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)


def gunicorn_command(config: Config, port: int, env: dict[str, str]) -> list[str]:
    """services.serve.gunicorn_command (what `make run` runs), without the access log."""
    from services import serve

    command = serve.gunicorn_command(LOOPBACK, port, {
        **env, "WEB_CONCURRENCY": str(config.workers), "WEB_THREADS": str(config.threads)})
    if "--access-logfile" in command:
        at = command.index("--access-logfile")
        del command[at:at + 2]
    return command


def start_server(config: Config, env: dict[str, str], work_dir: Path, stopper: Stopper) -> Server:
    port = config.port or free_port()
    command = gunicorn_command(config, port, env)
    log_path = work_dir / "gunicorn.log"
    log(f"starting gunicorn: {' '.join(command[2:])}")
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                                   stdout=log_file, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # Ctrl-C reaches us, and we stop it
    server = Server(process, f"http://{LOOPBACK}:{port}", log_path)
    stopper.push("gunicorn", server.stop)
    deadline = time.monotonic() + 90
    with http_client(server.base_url, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BenchError(f"gunicorn exited early:\n{server.log_tail()}")
            try:
                if client.get("/funds/openapi.json").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise BenchError(f"gunicorn did not answer within 90 s:\n{server.log_tail()}")
    # The master forks its workers one after another: wait until all are there.
    deadline = time.monotonic() + 60
    while len(server.worker_pids()) < config.workers and time.monotonic() < deadline:
        time.sleep(0.2)
    log(f"gunicorn up at {server.base_url}: master {process.pid}, workers {server.worker_pids()}")
    return server


@contextmanager
def http_client(base_url: str, key: str | None = None, timeout: float = 30) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    # trust_env=False: no proxy from the environment; the bench talks to 127.0.0.1 only.
    with httpx.Client(base_url=base_url, headers=headers, timeout=timeout, trust_env=False) as client:
        yield client


# -- CPU accounting -----------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _classify(pid: int, comm: str, ppid: int, gunicorn_pids: set[int]) -> str:
    if pid == 2 or ppid == 2:
        return "kernel threads"  # I/O completion (fsync), softirqs: the WAL flushes show up here
    if pid == os.getpid():
        return "bench driver"
    if comm in ("postgres", "postmaster"):
        return "postgres"
    if comm in ("wrk", "pgbench", "py-spy"):
        return comm
    if pid in gunicorn_pids:
        return "gunicorn"
    return "other"


class CpuSampler:
    """CPU seconds per process group over a step, from /proc (sampled, so short-lived
    processes such as pgbench's backends are counted up to their last sample)."""

    def __init__(self, gunicorn_pids: Callable[[], set[int]], interval: float | None = 0.25) -> None:
        """interval=None: no sampling thread, just a snapshot at each end (for steps whose
        latency the driver itself measures; processes that come and go are then missed)."""
        self.gunicorn_pids = gunicorn_pids
        self.interval = interval
        self._stop = threading.Event()
        self._first: dict[int, tuple[str, int]] = {}
        self._last: dict[int, tuple[str, int]] = {}
        self._initial: set[int] = set()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    @staticmethod
    def _system() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields[:8]) - idle, sum(fields[:8])

    def _sample(self) -> dict[int, tuple[str, int]]:
        gunicorn = self.gunicorn_pids()
        sample = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                raw = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            comm = raw[raw.index("(") + 1:raw.rindex(")")]
            rest = raw[raw.rindex(")") + 2:].split()
            group = _classify(pid, comm, int(rest[1]), gunicorn)
            sample[pid] = (f"other:{comm}" if group == "other" else group, int(rest[11]) + int(rest[12]))
        return sample

    def _run(self) -> None:
        assert self.interval is not None
        while not self._stop.wait(self.interval):
            for pid, value in self._sample().items():
                self._first.setdefault(pid, value)
                self._last[pid] = value

    def __enter__(self) -> CpuSampler:
        first = self._sample()
        self._first, self._last, self._initial = dict(first), dict(first), set(first)
        self._system_start = self._system()
        self._start = time.monotonic()
        if self.interval is not None:
            self._thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        for pid, value in self._sample().items():
            self._first.setdefault(pid, value)
            self._last[pid] = value
        self.wall = time.monotonic() - self._start
        busy_end, _ = self._system()
        busy = (busy_end - self._system_start[0]) / CLOCK_TICKS
        self.seconds: dict[str, float] = {}
        self.other: dict[str, float] = {}
        for pid, (group, ticks) in self._last.items():
            base = self._first[pid][1] if pid in self._initial else 0
            if group.startswith("other:"):
                self.other[group[6:]] = self.other.get(group[6:], 0.0) + (ticks - base) / CLOCK_TICKS
                group = "other"
            self.seconds[group] = self.seconds.get(group, 0.0) + (ticks - base) / CLOCK_TICKS
        self.system_busy = busy

    def report(self) -> dict[str, Any]:
        cores = os.cpu_count() or 1
        groups = {g: round(s / self.wall, 2) for g, s in sorted(self.seconds.items(), key=lambda kv: -kv[1])
                  if s > 0}
        other = {c: round(s / self.wall, 2) for c, s in sorted(self.other.items(), key=lambda kv: -kv[1])[:5]
                 if s / self.wall >= 0.01}
        return {"wall_s": round(self.wall, 2), "cores_busy": round(self.system_busy / self.wall, 2),
                "cores_total": cores, "cores_by_group": groups, "other_by_command": other}


class ActivitySampler:
    """What the benchmark database's client backends are doing, sampled every 50 ms from
    pg_stat_activity: the average number of backends per state and wait event.
    "idle in transaction" backends hold their locks while the client (Python) works."""

    QUERY = """SELECT CASE WHEN state = 'idle in transaction' AND backend_xid IS NOT NULL
                           THEN 'idle in transaction, after writing (holds its row locks)'
                           WHEN state = 'idle in transaction' THEN 'idle in transaction, before writing'
                           ELSE state END,
                      coalesce(wait_event_type || ':' || wait_event, 'on CPU') FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND backend_type = 'client backend' AND state <> 'idle'"""

    def __init__(self, dsn: str, interval: float = 0.05) -> None:
        self.dsn = dsn
        self.interval = interval
        self.counts: dict[str, int] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="activity-sampler", daemon=True)

    def _run(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True) as connection:
                while not self._stop.wait(self.interval):
                    rows = connection.execute(self.QUERY).fetchall()
                    self.samples += 1
                    for state, wait in rows:
                        key = f"{state} ({wait})" if state == "active" else state
                        self.counts[key] = self.counts.get(key, 0) + 1
        except psycopg.Error as error:
            log(f"activity sampler: {error}")

    def __enter__(self) -> ActivitySampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def report(self) -> dict[str, float]:
        if not self.samples:
            return {}
        return {key: round(n / self.samples, 2) for key, n in sorted(self.counts.items(), key=lambda kv: -kv[1])}


def cpu_text(cpu: dict[str, Any]) -> str:
    parts = [f"{g} {c:.2f}" for g, c in cpu["cores_by_group"].items() if c >= 0.01]
    return f"CPU {cpu['cores_busy']:.2f}/{cpu['cores_total']} cores: " + ", ".join(parts)


def background_load(ours: Callable[[], set[int]], seconds: float = 2.0) -> tuple[float, dict[str, float]]:
    """Cores used by processes that are not ours (the driver, gunicorn), over `seconds`."""
    with CpuSampler(ours) as cpu:
        time.sleep(seconds)
    theirs = {k: v for k, v in cpu.report()["cores_by_group"].items() if k not in ("bench driver", "gunicorn")}
    return sum(theirs.values()), {**theirs, **{f"other:{k}": v for k, v in cpu.report()["other_by_command"].items()}}


class QuietGate:
    """Before each measurement: wait until other processes leave the CPUs alone, spending
    at most `budget_s` seconds waiting over the whole run; what was seen goes in the results."""

    def __init__(self, budget_s: int, ours: Callable[[], set[int]]) -> None:
        self.budget = float(budget_s)
        self.ours = ours
        self.seen: list[dict[str, Any]] = []

    def wait(self, step: str) -> None:
        began = time.monotonic()
        load, detail = background_load(self.ours, seconds=1.0)
        while load > 0.25 and time.monotonic() - began < self.budget:
            log(f"before {step}: the machine is busy ({load:.2f} cores used by others: {detail}); waiting")
            time.sleep(4)
            load, detail = background_load(self.ours, seconds=1.0)
        self.budget = max(0.0, self.budget - (time.monotonic() - began))
        if load > 0.25:
            log(f"WARNING: {load:.2f} cores busy with other work before {step}; its figures will be low")
        self.seen.append({"step": step, "background_cores": round(load, 2), "waited_s": round(
            time.monotonic() - began, 1), "detail": detail})


# -- numbers -------------------------------------------------------------------------

def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest rank."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(round(p / 100 * len(sorted_values) + 0.5))))
    return sorted_values[rank - 1]


def latency_summary_ms(values_s: list[float]) -> dict[str, float]:
    ordered = sorted(v * 1000 for v in values_s)
    return {"count": len(ordered), "p50_ms": round(percentile(ordered, 50), 3),
            "p90_ms": round(percentile(ordered, 90), 3), "p99_ms": round(percentile(ordered, 99), 3),
            "max_ms": round(ordered[-1], 3) if ordered else float("nan"),
            "mean_ms": round(sum(ordered) / len(ordered), 3) if ordered else float("nan")}


# -- database -------------------------------------------------------------------------

def recreate_database(config: Config) -> None:
    create_database(config.database_url, replace=True)
    log(f"database {config.db.database} recreated; migrating")
    upgrade(config.database_url, secret_key=config.secret_key)


def drop_database(config: Config) -> None:
    drop_database_and_roles(config.database_url)


def sql_one(config: Config, query: str, params: tuple[Any, ...] = ()) -> Any:
    with psycopg.connect(libpq_dsn(config.db), autocommit=True) as connection:
        return connection.execute(query, params).fetchone()


def ledger_size(config: Config) -> dict[str, int]:
    entries, donations, postings = sql_one(config, """
        SELECT (SELECT count(*) FROM donations.journal_entry), (SELECT count(*) FROM donations.donation),
               (SELECT count(*) FROM donations.posting)""")
    return {"journal_entries": entries, "donations": donations, "postings": postings}


def fund_entries(config: Config, code: str) -> int:
    row = sql_one(config, "SELECT entry_count FROM donations.fund_ledger WHERE code = %s", (code,))
    return int(row[0]) if row else 0


# -- setup through the API ------------------------------------------------------------

@dataclass
class Fixture:
    organization_id: int
    key: str
    key_id: int
    key_name: str
    live_fund: str                 # wrk and pgbench post here
    batch_funds: list[str]         # the batch and the seed spread over these
    verify_fund: str               # small: its hash chain is verified at the end
    received_on: str
    run_id: str = field(default_factory=lambda: secrets.token_hex(3).upper())


def _created(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code != 201:
        raise BenchError(f"creating {what}: {response.status_code} {response.text[:500]}")
    return response.json()  # type: ignore[no-any-return]


def set_up(config: Config, base_url: str, admin_key: str) -> Fixture:
    from shared.dates import today

    with http_client(base_url, admin_key) as admin:
        organization = _created(admin.post("/funds/api/v1/organizations",
                                           json={"name": "铜陵市基准测试商会", "kind": "chamber_of_commerce"}),
                                "the organisation")
        org_id = organization["id"]
        key_name = "bench"
        issued = _created(admin.post(f"/funds/api/v1/organizations/{org_id}/api-keys", json={
            "name": key_name, "scopes": ["donations:write", "donations:read", "funds:read"]}), "the API key")
        codes = ["BENCH-LIVE", "BENCH-VERIFY"] + [f"BENCH-BATCH-{i}" for i in range(1, config.batch_funds + 1)]
        for code in codes:
            _created(admin.post("/funds/api/v1/funds", json={
                "code": code, "name": FUND_NAME, "kind": "chamber_named", "organization_id": org_id,
                "purpose": "助学助困", "restricted": False}), f"fund {code}")
    fixture = Fixture(organization_id=org_id, key=issued["key"], key_id=issued["id"], key_name=key_name,
                      live_fund="BENCH-LIVE", batch_funds=codes[2:], verify_fund="BENCH-VERIFY",
                      received_on=(today() - dt.timedelta(days=1)).isoformat())
    log(f"organisation {org_id}, key {fixture.key_id}, funds {', '.join(codes)}")
    return fixture


def small_fund_activity(base_url: str, fixture: Fixture) -> None:
    """A few donations on the verify fund, by both write paths (SQL function and batch)."""
    body = {"fund_code": fixture.verify_fund, "amount": "88.00", "currency": "CNY",
            "donor": {"name": DONOR, "kind": "enterprise", "anonymous": False},
            "received_on": fixture.received_on, "channel": "wechat", "purpose": "助学"}
    with http_client(base_url, fixture.key) as client:
        for i in range(50):
            response = client.post("/donations/api/v1/donations", json={**body, "reference": f"V-{i}"})
            if response.status_code != 201:
                raise BenchError(f"donation on {fixture.verify_fund}: {response.status_code} {response.text[:300]}")
        chunk = csv_chunk(fixture, [fixture.verify_fund], 0, 50, prefix="VB")
        response = client.post("/donations/api/v1/donations/batch", content=chunk,
                               headers={"Content-Type": "text/csv"})
        if response.status_code != 200 or response.content.count(RECORDED) != 50:
            raise BenchError(f"batch on {fixture.verify_fund}: {response.status_code} {response.text[:300]}")


# -- CSV batches -----------------------------------------------------------------------

CSV_HEADER = "fund_code,amount,currency,donor_name,donor_kind,donor_anonymous,received_on,channel,purpose,reference\n"
# A recorded row's result, as record_batch writes it (compact JSON); the donation inside
# has a "status" of its own, hence the "donation" key in the pattern.
RECORDED = b'"status":"recorded","donation":'
KINDS = ("individual", "enterprise", "organization")
CHANNELS = ("bank", "wechat", "alipay", "cash", "in_kind")


def csv_chunk(fixture: Fixture, funds: list[str], start: int, count: int, prefix: str) -> bytes:
    lines = [CSV_HEADER]
    nfunds = len(funds)
    for i in range(start, start + count):
        lines.append(
            f"{funds[i % nfunds]},{(i % 99_999) + 1}.{i % 100:02d},CNY,捐赠人{i},{KINDS[i % 3]},"
            f"{'true' if i % 10 == 0 else 'false'},{fixture.received_on},{CHANNELS[i % 5]},助学,"
            f"{prefix}-{fixture.run_id}-{i:07d}\n")
    return "".join(lines).encode()


def post_batches(base_url: str, key: str, chunks: list[tuple[int, bytes]], threads: int) -> dict[str, Any]:
    """Send the chunks from `threads` client threads; every row must come back recorded."""
    work: queue.Queue[tuple[int, bytes]] = queue.Queue()
    for item in chunks:
        work.put(item)
    lock = threading.Lock()
    latencies: list[float] = []
    recorded = 0
    problems: list[str] = []

    def send() -> None:
        nonlocal recorded
        with http_client(base_url, key, timeout=600) as client:
            while not problems:
                try:
                    rows, body = work.get_nowait()
                except queue.Empty:
                    return
                began = time.perf_counter()
                try:
                    response = client.post("/donations/api/v1/donations/batch", content=body,
                                           headers={"Content-Type": "text/csv"})
                except httpx.HTTPError as error:
                    with lock:
                        problems.append(f"{type(error).__name__}: {error}")
                    return
                took = time.perf_counter() - began
                # The answer is compact JSON: counting is exact, and cheap next to parsing 4 MB.
                ok = response.content.count(RECORDED) if response.status_code == 200 else 0
                with lock:
                    latencies.append(took)
                    recorded += ok
                    if response.status_code != 200 or ok != rows:
                        problems.append(f"status {response.status_code}, {ok}/{rows} recorded: "
                                        f"{response.text[:300]}")

    began = time.perf_counter()
    workers = [threading.Thread(target=send, name=f"batch-{i}", daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - began
    return {"wall_s": wall, "recorded": recorded, "requests": len(latencies), "problems": problems,
            "request_latency": latency_summary_ms(latencies)}


# -- steps -------------------------------------------------------------------------------

@dataclass
class Run:
    config: Config
    server: Server
    fixture: Fixture
    work_dir: Path
    results: dict[str, Any]
    errors: list[str]
    stopper: Stopper
    quiet: QuietGate | None = None

    def wait_for_quiet(self, step: str) -> None:
        if self.quiet is not None:
            self.quiet.wait(step)

    def gunicorn_pids(self) -> set[int]:
        return {self.server.process.pid, *self.server.worker_pids()}

    def cpu(self, sampled: bool = True) -> CpuSampler:
        return CpuSampler(self.gunicorn_pids, 0.25 if sampled else None)

    @property
    def wrk_env(self) -> dict[str, str]:
        return {**os.environ, "BENCH_API_KEY": self.fixture.key, "BENCH_FUND_CODE": self.fixture.live_fund,
                "BENCH_RECEIVED_ON": self.fixture.received_on}


def wrk(url: str, connections: int, seconds: int, env: dict[str, str]) -> tuple[dict[str, Any], str]:
    """Run wrk with bench/post_donation.lua; its BENCH_JSON report and its output."""
    command = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "--latency", "-s", str(WRK_SCRIPT), url]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise BenchError(f"wrk printed no BENCH_JSON line:\n{done.stdout}\n{done.stderr}")
    return json.loads(line.removeprefix("BENCH_JSON ")), done.stdout


def run_wrk(run: Run, connections: int, seconds: int, label: str = "HTTP") -> dict[str, Any]:
    url = f"{run.server.base_url}/donations/api/v1/donations"
    run.wait_for_quiet(f"{label} c={connections}")
    profile = run.config.profile and label == "HTTP" and connections == max(run.config.connections)
    profilers = start_profilers(run, f"http-c{connections}") if profile else []
    try:
        with run.cpu() as cpu, ActivitySampler(libpq_dsn(run.config.db)) as activity:
            data, output = wrk(url, connections, seconds, run.wrk_env)
    finally:
        profile_summary = finish_profilers(profilers)
    duration = data["duration_us"] / 1e6
    codes = {int(k): v for k, v in data["status_codes"].items()}
    ok = sum(n for code, n in codes.items() if 200 <= code < 300)
    failed = sum(n for code, n in codes.items() if not 200 <= code < 300)
    socket_errors = sum(data["socket_errors"].values())
    result = {
        "connections": connections, "wrk_threads": min(2, connections), "duration_s": round(duration, 2),
        "donations_per_s": round(ok / duration, 1), "requests": data["requests"], "ok": ok,
        "non_2xx": failed, "socket_errors": data["socket_errors"], "status_codes": codes,
        "p50_ms": data["latency_us"]["p50"] / 1000, "p90_ms": data["latency_us"]["p90"] / 1000,
        "p99_ms": data["latency_us"]["p99"] / 1000, "max_ms": data["latency_us"]["max"] / 1000,
        "mean_ms": round(data["latency_us"]["mean"] / 1000, 3), "cpu": cpu.report(),
        "db_backends": activity.report(), "wrk_output": output,
    }
    if profile_summary:
        result["profile"] = profile_summary
    if failed or socket_errors:
        run.errors.append(f"{label} at {connections} connections: {failed} non-2xx responses "
                          f"{ {c: n for c, n in codes.items() if not 200 <= c < 300} }, "
                          f"socket errors {data['socket_errors']}")
    return result


def run_pgbench(run: Run, clients: int, seconds: int) -> dict[str, Any]:
    url, fixture = run.config.db, run.fixture
    variables = {
        "fund_code": fixture.live_fund, "organization_id": str(fixture.organization_id), "restricted": "false",
        "amount_fen": "10000", "donor_name": DONOR, "donor_kind": "enterprise", "donor_anonymous": "false",
        "received_on": fixture.received_on, "channel": "bank", "purpose": "助学助困",
        "actor": f"key:{fixture.key_id}", "actor_name": fixture.key_name, "request_id": secrets.token_hex(16),
    }
    log_dir = Path(tempfile.mkdtemp(prefix="pgbench-", dir=run.work_dir))
    run.wait_for_quiet(f"pgbench c={clients}")
    command = ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(2, clients)),
               "-T", str(seconds), "-f", str(PGBENCH_SCRIPT), "-l", "--log-prefix", str(log_dir / "tx"),
               "-h", url.host or LOOPBACK, "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    for name, value in variables.items():
        command += ["-D", f"{name}={value}"]
    command.append(url.database or "")
    env = {**os.environ, "PGCLIENTENCODING": "UTF8", "PGAPPNAME": "bench-pgbench"}
    if url.password:
        env["PGPASSWORD"] = url.password
    with run.cpu() as cpu, ActivitySampler(libpq_dsn(run.config.db)) as activity:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 120)
    output = done.stdout + done.stderr
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", output)
    processed = re.search(r"number of transactions actually processed: (\d+)", output)
    failed = re.search(r"number of failed transactions: (\d+)", output)
    latencies = []
    for path in log_dir.glob("tx*"):
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[2].isdigit():
                latencies.append(int(parts[2]) / 1e6)
    shutil.rmtree(log_dir, ignore_errors=True)
    if done.returncode != 0 or tps is None:
        run.errors.append(f"pgbench at {clients} clients exited {done.returncode}")
        log(output)
    summary = latency_summary_ms(latencies)
    return {"clients": clients, "jobs": min(2, clients), "tps": float(tps.group(1)) if tps else 0.0,
            "transactions": int(processed.group(1)) if processed else 0,
            "failed": int(failed.group(1)) if failed else 0, "exit_code": done.returncode,
            "p50_ms": summary["p50_ms"], "p90_ms": summary["p90_ms"], "p99_ms": summary["p99_ms"],
            "max_ms": summary["max_ms"], "mean_ms": summary["mean_ms"], "cpu": cpu.report(),
            "db_backends": activity.report(), "pgbench_output": output}


def run_balance(run: Run, fund: str, label: str) -> dict[str, Any]:
    path = f"/donations/api/v1/funds/{fund}/balance"
    latencies = []
    run.wait_for_quiet(f"balance {label}")
    with http_client(run.server.base_url, run.fixture.key) as client:
        for _ in range(50):  # warm the connection and the worker's caches
            client.get(path).raise_for_status()
        with run.cpu(sampled=False) as cpu:  # no sampling thread competing with the timed loop
            for _ in range(run.config.balance_requests):
                began = time.perf_counter()
                response = client.get(path)
                latencies.append(time.perf_counter() - began)
                if response.status_code != 200:
                    run.errors.append(f"balance read {label}: {response.status_code} {response.text[:200]}")
                    break
        balance = response.json()
    # The same reads with wrk, one connection: the server's share, without the Python client's.
    data, _ = wrk(run.server.base_url + path, 1, 5, {**run.wrk_env, "BENCH_WRK_GET": "1"})
    codes = {int(k): v for k, v in data["status_codes"].items()}
    if set(codes) != {200}:
        run.errors.append(f"balance reads {label} with wrk: status codes {codes}")
    size = ledger_size(run.config)
    rss = {}
    for pid in run.server.worker_pids():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        if match:
            rss[pid] = round(int(match.group(1)) / 1024)
    return {"label": label, "fund": fund, "fund_entries": fund_entries(run.config, fund), "worker_rss_mb": rss,
            "ledger_entries": size["journal_entries"], "balance": balance.get("balance"),
            **latency_summary_ms(latencies), "cpu": cpu.report(),
            "wrk_1_connection": {"requests_per_s": round(data["requests"] / (data["duration_us"] / 1e6), 1),
                                 "p50_ms": data["latency_us"]["p50"] / 1000,
                                 "p99_ms": data["latency_us"]["p99"] / 1000}}


def run_batch(run: Run, rows: int, prefix: str, label: str) -> dict[str, Any]:
    config, fixture = run.config, run.fixture
    chunks = [(min(config.chunk, rows - start),
               csv_chunk(fixture, fixture.batch_funds, start, min(config.chunk, rows - start), prefix))
              for start in range(0, rows, config.chunk)]
    megabytes = sum(len(body) for _, body in chunks) / 1e6
    log(f"{label}: {rows} rows in {len(chunks)} CSV chunks ({megabytes:.0f} MB) from "
        f"{config.batch_threads} client threads")
    run.wait_for_quiet(label)
    profilers = start_profilers(run, label, wall_clock=True) if config.profile and label == "batch" else []
    with run.cpu() as cpu:
        sent = post_batches(run.server.base_url, fixture.key, chunks, config.batch_threads)
    profile_summary = finish_profilers(profilers, only="record_batch")
    stored = sql_one(config, "SELECT count(*) FROM donations.donation WHERE reference LIKE %s",
                     (f"{prefix}-{fixture.run_id}-%",))[0]
    result = {"label": label, "rows": rows, "chunk": config.chunk, "client_threads": config.batch_threads,
              "funds": len(fixture.batch_funds), "csv_mb": round(megabytes, 1),
              "wall_s": round(sent["wall_s"], 2), "rows_per_s": round(rows / sent["wall_s"], 0),
              "recorded_in_answers": sent["recorded"], "rows_in_database": stored,
              "request_latency": sent["request_latency"], "cpu": cpu.report()}
    if profile_summary:
        result["profile"] = profile_summary
    if sent["problems"] or sent["recorded"] != rows or stored != rows:
        run.errors.append(f"{label}: {sent['recorded']}/{rows} recorded in answers, {stored} in the database; "
                          f"{sent['problems'][:3]}")
    return result


def run_verify(run: Run) -> dict[str, Any]:
    result: dict[str, Any] = {}
    with http_client(run.server.base_url, run.fixture.key, timeout=1800) as client:
        began = time.perf_counter()
        response = client.get("/donations/api/v1/trial-balance")
        result["trial_balance_s"] = round(time.perf_counter() - began, 2)
        if response.status_code == 200:
            body = response.json()
            result["trial_balance"] = {"total_debits": body["total_debits"], "total_credits": body["total_credits"],
                                       "accounts": len(body["accounts"])}
            result["trial_balance_equal"] = body["total_debits"] == body["total_credits"]
        else:
            result["trial_balance_equal"] = False
            result["trial_balance_error"] = f"{response.status_code} {response.text[:300]}"
        fund = run.fixture.verify_fund
        began = time.perf_counter()
        response = client.get("/donations/api/v1/ledger/verify", params={"fund_code": fund})
        result["chain_verify_s"] = round(time.perf_counter() - began, 2)
        result["chain_fund"] = fund
        result["chain_entries"] = fund_entries(run.config, fund)
        result["chain_valid"] = response.status_code == 200 and response.json().get("valid") is True
        if not result["chain_valid"]:
            result["chain_error"] = f"{response.status_code} {response.text[:300]}"
    # Straight from the database: receipts gapless, balances equal the postings.
    count, max_seq, distinct = sql_one(run.config, """
        SELECT count(*), coalesce(max(receipt_seq), 0), count(DISTINCT (receipt_year, receipt_seq))
        FROM donations.donation""")
    result["receipts_gapless"] = count == max_seq == distinct
    mismatched = sql_one(run.config, """
        SELECT count(*) FROM donations.fund_ledger f
        LEFT JOIN (SELECT fund_id, sum(amount_fen) FILTER (WHERE account = 'bank') AS bank,
                          sum(amount_fen) FILTER (WHERE account = 'in_kind') AS in_kind
                   FROM donations.posting GROUP BY fund_id) p ON p.fund_id = f.id
        WHERE f.bank_fen <> coalesce(p.bank, 0) OR f.in_kind_fen <> coalesce(p.in_kind, 0)""")[0]
    result["fund_balances_match_postings"] = mismatched == 0
    result["ledger"] = ledger_size(run.config)
    for check in ("trial_balance_equal", "chain_valid", "receipts_gapless", "fund_balances_match_postings"):
        if not result[check]:
            run.errors.append(f"verify: {check} failed ({result.get(check.replace('equal', 'error'), '')})")
    return result


# -- profiling (optional, BENCH_PROFILE=1: py-spy on every worker during the widest HTTP step) --

def start_profilers(run: Run, tag: str, *, wall_clock: bool = False) -> list[tuple[int, Path, subprocess.Popen[bytes]]]:
    """py-spy on every worker until finish_profilers. By default only samples holding the GIL
    (where the workers' Python CPU goes); wall_clock=True samples waiting threads too."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        log("BENCH_PROFILE: py-spy not found (pip install py-spy into .venv); not profiling")
        return []
    out_dir = RESULTS_DIR / f"profile-{run.results['started_at_compact']}"
    out_dir.mkdir(parents=True, exist_ok=True)
    mode = ["--idle"] if wall_clock else ["--gil"]
    profilers = []
    for pid in run.server.worker_pids():
        out = out_dir / f"{tag}-worker-{pid}.txt"
        process = subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", "50", *mode, "--nonblocking",
                                    "--format", "raw", "--output", str(out)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        profilers.append((pid, out, process))
        run.stopper.push(f"py-spy {pid}", lambda p=process: p.poll() is None and p.kill())
    log(f"py-spy recording {len(profilers)} workers into {out_dir.relative_to(REPO_ROOT)} ({tag})")
    return profilers


def finish_profilers(profilers: list[tuple[int, Path, subprocess.Popen[bytes]]],
                     only: str | None = None) -> dict[str, Any] | None:
    if not profilers:
        return None
    for _, _, process in profilers:
        process.send_signal(signal.SIGINT)  # py-spy writes its output and exits
    for _, _, process in profilers:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
    files = [out for _, out, _ in profilers if out.exists()]
    from profile_summary import summarize  # bench/profile_summary.py

    return {"files": [str(f.relative_to(REPO_ROOT)) for f in files], "summary": summarize(files, only=only)}


# -- report ---------------------------------------------------------------------------------

def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("PASS" if ok else "**MISS**")


def markdown(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str]] = []
    http = {r["connections"]: r for r in results.get("http", [])}
    pg = {r["clients"]: r for r in results.get("pgbench", [])}
    widest = max(http) if http else None
    for c in sorted(set(http) | set(pg)):
        h = http.get(c)
        if h:
            target = c == 32
            rows.append((f"HTTP POST /donations, {c} conn: donations/s", f"{h['donations_per_s']:.0f}",
                         f">= {TARGET_DONATIONS_PER_S}" if target else "",
                         _verdict(h["donations_per_s"] >= TARGET_DONATIONS_PER_S) if target else ""))
            rows.append((f"HTTP POST /donations, {c} conn: p50 / p99 ms", f"{h['p50_ms']:.1f} / {h['p99_ms']:.1f}",
                         f"p99 <= {TARGET_P99_MS:.0f}" if target else "",
                         _verdict(h["p99_ms"] <= TARGET_P99_MS) if target else ""))
            errors = h["non_2xx"] + sum(h["socket_errors"].values())
            rows.append((f"HTTP POST /donations, {c} conn: non-2xx + socket errors", str(errors), "0",
                         _verdict(errors == 0)))
        p = pg.get(c)
        if p:
            rows.append((f"pgbench record_donations, {c} clients: tx/s", f"{p['tps']:.0f}", "", ""))
            rows.append((f"pgbench record_donations, {c} clients: p50 / p99 ms",
                         f"{p['p50_ms']:.1f} / {p['p99_ms']:.1f}", "", ""))
        if h and p and p["tps"]:
            ratio = h["donations_per_s"] / p["tps"]
            target = c == 32
            rows.append((f"HTTP / pgbench, {c}", f"{ratio:.0%}", f">= {TARGET_RATIO:.0%}" if target else "",
                         _verdict(ratio >= TARGET_RATIO) if target else ""))
    for b in results.get("batch", []):
        if b["label"] != "batch":
            continue
        per_million = 1_000_000 / b["rows_per_s"] if b["rows_per_s"] else float("inf")
        rows.append((f"POST /donations/batch, {b['rows']:,} rows ({b['chunk']:,}/request, "
                     f"{b['client_threads']} threads): wall s", f"{b['wall_s']:.1f}",
                     "<= 30 s for 1M" if b["rows"] == 1_000_000 else f"(1M at this rate: {per_million:.0f} s)",
                     _verdict(b["rows_per_s"] >= TARGET_BATCH_ROWS_PER_S)))
        rows.append(("POST /donations/batch: rows/s", f"{b['rows_per_s']:,.0f}", f">= {TARGET_BATCH_ROWS_PER_S:,.0f}",
                     _verdict(b["rows_per_s"] >= TARGET_BATCH_ROWS_PER_S)))
    for r in results.get("balance", []):
        rows.append((f"GET balance, 1 client (httpx), ledger {r['ledger_entries']:,} entries "
                     f"(fund {r['fund_entries']:,}): p50 / p99 ms", f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f}",
                     f"p99 <= {TARGET_BALANCE_P99_MS:.0f}", _verdict(r["p99_ms"] <= TARGET_BALANCE_P99_MS)))
        w = r.get("wrk_1_connection")
        if w:
            rows.append(("  the same with wrk, 1 connection (server side): p50 / p99 ms",
                         f"{w['p50_ms']:.2f} / {w['p99_ms']:.2f}", "", ""))
    v = results.get("verify")
    if v:
        rows.append(("trial balance debits = credits", f"{v['trial_balance_equal']} ({v['trial_balance_s']} s)",
                     "True", _verdict(v["trial_balance_equal"])))
        rows.append((f"ledger/verify {v['chain_fund']} ({v['chain_entries']} entries)",
                     f"{v['chain_valid']} ({v['chain_verify_s']} s)", "True", _verdict(v["chain_valid"])))
        rows.append(("receipts gapless; fund balances = postings",
                     f"{v['receipts_gapless']}; {v['fund_balances_match_postings']}", "True",
                     _verdict(v["receipts_gapless"] and v["fund_balances_match_postings"])))
    c = results["config"]
    lines = [
        f"# Benchmark {results['started_at']}",
        "",
        f"commit `{results['commit']}`, {c['cpus']} CPUs, PostgreSQL {results.get('postgres', '?')}, gunicorn gthread "
        f"{c['workers']} workers x {c['threads']} threads, {c['seconds']} s per load step.",
        "",
        "| measurement | value | target | |",
        "|---|---|---|---|",
        *[f"| {m} | {v} | {t} | {ok} |" for m, v, t, ok in rows],
        "",
    ]
    settings = results.get("postgres_settings", {})
    if settings.get("autovacuum") == "off":
        lines.append("PostgreSQL runs with autovacuum off here: the tables are never vacuumed or analyzed "
                     "during the run.")
    if widest is not None:
        lines.append(f"CPU during HTTP at {widest} connections: {cpu_text(http[widest]['cpu'])}.")
    if pg:
        lines.append(f"CPU during pgbench at {max(pg)} clients: {cpu_text(pg[max(pg)]['cpu'])}.")
    for b in results.get("batch", []):
        if b["label"] == "batch":
            lines.append(f"CPU during the batch: {cpu_text(b['cpu'])}.")
    busy = [f"{name} {step['cpu']['cores_by_group'].get('other', 0):.2f}"
            for name, step in _steps(results) if step["cpu"]["cores_by_group"].get("other", 0) >= 0.15]
    if busy:
        lines += ["", f"**Other processes used CPU during the run** (cores; the figures are low and noisy): "
                      f"{', '.join(busy)}."]
    if results["errors"]:
        lines += ["", "**Errors:**", *[f"- {e}" for e in results["errors"]]]
    lines.append("")
    return "\n".join(lines)


def _steps(results: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for r in results.get("http", []):
        yield f"HTTP c={r['connections']}", r
    for r in results.get("pgbench", []):
        yield f"pgbench c={r['clients']}", r
    for r in results.get("batch", []):
        yield r["label"], r
    for r in results.get("balance", []):
        yield f"balance ({r['label']})", r


def _commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ("+dirty" if dirty else "") if commit else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def write_results(results: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{results['started_at_compact']}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    text = markdown(results)
    (RESULTS_DIR / "latest.md").write_text(text)
    print("\n" + text)
    log(f"results: {path.relative_to(REPO_ROOT)} and bench/results/latest.md")
    return path


# -- main -------------------------------------------------------------------------------------

def in_threads(work: list[Any], threads: int, action: Callable[[Any], None]) -> list[str]:
    """`action` on every item from `threads` threads; the first problems, if any (the seeding of
    reports.py and pages.py)."""
    lock = threading.Lock()
    problems: list[str] = []
    items = iter(work)

    def loop() -> None:
        while not problems:
            with lock:
                item = next(items, None)
            if item is None:
                return
            try:
                action(item)
            except Exception as error:  # noqa: BLE001 - reported, and the run fails
                with lock:
                    problems.append(f"{type(error).__name__}: {error}")

    pool = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return problems[:5]


def main() -> int:
    for tool in ("wrk", "pgbench"):
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} is not installed (scripts/system-deps.sh installs it)")
    config = Config.from_env()
    started = dt.datetime.now(dt.UTC)
    results: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "started_at_compact": started.strftime("%Y%m%dT%H%M%SZ"),
        "commit": _commit(), "host": platform.node(), "python": platform.python_version(),
        "config": {"cpus": os.cpu_count(), "workers": config.workers, "threads": config.threads,
                   "seconds": config.seconds, "connections": config.connections,
                   "warmup_s": config.warmup_seconds, "seed_rows": config.seed_rows,
                   "batch_rows": config.batch_rows, "chunk": config.chunk, "batch_threads": config.batch_threads,
                   "batch_funds": config.batch_funds, "balance_requests": config.balance_requests,
                   "database": config.db.render_as_string(hide_password=True), "steps": sorted(config.steps)},
        "errors": [],
    }
    stopper = Stopper()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    work_dir = Path(tempfile.mkdtemp(prefix="charity-bench-"))
    stopper.push("work dir", lambda: shutil.rmtree(work_dir, ignore_errors=True))
    server: Server | None = None
    try:
        recreate_database(config)
        if not config.keep_db:
            stopper.push("database", lambda: drop_database(config))
        results["postgres"] = sql_one(config, "SHOW server_version")[0]
        with psycopg.connect(libpq_dsn(config.db), autocommit=True) as connection:
            results["postgres_settings"] = dict(connection.execute(
                "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                (["autovacuum", "fsync", "synchronous_commit", "shared_buffers", "max_connections",
                  "wal_sync_method", "commit_delay"],)).fetchall())
        admin_key = "cfk_bench-" + secrets.token_urlsafe(24)
        env = {**os.environ, "DATABASE_URL": config.database_url, "SECRET_KEY": config.secret_key,
               "DATABASE_ROLE_PREFIX": "",
               "BOOTSTRAP_ADMIN_API_KEY": admin_key, "VAR_DIR": str(work_dir / "var"),
               "PYTHONUNBUFFERED": "1"}
        server = start_server(config, env, work_dir, stopper)
        fixture = set_up(config, server.base_url, admin_key)
        run = Run(config, server, fixture, work_dir, results, results["errors"], stopper)
        small_fund_activity(server.base_url, fixture)
        run.quiet = QuietGate(config.quiet_wait, run.gunicorn_pids)
        results["machine"] = run.quiet.seen

        # Seed ~10k entries, then the first balance reads.
        results["batch"] = [run_batch(run, config.seed_rows, "SEED", "seed")]
        if "balance" in config.steps:
            results["balance"] = [run_balance(run, fixture.batch_funds[0], "before batch")]
            log(f"balance @ {results['balance'][0]['ledger_entries']:,} entries: p50 "
                f"{results['balance'][0]['p50_ms']:.2f} ms, p99 {results['balance'][0]['p99_ms']:.2f} ms")

        if "http" in config.steps:
            if config.warmup_seconds:
                log(f"warm-up: {config.warmup_seconds} s of wrk at {max(config.connections)} connections")
                run_wrk(run, max(config.connections), config.warmup_seconds, label="warm-up")
            results["http"] = []
            for connections in config.connections:
                result = run_wrk(run, connections, config.seconds)
                results["http"].append(result)
                log(f"HTTP {connections:>3} conn: {result['donations_per_s']:.0f} donations/s, p50 "
                    f"{result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, non-2xx {result['non_2xx']}; "
                    f"{cpu_text(result['cpu'])}")
        if "pgbench" in config.steps:
            results["pgbench"] = []
            for clients in config.connections:
                result = run_pgbench(run, clients, config.seconds)
                results["pgbench"].append(result)
                log(f"pgbench {clients:>3} clients: {result['tps']:.0f} tx/s, p50 {result['p50_ms']:.1f} ms, "
                    f"p99 {result['p99_ms']:.1f} ms; {cpu_text(result['cpu'])}")
        if "batch" in config.steps:
            result = run_batch(run, config.batch_rows, "B", "batch")
            results["batch"].append(result)
            log(f"batch: {result['rows']:,} rows in {result['wall_s']:.1f} s = {result['rows_per_s']:,.0f} rows/s; "
                f"{cpu_text(result['cpu'])}")
        if "balance" in config.steps:
            results["balance"].append(run_balance(run, fixture.batch_funds[0], "after batch"))
            last = results["balance"][-1]
            log(f"balance @ {last['ledger_entries']:,} entries: p50 {last['p50_ms']:.2f} ms, "
                f"p99 {last['p99_ms']:.2f} ms")
        if "verify" in config.steps:
            log("verifying (not timed)")
            results["verify"] = run_verify(run)
        results["ledger"] = ledger_size(config)
        results["database_size_mb"] = round(sql_one(
            config, "SELECT pg_database_size(current_database())")[0] / 1e6)
    except KeyboardInterrupt:
        log("interrupted: stopping what was started")
        stopper.stop_all()
        return 130
    except BenchError as error:
        results["errors"].append(str(error))
        log(f"FAILED: {error}")
    except Exception as error:  # an unexpected failure: still stop everything, still report
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
    except BenchError as error:
        log(f"FAILED: {error}")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
