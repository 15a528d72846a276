"""The ledger's rules as the database holds them, tamper evidence, and a
property-based test of the ledger's arithmetic."""

from __future__ import annotations

import itertools
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from shared.dates import today
from tests.conftest import ApiClient, Factory
from tests.test_ledger_race import assert_ledger_consistent, database_dsn

API = "/donations/api/v1"


@pytest.fixture
def db(database_url: str) -> Any:
    with psycopg.connect(database_dsn(database_url), autocommit=True) as connection:
        yield connection


@pytest.fixture
def busy_fund(api: ApiClient, make: Factory) -> dict[str, Any]:
    """A fund with donations, a reversal and a paid disbursement."""
    organization = make.organization()
    make.fund(organization["id"], "TAMPER-1", restricted=True)
    donations = [make.donation("TAMPER-1", amount) for amount in ("100.00", "250.50", "3.14")]
    assert api.post(f"{API}/donations/{donations[2]['id']}/reverse", json={"reason": "录错"}).status_code == 200
    approver = make.api_key(organization["id"], ["disbursements:approve", "donations:read"])
    disbursement = api.post(f"{API}/disbursements", json={
        "fund_code": "TAMPER-1", "amount": "50.00", "payee": "某村", "purpose": "助学"}).json
    assert api.post(f"{API}/disbursements/{disbursement['id']}/approve", key=approver).status_code == 200
    assert api.post(f"{API}/disbursements/{disbursement['id']}/pay",
                    json={"paid_on": today().isoformat(), "bank_reference": "B-1"}).status_code == 200
    return {"donations": donations, "disbursement": disbursement, "approver": approver}


def verify(api: ApiClient) -> dict[str, Any]:
    response = api.get(f"{API}/ledger/verify", query_string={"fund_code": "TAMPER-1"})
    assert response.status_code == 200
    return response.json["funds"][0]  # type: ignore[no-any-return]


def as_superuser_bypassing_triggers(db: psycopg.Connection[Any], sql: str, *params: Any) -> None:
    """What an intruder with the database's superuser could do."""
    with db.transaction():
        db.execute("SET LOCAL session_replication_role = replica")
        db.execute(sql, params)


def entry_of(db: psycopg.Connection[Any], kind: str, nth: int = 0) -> tuple[int, int]:
    rows = db.execute("SELECT e.id, e.seq FROM donations.journal_entry e JOIN donations.fund_ledger f "
                      "ON f.id = e.fund_id WHERE f.code = 'TAMPER-1' AND e.kind = %s ORDER BY e.seq",
                      (kind,)).fetchall()
    return rows[nth]


def test_an_untouched_chain_verifies(api, busy_fund):
    verdict = verify(api)
    assert verdict["valid"] and verdict["entries"] == 5 and verdict["problem"] is None
    heads = api.get(f"{API}/ledger/heads").json["items"]
    assert [h["head"] for h in heads if h["fund_code"] == "TAMPER-1"] == [verdict["head"]]


def test_an_altered_posting_is_named(api, busy_fund, db):
    entry_id, seq = entry_of(db, "donation", 1)
    as_superuser_bypassing_triggers(
        db, "UPDATE donations.posting SET amount_fen = amount_fen * 10 WHERE entry_id = %s", entry_id)

    verdict = verify(api)

    assert not verdict["valid"]
    assert (verdict["first_bad_entry_id"], verdict["first_bad_seq"]) == (entry_id, seq)


def test_an_altered_donor_name_is_named(api, busy_fund, db):
    entry_id, seq = entry_of(db, "donation", 0)
    as_superuser_bypassing_triggers(
        db, "UPDATE donations.donation SET donor_name = '别人' WHERE entry_id = %s", entry_id)

    verdict = verify(api)

    assert (verdict["valid"], verdict["first_bad_entry_id"], verdict["first_bad_seq"]) == (False, entry_id, seq)


def test_an_altered_payee_is_named(api, busy_fund, db):
    entry_id, seq = entry_of(db, "disbursement")
    as_superuser_bypassing_triggers(db, "UPDATE donations.disbursement SET payee = '我的账户'")

    assert (verify(api)["first_bad_entry_id"], verify(api)["first_bad_seq"]) == (entry_id, seq)


@pytest.mark.parametrize(("paid_as", "altered_to"), [
    ("programme", "management"), ("management", "programme"), ("fundraising", "management"),
])
def test_spending_moved_to_another_category_is_named(api, busy_fund, db, paid_as, altered_to):
    """A payment hashes its category: relabelling spending after it was paid breaks the chain there."""
    disbursement = busy_fund["disbursement"]
    if paid_as != "programme":
        disbursement = api.post(f"{API}/disbursements", json={
            "fund_code": "TAMPER-1", "amount": "20.00", "payee": "某会计师事务所", "purpose": "年度审计",
            "category": paid_as}).json
        assert api.post(f"{API}/disbursements/{disbursement['id']}/approve",
                        key=busy_fund["approver"]).status_code == 200
        assert api.post(f"{API}/disbursements/{disbursement['id']}/pay",
                        json={"paid_on": today().isoformat(), "bank_reference": "B-2"}).status_code == 200
    assert verify(api)["valid"]
    entry_id, seq = db.execute("SELECT id, seq FROM donations.journal_entry WHERE kind = 'disbursement' "
                               "AND source_id = %s", (disbursement["id"],)).fetchone()

    as_superuser_bypassing_triggers(db, "UPDATE donations.disbursement SET category = %s WHERE id = %s",
                                    altered_to, disbursement["id"])

    verdict = verify(api)
    assert (verdict["valid"], verdict["first_bad_entry_id"], verdict["first_bad_seq"]) == (False, entry_id, seq)


def test_a_removed_entry_is_detected(api, busy_fund, db):
    entry_id, seq = entry_of(db, "donation", 1)
    as_superuser_bypassing_triggers(db, "DELETE FROM donations.posting WHERE entry_id = %s", entry_id)
    as_superuser_bypassing_triggers(db, "DELETE FROM donations.journal_entry WHERE id = %s", entry_id)

    verdict = verify(api)

    assert not verdict["valid"]
    assert verdict["first_bad_seq"] == seq + 1  # the next entry no longer follows its predecessor


def test_a_removed_last_entry_is_detected_by_the_head(api, busy_fund, db):
    entry_id, _ = entry_of(db, "disbursement")
    as_superuser_bypassing_triggers(db, "DELETE FROM donations.posting WHERE entry_id = %s", entry_id)
    as_superuser_bypassing_triggers(db, "DELETE FROM donations.journal_entry WHERE id = %s", entry_id)

    verdict = verify(api)

    assert not verdict["valid"] and verdict["first_bad_entry_id"] is None
    assert "removed or added" in verdict["problem"]


@pytest.mark.parametrize("statement", [
    "UPDATE donations.posting SET amount_fen = 1",
    "DELETE FROM donations.posting",
    "UPDATE donations.journal_entry SET actor = 'x'",
    "DELETE FROM donations.journal_entry",
    "DELETE FROM donations.donation",
    "UPDATE donations.donation SET amount_fen = 1",
    "UPDATE donations.audit_log SET actor = 'x'",
    "DELETE FROM donations.audit_log",
    "TRUNCATE donations.posting CASCADE",
])
def test_the_database_refuses_to_edit_or_delete_the_ledger(busy_fund, db, statement):
    with pytest.raises(psycopg.Error):
        db.execute(statement)


def test_the_database_refuses_an_unbalanced_entry(busy_fund, db):
    entry_id, _ = entry_of(db, "donation")
    fund_id = db.execute("SELECT id FROM donations.fund_ledger WHERE code = 'TAMPER-1'").fetchone()[0]
    with pytest.raises(psycopg.errors.CheckViolation, match="does not balance"):
        db.execute("INSERT INTO donations.posting (entry_id, line, fund_id, account, amount_fen) "
                   "VALUES (%s, 3, %s, 'bank', 100), (%s, 4, %s, 'restricted', -99)",
                   (entry_id, fund_id, entry_id, fund_id))


@pytest.mark.parametrize("assignment", [
    "restricted_fen = -1",
    "reserved_fen = restricted_fen + unrestricted_fen + 1",
    "bank_fen = bank_fen + 1",
])
def test_the_database_refuses_a_negative_or_unbalanced_fund(busy_fund, db, assignment):
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(f"UPDATE donations.fund_ledger SET {assignment} WHERE code = 'TAMPER-1'")


def test_the_database_refuses_self_approval(busy_fund, db):
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("UPDATE donations.disbursement SET approved_by = requested_by")


# -- the ledger's arithmetic, by hypothesis ------------------------------------------

amounts = st.integers(min_value=1, max_value=500_00).map(lambda fen: f"{fen // 100}.{fen % 100:02d}")
_funds = itertools.count(1)


class LedgerMachine(RuleBasedStateMachine):
    """Random sequences of operations on one fund, against a model kept in fen."""

    api: ApiClient
    make: Factory
    approver: str

    @initialize(restricted=st.booleans())
    def open_fund(self, restricted: bool) -> None:
        self.code = f"HYP-{next(_funds):05d}"
        self.make.fund(self.organization_id, self.code, restricted=restricted)
        self.balance = self.reserved = self.bank = self.goods = 0
        self.donations: dict[int, tuple[int, str]] = {}
        self.requested: dict[int, int] = {}
        self.approved: dict[int, int] = {}

    @rule(amount=amounts, channel=st.sampled_from(["bank", "cash", "in_kind"]))
    def donate(self, amount: str, channel: str) -> None:
        donation = self.make.donation(self.code, amount, channel=channel)
        self.donations[donation["id"]] = (fen(amount), channel)
        self.balance += fen(amount)
        if channel == "in_kind":
            self.goods += fen(amount)
        else:
            self.bank += fen(amount)

    @rule(amount=amounts)
    def request(self, amount: str) -> None:
        response = self.api.post(f"{API}/disbursements", json={
            "fund_code": self.code, "amount": amount, "payee": "某村", "purpose": "修路"})
        assert response.status_code == 201
        self.requested[response.json["id"]] = fen(amount)

    @precondition(lambda self: self.requested)
    @rule(data=st.data())
    def approve(self, data: st.DataObject) -> None:
        number = data.draw(st.sampled_from(sorted(self.requested)))
        response = self.api.post(f"{API}/disbursements/{number}/approve", key=self.approver)
        amount = self.requested[number]
        # Payments leave the bank: goods are not cash.
        if amount <= min(self.balance, self.bank) - self.reserved:
            assert response.status_code == 200
            self.approved[number] = self.requested.pop(number)
            self.reserved += amount
        else:
            assert response.status_code == 409

    @precondition(lambda self: self.approved)
    @rule(data=st.data(), pay=st.booleans())
    def settle(self, data: st.DataObject, pay: bool) -> None:
        number = data.draw(st.sampled_from(sorted(self.approved)))
        if pay:
            response = self.api.post(f"{API}/disbursements/{number}/pay",
                                     json={"paid_on": today().isoformat(), "bank_reference": f"B{number}"})
            self.balance -= self.approved[number]
            self.bank -= self.approved[number]
        else:
            response = self.api.post(f"{API}/disbursements/{number}/reject", json={"reason": "不批"},
                                     key=self.approver)
        assert response.status_code == 200
        self.reserved -= self.approved.pop(number)

    @precondition(lambda self: self.donations)
    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        number = data.draw(st.sampled_from(sorted(self.donations)))
        response = self.api.post(f"{API}/donations/{number}/reverse", json={"reason": "退款"})
        amount, channel = self.donations[number]
        source_left = self.goods if channel == "in_kind" else self.bank - self.reserved
        if amount <= min(self.balance - self.reserved, source_left):
            assert response.status_code == 200
            del self.donations[number]
            self.balance -= amount
            if channel == "in_kind":
                self.goods -= amount
            else:
                self.bank -= amount
        else:
            assert response.status_code == 409

    @invariant()
    def balances_match_the_model(self) -> None:
        if not hasattr(self, "code"):
            return
        body = self.api.get(f"{API}/funds/{self.code}/balance").json
        assert fen(body["balance"]) == self.balance and fen(body["available"]) == self.balance - self.reserved
        trial = self.api.get(f"{API}/trial-balance").json
        assert trial["total_debits"] == trial["total_credits"]


def fen(amount: str) -> int:
    units, cents = amount.split(".")
    return int(units) * 100 + int(cents)


def test_ledger_arithmetic_holds_for_any_sequence(api: ApiClient, make: Factory, database_url: str):
    organization = make.organization()
    LedgerMachine.api = api
    LedgerMachine.make = make
    LedgerMachine.organization_id = organization["id"]
    LedgerMachine.approver = make.api_key(organization["id"], ["disbursements:approve", "donations:read"])
    machine = LedgerMachine.TestCase
    machine.settings = settings(max_examples=15, stateful_step_count=12, deadline=None,
                                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    machine().runTest()
    with psycopg.connect(database_dsn(database_url)) as db:
        assert_ledger_consistent(db)
        chains = api.get(f"{API}/ledger/verify").json
        assert chains["valid"], [f for f in chains["funds"] if not f["valid"]]


def test_verify_reports_stored_balances_that_differ_from_the_postings(api, busy_fund, db):
    as_superuser_bypassing_triggers(db, "UPDATE donations.fund_ledger SET bank_fen = bank_fen + 1, "
                                        "restricted_fen = restricted_fen + 1 WHERE code = 'TAMPER-1'")

    verdict = verify(api)

    assert verdict["chain_valid"] and not verdict["balances_match"] and not verdict["valid"]
