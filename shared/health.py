"""GET /<service>/healthz and GET /<service>/readyz.

`healthz`: the process answers (200 `{"status": "ok"}`), asking nothing else;
for a liveness probe. `readyz`: the service can do its work: its database
answers, Redis answers where the service uses it (the Celery broker, the
throttle's store), and each peer's /healthz answers; else 503 naming the
checks that failed, with Retry-After. The checks run at once, each given
HEALTH_TIMEOUT_SECONDS (1.5 s), through a small pool of their own, so a
probe never waits behind the requests' connections. No login, no cookie,
nothing cached, nothing throttled (the throttle counts failed logins only).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from flask import Flask, Response, jsonify
from sqlalchemy import Engine, text

from shared.config import SERVICES, Settings
from shared.db import make_engine

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


class Readiness:
    """The checks of one service, made on each /readyz."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.settings: Settings = app.config["SETTINGS"]
        self.service: str = app.config["SERVICE_NAME"]
        self._engine: Engine | None = None

    def engine(self) -> Engine:
        if self._engine is None:
            database = self.app.extensions["database"]
            timeout = max(1, round(self.settings.health_timeout_seconds))
            self._engine = make_engine(
                database.engine.url, pool_size=1, max_overflow=2, pool_timeout=self.settings.health_timeout_seconds,
                pool_pre_ping=True, connect_args={"connect_timeout": timeout,
                                                  "options": f"-c statement_timeout={timeout * 1000}"})
        return self._engine

    def checks(self) -> dict[str, Callable[[], None]]:
        checks: dict[str, Callable[[], None]] = {}
        if "database" in self.app.extensions:
            checks["database"] = self._database
        for n, url in enumerate(self._redis_urls()):
            checks["redis" if n == 0 else f"redis-{n + 1}"] = lambda url=url: self._redis(url)  # type: ignore[misc]
        for peer in SERVICES:
            if peer != self.service:
                checks[peer] = lambda peer=peer: self._peer(peer)  # type: ignore[misc]
        return checks

    def _redis_urls(self) -> list[str]:
        urls = [self.settings.rate_limit_storage_url]
        if self.service == "reports":
            urls.append(self.settings.celery_broker_url)
        return list(dict.fromkeys(url for url in urls if url.startswith(("redis://", "rediss://"))))

    def _database(self) -> None:
        with self.engine().connect() as connection:
            connection.execute(text("SELECT 1"))

    def _redis(self, url: str) -> None:
        import redis

        timeout = self.settings.health_timeout_seconds
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()

    def _peer(self, peer: str) -> None:
        client = self.app.extensions["peers"].client(peer)
        response = client.get("/healthz", timeout=self.settings.health_timeout_seconds)
        if response.status_code != 200:
            raise RuntimeError(f"/healthz answered {response.status_code}")

    def run(self) -> tuple[dict[str, str], list[str]]:
        """Each check's word ("ok" or why not) and the names of those that failed."""
        checks = self.checks()
        results: dict[str, str] = {}
        pool = ThreadPoolExecutor(max_workers=max(1, len(checks)), thread_name_prefix="readyz")
        futures = {name: pool.submit(check) for name, check in checks.items()}
        for name, future in futures.items():
            try:
                future.result(timeout=self.settings.health_timeout_seconds + 1)
                results[name] = "ok"
            except FutureTimeout:
                results[name] = "timed out"
            except Exception as error:  # noqa: BLE001 - any failure makes the service not ready
                log.warning("readiness check %s failed: %s", name, error)
                results[name] = "unreachable"
        pool.shutdown(wait=False, cancel_futures=True)  # a check that hangs past its time is not waited for
        return results, [name for name, word in results.items() if word != "ok"]

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def init_health(app: Flask) -> None:
    def healthz() -> Any:
        return _no_store(jsonify(status="ok"))

    def readyz() -> Any:
        readiness: Readiness = app.extensions.setdefault("readiness", Readiness(app))
        checks, failed = readiness.run()
        if failed:
            response = jsonify(status="unavailable", failed=failed, checks=checks)
            response.status_code = 503
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return _no_store(response)
        return _no_store(jsonify(status="ok", checks=checks))

    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    app.add_url_rule("/readyz", "readyz", readyz, methods=["GET"])
