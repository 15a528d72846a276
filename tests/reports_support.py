"""What the reports tests share: a real SMTP server, the gateway over real HTTP, real workers."""

from __future__ import annotations

import datetime as dt
import email
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psycopg
import pytest
from werkzeug.serving import make_server

from shared.config import REPO_ROOT
from shared.dates import today
from shared.postgres import libpq_dsn
from tests.conftest import ADMIN_KEY, SECRET_KEY, ApiClient, Factory, free_port
from tests.helpers import assert_ok, kill_process_group, stop_process_group

API = "/donations/api/v1"
# An organisation's two hands: a clerk who records and requests, an approver who approves.
CLERK_SCOPES = ["funds:read", "donations:read", "donations:write"]
APPROVER_SCOPES = ["donations:read", "disbursements:approve"]


class Inbox:
    """An SMTP server's mailbox (aiosmtpd); `refuse` makes it answer 451 to the next messages."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse = 0
        self.refused = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                self.refused += 1
                return "451 Requested action aborted: try again later"
            self.messages.append(email.message_from_bytes(envelope.original_content,  # type: ignore[arg-type]
                                                          policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, str]]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, f"smtp://127.0.0.1:{port}"
    controller.stop()


def serve_over_http(app: Any) -> tuple[str, Callable[[], None]]:
    """Serve a WSGI app on a free port in a thread: its base URL and how to stop it."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{server.server_port}", server.shutdown


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def owner_query(database_url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run `sql` as the database's owner; its rows (none for a statement that returns none)."""
    with psycopg.connect(libpq_dsn(database_url), autocommit=True) as connection:
        cursor = connection.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


class WorkerProcess:
    """`celery -A services.reports.worker worker`, as production runs it, in its own process group."""

    def __init__(self, env: dict[str, str], log: Path, name: str) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "services.reports.worker", "worker", "--pool", "solo",
             "--loglevel", "INFO", "--hostname", f"{name}@%h", "--without-gossip", "--without-mingle",
             "--without-heartbeat"],
            cwd=REPO_ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        """SIGKILL: no clean-up, no acknowledgement, nothing."""
        kill_process_group(self.process)

    def stop(self) -> None:
        stop_process_group(self.process, timeout=15)


def worker_env(database_url: str, var_dir: Path, base_url: str, broker: str, smtp_url: str,
               **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "VAR_DIR": str(var_dir), "SECRET_KEY": SECRET_KEY,
            "DATABASE_ROLE_PREFIX": "", "PUBLIC_URL": base_url, "CELERY_BROKER_URL": broker,
            "SMTP_URL": smtp_url, "BOOTSTRAP_ADMIN_API_KEY": ADMIN_KEY, **extra}


# -- a ledger built through the public API, as an organisation's people build it -------------

@dataclass
class Org:
    id: int
    clerk: ApiClient
    approver: ApiClient


def make_org(api: ApiClient, make: Factory, name: str) -> Org:
    organization = make.organization(name)
    return Org(organization["id"], api.with_key(make.api_key(organization["id"], CLERK_SCOPES, "出纳")),
               api.with_key(make.api_key(organization["id"], APPROVER_SCOPES, "审批人")))


def donate(org: Org, code: str, amount: str, received_on: dt.date, *, donor: str = "王秀英",
           kind: str = "individual", anonymous: bool = False, channel: str = "bank",
           purpose: str = "助学") -> dict[str, Any]:
    body = {"fund_code": code, "amount": amount, "currency": "CNY",
            "donor": {"name": donor, "kind": kind, "anonymous": anonymous},
            "received_on": received_on.isoformat(), "channel": channel, "purpose": purpose}
    return assert_ok(org.clerk.post(f"{API}/donations", json=body), 201)  # type: ignore[no-any-return]


def pay(org: Org, code: str, amount: str, *, payee: str = "铜陵市第一中学", **fields: Any) -> dict[str, Any]:
    """Requested by the clerk, approved by the approver, paid today."""
    body = {"fund_code": code, "amount": amount, "payee": payee, "purpose": "资助贫困学生学费", **fields}
    requested = assert_ok(org.clerk.post(f"{API}/disbursements", json=body), 201)
    assert_ok(org.approver.post(f"{API}/disbursements/{requested['id']}/approve"))
    return assert_ok(org.clerk.post(f"{API}/disbursements/{requested['id']}/pay",  # type: ignore[no-any-return]
                                    json={"paid_on": today().isoformat(), "bank_reference": f"ICBC-{requested['id']}"}))
