"""Logs: one JSON line per record (python-json-logger), or plain text on a terminal.

`LOG_FORMAT=json` (the default) writes every record as a JSON object on
stderr with `time`, `level`, `logger`, `message`, and, when known, `service`,
`request_id` and, in the Celery worker, `task`, `task_id`. Each request
answered adds one line (shared/observability.py) with its method, path
(never its query string), route, status, duration and who asked (`actor`,
`user:<id>` or `key:<id>`: never a key, a password, a cookie or a header).

The request id is the caller's `X-Request-Id` when sane, else a new one
(shared/app.py); it goes with every call to another service (shared/peers.py)
and every task the reports service queues (services/reports/tasks.py), so one
request can be followed through every service and the worker by its id.

Nothing here imports prometheus_client: gunicorn's configuration imports this
module in the master process, before the workers choose their metrics' storage.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

LOG_FORMATS = ("json", "text")

# The request id (and Celery task) of work done outside a Flask request: a task, a thread.
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
TASK: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar("task", default=None)

# Loggers that speak per call at INFO: their calls are already in the per-request lines.
QUIET = ("httpx", "httpcore", "urllib3")

JSON_FIELDS = "{levelname}{name}{message}"
RENAMED = {"levelname": "level", "name": "logger"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(service)s %(request_id)s %(name)s: %(message)s"


def current_request_id() -> str | None:
    """The id of the request being served, or of the request a task or thread works for."""
    try:
        from flask import g, has_app_context

        if has_app_context() and "request_id" in g:
            return g.request_id  # type: ignore[no-any-return]
    except ImportError:  # pragma: no cover - Flask is always there
        pass
    return REQUEST_ID.get()


@contextmanager
def request_id_context(request_id: str | None) -> Iterator[None]:
    """Work outside a request (a task) done for `request_id`: its logs and calls carry it."""
    token = REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        REQUEST_ID.reset(token)


class ContextFilter(logging.Filter):
    """Adds `service` and `request_id` (and the Celery task's name and id) to every record."""

    def __init__(self, service: str | None = None) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        if getattr(record, "service", None) is None:
            record.service = _current_service() or self.service
        task = TASK.get()
        if task:
            for name, value in task.items():
                if getattr(record, name, None) is None:
                    setattr(record, name, value)
        return True


def _current_service() -> str | None:
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app.config.get("SERVICE_NAME")  # type: ignore[no-any-return]
    return None


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record comes (pytest swaps it between tests)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        for name in ("service", "request_id"):
            if getattr(record, name, None) is None:
                setattr(record, name, "-")
        return super().format(record)


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "text":
        return _TextFormatter(TEXT_FORMAT)
    from pythonjsonlogger.json import JsonFormatter

    # `time`: ISO 8601 in UTC.
    return JsonFormatter(JSON_FIELDS, style="{", rename_fields=RENAMED, timestamp="time", json_ensure_ascii=False)


def configure_logging(log_format: str = "json", level: str = "INFO", service: str | None = None) -> None:
    """Every record of this process to stderr, as JSON lines (or text). Idempotent: a second
    call replaces the handler the first installed, and leaves others' (pytest's) alone."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_ledger", False):
            root.removeHandler(handler)
    handler = _Stderr()
    handler._ledger = True  # type: ignore[attr-defined]
    handler.setFormatter(formatter(log_format))
    handler.addFilter(ContextFilter(service))
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def gunicorn_logconfig(log_format: str, level: str = "INFO") -> dict[str, Any]:
    """gunicorn's own log (workers booting, dying) in the same format; no access log: each
    service writes a line per request itself."""
    formatter_config: dict[str, Any] = (
        {"()": "pythonjsonlogger.json.JsonFormatter", "fmt": JSON_FIELDS, "style": "{",
         "rename_fields": RENAMED, "timestamp": "time", "static_fields": {"service": "gunicorn"}}
        if log_format == "json" else {"format": "%(asctime)s %(levelname)s gunicorn %(name)s: %(message)s"})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"ledger": formatter_config},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "ledger",
                                "stream": "ext://sys.stderr"}},
        # The root logger is the app's (configure_logging, in each worker).
        "root": {"level": level.upper(), "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": level.upper(), "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }
