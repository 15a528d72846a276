"""What shared/ promises every service: migrations that go both ways, reads that
cannot write, and a request's work committed once, before it is answered."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url

from shared.config import SERVICES
from shared.db import db_session
from shared.migrate import alembic_config
from shared.postgres import create_database, drop_database
from tests.conftest import ApiClient, Factory
from tests.test_donations_api import API, donation_body
from tests.test_ledger_race import database_dsn


@pytest.fixture
def scratch_database(database_url: str) -> Any:
    url = make_url(database_url).set(database=f"{make_url(database_url).database}_scratch").render_as_string(
        hide_password=False)
    create_database(url, replace=True)
    yield url
    drop_database(url)


@pytest.mark.parametrize("service", [s for s in SERVICES if s != "reports"])
def test_each_service_migrates_down_to_nothing_and_up_again(scratch_database: str, service: str) -> None:
    config = alembic_config(service, scratch_database)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    with psycopg.connect(database_dsn(scratch_database)) as connection:
        left = connection.execute(
            "SELECT 'table ' || tablename FROM pg_tables WHERE schemaname = %(s)s AND tablename <> 'alembic_version' "
            "UNION ALL SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = %(s)s UNION ALL SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n "
            "ON n.oid = t.typnamespace WHERE n.nspname = %(s)s AND t.typtype = 'c' AND t.typrelid = 0",
            {"s": service}).fetchall()
    assert left == []
    command.upgrade(config, "head")


def test_a_request_that_reads_cannot_write(gateway: Any) -> None:
    app = gateway.apps["donations"]
    with app.test_request_context("/donations/api/v1/donations", method="GET"):
        session = db_session()
        with pytest.raises(Exception) as caught:
            session.execute(text("DELETE FROM donations.idempotency_key"))
        assert isinstance(caught.value.orig, psycopg.errors.ReadOnlySqlTransaction)  # type: ignore[attr-defined]
    with app.test_request_context("/donations/api/v1/donations", method="POST"):
        db_session().execute(text("DELETE FROM donations.idempotency_key WHERE false"))


@pytest.fixture
def fund(make: Factory) -> str:
    organization = make.organization()
    return str(make.fund(organization["id"], "COMMIT-001")["code"])


def donations_recorded(database_url: str) -> int:
    with psycopg.connect(database_dsn(database_url)) as connection:
        return int(connection.execute("SELECT count(*) FROM donations.donation").fetchone()[0])


@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": "commit-once-1"}], ids=["grouped", "with a key"])
def test_a_donation_whose_answer_fails_is_not_recorded(api: ApiClient, fund: str, database_url: str,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       headers: dict[str, str]) -> None:
    """The answer is built before the commit: a failure building it leaves nothing behind."""
    from services.donations import commands

    def broken(_donation: Any) -> Any:
        raise RuntimeError("the answer could not be built")

    monkeypatch.setattr(commands, "donation_json", broken)
    response = api.post(f"{API}/donations", json=donation_body(fund), headers=headers)
    assert response.status_code == 500 and response.json["code"] == "internal_error"
    assert donations_recorded(database_url) == 0

    monkeypatch.undo()
    assert api.post(f"{API}/donations", json=donation_body(fund), headers=headers).status_code == 201
    assert donations_recorded(database_url) == 1
