"""Errors as RFC 9457 problem details, for every route of every service.

Domain code raises `Problem(code, **params)`: a refusal from the catalogue
in shared.refusals, never a sentence. The API answers it as
application/problem+json, `type` ending in the code and `code` carrying it,
the English message as `detail`; a validation problem names each refused
field in `errors` (messages) and `codes` (their codes). Browsers asking for a
page get the same facts as a small page in their language. Flask, werkzeug,
webargs and CSRF errors are turned into the same shape.

An outage is not a fault of the request: a database that cannot be reached
(down, restarting, the connection lost: shared.db.unavailable) is a 503
`database_unavailable`, wherever it surfaces, and every 503 says when to try
again (Retry-After). Anything else unexpected is a 500 that shows no stack.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, json, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from shared import i18n
from shared.db import unavailable
from shared.money import Money
from shared.refusals import KINDS, Label, Message, english

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://charity-ledger.example/problems/"
PROBLEM_MIMETYPE = "application/problem+json"

# Parameters that name a value of a vocabulary (a status, an account): shown translated.
LABELLED_PARAMS = frozenset({"status", "target", "account"})

FieldErrors = Mapping[str, list[Message]]

# What a 503 tells the client to wait before trying again: a peer or the database coming back.
RETRY_AFTER_SECONDS = 5


def normalise(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as messages show them: `*_fen` as money ("20.00"), statuses as labels."""
    shown: dict[str, Any] = {}
    for name, value in params.items():
        if name.endswith("_fen") and isinstance(value, int):
            shown[name[:-4]] = str(Money(value))
        elif name in LABELLED_PARAMS and isinstance(value, str):
            shown[name] = Label(value)
        else:
            shown[name] = value
    return shown


class Problem(Exception):
    """A refusal: a code of shared.refusals, its parameters, and refused fields if any."""

    def __init__(self, code: str, /, *, errors: FieldErrors | None = None, headers: Mapping[str, str] | None = None,
                 **params: Any) -> None:
        if code not in KINDS:
            raise KeyError(f"unknown refusal code {code}")
        self.code = code
        self.params = normalise(params)
        self.errors = {name: list(messages) for name, messages in errors.items()} if errors else None
        self.headers = dict(headers or {})
        super().__init__(code)

    def __str__(self) -> str:
        return self.detail

    @classmethod
    def invalid(cls, errors: FieldErrors) -> Problem:
        """Fields refused (422)."""
        return cls("validation", errors=errors)

    @classmethod
    def field(cls, field: str, code: str, **params: Any) -> Problem:
        """One field refused (422)."""
        return cls.invalid({field: [Message(code, normalise(params))]})

    @classmethod
    def relayed(cls, service: str, body: Any) -> Problem:
        """A peer service's refusal (its problem+json), raised again by its code and parameters.
        An answer that names no refusal of ours is the peer failing (503)."""
        code = body.get("code") if isinstance(body, Mapping) else None
        params = body.get("params") if isinstance(body, Mapping) else None
        if code not in KINDS or code == "validation" or not isinstance(params or {}, Mapping):
            return cls.of(service)
        return cls(code, **(params or {}))

    @classmethod
    def of(cls, service: str) -> Problem:
        """A peer service that cannot be reached (503)."""
        return cls("service_unavailable", service=service)

    @property
    def status(self) -> int:
        return KINDS[self.code].status

    @property
    def title(self) -> str:
        return KINDS[self.code].title

    @property
    def detail(self) -> str:
        if self.code == "validation" and self.errors:
            return describe(self.errors)
        return english(self.code, self.params)

    def in_language(self, lang: str | None = None) -> tuple[str, dict[str, list[str]]]:
        """The message and the field errors, as a page in `lang` shows them."""
        errors = {name: [i18n.render(m.code, m.params, lang) for m in messages]
                  for name, messages in (self.errors or {}).items()}
        if self.code == "validation" and errors:
            return i18n.render("validation", {}, lang), errors
        return i18n.render(self.code, self.params, lang), errors


def as_problem(error: BaseException) -> Problem:
    """The refusal an exception stands for: itself if it is one, 503 for a database that cannot be
    reached, else a 500 (logged by whoever caught it)."""
    if isinstance(error, Problem):
        return error
    if unavailable(error):
        return Problem("database_unavailable")
    return Problem("internal_error")


def describe(errors: FieldErrors) -> str:
    return "; ".join(f"{field}: {' '.join(str(m) for m in messages)}" for field, messages in errors.items())


def errors_json(errors: FieldErrors) -> dict[str, Any]:
    """Refused fields as the API writes them: English messages in `errors`, their codes in `codes`."""
    return {"errors": {field: [str(m) for m in messages] for field, messages in errors.items()},
            "codes": {field: [m.code for m in messages] for field, messages in errors.items()}}


def problem_response(problem: Problem) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + problem.code,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "code": problem.code,
    }
    shown = {name: value for name, value in problem.params.items() if name != "field"}
    if shown:
        body["params"] = {name: str(value) if isinstance(value, Label) else value for name, value in shown.items()}
    if problem.errors:
        body.update(errors_json(problem.errors))
    if _wants_html():
        detail, errors = problem.in_language()
        # What the page adds to its detail: each refused field's words once, not the detail again.
        said = sorted({message for messages in errors.values() for message in messages} - {detail})
        page = {"status": problem.status, "title": i18n.title(problem.code), "detail": detail, "errors": said,
                "came_from": _came_from()}
        response = Response(render_template("error.html", problem=page), status=problem.status,
                            mimetype="text/html")
    else:
        response = Response(json.dumps(body, ensure_ascii=False), status=problem.status, mimetype=PROBLEM_MIMETYPE)
    for name, value in problem.headers.items():
        response.headers[name] = value
    _retry_after(response)
    return response


def _retry_after(response: Response) -> None:
    """Every 503 says when to try again."""
    if response.status_code == 503 and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)


def _came_from() -> str | None:
    """The page of this site the reader came from (a form sent, a link followed), as a way back
    beside the start page; never another site's, nor this very address."""
    referrer = urlsplit(request.referrer or "")
    if referrer.scheme not in ("http", "https") or referrer.netloc != request.host:
        return None
    if referrer.path == request.script_root + request.path and request.method == "GET":
        return None
    return urlunsplit(("", "", referrer.path or "/", referrer.query, ""))


def _wants_html() -> bool:
    """A browser on a web page (not the API, not a client asking for JSON)."""
    if "/api/" in request.path or "/internal/" in request.path:
        return False
    best = request.accept_mimetypes.best_match(["application/json", PROBLEM_MIMETYPE, "text/html"])
    return best == "text/html"


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[Message]]:
    """{"json": {"donor": {"name": [m]}}} -> {"donor.name": [m]}.

    The request location (json, query, ...) is dropped: field names are unique
    across them in this API. Messages that are plain text (from a library)
    become `invalid`-coded messages keeping their text.
    """
    flat: dict[str, list[Message]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if not prefix and key in ("json", "query", "form", "files", "headers", "view_args", "path"):
                name = "" if isinstance(value, Mapping) else "body"
            elif key == "_schema":
                name = prefix or "_schema"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            for field, found in flatten_errors(value, name).items():
                flat.setdefault(field, []).extend(found)
    elif isinstance(messages, list):
        for item in messages:
            if isinstance(item, (Mapping, list)):
                for field, found in flatten_errors(item, prefix).items():
                    flat.setdefault(field, []).extend(found)
            else:
                flat.setdefault(prefix or "_schema", []).append(_message(item))
    else:
        flat[prefix or "_schema"] = [_message(messages)]
    return flat


def _message(item: Any) -> Message:
    if isinstance(item, Message):
        return item
    # webargs' own words for a body it cannot parse
    if "Invalid JSON" in str(item):
        return Message("malformed_json")
    return Message("malformed_request")


def http_exception_response(error: HTTPException) -> Response:
    """A werkzeug/webargs/flask-smorest HTTP error as a problem, keeping Allow and the like."""
    if isinstance(error, InternalServerError) and error.original_exception is not None:
        # An exception outside the view (the commit after it, say): answered as one raised in it.
        return unexpected_response(error.original_exception)
    status = error.code or 500
    headers = {k: v for k, v in error.get_headers() if k.lower() not in ("content-type", "content-length")}
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") if isinstance(data, Mapping) else None
    if isinstance(error, CSRFError):
        problem = Problem("csrf_failed", errors={"csrf_token": [Message("csrf_failed")]})
    elif status in (400, 422) and messages:
        errors = flatten_errors(messages)
        if any(m.code == "malformed_json" for found in errors.values() for m in found):
            problem = Problem("malformed_json", errors={"body": [Message("malformed_json")]})
        elif status == 400:
            problem = Problem("malformed_request", errors=errors)
        else:
            problem = Problem.invalid(errors)
    elif status == 404:
        problem = Problem("not_found")
    elif status == 405:
        problem = Problem("method_not_allowed", method=request.method)
    elif status == 413:
        problem = Problem("payload_too_large")
    elif status == 415:
        problem = Problem("unsupported_media_type", expected="application/json", received=request.mimetype or "none")
    else:
        problem = Problem("http_error", status=status)
    response = problem_response(problem)
    response.status_code = status
    for name, value in headers.items():
        response.headers[name] = value
    _retry_after(response)
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(error: Problem) -> Response:
        return problem_response(error)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        return http_exception_response(error)

    @app.errorhandler(Exception)
    def _unexpected(error: BaseException) -> Response:
        return unexpected_response(error)


def unexpected_response(error: BaseException) -> Response:
    """An exception no view turned into a refusal: 503 for the database away, else a logged 500."""
    problem = as_problem(error)
    if problem.code == "database_unavailable":
        log.warning("the database cannot be reached on %s %s: %s", request.method, request.path,
                    (str(error).splitlines() or [type(error).__name__])[0])
    else:
        log.exception("unhandled error on %s %s", request.method, request.path, exc_info=error)
    return problem_response(problem)
