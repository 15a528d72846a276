"""docker-compose.yml's processes, run natively: the gateway (deploy/nginx.conf under Debian's nginx)
and the whole stack (migrate, the three services under gunicorn, the reports worker and beat) as
the compose file starts them, on the shared PostgreSQL and Redis.

No Docker here: the test reads each container's `command` and `environment` from the compose
file resolved by the Compose v2 binary, and replaces only what a container network gives (the
upstream host names, port 8000, the database and Redis addresses, the role prefix, /tmp paths).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from shared.config import REPO_ROOT, SERVICES
from shared.migrate import drop_database_and_roles
from shared.postgres import create_database, libpq_dsn
from tests.conftest import ADMIN_KEY, free_port
from tests.helpers import stop_process_group
from tests.reports_support import serve_over_http, smtp  # noqa: F401 - smtp is a fixture

NGINX_CONF = REPO_ROOT / "deploy" / "nginx.conf"
SECURITY_HEADERS = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy",
                    "Strict-Transport-Security", "Cache-Control")


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if not found:
        pytest.skip("no nginx (scripts/system-deps.sh installs Debian's)")
    return found


# -- the gateway ---------------------------------------------------------------------

def site_config(upstreams: dict[str, str], port: int) -> str:
    """deploy/nginx.conf with the services at `upstreams` (host:port) and listening on `port`."""
    text = NGINX_CONF.read_text()
    assert text.count("listen 8000;") == 1
    text = text.replace("listen 8000;", f"listen 127.0.0.1:{port};")
    for service, address in upstreams.items():
        assert text.count(f"http://{service}:8000;") == 1, service
        text = text.replace(f"http://{service}:8000;", f"http://{address};")
    assert not re.search(rf"http://({'|'.join(SERVICES)}):8000", text)
    return text


class Nginx:
    """nginx in the foreground as the current user, everything under `folder`."""

    def __init__(self, folder: Path, upstreams: dict[str, str]) -> None:
        self.folder = folder
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "site.conf").write_text(site_config(upstreams, self.port))
        # The official image's nginx.conf, less what needs root: the site goes in its http block.
        temp = "".join(f"    {kind}_temp_path {folder / kind};\n" for kind in ("client_body", "proxy", "fastcgi",
                                                                             "uwsgi", "scgi"))
        (folder / "nginx.conf").write_text(
            f"worker_processes 1;\nerror_log {folder / 'error.log'} info;\nevents {{ worker_connections 256; }}\n"
            f"http {{\n    default_type application/octet-stream;\n{temp}"
            f"    include {folder / 'site.conf'};\n}}\n")
        self.log = folder / "access.log"
        self.process = subprocess.Popen(
            [nginx_binary(), "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e", str(folder / "error.log"),
             "-g", f"daemon off; pid {folder / 'nginx.pid'};"],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        wait(lambda: answers(f"{self.base_url}/healthz"), 15, "nginx", self.process, folder / "error.log")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful, as `docker stop` asks nginx's image
            try:
                return self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise
        return self.process.returncode


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait(condition: Callable[[], Any], timeout: float, what: str, process: Any = None, log: Path | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"{what} did not come up" + (f":\n{log.read_text(errors='replace')[-3000:]}" if log else ""))


def raw_request(port: int, head: bytes, body_size: int = 0) -> tuple[int, dict[str, str], bytes]:
    """Send a request as bytes (and `body_size` bytes of body, as far as the gateway reads them);
    the status, headers and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head)
        chunk = b"x" * (1 << 20)
        sent = 0
        try:
            while sent < body_size:
                connection.sendall(chunk[: min(len(chunk), body_size - sent)])
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the gateway answered and closed before the whole body came
        answer = b""
        try:
            while block := connection.recv(65536):
                answer += block
        except ConnectionResetError:
            pass
    head_bytes, _, body = answer.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def assert_problem(status: int, headers: dict[str, str], body: bytes, expected: int, code: str) -> None:
    assert status == expected, (status, body[:300])
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem == {"type": f"https://charity-ledger.example/problems/{code}", "title": problem["title"],
                       "status": expected, "detail": problem["detail"], "code": code}
    assert problem["title"] and problem["detail"]
    for name in SECURITY_HEADERS:
        assert headers.get(name.lower()), name
    assert headers["server"] == "nginx"


@pytest.fixture
def gateway_in_front(gateway: Any, tmp_path: Path) -> Iterator[Nginx]:
    """The project's nginx in front of the services (the in-process gateway's apps, over HTTP);
    the reports service is down (nothing listens at its address)."""
    base, stop = serve_over_http(gateway)
    address = base.removeprefix("http://")
    nginx = Nginx(tmp_path / "nginx", {"funds": address, "donations": address, "programmes": address,
                                       "reports": f"127.0.0.1:{free_port()}"})
    try:
        yield nginx
    finally:
        nginx.stop()
        stop()


def test_the_gateway_routes_to_the_services_and_passes_the_request_id(gateway_in_front: Nginx):
    base = gateway_in_front.base_url
    me = httpx.get(f"{base}/funds/api/v1/me", headers={"Authorization": f"Bearer {ADMIN_KEY}",
                                                      "X-Request-Id": "erp-7f3a-0001"})
    assert me.status_code == 200 and me.json()["scopes"] == ["admin"]
    assert me.headers.get_list("X-Request-Id") == ["erp-7f3a-0001"]
    # The service's own security headers pass through, none of them twice.
    for name in SECURITY_HEADERS[:-2]:
        assert len(me.headers.get_list(name)) == 1, name
    assert me.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'; sandbox"
    page = httpx.get(f"{base}/funds/login")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert len(page.headers.get_list("Content-Security-Policy")) == 1
    # No id from the client (or not one that looks like one): the gateway makes one.
    made = httpx.get(f"{base}/donations/api/v1/me", headers={"Authorization": f"Bearer {ADMIN_KEY}",
                                                             "X-Request-Id": "bad id\twith spaces"})
    assert made.status_code == 200 and re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-Id"])
    # nginx logs a request once it has answered it.
    wait(lambda: "request_id=erp-7f3a-0001" in gateway_in_front.log.read_text()
         and f"request_id={made.headers['X-Request-Id']}" in gateway_in_front.log.read_text(), 10, "the access log")
    assert httpx.get(f"{base}/").headers["Location"] == "/donations/"


def test_the_gateway_answers_for_itself_as_the_services_do(gateway_in_front: Nginx):
    base = gateway_in_front.base_url
    health = httpx.get(f"{base}/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    for name in SECURITY_HEADERS:
        assert health.headers.get_list(name), name
    assert health.headers["X-Frame-Options"] == "DENY" and health.headers["X-Content-Type-Options"] == "nosniff"
    assert health.headers["Strict-Transport-Security"].startswith("max-age=")
    assert health.headers["Server"] == "nginx"  # server_tokens off: no version

    nowhere = httpx.get(f"{base}/nowhere")
    assert_problem(nowhere.status_code, {k.lower(): v for k, v in nowhere.headers.items()}, nowhere.content, 404,
                   "not_found")
    down = httpx.get(f"{base}/reports/api/v1/me")
    assert_problem(down.status_code, {k.lower(): v for k, v in down.headers.items()}, down.content, 502,
                   "service_unavailable")
    # Prometheus scrapes each container; the gateway does not show metrics to the world.
    metrics = httpx.get(f"{base}/donations/metrics")
    assert_problem(metrics.status_code, {k.lower(): v for k, v in metrics.headers.items()}, metrics.content, 404,
                   "not_found")
    # A service's own refusal is its own, not replaced by the gateway's.
    missing = httpx.get(f"{base}/funds/api/v1/funds/NO-SUCH", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert missing.status_code == 404 and "Nothing is served" not in missing.text


def test_the_gateway_refuses_what_is_too_large_as_problem_json(gateway_in_front: Nginx):
    port = gateway_in_front.port
    size = 70 * 1024 * 1024
    head = (f"POST /donations/api/v1/donations HTTP/1.1\r\nHost: ledger\r\nAuthorization: Bearer {ADMIN_KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n").encode()
    assert_problem(*raw_request(port, head, size), 413, "payload_too_large")

    long_uri = "/funds/api/v1/funds?" + "q=" + "a" * 10 * 1024
    assert_problem(*raw_request(port, f"GET {long_uri} HTTP/1.1\r\nHost: ledger\r\n\r\n".encode()), 414,
                   "uri_too_long")

    huge = "x" * 16 * 1024
    assert_problem(*raw_request(port, f"GET /funds/ HTTP/1.1\r\nHost: ledger\r\nCookie: {huge}\r\n\r\n".encode()),
                   431, "headers_too_large")
    malformed = raw_request(port, b"GET /funds/ HTTP/1.1\r\nHost: ledger\r\nBroken header line\r\n\r\n")
    assert_problem(*malformed, 400, "malformed_request")


# -- the whole stack -------------------------------------------------------------------

COMPOSE_BINARY = Path(pytest.importorskip("compose").__file__).parent / "docker-compose"


def resolved_compose(env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run([str(COMPOSE_BINARY), "-f", str(REPO_ROOT / "docker-compose.yml"), "config",
                             "--format", "json"], capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def native_command(command: list[str], ports: dict[str, int], schedule: Path) -> list[str]:
    """A container's command for this machine: this Python's modules, the service's own port, beat's
    schedule file under the test's folder, one web worker each (two cores shared with others)."""
    native = [sys.executable, *command[1:]] if command[0] == "python" else [sys.executable, "-m", *command]
    native = [arg.replace("/tmp/celerybeat-schedule", str(schedule)) for arg in native]
    if "gunicorn" in command[0]:
        service = next(s for s in SERVICES if f"services.{s}:create_app()" in command)
        native[native.index("0.0.0.0:8000")] = f"127.0.0.1:{ports[service]}"
        native[native.index("--workers") + 1] = "1"
    return native


class Process:
    def __init__(self, name: str, command: list[str], env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.log = folder / f"{name}.log"
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=self.log.open("wb"),
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> int | None:
        """SIGTERM, as `docker compose stop`; its exit status (None: it had to be killed)."""
        return stop_process_group(self.process, timeout=30)


def health(healthcheck: dict[str, Any], env: dict[str, str], ports: dict[str, int], schedule: Path) -> bool:
    """Run a container's health check command here; whether it passes."""
    kind, *test = healthcheck["test"]
    if kind == "CMD-SHELL":
        script = test[0].replace("$$", "$").replace("celery ", f"{sys.executable} -m celery ", 1)
        command = ["sh", "-c", script]
    else:
        command = [sys.executable, *test[1:]] if test[0] == "python" else test
    command = [arg.replace("/tmp/celerybeat-schedule", str(schedule)) for arg in command]
    for service, port in ports.items():
        command = [arg.replace(f"127.0.0.1:8000/{service}/", f"127.0.0.1:{port}/{service}/") for arg in command]
    done = subprocess.run(command, cwd=REPO_ROOT, env={**env, "HOSTNAME": socket.gethostname()},
                          capture_output=True, text=True, timeout=60)
    return done.returncode == 0


@pytest.fixture
def stack_database(database_url: str) -> Iterator[str]:
    """A fresh database for the stack, its roles named after it (never compose's `ledger_*`, which
    would be shared by everyone on this server); dropped with them afterwards."""
    url = make_url(database_url).set(database=f"{make_url(database_url).database}_compose")
    rendered = url.render_as_string(hide_password=False)
    drop_database_and_roles(rendered)
    create_database(rendered)
    yield rendered
    drop_database_and_roles(rendered)


@pytest.mark.slow
def test_the_compose_stack_runs_natively_and_serves_a_donation_and_a_report(
        stack_database: str, redis_url: str, smtp: tuple[Any, str], tmp_path: Path):  # noqa: F811
    secret_key = secrets.token_urlsafe(48)
    env = {**os.environ, "SECRET_KEY": secret_key, "POSTGRES_PASSWORD": "not-used-here",
           "BOOTSTRAP_ADMIN_API_KEY": ADMIN_KEY, "BOOTSTRAP_ADMIN_PASSWORD": secrets.token_urlsafe(12)}
    config = resolved_compose(env)["services"]
    ports = {service: free_port() for service in SERVICES}
    gateway_port_holder = tmp_path / "nginx"
    schedule = tmp_path / "celerybeat-schedule"
    database = make_url(stack_database).database or ""
    service_url = make_url(stack_database).set(username=None, password=None).render_as_string(hide_password=False)

    def local_env(name: str, gateway_url: str) -> dict[str, str]:
        environment = dict(config[name]["environment"])
        assert environment["LEDGER_ENV"] == "production" and environment["SECRET_KEY"] == secret_key
        owner = name == "migrate"
        environment.update({
            # The services' URL carries no user or password, the migrations' is the owner's, as in compose.
            "DATABASE_URL": stack_database if owner else service_url,
            "DATABASE_ROLE_PREFIX": database,
            "CELERY_BROKER_URL": redis_url,
            "SMTP_URL": smtp[1],
            "PUBLIC_URL": gateway_url,
            "VAR_DIR": str(tmp_path / "var" / name),
            **{f"{s.upper()}_URL": f"http://127.0.0.1:{ports[s]}/{s}" for s in SERVICES},
        })
        assert make_url(config[name]["environment"]["DATABASE_URL"]).host == "postgres"
        return {**os.environ, **environment}

    nginx = None
    processes: list[Process] = []
    try:
        # The gateway first (it answers 502 until the services are up), so PUBLIC_URL is known.
        nginx = Nginx(gateway_port_holder, {s: f"127.0.0.1:{ports[s]}" for s in SERVICES})
        base = nginx.base_url
        migrate = subprocess.run(native_command(config["migrate"]["command"], ports, schedule), cwd=REPO_ROOT,
                                 env=local_env("migrate", base), capture_output=True, text=True, timeout=300)
        assert migrate.returncode == 0, migrate.stderr
        for name in (*SERVICES, "worker", "beat"):
            processes.append(Process(name, native_command(config[name]["command"], ports, schedule),
                                     local_env(name, base), tmp_path))
        worker = processes[len(SERVICES)]
        for process in processes[:len(SERVICES)]:
            wait(lambda p=process: answers(f"http://127.0.0.1:{ports[p.name]}/{p.name}/healthz"), 60,
                 process.name, process.process, process.log)
        # Each container's own health check passes here too.
        for process in processes:
            wait(lambda p=process: health(config[p.name]["healthcheck"], local_env(p.name, base), ports, schedule),
                 60, f"{process.name}'s health check", process.process, process.log)

        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        organization = httpx.post(f"{base}/funds/api/v1/organizations", headers=admin,
                                  json={"name": "铜陵市工商联", "kind": "chamber_of_commerce"})
        assert organization.status_code == 201, organization.text
        fund = httpx.post(f"{base}/funds/api/v1/funds", headers=admin, json={
            "code": "CMP-001", "name": "铜陵市工商联冠名慈善基金", "kind": "chamber_named",
            "organization_id": organization.json()["id"], "purpose": "助学", "restricted": False})
        assert fund.status_code == 201, fund.text
        issued = httpx.post(f"{base}/funds/api/v1/organizations/{organization.json()['id']}/api-keys", headers=admin,
                            json={"name": "erp", "scopes": ["donations:write", "donations:read"]})
        assert issued.status_code == 201, issued.text
        erp = {"Authorization": f"Bearer {issued.json()['key']}", "X-Request-Id": "erp-donation-0001"}
        donation = httpx.post(f"{base}/donations/api/v1/donations", headers=erp, json={
            "fund_code": "CMP-001", "amount": "2600.00", "currency": "CNY", "received_on": "2026-08-03",
            "donor": {"name": "铜陵某某有限公司", "kind": "enterprise", "anonymous": False}, "channel": "bank"})
        assert donation.status_code == 201, donation.text
        assert donation.headers.get_list("X-Request-Id") == ["erp-donation-0001"]
        assert "erp-donation-0001" in (tmp_path / "donations.log").read_text()
        balance = httpx.get(f"{base}/donations/api/v1/funds/CMP-001/balance", headers=erp)
        assert balance.json()["balance"] == "2600.00"

        asked = httpx.post(f"{base}/reports/api/v1/reports", headers=admin,
                           json={"period": "2026-08", "fund_code": "CMP-001"})
        assert asked.status_code == 202, asked.text
        report_url = f"{base}/reports/api/v1/reports/{asked.json()['id']}"

        def built() -> dict[str, Any] | None:
            report = httpx.get(report_url, headers=admin).json()
            assert report["status"] != "failed", report
            return report if report["status"] == "done" else None

        report = wait(built, 120, "the report", worker.process, worker.log)
        assert report["summary"]["closing_balance"] == "2600.00"
        (pdf,) = [f for f in report["files"] if f["format"] == "pdf"]
        download = httpx.get(urljoin(f"{base}/", pdf["url"]), headers=admin)
        assert download.status_code == 200 and download.content.startswith(b"%PDF")
        assert hashlib.sha256(download.content).hexdigest() == pdf["sha256"]
        with psycopg.connect(libpq_dsn(stack_database)) as connection:
            assert connection.execute("SELECT count(*) FROM reports.report_file").fetchone() == (3,)

        # The programmes service, behind the gateway, ready with every peer.
        village = httpx.post(f"{base}/programmes/api/v1/villages", headers=admin,
                             json={"name": "水村村", "township": "钟鸣镇"})
        assert village.status_code == 201, village.text
        ready = httpx.get(f"{base}/programmes/readyz")
        assert ready.status_code == 200 and set(ready.json()["checks"]) >= {"database", *SERVICES} - {"programmes"}
    finally:
        statuses = {process.name: process.stop() for process in processes}
        gateway_status = nginx.stop() if nginx else 0
    assert statuses == {name: 0 for name in statuses}, {
        name: (tmp_path / f"{name}.log").read_text(errors="replace")[-2000:] for name, code in statuses.items() if code}
    assert gateway_status == 0
