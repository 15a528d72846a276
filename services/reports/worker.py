"""The Celery worker's and beat's entry point:

    celery -A services.reports.worker worker      (and `beat`; `worker -B` runs both)

The reports app is made here, from the environment, and its Celery app
configured from the same settings (tasks.init_celery).

Logs: the app's logging (shared/logs.py: JSON lines unless LOG_FORMAT=text,
at LOG_LEVEL) is the worker's too; Celery does not set up its own (so its
--loglevel is not used). Each task's lines carry its name, id and the id of
the request that queued it.

Metrics: report runs are counted in the worker's processes. With
PROMETHEUS_MULTIPROC_DIR shared with the reports service's gunicorn (as
`make run` does) they show on /reports/metrics; else set WORKER_METRICS_PORT
and the worker serves them itself at http://<host>:<port>/metrics (its
processes added up through PROMETHEUS_MULTIPROC_DIR, a temporary folder by
default).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from celery import signals

if os.environ.get("WORKER_METRICS_PORT") and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Before prometheus_client is imported: the pool's processes must write where the server reads.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ledger-worker-metrics-")

from services.reports import create_app  # noqa: E402 - after the metrics' folder is chosen
from shared import metrics  # noqa: E402

flask_app = create_app()
celery = flask_app.extensions["celery"]


@signals.setup_logging.connect(weak=False)
def _logging(**_: Any) -> None:
    """Keep the app's logging (already configured by create_app) instead of Celery's."""


@signals.worker_init.connect(weak=False)
def _serve_metrics(**_: Any) -> None:
    port = flask_app.config["SETTINGS"].worker_metrics_port
    if port:
        path = metrics.multiprocess_dir()
        if path:
            metrics.clean_multiprocess_dir(path)
        metrics.serve_worker_metrics(port)


@signals.worker_process_shutdown.connect(weak=False)
def _process_gone(pid: int | None = None, **_: Any) -> None:
    metrics.process_exited(pid or os.getpid())
