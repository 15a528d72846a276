"""The funds service's public API, /funds/api/v1, exercised over HTTP through
the gateway as an integrator would (API.md, "Conventions" and "Funds service")."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from werkzeug.test import Client, TestResponse

from conftest import ADMIN_KEY, ApiClient, Factory
from helpers import assert_ok, assert_problem, has_offset

API = "/funds/api/v1"
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


# -- helpers -----------------------------------------------------------------

def fund_body(organization_id: int, code: str = "TL-HQ-001", **fields: Any) -> dict[str, Any]:
    return {"code": code, "name": "铜陵市慈善基金", "kind": "chamber_named",
            "organization_id": organization_id, "purpose": "助学助困", "restricted": False, **fields}


def codes(response: TestResponse) -> list[str]:
    page = assert_ok(response)
    assert set(page) == {"items", "next_cursor"}
    return [fund["code"] for fund in page["items"]]


def all_fund_codes(api: ApiClient) -> list[str]:
    return codes(api.get(f"{API}/funds?limit=500"))


def organization_with_key(make: Factory, api: ApiClient, scopes: list[str] | None = None,
                          ) -> tuple[dict[str, Any], ApiClient]:
    organization = make.organization()
    return organization, api.with_key(make.api_key(organization["id"], scopes))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def every_row_as_text(engine: Engine) -> list[str]:
    """Every row of every service table, each rendered as one text."""
    with engine.connect() as connection:
        tables = connection.execute(text(
            "SELECT schemaname, tablename FROM pg_tables "
            "WHERE schemaname IN ('funds', 'donations', 'reports')")).all()
        return [row for schema, table in tables
                for row in connection.execute(text(f'SELECT t::text FROM "{schema}"."{table}" AS t')).scalars()]


# -- organisations -------------------------------------------------------------

def test_admin_creates_and_reads_an_organization(api: ApiClient) -> None:
    body = {"name": "铜陵市工商业联合会", "kind": "federation"}
    created = assert_ok(api.post(f"{API}/organizations", json=body), 201)
    assert created["name"] == "铜陵市工商业联合会"
    assert created["kind"] == "federation"
    assert isinstance(created["id"], int)
    assert has_offset(created["created_at"])

    assert assert_ok(api.get(f"{API}/organizations/{created['id']}")) == created
    listed = assert_ok(api.get(f"{API}/organizations"))
    assert created in listed["items"]
    assert listed["next_cursor"] is None


@pytest.mark.parametrize("kind", ["township", "chamber_of_commerce", "federation", "other"])
def test_every_organization_kind_is_accepted(api: ApiClient, kind: str) -> None:
    created = assert_ok(api.post(f"{API}/organizations", json={"name": f"组织-{kind}", "kind": kind}), 201)
    assert created["kind"] == kind


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "商会", "kind": "club"}, "kind"),
    ({"name": "商会"}, "kind"),
    ({"name": "", "kind": "other"}, "name"),
    ({"name": "商\u0000会", "kind": "other"}, "name"),
    ({"name": "商会\ud83d", "kind": "other"}, "name"),
    ({"name": "   ", "kind": "other"}, "name"),
    ({"kind": "other"}, "name"),
    ({"name": 42, "kind": "other"}, "name"),
    ({"name": "商会", "kind": "other", "colour": "red"}, "colour"),
])
def test_organization_validation(api: ApiClient, body: dict[str, Any], field: str) -> None:
    before = assert_ok(api.get(f"{API}/organizations"))["items"]
    assert_problem(api.post(f"{API}/organizations", json=body), 422, field)
    assert assert_ok(api.get(f"{API}/organizations"))["items"] == before


def test_an_organization_is_a_social_organization_unless_it_says_otherwise(api: ApiClient) -> None:
    plain = assert_ok(api.post(f"{API}/organizations", json={"name": "铜陵市慈善会", "kind": "other"}), 201)
    foundation = assert_ok(api.post(f"{API}/organizations", json={
        "name": "铜陵市慈善基金会", "kind": "other", "charity_kind": "foundation"}), 201)

    assert plain["charity_kind"] == "social_organization"
    assert foundation["charity_kind"] == "foundation"
    for organization in (plain, foundation):
        assert assert_ok(api.get(f"{API}/organizations/{organization['id']}")) == organization
        assert organization in assert_ok(api.get(f"{API}/organizations"))["items"]


@pytest.mark.parametrize("charity_kind", ["trust", "Foundation", "", None, 10, ["foundation"]])
def test_an_unknown_charity_kind_is_422_naming_it(api: ApiClient, charity_kind: Any) -> None:
    before = assert_ok(api.get(f"{API}/organizations"))["items"]
    body = {"name": "某基金会", "kind": "other", "charity_kind": charity_kind}
    problem = assert_problem(api.post(f"{API}/organizations", json=body), 422, "charity_kind")
    assert list(problem["errors"]) == ["charity_kind"]
    assert assert_ok(api.get(f"{API}/organizations"))["items"] == before


def test_an_admin_changes_an_organizations_charity_kind(api: ApiClient, make: Factory) -> None:
    organization = make.organization("铜陵市慈善基金会")
    path = f"{API}/organizations/{organization['id']}"

    changed = assert_ok(api.patch(path, json={"charity_kind": "foundation"}))
    assert changed == {**organization, "charity_kind": "foundation"}
    assert assert_ok(api.get(path)) == changed
    assert assert_ok(api.patch(path, json={})) == changed  # nothing sent, nothing changes
    assert assert_ok(api.patch(path, json={"charity_kind": "social_organization"}))["charity_kind"] == \
        "social_organization"


@pytest.mark.parametrize(("body", "field"), [
    ({"charity_kind": "trust"}, "charity_kind"),
    ({"charity_kind": None}, "charity_kind"),
    ({"name": "改名"}, "name"),
    ({"kind": "township"}, "kind"),
])
def test_changing_an_organization_validates_what_is_sent(api: ApiClient, make: Factory, body: dict[str, Any],
                                                         field: str) -> None:
    organization = make.organization()
    assert_problem(api.patch(f"{API}/organizations/{organization['id']}", json=body), 422, field)
    assert assert_ok(api.get(f"{API}/organizations/{organization['id']}")) == organization


def test_only_an_admin_changes_an_organization_and_only_one_that_exists(api: ApiClient, make: Factory) -> None:
    organization, client = organization_with_key(
        make, api, ["funds:read", "funds:write", "donations:read", "donations:write", "disbursements:approve",
                    "reports:read"])
    path = f"{API}/organizations/{organization['id']}"
    assert_problem(client.patch(path, json={"charity_kind": "foundation"}), 403)
    assert assert_ok(api.get(path))["charity_kind"] == "social_organization"
    assert_problem(api.patch(f"{API}/organizations/999999", json={"charity_kind": "foundation"}), 404)


def test_organization_names_are_unique(api: ApiClient, make: Factory) -> None:
    make.organization("铜陵市浙江商会")
    assert_problem(api.post(f"{API}/organizations", json={"name": "铜陵市浙江商会", "kind": "other"}), 409)


def test_a_key_sees_only_its_own_organization(api: ApiClient, make: Factory) -> None:
    own, client = organization_with_key(make, api)
    other = make.organization()

    listed = assert_ok(client.get(f"{API}/organizations"))
    assert [organization["id"] for organization in listed["items"]] == [own["id"]]
    assert assert_ok(client.get(f"{API}/organizations/{own['id']}")) == own
    foreign = assert_problem(client.get(f"{API}/organizations/{other['id']}"), 404)
    missing = assert_problem(client.get(f"{API}/organizations/999999"), 404)
    assert foreign["type"] == missing["type"] and foreign["title"] == missing["title"]


@pytest.mark.parametrize("organization_id", [999999, 2**31, 2**63, 10**30])
def test_unknown_organization_is_404(api: ApiClient, make: Factory, organization_id: int) -> None:
    assert_problem(api.get(f"{API}/organizations/{organization_id}"), 404)
    assert_problem(api.post(f"{API}/organizations/{organization_id}/api-keys",
                            json={"name": "x", "scopes": ["funds:read"]}), 404)
    assert_problem(api.get(f"{API}/organizations/{organization_id}/api-keys"), 404)
    assert_problem(api.delete(f"{API}/organizations/{organization_id}/api-keys/1"), 404)
    organization = make.organization()
    assert_problem(api.delete(f"{API}/organizations/{organization['id']}/api-keys/{organization_id}"), 404)


def test_only_admin_manages_organizations_and_keys(api: ApiClient, make: Factory) -> None:
    organization, client = organization_with_key(
        make, api, ["funds:read", "funds:write", "donations:read", "donations:write",
                    "disbursements:approve", "reports:read"])
    key_id = assert_ok(api.get(f"{API}/organizations/{organization['id']}/api-keys"))["items"][0]["id"]

    assert_problem(client.post(f"{API}/organizations", json={"name": "新商会", "kind": "other"}), 403)
    assert_problem(client.post(f"{API}/organizations/{organization['id']}/api-keys",
                               json={"name": "mine", "scopes": ["funds:read"]}), 403)
    assert_problem(client.get(f"{API}/organizations/{organization['id']}/api-keys"), 403)
    assert_problem(client.delete(f"{API}/organizations/{organization['id']}/api-keys/{key_id}"), 403)

    names = [o["name"] for o in assert_ok(api.get(f"{API}/organizations?limit=500"))["items"]]
    assert "新商会" not in names
    keys = assert_ok(api.get(f"{API}/organizations/{organization['id']}/api-keys"))["items"]
    assert [(key["id"], key["revoked_at"]) for key in keys] == [(key_id, None)]


# -- API keys -------------------------------------------------------------------

def test_issued_key_is_shown_once_and_works(api: ApiClient, make: Factory, engine: Engine) -> None:
    organization = make.organization()
    response = api.post(f"{API}/organizations/{organization['id']}/api-keys",
                        json={"name": "财务系统对接", "scopes": ["funds:read", "funds:write"]})
    issued = assert_ok(response, 201)
    secret = issued["key"]
    assert isinstance(secret, str) and len(secret) >= 32
    assert isinstance(issued["id"], int)
    assert sorted(issued["scopes"]) == ["funds:read", "funds:write"]

    me = assert_ok(api.with_key(secret).get(f"{API}/me"))
    assert me["organization_id"] == organization["id"]

    listing = api.get(f"{API}/organizations/{organization['id']}/api-keys")
    keys = assert_ok(listing)["items"]
    assert [key["id"] for key in keys] == [issued["id"]]
    assert "key" not in keys[0]
    assert keys[0]["name"] == "财务系统对接"
    assert keys[0]["revoked_at"] is None
    assert secret not in listing.get_data(as_text=True)

    rows = every_row_as_text(engine)
    assert any(str(issued["id"]) in row and "财务系统对接" in row for row in rows)
    assert not [row for row in rows if secret in row], "the secret is stored in clear"


def test_key_secret_is_not_stored_when_issued_with_an_idempotency_key(
        api: ApiClient, make: Factory, engine: Engine) -> None:
    organization = make.organization()
    response = api.post(f"{API}/organizations/{organization['id']}/api-keys",
                        json={"name": "重试", "scopes": ["funds:read"]},
                        headers={"Idempotency-Key": "issue-key-1"})
    issued = assert_ok(response, 201)
    assert not [row for row in every_row_as_text(engine) if issued["key"] in row], "the secret is stored in clear"

    # A retry cannot be answered with the secret again (it is not kept): it is
    # refused, and no second key is issued.
    retry = assert_problem(api.post(f"{API}/organizations/{organization['id']}/api-keys",
                                    json={"name": "重试", "scopes": ["funds:read"]},
                                    headers={"Idempotency-Key": "issue-key-1"}), 409)
    assert issued["key"] not in json.dumps(retry)
    assert_problem(api.post(f"{API}/organizations/{organization['id']}/api-keys",
                            json={"name": "另一个", "scopes": ["funds:read"]},
                            headers={"Idempotency-Key": "issue-key-1"}), 422, "Idempotency-Key")
    keys = assert_ok(api.get(f"{API}/organizations/{organization['id']}/api-keys"))["items"]
    assert [key["id"] for key in keys] == [issued["id"]]


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "scopes": []}, "scopes"),
    ({"name": "x", "scopes": "funds:read"}, "scopes"),
    ({"name": "x"}, "scopes"),
    ({"name": "", "scopes": ["funds:read"]}, "name"),
    ({"name": "\u0000", "scopes": ["funds:read"]}, "name"),
    ({"name": "x", "scopes": ["funds:read"], "expires": "never"}, "expires"),
])
def test_api_key_validation(api: ApiClient, make: Factory, body: dict[str, Any], field: str) -> None:
    organization = make.organization()
    assert_problem(api.post(f"{API}/organizations/{organization['id']}/api-keys", json=body), 422, field)
    assert assert_ok(api.get(f"{API}/organizations/{organization['id']}/api-keys"))["items"] == []


def test_api_key_with_an_unknown_scope_is_refused(api: ApiClient, make: Factory) -> None:
    organization = make.organization()
    problem = assert_problem(api.post(f"{API}/organizations/{organization['id']}/api-keys",
                                      json={"name": "x", "scopes": ["funds:read", "root"]}), 422)
    assert any(field == "scopes" or field.startswith("scopes.") for field in problem["errors"]), problem


def test_revoked_key_is_refused_at_once(api: ApiClient, make: Factory) -> None:
    organization = make.organization()
    issued = assert_ok(api.post(f"{API}/organizations/{organization['id']}/api-keys",
                                json={"name": "to revoke", "scopes": ["funds:read"]}), 201)
    client = api.with_key(issued["key"])
    assert_ok(client.get(f"{API}/funds"))

    response = api.delete(f"{API}/organizations/{organization['id']}/api-keys/{issued['id']}")
    assert response.status_code == 204, response.get_data(as_text=True)
    assert response.get_data() == b""

    assert_problem(client.get(f"{API}/funds"), 401)
    assert_problem(client.get(f"{API}/me"), 401)
    (key,) = assert_ok(api.get(f"{API}/organizations/{organization['id']}/api-keys"))["items"]
    assert key["id"] == issued["id"] and has_offset(key["revoked_at"])


def test_revoking_a_key_of_another_organization_or_a_missing_key_is_404(api: ApiClient, make: Factory) -> None:
    first, second = make.organization(), make.organization()
    secret = make.api_key(first["id"], ["funds:read"])
    (key,) = assert_ok(api.get(f"{API}/organizations/{first['id']}/api-keys"))["items"]

    assert_problem(api.delete(f"{API}/organizations/{second['id']}/api-keys/{key['id']}"), 404)
    assert_problem(api.delete(f"{API}/organizations/{first['id']}/api-keys/999999"), 404)
    assert_ok(api.with_key(secret).get(f"{API}/funds"))


# -- authentication and scopes ---------------------------------------------------

@pytest.mark.parametrize("authorization", [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Basic YWRtaW46YWRtaW4=",
    f"Token {ADMIN_KEY}",
    ADMIN_KEY,
    "Bearer cfk_this-key-was-never-issued",
    f"Bearer {ADMIN_KEY}x",
])
def test_missing_malformed_or_unknown_key_is_401(api: ApiClient, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    anonymous = api.with_key(None)
    assert_problem(anonymous.get(f"{API}/funds", headers=headers), 401)
    assert_problem(anonymous.get(f"{API}/organizations", headers=headers), 401)
    assert_problem(anonymous.post(f"{API}/funds", json=fund_body(1), headers=headers), 401)


def test_unauthenticated_write_records_nothing(api: ApiClient, make: Factory) -> None:
    organization = make.organization()
    assert_problem(api.with_key(None).post(f"{API}/funds", json=fund_body(organization["id"])), 401)
    assert_problem(api.with_key("cfk_unknown").post(f"{API}/organizations",
                                                   json={"name": "无钥匙", "kind": "other"}), 401)
    assert all_fund_codes(api) == []


def test_read_only_key_lists_but_cannot_write(api: ApiClient, make: Factory) -> None:
    organization, auditor = organization_with_key(make, api, ["funds:read"])
    fund = make.fund(organization["id"], "AUD-001")
    path = f"{API}/funds/{fund['code']}"

    assert codes(auditor.get(f"{API}/funds")) == ["AUD-001"]
    assert assert_ok(auditor.get(path)) == fund
    assert_problem(auditor.post(f"{API}/funds", json=fund_body(organization["id"], "AUD-002")), 403)
    assert_problem(auditor.patch(path, json={"name": "改名"}), 403)
    for action in ("freeze", "unfreeze", "close"):
        assert_problem(auditor.post(f"{path}/{action}"), 403)

    assert all_fund_codes(api) == ["AUD-001"]
    assert assert_ok(api.get(path)) == fund


def test_key_without_funds_read_cannot_list(api: ApiClient, make: Factory) -> None:
    _, client = organization_with_key(make, api, ["donations:read"])
    assert_problem(client.get(f"{API}/funds"), 403)
    assert_problem(client.get(f"{API}/organizations"), 403)


def test_key_without_funds_write_cannot_create_funds(api: ApiClient, make: Factory) -> None:
    organization, client = organization_with_key(make, api, ["funds:read", "donations:write"])
    assert_problem(client.post(f"{API}/funds", json=fund_body(organization["id"])), 403)
    assert all_fund_codes(api) == []


# -- funds: create and read ---------------------------------------------------------

def test_create_fund_returns_the_fund(api: ApiClient, make: Factory) -> None:
    organization, client = organization_with_key(make, api)
    response = client.post(f"{API}/funds", json=fund_body(organization["id"], restricted=True))
    fund = assert_ok(response, 201)
    assert {key: fund[key] for key in ("code", "name", "kind", "organization_id", "purpose", "restricted",
                                       "status")} == {
        "code": "TL-HQ-001", "name": "铜陵市慈善基金", "kind": "chamber_named",
        "organization_id": organization["id"], "purpose": "助学助困", "restricted": True, "status": "active"}
    assert dt.date.fromisoformat(fund["opened_on"]) in {
        dt.datetime.now(SHANGHAI).date(), dt.datetime.now(SHANGHAI).date() - dt.timedelta(days=1)}
    assert has_offset(fund["created_at"])

    assert assert_ok(client.get(f"{API}/funds/TL-HQ-001")) == fund
    assert assert_ok(api.get(f"{API}/funds/TL-HQ-001")) == fund
    assert codes(client.get(f"{API}/funds")) == ["TL-HQ-001"]


def test_create_fund_with_defaults_and_opened_on(api: ApiClient, make: Factory) -> None:
    organization = make.organization()
    body = {"code": "GEN-1", "name": "综合基金", "kind": "general", "organization_id": organization["id"],
            "opened_on": "2026-01-15"}
    fund = assert_ok(api.post(f"{API}/funds", json=body), 201)
    assert fund["restricted"] is False
    assert fund["purpose"] == ""
    assert fund["opened_on"] == "2026-01-15"


@pytest.mark.parametrize("kind", ["township_named", "chamber_named", "general"])
def test_every_fund_kind_is_accepted(api: ApiClient, make: Factory, kind: str) -> None:
    organization = make.organization()
    assert assert_ok(api.post(f"{API}/funds", json=fund_body(organization["id"], kind=kind)), 201)["kind"] == kind


@pytest.mark.parametrize("code", ["ABC", "TL-HQ-001", "0-9", "A" * 32, "---", "2026"])
def test_valid_fund_codes(api: ApiClient, make: Factory, code: str) -> None:
    organization = make.organization()
    assert assert_ok(api.post(f"{API}/funds", json=fund_body(organization["id"], code)), 201)["code"] == code
    assert assert_ok(api.get(f"{API}/funds/{code}"))["code"] == code


@pytest.mark.parametrize("code", ["NO-SUCH-FUND", "tl-hq-001", "A%00B", "%E5%9F%BA%E9%87%91", "A" * 300])
def test_unknown_fund_is_404(api: ApiClient, code: str) -> None:
    assert_problem(api.get(f"{API}/funds/{code}"), 404)
    assert_problem(api.patch(f"{API}/funds/{code}", json={"name": "x"}), 404)
    for action in ("freeze", "unfreeze", "close"):
        assert_problem(api.post(f"{API}/funds/{code}/{action}"), 404)


CHINESE_NAME = "铜陵市𠮷祥商会·爱心助学基金（第二期）"
CHINESE_PURPOSE = "资助贫困学生：学费、住宿费；“一对一”帮扶！（不含行政费用）　全角空格、〇、㐀、𠀋、𪚥。"


def test_chinese_names_and_purposes_round_trip_exactly(api: ApiClient, make: Factory, engine: Engine) -> None:
    organization = make.organization("铜陵市𠮷祥商会（筹）")
    assert organization["name"] == "铜陵市𠮷祥商会（筹）"
    assert assert_ok(api.get(f"{API}/organizations/{organization['id']}"))["name"] == "铜陵市𠮷祥商会（筹）"

    fund = assert_ok(api.post(f"{API}/funds", json=fund_body(organization["id"], "JX-001", name=CHINESE_NAME,
                                                             purpose=CHINESE_PURPOSE)), 201)
    assert (fund["name"], fund["purpose"]) == (CHINESE_NAME, CHINESE_PURPOSE)
    read = assert_ok(api.get(f"{API}/funds/JX-001"))
    assert (read["name"], read["purpose"]) == (CHINESE_NAME, CHINESE_PURPOSE)
    (listed,) = assert_ok(api.get(f"{API}/funds", query_string={"q": "𠮷祥"}))["items"]
    assert (listed["name"], listed["purpose"]) == (CHINESE_NAME, CHINESE_PURPOSE)

    with engine.connect() as connection:
        stored = connection.execute(text("SELECT name, purpose FROM funds.fund WHERE code = 'JX-001'")).one()
    assert tuple(stored) == (CHINESE_NAME, CHINESE_PURPOSE)

    patched = assert_ok(api.patch(f"{API}/funds/JX-001", json={"name": "𠮷祥基金", "purpose": "扶老、助残。"}))
    assert (patched["name"], patched["purpose"]) == ("𠮷祥基金", "扶老、助残。")


# -- funds: validation -----------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "field"), [
    ({"code": "tl-hq-001"}, "code"),
    ({"code": "AB"}, "code"),
    ({"code": "A" * 33}, "code"),
    ({"code": "TL HQ 001"}, "code"),
    ({"code": " TL-HQ-001"}, "code"),
    ({"code": "TL_HQ_001"}, "code"),
    ({"code": "铜陵基金"}, "code"),
    ({"code": "ＴＬ－００１"}, "code"),
    ({"code": ""}, "code"),
    ({"code": 12345}, "code"),
    ({"code": None}, "code"),
    ({"code": ["TL-HQ-001"]}, "code"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": None}, "name"),
    ({"name": 7}, "name"),
    ({"name": "名" * 201}, "name"),
    ({"name": "铜陵\u0000基金"}, "name"),
    ({"name": "铜陵\ud800基金"}, "name"),
    ({"kind": "township"}, "kind"),
    ({"kind": "CHAMBER_NAMED"}, "kind"),
    ({"kind": ""}, "kind"),
    ({"restricted": "yes"}, "restricted"),
    ({"restricted": "true"}, "restricted"),
    ({"restricted": 1}, "restricted"),
    ({"restricted": None}, "restricted"),
    ({"organization_id": 2.5}, "organization_id"),
    ({"organization_id": "1"}, "organization_id"),
    ({"organization_id": None}, "organization_id"),
    ({"organization_id": True}, "organization_id"),
    ({"organization_id": 2**31}, "organization_id"),
    ({"organization_id": 2**63}, "organization_id"),
    ({"organization_id": -1}, "organization_id"),
    ({"purpose": 12}, "purpose"),
    ({"purpose": "用" * 2001}, "purpose"),
    ({"purpose": "\u0000"}, "purpose"),
    ({"purpose": "助学\udfff"}, "purpose"),
    ({"opened_on": "2026-13-01"}, "opened_on"),
    ({"status": "frozen"}, "status"),
    ({"balance": "100.00"}, "balance"),
    ({"colour": "red"}, "colour"),
])
def test_create_fund_validation(api: ApiClient, make: Factory, overrides: dict[str, Any], field: str) -> None:
    organization = make.organization()
    body = fund_body(organization["id"])
    body.update(overrides)
    assert_problem(api.post(f"{API}/funds", json=body), 422, field)
    assert all_fund_codes(api) == []


@pytest.mark.parametrize("field", ["code", "name", "kind", "organization_id"])
def test_create_fund_requires(api: ApiClient, make: Factory, field: str) -> None:
    body = fund_body(make.organization()["id"])
    del body[field]
    assert_problem(api.post(f"{API}/funds", json=body), 422, field)
    assert all_fund_codes(api) == []


@pytest.mark.parametrize("body", [[], ["TL-HQ-001"], "TL-HQ-001", 42])
def test_create_fund_with_a_non_object_body_is_refused(api: ApiClient, body: Any) -> None:
    response = api.post(f"{API}/funds", json=body)
    assert response.status_code in (400, 422)
    assert_problem(response, response.status_code)
    assert all_fund_codes(api) == []


TOO_DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("raw", [b"{", b'{"code": "TL-1",}', b"not json", b'{"code": "\xff"}', TOO_DEEP],
                         ids=["unclosed", "trailing-comma", "text", "bad-utf8", "too-deep"])
@pytest.mark.parametrize("idempotency_key", [None, "malformed-1"])
def test_malformed_json_is_400(api: ApiClient, raw: bytes, idempotency_key: str | None) -> None:
    headers = {"Content-Type": "application/json"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    assert_problem(api.post(f"{API}/funds", data=raw, headers=headers), 400)
    assert_problem(api.post(f"{API}/funds", data=raw, headers=headers), 400)
    assert all_fund_codes(api) == []


@pytest.mark.parametrize("raw", [b"{", TOO_DEEP], ids=["unclosed", "too-deep"])
def test_malformed_json_on_patch_and_organizations_is_400(api: ApiClient, make: Factory, raw: bytes) -> None:
    fund = make.fund(make.organization()["id"], "TL-1")
    headers = {"Content-Type": "application/json"}
    assert_problem(api.patch(f"{API}/funds/TL-1", data=raw, headers=headers), 400)
    assert_problem(api.post(f"{API}/organizations", data=raw, headers=headers), 400)
    assert_problem(api.post(f"{API}/organizations/{fund['organization_id']}/api-keys", data=raw, headers=headers),
                   400)
    assert assert_ok(api.get(f"{API}/funds/TL-1")) == fund


def test_duplicate_code_is_409_naming_code(api: ApiClient, make: Factory) -> None:
    first, second = make.organization(), make.organization()
    original = make.fund(first["id"], "TL-HQ-001")
    assert_problem(api.post(f"{API}/funds", json=fund_body(first["id"], name="另一个")), 409, "code")
    assert_problem(api.post(f"{API}/funds", json=fund_body(second["id"], name="另一个")), 409, "code")
    assert all_fund_codes(api) == ["TL-HQ-001"]
    assert assert_ok(api.get(f"{API}/funds/TL-HQ-001")) == original


def test_creating_a_fund_for_another_organization_is_422(api: ApiClient, make: Factory) -> None:
    _, client = organization_with_key(make, api)
    other = make.organization()
    foreign = assert_problem(client.post(f"{API}/funds", json=fund_body(other["id"])), 422, "organization_id")
    missing = assert_problem(client.post(f"{API}/funds", json=fund_body(999999)), 422, "organization_id")
    # Another organisation is answered exactly like one that does not exist.
    assert foreign["errors"] == missing["errors"]
    assert all_fund_codes(api) == []


def test_admin_creating_a_fund_for_a_missing_organization_is_422(api: ApiClient) -> None:
    assert_problem(api.post(f"{API}/funds", json=fund_body(999999)), 422, "organization_id")


# -- funds: another organisation's fund is invisible ---------------------------------

def test_another_organizations_fund_is_404(api: ApiClient, make: Factory) -> None:
    _, client = organization_with_key(make, api)
    other = make.organization()
    fund = make.fund(other["id"], "OTHER-001")
    path = f"{API}/funds/OTHER-001"

    foreign = assert_problem(client.get(path), 404)
    missing = assert_problem(client.get(f"{API}/funds/NOPE-001"), 404)
    assert (foreign["type"], foreign["title"]) == (missing["type"], missing["title"])
    assert_problem(client.patch(path, json={"name": "抢注"}), 404)
    for action in ("freeze", "unfreeze", "close"):
        assert_problem(client.post(f"{path}/{action}"), 404)

    assert codes(client.get(f"{API}/funds")) == []
    assert codes(client.get(f"{API}/funds", query_string={"organization_id": other["id"]})) == []
    assert codes(client.get(f"{API}/funds", query_string={"q": "OTHER"})) == []
    assert assert_ok(api.get(path)) == fund


# -- funds: lists, filters, pagination --------------------------------------------------

@pytest.fixture
def two_organizations_funds(api: ApiClient, make: Factory) -> dict[str, Any]:
    """Two organisations; funds of each kind and status, made in this order."""
    township = make.organization("义安区", kind="township")
    chamber = make.organization("铜陵市温州商会")
    make.fund(township["id"], "YA-001", name="义安区教育基金", kind="township_named")
    make.fund(chamber["id"], "WZ-001", name="温州商会助学基金", kind="chamber_named", purpose="助学")
    make.fund(chamber["id"], "WZ-002", name="温州商会扶贫基金", kind="chamber_named")
    make.fund(township["id"], "GEN-001", name="综合慈善基金", kind="general")
    assert_ok(api.post(f"{API}/funds/WZ-002/freeze"))
    make.fund(chamber["id"], "WZ-003", name="温州商会救灾基金", kind="chamber_named")
    assert_ok(api.post(f"{API}/funds/WZ-003/close"))
    return {"township": township, "chamber": chamber}


@pytest.mark.parametrize(("query", "expected"), [
    ({}, ["WZ-003", "GEN-001", "WZ-002", "WZ-001", "YA-001"]),
    ({"kind": "chamber_named"}, ["WZ-003", "WZ-002", "WZ-001"]),
    ({"kind": "general"}, ["GEN-001"]),
    ({"status": "active"}, ["GEN-001", "WZ-001", "YA-001"]),
    ({"status": "frozen"}, ["WZ-002"]),
    ({"status": "closed"}, ["WZ-003"]),
    ({"kind": "chamber_named", "status": "active"}, ["WZ-001"]),
    ({"q": "温州"}, ["WZ-003", "WZ-002", "WZ-001"]),
    ({"q": "助学"}, ["WZ-001"]),
    ({"q": "慈善基金"}, ["GEN-001"]),
    ({"q": "教育"}, ["YA-001"]),
    ({"q": "WZ-00"}, ["WZ-003", "WZ-002", "WZ-001"]),
    ({"q": "GEN-001"}, ["GEN-001"]),
    ({"q": "%"}, []),
    ({"q": "_"}, []),
    ({"q": "不存在"}, []),
])
def test_fund_filters(api: ApiClient, two_organizations_funds: dict[str, Any], query: dict[str, Any],
                      expected: list[str]) -> None:
    assert codes(api.get(f"{API}/funds", query_string=query)) == expected


def test_fund_filter_by_organization(api: ApiClient, two_organizations_funds: dict[str, Any]) -> None:
    township, chamber = two_organizations_funds["township"], two_organizations_funds["chamber"]
    assert codes(api.get(f"{API}/funds", query_string={"organization_id": township["id"]})) == [
        "GEN-001", "YA-001"]
    assert codes(api.get(f"{API}/funds", query_string={"organization_id": chamber["id"],
                                                        "status": "active"})) == ["WZ-001"]
    assert codes(api.get(f"{API}/funds", query_string={"organization_id": 999999})) == []


def test_organization_key_lists_only_its_funds(api: ApiClient, make: Factory,
                                               two_organizations_funds: dict[str, Any]) -> None:
    chamber = two_organizations_funds["chamber"]
    client = api.with_key(make.api_key(chamber["id"], ["funds:read"]))
    assert codes(client.get(f"{API}/funds")) == ["WZ-003", "WZ-002", "WZ-001"]
    assert codes(client.get(f"{API}/funds", query_string={"q": "基金"})) == ["WZ-003", "WZ-002", "WZ-001"]
    assert codes(client.get(f"{API}/funds", query_string={"kind": "general"})) == []


@pytest.mark.parametrize(("query", "field"), [
    ({"kind": "club"}, "kind"),
    ({"status": "open"}, "status"),
    ({"organization_id": "abc"}, "organization_id"),
    ({"q": ""}, "q"),
    ({"q": "温州\x00"}, "q"),
    ({"organization_id": "0"}, "organization_id"),
    ({"organization_id": str(2**31)}, "organization_id"),
    ({"organization_id": str(2**63)}, "organization_id"),
    ({"colour": "red"}, "colour"),
])
def test_fund_filter_validation(api: ApiClient, query: dict[str, Any], field: str) -> None:
    assert_problem(api.get(f"{API}/funds", query_string=query), 422, field)


def test_pagination_walks_every_fund_newest_first(api: ApiClient, make: Factory) -> None:
    organization = make.organization()
    made = [make.fund(organization["id"], f"PG-{n:03d}")["code"] for n in range(7)]

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query: dict[str, Any] = {"limit": 3}
        if cursor is not None:
            query["cursor"] = cursor
        page = assert_ok(api.get(f"{API}/funds", query_string=query))
        assert len(page["items"]) <= 3
        seen += [fund["code"] for fund in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and cursor
    assert pages == 3
    assert seen == list(reversed(made))


def test_pagination_ends_with_a_null_cursor(api: ApiClient, make: Factory) -> None:
    organization = make.organization()
    for n in range(3):
        make.fund(organization["id"], f"END-{n}")
    exact = assert_ok(api.get(f"{API}/funds", query_string={"limit": 3}))
    assert [f["code"] for f in exact["items"]] == ["END-2", "END-1", "END-0"]
    assert exact["next_cursor"] is None

    first = assert_ok(api.get(f"{API}/funds", query_string={"limit": 2}))
    assert first["next_cursor"] is not None
    last = assert_ok(api.get(f"{API}/funds", query_string={"limit": 2, "cursor": first["next_cursor"]}))
    assert [f["code"] for f in last["items"]] == ["END-0"]
    assert last["next_cursor"] is None

    assert assert_ok(api.get(f"{API}/funds"))["next_cursor"] is None
    assert assert_ok(api.get(f"{API}/funds", query_string={"q": "NONE"})) == {"items": [],
                                                                              "next_cursor": None}


def test_pagination_keeps_the_filters(api: ApiClient, make: Factory) -> None:
    organization = make.organization()
    for n in range(4):
        make.fund(organization["id"], f"KF-{n}", kind="general" if n % 2 else "chamber_named")
    first = assert_ok(api.get(f"{API}/funds", query_string={"limit": 1, "kind": "general"}))
    second = assert_ok(api.get(f"{API}/funds", query_string={"limit": 1, "kind": "general",
                                                             "cursor": first["next_cursor"]}))
    assert [f["code"] for f in first["items"] + second["items"]] == ["KF-3", "KF-1"]
    assert second["next_cursor"] is None


def test_default_and_largest_limits(api: ApiClient, make: Factory) -> None:
    organization = make.organization()
    for n in range(52):
        make.fund(organization["id"], f"LIM-{n:03d}")
    default = assert_ok(api.get(f"{API}/funds"))
    assert len(default["items"]) == 50 and default["next_cursor"] is not None
    largest = assert_ok(api.get(f"{API}/funds", query_string={"limit": 500}))
    assert len(largest["items"]) == 52 and largest["next_cursor"] is None
    smallest = assert_ok(api.get(f"{API}/funds", query_string={"limit": 1}))
    assert [f["code"] for f in smallest["items"]] == ["LIM-051"]


@pytest.mark.parametrize("path", [f"{API}/funds", f"{API}/organizations"])
@pytest.mark.parametrize("limit", ["0", "501", "-1", "abc", "1.5", ""])
def test_bad_limit_is_422_naming_limit(api: ApiClient, path: str, limit: str) -> None:
    assert_problem(api.get(path, query_string={"limit": limit}), 422, "limit")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("path", [f"{API}/funds", f"{API}/organizations"])
@pytest.mark.parametrize("cursor", [
    "not-a-cursor!", "%%%", "e30", _b64(b"[1]"), _b64(b'{"id": "7"}'), _b64(b'{"id": null}'),
    _b64(b'"x"'), _b64(b"\xff\xfe"), "", _b64(b'{"id": true}'), _b64(b'{"id": 1.5}'), _b64(b'{"id": 0}'),
    _b64(b'{"id": -3}'), _b64(b'{"id": 99999999999999999999}'),
])
def test_bad_cursor_is_422_naming_cursor(api: ApiClient, path: str, cursor: str) -> None:
    assert_problem(api.get(path, query_string={"cursor": cursor}), 422, "cursor")


def test_organizations_paginate(api: ApiClient, make: Factory) -> None:
    made = [make.organization(f"分页组织{n}")["id"] for n in range(3)]
    first = assert_ok(api.get(f"{API}/organizations", query_string={"limit": 2}))
    assert [o["id"] for o in first["items"]] == made[::-1][:2]
    rest = assert_ok(api.get(f"{API}/organizations", query_string={"limit": 2, "cursor": first["next_cursor"]}))
    assert made[0] in [o["id"] for o in rest["items"]]
    ids = [o["id"] for o in first["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)


# -- funds: PATCH ------------------------------------------------------------------------

def test_patch_changes_name_and_purpose(api: ApiClient, make: Factory) -> None:
    organization, client = organization_with_key(make, api)
    fund = make.fund(organization["id"], "PT-001", key=client.key)

    renamed = assert_ok(client.patch(f"{API}/funds/PT-001", json={"name": "新名称基金"}))
    assert renamed["name"] == "新名称基金" and renamed["purpose"] == fund["purpose"]
    repurposed = assert_ok(client.patch(f"{API}/funds/PT-001", json={"purpose": "扶贫济困"}))
    assert repurposed["name"] == "新名称基金" and repurposed["purpose"] == "扶贫济困"
    cleared = assert_ok(client.patch(f"{API}/funds/PT-001", json={"purpose": ""}))
    assert cleared["purpose"] == ""
    unchanged = assert_ok(client.patch(f"{API}/funds/PT-001", json={}))
    assert unchanged["name"] == "新名称基金"

    read = assert_ok(api.get(f"{API}/funds/PT-001"))
    assert read["name"] == "新名称基金" and read["purpose"] == ""
    for field in ("code", "kind", "organization_id", "restricted", "status", "opened_on", "created_at"):
        assert read[field] == fund[field], field


@pytest.mark.parametrize(("body", "field"), [
    ({"status": "closed"}, "status"),
    ({"code": "PT-002"}, "code"),
    ({"kind": "general"}, "kind"),
    ({"restricted": True}, "restricted"),
    ({"organization_id": 1}, "organization_id"),
    ({"opened_on": "2026-01-01"}, "opened_on"),
    ({"name": "好名字", "colour": "red"}, "colour"),
    ({"name": ""}, "name"),
    ({"name": "  "}, "name"),
    ({"name": None}, "name"),
    ({"name": 5}, "name"),
    ({"name": "新\u0000名"}, "name"),
    ({"purpose": ["a"]}, "purpose"),
    ({"purpose": "\ud800"}, "purpose"),
])
def test_patch_validation(api: ApiClient, make: Factory, body: dict[str, Any], field: str) -> None:
    fund = make.fund(make.organization()["id"], "PT-001")
    assert_problem(api.patch(f"{API}/funds/PT-001", json=body), 422, field)
    assert assert_ok(api.get(f"{API}/funds/PT-001")) == fund


# -- funds: freeze, unfreeze, close -------------------------------------------------

def test_fund_lifecycle(api: ApiClient, make: Factory) -> None:
    organization, client = organization_with_key(make, api)
    make.fund(organization["id"], "LC-001")
    path = f"{API}/funds/LC-001"

    frozen = assert_ok(client.post(f"{path}/freeze"))
    assert frozen["status"] == "frozen" and frozen["closed_at"] is None
    assert_problem(client.post(f"{path}/freeze"), 409)
    assert assert_ok(client.patch(path, json={"purpose": "冻结期间可改用途"}))["status"] == "frozen"

    active = assert_ok(client.post(f"{path}/unfreeze"))
    assert active["status"] == "active"
    assert_problem(client.post(f"{path}/unfreeze"), 409)

    assert_ok(client.post(f"{path}/freeze"))
    closed = assert_ok(client.post(f"{path}/close"))
    assert closed["status"] == "closed" and has_offset(closed["closed_at"])
    assert assert_ok(client.get(path)) == closed

    for action in ("freeze", "unfreeze", "close"):
        assert_problem(client.post(f"{path}/{action}"), 409)
    assert_problem(client.patch(path, json={"name": "关闭后改名"}), 409)
    assert assert_ok(client.get(path)) == closed


def test_close_an_active_fund(api: ApiClient, make: Factory) -> None:
    make.fund(make.organization()["id"], "LC-002")
    assert assert_ok(api.post(f"{API}/funds/LC-002/close"))["status"] == "closed"


def test_close_needs_a_zero_balance(api: ApiClient, make: Factory) -> None:
    fund = make.fund(make.organization()["id"], "LC-003")
    make.donation("LC-003", "0.01")
    refused = assert_problem(api.post(f"{API}/funds/LC-003/close"), 409)
    assert "0.01" in refused["detail"]
    assert assert_ok(api.get(f"{API}/funds/LC-003")) == fund


def test_status_change_refuses_get(api: ApiClient, make: Factory) -> None:
    make.fund(make.organization()["id"], "LC-004")
    response = api.get(f"{API}/funds/LC-004/freeze")
    assert_problem(response, 405)
    assert "POST" in response.headers["Allow"]


# -- errors for routes and methods ----------------------------------------------------

@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("DELETE", "/funds", {"GET", "POST"}),
    ("PUT", "/funds", {"GET", "POST"}),
    ("DELETE", "/funds/TL-1", {"GET", "PATCH"}),
    ("POST", "/funds/TL-1", {"GET", "PATCH"}),
    ("PUT", "/organizations", {"GET", "POST"}),
    ("DELETE", "/organizations/1", {"GET"}),
    ("PATCH", "/organizations/1/api-keys", {"GET", "POST"}),
    ("GET", "/organizations/1/api-keys/1", {"DELETE"}),
])
def test_wrong_method_is_405_with_allow(api: ApiClient, method: str, path: str, allowed: set[str]) -> None:
    response = api.request(method, f"{API}{path}", json={})
    assert_problem(response, 405)
    allow = {name.strip() for name in response.headers["Allow"].split(",")}
    assert allowed <= allow


@pytest.mark.parametrize("path", [f"{API}/nope", f"{API}/funds/TL-1/explode", "/funds/api/v2/funds",
                                  f"{API}/organizations/abc"])
def test_unknown_route_is_404_problem(api: ApiClient, path: str) -> None:
    assert_problem(api.get(path), 404)


# -- idempotency --------------------------------------------------------------------

def test_idempotent_fund_creation_replays_the_first_answer(api: ApiClient, make: Factory) -> None:
    organization, client = organization_with_key(make, api)
    body = fund_body(organization["id"], "IDEM-001")
    headers = {"Idempotency-Key": "create-IDEM-001"}
    first = client.post(f"{API}/funds", json=body, headers=headers)
    again = client.post(f"{API}/funds", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.mimetype == "application/json"
    assert all_fund_codes(api) == ["IDEM-001"]


def test_same_idempotency_key_with_another_body_is_422(api: ApiClient, make: Factory) -> None:
    organization, client = organization_with_key(make, api)
    headers = {"Idempotency-Key": "create-once"}
    assert_ok(client.post(f"{API}/funds", json=fund_body(organization["id"], "IDEM-001"), headers=headers), 201)
    assert_problem(client.post(f"{API}/funds", json=fund_body(organization["id"], "IDEM-002"), headers=headers),
                   422, "Idempotency-Key")
    assert_problem(client.post(f"{API}/funds", json=fund_body(organization["id"], "IDEM-001", name="别名"),
                               headers=headers), 422, "Idempotency-Key")
    assert all_fund_codes(api) == ["IDEM-001"]


@pytest.mark.parametrize("key", ["", "k" * 256, "a\x00b"])
def test_idempotency_key_is_checked(api: ApiClient, make: Factory, key: str) -> None:
    organization = make.organization()
    assert_problem(api.post(f"{API}/funds", json=fund_body(organization["id"]), headers={"Idempotency-Key": key}),
                   422, "Idempotency-Key")
    assert_problem(api.post(f"{API}/organizations", json={"name": "长键", "kind": "other"},
                            headers={"Idempotency-Key": key}), 422, "Idempotency-Key")
    assert all_fund_codes(api) == []


@pytest.mark.parametrize("key", ["k", "k" * 255, "重试-𠮷-1"])
def test_idempotency_key_of_1_to_255_characters_is_accepted(api: ApiClient, make: Factory, key: str) -> None:
    organization = make.organization()
    headers = {"Idempotency-Key": key.encode().decode("latin-1")}
    first = assert_ok(api.post(f"{API}/funds", json=fund_body(organization["id"]), headers=headers), 201)
    assert assert_ok(api.post(f"{API}/funds", json=fund_body(organization["id"]), headers=headers), 201) == first
    assert all_fund_codes(api) == [first["code"]]


@pytest.mark.parametrize("key", ["", "k" * 256, "fine-key"])
def test_idempotency_key_without_an_api_key_is_401(api: ApiClient, make: Factory, key: str) -> None:
    organization = make.organization()
    anonymous = api.with_key(None)
    assert_problem(anonymous.post(f"{API}/funds", json=fund_body(organization["id"]),
                                  headers={"Idempotency-Key": key}), 401)
    assert_problem(anonymous.post(f"{API}/organizations", json={"name": "匿名", "kind": "other"},
                                  headers={"Idempotency-Key": key}), 401)
    assert all_fund_codes(api) == []


def test_a_failed_request_is_not_recorded_under_its_key(api: ApiClient, make: Factory) -> None:
    organization = make.organization()
    make.fund(organization["id"], "DUP-001")
    body = fund_body(organization["id"], "DUP-001", name="重复")
    headers = {"Idempotency-Key": "dup-attempt"}
    first = assert_problem(api.post(f"{API}/funds", json=body, headers=headers), 409, "code")
    again = assert_problem(api.post(f"{API}/funds", json=body, headers=headers), 409, "code")
    assert again == first
    invalid = fund_body(organization["id"], "bad code")
    headers = {"Idempotency-Key": "invalid-attempt"}
    assert_problem(api.post(f"{API}/funds", json=invalid, headers=headers), 422, "code")
    assert_problem(api.post(f"{API}/funds", json=invalid, headers=headers), 422, "code")
    assert all_fund_codes(api) == ["DUP-001"]
    assert assert_ok(api.get(f"{API}/funds/DUP-001"))["name"] == "铜陵市慈善基金"


def test_idempotency_keys_are_per_caller(api: ApiClient, make: Factory) -> None:
    first_org, first = organization_with_key(make, api)
    second_org, second = organization_with_key(make, api)
    also_first = api.with_key(make.api_key(first_org["id"]))
    headers = {"Idempotency-Key": "shared-key"}

    a = assert_ok(first.post(f"{API}/funds", json=fund_body(first_org["id"], "PER-A"), headers=headers), 201)
    b = assert_ok(second.post(f"{API}/funds", json=fund_body(second_org["id"], "PER-B"), headers=headers), 201)
    c = assert_ok(also_first.post(f"{API}/funds", json=fund_body(first_org["id"], "PER-C"), headers=headers),
                  201)
    d = assert_ok(api.post(f"{API}/funds", json=fund_body(second_org["id"], "PER-D"), headers=headers), 201)
    assert [f["code"] for f in (a, b, c, d)] == ["PER-A", "PER-B", "PER-C", "PER-D"]
    # Each caller replays its own answer.
    assert assert_ok(second.post(f"{API}/funds", json=fund_body(second_org["id"], "PER-B"), headers=headers),
                     201) == b
    assert sorted(all_fund_codes(api)) == ["PER-A", "PER-B", "PER-C", "PER-D"]


def test_idempotent_organization_creation(api: ApiClient) -> None:
    body = {"name": "铜陵市安徽商会", "kind": "chamber_of_commerce"}
    headers = {"Idempotency-Key": "org-1"}
    first = api.post(f"{API}/organizations", json=body, headers=headers)
    again = api.post(f"{API}/organizations", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert_problem(api.post(f"{API}/organizations", json={**body, "kind": "other"}, headers=headers),
                   422, "Idempotency-Key")
    names = [o["name"] for o in assert_ok(api.get(f"{API}/organizations?limit=500"))["items"]]
    assert names.count("铜陵市安徽商会") == 1


def test_idempotent_retries_racing_record_once(gateway: Any, api: ApiClient, make: Factory) -> None:
    organization = make.organization()
    body = fund_body(organization["id"], "RACE-001")
    answers: list[TestResponse] = []
    lock = threading.Lock()

    def post() -> None:
        response = ApiClient(gateway).post(f"{API}/funds", json=body, headers={"Idempotency-Key": "race"})
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 6
    # Each twin waits for the first to finish, then gets its answer again.
    assert [response.status_code for response in answers] == [201] * 6, [
        response.get_data(as_text=True) for response in answers]
    assert all(response.json == answers[0].json for response in answers)
    assert all_fund_codes(api) == ["RACE-001"]


# -- OpenAPI and docs -------------------------------------------------------------------

CONTRACT = {
    "/api/v1/organizations": {"get", "post"},
    "/api/v1/organizations/{organization_id}": {"get"},
    "/api/v1/organizations/{organization_id}/api-keys": {"post"},
    "/api/v1/organizations/{organization_id}/api-keys/{key_id}": {"delete"},
    "/api/v1/funds": {"get", "post"},
    "/api/v1/funds/{code}": {"get", "patch"},
    "/api/v1/funds/{code}/freeze": {"post"},
    "/api/v1/funds/{code}/unfreeze": {"post"},
    "/api/v1/funds/{code}/close": {"post"},
}


def test_openapi_document_is_valid_and_lists_the_contract(gateway: Any) -> None:
    from schemathesis.specs.openapi.definitions import OPENAPI_30_VALIDATOR

    response = Client(gateway).get("/funds/openapi.json")
    assert response.status_code == 200
    spec = response.json
    assert spec["openapi"].startswith("3.")
    OPENAPI_30_VALIDATOR.validate(spec)
    for path, methods in CONTRACT.items():
        assert path in spec["paths"], sorted(spec["paths"])
        assert methods <= set(spec["paths"][path]), (path, sorted(spec["paths"][path]))
    assert "patch" in spec["paths"]["/api/v1/organizations/{organization_id}"]
    organization = spec["components"]["schemas"]["Organization"]["properties"]
    assert organization["charity_kind"]["enum"] == ["social_organization", "foundation"]
    fund = spec["components"]["schemas"]["Fund"]["properties"]
    assert {"code", "name", "kind", "organization_id", "purpose", "restricted", "status", "opened_on",
            "created_at"} <= set(fund)


def test_docs_are_served_as_html(gateway: Any) -> None:
    response = Client(gateway).get("/funds/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "swagger" in response.get_data(as_text=True).lower()
