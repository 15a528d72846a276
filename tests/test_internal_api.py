"""The internal API the services call one another with (never part of the public
API), through the gateway with the internal token: the funds and organisations a
report covers, and each service pruning its expired Idempotency-Keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest

from tests.conftest import SECRET_KEY, ApiClient, Factory
from tests.helpers import assert_ok, assert_problem
from shared.auth import internal_token
from tests.test_ledger_race import database_dsn

INTERNAL = {"X-Internal-Token": internal_token(SECRET_KEY)}


def internal_get(api: ApiClient, path: str, **kwargs: Any) -> Any:
    return api.get(path, key=None, headers=INTERNAL, **kwargs)


def internal_post(api: ApiClient, path: str) -> Any:
    return api.post(path, key=None, headers=INTERNAL)


# -- the funds service: funds and organisations ------------------------------------

def test_every_fund_by_code_closed_ones_too(api: ApiClient, make: Factory) -> None:
    first = make.organization("铜陵市温州商会")
    second = make.organization("义安区钟鸣镇", kind="township")
    make.fund(first["id"], "WZ-002", restricted=True)
    make.fund(second["id"], "ZM-001", name="钟鸣镇冠名基金")
    make.fund(first["id"], "WZ-001")
    assert_ok(api.post("/funds/api/v1/funds/WZ-001/close"))

    everything = assert_ok(internal_get(api, "/funds/internal/v1/funds"))

    assert everything == {"funds": [
        {"code": "WZ-001", "name": "铜陵市慈善基金", "organization_id": first["id"],
         "organization_name": "铜陵市温州商会", "restricted": False, "status": "closed"},
        {"code": "WZ-002", "name": "铜陵市慈善基金", "organization_id": first["id"],
         "organization_name": "铜陵市温州商会", "restricted": True, "status": "active"},
        {"code": "ZM-001", "name": "钟鸣镇冠名基金", "organization_id": second["id"],
         "organization_name": "义安区钟鸣镇", "restricted": False, "status": "active"},
    ]}
    mine = assert_ok(internal_get(api, "/funds/internal/v1/funds", query_string={"organization_id": first["id"]}))
    assert [fund["code"] for fund in mine["funds"]] == ["WZ-001", "WZ-002"]
    none = assert_ok(internal_get(api, "/funds/internal/v1/funds", query_string={"organization_id": 999999}))
    assert none == {"funds": []}


@pytest.mark.parametrize(("query", "field"), [
    ({"organization_id": "x"}, "organization_id"),
    ({"organization_id": "0"}, "organization_id"),
    ({"organization_id": ""}, "organization_id"),
    ({"organization": "1"}, "organization"),
])
def test_a_bad_funds_query_is_422_naming_it(api: ApiClient, query: dict[str, str], field: str) -> None:
    assert_problem(internal_get(api, "/funds/internal/v1/funds", query_string=query), 422, field)


def test_an_organization_with_its_management_cost_limit(api: ApiClient, make: Factory) -> None:
    organization = make.organization("铜陵市慈善会")
    foundation = assert_ok(api.post("/funds/api/v1/organizations", json={
        "name": "铜陵市慈善基金会", "kind": "other", "charity_kind": "foundation"}), 201)

    assert assert_ok(internal_get(api, f"/funds/internal/v1/organizations/{organization['id']}")) == {
        "id": organization["id"], "name": "铜陵市慈善会", "kind": "chamber_of_commerce",
        "charity_kind": "social_organization", "management_cost_limit_percent": 13}
    assert assert_ok(internal_get(api, f"/funds/internal/v1/organizations/{foundation['id']}")) == {
        "id": foundation["id"], "name": "铜陵市慈善基金会", "kind": "other", "charity_kind": "foundation",
        "management_cost_limit_percent": 10}

    assert_ok(api.patch(f"/funds/api/v1/organizations/{organization['id']}", json={"charity_kind": "foundation"}))
    changed = assert_ok(internal_get(api, f"/funds/internal/v1/organizations/{organization['id']}"))
    assert (changed["charity_kind"], changed["management_cost_limit_percent"]) == ("foundation", 10)


@pytest.mark.parametrize("organization_id", ["999999", str(2**31), str(10**30), "0", "-1", "x"])
def test_an_unknown_organization_is_404(api: ApiClient, organization_id: str) -> None:
    assert_problem(internal_get(api, f"/funds/internal/v1/organizations/{organization_id}"), 404)


@pytest.mark.parametrize("path", ["/funds/internal/v1/funds", "/funds/internal/v1/organizations/1"])
@pytest.mark.parametrize("token", [None, "wrong"])
def test_the_listings_need_the_internal_token(api: ApiClient, make: Factory, path: str, token: str | None) -> None:
    make.fund(make.organization()["id"])
    headers = {} if token is None else {"X-Internal-Token": token}
    assert_problem(api.get(path, headers=headers), 401)  # an admin key is not the internal token


# -- each service prunes its expired Idempotency-Keys ----------------------------------

@pytest.fixture
def owner(database_url: str) -> Any:
    with psycopg.connect(database_dsn(database_url), autocommit=True) as connection:
        yield connection


def make_older(owner: psycopg.Connection[Any], service: str, key: str, hours: float) -> None:
    owner.execute(f"UPDATE {service}.idempotency_key SET created_at = created_at - %s WHERE key = %s",
                  (dt.timedelta(hours=hours), key))


def keys(owner: psycopg.Connection[Any], service: str) -> list[str]:
    return [row[0] for row in owner.execute(f"SELECT key FROM {service}.idempotency_key ORDER BY key")]


def organization_with_key(api: ApiClient, key: str) -> Any:
    return api.post("/funds/api/v1/organizations", json={"name": f"商会-{key}", "kind": "other"},
                    headers={"Idempotency-Key": key})


def donation_with_key(api: ApiClient, fund_code: str, key: str) -> Any:
    body = {"fund_code": fund_code, "amount": "100.00", "currency": "CNY",
            "donor": {"name": "铜陵某某有限公司", "kind": "enterprise", "anonymous": False},
            "received_on": "2026-08-03", "channel": "bank"}
    return api.post("/donations/api/v1/donations", json=body, headers={"Idempotency-Key": key})


def test_the_funds_service_forgets_only_its_expired_keys(api: ApiClient, owner: psycopg.Connection[Any]) -> None:
    for key in ("expired", "kept-47h", "fresh"):
        assert_ok(organization_with_key(api, key), 201)
    make_older(owner, "funds", "expired", 49)
    make_older(owner, "funds", "kept-47h", 47)  # kept at least 24 hours, by the contract; 48 here

    assert assert_ok(internal_post(api, "/funds/internal/v1/idempotency/prune")) == {"pruned": 1}

    assert keys(owner, "funds") == ["fresh", "kept-47h"]
    assert organization_with_key(api, "kept-47h").headers.get("Idempotent-Replayed") == "true"
    # A forgotten key is a new request: this one finds its name taken by the first.
    retried = organization_with_key(api, "expired")
    assert retried.status_code == 409 and "Idempotent-Replayed" not in retried.headers
    assert assert_ok(internal_post(api, "/funds/internal/v1/idempotency/prune")) == {"pruned": 0}


def test_the_donations_service_forgets_only_its_expired_keys(api: ApiClient, make: Factory,
                                                             owner: psycopg.Connection[Any]) -> None:
    fund = make.fund(make.organization()["id"])["code"]
    for key in ("expired-1", "expired-2", "fresh"):
        assert_ok(donation_with_key(api, fund, key), 201)
    assert_ok(organization_with_key(api, "a-funds-key"), 201)
    for key in ("expired-1", "expired-2"):
        make_older(owner, "donations", key, 72)
    make_older(owner, "funds", "a-funds-key", 72)

    assert assert_ok(internal_post(api, "/donations/internal/v1/idempotency/prune")) == {"pruned": 2}

    assert keys(owner, "donations") == ["fresh"]
    assert keys(owner, "funds") == ["a-funds-key"]  # each service prunes its own
    assert donation_with_key(api, fund, "fresh").headers.get("Idempotent-Replayed") == "true"
    assert len(assert_ok(api.get("/donations/api/v1/donations"))["items"]) == 3


@pytest.mark.parametrize("service", ["funds", "donations"])
@pytest.mark.parametrize("token", [None, "wrong"])
def test_pruning_needs_the_internal_token(api: ApiClient, owner: psycopg.Connection[Any], service: str,
                                          token: str | None) -> None:
    assert_ok(organization_with_key(api, "old"), 201)
    make_older(owner, "funds", "old", 72)
    headers = {} if token is None else {"X-Internal-Token": token}

    assert_problem(api.post(f"/{service}/internal/v1/idempotency/prune", headers=headers), 401)

    assert keys(owner, "funds") == ["old"]
