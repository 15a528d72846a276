"""Test fixtures: a real PostgreSQL database, fresh apps, HTTP-level clients.

The suite creates its own database, migrates it with the services' own
migrations (which also make the services' roles), empties every table after
each test and drops the database and the roles at the end. The database is
TEST_DATABASE_URL if set; else one on the server at 127.0.0.1:5432 if one
answers; else one on an embedded server in a temporary folder, started for
the session.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url
from werkzeug.test import Client, TestResponse

from shared.config import REPO_ROOT, SERVICES
from shared.migrate import drop_database_and_roles, upgrade
from shared.postgres import (EmbeddedPostgres, create_database, libpq_dsn,
                             server_answers, start_embedded)

LOCAL_SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Per process, so that two runs on one machine do not drop each other's database.
TEST_DATABASE_NAME = f"charity_ledger_test_{os.getpid()}"
ADMIN_KEY = "cfk_test-admin-key-0123456789abcdef"
ADMIN_PASSWORD = "admin-password-for-tests"
SECRET_KEY = "test-secret-key-not-for-production"


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """The owner's URL of the test database (the services connect as their roles)."""
    embedded: EmbeddedPostgres | None = None
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        if server_answers(LOCAL_SERVER_URL):
            url = make_url(LOCAL_SERVER_URL).set(database=TEST_DATABASE_NAME).render_as_string(hide_password=False)
        else:
            embedded = start_embedded(Path(tempfile.mkdtemp(prefix="charity-ledger-test-")) / "pg")
            url = embedded.url(TEST_DATABASE_NAME)
    assert make_url(url).database, "TEST_DATABASE_URL must name a database"
    try:
        create_database(url, replace=True)
        upgrade(url, secret_key=SECRET_KEY)
        yield url
    finally:
        try:
            drop_database_and_roles(url)
        finally:
            if embedded is not None:
                embedded.stop()
                shutil.rmtree(embedded.path.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis database of its own on 127.0.0.1:6379, started (as .ci/run does) if none answers."""
    import redis

    def answers() -> bool:
        try:
            return bool(redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    if not answers():
        if not shutil.which("redis-server"):
            pytest.skip("no Redis on 127.0.0.1:6379 and no redis-server to start (scripts/system-deps.sh)")
        subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379",
                        "--save", "", "--appendonly", "no"], check=True, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not answers():
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
    # Database 0 is `make run`'s; each run of the suite takes one of the others.
    return f"redis://127.0.0.1:6379/{1 + os.getpid() % 15}"


def _tables(connection: psycopg.Connection[Any]) -> list[str]:
    rows = connection.execute(
        "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY(%s) "
        "AND tablename <> 'alembic_version'", (list(SERVICES),)).fetchall()
    return [f'"{schema}"."{table}"' for schema, table in rows]


@pytest.fixture(autouse=True)
def _empty_tables_after_test(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "database_url" not in request.fixturenames:
        return
    empty_tables(request.getfixturevalue("database_url"))


def empty_tables(url: str) -> None:
    """Every service's tables emptied, as a test found them."""
    # As the owner: the services' roles may not TRUNCATE.
    with psycopg.connect(libpq_dsn(url), autocommit=True) as connection:
        tables = _tables(connection)
        if tables:
            # Tests start from nothing; the append-only triggers guard production,
            # not the test harness, so they are bypassed for this statement.
            with connection.transaction():
                connection.execute("SET LOCAL session_replication_role = replica")
                connection.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "DATABASE_URL": database_url,
        "VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_ROLE_PREFIX": "",  # the database's name, as the migrations used
        "BOOTSTRAP_ADMIN_API_KEY": ADMIN_KEY,
        "BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "AUTH_CACHE_SECONDS": "2",
        "TESTING": True,
    }


@pytest.fixture
def gateway(app_config: dict[str, Any]) -> Iterator[Any]:
    from services.gateway import create_gateway

    gateway = create_gateway(app_config)
    yield gateway
    for app in gateway.apps.values():
        app.extensions["peers"].close()
        app.extensions["database"].dispose()


class ApiClient:
    """Talks to the gateway as an integrator would: JSON, a bearer key."""

    def __init__(self, gateway: Any, key: str | None = ADMIN_KEY) -> None:
        self.http = Client(gateway)
        self.key = key

    def with_key(self, key: str | None) -> ApiClient:
        other = ApiClient.__new__(ApiClient)
        other.http, other.key = self.http, key
        return other

    def request(self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None,
                key: Any = ..., **kwargs: Any) -> TestResponse:
        headers = dict(headers or {})
        key = self.key if key is ... else key
        if key is not None:
            headers.setdefault("Authorization", f"Bearer {key}")
        if json is not None:
            kwargs["json"] = json
        return self.http.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> TestResponse:
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> TestResponse:
        return self.request("PATCH", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def api(gateway: Any) -> ApiClient:
    return ApiClient(gateway)


_unique = itertools.count(1)


class Factory:
    """Makes organisations, keys, users and funds through the public API."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def organization(self, name: str | None = None, kind: str = "chamber_of_commerce") -> dict[str, Any]:
        response = self.api.post("/funds/api/v1/organizations",
                                 json={"name": name or f"商会{next(_unique)}", "kind": kind})
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.json  # type: ignore[no-any-return]

    def api_key(self, organization_id: int, scopes: list[str] | None = None, name: str = "integration") -> str:
        response = self.api.post(f"/funds/api/v1/organizations/{organization_id}/api-keys",
                                 json={"name": name, "scopes": scopes or ["funds:read", "funds:write"]})
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.json["key"]  # type: ignore[no-any-return]

    def fund(self, organization_id: int, code: str | None = None, *, key: Any = ...,
             **fields: Any) -> dict[str, Any]:
        body = {"code": code or f"F-{next(_unique):04d}", "name": "铜陵市慈善基金", "kind": "chamber_named",
                "organization_id": organization_id, "purpose": "助学助困", "restricted": False, **fields}
        response = self.api.post("/funds/api/v1/funds", json=body, key=key)
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.json  # type: ignore[no-any-return]

    def donation(self, fund_code: str, amount: str = "100.00", *, key: Any = ..., **fields: Any) -> dict[str, Any]:
        body = {"fund_code": fund_code, "amount": amount, "currency": "CNY",
                "donor": {"name": "铜陵某某有限公司", "kind": "enterprise", "anonymous": False},
                "received_on": "2026-08-03", "channel": "bank", **fields}
        response = self.api.post("/donations/api/v1/donations", json=body, key=key)
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.json  # type: ignore[no-any-return]

    def user(self, gateway: Any, username: str, password: str, role: str, organization_id: int) -> None:
        """Users are made by an admin through the web forms."""
        from services.funds import commands

        app = gateway.apps["funds"]
        with app.app_context():
            database = app.extensions["database"]
            with database.transaction() as session:
                commands.create_user(session, None, username, username, password, role, organization_id)


@pytest.fixture
def make(api: ApiClient) -> Factory:
    return Factory(api)


CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


class Browser:
    """A cookie-keeping client that fills in forms like a person would."""

    def __init__(self, gateway: Any) -> None:
        self.http = Client(gateway)

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.http.get(path, headers={"Accept": "text/html"}, **kwargs)

    def submit(self, page_path: str, data: dict[str, Any], action: str | None = None,
               follow_redirects: bool = False) -> TestResponse:
        """Open the page, take its CSRF token, post the form."""
        page = self.get(page_path)
        assert page.status_code == 200, (page.status_code, page_path)
        form = {"csrf_token": csrf_token(page.get_data(as_text=True)), **data}
        return self.http.post(action or page_path, data=form, headers={"Accept": "text/html"},
                              follow_redirects=follow_redirects)

    def login(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> TestResponse:
        response = self.submit("/funds/login", {"username": username, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return response


@pytest.fixture
def browser(gateway: Any) -> Browser:
    return Browser(gateway)


@pytest.fixture
def admin(browser: Browser) -> Browser:
    """A browser logged in as the bootstrap admin."""
    browser.login()
    return browser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    def __init__(self, process: subprocess.Popen[str], base_url: str, log: Path) -> None:
        self.process = process
        self.base_url = base_url
        self.log = log

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # as Ctrl-C in `make run`
            try:
                return self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise
        return self.process.returncode


def start_live_server(database_url: str, var_dir: Path, extra_env: dict[str, str] | None = None) -> LiveServer:
    """The same server `make run` starts, as a subprocess on a free port.

    An empty `database_url` leaves DATABASE_URL unset, as on a fresh machine.
    """
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "VAR_DIR": str(var_dir), "PORT": str(port),
           "SECRET_KEY": SECRET_KEY, "DATABASE_ROLE_PREFIX": "", "BOOTSTRAP_ADMIN_API_KEY": ADMIN_KEY,
           "BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD, "WEB_CONCURRENCY": "2", **(extra_env or {})}
    var_dir.mkdir(parents=True, exist_ok=True)
    log = var_dir / "server.log"
    process = subprocess.Popen([sys.executable, "-m", "services.serve", "--port", str(port)],
                               cwd=REPO_ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                               text=True)
    base_url = f"http://127.0.0.1:{port}"
    server = LiveServer(process, base_url, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/funds/openapi.json", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise AssertionError(f"server did not start:\n{log.read_text()}")


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    server = start_live_server(database_url, tmp_path / "live-var")
    yield server
    server.stop()
