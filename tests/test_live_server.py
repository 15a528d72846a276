"""The servers as they are really started, over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.config import REPO_ROOT, SERVICES
from tests.conftest import ADMIN_KEY, ADMIN_PASSWORD, SECRET_KEY, LiveServer, csrf_token, free_port
from tests.helpers import wait_until

pytestmark = pytest.mark.slow
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def test_make_run_serves_all_services_and_stops_on_ctrl_c(live_server: LiveServer):
    base = live_server.base_url
    for service in SERVICES:
        spec = httpx.get(f"{base}/{service}/openapi.json")
        assert spec.status_code == 200 and spec.json()["openapi"].startswith("3."), service
        assert httpx.get(f"{base}/{service}/docs").status_code == 200

    organization = httpx.post(f"{base}/funds/api/v1/organizations", headers=ADMIN,
                              json={"name": "铜陵市工商联", "kind": "chamber_of_commerce"})
    assert organization.status_code == 201
    fund = httpx.post(f"{base}/funds/api/v1/funds", headers=ADMIN, json={
        "code": "TL-GSL-001", "name": "铜陵市工商联冠名慈善基金", "kind": "chamber_named",
        "organization_id": organization.json()["id"], "purpose": "扶持薄弱村", "restricted": True})
    assert fund.status_code == 201
    read = httpx.get(f"{base}/funds/api/v1/funds/TL-GSL-001", headers=ADMIN)
    assert read.json()["name"] == "铜陵市工商联冠名慈善基金"

    with httpx.Client(base_url=base) as browser:
        page = browser.get("/funds/login")
        login = browser.post("/funds/login", data={"csrf_token": csrf_token(page.text),
                                                    "username": "admin", "password": ADMIN_PASSWORD})
        assert login.status_code == 302
        assert "TL-GSL-001" in browser.get("/funds/").text
        assert browser.get("/donations/").status_code == 200

    assert live_server.stop() == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=1).close()


def test_make_run_on_a_fresh_var_prints_how_to_log_in(database_url: str, tmp_path: Path):
    """Without bootstrap settings it makes an admin password and key, and says so."""
    from tests.conftest import start_live_server

    env = {"BOOTSTRAP_ADMIN_API_KEY": "", "BOOTSTRAP_ADMIN_PASSWORD": ""}
    server = start_live_server(database_url, tmp_path / "fresh", env)
    try:
        deadline = time.monotonic() + 10
        while "password:" not in server.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        banner = server.log.read_text()
        password = (tmp_path / "fresh" / "admin_password").read_text().strip()
        key = (tmp_path / "fresh" / "admin_api_key").read_text().strip()
        assert f"password: {password}" in banner and key in banner
        me = httpx.get(f"{server.base_url}/funds/api/v1/me", headers={"Authorization": f"Bearer {key}"})
        assert me.status_code == 200 and me.json()["scopes"] == ["admin"]
    finally:
        assert server.stop() == 0


def _postgres_processes(data_dir: Path) -> list[str]:
    """The command lines of running PostgreSQL processes whose data is in `data_dir`."""
    out = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if "postgres" in line and str(data_dir) in line]


def test_make_run_without_a_database_url_runs_on_embedded_postgresql(tmp_path: Path):
    """A fresh machine: `make run` starts PostgreSQL under var/pg, and Ctrl-C stops it again."""
    from tests.conftest import start_live_server

    var_dir = tmp_path / "var"
    server = start_live_server("", var_dir)
    try:
        banner = server.log.read_text()
        assert f"embedded PostgreSQL under {var_dir / 'pg'}" in banner
        assert _postgres_processes(var_dir / "pg")
        assert (var_dir / "pg" / "PG_VERSION").exists()
        organization = httpx.post(f"{server.base_url}/funds/api/v1/organizations", headers=ADMIN,
                                  json={"name": "枞阳县商会", "kind": "chamber_of_commerce"})
        assert organization.status_code == 201
        fund = httpx.post(f"{server.base_url}/funds/api/v1/funds", headers=ADMIN, json={
            "code": "ZY-001", "name": "枞阳县商会冠名慈善基金", "kind": "chamber_named",
            "organization_id": organization.json()["id"], "purpose": "助学", "restricted": False})
        assert fund.status_code == 201
        _reports_end_to_end(server, var_dir)
    finally:
        assert server.stop() == 0
    assert _postgres_processes(var_dir / "pg") == []
    assert not (var_dir / "pg" / "postmaster.pid").exists()


def _reports_end_to_end(server: LiveServer, var_dir: Path) -> None:
    """The worker and beat `make run` starts build an ad-hoc report, and a scheduled one once the
    schedule is told its period has ended; the email lands under var/mail."""
    base = server.base_url
    donation = httpx.post(f"{base}/donations/api/v1/donations", headers=ADMIN, json={
        "fund_code": "ZY-001", "amount": "2600.00", "currency": "CNY", "received_on": "2026-08-03",
        "donor": {"name": "枞阳某某有限公司", "kind": "enterprise", "anonymous": False}, "channel": "bank"})
    assert donation.status_code == 201
    asked = httpx.post(f"{base}/reports/api/v1/reports", headers=ADMIN, json={"period": "2026-08", "fund_code": "ZY-001"})
    assert asked.status_code == 202

    def report_done() -> bool:
        return httpx.get(f"{base}/reports/api/v1/reports/{asked.json()['id']}", headers=ADMIN).json()["status"] == "done"

    wait_until(report_done, 60)
    summary = httpx.get(f"{base}/reports/api/v1/reports/{asked.json()['id']}", headers=ADMIN).json()["summary"]
    assert summary["closing_balance"] == "2600.00"
    subscribed = httpx.post(f"{base}/reports/api/v1/subscriptions", headers=ADMIN, json={
        "email": "auditor@mca.tongling.gov.cn", "frequency": "monthly", "fund_code": "ZY-001"})
    assert subscribed.status_code == 201
    env = {**os.environ, "VAR_DIR": str(var_dir), "SECRET_KEY": SECRET_KEY, "DATABASE_URL": "",
           "DATABASE_ROLE_PREFIX": "", "PORT": base.rsplit(":", 1)[1]}
    scheduled = subprocess.run([sys.executable, "-m", "services.reports.schedule", "--at", "2026-09-01T02:05+08:00"],
                               cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert scheduled.returncode == 0 and "1 report(s) due" in scheduled.stdout, scheduled.stdout + scheduled.stderr
    wait_until(lambda: list((var_dir / "mail").glob("*.eml")), 60)
    (message,) = (var_dir / "mail").glob("*.eml")
    assert "auditor@mca.tongling.gov.cn" in message.read_text(errors="replace")
    assert f"emails: written as .eml files under {var_dir / 'mail'}" in server.log.read_text()


def _serve_alone(factory: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--threads", "4", "--worker-class", "gthread", factory],
        cwd=REPO_ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


@pytest.fixture
def separate_services(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The funds and donations services each in their own gunicorn."""
    funds_port, donations_port = free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "VAR_DIR": str(tmp_path), "SECRET_KEY": SECRET_KEY,
           "DATABASE_ROLE_PREFIX": "", "BOOTSTRAP_ADMIN_API_KEY": ADMIN_KEY, "FUNDS_URL": f"http://127.0.0.1:{funds_port}",
           "DONATIONS_URL": f"http://127.0.0.1:{donations_port}"}
    processes = [
        _serve_alone("services.funds:create_app()", funds_port, env, tmp_path / "funds.log"),
        _serve_alone("services.donations:create_app()", donations_port, env, tmp_path / "donations.log"),
    ]
    urls = (f"http://127.0.0.1:{funds_port}", f"http://127.0.0.1:{donations_port}")
    try:
        for url in urls:
            wait_until(lambda: _answers(f"{url}/openapi.json"), limit=30)
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_services_in_separate_processes_share_keys_and_revocation(separate_services):
    funds, donations = separate_services
    organization = httpx.post(f"{funds}/api/v1/organizations", headers=ADMIN,
                              json={"name": "义安区商会", "kind": "chamber_of_commerce"}).json()
    issued = httpx.post(f"{funds}/api/v1/organizations/{organization['id']}/api-keys", headers=ADMIN,
                        json={"name": "erp", "scopes": ["donations:write"]}).json()
    key = {"Authorization": f"Bearer {issued['key']}"}
    me = httpx.get(f"{donations}/api/v1/me", headers=key)
    assert me.status_code == 200 and me.json()["organization_id"] == organization["id"]

    revoked = httpx.delete(f"{funds}/api/v1/organizations/{organization['id']}/api-keys/{issued['id']}",
                           headers=ADMIN)
    assert revoked.status_code == 204

    wait_until(lambda: httpx.get(f"{donations}/api/v1/me", headers=key).status_code == 401)
