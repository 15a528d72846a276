"""`make bench` (fifth part): the programmes service on the demonstration's data.

    .venv/bin/python bench/programmes.py                     # BENCH_SUITES=programmes make bench

On a fresh database (charity_programmes_bench, dropped and recreated) behind the gateway under
gunicorn, as `make run` serves it (bench/run.py's helpers, bench/pages.py's measuring):

  1. demo      the demonstration (scripts/demo.py's Demo) loaded through the API, timed; then
               loaded a second time, timed, which must add nothing.
  2. reads     after a warm-up, BENCH_PROGRAMMES_REQUESTS (50) requests one after the other on one
               keep-alive connection, p50/p95/max: the API with the admin key, the pages logged in as
               admin, the public pages and their JSON without a login.
  3. claims    64 organisations (each its own programmes:write key) claim 300.00 of one need of
               64 x 300.00 / 2 at once, from 64 threads: wall time, claims/s, how many were granted
               (exactly 32), and the need never over-pledged.
  4. approvals 32 requested disbursements of 100.00 on a budget line of 1,600.00, approved from 32
               threads at once: wall time, exactly 16 approved, the line never over-spent.
  Both races run BENCH_PROGRAMMES_RACE_ROUNDS (3) times, each on a need or project of its own.

Results go to bench/results/programmes-<timestamp>.json and bench/results/programmes-latest.md.
Everything it starts is stopped on exit, Ctrl-C or failure. It talks to 127.0.0.1 only.
See bench/README.md for the environment variables.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
for _path in (str(REPO_ROOT), str(BENCH_DIR), str(REPO_ROOT / "scripts")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import httpx  # noqa: E402

from shared.dates import today  # noqa: E402  Beijing's date, as the services count it

import pages as pb  # noqa: E402  bench/pages.py: login, measuring a page one request after another
import run as lb  # noqa: E402  bench/run.py: gunicorn, databases, CPU accounting, percentiles, threads
from demo import Demo  # noqa: E402  scripts/demo.py: the demonstration, through the API

RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_DATABASE_URL = f"postgresql+psycopg://postgres@{lb.LOOPBACK}:5432/charity_programmes_bench"
API = "/programmes/api/v1"
DISBURSEMENTS = "/donations/api/v1/disbursements"
JSON = "application/json"
HTML = pb.HTML
CLAIMERS = 64
CLAIM_FEN = 30_000           # each organisation claims 300.00
APPROVERS = 32
LINE_FEN = 160_000           # a budget line of 1,600.00
DISBURSEMENT_FEN = 10_000    # 32 requests of 100.00: exactly 16 fit
RACE_FUND = "PB-RACE-FUND"
RACE_LINE = "教学设备"
TARGET_DEMO_S = 120          # the issue: the demonstration loads in under two minutes


def log(message: str) -> None:
    print(f"[programmes {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Unexpected(pb.Unexpected):
    """An answer the run did not expect: the measurement fails (and the run)."""


# -- configuration ----------------------------------------------------------------------------

@dataclass
class Config:
    database_url: str
    requests: int
    warmup: int
    race_rounds: int
    public_reads_per_minute: int
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
        config = cls(
            database_url=os.environ.get("BENCH_PROGRAMMES_DATABASE_URL") or DEFAULT_DATABASE_URL,
            requests=lb._int("BENCH_PROGRAMMES_REQUESTS", 50),
            warmup=lb._int("BENCH_PROGRAMMES_WARMUP", 3, minimum=0),
            race_rounds=lb._int("BENCH_PROGRAMMES_RACE_ROUNDS", 3),
            public_reads_per_minute=lb._int("BENCH_PROGRAMMES_PUBLIC_READS_PER_MINUTE", 1_000_000),
            workers=lb._int("BENCH_WORKERS", int(os.environ.get("WEB_CONCURRENCY") or cpus)),
            threads=lb._int("BENCH_THREADS", int(os.environ.get("WEB_THREADS") or 32)),
            quiet_wait=lb._int("BENCH_QUIET_WAIT", 120, minimum=0),
            port=lb._int("BENCH_PORT", 0, minimum=0),
            keep_db=(os.environ.get("BENCH_KEEP_DB") or "1") not in ("0", "", "no", "false"),
        )
        parsed = lb.make_url(config.database_url)
        if parsed.get_backend_name() != "postgresql" or not parsed.database:
            raise lb.BenchError("BENCH_PROGRAMMES_DATABASE_URL must be a postgresql URL naming a database")
        if (parsed.host or "") != lb.LOOPBACK:
            raise lb.BenchError(f"BENCH_PROGRAMMES_DATABASE_URL must point at {lb.LOOPBACK} "
                                "(the bench talks to nothing else)")
        return config

    @property
    def db(self) -> Any:
        return lb.make_url(self.database_url)


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def fen(amount: str) -> int:
    whole, _, cents = amount.partition(".")
    return int(whole) * 100 + int((cents + "00")[:2])


def ok(response: httpx.Response, status: int, what: str) -> Any:
    return pb.expect(response, status, what).json()


# -- 1. the demonstration -------------------------------------------------------------------------

def load_demo(base: str, admin_key: str) -> dict[str, Any]:
    """Demo(url, key).run() twice: the first loads it all, the second must add nothing."""
    runs = []
    for attempt in ("first", "second"):
        demo = Demo(base, admin_key)
        began = time.perf_counter()
        try:
            demo.run()
        except SystemExit as refused:  # the demo stops on any answer it did not expect
            raise Unexpected(f"demo, {attempt} run: {refused}") from None
        finally:
            demo.http.close()
        took = time.perf_counter() - began
        runs.append({"run": attempt, "seconds": round(took, 1), "made": dict(demo.made)})
        log(f"demo, {attempt} run: {took:.1f} s, made {demo.made or 'nothing'}")
    if runs[1]["made"]:
        raise Unexpected(f"the demo's second run added {runs[1]['made']}")
    return {"first_s": runs[0]["seconds"], "second_s": runs[1]["seconds"], "made": runs[0]["made"],
            "second_made": runs[1]["made"], "under_target": runs[0]["seconds"] < TARGET_DEMO_S}


@dataclass
class Subjects:
    """What the reads measure: the demonstration's first project, its fund, a team, the drive, a village."""
    project: str
    fund: str
    team_id: int
    drive_id: int
    village_id: int
    counts: dict[str, int]


def subjects(admin: httpx.Client) -> Subjects:
    project = ok(admin.get(f"{API}/projects/TL-WG-001"), 200, "project TL-WG-001")
    villages = ok(admin.get(f"{API}/villages", params={"limit": 500}), 200, "villages")["items"]
    village = next((v for v in villages if v["name"] == "红旗村"), None)
    teams = ok(admin.get(f"{API}/teams", params={"limit": 500}), 200, "teams")["items"]
    drives = ok(admin.get(f"{API}/drives", params={"limit": 500}), 200, "drives")["items"]
    if village is None or not teams or not drives:
        raise Unexpected(f"the demonstration lacks what is measured: village {village}, {len(teams)} teams, "
                         f"{len(drives)} drives")
    team = max(teams, key=lambda t: (len(t.get("village_ids") or []), -t["id"]))

    def total(path: str) -> int:
        count, cursor = 0, None
        while True:
            page = ok(admin.get(path, params={"limit": 500, **({"cursor": cursor} if cursor else {})}), 200, path)
            count += len(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                return count

    counts = {name: total(f"{API}/{name}") for name in ("villages", "needs", "claims", "projects", "teams")}
    return Subjects(project["code"], project["fund_code"], team["id"], drives[0]["id"], village["id"], counts)


# -- 2. the reads ---------------------------------------------------------------------------------

def reads(s: Subjects) -> list[tuple[str, list[pb.Page]]]:
    public = "/programmes/public"
    return [
        ("api", [
            pb.Page("api_needs", "GET /needs?limit=50", f"{API}/needs", {"limit": 50}, JSON),
            pb.Page("api_projects", "GET /projects?limit=50", f"{API}/projects", {"limit": 50}, JSON),
            pb.Page("api_project", f"GET /projects/{s.project}", f"{API}/projects/{s.project}", kind=JSON),
            pb.Page("api_team", f"GET /teams/{s.team_id}", f"{API}/teams/{s.team_id}", kind=JSON),
            pb.Page("api_drive", f"GET /drives/{s.drive_id}", f"{API}/drives/{s.drive_id}", kind=JSON),
        ]),
        ("pages", [
            pb.Page("page_needs", "/programmes/ (needs list)", "/programmes/"),
            pb.Page("page_projects", "/programmes/projects", "/programmes/projects"),
            pb.Page("page_project", f"/programmes/projects/{s.project}", f"/programmes/projects/{s.project}"),
            pb.Page("page_team", f"/programmes/teams/{s.team_id}", f"/programmes/teams/{s.team_id}"),
            pb.Page("page_drive", f"/programmes/drives/{s.drive_id}", f"/programmes/drives/{s.drive_id}"),
            pb.Page("page_calendar", "/programmes/calendar", "/programmes/calendar"),
        ]),
        ("public", [
            pb.Page("public_fund", f"/public/funds/{s.fund}", f"{public}/funds/{s.fund}"),
            pb.Page("public_project", f"/public/projects/{s.project}", f"{public}/projects/{s.project}"),
            pb.Page("public_village", f"/public/villages/{s.village_id}", f"{public}/villages/{s.village_id}"),
            pb.Page("public_fund_json", f"/public/v1/funds/{s.fund}", f"{public}/v1/funds/{s.fund}", kind=JSON),
            pb.Page("public_project_json", f"/public/v1/projects/{s.project}", f"{public}/v1/projects/{s.project}",
                    kind=JSON),
            pb.Page("public_village_json", f"/public/v1/villages/{s.village_id}",
                    f"{public}/v1/villages/{s.village_id}", kind=JSON),
        ]),
    ]


# -- 3. and 4. the races --------------------------------------------------------------------------

def race(clients: list[httpx.Client], action: Callable[[httpx.Client, int], httpx.Response]) -> dict[str, Any]:
    """`action` from one thread a client, all released at once (their connections already open):
    the wall time from the release to the last answer, each answer's status and latency."""
    released: list[float] = []
    start = threading.Barrier(len(clients), action=lambda: released.append(time.perf_counter()))
    answers: dict[int, tuple[httpx.Response | Exception, float]] = {}
    lock = threading.Lock()

    def one(n: int) -> None:
        start.wait()
        began = time.perf_counter()
        try:
            answer: httpx.Response | Exception = action(clients[n], n)
        except httpx.HTTPError as error:
            answer = error
        with lock:
            answers[n] = (answer, time.perf_counter() - began)

    threads = [threading.Thread(target=one, args=(n,), daemon=True) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    wall = time.perf_counter() - released[0]
    failed = [f"{type(a).__name__}: {a}" for a, _ in answers.values() if isinstance(a, Exception)]
    if failed or len(answers) != len(clients):
        raise Unexpected(f"{len(clients) - len(answers)} unanswered, errors: {failed[:3]}")
    return {"wall_s": wall, "answers": {n: a for n, (a, _) in answers.items()},
            "latency": pb.summary([t for _, t in answers.values()])}


class Connections:
    """The most connections PostgreSQL served during a race (all databases: its max_connections is
    shared with whatever else runs), and the bench database's share, sampled every 20 ms."""

    QUERY = "SELECT count(*), count(*) FILTER (WHERE datname = current_database()) FROM pg_stat_activity"

    def __init__(self, config: Config) -> None:
        self.dsn = lb.libpq_dsn(config.db)
        self.peak = (0, 0)
        self.limit = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="connections", daemon=True)

    def _run(self) -> None:
        with lb.psycopg.connect(self.dsn, autocommit=True) as connection:
            self.limit = int(connection.execute("SHOW max_connections").fetchone()[0])  # type: ignore[index]
            while not self._stop.wait(0.02):
                total, ours = connection.execute(self.QUERY).fetchone()  # type: ignore[misc]
                self.peak = (max(self.peak[0], total), max(self.peak[1], ours))

    def __enter__(self) -> Connections:
        self._thread.start()
        time.sleep(0.05)
        return self

    def __exit__(self, *_exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def report(self) -> dict[str, int]:
        return {"peak_all_databases": self.peak[0], "peak_bench_database": self.peak[1],
                "max_connections": self.limit}


def log_causes(server: lb.Server, since: int) -> dict[str, int]:
    """What the gunicorn log says went wrong after byte `since`: why a request got a 503."""
    try:
        with server.log_path.open("rb") as handle:
            handle.seek(since)
            text = handle.read().decode(errors="replace")
    except OSError:
        return {}
    signs = {"pool exhausted (QueuePool limit)": "QueuePool limit", "too many clients (53300)": "too many clients",
             "connection slots reserved": "remaining connection slots", "503 answers": '"status": 503'}
    return {name: text.count(sign) for name, sign in signs.items() if sign in text}


def log_size(server: lb.Server) -> int:
    try:
        return server.log_path.stat().st_size
    except OSError:
        return 0


def unexpected(answers: dict[int, httpx.Response], expected: set[int]) -> list[str]:
    """The first few answers of a status the race should not give, as received."""
    return [f"{a.status_code} {a.text[:300]}" for a in answers.values() if a.status_code not in expected][:3]


def keyed(base: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=base, timeout=120, trust_env=False, limits=pb.CLIENT_LIMITS,
                        headers={"Authorization": f"Bearer {key}"})


def claim_race(config: Config, server: lb.Server, admin: httpx.Client, claimers: list[str], round_no: int,
               village_id: int, quiet: lb.QuietGate, ours: Callable[[], set[int]]) -> dict[str, Any]:
    base = server.base_url
    amount = CLAIMERS * CLAIM_FEN // 2
    need = ok(admin.post(f"{API}/needs", json={
        "village_id": village_id, "title": f"并发认领测试 {round_no + 1}：路灯 32 盏", "category": "lighting",
        "amount": yuan(amount), "due_on": (today() + dt.timedelta(days=180)).isoformat(),
        "priority": "normal"}), 201, "need")
    clients = [keyed(base, key) for key in claimers]
    try:
        for client in clients:  # each connection open and its key known before the start
            ok(client.get(f"{API}/needs/{need['id']}"), 200, "the need, read by a claimer")
        quiet.wait(f"claim race {round_no + 1}")
        since = log_size(server)
        with lb.CpuSampler(ours, None) as cpu, Connections(config) as connections:
            raced = race(clients, lambda client, _n: client.post(f"{API}/needs/{need['id']}/claims",
                                                                 json={"amount": yuan(CLAIM_FEN)}))
    finally:
        for client in clients:
            client.close()
    answers = raced["answers"]
    statuses = Counter(a.status_code for a in answers.values())
    granted = [a.json() for a in answers.values() if a.status_code == 201]
    refused = {a.json().get("code") for a in answers.values() if a.status_code == 409}
    shown = ok(admin.get(f"{API}/needs/{need['id']}"), 200, "the need after the race")
    pledged = sum(fen(c["amount"]) for c in granted)
    checks = {
        "only 201 and 409": set(statuses) <= {201, 409},
        "refusals are claim_exceeds_open": refused <= {"claim_exceeds_open"},
        "granted exactly half": len(granted) == CLAIMERS // 2,
        "never over-pledged": fen(shown["pledged"]) == pledged <= amount,
        "open = amount - pledged": fen(shown["open"]) == amount - pledged,
    }
    wall = raced["wall_s"]
    return {"round": round_no + 1, "unexpected": unexpected(answers, {201, 409}), "need_id": need["id"], "need_amount": yuan(amount), "wall_ms": round(wall * 1000, 1),
            "claims_per_s": round(CLAIMERS / wall, 1), "granted": len(granted), "refused": statuses.get(409, 0),
            "statuses": {str(k): v for k, v in statuses.items()}, "pledged": shown["pledged"], "open": shown["open"],
            "latency": raced["latency"], "checks": checks, "ok": all(checks.values()), "cpu": cpu.report(),
            "connections": connections.report(), "server_log": log_causes(server, since)}


@dataclass
class RaceOrg:
    organization_id: int
    clerk: str
    approver: str


def race_organisation(admin: httpx.Client) -> RaceOrg:
    org = ok(admin.post("/funds/api/v1/organizations", json={"name": "并发审批测试商会", "kind": "chamber_of_commerce"}),
             201, "organisation")
    ok(admin.post("/funds/api/v1/funds", json={
        "code": RACE_FUND, "name": "并发审批测试基金", "kind": "chamber_named", "organization_id": org["id"],
        "purpose": "助学", "restricted": False}), 201, "fund")
    ok(admin.post("/donations/api/v1/donations", json={
        "fund_code": RACE_FUND, "amount": "100000.00", "currency": "CNY",
        "donor": {"name": "铜陵某公司", "kind": "enterprise", "anonymous": False},
        "received_on": today().isoformat(), "channel": "bank"}), 201, "donation")

    def key(name: str, scopes: list[str]) -> str:
        return str(ok(admin.post(f"/funds/api/v1/organizations/{org['id']}/api-keys",
                                 json={"name": name, "scopes": scopes}), 201, f"{name} key")["key"])

    return RaceOrg(org["id"], key("clerk", ["programmes:read", "programmes:write", "donations:read",
                                            "donations:write"]),
                   key("approver", ["programmes:read", "disbursements:approve", "donations:read"]))


def approval_race(config: Config, server: lb.Server, org: RaceOrg, round_no: int, village_id: int,
                  quiet: lb.QuietGate, ours: Callable[[], set[int]]) -> dict[str, Any]:
    base = server.base_url
    code = f"PB-RACE-{round_no + 1:02d}"
    day = today()
    with keyed(base, org.clerk) as clerk, keyed(base, org.approver) as approver:
        ok(clerk.post(f"{API}/projects", json={
            "code": code, "name": "并发审批测试项目", "fund_code": RACE_FUND, "village_id": village_id,
            "starts_on": day.isoformat(), "ends_on": (day + dt.timedelta(days=180)).isoformat(),
            "lines": [{"name": RACE_LINE, "amount": yuan(LINE_FEN)}],
            "milestones": [{"name": "全部", "due_on": (day + dt.timedelta(days=180)).isoformat(),
                            "instalment": yuan(LINE_FEN)}]}), 201, "project")
        ok(approver.post(f"{API}/projects/{code}/approve"), 200, "project approval")
        ok(clerk.post(f"{API}/projects/{code}/milestones/1/report", json={"report": "完成"}), 200, "report")
        ok(approver.post(f"{API}/projects/{code}/milestones/1/accept"), 200, "acceptance")
        ids = [ok(clerk.post(DISBURSEMENTS, json={
            "fund_code": RACE_FUND, "amount": yuan(DISBURSEMENT_FEN), "payee": "铜陵某教育设备公司",
            "purpose": "采购教学设备", "project_code": code, "budget_line": RACE_LINE}), 201, "disbursement")["id"]
            for _ in range(APPROVERS)]
        before = ok(approver.get(f"/donations/api/v1/funds/{RACE_FUND}/balance"), 200, "balance")
        clients = [keyed(base, org.approver) for _ in range(APPROVERS)]
        try:
            for client, ident in zip(clients, ids):
                ok(client.get(f"{DISBURSEMENTS}/{ident}"), 200, "the disbursement, read by its approver")
            quiet.wait(f"approval race {round_no + 1}")
            since = log_size(server)
            with lb.CpuSampler(ours, None) as cpu, Connections(config) as connections:
                raced = race(clients, lambda client, n: client.post(f"{DISBURSEMENTS}/{ids[n]}/approve"))
        finally:
            for client in clients:
                client.close()
        project = ok(approver.get(f"{API}/projects/{code}"), 200, "project after the race")
        after = ok(approver.get(f"/donations/api/v1/funds/{RACE_FUND}/balance"), 200, "balance")
        approved = len(ok(approver.get(DISBURSEMENTS, params={
            "fund_code": RACE_FUND, "status": "approved", "project_code": code, "limit": 500}), 200,
            "approved disbursements")["items"])
    answers = raced["answers"]
    statuses = Counter(a.status_code for a in answers.values())
    refused = {a.json().get("code") for a in answers.values() if a.status_code == 409}
    line = next(x for x in project["lines"] if x["name"] == RACE_LINE)
    fits = LINE_FEN // DISBURSEMENT_FEN
    checks = {
        "only 200 and 409": set(statuses) <= {200, 409},
        "exactly 16 approved": statuses.get(200, 0) == fits == approved,
        "line reserved in full, never beyond": (fen(line["reserved"]), fen(line["remaining"])) == (LINE_FEN, 0),
        "fund's available down by the line": fen(before["available"]) - fen(after["available"]) == LINE_FEN,
    }
    wall = raced["wall_s"]
    return {"round": round_no + 1, "unexpected": unexpected(answers, {200, 409}), "project": code, "wall_ms": round(wall * 1000, 1),
            "approvals_per_s": round(APPROVERS / wall, 1), "approved": statuses.get(200, 0),
            "refused": statuses.get(409, 0), "refusal_codes": sorted(c or "" for c in refused),
            "statuses": {str(k): v for k, v in statuses.items()}, "line": {k: line.get(k) for k in (
                "amount", "approved", "reserved", "paid", "remaining")},
            "latency": raced["latency"], "checks": checks, "ok": all(checks.values()), "cpu": cpu.report(),
            "connections": connections.report(), "server_log": log_causes(server, since)}


def claimer_keys(admin: httpx.Client) -> list[str]:
    keys = []
    for n in range(CLAIMERS):
        org = ok(admin.post("/funds/api/v1/organizations", json={"name": f"并发认领测试商会{n + 1:02d}",
                                                                  "kind": "chamber_of_commerce"}), 201, "organisation")
        keys.append(str(ok(admin.post(f"/funds/api/v1/organizations/{org['id']}/api-keys", json={
            "name": "认领", "scopes": ["programmes:read", "programmes:write"]}), 201, "claimer key")["key"]))
    return keys


def race_summary(rounds: list[dict[str, Any]], rate: str) -> dict[str, Any]:
    walls = sorted(r["wall_ms"] for r in rounds)
    rates = sorted(r[rate] for r in rounds)
    return {"rounds": len(rounds), "wall_median_ms": walls[len(walls) // 2], "wall_max_ms": walls[-1],
            f"{rate}_median": rates[len(rates) // 2], "ok": all(r["ok"] for r in rounds)}


# -- results ------------------------------------------------------------------------------------

def _size(n: int | None) -> str:
    return pb._size(n)


def others(r: dict[str, Any], expected: tuple[str, ...]) -> str:
    return ", ".join(f"{n} x {status}" for status, n in r["statuses"].items() if status not in expected) or "0"


def peak(r: dict[str, Any]) -> str:
    c = r.get("connections") or {}
    return f"{c.get('peak_all_databases', '?')} / {c.get('peak_bench_database', '?')} (of {c.get('max_connections', '?')})"


def verdict(r: dict[str, Any]) -> str:
    return "ok" if r["ok"] else "FAILED: " + ", ".join(name for name, good in r["checks"].items() if not good)


def markdown(results: dict[str, Any]) -> str:
    c = results["config"]
    machine = results.get("machine", [])
    busiest = max((m["background_cores"] for m in machine), default=None)
    lines = [f"# Programmes service ({results['started_at']}, {results['commit']})", ""]
    demo = results.get("demo")
    if demo:
        made = ", ".join(f"{n:,} {what}" for what, n in demo["made"].items())
        lines += [f"The demonstration (scripts/demo.py) loaded through the API in **{demo['first_s']} s** "
                  f"({'under' if demo['under_target'] else 'NOT under'} the {TARGET_DEMO_S} s of the issue, on the "
                  f"bench database): {made}. A second run: {demo['second_s']} s, "
                  f"{'adding nothing' if not demo['second_made'] else 'ADDING ' + str(demo['second_made'])}.", ""]
    seen = results.get("subjects")
    lines += [f"gunicorn {c['workers']} workers x {c['threads']} threads on {c['cpus']} CPUs. One client, one request "
              f"after another on a keep-alive connection; {c['requests']} requests each after {c['warmup']} warm-up "
              f"requests. The API with the admin key, the pages logged in as admin, the public ones without a login"
              + (f"; the data: {', '.join(f'{n:,} {w}' for w, n in seen['counts'].items())}." if seen else "."), "",
              "| part | request | requests | p50 ms | p95 ms | max ms | size |", "|---|---|---|---|---|---|---|"]
    for part, measured in results.get("reads", {}).items():
        for r in measured:
            if "error" in r:
                lines.append(f"| {part} | {r['label']} | | | | | **ERROR** {r['error'][:200]} |")
            else:
                lines.append(f"| {part} | {r['label']} | {r['count']} | {r['p50_ms']:,} | {r['p95_ms']:,} | "
                             f"{r['max_ms']:,} | {_size(r['bytes'])} |")
    claims = results.get("claims")
    if claims:
        lines += ["", f"**The claim race**: {CLAIMERS} organisations claim {yuan(CLAIM_FEN)} each of one need of "
                  f"{yuan(CLAIMERS * CLAIM_FEN // 2)} at once, from {CLAIMERS} threads (connections open before the "
                  f"start); {len(claims)} rounds, each on a need of its own.", "",
                  "| round | wall ms | claims/s | granted | refused (409) | other | pledged | open | p50 / max ms a claim "
                  "| peak connections (all / bench db) | checks |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in claims:
            lines.append(f"| {r['round']} | {r['wall_ms']:,} | {r['claims_per_s']:,} | {r['granted']} | {r['refused']} | "
                         f"{others(r, ('201', '409'))} | {r['pledged']} | {r['open']} | {r['latency']['p50_ms']:,} / "
                         f"{r['latency']['max_ms']:,} | {peak(r)} | {verdict(r)} |")
    approvals = results.get("approvals")
    if approvals:
        lines += ["", f"**Concurrent approvals**: {APPROVERS} requested disbursements of {yuan(DISBURSEMENT_FEN)} on a "
                  f"budget line of {yuan(LINE_FEN)}, approved from {APPROVERS} threads at once; {len(approvals)} "
                  f"rounds, each on a project of its own.", "",
                  "| round | wall ms | approvals/s | approved | refused (409) | other | line reserved / remaining | "
                  "p50 / max ms an approval | peak connections (all / bench db) | checks |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in approvals:
            lines.append(f"| {r['round']} | {r['wall_ms']:,} | {r['approvals_per_s']:,} | {r['approved']} | "
                         f"{r['refused']} ({', '.join(r['refusal_codes'])}) | {others(r, ('200', '409'))} | "
                         f"{r['line']['reserved']} / {r['line']['remaining']} | {r['latency']['p50_ms']:,} / "
                         f"{r['latency']['max_ms']:,} | {peak(r)} | {verdict(r)} |")
    odd = [r for r in (claims or []) + (approvals or []) if r.get("unexpected")]
    if odd:
        lines += ["", "Answers a race should not give (first of each round) and what the server's log says:", ""]
        lines += [f"- {'claim' if 'need_id' in r else 'approval'} race {r['round']}: {r['unexpected'][0][:240]}; "
                  f"log: {r.get('server_log')}; connections {r.get('connections')}" for r in odd]
    lines += [""]
    if busiest is not None:
        lines.append(f"Machine: {c['cpus']} CPUs shared with other work; load average {results.get('loadavg_start')} "
                     f"at the start, {results.get('loadavg_end')} at the end; before each measurement other processes "
                     f"used at most {busiest:.2f} cores "
                     f"({'idle' if busiest <= 0.25 else 'NOT idle: figures may be high'}).")
    if results.get("uncommitted"):
        lines.append(f"Measured with uncommitted changes in: {', '.join(results['uncommitted'])}.")
    if results["errors"]:
        lines += ["", "**Errors:**", ""] + [f"- {e}" for e in results["errors"]]
    return "\n".join(lines) + "\n"


def write_results(results: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"programmes-{results['started_at_compact']}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    text = markdown(results)
    (RESULTS_DIR / "programmes-latest.md").write_text(text)
    print("\n" + text)
    log(f"results: {path.relative_to(REPO_ROOT)} and bench/results/programmes-latest.md")
    return path


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- main ----------------------------------------------------------------------------------------

def main() -> int:
    lb.log = log  # one voice in the output
    pb.log = log
    config = Config.from_env()
    started = dt.datetime.now(dt.UTC)
    results: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"), "started_at_compact": started.strftime("%Y%m%dT%H%M%SZ"),
        "commit": lb._commit(), "uncommitted": pb.uncommitted(), "host": platform.node(),
        "python": platform.python_version(), "loadavg_start": loadavg(),
        "config": {"cpus": os.cpu_count(), "workers": config.workers, "threads": config.threads,
                   "requests": config.requests, "warmup": config.warmup, "race_rounds": config.race_rounds,
                   "public_reads_per_minute": config.public_reads_per_minute,
                   "database": config.db.render_as_string(hide_password=True)},
        "errors": [],
    }
    stopper = lb.Stopper()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored
    signal.signal(signal.SIGTERM, lb._raise_interrupt)
    signal.signal(signal.SIGHUP, lb._raise_interrupt)
    work_dir = Path(tempfile.mkdtemp(prefix="charity-programmes-"))
    stopper.push("work dir", lambda: shutil.rmtree(work_dir, ignore_errors=True))
    server = None
    try:
        lb.create_database(config.database_url, replace=True)
        log(f"database {config.db.database} recreated; migrating")
        lb.upgrade(config.database_url, secret_key=config.secret_key)
        if not config.keep_db:
            stopper.push("database", lambda: lb.drop_database_and_roles(config.database_url))
        results["postgres"] = lb.sql_one(config, "SHOW server_version")[0]
        admin_key, admin_password = "cfk_programmes-" + secrets.token_urlsafe(24), secrets.token_urlsafe(16)
        var_dir = work_dir / "var"
        env = {**os.environ, "DATABASE_URL": config.database_url, "SECRET_KEY": config.secret_key,
               "DATABASE_ROLE_PREFIX": "", "BOOTSTRAP_ADMIN_API_KEY": admin_key,
               "BOOTSTRAP_ADMIN_PASSWORD": admin_password, "VAR_DIR": str(var_dir),
               "PUBLIC_READS_PER_MINUTE": str(config.public_reads_per_minute), "PYTHONUNBUFFERED": "1"}
        os.environ["VAR_DIR"] = str(var_dir)  # the demo keeps its organisations' keys there
        server = lb.start_server(SimpleNamespace(port=config.port, workers=config.workers, threads=config.threads),
                                 env, work_dir, stopper)
        base = server.base_url

        def ours() -> set[int]:
            assert server is not None
            return {server.process.pid, *server.worker_pids()}

        quiet = lb.QuietGate(config.quiet_wait, ours)
        results["machine"] = quiet.seen

        quiet.wait("demo")
        results["demo"] = load_demo(base, admin_key)

        admin = keyed(base, admin_key)
        stopper.push("admin client", admin.close)
        seen = subjects(admin)
        results["subjects"] = seen.__dict__
        log(f"measuring project {seen.project}, fund {seen.fund}, team {seen.team_id}, drive {seen.drive_id}, "
            f"village {seen.village_id}; {seen.counts}")

        page_client = pb.browser(base)
        stopper.push("page client", page_client.close)
        results["login_lands_on"] = pb.log_in(page_client, "admin", admin_password)
        public_client = pb.browser(base)
        stopper.push("public client", public_client.close)
        clients = {"api": admin, "pages": page_client, "public": public_client}

        results["reads"] = {}
        for part, measured in reads(seen):
            results["reads"][part] = []
            for page in measured:
                result = pb.measure(clients[part], page, config.requests, config.warmup, quiet, ours)
                results["reads"][part].append(result)
                if "error" in result:
                    results["errors"].append(f"{page.label}: {result['error']}")
                    log(f"{page.label}: FAILED {result['error'][:300]}")
                else:
                    log(f"{page.label}: p50 {result['p50_ms']:,} ms, p95 {result['p95_ms']:,} ms, max "
                        f"{result['max_ms']:,} ms, {_size(result['bytes'])}; {lb.cpu_text(result['cpu'])}")

        keys = claimer_keys(admin)
        results["claims"] = []
        for n in range(config.race_rounds):
            r = claim_race(config, server, admin, keys, n, seen.village_id, quiet, ours)
            results["claims"].append(r)
            log(f"claim race {n + 1}: {r['wall_ms']:,} ms, {r['claims_per_s']} claims/s, {r['granted']} granted, "
                f"pledged {r['pledged']}, open {r['open']}: {'ok' if r['ok'] else 'FAILED ' + str(r['checks'])}")
            if not r["ok"]:
                results["errors"].append(f"claim race {n + 1}: {r['checks']}")
        results["claims_summary"] = race_summary(results["claims"], "claims_per_s")

        org = race_organisation(admin)
        results["approvals"] = []
        for n in range(config.race_rounds):
            r = approval_race(config, server, org, n, seen.village_id, quiet, ours)
            results["approvals"].append(r)
            log(f"approval race {n + 1}: {r['wall_ms']:,} ms, {r['approved']} approved, {r['refused']} refused "
                f"{r['refusal_codes']}, line {r['line']}: {'ok' if r['ok'] else 'FAILED ' + str(r['checks'])}")
            if not r["ok"]:
                results["errors"].append(f"approval race {n + 1}: {r['checks']}")
        results["approvals_summary"] = race_summary(results["approvals"], "approvals_per_s")
    except KeyboardInterrupt:
        log("interrupted: stopping what was started")
        stopper.stop_all()
        return 130
    except (lb.BenchError, pb.Unexpected) as error:
        results["errors"].append(str(error))
        log(f"FAILED: {error}")
    except Exception as error:  # noqa: BLE001 - an unexpected failure: still stop everything, still report
        traceback.print_exc()
        results["errors"].append(f"{type(error).__name__}: {error}")
    finally:
        if server is not None:
            results["gunicorn_log_tail"] = server.log_tail(20)
        stopper.stop_all()
    results["loadavg_end"] = loadavg()
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
