"""gunicorn settings for every service (`gunicorn -c deploy/gunicorn.conf.py 'services.funds:create_app()'`)
and for `make run` (services/serve.py). Command-line flags (--bind, --workers, ...) still apply.

- Logs: no access log: each service writes one line per request itself (shared/logs.py, with its
  route, status, duration and request id); gunicorn's own lines (workers booting, dying) in the
  same format, LOG_FORMAT (json by default, or text).
- Metrics: the workers' counts are added up (prometheus_client's multiprocess mode): each worker
  writes its values under PROMETHEUS_MULTIPROC_DIR (a new temporary folder unless set), emptied of
  dead processes' files at start; a worker that exits stops counting in the live gauges.
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from shared.config import log_format  # noqa: E402 - after the checkout is on the path
from shared.logs import gunicorn_logconfig  # noqa: E402

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Set before any worker imports prometheus_client (the app is loaded in each worker).
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ledger-metrics-")

accesslog = None
logconfig_dict = gunicorn_logconfig(log_format(os.environ), os.environ.get("LOG_LEVEL") or "INFO")


def on_starting(server):
    from shared.metrics import clean_multiprocess_dir

    clean_multiprocess_dir(os.environ["PROMETHEUS_MULTIPROC_DIR"])


def child_exit(server, worker):
    from shared.metrics import process_exited

    process_exited(worker.pid)
