"""A fund's status, held by two services: the funds service decides it, the ledger
moves the money. Money stops the instant a freeze or a close commits, whatever
the donations service last cached; and when the two services' calls fail half
way, the ledger is never freer than what the funds service committed, and is
repaired by the funds service's final word."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import ApiClient, Factory
from tests.helpers import assert_ok, assert_problem
from tests.test_donations_api import (
    API, FUNDS_API, Org, donate, donation_body, make_org, pay_body, request_disbursement,
)
from tests.test_ledger_race import database_dsn


@pytest.fixture
def org(api: ApiClient, make: Factory) -> Org:
    organization = make_org(api, make, code="ST-001")
    donate(organization.clerk, organization.fund, "1000.00")
    return organization


def ledger_row(database_url: str, code: str) -> tuple[Any, ...]:
    with psycopg.connect(database_dsn(database_url)) as connection:
        return connection.execute(  # type: ignore[return-value]
            "SELECT status, pending_status FROM donations.fund_ledger WHERE code = %s", (code,)).fetchone()


def test_money_stops_the_instant_a_freeze_commits(api: ApiClient, org: Org) -> None:
    requested = request_disbursement(org.clerk, org.fund, "100.00")
    approved = request_disbursement(org.clerk, org.fund, "50.00")
    assert_ok(org.approver.post(f"{API}/disbursements/{approved['id']}/approve"))
    # The donations service has just heard the fund is active, and may believe it for seconds.
    assert assert_ok(org.clerk.get(f"{API}/funds/{org.fund}/balance"))["status"] == "active"

    assert assert_ok(api.post(f"{FUNDS_API}/funds/{org.fund}/freeze"))["status"] == "frozen"
    # No wait: the ledger applied the freeze before the funds service committed it.
    refused = assert_problem(org.approver.post(f"{API}/disbursements/{requested['id']}/approve"), 409)
    assert refused["code"] == "fund_frozen" and refused["type"].endswith("/fund_frozen")
    assert_problem(org.clerk.post(f"{API}/disbursements/{approved['id']}/pay", json=pay_body()), 409)
    donated = assert_problem(org.clerk.post(f"{API}/donations/1/reverse", json={"reason": "退款"}), 409)
    assert donated["code"] == "fund_frozen"
    # A frozen fund still takes donations.
    assert org.clerk.post(f"{API}/donations", json=donation_body(org.fund, "1.00")).status_code == 201

    assert_ok(api.post(f"{FUNDS_API}/funds/{org.fund}/unfreeze"))
    assert_ok(org.approver.post(f"{API}/disbursements/{requested['id']}/approve"))
    assert_ok(org.clerk.post(f"{API}/disbursements/{approved['id']}/pay", json=pay_body()))


def test_money_stops_the_instant_a_close_commits(api: ApiClient, make: Factory) -> None:
    empty = make_org(api, make, code="ST-EMPTY")
    assert empty.clerk.get(f"{API}/funds/{empty.fund}/balance").status_code == 200  # cached as active
    assert_ok(api.post(f"{FUNDS_API}/funds/{empty.fund}/close"))
    refused = assert_problem(empty.clerk.post(f"{API}/donations", json=donation_body(empty.fund)), 409)
    assert refused["code"] == "fund_closed"


class LosesAnswers(httpx.BaseTransport):
    """The network between two services, failing requests whose path ends so: after the
    peer answered (the answer is lost), or before it heard anything."""

    def __init__(self, inner: httpx.BaseTransport, path_end: str, *, delivered: bool) -> None:
        self.inner = inner
        self.path_end = path_end
        self.delivered = delivered
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith(self.path_end):
            return self.inner.handle_request(request)
        self.lost += 1
        if not self.delivered:
            raise httpx.ConnectError("the peer could not be reached")
        self.inner.handle_request(request).read()
        raise httpx.ReadError("the connection dropped after the peer had answered")


def lose_answers(gateway: Any, path_end: str, *, delivered: bool = True, caller: str = "funds",
                 peer: str = "donations") -> LosesAnswers:
    """From now on the caller's calls to its peer (by default, the funds service's to the
    ledger) ending in `path_end` fail."""
    peers = gateway.apps[caller].extensions["peers"]
    client = peers.client(peer)
    transport = LosesAnswers(client._transport, path_end, delivered=delivered)
    peers._clients[peer] = httpx.Client(transport=transport, base_url=client.base_url,
                                               headers=client.headers)
    return transport


def test_a_close_whose_commit_fails_after_the_ledger_prepared_it(api: ApiClient, make: Factory, gateway: Any,
                                                                 database_url: str) -> None:
    empty = make_org(api, make, code="ST-HALF")
    lost = lose_answers(gateway, "/status/prepare")
    # The ledger prepares the close and answers; the answer is lost, so the funds service
    # does not commit it.
    assert_problem(api.post(f"{FUNDS_API}/funds/{empty.fund}/close"), 503)
    assert lost.lost == 1
    assert assert_ok(api.get(f"{FUNDS_API}/funds/{empty.fund}"))["status"] == "active"
    assert ledger_row(database_url, empty.fund) == ("active", "closed")  # never freer than committed

    # The ledger meets a close nobody confirmed, asks the funds service for its final word
    # (active: the close never committed), and takes the donation.
    assert empty.clerk.post(f"{API}/donations", json=donation_body(empty.fund, "5.00")).status_code == 201
    assert ledger_row(database_url, empty.fund) == ("active", None)


def test_a_close_whose_settle_is_lost_is_settled_by_the_funds_services_final_word(
        api: ApiClient, make: Factory, gateway: Any, database_url: str) -> None:
    empty = make_org(api, make, code="ST-LATE")
    assert empty.clerk.get(f"{API}/funds/{empty.fund}/balance").status_code == 200  # cached as active
    lose_answers(gateway, "/status/settle", delivered=False)
    # Committed in the funds service; the ledger, which prepared it, never hears so.
    assert assert_ok(api.post(f"{FUNDS_API}/funds/{empty.fund}/close"))["status"] == "closed"
    assert ledger_row(database_url, empty.fund) == ("active", "closed")
    refused = assert_problem(empty.clerk.post(f"{API}/donations", json=donation_body(empty.fund)), 409)
    assert refused["code"] == "fund_closed"
    assert ledger_row(database_url, empty.fund) == ("closed", None)


def test_a_retried_close_after_a_failure_closes(api: ApiClient, make: Factory, gateway: Any,
                                                database_url: str) -> None:
    empty = make_org(api, make, code="ST-RETRY")
    lose_answers(gateway, "/status/prepare")
    assert_problem(api.post(f"{FUNDS_API}/funds/{empty.fund}/close"), 503)
    peers = gateway.apps["funds"].extensions["peers"]
    peers._clients.pop("donations")  # the network is back
    assert assert_ok(api.post(f"{FUNDS_API}/funds/{empty.fund}/close"))["status"] == "closed"
    assert ledger_row(database_url, empty.fund) == ("closed", None)


def test_a_fund_holding_money_cannot_close_and_stays_as_it_was(api: ApiClient, org: Org,
                                                               database_url: str) -> None:
    refused = assert_problem(api.post(f"{FUNDS_API}/funds/{org.fund}/close"), 409)
    assert refused["code"] == "fund_not_empty" and "1000.00" in refused["detail"]
    assert assert_ok(api.get(f"{FUNDS_API}/funds/{org.fund}"))["status"] == "active"
    assert ledger_row(database_url, org.fund) == ("active", None)


def test_a_late_or_repeated_status_message_changes_nothing(api: ApiClient, org: Org, gateway: Any,
                                                           database_url: str) -> None:
    assert_ok(api.post(f"{FUNDS_API}/funds/{org.fund}/freeze"))
    assert_ok(api.post(f"{FUNDS_API}/funds/{org.fund}/unfreeze"))
    assert ledger_row(database_url, org.fund) == ("active", None)
    # The freeze's settle arriving again, late: its version is older than the unfreeze's.
    ledger = gateway.apps["funds"].extensions["ledger"]
    with gateway.apps["funds"].app_context():
        ledger.settle_status(org.fund, "frozen", 1)
    assert ledger_row(database_url, org.fund) == ("active", None)


def test_a_funds_service_out_of_reach_is_a_503_not_a_missing_fund(api: ApiClient, make: Factory,
                                                                  gateway: Any) -> None:
    unheard = make_org(api, make, code="ST-DARK")
    assert unheard.clerk.get(f"{API}/donations").status_code == 200  # the key is known; the fund not yet
    lose_answers(gateway, f"/funds/{unheard.fund}", delivered=False, caller="donations", peer="funds")
    single = assert_problem(unheard.clerk.post(f"{API}/donations", json=donation_body(unheard.fund)), 503)
    assert single["code"] == "service_unavailable"
    batch = assert_problem(unheard.clerk.post(f"{API}/donations/batch", json=[donation_body(unheard.fund)]), 503)
    assert batch["code"] == "service_unavailable"
    assert_problem(unheard.clerk.post(f"{API}/disbursements", json={
        "fund_code": unheard.fund, "amount": "1.00", "payee": "某村", "purpose": "修路"}), 503)
