"""The donations service's public API, /donations/api/v1, exercised over HTTP
through the gateway as an integrator would (API.md, "Conventions" and
"Donations service"), with the extensions beyond the contract: `amount_in_words`
and `reversal_entry_id` on donations, GET /ledger/heads and /ledger/verify."""

from __future__ import annotations

import base64
import codecs
import datetime as dt
import json
import re
import time
import zoneinfo
from dataclasses import dataclass
from typing import Any

import pytest
from werkzeug.test import TestResponse

from conftest import ApiClient, Factory
from helpers import assert_ok, assert_problem, has_offset

API = "/donations/api/v1"
FUNDS_API = "/funds/api/v1"
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
ANONYMOUS = "匿名"
CSV_HEADER = "fund_code,amount,currency,donor_name,donor_kind,donor_anonymous,received_on,channel,purpose,reference"

# What a donation is, by the contract, and what this service adds to it.
DONATION_FIELDS = {"id", "fund_code", "amount", "currency", "donor", "received_on", "channel", "purpose",
                   "reference", "receipt_no", "status", "created_at"}
DONATION_EXTENSIONS = {"amount_in_words", "reversed_at", "reversal_reason", "reversal_entry_id", "goods"}
DISBURSEMENT_FIELDS = {"id", "fund_code", "amount", "payee", "purpose", "project", "status", "requested_by",
                       "approved_by", "created_at", "decided_at", "paid_on", "bank_reference"}

CLERK_SCOPES = ["funds:read", "donations:read", "donations:write"]
APPROVER_SCOPES = ["donations:read", "disbursements:approve"]


# -- helpers -----------------------------------------------------------------

def this_year() -> int:
    return dt.datetime.now(SHANGHAI).year


def today() -> dt.date:
    return dt.datetime.now(SHANGHAI).date()


def receipt(seq: int) -> str:
    return f"{this_year()}-{seq:06d}"


MISSING = object()


def donation_body(fund_code: str, amount: str = "100.00", /, **overrides: Any) -> dict[str, Any]:
    """A valid donation; an override of MISSING leaves the field out."""
    body: dict[str, Any] = {
        "fund_code": fund_code, "amount": amount, "currency": "CNY",
        "donor": {"name": "铜陵有色金属集团", "kind": "enterprise", "anonymous": False},
        "received_on": "2026-08-03", "channel": "bank"}
    for name, value in overrides.items():
        if value is MISSING:
            body.pop(name, None)
        else:
            body[name] = value
    return body


def donor(name: str = "王秀英", kind: str = "individual", anonymous: bool = False) -> dict[str, Any]:
    return {"name": name, "kind": kind, "anonymous": anonymous}


def donate(client: ApiClient, fund_code: str, amount: str = "100.00", /, **overrides: Any) -> dict[str, Any]:
    return assert_ok(client.post(f"{API}/donations", json=donation_body(fund_code, amount, **overrides)), 201)


def balance(client: ApiClient, code: str) -> tuple[str, str]:
    """(balance, available) of the fund."""
    body = assert_ok(client.get(f"{API}/funds/{code}/balance"))
    return body["balance"], body["available"]


def donation_ids(client: ApiClient, **query: Any) -> list[int]:
    page = assert_ok(client.get(f"{API}/donations", query_string={"limit": 500, **query}))
    assert set(page) == {"items", "next_cursor"}
    assert page["next_cursor"] is None
    return [item["id"] for item in page["items"]]


def request_disbursement(client: ApiClient, code: str, amount: str, **fields: Any) -> dict[str, Any]:
    body = {"fund_code": code, "amount": amount, "payee": "铜陵市第一中学", "purpose": "资助贫困学生学费",
            **fields}
    return assert_ok(client.post(f"{API}/disbursements", json=body), 201)


def pay_body(bank_reference: str = "ICBC-20260901-0001", paid_on: str | None = None) -> dict[str, str]:
    """Paid today: a payment is dated from its approval (today, in a test) to today."""
    return {"paid_on": paid_on or today().isoformat(), "bank_reference": bank_reference}


def accounts(client: ApiClient, **query: Any) -> dict[str, tuple[str, str]]:
    """The trial balance as {account: (debit, credit)}, checking that it balances."""
    body = assert_ok(client.get(f"{API}/trial-balance", query_string=query))
    assert body["total_debits"] == body["total_credits"], body
    names = [row["account"] for row in body["accounts"]]
    assert len(names) == len(set(names)), names
    return {row["account"]: (row["debit"], row["credit"]) for row in body["accounts"]}


def batch_json(client: ApiClient, rows: Any, **kwargs: Any) -> TestResponse:
    return client.post(f"{API}/donations/batch", json=rows, **kwargs)


def batch_csv(client: ApiClient, content: str | bytes, content_type: str = "text/csv; charset=utf-8",
              **kwargs: Any) -> TestResponse:
    data = content.encode() if isinstance(content, str) else content
    headers = {"Content-Type": content_type, **kwargs.pop("headers", {})}
    return client.post(f"{API}/donations/batch", data=data, headers=headers, **kwargs)


def csv_row(fund_code: str, amount: str = "100.00", *, donor_name: str = "铜陵有色金属集团",
            donor_kind: str = "enterprise", anonymous: str = "false", received_on: str = "2026-08-03",
            channel: str = "bank", purpose: str = "", reference: str = "") -> str:
    return ",".join([fund_code, amount, "CNY", donor_name, donor_kind, anonymous, received_on, channel,
                     purpose, reference])


def results(response: TestResponse) -> list[dict[str, Any]]:
    body = assert_ok(response)
    assert set(body) == {"results"}
    return body["results"]  # type: ignore[no-any-return]


def statuses(response: TestResponse) -> list[tuple[int, str]]:
    return [(result["row"], result["status"]) for result in results(response)]


def set_fund_status(api: ApiClient, code: str, action: str) -> TestResponse:
    """freeze, unfreeze or close, through the funds service with the admin key."""
    return api.post(f"{FUNDS_API}/funds/{code}/{action}")


def wait_for_fund_status(gateway: Any) -> None:
    """The donations service trusts what the funds service said about a fund
    for at most `auth_cache_seconds`; after that a status change is seen."""
    time.sleep(gateway.apps["donations"].config["SETTINGS"].auth_cache_seconds + 0.2)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass
class Org:
    """An organisation with a fund, a clerk's key and an approver's key."""

    id: int
    fund: str
    clerk: ApiClient
    approver: ApiClient


def make_org(api: ApiClient, make: Factory, *, restricted: bool = False, code: str | None = None) -> Org:
    organization = make.organization()
    fund = make.fund(organization["id"], code, restricted=restricted)
    clerk = api.with_key(make.api_key(organization["id"], CLERK_SCOPES, "出纳"))
    approver = api.with_key(make.api_key(organization["id"], APPROVER_SCOPES, "审批人"))
    return Org(organization["id"], fund["code"], clerk, approver)


@pytest.fixture
def org(api: ApiClient, make: Factory) -> Org:
    return make_org(api, make, code="TL-HQ-001")


@pytest.fixture
def other(api: ApiClient, make: Factory) -> Org:
    """A second organisation, whose funds and records the first must not see."""
    return make_org(api, make, code="WZ-001")


# -- POST /donations -------------------------------------------------------------

def test_recording_a_donation_answers_the_donation(org: Org) -> None:
    body = donation_body(org.fund, "1280.00", purpose="助学", reference="ERP-2026-0001",
                         donor=donor("铜陵某某有限公司", "enterprise"), channel="wechat")
    response = org.clerk.post(f"{API}/donations", json=body)
    created = assert_ok(response, 201)

    assert set(created) == DONATION_FIELDS | DONATION_EXTENSIONS
    assert isinstance(created["id"], int) and created["id"] > 0
    assert {name: created[name] for name in DONATION_FIELDS - {"id", "created_at"}} == {
        "fund_code": org.fund, "amount": "1280.00", "currency": "CNY",
        "donor": {"name": "铜陵某某有限公司", "kind": "enterprise", "anonymous": False},
        "received_on": "2026-08-03", "channel": "wechat", "purpose": "助学", "reference": "ERP-2026-0001",
        "receipt_no": receipt(1), "status": "recorded"}
    assert created["amount_in_words"] == "壹仟贰佰捌拾元整"
    assert (created["reversed_at"], created["reversal_reason"], created["reversal_entry_id"]) == (None, None, None)
    assert has_offset(created["created_at"])
    assert assert_ok(org.clerk.get(f"{API}/donations/{created['id']}")) == created
    assert balance(org.clerk, org.fund) == ("1280.00", "1280.00")


def test_optional_fields_default(org: Org) -> None:
    created = donate(org.clerk, org.fund, "0.01")
    assert (created["purpose"], created["reference"]) == ("", None)
    assert created["amount_in_words"] == "壹分"
    assert created["donor"]["anonymous"] is False
    body = donation_body(org.fund, donor={"name": "李四", "kind": "individual"})
    assert assert_ok(org.clerk.post(f"{API}/donations", json=body), 201)["donor"] == {
        "name": "李四", "kind": "individual", "anonymous": False}


@pytest.mark.parametrize("channel", ["bank", "cash", "wechat", "alipay", "in_kind"])
@pytest.mark.parametrize("kind", ["individual", "enterprise", "organization"])
def test_every_channel_and_donor_kind_is_accepted(org: Org, channel: str, kind: str) -> None:
    created = donate(org.clerk, org.fund, channel=channel, donor=donor("捐赠人", kind))
    assert (created["channel"], created["donor"]["kind"]) == (channel, kind)


@pytest.mark.parametrize("amount", ["0.01", "0.10", "1.00", "999999999.99", "1000000000.00"])
def test_amounts_at_the_edges_are_accepted(org: Org, amount: str) -> None:
    assert donate(org.clerk, org.fund, amount)["amount"] == amount
    assert balance(org.clerk, org.fund) == (amount, amount)


def test_receipt_numbers_run_without_gaps_across_funds_organizations_and_failures(
        api: ApiClient, make: Factory, org: Org, other: Org) -> None:
    first = donate(org.clerk, org.fund, reference="R-1")
    second = donate(other.clerk, other.fund, reference="R-1")  # a reference is per organisation
    # Refused donations take no number.
    assert_problem(org.clerk.post(f"{API}/donations", json=donation_body(org.fund, reference="R-1")), 409)
    assert_problem(org.clerk.post(f"{API}/donations", json=donation_body(org.fund, "0.00")), 422, "amount")
    closed = make.fund(org.id)["code"]
    assert_ok(set_fund_status(api, closed, "close"))
    assert_problem(org.clerk.post(f"{API}/donations", json=donation_body(closed)), 409)
    (batched,) = results(batch_json(org.clerk, [donation_body(org.fund, reference="R-2")]))
    third = donate(org.clerk, org.fund)

    numbers = [first["receipt_no"], second["receipt_no"], batched["donation"]["receipt_no"], third["receipt_no"]]
    assert numbers == [receipt(1), receipt(2), receipt(3), receipt(4)]


def test_anonymous_donors_are_named_anonymous_everywhere(org: Org) -> None:
    body = donation_body(org.fund, donor=donor("张三丰", anonymous=True), reference="ANON-1")
    response = org.clerk.post(f"{API}/donations", json=body)
    created = assert_ok(response, 201)
    (batched,) = results(batch_json(org.clerk, [{**body, "reference": "ANON-2"}]))
    csv_result = results(batch_csv(org.clerk, f"{CSV_HEADER}\n"
                                              f"{csv_row(org.fund, donor_name='张三丰', anonymous='true')}\n"))

    answers = [response, org.clerk.get(f"{API}/donations/{created['id']}"), org.clerk.get(f"{API}/donations")]
    for answer in answers:
        assert "张三丰" not in answer.get_data(as_text=True)
    assert created["donor"] == {"name": ANONYMOUS, "kind": "individual", "anonymous": True}
    assert batched["donation"]["donor"]["name"] == ANONYMOUS
    assert csv_result[0]["donation"]["donor"]["name"] == ANONYMOUS
    listed = assert_ok(org.clerk.get(f"{API}/donations"))["items"]
    assert [d["donor"]["name"] for d in listed] == [ANONYMOUS] * 3
    reversal = org.clerk.post(f"{API}/donations/{created['id']}/reverse", json={"reason": "捐赠人要求撤回"})
    assert assert_ok(reversal)["donation"]["donor"]["name"] == ANONYMOUS
    assert "张三丰" not in reversal.get_data(as_text=True)


def test_a_restricted_fund_credits_restricted_net_assets_alone_and_in_batches(api: ApiClient, make: Factory) -> None:
    org = make_org(api, make, restricted=True, code="XZ-001")
    donate(org.clerk, org.fund, "1.00")
    donate(org.clerk, org.fund, "2.00", channel="in_kind")
    assert statuses(batch_json(org.clerk, [donation_body(org.fund, "4.00")])) == [(1, "recorded")]
    assert statuses(batch_csv(org.clerk, f"{CSV_HEADER}\n{csv_row(org.fund, '8.00', channel='in_kind')}\n")) == [
        (2, "recorded")]
    assert accounts(org.clerk) == {"Assets:Bank:XZ-001": ("5.00", "0.00"),
                                   "Assets:InKind:XZ-001": ("10.00", "0.00"),
                                   "Funds:XZ-001:Restricted": ("0.00", "15.00")}
    assert balance(org.clerk, org.fund) == ("15.00", "15.00")


def test_duplicate_reference_is_409_naming_reference(org: Org) -> None:
    original = donate(org.clerk, org.fund, reference="ERP-0001")
    again = donation_body(org.fund, "50.00", reference="ERP-0001", donor=donor())
    assert_problem(org.clerk.post(f"{API}/donations", json=again), 409, "reference")
    # Surrounding space does not make another reference.
    assert_problem(org.clerk.post(f"{API}/donations", json={**again, "reference": " ERP-0001 "}), 409, "reference")
    assert donation_ids(org.clerk) == [original["id"]]
    assert balance(org.clerk, org.fund) == ("100.00", "100.00")


def test_the_same_reference_may_recur_in_another_organization(org: Org, other: Org) -> None:
    donate(org.clerk, org.fund, reference="ERP-0001")
    assert donate(other.clerk, other.fund, reference="ERP-0001")["reference"] == "ERP-0001"


def test_a_frozen_fund_takes_donations(api: ApiClient, org: Org) -> None:
    assert_ok(set_fund_status(api, org.fund, "freeze"))
    assert donate(org.clerk, org.fund, "88.00")["status"] == "recorded"
    assert balance(org.clerk, org.fund) == ("88.00", "88.00")


def test_a_closed_fund_takes_no_donation(api: ApiClient, org: Org) -> None:
    assert_ok(set_fund_status(api, org.fund, "close"))
    assert_problem(org.clerk.post(f"{API}/donations", json=donation_body(org.fund)), 409)
    assert donation_ids(org.clerk) == []
    assert balance(org.clerk, org.fund) == ("0.00", "0.00")


def test_donating_to_another_organizations_fund_is_422_naming_fund_code(org: Org, other: Org) -> None:
    foreign = assert_problem(org.clerk.post(f"{API}/donations", json=donation_body(other.fund)), 422, "fund_code")
    missing = assert_problem(org.clerk.post(f"{API}/donations", json=donation_body("NO-SUCH-FUND")), 422,
                             "fund_code")
    assert foreign["errors"] == missing["errors"]
    assert donation_ids(other.clerk) == []
    assert balance(other.clerk, other.fund) == ("0.00", "0.00")


def test_admin_records_for_any_organization(api: ApiClient, org: Org, other: Org) -> None:
    donate(api, org.fund, "1.00")
    donate(api, other.fund, "2.00")
    assert balance(org.clerk, org.fund) == ("1.00", "1.00")
    assert balance(other.clerk, other.fund) == ("2.00", "2.00")
    assert len(donation_ids(api)) == 2


# -- validation of a donation ------------------------------------------------------

# Two days ahead, not one: the parameters are made when the tests are collected, and a run may
# cross midnight in Beijing before they are used.
FUTURE = (dt.datetime.now(SHANGHAI).date() + dt.timedelta(days=2)).isoformat()

# Each bad donation, and the fields its error names: the single POST and a JSON
# batch's row answer alike (both check it with the one shape, rules.DONATION).
BAD_DONATIONS = [
    ({"amount": 100}, {"amount"}),
    ({"amount": 100.0}, {"amount"}),
    ({"amount": "NaN"}, {"amount"}),
    ({"amount": "Infinity"}, {"amount"}),
    ({"amount": "1e3"}, {"amount"}),
    ({"amount": "1.505"}, {"amount"}),
    ({"amount": "1.5"}, {"amount"}),
    ({"amount": "100"}, {"amount"}),
    ({"amount": "-1.00"}, {"amount"}),
    ({"amount": "+1.00"}, {"amount"}),
    ({"amount": "0.00"}, {"amount"}),
    ({"amount": "1000000000.01"}, {"amount"}),
    ({"amount": "01.00"}, {"amount"}),
    ({"amount": "1,000.00"}, {"amount"}),
    ({"amount": " 1.00"}, {"amount"}),
    ({"amount": "１.００"}, {"amount"}),
    ({"amount": ""}, {"amount"}),
    ({"amount": None}, {"amount"}),
    ({"amount": MISSING}, {"amount"}),
    ({"currency": "USD"}, {"currency"}),
    ({"currency": "cny"}, {"currency"}),
    ({"currency": MISSING}, {"currency"}),
    ({"channel": "cheque"}, {"channel"}),
    ({"channel": "BANK"}, {"channel"}),
    ({"channel": MISSING}, {"channel"}),
    ({"received_on": FUTURE}, {"received_on"}),
    ({"received_on": "2026-13-01"}, {"received_on"}),
    ({"received_on": "1999-12-31"}, {"received_on"}),
    ({"received_on": "2026-08-03T10:00:00+08:00"}, {"received_on"}),
    ({"received_on": "20260803"}, {"received_on"}),
    ({"received_on": "2026-W32-1"}, {"received_on"}),
    ({"received_on": 20260803}, {"received_on"}),
    ({"received_on": MISSING}, {"received_on"}),
    ({"fund_code": "tl-hq-001"}, {"fund_code"}),
    ({"fund_code": 123}, {"fund_code"}),
    ({"fund_code": "NO-SUCH-FUND"}, {"fund_code"}),
    ({"fund_code": MISSING}, {"fund_code"}),
    ({"donor": donor(kind="alien")}, {"donor.kind"}),
    ({"donor": donor(name="")}, {"donor.name"}),
    ({"donor": donor(name="   ")}, {"donor.name"}),
    ({"donor": donor(name="名" * 201)}, {"donor.name"}),
    ({"donor": donor(name="王\u0000五")}, {"donor.name"}),
    ({"donor": donor(name="王\ud800五")}, {"donor.name"}),
    ({"donor": {"name": 5, "kind": "individual"}}, {"donor.name"}),
    ({"donor": {**donor(), "anonymous": "yes"}}, {"donor.anonymous"}),
    ({"donor": {**donor(), "anonymous": 1}}, {"donor.anonymous"}),
    ({"donor": {**donor(), "anonymous": None}}, {"donor.anonymous"}),
    ({"donor": {"kind": "individual"}}, {"donor.name"}),
    ({"donor": {}}, {"donor.name", "donor.kind"}),
    ({"donor": {**donor(), "phone": "13800000000"}}, {"donor.phone"}),
    ({"donor": "王五"}, {"donor"}),
    ({"donor": None}, {"donor"}),
    ({"donor": MISSING}, {"donor"}),
    ({"purpose": "用" * 2001}, {"purpose"}),
    ({"purpose": 7}, {"purpose"}),
    ({"purpose": None}, {"purpose"}),
    ({"purpose": "助学\ud83d"}, {"purpose"}),
    ({"reference": ""}, {"reference"}),
    ({"reference": "   "}, {"reference"}),
    ({"reference": "R" * 101}, {"reference"}),
    ({"reference": 42}, {"reference"}),
    ({"reference": "R\u00001"}, {"reference"}),
    ({"colour": "red"}, {"colour"}),
    ({"donor_name": "王五"}, {"donor_name"}),
    ({"receipt_no": "2026-000001"}, {"receipt_no"}),
    ({"amount": "1e3", "currency": "USD", "channel": "cheque"}, {"amount", "currency", "channel"}),
]


def _case_id(case: tuple[dict[str, Any], set[str]]) -> str:
    overrides, _ = case
    return ",".join(f"{k}={'MISSING' if v is MISSING else v!r}"[:40] for k, v in overrides.items())


@pytest.mark.parametrize(("overrides", "fields"), BAD_DONATIONS, ids=[_case_id(c) for c in BAD_DONATIONS])
def test_bad_donation_is_422_naming_the_same_fields_alone_and_in_a_batch(
        org: Org, overrides: dict[str, Any], fields: set[str]) -> None:
    body = donation_body(org.fund, **overrides)

    single = assert_problem(org.clerk.post(f"{API}/donations", json=body), 422)
    (row,) = results(batch_json(org.clerk, [body]))

    assert set(single["errors"]) == fields, single
    assert row["row"] == 1 and row["status"] == "invalid", row
    assert set(row["errors"]) == fields, row
    assert all(isinstance(m, str) and m for messages in row["errors"].values() for m in messages)
    assert donation_ids(org.clerk) == []
    assert balance(org.clerk, org.fund) == ("0.00", "0.00")


@pytest.mark.parametrize("received_on", ["2000-01-01", "2026-02-28"])
def test_past_business_dates_are_accepted(org: Org, received_on: str) -> None:
    assert donate(org.clerk, org.fund, received_on=received_on)["received_on"] == received_on
    assert donate(org.clerk, org.fund, received_on=today().isoformat())["received_on"] == today().isoformat()


@pytest.mark.parametrize("body", [[], [donation_body("TL-HQ-001")], "TL-HQ-001", 42, None],
                         ids=["empty-list", "list", "string", "number", "null"])
def test_a_donation_that_is_not_an_object_is_refused(org: Org, body: Any) -> None:
    response = org.clerk.post(f"{API}/donations", data=json.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422)
    assert_problem(response, response.status_code)
    assert donation_ids(org.clerk) == []


@pytest.mark.parametrize("raw", [b"{", b'{"amount": "1.00",}', b"amount=1.00", b'{"fund_code": "\xff"}',
                                 b"[" * 100_000 + b"]" * 100_000],
                         ids=["unclosed", "trailing-comma", "form", "bad-utf8", "too-deep"])
@pytest.mark.parametrize("path", ["/donations", "/disbursements", "/donations/batch"])
def test_malformed_json_is_400(org: Org, raw: bytes, path: str) -> None:
    assert_problem(org.clerk.post(f"{API}{path}", data=raw, headers={"Content-Type": "application/json"}), 400)
    assert donation_ids(org.clerk) == []


@pytest.mark.parametrize("amount", [100, "NaN", "1e3", "1.505", "-1.00", "0.00", "1000000000.01"])
def test_bad_money_in_a_disbursement_is_422_naming_amount(org: Org, amount: Any) -> None:
    donate(org.clerk, org.fund)
    body = {"fund_code": org.fund, "amount": amount, "payee": "某小学", "purpose": "助学"}
    assert_problem(org.clerk.post(f"{API}/disbursements", json=body), 422, "amount")
    assert assert_ok(org.clerk.get(f"{API}/disbursements"))["items"] == []


# -- GET /donations, GET /donations/{id} ---------------------------------------------

@pytest.fixture
def donations_to_filter(org: Org, make: Factory) -> dict[str, int]:
    """Donations across two funds, dates and donors; their ids by a short name."""
    second = make.fund(org.id, "TL-HQ-002")["code"]
    made = {
        "jan": donate(org.clerk, org.fund, received_on="2026-01-15", donor=donor("铜陵有色金属集团", "enterprise")),
        "feb": donate(org.clerk, second, received_on="2026-02-01", donor=donor("ACME Trading Ltd", "enterprise")),
        "feb-end": donate(org.clerk, org.fund, received_on="2026-02-28", donor=donor("王秀英")),
        "mar": donate(org.clerk, second, received_on="2026-03-10", donor=donor("张三丰", anonymous=True)),
        "apr": donate(org.clerk, org.fund, received_on="2026-04-01", donor=donor("100%_爱心人士")),
    }
    return {name: donation["id"] for name, donation in made.items()}


@pytest.mark.parametrize(("query", "expected"), [
    ({}, ["apr", "mar", "feb-end", "feb", "jan"]),
    ({"fund_code": "TL-HQ-001"}, ["apr", "feb-end", "jan"]),
    ({"fund_code": "TL-HQ-002"}, ["mar", "feb"]),
    ({"fund_code": "NO-SUCH-FUND"}, []),
    ({"from": "2026-02-01"}, ["apr", "mar", "feb-end", "feb"]),
    ({"to": "2026-02-28"}, ["feb-end", "feb", "jan"]),
    ({"from": "2026-02-01", "to": "2026-02-28"}, ["feb-end", "feb"]),
    ({"from": "2026-02-02", "to": "2026-02-27"}, []),
    ({"from": "2026-03-10", "to": "2026-03-10"}, ["mar"]),
    ({"fund_code": "TL-HQ-002", "from": "2026-03-01"}, ["mar"]),
    ({"donor": "铜陵"}, ["jan"]),
    ({"donor": "acme"}, ["feb"]),
    ({"donor": "王秀英"}, ["feb-end"]),
    ({"donor": "张三丰"}, []),  # anonymous donors cannot be found by name
    ({"donor": "张"}, []),
    ({"donor": "100%"}, ["apr"]),
    ({"donor": "%"}, ["apr"]),
    ({"donor": "_"}, ["apr"]),
    ({"donor": "0_"}, []),
    ({"donor": "有限公司"}, []),
    ({"donor": "王秀英", "fund_code": "TL-HQ-002"}, []),
])
def test_donation_filters(org: Org, donations_to_filter: dict[str, int], query: dict[str, str],
                          expected: list[str]) -> None:
    assert donation_ids(org.clerk, **query) == [donations_to_filter[name] for name in expected]


def test_anonymous_donors_are_anonymous_in_the_list(org: Org, donations_to_filter: dict[str, int]) -> None:
    response = org.clerk.get(f"{API}/donations", query_string={"fund_code": "TL-HQ-002"})
    (anonymous, named) = assert_ok(response)["items"]
    assert anonymous["id"] == donations_to_filter["mar"]
    assert anonymous["donor"] == {"name": ANONYMOUS, "kind": "individual", "anonymous": True}
    assert named["donor"]["name"] == "ACME Trading Ltd"
    assert "张三丰" not in response.get_data(as_text=True)
    assert assert_ok(org.clerk.get(f"{API}/donations", query_string={"donor": ANONYMOUS}))["items"] == []


def test_donations_paginate_newest_first(org: Org) -> None:
    made = [donate(org.clerk, org.fund, f"{n}.00")["id"] for n in range(1, 8)]

    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        query: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = assert_ok(org.clerk.get(f"{API}/donations", query_string=query))
        assert set(page) == {"items", "next_cursor"}
        assert 1 <= len(page["items"]) <= 3
        seen += [donation["id"] for donation in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and cursor
    assert pages == 3
    assert seen == made[::-1]


def test_donation_pagination_keeps_the_filters(org: Org, make: Factory) -> None:
    second = make.fund(org.id, "TL-HQ-002")["code"]
    wanted = [donate(org.clerk, code)["id"] for code in (org.fund, second, org.fund, second, org.fund)][::2]
    first = assert_ok(org.clerk.get(f"{API}/donations", query_string={"fund_code": org.fund, "limit": 2}))
    rest = assert_ok(org.clerk.get(f"{API}/donations", query_string={"fund_code": org.fund, "limit": 2,
                                                                     "cursor": first["next_cursor"]}))
    assert [d["id"] for d in first["items"] + rest["items"]] == wanted[::-1]
    assert rest["next_cursor"] is None


def test_default_and_largest_limits(org: Org) -> None:
    rows = [donation_body(org.fund, "1.00") for _ in range(52)]
    assert {status for _, status in statuses(batch_json(org.clerk, rows))} == {"recorded"}
    default = assert_ok(org.clerk.get(f"{API}/donations"))
    assert len(default["items"]) == 50 and default["next_cursor"] is not None
    largest = assert_ok(org.clerk.get(f"{API}/donations", query_string={"limit": 500}))
    assert len(largest["items"]) == 52 and largest["next_cursor"] is None


LISTS = [f"{API}/donations", f"{API}/disbursements"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("limit", ["0", "501", "-1", "abc", "1.5", ""])
def test_bad_limit_is_422_naming_limit(org: Org, path: str, limit: str) -> None:
    assert_problem(org.clerk.get(path, query_string={"limit": limit}), 422, "limit")


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("cursor", [
    "not-a-cursor!", "%%%", "e30", "", _b64(b"[1]"), _b64(b'{"id": "7"}'), _b64(b'{"id": null}'),
    _b64(b"\xff\xfe"), _b64(b'{"id": true}'), _b64(b'{"id": 1.5}'), _b64(b'{"id": 0}'), _b64(b'{"id": -3}'),
    _b64(b'{"id": 9223372036854775808}'), _b64(b'{"id": 99999999999999999999}'),
])
def test_bad_cursor_is_422_naming_cursor(org: Org, path: str, cursor: str) -> None:
    assert_problem(org.clerk.get(path, query_string={"cursor": cursor}), 422, "cursor")


@pytest.mark.parametrize(("path", "query", "field"), [
    ("/donations", {"colour": "red"}, "colour"),
    ("/donations", {"fund": "TL-HQ-001"}, "fund"),
    ("/donations", {"from": "2026-13-01"}, "from"),
    ("/donations", {"to": "yesterday"}, "to"),
    ("/donations", {"fund_code": "tl-hq-001"}, "fund_code"),
    ("/donations", {"donor": ""}, "donor"),
    ("/donations", {"donor": "王\u0000"}, "donor"),
    ("/disbursements", {"colour": "red"}, "colour"),
    ("/disbursements", {"status": "pending"}, "status"),
    ("/disbursements", {"fund_code": "x"}, "fund_code"),
    ("/funds/TL-HQ-001/statement", {"colour": "red"}, "colour"),
    ("/funds/TL-HQ-001/statement", {"from": "2026-02-30"}, "from"),
    ("/funds/TL-HQ-001/statement", {"to": "2026/03/01"}, "to"),
    ("/funds/TL-HQ-001/statement", {"from": "2026-03-02", "to": "2026-03-01"}, "from"),
    ("/trial-balance", {"as_of": "soon"}, "as_of"),
    ("/trial-balance", {"colour": "red"}, "colour"),
    ("/ledger/verify", {"colour": "red"}, "colour"),
    ("/ledger/verify", {"fund_code": "x"}, "fund_code"),
])
def test_bad_query_is_422_naming_the_argument(org: Org, path: str, query: dict[str, str], field: str) -> None:
    assert_problem(org.clerk.get(f"{API}{path}", query_string=query), 422, field)


def test_another_organizations_donation_is_404(org: Org, other: Org, api: ApiClient) -> None:
    theirs = donate(other.clerk, other.fund)
    foreign = assert_problem(org.clerk.get(f"{API}/donations/{theirs['id']}"), 404)
    missing = assert_problem(org.clerk.get(f"{API}/donations/999999"), 404)
    assert (foreign["type"], foreign["title"]) == (missing["type"], missing["title"])
    assert donation_ids(org.clerk) == []
    assert donation_ids(org.clerk, fund_code=other.fund) == []
    assert assert_ok(api.get(f"{API}/donations/{theirs['id']}")) == theirs
    assert assert_ok(other.clerk.get(f"{API}/donations/{theirs['id']}")) == theirs


@pytest.mark.parametrize("donation_id", ["0", "999999", str(2**31), str(2**63 - 1), str(2**63), str(10**30)])
def test_unknown_donation_is_404(org: Org, donation_id: str) -> None:
    assert_problem(org.clerk.get(f"{API}/donations/{donation_id}"), 404)
    assert_problem(org.clerk.post(f"{API}/donations/{donation_id}/reverse", json={"reason": "录错"}), 404)


@pytest.mark.parametrize("donation_id", ["abc", "-1", "1.5"])
def test_a_donation_id_that_is_not_a_number_is_404(org: Org, donation_id: str) -> None:
    assert_problem(org.clerk.get(f"{API}/donations/{donation_id}"), 404)


# -- POST /donations/{id}/reverse -----------------------------------------------------

def statement_lines(client: ApiClient, code: str, **query: Any) -> list[dict[str, Any]]:
    return assert_ok(client.get(f"{API}/funds/{code}/statement", query_string=query))["entries"]  # type: ignore[no-any-return]


def test_reversing_posts_a_reversing_entry_and_keeps_the_original(org: Org) -> None:
    kept = donate(org.clerk, org.fund, "30.00")
    original = donate(org.clerk, org.fund, "1280.00", reference="ERP-9")
    assert balance(org.clerk, org.fund) == ("1310.00", "1310.00")

    response = org.clerk.post(f"{API}/donations/{original['id']}/reverse", json={"reason": "  金额录入错误  "})
    entry = assert_ok(response)
    reversed_ = entry["donation"]

    # The answer is the reversing entry: the mirror image of the donation.
    assert {name: entry[name] for name in ("kind", "fund_code", "amount", "reason", "reverses", "date")} == {
        "kind": "reversal", "fund_code": org.fund, "amount": "1280.00", "reason": "金额录入错误",
        "reverses": original["id"], "date": today().isoformat()}
    assert entry["postings"] == [
        {"account": f"Assets:Bank:{org.fund}", "debit": "0.00", "credit": "1280.00"},
        {"account": f"Funds:{org.fund}:Unrestricted", "debit": "1280.00", "credit": "0.00"}]
    assert entry["id"] == reversed_["reversal_entry_id"]
    heads = assert_ok(org.clerk.get(f"{API}/ledger/heads"))["items"]
    assert [h["head"] for h in heads if h["fund_code"] == org.fund] == [entry["hash"]]

    assert reversed_["status"] == "reversed"
    assert reversed_["reversal_reason"] == "金额录入错误"
    assert has_offset(reversed_["reversed_at"])
    unchanged = {name: reversed_[name] for name in DONATION_FIELDS - {"status"}}
    assert unchanged == {name: original[name] for name in DONATION_FIELDS - {"status"}}
    assert reversed_["receipt_no"] == receipt(2)
    assert assert_ok(org.clerk.get(f"{API}/donations/{original['id']}")) == reversed_
    assert balance(org.clerk, org.fund) == ("30.00", "30.00")

    # The reversing entry: on today's date, out of the fund, naming the donation.
    *_, line = statement_lines(org.clerk, org.fund)
    assert line["entry_id"] == reversed_["reversal_entry_id"]
    assert {name: line[name] for name in ("kind", "source_id", "amount", "direction", "balance_after", "date")} == {
        "kind": "reversal", "source_id": original["id"], "amount": "1280.00", "direction": "out",
        "balance_after": "30.00", "date": today().isoformat()}
    # The original entry stays, so the donation still shows in the list, marked reversed.
    listed = assert_ok(org.clerk.get(f"{API}/donations"))["items"]
    assert [(d["id"], d["status"]) for d in listed] == [(original["id"], "reversed"), (kept["id"], "recorded")]
    assert accounts(org.clerk)[f"Assets:Bank:{org.fund}"] == ("30.00", "0.00")
    assert assert_ok(org.clerk.get(f"{API}/ledger/verify"))["valid"] is True


def test_reversing_an_in_kind_donation_of_a_restricted_fund(api: ApiClient, make: Factory) -> None:
    org = make_org(api, make, restricted=True, code="XZ-001")
    donation = donate(org.clerk, org.fund, "500.00", channel="in_kind")
    assert accounts(org.clerk) == {"Assets:InKind:XZ-001": ("500.00", "0.00"),
                                   "Funds:XZ-001:Restricted": ("0.00", "500.00")}
    assert_ok(org.clerk.post(f"{API}/donations/{donation['id']}/reverse", json={"reason": "物资退回"}))
    assert accounts(org.clerk) == {"Assets:InKind:XZ-001": ("0.00", "0.00"),
                                   "Funds:XZ-001:Restricted": ("0.00", "0.00")}
    assert balance(org.clerk, org.fund) == ("0.00", "0.00")


def test_reversing_twice_is_409(org: Org) -> None:
    donation = donate(org.clerk, org.fund, "100.00")
    donate(org.clerk, org.fund, "100.00")
    first = assert_ok(org.clerk.post(f"{API}/donations/{donation['id']}/reverse", json={"reason": "重复录入"}))
    assert_problem(org.clerk.post(f"{API}/donations/{donation['id']}/reverse", json={"reason": "再来一次"}), 409)
    assert assert_ok(org.clerk.get(f"{API}/donations/{donation['id']}")) == first["donation"]
    assert balance(org.clerk, org.fund) == ("100.00", "100.00")
    assert [line["kind"] for line in statement_lines(org.clerk, org.fund)] == ["donation", "donation", "reversal"]


def test_reversal_that_would_take_available_below_zero_is_409(org: Org) -> None:
    donation = donate(org.clerk, org.fund, "100.00")
    disbursement = request_disbursement(org.clerk, org.fund, "80.00")
    assert_ok(org.approver.post(f"{API}/disbursements/{disbursement['id']}/approve"))
    assert balance(org.clerk, org.fund) == ("100.00", "20.00")

    refused = assert_problem(org.clerk.post(f"{API}/donations/{donation['id']}/reverse", json={"reason": "退款"}), 409)
    assert "20.00" in refused["detail"]
    assert assert_ok(org.clerk.get(f"{API}/donations/{donation['id']}"))["status"] == "recorded"
    assert balance(org.clerk, org.fund) == ("100.00", "20.00")

    # Once the approval is withdrawn, the money is free to go back.
    assert_ok(org.approver.post(f"{API}/disbursements/{disbursement['id']}/reject", json={"reason": "项目取消"}))
    assert_ok(org.clerk.post(f"{API}/donations/{donation['id']}/reverse", json={"reason": "退款"}))
    assert balance(org.clerk, org.fund) == ("0.00", "0.00")


def test_reversal_that_would_take_the_balance_below_zero_is_409(org: Org) -> None:
    donation = donate(org.clerk, org.fund, "100.00")
    donate(org.clerk, org.fund, "50.00")
    paid = request_disbursement(org.clerk, org.fund, "120.00")
    assert_ok(org.approver.post(f"{API}/disbursements/{paid['id']}/approve"))
    assert_ok(org.clerk.post(f"{API}/disbursements/{paid['id']}/pay", json=pay_body()))
    assert balance(org.clerk, org.fund) == ("30.00", "30.00")
    assert_problem(org.clerk.post(f"{API}/donations/{donation['id']}/reverse", json={"reason": "退款"}), 409)
    assert balance(org.clerk, org.fund) == ("30.00", "30.00")


@pytest.mark.parametrize(("body", "field"), [
    ({}, "reason"),
    ({"reason": ""}, "reason"),
    ({"reason": "   "}, "reason"),
    ({"reason": None}, "reason"),
    ({"reason": 5}, "reason"),
    ({"reason": "错" * 2001}, "reason"),
    ({"reason": "录错\u0000"}, "reason"),
    ({"reason": "录错", "amount": "1.00"}, "amount"),
])
def test_reversal_needs_a_reason(org: Org, body: dict[str, Any], field: str) -> None:
    donation = donate(org.clerk, org.fund)
    assert_problem(org.clerk.post(f"{API}/donations/{donation['id']}/reverse", json=body), 422, field)
    assert assert_ok(org.clerk.get(f"{API}/donations/{donation['id']}")) == donation
    assert balance(org.clerk, org.fund) == ("100.00", "100.00")


def test_another_organization_cannot_reverse(org: Org, other: Org) -> None:
    theirs = donate(other.clerk, other.fund)
    assert_problem(org.clerk.post(f"{API}/donations/{theirs['id']}/reverse", json={"reason": "恶意冲销"}), 404)
    assert assert_ok(other.clerk.get(f"{API}/donations/{theirs['id']}"))["status"] == "recorded"
    assert balance(other.clerk, other.fund) == ("100.00", "100.00")


# -- POST /donations/batch ----------------------------------------------------------

def test_json_batch_records_good_rows_and_reports_every_row(org: Org) -> None:
    donate(org.clerk, org.fund, "10.00", reference="ERP-0001")
    rows = [
        donation_body(org.fund, "100.00", reference="ERP-0002"),
        donation_body(org.fund, "1.505", reference="ERP-0003"),
        donation_body(org.fund, "200.00", reference="ERP-0001"),                 # recorded before
        donation_body(org.fund, "300.00", reference="ERP-0002"),                 # earlier in this batch
        donation_body(org.fund, "400.00", donor={"name": "", "kind": "alien"}),
        donation_body(org.fund, "500.00"),                                       # no reference: no duplicate
        donation_body(org.fund, "500.00"),
        "not an object",
        donation_body(org.fund, "600.00", reference="ERP-0004", donor=donor("李四", anonymous=True)),
    ]
    answer = results(batch_json(org.clerk, rows))

    assert [(r["row"], r["status"]) for r in answer] == [
        (1, "recorded"), (2, "invalid"), (3, "duplicate"), (4, "duplicate"), (5, "invalid"), (6, "recorded"),
        (7, "recorded"), (8, "invalid"), (9, "recorded")]
    assert set(answer[1]["errors"]) == {"amount"}
    assert set(answer[2]["errors"]) == {"reference"} == set(answer[3]["errors"])
    assert set(answer[4]["errors"]) == {"donor.name", "donor.kind"}
    assert answer[7]["errors"]
    for result in answer:
        assert ("donation" in result) == (result["status"] == "recorded")
        assert ("errors" in result) == (result["status"] != "recorded")

    recorded = [r["donation"] for r in answer if r["status"] == "recorded"]
    assert [d["amount"] for d in recorded] == ["100.00", "500.00", "500.00", "600.00"]
    assert [d["receipt_no"] for d in recorded] == [receipt(2), receipt(3), receipt(4), receipt(5)]
    assert recorded[-1]["donor"] == {"name": ANONYMOUS, "kind": "individual", "anonymous": True}
    # A batch's donation reads the same as one recorded alone.
    for donation in recorded:
        assert set(donation) == DONATION_FIELDS | DONATION_EXTENSIONS
        assert assert_ok(org.clerk.get(f"{API}/donations/{donation['id']}")) == donation
    assert len(donation_ids(org.clerk)) == 5
    assert balance(org.clerk, org.fund) == ("1710.00", "1710.00")
    assert assert_ok(org.clerk.get(f"{API}/ledger/verify"))["valid"] is True


def test_csv_batch_numbers_rows_by_their_line(org: Org) -> None:
    donate(org.clerk, org.fund, "10.00", reference="ERP-0001")
    content = "\n".join([
        CSV_HEADER,
        csv_row(org.fund, "100.00", reference="ERP-0002", purpose="助学"),                   # line 2
        csv_row(org.fund, "1e3"),                                                             # line 3
        "",                                                                                   # line 4, blank
        csv_row(org.fund, "200.00", reference="ERP-0001"),                                    # line 5
        csv_row(org.fund, "300.00", reference="ERP-0002"),                                    # line 6
        csv_row(org.fund, "50.00", donor_name="", donor_kind="alien", anonymous="maybe"),    # line 7
        csv_row(org.fund, "60.00", donor_name="张三", anonymous="true", channel="alipay",      # line 8
                purpose='"第一行\n第二行"'),                                                   # and 9
        csv_row(org.fund, "70.00", channel="cheque", received_on="2026-02-30"),               # line 10
        "TL-HQ-001,80.00,CNY",                                                                # line 11
        csv_row(org.fund, "90.00", reference=" "),                                            # line 12
    ]) + "\n"
    answer = results(batch_csv(org.clerk, content))

    assert [(r["row"], r["status"]) for r in answer] == [
        (2, "recorded"), (3, "invalid"), (5, "duplicate"), (6, "duplicate"), (7, "invalid"), (8, "recorded"),
        (10, "invalid"), (11, "invalid"), (12, "recorded")]
    # Errors name the CSV columns.
    assert set(answer[1]["errors"]) == {"amount"}
    assert set(answer[2]["errors"]) == {"reference"}
    assert set(answer[4]["errors"]) == {"donor_name", "donor_kind", "donor_anonymous"}
    assert set(answer[6]["errors"]) == {"channel", "received_on"}
    assert answer[7]["errors"]
    first, multiline, blank_reference = (r["donation"] for r in answer if r["status"] == "recorded")
    assert (first["purpose"], first["reference"], first["donor"]["anonymous"]) == ("助学", "ERP-0002", False)
    assert multiline["purpose"] == "第一行\n第二行"
    assert multiline["donor"] == {"name": ANONYMOUS, "kind": "enterprise", "anonymous": True}
    assert multiline["channel"] == "alipay"
    assert blank_reference["reference"] is None
    assert balance(org.clerk, org.fund) == ("260.00", "260.00")  # 10 + 100 + 60 + 90


def test_csv_without_the_optional_columns_with_a_bom_and_crlf(org: Org) -> None:
    header = "fund_code,amount,currency,donor_name,donor_kind,donor_anonymous,received_on,channel"
    content = codecs.BOM_UTF8 + f"{header}\r\n{org.fund},12.34,CNY,王五,individual,0,2026-08-01,cash\r\n".encode()
    (result,) = results(batch_csv(org.clerk, content, content_type="text/csv"))
    assert (result["row"], result["status"]) == (2, "recorded")
    assert {k: result["donation"][k] for k in ("amount", "purpose", "reference", "channel")} == {
        "amount": "12.34", "purpose": "", "reference": None, "channel": "cash"}
    assert result["donation"]["donor"] == {"name": "王五", "kind": "individual", "anonymous": False}


def test_csv_columns_may_come_in_any_order(org: Org) -> None:
    content = ("reference,channel,received_on,donor_anonymous,donor_kind,donor_name,currency,amount,fund_code\n"
               f"R-1,bank,2026-08-01,false,organization,铜陵市红十字会,CNY,66.00,{org.fund}\n")
    (result,) = results(batch_csv(org.clerk, content))
    assert result["status"] == "recorded"
    assert (result["donation"]["amount"], result["donation"]["reference"]) == ("66.00", "R-1")


def test_batch_rows_for_closed_frozen_foreign_and_unknown_funds(
        api: ApiClient, make: Factory, org: Org, other: Org) -> None:
    frozen = make.fund(org.id, "TL-FROZEN")["code"]
    closed = make.fund(org.id, "TL-CLOSED")["code"]
    assert_ok(set_fund_status(api, frozen, "freeze"))
    assert_ok(set_fund_status(api, closed, "close"))
    rows = [donation_body(code) for code in (org.fund, frozen, closed, other.fund, "NO-SUCH-FUND")]
    answer = results(batch_json(org.clerk, rows))

    assert [(r["row"], r["status"]) for r in answer] == [
        (1, "recorded"), (2, "recorded"), (3, "invalid"), (4, "invalid"), (5, "invalid")]
    assert [set(r["errors"]) for r in answer[2:]] == [{"fund_code"}] * 3
    # Another organisation's fund is answered as if it did not exist.
    assert answer[3]["errors"] == answer[4]["errors"]
    assert balance(other.clerk, other.fund) == ("0.00", "0.00")
    assert balance(org.clerk, closed) == ("0.00", "0.00")


def test_a_fund_closed_a_moment_ago_takes_no_batch_row(api: ApiClient, org: Org) -> None:
    """The ledger's own record that a fund is closed decides, not a cached status."""
    assert balance(org.clerk, org.fund) == ("0.00", "0.00")  # the donations service has now seen it active
    assert_ok(set_fund_status(api, org.fund, "close"))

    (row,) = results(batch_json(org.clerk, [donation_body(org.fund)]))
    (line,) = results(batch_csv(org.clerk, f"{CSV_HEADER}\n{csv_row(org.fund)}\n"))
    assert (row["status"], set(row["errors"])) == ("invalid", {"fund_code"})
    assert (line["status"], set(line["errors"])) == ("invalid", {"fund_code"})
    assert_problem(org.clerk.post(f"{API}/donations", json=donation_body(org.fund)), 409)
    assert donation_ids(org.clerk) == []
    assert balance(org.clerk, org.fund) == ("0.00", "0.00")


def test_admin_batch_spans_organizations(api: ApiClient, org: Org, other: Org) -> None:
    rows = [donation_body(org.fund, "1.00", reference="SAME"), donation_body(other.fund, "2.00", reference="SAME"),
            donation_body(org.fund, "3.00", reference="SAME")]
    assert statuses(batch_json(api, rows)) == [(1, "recorded"), (2, "recorded"), (3, "duplicate")]
    assert balance(org.clerk, org.fund) == ("1.00", "1.00")
    assert balance(other.clerk, other.fund) == ("2.00", "2.00")


@pytest.mark.parametrize(("header", "field"), [
    (CSV_HEADER.replace("amount", "amout"), "amout"),
    (CSV_HEADER.replace("amount,", ""), "amount"),
    (CSV_HEADER.replace(",donor_kind", ""), "donor_kind"),
    (CSV_HEADER + ",colour", "colour"),
    ("基金代码,金额,币种,捐赠人,类型,匿名,日期,渠道", "基金代码"),
    (CSV_HEADER.replace("fund_code", "Fund_Code"), "Fund_Code"),
])
def test_bad_csv_header_is_422_naming_the_column(org: Org, header: str, field: str) -> None:
    content = f"{header}\n{csv_row(org.fund)}\n"
    assert_problem(batch_csv(org.clerk, content), 422, field)
    assert donation_ids(org.clerk) == []


def test_a_bad_csv_header_names_every_column_and_those_that_may_be_left_out(org: Org) -> None:
    from services.donations.batch import CSV_COLUMNS, OPTIONAL_COLUMNS

    problem = assert_problem(batch_csv(org.clerk, f"{CSV_HEADER},colour\n{csv_row(org.fund)},x\n"), 422, "body")
    optional = [column for column in CSV_COLUMNS if column in OPTIONAL_COLUMNS]
    assert {"purpose", "reference", "goods_item", "goods_unit_price"} <= set(optional)
    assert problem["errors"]["body"] == [f"The header row names these columns, in any order: {','.join(CSV_COLUMNS)}; "
                                         f"these may be left out: {','.join(optional)}."]


def test_a_repeated_csv_column_is_422(org: Org) -> None:
    assert_problem(batch_csv(org.clerk, f"{CSV_HEADER},amount\n{csv_row(org.fund)},1.00\n"), 422)
    assert donation_ids(org.clerk) == []


@pytest.mark.parametrize(("content", "content_type"), [
    (b"", "text/csv"),
    (b"\n", "text/csv"),
    (CSV_HEADER.encode() + b"\n", "text/csv"),
    (CSV_HEADER.encode() + b"\n\n\n", "text/csv"),
    (b"[]", "application/json"),
    (b'{"fund_code": "TL-HQ-001"}', "application/json"),
    (b'"TL-HQ-001"', "application/json"),
], ids=["empty", "blank-line", "header-only", "header-and-blank-lines", "empty-list", "object", "string"])
def test_an_empty_or_shapeless_batch_is_422(org: Org, content: bytes, content_type: str) -> None:
    assert_problem(batch_csv(org.clerk, content, content_type), 422)
    assert donation_ids(org.clerk) == []


@pytest.mark.parametrize("encoding", ["gbk", "utf-16"])
def test_a_csv_that_is_not_utf8_is_422(org: Org, encoding: str) -> None:
    content = f"{CSV_HEADER}\n{csv_row(org.fund, donor_name='铜陵市慈善总会')}\n".encode(encoding)
    assert_problem(batch_csv(org.clerk, content), 422, "body")
    assert donation_ids(org.clerk) == []


def test_a_csv_with_a_nul_byte_is_422(org: Org) -> None:
    row = csv_row(org.fund, donor_name="王\x00五")
    assert_problem(batch_csv(org.clerk, f"{CSV_HEADER}\n{row}\n"), 422)
    assert donation_ids(org.clerk) == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml",
                                          "multipart/form-data; boundary=x", None])
def test_a_batch_of_another_media_type_is_415(org: Org, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    content = f"{CSV_HEADER}\n{csv_row(org.fund)}\n".encode()
    response = org.clerk.post(f"{API}/donations/batch", data=content, headers=headers)
    assert_problem(response, 415)
    assert donation_ids(org.clerk) == []


# -- disbursements ---------------------------------------------------------------

def key_actor(client: ApiClient) -> str:
    """How the ledger names the caller: key:<id>."""
    me = assert_ok(client.get(f"{API}/me"))
    return f"key:{me['id']}"


def disbursement_ids(client: ApiClient, **query: Any) -> list[int]:
    page = assert_ok(client.get(f"{API}/disbursements", query_string={"limit": 500, **query}))
    return [item["id"] for item in page["items"]]


def test_request_approve_and_pay(org: Org) -> None:
    donate(org.clerk, org.fund, "1000.00")
    requested = request_disbursement(org.clerk, org.fund, "300.00", project="春蕾计划")

    assert DISBURSEMENT_FIELDS <= set(requested)
    assert {name: requested[name] for name in DISBURSEMENT_FIELDS - {"id", "created_at"}} == {
        "fund_code": org.fund, "amount": "300.00", "payee": "铜陵市第一中学", "purpose": "资助贫困学生学费",
        "project": "春蕾计划", "status": "requested", "requested_by": key_actor(org.clerk), "approved_by": None,
        "decided_at": None, "paid_on": None, "bank_reference": None}
    assert has_offset(requested["created_at"])
    assert assert_ok(org.clerk.get(f"{API}/disbursements/{requested['id']}")) == requested
    assert balance(org.clerk, org.fund) == ("1000.00", "1000.00")  # a request reserves nothing

    approved = assert_ok(org.approver.post(f"{API}/disbursements/{requested['id']}/approve"))
    assert approved["status"] == "approved"
    assert approved["approved_by"] == key_actor(org.approver)
    assert has_offset(approved["decided_at"])
    assert balance(org.clerk, org.fund) == ("1000.00", "700.00")

    paid = assert_ok(org.clerk.post(f"{API}/disbursements/{requested['id']}/pay",
                                    json=pay_body("ICBC-0001")))
    assert (paid["status"], paid["paid_on"], paid["bank_reference"]) == ("paid", today().isoformat(), "ICBC-0001")
    assert (paid["requested_by"], paid["approved_by"]) == (requested["requested_by"], approved["approved_by"])
    assert balance(org.clerk, org.fund) == ("700.00", "700.00")
    assert assert_ok(org.clerk.get(f"{API}/disbursements/{requested['id']}")) == paid

    *_, line = statement_lines(org.clerk, org.fund)
    assert {k: line[k] for k in ("kind", "source_id", "amount", "direction", "balance_after", "date")} == {
        "kind": "disbursement", "source_id": requested["id"], "amount": "300.00", "direction": "out",
        "balance_after": "700.00", "date": today().isoformat()}
    assert accounts(org.clerk) == {f"Assets:Bank:{org.fund}": ("700.00", "0.00"),
                                   f"Funds:{org.fund}:Unrestricted": ("0.00", "700.00")}


def test_paying_from_a_restricted_fund_releases_the_restriction(api: ApiClient, make: Factory) -> None:
    org = make_org(api, make, restricted=True, code="XZ-001")
    donate(org.clerk, org.fund, "1000.00")
    disbursement = request_disbursement(org.clerk, org.fund, "400.00")
    assert_ok(org.approver.post(f"{API}/disbursements/{disbursement['id']}/approve"))
    assert_ok(org.clerk.post(f"{API}/disbursements/{disbursement['id']}/pay", json=pay_body()))

    assert balance(org.clerk, org.fund) == ("600.00", "600.00")
    # Net assets are credit accounts: neither ends on the debit side. (The release from
    # restriction passes through Unrestricted within the payment: it never moves on a day.)
    assert accounts(org.clerk) == {"Assets:Bank:XZ-001": ("600.00", "0.00"),
                                   "Funds:XZ-001:Restricted": ("0.00", "600.00")}
    # Paying out the rest leaves both at zero, never below.
    rest = request_disbursement(org.clerk, org.fund, "600.00")
    assert_ok(org.approver.post(f"{API}/disbursements/{rest['id']}/approve"))
    assert_ok(org.clerk.post(f"{API}/disbursements/{rest['id']}/pay", json=pay_body("ICBC-0002")))
    assert accounts(org.clerk) == {"Assets:Bank:XZ-001": ("0.00", "0.00"),
                                   "Funds:XZ-001:Restricted": ("0.00", "0.00")}
    assert balance(org.clerk, org.fund) == ("0.00", "0.00")
    assert [line["direction"] for line in statement_lines(org.clerk, org.fund)] == ["in", "out", "out"]
    assert assert_ok(org.clerk.get(f"{API}/ledger/verify"))["valid"] is True


def test_the_requester_cannot_approve(api: ApiClient, make: Factory, org: Org) -> None:
    both = api.with_key(make.api_key(org.id, [*CLERK_SCOPES, "disbursements:approve"], "身兼两职"))
    donate(both, org.fund)
    disbursement = request_disbursement(both, org.fund, "10.00")
    assert_problem(both.post(f"{API}/disbursements/{disbursement['id']}/approve"), 403)
    assert assert_ok(both.get(f"{API}/disbursements/{disbursement['id']}"))["status"] == "requested"
    assert balance(both, org.fund) == ("100.00", "100.00")
    # Someone else may.
    assert assert_ok(org.approver.post(f"{API}/disbursements/{disbursement['id']}/approve"))["status"] == "approved"


def test_approving_needs_the_approve_scope(org: Org) -> None:
    donate(org.clerk, org.fund)
    disbursement = request_disbursement(org.clerk, org.fund, "10.00")
    assert_problem(org.clerk.post(f"{API}/disbursements/{disbursement['id']}/approve"), 403)
    assert_problem(org.clerk.post(f"{API}/disbursements/{disbursement['id']}/reject", json={"reason": "不行"}), 403)
    assert_problem(org.approver.post(f"{API}/disbursements", json={
        "fund_code": org.fund, "amount": "1.00", "payee": "某人", "purpose": "某事"}), 403)
    assert disbursement_ids(org.clerk) == [disbursement["id"]]


def test_approving_twice_is_409(org: Org) -> None:
    donate(org.clerk, org.fund)
    disbursement = request_disbursement(org.clerk, org.fund, "10.00")
    approved = assert_ok(org.approver.post(f"{API}/disbursements/{disbursement['id']}/approve"))
    assert_problem(org.approver.post(f"{API}/disbursements/{disbursement['id']}/approve"), 409)
    assert assert_ok(org.clerk.get(f"{API}/disbursements/{disbursement['id']}")) == approved
    assert balance(org.clerk, org.fund) == ("100.00", "90.00")


def test_approving_more_than_is_available_is_409(org: Org) -> None:
    donate(org.clerk, org.fund, "100.00")
    first = request_disbursement(org.clerk, org.fund, "60.00")
    second = request_disbursement(org.clerk, org.fund, "40.01")
    too_much = request_disbursement(org.clerk, org.fund, "100.01")
    assert_problem(org.approver.post(f"{API}/disbursements/{too_much['id']}/approve"), 409)
    assert_ok(org.approver.post(f"{API}/disbursements/{first['id']}/approve"))
    # 40.00 is left available, one fen short.
    assert_problem(org.approver.post(f"{API}/disbursements/{second['id']}/approve"), 409)
    assert balance(org.clerk, org.fund) == ("100.00", "40.00")
    assert [d["status"] for d in assert_ok(org.clerk.get(f"{API}/disbursements"))["items"]] == [
        "requested", "requested", "approved"]
    exact = request_disbursement(org.clerk, org.fund, "40.00")
    assert_ok(org.approver.post(f"{API}/disbursements/{exact['id']}/approve"))
    assert balance(org.clerk, org.fund) == ("100.00", "0.00")


def test_a_frozen_fund_approves_nothing(api: ApiClient, org: Org) -> None:
    assert_ok(set_fund_status(api, org.fund, "freeze"))
    donate(org.clerk, org.fund, "100.00")
    disbursement = request_disbursement(org.clerk, org.fund, "10.00")
    assert_problem(org.approver.post(f"{API}/disbursements/{disbursement['id']}/approve"), 409)
    assert assert_ok(org.clerk.get(f"{API}/disbursements/{disbursement['id']}"))["status"] == "requested"
    assert balance(org.clerk, org.fund) == ("100.00", "100.00")


def test_a_frozen_fund_pays_nothing_until_unfrozen(api: ApiClient, gateway: Any, org: Org) -> None:
    donate(org.clerk, org.fund, "100.00")
    disbursement = request_disbursement(org.clerk, org.fund, "10.00")
    assert_ok(org.approver.post(f"{API}/disbursements/{disbursement['id']}/approve"))
    assert_ok(set_fund_status(api, org.fund, "freeze"))
    wait_for_fund_status(gateway)

    assert_problem(org.clerk.post(f"{API}/disbursements/{disbursement['id']}/pay", json=pay_body()), 409)
    assert balance(org.clerk, org.fund) == ("100.00", "90.00")
    assert assert_ok(org.clerk.get(f"{API}/disbursements/{disbursement['id']}"))["status"] == "approved"

    assert_ok(set_fund_status(api, org.fund, "unfreeze"))
    wait_for_fund_status(gateway)
    assert assert_ok(org.clerk.post(f"{API}/disbursements/{disbursement['id']}/pay",
                                    json=pay_body()))["status"] == "paid"
    assert balance(org.clerk, org.fund) == ("90.00", "90.00")


@pytest.mark.parametrize("state", ["requested", "rejected", "paid"])
def test_only_an_approved_disbursement_is_paid(org: Org, state: str) -> None:
    donate(org.clerk, org.fund, "100.00")
    disbursement = request_disbursement(org.clerk, org.fund, "10.00")
    path = f"{API}/disbursements/{disbursement['id']}"
    if state == "rejected":
        assert_ok(org.approver.post(f"{path}/reject", json={"reason": "预算不足"}))
    if state == "paid":
        assert_ok(org.approver.post(f"{path}/approve"))
        assert_ok(org.clerk.post(f"{path}/pay", json=pay_body("ICBC-FIRST")))
    before = assert_ok(org.clerk.get(path))
    expected_balance = balance(org.clerk, org.fund)

    assert_problem(org.clerk.post(f"{path}/pay", json=pay_body("ICBC-AGAIN")), 409)
    assert assert_ok(org.clerk.get(path)) == before
    assert before["status"] == state
    assert balance(org.clerk, org.fund) == expected_balance


@pytest.mark.parametrize("state", ["requested", "approved"])
def test_rejecting_releases_any_reservation(org: Org, state: str) -> None:
    donate(org.clerk, org.fund, "100.00")
    disbursement = request_disbursement(org.clerk, org.fund, "30.00")
    path = f"{API}/disbursements/{disbursement['id']}"
    if state == "approved":
        assert_ok(org.approver.post(f"{path}/approve"))
        assert balance(org.clerk, org.fund) == ("100.00", "70.00")

    rejected = assert_ok(org.approver.post(f"{path}/reject", json={"reason": " 不符合资助条件 "}))
    assert rejected["status"] == "rejected"
    assert rejected["reject_reason"] == "不符合资助条件"
    assert has_offset(rejected["decided_at"])
    assert balance(org.clerk, org.fund) == ("100.00", "100.00")
    assert_problem(org.clerk.post(f"{path}/pay", json=pay_body()), 409)
    assert_problem(org.approver.post(f"{path}/approve"), 409)
    assert_problem(org.approver.post(f"{path}/reject", json={"reason": "再拒一次"}), 409)
    assert assert_ok(org.clerk.get(path)) == rejected


def test_a_paid_disbursement_cannot_be_rejected(org: Org) -> None:
    donate(org.clerk, org.fund, "100.00")
    disbursement = request_disbursement(org.clerk, org.fund, "30.00")
    path = f"{API}/disbursements/{disbursement['id']}"
    assert_ok(org.approver.post(f"{path}/approve"))
    paid = assert_ok(org.clerk.post(f"{path}/pay", json=pay_body()))
    assert_problem(org.approver.post(f"{path}/reject", json={"reason": "晚了"}), 409)
    assert assert_ok(org.clerk.get(path)) == paid
    assert balance(org.clerk, org.fund) == ("70.00", "70.00")


def test_a_closed_fund_takes_no_disbursement_request(api: ApiClient, org: Org) -> None:
    assert_ok(set_fund_status(api, org.fund, "close"))
    body = {"fund_code": org.fund, "amount": "1.00", "payee": "某人", "purpose": "某事"}
    assert_problem(org.clerk.post(f"{API}/disbursements", json=body), 409)
    assert disbursement_ids(org.clerk) == []


def test_disbursement_filters(api: ApiClient, make: Factory, org: Org) -> None:
    second = make.fund(org.id, "TL-HQ-002")["code"]
    for code in (org.fund, second):
        donate(org.clerk, code, "1000.00")
    made = {
        "requested": request_disbursement(org.clerk, org.fund, "1.00")["id"],
        "approved": request_disbursement(org.clerk, second, "2.00")["id"],
        "paid": request_disbursement(org.clerk, org.fund, "3.00")["id"],
        "rejected": request_disbursement(org.clerk, second, "4.00")["id"],
    }
    assert_ok(org.approver.post(f"{API}/disbursements/{made['approved']}/approve"))
    assert_ok(org.approver.post(f"{API}/disbursements/{made['paid']}/approve"))
    assert_ok(org.clerk.post(f"{API}/disbursements/{made['paid']}/pay", json=pay_body()))
    assert_ok(org.approver.post(f"{API}/disbursements/{made['rejected']}/reject", json={"reason": "否"}))

    assert disbursement_ids(org.clerk) == [made[s] for s in ("rejected", "paid", "approved", "requested")]
    for status, made_id in made.items():
        assert disbursement_ids(org.clerk, status=status) == [made_id]
    assert disbursement_ids(org.clerk, fund_code=org.fund) == [made["paid"], made["requested"]]
    assert disbursement_ids(org.clerk, fund_code=second, status="approved") == [made["approved"]]
    assert disbursement_ids(org.clerk, fund_code=second, status="paid") == []
    first = assert_ok(org.clerk.get(f"{API}/disbursements", query_string={"limit": 3}))
    rest = assert_ok(org.clerk.get(f"{API}/disbursements", query_string={"limit": 3, "cursor": first["next_cursor"]}))
    assert [d["id"] for d in first["items"] + rest["items"]] == disbursement_ids(org.clerk)
    assert rest["next_cursor"] is None


def test_a_disbursement_is_for_charitable_activities_unless_it_says_otherwise(org: Org) -> None:
    donate(org.clerk, org.fund, "1000.00")
    plain = request_disbursement(org.clerk, org.fund, "10.00")
    assert plain["category"] == "programme"
    made = {category: request_disbursement(org.clerk, org.fund, "20.00", category=category)
            for category in ("programme", "management", "fundraising")}

    for category, disbursement in made.items():
        assert disbursement["category"] == category
        assert assert_ok(org.clerk.get(f"{API}/disbursements/{disbursement['id']}"))["category"] == category
    path = f"{API}/disbursements/{made['management']['id']}"
    # Every answer about it says what it is for, through approval and payment.
    assert assert_ok(org.approver.post(f"{path}/approve"))["category"] == "management"
    assert assert_ok(org.clerk.post(f"{path}/pay", json=pay_body()))["category"] == "management"
    assert assert_ok(org.clerk.get(f"{API}/ledger/verify"))["valid"] is True
    assert all(item["category"] in made for item in assert_ok(org.clerk.get(f"{API}/disbursements"))["items"])


def test_disbursements_filter_by_category(org: Org) -> None:
    donate(org.clerk, org.fund, "1000.00")
    programme = [request_disbursement(org.clerk, org.fund, "1.00")["id"],
                 request_disbursement(org.clerk, org.fund, "2.00", category="programme")["id"]]
    management = request_disbursement(org.clerk, org.fund, "3.00", category="management")["id"]
    assert_ok(org.approver.post(f"{API}/disbursements/{management}/approve"))

    assert disbursement_ids(org.clerk, category="programme") == programme[::-1]
    assert disbursement_ids(org.clerk, category="management") == [management]
    assert disbursement_ids(org.clerk, category="fundraising") == []
    assert disbursement_ids(org.clerk, category="management", status="approved") == [management]
    assert disbursement_ids(org.clerk, category="management", status="requested") == []
    assert_problem(org.clerk.get(f"{API}/disbursements", query_string={"category": "salaries"}), 422, "category")


@pytest.mark.parametrize("category", ["salaries", "Programme", "", None, 1, ["management"]])
def test_an_unknown_category_is_422_naming_it(org: Org, category: Any) -> None:
    body = {"fund_code": org.fund, "amount": "1.00", "payee": "某人", "purpose": "某事", "category": category}
    problem = assert_problem(org.clerk.post(f"{API}/disbursements", json=body), 422, "category")
    assert list(problem["errors"]) == ["category"]
    assert disbursement_ids(org.clerk) == []


def test_another_organizations_disbursement_is_404(org: Org, other: Org) -> None:
    donate(other.clerk, other.fund, "100.00")
    theirs = request_disbursement(other.clerk, other.fund, "10.00")
    path = f"{API}/disbursements/{theirs['id']}"
    assert_problem(org.clerk.get(path), 404)
    assert_problem(org.approver.post(f"{path}/approve"), 404)
    assert_problem(org.clerk.post(f"{path}/pay", json=pay_body()), 404)
    assert_problem(org.approver.post(f"{path}/reject", json={"reason": "越权"}), 404)
    assert disbursement_ids(org.clerk) == []
    assert assert_ok(other.clerk.get(path)) == theirs
    body = {"fund_code": other.fund, "amount": "1.00", "payee": "某人", "purpose": "某事"}
    assert_problem(org.clerk.post(f"{API}/disbursements", json=body), 422, "fund_code")


@pytest.mark.parametrize("disbursement_id", ["0", "999999", str(2**63 - 1), str(2**63), str(10**30)])
def test_unknown_disbursement_is_404(org: Org, disbursement_id: str) -> None:
    path = f"{API}/disbursements/{disbursement_id}"
    assert_problem(org.clerk.get(path), 404)
    assert_problem(org.approver.post(f"{path}/approve"), 404)
    assert_problem(org.clerk.post(f"{path}/pay", json=pay_body()), 404)
    assert_problem(org.approver.post(f"{path}/reject", json={"reason": "无"}), 404)


@pytest.mark.parametrize(("overrides", "field"), [
    ({"payee": ""}, "payee"),
    ({"payee": MISSING}, "payee"),
    ({"purpose": "  "}, "purpose"),
    ({"purpose": MISSING}, "purpose"),
    ({"project": ""}, "project"),
    ({"fund_code": "NO-SUCH-FUND"}, "fund_code"),
    ({"fund_code": MISSING}, "fund_code"),
    ({"amount": MISSING}, "amount"),
    ({"currency": "CNY"}, "currency"),
    ({"status": "approved"}, "status"),
])
def test_disbursement_request_validation(org: Org, overrides: dict[str, Any], field: str) -> None:
    body = {"fund_code": org.fund, "amount": "1.00", "payee": "某人", "purpose": "某事"}
    body.update({k: v for k, v in overrides.items() if v is not MISSING})
    for name in [k for k, v in overrides.items() if v is MISSING]:
        del body[name]
    assert_problem(org.clerk.post(f"{API}/disbursements", json=body), 422, field)
    assert disbursement_ids(org.clerk) == []


@pytest.mark.parametrize(("body", "field"), [
    ({"bank_reference": "ICBC-1"}, "paid_on"),
    ({"paid_on": "2026-09-01"}, "bank_reference"),
    ({"paid_on": FUTURE, "bank_reference": "ICBC-1"}, "paid_on"),
    ({"paid_on": "20260901", "bank_reference": "ICBC-1"}, "paid_on"),
    ({"paid_on": "2026-09-01", "bank_reference": ""}, "bank_reference"),
    ({"paid_on": "2026-09-01", "bank_reference": "ICBC-1", "amount": "1.00"}, "amount"),
])
def test_pay_validation(org: Org, body: dict[str, Any], field: str) -> None:
    donate(org.clerk, org.fund)
    disbursement = request_disbursement(org.clerk, org.fund, "10.00")
    assert_ok(org.approver.post(f"{API}/disbursements/{disbursement['id']}/approve"))
    assert_problem(org.clerk.post(f"{API}/disbursements/{disbursement['id']}/pay", json=body), 422, field)
    assert assert_ok(org.clerk.get(f"{API}/disbursements/{disbursement['id']}"))["status"] == "approved"
    assert balance(org.clerk, org.fund) == ("100.00", "90.00")


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "  "}])
def test_rejecting_needs_a_reason(org: Org, body: dict[str, Any]) -> None:
    donate(org.clerk, org.fund)
    disbursement = request_disbursement(org.clerk, org.fund, "10.00")
    assert_problem(org.approver.post(f"{API}/disbursements/{disbursement['id']}/reject", json=body), 422, "reason")
    assert assert_ok(org.clerk.get(f"{API}/disbursements/{disbursement['id']}"))["status"] == "requested"


# -- balances, statements, trial balance, the chain ----------------------------------

def test_a_fund_without_entries_has_a_zero_balance(org: Org) -> None:
    body = assert_ok(org.clerk.get(f"{API}/funds/{org.fund}/balance"))
    assert {k: body[k] for k in ("fund_code", "balance", "available", "currency")} == {
        "fund_code": org.fund, "balance": "0.00", "available": "0.00", "currency": "CNY"}
    assert has_offset(body["as_of"])
    statement = assert_ok(org.clerk.get(f"{API}/funds/{org.fund}/statement"))
    assert (statement["opening_balance"], statement["entries"], statement["closing_balance"]) == ("0.00", [], "0.00")


@pytest.mark.parametrize("suffix", ["balance", "statement"])
def test_unknown_or_foreign_fund_is_404(org: Org, other: Org, suffix: str) -> None:
    foreign = assert_problem(org.clerk.get(f"{API}/funds/{other.fund}/{suffix}"), 404)
    missing = assert_problem(org.clerk.get(f"{API}/funds/NO-SUCH-FUND/{suffix}"), 404)
    assert (foreign["type"], foreign["title"]) == (missing["type"], missing["title"])
    for code in ("tl-hq-001", "A" * 300, "%E5%9F%BA%E9%87%91", "AB"):
        assert_problem(org.clerk.get(f"{API}/funds/{code}/{suffix}"), 404)
    assert_problem(org.clerk.get(f"{API}/ledger/verify", query_string={"fund_code": other.fund}), 404)


def day(offset: int) -> str:
    """The date `offset` days from today (Asia/Shanghai)."""
    return (today() + dt.timedelta(days=offset)).isoformat()


# The history below: two donations on earlier days, then today a payment (a payment
# is dated from its approval, today, to today) and a donation of goods.
FIRST, SECOND, TODAY = -60, -40, 0


@pytest.fixture
def fund_with_history(org: Org) -> Org:
    """+100 sixty days ago, +50 forty days ago; today 30 paid out, then +20 in kind."""
    donate(org.clerk, org.fund, "100.00", received_on=day(FIRST))
    donate(org.clerk, org.fund, "50.00", received_on=day(SECOND))
    disbursement = request_disbursement(org.clerk, org.fund, "30.00")
    assert_ok(org.approver.post(f"{API}/disbursements/{disbursement['id']}/approve"))
    assert_ok(org.clerk.post(f"{API}/disbursements/{disbursement['id']}/pay", json=pay_body()))
    donate(org.clerk, org.fund, "20.00", received_on=day(TODAY), channel="in_kind")
    return org


def movements(statement: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [(line["date"], line["direction"], line["amount"], line["balance_after"]) for line in statement["entries"]]


def test_statement_of_the_whole_history(fund_with_history: Org) -> None:
    org = fund_with_history
    statement = assert_ok(org.clerk.get(f"{API}/funds/{org.fund}/statement"))
    assert (statement["fund_code"], statement["currency"]) == (org.fund, "CNY")
    assert statement["opening_balance"] == "0.00"
    assert movements(statement) == [
        (day(FIRST), "in", "100.00", "100.00"),
        (day(SECOND), "in", "50.00", "150.00"),
        (day(TODAY), "out", "30.00", "120.00"),
        (day(TODAY), "in", "20.00", "140.00"),
    ]
    assert [line["kind"] for line in statement["entries"]] == ["donation", "donation", "disbursement", "donation"]
    assert [line["seq"] for line in statement["entries"]] == [1, 2, 3, 4]
    assert all(has_offset(line["posted_at"]) for line in statement["entries"])
    assert statement["closing_balance"] == "140.00" == balance(org.clerk, org.fund)[0]


@pytest.mark.parametrize(("period", "opening", "expected", "closing"), [
    ((FIRST + 1, TODAY - 1), "100.00", [(SECOND, "in", "50.00", "150.00")], "150.00"),
    ((SECOND, SECOND), "100.00", [(SECOND, "in", "50.00", "150.00")], "150.00"),
    ((SECOND + 1, TODAY - 1), "150.00", [], "150.00"),
    ((TODAY, None), "150.00", [(TODAY, "out", "30.00", "120.00"), (TODAY, "in", "20.00", "140.00")], "140.00"),
    ((None, FIRST + 1), "0.00", [(FIRST, "in", "100.00", "100.00")], "100.00"),
    ((FIRST - 400, FIRST - 1), "0.00", [], "0.00"),
    ((TODAY + 1, None), "140.00", [], "140.00"),
])
def test_statement_of_a_period(fund_with_history: Org, period: tuple[int | None, int | None], opening: str,
                               expected: list[tuple[int, str, str, str]], closing: str) -> None:
    org = fund_with_history
    query = {name: day(offset) for name, offset in zip(("from", "to"), period) if offset is not None}
    statement = assert_ok(org.clerk.get(f"{API}/funds/{org.fund}/statement", query_string=query))
    assert statement["opening_balance"] == opening
    assert movements(statement) == [(day(offset), *rest) for offset, *rest in expected]
    assert statement["closing_balance"] == closing
    assert (statement["from"], statement["to"]) == (query.get("from"), query.get("to"))


def test_statement_from_after_to_is_422(fund_with_history: Org) -> None:
    query = {"from": day(SECOND), "to": day(FIRST)}
    assert_problem(fund_with_history.clerk.get(f"{API}/funds/{fund_with_history.fund}/statement",
                                               query_string=query), 422, "from")


def test_trial_balance(fund_with_history: Org, other: Org) -> None:
    org = fund_with_history
    donate(other.clerk, other.fund, "7.00")
    expected = {f"Assets:Bank:{org.fund}": ("120.00", "0.00"), f"Assets:InKind:{org.fund}": ("20.00", "0.00"),
                f"Funds:{org.fund}:Unrestricted": ("0.00", "140.00")}
    assert accounts(org.clerk) == expected
    body = assert_ok(org.clerk.get(f"{API}/trial-balance"))
    assert (body["total_debits"], body["total_credits"], body["as_of"]) == ("140.00", "140.00", today().isoformat())
    assert body["currency"] == "CNY"
    # Each organisation's keys see its own accounts only.
    assert accounts(org.approver) == expected
    assert accounts(other.clerk) == {f"Assets:Bank:{other.fund}": ("7.00", "0.00"),
                                     f"Funds:{other.fund}:Unrestricted": ("0.00", "7.00")}


def test_admin_trial_balance_covers_every_organization(api: ApiClient, fund_with_history: Org, other: Org) -> None:
    donate(other.clerk, other.fund, "7.00")
    everything = accounts(api)
    assert everything[f"Assets:Bank:{other.fund}"] == ("7.00", "0.00")
    assert everything[f"Funds:{fund_with_history.fund}:Unrestricted"] == ("0.00", "140.00")
    body = assert_ok(api.get(f"{API}/trial-balance"))
    assert body["total_debits"] == body["total_credits"] == "147.00"


@pytest.mark.parametrize(("as_of", "bank", "in_kind", "net_assets"), [
    (FIRST - 1, None, None, None),
    (FIRST, "100.00", None, "100.00"),
    (SECOND + 1, "150.00", None, "150.00"),
    (TODAY, "120.00", "20.00", "140.00"),
])
def test_trial_balance_as_of_leaves_out_later_entries(fund_with_history: Org, as_of: int, bank: str | None,
                                                      in_kind: str | None, net_assets: str | None) -> None:
    org = fund_with_history
    expected = {}
    if bank:
        expected[f"Assets:Bank:{org.fund}"] = (bank, "0.00")
    if in_kind:
        expected[f"Assets:InKind:{org.fund}"] = (in_kind, "0.00")
    if net_assets:
        expected[f"Funds:{org.fund}:Unrestricted"] = ("0.00", net_assets)
    assert accounts(org.clerk, as_of=day(as_of)) == expected
    assert assert_ok(org.clerk.get(f"{API}/trial-balance", query_string={"as_of": day(as_of)}))["as_of"] == day(as_of)


def test_ledger_heads_and_verification(fund_with_history: Org, other: Org, make: Factory) -> None:
    org = fund_with_history
    donate(other.clerk, other.fund)
    make.fund(org.id, "TL-EMPTY")  # no entries, no chain yet

    heads = assert_ok(org.clerk.get(f"{API}/ledger/heads"))
    assert heads["next_cursor"] is None
    (head,) = heads["items"]
    assert (head["fund_code"], head["entries"]) == (org.fund, 4)
    assert re.fullmatch(r"[0-9a-f]{64}", head["head"])

    report = assert_ok(org.clerk.get(f"{API}/ledger/verify"))
    assert report["valid"] is True
    (verdict,) = report["funds"]
    assert {k: verdict[k] for k in ("fund_code", "entries", "head", "valid", "first_bad_entry_id", "problem")} == {
        "fund_code": org.fund, "entries": 4, "head": head["head"], "valid": True, "first_bad_entry_id": None,
        "problem": None}
    one = assert_ok(org.clerk.get(f"{API}/ledger/verify", query_string={"fund_code": org.fund}))
    assert one == report

    # The head moves with every entry.
    donate(org.clerk, org.fund, "1.00")
    (moved,) = assert_ok(org.clerk.get(f"{API}/ledger/heads"))["items"]
    assert moved["entries"] == 5 and moved["head"] != head["head"]


def test_admin_verifies_every_fund(api: ApiClient, fund_with_history: Org, other: Org) -> None:
    donate(other.clerk, other.fund)
    donation = donate(other.clerk, other.fund, "5.00")
    assert_ok(other.clerk.post(f"{API}/donations/{donation['id']}/reverse", json={"reason": "录错"}))
    report = assert_ok(api.get(f"{API}/ledger/verify"))
    assert report["valid"] is True
    assert sorted((v["fund_code"], v["entries"], v["valid"]) for v in report["funds"]) == [
        (fund_with_history.fund, 4, True), (other.fund, 3, True)]
    heads = assert_ok(api.get(f"{API}/ledger/heads"))["items"]
    assert [(h["fund_code"], h["entries"]) for h in heads] == [(fund_with_history.fund, 4), (other.fund, 3)]


# -- authentication and scopes -------------------------------------------------------

@dataclass
class Records:
    donation: int
    disbursement: int


@pytest.fixture
def records(org: Org) -> Records:
    donation = donate(org.clerk, org.fund, "100.00")
    disbursement = request_disbursement(org.clerk, org.fund, "10.00")
    return Records(donation["id"], disbursement["id"])


def endpoints(fund: str, records: Records) -> list[tuple[str, str, Any]]:
    """Every endpoint of the donations API, as (method, path, body)."""
    return [
        ("GET", "/donations", None),
        ("POST", "/donations", donation_body(fund)),
        ("POST", "/donations/batch", [donation_body(fund)]),
        ("GET", f"/donations/{records.donation}", None),
        ("POST", f"/donations/{records.donation}/reverse", {"reason": "录错"}),
        ("GET", "/disbursements", None),
        ("POST", "/disbursements", {"fund_code": fund, "amount": "1.00", "payee": "某人", "purpose": "某事"}),
        ("GET", f"/disbursements/{records.disbursement}", None),
        ("POST", f"/disbursements/{records.disbursement}/approve", None),
        ("POST", f"/disbursements/{records.disbursement}/pay", pay_body()),
        ("POST", f"/disbursements/{records.disbursement}/reject", {"reason": "否"}),
        ("GET", f"/funds/{fund}/balance", None),
        ("GET", f"/funds/{fund}/statement", None),
        ("GET", "/trial-balance", None),
        ("GET", "/ledger/heads", None),
        ("GET", "/ledger/verify", None),
    ]


def unchanged_state(client: ApiClient, fund: str, records: Records) -> tuple[Any, ...]:
    return (donation_ids(client), disbursement_ids(client), balance(client, fund),
            assert_ok(client.get(f"{API}/donations/{records.donation}"))["status"],
            assert_ok(client.get(f"{API}/disbursements/{records.disbursement}"))["status"])


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=",
                                           "Bearer cfk_this-key-was-never-issued", "Token cfk_x"])
def test_every_endpoint_needs_a_valid_key(org: Org, records: Records, authorization: str | None) -> None:
    before = unchanged_state(org.clerk, org.fund, records)
    anonymous = org.clerk.with_key(None)
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path, body in endpoints(org.fund, records):
        assert_problem(anonymous.request(method, f"{API}{path}", json=body, headers=headers), 401)
    assert unchanged_state(org.clerk, org.fund, records) == before


def test_a_key_without_donation_scopes_is_403_everywhere(api: ApiClient, make: Factory, org: Org,
                                                         records: Records) -> None:
    before = unchanged_state(org.clerk, org.fund, records)
    funds_only = api.with_key(make.api_key(org.id, ["funds:read", "funds:write", "reports:read"]))
    for method, path, body in endpoints(org.fund, records):
        assert_problem(funds_only.request(method, f"{API}{path}", json=body), 403)
    assert unchanged_state(org.clerk, org.fund, records) == before


def test_a_read_only_key_reads_but_writes_nothing(api: ApiClient, make: Factory, org: Org, records: Records) -> None:
    before = unchanged_state(org.clerk, org.fund, records)
    auditor = api.with_key(make.api_key(org.id, ["donations:read"], "审计"))
    for method, path, body in endpoints(org.fund, records):
        response = auditor.request(method, f"{API}{path}", json=body)
        if method == "POST":
            assert_problem(response, 403)
        else:
            assert_ok(response)
    assert unchanged_state(org.clerk, org.fund, records) == before


def test_a_revoked_key_is_refused_within_five_seconds(api: ApiClient, make: Factory, org: Org) -> None:
    issued = assert_ok(api.post(f"{FUNDS_API}/organizations/{org.id}/api-keys",
                                json={"name": "即将吊销", "scopes": CLERK_SCOPES}), 201)
    client = api.with_key(issued["key"])
    donate(client, org.fund, "1.00")
    assert_ok(client.get(f"{API}/donations"))
    revoked = api.delete(f"{FUNDS_API}/organizations/{org.id}/api-keys/{issued['id']}")
    assert revoked.status_code == 204

    deadline = time.monotonic() + 5
    while client.get(f"{API}/donations").status_code != 401:
        assert time.monotonic() < deadline, "a revoked key still works after 5 seconds"
        time.sleep(0.1)
    assert_problem(client.get(f"{API}/funds/{org.fund}/balance"), 401)
    assert_problem(client.post(f"{API}/donations", json=donation_body(org.fund)), 401)
    assert_problem(batch_json(client, [donation_body(org.fund)]), 401)
    assert balance(org.clerk, org.fund) == ("1.00", "1.00")


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("DELETE", "/donations", {"GET", "POST"}),
    ("PUT", "/donations/1", {"GET"}),
    ("DELETE", "/donations/1", {"GET"}),
    ("GET", "/donations/1/reverse", {"POST"}),
    ("GET", "/donations/batch", {"POST"}),
    ("PATCH", "/disbursements/1", {"GET"}),
    ("GET", "/disbursements/1/approve", {"POST"}),
    ("POST", "/funds/TL-HQ-001/balance", {"GET"}),
    ("POST", "/trial-balance", {"GET"}),
])
def test_wrong_method_is_405_with_allow(org: Org, method: str, path: str, allowed: set[str]) -> None:
    response = org.clerk.request(method, f"{API}{path}", json={})
    assert_problem(response, 405)
    assert allowed <= {name.strip() for name in response.headers["Allow"].split(",")}


# -- idempotency ---------------------------------------------------------------------

def replays(first: TestResponse, again: TestResponse) -> bool:
    return (first.status_code, first.get_data()) == (again.status_code, again.get_data())


def test_a_retried_donation_is_recorded_once(org: Org) -> None:
    body = donation_body(org.fund, "1280.00", reference="ERP-1")
    headers = {"Idempotency-Key": "donation-ERP-1"}
    first = org.clerk.post(f"{API}/donations", json=body, headers=headers)
    again = org.clerk.post(f"{API}/donations", json=body, headers=headers)
    # The same JSON, spelt differently, is the same request.
    respelt = org.clerk.post(f"{API}/donations", data=json.dumps(body, indent=2, ensure_ascii=True),
                             headers={**headers, "Content-Type": "application/json"})
    assert first.status_code == 201
    assert replays(first, again) and replays(first, respelt)
    assert again.mimetype == "application/json"
    assert donation_ids(org.clerk) == [first.json["id"]]
    assert balance(org.clerk, org.fund) == ("1280.00", "1280.00")

    changed = donation_body(org.fund, "1280.01", reference="ERP-1")
    assert_problem(org.clerk.post(f"{API}/donations", json=changed, headers=headers), 422, "Idempotency-Key")
    assert donation_ids(org.clerk) == [first.json["id"]]


def test_idempotency_keys_are_per_caller(org: Org, other: Org) -> None:
    headers = {"Idempotency-Key": "same-key"}
    mine = assert_ok(org.clerk.post(f"{API}/donations", json=donation_body(org.fund), headers=headers), 201)
    theirs = assert_ok(other.clerk.post(f"{API}/donations", json=donation_body(other.fund), headers=headers), 201)
    assert mine["id"] != theirs["id"]
    assert donation_ids(org.clerk) == [mine["id"]] and donation_ids(other.clerk) == [theirs["id"]]


@pytest.mark.parametrize("key", ["", "k" * 256, "a\x00b"])
def test_a_bad_idempotency_key_is_422(org: Org, key: str) -> None:
    assert_problem(org.clerk.post(f"{API}/donations", json=donation_body(org.fund),
                                  headers={"Idempotency-Key": key}), 422, "Idempotency-Key")
    assert donation_ids(org.clerk) == []


@pytest.mark.parametrize("kind", ["json", "csv"])
def test_a_retried_batch_is_recorded_once(org: Org, kind: str) -> None:
    headers = {"Idempotency-Key": f"batch-{kind}"}

    def send(amount: str) -> TestResponse:
        if kind == "json":
            return batch_json(org.clerk, [donation_body(org.fund, amount), donation_body(org.fund, "1.505")],
                              headers=headers)
        return batch_csv(org.clerk, f"{CSV_HEADER}\n{csv_row(org.fund, amount)}\n{csv_row(org.fund, '1.505')}\n",
                         headers=headers)

    first, again = send("10.00"), send("10.00")
    assert statuses(first) == [(1 if kind == "json" else 2, "recorded"), (2 if kind == "json" else 3, "invalid")]
    assert replays(first, again)
    assert_problem(send("20.00"), 422, "Idempotency-Key")
    assert len(donation_ids(org.clerk)) == 1
    assert balance(org.clerk, org.fund) == ("10.00", "10.00")


def test_a_retried_reversal_answers_as_the_first(org: Org) -> None:
    donation = donate(org.clerk, org.fund)
    headers = {"Idempotency-Key": "reverse-1"}
    path = f"{API}/donations/{donation['id']}/reverse"
    first = org.clerk.post(path, json={"reason": "录错"}, headers=headers)
    again = org.clerk.post(path, json={"reason": "录错"}, headers=headers)
    assert first.status_code == 200 and replays(first, again)
    assert_problem(org.clerk.post(path, json={"reason": "别的理由"}, headers=headers), 422, "Idempotency-Key")
    assert [line["kind"] for line in statement_lines(org.clerk, org.fund)] == ["donation", "reversal"]


def test_retried_disbursement_request_approval_and_payment(org: Org) -> None:
    donate(org.clerk, org.fund, "100.00")
    body = {"fund_code": org.fund, "amount": "30.00", "payee": "铜陵市第一中学", "purpose": "助学"}
    request_headers = {"Idempotency-Key": "request-1"}
    requested = org.clerk.post(f"{API}/disbursements", json=body, headers=request_headers)
    assert requested.status_code == 201
    assert replays(requested, org.clerk.post(f"{API}/disbursements", json=body, headers=request_headers))
    assert disbursement_ids(org.clerk) == [requested.json["id"]]
    other_one = request_disbursement(org.clerk, org.fund, "5.00")

    path = f"{API}/disbursements/{requested.json['id']}"
    approve_headers = {"Idempotency-Key": "approve-1"}
    approved = org.approver.post(f"{path}/approve", headers=approve_headers)
    assert approved.status_code == 200
    assert replays(approved, org.approver.post(f"{path}/approve", headers=approve_headers))
    assert balance(org.clerk, org.fund) == ("100.00", "70.00")
    # The same key for another disbursement is another request.
    assert_problem(org.approver.post(f"{API}/disbursements/{other_one['id']}/approve", headers=approve_headers),
                   422, "Idempotency-Key")
    assert assert_ok(org.clerk.get(f"{API}/disbursements/{other_one['id']}"))["status"] == "requested"

    pay_headers = {"Idempotency-Key": "pay-1"}
    paid = org.clerk.post(f"{path}/pay", json=pay_body("ICBC-1"), headers=pay_headers)
    assert paid.status_code == 200
    assert replays(paid, org.clerk.post(f"{path}/pay", json=pay_body("ICBC-1"), headers=pay_headers))
    assert_problem(org.clerk.post(f"{path}/pay", json=pay_body("ICBC-2"), headers=pay_headers), 422,
                   "Idempotency-Key")
    assert balance(org.clerk, org.fund) == ("70.00", "70.00")
    assert [line["kind"] for line in statement_lines(org.clerk, org.fund)] == ["donation", "disbursement"]
    assert assert_ok(org.clerk.get(path))["bank_reference"] == "ICBC-1"


def test_a_refused_request_is_not_kept_under_its_key(org: Org) -> None:
    donate(org.clerk, org.fund, "10.00")
    disbursement = request_disbursement(org.clerk, org.fund, "20.00")
    headers = {"Idempotency-Key": "approve-too-early"}
    path = f"{API}/disbursements/{disbursement['id']}/approve"
    assert_problem(org.approver.post(path, headers=headers), 409)
    donate(org.clerk, org.fund, "10.00")
    # Now there is enough: the retry runs afresh instead of replaying the refusal.
    assert assert_ok(org.approver.post(path, headers=headers))["status"] == "approved"
    assert balance(org.clerk, org.fund) == ("20.00", "0.00")


# -- money is exact ------------------------------------------------------------------

def fen(amount: str) -> int:
    units, cents = amount.split(".")
    return int(units) * 100 + int(cents)


def test_a_thousand_fen_and_a_hundred_jiao_sum_exactly(org: Org) -> None:
    rows = [donation_body(org.fund, "0.01") for _ in range(500)]
    assert {status for _, status in statuses(batch_json(org.clerk, rows))} == {"recorded"}
    content = CSV_HEADER + "\n" + "\n".join(csv_row(org.fund, "0.01") for _ in range(500)) + "\n"
    assert {status for _, status in statuses(batch_csv(org.clerk, content))} == {"recorded"}
    for _ in range(100):
        donate(org.clerk, org.fund, "0.10")

    assert balance(org.clerk, org.fund) == ("20.00", "20.00")
    statement = assert_ok(org.clerk.get(f"{API}/funds/{org.fund}/statement"))
    assert len(statement["entries"]) == 1100
    assert statement["closing_balance"] == statement["entries"][-1]["balance_after"] == "20.00"
    running = 0
    for line in statement["entries"]:
        running += fen(line["amount"])
        assert fen(line["balance_after"]) == running
    assert accounts(org.clerk) == {f"Assets:Bank:{org.fund}": ("20.00", "0.00"),
                                   f"Funds:{org.fund}:Unrestricted": ("0.00", "20.00")}
    trial = assert_ok(org.clerk.get(f"{API}/trial-balance"))
    assert trial["total_debits"] == trial["total_credits"] == "20.00"
    assert assert_ok(org.clerk.get(f"{API}/ledger/verify"))["valid"] is True


def test_amounts_that_floats_get_wrong_are_exact(org: Org) -> None:
    for amount in ("0.10", "0.20", "1000000000.00", "1000000000.00", "1000000000.00", "0.07"):
        donate(org.clerk, org.fund, amount)
    assert balance(org.clerk, org.fund) == ("3000000000.37", "3000000000.37")
    disbursement = request_disbursement(org.clerk, org.fund, "999999999.99")
    assert_ok(org.approver.post(f"{API}/disbursements/{disbursement['id']}/approve"))
    assert balance(org.clerk, org.fund) == ("3000000000.37", "2000000000.38")
    assert_ok(org.clerk.post(f"{API}/disbursements/{disbursement['id']}/pay", json=pay_body()))
    assert balance(org.clerk, org.fund) == ("2000000000.38", "2000000000.38")
    statement = assert_ok(org.clerk.get(f"{API}/funds/{org.fund}/statement"))
    assert [line["balance_after"] for line in statement["entries"]][:2] == ["0.10", "0.30"]
    assert statement["closing_balance"] == "2000000000.38"
    trial = assert_ok(org.clerk.get(f"{API}/trial-balance"))
    assert trial["total_debits"] == trial["total_credits"] == "2000000000.38"


@pytest.mark.parametrize(("amount", "words"), [
    ("0.01", "壹分"), ("0.10", "壹角整"), ("1.05", "壹元零伍分"), ("1280.00", "壹仟贰佰捌拾元整"),
    ("100010.50", "壹拾万零壹拾元伍角整"), ("1000000000.00", "壹拾亿元整"),
])
def test_amount_in_words_as_on_the_receipt(org: Org, amount: str, words: str) -> None:
    assert donate(org.clerk, org.fund, amount)["amount_in_words"] == words


# -- closing a fund ------------------------------------------------------------------

def test_a_fund_closes_only_when_empty_and_then_takes_nothing(api: ApiClient, org: Org) -> None:
    first = donate(org.clerk, org.fund, "100.00")
    second = donate(org.clerk, org.fund, "50.00", channel="in_kind")

    refused = assert_problem(set_fund_status(api, org.fund, "close"), 409)
    assert "150.00" in refused["detail"]
    assert assert_ok(api.get(f"{FUNDS_API}/funds/{org.fund}"))["status"] == "active"
    assert donate(org.clerk, org.fund, "1.00")["status"] == "recorded"  # still open

    for donation in assert_ok(org.clerk.get(f"{API}/donations"))["items"]:
        assert_ok(org.clerk.post(f"{API}/donations/{donation['id']}/reverse", json={"reason": "基金撤销，退回捐赠"}))
    assert balance(org.clerk, org.fund) == ("0.00", "0.00")
    assert assert_ok(set_fund_status(api, org.fund, "close"))["status"] == "closed"

    assert_problem(org.clerk.post(f"{API}/donations", json=donation_body(org.fund)), 409)
    (row,) = results(batch_json(org.clerk, [donation_body(org.fund)]))
    assert (row["status"], set(row["errors"])) == ("invalid", {"fund_code"})
    body = {"fund_code": org.fund, "amount": "1.00", "payee": "某人", "purpose": "某事"}
    assert_problem(org.clerk.post(f"{API}/disbursements", json=body), 409)
    assert balance(org.clerk, org.fund) == ("0.00", "0.00")
    # Its history stays readable, and intact.
    assert [d["status"] for d in assert_ok(org.clerk.get(f"{API}/donations"))["items"]] == ["reversed"] * 3
    assert {first["receipt_no"], second["receipt_no"]} <= {
        d["receipt_no"] for d in assert_ok(org.clerk.get(f"{API}/donations"))["items"]}
    assert assert_ok(org.clerk.get(f"{API}/ledger/verify"))["valid"] is True


def test_a_fund_paid_out_to_zero_closes(api: ApiClient, org: Org) -> None:
    donate(org.clerk, org.fund, "100.00")
    disbursement = request_disbursement(org.clerk, org.fund, "100.00")
    assert_ok(org.approver.post(f"{API}/disbursements/{disbursement['id']}/approve"))
    # Money reserved for an approved payment is still in the fund.
    assert_problem(set_fund_status(api, org.fund, "close"), 409)
    assert_ok(org.clerk.post(f"{API}/disbursements/{disbursement['id']}/pay", json=pay_body()))
    assert assert_ok(set_fund_status(api, org.fund, "close"))["status"] == "closed"


# -- OpenAPI ----------------------------------------------------------------------------

CONTRACT = {
    "/api/v1/donations": {"get", "post"},
    "/api/v1/donations/batch": {"post"},
    "/api/v1/donations/{donation_id}": {"get"},
    "/api/v1/donations/{donation_id}/reverse": {"post"},
    "/api/v1/disbursements": {"get", "post"},
    "/api/v1/disbursements/{disbursement_id}": {"get"},
    "/api/v1/disbursements/{disbursement_id}/approve": {"post"},
    "/api/v1/disbursements/{disbursement_id}/pay": {"post"},
    "/api/v1/disbursements/{disbursement_id}/reject": {"post"},
    "/api/v1/funds/{code}/balance": {"get"},
    "/api/v1/funds/{code}/statement": {"get"},
    "/api/v1/trial-balance": {"get"},
    "/api/v1/ledger/heads": {"get"},
    "/api/v1/ledger/verify": {"get"},
}


def test_openapi_document_is_valid_and_lists_every_endpoint(api: ApiClient) -> None:
    from schemathesis.specs.openapi.definitions import OPENAPI_30_VALIDATOR

    spec = assert_ok(api.get("/donations/openapi.json"))
    OPENAPI_30_VALIDATOR.validate(spec)
    for path, methods in CONTRACT.items():
        assert path in spec["paths"], sorted(spec["paths"])
        assert methods <= set(spec["paths"][path]), (path, sorted(spec["paths"][path]))
    donation = spec["components"]["schemas"]["Donation"]["properties"]
    assert DONATION_FIELDS | DONATION_EXTENSIONS <= set(donation)
    disbursement = spec["components"]["schemas"]["Disbursement"]["properties"]
    assert DISBURSEMENT_FIELDS | {"category"} <= set(disbursement)
    assert disbursement["category"]["enum"] == ["programme", "management", "fundraising"]
    request = spec["components"]["schemas"]["DisbursementCreate"]["properties"]
    assert request["category"]["enum"] == ["programme", "management", "fundraising"]
    statement = spec["components"]["schemas"]["Statement"]["properties"]
    assert {"opening_balance", "entries", "closing_balance", "from", "to"} <= set(statement)


def test_donated_goods_are_not_cash_to_pay_out(api: ApiClient, make: Factory) -> None:
    org = make_org(api, make, code="GOODS-01")
    donate(org.clerk, org.fund, "500.00", channel="in_kind")
    donate(org.clerk, org.fund, "100.00")
    assert balance(org.clerk, org.fund) == ("600.00", "600.00")
    request = assert_ok(org.clerk.post(f"{API}/disbursements", json={
        "fund_code": org.fund, "amount": "300.00", "payee": "某村", "purpose": "修路"}), 201)

    refused = assert_problem(org.approver.post(f"{API}/disbursements/{request['id']}/approve"), 409)

    assert "cash" in refused["detail"]
    assert balance(org.clerk, org.fund) == ("600.00", "600.00")


def test_a_cash_reversal_cannot_take_the_bank_below_approved_payments(api: ApiClient, make: Factory) -> None:
    org = make_org(api, make, code="GOODS-02")
    goods = donate(org.clerk, org.fund, "500.00", channel="in_kind")
    cash = donate(org.clerk, org.fund, "100.00")
    request = assert_ok(org.clerk.post(f"{API}/disbursements", json={
        "fund_code": org.fund, "amount": "80.00", "payee": "某村", "purpose": "修路"}), 201)
    assert_ok(org.approver.post(f"{API}/disbursements/{request['id']}/approve"))

    assert_problem(org.clerk.post(f"{API}/donations/{cash['id']}/reverse", json={"reason": "退款"}), 409)
    assert_ok(org.clerk.post(f"{API}/donations/{goods['id']}/reverse", json={"reason": "物资退回"}))
    assert balance(org.clerk, org.fund) == ("100.00", "20.00")
