"""`make backup` and `make restore`: a ledger filled through the API comes back whole in another
database, where the services work as their own roles, its chains verify, and its report files are
the same bytes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from services.reports import tasks
from shared.config import REPO_ROOT, SERVICES
from shared.dates import today
from shared.migrate import drop_database_and_roles, upgrade
from shared.postgres import create_database, libpq_dsn, service_role, start_embedded
from tests.conftest import ADMIN_KEY, ADMIN_PASSWORD, SECRET_KEY, ApiClient, Factory

DONATIONS = "/donations/api/v1"
REPORTS = "/reports/api/v1"


def backup_command(*args: str, database_url: str, var_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`make backup` / `make restore` as the Makefile runs them."""
    environ = {**os.environ, "DATABASE_URL": database_url, "VAR_DIR": str(var_dir), "SECRET_KEY": SECRET_KEY,
               "DATABASE_ROLE_PREFIX": "", **env}
    return subprocess.run([sys.executable, "-m", "shared.backup", *args], cwd=REPO_ROOT, env=environ,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def other_database(database_url: str) -> Iterator[str]:
    """A second database on the test server, for the restore; dropped with its roles afterwards."""
    url = make_url(database_url).set(database=f"{make_url(database_url).database}_restored")
    rendered = url.render_as_string(hide_password=False)
    drop_database_and_roles(rendered)
    yield rendered
    drop_database_and_roles(rendered)


def fill(api: ApiClient, make: Factory, gateway: Any) -> dict[str, Any]:
    """Donations, a reversal, a paid disbursement on two funds, and a built report with its files."""
    organization = make.organization("铜官区商会")
    make.fund(organization["id"], "BK-001", restricted=True)
    make.fund(organization["id"], "BK-002")
    donations = [make.donation("BK-001", amount) for amount in ("1000.00", "250.50", "3.14")]
    make.donation("BK-002", "88.80", received_on="2026-07-15")
    assert api.post(f"{DONATIONS}/donations/{donations[2]['id']}/reverse", json={"reason": "录错"}).status_code == 200
    approver = make.api_key(organization["id"], ["disbursements:approve", "donations:read"])
    requested = api.post(f"{DONATIONS}/disbursements", json={
        "fund_code": "BK-001", "amount": "120.00", "payee": "铜陵市第一中学", "purpose": "助学"}).json
    assert api.post(f"{DONATIONS}/disbursements/{requested['id']}/approve", key=approver).status_code == 200
    assert api.post(f"{DONATIONS}/disbursements/{requested['id']}/pay",
                    json={"paid_on": today().isoformat(), "bank_reference": "B-77"}).status_code == 200
    report_id = api.post(f"{REPORTS}/reports", {"period": "2026-Q3", "organization_id": organization["id"]}).json["id"]
    reports_app = gateway.apps["reports"]
    with reports_app.app_context():
        assert tasks.build_and_deliver(reports_app, report_id) == "done"
    return {"report_id": report_id, "approver": approver}


def state(api: ApiClient, report_id: int) -> dict[str, Any]:
    """What must come back: balances, chain heads and verdicts, the report and its files' bytes."""
    balances = {code: {k: v for k, v in api.get(f"{DONATIONS}/funds/{code}/balance").json.items() if k != "as_of"}
                for code in ("BK-001", "BK-002")}
    verify = api.get(f"{DONATIONS}/ledger/verify")
    assert verify.status_code == 200, verify.get_data(as_text=True)
    heads = api.get(f"{DONATIONS}/ledger/heads")
    report = api.get(f"{REPORTS}/reports/{report_id}").json
    files = {}
    for listed in report["files"]:
        body = api.get(listed["url"].removeprefix("http://localhost")).get_data()
        files[listed["format"]] = hashlib.sha256(body).hexdigest()
        assert files[listed["format"]] == listed["sha256"]
    return {"balances": balances, "verify": verify.json, "heads": heads.json if heads.status_code == 200 else None,
            "summary": report["summary"], "files": files}


def gateway_on(database_url: str, var_dir: Path) -> Any:
    from services.gateway import create_gateway

    return create_gateway({"DATABASE_URL": database_url, "VAR_DIR": str(var_dir), "SECRET_KEY": SECRET_KEY,
                           "DATABASE_ROLE_PREFIX": "", "BOOTSTRAP_ADMIN_API_KEY": ADMIN_KEY,
                           "BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD, "AUTH_CACHE_SECONDS": "2", "TESTING": True})


def close(gateway: Any) -> None:
    for app in gateway.apps.values():
        app.extensions["peers"].close()
        app.extensions["database"].dispose()


def test_a_backup_restored_into_another_database_is_the_same_ledger(
        api: ApiClient, make: Factory, gateway: Any, database_url: str, other_database: str, tmp_path: Path):
    filled = fill(api, make, gateway)
    before = state(api, filled["report_id"])
    assert all(fund["valid"] for fund in before["verify"]["funds"]) and len(before["verify"]["funds"]) == 2
    assert set(before["files"]) == {"pdf", "xlsx", "csv"}

    made = backup_command("create", database_url=database_url, var_dir=tmp_path / "var",
                          BACKUP_DIR=str(tmp_path / "backups"))
    assert made.returncode == 0, made.stderr
    (backup,) = (tmp_path / "backups").iterdir()
    assert backup.name.startswith(make_url(database_url).database + "-")
    manifest = json.loads((backup / "manifest.json").read_text())
    for part in manifest["parts"]:
        assert hashlib.sha256((backup / part["path"]).read_bytes()).hexdigest() == part["sha256"]
    assert {f["format"]: f["sha256"] for f in manifest["report_files"]} == before["files"]
    assert manifest["schemas"] == list(SERVICES) and all(manifest["alembic_versions"][s] for s in SERVICES)

    restored = backup_command("restore", str(backup), database_url=other_database, var_dir=tmp_path / "var")
    assert restored.returncode == 0, restored.stderr

    # The services, as the target database's own roles, find the same ledger.
    other = gateway_on(other_database, tmp_path / "other-var")
    try:
        other_api = ApiClient(other)
        after = state(other_api, filled["report_id"])
        assert after == before
        with other.apps["donations"].extensions["database"].engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT current_user").scalar() == service_role(
                make_url(other_database).database or "", "donations")
        # It goes on: a donation after the restore extends the chain, which still verifies.
        Factory(other_api).donation("BK-001", "10.00")
        assert other_api.get(f"{DONATIONS}/funds/BK-001/balance").json["balance"] != before["balances"]["BK-001"]["balance"]
        assert all(fund["valid"] for fund in other_api.get(f"{DONATIONS}/ledger/verify").json["funds"])
    finally:
        close(other)

    # Now the database holds a ledger: a second restore is refused unless told to replace it.
    again = backup_command("restore", str(backup), database_url=other_database, var_dir=tmp_path / "var")
    assert again.returncode == 2 and "is not empty" in again.stderr and "REPLACE=1" in again.stderr
    replaced = backup_command("restore", str(backup), "--replace", database_url=other_database,
                              var_dir=tmp_path / "var")
    assert replaced.returncode == 0, replaced.stderr
    other = gateway_on(other_database, tmp_path / "other-var")
    try:
        assert state(ApiClient(other), filled["report_id"]) == before
    finally:
        close(other)


def test_a_damaged_backup_is_refused(api: ApiClient, make: Factory, database_url: str, other_database: str,
                                     tmp_path: Path):
    make.fund(make.organization()["id"], "BK-009")
    make.donation("BK-009", "5.00")
    assert backup_command("create", database_url=database_url, var_dir=tmp_path,
                          BACKUP_DIR=str(tmp_path / "backups")).returncode == 0
    (backup,) = (tmp_path / "backups").iterdir()
    dump = backup / "database.dump"
    damaged = bytearray(dump.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    dump.write_bytes(bytes(damaged))
    refused = backup_command("restore", str(backup), database_url=other_database, var_dir=tmp_path)
    assert refused.returncode == 2 and "database.dump does not match its sha256" in refused.stderr
    with psycopg.connect(libpq_dsn(database_url, "postgres")) as connection:
        assert connection.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (make_url(other_database).database,)).fetchone() is None


def test_backup_and_restore_on_the_embedded_server(tmp_path: Path):
    """Without DATABASE_URL, as `make run`: var/pg is backed up with the wheel's pg_dump (PostgreSQL 18),
    and restored into another var/ whose embedded server starts for the restore."""
    source_var = Path(tempfile.mkdtemp(prefix="charity-ledger-backup-"))
    target_var = Path(tempfile.mkdtemp(prefix="charity-ledger-restore-"))
    try:
        server = start_embedded(source_var / "pg")
        try:
            url = server.url()
            create_database(url)
            upgrade(url, secret_key=SECRET_KEY)
            gateway = gateway_on(url, source_var)
            try:
                make = Factory(ApiClient(gateway))
                make.fund(make.organization("枞阳县商会")["id"], "EMB-001")
                make.donation("EMB-001", "66.60")
            finally:
                close(gateway)
            made = backup_command("create", database_url="", var_dir=source_var)
            assert made.returncode == 0, made.stderr
        finally:
            server.stop()
        (backup,) = (source_var / "backups").iterdir()
        assert json.loads((backup / "manifest.json").read_text())["pg_dump_major_version"] == 18

        restored = backup_command("restore", str(backup), database_url="", var_dir=target_var)
        assert restored.returncode == 0, restored.stderr
        server = start_embedded(target_var / "pg")
        try:
            with psycopg.connect(libpq_dsn(server.url())) as connection:
                assert connection.execute("SELECT count(*) FROM donations.donation").fetchone() == (1,)
            gateway = gateway_on(server.url(), target_var)
            try:
                balance = ApiClient(gateway).get(f"{DONATIONS}/funds/EMB-001/balance")
                assert balance.status_code == 200 and balance.json["balance"] == "66.60"
            finally:
                close(gateway)
        finally:
            server.stop()
    finally:
        shutil.rmtree(source_var, ignore_errors=True)
        shutil.rmtree(target_var, ignore_errors=True)
