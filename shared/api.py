"""The flask-smorest Api every service uses: problem+json errors, OpenAPI
at /<service>/openapi.json and Swagger UI served from a local copy.

The documents say what the code does, read from the code: each operation's
errors come from its decorators (a scope, `Idempotency-Key`, a body, query
arguments, path parameters) and from the refusals it names with
`Blueprint.operation`, each refusal's status from shared.refusals.
"""

from __future__ import annotations

import copy
import functools
import http
import json
from collections.abc import Callable, Iterable
from types import CodeType
from typing import Any

import flask_smorest
from flask import Flask, Request, Response, current_app, request, send_from_directory
from flask_smorest import Api
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from shared.auth import REALM
from shared.errors import PROBLEM_MIMETYPE, Problem, http_exception_response
from shared.refusals import KINDS, Message
from shared.shapes import Invalid, Shape

SWAGGER_ASSETS = "swagger-ui-assets"
# The service that answers for every key (the others ask it, and answer 503 when it cannot be reached).
AUTHORITY_SERVICE = "funds"
OPERATION = "x-operation"  # what Blueprint stores on an operation for the document to complete

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
REQUEST_ID_HEADER = {"$ref": "#/components/headers/X-Request-Id"}
HEADERS = {
    "X-Request-Id": {
        "description": "This request's id, as the server's logs name it: the caller's own `X-Request-Id` when "
                       "it is 1-64 of `A-Z a-z 0-9 . _ -`, else a new one.",
        "schema": {"type": "string", "maxLength": 64},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same "
                       "`Idempotency-Key`: nothing new was recorded.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {"description": "Seconds to wait before trying again.",
                    "schema": {"type": "integer", "minimum": 1}},
    "WWW-Authenticate": {
        "description": f"`Bearer realm=\"{REALM}\"` (RFC 6750); with `error=\"invalid_token\"` when the key "
                       "is unknown or revoked.",
        "schema": {"type": "string"},
    },
}
# Refusals every operation of a kind can give, besides those it names.
AUTH_REFUSALS = ("api_key_missing", "api_key_invalid", "too_many_attempts")
BODY_REFUSALS = ("malformed_json", "malformed_request", "payload_too_large", "unsupported_media_type", "validation")
ARGUMENT_REFUSALS = ("validation",)
PATH_REFUSALS = ("not_found",)
OUTAGE_REFUSALS = ("database_unavailable",)  # any operation, when its database cannot be reached


def idempotency_parameter(keep_answer: bool) -> dict[str, Any]:
    """The `Idempotency-Key` header as shared.idempotency honours it."""
    from shared.idempotency import HEADER, KEPT_FOR, REPLAYED_HEADER

    hours = int(KEPT_FOR.total_seconds() // 3600)
    if keep_answer:
        replay = (f"A retry with the same key and the same body (JSON compared by content) gets the first "
                  f"answer again, its status and body, with `{REPLAYED_HEADER}: true`, and records nothing new, "
                  f"also when the two requests race.")
    else:
        replay = ("The answer holds a secret, shown once and never kept: a retry with the same key records "
                  "nothing new and is a 409 `idempotency_secret_not_kept`.")
    return {
        "in": "header", "name": HEADER, "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        "description": (
            f"Makes a retry safe: 1-255 characters, chosen by the caller (a UUID, say), kept per key for "
            f"{hours} hours (at least 24). {replay} A retry while the first is still being answered is a 409 "
            f"`idempotency_in_progress`. The same key with a different body, or on another operation, is a 422 "
            f"naming `{HEADER}` (`idempotency_key_reused`), as is a key that is empty or longer than 255. "
            f"A request that fails keeps nothing: its retry runs afresh."),
    }


class ProblemApi(Api):
    """flask-smorest's Api, answering every HTTP error as problem+json, documenting what the code does."""

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        return http_exception_response(error)

    def _register_responses(self) -> None:
        # flask-smorest's `arguments` refers to a response per status; they are problems here.
        from shared.schemas import ProblemSchema

        self.spec.components.schema("Problem", schema=ProblemSchema)
        for status in http.HTTPStatus:
            if status >= 400:
                self.spec.components.response(status.name, problem_response_doc(status.phrase), lazy=True)
        for name, header in HEADERS.items():
            self.spec.components.header(name, header)

    def _register_etag_headers(self) -> None:
        """No ETag or If-Match on this API's JSON: flask-smorest's headers are not documented."""

    def _register_pagination_header(self) -> None:
        """Lists page by cursor in the body: flask-smorest's page-number header is not documented."""

    def document(self) -> dict[str, Any]:
        """The OpenAPI document, completed (see `complete_document`), made once."""
        if getattr(self, "_document", None) is None:
            self._document = complete_document(self.spec.to_dict(), current_app.config["SERVICE_NAME"])
        return self._document  # type: ignore[no-any-return]

    def _openapi_json(self) -> Response:
        """The document, its `servers` where this request found the service (/funds behind the gateway)."""
        document = {**self.document(), "servers": [{"url": request.script_root or "/",
                                                    "description": "this service, where this document is served"}]}
        return current_app.response_class(json.dumps(document, indent=2, ensure_ascii=False),
                                          mimetype="application/json")


def path_parameter(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A path parameter as `Blueprint.route(..., parameters=[...])` documents it."""
    return {"in": "path", "name": name, "required": True, "schema": schema, "description": description}


def fund_code_parameter(name: str = "code") -> dict[str, Any]:
    """A fund's code in a path: a code that could name no fund answers 404, as one that names none."""
    from shared.contracts.funds import FUND_CODE

    return path_parameter(name, {"type": "string", "minLength": FUND_CODE.min_length,
                                 "maxLength": FUND_CODE.max_length, "pattern": f"^{FUND_CODE.pattern}$",
                                 "example": FUND_CODE.example}, "The fund's code.")


def file_response_doc(description: str, content_types: Iterable[str], *, etag: bool = False) -> dict[str, Any]:
    """A download: its bytes in one of `content_types`, its file name in Content-Disposition."""
    headers: dict[str, Any] = {"Content-Disposition": {
        "description": "`attachment; filename=\"...\"`", "schema": {"type": "string"}}}
    if etag:
        headers["ETag"] = {"description": "The file's SHA-256, quoted.", "schema": {"type": "string"}}
    return {"description": description, "headers": headers,
            "content": {content_type.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                        for content_type in content_types}}


def problem_response_doc(description: str, codes: Iterable[str] = (), headers: Iterable[str] = ()) -> dict[str, Any]:
    """An error response: a problem, the codes it may carry, its headers."""
    codes = list(dict.fromkeys(codes))
    if codes:
        description += ": " + ", ".join(f"`{code}`" for code in codes)
    if "validation" in codes:
        description += " (`errors` and `codes` name each refused field: a body's by its path, such as `donor.name`; " \
                       "a query argument or a header, such as `Idempotency-Key`, by its name)"
    return {
        "description": description,
        "headers": {"X-Request-Id": REQUEST_ID_HEADER,
                    **{name: {"$ref": f"#/components/headers/{name}"} for name in headers}},
        "content": {PROBLEM_MIMETYPE: {"schema": PROBLEM_REF}},
    }


ERROR_HEADERS = {401: ("WWW-Authenticate",), 429: ("Retry-After",), 503: ("Retry-After",)}


def complete_document(spec: dict[str, Any], service: str) -> dict[str, Any]:
    """Each operation's `operationId`, its `Idempotency-Key`, every error it answers with and the
    headers every answer carries, from what `Blueprint` found on its view."""
    spec = copy.deepcopy(spec)
    seen: set[str] = set()
    for path, item in spec["paths"].items():
        path_parameters = [p for p in item.get("parameters", []) if p.get("in") == "path"]
        for method, operation in item.items():
            if method == "parameters":
                continue
            info = operation.pop(OPERATION, None)
            if info is None or not info.get("operation_id"):
                raise AssertionError(f"{method.upper()} {path}: name it with @blp.operation(...)")
            operation_id = info["operation_id"]
            if operation_id in seen:
                raise AssertionError(f"operationId {operation_id} twice")
            seen.add(operation_id)
            operation["operationId"] = operation_id
            refusals: list[str] = list(AUTH_REFUSALS)
            if info.get("scope"):
                refusals.append("scope_missing")
                note = f"Needs an API key with the scope `{info['scope']}` (or `admin`)."
                operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()
            parameters = operation.setdefault("parameters", [])
            if "requestBody" in operation:
                refusals += BODY_REFUSALS
            if any(p.get("in") == "query" for p in parameters):
                refusals += ARGUMENT_REFUSALS
            if path_parameters or any(p.get("in") == "path" for p in parameters):
                refusals += PATH_REFUSALS
            idempotent = info.get("idempotent")
            if idempotent is not None:
                parameters.append(idempotency_parameter(idempotent["keep_answer"]))
                refusals += ["idempotency_in_progress", "validation"]
                if not idempotent["keep_answer"]:
                    refusals.append("idempotency_secret_not_kept")
            refusals += info.get("refuses", ())
            if service != AUTHORITY_SERVICE:
                refusals.append("service_unavailable")
            refusals += [code for code in OUTAGE_REFUSALS if code in KINDS]
            if not parameters:
                del operation["parameters"]
            responses = {status: response for status, response in operation["responses"].items()
                         if status != "default" and int(status) < 400}
            for response in responses.values():
                headers = response.setdefault("headers", {})
                headers["X-Request-Id"] = REQUEST_ID_HEADER
                if idempotent is not None and idempotent["keep_answer"]:
                    headers["Idempotent-Replayed"] = {"$ref": "#/components/headers/Idempotent-Replayed"}
            by_status: dict[int, list[str]] = {}
            for code in refusals:
                by_status.setdefault(KINDS[code].status, []).append(code)
            for status in sorted(by_status):
                responses[str(status)] = problem_response_doc(http.HTTPStatus(status).phrase, by_status[status],
                                                              ERROR_HEADERS.get(status, ()))
            responses["default"] = problem_response_doc("Any other error", ["internal_error"])
            operation["responses"] = responses
    # Only what the operations refer to: flask-smorest registers a response for every status.
    text = json.dumps(spec["paths"])
    components = spec.setdefault("components", {})
    components["responses"] = {name: response for name, response in components.get("responses", {}).items()
                               if f'"#/components/responses/{name}"' in text}
    if not components["responses"]:
        del components["responses"]
    return spec


def is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or mimetype.endswith("+json")


def refuse_unless_json(req: Request) -> None:
    """A body that says it is not JSON is refused as such (415), as the batch refuses one that is
    neither JSON nor CSV, rather than read as no body at all (422 "missing fields")."""
    if req.content_length == 0 or (req.content_length is None and not req.headers.get("Transfer-Encoding")):
        return
    if not is_json(req.mimetype):
        received = req.mimetype or "none"
        raise Problem("unsupported_media_type", expected="application/json", received=received,
                      errors={"Content-Type": [Message("unsupported_media_type",
                                                       {"expected": "application/json", "received": received})]})


class ArgumentsParser(FlaskParser):
    """webargs' parser: a body that is not JSON is a 415; JSON nested too deeply to parse is a
    malformed body (400), not a 500."""

    def load_json(self, req: Request, schema: Any) -> Any:
        refuse_unless_json(req)
        return super().load_json(req, schema)

    def _raw_load_json(self, req: Request) -> Any:
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            # Any non-empty `doc`: webargs reads an empty one as "no body at all".
            raise json.JSONDecodeError("JSON nested too deeply", "<body>", 0) from None


def _wrapper_code(decorate: Callable[[Callable[..., Any]], Callable[..., Any]]) -> CodeType:
    return decorate(lambda: None).__code__


@functools.cache
def _known_wrappers() -> dict[CodeType, str]:
    """The code of the wrappers whose rules the documents read off a view."""
    from shared.auth import require_scope
    from shared.idempotency import idempotent

    return {_wrapper_code(require_scope("admin")): "scope", _wrapper_code(idempotent): "idempotent"}


def _closure(function: Callable[..., Any]) -> dict[str, Any]:
    cells = function.__closure__ or ()
    return {name: cell.cell_contents for name, cell in zip(function.__code__.co_freevars, cells)}


def view_rules(function: Callable[..., Any]) -> dict[str, Any]:
    """What a view's decorators enforce: its scope, and whether it honours `Idempotency-Key`."""
    rules: dict[str, Any] = {}
    known = _known_wrappers()
    current: Any = function
    while current is not None:
        kind = known.get(getattr(current, "__code__", None))  # type: ignore[arg-type]
        if kind == "scope":
            rules.setdefault("scope", _closure(current)["scope"])
        elif kind == "idempotent":
            rules.setdefault("idempotent", {"keep_answer": _closure(current)["keep_answer"]})
        current = getattr(current, "__wrapped__", None)
    return rules


class Blueprint(flask_smorest.Blueprint):
    """The API blueprint every service uses."""

    ARGUMENTS_PARSER = ArgumentsParser()

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        # webargs makes a new schema (and its nested ones) for every request
        # when given a class; one instance serves them all.
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)

    @staticmethod
    def operation(operation_id: str, *, refuses: Iterable[str] = ()) -> Callable[[Any], Any]:
        """Names an operation (its `operationId`) and the refusals (shared.refusals codes) its
        command may give besides those of its decorators, which the documents list by status."""
        refuses = tuple(refuses)
        for code in refuses:
            if code not in KINDS:
                raise KeyError(f"unknown refusal code {code}")

        def decorator(function: Any) -> Any:
            function._operation = {"operation_id": operation_id, "refuses": refuses}
            return function

        return decorator

    def _store_endpoint_docs(self, endpoint: str, obj: Any, parameters: Any, tags: Any, **options: Any) -> None:
        super()._store_endpoint_docs(endpoint, obj, parameters, tags, **options)
        for method, doc in self._docs[endpoint].items():
            if method == "parameters":
                continue
            function = getattr(obj, method) if isinstance(obj, type) else obj
            info = {**getattr(function, "_operation", {}), **view_rules(function)}
            doc.setdefault("manual_doc", {})[OPERATION] = info


def json_body(shape: Shape) -> dict[str, Any]:
    """The request's JSON body as `shape` loads it, for a route outside flask-smorest (the
    internal API); a 422 naming the refused fields otherwise."""
    try:
        return shape.load(request.get_json(silent=True))
    except Invalid as invalid:
        raise Problem.invalid(invalid.errors) from None


def query_args(shape: Shape) -> dict[str, Any]:
    """The request's query arguments as `shape` loads them, for a route outside flask-smorest
    (the internal API); a 422 naming the refused arguments otherwise."""
    try:
        return shape.load_text(request.args, blank_is_absent=False)
    except Invalid as invalid:
        raise Problem.invalid(invalid.errors) from None


CONVENTIONS = """
## Conventions (every service)

- **Auth.** Every call takes `Authorization: Bearer <api key>`. A key belongs to one organisation and carries
  scopes; each operation says which it needs (`admin` may do everything). Another organisation's fund, donation
  or report answers 404, as if it did not exist. No key or a wrong one is a 401 with
  `WWW-Authenticate: Bearer`; a missing scope a 403. A revoked key is refused everywhere within 5 seconds.
  Too many unknown keys from one address: 429 with `Retry-After`.
- **Errors.** `application/problem+json` (RFC 9457): `type`, `title`, `status`, `detail`, and `code`, the
  refusal's stable code (compare it, never `detail`); a validation problem (422) names each refused field in
  `errors` (messages) and `codes`. 400 malformed body, 401 no or bad key, 403 scope, 404 not found or not
  yours, 409 a state conflict, 413 body too large, 415 not JSON, 422 validation. Each operation lists the codes
  of each status it answers with. Never a 500 for bad input.
- **Idempotency.** The operations that create a record or move money take an `Idempotency-Key` header (1-255
  characters): a retry with the same key and body gets the first answer again (`Idempotent-Replayed: true`)
  and records nothing new; the same key with another body is a 422.
- **Money.** JSON strings with exactly two decimals, `"1280.00"`, never numbers; currency `CNY`. An amount sent
  is 0.01 to 1000000000.00; anything else (zero, negative, three decimals, `"1e3"`, a number) is a 422 naming
  the field.
- **Time.** Timestamps are ISO 8601 with an offset. Business dates (`received_on`, `paid_on`, `from`, `to`)
  are `YYYY-MM-DD`, from 2000-01-01 to today in Asia/Shanghai; periods (`2026-08`, `2026-Q3`, `2026`) are in
  Asia/Shanghai.
- **Lists.** `?limit=` (1-500, default 50) and `?cursor=` (the previous page's `next_cursor`, opaque); the answer
  is `{"items": [...], "next_cursor": "..." | null}`, newest first unless stated.
- **Requests.** Every answer carries `X-Request-Id` (yours, when you send a sane one). Bodies are JSON
  (`Content-Type: application/json`), at most 64 MiB; unknown fields are refused (422).
"""


def api_config(title: str, description: str) -> dict[str, Any]:
    return {
        "API_TITLE": title,
        "API_VERSION": "1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        # Relative, so it works under any mount point; served below.
        "OPENAPI_SWAGGER_UI_URL": f"{SWAGGER_ASSETS}/",
        "API_SPEC_OPTIONS": {
            "info": {"description": description + "\n" + CONVENTIONS},
            "components": {
                "securitySchemes": {
                    "ApiKey": {"type": "http", "scheme": "bearer",
                               "description": "An API key issued by the funds service (`cfk_...`)."},
                },
            },
            "security": [{"ApiKey": []}],
        },
    }


def init_api(app: Flask) -> ProblemApi:
    api = ProblemApi(app)
    _serve_swagger_assets(app)
    return api


def _serve_swagger_assets(app: Flask) -> None:
    import swagger_ui_bundle

    folder = swagger_ui_bundle.swagger_ui_path

    @app.get(f"/{SWAGGER_ASSETS}/<path:filename>")
    def swagger_ui_asset(filename: str) -> Response:
        return send_from_directory(folder, filename)


def add_me_endpoint(blueprint: Any) -> None:
    """GET /api/v1/me: the caller as this service sees it (every service has it)."""
    from flask.views import MethodView

    from shared.auth import principal_from_request
    from shared.schemas import PrincipalSchema

    @blueprint.route("/me")
    class Me(MethodView):
        @blueprint.operation("getMe")
        @blueprint.response(200, PrincipalSchema)
        def get(self) -> Any:
            """The organisation and scopes of the calling API key"""
            return principal_from_request()
