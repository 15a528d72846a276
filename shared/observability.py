"""What every service shows of itself: a log line and metrics per request, health, readiness.

    observe_requests(app)     first of the app's hooks, so its after_request runs last
                              (after the commit): one log line and the request metrics
    init_observability(app)   /healthz, /readyz, /metrics and the database pools' gauges

See shared/logs.py (the log lines), shared/metrics.py and shared/health.py.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from shared import metrics
from shared.health import init_health
from shared.idempotency import REPLAYED_HEADER
from shared.logs import configure_logging

log = logging.getLogger("ledger.request")

STARTED = "ledger.started"
# Probes and scrapes come every few seconds: their lines are DEBUG (they are still counted).
QUIET_ENDPOINTS = frozenset({"healthz", "readyz", "metrics"})


def init_logging(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    configure_logging(settings.log_format, settings.log_level, app.config["SERVICE_NAME"])


def _actor() -> str | None:
    """Who asked, when known: `user:<id>` or `key:<id>` (never a secret). Never loads a login."""
    principal = g.get("principal") or g.get("_login_user")
    actor = getattr(principal, "actor", None)
    return actor if isinstance(actor, str) else None


def observe_requests(app: Flask) -> None:
    service = app.config["SERVICE_NAME"]

    @app.before_request
    def _start() -> None:
        request.environ[STARTED] = time.perf_counter()

    @app.after_request
    def _answered(response: Response) -> Response:
        started = request.environ.get(STARTED)
        seconds = time.perf_counter() - started if started is not None else 0.0
        route = request.url_rule.rule if request.url_rule is not None else metrics.UNMATCHED
        replayed = response.headers.get(REPLAYED_HEADER) == "true"
        try:
            metrics.request_answered(service, request.method, route, response.status_code, seconds, replayed)
        except Exception:  # a metric must never cost an answer
            log.warning("counting a request failed", exc_info=True)
        level = logging.DEBUG if request.endpoint in QUIET_ENDPOINTS else logging.INFO
        if log.isEnabledFor(level):
            path = request.script_root + request.path  # never the query string
            duration_ms = round(seconds * 1000, 2)
            fields = {"service": service, "request_id": g.get("request_id"), "method": request.method,
                      "path": path, "route": route, "status": response.status_code, "duration_ms": duration_ms,
                      "remote_addr": request.remote_addr, "actor": _actor(), "replayed": replayed or None}
            log.log(level, "%s %s %s %.1fms", request.method, path, response.status_code, duration_ms,
                    extra={name: value for name, value in fields.items() if value is not None})
        return response


def init_observability(app: Flask) -> None:
    init_health(app)
    metrics.init_metrics(app)
    database = app.extensions.get("database")
    if database is not None:
        service = app.config["SERVICE_NAME"]
        metrics.watch_pool(database.engine, service, "write")
        metrics.watch_pool(database.read_engine, service, "read")
