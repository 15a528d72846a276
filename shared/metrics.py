"""Prometheus metrics (prometheus_client), one page per service at GET /<service>/metrics.

Every metric carries a `service` label and each service's page shows its own
samples only (behind the gateway the three services share a process). Labels
are bounded: a request is counted by its URL rule (`/api/v1/donations/<int:donation_id>`),
never its raw path; money by the fund's kind (restricted or unrestricted),
never by fund or donor.

Under gunicorn with several workers (and for the Celery worker) the counts of
every process are added up: with PROMETHEUS_MULTIPROC_DIR set before
prometheus_client is first imported, each process writes its values to files
there and a scrape reads them all (`deploy/gunicorn.conf.py` sets the
directory, empties it at start and forgets the gauges of a worker that
exits). Without it (tests, a single process) values live in this process.

What is only true at the moment of a scrape is read then: the Celery queue's
length (from the broker), report runs by state (from the reports database);
database pool use is kept up to date by the pool's own events.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable, Iterable, Iterator

from flask import Flask, Response, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import Engine, event

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "<unmatched>"

REQUESTS = Counter("http_requests", "Requests answered, by service, method, URL rule and status.",
                   ["service", "method", "route", "status"])
LATENCY = Histogram("http_request_duration_seconds", "Time to answer a request, by service, method and URL rule.",
                    ["service", "method", "route"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
REPLAYS = Counter("idempotent_replays", "Requests answered by replaying a stored Idempotency-Key answer.",
                  ["service", "route"])
DONATIONS = Counter("ledger_donations", "Donations recorded (committed), by fund kind.", ["service", "fund_kind"])
DONATED_FEN = Counter("ledger_donations_amount_fen", "Donated amounts recorded, in fen (1/100 yuan), by fund kind.",
                      ["service", "fund_kind"])
DISBURSEMENTS = Counter("ledger_disbursements_paid", "Disbursements paid (committed), by fund kind.",
                        ["service", "fund_kind"])
DISBURSED_FEN = Counter("ledger_disbursements_amount_fen", "Amounts paid out, in fen (1/100 yuan), by fund kind.",
                        ["service", "fund_kind"])
REPORT_RUNS = Counter("report_runs", "Report tasks run by the worker, by the state they ended in.",
                      ["service", "state"])
REPORT_DURATION = Histogram("report_run_duration_seconds", "Time a worker spent on a report, by the state it ended in.",
                            ["service", "state"],
                            buckets=(0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0))
POOL_CHECKED_OUT = Gauge("db_pool_checked_out", "Database connections in use, by pool (write or read).",
                         ["service", "pool"], multiprocess_mode="livesum")
POOL_SIZE = Gauge("db_pool_size", "Database connections a pool keeps open (its size, overflow not counted).",
                  ["service", "pool"], multiprocess_mode="livesum")


def fund_kind(restricted: bool) -> str:
    return "restricted" if restricted else "unrestricted"


def donation_recorded(restricted: bool, amount_fen: int) -> None:
    kind = fund_kind(restricted)
    DONATIONS.labels("donations", kind).inc()
    DONATED_FEN.labels("donations", kind).inc(amount_fen)


def disbursement_paid(restricted: bool, amount_fen: int) -> None:
    kind = fund_kind(restricted)
    DISBURSEMENTS.labels("donations", kind).inc()
    DISBURSED_FEN.labels("donations", kind).inc(amount_fen)


def report_run(state: str, seconds: float) -> None:
    REPORT_RUNS.labels("reports", state).inc()
    REPORT_DURATION.labels("reports", state).observe(seconds)


def request_answered(service: str, method: str, route: str, status: int, seconds: float, replayed: bool) -> None:
    REQUESTS.labels(service, method, route, str(status)).inc()
    LATENCY.labels(service, method, route).observe(seconds)
    if replayed:
        REPLAYS.labels(service, route).inc()


def watch_pool(engine: Engine, service: str, pool: str) -> None:
    """Keep `db_pool_checked_out` and `db_pool_size` of this engine's pool up to date."""
    checked_out = POOL_CHECKED_OUT.labels(service, pool)
    size = getattr(engine.pool, "size", None)
    if callable(size):
        POOL_SIZE.labels(service, pool).set(size())
    event.listen(engine, "checkout", lambda *_: checked_out.inc())
    event.listen(engine, "checkin", lambda *_: checked_out.dec())


def multiprocess_dir() -> str | None:
    path = os.environ.get(MULTIPROC_ENV)
    return path if path and os.path.isdir(path) else None


def clean_multiprocess_dir(path: str) -> None:
    """At start: forget the values of processes that are gone (all of them, on a fresh start)."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if not name.endswith(".db"):
            continue
        pid = name[:-3].rsplit("_", 1)[-1]
        if pid.isdigit() and _alive(int(pid)):
            continue
        try:
            os.remove(os.path.join(path, name))
        except FileNotFoundError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_exited(pid: int) -> None:
    """A worker process ended: its live gauges (pool use) no longer count; its counters stay."""
    path = multiprocess_dir()
    if path:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, path)


def all_families() -> Iterable[Metric]:
    """Every process's metrics (multiprocess mode), or this process's."""
    path = multiprocess_dir()
    if path:
        from prometheus_client import multiprocess

        registry = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(registry, path=path)
        return registry.collect()
    return REGISTRY.collect()


class _ServicePage:
    """The families of one service: its own samples of the shared metrics, then what it reads
    at scrape time."""

    def __init__(self, service: str, extra: Iterable[Callable[[], Iterable[Metric]]]) -> None:
        self.service = service
        self.extra = list(extra)

    def collect(self) -> Iterator[Metric]:
        for family in all_families():
            samples = [s for s in family.samples if s.labels.get("service") == self.service]
            if samples:
                mine = Metric(family.name, family.documentation, family.type, family.unit)
                mine.samples = samples
                yield mine
        for collect in self.extra:
            try:
                yield from collect()
            except Exception:  # a scrape must answer even if, say, the broker is away
                log.warning("a scrape-time metric of %s failed", self.service, exc_info=True)


def init_metrics(app: Flask) -> None:
    """GET /metrics for this service; scrape-time collectors are added with `add_collector`."""
    app.extensions["metrics_collectors"] = []

    def metrics() -> Response:
        token = app.config["SETTINGS"].metrics_token
        if token is not None:
            scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), token.encode()):
                return Response("metrics need Authorization: Bearer <METRICS_TOKEN>\n", status=401,
                                mimetype="text/plain", headers={"WWW-Authenticate": "Bearer"})
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_ServicePage(app.config["SERVICE_NAME"], app.extensions["metrics_collectors"]))
        response = Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
        response.headers["Cache-Control"] = "no-store"
        return response

    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])


def add_collector(app: Flask, collect: Callable[[], Iterable[Metric]]) -> None:
    app.extensions["metrics_collectors"].append(collect)


def gauge(name: str, documentation: str, labels: list[str], values: dict[tuple[str, ...], float]) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for label_values, value in values.items():
        family.add_metric(list(label_values), value)
    return family


def serve_worker_metrics(port: int, service: str = "reports") -> None:
    """The Celery worker's own /metrics on `port` (a thread of its main process)."""
    from prometheus_client import start_http_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ServicePage(service, ()))
    start_http_server(port, registry=registry)
