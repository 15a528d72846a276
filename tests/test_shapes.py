"""One validator per shape: the API, a batch (JSON or CSV), a web form and the
database's CHECK constraints all hold a donation to the same rules, refusing
the same inputs and naming the same fields."""

from __future__ import annotations

import io
import re
from typing import Any

import psycopg
import pytest
from sqlalchemy import CheckConstraint

from services.donations.models import Base as DonationsBase
from services.donations.rules import DONATION
from services.funds.models import Base as FundsBase
from tests.conftest import ApiClient, Browser, Factory
from tests.test_donations_api import API, today
from tests.test_ledger_race import database_dsn

FUND = "SHAPE-001"
FUTURE = "2999-01-01"

# (field by its JSON path, a bad JSON value, the same written in a CSV cell or a form field).
# A JSON value with no text form (a number where text is due) is None in the last column.
BAD = [
    ("fund_code", "shape-001", "shape-001"),
    ("fund_code", "AB", "AB"),
    ("fund_code", "X" * 33, "X" * 33),
    ("fund_code", 12345, None),
    ("amount", "12.5", "12.5"),
    ("amount", "1e3", "1e3"),
    ("amount", "-1.00", "-1.00"),
    ("amount", "0.00", "0.00"),
    ("amount", "1000000000.01", "1000000000.01"),
    ("amount", "1,280.00", "1,280.00"),
    ("amount", 12.5, None),
    ("amount", "", ""),
    ("currency", "USD", "USD"),
    ("donor.name", "   ", "   "),
    ("donor.name", "名" * 201, "名" * 201),
    ("donor.name", "a\x00b", "a\x00b"),
    ("donor.kind", "alien", "alien"),
    ("donor.anonymous", "maybe", "maybe"),
    ("donor.anonymous", 1, None),
    ("received_on", FUTURE, FUTURE),
    ("received_on", "1999-12-31", "1999-12-31"),
    ("received_on", "2026-02-30", "2026-02-30"),
    ("received_on", "20260801", "20260801"),
    ("channel", "bitcoin", "bitcoin"),
    ("purpose", "用" * 2001, "用" * 2001),
    ("reference", "R" * 101, "R" * 101),
]
GOOD = [
    ("amount", "0.01", "0.01"),
    ("amount", "1000000000.00", "1000000000.00"),
    ("donor.name", "  铜陵某某有限公司  ", "  铜陵某某有限公司  "),
    ("donor.anonymous", True, "true"),
    ("received_on", "2000-01-01", "2000-01-01"),
    ("purpose", "", ""),
    ("reference", "R" * 100, "R" * 100),
]


def valid_json() -> dict[str, Any]:
    return {"fund_code": FUND, "amount": "100.00", "currency": "CNY",
            "donor": {"name": "铜陵某某有限公司", "kind": "enterprise", "anonymous": False},
            "received_on": today().isoformat(), "channel": "bank", "purpose": "助学", "reference": None}


def with_json(path: str, value: Any) -> dict[str, Any]:
    body = valid_json()
    if path.startswith("donor."):
        body["donor"][path.split(".")[1]] = value
    else:
        body[path] = value
    return body


def flat_name(path: str) -> str:
    return path.replace(".", "_")


def valid_text() -> dict[str, str]:
    return {"fund_code": FUND, "amount": "100.00", "currency": "CNY", "donor_name": "铜陵某某有限公司",
            "donor_kind": "enterprise", "donor_anonymous": "false", "received_on": today().isoformat(),
            "channel": "bank", "purpose": "助学", "reference": ""}


def with_text(path: str, text: str) -> dict[str, str]:
    return {**valid_text(), flat_name(path): text}


def csv_line(row: dict[str, str]) -> str:
    import csv

    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([row.get(name, "") for name in DONATION.flat_fields])
    return out.getvalue()


@pytest.fixture
def clerk(api: ApiClient, make: Factory) -> ApiClient:
    organization = make.organization()
    make.fund(organization["id"], FUND)
    return api


def api_verdict(client: ApiClient, body: dict[str, Any]) -> set[str]:
    response = client.post(f"{API}/donations", json=body)
    assert response.status_code in (201, 422), response.get_data(as_text=True)
    return set(response.json["errors"]) if response.status_code == 422 else set()


def batch_json_verdict(client: ApiClient, body: dict[str, Any]) -> set[str]:
    [row] = client.post(f"{API}/donations/batch", json=[body]).json["results"]
    return set(row.get("errors", {})) if row["status"] == "invalid" else set()


def batch_csv_verdict(client: ApiClient, row: dict[str, str]) -> set[str]:
    content = ",".join(DONATION.flat_fields) + "\n" + csv_line(row)
    [result] = client.post(f"{API}/donations/batch", data=content.encode(),
                           headers={"Content-Type": "text/csv"}).json["results"]
    errors = result.get("errors", {}) if result["status"] == "invalid" else {}
    return {DONATION.json_paths.get(name, name) for name in errors}


def form_verdict(browser: Browser, row: dict[str, str]) -> set[str]:
    data = {name: value for name, value in row.items() if name != "donor_anonymous" or value == "true"}
    if "donor_anonymous" in data:
        data["donor_anonymous"] = "y"
    response = browser.submit("/donations/new", data)
    assert response.status_code in (302, 422), response.status_code
    page = response.get_data(as_text=True)
    return {DONATION.json_paths[name] for name in re.findall(r'id="errors-([a-z_]+)"', page)}


@pytest.mark.parametrize(("path", "json_value", "text_value"), BAD + GOOD,
                         ids=[f"{p}={v!r}"[:60] for p, v, _ in BAD + GOOD])
def test_the_api_a_batch_and_a_form_refuse_the_same_inputs_naming_the_same_fields(
        clerk: ApiClient, admin: Browser, path: str, json_value: Any, text_value: str | None) -> None:
    expected = {path} if (path, json_value, text_value) in BAD else set()

    def unique(value: Any, place: int) -> Any:
        # A reference accepted once is a duplicate the next time: each way gets its own.
        return f"{value[:-1]}{place}" if path == "reference" and not expected else value

    assert api_verdict(clerk, with_json(path, unique(json_value, 1))) == expected
    assert batch_json_verdict(clerk, with_json(path, unique(json_value, 2))) == expected
    if text_value is None or "\x00" in text_value:  # no text form; a CSV file may not hold NUL at all
        return
    assert batch_csv_verdict(clerk, with_text(path, unique(text_value, 3))) == expected
    if path != "donor.anonymous" or text_value in ("true", "false"):  # a checkbox says nothing else
        # A page reads what people type (shared.page_input): these amounts it takes, and a fund
        # code in lower case it upper-cases (shape-001 is this test's fund).
        forgiven = (path, text_value) in (("amount", "12.5"), ("amount", "1,280.00"), ("fund_code", "shape-001"))
        assert form_verdict(admin, with_text(path, unique(text_value, 4))) == (set() if forgiven else expected)


def test_a_bad_donation_names_every_bad_field_at_once(clerk: ApiClient) -> None:
    body = {**with_json("amount", "1.5"), "channel": "bitcoin", "extra": 1}
    body["donor"]["kind"] = "alien"
    del body["received_on"]
    response = clerk.post(f"{API}/donations", json=body)
    assert response.status_code == 422
    assert response.json["codes"] == {"amount": ["amount_format"], "donor.kind": ["not_one_of"],
                                      "received_on": ["required"], "channel": ["not_one_of"],
                                      "extra": ["unknown_field"]}


def constraint_definitions(connection: psycopg.Connection[Any], schema: str) -> dict[str, str]:
    rows = connection.execute(
        "SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_namespace n "
        "ON n.oid = c.connamespace WHERE n.nspname = %s AND c.contype = 'c'", (schema,)).fetchall()
    return dict(rows)


@pytest.mark.parametrize("metadata", [DonationsBase.metadata, FundsBase.metadata], ids=["donations", "funds"])
def test_the_databases_check_constraints_are_the_rules_the_models_build(database_url: str, metadata: Any) -> None:
    """The models take their CHECKs from the shapes; the migrations installed exactly these."""
    checked = 0
    with psycopg.connect(database_dsn(database_url)) as connection:
        installed = constraint_definitions(connection, metadata.schema)
        for table in metadata.tables.values():
            for constraint in table.constraints:
                if not isinstance(constraint, CheckConstraint):
                    continue
                checked += 1
                name = constraint.name
                scratch = f"shape_{table.name}"
                connection.execute(f'CREATE TEMP TABLE "{scratch}" (LIKE {table.schema}."{table.name}")')
                connection.execute(f'ALTER TABLE "{scratch}" ADD CONSTRAINT "{name}" CHECK ({constraint.sqltext})')
                derived = connection.execute(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s "
                    "AND conrelid = %s::regclass", (name, scratch)).fetchone()[0]
                connection.execute(f'DROP TABLE "{scratch}"')
                assert installed.get(name) == derived, (name, installed.get(name), derived)
    assert checked >= 8


@pytest.mark.parametrize("limit", ["--5", "-", "+5", "5.0", "١٢"])
def test_a_query_integer_that_is_not_one_is_refused_by_name(clerk: ApiClient, limit: str) -> None:
    response = clerk.get(f"{API}/donations", query_string={"limit": limit})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.json["codes"] == {"limit": ["not_an_integer"]}
