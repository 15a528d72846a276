"""The flask-smorest Api every service uses: problem+json errors, OpenAPI
at /<service>/openapi.json and Swagger UI served from a local copy."""

from __future__ import annotations

import json
from typing import Any

import flask_smorest
from flask import Flask, Request, Response, request, send_from_directory
from flask_smorest import Api
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from shared.errors import Problem, http_exception_response
from shared.refusals import Message
from shared.shapes import Invalid, Shape

SWAGGER_ASSETS = "swagger-ui-assets"


class ProblemApi(Api):
    """flask-smorest's Api, answering every HTTP error as problem+json."""

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        return http_exception_response(error)


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


class Blueprint(flask_smorest.Blueprint):
    """The API blueprint every service uses."""

    ARGUMENTS_PARSER = ArgumentsParser()

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        # webargs makes a new schema (and its nested ones) for every request
        # when given a class; one instance serves them all.
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)


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
            "info": {"description": description},
            "components": {
                "securitySchemes": {
                    "ApiKey": {"type": "http", "scheme": "bearer",
                               "description": "An API key issued by the funds service."},
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
        @blueprint.response(200, PrincipalSchema)
        def get(self) -> Any:
            """The organisation and scopes of the calling API key"""
            return principal_from_request()
