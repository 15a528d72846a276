"""The Celery worker's and beat's entry point:

    celery -A services.reports.worker worker      (and `beat`; `worker -B` runs both)

The reports app is made here, from the environment, and its Celery app
configured from the same settings (tasks.init_celery).
"""

from __future__ import annotations

from services.reports import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
