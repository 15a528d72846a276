"""The reports service's Celery tasks, and the Celery app made from the service's settings.

As in Flask's Celery example: the Celery app is configured from the Flask
app's settings and every task runs inside an app context. Tasks are
acknowledged late (a worker killed mid-task leaves its message to another)
and idempotent: runner.py claims a report before building it and keeps the
result in one transaction, so a repeated or duplicated task is harmless.

A task queued while serving a request carries the request's id (the message's
`request_id` header); its log lines and its calls to other services carry it
too. Every task logs a JSON line when it starts and when it ends (its name,
id, state and request id); each report run is counted by the state it ended
in, with its duration (shared/metrics.py). The reports service's /metrics
reads the queue's length from the broker and the reports by state from its
database at scrape time.

Beat also asks the programmes service, daily shortly after 01:00 in
Shanghai, to expire the claims past their date and send the ledger again any
caps it may have missed (`programmes.expire_claims`).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from celery import Celery, Task, shared_task, signals
from celery.schedules import crontab
from flask import Flask, current_app
from prometheus_client.core import Metric
from sqlalchemy import func, select

from services.reports import runner, schedule
from shared import metrics
from shared.config import Settings
from shared.db import Database, utcnow
from shared.errors import Problem
from shared.logs import REQUEST_ID, TASK, current_request_id

log = logging.getLogger(__name__)

# A task that keeps meeting a transient failure stops retrying after this; beat's sweep queues
# its report again later, so nothing is lost.
MAX_RETRIES = 8
# When beat asks the programmes service to expire the claims past their date (Asia/Shanghai, the
# Celery timezone): just after the day has turned, away from the reports due at 02:00.
EXPIRE_CLAIMS_AT = {"hour": 1, "minute": 5}


def celery_config(settings: Settings) -> dict[str, Any]:
    # Beat keeps its schedule file there whatever the broker: without the folder it dies at start.
    (settings.var_dir / "celery").mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "broker_url": settings.celery_broker_url,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        "timezone": "Asia/Shanghai",
        "beat_schedule": {"reports.tick": {"task": "reports.tick", "schedule": settings.schedule_every_seconds},
                          "programmes.expire_claims": {"task": "programmes.expire_claims",
                                                       "schedule": crontab(**EXPIRE_CLAIMS_AT)}},
        "beat_schedule_filename": str(settings.var_dir / "celery" / "beat-schedule"),
        # Redis hands a task whose worker died to another after the visibility timeout; kombu looks
        # for such tasks every 10 s, but by default acts only on every 10th look: act on each.
        "broker_transport_options": {"visibility_timeout": settings.broker_visibility_timeout,
                                     "unacked_restore_throttle": 1},
    }
    if settings.celery_broker_url.startswith("filesystem://"):
        # The embedded transport (make run without a broker): messages are files under var/celery.
        queue, control = settings.var_dir / "celery" / "queue", settings.var_dir / "celery" / "control"
        for folder in (queue, control):
            folder.mkdir(parents=True, exist_ok=True)
        config["broker_transport_options"] = {"data_folder_in": str(queue), "data_folder_out": str(queue),
                                              "control_folder": str(control), "polling_interval": 0.1}
    return config


def init_celery(app: Flask) -> Celery:
    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.config_from_object(celery_config(app.config["SETTINGS"]))
    celery.set_default()
    app.extensions["celery"] = celery
    _connect_signals()
    if "report_metrics" not in app.extensions:
        app.extensions["report_metrics"] = True
        metrics.add_collector(app, lambda: _scrape_time_metrics(app))
    return celery


# -- request ids, task logs and metrics ----------------------------------------------------

HEADER = "request_id"


def _connect_signals() -> None:
    signals.before_task_publish.connect(_stamp_request_id, weak=False, dispatch_uid="ledger.request_id")
    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="ledger.task_started")
    signals.task_postrun.connect(_task_ended, weak=False, dispatch_uid="ledger.task_ended")


def _stamp_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """A task queued for a request (or by a task working for one) carries its id."""
    request_id = current_request_id()
    if request_id and headers is not None:
        headers.setdefault(HEADER, request_id)


def _request_id_of(task: Task) -> str | None:
    value = getattr(task.request, HEADER, None) or (getattr(task.request, "headers", None) or {}).get(HEADER)
    return value if isinstance(value, str) else None


def _task_started(task_id: str | None = None, task: Task | None = None, **_: Any) -> None:
    if task is None:
        return
    REQUEST_ID.set(_request_id_of(task))
    TASK.set({"task": task.name, "task_id": task_id})
    log.info("task %s[%s] started", task.name, task_id, extra={"state": "STARTED"})


def _task_ended(task_id: str | None = None, task: Task | None = None, state: str | None = None, **_: Any) -> None:
    if task is None:
        return
    log.info("task %s[%s] %s", task.name, task_id, state, extra={"state": state})
    REQUEST_ID.set(None)
    TASK.set(None)


def _scrape_time_metrics(app: Flask) -> Iterator[Metric]:
    yield metrics.gauge("celery_queue_length", "Tasks waiting in the reports queue (read from the broker).",
                        ["service", "queue"], {("reports", queue): n for queue, n in _queue_lengths(app).items()})
    from services.reports.models import ReportRun

    database: Database = app.extensions["database"]
    assert database.read_engine is not None
    with database.read_engine.connect() as connection:
        counts = dict(connection.execute(select(ReportRun.status, func.count()).group_by(ReportRun.status)).all())
    yield metrics.gauge("report_runs_current", "Reports by their state now (read from the database).",
                        ["service", "state"],
                        {("reports", state): counts.get(state, 0) for state in ("queued", "running", "done", "failed")})


def _queue_lengths(app: Flask) -> dict[str, int]:
    celery: Celery = app.extensions["celery"]
    queue = celery.conf.task_default_queue or "celery"
    url = str(celery.conf.broker_url)
    if url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            # kombu keeps a queue's prioritised messages in sibling lists (priority steps 3, 6, 9).
            names = [queue] + [f"{queue}\x06\x16{step}" for step in (3, 6, 9)]
            return {queue: sum(int(client.llen(name)) for name in names)}
        finally:
            client.close()
    if url.startswith("filesystem://"):
        folder = Path(celery.conf.broker_transport_options["data_folder_in"])
        return {queue: sum(1 for _ in folder.glob(f"*.{queue}.msg"))}
    with celery.connection_for_read() as connection:
        return {queue: int(connection.default_channel.queue_declare(queue=queue, passive=True).message_count)}


def _backoff(retries: int) -> float:
    """5 s, 10 s, 20 s ... up to 5 minutes, with jitter so retries don't arrive together."""
    return min(300.0, 5.0 * 2 ** retries) * random.uniform(0.8, 1.2)


def build_and_deliver(app: Flask, report_id: int) -> str:
    """Build the report (if nobody has), then send its pending emails."""
    from services.reports.sources import Sources

    db: Database = app.extensions["database"]
    settings: Settings = app.config["SETTINGS"]
    started = time.monotonic()
    try:
        outcome = runner.run_report(db, Sources(app.extensions["peers"]), settings, report_id)
    except runner.Transient:
        metrics.report_run("retrying", time.monotonic() - started)
        raise
    metrics.report_run(outcome.status, time.monotonic() - started)
    if outcome.status == "done":
        runner.deliver_pending(db, settings, report_id)
    return outcome.status


@shared_task(bind=True, name="reports.build", max_retries=MAX_RETRIES)
def build_report(self: Task, report_id: int) -> str:
    try:
        return build_and_deliver(current_app._get_current_object(), report_id)  # type: ignore[attr-defined]
    except runner.Transient as error:
        countdown = error.countdown if error.countdown is not None else _backoff(self.request.retries)
        log.warning("report %s: %s; again in %.0f s", report_id, error, countdown)
        raise self.retry(countdown=countdown, exc=error) from error


@shared_task(bind=True, name="reports.deliver", max_retries=MAX_RETRIES)
def deliver(self: Task) -> int:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        sent, _ = runner.deliver_pending(app.extensions["database"], app.config["SETTINGS"])
        return sent
    except runner.Transient as error:
        raise self.retry(countdown=_backoff(self.request.retries), exc=error) from error


@shared_task(name="reports.tick")
def tick() -> dict[str, Any]:
    """Beat's cheap, frequent look: due reports, reports to take over, unsent mail, old keys."""
    from services.reports.sources import prune_idempotency_keys

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    db: Database = app.extensions["database"]
    queued = schedule.fan_out(db, utcnow())
    again = runner.sweep(db, app.config["SETTINGS"])
    for report_id in queued + again:
        build_report.delay(report_id)
    deliver.delay()
    pruned = prune_idempotency_keys(app)
    return {"queued": queued, "again": again, "pruned": pruned}


@shared_task(bind=True, name="programmes.expire_claims", max_retries=MAX_RETRIES)
def expire_claims(self: Task) -> dict[str, Any]:
    """The programmes service expires the claims past their date (freeing their share of the need)
    and sends the ledger again the caps it may have missed; what it did. Retried while it cannot be
    reached; tomorrow's run finds whatever today's missed."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        answer = app.extensions["peers"].answer("programmes", "POST", "/internal/v1/claims/expire")
    except Problem as error:
        log.warning("expiring claims: the programmes service failed (%s); again later", error)
        raise self.retry(countdown=_backoff(self.request.retries), exc=error) from error
    if answer is None:  # a programmes service without the endpoint: nothing to do
        return {"expired": [], "caps_resent": 0}
    log.info("claims expired: %d; caps resent: %s", len(answer["expired"]), answer["caps_resent"])
    return answer  # type: ignore[no-any-return]
