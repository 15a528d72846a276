"""Each service connects as its own database role, which may use its own schema only."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

from shared.config import SERVICES, load_settings
from shared.migrate import upgrade
from shared.postgres import (ROLE_PASSWORD_LABEL, create_database, libpq_dsn, service_database_url, service_role,
                             start_embedded)
from tests.conftest import SECRET_KEY, ApiClient, Factory


def engine_of(gateway: Any, service: str) -> Engine:
    return gateway.apps[service].extensions["database"].engine  # type: ignore[no-any-return]


def refused(engine: Engine, statement: str) -> BaseException:
    """Run `statement` through `engine`; the error PostgreSQL answered with."""
    with engine.connect() as connection, pytest.raises(DBAPIError) as error:
        connection.execute(text(statement))
    return error.value.orig  # type: ignore[return-value]


def test_each_service_connects_as_its_own_role(gateway: Any, database_url: str):
    database = make_url(database_url).database
    for service in SERVICES:
        with engine_of(gateway, service).connect() as connection:
            user = connection.execute(text("SELECT current_user")).scalar()
        assert user == service_role(database or "", service) == f"{database}_{service}"


def test_the_roles_are_plain_logins_owning_nothing(database_url: str):
    database = make_url(database_url).database or ""
    roles = [service_role(database, service) for service in SERVICES]
    with psycopg.connect(libpq_dsn(database_url)) as connection:
        rows = connection.execute(
            "SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolreplication, "
            "rolbypassrls FROM pg_roles WHERE rolname = ANY(%s) ORDER BY rolname", (roles,)).fetchall()
        assert [row[0] for row in rows] == sorted(roles)
        assert all(row[1:] == (True, False, False, False, False, False, False) for row in rows)
        owned = connection.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = ANY(%s)",
            (roles,)).fetchone()
        assert owned == (0,)
        members = connection.execute(
            "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = ANY(%s)",
            (roles,)).fetchone()
        assert members == (0,)


@pytest.mark.parametrize("statement", [
    "ALTER TABLE donations.posting DISABLE TRIGGER ALL",
    "ALTER TABLE donations.journal_entry DISABLE TRIGGER journal_entry_append_only",
    "DROP TRIGGER journal_entry_append_only ON donations.journal_entry",
    "DROP TRIGGER posting_append_only ON donations.posting",
    "DROP TABLE donations.posting",
    "DROP FUNCTION donations.record_donations",
    "INSERT INTO donations.posting (entry_id, line, fund_id, account, amount_fen) VALUES (1, 9, 1, 'bank', 1)",
    "INSERT INTO donations.audit_log (at, service, actor, actor_name, action, subject, details) "
    "VALUES (now(), 'donations', 'x', 'x', 'x', 'x', '{}')",
    "UPDATE donations.fund_ledger SET bank_fen = bank_fen",
    "UPDATE donations.disbursement SET status = status",
    "INSERT INTO donations.fund_day (fund_id, day, bank_fen, in_kind_fen, unrestricted_fen, restricted_fen) "
    "VALUES (1, '2026-01-01', 1, 0, 0, 0)",
    "SELECT donations.post_entries(ARRAY[]::donations.entry_input[], now())",
    "TRUNCATE donations.posting",
    "TRUNCATE donations.donation",
    "DELETE FROM donations.donation",
    "UPDATE donations.posting SET amount_fen = amount_fen",
    "UPDATE donations.audit_log SET actor = actor",
    "SELECT * FROM donations.alembic_version",
    "CREATE TABLE donations.mine (id integer)",
    "CREATE TABLE public.mine (id integer)",
    "SET session_replication_role = replica",
    "SELECT * FROM funds.fund",
    "SELECT * FROM funds.api_key",
    "SELECT * FROM funds.organization",
])
def test_the_donations_role_cannot(gateway: Any, statement: str):
    error = refused(engine_of(gateway, "donations"), statement)
    assert isinstance(error, psycopg.errors.InsufficientPrivilege), error


@pytest.mark.parametrize("statement", [
    "SELECT * FROM donations.posting",
    "SELECT * FROM donations.fund_ledger",
    "INSERT INTO donations.audit_log (at, service, actor, actor_name, action, subject, details) "
    "VALUES (now(), 'funds', 'x', 'x', 'x', 'x', '{}')",
    "SELECT donations.record_donations('[]', '[]')",
    "DELETE FROM funds.fund",
    "DELETE FROM funds.user_account",
    "UPDATE funds.audit_log SET actor = actor",
    "TRUNCATE funds.idempotency_key",
    "ALTER TABLE funds.audit_log DISABLE TRIGGER ALL",
    "DROP TABLE funds.fund",
    "SELECT * FROM funds.alembic_version",
])
def test_the_funds_role_cannot(gateway: Any, statement: str):
    error = refused(engine_of(gateway, "funds"), statement)
    assert isinstance(error, psycopg.errors.InsufficientPrivilege), error


@pytest.mark.parametrize("statement", [
    "SELECT * FROM funds.fund",
    "SELECT * FROM donations.posting",
    "CREATE TABLE reports.mine (id integer)",
])
def test_the_reports_role_cannot(gateway: Any, statement: str):
    error = refused(engine_of(gateway, "reports"), statement)
    assert isinstance(error, psycopg.errors.InsufficientPrivilege), error


def test_the_funds_role_can_do_what_its_code_needs(gateway: Any):
    with engine_of(gateway, "funds").begin() as connection:
        connection.execute(text("SELECT count(*) FROM funds.fund"))
        connection.execute(text("DELETE FROM funds.idempotency_key WHERE created_at < now() - interval '1 day'"))
        connection.execute(text(
            "INSERT INTO funds.audit_log (at, service, actor, actor_name, action, subject, details) "
            "VALUES (now(), 'funds', 'test', 'test', 'test', 'test', '{}')"))
        assert connection.execute(text("SELECT count(*) FROM funds.audit_log")).scalar() == 1


def test_migrating_twice_is_harmless(api: ApiClient, make: Factory, gateway: Any, database_url: str):
    organization = make.organization()
    make.fund(organization["id"], "ROLE-001")
    make.donation("ROLE-001", "10.00")

    upgrade(database_url, secret_key=SECRET_KEY)
    upgrade(database_url, secret_key=SECRET_KEY)

    make.donation("ROLE-001", "5.00")
    balance = api.get("/donations/api/v1/funds/ROLE-001/balance")
    assert balance.status_code == 200, balance.get_data(as_text=True)
    assert balance.json["available"] == "15.00"
    assert isinstance(refused(engine_of(gateway, "donations"), "TRUNCATE donations.posting"),
                      psycopg.errors.InsufficientPrivilege)


def test_role_names_and_passwords_are_derived():
    assert service_role("Ledger", "funds") == "ledger_funds"
    long = service_role("x" * 100, "donations")
    assert len(long.encode()) == 63 and long.endswith("_donations")
    wide = service_role("基金" * 30, "funds")
    assert len(wide.encode()) <= 63 and wide.endswith("_funds")

    url = make_url(service_database_url("postgresql+psycopg://postgres:5432/ledger", "funds", "k" * 40,
                                        prefix="ledger"))
    assert (url.username, url.host, url.port, url.database) == ("ledger_funds", "postgres", 5432, "ledger")
    expected = hmac.new(b"k" * 40, ROLE_PASSWORD_LABEL + b"\0ledger_funds", hashlib.sha256).hexdigest()
    assert url.password == expected

    owner = "postgresql+psycopg://owner:secret@db.example:6543/charity?sslmode=require"
    url = make_url(load_settings(environ={"DATABASE_URL": owner, "SECRET_KEY": "s" * 40, "VAR_DIR": "/tmp"})
                   .service_database_url("donations"))
    assert (url.username, url.host, url.port, url.database) == ("charity_donations", "db.example", 6543, "charity")
    assert url.password != "secret" and url.query == {"sslmode": "require"}


@pytest.fixture
def password_server(tmp_path: Path) -> Iterator[str]:
    """An embedded server that asks every role but its superuser for a password."""
    server = start_embedded(tmp_path / "pg")
    try:
        (server.path / "pg_hba.conf").write_text(
            "local all postgres trust\nlocal all all scram-sha-256\n")
        with psycopg.connect(libpq_dsn(server.url("postgres")), autocommit=True) as connection:
            connection.execute("SELECT pg_reload_conf()")
        url = server.url("ledger")
        create_database(url)
        yield url
    finally:
        server.stop()


@pytest.mark.slow
def test_services_log_in_with_their_derived_passwords(password_server: str, tmp_path: Path):
    """As in docker-compose.yml: the server asks for passwords; only the migrations know the owner."""
    upgrade(password_server, secret_key=SECRET_KEY, database_role_prefix="ledger")
    settings = load_settings(environ={"DATABASE_URL": password_server, "SECRET_KEY": SECRET_KEY,
                                      "DATABASE_ROLE_PREFIX": "ledger", "VAR_DIR": str(tmp_path / "var")})
    for service in SERVICES:
        engine = create_engine(settings.service_database_url(service))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT current_user")).scalar() == f"ledger_{service}"
        engine.dispose()

    wrong = make_url(settings.service_database_url("funds")).set(password="not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(libpq_dsn(wrong)).close()
