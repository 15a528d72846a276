"""Errors as RFC 9457 problem details, for every route of every service.

Domain code raises `Problem` (or one of its subclasses); Flask, werkzeug and
flask-smorest errors are turned into the same shape. Browsers asking for a
web page get the same facts as a small HTML page instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, json, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://charity-ledger.example/problems/"
PROBLEM_MIMETYPE = "application/problem+json"

Errors = Mapping[str, list[str]]


class Problem(Exception):
    """An error answered as application/problem+json."""

    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(self, detail: str, *, errors: Errors | None = None, status: int | None = None,
                 title: str | None = None, slug: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = dict(errors) if errors else None
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        if slug is not None:
            self.slug = slug


class ValidationProblem(Problem):
    status = 422
    title = "Validation failed"
    slug = "validation"

    @classmethod
    def field(cls, field: str, message: str) -> ValidationProblem:
        return cls(f"{field}: {message}", errors={field: [message]})


class NotFound(Problem):
    status = 404
    title = "Not found"
    slug = "not-found"


class Forbidden(Problem):
    status = 403
    title = "Forbidden"
    slug = "forbidden"


class Unauthorized(Problem):
    status = 401
    title = "Unauthorized"
    slug = "unauthorized"


class Conflict(Problem):
    status = 409
    title = "Conflict"
    slug = "conflict"


class ServiceUnavailable(Problem):
    status = 503
    title = "Service unavailable"
    slug = "unavailable"


def problem_response(status: int, title: str, detail: str, *, slug: str | None = None,
                     errors: Errors | None = None, headers: Mapping[str, str] | None = None) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (slug or str(status)),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = {field: list(messages) for field, messages in errors.items()}
    if _wants_html():
        response = Response(render_template("error.html", problem=body), status=status,
                            mimetype="text/html")
    else:
        response = Response(json.dumps(body, ensure_ascii=False), status=status,
                            mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _wants_html() -> bool:
    """A browser on a web page (not the API, not a client asking for JSON)."""
    if "/api/" in request.path or "/internal/" in request.path:
        return False
    best = request.accept_mimetypes.best_match(["application/json", PROBLEM_MIMETYPE, "text/html"])
    return best == "text/html"


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """{"json": {"donor": {"name": [..]}}} -> {"donor.name": [..]}.

    The request location (json, query, ...) is dropped: field names are unique
    across them in this API. List items are named by index: rows.3.amount.
    """
    flat: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if not prefix and key in ("json", "query", "form", "files", "headers", "view_args", "path"):
                # A message about the whole body (e.g. invalid JSON) names the body.
                name = "" if isinstance(value, Mapping) else "body"
            elif key == "_schema":
                name = prefix or "_schema"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            for field, msgs in flatten_errors(value, name).items():
                flat.setdefault(field, []).extend(msgs)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat[prefix or "_schema"] = list(messages)
    elif isinstance(messages, list):
        for item in messages:
            for field, msgs in flatten_errors(item, prefix).items():
                flat.setdefault(field, []).extend(msgs)
    else:
        flat[prefix or "_schema"] = [str(messages)]
    return flat


def describe(errors: Errors) -> str:
    return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())


def http_exception_response(error: HTTPException) -> Response:
    """A werkzeug/flask-smorest HTTP error as a problem, keeping Allow etc."""
    status = error.code or 500
    headers = {k: v for k, v in error.get_headers() if k.lower() not in ("content-type", "content-length")}
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") if isinstance(data, Mapping) else None
    if status == 422 and messages:
        errors = flatten_errors(messages)
        return problem_response(422, "Validation failed", describe(errors), slug="validation",
                                errors=errors, headers=headers)
    if status == 400 and messages:
        errors = flatten_errors(messages)
        return problem_response(400, "Malformed request", describe(errors), slug="malformed",
                                errors=errors, headers=headers)
    if isinstance(error, CSRFError):
        return problem_response(400, "CSRF check failed", error.description or "CSRF token missing.",
                                slug="csrf", errors={"csrf_token": [error.description or "missing"]},
                                headers=headers)
    return problem_response(status, error.name, error.description or error.name,
                            slug=str(status), headers=headers)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(error: Problem) -> Response:
        return problem_response(error.status, error.title, error.detail, slug=error.slug,
                                errors=error.errors)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        if isinstance(error, InternalServerError) and error.original_exception is not None:
            return _unexpected(error.original_exception)
        return http_exception_response(error)

    @app.errorhandler(Exception)
    def _unexpected(error: BaseException) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path, exc_info=error)
        return problem_response(500, "Internal server error",
                                "The server failed to answer this request; it has been logged.",
                                slug="internal")
