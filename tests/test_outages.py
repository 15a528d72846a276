"""Surviving outages: Redis gone, PostgreSQL restarting, the funds service down, a worker killed.

Each test runs the services as they are really served (gunicorn, a Celery worker with beat)
against servers of its own that it stops, kills and starts again; a client meets an outage
as a 503 problem with Retry-After, never a 500, and the money recorded stays exactly right.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Self

import httpx
import psycopg
import pytest

from shared.dates import today
from shared.periods import Period
from shared.postgres import libpq_dsn
from tests.conftest import ADMIN_PASSWORD, csrf_token, free_port
from tests.outage_support import (
    ADMIN,
    CeleryWorker,
    Gunicorn,
    PrivateCluster,
    PrivateRedis,
    assert_unavailable,
    owner_rows,
    private_cluster,
    private_redis,
    service_env,
    wait_for,
)

pytestmark = pytest.mark.slow
__all__ = ["private_cluster", "private_redis"]  # fixtures

DONATIONS = "/donations/api/v1"
CLERK_SCOPES = ["funds:read", "donations:read", "donations:write", "reports:read"]
APPROVER_SCOPES = ["donations:read", "disbursements:approve"]
REDIS_OUTAGE_SECONDS = 30.0


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class Ledger:
    """An organisation with a fund, a clerk's key and an approver's key, over real HTTP."""

    def __init__(self, http: httpx.Client, name: str, code: str) -> None:
        self.http = http
        self.code = code
        organization = http.post("/funds/api/v1/organizations", headers=ADMIN,
                                 json={"name": name, "kind": "chamber_of_commerce"})
        assert organization.status_code == 201, organization.text
        self.organization_id = organization.json()["id"]
        self.clerk = bearer(self.issue(CLERK_SCOPES, "出纳"))
        self.approver = bearer(self.issue(APPROVER_SCOPES, "审批人"))
        fund = http.post("/funds/api/v1/funds", headers=ADMIN, json={
            "code": code, "name": f"{name}冠名慈善基金", "kind": "chamber_named",
            "organization_id": self.organization_id, "purpose": "助学助困", "restricted": False})
        assert fund.status_code == 201, fund.text

    def issue(self, scopes: list[str], name: str) -> str:
        issued = self.http.post(f"/funds/api/v1/organizations/{self.organization_id}/api-keys", headers=ADMIN,
                                json={"name": name, "scopes": scopes})
        assert issued.status_code == 201, issued.text
        return issued.json()["key"]  # type: ignore[no-any-return]

    def donation_body(self, amount: str = "100.00", reference: str | None = None) -> dict[str, Any]:
        return {"fund_code": self.code, "amount": amount, "currency": "CNY", "received_on": today().isoformat(),
                "donor": {"name": "铜陵某某有限公司", "kind": "enterprise", "anonymous": False}, "channel": "bank",
                "reference": reference or uuid.uuid4().hex}

    def donate(self, amount: str = "100.00", **kwargs: Any) -> httpx.Response:
        return self.http.post(f"{DONATIONS}/donations", headers={**self.clerk, **kwargs.pop("headers", {})},
                              json=self.donation_body(amount, **kwargs))

    def pay(self, amount: str) -> None:
        """Requested by the clerk, approved by the approver, paid."""
        requested = self.http.post(f"{DONATIONS}/disbursements", headers=self.clerk, json={
            "fund_code": self.code, "amount": amount, "payee": "铜陵市第一中学", "purpose": "资助贫困学生学费"})
        assert requested.status_code == 201, requested.text
        approved = self.http.post(f"{DONATIONS}/disbursements/{requested.json()['id']}/approve",
                                  headers=self.approver)
        assert approved.status_code == 200, approved.text
        paid = self.http.post(f"{DONATIONS}/disbursements/{requested.json()['id']}/pay", headers=self.clerk,
                              json={"paid_on": today().isoformat(), "bank_reference": f"ICBC-{uuid.uuid4().hex[:8]}"})
        assert paid.status_code == 200, paid.text

    def balance(self) -> str:
        response = self.http.get(f"{DONATIONS}/funds/{self.code}/balance", headers=self.clerk)
        assert response.status_code == 200, response.text
        return response.json()["balance"]  # type: ignore[no-any-return]

    def verify(self) -> None:
        verdict = self.http.get(f"{DONATIONS}/ledger/verify", headers=ADMIN, timeout=30)
        assert verdict.status_code == 200, verdict.text
        assert verdict.json()["valid"], verdict.json()


def fen(amount: str) -> int:
    whole, _, cents = amount.partition(".")
    return int(whole) * 100 + int(cents)


# -- 1. Redis stops for 30 s ----------------------------------------------------------

def log_in(base_url: str, password: str) -> httpx.Response:
    with httpx.Client(base_url=base_url, timeout=20) as browser:
        page = browser.get("/funds/login")
        return browser.post("/funds/login", data={"csrf_token": csrf_token(page.text), "username": "admin",
                                                  "password": password})


def test_money_moves_and_reports_wait_while_redis_is_down(database_url: str, tmp_path: Path,
                                                          private_redis: PrivateRedis) -> None:
    """Redis is the broker and the throttle's store, and nothing on the money path: donations,
    payouts, balances and logins go on; a report asked for meanwhile waits in the database and
    is built once, with its files once, when Redis is back."""
    port = free_port()
    env = service_env(database_url, tmp_path / "var", CELERY_BROKER_URL=private_redis.url,
                      PUBLIC_URL=f"http://127.0.0.1:{port}", SCHEDULE_EVERY_SECONDS="2", WEB_CONCURRENCY="1",
                      WEB_THREADS="8")
    web = Gunicorn(env, tmp_path / "web.log", port=port)
    worker = CeleryWorker(env, tmp_path / "worker.log")
    try:
        with httpx.Client(base_url=web.base_url, timeout=20) as http:
            ledger = Ledger(http, "铜陵市义安区商会", "YA-REDIS-1")
            assert ledger.donate("5000.00").status_code == 201
            expected = fen("5000.00")
            worker.wait_ready()

            private_redis.stop()
            down_at = time.monotonic()
            started = time.monotonic()
            asked = http.post("/reports/api/v1/reports", headers=ledger.clerk,
                              json={"period": Period.containing(today(), "month").label, "fund_code": ledger.code})
            assert asked.status_code == 202, asked.text
            assert time.monotonic() - started < 5, "asking for a report waited on the broker"
            report = asked.json()
            assert report["status"] == "queued"

            rounds = 0
            while time.monotonic() - down_at < REDIS_OUTAGE_SECONDS:
                started = time.monotonic()
                assert ledger.donate("100.00").status_code == 201
                ledger.pay("30.00")
                expected += fen("100.00") - fen("30.00")
                assert fen(ledger.balance()) == expected
                if rounds < 5:  # (each counts as a guess: 20 a minute and the address waits)
                    unknown = http.get(f"{DONATIONS}/me", headers=bearer("cfk_not-a-key"))
                    assert unknown.status_code == 401, unknown.text  # the throttle's store is away: not a 500
                assert log_in(web.base_url, ADMIN_PASSWORD).status_code == 302
                assert time.monotonic() - started < 5, "the money path waited on Redis"
                rounds += 1
                time.sleep(0.5)
            assert rounds >= 10
            # Guessing is still throttled meanwhile: the process counts wrong passwords itself.
            for _ in range(5):
                assert log_in(web.base_url, "not-" + ADMIN_PASSWORD).status_code == 422
            refused = log_in(web.base_url, ADMIN_PASSWORD)
            assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
            private_redis.start()

            def built() -> bool:
                return http.get(f"/reports/api/v1/reports/{report['id']}", headers=ledger.clerk).json()["status"] == "done"

            wait_for(built, 90, "the report asked for while Redis was down")
            time.sleep(4)  # a few more ticks of beat: nothing is built twice
            assert "Process Beat" not in worker.log.read_text(errors="replace"), "beat died"
            runs = owner_rows(database_url, "SELECT id, status FROM reports.report_run WHERE fund_code = %s",
                              (ledger.code,))
            assert runs == [(report["id"], "done")]
            files = owner_rows(database_url, "SELECT format, count(*) FROM reports.report_file WHERE report_id = %s "
                               "GROUP BY format ORDER BY format", (report["id"],))
            assert files and all(count == 1 for _, count in files), files
            claims = owner_rows(database_url, "SELECT count(*) FROM reports.run_log WHERE report_id = %s "
                                "AND to_status = 'running'", (report["id"],))
            assert claims == [(1,)]
            summary = http.get(f"/reports/api/v1/reports/{report['id']}", headers=ledger.clerk).json()["summary"]
            assert fen(summary["closing_balance"]) == expected
            ledger.verify()
    finally:
        worker.stop()
        web.stop()


# -- 2. PostgreSQL restarts mid-load ------------------------------------------------------

class Load:
    """Clients sending donations until told to stop: half of them with an Idempotency-Key, which
    they retry after a 503 until it is answered; every answer kept with when it was asked."""

    def __init__(self, base_url: str, ledger: Ledger, clients: int = 6) -> None:
        self.base_url, self.ledger = base_url, ledger
        self.answers: list[tuple[float, float, str, bool, httpx.Response]] = []  # asked, answered, ref, keyed
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(n % 2 == 0,), daemon=True) for n in range(clients)]

    def __enter__(self) -> Self:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _client(self, keyed: bool) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            while not self.stopping.is_set():
                reference = uuid.uuid4().hex
                headers = {**self.ledger.clerk, **({"Idempotency-Key": reference} if keyed else {})}
                while True:
                    asked = time.monotonic()
                    response = http.post(f"{DONATIONS}/donations", headers=headers,
                                         json=self.ledger.donation_body("10.00", reference))
                    with self.lock:
                        self.answers.append((asked, time.monotonic(), reference, keyed, response))
                    if not (keyed and response.status_code == 503):
                        break
                    time.sleep(0.2)

    def asked_after(self, moment: float) -> list[httpx.Response]:
        return [response for asked, _, _, _, response in self.answers if asked > moment]


def test_a_postgresql_restart_mid_load_is_a_503_and_then_nothing_but_success(
        private_cluster: PrivateCluster, tmp_path: Path) -> None:
    """Requests in flight when PostgreSQL goes away are refused with 503 and Retry-After (never a
    500); once it is back the very next requests succeed, on the same gunicorn workers; every
    donation answered 201 is in the ledger exactly once, and the ledger verifies."""
    env = service_env(private_cluster.url, tmp_path / "var", WEB_CONCURRENCY="2", WEB_THREADS="8")
    web = Gunicorn(env, tmp_path / "web.log")
    http = httpx.Client(base_url=web.base_url, timeout=30)
    try:
        workers = web.workers()
        ledger = Ledger(http, "铜陵市郊区商会", "JQ-PG-1")
        with Load(web.base_url, ledger) as load:
            wait_for(lambda: len(load.answers) >= 20, 30, "donations before the restart")
            private_cluster.stop()
            time.sleep(2)
            during = [r for _, _, _, _, r in load.answers[-30:]]
            private_cluster.start()
            back_at = time.monotonic()
            wait_for(lambda: len(load.asked_after(back_at)) >= 40, 60, "donations after the restart")
        answers = list(load.answers)
        balance = http.get(f"{DONATIONS}/funds/{ledger.code}/balance", headers=ledger.clerk)
        assert balance.status_code == 200, balance.text

        statuses = [response.status_code for *_, response in answers]
        assert set(statuses) <= {201, 503}, sorted(set(statuses))
        refused = [response for *_, response in answers if response.status_code == 503]
        assert refused, "no request met the restart"
        assert any(r.status_code == 503 for r in during)
        for response in refused:
            body = assert_unavailable(response)
            assert body["code"] in ("database_unavailable", "service_unavailable"), body
        after = [response for asked, _, _, _, response in answers if asked > back_at]
        assert after and all(r.status_code == 201 for r in after), [(r.status_code, r.text[:200]) for r in after
                                                                      if r.status_code != 201][:5]
        assert web.workers() == workers, "gunicorn restarted its workers"

        rows = dict(owner_rows(private_cluster.url, "SELECT reference, count(*) FROM donations.donation "
                                                   "WHERE fund_code = %s GROUP BY reference", (ledger.code,)))
        told = {reference for _, _, reference, _, response in answers if response.status_code == 201}
        assert all(rows.get(reference) == 1 for reference in told), "a donation answered 201 is missing or twice"
        assert set(rows.values()) == {1}
        keyed = {reference for _, _, reference, is_keyed, _ in answers if is_keyed}
        assert keyed <= told, "a client retrying with its key never got its donation recorded"
        # A donation refused while its commit's answer was lost may be recorded: never twice.
        assert set(rows) <= {reference for _, _, reference, _, _ in answers}
        assert fen(balance.json()["balance"]) == 1000 * sum(rows.values())
        ledger.verify()
    finally:
        http.close()
        web.stop()


# -- 3. The funds service is down -------------------------------------------------------

def test_with_the_funds_service_down_the_ledger_answers_what_it_knows_and_503_for_the_rest(
        database_url: str, tmp_path: Path) -> None:
    """The donations service alone, the funds service killed: a key and a fund it heard of within
    its auth cache still read balances and statements; a key or a fund it never heard of is a 503
    with Retry-After (it cannot tell), never a 401, a 404 or a 500."""
    funds = Gunicorn(service_env(database_url, tmp_path / "funds-var", WEB_CONCURRENCY="1", WEB_THREADS="4"),
                     tmp_path / "funds.log", factory="services.funds:create_app()", check="/openapi.json")
    donations = None
    try:
        donations = Gunicorn(service_env(database_url, tmp_path / "donations-var", WEB_CONCURRENCY="1",
                                         WEB_THREADS="4", FUNDS_URL=funds.base_url, AUTH_CACHE_SECONDS="60"),
                             tmp_path / "donations.log", factory="services.donations:create_app()",
                             check="/openapi.json")
        with httpx.Client(base_url=funds.base_url, timeout=20) as at_funds, \
                httpx.Client(base_url=donations.base_url, timeout=20) as at_donations:
            # Ledger talks to the gateway's paths: here each service has its own address.
            organization = at_funds.post("/api/v1/organizations", headers=ADMIN,
                                         json={"name": "铜陵市铜官区商会", "kind": "chamber_of_commerce"}).json()
            keys = [at_funds.post(f"/api/v1/organizations/{organization['id']}/api-keys", headers=ADMIN,
                                  json={"name": name, "scopes": CLERK_SCOPES}).json()["key"] for name in ("出纳", "备用")]
            clerk, unseen_key = bearer(keys[0]), bearer(keys[1])
            for code in ("TG-FUNDS-1", "TG-FUNDS-2"):
                assert at_funds.post("/api/v1/funds", headers=ADMIN, json={
                    "code": code, "name": "铜官区商会冠名慈善基金", "kind": "chamber_named",
                    "organization_id": organization["id"], "purpose": "助学", "restricted": False}).status_code == 201
            body = {"fund_code": "TG-FUNDS-1", "amount": "800.00", "currency": "CNY", "received_on": today().isoformat(),
                    "donor": {"name": "王秀英", "kind": "individual", "anonymous": False}, "channel": "bank"}
            assert at_donations.post("/api/v1/donations", headers=clerk, json=body).status_code == 201
            assert at_donations.get("/api/v1/funds/TG-FUNDS-1/balance", headers=clerk).status_code == 200

            funds.kill()

            balance = at_donations.get("/api/v1/funds/TG-FUNDS-1/balance", headers=clerk)
            assert balance.status_code == 200 and balance.json()["balance"] == "800.00", balance.text
            statement = at_donations.get("/api/v1/funds/TG-FUNDS-1/statement", headers=clerk)
            assert statement.status_code == 200 and statement.json()["closing_balance"] == "800.00", statement.text
            listed = at_donations.get("/api/v1/donations", headers=clerk)
            assert listed.status_code == 200 and len(listed.json()["items"]) == 1, listed.text

            for refused in (at_donations.get("/api/v1/me", headers=unseen_key),  # a key it never heard of
                            at_donations.get("/api/v1/donations", headers=bearer("cfk_never-issued")),
                            at_donations.get("/api/v1/funds/TG-FUNDS-2/balance", headers=clerk),  # a fund it never saw
                            at_donations.post("/api/v1/donations", headers=clerk, json={**body, "fund_code": "TG-FUNDS-2"})):
                problem = assert_unavailable(refused, "service_unavailable")
                assert problem["params"] == {"service": "funds"}, problem
            # Money to the fund it knows goes on (a freeze cannot happen while the funds service is down).
            again = at_donations.post("/api/v1/donations", headers=clerk, json=body)
            assert again.status_code == 201, again.text
            assert at_donations.get("/api/v1/funds/TG-FUNDS-1/balance", headers=clerk).json()["balance"] == "1600.00"
        assert "Traceback" not in donations.log_text()
    finally:
        if donations is not None:
            donations.stop()
        funds.stop()


# -- 4. A gunicorn worker killed mid-request ------------------------------------------------

def test_a_worker_killed_mid_donation_leaves_one_donation_to_the_retry(database_url: str, tmp_path: Path) -> None:
    """The donation's transaction is held at the fund's ledger row (as a concurrent payment would
    hold it) while its worker is killed with SIGKILL; the client's retry with the same
    Idempotency-Key records exactly one donation, and a further retry replays it."""
    web = Gunicorn(service_env(database_url, tmp_path / "var", WEB_CONCURRENCY="1", WEB_THREADS="4"),
                   tmp_path / "web.log")
    http = httpx.Client(base_url=web.base_url, timeout=30)
    try:
        ledger = Ledger(http, "铜陵市狮子山区商会", "SZS-KILL-1")
        assert ledger.donate("1.00").status_code == 201  # the fund's ledger row exists
        reference = uuid.uuid4().hex
        headers = {**ledger.clerk, "Idempotency-Key": reference}
        body = ledger.donation_body("2600.00", reference)
        outcome: dict[str, Any] = {}

        def first_attempt() -> None:
            try:
                outcome["response"] = http.post(f"{DONATIONS}/donations", headers=headers, json=body)
            except httpx.HTTPError as error:
                outcome["error"] = error

        with psycopg.connect(libpq_dsn(database_url)) as owner:
            owner.execute("SELECT 1 FROM donations.fund_ledger WHERE code = %s FOR UPDATE", (ledger.code,))
            sender = threading.Thread(target=first_attempt)
            sender.start()
            wait_for(lambda: owner_rows(database_url, "SELECT count(*) FROM pg_stat_activity WHERE "
                                        "wait_event_type = 'Lock' AND usename LIKE '%%\\_donations'")[0][0] == 1,
                     20, "the donation to wait on the fund's row")
            (worker,) = web.workers()
            os.kill(worker, signal.SIGKILL)
            sender.join(timeout=20)
            assert "error" in outcome, outcome  # the client never heard back
            owner.rollback()

        def retried() -> httpx.Response | None:
            try:
                return http.post(f"{DONATIONS}/donations", headers=headers, json=body)
            except httpx.TransportError:
                return None  # gunicorn is starting another worker

        retry = wait_for(retried, 60, "an answer to the retry")
        assert retry.status_code == 201, retry.text
        replay = http.post(f"{DONATIONS}/donations", headers=headers, json=body)
        assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"
        assert replay.json()["id"] == retry.json()["id"]
        assert owner_rows(database_url, "SELECT count(*) FROM donations.donation WHERE reference = %s",
                          (reference,)) == [(1,)]
        assert ledger.balance() == "2601.00"
        ledger.verify()
        assert web.workers() != [worker]
    finally:
        http.close()
        web.stop()
