"""Races against the real server on PostgreSQL: the ledger never lies.

64 clients fire donations, disbursement requests, approvals, payments,
rejections and reversals at one fund at once, while a watcher reads its
balance. Afterwards the database must show exactly what the clients were
told: every entry balanced, balances equal to their postings, receipt
numbers without gaps, the hash chain intact, nothing below zero.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from shared.dates import today
from tests.conftest import ADMIN_KEY, LiveServer

pytestmark = pytest.mark.slow

CLIENTS = 64
OPERATIONS_PER_CLIENT = 12
FUND = "RACE-001"
ALLOWED = {  # what each operation may answer under contention; never a 5xx
    "donate": {201},
    "request": {201},
    "approve": {200, 409},
    "pay": {200, 409},
    "reject": {200, 409},
    "reverse": {200, 409},
}


# Clients drop an idle connection before gunicorn does (its keep-alive is 2 s): a request sent on
# a connection the server is closing would be reset, and its answer lost, through no fault of either.
CLIENT_LIMITS = httpx.Limits(keepalive_expiry=1.0)


@dataclass
class Outcomes:
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    donations: dict[int, int] = field(default_factory=dict)       # id -> fen, recorded
    reversed: set[int] = field(default_factory=set)
    paid: dict[int, int] = field(default_factory=dict)            # disbursement id -> fen
    negative_seen: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)              # a client that could not go on

    def note(self, operation: str, response: httpx.Response) -> None:
        with self.lock:
            self.statuses[(operation, response.status_code)] += 1


def fen(amount: str) -> int:
    units, cents = amount.split(".")
    return int(units) * 100 + int(cents)


def setup_fund(base: str) -> tuple[str, str]:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    organization = httpx.post(f"{base}/funds/api/v1/organizations", headers=admin,
                              json={"name": "并发测试商会", "kind": "chamber_of_commerce"}).json()
    fund = httpx.post(f"{base}/funds/api/v1/funds", headers=admin, json={
        "code": FUND, "name": "并发测试基金", "kind": "chamber_named", "organization_id": organization["id"],
        "purpose": "助学", "restricted": True})
    assert fund.status_code == 201, fund.text

    def key(name: str, scopes: list[str]) -> str:
        response = httpx.post(f"{base}/funds/api/v1/organizations/{organization['id']}/api-keys",
                              headers=admin, json={"name": name, "scopes": scopes})
        assert response.status_code == 201
        return response.json()["key"]

    clerk = key("clerk", ["donations:read", "donations:write"])
    approver = key("approver", ["donations:read", "disbursements:approve"])
    return clerk, approver


def client_run(base: str, clerk: str, approver: str, seed: int, outcomes: Outcomes,
               start: threading.Barrier) -> None:
    rng = random.Random(seed)
    as_clerk = httpx.Client(base_url=f"{base}/donations/api/v1", timeout=60, limits=CLIENT_LIMITS,
                            headers={"Authorization": f"Bearer {clerk}"})
    as_approver = httpx.Client(base_url=f"{base}/donations/api/v1", timeout=60, limits=CLIENT_LIMITS,
                               headers={"Authorization": f"Bearer {approver}"})
    mine: list[int] = []
    start.wait()
    try:
        for _ in range(OPERATIONS_PER_CLIENT):
            choice = rng.random()
            if choice < 0.45 or not mine:
                amount = f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d}"
                response = as_clerk.post("/donations", json={
                    "fund_code": FUND, "amount": amount, "currency": "CNY",
                    "donor": {"name": f"捐赠人{seed}", "kind": "individual", "anonymous": rng.random() < 0.2},
                    "received_on": "2026-09-01", "channel": rng.choice(["bank", "wechat", "in_kind"])})
                outcomes.note("donate", response)
                if response.status_code == 201:
                    mine.append(response.json()["id"])
                    with outcomes.lock:
                        outcomes.donations[response.json()["id"]] = fen(amount)
            elif choice < 0.85:
                amount = f"{rng.randint(1, 900)}.{rng.randint(0, 99):02d}"
                requested = as_clerk.post("/disbursements", json={
                    "fund_code": FUND, "amount": amount, "payee": "薄弱村", "purpose": "修桥"})
                outcomes.note("request", requested)
                if requested.status_code != 201:
                    continue
                number = requested.json()["id"]
                approved = as_approver.post(f"/disbursements/{number}/approve")
                outcomes.note("approve", approved)
                if approved.status_code != 200:
                    continue
                if rng.random() < 0.25:
                    rejected = as_approver.post(f"/disbursements/{number}/reject", json={"reason": "预算调整"})
                    outcomes.note("reject", rejected)
                    continue
                paid = as_clerk.post(f"/disbursements/{number}/pay",
                                     json={"paid_on": today().isoformat(), "bank_reference": f"B{seed}-{number}"})
                outcomes.note("pay", paid)
                if paid.status_code == 200:
                    with outcomes.lock:
                        outcomes.paid[number] = fen(amount)
            else:
                target = rng.choice(mine)
                reversed_ = as_clerk.post(f"/donations/{target}/reverse", json={"reason": "重复录入"})
                outcomes.note("reverse", reversed_)
                if reversed_.status_code == 200:
                    with outcomes.lock:
                        outcomes.reversed.add(target)
    except httpx.HTTPError as error:  # an answer lost: the expected balance would not be known
        with outcomes.lock:
            outcomes.failures.append(f"client {seed}: {error!r}")
    finally:
        as_clerk.close()
        as_approver.close()


def watch_balance(base: str, key: str, outcomes: Outcomes, stop: threading.Event) -> None:
    with httpx.Client(base_url=f"{base}/donations/api/v1", timeout=30,
                      headers={"Authorization": f"Bearer {key}"}) as client:
        while not stop.is_set():
            body = client.get(f"/funds/{FUND}/balance").json()
            if body["balance"].startswith("-") or body["available"].startswith("-"):
                outcomes.negative_seen.append(body)
            time.sleep(0.01)


def database_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_64_clients_racing_at_one_fund_leave_an_exact_ledger(live_server: LiveServer, database_url: str):
    base = live_server.base_url
    clerk, approver = setup_fund(base)
    outcomes = Outcomes()
    start = threading.Barrier(CLIENTS)
    stop = threading.Event()
    watcher = threading.Thread(target=watch_balance, args=(base, clerk, outcomes, stop))
    watcher.start()
    clients = [threading.Thread(target=client_run, args=(base, clerk, approver, seed, outcomes, start))
               for seed in range(CLIENTS)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(timeout=300)
    stop.set()
    watcher.join(timeout=30)
    assert not any(thread.is_alive() for thread in clients), "clients did not finish"
    assert not outcomes.failures, outcomes.failures

    unexpected = {k: v for k, v in outcomes.statuses.items() if k[1] not in ALLOWED[k[0]]}
    assert not unexpected, f"unexpected answers: {unexpected}"
    assert outcomes.statuses[("pay", 200)] > 0 and outcomes.statuses[("reverse", 200)] > 0
    assert outcomes.statuses[("approve", 409)] + outcomes.statuses[("reverse", 409)] > 0, \
        "the race never ran short of money: it proves little"
    assert not outcomes.negative_seen

    expected_balance = (sum(amount for number, amount in outcomes.donations.items()
                            if number not in outcomes.reversed) - sum(outcomes.paid.values()))
    with httpx.Client(base_url=f"{base}/donations/api/v1", headers={"Authorization": f"Bearer {clerk}"}) as api:
        balance = api.get(f"/funds/{FUND}/balance").json()
        assert fen(balance["balance"]) == expected_balance
        verdict = api.get("/ledger/verify", params={"fund_code": FUND}).json()
        assert verdict["valid"], verdict
        trial = api.get("/trial-balance").json()
        assert trial["total_debits"] == trial["total_credits"]

    with psycopg.connect(database_dsn(database_url)) as db:
        assert_ledger_consistent(db)
        assert db.execute("SELECT count(*) FROM donations.donation").fetchone()[0] == len(outcomes.donations)
        approved_unpaid = db.execute("SELECT coalesce(sum(amount_fen), 0) FROM donations.disbursement "
                                     "WHERE status = 'approved'").fetchone()[0]
        reserved = db.execute("SELECT reserved_fen FROM donations.fund_ledger WHERE code = %s",
                              (FUND,)).fetchone()[0]
        assert reserved == approved_unpaid


def assert_ledger_consistent(db: psycopg.Connection[Any]) -> None:
    """What must hold of any ledger, checked straight in the database."""
    unbalanced = db.execute("SELECT entry_id FROM donations.posting GROUP BY entry_id "
                            "HAVING sum(amount_fen) <> 0").fetchall()
    assert unbalanced == []
    assert db.execute("SELECT coalesce(sum(amount_fen), 0) FROM donations.posting").fetchone()[0] == 0
    mismatched = db.execute("""
        SELECT f.code FROM donations.fund_ledger f
        LEFT JOIN (SELECT fund_id,
                          sum(amount_fen) FILTER (WHERE account = 'bank') AS bank,
                          sum(amount_fen) FILTER (WHERE account = 'in_kind') AS in_kind,
                          -sum(amount_fen) FILTER (WHERE account = 'unrestricted') AS unrestricted,
                          -sum(amount_fen) FILTER (WHERE account = 'restricted') AS restricted,
                          count(DISTINCT entry_id) AS entries
                   FROM donations.posting GROUP BY fund_id) p ON p.fund_id = f.id
        WHERE f.bank_fen <> coalesce(p.bank, 0) OR f.in_kind_fen <> coalesce(p.in_kind, 0)
           OR f.unrestricted_fen <> coalesce(p.unrestricted, 0) OR f.restricted_fen <> coalesce(p.restricted, 0)
           OR f.entry_count <> coalesce(p.entries, 0)""").fetchall()
    assert mismatched == [], f"stored balances differ from the postings: {mismatched}"
    negative = db.execute("SELECT code FROM donations.fund_ledger WHERE unrestricted_fen < 0 "
                          "OR restricted_fen < 0 OR reserved_fen > unrestricted_fen + restricted_fen").fetchall()
    assert negative == []
    for year, count, highest in db.execute(
            "SELECT receipt_year, count(DISTINCT receipt_seq), max(receipt_seq) FROM donations.donation "
            "GROUP BY receipt_year").fetchall():
        assert count == highest, f"receipt numbers of {year} have gaps"
        counter = db.execute("SELECT last_seq FROM donations.receipt_counter WHERE year = %s", (year,)).fetchone()[0]
        assert counter == highest


def test_identical_requests_racing_with_one_idempotency_key_record_one_donation(live_server: LiveServer,
                                                                                  database_url: str):
    base = live_server.base_url
    clerk, _ = setup_fund(base)
    body = {"fund_code": FUND, "amount": "88.88", "currency": "CNY",
            "donor": {"name": "重试的商户", "kind": "enterprise", "anonymous": False},
            "received_on": "2026-09-01", "channel": "bank"}
    headers = {"Authorization": f"Bearer {clerk}", "Idempotency-Key": "erp-retry-7f3a"}
    racers = 32
    start = threading.Barrier(racers)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def fire() -> None:
        with httpx.Client(timeout=60) as client:
            start.wait()
            response = client.post(f"{base}/donations/api/v1/donations", json=body, headers=headers)
            with lock:
                answers.append(response)

    threads = [threading.Thread(target=fire) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(answers) == racers
    assert {response.status_code for response in answers} == {201}
    assert len({response.content for response in answers}) == 1
    with psycopg.connect(database_dsn(database_url)) as db:
        assert db.execute("SELECT count(*) FROM donations.donation").fetchone()[0] == 1
        assert db.execute("SELECT bank_fen FROM donations.fund_ledger WHERE code = %s", (FUND,)).fetchone()[0] == 8888
