"""The reports service's Celery tasks, and the Celery app made from the service's settings.

As in Flask's Celery example: the Celery app is configured from the Flask
app's settings and every task runs inside an app context. Tasks are
acknowledged late (a worker killed mid-task leaves its message to another)
and idempotent: runner.py claims a report before building it and keeps the
result in one transaction, so a repeated or duplicated task is harmless.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from celery import Celery, Task, shared_task
from flask import Flask, current_app

from services.reports import runner, schedule
from shared.config import Settings
from shared.db import Database, utcnow

log = logging.getLogger(__name__)

# A task that keeps meeting a transient failure stops retrying after this; beat's sweep queues
# its report again later, so nothing is lost.
MAX_RETRIES = 8


def celery_config(settings: Settings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "broker_url": settings.celery_broker_url,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        "timezone": "Asia/Shanghai",
        "beat_schedule": {"reports.tick": {"task": "reports.tick", "schedule": settings.schedule_every_seconds}},
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
    return celery


def _backoff(retries: int) -> float:
    """5 s, 10 s, 20 s ... up to 5 minutes, with jitter so retries don't arrive together."""
    return min(300.0, 5.0 * 2 ** retries) * random.uniform(0.8, 1.2)


def build_and_deliver(app: Flask, report_id: int) -> str:
    """Build the report (if nobody has), then send its pending emails."""
    from services.reports.sources import Sources

    db: Database = app.extensions["database"]
    settings: Settings = app.config["SETTINGS"]
    outcome = runner.run_report(db, Sources(app.extensions["peers"]), settings, report_id)
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
