"""Health, readiness, metrics and logs: what operators see of the services, on real servers."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.config import REPO_ROOT, SERVICES
from shared.logs import formatter
from tests.conftest import ADMIN_KEY, ADMIN_PASSWORD, SECRET_KEY, ApiClient, Browser, Factory, free_port
from tests.helpers import stop_process_group
from tests.reports_support import Inbox, WorkerProcess, serve_over_http, smtp, wait_for, worker_env  # noqa: F401

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """A metrics page as {(sample name, labels): value}."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(page: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return page.get((name, frozenset(labels.items())), 0.0)


def scrape(api: ApiClient, service: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = api.get(f"/{service}/metrics", key=None)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return samples(response.get_data(as_text=True))


# -- health and readiness -------------------------------------------------------------------------

@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_alive_and_ready_behind_the_gateway(api: ApiClient, service: str) -> None:
    alive = api.get(f"/{service}/healthz", key=None)
    assert alive.status_code == 200 and alive.json == {"status": "ok"}
    assert alive.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in alive.headers

    ready = api.get(f"/{service}/readyz", key=None)
    assert ready.status_code == 200, ready.json
    assert ready.json["status"] == "ok" and ready.json["checks"]["database"] == "ok"
    assert {peer for peer in SERVICES if peer != service} <= set(ready.json["checks"])
    assert ready.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in ready.headers


def _alone(factory: str, app_config: dict[str, Any], **settings: str) -> tuple[str, Any]:
    """One service's own app (not the gateway), served over HTTP on its own port."""
    from importlib import import_module

    app = import_module(f"services.{factory}").create_app({**app_config, **settings})
    base, stop = serve_over_http(app)
    return base, stop


def test_a_service_alone_is_ready_with_its_peers_up_and_says_which_check_failed_otherwise(
        gateway: Any, app_config: dict[str, Any]) -> None:
    gateway_url, stop_gateway = serve_over_http(gateway)
    closed = f"http://127.0.0.1:{free_port()}"
    peers = {f"{peer.upper()}_URL": f"{gateway_url}/{peer}" for peer in SERVICES if peer != "donations"}
    up, stop_up = _alone("donations", app_config, **peers)
    peer_down, stop_peer_down = _alone("donations", app_config, **{**peers, "FUNDS_URL": closed})
    no_database, stop_no_database = _alone(
        "donations", app_config, DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing",
        **peers)
    try:
        ready = httpx.get(f"{up}/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "funds": "ok", "reports": "ok", "programmes": "ok"}

        started = time.monotonic()
        refused = httpx.get(f"{peer_down}/readyz")
        assert time.monotonic() - started < 5
        assert refused.status_code == 503 and refused.headers["Retry-After"].isdigit()
        assert refused.json()["failed"] == ["funds"] and refused.json()["checks"]["database"] == "ok"
        assert refused.headers["Cache-Control"] == "no-store"

        dead = httpx.get(f"{no_database}/readyz")
        assert dead.status_code == 503 and "Retry-After" in dead.headers
        assert dead.json()["failed"] == ["database"]
        assert "postgres" not in dead.text  # names the check, not where the database is
        # Alive all the same: liveness asks nothing of anyone.
        for base in (peer_down, no_database):
            assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    finally:
        for stop in (stop_up, stop_peer_down, stop_no_database, stop_gateway):
            stop()


def test_readiness_checks_redis_where_it_is_used(app_config: dict[str, Any], redis_url: str) -> None:
    from services.reports import create_app

    closed_redis = f"redis://127.0.0.1:{free_port()}/0"
    for broker, status in ((redis_url, 200), (closed_redis, 503)):
        app = create_app({**app_config, "CELERY_BROKER_URL": broker, "FUNDS_URL": "", "DONATIONS_URL": ""})
        checks = app.test_client().get("/readyz")
        assert checks.json["checks"]["redis"] == ("ok" if status == 200 else "unreachable"), checks.json
        app.extensions["database"].dispose()


# -- metrics --------------------------------------------------------------------------------------

def test_metrics_count_requests_by_route_donations_by_fund_kind_and_replays(api: ApiClient, make: Factory) -> None:
    organization = make.organization()
    restricted = make.fund(organization["id"], restricted=True)
    before = scrape(api, "donations")

    donation = make.donation(restricted["code"], "123.45")
    assert api.get(f"/donations/api/v1/donations/{donation['id']}").status_code == 200
    body = {"fund_code": restricted["code"], "amount": "10.00", "currency": "CNY", "received_on": "2026-08-03",
            "donor": {"name": "王秀英", "kind": "individual", "anonymous": False}, "channel": "bank"}
    for _ in range(2):
        posted = api.post("/donations/api/v1/donations", json=body, headers={"Idempotency-Key": "obs-replay-1"})
        assert posted.status_code == 201

    after = scrape(api, "donations")

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("ledger_donations_total", service="donations", fund_kind="restricted") == 2
    assert grew("ledger_donations_amount_fen_total", service="donations", fund_kind="restricted") == 12345 + 1000
    assert grew("ledger_donations_total", service="donations", fund_kind="unrestricted") == 0
    assert grew("http_requests_total", service="donations", method="POST", route="/api/v1/donations",
                status="201") == 3
    # The URL rule, not the path: one series for every donation read.
    assert grew("http_requests_total", service="donations", method="GET",
                route="/api/v1/donations/<int:donation_id>", status="200") == 1
    assert not any(f"/api/v1/donations/{donation['id']}" in dict(labels).get("route", "") for _, labels in after)
    assert grew("http_request_duration_seconds_count", service="donations", method="POST",
                route="/api/v1/donations") == 3
    assert grew("http_request_duration_seconds_bucket", service="donations", method="POST",
                route="/api/v1/donations", le="+Inf") == 3
    assert grew("idempotent_replays_total", service="donations", route="/api/v1/donations") == 1
    assert value(after, "db_pool_size", service="donations", pool="write") > 0
    assert ("db_pool_checked_out", frozenset({("service", "donations"), ("pool", "write")})) in after

    # Each service shows its own: the funds page has no donations, the donations page no funds requests.
    funds = scrape(api, "funds")
    assert all(dict(labels).get("service") == "funds" for _, labels in funds)
    assert not any(name.startswith("ledger_") for name, _ in funds)
    assert grew("http_requests_total", service="funds", method="POST", route="/api/v1/funds", status="201") == 0


def test_disbursements_paid_are_counted_by_fund_kind(api: ApiClient, make: Factory) -> None:
    from tests.reports_support import make_org, pay

    org = make_org(api, make, "义安区商会")
    fund = make.fund(org.id, key=ADMIN_KEY, restricted=False)
    make.donation(fund["code"], "500.00")
    before = scrape(api, "donations")
    pay(org, fund["code"], "120.50")
    after = scrape(api, "donations")
    labels = {"service": "donations", "fund_kind": "unrestricted"}
    assert value(after, "ledger_disbursements_paid_total", **labels) - value(
        before, "ledger_disbursements_paid_total", **labels) == 1
    assert value(after, "ledger_disbursements_amount_fen_total", **labels) - value(
        before, "ledger_disbursements_amount_fen_total", **labels) == 12050


def test_reports_metrics_read_the_queue_and_the_reports_by_state(api: ApiClient, make: Factory) -> None:
    fund = make.fund(make.organization()["id"])
    before = scrape(api, "reports")
    assert api.post("/reports/api/v1/reports", json={"period": "2026-08", "fund_code": fund["code"]}).status_code == 202
    after = scrape(api, "reports")
    assert value(after, "report_runs_current", service="reports", state="queued") == 1
    # No worker runs here: the task waits in the (embedded) broker's queue.
    assert value(after, "celery_queue_length", service="reports", queue="celery") == value(
        before, "celery_queue_length", service="reports", queue="celery") + 1


def test_metrics_may_ask_for_a_token(app_config: dict[str, Any]) -> None:
    from services.funds import create_app

    app = create_app({**app_config, "METRICS_TOKEN": "metrics-token-0123456789"})
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    page = client.get("/metrics", headers={"Authorization": "Bearer metrics-token-0123456789"})
    assert page.status_code == 200 and b"http_requests_total" in page.data
    assert client.get("/healthz").status_code == 200  # probes need no token
    app.extensions["database"].dispose()


# -- under gunicorn ---------------------------------------------------------------------------------

class Gunicorn:
    """`gunicorn -c deploy/gunicorn.conf.py <app>`, as docker-compose and `make run` start it."""

    def __init__(self, app: str, env: dict[str, str], log: Path, workers: int = 2,
                 worker_class: str = "gthread") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--worker-class", worker_class, "--threads", "2", app],
            cwd=REPO_ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 40
        while True:
            assert self.process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)

    def stop(self) -> None:
        stop_process_group(self.process)

    def lines(self) -> list[dict[str, Any]]:
        """Its log: every line must be a JSON object."""
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]


def _env(database_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": database_url, "VAR_DIR": str(var_dir), "SECRET_KEY": SECRET_KEY,
           "DATABASE_ROLE_PREFIX": "", "BOOTSTRAP_ADMIN_API_KEY": ADMIN_KEY, "LOG_FORMAT": "json", **extra}
    if "PROMETHEUS_MULTIPROC_DIR" not in extra:
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # gunicorn.conf.py makes one
    return env


@pytest.mark.slow
def test_metrics_add_up_across_two_gunicorn_workers(database_url: str, tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    server = Gunicorn("services.funds:create_app()",
                      _env(database_url, tmp_path, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)),
                      tmp_path / "funds.log", worker_class="sync")
    try:
        sent = 0

        def workers_that_counted() -> set[str]:
            return {p.name.rsplit("_", 1)[1] for p in metrics_dir.glob("counter_*.db")}

        # Sync workers answer one request at a time: requests sent together land on both.
        while len(workers_that_counted()) < 2 or sent < 40:
            assert sent < 400, "one worker answered everything"
            threads = [threading.Thread(target=lambda: httpx.get(f"{server.url}/api/v1/me", headers=ADMIN))
                       for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            sent += 8
        for _ in range(3):  # whichever worker answers the scrape, it counts all of them
            page = samples(httpx.get(f"{server.url}/metrics").text)
            assert value(page, "http_requests_total", service="funds", method="GET", route="/api/v1/me",
                         status="200") == sent
            assert value(page, "http_request_duration_seconds_count", service="funds", method="GET",
                         route="/api/v1/me") == sent
        lines = server.lines()  # gunicorn's own lines and the app's are all JSON
        assert sum(1 for line in lines if line.get("route") == "/api/v1/me") == sent
        assert any(line.get("logger", "").startswith("gunicorn") for line in lines)
    finally:
        server.stop()


# -- request ids in logs ----------------------------------------------------------------------------

def _request_lines(records: list[logging.LogRecord], request_id: str) -> list[logging.LogRecord]:
    return [r for r in records if r.name == "ledger.request" and getattr(r, "request_id", None) == request_id]


def test_a_donation_is_followed_through_funds_and_donations_by_its_request_id(
        api: ApiClient, make: Factory, caplog: pytest.LogCaptureFixture) -> None:
    """In one process (the gateway): the internal calls carry the client's X-Request-Id."""
    fund = make.fund(make.organization()["id"])
    key = make.api_key(fund["organization_id"], ["donations:write"])
    caplog.set_level(logging.INFO)
    body = {"fund_code": fund["code"], "amount": "88.00", "currency": "CNY", "received_on": "2026-08-03",
            "donor": {"name": "王秀英", "kind": "individual", "anonymous": False}, "channel": "bank"}
    answer = api.post("/donations/api/v1/donations", json=body, key=key, headers={"X-Request-Id": "trace-0001"})
    assert answer.status_code == 201 and answer.headers["X-Request-Id"] == "trace-0001"

    lines = _request_lines(caplog.records, "trace-0001")
    by_service = {(r.service, r.route, r.status) for r in lines}  # type: ignore[attr-defined]
    assert ("donations", "/api/v1/donations", 201) in by_service
    assert ("funds", "/internal/v1/principals/key", 200) in by_service  # who the key is
    assert ("funds", "/internal/v1/funds/<code>", 200) in by_service  # what the fund is
    (outer,) = [r for r in lines if r.service == "donations"]  # type: ignore[attr-defined]
    assert outer.actor.startswith("key:") and outer.method == "POST"  # type: ignore[attr-defined]
    assert outer.path == "/donations/api/v1/donations" and outer.duration_ms > 0  # type: ignore[attr-defined]
    line = json.loads(formatter("json").format(outer))
    assert {"time", "level", "message", "service", "request_id", "route", "status", "duration_ms",
            "actor"} <= set(line)

    # An insane id is not taken: the request gets one of its own.
    odd = api.get("/donations/api/v1/me", key=key, headers={"X-Request-Id": "<script>bad id</script>"})
    assert odd.headers["X-Request-Id"] != "<script>bad id</script>" and len(odd.headers["X-Request-Id"]) == 32


@pytest.mark.slow
def test_services_in_their_own_gunicorns_log_one_request_id_over_http(database_url: str, tmp_path: Path) -> None:
    funds = Gunicorn("services.funds:create_app()", _env(database_url, tmp_path / "funds"), tmp_path / "funds.log")
    donations = Gunicorn("services.donations:create_app()",
                         _env(database_url, tmp_path / "donations", FUNDS_URL=funds.url),
                         tmp_path / "donations.log")
    try:
        organization = httpx.post(f"{funds.url}/api/v1/organizations", headers=ADMIN,
                                  json={"name": "义安区商会", "kind": "chamber_of_commerce"}).json()
        fund = httpx.post(f"{funds.url}/api/v1/funds", headers=ADMIN, json={
            "code": "YA-001", "name": "义安区商会冠名慈善基金", "kind": "chamber_named",
            "organization_id": organization["id"], "purpose": "助学", "restricted": False}).json()
        answer = httpx.post(f"{donations.url}/api/v1/donations", headers={**ADMIN, "X-Request-Id": "trace-http-7"},
                            json={"fund_code": fund["code"], "amount": "66.00", "currency": "CNY",
                                  "received_on": "2026-08-03", "channel": "bank",
                                  "donor": {"name": "王秀英", "kind": "individual", "anonymous": False}})
        assert answer.status_code == 201 and answer.headers["X-Request-Id"] == "trace-http-7"

        def traced(server: Gunicorn) -> set[tuple[str, int]]:
            return {(line["route"], line["status"]) for line in server.lines()
                    if line.get("request_id") == "trace-http-7" and "route" in line}

        wait_for(lambda: ("/internal/v1/principals/key", 200) in traced(funds), 5, "the funds service's line")
        assert ("/internal/v1/funds/<code>", 200) in traced(funds)
        assert traced(donations) == {("/api/v1/donations", 201)}
        line = next(line for line in donations.lines() if line.get("request_id") == "trace-http-7")
        assert line["service"] == "donations" and line["method"] == "POST" and line["remote_addr"] == "127.0.0.1"
        for server in (funds, donations):
            assert ADMIN_KEY not in server.log.read_text()
    finally:
        donations.stop()
        funds.stop()


@pytest.mark.slow
def test_a_report_task_carries_the_request_id_into_the_worker_and_its_calls(
        gateway: Any, database_url: str, redis_url: str, tmp_path: Path, smtp: tuple[Inbox, str],
        caplog: pytest.LogCaptureFixture) -> None:
    from services.reports import tasks

    caplog.set_level(logging.INFO)
    base_url, stop_http = serve_over_http(gateway)
    worker = WorkerProcess(worker_env(database_url, tmp_path / "worker-var", base_url, redis_url, smtp[1],
                                      LOG_FORMAT="json"), tmp_path / "worker.log", "traced")
    try:
        api = ApiClient(gateway)
        fund = Factory(api).fund(Factory(api).organization()["id"])
        reports = gateway.apps["reports"]
        settings = reports.config["SETTINGS"]
        reports.config["SETTINGS"] = type(settings)(**{**settings.__dict__, "celery_broker_url": redis_url})
        tasks.init_celery(reports)
        asked = api.post("/reports/api/v1/reports", json={"period": "2026-08", "fund_code": fund["code"]},
                         headers={"X-Request-Id": "trace-report-42"})
        assert asked.status_code == 202
        wait_for(lambda: api.get(f"/reports/api/v1/reports/{asked.json['id']}").json["status"] == "done", 60,
                 f"the report (worker log: {worker.log})")

        def worker_lines() -> list[dict[str, Any]]:
            return [json.loads(line) for line in worker.log.read_text().splitlines() if line.startswith("{")]

        wait_for(lambda: any(line.get("state") == "SUCCESS" for line in worker_lines()), 10, "the task's end")
        traced = [line for line in worker_lines() if line.get("request_id") == "trace-report-42"]
        assert {line.get("state") for line in traced} >= {"STARTED", "SUCCESS"}
        assert all(line["task"] == "reports.build" and line["task_id"] for line in traced)
        assert any(line.get("service") == "reports" for line in traced)
        # The worker asked the donations service for the ledger under the same id.
        assert any(r.service == "donations" for r in _request_lines(caplog.records, "trace-report-42"))  # type: ignore[attr-defined]
    finally:
        worker.stop()
        stop_http()


# -- no secrets in logs ---------------------------------------------------------------------------

def test_no_password_key_cookie_or_token_reaches_the_logs(gateway: Any, api: ApiClient, make: Factory,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    organization = make.organization()
    issued = api.post(f"/funds/api/v1/organizations/{organization['id']}/api-keys",
                      json={"name": "erp", "scopes": ["funds:read", "donations:read"]})
    assert issued.status_code == 201
    new_key = issued.json["key"]
    assert api.get("/donations/api/v1/me", key=new_key).status_code == 200
    assert api.get("/donations/api/v1/me", key="cfk_wrong-key-never-issued-0000").status_code == 401

    admin = Browser(gateway)
    admin.login("admin", ADMIN_PASSWORD)
    first_password, second_password = "first-password-Zq81", "second-password-Kx27"
    made = admin.submit("/funds/users/new", {"username": "wang.wu", "display_name": "王五", "password": first_password,
                                             "role": "fund_manager", "organization_id": organization["id"]})
    assert made.status_code == 302
    listing = admin.get("/funds/users/").get_data(as_text=True)
    edit = re.search(r"<td>wang\.wu</td>.*?(/funds/users/\d+/edit)", listing, re.S)
    assert edit
    changed = admin.submit(edit.group(1), {"display_name": "王五", "role": "fund_manager",
                                           "organization_id": organization["id"], "active": "y",
                                           "password": second_password})
    assert changed.status_code == 302
    person = Browser(gateway)
    person.login("wang.wu", second_password)
    wrong = person.submit("/funds/login", {"username": "wang.wu", "password": "wrong-password-Pm55"})
    assert wrong.status_code in (302, 422)
    cookies = [cookie.value for browser in (admin, person) for cookie in browser.http._cookies.values()]
    assert cookies

    json_format, text_format = formatter("json"), formatter("text")
    output = "\n".join(json_format.format(r) + "\n" + text_format.format(r) for r in caplog.records)
    assert '"route": "/login"' in output and "/api/v1/organizations/<int:organization_id>/api-keys" in output
    for secret in (ADMIN_KEY, new_key, "cfk_wrong-key-never-issued-0000", ADMIN_PASSWORD, first_password,
                   second_password, "wrong-password-Pm55", SECRET_KEY, *cookies):
        assert secret not in output, secret
    assert "Authorization" not in output and "csrf_token" not in output
