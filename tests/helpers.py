"""Assertions the test modules share."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

from werkzeug.test import TestResponse

PROBLEM = "application/problem+json"


def assert_problem(response: TestResponse, status: int, field: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem with `status`; with `field`, a validation error naming it."""
    body = response.get_data(as_text=True)
    assert response.status_code == status, body
    assert response.mimetype == PROBLEM, (response.mimetype, body)
    problem = json.loads(body)
    for member in ("type", "title", "status", "detail"):
        assert member in problem, problem
    assert problem["status"] == status
    assert isinstance(problem["title"], str) and problem["title"]
    assert isinstance(problem["detail"], str) and problem["detail"]
    if field is not None:
        assert field in problem.get("errors", {}), problem
        assert all(isinstance(m, str) and m for m in problem["errors"][field]), problem
    return problem  # type: ignore[no-any-return]


def assert_ok(response: TestResponse, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.json


def has_offset(timestamp: str) -> bool:
    return dt.datetime.fromisoformat(timestamp).utcoffset() is not None


def text(response: Any) -> str:
    """A page's text with HTML entities decoded."""
    return html.unescape(response.get_data(as_text=True))


def field_errors(response: Any, field: str) -> str:
    """The errors a page shows beside the field with this id ('' if none)."""
    match = re.search(rf'id="errors-{re.escape(field)}">(.*?)</ul>', response.get_data(as_text=True), re.S)
    return html.unescape(match.group(1)) if match else ""


def stop_process_group(process: subprocess.Popen[Any], timeout: float = 20) -> int | None:
    """SIGTERM to a process started with start_new_session (and its children), SIGKILL if it
    outlives `timeout`; its exit status (None: it had to be killed)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_process_group(process)
        return None


def kill_process_group(process: subprocess.Popen[Any]) -> None:
    """SIGKILL to the process and its children: no clean-up, no acknowledgement."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


# What the contract promises: a revoked key, an ended login, a frozen fund take effect everywhere within it.
PROPAGATION_LIMIT = 5.0


def wait_until(condition: Callable[[], bool], limit: float = PROPAGATION_LIMIT) -> float:
    """Seconds until `condition` held; fails after `limit`."""
    start = time.monotonic()
    while not condition():
        elapsed = time.monotonic() - start
        assert elapsed < limit, f"still not true after {elapsed:.1f} s"
        time.sleep(0.1)
    return time.monotonic() - start
