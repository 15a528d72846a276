"""The reports service: asking for reports, the schedule, building them once, emailing them once.

Against real PostgreSQL, a real SMTP server (aiosmtpd), real Redis and real
Celery workers (in a thread, and as processes killed with SIGKILL).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
import threading
from typing import Any

import pytest

from services.reports import runner, schedule, tasks
from shared.dates import SHANGHAI
from shared.periods import Period
from tests.conftest import ApiClient, Factory
from tests.helpers import assert_problem
from tests.reports_support import (
    Inbox, WorkerProcess, owner_query, serve_over_http, smtp, wait_for, worker_env,  # noqa: F401 - smtp is a fixture
)

REPORTS = "/reports/api/v1"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# -- periods and the schedule's clock ------------------------------------------------------

@pytest.mark.parametrize("moment, kind, expected", [
    # Not before 02:00 Shanghai on the day after the period...
    ("2026-10-01T01:59+08:00", "month", "2026-08"),
    ("2026-10-01T02:00+08:00", "month", "2026-09"),
    ("2026-10-01T02:05+08:00", "quarter", "2026-Q3"),
    ("2026-10-01T01:59+08:00", "quarter", "2026-Q2"),
    # ... which is 18:00 UTC the evening before: Shanghai's midnight, not UTC's, ends the period.
    ("2026-09-30T18:05+00:00", "month", "2026-09"),
    ("2026-09-30T17:59+00:00", "month", "2026-08"),
    # Year ends.
    ("2027-01-01T02:05+08:00", "month", "2026-12"),
    ("2027-01-01T02:05+08:00", "quarter", "2026-Q4"),
    ("2027-01-01T02:05+08:00", "year", "2026"),
    ("2027-01-01T01:55+08:00", "year", "2025"),
    ("2026-12-31T23:59+08:00", "quarter", "2026-Q3"),
    # Mid-period: the last one that ended.
    ("2026-11-30T12:00+08:00", "month", "2026-10"),
    ("2024-03-01T02:00+08:00", "month", "2024-02"),
])
def test_the_period_due_at_a_moment(moment: str, kind: str, expected: str) -> None:
    assert schedule.latest_ended(kind, at(moment)).label == expected


def test_periods_parse_and_name_themselves() -> None:
    assert Period.parse("2026-Q3") == Period(dt.date(2026, 7, 1), dt.date(2026, 9, 30), "quarter")
    assert Period.parse("2024-02").last == dt.date(2024, 2, 29)
    assert Period.parse("2026").due_at() == dt.datetime(2027, 1, 1, 2, 0, tzinfo=SHANGHAI)
    assert [m.label for m in Period.parse("2026-Q4").months] == ["2026-10", "2026-11", "2026-12"]
    assert Period.parse("2026-01").previous.label == "2025-12"
    for bad in ("2026-13", "2026-Q5", "26", "2026-1", "1999", "2026-Q3 ", ""):
        with pytest.raises(ValueError):
            Period.parse(bad)


# -- the API -------------------------------------------------------------------------------

def _ledger(make: Factory, api: ApiClient) -> tuple[dict[str, Any], dict[str, Any]]:
    org = make.organization("铜陵市工商联")
    fund = make.fund(org["id"], "TL-HQ-001", name="铜陵市工商联冠名慈善基金")
    make.donation(fund["code"], "50000.00", received_on="2026-07-03")
    make.donation(fund["code"], "1280.50", received_on="2026-08-21",
                  donor={"name": "张三", "kind": "individual", "anonymous": True})
    return org, fund


def test_asking_twice_for_a_report_while_it_is_queued_gives_the_same_one(api: ApiClient, make: Factory) -> None:
    _, fund = _ledger(make, api)
    first = api.post(f"{REPORTS}/reports", {"period": "2026-Q3", "fund_code": fund["code"]})
    assert first.status_code == 202, first.get_data(as_text=True)
    assert first.json["status"] == "queued"
    again = api.post(f"{REPORTS}/reports", {"period": "2026-Q3", "fund_code": fund["code"]})
    assert again.status_code == 202 and again.json["id"] == first.json["id"]
    other = api.post(f"{REPORTS}/reports", {"period": "2026-08", "fund_code": fund["code"]})
    assert other.json["id"] != first.json["id"]
    shown = api.get(f"{REPORTS}/reports/{first.json['id']}").json
    assert shown["status"] == "queued" and shown["progress"] == 0 and shown["files"] == []
    assert shown["scope"] == {"kind": "fund", "organization_id": fund["organization_id"], "fund_code": "TL-HQ-001"}
    assert shown["summary"] is None


@pytest.mark.parametrize("body, field", [
    ({"period": "2026-13"}, "period"),
    ({"period": "Q3-2026"}, "period"),
    ({"period": 2026}, "period"),
    ({"period": "2099"}, "period"),
    ({}, "period"),
    ({"period": "2026-Q3", "fund_code": "x"}, "fund_code"),
    ({"period": "2026-Q3", "fund_code": "TL-HQ-001", "organization_id": 1}, "organization_id"),
    ({"period": "2026-Q3", "notify": "yes"}, "notify"),
    ({"period": "2026-Q3", "colour": "red"}, "colour"),
])
def test_a_bad_report_request_is_a_422_naming_the_field(api: ApiClient, body: dict[str, Any], field: str) -> None:
    assert_problem(api.post(f"{REPORTS}/reports", body), 422, field)


def test_an_organisation_sees_only_its_own_reports_and_never_every_fund(api: ApiClient, make: Factory) -> None:
    org, fund = _ledger(make, api)
    other = make.organization()
    others_fund = make.fund(other["id"])
    key = make.api_key(org["id"], ["reports:read"])
    mine = api.with_key(key)
    assert_problem(mine.post(f"{REPORTS}/reports", {"period": "2026-Q3"}), 403)
    assert_problem(mine.post(f"{REPORTS}/reports", {"period": "2026-Q3", "fund_code": others_fund["code"]}), 404)
    assert_problem(mine.post(f"{REPORTS}/reports", {"period": "2026-Q3", "organization_id": other["id"]}), 404)
    own = mine.post(f"{REPORTS}/reports", {"period": "2026-Q3", "organization_id": org["id"]})
    assert own.status_code == 202
    theirs = api.post(f"{REPORTS}/reports", {"period": "2026-Q3", "organization_id": other["id"]}).json
    assert [r["id"] for r in mine.get(f"{REPORTS}/reports").json["items"]] == [own.json["id"]]
    assert_problem(mine.get(f"{REPORTS}/reports/{theirs['id']}"), 404)
    no_scope = make.api_key(org["id"], ["funds:read"])
    assert_problem(api.with_key(no_scope).get(f"{REPORTS}/reports"), 403)
    assert_problem(api.with_key(None).get(f"{REPORTS}/reports"), 401)


def test_subscriptions_are_made_listed_and_cancelled(api: ApiClient, make: Factory) -> None:
    org, fund = _ledger(make, api)
    body = {"email": "auditor@mca.tongling.gov.cn", "frequency": "quarterly", "fund_code": fund["code"]}
    made = api.post(f"{REPORTS}/subscriptions", body)
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.json["frequency"] == "quarterly" and made.json["fund_code"] == fund["code"]
    assert api.post(f"{REPORTS}/subscriptions", body).json["id"] == made.json["id"]
    assert_problem(api.post(f"{REPORTS}/subscriptions", {**body, "email": "not an address"}), 422, "email")
    assert_problem(api.post(f"{REPORTS}/subscriptions", {**body, "frequency": "weekly"}), 422, "frequency")
    assert [s["id"] for s in api.get(f"{REPORTS}/subscriptions").json["items"]] == [made.json["id"]]
    outsider = api.with_key(make.api_key(make.organization()["id"], ["reports:read"]))
    assert outsider.get(f"{REPORTS}/subscriptions").json["items"] == []
    assert_problem(outsider.delete(f"{REPORTS}/subscriptions/{made.json['id']}"), 404)
    assert api.delete(f"{REPORTS}/subscriptions/{made.json['id']}").status_code == 204
    assert api.get(f"{REPORTS}/subscriptions").json["items"] == []
    assert_problem(api.delete(f"{REPORTS}/subscriptions/{made.json['id']}"), 404)


# -- building and delivering -----------------------------------------------------------------

@pytest.fixture
def reports_app(gateway: Any) -> Any:
    return gateway.apps["reports"]


def build(reports_app: Any, report_id: int) -> str:
    with reports_app.app_context():
        return tasks.build_and_deliver(reports_app, report_id)


def fan_out(reports_app: Any, moment: str) -> list[int]:
    with reports_app.app_context():
        return schedule.fan_out(reports_app.extensions["database"], at(moment))


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp: tuple[Inbox, str]) -> dict[str, Any]:
    return {**app_config, "SMTP_URL": smtp[1]}


@pytest.fixture
def inbox(smtp: tuple[Inbox, str]) -> Inbox:
    return smtp[0]


def test_an_ad_hoc_report_holds_the_ledgers_figures_and_its_files(api: ApiClient, make: Factory,
                                                                  reports_app: Any) -> None:
    _, fund = _ledger(make, api)
    report_id = api.post(f"{REPORTS}/reports", {"period": "2026-Q3", "fund_code": fund["code"]}).json["id"]
    assert build(reports_app, report_id) == "done"
    report = api.get(f"{REPORTS}/reports/{report_id}").json
    assert report["status"] == "done" and report["progress"] == 100
    summary = report["summary"]
    assert summary["opening_balance"] == "0.00"
    assert summary["donations_total"] == "51280.50" and summary["donations_count"] == 2
    assert summary["closing_balance"] == "51280.50"
    balance = api.get(f"/donations/api/v1/funds/{fund['code']}/balance").json
    assert summary["funds"][0]["closing_balance"] == balance["balance"]
    assert {c["name"]: c["passed"] for c in summary["checks"]} == {
        "trial_balance": True, "balances_match_ledger": True, "audit_chain": True,
        "receipt_numbers_gapless": True, "four_eyes": True}
    assert sorted(f["format"] for f in report["files"]) == ["csv", "pdf", "xlsx"]
    for listed in report["files"]:
        download = api.get(listed["url"].removeprefix("http://localhost"))
        assert download.status_code == 200, listed
        body = download.get_data()
        assert hashlib.sha256(body).hexdigest() == listed["sha256"] and len(body) == listed["size"]
    log = api.get(f"{REPORTS}/reports/{report_id}/log").json["items"]
    assert [(e["from_status"], e["to_status"]) for e in log][:3] == [
        (None, "queued"), ("queued", "running"), ("running", "done")]
    assert log[2]["duration_ms"] is not None and log[1]["worker"]


def test_the_pdf_says_what_the_summary_says(api: ApiClient, make: Factory, reports_app: Any, tmp_path: Any) -> None:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext is not installed (Debian package poppler-utils; make install installs it as root)")
    _, fund = _ledger(make, api)
    report_id = api.post(f"{REPORTS}/reports", {"period": "2026-Q3", "fund_code": fund["code"]}).json["id"]
    build(reports_app, report_id)
    report = api.get(f"{REPORTS}/reports/{report_id}").json
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(api.get(f"{REPORTS}/reports/{report_id}/files/pdf").get_data())
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "¥51,280.50" in text and "TL-HQ-001" in text and "铜陵市工商联冠名慈善基金" in text
    assert "匿名" in text and "张三" not in text  # the anonymous donor stays anonymous
    for head_hash in (h["hash"] for h in report["summary"].get("heads", [])):
        assert head_hash[:16] in text.replace("\n", "")
    assert "第 1 页" in text


def test_a_scheduled_report_is_built_once_and_emailed_once_to_each_subscriber(
        api: ApiClient, make: Factory, reports_app: Any, inbox: Inbox) -> None:
    org, fund = _ledger(make, api)
    for address in ("auditor@mca.tongling.gov.cn", "chief@mca.tongling.gov.cn"):
        api.post(f"{REPORTS}/subscriptions", {"email": address, "frequency": "quarterly", "fund_code": fund["code"]})
    api.post(f"{REPORTS}/subscriptions", {"email": "monthly@mca.tongling.gov.cn", "frequency": "monthly",
                                          "organization_id": org["id"]})
    earlier = fan_out(reports_app, "2026-10-01T01:59+08:00")
    assert len(earlier) == 2  # before 02:00 the latest ended are still 2026-08 and 2026-Q2
    queued = fan_out(reports_app, "2026-10-01T02:05+08:00")
    assert len(queued) == 2  # 2026-Q3 of the fund, 2026-09 of the organisation
    assert fan_out(reports_app, "2026-10-01T02:05+08:00") == []  # the same moment again: nothing new
    assert fan_out(reports_app, "2026-10-01T04:00+08:00") == []
    for report_id in earlier + queued:
        assert build(reports_app, report_id) == "done"
        assert build(reports_app, report_id) == "done"  # a duplicate task changes nothing
    quarterly = [m["Subject"] for m in inbox.to("auditor@mca.tongling.gov.cn")]
    assert len(quarterly) == 2 and {"2026年第二季度", "2026年第三季度"} == {
        next(q for q in ("2026年第二季度", "2026年第三季度") if q in subject) for subject in quarterly}
    q3 = [m for m in inbox.messages if "2026年第三季度" in m["Subject"]]
    assert sorted(m["To"] for m in q3) == ["auditor@mca.tongling.gov.cn", "chief@mca.tongling.gov.cn"]
    message = q3[0]
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "¥51,280.50" in body and "全部通过" in body
    names = sorted(part.get_filename() for part in message.iter_attachments())
    assert [n.rsplit(".", 1)[1] for n in names] == ["csv", "pdf", "xlsx"]
    assert len(inbox.to("monthly@mca.tongling.gov.cn")) == 2  # 2026-08 (at 01:59) and 2026-09


def test_a_refused_email_is_retried_and_logged_and_arrives_once(api: ApiClient, make: Factory, reports_app: Any,
                                                                inbox: Inbox) -> None:
    _, fund = _ledger(make, api)
    api.post(f"{REPORTS}/subscriptions", {"email": "auditor@mca.tongling.gov.cn", "frequency": "quarterly",
                                          "fund_code": fund["code"]})
    (report_id,) = [i for i in fan_out(reports_app, "2026-10-01T02:05+08:00")]
    inbox.refuse = 2
    for _ in range(2):
        with pytest.raises(runner.Transient):
            build(reports_app, report_id)
    assert inbox.messages == [] and inbox.refused == 2
    assert build(reports_app, report_id) == "done"
    assert len(inbox.to("auditor@mca.tongling.gov.cn")) == 1
    assert build(reports_app, report_id) == "done"
    assert len(inbox.messages) == 1
    log = [e["message"] for e in api.get(f"{REPORTS}/reports/{report_id}/log").json["items"]]
    assert sum("失败" in m and "稍后重试" in m for m in log) == 2
    assert any(m.startswith("已发送邮件至 auditor@mca.tongling.gov.cn") for m in log)


def test_two_workers_at_once_build_one_report_and_send_one_email(api: ApiClient, make: Factory, reports_app: Any,
                                                                 inbox: Inbox) -> None:
    _, fund = _ledger(make, api)
    api.post(f"{REPORTS}/subscriptions", {"email": "auditor@mca.tongling.gov.cn", "frequency": "quarterly",
                                          "fund_code": fund["code"]})
    queued = []
    barrier = threading.Barrier(4)

    def trigger() -> None:
        barrier.wait()
        queued.extend(fan_out(reports_app, "2026-10-01T02:05+08:00"))

    threads = [threading.Thread(target=trigger) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(queued) == 1
    outcomes: list[Any] = []
    start = threading.Barrier(2)

    def work() -> None:
        start.wait()
        try:
            outcomes.append(build(reports_app, queued[0]))
        except runner.Transient as error:  # the other holds it: it would look again later
            outcomes.append(error)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert "done" in outcomes
    assert build(reports_app, queued[0]) == "done"
    assert len(inbox.messages) == 1
    files = owner_query(reports_app.config["DATABASE_URL"],
                        "SELECT count(*) FROM reports.report_file WHERE report_id = %s", (queued[0],))
    assert files == [(3,)]


def test_a_report_that_cannot_reach_the_ledger_is_retried_not_lost(api: ApiClient, make: Factory,
                                                                   reports_app: Any) -> None:
    _, fund = _ledger(make, api)
    report_id = api.post(f"{REPORTS}/reports", {"period": "2026-Q3", "fund_code": fund["code"]}).json["id"]
    peers = reports_app.extensions["peers"]
    donations = peers._local.pop("donations")
    peers._clients.pop("donations", None)
    peers.settings = type(peers.settings)(**{**peers.settings.__dict__,
                                             "peer_urls": {"donations": "http://127.0.0.1:9"}})
    try:
        with pytest.raises(runner.Transient):
            build(reports_app, report_id)
    finally:
        peers.wire_local("donations", donations)
    report = api.get(f"{REPORTS}/reports/{report_id}").json
    assert report["status"] == "queued" and "无法连接其他服务" in report["error"]
    assert build(reports_app, report_id) == "done"


# -- real workers --------------------------------------------------------------------------

@pytest.mark.slow
def test_a_real_worker_builds_a_report_asked_for_over_the_api(gateway: Any, app_config: dict[str, Any],
                                                              database_url: str, redis_url: str, tmp_path: Any,
                                                              smtp: tuple[Inbox, str]) -> None:
    base_url, stop_http = serve_over_http(gateway)
    worker = WorkerProcess(worker_env(database_url, tmp_path / "worker-var", base_url, redis_url, smtp[1]),
                           tmp_path / "worker.log", "one")
    try:
        api = ApiClient(gateway)
        _, fund = _ledger(Factory(api), api)
        _use_broker(gateway, redis_url)
        report_id = api.post(f"{REPORTS}/reports", {"period": "2026-Q3", "fund_code": fund["code"]}).json["id"]
        wait_for(lambda: api.get(f"{REPORTS}/reports/{report_id}").json["status"] == "done", 60,
                 f"report {report_id} to be built (worker log: {worker.log})")
        assert api.get(f"{REPORTS}/reports/{report_id}").json["progress"] == 100
    finally:
        worker.stop()
        stop_http()


def _use_broker(gateway: Any, redis_url: str) -> None:
    """Send the reports app's tasks to Redis (the default config writes them under var/)."""
    reports = gateway.apps["reports"]
    settings = reports.config["SETTINGS"]
    reports.config["SETTINGS"] = type(settings)(**{**settings.__dict__, "celery_broker_url": redis_url})
    tasks.init_celery(reports)


@pytest.mark.slow
def test_a_worker_killed_halfway_leaves_nothing_and_another_finishes_once(
        gateway: Any, database_url: str, redis_url: str, tmp_path: Any, smtp: tuple[Inbox, str]) -> None:
    """SIGKILL a worker after it built the report but before it kept it; a new worker takes the
    report over (the task comes back from Redis) and it arrives once, emailed once to each."""
    import psycopg

    from shared.postgres import libpq_dsn

    inbox, smtp_url = smtp
    base_url, stop_http = serve_over_http(gateway)
    api = ApiClient(gateway)
    _, fund = _ledger(Factory(api), api)
    for address in ("auditor@mca.tongling.gov.cn", "chief@mca.tongling.gov.cn"):
        api.post(f"{REPORTS}/subscriptions", {"email": address, "frequency": "quarterly", "fund_code": fund["code"]})
    env = worker_env(database_url, tmp_path / "worker-var", base_url, redis_url, smtp_url,
                     REPORT_LEASE_SECONDS="3", BROKER_VISIBILITY_TIMEOUT="6")
    # Hold the files' table: the first worker builds everything, then waits to keep it.
    blocker = psycopg.connect(libpq_dsn(database_url))
    blocker.execute("LOCK TABLE reports.report_file IN EXCLUSIVE MODE")
    first = WorkerProcess(env, tmp_path / "worker-1.log", "first")
    second = None
    try:
        _use_broker(gateway, redis_url)
        reports = gateway.apps["reports"]
        with reports.app_context():
            (report_id,) = schedule.fan_out(reports.extensions["database"], at("2026-10-01T02:05+08:00"))
            tasks.build_report.delay(report_id)

        def first_waits_on_the_lock() -> bool:
            return bool(owner_query(database_url, "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                                  "AND query ILIKE '%%report_file%%'"))

        wait_for(first_waits_on_the_lock, 60, f"the first worker to build (log: {first.log})")
        first.kill()
        blocker.rollback()
        assert owner_query(database_url, "SELECT status FROM reports.report_run WHERE id = %s",
                           (report_id,)) == [("running",)]
        assert owner_query(database_url, "SELECT count(*) FROM reports.report_file") == [(0,)]
        assert inbox.messages == []

        second = WorkerProcess(env, tmp_path / "worker-2.log", "second")
        wait_for(lambda: owner_query(database_url, "SELECT status FROM reports.report_run WHERE id = %s",
                                     (report_id,)) == [("done",)], 90, f"the second worker (log: {second.log})")
        wait_for(lambda: len(inbox.messages) >= 2, 30, "the emails")
        second.stop()
        assert sorted(m["To"] for m in inbox.messages) == ["auditor@mca.tongling.gov.cn", "chief@mca.tongling.gov.cn"]
        assert owner_query(database_url, "SELECT count(*) FROM reports.report_run") == [(1,)]
        assert owner_query(database_url, "SELECT count(*) FROM reports.report_file") == [(3,)]
        log = [row[0] for row in owner_query(database_url, "SELECT message FROM reports.run_log "
                                                           "WHERE report_id = %s ORDER BY id", (report_id,))]
        assert any("接管：原处理进程" in m for m in log), log
    finally:
        blocker.close()
        first.kill()
        if second is not None:
            second.kill()
        stop_http()


def test_beats_tick_queues_due_reports_takes_over_stuck_ones_and_prunes_every_services_keys(
        api: ApiClient, make: Factory, reports_app: Any, database_url: str) -> None:
    _, fund = _ledger(make, api)
    api.post(f"{REPORTS}/subscriptions", {"email": "auditor@mca.tongling.gov.cn", "frequency": "monthly",
                                          "fund_code": fund["code"]})
    # A run whose worker died: running, its lease long gone.
    stuck = api.post(f"{REPORTS}/reports", {"period": "2026-07", "fund_code": fund["code"]}).json["id"]
    owner_query(database_url, "UPDATE reports.report_run SET status = 'running', worker = 'gone:1', "
                              "lease_until = now() - interval '1 minute' WHERE id = %s", (stuck,))
    for schema in ("funds", "donations", "reports", "programmes"):
        owner_query(database_url, f"INSERT INTO {schema}.idempotency_key (owner, key, fingerprint, created_at) "
                                  "VALUES ('key:1', 'old', 'x', now() - interval '3 days'), "
                                  "('key:1', 'new', 'x', now())")
    with reports_app.app_context():
        outcome = tasks.tick()
    assert len(outcome["queued"]) == 1 and outcome["again"] == [stuck]
    assert outcome["pruned"] == {"funds": 1, "donations": 1, "programmes": 1, "reports": 1}
    for schema in ("funds", "donations", "reports", "programmes"):
        assert owner_query(database_url, f"SELECT key FROM {schema}.idempotency_key") == [("new",)]
    assert build(reports_app, stuck) == "done"
    log = [e["message"] for e in api.get(f"{REPORTS}/reports/{stuck}/log").json["items"]]
    assert any("接管：原处理进程 gone:1" in m for m in log)


def test_an_ad_hoc_report_is_emailed_to_subscribers_only_when_asked(api: ApiClient, make: Factory,
                                                                     reports_app: Any, inbox: Inbox) -> None:
    _, fund = _ledger(make, api)
    api.post(f"{REPORTS}/subscriptions", {"email": "auditor@mca.tongling.gov.cn", "frequency": "monthly",
                                          "fund_code": fund["code"]})
    quiet = api.post(f"{REPORTS}/reports", {"period": "2026-07", "fund_code": fund["code"]}).json["id"]
    assert build(reports_app, quiet) == "done" and inbox.messages == []
    loud = api.post(f"{REPORTS}/reports", {"period": "2026-08", "fund_code": fund["code"], "notify": True}).json["id"]
    assert build(reports_app, loud) == "done"
    assert [m["To"] for m in inbox.messages] == ["auditor@mca.tongling.gov.cn"]
    assert "2026年8月" in inbox.messages[0]["Subject"]
    # Asked again later for the same period: rebuilt, but the subscriber has had it.
    again = api.post(f"{REPORTS}/reports", {"period": "2026-08", "fund_code": fund["code"], "notify": True}).json["id"]
    assert again != loud and build(reports_app, again) == "done"
    assert len(inbox.messages) == 1
