"""Rules the ledger holds itself, in the database, whoever asks: a payment's date,
balances on every past day, the steps of a disbursement, and refusals known
by their constraint's name."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest

from services.donations.ledger import problem_of
from tests.conftest import ApiClient, Factory
from tests.helpers import assert_ok, assert_problem
from tests.test_donations_api import API, Org, donate, make_org, pay_body, request_disbursement, today
from tests.test_ledger_race import database_dsn


@pytest.fixture
def org(api: ApiClient, make: Factory) -> Org:
    return make_org(api, make, code="RULE-001")


@pytest.fixture
def owner(database_url: str) -> Any:
    with psycopg.connect(database_dsn(database_url), autocommit=True) as connection:
        yield connection


def days_ago(days: int) -> str:
    return (today() - dt.timedelta(days=days)).isoformat()


def approved(org: Org, amount: str) -> dict[str, Any]:
    disbursement = request_disbursement(org.clerk, org.fund, amount)
    return assert_ok(org.approver.post(f"{API}/disbursements/{disbursement['id']}/approve"))  # type: ignore[no-any-return]


def test_a_payment_is_dated_neither_before_its_approval_nor_in_the_future(org: Org) -> None:
    donate(org.clerk, org.fund, "500.00", received_on=days_ago(30))
    disbursement = approved(org, "100.00")
    early = assert_problem(org.clerk.post(f"{API}/disbursements/{disbursement['id']}/pay",
                                          json=pay_body(paid_on="2000-01-01")), 422, "paid_on")
    assert early["codes"] == {"paid_on": ["paid_before_approval"]}
    assert today().isoformat() in early["detail"]
    tomorrow = (today() + dt.timedelta(days=1)).isoformat()
    late = assert_problem(org.clerk.post(f"{API}/disbursements/{disbursement['id']}/pay",
                                         json=pay_body(paid_on=tomorrow)), 422, "paid_on")
    assert late["codes"] == {"paid_on": ["date_in_future"]}
    paid = assert_ok(org.clerk.post(f"{API}/disbursements/{disbursement['id']}/pay", json=pay_body()))
    assert paid["paid_on"] == today().isoformat()


def backdate_approval(owner: psycopg.Connection[Any], disbursement_id: int, days: int) -> None:
    """As if the approval had been given `days` ago (the guard refuses such an edit: bypassed here)."""
    with owner.transaction():
        owner.execute("SET LOCAL session_replication_role = replica")
        owner.execute("UPDATE donations.disbursement SET decided_at = decided_at - make_interval(days => %s) "
                      "WHERE id = %s", (days, disbursement_id))


def test_no_balance_goes_below_zero_on_any_past_day(org: Org, owner: psycopg.Connection[Any]) -> None:
    # Money arrived two days ago; the payment was approved five days ago.
    donate(org.clerk, org.fund, "100.00", received_on=days_ago(2))
    disbursement = approved(org, "100.00")
    backdate_approval(owner, disbursement["id"], 5)

    # Paid on the day it was approved, the fund would have been 100.00 short for three days.
    refused = assert_problem(org.clerk.post(f"{API}/disbursements/{disbursement['id']}/pay",
                                            json=pay_body(paid_on=days_ago(5))), 409)
    assert refused["code"] == "balance_below_zero"
    assert refused["params"]["date"] == days_ago(5) and refused["params"]["account"] == "bank"
    # Paid once the money was there, it is fine; the statement never dips below zero.
    assert_ok(org.clerk.post(f"{API}/disbursements/{disbursement['id']}/pay", json=pay_body(paid_on=days_ago(2))))
    statement = assert_ok(org.clerk.get(f"{API}/funds/{org.fund}/statement"))
    assert [line["balance_after"] for line in statement["entries"]] == ["100.00", "0.00"]
    for offset in range(6):
        trial = assert_ok(org.clerk.get(f"{API}/trial-balance", query_string={"as_of": days_ago(offset)}))
        assert all(not row["debit"].startswith("-") and not row["credit"].startswith("-")
                   for row in trial["accounts"])
    assert assert_ok(org.clerk.get(f"{API}/ledger/verify"))["valid"]


@pytest.mark.parametrize("change", [
    "status = 'requested'",                       # paid -> requested
    "status = 'approved'",                        # paid -> approved
    "amount_fen = amount_fen + 1",                # paid, and the amount changes
    "bank_reference = 'OTHER'",                   # paid: what was recorded changes
    "category = 'management'",                    # paid: what it was spent on changes
    "status = 'rejected', rejected_by = 'key:9', reject_reason = 'x'",  # paid -> rejected
])
def test_a_paid_disbursement_never_changes(org: Org, owner: psycopg.Connection[Any], change: str) -> None:
    donate(org.clerk, org.fund, "100.00")
    disbursement = approved(org, "50.00")
    assert_ok(org.clerk.post(f"{API}/disbursements/{disbursement['id']}/pay", json=pay_body()))
    with pytest.raises(psycopg.errors.CheckViolation) as refused:
        owner.execute(f"UPDATE donations.disbursement SET {change} WHERE id = %s", (disbursement["id"],))
    assert refused.value.diag.constraint_name == "disbursement_transition"


@pytest.mark.parametrize("change", [
    "status = 'paid'",                                  # skips approval, and pays without an entry
    "status = 'approved'",                              # approved without an approver
    "approved_by = 'key:9', approved_by_name = 'x'",    # an approver without an approval
    "payee = '别人'",                                     # what was asked changes
    "category = 'fundraising'",                         # so does what it is for
])
def test_a_requested_disbursement_moves_only_by_its_steps(org: Org, owner: psycopg.Connection[Any],
                                                          change: str) -> None:
    disbursement = request_disbursement(org.clerk, org.fund, "10.00")
    with pytest.raises(psycopg.errors.CheckViolation) as refused:
        owner.execute(f"UPDATE donations.disbursement SET {change} WHERE id = %s", (disbursement["id"],))
    assert refused.value.diag.constraint_name == "disbursement_transition"


def test_a_disbursement_is_born_requested(org: Org, owner: psycopg.Connection[Any]) -> None:
    fund_id = owner.execute("SELECT id FROM donations.fund_ledger WHERE code = %s", (org.fund,))
    with pytest.raises(psycopg.errors.CheckViolation):
        owner.execute(
            "INSERT INTO donations.disbursement (fund_id, fund_code, organization_id, amount_fen, payee, purpose, "
            "status, requested_by, requested_by_name, approved_by, approved_by_name, created_at, decided_at) "
            "VALUES (%s, %s, %s, 100, 'x', 'x', 'approved', 'key:1', 'a', 'key:2', 'b', now(), now())",
            (fund_id.fetchone(), org.fund, org.id))


def test_a_constraint_that_refuses_is_known_by_its_name(org: Org, owner: psycopg.Connection[Any]) -> None:
    donate(org.clerk, org.fund, "10.00")
    with pytest.raises(psycopg.errors.CheckViolation) as caught:
        owner.execute("UPDATE donations.fund_ledger SET reserved_fen = bank_fen + 1 WHERE code = %s", (org.fund,))
    problem = problem_of(caught.value)
    assert problem is not None and problem.code == "ledger_rule" and problem.status == 409
    assert problem.params["rule"] in ("ck_fund_ledger_bank_covers_reserved", "ck_fund_ledger_available_not_negative")
    with pytest.raises(psycopg.Error) as caught:
        owner.execute("SELECT donations.refuse('insufficient_cash', '{\"fund_code\": \"X\", \"cash_fen\": 150, "
                      "\"amount_fen\": 2000}')")
    refusal = problem_of(caught.value)
    assert refusal is not None and refusal.code == "insufficient_cash"
    assert refusal.detail == ("Fund X has 1.50 CNY of cash available, less than the 20.00 CNY to approve (the rest "
                              "is donated goods, which are not paid out).")
